/*  auction_server - collect bids from the eligible campaigns, apply floors and tiers, rank them  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef AUCTION_SERVER_H_INCLUDED
#define AUCTION_SERVER_H_INCLUDED

#include "pp_config.h"
#include "pp_market.h"
#include "pp_lead.h"

typedef struct auction_server auction_server_t;

auction_server_t *
    auction_server_new (const pp_config_t *config, int slot);
void
    auction_server_destroy (auction_server_t **self_p);
int
    auction_server_run (auction_server_t *self);

//  The floor for a lead: the auction floor, raised to a fixed publisher
//  payout so the platform never sells at a loss.
int64_t
    auction_floor (const pp_market_t *market, const pp_lead_t *lead);
//  Rank the lead's bids (DESIGN section 7: tier, then price, then the
//  earlier answer) and set each bid's price by the pricing rule.
void
    auction_rank (pp_lead_t *lead, pp_pricing_t pricing, int64_t floor_cents);
//  The post-acceptance rate of a campaign, 0..1 (1 when it has no history).
typedef double (auction_rate_fn) (uint32_t campaign_id, void *arg);
//  As auction_rank, with the campaign's post-acceptance rate breaking ties
//  of tier and price (higher first) before the earlier answer.
void
    auction_rank_by (pp_lead_t *lead, pp_pricing_t pricing, int64_t floor_cents,
                     auction_rate_fn *rate, void *arg);
//  Shared or exclusive (max_sales > 1, bids ranked): compare the best
//  exclusive bid with the sum of up to max_sales non-exclusive bids of
//  distinct buyers. When the shared sum is larger, drop the exclusive bids
//  (the non-exclusive ones stay, ranked; deliver posts to up to max_sales
//  of distinct buyers) and return true; else move the best exclusive bid
//  first and return false.
bool
    auction_plan (pp_lead_t *lead, int max_sales);
//  Parse a bid from a buyer's ping answer by the campaign's pointers. Returns
//  NULL and sets *cents for a bid, else the decline code ("bad_json",
//  "not_accepted", "no_bid", "bad_price"). A bid reference is copied into
//  ref (size bytes, "" when none).
const char *
    auction_parse_bid (const pp_campaign_t *campaign, const char *body, int64_t *cents,
                       char *ref, size_t size);

#endif
