/*  test_e2e_modes - auction settings: second pricing, exclusive vs shared, ping tree  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Issue 3's acceptance list for the marketplace-wide auction settings. One
//  fleet; each test applies the same campaigns with its own "auction"
//  section, and sends its leads to states no other test uses.

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_fleet.h"

static const char *s_mock_buyers [] = {
    //  CA, NV: second pricing
    "s30:bid=30.00", "s25:bid=25.00", "solo:bid=30.00",
    //  OR, WA: exclusive against shared
    "ex50:bid=50.00", "ex60:bid=60.00", "sha:bid=20.00", "sha18:bid=18.00", "shb:bid=20.00",
    "shc:bid=15.00",
    //  TX, UT: ping tree
    "pt40:bid=40.00,accept=0", "pt30:bid=30.00,accept=0", "pt20:bid=20.00", "pt10:bid=10.00",
    "pt50:bid=50.00", "ptping:bid=99.00", "pu35:bid=35.00,accept=0", "pu45:bid=45.00",
    NULL
};

typedef struct {
    const char *buyer;          //  the marketplace buyer
    const char *campaign;       //  campaign name
    const char *mock;           //  the mock buyer behind its URLs
    const char *state;          //  its only state
    int tier;
    bool exclusive;
    const char *bid;            //  JSON; @PING@ is the mock buyer's ping URL
} s_campaign_t;

#define S_PING "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 300}}"

static const s_campaign_t s_campaigns [] = {
    {"s30", "s30-c", "s30", "CA", 1, true, S_PING},
    {"s25", "s25-c", "s25", "CA", 1, true, S_PING},
    {"solo", "solo-c", "solo", "NV", 1, true, S_PING},
    {"ex50", "ex50-c", "ex50", "OR", 1, true, S_PING},
    {"ex60", "ex60-c", "ex60", "WA", 1, true, S_PING},
    {"sha", "sha-or", "sha", "OR", 1, false, S_PING},
    {"sha", "sha-or2", "sha18", "OR", 1, false, S_PING},
    {"sha", "sha-wa", "sha", "WA", 1, false, S_PING},
    {"shb", "shb-or", "shb", "OR", 1, false, S_PING},
    {"shb", "shb-wa", "shb", "WA", 1, false, S_PING},
    {"shc", "shc-or", "shc", "OR", 1, false, S_PING},
    {"shc", "shc-wa", "shc", "WA", 1, false, S_PING},
    {"pt40", "pt40-c", "pt40", "TX", 1, true, "{\"fixed\": 40.00}"},
    {"pt30", "pt30-c", "pt30", "TX", 1, true, "{\"fixed\": 30.00}"},
    {"pt20", "pt20-c", "pt20", "TX", 1, true, "{\"fixed\": 20.00}"},
    {"pt10", "pt10-c", "pt10", "TX", 1, true, "{\"fixed\": 10.00}"},
    {"pt50", "pt50-c", "pt50", "TX", 2, true, "{\"fixed\": 50.00}"},
    {"ptping", "ptping-c", "ptping", "TX", 1, true, S_PING},
    {"pu35", "pu35-c", "pu35", "UT", 1, true, "{\"fixed\": 35.00}"},
    {"pu45", "pu45-c", "pu45", "UT", 2, true, "{\"fixed\": 45.00}"},
};

#define S_CAMPAIGNS (sizeof s_campaigns / sizeof s_campaigns [0])

typedef struct {
    pp_fleet_t *fleet;          //  the fleet of this program
} s_state_t;

//  ---------------------------------------------------------------------------
//  Helpers

static char *
s_strdup_printf (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static char *
s_strdup_printf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = NULL;
    if (vasprintf (&text, format, args) < 0)
        text = NULL;
    va_end (args);
    assert_non_null (text);
    return text;
}

static const char *
s_string (const cJSON *object, const char *name)
{
    const char *value = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (object, name));
    return value ? value : "";
}

//  Money of a JSON number in cents; -1 if not a number.
static int64_t
s_cents (const cJSON *item)
{
    return cJSON_IsNumber (item) ? (int64_t) llround (item->valuedouble * 100.0) : -1;
}

//  The marketplace with this auction section (JSON text). Caller frees.
static char *
s_market (const char *auction)
{
    char *buyers = strdup ("[");
    bool first_buyer = true;
    for (size_t i = 0; i < S_CAMPAIGNS; i++) {
        //  One buyer object per name, holding all its campaigns.
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen = seen || strcmp (s_campaigns [j].buyer, s_campaigns [i].buyer) == 0;
        if (seen)
            continue;
        char *campaigns = strdup ("");
        for (size_t j = i; j < S_CAMPAIGNS; j++) {
            const s_campaign_t *c = &s_campaigns [j];
            if (strcmp (c->buyer, s_campaigns [i].buyer) != 0)
                continue;
            char *ping = s_strdup_printf ("@BUYER@/%s/ping", c->mock);
            const char *mark = strstr (c->bid, "@PING@");
            char *bid = mark ? s_strdup_printf ("%.*s%s%s", (int) (mark - c->bid), c->bid, ping,
                                                mark + strlen ("@PING@"))
                             : strdup (c->bid);
            char *joined = s_strdup_printf (
                "%s%s{\"name\": \"%s\", \"vertical\": \"solar\", \"tier\": %d,"
                " \"exclusive\": %s, \"bid\": %s,"
                " \"post\": {\"url\": \"@BUYER@/%s/post\", \"timeout_ms\": 1000,"
                " \"format\": \"json\"}, \"filters\": {\"states\": [\"%s\"]}}",
                campaigns, *campaigns ? ", " : "", c->campaign, c->tier,
                c->exclusive ? "true" : "false", bid, c->mock, c->state);
            free (campaigns);
            free (ping);
            free (bid);
            campaigns = joined;
        }
        char *joined = s_strdup_printf ("%s%s\n {\"name\": \"%s\", \"campaigns\": [%s]}", buyers,
                                        first_buyer ? "" : ",", s_campaigns [i].buyer,
                                        campaigns);
        first_buyer = false;
        free (campaigns);
        free (buyers);
        buyers = joined;
    }
    char *closed = s_strdup_printf ("%s]", buyers);
    free (buyers);
    char *market = pp_fleet_market_json_with (auction, closed);
    free (closed);
    return market;
}

static void
s_apply (pp_fleet_t *fleet, const char *auction)
{
    char *market = s_market (auction);
    int rc = pp_fleet_apply (fleet, market);
    free (market);
    PP_CHECKF (fleet, rc == 0, "apply with auction %s", auction);
}

//  Send a fresh lead for state/zip and check it sold with this payout.
static void
s_sell (pp_fleet_t *fleet, const char *state, const char *zip, int64_t payout, char *id,
        size_t id_size)
{
    cJSON *lead = pp_fleet_lead_new (state, zip);
    pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
    cJSON_Delete (lead);
    snprintf (id, id_size, "%s", pp_fleet_reply_lead_id (reply));
    PP_CHECKF (fleet, pp_fleet_reply_is (reply, state, 200, "sold"), "%s lead", state);
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == payout,
               "%s lead: payout %lld cents, want %lld", state,
               (long long) pp_fleet_reply_price_cents (reply), (long long) payout);
    pp_fleet_reply_destroy (&reply);
}

//  The lead's posts: buyers (sorted when `sorted`, else in order) must be
//  `buyers`; each post's price in cents is in `prices` by buyer ("sha=2000,...").
static void
s_check_posts (pp_fleet_t *fleet, const char *id, const char *buyers, int count, bool sorted,
               const char *prices)
{
    cJSON *posts = pp_fleet_mockbuyer_wait (fleet, id, "post", count, 3000, 150);
    char *got = sorted ? pp_fleet_records_buyers_sorted (posts) : pp_fleet_records_buyers (posts);
    char *text = cJSON_PrintUnformatted (posts);
    PP_CHECKF (fleet, strcmp (got, buyers) == 0, "lead %s posted to '%s', want '%s': %.3000s", id,
               got, buyers, text);
    cJSON *post;
    cJSON_ArrayForEach (post, posts) {
        cJSON *json = cJSON_GetObjectItemCaseSensitive (post, "json");
        PP_CHECKF (fleet, strcmp (s_string (json, "lead_id"), id) == 0, "post body %.2000s",
                   s_string (post, "body"));
        char *want = s_strdup_printf ("%s=%lld", s_string (post, "buyer"),
                                      (long long) s_cents (cJSON_GetObjectItemCaseSensitive (
                                          json, "price")));
        const char *hit = strstr (prices, want);
        size_t size = strlen (want);
        PP_CHECKF (fleet, hit && (hit == prices || hit [-1] == ',')
                       && (hit [size] == 0 || hit [size] == ','),
                   "post price %s (buyer=cents) not among %s", want, prices);
        free (want);
    }
    free (text);
    free (got);
    cJSON_Delete (posts);
}

//  ---------------------------------------------------------------------------
//  Setup

static int
s_setup (void **state)
{
    s_state_t *self = calloc (1, sizeof *self);
    *state = self;
    if (!self)
        return -1;
    self->fleet = pp_fleet_new ("test_e2e_modes", NULL);
    if (!self->fleet)
        return -1;
    return pp_fleet_mockbuyer_start (self->fleet, s_mock_buyers);
}

static int
s_teardown (void **state)
{
    s_state_t *self = *state;
    int rc = 0;
    if (self) {
        rc = pp_fleet_destroy (&self->fleet);
        free (self);
    }
    return rc;
}

//  ---------------------------------------------------------------------------
//  Second pricing: bids 30 and 25, the winner pays 25.01; a lone bid pays
//  the floor (5.00).

static void
test_e2e_modes_second_pricing (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    s_apply (fleet, "{\"mode\": \"auction\", \"pricing\": \"second\", \"floor\": 5.00,"
                    " \"max_sales\": 1, \"timeout_ms\": 1500}");
    char id [64];
    //  80% of 25.01 is 20.008: 20.00 rounded down.
    s_sell (fleet, "CA", "90001", 2000, id, sizeof id);
    s_check_posts (fleet, id, "s30", 1, false, "s30=2501");
    char *ref = pp_fleet_mockbuyer_bid_ref (fleet, "s30", id);
    cJSON *posts = pp_fleet_mockbuyer_lead_records (fleet, id, "post");
    const char *ping_id = s_string (
        cJSON_GetObjectItemCaseSensitive (cJSON_GetArrayItem (posts, 0), "json"), "ping_id");
    PP_CHECKF (fleet, ref && strcmp (ping_id, ref) == 0, "post ping_id '%s', want '%s'", ping_id,
               ref ? ref : "(no ping)");
    free (ref);
    cJSON_Delete (posts);
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id, "bid:s25-c:2500,bid:s30-c:3000",
                                         "s30-c:2501:2000", "sold:2000:2501") == 0);

    s_sell (fleet, "NV", "89101", 400, id, sizeof id);
    s_check_posts (fleet, id, "solo", 1, false, "solo=500");
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id, "bid:solo-c:3000", "solo-c:500:400",
                                         "sold:400:500") == 0);
}

//  ---------------------------------------------------------------------------
//  max_sales 3: the best exclusive bid against the sum of up to 3
//  non-exclusive bids of distinct buyers. 50 < 20 + 20 + 15 = 55 (sha's
//  second campaign at 18 does not count: same buyer): shared, three posts,
//  three sales, payout 80% of 55.00. 60 > 55: exclusive, one post.

static void
test_e2e_modes_exclusive_vs_shared (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    s_apply (fleet, "{\"mode\": \"auction\", \"pricing\": \"first\", \"floor\": 5.00,"
                    " \"max_sales\": 3, \"timeout_ms\": 1500}");
    char id [64];
    s_sell (fleet, "OR", "97201", 4400, id, sizeof id);
    s_check_posts (fleet, id, "sha,shb,shc", 3, true, "sha=2000,shb=2000,shc=1500");
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id,
                                         "bid:ex50-c:5000,bid:sha-or:2000,bid:sha-or2:1800,"
                                         "bid:shb-or:2000,bid:shc-or:1500",
                                         NULL, "sold:4400:5500") == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "sha-or:2000,shb-or:2000,shc-or:1500|4400", 3000,
                                        "select string_agg(c.name || ':' || s.charge_cents, ','"
                                        "  order by c.name collate \"C\") || '|'"
                                        "  || sum(s.payout_cents)"
                                        "  from sales s join campaigns c on c.id = s.campaign_id"
                                        "  where s.lead_id = $1",
                                        id, NULL) == 0);
    PP_CHECK (fleet, pp_fleet_sql_int (fleet,
                                       "select count(*) from events where lead_id = $1"
                                       "  and kind = 'accepted'",
                                       id, NULL) == 3);

    s_sell (fleet, "WA", "98101", 4800, id, sizeof id);
    s_check_posts (fleet, id, "ex60", 1, false, "ex60=6000");
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id,
                                         "bid:ex60-c:6000,bid:sha-wa:2000,bid:shb-wa:2000,"
                                         "bid:shc-wa:1500",
                                         "ex60-c:6000:4800", "sold:4800:6000") == 0);
}

//  ---------------------------------------------------------------------------
//  Ping tree: no pings; fixed-price campaigns posted one after another by
//  tier, then price, until one accepts.

static void
test_e2e_modes_ping_tree (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    s_apply (fleet, "{\"mode\": \"ping_tree\", \"pricing\": \"first\", \"floor\": 5.00,"
                    " \"max_sales\": 1, \"timeout_ms\": 1500}");
    char id [64];
    //  40 and 30 reject, 20 accepts; 10 and tier 2's 50 never hear of it.
    s_sell (fleet, "TX", "75001", 1600, id, sizeof id);
    s_check_posts (fleet, id, "pt40,pt30,pt20", 3, false, "pt40=4000,pt30=3000,pt20=2000");
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id, NULL, "pt20-c:2000:1600",
                                         "sold:1600:2000") == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet,
                                        "posted:pt40-c,post_rejected:pt40-c:rejected,"
                                        "posted:pt30-c,post_rejected:pt30-c:rejected,"
                                        "posted:pt20-c,accepted:pt20-c",
                                        3000, PP_FLEET_SQL_DELIVERY_EVENTS, id, NULL) == 0);
    cJSON *pings = pp_fleet_mockbuyer_lead_records (fleet, id, "ping");
    PP_CHECKF (fleet, cJSON_GetArraySize (pings) == 0, "%d pings in ping tree mode",
               cJSON_GetArraySize (pings));
    cJSON_Delete (pings);

    //  Tier before price: tier 1's 35 rejects, then tier 2's 45.
    s_sell (fleet, "UT", "84101", 3600, id, sizeof id);
    s_check_posts (fleet, id, "pu35,pu45", 2, false, "pu35=3500,pu45=4500");
    PP_CHECK (fleet, pp_fleet_wait_lead (fleet, id, NULL, "pu45-c:4500:3600",
                                         "sold:3600:4500") == 0);

    //  No ping reached any buyer of the ping tree's states.
    cJSON *records = pp_fleet_mockbuyer_records (fleet);
    cJSON *record;
    int tree_pings = 0;
    cJSON_ArrayForEach (record, records)
        if (strcmp (s_string (record, "kind"), "ping") == 0
        && (strncmp (s_string (record, "buyer"), "pt", 2) == 0
            || strncmp (s_string (record, "buyer"), "pu", 2) == 0))
            tree_pings++;
    cJSON_Delete (records);
    PP_CHECKF (fleet, tree_pings == 0, "%d pings to ping tree buyers", tree_pings);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_e2e_modes_second_pricing),
        cmocka_unit_test (test_e2e_modes_exclusive_vs_shared),
        cmocka_unit_test (test_e2e_modes_ping_tree),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
