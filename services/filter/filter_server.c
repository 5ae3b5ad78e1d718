/*  filter_server - which campaigns may see a lead: vertical, geography, field rules, schedules, caps  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "filter_server.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_stage.h"
#include "pp_util.h"

#include <math.h>
#include <time.h>

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
//
//  Per vertical: its campaigns in market order (their entries side by side),
//  and the positions of the campaigns that name no state and of those naming
//  each state. A lead is judged in full only against the campaigns of its
//  state and those of no state (its candidates); every other campaign of the
//  vertical names states but not the lead's, so its reason is "state"
//  without a look. ZIP lists and radii are the columns of one ZIP matrix, a
//  row of bits per ZIP: a lead reads the one row of its ZIP, and a candidate
//  whose ZIP list fails is settled from a compact array of columns without
//  reading its entry. The strings of in / not_in and publisher / source
//  lists are interned: a lead's value is looked up once, then lists compare
//  ids. Field rules are compiled into entries (no pointer to the market's
//  structs on the way): they read field slots of their vertical, resolved
//  once per lead, and `equals` is parsed at build. Local time is computed
//  once per zone and second; holidays are numbers. Reasons carry their JSON
//  text, so the detail of a decision is written by copying. filter_exclusion,
//  the brute-force reference the tests compare all this with, uses none of
//  it but the ZIP matrix.

//  Texts copied into a detail have S_PAD readable bytes past their end, so
//  s_put copies them 16 bytes at a time (a libc call per short text was a
//  third of the cost of writing a detail).
#define S_PAD 16

//  Why a campaign does not take a lead.
typedef struct {
    const char *text;           //  "state", "field:credit", ...
    const char *json;           //  the same as a quoted JSON string (padded)
    size_t json_len;            //  strlen (json)
} s_reason_t;

#define S_REASON(text) \
    {text, "\"" text "\"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", sizeof (text) + 1}
static const s_reason_t s_reason_state = S_REASON ("state");
static const s_reason_t s_reason_zip = S_REASON ("zip");
static const s_reason_t s_reason_radius = S_REASON ("zip_radius");
static const s_reason_t s_reason_publisher = S_REASON ("publisher");
static const s_reason_t s_reason_source = S_REASON ("source");
static const s_reason_t s_reason_schedule = S_REASON ("schedule");
static const s_reason_t s_reason_holiday = S_REASON ("holiday");
static const s_reason_t s_reason_cap = S_REASON ("cap");
#define S_FIXED_REASON_MAX (sizeof ("\"zip_radius\"") - 1)     //  the longest above

//  A list of strings as their ids in index->names (0: a string of no list).
typedef struct {
    uint32_t *ids;              //  the ids, in list order
    size_t count;               //  entries (0: no list)
} s_ids_t;

//  The parts of a field rule that need no text: exists, min and max.
typedef struct {
    int exists;                 //  -1 = no rule, 0 = must be absent, 1 = must be present
    bool has_min;               //  min applies
    bool has_max;               //  max applies
    bool needs_value;           //  min, max, in or equals given: absence fails
    double min;                 //  inclusive
    double max;                 //  inclusive
} s_basic_t;

//  A field rule of a campaign, compiled.
typedef struct {
    s_basic_t basic;            //  exists, min, max
    size_t slot;                //  the vertical's slot of the rule's field
    s_ids_t in;                 //  allowed values interned (count 0: no in rule)
    s_ids_t not_in;             //  forbidden values interned
    bool has_equals;            //  an equals rule is given
    cJSON *equals;              //  its value parsed, or NULL: it equals nothing
} s_rule_t;

//  The reason a compiled rule gives.
typedef struct {
    char *text;                 //  "field:<name>"
    char *json;                 //  the same as a JSON string (padded)
    s_reason_t reason;          //  text and json above
} s_rule_reason_t;

//  The publisher and source lists of a campaign, interned.
typedef struct {
    s_ids_t publishers_allow;   //  publishers allowed (none: all)
    s_ids_t publishers_deny;    //  publishers refused
    s_ids_t sources_allow;      //  sources allowed (none: all)
    s_ids_t sources_deny;       //  sources refused
} s_lists_t;

//  A campaign's schedule, compiled.
typedef struct {
    int zone;                   //  its zone in index->zones
    bool has_hours;             //  closed outside the windows
    const pp_window_t *windows [7]; //  Not owned: the campaign's windows per weekday
    size_t window_count [7];    //  entries per weekday
    int32_t *holidays;          //  closed dates as YYYYMMDD (-1: not a date)
    size_t holiday_count;       //  entries in holidays
} s_schedule_t;

//  A lead field that rules read, resolved once per lead.
typedef struct {
    const char *name;           //  Not owned: a rule's field name
    bool text;                  //  some rule compares it as text (in / not_in)
    uint64_t lead;              //  the lead (index->lead) it was resolved for
    const pp_value_t *value;    //  the lead's value, or NULL: absent
    const char *value_text;     //  its text for in / not_in (when text), or NULL
    uint32_t text_id;           //  value_text's id in index->names, 0: none
    char buf [40];              //  room for value_text
} s_slot_t;

//  Local time in one zone at one second.
typedef struct {
    const char *name;           //  Not owned: a campaign's zone ("UTC" for none)
    bool known;                 //  computed for `secs`
    int64_t secs;               //  the second (now_us / 1000000) it was computed for
    int rc;                     //  filter_local_time's answer: 0, or -1 unknown zone
    int wday;                   //  weekday, 0 = Sunday
    int minute;                 //  minute of the day
    int32_t day;                //  the date as YYYYMMDD
} s_local_t;

//  One campaign; what every lead reads first.
typedef struct {
    uint32_t id;                //  the campaign's id at build
    int zip_column;             //  column of its ZIP list in the ZIP matrix, or -1
    int radius_column;          //  column of its ZIP radius in the ZIP matrix, or -1
    bool check_state;           //  names a state the index cannot place: checked by name
    bool full;                  //  cached cap counters reached a limit
    size_t rule_count;          //  entries in rules
    s_rule_t *rules;            //  compiled field rules, in campaign order
    s_lists_t *lists;           //  publisher / source lists, or NULL: none
    s_schedule_t *schedule;     //  schedule, or NULL: always open
    s_rule_reason_t *reasons;   //  the reason of each rule
    const pp_campaign_t *campaign;  //  Not owned: the market's
    size_t reason_max;          //  longest reason JSON it can give
} s_entry_t;

//  The campaigns of one vertical.
typedef struct {
    const char *name;           //  Not owned: the vertical's name
    s_entry_t *entries;         //  Not owned: its part of index->entries, in market order
    size_t entry_count;         //  entries
    uint32_t *any_state;        //  positions (in entries) of campaigns judged whatever the state
    size_t any_state_count;     //  entries in any_state
    uint32_t *by_state [PP_STATE_COUNT];    //  positions of campaigns naming each state
    size_t by_state_count [PP_STATE_COUNT]; //  entries per state
    int *gate;                  //  per position: the column of a ZIP list checked first
                                //  (right after the state), or -1
    s_slot_t *slots;            //  lead fields read by the rules of its campaigns
    size_t slot_count;          //  entries in slots
    char *state_text;           //  `"<name>":"state",` of every campaign, in market order
                                //  (padded): its key for any other reason too
    size_t *state_at;           //  entry_count + 1 offsets: campaign p's part of state_text
    char *id_text;              //  the id of every campaign in decimal, in market order (padded)
    size_t *id_at;              //  entry_count + 1 offsets: campaign p's part of id_text
    size_t excluded_max;        //  longest the excluded part of a detail can be
} s_vertical_t;

//  A campaign id and its entry, sorted by id (cap flags by id).
typedef struct {
    uint32_t id;                //  campaign id
    uint32_t entry;             //  its entry
} s_id_t;

struct filter_index {
    pp_market_t *market;        //  a reference
    s_entry_t *entries;         //  one per campaign: by vertical, in market order within
    size_t entry_count;         //  entries
    s_vertical_t *verticals;    //  one per vertical of the market
    size_t vertical_count;      //  entries
    uint8_t *zip_matrix;        //  PP_ZIP_SLOTS rows of row_bytes: bit c of row n says
                                //  ZIP n is in column c
    size_t row_bytes;           //  bytes per row (0: no column)
    zhashx_t *names;            //  interned list strings -> id (1..), as a pointer
    s_local_t *zones;           //  the zones of the schedules
    size_t zone_count;          //  entries in zones
    s_id_t *ids;                //  entry_count ids, sorted
    uint64_t lead;              //  leads matched so far: stamps the slots
    uint32_t *positions;        //  scratch: positions of the last lead's candidates
    const s_reason_t **verdicts;    //  scratch: why each does not take it, NULL: eligible
    size_t candidates;          //  campaigns the last match judged in full
    char *detail;               //  the detail text of the last decide
    size_t detail_size;         //  allocated
};

static void
s_push (uint32_t **list, size_t *count, uint32_t value)
{
    //  Room for 4, then doubled whenever count reaches a power of two
    if (*count == 0 || (*count >= 4 && (*count & (*count - 1)) == 0)) {
        *list = (uint32_t *) realloc (*list, (*count ? *count * 2 : 4) * sizeof (uint32_t));
        assert (*list);
    }
    (*list) [(*count)++] = value;
}

static void
s_reserve (char **buffer, size_t *size, size_t want)
{
    if (*size >= want)
        return;
    *size = want + want / 4;
    *buffer = (char *) realloc (*buffer, *size);
    assert (*buffer);
}

static int
s_zip_number (const char *zip)
{
    if (!zip || strlen (zip) != 5 || strspn (zip, "0123456789") != 5)
        return -1;
    return atoi (zip);
}

//  A date "YYYY-MM-DD" as the number YYYYMMDD; -1 for any other text.
static int32_t
s_day_number (const char *date)
{
    static const char digits [] = "0123456789";
    if (!date || strlen (date) != 10 || date [4] != '-' || date [7] != '-'
        || strspn (date, digits) != 4 || strspn (date + 5, digits) != 2
        || strspn (date + 8, digits) != 2)
        return -1;
    return atoi (date) * 10000 + atoi (date + 5) * 100 + atoi (date + 8);
}

//  The bit of column `column` in a ZIP matrix row; false for no row.
static bool
s_column (const uint8_t *row, int column)
{
    return row && ((row [column >> 3] >> (column & 7)) & 1);
}

//  The row of ZIP `zip` (0..99999) in the matrix, or NULL.
static const uint8_t *
s_zip_row (const filter_index_t *self, int zip)
{
    return zip >= 0 && self->zip_matrix ? self->zip_matrix + (size_t) zip * self->row_bytes
                                        : NULL;
}

static void
s_set_column (filter_index_t *self, int zip, int column)
{
    uint8_t *row = self->zip_matrix + (size_t) zip * self->row_bytes;
    row [column >> 3] |= (uint8_t) (1u << (column & 7));
}

//  Text as a quoted JSON string, escaped as cJSON prints it, followed by
//  `suffix` and S_PAD zero bytes. Caller frees.
static char *
s_json_string (const char *text, const char *suffix)
{
    cJSON *string = cJSON_CreateString (text);
    assert (string);
    char *json = cJSON_PrintUnformatted (string);
    assert (json);
    cJSON_Delete (string);
    size_t size = strlen (json), suffix_size = strlen (suffix);
    char *padded = (char *) calloc (1, size + suffix_size + S_PAD + 1);
    assert (padded);
    memcpy (padded, json, size);
    memcpy (padded + size, suffix, suffix_size);
    free (json);
    return padded;
}

//  Copies `size` bytes of a padded text to out (which has S_PAD bytes to
//  spare); returns the end.
static inline char *
s_put (char *out, const char *text, size_t size)
{
    for (size_t i = 0; i < size; i += 16)
        memcpy (out + i, text + i, 16);
    return out + size;
}

//  The id of a list string, made when new.
static uint32_t
s_intern (filter_index_t *self, const char *name)
{
    uintptr_t id = (uintptr_t) zhashx_lookup (self->names, name);
    if (!id) {
        id = zhashx_size (self->names) + 1;
        zhashx_insert (self->names, name, (void *) id);
    }
    return (uint32_t) id;
}

//  The id of a lead's string: 0 when no list names it.
static uint32_t
s_name_id (const filter_index_t *self, const char *name)
{
    return name ? (uint32_t) (uintptr_t) zhashx_lookup (self->names, name) : 0;
}

static s_ids_t
s_intern_list (filter_index_t *self, char *const *list, size_t count)
{
    s_ids_t ids = {NULL, count};
    if (count) {
        ids.ids = (uint32_t *) malloc (count * sizeof (uint32_t));
        assert (ids.ids);
        for (size_t i = 0; i < count; i++)
            ids.ids [i] = s_intern (self, list [i]);
    }
    return ids;
}

static void
s_ids_free (s_ids_t *ids)
{
    free (ids->ids);
    ids->ids = NULL;
}

static bool
s_contains (const s_ids_t *list, uint32_t id)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->ids [i] == id)
            return true;
    return false;
}

static s_basic_t
s_basic_of (const pp_field_rule_t *rule)
{
    s_basic_t basic;
    basic.exists = rule->exists;
    basic.has_min = rule->has_min;
    basic.has_max = rule->has_max;
    basic.needs_value = rule->has_min || rule->has_max || rule->in_count || rule->equals;
    basic.min = rule->min;
    basic.max = rule->max;
    return basic;
}

//  The zone slot of a zone name, added when new.
static int
s_zone_slot (filter_index_t *self, const char *name)
{
    for (size_t z = 0; z < self->zone_count; z++)
        if (streq (self->zones [z].name, name))
            return (int) z;
    self->zones = (s_local_t *) realloc (self->zones, (self->zone_count + 1) * sizeof (s_local_t));
    assert (self->zones);
    s_local_t *zone = &self->zones [self->zone_count];
    memset (zone, 0, sizeof *zone);
    zone->name = name;
    return (int) self->zone_count++;
}

static s_schedule_t *
s_schedule_new (filter_index_t *self, const pp_campaign_t *campaign)
{
    if (!campaign->has_hours && campaign->holiday_count == 0)
        return NULL;
    s_schedule_t *schedule = (s_schedule_t *) zmalloc (sizeof (s_schedule_t));
    schedule->zone = s_zone_slot (self, campaign->time_zone ? campaign->time_zone : "UTC");
    schedule->has_hours = campaign->has_hours;
    for (int day = 0; day < 7; day++) {
        schedule->windows [day] = campaign->windows [day];
        schedule->window_count [day] = campaign->window_count [day];
    }
    schedule->holiday_count = campaign->holiday_count;
    if (campaign->holiday_count) {
        schedule->holidays = (int32_t *) malloc (campaign->holiday_count * sizeof (int32_t));
        assert (schedule->holidays);
        for (size_t i = 0; i < campaign->holiday_count; i++)
            schedule->holidays [i] = s_day_number (campaign->holidays [i]);
    }
    return schedule;
}

//  Compile the field rules of an entry against its vertical's slots
//  (`slots`: field name -> slot + 1).
static void
s_compile_rules (filter_index_t *self, s_entry_t *entry, s_vertical_t *vertical,
                 zhashx_t *slots)
{
    const pp_campaign_t *campaign = entry->campaign;
    if (campaign->rule_count == 0)
        return;
    entry->rules = (s_rule_t *) calloc (campaign->rule_count, sizeof (s_rule_t));
    entry->reasons = (s_rule_reason_t *) calloc (campaign->rule_count, sizeof (s_rule_reason_t));
    assert (entry->rules && entry->reasons);
    entry->rule_count = campaign->rule_count;
    for (size_t i = 0; i < campaign->rule_count; i++) {
        const pp_field_rule_t *rule = &campaign->rules [i];
        s_rule_t *compiled = &entry->rules [i];
        compiled->basic = s_basic_of (rule);
        size_t slot = (size_t) (uintptr_t) zhashx_lookup (slots, rule->field);
        if (slot == 0) {
            vertical->slots = (s_slot_t *) realloc (
                vertical->slots, (vertical->slot_count + 1) * sizeof (s_slot_t));
            assert (vertical->slots);
            memset (&vertical->slots [vertical->slot_count], 0, sizeof (s_slot_t));
            vertical->slots [vertical->slot_count].name = rule->field;
            slot = ++vertical->slot_count;
            zhashx_insert (slots, rule->field, (void *) (uintptr_t) slot);
        }
        compiled->slot = slot - 1;
        if (rule->in_count || rule->not_in_count)
            vertical->slots [compiled->slot].text = true;
        compiled->in = s_intern_list (self, rule->in, rule->in_count);
        compiled->not_in = s_intern_list (self, rule->not_in, rule->not_in_count);
        //  A text that does not parse stays NULL: the rule then fails, as
        //  in the reference
        compiled->has_equals = rule->equals != NULL;
        compiled->equals = rule->equals ? cJSON_Parse (rule->equals) : NULL;
        s_rule_reason_t *reason = &entry->reasons [i];
        reason->text = zsys_sprintf ("field:%s", rule->field);
        assert (reason->text);
        reason->json = s_json_string (reason->text, "");
        reason->reason.text = reason->text;
        reason->reason.json = reason->json;
        reason->reason.json_len = strlen (reason->json);
        if (reason->reason.json_len > entry->reason_max)
            entry->reason_max = reason->reason.json_len;
    }
}

static int
s_id_compare (const void *a, const void *b)
{
    const s_id_t *x = (const s_id_t *) a, *y = (const s_id_t *) b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

//  The entry's ZIP list and radius as columns of the matrix (`bitmap`:
//  PP_ZIP_BITMAP_BYTES of scratch).
static void
s_fill_columns (filter_index_t *self, const s_entry_t *entry, const pp_zip_t *zip,
                uint8_t *bitmap)
{
    const pp_campaign_t *campaign = entry->campaign;
    for (size_t z = 0; entry->zip_column >= 0 && z < campaign->zip_count; z++) {
        int n = s_zip_number (campaign->zips [z]);
        if (n >= 0)
            s_set_column (self, n, entry->zip_column);
    }
    if (entry->radius_column < 0)
        return;
    if (!zip || pp_zip_within (zip, campaign->radius_zip, campaign->radius_miles, bitmap) == 0) {
        zsys_warning ("filter: campaign %s: radius centre %s unknown, it matches no lead",
                      campaign->name, campaign->radius_zip);
        return;
    }
    for (int byte = 0; byte < PP_ZIP_BITMAP_BYTES; byte++)
        for (int bit = 0; bitmap [byte] && bit < 8; bit++)
            if ((bitmap [byte] >> bit) & 1)
                s_set_column (self, byte * 8 + bit, entry->radius_column);
}

//  Add the entry at `position` of its vertical: compiled rules, candidate
//  lists.
static void
s_add_to_vertical (filter_index_t *self, s_vertical_t *vertical, uint32_t position,
                   zhashx_t *slots)
{
    s_entry_t *entry = &vertical->entries [position];
    const pp_campaign_t *campaign = entry->campaign;
    s_compile_rules (self, entry, vertical, slots);
    for (size_t k = 0; k < campaign->state_count; k++)
        if (pp_state_index (campaign->states [k]) < 0)
            entry->check_state = true;
    vertical->gate [position] = entry->check_state ? -1 : entry->zip_column;
    if (campaign->state_count == 0 || entry->check_state)
        s_push (&vertical->any_state, &vertical->any_state_count, position);
    else
        for (size_t k = 0; k < campaign->state_count; k++) {
            int state = pp_state_index (campaign->states [k]);
            size_t count = vertical->by_state_count [state];
            //  A state named twice lists the campaign once
            if (count == 0 || vertical->by_state [state] [count - 1] != position)
                s_push (&vertical->by_state [state], &vertical->by_state_count [state], position);
        }
}

//  Decimal digits of n at out; returns the end.
static char *
s_print_u32 (char *out, uint32_t n)
{
    char digits [10];
    int size = 0;
    do {
        digits [size++] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);
    while (size)
        *out++ = digits [--size];
    return out;
}

//  The texts of the vertical's details: every campaign excluded by
//  "state" (whose keys serve every other reason too), and every id.
static void
s_detail_texts (s_vertical_t *vertical)
{
    size_t count = vertical->entry_count;
    char **keys = (char **) calloc (count + 1, sizeof (char *));
    vertical->state_at = (size_t *) calloc (count + 1, sizeof (size_t));
    vertical->id_at = (size_t *) calloc (count + 1, sizeof (size_t));
    assert (keys && vertical->state_at && vertical->id_at);
    size_t size = 0;
    for (size_t p = 0; p < count; p++) {
        const s_entry_t *entry = &vertical->entries [p];
        keys [p] = s_json_string (entry->campaign->name, ":");
        size_t key_len = strlen (keys [p]);
        size += key_len + s_reason_state.json_len + 1;
        vertical->excluded_max += key_len + entry->reason_max + 1;
    }
    vertical->state_text = (char *) calloc (1, size + S_PAD + 1);
    vertical->id_text = (char *) calloc (1, count * 10 + S_PAD + 1);
    assert (vertical->state_text && vertical->id_text);
    char *out = vertical->state_text, *ids = vertical->id_text;
    for (size_t p = 0; p < count; p++) {
        vertical->state_at [p] = (size_t) (out - vertical->state_text);
        size_t key_len = strlen (keys [p]);
        memcpy (out, keys [p], key_len);
        out += key_len;
        memcpy (out, s_reason_state.json, s_reason_state.json_len);
        out += s_reason_state.json_len;
        *out++ = ',';
        free (keys [p]);
        vertical->id_at [p] = (size_t) (ids - vertical->id_text);
        ids = s_print_u32 (ids, vertical->entries [p].id);
    }
    vertical->state_at [count] = (size_t) (out - vertical->state_text);
    vertical->id_at [count] = (size_t) (ids - vertical->id_text);
    free (keys);
}

filter_index_t *
filter_index_new (pp_market_t *market, const pp_zip_t *zip)
{
    assert (market);
    filter_index_t *self = (filter_index_t *) zmalloc (sizeof (filter_index_t));
    self->market = pp_market_link (market);
    self->names = zhashx_new ();
    self->entry_count = pp_market_campaign_count (market);
    size_t entries = self->entry_count ? self->entry_count : 1;
    self->entries = (s_entry_t *) calloc (entries, sizeof (s_entry_t));
    self->ids = (s_id_t *) calloc (entries, sizeof (s_id_t));
    self->positions = (uint32_t *) calloc (entries, sizeof (uint32_t));
    self->verdicts = (const s_reason_t **) calloc (entries, sizeof (s_reason_t *));
    self->vertical_count = pp_market_vertical_count (market);
    size_t verticals = self->vertical_count + 1;        //  and "none"
    self->verticals = (s_vertical_t *) calloc (verticals, sizeof (s_vertical_t));
    zhashx_t **slots = (zhashx_t **) calloc (verticals, sizeof (zhashx_t *));
    size_t *vertical_of = (size_t *) calloc (entries, sizeof (size_t));
    size_t *next = (size_t *) calloc (verticals, sizeof (size_t));
    assert (self->names && self->entries && self->ids && self->positions && self->verdicts
            && self->verticals && slots && vertical_of && next);
    for (size_t v = 0; v < self->vertical_count; v++) {
        self->verticals [v].name = pp_market_vertical_at (market, v)->name;
        slots [v] = zhashx_new ();
        assert (slots [v]);
    }
    //  Entries by vertical (campaigns of none last), in market order within
    for (size_t i = 0; i < self->entry_count; i++) {
        const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
        size_t v = 0;
        while (v < self->vertical_count
               && !(campaign->vertical
                    && streq (self->verticals [v].name, campaign->vertical->name)))
            v++;
        vertical_of [i] = v;
        self->verticals [v].entry_count++;
    }
    for (size_t v = 0, at = 0; v < verticals; v++) {
        self->verticals [v].entries = self->entries + at;
        next [v] = at;
        at += self->verticals [v].entry_count;
    }
    //  Columns of the ZIP matrix: one per ZIP list and one per radius
    int columns = 0;
    for (size_t i = 0; i < self->entry_count; i++) {
        s_entry_t *entry = &self->entries [next [vertical_of [i]]++];
        const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
        entry->campaign = campaign;
        entry->zip_column = campaign->zip_count ? columns++ : -1;
        entry->radius_column = campaign->radius_zip [0] ? columns++ : -1;
    }
    self->row_bytes = ((size_t) columns + 7) / 8;
    uint8_t *bitmap = NULL;
    if (columns) {
        self->zip_matrix = (uint8_t *) calloc (PP_ZIP_SLOTS, self->row_bytes);
        bitmap = (uint8_t *) zmalloc (PP_ZIP_BITMAP_BYTES);
        assert (self->zip_matrix);
    }
    for (size_t e = 0; e < self->entry_count; e++) {
        s_entry_t *entry = &self->entries [e];
        const pp_campaign_t *campaign = entry->campaign;
        entry->id = campaign->id;
        self->ids [e].id = campaign->id;
        self->ids [e].entry = (uint32_t) e;
        s_fill_columns (self, entry, zip, bitmap);
        entry->schedule = s_schedule_new (self, campaign);
        if (campaign->publishers_allow_count || campaign->publishers_deny_count
            || campaign->sources_allow_count || campaign->sources_deny_count) {
            entry->lists = (s_lists_t *) zmalloc (sizeof (s_lists_t));
            entry->lists->publishers_allow = s_intern_list (self, campaign->publishers_allow,
                                                            campaign->publishers_allow_count);
            entry->lists->publishers_deny = s_intern_list (self, campaign->publishers_deny,
                                                           campaign->publishers_deny_count);
            entry->lists->sources_allow = s_intern_list (self, campaign->sources_allow,
                                                         campaign->sources_allow_count);
            entry->lists->sources_deny = s_intern_list (self, campaign->sources_deny,
                                                        campaign->sources_deny_count);
        }
        entry->reason_max = S_FIXED_REASON_MAX;
    }
    for (size_t v = 0; v < self->vertical_count; v++) {
        s_vertical_t *vertical = &self->verticals [v];
        vertical->gate = (int *) calloc (vertical->entry_count + 1, sizeof (int));
        assert (vertical->gate);
        for (size_t p = 0; p < vertical->entry_count; p++)
            s_add_to_vertical (self, vertical, (uint32_t) p, slots [v]);
        s_detail_texts (vertical);
        zhashx_destroy (&slots [v]);
    }
    free (slots);
    free (vertical_of);
    free (next);
    free (bitmap);
    qsort (self->ids, self->entry_count, sizeof (s_id_t), s_id_compare);
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
        s_entry_t *entry = &self->entries [i];
        for (size_t r = 0; r < entry->rule_count; r++) {
            s_ids_free (&entry->rules [r].in);
            s_ids_free (&entry->rules [r].not_in);
            cJSON_Delete (entry->rules [r].equals);
            zstr_free (&entry->reasons [r].text);
            free (entry->reasons [r].json);
        }
        free (entry->rules);
        free (entry->reasons);
        if (entry->lists) {
            s_ids_free (&entry->lists->publishers_allow);
            s_ids_free (&entry->lists->publishers_deny);
            s_ids_free (&entry->lists->sources_allow);
            s_ids_free (&entry->lists->sources_deny);
            free (entry->lists);
        }
        if (entry->schedule) {
            free (entry->schedule->holidays);
            free (entry->schedule);
        }
    }
    for (size_t v = 0; v < self->vertical_count; v++) {
        s_vertical_t *vertical = &self->verticals [v];
        for (int k = 0; k < PP_STATE_COUNT; k++)
            free (vertical->by_state [k]);
        free (vertical->any_state);
        free (vertical->gate);
        free (vertical->slots);
        free (vertical->state_text);
        free (vertical->state_at);
        free (vertical->id_text);
        free (vertical->id_at);
    }
    free (self->verticals);
    free (self->entries);
    free (self->ids);
    free (self->positions);
    free (self->verdicts);
    free (self->zip_matrix);
    free (self->zones);
    free (self->detail);
    zhashx_destroy (&self->names);
    pp_market_unlink (&self->market);
    free (self);
    *self_p = NULL;
}

void
filter_index_set_full (filter_index_t *self, uint32_t campaign_id, bool full)
{
    assert (self);
    //  The first entry of that id, then every entry of it
    size_t low = 0, high = self->entry_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (self->ids [mid].id < campaign_id)
            low = mid + 1;
        else
            high = mid;
    }
    for (size_t i = low; i < self->entry_count && self->ids [i].id == campaign_id; i++)
        self->entries [self->ids [i].entry].full = full;
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

//  The same with interned lists and the value's id.
static bool
s_allowed_id (uint32_t id, const s_ids_t *allow, const s_ids_t *deny)
{
    if (allow->count && !s_contains (allow, id))
        return false;
    return !(deny->count && s_contains (deny, id));
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

//  The value equals the expected JSON (cJSON_Compare, case-sensitive; a
//  NULL expected equals nothing). A scalar is compared as a cJSON item on
//  the stack; only a nested value is parsed.
static bool
s_equals (const cJSON *expected, const pp_value_t *value)
{
    if (!expected)
        return false;
    cJSON actual = {0};
    switch (value->type) {
        case PP_VALUE_BOOL:
            actual.type = value->b ? cJSON_True : cJSON_False;
            break;
        case PP_VALUE_INT:
            actual.type = cJSON_Number;
            actual.valuedouble = (double) value->i;
            break;
        case PP_VALUE_NUM:
            actual.type = cJSON_Number;
            actual.valuedouble = value->n;
            break;
        case PP_VALUE_STR:
            actual.type = cJSON_String;
            actual.valuestring = value->s ? value->s : (char *) "";
            break;
        default: {
            cJSON *parsed = pp_json_from_value (value);
            bool same = parsed && cJSON_Compare (expected, parsed, true);
            cJSON_Delete (parsed);
            return same;
        }
    }
    return cJSON_Compare (expected, &actual, true);
}

//  The exists, min and max parts of a field rule against a value (NULL:
//  absent): false when one fails. Sets *absent when the value is absent or
//  null; the answer is then the rule's whole answer.
static bool
s_rule_basic (const s_basic_t *basic, const pp_value_t *value, bool *absent)
{
    bool present = value && value->type != PP_VALUE_NIL;
    *absent = !present;
    if (basic->exists == 1 && !present)
        return false;
    if (basic->exists == 0 && present)
        return false;
    if (!present)
        //  Any other rule needs a value to hold
        return !basic->needs_value;
    if (basic->has_min || basic->has_max) {
        double number;
        if (value->type == PP_VALUE_INT)
            number = (double) value->i;
        else
        if (value->type == PP_VALUE_NUM)
            number = value->n;
        else
            return false;
        if ((basic->has_min && number < basic->min) || (basic->has_max && number > basic->max))
            return false;
    }
    return true;
}

//  One field rule against a value, from the campaign's own lists (the
//  reference).
static bool
s_rule_ok (const pp_field_rule_t *rule, const pp_value_t *value)
{
    s_basic_t basic = s_basic_of (rule);
    bool absent;
    bool holds = s_rule_basic (&basic, value, &absent);
    if (!holds || absent)
        return holds;
    char buf [40];
    const char *text = s_value_text (value, buf, sizeof buf);
    if (rule->in_count && (!text || !s_listed (text, rule->in, rule->in_count)))
        return false;
    if (rule->not_in_count && text && s_listed (text, rule->not_in, rule->not_in_count))
        return false;
    if (rule->equals) {
        cJSON *expected = cJSON_Parse (rule->equals);
        bool same = s_equals (expected, value);
        cJSON_Delete (expected);
        if (!same)
            return false;
    }
    return true;
}

//  One compiled field rule against the lead's slot.
static bool
s_rule_compiled (const s_rule_t *rule, const s_slot_t *slot)
{
    bool absent;
    bool holds = s_rule_basic (&rule->basic, slot->value, &absent);
    if (!holds || absent)
        return holds;
    if (rule->in.count && (!slot->value_text || !s_contains (&rule->in, slot->text_id)))
        return false;
    if (rule->not_in.count && slot->value_text && s_contains (&rule->not_in, slot->text_id))
        return false;
    if (rule->has_equals && !s_equals (rule->equals, slot->value))
        return false;
    return true;
}

//  Open by a schedule at the local time of its zone (NULL: open).
static const s_reason_t *
s_schedule_at (const s_schedule_t *schedule, const s_local_t *local)
{
    if (local->rc)
        return &s_reason_schedule;      //  zone vanished from the system: closed, not guessed
    for (size_t i = 0; i < schedule->holiday_count; i++)
        if (schedule->holidays [i] == local->day)
            return &s_reason_holiday;
    if (!schedule->has_hours)
        return NULL;
    for (size_t i = 0; i < schedule->window_count [local->wday]; i++) {
        const pp_window_t *window = &schedule->windows [local->wday] [i];
        if (local->minute >= window->start_min && local->minute < window->end_min)
            return NULL;
    }
    return &s_reason_schedule;
}

//  Open at now_us by its schedule (no schedule: always open), from the
//  campaign's own texts (the reference).
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

//  The rules of one campaign, cheapest first: the brute-force reference,
//  which uses nothing the index prepared but the ZIP matrix.
static const char *
s_exclusion (const filter_index_t *self, const s_entry_t *entry, pp_lead_t *lead, int64_t now_us,
             char *buf, size_t size)
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
    if (entry->zip_column >= 0 || entry->radius_column >= 0) {
        const uint8_t *row = s_zip_row (self, s_zip_number (pp_fields_str (fields, "zip")));
        if (entry->zip_column >= 0 && !s_column (row, entry->zip_column))
            return "zip";
        if (entry->radius_column >= 0 && !s_column (row, entry->radius_column))
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
            return s_exclusion (self, &self->entries [i], lead, now_us, buf, size);
    //  Not of this index's market: judge it without ZIP columns
    s_entry_t entry;
    memset (&entry, 0, sizeof entry);
    entry.campaign = campaign;
    entry.zip_column = entry.radius_column = -1;
    return s_exclusion (self, &entry, lead, now_us, buf, size);
}

//  --------------------------------------------------------------------------
//  Matching: the lead read once, its candidates judged with what the index
//  prepared

typedef struct {
    filter_index_t *index;      //  the index
    s_vertical_t *vertical;     //  the lead's vertical
    pp_lead_t *lead;            //  the lead
    pp_fields_t *fields;        //  its fields
    int64_t now_us;             //  the instant judged
    const char *state;          //  its state, or NULL
    const uint8_t *zip_row;     //  its ZIP's row in the ZIP matrix, or NULL: no usable ZIP
    bool named;                 //  publisher_id and source_id are resolved
    uint32_t publisher_id;      //  its publisher's id in index->names, 0: in no list
    uint32_t source_id;         //  its source's id, 0: in no list
} s_lead_ctx_t;

//  The lead's value of a rule's field slot.
static const s_slot_t *
s_slot (s_lead_ctx_t *ctx, size_t i)
{
    s_slot_t *slot = &ctx->vertical->slots [i];
    if (slot->lead != ctx->index->lead) {
        slot->lead = ctx->index->lead;
        slot->value = pp_fields_get (ctx->fields, slot->name);
        slot->value_text = slot->text && slot->value && slot->value->type != PP_VALUE_NIL
                           ? s_value_text (slot->value, slot->buf, sizeof slot->buf) : NULL;
        slot->text_id = s_name_id (ctx->index, slot->value_text);
    }
    return slot;
}

//  The local time of a schedule zone at the lead's instant: a function of
//  the zone and the second alone, so kept while leads come in that second.
static const s_local_t *
s_local (s_lead_ctx_t *ctx, int zone)
{
    s_local_t *local = &ctx->index->zones [zone];
    int64_t secs = ctx->now_us / 1000000;
    if (!local->known || local->secs != secs) {
        char date [11];
        local->known = true;
        local->secs = secs;
        local->rc = filter_local_time (local->name, ctx->now_us, &local->wday, &local->minute,
                                       date);
        //  Never a holiday's number when it is no date
        local->day = local->rc ? -2 : s_day_number (date);
        if (local->day < 0)
            local->day = -2;
    }
    return local;
}

//  Why a candidate does not take the lead (NULL: it does), in the order of
//  s_exclusion. The vertical is the lead's, and so is a state it names
//  unless the index could not place one of them.
static const s_reason_t *
s_judge (s_lead_ctx_t *ctx, const s_entry_t *entry)
{
    if (entry->check_state
        && (!ctx->state
            || !s_listed (ctx->state, entry->campaign->states, entry->campaign->state_count)))
        return &s_reason_state;
    if (entry->zip_column >= 0 && !s_column (ctx->zip_row, entry->zip_column))
        return &s_reason_zip;
    if (entry->radius_column >= 0 && !s_column (ctx->zip_row, entry->radius_column))
        return &s_reason_radius;
    if (entry->lists) {
        if (!ctx->named) {
            ctx->named = true;
            ctx->publisher_id = s_name_id (ctx->index, pp_lead_publisher (ctx->lead));
            ctx->source_id = s_name_id (ctx->index, pp_lead_source (ctx->lead));
        }
        if (!s_allowed_id (ctx->publisher_id, &entry->lists->publishers_allow,
                           &entry->lists->publishers_deny))
            return &s_reason_publisher;
        if (!s_allowed_id (ctx->source_id, &entry->lists->sources_allow,
                           &entry->lists->sources_deny))
            return &s_reason_source;
    }
    for (size_t i = 0; i < entry->rule_count; i++) {
        const s_rule_t *rule = &entry->rules [i];
        if (!s_rule_compiled (rule, s_slot (ctx, rule->slot)))
            return &entry->reasons [i].reason;
    }
    if (entry->schedule) {
        const s_reason_t *closed
            = s_schedule_at (entry->schedule, s_local (ctx, entry->schedule->zone));
        if (closed)
            return closed;
    }
    if (entry->full)
        return &s_reason_cap;
    return NULL;
}

static s_vertical_t *
s_vertical_of (filter_index_t *self, const char *name)
{
    for (size_t v = 0; name && v < self->vertical_count; v++)
        if (streq (self->verticals [v].name, name))
            return &self->verticals [v];
    return NULL;
}

//  Judge the lead's candidates in market order into index->positions and
//  index->verdicts (index->candidates of them); add the eligible ones to the
//  lead's list. Returns how many are eligible.
static size_t
s_judge_candidates (filter_index_t *self, s_vertical_t *vertical, pp_lead_t *lead,
                    int64_t now_us)
{
    s_lead_ctx_t ctx;
    memset (&ctx, 0, sizeof ctx);
    ctx.index = self;
    ctx.vertical = vertical;
    ctx.lead = lead;
    ctx.fields = pp_lead_fields (lead);
    ctx.now_us = now_us;
    ctx.state = pp_fields_str (ctx.fields, "state");
    ctx.zip_row = s_zip_row (self, s_zip_number (pp_fields_str (ctx.fields, "zip")));
    self->lead++;               //  a new lead for the slots
    //  Two lists of ascending positions, merged
    int state = pp_state_index (ctx.state);
    const uint32_t *any = vertical->any_state;
    const uint32_t *named = state >= 0 ? vertical->by_state [state] : NULL;
    size_t any_count = vertical->any_state_count;
    size_t named_count = state >= 0 ? vertical->by_state_count [state] : 0;
    size_t a = 0, n = 0, k = 0, count = 0;
    while (a < any_count || n < named_count) {
        uint32_t position = n == named_count || (a < any_count && any [a] < named [n])
                            ? any [a++] : named [n++];
        //  Most campaigns with a ZIP list fail on it: settled without
        //  reading their entry
        int gate = vertical->gate [position];
        const s_reason_t *verdict = &s_reason_zip;
        if (gate < 0 || s_column (ctx.zip_row, gate)) {
            const s_entry_t *entry = &vertical->entries [position];
            verdict = s_judge (&ctx, entry);
            if (!verdict) {
                pp_lead_add_eligible (lead, entry->id);
                count++;
            }
        }
        self->positions [k] = position;
        self->verdicts [k++] = verdict;
    }
    self->candidates = k;
    return count;
}

size_t
filter_index_match (filter_index_t *self, pp_lead_t *lead, int64_t now_us, cJSON *excluded)
{
    assert (self && lead);
    self->candidates = 0;
    s_vertical_t *vertical = s_vertical_of (self, pp_lead_vertical (lead));
    if (!vertical)
        return 0;
    size_t count = s_judge_candidates (self, vertical, lead, now_us);
    for (size_t p = 0, k = 0; excluded && p < vertical->entry_count; p++) {
        const s_reason_t *reason = &s_reason_state;
        if (k < self->candidates && self->positions [k] == p)
            reason = self->verdicts [k++];
        if (reason)
            cJSON_AddStringToObject (excluded, vertical->entries [p].campaign->name,
                                     reason->text);
    }
    return count;
}

//  Writes the detail into index->detail: {"campaigns":[<ids>],
//  "excluded":{"<name>":"<reason>",...}}; `added` of the lead's eligible
//  ids are those of the last judged candidates.
static void
s_detail (filter_index_t *self, const s_vertical_t *vertical, pp_lead_t *lead, size_t added)
{
    static const char head [] = "{\"campaigns\":[";
    static const char middle [] = "],\"excluded\":{";
    size_t eligible = pp_lead_eligible_size (lead);
    s_reserve (&self->detail, &self->detail_size,
               sizeof head + sizeof middle + eligible * 11
               + (vertical ? vertical->excluded_max : 0) + 3 + S_PAD);
    char *out = self->detail;
    memcpy (out, head, sizeof head - 1);
    out += sizeof head - 1;
    //  Ids already on the list, then those of the candidates taking it
    for (size_t i = 0; i < eligible - added; i++) {
        if (i)
            *out++ = ',';
        out = s_print_u32 (out, pp_lead_eligible (lead, i));
    }
    for (size_t k = 0; added && k < self->candidates; k++)
        if (!self->verdicts [k]) {
            size_t position = self->positions [k];
            if (out > self->detail + sizeof head - 1)
                *out++ = ',';
            out = s_put (out, vertical->id_text + vertical->id_at [position],
                         vertical->id_at [position + 1] - vertical->id_at [position]);
        }
    memcpy (out, middle, sizeof middle - 1);
    out += sizeof middle - 1;
    char *excluded = out;
    //  The campaigns between two candidates are excluded by state: one copy
    //  of their part of state_text; a candidate excluded for another reason
    //  takes its key from there
    size_t next = 0;
    for (size_t k = 0; vertical && k <= self->candidates; k++) {
        size_t position = k < self->candidates ? self->positions [k] : vertical->entry_count;
        size_t run = vertical->state_at [position] - vertical->state_at [next];
        if (run) {
            memcpy (out, vertical->state_text + vertical->state_at [next], run);
            out += run;
        }
        const s_reason_t *verdict = k < self->candidates ? self->verdicts [k] : NULL;
        if (verdict) {
            size_t at = vertical->state_at [position];
            size_t key_len = vertical->state_at [position + 1] - at - s_reason_state.json_len - 1;
            out = s_put (out, vertical->state_text + at, key_len);
            out = s_put (out, verdict->json, verdict->json_len);
            *out++ = ',';
        }
        next = position + 1;
    }
    if (out > excluded)
        out--;                  //  the last comma
    memcpy (out, "}}", 3);
}

size_t
filter_index_decide (filter_index_t *self, pp_lead_t *lead, int64_t now_us,
                     const char **detail_p)
{
    assert (self && lead && detail_p);
    self->candidates = 0;
    s_vertical_t *vertical = s_vertical_of (self, pp_lead_vertical (lead));
    size_t count = vertical ? s_judge_candidates (self, vertical, lead, now_us) : 0;
    s_detail (self, vertical, lead, count);
    *detail_p = self->detail;
    return count;
}

size_t
filter_index_candidates (const filter_index_t *self)
{
    assert (self);
    return self->candidates;
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
    //  The detail names every campaign of the vertical that does not take
    //  the lead, with why (`pingpost lead trace` shows it)
    const char *detail = NULL;
    size_t count = filter_index_decide (self->index, lead, pp_now_us (), &detail);
    pp_event_t *event = pp_stage_event (stage, lead, count ? "eligible" : "unsold");
    pp_event_set_detail (event, detail);
    if (!count)
        pp_event_set_code (event, "no_eligible_campaign");
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
