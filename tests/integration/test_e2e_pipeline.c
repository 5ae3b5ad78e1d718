/*  test_e2e_pipeline - the whole fleet sells leads: auction, fallback, payouts, ledger, CLI  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_fleet.h"
#include "pp_util.h"
#include <unistd.h>

//  Mock buyers: three for CA (fixed bids 20, 30, 25), two for NV (the top
//  one rejects every post), one for OR (the rate run).
static const char *s_mock_buyers [] = {
    "b20:bid=20.00,delay_ms=0,accept=1",
    "b30:bid=30.00,delay_ms=0,accept=1",
    "b25:bid=25.00,delay_ms=0,accept=1",
    "nvtop:bid=40.00,delay_ms=0,accept=0",
    "nvnext:bid=35.00,delay_ms=0,accept=1",
    "fast:bid=15.00,delay_ms=0,accept=1",
    NULL
};

typedef struct {
    pp_fleet_t *fleet;          //  the fleet of this program
    char lead_id [64];          //  the lead sold in test (a)
    char first_name [64];       //  its personal fields as sent
    char email [128];           //  ...
    char phone [32];            //  ...
} s_state_t;

//  Money of a report cell (JSON number, or a numeric string) in cents; -1 if neither.
static int64_t
s_cents (const cJSON *item)
{
    if (cJSON_IsNumber (item))
        return (int64_t) llround (item->valuedouble * 100.0);
    if (cJSON_IsString (item))
        return (int64_t) llround (strtod (item->valuestring, NULL) * 100.0);
    return -1;
}

static int64_t
s_int (const cJSON *item)
{
    if (cJSON_IsNumber (item))
        return (int64_t) llround (item->valuedouble);
    if (cJSON_IsString (item))
        return strtoll (item->valuestring, NULL, 10);
    return -1;
}

static const char *
s_field (const cJSON *lead, const char *name)
{
    cJSON *fields = cJSON_GetObjectItemCaseSensitive (lead, "fields");
    const char *value = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (fields, name));
    return value ? value : "";
}

//  Wait until the ledger has the lead's answered event (events are batched).
static bool
s_wait_answered (pp_fleet_t *fleet, const char *lead_id)
{
    return pp_fleet_sql_wait (fleet, "1", 10000,
                              "select count(*) from events where lead_id = $1 and kind = 'answered'",
                              lead_id, NULL) == 0;
}

static int
s_setup (void **state)
{
    s_state_t *self = calloc (1, sizeof *self);
    *state = self;
    if (!self)
        return -1;
    self->fleet = pp_fleet_new ("test_e2e_pipeline", NULL);
    if (!self->fleet)
        return -1;
    if (pp_fleet_mockbuyer_start (self->fleet, s_mock_buyers))
        return -1;
    const char *specs [][3] = {
        {"b20", "20.00", "CA"}, {"b30", "30.00", "CA"}, {"b25", "25.00", "CA"},
        {"nvtop", "40.00", "NV"}, {"nvnext", "35.00", "NV"}, {"fast", "15.00", "OR"}
    };
    char *buyers = strdup ("[");
    for (size_t i = 0; i < sizeof specs / sizeof specs [0]; i++) {
        char *buyer = pp_fleet_fixed_buyer (specs [i][0], specs [i][1], specs [i][2]);
        char *joined = NULL;
        if (asprintf (&joined, "%s%s%s", buyers, i ? ",\n" : "", buyer) < 0)
            return -1;
        free (buyers);
        free (buyer);
        buyers = joined;
    }
    char *closed = NULL;
    if (asprintf (&closed, "%s]", buyers) < 0)
        return -1;
    free (buyers);
    char *market = pp_fleet_market_json (closed);
    free (closed);
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
//  (a) the best of three fixed bids wins; only its buyer gets the full lead

static void
test_e2e_pipeline_sells_to_best_bid (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "CA lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 2400,
               "price %lld, want 24.00 (80%% of 30.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    const char *lead_id = pp_fleet_reply_lead_id (reply);
    PP_CHECK (fleet, *lead_id && strlen (lead_id) < sizeof self->lead_id);
    snprintf (self->lead_id, sizeof self->lead_id, "%s", lead_id);
    snprintf (self->first_name, sizeof self->first_name, "%s", s_field (lead, "first_name"));
    snprintf (self->email, sizeof self->email, "%s", s_field (lead, "email"));
    snprintf (self->phone, sizeof self->phone, "%s", s_field (lead, "phone"));
    pp_fleet_reply_destroy (&reply);
    cJSON_Delete (lead);

    //  The post came before the answer, but the record file is appended by
    //  another process: give it a moment.
    cJSON *posts = NULL;
    int64_t deadline = pp_fleet_now_us () + 2000000;
    do {
        cJSON_Delete (posts);
        posts = pp_fleet_mockbuyer_posts (fleet, self->lead_id);
        if (cJSON_GetArraySize (posts) > 0)
            break;
        pp_fleet_sleep_ms (20);
    } while (pp_fleet_now_us () < deadline);
    pp_fleet_sleep_ms (200);
    cJSON_Delete (posts);
    posts = pp_fleet_mockbuyer_posts (fleet, self->lead_id);
    char *text = cJSON_PrintUnformatted (posts);
    PP_CHECKF (fleet, cJSON_GetArraySize (posts) == 1, "posts of lead %s: %.2000s",
               self->lead_id, text);
    cJSON *post = cJSON_GetArrayItem (posts, 0);
    const char *buyer = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (post, "buyer"));
    PP_CHECKF (fleet, buyer && strcmp (buyer, "b30") == 0, "post went to %s: %.2000s",
               buyer ? buyer : "(none)", text);
    const char *type = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (post,
                                                                              "content_type"));
    PP_CHECKF (fleet, type && strstr (type, "json"), "post content type %s",
               type ? type : "(none)");
    //  The post carries the personal fields (default post protocol).
    cJSON *body = cJSON_GetObjectItemCaseSensitive (post, "json");
    const char *first = s_field (body, "first_name");
    const char *email = s_field (body, "email");
    const char *phone = s_field (body, "phone");
    PP_CHECKF (fleet, strcmp (first, self->first_name) == 0, "first_name '%s' in post: %.2000s",
               first, text);
    PP_CHECKF (fleet, strcmp (email, self->email) == 0, "email '%s' in post: %.2000s", email,
               text);
    PP_CHECKF (fleet, strstr (phone, self->phone) != NULL, "phone '%s' (sent %s) in post: %.2000s",
               phone, self->phone, text);
    const char *posted_lead = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (body,
                                                                                     "lead_id"));
    PP_CHECK (fleet, posted_lead && strcmp (posted_lead, self->lead_id) == 0);
    free (text);
    cJSON_Delete (posts);

    //  No other buyer got any post (nor a ping: fixed bids are not pinged).
    cJSON *records = pp_fleet_mockbuyer_records (fleet);
    cJSON *record;
    cJSON_ArrayForEach (record, records) {
        const char *who = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                 "buyer"));
        PP_CHECKF (fleet, who && strcmp (who, "b30") == 0, "buyer %s got a request",
                   who ? who : "(none)");
    }
    cJSON_Delete (records);
}

//  ---------------------------------------------------------------------------
//  (b) the ledger has the lead, its sale, its events and its personal data apart

static void
test_e2e_pipeline_ledger_rows (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    PP_CHECKF (fleet, *self->lead_id, "%s", "test (a) sold no lead");
    const char *id = self->lead_id;
    PP_CHECK (fleet, s_wait_answered (fleet, id));

    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "sold,2400,3000", 5000,
                                        "select status || ',' || price_cents || ',' || charge_cents"
                                        "  from leads where lead_id = $1",
                                        id, NULL) == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "1|3000,2400,600", 5000,
                                        "select count(*) || '|' || string_agg(charge_cents || ','"
                                        "  || payout_cents || ',' || margin_cents, ';')"
                                        "  from sales where lead_id = $1",
                                        id, NULL) == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "b30", 1000,
                                        "select b.name from sales s join buyers b"
                                        "  on b.id = s.buyer_id where s.lead_id = $1",
                                        id, NULL) == 0);
    PP_CHECK (fleet, pp_fleet_sql_int (fleet,
                                       "select count(*) from sales"
                                       "  where charge_cents <> payout_cents + margin_cents",
                                       NULL) == 0);

    static const char *kinds [] = {"received", "validated", "eligible", "bid", "posted",
                                   "accepted", "sold", "answered"};
    char *all = pp_fleet_sql (fleet,
                              "select string_agg(kind, ',' order by at, event_id) from events"
                              "  where lead_id = $1",
                              id, NULL);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds [0]; i++) {
        int64_t count = pp_fleet_sql_int (fleet,
                                          "select count(*) from events"
                                          "  where lead_id = $1 and kind = $2",
                                          id, kinds [i], NULL);
        PP_CHECKF (fleet, count >= 1, "no '%s' event for lead %s; events: %s", kinds [i], id,
                   all ? all : "(none)");
    }
    free (all);

    //  Personal data: in lead_pii, and nowhere in events or leads.fields.
    char *first = pp_fleet_sql (fleet, "select fields->>'first_name' from lead_pii"
                                       "  where lead_id = $1", id, NULL);
    char *email = pp_fleet_sql (fleet, "select fields->>'email' from lead_pii"
                                       "  where lead_id = $1", id, NULL);
    char *phone = pp_fleet_sql (fleet, "select fields->>'phone' from lead_pii"
                                       "  where lead_id = $1", id, NULL);
    PP_CHECKF (fleet, first && strcmp (first, self->first_name) == 0,
               "lead_pii first_name '%s', want '%s'", first ? first : "(no row)",
               self->first_name);
    PP_CHECKF (fleet, email && strcmp (email, self->email) == 0, "lead_pii email '%s', want '%s'",
               email ? email : "(no row)", self->email);
    PP_CHECKF (fleet, phone && strstr (phone, self->phone), "lead_pii phone '%s', want '%s'",
               phone ? phone : "(no row)", self->phone);
    free (first);
    free (email);
    free (phone);
    int64_t leaks = pp_fleet_sql_int (fleet,
                                      "select count(*) from events e"
                                      "  where position($1 in e::text) > 0"
                                      "     or position($2 in e::text) > 0",
                                      self->phone, self->email, NULL);
    PP_CHECKF (fleet, leaks == 0, "%lld events hold the phone %s or the email %s",
               (long long) leaks, self->phone, self->email);
    leaks = pp_fleet_sql_int (fleet,
                              "select count(*) from leads"
                              "  where position($1 in coalesce(fields::text, '')) > 0"
                              "     or position($2 in coalesce(fields::text, '')) > 0",
                              self->phone, self->email, NULL);
    PP_CHECKF (fleet, leaks == 0, "%lld leads.fields hold the phone or the email",
               (long long) leaks);
}

//  ---------------------------------------------------------------------------
//  (c) the best buyer rejects the post: the next bid gets the lead

static void
test_e2e_pipeline_falls_back_on_rejection (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    cJSON *lead = pp_fleet_lead_new ("NV", "89101");
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "NV lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 2800,
               "price %lld, want 28.00 (80%% of 35.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    char id [64];
    snprintf (id, sizeof id, "%s", pp_fleet_reply_lead_id (reply));
    pp_fleet_reply_destroy (&reply);

    pp_fleet_sleep_ms (200);
    cJSON *posts = pp_fleet_mockbuyer_posts (fleet, id);
    char *text = cJSON_PrintUnformatted (posts);
    PP_CHECKF (fleet, cJSON_GetArraySize (posts) == 2, "posts: %.2000s", text);
    const char *first = cJSON_GetStringValue (
        cJSON_GetObjectItemCaseSensitive (cJSON_GetArrayItem (posts, 0), "buyer"));
    const char *second = cJSON_GetStringValue (
        cJSON_GetObjectItemCaseSensitive (cJSON_GetArrayItem (posts, 1), "buyer"));
    PP_CHECKF (fleet, first && second && strcmp (first, "nvtop") == 0
                   && strcmp (second, "nvnext") == 0, "posts in order: %.2000s", text);
    free (text);
    cJSON_Delete (posts);

    PP_CHECK (fleet, s_wait_answered (fleet, id));
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "nvnext,3500,2800", 5000,
                                        "select b.name || ',' || s.charge_cents || ','"
                                        "  || s.payout_cents from sales s join buyers b"
                                        "  on b.id = s.buyer_id where s.lead_id = $1",
                                        id, NULL) == 0);
    char *kinds = pp_fleet_sql (fleet,
                                "select ',' || string_agg(kind, ',' order by at, event_id) || ','"
                                "  from events where lead_id = $1",
                                id, NULL);
    const char *rejected = kinds ? strstr (kinds, ",post_rejected,") : NULL;
    const char *accepted = kinds ? strstr (kinds, ",accepted,") : NULL;
    PP_CHECKF (fleet, rejected && accepted && rejected < accepted,
               "want post_rejected then accepted; events: %s", kinds ? kinds : "(none)");
    free (kinds);
}

//  ---------------------------------------------------------------------------
//  (d) a fixed-payout publisher gets its fixed price whatever the bid

static void
test_e2e_pipeline_fixed_payout (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_FIXED, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "fixedpub lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 1000, "price %lld, want 10.00",
               (long long) pp_fleet_reply_price_cents (reply));
    char id [64];
    snprintf (id, sizeof id, "%s", pp_fleet_reply_lead_id (reply));
    pp_fleet_reply_destroy (&reply);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "3000,1000,2000", 10000,
                                        "select charge_cents || ',' || payout_cents || ','"
                                        "  || margin_cents from sales where lead_id = $1",
                                        id, NULL) == 0);
}

//  ---------------------------------------------------------------------------
//  GET /v1/leads/{id}: the publisher's own lead only

static void
test_e2e_pipeline_lead_status (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "lead", 200, "sold"));
    char path [96];
    snprintf (path, sizeof path, "/v1/leads/%s", pp_fleet_reply_lead_id (reply));
    int64_t price = pp_fleet_reply_price_cents (reply);
    pp_fleet_reply_destroy (&reply);
    //  The ledger commits in batches: poll until the lead is there
    pp_fleet_request_t request = {"GET", path, PP_FLEET_KEY_ACME, NULL, NULL, 0, 0};
    int64_t until = pp_mono_us () + 10000000;
    while (true) {
        reply = pp_fleet_request (fleet, &request);
        if (reply->status == 200 || pp_mono_us () > until)
            break;
        pp_fleet_reply_destroy (&reply);
        usleep (50000);
    }
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "status", 200, "sold"));
    PP_CHECK (fleet, pp_fleet_reply_price_cents (reply) == price);
    pp_fleet_reply_destroy (&reply);
    //  Another publisher's lead does not exist for it; no key is a 401;
    //  a malformed id a 404; a POST there a 405
    request.api_key = PP_FLEET_KEY_FIXED;
    reply = pp_fleet_request (fleet, &request);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "other publisher", 404, NULL));
    PP_CHECK (fleet, pp_fleet_reply_is_error_body (reply));
    pp_fleet_reply_destroy (&reply);
    request.api_key = NULL;
    reply = pp_fleet_request (fleet, &request);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "no key", 401, NULL));
    pp_fleet_reply_destroy (&reply);
    request.api_key = PP_FLEET_KEY_ACME;
    request.path = "/v1/leads/not-a-lead-id";
    reply = pp_fleet_request (fleet, &request);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "bad id", 404, NULL));
    pp_fleet_reply_destroy (&reply);
    request.path = path;
    request.method = "POST";
    reply = pp_fleet_request (fleet, &request);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "post", 405, NULL));
    pp_fleet_reply_destroy (&reply);
}

//  ---------------------------------------------------------------------------
//  (e) unsold, rejected and duplicate outcomes

static void
test_e2e_pipeline_other_outcomes (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;

    //  No campaign buys TX.
    cJSON *lead = pp_fleet_lead_new ("TX", "75001");
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "TX lead", 200, "unsold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 0, "unsold price %lld",
               (long long) pp_fleet_reply_price_cents (reply));
    PP_CHECK (fleet, *pp_fleet_reply_lead_id (reply));
    pp_fleet_reply_destroy (&reply);

    //  The vertical requires consent.
    lead = pp_fleet_lead_new ("CA", "90001");
    cJSON_DeleteItemFromObjectCaseSensitive (lead, "consent");
    reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "lead without consent", 200, "rejected"));
    PP_CHECKF (fleet, pp_fleet_reply_has_reason (reply, "consent_missing", NULL), "body %s",
               reply->body);
    PP_CHECK (fleet, pp_fleet_reply_price_cents (reply) <= 0);
    pp_fleet_reply_destroy (&reply);

    //  A malformed email.
    lead = pp_fleet_lead_new ("CA", "90001");
    cJSON_ReplaceItemInObjectCaseSensitive (cJSON_GetObjectItemCaseSensitive (lead, "fields"),
                                            "email", cJSON_CreateString ("not-an-email"));
    reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "lead with a bad email", 200, "rejected"));
    PP_CHECKF (fleet, pp_fleet_reply_has_reason (reply, NULL, "email"), "body %s", reply->body);
    pp_fleet_reply_destroy (&reply);

    //  The same phone and email twice.
    lead = pp_fleet_lead_new ("CA", "90001");
    reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "first of two", 200, "sold"));
    pp_fleet_reply_destroy (&reply);
    reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "second of two", 200, "duplicate"));
    PP_CHECK (fleet, pp_fleet_reply_price_cents (reply) <= 0);
    pp_fleet_reply_destroy (&reply);
}

//  ---------------------------------------------------------------------------
//  (f) the report agrees with what the buyers say they accepted

static void
test_e2e_pipeline_report_matches_buyers (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    cJSON *stats = pp_fleet_mockbuyer_stats (fleet);
    PP_CHECK (fleet, stats);
    int64_t accepted_total = 0, cents_total = 0;
    cJSON *buyer;
    cJSON_ArrayForEach (buyer, stats) {
        accepted_total += s_int (cJSON_GetObjectItemCaseSensitive (buyer, "accepted"));
        cents_total += s_int (cJSON_GetObjectItemCaseSensitive (buyer, "accepted_cents"));
    }
    PP_CHECK (fleet, accepted_total >= 4);
    char expected [32];
    snprintf (expected, sizeof expected, "%lld", (long long) accepted_total);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, expected, 10000, "select count(*) from sales",
                                        NULL) == 0);
    //  And every answered lead is in (the report counts leads).
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "0", 10000,
                                        "select count(*) from leads l where not exists"
                                        "  (select 1 from events e where e.lead_id = l.lead_id"
                                        "   and e.kind = 'answered')",
                                        NULL) == 0);

    int exit_code = -1;
    char *out = pp_fleet_cli (fleet, &exit_code, "report", "--by", "buyer", "--since", "all",
                              "--format", "json", NULL);
    cJSON *report = cJSON_Parse (out);
    PP_CHECKF (fleet, exit_code == 0 && cJSON_IsArray (report),
               "report --by buyer exited %d: %.2000s", exit_code, out);
    char *stats_text = cJSON_PrintUnformatted (stats);
    cJSON_ArrayForEach (buyer, stats) {
        int64_t accepted = s_int (cJSON_GetObjectItemCaseSensitive (buyer, "accepted"));
        int64_t cents = s_int (cJSON_GetObjectItemCaseSensitive (buyer, "accepted_cents"));
        cJSON *row = NULL, *item;
        cJSON_ArrayForEach (item, report) {
            const char *key = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (item,
                                                                                     "key"));
            if (key && strcmp (key, buyer->string) == 0)
                row = item;
        }
        if (accepted == 0 && !row)
            continue;
        PP_CHECKF (fleet, row, "no report row for buyer %s; report %.2000s", buyer->string, out);
        int64_t sold = s_int (cJSON_GetObjectItemCaseSensitive (row, "sold"));
        int64_t revenue = s_cents (cJSON_GetObjectItemCaseSensitive (row, "revenue"));
        PP_CHECKF (fleet, sold == accepted && revenue == cents,
                   "buyer %s: report sold %lld revenue %lld cents, mock buyer accepted %lld for "
                   "%lld cents\nreport: %.2000s\nstats: %.2000s",
                   buyer->string, (long long) sold, (long long) revenue, (long long) accepted,
                   (long long) cents, out, stats_text);
    }
    //  And no buyer in the report sold more than the mock buyer accepted.
    cJSON *row;
    cJSON_ArrayForEach (row, report) {
        const char *key = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (row, "key"));
        int64_t sold = s_int (cJSON_GetObjectItemCaseSensitive (row, "sold"));
        cJSON *mock = key ? cJSON_GetObjectItemCaseSensitive (stats, key) : NULL;
        int64_t accepted = s_int (cJSON_GetObjectItemCaseSensitive (mock, "accepted"));
        PP_CHECKF (fleet, sold <= 0 || sold == accepted, "report row %s sold %lld, mock %lld",
                   key ? key : "(no key)", (long long) sold, (long long) accepted);
    }
    free (stats_text);
    cJSON_Delete (report);
    free (out);

    out = pp_fleet_cli (fleet, &exit_code, "report", "--by", "publisher", "--since", "all",
                        "--format", "json", NULL);
    report = cJSON_Parse (out);
    PP_CHECKF (fleet, exit_code == 0 && cJSON_IsArray (report),
               "report --by publisher exited %d: %.2000s", exit_code, out);
    int64_t revenue_total = 0;
    bool acme = false;
    cJSON_ArrayForEach (row, report) {
        const char *key = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (row, "key"));
        int64_t revenue = s_cents (cJSON_GetObjectItemCaseSensitive (row, "revenue"));
        int64_t payout = s_cents (cJSON_GetObjectItemCaseSensitive (row, "payout"));
        int64_t margin = s_cents (cJSON_GetObjectItemCaseSensitive (row, "margin"));
        PP_CHECKF (fleet, revenue >= 0 && payout >= 0 && revenue == payout + margin,
                   "publisher %s: revenue %lld != payout %lld + margin %lld (cents)",
                   key ? key : "(no key)", (long long) revenue, (long long) payout,
                   (long long) margin);
        static const char *columns [] = {"leads", "sold", "epl", "sell_through"};
        for (size_t i = 0; i < sizeof columns / sizeof columns [0]; i++)
            PP_CHECKF (fleet, cJSON_GetObjectItemCaseSensitive (row, columns [i]),
                       "publisher row without %s: %.2000s", columns [i], out);
        revenue_total += revenue;
        if (key && strcmp (key, "acme") == 0)
            acme = s_int (cJSON_GetObjectItemCaseSensitive (row, "sold")) >= 3;
    }
    PP_CHECKF (fleet, acme, "no acme row with its sales: %.2000s", out);
    PP_CHECKF (fleet, revenue_total == cents_total,
               "publishers' revenue %lld cents, buyers accepted %lld cents",
               (long long) revenue_total, (long long) cents_total);
    cJSON_Delete (report);
    free (out);
    cJSON_Delete (stats);
}

//  ---------------------------------------------------------------------------
//  (g) lead trace lists the events in order

static void
test_e2e_pipeline_lead_trace (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    PP_CHECKF (fleet, *self->lead_id, "%s", "test (a) sold no lead");
    PP_CHECK (fleet, s_wait_answered (fleet, self->lead_id));
    int64_t stored = pp_fleet_sql_int (fleet, "select count(*) from events where lead_id = $1",
                                       self->lead_id, NULL);
    int exit_code = -1;
    char *out = pp_fleet_cli (fleet, &exit_code, "lead", "trace", self->lead_id, "--format",
                              "json", NULL);
    cJSON *trace = cJSON_Parse (out);
    PP_CHECKF (fleet, exit_code == 0 && cJSON_IsObject (trace), "lead trace exited %d: %.2000s",
               exit_code, out);
    cJSON *lead = cJSON_GetObjectItemCaseSensitive (trace, "lead");
    PP_CHECKF (fleet, cJSON_IsObject (lead), "no lead object: %.2000s", out);
    cJSON *events = cJSON_GetObjectItemCaseSensitive (trace, "events");
    int count = cJSON_GetArraySize (events);
    PP_CHECKF (fleet, cJSON_IsArray (events) && count == stored,
               "trace has %d events, the events table %lld: %.2000s", count, (long long) stored,
               out);
    const char *first = cJSON_GetStringValue (
        cJSON_GetObjectItemCaseSensitive (cJSON_GetArrayItem (events, 0), "kind"));
    const char *last = cJSON_GetStringValue (
        cJSON_GetObjectItemCaseSensitive (cJSON_GetArrayItem (events, count - 1), "kind"));
    PP_CHECKF (fleet, first && strcmp (first, "received") == 0, "first event %s: %.2000s",
               first ? first : "(none)", out);
    PP_CHECKF (fleet, last && strcmp (last, "answered") == 0, "last event %s: %.2000s",
               last ? last : "(none)", out);
    const char *previous = "";
    cJSON *event;
    cJSON_ArrayForEach (event, events) {
        const char *at = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (event, "at"));
        PP_CHECKF (fleet, at && strcmp (previous, at) <= 0, "events out of order at %s: %.2000s",
                   at ? at : "(no at)", out);
        previous = at;
        static const char *keys [] = {"stage", "campaign", "amount", "latency_ms"};
        for (size_t i = 0; i < sizeof keys / sizeof keys [0]; i++)
            PP_CHECKF (fleet, cJSON_GetObjectItemCaseSensitive (event, keys [i]),
                       "event without %s: %.2000s", keys [i], out);
    }
    cJSON_Delete (trace);
    free (out);
}

//  ---------------------------------------------------------------------------
//  (h) the rate: 2,000 leads on 16 connections to one fixed-price buyer

static int
s_compare_int64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

static void
test_e2e_pipeline_rate (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    enum { LEADS = 2000, CONNECTIONS = 16 };
    pp_fleet_batch_t *batch = pp_fleet_batch_new (fleet, CONNECTIONS);
    for (int i = 0; i < LEADS; i++) {
        cJSON *lead = pp_fleet_lead_new ("OR", "97201");
        pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, lead);
        cJSON_Delete (lead);
    }
    int64_t started = pp_fleet_now_us ();
    size_t pending = pp_fleet_batch_run (batch, 200000);
    int64_t wall = pp_fleet_now_us () - started;
    PP_CHECKF (fleet, pending == 0, "%zu leads unanswered after 200 s", pending);

    int64_t *elapsed = calloc (LEADS, sizeof *elapsed);
    PP_CHECK (fleet, elapsed);
    int sold = 0, shown = 0;
    for (int i = 0; i < LEADS; i++) {
        pp_fleet_reply_t *reply = pp_fleet_batch_reply (batch, (size_t) i);
        elapsed [i] = reply->elapsed_us;
        if (reply->status == 200 && strcmp (pp_fleet_reply_status (reply), "sold") == 0
        &&  pp_fleet_reply_price_cents (reply) == 1200)
            sold++;
        else if (shown++ < 5)
            pp_fleet_reply_print (reply, "not sold at 12.00");
    }
    qsort (elapsed, LEADS, sizeof *elapsed, s_compare_int64);
    printf ("e2e rate: %d leads on %d connections in %.2f s: %.0f leads/s, answer time median "
            "%.2f ms, p99 %.2f ms, max %.2f ms (%d sold)\n",
            LEADS, CONNECTIONS, (double) wall / 1e6, LEADS / ((double) wall / 1e6),
            (double) elapsed [LEADS / 2] / 1000.0, (double) elapsed [LEADS * 99 / 100] / 1000.0,
            (double) elapsed [LEADS - 1] / 1000.0, sold);
    free (elapsed);
    pp_fleet_batch_destroy (&batch);
    PP_CHECKF (fleet, sold == LEADS, "%d of %d leads sold at 12.00", sold, LEADS);
    //  And the ledger keeps up: every one of them is recorded as sold.
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "2000", 30000,
                                        "select count(*) from sales s join buyers b"
                                        "  on b.id = s.buyer_id where b.name = 'fast'",
                                        NULL) == 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_e2e_pipeline_sells_to_best_bid),
        cmocka_unit_test (test_e2e_pipeline_ledger_rows),
        cmocka_unit_test (test_e2e_pipeline_falls_back_on_rejection),
        cmocka_unit_test (test_e2e_pipeline_fixed_payout),
        cmocka_unit_test (test_e2e_pipeline_lead_status),
        cmocka_unit_test (test_e2e_pipeline_other_outcomes),
        cmocka_unit_test (test_e2e_pipeline_report_matches_buyers),
        cmocka_unit_test (test_e2e_pipeline_lead_trace),
        cmocka_unit_test (test_e2e_pipeline_rate),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
