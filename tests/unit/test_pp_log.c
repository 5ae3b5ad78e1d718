/*  test_pp_log - log set-up (ident, verbose, stream) and sd_notify datagrams  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  The sd_* wrappers are checked end to end: the test binds a unix datagram
//  socket, points NOTIFY_SOCKET at it, and reads back what libsystemd sent.
//  pp_common is built with PP_HAVE_SYSTEMD when libsystemd is found; without
//  it these tests fail, as the wrappers would then send nothing.

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pp_log.h"

//  --------------------------------------------------------------------------
//  A notify socket of our own

typedef struct {
    int fd;                     //  the bound datagram socket
    char path [108];            //  its file, or "" when abstract
} s_notify_t;

//  Bind a datagram socket; abstract (NOTIFY_SOCKET "@name") or on a file.
//  Sets NOTIFY_SOCKET to it when advertise is true.
static void
s_notify_open (s_notify_t *notify, bool abstract, bool advertise)
{
    memset (notify, 0, sizeof *notify);
    notify->fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true (notify->fd >= 0);
    struct sockaddr_un address;
    memset (&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    char name [80];
    snprintf (name, sizeof name, "pp-log-test-%d-%u", (int) getpid (), (unsigned) randof (1000000));
    socklen_t length;
    char env [128];
    if (abstract) {
        //  sun_path [0] = 0, then the name; the length counts what is used
        memcpy (address.sun_path + 1, name, strlen (name));
        length = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + strlen (name));
        snprintf (env, sizeof env, "@%s", name);
    }
    else {
        snprintf (notify->path, sizeof notify->path, "/tmp/%s.sock", name);
        unlink (notify->path);
        snprintf (address.sun_path, sizeof address.sun_path, "%s", notify->path);
        length = (socklen_t) sizeof address;
        snprintf (env, sizeof env, "%s", notify->path);
    }
    assert_int_equal (bind (notify->fd, (struct sockaddr *) &address, length), 0);
    struct timeval timeout = {2, 0};
    assert_int_equal (
        setsockopt (notify->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout), 0);
    if (advertise)
        assert_int_equal (setenv ("NOTIFY_SOCKET", env, 1), 0);
}

static void
s_notify_close (s_notify_t *notify)
{
    if (notify->fd >= 0)
        close (notify->fd);
    notify->fd = -1;
    if (*notify->path)
        unlink (notify->path);
    unsetenv ("NOTIFY_SOCKET");
}

//  Expect the next datagram to be exactly `text` (waits up to 2 s).
static void
s_expect_datagram (s_notify_t *notify, const char *text)
{
    char buffer [512];
    ssize_t size = recv (notify->fd, buffer, sizeof buffer - 1, 0);
    if (size < 0)
        fail_msg ("no datagram where '%s' was expected: %s", text, strerror (errno));
    buffer [size] = 0;
    assert_string_equal (buffer, text);
}

//  Expect no datagram waiting.
static void
s_expect_silence (s_notify_t *notify)
{
    char buffer [512];
    ssize_t size = recv (notify->fd, buffer, sizeof buffer - 1, MSG_DONTWAIT);
    if (size >= 0) {
        buffer [size] = 0;
        fail_msg ("unexpected datagram '%s'", buffer);
    }
    assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
}

//  --------------------------------------------------------------------------
//  Logging

//  Run pp_log_init (ident, verbose) and log `line` at notice level with
//  stderr captured; returns what reached stderr (free it).
static char *
s_capture (const char *ident, bool verbose, const char *line)
{
    char path [64];
    snprintf (path, sizeof path, "/tmp/pp-log-test-%d-%u.err", (int) getpid (),
              (unsigned) randof (1000000));
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    assert_true (saved >= 0);
    int fd = open (path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    assert_true (fd >= 0);
    assert_true (dup2 (fd, STDERR_FILENO) >= 0);
    pp_log_init (ident, verbose);
    zsys_notice ("%s", line);
    fflush (stderr);
    assert_true (dup2 (saved, STDERR_FILENO) >= 0);
    close (saved);
    char text [4096];
    ssize_t size = pread (fd, text, sizeof text - 1, 0);
    assert_true (size >= 0);
    text [size] = 0;
    close (fd);
    unlink (path);
    return strdup (text);
}

static void
test_pp_log_init_ident (void **state)
{
    unsetenv ("JOURNAL_STREAM");
    //  zsys writes "N: (ident) date line" to stderr
    char *text = s_capture ("pingpost-logtest", false, "pp_log: first line 4711");
    assert_non_null (strstr (text, "(pingpost-logtest)"));
    assert_non_null (strstr (text, "pp_log: first line 4711"));
    assert_true (text [0] == 'N' && text [1] == ':');
    zstr_free (&text);
    //  Set up again: the new ident
    text = s_capture ("pingpost-other", true, "pp_log: second line 4712");
    assert_non_null (strstr (text, "(pingpost-other) "));
    assert_null (strstr (text, "pingpost-logtest"));
    assert_non_null (strstr (text, "pp_log: second line 4712"));
    zstr_free (&text);
}

static void
test_pp_log_verbose (void **state)
{
    unsetenv ("JOURNAL_STREAM");
    pp_log_init ("test_pp_log", true);
    assert_true (pp_log_verbose ());
    pp_log_init ("test_pp_log", false);
    assert_false (pp_log_verbose ());
    pp_log_init ("test_pp_log", true);
    assert_true (pp_log_verbose ());
    pp_log_init ("test_pp_log", false);
    assert_false (pp_log_verbose ());
}

static void
test_pp_log_journal (void **state)
{
    //  Under systemd (JOURNAL_STREAM set) lines go to syslog, not stderr
    assert_int_equal (setenv ("JOURNAL_STREAM", "8:12345", 1), 0);
    char *text = s_capture ("test_pp_log", false, "pp_log: journal line 4713");
    unsetenv ("JOURNAL_STREAM");
    assert_null (strstr (text, "journal line 4713"));
    zstr_free (&text);
    //  Back to stderr for the rest of this program
    zsys_set_logsystem (false);
    text = s_capture ("test_pp_log", false, "pp_log: stderr line 4714");
    assert_non_null (strstr (text, "stderr line 4714"));
    zstr_free (&text);
}

//  --------------------------------------------------------------------------
//  sd_notify

static void
test_pp_log_sd_notify (void **state)
{
    s_notify_t notify;
    s_notify_open (&notify, false, true);
    pp_sd_ready ();
    s_expect_datagram (&notify, "READY=1");
    pp_sd_status ("db down, retrying");
    s_expect_datagram (&notify, "STATUS=db down, retrying");
    pp_sd_status ("");
    s_expect_datagram (&notify, "STATUS=");
    pp_sd_status ("100% %s %d");      //  the status is data, not a format
    s_expect_datagram (&notify, "STATUS=100% %s %d");
    pp_sd_watchdog ();
    s_expect_datagram (&notify, "WATCHDOG=1");
    pp_sd_watchdog ();
    s_expect_datagram (&notify, "WATCHDOG=1");
    pp_sd_stopping ();
    s_expect_datagram (&notify, "STOPPING=1");
    //  One datagram each, nothing more
    s_expect_silence (&notify);
    //  NOTIFY_SOCKET is left in place for the next notification
    assert_non_null (getenv ("NOTIFY_SOCKET"));
    pp_sd_ready ();
    s_expect_datagram (&notify, "READY=1");
    s_notify_close (&notify);
}

static void
test_pp_log_sd_notify_abstract (void **state)
{
    //  systemd may hand out an abstract socket ("@name")
    s_notify_t notify;
    s_notify_open (&notify, true, true);
    assert_true (getenv ("NOTIFY_SOCKET") [0] == '@');
    pp_sd_status ("loading market");
    s_expect_datagram (&notify, "STATUS=loading market");
    pp_sd_ready ();
    s_expect_datagram (&notify, "READY=1");
    pp_sd_watchdog ();
    s_expect_datagram (&notify, "WATCHDOG=1");
    pp_sd_stopping ();
    s_expect_datagram (&notify, "STOPPING=1");
    s_expect_silence (&notify);
    s_notify_close (&notify);
}

static void
test_pp_log_sd_no_socket (void **state)
{
    //  Without NOTIFY_SOCKET nothing is sent anywhere (our socket exists but
    //  is not advertised) and nothing breaks
    s_notify_t notify;
    s_notify_open (&notify, false, false);
    unsetenv ("NOTIFY_SOCKET");
    pp_sd_ready ();
    pp_sd_status ("nobody listens");
    pp_sd_watchdog ();
    pp_sd_stopping ();
    s_expect_silence (&notify);
    //  A socket that is gone: the calls fail quietly
    assert_int_equal (setenv ("NOTIFY_SOCKET", "/tmp/pp-log-test-no-such-socket", 1), 0);
    pp_sd_ready ();
    pp_sd_status ("nobody listens");
    pp_sd_watchdog ();
    pp_sd_stopping ();
    //  Not an address libsystemd knows: ignored too
    assert_int_equal (setenv ("NOTIFY_SOCKET", "relative/path", 1), 0);
    pp_sd_ready ();
    s_expect_silence (&notify);
    s_notify_close (&notify);
}

//  --------------------------------------------------------------------------
//  Watchdog interval

static void
s_watchdog_env (const char *usec, const char *pid)
{
    if (usec)
        assert_int_equal (setenv ("WATCHDOG_USEC", usec, 1), 0);
    else
        unsetenv ("WATCHDOG_USEC");
    if (pid)
        assert_int_equal (setenv ("WATCHDOG_PID", pid, 1), 0);
    else
        unsetenv ("WATCHDOG_PID");
}

static void
test_pp_log_sd_watchdog_ms (void **state)
{
    char self [32];
    snprintf (self, sizeof self, "%d", (int) getpid ());
    char other [32];
    snprintf (other, sizeof other, "%d", (int) getpid () == 1 ? 2 : 1);
    struct {
        const char *usec;
        const char *pid;
        int ms;
    } cases [] = {
        //  Half of WATCHDOG_USEC, in ms, when it is meant for us
        {"30000000", self, 15000},
        {"5000000", self, 2500},
        {"3000", self, 1},
        {"123456789", self, 61728},
        //  Another process's watchdog, or none
        {"30000000", other, 0},
        {NULL, self, 0},
        {NULL, NULL, 0},
        //  Not a valid interval
        {"abc", self, 0},
        {"", self, 0},
        {"0", self, 0},
        {"-5", self, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_watchdog_env (cases [i].usec, cases [i].pid);
        int ms = pp_sd_watchdog_ms ();
        if (ms != cases [i].ms)
            fail_msg ("WATCHDOG_USEC=%s WATCHDOG_PID=%s: %d ms, expected %d",
                      cases [i].usec ? cases [i].usec : "(unset)",
                      cases [i].pid ? cases [i].pid : "(unset)", ms, cases [i].ms);
        //  Asking does not consume the environment
        if (cases [i].usec)
            assert_string_equal (getenv ("WATCHDOG_USEC"), cases [i].usec);
    }
    //  Without WATCHDOG_PID, libsystemd takes the interval as ours
    s_watchdog_env ("20000000", NULL);
    assert_int_equal (pp_sd_watchdog_ms (), 10000);
    s_watchdog_env (NULL, NULL);
}

int
main (void)
{
    unsetenv ("NOTIFY_SOCKET");
    unsetenv ("WATCHDOG_USEC");
    unsetenv ("WATCHDOG_PID");
    unsetenv ("JOURNAL_STREAM");
    pp_log_init ("test_pp_log", false);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_log_init_ident),
        cmocka_unit_test (test_pp_log_verbose),
        cmocka_unit_test (test_pp_log_journal),
        cmocka_unit_test (test_pp_log_sd_notify),
        cmocka_unit_test (test_pp_log_sd_notify_abstract),
        cmocka_unit_test (test_pp_log_sd_no_socket),
        cmocka_unit_test (test_pp_log_sd_watchdog_ms),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
