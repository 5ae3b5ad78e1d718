/*  bench_curl - the event loop that drives libcurl multi in the benchmark's own HTTP clients  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  curl_multi_socket_action from an epoll set: curl's sockets and a timerfd
//  for its timer and the caller's own wake-up time, so a client with
//  hundreds of transfers in flight costs no more per transfer than one with
//  a few (curl_multi_poll would walk every transfer at every wake-up).
//  pingpost-loadgen and pingpost-rawbuyer use it; the services use
//  common/pp_http, which does the same inside a zloop.

#ifndef BENCH_CURL_H_INCLUDED
#define BENCH_CURL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

typedef struct bench_curl_loop bench_curl_loop_t;

//  Start a client: SIGINT and SIGTERM set the flag bench_interrupted
//  reads, SIGPIPE is ignored, libcurl is initialised. -1, after a message
//  naming `program`, when libcurl cannot be.
int
    bench_curl_start (const char *program);
//  A SIGINT or SIGTERM has come since bench_curl_start.
bool
    bench_interrupted (void);

//  Monotonic microseconds.
uint64_t
    bench_now_us (void);
//  Take over `multi`'s socket and timer callbacks (not owned). NULL, after
//  a perror naming `program`, when epoll or timerfd cannot be created.
bench_curl_loop_t *
    bench_curl_loop_new (CURLM *multi, const char *program);
//  Destroy; safe on NULL. Remove the transfers from the multi handle first.
void
    bench_curl_loop_destroy (bench_curl_loop_t **self_p);
//  Run curl's timeout action when it is due (a handle just added is due at
//  once) and return; else sleep until a socket is ready, curl's timer or
//  `wake_us` (bench_now_us time; UINT64_MAX: no limit of the caller's; at
//  most 100 ms) and act on every socket that is ready. Returns at once when
//  `wake_us` has passed. Finished transfers are left for
//  curl_multi_info_read: call it after each wait.
void
    bench_curl_loop_wait (bench_curl_loop_t *self, uint64_t wake_us);
//  Run curl's timeout action if it is due (call after adding handles, before
//  reading finished transfers).
void
    bench_curl_loop_timeouts (bench_curl_loop_t *self);

#endif
