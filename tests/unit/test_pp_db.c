/*  test_pp_db - the PostgreSQL connection owner, against a real database  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Needs PINGPOST_TEST_DATABASE_URL (a libpq conninfo). Everything it makes
//  lives in temporary tables or uniquely named channels, so runs in parallel
//  against one database do not meet.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <poll.h>

#include "pp_db.h"
#include "pp_util.h"

static const char *s_conninfo;          //  from PINGPOST_TEST_DATABASE_URL

static int
s_setup (void **state)
{
    s_conninfo = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!s_conninfo || !*s_conninfo) {
        fprintf (stderr, "test_pp_db: set PINGPOST_TEST_DATABASE_URL to a libpq conninfo, "
                         "e.g. \"host=/tmp/ppdev/sock user=pingpost dbname=postgres\"\n");
        return -1;
    }
    return 0;
}

static pp_db_t *
s_connect (void)
{
    pp_db_t *db = pp_db_new (s_conninfo);
    assert_non_null (db);
    if (!pp_db_ok (db))
        fail_msg ("cannot connect to PINGPOST_TEST_DATABASE_URL");
    return db;
}

static void
test_pp_db_connect_failure (void **state)
{
    assert_null (pp_db_new (NULL));
    //  No server listens in this directory
    pp_db_t *db = pp_db_new ("host=/nonexistent/pp-test dbname=nothing connect_timeout=2");
    assert_non_null (db);
    assert_false (pp_db_ok (db));
    assert_non_null (pp_db_conn (db));
    assert_int_equal (pp_db_reset (db), -1);
    assert_false (pp_db_ok (db));
    //  Statements fail cleanly
    assert_null (pp_db_exec (db, "test", "SELECT 1", 0, NULL));
    assert_int_equal (pp_db_command (db, "test", "SELECT 1", 0, NULL), -1);
    assert_int_equal (pp_db_script (db, "test", "SELECT 1"), -1);
    pp_db_destroy (&db);
    assert_null (db);
    pp_db_destroy (&db);                //  safe on NULL

    //  A malformed conninfo too
    db = pp_db_new ("this is = not a conninfo '");
    assert_non_null (db);
    assert_false (pp_db_ok (db));
    pp_db_destroy (&db);
}

static void
test_pp_db_connect (void **state)
{
    pp_db_t *db = s_connect ();
    assert_true (pp_db_ok (db));
    assert_non_null (pp_db_conn (db));
    assert_int_equal (PQstatus (pp_db_conn (db)), CONNECTION_OK);
    assert_true (pp_db_socket (db) >= 0);
    assert_int_equal (pp_db_reset (db), 0);
    assert_true (pp_db_ok (db));
    pp_db_destroy (&db);
}

static void
test_pp_db_exec (void **state)
{
    pp_db_t *db = s_connect ();
    const char *params [] = {"2", "40", NULL, "it's; DROP TABLE x --"};
    PGresult *result = pp_db_exec (db, "test",
                                   "SELECT $1::int + $2::int, $3::text IS NULL, $4::text, "
                                   "length ($4::text)",
                                   4, params);
    assert_non_null (result);
    assert_int_equal (PQresultStatus (result), PGRES_TUPLES_OK);
    assert_int_equal (PQntuples (result), 1);
    assert_string_equal (PQgetvalue (result, 0, 0), "42");
    assert_string_equal (PQgetvalue (result, 0, 1), "t");
    assert_string_equal (PQgetvalue (result, 0, 2), "it's; DROP TABLE x --");
    assert_string_equal (PQgetvalue (result, 0, 3), "21");
    PQclear (result);

    //  Without parameters; a command gives COMMAND_OK
    result = pp_db_exec (db, NULL, "CREATE TEMP TABLE t_exec (id int PRIMARY KEY, name text)",
                         0, NULL);
    assert_non_null (result);
    assert_int_equal (PQresultStatus (result), PGRES_COMMAND_OK);
    PQclear (result);
    const char *row [] = {"1", "one"};
    assert_int_equal (
        pp_db_command (db, "insert", "INSERT INTO t_exec VALUES ($1, $2)", 2, row), 0);
    //  Failures: NULL / -1, and the connection stays usable
    assert_int_equal (
        pp_db_command (db, "insert", "INSERT INTO t_exec VALUES ($1, $2)", 2, row), -1);
    assert_null (pp_db_exec (db, "test", "SELECT * FROM pp_no_such_table", 0, NULL));
    assert_null (pp_db_exec (db, NULL, "SELEKT 1", 0, NULL));
    const char *bad [] = {"not a number"};
    assert_null (pp_db_exec (db, "test", "SELECT $1::int", 1, bad));
    assert_true (pp_db_ok (db));
    result = pp_db_exec (db, "test", "SELECT count(*) FROM t_exec", 0, NULL);
    assert_non_null (result);
    assert_string_equal (PQgetvalue (result, 0, 0), "1");
    PQclear (result);
    pp_db_destroy (&db);
}

//  The backend `pid` (text) has left pg_stat_activity or gone idle within
//  `ms`: true.
static bool
s_backend_settles (pp_db_t *db, const char *pid, int ms)
{
    int64_t deadline = pp_mono_us () + (int64_t) ms * 1000;
    while (true) {
        const char *params [] = {pid};
        PGresult *result = pp_db_exec (db, "activity",
                                       "SELECT count(*) FROM pg_stat_activity"
                                       " WHERE pid = $1::int AND state = 'active'",
                                       1, params);
        assert_non_null (result);
        bool settled = streq (PQgetvalue (result, 0, 0), "0");
        PQclear (result);
        if (settled)
            return true;
        if (pp_mono_us () >= deadline)
            return false;
        zclock_sleep (50);
    }
}

//  A bounded session (pp_db_set_timeout): statements within the bound
//  work as before and a server error keeps the session; a statement that
//  outlasts it fails in about that time, closes the session and is
//  cancelled on the server (its backend stops running it long before it
//  would end), and pp_db_reset makes a new session, prepared statements
//  included.
static void
test_pp_db_timeout (void **state)
{
    pp_db_t *db = s_connect ();
    pp_db_t *watcher = s_connect ();
    pp_db_set_timeout (db, 300);
    PGresult *result = pp_db_exec (db, "quick", "SELECT 41 + 1", 0, NULL);
    assert_non_null (result);
    assert_string_equal (PQgetvalue (result, 0, 0), "42");
    PQclear (result);
    assert_null (pp_db_exec (db, "error", "SELECT * FROM pp_no_such_table", 0, NULL));
    assert_true (pp_db_ok (db));

    result = pp_db_exec (db, "pid", "SELECT pg_backend_pid ()", 0, NULL);
    assert_non_null (result);
    char pid [16];
    snprintf (pid, sizeof pid, "%s", PQgetvalue (result, 0, 0));
    PQclear (result);
    int64_t started = pp_mono_us ();
    assert_null (pp_db_exec (db, "slow", "SELECT pg_sleep (5)", 0, NULL));
    int64_t took_ms = (pp_mono_us () - started) / 1000;
    assert_true (took_ms >= 250);
    assert_true (took_ms < 1500);
    assert_false (pp_db_ok (db));
    assert_null (pp_db_conn (db));
    assert_int_equal (pp_db_command (db, "closed", "SELECT 1", 0, NULL), -1);
    assert_null (pp_db_exec_prepared (db, "closed", "nothing", 0, NULL));
    //  Cancelled: its 5 s sleep does not run on
    assert_true (s_backend_settles (watcher, pid, 2000));

    assert_int_equal (pp_db_reset (db), 0);
    assert_true (pp_db_ok (db));
    assert_int_equal (pp_db_prepare (db, "t_sleep", "SELECT pg_sleep ($1::float8)", 1), 0);
    const char *none [] = {"0"};
    result = pp_db_exec_prepared (db, "sleep 0", "t_sleep", 1, none);
    assert_non_null (result);
    PQclear (result);
    const char *long_sleep [] = {"3"};
    started = pp_mono_us ();
    assert_null (pp_db_exec_prepared (db, "sleep 3", "t_sleep", 1, long_sleep));
    assert_true ((pp_mono_us () - started) / 1000 < 1500);
    assert_false (pp_db_ok (db));
    //  A new session prepares its statements again
    assert_int_equal (pp_db_reset (db), 0);
    result = pp_db_exec_prepared (db, "sleep 0 again", "t_sleep", 1, none);
    assert_non_null (result);
    PQclear (result);
    pp_db_destroy (&db);
    pp_db_destroy (&watcher);
}

static void
test_pp_db_script (void **state)
{
    pp_db_t *db = s_connect ();
    assert_int_equal (pp_db_script (db, "script",
                                     "CREATE TEMP TABLE t_script (x int);\n"
                                     "INSERT INTO t_script VALUES (1), (2);\n"
                                     "INSERT INTO t_script VALUES (3);\n"),
                      0);
    PGresult *result = pp_db_exec (db, "test", "SELECT sum(x) FROM t_script", 0, NULL);
    assert_non_null (result);
    assert_string_equal (PQgetvalue (result, 0, 0), "6");
    PQclear (result);
    //  A failing statement fails the script; what ran in it is rolled back
    assert_int_equal (pp_db_script (db, "script",
                                    "INSERT INTO t_script VALUES (10);\n"
                                    "INSERT INTO t_script VALUES ('x');\n"),
                      -1);
    result = pp_db_exec (db, "test", "SELECT sum(x) FROM t_script", 0, NULL);
    assert_non_null (result);
    assert_string_equal (PQgetvalue (result, 0, 0), "6");
    PQclear (result);
    pp_db_destroy (&db);
}

static void
test_pp_db_copy_escape (void **state)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    pp_db_copy_escape (&buf, &len, &cap, "plain");
    assert_string_equal (buf, "plain");
    assert_int_equal (len, 5);
    pp_db_copy_escape (&buf, &len, &cap, NULL);
    assert_string_equal (buf, "plain\\N");
    pp_db_copy_escape (&buf, &len, &cap, "a\\b\tc\nd\re");
    assert_string_equal (buf, "plain\\Na\\\\b\\tc\\nd\\re");
    assert_int_equal (len, strlen (buf));
    assert_true (cap > len);
    free (buf);

    //  Growth past the first block
    buf = NULL;
    len = cap = 0;
    char *big = (char *) malloc (10001);
    assert_non_null (big);
    memset (big, '\t', 10000);
    big [10000] = 0;
    pp_db_copy_escape (&buf, &len, &cap, big);
    assert_int_equal (len, 20000);
    for (size_t i = 0; i < len; i += 2)
        assert_true (buf [i] == '\\' && buf [i + 1] == 't');
    free (big);
    free (buf);
}

//  Append one byte as is to a pp_db_copy_escape buffer.
static void
s_append_raw (char **buf, size_t *len, size_t *cap, char c)
{
    if (*len + 2 > *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *buf = (char *) realloc (*buf, *cap);
        assert_non_null (*buf);
    }
    (*buf) [(*len)++] = c;
    (*buf) [*len] = 0;
}

static void
test_pp_db_copy (void **state)
{
    pp_db_t *db = s_connect ();
    assert_int_equal (
        pp_db_command (db, "test", "CREATE TEMP TABLE t_copy (id int, txt text)", 0, NULL), 0);
    const char *values [] = {
        "plain",
        "back\\slash and \\N and \\.",
        "tab\there",
        "new\nline",
        NULL,
        "",
        "carriage\rreturn",
        "unicode: h\xc3\xa9llo \xe2\x80\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82",
        "\\.",
        "all\\\t\n\r\\",
    };
    size_t count = sizeof values / sizeof values [0];
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (size_t i = 0; i < count; i++) {
        char id [16];
        snprintf (id, sizeof id, "%zu", i);
        pp_db_copy_escape (&buf, &len, &cap, id);
        s_append_raw (&buf, &len, &cap, '\t');        //  the delimiter is not escaped
        pp_db_copy_escape (&buf, &len, &cap, values [i]);
        s_append_raw (&buf, &len, &cap, '\n');        //  nor the end of the row
    }
    assert_int_equal (pp_db_copy_begin (db, "COPY t_copy (id, txt) FROM STDIN"), 0);
    //  In two pieces, split mid-row
    assert_int_equal (pp_db_copy_put (db, buf, len / 2), 0);
    assert_int_equal (pp_db_copy_put (db, buf + len / 2, len - len / 2), 0);
    assert_int_equal (pp_db_copy_end (db), 0);
    free (buf);

    PGresult *result = pp_db_exec (db, "test", "SELECT id, txt FROM t_copy ORDER BY id", 0, NULL);
    assert_non_null (result);
    assert_int_equal (PQntuples (result), (int) count);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal (atoi (PQgetvalue (result, (int) i, 0)), (int) i);
        if (values [i] == NULL)
            assert_true (PQgetisnull (result, (int) i, 1));
        else {
            assert_false (PQgetisnull (result, (int) i, 1));
            assert_string_equal (PQgetvalue (result, (int) i, 1), values [i]);
        }
    }
    PQclear (result);

    //  Bad data fails at the end, and the connection stays usable
    assert_int_equal (pp_db_copy_begin (db, "COPY t_copy (id, txt) FROM STDIN"), 0);
    const char *bad_row = "not-a-number\tx\n";
    assert_int_equal (pp_db_copy_put (db, bad_row, strlen (bad_row)), 0);
    assert_int_equal (pp_db_copy_end (db), -1);
    //  A COPY that cannot start
    assert_int_equal (pp_db_copy_begin (db, "COPY pp_no_such_table FROM STDIN"), -1);
    assert_int_equal (pp_db_copy_begin (db, "SELECT 1"), -1);
    result = pp_db_exec (db, "test", "SELECT count(*) FROM t_copy", 0, NULL);
    assert_non_null (result);
    assert_int_equal (atoi (PQgetvalue (result, 0, 0)), (int) count);
    PQclear (result);
    pp_db_destroy (&db);
}

//  Wait up to timeout_ms for notifications to add up to `want`.
static int
s_wait_notifications (pp_db_t *db, int want, int timeout_ms)
{
    int seen = 0;
    int64_t deadline = pp_mono_us () + (int64_t) timeout_ms * 1000;
    while (seen < want && pp_mono_us () < deadline) {
        struct pollfd item = {pp_db_socket (db), POLLIN, 0};
        poll (&item, 1, 50);
        int count = pp_db_notifications (db);
        assert_true (count >= 0);
        seen += count;
    }
    return seen;
}

static void
test_pp_db_listen_notify (void **state)
{
    pp_db_t *listener = s_connect ();
    pp_db_t *sender = s_connect ();
    char id [27];
    pp_id_new (id);
    char *channel = zsys_sprintf ("pp_test_%s", id);      //  upper case kept by quoting

    int fd = pp_db_listen (listener, channel);
    assert_true (fd >= 0);
    assert_int_equal (fd, pp_db_socket (listener));
    assert_int_equal (pp_db_notifications (listener), 0);

    const char *params [] = {channel, "one"};
    assert_int_equal (
        pp_db_command (sender, "notify", "SELECT pg_notify ($1, $2)", 2, params), 0);
    assert_int_equal (s_wait_notifications (listener, 1, 5000), 1);
    assert_int_equal (pp_db_notifications (listener), 0);   //  consumed

    //  Several, in separate transactions
    for (int i = 0; i < 3; i++) {
        char payload [16];
        snprintf (payload, sizeof payload, "n%d", i);
        const char *more [] = {channel, payload};
        assert_int_equal (
            pp_db_command (sender, "notify", "SELECT pg_notify ($1, $2)", 2, more), 0);
    }
    assert_int_equal (s_wait_notifications (listener, 3, 5000), 3);

    //  Another channel is not heard
    char *other = zsys_sprintf ("pp_other_%s", id);
    const char *elsewhere [] = {other, "x"};
    assert_int_equal (
        pp_db_command (sender, "notify", "SELECT pg_notify ($1, $2)", 2, elsewhere), 0);
    assert_int_equal (s_wait_notifications (listener, 1, 300), 0);

    zstr_free (&other);
    zstr_free (&channel);
    pp_db_destroy (&sender);
    pp_db_destroy (&listener);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_db_connect_failure),
        cmocka_unit_test (test_pp_db_connect),
        cmocka_unit_test (test_pp_db_exec),
        cmocka_unit_test (test_pp_db_timeout),
        cmocka_unit_test (test_pp_db_script),
        cmocka_unit_test (test_pp_db_copy_escape),
        cmocka_unit_test (test_pp_db_copy),
        cmocka_unit_test (test_pp_db_listen_notify),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
