/*  test_pp_stage - the stage runtime with real sockets and a real database  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Needs PINGPOST_TEST_DATABASE_URL: a fresh schema per run (deploy/sql
//  applied, a small market stored), dropped at the end. Each test builds a
//  validate-code stage in slot 0 under its own short var dir and plays its
//  neighbours: a PUSH into the stage's input, PULLs bound on the filter
//  slots and on the intake reply slot, and a ledger thread that acks events.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "pp_stage.h"
#include "pp_log.h"
#include "pp_testdb.h"
#include "pp_util.h"


static char *s_url;                 //  conninfo whose search_path is the schema
static pp_db_t *s_db;               //  our own session in the schema

static const char *s_market_json =
    "{\"auction\": {\"floor\": 1.00},"
    " \"verticals\": [{\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}]}";

//  --------------------------------------------------------------------------
//  Database set-up

static int
s_store (const char *json)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (json, strlen (json), &errors, &count);
    for (size_t i = 0; i < count; i++)
        print_error ("market: %s: %s\n", errors [i].path, errors [i].message);
    pp_market_errors_free (&errors, count);
    int rc = market ? pp_market_store (market, s_db) : -1;
    pp_market_unlink (&market);
    return rc;
}

static int
s_group_setup (void **state)
{
    pp_log_init ("test_pp_stage", false);
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!base || !*base) {
        print_error ("PINGPOST_TEST_DATABASE_URL is not set: test_pp_stage needs a PostgreSQL "
                     "database (scripts/test sets it)\n");
        return -1;
    }
    s_url = pp_testdb_create ("stage");
    if (!s_url)
        return -1;
    s_db = pp_db_new (s_url);
    if (!s_db || !pp_db_ok (s_db) || s_store (s_market_json))
        return -1;
    return 0;
}

static int
s_group_teardown (void **state)
{
    pp_db_destroy (&s_db);
    pp_testdb_drop (&s_url);
    return 0;
}

//  --------------------------------------------------------------------------
//  The stage's neighbours

//  The ledger: acks every event and reports "kind code lead" on its pipe.
static void
s_ledger_actor (zsock_t *pipe, void *args)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (router, 0);
    int rc = zsock_bind (router, "%s", (const char *) args);
    zsock_signal (pipe, rc == 0 ? 0 : 1);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (rc == 0 && zpoller_wait (poller, -1) == router) {
        zframe_t *peer = zframe_recv (router);
        zframe_t *body = zframe_recv (router);
        pp_events_t *batch = body ? pp_events_decode (body) : NULL;
        if (peer && batch) {
            pp_ack_t *ack = pp_ack_new ();
            for (size_t i = 0; i < pp_events_size (batch); i++) {
                pp_event_t *event = pp_events_get (batch, i);
                pp_ack_append (ack, pp_event_id (event));
                zstr_sendf (pipe, "%s %s %s", pp_event_kind (event),
                            *pp_event_code (event) ? pp_event_code (event) : "-",
                            pp_event_lead_id (event));
            }
            zframe_t *frame = pp_ack_encode (ack);
            pp_ack_destroy (&ack);
            zframe_send (&peer, router, ZFRAME_MORE);
            zframe_send (&frame, router, 0);
        }
        pp_events_destroy (&batch);
        zframe_destroy (&peer);
        zframe_destroy (&body);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

typedef struct {
    char var_dir [32];          //  /tmp/ppu-XXXXXX
    pp_config_t *config;        //  1 intake, 1 validate, 2 filter, 1 ledger slot
    zsock_t *input;             //  PUSH into the stage's input
    zsock_t *filter;            //  PULL bound on both filter slots, or NULL
    zsock_t *reply;             //  PULL bound on the intake reply slot
    zactor_t *ledger;           //  the ledger thread, or NULL
    pp_stage_t *stage;          //  under test
    //  What arrived, collected by the loop
    zlistx_t *forwarded;        //  leads at filter (pp_lead_t *)
    zlistx_t *results;          //  results at intake (pp_result_t *)
    zlistx_t *events;           //  "kind code lead" lines from the ledger (char *)
    size_t want_forwarded;      //  stop the loop once this many leads...
    size_t want_results;        //  ...results...
    size_t want_events;         //  ...and events arrived
    int handled;                //  handler calls
    int reloads;                //  reload callbacks with the changed market
    int want_reloads;           //  ...and this many reloads
} s_fixture_t;

static void
s_lead_free (void **item)
{
    pp_lead_destroy ((pp_lead_t **) item);
}

static void
s_result_free (void **item)
{
    pp_result_destroy ((pp_result_t **) item);
}

static void
s_string_free (void **item)
{
    zstr_free ((char **) item);
}

//  The fixture without its stage: neighbours up, config made. `filter`:
//  bind the filter slots; `ledger`: run the ledger.
static s_fixture_t *
s_fixture_new (bool filter, bool ledger)
{
    s_fixture_t *self = (s_fixture_t *) zmalloc (sizeof (s_fixture_t));
    snprintf (self->var_dir, sizeof self->var_dir, "/tmp/ppu-XXXXXX");
    assert_non_null (mkdtemp (self->var_dir));
    zsys_dir_create ("%s/run", self->var_dir);
    self->config = pp_config_new ();
    free (self->config->var_dir);
    self->config->var_dir = strdup (self->var_dir);
    self->config->database_url = strdup (s_url);
    self->config->slots [PP_SLOT_INTAKE] = 1;
    self->config->slots [PP_SLOT_VALIDATE] = 1;
    self->config->slots [PP_SLOT_FILTER] = 2;
    self->config->slots [PP_SLOT_LEDGER] = 1;

    char *endpoint = pp_config_endpoint (self->config, PP_SLOT_VALIDATE, 0);
    self->input = zsock_new (ZMQ_PUSH);
    zsock_set_linger (self->input, 0);
    assert_int_equal (zsock_connect (self->input, "%s", endpoint), 0);
    zstr_free (&endpoint);
    if (filter) {
        self->filter = zsock_new (ZMQ_PULL);
        for (int n = 0; n < 2; n++) {
            endpoint = pp_config_endpoint (self->config, PP_SLOT_FILTER, n);
            assert_int_equal (zsock_bind (self->filter, "%s", endpoint), 0);
            zstr_free (&endpoint);
        }
    }
    self->reply = zsock_new (ZMQ_PULL);
    endpoint = pp_config_endpoint (self->config, PP_SLOT_INTAKE, 0);
    assert_int_equal (zsock_bind (self->reply, "%s", endpoint), 0);
    zstr_free (&endpoint);
    if (ledger) {
        endpoint = pp_config_endpoint (self->config, PP_SLOT_LEDGER, 0);
        self->ledger = zactor_new (s_ledger_actor, endpoint);
        zstr_free (&endpoint);
        assert_non_null (self->ledger);
    }
    self->forwarded = zlistx_new ();
    zlistx_set_destructor (self->forwarded, s_lead_free);
    self->results = zlistx_new ();
    zlistx_set_destructor (self->results, s_result_free);
    self->events = zlistx_new ();
    zlistx_set_destructor (self->events, s_string_free);
    return self;
}

static void
s_fixture_destroy (s_fixture_t **self_p)
{
    s_fixture_t *self = *self_p;
    pp_stage_destroy (&self->stage);
    zactor_destroy (&self->ledger);
    zsock_destroy (&self->input);
    zsock_destroy (&self->filter);
    zsock_destroy (&self->reply);
    zlistx_destroy (&self->forwarded);
    zlistx_destroy (&self->results);
    zlistx_destroy (&self->events);
    pp_config_destroy (&self->config);
    char *command = zsys_sprintf ("rm -rf '%s'", self->var_dir);
    if (system (command) != 0)
        print_error ("could not remove %s\n", self->var_dir);
    zstr_free (&command);
    free (self);
    *self_p = NULL;
}

static bool
s_done (s_fixture_t *self)
{
    return zlistx_size (self->forwarded) >= self->want_forwarded
           && zlistx_size (self->results) >= self->want_results
           && zlistx_size (self->events) >= self->want_events
           && self->reloads >= self->want_reloads;
}

static int
s_on_filter (zloop_t *loop, zsock_t *reader, void *arg)
{
    s_fixture_t *self = (s_fixture_t *) arg;
    pp_lead_t *lead = pp_lead_recv (zsock_resolve (reader));
    if (lead)
        zlistx_add_end (self->forwarded, lead);
    return s_done (self) ? -1 : 0;
}

static int
s_on_reply (zloop_t *loop, zsock_t *reader, void *arg)
{
    s_fixture_t *self = (s_fixture_t *) arg;
    pp_result_t *result = pp_result_recv (zsock_resolve (reader));
    if (result)
        zlistx_add_end (self->results, result);
    return s_done (self) ? -1 : 0;
}

static int
s_on_ledger (zloop_t *loop, zsock_t *reader, void *arg)
{
    s_fixture_t *self = (s_fixture_t *) arg;
    char *line = zstr_recv (reader);
    if (line)
        zlistx_add_end (self->events, line);
    return s_done (self) ? -1 : 0;
}

static int
s_on_timeout (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

static int
s_on_check (zloop_t *loop, int timer_id, void *arg)
{
    return s_done ((s_fixture_t *) arg) ? -1 : 0;
}

//  Drive the stage's loop (with our sockets on it) until what we want
//  arrived or timeout_ms passed; through pp_stage_run when `run`.
static void
s_drive_run (s_fixture_t *self, int timeout_ms, bool run)
{
    zloop_t *loop = pp_stage_loop (self->stage);
    if (self->filter)
        zloop_reader (loop, self->filter, s_on_filter, self);
    zloop_reader (loop, self->reply, s_on_reply, self);
    if (self->ledger)
        zloop_reader (loop, zactor_sock (self->ledger), s_on_ledger, self);
    int timer = zloop_timer (loop, (size_t) timeout_ms, 1, s_on_timeout, NULL);
    int check = zloop_timer (loop, 10, 0, s_on_check, self);
    if (run)
        assert_int_equal (pp_stage_run (self->stage), 0);
    else
    if (!s_done (self))
        zloop_start (loop);
    zloop_timer_end (loop, timer);
    zloop_timer_end (loop, check);
    if (self->filter)
        zloop_reader_end (loop, self->filter);
    zloop_reader_end (loop, self->reply);
    if (self->ledger)
        zloop_reader_end (loop, zactor_sock (self->ledger));
}

static void
s_drive (s_fixture_t *self, int timeout_ms)
{
    s_drive_run (self, timeout_ms, false);
}

//  A lead due in `deadline_ms` (negative: already past).
static void
s_send_lead (s_fixture_t *self, const char *sub_id, int deadline_ms, int reply_slot)
{
    char id [PP_LEAD_ID_SIZE + 1];
    pp_id_new (id);
    pp_lead_t *lead = pp_lead_new (id);
    int64_t now = pp_now_us ();
    pp_lead_set_received_us (lead, now);
    pp_lead_set_deadline_us (lead, now + (int64_t) deadline_ms * 1000);
    pp_lead_set_reply_slot (lead, reply_slot);
    pp_lead_set_vertical (lead, "solar");
    pp_lead_set_sub_id (lead, sub_id);
    pp_fields_set_str (pp_lead_fields (lead), "zip", "94105");
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, true, now);
    assert_int_equal (pp_lead_send (lead, zsock_resolve (self->input), 0), 0);
    pp_lead_destroy (&lead);
}

//  The test handler: sub_id "forward" passes the lead on, "reject" ends it,
//  "event" emits an event then passes it on.
static void
s_handler (pp_stage_t *stage, pp_lead_t **lead_p, void *arg)
{
    s_fixture_t *self = (s_fixture_t *) arg;
    self->handled++;
    const char *sub_id = pp_lead_sub_id (*lead_p);
    assert_false (pp_stage_expired (stage, *lead_p));
    if (streq (sub_id, "reject")) {
        pp_stage_finish_status (stage, lead_p, PP_STATUS_REJECTED, "test_reject", "zip",
                                "rejected by the test");
        return;
    }
    if (streq (sub_id, "event")) {
        pp_event_t *event = pp_stage_event (stage, *lead_p, "validated");
        assert_non_null (event);
        pp_stage_emit (stage, &event);
        assert_null (event);
    }
    pp_stage_forward (stage, lead_p);
}

static void
s_stage_new (s_fixture_t *self)
{
    self->stage = pp_stage_new (self->config, PP_STAGE_VALIDATE, 0);
    assert_non_null (self->stage);
    pp_stage_set_handler (self->stage, s_handler, self);
}

//  Count events of kind and code.
static size_t
s_events (s_fixture_t *self, const char *kind, const char *code)
{
    size_t count = 0;
    char prefix [64];
    snprintf (prefix, sizeof prefix, "%s %s ", kind, code);
    for (char *line = (char *) zlistx_first (self->events); line;
         line = (char *) zlistx_next (self->events))
        if (strncmp (line, prefix, strlen (prefix)) == 0)
            count++;
    return count;
}

//  --------------------------------------------------------------------------

static void
test_pp_stage_event_id (void **state)
{
    char buf [64];
    pp_event_id_make (buf, sizeof buf, "01J00000000000000000000001", 2, "ab3x", 0);
    assert_string_equal (buf, "01J00000000000000000000001.2ab3x0");
    pp_event_id_make (buf, sizeof buf, "L", 5, "zzzz", 31);
    assert_string_equal (buf, "L.5zzzzz");
    pp_event_id_make (buf, sizeof buf, "L", 5, "zzzz", 32);
    assert_string_equal (buf, "L.5zzzz10");
    pp_event_id_make (buf, sizeof buf, "L", 3, "0000", UINT64_MAX);
    assert_string_equal (buf, "L.30000fzzzzzzzzzzzz");
    //  The longest fits an event id
    pp_event_id_make (buf, sizeof buf, "01J00000000000000000000001", 6, "abcd", UINT64_MAX);
    assert_true (strlen (buf) <= PP_EVENT_ID_MAX);
    //  Cut to the buffer
    char small [8];
    pp_event_id_make (small, sizeof small, "01J00000000000000000000001", 2, "ab3x", 7);
    assert_string_equal (small, "01J0000");
}

static void
test_pp_stage_new_failures (void **state)
{
    s_fixture_t *fixture = s_fixture_new (false, false);
    //  A slot that is not declared
    assert_null (pp_stage_new (fixture->config, PP_STAGE_VALIDATE, 1));
    assert_null (pp_stage_new (fixture->config, PP_STAGE_VALIDATE, -1));
    //  No database: no market, no stage (and nothing leaked)
    free (fixture->config->database_url);
    fixture->config->database_url =
        strdup ("host=/nonexistent/pp-test dbname=nothing connect_timeout=2");
    assert_null (pp_stage_new (fixture->config, PP_STAGE_VALIDATE, 0));
    //  Our slot's TCP port taken by someone else
    free (fixture->config->database_url);
    fixture->config->database_url = strdup (s_url);
    zsock_t *squatter = zsock_new (ZMQ_PULL);
    int port = zsock_bind (squatter, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    fixture->config->endpoint_base [PP_SLOT_VALIDATE] = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    assert_null (pp_stage_new (fixture->config, PP_STAGE_VALIDATE, 0));
    zsock_destroy (&squatter);
    zstr_free (&fixture->config->endpoint_base [PP_SLOT_VALIDATE]);
    pp_stage_t *stage = pp_stage_new (fixture->config, PP_STAGE_VALIDATE, 0);
    assert_non_null (stage);
    assert_int_equal (pp_stage_code (stage), PP_STAGE_VALIDATE);
    assert_string_equal (pp_stage_name (stage), "validate");
    assert_ptr_equal (pp_stage_config (stage), fixture->config);
    assert_non_null (pp_stage_market (stage));
    assert_non_null (pp_market_vertical (pp_stage_market (stage), "solar"));
    assert_non_null (pp_stage_db (stage));
    assert_non_null (pp_stage_loop (stage));
    assert_int_equal (pp_stage_handled (stage), 0);
    pp_stage_destroy (&stage);
    assert_null (stage);
    pp_stage_destroy (&stage);
    s_fixture_destroy (&fixture);
}

static void
test_pp_stage_forward (void **state)
{
    s_fixture_t *fixture = s_fixture_new (true, true);
    s_stage_new (fixture);
    for (int i = 0; i < 10; i++)
        s_send_lead (fixture, i % 2 ? "forward" : "event", 5000, 0);
    fixture->want_forwarded = 10;
    fixture->want_events = 5;
    s_drive (fixture, 3000);
    assert_int_equal (zlistx_size (fixture->forwarded), 10);
    assert_int_equal (zlistx_size (fixture->results), 0);
    assert_int_equal (fixture->handled, 10);
    assert_int_equal (pp_stage_handled (fixture->stage), 10);
    //  Stamped in and out by this stage, after intake's stamp; fields kept
    for (pp_lead_t *lead = (pp_lead_t *) zlistx_first (fixture->forwarded); lead;
         lead = (pp_lead_t *) zlistx_next (fixture->forwarded)) {
        assert_int_equal (pp_lead_stamp_size (lead), 3);
        assert_int_equal (pp_lead_stamp (lead, 1)->stage, PP_STAGE_VALIDATE);
        assert_int_equal (pp_lead_stamp (lead, 1)->out, 0);
        assert_int_equal (pp_lead_stamp (lead, 2)->stage, PP_STAGE_VALIDATE);
        assert_int_equal (pp_lead_stamp (lead, 2)->out, 1);
        assert_true (pp_lead_stamp (lead, 2)->at_us >= pp_lead_stamp (lead, 1)->at_us);
        assert_string_equal (pp_fields_str (pp_lead_fields (lead), "zip"), "94105");
        assert_true (pp_id_valid (pp_lead_id (lead)));
    }
    //  The handler's events reached the ledger and were acked
    assert_int_equal (s_events (fixture, "validated", "-"), 5);
    s_fixture_destroy (&fixture);
}

static void
test_pp_stage_expired (void **state)
{
    s_fixture_t *fixture = s_fixture_new (true, true);
    s_stage_new (fixture);
    //  Past its deadline: error "timeout" to the intake, the handler never sees it
    s_send_lead (fixture, "forward", -10, 0);
    s_send_lead (fixture, "forward", -5000, 0);
    //  A live one still passes
    s_send_lead (fixture, "forward", 5000, 0);
    fixture->want_forwarded = 1;
    fixture->want_results = 2;
    fixture->want_events = 2;
    s_drive (fixture, 3000);
    assert_int_equal (fixture->handled, 1);
    assert_int_equal (zlistx_size (fixture->forwarded), 1);
    assert_int_equal (zlistx_size (fixture->results), 2);
    for (pp_result_t *result = (pp_result_t *) zlistx_first (fixture->results); result;
         result = (pp_result_t *) zlistx_next (fixture->results)) {
        assert_int_equal (pp_result_status (result), PP_STATUS_ERROR);
        assert_int_equal (pp_result_reason_size (result), 1);
        assert_string_equal (pp_result_reason_code (result, 0), "timeout");
        assert_int_equal (pp_result_stage (result), PP_STAGE_VALIDATE);
        assert_true (pp_id_valid (pp_result_lead_id (result)));
    }
    //  ...and an error event for the ledger
    assert_int_equal (s_events (fixture, "error", "timeout"), 2);
    s_fixture_destroy (&fixture);
}

static void
test_pp_stage_finish (void **state)
{
    s_fixture_t *fixture = s_fixture_new (true, true);
    s_stage_new (fixture);
    s_send_lead (fixture, "reject", 5000, 0);
    //  A reply slot that is not declared: dropped (logged), nothing breaks
    s_send_lead (fixture, "reject", 5000, 3);
    //  Garbage on the input is dropped too
    zstr_send (fixture->input, "not a lead");
    s_send_lead (fixture, "forward", 5000, 0);
    fixture->want_forwarded = 1;
    fixture->want_results = 1;
    s_drive (fixture, 3000);
    assert_int_equal (fixture->handled, 3);
    assert_int_equal (zlistx_size (fixture->results), 1);
    pp_result_t *result = (pp_result_t *) zlistx_first (fixture->results);
    assert_int_equal (pp_result_status (result), PP_STATUS_REJECTED);
    assert_int_equal (pp_result_stage (result), PP_STAGE_VALIDATE);
    assert_string_equal (pp_result_reason_code (result, 0), "test_reject");
    assert_string_equal (pp_result_reason_field (result, 0), "zip");
    assert_int_equal (zlistx_size (fixture->forwarded), 1);
    //  Nothing more arrives at the reply socket
    zpoller_t *poller = zpoller_new (fixture->reply, NULL);
    assert_null (zpoller_wait (poller, 100));
    zpoller_destroy (&poller);
    s_fixture_destroy (&fixture);
}

static void
test_pp_stage_overloaded (void **state)
{
    //  No filter instance is up: the lead ends with error "overloaded"
    s_fixture_t *fixture = s_fixture_new (false, true);
    s_stage_new (fixture);
    s_send_lead (fixture, "forward", 5000, 0);
    fixture->want_results = 1;
    fixture->want_events = 1;
    s_drive (fixture, 3000);
    assert_int_equal (zlistx_size (fixture->results), 1);
    pp_result_t *result = (pp_result_t *) zlistx_first (fixture->results);
    assert_int_equal (pp_result_status (result), PP_STATUS_ERROR);
    assert_string_equal (pp_result_reason_code (result, 0), "overloaded");
    assert_int_equal (s_events (fixture, "error", "overloaded"), 1);
    s_fixture_destroy (&fixture);
}

static void
test_pp_stage_back_pressure (void **state)
{
    //  The ledger is down and the outbox holds 2 events at most: after two
    //  leads the stage stops taking more; once the ledger is back it resumes
    s_fixture_t *fixture = s_fixture_new (true, false);
    fixture->config->outbox_limit = 2;
    s_stage_new (fixture);
    for (int i = 0; i < 6; i++)
        s_send_lead (fixture, "event", 10000, 0);
    fixture->want_forwarded = 6;
    s_drive (fixture, 800);
    assert_int_equal (zlistx_size (fixture->forwarded), 2);
    assert_int_equal (fixture->handled, 2);

    char *endpoint = pp_config_endpoint (fixture->config, PP_SLOT_LEDGER, 0);
    fixture->ledger = zactor_new (s_ledger_actor, endpoint);
    zstr_free (&endpoint);
    //  The stage's pressure timer (armed at the pause) resumes the input
    //  once drained
    fixture->want_events = 6;
    s_drive_run (fixture, 4000, true);
    assert_int_equal (zlistx_size (fixture->forwarded), 6);
    assert_int_equal (fixture->handled, 6);
    assert_int_equal (s_events (fixture, "validated", "-"), 6);
    s_fixture_destroy (&fixture);
}

static void
s_on_stage_reload (pp_stage_t *stage, pp_market_t *market, void *arg)
{
    s_fixture_t *self = (s_fixture_t *) arg;
    if (pp_market_vertical (market, "roofing"))
        self->reloads++;
}

static void
test_pp_stage_reload (void **state)
{
    s_fixture_t *fixture = s_fixture_new (true, true);
    s_stage_new (fixture);
    pp_stage_set_reload (fixture->stage, s_on_stage_reload, fixture);
    pp_market_t *before = pp_market_link (pp_stage_market (fixture->stage));
    assert_null (pp_market_vertical (before, "roofing"));
    assert_int_equal (s_store ("{\"verticals\": [{\"name\": \"roofing\", \"fields\":"
                               " {\"zip\": {\"type\": \"zip\"}}}]}"),
                      0);
    int64_t stored_us = pp_mono_us ();
    fixture->want_reloads = 1;
    s_drive (fixture, 3000);
    assert_true (fixture->reloads >= 1);
    assert_true (pp_mono_us () - stored_us < 1000000);
    assert_non_null (pp_market_vertical (pp_stage_market (fixture->stage), "roofing"));
    //  The market held before is still whole
    assert_non_null (pp_market_vertical (before, "solar"));
    pp_market_unlink (&before);
    s_fixture_destroy (&fixture);
}

//  Stop pp_stage_run once a lead went through.
static int
s_on_forwarded (zloop_t *loop, zsock_t *reader, void *arg)
{
    s_fixture_t *self = (s_fixture_t *) arg;
    pp_lead_t *lead = pp_lead_recv (zsock_resolve (reader));
    if (lead)
        zlistx_add_end (self->forwarded, lead);
    return -1;
}

static void
test_pp_stage_run (void **state)
{
    s_fixture_t *fixture = s_fixture_new (true, true);
    s_stage_new (fixture);
    zloop_reader (pp_stage_loop (fixture->stage), fixture->filter, s_on_forwarded, fixture);
    s_send_lead (fixture, "event", 5000, 0);
    int64_t start = pp_mono_us ();
    //  Runs until a handler stops the loop, then drains the outbox
    assert_int_equal (pp_stage_run (fixture->stage), 0);
    assert_int_equal (zlistx_size (fixture->forwarded), 1);
    //  The ledger acked the event: the drain did not wait its 2 s
    assert_true (pp_mono_us () - start < 1900000);
    char *line = zstr_recv (zactor_sock (fixture->ledger));
    assert_non_null (line);
    assert_memory_equal (line, "validated - ", 12);
    zstr_free (&line);
    zloop_reader_end (pp_stage_loop (fixture->stage), fixture->filter);
    s_fixture_destroy (&fixture);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_stage_event_id),
        cmocka_unit_test (test_pp_stage_new_failures),
        cmocka_unit_test (test_pp_stage_forward),
        cmocka_unit_test (test_pp_stage_expired),
        cmocka_unit_test (test_pp_stage_finish),
        cmocka_unit_test (test_pp_stage_overloaded),
        cmocka_unit_test (test_pp_stage_back_pressure),
        cmocka_unit_test (test_pp_stage_reload),
        cmocka_unit_test (test_pp_stage_run),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
