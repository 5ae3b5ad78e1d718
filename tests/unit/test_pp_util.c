/*  test_pp_util - ids, hashing, time and money helpers  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_util.h"

#define S_ID_COUNT 100000
#define S_THREADS 4
#define S_PER_THREAD 25000

static const char s_crockford [] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

//  The 48-bit millisecond time at the front of an id.
static int64_t
s_id_ms (const char *id)
{
    int64_t ms = 0;
    for (int i = 0; i < 10; i++) {
        const char *at = strchr (s_crockford, id [i]);
        assert_non_null (at);
        ms = ms * 32 + (at - s_crockford);
    }
    return ms;
}

static void
test_pp_util_clocks (void **state)
{
    int64_t wall = pp_now_us ();
    //  After 2020-01-01 and before 2100-01-01
    assert_true (wall > 1577836800LL * 1000000);
    assert_true (wall < 4102444800LL * 1000000);
    int64_t a = pp_mono_us ();
    int64_t b = pp_mono_us ();
    assert_true (b >= a);
}

static void
test_pp_util_id_format (void **state)
{
    char id [27];
    memset (id, 'x', sizeof id);
    int64_t before = pp_now_us () / 1000;
    pp_id_new (id);
    int64_t after = pp_now_us () / 1000;
    assert_int_equal (strlen (id), 26);
    assert_true (pp_id_valid (id));
    for (int i = 0; i < 26; i++)
        assert_non_null (strchr (s_crockford, id [i]));
    //  The time part is the time it was made
    int64_t ms = s_id_ms (id);
    assert_true (ms >= before && ms <= after);

    //  Malformed ids
    assert_false (pp_id_valid (NULL));
    assert_false (pp_id_valid (""));
    char text [40];
    snprintf (text, sizeof text, "%.25s", id);
    assert_false (pp_id_valid (text));              //  25 chars
    snprintf (text, sizeof text, "%s0", id);
    assert_false (pp_id_valid (text));              //  27 chars
    const char *bad_chars = "ILOU*a ";
    for (const char *c = bad_chars; *c; c++) {
        snprintf (text, sizeof text, "%s", id);
        text [13] = *c;
        assert_false (pp_id_valid (text));
    }
    snprintf (text, sizeof text, "%s", id);
    text [0] = '8';                                  //  over 128 bits
    assert_false (pp_id_valid (text));
    text [0] = '7';
    assert_true (pp_id_valid (text));
    assert_true (pp_id_valid ("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}

static void
test_pp_util_id_increasing (void **state)
{
    char *ids = (char *) malloc ((size_t) S_ID_COUNT * 27);
    assert_non_null (ids);
    for (int i = 0; i < S_ID_COUNT; i++)
        pp_id_new (ids + (size_t) i * 27);
    for (int i = 1; i < S_ID_COUNT; i++) {
        const char *previous = ids + (size_t) (i - 1) * 27;
        const char *current = ids + (size_t) i * 27;
        if (strcmp (previous, current) >= 0)
            fail_msg ("id %d '%s' is not after '%s'", i, current, previous);
    }
    assert_true (pp_id_valid (ids + (size_t) (S_ID_COUNT - 1) * 27));
    free (ids);
}

typedef struct {
    char *ids;                          //  S_PER_THREAD ids of 27 bytes
    int unordered;                      //  ids not after the one before (same thread)
} s_id_batch_t;

static void *
s_make_ids (void *arg)
{
    s_id_batch_t *batch = (s_id_batch_t *) arg;
    for (int i = 0; i < S_PER_THREAD; i++) {
        char *id = batch->ids + (size_t) i * 27;
        pp_id_new (id);
        if (i > 0 && strcmp (id - 27, id) >= 0)
            batch->unordered++;
    }
    return NULL;
}

static int
s_compare_ids (const void *a, const void *b)
{
    return strcmp ((const char *) a, (const char *) b);
}

static void
test_pp_util_id_threads_unique (void **state)
{
    char *all = (char *) malloc ((size_t) S_THREADS * S_PER_THREAD * 27);
    assert_non_null (all);
    pthread_t threads [S_THREADS];
    s_id_batch_t batches [S_THREADS];
    for (int t = 0; t < S_THREADS; t++) {
        batches [t].ids = all + (size_t) t * S_PER_THREAD * 27;
        batches [t].unordered = 0;
        assert_int_equal (pthread_create (&threads [t], NULL, s_make_ids, &batches [t]), 0);
    }
    for (int t = 0; t < S_THREADS; t++) {
        pthread_join (threads [t], NULL);
        assert_int_equal (batches [t].unordered, 0);
    }
    size_t count = (size_t) S_THREADS * S_PER_THREAD;
    qsort (all, count, 27, s_compare_ids);
    for (size_t i = 1; i < count; i++)
        if (strcmp (all + (i - 1) * 27, all + i * 27) == 0)
            fail_msg ("duplicate id '%s'", all + i * 27);
    free (all);
}

static void
test_pp_util_sha256 (void **state)
{
    char hex [65];
    memset (hex, 'x', sizeof hex);
    pp_sha256_hex ("", 0, hex);
    assert_string_equal (hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pp_sha256_hex ("abc", 3, hex);
    assert_string_equal (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *long_text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    pp_sha256_hex (long_text, strlen (long_text), hex);
    assert_string_equal (hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    //  Only `size` bytes count, NUL bytes included
    pp_sha256_hex ("abcdef", 3, hex);
    assert_string_equal (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    pp_sha256_hex ("a\0b", 3, hex);
    assert_string_not_equal (hex,
                             "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
}

static void
test_pp_util_time_format (void **state)
{
    char buf [32];
    pp_time_iso (0, buf, sizeof buf);
    assert_string_equal (buf, "1970-01-01T00:00:00.000Z");
    pp_time_iso (1700000000123456LL, buf, sizeof buf);
    assert_string_equal (buf, "2023-11-14T22:13:20.123Z");
    pp_time_iso (1709164800000000LL, buf, sizeof buf);      //  a leap day
    assert_string_equal (buf, "2024-02-29T00:00:00.000Z");
    pp_time_iso (-1000, buf, sizeof buf);
    assert_string_equal (buf, "1969-12-31T23:59:59.999Z");
    //  A short buffer is cut, never overrun
    char small [8];
    pp_time_iso (0, small, sizeof small);
    assert_string_equal (small, "1970-01");
}

static void
test_pp_util_time_parse (void **state)
{
    int64_t us = -1;
    assert_int_equal (pp_time_parse_iso ("1970-01-01T00:00:00Z", &us), 0);
    assert_int_equal (us, 0);
    assert_int_equal (pp_time_parse_iso ("2023-11-14T22:13:20.123Z", &us), 0);
    assert_int_equal (us, 1700000000123000LL);
    //  Offsets
    int64_t utc = 0;
    assert_int_equal (pp_time_parse_iso ("2026-11-26T10:00:05Z", &utc), 0);
    assert_int_equal (pp_time_parse_iso ("2026-11-26T12:00:05+02:00", &us), 0);
    assert_int_equal (us, utc);
    assert_int_equal (pp_time_parse_iso ("2026-11-26T04:30:05-05:30", &us), 0);
    assert_int_equal (us, utc);
    assert_int_equal (pp_time_parse_iso ("2026-11-26T12:00:05+0200", &us), 0);
    assert_int_equal (us, utc);
    assert_int_equal (pp_time_parse_iso ("2026-11-26T10:00:05+00:00", &us), 0);
    assert_int_equal (us, utc);
    //  A day boundary crossed by the offset
    assert_int_equal (pp_time_parse_iso ("2026-11-25T23:00:05-11:00", &us), 0);
    assert_int_equal (us, utc);
    //  Fractions: any number of digits, microseconds kept
    assert_int_equal (pp_time_parse_iso ("2026-11-26T10:00:05.5Z", &us), 0);
    assert_int_equal (us, utc + 500000);
    assert_int_equal (pp_time_parse_iso ("2026-11-26T10:00:05.123456Z", &us), 0);
    assert_int_equal (us, utc + 123456);
    assert_int_equal (pp_time_parse_iso ("2026-11-26T10:00:05.123456789Z", &us), 0);
    assert_int_equal (us, utc + 123456);
    assert_int_equal (pp_time_parse_iso ("2026-11-26T10:00:05,25Z", &us), 0);
    assert_int_equal (us, utc + 250000);
    assert_int_equal (pp_time_parse_iso ("2026-11-26t10:00:05z", &us), 0);
    assert_int_equal (us, utc);
    //  Seconds may be left out
    assert_int_equal (pp_time_parse_iso ("2026-11-26T10:00Z", &us), 0);
    assert_int_equal (us, utc - 5000000);
    //  Leap years
    assert_int_equal (pp_time_parse_iso ("2024-02-29T00:00:00Z", &us), 0);
    assert_int_equal (us, 1709164800000000LL);
    assert_int_equal (pp_time_parse_iso ("2000-02-29T00:00:00Z", &us), 0);
    assert_int_equal (us, 951782400000000LL);
}

static void
test_pp_util_time_parse_invalid (void **state)
{
    const char *bad [] = {
        "2025-02-30T00:00:00Z",         //  no Feb 30
        "2025-02-29T00:00:00Z",         //  2025 is not a leap year
        "2100-02-29T00:00:00Z",         //  nor is 2100
        "2025-04-31T00:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-00-10T00:00:00Z",
        "2025-01-00T00:00:00Z",
        "2025-01-01T24:00:00Z",
        "2025-01-01T10:60:00Z",
        "2025-01-01T10:00:61Z",
        "2025-01-01T10:00:00",          //  no zone
        "2025-01-01T10:00:00.123",      //  no zone
        "2025-01-01",                   //  no time
        "2025-01-01T10Z",
        "2025-01-01T10:00:00.Z",        //  empty fraction
        "2025-01-01T10:00:00Zjunk",
        "2025-01-01T10:00:00+24:00",
        "2025-01-01T10:00:00+02:60",
        "2025-01-01T10:00:00+2",
        "2025-1-01T10:00:00Z",
        "garbage",
        "",
        " 2025-01-01T10:00:00Z",
        "0000-01-01T00:00:00Z",         //  no year zero
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        int64_t us = 42;
        if (pp_time_parse_iso (bad [i], &us) != -1)
            fail_msg ("'%s' was accepted", bad [i]);
        assert_int_equal (us, 42);
    }
    int64_t us;
    //  Dates before the epoch are dates too (birth dates)
    assert_int_equal (pp_time_parse_iso ("1960-05-01T00:00:00Z", &us), 0);
    assert_true (us == -305164800LL * 1000000);
    assert_int_equal (pp_time_parse_iso (NULL, &us), -1);
    assert_int_equal (pp_time_parse_iso ("2025-01-01T10:00:00Z", NULL), -1);
}

static void
test_pp_util_time_round_trip (void **state)
{
    //  Every millisecond time survives format + parse (microseconds are cut)
    uint64_t seed = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        int64_t us = (int64_t) (seed % (4102444800ULL * 1000000));     //  1970..2100
        char buf [32];
        pp_time_iso (us, buf, sizeof buf);
        int64_t back = -1;
        assert_int_equal (pp_time_parse_iso (buf, &back), 0);
        if (back != us - us % 1000)
            fail_msg ("%lld -> %s -> %lld", (long long) us, buf, (long long) back);
    }
}

static void
test_pp_util_cents_format (void **state)
{
    char buf [24];
    pp_cents_format (0, buf, sizeof buf);
    assert_string_equal (buf, "0.00");
    pp_cents_format (5, buf, sizeof buf);
    assert_string_equal (buf, "0.05");
    pp_cents_format (-5, buf, sizeof buf);
    assert_string_equal (buf, "-0.05");
    pp_cents_format (1234, buf, sizeof buf);
    assert_string_equal (buf, "12.34");
    pp_cents_format (-1234, buf, sizeof buf);
    assert_string_equal (buf, "-12.34");
    pp_cents_format (100, buf, sizeof buf);
    assert_string_equal (buf, "1.00");
    pp_cents_format (250000, buf, sizeof buf);
    assert_string_equal (buf, "2500.00");
    pp_cents_format (INT64_MAX, buf, sizeof buf);
    assert_string_equal (buf, "92233720368547758.07");
    pp_cents_format (INT64_MIN, buf, sizeof buf);
    assert_string_equal (buf, "-92233720368547758.08");
}

static void
test_pp_util_cents_from_double (void **state)
{
    int64_t cents = -1;
    assert_int_equal (pp_cents_from_double (12.34, &cents), 0);
    assert_int_equal (cents, 1234);
    assert_int_equal (pp_cents_from_double (-12.34, &cents), 0);
    assert_int_equal (cents, -1234);
    assert_int_equal (pp_cents_from_double (0, &cents), 0);
    assert_int_equal (cents, 0);
    assert_int_equal (pp_cents_from_double (0.1 + 0.2, &cents), 0);
    assert_int_equal (cents, 30);
    assert_int_equal (pp_cents_from_double (19.99, &cents), 0);
    assert_int_equal (cents, 1999);
    assert_int_equal (pp_cents_from_double (1.15, &cents), 0);
    assert_int_equal (cents, 115);
    assert_int_equal (pp_cents_from_double (2500.0, &cents), 0);
    assert_int_equal (cents, 250000);
    assert_int_equal (pp_cents_from_double (123456789.12, &cents), 0);
    assert_int_equal (cents, 12345678912LL);
    //  Every two-decimal amount up to 10,000.00 converts exactly
    for (int64_t c = 0; c <= 1000000; c++) {
        char text [32];
        snprintf (text, sizeof text, "%lld.%02lld", (long long) (c / 100), (long long) (c % 100));
        int64_t got = -1;
        if (pp_cents_from_double (strtod (text, NULL), &got) || got != c)
            fail_msg ("%s -> %lld", text, (long long) got);
    }
    //  and so do large ones up to the limit; a third decimal is refused
    uint64_t seed = 2463534242ULL;
    for (int i = 0; i < 200000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        long long c = (long long) (seed % 1000000000000000ULL);
        char text [40];
        snprintf (text, sizeof text, "%lld.%02lld", c / 100, c % 100);
        int64_t got = -1;
        if (pp_cents_from_double (strtod (text, NULL), &got) || got != c)
            fail_msg ("%s -> %lld", text, (long long) got);
        long long m = (long long) (seed % 10000000000ULL);     //  up to 10,000,000.000
        if (m % 10 == 0)
            continue;
        snprintf (text, sizeof text, "%lld.%03lld", m / 1000, m % 1000);
        if (pp_cents_from_double (strtod (text, NULL), &got) == 0)
            fail_msg ("%s was accepted as %lld", text, (long long) got);
    }
    assert_int_equal (pp_cents_from_double (1e13, &cents), 0);
    assert_int_equal (cents, 1000000000000000LL);

    //  Rejected, and the output left alone
    const double bad [] = {1.005, 0.001, 12.345, -0.015, 2500.005, 12345.678, 98765.4321,
                           NAN, INFINITY, -INFINITY, 1.5e13, -1.5e13, 1e15, 1e300};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        cents = 42;
        if (pp_cents_from_double (bad [i], &cents) != -1)
            fail_msg ("%.17g was accepted as %lld", bad [i], (long long) cents);
        assert_int_equal (cents, 42);
    }
    assert_int_equal (pp_cents_from_double (1.0, NULL), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_util_clocks),
        cmocka_unit_test (test_pp_util_id_format),
        cmocka_unit_test (test_pp_util_id_increasing),
        cmocka_unit_test (test_pp_util_id_threads_unique),
        cmocka_unit_test (test_pp_util_sha256),
        cmocka_unit_test (test_pp_util_time_format),
        cmocka_unit_test (test_pp_util_time_parse),
        cmocka_unit_test (test_pp_util_time_parse_invalid),
        cmocka_unit_test (test_pp_util_time_round_trip),
        cmocka_unit_test (test_pp_util_cents_format),
        cmocka_unit_test (test_pp_util_cents_from_double),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
