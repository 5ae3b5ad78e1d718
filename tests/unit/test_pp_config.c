/*  test_pp_config - the fleet configuration and the common command line  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>

#include "pp_config.h"

static char s_dir [] = "/tmp/pp_config_test_XXXXXX";   //  scratch files

static void
s_clear_env (void)
{
    unsetenv ("PINGPOST_VAR_DIR");
    unsetenv ("PINGPOST_DATABASE_URL");
    unsetenv ("PINGPOST_HTTP_PORT");
}

static int
s_setup (void **state)
{
    if (!mkdtemp (s_dir))
        return -1;
    s_clear_env ();
    return 0;
}

static int
s_teardown (void **state)
{
    zdir_t *dir = zdir_new (s_dir, NULL);
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
    s_clear_env ();
    return 0;
}

//  Write text to <scratch>/name; returns the path (freed by caller).
static char *
s_write (const char *name, const char *text)
{
    char *path = zsys_sprintf ("%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    return path;
}

//  Run pp_opts_parse in a child; its exit status, or -1 when it returned.
static int
s_opts_exit_status (int argc, char *argv [])
{
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int null = open ("/dev/null", O_WRONLY);
        dup2 (null, STDOUT_FILENO);
        dup2 (null, STDERR_FILENO);
        pp_opts_parse (argc, argv, "test");
        _exit (200);                    //  it returned
    }
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status) == 200 ? -1 : WEXITSTATUS (status);
}

//  --------------------------------------------------------------------------
//  Options (first: the children must fork before czmq starts any threads)

static void
test_pp_config_opts_exit (void **state)
{
    char *help [] = {"prog", "-h", NULL};
    assert_int_equal (s_opts_exit_status (2, help), 0);
    char *bad_slot [] = {"prog", "-s", "64", NULL};
    assert_int_equal (s_opts_exit_status (3, bad_slot), 64);
    char *negative_slot [] = {"prog", "-s", "-1", NULL};
    assert_int_equal (s_opts_exit_status (3, negative_slot), 64);
    char *junk_slot [] = {"prog", "-s", "3x", NULL};
    assert_int_equal (s_opts_exit_status (3, junk_slot), 64);
    char *unknown [] = {"prog", "-x", NULL};
    assert_int_equal (s_opts_exit_status (2, unknown), 64);
    char *missing [] = {"prog", "-c", NULL};
    assert_int_equal (s_opts_exit_status (2, missing), 64);
    char *extra [] = {"prog", "-v", "extra", NULL};
    assert_int_equal (s_opts_exit_status (3, extra), 64);
    char *fine [] = {"prog", "-s", "63", NULL};
    assert_int_equal (s_opts_exit_status (3, fine), -1);
}

static void
test_pp_config_opts_parse (void **state)
{
    char *none [] = {"prog", NULL};
    pp_opts_t opts = pp_opts_parse (1, none, "test");
    assert_string_equal (opts.config_file, "./var/etc/pingpost.cfg");
    assert_int_equal (opts.slot, 0);
    assert_false (opts.verbose);

    char *all [] = {"prog", "-c", "/etc/x.cfg", "-s", "3", "-v", NULL};
    opts = pp_opts_parse (6, all, "test");
    assert_string_equal (opts.config_file, "/etc/x.cfg");
    assert_ptr_equal (opts.config_file, all [2]);    //  borrowed from argv
    assert_int_equal (opts.slot, 3);
    assert_true (opts.verbose);

    //  A second parse starts over; clustered options work
    char *cluster [] = {"prog", "-vs7", NULL};
    opts = pp_opts_parse (2, cluster, "test");
    assert_string_equal (opts.config_file, "./var/etc/pingpost.cfg");
    assert_int_equal (opts.slot, 7);
    assert_true (opts.verbose);
}

//  --------------------------------------------------------------------------
//  Config

static void
s_assert_defaults (pp_config_t *config)
{
    assert_non_null (config->var_dir);
    assert_int_equal (config->var_dir [0], '/');
    assert_string_equal (config->http_address, "127.0.0.1");
    assert_int_equal (config->http_port, 8080);
    assert_int_equal (config->http_threads, 1);
    assert_int_equal (config->body_limit, 1024 * 1024);
    assert_int_equal (config->hwm, 10000);
    assert_int_equal (config->outbox_limit, 200000);
    assert_int_equal (config->outbox_resend_ms, 2000);
    assert_int_equal (config->ledger_batch, 1000);
    assert_int_equal (config->ledger_flush_ms, 10);
    assert_int_equal (config->ledger_careful_ms, 5000);
    assert_int_equal (config->ledger_direct, 1);
    assert_int_equal (config->default_timeout_ms, 3000);
    assert_int_equal (config->idempotency_purge_ms, 60000);
    assert_int_equal (config->intake_db_timeout_ms, 1000);
    assert_int_equal (config->mx_check, 0);          //  off by default
    assert_int_equal (config->mx_timeout_ms, 200);
    assert_null (config->mx_nameserver);
    assert_null (config->email_roles);
    for (int k = 0; k < PP_SLOT_KINDS; k++) {
        assert_int_equal (config->slots [k], k == PP_SLOT_LEDGER ? 1 : 4);
        assert_null (config->endpoint_base [k]);
    }
}

static void
test_pp_config_defaults (void **state)
{
    s_clear_env ();
    pp_config_t *config = pp_config_new ();
    assert_non_null (config);
    s_assert_defaults (config);
    size_t length = strlen (config->var_dir);
    assert_true (length >= 4);
    assert_string_equal (config->var_dir + length - 4, "/var");
    pp_config_destroy (&config);
    assert_null (config);
    pp_config_destroy (&config);        //  safe on NULL

    //  No file, allowed: defaults plus the embedded database
    config = pp_config_load (NULL, true);
    assert_non_null (config);
    s_assert_defaults (config);
    char *expected = pp_config_default_database_url (config->var_dir);
    assert_string_equal (config->database_url, expected);
    zstr_free (&expected);
    pp_config_destroy (&config);

    char *missing = zsys_sprintf ("%s/no-such.cfg", s_dir);
    config = pp_config_load (missing, true);
    assert_non_null (config);
    s_assert_defaults (config);
    pp_config_destroy (&config);
    //  not allowed
    assert_null (pp_config_load (missing, false));
    assert_null (pp_config_load (NULL, false));
    zstr_free (&missing);

    //  PINGPOST_VAR_DIR moves the var dir, and the embedded database with it
    setenv ("PINGPOST_VAR_DIR", "/tmp/pp-env-var", 1);
    config = pp_config_load (NULL, true);
    assert_non_null (config);
    assert_string_equal (config->var_dir, "/tmp/pp-env-var");
    assert_string_equal (config->database_url,
                         "host=/tmp/pp-env-var/pg/sock dbname=pingpost user=pingpost");
    pp_config_destroy (&config);
    s_clear_env ();
}

static const char *s_full_file =
    "#   every key, none at its default\n"
    "pingpost\n"
    "    var_dir = \"/tmp/pp-full\"\n"
    "    database_url = \"host=/tmp/pp-full/pg dbname=full user=someone\"\n"
    "    http\n"
    "        address = \"0.0.0.0\"\n"
    "        port = 9090\n"
    "        threads = 3\n"
    "        body_limit = 2048\n"
    "    slots\n"
    "        intake = 2\n"
    "        validate = 3\n"
    "        filter = 5\n"
    "        auction = 6\n"
    "        deliver = 7\n"
    "        ledger = 2\n"
    "    endpoints\n"
    "        intake = \"tcp://10.0.0.4:5600\"\n"
    "        validate = \"tcp://10.0.0.5:5610\"\n"
    "        filter = \"tcp://10.0.0.6:5620\"\n"
    "        auction = \"tcp://10.0.0.7:5630\"\n"
    "        deliver = \"ipc:///tmp/pp-full/deliver\"\n"
    "        ledger = \"tcp://10.0.0.8:5650\"\n"
    "    pipeline\n"
    "        hwm = 500\n"
    "        default_timeout_ms = 1500\n"
    "    intake\n"
    "        idempotency_purge_ms = 250\n"
    "        db_timeout_ms = 400\n"
    "    outbox\n"
    "        limit = 1000\n"
    "        resend_ms = 700\n"
    "    ledger\n"
    "        batch = 50\n"
    "        flush_ms = 5\n"
    "        careful_ms = 0\n"
    "        direct = 0\n"
    "    validate\n"
    "        mx_check = 1\n"
    "        mx_timeout_ms = 150\n"
    "        mx_nameserver = \"127.0.0.1:5353\"\n"
    "        email_roles = \"info,sales\"\n";

static void
test_pp_config_full_file (void **state)
{
    s_clear_env ();
    char *path = s_write ("full.cfg", s_full_file);
    pp_config_t *config = pp_config_load (path, false);
    assert_non_null (config);
    assert_string_equal (config->var_dir, "/tmp/pp-full");
    assert_string_equal (config->database_url, "host=/tmp/pp-full/pg dbname=full user=someone");
    assert_string_equal (config->http_address, "0.0.0.0");
    assert_int_equal (config->http_port, 9090);
    assert_int_equal (config->http_threads, 3);
    assert_int_equal (config->body_limit, 2048);
    assert_int_equal (config->slots [PP_SLOT_INTAKE], 2);
    assert_int_equal (config->slots [PP_SLOT_VALIDATE], 3);
    assert_int_equal (config->slots [PP_SLOT_FILTER], 5);
    assert_int_equal (config->slots [PP_SLOT_AUCTION], 6);
    assert_int_equal (config->slots [PP_SLOT_DELIVER], 7);
    assert_int_equal (config->slots [PP_SLOT_LEDGER], 2);
    assert_string_equal (config->endpoint_base [PP_SLOT_INTAKE], "tcp://10.0.0.4:5600");
    assert_string_equal (config->endpoint_base [PP_SLOT_VALIDATE], "tcp://10.0.0.5:5610");
    assert_string_equal (config->endpoint_base [PP_SLOT_FILTER], "tcp://10.0.0.6:5620");
    assert_string_equal (config->endpoint_base [PP_SLOT_AUCTION], "tcp://10.0.0.7:5630");
    assert_string_equal (config->endpoint_base [PP_SLOT_DELIVER], "ipc:///tmp/pp-full/deliver");
    assert_string_equal (config->endpoint_base [PP_SLOT_LEDGER], "tcp://10.0.0.8:5650");
    assert_int_equal (config->hwm, 500);
    assert_int_equal (config->default_timeout_ms, 1500);
    assert_int_equal (config->idempotency_purge_ms, 250);
    assert_int_equal (config->intake_db_timeout_ms, 400);
    assert_int_equal (config->outbox_limit, 1000);
    assert_int_equal (config->outbox_resend_ms, 700);
    assert_int_equal (config->ledger_batch, 50);
    assert_int_equal (config->ledger_flush_ms, 5);
    assert_int_equal (config->ledger_careful_ms, 0);
    assert_int_equal (config->ledger_direct, 0);
    assert_int_equal (config->mx_check, 1);
    assert_int_equal (config->mx_timeout_ms, 150);
    assert_string_equal (config->mx_nameserver, "127.0.0.1:5353");
    assert_string_equal (config->email_roles, "info,sales");
    pp_config_destroy (&config);
    zstr_free (&path);

    //  A relative var dir is made absolute
    path = s_write ("relative.cfg", "pingpost\n    var_dir = \"some/relative/var\"\n");
    config = pp_config_load (path, false);
    assert_non_null (config);
    assert_int_equal (config->var_dir [0], '/');
    const char *tail = "/some/relative/var";
    size_t length = strlen (config->var_dir);
    assert_true (length > strlen (tail));
    assert_string_equal (config->var_dir + length - strlen (tail), tail);
    pp_config_destroy (&config);
    zstr_free (&path);
}

static void
test_pp_config_bad_files (void **state)
{
    s_clear_env ();
    const char *bad [] = {
        "pingpost\n    bogus = 1\n",                            //  unknown key
        "pingpost\n    http\n        prot = 8080\n",            //  typo in a section
        "pingpost\n    nosuch\n        key = 1\n",              //  unknown section
        "other\n    key = 1\n",                                 //  unknown root
        "pingpost\n    http\n        port = 70000\n",           //  out of range
        "pingpost\n    http\n        port = 0\n",
        "pingpost\n    http\n        port = 80x\n",             //  not a number
        "pingpost\n    http\n        port = \"\"\n",            //  empty
        "pingpost\n    http\n        threads = 65\n",
        "pingpost\n    http\n        body_limit = 100\n",
        "pingpost\n    slots\n        validate = 0\n",
        "pingpost\n    slots\n        ledger = 65\n",
        "pingpost\n    pipeline\n        hwm = 99999999999999999999\n",
        "pingpost\n    ledger\n        flush_ms = -1\n",
        "pingpost\n    ledger\n        careful_ms = -1\n",
        "pingpost\n    ledger\n        direct = 2\n",
        "pingpost\n    outbox\n        limit = 5\n",
        "pingpost\n    intake\n        idempotency_purge_ms = 99\n",
        "pingpost\n    intake\n        idempotency_purge_ms = 3600001\n",
        "pingpost\n    intake\n        db_timeout_ms = 49\n",
        "pingpost\n    intake\n        db_timeout_ms = 600001\n",
        "pingpost\n    intake\n        idempotency_ttl = 5\n",     //  unknown key
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char *path = s_write ("bad.cfg", bad [i]);
        pp_config_t *config = pp_config_load (path, false);
        if (config) {
            pp_config_destroy (&config);
            fail_msg ("accepted:\n%s", bad [i]);
        }
        zstr_free (&path);
    }
    //  The edges of a range are fine
    char *path = s_write ("edges.cfg", "pingpost\n    http\n        port = 65535\n"
                                       "        threads = 64\n    slots\n        ledger = 64\n"
                                       "    intake\n        idempotency_purge_ms = 100\n");
    pp_config_t *config = pp_config_load (path, false);
    assert_non_null (config);
    assert_int_equal (config->http_port, 65535);
    assert_int_equal (config->http_threads, 64);
    assert_int_equal (config->slots [PP_SLOT_LEDGER], 64);
    assert_int_equal (config->idempotency_purge_ms, 100);
    pp_config_destroy (&config);
    zstr_free (&path);
    path = s_write ("edges.cfg", "pingpost\n    intake\n        idempotency_purge_ms = 3600000\n");
    config = pp_config_load (path, false);
    assert_non_null (config);
    assert_int_equal (config->idempotency_purge_ms, 3600000);
    pp_config_destroy (&config);
    zstr_free (&path);
}

static void
test_pp_config_env_override (void **state)
{
    s_clear_env ();
    char *path = s_write ("env.cfg", s_full_file);
    setenv ("PINGPOST_HTTP_PORT", "9999", 1);
    setenv ("PINGPOST_DATABASE_URL", "host=/elsewhere dbname=fromenv", 1);
    pp_config_t *config = pp_config_load (path, false);
    assert_non_null (config);
    assert_int_equal (config->http_port, 9999);
    assert_string_equal (config->database_url, "host=/elsewhere dbname=fromenv");
    assert_int_equal (config->http_threads, 3);         //  the rest from the file
    pp_config_destroy (&config);

    //  Empty variables do not count
    setenv ("PINGPOST_HTTP_PORT", "", 1);
    setenv ("PINGPOST_DATABASE_URL", "", 1);
    config = pp_config_load (path, false);
    assert_non_null (config);
    assert_int_equal (config->http_port, 9090);
    assert_string_equal (config->database_url, "host=/tmp/pp-full/pg dbname=full user=someone");
    pp_config_destroy (&config);

    //  A bad port is an error
    const char *bad_ports [] = {"0", "65536", "abc", "-1", "80x", "80 80"};
    for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports [0]; i++) {
        setenv ("PINGPOST_HTTP_PORT", bad_ports [i], 1);
        config = pp_config_load (path, false);
        if (config) {
            pp_config_destroy (&config);
            fail_msg ("PINGPOST_HTTP_PORT '%s' accepted", bad_ports [i]);
        }
    }
    s_clear_env ();
    zstr_free (&path);
}

static void
test_pp_config_endpoints (void **state)
{
    s_clear_env ();
    char *path = s_write ("endpoints.cfg", "pingpost\n    var_dir = \"/tmp/pp-ep\"\n"
                                           "    endpoints\n"
                                           "        auction = \"tcp://10.0.0.7:5630\"\n"
                                           "        deliver = \"ipc:///tmp/pp-ep/custom\"\n");
    pp_config_t *config = pp_config_load (path, false);
    assert_non_null (config);
    char *endpoint = pp_config_endpoint (config, PP_SLOT_VALIDATE, 0);
    assert_string_equal (endpoint, "ipc:///tmp/pp-ep/run/validate-0");
    zstr_free (&endpoint);
    endpoint = pp_config_endpoint (config, PP_SLOT_FILTER, 63);
    assert_string_equal (endpoint, "ipc:///tmp/pp-ep/run/filter-63");
    zstr_free (&endpoint);
    endpoint = pp_config_endpoint (config, PP_SLOT_INTAKE, 2);
    assert_string_equal (endpoint, "ipc:///tmp/pp-ep/run/reply-2");
    zstr_free (&endpoint);
    endpoint = pp_config_endpoint (config, PP_SLOT_LEDGER, 0);
    assert_string_equal (endpoint, "ipc:///tmp/pp-ep/run/ledger-0");
    zstr_free (&endpoint);
    //  tcp: slot n on port + n
    endpoint = pp_config_endpoint (config, PP_SLOT_AUCTION, 0);
    assert_string_equal (endpoint, "tcp://10.0.0.7:5630");
    zstr_free (&endpoint);
    endpoint = pp_config_endpoint (config, PP_SLOT_AUCTION, 5);
    assert_string_equal (endpoint, "tcp://10.0.0.7:5635");
    zstr_free (&endpoint);
    //  another base: -n appended
    endpoint = pp_config_endpoint (config, PP_SLOT_DELIVER, 1);
    assert_string_equal (endpoint, "ipc:///tmp/pp-ep/custom-1");
    zstr_free (&endpoint);
    pp_config_destroy (&config);
    zstr_free (&path);

    assert_string_equal (pp_slot_kind_name (PP_SLOT_INTAKE), "intake");
    assert_string_equal (pp_slot_kind_name (PP_SLOT_VALIDATE), "validate");
    assert_string_equal (pp_slot_kind_name (PP_SLOT_FILTER), "filter");
    assert_string_equal (pp_slot_kind_name (PP_SLOT_AUCTION), "auction");
    assert_string_equal (pp_slot_kind_name (PP_SLOT_DELIVER), "deliver");
    assert_string_equal (pp_slot_kind_name (PP_SLOT_LEDGER), "ledger");
    assert_string_equal (pp_slot_kind_name (PP_SLOT_KINDS), "unknown");

    char *url = pp_config_default_database_url ("/srv/pp/var");
    assert_string_equal (url, "host=/srv/pp/var/pg/sock dbname=pingpost user=pingpost");
    zstr_free (&url);
}

static void
test_pp_config_long_var_dir (void **state)
{
    s_clear_env ();
    //  ipc paths must fit sun_path: a var dir this long cannot
    char long_dir [160];
    snprintf (long_dir, sizeof long_dir, "/tmp/%0120d", 7);
    char *text = zsys_sprintf ("pingpost\n    var_dir = \"%s\"\n", long_dir);
    char *path = s_write ("long.cfg", text);
    assert_null (pp_config_load (path, false));
    zstr_free (&text);
    zstr_free (&path);
    setenv ("PINGPOST_VAR_DIR", long_dir, 1);
    assert_null (pp_config_load (NULL, true));
    s_clear_env ();

    //  Every stage is checked: tcp for validate alone does not help
    text = zsys_sprintf ("pingpost\n    var_dir = \"%s\"\n    endpoints\n"
                         "        validate = \"tcp://127.0.0.1:5610\"\n",
                         long_dir);
    path = s_write ("long-tcp.cfg", text);
    assert_null (pp_config_load (path, false));
    zstr_free (&text);
    zstr_free (&path);
    //  tcp for all of them does
    text = zsys_sprintf ("pingpost\n    var_dir = \"%s\"\n    endpoints\n"
                         "        intake = \"tcp://127.0.0.1:5600\"\n"
                         "        validate = \"tcp://127.0.0.1:5610\"\n"
                         "        filter = \"tcp://127.0.0.1:5620\"\n"
                         "        auction = \"tcp://127.0.0.1:5630\"\n"
                         "        deliver = \"tcp://127.0.0.1:5640\"\n"
                         "        ledger = \"tcp://127.0.0.1:5650\"\n",
                         long_dir);
    path = s_write ("all-tcp.cfg", text);
    pp_config_t *config = pp_config_load (path, false);
    assert_non_null (config);
    assert_string_equal (config->var_dir, long_dir);
    pp_config_destroy (&config);
    zstr_free (&text);
    zstr_free (&path);

    //  A var dir that just fits is fine
    text = zsys_sprintf ("pingpost\n    var_dir = \"/tmp/%060d\"\n", 7);
    path = s_write ("fits.cfg", text);
    config = pp_config_load (path, false);
    assert_non_null (config);
    pp_config_destroy (&config);
    zstr_free (&text);
    zstr_free (&path);
}

//  A socket connected to every declared slot: immediate (messages only to a
//  live instance, here slot 1 of 3), and absent slots retried with back-off.
static void
test_pp_config_connect_slots (void **state)
{
    char var_dir [] = "/tmp/ppcs-XXXXXX";
    assert_non_null (mkdtemp (var_dir));
    assert_int_equal (zsys_dir_create ("%s/run", var_dir), 0);
    pp_config_t *config = pp_config_new ();
    assert_non_null (config);
    free (config->var_dir);
    config->var_dir = strdup (var_dir);
    config->slots [PP_SLOT_FILTER] = 3;

    zsock_t *live = zsock_new (ZMQ_PULL);
    assert_non_null (live);
    char *endpoint = pp_config_endpoint (config, PP_SLOT_FILTER, 1);
    assert_int_equal (zsock_bind (live, "%s", endpoint), 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert_non_null (push);
    zsock_set_linger (push, 0);
    assert_int_equal (pp_config_connect_slots (config, push, PP_SLOT_FILTER, "test"), 3);
    assert_int_equal (zsock_immediate (push), 1);
    assert_int_equal (zsock_reconnect_ivl_max (push), PP_RECONNECT_MAX_MS);
    //  Every message reaches the live slot: none is queued for absent ones
    zsock_set_rcvtimeo (live, 2000);
    for (int n = 0; n < 10; n++) {
        assert_int_equal (zstr_sendf (push, "m%d", n), 0);
        char *message = zstr_recv (live);
        assert_non_null (message);
        char expected [8];
        snprintf (expected, sizeof expected, "m%d", n);
        assert_string_equal (message, expected);
        zstr_free (&message);
    }
    //  An endpoint that cannot be connected is counted out, not fatal
    zsock_t *bad = zsock_new (ZMQ_PUSH);
    assert_non_null (bad);
    config->endpoint_base [PP_SLOT_AUCTION] = strdup ("nonsense://x");
    assert_int_equal (pp_config_connect_slots (config, bad, PP_SLOT_AUCTION, "test"), 0);
    zsock_destroy (&bad);

    zsock_destroy (&push);
    zsock_destroy (&live);
    unlink (endpoint + 6);
    zstr_free (&endpoint);
    pp_config_destroy (&config);
    char run [64];
    snprintf (run, sizeof run, "%s/run", var_dir);
    rmdir (run);
    rmdir (var_dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_config_opts_exit),
        cmocka_unit_test (test_pp_config_opts_parse),
        cmocka_unit_test (test_pp_config_defaults),
        cmocka_unit_test (test_pp_config_full_file),
        cmocka_unit_test (test_pp_config_bad_files),
        cmocka_unit_test (test_pp_config_env_override),
        cmocka_unit_test (test_pp_config_endpoints),
        cmocka_unit_test (test_pp_config_connect_slots),
        cmocka_unit_test (test_pp_config_long_var_dir),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
