/*  filter_server - which campaigns may see a lead: vertical, geography, field rules, schedules, caps  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "filter_server.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_stage.h"
#include "pp_util.h"

#include <math.h>
#include <time.h>

#define S_ZIP_BITMAP (100000 / 8)       //  one bit per 5-digit ZIP
#define S_CAPS_REFRESH_MS 1000          //  cached cap counters are re-read this often

//  --------------------------------------------------------------------------
//  Local time in a zone. The C library reads the system tz database; the
//  offset of a zone is cached until the next half hour (UTC), since every
//  zone changes offset only at such instants.

typedef struct {
    char zone [64];             //  IANA name
    int64_t valid_until_us;     //  offset good until then
    long offset_s;              //  local = UTC + offset
    bool known;                 //  the zone exists
} s_zone_t;

#define S_ZONES 64
static s_zone_t s_zones [S_ZONES];

static s_zone_t *
s_zone (const char *name, int64_t now_us)
{
    size_t slot = 0;
    for (size_t i = 0; i < S_ZONES; i++) {
        if (streq (s_zones [i].zone, name)) {
            slot = i;
            break;
        }
        if (s_zones [i].zone [0] == 0 || s_zones [i].valid_until_us < s_zones [slot].valid_until_us)
            slot = i;
    }
    s_zone_t *zone = &s_zones [slot];
    if (streq (zone->zone, name) && now_us < zone->valid_until_us
        && now_us >= zone->valid_until_us - 1800LL * 1000000)
        return zone;            //  the same half hour: an earlier one may have another offset
    snprintf (zone->zone, sizeof zone->zone, "%s", name);
    char path [128];
    snprintf (path, sizeof path, "/usr/share/zoneinfo/%s", name);
    zone->known = strstr (name, "..") == NULL && access (path, R_OK) == 0;
    zone->offset_s = 0;
    if (zone->known) {
        //  filter is single-threaded where it reads the clock: switching TZ
        //  here is safe (no other thread of ours calls localtime)
        char *saved = getenv ("TZ") ? strdup (getenv ("TZ")) : NULL;
        setenv ("TZ", name, 1);
        tzset ();
        time_t secs = (time_t) (now_us / 1000000);
        struct tm tm;
        localtime_r (&secs, &tm);
        zone->offset_s = tm.tm_gmtoff;
        if (saved) {
            setenv ("TZ", saved, 1);
            free (saved);
        }
        else
            unsetenv ("TZ");
        tzset ();
    }
    int64_t half_hour = 1800LL * 1000000;
    zone->valid_until_us = (now_us / half_hour + 1) * half_hour;
    return zone;
}

int
filter_local_time (const char *zone_name, int64_t now_us, int *wday, int *minute, char *date)
{
    s_zone_t *zone = s_zone (zone_name ? zone_name : "UTC", now_us);
    if (!zone->known)
        return -1;
    time_t local = (time_t) (now_us / 1000000 + zone->offset_s);
    struct tm tm;
    gmtime_r (&local, &tm);
    *wday = tm.tm_wday;
    *minute = tm.tm_hour * 60 + tm.tm_min;
    if (date)
        strftime (date, 11, "%Y-%m-%d", &tm);
    return 0;
}

//  --------------------------------------------------------------------------
//  The index

typedef struct {
    const pp_campaign_t *campaign;  //  Not owned: the market's
    uint8_t *zips;              //  ZIP list as a bitmap, or NULL
    uint8_t *radius;            //  ZIPs within the radius as a bitmap, or NULL
    bool full;                  //  cached cap counters reached a limit
} s_entry_t;

//  The campaigns of one vertical.
typedef struct {
    const char *name;           //  Not owned: the vertical's name
    s_entry_t **by_state [PP_STATE_COUNT];  //  campaigns naming each state
    size_t by_state_count [PP_STATE_COUNT]; //  entries per state
    s_entry_t **any_state;      //  campaigns without a state filter
    size_t any_state_count;     //  entries in any_state
    s_entry_t **all;            //  every campaign of the vertical
    size_t all_count;           //  entries in all
} s_vertical_t;

struct filter_index {
    pp_market_t *market;        //  a reference
    s_entry_t *entries;         //  one per campaign, in market order
    size_t entry_count;         //  entries
    s_vertical_t *verticals;    //  one per vertical of the market
    size_t vertical_count;      //  entries
};

static void
s_push (s_entry_t ***list, size_t *count, s_entry_t *entry)
{
    *list = (s_entry_t **) realloc (*list, (*count + 1) * sizeof (s_entry_t *));
    assert (*list);
    (*list) [(*count)++] = entry;
}

static bool
s_bit (const uint8_t *bitmap, int n)
{
    return (bitmap [n / 8] >> (n % 8)) & 1;
}

static int
s_zip_number (const char *zip)
{
    if (!zip || strlen (zip) != 5 || strspn (zip, "0123456789") != 5)
        return -1;
    return atoi (zip);
}

filter_index_t *
filter_index_new (pp_market_t *market, const pp_zip_t *zip)
{
    assert (market);
    filter_index_t *self = (filter_index_t *) zmalloc (sizeof (filter_index_t));
    self->market = pp_market_link (market);
    self->entry_count = pp_market_campaign_count (market);
    self->entries = (s_entry_t *) calloc (self->entry_count ? self->entry_count : 1,
                                          sizeof (s_entry_t));
    self->vertical_count = pp_market_vertical_count (market);
    self->verticals = (s_vertical_t *) calloc (self->vertical_count ? self->vertical_count : 1,
                                               sizeof (s_vertical_t));
    assert (self->entries && self->verticals);
    for (size_t v = 0; v < self->vertical_count; v++)
        self->verticals [v].name = pp_market_vertical_at (market, v)->name;
    for (size_t i = 0; i < self->entry_count; i++) {
        s_entry_t *entry = &self->entries [i];
        const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
        entry->campaign = campaign;
        if (campaign->zip_count) {
            entry->zips = (uint8_t *) zmalloc (S_ZIP_BITMAP);
            for (size_t z = 0; z < campaign->zip_count; z++) {
                int n = s_zip_number (campaign->zips [z]);
                if (n >= 0)
                    entry->zips [n / 8] |= (uint8_t) (1u << (n % 8));
            }
        }
        if (campaign->radius_zip [0]) {
            entry->radius = (uint8_t *) zmalloc (S_ZIP_BITMAP);
            if (!zip || pp_zip_within (zip, campaign->radius_zip, campaign->radius_miles,
                                       entry->radius) == 0)
                zsys_warning ("filter: campaign %s: radius centre %s unknown, it matches no lead",
                              campaign->name, campaign->radius_zip);
        }
        s_vertical_t *vertical = NULL;
        for (size_t v = 0; v < self->vertical_count; v++)
            if (campaign->vertical && streq (self->verticals [v].name, campaign->vertical->name))
                vertical = &self->verticals [v];
        if (!vertical)
            continue;
        s_push (&vertical->all, &vertical->all_count, entry);
        if (campaign->state_count == 0)
            s_push (&vertical->any_state, &vertical->any_state_count, entry);
        else
            for (size_t k = 0; k < campaign->state_count; k++) {
                int state = pp_state_index (campaign->states [k]);
                size_t count = state >= 0 ? vertical->by_state_count [state] : 0;
                //  A state named twice lists the campaign once
                if (state >= 0 && (count == 0 || vertical->by_state [state] [count - 1] != entry))
                    s_push (&vertical->by_state [state], &vertical->by_state_count [state], entry);
            }
    }
    return self;
}

void
filter_index_destroy (filter_index_t **self_p)
{
    assert (self_p);
    filter_index_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->entry_count; i++) {
        free (self->entries [i].zips);
        free (self->entries [i].radius);
    }
    for (size_t v = 0; v < self->vertical_count; v++) {
        for (int k = 0; k < PP_STATE_COUNT; k++)
            free (self->verticals [v].by_state [k]);
        free (self->verticals [v].any_state);
        free (self->verticals [v].all);
    }
    free (self->verticals);
    free (self->entries);
    pp_market_unlink (&self->market);
    free (self);
    *self_p = NULL;
}

void
filter_index_set_full (filter_index_t *self, uint32_t campaign_id, bool full)
{
    assert (self);
    for (size_t i = 0; i < self->entry_count; i++)
        if (self->entries [i].campaign->id == campaign_id)
            self->entries [i].full = full;
}

void
filter_index_clear_full (filter_index_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->entry_count; i++)
        self->entries [i].full = false;
}

//  --------------------------------------------------------------------------
//  The rules of one campaign

static bool
s_listed (const char *value, char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (streq (value, list [i]))
            return true;
    return false;
}

//  Allowed by an allow/deny pair: on the allow list when there is one, and
//  not on the deny list.
static bool
s_allowed (const char *value, char *const *allow, size_t allow_count, char *const *deny,
           size_t deny_count)
{
    if (allow_count && !s_listed (value, allow, allow_count))
        return false;
    return !(deny_count && s_listed (value, deny, deny_count));
}

//  A scalar field value as text for in / not_in comparisons, written the
//  way the market writes its lists (shortest form that reads back the same).
static const char *
s_value_text (const pp_value_t *value, char *buf, size_t size)
{
    switch (value->type) {
        case PP_VALUE_STR: return value->s;
        case PP_VALUE_INT:
        case PP_VALUE_NUM: {
            //  The market writes its lists' numbers the same way
            cJSON number = {0};
            number.type = cJSON_Number;
            number.valuedouble = value->type == PP_VALUE_INT ? (double) value->i : value->n;
            return pp_json_scalar_text (&number, buf, size);
        }
        case PP_VALUE_BOOL: return value->b ? "true" : "false";
        default: return NULL;
    }
}

static bool
s_rule_ok (const pp_field_rule_t *rule, const pp_value_t *value)
{
    bool present = value && value->type != PP_VALUE_NIL;
    if (rule->exists == 1 && !present)
        return false;
    if (rule->exists == 0 && present)
        return false;
    if (!present)
        //  Any other rule needs a value to hold
        return !(rule->has_min || rule->has_max || rule->in_count || rule->equals);
    if (rule->has_min || rule->has_max) {
        double number;
        if (value->type == PP_VALUE_INT)
            number = (double) value->i;
        else
        if (value->type == PP_VALUE_NUM)
            number = value->n;
        else
            return false;
        if ((rule->has_min && number < rule->min) || (rule->has_max && number > rule->max))
            return false;
    }
    char buf [40];
    const char *text = s_value_text (value, buf, sizeof buf);
    if (rule->in_count && (!text || !s_listed (text, rule->in, rule->in_count)))
        return false;
    if (rule->not_in_count && text && s_listed (text, rule->not_in, rule->not_in_count))
        return false;
    if (rule->equals) {
        cJSON *expected = cJSON_Parse (rule->equals);
        cJSON *actual = value->type == PP_VALUE_INT ? cJSON_CreateNumber ((double) value->i)
                                                    : pp_json_from_value (value);
        bool same = expected && actual && cJSON_Compare (expected, actual, true);
        cJSON_Delete (expected);
        cJSON_Delete (actual);
        if (!same)
            return false;
    }
    return true;
}

//  Open at now_us by its schedule (no schedule: always open).
static const char *
s_schedule (const pp_campaign_t *campaign, int64_t now_us)
{
    if (!campaign->has_hours && campaign->holiday_count == 0)
        return NULL;
    int wday, minute;
    char date [11];
    if (filter_local_time (campaign->time_zone, now_us, &wday, &minute, date))
        return "schedule";      //  zone vanished from the system: closed, not guessed
    if (s_listed (date, campaign->holidays, campaign->holiday_count))
        return "holiday";
    if (!campaign->has_hours)
        return NULL;
    for (size_t i = 0; i < campaign->window_count [wday]; i++) {
        const pp_window_t *window = &campaign->windows [wday] [i];
        if (minute >= window->start_min && minute < window->end_min)
            return NULL;
    }
    return "schedule";
}

//  The rules of one indexed campaign, cheapest first.
static const char *
s_exclusion (const s_entry_t *entry, pp_lead_t *lead, int64_t now_us, char *buf, size_t size)
{
    const pp_campaign_t *campaign = entry->campaign;
    if (!campaign->vertical || !streq (campaign->vertical->name, pp_lead_vertical (lead)))
        return "vertical";
    pp_fields_t *fields = pp_lead_fields (lead);
    if (campaign->state_count) {
        const char *state = pp_fields_str (fields, "state");
        if (!state || !s_listed (state, campaign->states, campaign->state_count))
            return "state";
    }
    if (entry->zips || entry->radius) {
        int zip = s_zip_number (pp_fields_str (fields, "zip"));
        if (entry->zips && (zip < 0 || !s_bit (entry->zips, zip)))
            return "zip";
        if (entry->radius && (zip < 0 || !s_bit (entry->radius, zip)))
            return "zip_radius";
    }
    if (!s_allowed (pp_lead_publisher (lead), campaign->publishers_allow,
                    campaign->publishers_allow_count, campaign->publishers_deny,
                    campaign->publishers_deny_count))
        return "publisher";
    if (!s_allowed (pp_lead_source (lead), campaign->sources_allow, campaign->sources_allow_count,
                    campaign->sources_deny, campaign->sources_deny_count))
        return "source";
    for (size_t i = 0; i < campaign->rule_count; i++) {
        const pp_field_rule_t *rule = &campaign->rules [i];
        if (!s_rule_ok (rule, pp_fields_get (fields, rule->field))) {
            snprintf (buf, size, "field:%s", rule->field);
            return buf;
        }
    }
    const char *closed = s_schedule (campaign, now_us);
    if (closed)
        return closed;
    if (entry->full)
        return "cap";
    return NULL;
}

const char *
filter_exclusion (filter_index_t *self, const pp_campaign_t *campaign, pp_lead_t *lead,
                  int64_t now_us, char *buf, size_t size)
{
    assert (self && campaign && lead);
    for (size_t i = 0; i < self->entry_count; i++)
        if (self->entries [i].campaign == campaign)
            return s_exclusion (&self->entries [i], lead, now_us, buf, size);
    //  Not of this index's market: judge it without a bitmap
    s_entry_t entry = {campaign, NULL, NULL, false};
    return s_exclusion (&entry, lead, now_us, buf, size);
}

size_t
filter_index_match (filter_index_t *self, pp_lead_t *lead, int64_t now_us, cJSON *excluded)
{
    assert (self && lead);
    s_vertical_t *vertical = NULL;
    for (size_t v = 0; v < self->vertical_count; v++)
        if (streq (self->verticals [v].name, pp_lead_vertical (lead)))
            vertical = &self->verticals [v];
    if (!vertical)
        return 0;
    size_t count = 0;
    char buf [96];
    if (excluded) {
        //  Explaining every exclusion means looking at every campaign of
        //  the vertical (still not at other verticals)
        for (size_t i = 0; i < vertical->all_count; i++) {
            const char *why = s_exclusion (vertical->all [i], lead, now_us, buf, sizeof buf);
            if (why)
                cJSON_AddStringToObject (excluded, vertical->all [i]->campaign->name, why);
            else {
                pp_lead_add_eligible (lead, vertical->all [i]->campaign->id);
                count++;
            }
        }
        return count;
    }
    int state = pp_state_index (pp_fields_str (pp_lead_fields (lead), "state"));
    for (int pass = 0; pass < 2; pass++) {
        s_entry_t **list = pass == 0 ? vertical->any_state
                                     : (state >= 0 ? vertical->by_state [state] : NULL);
        size_t size = pass == 0 ? vertical->any_state_count
                                : (state >= 0 ? vertical->by_state_count [state] : 0);
        for (size_t i = 0; i < size; i++)
            if (!s_exclusion (list [i], lead, now_us, buf, sizeof buf)) {
                pp_lead_add_eligible (lead, list [i]->campaign->id);
                count++;
            }
    }
    return count;
}

//  --------------------------------------------------------------------------
//  The stage

struct filter_server {
    pp_stage_t *stage;          //  the shared runtime
    pp_zip_t *zip;              //  the ZIP table (radius filters), or NULL
    filter_index_t *index;      //  index of the current market
};

//  Cached cap counters: a campaign whose counters of the current periods
//  reached a count limit, or an amount limit its fixed bid cannot fit under,
//  is skipped until they change. Deliver's reservation stays the exact check.
static int
s_refresh_caps (zloop_t *loop, int timer_id, void *arg)
{
    filter_server_t *self = (filter_server_t *) arg;
    pp_market_t *market = pp_stage_market (self->stage);
    //  Array literals "{1,2}" and "{\"UTC\",...}": room for the braces and
    //  the terminator from the start
    size_t size = 16, used_ids = 1, used_zones = 1;
    char *ids = (char *) malloc (size), *zones = (char *) malloc (size);
    assert (ids && zones);
    strcpy (ids, "{");
    strcpy (zones, "{");
    bool any = false;
    //  One pass clears the flags (a lookup per campaign was quadratic in
    //  the campaigns, every second)
    filter_index_clear_full (self->index);
    for (size_t i = 0; i < pp_market_campaign_count (market); i++) {
        const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
        if (campaign->cap_count == 0)
            continue;
        const char *zone = campaign->time_zone ? campaign->time_zone : "UTC";
        size += strlen (zone) + 24;
        ids = (char *) realloc (ids, size);
        zones = (char *) realloc (zones, size);
        assert (ids && zones);
        used_ids += (size_t) sprintf (ids + used_ids, "%s%u", any ? "," : "", campaign->id);
        used_zones += (size_t) sprintf (zones + used_zones, "%s\"%s\"", any ? "," : "", zone);
        any = true;
    }
    strcat (ids, "}");
    strcat (zones, "}");
    if (any) {
        const char *params [] = {ids, zones};
        PGresult *result = pp_db_exec (
            pp_stage_db (self->stage), "cap counters",
            "SELECT c.campaign_id, c.per, c.count, c.amount_cents"
            " FROM unnest ($1::int[], $2::text[]) AS z (campaign_id, tz)"
            " JOIN cap_counters c ON c.campaign_id = z.campaign_id"
            "  AND c.period_start = pp_period_start (c.per, now (), z.tz)",
            2, params);
        for (int row = 0; result && row < PQntuples (result); row++) {
            const pp_campaign_t *campaign
                = pp_market_campaign_by_id (market, (uint32_t) atol (PQgetvalue (result, row, 0)));
            if (!campaign)
                continue;
            const char *per = PQgetvalue (result, row, 1);
            long long count = atoll (PQgetvalue (result, row, 2));
            long long amount = atoll (PQgetvalue (result, row, 3));
            for (size_t k = 0; k < campaign->cap_count; k++) {
                const pp_cap_t *cap = &campaign->caps [k];
                if (!cap->per || !streq (cap->per, per))
                    continue;
                bool full = (cap->count > 0 && count >= cap->count)
                            || (cap->amount_cents > 0
                                && (amount >= cap->amount_cents
                                    || (campaign->bid_kind == PP_BID_FIXED
                                        && amount + campaign->bid_fixed_cents > cap->amount_cents)));
                if (full)
                    filter_index_set_full (self->index, campaign->id, true);
            }
        }
        PQclear (result);
    }
    free (ids);
    free (zones);
    return 0;
}

static void
s_on_market (pp_stage_t *stage, pp_market_t *market, void *arg)
{
    filter_server_t *self = (filter_server_t *) arg;
    filter_index_t *index = filter_index_new (market, self->zip);
    filter_index_destroy (&self->index);
    self->index = index;
    s_refresh_caps (NULL, 0, self);
}

static void
s_handle (pp_stage_t *stage, pp_lead_t **lead_p, void *arg)
{
    filter_server_t *self = (filter_server_t *) arg;
    pp_lead_t *lead = *lead_p;
    pp_lead_clear_eligible (lead);
    cJSON *excluded = cJSON_CreateObject ();
    size_t count = filter_index_match (self->index, lead, pp_now_us (), excluded);
    cJSON *detail = cJSON_CreateObject ();
    cJSON *eligible = cJSON_AddArrayToObject (detail, "campaigns");
    for (size_t i = 0; i < pp_lead_eligible_size (lead); i++)
        cJSON_AddItemToArray (eligible, cJSON_CreateNumber (pp_lead_eligible (lead, i)));
    cJSON_AddItemToObject (detail, "excluded", excluded);
    char *text = pp_json_print (detail);
    cJSON_Delete (detail);
    pp_event_t *event = pp_stage_event (stage, lead, count ? "eligible" : "unsold");
    pp_event_set_detail (event, text);
    if (!count)
        pp_event_set_code (event, "no_eligible_campaign");
    free (text);
    pp_stage_emit (stage, &event);
    if (!count) {
        pp_stage_finish_status (stage, lead_p, PP_STATUS_UNSOLD, "no_eligible_campaign", NULL,
                                "no buyer campaign takes this lead");
        return;
    }
    pp_stage_forward (stage, lead_p);
}

filter_server_t *
filter_server_new (const pp_config_t *config, int slot)
{
    filter_server_t *self = (filter_server_t *) zmalloc (sizeof (filter_server_t));
    self->zip = pp_zip_load (pp_zip_default_path ());
    if (!self->zip)
        zsys_warning ("filter: no ZIP table: radius filters will match no lead");
    self->stage = pp_stage_new (config, PP_STAGE_FILTER, slot);
    if (!self->stage) {
        filter_server_destroy (&self);
        return NULL;
    }
    self->index = filter_index_new (pp_stage_market (self->stage), self->zip);
    pp_stage_set_reload (self->stage, s_on_market, self);
    s_refresh_caps (NULL, 0, self);
    zloop_timer (pp_stage_loop (self->stage), S_CAPS_REFRESH_MS, 0, s_refresh_caps, self);
    pp_stage_set_handler (self->stage, s_handle, self);
    return self;
}

void
filter_server_destroy (filter_server_t **self_p)
{
    assert (self_p);
    filter_server_t *self = *self_p;
    if (!self)
        return;
    filter_index_destroy (&self->index);
    pp_stage_destroy (&self->stage);
    pp_zip_destroy (&self->zip);
    free (self);
    *self_p = NULL;
}

int
filter_server_run (filter_server_t *self)
{
    assert (self);
    return pp_stage_run (self->stage);
}
