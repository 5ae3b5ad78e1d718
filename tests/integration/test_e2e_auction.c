/*  test_e2e_auction - HTTP pings to buyers: best bid, timeouts, declines, floors, tiers, PII, circuit  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Issue 3's acceptance list, auction side, against the real fleet and the
//  mock buyer. Every scenario has its own US state: its campaigns filter on
//  it, so the leads of one test never reach the buyers of another.

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

//  Mock buyers, by scenario.
static const char *s_mock_buyers [] = {
    //  CA: highest ping bid wins (and the PII lead)
    "p10:bid=10.00", "p30:bid=30.00", "p20:bid=20.00",
    //  NV: a buyer slower than its timeout
    "slow:bid=50.00,ping_delay_ms=800", "quick:bid=15.00",
    //  OR: every kind of decline, one good bid
    "garb:bid=90.00,mode=garbage", "err:bid=90.00,mode=error", "big:bid=80.00,big=1",
    "zero:bid=0", "nf:bid=70.00,ping_status=404", "nacc:bid=60.00", "badp:bid=50.00",
    "okor:bid=11.00",
    //  FL: three buyers taking 200 ms each, pinged at once
    "par1:bid=21.00,ping_delay_ms=200", "par2:bid=22.00,ping_delay_ms=200",
    "par3:bid=23.00,ping_delay_ms=200",
    //  WA: campaign pointers on a nested answer; a bid as a numeric string
    "nest:bid=40.00,shape=nested", "str:bid=35.00,shape=string",
    //  AZ: the floor
    "low:bid=4.00", "high:bid=6.00",
    //  TX, UT, KS: tiers
    "t1a:bid=20.00", "t2a:bid=50.00", "t1z:bid=0", "t2b:bid=25.00",
    "t1r:bid=30.00,accept=0", "t2c:bid=12.00",
    //  GA: circuit breaker
    "cb:bid=30.00", "cbfix:bid=8.00",
    //  NM: a circuit that leads late in the pipeline must not open
    "cut:bid=30.00",
    NULL
};

//  Campaigns: buyer (campaign "<buyer>-c"), state, tier, bid (JSON; @PING@
//  is the default ping of the buyer).
typedef struct {
    const char *buyer;
    const char *state;
    int tier;
    const char *bid;
} s_campaign_t;

#define S_PING "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 300}}"

static const s_campaign_t s_campaigns [] = {
    {"p10", "CA", 1, S_PING},
    {"p30", "CA", 1, S_PING},
    {"p20", "CA", 1, S_PING},
    {"slow", "NV", 1, "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 200}}"},
    {"quick", "NV", 1, S_PING},
    {"garb", "OR", 1, S_PING},
    {"err", "OR", 1, S_PING},
    {"big", "OR", 1, S_PING},
    {"zero", "OR", 1, S_PING},
    {"nf", "OR", 1, S_PING},
    {"nacc", "OR", 1,
     "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 300, \"accept_pointer\": \"/id\"}}"},
    {"badp", "OR", 1,
     "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 300, \"price_pointer\": \"/id\"}}"},
    {"conn", "OR", 1,
     "{\"ping\": {\"url\": \"http://127.0.0.1:1/conn/ping\", \"timeout_ms\": 300}}"},
    {"okor", "OR", 1, S_PING},
    {"par1", "FL", 1, "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 450}}"},
    {"par2", "FL", 1, "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 450}}"},
    {"par3", "FL", 1, "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 450}}"},
    {"nest", "WA", 1,
     "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 300, \"price_pointer\": \"/data/price\","
     " \"accept_pointer\": \"/data/ok\", \"id_pointer\": \"/data/ref\"}}"},
    {"str", "WA", 1, S_PING},
    {"low", "AZ", 1, S_PING},
    {"high", "AZ", 1, S_PING},
    {"t1a", "TX", 1, S_PING},
    {"t2a", "TX", 2, S_PING},
    {"t1z", "UT", 1, S_PING},
    {"t2b", "UT", 2, S_PING},
    {"t1r", "KS", 1, S_PING},
    {"t2c", "KS", 2, S_PING},
    {"cb", "GA", 1,
     "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 300,"
     " \"circuit\": {\"failures\": 3, \"cooldown_ms\": 1000}}}"},
    {"cbfix", "GA", 1, "{\"fixed\": 8.00}"},
    {"cut", "NM", 1,
     "{\"ping\": {\"url\": \"@PING@\", \"timeout_ms\": 1500,"
     " \"circuit\": {\"failures\": 2, \"cooldown_ms\": 30000}}}"},
};

#define S_PII_MAX 512

typedef struct {
    pp_fleet_t *fleet;          //  the fleet of this program
    char *pii [S_PII_MAX];      //  every personal or undeclared value sent, to find in pings
    size_t pii_count;           //  how many
    unsigned leads;             //  leads made
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

static char *
s_replace (const char *text, const char *from, const char *to)
{
    const char *hit = strstr (text, from);
    if (!hit)
        return strdup (text);
    return s_strdup_printf ("%.*s%s%s", (int) (hit - text), text, to, hit + strlen (from));
}

static void
s_pii_add (s_state_t *self, const char *value)
{
    if (value && *value && self->pii_count < S_PII_MAX)
        self->pii [self->pii_count++] = strdup (value);
}

static const char *
s_field (const cJSON *object, const char *name)
{
    cJSON *fields = cJSON_GetObjectItemCaseSensitive (object, "fields");
    const char *value = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (fields, name));
    return value ? value : "";
}

static const char *
s_string (const cJSON *object, const char *name)
{
    const char *value = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (object, name));
    return value ? value : "";
}

//  A fresh lead for state/zip with a personal address and an undeclared
//  field as well; every personal and undeclared value is remembered.
static cJSON *
s_lead (s_state_t *self, const char *state, const char *zip)
{
    cJSON *lead = pp_fleet_lead_new (state, zip);
    unsigned n = self->leads++;
    cJSON *fields = cJSON_GetObjectItemCaseSensitive (lead, "fields");
    char address [64], roof [64];
    snprintf (address, sizeof address, "%u Evergreen Terrace Apt Q%u", 700 + n, n);
    snprintf (roof, sizeof roof, "roofcolor-undeclared-%u", n);
    cJSON_AddStringToObject (fields, "address", address);
    cJSON_AddStringToObject (fields, "roof_color", roof);
    s_pii_add (self, s_field (lead, "first_name"));
    s_pii_add (self, s_field (lead, "last_name"));
    s_pii_add (self, s_field (lead, "email"));
    s_pii_add (self, s_field (lead, "phone"));
    s_pii_add (self, address);
    s_pii_add (self, roof);
    return lead;
}

//  Send a lead for state/zip with key; copy its id into id (may be empty).
static pp_fleet_reply_t *
s_send (s_state_t *self, const char *key, const char *state, const char *zip, char *id,
        size_t id_size)
{
    cJSON *lead = s_lead (self, state, zip);
    pp_fleet_reply_t *reply = pp_fleet_post_lead (self->fleet, key, lead);
    cJSON_Delete (lead);
    snprintf (id, id_size, "%s", pp_fleet_reply_lead_id (reply));
    return reply;
}

//  Wait until the ledger has every event of the lead, then compare the
//  auction events, the sales and the lead row with what is expected (NULL: skip).
static void
s_check_ledger (pp_fleet_t *fleet, const char *id, const char *events, const char *sales,
                const char *row)
{
    PP_CHECKF (fleet, pp_fleet_wait_lead (fleet, id, events, sales, row) == 0,
               "ledger of lead %s", id);
    //  Every ping is recorded with its latency (a skipped ping has none).
    int64_t missing = pp_fleet_sql_int (fleet,
                                        "select count(*) from events where lead_id = $1"
                                        "  and kind in ('bid', 'decline')"
                                        "  and coalesce(code, '') <> 'circuit_open'"
                                        "  and (latency_us is null or latency_us < 0)",
                                        id, NULL);
    PP_CHECKF (fleet, missing == 0, "%lld bid/decline events of lead %s have no latency_us",
               (long long) missing, id);
}

//  Money of a JSON number in cents; -1 if not a number.
static int64_t
s_cents (const cJSON *item)
{
    return cJSON_IsNumber (item) ? (int64_t) llround (item->valuedouble * 100.0) : -1;
}

//  Check the one post of a lead: to `buyer`, JSON, ping_id the buyer's bid id,
//  price in cents, the lead id and the full fields.
static void
s_check_single_post (pp_fleet_t *fleet, const char *id, const char *buyer, int64_t price)
{
    cJSON *posts = pp_fleet_mockbuyer_wait (fleet, id, "post", 1, 3000, 150);
    char *text = cJSON_PrintUnformatted (posts);
    PP_CHECKF (fleet, cJSON_GetArraySize (posts) == 1, "posts of lead %s: %.3000s", id, text);
    cJSON *post = cJSON_GetArrayItem (posts, 0);
    PP_CHECKF (fleet, strcmp (s_string (post, "buyer"), buyer) == 0, "post to %s, want %s",
               s_string (post, "buyer"), buyer);
    cJSON *json = cJSON_GetObjectItemCaseSensitive (post, "json");
    PP_CHECKF (fleet, cJSON_IsObject (json), "post body is not JSON: %.3000s", text);
    PP_CHECK (fleet, strcmp (s_string (json, "lead_id"), id) == 0);
    PP_CHECK (fleet, strcmp (s_string (json, "vertical"), "solar") == 0);
    char *ref = pp_fleet_mockbuyer_bid_ref (fleet, buyer, id);
    PP_CHECKF (fleet, ref, "no ping of %s for lead %s", buyer, id);
    PP_CHECKF (fleet, strcmp (s_string (json, "ping_id"), ref) == 0,
               "post ping_id '%s', want the buyer's bid id '%s'", s_string (json, "ping_id"), ref);
    free (ref);
    int64_t cents = s_cents (cJSON_GetObjectItemCaseSensitive (json, "price"));
    PP_CHECKF (fleet, cents == price, "post price %lld cents, want %lld: %.3000s",
               (long long) cents, (long long) price, text);
    //  The post is the full lead: the personal fields are in it.
    PP_CHECKF (fleet, *s_field (json, "first_name") && *s_field (json, "email"),
               "post without the personal fields: %.3000s", text);
    free (text);
    cJSON_Delete (posts);
}

//  Check the pings of a lead went to exactly `buyers` (sorted, comma
//  separated) and were well formed.
static void
s_check_pings (pp_fleet_t *fleet, const char *id, const char *buyers, int count)
{
    cJSON *pings = pp_fleet_mockbuyer_wait (fleet, id, "ping", count, 3000, 150);
    char *got = pp_fleet_records_buyers_sorted (pings);
    PP_CHECKF (fleet, strcmp (got, buyers) == 0, "lead %s pinged '%s', want '%s'", id, got,
               buyers);
    free (got);
    cJSON *ping;
    cJSON_ArrayForEach (ping, pings) {
        cJSON *json = cJSON_GetObjectItemCaseSensitive (ping, "json");
        PP_CHECKF (fleet, strcmp (s_string (json, "ping_id"), id) == 0
                       && strcmp (s_string (json, "vertical"), "solar") == 0
                       && cJSON_IsObject (cJSON_GetObjectItemCaseSensitive (json, "fields")),
                   "ping body: %.2000s", s_string (ping, "body"));
        const char *type = s_string (ping, "content_type");
        PP_CHECKF (fleet, strstr (type, "json"), "ping content type '%s'", type);
    }
    cJSON_Delete (pings);
}

//  ---------------------------------------------------------------------------
//  Setup

static char *
s_market (void)
{
    char *buyers = strdup ("[");
    for (size_t i = 0; i < sizeof s_campaigns / sizeof s_campaigns [0]; i++) {
        const s_campaign_t *c = &s_campaigns [i];
        char *ping = s_strdup_printf ("@BUYER@/%s/ping", c->buyer);
        char *bid = s_replace (c->bid, "@PING@", ping);
        char *joined = s_strdup_printf (
            "%s%s\n {\"name\": \"%s\", \"campaigns\": [{\"name\": \"%s-c\", \"vertical\": \"solar\","
            " \"tier\": %d, \"exclusive\": true, \"bid\": %s,"
            " \"post\": {\"url\": \"@BUYER@/%s/post\", \"timeout_ms\": 1000, \"format\": \"json\"},"
            " \"filters\": {\"states\": [\"%s\"]}}]}",
            buyers, i ? "," : "", c->buyer, c->buyer, c->tier, bid, c->buyer, c->state);
        free (buyers);
        free (ping);
        free (bid);
        buyers = joined;
    }
    char *closed = s_strdup_printf ("%s]", buyers);
    free (buyers);
    char *market = pp_fleet_market_json_with (NULL, closed);
    free (closed);
    return market;
}

static int
s_setup (void **state)
{
    s_state_t *self = calloc (1, sizeof *self);
    *state = self;
    if (!self)
        return -1;
    self->fleet = pp_fleet_new ("test_e2e_auction", NULL);
    if (!self->fleet)
        return -1;
    if (pp_fleet_mockbuyer_start (self->fleet, s_mock_buyers))
        return -1;
    char *market = s_market ();
    int rc = pp_fleet_apply (self->fleet, market);
    free (market);
    return rc;
}

static int
s_teardown (void **state)
{
    s_state_t *self = *state;
    int rc = 0;
    if (self) {
        rc = pp_fleet_destroy (&self->fleet);
        for (size_t i = 0; i < self->pii_count; i++)
            free (self->pii [i]);
        free (self);
    }
    return rc;
}

//  ---------------------------------------------------------------------------
//  Three ping buyers bid 10, 30 and 20: the 30 one gets the post, with its
//  bid id as ping_id and price 30.00.

static void
test_e2e_auction_highest_ping_bid_wins (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "CA", "90001", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "CA lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 2400,
               "payout %lld cents, want 2400 (80%% of 30.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);

    s_check_pings (fleet, id, "p10,p20,p30", 3);
    s_check_single_post (fleet, id, "p30", 3000);
    s_check_ledger (fleet, id, "bid:p10-c:1000,bid:p20-c:2000,bid:p30-c:3000", "p30-c:3000:2400",
                    "sold:2400:3000");
    //  The winner's post is recorded: posted and accepted.
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "posted:p30-c,accepted:p30-c", 3000,
                                        PP_FLEET_SQL_DELIVERY_EVENTS, id, NULL) == 0);
}

//  ---------------------------------------------------------------------------
//  A buyer answering after 800 ms with a 200 ms timeout is ignored; the
//  lead is sold to the other one well before 800 ms.

static void
test_e2e_auction_slow_buyer_ignored (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "NV", "89101", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "NV lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 1200,
               "payout %lld cents, want 1200 (80%% of 15.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    double elapsed_ms = (double) reply->elapsed_us / 1000.0;
    printf ("slow buyer: answered in %.1f ms\n", elapsed_ms);
    PP_CHECKF (fleet, elapsed_ms < 700.0,
               "answered after %.1f ms: the 200 ms ping timeout was not kept", elapsed_ms);
    pp_fleet_reply_destroy (&reply);

    s_check_pings (fleet, id, "quick,slow", 2);
    s_check_single_post (fleet, id, "quick", 1500);
    s_check_ledger (fleet, id, "bid:quick-c:1500,decline:slow-c:timeout", "quick-c:1500:1200",
                    "sold:1200:1500");
    int64_t latency = pp_fleet_sql_int (fleet,
                                        "select e.latency_us from events e"
                                        "  join campaigns c on c.id = e.campaign_id"
                                        "  where e.lead_id = $1 and c.name = 'slow-c'"
                                        "  and e.kind = 'decline'",
                                        id, NULL);
    PP_CHECKF (fleet, latency >= 150000 && latency < 700000,
               "the timeout decline took %lld us, want about 200 ms", (long long) latency);
}

//  ---------------------------------------------------------------------------
//  Garbage, 5xx, 4xx, oversized, zero, non-numeric, not accepted and
//  unreachable buyers are declines with their codes; the one good bid wins.

static void
test_e2e_auction_bad_answers_are_declines (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "OR", "97201", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "OR lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 880,
               "payout %lld cents, want 880 (80%% of 11.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);

    s_check_pings (fleet, id, "badp,big,err,garb,nacc,nf,okor,zero", 8);
    s_check_single_post (fleet, id, "okor", 1100);
    //  badp's price pointer is its bid id, a string that is no number.
    s_check_ledger (fleet, id,
                    "decline:badp-c:bad_price,"
                    "decline:big-c:too_big,decline:conn-c:connect,decline:err-c:http_5xx,"
                    "decline:garb-c:bad_json,decline:nacc-c:not_accepted,decline:nf-c:http_4xx,"
                    "bid:okor-c:1100,decline:zero-c:no_bid",
                    "okor-c:1100:880", "sold:880:1100");
}

//  ---------------------------------------------------------------------------
//  The campaigns of a tier are pinged at once: three buyers answering in
//  200 ms each all bid (timeout 450 ms) and the lead is answered long before
//  the 600 ms one after the other would take.

static void
test_e2e_auction_pings_at_once (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "FL", "33101", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "FL lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 1840,
               "payout %lld cents, want 1840 (80%% of 23.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    double elapsed_ms = (double) reply->elapsed_us / 1000.0;
    printf ("pings at once: answered in %.1f ms\n", elapsed_ms);
    PP_CHECKF (fleet, elapsed_ms >= 200.0 && elapsed_ms < 500.0,
               "answered after %.1f ms: want the 200 ms of one buyer, not one after another",
               elapsed_ms);
    pp_fleet_reply_destroy (&reply);
    s_check_pings (fleet, id, "par1,par2,par3", 3);
    s_check_single_post (fleet, id, "par3", 2300);
    s_check_ledger (fleet, id, "bid:par1-c:2100,bid:par2-c:2200,bid:par3-c:2300",
                    "par3-c:2300:1840", "sold:1840:2300");
}

//  ---------------------------------------------------------------------------
//  Campaign pointers read a nested answer (price, accept flag, bid id); a
//  bid given as a numeric string counts.

static void
test_e2e_auction_pointers_and_string_bids (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "WA", "98101", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "WA lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 3200,
               "payout %lld cents, want 3200 (80%% of 40.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);

    s_check_pings (fleet, id, "nest,str", 2);
    s_check_single_post (fleet, id, "nest", 4000);
    s_check_ledger (fleet, id, "bid:nest-c:4000,bid:str-c:3500", "nest-c:4000:3200",
                    "sold:3200:4000");
}

//  ---------------------------------------------------------------------------
//  Bids under the floor (5.00) are declined; a fixed publisher payout
//  (10.00) raises the floor above both bids.

static void
test_e2e_auction_floor (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "AZ", "85001", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "AZ lead (acme)", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 480,
               "payout %lld cents, want 480 (80%% of 6.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);
    s_check_pings (fleet, id, "high,low", 2);
    s_check_single_post (fleet, id, "high", 600);
    s_check_ledger (fleet, id, "bid:high-c:600,decline:low-c:below_floor", "high-c:600:480",
                    "sold:480:600");

    reply = s_send (self, PP_FLEET_KEY_FIXED, "AZ", "85001", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "AZ lead (fixedpub)", 200, "unsold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 0, "unsold payout %lld",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);
    cJSON *posts = pp_fleet_mockbuyer_wait (fleet, id, "post", 1, 300, 0);
    PP_CHECKF (fleet, cJSON_GetArraySize (posts) == 0, "%d posts for a lead under the floor",
               cJSON_GetArraySize (posts));
    cJSON_Delete (posts);
    s_check_ledger (fleet, id, "decline:high-c:below_floor,decline:low-c:below_floor", "",
                    "unsold:0:0");
}

//  ---------------------------------------------------------------------------
//  Tier 2 is pinged only when tier 1 made no sale: not when tier 1 sold
//  (TX), but when tier 1 made no bid (UT) or its every post was rejected (KS).

static void
test_e2e_auction_tiers (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];

    //  TX: tier 1 sells; the higher tier-2 bidder never hears of the lead.
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "TX", "75001", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "TX lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 1600,
               "payout %lld cents, want 1600 (80%% of 20.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);
    s_check_pings (fleet, id, "t1a", 1);
    s_check_single_post (fleet, id, "t1a", 2000);
    s_check_ledger (fleet, id, "bid:t1a-c:2000", "t1a-c:2000:1600", "sold:1600:2000");

    //  UT: tier 1 declines (bid 0); tier 2 is pinged after it and sells.
    reply = s_send (self, PP_FLEET_KEY_ACME, "UT", "84101", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "UT lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 2000,
               "payout %lld cents, want 2000 (80%% of 25.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);
    s_check_pings (fleet, id, "t1z,t2b", 2);
    cJSON *pings = pp_fleet_mockbuyer_lead_records (fleet, id, "ping");
    char *order = pp_fleet_records_buyers (pings);
    PP_CHECKF (fleet, strcmp (order, "t1z,t2b") == 0, "pings in order '%s', want tier 1 first",
               order);
    free (order);
    cJSON_Delete (pings);
    s_check_single_post (fleet, id, "t2b", 2500);
    s_check_ledger (fleet, id, "decline:t1z-c:no_bid,bid:t2b-c:2500", "t2b-c:2500:2000",
                    "sold:2000:2500");

    //  KS: tier 1 bids but rejects the post; then tier 2 is pinged and sells.
    reply = s_send (self, PP_FLEET_KEY_ACME, "KS", "66101", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "KS lead", 200, "sold"));
    PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 960,
               "payout %lld cents, want 960 (80%% of 12.00)",
               (long long) pp_fleet_reply_price_cents (reply));
    pp_fleet_reply_destroy (&reply);
    cJSON *all = pp_fleet_mockbuyer_wait (fleet, id, NULL, 4, 3000, 150);
    char *text = cJSON_PrintUnformatted (all);
    //  ping t1r, post t1r (rejected), ping t2c, post t2c
    char *seq = strdup ("");
    cJSON *record;
    cJSON_ArrayForEach (record, all) {
        char *longer = s_strdup_printf ("%s%s%s %s", seq, *seq ? "," : "",
                                        s_string (record, "kind"), s_string (record, "buyer"));
        free (seq);
        seq = longer;
    }
    PP_CHECKF (fleet, strcmp (seq, "ping t1r,post t1r,ping t2c,post t2c") == 0,
               "requests of the KS lead: '%s', want tier 2 pinged after tier 1's rejection; "
               "%.3000s", seq, text);
    free (seq);
    free (text);
    cJSON_Delete (all);
    s_check_ledger (fleet, id, "bid:t1r-c:3000,bid:t2c-c:1200", "t2c-c:1200:960",
                    "sold:960:1200");
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet,
                                        "posted:t1r-c,post_rejected:t1r-c:rejected,"
                                        "posted:t2c-c,accepted:t2c-c",
                                        3000, PP_FLEET_SQL_DELIVERY_EVENTS, id, NULL) == 0);
}

//  ---------------------------------------------------------------------------
//  No personal data in any ping: no pii value or key, no undeclared field,
//  in any ping the mock buyer received during this program.

static void
test_e2e_auction_no_pii_in_pings (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "CA", "90001", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "CA lead", 200, "sold"));
    pp_fleet_reply_destroy (&reply);
    s_check_pings (fleet, id, "p10,p20,p30", 3);

    //  This lead's pings carry its non-personal declared fields, and only those.
    cJSON *pings = pp_fleet_mockbuyer_lead_records (fleet, id, "ping");
    cJSON *ping;
    cJSON_ArrayForEach (ping, pings) {
        cJSON *fields = cJSON_GetObjectItemCaseSensitive (
            cJSON_GetObjectItemCaseSensitive (ping, "json"), "fields");
        const char *body = s_string (ping, "body");
        PP_CHECKF (fleet, strcmp (s_string (fields, "zip"), "90001") == 0
                       && strcmp (s_string (fields, "state"), "CA") == 0
                       && cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (fields,
                                                                            "monthly_bill")),
                   "ping without its non-personal fields: %.2000s", body);
        cJSON *field;
        cJSON_ArrayForEach (field, fields) {
            static const char *allowed [] = {"zip", "state", "monthly_bill"};
            bool ok = false;
            for (size_t i = 0; i < sizeof allowed / sizeof allowed [0]; i++)
                ok = ok || strcmp (field->string, allowed [i]) == 0;
            PP_CHECKF (fleet, ok, "ping field '%s' is personal or undeclared: %.2000s",
                       field->string, body);
        }
    }
    cJSON_Delete (pings);

    //  Every ping of the program: no personal value, no personal or undeclared key.
    cJSON *records = pp_fleet_mockbuyer_records (fleet);
    int scanned = 0;
    cJSON *record;
    cJSON_ArrayForEach (record, records) {
        if (strcmp (s_string (record, "kind"), "ping") != 0)
            continue;
        scanned++;
        const char *body = s_string (record, "body");
        for (size_t i = 0; i < self->pii_count; i++)
            PP_CHECKF (fleet, !strstr (body, self->pii [i]),
                       "a ping to %s holds the personal or undeclared value '%s': %.2000s",
                       s_string (record, "buyer"), self->pii [i], body);
        static const char *keys [] = {"first_name", "last_name", "email", "phone", "address",
                                      "roof_color"};
        for (size_t i = 0; i < sizeof keys / sizeof keys [0]; i++)
            PP_CHECKF (fleet, !strstr (body, keys [i]),
                       "a ping to %s names the field '%s': %.2000s", s_string (record, "buyer"),
                       keys [i], body);
    }
    cJSON_Delete (records);
    printf ("no pii: %d pings scanned for %zu personal or undeclared values\n", scanned,
            self->pii_count);
    PP_CHECKF (fleet, scanned >= 10 && self->pii_count >= 30,
               "only %d pings and %zu values scanned", scanned, self->pii_count);
}

//  ---------------------------------------------------------------------------
//  Circuit breaker: 3 failed pings in a row open it; for the 1 s cooldown
//  the campaign is skipped (declined circuit_open, no ping reaches the
//  buyer); then a trial ping goes out, succeeds, and it closes.

static void
test_e2e_auction_circuit_breaker (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    char id [64];
    PP_CHECK (fleet, pp_fleet_mockbuyer_mode (fleet, "cb", "error") == 0);

    //  Three failures in a row (HTTP 500); the fixed bid sells each lead.
    char failed [3][64];
    int64_t third_sent_us = 0;
    for (int i = 0; i < 3; i++) {
        third_sent_us = pp_fleet_now_us ();
        pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "GA", "30301", failed [i],
                                          sizeof failed [i]);
        PP_CHECK (fleet, pp_fleet_reply_is (reply, "GA lead, cb failing", 200, "sold"));
        PP_CHECKF (fleet, pp_fleet_reply_price_cents (reply) == 640,
                   "payout %lld cents, want 640 (80%% of 8.00)",
                   (long long) pp_fleet_reply_price_cents (reply));
        pp_fleet_reply_destroy (&reply);
    }
    //  Leads during the cooldown: every one answered before it can have
    //  ended (1 s after the third lead was sent) must skip cb. Then cb is
    //  healthy again, and a trial ping gets through.
    int skipped = 0;
    char trial [64] = "";
    int64_t trial_answered_us = 0;
    bool healed = false;
    while (pp_fleet_now_us () < third_sent_us + 5000000) {
        pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "GA", "30301", id, sizeof id);
        int64_t answered_us = reply->sent_us + reply->elapsed_us;
        PP_CHECK (fleet, pp_fleet_reply_is (reply, "GA lead", 200, "sold"));
        pp_fleet_reply_destroy (&reply);
        if (!healed) {
            //  From now on the buyer answers; only the circuit keeps pings away.
            PP_CHECK (fleet, pp_fleet_mockbuyer_mode (fleet, "cb", "normal") == 0);
            healed = true;
        }
        cJSON *pings = pp_fleet_mockbuyer_wait (fleet, id, "ping", 1, 0, 30);
        int count = cJSON_GetArraySize (pings);
        cJSON_Delete (pings);
        if (answered_us < third_sent_us + 1000000) {
            PP_CHECKF (fleet, count == 0,
                       "lead %s pinged cb %.0f ms after the third failure: circuit not open", id,
                       (double) (answered_us - third_sent_us) / 1000.0);
            s_check_ledger (fleet, id, "decline:cb-c:circuit_open,bid:cbfix-c:800", NULL, NULL);
            skipped++;
        }
        if (count > 0) {
            snprintf (trial, sizeof trial, "%s", id);
            trial_answered_us = answered_us;
            break;
        }
        pp_fleet_sleep_ms (100);
    }
    printf ("circuit: %d leads skipped cb; trial ping %.0f ms after the third failure\n",
            skipped, trial [0] ? (double) (trial_answered_us - third_sent_us) / 1000.0 : -1.0);
    PP_CHECKF (fleet, skipped >= 1, "%s", "no lead was answered within the cooldown");
    PP_CHECKF (fleet, *trial, "%s", "cb was never pinged again within 5 s: circuit never closed");

    for (int i = 0; i < 3; i++)
        s_check_ledger (fleet, failed [i], "decline:cb-c:http_5xx,bid:cbfix-c:800", NULL, NULL);
    //  The trial ping bid 30.00 and won; the circuit closed.
    s_check_ledger (fleet, trial, "bid:cb-c:3000,bid:cbfix-c:800", "cb-c:3000:2400",
                    "sold:2400:3000");
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "1", 3000,
                                        "select count(*) from events e join campaigns c"
                                        "  on c.id = e.campaign_id where e.kind = 'circuit_open'"
                                        "  and c.name = 'cb-c'",
                                        NULL) == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "1", 3000,
                                        "select count(*) from events e join campaigns c"
                                        "  on c.id = e.campaign_id where e.kind = 'circuit_closed'"
                                        "  and c.name = 'cb-c'",
                                        NULL) == 0);
    PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "t", 3000,
                                        "select (select min(at) from events e join campaigns c"
                                        "  on c.id = e.campaign_id where e.kind = 'circuit_open'"
                                        "  and c.name = 'cb-c') < (select min(at) from events e"
                                        "  join campaigns c on c.id = e.campaign_id"
                                        "  where e.kind = 'circuit_closed' and c.name = 'cb-c')",
                                        NULL) == 0);
    //  Pings resume.
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "GA", "30301", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "GA lead after the circuit closed", 200, "sold"));
    pp_fleet_reply_destroy (&reply);
    s_check_pings (fleet, id, "cb", 1);
    s_check_ledger (fleet, id, "bid:cb-c:3000,bid:cbfix-c:800", "cb-c:3000:2400", NULL);
}

//  ---------------------------------------------------------------------------
//  A ping cut short by the lead's own deadline is not the buyer's failure:
//  leads with 400 ms left ping cut (whose campaign allows 1.5 s, and which
//  does not answer now) for what they have left; those timeouts do not
//  count in cut's circuit (2 failures open it for 30 s). A lead with time
//  to spare, once cut answers again, still pings it and buys from it.

static void
test_e2e_auction_deadline_is_not_the_buyers_failure (void **state)
{
    s_state_t *self = *state;
    pp_fleet_t *fleet = self->fleet;
    PP_CHECK (fleet, pp_fleet_mockbuyer_mode (fleet, "cut", "hang") == 0);
    for (int i = 0; i < 3; i++) {
        cJSON *lead = s_lead (self, "NM", "87101");
        cJSON_ReplaceItemInObject (lead, "timeout_ms", cJSON_CreateNumber (400));
        pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
        cJSON_Delete (lead);
        PP_CHECK (fleet, reply->status == 200);
        char id [64];
        snprintf (id, sizeof id, "%s", pp_fleet_reply_lead_id (reply));
        pp_fleet_reply_destroy (&reply);
        //  It pinged cut, and cut did not answer in time
        s_check_pings (fleet, id, "cut", 1);
        PP_CHECK (fleet, pp_fleet_sql_wait (fleet, "timeout", 5000,
                                            "select code from events e join campaigns c"
                                            "  on c.id = e.campaign_id where e.lead_id = $1"
                                            "  and e.kind = 'decline' and c.name = 'cut-c'",
                                            id, NULL) == 0);
    }
    PP_CHECK (fleet, pp_fleet_mockbuyer_mode (fleet, "cut", "normal") == 0);
    char id [64];
    pp_fleet_reply_t *reply = s_send (self, PP_FLEET_KEY_ACME, "NM", "87101", id, sizeof id);
    PP_CHECK (fleet, pp_fleet_reply_is (reply, "NM lead with time to spare", 200, "sold"));
    pp_fleet_reply_destroy (&reply);
    s_check_pings (fleet, id, "cut", 1);
    s_check_ledger (fleet, id, "bid:cut-c:3000", "cut-c:3000:2400", NULL);
    PP_CHECK (fleet, pp_fleet_sql_int (fleet, "select count(*) from events e join campaigns c"
                                              "  on c.id = e.campaign_id where c.name = 'cut-c'"
                                              "  and e.kind = 'circuit_open'",
                                       NULL) == 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_e2e_auction_highest_ping_bid_wins),
        cmocka_unit_test (test_e2e_auction_slow_buyer_ignored),
        cmocka_unit_test (test_e2e_auction_bad_answers_are_declines),
        cmocka_unit_test (test_e2e_auction_pings_at_once),
        cmocka_unit_test (test_e2e_auction_pointers_and_string_bids),
        cmocka_unit_test (test_e2e_auction_floor),
        cmocka_unit_test (test_e2e_auction_tiers),
        cmocka_unit_test (test_e2e_auction_no_pii_in_pings),
        cmocka_unit_test (test_e2e_auction_circuit_breaker),
        cmocka_unit_test (test_e2e_auction_deadline_is_not_the_buyers_failure),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
