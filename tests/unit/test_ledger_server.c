/*  test_ledger_server - pingpost-ledger's server class against a real PostgreSQL  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "pp_config.h"
#include "pp_db.h"
#include "pp_log.h"
#include "pp_util.h"
#include "pp_event.h"
#include "pp_lead.h"
#include "pp_testdb.h"
#include "ledger_server.h"

static char *s_url;                 //  conninfo whose search_path is this run's
                                    //  schema (tests/unit/pp_testdb)
static pp_db_t *s_db;               //  session in the schema, for checks
static int s_endpoints;             //  makes each server's endpoint unique
static int s_direct;                //  ledger/direct of every server: the
                                    //  tests run both ways

//  --------------------------------------------------------------------------
//  Set-up: a fresh schema with deploy/sql applied (tests/unit/pp_testdb),
//  dropped at the end.

//  base + one conninfo parameter, in key=value or URL form.
static char *
s_conninfo_add (const char *base, const char *key, const char *value)
{
    if (strncmp (base, "postgres://", 11) == 0 || strncmp (base, "postgresql://", 13) == 0) {
        //  URL: percent-encode the value ('=' and ' ' are all options need)
        char encoded [256] = "";
        size_t at = 0;
        for (const char *p = value; *p && at + 4 < sizeof encoded; p++) {
            if (*p == '=' || *p == ' ' || *p == '&' || *p == '%')
                at += (size_t) snprintf (encoded + at, sizeof encoded - at, "%%%02X",
                                         (unsigned char) *p);
            else
                encoded [at++] = *p;
        }
        encoded [at] = 0;
        return zsys_sprintf ("%s%s%s=%s", base, strchr (base, '?') ? "&" : "?", key, encoded);
    }
    return zsys_sprintf ("%s %s='%s'", base, key, value);
}

static int
s_setup (void **state)
{
    pp_log_init ("test_ledger_server", false);
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!base || !*base) {
        print_error ("PINGPOST_TEST_DATABASE_URL is not set: the ledger tests need a PostgreSQL "
                     "database (scripts/test sets it)\n");
        return -1;
    }
    s_url = pp_testdb_create ("ledger");
    if (!s_url)
        return -1;
    s_db = pp_db_new (s_url);
    if (!s_db || !pp_db_ok (s_db)) {
        print_error ("cannot connect to the test schema\n");
        pp_db_destroy (&s_db);
        pp_testdb_drop (&s_url);
        return -1;
    }
    return 0;
}

static int
s_teardown (void **state)
{
    pp_db_destroy (&s_db);
    pp_testdb_drop (&s_url);
    return 0;
}

//  --------------------------------------------------------------------------
//  Helpers

//  A config for one server: the test schema, a fresh inproc endpoint.
static pp_config_t *
s_config (int batch, int flush_ms, const char *url)
{
    pp_config_t *config = pp_config_new ();
    free (config->database_url);
    config->database_url = strdup (url ? url : s_url);
    config->endpoint_base [PP_SLOT_LEDGER] =
        zsys_sprintf ("inproc://ledger-test-%d-%d", (int) getpid (), ++s_endpoints);
    config->ledger_batch = batch;
    config->ledger_flush_ms = flush_ms;
    config->ledger_direct = s_direct;
    return config;
}

static zsock_t *
s_dealer (ledger_server_t *server)
{
    zsock_t *dealer = zsock_new_dealer (ledger_server_endpoint (server));
    assert_non_null (dealer);
    zsock_set_rcvtimeo (dealer, 2000);
    return dealer;
}

static pp_event_t *
s_event (const char *id, const char *lead, const char *kind, int stage, int64_t at)
{
    pp_event_t *event = pp_event_new (id, lead, kind, stage, at);
    assert_non_null (event);
    return event;
}

static void
s_send (zsock_t *dealer, pp_events_t *events)
{
    zframe_t *frame = pp_events_encode (events);
    assert_non_null (frame);
    assert_int_equal (zframe_send (&frame, dealer, 0), 0);
}

//  Read one message from the server's ROUTER and hand it over.
static int
s_take (ledger_server_t *server)
{
    zsock_t *router = ledger_server_socket (server);
    zsock_set_rcvtimeo (router, 2000);
    zmsg_t *msg = zmsg_recv (router);
    assert_non_null (msg);
    return ledger_server_handle (server, &msg);
}

//  The next ack on dealer, or NULL after its receive timeout.
static pp_ack_t *
s_ack (zsock_t *dealer)
{
    zframe_t *frame = zframe_recv (dealer);
    if (!frame)
        return NULL;
    pp_ack_t *ack = pp_ack_decode (frame);
    zframe_destroy (&frame);
    assert_non_null (ack);
    return ack;
}

//  True when nothing arrives on dealer within ms.
static bool
s_silent (zsock_t *dealer, int ms)
{
    zpoller_t *poller = zpoller_new (dealer, NULL);
    void *which = zpoller_wait (poller, ms);
    zpoller_destroy (&poller);
    return which == NULL;
}

//  First column of the first row as text (caller frees), or NULL for no
//  row or SQL NULL.
static char *
s_query (const char *sql, const char *param)
{
    const char *params [1] = {param};
    PGresult *result = pp_db_exec (s_db, "check", sql, param ? 1 : 0, params);
    assert_non_null (result);
    char *value = NULL;
    if (PQntuples (result) > 0 && !PQgetisnull (result, 0, 0))
        value = strdup (PQgetvalue (result, 0, 0));
    PQclear (result);
    return value;
}

static void
s_assert_query (const char *sql, const char *param, const char *expected)
{
    char *value = s_query (sql, param);
    if (!expected) {
        if (value)
            fail_msg ("%s: expected NULL, got '%s'", sql, value);
    }
    else {
        if (!value)
            fail_msg ("%s: expected '%s', got NULL", sql, expected);
        if (!streq (value, expected))
            fail_msg ("%s: expected '%s', got '%s'", sql, expected, value);
    }
    free (value);
}

static void
s_assert_ack (pp_ack_t *ack, const char **ids, size_t count)
{
    assert_non_null (ack);
    assert_int_equal (pp_ack_size (ack), count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal (pp_ack_get (ack, i), ids [i]);
}

//  The events of one sold lead, as intake, auction and deliver report them.
//  ids receives the event ids in order (PP_EVENT_ID_MAX + 1 each).
#define S_SALE_EVENTS 7
static pp_events_t *
s_sale (const char *lead, int64_t at, char ids [][PP_EVENT_ID_MAX + 1])
{
    const char *kinds [S_SALE_EVENTS] = {"received", "pinged", "bid", "posted",
                                         "accepted", "sold", "answered"};
    int stages [S_SALE_EVENTS] = {PP_STAGE_INTAKE, PP_STAGE_AUCTION, PP_STAGE_AUCTION,
                                  PP_STAGE_DELIVER, PP_STAGE_DELIVER, PP_STAGE_DELIVER,
                                  PP_STAGE_INTAKE};
    pp_events_t *events = pp_events_new ();
    for (int i = 0; i < S_SALE_EVENTS; i++) {
        snprintf (ids [i], PP_EVENT_ID_MAX + 1, "%s-%d", lead, i);
        pp_event_t *event = s_event (ids [i], lead, kinds [i], stages [i], at + i * 1000);
        switch (i) {
            case 0:
                pp_event_set_detail (
                    event, "{\"publisher_id\":7,\"publisher\":\"acme\",\"source\":\"web\","
                           "\"sub_id\":\"s1\",\"vertical\":\"solar\",\"test\":false,"
                           "\"fields\":{\"zip\":\"90001\",\"monthly_bill\":150},"
                           "\"pii\":{\"email\":\"jane@example.com\",\"phone\":\"+15555550123\"},"
                           "\"consent\":{\"tcpa\":true,\"text\":\"I agree\"}}");
                break;
            case 1:
                pp_event_set_campaign (event, 3, 2);
                break;
            case 2:
                pp_event_set_campaign (event, 3, 2);
                pp_event_set_amount_cents (event, 1500);
                pp_event_set_latency_us (event, 800);
                break;
            case 3:
            case 4:
                pp_event_set_campaign (event, 3, 2);
                pp_event_set_latency_us (event, 1200);
                break;
            case 5:
                pp_event_set_campaign (event, 3, 2);
                pp_event_set_amount_cents (event, 1500);
                pp_event_set_payout_cents (event, 1200);
                pp_event_set_detail (event, "{\"publisher_id\":7}");
                break;
            case 6:
                pp_event_set_code (event, "sold");
                pp_event_set_amount_cents (event, 1500);
                pp_event_set_payout_cents (event, 1200);
                pp_event_set_latency_us (event, 6000);
                pp_event_set_detail (
                    event, "{\"status\":\"sold\",\"reasons\":[],\"publisher_id\":7,"
                           "\"publisher\":\"acme\",\"source\":\"web\",\"sub_id\":\"s1\","
                           "\"vertical\":\"solar\",\"test\":false}");
                break;
        }
        pp_events_append (events, &event);
    }
    return events;
}

static void
s_lead_id (char *lead)
{
    pp_id_new (lead);
}

//  --------------------------------------------------------------------------
//  A sold lead: leads, lead_pii, events and sales rows, and the ack.

static void
test_ledger_server_writes_a_sale (void **state)
{
    pp_config_t *config = s_config (1000, 10, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);

    char lead [32];
    s_lead_id (lead);
    int64_t at = pp_now_us ();
    char ids [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events = s_sale (lead, at, ids);
    s_send (dealer, events);
    pp_events_destroy (&events);

    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_pending (server), S_SALE_EVENTS);
    assert_true (s_silent (dealer, 50));        //  nothing acked before the commit
    assert_int_equal (ledger_server_flush (server), 0);
    assert_int_equal (ledger_server_pending (server), 0);
    assert_int_equal (ledger_server_committed (server), S_SALE_EVENTS);

    const char *expected [S_SALE_EVENTS];
    for (int i = 0; i < S_SALE_EVENTS; i++)
        expected [i] = ids [i];
    pp_ack_t *ack = s_ack (dealer);
    s_assert_ack (ack, expected, S_SALE_EVENTS);
    pp_ack_destroy (&ack);

    //  The lead: base columns from received, outcome from answered
    char at_text [32];
    snprintf (at_text, sizeof at_text, "%lld", (long long) at);
    s_assert_query ("SELECT status FROM leads WHERE lead_id = $1", lead, "sold");
    s_assert_query ("SELECT price_cents || '/' || charge_cents FROM leads WHERE lead_id = $1",
                    lead, "1200/1500");
    s_assert_query ("SELECT publisher_id || publisher || source || sub_id || vertical || test"
                    " FROM leads WHERE lead_id = $1",
                    lead, "7acmewebs1solarfalse");
    s_assert_query ("SELECT (extract (epoch FROM received_at) * 1000000)::bigint"
                    " FROM leads WHERE lead_id = $1",
                    lead, at_text);
    s_assert_query ("SELECT fields::text FROM leads WHERE lead_id = $1", lead,
                    "{\"zip\": \"90001\", \"monthly_bill\": 150}");
    s_assert_query ("SELECT consent ->> 'text' FROM leads WHERE lead_id = $1", lead, "I agree");
    s_assert_query ("SELECT reasons::text || answer_us FROM leads WHERE lead_id = $1", lead,
                    "[]6000");
    //  Personal data lives in lead_pii only
    s_assert_query ("SELECT fields ->> 'email' FROM lead_pii WHERE lead_id = $1", lead,
                    "jane@example.com");
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "7");
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1"
                    " AND (detail ? 'pii' OR detail::text LIKE '%jane@%')",
                    lead, "0");
    s_assert_query ("SELECT count(*) FROM leads WHERE lead_id = $1"
                    " AND (fields::text LIKE '%jane@%' OR consent::text LIKE '%jane@%')",
                    lead, "0");
    //  The NULL rules and stage names
    s_assert_query ("SELECT stage || coalesce (campaign_id::text, '-') || coalesce (buyer_id::text,"
                    " '-') || coalesce (latency_us::text, '-') || coalesce (code, '-')"
                    " FROM events WHERE lead_id = $1 AND kind = 'received'",
                    lead, "intake----");
    s_assert_query ("SELECT detail ->> 'vertical' FROM events WHERE lead_id = $1"
                    " AND kind = 'received'",
                    lead, "solar");
    s_assert_query ("SELECT stage || campaign_id || '/' || buyer_id || '/' || amount_cents || '/'"
                    " || latency_us || coalesce (detail::text, '-')"
                    " FROM events WHERE lead_id = $1 AND kind = 'bid'",
                    lead, "auction3/2/1500/800-");
    s_assert_query ("SELECT code || latency_us FROM events WHERE lead_id = $1"
                    " AND kind = 'answered'",
                    lead, "sold6000");
    //  The money: charge = payout + margin
    s_assert_query ("SELECT event_id FROM sales WHERE lead_id = $1", lead, ids [5]);
    s_assert_query ("SELECT charge_cents || '/' || payout_cents || '/' || margin_cents || '/'"
                    " || publisher_id || '/' || campaign_id || '/' || buyer_id"
                    " FROM sales WHERE lead_id = $1",
                    lead, "1500/1200/300/7/3/2");
    s_assert_query ("SELECT count(*) FROM sales WHERE lead_id = $1"
                    " AND charge_cents = payout_cents + margin_cents",
                    lead, "1");

    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    assert_null (server);
    ledger_server_destroy (&server);            //  safe on NULL
    pp_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  A batch sent twice inserts once, and is acked each time.

static void
test_ledger_server_duplicates_insert_once (void **state)
{
    pp_config_t *config = s_config (1000, 10, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);

    char lead [32];
    s_lead_id (lead);
    char ids [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events = s_sale (lead, pp_now_us (), ids);
    const char *expected [2 * S_SALE_EVENTS];
    for (int i = 0; i < 2 * S_SALE_EVENTS; i++)
        expected [i] = ids [i % S_SALE_EVENTS];

    //  Twice in separate flushes: two acks, one set of rows
    for (int round = 0; round < 2; round++) {
        s_send (dealer, events);
        assert_int_equal (s_take (server), 0);
        assert_int_equal (ledger_server_flush (server), 0);
        pp_ack_t *ack = s_ack (dealer);
        s_assert_ack (ack, expected, S_SALE_EVENTS);
        pp_ack_destroy (&ack);
    }
    //  Twice in one flush (a resend while the first copy is buffered): one
    //  ack with every id sent, duplicates included
    s_send (dealer, events);
    s_send (dealer, events);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_pending (server), 2 * S_SALE_EVENTS);
    assert_int_equal (ledger_server_flush (server), 0);
    pp_ack_t *ack = s_ack (dealer);
    s_assert_ack (ack, expected, 2 * S_SALE_EVENTS);
    pp_ack_destroy (&ack);
    assert_true (s_silent (dealer, 50));

    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "7");
    s_assert_query ("SELECT count(*) FROM sales WHERE lead_id = $1", lead, "1");
    s_assert_query ("SELECT count(*) FROM leads WHERE lead_id = $1", lead, "1");
    s_assert_query ("SELECT count(*) FROM lead_pii WHERE lead_id = $1", lead, "1");

    //  Two producers in one flush: each gets its own ack
    zsock_t *other = s_dealer (server);
    char lead2 [32];
    s_lead_id (lead2);
    char ids2 [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events2 = s_sale (lead2, pp_now_us (), ids2);
    s_send (dealer, events);
    s_send (other, events2);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    ack = s_ack (dealer);
    s_assert_ack (ack, expected, S_SALE_EVENTS);
    pp_ack_destroy (&ack);
    const char *expected2 [S_SALE_EVENTS];
    for (int i = 0; i < S_SALE_EVENTS; i++)
        expected2 [i] = ids2 [i];
    ack = s_ack (other);
    s_assert_ack (ack, expected2, S_SALE_EVENTS);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead2, "7");

    pp_events_destroy (&events);
    pp_events_destroy (&events2);
    zsock_destroy (&other);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  The direct way: events COPYed into the ledger, a resend falls back to
//  the careful way without double counts, and careful_ms holds it there.

static char *
s_hourly_posts (void)
{
    char *value = s_query ("SELECT coalesce (sum (posts), 0) FROM campaign_hourly"
                           " WHERE campaign_id = 3", NULL);
    assert_non_null (value);
    return value;
}

static void
s_assert_posts (const char *before, int more)
{
    char *after = s_hourly_posts ();
    if (atoll (after) != atoll (before) + more)
        fail_msg ("campaign_hourly posts: %s before, %s after, expected %d more", before, after,
                  more);
    free (after);
}

//  One flush of one or two messages (second may be NULL) from dealer: the
//  server's direct flushes are then `direct`, and one ack of `acked` ids.
static void
s_flush_round (ledger_server_t *server, zsock_t *dealer, pp_events_t *first,
               pp_events_t *second, uint64_t direct, size_t acked)
{
    s_send (dealer, first);
    if (second)
        s_send (dealer, second);
    assert_int_equal (s_take (server), 0);
    if (second)
        assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    assert_int_equal (ledger_server_direct (server), direct);
    pp_ack_t *ack = s_ack (dealer);
    assert_non_null (ack);
    assert_int_equal (pp_ack_size (ack), acked);
    pp_ack_destroy (&ack);
}

static void
test_ledger_server_direct_way (void **state)
{
    pp_config_t *config = s_config (1000, 10, NULL);
    config->ledger_direct = 1;
    config->ledger_careful_ms = 0;
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);
    char *before = s_hourly_posts ();

    //  A sold lead, the direct way: every table as the careful way fills it
    char lead [32];
    s_lead_id (lead);
    char ids [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events = s_sale (lead, pp_now_us (), ids);
    s_flush_round (server, dealer, events, NULL, 1, S_SALE_EVENTS);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "7");
    s_assert_query ("SELECT string_agg (kind, ',' ORDER BY at) FROM events WHERE lead_id = $1",
                    lead, "received,pinged,bid,posted,accepted,sold,answered");
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1 AND detail ? 'pii'", lead,
                    "0");
    s_assert_query ("SELECT fields ->> 'email' FROM lead_pii WHERE lead_id = $1", lead,
                    "jane@example.com");
    s_assert_query ("SELECT status || ' ' || charge_cents FROM leads WHERE lead_id = $1", lead,
                    "sold 1500");
    s_assert_query ("SELECT margin_cents FROM sales WHERE lead_id = $1", lead, "300");
    s_assert_query ("SELECT latency_us FROM events WHERE lead_id = $1 AND kind = 'bid'", lead,
                    "800");
    s_assert_posts (before, 1);

    //  Resent beside a new lead: the direct COPY meets a held id, the batch
    //  goes the careful way, both are acked, nothing is counted twice
    char lead2 [32];
    s_lead_id (lead2);
    char ids2 [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events2 = s_sale (lead2, pp_now_us (), ids2);
    s_flush_round (server, dealer, events, events2, 1, 2 * S_SALE_EVENTS);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "7");
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead2, "7");
    s_assert_query ("SELECT count(*) FROM sales WHERE lead_id = $1", lead, "1");
    s_assert_query ("SELECT count(*) FROM sales WHERE lead_id = $1", lead2, "1");
    s_assert_posts (before, 2);

    //  Only events nothing else reads (nothing staged): direct again,
    //  careful_ms being 0
    char lead3 [32];
    s_lead_id (lead3);
    pp_events_t *bids = pp_events_new ();
    char id [PP_EVENT_ID_MAX + 1];
    for (int i = 0; i < 2; i++) {
        snprintf (id, sizeof id, "%s-%d", lead3, i);
        pp_event_t *event = s_event (id, lead3, "bid", PP_STAGE_AUCTION, pp_now_us ());
        pp_event_set_campaign (event, 3, 2);
        pp_event_set_amount_cents (event, 700 + i);
        pp_events_append (bids, &event);
    }
    s_flush_round (server, dealer, bids, NULL, 2, 2);
    s_assert_query ("SELECT sum (amount_cents) FROM events WHERE lead_id = $1", lead3, "1401");
    s_assert_posts (before, 2);
    ledger_server_destroy (&server);

    //  With careful_ms, a server that met a resend checks ids for that
    //  long: the resent bids and a new lead commit the careful way, and so
    //  does the next new lead
    pp_config_t *config2 = s_config (1000, 10, NULL);
    config2->ledger_direct = 1;
    config2->ledger_careful_ms = 60000;
    server = ledger_server_new (config2, 0);
    assert_non_null (server);
    zsock_t *other = s_dealer (server);
    char lead4 [32];
    s_lead_id (lead4);
    char ids4 [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events4 = s_sale (lead4, pp_now_us (), ids4);
    s_flush_round (server, other, bids, events4, 0, 2 + S_SALE_EVENTS);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead3, "2");
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead4, "7");
    s_assert_posts (before, 3);
    char lead5 [32];
    s_lead_id (lead5);
    char ids5 [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events5 = s_sale (lead5, pp_now_us (), ids5);
    s_flush_round (server, other, events5, NULL, 0, S_SALE_EVENTS);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead5, "7");
    s_assert_posts (before, 4);
    pp_events_destroy (&events5);

    free (before);
    pp_events_destroy (&events);
    pp_events_destroy (&events2);
    pp_events_destroy (&events4);
    pp_events_destroy (&bids);
    zsock_destroy (&other);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
    pp_config_destroy (&config2);
}

//  --------------------------------------------------------------------------
//  Malformed messages are dropped, and the server goes on.

static void
test_ledger_server_drops_malformed (void **state)
{
    pp_config_t *config = s_config (1000, 10, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);

    //  Not msgpack
    zstr_send (dealer, "this is not an events frame");
    assert_int_equal (s_take (server), -1);
    //  msgpack of the wrong type: an ack where events are expected
    pp_ack_t *wrong = pp_ack_new ();
    pp_ack_append (wrong, "x-1");
    zframe_t *frame = pp_ack_encode (wrong);
    pp_ack_destroy (&wrong);
    zframe_send (&frame, dealer, 0);
    assert_int_equal (s_take (server), -1);
    //  Two frames from the producer (three with the identity)
    zstr_sendm (dealer, "");
    zstr_send (dealer, "x");
    assert_int_equal (s_take (server), -1);
    //  A truncated events frame
    char lead [32];
    s_lead_id (lead);
    char ids [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events = s_sale (lead, pp_now_us (), ids);
    frame = pp_events_encode (events);
    zframe_t *cut = zframe_new (zframe_data (frame), zframe_size (frame) / 2);
    zframe_destroy (&frame);
    zframe_send (&cut, dealer, 0);
    assert_int_equal (s_take (server), -1);
    //  NULL is refused too
    zmsg_t *none = NULL;
    assert_int_equal (ledger_server_handle (server, &none), -1);
    //  An empty batch is well formed, with nothing to buffer or ack
    pp_events_t *empty = pp_events_new ();
    s_send (dealer, empty);
    pp_events_destroy (&empty);
    assert_int_equal (s_take (server), 0);

    assert_int_equal (ledger_server_pending (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    assert_true (s_silent (dealer, 100));       //  nothing to ack

    //  A good batch still goes through
    s_send (dealer, events);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    pp_ack_t *ack = s_ack (dealer);
    assert_non_null (ack);
    assert_int_equal (pp_ack_size (ack), S_SALE_EVENTS);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "7");

    pp_events_destroy (&events);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  The answer may be committed before the receipt (two ledger slots).

static void
test_ledger_server_answer_before_receipt (void **state)
{
    pp_config_t *config = s_config (1000, 10, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);

    char lead [32];
    s_lead_id (lead);
    int64_t at = pp_now_us ();
    char ids [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *sale = s_sale (lead, at, ids);
    char at_text [32];
    snprintf (at_text, sizeof at_text, "%lld", (long long) at);
    char guess [32];                //  answered at - latency
    snprintf (guess, sizeof guess, "%lld", (long long) (at + 6 * 1000 - 6000));

    //  The answer alone: a row from its detail, received_at estimated
    pp_events_t *answer = pp_events_new ();
    pp_event_t *event = pp_event_dup (pp_events_get (sale, 6));
    pp_events_append (answer, &event);
    s_send (dealer, answer);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    pp_ack_t *ack = s_ack (dealer);
    assert_non_null (ack);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT status || price_cents || publisher || vertical"
                    " || coalesce (fields::text, '-') FROM leads WHERE lead_id = $1",
                    lead, "sold1200acmesolar-");
    s_assert_query ("SELECT (extract (epoch FROM received_at) * 1000000)::bigint"
                    " FROM leads WHERE lead_id = $1",
                    lead, guess);

    //  Then everything: the receipt completes the row, the answer stays
    s_send (dealer, sale);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    ack = s_ack (dealer);
    assert_non_null (ack);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT status || price_cents || (fields ->> 'zip') || (consent ->> 'tcpa')"
                    " FROM leads WHERE lead_id = $1",
                    lead, "sold120090001true");
    s_assert_query ("SELECT (extract (epoch FROM received_at) * 1000000)::bigint"
                    " FROM leads WHERE lead_id = $1",
                    lead, at_text);

    //  An older answer arriving late changes nothing; a newer one wins
    pp_events_t *late = pp_events_new ();
    event = s_event ("late-answer", lead, "answered", PP_STAGE_INTAKE, at - 1000000);
    pp_event_set_code (event, "unsold");
    pp_event_set_detail (event, "{\"status\":\"unsold\",\"reasons\":[{\"code\":\"x\"}]}");
    pp_events_append (late, &event);
    event = s_event ("other-lead-answer", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "answered",
                     PP_STAGE_INTAKE, at);
    pp_event_set_code (event, "rejected");
    pp_events_append (late, &event);
    s_send (dealer, late);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    ack = s_ack (dealer);
    assert_non_null (ack);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT status FROM leads WHERE lead_id = $1", lead, "sold");
    s_assert_query ("SELECT status || coalesce (fields::text, '-') FROM leads WHERE lead_id = $1",
                    "01ARZ3NDEKTSV4RRFFQ69G5FAV", "rejected-");

    pp_events_t *newer = pp_events_new ();
    event = s_event ("newer-answer", lead, "answered", PP_STAGE_INTAKE, at + 1000000);
    pp_event_set_code (event, "error");
    pp_event_set_latency_us (event, 7);
    pp_events_append (newer, &event);
    s_send (dealer, newer);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    ack = s_ack (dealer);
    assert_non_null (ack);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT status || price_cents || answer_us || (fields ->> 'zip')"
                    " FROM leads WHERE lead_id = $1",
                    lead, "error0790001");

    pp_events_destroy (&newer);
    pp_events_destroy (&late);
    pp_events_destroy (&answer);
    pp_events_destroy (&sale);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  An event the database refuses is dropped alone; the rest commits.

static void
test_ledger_server_drops_refused_event (void **state)
{
    pp_config_t *config = s_config (1000, 10, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);

    char lead [32];
    s_lead_id (lead);
    pp_events_t *events = pp_events_new ();
    const char *ids [6];
    char names [6][48];
    for (int i = 0; i < 6; i++) {
        snprintf (names [i], sizeof names [i], "%s-r%d", lead, i);
        ids [i] = names [i];
        pp_event_t *event = s_event (names [i], lead, "pinged", PP_STAGE_AUCTION, pp_now_us ());
        if (i == 4)
            pp_event_set_detail (event, "{\"broken\": ");         //  not JSON
        pp_events_append (events, &event);
    }
    s_send (dealer, events);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    pp_ack_t *ack = s_ack (dealer);
    s_assert_ack (ack, ids, 6);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "5");
    s_assert_query ("SELECT count(*) FROM events WHERE event_id = $1", names [4], "0");

    //  A sale with a negative charge (CHECK) is refused as well
    char lead2 [32];
    s_lead_id (lead2);
    pp_events_t *more = pp_events_new ();
    pp_event_t *event = s_event ("neg-sale", lead2, "sold", PP_STAGE_DELIVER, pp_now_us ());
    pp_event_set_campaign (event, 4, 4);
    pp_event_set_amount_cents (event, -5);
    pp_events_append (more, &event);
    event = s_event ("ok-ping", lead2, "pinged", PP_STAGE_AUCTION, pp_now_us ());
    pp_events_append (more, &event);
    s_send (dealer, more);
    assert_int_equal (s_take (server), 0);
    assert_int_equal (ledger_server_flush (server), 0);
    ack = s_ack (dealer);
    const char *more_ids [2] = {"neg-sale", "ok-ping"};
    s_assert_ack (ack, more_ids, 2);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT string_agg (event_id, ',') FROM events WHERE lead_id = $1", lead2,
                    "ok-ping");
    s_assert_query ("SELECT count(*) FROM sales WHERE lead_id = $1", lead2, "0");

    pp_events_destroy (&more);
    pp_events_destroy (&events);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  While the database refuses every write, the batch is kept and not acked.

static void
test_ledger_server_keeps_batch_on_failure (void **state)
{
    pp_config_t *config = s_config (1000, 10, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);

    char lead [32];
    s_lead_id (lead);
    char ids [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events = s_sale (lead, pp_now_us (), ids);
    s_send (dealer, events);
    assert_int_equal (s_take (server), 0);

    assert_int_equal (pp_db_script (s_db, "break", "ALTER TABLE sales RENAME TO sales_off"), 0);
    assert_int_equal (ledger_server_flush (server), -1);
    assert_int_equal (ledger_server_pending (server), S_SALE_EVENTS);
    assert_true (s_silent (dealer, 100));
    assert_int_equal (pp_db_script (s_db, "mend", "ALTER TABLE sales_off RENAME TO sales"), 0);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "0");

    assert_int_equal (ledger_server_flush (server), 0);
    assert_int_equal (ledger_server_pending (server), 0);
    pp_ack_t *ack = s_ack (dealer);
    assert_non_null (ack);
    assert_int_equal (pp_ack_size (ack), S_SALE_EVENTS);
    pp_ack_destroy (&ack);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "7");
    s_assert_query ("SELECT count(*) FROM sales WHERE lead_id = $1", lead, "1");

    pp_events_destroy (&events);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  The loop: stopped by "$TERM" from a helper thread after a while.

static void
s_stopper (zsock_t *pipe, void *args)
{
    int ms = *(int *) args;
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, NULL);
    if (zpoller_wait (poller, ms) == NULL)
        zstr_send (pipe, "$TERM");
    zpoller_destroy (&poller);
    char *command = zstr_recv (pipe);       //  zactor_destroy's $TERM
    zstr_free (&command);
}

//  Run the server's loop for about ms.
static int
s_run_for (ledger_server_t *server, int ms)
{
    zactor_t *stopper = zactor_new (s_stopper, &ms);
    int rc = ledger_server_run (server, zactor_sock (stopper));
    zactor_destroy (&stopper);
    return rc;
}

//  Collect acks on dealer until it is quiet; adds every id to `acked`.
static void
s_collect (zsock_t *dealer, zhashx_t *acked)
{
    while (!s_silent (dealer, 200)) {
        pp_ack_t *ack = s_ack (dealer);
        assert_non_null (ack);
        for (size_t i = 0; i < pp_ack_size (ack); i++)
            zhashx_update (acked, pp_ack_get (ack, i), (void *) "x");
        pp_ack_destroy (&ack);
    }
}

//  A partial batch is committed once flush_ms passed.
static void
test_ledger_server_loop_flushes_on_time (void **state)
{
    pp_config_t *config = s_config (1000, 20, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);
    char lead [32];
    s_lead_id (lead);
    char ids [S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    pp_events_t *events = s_sale (lead, pp_now_us (), ids);
    s_send (dealer, events);
    pp_events_destroy (&events);

    assert_int_equal (s_run_for (server, 500), 0);
    assert_int_equal (ledger_server_pending (server), 0);
    assert_int_equal (ledger_server_committed (server), S_SALE_EVENTS);
    zhashx_t *acked = zhashx_new ();
    s_collect (dealer, acked);
    assert_int_equal (zhashx_size (acked), S_SALE_EVENTS);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, "7");

    zhashx_destroy (&acked);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
}

static void
test_ledger_server_loop_reconnects (void **state)
{
    char name [64];
    snprintf (name, sizeof name, "pp_ledger_test_%d_%u", (int) getpid (),
              (unsigned) randof (1000000));
    char *url = s_conninfo_add (s_url, "application_name", name);
    pp_config_t *config = s_config (1000, 5, url);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *first = s_dealer (server);
    zsock_t *second = s_dealer (server);

    //  The server's session dies before it writes anything
    s_assert_query ("SELECT count(*) FROM (SELECT pg_terminate_backend (pid) FROM"
                    " pg_stat_activity WHERE application_name = $1) t",
                    name, "1");
    char leads [3][32];
    char ids [3][S_SALE_EVENTS][PP_EVENT_ID_MAX + 1];
    for (int i = 0; i < 3; i++) {
        s_lead_id (leads [i]);
        pp_events_t *events = s_sale (leads [i], pp_now_us (), ids [i]);
        s_send (i == 1 ? second : first, events);
        pp_events_destroy (&events);
    }
    assert_int_equal (s_run_for (server, 2000), 0);
    assert_int_equal (ledger_server_pending (server), 0);
    assert_int_equal (ledger_server_committed (server), 3 * S_SALE_EVENTS);

    zhashx_t *acked_first = zhashx_new ();
    zhashx_t *acked_second = zhashx_new ();
    s_collect (first, acked_first);
    s_collect (second, acked_second);
    assert_int_equal (zhashx_size (acked_first), 2 * S_SALE_EVENTS);
    assert_int_equal (zhashx_size (acked_second), S_SALE_EVENTS);
    for (int i = 0; i < 3; i++) {
        for (int e = 0; e < S_SALE_EVENTS; e++)
            assert_non_null (zhashx_lookup (i == 1 ? acked_second : acked_first, ids [i][e]));
        s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", leads [i], "7");
    }
    zhashx_destroy (&acked_first);
    zhashx_destroy (&acked_second);
    zsock_destroy (&second);
    zsock_destroy (&first);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
    zstr_free (&url);
}

//  --------------------------------------------------------------------------
//  Back-pressure: with the database refusing writes the server stops
//  reading at ten batches, and acks everything once it is back.

static void
test_ledger_server_stops_reading_when_full (void **state)
{
    const int batch = 5;
    const int total = 100;
    pp_config_t *config = s_config (batch, 5, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    zsock_t *dealer = s_dealer (server);

    char lead [32];
    s_lead_id (lead);
    char (*ids) [PP_EVENT_ID_MAX + 1] = calloc ((size_t) total, PP_EVENT_ID_MAX + 1);
    assert_non_null (ids);
    for (int i = 0; i < total; i++) {
        snprintf (ids [i], PP_EVENT_ID_MAX + 1, "%s-bp%d", lead, i);
        pp_events_t *events = pp_events_new ();
        pp_event_t *event = s_event (ids [i], lead, "pinged", PP_STAGE_AUCTION, pp_now_us ());
        pp_events_append (events, &event);
        s_send (dealer, events);
        pp_events_destroy (&events);
    }
    assert_int_equal (pp_db_script (s_db, "break", "ALTER TABLE events RENAME TO events_off"), 0);
    assert_int_equal (s_run_for (server, 1000), 0);
    //  One event per message: it stops at exactly ten batches
    assert_int_equal (ledger_server_pending (server), 10 * batch);
    assert_true (s_silent (dealer, 100));
    assert_int_equal (pp_db_script (s_db, "mend", "ALTER TABLE events_off RENAME TO events"), 0);

    assert_int_equal (s_run_for (server, 2000), 0);
    assert_int_equal (ledger_server_pending (server), 0);
    zhashx_t *acked = zhashx_new ();
    s_collect (dealer, acked);
    assert_int_equal (zhashx_size (acked), total);
    for (int i = 0; i < total; i++)
        assert_non_null (zhashx_lookup (acked, ids [i]));
    char count [16];
    snprintf (count, sizeof count, "%d", total);
    s_assert_query ("SELECT count(*) FROM events WHERE lead_id = $1", lead, count);

    zhashx_destroy (&acked);
    free (ids);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
}

//  --------------------------------------------------------------------------
//  A bind that fails gives NULL.

static void
test_ledger_server_bind_failure (void **state)
{
    pp_config_t *config = s_config (1000, 10, NULL);
    ledger_server_t *server = ledger_server_new (config, 0);
    assert_non_null (server);
    ledger_server_t *twin = ledger_server_new (config, 0);     //  same inproc endpoint
    assert_null (twin);
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_ledger_server_writes_a_sale),
        cmocka_unit_test (test_ledger_server_duplicates_insert_once),
        cmocka_unit_test (test_ledger_server_drops_malformed),
        cmocka_unit_test (test_ledger_server_answer_before_receipt),
        cmocka_unit_test (test_ledger_server_drops_refused_event),
        cmocka_unit_test (test_ledger_server_keeps_batch_on_failure),
        cmocka_unit_test (test_ledger_server_loop_flushes_on_time),
        cmocka_unit_test (test_ledger_server_loop_reconnects),
        cmocka_unit_test (test_ledger_server_stops_reading_when_full),
        cmocka_unit_test (test_ledger_server_bind_failure),
        cmocka_unit_test (test_ledger_server_direct_way),
    };
    //  Every test both ways: direct (falling back to careful on a resend),
    //  and careful throughout (ledger/direct = 0)
    s_direct = 1;
    int failed = cmocka_run_group_tests_name ("direct", tests, s_setup, s_teardown);
    s_direct = 0;
    failed += cmocka_run_group_tests_name ("careful", tests, s_setup, s_teardown);
    return failed;
}
