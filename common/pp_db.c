/*  pp_db - the one owner of a PostgreSQL connection (libpq)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_db.h"
#include "pp_util.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

struct pp_db {
    PGconn *conn;               //  the connection, possibly broken
    char *conninfo;             //  for messages and reconnects
    char *setup;                //  session statements run after each connect, or NULL
    zlistx_t *prepared;         //  s_prepared_t, prepared again after a reconnect
    int timeout_ms;             //  bound of a statement's wait, or 0 (pp_db_set_timeout)
};

//  A statement prepared on the session.
typedef struct {
    char *name;                 //  statement name
    char *sql;                  //  its text
    int nparams;                //  parameters
} s_prepared_t;

static void
s_prepared_destroy (void **item_p)
{
    s_prepared_t *prepared = (s_prepared_t *) *item_p;
    if (prepared) {
        free (prepared->name);
        free (prepared->sql);
        free (prepared);
        *item_p = NULL;
    }
}

static int
s_prepare (pp_db_t *self, const s_prepared_t *prepared)
{
    PGresult *result = PQprepare (self->conn, prepared->name, prepared->sql, prepared->nparams,
                                  NULL);
    int rc = PQresultStatus (result) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc)
        zsys_error ("pp_db: cannot prepare %s: %s", prepared->name,
                    PQresultErrorMessage (result));
    PQclear (result);
    return rc;
}

//  Notices (e.g. "relation already exists, skipping") go to debug logging.
static void
s_notice (void *arg, const char *message)
{
    (void) arg;
    (void) message;
}

//  Connect; with a timeout set, the conninfo's connect_timeout is the
//  timeout's whole seconds (2 at least) unless it names one itself.
static PGconn *
s_connectdb (pp_db_t *self)
{
    if (self->timeout_ms <= 0)
        return PQconnectdb (self->conninfo);
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse (self->conninfo, &error);
    if (!options) {
        //  libpq says what is wrong when it tries itself
        PQfreemem (error);
        return PQconnectdb (self->conninfo);
    }
    size_t count = 0;
    while (options [count].keyword)
        count++;
    const char **keywords = (const char **) zmalloc (sizeof (char *) * (count + 2));
    const char **values = (const char **) zmalloc (sizeof (char *) * (count + 2));
    char seconds [16];
    int timeout_s = (self->timeout_ms + 999) / 1000;
    snprintf (seconds, sizeof seconds, "%d", timeout_s < 2 ? 2 : timeout_s);
    size_t used = 0;
    bool named = false;
    for (size_t i = 0; i < count; i++) {
        if (!options [i].val)
            continue;
        named |= streq (options [i].keyword, "connect_timeout");
        keywords [used] = options [i].keyword;
        values [used++] = options [i].val;
    }
    if (!named) {
        keywords [used] = "connect_timeout";
        values [used++] = seconds;
    }
    PGconn *conn = PQconnectdbParams (keywords, values, 0);
    free (keywords);
    free (values);
    PQconninfoFree (options);
    return conn;
}

static void
s_connect (pp_db_t *self)
{
    self->conn = s_connectdb (self);
    if (PQstatus (self->conn) != CONNECTION_OK)
        zsys_error ("pp_db: cannot connect: %s", PQerrorMessage (self->conn));
    else
        PQsetNoticeProcessor (self->conn, s_notice, NULL);
}

pp_db_t *
pp_db_new (const char *conninfo)
{
    if (!conninfo)
        return NULL;
    pp_db_t *self = (pp_db_t *) zmalloc (sizeof (pp_db_t));
    self->conninfo = strdup (conninfo);
    assert (self->conninfo);
    self->prepared = zlistx_new ();
    zlistx_set_destructor (self->prepared, s_prepared_destroy);
    s_connect (self);
    return self;
}

void
pp_db_destroy (pp_db_t **self_p)
{
    assert (self_p);
    pp_db_t *self = *self_p;
    if (!self)
        return;
    PQfinish (self->conn);
    free (self->conninfo);
    free (self->setup);
    zlistx_destroy (&self->prepared);
    free (self);
    *self_p = NULL;
}

bool
pp_db_ok (pp_db_t *self)
{
    assert (self);
    return self->conn && PQstatus (self->conn) == CONNECTION_OK;
}

void
pp_db_set_timeout (pp_db_t *self, int timeout_ms)
{
    assert (self);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

int
pp_db_reset (pp_db_t *self)
{
    assert (self);
    if (self->conn && self->timeout_ms == 0)
        PQreset (self->conn);
    else {
        //  A new connection: the old one was closed by a timeout, or the
        //  reconnect needs connect_timeout
        PQfinish (self->conn);
        s_connect (self);
    }
    if (PQstatus (self->conn) != CONNECTION_OK) {
        zsys_warning ("pp_db: reconnect failed: %s", PQerrorMessage (self->conn));
        return -1;
    }
    PQsetNoticeProcessor (self->conn, s_notice, NULL);
    if (self->setup && pp_db_script (self, "session setup", self->setup))
        return -1;
    for (s_prepared_t *prepared = (s_prepared_t *) zlistx_first (self->prepared); prepared;
         prepared = (s_prepared_t *) zlistx_next (self->prepared))
        if (s_prepare (self, prepared))
            return -1;
    return 0;
}

int
pp_db_prepare (pp_db_t *self, const char *name, const char *sql, int nparams)
{
    assert (self && name && sql);
    s_prepared_t *prepared = (s_prepared_t *) zmalloc (sizeof (s_prepared_t));
    prepared->name = strdup (name);
    prepared->sql = strdup (sql);
    prepared->nparams = nparams;
    assert (prepared->name && prepared->sql);
    zlistx_add_end (self->prepared, prepared);
    return pp_db_ok (self) ? s_prepare (self, prepared) : -1;
}

//  A statement's result, or NULL (logged with `what`, cleared) unless its
//  status is COMMAND_OK or TUPLES_OK.
static PGresult *
s_checked (pp_db_t *self, const char *what, PGresult *result)
{
    ExecStatusType status = PQresultStatus (result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        const char *message = PQresultErrorMessage (result);
        zsys_error ("pp_db: %s failed: %s", what,
                    message && *message ? message : PQerrorMessage (self->conn));
        PQclear (result);
        return NULL;
    }
    return result;
}

static void *
s_cancel_thread (void *arg)
{
    PGcancel *cancel = (PGcancel *) arg;
    char error [256];
    if (!PQcancel (cancel, error, sizeof error))
        zsys_warning ("pp_db: cancel request failed: %s", error);
    PQfreeCancel (cancel);
    return NULL;
}

//  Send a cancel request from a detached thread, which owns `cancel`.
static void
s_cancel_detached (PGcancel *cancel)
{
    pthread_attr_t attr;
    pthread_t thread;
    bool started = pthread_attr_init (&attr) == 0
                   && pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED) == 0
                   && pthread_create (&thread, &attr, s_cancel_thread, cancel) == 0;
    pthread_attr_destroy (&attr);
    if (!started) {
        zsys_warning ("pp_db: cannot start a thread to cancel a statement");
        PQfreeCancel (cancel);
    }
}

//  Send a statement (named: prepared, else `sql`) and wait at most the
//  session's timeout for its results. The last result, checked; NULL on
//  failure or timeout, and a timeout closes the connection.
static PGresult *
s_exec_timed (pp_db_t *self, const char *what, const char *name, const char *sql,
              int nparams, const char *const *params)
{
    PGconn *conn = self->conn;
    int sent = name ? PQsendQueryPrepared (conn, name, nparams, params, NULL, NULL, 0)
                    : PQsendQueryParams (conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!sent) {
        zsys_error ("pp_db: %s failed: %s", what, PQerrorMessage (conn));
        return NULL;
    }
    int64_t deadline = pp_mono_us () + (int64_t) self->timeout_ms * 1000;
    PGresult *last = NULL;
    while (true) {
        while (!PQisBusy (conn)) {
            PGresult *result = PQgetResult (conn);
            if (!result)
                return s_checked (self, what, last);
            PQclear (last);
            last = result;
        }
        int64_t left_us = deadline - pp_mono_us ();
        if (left_us <= 0)
            break;
        struct pollfd item = {PQsocket (conn), POLLIN, 0};
        int ready = poll (&item, 1, (int) ((left_us + 999) / 1000));
        if (ready < 0 && errno != EINTR)
            break;
        if (ready > 0 && !PQconsumeInput (conn)) {
            zsys_error ("pp_db: %s failed: %s", what, PQerrorMessage (conn));
            PQclear (last);
            return NULL;
        }
    }
    zsys_error ("pp_db: %s failed: no answer within %d ms; closing the session", what,
                self->timeout_ms);
    PQclear (last);
    //  Ask the server to cancel what it may still run (so that it cannot
    //  commit later), from a thread of its own: libpq 15's PQcancel waits
    //  for the server, which may be the thing that hangs
    PGcancel *cancel = PQgetCancel (self->conn);
    if (cancel)
        s_cancel_detached (cancel);
    PQfinish (self->conn);
    self->conn = NULL;
    return NULL;
}

PGresult *
pp_db_exec_prepared (pp_db_t *self, const char *what, const char *name, int nparams,
                     const char *const *params)
{
    assert (self && name);
    if (self->timeout_ms > 0)
        return s_exec_timed (self, what ? what : name, name, NULL, nparams, params);
    return s_checked (self, what ? what : name,
                      PQexecPrepared (self->conn, name, nparams, params, NULL, NULL, 0));
}

int
pp_db_set_setup (pp_db_t *self, const char *sql)
{
    assert (self && sql);
    free (self->setup);
    self->setup = strdup (sql);
    assert (self->setup);
    return pp_db_ok (self) ? pp_db_script (self, "session setup", sql) : -1;
}

PGconn *
pp_db_conn (pp_db_t *self)
{
    assert (self);
    return self->conn;
}

PGresult *
pp_db_exec (pp_db_t *self, const char *what, const char *sql, int nparams,
            const char *const *params)
{
    assert (self);
    if (self->timeout_ms > 0)
        return s_exec_timed (self, what ? what : "statement", NULL, sql, nparams, params);
    return s_checked (self, what ? what : "statement",
                      PQexecParams (self->conn, sql, nparams, NULL, params, NULL, NULL, 0));
}

int
pp_db_command (pp_db_t *self, const char *what, const char *sql, int nparams,
               const char *const *params)
{
    PGresult *result = pp_db_exec (self, what, sql, nparams, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}

int
pp_db_script (pp_db_t *self, const char *what, const char *sql)
{
    assert (self);
    PGresult *result = PQexec (self->conn, sql);
    ExecStatusType status = PQresultStatus (result);
    int rc = 0;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        const char *message = PQresultErrorMessage (result);
        zsys_error ("pp_db: %s failed: %s", what ? what : "script",
                    message && *message ? message : PQerrorMessage (self->conn));
        rc = -1;
    }
    PQclear (result);
    return rc;
}

int
pp_db_copy_begin (pp_db_t *self, const char *sql)
{
    assert (self);
    PGresult *result = PQexec (self->conn, sql);
    int rc = PQresultStatus (result) == PGRES_COPY_IN ? 0 : -1;
    if (rc)
        zsys_error ("pp_db: copy failed to start: %s", PQresultErrorMessage (result));
    PQclear (result);
    return rc;
}

int
pp_db_copy_put (pp_db_t *self, const char *data, size_t size)
{
    assert (self);
    if (size > INT32_MAX)
        return -1;
    if (PQputCopyData (self->conn, data, (int) size) != 1) {
        zsys_error ("pp_db: copy data failed: %s", PQerrorMessage (self->conn));
        return -1;
    }
    return 0;
}

int
pp_db_copy_end (pp_db_t *self)
{
    assert (self);
    int rc = 0;
    if (PQputCopyEnd (self->conn, NULL) != 1) {
        zsys_error ("pp_db: copy end failed: %s", PQerrorMessage (self->conn));
        rc = -1;
    }
    PGresult *result;
    while ((result = PQgetResult (self->conn))) {
        if (PQresultStatus (result) != PGRES_COMMAND_OK) {
            zsys_error ("pp_db: copy failed: %s", PQresultErrorMessage (result));
            rc = -1;
        }
        PQclear (result);
    }
    return rc;
}

static void
s_grow (char **buf, size_t *len, size_t *cap, size_t more)
{
    if (*len + more + 1 <= *cap)
        return;
    size_t want = *cap ? *cap : 4096;
    while (want < *len + more + 1)
        want *= 2;
    *buf = (char *) realloc (*buf, want);
    assert (*buf);
    *cap = want;
}

void
pp_db_copy_escape (char **buf, size_t *len, size_t *cap, const char *text)
{
    assert (buf && len && cap);
    if (!text) {
        s_grow (buf, len, cap, 2);
        memcpy (*buf + *len, "\\N", 2);
        *len += 2;
        (*buf) [*len] = 0;
        return;
    }
    size_t size = strlen (text);
    //  Room for the worst case: every byte replaced by U+FFFD (3 bytes)
    s_grow (buf, len, cap, size * 3);
    char *out = *buf + *len;
    const unsigned char *p = (const unsigned char *) text;
    const unsigned char *end = p + size;
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x80) {
            //  PostgreSQL refuses invalid UTF-8 and would fail the whole
            //  COPY: such bytes (from a buyer's answer, say) become U+FFFD
            size_t n = pp_utf8_char (p, (size_t) (end - p));
            if (n == 0) {
                memcpy (out, "\xEF\xBF\xBD", 3);
                out += 3;
                p++;
            }
            else {
                memcpy (out, p, n);
                out += n;
                p += n;
            }
            continue;
        }
        switch (c) {
            case '\\': *out++ = '\\'; *out++ = '\\'; break;
            case '\n': *out++ = '\\'; *out++ = 'n'; break;
            case '\r': *out++ = '\\'; *out++ = 'r'; break;
            case '\t': *out++ = '\\'; *out++ = 't'; break;
            default:   *out++ = (char) c;
        }
        p++;
    }
    *len = (size_t) (out - *buf);
    (*buf) [*len] = 0;
}

int
pp_db_listen (pp_db_t *self, const char *channel)
{
    assert (self && channel);
    char *quoted = PQescapeIdentifier (self->conn, channel, strlen (channel));
    if (!quoted) {
        zsys_error ("pp_db: cannot quote channel: %s", PQerrorMessage (self->conn));
        return -1;
    }
    char sql [256];
    snprintf (sql, sizeof sql, "LISTEN %s", quoted);
    PQfreemem (quoted);
    if (pp_db_script (self, "listen", sql))
        return -1;
    return PQsocket (self->conn);
}

int
pp_db_socket (pp_db_t *self)
{
    assert (self);
    return PQsocket (self->conn);
}

int
pp_db_notifications (pp_db_t *self)
{
    assert (self);
    if (!PQconsumeInput (self->conn)) {
        zsys_warning ("pp_db: connection lost: %s", PQerrorMessage (self->conn));
        return -1;
    }
    int count = 0;
    PGnotify *notify;
    while ((notify = PQnotifies (self->conn))) {
        count++;
        PQfreemem (notify);
    }
    return count;
}
