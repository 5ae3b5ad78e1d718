/*  pp_db - the one owner of a PostgreSQL connection (libpq)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_DB_H_INCLUDED
#define PP_DB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#ifndef PP_MUSTCHECK
#define PP_MUSTCHECK __attribute__ ((warn_unused_result))
#endif

typedef struct pp_db pp_db_t;

//  Connect (blocking). Returns the object even when the connection failed
//  (then pp_db_ok () is false and the failure was logged), so callers can
//  retry with pp_db_reset (). NULL only for a NULL conninfo.
pp_db_t *
    pp_db_new (const char *conninfo);
//  Statements to run on this session now and after every reconnect (e.g.
//  "SET synchronous_commit = off"); copied. 0, or -1 when they failed now.
int PP_MUSTCHECK
    pp_db_set_setup (pp_db_t *self, const char *sql);
//  Bound this session's waits for the server: each pp_db_exec,
//  pp_db_command and pp_db_exec_prepared to `timeout_ms`, and each
//  reconnect (pp_db_reset) to libpq's connect_timeout of as many whole
//  seconds, 2 at least, unless the conninfo sets its own. A statement
//  without its answer in time fails (logged) and closes the connection,
//  after asking the server to cancel it (from a thread: that request waits
//  for the server too): the session cannot be trusted any more, and
//  pp_db_reset makes a new one. For a caller that must not hang with a
//  database that hangs (a server or backend stopped); a lock waited for is
//  better ended by the server (SET statement_timeout below this bound),
//  which keeps the session. 0, the default: wait as long as it takes.
void
    pp_db_set_timeout (pp_db_t *self, int timeout_ms);
//  PQfinish and free; nulls *self_p. Safe on NULL.
void
    pp_db_destroy (pp_db_t **self_p);
//  True when the connection is CONNECTION_OK.
bool
    pp_db_ok (pp_db_t *self);
//  Reconnect; 0 when the connection is OK afterwards.
int PP_MUSTCHECK
    pp_db_reset (pp_db_t *self);
//  The raw connection (borrowed) for result reading and COPY.
PGconn *
    pp_db_conn (pp_db_t *self);

//  Run a parameterised statement (text parameters, NULL = SQL NULL).
//  Returns a result with status COMMAND_OK or TUPLES_OK that the caller
//  PQclears, or NULL on failure (logged once with `what`).
PGresult *
    pp_db_exec (pp_db_t *self, const char *what, const char *sql, int nparams,
                const char *const *params);
//  As pp_db_exec for statements without result rows: 0 or -1.
int PP_MUSTCHECK
    pp_db_command (pp_db_t *self, const char *what, const char *sql, int nparams,
                   const char *const *params);
//  Prepare a named statement on this session (kept across reconnects:
//  pp_db_reset prepares it again). 0 or -1.
int PP_MUSTCHECK
    pp_db_prepare (pp_db_t *self, const char *name, const char *sql, int nparams);
//  Run a statement prepared with pp_db_prepare; as pp_db_exec.
PGresult *
    pp_db_exec_prepared (pp_db_t *self, const char *what, const char *name, int nparams,
                         const char *const *params);
//  Run a script of several statements (no parameters): 0 or -1.
int PP_MUSTCHECK
    pp_db_script (pp_db_t *self, const char *what, const char *sql);

//  COPY: start `COPY ... FROM STDIN` (text format), feed rows, finish.
int PP_MUSTCHECK
    pp_db_copy_begin (pp_db_t *self, const char *sql);
int PP_MUSTCHECK
    pp_db_copy_put (pp_db_t *self, const char *data, size_t size);
int PP_MUSTCHECK
    pp_db_copy_end (pp_db_t *self);
//  Append `text` escaped for COPY text format to a growing buffer; NULL
//  text writes \N. buf/len/cap describe a malloc'd buffer.
void
    pp_db_copy_escape (char **buf, size_t *len, size_t *cap, const char *text);

//  LISTEN on a channel; the socket fd to poll for notifications, or -1.
int PP_MUSTCHECK
    pp_db_listen (pp_db_t *self, const char *channel);
int
    pp_db_socket (pp_db_t *self);
//  Consume input; returns the number of notifications seen (0 or more), or
//  -1 when the connection broke.
int
    pp_db_notifications (pp_db_t *self);

#endif
