/*  fuzz_market - libFuzzer target: a marketplace file through pp_market_parse  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  The input is the file `pingpost apply` reads. A bad file must give at
//  least one problem, each with a path and a message, and no market; a good
//  one a market whose parts hang together: every campaign has its buyer and
//  vertical, names find what they name, stored JSON texts parse, and an
//  empty lead misses exactly the vertical's required fields.
//  Failures abort (assert): libFuzzer saves the input.

#include <czmq.h>
#include "pp_json.h"
#include "pp_market.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    //  zsys_init first, so the handlers libFuzzer installs afterwards win
    zsys_init ();
    if (!getenv ("PP_FUZZ_VERBOSE"))
        zsys_set_logstream (NULL);
    return 0;
}

static void
s_is_json_object (const char *text)
{
    assert (text);
    cJSON *json = cJSON_Parse (text);
    assert (cJSON_IsObject (json));
    cJSON_Delete (json);
}

static void
s_check_vertical (const pp_market_t *market, const pp_vertical_t *vertical)
{
    assert (vertical->name && *vertical->name);
    assert (pp_market_vertical (market, vertical->name) == vertical);
    s_is_json_object (pp_vertical_spec_json (vertical));
    int required = 0;
    for (size_t i = 0; i < vertical->field_count; i++) {
        const pp_field_spec_t *spec = &vertical->fields[i];
        assert (spec->name && pp_field_type_name (spec->type));
        assert (pp_vertical_field (vertical, spec->name) == spec);
        assert (spec->type != PP_FT_ENUM || spec->value_count > 0);
        for (size_t j = 0; j < spec->value_count; j++)
            assert (spec->values[j]);
        if (spec->required)
            required++;
    }
    for (size_t i = 0; i < vertical->dedupe_count; i++)
        assert (vertical->dedupe_fields[i]);
    pp_fields_t *empty = pp_fields_new ();
    assert (pp_json_check_structure (vertical, empty, NULL, NULL) == required);
    pp_fields_destroy (&empty);
}

static void
s_check_campaign (const pp_market_t *market, const pp_campaign_t *campaign)
{
    assert (campaign->name && pp_market_campaign (market, campaign->name) == campaign);
    assert (campaign->buyer && campaign->vertical);
    assert (pp_market_vertical (market, campaign->vertical->name) == campaign->vertical);
    assert (campaign->bid_kind == PP_BID_FIXED || campaign->ping_url);
    assert (campaign->post_url);
    s_is_json_object (campaign->spec_json);
    for (size_t i = 0; i < campaign->mapping_count; i++)
        assert (campaign->mapping[i].key && campaign->mapping[i].value);
    for (size_t i = 0; i < campaign->constant_count; i++) {
        assert (campaign->constants[i].key && campaign->constants[i].value);
        cJSON *constant = cJSON_Parse (campaign->constants[i].value);
        assert (constant);
        cJSON_Delete (constant);
    }
    for (size_t i = 0; i < campaign->rule_count; i++)
        assert (campaign->rules[i].field);
    for (int day = 0; day < 7; day++)
        for (size_t i = 0; i < campaign->window_count[day]; i++) {
            const pp_window_t *window = &campaign->windows[day][i];
            assert (window->start_min >= 0 && window->start_min < window->end_min &&
                    window->end_min <= 1440);
        }
    for (size_t i = 0; i < campaign->cap_count; i++)
        assert (campaign->caps[i].per);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    pp_market_error_t *errors = NULL;
    size_t error_count = 0;
    pp_market_t *market = pp_market_parse ((const char *) data, size, &errors, &error_count);
    if (!market) {
        assert (errors && error_count > 0);
        for (size_t i = 0; i < error_count; i++)
            assert (errors[i].path && errors[i].message && *errors[i].message);
        pp_market_errors_free (&errors, error_count);
        return 0;
    }
    assert (!errors && error_count == 0);
    const pp_auction_t *auction = pp_market_auction (market);
    assert (auction->mode == PP_MODE_AUCTION || auction->mode == PP_MODE_PING_TREE);
    assert (auction->pricing == PP_PRICING_FIRST || auction->pricing == PP_PRICING_SECOND);
    for (size_t i = 0; i < pp_market_vertical_count (market); i++)
        s_check_vertical (market, pp_market_vertical_at (market, i));
    for (size_t i = 0; i < pp_market_publisher_count (market); i++) {
        pp_publisher_t *publisher = pp_market_publisher_at (market, i);
        assert (publisher->name && strlen (publisher->api_key_hash) == 64);
        assert (pp_market_publisher_by_key_hash (market, publisher->api_key_hash));
    }
    for (size_t i = 0; i < pp_market_buyer_count (market); i++)
        assert (pp_market_buyer_at (market, i)->name);
    for (size_t i = 0; i < pp_market_campaign_count (market); i++)
        s_check_campaign (market, pp_market_campaign_at (market, i));
    const char *blacklist = pp_market_section (market, "blacklist");
    if (blacklist)
        s_is_json_object (blacklist);

    pp_market_t *link = pp_market_link (market);
    pp_market_unlink (&link);
    assert (!link);
    pp_market_unlink (&market);
    return 0;
}
