/*  test_auction - ranking (tiers, price, rate, earlier answer), pricing, shared plans, ping answers, the floor  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  auction_floor needs publisher ids, which only a stored market has: that
//  test uses PINGPOST_TEST_DATABASE_URL (a fresh schema per run made by
//  tests/unit/pp_testdb, dropped at the end).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "auction_server.h"
#include "pp_db.h"
#include "pp_log.h"
#include "pp_testdb.h"

//  --------------------------------------------------------------------------
//  Bids made by hand

static pp_bid_t
s_bid (uint32_t campaign_id, int32_t tier, int64_t amount_cents, int64_t answered_us)
{
    pp_bid_t bid;
    memset (&bid, 0, sizeof bid);
    bid.campaign_id = campaign_id;
    bid.buyer_id = campaign_id + 1000;
    bid.tier = tier;
    bid.amount_cents = amount_cents;
    bid.answered_us = answered_us;
    bid.latency_us = (int64_t) campaign_id * 10;
    bid.exclusive = campaign_id % 2 == 0;
    return bid;
}

static pp_lead_t *
s_lead (const pp_bid_t *bids, size_t count)
{
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000001");
    for (size_t i = 0; i < count; i++)
        pp_lead_add_bid (lead, &bids [i]);
    return lead;
}

//  Expect the campaigns in this order with these prices.
static void
s_expect_rank (pp_lead_t *lead, const uint32_t *campaigns, const int64_t *prices, size_t count)
{
    assert_int_equal (pp_lead_bid_size (lead), count);
    for (size_t i = 0; i < count; i++) {
        const pp_bid_t *bid = pp_lead_bid (lead, i);
        if (bid->campaign_id != campaigns [i] || bid->price_cents != prices [i])
            fail_msg ("rank %zu: campaign %u at %lld, expected campaign %u at %lld", i,
                      bid->campaign_id, (long long) bid->price_cents, campaigns [i],
                      (long long) prices [i]);
        //  Everything else travels with the bid
        assert_int_equal (bid->buyer_id, bid->campaign_id + 1000);
        assert_int_equal (bid->latency_us, (int64_t) bid->campaign_id * 10);
        assert_int_equal (bid->exclusive, bid->campaign_id % 2 == 0);
    }
}

static void
test_auction_rank_tiers_first (void **state)
{
    pp_bid_t bids [] = {
        s_bid (1, 2, 9000, 100), s_bid (2, 1, 1000, 100), s_bid (3, 3, 99999, 100),
        s_bid (4, 1, 2000, 100), s_bid (5, 2, 500, 100),
    };
    pp_lead_t *lead = s_lead (bids, 5);
    auction_rank (lead, PP_PRICING_FIRST, 0);
    //  Tier 1 before tier 2 before tier 3 whatever the price; first
    //  pricing charges the bid
    const uint32_t order [] = {4, 2, 1, 5, 3};
    const int64_t prices [] = {2000, 1000, 9000, 500, 99999};
    s_expect_rank (lead, order, prices, 5);
    pp_lead_destroy (&lead);
}

static void
test_auction_rank_ties (void **state)
{
    //  Same tier and price: the earlier answer first; then the lower id, so
    //  the order never depends on the order bids came in
    pp_bid_t bids [] = {
        s_bid (10, 1, 1500, 300), s_bid (11, 1, 1500, 100), s_bid (12, 1, 1500, 200),
        s_bid (13, 1, 1600, 900), s_bid (15, 1, 1500, 100), s_bid (14, 1, 1500, 100),
    };
    const uint32_t order [] = {13, 11, 14, 15, 12, 10};
    const int64_t prices [] = {1600, 1500, 1500, 1500, 1500, 1500};
    for (int round = 0; round < 20; round++) {
        //  Shuffle the input: the outcome is the same
        pp_bid_t shuffled [6];
        memcpy (shuffled, bids, sizeof bids);
        for (int i = 5; i > 0; i--) {
            int j = (int) randof (i + 1);
            pp_bid_t swap = shuffled [i];
            shuffled [i] = shuffled [j];
            shuffled [j] = swap;
        }
        pp_lead_t *lead = s_lead (shuffled, 6);
        auction_rank (lead, PP_PRICING_FIRST, 0);
        s_expect_rank (lead, order, prices, 6);
        pp_lead_destroy (&lead);
    }
}

static void
test_auction_rank_second_price (void **state)
{
    //  Tier 1: 30.00, 20.00, 10.00; tier 2: 8.00 alone; floor 5.00
    pp_bid_t bids [] = {
        s_bid (1, 1, 1000, 1), s_bid (2, 1, 3000, 1), s_bid (3, 1, 2000, 1),
        s_bid (4, 2, 800, 1),
    };
    pp_lead_t *lead = s_lead (bids, 4);
    auction_rank (lead, PP_PRICING_SECOND, 500);
    //  Each pays the next bid of its tier + 0.01; the last of a tier the floor
    const uint32_t order [] = {2, 3, 1, 4};
    const int64_t prices [] = {2001, 1001, 500, 500};
    s_expect_rank (lead, order, prices, 4);
    //  The amounts are kept
    assert_int_equal (pp_lead_bid (lead, 0)->amount_cents, 3000);
    assert_int_equal (pp_lead_bid (lead, 3)->amount_cents, 800);
    pp_lead_destroy (&lead);
}

static void
test_auction_rank_second_price_bounds (void **state)
{
    //  Equal bids: the winner pays its own bid, not a cent more
    pp_bid_t equal [] = {s_bid (1, 1, 2000, 5), s_bid (2, 1, 2000, 6)};
    pp_lead_t *lead = s_lead (equal, 2);
    auction_rank (lead, PP_PRICING_SECOND, 100);
    const uint32_t order_equal [] = {1, 2};
    const int64_t prices_equal [] = {2000, 100};
    s_expect_rank (lead, order_equal, prices_equal, 2);
    pp_lead_destroy (&lead);

    //  One cent apart
    pp_bid_t close [] = {s_bid (1, 1, 2000, 5), s_bid (2, 1, 1999, 6)};
    lead = s_lead (close, 2);
    auction_rank (lead, PP_PRICING_SECOND, 100);
    const uint32_t order_close [] = {1, 2};
    const int64_t prices_close [] = {2000, 100};
    s_expect_rank (lead, order_close, prices_close, 2);
    pp_lead_destroy (&lead);

    //  The next bid under the floor: at least the floor
    pp_bid_t low [] = {s_bid (1, 1, 3000, 5), s_bid (2, 1, 100, 6)};
    lead = s_lead (low, 2);
    auction_rank (lead, PP_PRICING_SECOND, 500);
    const uint32_t order_low [] = {1, 2};
    const int64_t prices_low [] = {500, 100};
    s_expect_rank (lead, order_low, prices_low, 2);
    pp_lead_destroy (&lead);

    //  A lone bid pays the floor; never more than its own bid
    pp_bid_t alone [] = {s_bid (7, 1, 4000, 5)};
    lead = s_lead (alone, 1);
    auction_rank (lead, PP_PRICING_SECOND, 1234);
    const uint32_t order_alone [] = {7};
    const int64_t prices_alone [] = {1234};
    s_expect_rank (lead, order_alone, prices_alone, 1);
    pp_lead_destroy (&lead);
    lead = s_lead (alone, 1);
    auction_rank (lead, PP_PRICING_SECOND, 5000);
    const int64_t prices_capped [] = {4000};
    s_expect_rank (lead, order_alone, prices_capped, 1);
    pp_lead_destroy (&lead);

    //  The next bid of a lower tier does not set the price
    pp_bid_t tiers [] = {s_bid (1, 1, 3000, 5), s_bid (2, 2, 2900, 6)};
    lead = s_lead (tiers, 2);
    auction_rank (lead, PP_PRICING_SECOND, 500);
    const uint32_t order_tiers [] = {1, 2};
    const int64_t prices_tiers [] = {500, 500};
    s_expect_rank (lead, order_tiers, prices_tiers, 2);
    pp_lead_destroy (&lead);
}

static void
test_auction_rank_refs_and_empty (void **state)
{
    //  No bids: nothing happens
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000002");
    auction_rank (lead, PP_PRICING_SECOND, 500);
    assert_int_equal (pp_lead_bid_size (lead), 0);
    pp_lead_destroy (&lead);

    //  The buyers' references follow their bids (and are not leaked)
    pp_bid_t bids [] = {s_bid (1, 1, 1000, 1), s_bid (2, 1, 3000, 1), s_bid (3, 1, 2000, 1)};
    bids [0].bid_ref = "ref-one";
    bids [1].bid_ref = NULL;
    bids [2].bid_ref = "ref-three";
    lead = s_lead (bids, 3);
    auction_rank (lead, PP_PRICING_FIRST, 0);
    assert_int_equal (pp_lead_bid (lead, 0)->campaign_id, 2);
    assert_null (pp_lead_bid (lead, 0)->bid_ref);
    assert_string_equal (pp_lead_bid (lead, 1)->bid_ref, "ref-three");
    assert_string_equal (pp_lead_bid (lead, 2)->bid_ref, "ref-one");
    //  Ranking twice changes nothing
    auction_rank (lead, PP_PRICING_FIRST, 0);
    assert_int_equal (pp_lead_bid (lead, 0)->campaign_id, 2);
    assert_string_equal (pp_lead_bid (lead, 2)->bid_ref, "ref-one");
    pp_lead_destroy (&lead);
}

static void
test_auction_rank_many (void **state)
{
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000003");
    for (uint32_t i = 1; i <= 300; i++) {
        pp_bid_t bid = s_bid (i, 1 + (int32_t) randof (4), 100 + (int64_t) randof (50),
                              (int64_t) randof (20));
        pp_lead_add_bid (lead, &bid);
    }
    auction_rank (lead, PP_PRICING_SECOND, 120);
    assert_int_equal (pp_lead_bid_size (lead), 300);
    for (size_t i = 0; i + 1 < 300; i++) {
        const pp_bid_t *a = pp_lead_bid (lead, i);
        const pp_bid_t *b = pp_lead_bid (lead, i + 1);
        bool ordered = a->tier < b->tier
                       || (a->tier == b->tier && a->amount_cents > b->amount_cents)
                       || (a->tier == b->tier && a->amount_cents == b->amount_cents
                           && a->answered_us < b->answered_us)
                       || (a->tier == b->tier && a->amount_cents == b->amount_cents
                           && a->answered_us == b->answered_us
                           && a->campaign_id < b->campaign_id);
        if (!ordered)
            fail_msg ("bids %zu and %zu out of order", i, i + 1);
        //  Never over the bid; at least the floor unless the bid is under it
        assert_true (a->price_cents <= a->amount_cents);
        assert_true (a->price_cents >= (a->amount_cents < 120 ? a->amount_cents : 120));
        if (a->tier == b->tier && b->amount_cents + 1 > 120)
            assert_int_equal (a->price_cents,
                              b->amount_cents + 1 < a->amount_cents ? b->amount_cents + 1
                                                                    : a->amount_cents);
    }
    pp_lead_destroy (&lead);
}

//  --------------------------------------------------------------------------
//  auction_rank_by: the post-acceptance rate breaks ties of tier and price

//  Rates by campaign id, and how often they were asked for.
typedef struct {
    double rates [64];          //  rate of campaign i
    int calls;                  //  calls made
    uint32_t last_id;           //  last campaign asked about
} s_rates_t;

static double
s_rate_of (uint32_t campaign_id, void *arg)
{
    s_rates_t *rates = (s_rates_t *) arg;
    assert_true (campaign_id < 64);
    rates->calls++;
    rates->last_id = campaign_id;
    return rates->rates [campaign_id];
}

static void
test_auction_rank_by_rate (void **state)
{
    s_rates_t rates;
    memset (&rates, 0, sizeof rates);
    rates.rates [1] = 0.20;
    rates.rates [2] = 0.90;
    rates.rates [3] = 0.50;
    rates.rates [4] = 0.95;
    rates.rates [5] = 0.90;
    rates.rates [6] = 1.00;
    //  1, 2, 3 tie on tier and price: the higher rate first although it
    //  answered later; 5 ties 2 on rate too, so the earlier answer; 4 has
    //  the best rate but a lower price; 6 the best rate but a later tier
    pp_bid_t bids [] = {
        s_bid (1, 1, 2000, 100), s_bid (2, 1, 2000, 300), s_bid (3, 1, 2000, 200),
        s_bid (4, 1, 1999, 50), s_bid (5, 1, 2000, 250), s_bid (6, 2, 9000, 10),
    };
    const uint32_t order [] = {5, 2, 3, 1, 4, 6};
    const int64_t prices [] = {2000, 2000, 2000, 2000, 1999, 9000};
    for (int round = 0; round < 20; round++) {
        pp_bid_t shuffled [6];
        memcpy (shuffled, bids, sizeof bids);
        for (int i = 5; i > 0; i--) {
            int j = (int) randof (i + 1);
            pp_bid_t swap = shuffled [i];
            shuffled [i] = shuffled [j];
            shuffled [j] = swap;
        }
        pp_lead_t *lead = s_lead (shuffled, 6);
        rates.calls = 0;
        auction_rank_by (lead, PP_PRICING_FIRST, 0, s_rate_of, &rates);
        s_expect_rank (lead, order, prices, 6);
        //  The callback got our argument, once per bid at most
        assert_true (rates.calls >= 1 && rates.calls <= 6);
        pp_lead_destroy (&lead);
    }
    //  Without a callback, every campaign counts as rate 1: the earlier answer
    pp_lead_t *lead = s_lead (bids, 6);
    auction_rank_by (lead, PP_PRICING_FIRST, 0, NULL, NULL);
    const uint32_t order_plain [] = {1, 3, 5, 2, 4, 6};
    s_expect_rank (lead, order_plain, prices, 6);
    pp_lead_destroy (&lead);
    //  auction_rank is auction_rank_by without rates
    lead = s_lead (bids, 6);
    auction_rank (lead, PP_PRICING_FIRST, 0);
    s_expect_rank (lead, order_plain, prices, 6);
    pp_lead_destroy (&lead);
}

static void
test_auction_rank_by_rate_second_price (void **state)
{
    s_rates_t rates;
    memset (&rates, 0, sizeof rates);
    rates.rates [1] = 0.5;
    rates.rates [2] = 0.9;
    rates.rates [3] = 0.1;
    //  The better rate wins the tie and pays the tied bid (+1 capped at its
    //  own bid); the other tied bid pays the next one + 0.01; the last the floor
    pp_bid_t bids [] = {s_bid (1, 1, 2000, 1), s_bid (2, 1, 2000, 2), s_bid (3, 1, 1200, 0)};
    pp_lead_t *lead = s_lead (bids, 3);
    auction_rank_by (lead, PP_PRICING_SECOND, 700, s_rate_of, &rates);
    const uint32_t order [] = {2, 1, 3};
    const int64_t prices [] = {2000, 1201, 700};
    s_expect_rank (lead, order, prices, 3);
    assert_int_equal (rates.calls, 3);
    pp_lead_destroy (&lead);

    //  No bids: the callback is not called
    lead = pp_lead_new ("01J00000000000000000000006");
    rates.calls = 0;
    auction_rank_by (lead, PP_PRICING_SECOND, 700, s_rate_of, &rates);
    assert_int_equal (pp_lead_bid_size (lead), 0);
    assert_int_equal (rates.calls, 0);
    pp_lead_destroy (&lead);
}

static void
test_auction_rank_by_rate_many (void **state)
{
    //  Random bids and rates: the order holds pairwise, refs follow their bids
    s_rates_t rates;
    memset (&rates, 0, sizeof rates);
    for (int i = 0; i < 64; i++)
        rates.rates [i] = (double) randof (5) / 4.0;
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000007");
    for (uint32_t i = 1; i < 64; i++) {
        pp_bid_t bid = s_bid (i, 1 + (int32_t) randof (2), 100 + (int64_t) randof (4),
                              (int64_t) randof (3));
        char ref [16];
        snprintf (ref, sizeof ref, "ref-%u", i);
        bid.bid_ref = ref;
        pp_lead_add_bid (lead, &bid);
    }
    auction_rank_by (lead, PP_PRICING_FIRST, 0, s_rate_of, &rates);
    assert_int_equal (pp_lead_bid_size (lead), 63);
    for (size_t i = 0; i + 1 < 63; i++) {
        const pp_bid_t *a = pp_lead_bid (lead, i);
        const pp_bid_t *b = pp_lead_bid (lead, i + 1);
        double ra = rates.rates [a->campaign_id];
        double rb = rates.rates [b->campaign_id];
        bool ordered = a->tier < b->tier
                       || (a->tier == b->tier && a->amount_cents > b->amount_cents)
                       || (a->tier == b->tier && a->amount_cents == b->amount_cents && ra > rb)
                       || (a->tier == b->tier && a->amount_cents == b->amount_cents && ra == rb
                           && a->answered_us < b->answered_us)
                       || (a->tier == b->tier && a->amount_cents == b->amount_cents && ra == rb
                           && a->answered_us == b->answered_us
                           && a->campaign_id < b->campaign_id);
        if (!ordered)
            fail_msg ("bids %zu (campaign %u) and %zu (campaign %u) out of order", i,
                      a->campaign_id, i + 1, b->campaign_id);
    }
    for (size_t i = 0; i < 63; i++) {
        const pp_bid_t *bid = pp_lead_bid (lead, i);
        char ref [16];
        snprintf (ref, sizeof ref, "ref-%u", bid->campaign_id);
        assert_non_null (bid->bid_ref);
        assert_string_equal (bid->bid_ref, ref);
    }
    pp_lead_destroy (&lead);
}

//  --------------------------------------------------------------------------
//  auction_plan: shared or exclusive

//  A ranked bid for the plan: buyer, exclusivity, amount and price by hand.
static pp_bid_t
s_plan_bid (uint32_t campaign_id, uint32_t buyer_id, bool exclusive, int64_t amount_cents,
            int64_t price_cents)
{
    pp_bid_t bid;
    memset (&bid, 0, sizeof bid);
    bid.campaign_id = campaign_id;
    bid.buyer_id = buyer_id;
    bid.exclusive = exclusive;
    bid.tier = 1;
    bid.amount_cents = amount_cents;
    bid.price_cents = price_cents;
    bid.answered_us = campaign_id;
    bid.latency_us = (int64_t) campaign_id * 7;
    return bid;
}

//  Expect these campaigns in this order at these prices; every other
//  member of each bid is as it was made (found by campaign id in `made`).
static void
s_expect_plan (pp_lead_t *lead, const pp_bid_t *made, size_t made_count,
               const uint32_t *campaigns, const int64_t *prices, size_t count)
{
    if (pp_lead_bid_size (lead) != count)
        fail_msg ("%zu bids after the plan, expected %zu", pp_lead_bid_size (lead), count);
    for (size_t i = 0; i < count; i++) {
        const pp_bid_t *bid = pp_lead_bid (lead, i);
        if (bid->campaign_id != campaigns [i] || bid->price_cents != prices [i])
            fail_msg ("plan %zu: campaign %u at %lld, expected campaign %u at %lld", i,
                      bid->campaign_id, (long long) bid->price_cents, campaigns [i],
                      (long long) prices [i]);
        const pp_bid_t *source = NULL;
        for (size_t k = 0; k < made_count; k++)
            if (made [k].campaign_id == bid->campaign_id)
                source = &made [k];
        assert_non_null (source);
        assert_int_equal (bid->buyer_id, source->buyer_id);
        assert_int_equal (bid->exclusive, source->exclusive);
        assert_int_equal (bid->amount_cents, source->amount_cents);
        assert_int_equal (bid->tier, source->tier);
        assert_int_equal (bid->answered_us, source->answered_us);
        assert_int_equal (bid->latency_us, source->latency_us);
        if (source->bid_ref) {
            assert_non_null (bid->bid_ref);
            assert_string_equal (bid->bid_ref, source->bid_ref);
            //  A copy the lead owns, not the caller's string
            assert_ptr_not_equal (bid->bid_ref, source->bid_ref);
        }
        else
            assert_null (bid->bid_ref);
    }
}

static void
test_auction_plan_shared_wins (void **state)
{
    //  Exclusive 50.00 against 20 + 20 + 15 of three buyers (max 3): shared
    //  earns 55.00. The exclusive bids go; the non-exclusive ones stay in
    //  rank (the fourth as a fallback), each priced at its own bid
    pp_bid_t bids [] = {
        s_plan_bid (1, 101, true, 5000, 5000), s_plan_bid (2, 102, false, 2000, 1800),
        s_plan_bid (3, 103, false, 2000, 1501), s_plan_bid (4, 104, false, 1500, 1001),
        s_plan_bid (5, 105, true, 1200, 1001), s_plan_bid (6, 106, false, 1000, 500),
    };
    pp_lead_t *lead = s_lead (bids, 6);
    assert_true (auction_plan (lead, 3));
    const uint32_t order [] = {2, 3, 4, 6};
    const int64_t prices [] = {2000, 2000, 1500, 1000};
    s_expect_plan (lead, bids, 6, order, prices, 4);
    pp_lead_destroy (&lead);

    //  The same bids with max 2: 40.00 loses to 50.00
    lead = s_lead (bids, 6);
    assert_false (auction_plan (lead, 2));
    const uint32_t order_two [] = {1, 2, 3, 4, 5, 6};
    const int64_t prices_two [] = {5000, 1800, 1501, 1001, 1001, 500};
    s_expect_plan (lead, bids, 6, order_two, prices_two, 6);
    pp_lead_destroy (&lead);

    //  More room than buyers: every non-exclusive bid counts
    lead = s_lead (bids, 6);
    assert_true (auction_plan (lead, 10));
    const uint32_t order_ten [] = {2, 3, 4, 6};
    const int64_t prices_ten [] = {2000, 2000, 1500, 1000};
    s_expect_plan (lead, bids, 6, order_ten, prices_ten, 4);
    pp_lead_destroy (&lead);
}

static void
test_auction_plan_exclusive_wins (void **state)
{
    //  Exclusive 60.00 against 20 + 20 + 15: exclusive, first, the rest kept
    //  in rank behind it with their prices untouched
    pp_bid_t bids [] = {
        s_plan_bid (1, 101, true, 6000, 5999), s_plan_bid (2, 102, false, 2000, 1800),
        s_plan_bid (3, 103, false, 2000, 1501), s_plan_bid (4, 104, false, 1500, 1001),
    };
    pp_lead_t *lead = s_lead (bids, 4);
    assert_false (auction_plan (lead, 3));
    const uint32_t order [] = {1, 2, 3, 4};
    const int64_t prices [] = {5999, 1800, 1501, 1001};
    s_expect_plan (lead, bids, 4, order, prices, 4);
    pp_lead_destroy (&lead);

    //  Equal: 55.00 exclusive against 20 + 20 + 15 stays exclusive
    bids [0] = s_plan_bid (1, 101, true, 5500, 5500);
    lead = s_lead (bids, 4);
    assert_false (auction_plan (lead, 3));
    const int64_t prices_equal [] = {5500, 1800, 1501, 1001};
    s_expect_plan (lead, bids, 4, order, prices_equal, 4);
    pp_lead_destroy (&lead);

    //  One cent less and shared wins
    bids [0] = s_plan_bid (1, 101, true, 5499, 5499);
    lead = s_lead (bids, 4);
    assert_true (auction_plan (lead, 3));
    const uint32_t order_shared [] = {2, 3, 4};
    const int64_t prices_shared [] = {2000, 2000, 1500};
    s_expect_plan (lead, bids, 4, order_shared, prices_shared, 3);
    pp_lead_destroy (&lead);
}

static void
test_auction_plan_exclusive_moves_first (void **state)
{
    //  Ranked with a non-exclusive bid ahead of the best exclusive one: the
    //  shared side is one buyer's 30.00 (its two bids count once), equal to
    //  the exclusive 30.00, so exclusive wins and its bid moves to the front
    pp_bid_t bids [] = {
        s_plan_bid (1, 101, false, 3000, 3000), s_plan_bid (2, 102, true, 3000, 3000),
        s_plan_bid (3, 101, false, 3000, 2000), s_plan_bid (4, 104, true, 2500, 1000),
    };
    pp_lead_t *lead = s_lead (bids, 4);
    assert_false (auction_plan (lead, 2));
    const uint32_t order [] = {2, 1, 3, 4};
    const int64_t prices [] = {3000, 3000, 2000, 1000};
    s_expect_plan (lead, bids, 4, order, prices, 4);
    pp_lead_destroy (&lead);

    //  Two exclusive bids at the same price: the better ranked one leads
    pp_bid_t pair [] = {
        s_plan_bid (1, 101, false, 900, 900), s_plan_bid (2, 102, true, 900, 900),
        s_plan_bid (3, 103, true, 900, 900),
    };
    lead = s_lead (pair, 3);
    assert_false (auction_plan (lead, 3));
    const uint32_t order_pair [] = {2, 1, 3};
    const int64_t prices_pair [] = {900, 900, 900};
    s_expect_plan (lead, pair, 3, order_pair, prices_pair, 3);
    pp_lead_destroy (&lead);
}

static void
test_auction_plan_distinct_buyers (void **state)
{
    //  Buyer 101 bids twice: 20 + 15 of distinct buyers is 35.00 < 50.00
    //  (counting 101 twice would make 55.00 and sell shared)
    pp_bid_t bids [] = {
        s_plan_bid (1, 901, true, 5000, 5000), s_plan_bid (2, 101, false, 2000, 2000),
        s_plan_bid (3, 101, false, 2000, 2000), s_plan_bid (4, 104, false, 1500, 1500),
    };
    pp_lead_t *lead = s_lead (bids, 4);
    assert_false (auction_plan (lead, 3));
    const uint32_t order [] = {1, 2, 3, 4};
    const int64_t prices [] = {5000, 2000, 2000, 1500};
    s_expect_plan (lead, bids, 4, order, prices, 4);
    pp_lead_destroy (&lead);

    //  max 2: the repeated buyer does not take a slot, so 30.00 + 28.00 of
    //  two buyers beats 57.00 exclusive; both of 101's bids stay in rank
    pp_bid_t slots [] = {
        s_plan_bid (1, 901, true, 5700, 5700), s_plan_bid (2, 101, false, 3000, 3000),
        s_plan_bid (3, 101, false, 2900, 2900), s_plan_bid (4, 104, false, 2800, 2800),
    };
    lead = s_lead (slots, 4);
    assert_true (auction_plan (lead, 2));
    const uint32_t order_slots [] = {2, 3, 4};
    const int64_t prices_slots [] = {3000, 2900, 2800};
    s_expect_plan (lead, slots, 4, order_slots, prices_slots, 3);
    pp_lead_destroy (&lead);
}

static void
test_auction_plan_earnings_by_price (void **state)
{
    //  An exclusive sale earns its price (second pricing charged 20.01 of a
    //  50.00 bid); shared sales earn their own bids: 20 + 15 = 35.00 wins
    pp_bid_t bids [] = {
        s_plan_bid (1, 101, true, 5000, 2001), s_plan_bid (2, 102, false, 2000, 1501),
        s_plan_bid (3, 103, false, 1500, 500),
    };
    pp_lead_t *lead = s_lead (bids, 3);
    assert_true (auction_plan (lead, 2));
    const uint32_t order [] = {2, 3};
    const int64_t prices [] = {2000, 1500};
    s_expect_plan (lead, bids, 3, order, prices, 2);
    pp_lead_destroy (&lead);
}

static void
test_auction_plan_one_kind (void **state)
{
    //  Only exclusive bids: nothing to share; order and prices unchanged
    pp_bid_t exclusive [] = {
        s_plan_bid (1, 101, true, 3000, 2001), s_plan_bid (2, 102, true, 2000, 1001),
        s_plan_bid (3, 103, true, 1000, 500),
    };
    pp_lead_t *lead = s_lead (exclusive, 3);
    assert_false (auction_plan (lead, 3));
    const uint32_t order_exclusive [] = {1, 2, 3};
    const int64_t prices_exclusive [] = {2001, 1001, 500};
    s_expect_plan (lead, exclusive, 3, order_exclusive, prices_exclusive, 3);
    pp_lead_destroy (&lead);

    //  Only non-exclusive bids: shared, all kept in rank at their own bids
    pp_bid_t shared [] = {
        s_plan_bid (1, 101, false, 3000, 2001), s_plan_bid (2, 102, false, 2000, 1001),
        s_plan_bid (3, 101, false, 1000, 500), s_plan_bid (4, 104, false, 900, 500),
    };
    lead = s_lead (shared, 4);
    assert_true (auction_plan (lead, 2));
    const uint32_t order_shared [] = {1, 2, 3, 4};
    const int64_t prices_shared [] = {3000, 2000, 1000, 900};
    s_expect_plan (lead, shared, 4, order_shared, prices_shared, 4);
    pp_lead_destroy (&lead);

    //  A single non-exclusive bid is a shared sale of one
    lead = s_lead (shared, 1);
    assert_true (auction_plan (lead, 3));
    const int64_t prices_one [] = {3000};
    s_expect_plan (lead, shared, 1, order_shared, prices_one, 1);
    pp_lead_destroy (&lead);

    //  No bids: nothing to plan
    lead = pp_lead_new ("01J00000000000000000000008");
    assert_false (auction_plan (lead, 3));
    assert_int_equal (pp_lead_bid_size (lead), 0);
    pp_lead_destroy (&lead);
}

static void
test_auction_plan_exclusive_mode (void **state)
{
    //  max_sales 1 (or less): the ranking is left alone even where shared
    //  sales would earn more
    pp_bid_t bids [] = {
        s_plan_bid (1, 101, false, 3000, 2001), s_plan_bid (2, 102, true, 2000, 1501),
        s_plan_bid (3, 103, false, 1500, 1001), s_plan_bid (4, 104, false, 1000, 500),
    };
    bids [0].bid_ref = "r-1";
    bids [2].bid_ref = "r-3";
    const uint32_t order [] = {1, 2, 3, 4};
    const int64_t prices [] = {2001, 1501, 1001, 500};
    const int sales [] = {1, 0, -1};
    for (size_t i = 0; i < 3; i++) {
        pp_lead_t *lead = s_lead (bids, 4);
        assert_false (auction_plan (lead, sales [i]));
        s_expect_plan (lead, bids, 4, order, prices, 4);
        pp_lead_destroy (&lead);
    }
}

static void
test_auction_plan_refs (void **state)
{
    //  Buyer references survive the reordering either way (ASan checks they
    //  are neither leaked nor freed twice)
    pp_bid_t bids [] = {
        s_plan_bid (1, 101, false, 3000, 3000), s_plan_bid (2, 102, true, 2900, 2900),
        s_plan_bid (3, 103, false, 1000, 1000), s_plan_bid (4, 104, true, 900, 900),
        s_plan_bid (5, 105, false, 800, 800),
    };
    bids [0].bid_ref = "ref-one";
    bids [1].bid_ref = "ref-two";
    bids [2].bid_ref = NULL;
    bids [3].bid_ref = "ref-four";
    bids [4].bid_ref = "ref-five-a-rather-longer-reference-0123456789";
    //  max 2: 30 + 10 = 40.00 > 29.00, shared
    pp_lead_t *lead = s_lead (bids, 5);
    assert_true (auction_plan (lead, 2));
    const uint32_t order_shared [] = {1, 3, 5};
    const int64_t prices_shared [] = {3000, 1000, 800};
    s_expect_plan (lead, bids, 5, order_shared, prices_shared, 3);
    //  Planning again changes nothing
    assert_true (auction_plan (lead, 2));
    s_expect_plan (lead, bids, 5, order_shared, prices_shared, 3);
    pp_lead_destroy (&lead);

    //  Buyer 101 behind every non-exclusive bid: 30.00 shared ties the
    //  exclusive 30.00, which moves first; refs travel
    bids [2].buyer_id = 101;
    bids [4].buyer_id = 101;
    bids [1].price_cents = 3000;
    bids [1].amount_cents = 3000;
    lead = s_lead (bids, 5);
    assert_false (auction_plan (lead, 2));
    const uint32_t order_exclusive [] = {2, 1, 3, 4, 5};
    const int64_t prices_exclusive [] = {3000, 3000, 1000, 900, 800};
    s_expect_plan (lead, bids, 5, order_exclusive, prices_exclusive, 5);
    //  Planning again changes nothing
    assert_false (auction_plan (lead, 2));
    s_expect_plan (lead, bids, 5, order_exclusive, prices_exclusive, 5);
    pp_lead_destroy (&lead);
}

static void
test_auction_plan_many (void **state)
{
    //  Random ranked bids: the decision matches a plain recount, and the
    //  result keeps exactly the bids the plan says
    for (int round = 0; round < 200; round++) {
        size_t count = 1 + randof (12);
        int max_sales = 1 + (int) randof (4);
        pp_bid_t bids [12];
        int64_t amount = 10000;
        for (size_t i = 0; i < count; i++) {
            amount -= (int64_t) randof (1500);
            if (amount < 1)
                amount = 1;
            bids [i] = s_plan_bid ((uint32_t) i + 1, 100 + (uint32_t) randof (4), randof (3) == 0,
                                   amount, amount);
        }
        int64_t best_exclusive = -1;
        int64_t shared_sum = 0;
        int taken = 0;
        uint32_t buyers [12];
        size_t non_exclusive = 0;
        for (size_t i = 0; i < count; i++) {
            if (bids [i].exclusive) {
                if (bids [i].price_cents > best_exclusive)
                    best_exclusive = bids [i].price_cents;
                continue;
            }
            non_exclusive++;
            bool seen = false;
            for (int k = 0; k < taken; k++)
                seen = seen || buyers [k] == bids [i].buyer_id;
            if (!seen && taken < max_sales) {
                buyers [taken++] = bids [i].buyer_id;
                shared_sum += bids [i].amount_cents;
            }
        }
        bool expect_shared = max_sales > 1 && taken > 0 && shared_sum > best_exclusive;
        pp_lead_t *lead = s_lead (bids, count);
        bool shared = auction_plan (lead, max_sales);
        if (shared != expect_shared)
            fail_msg ("round %d: shared %d, expected %d (exclusive %lld, shared %lld, max %d)",
                      round, shared, expect_shared, (long long) best_exclusive,
                      (long long) shared_sum, max_sales);
        if (shared) {
            assert_int_equal (pp_lead_bid_size (lead), non_exclusive);
            for (size_t i = 0; i < pp_lead_bid_size (lead); i++) {
                assert_false (pp_lead_bid (lead, i)->exclusive);
                if (i > 0)
                    assert_true (pp_lead_bid (lead, i - 1)->campaign_id
                                 < pp_lead_bid (lead, i)->campaign_id);
            }
        }
        else {
            assert_int_equal (pp_lead_bid_size (lead), count);
            if (max_sales > 1 && best_exclusive >= 0) {
                assert_true (pp_lead_bid (lead, 0)->exclusive);
                assert_int_equal (pp_lead_bid (lead, 0)->price_cents, best_exclusive);
            }
        }
        pp_lead_destroy (&lead);
    }
}

//  --------------------------------------------------------------------------
//  auction_parse_bid: a ping answer by the campaign's pointers

//  A campaign made by hand, zeroed: the default pointers.
static pp_campaign_t
s_campaign (void)
{
    pp_campaign_t campaign;
    memset (&campaign, 0, sizeof campaign);
    campaign.name = "hand-made";
    return campaign;
}

//  Parse body; on a bid expect `cents` and `ref`, else the decline `code`
//  (and an empty reference).
static void
s_expect_bid (const pp_campaign_t *campaign, const char *body, const char *code, int64_t cents,
              const char *ref)
{
    char buffer [64];
    memset (buffer, '#', sizeof buffer);
    int64_t parsed = -12345;
    const char *result = auction_parse_bid (campaign, body, &parsed, buffer, sizeof buffer);
    if (code) {
        if (!result || !streq (result, code))
            fail_msg ("'%s': %s (%lld), expected %s", body ? body : "(null)",
                      result ? result : "a bid", (long long) parsed, code);
        assert_string_equal (buffer, "");
        return;
    }
    if (result)
        fail_msg ("'%s': %s, expected a bid of %lld", body ? body : "(null)", result,
                  (long long) cents);
    if (parsed != cents)
        fail_msg ("'%s': %lld cents, expected %lld", body, (long long) parsed, (long long) cents);
    assert_string_equal (buffer, ref);
}

static void
test_auction_parse_bid_default (void **state)
{
    pp_campaign_t campaign = s_campaign ();
    s_expect_bid (&campaign, "{\"bid\": 12.5}", NULL, 1250, "");
    s_expect_bid (&campaign, "{\"bid\": 12.50, \"id\": \"B-7\"}", NULL, 1250, "B-7");
    s_expect_bid (&campaign, "{\"id\": \"x\", \"bid\": 12}", NULL, 1200, "x");
    s_expect_bid (&campaign, "{\"bid\": 0.01}", NULL, 1, "");
    s_expect_bid (&campaign, "{\"bid\": 12.34}", NULL, 1234, "");
    s_expect_bid (&campaign, "{\"bid\": 0.29}", NULL, 29, "");
    s_expect_bid (&campaign, "{\"bid\": 1.15}", NULL, 115, "");
    s_expect_bid (&campaign, "{\"bid\": 1e2}", NULL, 10000, "");
    s_expect_bid (&campaign, "{\"bid\": 10000000}", NULL, 1000000000, "");
    s_expect_bid (&campaign, "  {\"bid\" : 7 }\n", NULL, 700, "");
    //  Numeric strings
    s_expect_bid (&campaign, "{\"bid\": \"12.50\"}", NULL, 1250, "");
    s_expect_bid (&campaign, "{\"bid\": \"12\"}", NULL, 1200, "");
    s_expect_bid (&campaign, "{\"bid\": \"0.07\"}", NULL, 7, "");
    //  The buyer's reference: a string, or a number as text
    s_expect_bid (&campaign, "{\"bid\": 5, \"id\": 12345}", NULL, 500, "12345");
    s_expect_bid (&campaign, "{\"bid\": 5, \"id\": 12.5}", NULL, 500, "12.5");
    s_expect_bid (&campaign, "{\"bid\": 5, \"id\": 9007199254740993}", NULL, 500,
                  "9007199254740992");
    s_expect_bid (&campaign, "{\"bid\": 5, \"id\": null}", NULL, 500, "");
    s_expect_bid (&campaign, "{\"bid\": 5, \"id\": {\"a\": 1}}", NULL, 500, "");
    s_expect_bid (&campaign, "{\"bid\": 5, \"id\": [\"a\"]}", NULL, 500, "");
    s_expect_bid (&campaign, "{\"bid\": 5, \"id\": \"\"}", NULL, 500, "");
    //  An accept flag is not needed without an accept pointer
    s_expect_bid (&campaign, "{\"bid\": 5, \"accepted\": false}", NULL, 500, "");
}

static void
test_auction_parse_bid_declines (void **state)
{
    pp_campaign_t campaign = s_campaign ();
    //  No bid: zero, missing, null (with or without a reference)
    const char *no_bid [] = {
        "{\"bid\": 0}", "{\"bid\": 0.0}", "{\"bid\": -0}", "{\"bid\": \"0\"}",
        "{\"bid\": \"0.00\"}", "{}", "{\"bid\": null, \"id\": \"r\"}", "{\"Bid\": 12}",
        "{\"price\": 12}", "{\"data\": {\"bid\": 12}}", "[12.5]", "12.5", "\"12.5\"", "null",
        "true",
    };
    for (size_t i = 0; i < sizeof no_bid / sizeof no_bid [0]; i++)
        s_expect_bid (&campaign, no_bid [i], "no_bid", 0, NULL);
    //  A price we cannot take: negative, a third decimal, huge, not a number
    const char *bad_price [] = {
        "{\"bid\": -12.5}", "{\"bid\": -0.01}", "{\"bid\": \"-1\"}", "{\"bid\": 12.505}",
        "{\"bid\": \"12.505\"}", "{\"bid\": 12.345}", "{\"bid\": 0.001}", "{\"bid\": 0.005}",
        "{\"bid\": 1e300}", "{\"bid\": 1e8}", "{\"bid\": 10000000.01}", "{\"bid\": \"1e400\"}",
        "{\"bid\": 99999999999999999999999}", "{\"bid\": \"abc\"}", "{\"bid\": \"\"}",
        "{\"bid\": \"12abc\"}", "{\"bid\": \"12.5 \"}", "{\"bid\": \"12,50\"}",
        "{\"bid\": \"$12\"}", "{\"bid\": \"nan\"}", "{\"bid\": \"inf\"}",
        "{\"bid\": \"-inf\"}", "{\"bid\": [12.5]}", "{\"bid\": []}", "{\"bid\": {\"v\": 1}}",
        "{\"bid\": true}", "{\"bid\": false}",
    };
    for (size_t i = 0; i < sizeof bad_price / sizeof bad_price [0]; i++)
        s_expect_bid (&campaign, bad_price [i], "bad_price", 0, NULL);
    //  Not JSON at all
    const char *bad_json [] = {
        "", "{\"bid\": 12", "bid=12", "{bid: 12}", "{\"bid\": 12,}", "<xml/>", "   ",
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json [0]; i++)
        s_expect_bid (&campaign, bad_json [i], "bad_json", 0, NULL);
    s_expect_bid (&campaign, NULL, "bad_json", 0, NULL);
}

static void
test_auction_parse_bid_tiny (void **state)
{
    //  A positive number that rounds to zero cents is not a bid of 0.00:
    //  it has more than two decimals
    pp_campaign_t campaign = s_campaign ();
    s_expect_bid (&campaign, "{\"bid\": 1e-9}", "bad_price", 0, NULL);
    s_expect_bid (&campaign, "{\"bid\": \"0.000000001\"}", "bad_price", 0, NULL);
    s_expect_bid (&campaign, "{\"bid\": 5e-324}", "bad_price", 0, NULL);
}

static void
test_auction_parse_bid_string_forms (void **state)
{
    //  A price in a string is a plain decimal: no sign, exponent, hex or space
    pp_campaign_t campaign = s_campaign ();
    s_expect_bid (&campaign, "{\"bid\": \"12.50\"}", NULL, 1250, "");
    s_expect_bid (&campaign, "{\"bid\": \"7\"}", NULL, 700, "");
    const char *bad [] = {"0x10", "0x1p-2", " 12.5", "12.5 ", "+3", "\\n5", "1e2", "12.",
                          ".5", "1.2.3", "-1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char body [64];
        snprintf (body, sizeof body, "{\"bid\": \"%s\"}", bad [i]);
        s_expect_bid (&campaign, body, "bad_price", 0, NULL);
    }
}

static void
test_auction_parse_bid_pointers (void **state)
{
    pp_campaign_t campaign = s_campaign ();
    campaign.price_pointer = "/data/price";
    campaign.accept_pointer = "/data/ok";
    campaign.id_pointer = "/data/ref";
    s_expect_bid (&campaign, "{\"data\": {\"price\": 7.25, \"ok\": true, \"ref\": \"R1\"}}", NULL,
                  725, "R1");
    s_expect_bid (&campaign, "{\"data\": {\"price\": \"7.25\", \"ok\": true, \"ref\": 99}}", NULL,
                  725, "99");
    s_expect_bid (&campaign, "{\"data\": {\"price\": 3, \"ok\": true}}", NULL, 300, "");
    //  The default pointers no longer count
    s_expect_bid (&campaign,
                  "{\"bid\": 9, \"id\": \"top\", \"data\": {\"price\": 3, \"ok\": true}}", NULL,
                  300, "");
    s_expect_bid (&campaign, "{\"bid\": 9, \"data\": {\"ok\": true}}", "no_bid", 0, NULL);
    //  Not accepted: false, missing, or anything but true
    const char *refused [] = {
        "{\"data\": {\"price\": 7.25, \"ok\": false, \"ref\": \"R1\"}}",
        "{\"data\": {\"price\": 7.25, \"ref\": \"R1\"}}",
        "{\"data\": {\"price\": 7.25, \"ok\": \"true\"}}",
        "{\"data\": {\"price\": 7.25, \"ok\": 1}}",
        "{\"data\": {\"price\": 7.25, \"ok\": null}}",
        "{\"data\": {\"price\": 7.25, \"ok\": [true]}}",
        "{\"ok\": true, \"data\": {\"price\": 7.25}}",
        "{\"data\": [true]}", "{\"data\": 1}", "{}", "[]",
        //  Refused first, whatever the price says
        "{\"data\": {\"price\": -3, \"ok\": false}}",
        "{\"data\": {\"price\": 0, \"ok\": false}}",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++)
        s_expect_bid (&campaign, refused [i], "not_accepted", 0, NULL);
    //  Accepted, but no usable price
    s_expect_bid (&campaign, "{\"data\": {\"ok\": true}}", "no_bid", 0, NULL);
    s_expect_bid (&campaign, "{\"data\": {\"ok\": true, \"price\": 0}}", "no_bid", 0, NULL);
    s_expect_bid (&campaign, "{\"data\": {\"ok\": true, \"price\": \"12.505\"}}", "bad_price", 0,
                  NULL);
    s_expect_bid (&campaign, "{\"data\": {\"ok\": true, \"price\": -1}}", "bad_price", 0, NULL);
    s_expect_bid (&campaign, "{\"data\": {\"ok\": true", "bad_json", 0, NULL);
    s_expect_bid (&campaign, "", "bad_json", 0, NULL);

    //  Only a price pointer: no accept flag needed, the default "/id"
    campaign = s_campaign ();
    campaign.price_pointer = "/offers/0/amount";
    s_expect_bid (&campaign, "{\"offers\": [{\"amount\": 4.4}], \"id\": \"o-1\"}", NULL, 440,
                  "o-1");
    s_expect_bid (&campaign, "{\"offers\": []}", "no_bid", 0, NULL);
    //  Escaped pointer tokens
    campaign.price_pointer = "/a~1b/c~0d";
    s_expect_bid (&campaign, "{\"a/b\": {\"c~d\": 2}}", NULL, 200, "");
    //  Only an accept pointer at the top
    campaign = s_campaign ();
    campaign.accept_pointer = "/accepted";
    s_expect_bid (&campaign, "{\"accepted\": true, \"bid\": 1.5, \"id\": \"z\"}", NULL, 150, "z");
    s_expect_bid (&campaign, "{\"accepted\": false, \"bid\": 1.5}", "not_accepted", 0, NULL);
    s_expect_bid (&campaign, "{\"bid\": 1.5}", "not_accepted", 0, NULL);
}

static void
test_auction_parse_bid_ref_buffer (void **state)
{
    pp_campaign_t campaign = s_campaign ();
    int64_t cents = 0;
    //  No room for a reference is fine
    assert_null (auction_parse_bid (&campaign, "{\"bid\": 3, \"id\": \"abc\"}", &cents, NULL, 0));
    assert_int_equal (cents, 300);
    char ref [4] = "###";
    assert_null (auction_parse_bid (&campaign, "{\"bid\": 3, \"id\": \"abc\"}", &cents, ref, 0));
    assert_int_equal (ref [0], '#');
    //  A long one is cut to the buffer
    assert_null (auction_parse_bid (&campaign, "{\"bid\": 4, \"id\": \"ABCDEFG\"}", &cents, ref,
                                    sizeof ref));
    assert_int_equal (cents, 400);
    assert_string_equal (ref, "ABC");
    assert_null (auction_parse_bid (&campaign, "{\"bid\": 4, \"id\": 1234567}", &cents, ref,
                                    sizeof ref));
    assert_string_equal (ref, "123");
    //  A decline clears it
    assert_string_equal (auction_parse_bid (&campaign, "{\"bid\": 0, \"id\": \"A\"}", &cents,
                                            ref, sizeof ref),
                         "no_bid");
    assert_string_equal (ref, "");
}

//  --------------------------------------------------------------------------
//  auction_floor, on a stored market

static char *s_conninfo;            //  this run's schema (tests/unit/pp_testdb)

//  A session on a fresh schema with deploy/sql applied, in *state.
static int
s_db_setup (void **state)
{
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!base || !*base) {
        print_error ("PINGPOST_TEST_DATABASE_URL is not set: test_auction's floor test needs "
                     "a PostgreSQL database (scripts/test sets it)\n");
        return -1;
    }
    s_conninfo = pp_testdb_create ("auction");
    pp_db_t *db = s_conninfo ? pp_db_new (s_conninfo) : NULL;
    if (!db || !pp_db_ok (db)) {
        print_error ("no test database\n");
        pp_db_destroy (&db);
        pp_testdb_drop (&s_conninfo);
        return -1;
    }
    *state = db;
    return 0;
}

static int
s_db_teardown (void **state)
{
    pp_db_t *db = (pp_db_t *) *state;
    pp_db_destroy (&db);
    pp_testdb_drop (&s_conninfo);
    return 0;
}

static pp_market_t *
s_store_and_load (pp_db_t *db, const char *json)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (json, strlen (json), &errors, &count);
    for (size_t i = 0; i < count; i++)
        print_error ("market: %s: %s\n", errors [i].path, errors [i].message);
    pp_market_errors_free (&errors, count);
    assert_non_null (market);
    assert_int_equal (pp_market_store (market, db), 0);
    pp_market_unlink (&market);
    market = pp_market_load (db);
    assert_non_null (market);
    return market;
}

static void
test_auction_floor (void **state)
{
    pp_db_t *db = (pp_db_t *) *state;
    pp_market_t *market = s_store_and_load (db,
        "{\"auction\": {\"floor\": 5.00},"
        " \"publishers\": ["
        "  {\"name\": \"rev\", \"api_key\": \"pk_test_rev_0001\","
        "   \"payout\": {\"revshare_percent\": 80}},"
        "  {\"name\": \"fixed-high\", \"api_key\": \"pk_test_fixed_0002\","
        "   \"payout\": {\"fixed\": 10.25}},"
        "  {\"name\": \"fixed-low\", \"api_key\": \"pk_test_fixed_0003\","
        "   \"payout\": {\"fixed\": 3.00}}]}");
    assert_int_equal (pp_market_auction (market)->floor_cents, 500);
    struct {
        const char *publisher;
        int64_t floor_cents;
    } cases [] = {{"rev", 500}, {"fixed-high", 1025}, {"fixed-low", 500}};
    for (size_t i = 0; i < 3; i++) {
        pp_publisher_t *publisher = NULL;
        for (size_t p = 0; p < pp_market_publisher_count (market); p++)
            if (streq (pp_market_publisher_at (market, p)->name, cases [i].publisher))
                publisher = pp_market_publisher_at (market, p);
        assert_non_null (publisher);
        assert_true (publisher->id > 0);
        pp_lead_t *lead = pp_lead_new ("01J00000000000000000000004");
        pp_lead_set_publisher_id (lead, publisher->id);
        assert_int_equal (auction_floor (market, lead), cases [i].floor_cents);
        pp_lead_destroy (&lead);
    }
    //  An unknown publisher (removed since): the market's floor
    pp_lead_t *lead = pp_lead_new ("01J00000000000000000000005");
    pp_lead_set_publisher_id (lead, 999999);
    assert_int_equal (auction_floor (market, lead), 500);
    pp_lead_destroy (&lead);
    pp_market_unlink (&market);
}

int
main (void)
{
    pp_log_init ("test_auction", false);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_auction_rank_tiers_first),
        cmocka_unit_test (test_auction_rank_ties),
        cmocka_unit_test (test_auction_rank_second_price),
        cmocka_unit_test (test_auction_rank_second_price_bounds),
        cmocka_unit_test (test_auction_rank_refs_and_empty),
        cmocka_unit_test (test_auction_rank_many),
        cmocka_unit_test (test_auction_rank_by_rate),
        cmocka_unit_test (test_auction_rank_by_rate_second_price),
        cmocka_unit_test (test_auction_rank_by_rate_many),
        cmocka_unit_test (test_auction_plan_shared_wins),
        cmocka_unit_test (test_auction_plan_exclusive_wins),
        cmocka_unit_test (test_auction_plan_exclusive_moves_first),
        cmocka_unit_test (test_auction_plan_distinct_buyers),
        cmocka_unit_test (test_auction_plan_earnings_by_price),
        cmocka_unit_test (test_auction_plan_one_kind),
        cmocka_unit_test (test_auction_plan_exclusive_mode),
        cmocka_unit_test (test_auction_plan_refs),
        cmocka_unit_test (test_auction_plan_many),
        cmocka_unit_test (test_auction_parse_bid_default),
        cmocka_unit_test (test_auction_parse_bid_declines),
        cmocka_unit_test (test_auction_parse_bid_tiny),
        cmocka_unit_test (test_auction_parse_bid_string_forms),
        cmocka_unit_test (test_auction_parse_bid_pointers),
        cmocka_unit_test (test_auction_parse_bid_ref_buffer),
        cmocka_unit_test_setup_teardown (test_auction_floor, s_db_setup, s_db_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
