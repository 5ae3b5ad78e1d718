/*  test_auction - ranking (tiers, price, earlier answer), pricing and the floor  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  auction_floor needs publisher ids, which only a stored market has: that
//  test uses PINGPOST_TEST_DATABASE_URL (a fresh schema, dropped at the end).

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <dirent.h>

#include "auction_server.h"
#include "pp_db.h"
#include "pp_log.h"

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
//  auction_floor, on a stored market

//  The advisory lock `pingpost db migrate` and other tests take: the
//  analyst role is created cluster-wide.
#define S_MIGRATE_LOCK "7089133181"

static char s_schema [48];          //  this run's schema

static int
s_sql_file (const struct dirent *entry)
{
    size_t len = strlen (entry->d_name);
    return len > 4 && streq (entry->d_name + len - 4, ".sql");
}

//  Open a session on a fresh schema with deploy/sql applied; NULL on failure.
static pp_db_t *
s_db_open (void)
{
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!base || !*base) {
        print_error ("PINGPOST_TEST_DATABASE_URL is not set: test_auction's floor test needs "
                     "a PostgreSQL database (scripts/test sets it)\n");
        return NULL;
    }
    const char *source = getenv ("PP_SOURCE_DIR");
    char *sql_dir = zsys_sprintf ("%s/deploy/sql", source && *source ? source : PP_TEST_SOURCE_DIR);
    snprintf (s_schema, sizeof s_schema, "t_auction_%d_%u", (int) getpid (),
              (unsigned) randof (1000000));
    pp_db_t *db = pp_db_new (base);
    struct dirent **names = NULL;
    int count = scandir (sql_dir, &names, s_sql_file, alphasort);
    int rc = db && pp_db_ok (db) && count > 0 ? 0 : -1;
    if (rc)
        print_error ("cannot connect, or no SQL files in %s\n", sql_dir);
    char *sql = zsys_sprintf ("CREATE SCHEMA %s; SET search_path TO %s", s_schema, s_schema);
    if (rc == 0)
        rc = pp_db_script (db, "schema", sql);
    zstr_free (&sql);
    if (rc == 0)
        rc = pp_db_script (db, "lock", "BEGIN; SELECT pg_advisory_xact_lock (" S_MIGRATE_LOCK ")");
    for (int i = 0; i < count; i++) {
        char *path = zsys_sprintf ("%s/%s", sql_dir, names [i]->d_name);
        char *text = NULL;
        zfile_t *file = zfile_new (NULL, path);
        if (file && zfile_input (file) == 0) {
            zchunk_t *chunk = zfile_read (file, zfile_cursize (file), 0);
            text = chunk ? zchunk_strdup (chunk) : NULL;
            zchunk_destroy (&chunk);
        }
        zfile_destroy (&file);
        if (rc == 0 && (!text || pp_db_script (db, names [i]->d_name, text)))
            rc = -1;
        zstr_free (&text);
        zstr_free (&path);
        free (names [i]);
    }
    free (names);
    zstr_free (&sql_dir);
    if (rc == 0)
        rc = pp_db_script (db, "commit", "COMMIT");
    if (rc)
        pp_db_destroy (&db);
    return db;
}

static void
s_db_close (pp_db_t **db_p)
{
    if (*db_p) {
        char *sql = zsys_sprintf ("ROLLBACK; DROP SCHEMA IF EXISTS %s CASCADE", s_schema);
        if (pp_db_script (*db_p, "drop schema", sql))
            print_error ("could not drop schema %s\n", s_schema);
        zstr_free (&sql);
    }
    pp_db_destroy (db_p);
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
    pp_db_t *db = s_db_open ();
    if (!db)
        fail_msg ("no test database");
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
    s_db_close (&db);
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
        cmocka_unit_test (test_auction_floor),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
