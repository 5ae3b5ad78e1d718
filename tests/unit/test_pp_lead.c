/*  test_pp_lead - the lead envelope codec: round trips, hostile input, sockets  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>
#include <czmq.h>
#include <msgpack.h>
#include "pp_lead.h"
#include "pp_wire.h" //  pp_wire_scan, the guard in front of msgpack-c

//  --------------------------------------------------------------------------
//  Log capture: decoders log one line per rejected frame.

static FILE *s_log_file;

static void
s_log_begin (void)
{
    s_log_file = tmpfile ();
    assert_non_null (s_log_file);
    zsys_set_logstream (s_log_file);
}

//  Stop capturing; returns what was logged (free it).
static char *
s_log_end (void)
{
    zsys_set_logstream (stderr);
    fflush (s_log_file);
    long size = ftell (s_log_file);
    assert_true (size >= 0);
    rewind (s_log_file);
    char *text = (char *) malloc ((size_t) size + 1);
    assert_non_null (text);
    size_t got = fread (text, 1, (size_t) size, s_log_file);
    text[got] = '\0';
    fclose (s_log_file);
    s_log_file = NULL;
    return text;
}

static size_t
s_count_lines (const char *text)
{
    size_t lines = 0;
    for (; *text; text++)
        lines += *text == '\n';
    return lines;
}

//  --------------------------------------------------------------------------
//  Hand-built frames: a map of keys, each with a raw msgpack value.

#define R(literal) literal, sizeof (literal) - 1

typedef struct {
    const char *key; //  map key, packed as a str
    const char *raw; //  the value, raw msgpack bytes
    size_t len;      //  bytes of raw
} s_kv_t;

//  The smallest valid lead: v, t, id, rcv, dl.
static const s_kv_t s_base[] = {
    {"v", R ("\x01")},
    {"t", R ("\xa4"
             "lead")},
    {"id", R ("\xa2"
              "L1")},
    {"rcv", R ("\xcd\x01\x00")},
    {"dl", R ("\xcd\x02\x00")},
};
#define BASE_SIZE (sizeof (s_base) / sizeof (s_base[0]))

static void
s_pack_kv (msgpack_sbuffer *sbuf, const s_kv_t *kv, size_t count)
{
    msgpack_packer pk;
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_str (&pk, strlen (kv[i].key));
        msgpack_pack_str_body (&pk, kv[i].key, strlen (kv[i].key));
        msgpack_sbuffer_write (sbuf, kv[i].raw, kv[i].len);
    }
}

//  Decode a frame made of kv; the decoded lead or NULL.
static pp_lead_t *
s_decode_kv (const s_kv_t *kv, size_t count)
{
    msgpack_sbuffer sbuf;
    s_pack_kv (&sbuf, kv, count);
    pp_lead_t *lead = pp_lead_decode_buf (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return lead;
}

//  The base frame with `key` set to the raw value (replaced or added).
static pp_lead_t *
s_decode_with (const char *key, const char *raw, size_t len)
{
    s_kv_t kv[BASE_SIZE + 1];
    size_t count = BASE_SIZE;
    memcpy (kv, s_base, sizeof (s_base));
    size_t i;
    for (i = 0; i < BASE_SIZE; i++)
        if (streq (kv[i].key, key))
            break;
    if (i == BASE_SIZE)
        count++;
    kv[i].key = key;
    kv[i].raw = raw;
    kv[i].len = len;
    return s_decode_kv (kv, count);
}

//  The base frame without `key`.
static pp_lead_t *
s_decode_without (const char *key)
{
    s_kv_t kv[BASE_SIZE];
    size_t count = 0;
    for (size_t i = 0; i < BASE_SIZE; i++)
        if (!streq (s_base[i].key, key))
            kv[count++] = s_base[i];
    assert_int_equal (count, BASE_SIZE - 1);
    return s_decode_kv (kv, count);
}

//  Assert that setting key to raw is rejected with one log line naming the subject.
static void
s_assert_rejected (const char *key, const char *raw, size_t len)
{
    s_log_begin ();
    pp_lead_t *lead = s_decode_with (key, raw, len);
    char *log = s_log_end ();
    if (lead)
        fail_msg ("key '%s' with a bad value (%zu bytes) was accepted", key, len);
    assert_int_equal (s_count_lines (log), 1);
    assert_non_null (strstr (log, "pp_lead: "));
    free (log);
}

//  --------------------------------------------------------------------------
//  A lead with every field set.

static pp_lead_t *
s_full_lead (size_t bids)
{
    pp_lead_t *lead = pp_lead_new ("01JD5Z6W9X3K8M2N4P6Q8R0S2T");
    assert_non_null (lead);
    pp_lead_set_received_us (lead, 1764410321123456);
    pp_lead_set_deadline_us (lead, 1764410324123456);
    pp_lead_set_reply_slot (lead, 3);
    pp_lead_set_publisher_id (lead, UINT32_MAX);
    pp_lead_set_publisher (lead, "acme-media");
    pp_lead_set_source (lead, "google/ads");
    pp_lead_set_sub_id (lead, "sub-ÄÖÜ-☀");
    pp_lead_set_vertical (lead, "solar");
    pp_lead_set_test (lead, true);

    pp_fields_t *fields = pp_lead_fields (lead);
    pp_fields_set_str (fields, "first_name", "Zoë");
    pp_fields_set_str (fields, "last_name", "山田");
    pp_fields_set_str (fields, "email", "zoe@example.com");
    pp_fields_set_str (fields, "phone", "+14155550123");
    pp_fields_set_str (fields, "zip", "90001");
    pp_fields_set_str (fields, "empty", "");
    pp_fields_set_int (fields, "monthly_bill", 250);
    pp_fields_set_int (fields, "min", INT64_MIN);
    pp_fields_set_int (fields, "max", INT64_MAX);
    pp_fields_set_int (fields, "negative", -1);
    pp_fields_set_int (fields, "zero", 0);
    pp_fields_set_num (fields, "ratio", -0.125);
    pp_fields_set_num (fields, "huge", 1.5e300);
    pp_fields_set_num (fields, "not_a_number", NAN);
    pp_fields_set_num (fields, "inf", -INFINITY);
    pp_fields_set_bool (fields, "home_owner", true);
    pp_fields_set_bool (fields, "renter", false);
    pp_fields_set_nil (fields, "nothing");
    pp_fields_set_json (fields, "extra", "{\"roof\":{\"age\":12,\"tags\":[\"a\",\"☀\"]}}");
    pp_fields_set_json (fields, "empty_json", "");

    pp_fields_t *consent = pp_lead_consent (lead);
    pp_fields_set_bool (consent, "tcpa", true);
    pp_fields_set_str (consent, "text", "I agree to be contacted.");
    pp_fields_set_str (consent, "timestamp", "2026-11-29T10:00:00Z");
    //  Signals stay empty: an empty bag must round-trip too.

    for (uint32_t i = 0; i < 40; i++)
        pp_lead_add_eligible (lead, i * 1000003u);
    pp_lead_add_eligible (lead, UINT32_MAX);

    for (size_t i = 0; i < bids; i++) {
        char ref[32];
        snprintf (ref, sizeof (ref), "bid-%zu", i);
        pp_bid_t bid = {
            .campaign_id = (uint32_t) (i + 1),
            .buyer_id = (uint32_t) (i % 7 + 1),
            .amount_cents = (int64_t) (i * 125 + 1),
            .price_cents = (int64_t) i * 100,
            .tier = (int32_t) (i % 3) - 1,
            .exclusive = i % 2 == 0,
            .latency_us = (int64_t) i * 17,
            .answered_us = 1764410321123456 + (int64_t) i,
            .bid_ref = i % 3 == 0 ? NULL : ref,
        };
        pp_lead_add_bid (lead, &bid);
    }
    if (bids > 0) {
        pp_bid_t extreme = {.campaign_id = UINT32_MAX,
                            .buyer_id = UINT32_MAX,
                            .amount_cents = INT64_MAX,
                            .price_cents = INT64_MIN,
                            .tier = INT32_MIN,
                            .latency_us = -5,
                            .bid_ref = ""};
        pp_lead_add_bid (lead, &extreme);
    }
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, false, 1764410321123456);
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, true, 1764410321123500);
    pp_lead_add_stamp (lead, PP_STAGE_VALIDATE, false, INT64_MIN);
    pp_lead_add_stamp (lead, 255, true, INT64_MAX);
    return lead;
}

static void
s_assert_leads_eq (pp_lead_t *a, pp_lead_t *b)
{
    assert_string_equal (pp_lead_id (a), pp_lead_id (b));
    assert_true (pp_lead_received_us (a) == pp_lead_received_us (b));
    assert_true (pp_lead_deadline_us (a) == pp_lead_deadline_us (b));
    assert_int_equal (pp_lead_reply_slot (a), pp_lead_reply_slot (b));
    assert_int_equal (pp_lead_publisher_id (a), pp_lead_publisher_id (b));
    assert_string_equal (pp_lead_publisher (a), pp_lead_publisher (b));
    assert_string_equal (pp_lead_source (a), pp_lead_source (b));
    assert_string_equal (pp_lead_sub_id (a), pp_lead_sub_id (b));
    assert_string_equal (pp_lead_vertical (a), pp_lead_vertical (b));
    assert_int_equal (pp_lead_test (a), pp_lead_test (b));
    assert_true (pp_fields_eq (pp_lead_fields (a), pp_lead_fields (b)));
    assert_true (pp_fields_eq (pp_lead_consent (a), pp_lead_consent (b)));
    assert_true (pp_fields_eq (pp_lead_signals (a), pp_lead_signals (b)));
    assert_int_equal (pp_lead_eligible_size (a), pp_lead_eligible_size (b));
    for (size_t i = 0; i < pp_lead_eligible_size (a); i++)
        assert_int_equal (pp_lead_eligible (a, i), pp_lead_eligible (b, i));
    assert_int_equal (pp_lead_bid_size (a), pp_lead_bid_size (b));
    for (size_t i = 0; i < pp_lead_bid_size (a); i++) {
        pp_bid_t *x = pp_lead_bid (a, i);
        pp_bid_t *y = pp_lead_bid (b, i);
        assert_int_equal (x->campaign_id, y->campaign_id);
        assert_int_equal (x->buyer_id, y->buyer_id);
        assert_true (x->amount_cents == y->amount_cents);
        assert_true (x->price_cents == y->price_cents);
        assert_int_equal (x->tier, y->tier);
        assert_int_equal (x->exclusive, y->exclusive);
        assert_true (x->latency_us == y->latency_us);
        assert_true (x->answered_us == y->answered_us);
        if (x->bid_ref == NULL)
            assert_null (y->bid_ref);
        else {
            assert_non_null (y->bid_ref);
            assert_string_equal (x->bid_ref, y->bid_ref);
        }
    }
    assert_int_equal (pp_lead_stamp_size (a), pp_lead_stamp_size (b));
    for (size_t i = 0; i < pp_lead_stamp_size (a); i++) {
        assert_int_equal (pp_lead_stamp (a, i)->stage, pp_lead_stamp (b, i)->stage);
        assert_int_equal (pp_lead_stamp (a, i)->out, pp_lead_stamp (b, i)->out);
        assert_true (pp_lead_stamp (a, i)->at_us == pp_lead_stamp (b, i)->at_us);
    }
}

//  --------------------------------------------------------------------------

static void
test_pp_lead_stage_code_name (void **state)
{
    assert_string_equal (pp_stage_code_name (PP_STAGE_INTAKE), "intake");
    assert_string_equal (pp_stage_code_name (PP_STAGE_VALIDATE), "validate");
    assert_string_equal (pp_stage_code_name (PP_STAGE_FILTER), "filter");
    assert_string_equal (pp_stage_code_name (PP_STAGE_AUCTION), "auction");
    assert_string_equal (pp_stage_code_name (PP_STAGE_DELIVER), "deliver");
    assert_string_equal (pp_stage_code_name (PP_STAGE_LEDGER), "ledger");
    assert_string_equal (pp_stage_code_name (0), "unknown");
    assert_string_equal (pp_stage_code_name (7), "unknown");
    assert_string_equal (pp_stage_code_name (-1), "unknown");
}

static void
test_pp_lead_new_checks_id (void **state)
{
    assert_null (pp_lead_new (NULL));
    assert_null (pp_lead_new (""));
    assert_null (pp_lead_new ("0123456789012345678901234567"));   //  27
    pp_lead_t *lead = pp_lead_new ("01234567890123456789012345"); //  26
    assert_non_null (lead);
    assert_string_equal (pp_lead_id (lead), "01234567890123456789012345");
    pp_lead_destroy (&lead);
    assert_null (lead);
    pp_lead_destroy (&lead);
    lead = pp_lead_new ("x");
    assert_string_equal (pp_lead_id (lead), "x");
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_defaults_and_setters (void **state)
{
    pp_lead_t *lead = pp_lead_new ("L1");
    assert_true (pp_lead_received_us (lead) == 0);
    assert_true (pp_lead_deadline_us (lead) == 0);
    assert_int_equal (pp_lead_reply_slot (lead), 0);
    assert_int_equal (pp_lead_publisher_id (lead), 0);
    assert_string_equal (pp_lead_publisher (lead), "");
    assert_string_equal (pp_lead_source (lead), "");
    assert_string_equal (pp_lead_sub_id (lead), "");
    assert_string_equal (pp_lead_vertical (lead), "");
    assert_false (pp_lead_test (lead));
    assert_non_null (pp_lead_fields (lead));
    assert_non_null (pp_lead_consent (lead));
    assert_non_null (pp_lead_signals (lead));
    assert_ptr_not_equal (pp_lead_fields (lead), pp_lead_consent (lead));
    assert_int_equal (pp_lead_eligible_size (lead), 0);
    assert_int_equal (pp_lead_bid_size (lead), 0);
    assert_int_equal (pp_lead_stamp_size (lead), 0);

    pp_lead_set_publisher (lead, "acme");
    assert_string_equal (pp_lead_publisher (lead), "acme");
    pp_lead_set_publisher (lead, "other");
    assert_string_equal (pp_lead_publisher (lead), "other");
    pp_lead_set_publisher (lead, NULL);
    assert_string_equal (pp_lead_publisher (lead), "");
    pp_lead_set_source (lead, "s");
    pp_lead_set_source (lead, "");
    assert_string_equal (pp_lead_source (lead), "");
    pp_lead_set_sub_id (lead, "sub");
    assert_string_equal (pp_lead_sub_id (lead), "sub");
    pp_lead_set_vertical (lead, "solar");
    assert_string_equal (pp_lead_vertical (lead), "solar");
    pp_lead_set_reply_slot (lead, -2);
    assert_int_equal (pp_lead_reply_slot (lead), -2);
    pp_lead_set_test (lead, true);
    assert_true (pp_lead_test (lead));
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_lists (void **state)
{
    pp_lead_t *lead = pp_lead_new ("L1");
    for (uint32_t i = 0; i < 100; i++)
        pp_lead_add_eligible (lead, i + 10);
    assert_int_equal (pp_lead_eligible_size (lead), 100);
    assert_int_equal (pp_lead_eligible (lead, 99), 109);
    pp_lead_clear_eligible (lead);
    assert_int_equal (pp_lead_eligible_size (lead), 0);
    pp_lead_add_eligible (lead, 5);
    assert_int_equal (pp_lead_eligible (lead, 0), 5);

    char ref[] = "their-ref";
    pp_bid_t bid = {.campaign_id = 7, .amount_cents = 1250, .bid_ref = ref};
    pp_lead_add_bid (lead, &bid);
    ref[0] = 'X'; //  the lead holds its own copy
    assert_string_equal (pp_lead_bid (lead, 0)->bid_ref, "their-ref");
    bid.bid_ref = NULL;
    bid.campaign_id = 8;
    pp_lead_add_bid (lead, &bid);
    assert_null (pp_lead_bid (lead, 1)->bid_ref);
    pp_lead_bid (lead, 1)->price_cents = 999; //  modifiable in place
    assert_true (pp_lead_bid (lead, 1)->price_cents == 999);
    assert_int_equal (pp_lead_bid_size (lead), 2);
    pp_lead_clear_bids (lead);
    assert_int_equal (pp_lead_bid_size (lead), 0);

    pp_lead_add_stamp (lead, PP_STAGE_FILTER, true, 42);
    assert_int_equal (pp_lead_stamp_size (lead), 1);
    assert_int_equal (pp_lead_stamp (lead, 0)->stage, PP_STAGE_FILTER);
    assert_int_equal (pp_lead_stamp (lead, 0)->out, 1);
    assert_true (pp_lead_stamp (lead, 0)->at_us == 42);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_round_trip_full (void **state)
{
    pp_lead_t *lead = s_full_lead (5);
    zframe_t *frame = pp_lead_encode (lead);
    assert_non_null (frame);
    pp_lead_t *copy = pp_lead_decode (frame);
    assert_non_null (copy);
    s_assert_leads_eq (lead, copy);
    //  Field order and values, spot checks.
    assert_string_equal (pp_fields_name (pp_lead_fields (copy), 0), "first_name");
    assert_string_equal (pp_fields_str (pp_lead_fields (copy), "last_name"), "山田");
    assert_true (pp_fields_get (pp_lead_fields (copy), "min")->i == INT64_MIN);
    assert_true (isnan (pp_fields_get (pp_lead_fields (copy), "not_a_number")->n));
    assert_int_equal (pp_fields_get (pp_lead_fields (copy), "extra")->type, PP_VALUE_JSON);
    assert_int_equal (pp_fields_size (pp_lead_signals (copy)), 0);
    assert_string_equal (pp_lead_bid (copy, 5)->bid_ref, "");
    //  Encoding the copy gives the same bytes.
    zframe_t *again = pp_lead_encode (copy);
    assert_true (zframe_eq (frame, again));
    zframe_destroy (&again);
    zframe_destroy (&frame);
    pp_lead_destroy (&copy);
    pp_lead_destroy (&lead);
}

//  Each thread reuses its encoding buffer and its cleared unpacker zones:
//  two frames open at once keep their own trees, a lead decoded after a
//  big one (whose zone grew) is still right, buffers reused for a smaller
//  encoding give the same bytes, and a thread that ends frees its spares
//  (a leak here fails the sanitized build).
static void *
s_decode_in_thread (void *arg)
{
    zframe_t *frame = (zframe_t *) arg;
    for (int round = 0; round < 50; round++) {
        pp_lead_t *copy = pp_lead_decode (frame);
        assert (copy);
        zframe_t *again = pp_lead_encode (copy);
        assert (zframe_eq (frame, again));
        zframe_destroy (&again);
        pp_lead_destroy (&copy);
    }
    return NULL;
}

static void
test_pp_lead_codec_reuse (void **state)
{
    pp_lead_t *small = s_full_lead (1);
    pp_lead_t *big = s_full_lead (40);
    zframe_t *small_frame = pp_lead_encode (small);
    zframe_t *big_frame = pp_lead_encode (big);
    assert_true (zframe_size (big_frame) > zframe_size (small_frame));

    //  Two frames open at once, closed in either order
    for (int round = 0; round < 3; round++) {
        pp_wire_in_t a, b;
        assert_int_equal (pp_wire_open (&a, zframe_data (small_frame), zframe_size (small_frame),
                                        "test", "lead"), 0);
        assert_int_equal (pp_wire_open (&b, zframe_data (big_frame), zframe_size (big_frame),
                                        "test", "lead"), 0);
        assert_true (a.zone != b.zone);
        assert_true (a.root->size == b.root->size);
        if (round % 2) {
            pp_wire_close (&a);
            pp_wire_close (&b);
        }
        else {
            pp_wire_close (&b);
            pp_wire_close (&a);
        }
        assert_null (a.zone);
        assert_null (a.root);
    }
    //  Big, small, big again: each decode and encode as if fresh
    for (int round = 0; round < 20; round++) {
        zframe_t *frame = round % 3 ? small_frame : big_frame;
        pp_lead_t *copy = pp_lead_decode (frame);
        assert_non_null (copy);
        s_assert_leads_eq (round % 3 ? small : big, copy);
        zframe_t *again = pp_lead_encode (copy);
        assert_true (zframe_eq (frame, again));
        zframe_destroy (&again);
        pp_lead_destroy (&copy);
    }
    //  Threads that decode and end
    pthread_t threads [3];
    for (int i = 0; i < 3; i++)
        assert_int_equal (pthread_create (&threads [i], NULL, s_decode_in_thread,
                                          i == 1 ? small_frame : big_frame), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal (pthread_join (threads [i], NULL), 0);

    zframe_destroy (&small_frame);
    zframe_destroy (&big_frame);
    pp_lead_destroy (&small);
    pp_lead_destroy (&big);
}

static void
test_pp_lead_round_trip_minimal (void **state)
{
    pp_lead_t *lead = pp_lead_new ("L");
    zframe_t *frame = pp_lead_encode (lead);
    pp_lead_t *copy = pp_lead_decode (frame);
    assert_non_null (copy);
    s_assert_leads_eq (lead, copy);
    zframe_destroy (&frame);
    pp_lead_destroy (&copy);

    //  Negative times survive too.
    pp_lead_set_received_us (lead, -1);
    pp_lead_set_deadline_us (lead, INT64_MIN);
    pp_lead_set_reply_slot (lead, INT_MIN);
    frame = pp_lead_encode (lead);
    copy = pp_lead_decode (frame);
    assert_non_null (copy);
    s_assert_leads_eq (lead, copy);
    zframe_destroy (&frame);
    pp_lead_destroy (&copy);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_round_trip_large (void **state)
{
    //  Enough bids, ids and fields to need 16-bit array and map headers,
    //  and a bag big enough for the sorted duplicate check.
    pp_lead_t *lead = s_full_lead (300);
    for (uint32_t i = 0; i < 70000; i++)
        pp_lead_add_eligible (lead, i);
    pp_fields_t *signals = pp_lead_signals (lead);
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf (name, sizeof (name), "s%03d", i);
        pp_fields_set_int (signals, name, -i);
    }
    char *long_text = (char *) malloc (100001);
    memset (long_text, 'x', 100000);
    long_text[100000] = '\0';
    pp_fields_set_str (signals, "long", long_text);
    free (long_text);

    zframe_t *frame = pp_lead_encode (lead);
    pp_lead_t *copy = pp_lead_decode (frame);
    assert_non_null (copy);
    s_assert_leads_eq (lead, copy);
    assert_int_equal (pp_lead_bid_size (copy), 301);
    assert_int_equal (strlen (pp_fields_str (pp_lead_signals (copy), "long")), 100000);
    zframe_destroy (&frame);
    pp_lead_destroy (&copy);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_decoded_bags_modifiable (void **state)
{
    //  A decoded bag holds its entries in one block; changing, removing and
    //  adding entries afterwards must work like on any bag.
    pp_lead_t *lead = s_full_lead (0);
    zframe_t *frame = pp_lead_encode (lead);
    pp_lead_t *copy = pp_lead_decode (frame);
    zframe_destroy (&frame);
    assert_non_null (copy);
    pp_fields_t *fields = pp_lead_fields (copy);
    const char *zip = pp_fields_str (fields, "zip");
    pp_fields_set_str (fields, "first_name", "Änne");
    pp_fields_set_str (fields, "email", pp_fields_str (fields, "email"));
    assert_int_equal (pp_fields_remove (fields, "last_name"), 0);
    assert_int_equal (pp_fields_remove (fields, "extra"), 0);
    pp_fields_set_int (fields, "new", 7);
    //  Other entries did not move.
    assert_ptr_equal (pp_fields_str (fields, "zip"), zip);
    assert_string_equal (pp_fields_str (fields, "first_name"), "Änne");
    assert_string_equal (pp_fields_str (fields, "email"), "zoe@example.com");
    assert_string_equal (pp_fields_name (fields, 0), "first_name");
    assert_int_equal (pp_fields_size (fields), pp_fields_size (pp_lead_fields (lead)) - 1);
    pp_fields_t *dup = pp_fields_dup (fields);
    assert_true (pp_fields_eq (dup, fields));
    pp_fields_destroy (&dup);
    //  Re-encode the changed lead and decode it again.
    frame = pp_lead_encode (copy);
    pp_lead_t *again = pp_lead_decode (frame);
    assert_non_null (again);
    s_assert_leads_eq (copy, again);
    zframe_destroy (&frame);
    pp_lead_destroy (&again);
    pp_lead_destroy (&copy);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_truncated_every_length (void **state)
{
    pp_lead_t *lead = s_full_lead (4);
    zframe_t *frame = pp_lead_encode (lead);
    size_t size = zframe_size (frame);
    assert_true (size > 300);
    s_log_begin ();
    for (size_t len = 0; len < size; len++) {
        //  An exact-size copy, so a read past the end is caught by ASan.
        void *part = malloc (len ? len : 1);
        memcpy (part, zframe_data (frame), len);
        pp_lead_t *decoded = pp_lead_decode_buf (part, len);
        free (part);
        if (decoded) {
            s_log_end ();
            fail_msg ("a lead truncated to %zu of %zu bytes was accepted", len, size);
        }
    }
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), size); //  one line per reject
    free (log);
    //  The whole frame still decodes.
    pp_lead_t *copy = pp_lead_decode (frame);
    assert_non_null (copy);
    pp_lead_destroy (&copy);
    zframe_destroy (&frame);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_trailing_bytes_rejected (void **state)
{
    pp_lead_t *lead = s_full_lead (1);
    zframe_t *frame = pp_lead_encode (lead);
    size_t size = zframe_size (frame);
    uint8_t *longer = (uint8_t *) malloc (size + 1);
    memcpy (longer, zframe_data (frame), size);
    longer[size] = 0xc0;
    s_log_begin ();
    pp_lead_t *decoded = pp_lead_decode_buf (longer, size + 1);
    char *log = s_log_end ();
    assert_null (decoded);
    assert_non_null (strstr (log, "trailing"));
    free (log);
    free (longer);
    zframe_destroy (&frame);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_base_frame_decodes (void **state)
{
    //  Guards the tests below: the hand-built base frame is valid.
    pp_lead_t *lead = s_decode_kv (s_base, BASE_SIZE);
    assert_non_null (lead);
    assert_string_equal (pp_lead_id (lead), "L1");
    assert_true (pp_lead_received_us (lead) == 256);
    assert_true (pp_lead_deadline_us (lead) == 512);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_missing_required_keys (void **state)
{
    const char *required[] = {"v", "t", "id", "rcv", "dl"};
    for (size_t i = 0; i < 5; i++) {
        s_log_begin ();
        pp_lead_t *lead = s_decode_without (required[i]);
        char *log = s_log_end ();
        if (lead)
            fail_msg ("a lead without '%s' was accepted", required[i]);
        char expected[64];
        snprintf (expected, sizeof (expected), "pp_lead: missing key '%s'", required[i]);
        if (!strstr (log, expected))
            fail_msg ("expected \"%s\" in the log, got \"%s\"", expected, log);
        free (log);
    }
}

static void
test_pp_lead_wrong_types_required (void **state)
{
    //  id: a string of 1..26 bytes without NUL.
    s_assert_rejected ("id", R ("\xc0"));
    s_assert_rejected ("id", R ("\x05"));
    s_assert_rejected ("id", R ("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"));
    s_assert_rejected ("id", R ("\x91\xa1"
                                "x"));
    s_assert_rejected ("id", R ("\x81\xa1"
                                "x\x01"));
    s_assert_rejected ("id", R ("\xc4\x02"
                                "L1"));
    s_assert_rejected ("id", R ("\xa0"));
    s_assert_rejected ("id", R ("\xbb"
                                "012345678901234567890123456"));
    s_assert_rejected ("id", R ("\xa3"
                                "L\x00"
                                "1"));
    //  rcv and dl: signed 64-bit integers.
    const char *times[] = {"rcv", "dl"};
    for (size_t i = 0; i < 2; i++) {
        s_assert_rejected (times[i], R ("\xc0"));
        s_assert_rejected (times[i], R ("\xc3"));
        s_assert_rejected (times[i], R ("\xa1"
                                        "1"));
        s_assert_rejected (times[i], R ("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"));
        s_assert_rejected (times[i], R ("\xca\x3f\xc0\x00\x00"));
        s_assert_rejected (times[i], R ("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"));
        s_assert_rejected (times[i], R ("\xcf\x80\x00\x00\x00\x00\x00\x00\x00"));
        s_assert_rejected (times[i], R ("\x90"));
        s_assert_rejected (times[i], R ("\x80"));
    }
}

static void
test_pp_lead_wrong_types_optional (void **state)
{
    s_assert_rejected ("rs", R ("\xa1"
                                "1"));
    s_assert_rejected ("rs", R ("\xce\x80\x00\x00\x00")); //  > INT_MAX
    s_assert_rejected ("rs", R ("\xc0"));
    s_assert_rejected ("pid", R ("\xff"));                                 //  -1
    s_assert_rejected ("pid", R ("\xcf\x00\x00\x00\x01\x00\x00\x00\x00")); //  2^32
    s_assert_rejected ("pid", R ("\xa1"
                                 "1"));
    const char *strings[] = {"pub", "src", "sub", "vt"};
    for (size_t i = 0; i < 4; i++) {
        s_assert_rejected (strings[i], R ("\x01"));
        s_assert_rejected (strings[i], R ("\xc0"));
        s_assert_rejected (strings[i], R ("\xc4\x01"
                                          "a"));
        s_assert_rejected (strings[i], R ("\xa3"
                                          "a\x00"
                                          "b"));
        s_assert_rejected (strings[i], R ("\x91\xa1"
                                          "a"));
    }
    s_assert_rejected ("tst", R ("\x01"));
    s_assert_rejected ("tst", R ("\xa4"
                                 "true"));
    s_assert_rejected ("tst", R ("\xc0"));
    const char *bags[] = {"f", "c", "s"};
    for (size_t i = 0; i < 3; i++) {
        s_assert_rejected (bags[i], R ("\x90"));
        s_assert_rejected (bags[i], R ("\xa1"
                                       "x"));
        s_assert_rejected (bags[i], R ("\xc0"));
        s_assert_rejected (bags[i], R ("\x81\x01\x01")); //  int name
        s_assert_rejected (bags[i], R ("\x81\xa1"
                                       "a"
                                       "\x91\x01")); //  array value
        s_assert_rejected (bags[i], R ("\x81\xa1"
                                       "a"
                                       "\x80")); //  map value
        s_assert_rejected (bags[i], R ("\x81\xa1"
                                       "a"
                                       "\xd4\x01\x02")); //  ext value
        s_assert_rejected (bags[i], R ("\x81\xa1"
                                       "a"
                                       "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"));
        s_assert_rejected (bags[i], R ("\x81\xa2"
                                       "a\x00"
                                       "\x01")); //  NUL in name
        s_assert_rejected (bags[i], R ("\x81\xa1"
                                       "a"
                                       "\xa2"
                                       "b\x00")); //  NUL in str
        s_assert_rejected (bags[i], R ("\x81\xa1"
                                       "a"
                                       "\xc4\x02"
                                       "{\x00")); //  NUL in JSON
        s_assert_rejected (bags[i], R ("\x82\xa1"
                                       "a"
                                       "\x01\xa1"
                                       "a"
                                       "\x02")); //  twice
    }
    s_assert_rejected ("el", R ("\x80"));
    s_assert_rejected ("el", R ("\x05"));
    s_assert_rejected ("el", R ("\x92\x01\xff"));
    s_assert_rejected ("el", R ("\x91\xcf\x00\x00\x00\x01\x00\x00\x00\x00"));
    s_assert_rejected ("el", R ("\x91\xa1"
                                "1"));
    s_assert_rejected ("bd", R ("\x80"));
    s_assert_rejected ("bd", R ("\x91\x01"));
    s_assert_rejected ("bd", R ("\x91\x92\x01\x02"));
    s_assert_rejected ("bd", R ("\x91\x82\xa1"
                                "b"
                                "\x01\xa1"
                                "a"
                                "\x01")); //  no c
    s_assert_rejected ("bd", R ("\x91\x82\xa1"
                                "c"
                                "\x01\xa1"
                                "a"
                                "\x01")); //  no b
    s_assert_rejected ("bd", R ("\x91\x82\xa1"
                                "c"
                                "\x01\xa1"
                                "b"
                                "\x01")); //  no a
    s_assert_rejected ("bd", R ("\x91\x83\xa1"
                                "c"
                                "\xff\xa1"
                                "b"
                                "\x01\xa1"
                                "a"
                                "\x01"));
    s_assert_rejected ("bd", R ("\x91\x83\xa1"
                                "c"
                                "\x01\xa1"
                                "b"
                                "\x01\xa1"
                                "a"
                                "\xa1"
                                "1"));
    s_assert_rejected ("bd", R ("\x91\x84\xa1"
                                "c"
                                "\x01\xa1"
                                "b"
                                "\x01\xa1"
                                "a"
                                "\x01"
                                "\xa2"
                                "tr"
                                "\xce\x80\x00\x00\x00"));
    s_assert_rejected ("bd", R ("\x91\x84\xa1"
                                "c"
                                "\x01\xa1"
                                "b"
                                "\x01\xa1"
                                "a"
                                "\x01"
                                "\xa1"
                                "x"
                                "\x01"));
    s_assert_rejected ("bd", R ("\x91\x84\xa1"
                                "c"
                                "\x01\xa1"
                                "b"
                                "\x01\xa1"
                                "a"
                                "\x01"
                                "\xa3"
                                "ref"
                                "\x01"));
    s_assert_rejected ("bd", R ("\x91\x84\xa1"
                                "c"
                                "\x01\xa1"
                                "b"
                                "\x01\xa1"
                                "a"
                                "\x01"
                                "\xa3"
                                "ref"
                                "\xa2"
                                "\x00"
                                "x"));
    s_assert_rejected ("bd", R ("\x91\x84\xa1"
                                "c"
                                "\x01\xa1"
                                "b"
                                "\x01\xa1"
                                "a"
                                "\x01"
                                "\xa1"
                                "c"
                                "\x02")); //  c twice
    s_assert_rejected ("ts", R ("\x80"));
    s_assert_rejected ("ts", R ("\x91\x92\x01\x00"));             //  2 elements
    s_assert_rejected ("ts", R ("\x91\x93\xcd\x01\x00\x00\x01")); //  stage 256
    s_assert_rejected ("ts", R ("\x91\x93\xff\x00\x01"));         //  stage -1
    s_assert_rejected ("ts", R ("\x91\x93\x01\x02\x01"));         //  out 2
    s_assert_rejected ("ts", R ("\x91\x93\x01\x00\xa1"
                                "x"));
    s_assert_rejected ("ts", R ("\x91\x81\xa1"
                                "a"
                                "\x01"));
    //  A known key twice.
    s_kv_t twice[BASE_SIZE + 1];
    memcpy (twice, s_base, sizeof (s_base));
    twice[BASE_SIZE] = (s_kv_t){"rcv", R ("\x01")};
    s_log_begin ();
    pp_lead_t *lead = s_decode_kv (twice, BASE_SIZE + 1);
    char *log = s_log_end ();
    assert_null (lead);
    assert_non_null (strstr (log, "pp_lead: duplicate key 'rcv'"));
    free (log);
}

static void
test_pp_lead_valid_optional_values (void **state)
{
    //  Accepted edge values, to prove the rejections above are about the value.
    pp_lead_t *lead = s_decode_with ("pid", R ("\xce\xff\xff\xff\xff"));
    assert_non_null (lead);
    assert_int_equal (pp_lead_publisher_id (lead), UINT32_MAX);
    pp_lead_destroy (&lead);
    lead = s_decode_with ("rs", R ("\xd2\x80\x00\x00\x00"));
    assert_non_null (lead);
    assert_int_equal (pp_lead_reply_slot (lead), INT_MIN);
    pp_lead_destroy (&lead);
    lead = s_decode_with ("id", R ("\xba"
                                   "01234567890123456789012345"));
    assert_non_null (lead);
    assert_string_equal (pp_lead_id (lead), "01234567890123456789012345");
    pp_lead_destroy (&lead);
    lead = s_decode_with ("rcv", R ("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"));
    assert_non_null (lead);
    assert_true (pp_lead_received_us (lead) == INT64_MIN);
    pp_lead_destroy (&lead);
    //  A float32 field value is read as a number.
    lead = s_decode_with ("f", R ("\x81\xa1"
                                  "a"
                                  "\xca\x3f\xc0\x00\x00"));
    assert_non_null (lead);
    assert_true (pp_fields_get (pp_lead_fields (lead), "a")->n == 1.5);
    pp_lead_destroy (&lead);
    //  Stamps may carry more than three elements.
    lead = s_decode_with ("ts", R ("\x91\x94\x02\x01\x07\xa1"
                                   "x"));
    assert_non_null (lead);
    assert_int_equal (pp_lead_stamp (lead, 0)->stage, 2);
    assert_int_equal (pp_lead_stamp (lead, 0)->out, 1);
    assert_true (pp_lead_stamp (lead, 0)->at_us == 7);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_unknown_keys_ignored (void **state)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 9);
    //  Unknown keys first, before even v and t.
    msgpack_pack_str (&pk, 6);
    msgpack_pack_str_body (&pk, "future", 6);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "x", 1);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_double (&pk, 1.5);
    msgpack_pack_nil (&pk);
    msgpack_pack_int (&pk, 42); //  a non-string key
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "y", 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "v", 1);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "t", 1);
    msgpack_pack_str (&pk, 4);
    msgpack_pack_str_body (&pk, "lead", 4);
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "id", 2);
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "abc", 3);
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "rcv", 3);
    msgpack_pack_int64 (&pk, 11);
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "dl", 2);
    msgpack_pack_int64 (&pk, 22);
    msgpack_pack_str (&pk, 3); //  "idx" is not "id"
    msgpack_pack_str_body (&pk, "idx", 3);
    msgpack_pack_bin (&pk, 2);
    msgpack_pack_bin_body (&pk, "\x00\x01", 2);
    //  A bid with an unknown key.
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "bd", 2);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_map (&pk, 4);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "c", 1);
    msgpack_pack_uint32 (&pk, 9);
    msgpack_pack_str (&pk, 5);
    msgpack_pack_str_body (&pk, "bonus", 5);
    msgpack_pack_array (&pk, 0);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "b", 1);
    msgpack_pack_uint32 (&pk, 3);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "a", 1);
    msgpack_pack_int64 (&pk, 1500);

    pp_lead_t *lead = pp_lead_decode_buf (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    assert_non_null (lead);
    assert_string_equal (pp_lead_id (lead), "abc");
    assert_true (pp_lead_received_us (lead) == 11);
    assert_true (pp_lead_deadline_us (lead) == 22);
    assert_int_equal (pp_lead_bid_size (lead), 1);
    assert_int_equal (pp_lead_bid (lead, 0)->campaign_id, 9);
    assert_int_equal (pp_lead_bid (lead, 0)->buyer_id, 3);
    assert_true (pp_lead_bid (lead, 0)->amount_cents == 1500);
    assert_null (pp_lead_bid (lead, 0)->bid_ref);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_version_checked (void **state)
{
    struct {
        const char *raw;
        size_t len;
        const char *log;
    } cases[] = {
        {R ("\x00"), "unsupported version 0"},
        {R ("\x02"), "unsupported version 2"},
        {R ("\xcd\x01\x00"), "unsupported version 256"},
        {R ("\xff"), "wrong type for key 'v'"},
        {R ("\xa1"
            "1"),
         "wrong type for key 'v'"},
        {R ("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"), "wrong type for key 'v'"},
        {R ("\xc0"), "wrong type for key 'v'"},
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
        s_log_begin ();
        pp_lead_t *lead = s_decode_with ("v", cases[i].raw, cases[i].len);
        char *log = s_log_end ();
        assert_null (lead);
        if (!strstr (log, cases[i].log))
            fail_msg ("expected \"%s\" in the log, got \"%s\"", cases[i].log, log);
        free (log);
    }
}

static void
test_pp_lead_type_checked (void **state)
{
    s_assert_rejected ("t", R ("\xa6"
                               "result"));
    s_assert_rejected ("t", R ("\xa5"
                               "leads"));
    s_assert_rejected ("t", R ("\xa0"));
    s_assert_rejected ("t", R ("\x01"));
    s_assert_rejected ("t", R ("\xc4\x04"
                               "lead"));
    //  A result frame is not a lead.
    s_kv_t kv[] = {{"v", R ("\x01")},
                   {"t", R ("\xa6"
                            "result")},
                   {"id", R ("\xa2"
                             "L1")},
                   {"st", R ("\x01")}};
    s_log_begin ();
    pp_lead_t *lead = s_decode_kv (kv, 4);
    char *log = s_log_end ();
    assert_null (lead);
    assert_non_null (strstr (log, "pp_lead: message is not of type 'lead'"));
    free (log);
}

static void
test_pp_lead_not_a_map (void **state)
{
    struct {
        const char *raw;
        size_t len;
    } cases[] = {
        {R ("\x90")},
        {R ("\x93\x01\x02\x03")},
        {R ("\x01")},
        {R ("\xc0")},
        {R ("\xa4"
            "lead")},
        {R ("\xc4\x01"
            "x")},
        {R ("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00")},
        {R ("\xd4\x01\x00")},
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
        s_log_begin ();
        pp_lead_t *lead = pp_lead_decode_buf (cases[i].raw, cases[i].len);
        char *log = s_log_end ();
        assert_null (lead);
        assert_non_null (strstr (log, "pp_lead: not a map"));
        free (log);
    }
    s_log_begin ();
    assert_null (pp_lead_decode_buf ("", 0));
    assert_null (pp_lead_decode_buf (NULL, 0));
    assert_null (pp_lead_decode (NULL));
    zframe_t *empty = zframe_new_empty ();
    assert_null (pp_lead_decode (empty));
    zframe_destroy (&empty);
    //  0xc1 is never used in msgpack.
    assert_null (pp_lead_decode_buf ("\xc1", 1));
    assert_null (pp_lead_decode_buf ("\x81\xc1\x01", 3));
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), 6);
    free (log);
}

//  Frames that declare far more than they hold; each must be rejected
//  without the unpacker reserving the declared size.
static void
test_pp_lead_hostile_lengths (void **state)
{
    struct {
        const char *raw;
        size_t len;
    } cases[] = {
        {R ("\xdd\xff\xff\xff\xff")}, //  array32 of 4 billion
        {R ("\xdf\xff\xff\xff\xff")}, //  map32 of 4 billion
        {R ("\xdc\xff\xff")},
        {R ("\xde\xff\xff\x00")},
        {R ("\xdb\xff\xff\xff\xff"
            "abc")}, //  str32
        {R ("\xc6\xff\xff\xff\xff"
            "abc")}, //  bin32
        {R ("\xc9\xff\xff\xff\xff\x01"
            "abc")}, //  ext32
        {R ("\x85\xa1"
            "v\x01\xa1"
            "t\xa4"
            "lead\xa2"
            "id\xa2"
            "L1\xa3"
            "rcv\x01\xa2"
            "el\xdd\x7f\xff\xff\xff")},
        {R ("\x86\xa1"
            "v\x01\xa1"
            "t\xa4"
            "lead\xa2"
            "id\xa2"
            "L1\xa3"
            "rcv\x01\xa2"
            "dl\x01\xa1"
            "f\xdf\x0f\xff\xff\xff\xa1"
            "a\x01")},
    };
    s_log_begin ();
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
        //  The structure scan refuses them before msgpack-c sees them.
        size_t used = 0;
        assert_non_null (pp_wire_scan ((const uint8_t *) cases[i].raw, cases[i].len, &used));
        assert_null (pp_lead_decode_buf (cases[i].raw, cases[i].len));
    }
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), sizeof (cases) / sizeof (cases[0]));
    free (log);

    //  A real frame scans to its exact length.
    pp_lead_t *lead = s_full_lead (2);
    zframe_t *frame = pp_lead_encode (lead);
    size_t used = 0;
    assert_null (pp_wire_scan (zframe_data (frame), zframe_size (frame), &used));
    assert_int_equal (used, zframe_size (frame));
    zframe_destroy (&frame);
    pp_lead_destroy (&lead);
}

static void
test_pp_lead_deep_nesting (void **state)
{
    //  An unknown key holding arrays nested 20 deep is fine; 100 000 deep
    //  is rejected, not a stack overflow.
    size_t depths[] = {20, 100000};
    for (size_t d = 0; d < 2; d++) {
        size_t depth = depths[d];
        char *nested = (char *) malloc (depth + 1);
        memset (nested, 0x91, depth);
        nested[depth] = (char) 0xc0;
        s_log_begin ();
        pp_lead_t *lead = s_decode_with ("deep", nested, depth + 1);
        char *log = s_log_end ();
        if (d == 0) {
            assert_non_null (lead);
            assert_int_equal (s_count_lines (log), 0);
        } else {
            assert_null (lead);
            assert_int_equal (s_count_lines (log), 1);
        }
        pp_lead_destroy (&lead);
        free (log);
        free (nested);
    }
}

static void
test_pp_lead_one_line_per_reject (void **state)
{
    s_log_begin ();
    pp_lead_t *lead = s_decode_with ("dl", R ("\xa1"
                                              "x"));
    char *log = s_log_end ();
    assert_null (lead);
    assert_int_equal (s_count_lines (log), 1);
    assert_non_null (strstr (log, "pp_lead: wrong type or value for key 'dl'"));
    free (log);
}

static void
test_pp_lead_send_recv (void **state)
{
    zsock_t *pull = zsock_new_pull ("inproc://test-pp-lead");
    zsock_t *push = zsock_new_push ("inproc://test-pp-lead");
    assert_non_null (pull);
    assert_non_null (push);
    zsock_set_rcvtimeo (pull, 2000);

    pp_lead_t *lead = s_full_lead (3);
    assert_int_equal (pp_lead_send (lead, push, 0), 0);
    pp_lead_t *got = pp_lead_recv (pull);
    assert_non_null (got);
    s_assert_leads_eq (lead, got);
    pp_lead_destroy (&got);

    //  Raw libzmq handles work as well, and flags pass through.
    assert_int_equal (pp_lead_send (lead, zsock_resolve (push), ZMQ_DONTWAIT), 0);
    got = pp_lead_recv (zsock_resolve (pull));
    assert_non_null (got);
    s_assert_leads_eq (lead, got);
    pp_lead_destroy (&got);

    //  A malformed message and a multipart one are dropped (logged), and the
    //  lead after them still arrives.
    zstr_send (push, "not msgpack");
    zstr_sendm (push, "part one");
    zstr_send (push, "part two");
    assert_int_equal (pp_lead_send (lead, push, 0), 0);
    s_log_begin ();
    assert_null (pp_lead_recv (pull));
    assert_null (pp_lead_recv (pull));
    char *log = s_log_end ();
    assert_non_null (strstr (log, "pp_lead: multipart message rejected"));
    assert_int_equal (s_count_lines (log), 2);
    free (log);
    got = pp_lead_recv (pull);
    assert_non_null (got);
    assert_string_equal (pp_lead_id (got), pp_lead_id (lead));
    pp_lead_destroy (&got);

    //  Nothing waiting: the receive times out and returns NULL.
    zsock_set_rcvtimeo (pull, 10);
    assert_null (pp_lead_recv (pull));

    pp_lead_destroy (&lead);
    zsock_destroy (&push);
    zsock_destroy (&pull);
}

static void
test_pp_lead_send_without_peer (void **state)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert_non_null (push);
    pp_lead_t *lead = pp_lead_new ("L1");
    errno = 0;
    assert_int_equal (pp_lead_send (lead, push, ZMQ_DONTWAIT), -1);
    assert_int_equal (errno, EAGAIN);
    pp_lead_destroy (&lead);
    zsock_destroy (&push);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_pp_lead_stage_code_name),
        cmocka_unit_test (test_pp_lead_new_checks_id),
        cmocka_unit_test (test_pp_lead_defaults_and_setters),
        cmocka_unit_test (test_pp_lead_lists),
        cmocka_unit_test (test_pp_lead_round_trip_full),
        cmocka_unit_test (test_pp_lead_round_trip_minimal),
        cmocka_unit_test (test_pp_lead_round_trip_large),
        cmocka_unit_test (test_pp_lead_decoded_bags_modifiable),
        cmocka_unit_test (test_pp_lead_truncated_every_length),
        cmocka_unit_test (test_pp_lead_trailing_bytes_rejected),
        cmocka_unit_test (test_pp_lead_base_frame_decodes),
        cmocka_unit_test (test_pp_lead_missing_required_keys),
        cmocka_unit_test (test_pp_lead_wrong_types_required),
        cmocka_unit_test (test_pp_lead_wrong_types_optional),
        cmocka_unit_test (test_pp_lead_valid_optional_values),
        cmocka_unit_test (test_pp_lead_unknown_keys_ignored),
        cmocka_unit_test (test_pp_lead_version_checked),
        cmocka_unit_test (test_pp_lead_type_checked),
        cmocka_unit_test (test_pp_lead_not_a_map),
        cmocka_unit_test (test_pp_lead_hostile_lengths),
        cmocka_unit_test (test_pp_lead_deep_nesting),
        cmocka_unit_test (test_pp_lead_one_line_per_reject),
        cmocka_unit_test (test_pp_lead_send_recv),
        cmocka_unit_test (test_pp_lead_codec_reuse),
        cmocka_unit_test (test_pp_lead_send_without_peer),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
