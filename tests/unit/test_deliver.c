/*  test_deliver - post bodies (default, mappings, constants, form), acceptance, payouts, splits  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "deliver_server.h"
#include "pp_json.h"

static const char *s_market_json =
    "{\"verticals\": [{\"name\": \"solar\", \"fields\": {"
    " \"first_name\": {\"type\": \"string\", \"pii\": true},"
    " \"phone\": {\"type\": \"phone\", \"pii\": true},"
    " \"zip\": {\"type\": \"zip\"}, \"bill\": {\"type\": \"integer\"},"
    " \"ratio\": {\"type\": \"number\"}, \"owner\": {\"type\": \"boolean\"},"
    " \"source\": {\"type\": \"string\"}, \"note\": {\"type\": \"string\"}}}],"
    " \"buyers\": [{\"name\": \"b1\", \"campaigns\": ["
    "  {\"name\": \"default\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\"}},"
    "  {\"name\": \"default-form\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\", \"format\": \"form\"}},"
    "  {\"name\": \"mapped\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\", \"mapping\": {"
    "    \"FirstName\": \"first_name\", \"Phone\": \"phone\", \"Bill\": \"bill\","
    "    \"Owner\": \"owner\", \"Ratio\": \"ratio\", \"Missing\": \"note\","
    "    \"LeadId\": \"lead_id\", \"PingId\": \"ping_id\", \"Vertical\": \"vertical\","
    "    \"Sub\": \"sub_id\", \"Publisher\": \"publisher\","
    "    \"contact/first\": \"first_name\", \"contact/phone\": \"phone\","
    "    \"a/b/c\": \"zip\"},"
    "    \"constants\": {\"AffiliateId\": \"pp-17\", \"Version\": 2, \"Test\": false,"
    "     \"Price\": 1.5, \"meta/channel\": \"web\", \"contact/kind\": \"home\"}}},"
    "  {\"name\": \"mapped-form\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 10},"
    "   \"post\": {\"url\": \"http://127.0.0.1:1/p\", \"format\": \"form\", \"mapping\": {"
    "    \"First Name\": \"first_name\", \"Phone\": \"phone\", \"Bill\": \"bill\","
    "    \"Owner\": \"owner\", \"Ratio\": \"ratio\", \"Note\": \"note\", \"LeadId\": \"lead_id\"},"
    "    \"constants\": {\"AffiliateId\": \"pp 17&x=y\", \"Version\": 2}}}"
    " ]}]}";

static pp_market_t *s_market;

static int
s_setup (void **state)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    s_market = pp_market_parse (s_market_json, strlen (s_market_json), &errors, &count);
    for (size_t i = 0; i < count; i++)
        fprintf (stderr, "market: %s: %s\n", errors [i].path, errors [i].message);
    pp_market_errors_free (&errors, count);
    return s_market ? 0 : -1;
}

static int
s_teardown (void **state)
{
    pp_market_unlink (&s_market);
    return 0;
}

#define S_LEAD_ID "01J00000000000000000000001"

static pp_lead_t *
s_lead (const char *fields)
{
    pp_lead_t *lead = pp_lead_new (S_LEAD_ID);
    pp_lead_set_vertical (lead, "solar");
    pp_lead_set_source (lead, "src-1");
    pp_lead_set_sub_id (lead, "sub-9");
    pp_lead_set_publisher (lead, "acme-media");
    cJSON *json = cJSON_Parse (fields);
    assert_non_null (json);
    pp_json_to_fields (json, pp_lead_fields (lead));
    cJSON_Delete (json);
    return lead;
}

//  The body of a post for campaign `name`; parsed when JSON.
static char *
s_body (const char *name, pp_lead_t *lead, const char *bid_ref, const char **content_type)
{
    const pp_campaign_t *campaign = pp_market_campaign (s_market, name);
    assert_non_null (campaign);
    pp_bid_t bid;
    memset (&bid, 0, sizeof bid);
    bid.campaign_id = 1;
    bid.amount_cents = 2600;
    bid.price_cents = 2500;     //  second pricing may charge less than the bid
    bid.bid_ref = (char *) bid_ref;
    *content_type = NULL;
    char *body = deliver_post_body (campaign, lead, &bid, content_type);
    assert_non_null (body);
    assert_non_null (*content_type);
    return body;
}

static void
test_deliver_body_default (void **state)
{
    pp_lead_t *lead = s_lead (
        "{\"first_name\": \"Ann\", \"phone\": \"+14155552671\", \"zip\": \"94105\","
        " \"bill\": 120, \"ratio\": 0.1, \"owner\": true, \"note\": null,"
        " \"unknown\": {\"nested\": [1, \"two\"]}}");
    const char *content_type;
    char *body = s_body ("default", lead, NULL, &content_type);
    assert_string_equal (content_type, "application/json");
    //  Exactly the default protocol, every field (unknown ones too), typed
    assert_string_equal (body,
        "{\"ping_id\":\"" S_LEAD_ID "\",\"lead_id\":\"" S_LEAD_ID "\",\"vertical\":\"solar\","
        "\"price\":25.00,\"fields\":{\"first_name\":\"Ann\",\"phone\":\"+14155552671\",\"zip\":\"94105\","
        "\"bill\":120,\"ratio\":0.1,\"owner\":true,\"note\":null,"
        "\"unknown\":{\"nested\":[1,\"two\"]}}}");
    free (body);
    //  The buyer's bid reference is the ping id when it gave one
    body = s_body ("default", lead, "bid-77", &content_type);
    cJSON *json = cJSON_Parse (body);
    assert_non_null (json);
    assert_string_equal (cJSON_GetObjectItem (json, "ping_id")->valuestring, "bid-77");
    assert_string_equal (cJSON_GetObjectItem (json, "lead_id")->valuestring, S_LEAD_ID);
    cJSON_Delete (json);
    free (body);
    pp_lead_destroy (&lead);

    //  No fields: an empty object
    lead = s_lead ("{}");
    body = s_body ("default", lead, NULL, &content_type);
    json = cJSON_Parse (body);
    assert_true (cJSON_IsObject (cJSON_GetObjectItem (json, "fields")));
    assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (json, "fields")), 0);
    cJSON_Delete (json);
    free (body);
    pp_lead_destroy (&lead);
}

static void
test_deliver_body_default_field_names (void **state)
{
    //  A lead field that shares its name with envelope data ("source" is a
    //  field of this vertical) goes in the post as the lead gave it
    pp_lead_t *lead = s_lead ("{\"source\": \"facebook\", \"vertical\": \"v-field\","
                              " \"lead_id\": \"mine\", \"sub_id\": 5}");
    const char *content_type;
    char *body = s_body ("default", lead, NULL, &content_type);
    cJSON *json = cJSON_Parse (body);
    assert_non_null (json);
    cJSON *fields = cJSON_GetObjectItem (json, "fields");
    assert_string_equal (cJSON_GetObjectItem (fields, "source")->valuestring, "facebook");
    assert_string_equal (cJSON_GetObjectItem (fields, "vertical")->valuestring, "v-field");
    assert_string_equal (cJSON_GetObjectItem (fields, "lead_id")->valuestring, "mine");
    assert_int_equal (cJSON_GetObjectItem (fields, "sub_id")->valueint, 5);
    //  The envelope itself is the lead's
    assert_string_equal (cJSON_GetObjectItem (json, "vertical")->valuestring, "solar");
    assert_string_equal (cJSON_GetObjectItem (json, "lead_id")->valuestring, S_LEAD_ID);
    cJSON_Delete (json);
    free (body);
    pp_lead_destroy (&lead);
}

static void
test_deliver_body_mapping (void **state)
{
    pp_lead_t *lead = s_lead ("{\"first_name\": \"Ann\", \"phone\": \"+14155552671\","
                              " \"zip\": \"94105\", \"bill\": 120, \"ratio\": 0.25,"
                              " \"owner\": false, \"unmapped\": \"x\"}");
    const char *content_type;
    char *body = s_body ("mapped", lead, "ref-5", &content_type);
    assert_string_equal (content_type, "application/json");
    cJSON *json = cJSON_Parse (body);
    assert_non_null (json);
    //  Renamed fields, typed; an absent source is left out; unmapped fields
    //  and the default envelope are not sent
    assert_string_equal (cJSON_GetObjectItem (json, "FirstName")->valuestring, "Ann");
    assert_string_equal (cJSON_GetObjectItem (json, "Phone")->valuestring, "+14155552671");
    assert_true (cJSON_IsNumber (cJSON_GetObjectItem (json, "Bill")));
    assert_int_equal (cJSON_GetObjectItem (json, "Bill")->valueint, 120);
    assert_true (cJSON_IsFalse (cJSON_GetObjectItem (json, "Owner")));
    assert_true (cJSON_GetObjectItem (json, "Ratio")->valuedouble == 0.25);
    assert_null (cJSON_GetObjectItem (json, "Missing"));
    assert_null (cJSON_GetObjectItem (json, "unmapped"));
    assert_null (cJSON_GetObjectItem (json, "fields"));
    assert_null (cJSON_GetObjectItem (json, "lead_id"));
    //  Envelope sources
    assert_string_equal (cJSON_GetObjectItem (json, "LeadId")->valuestring, S_LEAD_ID);
    assert_string_equal (cJSON_GetObjectItem (json, "PingId")->valuestring, "ref-5");
    assert_string_equal (cJSON_GetObjectItem (json, "Vertical")->valuestring, "solar");
    assert_string_equal (cJSON_GetObjectItem (json, "Sub")->valuestring, "sub-9");
    assert_string_equal (cJSON_GetObjectItem (json, "Publisher")->valuestring, "acme-media");
    //  Nested targets, merged with a nested constant
    const cJSON *contact = cJSON_GetObjectItem (json, "contact");
    assert_true (cJSON_IsObject (contact));
    assert_int_equal (cJSON_GetArraySize (contact), 3);
    assert_string_equal (cJSON_GetObjectItem (contact, "first")->valuestring, "Ann");
    assert_string_equal (cJSON_GetObjectItem (contact, "phone")->valuestring, "+14155552671");
    assert_string_equal (cJSON_GetObjectItem (contact, "kind")->valuestring, "home");
    assert_string_equal (pp_json_pointer (json, "/a/b/c")->valuestring, "94105");
    //  Constants, typed
    assert_string_equal (cJSON_GetObjectItem (json, "AffiliateId")->valuestring, "pp-17");
    assert_int_equal (cJSON_GetObjectItem (json, "Version")->valueint, 2);
    assert_true (cJSON_IsFalse (cJSON_GetObjectItem (json, "Test")));
    assert_true (cJSON_GetObjectItem (json, "Price")->valuedouble == 1.5);
    assert_string_equal (pp_json_pointer (json, "/meta/channel")->valuestring, "web");
    //  Nothing else: 11 mapped (one absent) + contact + a + 4 flat constants + meta
    assert_int_equal (cJSON_GetArraySize (json), 10 + 2 + 4 + 1);
    cJSON_Delete (json);
    free (body);
    pp_lead_destroy (&lead);
}

static void
test_deliver_body_form (void **state)
{
    pp_lead_t *lead = s_lead ("{\"first_name\": \"Zo\\u00eb Ann\", \"phone\": \"+14155552671\","
                              " \"bill\": 120, \"ratio\": 0.1, \"owner\": true,"
                              " \"note\": \"a&b=c/d?e%f~g_h.i-j\"}");
    const char *content_type;
    char *body = s_body ("mapped-form", lead, NULL, &content_type);
    assert_string_equal (content_type, "application/x-www-form-urlencoded");
    //  In mapping order, then constants; spaces as '+', UTF-8 and reserved
    //  characters percent-encoded, numbers as JSON writes them
    assert_string_equal (body,
        "First+Name=Zo%C3%AB+Ann&Phone=%2B14155552671&Bill=120&Owner=true&Ratio=0.1"
        "&Note=a%26b%3Dc%2Fd%3Fe%25f~g_h.i-j&LeadId=" S_LEAD_ID
        "&AffiliateId=pp+17%26x%3Dy&Version=2");
    free (body);
    pp_lead_destroy (&lead);

    //  The default protocol in form encoding is flat: envelope, then fields
    lead = s_lead ("{\"zip\": \"94105\", \"bill\": 7}");
    body = s_body ("default-form", lead, "r1", &content_type);
    assert_string_equal (content_type, "application/x-www-form-urlencoded");
    assert_string_equal (body, "ping_id=r1&lead_id=" S_LEAD_ID "&vertical=solar&price=25.00&zip=94105&bill=7");
    free (body);
    pp_lead_destroy (&lead);

    //  Long values of characters that all need escaping
    char big [3001];
    memset (big, '&', 3000);
    big [3000] = 0;
    lead = s_lead ("{}");
    pp_fields_set_str (pp_lead_fields (lead), "note", big);
    body = s_body ("mapped-form", lead, NULL, &content_type);
    assert_non_null (strstr (body, "Note=%26%26%26"));
    assert_true (strlen (body) > 9000);
    free (body);
    pp_lead_destroy (&lead);
}

//  A campaign made by hand, zeroed: the default acceptance rule.
static pp_campaign_t
s_campaign (void)
{
    pp_campaign_t campaign;
    memset (&campaign, 0, sizeof campaign);
    campaign.name = "hand-made";
    return campaign;
}

//  deliver_accepted, and the reference it gave.
static bool
s_accepted (const pp_campaign_t *campaign, long status, const char *body, char *ref)
{
    memset (ref, '#', 64);
    return deliver_accepted (campaign, status, body, ref, 64);
}

static void
test_deliver_accepted_default (void **state)
{
    pp_campaign_t campaign = s_campaign ();
    char ref [64];
    assert_true (s_accepted (&campaign, 200, "{\"accepted\": true}", ref));
    assert_string_equal (ref, "");
    assert_true (s_accepted (&campaign, 201, "{\"accepted\": true, \"id\": \"B-1\"}", ref));
    assert_string_equal (ref, "B-1");
    assert_true (s_accepted (&campaign, 299, "{\"id\": 12345, \"accepted\": true}", ref));
    assert_string_equal (ref, "12345");
    //  Rejections: the answer says no, or not clearly yes, or not 2xx
    const char *no [] = {
        "{\"accepted\": false, \"id\": \"B-2\"}", "{\"accepted\": \"true\"}",
        "{\"accepted\": 1}", "{}", "[true]", "accepted", "", "{\"accepted\": tru",
        "{\"Accepted\": true}", "{\"data\": {\"accepted\": true}}",
    };
    for (size_t i = 0; i < sizeof no / sizeof no [0]; i++) {
        if (s_accepted (&campaign, 200, no [i], ref))
            fail_msg ("'%s' accepted", no [i]);
        assert_string_equal (ref, "");
    }
    const long statuses [] = {0, 100, 199, 204 + 96, 301, 400, 404, 500, 503, -1};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses [0]; i++) {
        if (s_accepted (&campaign, statuses [i], "{\"accepted\": true, \"id\": \"x\"}", ref))
            fail_msg ("status %ld accepted", statuses [i]);
        assert_string_equal (ref, "");
    }
    assert_false (s_accepted (&campaign, 200, NULL, ref));
    //  No room for a reference is fine
    assert_true (deliver_accepted (&campaign, 200, "{\"accepted\": true, \"id\": \"B\"}", NULL, 0));
    //  A long reference is cut to the buffer
    char small [4];
    assert_true (deliver_accepted (&campaign, 200, "{\"accepted\": true, \"id\": \"ABCDEFG\"}",
                                   small, sizeof small));
    assert_string_equal (small, "ABC");
}

static void
test_deliver_accepted_pointer (void **state)
{
    pp_campaign_t campaign = s_campaign ();
    char ref [64];
    campaign.accepted_pointer = "/status";
    campaign.accepted_equals = "\"OK\"";
    assert_true (s_accepted (&campaign, 200, "{\"status\": \"OK\", \"id\": \"r-1\"}", ref));
    assert_string_equal (ref, "r-1");
    assert_false (s_accepted (&campaign, 200, "{\"status\": \"ok\"}", ref));
    assert_false (s_accepted (&campaign, 200, "{\"status\": \"OK \"}", ref));
    assert_false (s_accepted (&campaign, 200, "{\"other\": \"OK\"}", ref));
    assert_false (s_accepted (&campaign, 200, "\"OK\"", ref));
    assert_false (s_accepted (&campaign, 500, "{\"status\": \"OK\"}", ref));
    assert_string_equal (ref, "");
    //  Nested pointer, number value: 1 is not "1"
    campaign.accepted_pointer = "/result/code";
    campaign.accepted_equals = "1";
    assert_true (s_accepted (&campaign, 200, "{\"result\": {\"code\": 1}}", ref));
    assert_true (s_accepted (&campaign, 200, "{\"result\": {\"code\": 1.0}}", ref));
    assert_false (s_accepted (&campaign, 200, "{\"result\": {\"code\": \"1\"}}", ref));
    assert_false (s_accepted (&campaign, 200, "{\"result\": {\"code\": 2}}", ref));
    assert_false (s_accepted (&campaign, 200, "{\"result\": [1]}", ref));
    //  Boolean value, and an array index in the pointer
    campaign.accepted_pointer = "/results/0/ok";
    campaign.accepted_equals = "true";
    assert_true (s_accepted (&campaign, 200, "{\"results\": [{\"ok\": true}]}", ref));
    assert_false (s_accepted (&campaign, 200, "{\"results\": [{\"ok\": false}]}", ref));
    //  A pointer without equals means "is true"
    campaign.accepted_pointer = "/success";
    campaign.accepted_equals = NULL;
    assert_true (s_accepted (&campaign, 200, "{\"success\": true, \"id\": 7}", ref));
    assert_string_equal (ref, "7");
    assert_false (s_accepted (&campaign, 200, "{\"success\": \"yes\"}", ref));
    //  The rule replaces the default one
    assert_false (s_accepted (&campaign, 200, "{\"accepted\": true}", ref));
}

static void
test_deliver_accepted_contains_regex (void **state)
{
    pp_campaign_t campaign = s_campaign ();
    char ref [64];
    campaign.accepted_contains = "SUCCESS";
    assert_true (s_accepted (&campaign, 200, "<result>SUCCESS</result>", ref));
    assert_string_equal (ref, "");      //  not JSON: no reference
    assert_true (s_accepted (&campaign, 200, "{\"status\": \"SUCCESS\", \"id\": \"q\"}", ref));
    assert_string_equal (ref, "q");
    assert_false (s_accepted (&campaign, 200, "success", ref));
    assert_false (s_accepted (&campaign, 200, "", ref));
    assert_false (s_accepted (&campaign, 200, NULL, ref));
    assert_false (s_accepted (&campaign, 502, "SUCCESS", ref));

    campaign = s_campaign ();
    campaign.accepted_regex = "^(OK|ACCEPTED)( [0-9]+)?$";
    assert_true (s_accepted (&campaign, 200, "OK", ref));
    assert_true (s_accepted (&campaign, 200, "ACCEPTED 123", ref));
    assert_false (s_accepted (&campaign, 200, "NOT OK", ref));
    assert_false (s_accepted (&campaign, 200, "OK abc", ref));
    assert_false (s_accepted (&campaign, 200, NULL, ref));
    assert_false (s_accepted (&campaign, 404, "OK", ref));
    //  A regex that does not compile accepts nothing
    campaign.accepted_regex = "(unclosed";
    assert_false (s_accepted (&campaign, 200, "(unclosed", ref));
}

static void
test_deliver_payout (void **state)
{
    pp_publisher_t publisher;
    memset (&publisher, 0, sizeof publisher);
    publisher.payout_kind = PP_PAYOUT_REVSHARE;
    struct {
        int percent;
        int64_t charge;
        int64_t payout;
    } revshare [] = {
        {80, 1999, 1599}, {80, 2500, 2000}, {80, 1, 0}, {80, 0, 0}, {100, 1234, 1234},
        {0, 1234, 0}, {33, 1000, 330}, {33, 999, 329}, {67, 3, 2}, {99, 99, 98},
        {50, 4999999999LL, 2499999999LL},
    };
    for (size_t i = 0; i < sizeof revshare / sizeof revshare [0]; i++) {
        publisher.revshare_percent = revshare [i].percent;
        int64_t payout = deliver_payout (&publisher, revshare [i].charge);
        if (payout != revshare [i].payout)
            fail_msg ("%d%% of %lld: %lld, expected %lld", revshare [i].percent,
                      (long long) revshare [i].charge, (long long) payout,
                      (long long) revshare [i].payout);
    }
    //  Fixed: the fixed amount, never more than the sale
    publisher.payout_kind = PP_PAYOUT_FIXED;
    publisher.payout_fixed_cents = 1000;
    publisher.revshare_percent = 80;
    assert_int_equal (deliver_payout (&publisher, 3000), 1000);
    assert_int_equal (deliver_payout (&publisher, 1000), 1000);
    assert_int_equal (deliver_payout (&publisher, 999), 999);
    //  No publisher (removed since): nothing
    assert_int_equal (deliver_payout (NULL, 3000), 0);
}

//  --------------------------------------------------------------------------
//  deliver_split_payout

//  Split payout over charges; expect these parts.
static void
s_expect_split (int64_t payout, const int64_t *charges, size_t count, const int64_t *expected)
{
    int64_t parts [8];
    for (size_t i = 0; i < 8; i++)
        parts [i] = -777;
    deliver_split_payout (payout, charges, count, parts);
    for (size_t i = 0; i < count; i++)
        if (parts [i] != expected [i])
            fail_msg ("payout %lld, sale %zu of %zu (charge %lld): %lld, expected %lld",
                      (long long) payout, i, count, (long long) charges [i],
                      (long long) parts [i], (long long) expected [i]);
    //  Nothing written past count
    for (size_t i = count; i < 8; i++)
        assert_int_equal (parts [i], -777);
}

static void
test_deliver_split_payout_huge (void **state)
{
    //  payout * charge passes int64 here; the split must not overflow
    const int64_t charges [] = {5000000000LL, 5000000000LL};
    const int64_t expected [] = {4000000000LL, 4000000000LL};
    s_expect_split (8000000000LL, charges, 2, expected);
}

static void
test_deliver_split_payout (void **state)
{
    //  One sale: all of it
    const int64_t one [] = {2500};
    const int64_t one_parts [] = {2000};
    s_expect_split (2000, one, 1, one_parts);
    const int64_t one_all [] = {2500};
    s_expect_split (2500, one, 1, one_all);
    const int64_t one_odd [] = {1999};
    const int64_t one_odd_parts [] = {1599};
    s_expect_split (1599, one_odd, 1, one_odd_parts);

    //  Three equal sales
    const int64_t equal [] = {1000, 1000, 1000};
    const int64_t equal_parts [] = {800, 800, 800};
    s_expect_split (2400, equal, 3, equal_parts);
    //  Remainders go to the first sales, one cent each
    const int64_t equal_one [] = {334, 333, 333};
    s_expect_split (1000, equal, 3, equal_one);
    const int64_t equal_two [] = {334, 334, 333};
    s_expect_split (1001, equal, 3, equal_two);
    const int64_t equal_cent [] = {1, 0, 0};
    s_expect_split (1, equal, 3, equal_cent);
    const int64_t equal_all [] = {1000, 1000, 1000};
    s_expect_split (3000, equal, 3, equal_all);

    //  Uneven: 44.00 over 20 + 20 + 15 is 16 + 16 + 12
    const int64_t uneven [] = {2000, 2000, 1500};
    const int64_t uneven_parts [] = {1600, 1600, 1200};
    s_expect_split (4400, uneven, 3, uneven_parts);
    //  80% of 55.01 = 44.00 over 20.01 + 20 + 15: 1600.43.., 1599.63.., 1199.7..
    const int64_t uneven_odd [] = {2001, 2000, 1500};
    const int64_t uneven_odd_parts [] = {1601, 1600, 1199};
    s_expect_split (4400, uneven_odd, 3, uneven_odd_parts);
    //  5 over 3 + 3 + 3: 1.67 each, floors 1 + 1 + 1, two cents left
    const int64_t small [] = {3, 3, 3};
    const int64_t small_parts [] = {2, 2, 1};
    s_expect_split (5, small, 3, small_parts);
    //  Proportional, not equal: 99 over 1 + 98 + 1 floors to 0 + 97 + 0;
    //  the two cents left go to the first two sales
    const int64_t skewed [] = {1, 98, 1};
    const int64_t skewed_parts [] = {1, 98, 0};
    s_expect_split (99, skewed, 3, skewed_parts);
    const int64_t skewed_low [] = {1, 49, 0};
    s_expect_split (50, skewed, 3, skewed_low);

    //  Payout 0: nothing to anyone
    const int64_t zero [] = {0, 0, 0};
    s_expect_split (0, uneven, 3, zero);
    s_expect_split (0, one, 1, zero);

    //  A sale charging nothing gets nothing, not even a remainder cent
    const int64_t free_sale [] = {0, 1, 1};
    const int64_t free_parts [] = {0, 1, 0};
    s_expect_split (1, free_sale, 3, free_parts);
    const int64_t free_all [] = {0, 1, 1};
    s_expect_split (2, free_sale, 3, free_all);
    const int64_t nothing [] = {0, 0};
    s_expect_split (0, nothing, 2, zero);

    //  No sales: nothing written
    s_expect_split (0, one, 0, zero);

    //  Large real amounts: three sales of 10,000,000.00 (the highest ping
    //  bid), payout a cent under all of it
    const int64_t large [] = {1000000000, 1000000000, 1000000000};
    const int64_t large_parts [] = {1000000000, 1000000000, 999999999};
    s_expect_split (2999999999LL, large, 3, large_parts);
}

static void
test_deliver_split_payout_random (void **state)
{
    //  Any sales, any payout up to their total: the parts add up exactly,
    //  none is negative or over its charge, each is within a cent of its
    //  proportional share (floor or floor + 1), and the extra cents go to
    //  the first sales that charged anything
    for (int round = 0; round < 20000; round++) {
        size_t count = 1 + randof (7);
        int64_t charges [8];
        int64_t total = 0;
        for (size_t i = 0; i < count; i++) {
            int kind = (int) randof (4);
            charges [i] = kind == 0 ? 0
                        : kind == 1 ? (int64_t) randof (10)
                        : kind == 2 ? (int64_t) randof (100000)
                                    : (int64_t) randof (1000000) * 1000 + (int64_t) randof (1000);
            total += charges [i];
        }
        int64_t payout = total > 0 ? (int64_t) (randof (1000000) * (double) total / 1000000.0) : 0;
        if (randof (10) == 0)
            payout = total;
        if (payout > total)
            payout = total;
        int64_t parts [8];
        deliver_split_payout (payout, charges, count, parts);
        int64_t sum = 0;
        bool bumped_gap = false;        //  a charging sale left without its extra cent
        for (size_t i = 0; i < count; i++) {
            int64_t share = total > 0 ? payout * charges [i] / total : 0;
            if (parts [i] < 0 || parts [i] > charges [i] || parts [i] < share
                || parts [i] > share + 1)
                fail_msg ("round %d: payout %lld, total %lld, sale %zu charging %lld: part %lld "
                          "(share %lld)", round, (long long) payout, (long long) total, i,
                          (long long) charges [i], (long long) parts [i], (long long) share);
            if (charges [i] > 0 && parts [i] == share + 1 && bumped_gap)
                fail_msg ("round %d: sale %zu got an extra cent after an earlier sale did not",
                          round, i);
            if (charges [i] > 0 && parts [i] == share && parts [i] < charges [i])
                bumped_gap = true;
            sum += parts [i];
        }
        if (sum != payout)
            fail_msg ("round %d: parts add up to %lld, payout %lld", round, (long long) sum,
                      (long long) payout);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_deliver_body_default),
        cmocka_unit_test (test_deliver_body_default_field_names),
        cmocka_unit_test (test_deliver_body_mapping),
        cmocka_unit_test (test_deliver_body_form),
        cmocka_unit_test (test_deliver_accepted_default),
        cmocka_unit_test (test_deliver_accepted_pointer),
        cmocka_unit_test (test_deliver_accepted_contains_regex),
        cmocka_unit_test (test_deliver_payout),
        cmocka_unit_test (test_deliver_split_payout),
        cmocka_unit_test (test_deliver_split_payout_huge),
        cmocka_unit_test (test_deliver_split_payout_random),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
