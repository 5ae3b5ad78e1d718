/*  test_bench_tools - the benchmark's own helpers and pingpost-rawbuyer, run for real  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  bench/bench_stats (samples, percentiles, CPU time, JSON text) called
//  directly; pingpost-rawbuyer run as a process against bad arguments, a
//  port nobody listens on and a real pingpost-mockbuyer. PP_BENCH_BIN_DIR
//  names the directory of the built tools (tests/CMakeLists.txt).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_stats.h"
#include "pp_json.h"
#include "pp_util.h"

#define S_OUTPUT_MAX 65536

//  A finished process: its exit status (-1 killed or timed out) and output.
typedef struct {
    int status;
    char out [S_OUTPUT_MAX];
    char err [S_OUTPUT_MAX];
} s_run_t;

//  Read what is there from fd into buf (NUL terminated); false at EOF.
static bool
s_drain (int fd, char *buf, size_t *len)
{
    char chunk [4096];
    ssize_t got = read (fd, chunk, sizeof chunk);
    if (got <= 0)
        return got < 0 && errno == EINTR;
    size_t room = S_OUTPUT_MAX - 1 - *len;
    size_t take = (size_t) got < room ? (size_t) got : room;
    memcpy (buf + *len, chunk, take);
    *len += take;
    buf [*len] = 0;
    return true;
}

//  Run argv (argv [0] a tool of PP_BENCH_BIN_DIR) to its end, at most
//  timeout_ms (then it is killed); its status and output in run.
static void
s_run (s_run_t *run, int timeout_ms, const char *tool, ...)
{
    const char *argv [32];
    char path [512];
    snprintf (path, sizeof path, "%s/%s", PP_BENCH_BIN_DIR, tool);
    argv [0] = path;
    int argc = 1;
    va_list args;
    va_start (args, tool);
    const char *arg;
    while ((arg = va_arg (args, const char *)) && argc < 31)
        argv [argc++] = arg;
    va_end (args);
    argv [argc] = NULL;

    memset (run, 0, sizeof *run);
    int out [2], err [2];
    assert_int_equal (pipe (out), 0);
    assert_int_equal (pipe (err), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        dup2 (out [1], STDOUT_FILENO);
        dup2 (err [1], STDERR_FILENO);
        close (out [0]);
        close (err [0]);
        execv (path, (char *const *) argv);
        _exit (127);
    }
    close (out [1]);
    close (err [1]);
    size_t out_len = 0, err_len = 0;
    bool out_open = true, err_open = true;
    int64_t deadline = pp_mono_us () + (int64_t) timeout_ms * 1000;
    bool killed = false;
    while (out_open || err_open) {
        int64_t left_ms = (deadline - pp_mono_us ()) / 1000;
        if (left_ms <= 0 && !killed) {
            kill (pid, SIGKILL);
            killed = true;
        }
        struct pollfd items [2] = {{out [0], POLLIN, 0}, {err [0], POLLIN, 0}};
        if (poll (items, 2, left_ms > 0 ? (int) left_ms : 100) < 0 && errno != EINTR)
            break;
        if (out_open && (items [0].revents & (POLLIN | POLLHUP)))
            out_open = s_drain (out [0], run->out, &out_len);
        if (err_open && (items [1].revents & (POLLIN | POLLHUP)))
            err_open = s_drain (err [0], run->err, &err_len);
    }
    close (out [0]);
    close (err [0]);
    int status = 0;
    waitpid (pid, &status, 0);
    run->status = !killed && WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  A TCP port on 127.0.0.1 that nobody listened on a moment ago.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    assert_int_equal (bind (fd, (struct sockaddr *) &address, sizeof address), 0);
    socklen_t size = sizeof address;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &address, &size), 0);
    close (fd);
    return ntohs (address.sin_port);
}

static void
test_bench_samples (void **state)
{
    bench_samples_t samples;
    memset (&samples, 0, sizeof samples);
    bench_samples_sort (&samples);              //  empty: fine
    assert_int_equal (bench_percentile (samples.values, samples.count, 50), 0);
    //  100 down to 1, over the first growth step
    for (uint64_t value = 10000; value >= 1; value--)
        bench_samples_push (&samples, value);
    assert_int_equal (samples.count, 10000);
    bench_samples_sort (&samples);
    for (size_t i = 0; i < samples.count; i++)
        assert_int_equal (samples.values [i], i + 1);
    //  Nearest rank
    assert_int_equal (bench_percentile (samples.values, samples.count, 50), 5000);
    assert_int_equal (bench_percentile (samples.values, samples.count, 99), 9900);
    assert_int_equal (bench_percentile (samples.values, samples.count, 99.9), 9990);
    assert_int_equal (bench_percentile (samples.values, samples.count, 100), 10000);
    assert_int_equal (bench_percentile (samples.values, samples.count, 0), 1);
    const uint64_t one [] = {7};
    assert_int_equal (bench_percentile (one, 1, 99), 7);
    bench_samples_free (&samples);
    assert_null (samples.values);
    assert_int_equal (samples.count, 0);
}

static void
test_bench_cpu (void **state)
{
    int64_t self_before = bench_self_cpu_us ();
    int64_t pid_before = bench_pid_cpu_us ((long) getpid ());
    assert_true (self_before >= 0);
    assert_true (pid_before >= 0);
    //  Burn about 50 ms of CPU
    volatile uint64_t sink = 0;
    int64_t until = bench_self_cpu_us () + 50000;
    while (bench_self_cpu_us () < until)
        for (int i = 0; i < 10000; i++)
            sink += (uint64_t) i * 2654435761u;
    assert_true (bench_self_cpu_us () - self_before >= 50000);
    //  /proc counts in clock ticks (10 ms)
    assert_true (bench_pid_cpu_us ((long) getpid ()) - pid_before >= 30000);
    assert_int_equal (bench_pid_cpu_us (0), -1);
    assert_int_equal (bench_pid_cpu_us (-5), -1);
    //  A process that is gone
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0)
        _exit (0);
    waitpid (child, NULL, 0);
    assert_int_equal (bench_pid_cpu_us ((long) child), -1);
}

static void
test_bench_json_text (void **state)
{
    char path [] = "/tmp/test_bench_tools-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    fflush (stdout);
    int saved = dup (STDOUT_FILENO);
    dup2 (fd, STDOUT_FILENO);
    printf ("{\"e\":\"");
    bench_print_json_text ("say \"hi\" \\ to\tthe\nbuyer: ok");
    printf ("\"}");
    fflush (stdout);
    dup2 (saved, STDOUT_FILENO);
    close (saved);
    char text [256] = "";
    ssize_t got = pread (fd, text, sizeof text - 1, 0);
    close (fd);
    unlink (path);
    assert_true (got > 0);
    //  Quotes and backslashes escaped, control characters left out: valid JSON
    assert_string_equal (text, "{\"e\":\"say \\\"hi\\\" \\\\ tothebuyer: ok\"}");
    cJSON *json = cJSON_Parse (text);
    assert_non_null (json);
    assert_string_equal (cJSON_GetObjectItem (json, "e")->valuestring, "say \"hi\" \\ tothebuyer: ok");
    cJSON_Delete (json);
}

//  Bad arguments: exit 64, the reason and the usage on stderr, nothing sent.
static void
test_rawbuyer_usage (void **state)
{
    const char *cases [][4] = {
        {"--window", "0", "bad --window", NULL},
        {"--pings", "17", "bad --pings", NULL},
        {"--duration", "ten", "bad --duration", NULL},
        {"--url", "ftp://127.0.0.1:1", "bad --url", NULL},
        {"--ping-prefix", "p/b", "bad --ping-prefix", NULL},
        {"--post-buyer", "", "bad --post-buyer", NULL},
        {"--buyer-pid", "999999999", "no such process", NULL},
    };
    s_run_t *run = (s_run_t *) malloc (sizeof (s_run_t));
    assert_non_null (run);
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_run (run, 10000, "pingpost-rawbuyer", "--url", "http://127.0.0.1:1", cases [i][0],
               cases [i][1], NULL);
        if (run->status != 64 || !strstr (run->err, cases [i][2]) || !strstr (run->err, "usage"))
            fail_msg ("%s %s: status %d, stderr: %s", cases [i][0], cases [i][1], run->status,
                      run->err);
        assert_string_equal (run->out, "");
    }
    s_run (run, 10000, "pingpost-rawbuyer", NULL);
    assert_int_equal (run->status, 64);
    assert_non_null (strstr (run->err, "--url is required"));
    s_run (run, 10000, "pingpost-rawbuyer", "--url", "http://127.0.0.1:1", "extra", NULL);
    assert_int_equal (run->status, 64);
    assert_non_null (strstr (run->err, "unexpected argument"));
    s_run (run, 10000, "pingpost-rawbuyer", "--help", NULL);
    assert_int_equal (run->status, 0);
    assert_non_null (strstr (run->out, "usage"));
    free (run);
}

//  Nobody listens: every request fails, the JSON says so, exit 1.
static void
test_rawbuyer_unreachable (void **state)
{
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d", s_free_port ());
    s_run_t *run = (s_run_t *) malloc (sizeof (s_run_t));
    assert_non_null (run);
    s_run (run, 20000, "pingpost-rawbuyer", "--url", url, "--duration", "0.2", "--warmup-ms",
           "0", "--window", "2", NULL);
    assert_int_equal (run->status, 1);
    cJSON *json = cJSON_Parse (run->out);
    if (!json)
        fail_msg ("not JSON: %s (stderr: %s)", run->out, run->err);
    assert_true (cJSON_GetObjectItem (json, "errors")->valuedouble > 0);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "leads")->valuedouble, 0);
    assert_true (cJSON_GetObjectItem (json, "failed_leads")->valuedouble > 0);
    const char *error = cJSON_GetObjectItem (json, "first_error")->valuestring;
    assert_non_null (strstr (error, "onnect"));
    cJSON_Delete (json);
    free (run);
}

//  A real mock buyer: leads/s and CPU per lead of both sides; a post to a
//  buyer the mock does not play is a non-2xx answer, and exit 1.
static void
test_rawbuyer_mockbuyer (void **state)
{
    int port = s_free_port ();
    char port_text [16];
    snprintf (port_text, sizeof port_text, "%d", port);
    char mock [512];
    snprintf (mock, sizeof mock, "%s/pingpost-mockbuyer", PP_BENCH_BIN_DIR);
    pid_t buyer = fork ();
    assert_true (buyer >= 0);
    if (buyer == 0) {
        int null = open ("/dev/null", O_WRONLY);
        dup2 (null, STDOUT_FILENO);
        dup2 (null, STDERR_FILENO);
        execl (mock, mock, "--port", port_text, "--buyer", "pb1:bid=10.50", "--buyer",
               "pb2:bid=11.50", (char *) NULL);
        _exit (127);
    }
    //  Wait until it listens
    int64_t deadline = pp_mono_us () + 10000000;
    while (true) {
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                      .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
        bool up = connect (fd, (struct sockaddr *) &address, sizeof address) == 0;
        close (fd);
        if (up)
            break;
        assert_true (pp_mono_us () < deadline);
        zclock_sleep (20);
    }
    char url [64], pid [16];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/", port);
    snprintf (pid, sizeof pid, "%d", (int) buyer);
    s_run_t *run = (s_run_t *) malloc (sizeof (s_run_t));
    assert_non_null (run);
    s_run (run, 30000, "pingpost-rawbuyer", "--url", url, "--pings", "2", "--window", "4",
           "--duration", "0.5", "--warmup-ms", "100", "--buyer-pid", pid, NULL);
    if (run->status != 0)
        fail_msg ("status %d: %s %s", run->status, run->out, run->err);
    cJSON *json = cJSON_Parse (run->out);
    assert_non_null (json);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "pings")->valuedouble, 2);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "window")->valuedouble, 4);
    double leads = cJSON_GetObjectItem (json, "leads")->valuedouble;
    double requests = cJSON_GetObjectItem (json, "requests")->valuedouble;
    assert_true (leads >= 10);
    //  3 requests a lead, give or take the leads the window's edges cut
    assert_true (requests >= 3 * leads - 12 && requests <= 3 * leads + 12);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "errors")->valuedouble, 0);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "non_2xx")->valuedouble, 0);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "failed_leads")->valuedouble, 0);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "unfinished")->valuedouble, 0);
    cJSON *latency = cJSON_GetObjectItem (json, "latency_us");
    assert_true (cJSON_GetObjectItem (latency, "p50")->valuedouble > 0);
    assert_true (cJSON_GetObjectItem (latency, "p99")->valuedouble
                 >= cJSON_GetObjectItem (latency, "p50")->valuedouble);
    cJSON *cpu = cJSON_GetObjectItem (json, "cpu_us_per_lead");
    assert_true (cJSON_GetObjectItem (cpu, "client")->valuedouble > 0);
    assert_non_null (cJSON_GetObjectItem (cpu, "buyer"));
    double total = cJSON_GetObjectItem (cpu, "total")->valuedouble;
    assert_true (total >= cJSON_GetObjectItem (cpu, "client")->valuedouble);
    cJSON_Delete (json);

    //  Posts to a buyer the mock does not play: answered, but not 2xx
    s_run (run, 30000, "pingpost-rawbuyer", "--url", url, "--pings", "1", "--window", "2",
           "--duration", "0.2", "--warmup-ms", "0", "--post-buyer", "nobody", NULL);
    assert_int_equal (run->status, 1);
    json = cJSON_Parse (run->out);
    assert_non_null (json);
    assert_true (cJSON_GetObjectItem (json, "non_2xx")->valuedouble > 0);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "errors")->valuedouble, 0);
    assert_int_equal ((int) cJSON_GetObjectItem (json, "leads")->valuedouble, 0);
    assert_true (cJSON_GetObjectItem (json, "failed_leads")->valuedouble > 0);
    assert_non_null (strstr (cJSON_GetObjectItem (json, "first_error")->valuestring, "HTTP 4"));
    cJSON_Delete (json);
    free (run);
    kill (buyer, SIGTERM);
    waitpid (buyer, NULL, 0);
}

int
main (void)
{
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bench_samples),
        cmocka_unit_test (test_bench_cpu),
        cmocka_unit_test (test_bench_json_text),
        cmocka_unit_test (test_rawbuyer_usage),
        cmocka_unit_test (test_rawbuyer_unreachable),
        cmocka_unit_test (test_rawbuyer_mockbuyer),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
