/*  pp_result - the answer for one lead, sent by the stage that ends it to the lead's intake  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_RESULT_H_INCLUDED
#define PP_RESULT_H_INCLUDED

#include <czmq.h>
#include "pp_fields.h"

//  Business outcomes of DESIGN section 5.
typedef enum {
    PP_STATUS_SOLD = 1,
    PP_STATUS_UNSOLD,
    PP_STATUS_REJECTED,
    PP_STATUS_DUPLICATE,
    PP_STATUS_ERROR
} pp_status_t;

//  "sold", "unsold"...; "error" for an unknown value.
const char *
    pp_status_name (int status);
//  Status code of a name, or -1.
int
    pp_status_from_name (const char *name);

typedef struct pp_result pp_result_t;

//  Create a result for lead `lead_id` (copied) with a status.
pp_result_t *
    pp_result_new (const char *lead_id, pp_status_t status);
void
    pp_result_destroy (pp_result_t **self_p);

const char *
    pp_result_lead_id (const pp_result_t *self);
pp_status_t
    pp_result_status (const pp_result_t *self);
void
    pp_result_set_status (pp_result_t *self, pp_status_t status);
//  The publisher's payout in cents (0 unless sold).
int64_t
    pp_result_price_cents (const pp_result_t *self);
void
    pp_result_set_price_cents (pp_result_t *self, int64_t cents);
//  Total the buyers are charged, in cents (intake's report, never shown to the publisher).
int64_t
    pp_result_charge_cents (const pp_result_t *self);
void
    pp_result_set_charge_cents (pp_result_t *self, int64_t cents);
//  Which stage ended the lead (pp_stage_code_t).
int
    pp_result_stage (const pp_result_t *self);
void
    pp_result_set_stage (pp_result_t *self, int stage);

//  Reasons: code (required), field and message (may be NULL).
size_t
    pp_result_reason_size (const pp_result_t *self);
const char *
    pp_result_reason_code (const pp_result_t *self, size_t i);
//  Field or "" ; borrowed.
const char *
    pp_result_reason_field (const pp_result_t *self, size_t i);
//  Message or ""; borrowed.
const char *
    pp_result_reason_message (const pp_result_t *self, size_t i);
void
    pp_result_add_reason (pp_result_t *self, const char *code, const char *field,
                          const char *message);

//  Codec, as pp_lead (`t` = "result").
zframe_t *
    pp_result_encode (const pp_result_t *self);
pp_result_t *
    pp_result_decode (zframe_t *frame);
pp_result_t *
    pp_result_decode_buf (const void *data, size_t size);
int PP_MUSTCHECK
    pp_result_send (const pp_result_t *self, void *sock, int flags);
pp_result_t *
    pp_result_recv (void *sock);

#endif
