/*  test_pp_zip - the shipped US ZIP table, lookups, distances, radius bitmaps, bad files  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pp_zip.h"

//  The table every test but the bad-file ones reads: the shipped file itself.
static pp_zip_t *s_table;

static double
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000.0 + now.tv_nsec / 1e6;
}

static int
s_group_setup (void **state)
{
    double start = s_now_ms ();
    s_table = pp_zip_load (PP_ZIP_DATA);
    double took = s_now_ms () - start;
    if (!s_table) {
        fprintf (stderr, "cannot load %s\n", PP_ZIP_DATA);
        return -1;
    }
    printf ("loaded %zu ZIPs from %s in %.1f ms\n", pp_zip_size (s_table), PP_ZIP_DATA, took);
    return 0;
}

static int
s_group_teardown (void **state)
{
    pp_zip_destroy (&s_table);
    return 0;
}

//  Bits set in a radius bitmap.
static size_t
s_popcount (const uint8_t *bitmap)
{
    size_t count = 0;
    for (size_t i = 0; i < PP_ZIP_BITMAP_BYTES; i++)
        count += (size_t) __builtin_popcount (bitmap [i]);
    return count;
}

//  Write text to a new temporary file; returns its path (free it, unlink it).
static char *
s_temp_file (const char *text)
{
    char *path = strdup ("/tmp/test_pp_zip_XXXXXX");
    assert_non_null (path);
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    size_t length = strlen (text);
    assert_int_equal (write (fd, text, length), (ssize_t) length);
    close (fd);
    return path;
}

static void
test_pp_zip_default_path (void **state)
{
    char *saved = getenv ("PINGPOST_ZIP_DATA") ? strdup (getenv ("PINGPOST_ZIP_DATA")) : NULL;
    unsetenv ("PINGPOST_ZIP_DATA");
    assert_string_equal (pp_zip_default_path (), PP_ZIP_DATA);
    assert_non_null (strstr (pp_zip_default_path (), "data/zip/us-zips.tsv"));
    setenv ("PINGPOST_ZIP_DATA", "", 1);
    assert_string_equal (pp_zip_default_path (), PP_ZIP_DATA);
    setenv ("PINGPOST_ZIP_DATA", "/srv/zips.tsv", 1);
    assert_string_equal (pp_zip_default_path (), "/srv/zips.tsv");
    if (saved)
        setenv ("PINGPOST_ZIP_DATA", saved, 1);
    else
        unsetenv ("PINGPOST_ZIP_DATA");
    free (saved);
}

//  The whole shipped table: size, and every row well formed, with a zone the
//  system tz database has.
static void
test_pp_zip_shipped_table (void **state)
{
    size_t size = pp_zip_size (s_table);
    assert_true (size > 40000);
    assert_true (size < 45000);
    size_t seen = 0, zones_checked = 0;
    const char *checked [64] = {NULL};
    for (int zip = 0; zip < PP_ZIP_SLOTS; zip++) {
        const pp_zip_entry_t *entry = pp_zip_find_number (s_table, zip);
        if (!entry)
            continue;
        seen++;
        assert_int_equal (entry->zip, zip);
        assert_int_equal (strlen (entry->state), 2);
        assert_non_null (entry->city);
        assert_true (entry->lat >= -90 && entry->lat <= 90);
        assert_true (entry->lon >= -180 && entry->lon <= 180);
        size_t i = 0;
        while (i < zones_checked && strcmp (checked [i], entry->time_zone) != 0)
            i++;
        if (i == zones_checked) {
            char path [256];
            snprintf (path, sizeof path, "/usr/share/zoneinfo/%s", entry->time_zone);
            if (access (path, R_OK) != 0)
                fail_msg ("ZIP %05d: zone %s not in /usr/share/zoneinfo", zip, entry->time_zone);
            assert_true (zones_checked < 64);
            checked [zones_checked++] = entry->time_zone;
        }
    }
    assert_int_equal (seen, size);
    printf ("%zu ZIPs, %zu distinct zones, all in /usr/share/zoneinfo\n", seen, zones_checked);
}

static void
s_assert_zip (const char *zip5, const char *state, const char *city, const char *zone, double lat,
              double lon)
{
    const pp_zip_entry_t *entry = pp_zip_find (s_table, zip5);
    if (!entry)
        fail_msg ("ZIP %s not found", zip5);
    assert_int_equal (entry->zip, atoi (zip5));
    assert_string_equal (entry->state, state);
    assert_string_equal (entry->city, city);
    assert_string_equal (entry->time_zone, zone);
    assert_float_equal (entry->lat, lat, 1e-9);
    assert_float_equal (entry->lon, lon, 1e-9);
    assert_ptr_equal (pp_zip_find_number (s_table, atoi (zip5)), entry);
}

//  What the shipped data says for well-known ZIPs (GeoNames places and
//  points, ziptz zones; 00601 is a Census ZCTA, which has no city name).
static void
test_pp_zip_known (void **state)
{
    s_assert_zip ("10001", "NY", "New York", "America/New_York", 40.7484, -73.9967);
    s_assert_zip ("90001", "CA", "Los Angeles", "America/Los_Angeles", 33.9731, -118.2479);
    s_assert_zip ("60601", "IL", "Chicago", "America/Chicago", 41.8858, -87.6181);
    s_assert_zip ("85001", "AZ", "Phoenix", "America/Phoenix", 33.4484, -112.0740);
    s_assert_zip ("96813", "HI", "Honolulu", "Pacific/Honolulu", 21.3179, -157.8521);
    s_assert_zip ("99501", "AK", "Anchorage", "America/Anchorage", 61.2116, -149.8761);
    s_assert_zip ("20001", "DC", "Washington", "America/New_York", 38.9122, -77.0177);
    s_assert_zip ("30301", "GA", "Atlanta", "America/New_York", 33.8444, -84.4741);
    s_assert_zip ("00601", "PR", "", "America/Puerto_Rico", 18.1806, -66.7500);
    s_assert_zip ("00501", "NY", "Holtsville", "America/New_York", 40.8154, -73.0451);
}

static void
test_pp_zip_unknown (void **state)
{
    assert_null (pp_zip_find (s_table, "00000"));
    assert_null (pp_zip_find (s_table, "99999"));
    assert_null (pp_zip_find_number (s_table, 0));
    assert_null (pp_zip_find_number (s_table, 99999));
    assert_null (pp_zip_find_number (s_table, -1));
    assert_null (pp_zip_find_number (s_table, PP_ZIP_SLOTS));
    assert_null (pp_zip_find_number (s_table, 10001 + PP_ZIP_SLOTS));
}

static void
test_pp_zip_malformed (void **state)
{
    const char *bad [] = {"1234",  "123456", "abcde",  "9000a",      "",     " 1000", "10001 ",
                          "1000 1", "-1000", "10001-1234", "１0001", "0x100", "\n10001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        if (pp_zip_find (s_table, bad [i]))
            fail_msg ("\"%s\" found", bad [i]);
    assert_null (pp_zip_find (s_table, NULL));
    //  The good forms of the same ZIPs are there, so the NULLs above mean something.
    assert_non_null (pp_zip_find (s_table, "10001"));
    assert_non_null (pp_zip_find (s_table, "90001"));
}

static void
test_pp_zip_distance (void **state)
{
    const pp_zip_entry_t *nyc = pp_zip_find (s_table, "10001");
    const pp_zip_entry_t *la = pp_zip_find (s_table, "90001");
    assert_non_null (nyc);
    assert_non_null (la);
    double miles = pp_zip_distance_miles (nyc, la);
    printf ("10001 to 90001: %.1f miles\n", miles);
    assert_true (miles > 2420 && miles < 2480);
    assert_true (pp_zip_distance_miles (la, nyc) == miles);
    assert_true (pp_zip_distance_miles (nyc, nyc) == 0);

    //  The formula itself: one degree along the equator and along a meridian
    //  is R * pi / 180; a quarter of the way round is R * pi / 2.
    pp_zip_entry_t a = {.lat = 0, .lon = 0}, b = {.lat = 0, .lon = 1}, c = {.lat = 1, .lon = 0};
    pp_zip_entry_t pole = {.lat = 90, .lon = 45}, dateline_w = {.lat = 10, .lon = 179.5},
                   dateline_e = {.lat = 10, .lon = -179.5};
    assert_float_equal (pp_zip_distance_miles (&a, &b), PP_ZIP_EARTH_MILES * M_PI / 180, 1e-9);
    assert_float_equal (pp_zip_distance_miles (&a, &c), PP_ZIP_EARTH_MILES * M_PI / 180, 1e-9);
    assert_float_equal (pp_zip_distance_miles (&a, &pole), PP_ZIP_EARTH_MILES * M_PI / 2, 1e-6);
    //  Across the date line it is the short way round (about 68 miles, not 24,000).
    double across = pp_zip_distance_miles (&dateline_w, &dateline_e);
    assert_true (across > 67 && across < 69);
}

static void
test_pp_zip_within_atlanta (void **state)
{
    static uint8_t bitmap [PP_ZIP_BITMAP_BYTES];
    size_t count = pp_zip_within (s_table, "30301", 25, bitmap);
    printf ("25 miles of 30301: %zu ZIPs\n", count);
    assert_true (count > 10);
    assert_int_equal (s_popcount (bitmap), count);
    assert_true (pp_zip_bitmap_has (bitmap, 30301));
    assert_true (pp_zip_bitmap_has (bitmap, 30303));
    assert_false (pp_zip_bitmap_has (bitmap, 31401));
    assert_false (pp_zip_bitmap_has (bitmap, 10001));
    assert_false (pp_zip_bitmap_has (bitmap, -1));
    assert_false (pp_zip_bitmap_has (bitmap, PP_ZIP_SLOTS));

    //  Radius 0: the centre itself and any ZIP at the very same point.
    count = pp_zip_within (s_table, "30303", 0, bitmap);
    assert_true (count >= 1);
    assert_true (pp_zip_bitmap_has (bitmap, 30303));
    //  00501 and 00544 (Holtsville, NY) share one point.
    assert_int_equal (pp_zip_within (s_table, "00501", 0, bitmap), 2);
    assert_true (pp_zip_bitmap_has (bitmap, 544));

    //  Unknown or malformed centre, negative or NaN radius: 0, bitmap cleared.
    const char *centres [] = {"99999", "3030", NULL, "30301", "30301"};
    double radii [] = {25, 25, 25, -1, NAN};
    for (size_t i = 0; i < 5; i++) {
        memset (bitmap, 0xff, sizeof bitmap);
        assert_int_equal (pp_zip_within (s_table, centres [i], radii [i], bitmap), 0);
        assert_int_equal (s_popcount (bitmap), 0);
    }
    //  The whole table from anywhere, across the date line and the equator.
    assert_int_equal (pp_zip_within (s_table, "96799", 20000, bitmap), pp_zip_size (s_table));
}

//  pp_zip_within against a scan of every ZIP with pp_zip_distance_miles.
static void
s_check_against_scan (const pp_zip_entry_t *centre, double miles)
{
    static uint8_t bitmap [PP_ZIP_BITMAP_BYTES];
    char zip5 [6];
    snprintf (zip5, sizeof zip5, "%05d", centre->zip);
    size_t count = pp_zip_within (s_table, zip5, miles, bitmap);
    size_t expected = 0;
    for (int zip = 0; zip < PP_ZIP_SLOTS; zip++) {
        const pp_zip_entry_t *entry = pp_zip_find_number (s_table, zip);
        bool in = entry && pp_zip_distance_miles (centre, entry) <= miles;
        if (in != pp_zip_bitmap_has (bitmap, zip))
            fail_msg ("centre %s, %.6f miles: ZIP %05d %s", zip5, miles, zip,
                      in ? "missing" : "set but outside");
        expected += in;
    }
    assert_int_equal (count, expected);
    assert_int_equal (s_popcount (bitmap), expected);
}

static const pp_zip_entry_t *
s_random_entry (void)
{
    while (true) {
        const pp_zip_entry_t *entry = pp_zip_find_number (s_table, rand () % PP_ZIP_SLOTS);
        if (entry)
            return entry;
    }
}

static void
test_pp_zip_within_brute_force (void **state)
{
    unsigned seed = getenv ("PP_ZIP_TEST_SEED") ? (unsigned) atoi (getenv ("PP_ZIP_TEST_SEED"))
                                                : (unsigned) time (NULL);
    printf ("seed %u (set PP_ZIP_TEST_SEED to repeat)\n", seed);
    srand (seed);
    for (int i = 0; i < 20; i++) {
        const pp_zip_entry_t *centre = s_random_entry ();
        //  Mostly filter-sized radii, now and then a huge one.
        double miles = i % 5 == 4 ? rand () % 3000 : (rand () % 20000) / 100.0;
        s_check_against_scan (centre, miles);
        //  A radius that is exactly the distance to another ZIP takes that ZIP in.
        const pp_zip_entry_t *other = s_random_entry ();
        double edge = pp_zip_distance_miles (centre, other);
        s_check_against_scan (centre, edge);
    }
    //  Corners: Alaska, American Samoa (south of the equator), Guam (east of
    //  the date line), Puerto Rico.
    const char *corners [] = {"99501", "96799", "96910", "00601"};
    for (size_t i = 0; i < 4; i++) {
        const pp_zip_entry_t *centre = pp_zip_find (s_table, corners [i]);
        assert_non_null (centre);
        s_check_against_scan (centre, 100);
        s_check_against_scan (centre, 4000);
    }
}

static void
test_pp_zip_within_speed (void **state)
{
    static uint8_t bitmap [PP_ZIP_BITMAP_BYTES];
    const char *centres [] = {"30301", "10001", "60601", "90001", "75201"};
    double radii [] = {10, 25, 50, 100, 500};
    for (size_t r = 0; r < 5; r++) {
        size_t total = 0;
        double start = s_now_ms ();
        for (int round = 0; round < 20; round++)
            for (size_t c = 0; c < 5; c++)
                total += pp_zip_within (s_table, centres [c], radii [r], bitmap);
        double took = (s_now_ms () - start) / 100;
        printf ("within %.0f miles: %.3f ms per call, %zu ZIPs on average\n", radii [r], took,
                total / 100);
        assert_true (total > 0);
    }
}

//  A small hand-written table: rows load as written, empty city included.
static void
test_pp_zip_small_file (void **state)
{
    char *path = s_temp_file ("zip\tstate\tcity\tlat\tlon\ttime_zone\n"
                              "00601\tPR\t\t18.1806\t-66.75\tAmerica/Puerto_Rico\n"
                              "30303\tGA\tAtlanta\t33.7525\t-84.3888\tAmerica/New_York\n"
                              "99950\tAK\tKetchikan\t55.5\t-131\tAmerica/Sitka\n");
    pp_zip_t *table = pp_zip_load (path);
    assert_non_null (table);
    assert_int_equal (pp_zip_size (table), 3);
    const pp_zip_entry_t *entry = pp_zip_find (table, "00601");
    assert_non_null (entry);
    assert_int_equal (entry->zip, 601);
    assert_string_equal (entry->state, "PR");
    assert_string_equal (entry->city, "");
    assert_float_equal (entry->lon, -66.75, 1e-12);
    entry = pp_zip_find (table, "99950");
    assert_non_null (entry);
    assert_string_equal (entry->city, "Ketchikan");
    assert_string_equal (entry->time_zone, "America/Sitka");
    assert_float_equal (entry->lon, -131, 1e-12);
    assert_null (pp_zip_find (table, "10001"));
    uint8_t bitmap [PP_ZIP_BITMAP_BYTES];
    assert_int_equal (pp_zip_within (table, "30303", 5000, bitmap), 3);
    assert_int_equal (pp_zip_within (table, "30303", 1000, bitmap), 1);
    pp_zip_destroy (&table);
    assert_null (table);
    pp_zip_destroy (&table);                //  idempotent
    unlink (path);
    free (path);
}

//  Missing and malformed files: NULL, nothing leaked (ASan builds check).
static void
test_pp_zip_bad_files (void **state)
{
    assert_null (pp_zip_load ("/nonexistent/us-zips.tsv"));
    char *dir = strdup ("/tmp/test_pp_zip_dir_XXXXXX");
    assert_non_null (mkdtemp (dir));
    assert_null (pp_zip_load (dir));        //  a directory
    rmdir (dir);
    free (dir);

#define S_HEAD "zip\tstate\tcity\tlat\tlon\ttime_zone\n"
#define S_GOOD "10001\tNY\tNew York\t40.7484\t-73.9967\tAmerica/New_York\n"
    const char *bad [] = {
        "",                                                             //  empty
        S_HEAD,                                                         //  no rows
        "zip,state,city,lat,lon,time_zone\n" S_GOOD,                    //  header
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.71",                     //  truncated, no newline
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.7152\n",                 //  truncated row
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.7152\t-73.9877\tAmerica/New_York",   //  no newline
        S_HEAD S_GOOD "10002\tNY\tNew York\tabc\t-73.9877\tAmerica/New_York\n",     //  bad lat
        S_HEAD S_GOOD "10002\tNY\tNew York\t91\t-73.9877\tAmerica/New_York\n",      //  lat range
        S_HEAD S_GOOD "10002\tNY\tNew York\tnan\t-73.9877\tAmerica/New_York\n",     //  lat nan
        S_HEAD S_GOOD "10002\tNY\tNew York\t1e1\t-73.9877\tAmerica/New_York\n",     //  exponent
        S_HEAD S_GOOD "10002\tNY\tNew York\t\t-73.9877\tAmerica/New_York\n",        //  empty lat
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.\t-73.9877\tAmerica/New_York\n",     //  "40."
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.7\t-181\tAmerica/New_York\n",        //  lon range
        S_HEAD S_GOOD "1002\tNY\tNew York\t40.7\t-73.9\tAmerica/New_York\n",        //  4-digit ZIP
        S_HEAD S_GOOD "1000a\tNY\tNew York\t40.7\t-73.9\tAmerica/New_York\n",       //  ZIP letter
        S_HEAD S_GOOD "10002\tny\tNew York\t40.7\t-73.9\tAmerica/New_York\n",       //  state case
        S_HEAD S_GOOD "10002\tNYC\tNew York\t40.7\t-73.9\tAmerica/New_York\n",      //  state length
        S_HEAD S_GOOD "10002\tNY\tNew\rYork\t40.7\t-73.9\tAmerica/New_York\n",      //  control char
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.7\t-73.9\t\n",                       //  no zone
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.7\t-73.9\t../../etc/passwd\n",       //  odd zone
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.7\t-73.9\tAmerica/New_York\r\n",     //  CRLF
        S_HEAD S_GOOD "10002\tNY\tNew York\t40.7\t-73.9\tAmerica/New_York\tx\n",    //  7 fields
        S_HEAD S_GOOD "\n",                                                         //  blank line
        S_HEAD S_GOOD S_GOOD,                                                       //  repeated ZIP
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char *path = s_temp_file (bad [i]);
        pp_zip_t *table = pp_zip_load (path);
        if (table) {
            pp_zip_destroy (&table);
            fail_msg ("bad file %zu loaded", i);
        }
        unlink (path);
        free (path);
    }
    //  The same good row alone loads, so each failure above is the bad part.
    char *path = s_temp_file (S_HEAD S_GOOD);
    pp_zip_t *table = pp_zip_load (path);
    assert_non_null (table);
    assert_int_equal (pp_zip_size (table), 1);
    pp_zip_destroy (&table);
    unlink (path);
    free (path);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_zip_default_path),
        cmocka_unit_test (test_pp_zip_shipped_table),
        cmocka_unit_test (test_pp_zip_known),
        cmocka_unit_test (test_pp_zip_unknown),
        cmocka_unit_test (test_pp_zip_malformed),
        cmocka_unit_test (test_pp_zip_distance),
        cmocka_unit_test (test_pp_zip_within_atlanta),
        cmocka_unit_test (test_pp_zip_within_brute_force),
        cmocka_unit_test (test_pp_zip_within_speed),
        cmocka_unit_test (test_pp_zip_small_file),
        cmocka_unit_test (test_pp_zip_bad_files),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
