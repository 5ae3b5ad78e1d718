/*  pp_lead - the lead envelope as it travels between stages (msgpack)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_LEAD_H_INCLUDED
#define PP_LEAD_H_INCLUDED

#include <czmq.h>
#include "pp_fields.h"

#define PP_PROTO_VERSION 1
#define PP_LEAD_ID_SIZE 26          //  ULID text, Crockford base32

//  Stage codes, used in timestamps and events.
typedef enum {
    PP_STAGE_INTAKE = 1,
    PP_STAGE_VALIDATE = 2,
    PP_STAGE_FILTER = 3,
    PP_STAGE_AUCTION = 4,
    PP_STAGE_DELIVER = 5,
    PP_STAGE_LEDGER = 6
} pp_stage_code_t;

//  Name of a stage code ("intake"...), or "unknown".
const char *
    pp_stage_code_name (int code);

//  One bid on the lead, added by auction and consumed by deliver.
typedef struct {
    uint32_t campaign_id;       //  campaigns.id
    uint32_t buyer_id;          //  buyers.id
    int64_t amount_cents;       //  what the buyer pays if it wins (before second pricing)
    int64_t price_cents;        //  what the buyer is charged (after pricing rules)
    int32_t tier;               //  campaign tier, 1 first
    bool exclusive;             //  campaign buys exclusively
    int64_t latency_us;         //  ping round trip, 0 for fixed bids
    int64_t answered_us;        //  when the bid came in (tie break), absolute us
    char *bid_ref;              //  buyer's own bid id, or NULL
} pp_bid_t;

//  One timestamp: a stage took (in) or passed on (out) the lead.
typedef struct {
    uint8_t stage;              //  pp_stage_code_t
    uint8_t out;                //  0 = received, 1 = passed on
    int64_t at_us;              //  wall clock, us since the epoch
} pp_stamp_t;

typedef struct pp_lead pp_lead_t;

//  Create a lead with the given id (copied; at most PP_LEAD_ID_SIZE chars).
pp_lead_t *
    pp_lead_new (const char *id);
//  Destroy; nulls *self_p. Safe on NULL.
void
    pp_lead_destroy (pp_lead_t **self_p);

//  Accessors. Strings are borrowed and never NULL ("" when unset).
const char *
    pp_lead_id (const pp_lead_t *self);
int64_t
    pp_lead_received_us (const pp_lead_t *self);
void
    pp_lead_set_received_us (pp_lead_t *self, int64_t us);
//  Absolute deadline, us since the epoch.
int64_t
    pp_lead_deadline_us (const pp_lead_t *self);
void
    pp_lead_set_deadline_us (pp_lead_t *self, int64_t us);
//  Which intake instance (slot) waits for the result.
int
    pp_lead_reply_slot (const pp_lead_t *self);
void
    pp_lead_set_reply_slot (pp_lead_t *self, int slot);
uint32_t
    pp_lead_publisher_id (const pp_lead_t *self);
void
    pp_lead_set_publisher_id (pp_lead_t *self, uint32_t id);
const char *
    pp_lead_publisher (const pp_lead_t *self);
void
    pp_lead_set_publisher (pp_lead_t *self, const char *name);
const char *
    pp_lead_source (const pp_lead_t *self);
void
    pp_lead_set_source (pp_lead_t *self, const char *source);
const char *
    pp_lead_sub_id (const pp_lead_t *self);
void
    pp_lead_set_sub_id (pp_lead_t *self, const char *sub_id);
const char *
    pp_lead_vertical (const pp_lead_t *self);
void
    pp_lead_set_vertical (pp_lead_t *self, const char *vertical);
bool
    pp_lead_test (const pp_lead_t *self);
void
    pp_lead_set_test (pp_lead_t *self, bool test);

//  The lead's field bags; borrowed, never NULL, modifiable in place.
pp_fields_t *
    pp_lead_fields (pp_lead_t *self);
pp_fields_t *
    pp_lead_consent (pp_lead_t *self);
pp_fields_t *
    pp_lead_signals (pp_lead_t *self);

//  Eligible campaign ids, added by filter.
size_t
    pp_lead_eligible_size (const pp_lead_t *self);
uint32_t
    pp_lead_eligible (const pp_lead_t *self, size_t i);
void
    pp_lead_add_eligible (pp_lead_t *self, uint32_t campaign_id);
void
    pp_lead_clear_eligible (pp_lead_t *self);

//  Bids, in rank order once auction has ranked them.
size_t
    pp_lead_bid_size (const pp_lead_t *self);
//  Borrowed pointer to bid i; valid until the bids change.
pp_bid_t *
    pp_lead_bid (pp_lead_t *self, size_t i);
//  Append a copy of *bid (bid_ref is copied).
void
    pp_lead_add_bid (pp_lead_t *self, const pp_bid_t *bid);
void
    pp_lead_clear_bids (pp_lead_t *self);

//  Timestamps, appended in order.
size_t
    pp_lead_stamp_size (const pp_lead_t *self);
const pp_stamp_t *
    pp_lead_stamp (const pp_lead_t *self, size_t i);
void
    pp_lead_add_stamp (pp_lead_t *self, int stage, bool out, int64_t at_us);

//  Encode to a new frame (one msgpack map, `v` = PP_PROTO_VERSION, `t` = "lead").
zframe_t *
    pp_lead_encode (const pp_lead_t *self);
//  Decode a frame into a new lead, or NULL (logged "pp_lead: <reason>") when
//  malformed: wrong version or type, missing required key, wrong msgpack type.
//  Unknown keys are ignored. Does not take the frame.
pp_lead_t *
    pp_lead_decode (zframe_t *frame);
//  Decode from a raw buffer; as pp_lead_decode.
pp_lead_t *
    pp_lead_decode_buf (const void *data, size_t size);
//  Send as one frame; 0 or -1 (EAGAIN when the peer is full with ZMQ_DONTWAIT
//  in flags). Does not destroy self.
int PP_MUSTCHECK
    pp_lead_send (const pp_lead_t *self, void *sock, int flags);
//  Receive one lead, or NULL when interrupted or malformed (logged).
pp_lead_t *
    pp_lead_recv (void *sock);

#endif
