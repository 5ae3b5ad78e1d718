/*  auction_server - collect bids from the eligible campaigns, apply floors and tiers, rank them  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "auction_server.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_stage.h"
#include "pp_util.h"

struct auction_server {
    pp_stage_t *stage;          //  the shared runtime
};

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

static int
s_compare (const void *a, const void *b)
{
    const pp_bid_t *x = (const pp_bid_t *) a;
    const pp_bid_t *y = (const pp_bid_t *) b;
    if (x->tier != y->tier)
        return x->tier < y->tier ? -1 : 1;
    if (x->amount_cents != y->amount_cents)
        return x->amount_cents > y->amount_cents ? -1 : 1;
    if (x->answered_us != y->answered_us)
        return x->answered_us < y->answered_us ? -1 : 1;
    return x->campaign_id < y->campaign_id ? -1 : x->campaign_id > y->campaign_id;
}

void
auction_rank (pp_lead_t *lead, pp_pricing_t pricing, int64_t floor_cents)
{
    size_t count = pp_lead_bid_size (lead);
    if (count == 0)
        return;
    pp_bid_t *bids = (pp_bid_t *) malloc (count * sizeof (pp_bid_t));
    assert (bids);
    for (size_t i = 0; i < count; i++) {
        bids [i] = *pp_lead_bid (lead, i);
        bids [i].bid_ref = bids [i].bid_ref ? strdup (bids [i].bid_ref) : NULL;
    }
    qsort (bids, count, sizeof (pp_bid_t), s_compare);
    for (size_t i = 0; i < count; i++) {
        bids [i].price_cents = bids [i].amount_cents;
        if (pricing == PP_PRICING_SECOND) {
            //  The winner of a tier pays the next bid of its tier plus one
            //  cent, never under the floor and never over its own bid
            int64_t price = floor_cents;
            if (i + 1 < count && bids [i + 1].tier == bids [i].tier
                && bids [i + 1].amount_cents + 1 > price)
                price = bids [i + 1].amount_cents + 1;
            bids [i].price_cents = price < bids [i].amount_cents ? price : bids [i].amount_cents;
        }
    }
    pp_lead_clear_bids (lead);
    for (size_t i = 0; i < count; i++) {
        pp_lead_add_bid (lead, &bids [i]);
        free (bids [i].bid_ref);
    }
    free (bids);
}

static void
s_handle (pp_stage_t *stage, pp_lead_t **lead_p, void *arg)
{
    pp_lead_t *lead = *lead_p;
    pp_market_t *market = pp_stage_market (stage);
    const pp_auction_t *auction = pp_market_auction (market);
    int64_t floor_cents = auction_floor (market, lead);
    pp_lead_clear_bids (lead);
    int64_t now = pp_now_us ();
    for (size_t i = 0; i < pp_lead_eligible_size (lead); i++) {
        const pp_campaign_t *campaign
            = pp_market_campaign_by_id (market, pp_lead_eligible (lead, i));
        if (!campaign)
            continue;           //  removed by a reload since filter saw it
        if (campaign->bid_kind != PP_BID_FIXED) {
            //  Ping bids over HTTP come with issue #3
            pp_event_t *event = pp_stage_event (stage, lead, "decline");
            pp_event_set_campaign (event, campaign->id, campaign->buyer->id);
            pp_event_set_code (event, "ping_unsupported");
            pp_stage_emit (stage, &event);
            continue;
        }
        pp_bid_t bid = {0};
        bid.campaign_id = campaign->id;
        bid.buyer_id = campaign->buyer->id;
        bid.amount_cents = campaign->bid_fixed_cents;
        bid.tier = campaign->tier;
        bid.exclusive = campaign->exclusive;
        bid.answered_us = now;
        if (bid.amount_cents < floor_cents) {
            pp_event_t *event = pp_stage_event (stage, lead, "decline");
            pp_event_set_campaign (event, campaign->id, campaign->buyer->id);
            pp_event_set_amount_cents (event, bid.amount_cents);
            pp_event_set_code (event, "below_floor");
            pp_stage_emit (stage, &event);
            continue;
        }
        pp_event_t *event = pp_stage_event (stage, lead, "bid");
        pp_event_set_campaign (event, campaign->id, campaign->buyer->id);
        pp_event_set_amount_cents (event, bid.amount_cents);
        pp_event_set_latency_us (event, 0);
        pp_stage_emit (stage, &event);
        pp_lead_add_bid (lead, &bid);
    }
    if (pp_lead_bid_size (lead) == 0) {
        pp_event_t *event = pp_stage_event (stage, lead, "unsold");
        pp_event_set_code (event, "no_bids");
        pp_stage_emit (stage, &event);
        pp_stage_finish_status (stage, lead_p, PP_STATUS_UNSOLD, "no_bids", NULL,
                                "no campaign bid at or above the floor");
        return;
    }
    auction_rank (lead, auction->pricing, floor_cents);
    pp_stage_forward (stage, lead_p);
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
