/*  test_pp_result - the result codec and status names  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <msgpack.h>
#include "pp_result.h"
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

//  --------------------------------------------------------------------------
//  Hand-built frames: a map of keys, each with a raw msgpack value.

#define R(literal) literal, sizeof (literal) - 1

typedef struct {
    const char *key; //  map key, packed as a str
    const char *raw; //  the value, raw msgpack bytes
    size_t len;      //  bytes of raw
} s_kv_t;

//  The smallest valid result: v, t, id, st.
static const s_kv_t s_base[] = {
    {"v", R ("\x01")},
    {"t", R ("\xa6"
             "result")},
    {"id", R ("\xa2"
              "L1")},
    {"st", R ("\x02")},
};
#define BASE_SIZE (sizeof (s_base) / sizeof (s_base[0]))

static pp_result_t *
s_decode_kv (const s_kv_t *kv, size_t count)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_str (&pk, strlen (kv[i].key));
        msgpack_pack_str_body (&pk, kv[i].key, strlen (kv[i].key));
        msgpack_sbuffer_write (&sbuf, kv[i].raw, kv[i].len);
    }
    pp_result_t *result = pp_result_decode_buf (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return result;
}

//  The base frame with `key` set to raw (replaced or added), or without it (raw NULL).
static pp_result_t *
s_decode_with (const char *key, const char *raw, size_t len)
{
    s_kv_t kv[BASE_SIZE + 1];
    size_t count = 0;
    bool replaced = false;
    for (size_t i = 0; i < BASE_SIZE; i++) {
        if (streq (s_base[i].key, key)) {
            replaced = true;
            if (raw)
                kv[count++] = (s_kv_t){key, raw, len};
        } else
            kv[count++] = s_base[i];
    }
    if (!replaced && raw)
        kv[count++] = (s_kv_t){key, raw, len};
    return s_decode_kv (kv, count);
}

static void
s_assert_rejected (const char *key, const char *raw, size_t len, const char *expected)
{
    s_log_begin ();
    pp_result_t *result = s_decode_with (key, raw, len);
    char *log = s_log_end ();
    if (result)
        fail_msg ("key '%s' with a bad value (%zu bytes) was accepted", key, len);
    assert_int_equal (s_count_lines (log), 1);
    if (!strstr (log, expected))
        fail_msg ("expected \"%s\" in the log, got \"%s\"", expected, log);
    free (log);
}

static pp_result_t *
s_full_result (size_t reasons)
{
    pp_result_t *result = pp_result_new ("01JD5Z6W9X3K8M2N4P6Q8R0S2T", PP_STATUS_SOLD);
    assert_non_null (result);
    pp_result_set_price_cents (result, 1234);
    pp_result_set_charge_cents (result, INT64_MAX);
    pp_result_set_stage (result, PP_STAGE_DELIVER);
    pp_result_add_reason (result, "phone_invalid", "phone", "not a US number: “+1 555”");
    pp_result_add_reason (result, "timeout", NULL, NULL);
    pp_result_add_reason (result, "", "", "empty code is carried as is");
    for (size_t i = 0; i < reasons; i++) {
        char code[32];
        snprintf (code, sizeof (code), "code_%zu", i);
        pp_result_add_reason (result, code, i % 2 ? "field" : NULL, "☀ message");
    }
    return result;
}

static void
s_assert_results_eq (const pp_result_t *a, const pp_result_t *b)
{
    assert_string_equal (pp_result_lead_id (a), pp_result_lead_id (b));
    assert_int_equal (pp_result_status (a), pp_result_status (b));
    assert_true (pp_result_price_cents (a) == pp_result_price_cents (b));
    assert_true (pp_result_charge_cents (a) == pp_result_charge_cents (b));
    assert_int_equal (pp_result_stage (a), pp_result_stage (b));
    assert_int_equal (pp_result_reason_size (a), pp_result_reason_size (b));
    for (size_t i = 0; i < pp_result_reason_size (a); i++) {
        assert_string_equal (pp_result_reason_code (a, i), pp_result_reason_code (b, i));
        assert_string_equal (pp_result_reason_field (a, i), pp_result_reason_field (b, i));
        assert_string_equal (pp_result_reason_message (a, i), pp_result_reason_message (b, i));
    }
}

//  --------------------------------------------------------------------------

static void
test_pp_result_status_names (void **state)
{
    const char *names[] = {"sold", "unsold", "rejected", "duplicate", "error"};
    for (int status = PP_STATUS_SOLD; status <= PP_STATUS_ERROR; status++) {
        assert_string_equal (pp_status_name (status), names[status - 1]);
        assert_int_equal (pp_status_from_name (names[status - 1]), status);
    }
    assert_int_equal (PP_STATUS_SOLD, 1);
    assert_int_equal (PP_STATUS_ERROR, 5);
    assert_string_equal (pp_status_name (0), "error");
    assert_string_equal (pp_status_name (6), "error");
    assert_string_equal (pp_status_name (-3), "error");
    assert_int_equal (pp_status_from_name ("SOLD"), -1);
    assert_int_equal (pp_status_from_name ("sold "), -1);
    assert_int_equal (pp_status_from_name (""), -1);
    assert_int_equal (pp_status_from_name (NULL), -1);
}

static void
test_pp_result_new_checks_arguments (void **state)
{
    assert_null (pp_result_new (NULL, PP_STATUS_SOLD));
    assert_null (pp_result_new ("", PP_STATUS_SOLD));
    assert_null (pp_result_new ("0123456789012345678901234567", PP_STATUS_SOLD));
    assert_null (pp_result_new ("L1", (pp_status_t) 0));
    assert_null (pp_result_new ("L1", (pp_status_t) 6));
    pp_result_t *result = pp_result_new ("01234567890123456789012345", PP_STATUS_ERROR);
    assert_non_null (result);
    pp_result_destroy (&result);
    assert_null (result);
    pp_result_destroy (&result);
}

static void
test_pp_result_accessors (void **state)
{
    pp_result_t *result = pp_result_new ("L1", PP_STATUS_UNSOLD);
    assert_string_equal (pp_result_lead_id (result), "L1");
    assert_int_equal (pp_result_status (result), PP_STATUS_UNSOLD);
    assert_true (pp_result_price_cents (result) == 0);
    assert_true (pp_result_charge_cents (result) == 0);
    assert_int_equal (pp_result_stage (result), 0);
    assert_int_equal (pp_result_reason_size (result), 0);
    pp_result_set_status (result, PP_STATUS_REJECTED);
    assert_int_equal (pp_result_status (result), PP_STATUS_REJECTED);
    pp_result_set_price_cents (result, -5);
    assert_true (pp_result_price_cents (result) == -5);
    pp_result_set_charge_cents (result, 700);
    assert_true (pp_result_charge_cents (result) == 700);
    pp_result_set_stage (result, PP_STAGE_VALIDATE);
    assert_int_equal (pp_result_stage (result), PP_STAGE_VALIDATE);
    pp_result_add_reason (result, "zip_invalid", "zip", NULL);
    pp_result_add_reason (result, "blacklisted", NULL, "on the list");
    assert_int_equal (pp_result_reason_size (result), 2);
    assert_string_equal (pp_result_reason_code (result, 0), "zip_invalid");
    assert_string_equal (pp_result_reason_field (result, 0), "zip");
    assert_string_equal (pp_result_reason_message (result, 0), "");
    assert_string_equal (pp_result_reason_field (result, 1), "");
    assert_string_equal (pp_result_reason_message (result, 1), "on the list");
    pp_result_destroy (&result);
}

static void
test_pp_result_round_trip (void **state)
{
    for (int status = PP_STATUS_SOLD; status <= PP_STATUS_ERROR; status++) {
        pp_result_t *result = s_full_result (40);
        pp_result_set_status (result, (pp_status_t) status);
        pp_result_set_price_cents (result, status == PP_STATUS_UNSOLD ? INT64_MIN : -1);
        zframe_t *frame = pp_result_encode (result);
        assert_non_null (frame);
        pp_result_t *copy = pp_result_decode (frame);
        assert_non_null (copy);
        s_assert_results_eq (result, copy);
        zframe_t *again = pp_result_encode (copy);
        assert_true (zframe_eq (frame, again));
        zframe_destroy (&again);
        zframe_destroy (&frame);
        pp_result_destroy (&copy);
        pp_result_destroy (&result);
    }
    //  No optional member set.
    pp_result_t *result = pp_result_new ("x", PP_STATUS_DUPLICATE);
    zframe_t *frame = pp_result_encode (result);
    pp_result_t *copy = pp_result_decode (frame);
    assert_non_null (copy);
    s_assert_results_eq (result, copy);
    zframe_destroy (&frame);
    pp_result_destroy (&copy);
    pp_result_destroy (&result);
}

static void
test_pp_result_truncated_every_length (void **state)
{
    pp_result_t *result = s_full_result (3);
    zframe_t *frame = pp_result_encode (result);
    size_t size = zframe_size (frame);
    s_log_begin ();
    for (size_t len = 0; len < size; len++) {
        void *part = malloc (len ? len : 1);
        memcpy (part, zframe_data (frame), len);
        pp_result_t *decoded = pp_result_decode_buf (part, len);
        free (part);
        if (decoded)
            fail_msg ("a result truncated to %zu of %zu bytes was accepted", len, size);
    }
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), size);
    free (log);
    zframe_destroy (&frame);
    pp_result_destroy (&result);
}

static void
test_pp_result_base_frame_decodes (void **state)
{
    pp_result_t *result = s_decode_kv (s_base, BASE_SIZE);
    assert_non_null (result);
    assert_string_equal (pp_result_lead_id (result), "L1");
    assert_int_equal (pp_result_status (result), PP_STATUS_UNSOLD);
    pp_result_destroy (&result);
}

static void
test_pp_result_missing_keys (void **state)
{
    s_assert_rejected ("v", NULL, 0, "pp_result: missing key 'v'");
    s_assert_rejected ("t", NULL, 0, "pp_result: missing key 't'");
    s_assert_rejected ("id", NULL, 0, "pp_result: missing key 'id'");
    s_assert_rejected ("st", NULL, 0, "pp_result: missing key 'st'");
}

static void
test_pp_result_wrong_types (void **state)
{
    const char *bad_id = "pp_result: wrong type or value for key 'id'";
    s_assert_rejected ("id", R ("\x01"), bad_id);
    s_assert_rejected ("id", R ("\xc0"), bad_id);
    s_assert_rejected ("id", R ("\xa0"), bad_id);
    s_assert_rejected ("id",
                       R ("\xbb"
                          "012345678901234567890123456"),
                       bad_id);
    s_assert_rejected ("id",
                       R ("\xa2"
                          "L\x00"),
                       bad_id);
    s_assert_rejected ("id",
                       R ("\xc4\x02"
                          "L1"),
                       bad_id);
    const char *bad_st = "pp_result: wrong type or value for key 'st'";
    s_assert_rejected ("st", R ("\x00"), bad_st);
    s_assert_rejected ("st", R ("\x06"), bad_st);
    s_assert_rejected ("st", R ("\xff"), bad_st);
    s_assert_rejected ("st",
                       R ("\xa4"
                          "sold"),
                       bad_st);
    s_assert_rejected ("st", R ("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"), bad_st);
    s_assert_rejected ("st", R ("\xc0"), bad_st);
    s_assert_rejected ("pr",
                       R ("\xa1"
                          "1"),
                       "key 'pr'");
    s_assert_rejected ("pr", R ("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), "key 'pr'");
    s_assert_rejected ("pr", R ("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"), "key 'pr'");
    s_assert_rejected ("ch", R ("\xc2"), "key 'ch'");
    s_assert_rejected ("sg", R ("\xcd\x01\x00"), "key 'sg'");
    s_assert_rejected ("sg", R ("\xff"), "key 'sg'");
    s_assert_rejected ("rn", R ("\x80"), "key 'rn'");
    s_assert_rejected ("rn", R ("\x91\x01"), "reason is not a map");
    s_assert_rejected ("rn",
                       R ("\x91\x81\xa1"
                          "f"
                          "\xa1"
                          "x"),
                       "reason misses its code");
    s_assert_rejected ("rn",
                       R ("\x91\x81\xa1"
                          "c"
                          "\x01"),
                       "wrong type or value in a reason");
    s_assert_rejected ("rn",
                       R ("\x91\x82\xa1"
                          "c"
                          "\xa1"
                          "x"
                          "\xa1"
                          "m"
                          "\xc0"),
                       "wrong type or value in a reason");
    s_assert_rejected ("rn",
                       R ("\x91\x82\xa1"
                          "c"
                          "\xa1"
                          "x"
                          "\xa1"
                          "f"
                          "\xa2"
                          "a\x00"),
                       "wrong type or value in a reason");
    s_assert_rejected ("rn",
                       R ("\x91\x82\xa1"
                          "c"
                          "\xa1"
                          "x"
                          "\xa1"
                          "c"
                          "\xa1"
                          "y"),
                       "duplicate key in a reason");
    s_kv_t twice[] = {s_base[0], s_base[1], s_base[2], s_base[3], {"st", R ("\x01")}};
    s_log_begin ();
    pp_result_t *result = s_decode_kv (twice, 5);
    char *log = s_log_end ();
    assert_null (result);
    assert_non_null (strstr (log, "pp_result: duplicate key 'st'"));
    free (log);
}

static void
test_pp_result_unknown_keys_ignored (void **state)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 7);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "v", 1);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "t", 1);
    msgpack_pack_str (&pk, 6);
    msgpack_pack_str_body (&pk, "result", 6);
    msgpack_pack_str (&pk, 5);
    msgpack_pack_str_body (&pk, "extra", 5);
    msgpack_pack_map (&pk, 0);
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "id", 2);
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "L9", 2);
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "st", 2);
    msgpack_pack_int (&pk, PP_STATUS_SOLD);
    msgpack_pack_true (&pk); //  a non-string key
    msgpack_pack_nil (&pk);
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "rn", 2);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str (&pk, 4);
    msgpack_pack_str_body (&pk, "hint", 4);
    msgpack_pack_int (&pk, 7);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "c", 1);
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "ok", 2);
    pp_result_t *result = pp_result_decode_buf (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    assert_non_null (result);
    assert_string_equal (pp_result_lead_id (result), "L9");
    assert_int_equal (pp_result_status (result), PP_STATUS_SOLD);
    assert_int_equal (pp_result_reason_size (result), 1);
    assert_string_equal (pp_result_reason_code (result, 0), "ok");
    assert_string_equal (pp_result_reason_field (result, 0), "");
    pp_result_destroy (&result);
}

static void
test_pp_result_envelope_checked (void **state)
{
    s_assert_rejected ("v", R ("\x02"), "pp_result: unsupported version 2");
    s_assert_rejected ("v", R ("\x00"), "pp_result: unsupported version 0");
    s_assert_rejected ("v",
                       R ("\xa1"
                          "1"),
                       "pp_result: wrong type for key 'v'");
    s_assert_rejected ("v", R ("\xff"), "pp_result: wrong type for key 'v'");
    s_assert_rejected ("t",
                       R ("\xa4"
                          "lead"),
                       "pp_result: message is not of type 'result'");
    s_assert_rejected ("t", R ("\x01"), "pp_result: wrong type for key 't'");
    //  Not a map at all.
    s_log_begin ();
    assert_null (pp_result_decode_buf ("\x92\x01\x02", 3));
    assert_null (pp_result_decode_buf ("\xa6"
                                       "result",
                                       7));
    assert_null (pp_result_decode_buf ("", 0));
    assert_null (pp_result_decode (NULL));
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), 4);
    assert_non_null (strstr (log, "pp_result: not a map"));
    free (log);
    //  A lead frame is not a result.
    pp_lead_t *lead = pp_lead_new ("L1");
    zframe_t *frame = pp_lead_encode (lead);
    s_log_begin ();
    assert_null (pp_result_decode (frame));
    log = s_log_end ();
    assert_non_null (strstr (log, "not of type 'result'"));
    free (log);
    zframe_destroy (&frame);
    pp_lead_destroy (&lead);
}

static void
test_pp_result_send_recv (void **state)
{
    zsock_t *pull = zsock_new_pull ("inproc://test-pp-result");
    zsock_t *push = zsock_new_push ("inproc://test-pp-result");
    assert_non_null (pull);
    assert_non_null (push);
    zsock_set_rcvtimeo (pull, 2000);
    pp_result_t *result = s_full_result (2);
    assert_int_equal (pp_result_send (result, push, 0), 0);
    assert_int_equal (pp_result_send (result, zsock_resolve (push), ZMQ_DONTWAIT), 0);
    for (int i = 0; i < 2; i++) {
        pp_result_t *got = pp_result_recv (i ? zsock_resolve (pull) : (void *) pull);
        assert_non_null (got);
        s_assert_results_eq (result, got);
        pp_result_destroy (&got);
    }
    zstr_send (push, "garbage");
    assert_int_equal (pp_result_send (result, push, 0), 0);
    s_log_begin ();
    assert_null (pp_result_recv (pull));
    char *log = s_log_end ();
    assert_int_equal (s_count_lines (log), 1);
    free (log);
    pp_result_t *got = pp_result_recv (pull);
    assert_non_null (got);
    pp_result_destroy (&got);
    zsock_set_rcvtimeo (pull, 10);
    assert_null (pp_result_recv (pull));

    zsock_t *lonely = zsock_new (ZMQ_PUSH);
    assert_int_equal (pp_result_send (result, lonely, ZMQ_DONTWAIT), -1);
    assert_int_equal (errno, EAGAIN);
    zsock_destroy (&lonely);

    pp_result_destroy (&result);
    zsock_destroy (&push);
    zsock_destroy (&pull);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_pp_result_status_names),
        cmocka_unit_test (test_pp_result_new_checks_arguments),
        cmocka_unit_test (test_pp_result_accessors),
        cmocka_unit_test (test_pp_result_round_trip),
        cmocka_unit_test (test_pp_result_truncated_every_length),
        cmocka_unit_test (test_pp_result_base_frame_decodes),
        cmocka_unit_test (test_pp_result_missing_keys),
        cmocka_unit_test (test_pp_result_wrong_types),
        cmocka_unit_test (test_pp_result_unknown_keys_ignored),
        cmocka_unit_test (test_pp_result_envelope_checked),
        cmocka_unit_test (test_pp_result_send_recv),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
