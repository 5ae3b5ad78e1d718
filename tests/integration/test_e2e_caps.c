/*  test_e2e_caps - caps hold exactly under 2,000 concurrent leads through two filters and two delivers  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Two filter and two deliver instances. "capped" bids 30.00 with a count
//  cap of 100 a day and an amount cap of 3,000.00 a day; "fallback" bids
//  10.00 without caps. 2,000 leads fired at once: exactly 100 sales to
//  capped, the rest to fallback, counters that agree, and every lead that
//  missed capped says why (the filter's "cap" or deliver's post_skipped
//  cap_full). Then "amount" (40.00, 100 a day, 1,000.00 a day) joins: its
//  amount cap binds first, at exactly 25 sales. Last, "paced" (60.00, a
//  count cap of 100 a day with even pacing over a 200-minute window that
//  opens now) takes one lead, then filter paces it out (reason "pacing").

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pp_fleet.h"

static const char *s_mock_buyers [] = {
    "capped:bid=30.00,delay_ms=0,accept=1",
    "amount:bid=40.00,delay_ms=0,accept=1",
    "fallback:bid=10.00,delay_ms=0,accept=1",
    "picky:bid=50.00,delay_ms=0,accept=0.2",
    "paced:bid=60.00,delay_ms=0,accept=1",
    NULL
};

typedef struct {
    pp_fleet_t *fleet;          //  the fleet of this program
    char zone [64];             //  the capped campaigns' time zone
} s_state_t;

//  The first of some zones whose local minute of the day is now in [from,
//  to) (its minute into *minute): true when one is; else "UTC".
static bool
s_pick_zone (char *zone, size_t size, int from, int to, int *minute)
{
    static const char *zones [] = {"UTC", "America/New_York", "America/Los_Angeles",
                                   "Asia/Tokyo", "Europe/Berlin", "Asia/Kolkata"};
    time_t now = time (NULL);
    char *saved = getenv ("TZ") ? strdup (getenv ("TZ")) : NULL;
    snprintf (zone, size, "%s", zones [0]);
    bool found = false;
    for (size_t i = 0; i < sizeof zones / sizeof zones [0] && !found; i++) {
        setenv ("TZ", zones [i], 1);
        tzset ();
        struct tm tm;
        localtime_r (&now, &tm);
        int local = tm.tm_hour * 60 + tm.tm_min;
        if (local >= from && local < to) {
            snprintf (zone, size, "%s", zones [i]);
            *minute = local;
            found = true;
        }
    }
    if (saved) {
        setenv ("TZ", saved, 1);
        free (saved);
    }
    else
        unsetenv ("TZ");
    tzset ();
    return found;
}

//  The marketplace; with_amount adds the "amount" buyer, with_picky the
//  "picky" one. Caller frees.
static char *
s_market (const char *zone, bool with_amount, bool with_picky)
{
    char *buyers = NULL;
    int rc = asprintf (
        &buyers,
        "[{\"name\": \"capped\", \"campaigns\": [{"
        "   \"name\": \"capped-c\", \"vertical\": \"solar\", \"tier\": 1,"
        "   \"bid\": {\"fixed\": 30.00},"
        "   \"post\": {\"url\": \"@BUYER@/capped/post\", \"timeout_ms\": 5000},"
        "   \"filters\": {\"states\": [\"CA\"]},"
        "   \"schedule\": {\"time_zone\": \"%s\"},"
        "   \"caps\": [{\"count\": 100, \"per\": \"day\"}, {\"amount\": 3000.00, \"per\": \"day\"}]}]},"
        " %s %s"
        " {\"name\": \"fallback\", \"campaigns\": [{"
        "   \"name\": \"fallback-c\", \"vertical\": \"solar\", \"tier\": 1,"
        "   \"bid\": {\"fixed\": 10.00},"
        "   \"post\": {\"url\": \"@BUYER@/fallback/post\", \"timeout_ms\": 5000},"
        "   \"filters\": {\"states\": [\"CA\"]}}]}]",
        zone,
        with_amount
            ? "{\"name\": \"amount\", \"campaigns\": [{"
              "   \"name\": \"amount-c\", \"vertical\": \"solar\", \"tier\": 1,"
              "   \"bid\": {\"fixed\": 40.00},"
              "   \"post\": {\"url\": \"@BUYER@/amount/post\", \"timeout_ms\": 5000},"
              "   \"filters\": {\"states\": [\"CA\"]},"
              "   \"schedule\": {\"time_zone\": \"UTC\"},"
              "   \"caps\": [{\"count\": 100, \"per\": \"day\"},"
              "              {\"amount\": 1000.00, \"per\": \"day\"}]}]},"
            : "",
        with_picky
            ? "{\"name\": \"picky\", \"campaigns\": [{"
              "   \"name\": \"picky-c\", \"vertical\": \"solar\", \"tier\": 1,"
              "   \"bid\": {\"fixed\": 50.00},"
              "   \"post\": {\"url\": \"@BUYER@/picky/post\", \"timeout_ms\": 5000},"
              "   \"filters\": {\"states\": [\"CA\"]},"
              "   \"caps\": [{\"count\": 50, \"per\": \"day\"},"
              "              {\"count\": 100000, \"per\": \"month\"},"
              "              {\"amount\": 1000000.00, \"per\": \"total\"}]}]},"
            : "");
    if (rc < 0)
        return NULL;
    char *market = pp_fleet_market_json (buyers);
    free (buyers);
    return market;
}

static int
s_setup (void **state)
{
    s_state_t *self = calloc (1, sizeof *self);
    *state = self;
    if (!self)
        return -1;
    //  Not near midnight, so a day cap cannot roll over during the run
    int minute;
    s_pick_zone (self->zone, sizeof self->zone, 2 * 60, 22 * 60, &minute);
    printf ("capped campaigns count their days in %s\n", self->zone);
    self->fleet = pp_fleet_new ("test_e2e_caps", "filter=2,deliver=2");
    if (!self->fleet)
        return -1;
    if (pp_fleet_slots (self->fleet, "filter") != 2 || pp_fleet_slots (self->fleet, "deliver") != 2) {
        printf ("the fleet runs %d filter and %d deliver instances, not 2 and 2\n",
                pp_fleet_slots (self->fleet, "filter"), pp_fleet_slots (self->fleet, "deliver"));
        return -1;
    }
    if (pp_fleet_mockbuyer_start (self->fleet, s_mock_buyers))
        return -1;
    char *market = s_market (self->zone, false, false);
    int rc = market ? pp_fleet_apply (self->fleet, market) : -1;
    free (market);
    return rc;
}

static int
s_teardown (void **state)
{
    s_state_t *self = *state;
    if (self) {
        pp_fleet_destroy (&self->fleet);
        free (self);
    }
    return 0;
}

//  Fire `count` fresh CA leads at once; returns how many were sold (all
//  must be answered 200 sold or unsold).
static int
s_fire (pp_fleet_t *fleet, int count, int concurrency)
{
    pp_fleet_batch_t *batch = pp_fleet_batch_new (fleet, concurrency);
    for (int i = 0; i < count; i++) {
        cJSON *lead = pp_fleet_lead_new ("CA", "90001");
        cJSON_ReplaceItemInObjectCaseSensitive (lead, "timeout_ms", cJSON_CreateNumber (20000));
        pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, lead);
        cJSON_Delete (lead);
    }
    int64_t start = pp_fleet_now_us ();
    size_t pending = pp_fleet_batch_run (batch, 50000);
    double seconds = (double) (pp_fleet_now_us () - start) / 1e6;
    PP_CHECKF (fleet, pending == 0, "%zu of %d requests unanswered", pending, count);
    int sold = 0, other = 0;
    for (int i = 0; i < count; i++) {
        pp_fleet_reply_t *reply = pp_fleet_batch_reply (batch, (size_t) i);
        if (reply->status == 200 && strcmp (pp_fleet_reply_status (reply), "sold") == 0)
            sold++;
        else
        if (other++ < 3) {
            pp_fleet_reply_print (reply, "lead not sold");
            const char *lead_id = pp_fleet_reply_lead_id (reply);
            if (*lead_id && pp_fleet_wait_answered (fleet, lead_id, 10000) == 0) {
                char *events = pp_fleet_sql (
                    fleet, "select string_agg(e.kind || ':' || coalesce(c.name, '-') ||"
                           " coalesce(':' || e.code, '') || ' +' || ((extract(epoch from e.at)"
                           " - extract(epoch from l.received_at)) * 1000)::int || 'ms', ', '"
                           " order by e.at, e.event_id) from events e join leads l using"
                           " (lead_id) left join campaigns c on c.id = e.campaign_id"
                           " where e.lead_id = $1", lead_id, NULL);
                printf ("  its events: %s\n", events ? events : "(none)");
                free (events);
            }
        }
    }
    printf ("%d leads on %d connections in %.1f s (%.0f/s): %d sold, %d not\n", count,
            concurrency, seconds, count / seconds, sold, other);
    pp_fleet_batch_destroy (&batch);
    PP_CHECKF (fleet, other == 0, "%d of %d leads not sold (the fallback takes any CA lead)",
               other, count);
    return sold;
}

//  Every sold lead's sales rows are in the ledger (events are batched).
static void
s_wait_ledger (pp_fleet_t *fleet, int sold_total)
{
    char expected [32];
    snprintf (expected, sizeof expected, "%d", sold_total);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, expected, 20000,
                                        "select count(distinct lead_id) from sales", NULL) == 0);
    //  ... and every answer
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, expected, 20000,
                                        "select count(*) from events where kind = 'answered'",
                                        NULL) == 0);
}

//  Sales of a campaign: "count/charge cents".
static char *
s_sales (pp_fleet_t *fleet, const char *campaign)
{
    return pp_fleet_sql (fleet,
                         "select count(*) || '/' || coalesce(sum(s.charge_cents), 0) from sales s"
                         " join campaigns c on c.id = s.campaign_id where c.name = $1",
                         campaign, NULL);
}

//  Leads received after `since` and sold to `buyer_campaign` that neither
//  saw `capped` excluded for its cap by filter nor had its post skipped by
//  deliver for a full cap.
static int64_t
s_unexplained (pp_fleet_t *fleet, const char *buyer_campaign, const char *capped,
               const char *since)
{
    return pp_fleet_sql_int (
        fleet,
        "select count(*) from sales s join campaigns c on c.id = s.campaign_id"
        " join leads l on l.lead_id = s.lead_id"
        " where c.name = $1 and l.received_at > $3::timestamptz"
        " and not exists (select 1 from events e where e.lead_id = s.lead_id"
        "  and ((e.kind = 'eligible' and e.detail->'excluded'->>$2 = 'cap')"
        "    or (e.kind = 'post_skipped' and e.code = 'cap_full'"
        "        and e.campaign_id = (select id from campaigns where name = $2))))",
        buyer_campaign, capped, since, NULL);
}

//  The trace of one lead names `capped` as excluded by `reason` (filter).
static void
s_check_trace (pp_fleet_t *fleet, const char *lead_id, const char *capped, const char *reason)
{
    int exit_code = -1;
    char *out = pp_fleet_cli (fleet, &exit_code, "lead", "trace", lead_id, "--format", "json",
                              NULL);
    cJSON *trace = cJSON_Parse (out);
    PP_CHECKF (fleet, exit_code == 0 && cJSON_IsObject (trace), "lead trace exited %d: %.2000s",
               exit_code, out);
    bool named = false;
    cJSON *event;
    cJSON_ArrayForEach (event, cJSON_GetObjectItemCaseSensitive (trace, "events")) {
        const char *kind = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (event, "kind"));
        cJSON *detail = cJSON_GetObjectItemCaseSensitive (event, "detail");
        cJSON *excluded = cJSON_GetObjectItemCaseSensitive (detail, "excluded");
        const char *why = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (excluded,
                                                                                  capped));
        if (kind && strcmp (kind, "eligible") == 0 && why && strcmp (why, reason) == 0)
            named = true;
    }
    PP_CHECKF (fleet, named, "the trace of %s does not name %s excluded by \"%s\": %.3000s",
               lead_id, capped, reason, out);
    cJSON_Delete (trace);
    free (out);
}

//  One CA lead now, sold with `price_cents` paid out (80% of the winning
//  bid); its id into lead_id.
static void
s_sell_one (pp_fleet_t *fleet, const char *what, int64_t price_cents, char *lead_id,
            size_t size)
{
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, what, 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == price_cents,
               "%s paid %lld cents, want %lld (80%% of the winning bid)", what,
               (long long) pp_fleet_reply_price_cents (reply), (long long) price_cents);
    snprintf (lead_id, size, "%s", pp_fleet_reply_lead_id (reply));
    pp_fleet_reply_destroy (&reply);
}

//  One lead now, sold to fallback, whose trace shows `capped` excluded by
//  `reason`.
static void
s_late_lead (pp_fleet_t *fleet, const char *capped, const char *reason)
{
    //  filter re-reads the counters every second
    pp_fleet_sleep_ms (1500);
    char lead_id [64];
    s_sell_one (fleet, "late lead", 800, lead_id, sizeof lead_id);
    PP_CHECK (fleet, pp_fleet_wait_answered (fleet, lead_id, 10000) == 0);
    s_check_trace (fleet, lead_id, capped, reason);
}

static int64_t
s_buyer_stat (pp_fleet_t *fleet, const char *buyer, const char *key)
{
    cJSON *stats = pp_fleet_mockbuyer_stats (fleet);
    cJSON *value = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (stats, buyer), key);
    int64_t number = cJSON_IsNumber (value) ? (int64_t) value->valuedouble : -1;
    cJSON_Delete (stats);
    return number;
}

//  ---------------------------------------------------------------------------
//  2,000 leads at once: exactly 100 sales to the capped campaign

static void
test_e2e_caps_count_cap (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    int sold = s_fire (fleet, 2000, 200);
    s_wait_ledger (fleet, sold);

    char *capped = s_sales (fleet, "capped-c");
    char *fallback = s_sales (fleet, "fallback-c");
    char want_fallback [64];
    snprintf (want_fallback, sizeof want_fallback, "%d/%d", sold - 100, (sold - 100) * 1000);
    printf ("sales: capped %s, fallback %s (count/cents)\n", capped, fallback);
    PP_CHECKF (fleet, capped && strcmp (capped, "100/300000") == 0,
               "capped sales %s, want exactly 100/300000", capped ? capped : "(none)");
    PP_CHECKF (fleet, fallback && strcmp (fallback, want_fallback) == 0,
               "fallback sales %s, want %s", fallback ? fallback : "(none)", want_fallback);
    free (capped);
    free (fallback);
    //  One sale per lead
    PP_CHECK (fleet, pp_fleet_sql_int (fleet, "select count(*) from (select lead_id from sales"
                                              " group by lead_id having count(*) > 1) d",
                                       NULL) == 0);
    //  The counters agree: one row, the current day
    char *counters = pp_fleet_sql (
        fleet,
        "select string_agg(k.per || ':' || k.count || '/' || k.amount_cents, ',' order by k.per)"
        " from cap_counters k join campaigns c on c.id = k.campaign_id where c.name = 'capped-c'",
        NULL);
    PP_CHECKF (fleet, counters && strcmp (counters, "day:100/300000") == 0,
               "cap_counters of capped-c: %s, want day:100/300000", counters ? counters : "(none)");
    free (counters);
    PP_CHECK (fleet, pp_fleet_sql_int (
                         fleet,
                         "select count(*) from cap_counters k join campaigns c"
                         " on c.id = k.campaign_id where c.name = 'capped-c'"
                         " and k.period_start = pp_period_start ('day', now (), $1)",
                         self->zone, NULL) == 1);
    //  The buyer never got more than its cap
    int64_t posts = s_buyer_stat (fleet, "capped", "posts");
    PP_CHECKF (fleet, posts == 100, "the capped buyer got %lld posts, want 100", (long long) posts);
    //  Every lead that went to fallback says why capped did not buy it
    int64_t skipped = pp_fleet_sql_int (fleet, "select count(*) from events where kind ="
                                               " 'post_skipped' and code = 'cap_full'", NULL);
    int64_t filtered = pp_fleet_sql_int (fleet, "select count(*) from events where kind ="
                                                " 'eligible' and detail->'excluded'->>'capped-c'"
                                                " = 'cap'", NULL);
    int64_t unavailable = pp_fleet_sql_int (fleet, "select count(*) from events where kind ="
                                                   " 'post_skipped' and code <> 'cap_full'", NULL);
    printf ("capped missed: %lld leads skipped by deliver (cap_full), %lld excluded by filter"
            " (cap), %lld skipped for another reason\n",
            (long long) skipped, (long long) filtered, (long long) unavailable);
    PP_CHECKF (fleet, unavailable == 0, "%lld posts skipped for a reason other than cap_full",
               (long long) unavailable);
    int64_t unexplained = s_unexplained (fleet, "fallback-c", "capped-c", "-infinity");
    PP_CHECKF (fleet, unexplained == 0,
               "%lld leads sold to fallback without a cap exclusion or cap_full skip of capped",
               (long long) unexplained);
    //  A lead after the cap filled: filter names the cap
    s_late_lead (fleet, "capped-c", "cap");
}

//  ---------------------------------------------------------------------------
//  The amount cap binds before the count cap: 1,000.00 / 40.00 = 25 sales

static void
test_e2e_caps_amount_cap (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char *market = s_market (self->zone, true, false);
    PP_CHECK (fleet, market && pp_fleet_apply (fleet, market) == 0);
    free (market);
    int64_t before = pp_fleet_sql_int (fleet, "select count(distinct lead_id) from sales", NULL);
    char *since = pp_fleet_sql (fleet, "select max(received_at)::text from leads", NULL);
    PP_CHECK (fleet, since && *since);
    int sold = s_fire (fleet, 400, 100);
    s_wait_ledger (fleet, (int) before + sold);
    char *amount = s_sales (fleet, "amount-c");
    char *capped = s_sales (fleet, "capped-c");
    printf ("sales: amount %s, capped %s (count/cents)\n", amount, capped);
    PP_CHECKF (fleet, amount && strcmp (amount, "25/100000") == 0,
               "amount-c sales %s, want exactly 25/100000", amount ? amount : "(none)");
    PP_CHECKF (fleet, capped && strcmp (capped, "100/300000") == 0,
               "capped-c sales %s after its day was full, want still 100/300000",
               capped ? capped : "(none)");
    free (amount);
    free (capped);
    char *counters = pp_fleet_sql (
        fleet,
        "select string_agg(k.per || ':' || k.count || '/' || k.amount_cents, ',' order by k.per)"
        " from cap_counters k join campaigns c on c.id = k.campaign_id where c.name = 'amount-c'",
        NULL);
    PP_CHECKF (fleet, counters && strcmp (counters, "day:25/100000") == 0,
               "cap_counters of amount-c: %s, want day:25/100000", counters ? counters : "(none)");
    free (counters);
    int64_t posts = s_buyer_stat (fleet, "amount", "posts");
    PP_CHECKF (fleet, posts == 25, "the amount buyer got %lld posts, want 25", (long long) posts);
    int64_t unexplained = s_unexplained (fleet, "fallback-c", "amount-c", since);
    PP_CHECKF (fleet, unexplained == 0,
               "%lld leads sold to fallback without a cap exclusion or cap_full skip of amount-c",
               (long long) unexplained);
    s_late_lead (fleet, "amount-c", "cap");
    free (since);
}

//  ---------------------------------------------------------------------------
//  A buyer that rejects four posts in five, with caps over three periods:
//  releases race reservations in both deliver instances. A reservation
//  holds its place while the post is out, so a burst may pass the buyer by
//  while its cap is "full" of posts it will reject; but the counters always
//  equal the sales, and a trickle of leads then fills the cap to exactly 50.

//  picky-c's sales, its three counters, and its other post_skipped events.
static void
s_check_picky (pp_fleet_t *fleet, int64_t *sales_p)
{
    int64_t sales = pp_fleet_sql_int (fleet, "select count(*) from sales s join campaigns c"
                                             " on c.id = s.campaign_id where c.name = 'picky-c'",
                                      NULL);
    char *counters = pp_fleet_sql (
        fleet,
        "select string_agg(k.per || ':' || k.count || '/' || k.amount_cents, ',' order by k.per)"
        " from cap_counters k join campaigns c on c.id = k.campaign_id where c.name = 'picky-c'",
        NULL);
    char *events = pp_fleet_sql (fleet, "select string_agg(kind || coalesce(':' || code, '')"
                                        " || '=' || n, ', ' order by kind, code) from (select"
                                        " kind, code, count(*) n from events e join campaigns c"
                                        " on c.id = e.campaign_id where c.name = 'picky-c'"
                                        " group by 1, 2) t", NULL);
    printf ("picky-c: %lld sales, counters %s; events %s\n", (long long) sales,
            counters ? counters : "(none)", events ? events : "(none)");
    char want [128];
    snprintf (want, sizeof want, "day:%lld/%lld,month:%lld/%lld,total:%lld/%lld",
              (long long) sales, (long long) sales * 5000, (long long) sales,
              (long long) sales * 5000, (long long) sales, (long long) sales * 5000);
    PP_CHECKF (fleet, sales <= 50, "picky-c has %lld sales over its cap of 50", (long long) sales);
    PP_CHECKF (fleet, sales == 0 || (counters && strcmp (counters, want) == 0),
               "cap_counters of picky-c: %s, want %s (a reservation leaked or was released twice)",
               counters ? counters : "(none)", want);
    int64_t unavailable = pp_fleet_sql_int (fleet, "select count(*) from events where kind ="
                                                   " 'post_skipped' and code <> 'cap_full'", NULL);
    PP_CHECKF (fleet, unavailable == 0, "%lld posts skipped for a reason other than cap_full"
               " (the reservation failed)", (long long) unavailable);
    free (counters);
    free (events);
    *sales_p = sales;
}

static void
test_e2e_caps_released (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char *market = s_market (self->zone, true, true);
    PP_CHECK (fleet, market && pp_fleet_apply (fleet, market) == 0);
    free (market);
    int64_t total = pp_fleet_sql_int (fleet, "select count(distinct lead_id) from sales", NULL);
    //  A burst
    total += s_fire (fleet, 1000, 200);
    s_wait_ledger (fleet, (int) total);
    int64_t sales = 0;
    s_check_picky (fleet, &sales);
    //  A trickle until the cap is full
    for (int round = 0; round < 8 && sales < 50; round++) {
        pp_fleet_sleep_ms (1100);   //  filter's cached counters catch up
        total += s_fire (fleet, 100, 4);
        s_wait_ledger (fleet, (int) total);
        s_check_picky (fleet, &sales);
    }
    PP_CHECKF (fleet, sales == 50, "picky-c has %lld sales after the trickle, want its cap, 50",
               (long long) sales);
    int64_t rejected = pp_fleet_sql_int (fleet, "select count(*) from events e join campaigns c"
                                                " on c.id = e.campaign_id where c.name = 'picky-c'"
                                                " and e.kind = 'post_rejected'", NULL);
    PP_CHECKF (fleet, rejected > 50, "the picky buyer rejected %lld posts: too few releases tested",
               (long long) rejected);
}

//  ---------------------------------------------------------------------------
//  Even pacing: a day cap of 100 over a 200-minute window that opens at the
//  current minute allows ceil (100 * 1 / 200) = 1 lead in its first two
//  minutes. The first lead goes to paced-c (the best bid); once filter has
//  re-read the counters, the next is sold to fallback and its trace says
//  "pacing" (not "cap": the cap is far from full).

static void
test_e2e_caps_paced (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    //  A zone whose local time leaves the window inside today
    char zone [64];
    int minute = -1;
    PP_CHECK (fleet, s_pick_zone (zone, sizeof zone, 0, 1440 - 200 - 4, &minute));
    char window [32];
    snprintf (window, sizeof window, "%02d:%02d-%02d:%02d", minute / 60, minute % 60,
              (minute + 200) / 60, (minute + 200) % 60);
    printf ("paced-c opens %s in %s\n", window, zone);
    char *buyers = NULL;
    PP_CHECK (fleet, asprintf (
                         &buyers,
                         "[{\"name\": \"paced\", \"campaigns\": [{"
                         "   \"name\": \"paced-c\", \"vertical\": \"solar\", \"tier\": 1,"
                         "   \"bid\": {\"fixed\": 60.00},"
                         "   \"post\": {\"url\": \"@BUYER@/paced/post\", \"timeout_ms\": 5000},"
                         "   \"filters\": {\"states\": [\"CA\"]},"
                         "   \"schedule\": {\"time_zone\": \"%s\", \"hours\": {\"mon-sun\": \"%s\"}},"
                         "   \"caps\": [{\"count\": 100, \"per\": \"day\", \"pacing\": \"even\"}]}]},"
                         " {\"name\": \"fallback\", \"campaigns\": [{"
                         "   \"name\": \"fallback-c\", \"vertical\": \"solar\", \"tier\": 1,"
                         "   \"bid\": {\"fixed\": 10.00},"
                         "   \"post\": {\"url\": \"@BUYER@/fallback/post\", \"timeout_ms\": 5000},"
                         "   \"filters\": {\"states\": [\"CA\"]}}]}]",
                         zone, window)
                         > 0);
    char *market = pp_fleet_market_json (buyers);
    free (buyers);
    PP_CHECK (fleet, market && pp_fleet_apply (fleet, market) == 0);
    free (market);

    //  Nothing sold yet: paced-c takes the first lead (60.00, 80% paid out)
    pp_fleet_sleep_ms (1100);
    char lead_id [64];
    s_sell_one (fleet, "first paced lead", 4800, lead_id, sizeof lead_id);
    char *counters = pp_fleet_sql (
        fleet,
        "select string_agg(k.per || ':' || k.count, ',') from cap_counters k join campaigns c"
        " on c.id = k.campaign_id where c.name = 'paced-c'",
        NULL);
    PP_CHECKF (fleet, counters && strcmp (counters, "day:1") == 0,
               "cap_counters of paced-c: %s, want day:1", counters ? counters : "(none)");
    free (counters);
    //  Then filter's next re-read paces it out: fallback, and the reason
    s_late_lead (fleet, "paced-c", "pacing");
    PP_CHECK (fleet, pp_fleet_sql_int (fleet, "select count(*) from sales s join campaigns c"
                                              " on c.id = s.campaign_id where c.name = 'paced-c'",
                                       NULL) == 1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_e2e_caps_count_cap),
        cmocka_unit_test (test_e2e_caps_amount_cap),
        cmocka_unit_test (test_e2e_caps_released),
        cmocka_unit_test (test_e2e_caps_paced),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
