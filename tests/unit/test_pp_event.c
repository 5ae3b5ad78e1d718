/*  test_pp_event - ledger events, event batches and acknowledgments  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <msgpack.h>
#include "pp_event.h"
#include "pp_lead.h"

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

#define R(literal) literal, sizeof (literal) - 1

typedef struct {
    const char *key; //  map key, packed as a str
    const char *raw; //  the value, raw msgpack bytes
    size_t len;      //  bytes of raw
} s_kv_t;

//  Pack a map of raw values into sbuf (initialised here).
static void
s_pack_map (msgpack_sbuffer *sbuf, const s_kv_t *kv, size_t count)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_str (&pk, strlen (kv[i].key));
        msgpack_pack_str_body (&pk, kv[i].key, strlen (kv[i].key));
        msgpack_sbuffer_write (sbuf, kv[i].raw, kv[i].len);
    }
}

//  One valid event, as raw map entries.
static const s_kv_t s_event_base[] = {
    {"id", R ("\xa4"
              "L1.1")},
    {"ld", R ("\xa2"
              "L1")},
    {"k", R ("\xa3"
             "bid")},
    {"sg", R ("\x04")},
    {"at", R ("\xcd\x01\x00")},
};
#define EVENT_BASE_SIZE (sizeof (s_event_base) / sizeof (s_event_base[0]))

//  Decode a batch of one valid event, then one event with `key` set to raw
//  (replaced or added), or removed (raw NULL).
static pp_events_t *
s_decode_event_with (const char *key, const char *raw, size_t len)
{
    s_kv_t kv[EVENT_BASE_SIZE + 1];
    size_t count = 0;
    bool replaced = false;
    for (size_t i = 0; i < EVENT_BASE_SIZE; i++) {
        if (streq (s_event_base[i].key, key)) {
            replaced = true;
            if (raw)
                kv[count++] = (s_kv_t){key, raw, len};
        } else
            kv[count++] = s_event_base[i];
    }
    if (!replaced && raw)
        kv[count++] = (s_kv_t){key, raw, len};

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "v", 1);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "t", 1);
    msgpack_pack_str (&pk, 6);
    msgpack_pack_str_body (&pk, "events", 6);
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "ev", 2);
    msgpack_pack_array (&pk, 2);
    s_pack_map (&sbuf, s_event_base, EVENT_BASE_SIZE);
    s_pack_map (&sbuf, kv, count);
    pp_events_t *events = pp_events_decode_buf (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return events;
}

static void
s_assert_event_rejected (const char *key, const char *raw, size_t len, const char *expected)
{
    s_log_begin ();
    pp_events_t *events = s_decode_event_with (key, raw, len);
    char *log = s_log_end ();
    if (events)
        fail_msg ("event key '%s' with a bad value (%zu bytes) was accepted", key, len);
    assert_int_equal (s_count_lines (log), 1);
    if (!strstr (log, expected))
        fail_msg ("expected \"%s\" in the log, got \"%s\"", expected, log);
    free (log);
}

static pp_event_t *
s_full_event (int n)
{
    char id[PP_EVENT_ID_MAX + 1];
    snprintf (id, sizeof (id), "01JD5Z6W9X3K8M2N4P6Q8R0S2T.4abcd%d", n);
    pp_event_t *event = pp_event_new (id, "01JD5Z6W9X3K8M2N4P6Q8R0S2T", "sold", PP_STAGE_DELIVER,
                                      1764410321123456 + n);
    assert_non_null (event);
    pp_event_set_campaign (event, (uint32_t) n + 1, UINT32_MAX);
    pp_event_set_amount_cents (event, 2500);
    pp_event_set_payout_cents (event, -2000);
    pp_event_set_latency_us (event, 0);
    pp_event_set_code (event, "accepted");
    pp_event_set_detail (event, "{\"buyer_ref\":\"ABC-☀\",\"n\":[1,2]}");
    return event;
}

static void
s_assert_events_eq (const pp_event_t *a, const pp_event_t *b)
{
    assert_string_equal (pp_event_id (a), pp_event_id (b));
    assert_string_equal (pp_event_lead_id (a), pp_event_lead_id (b));
    assert_string_equal (pp_event_kind (a), pp_event_kind (b));
    assert_int_equal (pp_event_stage (a), pp_event_stage (b));
    assert_true (pp_event_at_us (a) == pp_event_at_us (b));
    assert_int_equal (pp_event_campaign_id (a), pp_event_campaign_id (b));
    assert_int_equal (pp_event_buyer_id (a), pp_event_buyer_id (b));
    assert_true (pp_event_amount_cents (a) == pp_event_amount_cents (b));
    assert_true (pp_event_payout_cents (a) == pp_event_payout_cents (b));
    assert_true (pp_event_latency_us (a) == pp_event_latency_us (b));
    assert_string_equal (pp_event_code (a), pp_event_code (b));
    assert_string_equal (pp_event_detail (a), pp_event_detail (b));
}

//  --------------------------------------------------------------------------

static void
test_pp_event_new_checks_arguments (void **state)
{
    char long_id[PP_EVENT_ID_MAX + 2];
    memset (long_id, 'e', sizeof (long_id) - 1);
    long_id[sizeof (long_id) - 1] = '\0'; //  64 bytes
    assert_null (pp_event_new (long_id, "L1", "bid", 4, 0));
    long_id[PP_EVENT_ID_MAX] = '\0'; //  63 bytes
    pp_event_t *event = pp_event_new (long_id, "L1", "bid", 4, 0);
    assert_non_null (event);
    assert_string_equal (pp_event_id (event), long_id);
    pp_event_destroy (&event);
    assert_null (event);
    pp_event_destroy (&event);

    assert_null (pp_event_new (NULL, "L1", "bid", 4, 0));
    assert_null (pp_event_new ("", "L1", "bid", 4, 0));
    assert_null (pp_event_new ("e", NULL, "bid", 4, 0));
    assert_null (pp_event_new ("e", "", "bid", 4, 0));
    assert_null (pp_event_new ("e", "0123456789012345678901234567", "bid", 4, 0));
    assert_null (pp_event_new ("e", "L1", NULL, 4, 0));
    assert_null (pp_event_new ("e", "L1", "", 4, 0));
    assert_null (pp_event_new ("e", "L1", "a_kind_name_that_is_far_too_long", 4, 0));
    assert_null (pp_event_new ("e", "L1", "bid", -1, 0));
    assert_null (pp_event_new ("e", "L1", "bid", 256, 0));
}

static void
test_pp_event_accessors (void **state)
{
    pp_event_t *event = pp_event_new ("L1.4x1", "L1", "decline", PP_STAGE_AUCTION, -7);
    assert_string_equal (pp_event_id (event), "L1.4x1");
    assert_string_equal (pp_event_lead_id (event), "L1");
    assert_string_equal (pp_event_kind (event), "decline");
    assert_int_equal (pp_event_stage (event), PP_STAGE_AUCTION);
    assert_true (pp_event_at_us (event) == -7);
    //  Defaults.
    assert_int_equal (pp_event_campaign_id (event), 0);
    assert_int_equal (pp_event_buyer_id (event), 0);
    assert_true (pp_event_amount_cents (event) == 0);
    assert_true (pp_event_payout_cents (event) == 0);
    assert_true (pp_event_latency_us (event) == -1);
    assert_string_equal (pp_event_code (event), "");
    assert_string_equal (pp_event_detail (event), "");
    //  Setters.
    pp_event_set_campaign (event, 12, 34);
    assert_int_equal (pp_event_campaign_id (event), 12);
    assert_int_equal (pp_event_buyer_id (event), 34);
    pp_event_set_amount_cents (event, 1999);
    pp_event_set_payout_cents (event, 1500);
    pp_event_set_latency_us (event, 850);
    assert_true (pp_event_amount_cents (event) == 1999);
    assert_true (pp_event_payout_cents (event) == 1500);
    assert_true (pp_event_latency_us (event) == 850);
    pp_event_set_code (event, "timeout");
    assert_string_equal (pp_event_code (event), "timeout");
    pp_event_set_code (event, "http_5xx");
    assert_string_equal (pp_event_code (event), "http_5xx");
    pp_event_set_code (event, NULL);
    assert_string_equal (pp_event_code (event), "");
    pp_event_set_detail (event, "{\"a\":1}");
    assert_string_equal (pp_event_detail (event), "{\"a\":1}");
    pp_event_set_detail (event, "");
    assert_string_equal (pp_event_detail (event), "");
    pp_event_destroy (&event);
}

static void
test_pp_event_dup (void **state)
{
    pp_event_t *event = s_full_event (1);
    pp_event_t *copy = pp_event_dup (event);
    assert_non_null (copy);
    s_assert_events_eq (event, copy);
    assert_ptr_not_equal (pp_event_detail (event), pp_event_detail (copy));
    pp_event_set_code (event, "changed");
    assert_string_equal (pp_event_code (copy), "accepted");
    pp_event_destroy (&event);
    assert_string_equal (pp_event_detail (copy), "{\"buyer_ref\":\"ABC-☀\",\"n\":[1,2]}");
    pp_event_destroy (&copy);
    //  Without optional strings.
    event = pp_event_new ("e", "L", "received", 1, 0);
    copy = pp_event_dup (event);
    s_assert_events_eq (event, copy);
    pp_event_destroy (&event);
    pp_event_destroy (&copy);
}

static void
test_pp_event_batch (void **state)
{
    pp_events_t *events = pp_events_new ();
    assert_int_equal (pp_events_size (events), 0);
    for (int i = 0; i < 100; i++) {
        pp_event_t *event = s_full_event (i);
        pp_events_append (events, &event);
        assert_null (event);
    }
    assert_int_equal (pp_events_size (events), 100);
    assert_true (pp_event_at_us (pp_events_get (events, 42)) == 1764410321123456 + 42);
    pp_events_destroy (&events);
    assert_null (events);
    pp_events_destroy (&events);
}

static void
test_pp_event_round_trip (void **state)
{
    pp_events_t *events = pp_events_new ();
    for (int i = 0; i < 20; i++) {
        pp_event_t *event = s_full_event (i);
        pp_events_append (events, &event);
    }
    //  One with every optional member at its default, one at the extremes.
    pp_event_t *plain = pp_event_new ("p", "L2", "received", PP_STAGE_INTAKE, 0);
    pp_events_append (events, &plain);
    pp_event_t *extreme = pp_event_new ("x", "L3", "unsold", 255, INT64_MIN);
    pp_event_set_campaign (extreme, UINT32_MAX, 1);
    pp_event_set_amount_cents (extreme, INT64_MAX);
    pp_event_set_payout_cents (extreme, INT64_MIN);
    pp_event_set_latency_us (extreme, INT64_MAX);
    pp_events_append (events, &extreme);

    zframe_t *frame = pp_events_encode (events);
    assert_non_null (frame);
    pp_events_t *copy = pp_events_decode (frame);
    assert_non_null (copy);
    assert_int_equal (pp_events_size (copy), 22);
    for (size_t i = 0; i < 22; i++)
        s_assert_events_eq (pp_events_get (events, i), pp_events_get (copy, i));
    zframe_t *again = pp_events_encode (copy);
    assert_true (zframe_eq (frame, again));
    zframe_destroy (&again);
    zframe_destroy (&frame);
    pp_events_destroy (&copy);
    pp_events_destroy (&events);

    //  An empty batch.
    events = pp_events_new ();
    frame = pp_events_encode (events);
    copy = pp_events_decode (frame);
    assert_non_null (copy);
    assert_int_equal (pp_events_size (copy), 0);
    zframe_destroy (&frame);
    pp_events_destroy (&copy);
    pp_events_destroy (&events);
}

static void
test_pp_event_truncated_every_length (void **state)
{
    pp_events_t *events = pp_events_new ();
    for (int i = 0; i < 3; i++) {
        pp_event_t *event = s_full_event (i);
        pp_events_append (events, &event);
    }
    zframe_t *frame = pp_events_encode (events);
    size_t size = zframe_size (frame);
    s_log_begin ();
    for (size_t len = 0; len < size; len++) {
        void *part = malloc (len ? len : 1);
        memcpy (part, zframe_data (frame), len);
        pp_events_t *decoded = pp_events_decode_buf (part, len);
        free (part);
        if (decoded)
            fail_msg ("a batch truncated to %zu of %zu bytes was accepted", len, size);
    }
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), size);
    free (log);
    zframe_destroy (&frame);
    pp_events_destroy (&events);

    pp_ack_t *ack = pp_ack_new ();
    pp_ack_append (ack, "a.1");
    pp_ack_append (ack, "b.2");
    frame = pp_ack_encode (ack);
    size = zframe_size (frame);
    s_log_begin ();
    for (size_t len = 0; len < size; len++) {
        void *part = malloc (len ? len : 1);
        memcpy (part, zframe_data (frame), len);
        pp_ack_t *decoded = pp_ack_decode_buf (part, len);
        free (part);
        if (decoded)
            fail_msg ("an ack truncated to %zu of %zu bytes was accepted", len, size);
    }
    log = s_log_end ();
    assert_int_equal (s_count_lines (log), size);
    free (log);
    zframe_destroy (&frame);
    pp_ack_destroy (&ack);
}

static void
test_pp_event_base_batch_decodes (void **state)
{
    //  Guards the tests below: the hand-built batch is valid.
    pp_events_t *events = s_decode_event_with ("cp", R ("\x07"));
    assert_non_null (events);
    assert_int_equal (pp_events_size (events), 2);
    pp_event_t *event = pp_events_get (events, 1);
    assert_string_equal (pp_event_id (event), "L1.1");
    assert_string_equal (pp_event_lead_id (event), "L1");
    assert_string_equal (pp_event_kind (event), "bid");
    assert_int_equal (pp_event_stage (event), 4);
    assert_true (pp_event_at_us (event) == 256);
    assert_int_equal (pp_event_campaign_id (event), 7);
    assert_true (pp_event_latency_us (event) == -1);
    pp_events_destroy (&events);
}

static void
test_pp_event_missing_keys (void **state)
{
    const char *required[] = {"id", "ld", "k", "sg", "at"};
    for (size_t i = 0; i < 5; i++) {
        char expected[64];
        snprintf (expected, sizeof (expected), "pp_events: event misses key '%s'", required[i]);
        s_assert_event_rejected (required[i], NULL, 0, expected);
    }
}

static void
test_pp_event_wrong_types (void **state)
{
    const char *bad = "wrong type or value in an event";
    s_assert_event_rejected ("id", R ("\x01"), bad);
    s_assert_event_rejected ("id", R ("\xa0"), bad);
    s_assert_event_rejected ("id",
                             R ("\xa3"
                                "a\x00"
                                "b"),
                             bad);
    s_assert_event_rejected ("id",
                             R ("\xd9\x40"
                                "0123456789012345678901234567890123456789"
                                "012345678901234567890123"),
                             bad); //  64 bytes
    s_assert_event_rejected ("ld", R ("\xc0"), bad);
    s_assert_event_rejected ("ld",
                             R ("\xbb"
                                "012345678901234567890123456"),
                             bad);
    s_assert_event_rejected ("k",
                             R ("\xc4\x03"
                                "bid"),
                             bad);
    s_assert_event_rejected ("k", R ("\xa0"), bad);
    s_assert_event_rejected ("sg",
                             R ("\xa1"
                                "4"),
                             bad);
    s_assert_event_rejected ("sg", R ("\xff"), bad);
    s_assert_event_rejected ("sg", R ("\xcd\x01\x00"), bad);
    s_assert_event_rejected ("at", R ("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"), bad);
    s_assert_event_rejected ("at", R ("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), bad);
    s_assert_event_rejected ("cp", R ("\xff"), bad);
    s_assert_event_rejected ("cp", R ("\xcf\x00\x00\x00\x01\x00\x00\x00\x00"), bad);
    s_assert_event_rejected ("by",
                             R ("\xa1"
                                "1"),
                             bad);
    s_assert_event_rejected ("am", R ("\xcb\x40\x29\x00\x00\x00\x00\x00\x00"), bad);
    s_assert_event_rejected ("po", R ("\xc0"), bad);
    s_assert_event_rejected ("lat", R ("\xc2"), bad);
    s_assert_event_rejected ("cd", R ("\x01"), bad);
    s_assert_event_rejected ("cd",
                             R ("\xa2"
                                "\x00"
                                "x"),
                             bad);
    s_assert_event_rejected ("dt", R ("\x80"), bad);
    s_assert_event_rejected ("dt",
                             R ("\xc4\x02"
                                "{}"),
                             bad);
}

static void
test_pp_event_batch_envelope (void **state)
{
    struct {
        const char *raw;
        size_t len;
        const char *log;
    } cases[] = {
        {R ("\x82\xa1"
            "v\x01\xa1"
            "t\xa6"
            "events"),
         "pp_events: missing key 'ev'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa6"
            "events\xa2"
            "ev\x80"),
         "pp_events: wrong type for key 'ev'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa6"
            "events\xa2"
            "ev\x91\x01"),
         "pp_events: event is not a map"},
        {R ("\x84\xa1"
            "v\x01\xa1"
            "t\xa6"
            "events\xa2"
            "ev\x90\xa2"
            "ev\x90"),
         "pp_events: duplicate key 'ev'"},
        {R ("\x83\xa1"
            "v\x02\xa1"
            "t\xa6"
            "events\xa2"
            "ev\x90"),
         "pp_events: unsupported version 2"},
        {R ("\x82\xa1"
            "t\xa6"
            "events\xa2"
            "ev\x90"),
         "pp_events: missing key 'v'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa3"
            "ack\xa2"
            "ev\x90"),
         "pp_events: message is not of type 'events'"},
        {R ("\x82\xa1"
            "v\x01\xa2"
            "ev\x90"),
         "pp_events: missing key 't'"},
        {R ("\x91\x01"), "pp_events: not a map"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa6"
            "events\xa2"
            "ev\x91\x86"
            "\xa2"
            "id\xa1"
            "a"
            "\xa2"
            "ld\xa1"
            "L"
            "\xa1"
            "k\xa1"
            "x"
            "\xa2"
            "sg\x01"
            "\xa2"
            "at\x01"
            "\xa2"
            "id\xa1"
            "b"),
         "pp_events: duplicate key in an event 'id'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa6"
            "events\xa2"
            "ev\xdd\x7f\xff\xff\xff"),
         "pp_events: truncated input"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa6"
            "events\xa2"
            "ev\x90\x00"),
         "pp_events: trailing bytes"},
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
        s_log_begin ();
        pp_events_t *events = pp_events_decode_buf (cases[i].raw, cases[i].len);
        char *log = s_log_end ();
        assert_null (events);
        assert_int_equal (s_count_lines (log), 1);
        if (!strstr (log, cases[i].log))
            fail_msg ("case %zu: expected \"%s\" in the log, got \"%s\"", i, cases[i].log, log);
        free (log);
    }
    //  A valid empty batch with unknown keys around.
    pp_events_t *events = pp_events_decode_buf (R ("\x85\xa1"
                                                   "x\x90\xa1"
                                                   "v\x01\xa1"
                                                   "t\xa6"
                                                   "events\xa2"
                                                   "ev\x90\x01\xc0"));
    assert_non_null (events);
    assert_int_equal (pp_events_size (events), 0);
    pp_events_destroy (&events);
    s_log_begin ();
    assert_null (pp_events_decode (NULL));
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), 1);
    free (log);
}

static void
test_pp_event_unknown_keys_ignored (void **state)
{
    pp_events_t *events = s_decode_event_with ("future", R ("\x82\xa1"
                                                            "a\x90\xa1"
                                                            "b\xc0"));
    assert_non_null (events);
    assert_int_equal (pp_events_size (events), 2);
    assert_string_equal (pp_event_kind (pp_events_get (events, 1)), "bid");
    pp_events_destroy (&events);
}

static void
test_pp_event_ack (void **state)
{
    pp_ack_t *ack = pp_ack_new ();
    assert_int_equal (pp_ack_size (ack), 0);
    char id[PP_EVENT_ID_MAX + 1];
    for (int i = 0; i < 500; i++) {
        snprintf (id, sizeof (id), "01JD5Z6W9X3K8M2N4P6Q8R0S2T.4abcd%d", i);
        pp_ack_append (ack, id);
    }
    memset (id, 'z', PP_EVENT_ID_MAX);
    id[PP_EVENT_ID_MAX] = '\0';
    pp_ack_append (ack, id);
    assert_int_equal (pp_ack_size (ack), 501);
    assert_string_equal (pp_ack_get (ack, 7), "01JD5Z6W9X3K8M2N4P6Q8R0S2T.4abcd7");

    zframe_t *frame = pp_ack_encode (ack);
    pp_ack_t *copy = pp_ack_decode (frame);
    assert_non_null (copy);
    assert_int_equal (pp_ack_size (copy), 501);
    for (size_t i = 0; i < 501; i++)
        assert_string_equal (pp_ack_get (ack, i), pp_ack_get (copy, i));
    zframe_destroy (&frame);
    pp_ack_destroy (&copy);
    pp_ack_destroy (&ack);
    assert_null (ack);
    pp_ack_destroy (&ack);

    //  Empty ack.
    ack = pp_ack_new ();
    frame = pp_ack_encode (ack);
    copy = pp_ack_decode (frame);
    assert_non_null (copy);
    assert_int_equal (pp_ack_size (copy), 0);
    zframe_destroy (&frame);
    pp_ack_destroy (&copy);
    pp_ack_destroy (&ack);
}

static void
test_pp_event_ack_rejects (void **state)
{
    struct {
        const char *raw;
        size_t len;
        const char *log;
    } cases[] = {
        {R ("\x82\xa1"
            "v\x01\xa1"
            "t\xa3"
            "ack"),
         "pp_ack: missing key 'ids'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa3"
            "ack\xa3"
            "ids\xa1"
            "x"),
         "pp_ack: wrong type for key 'ids'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa3"
            "ack\xa3"
            "ids\x91\x01"),
         "pp_ack: wrong type or value in key 'ids'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa3"
            "ack\xa3"
            "ids\x91\xa0"),
         "pp_ack: wrong type or value in key 'ids'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa3"
            "ack\xa3"
            "ids\x91\xa2"
            "a\x00"),
         "pp_ack: wrong type or value in key 'ids'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa3"
            "ack\xa3"
            "ids\x91\xd9\x40"
            "0123456789012345678901234567890123456789012345678901234567890123"),
         "pp_ack: wrong type or value in key 'ids'"},
        {R ("\x84\xa1"
            "v\x01\xa1"
            "t\xa3"
            "ack\xa3"
            "ids\x90\xa3"
            "ids\x90"),
         "pp_ack: duplicate key 'ids'"},
        {R ("\x83\xa1"
            "v\x01\xa1"
            "t\xa6"
            "events\xa3"
            "ids\x90"),
         "pp_ack: message is not of type 'ack'"},
        {R ("\x83\xa1"
            "v\x00\xa1"
            "t\xa3"
            "ack\xa3"
            "ids\x90"),
         "pp_ack: unsupported version 0"},
        {R ("\xa3"
            "ack"),
         "pp_ack: not a map"},
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
        s_log_begin ();
        pp_ack_t *ack = pp_ack_decode_buf (cases[i].raw, cases[i].len);
        char *log = s_log_end ();
        assert_null (ack);
        assert_int_equal (s_count_lines (log), 1);
        if (!strstr (log, cases[i].log))
            fail_msg ("case %zu: expected \"%s\" in the log, got \"%s\"", i, cases[i].log, log);
        free (log);
    }
    //  Unknown keys are ignored.
    pp_ack_t *ack = pp_ack_decode_buf (R ("\x84\xa1"
                                          "v\x01\xa1"
                                          "t\xa3"
                                          "ack\xa3"
                                          "ids\x91\xa1"
                                          "e\xa4"
                                          "more\x81\x01\x02"));
    assert_non_null (ack);
    assert_int_equal (pp_ack_size (ack), 1);
    assert_string_equal (pp_ack_get (ack, 0), "e");
    pp_ack_destroy (&ack);
    s_log_begin ();
    assert_null (pp_ack_decode (NULL));
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), 1);
    free (log);
}

static void
test_pp_event_over_sockets (void **state)
{
    //  Events and acks have no send/recv of their own: they travel as frames
    //  (DEALER/ROUTER envelopes belong to the outbox and the ledger).
    zsock_t *pull = zsock_new_pull ("inproc://test-pp-event");
    zsock_t *push = zsock_new_push ("inproc://test-pp-event");
    zsock_set_rcvtimeo (pull, 2000);
    pp_events_t *events = pp_events_new ();
    pp_event_t *event = s_full_event (9);
    pp_events_append (events, &event);
    zframe_t *frame = pp_events_encode (events);
    assert_int_equal (zframe_send (&frame, push, 0), 0);
    frame = zframe_recv (pull);
    assert_non_null (frame);
    pp_events_t *got = pp_events_decode (frame);
    assert_non_null (got);
    s_assert_events_eq (pp_events_get (events, 0), pp_events_get (got, 0));
    zframe_destroy (&frame);
    pp_events_destroy (&got);
    pp_events_destroy (&events);
    zsock_destroy (&push);
    zsock_destroy (&pull);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_pp_event_new_checks_arguments),
        cmocka_unit_test (test_pp_event_accessors),
        cmocka_unit_test (test_pp_event_dup),
        cmocka_unit_test (test_pp_event_batch),
        cmocka_unit_test (test_pp_event_round_trip),
        cmocka_unit_test (test_pp_event_truncated_every_length),
        cmocka_unit_test (test_pp_event_base_batch_decodes),
        cmocka_unit_test (test_pp_event_missing_keys),
        cmocka_unit_test (test_pp_event_wrong_types),
        cmocka_unit_test (test_pp_event_batch_envelope),
        cmocka_unit_test (test_pp_event_unknown_keys_ignored),
        cmocka_unit_test (test_pp_event_ack),
        cmocka_unit_test (test_pp_event_ack_rejects),
        cmocka_unit_test (test_pp_event_over_sockets),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
