/*  test_pp_http - the zloop-driven HTTP client against a real local server  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "pp_http.h"
#include "pp_util.h"

#define S_BIG_SIZE (1024 * 1024)
#define S_PARALLEL 200
#define S_SEQUENTIAL 100

//  --------------------------------------------------------------------------
//  The server: libmicrohttpd, one thread per connection, so /slow only holds
//  up its own connection.
//    /ok      200 {"length":N,"expect":0|1,"type":"<Content-Type>"}
//    /slow    sleeps 300 ms, then 200 {}
//    /big     200 with a 1 MiB body (Content-Length)
//    /stream  200 with a 1 MiB body, chunked (no Content-Length)
//    /500     500 {}

static struct MHD_Daemon *s_daemon;
static int s_port;
static atomic_int s_connections;        //  connections the server accepted
static char *s_big;                     //  the 1 MiB body

typedef struct {
    size_t length;                      //  request body bytes seen
} s_upload_t;

static ssize_t
s_stream_reader (void *cls, uint64_t pos, char *buf, size_t max)
{
    if (pos >= S_BIG_SIZE)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t left = S_BIG_SIZE - (size_t) pos;
    size_t n = left < max ? left : max;
    if (n > 4096)
        n = 4096;
    memcpy (buf, s_big + pos, n);
    return (ssize_t) n;
}

static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *connection, const char *url,
              const char *method, const char *version, const char *upload_data,
              size_t *upload_data_size, void **con_cls)
{
    s_upload_t *upload = (s_upload_t *) *con_cls;
    if (!upload) {
        upload = (s_upload_t *) calloc (1, sizeof (s_upload_t));
        if (!upload)
            return MHD_NO;
        *con_cls = upload;
        return MHD_YES;
    }
    if (*upload_data_size) {
        upload->length += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *response = NULL;
    unsigned int status = MHD_HTTP_OK;
    if (strcmp (url, "/ok") == 0) {
        const char *expect =
            MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Expect");
        const char *type =
            MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Content-Type");
        char json [256];
        snprintf (json, sizeof json, "{\"length\":%zu,\"expect\":%d,\"type\":\"%s\"}",
                  upload->length, expect ? 1 : 0, type ? type : "");
        response =
            MHD_create_response_from_buffer (strlen (json), json, MHD_RESPMEM_MUST_COPY);
    }
    else
    if (strcmp (url, "/slow") == 0) {
        usleep (300 * 1000);
        response = MHD_create_response_from_buffer (2, (void *) "{}", MHD_RESPMEM_PERSISTENT);
    }
    else
    if (strcmp (url, "/big") == 0)
        response = MHD_create_response_from_buffer (S_BIG_SIZE, s_big, MHD_RESPMEM_PERSISTENT);
    else
    if (strcmp (url, "/stream") == 0)
        response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 4096, s_stream_reader,
                                                      NULL, NULL);
    else {
        status = strcmp (url, "/500") == 0 ? 500 : MHD_HTTP_NOT_FOUND;
        response = MHD_create_response_from_buffer (2, (void *) "{}", MHD_RESPMEM_PERSISTENT);
    }
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

static void
s_on_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                enum MHD_RequestTerminationCode toe)
{
    free (*con_cls);
    *con_cls = NULL;
}

static void
s_on_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                 enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add (&s_connections, 1);
}

static int
s_server_start (void **state)
{
    s_big = (char *) malloc (S_BIG_SIZE);
    if (!s_big)
        return -1;
    for (size_t i = 0; i < S_BIG_SIZE; i++)
        s_big [i] = (char) ('a' + i % 26);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = 0;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    s_daemon = MHD_start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
        NULL, NULL, s_on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        s_on_connection, NULL, MHD_OPTION_END);
    if (!s_daemon) {
        fprintf (stderr, "test_pp_http: cannot start the HTTP server\n");
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (s_daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0)
        return -1;
    s_port = info->port;
    return 0;
}

static int
s_server_stop (void **state)
{
    if (s_daemon)
        MHD_stop_daemon (s_daemon);
    s_daemon = NULL;
    free (s_big);
    s_big = NULL;
    return 0;
}

//  --------------------------------------------------------------------------
//  Client side helpers

static char *
s_url (const char *path)
{
    return zsys_sprintf ("http://127.0.0.1:%d%s", s_port, path);
}

typedef struct {
    int calls;                          //  times done ran
    pp_http_error_t error;              //  last response
    long status;
    char body [256];                    //  start of the body
    size_t body_size;
    bool body_is_big;                   //  body equals s_big
    int64_t latency_us;
    int64_t done_at_us;                 //  pp_mono_us when done ran
    char error_text [256];
    int *counter;                       //  incremented by done, when set
} s_result_t;

static void
s_on_done (const pp_http_response_t *response, void *arg)
{
    s_result_t *result = (s_result_t *) arg;
    result->calls++;
    result->error = response->error;
    result->status = response->status;
    result->body_size = response->body_size;
    assert_non_null (response->body);
    assert_int_equal (strlen (response->body), response->body_size);
    snprintf (result->body, sizeof result->body, "%s", response->body);
    result->body_is_big = response->body_size == S_BIG_SIZE && s_big
                          && memcmp (response->body, s_big, S_BIG_SIZE) == 0;
    result->latency_us = response->latency_us;
    result->done_at_us = pp_mono_us ();
    snprintf (result->error_text, sizeof result->error_text, "%s",
              response->error_text ? response->error_text : "");
    if (result->counter)
        (*result->counter)++;
}

typedef struct {
    int *counter;                       //  stop when this reaches target
    int target;
    int64_t deadline_us;                //  or at this time (pp_mono_us)
} s_wait_t;

static int
s_on_check (zloop_t *loop, int timer_id, void *arg)
{
    s_wait_t *wait = (s_wait_t *) arg;
    if (*wait->counter >= wait->target || pp_mono_us () >= wait->deadline_us)
        return -1;
    return 0;
}

//  Run the loop until *counter reaches target or max_ms passed.
static void
s_run (zloop_t *loop, int *counter, int target, int max_ms)
{
    s_wait_t wait = {counter, target, pp_mono_us () + (int64_t) max_ms * 1000};
    int timer_id = zloop_timer (loop, 1, 0, s_on_check, &wait);
    assert_true (timer_id != -1);
    zloop_start (loop);
    zloop_timer_end (loop, timer_id);
}

static int
s_closed_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (fd, (struct sockaddr *) &address, sizeof address), 0);
    socklen_t length = sizeof address;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &address, &length), 0);
    close (fd);                         //  nobody listens there now
    return ntohs (address.sin_port);
}

//  --------------------------------------------------------------------------

static void
test_pp_http_error_name (void **state)
{
    assert_string_equal (pp_http_error_name (PP_HTTP_OK), "ok");
    assert_string_equal (pp_http_error_name (PP_HTTP_TIMEOUT), "timeout");
    assert_string_equal (pp_http_error_name (PP_HTTP_CONNECT), "connect");
    assert_string_equal (pp_http_error_name (PP_HTTP_TOO_BIG), "too_big");
    assert_string_equal (pp_http_error_name (PP_HTTP_FAILED), "failed");
    assert_string_equal (pp_http_error_name (99), "unknown");
}

static void
test_pp_http_one_request (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    assert_non_null (http);
    assert_int_equal (pp_http_active (http), 0);

    int done = 0;
    s_result_t result = {.counter = &done};
    char *url = s_url ("/ok");
    const char body [] = "{\"hello\":\"world\"}";
    assert_int_equal (pp_http_post (http, url, "application/json", body, strlen (body), 2000,
                                    4096, s_on_done, &result),
                      0);
    assert_int_equal (pp_http_active (http), 1);
    s_run (loop, &done, 1, 5000);
    assert_int_equal (result.calls, 1);
    assert_int_equal (result.error, PP_HTTP_OK);
    assert_int_equal (result.status, 200);
    char expected [128];
    snprintf (expected, sizeof expected,
              "{\"length\":%zu,\"expect\":0,\"type\":\"application/json\"}", strlen (body));
    assert_string_equal (result.body, expected);
    assert_int_equal (result.body_size, strlen (expected));
    assert_true (result.latency_us > 0 && result.latency_us < 2000 * 1000);
    assert_int_equal (pp_http_active (http), 0);

    //  A large body with another content type: no "Expect: 100-continue"
    size_t size = 1536 * 1024;        //  curl asks for 100-continue past 1 MiB
    char *large = (char *) malloc (size);
    assert_non_null (large);
    memset (large, 'x', size);
    large [100] = 0;                    //  NUL bytes are body too
    assert_int_equal (pp_http_post (http, url, "application/x-www-form-urlencoded", large,
                                    size, 2000, 4096, s_on_done, &result),
                      0);
    free (large);                       //  the client has its own copy
    s_run (loop, &done, 2, 5000);
    assert_int_equal (result.calls, 2);
    assert_int_equal (result.error, PP_HTTP_OK);
    snprintf (expected, sizeof expected,
              "{\"length\":%zu,\"expect\":0,\"type\":\"application/x-www-form-urlencoded\"}",
              size);
    assert_string_equal (result.body, expected);

    //  An empty body
    assert_int_equal (pp_http_post (http, url, NULL, NULL, 0, 2000, 4096, s_on_done, &result),
                      0);
    s_run (loop, &done, 3, 5000);
    assert_int_equal (result.calls, 3);
    assert_int_equal (result.error, PP_HTTP_OK);
    assert_non_null (strstr (result.body, "\"length\":0,"));

    //  A 500 is still an answer
    char *url500 = s_url ("/500");
    assert_int_equal (pp_http_post (http, url500, NULL, "{}", 2, 2000, 4096, s_on_done, &result),
                      0);
    s_run (loop, &done, 4, 5000);
    assert_int_equal (result.calls, 4);
    assert_int_equal (result.error, PP_HTTP_OK);
    assert_int_equal (result.status, 500);
    assert_string_equal (result.body, "{}");

    //  A name to resolve (curl's resolver runs beside the loop)
    char *by_name = zsys_sprintf ("http://localhost:%d/ok", s_port);
    assert_int_equal (
        pp_http_post (http, by_name, NULL, "{}", 2, 2000, 4096, s_on_done, &result), 0);
    s_run (loop, &done, 5, 5000);
    assert_int_equal (result.calls, 5);
    assert_int_equal (result.error, PP_HTTP_OK);
    assert_int_equal (result.status, 200);
    zstr_free (&by_name);

    zstr_free (&url500);
    zstr_free (&url);
    pp_http_destroy (&http);
    assert_null (http);
    pp_http_destroy (&http);            //  safe on NULL
    zloop_destroy (&loop);
}

static void
test_pp_http_parallel (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    assert_non_null (http);
    char *url = s_url ("/ok");
    int done = 0;
    s_result_t *results = (s_result_t *) calloc (S_PARALLEL, sizeof (s_result_t));
    assert_non_null (results);
    char body [S_PARALLEL];
    memset (body, 'b', sizeof body);
    for (int i = 0; i < S_PARALLEL; i++) {
        results [i].counter = &done;
        assert_int_equal (pp_http_post (http, url, "application/json", body, (size_t) i, 5000,
                                        4096, s_on_done, &results [i]),
                          0);
    }
    assert_int_equal (pp_http_active (http), S_PARALLEL);
    s_run (loop, &done, S_PARALLEL, 20000);
    //  Let the loop run a little longer: a second callback would show here
    s_run (loop, &done, S_PARALLEL + 1, 50);
    assert_int_equal (done, S_PARALLEL);
    for (int i = 0; i < S_PARALLEL; i++) {
        assert_int_equal (results [i].calls, 1);
        if (results [i].error != PP_HTTP_OK)
            fail_msg ("request %d: %s: %s", i, pp_http_error_name (results [i].error),
                      results [i].error_text);
        assert_int_equal (results [i].status, 200);
        char expected [32];
        snprintf (expected, sizeof expected, "{\"length\":%d,", i);
        assert_non_null (strstr (results [i].body, expected));
    }
    assert_int_equal (pp_http_active (http), 0);
    free (results);
    zstr_free (&url);
    pp_http_destroy (&http);
    zloop_destroy (&loop);
}

static void
test_pp_http_timeout (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    char *slow_url = s_url ("/slow");
    char *ok_url = s_url ("/ok");
    int done = 0;
    s_result_t slow = {.counter = &done};
    s_result_t ok = {.counter = &done};
    int64_t started = pp_mono_us ();
    assert_int_equal (pp_http_post (http, slow_url, NULL, "{}", 2, 100, 4096, s_on_done, &slow),
                      0);
    assert_int_equal (pp_http_post (http, ok_url, NULL, "{}", 2, 2000, 4096, s_on_done, &ok), 0);
    s_run (loop, &done, 2, 5000);
    assert_int_equal (slow.calls, 1);
    assert_int_equal (ok.calls, 1);
    //  The slow one does not hold up the loop
    assert_int_equal (ok.error, PP_HTTP_OK);
    assert_true (ok.done_at_us < slow.done_at_us);
    assert_true (ok.done_at_us - started < 80 * 1000);
    //  and gives up on time
    assert_int_equal (slow.error, PP_HTTP_TIMEOUT);
    assert_true (strlen (slow.error_text) > 0);
    int64_t elapsed = slow.done_at_us - started;
    assert_true (elapsed >= 95 * 1000);
    assert_true (elapsed <= 250 * 1000);
    assert_true (slow.latency_us >= 95 * 1000 && slow.latency_us <= 250 * 1000);

    //  With enough time /slow answers
    assert_int_equal (pp_http_post (http, slow_url, NULL, "{}", 2, 2000, 4096, s_on_done, &slow),
                      0);
    s_run (loop, &done, 3, 5000);
    assert_int_equal (slow.calls, 2);
    assert_int_equal (slow.error, PP_HTTP_OK);
    assert_true (slow.latency_us >= 290 * 1000);

    zstr_free (&slow_url);
    zstr_free (&ok_url);
    pp_http_destroy (&http);
    zloop_destroy (&loop);
}

static int
s_on_stop (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

static int64_t
s_thread_cpu_us (void)
{
    struct timespec ts;
    assert_int_equal (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts), 0);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  Waiting costs nothing: with requests in flight and curl's timers set,
//  the loop sleeps until a socket or a timer is due. curl rounds its
//  timeouts down to the millisecond; re-arming for the time it gave once
//  made the loop spin through the last fraction of every timeout. Here 150
//  requests time out one after another, a millisecond apart.
static void
test_pp_http_idle_wait (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    char *slow_url = s_url ("/slow");
    int done = 0;
    s_result_t *results = (s_result_t *) calloc (150, sizeof (s_result_t));
    assert_non_null (results);
    int64_t cpu = s_thread_cpu_us ();
    int64_t started = pp_mono_us ();
    for (int i = 0; i < 150; i++) {
        results [i].counter = &done;
        assert_int_equal (pp_http_post (http, slow_url, NULL, "{}", 2, 50 + i, 4096, s_on_done,
                                        &results [i]),
                          0);
    }
    //  Not s_run: its 1 ms check timer would be most of the CPU measured
    int stop = zloop_timer (loop, 1000, 1, s_on_stop, NULL);
    assert_true (stop != -1);
    zloop_start (loop);
    cpu = s_thread_cpu_us () - cpu;
    int64_t waited = pp_mono_us () - started;
    assert_int_equal (done, 150);
    for (int i = 0; i < 150; i++)
        assert_int_equal (results [i].error, PP_HTTP_TIMEOUT);
    //  Measured over the second: 20 ms of the loop's CPU (release), 30-50 ms
    //  (ASan); 630 ms when it spun
    if (cpu > 150 * 1000)
        fail_msg ("the loop used %lld us of CPU in %lld us of waiting", (long long) cpu,
                  (long long) waited);
    free (results);
    zstr_free (&slow_url);
    pp_http_destroy (&http);
    zloop_destroy (&loop);
}

static void
test_pp_http_too_big (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    char *big_url = s_url ("/big");
    char *stream_url = s_url ("/stream");
    int done = 0;
    s_result_t big = {.counter = &done};
    s_result_t stream = {.counter = &done};
    //  Over the cap: with a Content-Length, and chunked (seen while reading)
    assert_int_equal (pp_http_post (http, big_url, NULL, "{}", 2, 5000, 1000, s_on_done, &big),
                      0);
    assert_int_equal (
        pp_http_post (http, stream_url, NULL, "{}", 2, 5000, 1000, s_on_done, &stream), 0);
    s_run (loop, &done, 2, 10000);
    assert_int_equal (big.calls, 1);
    assert_int_equal (big.error, PP_HTTP_TOO_BIG);
    assert_int_equal (big.body_size, 0);
    assert_int_equal (stream.calls, 1);
    assert_int_equal (stream.error, PP_HTTP_TOO_BIG);
    assert_int_equal (stream.body_size, 0);

    //  At the cap exactly both are fine, and the body arrives whole
    assert_int_equal (
        pp_http_post (http, big_url, NULL, "{}", 2, 5000, S_BIG_SIZE, s_on_done, &big), 0);
    assert_int_equal (
        pp_http_post (http, stream_url, NULL, "{}", 2, 5000, S_BIG_SIZE, s_on_done, &stream), 0);
    s_run (loop, &done, 4, 10000);
    assert_int_equal (big.calls, 2);
    assert_int_equal (big.error, PP_HTTP_OK);
    assert_true (big.body_is_big);
    assert_int_equal (stream.calls, 2);
    assert_int_equal (stream.error, PP_HTTP_OK);
    assert_true (stream.body_is_big);

    //  One byte short is too big
    assert_int_equal (
        pp_http_post (http, stream_url, NULL, "{}", 2, 5000, S_BIG_SIZE - 1, s_on_done, &stream),
        0);
    s_run (loop, &done, 5, 10000);
    assert_int_equal (stream.calls, 3);
    assert_int_equal (stream.error, PP_HTTP_TOO_BIG);

    zstr_free (&big_url);
    zstr_free (&stream_url);
    pp_http_destroy (&http);
    zloop_destroy (&loop);
}

static void
test_pp_http_connect_refused (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    char *url = zsys_sprintf ("http://127.0.0.1:%d/ok", s_closed_port ());
    int done = 0;
    s_result_t result = {.counter = &done};
    assert_int_equal (pp_http_post (http, url, NULL, "{}", 2, 2000, 4096, s_on_done, &result), 0);
    s_run (loop, &done, 1, 5000);
    assert_int_equal (result.calls, 1);
    assert_int_equal (result.error, PP_HTTP_CONNECT);
    assert_true (strlen (result.error_text) > 0);
    assert_true (result.latency_us < 1000 * 1000);

    //  Another transport failure: a scheme we do not speak
    assert_int_equal (
        pp_http_post (http, "ftp://127.0.0.1/x", NULL, "{}", 2, 2000, 4096, s_on_done, &result),
        0);
    s_run (loop, &done, 2, 5000);
    assert_int_equal (result.calls, 2);
    assert_int_equal (result.error, PP_HTTP_FAILED);
    assert_true (strlen (result.error_text) > 0);

    //  A request that cannot start calls nothing
    assert_int_equal (pp_http_post (http, url, NULL, "{}", 2, 0, 4096, s_on_done, &result), -1);
    assert_int_equal (pp_http_active (http), 0);
    s_run (loop, &done, 3, 50);
    assert_int_equal (result.calls, 2);

    zstr_free (&url);
    pp_http_destroy (&http);
    zloop_destroy (&loop);
}

//  Each answer starts the next request, from inside the callback.
typedef struct {
    pp_http_t *http;                    //  Not owned
    const char *url;                    //  Not owned
    int wanted;                         //  requests to make in all
    int done;                           //  callbacks so far
    int ok;                             //  of which answered 200
    int failed_to_start;                //  pp_http_post returned -1
} s_chain_t;

static void
s_on_chain_done (const pp_http_response_t *response, void *arg)
{
    s_chain_t *chain = (s_chain_t *) arg;
    chain->done++;
    if (response->error == PP_HTTP_OK && response->status == 200
        && strstr (response->body, "\"length\":2,"))
        chain->ok++;
    if (chain->done < chain->wanted)
        if (pp_http_post (chain->http, chain->url, NULL, "{}", 2, 2000, 4096, s_on_chain_done,
                          chain))
            chain->failed_to_start++;
}

static void
test_pp_http_connection_reuse (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    char *url = s_url ("/ok");
    s_chain_t chain = {http, url, S_SEQUENTIAL, 0, 0, 0};
    atomic_store (&s_connections, 0);
    assert_int_equal (
        pp_http_post (http, url, NULL, "{}", 2, 2000, 4096, s_on_chain_done, &chain), 0);
    s_run (loop, &chain.done, S_SEQUENTIAL, 20000);
    assert_int_equal (chain.done, S_SEQUENTIAL);
    assert_int_equal (chain.ok, S_SEQUENTIAL);
    assert_int_equal (chain.failed_to_start, 0);
    int connections = atomic_load (&s_connections);
    assert_true (connections >= 1);
    assert_true (connections <= 2);
    zstr_free (&url);
    pp_http_destroy (&http);
    zloop_destroy (&loop);
}

static void
test_pp_http_callback_starts_request (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    char *url = s_url ("/ok");
    s_chain_t chain = {http, url, 5, 0, 0, 0};
    assert_int_equal (
        pp_http_post (http, url, NULL, "{}", 2, 2000, 4096, s_on_chain_done, &chain), 0);
    s_run (loop, &chain.done, 5, 10000);
    s_run (loop, &chain.done, 6, 50);   //  no sixth
    assert_int_equal (chain.done, 5);
    assert_int_equal (chain.ok, 5);
    assert_int_equal (pp_http_active (http), 0);
    zstr_free (&url);
    pp_http_destroy (&http);
    zloop_destroy (&loop);
}

static void
test_pp_http_destroy_in_flight (void **state)
{
    zloop_t *loop = zloop_new ();
    pp_http_t *http = pp_http_new (loop);
    char *url = s_url ("/slow");
    int done = 0;
    s_result_t result = {.counter = &done};
    for (int i = 0; i < 20; i++)
        assert_int_equal (
            pp_http_post (http, url, NULL, "{}", 2, 5000, 4096, s_on_done, &result), 0);
    //  Let them connect and send, but not finish
    s_run (loop, &done, 1, 50);
    assert_int_equal (pp_http_active (http), 20);
    assert_int_equal (result.calls, 0);
    pp_http_destroy (&http);
    assert_null (http);
    assert_int_equal (result.calls, 0);

    //  The loop runs on without it, and no callback shows up later
    s_run (loop, &done, 1, 400);
    assert_int_equal (result.calls, 0);
    zstr_free (&url);
    zloop_destroy (&loop);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_http_error_name),
        cmocka_unit_test (test_pp_http_one_request),
        cmocka_unit_test (test_pp_http_parallel),
        cmocka_unit_test (test_pp_http_timeout),
        cmocka_unit_test (test_pp_http_idle_wait),
        cmocka_unit_test (test_pp_http_too_big),
        cmocka_unit_test (test_pp_http_connect_refused),
        cmocka_unit_test (test_pp_http_connection_reuse),
        cmocka_unit_test (test_pp_http_callback_starts_request),
        cmocka_unit_test (test_pp_http_destroy_in_flight),
    };
    return cmocka_run_group_tests (tests, s_server_start, s_server_stop);
}
