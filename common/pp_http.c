/*  pp_http - outbound HTTP (libcurl multi) driven by a zloop: no thread per request  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  How it fits together: one curl multi handle per pp_http. curl tells us
//  which fds to watch (CURLMOPT_SOCKETFUNCTION) and when to call it back
//  (CURLMOPT_TIMERFUNCTION). Both go into one epoll set of our own: the fds
//  with epoll_ctl, the timeout as a timerfd in the same set. zloop watches
//  only the epoll fd, so a request costs the loop nothing: adding, changing
//  and removing zloop pollers and timers is a linear scan and a poll set
//  rebuild each time, which with hundreds of buyer connections was a
//  quarter of the auction's CPU. When the epoll fd is readable, every ready
//  fd (and the timer) is handed to curl_multi_socket_action, and then
//  finished transfers are drained from curl_multi_info_read and their
//  callbacks run. Requests and their easy handles are recycled through a
//  free list, so a request on a kept-alive connection costs no setup beyond
//  a few small copies.
//
//  Destroy a pp_http outside the loop's handlers (after zloop_start returns)
//  and before the loop itself: zloop may still hold this pass's events
//  pointing at it.

#include "pp_http.h"
#include "pp_util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#define S_FREE_MAX 4096                 //  idle requests kept for reuse
#define S_BUFFER_KEEP (64 * 1024)       //  a recycled request frees buffers larger than this
#define S_MAXCONNECTS 256               //  idle connections the multi handle keeps
#define S_MAX_HOST_CONNECTIONS 64       //  open connections per buyer host: more requests wait in curl
#define S_CONNECT_TIMEOUT_MS 1000       //  connect timeout, when the request's is longer
#define S_EVENTS_MAX 64                 //  epoll events taken per epoll_wait

typedef struct s_request s_request_t;

//  One request; reused from the free list once its callback has run.
struct s_request {
    CURL *easy;                         //  the easy handle, reset for each use
    struct curl_slist *headers;         //  Content-Type and an empty Expect
    char *content_type;                 //  the content type headers was built for
    char *body;                         //  copy of the POST body, NUL terminated
    size_t body_cap;                    //  bytes allocated at body
    char *answer;                       //  answer body so far, NUL terminated
    size_t answer_size;                 //  bytes in answer
    size_t answer_cap;                  //  bytes allocated at answer
    size_t max_response;                //  answer bytes allowed
    bool too_big;                       //  the answer passed max_response
    int timeout_ms;                     //  whole request
    int connect_timeout_ms;             //  connect phase
    int64_t started_us;                 //  monotonic, at pp_http_post
    pp_http_done_fn *done;              //  callback; Not owned
    void *arg;                          //  for done; Not owned
    char error [CURL_ERROR_SIZE];       //  curl's error text
    s_request_t *prev;                  //  in the active list
    s_request_t *next;                  //  in the active or free list
};

struct pp_http {
    zloop_t *loop;                      //  Not owned
    CURLM *multi;                       //  all transfers and the connection cache
    int epoll_fd;                       //  curl's fds and timer_fd; zloop watches this
    int timer_fd;                       //  timerfd standing for curl's timeout
    int64_t wanted_us;                  //  when curl last asked to be called (mono us), or 0
    int64_t armed_us;                   //  when timer_fd fires (mono us), or 0: disarmed
    bool polling;                       //  epoll_fd is registered with the loop
    s_request_t *active;                //  requests in flight
    size_t active_count;                //  length of active
    s_request_t *idle;                  //  requests to reuse
    size_t idle_count;                  //  length of idle
    bool dispatching;                   //  inside done callbacks
};

static pthread_once_t s_curl_once = PTHREAD_ONCE_INIT;
static CURLcode s_curl_init_rc = CURLE_OK;

static void
s_curl_init (void)
{
    s_curl_init_rc = curl_global_init (CURL_GLOBAL_DEFAULT);
}

const char *
pp_http_error_name (int error)
{
    switch (error) {
        case PP_HTTP_OK:        return "ok";
        case PP_HTTP_TIMEOUT:   return "timeout";
        case PP_HTTP_CONNECT:   return "connect";
        case PP_HTTP_TOO_BIG:   return "too_big";
        case PP_HTTP_FAILED:    return "failed";
        default:                return "unknown";
    }
}

//  --------------------------------------------------------------------------
//  Buffers grow by doubling; allocation failure is an assert, as in czmq.

static void
s_reserve (char **buf, size_t *cap, size_t want)
{
    if (want <= *cap)
        return;
    size_t size = *cap ? *cap : 256;
    while (size < want)
        size *= 2;
    *buf = (char *) realloc (*buf, size);
    assert (*buf);
    *cap = size;
}

static void
s_request_destroy (s_request_t **self_p)
{
    s_request_t *self = *self_p;
    if (!self)
        return;
    if (self->easy)
        curl_easy_cleanup (self->easy);
    curl_slist_free_all (self->headers);
    free (self->content_type);
    free (self->body);
    free (self->answer);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Write callback: append to the answer, or stop the transfer (curl then
//  fails it with CURLE_WRITE_ERROR) once it passes the cap.

static size_t
s_on_write (char *data, size_t size, size_t nmemb, void *arg)
{
    s_request_t *request = (s_request_t *) arg;
    size_t bytes = size * nmemb;
    if (bytes > request->max_response - request->answer_size) {
        request->too_big = true;
        return 0;
    }
    s_reserve (&request->answer, &request->answer_cap, request->answer_size + bytes + 1);
    memcpy (request->answer + request->answer_size, data, bytes);
    request->answer_size += bytes;
    request->answer [request->answer_size] = 0;
    return bytes;
}

//  --------------------------------------------------------------------------
//  zloop side: the epoll set is ready. Hand each ready fd to curl, and the
//  timer when it expired. An fd that an earlier call in this pass made curl
//  close is ignored by curl (it no longer tracks it).

static void s_drain (pp_http_t *self);
static int s_arm (pp_http_t *self, int64_t when_us);

static int
s_on_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    pp_http_t *self = (pp_http_t *) arg;
    struct epoll_event events [S_EVENTS_MAX];
    int count = epoll_wait (self->epoll_fd, events, S_EVENTS_MAX, 0);
    int running = 0;
    for (int i = 0; i < count; i++) {
        int fd = events [i].data.fd;
        if (fd == self->timer_fd) {
            uint64_t expirations;
            if (read (self->timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                zsys_error ("pp_http: timerfd read: %s", strerror (errno));
            self->armed_us = 0;
            curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            //  The wake may have come before curl's latest timeout (see
            //  s_on_curl_timer), and curl does not repeat a timeout it gave.
            //  curl rounds its timeouts down to the millisecond, so a wake
            //  at the time it gave can still be early for curl: never re-arm
            //  sooner than a millisecond from now, or this would spin.
            if (self->wanted_us && !self->armed_us) {
                int64_t soonest = pp_mono_us () + 1000;
                s_arm (self, self->wanted_us > soonest ? self->wanted_us : soonest);
            }
            continue;
        }
        int mask = 0;
        if (events [i].events & EPOLLIN)
            mask |= CURL_CSELECT_IN;
        if (events [i].events & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (events [i].events & (EPOLLERR | EPOLLHUP))
            mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action (self->multi, fd, mask, &running);
    }
    s_drain (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  curl side: watch an fd for these events, or stop watching it. Level
//  triggered, so a readiness curl did not consume is reported again.

static int
s_on_socket (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    pp_http_t *self = (pp_http_t *) userp;
    if (what == CURL_POLL_REMOVE) {
        //  curl may have closed the fd already, which removed it
        if (epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, NULL) && errno != EBADF
            && errno != ENOENT)
            zsys_error ("pp_http: cannot stop watching fd %d: %s", (int) fd, strerror (errno));
        return 0;
    }
    struct epoll_event event = {0};
    event.data.fd = fd;
    if (what & CURL_POLL_IN)
        event.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        event.events |= EPOLLOUT;
    //  socketp marks an fd this set already holds; a new one (or one curl
    //  closed and a new connection got the number of) is added
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl (self->epoll_fd, op, fd, &event);
    if (rc && op == EPOLL_CTL_ADD && errno == EEXIST)
        rc = epoll_ctl (self->epoll_fd, EPOLL_CTL_MOD, fd, &event);
    else
    if (rc && op == EPOLL_CTL_MOD && errno == ENOENT)
        rc = epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, fd, &event);
    if (rc) {
        zsys_error ("pp_http: cannot watch fd %d: %s", (int) fd, strerror (errno));
        return -1;
    }
    if (!socketp)
        curl_multi_assign (self->multi, fd, self);
    return 0;
}

//  Arm the timerfd to fire at when_us (monotonic); 0 or -1.
static int
s_arm (pp_http_t *self, int64_t when_us)
{
    int64_t delay_us = when_us - pp_mono_us ();
    struct itimerspec spec = {{0, 0}, {0, 0}};
    if (delay_us > 0) {
        spec.it_value.tv_sec = delay_us / 1000000;
        spec.it_value.tv_nsec = (delay_us % 1000000) * 1000;
    }
    else
        spec.it_value.tv_nsec = 1;      //  a zero it_value would disarm it
    if (timerfd_settime (self->timer_fd, 0, &spec, NULL)) {
        zsys_error ("pp_http: cannot set timer: %s", strerror (errno));
        return -1;
    }
    self->armed_us = when_us;
    return 0;
}

//  curl wants to be called back in timeout_ms (0: as soon as possible;
//  -1: never). curl calls this for almost every request, so the timerfd is
//  re-armed only when the new time is earlier than the armed one: a wake
//  before curl's time is harmless (curl finds nothing due) and re-arms for
//  the time curl wants; a stale wake after a "never" is as harmless.
static int
s_on_curl_timer (CURLM *multi, long timeout_ms, void *userp)
{
    pp_http_t *self = (pp_http_t *) userp;
    if (timeout_ms < 0) {
        self->wanted_us = 0;
        return 0;
    }
    self->wanted_us = pp_mono_us () + (int64_t) timeout_ms * 1000;
    if (self->armed_us && self->armed_us <= self->wanted_us)
        return 0;
    return s_arm (self, self->wanted_us);
}

//  --------------------------------------------------------------------------
//  Finished transfers: take each off the multi handle, tell its owner, and
//  recycle it. A callback may start new requests (pp_http_post adds handles,
//  which is allowed here: we are not inside a curl callback). The request is
//  recycled only after its callback, since the body it lent is ours.

static void
s_request_recycle (pp_http_t *self, s_request_t *request)
{
    if (self->idle_count >= S_FREE_MAX) {
        s_request_destroy (&request);
        return;
    }
    if (request->answer_cap > S_BUFFER_KEEP) {
        free (request->answer);
        request->answer = NULL;
        request->answer_cap = 0;
    }
    if (request->body_cap > S_BUFFER_KEEP) {
        free (request->body);
        request->body = NULL;
        request->body_cap = 0;
    }
    request->done = NULL;
    request->arg = NULL;
    request->prev = NULL;
    request->next = self->idle;
    self->idle = request;
    self->idle_count++;
}

static void
s_unlink_active (pp_http_t *self, s_request_t *request)
{
    if (request->prev)
        request->prev->next = request->next;
    else
        self->active = request->next;
    if (request->next)
        request->next->prev = request->prev;
    request->prev = request->next = NULL;
    assert (self->active_count > 0);
    self->active_count--;
}

static void
s_finish (pp_http_t *self, s_request_t *request, CURLcode result)
{
    pp_http_response_t response = {0};
    response.latency_us = pp_mono_us () - request->started_us;
    response.body = "";
    long status = 0;
    curl_easy_getinfo (request->easy, CURLINFO_RESPONSE_CODE, &status);
    response.status = status;
    if (result == CURLE_OK) {
        response.error = PP_HTTP_OK;
        if (request->answer) {
            response.body = request->answer;
            response.body_size = request->answer_size;
        }
    }
    else {
        response.error_text = request->error [0] ? request->error : curl_easy_strerror (result);
        if (request->too_big || result == CURLE_FILESIZE_EXCEEDED) {
            response.error = PP_HTTP_TOO_BIG;
            response.error_text = "answer body over the limit";
        }
        else
        if (result == CURLE_OPERATION_TIMEDOUT) {
            //  The connect timeout is shorter than the request's: when it
            //  fired, the buyer could not be reached, which is "connect"
            curl_off_t connected_us = 0;
            curl_easy_getinfo (request->easy, CURLINFO_CONNECT_TIME_T, &connected_us);
            if (connected_us == 0 && request->connect_timeout_ms < request->timeout_ms
                && response.latency_us < (int64_t) request->timeout_ms * 1000)
                response.error = PP_HTTP_CONNECT;
            else
                response.error = PP_HTTP_TIMEOUT;
        }
        else
        if (result == CURLE_COULDNT_CONNECT || result == CURLE_COULDNT_RESOLVE_HOST
            || result == CURLE_COULDNT_RESOLVE_PROXY)
            response.error = PP_HTTP_CONNECT;
        else
            response.error = PP_HTTP_FAILED;
    }
    request->done (&response, request->arg);
}

static void
s_drain (pp_http_t *self)
{
    bool was_dispatching = self->dispatching;
    self->dispatching = true;
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read (self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        //  msg dies with curl_multi_remove_handle: copy what we need first
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo (easy, CURLINFO_PRIVATE, &priv);
        s_request_t *request = (s_request_t *) priv;
        assert (request && request->easy == easy);
        curl_multi_remove_handle (self->multi, easy);
        s_unlink_active (self, request);
        s_finish (self, request, result);
        s_request_recycle (self, request);
    }
    self->dispatching = was_dispatching;
}

//  --------------------------------------------------------------------------

pp_http_t *
pp_http_new (zloop_t *loop)
{
    assert (loop);
    pthread_once (&s_curl_once, s_curl_init);
    if (s_curl_init_rc != CURLE_OK) {
        zsys_error ("pp_http: curl_global_init failed: %s", curl_easy_strerror (s_curl_init_rc));
        return NULL;
    }
    pp_http_t *self = (pp_http_t *) zmalloc (sizeof (pp_http_t));
    self->loop = loop;
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = self->timer_fd};
    if (self->epoll_fd == -1 || self->timer_fd == -1
        || epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, self->timer_fd, &event)) {
        zsys_error ("pp_http: cannot make the epoll set: %s", strerror (errno));
        pp_http_destroy (&self);
        return NULL;
    }
    zmq_pollitem_t item = {NULL, self->epoll_fd, ZMQ_POLLIN, 0};
    if (zloop_poller (loop, &item, s_on_ready, self)) {
        zsys_error ("pp_http: cannot watch the epoll set");
        pp_http_destroy (&self);
        return NULL;
    }
    self->polling = true;
    self->multi = curl_multi_init ();
    if (!self->multi) {
        zsys_error ("pp_http: curl_multi_init failed");
        pp_http_destroy (&self);
        return NULL;
    }
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_on_socket);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_on_curl_timer);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_MAXCONNECTS, (long) S_MAXCONNECTS);
    curl_multi_setopt (self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) S_MAX_HOST_CONNECTIONS);
    return self;
}

void
pp_http_destroy (pp_http_t **self_p)
{
    assert (self_p);
    pp_http_t *self = *self_p;
    if (!self)
        return;
    assert (!self->dispatching);        //  not from a done callback
    while (self->active) {
        s_request_t *request = self->active;
        s_unlink_active (self, request);
        curl_multi_remove_handle (self->multi, request->easy);
        s_request_destroy (&request);
    }
    while (self->idle) {
        s_request_t *request = self->idle;
        self->idle = request->next;
        s_request_destroy (&request);
    }
    //  Closes the cached connections (telling s_on_socket to forget them)
    if (self->multi)
        curl_multi_cleanup (self->multi);
    if (self->polling) {
        zmq_pollitem_t item = {NULL, self->epoll_fd, 0, 0};
        zloop_poller_end (self->loop, &item);
    }
    if (self->timer_fd != -1)
        close (self->timer_fd);
    if (self->epoll_fd != -1)
        close (self->epoll_fd);
    free (self);
    *self_p = NULL;
}

//  Set up the easy handle for one POST; 0 or -1.
static int
s_request_setup (s_request_t *request, const char *url, size_t size)
{
    CURL *easy = request->easy;
    CURLcode rc = CURLE_OK;
    curl_easy_reset (easy);
    request->error [0] = 0;
#define S_SET(option, value)                                        \
    if (rc == CURLE_OK)                                             \
        rc = curl_easy_setopt (easy, option, value);
    S_SET (CURLOPT_URL, url);
    S_SET (CURLOPT_PRIVATE, (void *) request);
    S_SET (CURLOPT_ERRORBUFFER, request->error);
    S_SET (CURLOPT_NOSIGNAL, 1L);
    S_SET (CURLOPT_PROTOCOLS_STR, "http,https");
    S_SET (CURLOPT_TIMEOUT_MS, (long) request->timeout_ms);
    S_SET (CURLOPT_CONNECTTIMEOUT_MS, (long) request->connect_timeout_ms);
    S_SET (CURLOPT_TCP_NODELAY, 1L);
    S_SET (CURLOPT_TCP_KEEPALIVE, 1L);
    S_SET (CURLOPT_POST, 1L);
    //  POSTFIELDS points at our copy (no copy inside curl); the size covers
    //  bodies with NUL bytes in them
    S_SET (CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) size);
    S_SET (CURLOPT_POSTFIELDS, request->body);
    S_SET (CURLOPT_HTTPHEADER, request->headers);
    S_SET (CURLOPT_WRITEFUNCTION, s_on_write);
    S_SET (CURLOPT_WRITEDATA, (void *) request);
    //  Stops early when Content-Length says the answer is too big
    if (request->max_response > 0 && request->max_response < (size_t) INT64_MAX)
        S_SET (CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) request->max_response);
#undef S_SET
    if (rc != CURLE_OK) {
        zsys_error ("pp_http: cannot set up request: %s", curl_easy_strerror (rc));
        return -1;
    }
    return 0;
}

int
pp_http_post (pp_http_t *self, const char *url, const char *content_type, const char *body,
              size_t size, int timeout_ms, size_t max_response, pp_http_done_fn *done, void *arg)
{
    assert (self);
    assert (url);
    assert (done);
    assert (body || size == 0);
    if (timeout_ms <= 0)
        return -1;
    s_request_t *request = self->idle;
    if (request) {
        self->idle = request->next;
        self->idle_count--;
        request->next = NULL;
    }
    else {
        request = (s_request_t *) zmalloc (sizeof (s_request_t));
        request->easy = curl_easy_init ();
        if (!request->easy) {
            zsys_error ("pp_http: curl_easy_init failed");
            s_request_destroy (&request);
            return -1;
        }
    }
    //  The body: a copy we keep, so the caller's buffer may go at once
    s_reserve (&request->body, &request->body_cap, size + 1);
    if (size)
        memcpy (request->body, body, size);
    request->body [size] = 0;
    //  Headers: rebuilt only when the content type changes
    if (!content_type)
        content_type = "application/json";
    if (!request->content_type || strcmp (request->content_type, content_type) != 0) {
        curl_slist_free_all (request->headers);
        free (request->content_type);
        request->content_type = strdup (content_type);
        assert (request->content_type);
        char *line = zsys_sprintf ("Content-Type: %s", content_type);
        assert (line);
        request->headers = curl_slist_append (NULL, line);
        zstr_free (&line);
        if (request->headers)
            request->headers = curl_slist_append (request->headers, "Expect:");
        assert (request->headers);
    }
    request->answer_size = 0;
    if (request->answer)
        request->answer [0] = 0;
    request->too_big = false;
    request->max_response = max_response;
    request->timeout_ms = timeout_ms;
    request->connect_timeout_ms =
        timeout_ms < S_CONNECT_TIMEOUT_MS ? timeout_ms : S_CONNECT_TIMEOUT_MS;
    request->done = done;
    request->arg = arg;
    request->started_us = pp_mono_us ();
    if (s_request_setup (request, url, size)) {
        s_request_recycle (self, request);
        return -1;
    }
    CURLMcode mrc = curl_multi_add_handle (self->multi, request->easy);
    if (mrc != CURLM_OK) {
        zsys_error ("pp_http: cannot start request: %s", curl_multi_strerror (mrc));
        s_request_recycle (self, request);
        return -1;
    }
    request->prev = NULL;
    request->next = self->active;
    if (self->active)
        self->active->prev = request;
    self->active = request;
    self->active_count++;
    return 0;
}

size_t
pp_http_active (pp_http_t *self)
{
    assert (self);
    return self->active_count;
}
