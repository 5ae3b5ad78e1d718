/*  fuzz_msgpack - libFuzzer target: raw bytes into every proto/ decoder, round trips compared  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  The input goes to each decoder (lead, result, events, ack) as a frame from
//  a peer would. Whatever decodes is encoded again, the encoding decoded
//  again, and the two objects compared field by field; encoding the copy
//  must give the same bytes (the encoders are canonical). A decoded lead's
//  field bags are also turned into JSON, as deliver does for a post.
//  Failures abort (assert): libFuzzer saves the input.

#include "pp_event.h"
#include "pp_json.h"
#include "pp_lead.h"
#include "pp_result.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  The decoders log every malformed message (that is their contract): keep
//  the fuzzer's output readable, unless PP_FUZZ_VERBOSE is set.
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    //  zsys_init first, so the handlers libFuzzer installs afterwards win
    zsys_init ();
    if (!getenv ("PP_FUZZ_VERBOSE"))
        zsys_set_logstream (NULL);
    return 0;
}

static void
s_json_of_bag (const pp_fields_t *bag)
{
    cJSON *json = pp_json_from_fields (bag, NULL, true);
    char *text = pp_json_print (json);
    assert (text[0] == '{');
    free (text);
    cJSON_Delete (json);
}

static bool
s_str_eq_or_null (const char *a, const char *b)
{
    return (!a && !b) || (a && b && streq (a, b));
}

//  --------------------------------------------------------------------------
//  lead

static void
s_lead_same (pp_lead_t *a, pp_lead_t *b)
{
    assert (streq (pp_lead_id (a), pp_lead_id (b)));
    assert (pp_lead_received_us (a) == pp_lead_received_us (b));
    assert (pp_lead_deadline_us (a) == pp_lead_deadline_us (b));
    assert (pp_lead_reply_slot (a) == pp_lead_reply_slot (b));
    assert (pp_lead_publisher_id (a) == pp_lead_publisher_id (b));
    assert (streq (pp_lead_publisher (a), pp_lead_publisher (b)));
    assert (streq (pp_lead_source (a), pp_lead_source (b)));
    assert (streq (pp_lead_sub_id (a), pp_lead_sub_id (b)));
    assert (streq (pp_lead_vertical (a), pp_lead_vertical (b)));
    assert (pp_lead_test (a) == pp_lead_test (b));
    assert (pp_fields_eq (pp_lead_fields (a), pp_lead_fields (b)));
    assert (pp_fields_eq (pp_lead_consent (a), pp_lead_consent (b)));
    assert (pp_fields_eq (pp_lead_signals (a), pp_lead_signals (b)));
    assert (pp_lead_eligible_size (a) == pp_lead_eligible_size (b));
    for (size_t i = 0; i < pp_lead_eligible_size (a); i++)
        assert (pp_lead_eligible (a, i) == pp_lead_eligible (b, i));
    assert (pp_lead_bid_size (a) == pp_lead_bid_size (b));
    for (size_t i = 0; i < pp_lead_bid_size (a); i++) {
        const pp_bid_t *x = pp_lead_bid (a, i);
        const pp_bid_t *y = pp_lead_bid (b, i);
        assert (x->campaign_id == y->campaign_id && x->buyer_id == y->buyer_id);
        assert (x->amount_cents == y->amount_cents && x->price_cents == y->price_cents);
        assert (x->tier == y->tier && x->exclusive == y->exclusive);
        assert (x->latency_us == y->latency_us && x->answered_us == y->answered_us);
        assert (s_str_eq_or_null (x->bid_ref, y->bid_ref));
    }
    assert (pp_lead_stamp_size (a) == pp_lead_stamp_size (b));
    for (size_t i = 0; i < pp_lead_stamp_size (a); i++) {
        const pp_stamp_t *x = pp_lead_stamp (a, i);
        const pp_stamp_t *y = pp_lead_stamp (b, i);
        assert (x->stage == y->stage && x->out == y->out && x->at_us == y->at_us);
    }
}

static void
s_fuzz_lead (const uint8_t *data, size_t size)
{
    pp_lead_t *lead = pp_lead_decode_buf (data, size);
    if (!lead)
        return;
    zframe_t *frame = pp_lead_encode (lead);
    assert (frame);
    //  proto/README.md section 3: id 1..26 bytes
    assert (*pp_lead_id (lead) && strlen (pp_lead_id (lead)) <= PP_LEAD_ID_SIZE);
    pp_lead_t *copy = pp_lead_decode (frame);
    assert (copy);
    s_lead_same (lead, copy);
    zframe_t *again = pp_lead_encode (copy);
    assert (zframe_eq (frame, again));

    //  What the stages make of a lead they received
    s_json_of_bag (pp_lead_fields (copy));
    s_json_of_bag (pp_lead_consent (copy));
    s_json_of_bag (pp_lead_signals (copy));

    zframe_destroy (&again);
    zframe_destroy (&frame);
    pp_lead_destroy (&copy);
    pp_lead_destroy (&lead);
}

//  --------------------------------------------------------------------------
//  result

static void
s_result_same (const pp_result_t *a, const pp_result_t *b)
{
    assert (streq (pp_result_lead_id (a), pp_result_lead_id (b)));
    assert (pp_result_status (a) == pp_result_status (b));
    assert (pp_result_price_cents (a) == pp_result_price_cents (b));
    assert (pp_result_charge_cents (a) == pp_result_charge_cents (b));
    assert (pp_result_stage (a) == pp_result_stage (b));
    assert (pp_result_reason_size (a) == pp_result_reason_size (b));
    for (size_t i = 0; i < pp_result_reason_size (a); i++) {
        assert (streq (pp_result_reason_code (a, i), pp_result_reason_code (b, i)));
        assert (streq (pp_result_reason_field (a, i), pp_result_reason_field (b, i)));
        assert (streq (pp_result_reason_message (a, i), pp_result_reason_message (b, i)));
    }
}

static void
s_fuzz_result (const uint8_t *data, size_t size)
{
    pp_result_t *result = pp_result_decode_buf (data, size);
    if (!result)
        return;
    //  proto/README.md section 4: id 1..26 bytes, status 1..5
    size_t id_size = strlen (pp_result_lead_id (result));
    assert (id_size >= 1 && id_size <= PP_LEAD_ID_SIZE);
    assert (pp_result_status (result) >= PP_STATUS_SOLD &&
            pp_result_status (result) <= PP_STATUS_ERROR);
    zframe_t *frame = pp_result_encode (result);
    assert (frame);
    pp_result_t *copy = pp_result_decode (frame);
    assert (copy);
    s_result_same (result, copy);
    zframe_t *again = pp_result_encode (copy);
    assert (zframe_eq (frame, again));
    zframe_destroy (&again);
    zframe_destroy (&frame);
    pp_result_destroy (&copy);
    pp_result_destroy (&result);
}

//  --------------------------------------------------------------------------
//  events and ack

static void
s_event_same (const pp_event_t *a, const pp_event_t *b)
{
    assert (streq (pp_event_id (a), pp_event_id (b)));
    assert (streq (pp_event_lead_id (a), pp_event_lead_id (b)));
    assert (streq (pp_event_kind (a), pp_event_kind (b)));
    assert (pp_event_stage (a) == pp_event_stage (b));
    assert (pp_event_at_us (a) == pp_event_at_us (b));
    assert (pp_event_campaign_id (a) == pp_event_campaign_id (b));
    assert (pp_event_buyer_id (a) == pp_event_buyer_id (b));
    assert (pp_event_amount_cents (a) == pp_event_amount_cents (b));
    assert (pp_event_payout_cents (a) == pp_event_payout_cents (b));
    assert (pp_event_latency_us (a) == pp_event_latency_us (b));
    assert (streq (pp_event_code (a), pp_event_code (b)));
    assert (streq (pp_event_detail (a), pp_event_detail (b)));
}

static void
s_fuzz_events (const uint8_t *data, size_t size)
{
    pp_events_t *events = pp_events_decode_buf (data, size);
    if (!events)
        return;
    zframe_t *frame = pp_events_encode (events);
    assert (frame);
    pp_events_t *copy = pp_events_decode (frame);
    assert (copy);
    assert (pp_events_size (events) == pp_events_size (copy));
    for (size_t i = 0; i < pp_events_size (events); i++) {
        s_event_same (pp_events_get (events, i), pp_events_get (copy, i));
        //  The outbox keeps copies of what it sends
        pp_event_t *dup = pp_event_dup (pp_events_get (events, i));
        s_event_same (pp_events_get (events, i), dup);
        pp_event_destroy (&dup);
        //  proto/README.md section 5.1: id 1..63, lead id 1..26, kind 1..31 bytes
        const pp_event_t *event = pp_events_get (events, i);
        assert (*pp_event_id (event) && strlen (pp_event_id (event)) <= PP_EVENT_ID_MAX);
        assert (*pp_event_lead_id (event) && strlen (pp_event_lead_id (event)) <= PP_LEAD_ID_SIZE);
        assert (*pp_event_kind (event) && strlen (pp_event_kind (event)) <= 31);
    }
    zframe_t *again = pp_events_encode (copy);
    assert (zframe_eq (frame, again));
    zframe_destroy (&again);
    zframe_destroy (&frame);
    pp_events_destroy (&copy);
    pp_events_destroy (&events);
}

static void
s_fuzz_ack (const uint8_t *data, size_t size)
{
    pp_ack_t *ack = pp_ack_decode_buf (data, size);
    if (!ack)
        return;
    zframe_t *frame = pp_ack_encode (ack);
    assert (frame);
    pp_ack_t *copy = pp_ack_decode (frame);
    assert (copy);
    assert (pp_ack_size (ack) == pp_ack_size (copy));
    for (size_t i = 0; i < pp_ack_size (ack); i++) {
        assert (streq (pp_ack_get (ack, i), pp_ack_get (copy, i)));
        assert (*pp_ack_get (ack, i) && strlen (pp_ack_get (ack, i)) <= PP_EVENT_ID_MAX);
    }
    zframe_t *again = pp_ack_encode (copy);
    assert (zframe_eq (frame, again));
    zframe_destroy (&again);
    zframe_destroy (&frame);
    pp_ack_destroy (&copy);
    pp_ack_destroy (&ack);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_fuzz_lead (data, size);
    s_fuzz_result (data, size);
    s_fuzz_events (data, size);
    s_fuzz_ack (data, size);
    return 0;
}
