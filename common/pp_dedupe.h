/*  pp_dedupe - duplicate fingerprints checked in PostgreSQL, pipelined: no round trip wait per lead  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_DEDUPE_H_INCLUDED
#define PP_DEDUPE_H_INCLUDED

#include <czmq.h>

typedef struct pp_dedupe pp_dedupe_t;

//  The verdict of one check: 1 duplicate, 0 first of its kind in the
//  window (now recorded), -1 the database could not answer.
typedef void (pp_dedupe_fn) (int verdict, void *arg);

//  Open a session of its own (libpq pipeline mode) driven by `loop` (not
//  owned). NULL (logged) when the database cannot be reached.
pp_dedupe_t *
    pp_dedupe_new (const char *database_url, zloop_t *loop);
//  Destroy; checks in flight get no callback. Safe on NULL.
void
    pp_dedupe_destroy (pp_dedupe_t **self_p);
//  Insert-if-absent the fingerprint of a lead of `vertical`; an entry older
//  than `days` is taken over (then it is not a duplicate). The callback runs
//  from the loop, in the order the checks were made. Exact across any
//  number of instances: PostgreSQL's primary key decides. Returns -1 when
//  the check could not be sent (the callback is not called).
int
    pp_dedupe_check (pp_dedupe_t *self, const char *vertical, const char *fingerprint,
                     const char *lead_id, int days, pp_dedupe_fn *callback, void *arg);
//  Checks in flight.
size_t
    pp_dedupe_pending (pp_dedupe_t *self);

#endif
