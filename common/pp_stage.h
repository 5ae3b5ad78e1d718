/*  pp_stage - the runtime shared by the pipeline stages: sockets, deadlines, replies, events, config  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_STAGE_H_INCLUDED
#define PP_STAGE_H_INCLUDED

#include <czmq.h>
#include "pp_config.h"
#include "pp_db.h"
#include "pp_market.h"
#include "pp_outbox.h"
#include "../proto/pp_lead.h"
#include "../proto/pp_result.h"
#include "../proto/pp_event.h"

typedef struct pp_stage pp_stage_t;

//  Handle one lead; takes ownership of *lead_p (null it). The handler must
//  end the lead with pp_stage_forward or pp_stage_finish, now or later.
typedef void (pp_stage_handler_fn) (pp_stage_t *stage, pp_lead_t **lead_p, void *arg);
//  Called after a new market was loaded (the old one may still be linked by
//  work in flight).
typedef void (pp_stage_reload_fn) (pp_stage_t *stage, pp_market_t *market, void *arg);

//  Create the runtime of stage `code` (validate, filter, auction or deliver)
//  in `slot`: binds the input PULL on the slot's endpoint, connects the
//  output PUSH to every declared slot of the next stage (ZMQ_IMMEDIATE, HWM
//  set), connects a reply PUSH to every intake slot, opens the ledger outbox
//  and a database session, loads the market and LISTENs for changes.
//  Returns NULL (logged) when a bind fails or the market cannot be loaded.
pp_stage_t *
    pp_stage_new (const pp_config_t *config, int code, int slot);
void
    pp_stage_destroy (pp_stage_t **self_p);
void
    pp_stage_set_handler (pp_stage_t *self, pp_stage_handler_fn *handler, void *arg);
void
    pp_stage_set_reload (pp_stage_t *self, pp_stage_reload_fn *reload, void *arg);
//  Run the loop until SIGINT/SIGTERM; 0 on a clean stop.
int
    pp_stage_run (pp_stage_t *self);

//  Borrowed parts.
zloop_t *
    pp_stage_loop (pp_stage_t *self);
const pp_config_t *
    pp_stage_config (pp_stage_t *self);
//  The current market (borrowed; pp_market_link it to keep it across loop turns).
pp_market_t *
    pp_stage_market (pp_stage_t *self);
//  The stage's own database session (for queries a stage needs, e.g. dedupe).
pp_db_t *
    pp_stage_db (pp_stage_t *self);
int
    pp_stage_code (pp_stage_t *self);
const char *
    pp_stage_name (pp_stage_t *self);

//  Pass the lead to the next stage; takes *lead_p. When the next stage has
//  no live instance or is full, the lead ends with status error, reason
//  "overloaded".
void
    pp_stage_forward (pp_stage_t *self, pp_lead_t **lead_p);
//  Also connect a PUSH to every declared slot of another stage kind (deliver
//  sends a lead back to auction for its next tier).
void
    pp_stage_add_output (pp_stage_t *self, pp_slot_kind_t kind);
//  As pp_stage_forward, to a stage kind connected with pp_stage_add_output.
void
    pp_stage_forward_to (pp_stage_t *self, pp_slot_kind_t kind, pp_lead_t **lead_p);
//  End the lead: send *result_p to the lead's intake and destroy both.
void
    pp_stage_finish (pp_stage_t *self, pp_lead_t **lead_p, pp_result_t **result_p);
//  End the lead with one reason (convenience over pp_stage_finish).
void
    pp_stage_finish_status (pp_stage_t *self, pp_lead_t **lead_p, pp_status_t status,
                            const char *code, const char *field, const char *message);
//  True when the lead's deadline has passed.
bool
    pp_stage_expired (pp_stage_t *self, const pp_lead_t *lead);
//  A new event for the lead with a fresh unique id, stamped now.
pp_event_t *
    pp_stage_event (pp_stage_t *self, const pp_lead_t *lead, const char *kind);
//  Hand an event to the ledger outbox; takes *event_p.
void
    pp_stage_emit (pp_stage_t *self, pp_event_t **event_p);

//  Metrics of this instance.
uint64_t
    pp_stage_handled (pp_stage_t *self);

//  Shared by every producer: a fresh event id "<lead id>.<stage><instance><n>".
//  `instance` is 4 random base32 chars chosen at start.
void
    pp_event_id_make (char *buf, size_t size, const char *lead_id, int stage,
                      const char *instance, uint64_t n);

#endif
