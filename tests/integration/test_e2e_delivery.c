/*  test_e2e_delivery - posts: fallback down the ranking, floor, form mapping, accepted_when  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Issue 3's acceptance list, deliver side, against the real fleet and the
//  mock buyer. Every scenario has its own US state.

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_fleet.h"

static const char *s_mock_buyers [] = {
    //  CO: rejected, HTTP 500, unreachable, too slow, then accepted
    "rj40:bid=40.00,accept=0", "rj35:bid=35.00,post_status=500", "rjc:bid=32.00",
    "rj30:bid=30.00,post_delay_ms=1500", "rj25:bid=25.00", "rj20:bid=20.00",
    //  NE: the only bid above the floor rejects; the one below is never posted
    "fl40:bid=40.00,accept=0", "fl4:bid=4.00",
    //  NM: form encoding through a mapping
    "fm:bid=20.00",
    //  ID, MT, WY, SD, ND: accepted_when
    "awp:bid=30.00,accept=0", "awc:bid=30.00", "awr:bid=30.00", "awn:bid=30.00",
    "awf:bid=10.00", "aws:bid=30.00", "awg:bid=10.00",
    NULL
};

typedef struct {
    const char *buyer;          //  campaign "<buyer>-c"
    const char *state;          //  its only state
    const char *bid;            //  JSON; @PING@ is the buyer's ping URL
    const char *post;           //  JSON; @POST@ / @FORMOK@ its post URLs; NULL: default JSON post
} s_campaign_t;

#define S_PING "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 300}}"

static const s_campaign_t s_campaigns [] = {
    {"rj40", "CO", S_PING, NULL},
    {"rj35", "CO", S_PING, NULL},
    {"rjc", "CO", S_PING,
     "{\"url\": \"http://127.0.0.1:1/rjc/post\", \"timeout_ms\": 300, \"format\": \"json\"}"},
    {"rj30", "CO", S_PING, "{\"url\": \"@POST@\", \"timeout_ms\": 300, \"format\": \"json\"}"},
    {"rj25", "CO", S_PING, NULL},
    {"rj20", "CO", S_PING, NULL},
    {"fl40", "NE", S_PING, NULL},
    {"fl4", "NE", S_PING, NULL},
    {"fm", "NM", "{\"fixed\": 20.00}",
     "{\"url\": \"@FORMOK@\", \"timeout_ms\": 1000, \"format\": \"form\","
     " \"mapping\": {\"FirstName\": \"first_name\", \"LastName\": \"last_name\","
     " \"Phone\": \"phone\", \"Zip\": \"zip\", \"LeadId\": \"lead_id\", \"Price\": \"price\"},"
     " \"constants\": {\"AffiliateId\": \"pp-17\"},"
     " \"accepted_when\": {\"regex\": \"^OK [0-9]+$\"}}"},
    {"awp", "ID", "{\"fixed\": 30.00}",
     "{\"url\": \"@POST@\", \"timeout_ms\": 1000, \"format\": \"json\","
     " \"accepted_when\": {\"pointer\": \"/reason\", \"equals\": \"rejected by mock buyer\"}}"},
    {"awc", "MT", "{\"fixed\": 30.00}",
     "{\"url\": \"@FORMOK@\", \"timeout_ms\": 1000, \"format\": \"json\","
     " \"accepted_when\": {\"contains\": \"OK\"}}"},
    {"awr", "WY", "{\"fixed\": 30.00}",
     "{\"url\": \"@FORMOK@\", \"timeout_ms\": 1000, \"format\": \"json\","
     " \"accepted_when\": {\"regex\": \"^OK [0-9]+$\"}}"},
    {"awn", "SD", "{\"fixed\": 30.00}",
     "{\"url\": \"@FORMOK@\", \"timeout_ms\": 1000, \"format\": \"json\","
     " \"accepted_when\": {\"regex\": \"^NO\"}}"},
    {"awf", "SD", "{\"fixed\": 10.00}", NULL},
    {"aws", "ND", "{\"fixed\": 30.00}",
     "{\"url\": \"@POST@\", \"timeout_ms\": 1000, \"format\": \"json\","
     " \"accepted_when\": {\"pointer\": \"/status\", \"equals\": \"OK\"}}"},
    {"awg", "ND", "{\"fixed\": 10.00}", NULL},
};

typedef struct {
    pp_fleet_t *fleet;          //  the fleet of this program
} s_state_t;

//  ---------------------------------------------------------------------------
//  Helpers

static char *
s_strdup_printf (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static char *
s_strdup_printf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = NULL;
    if (vasprintf (&text, format, args) < 0)
        text = NULL;
    va_end (args);
    assert_non_null (text);
    return text;
}

//  text with every `from` replaced by `to`. Caller frees.
static char *
s_replace (const char *text, const char *from, const char *to)
{
    char *result = strdup (text);
    const char *hit;
    while ((hit = strstr (result, from))) {
        char *next = s_strdup_printf ("%.*s%s%s", (int) (hit - result), result, to,
                                      hit + strlen (from));
        free (result);
        result = next;
    }
    return result;
}

static const char *
s_string (const cJSON *object, const char *name)
{
    const char *value = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (object, name));
    return value ? value : "";
}

static const char *
s_field (const cJSON *object, const char *name)
{
    return s_string (cJSON_GetObjectItemCaseSensitive (object, "fields"), name);
}

//  Send a fresh lead for state/zip; copy its id into id and, if wanted, the lead itself.
static pp_fleet_reply_t *
s_send (pp_fleet_t *fleet, const char *state, const char *zip, char *id, size_t id_size,
        cJSON **lead_p)
{
    cJSON *lead = pp_fleet_lead_new (state, zip);
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    snprintf (id, id_size, "%s", pp_fleet_reply_lead_id (reply));
    if (lead_p)
        *lead_p = lead;
    else
        cJSON_Delete (lead);
    return reply;
}

//  The buyers of the lead's posts in order, consecutive repeats of one buyer
//  (transport retries) shown once.
static char *
s_post_order (pp_fleet_t *fleet, const char *id, int count)
{
    cJSON *posts = pp_fleet_mockbuyer_wait (fleet, id, "post", count, 3000, 150);
    char *order = strdup ("");
    const char *last = "";
    cJSON *post;
    cJSON_ArrayForEach (post, posts) {
        const char *buyer = s_string (post, "buyer");
        if (strcmp (buyer, last) == 0)
            continue;
        char *longer = s_strdup_printf ("%s%s%s", order, *order ? "," : "", buyer);
        free (order);
        order = longer;
        last = buyer;
    }
    cJSON_Delete (posts);
    return order;
}

//  Decode one application/x-www-form-urlencoded component in place.
static void
s_url_decode (char *text)
{
    char *out = text;
    for (char *p = text; *p; p++) {
        if (*p == '+')
            *out++ = ' ';
        else
        if (*p == '%' && isxdigit ((unsigned char) p [1]) && isxdigit ((unsigned char) p [2])) {
            char hex [3] = {p [1], p [2], 0};
            *out++ = (char) strtol (hex, NULL, 16);
            p += 2;
        }
        else
            *out++ = *p;
    }
    *out = 0;
}

//  A form body as a JSON object of decoded names and values. Caller deletes.
static cJSON *
s_form_parse (const char *body)
{
    cJSON *form = cJSON_CreateObject ();
    char *copy = strdup (body);
    char *save = NULL;
    for (char *pair = strtok_r (copy, "&", &save); pair; pair = strtok_r (NULL, "&", &save)) {
        char *eq = strchr (pair, '=');
        char *value = eq ? eq + 1 : (char *) "";
        if (eq)
            *eq = 0;
        s_url_decode (pair);
        s_url_decode (value);
        cJSON_AddStringToObject (form, pair, value);
    }
    free (copy);
    return form;
}

//  ---------------------------------------------------------------------------
//  Setup

static char *
s_market (void)
{
    char *buyers = strdup ("[");
    for (size_t i = 0; i < sizeof s_campaigns / sizeof s_campaigns [0]; i++) {
        const s_campaign_t *c = &s_campaigns [i];
        char *ping = s_strdup_printf ("@BUYER@/%s/ping", c->buyer);
        char *post_url = s_strdup_printf ("@BUYER@/%s/post", c->buyer);
        char *formok_url = s_strdup_printf ("@BUYER@/%s/post-form-ok", c->buyer);
        char *bid = s_replace (c->bid, "@PING@", ping);
        char *post_tmp = s_replace (c->post ? c->post
                                            : "{\"url\": \"@POST@\", \"timeout_ms\": 1000,"
                                              " \"format\": \"json\"}",
                                    "@POST@", post_url);
        char *post = s_replace (post_tmp, "@FORMOK@", formok_url);
        char *joined = s_strdup_printf (
            "%s%s\n {\"name\": \"%s\", \"campaigns\": [{\"name\": \"%s-c\", \"vertical\": \"solar\","
            " \"tier\": 1, \"exclusive\": true, \"bid\": %s, \"post\": %s,"
            " \"filters\": {\"states\": [\"%s\"]}}]}",
            buyers, i ? "," : "", c->buyer, c->buyer, bid, post, c->state);
        free (buyers);
        free (ping);
        free (post_url);
        free (formok_url);
        free (bid);
        free (post_tmp);
        free (post);
        buyers = joined;
    }
    char *closed = s_strdup_printf ("%s]", buyers);
    free (buyers);
    char *market = pp_fleet_market_json_with (NULL, closed);
    free (closed);
    return market;
}

static int
s_setup (void **state)
{
    s_state_t *self = calloc (1, sizeof *self);
    *state = self;
    if (!self)
        return -1;
    self->fleet = pp_fleet_new ("test_e2e_delivery", NULL);
    if (!self->fleet)
        return -1;
    if (pp_fleet_mockbuyer_start (self->fleet, s_mock_buyers))
        return -1;
    char *market = s_market ();
    int rc = pp_fleet_apply (self->fleet, market);
    free (market);
    return rc;
}

static int
s_teardown (void **state)
{
    s_state_t *self = *state;
    int rc = 0;
    if (self) {
        rc = pp_fleet_destroy (&self->fleet);
        free (self);
    }
    return rc;
}

//  ---------------------------------------------------------------------------
//  Rejected, HTTP 500, unreachable and timed-out posts each move the lead to
//  the next bid in rank; the fifth buyer takes it at its own bid.

static void
test_e2e_delivery_falls_back_down_the_ranking (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (fleet, "CO", "80201", id, sizeof id, NULL);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "CO lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 2000,
               "payout %lld cents, want 2000 (80%% of 25.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    printf ("fallback: answered in %.1f ms\n", (double) reply->elapsed_us / 1000.0);
    pp_fleet_reply_destroy (&reply);

    //  rjc is unreachable, so the mock buyer never sees its post.
    char *order = s_post_order (fleet, id, 4);
    PP_CHECKF (fleet, strcmp (order, "rj40,rj35,rj30,rj25") == 0, "posts went to '%s'", order);
    free (order);
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id,
                                         "bid:rj20-c:2000,bid:rj25-c:2500,bid:rj30-c:3000,"
                                         "bid:rj35-c:3500,bid:rj40-c:4000,bid:rjc-c:3200",
                                         "rj25-c:2500:2000", "sold:2000:2500") == 0);
    //  Transport errors may be retried while the deadline allows (issue 3):
    //  a retry is one more "posted" (code retry) and its outcome.
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "1", 3000,
                                        "select count(*) from events where lead_id = $1"
                                        "  and kind = 'accepted'",
                                        id, NULL) == 0);
    char *deliveries = pp_fleet_sql (fleet, PP_FLEET_SQL_DELIVERY_EVENTS, id, NULL);
    PP_CHECK (fleet, deliveries);
    regex_t regex;
    int rc = regcomp (&regex,
                      "^posted:rj40-c,post_rejected:rj40-c:rejected,"
                      "posted:rj35-c,post_rejected:rj35-c:http_500,"
                      "posted:rjc-c,post_error:rjc-c:connect,"
                      "(posted:rjc-c:retry,post_error:rjc-c:connect,)*"
                      "posted:rj30-c,post_error:rj30-c:timeout,"
                      "(posted:rj30-c:retry,post_error:rj30-c:timeout,)*"
                      "posted:rj25-c,accepted:rj25-c$",
                      REG_EXTENDED | REG_NOSUB);
    PP_CHECK (fleet, rc == 0);
    rc = regexec (&regex, deliveries, 0, NULL, 0);
    regfree (&regex);
    PP_CHECKF (fleet, rc == 0, "delivery events of lead %s: %s", id, deliveries);
    free (deliveries);
    //  The winner was posted the price it is charged: its own bid.
    cJSON *posts = pp_fleet_mockbuyer_lead_records (fleet, id, "post");
    cJSON *last = cJSON_GetArrayItem (posts, cJSON_GetArraySize (posts) - 1);
    cJSON *price = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (last, "json"), "price");
    PP_CHECKF (fleet, cJSON_IsNumber (price) && llround (price->valuedouble * 100) == 2500,
               "last post: %.2000s", s_string (last, "body"));
    cJSON_Delete (posts);
}

//  ---------------------------------------------------------------------------
//  Fallback never goes below the floor: the one bid above it rejects, the
//  4.00 bid is never posted, the lead is unsold.

static void
test_e2e_delivery_never_below_floor (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (fleet, "NE", "68101", id, sizeof id, NULL);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "NE lead", 200, "unsold"));
    PP_CHECK (fleet, pp_fleet_reply_price_cents (reply) == 0);
    pp_fleet_reply_destroy (&reply);
    char *order = s_post_order (fleet, id, 1);
    PP_CHECKF (fleet, strcmp (order, "fl40") == 0, "posts went to '%s'", order);
    free (order);
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id, "decline:fl4-c:below_floor,bid:fl40-c:4000",
                                         "", "unsold:0:0") == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "posted:fl40-c,post_rejected:fl40-c:rejected",
                                        3000, PP_FLEET_SQL_DELIVERY_EVENTS, id, NULL) == 0);
}

//  ---------------------------------------------------------------------------
//  A form-encoded post through a mapping: renamed fields, a constant, the
//  envelope's lead id and price; nothing else.

static void
test_e2e_delivery_form_mapping (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    cJSON *lead = NULL;
    pp_fleet_reply_t *reply = s_send (fleet, "NM", "87101", id, sizeof id, &lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "NM lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 1600,
               "payout %lld cents, want 1600 (80%% of 20.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);

    cJSON *posts = pp_fleet_mockbuyer_wait (fleet, id, "post", 1, 3000, 150);
    PP_CHECKF (fleet, cJSON_GetArraySize (posts) == 1, "%d posts for the NM lead",
               cJSON_GetArraySize (posts));
    cJSON *post = cJSON_GetArrayItem (posts, 0);
    const char *body = s_string (post, "body");
    const char *type = s_string (post, "content_type");
    PP_CHECKF (fleet, strcmp (s_string (post, "buyer"), "fm") == 0, "post to %s",
               s_string (post, "buyer"));
    PP_CHECKF (fleet, strncmp (type, "application/x-www-form-urlencoded", 33) == 0,
               "content type '%s'", type);
    PP_CHECKF (fleet, !cJSON_GetObjectItemCaseSensitive (post, "json") && !strchr (body, '{'),
               "a form post that looks like JSON: %.2000s", body);
    cJSON *form = s_form_parse (body);
    //  The six mapped names and the constant, nothing else.
    PP_CHECKF (fleet, cJSON_GetArraySize (form) == 7, "%d names in the form %.2000s",
               cJSON_GetArraySize (form), body);
    PP_CHECKF (fleet, strcmp (s_string (form, "FirstName"), s_field (lead, "first_name")) == 0,
               "FirstName '%s', sent '%s'", s_string (form, "FirstName"),
               s_field (lead, "first_name"));
    PP_CHECKF (fleet, strcmp (s_string (form, "LastName"), s_field (lead, "last_name")) == 0,
               "LastName '%s', sent '%s'", s_string (form, "LastName"),
               s_field (lead, "last_name"));
    PP_CHECKF (fleet, strstr (s_string (form, "Phone"), s_field (lead, "phone")) != NULL,
               "Phone '%s', sent '%s'", s_string (form, "Phone"), s_field (lead, "phone"));
    PP_CHECKF (fleet, strcmp (s_string (form, "Zip"), "87101") == 0, "Zip '%s'",
               s_string (form, "Zip"));
    PP_CHECKF (fleet, strcmp (s_string (form, "LeadId"), id) == 0, "LeadId '%s'",
               s_string (form, "LeadId"));
    PP_CHECKF (fleet, strcmp (s_string (form, "Price"), "20.00") == 0, "Price '%s'",
               s_string (form, "Price"));
    PP_CHECKF (fleet, strcmp (s_string (form, "AffiliateId"), "pp-17") == 0, "AffiliateId '%s'",
               s_string (form, "AffiliateId"));
    //  Unmapped fields stay out, under either name.
    PP_CHECKF (fleet, !strstr (body, "first_name") && !strstr (body, "email")
                   && !strstr (body, "monthly_bill"),
               "unmapped names in the form: %.2000s", body);
    char *email = strdup (s_field (lead, "email"));
    char *at = strchr (email, '@');
    if (at)
        *at = 0;                //  the local part, the same encoded or not
    PP_CHECKF (fleet, !strstr (body, email), "the unmapped email in the form: %.2000s", body);
    free (email);
    cJSON_Delete (form);
    cJSON_Delete (posts);
    cJSON_Delete (lead);

    //  "OK <n>" is no JSON: only the campaign's regex makes it an acceptance.
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id, "bid:fm-c:2000", "fm-c:2000:1600",
                                         "sold:1600:2000") == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "posted:fm-c,accepted:fm-c", 3000,
                                        PP_FLEET_SQL_DELIVERY_EVENTS, id, NULL) == 0);
}

//  ---------------------------------------------------------------------------
//  accepted_when overrides the default rule both ways: a JSON pointer equal
//  to a value, a substring, a regex accept answers the default rule rejects;
//  an unmatched regex or pointer rejects answers it accepts.

static void
s_check_accepted_when (pp_fleet_t *fleet, const char *state, const char *zip,
                       const char *posts, int post_count, const char *deliveries,
                       const char *sales, const char *row)
{
    char id [64];
    pp_fleet_reply_t *reply = s_send (fleet, state, zip, id, sizeof id, NULL);
    PP_CHECKF (fleet, pp_fleet_reply_is (reply, state, 200, "sold"), "%s lead", state);
    pp_fleet_reply_destroy (&reply);
    char *order = s_post_order (fleet, id, post_count);
    PP_CHECKF (fleet, strcmp (order, posts) == 0, "%s: posts went to '%s', want '%s'", state,
               order, posts);
    free (order);
    PP_CHECKF (fleet, pp_fleet_wait_lead (fleet, id, NULL, sales, row) == 0, "%s lead", state);
    PP_CHECKF (fleet, pp_fleet_sql_wait (fleet, deliveries, 3000, PP_FLEET_SQL_DELIVERY_EVENTS,
                                         id, NULL) == 0,
               "%s lead", state);
}

static void
test_e2e_delivery_accepted_when (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    //  {"pointer": "/reason", "equals": "rejected by mock buyer"} on {"accepted": false, ...}
    s_check_accepted_when (fleet, "ID", "83701", "awp", 1, "posted:awp-c,accepted:awp-c",
                           "awp-c:3000:2400", "sold:2400:3000");
    //  {"contains": "OK"} on the text "OK <n>"
    s_check_accepted_when (fleet, "MT", "59601", "awc", 1, "posted:awc-c,accepted:awc-c",
                           "awc-c:3000:2400", "sold:2400:3000");
    //  {"regex": "^OK [0-9]+$"} on the text "OK <n>"
    s_check_accepted_when (fleet, "WY", "82001", "awr", 1, "posted:awr-c,accepted:awr-c",
                           "awr-c:3000:2400", "sold:2400:3000");
    //  {"regex": "^NO"} on "OK <n>": rejected, the next bid sells
    s_check_accepted_when (fleet, "SD", "57501", "awn,awf", 2,
                           "posted:awn-c,post_rejected:awn-c:rejected,posted:awf-c,accepted:awf-c",
                           "awf-c:1000:800", "sold:800:1000");
    //  {"pointer": "/status", "equals": "OK"} on {"accepted": true, ...}: rejected
    s_check_accepted_when (fleet, "ND", "58501", "aws,awg", 2,
                           "posted:aws-c,post_rejected:aws-c:rejected,posted:awg-c,accepted:awg-c",
                           "awg-c:1000:800", "sold:800:1000");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_e2e_delivery_falls_back_down_the_ranking),
        cmocka_unit_test (test_e2e_delivery_never_below_floor),
        cmocka_unit_test (test_e2e_delivery_form_mapping),
        cmocka_unit_test (test_e2e_delivery_accepted_when),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
