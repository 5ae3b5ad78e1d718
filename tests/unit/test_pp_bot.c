/*  test_pp_bot - bot signals, the score, thresholds and the vertical's settings  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>

#include "pp_bot.h"
#include "pp_market.h"
#include "pp_util.h"

#define S_SEC 1000000LL

//  2026-11-26T10:00:00Z, the moment the test leads are received.
static int64_t
s_received (void)
{
    int64_t us = 0;
    assert_int_equal (pp_time_parse_iso ("2026-11-26T10:00:00Z", &us), 0);
    return us;
}

//  ISO 8601 text of received + offset seconds.
static void
s_iso (int64_t offset_s, char *buf, size_t size)
{
    pp_time_iso (s_received () + offset_s * S_SEC, buf, size);
}

static pp_bot_config_t
s_config (int min_form_seconds, int threshold)
{
    pp_bot_config_t config;
    pp_bot_config_defaults (&config);
    config.min_form_seconds = min_form_seconds;
    config.threshold = threshold;
    return config;
}

//  Score and check the hits are exactly `codes` (comma-separated, in order,
//  "" for none) with these fields (comma-separated).
static int
s_score (const pp_bot_config_t *config, const pp_fields_t *signals, const pp_fields_t *consent,
         const char *codes, const char *fields)
{
    pp_bot_hit_t hits [PP_BOT_MAX_HITS];
    size_t count = 99;
    int score = pp_bot_score (config, signals, consent, s_received (), hits, PP_BOT_MAX_HITS,
                              &count);
    char got_codes [512] = "";
    char got_fields [512] = "";
    for (size_t i = 0; i < count; i++) {
        assert_non_null (hits [i].code);
        assert_non_null (hits [i].field);
        assert_non_null (hits [i].message);
        assert_true (hits [i].score > 0 && hits [i].score <= 100);
        snprintf (got_codes + strlen (got_codes), sizeof got_codes - strlen (got_codes), "%s%s",
                  i ? "," : "", hits [i].code);
        snprintf (got_fields + strlen (got_fields), sizeof got_fields - strlen (got_fields),
                  "%s%s", i ? "," : "", hits [i].field);
    }
    assert_string_equal (got_codes, codes);
    assert_string_equal (got_fields, fields);
    assert_true (score >= 0 && score <= 100);
    assert_true ((count == 0) == (score == 0));
    return score;
}

static void
test_pp_bot_no_signals (void **state)
{
    pp_bot_config_t config = s_config (10, 50);
    //  No bags, empty bags, empty values: no hits, score 0, never rejected
    assert_int_equal (s_score (&config, NULL, NULL, "", ""), 0);
    pp_fields_t *signals = pp_fields_new ();
    pp_fields_t *consent = pp_fields_new ();
    assert_int_equal (s_score (&config, signals, consent, "", ""), 0);
    pp_fields_set_str (signals, "honeypot", "");
    pp_fields_set_str (signals, "form_started_at", "");
    pp_fields_set_nil (signals, "user_agent");
    pp_fields_set_str (consent, "timestamp", "");
    pp_fields_set_str (consent, "user_agent", "");
    assert_int_equal (s_score (&config, signals, consent, "", ""), 0);
    //  A human: a browser, a form filled in a few minutes, consent just now
    char started [32], consented [32];
    s_iso (-180, started, sizeof started);
    s_iso (-2, consented, sizeof consented);
    pp_fields_set_str (signals, "form_started_at", started);
    pp_fields_set_str (signals, "user_agent",
                       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                       "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36");
    pp_fields_set_str (consent, "timestamp", consented);
    pp_fields_set_bool (signals, "honeypot", false);
    assert_int_equal (s_score (&config, signals, consent, "", ""), 0);
    assert_false (pp_bot_rejects (&config, 0));
    config.threshold = 0;
    assert_false (pp_bot_rejects (&config, 0));     //  no signal, no rejection
    //  hits may be NULL when max_hits is 0
    size_t count = 99;
    assert_int_equal (pp_bot_score (&config, signals, consent, s_received (), NULL, 0, &count), 0);
    assert_int_equal (count, 0);
    pp_fields_destroy (&signals);
    pp_fields_destroy (&consent);
}

static void
test_pp_bot_honeypot (void **state)
{
    pp_bot_config_t config = s_config (0, 50);
    pp_fields_t *signals = pp_fields_new ();
    pp_fields_set_str (signals, "honeypot", "http://spam.example");
    int score = s_score (&config, signals, NULL, "bot_honeypot", "signals.honeypot");
    assert_int_equal (score, 100);
    assert_true (pp_bot_rejects (&config, score));
    config.threshold = 100;
    assert_true (pp_bot_rejects (&config, score));
    pp_fields_set_bool (signals, "honeypot", true);
    assert_int_equal (s_score (&config, signals, NULL, "bot_honeypot", "signals.honeypot"), 100);
    pp_fields_set_int (signals, "honeypot", 0);
    assert_int_equal (s_score (&config, signals, NULL, "bot_honeypot", "signals.honeypot"), 100);
    pp_fields_set_str (signals, "honeypot", "");
    assert_int_equal (s_score (&config, signals, NULL, "", ""), 0);
    pp_fields_destroy (&signals);
}

static void
test_pp_bot_too_fast (void **state)
{
    pp_bot_config_t config = s_config (8, 50);
    pp_fields_t *signals = pp_fields_new ();
    char started [32];
    s_iso (-3, started, sizeof started);
    pp_fields_set_str (signals, "form_started_at", started);
    int score = s_score (&config, signals, NULL, "bot_too_fast", "signals.form_started_at");
    assert_int_equal (score, PP_BOT_SCORE_TOO_FAST);
    assert_true (pp_bot_rejects (&config, score));
    //  The boundary: exactly the minimum is a person, a microsecond less is not
    s_iso (-8, started, sizeof started);
    pp_fields_set_str (signals, "form_started_at", started);
    assert_int_equal (s_score (&config, signals, NULL, "", ""), 0);
    pp_fields_set_str (signals, "form_started_at", "2026-11-26T09:59:52.000001Z");
    assert_int_equal (s_score (&config, signals, NULL, "bot_too_fast", "signals.form_started_at"),
                      PP_BOT_SCORE_TOO_FAST);
    //  min_form_seconds 0: off
    config.min_form_seconds = 0;
    assert_int_equal (s_score (&config, signals, NULL, "", ""), 0);
    //  With a time zone offset: 10:59:58+01:00 is 2 s before received
    config.min_form_seconds = 5;
    pp_fields_set_str (signals, "form_started_at", "2026-11-26T10:59:58+01:00");
    assert_int_equal (s_score (&config, signals, NULL, "bot_too_fast", "signals.form_started_at"),
                      PP_BOT_SCORE_TOO_FAST);
    pp_fields_set_str (signals, "form_started_at", "2026-11-26T10:59:50+01:00");
    assert_int_equal (s_score (&config, signals, NULL, "", ""), 0);
    pp_fields_destroy (&signals);
}

static void
test_pp_bot_user_agent (void **state)
{
    const char *bots [] = {
        "curl/8.4.0", "Wget/1.21", "python-requests/2.31.0", "Go-http-client/2.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0.0.0",
        "Mozilla/5.0 (Unknown; Linux) AppleWebKit/538.1 PhantomJS/2.1.1",
        "Selenium/4.0 (java linux)", "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Baiduspider", "SomeCRAWLER/1.0", "Java/17.0.2", "Scrapy/2.11", NULL
    };
    for (size_t i = 0; bots [i]; i++)
        if (!pp_bot_user_agent_is_bot (bots [i]))
            fail_msg ("'%s' is a bot", bots [i]);
    const char *people [] = {
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 10; CUBOT NOTE 20) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0",
        "", NULL
    };
    for (size_t i = 0; people [i]; i++)
        if (pp_bot_user_agent_is_bot (people [i]))
            fail_msg ("'%s' is a person", people [i]);
    assert_false (pp_bot_user_agent_is_bot (NULL));
    //  A long agent with the name past the stack buffer
    char long_agent [2000];
    memset (long_agent, 'a', sizeof long_agent - 1);
    memcpy (long_agent + 1900, "curl", 4);
    long_agent [sizeof long_agent - 1] = 0;
    assert_true (pp_bot_user_agent_is_bot (long_agent));
    long_agent [1900] = 'x';
    assert_false (pp_bot_user_agent_is_bot (long_agent));

    pp_bot_config_t config = s_config (0, 50);
    pp_fields_t *signals = pp_fields_new ();
    pp_fields_t *consent = pp_fields_new ();
    pp_fields_set_str (signals, "user_agent", "python-requests/2.31");
    int score = s_score (&config, signals, consent, "bot_user_agent", "signals.user_agent");
    assert_int_equal (score, PP_BOT_SCORE_USER_AGENT);
    //  Both agents: two hits, one signal's weight
    pp_fields_set_str (consent, "user_agent", "curl/8.0");
    score = s_score (&config, signals, consent, "bot_user_agent,bot_user_agent",
                     "signals.user_agent,consent.user_agent");
    assert_int_equal (score, PP_BOT_SCORE_USER_AGENT);
    pp_fields_set_str (signals, "user_agent", "Mozilla/5.0 Firefox/120.0");
    score = s_score (&config, signals, consent, "bot_user_agent", "consent.user_agent");
    assert_int_equal (score, PP_BOT_SCORE_USER_AGENT);
    pp_fields_destroy (&signals);
    pp_fields_destroy (&consent);
}

static void
test_pp_bot_timestamps (void **state)
{
    pp_bot_config_t config = s_config (0, 50);
    pp_fields_t *signals = pp_fields_new ();
    pp_fields_t *consent = pp_fields_new ();
    char text [32];
    //  Future: more than 5 minutes ahead
    s_iso (301, text, sizeof text);
    pp_fields_set_str (signals, "form_started_at", text);
    int score = s_score (&config, signals, NULL, "bot_future_timestamp",
                         "signals.form_started_at");
    assert_int_equal (score, PP_BOT_SCORE_FUTURE);
    assert_true (pp_bot_rejects (&config, score));
    s_iso (300, text, sizeof text);                 //  the boundary: still fine
    pp_fields_set_str (signals, "form_started_at", text);
    assert_int_equal (s_score (&config, signals, NULL, "", ""), 0);
    //  Stale: more than 24 hours back
    s_iso (-86401, text, sizeof text);
    pp_fields_set_str (signals, "form_started_at", text);
    score = s_score (&config, signals, NULL, "bot_stale_timestamp", "signals.form_started_at");
    assert_int_equal (score, PP_BOT_SCORE_STALE);
    assert_false (pp_bot_rejects (&config, score));  //  40 < 50 alone
    s_iso (-86400, text, sizeof text);
    pp_fields_set_str (signals, "form_started_at", text);
    assert_int_equal (s_score (&config, signals, NULL, "", ""), 0);
    //  Configurable
    config.stale_seconds = 3600;
    score = s_score (&config, signals, NULL, "bot_stale_timestamp", "signals.form_started_at");
    assert_int_equal (score, PP_BOT_SCORE_STALE);
    config.stale_seconds = 0;                       //  off
    assert_int_equal (s_score (&config, signals, NULL, "", ""), 0);
    config.stale_seconds = PP_BOT_STALE_SECONDS;
    config.future_seconds = 0;
    s_iso (1, text, sizeof text);
    pp_fields_set_str (signals, "form_started_at", text);
    assert_int_equal (s_score (&config, signals, NULL, "bot_future_timestamp",
                               "signals.form_started_at"), PP_BOT_SCORE_FUTURE);
    config.future_seconds = PP_BOT_FUTURE_SECONDS;
    pp_fields_remove (signals, "form_started_at");
    //  consent.timestamp the same way
    s_iso (3600, text, sizeof text);
    pp_fields_set_str (consent, "timestamp", text);
    assert_int_equal (s_score (&config, signals, consent, "bot_future_timestamp",
                               "consent.timestamp"), PP_BOT_SCORE_FUTURE);
    s_iso (-7 * 86400, text, sizeof text);
    pp_fields_set_str (consent, "timestamp", text);
    assert_int_equal (s_score (&config, signals, consent, "bot_stale_timestamp",
                               "consent.timestamp"), PP_BOT_SCORE_STALE);
    pp_fields_destroy (&signals);
    pp_fields_destroy (&consent);
}

static void
test_pp_bot_bad_timestamps (void **state)
{
    pp_bot_config_t config = s_config (10, 50);
    pp_fields_t *signals = pp_fields_new ();
    pp_fields_t *consent = pp_fields_new ();
    const char *bad [] = {
        "yesterday", "2026-11-26", "2026-11-26T10:00:00", "2026-13-01T00:00:00Z",
        "2026-11-26T25:00:00Z", "1764151200", " 2026-11-26T10:00:00Z", NULL
    };
    for (size_t i = 0; bad [i]; i++) {
        pp_fields_set_str (signals, "form_started_at", bad [i]);
        int score = s_score (&config, signals, NULL, "bot_bad_timestamp",
                             "signals.form_started_at");
        assert_int_equal (score, PP_BOT_SCORE_BAD_TIMESTAMP);
    }
    //  Not a string at all
    pp_fields_set_int (signals, "form_started_at", 1764151200);
    assert_int_equal (s_score (&config, signals, NULL, "bot_bad_timestamp",
                               "signals.form_started_at"), PP_BOT_SCORE_BAD_TIMESTAMP);
    //  Both bad: two hits, one weight; not rejected at 50
    pp_fields_set_str (consent, "timestamp", "soon");
    int score = s_score (&config, signals, consent, "bot_bad_timestamp,bot_bad_timestamp",
                         "signals.form_started_at,consent.timestamp");
    assert_int_equal (score, PP_BOT_SCORE_BAD_TIMESTAMP);
    assert_false (pp_bot_rejects (&config, score));
    pp_fields_destroy (&signals);
    pp_fields_destroy (&consent);
}

static void
test_pp_bot_sum_and_threshold (void **state)
{
    pp_bot_config_t config = s_config (30, 70);
    pp_fields_t *signals = pp_fields_new ();
    pp_fields_t *consent = pp_fields_new ();
    //  Stale consent (40) + bad form time (30) = 70: rejected at 70, not at 71
    char text [32];
    s_iso (-2 * 86400, text, sizeof text);
    pp_fields_set_str (consent, "timestamp", text);
    pp_fields_set_str (signals, "form_started_at", "garbage");
    int score = s_score (&config, signals, consent, "bot_bad_timestamp,bot_stale_timestamp",
                         "signals.form_started_at,consent.timestamp");
    assert_int_equal (score, PP_BOT_SCORE_STALE + PP_BOT_SCORE_BAD_TIMESTAMP);
    assert_true (pp_bot_rejects (&config, score));
    config.threshold = 71;
    assert_false (pp_bot_rejects (&config, score));
    //  Everything at once: capped at 100, hits in order
    s_iso (-1, text, sizeof text);
    pp_fields_set_str (signals, "form_started_at", text);
    pp_fields_set_str (signals, "honeypot", "x");
    pp_fields_set_str (signals, "user_agent", "curl/8");
    pp_fields_set_str (consent, "user_agent", "Wget/1.2");
    s_iso (3600, text, sizeof text);
    pp_fields_set_str (consent, "timestamp", text);
    score = s_score (&config, signals, consent,
                     "bot_honeypot,bot_too_fast,bot_user_agent,bot_user_agent,"
                     "bot_future_timestamp",
                     "signals.honeypot,signals.form_started_at,signals.user_agent,"
                     "consent.user_agent,consent.timestamp");
    assert_int_equal (score, 100);
    //  max_hits bounds what is written, not the score
    pp_bot_hit_t hits [2];
    size_t count = 0;
    score = pp_bot_score (&config, NULL, NULL, s_received (), hits, 2, &count);
    assert_int_equal (score, 0);
    pp_fields_set_str (signals, "honeypot", "");
    score = pp_bot_score (&config, signals, consent, s_received (), hits, 2, &count);
    assert_int_equal (count, 2);
    assert_string_equal (hits [0].code, "bot_too_fast");
    assert_string_equal (hits [1].code, "bot_user_agent");
    assert_int_equal (score, 100);          //  60 + 80 + 50, capped
    score = pp_bot_score (&config, signals, consent, s_received (), hits, 2, NULL);
    assert_int_equal (score, 100);
    pp_fields_destroy (&signals);
    pp_fields_destroy (&consent);
}

static void
test_pp_bot_config_from_vertical (void **state)
{
    const char *text =
        "{\"verticals\": ["
        " {\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"}},"
        "  \"min_form_seconds\": 12, \"bot_threshold\": 80},"
        " {\"name\": \"roofing\", \"fields\": {\"zip\": {\"type\": \"zip\"}}},"
        " {\"name\": \"hvac\", \"fields\": {\"zip\": {\"type\": \"zip\"}}, \"bot_threshold\": 0}]}";
    pp_market_error_t *errors = NULL;
    size_t error_count = 0;
    pp_market_t *market = pp_market_parse (text, strlen (text), &errors, &error_count);
    for (size_t i = 0; i < error_count; i++)
        print_error ("%s: %s\n", errors [i].path, errors [i].message);
    pp_market_errors_free (&errors, error_count);
    assert_non_null (market);
    pp_bot_config_t config;
    pp_bot_config_from_vertical (pp_market_vertical (market, "solar"), &config);
    assert_int_equal (config.min_form_seconds, 12);
    assert_int_equal (config.threshold, 80);
    assert_int_equal (config.future_seconds, PP_BOT_FUTURE_SECONDS);
    assert_int_equal (config.stale_seconds, PP_BOT_STALE_SECONDS);
    pp_bot_config_from_vertical (pp_market_vertical (market, "roofing"), &config);
    assert_int_equal (config.min_form_seconds, 0);
    assert_int_equal (config.threshold, PP_BOT_THRESHOLD_DEFAULT);
    pp_bot_config_from_vertical (pp_market_vertical (market, "hvac"), &config);
    assert_int_equal (config.threshold, 0);
    //  Threshold 0: any signal rejects
    assert_true (pp_bot_rejects (&config, PP_BOT_SCORE_BAD_TIMESTAMP));
    pp_bot_config_from_vertical (NULL, &config);
    assert_int_equal (config.threshold, PP_BOT_THRESHOLD_DEFAULT);
    assert_int_equal (config.min_form_seconds, 0);
    pp_market_unlink (&market);
    //  The parser refuses values out of range
    const char *bad = "{\"verticals\": [{\"name\": \"solar\","
                      " \"fields\": {\"zip\": {\"type\": \"zip\"}},"
                      " \"bot_threshold\": 101, \"min_form_seconds\": -1}]}";
    market = pp_market_parse (bad, strlen (bad), &errors, &error_count);
    assert_null (market);
    assert_int_equal (error_count, 2);
    pp_market_errors_free (&errors, error_count);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_bot_no_signals),
        cmocka_unit_test (test_pp_bot_honeypot),
        cmocka_unit_test (test_pp_bot_too_fast),
        cmocka_unit_test (test_pp_bot_user_agent),
        cmocka_unit_test (test_pp_bot_timestamps),
        cmocka_unit_test (test_pp_bot_bad_timestamps),
        cmocka_unit_test (test_pp_bot_sum_and_threshold),
        cmocka_unit_test (test_pp_bot_config_from_vertical),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
