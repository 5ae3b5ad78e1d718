/*  filter_server - which campaigns may see a lead: vertical, geography, field rules  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef FILTER_SERVER_H_INCLUDED
#define FILTER_SERVER_H_INCLUDED

#include "pp_config.h"
#include "pp_market.h"
#include "pp_lead.h"

typedef struct filter_server filter_server_t;

filter_server_t *
    filter_server_new (const pp_config_t *config, int slot);
void
    filter_server_destroy (filter_server_t **self_p);
int
    filter_server_run (filter_server_t *self);

//  Why a campaign does not take a lead: NULL when it does, else a short
//  reason ("vertical", "state", "zip", "field:<name>"). Written into buf
//  (at least 96 bytes) when a field names it. Exposed for unit tests.
const char *
    filter_exclusion (const pp_campaign_t *campaign, pp_lead_t *lead, char *buf, size_t size);

#endif
