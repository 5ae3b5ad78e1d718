/*  test_pp_dedupe - pipelined duplicate checks against a real PostgreSQL  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "pp_db.h"
#include "pp_dedupe.h"
#include "pp_log.h"
#include "pp_testdb.h"

static char *s_url;                 //  conninfo of this run's schema

static int
s_setup (void **state)
{
    pp_log_init ("test_pp_dedupe", false);
    s_url = pp_testdb_create ("dedupe");
    return s_url ? 0 : -1;
}

static int
s_teardown (void **state)
{
    pp_testdb_drop (&s_url);
    return 0;
}

//  Verdicts collected in the order the callbacks ran.
typedef struct {
    int verdicts [4096];        //  verdict per check, by its tag
    int order [4096];           //  tags in callback order
    int done;                   //  callbacks so far
    int expected;               //  stop the loop at this many
    pp_dedupe_t *drained;       //  and, when set, once this has nothing pending
} s_log_t;

typedef struct {
    s_log_t *log;               //  shared log
    int tag;                    //  which check
} s_ticket_t;

static void
s_on_verdict (int verdict, void *arg)
{
    s_ticket_t *ticket = (s_ticket_t *) arg;
    ticket->log->verdicts [ticket->tag] = verdict;
    ticket->log->order [ticket->log->done++] = ticket->tag;
}

static int
s_on_poll (zloop_t *loop, int timer_id, void *arg)
{
    s_log_t *log = (s_log_t *) arg;
    if (log->done < log->expected)
        return 0;
    //  The last verdict may come before its end-of-pipeline markers
    return log->drained && pp_dedupe_pending (log->drained) > 0 ? 0 : -1;
}

static int
s_on_give_up (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

//  Run the loop until every expected callback ran (10 s at most).
static void
s_run (zloop_t *loop, s_log_t *log)
{
    int poll = zloop_timer (loop, 1, 0, s_on_poll, log);
    int give_up = zloop_timer (loop, 10000, 1, s_on_give_up, NULL);
    zloop_start (loop);
    zloop_timer_end (loop, poll);
    zloop_timer_end (loop, give_up);
}

static void
test_pp_dedupe_verdicts_in_order (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_dedupe_t *dedupe = pp_dedupe_new (s_url, loop);
    assert_non_null (dedupe);
    static s_log_t log;
    memset (&log, 0, sizeof log);
    static s_ticket_t tickets [300];
    //  100 new fingerprints, each sent twice more (duplicates), and one
    //  fingerprint of another vertical (not a duplicate of the first)
    for (int i = 0; i < 300; i++) {
        char fingerprint [32], lead [32];
        snprintf (fingerprint, sizeof fingerprint, "fp-%d", i % 100);
        snprintf (lead, sizeof lead, "lead-%d", i);
        tickets [i] = (s_ticket_t) {&log, i};
        assert_int_equal (pp_dedupe_check (dedupe, i == 250 ? "roofing" : "solar", fingerprint,
                                           lead, 30, s_on_verdict, &tickets [i]),
                          0);
    }
    assert_true (pp_dedupe_pending (dedupe) > 0);
    log.expected = 300;
    log.drained = dedupe;
    s_run (loop, &log);
    assert_int_equal (log.done, 300);
    for (int i = 0; i < 300; i++) {
        assert_int_equal (log.order [i], i);        //  in the order sent
        int expected = i < 100 || i == 250 ? 0 : 1;
        if (log.verdicts [i] != expected)
            fail_msg ("check %d: verdict %d, expected %d", i, log.verdicts [i], expected);
    }
    assert_int_equal (pp_dedupe_pending (dedupe), 0);
    pp_dedupe_destroy (&dedupe);
    zloop_destroy (&loop);
}

static void
test_pp_dedupe_window (void **state)
{
    //  An entry older than the window is taken over: not a duplicate
    pp_db_t *db = pp_db_new (s_url);
    assert_true (pp_db_ok (db));
    assert_int_equal (pp_db_script (db, "old entry",
                                    "INSERT INTO dedupe (vertical, fingerprint, lead_id, created_at)"
                                    " VALUES ('solar', 'old', 'x', now () - interval '40 days'),"
                                    " ('solar', 'young', 'y', now () - interval '10 days')"),
                      0);
    zloop_t *loop = zloop_new ();
    pp_dedupe_t *dedupe = pp_dedupe_new (s_url, loop);
    static s_log_t log;
    memset (&log, 0, sizeof log);
    s_ticket_t tickets [3] = {{&log, 0}, {&log, 1}, {&log, 2}};
    assert_int_equal (pp_dedupe_check (dedupe, "solar", "old", "l1", 30, s_on_verdict, &tickets [0]), 0);
    assert_int_equal (pp_dedupe_check (dedupe, "solar", "young", "l2", 30, s_on_verdict, &tickets [1]), 0);
    assert_int_equal (pp_dedupe_check (dedupe, "solar", "young", "l3", 7, s_on_verdict, &tickets [2]), 0);
    log.expected = 3;
    s_run (loop, &log);
    assert_int_equal (log.verdicts [0], 0);
    assert_int_equal (log.verdicts [1], 1);
    assert_int_equal (log.verdicts [2], 0);         //  a 7-day window: 10 days is old
    PGresult *result = pp_db_exec (db, "owner", "SELECT lead_id FROM dedupe WHERE fingerprint = 'old'",
                                   0, NULL);
    assert_non_null (result);
    assert_string_equal (PQgetvalue (result, 0, 0), "l1");
    PQclear (result);
    pp_dedupe_destroy (&dedupe);
    zloop_destroy (&loop);
    pp_db_destroy (&db);
}

static void
test_pp_dedupe_two_sessions_exact (void **state)
{
    //  Two sessions (as two validate instances) racing on the same
    //  fingerprints: each fingerprint is new exactly once
    zloop_t *loop = zloop_new ();
    pp_dedupe_t *a = pp_dedupe_new (s_url, loop);
    pp_dedupe_t *b = pp_dedupe_new (s_url, loop);
    assert_non_null (a);
    assert_non_null (b);
    static s_log_t log;
    memset (&log, 0, sizeof log);
    static s_ticket_t tickets [2000];
    for (int i = 0; i < 2000; i++) {
        char fingerprint [32], lead [32];
        snprintf (fingerprint, sizeof fingerprint, "race-%d", i / 2);
        snprintf (lead, sizeof lead, "race-lead-%d", i);
        tickets [i] = (s_ticket_t) {&log, i};
        assert_int_equal (pp_dedupe_check (i % 2 ? a : b, "solar", fingerprint, lead, 30,
                                           s_on_verdict, &tickets [i]),
                          0);
    }
    log.expected = 2000;
    s_run (loop, &log);
    assert_int_equal (log.done, 2000);
    for (int i = 0; i < 2000; i += 2) {
        int fresh = (log.verdicts [i] == 0) + (log.verdicts [i + 1] == 0);
        int duplicate = (log.verdicts [i] == 1) + (log.verdicts [i + 1] == 1);
        if (fresh != 1 || duplicate != 1)
            fail_msg ("fingerprint race-%d: verdicts %d and %d", i / 2, log.verdicts [i],
                      log.verdicts [i + 1]);
    }
    pp_dedupe_destroy (&a);
    pp_dedupe_destroy (&b);
    zloop_destroy (&loop);
}

static void
test_pp_dedupe_errors (void **state)
{
    //  No database: no session
    zloop_t *loop = zloop_new ();
    assert_null (pp_dedupe_new ("host=/nonexistent dbname=none connect_timeout=1", loop));
    //  A session whose backend is killed: checks in flight fail (-1), and
    //  it reconnects by itself
    //  Its session carries a name of its own, so that the kill below
    //  touches no other test's sessions in the same database
    char name [64];
    snprintf (name, sizeof name, "pp_dedupe_kill_%d", (int) getpid ());
    char *url = strstr (s_url, "://")
                  ? zsys_sprintf ("%s&application_name=%s", s_url, name)
                  : zsys_sprintf ("%s application_name=%s", s_url, name);
    pp_dedupe_t *dedupe = pp_dedupe_new (url, loop);
    assert_non_null (dedupe);
    pp_db_t *admin = pp_db_new (s_url);
    char *kill = zsys_sprintf ("SELECT pg_terminate_backend (pid) FROM pg_stat_activity"
                               " WHERE application_name = '%s'", name);
    int killed = pp_db_script (admin, "kill", kill);
    zstr_free (&kill);
    assert_int_equal (killed, 0);
    static s_log_t log;
    memset (&log, 0, sizeof log);
    s_ticket_t ticket = {&log, 0};
    int rc = pp_dedupe_check (dedupe, "solar", "after-kill", "k1", 30, s_on_verdict, &ticket);
    if (rc == 0) {
        log.expected = 1;
        s_run (loop, &log);
        assert_int_equal (log.done, 1);
        assert_int_equal (log.verdicts [0], -1);
        //  The error result and the lost connection arrive close together:
        //  the check is answered once, not once for each
        int stop = zloop_timer (loop, 300, 1, s_on_give_up, NULL);
        zloop_start (loop);
        zloop_timer_end (loop, stop);
        assert_int_equal (log.done, 1);
    }
    //  Within a few seconds the session is back and answers again
    int64_t until = zclock_mono () + 8000;
    int verdict = -2;
    while (zclock_mono () < until) {
        memset (&log, 0, sizeof log);
        ticket = (s_ticket_t) {&log, 0};
        if (pp_dedupe_check (dedupe, "solar", "after-kill-2", "k2", 30, s_on_verdict, &ticket)
            == 0) {
            log.expected = 1;
            s_run (loop, &log);
            verdict = log.verdicts [0];
            if (verdict == 0)
                break;
        }
        else {
            //  Reconnecting: let its timer run
            log.expected = 1;
            int stop = zloop_timer (loop, 200, 1, s_on_give_up, NULL);
            zloop_start (loop);
            zloop_timer_end (loop, stop);
        }
    }
    assert_int_equal (verdict, 0);
    pp_db_destroy (&admin);
    pp_dedupe_destroy (&dedupe);
    zloop_destroy (&loop);
    zstr_free (&url);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_dedupe_verdicts_in_order),
        cmocka_unit_test (test_pp_dedupe_window),
        cmocka_unit_test (test_pp_dedupe_two_sessions_exact),
        cmocka_unit_test (test_pp_dedupe_errors),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
