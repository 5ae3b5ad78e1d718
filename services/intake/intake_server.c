/*  intake_server - the publishers' HTTP gateway: auth, parse, structural checks, hold until the result  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "intake_server.h"
#include "pp_db.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_outbox.h"
#include "pp_stage.h"
#include "pp_util.h"
#include "pp_watch.h"

#include <microhttpd.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>

//  Two threads share this server. libmicrohttpd's one internal thread (poll
//  mode, see DESIGN section 8) parses requests, pushes leads to validate and
//  suspends each connection; the zloop thread takes results from the
//  pipeline, resumes the connection with its answer, answers leads whose
//  deadline passed, and owns the ledger outbox. Each ZeroMQ socket is used
//  by one thread only; the pending table and its deadline heap are shared
//  under `mutex`.

#define S_HISTOGRAM_BUCKETS 14
static const double s_buckets [S_HISTOGRAM_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
#define S_STATUSES 6            //  index = pp_status_t (1..5)
#define S_SWEEP_MS 2            //  deadline check period
#define S_MAX_FIELDS 500        //  members of fields, consent or signals at most
#define S_IDEM_KEY_MAX 255      //  Idempotency-Key: 1..255 visible ASCII characters
#define S_IDEM_POLL_MS 50       //  re-check period while a key's first request is in flight

typedef enum {
    S_ROUTE_NONE = 0,
    S_ROUTE_LEADS,
    S_ROUTE_HEALTH,
    S_ROUTE_METRICS,
    S_ROUTE_STATUS,             //  GET /v1/leads/{id}
    S_ROUTE_ERROR               //  answer already decided at the first call
} s_route_t;

//  S_CLAIMED: a keyed lead whose key the zloop thread claimed; the MHD thread
//  pushes it on when the connection resumes.
typedef enum { S_READING = 0, S_SUSPENDED, S_CLAIMED, S_ANSWERED } s_state_t;

//  One HTTP request, from its first callback to MHD's completion notice.
typedef struct {
    s_route_t route;            //  what it asks for
    s_state_t state;            //  where it is
    struct MHD_Connection *connection;  //  Not owned: the connection it came on
    char *body;                 //  request body so far
    size_t size;                //  bytes in body
    size_t cap;                 //  allocated
    bool too_big;               //  body passed the limit; the rest is discarded
    unsigned int http_status;   //  answer status, set before resume
    char *answer;               //  answer body (JSON), set before resume
    char lead_id [PP_LEAD_ID_SIZE + 1];  //  lead id once pushed
    int64_t received_us;        //  wall clock at push
    int64_t started_mono;       //  monotonic clock at push
    uint32_t publisher_id;      //  for the answered event
    char *base_json;            //  publisher/source/vertical... as a JSON object text
    char *idem_key;             //  Idempotency-Key header, or NULL (the hot path)
    bool idem_claimed;          //  holds the key's claim: its answer is stored
    bool replayed;              //  answer is the key's stored first answer
    int64_t wait_until_us;      //  wall clock: stop waiting for the key's first answer
    pp_lead_t *lead;            //  keyed lead until its key is claimed
    pp_event_t *received;       //  its received event, sent once claimed
} s_request_t;

//  A claim to settle in PostgreSQL (zloop thread): store the answer, or
//  delete the claim when the answer was not a business answer.
typedef struct {
    uint32_t publisher_id;      //  whose key
    char *key;                  //  the key
    char lead_id [PP_LEAD_ID_SIZE + 1];  //  the claim's lead
    char *answer;               //  200 answer body; NULL: delete the claim
} s_idem_write_t;

//  A deadline in the heap; stale when its lead was answered already.
typedef struct {
    int64_t deadline_us;        //  wall clock
    char lead_id [PP_LEAD_ID_SIZE + 1];  //  which lead
} s_deadline_t;

//  Token bucket of one publisher (MHD thread only).
typedef struct {
    double tokens;              //  requests allowed now
    int64_t last_mono;          //  last refill
} s_bucket_t;

struct intake_server {
    const pp_config_t *config;  //  Not owned
    int slot;                   //  our slot
    char instance [5];          //  random tag for event ids
    _Atomic uint64_t event_seq; //  events made (both threads)
    pp_watch_t *watch;          //  market (zloop thread reloads, MHD thread links)
    pp_db_t *db;                //  the request path's own session, waits bounded (zloop thread)
    int64_t db_retry_at;        //  monotonic us: next reconnect of db allowed
    int db_backoff_ms;          //  current reconnect back-off, 0 while db is fine
    struct MHD_Daemon *daemon;  //  the HTTP server
    zsock_t *to_validate;       //  PUSH to every validate slot (MHD thread)
    zsock_t *lookups_out;       //  inproc PUSH of status requests (MHD thread)
    zsock_t *lookups_in;        //  inproc PULL of status requests (zloop thread)
    zsock_t *replies;           //  PULL bound on our reply endpoint (zloop thread)
    pp_outbox_t *outbox;        //  ledger events (zloop thread)
    zloop_t *loop;              //  the zloop thread's loop
    pthread_mutex_t mutex;      //  guards pending, heap, received and sweeping
    zlistx_t *received;         //  received events the MHD thread made, for the outbox
    bool sweeping;              //  the deadline sweep runs or was asked to start
    int sweep_timer;            //  its zloop timer, 0 while it sleeps (zloop thread)
    zhashx_t *pending;          //  lead id -> s_request_t (suspended connections)
    s_deadline_t *heap;         //  min-heap of deadlines
    size_t heap_size;           //  entries in heap
    size_t heap_cap;            //  allocated entries
    zhashx_t *buckets;          //  publisher id -> s_bucket_t (MHD thread)
    zlistx_t *idem_waiting;     //  keyed requests waiting for a first answer (zloop thread)
    zlistx_t *idem_writes;      //  s_idem_write_t to settle (under mutex)
    atomic_bool outbox_full;    //  back-pressure: answer 503
    atomic_bool stopping;       //  shutting down: answer 503
    _Atomic uint64_t by_status [S_STATUSES];      //  answered leads by status
    _Atomic uint64_t http_errors [600];           //  error answers by HTTP status
    _Atomic uint64_t hist [S_HISTOGRAM_BUCKETS + 1];  //  answer time buckets (+Inf last)
    _Atomic uint64_t hist_sum_us;                 //  sum of answer times
    _Atomic uint64_t hist_count;                  //  answers timed
};

//  --------------------------------------------------------------------------
//  Small helpers

//  The request path's database session (idempotency keys, lead status;
//  the market's session is the watch's), or NULL while the database cannot
//  be reached. Every wait on it is bounded (intake/db_timeout_ms, see
//  intake_server_new; a reconnect by libpq's connect_timeout), so a
//  database that hangs (a lock held on idempotency_keys, a stopped server)
//  costs a request that long and then a 503, not the zloop thread, which
//  answers every lead. A broken session is made again at most every 100
//  ms, doubling to 5 s.
static pp_db_t *
s_db (intake_server_t *self)
{
    if (pp_db_ok (self->db))
        return self->db;
    int64_t now = pp_mono_us ();
    if (now < self->db_retry_at)
        return NULL;
    if (pp_db_reset (self->db) == 0) {
        if (self->db_backoff_ms)
            zsys_notice ("intake: database session restored");
        self->db_backoff_ms = 0;
        return self->db;
    }
    self->db_backoff_ms = self->db_backoff_ms ? self->db_backoff_ms * 2 : 100;
    if (self->db_backoff_ms > 5000)
        self->db_backoff_ms = 5000;
    self->db_retry_at = pp_mono_us () + (int64_t) self->db_backoff_ms * 1000;
    return NULL;
}

//  pp_db_exec on the request path's session; NULL when it failed or the
//  session is down (logged by pp_db, or when it last failed to reconnect).
static PGresult *
s_db_exec (intake_server_t *self, const char *what, const char *sql, int nparams,
           const char *const *params)
{
    pp_db_t *db = s_db (self);
    return db ? pp_db_exec (db, what, sql, nparams, params) : NULL;
}

//  pp_db_command on the request path's session: 0, or -1 as s_db_exec.
static int
s_db_command (intake_server_t *self, const char *what, const char *sql, int nparams,
              const char *const *params)
{
    pp_db_t *db = s_db (self);
    return db ? pp_db_command (db, what, sql, nparams, params) : -1;
}

static void
s_request_free (s_request_t *request)
{
    if (!request)
        return;
    free (request->body);
    free (request->answer);
    free (request->base_json);
    free (request->idem_key);
    pp_lead_destroy (&request->lead);
    pp_event_destroy (&request->received);
    free (request);
}

static void
s_idem_write_destroy (void **item_p)
{
    s_idem_write_t *write = (s_idem_write_t *) *item_p;
    if (write) {
        free (write->key);
        free (write->answer);
        free (write);
    }
    *item_p = NULL;
}

static char *
s_error_body (const char *code, const char *message, cJSON *details)
{
    cJSON *root = cJSON_CreateObject ();
    cJSON *error = cJSON_AddObjectToObject (root, "error");
    cJSON_AddStringToObject (error, "code", code);
    cJSON_AddStringToObject (error, "message", message);
    if (details)
        cJSON_AddItemToObject (error, "details", details);
    char *text = pp_json_print (root);
    cJSON_Delete (root);
    return text;
}

//  Queue an answer; `replayed` adds "Idempotent-Replayed: true".
static enum MHD_Result
s_respond_as (struct MHD_Connection *connection, unsigned int status, char *body,
              const char *content_type, bool replayed)
{
    struct MHD_Response *response
        = MHD_create_response_from_buffer (strlen (body), body, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (replayed)
        MHD_add_response_header (response, "Idempotent-Replayed", "true");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_respond (struct MHD_Connection *connection, unsigned int status, char *body,
           const char *content_type)
{
    return s_respond_as (connection, status, body, content_type, false);
}

static enum MHD_Result
s_respond_error (intake_server_t *self, struct MHD_Connection *connection, unsigned int status,
                 const char *code, const char *message, cJSON *details)
{
    if (status < 600)
        atomic_fetch_add (&self->http_errors [status], 1);
    return s_respond (connection, status, s_error_body (code, message, details),
                      "application/json");
}

static pp_event_t *
s_event (intake_server_t *self, const char *lead_id, const char *kind)
{
    char id [PP_EVENT_ID_MAX + 1];
    uint64_t n = atomic_fetch_add (&self->event_seq, 1) + 1;
    pp_event_id_make (id, sizeof id, lead_id, PP_STAGE_INTAKE, self->instance, n);
    return pp_event_new (id, lead_id, kind, PP_STAGE_INTAKE, pp_now_us ());
}

//  --------------------------------------------------------------------------
//  Deadline heap (caller holds the mutex)

static void
s_heap_push (intake_server_t *self, int64_t deadline_us, const char *lead_id)
{
    if (self->heap_size == self->heap_cap) {
        self->heap_cap = self->heap_cap ? self->heap_cap * 2 : 1024;
        self->heap = (s_deadline_t *) realloc (self->heap, self->heap_cap * sizeof (s_deadline_t));
        assert (self->heap);
    }
    size_t i = self->heap_size++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->heap [parent].deadline_us <= deadline_us)
            break;
        self->heap [i] = self->heap [parent];
        i = parent;
    }
    self->heap [i].deadline_us = deadline_us;
    memcpy (self->heap [i].lead_id, lead_id, PP_LEAD_ID_SIZE + 1);
}

static void
s_heap_pop (intake_server_t *self)
{
    assert (self->heap_size > 0);
    s_deadline_t last = self->heap [--self->heap_size];
    size_t i = 0;
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= self->heap_size)
            break;
        if (child + 1 < self->heap_size
            && self->heap [child + 1].deadline_us < self->heap [child].deadline_us)
            child++;
        if (self->heap [child].deadline_us >= last.deadline_us)
            break;
        self->heap [i] = self->heap [child];
        i = child;
    }
    if (self->heap_size > 0)
        self->heap [i] = last;
}

//  --------------------------------------------------------------------------
//  Answers (zloop thread)

//  Add "reasons" to a JSON object: the result's reasons (code, field, and
//  with `messages` their message), then `code` with `message` when given.
//  The publisher's answer carries messages; the ledger's detail does not.
static void
s_add_reasons (cJSON *parent, const pp_result_t *result, const char *code, const char *message,
               bool messages)
{
    cJSON *reasons = cJSON_AddArrayToObject (parent, "reasons");
    for (size_t i = 0; result && i < pp_result_reason_size (result); i++) {
        cJSON *reason = cJSON_CreateObject ();
        cJSON_AddStringToObject (reason, "code", pp_result_reason_code (result, i));
        if (*pp_result_reason_field (result, i))
            cJSON_AddStringToObject (reason, "field", pp_result_reason_field (result, i));
        if (messages && *pp_result_reason_message (result, i))
            cJSON_AddStringToObject (reason, "message", pp_result_reason_message (result, i));
        cJSON_AddItemToArray (reasons, reason);
    }
    if (code) {
        cJSON *reason = cJSON_CreateObject ();
        cJSON_AddStringToObject (reason, "code", code);
        if (messages && message)
            cJSON_AddStringToObject (reason, "message", message);
        cJSON_AddItemToArray (reasons, reason);
    }
}

static char *
s_answer_json (const char *lead_id, pp_status_t status, int64_t price_cents,
               const pp_result_t *result, const char *code, const char *message)
{
    cJSON *root = cJSON_CreateObject ();
    cJSON_AddStringToObject (root, "lead_id", lead_id);
    cJSON_AddStringToObject (root, "status", pp_status_name (status));
    char price [32];
    pp_cents_format (status == PP_STATUS_SOLD ? price_cents : 0, price, sizeof price);
    cJSON_AddItemToObject (root, "price", cJSON_CreateRaw (price));
    s_add_reasons (root, result, code, message, true);
    char *text = pp_json_print (root);
    cJSON_Delete (root);
    return text;
}

//  Record an answer: metrics and the answered event. `reasons_json` may be NULL.
static void
s_record_answer (intake_server_t *self, const s_request_t *request, pp_status_t status,
                 int64_t price_cents, int64_t charge_cents, const pp_result_t *result,
                 const char *extra_code)
{
    int64_t elapsed_us = pp_mono_us () - request->started_mono;
    atomic_fetch_add (&self->by_status [status], 1);
    double seconds = (double) elapsed_us / 1e6;
    size_t bucket = 0;
    while (bucket < S_HISTOGRAM_BUCKETS && seconds > s_buckets [bucket])
        bucket++;
    atomic_fetch_add (&self->hist [bucket], 1);
    atomic_fetch_add (&self->hist_sum_us, (uint64_t) elapsed_us);
    atomic_fetch_add (&self->hist_count, 1);

    pp_event_t *event = s_event (self, request->lead_id, "answered");
    pp_event_set_code (event, pp_status_name (status));
    pp_event_set_amount_cents (event, status == PP_STATUS_SOLD ? charge_cents : 0);
    pp_event_set_payout_cents (event, status == PP_STATUS_SOLD ? price_cents : 0);
    pp_event_set_latency_us (event, elapsed_us);
    cJSON *detail = request->base_json ? cJSON_Parse (request->base_json) : NULL;
    if (!detail)
        detail = cJSON_CreateObject ();
    cJSON_AddStringToObject (detail, "status", pp_status_name (status));
    s_add_reasons (detail, result, extra_code, NULL, false);
    char *text = pp_json_print (detail);
    cJSON_Delete (detail);
    pp_event_set_detail (event, text);
    free (text);
    pp_outbox_add (self->outbox, &event);
}

//  Queue the settling of a claimed key: a 200 answer is stored, anything
//  else deletes the claim so the publisher can retry with the same key.
//  Caller holds the mutex.
static void
s_idem_settle (intake_server_t *self, s_request_t *request, unsigned int http_status,
               const char *answer)
{
    if (!request->idem_claimed)
        return;
    request->idem_claimed = false;
    s_idem_write_t *write = (s_idem_write_t *) zmalloc (sizeof (s_idem_write_t));
    write->publisher_id = request->publisher_id;
    write->key = strdup (request->idem_key);
    assert (write->key);
    memcpy (write->lead_id, request->lead_id, PP_LEAD_ID_SIZE + 1);
    if (http_status == MHD_HTTP_OK) {
        write->answer = strdup (answer);
        assert (write->answer);
    }
    zlistx_add_end (self->idem_writes, write);
}

//  Resume a suspended request with its answer. Caller holds the mutex.
static void
s_resume (intake_server_t *self, s_request_t *request, unsigned int http_status, char *answer)
{
    s_idem_settle (self, request, http_status, answer);
    zhashx_delete (self->pending, request->lead_id);
    request->http_status = http_status;
    request->answer = answer;
    request->state = S_ANSWERED;
    MHD_resume_connection (request->connection);
}

//  Store the answers of claimed keys and delete failed claims (zloop
//  thread). Only the claim's own lead touches the row: a claim taken over
//  meanwhile is left alone.
static void
s_idem_flush (intake_server_t *self)
{
    pthread_mutex_lock (&self->mutex);
    if (zlistx_size (self->idem_writes) == 0) {
        pthread_mutex_unlock (&self->mutex);
        return;
    }
    zlistx_t *writes = self->idem_writes;
    self->idem_writes = zlistx_new ();
    zlistx_set_destructor (self->idem_writes, s_idem_write_destroy);
    pthread_mutex_unlock (&self->mutex);
    for (s_idem_write_t *write = (s_idem_write_t *) zlistx_first (writes); write;
         write = (s_idem_write_t *) zlistx_next (writes)) {
        char publisher [16];
        snprintf (publisher, sizeof publisher, "%u", write->publisher_id);
        const char *params [] = {publisher, write->key, write->lead_id, write->answer};
        int rc = write->answer
                     ? s_db_command (self, "idempotency answer",
                                    "UPDATE idempotency_keys SET answer = $4"
                                    " WHERE publisher_id = $1::int AND key = $2"
                                    " AND lead_id = $3",
                                    4, params)
                     : s_db_command (self, "idempotency release",
                                    "DELETE FROM idempotency_keys"
                                    " WHERE publisher_id = $1::int AND key = $2"
                                    " AND lead_id = $3",
                                    3, params);
        if (rc)
            zsys_warning ("intake: idempotency key of lead %s not settled", write->lead_id);
    }
    zlistx_destroy (&writes);
}

static void
s_received_destroy (void **item_p)
{
    pp_event_destroy ((pp_event_t **) item_p);
}

//  The received events the MHD thread queued (s_push) go into the outbox
//  when the zloop thread wakes for results or for the deadline sweep
//  (every S_SWEEP_MS), so a lead costs it no wake-up of its own; under the
//  mutex, before any answered event it adds, so a lead's received event
//  always goes first. Caller holds the mutex.
static void
s_add_received (intake_server_t *self)
{
    pp_event_t *event;
    while ((event = (pp_event_t *) zlistx_detach (self->received, NULL)))
        pp_outbox_add (self->outbox, &event);
}

static int
s_on_result (zloop_t *loop, zsock_t *reader, void *arg)
{
    intake_server_t *self = (intake_server_t *) arg;
    for (int burst = 0; burst < 256; burst++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, zsock_resolve (reader), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            break;
        }
        pp_result_t *result = pp_result_decode_buf (zmq_msg_data (&msg), zmq_msg_size (&msg));
        zmq_msg_close (&msg);
        if (!result)
            continue;
        pthread_mutex_lock (&self->mutex);
        s_add_received (self);
        s_request_t *request
            = (s_request_t *) zhashx_lookup (self->pending, pp_result_lead_id (result));
        if (request) {
            pp_status_t status = pp_result_status (result);
            int64_t price = pp_result_price_cents (result);
            char *answer
                = s_answer_json (request->lead_id, status, price, result, NULL, NULL);
            s_record_answer (self, request, status, price, pp_result_charge_cents (result),
                             result, NULL);
            s_resume (self, request, MHD_HTTP_OK, answer);
        }
        else
        if (pp_log_verbose ())
            zsys_debug ("intake: late result for %s dropped", pp_result_lead_id (result));
        pthread_mutex_unlock (&self->mutex);
        pp_result_destroy (&result);
    }
    s_idem_flush (self);
    atomic_store (&self->outbox_full, pp_outbox_full (self->outbox));
    pp_outbox_flush_soon (self->outbox);
    return 0;
}

//  A lead whose deadline passed is answered `error` / `timeout` at once,
//  whatever the pipeline is doing with it.
static int
s_on_sweep (zloop_t *loop, int timer_id, void *arg)
{
    intake_server_t *self = (intake_server_t *) arg;
    int64_t now = pp_now_us ();
    pthread_mutex_lock (&self->mutex);
    s_add_received (self);
    while (self->heap_size > 0 && self->heap [0].deadline_us <= now) {
        char lead_id [PP_LEAD_ID_SIZE + 1];
        memcpy (lead_id, self->heap [0].lead_id, sizeof lead_id);
        s_heap_pop (self);
        s_request_t *request = (s_request_t *) zhashx_lookup (self->pending, lead_id);
        if (!request)
            continue;
        char *answer = s_answer_json (lead_id, PP_STATUS_ERROR, 0, NULL, "timeout",
                                      "no result before the lead's deadline");
        s_record_answer (self, request, PP_STATUS_ERROR, 0, 0, NULL, "timeout");
        s_resume (self, request, MHD_HTTP_OK, answer);
    }
    //  No deadline left to watch (answered leads leave theirs in the heap
    //  until it passes): sleep until s_push wakes us
    if (self->heap_size == 0 && zlistx_size (self->received) == 0) {
        self->sweeping = false;
        zloop_timer_end (loop, timer_id);
        self->sweep_timer = 0;
    }
    pthread_mutex_unlock (&self->mutex);
    s_idem_flush (self);
    atomic_store (&self->outbox_full, pp_outbox_full (self->outbox));
    pp_outbox_flush_soon (self->outbox);
    return 0;
}

//  Answer a suspended request that is not in the pipeline (status lookups,
//  keyed leads before or without their claim): the MHD thread sends it when
//  the connection resumes.
static void
s_answer_suspended (intake_server_t *self, s_request_t *request, unsigned int http_status,
                    char *answer, bool replayed)
{
    pthread_mutex_lock (&self->mutex);
    request->http_status = http_status;
    request->answer = answer;
    request->replayed = replayed;
    request->state = S_ANSWERED;
    MHD_resume_connection (request->connection);
    pthread_mutex_unlock (&self->mutex);
}

//  Suspend a request and hand it to the zloop thread, which owns the
//  database session (MHD thread). -1 when the hand-over failed: the
//  caller answers it then, with s_answer_suspended.
static int
s_hand_over (intake_server_t *self, s_request_t *request, struct MHD_Connection *connection)
{
    request->connection = connection;
    pthread_mutex_lock (&self->mutex);
    request->state = S_SUSPENDED;
    MHD_suspend_connection (connection);
    pthread_mutex_unlock (&self->mutex);
    return zmq_send (zsock_resolve (self->lookups_out), &request, sizeof request, ZMQ_DONTWAIT)
                   == (int) sizeof request
               ? 0
               : -1;
}

//  GET /v1/leads/{id}: the publisher's own lead, from intake's table while
//  it waits, else from the ledger. Another publisher's lead is a 404, as is
//  a lead the ledger has not recorded yet.
static void
s_lookup (intake_server_t *self, s_request_t *request)
{
    unsigned int status = MHD_HTTP_NOT_FOUND;
    char *answer = NULL;
    pthread_mutex_lock (&self->mutex);
    s_request_t *waiting = (s_request_t *) zhashx_lookup (self->pending, request->lead_id);
    bool pending = waiting && waiting->publisher_id == request->publisher_id;
    pthread_mutex_unlock (&self->mutex);
    if (pending) {
        status = MHD_HTTP_OK;
        char text [128];
        snprintf (text, sizeof text,
                  "{\"lead_id\":\"%s\",\"status\":\"pending\",\"price\":0.00,\"reasons\":[]}",
                  request->lead_id);
        answer = strdup (text);
    }
    else {
        char publisher [16];
        snprintf (publisher, sizeof publisher, "%u", request->publisher_id);
        const char *params [] = {request->lead_id, publisher};
        PGresult *result = s_db_exec (
            self, "lead status",
            "SELECT coalesce (status, 'pending'), price_cents, coalesce (reasons, '[]'::jsonb)"
            " FROM leads WHERE lead_id = $1 AND publisher_id = $2::int",
            2, params);
        if (!result) {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            answer = s_error_body ("unavailable", "the ledger cannot be read now; retry", NULL);
        }
        else {
            if (PQntuples (result) == 1) {
                cJSON *root = cJSON_CreateObject ();
                cJSON_AddStringToObject (root, "lead_id", request->lead_id);
                cJSON_AddStringToObject (root, "status", PQgetvalue (result, 0, 0));
                char price [32];
                pp_cents_format (atoll (PQgetvalue (result, 0, 1)), price, sizeof price);
                cJSON_AddItemToObject (root, "price", cJSON_CreateRaw (price));
                cJSON *reasons = cJSON_Parse (PQgetvalue (result, 0, 2));
                cJSON_AddItemToObject (root, "reasons", reasons ? reasons : cJSON_CreateArray ());
                answer = pp_json_print (root);
                cJSON_Delete (root);
                status = MHD_HTTP_OK;
            }
            PQclear (result);
        }
    }
    if (!answer)
        answer = s_error_body ("not_found", "no such lead for this publisher", NULL);
    s_answer_suspended (self, request, status, answer, false);
}

//  --------------------------------------------------------------------------
//  Idempotency keys (zloop thread; DESIGN section 5): the first request of a
//  key claims it with its lead id and stores its answer; a later one within
//  24 h answers that again, or waits while the first is in flight.

//  Answer a suspended keyed lead that never entered the pipeline, counted
//  in the metrics' HTTP errors when not 200.
static void
s_idem_answer (intake_server_t *self, s_request_t *request, unsigned int http_status,
               char *answer, bool replayed)
{
    if (http_status != MHD_HTTP_OK && http_status < 600)
        atomic_fetch_add (&self->http_errors [http_status], 1);
    s_answer_suspended (self, request, http_status, answer, replayed);
}

//  Hand a claimed request back to the MHD thread, which pushes its lead.
static void
s_idem_go_on (intake_server_t *self, s_request_t *request)
{
    pthread_mutex_lock (&self->mutex);
    request->idem_claimed = true;
    request->state = S_CLAIMED;
    MHD_resume_connection (request->connection);
    pthread_mutex_unlock (&self->mutex);
}

//  Claim the key for the request's lead: a new key, or one whose claim
//  expired (24 h), or an in-flight claim older than any lead's timeout
//  (its intake died before answering) whose lead the ledger shows unsold:
//  past its deadline no stage sells it any more. 1 claimed, 0 held by
//  another request, -1 database failure (logged).
static int
s_idem_try (intake_server_t *self, s_request_t *request)
{
    char publisher [16];
    snprintf (publisher, sizeof publisher, "%u", request->publisher_id);
    const char *params [] = {publisher, request->idem_key, request->lead_id};
    PGresult *result = s_db_exec (self, "idempotency claim",
                                  "INSERT INTO idempotency_keys (publisher_id, key, lead_id)"
                                  " VALUES ($1::int, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
                                  3, params);
    if (!result)
        return -1;
    int claimed = PQntuples (result) == 1;
    PQclear (result);
    if (claimed)
        return 1;
    result = s_db_exec (self, "idempotency takeover",
                        "UPDATE idempotency_keys SET lead_id = $3, answer = NULL,"
                        " created_at = now() WHERE publisher_id = $1::int AND key = $2"
                        " AND (created_at < now() - interval '24 hours'"
                        "  OR (answer IS NULL AND created_at < now() - interval '70 seconds'"
                        "      AND NOT EXISTS (SELECT 1 FROM sales s"
                        "                      WHERE s.lead_id = idempotency_keys.lead_id)))"
                        " RETURNING 1",
                        3, params);
    if (!result)
        return -1;
    claimed = PQntuples (result) == 1;
    PQclear (result);
    return claimed;
}

//  Look at the key's row for a request that did not get the claim: replay
//  the stored answer, take the claim over when it went away, or give up
//  when the wait is over. True when the request left the waiting state.
static bool
s_idem_check (intake_server_t *self, s_request_t *request)
{
    char publisher [16];
    snprintf (publisher, sizeof publisher, "%u", request->publisher_id);
    const char *params [] = {publisher, request->idem_key};
    PGresult *result = s_db_exec (
        self, "idempotency read",
        "SELECT answer, created_at < now() - interval '24 hours', lead_id,"
        " CASE WHEN answer IS NULL AND created_at < now() - interval '70 seconds'"
        "  THEN (SELECT sum (payout_cents) FROM sales s WHERE s.lead_id = k.lead_id) END"
        " FROM idempotency_keys k"
        " WHERE publisher_id = $1::int AND key = $2",
        2, params);
    if (!result) {
        s_idem_answer (self, request, MHD_HTTP_SERVICE_UNAVAILABLE,
                       s_error_body ("unavailable", "the idempotency key cannot be checked now;"
                                     " retry", NULL), false);
        return true;
    }
    char *answer = NULL;
    bool gone = PQntuples (result) == 0 || streq (PQgetvalue (result, 0, 1), "t");
    if (!gone && !PQgetisnull (result, 0, 0)) {
        answer = strdup (PQgetvalue (result, 0, 0));
        assert (answer);
    }
    else
    if (!gone && !PQgetisnull (result, 0, 3)) {
        //  Its intake died before answering, but the lead was sold: that
        //  is the answer, stored for the next request of the key
        char price [32];
        pp_cents_format (atoll (PQgetvalue (result, 0, 3)), price, sizeof price);
        cJSON *root = cJSON_CreateObject ();
        cJSON_AddStringToObject (root, "lead_id", PQgetvalue (result, 0, 2));
        cJSON_AddStringToObject (root, "status", "sold");
        cJSON_AddItemToObject (root, "price", cJSON_CreateRaw (price));
        cJSON_AddItemToObject (root, "reasons", cJSON_CreateArray ());
        answer = pp_json_print (root);
        cJSON_Delete (root);
        const char *store [] = {publisher, request->idem_key, PQgetvalue (result, 0, 2), answer};
        if (s_db_command (self, "idempotency answer",
                          "UPDATE idempotency_keys SET answer = $4"
                          " WHERE publisher_id = $1::int AND key = $2 AND lead_id = $3"
                          " AND answer IS NULL",
                          4, store))
            zsys_warning ("intake: the answer of an idempotency key was not stored");
    }
    PQclear (result);
    if (answer) {
        s_idem_answer (self, request, MHD_HTTP_OK, answer, true);
        return true;
    }
    if (gone) {
        //  The first request failed (its claim was deleted) or expired
        int rc = s_idem_try (self, request);
        if (rc == 1) {
            s_idem_go_on (self, request);
            return true;
        }
        if (rc < 0) {
            s_idem_answer (self, request, MHD_HTTP_SERVICE_UNAVAILABLE,
                           s_error_body ("unavailable", "the idempotency key cannot be"
                                         " claimed now; retry", NULL), false);
            return true;
        }
    }
    if (pp_now_us () >= request->wait_until_us) {
        s_idem_answer (self, request, MHD_HTTP_CONFLICT,
                       s_error_body ("idempotency_in_progress",
                                     "a request with this Idempotency-Key is still being"
                                     " processed; retry later", NULL), false);
        return true;
    }
    return false;
}

//  A keyed lead from the MHD thread: claim its key, else answer it from
//  the first request's answer (now or once that is there).
static void
s_idem_claim (intake_server_t *self, s_request_t *request)
{
    if (atomic_load (&self->stopping)) {
        s_idem_answer (self, request, MHD_HTTP_SERVICE_UNAVAILABLE,
                       s_error_body ("shutting_down", "the gateway is restarting; retry", NULL),
                       false);
        return;
    }
    int rc = s_idem_try (self, request);
    if (rc == 1)
        s_idem_go_on (self, request);
    else
    if (rc < 0)
        s_idem_answer (self, request, MHD_HTTP_SERVICE_UNAVAILABLE,
                       s_error_body ("unavailable", "the idempotency key cannot be claimed now;"
                                     " retry", NULL), false);
    else
    if (!s_idem_check (self, request))
        zlistx_add_end (self->idem_waiting, request);
}

//  Every S_IDEM_POLL_MS: look again at the keys that waiting requests share.
static int
s_on_idem_wait (zloop_t *loop, int timer_id, void *arg)
{
    intake_server_t *self = (intake_server_t *) arg;
    s_request_t *request = (s_request_t *) zlistx_first (self->idem_waiting);
    while (request) {
        void *handle = zlistx_cursor (self->idem_waiting);
        bool done = s_idem_check (self, request);
        request = (s_request_t *) zlistx_next (self->idem_waiting);
        if (done)
            zlistx_delete (self->idem_waiting, handle);
    }
    return 0;
}

//  Every intake/idempotency_purge_ms (a minute by default): delete keys
//  past their 24 h, a bounded number at a time (every intake does it; the
//  rows are the same).
static int
s_on_idem_purge (zloop_t *loop, int timer_id, void *arg)
{
    intake_server_t *self = (intake_server_t *) arg;
    if (s_db_command (self, "idempotency purge",
                      "DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY ("
                      " SELECT ctid FROM idempotency_keys"
                      " WHERE created_at < now() - interval '24 hours' LIMIT 10000))",
                      0, NULL))
        zsys_warning ("intake: expired idempotency keys not purged; trying again later");
    return 0;
}

//  Answer every waiting keyed request with 503 (shutdown).
static void
s_release_waiting (intake_server_t *self)
{
    s_request_t *request = (s_request_t *) zlistx_first (self->idem_waiting);
    for (; request; request = (s_request_t *) zlistx_next (self->idem_waiting))
        s_idem_answer (self, request, MHD_HTTP_SERVICE_UNAVAILABLE,
                       s_error_body ("shutting_down", "the gateway is restarting; retry", NULL),
                       false);
    zlistx_purge (self->idem_waiting);
}

//  Status lookups and keyed leads, handed over by the MHD thread.
static int
s_on_lookup (zloop_t *loop, zsock_t *reader, void *arg)
{
    intake_server_t *self = (intake_server_t *) arg;
    for (int burst = 0; burst < 64; burst++) {
        s_request_t *request = NULL;
        if (zmq_recv (zsock_resolve (reader), &request, sizeof request, ZMQ_DONTWAIT)
            != (int) sizeof request)
            break;
        if (!request) {
            //  s_push's wake-up: a deadline to watch again
            if (!self->sweep_timer) {
                self->sweep_timer = zloop_timer (loop, S_SWEEP_MS, 0, s_on_sweep, self);
                if (self->sweep_timer <= 0) {
                    zsys_error ("intake: cannot start the deadline sweep");
                    self->sweep_timer = 0;
                }
            }
        }
        else
        if (request->route == S_ROUTE_LEADS)
            s_idem_claim (self, request);
        else
            s_lookup (self, request);
    }
    return 0;
}

static int
s_on_watchdog (zloop_t *loop, int timer_id, void *arg)
{
    intake_server_t *self = (intake_server_t *) arg;
    pp_sd_watchdog ();
    atomic_store (&self->outbox_full, pp_outbox_full (self->outbox));
    return 0;
}

//  --------------------------------------------------------------------------
//  Requests (MHD thread)

static void
s_problem (void *arg, const char *code, const char *field, const char *message)
{
    cJSON *details = (cJSON *) arg;
    cJSON *item = cJSON_CreateObject ();
    cJSON_AddStringToObject (item, "code", code);
    if (field)
        cJSON_AddStringToObject (item, "field", field);
    cJSON_AddStringToObject (item, "message", message);
    cJSON_AddItemToArray (details, item);
}

//  The publisher of the bearer key, or NULL.
static pp_publisher_t *
s_authenticate (pp_market_t *market, struct MHD_Connection *connection)
{
    const char *header
        = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!header || strncasecmp (header, "Bearer ", 7) != 0)
        return NULL;
    const char *key = header + 7;
    while (*key == ' ')
        key++;
    if (*key == 0 || strlen (key) > 256)
        return NULL;
    char hash [65];
    pp_sha256_hex (key, strlen (key), hash);
    return pp_market_publisher_by_key_hash (market, hash);
}

static void
s_bucket_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static bool
s_rate_ok (intake_server_t *self, const pp_publisher_t *publisher)
{
    if (publisher->rate_limit_per_second <= 0)
        return true;
    char key [16];
    snprintf (key, sizeof key, "%u", publisher->id);
    s_bucket_t *bucket = (s_bucket_t *) zhashx_lookup (self->buckets, key);
    int64_t now = pp_mono_us ();
    double rate = publisher->rate_limit_per_second;
    if (!bucket) {
        bucket = (s_bucket_t *) zmalloc (sizeof (s_bucket_t));
        bucket->tokens = rate;
        bucket->last_mono = now;
        zhashx_insert (self->buckets, key, bucket);
    }
    bucket->tokens += rate * (double) (now - bucket->last_mono) / 1e6;
    if (bucket->tokens > rate)
        bucket->tokens = rate;      //  burst of one second
    bucket->last_mono = now;
    if (bucket->tokens < 1.0)
        return false;
    bucket->tokens -= 1.0;
    return true;
}

//  An Idempotency-Key: 1 to S_IDEM_KEY_MAX visible ASCII characters.
static bool
s_idem_key_valid (const char *key)
{
    size_t length = 0;
    for (; key [length]; length++)
        if ((unsigned char) key [length] < 0x21 || (unsigned char) key [length] > 0x7E
            || length == S_IDEM_KEY_MAX)
            return false;
    return length > 0;
}

static bool
s_is_json (const char *content_type)
{
    if (!content_type)
        return false;
    while (*content_type == ' ')
        content_type++;
    size_t n = strlen ("application/json");
    return strncasecmp (content_type, "application/json", n) == 0
           && (content_type [n] == 0 || content_type [n] == ';' || content_type [n] == ' ');
}

//  Build the lead from a parsed body, or answer the error. Returns the lead
//  or NULL when an error was queued (then *rc holds MHD's result).
static pp_lead_t *
s_build_lead (intake_server_t *self, struct MHD_Connection *connection, s_request_t *request,
              pp_market_t *market, const pp_publisher_t *publisher, enum MHD_Result *rc)
{
    if (request->too_big) {
        *rc = s_respond_error (self, connection, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                               "the body is larger than the limit", NULL);
        return NULL;
    }
    //  cJSON does not check UTF-8; the ledger (PostgreSQL) would refuse it
    if (!pp_utf8_valid (request->body ? request->body : "", request->size)) {
        *rc = s_respond_error (self, connection, MHD_HTTP_BAD_REQUEST, "malformed_json",
                               "the body is not valid UTF-8", NULL);
        return NULL;
    }
    cJSON *root = cJSON_ParseWithLength (request->body ? request->body : "", request->size);
    if (!root) {
        *rc = s_respond_error (self, connection, MHD_HTTP_BAD_REQUEST, "malformed_json",
                               "the body is not valid JSON", NULL);
        return NULL;
    }
    if (!cJSON_IsObject (root)) {
        cJSON_Delete (root);
        *rc = s_respond_error (self, connection, MHD_HTTP_BAD_REQUEST, "not_an_object",
                               "the body must be a JSON object", NULL);
        return NULL;
    }
    cJSON *details = cJSON_CreateArray ();
    const cJSON *vertical_json = cJSON_GetObjectItemCaseSensitive (root, "vertical");
    const cJSON *fields_json = cJSON_GetObjectItemCaseSensitive (root, "fields");
    const cJSON *source = cJSON_GetObjectItemCaseSensitive (root, "source");
    const cJSON *sub_id = cJSON_GetObjectItemCaseSensitive (root, "sub_id");
    const cJSON *test = cJSON_GetObjectItemCaseSensitive (root, "test");
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive (root, "timeout_ms");
    const cJSON *consent = cJSON_GetObjectItemCaseSensitive (root, "consent");
    const cJSON *signals = cJSON_GetObjectItemCaseSensitive (root, "signals");
    pp_vertical_t *vertical = NULL;
    const char *error_code = "invalid_lead";
    if (!cJSON_IsString (vertical_json))
        s_problem (details, "vertical_missing", "vertical", "is required and must be a string");
    else {
        vertical = pp_market_vertical (market, vertical_json->valuestring);
        if (!vertical) {
            s_problem (details, "vertical_unknown", "vertical", "is not a known vertical");
            error_code = "unknown_vertical";
        }
    }
    if (!cJSON_IsObject (fields_json))
        s_problem (details, "fields_missing", "fields", "is required and must be an object");
    if (source && !cJSON_IsNull (source)
        && (!cJSON_IsString (source) || strlen (source->valuestring) > 128))
        s_problem (details, "field_type", "source", "must be a string of at most 128 bytes");
    if (sub_id && !cJSON_IsNull (sub_id)
        && (!cJSON_IsString (sub_id) || strlen (sub_id->valuestring) > 128))
        s_problem (details, "field_type", "sub_id", "must be a string of at most 128 bytes");
    if (test && !cJSON_IsNull (test) && !cJSON_IsBool (test))
        s_problem (details, "field_type", "test", "must be a boolean");
    int timeout_ms = pp_market_auction (market)->timeout_ms;
    if (timeout_ms <= 0)
        timeout_ms = self->config->default_timeout_ms;
    if (timeout && !cJSON_IsNull (timeout)) {
        if (!cJSON_IsNumber (timeout) || timeout->valuedouble < 1
            || timeout->valuedouble > 60000 || timeout->valuedouble != (int) timeout->valuedouble)
            s_problem (details, "field_type", "timeout_ms",
                       "must be a whole number of milliseconds from 1 to 60000");
        else
            timeout_ms = (int) timeout->valuedouble;
    }
    if (consent && !cJSON_IsNull (consent) && !cJSON_IsObject (consent))
        s_problem (details, "field_type", "consent", "must be an object");
    //  A lead has tens of fields, not thousands: refuse before copying them
    if (cJSON_GetArraySize (fields_json) > S_MAX_FIELDS
        || cJSON_GetArraySize (consent) > S_MAX_FIELDS
        || cJSON_GetArraySize (signals) > S_MAX_FIELDS)
        s_problem (details, "too_many_fields", "fields",
                   "fields, consent and signals may hold at most 500 members each");
    if (signals && !cJSON_IsNull (signals) && !cJSON_IsObject (signals))
        s_problem (details, "field_type", "signals", "must be an object");

    pp_lead_t *lead = NULL;
    if (cJSON_GetArraySize (details) == 0) {
        char id [PP_LEAD_ID_SIZE + 1];
        pp_id_new (id);
        lead = pp_lead_new (id);
        pp_json_to_fields (fields_json, pp_lead_fields (lead));
        if (pp_json_check_structure (vertical, pp_lead_fields (lead), s_problem, details) > 0)
            pp_lead_destroy (&lead);
    }
    if (!lead) {
        //  422 lists every problem; the message names the first
        const cJSON *first = cJSON_GetArrayItem (details, 0);
        const cJSON *field = cJSON_GetObjectItemCaseSensitive (first, "field");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive (first, "message");
        char message [256];
        snprintf (message, sizeof message, "%s%s%s%s", cJSON_IsString (field) ? "fields." : "",
                  cJSON_IsString (field) ? field->valuestring : "",
                  cJSON_IsString (field) ? ": " : "",
                  cJSON_IsString (text) ? text->valuestring : "invalid");
        if (cJSON_IsString (field)
            && (streq (field->valuestring, "vertical") || streq (field->valuestring, "fields")
                || streq (field->valuestring, "source") || streq (field->valuestring, "sub_id")
                || streq (field->valuestring, "test") || streq (field->valuestring, "timeout_ms")
                || streq (field->valuestring, "consent")
                || streq (field->valuestring, "signals")))
            snprintf (message, sizeof message, "%s: %s", field->valuestring,
                      cJSON_IsString (text) ? text->valuestring : "invalid");
        cJSON_Delete (root);
        *rc = s_respond_error (self, connection, MHD_HTTP_UNPROCESSABLE_CONTENT, error_code,
                               message, details);
        return NULL;
    }
    cJSON_Delete (details);
    int64_t now = pp_now_us ();
    pp_lead_set_received_us (lead, now);
    pp_lead_set_deadline_us (lead, now + (int64_t) timeout_ms * 1000);
    pp_lead_set_reply_slot (lead, self->slot);
    pp_lead_set_publisher_id (lead, publisher->id);
    pp_lead_set_publisher (lead, publisher->name);
    pp_lead_set_vertical (lead, vertical->name);
    if (cJSON_IsString (source))
        pp_lead_set_source (lead, source->valuestring);
    if (cJSON_IsString (sub_id))
        pp_lead_set_sub_id (lead, sub_id->valuestring);
    pp_lead_set_test (lead, cJSON_IsTrue (test));
    pp_json_to_fields (consent, pp_lead_consent (lead));
    pp_json_to_fields (signals, pp_lead_signals (lead));
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, false, now);
    cJSON_Delete (root);
    return lead;
}

//  The received event: the lead as it came, with personal fields apart
//  (the ledger moves "pii" to lead_pii, out of analysts' reach).
static pp_event_t *
s_received_event (intake_server_t *self, pp_lead_t *lead, pp_market_t *market,
                  s_request_t *request)
{
    pp_vertical_t *vertical = pp_market_vertical (market, pp_lead_vertical (lead));
    cJSON *base = cJSON_CreateObject ();
    cJSON_AddNumberToObject (base, "publisher_id", pp_lead_publisher_id (lead));
    cJSON_AddStringToObject (base, "publisher", pp_lead_publisher (lead));
    cJSON_AddStringToObject (base, "source", pp_lead_source (lead));
    cJSON_AddStringToObject (base, "sub_id", pp_lead_sub_id (lead));
    cJSON_AddStringToObject (base, "vertical", pp_lead_vertical (lead));
    cJSON_AddBoolToObject (base, "test", pp_lead_test (lead));
    request->base_json = pp_json_print (base);

    cJSON *open = cJSON_CreateObject ();
    cJSON *pii = cJSON_CreateObject ();
    pp_fields_t *fields = pp_lead_fields (lead);
    for (size_t i = 0; i < pp_fields_size (fields); i++) {
        const char *name = pp_fields_name (fields, i);
        const pp_field_spec_t *spec = vertical ? pp_vertical_field (vertical, name) : NULL;
        //  Undeclared fields may be anything: keep them with the personal ones
        cJSON_AddItemToObject (spec && !spec->pii ? open : pii, name,
                               pp_json_from_value (pp_fields_value (fields, i)));
    }
    cJSON_AddItemToObject (base, "fields", open);
    cJSON_AddItemToObject (base, "pii", pii);
    cJSON_AddItemToObject (base, "consent", pp_json_from_fields (pp_lead_consent (lead), NULL, true));
    char *text = pp_json_print (base);
    cJSON_Delete (base);
    pp_event_t *event = s_event (self, pp_lead_id (lead), "received");
    pp_event_set_detail (event, text);
    free (text);
    return event;
}

static enum MHD_Result
s_push (intake_server_t *self, struct MHD_Connection *connection, s_request_t *request,
        pp_lead_t **lead_p, pp_event_t **received_p);

static enum MHD_Result
s_lead (intake_server_t *self, struct MHD_Connection *connection, s_request_t *request)
{
    pp_market_t *market = pp_watch_market_link (self->watch);
    enum MHD_Result rc = MHD_YES;
    pp_publisher_t *publisher = s_authenticate (market, connection);
    if (!publisher) {
        pp_market_unlink (&market);
        return s_respond_error (self, connection, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                "missing or unknown API key", NULL);
    }
    pp_lead_t *lead = s_build_lead (self, connection, request, market, publisher, &rc);
    if (!lead) {
        pp_market_unlink (&market);
        return rc;
    }
    pp_event_t *received = s_received_event (self, lead, market, request);
    pp_market_unlink (&market);

    memcpy (request->lead_id, pp_lead_id (lead), PP_LEAD_ID_SIZE + 1);
    request->received_us = pp_lead_received_us (lead);
    request->started_mono = pp_mono_us ();
    request->publisher_id = pp_lead_publisher_id (lead);
    request->connection = connection;
    if (request->idem_key) {
        //  The zloop thread owns the database session: it claims the key
        //  before the lead may go on (S_CLAIMED), or answers without it
        request->lead = lead;
        request->received = received;
        request->wait_until_us = pp_lead_deadline_us (lead);
        if (s_hand_over (self, request, connection))
            s_idem_answer (self, request, MHD_HTTP_SERVICE_UNAVAILABLE,
                           s_error_body ("overloaded", "retry later", NULL), false);
        return MHD_YES;
    }
    return s_push (self, connection, request, &lead, &received);
}

//  Send the lead to validate and hold the connection until its result.
//  Takes both; answers 503 when the pipeline has no room.
static enum MHD_Result
s_push (intake_server_t *self, struct MHD_Connection *connection, s_request_t *request,
        pp_lead_t **lead_p, pp_event_t **received_p)
{
    pp_lead_t *lead = *lead_p;
    pp_event_t *received = *received_p;
    *lead_p = NULL;
    *received_p = NULL;
    //  Register, push and suspend under the mutex, so the result cannot be
    //  handled before the connection is suspended
    pthread_mutex_lock (&self->mutex);
    zhashx_insert (self->pending, request->lead_id, request);
    bool pushed = pp_lead_send (lead, zsock_resolve (self->to_validate), ZMQ_DONTWAIT) == 0;
    bool wake = false;
    if (pushed) {
        s_heap_push (self, pp_lead_deadline_us (lead), request->lead_id);
        request->state = S_SUSPENDED;
        MHD_suspend_connection (connection);
        zlistx_add_end (self->received, received);
        received = NULL;
        wake = !self->sweeping;
        self->sweeping = true;
    }
    else {
        zhashx_delete (self->pending, request->lead_id);
        s_idem_settle (self, request, MHD_HTTP_SERVICE_UNAVAILABLE, NULL);
    }
    pthread_mutex_unlock (&self->mutex);
    pp_lead_destroy (&lead);
    //  The sweep sleeps while no deadline is pending: the first lead after
    //  a quiet spell wakes it (a NULL request on the lookups channel)
    s_request_t *none = NULL;
    if (wake && zmq_send (zsock_resolve (self->lookups_out), &none, sizeof none, ZMQ_DONTWAIT)
                    != (int) sizeof none) {
        zsys_warning ("intake: cannot wake the deadline sweep; the next lead retries");
        pthread_mutex_lock (&self->mutex);
        self->sweeping = false;
        pthread_mutex_unlock (&self->mutex);
    }
    if (!pushed) {
        pp_event_destroy (&received);
        return s_respond_error (self, connection, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded",
                                "the pipeline has no capacity now; retry later", NULL);
    }
    return MHD_YES;
}

static char *
s_metrics (intake_server_t *self)
{
    size_t cap = 8192, len = 0;
    char *text = (char *) malloc (cap);
    assert (text);
#define S_PRINT(...)                                                                              \
    do {                                                                                          \
        int n = snprintf (text + len, cap - len, __VA_ARGS__);                                    \
        if (n > 0 && (size_t) n < cap - len)                                                      \
            len += (size_t) n;                                                                    \
    } while (0)
    S_PRINT ("# HELP pingpost_leads_total Leads answered, by status.\n"
             "# TYPE pingpost_leads_total counter\n");
    for (int status = PP_STATUS_SOLD; status <= PP_STATUS_ERROR; status++)
        S_PRINT ("pingpost_leads_total{status=\"%s\"} %" PRIu64 "\n", pp_status_name (status),
                 atomic_load (&self->by_status [status]));
    S_PRINT ("# HELP pingpost_http_errors_total Error answers, by HTTP status.\n"
             "# TYPE pingpost_http_errors_total counter\n");
    static const int codes [] = {400, 401, 404, 405, 413, 415, 422, 429, 503};
    for (size_t i = 0; i < sizeof codes / sizeof codes [0]; i++)
        S_PRINT ("pingpost_http_errors_total{code=\"%d\"} %" PRIu64 "\n", codes [i],
                 atomic_load (&self->http_errors [codes [i]]));
    S_PRINT ("# HELP pingpost_answer_seconds Time from receipt to answer.\n"
             "# TYPE pingpost_answer_seconds histogram\n");
    uint64_t cumulative = 0;
    for (int i = 0; i < S_HISTOGRAM_BUCKETS; i++) {
        cumulative += atomic_load (&self->hist [i]);
        S_PRINT ("pingpost_answer_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", s_buckets [i],
                 cumulative);
    }
    cumulative += atomic_load (&self->hist [S_HISTOGRAM_BUCKETS]);
    S_PRINT ("pingpost_answer_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cumulative);
    S_PRINT ("pingpost_answer_seconds_sum %.6f\n",
             (double) atomic_load (&self->hist_sum_us) / 1e6);
    S_PRINT ("pingpost_answer_seconds_count %" PRIu64 "\n", atomic_load (&self->hist_count));
    pthread_mutex_lock (&self->mutex);
    size_t pending = zhashx_size (self->pending);
    pthread_mutex_unlock (&self->mutex);
    S_PRINT ("# HELP pingpost_leads_pending Leads waiting for their result.\n"
             "# TYPE pingpost_leads_pending gauge\n"
             "pingpost_leads_pending %zu\n",
             pending);
#undef S_PRINT
    return text;
}

static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size,
              void **con_cls)
{
    intake_server_t *self = (intake_server_t *) cls;
    s_request_t *request = (s_request_t *) *con_cls;
    if (!request) {
        request = (s_request_t *) zmalloc (sizeof (s_request_t));
        *con_cls = request;
        bool is_post = streq (method, "POST");
        bool is_get = streq (method, "GET") || streq (method, "HEAD");
        if (streq (url, "/v1/leads")) {
            if (!is_post)
                request->route = S_ROUTE_ERROR;
            else {
                request->route = S_ROUTE_LEADS;
                //  Cheap refusals before the body is read
                pp_market_t *market = pp_watch_market_link (self->watch);
                pp_publisher_t *publisher = s_authenticate (market, connection);
                bool rate_ok = publisher ? s_rate_ok (self, publisher) : true;
                pp_market_unlink (&market);
                const char *length = MHD_lookup_connection_value (
                    connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (!publisher)
                    return s_respond_error (self, connection, MHD_HTTP_UNAUTHORIZED,
                                            "unauthorized", "missing or unknown API key", NULL);
                const char *idem_key
                    = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Idempotency-Key");
                if (idem_key) {
                    if (!s_idem_key_valid (idem_key))
                        return s_respond_error (
                            self, connection, MHD_HTTP_BAD_REQUEST, "bad_idempotency_key",
                            "Idempotency-Key must be 1 to 255 visible ASCII characters", NULL);
                    request->idem_key = strdup (idem_key);
                    assert (request->idem_key);
                }
                if (!rate_ok)
                    return s_respond_error (self, connection, MHD_HTTP_TOO_MANY_REQUESTS,
                                            "rate_limited",
                                            "over the publisher's rate limit; retry later",
                                            NULL);
                if (!s_is_json (MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_CONTENT_TYPE)))
                    return s_respond_error (self, connection, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                            "unsupported_media_type",
                                            "the body must be application/json", NULL);
                if (length && strtoll (length, NULL, 10) > self->config->body_limit)
                    return s_respond_error (self, connection, MHD_HTTP_CONTENT_TOO_LARGE,
                                            "body_too_large",
                                            "the body is larger than the limit", NULL);
                if (atomic_load (&self->stopping) || atomic_load (&self->outbox_full))
                    return s_respond_error (self, connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                                            "overloaded",
                                            "the service cannot take leads now; retry later",
                                            NULL);
            }
            if (request->route == S_ROUTE_ERROR)
                return s_respond_error (self, connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                                        "method_not_allowed", "use POST on /v1/leads", NULL);
            return MHD_YES;
        }
        if (strncmp (url, "/v1/leads/", 10) == 0) {
            if (!is_get)
                return s_respond_error (self, connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                                        "method_not_allowed", "use GET on /v1/leads/{id}", NULL);
            pp_market_t *market = pp_watch_market_link (self->watch);
            pp_publisher_t *publisher = s_authenticate (market, connection);
            uint32_t publisher_id = publisher ? publisher->id : 0;
            pp_market_unlink (&market);
            if (!publisher)
                return s_respond_error (self, connection, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                        "missing or unknown API key", NULL);
            if (!pp_id_valid (url + 10))
                return s_respond_error (self, connection, MHD_HTTP_NOT_FOUND, "not_found",
                                        "no such lead for this publisher", NULL);
            if (atomic_load (&self->stopping))
                return s_respond_error (self, connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                                        "overloaded", "the gateway is restarting; retry", NULL);
            request->route = S_ROUTE_STATUS;
            request->publisher_id = publisher_id;
            memcpy (request->lead_id, url + 10, PP_LEAD_ID_SIZE + 1);
            return MHD_YES;
        }
        if (streq (url, "/healthz") || streq (url, "/metrics")) {
            if (!is_get)
                return s_respond_error (self, connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                                        "method_not_allowed", "use GET", NULL);
            request->route = streq (url, "/healthz") ? S_ROUTE_HEALTH : S_ROUTE_METRICS;
            return MHD_YES;
        }
        return s_respond_error (self, connection, MHD_HTTP_NOT_FOUND, "not_found",
                                "no such path", NULL);
    }
    if (request->route == S_ROUTE_HEALTH) {
        if (*upload_data_size) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        return s_respond (connection, MHD_HTTP_OK, strdup ("{\"status\":\"ok\"}"),
                          "application/json");
    }
    if (request->route == S_ROUTE_METRICS) {
        if (*upload_data_size) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        return s_respond (connection, MHD_HTTP_OK, s_metrics (self),
                          "text/plain; version=0.0.4");
    }
    if (request->route == S_ROUTE_STATUS) {
        if (*upload_data_size) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (request->state == S_ANSWERED) {
            char *answer = request->answer;
            request->answer = NULL;
            return s_respond (connection, request->http_status, answer, "application/json");
        }
        if (request->state == S_SUSPENDED)
            return MHD_YES;
        //  The zloop thread owns the database session: hand it over
        if (s_hand_over (self, request, connection))
            s_answer_suspended (self, request, MHD_HTTP_SERVICE_UNAVAILABLE,
                                s_error_body ("overloaded", "retry later", NULL), false);
        return MHD_YES;
    }
    if (request->route != S_ROUTE_LEADS)
        return MHD_NO;
    if (request->state == S_ANSWERED) {
        char *answer = request->answer;
        request->answer = NULL;
        return s_respond_as (connection, request->http_status, answer, "application/json",
                             request->replayed);
    }
    if (*upload_data_size) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (request->too_big || request->size + size > (size_t) self->config->body_limit) {
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
    if (request->state == S_SUSPENDED)
        return MHD_YES;         //  spurious call while waiting
    if (request->state == S_CLAIMED)
        return s_push (self, connection, request, &request->lead, &request->received);
    return s_lead (self, connection, request);
}

static void
s_on_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                enum MHD_RequestTerminationCode toe)
{
    intake_server_t *self = (intake_server_t *) cls;
    s_request_t *request = (s_request_t *) *con_cls;
    if (!request)
        return;
    if (request->state == S_SUSPENDED) {
        //  Only at shutdown: take it out of the table before freeing it
        pthread_mutex_lock (&self->mutex);
        if (zhashx_lookup (self->pending, request->lead_id) == request)
            zhashx_delete (self->pending, request->lead_id);
        pthread_mutex_unlock (&self->mutex);
    }
    s_request_free (request);
    *con_cls = NULL;
}

//  --------------------------------------------------------------------------
//  Construction

intake_server_t *
intake_server_new (const pp_config_t *config, int slot)
{
    assert (config);
    if (slot < 0 || slot >= config->slots [PP_SLOT_INTAKE]) {
        zsys_error ("intake: slot %d is not declared (slots/intake = %d)", slot,
                    config->slots [PP_SLOT_INTAKE]);
        return NULL;
    }
    intake_server_t *self = (intake_server_t *) zmalloc (sizeof (intake_server_t));
    self->config = config;
    self->slot = slot;
    pthread_mutex_init (&self->mutex, NULL);
    static const char base32 [] = "0123456789abcdefghjkmnpqrstvwxyz";
    char id [PP_LEAD_ID_SIZE + 1];
    pp_id_new (id);
    for (int i = 0; i < 4; i++)
        self->instance [i] = base32 [(unsigned char) id [PP_LEAD_ID_SIZE - 1 - i] & 31];
    self->pending = zhashx_new ();
    self->buckets = zhashx_new ();
    zhashx_set_destructor (self->buckets, s_bucket_destroy);
    self->idem_waiting = zlistx_new ();
    self->idem_writes = zlistx_new ();
    zlistx_set_destructor (self->idem_writes, s_idem_write_destroy);
    self->received = zlistx_new ();
    zlistx_set_destructor (self->received, s_received_destroy);

    char *run_dir = zsys_sprintf ("%s/run", config->var_dir);
    zsys_dir_create ("%s", run_dir);
    zstr_free (&run_dir);

    self->watch = pp_watch_new (config->database_url);
    if (!self->watch) {
        zsys_error ("intake: cannot load the marketplace from the database");
        intake_server_destroy (&self);
        return NULL;
    }
    //  PostgreSQL ends a statement of this session that runs longer than
    //  intake/db_timeout_ms (a lock waited for, say: it then never commits
    //  behind our back), and a server that does not answer within twice
    //  that (stopped, hung) loses the session. Its first connect is not
    //  bounded (neither is the watch's, above); a session that did not
    //  come up is made again by s_db.
    self->db = pp_db_new (config->database_url);
    assert (self->db);
    char setup [64];
    snprintf (setup, sizeof setup, "SET statement_timeout = %d", config->intake_db_timeout_ms);
    if (pp_db_set_setup (self->db, setup))
        zsys_warning ("intake: the request path's database session is not ready; retrying");
    pp_db_set_timeout (self->db, 2 * config->intake_db_timeout_ms);
    self->replies = zsock_new (ZMQ_PULL);
    assert (self->replies);
    zsock_set_rcvhwm (self->replies, config->hwm);
    zsock_set_linger (self->replies, 0);
    char *endpoint = pp_config_endpoint (config, PP_SLOT_INTAKE, slot);
    if (zsock_bind (self->replies, "%s", endpoint) < 0) {
        zsys_error ("intake: cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zstr_free (&endpoint);
        intake_server_destroy (&self);
        return NULL;
    }
    zstr_free (&endpoint);
    self->to_validate = zsock_new (ZMQ_PUSH);
    assert (self->to_validate);
    zsock_set_sndhwm (self->to_validate, config->hwm);
    zsock_set_linger (self->to_validate, 0);
    pp_config_connect_slots (config, self->to_validate, PP_SLOT_VALIDATE, "intake");
    char inproc [64];
    snprintf (inproc, sizeof inproc, "inproc://intake-lookups-%p", (void *) self);
    self->lookups_in = zsock_new (ZMQ_PULL);
    self->lookups_out = zsock_new (ZMQ_PUSH);
    assert (self->lookups_in && self->lookups_out);
    zsock_set_sndhwm (self->lookups_out, 10000);
    if (zsock_bind (self->lookups_in, "%s", inproc) < 0
        || zsock_connect (self->lookups_out, "%s", inproc) < 0) {
        intake_server_destroy (&self);
        return NULL;
    }
    self->outbox = pp_outbox_new (config);
    self->loop = zloop_new ();
    assert (self->loop);
    if (zloop_reader (self->loop, self->replies, s_on_result, self)
        || zloop_reader (self->loop, self->lookups_in, s_on_lookup, self)
        || zloop_timer (self->loop, S_IDEM_POLL_MS, 0, s_on_idem_wait, self) <= 0
        || zloop_timer (self->loop, (size_t) config->idempotency_purge_ms, 0, s_on_idem_purge,
                        self) <= 0
        || pp_outbox_attach (self->outbox, self->loop)
        || pp_watch_attach (self->watch, self->loop)) {
        zsys_error ("intake: cannot set up the loop");
        intake_server_destroy (&self);
        return NULL;
    }
    int watchdog_ms = pp_sd_watchdog_ms ();
    zloop_timer (self->loop, (size_t) (watchdog_ms ? watchdog_ms : 1000), 0, s_on_watchdog, self);

    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t) (config->http_port + slot));
    if (inet_pton (AF_INET, config->http_address, &address.sin_addr) != 1) {
        zsys_error ("intake: bad http address '%s'", config->http_address);
        intake_server_destroy (&self);
        return NULL;
    }
    self->daemon = MHD_start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME
            | MHD_USE_ERROR_LOG,
        0, NULL, NULL, s_on_request, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int) 4000, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1, MHD_OPTION_END);
    if (!self->daemon) {
        zsys_error ("intake: cannot listen on %s:%d", config->http_address,
                    config->http_port + slot);
        intake_server_destroy (&self);
        return NULL;
    }
    zsys_info ("intake: slot %d listening on http://%s:%d", slot, config->http_address,
               config->http_port + slot);
    return self;
}

//  Answer every pending lead with 503 so MHD can stop (it must not be
//  stopped with suspended connections).
static void
s_release_pending (intake_server_t *self)
{
    pthread_mutex_lock (&self->mutex);
    zlistx_t *keys = zhashx_keys (self->pending);
    for (char *key = (char *) zlistx_first (keys); key; key = (char *) zlistx_next (keys)) {
        s_request_t *request = (s_request_t *) zhashx_lookup (self->pending, key);
        if (request)
            s_resume (self, request, MHD_HTTP_SERVICE_UNAVAILABLE,
                      s_error_body ("shutting_down", "the gateway is restarting; retry", NULL));
    }
    zlistx_destroy (&keys);
    pthread_mutex_unlock (&self->mutex);
}

void
intake_server_destroy (intake_server_t **self_p)
{
    assert (self_p);
    intake_server_t *self = *self_p;
    if (!self)
        return;
    atomic_store (&self->stopping, true);
    if (self->daemon) {
        s_release_pending (self);
        if (self->idem_waiting)
            s_release_waiting (self);
        zclock_sleep (50);      //  let MHD send what was resumed
        MHD_stop_daemon (self->daemon);
    }
    if (self->idem_writes && self->db)
        s_idem_flush (self);
    pp_db_destroy (&self->db);
    //  Whatever registered on the loop goes before the loop
    pp_outbox_destroy (&self->outbox);
    pp_watch_destroy (&self->watch);
    zloop_destroy (&self->loop);
    zsock_destroy (&self->lookups_out);
    zsock_destroy (&self->lookups_in);
    zlistx_destroy (&self->received);
    zsock_destroy (&self->to_validate);
    zsock_destroy (&self->replies);
    zhashx_destroy (&self->pending);
    zhashx_destroy (&self->buckets);
    zlistx_destroy (&self->idem_waiting);
    zlistx_destroy (&self->idem_writes);
    free (self->heap);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

int
intake_server_run (intake_server_t *self)
{
    assert (self);
    pp_sd_ready ();
    pp_sd_status ("running");
    zloop_start (self->loop);
    pp_sd_stopping ();
    atomic_store (&self->stopping, true);
    s_release_pending (self);
    //  Status lookups still queued are answered from the ledger now (keyed
    //  leads with 503), then keyed leads waiting for a first answer
    s_on_lookup (self->loop, self->lookups_in, self);
    s_release_waiting (self);
    s_idem_flush (self);
    //  Events queued by the HTTP thread before it stopped
    pthread_mutex_lock (&self->mutex);
    s_add_received (self);
    pthread_mutex_unlock (&self->mutex);
    size_t left = pp_outbox_drain (self->outbox, 2000);
    if (left)
        zsys_warning ("intake: %zu events not acknowledged at exit", left);
    return 0;
}
