/*  bench_curl - the event loop that drives libcurl multi in the benchmark's own HTTP clients  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "bench_curl.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BC_MAX_SLEEP_US 100000          //  wake at least this often

struct bench_curl_loop {
    CURLM *multi;                       //  Not owned
    int epoll;                          //  curl's sockets and the timerfd
    int timer;                          //  timerfd: the next wake-up
    uint64_t curl_due_us;               //  curl's timeout action; UINT64_MAX: none
    const char *program;                //  for error messages
};

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal (int signum)
{
    s_interrupted = 1;
}

int
bench_curl_start (const char *program)
{
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    signal (SIGPIPE, SIG_IGN);
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf (stderr, "%s: curl_global_init failed\n", program);
        return -1;
    }
    return 0;
}

bool
bench_interrupted (void)
{
    return s_interrupted != 0;
}

uint64_t
bench_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static int
s_on_curl_socket (CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_arg)
{
    bench_curl_loop_t *self = (bench_curl_loop_t *) arg;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl (self->epoll, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event event;
    memset (&event, 0, sizeof event);
    event.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    event.data.fd = fd;
    if (epoll_ctl (self->epoll, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT)
        epoll_ctl (self->epoll, EPOLL_CTL_ADD, fd, &event);
    return 0;
}

static int
s_on_curl_timer (CURLM *multi, long timeout_ms, void *arg)
{
    bench_curl_loop_t *self = (bench_curl_loop_t *) arg;
    self->curl_due_us = timeout_ms < 0 ? UINT64_MAX
                                       : bench_now_us () + (uint64_t) timeout_ms * 1000u;
    return 0;
}

bench_curl_loop_t *
bench_curl_loop_new (CURLM *multi, const char *program)
{
    assert (multi);
    bench_curl_loop_t *self = (bench_curl_loop_t *) calloc (1, sizeof (bench_curl_loop_t));
    assert (self);
    self->multi = multi;
    self->program = program;
    self->curl_due_us = UINT64_MAX;
    self->epoll = epoll_create1 (EPOLL_CLOEXEC);
    self->timer = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event event;
    memset (&event, 0, sizeof event);
    event.events = EPOLLIN;
    event.data.fd = self->timer;
    if (self->epoll < 0 || self->timer < 0
        || epoll_ctl (self->epoll, EPOLL_CTL_ADD, self->timer, &event) != 0) {
        fprintf (stderr, "%s: epoll/timerfd: %s\n", program, strerror (errno));
        bench_curl_loop_destroy (&self);
        return NULL;
    }
    curl_multi_setopt (multi, CURLMOPT_SOCKETFUNCTION, s_on_curl_socket);
    curl_multi_setopt (multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (multi, CURLMOPT_TIMERFUNCTION, s_on_curl_timer);
    curl_multi_setopt (multi, CURLMOPT_TIMERDATA, self);
    return self;
}

void
bench_curl_loop_destroy (bench_curl_loop_t **self_p)
{
    assert (self_p);
    bench_curl_loop_t *self = *self_p;
    if (!self)
        return;
    if (self->multi) {
        curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, NULL);
        curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, NULL);
    }
    if (self->timer >= 0)
        close (self->timer);
    if (self->epoll >= 0)
        close (self->epoll);
    free (self);
    *self_p = NULL;
}

//  Run curl's timeout action when due; true when it ran.
static bool
s_timeouts (bench_curl_loop_t *self)
{
    if (self->curl_due_us > bench_now_us ())
        return false;
    self->curl_due_us = UINT64_MAX;
    int running;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    return true;
}

void
bench_curl_loop_timeouts (bench_curl_loop_t *self)
{
    s_timeouts (self);
}

void
bench_curl_loop_wait (bench_curl_loop_t *self, uint64_t wake_us)
{
    //  A timeout action may have finished transfers: back to the caller,
    //  who reads them, before any sleep
    if (s_timeouts (self))
        return;
    uint64_t now = bench_now_us ();
    if (wake_us > now + BC_MAX_SLEEP_US)
        wake_us = now + BC_MAX_SLEEP_US;
    if (self->curl_due_us < wake_us)
        wake_us = self->curl_due_us;
    if (wake_us <= now)
        return;
    struct itimerspec when = {{0, 0}, {0, 0}};
    when.it_value.tv_sec = (time_t) (wake_us / 1000000u);
    when.it_value.tv_nsec = (long) (wake_us % 1000000u) * 1000;
    timerfd_settime (self->timer, TFD_TIMER_ABSTIME, &when, NULL);
    struct epoll_event events [64];
    int count = epoll_wait (self->epoll, events, 64, -1);
    for (int i = 0; i < count; i++) {
        int fd = events [i].data.fd;
        if (fd == self->timer) {
            uint64_t expirations;
            if (read (self->timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                fprintf (stderr, "%s: timerfd read: %s\n", self->program, strerror (errno));
            continue;
        }
        int mask = ((events [i].events & EPOLLIN) ? CURL_CSELECT_IN : 0)
                 | ((events [i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0)
                 | ((events [i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
        int running;
        curl_multi_socket_action (self->multi, fd, mask, &running);
    }
}
