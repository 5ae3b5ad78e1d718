/*  pp_dedupe - duplicate fingerprints checked in PostgreSQL, pipelined: no round trip wait per lead  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  This module drives libpq's pipeline mode itself (pp_db has no pipeline
//  calls): every check is sent at once with its own sync point, and results
//  are read as they come, so a validate instance keeps taking leads while
//  PostgreSQL works, and many checks share each network round trip.

#include "pp_dedupe.h"
#include "pp_db.h"
#include "pp_log.h"

#define S_STATEMENT "pp_dedupe"

//  A check waiting for its results: the row (or error), the end of the
//  query's results (NULL), then the sync point.
typedef struct {
    pp_dedupe_fn *callback;     //  who wants the verdict
    void *arg;                  //  its argument
    int phase;                  //  0 result, 1 end of results, 2 sync
} s_check_t;

struct pp_dedupe {
    pp_db_t *db;                //  own session, in pipeline mode
    char *url;                  //  its conninfo, for reconnects
    zloop_t *loop;              //  Not owned
    zmq_pollitem_t item;        //  the session's socket
    bool polling;               //  item registered
    bool writing;               //  also waiting to write (libpq buffered output)
    zlistx_t *checks;           //  s_check_t in send order
    int retry_timer;            //  reconnect timer id, 0 = none
};

static int s_on_socket (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void
s_check_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int
s_poll (pp_dedupe_t *self, bool writing)
{
    if (self->polling && self->writing == writing)
        return 0;
    if (self->polling)
        zloop_poller_end (self->loop, &self->item);
    self->item = (zmq_pollitem_t) {NULL, PQsocket (pp_db_conn (self->db)),
                                   (short) (ZMQ_POLLIN | (writing ? ZMQ_POLLOUT : 0)), 0};
    self->polling = zloop_poller (self->loop, &self->item, s_on_socket, self) == 0;
    self->writing = writing;
    return self->polling ? 0 : -1;
}

//  Prepare the statement and enter pipeline mode on a fresh session.
static int
s_open (pp_dedupe_t *self)
{
    PGconn *conn = pp_db_conn (self->db);
    if (PQsetnonblocking (conn, 1) != 0 || PQenterPipelineMode (conn) != 1) {
        zsys_error ("dedupe: cannot enter pipeline mode: %s", PQerrorMessage (conn));
        return -1;
    }
    return s_poll (self, false);
}

//  The session broke: every check in flight fails (-1), and we reconnect.
static int s_on_retry (zloop_t *loop, int timer_id, void *arg);

static void
s_fail_all (pp_dedupe_t *self)
{
    if (self->polling) {
        zloop_poller_end (self->loop, &self->item);
        self->polling = false;
    }
    s_check_t *check;
    while ((check = (s_check_t *) zlistx_first (self->checks))) {
        //  A check already answered (phase 1 or 2, waiting for its
        //  end-of-results or sync marker) must not be answered twice
        pp_dedupe_fn *callback = check->phase == 0 ? check->callback : NULL;
        void *arg = check->arg;
        zlistx_delete (self->checks, zlistx_cursor (self->checks));
        if (callback)
            callback (-1, arg);
    }
    if (!self->retry_timer) {
        pp_sd_status ("dedupe database down, retrying");
        self->retry_timer = zloop_timer (self->loop, 500, 1, s_on_retry, self);
    }
}

//  A fresh session: own connection, asynchronous commits, the prepared
//  statement, pipeline mode. A broken session is dropped whole rather than
//  reset: libpq keeps pipeline state on a connection object.
static int
s_connect (pp_dedupe_t *self)
{
    if (self->polling) {
        zloop_poller_end (self->loop, &self->item);
        self->polling = false;
    }
    pp_db_destroy (&self->db);
    self->db = pp_db_new (self->url);
    if (!self->db || !pp_db_ok (self->db)
        || pp_db_set_setup (self->db, "SET synchronous_commit = off")
        || pp_db_prepare (self->db, S_STATEMENT,
                          "INSERT INTO dedupe (vertical, fingerprint, lead_id) VALUES ($1, $2, $3)"
                          " ON CONFLICT (vertical, fingerprint) DO UPDATE"
                          " SET lead_id = excluded.lead_id, created_at = now ()"
                          " WHERE dedupe.created_at < now () - make_interval (days => $4::int)"
                          " RETURNING lead_id",
                          4))
        return -1;
    return s_open (self);
}

static int
s_on_retry (zloop_t *loop, int timer_id, void *arg)
{
    pp_dedupe_t *self = (pp_dedupe_t *) arg;
    self->retry_timer = 0;
    if (s_connect (self) == 0) {
        zsys_notice ("dedupe: database connection restored");
        pp_sd_status ("running");
        return 0;
    }
    self->retry_timer = zloop_timer (loop, 1000, 1, s_on_retry, self);
    return 0;
}

//  Read every result that has arrived.
static void
s_drain (pp_dedupe_t *self)
{
    PGconn *conn = pp_db_conn (self->db);
    s_check_t *check;
    while ((check = (s_check_t *) zlistx_first (self->checks))) {
        if (PQisBusy (conn))
            return;
        PGresult *result = PQgetResult (conn);
        if (check->phase == 0) {
            if (!result)
                return;         //  nothing more has arrived for it yet
            ExecStatusType status = PQresultStatus (result);
            int verdict = -1;
            if (status == PGRES_TUPLES_OK)
                verdict = PQntuples (result) == 0 ? 1 : 0;
            else
            if (status != PGRES_PIPELINE_ABORTED)
                zsys_error ("dedupe: check failed: %s", PQresultErrorMessage (result));
            PQclear (result);
            check->phase = 1;
            check->callback (verdict, check->arg);
            if (status == PGRES_PIPELINE_ABORTED)
                check->phase = 2;       //  no end-of-results marker follows
        }
        else
        if (check->phase == 1) {
            //  NULL ends the query's results
            if (result)
                PQclear (result);
            check->phase = 2;
        }
        else {
            if (result && PQresultStatus (result) == PGRES_PIPELINE_SYNC)
                zlistx_delete (self->checks, zlistx_cursor (self->checks));
            if (result)
                PQclear (result);
        }
    }
}

static int
s_on_socket (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    pp_dedupe_t *self = (pp_dedupe_t *) arg;
    PGconn *conn = pp_db_conn (self->db);
    if (item->revents & ZMQ_POLLOUT) {
        int flushed = PQflush (conn);
        if (flushed < 0) {
            zsys_error ("dedupe: send failed: %s", PQerrorMessage (conn));
            s_fail_all (self);
            return 0;
        }
        s_poll (self, flushed == 1);
    }
    if (item->revents & ZMQ_POLLIN) {
        if (!PQconsumeInput (conn) || PQstatus (conn) != CONNECTION_OK) {
            zsys_error ("dedupe: connection lost: %s", PQerrorMessage (conn));
            s_fail_all (self);
            return 0;
        }
        s_drain (self);
    }
    return 0;
}

pp_dedupe_t *
pp_dedupe_new (const char *database_url, zloop_t *loop)
{
    assert (loop);
    pp_dedupe_t *self = (pp_dedupe_t *) zmalloc (sizeof (pp_dedupe_t));
    self->loop = loop;
    self->checks = zlistx_new ();
    zlistx_set_destructor (self->checks, s_check_destroy);
    self->url = strdup (database_url ? database_url : "");
    assert (self->url);
    if (!database_url || s_connect (self)) {
        pp_dedupe_destroy (&self);
        return NULL;
    }
    return self;
}

void
pp_dedupe_destroy (pp_dedupe_t **self_p)
{
    assert (self_p);
    pp_dedupe_t *self = *self_p;
    if (!self)
        return;
    if (self->polling)
        zloop_poller_end (self->loop, &self->item);
    if (self->retry_timer)
        zloop_timer_end (self->loop, self->retry_timer);
    zlistx_destroy (&self->checks);
    pp_db_destroy (&self->db);
    free (self->url);
    free (self);
    *self_p = NULL;
}

int
pp_dedupe_check (pp_dedupe_t *self, const char *vertical, const char *fingerprint,
                 const char *lead_id, int days, pp_dedupe_fn *callback, void *arg)
{
    assert (self && vertical && fingerprint && lead_id && callback);
    if (self->retry_timer || !self->polling)
        return -1;              //  reconnecting
    PGconn *conn = pp_db_conn (self->db);
    char window [16];
    snprintf (window, sizeof window, "%d", days > 0 ? days : 30);
    const char *params [] = {vertical, fingerprint, lead_id, window};
    if (PQsendQueryPrepared (conn, S_STATEMENT, 4, params, NULL, NULL, 0) != 1
        || PQpipelineSync (conn) != 1) {
        zsys_error ("dedupe: cannot send a check: %s", PQerrorMessage (conn));
        //  A broken session: fail what is in flight and reconnect
        s_fail_all (self);
        return -1;
    }
    s_check_t *check = (s_check_t *) zmalloc (sizeof (s_check_t));
    check->callback = callback;
    check->arg = arg;
    zlistx_add_end (self->checks, check);
    int flushed = PQflush (conn);
    if (flushed < 0) {
        zsys_error ("dedupe: send failed: %s", PQerrorMessage (conn));
        s_fail_all (self);
        return 0;               //  the callback ran with -1
    }
    s_poll (self, flushed == 1);
    return 0;
}

size_t
pp_dedupe_pending (pp_dedupe_t *self)
{
    assert (self);
    return zlistx_size (self->checks);
}
