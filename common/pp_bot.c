/*  pp_bot - bot signals of a lead: honeypot, form speed, user agent, timestamps; a 0..100 score  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_bot.h"
#include "pp_util.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define S_US 1000000LL          //  microseconds in a second

//  Names of HTTP libraries, headless browsers, automation drivers and
//  crawlers, lower-case. A consumer's browser never sends them.
static const char *s_bot_agents [] = {
    "curl", "wget", "python-requests", "python-urllib", "python-httpx", "aiohttp",
    "go-http-client", "java/", "apache-httpclient", "libwww-perl", "httpie", "scrapy",
    "headlesschrome", "phantomjs", "selenium", "webdriver", "puppeteer", "playwright",
    "bot", "spider", "crawler", NULL
};
//  Words holding a name above that real browsers send (the Cubot phone
//  brand holds "bot"); blanked before the search.
static const char *s_allowed_words [] = { "cubot", NULL };

void
pp_bot_config_defaults (pp_bot_config_t *config)
{
    assert (config);
    config->min_form_seconds = 0;
    config->threshold = PP_BOT_THRESHOLD_DEFAULT;
    config->future_seconds = PP_BOT_FUTURE_SECONDS;
    config->stale_seconds = PP_BOT_STALE_SECONDS;
}

//  An integer member within lo..hi, else the fallback. The market parser
//  already checked the ranges; this only keeps a bad row from mattering.
static int
s_int_member (const cJSON *object, const char *key, int lo, int hi, int fallback)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (object, key);
    if (!cJSON_IsNumber (item) || item->valuedouble < lo || item->valuedouble > hi
    ||  item->valuedouble != (double) (int) item->valuedouble)
        return fallback;
    return (int) item->valuedouble;
}

void
pp_bot_config_from_vertical (const pp_vertical_t *vertical, pp_bot_config_t *config)
{
    assert (config);
    pp_bot_config_defaults (config);
    const char *json = vertical ? pp_vertical_spec_json (vertical) : NULL;
    cJSON *spec = json ? cJSON_Parse (json) : NULL;
    if (spec) {
        config->min_form_seconds = s_int_member (spec, "min_form_seconds", 0, INT_MAX, 0);
        config->threshold = s_int_member (spec, "bot_threshold", 0, 100,
                                          PP_BOT_THRESHOLD_DEFAULT);
    }
    cJSON_Delete (spec);
}

bool
pp_bot_user_agent_is_bot (const char *user_agent)
{
    if (!user_agent || !*user_agent)
        return false;
    size_t size = strlen (user_agent);
    char stack [512];
    char *lower = size < sizeof stack ? stack : (char *) malloc (size + 1);
    assert (lower);
    for (size_t i = 0; i <= size; i++)
        lower [i] = (char) tolower ((unsigned char) user_agent [i]);
    for (size_t i = 0; s_allowed_words [i]; i++) {
        const char *word = s_allowed_words [i];
        for (char *hit = strstr (lower, word); hit; hit = strstr (hit, word))
            memset (hit, ' ', strlen (word));
    }
    bool bot = false;
    for (size_t i = 0; !bot && s_bot_agents [i]; i++)
        bot = strstr (lower, s_bot_agents [i]) != NULL;
    if (lower != stack)
        free (lower);
    return bot;
}

//  Append a hit; every hit counts in *codes, the ones that fit are written.
typedef struct {
    pp_bot_hit_t *hits;         //  Not owned: the caller's array
    size_t max_hits;            //  its size
    size_t written;             //  hits written
    unsigned codes;             //  bit per code hit
    int score;                  //  sum of the weights of the codes hit
} s_tally_t;

enum { C_HONEYPOT, C_TOO_FAST, C_USER_AGENT, C_FUTURE, C_STALE, C_BAD };

static void
s_hit (s_tally_t *tally, int code, const char *field)
{
    static const char *codes [] = {
        "bot_honeypot", "bot_too_fast", "bot_user_agent", "bot_future_timestamp",
        "bot_stale_timestamp", "bot_bad_timestamp"
    };
    static const char *messages [] = {
        "the hidden form field was filled",
        "the form was filled faster than a person can",
        "the user agent is an automated client",
        "the timestamp is in the future",
        "the timestamp is too old",
        "the timestamp is not an ISO 8601 date-time"
    };
    static const int scores [] = {
        PP_BOT_SCORE_HONEYPOT, PP_BOT_SCORE_TOO_FAST, PP_BOT_SCORE_USER_AGENT,
        PP_BOT_SCORE_FUTURE, PP_BOT_SCORE_STALE, PP_BOT_SCORE_BAD_TIMESTAMP
    };
    if (!(tally->codes & (1u << code))) {
        tally->codes |= 1u << code;
        tally->score += scores [code];
    }
    if (tally->written < tally->max_hits) {
        pp_bot_hit_t *hit = &tally->hits [tally->written++];
        hit->code = codes [code];
        hit->field = field;
        hit->message = messages [code];
        hit->score = scores [code];
    }
}

static bool
s_honeypot_filled (const pp_value_t *value)
{
    if (!value)
        return false;
    switch (value->type) {
        case PP_VALUE_STR:
        case PP_VALUE_JSON:
            return value->s && *value->s;
        case PP_VALUE_BOOL:
            return value->b;
        case PP_VALUE_INT:
        case PP_VALUE_NUM:
            return true;
        default:
            return false;
    }
}

//  A timestamp value: 0 = absent (nil or ""), 1 = parsed into *us, -1 = bad.
static int
s_timestamp (const pp_fields_t *fields, const char *name, int64_t *us)
{
    const pp_value_t *value = fields ? pp_fields_get (fields, name) : NULL;
    if (!value || value->type == PP_VALUE_NIL
    ||  (value->type == PP_VALUE_STR && (!value->s || !*value->s)))
        return 0;
    if (value->type != PP_VALUE_STR || pp_time_parse_iso (value->s, us))
        return -1;
    return 1;
}

//  Future, stale or bad: at most one of them per timestamp.
static void
s_check_time (const pp_bot_config_t *config, s_tally_t *tally, int state, int64_t at_us,
              int64_t received_us, const char *field)
{
    if (state < 0)
        s_hit (tally, C_BAD, field);
    else
    if (state > 0 && at_us - received_us > config->future_seconds * S_US)
        s_hit (tally, C_FUTURE, field);
    else
    if (state > 0 && config->stale_seconds > 0
    &&  received_us - at_us > config->stale_seconds * S_US)
        s_hit (tally, C_STALE, field);
}

int
pp_bot_score (const pp_bot_config_t *config, const pp_fields_t *signals,
              const pp_fields_t *consent, int64_t received_us, pp_bot_hit_t *hits,
              size_t max_hits, size_t *hit_count)
{
    assert (config);
    assert (hits || max_hits == 0);
    s_tally_t tally = { hits, max_hits, 0, 0, 0 };

    if (s_honeypot_filled (signals ? pp_fields_get (signals, "honeypot") : NULL))
        s_hit (&tally, C_HONEYPOT, "signals.honeypot");

    int64_t started_us = 0;
    int started = s_timestamp (signals, "form_started_at", &started_us);
    if (started > 0 && config->min_form_seconds > 0
    &&  received_us - started_us < (int64_t) config->min_form_seconds * S_US)
        s_hit (&tally, C_TOO_FAST, "signals.form_started_at");

    if (signals && pp_bot_user_agent_is_bot (pp_fields_str (signals, "user_agent")))
        s_hit (&tally, C_USER_AGENT, "signals.user_agent");
    if (consent && pp_bot_user_agent_is_bot (pp_fields_str (consent, "user_agent")))
        s_hit (&tally, C_USER_AGENT, "consent.user_agent");

    s_check_time (config, &tally, started, started_us, received_us, "signals.form_started_at");
    int64_t consented_us = 0;
    int consented = s_timestamp (consent, "timestamp", &consented_us);
    s_check_time (config, &tally, consented, consented_us, received_us, "consent.timestamp");

    if (hit_count)
        *hit_count = tally.written;
    return tally.score > 100 ? 100 : tally.score;
}

bool
pp_bot_rejects (const pp_bot_config_t *config, int score)
{
    assert (config);
    return score > 0 && score >= config->threshold;
}
