/*  test_filter - which campaigns may see a lead: every rule, schedules across DST, the index  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter_server.h"
#include "pp_json.h"
#include "pp_util.h"
#include "pp_zip.h"

static const char *s_market_json =
    "{\"verticals\": ["
    " {\"name\": \"solar\", \"fields\": {"
    "  \"zip\": {\"type\": \"zip\"}, \"state\": {\"type\": \"state\"},"
    "  \"bill\": {\"type\": \"integer\"}, \"ratio\": {\"type\": \"number\"},"
    "  \"owner\": {\"type\": \"boolean\"}, \"credit\": {\"type\": \"enum\","
    "  \"values\": [\"excellent\", \"good\", \"fair\", \"poor\"]},"
    "  \"roof\": {\"type\": \"string\"}, \"kids\": {\"type\": \"integer\"}}},"
    " {\"name\": \"roofing\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}],"
    " \"buyers\": [{\"name\": \"b1\", \"campaigns\": ["
    "  {\"name\": \"open\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}},"
    "  {\"name\": \"west\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"filters\": {\"states\": [\"CA\", \"NV\"]}},"
    "  {\"name\": \"zips\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"filters\": {\"zips\": [\"90001\", \"90002\"]}},"
    "  {\"name\": \"both\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"filters\": {\"states\": [\"CA\"], \"zips\": [\"90001\", \"89501\"]}},"
    "  {\"name\": \"rules\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"filters\": {\"fields\": {\"bill\": {\"min\": 100, \"max\": 500},"
    "    \"credit\": {\"in\": [\"excellent\", \"good\"]},"
    "    \"owner\": {\"equals\": true}}}},"
    "  {\"name\": \"more\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"filters\": {\"fields\": {\"credit\": {\"not_in\": [\"poor\"]},"
    "    \"roof\": {\"equals\": \"tile\"}, \"kids\": {\"exists\": false},"
    "    \"ratio\": {\"in\": [0.1, 0.25, 2]}, \"zip\": {\"exists\": true}}}},"
    "  {\"name\": \"numbers\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"filters\": {\"fields\": {\"bill\": {\"in\": [100, 200], \"equals\": 200},"
    "    \"ratio\": {\"min\": 0.5}}}},"
    "  {\"name\": \"roofer\", \"vertical\": \"roofing\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}}"
    " ]}]}";

static pp_market_t *s_market;
static filter_index_t *s_index;

static int
s_setup (void **state)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    s_market = pp_market_parse (s_market_json, strlen (s_market_json), &errors, &count);
    for (size_t i = 0; i < count; i++)
        fprintf (stderr, "market: %s: %s\n", errors [i].path, errors [i].message);
    pp_market_errors_free (&errors, count);
    if (!s_market)
        return -1;
    s_index = filter_index_new (s_market, NULL);
    return s_index ? 0 : -1;
}

static int
s_teardown (void **state)
{
    filter_index_destroy (&s_index);
    pp_market_unlink (&s_market);
    return 0;
}

//  ---------------------------------------------------------------------------
//  The index's three ways of matching, checked against each other. The cases
//  below ask filter_exclusion (the brute-force reference) and then the index
//  the same question through these helpers.

//  Two JSON objects with the same members in the same order.
static bool
s_same_members (const cJSON *a, const cJSON *b)
{
    const cJSON *x = a ? a->child : NULL, *y = b ? b->child : NULL;
    for (; x && y; x = x->next, y = y->next)
        if (!x->string || !y->string || !streq (x->string, y->string) || !cJSON_IsString (x)
            || !cJSON_IsString (y) || !streq (x->valuestring, y->valuestring))
            return false;
    return !x && !y;
}

//  The detail filter_index_decide writes for the lead at now_us, parsed
//  (caller deletes). Fails the test unless the detail is JSON whose
//  "campaigns" are the lead's eligible list, unless filter_index_match with
//  `excluded` and without it give the same list and the same exclusions in
//  the same order, and unless every campaign of the lead's vertical is
//  either eligible or excluded. Leaves the lead's eligible list empty.
static cJSON *
s_decide (pp_market_t *market, filter_index_t *index, pp_lead_t *lead, int64_t now_us)
{
    pp_lead_clear_eligible (lead);
    const char *detail = NULL;
    size_t count = filter_index_decide (index, lead, now_us, &detail);
    assert_non_null (detail);
    cJSON *parsed = cJSON_Parse (detail);
    if (!parsed)
        fail_msg ("the detail is not JSON: %.500s", detail);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive (parsed, "campaigns");
    const cJSON *by_detail = cJSON_GetObjectItemCaseSensitive (parsed, "excluded");
    assert_true (cJSON_IsArray (ids) && cJSON_IsObject (by_detail));
    assert_int_equal (cJSON_GetArraySize (parsed), 2);
    assert_int_equal (pp_lead_eligible_size (lead), count);
    assert_int_equal (cJSON_GetArraySize (ids), count);
    uint32_t *list = (uint32_t *) calloc (count + 1, sizeof (uint32_t));
    assert_non_null (list);
    const cJSON *id = ids->child;
    for (size_t i = 0; i < count; i++, id = id->next) {
        list [i] = pp_lead_eligible (lead, i);
        assert_true (cJSON_IsNumber (id) && id->valuedouble == (double) list [i]);
    }
    for (int way = 0; way < 2; way++) {
        pp_lead_clear_eligible (lead);
        cJSON *excluded = way == 0 ? cJSON_CreateObject () : NULL;
        assert_int_equal (filter_index_match (index, lead, now_us, excluded), count);
        assert_int_equal (pp_lead_eligible_size (lead), count);
        for (size_t i = 0; i < count; i++)
            assert_int_equal (pp_lead_eligible (lead, i), list [i]);
        if (excluded && !s_same_members (excluded, by_detail))
            fail_msg ("filter_index_match's `excluded` differs from the detail %.500s", detail);
        cJSON_Delete (excluded);
    }
    pp_lead_clear_eligible (lead);
    free (list);
    size_t of_vertical = 0;
    for (size_t i = 0; i < pp_market_campaign_count (market); i++) {
        const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
        if (campaign->vertical && streq (campaign->vertical->name, pp_lead_vertical (lead)))
            of_vertical++;
    }
    assert_int_equal (count + (size_t) cJSON_GetArraySize (by_detail), of_vertical);
    return parsed;
}

//  What a parsed detail says of a campaign: "" when it is eligible (of the
//  lead's vertical and not excluded), the reason when excluded, NULL when
//  not named (another vertical). Borrowed from detail.
static const char *
s_said (const cJSON *detail, const pp_campaign_t *campaign, pp_lead_t *lead)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (detail, "excluded"), campaign->name);
    if (item)
        return cJSON_IsString (item) ? item->valuestring : "(not a string)";
    if (campaign->vertical && streq (campaign->vertical->name, pp_lead_vertical (lead)))
        return "";
    return NULL;
}

//  The index gives `expected` for the campaign ("" = eligible; "vertical"
//  = the detail does not name it); false, with a message, when not.
static bool
s_index_agrees (pp_market_t *market, filter_index_t *index, const pp_campaign_t *campaign,
                pp_lead_t *lead, int64_t now_us, const char *expected, const char *label)
{
    cJSON *detail = s_decide (market, index, lead, now_us);
    const char *said = s_said (detail, campaign, lead);
    const char *want = streq (expected, "vertical") ? NULL : expected;
    bool same = said && want ? streq (said, want) : said == want;
    if (!same)
        print_error ("%s: campaign %s: the index says '%s', expected '%s'\n", label,
                     campaign->name, said ? said : "(not named)", expected);
    cJSON_Delete (detail);
    return same;
}

//  Why campaign `name` excludes a lead of `vertical` with these fields
//  (JSON object); "" when it takes it.
static void
s_expect (const char *name, const char *vertical, const char *fields, const char *expected)
{
    const pp_campaign_t *campaign = pp_market_campaign (s_market, name);
    assert_non_null (campaign);
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000001");
    pp_lead_set_vertical (lead, vertical);
    cJSON *json = cJSON_Parse (fields);
    assert_non_null (json);
    pp_json_to_fields (json, pp_lead_fields (lead));
    cJSON_Delete (json);
    char buf [96];
    memset (buf, 0, sizeof buf);
    const char *why = filter_exclusion (s_index, campaign, lead, 0, buf, sizeof buf);
    if (!streq (why ? why : "", expected))
        fail_msg ("campaign %s, lead %s: excluded by '%s', expected '%s'", name, fields,
                  why ? why : "", expected);
    if (!s_index_agrees (s_market, s_index, campaign, lead, 0, expected, fields))
        fail_msg ("campaign %s, lead %s: the index disagrees (above)", name, fields);
    pp_lead_destroy (&lead);
}

static void
test_filter_vertical (void **state)
{
    s_expect ("open", "solar", "{}", "");
    s_expect ("open", "roofing", "{}", "vertical");
    s_expect ("open", "", "{}", "vertical");
    s_expect ("open", "Solar", "{}", "vertical");
    s_expect ("roofer", "roofing", "{\"zip\": \"90001\"}", "");
    s_expect ("roofer", "solar", "{\"zip\": \"90001\"}", "vertical");
    //  A campaign without a vertical takes nothing
    pp_campaign_t campaign;
    memset (&campaign, 0, sizeof campaign);
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000002");
    pp_lead_set_vertical (lead, "solar");
    char buf [96];
    assert_string_equal (filter_exclusion (s_index, &campaign, lead, 0, buf, sizeof buf), "vertical");
    pp_lead_destroy (&lead);
}

static void
test_filter_states_zips (void **state)
{
    s_expect ("west", "solar", "{\"state\": \"CA\"}", "");
    s_expect ("west", "solar", "{\"state\": \"NV\"}", "");
    s_expect ("west", "solar", "{\"state\": \"TX\"}", "state");
    s_expect ("west", "solar", "{}", "state");
    s_expect ("west", "solar", "{\"state\": null}", "state");
    s_expect ("west", "solar", "{\"state\": 5}", "state");
    s_expect ("zips", "solar", "{\"zip\": \"90001\"}", "");
    s_expect ("zips", "solar", "{\"zip\": \"90002\", \"state\": \"TX\"}", "");
    s_expect ("zips", "solar", "{\"zip\": \"90003\"}", "zip");
    s_expect ("zips", "solar", "{}", "zip");
    s_expect ("zips", "solar", "{\"zip\": 90001}", "zip");
    //  Both given: both must match
    s_expect ("both", "solar", "{\"state\": \"CA\", \"zip\": \"90001\"}", "");
    s_expect ("both", "solar", "{\"state\": \"NV\", \"zip\": \"89501\"}", "state");
    s_expect ("both", "solar", "{\"state\": \"CA\", \"zip\": \"90002\"}", "zip");
    s_expect ("both", "solar", "{\"zip\": \"90001\"}", "state");
}

static void
test_filter_rules (void **state)
{
    const char *good = "{\"bill\": 100, \"credit\": \"good\", \"owner\": true}";
    s_expect ("rules", "solar", good, "");
    s_expect ("rules", "solar", "{\"bill\": 500, \"credit\": \"excellent\", \"owner\": true}",
              "");
    //  min / max inclusive; absent or non-numeric fails
    s_expect ("rules", "solar", "{\"bill\": 99, \"credit\": \"good\", \"owner\": true}",
              "field:bill");
    s_expect ("rules", "solar", "{\"bill\": 501, \"credit\": \"good\", \"owner\": true}",
              "field:bill");
    s_expect ("rules", "solar", "{\"bill\": 100.5, \"credit\": \"good\", \"owner\": true}", "");
    s_expect ("rules", "solar", "{\"bill\": \"200\", \"credit\": \"good\", \"owner\": true}",
              "field:bill");
    s_expect ("rules", "solar", "{\"credit\": \"good\", \"owner\": true}", "field:bill");
    s_expect ("rules", "solar", "{\"bill\": null, \"credit\": \"good\", \"owner\": true}",
              "field:bill");
    //  in
    s_expect ("rules", "solar", "{\"bill\": 100, \"credit\": \"fair\", \"owner\": true}",
              "field:credit");
    s_expect ("rules", "solar", "{\"bill\": 100, \"credit\": \"Good\", \"owner\": true}",
              "field:credit");
    s_expect ("rules", "solar", "{\"bill\": 100, \"owner\": true}", "field:credit");
    //  equals true: false, absent, or the string "true" fail
    s_expect ("rules", "solar", "{\"bill\": 100, \"credit\": \"good\", \"owner\": false}",
              "field:owner");
    s_expect ("rules", "solar", "{\"bill\": 100, \"credit\": \"good\"}", "field:owner");
    s_expect ("rules", "solar", "{\"bill\": 100, \"credit\": \"good\", \"owner\": \"true\"}",
              "field:owner");
    s_expect ("rules", "solar", "{\"bill\": 100, \"credit\": \"good\", \"owner\": 1}",
              "field:owner");
    //  The first failing rule is named
    s_expect ("rules", "solar", "{\"bill\": 1, \"credit\": \"poor\", \"owner\": false}",
              "field:bill");
}

static void
test_filter_rules_more (void **state)
{
    const char *fields [][2] = {
        {"{\"zip\": \"1\", \"roof\": \"tile\", \"ratio\": 0.25}", ""},
        {"{\"zip\": \"1\", \"roof\": \"tile\", \"ratio\": 2, \"credit\": \"good\"}", ""},
        //  not_in: a listed value fails, absence passes
        {"{\"zip\": \"1\", \"roof\": \"tile\", \"ratio\": 2, \"credit\": \"poor\"}",
         "field:credit"},
        //  equals a string
        {"{\"zip\": \"1\", \"roof\": \"Tile\", \"ratio\": 2}", "field:roof"},
        {"{\"zip\": \"1\", \"ratio\": 2}", "field:roof"},
        //  exists false: present fails, null counts as absent
        {"{\"zip\": \"1\", \"roof\": \"tile\", \"ratio\": 2, \"kids\": 0}", "field:kids"},
        {"{\"zip\": \"1\", \"roof\": \"tile\", \"ratio\": 2, \"kids\": null}", ""},
        //  in of numbers
        {"{\"zip\": \"1\", \"roof\": \"tile\", \"ratio\": 3}", "field:ratio"},
        {"{\"zip\": \"1\", \"roof\": \"tile\"}", "field:ratio"},
        //  a decimal written in the file matches the same decimal in the lead
        {"{\"zip\": \"1\", \"roof\": \"tile\", \"ratio\": 0.1}", ""},
        //  exists true
        {"{\"roof\": \"tile\", \"ratio\": 2}", "field:zip"},
        {"{\"zip\": null, \"roof\": \"tile\", \"ratio\": 2}", "field:zip"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields [0]; i++)
        s_expect ("more", "solar", fields [i][0], fields [i][1]);

    s_expect ("numbers", "solar", "{\"bill\": 200, \"ratio\": 0.5}", "");
    s_expect ("numbers", "solar", "{\"bill\": 200, \"ratio\": 7}", "");
    s_expect ("numbers", "solar", "{\"bill\": 100, \"ratio\": 1}", "field:bill");
    s_expect ("numbers", "solar", "{\"bill\": 300, \"ratio\": 1}", "field:bill");
    s_expect ("numbers", "solar", "{\"bill\": 200.5, \"ratio\": 1}", "field:bill");
    s_expect ("numbers", "solar", "{\"bill\": \"200\", \"ratio\": 1}", "field:bill");
    s_expect ("numbers", "solar", "{\"bill\": 200, \"ratio\": 0.49}", "field:ratio");
}

static void
test_filter_reason_buffer (void **state)
{
    //  The reason is cut to the buffer, never overflowed
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000003");
    pp_lead_set_vertical (lead, "solar");
    const pp_campaign_t *campaign = pp_market_campaign (s_market, "rules");
    char buf [96];
    memset (buf, '#', sizeof buf);
    const char *why = filter_exclusion (s_index, campaign, lead, 0, buf, 8);
    assert_non_null (why);
    assert_string_equal (why, "field:b");
    assert_int_equal (buf [8], '#');
    //  A 64-character field name (the longest) fits the documented 96 bytes
    char name [65];
    memset (name, 'f', 64);
    name [64] = 0;
    char *json = zsys_sprintf (
        "{\"verticals\": [{\"name\": \"v\", \"fields\": {\"%s\": {\"type\": \"integer\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"v\","
        " \"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        " \"filters\": {\"fields\": {\"%s\": {\"min\": 5}}}}]}]}",
        name, name);
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (json, strlen (json), &errors, &count);
    zstr_free (&json);
    pp_market_errors_free (&errors, count);
    assert_non_null (market);
    pp_lead_set_vertical (lead, "v");
    filter_index_t *index = filter_index_new (market, NULL);
    why = filter_exclusion (index, pp_market_campaign (market, "c"), lead, 0, buf, sizeof buf);
    assert_non_null (why);
    assert_int_equal (strlen (why), 6 + 64);
    assert_memory_equal (why, "field:", 6);
    assert_string_equal (why + 6, name);
    pp_lead_destroy (&lead);
    filter_index_destroy (&index);
    pp_market_unlink (&market);
}

//  ---------------------------------------------------------------------------
//  Issue 4: every rule type, schedules across DST, caps, the index against a
//  brute-force scan. Helpers first.

//  The ZIP table, loaded once by the tests that need it.
static pp_zip_t *s_zips;

static const pp_zip_t *
s_zip_table (void)
{
    if (!s_zips) {
        s_zips = pp_zip_load (pp_zip_default_path ());
        if (!s_zips)
            fail_msg ("cannot load the ZIP table %s", pp_zip_default_path ());
    }
    return s_zips;
}

//  A market and its index, built from JSON text; campaign ids are set to
//  1, 2, ... in file order (a parsed market has none until stored).
typedef struct {
    pp_market_t *market;
    filter_index_t *index;
} s_fixture_t;

//  A market parsed from JSON text (its problems printed), campaign ids
//  1, 2, ... in file order; for tests that change it before indexing.
static pp_market_t *
s_parse_market (const char *json)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (json, strlen (json), &errors, &count);
    for (size_t i = 0; i < count && i < 20; i++)
        print_error ("market: %s: %s\n", errors [i].path, errors [i].message);
    pp_market_errors_free (&errors, count);
    if (!market)
        fail_msg ("the test market does not parse");
    for (size_t i = 0; i < pp_market_campaign_count (market); i++)
        pp_market_campaign_at (market, i)->id = (uint32_t) (i + 1);
    return market;
}

static s_fixture_t
s_fixture (const char *json, const pp_zip_t *zip)
{
    s_fixture_t fixture;
    fixture.market = s_parse_market (json);
    fixture.index = filter_index_new (fixture.market, zip);
    assert_non_null (fixture.index);
    return fixture;
}

static void
s_fixture_destroy (s_fixture_t *fixture)
{
    filter_index_destroy (&fixture->index);
    pp_market_unlink (&fixture->market);
}

//  A lead of `vertical` with these fields (JSON object text), publisher and
//  source ("" = none).
static pp_lead_t *
s_lead (const char *vertical, const char *fields, const char *publisher, const char *source)
{
    static unsigned counter = 0;
    char id [27];
    snprintf (id, sizeof id, "01J0000000000000000%07u", ++counter % 10000000);
    pp_lead_t *lead = pp_lead_new (id);
    assert_non_null (lead);
    pp_lead_set_vertical (lead, vertical);
    if (publisher && *publisher)
        pp_lead_set_publisher (lead, publisher);
    if (source && *source)
        pp_lead_set_source (lead, source);
    cJSON *json = cJSON_Parse (fields);
    if (!json)
        fail_msg ("bad test fields %s", fields);
    pp_json_to_fields (json, pp_lead_fields (lead));
    cJSON_Delete (json);
    return lead;
}

//  Why campaign `name` of the fixture excludes the lead at now_us ("" = it
//  takes it), checked against `expected`.
static void
s_check (s_fixture_t *fixture, const char *name, pp_lead_t *lead, int64_t now_us,
         const char *expected, const char *label)
{
    const pp_campaign_t *campaign = pp_market_campaign (fixture->market, name);
    if (!campaign)
        fail_msg ("no campaign %s", name);
    char buf [96];
    const char *why = filter_exclusion (fixture->index, campaign, lead, now_us, buf, sizeof buf);
    if (!streq (why ? why : "", expected))
        fail_msg ("%s: campaign %s excludes by '%s', expected '%s'", label, name,
                  why ? why : "", expected);
    if (!s_index_agrees (fixture->market, fixture->index, campaign, lead, now_us, expected, label))
        fail_msg ("%s: campaign %s: the index disagrees (above)", label, name);
}

//  One lead with fields and publisher/source against one campaign at time 0.
static void
s_check_fields (s_fixture_t *fixture, const char *name, const char *fields,
                const char *publisher, const char *source, const char *expected)
{
    pp_lead_t *lead = s_lead ("solar", fields, publisher, source);
    char label [256];
    snprintf (label, sizeof label, "lead %s publisher '%s' source '%s'", fields,
              publisher ? publisher : "", source ? source : "");
    s_check (fixture, name, lead, 0, expected, label);
    pp_lead_destroy (&lead);
}

//  UTC instant in microseconds.
static int64_t
s_utc (int year, int month, int day, int hour, int minute, int second)
{
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return (int64_t) timegm (&tm) * 1000000;
}

//  The reference local time: the C library without any cache of ours.
static void
s_ref_local (const char *zone, int64_t now_us, int *wday, int *minute, char *date)
{
    char *saved = getenv ("TZ") ? strdup (getenv ("TZ")) : NULL;
    setenv ("TZ", zone, 1);
    tzset ();
    time_t secs = (time_t) (now_us / 1000000);
    struct tm tm;
    localtime_r (&secs, &tm);
    if (saved) {
        setenv ("TZ", saved, 1);
        free (saved);
    }
    else
        unsetenv ("TZ");
    tzset ();
    *wday = tm.tm_wday;
    *minute = tm.tm_hour * 60 + tm.tm_min;
    strftime (date, 11, "%Y-%m-%d", &tm);
}

//  A small deterministic generator (xorshift64*), seeded from PP_TEST_SEED
//  when set so a failing run can be repeated.
static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static void
s_seed (void)
{
    const char *seed = getenv ("PP_TEST_SEED");
    s_rng = seed && *seed ? strtoull (seed, NULL, 10) : (uint64_t) time (NULL);
    if (s_rng == 0)
        s_rng = 1;
    print_message ("seed %llu (PP_TEST_SEED repeats it)\n", (unsigned long long) s_rng);
    s_rng = s_rng * 0x9e3779b97f4a7c15ULL + 1;
}

static uint32_t
s_rand (uint32_t bound)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (uint32_t) (((s_rng * 0x2545F4914F6CDD1DULL) >> 32) % bound);
}

static bool
s_chance (int percent)
{
    return (int) s_rand (100) < percent;
}

//  ---------------------------------------------------------------------------
//  Publisher and source allow / deny lists

static void
test_filter_publishers_sources (void **state)
{
    s_fixture_t fx = s_fixture (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"pallow\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"publishers\": {\"allow\": [\"acme\", \"beta\"]}}},"
        "  {\"name\": \"pdeny\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"publishers\": {\"deny\": [\"spam\"]}}},"
        "  {\"name\": \"pboth\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"publishers\": {\"allow\": [\"acme\", \"beta\"], \"deny\": [\"beta\"]}}},"
        "  {\"name\": \"sallow\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"sources\": {\"allow\": [\"site-1\", \"Site 2\"]}}},"
        "  {\"name\": \"sdeny\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"sources\": {\"deny\": [\"bad\", \"worse\"]}}},"
        "  {\"name\": \"mixed\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"publishers\": {\"deny\": [\"spam\"]},"
        "                 \"sources\": {\"allow\": [\"site-1\"]}}}"
        " ]}]}",
        NULL);
    //  allow: listed names only; no publisher is not on the list; exact case
    s_check_fields (&fx, "pallow", "{}", "acme", "", "");
    s_check_fields (&fx, "pallow", "{}", "beta", "x", "");
    s_check_fields (&fx, "pallow", "{}", "gamma", "", "publisher");
    s_check_fields (&fx, "pallow", "{}", "Acme", "", "publisher");
    s_check_fields (&fx, "pallow", "{}", "", "", "publisher");
    //  deny: every name but the listed, no publisher included
    s_check_fields (&fx, "pdeny", "{}", "acme", "", "");
    s_check_fields (&fx, "pdeny", "{}", "", "", "");
    s_check_fields (&fx, "pdeny", "{}", "spam", "", "publisher");
    s_check_fields (&fx, "pdeny", "{}", "spam2", "", "");
    //  allow and deny: deny wins
    s_check_fields (&fx, "pboth", "{}", "acme", "", "");
    s_check_fields (&fx, "pboth", "{}", "beta", "", "publisher");
    s_check_fields (&fx, "pboth", "{}", "gamma", "", "publisher");
    //  sources likewise
    s_check_fields (&fx, "sallow", "{}", "acme", "site-1", "");
    s_check_fields (&fx, "sallow", "{}", "acme", "Site 2", "");
    s_check_fields (&fx, "sallow", "{}", "acme", "site-2", "source");
    s_check_fields (&fx, "sallow", "{}", "acme", "", "source");
    s_check_fields (&fx, "sdeny", "{}", "acme", "", "");
    s_check_fields (&fx, "sdeny", "{}", "acme", "good", "");
    s_check_fields (&fx, "sdeny", "{}", "acme", "bad", "source");
    s_check_fields (&fx, "sdeny", "{}", "acme", "worse", "source");
    s_check_fields (&fx, "sdeny", "{}", "acme", "Bad", "");
    //  both kinds: publisher is judged first
    s_check_fields (&fx, "mixed", "{}", "acme", "site-1", "");
    s_check_fields (&fx, "mixed", "{}", "spam", "site-9", "publisher");
    s_check_fields (&fx, "mixed", "{}", "acme", "site-9", "source");
    s_fixture_destroy (&fx);
}

//  ---------------------------------------------------------------------------
//  ZIP lists (big ones) and ZIP radius against the shipped table

static void
test_filter_zip_lists (void **state)
{
    //  A 20,000-ZIP list: every even ZIP number from 10000 up
    char *list = strdup ("");
    assert_non_null (list);
    size_t size = 0;
    for (int n = 10000; n < 50000; n += 2) {
        char entry [16];
        snprintf (entry, sizeof entry, "%s\"%05d\"", size ? "," : "", n);
        list = (char *) realloc (list, size + strlen (entry) + 1);
        assert_non_null (list);
        memcpy (list + size, entry, strlen (entry) + 1);
        size += strlen (entry);
    }
    char *json = zsys_sprintf (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"},"
        " \"state\": {\"type\": \"state\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"big\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}, \"filters\": {\"zips\": [%s]}},"
        "  {\"name\": \"low\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"zips\": [\"00501\", \"00000\", \"99999\"]}}]}]}",
        list);
    free (list);
    s_fixture_t fx = s_fixture (json, NULL);
    zstr_free (&json);
    for (int n = 9990; n < 50010; n++) {
        char fields [64];
        snprintf (fields, sizeof fields, "{\"zip\": \"%05d\"}", n);
        bool in = n >= 10000 && n < 50000 && n % 2 == 0;
        s_check_fields (&fx, "big", fields, "", "", in ? "" : "zip");
    }
    //  Leading zeros and the ends of the range
    s_check_fields (&fx, "low", "{\"zip\": \"00501\"}", "", "", "");
    s_check_fields (&fx, "low", "{\"zip\": \"00000\"}", "", "", "");
    s_check_fields (&fx, "low", "{\"zip\": \"99999\"}", "", "", "");
    s_check_fields (&fx, "low", "{\"zip\": \"501\"}", "", "", "zip");
    s_check_fields (&fx, "low", "{\"zip\": \"00502\"}", "", "", "zip");
    s_check_fields (&fx, "low", "{\"zip\": \"00501-1234\"}", "", "", "zip");
    s_check_fields (&fx, "low", "{\"zip\": \" 00501\"}", "", "", "zip");
    s_check_fields (&fx, "low", "{\"zip\": 501}", "", "", "zip");
    s_check_fields (&fx, "low", "{\"zip\": null}", "", "", "zip");
    s_check_fields (&fx, "low", "{}", "", "", "zip");
    s_fixture_destroy (&fx);
}

static void
test_filter_zip_radius (void **state)
{
    const pp_zip_t *table = s_zip_table ();
    const char *json =
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"},"
        " \"state\": {\"type\": \"state\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"atlanta\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"zip_radius\": {\"zip\": \"30301\", \"miles\": 25}}},"
        "  {\"name\": \"nyc\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"zip_radius\": {\"zip\": \"10001\", \"miles\": 2.5}}},"
        "  {\"name\": \"wide\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"zip_radius\": {\"zip\": \"66952\", \"miles\": 500}}},"
        "  {\"name\": \"nowhere\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"zip_radius\": {\"zip\": \"00000\", \"miles\": 100}}},"
        "  {\"name\": \"listed\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"zips\": [\"30303\", \"10001\"],"
        "                 \"zip_radius\": {\"zip\": \"30301\", \"miles\": 25}}}"
        " ]}]}";
    s_fixture_t fx = s_fixture (json, table);
    struct {
        const char *name;
        const char *centre;
        double miles;
        size_t inside;          //  counted below
    } radii [] = {{"atlanta", "30301", 25, 0}, {"nyc", "10001", 2.5, 0}, {"wide", "66952", 500, 0}};
    //  Every ZIP of the table: eligible exactly when within the distance
    size_t total = 0;
    for (int n = 0; n < PP_ZIP_SLOTS; n++) {
        const pp_zip_entry_t *entry = pp_zip_find_number (table, n);
        if (!entry)
            continue;
        total++;
        char fields [64];
        snprintf (fields, sizeof fields, "{\"zip\": \"%05d\"}", n);
        pp_lead_t *lead = s_lead ("solar", fields, "", "");
        for (size_t r = 0; r < sizeof radii / sizeof radii [0]; r++) {
            const pp_zip_entry_t *centre = pp_zip_find (table, radii [r].centre);
            assert_non_null (centre);
            double miles = pp_zip_distance_miles (centre, entry);
            bool in = miles <= radii [r].miles;
            if (in)
                radii [r].inside++;
            char label [96];
            snprintf (label, sizeof label, "ZIP %05d at %.4f miles from %s", n, miles,
                      radii [r].centre);
            s_check (&fx, radii [r].name, lead, 0, in ? "" : "zip_radius", label);
        }
        s_check (&fx, "nowhere", lead, 0, "zip_radius", fields);
        pp_lead_destroy (&lead);
    }
    assert_true (total > 30000);
    //  The circles are real ones: some ZIPs in, most out
    for (size_t r = 0; r < sizeof radii / sizeof radii [0]; r++) {
        print_message ("%s: %zu of %zu ZIPs within %.1f miles of %s\n", radii [r].name,
                       radii [r].inside, total, radii [r].miles, radii [r].centre);
        assert_true (radii [r].inside > 1 && radii [r].inside < total / 2);
    }
    //  A ZIP not in the table, a bad ZIP, none
    s_check_fields (&fx, "atlanta", "{\"zip\": \"30301-0001\"}", "", "", "zip_radius");
    s_check_fields (&fx, "atlanta", "{\"zip\": 30301}", "", "", "zip_radius");
    s_check_fields (&fx, "atlanta", "{}", "", "", "zip_radius");
    //  A list and a radius: both must hold; the list is named first
    s_check_fields (&fx, "listed", "{\"zip\": \"30303\"}", "", "", "");
    s_check_fields (&fx, "listed", "{\"zip\": \"10001\"}", "", "", "zip_radius");
    s_check_fields (&fx, "listed", "{\"zip\": \"30302\"}", "", "", "zip");
    s_fixture_destroy (&fx);

    //  Without a table a radius filter matches nothing
    fx = s_fixture (json, NULL);
    s_check_fields (&fx, "atlanta", "{\"zip\": \"30301\"}", "", "", "zip_radius");
    s_check_fields (&fx, "listed", "{\"zip\": \"30303\"}", "", "", "zip_radius");
    s_fixture_destroy (&fx);
}

//  ---------------------------------------------------------------------------
//  Every field rule, alone, with good and bad values

static void
test_filter_field_rules_each (void **state)
{
    s_fixture_t fx = s_fixture (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {"
        "  \"bill\": {\"type\": \"integer\"}, \"ratio\": {\"type\": \"number\"},"
        "  \"owner\": {\"type\": \"boolean\"}, \"roof\": {\"type\": \"string\"},"
        "  \"credit\": {\"type\": \"enum\", \"values\": [\"good\", \"fair\", \"poor\"]},"
        "  \"kids\": {\"type\": \"integer\"}, \"big\": {\"type\": \"integer\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"min\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"bill\": {\"min\": 100}}}},"
        "  {\"name\": \"max\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"ratio\": {\"max\": 0.5}}}},"
        "  {\"name\": \"in\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"credit\": {\"in\": [\"good\", \"fair\"]}}}},"
        "  {\"name\": \"inbool\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"owner\": {\"in\": [true]}}}},"
        "  {\"name\": \"notin\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"kids\": {\"not_in\": [0, 1]}}}},"
        "  {\"name\": \"eqnum\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"ratio\": {\"equals\": 1.5}}}},"
        "  {\"name\": \"eqint\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"bill\": {\"equals\": 250}}}},"
        "  {\"name\": \"eqstr\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"roof\": {\"equals\": \"tile\"}}}},"
        "  {\"name\": \"eqfalse\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"owner\": {\"equals\": false}}}},"
        "  {\"name\": \"exists\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"roof\": {\"exists\": true}}}},"
        "  {\"name\": \"absent\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"roof\": {\"exists\": false}}}},"
        "  {\"name\": \"range\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"ratio\": {\"min\": -1.25, \"max\": -1.25}}}},"
        "  {\"name\": \"inbig\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"fields\": {\"big\": {\"in\": [3000000000, 1000000000000000]}}}}"
        " ]}]}",
        NULL);
    struct {
        const char *campaign;
        const char *fields;
        const char *expected;
    } cases [] = {
        //  min (inclusive); absent, null, text and booleans fail
        {"min", "{\"bill\": 100}", ""},
        {"min", "{\"bill\": 5000000}", ""},
        {"min", "{\"bill\": 99}", "field:bill"},
        {"min", "{\"bill\": 99.99}", "field:bill"},
        {"min", "{\"bill\": 100.01}", ""},
        {"min", "{\"bill\": -100}", "field:bill"},
        {"min", "{}", "field:bill"},
        {"min", "{\"bill\": null}", "field:bill"},
        {"min", "{\"bill\": \"150\"}", "field:bill"},
        {"min", "{\"bill\": true}", "field:bill"},
        //  max (inclusive), negative numbers pass
        {"max", "{\"ratio\": 0.5}", ""},
        {"max", "{\"ratio\": 0}", ""},
        {"max", "{\"ratio\": -3}", ""},
        {"max", "{\"ratio\": 0.5000001}", "field:ratio"},
        {"max", "{\"ratio\": 1}", "field:ratio"},
        {"max", "{}", "field:ratio"},
        //  a one-point range
        {"range", "{\"ratio\": -1.25}", ""},
        {"range", "{\"ratio\": -1.24}", "field:ratio"},
        {"range", "{\"ratio\": -1.26}", "field:ratio"},
        //  in (exact text), absent fails
        {"in", "{\"credit\": \"good\"}", ""},
        {"in", "{\"credit\": \"fair\"}", ""},
        {"in", "{\"credit\": \"poor\"}", "field:credit"},
        {"in", "{\"credit\": \"GOOD\"}", "field:credit"},
        {"in", "{\"credit\": \"good \"}", "field:credit"},
        {"in", "{\"credit\": [\"good\"]}", "field:credit"},
        {"in", "{}", "field:credit"},
        {"inbool", "{\"owner\": true}", ""},
        {"inbool", "{\"owner\": false}", "field:owner"},
        {"inbool", "{}", "field:owner"},
        //  in of large integers: as the file wrote them
        {"inbig", "{\"big\": 3000000000}", ""},
        {"inbig", "{\"big\": 3000000001}", "field:big"},
        {"inbig", "{\"big\": 1000000000000000}", ""},
        //  not_in: listed values fail (an integral number too), absent passes
        {"notin", "{\"kids\": 2}", ""},
        {"notin", "{\"kids\": 0}", "field:kids"},
        {"notin", "{\"kids\": 1}", "field:kids"},
        {"notin", "{\"kids\": [0]}", ""},
        {"notin", "{\"kids\": -1}", ""},
        {"notin", "{}", ""},
        {"notin", "{\"kids\": null}", ""},
        //  equals: same type and value
        {"eqnum", "{\"ratio\": 1.5}", ""},
        {"eqnum", "{\"ratio\": 1.50000001}", "field:ratio"},
        {"eqnum", "{\"ratio\": \"1.5\"}", "field:ratio"},
        {"eqnum", "{}", "field:ratio"},
        {"eqint", "{\"bill\": 250}", ""},
        {"eqint", "{\"bill\": 250.0}", ""},
        {"eqint", "{\"bill\": 251}", "field:bill"},
        {"eqint", "{\"bill\": \"250\"}", "field:bill"},
        {"eqstr", "{\"roof\": \"tile\"}", ""},
        {"eqstr", "{\"roof\": \"Tile\"}", "field:roof"},
        {"eqstr", "{\"roof\": \"\"}", "field:roof"},
        {"eqstr", "{\"roof\": [\"tile\"]}", "field:roof"},
        {"eqstr", "{\"roof\": {\"tile\": 1}}", "field:roof"},
        {"eqstr", "{}", "field:roof"},
        {"eqfalse", "{\"owner\": false}", ""},
        {"eqfalse", "{\"owner\": true}", "field:owner"},
        {"eqfalse", "{\"owner\": 0}", "field:owner"},
        {"eqfalse", "{}", "field:owner"},
        //  exists: null counts as absent; any value (even "") as present
        {"exists", "{\"roof\": \"tile\"}", ""},
        {"exists", "{\"roof\": \"\"}", ""},
        {"exists", "{\"roof\": 0}", ""},
        {"exists", "{\"roof\": null}", "field:roof"},
        {"exists", "{}", "field:roof"},
        {"absent", "{}", ""},
        {"absent", "{\"roof\": null}", ""},
        {"absent", "{\"roof\": \"\"}", "field:roof"},
        {"absent", "{\"roof\": \"tile\"}", "field:roof"},
    };
    size_t failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        pp_lead_t *lead = s_lead ("solar", cases [i].fields, "", "");
        const pp_campaign_t *campaign = pp_market_campaign (fx.market, cases [i].campaign);
        assert_non_null (campaign);
        char buf [96];
        const char *why = filter_exclusion (fx.index, campaign, lead, 0, buf, sizeof buf);
        if (!streq (why ? why : "", cases [i].expected)) {
            print_error ("campaign %s, lead %s: excluded by '%s', expected '%s'\n",
                         cases [i].campaign, cases [i].fields, why ? why : "",
                         cases [i].expected);
            failures++;
        }
        if (!s_index_agrees (fx.market, fx.index, campaign, lead, 0, cases [i].expected,
                             cases [i].fields))
            failures++;
        pp_lead_destroy (&lead);
    }
    s_fixture_destroy (&fx);
    if (failures)
        fail_msg ("%zu field rule cases failed (above)", failures);
}

//  ---------------------------------------------------------------------------
//  Schedules: windows per day, day ranges, 24:00, holidays, time zones

static const char *s_schedule_market =
    "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}],"
    " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
    "  {\"name\": \"week\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"schedule\": {\"time_zone\": \"UTC\", \"hours\": {"
    "     \"mon-fri\": [\"09:00-12:00\", \"13:00-17:30\"], \"sat\": \"10:00-24:00\","
    "     \"sun\": \"00:00-00:30\"}, \"holidays\": [\"2026-12-25\"]}},"
    "  {\"name\": \"july\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"schedule\": {\"time_zone\": \"America/New_York\", \"holidays\": [\"2026-07-04\"]}},"
    "  {\"name\": \"tokyo\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"schedule\": {\"time_zone\": \"Asia/Tokyo\"}},"
    "  {\"name\": \"ny\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"schedule\": {\"time_zone\": \"America/New_York\", \"hours\": {\"mon-sun\": \"09:00-17:00\"}}},"
    "  {\"name\": \"phoenix\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"schedule\": {\"time_zone\": \"America/Phoenix\", \"hours\": {\"mon-sun\": \"09:00-17:00\"}}},"
    "  {\"name\": \"howe\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"schedule\": {\"time_zone\": \"Australia/Lord_Howe\", \"hours\": {\"sun\": \"01:45-02:15\"}}},"
    "  {\"name\": \"weekend\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
    "   \"schedule\": {\"time_zone\": \"Europe/Berlin\", \"hours\": {\"sat-sun\": \"00:00-24:00\"}}}"
    " ]}]}";

typedef struct {
    const char *campaign;
    int64_t at;
    const char *expected;
} s_when_t;

//  Check cases forwards, then backwards (the answer is a function of the
//  instant alone, whatever was asked before); destroys the fixture, then
//  fails the test if any case failed.
static void
s_check_times (s_fixture_t *fx, const s_when_t *cases, size_t count)
{
    pp_lead_t *lead = s_lead ("solar", "{}", "", "");
    size_t failures = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < count; k++) {
            const s_when_t *when = &cases [pass == 0 ? k : count - 1 - k];
            const pp_campaign_t *campaign = pp_market_campaign (fx->market, when->campaign);
            assert_non_null (campaign);
            char buf [96];
            const char *why = filter_exclusion (fx->index, campaign, lead, when->at, buf,
                                                sizeof buf);
            char iso [40];
            pp_time_iso (when->at, iso, sizeof iso);
            if (!streq (why ? why : "", when->expected)) {
                print_error ("%s pass: campaign %s at %s: '%s', expected '%s'\n",
                             pass ? "backward" : "forward", when->campaign, iso,
                             why ? why : "", when->expected);
                failures++;
            }
            //  The index (its local time kept per zone and second) the same
            if (!s_index_agrees (fx->market, fx->index, campaign, lead, when->at,
                                 when->expected, iso))
                failures++;
        }
    pp_lead_destroy (&lead);
    s_fixture_destroy (fx);
    if (failures)
        fail_msg ("%zu schedule cases failed (above)", failures);
}

static void
test_filter_schedule_windows (void **state)
{
    s_fixture_t fx = s_fixture (s_schedule_market, NULL);
    s_when_t cases [200];
    size_t count = 0;
    //  Monday 2026-01-05 .. Friday 2026-01-09: two windows a day (mon-fri range)
    for (int day = 5; day <= 9; day++) {
        const struct {
            int hour, minute, second;
            const char *expected;
        } times [] = {
            {0, 0, 0, "schedule"}, {8, 59, 59, "schedule"}, {9, 0, 0, ""}, {11, 59, 59, ""},
            {12, 0, 0, "schedule"}, {12, 59, 59, "schedule"}, {13, 0, 0, ""}, {17, 29, 59, ""},
            {17, 30, 0, "schedule"}, {23, 59, 59, "schedule"}
        };
        for (size_t t = 0; t < sizeof times / sizeof times [0]; t++)
            cases [count++] = (s_when_t) {"week", s_utc (2026, 1, day, times [t].hour,
                                                         times [t].minute, times [t].second),
                                          times [t].expected};
    }
    //  Saturday: open until the end of the day (24:00); Sunday: half an hour
    cases [count++] = (s_when_t) {"week", s_utc (2026, 1, 10, 9, 59, 59), "schedule"};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 1, 10, 10, 0, 0), ""};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 1, 10, 23, 59, 59), ""};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 1, 11, 0, 0, 0), ""};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 1, 11, 0, 29, 59), ""};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 1, 11, 0, 30, 0), "schedule"};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 1, 11, 12, 0, 0), "schedule"};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 1, 12, 9, 0, 0), ""};
    //  Christmas 2026 is a Friday: closed all day, even inside a window
    cases [count++] = (s_when_t) {"week", s_utc (2026, 12, 24, 10, 0, 0), ""};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 12, 25, 0, 0, 0), "holiday"};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 12, 25, 10, 0, 0), "holiday"};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 12, 25, 23, 59, 59), "holiday"};
    cases [count++] = (s_when_t) {"week", s_utc (2026, 12, 28, 10, 0, 0), ""};
    //  A holiday in New York (EDT, UTC-4) without hours: the local date counts
    cases [count++] = (s_when_t) {"july", s_utc (2026, 7, 4, 3, 59, 59), ""};
    cases [count++] = (s_when_t) {"july", s_utc (2026, 7, 4, 4, 0, 0), "holiday"};
    cases [count++] = (s_when_t) {"july", s_utc (2026, 7, 4, 16, 0, 0), "holiday"};
    cases [count++] = (s_when_t) {"july", s_utc (2026, 7, 5, 3, 59, 59), "holiday"};
    cases [count++] = (s_when_t) {"july", s_utc (2026, 7, 5, 4, 0, 0), ""};
    //  A zone alone: always open
    cases [count++] = (s_when_t) {"tokyo", s_utc (2026, 7, 4, 4, 0, 0), ""};
    cases [count++] = (s_when_t) {"tokyo", s_utc (2026, 12, 25, 19, 0, 0), ""};
    //  Berlin weekend (CET, UTC+1): Friday 23:00 UTC is Saturday 00:00 local
    cases [count++] = (s_when_t) {"weekend", s_utc (2026, 1, 9, 22, 59, 59), "schedule"};
    cases [count++] = (s_when_t) {"weekend", s_utc (2026, 1, 9, 23, 0, 0), ""};
    cases [count++] = (s_when_t) {"weekend", s_utc (2026, 1, 11, 22, 59, 59), ""};
    cases [count++] = (s_when_t) {"weekend", s_utc (2026, 1, 11, 23, 0, 0), "schedule"};
    assert_true (count <= sizeof cases / sizeof cases [0]);
    s_check_times (&fx, cases, count);
}

//  New York opens 09:00-17:00 local every day: 14:00-22:00 UTC in winter
//  (EST), 13:00-21:00 UTC in summer (EDT); DST starts 2026-03-08 07:00 UTC
//  and ends 2026-11-01 06:00 UTC. Phoenix has no DST: 16:00-24:00 UTC all
//  year. Lord Howe moves by half an hour: +11 until 2026-04-04 15:00 UTC
//  (02:00 local becomes 01:30), +10:30 until 2026-10-03 15:30 UTC.
static void
test_filter_schedule_dst (void **state)
{
    s_fixture_t fx = s_fixture (s_schedule_market, NULL);
    const s_when_t cases [] = {
        //  the day after the spring change first, then the day before
        {"ny", s_utc (2026, 3, 8, 12, 59, 59), "schedule"},
        {"ny", s_utc (2026, 3, 8, 13, 0, 0), ""},
        {"ny", s_utc (2026, 3, 8, 20, 59, 59), ""},
        {"ny", s_utc (2026, 3, 8, 21, 0, 0), "schedule"},
        {"ny", s_utc (2026, 3, 7, 13, 59, 59), "schedule"},
        {"ny", s_utc (2026, 3, 7, 14, 0, 0), ""},
        {"ny", s_utc (2026, 3, 7, 21, 59, 59), ""},
        {"ny", s_utc (2026, 3, 7, 22, 0, 0), "schedule"},
        {"ny", s_utc (2026, 3, 9, 12, 59, 59), "schedule"},
        {"ny", s_utc (2026, 3, 9, 13, 0, 0), ""},
        {"ny", s_utc (2026, 3, 9, 21, 0, 0), "schedule"},
        //  autumn: after, then before
        {"ny", s_utc (2026, 11, 1, 13, 59, 59), "schedule"},
        {"ny", s_utc (2026, 11, 1, 14, 0, 0), ""},
        {"ny", s_utc (2026, 11, 1, 21, 59, 59), ""},
        {"ny", s_utc (2026, 11, 1, 22, 0, 0), "schedule"},
        {"ny", s_utc (2026, 10, 31, 12, 59, 59), "schedule"},
        {"ny", s_utc (2026, 10, 31, 13, 0, 0), ""},
        {"ny", s_utc (2026, 10, 31, 20, 59, 59), ""},
        {"ny", s_utc (2026, 10, 31, 21, 0, 0), "schedule"},
        {"ny", s_utc (2026, 11, 2, 14, 0, 0), ""},
        {"ny", s_utc (2026, 11, 2, 13, 59, 59), "schedule"},
        //  Phoenix: the same UTC hours on both sides of both changes
        {"phoenix", s_utc (2026, 3, 8, 15, 59, 59), "schedule"},
        {"phoenix", s_utc (2026, 3, 8, 16, 0, 0), ""},
        {"phoenix", s_utc (2026, 3, 8, 23, 59, 59), ""},
        {"phoenix", s_utc (2026, 3, 9, 0, 0, 0), "schedule"},
        {"phoenix", s_utc (2026, 3, 7, 15, 59, 59), "schedule"},
        {"phoenix", s_utc (2026, 3, 7, 16, 0, 0), ""},
        {"phoenix", s_utc (2026, 11, 1, 15, 59, 59), "schedule"},
        {"phoenix", s_utc (2026, 11, 1, 16, 0, 0), ""},
        {"phoenix", s_utc (2026, 10, 31, 23, 59, 59), ""},
        {"phoenix", s_utc (2026, 11, 1, 0, 0, 0), "schedule"},
        //  Lord Howe, Sunday 2026-04-05 01:45-02:15 local: 01:45-02:00 (+11)
        //  happens, then 01:30 (+10:30) comes again and 01:45-02:15 once more
        {"howe", s_utc (2026, 4, 4, 14, 44, 59), "schedule"},
        {"howe", s_utc (2026, 4, 4, 14, 45, 0), ""},
        {"howe", s_utc (2026, 4, 4, 14, 59, 59), ""},
        {"howe", s_utc (2026, 4, 4, 15, 0, 0), "schedule"},
        {"howe", s_utc (2026, 4, 4, 15, 14, 59), "schedule"},
        {"howe", s_utc (2026, 4, 4, 15, 15, 0), ""},
        {"howe", s_utc (2026, 4, 4, 15, 44, 59), ""},
        {"howe", s_utc (2026, 4, 4, 15, 45, 0), "schedule"},
        //  ... and Sunday 2026-10-04 at +10:30: 01:45 local is 15:15 UTC, and
        //  at 15:30 UTC the clock jumps from 02:00 to 02:30 (past the window)
        {"howe", s_utc (2026, 10, 3, 15, 14, 59), "schedule"},
        {"howe", s_utc (2026, 10, 3, 15, 15, 0), ""},
        {"howe", s_utc (2026, 10, 3, 15, 29, 59), ""},
        {"howe", s_utc (2026, 10, 3, 15, 30, 0), "schedule"},
    };
    s_check_times (&fx, cases, sizeof cases / sizeof cases [0]);
}

static void
test_filter_local_time (void **state)
{
    const struct {
        const char *zone;
        int64_t at;
        int wday;
        int minute;
        const char *date;
    } cases [] = {
        //  after a change, then before it
        {"America/New_York", s_utc (2026, 3, 8, 7, 0, 0), 0, 3 * 60, "2026-03-08"},
        {"America/New_York", s_utc (2026, 3, 8, 6, 59, 59), 0, 1 * 60 + 59, "2026-03-08"},
        {"America/New_York", s_utc (2026, 3, 8, 5, 0, 0), 0, 0, "2026-03-08"},
        {"America/New_York", s_utc (2026, 3, 8, 4, 59, 59), 6, 23 * 60 + 59, "2026-03-07"},
        {"America/New_York", s_utc (2026, 11, 1, 6, 0, 0), 0, 1 * 60, "2026-11-01"},
        {"America/New_York", s_utc (2026, 11, 1, 5, 59, 59), 0, 1 * 60 + 59, "2026-11-01"},
        {"America/New_York", s_utc (2026, 11, 1, 5, 0, 0), 0, 1 * 60, "2026-11-01"},
        {"America/New_York", s_utc (2026, 11, 1, 3, 59, 59), 6, 23 * 60 + 59, "2026-10-31"},
        {"America/Phoenix", s_utc (2026, 7, 1, 7, 0, 0), 3, 0, "2026-07-01"},
        {"America/Phoenix", s_utc (2026, 1, 1, 7, 0, 0), 4, 0, "2026-01-01"},
        {"Australia/Lord_Howe", s_utc (2026, 4, 4, 15, 0, 0), 0, 1 * 60 + 30, "2026-04-05"},
        {"Australia/Lord_Howe", s_utc (2026, 4, 4, 14, 59, 59), 0, 1 * 60 + 59, "2026-04-05"},
        {"Australia/Lord_Howe", s_utc (2026, 10, 3, 15, 30, 0), 0, 2 * 60 + 30, "2026-10-04"},
        {"Australia/Lord_Howe", s_utc (2026, 10, 3, 15, 29, 59), 0, 1 * 60 + 59, "2026-10-04"},
        {"Asia/Kathmandu", s_utc (2026, 6, 1, 18, 14, 0), 1, 23 * 60 + 59, "2026-06-01"},
        {"Asia/Kathmandu", s_utc (2026, 6, 1, 18, 15, 0), 2, 0, "2026-06-02"},
        {"UTC", s_utc (2028, 2, 29, 23, 59, 0), 2, 23 * 60 + 59, "2028-02-29"},
    };
    size_t count = sizeof cases / sizeof cases [0];
    size_t failures = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < count; k++) {
            size_t i = pass == 0 ? k : count - 1 - k;
            int wday = -1, minute = -1, ref_wday, ref_minute;
            char date [11] = "", ref_date [11];
            int rc = filter_local_time (cases [i].zone, cases [i].at, &wday, &minute, date);
            s_ref_local (cases [i].zone, cases [i].at, &ref_wday, &ref_minute, ref_date);
            //  The expectations agree with the C library itself
            assert_int_equal (ref_wday, cases [i].wday);
            assert_int_equal (ref_minute, cases [i].minute);
            assert_string_equal (ref_date, cases [i].date);
            if (rc || wday != cases [i].wday || minute != cases [i].minute
                || !streq (date, cases [i].date)) {
                print_error ("%s pass: %s at %lld: rc %d wday %d minute %d date %s,"
                             " expected wday %d minute %d date %s\n",
                             pass ? "backward" : "forward", cases [i].zone,
                             (long long) (cases [i].at / 1000000), rc, wday, minute, date,
                             cases [i].wday, cases [i].minute, cases [i].date);
                failures++;
            }
        }
    //  Unknown zones; NULL is UTC
    int wday, minute;
    char date [11];
    assert_int_equal (filter_local_time ("Mars/Olympus_Mons", 0, &wday, &minute, date), -1);
    assert_int_equal (filter_local_time ("../../etc/passwd", 0, &wday, &minute, date), -1);
    assert_int_equal (filter_local_time (NULL, s_utc (2026, 1, 1, 12, 34, 0), &wday, &minute,
                                         date), 0);
    assert_int_equal (wday, 4);
    assert_int_equal (minute, 12 * 60 + 34);
    assert_string_equal (date, "2026-01-01");
    if (failures)
        fail_msg ("%zu local times wrong (above)", failures);
}

//  Zones of the random tests: DST north and south, none, half and quarter hours.
static const char *s_zones [] = {
    "UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico",
    "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham",
    "America/St_Johns", "America/Havana"
};
#define S_ZONE_COUNT (sizeof s_zones / sizeof s_zones [0])

//  A random instant of 2025..2027, one in three near a DST change of 2026.
static int64_t
s_random_instant (void)
{
    static const int64_t changes [][6] = {
        {2026, 3, 8, 7, 0, 0}, {2026, 11, 1, 6, 0, 0}, {2026, 4, 4, 15, 0, 0},
        {2026, 10, 3, 15, 30, 0}, {2026, 3, 29, 1, 0, 0}, {2026, 10, 25, 1, 0, 0},
        {2026, 3, 8, 5, 0, 0}, {2026, 11, 1, 5, 0, 0}, {2026, 4, 4, 14, 0, 0}
    };
    if (s_chance (33)) {
        size_t c = s_rand (sizeof changes / sizeof changes [0]);
        int64_t base = s_utc ((int) changes [c][0], (int) changes [c][1], (int) changes [c][2],
                              (int) changes [c][3], (int) changes [c][4], (int) changes [c][5]);
        return base + ((int64_t) s_rand (4 * 86400) - 2 * 86400) * 1000000;
    }
    return s_utc (2025, 1, 1, 0, 0, 0) + (int64_t) s_rand (3 * 365 * 86400) * 1000000;
}

//  filter_local_time of random instants in random order against the C library.
static void
test_filter_local_time_random (void **state)
{
    s_seed ();
    size_t failures = 0;
    for (int i = 0; i < 4000; i++) {
        const char *zone = s_zones [s_rand (S_ZONE_COUNT)];
        int64_t at = s_random_instant ();
        int wday = -1, minute = -1, ref_wday, ref_minute;
        char date [11] = "", ref_date [11];
        int rc = filter_local_time (zone, at, &wday, &minute, date);
        s_ref_local (zone, at, &ref_wday, &ref_minute, ref_date);
        if (rc || wday != ref_wday || minute != ref_minute || !streq (date, ref_date)) {
            if (failures < 10) {
                char iso [40];
                pp_time_iso (at, iso, sizeof iso);
                print_error ("%s at %s (call %d): wday %d minute %d date %s, the C library"
                             " says wday %d minute %d date %s\n",
                             zone, iso, i, wday, minute, date, ref_wday, ref_minute, ref_date);
            }
            failures++;
        }
    }
    if (failures)
        fail_msg ("%zu of 4000 local times wrong (first 10 above)", failures);
}

//  Random schedules at random instants against a reference built from the
//  C library's local time.
static void
test_filter_schedule_random (void **state)
{
    s_seed ();
    static const char *day_keys [] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    enum { CAMPAIGNS = 150, INSTANTS = 150 };
    cJSON *root = cJSON_Parse (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": []}]}");
    cJSON *campaigns = cJSON_GetObjectItem (cJSON_GetArrayItem (cJSON_GetObjectItem (root,
                                                                                     "buyers"),
                                                                 0),
                                            "campaigns");
    //  the reference: per campaign, its zone, windows per tm_wday, holidays
    struct {
        const char *zone;
        bool has_hours;
        int windows [7][4][2];
        int window_count [7];
        char holidays [4][11];
        int holiday_count;
    } *ref = calloc (CAMPAIGNS, sizeof *ref);
    assert_non_null (ref);
    int64_t instants [INSTANTS];
    for (int t = 0; t < INSTANTS; t++)
        instants [t] = s_random_instant ();
    for (int c = 0; c < CAMPAIGNS; c++) {
        cJSON *campaign = cJSON_CreateObject ();
        char name [16];
        snprintf (name, sizeof name, "s%d", c);
        cJSON_AddStringToObject (campaign, "name", name);
        cJSON_AddStringToObject (campaign, "vertical", "solar");
        cJSON_AddItemToObject (campaign, "bid", cJSON_Parse ("{\"fixed\": 1}"));
        cJSON_AddItemToObject (campaign, "post", cJSON_Parse ("{\"url\": \"http://127.0.0.1:1/p\"}"));
        cJSON *schedule = cJSON_AddObjectToObject (campaign, "schedule");
        ref [c].zone = s_zones [s_rand (S_ZONE_COUNT)];
        cJSON_AddStringToObject (schedule, "time_zone", ref [c].zone);
        if (s_chance (85)) {
            ref [c].has_hours = true;
            cJSON *hours = cJSON_AddObjectToObject (schedule, "hours");
            //  Split the week (Monday first) into ranges; some are left closed
            int day = 0;
            while (day < 7) {
                int last = day + (int) s_rand ((uint32_t) (7 - day));
                if (s_chance (80)) {
                    char key [8];
                    if (last == day)
                        snprintf (key, sizeof key, "%s", day_keys [day]);
                    else
                        snprintf (key, sizeof key, "%s-%s", day_keys [day], day_keys [last]);
                    int windows = 1 + (int) s_rand (3);
                    cJSON *list = cJSON_AddArrayToObject (hours, key);
                    int from = 0;
                    for (int w = 0; w < windows && from < 1440; w++) {
                        int start = from + (int) s_rand ((uint32_t) (1440 - from)) / 2;
                        int end = start + 1 + (int) s_rand ((uint32_t) (1440 - start));
                        if (s_chance (10))
                            end = 1440;
                        start -= start % 15;
                        if (end % 15 && end < 1440)
                            end += 15 - end % 15;
                        if (end <= start)
                            end = start + 15;
                        char text [40];
                        snprintf (text, sizeof text, "%02d:%02d-%02d:%02d", start / 60,
                                  start % 60, end / 60, end % 60);
                        cJSON_AddItemToArray (list, cJSON_CreateString (text));
                        for (int d = day; d <= last; d++) {
                            int wday = (d + 1) % 7;
                            ref [c].windows [wday] [ref [c].window_count [wday]] [0] = start;
                            ref [c].windows [wday] [ref [c].window_count [wday]] [1] = end;
                            ref [c].window_count [wday]++;
                        }
                        from = end;
                    }
                }
                day = last + 1;
            }
            if (cJSON_GetArraySize (hours) == 0) {
                //  every range left closed: open one quarter of an hour
                cJSON_AddItemToObject (hours, "wed", cJSON_CreateString ("00:00-00:15"));
                ref [c].windows [3] [0] [0] = 0;
                ref [c].windows [3] [0] [1] = 15;
                ref [c].window_count [3] = 1;
            }
        }
        if (s_chance (40) || !ref [c].has_hours) {
            cJSON *holidays = cJSON_AddArrayToObject (schedule, "holidays");
            int count = 1 + (int) s_rand (4);
            for (int h = 0; h < count; h++) {
                //  the local date of one of the instants, so holidays happen
                int wday, minute;
                s_ref_local (ref [c].zone, instants [s_rand (INSTANTS)], &wday, &minute,
                             ref [c].holidays [h]);
                cJSON_AddItemToArray (holidays, cJSON_CreateString (ref [c].holidays [h]));
            }
            ref [c].holiday_count = count;
        }
        cJSON_AddItemToArray (campaigns, campaign);
    }
    char *json = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    s_fixture_t fx = s_fixture (json, NULL);
    free (json);
    //  The reference local time of every zone at every instant
    static int local [S_ZONE_COUNT][INSTANTS][2];
    static char local_date [S_ZONE_COUNT][INSTANTS][11];
    for (size_t z = 0; z < S_ZONE_COUNT; z++)
        for (int t = 0; t < INSTANTS; t++)
            s_ref_local (s_zones [z], instants [t], &local [z][t][0], &local [z][t][1],
                         local_date [z][t]);
    pp_lead_t *lead = s_lead ("solar", "{}", "", "");
    size_t failures = 0, open = 0, holiday = 0;
    //  The instants are in no order: the index's local time per zone and
    //  second goes back and forth
    cJSON *detail = NULL;
    for (int t = 0; t < INSTANTS; t++)
        for (int c = 0; c < CAMPAIGNS; c++) {
            if (c == 0) {
                cJSON_Delete (detail);
                detail = s_decide (fx.market, fx.index, lead, instants [t]);
            }
            size_t z = 0;
            while (!streq (s_zones [z], ref [c].zone))
                z++;
            int wday = local [z][t][0], minute = local [z][t][1];
            const char *expected = "";
            for (int h = 0; h < ref [c].holiday_count; h++)
                if (streq (ref [c].holidays [h], local_date [z][t]))
                    expected = "holiday";
            if (!*expected && ref [c].has_hours) {
                expected = "schedule";
                for (int w = 0; w < ref [c].window_count [wday]; w++)
                    if (minute >= ref [c].windows [wday] [w] [0]
                        && minute < ref [c].windows [wday] [w] [1])
                        expected = "";
            }
            open += !*expected;
            holiday += streq (expected, "holiday");
            char name [16], buf [96];
            snprintf (name, sizeof name, "s%d", c);
            const pp_campaign_t *campaign = pp_market_campaign (fx.market, name);
            const char *why = filter_exclusion (fx.index, campaign, lead, instants [t], buf,
                                                sizeof buf);
            const char *said = s_said (detail, campaign, lead);
            if (!streq (why ? why : "", expected) || !said || !streq (said, expected)) {
                if (failures < 10) {
                    char iso [40];
                    pp_time_iso (instants [t], iso, sizeof iso);
                    print_error ("campaign %s (%s) at %s = local %s %02d:%02d (wday %d):"
                                 " '%s', the index '%s', expected '%s'\n",
                                 name, ref [c].zone, iso, local_date [z][t], minute / 60,
                                 minute % 60, wday, why ? why : "", said ? said : "(none)",
                                 expected);
                }
                failures++;
            }
        }
    print_message ("%zu open, %zu holiday, %zu closed of %d\n", open, holiday,
                   (size_t) CAMPAIGNS * INSTANTS - open - holiday, CAMPAIGNS * INSTANTS);
    assert_true (open > 0 && holiday > 0 && open + holiday < (size_t) CAMPAIGNS * INSTANTS);
    cJSON_Delete (detail);
    pp_lead_destroy (&lead);
    s_fixture_destroy (&fx);
    free (ref);
    if (failures)
        fail_msg ("%zu schedule decisions differ from the reference (first 10 above)", failures);
}

//  ---------------------------------------------------------------------------
//  Cap fullness and the index

//  The eligible ids of a lead, sorted (duplicates kept).
static int
s_id_compare (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static size_t
s_eligible_sorted (pp_lead_t *lead, uint32_t *ids, size_t max)
{
    size_t count = pp_lead_eligible_size (lead);
    assert_true (count <= max);
    for (size_t i = 0; i < count; i++)
        ids [i] = pp_lead_eligible (lead, i);
    qsort (ids, count, sizeof (uint32_t), s_id_compare);
    return count;
}

static void
test_filter_cap_full (void **state)
{
    s_fixture_t fx = s_fixture (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"state\": {\"type\": \"state\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"capped\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}, \"filters\": {\"states\": [\"CA\"]},"
        "   \"caps\": [{\"count\": 5, \"per\": \"day\"}]},"
        "  {\"name\": \"other\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}}]}]}",
        NULL);
    uint32_t capped = pp_market_campaign (fx.market, "capped")->id;
    uint32_t other = pp_market_campaign (fx.market, "other")->id;
    assert_true (capped != other);
    pp_lead_t *lead = s_lead ("solar", "{\"state\": \"CA\"}", "", "");
    uint32_t ids [4];
    for (int round = 0; round < 2; round++) {
        //  Not full: both take it
        s_check (&fx, "capped", lead, 0, "", "not full");
        pp_lead_clear_eligible (lead);
        assert_int_equal (filter_index_match (fx.index, lead, 0, NULL), 2);
        //  Full: only capped is out, with "cap", in both ways of matching
        filter_index_set_full (fx.index, capped, true);
        s_check (&fx, "capped", lead, 0, "cap", "full");
        s_check (&fx, "other", lead, 0, "", "full");
        pp_lead_clear_eligible (lead);
        assert_int_equal (filter_index_match (fx.index, lead, 0, NULL), 1);
        assert_int_equal (s_eligible_sorted (lead, ids, 4), 1);
        assert_int_equal (ids [0], other);
        pp_lead_clear_eligible (lead);
        cJSON *excluded = cJSON_CreateObject ();
        assert_int_equal (filter_index_match (fx.index, lead, 0, excluded), 1);
        assert_int_equal (pp_lead_eligible (lead, 0), other);
        assert_int_equal (cJSON_GetArraySize (excluded), 1);
        assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (excluded, "capped")),
                             "cap");
        cJSON_Delete (excluded);
        //  Another rule that fails is named before the cap
        pp_lead_t *texan = s_lead ("solar", "{\"state\": \"TX\"}", "", "");
        s_check (&fx, "capped", texan, 0, "state", "full, other state");
        pp_lead_destroy (&texan);
        //  An unknown id changes nothing; not full again
        filter_index_set_full (fx.index, 999, true);
        s_check (&fx, "other", lead, 0, "", "unknown id full");
        filter_index_set_full (fx.index, capped, false);
        filter_index_set_full (fx.index, 999, false);
    }
    pp_lead_destroy (&lead);
    s_fixture_destroy (&fx);
}

//  ---------------------------------------------------------------------------
//  Even pacing: what a daily cap allows so far, and the index's flag

#define S_POST "\"post\": {\"url\": \"http://127.0.0.1:1/p\"}"
#define S_CAMPAIGN(name, rest) \
    "{\"name\": \"" name "\", \"vertical\": \"solar\", " S_POST ", " rest "}"

//  A market of paced campaigns (ids 1, 2, ... in this order).
static const char *s_paced_market =
    "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"state\": {\"type\": \"state\"},"
    "  \"bill\": {\"type\": \"integer\"}, \"a\": {\"type\": \"string\"},"
    "  \"b\": {\"type\": \"string\"}, \"c\": {\"type\": \"string\"}}}],"
    " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
    S_CAMPAIGN ("paced", "\"bid\": {\"fixed\": 25}, \"filters\": {\"states\": [\"CA\"]},"
                " \"schedule\": {\"time_zone\": \"UTC\","
                "  \"hours\": {\"mon-sun\": \"08:00-20:00\"}},"
                " \"caps\": [{\"count\": 100, \"per\": \"day\", \"pacing\": \"even\"},"
                "  {\"amount\": 2500.00, \"per\": \"day\", \"pacing\": \"even\"},"
                "  {\"count\": 30, \"per\": \"hour\"}]") ","
    S_CAMPAIGN ("ping", "\"bid\": {\"ping\": {\"url\": \"http://127.0.0.1:1/ping\"}},"
                " \"caps\": [{\"count\": 100, \"per\": \"day\", \"pacing\": \"even\"},"
                "  {\"amount\": 100.00, \"per\": \"day\", \"pacing\": \"even\"}]") ","
    S_CAMPAIGN ("two", "\"bid\": {\"fixed\": 1}, \"schedule\": {\"time_zone\": \"UTC\","
                " \"hours\": {\"mon-sun\": [\"09:00-12:00\", \"13:00-17:00\"]}},"
                " \"caps\": [{\"count\": 42, \"per\": \"day\", \"pacing\": \"even\"}]") ","
    S_CAMPAIGN ("overlap", "\"bid\": {\"fixed\": 1}, \"schedule\": {\"time_zone\": \"UTC\","
                " \"hours\": {\"mon-sun\": [\"11:00-13:00\", \"09:00-12:00\"]}},"
                " \"caps\": [{\"count\": 240, \"per\": \"day\", \"pacing\": \"even\"}]") ","
    S_CAMPAIGN ("weekdays", "\"bid\": {\"fixed\": 1}, \"schedule\": {\"time_zone\": \"UTC\","
                " \"hours\": {\"mon-fri\": \"08:00-20:00\"}, \"holidays\": [\"2026-03-05\"]},"
                " \"caps\": [{\"count\": 100, \"per\": \"day\", \"pacing\": \"even\"}]") ","
    S_CAMPAIGN ("ny", "\"bid\": {\"fixed\": 1}, \"schedule\": {\"time_zone\":"
                " \"America/New_York\", \"hours\": {\"mon-sun\": \"08:00-20:00\"}},"
                " \"caps\": [{\"count\": 100, \"per\": \"day\", \"pacing\": \"even\"}]") ","
    S_CAMPAIGN ("nyday", "\"bid\": {\"fixed\": 1}, \"schedule\": {\"time_zone\":"
                " \"America/New_York\"},"
                " \"caps\": [{\"count\": 100, \"per\": \"day\", \"pacing\": \"even\"}]") ","
    S_CAMPAIGN ("unpaced", "\"bid\": {\"fixed\": 1},"
                " \"caps\": [{\"count\": 100, \"per\": \"day\"}]") ","
    S_CAMPAIGN ("many", "\"bid\": {\"fixed\": 1}, \"filters\": {\"fields\": {"
                " \"bill\": {\"min\": 1}, \"state\": {\"exists\": true},"
                " \"a\": {\"exists\": false}, \"b\": {\"exists\": false},"
                " \"c\": {\"exists\": false}}},"
                " \"schedule\": {\"time_zone\": \"UTC\","
                "  \"hours\": {\"mon-sun\": \"08:00-20:00\"}},"
                " \"caps\": [{\"count\": 100, \"per\": \"day\", \"pacing\": \"even\"}]")
    "]}]}";

//  filter_pacing_allowed of campaign `name` for `limit` at a UTC instant.
static int64_t
s_allowed (const pp_market_t *market, const char *name, int64_t limit, int64_t now_us)
{
    const pp_campaign_t *campaign = pp_market_campaign (market, name);
    if (!campaign)
        fail_msg ("no campaign %s", name);
    return filter_pacing_allowed (campaign, limit, now_us);
}

static void
test_filter_pacing_allowed (void **state)
{
    pp_market_t *market = s_parse_market (s_paced_market);
    //  2026-03-04 is a Wednesday. 08:00-20:00 is 720 open minutes; at
    //  08:00 one has passed (the current minute counts): ceil (100 x 1 /
    //  720) = 1; at 08:07, ceil (800 / 720) = 2; at 13:59, 360 minutes,
    //  exactly 50; at 14:00, ceil (36100 / 720) = ceil (50.14) = 51; at
    //  19:59 all 720: 100; before the window none, after it all
    struct { int hour, minute; int64_t leads, cents; } at [] = {
        {0, 0, 0, 0}, {7, 59, 0, 0},
        {8, 0, 1, 348},                 //  250000 / 720 = 347.2
        {8, 7, 2, 2778},                //  2000000 / 720 = 2777.8
        {13, 59, 50, 125000},           //  half of each, exactly
        {14, 0, 51, 125348},            //  250000 x 361 / 720 = 125347.2
        {19, 59, 100, 250000}, {20, 0, 100, 250000}, {23, 59, 100, 250000}
    };
    for (size_t i = 0; i < sizeof at / sizeof at [0]; i++) {
        int64_t now = s_utc (2026, 3, 4, at [i].hour, at [i].minute, 30);
        if (s_allowed (market, "paced", 100, now) != at [i].leads
            || s_allowed (market, "paced", 250000, now) != at [i].cents)
            fail_msg ("08:00-20:00 at %02d:%02d: allowed %lld leads, %lld cents;"
                      " expected %lld, %lld", at [i].hour, at [i].minute,
                      (long long) s_allowed (market, "paced", 100, now),
                      (long long) s_allowed (market, "paced", 250000, now),
                      (long long) at [i].leads, (long long) at [i].cents);
    }
    //  No hours (UTC, no schedule at all): the whole day, 1440 minutes.
    //  00:00: ceil (100 / 1440) = 1; 11:59: 720 minutes, 50; 12:00: ceil
    //  (72100 / 1440) = 51; 23:59: 100
    assert_int_equal (s_allowed (market, "ping", 100, s_utc (2026, 3, 4, 0, 0, 0)), 1);
    assert_int_equal (s_allowed (market, "ping", 100, s_utc (2026, 3, 4, 11, 59, 59)), 50);
    assert_int_equal (s_allowed (market, "ping", 100, s_utc (2026, 3, 4, 12, 0, 0)), 51);
    assert_int_equal (s_allowed (market, "ping", 100, s_utc (2026, 3, 4, 23, 59, 59)), 100);
    //  Two windows, 09:00-12:00 and 13:00-17:00: 180 + 240 = 420 minutes;
    //  42 leads are 0.1 a minute. 08:59: 0; 10:00: 61 minutes, ceil (6.1) =
    //  7; 12:30 (closed at noon): 180 minutes, 18; 13:00: 181, 19; 16:59: 42
    assert_int_equal (s_allowed (market, "two", 42, s_utc (2026, 3, 4, 8, 59, 0)), 0);
    assert_int_equal (s_allowed (market, "two", 42, s_utc (2026, 3, 4, 10, 0, 0)), 7);
    assert_int_equal (s_allowed (market, "two", 42, s_utc (2026, 3, 4, 12, 30, 0)), 18);
    assert_int_equal (s_allowed (market, "two", 42, s_utc (2026, 3, 4, 13, 0, 0)), 19);
    assert_int_equal (s_allowed (market, "two", 42, s_utc (2026, 3, 4, 16, 59, 0)), 42);
    assert_int_equal (s_allowed (market, "two", 42, s_utc (2026, 3, 4, 17, 0, 0)), 42);
    //  Overlapping windows 11:00-13:00 and 09:00-12:00 open 09:00-13:00
    //  once: 240 minutes, so 240 leads are one a minute. 11:30: 151; 12:59: 240
    assert_int_equal (s_allowed (market, "overlap", 240, s_utc (2026, 3, 4, 11, 30, 0)), 151);
    assert_int_equal (s_allowed (market, "overlap", 240, s_utc (2026, 3, 4, 12, 0, 0)), 181);
    assert_int_equal (s_allowed (market, "overlap", 240, s_utc (2026, 3, 4, 12, 59, 0)), 240);
    //  No pacing question: a holiday (Thursday 2026-03-05), a closed day
    //  (Sunday 2026-03-08), a limit of none
    assert_int_equal (s_allowed (market, "weekdays", 100, s_utc (2026, 3, 4, 14, 0, 0)), 51);
    assert_int_equal (s_allowed (market, "weekdays", 100, s_utc (2026, 3, 5, 14, 0, 0)), -1);
    assert_int_equal (s_allowed (market, "weekdays", 100, s_utc (2026, 3, 8, 14, 0, 0)), -1);
    assert_int_equal (s_allowed (market, "weekdays", 0, s_utc (2026, 3, 4, 14, 0, 0)), -1);
    //  Far beyond int: no overflow, 0.5 of it at 13:59 and all at 19:59
    assert_true (s_allowed (market, "paced", INT64_C (4000000000000000000),
                            s_utc (2026, 3, 4, 13, 59, 0)) == INT64_C (2000000000000000000));
    assert_true (s_allowed (market, "paced", INT64_MAX, s_utc (2026, 3, 4, 19, 59, 0))
                 == INT64_MAX);
    pp_market_unlink (&market);
}

//  DST days in America/New_York. Open minutes are minutes of the local
//  wall clock, read with filter_local_time:
//  - 08:00-20:00 lies outside the change (02:00): 720 minutes on both days,
//    the same numbers as any day. 2026-03-08 (EDT, UTC-4): 12:00Z is 08:00,
//    1; 18:00Z is 14:00, ceil (36100 / 720) = 51; 23:59Z is 19:59, 100.
//    2026-11-01 (EST after 06:00Z, UTC-5): 12:00Z is 07:00, 0; 13:00Z is
//    08:00, 1; 19:00Z is 14:00, 51; 00:59Z on the 2nd is 19:59, 100.
//  - No hours: the whole wall-clock day, 1440 minutes, though the day has
//    23 or 25 hours. With 1440 leads allowed = elapsed wall-clock minutes.
//    2026-03-08: 05:00Z is 00:00 EST, 1; 06:59Z is 01:59 EST, 120; 07:00Z
//    is 03:00 EDT, 181 (the skipped hour counts as passed); 18:00Z is
//    14:00 EDT, 841 (UTC arithmetic from local midnight would say 781);
//    03:59Z on the 9th is 23:59 EDT, 1440. With 100 leads: 01:59 gives
//    ceil (12000 / 1440) = 9, 03:00 ceil (18100 / 1440) = 13, 23:59 100.
//    2026-11-01: 05:30Z is 01:30 EDT, 91; 05:59Z is 01:59 EDT, 120; 06:00Z
//    is 01:00 EST again, 61 (the repeated hour runs its minutes again);
//    06:30Z is 01:30 EST, 91; 04:59Z on the 2nd is 23:59 EST, 1440. With
//    100 leads: 01:59 EDT gives 9, 01:00 EST ceil (6100 / 1440) = 5.
static void
test_filter_pacing_dst (void **state)
{
    pp_market_t *market = s_parse_market (s_paced_market);
    struct { int month, day, hour, minute; const char *name; int64_t limit, allowed; } at [] = {
        {3, 8, 12, 0, "ny", 100, 1}, {3, 8, 18, 0, "ny", 100, 51}, {3, 8, 23, 59, "ny", 100, 100},
        {3, 8, 11, 59, "ny", 100, 0},
        {11, 1, 12, 0, "ny", 100, 0}, {11, 1, 13, 0, "ny", 100, 1}, {11, 1, 19, 0, "ny", 100, 51},
        {11, 2, 0, 59, "ny", 100, 100},
        {3, 8, 5, 0, "nyday", 1440, 1}, {3, 8, 6, 59, "nyday", 1440, 120},
        {3, 8, 7, 0, "nyday", 1440, 181}, {3, 8, 18, 0, "nyday", 1440, 841},
        {3, 9, 3, 59, "nyday", 1440, 1440},
        {3, 8, 6, 59, "nyday", 100, 9}, {3, 8, 7, 0, "nyday", 100, 13},
        {3, 9, 3, 59, "nyday", 100, 100},
        {11, 1, 5, 30, "nyday", 1440, 91}, {11, 1, 5, 59, "nyday", 1440, 120},
        {11, 1, 6, 0, "nyday", 1440, 61}, {11, 1, 6, 30, "nyday", 1440, 91},
        {11, 2, 4, 59, "nyday", 1440, 1440},
        {11, 1, 5, 59, "nyday", 100, 9}, {11, 1, 6, 0, "nyday", 100, 5},
        {11, 2, 4, 59, "nyday", 100, 100}
    };
    for (size_t i = 0; i < sizeof at / sizeof at [0]; i++) {
        int64_t now = s_utc (2026, at [i].month, at [i].day, at [i].hour, at [i].minute, 0);
        int64_t allowed = s_allowed (market, at [i].name, at [i].limit, now);
        if (allowed != at [i].allowed)
            fail_msg ("%s, %lld at 2026-%02d-%02d %02d:%02dZ: allowed %lld, expected %lld",
                      at [i].name, (long long) at [i].limit, at [i].month, at [i].day,
                      at [i].hour, at [i].minute, (long long) allowed,
                      (long long) at [i].allowed);
    }
    pp_market_unlink (&market);
}

//  Today's counters against what pacing allows: count, amount, and for a
//  fixed bid whether one more sale fits.
static void
test_filter_pacing_reached (void **state)
{
    pp_market_t *market = s_parse_market (s_paced_market);
    const pp_campaign_t *paced = pp_market_campaign (market, "paced");
    const pp_campaign_t *ping = pp_market_campaign (market, "ping");
    const pp_campaign_t *unpaced = pp_market_campaign (market, "unpaced");
    const pp_campaign_t *weekdays = pp_market_campaign (market, "weekdays");
    //  14:00: 51 leads and 125348 cents allowed (test_filter_pacing_allowed)
    int64_t two_pm = s_utc (2026, 3, 4, 14, 0, 0);
    assert_false (filter_pacing_reached (paced, 50, 0, two_pm));
    assert_true (filter_pacing_reached (paced, 51, 0, two_pm));
    assert_true (filter_pacing_reached (paced, 10, 125348, two_pm));
    //  The fixed bid (2500 cents) must fit: 122848 + 2500 = 125348 does
    assert_false (filter_pacing_reached (paced, 10, 122848, two_pm));
    assert_true (filter_pacing_reached (paced, 10, 122849, two_pm));
    //  08:06, 7 minutes: ceil (250000 x 7 / 720) = 2431 cents, no room for
    //  a bid of 2500 even with nothing sold; 08:07: 2778, room
    assert_true (filter_pacing_reached (paced, 0, 0, s_utc (2026, 3, 4, 8, 6, 0)));
    assert_false (filter_pacing_reached (paced, 0, 0, s_utc (2026, 3, 4, 8, 7, 0)));
    //  A ping bid has no bid to fit: only the counters. 00:00 UTC allows 1
    //  lead and ceil (10000 / 1440) = 7 cents
    int64_t midnight = s_utc (2026, 3, 4, 0, 0, 0);
    assert_false (filter_pacing_reached (ping, 0, 0, midnight));
    assert_false (filter_pacing_reached (ping, 0, 6, midnight));
    assert_true (filter_pacing_reached (ping, 0, 7, midnight));
    assert_true (filter_pacing_reached (ping, 1, 0, midnight));
    //  A cap without pacing never paces; nor does a holiday
    assert_false (filter_pacing_reached (unpaced, 99, 0, midnight));
    assert_true (filter_pacing_reached (weekdays, 51, 0, two_pm));
    assert_false (filter_pacing_reached (weekdays, 51, 0, s_utc (2026, 3, 5, 14, 0, 0)));
    pp_market_unlink (&market);
}

//  The paced flag in every way of matching: the reference, the index, the
//  detail; cap wins over pacing, and a closed schedule over both.
static void
test_filter_pacing_index (void **state)
{
    s_fixture_t fx = s_fixture (s_paced_market, NULL);
    uint32_t paced = pp_market_campaign (fx.market, "paced")->id;
    uint32_t many = pp_market_campaign (fx.market, "many")->id;
    pp_lead_t *lead = s_lead ("solar", "{\"state\": \"CA\", \"bill\": 5}", "", "");
    pp_lead_t *texan = s_lead ("solar", "{\"state\": \"TX\", \"bill\": 5}", "", "");
    int64_t open = s_utc (2026, 3, 4, 14, 0, 0);
    int64_t closed = s_utc (2026, 3, 4, 21, 0, 0);
    for (int round = 0; round < 2; round++) {
        //  Not paced: eligible
        s_check (&fx, "paced", lead, open, "", "not paced");
        s_check (&fx, "many", lead, open, "", "not paced");
        //  Paced: "pacing", in both the compact records' ways (a campaign
        //  of few tests and one of more than fit its record)
        filter_index_set_paced (fx.index, paced, true);
        filter_index_set_paced (fx.index, many, true);
        s_check (&fx, "paced", lead, open, "pacing", "paced");
        s_check (&fx, "many", lead, open, "pacing", "paced");
        s_check (&fx, "ping", lead, open, "", "another paced");
        //  The detail names it
        pp_lead_clear_eligible (lead);
        const char *detail = NULL;
        filter_index_decide (fx.index, lead, open, &detail);
        assert_non_null (strstr (detail, "\"paced\":\"pacing\""));
        assert_non_null (strstr (detail, "\"many\":\"pacing\""));
        pp_lead_clear_eligible (lead);
        cJSON *excluded = cJSON_CreateObject ();
        filter_index_match (fx.index, lead, open, excluded);
        assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (excluded, "paced")),
                             "pacing");
        cJSON_Delete (excluded);
        pp_lead_clear_eligible (lead);
        //  Every earlier rule wins: state, schedule
        s_check (&fx, "paced", texan, open, "state", "paced, other state");
        s_check (&fx, "paced", lead, closed, "schedule", "paced, closed");
        s_check (&fx, "many", lead, closed, "schedule", "paced, closed");
        //  Full and paced: "cap"; full alone: "cap"
        filter_index_set_full (fx.index, paced, true);
        filter_index_set_full (fx.index, many, true);
        s_check (&fx, "paced", lead, open, "cap", "full and paced");
        s_check (&fx, "many", lead, open, "cap", "full and paced");
        s_check (&fx, "paced", lead, closed, "schedule", "full and paced, closed");
        filter_index_clear_paced (fx.index);
        s_check (&fx, "paced", lead, open, "cap", "full, not paced");
        //  Paced again, not full: "pacing"; clearing the cap flags keeps it
        filter_index_set_paced (fx.index, paced, true);
        filter_index_clear_full (fx.index);
        s_check (&fx, "paced", lead, open, "pacing", "paced, full cleared");
        s_check (&fx, "many", lead, open, "", "paced cleared");
        //  An unknown id changes nothing; not paced again
        filter_index_set_paced (fx.index, 999, true);
        s_check (&fx, "ping", lead, open, "", "unknown id paced");
        filter_index_set_paced (fx.index, paced, false);
        filter_index_set_paced (fx.index, 999, false);
    }
    pp_lead_destroy (&lead);
    pp_lead_destroy (&texan);
    s_fixture_destroy (&fx);
}

//  A campaign naming a state twice is still one eligible campaign.
static void
test_filter_index_repeated_state (void **state)
{
    s_fixture_t fx = s_fixture (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"state\": {\"type\": \"state\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"twice\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"states\": [\"CA\", \"NV\", \"CA\"]}}]}]}",
        NULL);
    pp_lead_t *lead = s_lead ("solar", "{\"state\": \"CA\"}", "", "");
    s_check (&fx, "twice", lead, 0, "", "CA");
    size_t count = filter_index_match (fx.index, lead, 0, NULL);
    size_t listed = pp_lead_eligible_size (lead);
    pp_lead_clear_eligible (lead);
    cJSON *excluded = cJSON_CreateObject ();
    size_t count_x = filter_index_match (fx.index, lead, 0, excluded);
    size_t listed_x = pp_lead_eligible_size (lead);
    cJSON_Delete (excluded);
    pp_lead_destroy (&lead);
    s_fixture_destroy (&fx);
    if (count != 1 || listed != 1 || count_x != 1 || listed_x != 1)
        fail_msg ("states [CA, NV, CA], lead CA: filter_index_match gave %zu (eligible list of"
                  " %zu), with excluded %zu (list of %zu); expected 1 each",
                  count, listed, count_x, listed_x);
}

//  ---------------------------------------------------------------------------
//  The index against a brute-force scan

enum { S_RANDOM_CAMPAIGNS = 1500, S_RANDOM_LEADS = 1500, S_RANDOM_INSTANTS = 25 };

static const char *s_credits [] = {"excellent", "good", "fair", "poor"};
static const char *s_roofs [] = {"tile", "shingle", "metal", "flat", ""};

//  Random field rule of field `name` (of `type`) added to rules.
static void
s_random_rule (cJSON *rules, const char *name, const char *type)
{
    cJSON *rule = cJSON_AddObjectToObject (rules, name);
    bool number = streq (type, "integer") || streq (type, "number");
    int kind = (int) s_rand (number ? 7 : 5);
    if (kind == 0)
        cJSON_AddBoolToObject (rule, "exists", s_chance (70));
    else
    if (kind == 1 || kind == 2) {
        //  in / not_in
        cJSON *list = cJSON_AddArrayToObject (rule, kind == 1 ? "in" : "not_in");
        int count = 1 + (int) s_rand (3);
        for (int i = 0; i < count; i++) {
            if (streq (type, "enum"))
                cJSON_AddItemToArray (list, cJSON_CreateString (s_credits [s_rand (4)]));
            else
            if (streq (type, "string"))
                cJSON_AddItemToArray (list, cJSON_CreateString (s_roofs [s_rand (5)]));
            else
            if (streq (type, "boolean"))
                cJSON_AddItemToArray (list, cJSON_CreateBool (s_chance (50)));
            else
            if (streq (type, "integer"))
                cJSON_AddItemToArray (list, cJSON_CreateNumber ((double) s_rand (6)));
            else
                cJSON_AddItemToArray (list, cJSON_CreateNumber (s_rand (8) * 0.25));
        }
    }
    else
    if (kind == 3 || kind == 4) {
        //  equals (sometimes with exists)
        if (streq (type, "enum"))
            cJSON_AddStringToObject (rule, "equals", s_credits [s_rand (4)]);
        else
        if (streq (type, "string"))
            cJSON_AddStringToObject (rule, "equals", s_roofs [s_rand (5)]);
        else
        if (streq (type, "boolean"))
            cJSON_AddBoolToObject (rule, "equals", s_chance (50));
        else
        if (streq (type, "integer"))
            cJSON_AddNumberToObject (rule, "equals", (double) s_rand (6));
        else
            cJSON_AddNumberToObject (rule, "equals", s_rand (8) * 0.25);
        if (kind == 4)
            cJSON_AddBoolToObject (rule, "exists", true);
    }
    else {
        //  min and / or max
        double scale = streq (type, "integer") ? 1 : 0.25;
        double low = s_rand (6) * scale, high = low + s_rand (6) * scale;
        if (kind != 6)
            cJSON_AddNumberToObject (rule, "min", low);
        if (kind != 5)
            cJSON_AddNumberToObject (rule, "max", high);
    }
}

//  A random value for a field of `type` (JSON text), or NULL for absent.
static const char *
s_random_value (const char *type, char *buf, size_t size)
{
    int pick = (int) s_rand (20);
    if (pick == 0)
        return NULL;
    if (pick == 1)
        return "null";
    if (pick == 2)
        return "\"3\"";         //  text where a number might be wanted
    if (streq (type, "enum"))
        snprintf (buf, size, "\"%s\"", s_credits [s_rand (4)]);
    else
    if (streq (type, "string"))
        snprintf (buf, size, "\"%s\"", s_roofs [s_rand (5)]);
    else
    if (streq (type, "boolean"))
        snprintf (buf, size, "%s", s_chance (50) ? "true" : "false");
    else
    if (streq (type, "integer"))
        snprintf (buf, size, "%d", (int) s_rand (14) - 2);
    else
        snprintf (buf, size, "%g", s_rand (14) * 0.25 - 0.5);
    return buf;
}

static void
test_filter_index_random (void **state)
{
    s_seed ();
    const pp_zip_t *table = s_zip_table ();
    //  A pool of real ZIPs: leads mostly come from it, lists and radii use it
    enum { POOL = 400 };
    const pp_zip_entry_t *pool [POOL];
    size_t pooled = 0;
    while (pooled < POOL) {
        const pp_zip_entry_t *entry = pp_zip_find_number (table, (int) s_rand (PP_ZIP_SLOTS));
        if (entry && pp_state_index (entry->state) >= 0)
            pool [pooled++] = entry;
    }
    static const char *fields [][2] = {
        {"bill", "integer"}, {"ratio", "number"}, {"owner", "boolean"}, {"credit", "enum"},
        {"roof", "string"}, {"kids", "integer"}
    };
    enum { FIELDS = sizeof fields / sizeof fields [0] };
    int64_t instants [S_RANDOM_INSTANTS];
    for (int t = 0; t < S_RANDOM_INSTANTS; t++)
        instants [t] = s_random_instant ();
    //  Instants in time order (leads are grouped by instant)
    for (int a = 0; a < S_RANDOM_INSTANTS; a++)
        for (int b = a + 1; b < S_RANDOM_INSTANTS; b++)
            if (instants [b] < instants [a]) {
                int64_t swap = instants [a];
                instants [a] = instants [b];
                instants [b] = swap;
            }
    cJSON *root = cJSON_Parse (
        "{\"verticals\": ["
        " {\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"},"
        "  \"state\": {\"type\": \"state\"}, \"bill\": {\"type\": \"integer\"},"
        "  \"ratio\": {\"type\": \"number\"}, \"owner\": {\"type\": \"boolean\"},"
        "  \"credit\": {\"type\": \"enum\", \"values\": [\"excellent\", \"good\", \"fair\", \"poor\"]},"
        "  \"roof\": {\"type\": \"string\"}, \"kids\": {\"type\": \"integer\"}}},"
        " {\"name\": \"roofing\", \"fields\": {\"zip\": {\"type\": \"zip\"},"
        "  \"state\": {\"type\": \"state\"}, \"bill\": {\"type\": \"integer\"},"
        "  \"ratio\": {\"type\": \"number\"}, \"owner\": {\"type\": \"boolean\"},"
        "  \"credit\": {\"type\": \"enum\", \"values\": [\"excellent\", \"good\", \"fair\", \"poor\"]},"
        "  \"roof\": {\"type\": \"string\"}, \"kids\": {\"type\": \"integer\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": []}]}");
    cJSON *campaigns = cJSON_GetObjectItem (
        cJSON_GetArrayItem (cJSON_GetObjectItem (root, "buyers"), 0), "campaigns");
    for (int c = 0; c < S_RANDOM_CAMPAIGNS; c++) {
        cJSON *campaign = cJSON_CreateObject ();
        char name [16];
        snprintf (name, sizeof name, "r%d", c);
        cJSON_AddStringToObject (campaign, "name", name);
        cJSON_AddStringToObject (campaign, "vertical", s_chance (85) ? "solar" : "roofing");
        cJSON_AddItemToObject (campaign, "bid", cJSON_Parse ("{\"fixed\": 1}"));
        cJSON_AddItemToObject (campaign, "post", cJSON_Parse ("{\"url\": \"http://127.0.0.1:1/p\"}"));
        cJSON *filters = cJSON_AddObjectToObject (campaign, "filters");
        if (s_chance (55)) {
            //  distinct states, often those of the pool
            cJSON *states = cJSON_AddArrayToObject (filters, "states");
            int count = 1 + (int) s_rand (s_chance (80) ? 5 : 30);
            bool used [PP_STATE_COUNT] = {false};
            for (int i = 0; i < count; i++) {
                int code = s_chance (60) ? pp_state_index (pool [s_rand (POOL)]->state)
                                         : (int) s_rand (PP_STATE_COUNT);
                if (!used [code])
                    cJSON_AddItemToArray (states, cJSON_CreateString (pp_state_code (code)));
                used [code] = true;
            }
        }
        if (s_chance (20)) {
            cJSON *zips = cJSON_AddArrayToObject (filters, "zips");
            int count = 1 + (int) s_rand (s_chance (90) ? 60 : 3000);
            for (int i = 0; i < count; i++) {
                char zip [8];
                snprintf (zip, sizeof zip, "%05d", s_chance (80) ? pool [s_rand (POOL)]->zip
                                                                 : (int) s_rand (PP_ZIP_SLOTS));
                cJSON_AddItemToArray (zips, cJSON_CreateString (zip));
            }
        }
        if (s_chance (15)) {
            cJSON *radius = cJSON_AddObjectToObject (filters, "zip_radius");
            char zip [8];
            snprintf (zip, sizeof zip, "%05d", pool [s_rand (POOL)]->zip);
            cJSON_AddStringToObject (radius, "zip", zip);
            cJSON_AddNumberToObject (radius, "miles", 1 + s_rand (300));
        }
        if (s_chance (55)) {
            cJSON *rules = cJSON_AddObjectToObject (filters, "fields");
            int count = 1 + (int) s_rand (3);
            for (int i = 0; i < count; i++) {
                int f = (int) s_rand (FIELDS);
                if (!cJSON_GetObjectItem (rules, fields [f][0]))
                    s_random_rule (rules, fields [f][0], fields [f][1]);
            }
        }
        for (int kind = 0; kind < 2; kind++) {
            if (!s_chance (20))
                continue;
            cJSON *lists = cJSON_AddObjectToObject (filters, kind ? "sources" : "publishers");
            for (int list = 0; list < 2; list++) {
                if (list == 1 ? !s_chance (50) : !s_chance (60))
                    continue;
                cJSON *names = cJSON_AddArrayToObject (lists, list ? "deny" : "allow");
                int count = 1 + (int) s_rand (3);
                for (int i = 0; i < count; i++) {
                    char value [16];
                    snprintf (value, sizeof value, "%s%u", kind ? "s" : "pub", s_rand (5));
                    cJSON_AddItemToArray (names, cJSON_CreateString (value));
                }
            }
            if (cJSON_GetArraySize (lists) == 0)
                cJSON_AddItemToObject (lists, "deny", cJSON_Parse (kind ? "[\"s4\"]" : "[\"pub4\"]"));
        }
        if (cJSON_GetArraySize (filters) == 0)
            cJSON_DeleteItemFromObject (campaign, "filters");
        if (s_chance (25)) {
            cJSON *schedule = cJSON_AddObjectToObject (campaign, "schedule");
            cJSON_AddStringToObject (schedule, "time_zone", s_zones [s_rand (S_ZONE_COUNT)]);
            if (s_chance (80)) {
                cJSON *hours = cJSON_AddObjectToObject (schedule, "hours");
                int start = (int) s_rand (20) * 60, end = start + 60 + (int) s_rand (8) * 30;
                char text [40];
                snprintf (text, sizeof text, "%02d:%02d-%02d:%02d", start / 60, start % 60,
                          end > 1440 ? 24 : end / 60, end > 1440 ? 0 : end % 60);
                cJSON_AddStringToObject (hours, s_chance (50) ? "mon-fri" : "tue-sun", text);
            }
            if (s_chance (30) || !cJSON_GetObjectItem (schedule, "hours")) {
                cJSON *holidays = cJSON_AddArrayToObject (schedule, "holidays");
                char date [11];
                pp_time_iso (instants [s_rand (S_RANDOM_INSTANTS)], date, sizeof date);
                cJSON_AddItemToArray (holidays, cJSON_CreateString (date));
            }
        }
        cJSON_AddItemToArray (campaigns, campaign);
    }
    char *json = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    s_fixture_t fx = s_fixture (json, table);
    free (json);
    size_t campaign_count = pp_market_campaign_count (fx.market);
    assert_int_equal (campaign_count, S_RANDOM_CAMPAIGNS);
    //  Some campaigns are full
    for (size_t i = 0; i < campaign_count; i++)
        if (s_chance (5))
            filter_index_set_full (fx.index, pp_market_campaign_at (fx.market, i)->id, true);
    //  ... and some paced (both: "cap" wins)
    for (size_t i = 0; i < campaign_count; i++)
        if (s_chance (5))
            filter_index_set_paced (fx.index, pp_market_campaign_at (fx.market, i)->id, true);

    uint32_t *expected = (uint32_t *) calloc (campaign_count, sizeof (uint32_t));
    uint32_t *actual = (uint32_t *) calloc (campaign_count * 2, sizeof (uint32_t));
    const char **reasons = (const char **) calloc (campaign_count, sizeof (char *));
    char (*buffers) [96] = calloc (campaign_count, 96);
    assert_true (expected && actual && reasons && buffers);
    size_t failures = 0, eligible_total = 0, reason_counts [16] = {0};
    static const char *reason_names [] = {"vertical", "state", "zip", "zip_radius", "publisher",
                                          "source", "field:", "schedule", "holiday", "cap",
                                          "pacing"};
    for (int l = 0; l < S_RANDOM_LEADS; l++) {
        int64_t now = instants [l * S_RANDOM_INSTANTS / S_RANDOM_LEADS];
        //  A random lead
        const pp_zip_entry_t *home = pool [s_rand (POOL)];
        char text [1024];
        size_t used = 0;
        used += (size_t) snprintf (text + used, sizeof text - used, "{\"_\": 0");
        int zip_kind = (int) s_rand (20);
        if (zip_kind < 17)
            used += (size_t) snprintf (text + used, sizeof text - used, ", \"zip\": \"%05d\"",
                                       zip_kind < 16 ? home->zip : (int) s_rand (PP_ZIP_SLOTS));
        else
        if (zip_kind == 17)
            used += (size_t) snprintf (text + used, sizeof text - used, ", \"zip\": %d", home->zip);
        else
        if (zip_kind == 18)
            used += (size_t) snprintf (text + used, sizeof text - used, ", \"zip\": \"%05d-1234\"",
                                       home->zip);
        int state_kind = (int) s_rand (20);
        if (state_kind < 16)
            used += (size_t) snprintf (text + used, sizeof text - used, ", \"state\": \"%s\"",
                                       home->state);
        else
        if (state_kind == 16)
            used += (size_t) snprintf (text + used, sizeof text - used, ", \"state\": \"%s\"",
                                       pp_state_code ((int) s_rand (PP_STATE_COUNT)));
        else
        if (state_kind == 17)
            used += (size_t) snprintf (text + used, sizeof text - used, ", \"state\": \"ca\"");
        else
        if (state_kind == 18)
            used += (size_t) snprintf (text + used, sizeof text - used, ", \"state\": \"XX\"");
        for (int f = 0; f < FIELDS; f++) {
            char value [32];
            const char *v = s_random_value (fields [f][1], value, sizeof value);
            if (v)
                used += (size_t) snprintf (text + used, sizeof text - used, ", \"%s\": %s",
                                           fields [f][0], v);
        }
        snprintf (text + used, sizeof text - used, "}");
        char publisher [16] = "", source [16] = "";
        if (s_chance (90))
            snprintf (publisher, sizeof publisher, "pub%u", s_rand (6));
        if (s_chance (90))
            snprintf (source, sizeof source, "s%u", s_rand (6));
        int pick = (int) s_rand (50);
        const char *vertical = pick < 42 ? "solar" : pick < 49 ? "roofing" : "siding";
        pp_lead_t *lead = s_lead (vertical, text, publisher, source);

        //  Brute force: every campaign of the market
        size_t expected_count = 0, excluded_same = 0;
        for (size_t i = 0; i < campaign_count; i++) {
            const pp_campaign_t *campaign = pp_market_campaign_at (fx.market, i);
            reasons [i] = filter_exclusion (fx.index, campaign, lead, now, buffers [i], 96);
            if (!reasons [i])
                expected [expected_count++] = campaign->id;
            else {
                if (streq (campaign->vertical->name, vertical))
                    excluded_same++;
                for (size_t r = 0; l % 4 == 0 && r < sizeof reason_names / sizeof reason_names [0];
                     r++)
                    if (strncmp (reasons [i], reason_names [r], strlen (reason_names [r])) == 0)
                        reason_counts [r]++;
            }
        }
        qsort (expected, expected_count, sizeof (uint32_t), s_id_compare);
        eligible_total += expected_count;

        //  The index without explanations (the hot path)
        size_t count = filter_index_match (fx.index, lead, now, NULL);
        size_t actual_count = s_eligible_sorted (lead, actual, campaign_count * 2);
        bool same = count == expected_count && actual_count == expected_count
                    && memcmp (actual, expected, expected_count * sizeof (uint32_t)) == 0;
        //  ... and with them
        pp_lead_clear_eligible (lead);
        cJSON *excluded = cJSON_CreateObject ();
        size_t count_x = filter_index_match (fx.index, lead, now, excluded);
        size_t actual_count_x = s_eligible_sorted (lead, actual, campaign_count * 2);
        bool same_x = count_x == expected_count && actual_count_x == expected_count
                      && memcmp (actual, expected, expected_count * sizeof (uint32_t)) == 0;
        //  Every campaign of the lead's vertical that is not eligible is in
        //  `excluded` once ("r<index>"), with filter_exclusion's reason
        bool reasons_ok = (size_t) cJSON_GetArraySize (excluded) == excluded_same;
        const cJSON *item;
        cJSON_ArrayForEach (item, excluded) {
            size_t i = (size_t) atol (item->string + 1);
            const pp_campaign_t *campaign = i < campaign_count
                                            ? pp_market_campaign_at (fx.market, i) : NULL;
            const char *given = cJSON_GetStringValue (item);
            const char *wanted = campaign && streq (campaign->name, item->string)
                                 && streq (campaign->vertical->name, vertical) ? reasons [i] : NULL;
            if (!given || !wanted || !streq (given, wanted)) {
                print_error ("lead %d: campaign %s excluded by '%s' in `excluded`,"
                             " filter_exclusion says '%s'\n",
                             l, item->string, given ? given : "", wanted ? wanted : "");
                reasons_ok = false;
            }
        }
        //  ... and the service's way: its detail agrees with the other two
        //  (s_decide), so with the brute force
        cJSON *detail = s_decide (fx.market, fx.index, lead, now);
        size_t detail_count = (size_t) cJSON_GetArraySize (
            cJSON_GetObjectItemCaseSensitive (detail, "campaigns"));
        if (detail_count != expected_count
            || !s_same_members (excluded, cJSON_GetObjectItemCaseSensitive (detail, "excluded")))
            same_x = false;
        cJSON_Delete (detail);
        if (!same || !same_x || !reasons_ok) {
            if (failures < 10)
                print_error ("lead %d %s publisher '%s' source '%s' (%s): brute force %zu"
                             " eligible; index %zu (list %zu), with excluded %zu (list %zu,"
                             " %d reasons, want %zu)\n",
                             l, text, publisher, source, vertical, expected_count, count,
                             actual_count, count_x, actual_count_x,
                             cJSON_GetArraySize (excluded), excluded_same);
            failures++;
        }
        cJSON_Delete (excluded);
        pp_lead_destroy (&lead);
    }
    print_message ("%d campaigns, %d leads: %.1f eligible per lead on average\n",
                   S_RANDOM_CAMPAIGNS, S_RANDOM_LEADS, (double) eligible_total / S_RANDOM_LEADS);
    for (size_t r = 0; r < sizeof reason_names / sizeof reason_names [0]; r++) {
        print_message ("  excluded by %s: %zu\n", reason_names [r], reason_counts [r]);
        //  The random market exercises every rule
        if (reason_counts [r] == 0)
            fail_msg ("no campaign was ever excluded by %s: the random market is too tame",
                      reason_names [r]);
    }
    assert_true (eligible_total > S_RANDOM_LEADS);
    free (expected);
    free (actual);
    free (reasons);
    free (buffers);
    s_fixture_destroy (&fx);
    if (failures)
        fail_msg ("%zu of %d leads: the index and the brute-force scan disagree", failures,
                  S_RANDOM_LEADS);
}

//  ---------------------------------------------------------------------------
//  The index's own ways: candidates by state, the detail text, odd states,
//  cap flags by id, local time per second

//  Campaigns the index never looks at (other states) are still named in the
//  detail, each with "state"; only the candidates are judged in full.
static void
test_filter_index_candidates (void **state)
{
    s_fixture_t fx = s_fixture (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"},"
        "  \"state\": {\"type\": \"state\"}}}, {\"name\": \"roofing\", \"fields\": {}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"open1\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}},"
        "  {\"name\": \"ca\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}, \"filters\": {\"states\": [\"CA\"]}},"
        "  {\"name\": \"canv\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"states\": [\"NV\", \"CA\"]}},"
        "  {\"name\": \"zips\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"zips\": [\"90001\"]}},"
        "  {\"name\": \"roof\", \"vertical\": \"roofing\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}},"
        "  {\"name\": \"nv\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}, \"filters\": {\"states\": [\"NV\"]}},"
        "  {\"name\": \"open2\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}},"
        "  {\"name\": \"tx\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}, \"filters\": {\"states\": [\"TX\"]}}"
        " ]}]}",
        NULL);
    static const char *names [] = {"open1", "ca", "canv", "zips", "roof", "nv", "open2", "tx"};
    struct {
        const char *fields;
        size_t candidates;          //  open1, zips, open2 and those of the state
        const char *expected [8];   //  per campaign of names
    } cases [] = {
        {"{\"state\": \"CA\", \"zip\": \"90001\"}", 5,
         {"", "", "", "", "vertical", "state", "", "state"}},
        {"{\"state\": \"CA\", \"zip\": \"90002\"}", 5,
         {"", "", "", "zip", "vertical", "state", "", "state"}},
        {"{\"state\": \"NV\"}", 5, {"", "state", "", "zip", "vertical", "", "", "state"}},
        {"{\"state\": \"TX\"}", 4, {"", "state", "state", "zip", "vertical", "state", "", ""}},
        {"{\"state\": \"WY\"}", 3,
         {"", "state", "state", "zip", "vertical", "state", "", "state"}},
        {"{}", 3, {"", "state", "state", "zip", "vertical", "state", "", "state"}},
        {"{\"state\": \"ca\"}", 3,
         {"", "state", "state", "zip", "vertical", "state", "", "state"}},
        {"{\"state\": 5}", 3, {"", "state", "state", "zip", "vertical", "state", "", "state"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        pp_lead_t *lead = s_lead ("solar", cases [i].fields, "", "");
        for (size_t c = 0; c < sizeof names / sizeof names [0]; c++)
            s_check (&fx, names [c], lead, 0, cases [i].expected [c], cases [i].fields);
        //  The detail names all seven campaigns of solar, in market order
        cJSON *detail = s_decide (fx.market, fx.index, lead, 0);
        const cJSON *excluded = cJSON_GetObjectItemCaseSensitive (detail, "excluded");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive (detail, "campaigns");
        assert_int_equal (cJSON_GetArraySize (excluded) + cJSON_GetArraySize (ids), 7);
        const cJSON *item = excluded->child;
        for (size_t c = 0; c < sizeof names / sizeof names [0]; c++)
            if (*cases [i].expected [c] && !streq (cases [i].expected [c], "vertical")) {
                assert_non_null (item);
                assert_string_equal (item->string, names [c]);
                item = item->next;
            }
        assert_null (item);
        cJSON_Delete (detail);
        //  Only the candidates were judged, in each way
        const char *text;
        pp_lead_clear_eligible (lead);
        filter_index_decide (fx.index, lead, 0, &text);
        assert_int_equal (filter_index_candidates (fx.index), cases [i].candidates);
        pp_lead_clear_eligible (lead);
        filter_index_match (fx.index, lead, 0, NULL);
        assert_int_equal (filter_index_candidates (fx.index), cases [i].candidates);
        pp_lead_destroy (&lead);
    }
    //  A vertical of no campaign, and one the market does not have
    for (int v = 0; v < 2; v++) {
        pp_lead_t *lead = s_lead (v ? "siding" : "roofing", "{\"state\": \"CA\"}", "", "");
        const char *text = NULL;
        assert_int_equal (filter_index_decide (fx.index, lead, 0, &text), v ? 0 : 1);
        assert_string_equal (text, v ? "{\"campaigns\":[],\"excluded\":{}}"
                                     : "{\"campaigns\":[5],\"excluded\":{}}");
        assert_int_equal (filter_index_candidates (fx.index), v ? 0 : 1);
        pp_lead_destroy (&lead);
    }
    //  The detail lists the whole eligible list, ids already there first
    pp_lead_t *lead = s_lead ("solar", "{\"state\": \"TX\"}", "", "");
    pp_lead_add_eligible (lead, 4000000000u);
    const char *text = NULL;
    assert_int_equal (filter_index_decide (fx.index, lead, 0, &text), 3);
    assert_string_equal (text, "{\"campaigns\":[4000000000,1,7,8],\"excluded\":{\"ca\":\"state\","
                               "\"canv\":\"state\",\"zips\":\"zip\",\"nv\":\"state\"}}");
    pp_lead_destroy (&lead);
    s_fixture_destroy (&fx);
}

//  The detail is JSON whatever the names: texts around the 16-byte steps
//  in which it is copied, long field names, and a name that needs escapes.
static void
test_filter_index_detail_text (void **state)
{
    char json [8192];
    size_t used = (size_t) snprintf (
        json, sizeof json,
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"state\": {\"type\": \"state\"},"
        "  \"f234567890123456789012345678901234567890123456789012345678901234\":"
        "  {\"type\": \"integer\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": [");
    //  Names of 1 to 64 characters; a key is the name and 3 characters
    static const int lengths [] = {1, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31, 45, 61, 62, 64};
    enum { LENGTHS = sizeof lengths / sizeof lengths [0] };
    for (int i = 0; i < LENGTHS; i++) {
        char name [65];
        for (int k = 0; k < lengths [i]; k++)
            name [k] = (char) ('a' + (i + k) % 26);
        name [lengths [i]] = 0;
        //  Each campaign with its own way out: state, field, schedule, none
        const char *filters [] = {
            ", \"filters\": {\"states\": [\"TX\"]}",
            ", \"filters\": {\"fields\": {\"f234567890123456789012345678901234567890123456789"
            "012345678901234\": {\"min\": 10}}}",
            ", \"schedule\": {\"time_zone\": \"UTC\", \"holidays\": [\"1970-01-01\"]}",
            ""
        };
        used += (size_t) snprintf (json + used, sizeof json - used,
                                   "%s{\"name\": \"%s\", \"vertical\": \"solar\","
                                   " \"bid\": {\"fixed\": 1},"
                                   " \"post\": {\"url\": \"http://127.0.0.1:1/p\"}%s}",
                                   i ? "," : "", name, filters [i % 4]);
    }
    snprintf (json + used, sizeof json - used, "]}]}");
    pp_market_t *market = s_parse_market (json);
    //  Names the market would refuse, written over two of its names in place
    //  (its own lookups by name are not used below): campaign 12 (61
    //  characters, TX only) and 13 (62, a field rule)
    pp_campaign_t *odd [2] = {pp_market_campaign_at (market, 12),
                              pp_market_campaign_at (market, 13)};
    for (int k = 0; k < 2; k++) {
        const char *weird = "q\"uo\\te\x01\n\t/\xc3\xa9t\xc3\xa9 \x7f-";
        size_t size = strlen (odd [k]->name);
        assert_int_equal (size, (size_t) (61 + k));
        memset (odd [k]->name, 'z', size);
        memcpy (odd [k]->name, weird, strlen (weird));
    }
    filter_index_t *index = filter_index_new (market, NULL);
    for (int l = 0; l < 3; l++) {
        pp_lead_t *lead = s_lead ("solar", l == 0   ? "{\"state\": \"CA\"}"
                                           : l == 1 ? "{\"state\": \"TX\", \"f234567890123456789"
                                                      "012345678901234567890123456789012345678"
                                                      "901234\": 11}"
                                                    : "{}",
                                  "", "");
        int64_t at = l == 2 ? 0 : s_utc (2026, 1, 1, 0, 0, 0);
        cJSON *detail = s_decide (market, index, lead, at);
        //  Every campaign named or eligible with the reference's reason
        for (size_t i = 0; i < pp_market_campaign_count (market); i++) {
            const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
            char buf [96];
            const char *why = filter_exclusion (index, campaign, lead, at, buf, sizeof buf);
            const char *said = s_said (detail, campaign, lead);
            if (!said || !streq (said, why ? why : ""))
                fail_msg ("lead %d, campaign %zu: the detail says '%s', the reference '%s'", l,
                          i, said ? said : "(none)", why ? why : "");
        }
        //  The odd names come back as they are, with their reasons
        const char *field = "field:f234567890123456789012345678901234567890123456789"
                            "012345678901234";
        const char *said [2] = {s_said (detail, odd [0], lead), s_said (detail, odd [1], lead)};
        assert_non_null (said [0]);
        assert_non_null (said [1]);
        assert_string_equal (said [0], l == 1 ? "" : "state");
        assert_string_equal (said [1], l == 1 ? "" : field);
        cJSON_Delete (detail);
        pp_lead_destroy (&lead);
    }
    filter_index_destroy (&index);
    pp_market_unlink (&market);
}

//  A state the index cannot place (not an upper-case USPS code) is still
//  compared by name, as the reference does.
static void
test_filter_index_odd_state (void **state)
{
    const char *json =
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"state\": {\"type\": \"state\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"odd\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"states\": [\"NV\", \"CA\"]}},"
        "  {\"name\": \"ca\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}, \"filters\": {\"states\": [\"CA\"]}},"
        "  {\"name\": \"oddzip\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"},"
        "   \"filters\": {\"states\": [\"CA\"], \"zips\": [\"90001\"]}}"
        " ]}]}";
    s_fixture_t fx;
    fx.market = s_parse_market (json);      //  ids: odd 1, ca 2, oddzip 3
    pp_campaign_t *odd = pp_market_campaign (fx.market, "odd");
    assert_non_null (odd);
    assert_int_equal (odd->id, 1);
    assert_int_equal (pp_market_campaign (fx.market, "ca")->id, 2);
    pp_campaign_t *oddzip = pp_market_campaign (fx.market, "oddzip");
    assert_int_equal (oddzip->id, 3);
    memcpy (odd->states [1], "ca", 2);      //  "NV", "ca"
    memcpy (oddzip->states [0], "ca", 2);   //  "ca", its ZIP list checked after it
    fx.index = filter_index_new (fx.market, NULL);
    const struct {
        const char *fields;
        const char *odd;
        const char *ca;
        const char *oddzip;
    } cases [] = {
        {"{\"state\": \"ca\"}", "", "state", "zip"},
        {"{\"state\": \"CA\"}", "state", "", "state"},
        {"{\"state\": \"NV\"}", "", "state", "state"},
        {"{}", "state", "state", "state"},
        {"{\"state\": \"CA\", \"zip\": \"90002\"}", "state", "", "state"},
        {"{\"state\": \"ca\", \"zip\": \"90002\"}", "", "state", "zip"},
        {"{\"state\": \"ca\", \"zip\": \"90001\"}", "", "state", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        pp_lead_t *lead = s_lead ("solar", cases [i].fields, "", "");
        s_check (&fx, "odd", lead, 0, cases [i].odd, cases [i].fields);
        s_check (&fx, "ca", lead, 0, cases [i].ca, cases [i].fields);
        s_check (&fx, "oddzip", lead, 0, cases [i].oddzip, cases [i].fields);
        pp_lead_destroy (&lead);
    }
    s_fixture_destroy (&fx);
}

//  Cap flags go by campaign id: every campaign of that id (a market not yet
//  stored has all ids 0), none of another.
static void
test_filter_index_full_by_id (void **state)
{
    s_fixture_t fx = s_fixture (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": ["
        "  {\"name\": \"c1\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}},"
        "  {\"name\": \"c2\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}},"
        "  {\"name\": \"c3\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}},"
        "  {\"name\": \"c4\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}}]}]}",
        NULL);
    //  Ids 7, 3, 7, 0, then the index again
    static const uint32_t ids [] = {7, 3, 7, 0};
    for (size_t i = 0; i < 4; i++)
        pp_market_campaign_at (fx.market, i)->id = ids [i];
    filter_index_destroy (&fx.index);
    fx.index = filter_index_new (fx.market, NULL);
    pp_lead_t *lead = s_lead ("solar", "{}", "", "");
    const uint32_t marks [] = {7, 0, 3, 5};
    for (size_t m = 0; m < 4; m++) {
        filter_index_set_full (fx.index, marks [m], true);
        for (size_t i = 0; i < 4; i++) {
            char name [8];
            snprintf (name, sizeof name, "c%zu", i + 1);
            s_check (&fx, name, lead, 0, ids [i] == marks [m] ? "cap" : "", "one id full");
        }
        filter_index_set_full (fx.index, marks [m], false);
    }
    //  All full, then cleared in one pass
    for (size_t i = 0; i < 4; i++)
        filter_index_set_full (fx.index, ids [i], true);
    s_check (&fx, "c2", lead, 0, "cap", "all full");
    filter_index_clear_full (fx.index);
    for (size_t i = 0; i < 4; i++) {
        char name [8];
        snprintf (name, sizeof name, "c%zu", i + 1);
        s_check (&fx, name, lead, 0, "", "cleared");
    }
    pp_lead_destroy (&lead);
    s_fixture_destroy (&fx);
}

//  The index keeps a zone's local time for a second: within a second it
//  does not change, across one it does, backwards too.
static void
test_filter_index_local_time_cache (void **state)
{
    s_fixture_t fx = s_fixture (s_schedule_market, NULL);
    pp_lead_t *lead = s_lead ("solar", "{}", "", "");
    //  "week" (UTC) is open Monday 2026-01-05 09:00-12:00, 13:00-17:30
    int64_t noon = s_utc (2026, 1, 5, 12, 0, 0);
    const struct {
        int64_t at;
        const char *week;
    } cases [] = {
        {noon - 1, ""}, {noon, "schedule"}, {noon - 1000000, ""}, {noon + 999999, "schedule"},
        {noon - 999999, ""}, {noon + 3600 * 1000000LL, ""}, {noon - 1, ""},
        {noon + 1, "schedule"}, {noon - 3 * 3600 * 1000000LL - 1, "schedule"},
        {noon - 3 * 3600 * 1000000LL, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char label [64];
        snprintf (label, sizeof label, "%+lld us from noon", (long long) (cases [i].at - noon));
        s_check (&fx, "week", lead, cases [i].at, cases [i].week, label);
        //  New York is 5 hours behind: closed at these instants
        s_check (&fx, "ny", lead, cases [i].at, "schedule", label);
    }
    pp_lead_destroy (&lead);
    s_fixture_destroy (&fx);
}

//  Campaigns that share their tests (the same rules, lists, schedules, in
//  any state), campaigns with more tests than the index keeps side by side,
//  and numeric ranges at their edges: every campaign's verdict is the
//  reference's, and the detail is, byte for byte, what cJSON prints of the
//  eligible ids (some already on the lead's list) and filter_index_match's
//  `excluded`.
static void
test_filter_index_shared_tests (void **state)
{
    static const char *filters [] = {
        "\"filters\": {\"fields\": {\"bill\": {\"min\": 100}}}",
        "\"filters\": {\"states\": [\"TX\"], \"fields\": {\"bill\": {\"min\": 100}}}",
        "\"filters\": {\"states\": [\"CA\", \"TX\"], \"fields\": {\"bill\": {\"min\": 100}}}",
        "\"filters\": {\"fields\": {\"bill\": {\"min\": 100, \"max\": 200}}}",
        "\"filters\": {\"fields\": {\"bill\": {\"max\": 200}, \"ratio\": {\"min\": 0.5}}}",
        "\"filters\": {\"fields\": {\"ratio\": {\"max\": 0.5}}}",
        "\"filters\": {\"fields\": {\"kids\": {\"exists\": false}, \"bill\": {\"min\": 100}}}",
        "\"filters\": {\"fields\": {\"kids\": {\"min\": 1, \"exists\": true}}}",
        //  Seven tests: lists, five rules, a schedule
        "\"filters\": {\"publishers\": {\"deny\": [\"pub4\"]}, \"fields\": {"
        "  \"bill\": {\"max\": 150}, \"ratio\": {\"min\": 0.1}, \"kids\": {\"min\": 1},"
        "  \"owner\": {\"equals\": true}, \"credit\": {\"in\": [\"good\", \"fair\"]}}},"
        " \"schedule\": {\"time_zone\": \"America/Chicago\", \"hours\": {\"mon-fri\": \"08:00-18:00\"}}",
        "\"filters\": {\"states\": [\"TX\"], \"publishers\": {\"deny\": [\"pub4\"]}, \"fields\": {"
        "  \"bill\": {\"max\": 150}, \"ratio\": {\"min\": 0.1}, \"kids\": {\"min\": 1},"
        "  \"owner\": {\"equals\": true}, \"credit\": {\"in\": [\"good\", \"fair\"]}}},"
        " \"schedule\": {\"time_zone\": \"America/Chicago\", \"hours\": {\"mon-fri\": \"08:00-18:00\"}}",
        "\"filters\": {\"sources\": {\"allow\": [\"s1\"]}, \"fields\": {"
        "  \"roof\": {\"not_in\": [\"flat\"]}, \"bill\": {\"min\": 100}, \"ratio\": {\"max\": 0.5},"
        "  \"kids\": {\"max\": 3}, \"credit\": {\"in\": [\"good\"]}}}",
        "\"schedule\": {\"time_zone\": \"America/Chicago\", \"hours\": {\"mon-fri\": \"08:00-18:00\"},"
        " \"holidays\": [\"2026-12-25\"]}",
        "\"filters\": {\"fields\": {\"bill\": {\"min\": 100}}},"
        " \"schedule\": {\"time_zone\": \"America/Chicago\", \"hours\": {\"mon-fri\": \"08:00-18:00\"},"
        " \"holidays\": [\"2026-12-25\"]}"
    };
    enum { FILTERS = sizeof filters / sizeof filters [0], COPIES = 3 };
    char json [16384];
    size_t used = (size_t) snprintf (
        json, sizeof json,
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"state\": {\"type\": \"state\"},"
        "  \"bill\": {\"type\": \"integer\"}, \"ratio\": {\"type\": \"number\"},"
        "  \"owner\": {\"type\": \"boolean\"}, \"kids\": {\"type\": \"integer\"},"
        "  \"credit\": {\"type\": \"enum\", \"values\": [\"excellent\", \"good\", \"fair\", \"poor\"]},"
        "  \"roof\": {\"type\": \"string\"}}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": [");
    //  Each filter three times, interleaved
    for (int copy = 0; copy < COPIES; copy++)
        for (int f = 0; f < FILTERS; f++) {
            used += (size_t) snprintf (json + used, sizeof json - used,
                                       "%s{\"name\": \"c%d-%d\", \"vertical\": \"solar\","
                                       " \"bid\": {\"fixed\": 1},"
                                       " \"post\": {\"url\": \"http://127.0.0.1:1/p\"}, %s}",
                                       copy || f ? "," : "", f, copy, filters [f]);
            assert_true (used < sizeof json);
        }
    snprintf (json + used, sizeof json - used, "]}]}");
    pp_market_t *market = s_parse_market (json);
    assert_int_equal (pp_market_campaign_count (market), FILTERS * COPIES);
    filter_index_t *index = filter_index_new (market, NULL);
    filter_index_set_full (index, 2, true);
    static const char *leads [][3] = {
        {"{\"state\": \"TX\", \"bill\": 100, \"ratio\": 0.5, \"kids\": 1, \"owner\": true,"
         " \"credit\": \"good\", \"roof\": \"tile\"}", "pub1", "s1"},
        {"{\"state\": \"TX\", \"bill\": 99, \"ratio\": 0.50001, \"kids\": 0, \"owner\": true,"
         " \"credit\": \"fair\", \"roof\": \"flat\"}", "pub4", "s2"},
        {"{\"state\": \"CA\", \"bill\": 200, \"ratio\": 0.1, \"kids\": 3, \"owner\": false,"
         " \"credit\": \"good\"}", "pub1", "s1"},
        {"{\"state\": \"NY\", \"bill\": 150.5, \"ratio\": 1e300, \"kids\": 4}", "", ""},
        {"{\"state\": \"CA\", \"bill\": \"150\", \"ratio\": \"x\", \"owner\": \"true\"}", "pub1", ""},
        {"{\"state\": \"ZZ\", \"bill\": 201, \"ratio\": -0.0, \"kids\": null}", "pub1", "s1"},
        {"{\"bill\": -1e9, \"ratio\": 0}", "", "s1"},
        {"{\"state\": \"TX\", \"bill\": 150, \"ratio\": 0.1, \"kids\": 1, \"owner\": true,"
         " \"credit\": \"good\"}", "pub2", "s1"}
    };
    enum { LEADS = sizeof leads / sizeof leads [0] };
    //  A weekday at work, a weekday at night, a holiday
    int64_t instants [] = {s_utc (2026, 12, 22, 16, 0, 0), s_utc (2026, 12, 22, 3, 0, 0),
                           s_utc (2026, 12, 25, 16, 0, 0)};
    size_t eligible_seen = 0, excluded_seen = 0;
    for (int t = 0; t < 3; t++)
        for (int l = 0; l < LEADS; l++) {
            pp_lead_t *lead = s_lead ("solar", leads [l][0], leads [l][1], leads [l][2]);
            cJSON *detail = s_decide (market, index, lead, instants [t]);
            for (size_t i = 0; i < pp_market_campaign_count (market); i++) {
                const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
                char buf [96];
                const char *why = filter_exclusion (index, campaign, lead, instants [t], buf,
                                                    sizeof buf);
                const char *said = s_said (detail, campaign, lead);
                if (!said || !streq (said, why ? why : ""))
                    fail_msg ("instant %d, lead %d, campaign %s: the detail says '%s',"
                              " the reference '%s'", t, l, campaign->name,
                              said ? said : "(none)", why ? why : "");
                if (why)
                    excluded_seen++;
                else
                    eligible_seen++;
            }
            cJSON_Delete (detail);
            //  Byte for byte, with two ids already on the list
            pp_lead_clear_eligible (lead);
            pp_lead_add_eligible (lead, 4000000000u);
            pp_lead_add_eligible (lead, 7);
            const char *text = NULL;
            size_t count = filter_index_decide (index, lead, instants [t], &text);
            assert_non_null (text);
            assert_int_equal (pp_lead_eligible_size (lead), count + 2);
            char *mine = strdup (text);
            assert_non_null (mine);
            pp_lead_clear_eligible (lead);
            pp_lead_add_eligible (lead, 4000000000u);
            pp_lead_add_eligible (lead, 7);
            cJSON *excluded = cJSON_CreateObject ();
            assert_int_equal (filter_index_match (index, lead, instants [t], excluded), count);
            cJSON *whole = cJSON_CreateObject ();
            cJSON *ids = cJSON_AddArrayToObject (whole, "campaigns");
            for (size_t k = 0; k < pp_lead_eligible_size (lead); k++)
                cJSON_AddItemToArray (ids, cJSON_CreateNumber (pp_lead_eligible (lead, k)));
            cJSON_AddItemToObject (whole, "excluded", excluded);
            char *printed = cJSON_PrintUnformatted (whole);
            assert_non_null (printed);
            if (!streq (mine, printed))
                fail_msg ("instant %d, lead %d: the detail\n%s\nis not what cJSON prints\n%s", t,
                          l, mine, printed);
            free (printed);
            free (mine);
            cJSON_Delete (whole);
            pp_lead_destroy (&lead);
        }
    //  Both kinds of verdict were seen, many times
    assert_true (eligible_seen > 20);
    assert_true (excluded_seen > 200);
    filter_index_destroy (&index);
    pp_market_unlink (&market);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_filter_vertical),
        cmocka_unit_test (test_filter_states_zips),
        cmocka_unit_test (test_filter_rules),
        cmocka_unit_test (test_filter_rules_more),
        cmocka_unit_test (test_filter_reason_buffer),
        cmocka_unit_test (test_filter_publishers_sources),
        cmocka_unit_test (test_filter_zip_lists),
        cmocka_unit_test (test_filter_zip_radius),
        cmocka_unit_test (test_filter_field_rules_each),
        cmocka_unit_test (test_filter_schedule_windows),
        cmocka_unit_test (test_filter_schedule_dst),
        cmocka_unit_test (test_filter_local_time),
        cmocka_unit_test (test_filter_local_time_random),
        cmocka_unit_test (test_filter_schedule_random),
        cmocka_unit_test (test_filter_cap_full),
        cmocka_unit_test (test_filter_pacing_allowed),
        cmocka_unit_test (test_filter_pacing_dst),
        cmocka_unit_test (test_filter_pacing_reached),
        cmocka_unit_test (test_filter_pacing_index),
        cmocka_unit_test (test_filter_index_repeated_state),
        cmocka_unit_test (test_filter_index_random),
        cmocka_unit_test (test_filter_index_candidates),
        cmocka_unit_test (test_filter_index_detail_text),
        cmocka_unit_test (test_filter_index_odd_state),
        cmocka_unit_test (test_filter_index_full_by_id),
        cmocka_unit_test (test_filter_index_local_time_cache),
        cmocka_unit_test (test_filter_index_shared_tests),
    };
    //  PP_TEST_FILTER=test_filter_index_* runs some tests only
    if (getenv ("PP_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("PP_TEST_FILTER"));
    int rc = cmocka_run_group_tests (tests, s_setup, s_teardown);
    pp_zip_destroy (&s_zips);
    return rc;
}
