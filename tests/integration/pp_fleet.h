/*  pp_fleet - end-to-end test harness: the real fleet, the mock buyer, HTTP, SQL, CLI  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  A pp_fleet_t is one private fleet (scripts/up under <build>/tv/<name>, its
//  own embedded PostgreSQL and HTTP port), plus at most one mock buyer. Test
//  programs create it in their cmocka group setup and destroy it in the group
//  teardown; a guardian process runs scripts/down if the test program dies
//  without tearing down (crash, ctest timeout).
//
//  Environment: PP_BIN_DIR (<build>/bin) and PP_SOURCE_DIR (repo root), as
//  tests/CMakeLists.txt sets them.

#ifndef PP_FLEET_H_INCLUDED
#define PP_FLEET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

typedef struct pp_fleet pp_fleet_t;
typedef struct pp_fleet_batch pp_fleet_batch_t;

//  Publisher API keys of pp_fleet_market_json ().
#define PP_FLEET_KEY_ACME  "pk_e2e_acme_0001"      //  "acme", revshare 80, no practical rate limit
#define PP_FLEET_KEY_FIXED "pk_e2e_fixed_0001"     //  "fixedpub", fixed payout 10.00
#define PP_FLEET_KEY_SLOW  "pk_e2e_slow_0001"      //  "slowpub", revshare 80, 2 leads/s

//  One HTTP request; every string is borrowed.
typedef struct {
    const char *method;         //  "GET", "POST", ...
    const char *path;           //  "/v1/leads"
    const char *api_key;        //  sent as "Authorization: Bearer <key>"; NULL: no header
    const char *content_type;   //  NULL: no Content-Type header
    const char *body;           //  NULL: no body
    size_t body_size;           //  bytes of body (may hold NULs); 0: strlen (body)
    int timeout_ms;             //  whole-request timeout; 0: 30000
} pp_fleet_request_t;

//  One HTTP answer.
typedef struct {
    long status;                //  HTTP status; 0 when no answer came (see error)
    char *body;                 //  answer body, NUL terminated, never NULL
    size_t body_size;           //  bytes in body
    cJSON *json;                //  body parsed as JSON, or NULL
    int64_t sent_us;            //  monotonic time the request started
    int64_t elapsed_us;         //  from start to the end of the answer
    char error [256];           //  curl's message when status is 0
    char *headers;              //  answer header lines as received, never NULL
} pp_fleet_reply_t;

//  Fail the running cmocka test with a message, the file and line, and the
//  tail of every service log. Needs <cmocka.h> included before use.
#define PP_CHECK(fleet, cond)                                                      \
    do {                                                                           \
        if (!(cond)) {                                                             \
            pp_fleet_fail ((fleet), __FILE__, __LINE__, #cond, "%s", "");          \
            fail ();                                                               \
        }                                                                          \
    } while (0)
#define PP_CHECKF(fleet, cond, ...)                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            pp_fleet_fail ((fleet), __FILE__, __LINE__, #cond, __VA_ARGS__);       \
            fail ();                                                               \
        }                                                                          \
    } while (0)

//  ---------------------------------------------------------------------------
//  The fleet

//  Start a fresh fleet named `name` (var dir <build>/tv/<name>, removed first
//  with anything a previous run left there) on a free port. `instances` is
//  PINGPOST_INSTANCES ("validate=2,deliver=2") or NULL for one of each.
//  Returns NULL (after printing why and stopping what started) on failure.
pp_fleet_t *
    pp_fleet_new (const char *name, const char *instances);
//  Stop the mock buyer and the fleet (scripts/down); nulls *self_p. Safe on NULL.
int
    pp_fleet_destroy (pp_fleet_t **self_p);
//  A cmocka group teardown for a state that is the pp_fleet_t itself.
int
    pp_fleet_teardown (void **state);
//  The var dir (absolute).
const char *
    pp_fleet_var_dir (pp_fleet_t *self);
//  The intake HTTP port.
int
    pp_fleet_http_port (pp_fleet_t *self);
//  The fleet's libpq conninfo.
const char *
    pp_fleet_conninfo (pp_fleet_t *self);
//  Append ZPL lines to VAR/etc/pingpost.cfg, indented under its root
//  "pingpost" ("    intake\n        idempotency_purge_ms = 200\n"). A
//  service reads the file when it starts: stop and restart it to apply
//  them (until the next scripts/up, which rewrites the file). 0 or -1
//  (printed).
int
    pp_fleet_config_append (pp_fleet_t *self, const char *lines);

//  Print "FAILED file:line: cond: message" and the tail of every log. For PP_CHECK.
void
    pp_fleet_fail (pp_fleet_t *self, const char *file, int line, const char *cond,
                   const char *format, ...) __attribute__ ((format (printf, 5, 6)));
//  Print the last `lines` lines of VAR/log/<name>.log ("validate-0", "mockbuyer").
void
    pp_fleet_log_tail (pp_fleet_t *self, const char *name, int lines);
//  The tail of every log under VAR/log.
void
    pp_fleet_logs_tail (pp_fleet_t *self, int lines);

//  ---------------------------------------------------------------------------
//  Processes

//  How many instances of `svc` ("validate") the fleet runs (its .cmd files).
int
    pp_fleet_slots (pp_fleet_t *self, const char *svc);
//  The pid in VAR/run/<svc>-<slot>.pid, or -1.
pid_t
    pp_fleet_pid (pp_fleet_t *self, const char *svc, int slot);
//  True when pid is a live (not zombie) process.
bool
    pp_fleet_pid_alive (pid_t pid);
//  Send sig to <svc>-<slot> if its pid is a live process of this fleet; for
//  SIGKILL, wait (<= 2 s) until it is gone. Returns 0 or -1.
int
    pp_fleet_kill (pp_fleet_t *self, const char *svc, int slot, int sig);
//  Start <svc>-<slot> again from its .cmd file (setsid, in the background,
//  appending to its log), write its pid file. Returns 0 or -1.
int
    pp_fleet_restart (pp_fleet_t *self, const char *svc, int slot);
//  True when every service instance of the fleet is alive; prints the dead ones.
bool
    pp_fleet_all_alive (pp_fleet_t *self);

//  ---------------------------------------------------------------------------
//  The mock buyer

//  Start pingpost-mockbuyer on a free port with these "--buyer" specs
//  ("b30:bid=30.00,delay_ms=0,accept=1"; NULL-terminated array), recording to
//  VAR/mock.jsonl. Stops a mock buyer started before. Returns 0 or -1.
int
    pp_fleet_mockbuyer_start (pp_fleet_t *self, const char *const *buyers);
//  The mock buyer's port, or 0.
int
    pp_fleet_mockbuyer_port (pp_fleet_t *self);
//  SIGTERM the mock buyer and wait for it. Safe when none runs.
void
    pp_fleet_mockbuyer_stop (pp_fleet_t *self);
//  GET /_stats of the mock buyer, parsed; NULL on failure. Caller deletes.
cJSON *
    pp_fleet_mockbuyer_stats (pp_fleet_t *self);
//  The record file as an array of its lines (objects); each gains "json", the
//  body parsed when it is JSON. Caller deletes. Never NULL.
cJSON *
    pp_fleet_mockbuyer_records (pp_fleet_t *self);
//  The recorded posts whose JSON body has "lead_id" == lead_id. Caller deletes.
cJSON *
    pp_fleet_mockbuyer_posts (pp_fleet_t *self, const char *lead_id);
//  The recorded requests of `kind` ("ping", "post"; NULL: any) whose raw body
//  holds lead_id (pings carry it as ping_id, posts as lead_id or a mapped
//  field), in the order received; none for an empty lead_id. Caller
//  deletes. Never NULL.
cJSON *
    pp_fleet_mockbuyer_lead_records (pp_fleet_t *self, const char *lead_id, const char *kind);
//  Poll those every 20 ms until at least `count` are there or timeout_ms
//  passes, sleep settle_ms more (so late ones land too), and return them
//  all, maybe fewer than count. Caller deletes. Never NULL.
cJSON *
    pp_fleet_mockbuyer_wait (pp_fleet_t *self, const char *lead_id, const char *kind, int count,
                             int timeout_ms, int settle_ms);
//  The "buyer" of each record, comma separated ("b30,b20"). Caller frees.
char *
    pp_fleet_records_buyers (const cJSON *records);
//  The same, sorted by name ("b20,b30"). Caller frees.
char *
    pp_fleet_records_buyers_sorted (const cJSON *records);
//  The bid id the mock buyer gave `buyer`'s answer to the ping of lead_id:
//  "<buyer>-bid-<n>", n counting that buyer's recorded pings (the mock
//  buyer's own numbering while pings come one at a time). NULL when the lead
//  did not ping the buyer. Caller frees.
char *
    pp_fleet_mockbuyer_bid_ref (pp_fleet_t *self, const char *buyer, const char *lead_id);
//  POST /_mode/<buyer>/<mode> to the mock buyer ("normal", "garbage", "error",
//  "hang"). Returns 0 when it answered 200 with that mode, else -1 (printed).
int
    pp_fleet_mockbuyer_mode (pp_fleet_t *self, const char *buyer, const char *mode);

//  ---------------------------------------------------------------------------
//  Marketplace and leads

//  A marketplace file: auction (first price, floor 5.00, exclusive, 1500 ms),
//  the "solar" vertical (first_name, last_name, email, phone, zip, state,
//  monthly_bill; dedupe on phone+email; consent required), the publishers
//  acme, fixedpub and slowpub (see the keys above), and `buyers` (JSON array
//  text). Caller frees.
char *
    pp_fleet_market_json (const char *buyers);
//  The same marketplace with `auction` (JSON object text; NULL: the one
//  above) and an optional pii "address" field in the vertical. Caller frees.
char *
    pp_fleet_market_json_with (const char *auction, const char *buyers);
//  One buyer (JSON object text) named `name` with one tier-1 campaign
//  "<name>-c" for the solar vertical with a fixed bid ("30.00"), filtered to
//  `state`, posting JSON to the mock buyer's /<name>/post. Caller frees.
char *
    pp_fleet_fixed_buyer (const char *name, const char *bid, const char *state);
//  Apply pp_fleet_market_json with that one fixed-price buyer (the usual
//  set-up of a test that only needs leads to sell). 0 or -1 (printed).
int
    pp_fleet_apply_fixed_buyer (pp_fleet_t *self, const char *name, const char *bid,
                                const char *state);
//  Apply a marketplace (every "@BUYER@" becomes the mock buyer's base URL)
//  with `pingpost apply`, then give the services time to reload. 0 or -1.
int
    pp_fleet_apply (pp_fleet_t *self, const char *market);
//  A fresh valid solar lead for `state`/`zip` with a phone and email never
//  used before in this program, consent, signals and timeout_ms 3000. Caller
//  deletes.
cJSON *
    pp_fleet_lead_new (const char *state, const char *zip);

//  ---------------------------------------------------------------------------
//  HTTP

//  Send one request to the fleet's intake and wait for its answer. Never NULL.
pp_fleet_reply_t *
    pp_fleet_request (pp_fleet_t *self, const pp_fleet_request_t *request);
//  POST /v1/leads with the key and a JSON body. Never NULL.
pp_fleet_reply_t *
    pp_fleet_post (pp_fleet_t *self, const char *api_key, const char *body);
//  POST /v1/leads of lead (printed). Never NULL.
pp_fleet_reply_t *
    pp_fleet_post_lead (pp_fleet_t *self, const char *api_key, const cJSON *lead);
//  POST /v1/leads of lead (printed) with one more request header line
//  ("Idempotency-Key: k1"; "Name;" sends it empty). Never NULL.
pp_fleet_reply_t *
    pp_fleet_post_lead_with_header (pp_fleet_t *self, const char *api_key, const cJSON *lead,
                                    const char *header);
//  GET a URL of the fleet's intake ("/healthz"). Never NULL.
pp_fleet_reply_t *
    pp_fleet_get (pp_fleet_t *self, const char *path);
//  Destroy a reply; nulls *self_p. Safe on NULL.
void
    pp_fleet_reply_destroy (pp_fleet_reply_t **self_p);
//  The answer's "status" string, or "" when absent.
const char *
    pp_fleet_reply_status (const pp_fleet_reply_t *self);
//  The answer's "lead_id", or "" when absent.
const char *
    pp_fleet_reply_lead_id (const pp_fleet_reply_t *self);
//  The answer's "price" in cents, or -1 when absent.
int64_t
    pp_fleet_reply_price_cents (const pp_fleet_reply_t *self);
//  True when "reasons" holds one with this code (and this field, unless NULL).
bool
    pp_fleet_reply_has_reason (const pp_fleet_reply_t *self, const char *code,
                               const char *field);
//  True when the answer has header `name` (any case) with exactly `value`.
bool
    pp_fleet_reply_has_header (const pp_fleet_reply_t *self, const char *name,
                               const char *value);
//  True when the body is {"error": {"code": "<string>", "message": "<string>"}}.
bool
    pp_fleet_reply_is_error_body (const pp_fleet_reply_t *self);
//  True when the HTTP status is `http` and (unless NULL) the answer's status
//  is `status`; otherwise prints label, status and body and returns false.
bool
    pp_fleet_reply_is (const pp_fleet_reply_t *self, const char *label, long http,
                       const char *status);
//  Print label, HTTP status, elapsed time and (up to 1,000 bytes of) body.
void
    pp_fleet_reply_print (const pp_fleet_reply_t *self, const char *label);

//  Requests sent concurrently through one curl multi handle, at most
//  `concurrency` in flight. Add requests, then run.
pp_fleet_batch_t *
    pp_fleet_batch_new (pp_fleet_t *self, int concurrency);
//  Destroy the batch and its replies (aborting requests in flight). Safe on NULL.
void
    pp_fleet_batch_destroy (pp_fleet_batch_t **self_p);
//  Queue a request (copied).
void
    pp_fleet_batch_add (pp_fleet_batch_t *self, const pp_fleet_request_t *request);
//  Add a header line ("Name: value"; "Name;" for an empty one) to the
//  request queued last.
void
    pp_fleet_batch_add_header (pp_fleet_batch_t *self, const char *header);
//  Queue POST /v1/leads of lead (printed) with api_key.
void
    pp_fleet_batch_add_lead (pp_fleet_batch_t *self, const char *api_key, const cJSON *lead);
//  Drive the requests for at most timeout_ms (requests may be added between
//  runs). Returns how many are not finished yet.
size_t
    pp_fleet_batch_run (pp_fleet_batch_t *self, int timeout_ms);
//  Number of requests added.
size_t
    pp_fleet_batch_size (pp_fleet_batch_t *self);
//  The reply of request `index` (in order of adding), NULL while unfinished. Borrowed.
pp_fleet_reply_t *
    pp_fleet_batch_reply (pp_fleet_batch_t *self, size_t index);

//  ---------------------------------------------------------------------------
//  SQL, CLI, time

//  Run query with text parameters (NULL-terminated) on the fleet's database;
//  returns the first column of the first row ("" for SQL NULL), or NULL when
//  no row came or the query failed (printed). Caller frees.
char *
    pp_fleet_sql (pp_fleet_t *self, const char *query, ...) __attribute__ ((sentinel));
//  Same, as an integer; -1 when there is no value.
int64_t
    pp_fleet_sql_int (pp_fleet_t *self, const char *query, ...) __attribute__ ((sentinel));
//  Poll query (every 50 ms) until its value equals expected or timeout_ms
//  passes. Returns 0, or -1 after printing the last value.
int
    pp_fleet_sql_wait (pp_fleet_t *self, const char *expected, int timeout_ms,
                       const char *query, ...) __attribute__ ((sentinel));
//  Wait until the ledger has the lead's "answered" event. 0, or -1 (printed).
int
    pp_fleet_wait_answered (pp_fleet_t *self, const char *lead_id, int timeout_ms);
//  Ledger queries of one lead ($1), each giving one text value.
//  Its bid and decline events, "kind:campaign:X" with X the amount in cents
//  of a bid or the code of a decline, comma separated, by campaign name.
#define PP_FLEET_SQL_AUCTION_EVENTS                                                       \
    "select coalesce(string_agg(e.kind || ':' || coalesce(c.name, '-') || ':' ||"         \
    "  case when e.kind = 'bid' then coalesce(e.amount_cents::text, 'null')"              \
    "  else coalesce(e.code, 'null') end, ','"                                            \
    "  order by c.name collate \"C\", e.kind, e.code), '')"                               \
    "  from events e left join campaigns c on c.id = e.campaign_id"                       \
    "  where e.lead_id = $1 and e.kind in ('bid', 'decline')"
//  Its sales, "campaign:charge_cents:payout_cents", by campaign name ("" if none).
#define PP_FLEET_SQL_SALES                                                                \
    "select coalesce(string_agg(c.name || ':' || s.charge_cents || ':' || s.payout_cents,"\
    "  ',' order by c.name collate \"C\"), '')"                                           \
    "  from sales s join campaigns c on c.id = s.campaign_id where s.lead_id = $1"
//  Its leads row, "status:price_cents:charge_cents".
#define PP_FLEET_SQL_LEAD_ROW                                                             \
    "select status || ':' || price_cents || ':' || charge_cents from leads"               \
    "  where lead_id = $1"
//  Its delivery events, "kind:campaign[:code]" in the order they happened.
#define PP_FLEET_SQL_DELIVERY_EVENTS                                                      \
    "select coalesce(string_agg(e.kind || ':' || coalesce(c.name, '-') ||"                \
    "  coalesce(':' || e.code, ''), ',' order by e.at, e.event_id), '')"                  \
    "  from events e left join campaigns c on c.id = e.campaign_id"                       \
    "  where e.lead_id = $1 and e.kind in"                                                \
    "  ('posted', 'accepted', 'post_rejected', 'post_error')"
//  Wait (<= 10 s) for the lead's "answered" event, then (<= 3 s each) until
//  the queries above give auction_events, sales and row (NULL: not checked).
//  0, or -1 after printing the last value.
int
    pp_fleet_wait_lead (pp_fleet_t *self, const char *lead_id, const char *auction_events,
                        const char *sales, const char *row);
//  Run `pingpost -c VAR/etc/pingpost.cfg ARGS...` (NULL-terminated); return its
//  stdout (caller frees; never NULL) and set *exit_code (-1: did not run or
//  died by a signal).
char *
    pp_fleet_cli (pp_fleet_t *self, int *exit_code, ...) __attribute__ ((sentinel));
//  Monotonic clock in microseconds.
int64_t
    pp_fleet_now_us (void);
//  Sleep this many milliseconds.
void
    pp_fleet_sleep_ms (int ms);

#endif
