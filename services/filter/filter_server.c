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
//  and per state the positions of its candidates: the campaigns naming that
//  state and those naming none, merged in market order. A lead is judged in
//  full only against the candidates of its state; every other campaign of
//  the vertical names states but not the lead's, so its reason is "state"
//  without a look. ZIP lists and radii are the columns of one ZIP matrix, a
//  row of bits per ZIP: a lead reads the one row of its ZIP, and a candidate
//  whose ZIP list fails is settled from a compact array of columns without
//  reading its entry. The rest of a campaign is a list of tests, shared by
//  every campaign of the vertical that has the same one: a field rule, a
//  pair of publisher / source lists, a schedule. A lead runs a test at most
//  once, when the first candidate needing it is judged; its answer is kept
//  for the lead (most campaigns share their rules, so a candidate mostly
//  costs a few reads of a compact array). The strings of in / not_in and
//  publisher / source lists are interned: a lead's value is looked up once,
//  then lists compare ids. Field rules read field slots of their vertical,
//  resolved once per lead, and `equals` is parsed at build. Local time is
//  computed once per zone and second; holidays are numbers. Reasons carry
//  their JSON text, so the detail of a decision is written by copying, in
//  the same pass that judges. filter_exclusion, the brute-force reference
//  the tests compare all this with, uses none of it but the ZIP matrix.

//  Texts copied into a detail have S_PAD readable bytes past their end, so
//  s_put copies them 32 bytes at a time, the first 32 whatever their size
//  (a libc call per short text was a third of the cost of writing a
//  detail, and a branch on each size much of the rest).
#define S_PAD 32

//  Why a campaign does not take a lead.
typedef struct {
    const char *text;           //  "state", "field:credit", ...
    const char *json;           //  the same as a quoted JSON string, then a comma (padded)
    size_t json_len;            //  strlen (json)
} s_reason_t;

#define S_ZEROS "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
#define S_REASON(text) \
    {text, "\"" text "\"," S_ZEROS, sizeof (text) + 2}
static const s_reason_t s_reason_state = S_REASON ("state");
static const s_reason_t s_reason_zip = S_REASON ("zip");
static const s_reason_t s_reason_radius = S_REASON ("zip_radius");
static const s_reason_t s_reason_publisher = S_REASON ("publisher");
static const s_reason_t s_reason_source = S_REASON ("source");
static const s_reason_t s_reason_schedule = S_REASON ("schedule");
static const s_reason_t s_reason_holiday = S_REASON ("holiday");
static const s_reason_t s_reason_cap = S_REASON ("cap");
static const s_reason_t s_reason_pacing = S_REASON ("pacing");
//  No reason: what a detail shows of an eligible candidate's
static const s_reason_t s_reason_none = {"", S_ZEROS, 0};
#define S_FIXED_REASON_MAX (sizeof ("\"zip_radius\",") - 1)    //  the longest above

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
    const pp_window_t *windows [7]; //  Not owned: the first campaign's windows per weekday
    size_t window_count [7];    //  entries per weekday
    int32_t *holidays;          //  closed dates as YYYYMMDD (-1: not a date)
    size_t holiday_count;       //  entries in holidays
} s_schedule_t;

//  What a test is.
typedef enum {
    S_TEST_RULE,                //  a field rule: fails with "field:<name>"
    S_TEST_LISTS,               //  publisher / source lists: "publisher" or "source"
    S_TEST_SCHEDULE             //  a schedule: "schedule" or "holiday"
} s_test_kind_t;

//  What a lead's verdict on a campaign can be: these, then one code per
//  field rule test of the vertical (see s_vertical_t reasons).
enum {
    S_TAKES, S_STATE, S_ZIP, S_RADIUS, S_PUBLISHER, S_SOURCE, S_SCHEDULE, S_HOLIDAY, S_CAP,
    S_PACING, S_FIXED_CODES
};

//  A test that campaigns of a vertical apply, once per distinct test. Its
//  answer for a lead: 1 passes, 2 fails with fails [0], 3 with fails [1].
typedef struct {
    s_test_kind_t kind;         //  which of the three below
    s_rule_t rule;              //  S_TEST_RULE
    s_lists_t lists;            //  S_TEST_LISTS
    s_schedule_t schedule;      //  S_TEST_SCHEDULE
    const s_reason_t *fails [2];    //  why it fails (a rule: fails [0] only)
    uint32_t fail_codes [2];    //  the same as verdict codes
    int range;                  //  its place in the vertical's ranges, or -1: not one
    char *text;                 //  a rule's reason: "field:<name>"
    char *json;                 //  the same as a JSON string and a comma (padded)
    s_reason_t reason;          //  a rule's reason: text and json above
} s_test_t;

//  A field rule that is only a numeric range (min and / or max, no other
//  part): a lead runs these without a branch.
typedef struct {
    uint32_t test;              //  the test
    uint32_t slot;              //  the vertical's slot of its field
    uint32_t fail_code;         //  its verdict code when it fails
    double min;                 //  inclusive (-HUGE_VAL: none)
    double max;                 //  inclusive (HUGE_VAL: none)
} s_range_t;

//  What a lead of one state is judged with: its candidates, and the tests
//  they apply (each once).
typedef struct {
    uint32_t *candidates;       //  positions of the campaigns naming the state or none,
                                //  in market order
    size_t candidate_count;     //  entries in candidates
    uint32_t *ranges;           //  the ranges (in vertical->ranges) of their tests
    size_t range_count;         //  entries in ranges
    uint32_t *others;           //  their other tests (in vertical->tests)
    size_t other_count;         //  entries in others
} s_plan_t;

//  A lead field that rules read, resolved once per lead.
typedef struct {
    const char *name;           //  Not owned: a rule's field name
    bool text;                  //  some rule compares it as text (in / not_in)
    uint64_t lead;              //  the lead (index->lead) it was resolved for
    const pp_value_t *value;    //  the lead's value, or NULL: absent
    const char *value_text;     //  its text for in / not_in (when text), or NULL
    uint32_t text_id;           //  value_text's id in index->names, 0: none
    bool numeric;               //  the value is a number (integer or not)
    double number;              //  then, that number
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

//  What judging a candidate reads, side by side in market order: 40 bytes
//  a campaign.
#define S_HOT_TESTS 4
typedef struct {
    uint32_t id;                //  the campaign's id at build
    int32_t zip_column;         //  column of its ZIP list in the ZIP matrix, or -1
    int32_t radius_column;      //  column of its ZIP radius in the ZIP matrix, or -1
    uint32_t tests [S_HOT_TESTS];   //  its tests (when no more) as index + 1 into a
                                //  lead's codes, then 0 (a code that always passes)
    uint32_t first_test;        //  all its tests: vertical->test_ids [first_test...]
    uint32_t test_count;        //  in the order of s_exclusion
    bool more;                  //  more tests than S_HOT_TESTS: read from test_ids
    bool check_state;           //  names a state the index cannot place: checked by name
    bool full;                  //  cached cap counters reached a limit
    bool paced;                 //  cached day counters reached what even pacing allows yet
} s_hot_t;
_Static_assert (sizeof (s_hot_t) == 40, "s_hot_t is 40 bytes a campaign");

//  One campaign.
typedef struct {
    uint32_t id;                //  the campaign's id at build
    int zip_column;             //  column of its ZIP list in the ZIP matrix, or -1
    int radius_column;          //  column of its ZIP radius in the ZIP matrix, or -1
    bool check_state;           //  names a state the index cannot place: checked by name
    bool full;                  //  cached cap counters reached a limit
    bool paced;                 //  cached day counters reached what even pacing allows yet
    s_hot_t *hot;               //  Not owned: its part of its vertical's hot, or NULL
    const pp_campaign_t *campaign;  //  Not owned: the market's
    size_t reason_max;          //  longest reason JSON (with its comma) it can give
} s_entry_t;

//  The campaigns of one vertical.
typedef struct {
    const char *name;           //  Not owned: the vertical's name
    s_entry_t *entries;         //  Not owned: its part of index->entries, in market order
    size_t entry_count;         //  entries
    s_hot_t *hot;               //  entry_count of what judging reads, in market order
    uint32_t *any_state;        //  positions (in entries) of campaigns judged whatever the state
    size_t any_state_count;     //  entries in any_state
    uint32_t *by_state [PP_STATE_COUNT];    //  positions of campaigns naming each state
    size_t by_state_count [PP_STATE_COUNT]; //  entries per state
    s_plan_t plans [PP_STATE_COUNT + 1];    //  per state, then for a lead of no state
    s_test_t *tests;            //  the distinct tests of its campaigns
    size_t test_count;          //  entries in tests
    s_range_t *ranges;          //  the tests that are ranges
    size_t range_count;         //  entries in ranges
    uint32_t *codes;            //  per test + 1: its verdict code for the current lead
                                //  (codes [0] = S_TAKES: no test)
    const s_reason_t **reasons; //  per verdict code, its reason (S_TAKES: s_reason_none)
    size_t reason_count;        //  entries in reasons
    uint32_t *test_ids;         //  the tests of every campaign (see s_hot_t)
    size_t test_id_count;       //  entries in test_ids
    s_slot_t *slots;            //  lead fields read by the rules of its campaigns
    size_t slot_count;          //  entries in slots
    char *state_text;           //  `"<name>":"state",` of every campaign, in market order
                                //  (padded): its key for any other reason too
    size_t *state_at;           //  entry_count + 1 offsets: campaign p's part of state_text
    char *id_text;              //  `,<id>` of every campaign in decimal, in market order
                                //  (padded)
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
    char *detail;               //  the detail text of the last decide (and room before it)
    size_t detail_size;         //  allocated
    char *id_list;              //  scratch: the eligible ids of the last decide
    size_t id_list_size;        //  allocated
    uint32_t *codes;            //  scratch: the verdict code of each candidate of a lead
    uint8_t *zero_row;          //  a ZIP matrix row of no column: a lead of no usable ZIP
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
    memcpy (out, text, 32);
    for (size_t i = 32; i < size; i += 32)
        memcpy (out + i, text + i, 32);
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

//  The schedule of a campaign that has one.
static void
s_schedule_fill (filter_index_t *self, s_schedule_t *schedule, const pp_campaign_t *campaign)
{
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
}

//  What tells one test from another: its parts as text, each ended so that
//  it cannot run into the next (a number in hex and ';', a text after its
//  length).
typedef struct {
    char *text;                 //  the key so far, or NULL
    size_t size;                //  allocated
    size_t used;                //  bytes in text
} s_key_t;

static void
s_key_put (s_key_t *key, const char *bytes, size_t size)
{
    s_reserve (&key->text, &key->size, key->used + size + 1);
    memcpy (key->text + key->used, bytes, size);
    key->used += size;
    key->text [key->used] = 0;
}

static void
s_key_number (s_key_t *key, uint64_t number)
{
    char text [24];
    int size = snprintf (text, sizeof text, "%llx;", (unsigned long long) number);
    s_key_put (key, text, (size_t) size);
}

//  A double by its bits (two that compare equal may differ: then they only
//  make two tests).
static void
s_key_double (s_key_t *key, double number)
{
    uint64_t bits;
    memcpy (&bits, &number, sizeof bits);
    s_key_number (key, bits);
}

static void
s_key_text (s_key_t *key, const char *text)
{
    if (!text) {
        s_key_put (key, "-;", 2);
        return;
    }
    size_t size = strlen (text);
    s_key_number (key, size);
    s_key_put (key, text, size);
}

static void
s_key_list (s_key_t *key, char *const *list, size_t count)
{
    s_key_number (key, count);
    for (size_t i = 0; i < count; i++)
        s_key_text (key, list [i]);
}

//  The test of a key in the vertical (`keys`: key -> index + 1): its index
//  into *id. Returns the test to fill in when new, else NULL.
static s_test_t *
s_test_of (s_vertical_t *vertical, zhashx_t *keys, const s_key_t *key, uint32_t *id)
{
    uintptr_t found = (uintptr_t) zhashx_lookup (keys, key->text);
    if (found) {
        *id = (uint32_t) (found - 1);
        return NULL;
    }
    vertical->tests = (s_test_t *) realloc (vertical->tests,
                                            (vertical->test_count + 1) * sizeof (s_test_t));
    assert (vertical->tests);
    s_test_t *test = &vertical->tests [vertical->test_count];
    memset (test, 0, sizeof *test);
    *id = (uint32_t) vertical->test_count++;
    zhashx_insert (keys, key->text, (void *) (uintptr_t) vertical->test_count);
    return test;
}

//  The tests of the campaign at `position`, in the order of s_exclusion:
//  its lists, its field rules, its schedule (`slots`: field name -> slot +
//  1; `keys`: see s_test_of; `key`: scratch).
static void
s_add_tests (filter_index_t *self, s_vertical_t *vertical, uint32_t position, zhashx_t *slots,
             zhashx_t *keys, s_key_t *key)
{
    s_entry_t *entry = &vertical->entries [position];
    s_hot_t *hot = &vertical->hot [position];
    const pp_campaign_t *campaign = entry->campaign;
    hot->first_test = (uint32_t) vertical->test_id_count;
    uint32_t id;
    if (campaign->publishers_allow_count || campaign->publishers_deny_count
        || campaign->sources_allow_count || campaign->sources_deny_count) {
        key->used = 0;
        s_key_put (key, "L", 1);
        s_key_list (key, campaign->publishers_allow, campaign->publishers_allow_count);
        s_key_list (key, campaign->publishers_deny, campaign->publishers_deny_count);
        s_key_list (key, campaign->sources_allow, campaign->sources_allow_count);
        s_key_list (key, campaign->sources_deny, campaign->sources_deny_count);
        s_test_t *test = s_test_of (vertical, keys, key, &id);
        if (test) {
            test->kind = S_TEST_LISTS;
            test->lists.publishers_allow = s_intern_list (self, campaign->publishers_allow,
                                                          campaign->publishers_allow_count);
            test->lists.publishers_deny = s_intern_list (self, campaign->publishers_deny,
                                                         campaign->publishers_deny_count);
            test->lists.sources_allow = s_intern_list (self, campaign->sources_allow,
                                                       campaign->sources_allow_count);
            test->lists.sources_deny = s_intern_list (self, campaign->sources_deny,
                                                      campaign->sources_deny_count);
            test->fails [0] = &s_reason_publisher;
            test->fails [1] = &s_reason_source;
        }
        s_push (&vertical->test_ids, &vertical->test_id_count, id);
    }
    for (size_t i = 0; i < campaign->rule_count; i++) {
        const pp_field_rule_t *rule = &campaign->rules [i];
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
        slot--;
        if (rule->in_count || rule->not_in_count)
            vertical->slots [slot].text = true;
        s_basic_t basic = s_basic_of (rule);
        key->used = 0;
        s_key_put (key, "R", 1);
        s_key_number (key, slot);
        s_key_number (key, (uint64_t) (int64_t) basic.exists);
        s_key_number (key, (uint64_t) basic.has_min * 4 + (uint64_t) basic.has_max * 2
                           + (uint64_t) basic.needs_value);
        s_key_double (key, basic.min);
        s_key_double (key, basic.max);
        s_key_list (key, rule->in, rule->in_count);
        s_key_list (key, rule->not_in, rule->not_in_count);
        s_key_text (key, rule->equals);
        s_test_t *test = s_test_of (vertical, keys, key, &id);
        if (test) {
            test->kind = S_TEST_RULE;
            test->rule.basic = basic;
            test->rule.slot = slot;
            test->rule.in = s_intern_list (self, rule->in, rule->in_count);
            test->rule.not_in = s_intern_list (self, rule->not_in, rule->not_in_count);
            //  A text that does not parse stays NULL: the rule then fails,
            //  as in the reference
            test->rule.has_equals = rule->equals != NULL;
            test->rule.equals = rule->equals ? cJSON_Parse (rule->equals) : NULL;
            test->text = zsys_sprintf ("field:%s", rule->field);
            assert (test->text);
            test->json = s_json_string (test->text, ",");
            test->reason.text = test->text;
            test->reason.json = test->json;
            test->reason.json_len = strlen (test->json);
            //  (fails [0] is set when the tests stop moving)
        }
        if (vertical->tests [id].reason.json_len > entry->reason_max)
            entry->reason_max = vertical->tests [id].reason.json_len;
        s_push (&vertical->test_ids, &vertical->test_id_count, id);
    }
    if (campaign->has_hours || campaign->holiday_count) {
        key->used = 0;
        s_key_put (key, "S", 1);
        s_key_text (key, campaign->time_zone ? campaign->time_zone : "UTC");
        s_key_number (key, campaign->has_hours);
        for (int day = 0; day < 7; day++) {
            s_key_number (key, campaign->window_count [day]);
            for (size_t w = 0; w < campaign->window_count [day]; w++) {
                s_key_number (key, (uint64_t) (int64_t) campaign->windows [day] [w].start_min);
                s_key_number (key, (uint64_t) (int64_t) campaign->windows [day] [w].end_min);
            }
        }
        s_key_list (key, campaign->holidays, campaign->holiday_count);
        s_test_t *test = s_test_of (vertical, keys, key, &id);
        if (test) {
            test->kind = S_TEST_SCHEDULE;
            s_schedule_fill (self, &test->schedule, campaign);
            test->fails [0] = &s_reason_schedule;
            test->fails [1] = &s_reason_holiday;
        }
        s_push (&vertical->test_ids, &vertical->test_id_count, id);
    }
    hot->test_count = (uint32_t) (vertical->test_id_count - hot->first_test);
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

//  Add the entry at `position` of its vertical: what judging reads, tests,
//  candidate lists.
static void
s_add_to_vertical (filter_index_t *self, s_vertical_t *vertical, uint32_t position,
                   zhashx_t *slots, zhashx_t *keys, s_key_t *key)
{
    s_entry_t *entry = &vertical->entries [position];
    s_hot_t *hot = &vertical->hot [position];
    const pp_campaign_t *campaign = entry->campaign;
    for (size_t k = 0; k < campaign->state_count; k++)
        if (pp_state_index (campaign->states [k]) < 0)
            entry->check_state = true;
    entry->hot = hot;
    hot->id = entry->id;
    hot->zip_column = entry->zip_column;
    hot->radius_column = entry->radius_column;
    hot->check_state = entry->check_state;
    hot->full = entry->full;
    hot->paced = entry->paced;
    s_add_tests (self, vertical, position, slots, keys, key);
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

//  Per state, and for no state, the plan: the candidates (the campaigns of
//  no state and those naming it, in market order) and the tests they apply
//  (`seen`: test_count of scratch).
static void
s_plan (s_vertical_t *vertical, uint32_t *seen)
{
    for (int state = 0; state <= PP_STATE_COUNT; state++) {
        s_plan_t *plan = &vertical->plans [state];
        const uint32_t *any = vertical->any_state;
        const uint32_t *named = state < PP_STATE_COUNT ? vertical->by_state [state] : NULL;
        size_t any_count = vertical->any_state_count;
        size_t named_count = state < PP_STATE_COUNT ? vertical->by_state_count [state] : 0;
        uint32_t *merged = (uint32_t *) malloc ((any_count + named_count + 1) * sizeof (uint32_t));
        assert (merged);
        size_t a = 0, n = 0, k = 0;
        while (a < any_count || n < named_count)
            merged [k++] = n == named_count || (a < any_count && any [a] < named [n])
                           ? any [a++] : named [n++];
        plan->candidates = merged;
        plan->candidate_count = k;
        for (size_t c = 0; c < k; c++) {
            const s_hot_t *hot = &vertical->hot [merged [c]];
            for (uint32_t i = 0; i < hot->test_count; i++) {
                uint32_t t = vertical->test_ids [hot->first_test + i];
                if (seen [t] == (uint32_t) state + 1)
                    continue;
                seen [t] = (uint32_t) state + 1;
                int range = vertical->tests [t].range;
                if (range >= 0)
                    s_push (&plan->ranges, &plan->range_count, (uint32_t) range);
                else
                    s_push (&plan->others, &plan->other_count, t);
            }
        }
        if (state < PP_STATE_COUNT) {
            free (vertical->by_state [state]);
            vertical->by_state [state] = NULL;
            vertical->by_state_count [state] = 0;
        }
    }
}

//  A field rule that is a numeric range and nothing else.
static bool
s_is_range (const s_rule_t *rule)
{
    return rule->basic.exists == -1 && (rule->basic.has_min || rule->basic.has_max)
           && rule->basic.needs_value && rule->in.count == 0 && rule->not_in.count == 0
           && !rule->has_equals;
}

//  Verdict codes: the reasons, the codes of every test, the ranges, and
//  each campaign's first tests.
static void
s_codes (s_vertical_t *vertical)
{
    static const s_reason_t *fixed [S_FIXED_CODES] = {
        &s_reason_none, &s_reason_state, &s_reason_zip, &s_reason_radius, &s_reason_publisher,
        &s_reason_source, &s_reason_schedule, &s_reason_holiday, &s_reason_cap,
        &s_reason_pacing
    };
    vertical->reasons = (const s_reason_t **) calloc (S_FIXED_CODES + vertical->test_count,
                                                      sizeof (s_reason_t *));
    vertical->codes = (uint32_t *) calloc (vertical->test_count + 1, sizeof (uint32_t));
    assert (vertical->reasons && vertical->codes);
    memcpy (vertical->reasons, fixed, sizeof fixed);
    vertical->reason_count = S_FIXED_CODES;
    for (size_t t = 0; t < vertical->test_count; t++) {
        s_test_t *test = &vertical->tests [t];
        test->range = -1;
        if (test->kind == S_TEST_RULE) {
            //  The tests no longer move: a rule's reason is its own
            test->fails [0] = &test->reason;
            test->fail_codes [0] = (uint32_t) vertical->reason_count;
            vertical->reasons [vertical->reason_count++] = &test->reason;
            if (s_is_range (&test->rule)) {
                vertical->ranges = (s_range_t *) realloc (
                    vertical->ranges, (vertical->range_count + 1) * sizeof (s_range_t));
                assert (vertical->ranges);
                s_range_t *range = &vertical->ranges [vertical->range_count];
                range->test = (uint32_t) t;
                range->slot = (uint32_t) test->rule.slot;
                range->fail_code = test->fail_codes [0];
                range->min = test->rule.basic.has_min ? test->rule.basic.min : -HUGE_VAL;
                range->max = test->rule.basic.has_max ? test->rule.basic.max : HUGE_VAL;
                test->range = (int) vertical->range_count++;
            }
        }
        else
        if (test->kind == S_TEST_LISTS) {
            test->fail_codes [0] = S_PUBLISHER;
            test->fail_codes [1] = S_SOURCE;
        }
        else {
            test->fail_codes [0] = S_SCHEDULE;
            test->fail_codes [1] = S_HOLIDAY;
        }
    }
    for (size_t p = 0; p < vertical->entry_count; p++) {
        s_hot_t *hot = &vertical->hot [p];
        hot->more = hot->test_count > S_HOT_TESTS;
        for (uint32_t i = 0; !hot->more && i < hot->test_count; i++)
            hot->tests [i] = vertical->test_ids [hot->first_test + i] + 1;
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
        size += key_len + s_reason_state.json_len;
        vertical->excluded_max += key_len + entry->reason_max;
    }
    vertical->state_text = (char *) calloc (1, size + S_PAD + 1);
    vertical->id_text = (char *) calloc (1, count * 11 + S_PAD + 1);
    assert (vertical->state_text && vertical->id_text);
    char *out = vertical->state_text, *ids = vertical->id_text;
    for (size_t p = 0; p < count; p++) {
        vertical->state_at [p] = (size_t) (out - vertical->state_text);
        size_t key_len = strlen (keys [p]);
        memcpy (out, keys [p], key_len);
        out += key_len;
        memcpy (out, s_reason_state.json, s_reason_state.json_len);
        out += s_reason_state.json_len;
        free (keys [p]);
        vertical->id_at [p] = (size_t) (ids - vertical->id_text);
        *ids++ = ',';
        ids = s_print_u32 (ids, vertical->entries [p].id);
    }
    vertical->state_at [count] = (size_t) (out - vertical->state_text);
    vertical->id_at [count] = (size_t) (ids - vertical->id_text);
    free (keys);
}

//  The rest of a vertical, once its entries are placed.
static void
s_vertical_build (filter_index_t *self, s_vertical_t *vertical, zhashx_t *slots)
{
    size_t count = vertical->entry_count;
    vertical->hot = (s_hot_t *) calloc (count + 1, sizeof (s_hot_t));
    zhashx_t *keys = zhashx_new ();
    assert (vertical->hot && keys);
    s_key_t key = {NULL, 0, 0};
    for (size_t p = 0; p < count; p++)
        s_add_to_vertical (self, vertical, (uint32_t) p, slots, keys, &key);
    free (key.text);
    zhashx_destroy (&keys);
    s_codes (vertical);
    uint32_t *seen = (uint32_t *) calloc (vertical->test_count + 1, sizeof (uint32_t));
    assert (seen);
    s_plan (vertical, seen);
    free (seen);
    s_detail_texts (vertical);
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
    self->codes = (uint32_t *) calloc (entries, sizeof (uint32_t));
    self->vertical_count = pp_market_vertical_count (market);
    size_t verticals = self->vertical_count + 1;        //  and "none"
    self->verticals = (s_vertical_t *) calloc (verticals, sizeof (s_vertical_t));
    zhashx_t **slots = (zhashx_t **) calloc (verticals, sizeof (zhashx_t *));
    size_t *vertical_of = (size_t *) calloc (entries, sizeof (size_t));
    size_t *next = (size_t *) calloc (verticals, sizeof (size_t));
    assert (self->names && self->entries && self->ids && self->positions && self->verdicts
            && self->codes && self->verticals && slots && vertical_of && next);
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
    self->zero_row = (uint8_t *) calloc (self->row_bytes + 1, 1);
    assert (self->zero_row);
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
        entry->reason_max = S_FIXED_REASON_MAX;
    }
    for (size_t v = 0; v < self->vertical_count; v++) {
        s_vertical_build (self, &self->verticals [v], slots [v]);
        zhashx_destroy (&slots [v]);
    }
    free (slots);
    free (vertical_of);
    free (next);
    free (bitmap);
    qsort (self->ids, self->entry_count, sizeof (s_id_t), s_id_compare);
    return self;
}

static void
s_test_free (s_test_t *test)
{
    s_ids_free (&test->rule.in);
    s_ids_free (&test->rule.not_in);
    cJSON_Delete (test->rule.equals);
    test->rule.equals = NULL;
    s_ids_free (&test->lists.publishers_allow);
    s_ids_free (&test->lists.publishers_deny);
    s_ids_free (&test->lists.sources_allow);
    s_ids_free (&test->lists.sources_deny);
    free (test->schedule.holidays);
    test->schedule.holidays = NULL;
    zstr_free (&test->text);
    free (test->json);
    test->json = NULL;
}

void
filter_index_destroy (filter_index_t **self_p)
{
    assert (self_p);
    filter_index_t *self = *self_p;
    if (!self)
        return;
    for (size_t v = 0; v < self->vertical_count; v++) {
        s_vertical_t *vertical = &self->verticals [v];
        for (size_t t = 0; t < vertical->test_count; t++)
            s_test_free (&vertical->tests [t]);
        free (vertical->tests);
        free (vertical->ranges);
        free (vertical->codes);
        free (vertical->reasons);
        free (vertical->test_ids);
        free (vertical->hot);
        for (int k = 0; k < PP_STATE_COUNT; k++)
            free (vertical->by_state [k]);
        for (int k = 0; k <= PP_STATE_COUNT; k++) {
            free (vertical->plans [k].candidates);
            free (vertical->plans [k].ranges);
            free (vertical->plans [k].others);
        }
        free (vertical->any_state);
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
    free (self->codes);
    free (self->zero_row);
    free (self->zip_matrix);
    free (self->zones);
    free (self->detail);
    free (self->id_list);
    zhashx_destroy (&self->names);
    pp_market_unlink (&self->market);
    free (self);
    *self_p = NULL;
}

//  The first of the sorted ids that is campaign_id's (every entry of it
//  follows), or entry_count.
static size_t
s_first_of (const filter_index_t *self, uint32_t campaign_id)
{
    size_t low = 0, high = self->entry_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (self->ids [mid].id < campaign_id)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

//  The cached cap flags of an entry, kept on the entry and on its hot copy.
typedef enum { S_FLAG_FULL, S_FLAG_PACED } s_flag_t;

static void
s_entry_flag (s_entry_t *entry, s_flag_t flag, bool value)
{
    if (flag == S_FLAG_FULL) {
        entry->full = value;
        if (entry->hot)
            entry->hot->full = value;
    }
    else {
        entry->paced = value;
        if (entry->hot)
            entry->hot->paced = value;
    }
}

//  Set a flag on every entry of the campaign.
static void
s_set_flag (filter_index_t *self, uint32_t campaign_id, s_flag_t flag, bool value)
{
    assert (self);
    for (size_t i = s_first_of (self, campaign_id);
         i < self->entry_count && self->ids [i].id == campaign_id; i++)
        s_entry_flag (&self->entries [self->ids [i].entry], flag, value);
}

//  Clear a flag on every entry.
static void
s_clear_flag (filter_index_t *self, s_flag_t flag)
{
    assert (self);
    for (size_t i = 0; i < self->entry_count; i++)
        s_entry_flag (&self->entries [i], flag, false);
}

void
filter_index_set_full (filter_index_t *self, uint32_t campaign_id, bool full)
{
    s_set_flag (self, campaign_id, S_FLAG_FULL, full);
}

void
filter_index_clear_full (filter_index_t *self)
{
    s_clear_flag (self, S_FLAG_FULL);
}

void
filter_index_set_paced (filter_index_t *self, uint32_t campaign_id, bool paced)
{
    s_set_flag (self, campaign_id, S_FLAG_PACED, paced);
}

void
filter_index_clear_paced (filter_index_t *self)
{
    s_clear_flag (self, S_FLAG_PACED);
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

//  Even pacing: a day's limit spread over the campaign's open minutes of
//  the day, counted on the local wall clock that the schedule uses (so a
//  day of 23 or 25 hours has the minutes its windows say; only a campaign
//  open at the change sees it: the skipped hour of spring counts as
//  passed, the repeated hour of autumn runs its minutes again, the
//  allowance stepping back an hour's share and climbing again).

//  Minutes of [0, upto) that the union of the windows covers (the windows
//  of one day may overlap: "mon": ["09:00-12:00", "11:00-13:00"]).
static int
s_open_minutes (const pp_window_t *windows, size_t count, int upto)
{
    int open = 0, cursor = 0;
    while (cursor < upto) {
        //  The first covered minute from the cursor on, then as far as
        //  windows overlapping one another carry the cover
        int start = upto;
        for (size_t i = 0; i < count; i++) {
            int from = windows [i].start_min > cursor ? windows [i].start_min : cursor;
            if (from < windows [i].end_min && from < start)
                start = from;
        }
        if (start >= upto)
            break;
        int end = start;
        for (bool grew = true; grew; ) {
            grew = false;
            for (size_t i = 0; i < count; i++)
                if (windows [i].start_min <= end && windows [i].end_min > end) {
                    end = windows [i].end_min;
                    grew = true;
                }
        }
        end = end < upto ? end : upto;
        open += end - start;
        cursor = end;
    }
    return open;
}

//  Open minutes of the campaign's local day at now_us: so far (this
//  minute included) into *elapsed, in all into *total. -1 when no pacing
//  question arises: a holiday, no open minute that day, an unknown zone.
static int
s_pacing_day (const pp_campaign_t *campaign, int64_t now_us, int *elapsed, int *total)
{
    int wday, minute;
    char date [11];
    if (filter_local_time (campaign->time_zone, now_us, &wday, &minute, date))
        return -1;
    if (s_listed (date, campaign->holidays, campaign->holiday_count))
        return -1;
    if (campaign->has_hours) {
        *total = s_open_minutes (campaign->windows [wday], campaign->window_count [wday], 1440);
        *elapsed = s_open_minutes (campaign->windows [wday], campaign->window_count [wday],
                                   minute + 1);
    }
    else {
        *total = 1440;
        *elapsed = minute + 1;
    }
    return *total > 0 ? 0 : -1;
}

//  ceil (limit * elapsed / total) for 0 <= elapsed <= total, without
//  overflow for any limit
static int64_t
s_pacing_share (int64_t limit, int elapsed, int total)
{
    int64_t whole = limit / total, rest = limit % total;
    return whole * elapsed + (rest * elapsed + total - 1) / total;
}

int64_t
filter_pacing_allowed (const pp_campaign_t *campaign, int64_t limit, int64_t now_us)
{
    assert (campaign);
    int elapsed, total;
    if (limit <= 0 || s_pacing_day (campaign, now_us, &elapsed, &total))
        return -1;
    return s_pacing_share (limit, elapsed, total);
}

bool
filter_pacing_reached (const pp_campaign_t *campaign, int64_t count, int64_t amount_cents,
                       int64_t now_us)
{
    assert (campaign);
    int elapsed = 0, total = 0;
    bool day_known = false, reached = false;
    for (size_t k = 0; k < campaign->cap_count && !reached; k++) {
        const pp_cap_t *cap = &campaign->caps [k];
        if (!cap->pacing_even || !cap->per || !streq (cap->per, "day"))
            continue;
        if (!day_known) {
            if (s_pacing_day (campaign, now_us, &elapsed, &total))
                return false;
            day_known = true;
        }
        if (cap->count > 0 && count >= s_pacing_share (cap->count, elapsed, total))
            reached = true;
        if (cap->amount_cents > 0) {
            int64_t allowed = s_pacing_share (cap->amount_cents, elapsed, total);
            if (amount_cents >= allowed
                || (campaign->bid_kind == PP_BID_FIXED
                    && amount_cents + campaign->bid_fixed_cents > allowed))
                reached = true;
        }
    }
    return reached;
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
    if (entry->paced)
        return "pacing";
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
        slot->numeric = slot->value && (slot->value->type == PP_VALUE_INT
                                        || slot->value->type == PP_VALUE_NUM);
        slot->number = !slot->numeric ? 0
                       : slot->value->type == PP_VALUE_INT ? (double) slot->value->i
                                                           : slot->value->n;
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

//  A test's answer for the lead: 1 passes, 2 fails with fails [0], 3 with
//  fails [1].
static uint8_t
s_test_run (s_lead_ctx_t *ctx, const s_test_t *test)
{
    if (test->kind == S_TEST_RULE)
        return s_rule_compiled (&test->rule, s_slot (ctx, test->rule.slot)) ? 1 : 2;
    if (test->kind == S_TEST_LISTS) {
        if (!ctx->named) {
            ctx->named = true;
            ctx->publisher_id = s_name_id (ctx->index, pp_lead_publisher (ctx->lead));
            ctx->source_id = s_name_id (ctx->index, pp_lead_source (ctx->lead));
        }
        if (!s_allowed_id (ctx->publisher_id, &test->lists.publishers_allow,
                           &test->lists.publishers_deny))
            return 2;
        if (!s_allowed_id (ctx->source_id, &test->lists.sources_allow,
                           &test->lists.sources_deny))
            return 3;
        return 1;
    }
    const s_reason_t *closed
        = s_schedule_at (&test->schedule, s_local (ctx, test->schedule.zone));
    return !closed ? 1 : closed == &s_reason_schedule ? 2 : 3;
}

static s_vertical_t *
s_vertical_of (filter_index_t *self, const char *name)
{
    for (size_t v = 0; name && v < self->vertical_count; v++)
        if (streq (self->verticals [v].name, name))
            return &self->verticals [v];
    return NULL;
}

//  Whether a ZIP matrix row has a column; -1: a column every row has.
static inline bool
s_in_column (const uint8_t *row, int32_t column)
{
    uint32_t at = column < 0 ? 0 : (uint32_t) column;
    return column < 0 || ((row [at >> 3] >> (at & 7)) & 1);
}

//  The verdict code of the candidate at `position`, from the lead's test
//  codes: the first of its ZIP list, radius, tests, cap and pacing that
//  fails, as in s_exclusion. Whether a check fails is a coin toss to the
//  processor: every check is read and the first failure kept without a
//  branch.
static inline uint32_t
s_code (const s_lead_ctx_t *ctx, const s_vertical_t *vertical, uint32_t position)
{
    const s_hot_t *hot = &vertical->hot [position];
    const uint32_t *codes = vertical->codes;
    uint32_t code = hot->paced ? S_PACING : S_TAKES;
    code = hot->full ? S_CAP : code;
    if (hot->more) {
        const uint32_t *tests = vertical->test_ids + hot->first_test;
        for (uint32_t i = hot->test_count; i-- > 0; ) {
            uint32_t failed = codes [tests [i] + 1];
            code = failed ? failed : code;
        }
    }
    else
        for (int i = S_HOT_TESTS - 1; i >= 0; i--) {
            uint32_t failed = codes [hot->tests [i]];
            code = failed ? failed : code;
        }
    code = s_in_column (ctx->zip_row, hot->radius_column) ? code : S_RADIUS;
    code = s_in_column (ctx->zip_row, hot->zip_column) ? code : S_ZIP;
    if (hot->check_state) {
        const pp_campaign_t *campaign = vertical->entries [position].campaign;
        if (!ctx->state || !s_listed (ctx->state, campaign->states, campaign->state_count))
            code = S_STATE;
    }
    return code;
}

//  Reads the lead once: its state, its ZIP's row, its fields, and runs
//  every test its candidates apply (each once); then the verdict code of
//  each candidate into index->codes. Returns the plan.
static const s_plan_t *
s_judge (s_lead_ctx_t *ctx, filter_index_t *self, s_vertical_t *vertical, pp_lead_t *lead,
         int64_t now_us)
{
    memset (ctx, 0, sizeof *ctx);
    ctx->index = self;
    ctx->vertical = vertical;
    ctx->lead = lead;
    ctx->fields = pp_lead_fields (lead);
    ctx->now_us = now_us;
    ctx->state = pp_fields_str (ctx->fields, "state");
    ctx->zip_row = s_zip_row (self, s_zip_number (pp_fields_str (ctx->fields, "zip")));
    if (!ctx->zip_row)
        ctx->zip_row = self->zero_row;
    int state = pp_state_index (ctx->state);
    const s_plan_t *plan = &vertical->plans [state >= 0 ? state : PP_STATE_COUNT];
    self->lead++;
    self->candidates = plan->candidate_count;
    //  The fields first, then the ranges without a branch, then the rest
    for (size_t i = 0; i < vertical->slot_count; i++)
        s_slot (ctx, i);
    uint32_t *codes = vertical->codes;
    const s_slot_t *slots = vertical->slots;
    for (size_t i = 0; i < plan->range_count; i++) {
        const s_range_t *range = &vertical->ranges [plan->ranges [i]];
        const s_slot_t *slot = &slots [range->slot];
        bool holds = slot->numeric & !(slot->number < range->min)
                     & !(slot->number > range->max);
        codes [range->test + 1] = holds ? S_TAKES : range->fail_code;
    }
    for (size_t i = 0; i < plan->other_count; i++) {
        const s_test_t *test = &vertical->tests [plan->others [i]];
        uint8_t answer = s_test_run (ctx, test);
        codes [plan->others [i] + 1] = answer == 1 ? S_TAKES : test->fail_codes [answer - 2];
    }
    for (size_t k = 0; k < plan->candidate_count; k++)
        self->codes [k] = s_code (ctx, vertical, plan->candidates [k]);
    return plan;
}

size_t
filter_index_match (filter_index_t *self, pp_lead_t *lead, int64_t now_us, cJSON *excluded)
{
    assert (self && lead);
    self->candidates = 0;
    s_vertical_t *vertical = s_vertical_of (self, pp_lead_vertical (lead));
    if (!vertical)
        return 0;
    s_lead_ctx_t ctx;
    const s_plan_t *plan = s_judge (&ctx, self, vertical, lead, now_us);
    size_t count = 0;
    for (size_t k = 0; k < plan->candidate_count; k++)
        if (self->codes [k] == S_TAKES) {
            pp_lead_add_eligible (lead, vertical->hot [plan->candidates [k]].id);
            count++;
        }
    for (size_t p = 0, k = 0; excluded && p < vertical->entry_count; p++) {
        const s_reason_t *reason = &s_reason_state;
        if (k < plan->candidate_count && plan->candidates [k] == p) {
            uint32_t code = self->codes [k++];
            reason = code == S_TAKES ? NULL : vertical->reasons [code];
        }
        if (reason)
            cJSON_AddStringToObject (excluded, vertical->entries [p].campaign->name,
                                     reason->text);
    }
    return count;
}

//  Judges the lead's candidates and writes the detail:
//  {"campaigns":[<ids>],"excluded":{"<name>":"<reason>",...}}. The
//  excluded part goes to index->detail after room for the rest, the ids to
//  index->id_list; then the head and the ids are put right before the
//  excluded part. Returns how many were added to the lead's list; sets
//  *detail_p to the text.
static size_t
s_decide (filter_index_t *self, s_vertical_t *vertical, pp_lead_t *lead, int64_t now_us,
          const char **detail_p)
{
    static const char head [] = "{\"campaigns\":[";
    static const char middle [] = "],\"excluded\":{";
    enum { HEAD = sizeof head - 1, MIDDLE = sizeof middle - 1, ID_MAX = 11 };
    s_lead_ctx_t ctx;
    const s_plan_t *plan = vertical ? s_judge (&ctx, self, vertical, lead, now_us) : NULL;
    size_t candidates = plan ? plan->candidate_count : 0;
    //  Ids already on the list come first
    size_t before = pp_lead_eligible_size (lead);
    size_t ids_max = (before + candidates) * ID_MAX;
    s_reserve (&self->id_list, &self->id_list_size, ids_max + S_PAD + 1);
    size_t room = HEAD + ids_max + MIDDLE;
    s_reserve (&self->detail, &self->detail_size,
               room + (vertical ? vertical->excluded_max : 0) + 3 + S_PAD);
    char *ids = self->id_list;
    for (size_t i = 0; i < before; i++) {
        *ids++ = ',';
        ids = s_print_u32 (ids, pp_lead_eligible (lead, i));
    }
    char *excluded = self->detail + room;
    char *out = excluded;
    size_t count = 0;
    if (plan) {
        //  The campaigns between two candidates are excluded by state: one
        //  copy of their part of state_text; a candidate excluded for
        //  another reason takes its key from there too. Whether a
        //  candidate takes the lead is a coin toss to the processor: no
        //  branch on it, only the sizes copied differ
        const char *text = vertical->state_text;
        const size_t *at = vertical->state_at;
        const size_t *id_at = vertical->id_at;
        uint32_t *eligible = self->positions;
        size_t next = 0;
        for (size_t k = 0; k < candidates; k++) {
            uint32_t position = plan->candidates [k];
            uint32_t code = self->codes [k];
            bool takes = code == S_TAKES;
            const s_reason_t *shown = vertical->reasons [code];
            size_t end = takes ? at [position] : at [position + 1] - s_reason_state.json_len;
            out = s_put (out, text + at [next], end - at [next]);
            out = s_put (out, shown->json, shown->json_len);
            size_t id_len = takes ? id_at [position + 1] - id_at [position] : 0;
            ids = s_put (ids, vertical->id_text + id_at [position], id_len);
            eligible [count] = vertical->hot [position].id;
            count += takes;
            next = position + 1;
        }
        out = s_put (out, text + at [next], at [vertical->entry_count] - at [next]);
        for (size_t i = 0; i < count; i++)
            pp_lead_add_eligible (lead, eligible [i]);
    }
    if (out > excluded)
        out--;                  //  the last comma
    memcpy (out, "}}", 3);
    //  The ids without their first comma, right before the excluded part
    size_t ids_len = (size_t) (ids - self->id_list);
    const char *id_text = self->id_list;
    if (ids_len) {
        id_text++;
        ids_len--;
    }
    char *start = excluded - MIDDLE - ids_len - HEAD;
    memcpy (start, head, HEAD);
    memcpy (start + HEAD, id_text, ids_len);
    memcpy (start + HEAD + ids_len, middle, MIDDLE);
    *detail_p = start;
    return count;
}

size_t
filter_index_decide (filter_index_t *self, pp_lead_t *lead, int64_t now_us,
                     const char **detail_p)
{
    assert (self && lead && detail_p);
    self->candidates = 0;
    s_vertical_t *vertical = s_vertical_of (self, pp_lead_vertical (lead));
    return s_decide (self, vertical, lead, now_us, detail_p);
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

//  A campaign has a cap paced evenly.
static bool
s_paces (const pp_campaign_t *campaign)
{
    for (size_t k = 0; k < campaign->cap_count; k++)
        if (campaign->caps [k].pacing_even)
            return true;
    return false;
}

//  Cached cap counters: a campaign whose counters of the current periods
//  reached a count limit, or an amount limit its fixed bid cannot fit under,
//  is skipped until they change; one whose counters of the day reached what
//  even pacing allows so far is skipped as "pacing" (a soft throttle, from
//  the same counters). Deliver's reservation stays the exact check.
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
    int64_t now_us = pp_now_us ();
    //  One pass clears the flags (a lookup per campaign was quadratic in
    //  the campaigns, every second)
    filter_index_clear_full (self->index);
    filter_index_clear_paced (self->index);
    for (size_t i = 0; i < pp_market_campaign_count (market); i++) {
        const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
        if (campaign->cap_count == 0)
            continue;
        //  Paced as if nothing were sold today (no counter row yet: a fixed
        //  bid may still not fit what pacing allows so far); a row of the
        //  day below decides otherwise
        if (s_paces (campaign) && filter_pacing_reached (campaign, 0, 0, now_us))
            filter_index_set_paced (self->index, campaign->id, true);
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
            //  Pacing reads the day's counters whether or not a cap is full
            if (streq (per, "day") && s_paces (campaign))
                filter_index_set_paced (self->index, campaign->id,
                                        filter_pacing_reached (campaign, count, amount, now_us));
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
