/*  deliver_server - post the full lead to the best bid, fall back down the ranking, settle the money  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "deliver_server.h"
#include "pp_http.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_stage.h"
#include "pp_util.h"

#include <regex.h>

#define S_MAX_RESPONSE (64 * 1024)  //  a buyer's answer larger than this is a rejection

struct deliver_server {
    pp_stage_t *stage;          //  the shared runtime
    pp_http_t *http;            //  posts in flight, driven by the stage's loop
    zlistx_t *jobs;             //  leads being delivered (owned)
};

//  --------------------------------------------------------------------------
//  Post bodies

//  A field value as JSON; integers as numbers, so form encoding can print them.
static cJSON *
s_value_json (const pp_value_t *value)
{
    if (value->type == PP_VALUE_INT)
        return cJSON_CreateNumber ((double) value->i);
    return pp_json_from_value (value);
}

static cJSON *
s_source_value (const char *source, pp_lead_t *lead, const pp_bid_t *bid)
{
    if (streq (source, "lead_id"))
        return cJSON_CreateString (pp_lead_id (lead));
    if (streq (source, "ping_id"))
        return cJSON_CreateString (bid->bid_ref ? bid->bid_ref : pp_lead_id (lead));
    if (streq (source, "vertical"))
        return cJSON_CreateString (pp_lead_vertical (lead));
    if (streq (source, "source"))
        return cJSON_CreateString (pp_lead_source (lead));
    if (streq (source, "sub_id"))
        return cJSON_CreateString (pp_lead_sub_id (lead));
    if (streq (source, "publisher"))
        return cJSON_CreateString (pp_lead_publisher (lead));
    if (streq (source, "price")) {
        char price [32];
        pp_cents_format (bid->price_cents, price, sizeof price);
        return cJSON_CreateRaw (price);
    }
    const pp_value_t *value = pp_fields_get (pp_lead_fields (lead), source);
    return value ? s_value_json (value) : NULL;
}

//  Set `key` in object; "a/b" nests objects.
static void
s_set_path (cJSON *object, const char *key, cJSON *value)
{
    const char *slash = strchr (key, '/');
    if (!slash) {
        cJSON_DeleteItemFromObjectCaseSensitive (object, key);
        cJSON_AddItemToObject (object, key, value);
        return;
    }
    char head [128];
    snprintf (head, sizeof head, "%.*s", (int) (slash - key), key);
    cJSON *child = cJSON_GetObjectItemCaseSensitive (object, head);
    if (!cJSON_IsObject (child)) {
        cJSON_DeleteItemFromObjectCaseSensitive (object, head);
        child = cJSON_AddObjectToObject (object, head);
    }
    s_set_path (child, slash + 1, value);
}

static void
s_form_append (char **buf, size_t *len, size_t *cap, const char *key, const char *value)
{
    size_t need = *len + 3 * (strlen (key) + strlen (value)) + 3;
    if (need > *cap) {
        *cap = need * 2;
        *buf = (char *) realloc (*buf, *cap);
        assert (*buf);
    }
    if (*len)
        (*buf) [(*len)++] = '&';
    for (int part = 0; part < 2; part++) {
        const char *text = part ? value : key;
        for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
            if (isalnum (*p) || strchr ("-._~", *p))
                (*buf) [(*len)++] = (char) *p;
            else
            if (*p == ' ')
                (*buf) [(*len)++] = '+';
            else
                *len += (size_t) sprintf (*buf + *len, "%%%02X", *p);
        }
        if (!part)
            (*buf) [(*len)++] = '=';
    }
    (*buf) [*len] = 0;
}

char *
deliver_post_body (const pp_campaign_t *campaign, pp_lead_t *lead, const pp_bid_t *bid,
                   const char **content_type)
{
    cJSON *root = cJSON_CreateObject ();
    if (campaign->mapping_count == 0) {
        //  The default post protocol of DESIGN section 6
        cJSON_AddStringToObject (root, "ping_id", bid->bid_ref ? bid->bid_ref : pp_lead_id (lead));
        cJSON_AddStringToObject (root, "lead_id", pp_lead_id (lead));
        cJSON_AddStringToObject (root, "vertical", pp_lead_vertical (lead));
        //  What the buyer is charged, so it can check it against its bid
        char price [32];
        pp_cents_format (bid->price_cents, price, sizeof price);
        cJSON_AddItemToObject (root, "price", cJSON_CreateRaw (price));
        cJSON *fields = cJSON_AddObjectToObject (root, "fields");
        pp_fields_t *bag = pp_lead_fields (lead);
        //  The lead's own fields, even one named like envelope data ("source")
        for (size_t i = 0; i < pp_fields_size (bag); i++)
            cJSON_AddItemToObject (fields, pp_fields_name (bag, i),
                                   s_value_json (pp_fields_value (bag, i)));
    }
    else
        for (size_t i = 0; i < campaign->mapping_count; i++) {
            cJSON *value = s_source_value (campaign->mapping [i].value, lead, bid);
            if (value)
                s_set_path (root, campaign->mapping [i].key, value);
        }
    for (size_t i = 0; i < campaign->constant_count; i++) {
        cJSON *value = cJSON_Parse (campaign->constants [i].value);
        if (value)
            s_set_path (root, campaign->constants [i].key, value);
    }
    char *body;
    if (campaign->post_format == PP_POST_FORM) {
        *content_type = "application/x-www-form-urlencoded";
        size_t len = 0, cap = 256;
        body = (char *) malloc (cap);
        assert (body);
        body [0] = 0;
        //  Form posts are flat: nested objects (the default protocol's
        //  "fields") contribute their members at the top level
        for (cJSON *item = root->child; item; item = item->next) {
            cJSON *members = cJSON_IsObject (item) ? item->child : item;
            for (cJSON *member = members; member; member = cJSON_IsObject (item) ? member->next : NULL) {
                char number [40];
                const char *text = pp_json_scalar_text (member, number, sizeof number);
                if (text)
                    s_form_append (&body, &len, &cap, member->string, text);
            }
        }
    }
    else {
        *content_type = "application/json";
        body = pp_json_print (root);
    }
    cJSON_Delete (root);
    return body;
}

bool
deliver_accepted (const pp_campaign_t *campaign, long status, const char *body, char *ref,
                  size_t size)
{
    if (ref && size)
        ref [0] = 0;
    if (status < 200 || status > 299)
        return false;
    cJSON *answer = cJSON_Parse (body ? body : "");
    bool accepted = false;
    if (campaign->accepted_contains)
        accepted = body && strstr (body, campaign->accepted_contains);
    else
    if (campaign->accepted_regex) {
        regex_t regex;
        if (regcomp (&regex, campaign->accepted_regex, REG_EXTENDED | REG_NOSUB) == 0) {
            accepted = body && regexec (&regex, body, 0, NULL, 0) == 0;
            regfree (&regex);
        }
    }
    else
    if (campaign->accepted_pointer) {
        const cJSON *value = pp_json_pointer (answer, campaign->accepted_pointer);
        cJSON *expected = campaign->accepted_equals ? cJSON_Parse (campaign->accepted_equals)
                                                    : cJSON_CreateTrue ();
        accepted = value && expected && cJSON_Compare (value, expected, true);
        cJSON_Delete (expected);
    }
    else
        accepted = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (answer, "accepted"));
    if (accepted && ref && size) {
        const cJSON *id = pp_json_pointer (answer, "/id");
        char number [40];
        const char *text = pp_json_scalar_text (id, number, sizeof number);
        if (text)
            snprintf (ref, size, "%s", text);
    }
    cJSON_Delete (answer);
    return accepted;
}

int64_t
deliver_payout (const pp_publisher_t *publisher, int64_t charge_cents)
{
    if (!publisher)
        return 0;
    if (publisher->payout_kind == PP_PAYOUT_FIXED)
        return publisher->payout_fixed_cents < charge_cents ? publisher->payout_fixed_cents
                                                            : charge_cents;
    //  Revshare, rounded down to the cent
    return charge_cents * publisher->revshare_percent / 100;
}

void
deliver_split_payout (int64_t payout, const int64_t *charges, size_t count, int64_t *parts)
{
    int64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += charges [i];
    int64_t given = 0;
    for (size_t i = 0; i < count; i++) {
        //  The product can pass int64 for huge fixed bids: 128-bit it
        parts [i] = total > 0 ? (int64_t) ((__int128) payout * charges [i] / total) : 0;
        given += parts [i];
    }
    for (size_t i = 0; i < count && given < payout; i++)
        if (parts [i] < charges [i]) {
            parts [i]++;
            given++;
        }
}

//  --------------------------------------------------------------------------
//  The walk down the ranking. Exclusive: one post at a time, best bid first,
//  the next on rejection. Shared: up to max_sales posts at once to distinct
//  buyers, a rejected one replaced by the next bid of another buyer.

typedef struct s_job s_job_t;

//  One post in flight.
typedef struct {
    s_job_t *job;               //  Not owned
    size_t bid;                 //  index of its bid on the lead
    int attempt;                //  0 first, 1 after a transport error
    char reserved_at [40];      //  when its caps were reserved, "" = no caps
} s_post_t;

struct s_job {
    deliver_server_t *server;   //  Not owned
    pp_lead_t *lead;            //  the lead
    pp_market_t *market;        //  the market it was ranked with (a reference)
    bool shared;                //  shared sale (up to max_sales buyers)
    int capacity;               //  sales wanted: max_sales when shared, else 1
    size_t next;                //  next bid to consider
    int in_flight;              //  posts in flight
    size_t *accepted;           //  indexes of accepted bids
    char **refs;                //  buyer references of accepted bids (may be NULL)
    size_t accepted_count;      //  entries in accepted
    char retry_reserved_at [40];    //  cap reservation a retried post keeps
    uint32_t *buyers;           //  buyers posted to (shared: each at most once)
    size_t buyer_count;         //  entries in buyers
    void *handle;               //  our place in server->jobs
};

static void
s_job_destroy (void **item_p)
{
    s_job_t *job = (s_job_t *) *item_p;
    if (job) {
        pp_lead_destroy (&job->lead);
        pp_market_unlink (&job->market);
        for (size_t i = 0; i < job->accepted_count; i++)
            free (job->refs [i]);
        free (job->refs);
        free (job->accepted);
        free (job->buyers);
        free (job);
        *item_p = NULL;
    }
}

static void s_fill (s_job_t *job);
static void s_on_post (const pp_http_response_t *response, void *arg);

static void
s_job_end (s_job_t *job)
{
    zlistx_delete (job->server->jobs, job->handle);
}

static void
s_post_event (s_job_t *job, const char *kind, const pp_bid_t *bid, const char *code,
              int64_t latency_us, const char *ref)
{
    pp_event_t *event = pp_stage_event (job->server->stage, job->lead, kind);
    pp_event_set_campaign (event, bid->campaign_id, bid->buyer_id);
    pp_event_set_amount_cents (event, bid->price_cents);
    if (latency_us >= 0)
        pp_event_set_latency_us (event, latency_us);
    if (code)
        pp_event_set_code (event, code);
    if (ref && *ref) {
        cJSON *detail = cJSON_CreateObject ();
        cJSON_AddStringToObject (detail, "buyer_ref", ref);
        char *text = pp_json_print (detail);
        pp_event_set_detail (event, text);
        free (text);
        cJSON_Delete (detail);
    }
    pp_stage_emit (job->server->stage, &event);
}

//  The caps of a campaign as the arrays of pp_cap_reserve: one entry per
//  period, with its count and amount limits (0 = none). Writes the three
//  array literals; false when the campaign has no caps.
static bool
s_cap_arrays (const pp_campaign_t *campaign, char *pers, char *counts, char *amounts,
              size_t size)
{
    static const char *periods [] = {"hour", "day", "week", "month", "total"};
    size_t p = 0, c = 0, a = 0;
    bool any = false;
    pers [p++] = '{';
    counts [c++] = '{';
    amounts [a++] = '{';
    for (size_t k = 0; k < 5; k++) {
        int64_t max_count = 0, max_amount = 0;
        bool used = false;
        for (size_t i = 0; i < campaign->cap_count; i++) {
            const pp_cap_t *cap = &campaign->caps [i];
            if (!cap->per || !streq (cap->per, periods [k]))
                continue;
            used = true;
            if (cap->count > 0 && (max_count == 0 || cap->count < max_count))
                max_count = cap->count;
            if (cap->amount_cents > 0 && (max_amount == 0 || cap->amount_cents < max_amount))
                max_amount = cap->amount_cents;
        }
        if (!used)
            continue;
        const char *comma = any ? "," : "";
        p += (size_t) snprintf (pers + p, size - p, "%s%s", comma, periods [k]);
        c += (size_t) snprintf (counts + c, size - c, "%s%lld", comma, (long long) max_count);
        a += (size_t) snprintf (amounts + a, size - a, "%s%lld", comma, (long long) max_amount);
        any = true;
    }
    snprintf (pers + p, size - p, "}");
    snprintf (counts + c, size - c, "}");
    snprintf (amounts + a, size - a, "}");
    return any;
}

//  Reserve the post's place under every cap of its campaign, atomically in
//  PostgreSQL. Returns 1 reserved (or no caps), 0 full, -1 database failure.
static int
s_cap_reserve (s_job_t *job, const pp_campaign_t *campaign, const pp_bid_t *bid, char *at,
               size_t at_size)
{
    at [0] = 0;
    char pers [64], counts [128], amounts [128];
    if (!s_cap_arrays (campaign, pers, counts, amounts, sizeof pers))
        return 1;
    pp_time_iso (pp_now_us (), at, at_size);
    char id [16], price [24];
    snprintf (id, sizeof id, "%u", campaign->id);
    snprintf (price, sizeof price, "%lld", (long long) bid->price_cents);
    const char *params [] = {id, price, at, campaign->time_zone ? campaign->time_zone : "UTC",
                             pers, counts, amounts};
    PGresult *result = pp_db_exec_prepared (pp_stage_db (job->server->stage), "cap reserve",
                                            "pp_cap_reserve", 7, params);
    if (!result) {
        at [0] = 0;
        return -1;
    }
    int reserved = streq (PQgetvalue (result, 0, 0), "t") ? 1 : 0;
    PQclear (result);
    if (!reserved)
        at [0] = 0;
    return reserved;
}

static void
s_cap_release (s_job_t *job, const pp_campaign_t *campaign, const pp_bid_t *bid, const char *at)
{
    if (!campaign || !at [0])
        return;
    char pers [64], counts [128], amounts [128];
    if (!s_cap_arrays (campaign, pers, counts, amounts, sizeof pers))
        return;
    char id [16], price [24];
    snprintf (id, sizeof id, "%u", campaign->id);
    snprintf (price, sizeof price, "%lld", (long long) bid->price_cents);
    const char *params [] = {id, price, at, campaign->time_zone ? campaign->time_zone : "UTC",
                             pers};
    //  A release must not be lost: one more try after a transient failure
    PGresult *result = pp_db_exec_prepared (pp_stage_db (job->server->stage), "cap release",
                                            "pp_cap_release", 5, params);
    if (!result)
        result = pp_db_exec_prepared (pp_stage_db (job->server->stage), "cap release",
                                      "pp_cap_release", 5, params);
    if (!result)
        zsys_warning ("deliver: cap of campaign %s not released for lead %s", campaign->name,
                      pp_lead_id (job->lead));
    PQclear (result);
}

//  Start one post; -1 when it could not start (logged as an event).
static int
s_post_start (s_job_t *job, size_t index, int attempt)
{
    pp_bid_t *bid = pp_lead_bid (job->lead, index);
    const pp_campaign_t *campaign = pp_market_campaign_by_id (job->market, bid->campaign_id);
    if (!campaign)
        return -1;
    int64_t left_ms = (pp_lead_deadline_us (job->lead) - pp_now_us ()) / 1000;
    if (left_ms <= 0)
        return -1;
    int timeout_ms = campaign->post_timeout_ms > 0 ? campaign->post_timeout_ms : 2000;
    if (timeout_ms > left_ms)
        timeout_ms = (int) left_ms;
    s_post_t *post = (s_post_t *) zmalloc (sizeof (s_post_t));
    post->job = job;
    post->bid = index;
    post->attempt = attempt;
    if (attempt == 0) {
        int reserved = s_cap_reserve (job, campaign, bid, post->reserved_at,
                                      sizeof post->reserved_at);
        if (reserved <= 0) {
            free (post);
            s_post_event (job, "post_skipped", bid, reserved == 0 ? "cap_full" : "cap_unavailable",
                          -1, NULL);
            return -1;
        }
    }
    else
        snprintf (post->reserved_at, sizeof post->reserved_at, "%s", job->retry_reserved_at);
    const char *content_type;
    char *body = deliver_post_body (campaign, job->lead, bid, &content_type);
    int rc = pp_http_post (job->server->http, campaign->post_url, content_type, body,
                           strlen (body), timeout_ms, S_MAX_RESPONSE, s_on_post, post);
    free (body);
    if (rc) {
        if (attempt == 0)       //  a retry's reservation is its first post's: s_on_post frees it
            s_cap_release (job, campaign, bid, post->reserved_at);
        free (post);
        s_post_event (job, "post_error", bid, "failed", -1, NULL);
        return -1;
    }
    s_post_event (job, "posted", bid, attempt ? "retry" : NULL, -1, NULL);
    job->in_flight++;
    return 0;
}

static bool
s_buyer_taken (s_job_t *job, uint32_t buyer_id)
{
    for (size_t i = 0; i < job->buyer_count; i++)
        if (job->buyers [i] == buyer_id)
            return true;
    return false;
}

//  Every post answered and nothing left to try: settle the money, or send
//  the lead back to auction for its next tier, or end it unsold.
static void
s_settle (s_job_t *job)
{
    pp_stage_t *stage = job->server->stage;
    if (job->accepted_count == 0) {
        if (pp_stage_expired (stage, job->lead))
            pp_stage_finish_status (stage, &job->lead, PP_STATUS_ERROR, "timeout", NULL,
                                    "the lead's deadline passed during delivery");
        else
        if (pp_lead_eligible_size (job->lead) > 0) {
            //  No sale in this tier: the auction asks the next one
            pp_lead_clear_bids (job->lead);
            pp_stage_forward_to (stage, PP_SLOT_AUCTION, &job->lead);
        }
        else {
            pp_event_t *event = pp_stage_event (stage, job->lead, "unsold");
            pp_event_set_code (event, "all_posts_rejected");
            pp_stage_emit (stage, &event);
            pp_stage_finish_status (stage, &job->lead, PP_STATUS_UNSOLD, "all_posts_rejected",
                                    NULL, "every buyer in rank rejected or failed the post");
        }
        s_job_end (job);
        return;
    }
    size_t count = job->accepted_count;
    int64_t *charges = (int64_t *) malloc (count * sizeof (int64_t));
    int64_t *parts = (int64_t *) malloc (count * sizeof (int64_t));
    assert (charges && parts);
    int64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        charges [i] = pp_lead_bid (job->lead, job->accepted [i])->price_cents;
        total += charges [i];
    }
    const pp_publisher_t *publisher
        = pp_market_publisher_by_id (job->market, pp_lead_publisher_id (job->lead));
    int64_t payout = deliver_payout (publisher, total);
    deliver_split_payout (payout, charges, count, parts);
    char detail [96];
    snprintf (detail, sizeof detail, "{\"publisher_id\":%u}", pp_lead_publisher_id (job->lead));
    for (size_t i = 0; i < count; i++) {
        const pp_bid_t *bid = pp_lead_bid (job->lead, job->accepted [i]);
        pp_event_t *event = pp_stage_event (stage, job->lead, "sold");
        pp_event_set_campaign (event, bid->campaign_id, bid->buyer_id);
        pp_event_set_amount_cents (event, charges [i]);
        pp_event_set_payout_cents (event, parts [i]);
        pp_event_set_detail (event, detail);
        pp_stage_emit (stage, &event);
    }
    free (charges);
    free (parts);
    pp_result_t *result = pp_result_new (pp_lead_id (job->lead), PP_STATUS_SOLD);
    pp_result_set_price_cents (result, payout);
    pp_result_set_charge_cents (result, total);
    pp_stage_finish (stage, &job->lead, &result);
    s_job_end (job);
}

static void
s_on_post (const pp_http_response_t *response, void *arg)
{
    s_post_t *post = (s_post_t *) arg;
    s_job_t *job = post->job;
    size_t index = post->bid;
    int attempt = post->attempt;
    char reserved_at [40];
    snprintf (reserved_at, sizeof reserved_at, "%s", post->reserved_at);
    free (post);
    job->in_flight--;
    pp_bid_t *bid = pp_lead_bid (job->lead, index);
    const pp_campaign_t *campaign = pp_market_campaign_by_id (job->market, bid->campaign_id);
    char ref [128] = "";
    bool accepted = campaign && response->error == PP_HTTP_OK
                    && deliver_accepted (campaign, response->status, response->body, ref,
                                         sizeof ref);
    if (accepted) {
        s_post_event (job, "accepted", bid, NULL, response->latency_us, ref);
        job->accepted [job->accepted_count] = index;
        job->refs [job->accepted_count] = *ref ? strdup (ref) : NULL;
        job->accepted_count++;
    }
    else
    if (response->error != PP_HTTP_OK) {
        s_post_event (job, "post_error", bid, pp_http_error_name (response->error),
                      response->latency_us, NULL);
        //  The buyer never saw it (no connection, or a broken one): try
        //  once more while the deadline allows. A timeout is not retried:
        //  the buyer may have taken the lead.
        bool transport = response->error == PP_HTTP_CONNECT || response->error == PP_HTTP_FAILED;
        int64_t left_ms = (pp_lead_deadline_us (job->lead) - pp_now_us ()) / 1000;
        snprintf (job->retry_reserved_at, sizeof job->retry_reserved_at, "%s", reserved_at);
        if (transport && attempt == 0 && left_ms > 50 && s_post_start (job, index, 1) == 0)
            return;             //  the retry keeps the reservation
        s_cap_release (job, campaign, bid, reserved_at);
    }
    else {
        char code [32];
        if (response->status < 200 || response->status > 299)
            snprintf (code, sizeof code, "http_%d", (int) (response->status % 1000));
        else
            snprintf (code, sizeof code, "rejected");
        s_post_event (job, "post_rejected", bid, code, response->latency_us, NULL);
        s_cap_release (job, campaign, bid, reserved_at);
    }
    s_fill (job);
}

//  Start posts while sales are wanted and bids are left; settle when
//  nothing is in flight any more.
static void
s_fill (s_job_t *job)
{
    size_t count = pp_lead_bid_size (job->lead);
    bool done = !job->shared && job->accepted_count > 0;
    while (!done && job->in_flight + (int) job->accepted_count < job->capacity
           && job->next < count && !pp_stage_expired (job->server->stage, job->lead)) {
        size_t index = job->next++;
        const pp_bid_t *bid = pp_lead_bid (job->lead, index);
        if (job->shared) {
            if (bid->exclusive || s_buyer_taken (job, bid->buyer_id))
                continue;
            job->buyers [job->buyer_count++] = bid->buyer_id;
        }
        if (s_post_start (job, index, 0) && job->shared)
            job->buyer_count--;     //  not posted (cap full...): the buyer may come again
    }
    if (job->in_flight == 0)
        s_settle (job);
}

static void
s_handle (pp_stage_t *stage, pp_lead_t **lead_p, void *arg)
{
    deliver_server_t *self = (deliver_server_t *) arg;
    s_job_t *job = (s_job_t *) zmalloc (sizeof (s_job_t));
    job->server = self;
    job->lead = *lead_p;
    *lead_p = NULL;
    job->market = pp_market_link (pp_stage_market (stage));
    size_t count = pp_lead_bid_size (job->lead);
    job->accepted = (size_t *) calloc (count ? count : 1, sizeof (size_t));
    job->refs = (char **) calloc (count ? count : 1, sizeof (char *));
    job->buyers = (uint32_t *) calloc (count ? count : 1, sizeof (uint32_t));
    assert (job->accepted && job->refs && job->buyers);
    int max_sales = pp_market_auction (job->market)->max_sales;
    job->shared = max_sales > 1 && count > 0 && !pp_lead_bid (job->lead, 0)->exclusive;
    job->capacity = job->shared ? max_sales : 1;
    job->handle = zlistx_add_end (self->jobs, job);
    s_fill (job);
}

deliver_server_t *
deliver_server_new (const pp_config_t *config, int slot)
{
    deliver_server_t *self = (deliver_server_t *) zmalloc (sizeof (deliver_server_t));
    self->stage = pp_stage_new (config, PP_STAGE_DELIVER, slot);
    if (!self->stage) {
        free (self);
        return NULL;
    }
    self->http = pp_http_new (pp_stage_loop (self->stage));
    self->jobs = zlistx_new ();
    zlistx_set_destructor (self->jobs, s_job_destroy);
    pp_stage_add_output (self->stage, PP_SLOT_AUCTION);
    pp_db_t *db = pp_stage_db (self->stage);
    if (pp_db_prepare (db, "pp_cap_reserve",
                       "SELECT pp_cap_reserve ($1::int, $2::bigint, $3::timestamptz, $4,"
                       " $5::text[], $6::bigint[], $7::bigint[])",
                       7)
        || pp_db_prepare (db, "pp_cap_release",
                          "SELECT pp_cap_release ($1::int, $2::bigint, $3::timestamptz, $4,"
                          " $5::text[])",
                          5)) {
        zsys_error ("deliver: cannot prepare the cap statements (is the schema migrated?)");
        deliver_server_destroy (&self);
        return NULL;
    }
    pp_stage_set_handler (self->stage, s_handle, self);
    return self;
}

void
deliver_server_destroy (deliver_server_t **self_p)
{
    assert (self_p);
    deliver_server_t *self = *self_p;
    if (!self)
        return;
    pp_http_destroy (&self->http);
    zlistx_destroy (&self->jobs);
    pp_stage_destroy (&self->stage);
    free (self);
    *self_p = NULL;
}

int
deliver_server_run (deliver_server_t *self)
{
    assert (self);
    return pp_stage_run (self->stage);
}
