/*  test_e2e_quality - every lead-quality reason code through the HTTP API, and exact duplicates  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Issue 5's end-to-end acceptance: each reason code of docs/reason-codes.md
//  reachable through POST /v1/leads, with its field, in the answer and in the
//  ledger; and a duplicate fired at two validate instances at once caught
//  exactly once.
//
//  Cases that need validate to use pp_email and pp_phone (wired in during
//  issue 5); they sit apart in test_e2e_quality_email_phone_rules, so a tree
//  without that wiring fails there and only there:
//    email_disposable   an address at a domain of data/email/disposable-domains.txt
//    email_role         admin@example.com (a role account of PP_EMAIL_DEFAULT_ROLES)
//    phone_invalid      a fictitious 555-01xx number, an N11 exchange (411) and a
//                       sequential 234-5678 (pp_phone's rules; the older
//                       hand-written phone check accepted them)
//
//  Codes of the list that no publisher can reach, so not tested here:
//  vertical_unknown, and field_missing / field_type as validate codes (intake
//  answers 422 invalid_lead with them in `details` first, which is tested);
//  validate only sees them when the market changes between intake and it.

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pp_fleet.h"

//  The blacklist of the marketplace file (and one phone the CLI adds).
#define S_BL_PHONE         "(212) 867-5309"
#define S_BL_EMAIL         "fraud.ring@gmail.com"
#define S_BL_DOMAIN        "leadfarm.net"
#define S_BL_IP            "198.51.100.77"
#define S_BL_CIDR          "192.0.2.0/24"
#define S_CLI_PHONE        "(503) 734-9182"
#define S_CLI_PHONE_E164   "+15037349182"

//  Leads per duplicate round and rounds (test 2).
#define S_DUP_COPIES       20
#define S_DUP_ROUNDS       5

static const char *s_mock_buyers [] = {"b30:bid=30.00,delay_ms=0,accept=1", NULL};

//  The marketplace file, in two parts around the buyers. Two verticals:
//  "solar" (what pp_fleet_lead_new makes, plus an enum and a date, consent
//  required, forms under 5 s are bots) and "roofing" (no consent needed,
//  bot threshold 30 so one bad timestamp rejects).
static const char *s_market_head =
    "{\n"
    "  \"auction\": {\"mode\": \"auction\", \"pricing\": \"first\", \"floor\": 5.00,\n"
    "              \"max_sales\": 1, \"timeout_ms\": 1500},\n"
    "  \"verticals\": [{\n"
    "    \"name\": \"solar\",\n"
    "    \"fields\": {\n"
    "      \"first_name\":   {\"type\": \"string\", \"pii\": true, \"required\": true,"
    " \"max_length\": 64},\n"
    "      \"last_name\":    {\"type\": \"string\", \"pii\": true, \"required\": true,"
    " \"max_length\": 64},\n"
    "      \"email\":        {\"type\": \"email\", \"pii\": true, \"required\": true},\n"
    "      \"phone\":        {\"type\": \"phone\", \"pii\": true, \"required\": true},\n"
    "      \"zip\":          {\"type\": \"zip\", \"required\": true},\n"
    "      \"state\":        {\"type\": \"state\"},\n"
    "      \"monthly_bill\": {\"type\": \"integer\", \"min\": 0, \"max\": 5000},\n"
    "      \"credit\":       {\"type\": \"enum\", \"values\": [\"excellent\", \"good\","
    " \"fair\", \"poor\"]},\n"
    "      \"move_date\":    {\"type\": \"date\"}\n"
    "    },\n"
    "    \"dedupe\": {\"fields\": [\"phone\", \"email\"], \"days\": 30},\n"
    "    \"consent_required\": true,\n"
    "    \"min_form_seconds\": 5\n"
    "  }, {\n"
    "    \"name\": \"roofing\",\n"
    "    \"fields\": {\n"
    "      \"first_name\":   {\"type\": \"string\", \"pii\": true, \"required\": true},\n"
    "      \"last_name\":    {\"type\": \"string\", \"pii\": true, \"required\": true},\n"
    "      \"email\":        {\"type\": \"email\", \"pii\": true, \"required\": true},\n"
    "      \"phone\":        {\"type\": \"phone\", \"pii\": true, \"required\": true},\n"
    "      \"zip\":          {\"type\": \"zip\", \"required\": true},\n"
    "      \"state\":        {\"type\": \"state\"},\n"
    "      \"monthly_bill\": {\"type\": \"integer\"}\n"
    "    },\n"
    "    \"dedupe\": {\"fields\": [\"phone\", \"email\"], \"days\": 30},\n"
    "    \"consent_required\": false,\n"
    "    \"bot_threshold\": 30\n"
    "  }],\n"
    "  \"publishers\": [\n"
    "    {\"name\": \"acme\", \"api_key\": \"" PP_FLEET_KEY_ACME "\",\n"
    "     \"payout\": {\"revshare_percent\": 80}, \"rate_limit_per_second\": 50000}\n"
    "  ],\n"
    "  \"buyers\": [";
//  ... the buyers, then:
static const char *s_market_tail =
    "],\n"
    "  \"blacklist\": {\n"
    "    \"phones\": [\"" S_BL_PHONE "\"],\n"
    "    \"emails\": [\"" S_BL_EMAIL "\"],\n"
    "    \"email_domains\": [\"" S_BL_DOMAIN "\"],\n"
    "    \"ips\": [\"" S_BL_IP "\"],\n"
    "    \"cidrs\": [\"" S_BL_CIDR "\"],\n"
    "    \"names\": [\"Mickey Mouse\", \"Test*\"]\n"
    "  }\n"
    "}\n";

//  ---------------------------------------------------------------------------
//  Cases: a fresh valid lead with a few edits, and the reason it must get.

//  One edit of a lead. path: "fields.x", "consent.x", "signals.x" or a
//  top-level key. value: JSON text; "@T<seconds>" an ISO 8601 time that far
//  from now (UTC); NULL removes the key.
typedef struct {
    const char *path;           //  where
    const char *value;          //  what
} s_edit_t;

typedef struct {
    const char *label;          //  what the case shows
    const char *vertical;       //  NULL: solar
    const char *code;           //  the reason code expected first
    const char *field;          //  its field
    const char *also;           //  NULL, or another code the reasons must hold ("code:field")
    s_edit_t edits [4];         //  up to four, ended by a NULL path
} s_case_t;

//  The rejected codes validate has today.
static const s_case_t s_cases [] = {
    {"monthly_bill over its max", NULL, "field_out_of_range", "monthly_bill", NULL,
     {{"fields.monthly_bill", "9000"}}},
    {"monthly_bill under its min", NULL, "field_out_of_range", "monthly_bill", NULL,
     {{"fields.monthly_bill", "-1"}}},
    {"credit not in the enum", NULL, "field_not_allowed", "credit", NULL,
     {{"fields.credit", "\"awful\""}}},
    {"first_name of 65 characters", NULL, "field_too_long", "first_name", NULL,
     {{"fields.first_name",
       "\"Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""}}},
    {"email with two @", NULL, "email_invalid", "email", NULL,
     {{"fields.email", "\"jane@@example.com\""}}},
    {"email without a domain dot", NULL, "email_invalid", "email", NULL,
     {{"fields.email", "\"jane@localhost\""}}},
    {"phone of five digits", NULL, "phone_invalid", "phone", NULL,
     {{"fields.phone", "\"12345\""}}},
    {"phone with letters", NULL, "phone_invalid", "phone", NULL,
     {{"fields.phone", "\"1-800-FLOWERS\""}}},
    {"phone with area code 123", NULL, "phone_invalid", "phone", NULL,
     {{"fields.phone", "\"(123) 456-7890\""}}},
    {"ZIP of four digits", NULL, "zip_invalid", "zip", NULL,
     {{"fields.zip", "\"9001\""}}},
    {"ZIP with letters", NULL, "zip_invalid", "zip", NULL,
     {{"fields.zip", "\"9OOO1\""}}},
    {"ZIP 99999 (well formed, not in use)", NULL, "zip_unknown", "zip", NULL,
     {{"fields.zip", "\"99999\""}, {"fields.state", NULL}}},
    {"state ZZ", NULL, "state_invalid", "state", NULL,
     {{"fields.state", "\"ZZ\""}}},
    {"state NV with a Los Angeles ZIP", NULL, "state_zip_mismatch", "state", NULL,
     {{"fields.state", "\"NV\""}}},
    {"move_date 2026-13-45", NULL, "date_invalid", "move_date", NULL,
     {{"fields.move_date", "\"2026-13-45\""}}},
    {"move_date in words", NULL, "date_invalid", "move_date", NULL,
     {{"fields.move_date", "\"next tuesday\""}}},
    {"tcpa false", NULL, "consent_missing", "consent", NULL,
     {{"consent.tcpa", "false"}}},
    {"consent text empty", NULL, "consent_missing", "consent", NULL,
     {{"consent.text", "\"\""}}},
    {"no consent at all", NULL, "consent_missing", "consent", NULL,
     {{"consent", NULL}}},
    {"TrustedForm URL of another host", NULL, "consent_trustedform_invalid",
     "consent.trustedform_cert_url", NULL,
     {{"consent.trustedform_cert_url",
       "\"https://cert.trustedform.evil/0123456789abcdef0123456789abcdef01234567\""}}},
    {"TrustedForm URL too short", NULL, "consent_trustedform_invalid",
     "consent.trustedform_cert_url", NULL,
     {{"consent.trustedform_cert_url", "\"https://cert.trustedform.com/0123abcd\""}}},
    {"Jornaya LeadiD not a UUID", NULL, "consent_jornaya_invalid", "consent.jornaya_leadid",
     NULL, {{"consent.jornaya_leadid", "\"not-a-leadid\""}}},
    {"phone on the file's blacklist", NULL, "blacklisted_phone", "phone", NULL,
     {{"fields.phone", "\"212.867.5309\""}}},
    {"email on the file's blacklist", NULL, "blacklisted_email", "email", NULL,
     {{"fields.email", "\"fraud.ring@GMAIL.com\""}}},
    {"email under a blacklisted parent domain", NULL, "blacklisted_email_domain", "email",
     NULL, {{"fields.email", "\"jo@mail.leadfarm.net\""}}},
    {"signals.ip on the blacklist", NULL, "blacklisted_ip", "signals.ip", NULL,
     {{"signals.ip", "\"" S_BL_IP "\""}}},
    {"consent.ip in a blacklisted block", NULL, "blacklisted_cidr", "consent.ip", NULL,
     {{"consent.ip", "\"192.0.2.55\""}}},
    {"full name Mickey Mouse", NULL, "blacklisted_name", "first_name", NULL,
     {{"fields.first_name", "\"mickey\""}, {"fields.last_name", "\"MOUSE\""}}},
    {"last name matching Test*", NULL, "blacklisted_name", "last_name", NULL,
     {{"fields.first_name", "\"Robert\""}, {"fields.last_name", "\"Tester\""}}},
    {"honeypot filled", NULL, "bot_honeypot", "signals.honeypot", NULL,
     {{"signals.honeypot", "\"http://spam.example\""}}},
    {"python-requests user agent", NULL, "bot_user_agent", "signals.user_agent", NULL,
     {{"signals.user_agent", "\"python-requests/2.31.0\""}}},
    {"headless browser in consent.user_agent", NULL, "bot_user_agent", "consent.user_agent",
     NULL, {{"consent.user_agent",
             "\"Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0 Safari/537.36\""}}},
    {"form filled in 1 s (min 5 s)", NULL, "bot_too_fast", "signals.form_started_at", NULL,
     {{"signals.form_started_at", "@T-1"}}},
    {"consent timestamp an hour ahead", NULL, "bot_future_timestamp", "consent.timestamp",
     NULL, {{"consent.timestamp", "@T3600"}}},
    {"form started 2 days ago, consent timestamp garbage", NULL, "bot_stale_timestamp",
     "signals.form_started_at", "bot_bad_timestamp:consent.timestamp",
     {{"signals.form_started_at", "@T-172800"}, {"consent.timestamp", "\"yesterday\""}}},
    {"form start garbage, consent 3 days old", NULL, "bot_bad_timestamp",
     "signals.form_started_at", "bot_stale_timestamp:consent.timestamp",
     {{"signals.form_started_at", "\"31/12/2025 10:00\""}, {"consent.timestamp", "@T-259200"}}},
    {"roofing (threshold 30): one bad timestamp", "roofing", "bot_bad_timestamp",
     "consent.timestamp", NULL, {{"consent.timestamp", "\"2026-02-30T25:61:00Z\""}}},
    {"roofing (threshold 30): one stale timestamp", "roofing", "bot_stale_timestamp",
     "signals.form_started_at", NULL, {{"signals.form_started_at", "@T-90000"}}},
};

//  The codes that need pp_email and pp_phone in validate (see the top).
static const s_case_t s_pending_cases [] = {
    {"disposable domain mailinator.com", NULL, "email_disposable", "email", NULL,
     {{"fields.email", "\"jane.pending@mailinator.com\""}}},
    {"disposable domain under a listed parent", NULL, "email_disposable", "email", NULL,
     {{"fields.email", "\"jane.pending@eu.yopmail.com\""}}},
    {"role account admin@", NULL, "email_role", "email", NULL,
     {{"fields.email", "\"admin@example.com\""}}},
    {"role account Info+tag@", NULL, "email_role", "email", NULL,
     {{"fields.email", "\"Info+leads@example.org\""}}},
    {"fictitious 555-0142", NULL, "phone_invalid", "phone", NULL,
     {{"fields.phone", "\"(415) 555-0142\""}}},
    {"N11 exchange 411", NULL, "phone_invalid", "phone", NULL,
     {{"fields.phone", "\"(415) 411-2671\""}}},
    {"sequential 234-5678", NULL, "phone_invalid", "phone", NULL,
     {{"fields.phone", "\"(310) 234-5678\""}}},
};

//  ---------------------------------------------------------------------------
//  Helpers

static int
s_setup (void **state)
{
    pp_fleet_t *fleet = pp_fleet_new ("test_e2e_quality", "validate=2");
    *state = fleet;
    if (!fleet || pp_fleet_mockbuyer_start (fleet, s_mock_buyers))
        return -1;
    char *buyer = pp_fleet_fixed_buyer ("b30", "30.00", "CA");
    char *market = NULL;
    int rc = -1;
    if (asprintf (&market, "%s%s%s", s_market_head, buyer, s_market_tail) >= 0)
        rc = pp_fleet_apply (fleet, market);
    free (market);
    free (buyer);
    return rc;
}

static bool
s_eq (const char *a, const char *b)
{
    return a && b && strcmp (a, b) == 0;
}

//  ISO 8601 UTC time `offset` seconds from now.
static void
s_iso (long offset, char *buf, size_t size)
{
    time_t t = time (NULL) + offset;
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

//  Apply one edit to lead (see s_edit_t).
static void
s_edit (cJSON *lead, const s_edit_t *edit)
{
    char path [64];
    snprintf (path, sizeof path, "%s", edit->path);
    cJSON *parent = lead;
    char *key = path;
    char *dot = strchr (path, '.');
    if (dot) {
        *dot = 0;
        parent = cJSON_GetObjectItemCaseSensitive (lead, path);
        if (!parent)
            parent = cJSON_AddObjectToObject (lead, path);
        key = dot + 1;
    }
    assert_non_null (parent);
    cJSON_DeleteItemFromObjectCaseSensitive (parent, key);
    if (!edit->value)
        return;
    cJSON *value;
    if (edit->value [0] == '@' && edit->value [1] == 'T') {
        char iso [40];
        s_iso (strtol (edit->value + 2, NULL, 10), iso, sizeof iso);
        value = cJSON_CreateString (iso);
    }
    else
        value = cJSON_Parse (edit->value);
    assert_non_null (value);
    cJSON_AddItemToObject (parent, key, value);
}

//  A fresh valid lead (CA, 90001) made into the case's lead.
static cJSON *
s_case_lead (const s_case_t *c)
{
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    if (c->vertical)
        cJSON_ReplaceItemInObjectCaseSensitive (lead, "vertical",
                                                cJSON_CreateString (c->vertical));
    for (size_t i = 0; i < 4 && c->edits [i].path; i++)
        s_edit (lead, &c->edits [i]);
    return lead;
}

//  The code and field of reason `index` of an answer, or "".
static const char *
s_reason (const pp_fleet_reply_t *reply, int index, const char *what)
{
    cJSON *reasons = cJSON_GetObjectItemCaseSensitive (reply->json, "reasons");
    cJSON *reason = cJSON_GetArrayItem (reasons, index);
    const char *value = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (reason, what));
    return value ? value : "";
}

//  Check a case's answer: 200 rejected, the code and field first (and the
//  `also` reason among them), every reason with a message. Prints and
//  returns false when it does not hold.
static bool
s_answer_ok (const s_case_t *c, const pp_fleet_reply_t *reply)
{
    bool ok = reply->status == 200 && s_eq (pp_fleet_reply_status (reply), "rejected")
           && s_eq (s_reason (reply, 0, "code"), c->code)
           && s_eq (s_reason (reply, 0, "field"), c->field)
           && *s_reason (reply, 0, "message") && *pp_fleet_reply_lead_id (reply);
    if (ok && c->also) {
        char code [64];
        snprintf (code, sizeof code, "%s", c->also);
        char *colon = strchr (code, ':');
        assert_non_null (colon);
        *colon = 0;
        ok = pp_fleet_reply_has_reason (reply, code, colon + 1);
    }
    if (!ok) {
        printf ("  CASE FAILED '%s': want 200 rejected, first reason %s on %s%s%s, got:\n",
                c->label, c->code, c->field, c->also ? " and " : "", c->also ? c->also : "");
        pp_fleet_reply_print (reply, c->label);
    }
    return ok;
}

//  Send every case's lead at once (8 in flight); check each answer, then
//  that the ledger has the lead's rejected event with the first reason's
//  code and field and its leads row says rejected with that code. Returns
//  the number of failed cases (each printed).
static int
s_run_cases (pp_fleet_t *fleet, const s_case_t *cases, size_t count)
{
    pp_fleet_batch_t *batch = pp_fleet_batch_new (fleet, 8);
    for (size_t i = 0; i < count; i++) {
        cJSON *lead = s_case_lead (&cases [i]);
        pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, lead);
        cJSON_Delete (lead);
    }
    size_t pending = pp_fleet_batch_run (batch, 30000);
    PP_CHECKF (fleet, pending == 0, "%zu of %zu leads unanswered", pending, count);
    int failed = 0;
    bool *ok = calloc (count, sizeof *ok);
    assert_non_null (ok);
    for (size_t i = 0; i < count; i++) {
        ok [i] = s_answer_ok (&cases [i], pp_fleet_batch_reply (batch, i));
        if (!ok [i])
            failed++;
    }
    //  The ledger: events come in batches, so poll.
    for (size_t i = 0; i < count; i++) {
        if (!ok [i])
            continue;
        const char *id = pp_fleet_reply_lead_id (pp_fleet_batch_reply (batch, i));
        char want [160];
        snprintf (want, sizeof want, "%s|%s", cases [i].code, cases [i].field);
        int rc = pp_fleet_sql_wait (fleet, want, 10000,
                                    "select coalesce (code, '') || '|' ||"
                                    "  coalesce (detail -> 'reasons' -> 0 ->> 'field', '')"
                                    "  from events where lead_id = $1 and kind = 'rejected'"
                                    "  and stage = 'validate'",
                                    id, NULL);
        snprintf (want, sizeof want, "rejected|%s", cases [i].code);
        if (rc == 0)
            rc = pp_fleet_sql_wait (fleet, want, 10000,
                                    "select status || '|' || coalesce (reasons -> 0 ->> 'code', '')"
                                    "  from leads where lead_id = $1",
                                    id, NULL);
        if (rc) {
            printf ("  CASE FAILED '%s' (lead %s): the ledger disagrees (above)\n",
                    cases [i].label, id);
            failed++;
        }
    }
    free (ok);
    pp_fleet_batch_destroy (&batch);
    return failed;
}

//  A lead with this phone (fresh otherwise) and its answer.
static pp_fleet_reply_t *
s_post_with_phone (pp_fleet_t *fleet, const char *phone)
{
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    cJSON_ReplaceItemInObjectCaseSensitive (cJSON_GetObjectItemCaseSensitive (lead, "fields"),
                                            "phone", cJSON_CreateString (phone));
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    return reply;
}

//  ---------------------------------------------------------------------------
//  Test 1: every reason code through the API

//  A clean lead sells: the cases below fail for their one edit only.
static void
test_e2e_quality_clean_lead_sells (void **state)
{
    pp_fleet_t *fleet = *state;
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    cJSON *fields = cJSON_GetObjectItemCaseSensitive (lead, "fields");
    cJSON_AddStringToObject (fields, "credit", "good");
    cJSON_AddStringToObject (fields, "move_date", "2026-12-01");
    cJSON *consent = cJSON_GetObjectItemCaseSensitive (lead, "consent");
    const char *certificate
        = "https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567";
    cJSON_AddStringToObject (consent, "trustedform_cert_url", certificate);
    cJSON_AddStringToObject (consent, "jornaya_leadid", "3f2a9c4e-1b7d-4e8a-9c2f-5d6e7f8a9b0c");
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "clean lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 2400, "price %lld, want 24.00",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);

    //  ZIP+4 is cut and the state filled from the ZIP: still a sale.
    lead = pp_fleet_lead_new (NULL, "90001-1234");
    reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "ZIP+4, no state", 200, "sold"));
    pp_fleet_reply_destroy (&reply);

    //  max_length counts characters, not bytes: 64 two-byte letters are fine.
    lead = pp_fleet_lead_new ("CA", "90001");
    char name [64 * 2 + 1] = "";
    for (int i = 0; i < 64; i++)
        strcat (name, "\xc3\xa9");
    cJSON_ReplaceItemInObjectCaseSensitive (cJSON_GetObjectItemCaseSensitive (lead, "fields"),
                                            "last_name", cJSON_CreateString (name));
    reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "last_name of 64 letters e-acute", 200, "sold"));
    pp_fleet_reply_destroy (&reply);
}

static void
test_e2e_quality_rejected_codes (void **state)
{
    pp_fleet_t *fleet = *state;
    size_t count = sizeof s_cases / sizeof s_cases [0];
    int failed = s_run_cases (fleet, s_cases, count);
    PP_CHECKF (fleet, failed == 0, "%d of %zu reason code cases failed (see CASE FAILED)",
               failed, count);
}

static void
test_e2e_quality_email_phone_rules (void **state)
{
    pp_fleet_t *fleet = *state;
    size_t count = sizeof s_pending_cases / sizeof s_pending_cases [0];
    int failed = s_run_cases (fleet, s_pending_cases, count);
    PP_CHECKF (fleet, failed == 0,
               "%d of %zu email/phone rule cases failed (see CASE FAILED; they need pp_email "
               "and pp_phone in validate)", failed, count);
}

//  Weak signals alone stay under the threshold, and consent is per vertical.
static void
test_e2e_quality_below_threshold (void **state)
{
    pp_fleet_t *fleet = *state;
    //  A stale timestamp alone (40) is under solar's threshold (50): sold.
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    s_edit_t stale = {"consent.timestamp", "@T-172800"};
    s_edit (lead, &stale);
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "stale timestamp only", 200, "sold"));
    pp_fleet_reply_destroy (&reply);

    //  A roofing lead without consent passes validate: no campaign buys roofing.
    lead = pp_fleet_lead_new ("CA", "90001");
    cJSON_ReplaceItemInObjectCaseSensitive (lead, "vertical", cJSON_CreateString ("roofing"));
    cJSON_DeleteItemFromObjectCaseSensitive (lead, "consent");
    reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "roofing without consent", 200, "unsold"));
    PP_CHECK (fleet, pp_fleet_reply_has_reason (reply, "no_eligible_campaign", NULL));
    pp_fleet_reply_destroy (&reply);
}

//  Missing required fields and wrong types never reach validate: 422
//  invalid_lead, each problem in details with its code and field.
static void
test_e2e_quality_intake_422 (void **state)
{
    pp_fleet_t *fleet = *state;
    struct {
        const char *label;
        s_edit_t edits [2];
        const char *details [2];            //  "code:field" each must hold
    } cases [] = {
        {"no last_name", {{"fields.last_name", NULL}}, {"field_missing:last_name"}},
        {"null phone and no zip", {{"fields.phone", "null"}, {"fields.zip", NULL}},
         {"field_missing:phone", "field_missing:zip"}},
        {"monthly_bill a string", {{"fields.monthly_bill", "\"lots\""}},
         {"field_type:monthly_bill"}},
        {"zip a number, first_name an array",
         {{"fields.zip", "90001"}, {"fields.first_name", "[\"Jane\"]"}},
         {"field_type:zip", "field_type:first_name"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        cJSON *lead = pp_fleet_lead_new ("CA", "90001");
        for (size_t e = 0; e < 2 && cases [i].edits [e].path; e++)
            s_edit (lead, &cases [i].edits [e]);
        pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
        cJSON_Delete (lead);
        PP_CHECKF (fleet, pp_fleet_reply_is (reply, cases [i].label, 422, NULL), "%s",
                   cases [i].label);
        cJSON *error = cJSON_GetObjectItemCaseSensitive (reply->json, "error");
        PP_CHECKF (fleet, s_eq (cJSON_GetStringValue (
                                   cJSON_GetObjectItemCaseSensitive (error, "code")),
                               "invalid_lead"),
                   "%s: %s", cases [i].label, reply->body);
        cJSON *details = cJSON_GetObjectItemCaseSensitive (error, "details");
        for (size_t d = 0; d < 2 && cases [i].details [d]; d++) {
            bool found = false;
            cJSON *item;
            cJSON_ArrayForEach (item, details) {
                char pair [128];
                snprintf (pair, sizeof pair, "%s:%s",
                          cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (item, "code")),
                          cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (item, "field")));
                found = found || s_eq (pair, cases [i].details [d]);
            }
            PP_CHECKF (fleet, found, "%s: no %s in details: %s", cases [i].label,
                       cases [i].details [d], reply->body);
        }
        pp_fleet_reply_destroy (&reply);
    }
}

//  duplicate and unsold, with their ledger rows; the publisher can read a
//  rejected lead's reasons back.
static void
test_e2e_quality_duplicate_unsold (void **state)
{
    pp_fleet_t *fleet = *state;
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    pp_fleet_reply_t *first = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    PP_CHECK (fleet, pp_fleet_reply_is (first, "first copy", 200, "sold"));
    //  The same phone and email, the email's domain in capitals: the same lead.
    cJSON *fields = cJSON_GetObjectItemCaseSensitive (lead, "fields");
    char email [128];
    snprintf (email, sizeof email, "%s",
              cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (fields, "email")));
    for (char *p = strchr (email, '@'); p && *p; p++)
        *p = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    cJSON_ReplaceItemInObjectCaseSensitive (fields, "email", cJSON_CreateString (email));
    cJSON_ReplaceItemInObjectCaseSensitive (fields, "first_name", cJSON_CreateString ("Other"));
    pp_fleet_reply_t *second = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (second, "second copy", 200, "duplicate"));
    PP_CHECK (fleet, pp_fleet_reply_has_reason (second, "duplicate", NULL));
    PP_CHECK (fleet, pp_fleet_reply_price_cents (second) == 0);
    const char *sold_id = pp_fleet_reply_lead_id (first);
    const char *dup_id = pp_fleet_reply_lead_id (second);
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, dup_id, NULL, "", "duplicate:0:0") == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "duplicate", 5000,
                                        "select string_agg (code, ',') from events"
                                        "  where lead_id = $1 and kind = 'duplicate'",
                                        dup_id, NULL) == 0);
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, sold_id, NULL, NULL, "sold:2400:3000") == 0);
    //  The fingerprint belongs to the lead that sold.
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, sold_id, 5000,
                                        "select string_agg (lead_id, ',') from dedupe"
                                        "  where lead_id = any (array [$1, $2])",
                                        sold_id, dup_id, NULL) == 0);
    pp_fleet_reply_destroy (&first);
    pp_fleet_reply_destroy (&second);

    //  NV: no campaign takes it.
    lead = pp_fleet_lead_new ("NV", "89101");
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "NV lead", 200, "unsold"));
    PP_CHECK (fleet, pp_fleet_reply_has_reason (reply, "no_eligible_campaign", NULL));
    const char *id = pp_fleet_reply_lead_id (reply);
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id, NULL, "", "unsold:0:0") == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "filter:no_eligible_campaign", 5000,
                                        "select stage || ':' || code from events"
                                        "  where lead_id = $1 and kind = 'unsold'",
                                        id, NULL) == 0);
    pp_fleet_reply_destroy (&reply);

    //  A rejected lead: GET /v1/leads/{id} gives its status and reasons back.
    lead = pp_fleet_lead_new ("CA", "90001");
    s_edit_t edit = {"signals.honeypot", "\"x\""};
    s_edit (lead, &edit);
    reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "honeypot lead", 200, "rejected"));
    id = pp_fleet_reply_lead_id (reply);
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id, NULL, "", "rejected:0:0") == 0);
    char path [128];
    snprintf (path, sizeof path, "/v1/leads/%s", id);
    pp_fleet_request_t request = {"GET", path, PP_FLEET_KEY_ACME, NULL, NULL, 0, 10000};
    pp_fleet_reply_t *status = pp_fleet_request (fleet, &request);
    PP_CHECK (fleet, pp_fleet_reply_is (status, "GET rejected lead", 200, "rejected"));
    PP_CHECKF (fleet, pp_fleet_reply_has_reason (status, "bot_honeypot", "signals.honeypot"),
               "GET %s: %s", path, status->body);
    pp_fleet_reply_destroy (&status);
    pp_fleet_reply_destroy (&reply);
}

//  A phone blacklisted with the CLI: both validate instances reject it
//  within 2 s; removed again, it sells again.
static void
test_e2e_quality_blacklist_cli (void **state)
{
    pp_fleet_t *fleet = *state;
    pp_fleet_reply_t *reply = s_post_with_phone (fleet, S_CLI_PHONE);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "phone before the blacklist", 200, "sold"));
    pp_fleet_reply_destroy (&reply);

    int exit_code = -1;
    char *out = pp_fleet_cli (fleet, &exit_code, "blacklist", "add", "phone", S_CLI_PHONE,
                              "--note", "e2e", NULL);
    PP_CHECKF (fleet, exit_code == 0 && strstr (out, S_CLI_PHONE_E164),
               "blacklist add exited %d: %s", exit_code, out);
    free (out);
    out = pp_fleet_cli (fleet, &exit_code, "blacklist", "list", "phone", "--format", "json",
                        NULL);
    PP_CHECKF (fleet, exit_code == 0 && strstr (out, S_CLI_PHONE_E164),
               "blacklist list exited %d: %s", exit_code, out);
    free (out);

    //  Poll until one lead is rejected, then the next four (both instances,
    //  round robin) must be too.
    int64_t added = pp_fleet_now_us ();
    int rejected = 0;
    while (rejected < 5) {
        reply = s_post_with_phone (fleet, S_CLI_PHONE);
        bool hit = reply->status == 200 && s_eq (pp_fleet_reply_status (reply), "rejected")
                && pp_fleet_reply_has_reason (reply, "blacklisted_phone", "phone");
        if (hit)
            rejected++;
        else {
            PP_CHECKF (fleet, rejected == 0, "lead %d after the first rejection was not: %s",
                       rejected, reply->body);
            PP_CHECKF (fleet, pp_fleet_now_us () - added < 2000000,
                       "not rejected 2 s after blacklist add: %s", reply->body);
            pp_fleet_sleep_ms (50);
        }
        pp_fleet_reply_destroy (&reply);
    }
    printf ("  blacklist add took effect after %.0f ms\n",
            (double) (pp_fleet_now_us () - added) / 1000.0);

    out = pp_fleet_cli (fleet, &exit_code, "blacklist", "remove", "phone", "503-734-9182", NULL);
    PP_CHECKF (fleet, exit_code == 0, "blacklist remove exited %d: %s", exit_code, out);
    free (out);
    int64_t removed = pp_fleet_now_us ();
    int sold = 0;
    while (sold < 4) {
        reply = s_post_with_phone (fleet, S_CLI_PHONE);
        if (reply->status == 200 && s_eq (pp_fleet_reply_status (reply), "sold"))
            sold++;
        else {
            PP_CHECKF (fleet, sold == 0, "lead %d after the first sale did not sell: %s", sold,
                       reply->body);
            PP_CHECKF (fleet, pp_fleet_now_us () - removed < 2000000,
                       "still rejected 2 s after blacklist remove: %s", reply->body);
            pp_fleet_sleep_ms (50);
        }
        pp_fleet_reply_destroy (&reply);
    }
}

//  ---------------------------------------------------------------------------
//  Test 2: one lead fired 20 times at once at two validate instances

//  Append id to a Postgres array literal "{a,b}" being built in buf.
static void
s_array_add (char **array, const char *id)
{
    char *more = NULL;
    size_t size = strlen (*array);
    assert_true (size > 0);
    (*array) [size - 1] = 0;            //  drop the closing brace
    int rc = asprintf (&more, "%s%s%s}", *array, size > 2 ? "," : "", id);
    assert_true (rc >= 0);
    free (*array);
    *array = more;
}

static void
test_e2e_quality_concurrent_duplicates (void **state)
{
    pp_fleet_t *fleet = *state;
    PP_CHECKF (fleet, pp_fleet_slots (fleet, "validate") == 2, "%d validate instances, want 2",
               pp_fleet_slots (fleet, "validate"));
    char *all = strdup ("{}");
    assert_non_null (all);
    for (int round = 0; round < S_DUP_ROUNDS; round++) {
        pp_fleet_batch_t *batch = pp_fleet_batch_new (fleet, S_DUP_COPIES);
        cJSON *model = pp_fleet_lead_new ("CA", "90001");
        cJSON *model_fields = cJSON_GetObjectItemCaseSensitive (model, "fields");
        for (int i = 0; i < S_DUP_COPIES; i++) {
            //  Same phone and email as the model, everything else its own.
            cJSON *lead = pp_fleet_lead_new ("CA", "90001");
            cJSON *fields = cJSON_GetObjectItemCaseSensitive (lead, "fields");
            cJSON_ReplaceItemInObjectCaseSensitive (
                fields, "phone",
                cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (model_fields, "phone"), 1));
            cJSON_ReplaceItemInObjectCaseSensitive (
                fields, "email",
                cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (model_fields, "email"), 1));
            cJSON_ReplaceItemInObjectCaseSensitive (fields, "monthly_bill",
                                                    cJSON_CreateNumber (100 + i));
            pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, lead);
            cJSON_Delete (lead);
        }
        cJSON_Delete (model);
        size_t pending = pp_fleet_batch_run (batch, 30000);
        PP_CHECKF (fleet, pending == 0, "round %d: %zu leads unanswered", round, pending);

        int sold = 0, duplicates = 0;
        char *ids = strdup ("{}");
        assert_non_null (ids);
        const char *winner = "";
        for (int i = 0; i < S_DUP_COPIES; i++) {
            pp_fleet_reply_t *reply = pp_fleet_batch_reply (batch, (size_t) i);
            const char *status = pp_fleet_reply_status (reply);
            if (reply->status == 200 && s_eq (status, "duplicate")
            &&  pp_fleet_reply_has_reason (reply, "duplicate", NULL))
                duplicates++;
            else
            if (reply->status == 200 && s_eq (status, "sold")) {
                sold++;
                winner = pp_fleet_reply_lead_id (reply);
            }
            else
                pp_fleet_reply_print (reply, "neither sold nor duplicate");
            s_array_add (&ids, pp_fleet_reply_lead_id (reply));
            s_array_add (&all, pp_fleet_reply_lead_id (reply));
        }
        printf ("  round %d: %d sold, %d duplicate\n", round, sold, duplicates);
        PP_CHECKF (fleet, sold == 1 && duplicates == S_DUP_COPIES - 1,
                   "round %d: %d sold and %d duplicate of %d copies", round, sold, duplicates,
                   S_DUP_COPIES);

        //  The ledger agrees: one sold, the rest duplicate, one dedupe row
        //  (the winner's), a duplicate event for each loser.
        char want [64];
        snprintf (want, sizeof want, "%d", S_DUP_COPIES);
        PP_CHECK (fleet, pp_fleet_sql_wait (fleet, want, 10000,
                                            "select count (*) from events where kind = 'answered'"
                                            "  and lead_id = any ($1::text [])",
                                            ids, NULL) == 0);
        snprintf (want, sizeof want, "duplicate:%d,sold:1", S_DUP_COPIES - 1);
        PP_CHECK (fleet, pp_fleet_sql_wait (fleet, want, 5000,
                                            "select string_agg (status || ':' || n, ','"
                                            "  order by status) from (select status, count (*) n"
                                            "  from leads where lead_id = any ($1::text [])"
                                            "  group by status) s",
                                            ids, NULL) == 0);
        PP_CHECK (fleet, pp_fleet_sql_wait (fleet, winner, 5000,
                                            "select string_agg (lead_id, ',') from dedupe"
                                            "  where lead_id = any ($1::text [])",
                                            ids, NULL) == 0);
        snprintf (want, sizeof want, "%d", S_DUP_COPIES - 1);
        PP_CHECK (fleet, pp_fleet_sql_wait (fleet, want, 5000,
                                            "select count (*) from events"
                                            "  where kind = 'duplicate' and code = 'duplicate'"
                                            "  and stage = 'validate'"
                                            "  and lead_id = any ($1::text [])",
                                            ids, NULL) == 0);
        free (ids);
        pp_fleet_batch_destroy (&batch);
    }
    //  One fingerprint per round, and both validate instances took work: the
    //  four characters after ".2" of a validate event id name its instance.
    char want [16];
    snprintf (want, sizeof want, "%d", S_DUP_ROUNDS);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, want, 5000,
                                        "select count (distinct fingerprint) from dedupe"
                                        "  where lead_id = any ($1::text [])",
                                        all, NULL) == 0);
    char *tags = pp_fleet_sql (fleet,
                               "select string_agg (tag || ':' || n, ',' order by tag) from"
                               "  (select substr (split_part (event_id, '.', 2), 2, 4) tag,"
                               "   count (*) n from events where stage = 'validate'"
                               "   and lead_id = any ($1::text []) group by 1) t",
                               all, NULL);
    int64_t instances = pp_fleet_sql_int (fleet,
                                          "select count (distinct substr (split_part ("
                                          "  event_id, '.', 2), 2, 4)) from events"
                                          "  where stage = 'validate'"
                                          "  and lead_id = any ($1::text [])",
                                          all, NULL);
    printf ("  validate events per instance: %s\n", tags ? tags : "(none)");
    PP_CHECKF (fleet, instances >= 2, "validate events came from %lld instance(s): %s",
               (long long) instances, tags ? tags : "");
    free (tags);
    free (all);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_e2e_quality_clean_lead_sells),
        cmocka_unit_test (test_e2e_quality_rejected_codes),
        cmocka_unit_test (test_e2e_quality_email_phone_rules),
        cmocka_unit_test (test_e2e_quality_below_threshold),
        cmocka_unit_test (test_e2e_quality_intake_422),
        cmocka_unit_test (test_e2e_quality_duplicate_unsold),
        cmocka_unit_test (test_e2e_quality_blacklist_cli),
        cmocka_unit_test (test_e2e_quality_concurrent_duplicates),
    };
    return cmocka_run_group_tests (tests, s_setup, pp_fleet_teardown);
}
