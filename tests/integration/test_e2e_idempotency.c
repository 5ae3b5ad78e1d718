/*  test_e2e_idempotency - the publisher API's Idempotency-Key on POST /v1/leads  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "pp_fleet.h"

#define streq(a, b) (strcmp ((a), (b)) == 0)

//  Intake's database sessions carry this application_name (PGAPPNAME when
//  it starts), so a test can find and end them.
#define S_INTAKE_APP "pp-e2e-intake"
//  Intake deletes expired keys this often in this fleet (default: a minute).
#define S_PURGE_MS 200
//  Intake's statements end after this in this fleet (default: a second),
//  and a server silent for twice this loses intake's session.
#define S_DB_TIMEOUT_MS 500

static const char *s_mock_buyers [] = {"b30:bid=30.00,delay_ms=0,accept=1", NULL};

//  Give intake a short purge period and database timeout: append them to the fleet's config and
//  restart intake (SIGTERM, so it exits cleanly) with S_INTAKE_APP as its
//  sessions' application_name. 0 or -1 (printed).
static int
s_intake_reconfigure (pp_fleet_t *fleet)
{
    char lines [160];
    snprintf (lines, sizeof lines,
              "    intake\n        idempotency_purge_ms = %d\n        db_timeout_ms = %d\n",
              S_PURGE_MS, S_DB_TIMEOUT_MS);
    pid_t pid = pp_fleet_pid (fleet, "intake", 0);
    if (pp_fleet_config_append (fleet, lines) || pp_fleet_kill (fleet, "intake", 0, SIGTERM))
        return -1;
    int64_t deadline = pp_fleet_now_us () + 10000000;
    while (pp_fleet_pid_alive (pid) && pp_fleet_now_us () < deadline)
        pp_fleet_sleep_ms (20);
    if (pp_fleet_pid_alive (pid)) {
        printf ("intake (pid %d) still runs 10 s after SIGTERM\n", (int) pid);
        return -1;
    }
    setenv ("PGAPPNAME", S_INTAKE_APP, 1);
    int rc = pp_fleet_restart (fleet, "intake", 0);
    unsetenv ("PGAPPNAME");
    if (rc)
        return -1;
    deadline = pp_fleet_now_us () + 15000000;
    while (true) {
        pp_fleet_reply_t *reply = pp_fleet_get (fleet, "/healthz");
        long status = reply->status;
        pp_fleet_reply_destroy (&reply);
        if (status == 200)
            return 0;
        if (pp_fleet_now_us () >= deadline) {
            printf ("restarted intake does not answer /healthz (last status %ld)\n", status);
            pp_fleet_log_tail (fleet, "intake-0", 30);
            return -1;
        }
        pp_fleet_sleep_ms (50);
    }
}

static int
s_setup (void **state)
{
    pp_fleet_t *fleet = pp_fleet_new ("test_e2e_idempotency", NULL);
    *state = fleet;
    if (!fleet || s_intake_reconfigure (fleet) || pp_fleet_mockbuyer_start (fleet, s_mock_buyers))
        return -1;
    return pp_fleet_apply_fixed_buyer (fleet, "b30", "30.00", "CA");
}

//  A fresh CA lead tagged with `source`, so the ledger's leads of one test
//  can be counted. Caller deletes.
static cJSON *
s_lead (const char *source, int timeout_ms)
{
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    cJSON_ReplaceItemInObject (lead, "source", cJSON_CreateString (source));
    cJSON_ReplaceItemInObject (lead, "timeout_ms", cJSON_CreateNumber (timeout_ms));
    return lead;
}

//  The ledger's leads with this source, once `expected` of them are there
//  (and after a settle time, so that late ones count too).
static int64_t
s_leads_of (pp_fleet_t *fleet, const char *source, const char *expected)
{
    pp_fleet_sql_wait (fleet, expected, 5000, "select count(*) from leads where source = $1",
                       source, NULL);
    pp_fleet_sleep_ms (500);
    return pp_fleet_sql_int (fleet, "select count(*) from leads where source = $1", source,
                             NULL);
}

//  The ledger holds one lead of `source`, sold once to b30, and the buyer
//  got one post of it.
static void
s_one_sale (pp_fleet_t *fleet, const char *source, const char *lead_id)
{
    PP_CHECK (fleet, s_leads_of (fleet, source, "1") == 1);
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, lead_id, NULL, "b30-c:3000:2400", NULL) == 0);
    cJSON *posts = pp_fleet_mockbuyer_wait (fleet, lead_id, "post", 1, 3000, 500);
    PP_CHECKF (fleet, cJSON_GetArraySize (posts) == 1, "%d posts", cJSON_GetArraySize (posts));
    cJSON_Delete (posts);
}

//  (1) The same key twice: the first answer again, with Idempotent-Replayed;
//  one lead, one sale, one post to the buyer.
static void
test_e2e_idempotency_replay (void **state)
{
    pp_fleet_t *fleet = *state;
    cJSON *lead = s_lead ("idem-replay", 3000);
    pp_fleet_reply_t *first = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                              "Idempotency-Key: order-1001");
    PP_CHECK (fleet, pp_fleet_reply_is (first, "first", 200, "sold"));
    PP_CHECK (fleet, !pp_fleet_reply_has_header (first, "Idempotent-Replayed", "true"));
    const char *lead_id = pp_fleet_reply_lead_id (first);
    PP_CHECK (fleet, *lead_id);
    pp_fleet_reply_t *second = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                               "Idempotency-Key: order-1001");
    PP_CHECK (fleet, pp_fleet_reply_is (second, "second", 200, "sold"));
    PP_CHECKF (fleet, streq (pp_fleet_reply_lead_id (second), lead_id), "%s != %s",
               pp_fleet_reply_lead_id (second), lead_id);
    PP_CHECKF (fleet, streq (second->body, first->body), "bodies differ: %s / %s", first->body,
               second->body);
    PP_CHECKF (fleet, pp_fleet_reply_has_header (second, "Idempotent-Replayed", "true"),
               "headers: %s", second->headers);

    s_one_sale (fleet, "idem-replay", lead_id);
    pp_fleet_reply_destroy (&first);
    pp_fleet_reply_destroy (&second);
    cJSON_Delete (lead);
}

//  (2) 20 requests with one key at once: one lead; every answer is its
//  answer (the lead's timeout outlasts the first request's answer).
static void
test_e2e_idempotency_concurrent (void **state)
{
    pp_fleet_t *fleet = *state;
    cJSON *lead = s_lead ("idem-concurrent", 10000);
    pp_fleet_batch_t *batch = pp_fleet_batch_new (fleet, 20);
    for (int i = 0; i < 20; i++) {
        pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, lead);
        pp_fleet_batch_add_header (batch, "Idempotency-Key: burst-7");
    }
    PP_CHECK (fleet, pp_fleet_batch_run (batch, 30000) == 0);
    const char *lead_id = NULL;
    int replayed = 0;
    for (size_t i = 0; i < 20; i++) {
        pp_fleet_reply_t *reply = pp_fleet_batch_reply (batch, i);
        PP_CHECK (fleet, reply && pp_fleet_reply_is (reply, "burst", 200, "sold"));
        if (!lead_id)
            lead_id = pp_fleet_reply_lead_id (reply);
        PP_CHECKF (fleet, streq (pp_fleet_reply_lead_id (reply), lead_id), "%s != %s",
                   pp_fleet_reply_lead_id (reply), lead_id);
        replayed += pp_fleet_reply_has_header (reply, "Idempotent-Replayed", "true");
    }
    PP_CHECKF (fleet, replayed == 19, "%d replayed", replayed);
    s_one_sale (fleet, "idem-concurrent", lead_id);
    pp_fleet_batch_destroy (&batch);
    cJSON_Delete (lead);
}

//  (3) One key from two publishers: two leads, neither a replay.
static void
test_e2e_idempotency_per_publisher (void **state)
{
    pp_fleet_t *fleet = *state;
    cJSON *lead = s_lead ("idem-publishers", 3000);
    pp_fleet_reply_t *acme = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                             "Idempotency-Key: shared-key");
    cJSON_Delete (lead);
    lead = s_lead ("idem-publishers", 3000);
    pp_fleet_reply_t *fixed = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_FIXED, lead,
                                                              "Idempotency-Key: shared-key");
    PP_CHECK (fleet, pp_fleet_reply_is (acme, "acme", 200, "sold"));
    PP_CHECK (fleet, pp_fleet_reply_is (fixed, "fixedpub", 200, "sold"));
    PP_CHECK (fleet, !streq (pp_fleet_reply_lead_id (acme), pp_fleet_reply_lead_id (fixed)));
    PP_CHECK (fleet, !pp_fleet_reply_has_header (fixed, "Idempotent-Replayed", "true"));
    PP_CHECK (fleet, pp_fleet_reply_price_cents (fixed) == 1000);
    PP_CHECK (fleet, s_leads_of (fleet, "idem-publishers", "2") == 2);
    pp_fleet_reply_destroy (&acme);
    pp_fleet_reply_destroy (&fixed);
    cJSON_Delete (lead);
}

//  (4) Keys that are empty, too long, or hold a space or a control
//  character are refused; 255 visible characters are fine.
static void
test_e2e_idempotency_bad_key (void **state)
{
    pp_fleet_t *fleet = *state;
    char long_key [400], max_key [300];
    memcpy (long_key, "Idempotency-Key: ", 17);
    memset (long_key + 17, 'k', 300);
    long_key [317] = 0;
    memcpy (max_key, "Idempotency-Key: ", 17);
    memset (max_key + 17, 'm', 255);
    max_key [272] = 0;
    const char *bad [] = {"Idempotency-Key;", long_key, "Idempotency-Key: two words",
                          "Idempotency-Key: tab\there"};
    cJSON *lead = s_lead ("idem-bad", 3000);
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        pp_fleet_reply_t *reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME,
                                                                  lead, bad [i]);
        PP_CHECKF (fleet, pp_fleet_reply_is (reply, "bad key", 400, NULL), "key %zu", i);
        PP_CHECK (fleet, pp_fleet_reply_is_error_body (reply));
        cJSON *error = cJSON_GetObjectItemCaseSensitive (reply->json, "error");
        cJSON *code = cJSON_GetObjectItemCaseSensitive (error, "code");
        PP_CHECKF (fleet, cJSON_IsString (code) && streq (code->valuestring,
                                                          "bad_idempotency_key"),
                   "key %zu: %s", i, reply->body);
        pp_fleet_reply_destroy (&reply);
    }
    PP_CHECK (fleet, s_leads_of (fleet, "idem-bad", "0") == 0);
    pp_fleet_reply_t *reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                              max_key);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "255 characters", 200, "sold"));
    pp_fleet_reply_destroy (&reply);
    cJSON_Delete (lead);
}

//  (5) A keyed lead refused (422) leaves the key free: the fixed lead with
//  the same key sells.
static void
test_e2e_idempotency_422_frees_key (void **state)
{
    pp_fleet_t *fleet = *state;
    cJSON *lead = s_lead ("idem-422", 3000);
    cJSON_ReplaceItemInObject (lead, "vertical", cJSON_CreateString ("no-such-vertical"));
    pp_fleet_reply_t *reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                              "Idempotency-Key: fix-me-1");
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "unknown vertical", 422, NULL));
    pp_fleet_reply_destroy (&reply);
    cJSON_ReplaceItemInObject (lead, "vertical", cJSON_CreateString ("solar"));
    reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                            "Idempotency-Key: fix-me-1");
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "fixed lead", 200, "sold"));
    PP_CHECK (fleet, !pp_fleet_reply_has_header (reply, "Idempotent-Replayed", "true"));
    PP_CHECK (fleet, s_leads_of (fleet, "idem-422", "1") == 1);
    pp_fleet_reply_destroy (&reply);
    cJSON_Delete (lead);
}

//  (6) While the first request of a key is in flight, a second one waits
//  at most its own timeout_ms, then gets 409 idempotency_in_progress; once
//  the first is answered, the key replays that answer.
static void
test_e2e_idempotency_in_progress (void **state)
{
    pp_fleet_t *fleet = *state;
    PP_CHECK (fleet, pp_fleet_mockbuyer_mode (fleet, "b30", "hang") == 0);
    cJSON *lead = s_lead ("idem-wait", 2000);
    pp_fleet_batch_t *batch = pp_fleet_batch_new (fleet, 2);
    pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, lead);
    pp_fleet_batch_add_header (batch, "Idempotency-Key: slow-1");
    pp_fleet_batch_run (batch, 300);
    cJSON_ReplaceItemInObject (lead, "timeout_ms", cJSON_CreateNumber (300));
    pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, lead);
    pp_fleet_batch_add_header (batch, "Idempotency-Key: slow-1");
    PP_CHECK (fleet, pp_fleet_batch_run (batch, 15000) == 0);
    pp_fleet_reply_t *first = pp_fleet_batch_reply (batch, 0);
    pp_fleet_reply_t *second = pp_fleet_batch_reply (batch, 1);
    PP_CHECK (fleet, pp_fleet_reply_is (first, "first", 200, NULL));
    PP_CHECK (fleet, pp_fleet_reply_is (second, "second", 409, NULL));
    cJSON *error = cJSON_GetObjectItemCaseSensitive (second->json, "error");
    cJSON *code = cJSON_GetObjectItemCaseSensitive (error, "code");
    PP_CHECKF (fleet, cJSON_IsString (code) && streq (code->valuestring,
                                                      "idempotency_in_progress"),
               "%s", second->body);
    PP_CHECK (fleet, second->elapsed_us < first->elapsed_us);
    PP_CHECK (fleet, pp_fleet_mockbuyer_mode (fleet, "b30", "normal") == 0);
    cJSON_ReplaceItemInObject (lead, "timeout_ms", cJSON_CreateNumber (3000));
    pp_fleet_reply_t *third = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                              "Idempotency-Key: slow-1");
    PP_CHECK (fleet, pp_fleet_reply_is (third, "third", 200, NULL));
    PP_CHECKF (fleet, streq (third->body, first->body), "bodies differ: %s / %s", first->body,
               third->body);
    PP_CHECK (fleet, pp_fleet_reply_has_header (third, "Idempotent-Replayed", "true"));
    PP_CHECK (fleet, s_leads_of (fleet, "idem-wait", "1") == 1);
    pp_fleet_reply_destroy (&third);
    pp_fleet_batch_destroy (&batch);
    cJSON_Delete (lead);
}

//  (7) A claim left unanswered past any lead's deadline (its intake died):
//  taken over when the ledger shows its lead unsold, answered from the
//  ledger's sales when it was sold (never sold again).
static void
test_e2e_idempotency_stale_claim (void **state)
{
    pp_fleet_t *fleet = *state;
    char *made = pp_fleet_sql (
        fleet,
        "with p as (select id from publishers where name = 'acme'),"
        " k as (insert into idempotency_keys (publisher_id, key, lead_id, created_at)"
        "  select id, 'stale-unsold', 'STALE0UNSOLD', now () - interval '2 minutes' from p"
        "  union all"
        "  select id, 'stale-sold', 'STALE0SOLD', now () - interval '2 minutes' from p"
        "  union all"
        "  select id, 'fresh-sold', 'FRESH0SOLD', now () from p returning 1),"
        " s as (insert into sales (event_id, lead_id, at, publisher_id, campaign_id, buyer_id,"
        "  charge_cents, payout_cents, margin_cents)"
        "  select 'stale-sale-' || l, l, now (), (select id from p), 1, 1, 3000, 2400, 600"
        "  from unnest (array ['STALE0SOLD', 'FRESH0SOLD']) l returning 1)"
        " select (select count(*) from k) || '/' || (select count(*) from s)",
        NULL);
    PP_CHECKF (fleet, made && streq (made, "3/2"), "set-up rows: %s", made ? made : "(none)");
    free (made);

    //  Unsold and stale: a new lead goes through under the key
    cJSON *lead = s_lead ("idem-stale", 3000);
    pp_fleet_reply_t *reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                              "Idempotency-Key: stale-unsold");
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "stale unsold", 200, "sold"));
    PP_CHECK (fleet, !pp_fleet_reply_has_header (reply, "Idempotent-Replayed", "true"));
    PP_CHECK (fleet, !streq (pp_fleet_reply_lead_id (reply), "STALE0UNSOLD"));
    pp_fleet_reply_destroy (&reply);

    //  Sold and stale: the ledger's sale is the answer, stored, no new lead
    for (int round = 0; round < 2; round++) {
        reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                "Idempotency-Key: stale-sold");
        PP_CHECK (fleet, pp_fleet_reply_is (reply, "stale sold", 200, "sold"));
        PP_CHECKF (fleet, streq (pp_fleet_reply_lead_id (reply), "STALE0SOLD"), "%s",
                   reply->body);
        PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 2400, "%s", reply->body);
        PP_CHECK (fleet, pp_fleet_reply_has_header (reply, "Idempotent-Replayed", "true"));
        pp_fleet_reply_destroy (&reply);
    }
    char *stored = pp_fleet_sql (fleet, "select answer::jsonb ->> 'status' from idempotency_keys"
                                        " where key = 'stale-sold'", NULL);
    PP_CHECKF (fleet, stored && streq (stored, "sold"), "stored answer: %s",
               stored ? stored : "(none)");
    free (stored);

    //  Sold but not stale: still in flight for all intake knows, so wait
    //  (here until the lead's short deadline) and answer 409
    cJSON_ReplaceItemInObject (lead, "timeout_ms", cJSON_CreateNumber (300));
    reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                            "Idempotency-Key: fresh-sold");
    PP_CHECKF (fleet, reply->status == 409, "fresh claim: %ld %s", (long) reply->status, reply->body);
    pp_fleet_reply_destroy (&reply);
    PP_CHECK (fleet, s_leads_of (fleet, "idem-stale", "1") == 1);
    cJSON_Delete (lead);
}

//  (8) Keys older than 24 h are deleted every intake/idempotency_purge_ms
//  (S_PURGE_MS here), 10,000 at a time, while younger ones stay and still
//  replay. Nothing else deletes an answered key: without the purge the
//  expired rows stay, and the wait fails.
static void
test_e2e_idempotency_purge (void **state)
{
    pp_fleet_t *fleet = *state;
    const char *keys [] = {"purge-expired", "purge-young", "purge-fresh"};
    pp_fleet_reply_t *replies [3];
    for (size_t i = 0; i < 3; i++) {
        char header [64];
        snprintf (header, sizeof header, "Idempotency-Key: %s", keys [i]);
        cJSON *lead = s_lead ("idem-purge", 3000);
        replies [i] = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead, header);
        cJSON_Delete (lead);
        PP_CHECKF (fleet, pp_fleet_reply_is (replies [i], keys [i], 200, "sold"), "%s", keys [i]);
    }
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "3", 5000,
                                        "select count(*) from idempotency_keys"
                                        " where key like 'purge-%' and answer is not null",
                                        NULL) == 0);
    //  One answered key past its 24 h, one just within them, and 20,001
    //  more expired ones (three rounds of the purge)
    char *aged = pp_fleet_sql (
        fleet,
        "with e as (update idempotency_keys set created_at = now () - interval '25 hours'"
        "  where key = 'purge-expired' returning 1),"
        " y as (update idempotency_keys set created_at = now () - interval '23 hours'"
        "  where key = 'purge-young' returning 1),"
        " b as (insert into idempotency_keys (publisher_id, key, lead_id, answer, created_at)"
        "  select p.id, 'purge-bulk-' || n, 'PURGE0BULK' || n, '{}',"
        "   now () - interval '24 hours 1 minute' - n * interval '1 second'"
        "  from publishers p, generate_series (1, 20001) n where p.name = 'acme' returning 1)"
        " select (select count(*) from e) || '/' || (select count(*) from y) || '/'"
        "  || (select count(*) from b)",
        NULL);
    PP_CHECKF (fleet, aged && streq (aged, "1/1/20001"), "aged rows: %s", aged ? aged : "(none)");
    free (aged);

    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "0", 10000,
                                        "select count(*) from idempotency_keys"
                                        " where created_at < now () - interval '24 hours'",
                                        NULL) == 0);
    char *left = pp_fleet_sql (fleet,
                               "select string_agg(key, ',' order by key) from idempotency_keys"
                               " where key like 'purge-%'",
                               NULL);
    PP_CHECKF (fleet, left && streq (left, "purge-fresh,purge-young"), "keys left: %s",
               left ? left : "(none)");
    free (left);

    //  The younger keys still replay their first answer
    cJSON *lead = s_lead ("idem-purge", 3000);
    for (size_t i = 1; i < 3; i++) {
        char header [64];
        snprintf (header, sizeof header, "Idempotency-Key: %s", keys [i]);
        pp_fleet_reply_t *again
            = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead, header);
        PP_CHECK (fleet, pp_fleet_reply_is (again, keys [i], 200, "sold"));
        PP_CHECKF (fleet, streq (again->body, replies [i]->body), "%s: %s / %s", keys [i],
                   replies [i]->body, again->body);
        PP_CHECK (fleet, pp_fleet_reply_has_header (again, "Idempotent-Replayed", "true"));
        pp_fleet_reply_destroy (&again);
    }
    //  The purged key is a new one: a new lead
    pp_fleet_reply_t *again = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                              "Idempotency-Key: purge-expired");
    PP_CHECK (fleet, pp_fleet_reply_is (again, "purged key", 200, "sold"));
    PP_CHECK (fleet, !pp_fleet_reply_has_header (again, "Idempotent-Replayed", "true"));
    PP_CHECK (fleet, !streq (pp_fleet_reply_lead_id (again), pp_fleet_reply_lead_id (replies [0])));
    PP_CHECK (fleet, s_leads_of (fleet, "idem-purge", "4") == 4);
    pp_fleet_reply_destroy (&again);
    for (size_t i = 0; i < 3; i++)
        pp_fleet_reply_destroy (&replies [i]);
    cJSON_Delete (lead);
}

//  True when the fleet runs its own embedded cluster (scripts/up without
//  PINGPOST_DATABASE_URL): only then may a test close its database.
static bool
s_own_cluster (pp_fleet_t *fleet)
{
    char *own = NULL;
    if (asprintf (&own, "host=%s/pg/sock dbname=pingpost ", pp_fleet_var_dir (fleet)) < 0)
        return false;
    const char *conninfo = pp_fleet_conninfo (fleet);
    bool yes = strncmp (conninfo, own, strlen (own)) == 0
               || (strncmp (conninfo, "host=/var/tmp/pingpost-pg-", 26) == 0
                   && strstr (conninfo, " dbname=pingpost "));
    free (own);
    return yes;
}

//  Run one statement on the fleet's cluster from its maintenance database
//  "postgres" (a database cannot close itself to new sessions). Returns
//  the first value as an integer, 0 when the statement gives no rows, or
//  -1 on failure (printed).
static int64_t
s_admin (pp_fleet_t *fleet, const char *sql)
{
    char *conninfo = NULL;
    if (asprintf (&conninfo, "%s dbname=postgres", pp_fleet_conninfo (fleet)) < 0)
        return -1;
    PGconn *conn = PQconnectdb (conninfo);
    free (conninfo);
    int64_t value = -1;
    PGresult *result = NULL;
    if (PQstatus (conn) != CONNECTION_OK) {
        printf ("cannot connect to the fleet's maintenance database: %s", PQerrorMessage (conn));
        goto cleanup;
    }
    result = PQexec (conn, sql);
    if (PQresultStatus (result) == PGRES_TUPLES_OK && PQntuples (result) > 0)
        value = atoll (PQgetvalue (result, 0, 0));
    else
    if (PQresultStatus (result) == PGRES_COMMAND_OK || PQresultStatus (result) == PGRES_TUPLES_OK)
        value = 0;
    else
        printf ("failed: %s\n  %s", sql, PQresultErrorMessage (result));
cleanup:
    PQclear (result);
    PQfinish (conn);
    return value;
}

//  Open the fleet's database to new sessions again (teardown of (9), which
//  closes it; also when that test failed halfway).
static int
s_allow_connections (void **state)
{
    if (!s_own_cluster (*state))
        return 0;               //  never closed
    return s_admin (*state, "alter database pingpost allow_connections true") == 0 ? 0 : -1;
}

//  Expect a reply of 503 "unavailable", at once (not at the lead's deadline).
static void
s_check_unavailable (pp_fleet_t *fleet, const pp_fleet_reply_t *reply, const char *label)
{
    PP_CHECK (fleet, pp_fleet_reply_is (reply, label, 503, NULL));
    PP_CHECKF (fleet, pp_fleet_reply_is_error_body (reply), "%s", reply->body);
    cJSON *error = cJSON_GetObjectItemCaseSensitive (reply->json, "error");
    cJSON *code = cJSON_GetObjectItemCaseSensitive (error, "code");
    PP_CHECKF (fleet, cJSON_IsString (code) && streq (code->valuestring, "unavailable"), "%s",
               reply->body);
    PP_CHECKF (fleet, reply->elapsed_us < 2000000, "%s took %lld ms", label,
               (long long) (reply->elapsed_us / 1000));
}

//  POST the lead with Idempotency-Key db-down-1 and expect 503 "unavailable".
static void
s_expect_unavailable (pp_fleet_t *fleet, const cJSON *lead, const char *label)
{
    pp_fleet_reply_t *reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                              "Idempotency-Key: db-down-1");
    s_check_unavailable (fleet, reply, label);
    pp_fleet_reply_destroy (&reply);
}

//  (9) Intake without its database session (ended, and the fleet's
//  database closed to new ones, so it cannot reconnect; the other services
//  keep theirs): a keyed lead is answered 503 "unavailable" and never
//  enters the pipeline, while a lead without a key sells as usual. Once the
//  database is back, intake reconnects and the same key makes one new lead.
static void
test_e2e_idempotency_db_down (void **state)
{
    pp_fleet_t *fleet = *state;
    PP_CHECKF (fleet, s_own_cluster (fleet), "the fleet's database '%s' is not its own cluster:"
               " not closing it", pp_fleet_conninfo (fleet));
    //  The harness's own session (pp_fleet_sql) opens before the database closes
    PP_CHECK (fleet, pp_fleet_sql_int (fleet, "select 1", NULL) == 1);
    PP_CHECK (fleet, s_admin (fleet, "alter database pingpost allow_connections false") == 0);
    int64_t ended = s_admin (fleet, "select count(pg_terminate_backend (pid, 5000))"
                                    " from pg_stat_activity where datname = 'pingpost'"
                                    " and application_name = '" S_INTAKE_APP "'");
    PP_CHECKF (fleet, ended >= 1, "%lld intake sessions ended", (long long) ended);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "0", 5000,
                                        "select count(*) from pg_stat_activity"
                                        " where application_name = '" S_INTAKE_APP "'",
                                        NULL) == 0);

    cJSON *lead = s_lead ("idem-db-down", 3000);
    //  The first request meets the broken session, the later ones intake
    //  failing to reconnect
    s_expect_unavailable (fleet, lead, "keyed, session just ended");
    for (int round = 0; round < 3; round++) {
        pp_fleet_sleep_ms (300);
        s_expect_unavailable (fleet, lead, "keyed, database closed");
    }
    cJSON *plain = s_lead ("idem-db-down-plain", 3000);
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, plain);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "without a key", 200, "sold"));
    pp_fleet_reply_destroy (&reply);
    reply = pp_fleet_get (fleet, "/healthz");
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "healthz", 200, NULL));
    pp_fleet_reply_destroy (&reply);
    s_expect_unavailable (fleet, lead, "keyed, still closed");
    PP_CHECK (fleet, s_leads_of (fleet, "idem-db-down", "0") == 0);
    PP_CHECK (fleet, pp_fleet_sql_int (fleet, "select count(*) from idempotency_keys"
                                              " where key = 'db-down-1'",
                                       NULL) == 0);

    //  Back: intake reconnects (backing off up to 5 s) and the key is new
    PP_CHECK (fleet, s_allow_connections (state) == 0);
    int64_t deadline = pp_fleet_now_us () + 20000000;
    while (true) {
        reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead,
                                                "Idempotency-Key: db-down-1");
        if (reply->status != 503 || pp_fleet_now_us () >= deadline)
            break;
        pp_fleet_reply_destroy (&reply);
        pp_fleet_sleep_ms (200);
    }
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "keyed, database back", 200, "sold"));
    PP_CHECK (fleet, !pp_fleet_reply_has_header (reply, "Idempotent-Replayed", "true"));
    pp_fleet_reply_destroy (&reply);
    PP_CHECK (fleet, s_leads_of (fleet, "idem-db-down", "1") == 1);
    PP_CHECK (fleet, pp_fleet_all_alive (fleet));
    cJSON_Delete (plain);
    cJSON_Delete (lead);
}

//  A session of the test's own on the fleet's database, or NULL (printed).
static PGconn *
s_session (pp_fleet_t *fleet)
{
    PGconn *conn = PQconnectdb (pp_fleet_conninfo (fleet));
    if (PQstatus (conn) != CONNECTION_OK) {
        printf ("cannot connect to the fleet's database: %s", PQerrorMessage (conn));
        PQfinish (conn);
        return NULL;
    }
    return conn;
}

//  Send a keyed lead and a lead without a key at once; the replies, in
//  that order, stay in the batch (caller destroys).
static pp_fleet_batch_t *
s_keyed_and_plain (pp_fleet_t *fleet, const cJSON *keyed, const char *key, const cJSON *plain)
{
    pp_fleet_batch_t *batch = pp_fleet_batch_new (fleet, 2);
    pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, keyed);
    char header [128];
    snprintf (header, sizeof header, "Idempotency-Key: %s", key);
    pp_fleet_batch_add_header (batch, header);
    pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, plain);
    PP_CHECK (fleet, pp_fleet_batch_run (batch, 15000) == 0);
    return batch;
}

//  POST a lead with the key and expect it sold, not replayed; retried
//  while intake answers 503 (its session coming back), for up to 10 s.
static void
s_expect_sold (pp_fleet_t *fleet, const cJSON *lead, const char *key, const char *label)
{
    char header [128];
    snprintf (header, sizeof header, "Idempotency-Key: %s", key);
    int64_t deadline = pp_fleet_now_us () + 10000000;
    pp_fleet_reply_t *reply;
    while (true) {
        reply = pp_fleet_post_lead_with_header (fleet, PP_FLEET_KEY_ACME, lead, header);
        if (reply->status != 503 || pp_fleet_now_us () >= deadline)
            break;
        pp_fleet_reply_destroy (&reply);
        pp_fleet_sleep_ms (100);
    }
    PP_CHECK (fleet, pp_fleet_reply_is (reply, label, 200, "sold"));
    PP_CHECK (fleet, !pp_fleet_reply_has_header (reply, "Idempotent-Replayed", "true"));
    pp_fleet_reply_destroy (&reply);
}

//  (10) Another session holds an uncommitted claim of the key, so intake's
//  claim waits for its lock. PostgreSQL ends intake's statement after
//  intake/db_timeout_ms (its session's statement_timeout): the keyed lead
//  is answered 503 "unavailable" in about that time, and a lead without a
//  key, sent with it, sells. The claim that waited never commits: once the
//  other session rolls back, the same key makes one new lead.
static void
test_e2e_idempotency_db_lock (void **state)
{
    pp_fleet_t *fleet = *state;
    PGconn *locker = s_session (fleet);
    PP_CHECK (fleet, locker);
    PGresult *result = PQexec (locker, "BEGIN");
    PP_CHECK (fleet, PQresultStatus (result) == PGRES_COMMAND_OK);
    PQclear (result);
    const char *params [] = {PP_FLEET_KEY_ACME};
    result = PQexecParams (locker,
                           "INSERT INTO idempotency_keys (publisher_id, key, lead_id)"
                           " SELECT id, 'db-lock-1', 'held-by-the-test' FROM publishers"
                           " WHERE api_key_hash = encode (sha256 (convert_to ($1, 'UTF8')), 'hex')",
                           1, NULL, params, NULL, NULL, 0);
    PP_CHECKF (fleet, PQresultStatus (result) == PGRES_COMMAND_OK
                      && streq (PQcmdTuples (result), "1"),
               "%s", PQresultErrorMessage (result));
    PQclear (result);

    cJSON *lead = s_lead ("idem-db-lock", 3000);
    cJSON *plain = s_lead ("idem-db-lock-plain", 3000);
    pp_fleet_batch_t *batch = s_keyed_and_plain (fleet, lead, "db-lock-1", plain);
    const pp_fleet_reply_t *keyed = pp_fleet_batch_reply (batch, 0);
    s_check_unavailable (fleet, keyed, "keyed, claim locked");
    //  It waited for the lock until the statement timeout, no more
    PP_CHECKF (fleet, keyed->elapsed_us >= (S_DB_TIMEOUT_MS - 100) * 1000,
               "answered in %lld ms", (long long) (keyed->elapsed_us / 1000));
    PP_CHECK (fleet, pp_fleet_reply_is (pp_fleet_batch_reply (batch, 1), "without a key", 200,
                                        "sold"));
    pp_fleet_batch_destroy (&batch);

    result = PQexec (locker, "ROLLBACK");
    PP_CHECK (fleet, PQresultStatus (result) == PGRES_COMMAND_OK);
    PQclear (result);
    PQfinish (locker);
    PP_CHECK (fleet, pp_fleet_sql_int (fleet, "select count(*) from idempotency_keys"
                                              " where key = 'db-lock-1'",
                                       NULL) == 0);
    s_expect_sold (fleet, lead, "db-lock-1", "keyed, lock gone");
    PP_CHECK (fleet, s_leads_of (fleet, "idem-db-lock", "1") == 1);
    PP_CHECK (fleet, pp_fleet_all_alive (fleet));
    cJSON_Delete (plain);
    cJSON_Delete (lead);
}

//  Intake's backends stopped by test (11), to resume in its teardown.
static pid_t s_stopped [16];
static int s_stopped_count;

static int
s_resume_stopped (void **state)
{
    for (int i = 0; i < s_stopped_count; i++)
        kill (s_stopped [i], SIGCONT);
    s_stopped_count = 0;
    return 0;
}

//  (11) A database that stops answering: every backend of intake is
//  stopped (SIGSTOP), so nothing ends intake's statement on the server.
//  The keyed lead is answered 503 "unavailable" within twice
//  intake/db_timeout_ms, when intake drops the session (and asks the
//  server to cancel its statement); a lead without a key, sent with it,
//  sells; and a new session serves the next keyed lead while the old
//  backends are still stopped.
static void
test_e2e_idempotency_db_stopped (void **state)
{
    pp_fleet_t *fleet = *state;
    PP_CHECKF (fleet, s_own_cluster (fleet), "the fleet's database '%s' is not its own cluster:"
               " not stopping its processes", pp_fleet_conninfo (fleet));
    //  Intake's request session is up: a keyed lead went through it
    cJSON *first = s_lead ("idem-db-stopped", 3000);
    s_expect_sold (fleet, first, "db-stopped-0", "keyed, before");

    PGconn *conn = s_session (fleet);
    PP_CHECK (fleet, conn);
    PGresult *result = PQexec (conn, "SELECT pid FROM pg_stat_activity"
                                     " WHERE application_name = '" S_INTAKE_APP "'");
    PP_CHECK (fleet, PQresultStatus (result) == PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples (result) && s_stopped_count < 16; i++) {
        pid_t pid = (pid_t) atoi (PQgetvalue (result, i, 0));
        if (pid > 0 && kill (pid, SIGSTOP) == 0)
            s_stopped [s_stopped_count++] = pid;
    }
    PQclear (result);
    PQfinish (conn);
    PP_CHECKF (fleet, s_stopped_count >= 1, "%d intake backends stopped", s_stopped_count);

    cJSON *lead = s_lead ("idem-db-stopped", 3000);
    cJSON *plain = s_lead ("idem-db-stopped-plain", 3000);
    pp_fleet_batch_t *batch = s_keyed_and_plain (fleet, lead, "db-stopped-1", plain);
    const pp_fleet_reply_t *keyed = pp_fleet_batch_reply (batch, 0);
    s_check_unavailable (fleet, keyed, "keyed, server silent");
    PP_CHECKF (fleet, keyed->elapsed_us >= (2 * S_DB_TIMEOUT_MS - 100) * 1000,
               "answered in %lld ms", (long long) (keyed->elapsed_us / 1000));
    PP_CHECK (fleet, pp_fleet_reply_is (pp_fleet_batch_reply (batch, 1), "without a key", 200,
                                        "sold"));
    pp_fleet_batch_destroy (&batch);

    //  A new session, beside the stopped backends
    cJSON *next = s_lead ("idem-db-stopped", 3000);
    s_expect_sold (fleet, next, "db-stopped-2", "keyed, new session");
    s_resume_stopped (state);
    PP_CHECK (fleet, s_leads_of (fleet, "idem-db-stopped", "2") == 2);
    PP_CHECK (fleet, pp_fleet_all_alive (fleet));
    cJSON_Delete (next);
    cJSON_Delete (plain);
    cJSON_Delete (lead);
    cJSON_Delete (first);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_e2e_idempotency_replay),
        cmocka_unit_test (test_e2e_idempotency_concurrent),
        cmocka_unit_test (test_e2e_idempotency_per_publisher),
        cmocka_unit_test (test_e2e_idempotency_bad_key),
        cmocka_unit_test (test_e2e_idempotency_422_frees_key),
        cmocka_unit_test (test_e2e_idempotency_in_progress),
        cmocka_unit_test (test_e2e_idempotency_stale_claim),
        cmocka_unit_test (test_e2e_idempotency_purge),
        cmocka_unit_test (test_e2e_idempotency_db_lock),
        cmocka_unit_test_teardown (test_e2e_idempotency_db_stopped, s_resume_stopped),
        cmocka_unit_test_teardown (test_e2e_idempotency_db_down, s_allow_connections),
    };
    return cmocka_run_group_tests (tests, s_setup, pp_fleet_teardown);
}
