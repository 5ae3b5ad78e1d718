/*  pp_http - outbound HTTP (libcurl multi) driven by a zloop: no thread per request  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_HTTP_H_INCLUDED
#define PP_HTTP_H_INCLUDED

#include <czmq.h>

typedef enum {
    PP_HTTP_OK = 0,             //  an answer came (any status)
    PP_HTTP_TIMEOUT,            //  no full answer within the timeout
    PP_HTTP_CONNECT,            //  could not connect
    PP_HTTP_TOO_BIG,            //  answer body over the limit
    PP_HTTP_FAILED              //  any other transport failure
} pp_http_error_t;

//  "ok", "timeout", "connect", "too_big", "failed".
const char *
    pp_http_error_name (int error);

typedef struct {
    pp_http_error_t error;      //  PP_HTTP_OK when status/body are set
    long status;                //  HTTP status
    const char *body;           //  answer body, NUL terminated; borrowed for the callback
    size_t body_size;           //  bytes in body
    int64_t latency_us;         //  from start to done
    const char *error_text;     //  curl's message when error != OK
} pp_http_response_t;

//  Called once per request, from the loop.
typedef void (pp_http_done_fn) (const pp_http_response_t *response, void *arg);

typedef struct pp_http pp_http_t;

//  Create a client driven by `loop` (not owned). Connections are kept alive
//  and reused per host.
pp_http_t *
    pp_http_new (zloop_t *loop);
//  Abort requests in flight (their callbacks are not called) and destroy.
void
    pp_http_destroy (pp_http_t **self_p);
//  POST body (copied) to url with the content type; `done` runs when it ends.
//  The answer body is capped at max_response bytes (PP_HTTP_TOO_BIG past it).
//  Returns 0, or -1 when the request could not start (done is not called).
int
    pp_http_post (pp_http_t *self, const char *url, const char *content_type, const char *body,
                  size_t size, int timeout_ms, size_t max_response, pp_http_done_fn *done,
                  void *arg);
//  Requests in flight.
size_t
    pp_http_active (pp_http_t *self);

#endif
