/*  pp_outbox - ledger events a producer holds until pingpost-ledger acknowledges their commit  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_OUTBOX_H_INCLUDED
#define PP_OUTBOX_H_INCLUDED

#include <czmq.h>
#include "pp_config.h"
#include "../proto/pp_event.h"

typedef struct pp_outbox pp_outbox_t;

#define PP_OUTBOX_TICK_MS 5         //  flush and resend check period
#define PP_OUTBOX_EAGER 64          //  pp_outbox_flush_soon sends at once from this many

//  Create an outbox whose DEALER connects to every declared ledger slot.
//  It holds at most config->outbox_limit unacknowledged events and resends
//  any not acknowledged within config->outbox_resend_ms.
pp_outbox_t *
    pp_outbox_new (const pp_config_t *config);
//  Destroy; unacknowledged events are lost (logged with their count).
void
    pp_outbox_destroy (pp_outbox_t **self_p);
//  Register the socket reader and the flush/resend timer on a loop.
int PP_MUSTCHECK
    pp_outbox_attach (pp_outbox_t *self, zloop_t *loop);
//  Take ownership of *event_p (nulled). Queued for the next flush. Returns
//  -1 when the outbox is full: the event is still kept (nothing is lost),
//  and callers must apply back-pressure until pp_outbox_full () is false.
int
    pp_outbox_add (pp_outbox_t *self, pp_event_t **event_p);
//  Send what was added since the last flush, as one batch.
void
    pp_outbox_flush (pp_outbox_t *self);
//  Send now only if PP_OUTBOX_EAGER events or more wait; fewer go with the
//  outbox's own tick, within PP_OUTBOX_TICK_MS. Stages call this after each
//  turn of their loop: at a low rate every lead would otherwise cost a
//  message to the ledger (and its wake-ups) per stage, for events the
//  ledger commits only every ledger/flush_ms anyway.
void
    pp_outbox_flush_soon (pp_outbox_t *self);
//  True while the outbox holds config->outbox_limit events or more.
bool
    pp_outbox_full (pp_outbox_t *self);
//  Events not yet acknowledged.
size_t
    pp_outbox_pending (pp_outbox_t *self);
//  True while the outbox's flush/resend tick runs on its loop: from the
//  first event it holds until it holds none (an idle stage does not wake).
bool
    pp_outbox_ticking (pp_outbox_t *self);
//  The DEALER socket (borrowed), for tests and pollers.
zsock_t *
    pp_outbox_socket (pp_outbox_t *self);
//  Handle one message waiting on the socket (an ack); 0, or -1 if interrupted.
int
    pp_outbox_recv (pp_outbox_t *self);
//  Wait up to timeout_ms for every pending event to be acknowledged
//  (used at shutdown); returns the number still pending.
size_t
    pp_outbox_drain (pp_outbox_t *self, int timeout_ms);

#endif
