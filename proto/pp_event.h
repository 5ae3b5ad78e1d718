/*  pp_event - ledger events, sent in batches to pingpost-ledger and acknowledged after commit  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_EVENT_H_INCLUDED
#define PP_EVENT_H_INCLUDED

#include <czmq.h>
#include "pp_fields.h"

#define PP_EVENT_ID_MAX 63          //  longest event id, in bytes

typedef struct pp_event pp_event_t;

//  Create an event. `id` is unique per producer run and stable for the same
//  fact (the ledger inserts idempotently by it); `kind` is one of the event
//  kinds of proto/README.md. Strings are copied.
pp_event_t *
    pp_event_new (const char *id, const char *lead_id, const char *kind, int stage, int64_t at_us);
void
    pp_event_destroy (pp_event_t **self_p);
pp_event_t *
    pp_event_dup (const pp_event_t *self);

const char *
    pp_event_id (const pp_event_t *self);
const char *
    pp_event_lead_id (const pp_event_t *self);
const char *
    pp_event_kind (const pp_event_t *self);
int
    pp_event_stage (const pp_event_t *self);
int64_t
    pp_event_at_us (const pp_event_t *self);
//  Campaign and buyer ids (0 = none).
uint32_t
    pp_event_campaign_id (const pp_event_t *self);
uint32_t
    pp_event_buyer_id (const pp_event_t *self);
void
    pp_event_set_campaign (pp_event_t *self, uint32_t campaign_id, uint32_t buyer_id);
//  Money: amount (bid or charge) and payout, integer cents (0 = none).
int64_t
    pp_event_amount_cents (const pp_event_t *self);
void
    pp_event_set_amount_cents (pp_event_t *self, int64_t cents);
int64_t
    pp_event_payout_cents (const pp_event_t *self);
void
    pp_event_set_payout_cents (pp_event_t *self, int64_t cents);
//  Latency of the step, us (-1 = none).
int64_t
    pp_event_latency_us (const pp_event_t *self);
void
    pp_event_set_latency_us (pp_event_t *self, int64_t us);
//  Reason code, or "" (e.g. "timeout", "http_5xx", "phone_invalid").
const char *
    pp_event_code (const pp_event_t *self);
void
    pp_event_set_code (pp_event_t *self, const char *code);
//  Detail: a JSON object as text, or "" (never personal data, except the
//  "received" event's "pii" member, which the ledger moves to lead_pii).
const char *
    pp_event_detail (const pp_event_t *self);
void
    pp_event_set_detail (pp_event_t *self, const char *json_text);

//  A batch of events in one frame (`t` = "events").
typedef struct pp_events pp_events_t;

pp_events_t *
    pp_events_new (void);
void
    pp_events_destroy (pp_events_t **self_p);
size_t
    pp_events_size (const pp_events_t *self);
//  Borrowed event i.
pp_event_t *
    pp_events_get (pp_events_t *self, size_t i);
//  Append; takes ownership of *event_p and nulls it.
void
    pp_events_append (pp_events_t *self, pp_event_t **event_p);
zframe_t *
    pp_events_encode (const pp_events_t *self);
//  Decode, or NULL when malformed (logged "pp_events: <reason>"); one
//  malformed event makes the whole batch malformed.
pp_events_t *
    pp_events_decode (zframe_t *frame);
pp_events_t *
    pp_events_decode_buf (const void *data, size_t size);

//  An acknowledgment: the ids of events the ledger committed (`t` = "ack").
typedef struct pp_ack pp_ack_t;

pp_ack_t *
    pp_ack_new (void);
void
    pp_ack_destroy (pp_ack_t **self_p);
size_t
    pp_ack_size (const pp_ack_t *self);
const char *
    pp_ack_get (const pp_ack_t *self, size_t i);
void
    pp_ack_append (pp_ack_t *self, const char *event_id);
zframe_t *
    pp_ack_encode (const pp_ack_t *self);
pp_ack_t *
    pp_ack_decode (zframe_t *frame);
pp_ack_t *
    pp_ack_decode_buf (const void *data, size_t size);

#endif
