/*  pp_watch - the current marketplace of a service: loaded from PostgreSQL, reloaded on NOTIFY  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_WATCH_H_INCLUDED
#define PP_WATCH_H_INCLUDED

#include <czmq.h>
#include "pp_market.h"

typedef struct pp_watch pp_watch_t;

//  Called on the loop after a new market replaced the old one.
typedef void (pp_watch_fn) (pp_market_t *market, void *arg);

//  Connect, load the market and LISTEN on PP_MARKET_CHANNEL. Returns NULL
//  (logged) when the database cannot be reached or the market not loaded.
pp_watch_t *
    pp_watch_new (const char *database_url);
void
    pp_watch_destroy (pp_watch_t **self_p);
//  Watch the connection from a loop; reloads within one loop turn of a
//  NOTIFY, and reconnects with backoff when the connection breaks.
int PP_MUSTCHECK
    pp_watch_attach (pp_watch_t *self, zloop_t *loop);
void
    pp_watch_set_callback (pp_watch_t *self, pp_watch_fn *callback, void *arg);
//  The current market (borrowed; link it to keep it).
pp_market_t *
    pp_watch_market (pp_watch_t *self);
//  A new reference to the current market, safe from any thread.
pp_market_t *
    pp_watch_market_link (pp_watch_t *self);
//  The watch's database session, for other queries of the same thread.
pp_db_t *
    pp_watch_db (pp_watch_t *self);
//  Reload now (also what a NOTIFY does); 0 or -1.
int
    pp_watch_reload (pp_watch_t *self);

#endif
