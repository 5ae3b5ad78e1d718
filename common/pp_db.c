/*  pp_db - the one owner of a PostgreSQL connection (libpq)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_db.h"
#include "pp_util.h"

#include <assert.h>
#include <czmq.h>
#include <string.h>

struct pp_db {
    PGconn *conn;               //  the connection, possibly broken
    char *conninfo;             //  for messages and reconnects
    char *setup;                //  session statements run after each connect, or NULL
    zlistx_t *prepared;         //  s_prepared_t, prepared again after a reconnect
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

static void
s_connect (pp_db_t *self)
{
    self->conn = PQconnectdb (self->conninfo);
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

int
pp_db_reset (pp_db_t *self)
{
    assert (self);
    PQreset (self->conn);
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

PGresult *
pp_db_exec_prepared (pp_db_t *self, const char *what, const char *name, int nparams,
                     const char *const *params)
{
    assert (self && name);
    PGresult *result = PQexecPrepared (self->conn, name, nparams, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus (result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        const char *message = PQresultErrorMessage (result);
        zsys_error ("pp_db: %s failed: %s", what ? what : name,
                    message && *message ? message : PQerrorMessage (self->conn));
        PQclear (result);
        return NULL;
    }
    return result;
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
    PGresult *result = PQexecParams (self->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus (result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        const char *message = PQresultErrorMessage (result);
        zsys_error ("pp_db: %s failed: %s", what ? what : "statement",
                    message && *message ? message : PQerrorMessage (self->conn));
        PQclear (result);
        return NULL;
    }
    return result;
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
