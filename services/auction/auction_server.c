/*  auction_server - collect bids from the eligible campaigns, apply floors and tiers, rank them  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "auction_server.h"
#include "pp_http.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_stage.h"
#include "pp_util.h"

#include <math.h>

#define S_MAX_PING_ANSWER (64 * 1024)   //  a ping answer larger than this is a decline
#define S_RATES_REFRESH_MS 30000        //  post-acceptance rates are re-read this often

//  The health of one pinged campaign (circuit breaker).
typedef struct {
    int failures;               //  failed pings in a row
    bool open;                  //  pings paused
    int64_t open_until_mono;    //  end of the cooling period
    bool trial;                 //  the one trial ping after cooling is in flight
} s_circuit_t;

struct auction_server {
    pp_stage_t *stage;          //  the shared runtime
    pp_http_t *http;            //  pings in flight, driven by the stage's loop
    zlistx_t *jobs;             //  leads being auctioned (owned)
    zhashx_t *circuits;         //  campaign id -> s_circuit_t
    zhashx_t *rates;            //  campaign id -> post-acceptance rate (double *)
};

//  One lead being auctioned, one tier at a time.
typedef struct {
    auction_server_t *server;   //  Not owned
    pp_lead_t *lead;            //  the lead
    pp_market_t *market;        //  the market it is auctioned with (a reference)
    int64_t floor_cents;        //  floor for this lead
    size_t outstanding;         //  pings in flight
    void *handle;               //  our place in server->jobs
} s_job_t;

//  One ping in flight.
typedef struct {
    s_job_t *job;               //  Not owned
    uint32_t campaign_id;       //  whom we asked
    bool trial;                 //  the circuit's trial ping
    bool cut;                   //  its timeout is the lead's time left, below the campaign's
} s_ping_t;

static void
s_job_destroy (void **item_p)
{
    s_job_t *job = (s_job_t *) *item_p;
    if (job) {
        pp_lead_destroy (&job->lead);
        pp_market_unlink (&job->market);
        free (job);
        *item_p = NULL;
    }
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static const char *
s_key (uint32_t id, char *buf)
{
    snprintf (buf, 16, "%u", id);
    return buf;
}

//  --------------------------------------------------------------------------
//  Pure logic (unit tested)

int64_t
auction_floor (const pp_market_t *market, const pp_lead_t *lead)
{
    int64_t floor_cents = pp_market_auction (market)->floor_cents;
    const pp_publisher_t *publisher
        = pp_market_publisher_by_id (market, pp_lead_publisher_id (lead));
    if (publisher && publisher->payout_kind == PP_PAYOUT_FIXED
        && publisher->payout_fixed_cents > floor_cents)
        floor_cents = publisher->payout_fixed_cents;
    return floor_cents;
}

typedef struct {
    pp_bid_t bid;               //  the bid
    double rate;                //  its campaign's post-acceptance rate
} s_ranked_t;

static int
s_compare (const void *a, const void *b)
{
    const s_ranked_t *x = (const s_ranked_t *) a;
    const s_ranked_t *y = (const s_ranked_t *) b;
    if (x->bid.tier != y->bid.tier)
        return x->bid.tier < y->bid.tier ? -1 : 1;
    if (x->bid.amount_cents != y->bid.amount_cents)
        return x->bid.amount_cents > y->bid.amount_cents ? -1 : 1;
    if (x->rate != y->rate)
        return x->rate > y->rate ? -1 : 1;
    if (x->bid.answered_us != y->bid.answered_us)
        return x->bid.answered_us < y->bid.answered_us ? -1 : 1;
    return x->bid.campaign_id < y->bid.campaign_id ? -1 : x->bid.campaign_id > y->bid.campaign_id;
}

void
auction_rank_by (pp_lead_t *lead, pp_pricing_t pricing, int64_t floor_cents,
                 auction_rate_fn *rate, void *arg)
{
    size_t count = pp_lead_bid_size (lead);
    if (count == 0)
        return;
    s_ranked_t *ranked = (s_ranked_t *) malloc (count * sizeof (s_ranked_t));
    assert (ranked);
    for (size_t i = 0; i < count; i++) {
        ranked [i].bid = *pp_lead_bid (lead, i);
        ranked [i].bid.bid_ref = ranked [i].bid.bid_ref ? strdup (ranked [i].bid.bid_ref) : NULL;
        ranked [i].rate = rate ? rate (ranked [i].bid.campaign_id, arg) : 1.0;
    }
    qsort (ranked, count, sizeof (s_ranked_t), s_compare);
    for (size_t i = 0; i < count; i++) {
        pp_bid_t *bid = &ranked [i].bid;
        bid->price_cents = bid->amount_cents;
        if (pricing == PP_PRICING_SECOND) {
            //  The winner of a tier pays the next bid of its tier plus one
            //  cent, never under the floor and never over its own bid
            int64_t price = floor_cents;
            if (i + 1 < count && ranked [i + 1].bid.tier == bid->tier
                && ranked [i + 1].bid.amount_cents + 1 > price)
                price = ranked [i + 1].bid.amount_cents + 1;
            bid->price_cents = price < bid->amount_cents ? price : bid->amount_cents;
        }
    }
    pp_lead_clear_bids (lead);
    for (size_t i = 0; i < count; i++) {
        pp_lead_add_bid (lead, &ranked [i].bid);
        free (ranked [i].bid.bid_ref);
    }
    free (ranked);
}

void
auction_rank (pp_lead_t *lead, pp_pricing_t pricing, int64_t floor_cents)
{
    auction_rank_by (lead, pricing, floor_cents, NULL, NULL);
}

bool
auction_plan (pp_lead_t *lead, int max_sales)
{
    size_t count = pp_lead_bid_size (lead);
    if (max_sales <= 1 || count == 0)
        return false;
    int64_t best_exclusive = -1;
    size_t best_index = 0;
    int64_t shared_sum = 0;
    int shared_count = 0;
    uint32_t *buyers = (uint32_t *) calloc (count, sizeof (uint32_t));
    assert (buyers);
    for (size_t i = 0; i < count; i++) {
        const pp_bid_t *bid = pp_lead_bid (lead, i);
        if (bid->exclusive) {
            if (bid->price_cents > best_exclusive) {
                best_exclusive = bid->price_cents;
                best_index = i;
            }
            continue;
        }
        if (shared_count >= max_sales)
            continue;
        bool seen = false;
        for (int k = 0; k < shared_count; k++)
            if (buyers [k] == bid->buyer_id)
                seen = true;
        if (seen)
            continue;
        buyers [shared_count++] = bid->buyer_id;
        shared_sum += bid->amount_cents;
    }
    free (buyers);
    bool shared = shared_count > 0 && shared_sum > best_exclusive;
    //  Rebuild the list: shared keeps only the non-exclusive bids (each
    //  buyer pays its own bid); exclusive puts the best exclusive bid first
    size_t kept = 0;
    pp_bid_t *order = (pp_bid_t *) malloc (count * sizeof (pp_bid_t));
    assert (order);
    if (!shared && best_exclusive >= 0)
        order [kept++] = *pp_lead_bid (lead, best_index);
    for (size_t i = 0; i < count; i++) {
        const pp_bid_t *bid = pp_lead_bid (lead, i);
        if (shared ? bid->exclusive : (best_exclusive >= 0 && i == best_index))
            continue;
        order [kept++] = *bid;
    }
    for (size_t i = 0; i < kept; i++) {
        order [i].bid_ref = order [i].bid_ref ? strdup (order [i].bid_ref) : NULL;
        if (shared)
            order [i].price_cents = order [i].amount_cents;
    }
    pp_lead_clear_bids (lead);
    for (size_t i = 0; i < kept; i++) {
        pp_lead_add_bid (lead, &order [i]);
        free (order [i].bid_ref);
    }
    free (order);
    return shared;
}

//  A JSON number or numeric string as cents: at most two decimals, > 0.
static const char *
s_price (const cJSON *value, int64_t *cents)
{
    double number;
    if (cJSON_IsNumber (value))
        number = value->valuedouble;
    else
    if (cJSON_IsString (value)) {
        //  Plain decimals only ("12.50"): no signs, exponents, hex or spaces
        const char *text = value->valuestring;
        size_t digits = strspn (text, "0123456789");
        if (digits == 0 || (text [digits] && (text [digits] != '.' || text [digits + 1] == 0
                                              || text [digits + 1 + strspn (text + digits + 1, "0123456789")])))
            return "bad_price";
        char *end;
        errno = 0;
        number = strtod (value->valuestring, &end);
        if (errno || end == value->valuestring || *end)
            return "bad_price";
    }
    else
        return value && !cJSON_IsNull (value) ? "bad_price" : "no_bid";
    if (number == 0)
        return "no_bid";
    if (number < 0 || number > 1e7 || pp_cents_from_double (number, cents) || *cents <= 0)
        return "bad_price";
    return NULL;
}

const char *
auction_parse_bid (const pp_campaign_t *campaign, const char *body, int64_t *cents, char *ref,
                   size_t size)
{
    if (ref && size)
        ref [0] = 0;
    cJSON *answer = cJSON_Parse (body ? body : "");
    if (!answer)
        return "bad_json";
    const char *code = NULL;
    if (campaign->accept_pointer
        && !cJSON_IsTrue (pp_json_pointer (answer, campaign->accept_pointer)))
        code = "not_accepted";
    else
        code = s_price (pp_json_pointer (answer, campaign->price_pointer ? campaign->price_pointer
                                                                         : "/bid"),
                        cents);
    if (!code && ref && size) {
        char number [40];
        const char *text = pp_json_scalar_text (
            pp_json_pointer (answer, campaign->id_pointer ? campaign->id_pointer : "/id"), number,
            sizeof number);
        if (text)
            snprintf (ref, size, "%s", text);
    }
    cJSON_Delete (answer);
    return code;
}

//  --------------------------------------------------------------------------
//  Post-acceptance rates, read from the ledger's hourly campaign counters

static double
s_rate (uint32_t campaign_id, void *arg)
{
    auction_server_t *self = (auction_server_t *) arg;
    char key [16];
    double *rate = (double *) zhashx_lookup (self->rates, s_key (campaign_id, key));
    return rate ? *rate : 1.0;
}

static int
s_load_rates (zloop_t *loop, int timer_id, void *arg)
{
    auction_server_t *self = (auction_server_t *) arg;
    PGresult *result = pp_db_exec (
        pp_stage_db (self->stage), "acceptance rates",
        "SELECT campaign_id, sum(accepted)::float8 / greatest(sum(posts), 1) "
        "FROM campaign_hourly WHERE hour > now () - interval '7 days' AND posts > 0 "
        "GROUP BY campaign_id",
        0, NULL);
    if (!result)
        return 0;
    zhashx_purge (self->rates);
    for (int row = 0; row < PQntuples (result); row++) {
        double *rate = (double *) malloc (sizeof (double));
        assert (rate);
        *rate = atof (PQgetvalue (result, row, 1));
        zhashx_update (self->rates, PQgetvalue (result, row, 0), rate);
    }
    PQclear (result);
    return 0;
}

//  --------------------------------------------------------------------------
//  Circuit breaker

static s_circuit_t *
s_circuit (auction_server_t *self, uint32_t campaign_id)
{
    char key [16];
    s_circuit_t *circuit = (s_circuit_t *) zhashx_lookup (self->circuits, s_key (campaign_id, key));
    if (!circuit) {
        circuit = (s_circuit_t *) zmalloc (sizeof (s_circuit_t));
        zhashx_insert (self->circuits, key, circuit);
    }
    return circuit;
}

static bool
s_is_failure (const char *code)
{
    return streq (code, "timeout") || streq (code, "connect") || streq (code, "failed")
           || streq (code, "http_5xx") || streq (code, "bad_json") || streq (code, "too_big");
}

static void
s_circuit_event (s_job_t *job, const pp_campaign_t *campaign, const char *kind, int failures)
{
    pp_stage_t *stage = job->server->stage;
    pp_event_t *event = pp_stage_event (stage, job->lead, kind);
    pp_event_set_campaign (event, campaign->id, campaign->buyer->id);
    char detail [96];
    snprintf (detail, sizeof detail, "{\"failures\":%d,\"cooldown_ms\":%d}", failures,
              campaign->circuit_cooldown_ms);
    pp_event_set_detail (event, detail);
    pp_stage_emit (stage, &event);
    zsys_notice ("auction: campaign %s %s after %d failed pings", campaign->name,
                 streq (kind, "circuit_open") ? "paused" : "resumed", failures);
}

//  Record a ping's outcome in its campaign's circuit. A timeout of a ping
//  that had only the lead's time left (`cut`: less than the campaign's
//  timeout) says nothing about the buyer, so it neither counts as a failure
//  nor closes the circuit: else leads late in our own pipeline (overload)
//  would pause healthy buyers.
static void
s_circuit_record (s_job_t *job, const pp_campaign_t *campaign, bool trial, bool cut,
                  const char *code)
{
    s_circuit_t *circuit = s_circuit (job->server, campaign->id);
    bool failed = code && s_is_failure (code);
    if (trial)
        circuit->trial = false;
    if (failed && cut && streq (code, "timeout"))
        return;
    if (!failed) {
        if (circuit->open) {
            circuit->open = false;
            s_circuit_event (job, campaign, "circuit_closed", circuit->failures);
        }
        circuit->failures = 0;
        return;
    }
    circuit->failures++;
    if ((circuit->open && trial) || (!circuit->open && circuit->failures >= campaign->circuit_failures)) {
        circuit->open = true;
        circuit->open_until_mono = pp_mono_us () + (int64_t) campaign->circuit_cooldown_ms * 1000;
        s_circuit_event (job, campaign, "circuit_open", circuit->failures);
    }
}

//  May we ping this campaign now? Sets *trial for the one ping after cooling.
static bool
s_circuit_allows (auction_server_t *self, const pp_campaign_t *campaign, bool *trial)
{
    *trial = false;
    s_circuit_t *circuit = s_circuit (self, campaign->id);
    if (!circuit->open)
        return true;
    if (circuit->trial || pp_mono_us () < circuit->open_until_mono)
        return false;
    circuit->trial = true;
    *trial = true;
    return true;
}

//  --------------------------------------------------------------------------
//  The auction of one lead

static void s_next_tier (s_job_t *job);

static void
s_job_end (s_job_t *job)
{
    zlistx_delete (job->server->jobs, job->handle);
}

static void
s_decline (s_job_t *job, const pp_campaign_t *campaign, const char *code, int64_t amount,
           int64_t latency_us)
{
    pp_event_t *event = pp_stage_event (job->server->stage, job->lead, "decline");
    pp_event_set_campaign (event, campaign->id, campaign->buyer->id);
    pp_event_set_code (event, code);
    if (amount)
        pp_event_set_amount_cents (event, amount);
    if (latency_us >= 0)
        pp_event_set_latency_us (event, latency_us);
    pp_stage_emit (job->server->stage, &event);
}

//  A bid at or above the floor joins the lead; one under it is declined.
static void
s_add_bid (s_job_t *job, const pp_campaign_t *campaign, int64_t cents, int64_t latency_us,
           const char *ref)
{
    if (cents < job->floor_cents) {
        s_decline (job, campaign, "below_floor", cents, latency_us);
        return;
    }
    pp_bid_t bid = {0};
    bid.campaign_id = campaign->id;
    bid.buyer_id = campaign->buyer->id;
    bid.amount_cents = cents;
    bid.price_cents = cents;
    bid.tier = campaign->tier;
    bid.exclusive = campaign->exclusive;
    bid.latency_us = latency_us;
    bid.answered_us = pp_now_us ();
    bid.bid_ref = ref && *ref ? (char *) ref : NULL;
    pp_lead_add_bid (job->lead, &bid);
    pp_event_t *event = pp_stage_event (job->server->stage, job->lead, "bid");
    pp_event_set_campaign (event, campaign->id, campaign->buyer->id);
    pp_event_set_amount_cents (event, cents);
    pp_event_set_latency_us (event, latency_us);
    if (ref && *ref) {
        cJSON *detail = cJSON_CreateObject ();
        cJSON_AddStringToObject (detail, "bid_ref", ref);
        char *text = pp_json_print (detail);
        pp_event_set_detail (event, text);
        free (text);
        cJSON_Delete (detail);
    }
    pp_stage_emit (job->server->stage, &event);
}

//  Every ping of the tier answered (or none was sent): rank and pass the
//  bids to deliver, or try the next tier.
static void
s_tier_done (s_job_t *job)
{
    auction_server_t *self = job->server;
    if (pp_lead_bid_size (job->lead) == 0) {
        s_next_tier (job);
        return;
    }
    const pp_auction_t *auction = pp_market_auction (job->market);
    auction_rank_by (job->lead, auction->pricing, job->floor_cents, s_rate, self);
    auction_plan (job->lead, auction->max_sales);
    pp_stage_forward (self->stage, &job->lead);
    s_job_end (job);
}

static void
s_on_ping (const pp_http_response_t *response, void *arg)
{
    s_ping_t *ping = (s_ping_t *) arg;
    s_job_t *job = ping->job;
    const pp_campaign_t *campaign = pp_market_campaign_by_id (job->market, ping->campaign_id);
    assert (campaign);          //  the job holds the market it pinged with
    char ref [128] = "";
    int64_t cents = 0;
    const char *code = NULL;
    char status_code [32];
    if (response->error == PP_HTTP_TIMEOUT)
        code = "timeout";
    else
    if (response->error == PP_HTTP_CONNECT)
        code = "connect";
    else
    if (response->error == PP_HTTP_TOO_BIG)
        code = "too_big";
    else
    if (response->error != PP_HTTP_OK)
        code = "failed";
    else
    if (response->status < 200 || response->status > 299) {
        snprintf (status_code, sizeof status_code, "http_%dxx", (int) (response->status / 100 % 10));
        code = status_code;
    }
    else
        code = auction_parse_bid (campaign, response->body, &cents, ref, sizeof ref);
    s_circuit_record (job, campaign, ping->trial, ping->cut, code);
    if (code)
        s_decline (job, campaign, code, 0, response->latency_us);
    else
        s_add_bid (job, campaign, cents, response->latency_us, ref);
    free (ping);
    if (--job->outstanding == 0)
        s_tier_done (job);
}

//  Take the lowest tier still eligible off the lead and ask its campaigns:
//  fixed bids at once, ping bids over HTTP, all in parallel.
static void
s_next_tier (s_job_t *job)
{
    auction_server_t *self = job->server;
    pp_stage_t *stage = self->stage;
    pp_lead_t *lead = job->lead;
    int64_t left_ms = (pp_lead_deadline_us (lead) - pp_now_us ()) / 1000;
    if (left_ms <= 0) {
        pp_stage_finish_status (stage, &job->lead, PP_STATUS_ERROR, "timeout", NULL,
                                "the lead's deadline passed during the auction");
        s_job_end (job);
        return;
    }
    //  Which tier, and which campaigns of it
    int tier = INT32_MAX;
    for (size_t i = 0; i < pp_lead_eligible_size (lead); i++) {
        const pp_campaign_t *campaign
            = pp_market_campaign_by_id (job->market, pp_lead_eligible (lead, i));
        if (campaign && campaign->tier < tier)
            tier = campaign->tier;
    }
    if (tier == INT32_MAX) {
        pp_event_t *event = pp_stage_event (stage, lead, "unsold");
        pp_event_set_code (event, "no_bids");
        pp_stage_emit (stage, &event);
        pp_stage_finish_status (stage, &job->lead, PP_STATUS_UNSOLD, "no_bids", NULL,
                                "no campaign bid at or above the floor");
        s_job_end (job);
        return;
    }
    size_t count = pp_lead_eligible_size (lead);
    uint32_t *ids = (uint32_t *) malloc ((count ? count : 1) * sizeof (uint32_t));
    assert (ids);
    for (size_t i = 0; i < count; i++)
        ids [i] = pp_lead_eligible (lead, i);
    pp_lead_clear_eligible (lead);
    pp_lead_clear_bids (lead);
    char *body = NULL;
    for (size_t i = 0; i < count; i++) {
        const pp_campaign_t *campaign = pp_market_campaign_by_id (job->market, ids [i]);
        if (!campaign)
            continue;           //  removed by a reload since filter saw it
        if (campaign->tier != tier) {
            pp_lead_add_eligible (lead, ids [i]);      //  a later tier
            continue;
        }
        if (campaign->bid_kind == PP_BID_FIXED) {
            s_add_bid (job, campaign, campaign->bid_fixed_cents, 0, NULL);
            continue;
        }
        bool trial;
        if (!s_circuit_allows (self, campaign, &trial)) {
            s_decline (job, campaign, "circuit_open", 0, -1);
            continue;
        }
        if (!body) {
            //  The partial lead: declared, non-personal fields only
            pp_vertical_t *vertical = pp_market_vertical (job->market, pp_lead_vertical (lead));
            cJSON *ping = cJSON_CreateObject ();
            cJSON_AddStringToObject (ping, "ping_id", pp_lead_id (lead));
            cJSON_AddStringToObject (ping, "vertical", pp_lead_vertical (lead));
            cJSON *fields = pp_json_from_fields (pp_lead_fields (lead), vertical, false);
            if (!vertical)
                cJSON_Delete (fields), fields = cJSON_CreateObject ();
            cJSON_AddItemToObject (ping, "fields", fields);
            body = pp_json_print (ping);
            cJSON_Delete (ping);
        }
        int timeout_ms = campaign->ping_timeout_ms < left_ms ? campaign->ping_timeout_ms
                                                             : (int) left_ms;
        s_ping_t *ping = (s_ping_t *) zmalloc (sizeof (s_ping_t));
        ping->job = job;
        ping->campaign_id = campaign->id;
        ping->trial = trial;
        ping->cut = timeout_ms < campaign->ping_timeout_ms;
        if (pp_http_post (self->http, campaign->ping_url, "application/json", body, strlen (body),
                          timeout_ms, S_MAX_PING_ANSWER, s_on_ping, ping)) {
            free (ping);
            if (trial)
                s_circuit (self, campaign->id)->trial = false;
            s_decline (job, campaign, "failed", 0, -1);
            continue;
        }
        job->outstanding++;
    }
    free (body);
    free (ids);
    if (job->outstanding == 0)
        s_tier_done (job);
}

//  Ping tree: no pings; every fixed-price campaign, by tier then price,
//  posted one after another by deliver until one accepts.
static void
s_ping_tree (s_job_t *job)
{
    pp_lead_t *lead = job->lead;
    pp_lead_clear_bids (lead);
    for (size_t i = 0; i < pp_lead_eligible_size (lead); i++) {
        const pp_campaign_t *campaign
            = pp_market_campaign_by_id (job->market, pp_lead_eligible (lead, i));
        if (!campaign)
            continue;
        if (campaign->bid_kind != PP_BID_FIXED)
            s_decline (job, campaign, "no_fixed_price", 0, -1);
        else
            s_add_bid (job, campaign, campaign->bid_fixed_cents, 0, NULL);
    }
    pp_lead_clear_eligible (lead);
    if (pp_lead_bid_size (lead) == 0) {
        s_next_tier (job);      //  ends it: no campaign left
        return;
    }
    auction_rank_by (lead, PP_PRICING_FIRST, job->floor_cents, s_rate, job->server);
    pp_stage_forward (job->server->stage, &job->lead);
    s_job_end (job);
}

static void
s_handle (pp_stage_t *stage, pp_lead_t **lead_p, void *arg)
{
    auction_server_t *self = (auction_server_t *) arg;
    s_job_t *job = (s_job_t *) zmalloc (sizeof (s_job_t));
    job->server = self;
    job->lead = *lead_p;
    *lead_p = NULL;
    job->market = pp_market_link (pp_stage_market (stage));
    job->floor_cents = auction_floor (job->market, job->lead);
    job->handle = zlistx_add_end (self->jobs, job);
    if (pp_market_auction (job->market)->mode == PP_MODE_PING_TREE)
        s_ping_tree (job);
    else
        s_next_tier (job);
}

auction_server_t *
auction_server_new (const pp_config_t *config, int slot)
{
    auction_server_t *self = (auction_server_t *) zmalloc (sizeof (auction_server_t));
    self->stage = pp_stage_new (config, PP_STAGE_AUCTION, slot);
    if (!self->stage) {
        free (self);
        return NULL;
    }
    self->http = pp_http_new (pp_stage_loop (self->stage));
    self->jobs = zlistx_new ();
    zlistx_set_destructor (self->jobs, s_job_destroy);
    self->circuits = zhashx_new ();
    zhashx_set_destructor (self->circuits, s_free_item);
    self->rates = zhashx_new ();
    zhashx_set_destructor (self->rates, s_free_item);
    s_load_rates (NULL, 0, self);
    zloop_timer (pp_stage_loop (self->stage), S_RATES_REFRESH_MS, 0, s_load_rates, self);
    pp_stage_set_handler (self->stage, s_handle, self);
    return self;
}

void
auction_server_destroy (auction_server_t **self_p)
{
    assert (self_p);
    auction_server_t *self = *self_p;
    if (!self)
        return;
    pp_http_destroy (&self->http);
    zlistx_destroy (&self->jobs);
    zhashx_destroy (&self->circuits);
    zhashx_destroy (&self->rates);
    pp_stage_destroy (&self->stage);
    free (self);
    *self_p = NULL;
}

int
auction_server_run (auction_server_t *self)
{
    assert (self);
    return pp_stage_run (self->stage);
}
