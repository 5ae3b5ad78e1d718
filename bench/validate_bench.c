/*  validate_bench - CPU per lead of validate's checks (no database: no dedupe round trip)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Runs what validate does to a lead before the duplicate check: the
//  vertical's field rules with normalisation (libphonenumber for phones, the
//  email rules), the ZIP table, the blacklist and the bot score, and the
//  fingerprint, on varied leads of the example marketplace's solar vertical.
//  Prints CPU microseconds per lead (p50, p90, p99, max) and the rate one
//  core gives (issue 5: under 20 us per lead).

#include "validate_server.h"
#include "pp_blacklist.h"
#include "pp_bot.h"
#include "pp_email.h"
#include "pp_json.h"
#include "pp_phone.h"
#include "pp_util.h"

#include <czmq.h>
#include <time.h>

static int64_t
s_cpu_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char *argv [])
{
    int leads = argc > 1 ? atoi (argv [1]) : 200000;
    const char *source = getenv ("PP_SOURCE_DIR");
    char *path = zsys_sprintf ("%s/examples/marketplace.json", source ? source : PP_BENCH_SOURCE_DIR);
    zchunk_t *chunk = zchunk_slurp (path, 0);
    zstr_free (&path);
    if (!chunk) {
        fprintf (stderr, "validate_bench: cannot read examples/marketplace.json\n");
        return 1;
    }
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse ((const char *) zchunk_data (chunk), zchunk_size (chunk),
                                           &errors, &count);
    pp_market_errors_free (&errors, count);
    zchunk_destroy (&chunk);
    assert (market);
    const pp_vertical_t *vertical = pp_market_vertical (market, "solar");
    pp_zip_t *zip = pp_zip_load (pp_zip_default_path ());
    pp_email_t *email = pp_email_new (pp_email_default_path ());
    pp_blacklist_t *blacklist = pp_blacklist_new ();
    int rc = pp_blacklist_add (blacklist, "email_domain", "spam.example")
             | pp_blacklist_add (blacklist, "cidr", "203.0.113.0/24")
             | pp_blacklist_add (blacklist, "name", "Test*");
    assert (rc == 0 && zip && email);
    pp_bot_config_t bot;
    pp_bot_config_from_vertical (vertical, &bot);
    pp_phone_init ();
    static const char *zips [] = {"90001", "89101", "73301", "98101", "33101", "80201", "10001"};
    static const char *states [] = {"CA", "NV", "TX", "WA", "FL", "CO", "NY"};
    int64_t *samples = (int64_t *) malloc ((size_t) leads * sizeof (int64_t));
    assert (samples);
    char started [40], consent_at [40];
    pp_time_iso (pp_now_us () - 90 * 1000000LL, started, sizeof started);
    pp_time_iso (pp_now_us (), consent_at, sizeof consent_at);
    int rejected = 0;
    for (int n = 0; n < leads; n++) {
        //  Build the lead outside the timed part (intake's work)
        char text [1024];
        int exchange = 230 + n % 300;
        if (exchange % 100 == 11 || exchange == 555)
            exchange++;
        snprintf (text, sizeof text,
                  "{\"first_name\": \"Dana\", \"last_name\": \"Doe%d\", \"email\": \"dana.%d@Example.COM\","
                  " \"phone\": \"(415) %03d-%04d\", \"zip\": \"%s\", \"state\": \"%s\","
                  " \"monthly_bill\": %d, \"home_owner\": true, \"credit\": \"good\"}",
                  n, n, exchange, 1000 + n % 9000, zips [n % 7], states [n % 7], 100 + n % 400);
        cJSON *json = cJSON_Parse (text);
        pp_lead_t *lead = pp_lead_new ("01J00000000000000000000001");
        pp_lead_set_vertical (lead, "solar");
        pp_lead_set_received_us (lead, pp_now_us ());
        pp_json_to_fields (json, pp_lead_fields (lead));
        cJSON_Delete (json);
        pp_fields_set_bool (pp_lead_consent (lead), "tcpa", true);
        pp_fields_set_str (pp_lead_consent (lead), "text", "I agree to be contacted.");
        pp_fields_set_str (pp_lead_consent (lead), "timestamp", consent_at);
        pp_fields_set_str (pp_lead_signals (lead), "form_started_at", started);
        pp_fields_set_str (pp_lead_signals (lead), "honeypot", "");
        pp_fields_set_str (pp_lead_signals (lead), "user_agent",
                           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36");
        pp_fields_set_str (pp_lead_signals (lead), "ip", "198.51.100.7");
        pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);

        int64_t start = s_cpu_ns ();
        int problems = validate_check (vertical, lead, result);
        if (problems == 0)
            problems = validate_check_zip (vertical, zip, lead, result);
        const char *field = NULL;
        if (problems == 0 && pp_blacklist_check (blacklist, vertical, pp_lead_fields (lead),
                                                 pp_lead_consent (lead), pp_lead_signals (lead),
                                                 &field))
            problems++;
        if (problems == 0 && pp_email_check (email, pp_fields_str (pp_lead_fields (lead), "email"),
                                             NULL, 0))
            problems++;
        pp_bot_hit_t hits [PP_BOT_MAX_HITS];
        size_t hit_count = 0;
        int score = pp_bot_score (&bot, pp_lead_signals (lead), pp_lead_consent (lead),
                                  pp_lead_received_us (lead), hits, PP_BOT_MAX_HITS, &hit_count);
        if (pp_bot_rejects (&bot, score))
            problems++;
        char fingerprint [65];
        validate_fingerprint (vertical, lead, fingerprint);
        samples [n] = s_cpu_ns () - start;

        rejected += problems > 0;
        pp_result_destroy (&result);
        pp_lead_destroy (&lead);
    }
    qsort (samples, (size_t) leads, sizeof (int64_t), s_compare);
    double sum = 0;
    for (int n = 0; n < leads; n++)
        sum += (double) samples [n];
    printf ("validate checks, %d leads (%d rejected): CPU per lead us: mean %.2f p50 %.2f p90 %.2f"
            " p99 %.2f max %.2f; one core: %.0f leads/s\n",
            leads, rejected, sum / leads / 1000, samples [leads / 2] / 1000.0,
            samples [leads * 9 / 10] / 1000.0, samples [leads * 99 / 100] / 1000.0,
            samples [leads - 1] / 1000.0, 1e9 * leads / sum);
    free (samples);
    pp_blacklist_destroy (&blacklist);
    pp_email_destroy (&email);
    pp_zip_destroy (&zip);
    pp_market_unlink (&market);
    return rejected == leads ? 1 : 0;
}
