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

#endif
