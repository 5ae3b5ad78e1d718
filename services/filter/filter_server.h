/*  filter_server - which campaigns may see a lead: vertical, geography, field rules, schedules, caps  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef FILTER_SERVER_H_INCLUDED
#define FILTER_SERVER_H_INCLUDED

#include <cjson/cJSON.h>
#include "pp_config.h"
#include "pp_market.h"
#include "pp_zip.h"
#include "pp_lead.h"

typedef struct filter_server filter_server_t;

filter_server_t *
    filter_server_new (const pp_config_t *config, int slot);
void
    filter_server_destroy (filter_server_t **self_p);
int
    filter_server_run (filter_server_t *self);

//  The campaign index of one market: per vertical, its campaigns by state
//  (a lead is judged in full only against the campaigns of its state and
//  those of no state: every other one is excluded by "state" unseen); ZIP
//  lists and radii as the columns of one ZIP matrix; field rules compiled
//  against field slots read once per lead, `equals` pre-parsed; local time
//  once per zone and second. Built on every market load; campaign ids are
//  read then (set them before). Not for concurrent use: matching writes the
//  index's per-lead caches and scratch (filter is single-threaded).
typedef struct filter_index filter_index_t;

//  Build the index of a market (linked for the index's life). `zip` (not
//  owned, may be NULL) resolves radius filters; without it a radius filter
//  matches nothing.
filter_index_t *
    filter_index_new (pp_market_t *market, const pp_zip_t *zip);
void
    filter_index_destroy (filter_index_t **self_p);
//  Mark a campaign full (its cached cap counters reached a limit) or not.
void
    filter_index_set_full (filter_index_t *self, uint32_t campaign_id, bool full);
//  Mark every campaign not full (before re-reading the counters).
void
    filter_index_clear_full (filter_index_t *self);
//  Mark a campaign paced (its cached counters of the day reached what even
//  pacing allows so far: filter_pacing_reached) or not.
void
    filter_index_set_paced (filter_index_t *self, uint32_t campaign_id, bool paced);
//  Mark every campaign not paced (before re-reading the counters).
void
    filter_index_clear_paced (filter_index_t *self);
//  Add the ids of the campaigns that take the lead at `now_us` to the lead's
//  eligible list, in market order; when `excluded` (a JSON object) is given,
//  add to it campaign name -> reason for every campaign of the lead's
//  vertical that does not. Returns how many are eligible.
size_t
    filter_index_match (filter_index_t *self, pp_lead_t *lead, int64_t now_us, cJSON *excluded);
//  What the service does with a lead: filter_index_match with every
//  exclusion explained, written straight as the `eligible` event's detail,
//  JSON text {"campaigns": [every id of the lead's eligible list],
//  "excluded": {campaign name: reason, ...}} (the same content as
//  filter_index_match's `excluded`). Sets *detail_p to that text, borrowed:
//  valid until the next filter_index_decide or the index's destruction.
//  Returns how many were added to the eligible list.
size_t
    filter_index_decide (filter_index_t *self, pp_lead_t *lead, int64_t now_us,
                         const char **detail_p);
//  How many campaigns the last filter_index_match or filter_index_decide
//  judged in full (the index's candidates for the lead's vertical and state;
//  0 for an unknown vertical).
size_t
    filter_index_candidates (const filter_index_t *self);
//  Why one campaign does not take the lead at `now_us`: NULL when it does,
//  else "vertical", "state", "zip", "zip_radius", "publisher", "source",
//  "field:<name>", "schedule", "holiday", "cap" or "pacing" (written into
//  buf, at least 96 bytes, when it names a field). The brute-force
//  reference of filter_index_match.
const char *
    filter_exclusion (filter_index_t *self, const pp_campaign_t *campaign, pp_lead_t *lead,
                      int64_t now_us, char *buf, size_t size);
//  Local time of `now_us` in an IANA zone, from the system tz database:
//  weekday (0 = Sunday), minute of the day, and the date "YYYY-MM-DD" into
//  date (11 bytes). 0, or -1 for an unknown zone.
int
    filter_local_time (const char *zone, int64_t now_us, int *wday, int *minute, char *date);
//  Even pacing of a daily `limit` (leads, or cents) at `now_us`: how much
//  of it the campaign may have used so far today, ceil (limit * elapsed /
//  total), where total is the campaign's open minutes of its local day
//  (filter_local_time; its schedule windows of that weekday, the whole day
//  without hours) and elapsed those up to and including the current
//  minute, on the local wall clock. -1 when no pacing question arises: a
//  holiday, no open minute that day, an unknown zone, a limit <= 0.
int64_t
    filter_pacing_allowed (const pp_campaign_t *campaign, int64_t limit, int64_t now_us);
//  Whether today's counters (`count` leads, `amount_cents`) pace the
//  campaign out at `now_us`: for any cap per day with "pacing": "even",
//  count >= the count allowed so far, or amount >= the amount allowed so
//  far, or (fixed bid) amount + the bid > it.
bool
    filter_pacing_reached (const pp_campaign_t *campaign, int64_t count, int64_t amount_cents,
                           int64_t now_us);

#endif
