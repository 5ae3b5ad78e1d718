/*  ledger_server - pingpost-ledger: batches events, commits them to PostgreSQL, acknowledges  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "ledger_server.h"

#include <assert.h>
#include <time.h>

#include "pp_db.h"
#include "pp_log.h"
#include "pp_util.h"
#include "pp_event.h"
#include "pp_lead.h"

#define S_RETRY_FIRST_MS 100        //  first reconnect / retry delay
#define S_RETRY_MAX_MS 5000         //  backoff ceiling
#define S_BUFFER_FACTOR 10          //  stop reading above this many batches buffered
#define S_LINGER_MS 1000            //  let the last acks leave at shutdown

//  --------------------------------------------------------------------------
//  The SQL of one flush. Events are COPYed into a temporary staging table
//  (rows vanish at COMMIT), then four set-based statements move them into
//  the ledger, so a batch costs a handful of round trips whatever its size.
//  Every statement is idempotent (a producer resends what was not acked),
//  sorts its rows by key so two ledger instances lock rows in the same order,
//  and reads the JSON detail defensively (jsonb_typeof before every cast).

static const char *s_sql_stage =
    "CREATE TEMP TABLE IF NOT EXISTS pp_ledger_stage ("
    " event_id text, lead_id text, at timestamptz, kind text, stage text,"
    " campaign_id bigint, buyer_id bigint, amount bigint, payout bigint, latency bigint,"
    " code text, detail jsonb) ON COMMIT DELETE ROWS";

static const char *s_sql_copy = "COPY pp_ledger_stage FROM STDIN";

//  The direct way (see s_write): events but `received` COPYed straight into
//  the ledger, in the staging table's column order.
static const char *s_sql_copy_direct =
    "COPY events (event_id, lead_id, at, kind, stage, campaign_id, buyer_id,"
    " amount_cents, payout_cents, latency_us, code, detail) FROM STDIN";

//  `events`, the bulk of the rows, skips ids it holds with ON CONFLICT DO
//  NOTHING. It once used an anti-join (NOT EXISTS), which costs the same on
//  a good plan, but the plan depends on statistics: on a young, unanalysed
//  events table PostgreSQL chose a hash anti-join that read the whole table
//  on every flush (15.7 million rows read in 311 flushes of a 20 s bench
//  run, half a core). The unique index decides per row whatever the
//  statistics say, also for a row another ledger instance commits meanwhile.
//
//  1. leads: one row per lead from its `received` event (base columns,
//  fields, consent) and its `answered` event (the outcome). Both may come in
//  either order and in different batches (two ledger slots), so the upsert
//  fills what the row lacks: a received event completes a row first made
//  from the answer, and a newer answer replaces an older one.
//  2. lead_pii: the received event's "pii" member, and only there.
//  3. events: every event, with "pii" cut out of its detail.
//  4. sales: the money of every `sold` event; margin = charge - payout.
#define S_SQL_LEADS                                                                              \
    "WITH r AS ("                                                                                \
    "  SELECT DISTINCT ON (lead_id) lead_id, at, detail AS d FROM pp_ledger_stage"               \
    "  WHERE kind = 'received' ORDER BY lead_id, at, event_id),"                                 \
    " a AS ("                                                                                    \
    "  SELECT DISTINCT ON (lead_id) lead_id, at, latency, amount, payout, code, detail AS d"     \
    "  FROM pp_ledger_stage WHERE kind = 'answered' ORDER BY lead_id, at DESC, event_id),"       \
    " m AS ("                                                                                    \
    "  SELECT lead_id, r.at AS r_at, r.d AS r_d, a.at AS a_at, a.latency, a.amount, a.payout,"   \
    "         a.code, a.d AS a_d, coalesce (r.d, a.d) AS d"                                      \
    "  FROM r FULL JOIN a USING (lead_id))"                                                      \
    " INSERT INTO leads AS l (lead_id, received_at, publisher_id, publisher, source, sub_id,"    \
    "   vertical, test, fields, consent, status, price_cents, charge_cents, reasons,"            \
    "   answered_at, answer_us)"                                                                 \
    " SELECT lead_id,"                                                                           \
    "   coalesce (r_at, a_at - coalesce (latency, 0) * interval '1 microsecond'),"               \
    "   CASE WHEN jsonb_typeof (d -> 'publisher_id') = 'number'"                                 \
    "        THEN (d ->> 'publisher_id')::numeric::int END,"                                     \
    "   coalesce (d ->> 'publisher', ''), coalesce (d ->> 'source', ''),"                        \
    "   coalesce (d ->> 'sub_id', ''), coalesce (d ->> 'vertical', ''),"                         \
    "   coalesce (CASE WHEN jsonb_typeof (d -> 'test') = 'boolean'"                              \
    "                  THEN (d -> 'test')::boolean END, false),"                                 \
    "   CASE WHEN r_at IS NULL THEN NULL"                                                        \
    "        WHEN jsonb_typeof (r_d -> 'fields') = 'object' THEN r_d -> 'fields'"                \
    "        ELSE '{}'::jsonb END,"                                                              \
    "   CASE WHEN jsonb_typeof (r_d -> 'consent') = 'object' THEN r_d -> 'consent' END,"         \
    "   CASE WHEN a_at IS NOT NULL THEN coalesce (code, a_d ->> 'status', '') END,"              \
    "   coalesce (payout, 0), coalesce (amount, 0),"                                             \
    "   CASE WHEN jsonb_typeof (a_d -> 'reasons') = 'array' THEN a_d -> 'reasons' END,"          \
    "   a_at, latency"                                                                           \
    " FROM m ORDER BY lead_id"                                                                   \
    " ON CONFLICT (lead_id) DO UPDATE SET"                                                       \
    "   received_at = CASE WHEN l.fields IS NULL AND EXCLUDED.fields IS NOT NULL"                \
    "                      THEN EXCLUDED.received_at ELSE l.received_at END,"                    \
    "   consent = CASE WHEN l.fields IS NULL AND EXCLUDED.fields IS NOT NULL"                    \
    "                  THEN EXCLUDED.consent ELSE l.consent END,"                                \
    "   fields = coalesce (l.fields, EXCLUDED.fields),"                                          \
    "   status = CASE WHEN " S_NEWER " THEN EXCLUDED.status ELSE l.status END,"                  \
    "   price_cents = CASE WHEN " S_NEWER " THEN EXCLUDED.price_cents ELSE l.price_cents END,"   \
    "   charge_cents = CASE WHEN " S_NEWER " THEN EXCLUDED.charge_cents ELSE l.charge_cents END," \
    "   reasons = CASE WHEN " S_NEWER " THEN EXCLUDED.reasons ELSE l.reasons END,"               \
    "   answer_us = CASE WHEN " S_NEWER " THEN EXCLUDED.answer_us ELSE l.answer_us END,"         \
    "   answered_at = CASE WHEN " S_NEWER " THEN EXCLUDED.answered_at ELSE l.answered_at END"    \
    " WHERE (l.fields IS NULL AND EXCLUDED.fields IS NOT NULL) OR " S_NEWER

#define S_SQL_PII                                                                                \
    "INSERT INTO lead_pii (lead_id, fields)"                                                     \
    " SELECT DISTINCT ON (lead_id) lead_id, detail -> 'pii' FROM pp_ledger_stage"                \
    " WHERE kind = 'received' AND jsonb_typeof (detail -> 'pii') = 'object'"                     \
    " ORDER BY lead_id, at, event_id"                                                            \
    " ON CONFLICT (lead_id) DO NOTHING"

#define S_SQL_EVENTS                                                                             \
    "WITH inserted AS ("                                                                         \
    " INSERT INTO events (event_id, lead_id, at, kind, stage, campaign_id, buyer_id,"            \
    "   amount_cents, payout_cents, latency_us, code, detail)"                                   \
    " SELECT event_id, lead_id, at, kind, stage, campaign_id, buyer_id,"                         \
    "   amount, payout, latency, code,"                                                          \
    "   CASE WHEN detail ? 'pii' THEN detail - 'pii' ELSE detail END"                            \
    " FROM pp_ledger_stage ORDER BY event_id"                                                    \
    " ON CONFLICT (event_id) DO NOTHING"                                                         \
    " RETURNING kind, campaign_id, at)"                                                          \
    "INSERT INTO campaign_hourly (campaign_id, hour, posts, accepted)"                            \
    " SELECT campaign_id, date_trunc ('hour', at), count (*),"                                   \
    "   count (*) FILTER (WHERE kind = 'accepted')"                                              \
    " FROM inserted"                                                                             \
    " WHERE kind IN ('accepted', 'post_rejected', 'post_error') AND campaign_id IS NOT NULL"     \
    " GROUP BY 1, 2"                                                                             \
    " ON CONFLICT (campaign_id, hour) DO UPDATE"                                                 \
    " SET posts = campaign_hourly.posts + excluded.posts,"                                       \
    "     accepted = campaign_hourly.accepted + excluded.accepted"

//  The direct way's part of 3.: the `received` events (their detail loses
//  "pii" here), then campaign_hourly from the staged post outcomes, which
//  the direct COPY has just inserted (it fails whole on any id it holds).
#define S_SQL_EVENTS_RECEIVED                                                                    \
    "INSERT INTO events (event_id, lead_id, at, kind, stage, campaign_id, buyer_id,"             \
    "   amount_cents, payout_cents, latency_us, code, detail)"                                   \
    " SELECT event_id, lead_id, at, kind, stage, campaign_id, buyer_id,"                         \
    "   amount, payout, latency, code,"                                                          \
    "   CASE WHEN detail ? 'pii' THEN detail - 'pii' ELSE detail END"                            \
    " FROM pp_ledger_stage WHERE kind = 'received' ORDER BY event_id"                            \
    " ON CONFLICT (event_id) DO NOTHING"

#define S_SQL_HOURLY                                                                             \
    "INSERT INTO campaign_hourly (campaign_id, hour, posts, accepted)"                            \
    " SELECT campaign_id, date_trunc ('hour', at), count (*),"                                   \
    "   count (*) FILTER (WHERE kind = 'accepted')"                                              \
    " FROM pp_ledger_stage"                                                                      \
    " WHERE kind IN ('accepted', 'post_rejected', 'post_error') AND campaign_id IS NOT NULL"     \
    " GROUP BY 1, 2"                                                                             \
    " ON CONFLICT (campaign_id, hour) DO UPDATE"                                                 \
    " SET posts = campaign_hourly.posts + excluded.posts,"                                       \
    "     accepted = campaign_hourly.accepted + excluded.accepted"

#define S_SQL_SALES                                                                              \
    "INSERT INTO sales (event_id, lead_id, at, publisher_id, campaign_id, buyer_id,"             \
    "   charge_cents, payout_cents, margin_cents)"                                               \
    " SELECT event_id, lead_id, at,"                                                             \
    "   CASE WHEN jsonb_typeof (detail -> 'publisher_id') = 'number'"                            \
    "        THEN (detail ->> 'publisher_id')::numeric::int END,"                                \
    "   campaign_id, buyer_id, amount, payout, amount - payout"                                  \
    " FROM pp_ledger_stage WHERE kind = 'sold' ORDER BY event_id"                                \
    " ON CONFLICT (event_id) DO NOTHING"

//  An answer replaces the stored one only when it is newer, so a resent or
//  late older answer changes nothing (and rewrites no row).
#define S_NEWER                                                                                  \
    "(EXCLUDED.answered_at IS NOT NULL"                                                          \
    " AND (l.answered_at IS NULL OR EXCLUDED.answered_at > l.answered_at))"

//  How a flush writes (s_write).
typedef enum {
    S_CAREFUL = 1,              //  every event through the staging table, ids checked
    S_DIRECT = 2,               //  COPY into events; fails whole on a known id
    S_PROBE = 4                 //  careful, and rolled back
} s_way_t;

//  The statements are prepared once per session (after the staging table
//  they read): parsing and planning them each flush cost more than running
//  them on a small batch (0.75 ms of 1 ms for a one-lead batch). `ways`
//  says which flushes run each, in this order.
static const struct {
    const char *name;           //  prepared statement name
    const char *what;           //  for the log
    const char *sql;
    int ways;                   //  s_way_t bits
} s_apply [] = {
    {"pp_ledger_leads", "ledger leads", S_SQL_LEADS, S_CAREFUL | S_DIRECT | S_PROBE},
    {"pp_ledger_pii", "ledger lead_pii", S_SQL_PII, S_CAREFUL | S_DIRECT | S_PROBE},
    {"pp_ledger_events", "ledger events", S_SQL_EVENTS, S_CAREFUL | S_PROBE},
    {"pp_ledger_received", "ledger received events", S_SQL_EVENTS_RECEIVED, S_DIRECT},
    {"pp_ledger_hourly", "ledger campaign_hourly", S_SQL_HOURLY, S_DIRECT},
    {"pp_ledger_sales", "ledger sales", S_SQL_SALES, S_CAREFUL | S_DIRECT | S_PROBE},
};
#define S_APPLY_COUNT (sizeof s_apply / sizeof s_apply [0])

//  COPY text being built.
typedef struct {
    char *data;
    size_t len;                 //  bytes used
    size_t cap;                 //  bytes allocated
} s_text_t;

//  One message as received: a producer's batch.
typedef struct {
    zframe_t *identity;         //  the producer's routing id
    pp_events_t *events;        //  its events
} s_batch_t;

struct ledger_server {
    const pp_config_t *config;  //  Not owned
    char *endpoint;             //  where the ROUTER is bound
    zsock_t *router;            //  producers' DEALERs connect here
    pp_db_t *db;                //  the database session
    zloop_t *loop;              //  Not owned: the running loop, or NULL
    zsock_t *pipe;              //  Not owned: stop on "$TERM" from it, or NULL
    bool reading;               //  the ROUTER reader is on the loop
    int flush_timer;            //  pending flush timer id, or -1
    int retry_timer;            //  pending retry timer id, or -1
    int retry_ms;               //  next retry delay
    bool failing;               //  a write failed (logged once); retrying
    bool staged;                //  the staging table exists in this session
    bool ready;                 //  READY=1 sent
    bool terminated;            //  "$TERM" came on the pipe
    s_batch_t *batches;         //  buffered messages, in arrival order
    size_t batch_count;         //  entries used
    size_t batch_cap;           //  entries allocated
    size_t pending;             //  events in batches
    zhashx_t *seen;             //  scratch: event ids of a flush (keys borrowed)
    pp_event_t **unique;        //  scratch: the buffered events, first of each id (borrowed)
    pp_event_t **rejected;      //  scratch: events the database refused alone (borrowed)
    size_t rejected_count;      //  entries used in rejected
    size_t scratch_cap;         //  entries allocated in unique and rejected
    s_text_t stage;             //  scratch: COPY text for the staging table
    s_text_t direct;            //  scratch: COPY text for events (the direct way)
    int64_t careful_until;      //  monotonic us: write the careful way until then
    uint64_t committed;         //  events committed or rejected, and acked
    uint64_t direct_flushes;    //  flushes committed the direct way
    uint64_t malformed;         //  messages dropped as malformed
};

static int
    s_on_router (zloop_t *loop, zsock_t *reader, void *arg);

//  --------------------------------------------------------------------------
//  Set up a new database session: terse errors, so that pp_db's log lines
//  carry the server's message but never a DETAIL or CONTEXT line quoting a
//  row (a row may hold personal data), and the staging table made anew.

static void
s_session_setup (ledger_server_t *self)
{
    PQsetErrorVerbosity (pp_db_conn (self->db), PQERRORS_TERSE);
    self->staged = false;
}

ledger_server_t *
ledger_server_new (const pp_config_t *config, int slot)
{
    assert (config);
    ledger_server_t *self = (ledger_server_t *) zmalloc (sizeof (ledger_server_t));
    self->config = config;
    self->flush_timer = -1;
    self->retry_timer = -1;
    self->retry_ms = S_RETRY_FIRST_MS;
    self->endpoint = pp_config_endpoint (config, PP_SLOT_LEDGER, slot);
    self->seen = zhashx_new ();
    assert (self->seen);
    zhashx_set_key_duplicator (self->seen, NULL);
    zhashx_set_key_destructor (self->seen, NULL);

    if (strncmp (self->endpoint, "ipc://", 6) == 0 && self->endpoint [6] != '@') {
        char *run_dir = zsys_sprintf ("%s/run", config->var_dir);
        if (zsys_dir_create ("%s", run_dir))
            zsys_warning ("ledger: cannot create %s", run_dir);
        zstr_free (&run_dir);
    }
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_rcvhwm (self->router, config->hwm);
    zsock_set_sndhwm (self->router, config->hwm);
    zsock_set_linger (self->router, S_LINGER_MS);
    if (zsock_bind (self->router, "%s", self->endpoint) == -1) {
        zsys_error ("ledger: cannot bind %s: %s", self->endpoint, zmq_strerror (zmq_errno ()));
        ledger_server_destroy (&self);
        return NULL;
    }
    self->db = pp_db_new (config->database_url);
    assert (self->db);
    if (pp_db_ok (self->db))
        s_session_setup (self);
    return self;
}

void
ledger_server_destroy (ledger_server_t **self_p)
{
    assert (self_p);
    ledger_server_t *self = *self_p;
    if (!self)
        return;
    if (self->pending)
        zsys_warning ("ledger: %zu events not committed at exit; their producers resend them",
                      self->pending);
    for (size_t i = 0; i < self->batch_count; i++) {
        zframe_destroy (&self->batches [i].identity);
        pp_events_destroy (&self->batches [i].events);
    }
    free (self->batches);
    free (self->unique);
    free (self->rejected);
    free (self->stage.data);
    free (self->direct.data);
    zhashx_destroy (&self->seen);
    pp_db_destroy (&self->db);
    zsock_destroy (&self->router);
    zstr_free (&self->endpoint);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  COPY text of one event row; the NULL rules of the events table apply
//  here: no campaign/buyer (0), no latency (-1), no code or detail ("").

static void
s_put (s_text_t *text, const char *data, size_t size)
{
    if (text->len + size + 1 > text->cap) {
        size_t want = text->cap ? text->cap : 65536;
        while (want < text->len + size + 1)
            want *= 2;
        text->data = (char *) realloc (text->data, want);
        assert (text->data);
        text->cap = want;
    }
    memcpy (text->data + text->len, data, size);
    text->len += size;
    text->data [text->len] = 0;
}

static void
s_put_text (s_text_t *text, const char *value, char end)
{
    pp_db_copy_escape (&text->data, &text->len, &text->cap, value);
    s_put (text, &end, 1);
}

static void
s_put_int (s_text_t *text, int64_t value, bool null, char end)
{
    char buf [32];
    int size = null ? snprintf (buf, sizeof buf, "\\N%c", end)
                    : snprintf (buf, sizeof buf, "%lld%c", (long long) value, end);
    s_put (text, buf, (size_t) size);
}

//  Microseconds since the epoch as a timestamptz literal, exact to the us.
static void
s_put_time (s_text_t *text, int64_t us)
{
    int64_t secs = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    time_t when = (time_t) secs;
    struct tm tm;
    char buf [64];
    int size;
    if (gmtime_r (&when, &tm))
        size = snprintf (buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00\t",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, (int) frac);
    else
        size = snprintf (buf, sizeof buf, "\\N\t");     //  refused by NOT NULL: rejected alone
    s_put (text, buf, (size_t) size);
}

static void
s_put_event (s_text_t *text, pp_event_t *event)
{
    const char *code = pp_event_code (event);
    const char *detail = pp_event_detail (event);
    s_put_text (text, pp_event_id (event), '\t');
    s_put_text (text, pp_event_lead_id (event), '\t');
    s_put_time (text, pp_event_at_us (event));
    s_put_text (text, pp_event_kind (event), '\t');
    s_put_text (text, pp_stage_code_name (pp_event_stage (event)), '\t');
    s_put_int (text, pp_event_campaign_id (event), pp_event_campaign_id (event) == 0, '\t');
    s_put_int (text, pp_event_buyer_id (event), pp_event_buyer_id (event) == 0, '\t');
    s_put_int (text, pp_event_amount_cents (event), false, '\t');
    s_put_int (text, pp_event_payout_cents (event), false, '\t');
    s_put_int (text, pp_event_latency_us (event), pp_event_latency_us (event) < 0, '\t');
    s_put_text (text, code && *code ? code : NULL, '\t');
    s_put_text (text, detail && *detail ? detail : NULL, '\n');
}

//  --------------------------------------------------------------------------
//  Write events in one transaction, then COMMIT (or ROLLBACK: the probe).
//
//  The careful way COPYs every event into the staging table, and the events
//  statement skips the ids the ledger holds (ON CONFLICT: a check per row).
//  The direct way COPYs every event but `received` straight into events,
//  and only what the other statements read (received, answered, sold and
//  the post outcomes) into the staging table: a third of the rows staged
//  and no per-row check (an event cost 8.6 us the careful way and 5 us
//  COPYed, psql timing on this machine). Its COPY fails whole when one id
//  is held already, which only a resend can cause: s_write then rolls back
//  and returns 1, and the caller writes the batch the careful way.
//  0, 1 or -1; a failure was logged by pp_db, and is rolled back.

//  The events the apply statements read (the direct way stages only these)
static bool
s_staged_kind (const char *kind)
{
    return streq (kind, "received") || streq (kind, "answered") || streq (kind, "sold")
           || streq (kind, "accepted") || streq (kind, "post_rejected")
           || streq (kind, "post_error");
}

//  End the direct COPY: 0, 1 when an id is held already (unique_violation:
//  not logged, the careful way follows), -1 on another failure.
static int
s_copy_direct_end (ledger_server_t *self)
{
    PGconn *conn = pp_db_conn (self->db);
    int rc = 0;
    if (PQputCopyEnd (conn, NULL) != 1) {
        zsys_error ("ledger: events copy end failed: %s", PQerrorMessage (conn));
        rc = -1;
    }
    PGresult *result;
    while ((result = PQgetResult (conn))) {
        if (PQresultStatus (result) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField (result, PG_DIAG_SQLSTATE);
            if (state && streq (state, "23505")) {
                if (rc == 0)
                    rc = 1;
            }
            else {
                zsys_error ("ledger: events copy failed: %s", PQresultErrorMessage (result));
                rc = -1;
            }
        }
        PQclear (result);
    }
    return rc;
}

//  COPY text into the staging table (direct false) or events (true)
static int
s_copy (ledger_server_t *self, s_text_t *text, bool direct)
{
    if (pp_db_copy_begin (self->db, direct ? s_sql_copy_direct : s_sql_copy))
        return -1;
    int rc = pp_db_copy_put (self->db, text->data, text->len);
    //  End the COPY even after a failed put, to leave the COPY state
    int end = direct ? s_copy_direct_end (self) : pp_db_copy_end (self->db);
    return rc ? -1 : end;
}

static int
s_write (ledger_server_t *self, pp_event_t **events, size_t count, s_way_t way)
{
    if (!pp_db_ok (self->db))
        return -1;
    if (!self->staged) {
        //  Not pp_db_prepare: pp_db re-prepares its statements on a reset,
        //  before the staging table they need exists again. DEALLOCATE ALL
        //  first, so that a set half prepared by an earlier failed try
        //  cannot block this one (this session prepares nothing else).
        if (pp_db_script (self->db, "ledger staging table", s_sql_stage)
            || pp_db_script (self->db, "ledger deallocate", "DEALLOCATE ALL"))
            return -1;
        for (size_t i = 0; i < S_APPLY_COUNT; i++) {
            PGresult *result
                = PQprepare (pp_db_conn (self->db), s_apply [i].name, s_apply [i].sql, 0, NULL);
            bool ok = PQresultStatus (result) == PGRES_COMMAND_OK;
            if (!ok)
                zsys_error ("ledger: cannot prepare %s: %s", s_apply [i].what,
                            PQresultErrorMessage (result));
            PQclear (result);
            if (!ok)
                return -1;      //  tried again from the table at the next write
        }
        self->staged = true;
    }
    self->stage.len = 0;
    self->direct.len = 0;
    for (size_t i = 0; i < count; i++) {
        const char *kind = pp_event_kind (events [i]);
        if (way != S_DIRECT || s_staged_kind (kind))
            s_put_event (&self->stage, events [i]);
        if (way == S_DIRECT && !streq (kind, "received"))
            s_put_event (&self->direct, events [i]);
    }

    int64_t started = pp_mono_us ();
    if (pp_db_script (self->db, "ledger begin", "BEGIN"))
        return -1;
    int rc = 0;
    if (self->direct.len)
        rc = s_copy (self, &self->direct, true);
    if (rc == 0 && self->stage.len)
        rc = s_copy (self, &self->stage, false);
    int64_t copied = pp_mono_us ();
    //  Nothing staged (a batch of bids, say): the statements have nothing to read
    for (size_t i = 0; rc == 0 && self->stage.len && i < S_APPLY_COUNT; i++) {
        if (!(s_apply [i].ways & (int) way))
            continue;
        PGresult *result
            = pp_db_exec_prepared (self->db, s_apply [i].what, s_apply [i].name, 0, NULL);
        if (result)
            PQclear (result);
        else
            rc = -1;
    }
    if (way == S_PROBE) {
        //  The probe: whatever happened, nothing stays
        if (pp_db_ok (self->db) && pp_db_script (self->db, "ledger probe rollback", "ROLLBACK"))
            rc = -1;
        return rc;
    }
    if (rc == 0)
        rc = pp_db_script (self->db, "ledger commit", "COMMIT");
    if (rc && pp_db_ok (self->db) && pp_db_script (self->db, "ledger rollback", "ROLLBACK"))
        rc = -1;
    if (rc == 0 && pp_log_verbose ())
        zsys_debug ("ledger: committed %zu events (%zu+%zu bytes, %s) in %lld us, copy %lld us",
                    count, self->direct.len, self->stage.len,
                    way == S_DIRECT ? "direct" : "careful", (long long) (pp_mono_us () - started),
                    (long long) (copied - started));
    return rc;
}

//  --------------------------------------------------------------------------
//  A batch failed on a healthy connection. Is the database refusing this
//  batch, or any batch (schema missing, disk full, read-only)? Write one
//  well-formed lead of every kind that matters and roll it back: 0 when
//  the database takes it, so the fault lies in the batch.

static int
s_probe (ledger_server_t *self)
{
    int64_t now = pp_now_us ();
    const char *lead = "~ledger-probe";
    pp_event_t *events [3];
    events [0] = pp_event_new ("~ledger-probe-r", lead, "received", PP_STAGE_INTAKE, now);
    events [1] = pp_event_new ("~ledger-probe-s", lead, "sold", PP_STAGE_DELIVER, now);
    events [2] = pp_event_new ("~ledger-probe-a", lead, "answered", PP_STAGE_INTAKE, now);
    assert (events [0] && events [1] && events [2]);
    pp_event_set_detail (events [0],
                         "{\"publisher_id\":1,\"publisher\":\"p\",\"source\":\"s\",\"sub_id\":\"\","
                         "\"vertical\":\"v\",\"test\":true,\"fields\":{},\"pii\":{},\"consent\":{}}");
    pp_event_set_campaign (events [1], 1, 1);
    pp_event_set_amount_cents (events [1], 100);
    pp_event_set_payout_cents (events [1], 80);
    pp_event_set_detail (events [1], "{\"publisher_id\":1}");
    pp_event_set_code (events [2], "sold");
    pp_event_set_amount_cents (events [2], 100);
    pp_event_set_payout_cents (events [2], 80);
    pp_event_set_latency_us (events [2], 1000);
    pp_event_set_detail (events [2], "{\"status\":\"sold\",\"reasons\":[]}");
    int rc = s_write (self, events, 3, S_PROBE);
    for (size_t i = 0; i < 3; i++)
        pp_event_destroy (&events [i]);
    return rc;
}

//  Find which events the database refuses: write halves, and halves of
//  the halves that fail, down to single events, which get one more try.
//  Committed parts stay committed (the writes are idempotent). Returns -1
//  when the connection broke on the way.
static int
s_bisect (ledger_server_t *self, pp_event_t **events, size_t count)
{
    if (count == 1) {
        if (s_write (self, events, 1, S_CAREFUL) == 0)
            return 0;
        if (!pp_db_ok (self->db))
            return -1;
        self->rejected [self->rejected_count++] = events [0];
        return 0;
    }
    size_t half = count / 2;
    size_t starts [2] = {0, half};
    size_t sizes [2] = {half, count - half};
    for (int part = 0; part < 2; part++) {
        if (s_write (self, events + starts [part], sizes [part], S_CAREFUL) == 0)
            continue;
        if (!pp_db_ok (self->db))
            return -1;
        if (s_bisect (self, events + starts [part], sizes [part]))
            return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  After a commit: one ack per producer, listing every id it sent in the
//  buffered messages (duplicates included), then empty the buffer.

static void
s_ack_all (ledger_server_t *self)
{
    //  Group messages by producer: few producers, so a linear search is fine
    size_t group_count = 0;
    zframe_t **identities = (zframe_t **) zmalloc (sizeof (zframe_t *) * self->batch_count);
    pp_ack_t **acks = (pp_ack_t **) zmalloc (sizeof (pp_ack_t *) * self->batch_count);
    for (size_t i = 0; i < self->batch_count; i++) {
        s_batch_t *batch = &self->batches [i];
        size_t group = 0;
        while (group < group_count && !zframe_eq (identities [group], batch->identity))
            group++;
        if (group == group_count) {
            identities [group_count] = batch->identity;
            acks [group_count] = pp_ack_new ();
            group_count++;
        }
        size_t size = pp_events_size (batch->events);
        for (size_t e = 0; e < size; e++)
            pp_ack_append (acks [group], pp_event_id (pp_events_get (batch->events, e)));
    }
    for (size_t group = 0; group < group_count; group++) {
        zframe_t *identity = zframe_dup (identities [group]);
        zframe_t *frame = pp_ack_encode (acks [group]);
        //  A ROUTER drops what it cannot route (the producer is gone or
        //  full): the producer then resends, and the resend is acked again
        if (frame && zframe_send (&identity, self->router, ZFRAME_MORE | ZFRAME_DONTWAIT) == 0)
            zframe_send (&frame, self->router, ZFRAME_DONTWAIT);
        zframe_destroy (&identity);
        zframe_destroy (&frame);
        pp_ack_destroy (&acks [group]);
    }
    free (identities);
    free (acks);

    for (size_t i = 0; i < self->batch_count; i++) {
        zframe_destroy (&self->batches [i].identity);
        pp_events_destroy (&self->batches [i].events);
    }
    self->committed += self->pending;
    self->batch_count = 0;
    self->pending = 0;
}

//  Log a write failure once per outage, and tell systemd.
static void
s_failed (ledger_server_t *self)
{
    if (self->failing)
        return;
    self->failing = true;
    const char *why = pp_db_ok (self->db) ? "the database refuses writes" : "the database is down";
    if (self->pending)
        zsys_error ("ledger: cannot commit %zu events: %s; keeping them and retrying",
                    self->pending, why);
    else
        zsys_error ("ledger: %s; retrying", why);
    pp_sd_status ("db down, retrying");
}

int
ledger_server_flush (ledger_server_t *self)
{
    assert (self);
    if (self->loop && self->flush_timer != -1) {
        zloop_timer_end (self->loop, self->flush_timer);
        self->flush_timer = -1;
    }
    if (self->pending == 0)
        return 0;
    if (self->scratch_cap < self->pending) {
        free (self->unique);
        free (self->rejected);
        self->scratch_cap = self->pending;
        self->unique = (pp_event_t **) zmalloc (sizeof (pp_event_t *) * self->scratch_cap);
        self->rejected = (pp_event_t **) zmalloc (sizeof (pp_event_t *) * self->scratch_cap);
    }
    //  Each id once: a resend may sit in the buffer beside its original
    size_t count = 0;
    zhashx_purge (self->seen);
    for (size_t i = 0; i < self->batch_count; i++) {
        size_t size = pp_events_size (self->batches [i].events);
        for (size_t e = 0; e < size; e++) {
            pp_event_t *event = pp_events_get (self->batches [i].events, e);
            if (zhashx_insert (self->seen, pp_event_id (event), event) == 0)
                self->unique [count++] = event;
        }
    }
    zhashx_purge (self->seen);

    //  While the database refuses writes, try a rolled-back probe first:
    //  each retry then costs one logged failure, not three
    if (self->failing && pp_db_ok (self->db) && s_probe (self))
        return -1;
    int64_t now = pp_mono_us ();
    bool direct = self->config->ledger_direct && now >= self->careful_until;
    int rc = s_write (self, self->unique, count, direct ? S_DIRECT : S_CAREFUL);
    if (rc == 1) {
        //  A resend of events held already: the careful way, now and for a
        //  while (resends come in runs: after a restart, an outage, a slow
        //  spell), so a run of them costs one wasted COPY, not one a flush
        self->careful_until = now + (int64_t) self->config->ledger_careful_ms * 1000;
        zsys_info ("ledger: a producer resent events held already; checking ids for %d ms",
                   self->config->ledger_careful_ms);
        rc = s_write (self, self->unique, count, S_CAREFUL);
    }
    else
    if (rc == 0 && direct)
        self->direct_flushes++;
    //  Once more at once: a deadlock with the other ledger instance passes
    if (rc && pp_db_ok (self->db))
        rc = s_write (self, self->unique, count, S_CAREFUL);
    //  The database takes a well-formed batch but not this one: find the
    //  events it refuses, commit the rest, and drop those (their producers
    //  would resend them forever, stalling the whole fleet)
    self->rejected_count = 0;
    if (rc && pp_db_ok (self->db) && s_probe (self) == 0) {
        rc = s_bisect (self, self->unique, count);
        for (size_t i = 0; rc == 0 && i < self->rejected_count; i++)
            zsys_error ("ledger: dropped event %s (lead %s, kind %s): refused by the database",
                        pp_event_id (self->rejected [i]), pp_event_lead_id (self->rejected [i]),
                        pp_event_kind (self->rejected [i]));
    }
    if (rc) {
        s_failed (self);
        return -1;
    }
    if (self->failing) {
        zsys_notice ("ledger: database back, committed %zu events", count);
        pp_sd_status ("ready");
        self->failing = false;
    }
    self->retry_ms = S_RETRY_FIRST_MS;
    s_ack_all (self);
    return 0;
}

size_t
ledger_server_pending (ledger_server_t *self)
{
    assert (self);
    return self->pending;
}

uint64_t
ledger_server_committed (ledger_server_t *self)
{
    assert (self);
    return self->committed;
}

uint64_t
ledger_server_direct (ledger_server_t *self)
{
    assert (self);
    return self->direct_flushes;
}

const char *
ledger_server_endpoint (ledger_server_t *self)
{
    assert (self);
    return self->endpoint;
}

zsock_t *
ledger_server_socket (ledger_server_t *self)
{
    assert (self);
    return self->router;
}

int
ledger_server_handle (ledger_server_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg)
        return -1;
    if (zmsg_size (msg) != 2) {
        zsys_warning ("ledger: dropped a message of %zu frames (want identity + events)",
                      zmsg_size (msg));
        zmsg_destroy (&msg);
        self->malformed++;
        return -1;
    }
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *frame = zmsg_pop (msg);
    zmsg_destroy (&msg);
    pp_events_t *events = pp_events_decode (frame);      //  logs "pp_events: <reason>"
    zframe_destroy (&frame);
    if (!events || pp_events_size (events) == 0) {
        //  Malformed: dropped (the decoder logged why); empty: nothing to ack
        int rc = events ? 0 : -1;
        if (!events)
            self->malformed++;
        pp_events_destroy (&events);
        zframe_destroy (&identity);
        return rc;
    }
    if (self->batch_count == self->batch_cap) {
        self->batch_cap = self->batch_cap ? self->batch_cap * 2 : 64;
        self->batches =
            (s_batch_t *) realloc (self->batches, sizeof (s_batch_t) * self->batch_cap);
        assert (self->batches);
    }
    self->batches [self->batch_count].identity = identity;
    self->batches [self->batch_count].events = events;
    self->batch_count++;
    self->pending += pp_events_size (events);
    return 0;
}

//  --------------------------------------------------------------------------
//  The loop.

static size_t
s_buffer_limit (ledger_server_t *self)
{
    return (size_t) self->config->ledger_batch * S_BUFFER_FACTOR;
}

static int
    s_on_retry (zloop_t *loop, int timer_id, void *arg);

static void
s_retry_later (ledger_server_t *self)
{
    if (!self->loop || self->retry_timer != -1)
        return;
    self->retry_timer = zloop_timer (self->loop, (size_t) self->retry_ms, 1, s_on_retry, self);
    self->retry_ms = self->retry_ms * 2 > S_RETRY_MAX_MS ? S_RETRY_MAX_MS : self->retry_ms * 2;
}

//  Read from producers again once the buffer has room.
static void
s_resume (ledger_server_t *self)
{
    if (self->loop && !self->reading && self->pending < s_buffer_limit (self)) {
        if (zloop_reader (self->loop, self->router, s_on_router, self) == 0) {
            zloop_reader_set_tolerant (self->loop, self->router);
            self->reading = true;
        }
    }
}

static void
s_ready (ledger_server_t *self)
{
    if (!self->ready && pp_db_ok (self->db)) {
        self->ready = true;
        pp_sd_ready ();
        pp_sd_status ("ready");
        zsys_info ("ledger: ready on %s", self->endpoint);
    }
}

static void
s_flush_or_retry (ledger_server_t *self)
{
    if (ledger_server_flush (self))
        s_retry_later (self);
    else
        s_resume (self);
}

static int
s_on_retry (zloop_t *loop, int timer_id, void *arg)
{
    ledger_server_t *self = (ledger_server_t *) arg;
    self->retry_timer = -1;
    if (!pp_db_ok (self->db)) {
        if (pp_db_reset (self->db)) {
            s_failed (self);
            s_retry_later (self);
            return 0;
        }
        s_session_setup (self);
        zsys_notice ("ledger: database connection restored");
    }
    s_ready (self);
    if (self->pending)
        s_flush_or_retry (self);
    else
    if (self->failing) {
        self->failing = false;
        self->retry_ms = S_RETRY_FIRST_MS;
        pp_sd_status ("ready");
    }
    return 0;
}

static int
s_on_flush_timer (zloop_t *loop, int timer_id, void *arg)
{
    ledger_server_t *self = (ledger_server_t *) arg;
    self->flush_timer = -1;
    if (!self->failing)
        s_flush_or_retry (self);
    return 0;
}

static int
s_on_router (zloop_t *loop, zsock_t *reader, void *arg)
{
    ledger_server_t *self = (ledger_server_t *) arg;
    size_t batch = (size_t) self->config->ledger_batch;
    //  Take what is waiting, up to a batch, in one loop turn
    do {
        zmsg_t *msg = zmsg_recv (reader);
        if (!msg)
            break;                      //  interrupted
        ledger_server_handle (self, &msg);
    } while (self->pending < batch && (zsock_events (reader) & ZMQ_POLLIN));

    if (self->pending >= batch && !self->failing)
        s_flush_or_retry (self);
    else
    if (self->pending && self->flush_timer == -1 && !self->failing)
        self->flush_timer =
            zloop_timer (loop, (size_t) self->config->ledger_flush_ms, 1, s_on_flush_timer, self);

    //  Back-pressure: while the database is behind, stop reading, so the
    //  producers' outboxes fill (and intake answers 503) instead of our memory
    if (self->reading && self->pending >= s_buffer_limit (self)) {
        zloop_reader_end (loop, reader);
        self->reading = false;
        zsys_warning ("ledger: %zu events buffered, not reading until they are committed",
                      self->pending);
    }
    return 0;
}

static int
s_on_watchdog (zloop_t *loop, int timer_id, void *arg)
{
    pp_sd_watchdog ();
    return 0;
}

static int
s_on_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    ledger_server_t *self = (ledger_server_t *) arg;
    char *command = zstr_recv (reader);
    bool term = !command || streq (command, "$TERM");
    zstr_free (&command);
    if (term)
        self->terminated = true;
    return term ? -1 : 0;
}

int
ledger_server_run (ledger_server_t *self, zsock_t *pipe)
{
    assert (self);
    zloop_t *loop = zloop_new ();
    assert (loop);
    self->loop = loop;
    self->pipe = pipe;
    self->retry_ms = S_RETRY_FIRST_MS;
    s_resume (self);
    if (pipe)
        zloop_reader (loop, pipe, s_on_pipe, self);
    int watchdog_ms = pp_sd_watchdog_ms ();
    if (watchdog_ms > 0)
        zloop_timer (loop, (size_t) watchdog_ms, 0, s_on_watchdog, self);
    if (pp_db_ok (self->db))
        s_ready (self);
    else
        s_failed (self);
    //  Events left from an earlier run (tests) or a dead database: retry soon
    if (self->pending || !pp_db_ok (self->db))
        s_retry_later (self);
    int rc = zloop_start (loop);
    if (rc == -1 && self->terminated)
        rc = 0;

    //  Stopping: one last try for what is buffered, acked on success
    size_t last = self->pending;
    if (last && pp_db_ok (self->db) && ledger_server_flush (self) == 0)
        zsys_info ("ledger: committed the last %zu events at stop", last);
    pp_sd_stopping ();
    self->loop = NULL;
    self->pipe = NULL;
    self->reading = false;
    self->flush_timer = -1;
    self->retry_timer = -1;
    zloop_destroy (&loop);
    zsys_info ("ledger: stopped: %llu events committed, %llu malformed messages dropped",
               (unsigned long long) self->committed, (unsigned long long) self->malformed);
    return rc == 0 ? 0 : -1;
}
