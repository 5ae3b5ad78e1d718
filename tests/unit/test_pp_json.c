/*  test_pp_json - JSON <-> field bags, JSON pointers, scalar text and the structure check  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <math.h>

#include "pp_json.h"

//  A market with one vertical covering every field type; fields marked pii
//  are first_name and phone.
static const char *s_market_json =
    "{\"verticals\": [{\"name\": \"solar\", \"fields\": {"
    "\"first_name\": {\"type\": \"string\", \"pii\": true, \"required\": true},"
    "\"phone\": {\"type\": \"phone\", \"pii\": true, \"required\": true},"
    "\"email\": {\"type\": \"email\"},"
    "\"zip\": {\"type\": \"zip\", \"required\": true},"
    "\"state\": {\"type\": \"state\"},"
    "\"bill\": {\"type\": \"integer\", \"min\": 0, \"max\": 5000},"
    "\"ratio\": {\"type\": \"number\"},"
    "\"owner\": {\"type\": \"boolean\"},"
    "\"credit\": {\"type\": \"enum\", \"values\": [\"good\", \"poor\"]},"
    "\"born\": {\"type\": \"date\"}"
    "}}]}";

static pp_market_t *
s_market (const char *json)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (json, strlen (json), &errors, &count);
    if (!market) {
        for (size_t i = 0; i < count; i++)
            print_error ("market: %s: %s\n", errors [i].path, errors [i].message);
        pp_market_errors_free (&errors, count);
        fail_msg ("the test market does not parse");
    }
    return market;
}

static pp_fields_t *
s_fields_of (const char *json)
{
    cJSON *object = cJSON_Parse (json);
    assert_non_null (object);
    pp_fields_t *fields = pp_fields_new ();
    pp_json_to_fields (object, fields);
    cJSON_Delete (object);
    return fields;
}

static void
test_pp_json_to_fields_types (void **state)
{
    pp_fields_t *fields = s_fields_of (
        "{\"s\": \"h\\u00e9llo\", \"t\": true, \"f\": false, \"n\": null, \"i\": 42,"
        " \"neg\": -17, \"whole\": 12.0, \"frac\": 12.5, \"big\": 9007199254740993,"
        " \"huge\": 1e300, \"o\": {\"a\": [1, 2]}, \"a\": [\"x\", {\"y\": null}],"
        " \"empty\": \"\"}");
    assert_int_equal (pp_fields_size (fields), 13);
    //  Order kept
    assert_string_equal (pp_fields_name (fields, 0), "s");
    assert_string_equal (pp_fields_name (fields, 12), "empty");

    const pp_value_t *value = pp_fields_get (fields, "s");
    assert_int_equal (value->type, PP_VALUE_STR);
    assert_string_equal (value->s, "h\xc3\xa9llo");
    value = pp_fields_get (fields, "t");
    assert_int_equal (value->type, PP_VALUE_BOOL);
    assert_true (value->b);
    value = pp_fields_get (fields, "f");
    assert_int_equal (value->type, PP_VALUE_BOOL);
    assert_false (value->b);
    assert_int_equal (pp_fields_get (fields, "n")->type, PP_VALUE_NIL);
    value = pp_fields_get (fields, "i");
    assert_int_equal (value->type, PP_VALUE_INT);
    assert_int_equal (value->i, 42);
    value = pp_fields_get (fields, "neg");
    assert_int_equal (value->type, PP_VALUE_INT);
    assert_int_equal (value->i, -17);
    //  A whole number written with a fraction is an integer
    value = pp_fields_get (fields, "whole");
    assert_int_equal (value->type, PP_VALUE_INT);
    assert_int_equal (value->i, 12);
    value = pp_fields_get (fields, "frac");
    assert_int_equal (value->type, PP_VALUE_NUM);
    assert_true (value->n == 12.5);
    //  Beyond what a double holds exactly: kept as a number
    assert_int_equal (pp_fields_get (fields, "big")->type, PP_VALUE_NUM);
    value = pp_fields_get (fields, "huge");
    assert_int_equal (value->type, PP_VALUE_NUM);
    assert_true (value->n == 1e300);
    value = pp_fields_get (fields, "o");
    assert_int_equal (value->type, PP_VALUE_JSON);
    assert_string_equal (value->s, "{\"a\":[1,2]}");
    value = pp_fields_get (fields, "a");
    assert_int_equal (value->type, PP_VALUE_JSON);
    assert_string_equal (value->s, "[\"x\",{\"y\":null}]");
    value = pp_fields_get (fields, "empty");
    assert_int_equal (value->type, PP_VALUE_STR);
    assert_string_equal (value->s, "");
    pp_fields_destroy (&fields);
}

static void
test_pp_json_to_fields_not_object (void **state)
{
    //  Arrays, scalars and NULL add nothing
    const char *inputs [] = {"[1, 2]", "\"text\"", "12", "null", "true"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs [0]; i++) {
        pp_fields_t *fields = s_fields_of (inputs [i]);
        assert_int_equal (pp_fields_size (fields), 0);
        pp_fields_destroy (&fields);
    }
    pp_fields_t *fields = pp_fields_new ();
    pp_json_to_fields (NULL, fields);
    assert_int_equal (pp_fields_size (fields), 0);
    //  Into a bag that holds values already: same names replaced in place
    pp_fields_set_str (fields, "a", "old");
    pp_fields_set_int (fields, "b", 1);
    cJSON *object = cJSON_Parse ("{\"a\": 5, \"c\": \"new\"}");
    pp_json_to_fields (object, fields);
    cJSON_Delete (object);
    assert_int_equal (pp_fields_size (fields), 3);
    assert_string_equal (pp_fields_name (fields, 0), "a");
    assert_int_equal (pp_fields_get (fields, "a")->type, PP_VALUE_INT);
    assert_int_equal (pp_fields_get (fields, "a")->i, 5);
    assert_string_equal (pp_fields_str (fields, "c"), "new");
    pp_fields_destroy (&fields);
}

//  Print a value as JSON text (a new string).
static char *
s_value_text (const pp_value_t *value)
{
    cJSON *json = pp_json_from_value (value);
    assert_non_null (json);
    char *text = pp_json_print (json);
    cJSON_Delete (json);
    return text;
}

static void
s_expect_value (const pp_value_t *value, const char *expected)
{
    char *text = s_value_text (value);
    assert_string_equal (text, expected);
    free (text);
}

static void
test_pp_json_from_value (void **state)
{
    s_expect_value (NULL, "null");
    pp_value_t value = {0};
    value.type = PP_VALUE_NIL;
    s_expect_value (&value, "null");
    value.type = PP_VALUE_BOOL;
    value.b = true;
    s_expect_value (&value, "true");
    value.b = false;
    s_expect_value (&value, "false");
    //  Integers print exactly, even past 2^53
    value.type = PP_VALUE_INT;
    value.i = 9007199254740993LL;
    s_expect_value (&value, "9007199254740993");
    value.i = INT64_MIN;
    s_expect_value (&value, "-9223372036854775808");
    value.i = 0;
    s_expect_value (&value, "0");
    value.type = PP_VALUE_NUM;
    value.n = 12.5;
    s_expect_value (&value, "12.5");
    value.n = -0.25;
    s_expect_value (&value, "-0.25");
    value.type = PP_VALUE_STR;
    value.s = "a \"quoted\" \\ line\n";
    s_expect_value (&value, "\"a \\\"quoted\\\" \\\\ line\\n\"");
    value.s = NULL;
    s_expect_value (&value, "\"\"");
    value.type = PP_VALUE_JSON;
    value.s = "{\"a\": [1, true]}";
    s_expect_value (&value, "{\"a\":[1,true]}");
    //  Broken JSON text, or none, becomes null rather than a crash
    value.s = "{\"a\": ";
    s_expect_value (&value, "null");
    value.s = NULL;
    s_expect_value (&value, "null");
    value.type = (pp_value_type_t) 99;
    s_expect_value (&value, "null");
}

static void
test_pp_json_round_trip (void **state)
{
    const char *text = "{\"s\":\"x\",\"i\":-3,\"n\":0.5,\"b\":true,\"z\":null,"
                       "\"o\":{\"k\":[1,\"2\"]},\"big\":123456789012}";
    pp_fields_t *fields = s_fields_of (text);
    cJSON *json = pp_json_from_fields (fields, NULL, true);
    char *printed = pp_json_print (json);
    assert_string_equal (printed, text);
    free (printed);
    cJSON_Delete (json);
    //  And back into an equal bag
    pp_fields_t *again = s_fields_of (text);
    assert_true (pp_fields_eq (fields, again));
    pp_fields_destroy (&again);
    pp_fields_destroy (&fields);

    //  No bag: an empty object
    json = pp_json_from_fields (NULL, NULL, false);
    printed = pp_json_print (json);
    assert_string_equal (printed, "{}");
    free (printed);
    cJSON_Delete (json);
}

static void
test_pp_json_from_fields_ping (void **state)
{
    pp_market_t *market = s_market (s_market_json);
    const pp_vertical_t *vertical = pp_market_vertical (market, "solar");
    assert_non_null (vertical);
    pp_fields_t *fields = s_fields_of (
        "{\"first_name\": \"Ann\", \"zip\": \"94105\", \"phone\": \"+14155552671\","
        " \"bill\": 120, \"unknown\": \"kept for posts\", \"owner\": true}");

    //  A ping: declared, non-pii fields only, in bag order
    cJSON *json = pp_json_from_fields (fields, vertical, false);
    char *text = pp_json_print (json);
    assert_string_equal (text, "{\"zip\":\"94105\",\"bill\":120,\"owner\":true}");
    free (text);
    cJSON_Delete (json);

    //  A post: everything
    json = pp_json_from_fields (fields, vertical, true);
    assert_int_equal (cJSON_GetArraySize (json), 6);
    assert_string_equal (cJSON_GetObjectItem (json, "first_name")->valuestring, "Ann");
    assert_string_equal (cJSON_GetObjectItem (json, "unknown")->valuestring, "kept for posts");
    cJSON_Delete (json);

    //  Without a vertical there is nothing to judge by: everything
    json = pp_json_from_fields (fields, NULL, false);
    assert_int_equal (cJSON_GetArraySize (json), 6);
    cJSON_Delete (json);

    pp_fields_destroy (&fields);
    pp_market_unlink (&market);
}

static const char *s_doc =
    "{\"data\": {\"price\": 12.5, \"ok\": true, \"list\": [\"a\", {\"b\": 7}, null]},"
    " \"a/b\": 1, \"m~n\": 2, \"\": 3, \" \": 4, \"x\": {\"\": {\"y\": 5}},"
    " \"arr\": [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}";

static void
s_expect_number (const cJSON *root, const char *pointer, double expected)
{
    const cJSON *value = pp_json_pointer (root, pointer);
    if (!cJSON_IsNumber (value))
        fail_msg ("pointer '%s' did not resolve to a number", pointer);
    if (value->valuedouble != expected)
        fail_msg ("pointer '%s' gave %g, expected %g", pointer, value->valuedouble, expected);
}

static void
test_pp_json_pointer (void **state)
{
    cJSON *root = cJSON_Parse (s_doc);
    assert_non_null (root);
    assert_ptr_equal (pp_json_pointer (root, ""), root);
    s_expect_number (root, "/data/price", 12.5);
    assert_true (cJSON_IsTrue (pp_json_pointer (root, "/data/ok")));
    assert_string_equal (pp_json_pointer (root, "/data/list/0")->valuestring, "a");
    s_expect_number (root, "/data/list/1/b", 7);
    assert_true (cJSON_IsNull (pp_json_pointer (root, "/data/list/2")));
    assert_true (cJSON_IsObject (pp_json_pointer (root, "/data")));
    //  RFC 6901 escapes: ~1 is '/', ~0 is '~'
    s_expect_number (root, "/a~1b", 1);
    s_expect_number (root, "/m~0n", 2);
    //  Empty and blank member names
    s_expect_number (root, "/", 3);
    s_expect_number (root, "/ ", 4);
    s_expect_number (root, "/x//y", 5);
    //  Array indexes of more than one digit
    s_expect_number (root, "/arr/10", 20);
    s_expect_number (root, "/arr/0", 10);
    //  Case matters
    assert_null (pp_json_pointer (root, "/Data/price"));
    cJSON_Delete (root);
}

static void
test_pp_json_pointer_invalid (void **state)
{
    cJSON *root = cJSON_Parse (s_doc);
    assert_non_null (root);
    const char *absent [] = {
        "data",                 //  not starting with '/'
        "/nothing",             //  no such member
        "/data/price/x",        //  through a scalar
        "/data/ok/0",
        "/data/list/3",         //  past the end
        "/data/list/-",         //  "-" names the element after the last
        "/data/list/-1",
        "/data/list/01",        //  leading zero
        "/data/list/",          //  empty index
        "/data/list/x",
        "/data/list/1x",
        "/data/list/+1",        //  only digits make an index
        "/data/list/ 1",
        "/arr/4294967296",      //  2^32: must not wrap around to 0
        "/arr/18446744073709551616",
        "/a~2b",                //  bad escapes
        "/a~",
        "/a/b",                 //  "a/b" needs ~1
        "/m~1n",
    };
    for (size_t i = 0; i < sizeof absent / sizeof absent [0]; i++)
        if (pp_json_pointer (root, absent [i]))
            fail_msg ("pointer '%s' resolved, expected nothing", absent [i]);
    assert_null (pp_json_pointer (NULL, "/a"));
    assert_null (pp_json_pointer (root, NULL));
    assert_null (pp_json_pointer (NULL, ""));

    //  A member name longer than the token buffer is not found, not overflowed
    char pointer [1200];
    pointer [0] = '/';
    memset (pointer + 1, 'k', 1100);
    pointer [1101] = 0;
    cJSON_AddNumberToObject (root, pointer + 1, 9);
    assert_null (pp_json_pointer (root, pointer));
    cJSON_Delete (root);
}

static void
test_pp_json_scalar_text (void **state)
{
    cJSON *root = cJSON_Parse ("{\"s\": \"text\", \"e\": \"\", \"t\": true, \"f\": false,"
                               " \"i\": 42, \"neg\": -7, \"z\": 0, \"frac\": 12.5,"
                               " \"tenth\": 0.1, \"cents\": 19.99, \"big\": 1234567890123,"
                               " \"exp\": 1e20, \"n\": null, \"a\": [1], \"o\": {}}");
    assert_non_null (root);
    char buf [64];
    struct {
        const char *name;
        const char *text;
    } cases [] = {
        {"s", "text"}, {"e", ""}, {"t", "true"}, {"f", "false"}, {"i", "42"}, {"neg", "-7"},
        {"z", "0"}, {"frac", "12.5"}, {"tenth", "0.1"}, {"cents", "19.99"},
        {"big", "1234567890123"}, {"exp", "1e+20"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        const char *text = pp_json_scalar_text (cJSON_GetObjectItem (root, cases [i].name), buf,
                                                sizeof buf);
        if (!text || !streq (text, cases [i].text))
            fail_msg ("scalar text of '%s' is '%s', expected '%s'", cases [i].name,
                      text ? text : "(null)", cases [i].text);
        //  The text reads back as the same number
        const cJSON *item = cJSON_GetObjectItem (root, cases [i].name);
        if (cJSON_IsNumber (item))
            assert_true (strtod (text, NULL) == item->valuedouble);
    }
    assert_null (pp_json_scalar_text (cJSON_GetObjectItem (root, "n"), buf, sizeof buf));
    assert_null (pp_json_scalar_text (cJSON_GetObjectItem (root, "a"), buf, sizeof buf));
    assert_null (pp_json_scalar_text (cJSON_GetObjectItem (root, "o"), buf, sizeof buf));
    assert_null (pp_json_scalar_text (NULL, buf, sizeof buf));
    //  A string is borrowed, not copied into buf
    assert_ptr_equal (pp_json_scalar_text (cJSON_GetObjectItem (root, "s"), buf, sizeof buf),
                      cJSON_GetObjectItem (root, "s")->valuestring);
    cJSON_Delete (root);
}

//  Problems collected by the structure check.
typedef struct {
    int count;
    char codes [16][32];
    char fields [16][32];
    char messages [16][96];
} s_problems_t;

static void
s_collect (void *arg, const char *code, const char *field, const char *message)
{
    s_problems_t *problems = (s_problems_t *) arg;
    assert_true (problems->count < 16);
    snprintf (problems->codes [problems->count], 32, "%s", code);
    snprintf (problems->fields [problems->count], 32, "%s", field ? field : "");
    snprintf (problems->messages [problems->count], 96, "%s", message ? message : "");
    problems->count++;
}

static int
s_find (const s_problems_t *problems, const char *code, const char *field)
{
    for (int i = 0; i < problems->count; i++)
        if (streq (problems->codes [i], code) && streq (problems->fields [i], field))
            return i;
    return -1;
}

static void
test_pp_json_check_structure_ok (void **state)
{
    pp_market_t *market = s_market (s_market_json);
    const pp_vertical_t *vertical = pp_market_vertical (market, "solar");
    pp_fields_t *fields = s_fields_of (
        "{\"first_name\": \"Ann\", \"phone\": \"415 555 2671\", \"zip\": \"94105\","
        " \"email\": \"a@b.co\", \"state\": \"ca\", \"bill\": 100, \"ratio\": 2,"
        " \"owner\": false, \"credit\": \"good\", \"born\": \"1980-01-02\", \"extra\": [1]}");
    s_problems_t problems = {0};
    assert_int_equal (pp_json_check_structure (vertical, fields, s_collect, &problems), 0);
    assert_int_equal (problems.count, 0);
    //  Optional fields absent or null are fine
    pp_fields_t *few = s_fields_of (
        "{\"first_name\": \"Ann\", \"phone\": \"4155552671\", \"zip\": \"94105\","
        " \"email\": null, \"bill\": null}");
    assert_int_equal (pp_json_check_structure (vertical, few, s_collect, &problems), 0);
    assert_int_equal (problems.count, 0);
    pp_fields_destroy (&few);
    pp_fields_destroy (&fields);
    pp_market_unlink (&market);
}

static void
test_pp_json_check_structure_problems (void **state)
{
    pp_market_t *market = s_market (s_market_json);
    const pp_vertical_t *vertical = pp_market_vertical (market, "solar");
    //  first_name null, phone absent, zip a number, bill a fraction, ratio a
    //  string, owner a string, credit a number, email an object, state a bool
    pp_fields_t *fields = s_fields_of (
        "{\"first_name\": null, \"zip\": 94105, \"bill\": 10.5, \"ratio\": \"2\","
        " \"owner\": \"yes\", \"credit\": 1, \"email\": {\"a\": 1}, \"state\": true,"
        " \"born\": 19800102}");
    s_problems_t problems = {0};
    int count = pp_json_check_structure (vertical, fields, s_collect, &problems);
    assert_int_equal (count, 10);
    assert_int_equal (problems.count, 10);
    struct {
        const char *code;
        const char *field;
        const char *message;
    } expected [] = {
        {"field_missing", "first_name", "is required"},
        {"field_missing", "phone", "is required"},
        {"field_type", "zip", "must be a string"},
        {"field_type", "bill", "must be an integer"},
        {"field_type", "ratio", "must be a number"},
        {"field_type", "owner", "must be a boolean"},
        {"field_type", "credit", "must be a string"},
        {"field_type", "email", "must be a string"},
        {"field_type", "state", "must be a string"},
        {"field_type", "born", "must be a string"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected [0]; i++) {
        int at = s_find (&problems, expected [i].code, expected [i].field);
        if (at < 0)
            fail_msg ("no %s for %s", expected [i].code, expected [i].field);
        assert_string_equal (problems.messages [at], expected [i].message);
    }
    //  Without a callback the count is the same
    assert_int_equal (pp_json_check_structure (vertical, fields, NULL, NULL), 10);
    pp_fields_destroy (&fields);
    pp_market_unlink (&market);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_json_to_fields_types),
        cmocka_unit_test (test_pp_json_to_fields_not_object),
        cmocka_unit_test (test_pp_json_from_value),
        cmocka_unit_test (test_pp_json_round_trip),
        cmocka_unit_test (test_pp_json_from_fields_ping),
        cmocka_unit_test (test_pp_json_pointer),
        cmocka_unit_test (test_pp_json_pointer_invalid),
        cmocka_unit_test (test_pp_json_scalar_text),
        cmocka_unit_test (test_pp_json_check_structure_ok),
        cmocka_unit_test (test_pp_json_check_structure_problems),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
