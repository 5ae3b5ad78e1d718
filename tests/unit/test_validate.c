/*  test_validate - validate's field rules, normalisation, consent, bot signals and fingerprints  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "validate_server.h"
#include "pp_json.h"

//  Every rule of the validator on one vertical; max_length on the
//  normalised types too (email, phone, state), as the market file allows.
static const char *s_market_json =
    "{\"verticals\": [{\"name\": \"solar\", \"fields\": {"
    "\"first_name\": {\"type\": \"string\", \"pii\": true, \"required\": true, \"max_length\": 5},"
    "\"email\": {\"type\": \"email\", \"pii\": true, \"required\": true, \"max_length\": 40},"
    "\"phone\": {\"type\": \"phone\", \"pii\": true, \"required\": true, \"max_length\": 20},"
    "\"zip\": {\"type\": \"zip\", \"required\": true},"
    "\"state\": {\"type\": \"state\", \"max_length\": 2},"
    "\"bill\": {\"type\": \"integer\", \"min\": 0, \"max\": 5000},"
    "\"ratio\": {\"type\": \"number\", \"min\": 0.5, \"max\": 1.5},"
    "\"owner\": {\"type\": \"boolean\"},"
    "\"credit\": {\"type\": \"enum\", \"values\": [\"excellent\", \"good\"]},"
    "\"moved\": {\"type\": \"date\"}"
    "}, \"dedupe\": {\"fields\": [\"phone\", \"email\"], \"days\": 30},"
    " \"consent_required\": true},"
    "{\"name\": \"roofing\", \"fields\": {"
    "\"phone\": {\"type\": \"phone\"}, \"email\": {\"type\": \"email\"}},"
    " \"dedupe\": {\"fields\": [\"phone\", \"email\"], \"days\": 7}},"
    "{\"name\": \"plain\", \"fields\": {\"note\": {\"type\": \"string\"}}}]}";

static pp_market_t *s_market;           //  parsed once for the whole run

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

static const pp_vertical_t *
s_vertical (const char *name)
{
    const pp_vertical_t *vertical = pp_market_vertical (s_market, name);
    assert_non_null (vertical);
    return vertical;
}

//  A lead that passes every rule of "solar"; `fields` (a JSON object, may
//  be NULL) is merged over the good fields, then consent and signals.
static pp_lead_t *
s_lead (const char *fields, const char *consent, const char *signals)
{
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000001");
    pp_lead_set_vertical (lead, "solar");
    cJSON *good = cJSON_Parse (
        "{\"first_name\": \"Ann\", \"email\": \"ann@example.com\", \"phone\": \"(415) 555-2671\","
        " \"zip\": \"94105\", \"state\": \"CA\", \"bill\": 120, \"ratio\": 1.0,"
        " \"owner\": true, \"credit\": \"good\", \"moved\": \"2015-06-01\"}");
    assert_non_null (good);
    pp_json_to_fields (good, pp_lead_fields (lead));
    cJSON_Delete (good);
    if (fields) {
        cJSON *extra = cJSON_Parse (fields);
        assert_non_null (extra);
        pp_json_to_fields (extra, pp_lead_fields (lead));
        cJSON_Delete (extra);
    }
    cJSON *json = cJSON_Parse (consent ? consent
                                       : "{\"tcpa\": true, \"text\": \"I agree to be called\"}");
    assert_non_null (json);
    pp_json_to_fields (json, pp_lead_consent (lead));
    cJSON_Delete (json);
    if (signals) {
        json = cJSON_Parse (signals);
        assert_non_null (json);
        pp_json_to_fields (json, pp_lead_signals (lead));
        cJSON_Delete (json);
    }
    return lead;
}

//  Check a lead; expect exactly one reason (code, field), or none when
//  code is NULL.
static void
s_expect (const char *fields, const char *consent, const char *signals, const char *code,
          const char *field)
{
    pp_lead_t *lead = s_lead (fields, consent, signals);
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    int problems = validate_check (s_vertical ("solar"), lead, result);
    assert_int_equal ((size_t) problems, pp_result_reason_size (result));
    if (!code) {
        if (problems)
            fail_msg ("%s: expected no problem, got %s (%s)", fields ? fields : "good lead",
                      pp_result_reason_code (result, 0), pp_result_reason_field (result, 0));
    }
    else {
        if (problems != 1)
            fail_msg ("%s %s %s: expected only %s on %s, got %d problems (first %s)",
                      fields ? fields : "", consent ? consent : "", signals ? signals : "",
                      code, field, problems,
                      problems ? pp_result_reason_code (result, 0) : "none");
        assert_string_equal (pp_result_reason_code (result, 0), code);
        assert_string_equal (pp_result_reason_field (result, 0), field);
        assert_true (strlen (pp_result_reason_message (result, 0)) > 0);
    }
    pp_result_destroy (&result);
    pp_lead_destroy (&lead);
}

static void
test_validate_phone_good (void **state)
{
    struct {
        const char *input;
        const char *e164;
    } cases [] = {
        {"(415) 555-2671", "+14155552671"},
        {"+1 212 736 0123", "+12127360123"},
        {"1-212-736-0123", "+12127360123"},
        {"2127360123", "+12127360123"},
        {"212.736.0123", "+12127360123"},
        {"212-736-0123", "+12127360123"},
        {"(212)736-0123", "+12127360123"},
        {"+1 (212) 736-0123", "+12127360123"},
        {"+12127360123", "+12127360123"},
        {"12127360123", "+12127360123"},
        {"  212 736 0123  ", "+12127360123"},
        {"1 (800) 736-0199", "+18007360199"},
        {"(907) 200-0001", "+19072000001"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char buf [16];
        memset (buf, 'x', sizeof buf);
        if (validate_phone (cases [i].input, buf))
            fail_msg ("phone '%s' rejected", cases [i].input);
        assert_string_equal (buf, cases [i].e164);
    }
}

static void
test_validate_phone_bad (void **state)
{
    const char *cases [] = {
        //  The numbering plan and our rules (pp_phone): repeated digits,
        //  fictitious 555-01xx, N11 exchanges
        "999 999 9999", "212-555-0123", "212-411-1234", "(415) 777-7777",
        "212555012",            //  9 digits
        "21255501",
        "212736012345",         //  12 digits
        "1212736012345",
        "+44 20 7946 0958",     //  not North American
        "21273601234",          //  11 digits without the leading 1
        "+2 212 736 0123",
        "0127360123",           //  area code starting 0 or 1
        "1127360123",
        "1-012-736-0123",
        "1 (112) 736-0123",
        "2120550123",           //  exchange starting 0 or 1
        "2121550123",
        "+1 212 055 0123",
        "1-212-155-0123",
        "212-555-O123",         //  letters
        "212555abcd",
        "CALL-ME-NOW",
        "212-736-0123 ext 5",
        "212-736-0123x12",
        "\xef\xbc\x92\xef\xbc\x91\xef\xbc\x92\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95"
        "\xef\xbc\x90\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93",  //  fullwidth digits
        "\xd9\xa2\xd9\xa1\xd9\xa2\xd9\xa5\xd9\xa5\xd9\xa5\xd9\xa0\xd9\xa1\xd9\xa2\xd9\xa3",
        "212 736 0123\xc2\xa0",     //  no-break space
        "'; DROP TABLE leads;--",
        "2127360123'; DROP TABLE leads;--",
        "2127360123; DROP TABLE leads",
        "<script>2127360123</script>",
        "212_555_0123",
        "212/555/0123",
        "212\t555\t0123",
        "2127360123\n",
        "",
        "   ",
        "+",
        "()",
        "---",
        "1",
        "11234567890",          //  leading 1, then an area code starting 1
        "12120550123",          //  leading 1, then an exchange starting 0
        "1 1 212 736 0123",
    };
    size_t count = sizeof cases / sizeof cases [0];
    assert_true (count >= 30);
    for (size_t i = 0; i < count; i++) {
        char buf [16];
        if (validate_phone (cases [i], buf) != -1)
            fail_msg ("phone '%s' accepted", cases [i]);
    }
    char buf [16];
    assert_int_equal (validate_phone (NULL, buf), -1);
}

static void
test_validate_email_good (void **state)
{
    struct {
        const char *input;
        const char *normal;
    } cases [] = {
        {"ann@example.com", "ann@example.com"},
        {"a@b.co", "a@b.co"},
        {"John.Smith@Example.COM", "John.Smith@example.com"},      //  local part kept
        {"UPPER@CASE.ORG", "UPPER@case.org"},
        {"  spaced@example.org  ", "spaced@example.org"},
        {"first+tag@sub.domain.io", "first+tag@sub.domain.io"},
        {"o'brien@example.com", "o'brien@example.com"},
        {"user_name-1@my-domain.net", "user_name-1@my-domain.net"},
        {"a.b.c@d.e.fr", "a.b.c@d.e.fr"},
        {"1234567890@numbers.com", "1234567890@numbers.com"},
        {"x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
        {"me!#$%&*=?^`{|}~@example.com", "me!#$%&*=?^`{|}~@example.com"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *normal = validate_email (cases [i].input);
        if (!normal)
            fail_msg ("email '%s' rejected", cases [i].input);
        assert_string_equal (normal, cases [i].normal);
        free (normal);
    }
}

static void
test_validate_email_bad (void **state)
{
    char long_local [80];
    memset (long_local, 'a', 65);
    snprintf (long_local + 65, sizeof long_local - 65, "@example.com");
    char long_total [300];
    memset (long_total, 'b', sizeof long_total);
    memcpy (long_total, "x@", 2);
    memcpy (long_total + 251, ".com", 5);       //  255 characters in all
    const char *cases [] = {
        "plainaddress",
        "@example.com",
        "user@",
        "user@localhost",
        "user@@example.com",
        "user@exa@mple.com",
        "user@.example.com",
        "user@example.com.",
        "user@exa..mple.com",
        ".user@example.com",
        "user.@example.com",
        "us er@example.com",
        "user@exam ple.com",
        "user@example_mail.com",
        "\"quoted\"@example.com",
        "user(comment)@example.com",
        "a\\b@example.com",
        "a,b@example.com",
        "a:b@example.com",
        "a<b>@example.com",
        "a[b]@example.com",
        "user@example.com<script>",
        "'; DROP TABLE leads;--@example.com",
        "user@example.com'; DROP TABLE leads;--",
        "user@example.com\r\nBcc: victim@example.com",
        "user\n@example.com",
        "jos\xc3\xa9@example.com",                     //  unicode local part
        "\xe7\x94\xa8\xe6\x88\xb7@example.com",
        "user@\xe4\xbe\x8b\xe3\x81\x88.jp",           //  unicode domain (not punycode)
        "user@b\xc3\xbc" "cher.example",
        "a@b",
        "",
        "   ",
        "@",
        long_local,
        long_total,
    };
    size_t count = sizeof cases / sizeof cases [0];
    assert_true (count >= 30);
    assert_int_equal (strlen (long_local), 65 + 12);
    assert_int_equal (strlen (long_total), 255);
    for (size_t i = 0; i < count; i++) {
        char *normal = validate_email (cases [i]);
        if (normal) {
            fail_msg ("email '%s' accepted as '%s'", cases [i], normal);
            free (normal);
        }
    }
    assert_null (validate_email (NULL));
}

static void
test_validate_good_lead_normalised (void **state)
{
    pp_lead_t *lead = s_lead (
        "{\"email\": \" Ann@Example.COM \", \"phone\": \"+1 (415) 555-2671\","
        " \"zip\": \"94105-1234\", \"state\": \"ca\", \"first_name\": \"Zo\\u00eb\"}",
        "{\"tcpa\": true, \"text\": \"I agree\","
        " \"trustedform_cert_url\":"
        " \"https://cert.trustedform.com/0123456789abcdef0123456789ABCDEF01234567\","
        " \"jornaya_leadid\": \"12345678-9ABC-def0-1234-56789abcdef0\"}",
        "{\"honeypot\": \"\", \"ip\": \"203.0.113.9\"}");
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    int problems = validate_check (s_vertical ("solar"), lead, result);
    if (problems)
        fail_msg ("good lead rejected: %s on %s", pp_result_reason_code (result, 0),
                  pp_result_reason_field (result, 0));
    assert_int_equal (pp_result_reason_size (result), 0);
    pp_fields_t *fields = pp_lead_fields (lead);
    //  Normalised in place
    assert_string_equal (pp_fields_str (fields, "phone"), "+14155552671");
    assert_string_equal (pp_fields_str (fields, "email"), "Ann@example.com");
    assert_string_equal (pp_fields_str (fields, "zip"), "94105");
    assert_string_equal (pp_fields_str (fields, "state"), "CA");
    //  Untouched
    assert_string_equal (pp_fields_str (fields, "first_name"), "Zo\xc3\xab");
    assert_int_equal (pp_fields_get (fields, "bill")->i, 120);
    assert_string_equal (pp_fields_str (fields, "credit"), "good");
    pp_result_destroy (&result);
    pp_lead_destroy (&lead);
}

static void
test_validate_structure (void **state)
{
    s_expect (NULL, NULL, NULL, NULL, NULL);
    s_expect ("{\"first_name\": null}", NULL, NULL, "field_missing", "first_name");
    s_expect ("{\"zip\": null}", NULL, NULL, "field_missing", "zip");
    s_expect ("{\"zip\": 94105}", NULL, NULL, "field_type", "zip");
    s_expect ("{\"bill\": \"120\"}", NULL, NULL, "field_type", "bill");
    s_expect ("{\"bill\": 12.5}", NULL, NULL, "field_type", "bill");
    s_expect ("{\"ratio\": \"1\"}", NULL, NULL, "field_type", "ratio");
    s_expect ("{\"owner\": \"yes\"}", NULL, NULL, "field_type", "owner");
    s_expect ("{\"owner\": 1}", NULL, NULL, "field_type", "owner");
    s_expect ("{\"phone\": 2127360123}", NULL, NULL, "field_type", "phone");
    s_expect ("{\"credit\": [\"good\"]}", NULL, NULL, "field_type", "credit");
    //  Optional fields may be absent or null; unknown fields are no problem
    s_expect ("{\"state\": null, \"bill\": null, \"extra\": {\"x\": 1}}", NULL, NULL, NULL,
              NULL);

    //  Missing several: each reported, count = reasons
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000002");
    pp_lead_set_vertical (lead, "solar");
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    int problems = validate_check (s_vertical ("solar"), lead, result);
    //  first_name, email, phone, zip, and consent
    assert_int_equal (problems, 5);
    assert_int_equal (pp_result_reason_size (result), 5);
    const char *missing [] = {"first_name", "email", "phone", "zip"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal (pp_result_reason_code (result, i), "field_missing");
        assert_string_equal (pp_result_reason_field (result, i), missing [i]);
    }
    assert_string_equal (pp_result_reason_code (result, 4), "consent_missing");
    pp_result_destroy (&result);
    pp_lead_destroy (&lead);
}

static void
test_validate_field_phone_email (void **state)
{
    s_expect ("{\"phone\": \"212555012\"}", NULL, NULL, "phone_invalid", "phone");
    s_expect ("{\"phone\": \"';DROP TABLE x;--\"}", NULL, NULL, "phone_invalid", "phone");
    s_expect ("{\"phone\": \"1-212-736-0123\"}", NULL, NULL, NULL, NULL);
    s_expect ("{\"email\": \"not-an-email\"}", NULL, NULL, "email_invalid", "email");
    s_expect ("{\"email\": \"a@b\"}", NULL, NULL, "email_invalid", "email");
    s_expect ("{\"email\": \"Ann@EXAMPLE.com\"}", NULL, NULL, NULL, NULL);
    //  max_length applies to normalised types too: 41 characters
    s_expect ("{\"email\": \"abcdefghijabcdefghijabcdefghi@example.com\"}", NULL, NULL,
              "field_too_long", "email");
    s_expect ("{\"email\": \"abcdefghijabcdefghijabcdefgh@example.com\"}", NULL, NULL, NULL,
              NULL);
}

static void
test_validate_field_zip_state (void **state)
{
    s_expect ("{\"zip\": \"94105-1234\"}", NULL, NULL, NULL, NULL);
    s_expect ("{\"zip\": \"00501\"}", NULL, NULL, NULL, NULL);
    const char *bad_zips [] = {
        "{\"zip\": \"9410\"}", "{\"zip\": \"941055\"}", "{\"zip\": \"941051234\"}",
        "{\"zip\": \"94105-12\"}", "{\"zip\": \"94105-12345\"}", "{\"zip\": \"94105 1234\"}",
        "{\"zip\": \"ABCDE\"}", "{\"zip\": \"94105 \"}", "{\"zip\": \"\"}",
        "{\"zip\": \"94105-abcd\"}", "{\"zip\": \"9410\\u0665\"}",
    };
    for (size_t i = 0; i < sizeof bad_zips / sizeof bad_zips [0]; i++)
        s_expect (bad_zips [i], NULL, NULL, "zip_invalid", "zip");

    const char *good_states [] = {"CA", "ca", "Ny", "dc", "PR", "wy"};
    for (size_t i = 0; i < sizeof good_states / sizeof good_states [0]; i++) {
        char fields [64];
        snprintf (fields, sizeof fields, "{\"state\": \"%s\"}", good_states [i]);
        pp_lead_t *lead = s_lead (fields, NULL, NULL);
        pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
        if (validate_check (s_vertical ("solar"), lead, result))
            fail_msg ("state %s rejected: %s", good_states [i],
                      pp_result_reason_code (result, 0));
        const char *state_text = pp_fields_str (pp_lead_fields (lead), "state");
        assert_int_equal (strlen (state_text), 2);
        assert_true (isupper ((unsigned char) state_text [0]));
        assert_true (isupper ((unsigned char) state_text [1]));
        assert_true (strcasecmp (state_text, good_states [i]) == 0);
        pp_result_destroy (&result);
        pp_lead_destroy (&lead);
    }
    const char *bad_states [] = {
        "{\"state\": \"XX\"}", "{\"state\": \"C\"}", "{\"state\": \"\"}",
        "{\"state\": \"C1\"}", "{\"state\": \"zz\"}",
        "{\"state\": \"\\u00c7A\"}",
    };
    for (size_t i = 0; i < sizeof bad_states / sizeof bad_states [0]; i++)
        s_expect (bad_states [i], NULL, NULL, "state_invalid", "state");
    //  Too long to be a state, and longer than its max_length of 2: both said
    pp_lead_t *lead = s_lead ("{\"state\": \"California\"}", NULL, NULL);
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    assert_int_equal (validate_check (s_vertical ("solar"), lead, result), 2);
    assert_string_equal (pp_result_reason_code (result, 0), "state_invalid");
    assert_string_equal (pp_result_reason_code (result, 1), "field_too_long");
    assert_string_equal (pp_result_reason_field (result, 1), "state");
    pp_result_destroy (&result);
    pp_lead_destroy (&lead);
}

static void
test_validate_field_enum_range (void **state)
{
    s_expect ("{\"credit\": \"excellent\"}", NULL, NULL, NULL, NULL);
    s_expect ("{\"credit\": \"Good\"}", NULL, NULL, "field_not_allowed", "credit");
    s_expect ("{\"credit\": \"poor\"}", NULL, NULL, "field_not_allowed", "credit");
    s_expect ("{\"credit\": \"\"}", NULL, NULL, "field_not_allowed", "credit");
    s_expect ("{\"credit\": \"good \"}", NULL, NULL, "field_not_allowed", "credit");
    //  Integer bounds are inclusive
    s_expect ("{\"bill\": 0}", NULL, NULL, NULL, NULL);
    s_expect ("{\"bill\": 5000}", NULL, NULL, NULL, NULL);
    s_expect ("{\"bill\": -1}", NULL, NULL, "field_out_of_range", "bill");
    s_expect ("{\"bill\": 5001}", NULL, NULL, "field_out_of_range", "bill");
    s_expect ("{\"bill\": 1000000000}", NULL, NULL, "field_out_of_range", "bill");
    //  Number bounds, integers accepted as numbers
    s_expect ("{\"ratio\": 0.5}", NULL, NULL, NULL, NULL);
    s_expect ("{\"ratio\": 1.5}", NULL, NULL, NULL, NULL);
    s_expect ("{\"ratio\": 1}", NULL, NULL, NULL, NULL);
    s_expect ("{\"ratio\": 0.49}", NULL, NULL, "field_out_of_range", "ratio");
    s_expect ("{\"ratio\": 1.51}", NULL, NULL, "field_out_of_range", "ratio");
    s_expect ("{\"ratio\": -3}", NULL, NULL, "field_out_of_range", "ratio");
}

static void
test_validate_field_max_length (void **state)
{
    //  first_name: at most 5 characters, counted in UTF-8 characters
    s_expect ("{\"first_name\": \"Abcde\"}", NULL, NULL, NULL, NULL);
    s_expect ("{\"first_name\": \"Abcdef\"}", NULL, NULL, "field_too_long", "first_name");
    //  5 characters in 10 bytes
    s_expect ("{\"first_name\": \"\\u00c5\\u00c5\\u00c5\\u00c5\\u00c5\"}", NULL, NULL, NULL,
              NULL);
    //  5 characters in 15 bytes, and 5 in 20 (outside the BMP)
    s_expect ("{\"first_name\": \"\\u6731\\u6731\\u6731\\u6731\\u6731\"}", NULL, NULL, NULL,
              NULL);
    s_expect ("{\"first_name\": \"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00"
              "\\ud83d\\ude00\"}",
              NULL, NULL, NULL, NULL);
    //  6 characters
    s_expect ("{\"first_name\": \"Zo\\u00eb\\u00e9\\u00fcx\"}", NULL, NULL, "field_too_long",
              "first_name");
    s_expect ("{\"first_name\": \"\\u6731\\u6731\\u6731\\u6731\\u6731\\u6731\"}", NULL, NULL,
              "field_too_long", "first_name");
    //  max_length of a normalised field counts the normalised value: the
    //  phone's 21 characters of input become 12
    s_expect ("{\"phone\": \"+1 (415)   555 - 2671\"}", NULL, NULL, NULL, NULL);
    s_expect ("{\"state\": \"ny\"}", NULL, NULL, NULL, NULL);
}

static void
test_validate_field_date (void **state)
{
    s_expect ("{\"moved\": \"2015-06-01\"}", NULL, NULL, NULL, NULL);
    s_expect ("{\"moved\": \"2015-06-01T10:20:30Z\"}", NULL, NULL, NULL, NULL);
    s_expect ("{\"moved\": \"2015-06-01T10:20:30.5+02:00\"}", NULL, NULL, NULL, NULL);
    s_expect ("{\"moved\": \"2016-02-29\"}", NULL, NULL, NULL, NULL);
    const char *bad [] = {
        "{\"moved\": \"06/01/2015\"}", "{\"moved\": \"2015-13-01\"}",
        "{\"moved\": \"2015-06-32\"}", "{\"moved\": \"2015-6-1\"}", "{\"moved\": \"yesterday\"}",
        "{\"moved\": \"\"}", "{\"moved\": \"2015-06-01T25:00:00Z\"}",
        "{\"moved\": \"2015-06-01garbage\"}", "{\"moved\": \"2015-04-31\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        s_expect (bad [i], NULL, NULL, "date_invalid", "moved");
}

static void
test_validate_consent (void **state)
{
    s_expect (NULL, "{\"tcpa\": true, \"text\": \"I agree\"}", NULL, NULL, NULL);
    const char *missing [] = {
        "{}",
        "{\"text\": \"I agree\"}",
        "{\"tcpa\": false, \"text\": \"I agree\"}",
        "{\"tcpa\": \"true\", \"text\": \"I agree\"}",
        "{\"tcpa\": 1, \"text\": \"I agree\"}",
        "{\"tcpa\": true}",
        "{\"tcpa\": true, \"text\": \"\"}",
        "{\"tcpa\": true, \"text\": null}",
        "{\"tcpa\": true, \"text\": 5}",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing [0]; i++)
        s_expect (NULL, missing [i], NULL, "consent_missing", "consent");

    //  A vertical without consent_required needs none
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000003");
    pp_lead_set_vertical (lead, "roofing");
    pp_fields_set_str (pp_lead_fields (lead), "phone", "2127360123");
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    assert_int_equal (validate_check (s_vertical ("roofing"), lead, result), 0);
    //  but a malformed certificate is still one
    pp_fields_set_str (pp_lead_consent (lead), "trustedform_cert_url", "https://example.com/x");
    assert_int_equal (validate_check (s_vertical ("roofing"), lead, result), 1);
    assert_string_equal (pp_result_reason_code (result, 0), "consent_trustedform_invalid");
    pp_result_destroy (&result);
    pp_lead_destroy (&lead);
}

static void
test_validate_trustedform_jornaya (void **state)
{
    const char *good [] = {
        "{\"tcpa\": true, \"text\": \"ok\", \"trustedform_cert_url\":"
        " \"https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567\"}",
        "{\"tcpa\": true, \"text\": \"ok\", \"trustedform_cert_url\": \"\"}",
        "{\"tcpa\": true, \"text\": \"ok\", \"jornaya_leadid\":"
        " \"ABCDEF01-2345-6789-abcd-ef0123456789\"}",
        "{\"tcpa\": true, \"text\": \"ok\", \"jornaya_leadid\": \"\"}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++)
        s_expect (NULL, good [i], NULL, NULL, NULL);
    const char *bad_certificates [] = {
        "https://cert.trustedform.com/0123456789abcdef0123456789abcdef0123456",     //  39
        "https://cert.trustedform.com/0123456789abcdef0123456789abcdef012345678",   //  41
        "http://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567",
        "https://cert.trustedform.com.evil.com/0123456789abcdef0123456789abcdef0123",
        "https://evil.com/0123456789abcdef0123456789abcdef01234567",
        "https://cert.trustedform.com/0123456789abcdef0123456789abcdefg1234567",
        "https://cert.trustedform.com/",
        "cert.trustedform.com/0123456789abcdef0123456789abcdef01234567",
        "https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567?x=1",
        "javascript:alert(1)",
    };
    for (size_t i = 0; i < sizeof bad_certificates / sizeof bad_certificates [0]; i++) {
        char consent [256];
        snprintf (consent, sizeof consent,
                  "{\"tcpa\": true, \"text\": \"ok\", \"trustedform_cert_url\": \"%s\"}",
                  bad_certificates [i]);
        s_expect (NULL, consent, NULL, "consent_trustedform_invalid",
                  "consent.trustedform_cert_url");
    }
    const char *bad_leadids [] = {
        "ABCDEF0123456789abcdef0123456789",             //  no dashes
        "ABCDEF01-2345-6789-abcd-ef012345678",          //  35
        "ABCDEF01-2345-6789-abcd-ef01234567890",        //  37
        "ABCDEF01-2345-6789-abcd_ef0123456789",
        "GBCDEF01-2345-6789-abcd-ef0123456789",
        "ABCDEF012-345-6789-abcd-ef0123456789",
        "'; DROP TABLE leads;--",
    };
    for (size_t i = 0; i < sizeof bad_leadids / sizeof bad_leadids [0]; i++) {
        char consent [256];
        snprintf (consent, sizeof consent,
                  "{\"tcpa\": true, \"text\": \"ok\", \"jornaya_leadid\": \"%s\"}",
                  bad_leadids [i]);
        s_expect (NULL, consent, NULL, "consent_jornaya_invalid", "consent.jornaya_leadid");
    }
}

static void
test_validate_honeypot (void **state)
{
    //  Bot signals are pp_bot's (test_pp_bot): validate_check ignores them
    s_expect (NULL, NULL, "{\"honeypot\": \"\"}", NULL, NULL);
    s_expect (NULL, NULL, "{\"form_started_at\": \"2026-01-01T00:00:00Z\"}", NULL, NULL);
    s_expect (NULL, NULL, "{\"honeypot\": \"http://spam.example\"}", NULL, NULL);
}

static void
test_validate_many_problems (void **state)
{
    pp_lead_t *lead = s_lead ("{\"phone\": \"123\", \"email\": \"x\", \"zip\": \"1\","
                              " \"state\": \"ZZ\", \"bill\": 9999, \"credit\": \"bad\"}",
                              "{\"tcpa\": false}", "{\"honeypot\": \"filled\"}");
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    int problems = validate_check (s_vertical ("solar"), lead, result);
    assert_int_equal (problems, 7);
    assert_int_equal (pp_result_reason_size (result), 7);
    const char *codes [] = {"email_invalid", "phone_invalid", "zip_invalid", "state_invalid",
                            "field_out_of_range", "field_not_allowed", "consent_missing"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal (pp_result_reason_code (result, i), codes [i]);
    //  Rejected values are left as they came
    assert_string_equal (pp_fields_str (pp_lead_fields (lead), "phone"), "123");
    assert_string_equal (pp_fields_str (pp_lead_fields (lead), "state"), "ZZ");
    pp_result_destroy (&result);
    pp_lead_destroy (&lead);
}

//  Fingerprint of a checked lead with this phone and email (NULL = absent).
static bool
s_fingerprint (const char *vertical_name, const char *phone, const char *email, char *buf)
{
    const pp_vertical_t *vertical = s_vertical (vertical_name);
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000004");
    pp_lead_set_vertical (lead, vertical_name);
    if (phone)
        pp_fields_set_str (pp_lead_fields (lead), "phone", phone);
    if (email)
        pp_fields_set_str (pp_lead_fields (lead), "email", email);
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    validate_check (vertical, lead, result);
    pp_result_destroy (&result);
    memset (buf, 0, 65);
    bool made = validate_fingerprint (vertical, lead, buf);
    pp_lead_destroy (&lead);
    return made;
}

static void
test_validate_fingerprint (void **state)
{
    char a [65], b [65];
    assert_true (s_fingerprint ("solar", "(415) 555-2671", "Ann@Example.com", a));
    assert_int_equal (strlen (a), 64);
    assert_int_equal (strspn (a, "0123456789abcdef"), 64);
    //  The same person written differently: the same fingerprint
    assert_true (s_fingerprint ("solar", "+1 415 555 2671", "  Ann@EXAMPLE.COM", b));
    assert_string_equal (a, b);
    //  Another phone, another fingerprint
    assert_true (s_fingerprint ("solar", "415 555 2672", "Ann@example.com", b));
    assert_string_not_equal (a, b);
    //  Another vertical, another fingerprint
    assert_true (s_fingerprint ("roofing", "(415) 555-2671", "Ann@Example.com", b));
    assert_string_not_equal (a, b);
    //  One of the fields is enough; none is not
    assert_true (s_fingerprint ("solar", "4155552671", NULL, a));
    assert_true (s_fingerprint ("solar", NULL, "ann@example.com", b));
    assert_string_not_equal (a, b);
    assert_false (s_fingerprint ("solar", NULL, NULL, a));
    //  A vertical without dedupe has no fingerprint
    assert_false (s_fingerprint ("plain", "4155552671", "ann@example.com", a));
    //  Field boundaries count: ("ab", "c") is not ("a", "bc")
    const pp_vertical_t *vertical = s_vertical ("roofing");
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000005");
    pp_fields_set_str (pp_lead_fields (lead), "phone", "ab");
    pp_fields_set_str (pp_lead_fields (lead), "email", "c");
    assert_true (validate_fingerprint (vertical, lead, a));
    pp_fields_set_str (pp_lead_fields (lead), "phone", "a");
    pp_fields_set_str (pp_lead_fields (lead), "email", "bc");
    assert_true (validate_fingerprint (vertical, lead, b));
    assert_string_not_equal (a, b);
    //  Long values do not overflow
    char big [1000];
    memset (big, 'x', sizeof big - 1);
    big [sizeof big - 1] = 0;
    pp_fields_set_str (pp_lead_fields (lead), "phone", big);
    pp_fields_set_str (pp_lead_fields (lead), "email", big);
    assert_true (validate_fingerprint (vertical, lead, a));
    assert_int_equal (strlen (a), 64);
    pp_lead_destroy (&lead);
}

static void
test_validate_zip_table (void **state)
{
    pp_zip_t *zip = pp_zip_load (pp_zip_default_path ());
    assert_non_null (zip);
    const pp_vertical_t *vertical = s_vertical ("solar");
    struct {
        const char *fields;         //  merged over the good lead
        const char *code;           //  expected reason, NULL for none
        const char *state;          //  expected state afterwards
    } cases [] = {
        {NULL, NULL, "CA"},
        {"{\"zip\": \"10001\", \"state\": \"NY\"}", NULL, "NY"},
        {"{\"zip\": \"00000\"}", "zip_unknown", "CA"},
        {"{\"zip\": \"99999\"}", "zip_unknown", "CA"},
        {"{\"zip\": \"10001\"}", "state_zip_mismatch", "CA"},
        {"{\"zip\": \"90001\", \"state\": \"NV\"}", "state_zip_mismatch", "NV"},
        //  ZIP+4 was cut to 5 digits before the table is asked
        {"{\"zip\": \"60601-1234\", \"state\": \"IL\"}", NULL, "IL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        pp_lead_t *lead = s_lead (cases [i].fields, NULL, NULL);
        pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
        assert_int_equal (validate_check (vertical, lead, result), 0);
        int problems = validate_check_zip (vertical, zip, lead, result);
        if (cases [i].code) {
            assert_int_equal (problems, 1);
            assert_string_equal (pp_result_reason_code (result, 0), cases [i].code);
        }
        else
            assert_int_equal (problems, 0);
        assert_string_equal (pp_fields_str (pp_lead_fields (lead), "state"), cases [i].state);
        pp_result_destroy (&result);
        pp_lead_destroy (&lead);
    }
    //  An absent state is filled from the ZIP
    pp_lead_t *lead = s_lead ("{\"zip\": \"98101\"}", NULL, NULL);
    pp_fields_remove (pp_lead_fields (lead), "state");
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    assert_int_equal (validate_check (vertical, lead, result), 0);
    assert_int_equal (validate_check_zip (vertical, zip, lead, result), 0);
    assert_string_equal (pp_fields_str (pp_lead_fields (lead), "state"), "WA");
    //  Without a table nothing is checked or filled
    pp_fields_remove (pp_lead_fields (lead), "state");
    assert_int_equal (validate_check_zip (vertical, NULL, lead, result), 0);
    assert_null (pp_fields_str (pp_lead_fields (lead), "state"));
    pp_result_destroy (&result);
    pp_lead_destroy (&lead);
    pp_zip_destroy (&zip);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_validate_phone_good),
        cmocka_unit_test (test_validate_phone_bad),
        cmocka_unit_test (test_validate_email_good),
        cmocka_unit_test (test_validate_email_bad),
        cmocka_unit_test (test_validate_good_lead_normalised),
        cmocka_unit_test (test_validate_structure),
        cmocka_unit_test (test_validate_field_phone_email),
        cmocka_unit_test (test_validate_field_zip_state),
        cmocka_unit_test (test_validate_field_enum_range),
        cmocka_unit_test (test_validate_field_max_length),
        cmocka_unit_test (test_validate_field_date),
        cmocka_unit_test (test_validate_consent),
        cmocka_unit_test (test_validate_zip_table),
        cmocka_unit_test (test_validate_trustedform_jornaya),
        cmocka_unit_test (test_validate_honeypot),
        cmocka_unit_test (test_validate_many_problems),
        cmocka_unit_test (test_validate_fingerprint),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
