/*  deliver_server - post the full lead to the best bid, fall back down the ranking, settle the money  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef DELIVER_SERVER_H_INCLUDED
#define DELIVER_SERVER_H_INCLUDED

#include "pp_config.h"
#include "pp_market.h"
#include "pp_lead.h"

typedef struct deliver_server deliver_server_t;

deliver_server_t *
    deliver_server_new (const pp_config_t *config, int slot);
void
    deliver_server_destroy (deliver_server_t **self_p);
int
    deliver_server_run (deliver_server_t *self);

//  The body of a post to `campaign` for bid `bid` of the lead, through the
//  campaign's mapping (JSON or form encoded); a new string. *content_type
//  is set to a static string.
char *
    deliver_post_body (const pp_campaign_t *campaign, pp_lead_t *lead, const pp_bid_t *bid,
                       const char **content_type);
//  Did the buyer accept? By the campaign's accepted_when rule, else the
//  default rule (2xx and JSON {"accepted": true}). When accepted and the
//  answer carries a reference (by id pointer, default "/id"), it is copied
//  into ref (size bytes).
bool
    deliver_accepted (const pp_campaign_t *campaign, long status, const char *body, char *ref,
                      size_t size);
//  The publisher's payout for a sale charging `charge_cents`.
int64_t
    deliver_payout (const pp_publisher_t *publisher, int64_t charge_cents);
//  Split a lead's payout over its sales in proportion to their charges,
//  rounding down and giving the remaining cents to the first sales, so the
//  parts add up to `payout` exactly and none exceeds its charge.
void
    deliver_split_payout (int64_t payout, const int64_t *charges, size_t count, int64_t *parts);

#endif
