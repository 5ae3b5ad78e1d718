/*  loadgen - open-loop HTTP load generator for the publisher API: fixed rate, per-request latency  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  pingpost-loadgen --url URL --key KEY --rate R --duration S [options]
//
//  Sends varied solar leads (a unique phone and email on every request) to
//  POST /v1/leads. With --rate R > 0 it is open loop: request i is due at
//  start + i / R whatever happened to earlier requests, and its latency runs
//  from that due time, so a stalled server shows in the figures instead of
//  slowing the sender (no coordinated omission). With --rate 0 it is closed
//  loop: --connections requests always in flight. Open loop keeps at most
//  --max-connections (256) requests in flight; requests due meanwhile wait
//  in the generator (their wait counts in their latency), and those still
//  waiting when the drain time (--http-timeout-ms after the window) is up
//  are given up: "unsent" in the JSON.
//
//  One thread: libcurl multi with keep-alive, driven by curl_multi_socket_action
//  from an epoll loop (bench/bench_curl: a slow server with hundreds of
//  requests in flight costs no more per request than a fast one) whose
//  timerfd also wakes it at each due time with microsecond precision.
//  Prints one JSON object on stdout (counts, HTTP codes, lead statuses,
//  latency percentiles, achieved rate) and a one-line summary on stderr.
//
//  --reject makes every lead one that validate rejects: its phone is a
//  fictitious 555-01xx number (reason phone_invalid), everything else as
//  usual (scripts/bench's `reject` scenario: the validation reject path).

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench_args.h"
#include "bench_curl.h"
#include "bench_stats.h"

#define LG_BODY_MAX 1024                //  one lead's JSON body
#define LG_ANSWER_MAX 2048              //  answer bytes kept (the status is near the start)
#define LG_STATUS_COUNT 6

//  Lead statuses of the publisher API, plus "other" for anything else.
static const char *s_status_names [LG_STATUS_COUNT]
    = {"sold", "unsold", "rejected", "duplicate", "error", "other"};

//  State and ZIP pairs the leads cycle through (validate checks both).
static const char *s_places [][2] = {
    {"CA", "90001"}, {"NV", "89101"}, {"TX", "73301"}, {"FL", "33101"}, {"NY", "10001"},
    {"AZ", "85001"}, {"CO", "80201"}, {"NJ", "07001"}, {"WA", "98101"}, {"OR", "97201"}
};
#define LG_PLACES (sizeof s_places / sizeof s_places [0])
static const char *s_credits [] = {"excellent", "good", "fair", "poor"};

//  Area codes in service (libphonenumber's US plan takes them all); the
//  exchange is 200-999 without N11 and 555, so every number is a valid,
//  non-fictional US number.
static const unsigned short s_areas [] = {
    201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218,
    219, 224, 225, 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260,
    262, 267, 269, 270, 276, 281, 301, 302, 303, 304, 305, 307, 308, 309, 310, 312,
    313, 314, 315, 316, 317, 318, 319, 320, 321, 323, 325, 330, 334, 336, 337, 339,
    347, 351, 352, 360, 361, 386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412,
    413, 414, 415, 417, 419, 423, 425, 432, 434, 435, 440, 443, 469, 478, 479, 480,
    484, 501, 502, 503, 504, 505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518,
    520, 530, 540, 541, 559, 561, 562, 563, 567, 570, 571, 573, 574, 580, 585, 586,
    601, 602, 603, 605, 606, 607, 608, 609, 610, 612, 614, 615, 616, 617, 618, 619,
    620, 623, 626, 630, 631, 636, 641, 646, 650, 651, 660, 661, 662, 678, 682, 701,
    702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724,
    727, 731, 732, 734, 740, 754, 757, 760, 763, 765, 770, 772, 773, 774, 775, 781,
    785, 786, 801, 802, 803, 804, 805, 806, 810, 812, 813, 814, 815, 816, 817, 818,
    828, 830, 831, 832, 843, 845, 847, 848, 850, 856, 857, 858, 859, 860, 862, 863,
    864, 865, 870, 901, 903, 904, 906, 907, 908, 909, 910, 912, 913, 914, 915, 916,
    917, 918, 919, 920, 925, 928, 931, 936, 937, 940, 941, 949, 951, 952, 954, 956,
    970, 971, 972, 973, 978, 979, 980, 985, 989
};
#define LG_AREAS (sizeof s_areas / sizeof s_areas [0])
#define LG_EXCHANGES 791                //  200..999 less 211..911 and 555
static unsigned short s_exchanges [LG_EXCHANGES];

static void
s_exchanges_init (void)
{
    size_t count = 0;
    for (unsigned e = 200; e <= 999; e++)
        if (e % 100 != 11 && e != 555)
            s_exchanges [count++] = (unsigned short) e;
    assert (count == LG_EXCHANGES);
}

typedef struct {
    const char *url;                    //  POST target
    const char *key;                    //  publisher API key
    const char *source;                 //  lead "source" (the bench tags its phases with it)
    const char *vertical;               //  lead "vertical"
    double rate;                        //  leads per second; 0 = closed loop
    double duration_s;                  //  sending time
    long connections;                   //  closed loop: requests in flight
    long max_connections;               //  open loop: connections to the server at most
    long lead_timeout_ms;               //  the lead's "timeout_ms"
    long http_timeout_ms;               //  client-side timeout of one request
    uint64_t seed;                      //  first phone/email number of this run
    bool reject;                        //  fictitious phones: validate rejects every lead
    bool quiet;                         //  no summary line on stderr
} lg_options_t;

typedef struct lg_request lg_request_t;

//  One request slot; reused through the free list.
struct lg_request {
    CURL *easy;                         //  its easy handle (options set once)
    uint64_t due_us;                    //  when it was due (open loop) or sent (closed)
    char body [LG_BODY_MAX];            //  the lead
    char answer [LG_ANSWER_MAX + 1];    //  answer body, NUL terminated, cut at LG_ANSWER_MAX
    size_t answer_size;                 //  bytes in answer
    bool in_multi;                      //  added to the multi handle, not yet removed
    lg_request_t *next;                 //  in the free list
    lg_request_t *all_next;             //  in the list of every request made
};

typedef struct {
    bench_samples_t latency_us;         //  one per completed 200 answer
    bench_samples_t lag_us;             //  how late each send was against its due time
    uint64_t sent;                      //  requests started
    uint64_t completed;                 //  requests with any HTTP answer
    uint64_t transport_errors;          //  curl errors (refused, reset, timeout...)
    uint64_t http_200;                  //  answers with status 200
    uint64_t http_codes [600];          //  answers by HTTP status
    uint64_t status [LG_STATUS_COUNT];  //  200 answers by lead status
    uint64_t connects;                  //  new connections curl made
    char first_error [256];             //  first transport error or unexpected answer, for the log
} lg_stats_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: pingpost-loadgen --url URL --key KEY --duration S (--rate R | --rate 0 --connections C)\n"
        "         [--source NAME] [--vertical solar] [--seed N] [--lead-timeout-ms 3000]\n"
        "         [--http-timeout-ms 10000] [--max-connections 256] [--reject] [--quiet]\n"
        "open loop at R leads/s (latency from each request's due time), or closed loop\n"
        "with C requests in flight; prints one JSON object on stdout\n"
        "--reject: every lead has a fictitious 555-01xx phone (validate rejects it)\n");
}

//  --------------------------------------------------------------------------
//  The n-th lead of this run: a valid US phone (distinct for the first
//  ~1.9 billion numbers) and a unique email for every n, so no lead is a
//  duplicate of another; the other fields vary so validate and filter see
//  realistic input.

static void
s_make_lead (const lg_options_t *options, uint64_t n, const char *nonce, const char *now_iso,
             char *body)
{
    uint64_t k = options->seed + n;
    unsigned line = (unsigned) (k % 10000);
    unsigned exchange = s_exchanges [(k / 10000) % LG_EXCHANGES];
    if (options->reject) {
        //  555-0100..0199: reserved for fiction, phone_invalid in validate
        exchange = 555;
        line = 100 + (unsigned) (k % 100);
    }
    unsigned area = s_areas [(k / (10000 * LG_EXCHANGES)) % LG_AREAS];
    const char **place = s_places [n % LG_PLACES];
    int written = snprintf (body, LG_BODY_MAX,
        "{\"vertical\":\"%s\",\"source\":\"%s\",\"sub_id\":\"s%u\",\"timeout_ms\":%ld,"
        "\"fields\":{\"first_name\":\"Bench\",\"last_name\":\"Lead\","
        "\"email\":\"lg%" PRIu64 ".%s@bench.example.com\",\"phone\":\"(%03u) %03u-%04u\","
        "\"zip\":\"%s\",\"state\":\"%s\",\"monthly_bill\":%u,\"home_owner\":%s,"
        "\"credit\":\"%s\"},"
        "\"consent\":{\"tcpa\":true,\"text\":\"I agree to be contacted by solar partners.\","
        "\"timestamp\":\"%s\"},\"signals\":{\"honeypot\":\"\"}}",
        options->vertical, options->source, (unsigned) (n % 50), options->lead_timeout_ms, k,
        nonce, area, exchange, line, place [1], place [0], 50 + (unsigned) ((n * 37) % 450),
        n % 3 ? "true" : "false", s_credits [n % 4], now_iso);
    assert (written > 0 && written < LG_BODY_MAX);
}

static size_t
s_on_write (char *data, size_t size, size_t nmemb, void *arg)
{
    lg_request_t *request = (lg_request_t *) arg;
    size_t bytes = size * nmemb;
    size_t room = LG_ANSWER_MAX - request->answer_size;
    size_t take = bytes < room ? bytes : room;
    memcpy (request->answer + request->answer_size, data, take);
    request->answer_size += take;
    request->answer [request->answer_size] = 0;
    return bytes;
}

static lg_request_t *
s_request_new (const lg_options_t *options, struct curl_slist *headers, lg_request_t **all)
{
    lg_request_t *request = (lg_request_t *) calloc (1, sizeof (lg_request_t));
    assert (request);
    request->all_next = *all;
    *all = request;
    request->easy = curl_easy_init ();
    assert (request->easy);
    CURL *easy = request->easy;
    curl_easy_setopt (easy, CURLOPT_URL, options->url);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (easy, CURLOPT_POST, 1L);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, options->http_timeout_ms);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, request);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, request);
    return request;
}

//  --------------------------------------------------------------------------
//  Find "status" in a publisher API answer and count its value.

static void
s_count_status (lg_stats_t *stats, const char *answer)
{
    const char *p = strstr (answer, "\"status\"");
    size_t index = LG_STATUS_COUNT - 1;
    if (p) {
        p += strlen ("\"status\"");
        while (*p == ' ' || *p == ':')
            p++;
        if (*p == '"') {
            p++;
            for (size_t i = 0; i + 1 < LG_STATUS_COUNT; i++) {
                size_t len = strlen (s_status_names [i]);
                if (strncmp (p, s_status_names [i], len) == 0 && p [len] == '"') {
                    index = i;
                    break;
                }
            }
        }
    }
    stats->status [index]++;
}

static void
s_on_done (lg_stats_t *stats, lg_request_t *request, CURLcode result, uint64_t now)
{
    if (result != CURLE_OK) {
        stats->transport_errors++;
        if (!*stats->first_error)
            snprintf (stats->first_error, sizeof stats->first_error, "curl: %s",
                      curl_easy_strerror (result));
        return;
    }
    long code = 0;
    curl_easy_getinfo (request->easy, CURLINFO_RESPONSE_CODE, &code);
    long connects = 0;
    curl_easy_getinfo (request->easy, CURLINFO_NUM_CONNECTS, &connects);
    stats->connects += (uint64_t) connects;
    stats->completed++;
    if (code >= 0 && code < 600)
        stats->http_codes [code]++;
    if (code == 200) {
        stats->http_200++;
        bench_samples_push (&stats->latency_us, now > request->due_us ? now - request->due_us : 0);
        s_count_status (stats, request->answer);
    }
    else
    if (!*stats->first_error)
        snprintf (stats->first_error, sizeof stats->first_error, "HTTP %ld: %.200s", code,
                  request->answer);
}

//  Collect finished transfers: count them and return their requests to the
//  free list. Returns how many finished.
static long
s_drain (CURLM *multi, lg_stats_t *stats, lg_request_t **free_list, uint64_t *last_done)
{
    long done = 0;
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (multi, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        lg_request_t *request = NULL;
        curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **) &request);
        assert (request);
        CURLcode result = message->data.result;
        curl_multi_remove_handle (multi, request->easy);
        request->in_multi = false;
        uint64_t done_at = bench_now_us ();
        s_on_done (stats, request, result, done_at);
        *last_done = done_at;
        request->next = *free_list;
        *free_list = request;
        done++;
    }
    return done;
}

static void
s_print_percentiles (const char *name, bench_samples_t *samples, bool last)
{
    bench_samples_sort (samples);
    const uint64_t *values = samples->values;
    size_t count = samples->count;
    double sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += (double) values [i];
    printf ("\"%s\":{\"count\":%zu,\"mean\":%.1f,\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
            ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "}%s",
            name, count, count ? sum / (double) count : 0.0, bench_percentile (values, count, 50),
            bench_percentile (values, count, 90), bench_percentile (values, count, 99),
            bench_percentile (values, count, 99.9), count ? values [count - 1] : 0, last ? "" : ",");
}

int
main (int argc, char *argv [])
{
    bench_args_init ("pingpost-loadgen", s_usage);
    lg_options_t options = {
        .source = "bench", .vertical = "solar", .rate = 1000, .duration_s = 10,
        .connections = 32, .max_connections = 256, .lead_timeout_ms = 3000,
        .http_timeout_ms = 10000, .seed = 0
    };
    bool have_seed = false;
    static struct option longopts [] = {
        {"url", required_argument, NULL, 'u'},
        {"key", required_argument, NULL, 'k'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"connections", required_argument, NULL, 'c'},
        {"max-connections", required_argument, NULL, 'm'},
        {"source", required_argument, NULL, 's'},
        {"vertical", required_argument, NULL, 'V'},
        {"seed", required_argument, NULL, 'S'},
        {"lead-timeout-ms", required_argument, NULL, 'T'},
        {"http-timeout-ms", required_argument, NULL, 'H'},
        {"reject", no_argument, NULL, 'R'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "u:k:r:d:c:m:s:V:S:T:H:Rqh", longopts, NULL)) != -1) {
        switch (opt) {
            case 'u': options.url = optarg; break;
            case 'k': options.key = optarg; break;
            case 'r': options.rate = bench_parse_number (optarg, "bad --rate", 0, 1e6); break;
            case 'd': options.duration_s = bench_parse_number (optarg, "bad --duration", 0.01, 86400); break;
            case 'c': options.connections = (long) bench_parse_number (optarg, "bad --connections", 1, 10000); break;
            case 'm': options.max_connections = (long) bench_parse_number (optarg, "bad --max-connections", 1, 10000); break;
            case 's': options.source = optarg; break;
            case 'V': options.vertical = optarg; break;
            case 'S':
                options.seed = (uint64_t) bench_parse_number (optarg, "bad --seed", 0, 1e15);
                have_seed = true;
                break;
            case 'T': options.lead_timeout_ms = (long) bench_parse_number (optarg, "bad --lead-timeout-ms", 1, 600000); break;
            case 'H': options.http_timeout_ms = (long) bench_parse_number (optarg, "bad --http-timeout-ms", 1, 600000); break;
            case 'R': options.reject = true; break;
            case 'q': options.quiet = true; break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return BENCH_EXIT_USAGE;
        }
    }
    if (optind < argc)
        bench_usage_error ("unexpected argument", argv [optind]);
    if (!options.url || !options.key)
        bench_usage_error ("--url and --key are required", NULL);
    for (const char *p = options.source; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char) *p < 0x20)
            bench_usage_error ("bad --source (no quotes, backslashes or control characters)", options.source);
    for (const char *p = options.vertical; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char) *p < 0x20)
            bench_usage_error ("bad --vertical", options.vertical);

    //  Without --seed, numbers start from the clock so two runs never collide
    //  on the dedupe window; the nonce in the email makes that doubly sure.
    if (!have_seed)
        options.seed = (uint64_t) time (NULL) % 100000 * 10000;
    char nonce [32];
    snprintf (nonce, sizeof nonce, "%lx%x", (unsigned long) time (NULL), (unsigned) getpid ());
    char now_iso [32];
    time_t wall = time (NULL);
    struct tm tm_utc;
    gmtime_r (&wall, &tm_utc);
    strftime (now_iso, sizeof now_iso, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);

    s_exchanges_init ();
    if (bench_curl_start ("pingpost-loadgen"))
        return 1;
    CURLM *multi = curl_multi_init ();
    assert (multi);
    long in_flight_max = options.rate > 0 ? options.max_connections : options.connections;
    curl_multi_setopt (multi, CURLMOPT_MAX_HOST_CONNECTIONS, in_flight_max);
    curl_multi_setopt (multi, CURLMOPT_MAXCONNECTS, in_flight_max);
    char authorization [512];
    snprintf (authorization, sizeof authorization, "Authorization: Bearer %s", options.key);
    struct curl_slist *headers = NULL;
    headers = curl_slist_append (headers, "Content-Type: application/json");
    headers = curl_slist_append (headers, authorization);
    headers = curl_slist_append (headers, "Expect:");
    assert (headers);

    bench_curl_loop_t *loop = bench_curl_loop_new (multi, "pingpost-loadgen");
    if (!loop)
        return 1;

    lg_stats_t stats;
    memset (&stats, 0, sizeof stats);
    lg_request_t *free_list = NULL;
    lg_request_t *all = NULL;          //  every request made, to free at the end
    long in_flight = 0;
    bool open_loop = options.rate > 0;
    uint64_t start = bench_now_us ();
    uint64_t end = start + (uint64_t) (options.duration_s * 1e6);
    uint64_t drain_until = end + (uint64_t) options.http_timeout_ms * 1000u;
    uint64_t index = 0;             //  next request's number
    bool sending = true;
    uint64_t last_done = start;
    uint64_t unsent = 0;            //  open loop: due in the window, never sent (overload)

    while (!bench_interrupted ()) {
        uint64_t now = bench_now_us ();
        if (sending && !open_loop && now >= end)
            sending = false;
        //  Start every request that is due (open loop: every one due before
        //  the end is sent, however late) or every free slot (closed loop)
        while (sending) {
            uint64_t due;
            if (open_loop) {
                due = start + (uint64_t) ((double) index * 1e6 / options.rate);
                if (due >= end) {
                    sending = false;
                    break;
                }
                if (due > now)
                    break;
                //  An overloaded server: the requests due wait here for a
                //  connection (their wait counts: latency runs from the due
                //  time), not in libcurl's queue, whose handling grows with
                //  its length; and those still unsent when the drain time is
                //  up are given up and counted
                if (now >= drain_until) {
                    for (uint64_t i = index;
                         start + (uint64_t) ((double) i * 1e6 / options.rate) < end; i++)
                        unsent++;
                    sending = false;
                    break;
                }
                if (in_flight >= options.max_connections)
                    break;
            }
            else {
                if (in_flight >= options.connections)
                    break;
                due = now;
            }
            lg_request_t *request = free_list;
            if (request)
                free_list = request->next;
            else
                request = s_request_new (&options, headers, &all);
            request->due_us = due;
            request->answer_size = 0;
            request->answer [0] = 0;
            s_make_lead (&options, index, nonce, now_iso, request->body);
            curl_easy_setopt (request->easy, CURLOPT_POSTFIELDS, request->body);
            curl_easy_setopt (request->easy, CURLOPT_POSTFIELDSIZE, (long) strlen (request->body));
            CURLMcode mc = curl_multi_add_handle (multi, request->easy);
            assert (mc == CURLM_OK);
            request->in_multi = true;
            bench_samples_push (&stats.lag_us, now - due);
            in_flight++;
            index++;
            stats.sent++;
        }
        //  A new handle sets curl's timer to 0: it starts on this action
        bench_curl_loop_timeouts (loop);
        long done = s_drain (multi, &stats, &free_list, &last_done);
        in_flight -= done;
        //  A closed loop refills the slots its answers freed before it waits
        if (done && sending && !open_loop)
            continue;
        now = bench_now_us ();
        if (!sending && (in_flight == 0 || now >= drain_until))
            break;
        //  Sleep until a socket is ready, curl's timer, the next due time,
        //  the end of the sending window or the drain deadline
        uint64_t wake = UINT64_MAX;
        if (sending && open_loop) {
            uint64_t due = start + (uint64_t) ((double) index * 1e6 / options.rate);
            if (due < wake && in_flight < options.max_connections)
                wake = due;
            if (drain_until < wake)
                wake = drain_until;
        }
        else
        if (sending && end < wake)
            wake = end;
        if (!sending && drain_until < wake)
            wake = drain_until;
        bench_curl_loop_wait (loop, wake);
    }
    uint64_t finished = bench_now_us ();
    uint64_t unfinished = (uint64_t) in_flight;

    //  Achieved rate: answers over the sending window (the drain after it
    //  only collects answers to requests sent inside it)
    double window_s = (double) ((end < finished ? end : finished) - start) / 1e6;
    double answered_s = (double) (last_done - start) / 1e6;
    printf ("{\"mode\":\"%s\",\"target_rate\":%.1f,\"connections\":%ld,\"duration_s\":%.3f,"
            "\"sent\":%" PRIu64 ",\"unsent\":%" PRIu64 ",\"completed\":%" PRIu64
            ",\"unfinished\":%" PRIu64
            ",\"transport_errors\":%" PRIu64 ",\"http_200\":%" PRIu64 ",\"new_connections\":%" PRIu64
            ",\"sent_rate\":%.1f,\"achieved_rate\":%.1f,\"http_codes\":{",
            open_loop ? "rate" : "closed", options.rate, open_loop ? 0 : options.connections,
            window_s, stats.sent, unsent, stats.completed, unfinished, stats.transport_errors,
            stats.http_200, stats.connects, window_s > 0 ? (double) stats.sent / window_s : 0,
            answered_s > 0 ? (double) stats.http_200 / answered_s : 0);
    bool first = true;
    for (int code = 0; code < 600; code++)
        if (stats.http_codes [code]) {
            printf ("%s\"%d\":%" PRIu64, first ? "" : ",", code, stats.http_codes [code]);
            first = false;
        }
    printf ("},\"status\":{");
    for (size_t i = 0; i < LG_STATUS_COUNT; i++)
        printf ("%s\"%s\":%" PRIu64, i ? "," : "", s_status_names [i], stats.status [i]);
    printf ("},");
    printf ("\"first_error\":\"");
    bench_print_json_text (stats.first_error);
    printf ("\",");
    //  Sorts in place: the arrays are not used after this
    s_print_percentiles ("latency_us", &stats.latency_us, false);
    s_print_percentiles ("send_lag_us", &stats.lag_us, true);
    const uint64_t *latency = stats.latency_us.values;
    size_t latency_count = stats.latency_us.count;
    printf ("}\n");
    fflush (stdout);
    if (!options.quiet)
        fprintf (stderr,
                 "pingpost-loadgen: %s %.0f/s for %.1f s: sent %" PRIu64 ", 200 %" PRIu64
                 ", sold %" PRIu64 ", errors %" PRIu64 ", p50 %.2f ms, p99 %.2f ms\n",
                 open_loop ? "rate" : "closed", open_loop ? options.rate : (double) options.connections,
                 window_s, stats.sent, stats.http_200, stats.status [0], stats.transport_errors,
                 (double) bench_percentile (latency, latency_count, 50) / 1000.0,
                 (double) bench_percentile (latency, latency_count, 99) / 1000.0);

    //  Tear down: requests still in flight (drain timed out), then the pool
    while (all) {
        lg_request_t *next = all->all_next;
        if (all->in_multi)
            curl_multi_remove_handle (multi, all->easy);
        curl_easy_cleanup (all->easy);
        free (all);
        all = next;
    }
    bench_curl_loop_destroy (&loop);
    curl_multi_cleanup (multi);
    curl_slist_free_all (headers);
    curl_global_cleanup ();
    bench_samples_free (&stats.latency_us);
    bench_samples_free (&stats.lag_us);
    return bench_interrupted () ? 130 : 0;
}
