/*  pp_market - the marketplace: parse and validate the file of DESIGN section 6, store it, load it  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_MARKET_H_INCLUDED
#define PP_MARKET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pp_db.h"

#define PP_MARKET_CHANNEL "pingpost_config"     //  NOTIFY channel after apply

typedef enum {
    PP_FT_STRING = 1,
    PP_FT_INTEGER,
    PP_FT_NUMBER,
    PP_FT_BOOLEAN,
    PP_FT_ENUM,
    PP_FT_EMAIL,
    PP_FT_PHONE,
    PP_FT_ZIP,
    PP_FT_STATE,
    PP_FT_DATE
} pp_field_type_t;

//  "string", "integer"...; NULL for an unknown value.
const char *
    pp_field_type_name (int type);

typedef struct {
    char *name;                 //  field name
    pp_field_type_t type;       //  its type
    bool pii;                   //  personal: never in pings, logs or analyst tables
    bool required;              //  must be present
    int max_length;             //  strings: longest in characters, 0 = no limit
    bool has_min;               //  numbers: min applies
    bool has_max;               //  numbers: max applies
    double min;                 //  inclusive
    double max;                 //  inclusive
    char **values;              //  enum values
    size_t value_count;         //  number of enum values
} pp_field_spec_t;

typedef struct {
    uint32_t id;                //  verticals.id (0 before stored)
    char *name;                 //  "solar"
    pp_field_spec_t *fields;    //  schema, in file order
    size_t field_count;         //  entries in fields
    char **dedupe_fields;       //  fields whose normalised values make the fingerprint
    size_t dedupe_count;        //  entries in dedupe_fields (0 = no dedupe)
    int dedupe_days;            //  window
    bool consent_required;      //  consent.tcpa true and consent.text non-empty
} pp_vertical_t;

typedef enum { PP_PAYOUT_REVSHARE = 1, PP_PAYOUT_FIXED } pp_payout_kind_t;

typedef struct {
    uint32_t id;                //  publishers.id
    char *name;                 //  "acme-media"
    char api_key_hash [65];     //  hex SHA-256 of the key
    pp_payout_kind_t payout_kind;   //  revshare or fixed
    int revshare_percent;       //  0..100
    int64_t payout_fixed_cents; //  fixed payout
    int rate_limit_per_second;  //  0 = unlimited
} pp_publisher_t;

typedef struct {
    uint32_t id;                //  buyers.id
    char *name;                 //  "sunrise-solar"
} pp_buyer_t;

typedef enum { PP_BID_FIXED = 1, PP_BID_PING } pp_bid_kind_t;
typedef enum { PP_POST_JSON = 1, PP_POST_FORM } pp_post_format_t;

//  A name -> value pair of a mapping or constants (value is a field name for
//  mappings, JSON text for constants).
typedef struct {
    char *key;                  //  target name in the buyer's payload ("a/b" nests in JSON)
    char *value;                //  source field name, or the constant's JSON text
} pp_pair_t;

//  One field rule of a campaign filter.
typedef struct {
    char *field;                //  lead field
    bool has_min;               //  min applies
    bool has_max;               //  max applies
    double min;                 //  inclusive
    double max;                 //  inclusive
    char **in;                  //  allowed values (as text)
    size_t in_count;            //  0 = no "in" rule
    char **not_in;              //  forbidden values (as text)
    size_t not_in_count;        //  0 = no "not_in" rule
    char *equals;               //  JSON text of the required value, or NULL
    int exists;                 //  -1 = no rule, 0 = must be absent, 1 = must be present
} pp_field_rule_t;

//  One opening window of a day, in minutes from local midnight.
typedef struct {
    int start_min;              //  first minute open
    int end_min;                //  first minute closed (1440 = midnight)
} pp_window_t;

typedef struct {
    int count;                  //  leads, 0 = none
    int64_t amount_cents;       //  money, 0 = none
    char *per;                  //  "hour", "day", "week", "month", "total"
    bool pacing_even;           //  "pacing": "even" (per day only): the day's limit spread
                                //  evenly over the campaign's open minutes of the day
} pp_cap_t;

typedef struct {
    uint32_t id;                //  campaigns.id
    char *name;                 //  "sunrise-west"
    pp_buyer_t *buyer;          //  Not owned: the market's buyer
    pp_vertical_t *vertical;    //  Not owned: the market's vertical
    int tier;                   //  1 first
    bool exclusive;             //  buys exclusively
    pp_bid_kind_t bid_kind;     //  fixed or ping
    int64_t bid_fixed_cents;    //  fixed bid
    char *ping_url;             //  ping bid URL
    int ping_timeout_ms;        //  ping timeout
    char *price_pointer;        //  JSON pointer to the bid in the ping answer, default "/bid"
    char *accept_pointer;       //  optional JSON pointer that must be true to bid
    char *id_pointer;           //  JSON pointer to the buyer's bid id, default "/id"
    int circuit_failures;       //  failed pings in a row that pause the campaign, default 5
    int circuit_cooldown_ms;    //  how long it stays paused, default 30000
    char *post_url;             //  where the full lead goes
    int post_timeout_ms;        //  post timeout
    pp_post_format_t post_format;   //  json or form
    pp_pair_t *mapping;         //  renames; none = default post protocol
    size_t mapping_count;       //  entries in mapping
    pp_pair_t *constants;       //  constants added to the post
    size_t constant_count;      //  entries in constants
    char *accepted_pointer;     //  accepted_when.pointer, or NULL (default rule)
    char *accepted_equals;      //  accepted_when.equals as JSON text, or NULL
    char *accepted_contains;    //  accepted_when.contains, or NULL
    char *accepted_regex;       //  accepted_when.regex, or NULL
    char **states;              //  allowed states, none = all
    size_t state_count;         //  entries in states
    char **zips;                //  allowed ZIPs, none = all
    size_t zip_count;           //  entries in zips
    pp_field_rule_t *rules;     //  field rules
    size_t rule_count;          //  entries in rules
    char radius_zip [6];        //  zip_radius centre, "" = no radius filter
    double radius_miles;        //  zip_radius distance
    char **publishers_allow;    //  publisher names allowed, none = all
    size_t publishers_allow_count;  //  entries in publishers_allow
    char **publishers_deny;     //  publisher names refused
    size_t publishers_deny_count;   //  entries in publishers_deny
    char **sources_allow;       //  sources allowed, none = all
    size_t sources_allow_count; //  entries in sources_allow
    char **sources_deny;        //  sources refused
    size_t sources_deny_count;  //  entries in sources_deny
    char *schedule_json;        //  the "schedule" object as JSON text, or NULL
    char *time_zone;            //  schedule.time_zone (caps count in it), or NULL = UTC
    bool has_hours;             //  schedule.hours given: closed outside the windows
    pp_window_t *windows [7];   //  opening windows per weekday, 0 = Sunday (as tm_wday)
    size_t window_count [7];    //  entries per weekday
    char **holidays;            //  closed dates, "YYYY-MM-DD" in the campaign's zone
    size_t holiday_count;       //  entries in holidays
    pp_cap_t *caps;             //  caps
    size_t cap_count;           //  entries in caps
    char *spec_json;            //  the whole campaign object as JSON text
} pp_campaign_t;

typedef enum { PP_MODE_AUCTION = 1, PP_MODE_PING_TREE } pp_auction_mode_t;
typedef enum { PP_PRICING_FIRST = 1, PP_PRICING_SECOND } pp_pricing_t;

typedef struct {
    pp_auction_mode_t mode;     //  auction or ping_tree
    pp_pricing_t pricing;       //  first or second
    int64_t floor_cents;        //  bids under it are dropped
    int max_sales;              //  1 exclusive, N shared
    int timeout_ms;             //  default lead deadline
} pp_auction_t;

typedef struct pp_market pp_market_t;

//  One problem found in a marketplace file.
typedef struct {
    char *path;                 //  JSON path, e.g. "$.buyers[0].campaigns[1].bid.fixed"
    char *message;              //  what is wrong
} pp_market_error_t;

//  Parse and validate a marketplace file's JSON text. On success returns the
//  market (ids 0) and *errors_p is NULL. On failure returns NULL and sets
//  *errors_p / *error_count_p to every problem found (free with
//  pp_market_errors_free). API keys are hashed on parse.
pp_market_t *
    pp_market_parse (const char *json_text, size_t size, pp_market_error_t **errors_p,
                     size_t *error_count_p);
void
    pp_market_errors_free (pp_market_error_t **errors_p, size_t count);
//  Store a parsed market in one transaction (upsert by name), then NOTIFY
//  PP_MARKET_CHANNEL. Applying the same file twice changes no row. 0 or -1.
int PP_MUSTCHECK
    pp_market_store (pp_market_t *self, pp_db_t *db);
//  Load the stored market (with ids), or NULL on a database failure (logged).
//  An empty database gives an empty market with default auction settings.
pp_market_t *
    pp_market_load (pp_db_t *db);

//  Reference counting: a market is shared read-only between threads and
//  leads in flight. new/parse/load return one reference.
pp_market_t *
    pp_market_link (pp_market_t *self);
void
    pp_market_unlink (pp_market_t **self_p);

const pp_auction_t *
    pp_market_auction (const pp_market_t *self);
size_t
    pp_market_vertical_count (const pp_market_t *self);
pp_vertical_t *
    pp_market_vertical_at (const pp_market_t *self, size_t i);
pp_vertical_t *
    pp_market_vertical (const pp_market_t *self, const char *name);
//  Field spec of a vertical by name, or NULL.
const pp_field_spec_t *
    pp_vertical_field (const pp_vertical_t *vertical, const char *name);
size_t
    pp_market_publisher_count (const pp_market_t *self);
pp_publisher_t *
    pp_market_publisher_at (const pp_market_t *self, size_t i);
//  Publisher by the hex SHA-256 of its API key, or NULL.
pp_publisher_t *
    pp_market_publisher_by_key_hash (const pp_market_t *self, const char *hash_hex);
pp_publisher_t *
    pp_market_publisher_by_id (const pp_market_t *self, uint32_t id);
size_t
    pp_market_buyer_count (const pp_market_t *self);
pp_buyer_t *
    pp_market_buyer_at (const pp_market_t *self, size_t i);
size_t
    pp_market_campaign_count (const pp_market_t *self);
pp_campaign_t *
    pp_market_campaign_at (const pp_market_t *self, size_t i);
pp_campaign_t *
    pp_market_campaign_by_id (const pp_market_t *self, uint32_t id);
pp_campaign_t *
    pp_market_campaign (const pp_market_t *self, const char *name);
//  The whole vertical object as JSON text (with the keys the struct does not
//  carry: min_form_seconds, bot_threshold). Borrowed; vertical must come from
//  a market.
const char *
    pp_vertical_spec_json (const pp_vertical_t *vertical);
//  JSON text of a top-level section stored whole ("blacklist"), or NULL when
//  the market has none. Borrowed.
const char *
    pp_market_section (const pp_market_t *self, const char *name);

#endif
