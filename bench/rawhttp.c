/*  rawhttp - the raw HTTP baseline: libmicrohttpd set up like intake, reads each POST, answers fixed JSON  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  pingpost-rawhttp --port N [--address 127.0.0.1] [--pidfile FILE]
//
//  The ceiling of the publisher gateway on this machine: what libmicrohttpd
//  alone answers, driven by the same wrk and scripts/bench-lib/leads.lua as
//  the pipeline (scripts/bench runs it as the `rawhttp` baseline). The
//  daemon is configured as services/intake/intake_server.c configures it:
//  one internal polling thread in poll mode (not epoll, see DESIGN section
//  8), suspend/resume allowed, 4,000 connections at most, a 60 s idle
//  timeout, address reuse. Each request's body is read into a growing
//  buffer as intake reads it (so the body's bytes are touched), and every
//  POST is answered 200 with the same small JSON, shaped and sized like
//  intake's answer to a rejected lead. Nothing else: no parsing, no
//  pipeline. On SIGTERM/SIGINT it stops and prints one JSON line to stdout
//  with the requests it answered.

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <microhttpd.h>

#define RH_EXIT_USAGE 64
#define RH_BODY_LIMIT (1024 * 1024)     //  intake's default body limit (1 MiB)

//  The answer to every POST: the shape and about the size of intake's answer
//  to a lead that validate rejected.
static const char s_answer []
    = "{\"lead_id\":\"01kbrawhttp0000000000000000\",\"status\":\"rejected\",\"price\":0,"
      "\"reasons\":[{\"code\":\"phone_invalid\",\"field\":\"phone\","
      "\"message\":\"is not a valid US phone number\"}]}";

//  One request's state, as intake keeps it.
typedef struct {
    char *body;                         //  body so far, NUL terminated
    size_t size;                        //  bytes in body
    size_t cap;                         //  bytes allocated
    bool too_big;                       //  over RH_BODY_LIMIT: the rest is dropped
} rh_request_t;

static atomic_ullong s_answered;        //  requests answered 200
static atomic_ullong s_body_bytes;      //  body bytes read

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: pingpost-rawhttp --port N [--address 127.0.0.1] [--pidfile FILE]\n"
        "answers every POST with a fixed JSON (libmicrohttpd as intake runs it); stops on\n"
        "SIGTERM/SIGINT and prints {\"answered\": N, \"body_bytes\": M}\n");
}

static enum MHD_Result
s_respond (struct MHD_Connection *connection, unsigned status, const char *body)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        strlen (body), (void *) body, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

//  MHD calls this first without a body, then once per body chunk, then once
//  with *upload_data_size 0: the body is complete and we answer.
static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size,
              void **con_cls)
{
    rh_request_t *request = (rh_request_t *) *con_cls;
    if (!request) {
        request = (rh_request_t *) calloc (1, sizeof (rh_request_t));
        assert (request);
        *con_cls = request;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (request->too_big || request->size + size > RH_BODY_LIMIT) {
            request->too_big = true;
            return MHD_YES;
        }
        if (request->size + size + 1 > request->cap) {
            size_t cap = request->cap ? request->cap : 1024;
            while (cap < request->size + size + 1)
                cap *= 2;
            request->body = (char *) realloc (request->body, cap);
            assert (request->body);
            request->cap = cap;
        }
        memcpy (request->body + request->size, upload_data, size);
        request->size += size;
        request->body [request->size] = 0;
        return MHD_YES;
    }
    if (strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0)
        return s_respond (connection, 200, "{\"status\":\"ok\"}");
    if (request->too_big)
        return s_respond (connection, 413,
                          "{\"error\":{\"code\":\"body_too_large\",\"message\":\"too large\"}}");
    atomic_fetch_add (&s_answered, 1);
    atomic_fetch_add (&s_body_bytes, request->size);
    return s_respond (connection, 200, s_answer);
}

static void
s_on_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                enum MHD_RequestTerminationCode toe)
{
    rh_request_t *request = (rh_request_t *) *con_cls;
    if (request) {
        free (request->body);
        free (request);
        *con_cls = NULL;
    }
}

int
main (int argc, char *argv [])
{
    long port = -1;
    const char *address = "127.0.0.1";
    const char *pidfile = NULL;
    static const struct option options [] = {
        {"port", required_argument, NULL, 'p'},
        {"address", required_argument, NULL, 'a'},
        {"pidfile", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "p:a:P:h", options, NULL)) != -1) {
        switch (opt) {
            case 'p': {
                char *end;
                errno = 0;
                port = strtol (optarg, &end, 10);
                if (errno || end == optarg || *end || port < 0 || port > 65535) {
                    fprintf (stderr, "pingpost-rawhttp: bad --port '%s'\n", optarg);
                    return RH_EXIT_USAGE;
                }
                break;
            }
            case 'a': address = optarg; break;
            case 'P': pidfile = optarg; break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return RH_EXIT_USAGE;
        }
    }
    if (optind < argc || port < 0) {
        s_usage (stderr);
        return RH_EXIT_USAGE;
    }
    struct sockaddr_in bind_address;
    memset (&bind_address, 0, sizeof bind_address);
    bind_address.sin_family = AF_INET;
    bind_address.sin_port = htons ((uint16_t) port);
    if (inet_pton (AF_INET, address, &bind_address.sin_addr) != 1) {
        fprintf (stderr, "pingpost-rawhttp: bad --address '%s' (an IPv4 address)\n", address);
        return RH_EXIT_USAGE;
    }

    //  The stop signals are taken by sigwait in main, never by MHD's thread
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGTERM);
    sigaddset (&stop_signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    signal (SIGPIPE, SIG_IGN);
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }

    //  Exactly intake's daemon (services/intake/intake_server.c)
    struct MHD_Daemon *daemon = MHD_start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME
            | MHD_USE_ERROR_LOG,
        0, NULL, NULL, s_on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &bind_address,
        MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int) 4000, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1, MHD_OPTION_END);
    if (!daemon) {
        fprintf (stderr, "pingpost-rawhttp: cannot listen on %s:%ld\n", address, port);
        return EXIT_FAILURE;
    }
    if (pidfile) {
        FILE *file = fopen (pidfile, "w");
        if (!file || fprintf (file, "%ld\n", (long) getpid ()) < 0 || fclose (file) != 0) {
            fprintf (stderr, "pingpost-rawhttp: cannot write %s: %s\n", pidfile, strerror (errno));
            pidfile = NULL;
        }
    }
    fprintf (stderr, "pingpost-rawhttp: listening on %s:%ld\n", address, port);

    int signum = 0;
    while (sigwait (&stop_signals, &signum) != 0)
        ;
    MHD_stop_daemon (daemon);
    if (pidfile)
        unlink (pidfile);
    printf ("{\"answered\":%llu,\"body_bytes\":%llu}\n",
            (unsigned long long) atomic_load (&s_answered),
            (unsigned long long) atomic_load (&s_body_bytes));
    return 0;
}
