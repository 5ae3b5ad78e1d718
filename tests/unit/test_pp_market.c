/*  test_pp_market - parse, validate, store and load the marketplace file  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pp_market.h"
#include "pp_testdb.h"
#include "pp_util.h"

//  ---------------------------------------------------------------------------
//  Helpers

//  The source tree: PP_SOURCE_DIR (ctest sets it), else a relative guess.
static const char *
s_source_dir (void)
{
    const char *dir = getenv ("PP_SOURCE_DIR");
    if (dir)
        return dir;
    static const char *guesses [] = { ".", "..", "../..", "../../.." };
    for (size_t i = 0; i < sizeof guesses / sizeof guesses [0]; i++) {
        char path [256];
        snprintf (path, sizeof path, "%s/deploy/sql/001_init.sql", guesses [i]);
        if (access (path, R_OK) == 0)
            return guesses [i];
    }
    return ".";
}

//  Whole file as a string (freed by caller), size in *size_p.
static char *
s_read_file (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        fail_msg ("cannot open %s", path);
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *text = (char *) malloc ((size_t) size + 1);
    assert_non_null (text);
    assert_int_equal (fread (text, 1, (size_t) size, file), (size_t) size);
    text [size] = 0;
    fclose (file);
    if (size_p)
        *size_p = (size_t) size;
    return text;
}

static char *
s_read_data (const char *name, size_t *size_p)
{
    char path [512];
    snprintf (path, sizeof path, "%s/tests/data/%s", s_source_dir (), name);
    return s_read_file (path, size_p);
}

static void
s_print_errors (pp_market_error_t *errors, size_t count)
{
    for (size_t i = 0; i < count && i < 50; i++)
        print_message ("    %s: %s\n", errors [i].path, errors [i].message);
}

//  Parse text that must be good.
static pp_market_t *
s_parse_ok (const char *text, size_t size)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (text, size, &errors, &count);
    if (!market) {
        s_print_errors (errors, count);
        pp_market_errors_free (&errors, count);
        fail_msg ("parse failed with %zu problems", count);
    }
    assert_null (errors);
    assert_int_equal (count, 0);
    return market;
}

static pp_market_t *
s_parse_data (const char *name)
{
    size_t size;
    char *text = s_read_data (name, &size);
    pp_market_t *market = s_parse_ok (text, size);
    free (text);
    return market;
}

//  True when errors hold one at exactly `path` whose message contains `part`.
static bool
s_has_error (pp_market_error_t *errors, size_t count, const char *path, const char *part)
{
    for (size_t i = 0; i < count; i++)
        if (streq (errors [i].path, path) && strstr (errors [i].message, part))
            return true;
    return false;
}

//  Parse text that must fail with (at least) a problem at path mentioning part.
static void
s_expect_error (const char *text, const char *path, const char *part)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (text, strlen (text), &errors, &count);
    if (market)
        pp_market_unlink (&market);
    bool found = s_has_error (errors, count, path, part);
    if (!found) {
        print_message ("  expected %s: ...%s... from %s\n  got:\n", path, part, text);
        s_print_errors (errors, count);
    }
    assert_null (market);
    assert_true (count > 0);
    pp_market_errors_free (&errors, count);
    assert_null (errors);
    assert_true (found);
}

//  A valid file around one campaign (printf argument: the campaign's extra
//  members, starting with a comma or empty), so each rule test changes one
//  thing only.
static char *
s_with_campaign (const char *extra)
{
    return zsys_sprintf (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {"
        "  \"first_name\": {\"type\": \"string\", \"pii\": true},"
        "  \"zip\": {\"type\": \"zip\"}, \"credit\": {\"type\": \"enum\", \"values\": [\"good\", \"poor\"]},"
        "  \"bill\": {\"type\": \"integer\"}}}],"
        " \"buyers\": [{\"name\": \"b1\", \"campaigns\": [{\"name\": \"c1\", \"vertical\": \"solar\","
        "  \"bid\": {\"fixed\": 10}, \"post\": {\"url\": \"http://127.0.0.1/post\"}%s}]}]}",
        extra);
}

static void
s_expect_campaign_error (const char *extra, const char *path, const char *part)
{
    char *text = s_with_campaign (extra);
    s_expect_error (text, path, part);
    zstr_free (&text);
}

//  The same, but the campaign's bid and post come from the argument.
static void
s_expect_bidpost_error (const char *members, const char *path, const char *part)
{
    char *text = zsys_sprintf (
        "{\"verticals\": [{\"name\": \"solar\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}],"
        " \"buyers\": [{\"name\": \"b1\", \"campaigns\": [{\"name\": \"c1\", \"vertical\": \"solar\","
        "  %s}]}]}", members);
    s_expect_error (text, path, part);
    zstr_free (&text);
}

static bool
s_json_same (const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    cJSON *ja = cJSON_Parse (a);
    cJSON *jb = cJSON_Parse (b);
    bool same = ja && jb && cJSON_Compare (ja, jb, true);
    cJSON_Delete (ja);
    cJSON_Delete (jb);
    return same;
}

static const pp_pair_t *
s_pair (const pp_pair_t *pairs, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++)
        if (streq (pairs [i].key, key))
            return &pairs [i];
    return NULL;
}

static const pp_field_rule_t *
s_rule (const pp_campaign_t *campaign, const char *field)
{
    for (size_t i = 0; i < campaign->rule_count; i++)
        if (streq (campaign->rules [i].field, field))
            return &campaign->rules [i];
    return NULL;
}

static void
s_assert_strings_equal (char **a, size_t a_count, char **b, size_t b_count)
{
    assert_int_equal (a_count, b_count);
    for (size_t i = 0; i < a_count; i++)
        assert_string_equal (a [i], b [i]);
}

static void
s_assert_opt_string_equal (const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal (a, b);
    else
        assert_string_equal (a, b);
}

static const pp_buyer_t *
s_buyer (const pp_market_t *market, const char *name)
{
    for (size_t i = 0; i < pp_market_buyer_count (market); i++)
        if (streq (pp_market_buyer_at (market, i)->name, name))
            return pp_market_buyer_at (market, i);
    return NULL;
}

//  Everything but ids (and object-member order, which jsonb does not keep)
//  must be the same in a and b.
static void
s_assert_same_market (const pp_market_t *a, const pp_market_t *b)
{
    const pp_auction_t *aa = pp_market_auction (a), *ab = pp_market_auction (b);
    assert_int_equal (aa->mode, ab->mode);
    assert_int_equal (aa->pricing, ab->pricing);
    assert_int_equal (aa->floor_cents, ab->floor_cents);
    assert_int_equal (aa->max_sales, ab->max_sales);
    assert_int_equal (aa->timeout_ms, ab->timeout_ms);

    assert_int_equal (pp_market_vertical_count (a), pp_market_vertical_count (b));
    for (size_t i = 0; i < pp_market_vertical_count (a); i++) {
        const pp_vertical_t *va = pp_market_vertical_at (a, i);
        const pp_vertical_t *vb = pp_market_vertical (b, va->name);
        assert_non_null (vb);
        assert_int_equal (va->field_count, vb->field_count);
        for (size_t f = 0; f < va->field_count; f++) {
            const pp_field_spec_t *fa = &va->fields [f];
            const pp_field_spec_t *fb = pp_vertical_field (vb, fa->name);
            assert_non_null (fb);
            assert_int_equal (fa->type, fb->type);
            assert_int_equal (fa->pii, fb->pii);
            assert_int_equal (fa->required, fb->required);
            assert_int_equal (fa->max_length, fb->max_length);
            assert_int_equal (fa->has_min, fb->has_min);
            assert_int_equal (fa->has_max, fb->has_max);
            assert_true (fa->min == fb->min && fa->max == fb->max);
            s_assert_strings_equal (fa->values, fa->value_count, fb->values, fb->value_count);
        }
        s_assert_strings_equal (va->dedupe_fields, va->dedupe_count,
                                vb->dedupe_fields, vb->dedupe_count);
        assert_int_equal (va->dedupe_days, vb->dedupe_days);
        assert_int_equal (va->consent_required, vb->consent_required);
        assert_true (s_json_same (pp_vertical_spec_json (va), pp_vertical_spec_json (vb)));
    }
    assert_int_equal (pp_market_publisher_count (a), pp_market_publisher_count (b));
    for (size_t i = 0; i < pp_market_publisher_count (a); i++) {
        const pp_publisher_t *pa = pp_market_publisher_at (a, i);
        const pp_publisher_t *pb = pp_market_publisher_by_key_hash (b, pa->api_key_hash);
        assert_non_null (pb);
        assert_string_equal (pa->name, pb->name);
        assert_int_equal (pa->payout_kind, pb->payout_kind);
        assert_int_equal (pa->revshare_percent, pb->revshare_percent);
        assert_int_equal (pa->payout_fixed_cents, pb->payout_fixed_cents);
        assert_int_equal (pa->rate_limit_per_second, pb->rate_limit_per_second);
    }
    assert_int_equal (pp_market_buyer_count (a), pp_market_buyer_count (b));
    for (size_t i = 0; i < pp_market_buyer_count (a); i++)
        assert_non_null (s_buyer (b, pp_market_buyer_at (a, i)->name));

    assert_int_equal (pp_market_campaign_count (a), pp_market_campaign_count (b));
    for (size_t i = 0; i < pp_market_campaign_count (a); i++) {
        const pp_campaign_t *ca = pp_market_campaign_at (a, i);
        const pp_campaign_t *cb = pp_market_campaign (b, ca->name);
        assert_non_null (cb);
        assert_string_equal (ca->buyer->name, cb->buyer->name);
        assert_string_equal (ca->vertical->name, cb->vertical->name);
        assert_ptr_equal (cb->vertical, pp_market_vertical (b, ca->vertical->name));
        assert_int_equal (ca->tier, cb->tier);
        assert_int_equal (ca->exclusive, cb->exclusive);
        assert_int_equal (ca->bid_kind, cb->bid_kind);
        assert_int_equal (ca->bid_fixed_cents, cb->bid_fixed_cents);
        s_assert_opt_string_equal (ca->ping_url, cb->ping_url);
        assert_int_equal (ca->ping_timeout_ms, cb->ping_timeout_ms);
        s_assert_opt_string_equal (ca->price_pointer, cb->price_pointer);
        s_assert_opt_string_equal (ca->accept_pointer, cb->accept_pointer);
        s_assert_opt_string_equal (ca->id_pointer, cb->id_pointer);
        s_assert_opt_string_equal (ca->post_url, cb->post_url);
        assert_int_equal (ca->post_timeout_ms, cb->post_timeout_ms);
        assert_int_equal (ca->post_format, cb->post_format);
        assert_int_equal (ca->mapping_count, cb->mapping_count);
        for (size_t k = 0; k < ca->mapping_count; k++) {
            const pp_pair_t *pair = s_pair (cb->mapping, cb->mapping_count, ca->mapping [k].key);
            assert_non_null (pair);
            assert_string_equal (pair->value, ca->mapping [k].value);
        }
        assert_int_equal (ca->constant_count, cb->constant_count);
        for (size_t k = 0; k < ca->constant_count; k++) {
            const pp_pair_t *pair = s_pair (cb->constants, cb->constant_count,
                                            ca->constants [k].key);
            assert_non_null (pair);
            assert_string_equal (pair->value, ca->constants [k].value);
        }
        s_assert_opt_string_equal (ca->accepted_pointer, cb->accepted_pointer);
        s_assert_opt_string_equal (ca->accepted_equals, cb->accepted_equals);
        s_assert_opt_string_equal (ca->accepted_contains, cb->accepted_contains);
        s_assert_opt_string_equal (ca->accepted_regex, cb->accepted_regex);
        s_assert_strings_equal (ca->states, ca->state_count, cb->states, cb->state_count);
        s_assert_strings_equal (ca->zips, ca->zip_count, cb->zips, cb->zip_count);
        assert_int_equal (ca->rule_count, cb->rule_count);
        for (size_t k = 0; k < ca->rule_count; k++) {
            const pp_field_rule_t *ra = &ca->rules [k];
            const pp_field_rule_t *rb = s_rule (cb, ra->field);
            assert_non_null (rb);
            assert_int_equal (ra->has_min, rb->has_min);
            assert_int_equal (ra->has_max, rb->has_max);
            assert_true (ra->min == rb->min && ra->max == rb->max);
            s_assert_strings_equal (ra->in, ra->in_count, rb->in, rb->in_count);
            s_assert_strings_equal (ra->not_in, ra->not_in_count, rb->not_in, rb->not_in_count);
            s_assert_opt_string_equal (ra->equals, rb->equals);
            assert_int_equal (ra->exists, rb->exists);
        }
        assert_true (s_json_same (ca->schedule_json, cb->schedule_json));
        assert_int_equal (ca->cap_count, cb->cap_count);
        for (size_t k = 0; k < ca->cap_count; k++) {
            assert_int_equal (ca->caps [k].count, cb->caps [k].count);
            assert_int_equal (ca->caps [k].amount_cents, cb->caps [k].amount_cents);
            assert_string_equal (ca->caps [k].per, cb->caps [k].per);
            assert_int_equal (ca->caps [k].pacing_even, cb->caps [k].pacing_even);
        }
        assert_true (s_json_same (ca->spec_json, cb->spec_json));
    }
    assert_true (s_json_same (pp_market_section (a, "blacklist"),
                              pp_market_section (b, "blacklist")));
}

//  ---------------------------------------------------------------------------
//  Parsing good files

static void
test_pp_market_design_parses (void **state)
{
    pp_market_t *market = s_parse_data ("market_design.json");

    const pp_auction_t *auction = pp_market_auction (market);
    assert_int_equal (auction->mode, PP_MODE_AUCTION);
    assert_int_equal (auction->pricing, PP_PRICING_FIRST);
    assert_int_equal (auction->floor_cents, 500);
    assert_int_equal (auction->max_sales, 1);
    assert_int_equal (auction->timeout_ms, 1500);

    assert_int_equal (pp_market_vertical_count (market), 1);
    pp_vertical_t *solar = pp_market_vertical (market, "solar");
    assert_non_null (solar);
    assert_ptr_equal (solar, pp_market_vertical_at (market, 0));
    assert_null (pp_market_vertical_at (market, 1));
    assert_null (pp_market_vertical (market, "roofing"));
    assert_int_equal (solar->id, 0);
    assert_int_equal (solar->field_count, 10);
    //  File order is kept
    assert_string_equal (solar->fields [0].name, "first_name");
    assert_string_equal (solar->fields [9].name, "credit");
    const pp_field_spec_t *field = pp_vertical_field (solar, "first_name");
    assert_non_null (field);
    assert_int_equal (field->type, PP_FT_STRING);
    assert_true (field->pii);
    assert_true (field->required);
    assert_int_equal (field->max_length, 64);
    field = pp_vertical_field (solar, "email");
    assert_int_equal (field->type, PP_FT_EMAIL);
    assert_int_equal (field->max_length, 0);
    assert_int_equal (pp_vertical_field (solar, "phone")->type, PP_FT_PHONE);
    field = pp_vertical_field (solar, "address");
    assert_true (field->pii);
    assert_false (field->required);
    field = pp_vertical_field (solar, "zip");
    assert_int_equal (field->type, PP_FT_ZIP);
    assert_false (field->pii);
    assert_true (field->required);
    assert_int_equal (pp_vertical_field (solar, "state")->type, PP_FT_STATE);
    field = pp_vertical_field (solar, "monthly_bill");
    assert_int_equal (field->type, PP_FT_INTEGER);
    assert_true (field->has_min && field->has_max);
    assert_true (field->min == 0 && field->max == 5000);
    assert_int_equal (pp_vertical_field (solar, "home_owner")->type, PP_FT_BOOLEAN);
    field = pp_vertical_field (solar, "credit");
    assert_int_equal (field->type, PP_FT_ENUM);
    assert_int_equal (field->value_count, 4);
    assert_string_equal (field->values [0], "excellent");
    assert_string_equal (field->values [3], "poor");
    assert_null (pp_vertical_field (solar, "nope"));
    assert_int_equal (solar->dedupe_count, 2);
    assert_string_equal (solar->dedupe_fields [0], "phone");
    assert_string_equal (solar->dedupe_fields [1], "email");
    assert_int_equal (solar->dedupe_days, 30);
    assert_true (solar->consent_required);
    assert_non_null (strstr (pp_vertical_spec_json (solar), "\"consent_required\":true"));

    assert_int_equal (pp_market_publisher_count (market), 1);
    pp_publisher_t *publisher = pp_market_publisher_at (market, 0);
    assert_string_equal (publisher->name, "acme-media");
    char hash [65];
    pp_sha256_hex ("pk_demo_acme_0001", strlen ("pk_demo_acme_0001"), hash);
    assert_string_equal (publisher->api_key_hash, hash);
    assert_ptr_equal (pp_market_publisher_by_key_hash (market, hash), publisher);
    pp_sha256_hex ("pk_demo_acme_0002", strlen ("pk_demo_acme_0002"), hash);
    assert_null (pp_market_publisher_by_key_hash (market, hash));
    assert_int_equal (publisher->payout_kind, PP_PAYOUT_REVSHARE);
    assert_int_equal (publisher->revshare_percent, 80);
    assert_int_equal (publisher->rate_limit_per_second, 500);
    assert_null (pp_market_publisher_by_id (market, 0));
    assert_null (pp_market_publisher_at (market, 1));

    assert_int_equal (pp_market_buyer_count (market), 1);
    pp_buyer_t *buyer = pp_market_buyer_at (market, 0);
    assert_string_equal (buyer->name, "sunrise-solar");

    assert_int_equal (pp_market_campaign_count (market), 1);
    pp_campaign_t *campaign = pp_market_campaign (market, "sunrise-west");
    assert_non_null (campaign);
    assert_ptr_equal (campaign, pp_market_campaign_at (market, 0));
    assert_null (pp_market_campaign (market, "sunrise-east"));
    assert_null (pp_market_campaign_by_id (market, 0));
    assert_ptr_equal (campaign->buyer, buyer);
    assert_ptr_equal (campaign->vertical, solar);
    assert_int_equal (campaign->tier, 1);
    assert_true (campaign->exclusive);
    assert_int_equal (campaign->bid_kind, PP_BID_PING);
    assert_string_equal (campaign->ping_url, "http://127.0.0.1:9101/ping");
    assert_int_equal (campaign->ping_timeout_ms, 500);
    assert_string_equal (campaign->price_pointer, "/bid");
    assert_null (campaign->accept_pointer);
    assert_string_equal (campaign->id_pointer, "/id");
    assert_string_equal (campaign->post_url, "http://127.0.0.1:9101/post");
    assert_int_equal (campaign->post_timeout_ms, 2000);
    assert_int_equal (campaign->post_format, PP_POST_JSON);
    assert_int_equal (campaign->mapping_count, 2);
    assert_string_equal (campaign->mapping [0].key, "FirstName");
    assert_string_equal (campaign->mapping [0].value, "first_name");
    assert_string_equal (campaign->mapping [1].key, "Phone");
    assert_string_equal (campaign->mapping [1].value, "phone");
    assert_int_equal (campaign->constant_count, 1);
    assert_string_equal (campaign->constants [0].key, "AffiliateId");
    assert_string_equal (campaign->constants [0].value, "\"pp-17\"");
    assert_null (campaign->accepted_pointer);
    assert_null (campaign->accepted_equals);
    assert_null (campaign->accepted_contains);
    assert_null (campaign->accepted_regex);
    assert_int_equal (campaign->state_count, 2);
    assert_string_equal (campaign->states [0], "CA");
    assert_string_equal (campaign->states [1], "NV");
    assert_int_equal (campaign->zip_count, 2);
    assert_string_equal (campaign->zips [1], "90002");
    assert_int_equal (campaign->rule_count, 3);
    const pp_field_rule_t *rule = s_rule (campaign, "monthly_bill");
    assert_non_null (rule);
    assert_true (rule->has_min && !rule->has_max && rule->min == 100);
    assert_int_equal (rule->exists, -1);
    assert_null (rule->equals);
    rule = s_rule (campaign, "credit");
    assert_int_equal (rule->in_count, 2);
    assert_string_equal (rule->in [0], "excellent");
    assert_string_equal (rule->in [1], "good");
    assert_int_equal (rule->not_in_count, 0);
    rule = s_rule (campaign, "home_owner");
    assert_string_equal (rule->equals, "true");
    assert_true (s_json_same (campaign->schedule_json,
                              "{\"time_zone\": \"America/Los_Angeles\", \"hours\": "
                              "{\"mon-fri\": \"08:00-20:00\", \"sat\": \"09:00-14:00\"}}"));
    assert_null (strchr (campaign->schedule_json, '\n'));
    assert_int_equal (campaign->cap_count, 3);
    assert_int_equal (campaign->caps [0].count, 100);
    assert_int_equal (campaign->caps [0].amount_cents, 0);
    assert_string_equal (campaign->caps [0].per, "day");
    assert_int_equal (campaign->caps [1].count, 0);
    assert_int_equal (campaign->caps [1].amount_cents, 250000);
    assert_int_equal (campaign->caps [2].count, 20);
    assert_string_equal (campaign->caps [2].per, "hour");
    assert_non_null (strstr (campaign->spec_json, "\"name\":\"sunrise-west\""));
    assert_null (pp_market_section (market, "blacklist"));
    pp_market_unlink (&market);
    assert_null (market);
}

static void
test_pp_market_full_parses (void **state)
{
    pp_market_t *market = s_parse_data ("market_full.json");
    const pp_auction_t *auction = pp_market_auction (market);
    assert_int_equal (auction->mode, PP_MODE_PING_TREE);
    assert_int_equal (auction->pricing, PP_PRICING_SECOND);
    assert_int_equal (auction->floor_cents, 250);
    assert_int_equal (auction->max_sales, 3);
    assert_int_equal (auction->timeout_ms, 2500);

    pp_vertical_t *solar = pp_market_vertical (market, "solar");
    assert_int_equal (solar->dedupe_days, 45);
    assert_non_null (strstr (pp_vertical_spec_json (solar), "\"bot_threshold\":70"));
    assert_non_null (strstr (pp_vertical_spec_json (solar), "\"min_form_seconds\":5"));
    pp_vertical_t *insurance = pp_market_vertical (market, "auto.insurance");
    assert_non_null (insurance);
    assert_int_equal (insurance->dedupe_count, 0);
    assert_false (insurance->consent_required);
    const pp_field_spec_t *age = pp_vertical_field (insurance, "age");
    assert_int_equal (age->type, PP_FT_NUMBER);
    assert_true (age->min == 16 && age->max == 120.5);
    assert_int_equal (pp_vertical_field (insurance, "dob")->type, PP_FT_DATE);

    pp_publisher_t *beta = pp_market_publisher_at (market, 1);
    assert_string_equal (beta->name, "beta_leads");
    assert_int_equal (beta->payout_kind, PP_PAYOUT_FIXED);
    assert_int_equal (beta->payout_fixed_cents, 1250);
    assert_int_equal (beta->rate_limit_per_second, 0);

    pp_campaign_t *fixed = pp_market_campaign (market, "sunrise-fixed");
    assert_int_equal (fixed->tier, 2);
    assert_false (fixed->exclusive);
    assert_int_equal (fixed->bid_kind, PP_BID_FIXED);
    assert_int_equal (fixed->bid_fixed_cents, 2575);
    assert_null (fixed->ping_url);
    assert_int_equal (fixed->post_format, PP_POST_FORM);
    assert_int_equal (fixed->post_timeout_ms, 5000);
    assert_string_equal (s_pair (fixed->mapping, fixed->mapping_count, "contact/first")->value,
                         "first_name");
    assert_string_equal (s_pair (fixed->mapping, fixed->mapping_count, "ref")->value, "lead_id");
    assert_string_equal (s_pair (fixed->constants, fixed->constant_count, "Test")->value, "false");
    assert_string_equal (s_pair (fixed->constants, fixed->constant_count, "Version")->value, "2");
    assert_string_equal (fixed->accepted_pointer, "/status");
    assert_string_equal (fixed->accepted_equals, "\"OK\"");
    assert_int_equal (fixed->state_count, 3);
    assert_string_equal (fixed->states [2], "PR");
    assert_int_equal (fixed->zip_count, 0);
    const pp_field_rule_t *rule = s_rule (fixed, "monthly_bill");
    assert_true (rule->has_min && rule->has_max && rule->max == 900);
    rule = s_rule (fixed, "credit");
    assert_int_equal (rule->not_in_count, 1);
    assert_string_equal (rule->not_in [0], "poor");
    assert_int_equal (s_rule (fixed, "address")->exists, 1);
    assert_int_equal (fixed->cap_count, 2);
    assert_int_equal (fixed->caps [0].amount_cents, 100050);
    assert_string_equal (fixed->caps [0].per, "week");
    assert_int_equal (fixed->caps [1].count, 5000);
    assert_non_null (strstr (fixed->spec_json, "\"zip_radius\""));
    assert_non_null (strstr (fixed->schedule_json, "2024-02-29"));

    pp_campaign_t *ping = pp_market_campaign (market, "quote-ping");
    assert_string_equal (ping->buyer->name, "quote-co");
    assert_ptr_equal (ping->vertical, insurance);
    assert_int_equal (ping->ping_timeout_ms, 800);
    assert_string_equal (ping->price_pointer, "/data/price");
    assert_string_equal (ping->accept_pointer, "/data/ok");
    assert_string_equal (ping->id_pointer, "/data/ref~1id");
    assert_string_equal (ping->accepted_regex, "^(OK|ACCEPTED)$");
    assert_string_equal (s_rule (ping, "married")->equals, "true");
    pp_campaign_t *contains = pp_market_campaign (market, "quote-contains");
    assert_string_equal (contains->accepted_contains, "success");
    assert_int_equal (contains->bid_fixed_cents, 300);

    const char *blacklist = pp_market_section (market, "blacklist");
    assert_non_null (blacklist);
    assert_non_null (strstr (blacklist, "mailinator.com"));
    assert_null (pp_market_section (market, "other"));
    pp_market_unlink (&market);
}

static void
test_pp_market_defaults (void **state)
{
    const char *text = "{}";
    pp_market_t *market = s_parse_ok (text, strlen (text));
    const pp_auction_t *auction = pp_market_auction (market);
    assert_int_equal (auction->mode, PP_MODE_AUCTION);
    assert_int_equal (auction->pricing, PP_PRICING_FIRST);
    assert_int_equal (auction->floor_cents, 0);
    assert_int_equal (auction->max_sales, 1);
    assert_int_equal (auction->timeout_ms, 3000);
    assert_int_equal (pp_market_vertical_count (market), 0);
    assert_int_equal (pp_market_publisher_count (market), 0);
    assert_int_equal (pp_market_buyer_count (market), 0);
    assert_int_equal (pp_market_campaign_count (market), 0);
    pp_market_unlink (&market);

    //  Partial auction: the rest defaults
    text = "{\"auction\": {\"pricing\": \"second\"}}";
    market = s_parse_ok (text, strlen (text));
    assert_int_equal (pp_market_auction (market)->pricing, PP_PRICING_SECOND);
    assert_int_equal (pp_market_auction (market)->timeout_ms, 3000);
    pp_market_unlink (&market);

    char *file = zsys_sprintf (
        "{\"verticals\": [{\"name\": \"v\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}],"
        " \"publishers\": [{\"name\": \"p\", \"api_key\": \"12345678\", \"payout\": {\"fixed\": 0}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"v\","
        "   \"bid\": {\"ping\": {\"url\": \"https://x.example\"}}, \"post\": {\"url\": \"http://y\"}}]},"
        "   {\"name\": \"empty-buyer\"}]}");
    market = s_parse_ok (file, strlen (file));
    zstr_free (&file);
    pp_campaign_t *campaign = pp_market_campaign (market, "c");
    assert_int_equal (campaign->tier, 1);
    assert_true (campaign->exclusive);
    assert_int_equal (campaign->ping_timeout_ms, 500);
    assert_string_equal (campaign->price_pointer, "/bid");
    assert_string_equal (campaign->id_pointer, "/id");
    assert_null (campaign->accept_pointer);
    assert_int_equal (campaign->post_timeout_ms, 2000);
    assert_int_equal (campaign->post_format, PP_POST_JSON);
    assert_int_equal (campaign->mapping_count + campaign->constant_count, 0);
    assert_int_equal (campaign->state_count + campaign->zip_count + campaign->rule_count, 0);
    assert_int_equal (campaign->cap_count, 0);
    assert_null (campaign->schedule_json);
    pp_vertical_t *vertical = pp_market_vertical (market, "v");
    assert_false (vertical->consent_required);
    assert_int_equal (vertical->dedupe_count, 0);
    pp_publisher_t *publisher = pp_market_publisher_at (market, 0);
    assert_int_equal (publisher->payout_kind, PP_PAYOUT_FIXED);
    assert_int_equal (publisher->payout_fixed_cents, 0);
    assert_int_equal (publisher->rate_limit_per_second, 0);
    assert_int_equal (pp_market_buyer_count (market), 2);
    pp_market_unlink (&market);
}

static void
test_pp_market_field_type_name (void **state)
{
    assert_string_equal (pp_field_type_name (PP_FT_STRING), "string");
    assert_string_equal (pp_field_type_name (PP_FT_ENUM), "enum");
    assert_string_equal (pp_field_type_name (PP_FT_DATE), "date");
    assert_null (pp_field_type_name (0));
    assert_null (pp_field_type_name (PP_FT_DATE + 1));
}

static void
test_pp_market_refcount (void **state)
{
    pp_market_t *market = s_parse_data ("market_design.json");
    pp_market_t *second = pp_market_link (market);
    assert_ptr_equal (second, market);
    pp_market_unlink (&market);
    assert_null (market);
    //  Still alive through the second reference (ASan would catch a free)
    assert_string_equal (pp_market_vertical_at (second, 0)->name, "solar");
    pp_market_unlink (&second);
    assert_null (second);
    pp_market_unlink (&second);             //  NULL-safe
    assert_null (pp_market_link (NULL));
}

//  ---------------------------------------------------------------------------
//  Problems, one rule family at a time

static void
test_pp_market_unknown_keys (void **state)
{
    s_expect_error ("{\"verticles\": []}", "$.verticles", "unknown key");
    s_expect_error ("{\"auction\": {\"flor\": 1}}", "$.auction.flor", "unknown key");
    s_expect_error ("{\"verticals\": [{\"name\": \"v\", \"fields\": {\"a\": {\"type\": \"string\","
                    " \"maxlength\": 3}}}]}", "$.verticals[0].fields.a.maxlength", "unknown key");
    s_expect_error ("{\"publishers\": [{\"name\": \"p\", \"api_key\": \"12345678\","
                    " \"payout\": {\"fixed\": 1, \"bonus\": 2}}]}",
                    "$.publishers[0].payout.bonus", "unknown key");
    s_expect_error ("{\"blacklist\": {\"phone\": []}}", "$.blacklist.phone", "unknown key");
    s_expect_campaign_error (", \"bidd\": 1", "$.buyers[0].campaigns[0].bidd", "unknown key");
    s_expect_campaign_error (", \"filters\": {\"fields\": {\"bill\": {\"minimum\": 1}}}",
                             "$.buyers[0].campaigns[0].filters.fields.bill.minimum",
                             "unknown key");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"timezone\": \"UTC\"}",
                             "$.buyers[0].campaigns[0].schedule.timezone", "unknown key");
    s_expect_campaign_error (", \"caps\": [{\"count\": 1, \"per\": \"day\", \"every\": 2}]",
                             "$.buyers[0].campaigns[0].caps[0].every", "unknown key");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"http://a\", \"timeout\": 5}},"
                            " \"post\": {\"url\": \"http://a\"}",
                            "$.buyers[0].campaigns[0].bid.ping.timeout", "unknown key");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"accepted_when\": {\"contains\": \"x\", \"icase\": true}}",
                            "$.buyers[0].campaigns[0].post.accepted_when.icase", "unknown key");
    //  A key given twice is caught too
    s_expect_error ("{\"auction\": {\"floor\": 1, \"floor\": 2}}", "$.auction.floor",
                    "duplicate key");
    //  Odd keys get a bracketed, quoted path
    s_expect_error ("{\"a b\": 1}", "$[\"a b\"]", "unknown key");
}

static void
test_pp_market_names (void **state)
{
    s_expect_error ("{\"verticals\": [{\"name\": \"so lar\", \"fields\": {}}]}",
                    "$.verticals[0].name", "must be 1..64 characters");
    s_expect_error ("{\"verticals\": [{\"name\": \"\", \"fields\": {}}]}",
                    "$.verticals[0].name", "must be 1..64 characters");
    char *text = zsys_sprintf ("{\"buyers\": [{\"name\": \"%065d\"}]}", 1);
    s_expect_error (text, "$.buyers[0].name", "must be 1..64 characters");
    zstr_free (&text);
    text = zsys_sprintf ("{\"buyers\": [{\"name\": \"%064d\"}]}", 1);
    pp_market_t *market = s_parse_ok (text, strlen (text));       //  64 is fine
    pp_market_unlink (&market);
    zstr_free (&text);
    s_expect_error ("{\"verticals\": [{\"name\": 7, \"fields\": {}}]}",
                    "$.verticals[0].name", "must be a string");
    s_expect_error ("{\"verticals\": [{\"fields\": {}}]}", "$.verticals[0].name", "is required");
    s_expect_error ("{\"verticals\": [{\"name\": \"v\", \"fields\": {}},"
                    " {\"name\": \"v\", \"fields\": {}}]}",
                    "$.verticals[1].name", "duplicate name 'v'");
    s_expect_error ("{\"publishers\": [{\"name\": \"p\", \"api_key\": \"12345678\","
                    " \"payout\": {\"fixed\": 1}}, {\"name\": \"p\", \"api_key\": \"abcdefgh\","
                    " \"payout\": {\"fixed\": 1}}]}", "$.publishers[1].name", "duplicate name 'p'");
    s_expect_error ("{\"buyers\": [{\"name\": \"b\"}, {\"name\": \"b\"}]}",
                    "$.buyers[1].name", "duplicate name 'b'");
    //  Campaign names are unique across buyers
    s_expect_error ("{\"verticals\": [{\"name\": \"v\", \"fields\": {}}], \"buyers\": ["
                    " {\"name\": \"b1\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"v\","
                    "  \"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\"}}]},"
                    " {\"name\": \"b2\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"v\","
                    "  \"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\"}}]}]}",
                    "$.buyers[1].campaigns[0].name", "duplicate name 'c'");
    //  Same name in different kinds is fine
    text = zsys_sprintf ("{\"verticals\": [{\"name\": \"x\", \"fields\": {}}],"
                         " \"buyers\": [{\"name\": \"x\"}]}");
    market = s_parse_ok (text, strlen (text));
    pp_market_unlink (&market);
    zstr_free (&text);
    //  Unicode names are not names
    s_expect_error ("{\"buyers\": [{\"name\": \"s\xc3\xb6lar\"}]}", "$.buyers[0].name",
                    "must be 1..64 characters");
    s_expect_error ("{\"verticals\": [{\"name\": \"v\", \"fields\": {\"first name\":"
                    " {\"type\": \"string\"}}}]}",
                    "$.verticals[0].fields[\"first name\"]", "field name must be");
}

static void
test_pp_market_money (void **state)
{
    s_expect_error ("{\"auction\": {\"floor\": 5.001}}", "$.auction.floor",
                    "must be a number >= 0 with at most two decimals");
    s_expect_error ("{\"auction\": {\"floor\": -1}}", "$.auction.floor", "at most two decimals");
    s_expect_error ("{\"auction\": {\"floor\": \"5.00\"}}", "$.auction.floor",
                    "at most two decimals");
    s_expect_error ("{\"publishers\": [{\"name\": \"p\", \"api_key\": \"12345678\","
                    " \"payout\": {\"fixed\": 10.125}}]}", "$.publishers[0].payout.fixed",
                    "at most two decimals");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1.234}, \"post\": {\"url\": \"http://a\"}",
                            "$.buyers[0].campaigns[0].bid.fixed",
                            "must be a number > 0 with at most two decimals");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 0}, \"post\": {\"url\": \"http://a\"}",
                            "$.buyers[0].campaigns[0].bid.fixed", "> 0");
    s_expect_campaign_error (", \"caps\": [{\"amount\": 99.999, \"per\": \"day\"}]",
                             "$.buyers[0].campaigns[0].caps[0].amount", "at most two decimals");
    //  Two decimals, binary noise and all, are exact cents
    const char *text = "{\"auction\": {\"floor\": 0.29}}";
    pp_market_t *market = s_parse_ok (text, strlen (text));
    assert_int_equal (pp_market_auction (market)->floor_cents, 29);
    pp_market_unlink (&market);
    text = "{\"auction\": {\"floor\": 1e2}}";
    market = s_parse_ok (text, strlen (text));
    assert_int_equal (pp_market_auction (market)->floor_cents, 10000);
    pp_market_unlink (&market);
}

static void
test_pp_market_auction_rules (void **state)
{
    s_expect_error ("{\"auction\": []}", "$.auction", "must be an object");
    s_expect_error ("{\"auction\": {\"mode\": \"dutch\"}}", "$.auction.mode",
                    "'auction' or 'ping_tree'");
    s_expect_error ("{\"auction\": {\"pricing\": \"third\"}}", "$.auction.pricing",
                    "'first' or 'second'");
    s_expect_error ("{\"auction\": {\"max_sales\": 0}}", "$.auction.max_sales",
                    "must be an integer from 1");
    s_expect_error ("{\"auction\": {\"max_sales\": 1.5}}", "$.auction.max_sales",
                    "must be an integer");
    s_expect_error ("{\"auction\": {\"timeout_ms\": 0}}", "$.auction.timeout_ms",
                    "must be an integer from 1");
    s_expect_error ("{\"verticals\": {}}", "$.verticals", "must be an array");
    s_expect_error ("{\"publishers\": 1}", "$.publishers", "must be an array");
    s_expect_error ("{\"buyers\": \"x\"}", "$.buyers", "must be an array");
    s_expect_error ("{\"buyers\": [{\"name\": \"b\", \"campaigns\": {}}]}",
                    "$.buyers[0].campaigns", "must be an array");
    s_expect_error ("{\"buyers\": [7]}", "$.buyers[0]", "must be an object");
}

static void
test_pp_market_vertical_rules (void **state)
{
#define V(fields) "{\"verticals\": [{\"name\": \"v\", \"fields\": {" fields "}}]}"
#define VX(fields, extra) "{\"verticals\": [{\"name\": \"v\", \"fields\": {" fields "}" extra "}]}"
    s_expect_error ("{\"verticals\": [{\"name\": \"v\"}]}", "$.verticals[0].fields",
                    "is required");
    s_expect_error ("{\"verticals\": [{\"name\": \"v\", \"fields\": []}]}",
                    "$.verticals[0].fields", "must be an object");
    s_expect_error (V ("\"a\": {\"type\": \"blob\"}"), "$.verticals[0].fields.a.type",
                    "must be one of string integer");
    s_expect_error (V ("\"a\": {\"pii\": true}"), "$.verticals[0].fields.a.type", "is required");
    s_expect_error (V ("\"a\": \"string\""), "$.verticals[0].fields.a", "must be an object");
    s_expect_error (V ("\"a\": {\"type\": \"string\", \"pii\": \"yes\"}"),
                    "$.verticals[0].fields.a.pii", "must be true or false");
    s_expect_error (V ("\"a\": {\"type\": \"string\", \"required\": 1}"),
                    "$.verticals[0].fields.a.required", "must be true or false");
    s_expect_error (V ("\"a\": {\"type\": \"integer\", \"max_length\": 5}"),
                    "$.verticals[0].fields.a.max_length", "only applies to string");
    s_expect_error (V ("\"a\": {\"type\": \"string\", \"max_length\": 0}"),
                    "$.verticals[0].fields.a.max_length", "must be an integer >= 1");
    s_expect_error (V ("\"a\": {\"type\": \"string\", \"min\": 0}"),
                    "$.verticals[0].fields.a.min", "only applies to integer and number");
    s_expect_error (V ("\"a\": {\"type\": \"integer\", \"min\": 10, \"max\": 5}"),
                    "$.verticals[0].fields.a.max", "must not be less than min");
    s_expect_error (V ("\"a\": {\"type\": \"number\", \"min\": \"1\"}"),
                    "$.verticals[0].fields.a.min", "must be a number");
    s_expect_error (V ("\"a\": {\"type\": \"enum\"}"), "$.verticals[0].fields.a.values",
                    "is required");
    s_expect_error (V ("\"a\": {\"type\": \"enum\", \"values\": []}"),
                    "$.verticals[0].fields.a.values", "must not be empty");
    s_expect_error (V ("\"a\": {\"type\": \"enum\", \"values\": [\"x\", 1]}"),
                    "$.verticals[0].fields.a.values[1]", "must be a string");
    s_expect_error (V ("\"a\": {\"type\": \"enum\", \"values\": [\"x\", \"y\", \"x\"]}"),
                    "$.verticals[0].fields.a.values[2]", "duplicate value 'x'");
    s_expect_error (V ("\"a\": {\"type\": \"string\", \"values\": [\"x\"]}"),
                    "$.verticals[0].fields.a.values", "only applies to enum");
    s_expect_error (V ("\"a\": {\"type\": \"zip\"}, \"a\": {\"type\": \"zip\"}"),
                    "$.verticals[0].fields.a", "duplicate field 'a'");
    s_expect_error (VX ("\"a\": {\"type\": \"zip\"}", ", \"dedupe\": {\"fields\": [\"b\"],"
                        " \"days\": 30}"), "$.verticals[0].dedupe.fields[0]",
                    "unknown field 'b'");
    s_expect_error (VX ("\"a\": {\"type\": \"zip\"}", ", \"dedupe\": {\"fields\": [\"a\", \"a\"],"
                        " \"days\": 30}"), "$.verticals[0].dedupe.fields[1]",
                    "duplicate field 'a'");
    s_expect_error (VX ("\"a\": {\"type\": \"zip\"}", ", \"dedupe\": {\"fields\": [],"
                        " \"days\": 30}"), "$.verticals[0].dedupe.fields", "must not be empty");
    s_expect_error (VX ("\"a\": {\"type\": \"zip\"}", ", \"dedupe\": {\"fields\": [\"a\"],"
                        " \"days\": 0}"), "$.verticals[0].dedupe.days",
                    "must be an integer from 1 to 3650");
    s_expect_error (VX ("\"a\": {\"type\": \"zip\"}", ", \"dedupe\": {\"fields\": [\"a\"],"
                        " \"days\": 3651}"), "$.verticals[0].dedupe.days", "from 1 to 3650");
    s_expect_error (VX ("\"a\": {\"type\": \"zip\"}", ", \"dedupe\": {\"fields\": [\"a\"]}"),
                    "$.verticals[0].dedupe.days", "is required");
    s_expect_error (VX ("", ", \"consent_required\": \"true\""),
                    "$.verticals[0].consent_required", "must be true or false");
    s_expect_error (VX ("", ", \"min_form_seconds\": -1"), "$.verticals[0].min_form_seconds",
                    "must be an integer >= 0");
    s_expect_error (VX ("", ", \"bot_threshold\": 101"), "$.verticals[0].bot_threshold",
                    "from 0 to 100");
#undef V
#undef VX
}

static void
test_pp_market_publisher_rules (void **state)
{
#define P(members) "{\"publishers\": [{\"name\": \"p\", " members "}]}"
    s_expect_error (P ("\"payout\": {\"fixed\": 1}"), "$.publishers[0].api_key", "is required");
    s_expect_error (P ("\"api_key\": \"short\", \"payout\": {\"fixed\": 1}"),
                    "$.publishers[0].api_key", "must be 8..256 visible ASCII");
    s_expect_error (P ("\"api_key\": \"has a space\", \"payout\": {\"fixed\": 1}"),
                    "$.publishers[0].api_key", "must be 8..256 visible ASCII");
    s_expect_error (P ("\"api_key\": 12345678, \"payout\": {\"fixed\": 1}"),
                    "$.publishers[0].api_key", "must be a string");
    s_expect_error (P ("\"api_key\": \"12345678\""), "$.publishers[0].payout", "is required");
    s_expect_error (P ("\"api_key\": \"12345678\", \"payout\": {}"), "$.publishers[0].payout",
                    "exactly one of 'revshare_percent' or 'fixed'");
    s_expect_error (P ("\"api_key\": \"12345678\", \"payout\": {\"fixed\": 1,"
                       " \"revshare_percent\": 50}"), "$.publishers[0].payout",
                    "exactly one of");
    s_expect_error (P ("\"api_key\": \"12345678\", \"payout\": {\"revshare_percent\": 101}"),
                    "$.publishers[0].payout.revshare_percent", "from 0 to 100");
    s_expect_error (P ("\"api_key\": \"12345678\", \"payout\": {\"revshare_percent\": 50.5}"),
                    "$.publishers[0].payout.revshare_percent", "must be an integer");
    s_expect_error (P ("\"api_key\": \"12345678\", \"payout\": {\"fixed\": 1},"
                       " \"rate_limit_per_second\": -1"),
                    "$.publishers[0].rate_limit_per_second", "must be an integer >= 0");
    s_expect_error ("{\"publishers\": [{\"name\": \"p\", \"api_key\": \"12345678\","
                    " \"payout\": {\"fixed\": 1}}, {\"name\": \"q\", \"api_key\": \"12345678\","
                    " \"payout\": {\"fixed\": 1}}]}", "$.publishers[1].api_key",
                    "same api_key as publisher 'p'");
    char *text = zsys_sprintf (P ("\"api_key\": \"%0257d\", \"payout\": {\"fixed\": 1}"), 1);
    s_expect_error (text, "$.publishers[0].api_key", "8..256");
    zstr_free (&text);
#undef P
}

static void
test_pp_market_campaign_rules (void **state)
{
    const char *c = "$.buyers[0].campaigns[0]";
    char path [256];
#define AT(suffix) (snprintf (path, sizeof path, "%s%s", c, suffix), path)
    s_expect_bidpost_error ("\"tier\": 1", AT (".bid"), "is required");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}", AT (".post"), "is required");
    char *text = zsys_sprintf (
        "{\"buyers\": [{\"name\": \"b\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"x\","
        " \"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\"}}]}]}");
    s_expect_error (text, AT (".vertical"), "unknown vertical 'x'");
    zstr_free (&text);
    s_expect_campaign_error (", \"tier\": 0", AT (".tier"), "must be an integer >= 1");
    s_expect_campaign_error (", \"exclusive\": \"no\"", AT (".exclusive"), "true or false");
    s_expect_bidpost_error ("\"bid\": {}, \"post\": {\"url\": \"http://a\"}", AT (".bid"),
                            "exactly one of 'fixed' or 'ping'");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1, \"ping\": {\"url\": \"http://a\"}},"
                            " \"post\": {\"url\": \"http://a\"}", AT (".bid"), "exactly one of");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {}}, \"post\": {\"url\": \"http://a\"}",
                            AT (".bid.ping.url"), "is required");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"ftp://a/b\"}},"
                            " \"post\": {\"url\": \"http://a\"}", AT (".bid.ping.url"),
                            "http:// or https://");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"http://\"}},"
                            " \"post\": {\"url\": \"http://a\"}", AT (".bid.ping.url"),
                            "http:// or https://");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"http://a b\"}},"
                            " \"post\": {\"url\": \"http://a\"}", AT (".bid.ping.url"),
                            "http:// or https://");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"http://a\", \"timeout_ms\": 0}},"
                            " \"post\": {\"url\": \"http://a\"}", AT (".bid.ping.timeout_ms"),
                            "from 1 to 60000");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"http://a\", \"timeout_ms\": 60001}},"
                            " \"post\": {\"url\": \"http://a\"}", AT (".bid.ping.timeout_ms"),
                            "from 1 to 60000");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"http://a\", \"price_pointer\":"
                            " \"data.price\"}}, \"post\": {\"url\": \"http://a\"}",
                            AT (".bid.ping.price_pointer"), "JSON pointer");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"http://a\", \"id_pointer\":"
                            " \"/a~2\"}}, \"post\": {\"url\": \"http://a\"}",
                            AT (".bid.ping.id_pointer"), "JSON pointer");
    s_expect_bidpost_error ("\"bid\": {\"ping\": {\"url\": \"http://a\", \"accept_pointer\":"
                            " 5}}, \"post\": {\"url\": \"http://a\"}",
                            AT (".bid.ping.accept_pointer"), "must be a string");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {}", AT (".post.url"),
                            "is required");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": \"http://a\"", AT (".post"),
                            "must be an object");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"timeout_ms\": 120001}", AT (".post.timeout_ms"),
                            "from 1 to 120000");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"format\": \"xml\"}", AT (".post.format"), "'json' or 'form'");
    s_expect_campaign_error (", \"tier\": 2, \"post\": {}", AT (".post"), "duplicate key");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"mapping\": {\"Zip\": \"zipcode\"}}", AT (".post.mapping.Zip"),
                            "unknown source field 'zipcode'");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"mapping\": {\"Zip\": 5}}", AT (".post.mapping.Zip"),
                            "must be a field name");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"mapping\": {\"a//b\": \"zip\"}}", AT (".post.mapping[\"a//b\"]"),
                            "target must be");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"mapping\": []}", AT (".post.mapping"), "must be an object");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"constants\": {\"A\": {\"b\": 1}}}", AT (".post.constants.A"),
                            "must be a string, number or boolean");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"mapping\": {\"Zip\": \"zip\"}, \"constants\": {\"Zip\": \"1\"}}",
                            AT (".post.constants.Zip"), "also a mapping target");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"accepted_when\": {}}", AT (".post.accepted_when"),
                            "exactly one of");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"accepted_when\": {\"contains\": \"ok\", \"regex\": \"ok\"}}",
                            AT (".post.accepted_when"), "exactly one of");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"accepted_when\": {\"pointer\": \"/status\"}}",
                            AT (".post.accepted_when.equals"), "is required");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"accepted_when\": {\"equals\": \"OK\"}}",
                            AT (".post.accepted_when.pointer"), "is required");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"accepted_when\": {\"pointer\": \"/s\", \"equals\": [1]}}",
                            AT (".post.accepted_when.equals"), "string, number or boolean");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"accepted_when\": {\"regex\": \"(unclosed\"}}",
                            AT (".post.accepted_when.regex"), "POSIX extended regular");
    s_expect_bidpost_error ("\"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\","
                            " \"accepted_when\": {\"contains\": \"\"}}",
                            AT (".post.accepted_when.contains"), "must not be empty");
#undef AT
}

static void
test_pp_market_filter_rules (void **state)
{
    const char *f = "$.buyers[0].campaigns[0].filters";
    char path [256];
#define AT(suffix) (snprintf (path, sizeof path, "%s%s", f, suffix), path)
    s_expect_campaign_error (", \"filters\": []", AT (""), "must be an object");
    s_expect_campaign_error (", \"filters\": {\"states\": [\"CA\", \"XX\"]}", AT (".states[1]"),
                             "'XX' is not a US state code");
    s_expect_campaign_error (", \"filters\": {\"states\": [\"ca\"]}", AT (".states[0]"),
                             "not a US state code");
    s_expect_campaign_error (", \"filters\": {\"states\": []}", AT (".states"),
                             "must not be empty");
    s_expect_campaign_error (", \"filters\": {\"states\": \"CA\"}", AT (".states"),
                             "must be an array of strings");
    s_expect_campaign_error (", \"filters\": {\"zips\": [\"90001\", \"9000\"]}", AT (".zips[1]"),
                             "is not a 5-digit ZIP");
    s_expect_campaign_error (", \"filters\": {\"zips\": [90001]}", AT (".zips[0]"),
                             "must be a string");
    s_expect_campaign_error (", \"filters\": {\"zip_radius\": {\"zip\": \"9021\", \"miles\": 5}}",
                             AT (".zip_radius.zip"), "5-digit ZIP");
    s_expect_campaign_error (", \"filters\": {\"zip_radius\": {\"zip\": \"90210\","
                             " \"miles\": 501}}", AT (".zip_radius.miles"), "at most 500");
    s_expect_campaign_error (", \"filters\": {\"zip_radius\": {\"zip\": \"90210\","
                             " \"miles\": 0}}", AT (".zip_radius.miles"), "more than 0");
    s_expect_campaign_error (", \"filters\": {\"zip_radius\": {\"zip\": \"90210\"}}",
                             AT (".zip_radius.miles"), "is required");
    s_expect_campaign_error (", \"filters\": {\"fields\": {\"income\": {\"min\": 1}}}",
                             AT (".fields.income"), "unknown field 'income'");
    s_expect_campaign_error (", \"filters\": {\"fields\": {\"credit\": {\"min\": 1}}}",
                             AT (".fields.credit.min"), "only applies to integer and number");
    s_expect_campaign_error (", \"filters\": {\"fields\": {\"bill\": {\"min\": 5, \"max\": 1}}}",
                             AT (".fields.bill.max"), "must not be less than min");
    s_expect_campaign_error (", \"filters\": {\"fields\": {\"credit\": {\"in\": []}}}",
                             AT (".fields.credit.in"), "non-empty array");
    s_expect_campaign_error (", \"filters\": {\"fields\": {\"credit\": {\"not_in\": [null]}}}",
                             AT (".fields.credit.not_in[0]"), "string, number or boolean");
    s_expect_campaign_error (", \"filters\": {\"fields\": {\"credit\": {\"equals\": {}}}}",
                             AT (".fields.credit.equals"), "string, number or boolean");
    s_expect_campaign_error (", \"filters\": {\"fields\": {\"zip\": {\"exists\": 1}}}",
                             AT (".fields.zip.exists"), "true or false");
    s_expect_campaign_error (", \"filters\": {\"publishers\": {\"allow\": [\"bad name\"]}}",
                             AT (".publishers.allow[0]"), "must be 1..64 characters");
    s_expect_campaign_error (", \"filters\": {\"publishers\": {\"allow\": []}}",
                             AT (".publishers.allow"), "must not be empty");
    s_expect_campaign_error (", \"filters\": {\"sources\": {\"deny\": [\"\"]}}",
                             AT (".sources.deny[0]"), "1..256 bytes");
    s_expect_campaign_error (", \"filters\": {\"sources\": {\"block\": [\"x\"]}}",
                             AT (".sources.block"), "unknown key");
    //  In/not_in keep text: numbers and booleans as JSON
    char *text = s_with_campaign (", \"filters\": {\"fields\": {\"bill\": {\"in\": [1, 2.5, true,"
                                  " \"x\"]}}}");
    pp_market_t *market = s_parse_ok (text, strlen (text));
    const pp_field_rule_t *rule = s_rule (pp_market_campaign (market, "c1"), "bill");
    assert_int_equal (rule->in_count, 4);
    assert_string_equal (rule->in [0], "1");
    assert_string_equal (rule->in [1], "2.5");
    assert_string_equal (rule->in [2], "true");
    assert_string_equal (rule->in [3], "x");
    pp_market_unlink (&market);
    zstr_free (&text);
#undef AT
}

static void
test_pp_market_schedule_rules (void **state)
{
    const char *s = "$.buyers[0].campaigns[0].schedule";
    char path [256];
#define AT(suffix) (snprintf (path, sizeof path, "%s%s", s, suffix), path)
    s_expect_campaign_error (", \"schedule\": {}", AT (".time_zone"), "is required");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"Mars/Olympus\"}",
                             AT (".time_zone"), "unknown time zone 'Mars/Olympus'");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"../../etc/passwd\"}",
                             AT (".time_zone"), "unknown time zone");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"/etc/localtime\"}",
                             AT (".time_zone"), "unknown time zone");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"America\"}",
                             AT (".time_zone"), "unknown time zone");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"zone.tab\"}",
                             AT (".time_zone"), "unknown time zone");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"hours\":"
                             " {\"funday\": \"08:00-10:00\"}}", AT (".hours.funday"),
                             "must be a day or a forward range");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"hours\":"
                             " {\"fri-mon\": \"08:00-10:00\"}}", AT (".hours.fri-mon"),
                             "forward range");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"hours\":"
                             " {\"mon-fri\": \"08:00-10:00\", \"wed\": \"11:00-12:00\"}}",
                             AT (".hours.wed"), "repeats a day");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"hours\":"
                             " {\"mon\": \"20:00-08:00\"}}", AT (".hours.mon"),
                             "start before the end");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"hours\":"
                             " {\"mon\": \"8:00-12:00\"}}", AT (".hours.mon"), "HH:MM-HH:MM");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"hours\":"
                             " {\"mon\": \"08:00-24:01\"}}", AT (".hours.mon"), "HH:MM-HH:MM");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"hours\":"
                             " {\"mon\": [\"08:00-10:00\", \"10:60-11:00\"]}}",
                             AT (".hours.mon[1]"), "HH:MM-HH:MM");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"hours\":"
                             " {\"mon\": []}}", AT (".hours.mon"), "non-empty array");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"holidays\":"
                             " [\"2026-12-25\", \"2025-02-29\"]}", AT (".holidays[1]"),
                             "not a date YYYY-MM-DD");
    s_expect_campaign_error (", \"schedule\": {\"time_zone\": \"UTC\", \"holidays\":"
                             " [\"25/12/2026\"]}", AT (".holidays[0]"), "not a date");
    //  The good forms
    char *text = s_with_campaign (", \"schedule\": {\"time_zone\": \"Europe/Paris\","
                                  " \"hours\": {\"mon\": \"00:00-24:00\", \"tue-sun\":"
                                  " [\"08:00-09:00\", \"10:00-11:00\"]},"
                                  " \"holidays\": [\"2000-02-29\"]}");
    pp_market_t *market = s_parse_ok (text, strlen (text));
    assert_non_null (strstr (pp_market_campaign (market, "c1")->schedule_json, "Europe/Paris"));
    pp_market_unlink (&market);
    zstr_free (&text);
#undef AT
}

static void
test_pp_market_caps_rules (void **state)
{
    const char *c = "$.buyers[0].campaigns[0].caps";
    char path [256];
#define AT(suffix) (snprintf (path, sizeof path, "%s%s", c, suffix), path)
    s_expect_campaign_error (", \"caps\": {}", AT (""), "must be an array");
    s_expect_campaign_error (", \"caps\": [5]", AT ("[0]"), "must be an object");
    s_expect_campaign_error (", \"caps\": [{\"count\": 0, \"per\": \"day\"}]", AT ("[0].count"),
                             "must be an integer >= 1");
    s_expect_campaign_error (", \"caps\": [{\"amount\": 0, \"per\": \"day\"}]",
                             AT ("[0].amount"), "> 0");
    s_expect_campaign_error (", \"caps\": [{\"count\": 1, \"per\": \"day\"},"
                             " {\"count\": 1, \"amount\": 1, \"per\": \"day\"}]", AT ("[1]"),
                             "exactly one of 'count' or 'amount'");
    s_expect_campaign_error (", \"caps\": [{\"per\": \"day\"}]", AT ("[0]"), "exactly one of");
    s_expect_campaign_error (", \"caps\": [{\"count\": 1, \"per\": \"year\"}]", AT ("[0].per"),
                             "one of hour day week month total");
    s_expect_campaign_error (", \"caps\": [{\"count\": 1}]", AT ("[0].per"), "is required");
#undef AT
}

//  "pacing": "even" on a cap per day; nothing else
static void
test_pp_market_caps_pacing (void **state)
{
    char *text = s_with_campaign (
        ", \"caps\": [{\"count\": 100, \"per\": \"day\", \"pacing\": \"even\"},"
        " {\"amount\": 2500.00, \"per\": \"day\", \"pacing\": \"even\"},"
        " {\"count\": 40, \"per\": \"day\"}, {\"count\": 20, \"per\": \"hour\"}]");
    pp_market_t *market = s_parse_ok (text, strlen (text));
    zstr_free (&text);
    const pp_campaign_t *campaign = pp_market_campaign (market, "c1");
    assert_non_null (campaign);
    assert_int_equal (campaign->cap_count, 4);
    assert_true (campaign->caps [0].pacing_even);
    assert_int_equal (campaign->caps [0].count, 100);
    assert_true (campaign->caps [1].pacing_even);
    assert_int_equal (campaign->caps [1].amount_cents, 250000);
    assert_false (campaign->caps [2].pacing_even);
    assert_false (campaign->caps [3].pacing_even);
    pp_market_unlink (&market);

    const char *c = "$.buyers[0].campaigns[0].caps";
    char path [256];
#define AT(suffix) (snprintf (path, sizeof path, "%s%s", c, suffix), path)
    //  Only a day has open hours to spread over
    s_expect_campaign_error (", \"caps\": [{\"count\": 20, \"per\": \"hour\","
                             " \"pacing\": \"even\"}]", AT ("[0].pacing"),
                             "campaign 'c1': pacing applies only to a cap per day, not per hour");
    s_expect_campaign_error (", \"caps\": [{\"count\": 1, \"per\": \"day\"},"
                             " {\"amount\": 9, \"per\": \"week\", \"pacing\": \"even\"}]",
                             AT ("[1].pacing"), "campaign 'c1': pacing applies only to a cap"
                             " per day, not per week");
    //  Only "even" is known
    s_expect_campaign_error (", \"caps\": [{\"count\": 1, \"per\": \"day\","
                             " \"pacing\": \"front\"}]", AT ("[0].pacing"),
                             "campaign 'c1': unknown pacing 'front', must be 'even'");
    s_expect_campaign_error (", \"caps\": [{\"count\": 1, \"per\": \"day\","
                             " \"pacing\": \"Even\"}]", AT ("[0].pacing"), "unknown pacing");
    s_expect_campaign_error (", \"caps\": [{\"count\": 1, \"per\": \"day\","
                             " \"pacing\": true}]", AT ("[0].pacing"), "must be a string");
#undef AT
}

static void
test_pp_market_blacklist_rules (void **state)
{
    s_expect_error ("{\"blacklist\": []}", "$.blacklist", "must be an object");
    s_expect_error ("{\"blacklist\": {\"phones\": [\"555-0100\"]}}", "$.blacklist.phones[0]",
                    "not a US phone number");
    s_expect_error ("{\"blacklist\": {\"phones\": [\"555 010 0000 x1\"]}}",
                    "$.blacklist.phones[0]", "not a US phone");
    s_expect_error ("{\"blacklist\": {\"emails\": [\"a@b@c.com\"]}}", "$.blacklist.emails[0]",
                    "not an email address");
    s_expect_error ("{\"blacklist\": {\"emails\": [\"nobody\"]}}", "$.blacklist.emails[0]",
                    "not an email address");
    s_expect_error ("{\"blacklist\": {\"email_domains\": [\"bad domain.com\"]}}",
                    "$.blacklist.email_domains[0]", "not a domain name");
    s_expect_error ("{\"blacklist\": {\"ips\": [\"10.0.0.256\"]}}", "$.blacklist.ips[0]",
                    "not an IPv4 or IPv6 address");
    s_expect_error ("{\"blacklist\": {\"cidrs\": [\"10.0.0.0/33\"]}}", "$.blacklist.cidrs[0]",
                    "not a CIDR block");
    s_expect_error ("{\"blacklist\": {\"cidrs\": [\"10.0.0.0\"]}}", "$.blacklist.cidrs[0]",
                    "not a CIDR block");
    s_expect_error ("{\"blacklist\": {\"names\": [\"\"]}}", "$.blacklist.names[0]",
                    "1..256 bytes");
    s_expect_error ("{\"blacklist\": {\"ips\": \"10.0.0.1\"}}", "$.blacklist.ips",
                    "must be an array");
    const char *text = "{\"blacklist\": {\"phones\": [], \"cidrs\": [\"::/0\", \"1.2.3.4/32\"]}}";
    pp_market_t *market = s_parse_ok (text, strlen (text));
    assert_true (s_json_same (pp_market_section (market, "blacklist"),
                              "{\"phones\": [], \"cidrs\": [\"::/0\", \"1.2.3.4/32\"]}"));
    pp_market_unlink (&market);
}

//  Every problem of a file comes back at once, in file order.
static void
test_pp_market_many_errors (void **state)
{
    const char *text =
        "{\"auction\": {\"floor\": 1.001, \"mode\": \"x\"},"
        " \"verticals\": [{\"name\": \"v\", \"fields\": {\"a\": {\"type\": \"blob\"}}}],"
        " \"publishers\": [{\"name\": \"bad name\", \"api_key\": \"k\", \"payout\": {}}],"
        " \"buyers\": [{\"name\": \"b\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"nope\","
        "   \"tier\": 0, \"bid\": {\"fixed\": 1.234}, \"post\": {\"url\": \"x\"},"
        "   \"filters\": {\"states\": [\"ZZ\"]}, \"caps\": [{\"count\": 1, \"per\": \"year\"}]}]}],"
        " \"extra\": true}";
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (text, strlen (text), &errors, &count);
    assert_null (market);
    static const char *expected [][2] = {
        { "$.extra", "unknown key" },
        { "$.auction.mode", "'auction' or 'ping_tree'" },
        { "$.auction.floor", "at most two decimals" },
        { "$.verticals[0].fields.a.type", "must be one of" },
        { "$.publishers[0].name", "must be 1..64" },
        { "$.publishers[0].api_key", "8..256" },
        { "$.publishers[0].payout", "exactly one of" },
        { "$.buyers[0].campaigns[0].vertical", "unknown vertical 'nope'" },
        { "$.buyers[0].campaigns[0].tier", ">= 1" },
        { "$.buyers[0].campaigns[0].bid.fixed", "at most two decimals" },
        { "$.buyers[0].campaigns[0].post.url", "http:// or https://" },
        { "$.buyers[0].campaigns[0].filters.states[0]", "not a US state" },
        { "$.buyers[0].campaigns[0].caps[0].per", "one of hour" },
    };
    size_t expected_count = sizeof expected / sizeof expected [0];
    for (size_t i = 0; i < expected_count; i++) {
        if (!s_has_error (errors, count, expected [i][0], expected [i][1])) {
            s_print_errors (errors, count);
            fail_msg ("missing %s: %s", expected [i][0], expected [i][1]);
        }
    }
    //  Nothing but these (the vertical "v" failed: no spurious "unknown vertical 'v'")
    assert_int_equal (count, expected_count);
    pp_market_errors_free (&errors, count);

    //  A campaign of a vertical that failed on its own is not blamed for it
    text = "{\"verticals\": [{\"name\": \"v\", \"fields\": {\"a\": {\"type\": \"blob\"}}}],"
           " \"buyers\": [{\"name\": \"b\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"v\","
           "   \"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\"}}]}]}";
    market = pp_market_parse (text, strlen (text), &errors, &count);
    assert_null (market);
    assert_int_equal (count, 1);
    assert_string_equal (errors [0].path, "$.verticals[0].fields.a.type");
    pp_market_errors_free (&errors, count);
}

//  Not JSON, not an object, too deep, not UTF-8: problems, never a crash.
static void
test_pp_market_garbage (void **state)
{
    s_expect_error ("not json", "$", "not valid JSON");
    s_expect_error ("", "$", "not valid JSON");
    s_expect_error ("{\"a\": 1", "$", "not valid JSON");
    s_expect_error ("{\n  \"buyers\": [,]\n}", "$", "line 2");
    s_expect_error ("[1, 2]", "$", "must be a JSON object");
    s_expect_error ("\"text\"", "$", "must be a JSON object");
    s_expect_error ("null", "$", "must be a JSON object");
    s_expect_error ("{} {}", "$", "unexpected text after the JSON value");
    s_expect_error ("{\"buyers\": [{\"name\": \"\xff\"}]}", "$", "not valid UTF-8");
    s_expect_error ("{\"buyers\": [{\"name\": \"\xc0\xaf\"}]}", "$", "not valid UTF-8");
    s_expect_error ("{\"buyers\": [{\"name\": \"\xed\xa0\x80\"}]}", "$", "not valid UTF-8");
    s_expect_error ("{\"b\xc3\xbcyers\": []}", "$[\"b\xc3\xbcyers\"]", "unknown key");
    s_expect_error ("{\"buyers\": [{\"name\": \"\\u0000x\"}]}", "$.buyers[0].name",
                    "must be 1..64");

    pp_market_error_t *errors = NULL;
    size_t count = 0;
    assert_null (pp_market_parse (NULL, 0, &errors, &count));
    assert_int_equal (count, 1);
    pp_market_errors_free (&errors, count);

    //  Trailing whitespace and a terminating NUL are fine
    const char *text = "{}\n\t ";
    pp_market_t *market = s_parse_ok (text, strlen (text) + 1);
    pp_market_unlink (&market);

    //  Nesting far past any sane file
    size_t depth = 100000;
    char *deep = (char *) malloc (depth * 2 + 16);
    assert_non_null (deep);
    size_t size = 0;
    deep [size++] = '{';
    memcpy (deep + size, "\"x\":", 4);
    size += 4;
    for (size_t i = 0; i < depth; i++)
        deep [size++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep [size++] = ']';
    deep [size++] = '}';
    market = pp_market_parse (deep, size, &errors, &count);
    assert_null (market);
    assert_true (count >= 1);
    assert_string_equal (errors [0].path, "$");
    pp_market_errors_free (&errors, count);
    //  Deep, but within the JSON parser's limit: checked without recursion trouble
    size = 0;
    memcpy (deep, "{\"blacklist\": {\"names\": ", 24);
    size = 24;
    for (size_t i = 0; i < 900; i++)
        deep [size++] = '[';
    for (size_t i = 0; i < 900; i++)
        deep [size++] = ']';
    deep [size++] = '}';
    deep [size++] = '}';
    market = pp_market_parse (deep, size, &errors, &count);
    assert_null (market);
    assert_true (s_has_error (errors, count, "$.blacklist.names[0]", "must be a string"));
    pp_market_errors_free (&errors, count);
    free (deep);

    //  Random bytes never crash
    char noise [512];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof noise; i++)
            noise [i] = "{}[]\":,0123 abtrue\\nul-.e"[random () % 26];
        market = pp_market_parse (noise, sizeof noise, &errors, &count);
        if (market)
            pp_market_unlink (&market);
        pp_market_errors_free (&errors, count);
    }
}

//  A flood of problems is cut at a thousand, with a last line saying so.
static void
test_pp_market_error_cap (void **state)
{
    zchunk_t *chunk = zchunk_new (NULL, 0);
    zchunk_extend (chunk, "{\"blacklist\": {\"ips\": [", 23);
    for (int i = 0; i < 5000; i++)
        zchunk_extend (chunk, i ? ",\"x\"" : "\"x\"", i ? 4 : 3);
    zchunk_extend (chunk, "]}}", 3);
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse ((const char *) zchunk_data (chunk),
                                           zchunk_size (chunk), &errors, &count);
    assert_null (market);
    assert_int_equal (count, 1001);
    assert_string_equal (errors [999].path, "$.blacklist.ips[999]");
    assert_non_null (strstr (errors [1000].message, "too many problems"));
    pp_market_errors_free (&errors, count);
    zchunk_destroy (&chunk);
}

//  Tens of thousands of ZIPs parse in linear time.
static void
test_pp_market_large_zips (void **state)
{
    zchunk_t *zips = zchunk_new (NULL, 0);
    for (int i = 0; i < 20000; i++) {
        char zip [16];
        snprintf (zip, sizeof zip, "%s\"%05d\"", i ? "," : "", 10000 + i);
        zchunk_extend (zips, zip, strlen (zip));
    }
    zchunk_extend (zips, "", 1);
    char *extra = zsys_sprintf (", \"filters\": {\"zips\": [%s]}", (char *) zchunk_data (zips));
    char *text = s_with_campaign (extra);
    int64_t start = zclock_usecs ();
    pp_market_t *market = s_parse_ok (text, strlen (text));
    int64_t took = zclock_usecs () - start;
    pp_campaign_t *campaign = pp_market_campaign (market, "c1");
    assert_int_equal (campaign->zip_count, 20000);
    assert_string_equal (campaign->zips [0], "10000");
    assert_string_equal (campaign->zips [19999], "29999");
    //  Quadratic work on 20,000 entries would take seconds; linear takes milliseconds
    assert_true (took < 2000000);
    pp_market_unlink (&market);
    zstr_free (&text);

    //  A bad one deep in the list is found with its index
    char *bad = zsys_sprintf (", \"filters\": {\"zips\": [%s, \"1234x\"]}",
                              (char *) zchunk_data (zips));
    text = s_with_campaign (bad);
    s_expect_error (text, "$.buyers[0].campaigns[0].filters.zips[20000]", "5-digit ZIP");
    zstr_free (&text);
    zstr_free (&bad);
    zstr_free (&extra);
    zchunk_destroy (&zips);
}

//  ---------------------------------------------------------------------------
//  Database: each test gets a fresh schema with deploy/sql/*.sql in it
//  (tests/unit/pp_testdb), dropped after it.

typedef struct {
    pp_db_t *db;                //  connection with search_path set to schema
    char *conninfo;             //  the schema's conninfo (t_market_<pid>_<random>)
} s_dbstate_t;

static const char *
s_database_url (void)
{
    const char *url = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!url || !*url)
        fail_msg ("PINGPOST_TEST_DATABASE_URL is not set: point it at a PostgreSQL database "
                  "(e.g. \"host=/tmp/ppdev/sock user=pingpost dbname=pp_test\")");
    return url;
}

static int
s_db_setup (void **state)
{
    s_database_url ();
    char *conninfo = pp_testdb_create ("market");
    if (!conninfo)
        fail_msg ("cannot make a test schema in PINGPOST_TEST_DATABASE_URL");
    pp_db_t *db = pp_db_new (conninfo);
    if (!db || !pp_db_ok (db)) {
        pp_db_destroy (&db);
        pp_testdb_drop (&conninfo);
        fail_msg ("cannot connect to the test schema");
    }
    s_dbstate_t *self = (s_dbstate_t *) calloc (1, sizeof (s_dbstate_t));
    assert_non_null (self);
    self->db = db;
    self->conninfo = conninfo;
    *state = self;
    return 0;
}

static int
s_db_teardown (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    if (!self)
        return 0;
    pp_db_destroy (&self->db);
    pp_testdb_drop (&self->conninfo);
    free (self);
    return 0;
}

//  First value of a query's first row, as a string (freed by caller).
static char *
s_query (pp_db_t *db, const char *sql)
{
    PGresult *result = pp_db_exec (db, "test query", sql, 0, NULL);
    assert_non_null (result);
    char *value = strdup (PQntuples (result) && !PQgetisnull (result, 0, 0)
                          ? PQgetvalue (result, 0, 0) : "");
    PQclear (result);
    return value;
}

static long
s_query_long (pp_db_t *db, const char *sql)
{
    char *value = s_query (db, sql);
    long number = atol (value);
    free (value);
    return number;
}

//  Every config row with its transaction id and change time: equal
//  snapshots mean no row was written in between.
static char *
s_snapshot (pp_db_t *db)
{
    return s_query (db,
        "SELECT string_agg (t || ':' || name || ':' || x || ':' || u, ',' ORDER BY t, name) FROM ("
        " SELECT 'a' t, id::text name, xmin::text x, updated_at::text u FROM auction_settings"
        " UNION ALL SELECT 'v', name, xmin::text, updated_at::text FROM verticals"
        " UNION ALL SELECT 'p', name, xmin::text, updated_at::text FROM publishers"
        " UNION ALL SELECT 'b', name, xmin::text, updated_at::text FROM buyers"
        " UNION ALL SELECT 'c', name, xmin::text, updated_at::text FROM campaigns"
        " UNION ALL SELECT 's', name, xmin::text, updated_at::text FROM market_sections) rows");
}

static void
s_store_ok (pp_db_t *db, const char *text)
{
    pp_market_t *market = s_parse_ok (text, strlen (text));
    assert_int_equal (pp_market_store (market, db), 0);
    pp_market_unlink (&market);
}

static void
s_store_data (pp_db_t *db, const char *name)
{
    char *text = s_read_data (name, NULL);
    s_store_ok (db, text);
    free (text);
}

static void
test_pp_market_load_empty (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    pp_market_t *market = pp_market_load (self->db);
    assert_non_null (market);
    assert_int_equal (pp_market_vertical_count (market), 0);
    assert_int_equal (pp_market_publisher_count (market), 0);
    assert_int_equal (pp_market_buyer_count (market), 0);
    assert_int_equal (pp_market_campaign_count (market), 0);
    assert_null (pp_market_section (market, "blacklist"));
    const pp_auction_t *auction = pp_market_auction (market);
    assert_int_equal (auction->mode, PP_MODE_AUCTION);
    assert_int_equal (auction->pricing, PP_PRICING_FIRST);
    assert_int_equal (auction->floor_cents, 0);
    assert_int_equal (auction->max_sales, 1);
    assert_int_equal (auction->timeout_ms, 3000);
    pp_market_unlink (&market);
}

static void
s_round_trip (pp_db_t *db, const char *name)
{
    pp_market_t *parsed = s_parse_data (name);
    assert_int_equal (pp_market_store (parsed, db), 0);
    pp_market_t *loaded = pp_market_load (db);
    assert_non_null (loaded);
    s_assert_same_market (parsed, loaded);
    s_assert_same_market (loaded, parsed);

    //  Ids come from the rows and find the same objects
    for (size_t i = 0; i < pp_market_vertical_count (loaded); i++)
        assert_true (pp_market_vertical_at (loaded, i)->id > 0);
    for (size_t i = 0; i < pp_market_buyer_count (loaded); i++)
        assert_true (pp_market_buyer_at (loaded, i)->id > 0);
    for (size_t i = 0; i < pp_market_publisher_count (loaded); i++) {
        pp_publisher_t *publisher = pp_market_publisher_at (loaded, i);
        assert_true (publisher->id > 0);
        assert_ptr_equal (pp_market_publisher_by_id (loaded, publisher->id), publisher);
    }
    for (size_t i = 0; i < pp_market_campaign_count (loaded); i++) {
        pp_campaign_t *campaign = pp_market_campaign_at (loaded, i);
        assert_true (campaign->id > 0);
        assert_ptr_equal (pp_market_campaign_by_id (loaded, campaign->id), campaign);
        assert_true (campaign->buyer->id > 0);
    }
    assert_null (pp_market_campaign_by_id (loaded, 999999));
    assert_null (pp_market_publisher_by_id (loaded, 999999));

    //  The key is never stored, only its hash
    long keys = s_query_long (db, "SELECT count(*) FROM publishers WHERE spec ? 'api_key'"
                                  " OR position ('pk_' in spec::text) > 0");
    assert_int_equal (keys, 0);
    pp_market_unlink (&parsed);
    pp_market_unlink (&loaded);
}

static void
test_pp_market_store_load_round_trip (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    s_round_trip (self->db, "market_design.json");
    pp_market_t *loaded = pp_market_load (self->db);
    char hash [65];
    pp_sha256_hex ("pk_demo_acme_0001", strlen ("pk_demo_acme_0001"), hash);
    pp_publisher_t *publisher = pp_market_publisher_by_key_hash (loaded, hash);
    assert_non_null (publisher);
    assert_string_equal (publisher->name, "acme-media");
    char *id = s_query (self->db, "SELECT id FROM publishers WHERE name = 'acme-media'");
    assert_int_equal (publisher->id, atol (id));
    free (id);
    pp_campaign_t *campaign = pp_market_campaign (loaded, "sunrise-west");
    assert_string_equal (campaign->buyer->name, "sunrise-solar");
    assert_ptr_equal (campaign->buyer, pp_market_buyer_at (loaded, 0));
    assert_int_equal (campaign->caps [1].amount_cents, 250000);
    assert_int_equal (pp_market_auction (loaded)->floor_cents, 500);
    pp_market_unlink (&loaded);
}

static void
test_pp_market_store_load_round_trip_full (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    s_round_trip (self->db, "market_full.json");
    pp_market_t *loaded = pp_market_load (self->db);
    assert_int_equal (pp_market_vertical_count (loaded), 2);
    assert_int_equal (pp_market_campaign_count (loaded), 3);
    assert_int_equal (pp_market_auction (loaded)->mode, PP_MODE_PING_TREE);
    assert_non_null (strstr (pp_vertical_spec_json (pp_market_vertical (loaded, "solar")),
                             "bot_threshold"));
    assert_non_null (strstr (pp_market_section (loaded, "blacklist"), "2001:db8::/32"));
    pp_market_unlink (&loaded);

    //  A second file upserts beside the first: objects it does not name stay
    s_store_ok (self->db, "{\"buyers\": [{\"name\": \"newcomer\"}],"
                          " \"publishers\": [{\"name\": \"acme-media\","
                          " \"api_key\": \"pk_rotated_0001\", \"payout\": {\"fixed\": 3}}]}");
    loaded = pp_market_load (self->db);
    assert_int_equal (pp_market_buyer_count (loaded), 3);
    assert_int_equal (pp_market_campaign_count (loaded), 3);
    assert_int_equal (pp_market_auction (loaded)->mode, PP_MODE_PING_TREE);
    char hash [65];
    pp_sha256_hex ("pk_rotated_0001", strlen ("pk_rotated_0001"), hash);
    pp_publisher_t *publisher = pp_market_publisher_by_key_hash (loaded, hash);
    assert_non_null (publisher);
    assert_string_equal (publisher->name, "acme-media");
    assert_int_equal (publisher->payout_fixed_cents, 300);
    pp_sha256_hex ("pk_full_acme_0001", strlen ("pk_full_acme_0001"), hash);
    assert_null (pp_market_publisher_by_key_hash (loaded, hash));
    pp_market_unlink (&loaded);
}

//  Pacing survives store and load (the campaign is stored whole)
static void
test_pp_market_store_load_pacing (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    char *text = s_with_campaign (
        ", \"caps\": [{\"count\": 10, \"per\": \"day\"},"
        " {\"amount\": 50, \"per\": \"day\", \"pacing\": \"even\"}]");
    s_store_ok (self->db, text);
    zstr_free (&text);
    pp_market_t *loaded = pp_market_load (self->db);
    assert_non_null (loaded);
    const pp_campaign_t *campaign = pp_market_campaign (loaded, "c1");
    assert_non_null (campaign);
    assert_int_equal (campaign->cap_count, 2);
    assert_false (campaign->caps [0].pacing_even);
    assert_true (campaign->caps [1].pacing_even);
    assert_int_equal (campaign->caps [1].amount_cents, 5000);
    pp_market_unlink (&loaded);
}

static void
test_pp_market_store_twice_changes_nothing (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    s_store_data (self->db, "market_full.json");
    char *before = s_snapshot (self->db);
    assert_true (strlen (before) > 0);
    s_store_data (self->db, "market_full.json");
    char *after = s_snapshot (self->db);
    assert_string_equal (before, after);

    //  A real change rewrites that row only
    char *text = s_read_data ("market_full.json", NULL);
    char *changed = strstr (text, "\"tier\": 2");
    assert_non_null (changed);
    changed [8] = '3';
    char *stamp = s_query (self->db, "SELECT updated_at::text FROM campaigns"
                                     " WHERE name = 'sunrise-fixed'");
    s_store_ok (self->db, text);
    free (text);
    char *stamp_after = s_query (self->db, "SELECT updated_at::text FROM campaigns"
                                           " WHERE name = 'sunrise-fixed'");
    assert_string_not_equal (stamp, stamp_after);
    assert_int_equal (s_query_long (self->db, "SELECT (spec->>'tier')::int FROM campaigns"
                                              " WHERE name = 'sunrise-fixed'"), 3);
    char *last = s_snapshot (self->db);
    assert_string_not_equal (after, last);
    long unchanged = s_query_long (self->db, "SELECT count(*) FROM campaigns"
                                             " WHERE name <> 'sunrise-fixed'"
                                             " AND updated_at < (SELECT updated_at FROM campaigns"
                                             " WHERE name = 'sunrise-fixed')");
    assert_int_equal (unchanged, 2);
    free (before);
    free (after);
    free (last);
    free (stamp);
    free (stamp_after);
}

static void
test_pp_market_store_moves_campaign (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    const char *first =
        "{\"verticals\": [{\"name\": \"v\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}],"
        " \"buyers\": [{\"name\": \"b1\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"v\","
        "   \"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\"}}]},"
        "  {\"name\": \"b2\"}]}";
    const char *second =
        "{\"buyers\": [{\"name\": \"b1\"}, {\"name\": \"b2\", \"campaigns\": [{\"name\": \"c\","
        "   \"vertical\": \"v\", \"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\"}}]}],"
        " \"verticals\": [{\"name\": \"v\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}]}";
    const char *sql = "SELECT b.name FROM campaigns c JOIN buyers b ON b.id = c.buyer_id"
                      " WHERE c.name = 'c'";
    s_store_ok (self->db, first);
    char *owner = s_query (self->db, sql);
    assert_string_equal (owner, "b1");
    free (owner);
    s_store_ok (self->db, second);
    owner = s_query (self->db, sql);
    assert_string_equal (owner, "b2");
    free (owner);
    pp_market_t *loaded = pp_market_load (self->db);
    assert_string_equal (pp_market_campaign (loaded, "c")->buyer->name, "b2");
    assert_int_equal (pp_market_campaign_count (loaded), 1);
    pp_market_unlink (&loaded);
}

//  Notifications from the storing session's backend within wait_ms.
static int
s_notifications (PGconn *listener, int backend, int wait_ms)
{
    int seen = 0;
    int64_t until = zclock_mono () + wait_ms;
    while (zclock_mono () < until) {
        assert_int_equal (PQconsumeInput (listener), 1);
        PGnotify *notify;
        while ((notify = PQnotifies (listener))) {
            if (streq (notify->relname, PP_MARKET_CHANNEL) && notify->be_pid == backend)
                seen++;
            PQfreemem (notify);
        }
        if (seen)
            break;
        zclock_sleep (10);
    }
    return seen;
}

static void
test_pp_market_store_notifies (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    pp_db_t *listener = pp_db_new (s_database_url ());
    assert_true (pp_db_ok (listener));
    assert_true (pp_db_listen (listener, PP_MARKET_CHANNEL) >= 0);
    int backend = PQbackendPID (pp_db_conn (self->db));
    assert_int_equal (s_notifications (pp_db_conn (listener), backend, 50), 0);
    s_store_data (self->db, "market_design.json");
    assert_int_equal (s_notifications (pp_db_conn (listener), backend, 2000), 1);
    pp_db_destroy (&listener);
}

//  A store that fails midway leaves the database as it was, and says nothing.
static void
test_pp_market_store_failure_rolls_back (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    s_store_ok (self->db, "{\"auction\": {\"floor\": 1},"
                          " \"publishers\": [{\"name\": \"p1\", \"api_key\": \"pk_shared_01\","
                          " \"payout\": {\"fixed\": 1}}]}");
    char *before = s_snapshot (self->db);

    pp_db_t *listener = pp_db_new (s_database_url ());
    assert_true (pp_db_listen (listener, PP_MARKET_CHANNEL) >= 0);
    const char *second =
        "{\"auction\": {\"floor\": 9},"
        " \"verticals\": [{\"name\": \"v2\", \"fields\": {}}],"
        " \"publishers\": [{\"name\": \"p0\", \"api_key\": \"pk_other_00\","
        "   \"payout\": {\"fixed\": 1}},"
        "  {\"name\": \"p2\", \"api_key\": \"pk_shared_01\", \"payout\": {\"fixed\": 2}}],"
        " \"buyers\": [{\"name\": \"b2\", \"campaigns\": [{\"name\": \"c2\", \"vertical\": \"v2\","
        "   \"bid\": {\"fixed\": 1}, \"post\": {\"url\": \"http://a\"}}]}],"
        " \"blacklist\": {\"names\": [\"x\"]}}";
    pp_market_t *market = s_parse_ok (second, strlen (second));     //  fine on its own
    assert_int_equal (pp_market_store (market, self->db), -1);
    pp_market_unlink (&market);

    //  Nothing of the second file, and the session is usable again
    assert_int_equal (s_query_long (self->db, "SELECT count(*) FROM verticals"), 0);
    assert_int_equal (s_query_long (self->db, "SELECT count(*) FROM publishers"
                                              " WHERE name IN ('p0', 'p2')"), 0);
    assert_int_equal (s_query_long (self->db, "SELECT count(*) FROM buyers"), 0);
    assert_int_equal (s_query_long (self->db, "SELECT count(*) FROM campaigns"), 0);
    assert_int_equal (s_query_long (self->db, "SELECT count(*) FROM market_sections"), 0);
    assert_int_equal (s_query_long (self->db, "SELECT (spec->>'floor')::int"
                                              " FROM auction_settings"), 1);
    char *after = s_snapshot (self->db);
    assert_string_equal (before, after);
    free (before);
    free (after);
    int backend = PQbackendPID (pp_db_conn (self->db));
    assert_int_equal (s_notifications (pp_db_conn (listener), backend, 200), 0);
    pp_db_destroy (&listener);

    //  And a good store works on the same session afterwards
    s_store_data (self->db, "market_design.json");
    assert_int_equal (s_query_long (self->db, "SELECT count(*) FROM campaigns"), 1);
}

//  Rows that do not parse (written by hand, or by an older program) are
//  skipped with a log line; the rest loads.
static void
test_pp_market_load_skips_bad_rows (void **state)
{
    s_dbstate_t *self = (s_dbstate_t *) *state;
    s_store_data (self->db, "market_design.json");
    assert_int_equal (pp_db_script (self->db, "bad rows",
        "INSERT INTO verticals (name, spec) VALUES"
        " ('broken', '{\"name\": \"broken\", \"fields\": {\"a\": {\"type\": \"blob\"}}}'),"
        " ('array', '[1, 2]');"
        "INSERT INTO buyers (name, spec) VALUES ('bx', '{\"name\": \"bx\"}');"
        "INSERT INTO campaigns (name, buyer_id, vertical, spec) SELECT 'on-broken', id, 'broken',"
        " '{\"name\": \"on-broken\", \"vertical\": \"broken\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://a\"}}' FROM buyers WHERE name = 'bx';"
        "INSERT INTO campaigns (name, buyer_id, vertical, spec) SELECT 'renamed', id, 'solar',"
        " '{\"name\": \"other\", \"vertical\": \"solar\", \"bid\": {\"fixed\": 1},"
        "   \"post\": {\"url\": \"http://a\"}}' FROM buyers WHERE name = 'bx';"
        "INSERT INTO publishers (name, api_key_hash, spec) VALUES"
        " ('nohash', 'xyz', '{\"name\": \"nohash\", \"payout\": {\"fixed\": 1}}');"
        "INSERT INTO market_sections (name, spec) VALUES ('blacklist', '{\"ips\": [\"nope\"]}');"
        "UPDATE auction_settings SET spec = '{\"mode\": \"sideways\"}'"), 0);
    pp_market_t *market = pp_market_load (self->db);
    assert_non_null (market);
    assert_int_equal (pp_market_vertical_count (market), 1);
    assert_non_null (pp_market_vertical (market, "solar"));
    assert_int_equal (pp_market_publisher_count (market), 1);
    assert_int_equal (pp_market_buyer_count (market), 2);
    assert_int_equal (pp_market_campaign_count (market), 1);
    assert_non_null (pp_market_campaign (market, "sunrise-west"));
    assert_null (pp_market_section (market, "blacklist"));
    //  Bad auction settings: defaults
    assert_int_equal (pp_market_auction (market)->floor_cents, 0);
    pp_market_unlink (&market);
}

int
main (void)
{
    srandom ((unsigned) (getpid () ^ time (NULL)));
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_market_design_parses),
        cmocka_unit_test (test_pp_market_full_parses),
        cmocka_unit_test (test_pp_market_defaults),
        cmocka_unit_test (test_pp_market_field_type_name),
        cmocka_unit_test (test_pp_market_refcount),
        cmocka_unit_test (test_pp_market_unknown_keys),
        cmocka_unit_test (test_pp_market_names),
        cmocka_unit_test (test_pp_market_money),
        cmocka_unit_test (test_pp_market_auction_rules),
        cmocka_unit_test (test_pp_market_vertical_rules),
        cmocka_unit_test (test_pp_market_publisher_rules),
        cmocka_unit_test (test_pp_market_campaign_rules),
        cmocka_unit_test (test_pp_market_filter_rules),
        cmocka_unit_test (test_pp_market_schedule_rules),
        cmocka_unit_test (test_pp_market_caps_rules),
        cmocka_unit_test (test_pp_market_caps_pacing),
        cmocka_unit_test (test_pp_market_blacklist_rules),
        cmocka_unit_test (test_pp_market_many_errors),
        cmocka_unit_test (test_pp_market_garbage),
        cmocka_unit_test (test_pp_market_error_cap),
        cmocka_unit_test (test_pp_market_large_zips),
        cmocka_unit_test_setup_teardown (test_pp_market_load_empty, s_db_setup, s_db_teardown),
        cmocka_unit_test_setup_teardown (test_pp_market_store_load_round_trip, s_db_setup,
                                         s_db_teardown),
        cmocka_unit_test_setup_teardown (test_pp_market_store_load_round_trip_full, s_db_setup,
                                         s_db_teardown),
        cmocka_unit_test_setup_teardown (test_pp_market_store_load_pacing, s_db_setup,
                                         s_db_teardown),
        cmocka_unit_test_setup_teardown (test_pp_market_store_twice_changes_nothing, s_db_setup,
                                         s_db_teardown),
        cmocka_unit_test_setup_teardown (test_pp_market_store_moves_campaign, s_db_setup,
                                         s_db_teardown),
        cmocka_unit_test_setup_teardown (test_pp_market_store_notifies, s_db_setup,
                                         s_db_teardown),
        cmocka_unit_test_setup_teardown (test_pp_market_store_failure_rolls_back, s_db_setup,
                                         s_db_teardown),
        cmocka_unit_test_setup_teardown (test_pp_market_load_skips_bad_rows, s_db_setup,
                                         s_db_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
