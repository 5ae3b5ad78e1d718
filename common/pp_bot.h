/*  pp_bot - bot signals of a lead: honeypot, form speed, user agent, timestamps; a 0..100 score  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_BOT_H_INCLUDED
#define PP_BOT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pp_fields.h"
#include "pp_market.h"

#define PP_BOT_THRESHOLD_DEFAULT    50      //  a vertical without "bot_threshold"
#define PP_BOT_FUTURE_SECONDS       300     //  a timestamp this far ahead is "future"
#define PP_BOT_STALE_SECONDS        86400   //  a timestamp this far back is "stale"
//  Most hits one lead can have: honeypot, too fast, a user agent twice, and
//  future/stale/bad for each of the two timestamps.
#define PP_BOT_MAX_HITS             6

//  The weight of each signal in the score.
#define PP_BOT_SCORE_HONEYPOT       100
#define PP_BOT_SCORE_USER_AGENT     80
#define PP_BOT_SCORE_TOO_FAST       60
#define PP_BOT_SCORE_FUTURE         50
#define PP_BOT_SCORE_STALE          40
#define PP_BOT_SCORE_BAD_TIMESTAMP  30

typedef struct {
    int min_form_seconds;       //  a form filled faster is "bot_too_fast"; 0 = off
    int threshold;              //  reject when the score is >= this (and above 0), 0..100
    int64_t future_seconds;     //  "bot_future_timestamp" beyond this many seconds ahead
    int64_t stale_seconds;      //  "bot_stale_timestamp" beyond this many seconds back; 0 = off
} pp_bot_config_t;

//  One signal found. All strings are static.
typedef struct {
    const char *code;           //  reason code: "bot_honeypot", "bot_too_fast"...
    const char *field;          //  where: "signals.honeypot", "consent.timestamp"...
    const char *message;        //  for the publisher: "the hidden form field was filled"...
    int score;                  //  the signal's weight (PP_BOT_SCORE_*)
} pp_bot_hit_t;

//  The defaults: min_form_seconds 0, threshold PP_BOT_THRESHOLD_DEFAULT,
//  PP_BOT_FUTURE_SECONDS and PP_BOT_STALE_SECONDS.
void
    pp_bot_config_defaults (pp_bot_config_t *config);
//  The defaults with the vertical's "min_form_seconds" and "bot_threshold"
//  (from pp_vertical_spec_json). Parses JSON: call it when the market is
//  (re)loaded and keep the result per vertical, not once per lead.
void
    pp_bot_config_from_vertical (const pp_vertical_t *vertical, pp_bot_config_t *config);

//  Score a lead received at received_us (wall clock, us since the epoch).
//  Signals, each counted when its value is present (a missing or empty
//  value is no signal, and signals/consent may be NULL):
//    bot_honeypot          signals.honeypot is a non-empty string, true or a number
//    bot_too_fast          received_us - signals.form_started_at < min_form_seconds
//    bot_user_agent        signals.user_agent or consent.user_agent holds a known
//                          automation or crawler name (case-insensitive)
//    bot_future_timestamp  signals.form_started_at or consent.timestamp more than
//                          future_seconds after received_us
//    bot_stale_timestamp   either more than stale_seconds before received_us
//    bot_bad_timestamp     either not an ISO 8601 date-time (or not a string)
//  The score is the sum of the weights of the distinct codes hit, capped at
//  100: weak signals add up, and one code seen in two fields counts once.
//  Writes up to max_hits hits (hits may be NULL when max_hits is 0) in the
//  order above and sets *hit_count (when not NULL) to the number written;
//  the score counts every hit. Thread-safe.
int
    pp_bot_score (const pp_bot_config_t *config, const pp_fields_t *signals,
                  const pp_fields_t *consent, int64_t received_us, pp_bot_hit_t *hits,
                  size_t max_hits, size_t *hit_count);
//  True when a lead with this score is rejected: score > 0 and score >=
//  threshold (so threshold 0 rejects any signal, never a lead with none).
bool
    pp_bot_rejects (const pp_bot_config_t *config, int score);
//  True when a user agent holds a known automation or crawler name.
bool
    pp_bot_user_agent_is_bot (const char *user_agent);

#endif
