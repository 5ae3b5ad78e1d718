/*  test_filter - which campaigns may see a lead: vertical, states, ZIPs and field rules  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "filter_server.h"
#include "pp_json.h"

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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_filter_vertical),
        cmocka_unit_test (test_filter_states_zips),
        cmocka_unit_test (test_filter_rules),
        cmocka_unit_test (test_filter_rules_more),
        cmocka_unit_test (test_filter_reason_buffer),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
