/*  rawbuyer - the raw buyer-HTTP baseline: what a lead's pings and post cost with nothing else  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  pingpost-rawbuyer --url http://127.0.0.1:PORT [--pings 5] [--ping-prefix pb]
//                    [--post-buyer pb1] [--window 32] [--duration 3]
//                    [--warmup-ms 300] [--buyer-pid PID]
//
//  The part of a sold lead that no implementation can skip: its pings to
//  the buyers, at once, and its post to the winner once every ping has
//  answered, over kept-alive HTTP to the bench's mock buyer (the same
//  process the fleet pings, answering at once). One thread, libcurl multi
//  set up as the auction and deliver set theirs up (common/pp_http:
//  TCP_NODELAY, no Expect, at most 64 connections to the host), driven by
//  curl_multi_socket_action from an epoll loop (bench/bench_curl). Nothing
//  is built, parsed or recorded beyond the HTTP: the ping body is a fixed
//  partial lead of a lead's size with a new ping_id, the post body a fixed
//  full lead.
//
//  Closed loop: --window leads in flight (like wrk's connections). After
//  --warmup-ms of untimed traffic it measures for --duration seconds and
//  prints one JSON object: leads/s, requests/s, answer codes, latency of a
//  whole lead (pings, then post) and the CPU time per lead of this client
//  and, with --buyer-pid, of the mock buyer (from /proc), so scripts/bench
//  can set the buyers' share of a scenario's CPU beside what the fleet
//  spends around it.

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench_args.h"
#include "bench_curl.h"
#include "bench_stats.h"

#define RB_PINGS_MAX 16
#define RB_URL_MAX 512
#define RB_PING_ID_OFFSET (sizeof "{\"ping_id\":\"" - 1)  //  where the ping_id starts
#define RB_PING_ID_DIGITS 12
#define RB_MAXCONNECTS 256              //  as common/pp_http
#define RB_MAX_HOST_CONNECTIONS 64      //  as common/pp_http

//  A partial lead as the auction pings it (declared, non-personal fields)
//  and a full one as deliver posts it; the ping_id is rewritten per lead.
static const char s_ping_body [] =
    "{\"ping_id\":\"000000000000RAWBUYERPING\",\"vertical\":\"rawbuyer\",\"fields\":{"
    "\"state\":\"CA\",\"zip\":\"90001\",\"homeowner\":true,\"monthly_bill\":180,"
    "\"roof_shade\":\"none\",\"credit\":\"good\",\"utility\":\"PG&E\",\"property_type\":\"single\","
    "\"project_timeline\":\"1-3 months\",\"system_size_kw\":7.5}}";
static const char s_post_body [] =
    "{\"lead_id\":\"01RAWBUYERPOST000000000000\",\"vertical\":\"rawbuyer\",\"price\":\"19.50\","
    "\"first_name\":\"Pat\",\"last_name\":\"Example\",\"phone\":\"+12135550123\","
    "\"email\":\"pat.example@example.com\",\"address\":\"1 Main St\",\"city\":\"Los Angeles\","
    "\"state\":\"CA\",\"zip\":\"90001\",\"homeowner\":true,\"monthly_bill\":180,"
    "\"roof_shade\":\"none\",\"credit\":\"good\",\"utility\":\"PG&E\",\"property_type\":\"single\","
    "\"project_timeline\":\"1-3 months\",\"system_size_kw\":7.5,"
    "\"tcpa_consent\":true,\"trustedform_cert_url\":\"https://cert.trustedform.com/0123456789abcdef\"}";

typedef struct {
    const char *url;                    //  the mock buyer, http://host:port
    int pings;                          //  pings per lead
    const char *ping_prefix;            //  buyers <prefix>1..<prefix>N
    const char *post_buyer;             //  the buyer posted to
    int window;                         //  leads in flight
    double duration_s;                  //  measured time
    long warmup_ms;                     //  untimed traffic first
    long buyer_pid;                     //  the mock buyer's pid, 0: unknown
} rb_options_t;

//  One lead in flight: its ping handles, then its post handle.
typedef struct {
    CURL *pings [RB_PINGS_MAX];
    CURL *post;
    char ping_body [sizeof s_ping_body];
    int pings_left;                     //  pings not yet answered
    bool failed;                        //  a request of it failed or was not 2xx
    uint64_t started_us;                //  when its pings went out
} rb_lead_t;

typedef struct {
    uint64_t leads;                     //  leads whose every request got a 2xx, in the window
    uint64_t failed_leads;              //  leads with a failed or non-2xx request, in the window
    uint64_t requests;                  //  completed requests in the window
    uint64_t errors;                    //  transport errors (whole run)
    uint64_t non_2xx;                   //  answers not 2xx (whole run)
    char first_error [CURL_ERROR_SIZE + 64];
    bench_samples_t latency_us;         //  per lead in the window
} rb_stats_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: pingpost-rawbuyer --url http://HOST:PORT [--pings 5] [--ping-prefix pb]\n"
        "         [--post-buyer pb1] [--window 32] [--duration 3] [--warmup-ms 300]\n"
        "         [--buyer-pid PID]\n"
        "a lead's pings (POST /<prefix>N/ping, at once) then its post (POST /<buyer>/post)\n"
        "to a mock buyer, --window leads in flight; prints one JSON object on stdout\n");
}

static size_t
s_discard (char *data, size_t size, size_t nmemb, void *arg)
{
    return size * nmemb;
}

static bool
s_url_part_ok (const char *text)
{
    for (const char *p = text; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
            return false;
    return *text != 0;
}

static CURL *
s_easy_new (const char *url, const char *body, size_t size, struct curl_slist *headers,
            rb_lead_t *lead, char *error)
{
    CURL *easy = curl_easy_init ();
    assert (easy);
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, (void *) lead);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt (easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt (easy, CURLOPT_POST, 1L);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) size);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_discard);
    return easy;
}

//  Put the lead's pings in flight, each with a new ping_id; without pings
//  its post at once.
static void
s_lead_start (CURLM *multi, rb_lead_t *lead, int pings, uint64_t number)
{
    char digits [RB_PING_ID_DIGITS + 1];
    snprintf (digits, sizeof digits, "%0*" PRIu64, RB_PING_ID_DIGITS,
              number % (uint64_t) 1000000000000);
    memcpy (lead->ping_body + RB_PING_ID_OFFSET, digits, RB_PING_ID_DIGITS);
    lead->pings_left = pings;
    lead->failed = false;
    lead->started_us = bench_now_us ();
    for (int i = 0; i < pings; i++) {
        CURLMcode rc = curl_multi_add_handle (multi, lead->pings [i]);
        assert (rc == CURLM_OK);
    }
    if (pings == 0) {
        CURLMcode rc = curl_multi_add_handle (multi, lead->post);
        assert (rc == CURLM_OK);
    }
}

int
main (int argc, char *argv [])
{
    bench_args_init ("pingpost-rawbuyer", s_usage);
    rb_options_t options = {
        .pings = 5, .ping_prefix = "pb", .post_buyer = "pb1", .window = 32,
        .duration_s = 3, .warmup_ms = 300
    };
    static struct option longopts [] = {
        {"url", required_argument, NULL, 'u'},
        {"pings", required_argument, NULL, 'p'},
        {"ping-prefix", required_argument, NULL, 'P'},
        {"post-buyer", required_argument, NULL, 'b'},
        {"window", required_argument, NULL, 'w'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup-ms", required_argument, NULL, 'W'},
        {"buyer-pid", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "u:p:P:b:w:d:W:B:h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'u': options.url = optarg; break;
            case 'p': options.pings = (int) bench_parse_number (optarg, "bad --pings", 0, RB_PINGS_MAX); break;
            case 'P': options.ping_prefix = optarg; break;
            case 'b': options.post_buyer = optarg; break;
            case 'w': options.window = (int) bench_parse_number (optarg, "bad --window", 1, 4096); break;
            case 'd': options.duration_s = bench_parse_number (optarg, "bad --duration", 0.1, 86400); break;
            case 'W': options.warmup_ms = (long) bench_parse_number (optarg, "bad --warmup-ms", 0, 600000); break;
            case 'B': options.buyer_pid = (long) bench_parse_number (optarg, "bad --buyer-pid", 1, 1e9); break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return BENCH_EXIT_USAGE;
        }
    }
    if (optind < argc)
        bench_usage_error ("unexpected argument", argv [optind]);
    if (!options.url)
        bench_usage_error ("--url is required", NULL);
    if (strncmp (options.url, "http://", 7) != 0 || strlen (options.url) > RB_URL_MAX - 64)
        bench_usage_error ("bad --url (http://host:port)", options.url);
    if (!s_url_part_ok (options.ping_prefix))
        bench_usage_error ("bad --ping-prefix (letters, digits, - and _)", options.ping_prefix);
    if (!s_url_part_ok (options.post_buyer))
        bench_usage_error ("bad --post-buyer (letters, digits, - and _)", options.post_buyer);
    if (options.buyer_pid && bench_pid_cpu_us (options.buyer_pid) < 0) {
        char text [32];
        snprintf (text, sizeof text, "%ld", options.buyer_pid);
        bench_usage_error ("--buyer-pid: no such process", text);
    }
    size_t base = strlen (options.url);
    while (base && options.url [base - 1] == '/')
        base--;

    if (bench_curl_start ("pingpost-rawbuyer"))
        return 1;
    CURLM *multi = curl_multi_init ();
    assert (multi);
    curl_multi_setopt (multi, CURLMOPT_MAXCONNECTS, (long) RB_MAXCONNECTS);
    curl_multi_setopt (multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) RB_MAX_HOST_CONNECTIONS);
    bench_curl_loop_t *loop = bench_curl_loop_new (multi, "pingpost-rawbuyer");
    if (!loop)
        return 1;
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    headers = curl_slist_append (headers, "Expect:");
    assert (headers);

    rb_stats_t stats;
    memset (&stats, 0, sizeof stats);
    char error [CURL_ERROR_SIZE] = "";
    char ping_urls [RB_PINGS_MAX][RB_URL_MAX];
    for (int i = 0; i < options.pings; i++)
        snprintf (ping_urls [i], RB_URL_MAX, "%.*s/%s%d/ping", (int) base, options.url,
                  options.ping_prefix, i + 1);
    char post_url [RB_URL_MAX];
    snprintf (post_url, sizeof post_url, "%.*s/%s/post", (int) base, options.url,
              options.post_buyer);
    rb_lead_t *leads = (rb_lead_t *) calloc ((size_t) options.window, sizeof (rb_lead_t));
    assert (leads);
    uint64_t number = 0;
    for (int l = 0; l < options.window; l++) {
        rb_lead_t *lead = &leads [l];
        memcpy (lead->ping_body, s_ping_body, sizeof s_ping_body);
        for (int i = 0; i < options.pings; i++)
            lead->pings [i] = s_easy_new (ping_urls [i], lead->ping_body, sizeof s_ping_body - 1,
                                          headers, lead, error);
        lead->post = s_easy_new (post_url, s_post_body, sizeof s_post_body - 1, headers, lead,
                                 error);
    }

    uint64_t start = bench_now_us ();
    uint64_t measure_from = start + (uint64_t) options.warmup_ms * 1000u;
    uint64_t end = measure_from + (uint64_t) (options.duration_s * 1e6);
    uint64_t drain_until = end + 10000000u;
    int64_t cpu_from = 0, cpu_to = 0;
    int64_t buyer_from = -1, buyer_to = -1;
    bool measuring = false, sending = true;
    int in_flight = 0;
    for (int l = 0; l < options.window; l++) {
        s_lead_start (multi, &leads [l], options.pings, number++);
        in_flight++;
    }

    while (!bench_interrupted () && in_flight > 0) {
        uint64_t now = bench_now_us ();
        if (!measuring && now >= measure_from && sending) {
            measuring = true;
            cpu_from = bench_self_cpu_us ();
            buyer_from = bench_pid_cpu_us (options.buyer_pid);
        }
        if (sending && now >= end) {
            sending = false;
            measuring = false;
            cpu_to = bench_self_cpu_us ();
            buyer_to = bench_pid_cpu_us (options.buyer_pid);
        }
        if (now >= drain_until)
            break;
        bench_curl_loop_timeouts (loop);
        CURLMsg *message;
        int left;
        while ((message = curl_multi_info_read (multi, &left))) {
            if (message->msg != CURLMSG_DONE)
                continue;
            CURL *easy = message->easy_handle;
            rb_lead_t *lead = NULL;
            curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **) &lead);
            assert (lead);
            CURLcode result = message->data.result;
            long code = 0;
            curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &code);
            curl_multi_remove_handle (multi, easy);
            if (result != CURLE_OK) {
                lead->failed = true;
                if (!stats.errors++)
                    snprintf (stats.first_error, sizeof stats.first_error, "%s: %s",
                              curl_easy_strerror (result), error);
            }
            else
            if (code < 200 || code > 299) {
                lead->failed = true;
                if (!stats.non_2xx++ && !stats.errors)
                    snprintf (stats.first_error, sizeof stats.first_error, "HTTP %ld", code);
            }
            if (measuring)
                stats.requests++;
            //  Its post once every ping has answered, as the auction hands
            //  a lead to deliver; none after a failed ping
            if (easy != lead->post && (--lead->pings_left > 0 || !lead->failed)) {
                if (lead->pings_left == 0)
                    curl_multi_add_handle (multi, lead->post);
                continue;
            }
            //  The lead is done: count it, and the next one takes its place
            if (measuring && lead->failed)
                stats.failed_leads++;
            else
            if (measuring) {
                stats.leads++;
                bench_samples_push (&stats.latency_us, bench_now_us () - lead->started_us);
            }
            if (!sending) {
                in_flight--;
                continue;
            }
            s_lead_start (multi, lead, options.pings, number++);
        }
        uint64_t wake = UINT64_MAX;
        if (sending)
            wake = measuring ? end : measure_from;
        else
            wake = drain_until;
        bench_curl_loop_wait (loop, wake);
    }
    if (sending) {
        //  Interrupted before the end of the window
        cpu_to = bench_self_cpu_us ();
        buyer_to = bench_pid_cpu_us (options.buyer_pid);
    }
    double window_s = options.duration_s;
    bench_samples_sort (&stats.latency_us);
    double leads_per_s = (double) stats.leads / window_s;
    double client_us = stats.leads ? (double) (cpu_to - cpu_from) / (double) stats.leads : 0;
    printf ("{\"pings\":%d,\"window\":%d,\"duration_s\":%.3f,\"leads\":%" PRIu64
            ",\"failed_leads\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"non_2xx\":%" PRIu64 ",\"unfinished\":%d,\"leads_per_s\":%.1f"
            ",\"requests_per_s\":%.1f",
            options.pings, options.window, window_s, stats.leads, stats.failed_leads,
            stats.requests, stats.errors, stats.non_2xx, in_flight, leads_per_s,
            (double) stats.requests / window_s);
    printf (",\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 "}",
            bench_percentile (stats.latency_us.values, stats.latency_us.count, 50),
            bench_percentile (stats.latency_us.values, stats.latency_us.count, 90),
            bench_percentile (stats.latency_us.values, stats.latency_us.count, 99));
    printf (",\"cpu_us_per_lead\":{\"client\":%.1f", client_us);
    if (buyer_from >= 0 && buyer_to >= buyer_from && stats.leads) {
        double buyer_us = (double) (buyer_to - buyer_from) / (double) stats.leads;
        printf (",\"buyer\":%.1f,\"total\":%.1f", buyer_us, client_us + buyer_us);
    }
    printf ("},\"first_error\":\"");
    bench_print_json_text (stats.first_error);
    printf ("\"}\n");
    fflush (stdout);

    for (int l = 0; l < options.window; l++) {
        for (int i = 0; i < options.pings; i++) {
            curl_multi_remove_handle (multi, leads [l].pings [i]);
            curl_easy_cleanup (leads [l].pings [i]);
        }
        curl_multi_remove_handle (multi, leads [l].post);
        curl_easy_cleanup (leads [l].post);
    }
    free (leads);
    bench_samples_free (&stats.latency_us);
    bench_curl_loop_destroy (&loop);
    curl_multi_cleanup (multi);
    curl_slist_free_all (headers);
    curl_global_cleanup ();
    if (bench_interrupted ())
        return 130;
    return stats.leads && !stats.errors && !stats.non_2xx ? 0 : 1;
}
