/*  test_pp_watch - the market from PostgreSQL, reloaded on NOTIFY, reconnecting when cut off  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Needs PINGPOST_TEST_DATABASE_URL: a fresh schema per run, with
//  deploy/sql applied, dropped at the end. NOTIFY is database-wide, so other
//  runs in the same database may cause extra reloads; the checks allow that.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "pp_watch.h"
#include "pp_log.h"
#include "pp_testdb.h"
#include "pp_util.h"

//  The advisory lock of `pingpost db migrate`: the analyst role is created
//  cluster-wide, so parallel schema set-ups must not race.

static char *s_url;                 //  conninfo whose search_path is the schema
static pp_db_t *s_db;               //  our own session in the schema

//  --------------------------------------------------------------------------
//  A fresh schema

static char *
s_conninfo_with_schema (const char *base, const char *schema)
{
    if (strncmp (base, "postgres://", 11) == 0 || strncmp (base, "postgresql://", 13) == 0)
        return zsys_sprintf ("%s%soptions=-csearch_path%%3D%s", base,
                             strchr (base, '?') ? "&" : "?", schema);
    return zsys_sprintf ("%s options='-csearch_path=%s'", base, schema);
}

static int
s_setup (void **state)
{
    pp_log_init ("test_pp_watch", false);
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!base || !*base) {
        print_error ("PINGPOST_TEST_DATABASE_URL is not set: test_pp_watch needs a PostgreSQL "
                     "database (scripts/test sets it)\n");
        return -1;
    }
    s_url = pp_testdb_create ("watch");
    if (!s_url)
        return -1;
    s_db = pp_db_new (s_url);
    if (!s_db || !pp_db_ok (s_db))
        return -1;
    return 0;
}

static int
s_teardown (void **state)
{
    pp_db_destroy (&s_db);
    pp_testdb_drop (&s_url);
    return 0;
}

//  Store a market given as JSON (and so NOTIFY).
static void
s_store (const char *json)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (json, strlen (json), &errors, &count);
    for (size_t i = 0; i < count; i++)
        print_error ("market: %s: %s\n", errors [i].path, errors [i].message);
    pp_market_errors_free (&errors, count);
    assert_non_null (market);
    assert_int_equal (pp_market_store (market, s_db), 0);
    pp_market_unlink (&market);
}

static char *
s_vertical_json (const char *name)
{
    return zsys_sprintf ("{\"verticals\": [{\"name\": \"%s\", \"fields\":"
                         " {\"zip\": {\"type\": \"zip\", \"required\": true}}}]}",
                         name);
}

//  --------------------------------------------------------------------------
//  The loop side

typedef struct {
    pp_watch_t *watch;          //  Not owned
    int reloads;                //  callbacks seen
    pp_market_t *last;          //  market of the last callback; Not owned
    const char *want;           //  stop once the market has this vertical
    int64_t seen_us;            //  monotonic time it was seen, 0 = not yet
} s_watcher_t;

static void
s_on_reload (pp_market_t *market, void *arg)
{
    s_watcher_t *watcher = (s_watcher_t *) arg;
    watcher->reloads++;
    watcher->last = market;
    //  The callback sees the new market as the current one
    assert_ptr_equal (pp_watch_market (watcher->watch), market);
    if (watcher->want && !watcher->seen_us && pp_market_vertical (market, watcher->want))
        watcher->seen_us = pp_mono_us ();
}

static int
s_on_check (zloop_t *loop, int timer_id, void *arg)
{
    s_watcher_t *watcher = (s_watcher_t *) arg;
    return watcher->seen_us ? -1 : 0;
}

static int
s_on_stop (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

//  Run the loop until the watcher saw its vertical, or timeout_ms passed.
static void
s_run (zloop_t *loop, s_watcher_t *watcher, int timeout_ms)
{
    int check = zloop_timer (loop, 5, 0, s_on_check, watcher);
    int stop = zloop_timer (loop, (size_t) timeout_ms, 1, s_on_stop, NULL);
    zloop_start (loop);
    zloop_timer_end (loop, check);
    zloop_timer_end (loop, stop);
}

//  --------------------------------------------------------------------------

static void
test_pp_watch_unreachable (void **state)
{
    assert_null (pp_watch_new ("host=/nonexistent/pp-test dbname=nothing connect_timeout=2"));
    //  Reachable, but no market tables there
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    char *url = s_conninfo_with_schema (base, "t_no_such_schema");
    assert_null (pp_watch_new (url));
    zstr_free (&url);
}

static void
test_pp_watch_empty_market (void **state)
{
    pp_watch_t *watch = pp_watch_new (s_url);
    assert_non_null (watch);
    pp_market_t *market = pp_watch_market (watch);
    assert_non_null (market);
    assert_int_equal (pp_market_vertical_count (market), 0);
    assert_int_equal (pp_market_campaign_count (market), 0);
    assert_non_null (pp_market_auction (market));
    assert_non_null (pp_watch_db (watch));
    assert_true (pp_db_ok (pp_watch_db (watch)));
    //  A linked reference outlives a reload
    pp_market_t *kept = pp_watch_market_link (watch);
    assert_ptr_equal (kept, market);
    char *json = s_vertical_json ("solar");
    s_store (json);
    zstr_free (&json);
    assert_int_equal (pp_watch_reload (watch), 0);
    assert_ptr_not_equal (pp_watch_market (watch), kept);
    assert_non_null (pp_market_vertical (pp_watch_market (watch), "solar"));
    assert_int_equal (pp_market_vertical_count (kept), 0);
    pp_market_unlink (&kept);
    pp_watch_destroy (&watch);
    assert_null (watch);
    pp_watch_destroy (&watch);
}

static void
test_pp_watch_notify_reload (void **state)
{
    pp_watch_t *watch = pp_watch_new (s_url);
    assert_non_null (watch);
    zloop_t *loop = zloop_new ();
    assert_int_equal (pp_watch_attach (watch, loop), 0);
    s_watcher_t watcher = {.watch = watch, .want = "notified"};
    pp_watch_set_callback (watch, s_on_reload, &watcher);

    //  Another session applies a changed market: the watch has it within 1 s
    char *json = s_vertical_json ("notified");
    int64_t stored_us = pp_mono_us ();
    s_store (json);
    zstr_free (&json);
    s_run (loop, &watcher, 3000);
    if (!watcher.seen_us)
        fail_msg ("no reload within 3 s of the NOTIFY (%d reloads)", watcher.reloads);
    int64_t took_ms = (watcher.seen_us - stored_us) / 1000;
    if (took_ms > 1000)
        fail_msg ("reloaded after %lld ms, more than 1 s", (long long) took_ms);
    assert_true (watcher.reloads >= 1);
    assert_non_null (pp_market_vertical (pp_watch_market (watch), "notified"));

    //  Again: every NOTIFY counts, not only the first
    watcher.want = "notified-again";
    watcher.seen_us = 0;
    json = s_vertical_json ("notified-again");
    stored_us = pp_mono_us ();
    s_store (json);
    zstr_free (&json);
    s_run (loop, &watcher, 3000);
    assert_true (watcher.seen_us > 0);
    assert_true (watcher.seen_us - stored_us < 1000000);

    pp_watch_destroy (&watch);
    zloop_destroy (&loop);
}

static void
test_pp_watch_notify_during_query (void **state)
{
    //  A query on the watch's own session (as validate's dedupe does) reads
    //  the notification off the socket; the sweep timer still reloads
    pp_watch_t *watch = pp_watch_new (s_url);
    assert_non_null (watch);
    zloop_t *loop = zloop_new ();
    assert_int_equal (pp_watch_attach (watch, loop), 0);
    s_watcher_t watcher = {.watch = watch, .want = "swept"};
    pp_watch_set_callback (watch, s_on_reload, &watcher);
    char *json = s_vertical_json ("swept");
    int64_t stored_us = pp_mono_us ();
    s_store (json);
    zstr_free (&json);
    assert_int_equal (pp_db_script (pp_watch_db (watch), "sleep", "SELECT pg_sleep (0.2)"), 0);
    s_run (loop, &watcher, 3000);
    if (!watcher.seen_us)
        fail_msg ("a notification read by a query was never acted on");
    assert_true (watcher.seen_us - stored_us < 1000000);
    pp_watch_destroy (&watch);
    zloop_destroy (&loop);
}

static void
test_pp_watch_reconnect (void **state)
{
    pp_watch_t *watch = pp_watch_new (s_url);
    assert_non_null (watch);
    zloop_t *loop = zloop_new ();
    assert_int_equal (pp_watch_attach (watch, loop), 0);
    s_watcher_t watcher = {.watch = watch, .want = "after-cut"};
    pp_watch_set_callback (watch, s_on_reload, &watcher);

    //  Cut the watch's session from the server side
    char pid [16];
    snprintf (pid, sizeof pid, "%d", PQbackendPID (pp_db_conn (pp_watch_db (watch))));
    const char *params [] = {pid};
    PGresult *result = pp_db_exec (s_db, "terminate", "SELECT pg_terminate_backend ($1::int)",
                                   1, params);
    assert_non_null (result);
    PQclear (result);
    //  Let it notice and reconnect (backoff starts at 100 ms)
    zloop_timer (loop, 1000, 1, s_on_stop, NULL);
    zloop_start (loop);
    assert_true (pp_db_ok (pp_watch_db (watch)));
    assert_int_not_equal (PQbackendPID (pp_db_conn (pp_watch_db (watch))), atoi (pid));
    //  It LISTENs again: a new market arrives
    char *json = s_vertical_json ("after-cut");
    s_store (json);
    zstr_free (&json);
    s_run (loop, &watcher, 3000);
    if (!watcher.seen_us)
        fail_msg ("no reload after the connection was restored");
    pp_watch_destroy (&watch);
    zloop_destroy (&loop);
}

static void
test_pp_watch_link_across_reloads (void **state)
{
    //  A linked market stays valid while the owner reloads
    pp_watch_t *watch = pp_watch_new (s_url);
    assert_non_null (watch);
    for (int i = 0; i < 20; i++) {
        pp_market_t *market = pp_watch_market_link (watch);
        assert_non_null (market);
        assert_int_equal (pp_watch_reload (watch), 0);
        //  Still readable after the watch let go of it
        assert_true (pp_market_vertical_count (market) >= 1);
        pp_market_unlink (&market);
    }
    pp_watch_destroy (&watch);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_watch_unreachable),
        cmocka_unit_test (test_pp_watch_empty_market),
        cmocka_unit_test (test_pp_watch_notify_reload),
        cmocka_unit_test (test_pp_watch_notify_during_query),
        cmocka_unit_test (test_pp_watch_reconnect),
        cmocka_unit_test (test_pp_watch_link_across_reloads),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
