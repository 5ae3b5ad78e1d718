/*  mockbuyer - many scripted buyers on one HTTP port, for tests, the demo and the bench  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  pingpost-mockbuyer --port N [--address 127.0.0.1] [--record FILE]
//                     [--pidfile FILE] --buyer NAME[:key=val,...] ...
//
//  Each buyer answers POST /<name>/ping with a bid, POST /<name>/post with an
//  accept or reject, and POST /<name>/post-form-ok with text "OK <n>". Keys:
//  bid=12.50 delay_ms=0 jitter_ms=0 accept=1.0 ping_status=200
//  post_status=200 mode=normal|garbage|error|hang, and
//  ping_delay_ms / post_delay_ms (override delay_ms for that kind),
//  shape=default|nested|string (the ping answer:
//    default {"bid": 12.50, "id": "<name>-bid-<n>"},
//    nested  {"data": {"price": 12.50, "ok": true, "ref": "<name>-bid-<n>"}},
//    string  {"bid": "12.50", "id": "<name>-bid-<n>"}),
//  big=1 (the ping answer padded with a "pad" string to 200 KiB of valid JSON).
//  POST /_mode/<name>/<mode> switches a buyer's mode at run time (200
//  {"mode": "<mode>"}; 404 for an unknown buyer, 400 for an unknown mode).
//  GET /_stats gives each buyer's counters as JSON (pings, pings_answered_bid,
//  posts, accepted, rejected, accepted_cents), GET /_healthz 200. One thread
//  per connection, so a slow buyer only delays its own connection.

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <microhttpd.h>

#define MB_EXIT_USAGE 64
#define streq(a, b) (strcmp ((a), (b)) == 0)
#define MB_BODY_LIMIT (1024 * 1024)
#define MB_CONNECTION_LIMIT 1024
#define MB_NAME_MAX 64
#define MB_SLICE_MS 50                  //  delays and hangs look at the stop flag this often
#define MB_BIG_SIZE (200 * 1024)        //  size of a big=1 ping answer

typedef enum {
    MB_MODE_NORMAL,                     //  answer as configured
    MB_MODE_GARBAGE,                    //  200 with a body that is not JSON
    MB_MODE_ERROR,                      //  HTTP 500
    MB_MODE_HANG                        //  never answer; close when the client does
} mb_mode_t;

typedef enum {
    MB_SHAPE_DEFAULT,                   //  {"bid": 12.50, "id": "..."}
    MB_SHAPE_NESTED,                    //  {"data": {"price": 12.50, "ok": true, "ref": "..."}}
    MB_SHAPE_STRING                     //  {"bid": "12.50", "id": "..."}
} mb_shape_t;

typedef struct {
    char name [MB_NAME_MAX + 1];        //  path prefix: /<name>/ping
    int64_t bid_cents;                  //  ping answer; 0 declines
    long delay_ms;                      //  fixed delay before every answer
    long ping_delay_ms;                 //  delay before ping answers; -1: delay_ms
    long post_delay_ms;                 //  delay before post answers; -1: delay_ms
    long jitter_ms;                     //  plus a uniform random 0..jitter_ms
    double accept;                      //  post acceptance probability 0..1
    unsigned ping_status;               //  HTTP status of ping answers
    unsigned post_status;               //  HTTP status of post answers
    atomic_int mode;                    //  how it misbehaves (an mb_mode_t); POST /_mode sets it
    mb_shape_t shape;                   //  JSON shape of ping answers
    bool big;                           //  pad ping answers to MB_BIG_SIZE
    atomic_llong pings;                 //  pings received
    atomic_llong pings_answered_bid;    //  pings answered normally, 2xx, with a bid > 0
    atomic_llong posts;                 //  posts received (both post paths)
    atomic_llong accepted;              //  posts answered 2xx and accepted
    atomic_llong rejected;              //  posts not accepted
    atomic_llong accepted_cents;        //  sum of post prices (else bid_cents) over accepted posts
} mb_buyer_t;

typedef struct {
    char *body;                         //  request body so far (NUL-terminated)
    size_t size;                        //  bytes in body
    bool too_large;                     //  body passed MB_BODY_LIMIT; rest dropped
} mb_request_t;

//  Shared by all connection threads; set up before the daemon starts.
static mb_buyer_t *s_buyers;            //  array of s_nbuyers
static size_t s_nbuyers;
static FILE *s_record;                  //  --record file, or NULL
static pthread_mutex_t s_record_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool s_stopping;          //  set at SIGTERM/SIGINT: delays and hangs end
static atomic_ullong s_seed_counter;    //  makes every thread's random seed distinct

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: pingpost-mockbuyer --port N [--address 127.0.0.1] [--record FILE]\n"
        "                          [--pidfile FILE] --buyer NAME[:key=val,...] ...\n"
        "buyer keys: bid=12.50 (0 declines) delay_ms=0 jitter_ms=0 accept=1.0\n"
        "            ping_status=200 post_status=200 mode=normal|garbage|error|hang\n"
        "            ping_delay_ms=N post_delay_ms=N (override delay_ms for that kind)\n"
        "            shape=default|nested|string big=0|1 (ping answer padded to 200 KiB)\n"
        "paths: POST /NAME/ping, /NAME/post, /NAME/post-form-ok, /_mode/NAME/MODE;\n"
        "       GET /_stats, /_healthz\n");
}

static void
    s_usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2), noreturn));

static void
s_usage_error (const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    fprintf (stderr, "pingpost-mockbuyer: ");
    vfprintf (stderr, fmt, args);
    va_end (args);
    fprintf (stderr, "\n");
    s_usage (stderr);
    exit (MB_EXIT_USAGE);
}

//  --------------------------------------------------------------------------
//  Parse "12", "12.5" or "12.50" into cents, exactly (no floating point: the
//  stats report money and tests compare it to the ledger). -1 if malformed.

static int64_t
s_parse_cents (const char *text)
{
    int64_t units = 0;
    const char *p = text;
    if (!*p)
        return -1;
    while (*p >= '0' && *p <= '9') {
        units = units * 10 + (*p - '0');
        if (units > INT64_MAX / 1000)
            return -1;
        p++;
    }
    int64_t cents = units * 100;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        cents += (*p++ - '0') * 10;
        if (*p >= '0' && *p <= '9')
            cents += *p++ - '0';
    }
    return *p || p == text ? -1 : cents;
}

static long
s_parse_long (const char *text, long min, long max, bool *ok)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        *ok = false;
    return value;
}

//  A mode name to its mb_mode_t; -1 when unknown.
static int
s_mode_parse (const char *text)
{
    if (streq (text, "normal"))
        return MB_MODE_NORMAL;
    if (streq (text, "garbage"))
        return MB_MODE_GARBAGE;
    if (streq (text, "error"))
        return MB_MODE_ERROR;
    if (streq (text, "hang"))
        return MB_MODE_HANG;
    return -1;
}

//  --------------------------------------------------------------------------
//  Parse one --buyer NAME[:key=val,...] into buyer. Exits 64 on any error.

static void
s_buyer_parse (mb_buyer_t *buyer, const char *spec)
{
    memset (buyer, 0, sizeof (*buyer));
    buyer->bid_cents = 1250;
    buyer->ping_delay_ms = -1;
    buyer->post_delay_ms = -1;
    buyer->accept = 1.0;
    buyer->ping_status = 200;
    buyer->post_status = 200;
    atomic_init (&buyer->mode, MB_MODE_NORMAL);
    buyer->shape = MB_SHAPE_DEFAULT;

    const char *colon = strchr (spec, ':');
    size_t name_len = colon ? (size_t) (colon - spec) : strlen (spec);
    if (name_len == 0 || name_len > MB_NAME_MAX)
        s_usage_error ("bad buyer name in '%s' (1 to 64 characters)", spec);
    for (size_t i = 0; i < name_len; i++) {
        char c = spec [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_' || c == '.'))
            s_usage_error ("bad buyer name in '%s' (letters, digits, '-', '_', '.')", spec);
    }
    memcpy (buyer->name, spec, name_len);
    buyer->name [name_len] = 0;
    if (buyer->name [0] == '_')
        s_usage_error ("buyer name '%s' may not start with '_'", buyer->name);
    if (!colon)
        return;

    char *keys = strdup (colon + 1);
    assert (keys);
    char *save = NULL;
    for (char *item = strtok_r (keys, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (item, '=');
        if (!eq) {
            free (keys);
            s_usage_error ("buyer key in '%s' needs a value (key=val)", spec);
        }
        *eq = 0;
        const char *key = item;
        const char *value = eq + 1;
        bool ok = true;
        if (streq (key, "bid")) {
            buyer->bid_cents = s_parse_cents (value);
            ok = buyer->bid_cents >= 0;
        }
        else
        if (streq (key, "delay_ms"))
            buyer->delay_ms = s_parse_long (value, 0, 3600000, &ok);
        else
        if (streq (key, "ping_delay_ms"))
            buyer->ping_delay_ms = s_parse_long (value, 0, 3600000, &ok);
        else
        if (streq (key, "post_delay_ms"))
            buyer->post_delay_ms = s_parse_long (value, 0, 3600000, &ok);
        else
        if (streq (key, "jitter_ms"))
            buyer->jitter_ms = s_parse_long (value, 0, 3600000, &ok);
        else
        if (streq (key, "accept")) {
            char *end;
            buyer->accept = strtod (value, &end);
            ok = end != value && !*end && buyer->accept >= 0.0 && buyer->accept <= 1.0;
        }
        else
        if (streq (key, "ping_status"))
            buyer->ping_status = (unsigned) s_parse_long (value, 100, 599, &ok);
        else
        if (streq (key, "post_status"))
            buyer->post_status = (unsigned) s_parse_long (value, 100, 599, &ok);
        else
        if (streq (key, "mode")) {
            int mode = s_mode_parse (value);
            if (mode >= 0)
                atomic_store (&buyer->mode, mode);
            else
                ok = false;
        }
        else
        if (streq (key, "shape")) {
            if (streq (value, "default"))
                buyer->shape = MB_SHAPE_DEFAULT;
            else
            if (streq (value, "nested"))
                buyer->shape = MB_SHAPE_NESTED;
            else
            if (streq (value, "string"))
                buyer->shape = MB_SHAPE_STRING;
            else
                ok = false;
        }
        else
        if (streq (key, "big"))
            buyer->big = s_parse_long (value, 0, 1, &ok) == 1;
        else {
            free (keys);
            s_usage_error ("unknown buyer key in '%s'", spec);
        }
        if (!ok) {
            free (keys);
            s_usage_error ("bad value in buyer '%s'", spec);
        }
    }
    free (keys);
}

static mb_buyer_t *
s_buyer_lookup (const char *name, size_t name_len)
{
    for (size_t i = 0; i < s_nbuyers; i++)
        if (strlen (s_buyers [i].name) == name_len
            && memcmp (s_buyers [i].name, name, name_len) == 0)
            return &s_buyers [i];
    return NULL;
}

//  --------------------------------------------------------------------------
//  A per-thread xorshift generator: jitter and acceptance draws need no lock.

static uint64_t
s_random (void)
{
    static _Thread_local uint64_t state;
    if (!state) {
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        state = ((uint64_t) now.tv_nsec << 20) ^ (uint64_t) now.tv_sec
              ^ ((atomic_fetch_add (&s_seed_counter, 1) + 1) * 0x9E3779B97F4A7C15ULL);
        if (!state)
            state = 0x2545F4914F6CDD1DULL;
    }
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

//  Sleep ms milliseconds in slices, returning early once we are stopping,
//  so a long delay never holds up MHD_stop_daemon.
static void
s_sleep_ms (long ms)
{
    while (ms > 0 && !atomic_load (&s_stopping)) {
        long slice = ms < MB_SLICE_MS ? ms : MB_SLICE_MS;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};
        while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
            ;
        ms -= slice;
    }
}

//  Wait before answering: the kind's own delay when set, else delay_ms, plus jitter.
static void
s_buyer_delay (mb_buyer_t *buyer, bool ping)
{
    long ms = ping ? buyer->ping_delay_ms : buyer->post_delay_ms;
    if (ms < 0)
        ms = buyer->delay_ms;
    if (buyer->jitter_ms > 0)
        ms += (long) (s_random () % (uint64_t) (buyer->jitter_ms + 1));
    s_sleep_ms (ms);
}

//  --------------------------------------------------------------------------
//  Append one JSON line describing a buyer request to the --record file.

static void
s_record_request (struct MHD_Connection *connection, mb_buyer_t *buyer, const char *kind,
                  mb_request_t *request)
{
    if (!s_record)
        return;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    char at_us [32];
    snprintf (at_us, sizeof (at_us), "%" PRId64,
              (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000);
    const char *content_type
        = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

    cJSON *line = cJSON_CreateObject ();
    assert (line);
    //  A raw number: cJSON would print 16-digit microseconds in exponent form.
    cJSON_AddItemToObject (line, "at_us", cJSON_CreateRaw (at_us));
    cJSON_AddStringToObject (line, "buyer", buyer->name);
    cJSON_AddStringToObject (line, "kind", kind);
    cJSON_AddStringToObject (line, "content_type", content_type ? content_type : "");
    cJSON_AddStringToObject (line, "body", request->body ? request->body : "");
    char *text = cJSON_PrintUnformatted (line);
    assert (text);
    pthread_mutex_lock (&s_record_lock);
    fputs (text, s_record);
    fputc ('\n', s_record);
    fflush (s_record);
    pthread_mutex_unlock (&s_record_lock);
    cJSON_free (text);
    cJSON_Delete (line);
}

//  --------------------------------------------------------------------------
//  Answers

static enum MHD_Result
s_respond (struct MHD_Connection *connection, unsigned status, const char *content_type,
           const char *body)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        strlen (body), (void *) body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_respond_error (struct MHD_Connection *connection, unsigned status, const char *message)
{
    char body [256];
    snprintf (body, sizeof (body), "{\"error\": \"%s\"}", message);
    return s_respond (connection, status, "application/json", body);
}

//  Hang: answer nothing until the client gives up (closes) or we stop. The
//  connection has its own thread, so only it waits.
static enum MHD_Result
s_hang (struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info
        = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = info ? info->connect_fd : -1;
    while (!atomic_load (&s_stopping)) {
        if (fd < 0) {
            s_sleep_ms (MB_SLICE_MS);
            continue;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
        int rc = poll (&pfd, 1, MB_SLICE_MS);
        if (rc > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            break;
    }
    //  Nobody reads this (the client is gone, or we are stopping); answering
    //  rather than returning MHD_NO keeps MHD from logging an internal error.
    return s_respond_error (connection, 504, "mock buyer hung");
}

//  Modes other than normal answer the same way on every path. Returns true
//  when it answered (rc set).
static bool
s_misbehave (struct MHD_Connection *connection, mb_buyer_t *buyer, enum MHD_Result *rc)
{
    switch ((mb_mode_t) atomic_load (&buyer->mode)) {
        case MB_MODE_GARBAGE:
            *rc = s_respond (connection, 200, "text/html",
                             "<html><body>this is not json {{{</body></html>");
            return true;
        case MB_MODE_ERROR:
            *rc = s_respond_error (connection, 500, "mock buyer error");
            return true;
        case MB_MODE_HANG:
            *rc = s_hang (connection);
            return true;
        case MB_MODE_NORMAL:
        default:
            return false;
    }
}

static bool
s_is_2xx (unsigned status)
{
    return status >= 200 && status < 300;
}

static enum MHD_Result
s_on_ping (struct MHD_Connection *connection, mb_buyer_t *buyer)
{
    long long n = atomic_fetch_add (&buyer->pings, 1) + 1;
    s_buyer_delay (buyer, true);
    enum MHD_Result rc;
    if (s_misbehave (connection, buyer, &rc))
        return rc;
    if (buyer->bid_cents > 0 && s_is_2xx (buyer->ping_status))
        atomic_fetch_add (&buyer->pings_answered_bid, 1);

    //  The answer without its closing brace, so big=1 can add its pad.
    char price [32];
    snprintf (price, sizeof (price), "%" PRId64 ".%02" PRId64, buyer->bid_cents / 100,
              buyer->bid_cents % 100);
    char head [256];
    if (buyer->shape == MB_SHAPE_NESTED)
        snprintf (head, sizeof (head),
                  "{\"data\": {\"price\": %s, \"ok\": true, \"ref\": \"%s-bid-%lld\"}", price,
                  buyer->name, n);
    else
    if (buyer->shape == MB_SHAPE_STRING)
        snprintf (head, sizeof (head), "{\"bid\": \"%s\", \"id\": \"%s-bid-%lld\"", price,
                  buyer->name, n);
    else
        snprintf (head, sizeof (head), "{\"bid\": %s, \"id\": \"%s-bid-%lld\"", price,
                  buyer->name, n);
    if (!buyer->big) {
        char body [260];
        snprintf (body, sizeof (body), "%s}", head);
        return s_respond (connection, buyer->ping_status, "application/json", body);
    }
    //  {head, "pad": "xxx...x"}: exactly MB_BIG_SIZE bytes of valid JSON.
    static const char pad_open [] = ", \"pad\": \"";
    static const char pad_close [] = "\"}";
    size_t head_size = strlen (head);
    size_t fixed = head_size + strlen (pad_open) + strlen (pad_close);
    assert (fixed < MB_BIG_SIZE);
    char *body = (char *) malloc (MB_BIG_SIZE + 1);
    assert (body);
    char *p = body;
    memcpy (p, head, head_size);
    p += head_size;
    memcpy (p, pad_open, strlen (pad_open));
    p += strlen (pad_open);
    memset (p, 'x', MB_BIG_SIZE - fixed);
    p += MB_BIG_SIZE - fixed;
    memcpy (p, pad_close, strlen (pad_close) + 1);
    rc = s_respond (connection, buyer->ping_status, "application/json", body);
    free (body);
    return rc;
}

//  The price of a post: its JSON "price" (pingpost's default post protocol
//  carries the charged price), else the buyer's configured bid.
static int64_t
s_post_price (const mb_buyer_t *buyer, const char *body)
{
    int64_t cents = buyer->bid_cents;
    cJSON *json = body ? cJSON_Parse (body) : NULL;
    const cJSON *price = cJSON_GetObjectItemCaseSensitive (json, "price");
    if (cJSON_IsNumber (price) && price->valuedouble >= 0 && price->valuedouble < 1e9)
        cents = (int64_t) (price->valuedouble * 100.0 + 0.5);
    cJSON_Delete (json);
    return cents;
}

static enum MHD_Result
s_on_post (struct MHD_Connection *connection, mb_buyer_t *buyer, bool form_ok,
           const char *request_body)
{
    long long n = atomic_fetch_add (&buyer->posts, 1) + 1;
    s_buyer_delay (buyer, false);
    enum MHD_Result rc;
    if (s_misbehave (connection, buyer, &rc)) {
        atomic_fetch_add (&buyer->rejected, 1);
        return rc;
    }
    bool accept = form_ok
               || buyer->accept >= 1.0
               || (double) (s_random () >> 11) * 0x1.0p-53 < buyer->accept;
    if (accept && s_is_2xx (buyer->post_status)) {
        atomic_fetch_add (&buyer->accepted, 1);
        atomic_fetch_add (&buyer->accepted_cents, s_post_price (buyer, request_body));
    }
    else
        atomic_fetch_add (&buyer->rejected, 1);

    char body [256];
    if (form_ok) {
        snprintf (body, sizeof (body), "OK %lld", n);
        return s_respond (connection, buyer->post_status, "text/plain", body);
    }
    if (accept)
        snprintf (body, sizeof (body), "{\"accepted\": true, \"id\": \"%s-%lld\"}", buyer->name, n);
    else
        snprintf (body, sizeof (body),
                  "{\"accepted\": false, \"reason\": \"rejected by mock buyer\"}");
    return s_respond (connection, buyer->post_status, "application/json", body);
}

static enum MHD_Result
s_on_stats (struct MHD_Connection *connection)
{
    cJSON *stats = cJSON_CreateObject ();
    assert (stats);
    for (size_t i = 0; i < s_nbuyers; i++) {
        mb_buyer_t *buyer = &s_buyers [i];
        cJSON *one = cJSON_AddObjectToObject (stats, buyer->name);
        assert (one);
        cJSON_AddNumberToObject (one, "pings", (double) atomic_load (&buyer->pings));
        cJSON_AddNumberToObject (one, "pings_answered_bid",
                                 (double) atomic_load (&buyer->pings_answered_bid));
        cJSON_AddNumberToObject (one, "posts", (double) atomic_load (&buyer->posts));
        cJSON_AddNumberToObject (one, "accepted", (double) atomic_load (&buyer->accepted));
        cJSON_AddNumberToObject (one, "rejected", (double) atomic_load (&buyer->rejected));
        cJSON_AddNumberToObject (one, "accepted_cents",
                                 (double) atomic_load (&buyer->accepted_cents));
    }
    char *text = cJSON_PrintUnformatted (stats);
    assert (text);
    enum MHD_Result rc = s_respond (connection, 200, "application/json", text);
    cJSON_free (text);
    cJSON_Delete (stats);
    return rc;
}

//  POST /_mode/<buyer>/<mode>: switch a buyer's mode at run time.
static enum MHD_Result
s_on_mode (struct MHD_Connection *connection, const char *path)
{
    const char *slash = strchr (path, '/');
    if (!slash)
        return s_respond_error (connection, 404, "not found");
    mb_buyer_t *buyer = s_buyer_lookup (path, (size_t) (slash - path));
    if (!buyer)
        return s_respond_error (connection, 404, "unknown buyer");
    int mode = s_mode_parse (slash + 1);
    if (mode < 0)
        return s_respond_error (connection, 400, "unknown mode");
    atomic_store (&buyer->mode, mode);
    char body [64];
    snprintf (body, sizeof (body), "{\"mode\": \"%s\"}", slash + 1);
    return s_respond (connection, 200, "application/json", body);
}

//  --------------------------------------------------------------------------
//  Route a complete request.

static enum MHD_Result
s_route (struct MHD_Connection *connection, const char *url, const char *method,
         mb_request_t *request)
{
    bool is_get = streq (method, "GET") || streq (method, "HEAD");
    if (streq (url, "/_healthz"))
        return is_get ? s_respond (connection, 200, "application/json", "{\"ok\": true}")
                      : s_respond_error (connection, 405, "method not allowed");
    if (streq (url, "/_stats"))
        return is_get ? s_on_stats (connection)
                      : s_respond_error (connection, 405, "method not allowed");
    if (strncmp (url, "/_mode/", 7) == 0)
        return streq (method, "POST") ? s_on_mode (connection, url + 7)
                                      : s_respond_error (connection, 405, "method not allowed");

    //  /<buyer>/<kind>
    if (url [0] != '/')
        return s_respond_error (connection, 404, "not found");
    const char *name = url + 1;
    const char *slash = strchr (name, '/');
    if (!slash)
        return s_respond_error (connection, 404, "not found");
    mb_buyer_t *buyer = s_buyer_lookup (name, (size_t) (slash - name));
    if (!buyer)
        return s_respond_error (connection, 404, "unknown buyer");
    const char *kind = slash + 1;
    if (!streq (kind, "ping") && !streq (kind, "post") && !streq (kind, "post-form-ok"))
        return s_respond_error (connection, 404, "not found");
    if (!streq (method, "POST"))
        return s_respond_error (connection, 405, "method not allowed");
    if (request->too_large)
        return s_respond_error (connection, 413, "body too large");

    s_record_request (connection, buyer, streq (kind, "ping") ? "ping" : "post", request);
    if (streq (kind, "ping"))
        return s_on_ping (connection, buyer);
    return s_on_post (connection, buyer, streq (kind, "post-form-ok"), request->body);
}

//  MHD calls this first with no body, then once per body chunk, then once
//  with upload_data_size 0: we collect the body and answer on the last call.
static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size,
              void **req_cls)
{
    mb_request_t *request = *req_cls;
    if (!request) {
        request = calloc (1, sizeof (mb_request_t));
        assert (request);
        *req_cls = request;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t chunk = *upload_data_size;
        if (request->size + chunk > MB_BODY_LIMIT)
            request->too_large = true;
        else {
            char *grown = realloc (request->body, request->size + chunk + 1);
            assert (grown);
            memcpy (grown + request->size, upload_data, chunk);
            request->size += chunk;
            grown [request->size] = 0;
            request->body = grown;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return s_route (connection, url, method, request);
}

static void
s_on_completed (void *cls, struct MHD_Connection *connection, void **req_cls,
                enum MHD_RequestTerminationCode toe)
{
    mb_request_t *request = *req_cls;
    if (request) {
        free (request->body);
        free (request);
        *req_cls = NULL;
    }
}

//  --------------------------------------------------------------------------

static void
s_raise_fd_limit (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
}

int
main (int argc, char *argv [])
{
    long port = -1;
    const char *address = "127.0.0.1";
    const char *record_path = NULL;
    const char *pidfile = NULL;
    static const struct option options [] = {
        {"port", required_argument, NULL, 'p'},
        {"address", required_argument, NULL, 'a'},
        {"record", required_argument, NULL, 'r'},
        {"pidfile", required_argument, NULL, 'P'},
        {"buyer", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    s_buyers = calloc ((size_t) argc, sizeof (mb_buyer_t));
    assert (s_buyers);
    int opt;
    while ((opt = getopt_long (argc, argv, "p:a:r:P:b:h", options, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
            case 'p':
                port = s_parse_long (optarg, 0, 65535, &ok);
                if (!ok)
                    s_usage_error ("bad port '%s'", optarg);
                break;
            case 'a':
                address = optarg;
                break;
            case 'r':
                record_path = optarg;
                break;
            case 'P':
                pidfile = optarg;
                break;
            case 'b':
                s_buyer_parse (&s_buyers [s_nbuyers], optarg);
                if (s_buyer_lookup (s_buyers [s_nbuyers].name, strlen (s_buyers [s_nbuyers].name)))
                    s_usage_error ("buyer '%s' given twice", s_buyers [s_nbuyers].name);
                s_nbuyers++;
                break;
            case 'h':
                s_usage (stdout);
                free (s_buyers);
                return 0;
            default:
                s_usage (stderr);
                return MB_EXIT_USAGE;
        }
    }
    if (optind < argc)
        s_usage_error ("unexpected argument '%s'", argv [optind]);
    if (port < 0)
        s_usage_error ("--port is required");
    if (s_nbuyers == 0)
        s_usage_error ("at least one --buyer is required");

    struct sockaddr_in bind_addr;
    memset (&bind_addr, 0, sizeof (bind_addr));
    bind_addr.sin_family = AF_INET;
    bind_addr.sin_port = htons ((uint16_t) port);
    if (inet_pton (AF_INET, address, &bind_addr.sin_addr) != 1)
        s_usage_error ("bad --address '%s' (an IPv4 address)", address);

    if (record_path) {
        s_record = fopen (record_path, "a");
        if (!s_record) {
            fprintf (stderr, "pingpost-mockbuyer: cannot open %s: %s\n", record_path,
                     strerror (errno));
            free (s_buyers);
            return EXIT_FAILURE;
        }
    }

    //  Block the stop signals in every thread; main waits for them in sigwait.
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGTERM);
    sigaddset (&stop_signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    signal (SIGPIPE, SIG_IGN);
    s_raise_fd_limit ();

    //  Poll, not select, in the connection threads: select breaks past fd 1023.
    struct MHD_Daemon *daemon = MHD_start_daemon (
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL
            | MHD_USE_ERROR_LOG,
        (uint16_t) port, NULL, NULL, s_on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &bind_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) MB_CONNECTION_LIMIT,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int) MB_CONNECTION_LIMIT,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t) (256 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, NULL,
        MHD_OPTION_END);
    if (!daemon) {
        fprintf (stderr, "pingpost-mockbuyer: cannot listen on %s:%ld\n", address, port);
        if (s_record)
            fclose (s_record);
        free (s_buyers);
        return EXIT_FAILURE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound_port = info ? info->port : (unsigned) port;

    if (pidfile) {
        FILE *file = fopen (pidfile, "w");
        if (!file || fprintf (file, "%ld\n", (long) getpid ()) < 0 || fclose (file) != 0) {
            fprintf (stderr, "pingpost-mockbuyer: cannot write %s: %s\n", pidfile,
                     strerror (errno));
            pidfile = NULL;
        }
    }
    printf ("mockbuyer listening on %u\n", bound_port);
    fflush (stdout);

    int signum = 0;
    while (sigwait (&stop_signals, &signum) != 0)
        ;
    atomic_store (&s_stopping, true);
    MHD_stop_daemon (daemon);
    if (pidfile)
        unlink (pidfile);
    if (s_record)
        fclose (s_record);
    free (s_buyers);
    return 0;
}
