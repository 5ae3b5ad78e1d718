/*  pp_market - the marketplace: parse and validate the file of DESIGN section 6, store it, load it  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_market.h"
#include "pp_blacklist.h"
#include "pp_json.h"
#include "pp_util.h"

#include <arpa/inet.h>
#include <assert.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <czmq.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define S_NAME_MAX      64          //  longest object or field name
#define S_MAX_ERRORS    1000        //  problems kept per parse; the rest are counted
#define S_ZONEINFO      "/usr/share/zoneinfo"

//  ---------------------------------------------------------------------------
//  A read-only hash index (string or id keys, open addressing). The market is
//  shared between threads, and czmq's zhashx writes to itself on lookup (a
//  cached bucket, the cursor, even a rehash), so lookups go through this
//  instead: after the build nothing writes to it.

typedef struct {
    const char *key;            //  Not owned: string key, or NULL for an id key
    uint32_t id;                //  id key when key is NULL
    void *item;                 //  Not owned: the object; NULL = empty slot
} s_slot_t;

typedef struct {
    s_slot_t *slots;            //  cap slots
    size_t cap;                 //  power of two, or 0 before the first insert
    size_t count;               //  used slots
} s_index_t;

static uint64_t
s_hash_key (const char *key, uint32_t id)
{
    uint64_t hash = 1469598103934665603ULL;         //  FNV-1a
    if (key) {
        for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
            hash ^= *p;
            hash *= 1099511628211ULL;
        }
    }
    else {
        hash = (uint64_t) id * 0x9E3779B97F4A7C15ULL;
        hash ^= hash >> 29;
    }
    return hash;
}

//  The slot holding the key, or the empty slot where it would go.
static s_slot_t *
s_index_probe (const s_index_t *index, const char *key, uint32_t id)
{
    size_t i = (size_t) s_hash_key (key, id) & (index->cap - 1);
    while (true) {
        s_slot_t *slot = &index->slots [i];
        if (!slot->item)
            return slot;
        if (key ? (slot->key && streq (slot->key, key)) : (!slot->key && slot->id == id))
            return slot;
        i = (i + 1) & (index->cap - 1);
    }
}

static void *
s_index_find (const s_index_t *index, const char *key, uint32_t id)
{
    return index->cap ? s_index_probe (index, key, id)->item : NULL;
}

//  Insert item under the key (not copied: it must outlive the index).
//  Returns NULL, or the item already there (then nothing changes).
static void *
s_index_put (s_index_t *index, const char *key, uint32_t id, void *item)
{
    assert (item);
    if ((index->count + 1) * 2 > index->cap) {
        s_index_t bigger = { NULL, index->cap ? index->cap * 2 : 16, index->count };
        bigger.slots = (s_slot_t *) calloc (bigger.cap, sizeof (s_slot_t));
        assert (bigger.slots);
        for (size_t i = 0; i < index->cap; i++)
            if (index->slots [i].item)
                *s_index_probe (&bigger, index->slots [i].key, index->slots [i].id)
                    = index->slots [i];
        free (index->slots);
        *index = bigger;
    }
    s_slot_t *slot = s_index_probe (index, key, id);
    if (slot->item)
        return slot->item;
    slot->key = key;
    slot->id = id;
    slot->item = item;
    index->count++;
    return NULL;
}

static void
s_index_clear (s_index_t *index)
{
    free (index->slots);
    index->slots = NULL;
    index->cap = 0;
    index->count = 0;
}

//  ---------------------------------------------------------------------------
//  The model. The public structs are the first member of private ones that
//  add the JSON text the store writes.

typedef struct {
    pp_vertical_t pub;          //  what callers see (first member)
    char *spec_json;            //  the vertical object, unformatted
} s_vertical_t;

typedef struct {
    pp_publisher_t pub;         //  what callers see (first member)
    char *spec_json;            //  the publisher object without "api_key"
} s_publisher_t;

typedef struct {
    pp_buyer_t pub;             //  what callers see (first member)
    char *spec_json;            //  the buyer object without "campaigns"
} s_buyer_t;

typedef struct {
    char *name;                 //  "blacklist"
    char *spec_json;            //  the section, unformatted
} s_section_t;

struct pp_market {
    atomic_int refs;                    //  references held
    pp_auction_t auction;               //  settings, defaults when absent
    char *auction_json;                 //  the "auction" object, NULL when absent
    s_vertical_t **verticals;           //  in file (or id) order
    size_t vertical_count;              //  entries used
    size_t vertical_cap;                //  entries allocated
    s_publisher_t **publishers;         //  in file (or id) order
    size_t publisher_count;             //  entries used
    size_t publisher_cap;               //  entries allocated
    s_buyer_t **buyers;                 //  in file (or id) order
    size_t buyer_count;                 //  entries used
    size_t buyer_cap;                   //  entries allocated
    pp_campaign_t **campaigns;          //  in file (or id) order
    size_t campaign_count;              //  entries used
    size_t campaign_cap;                //  entries allocated
    s_section_t *sections;              //  other top-level sections
    size_t section_count;               //  entries used
    s_index_t vertical_by_name;         //  name -> s_vertical_t
    s_index_t publisher_by_hash;        //  api_key_hash -> s_publisher_t
    s_index_t publisher_by_id;          //  id -> s_publisher_t (stored ones)
    s_index_t buyer_by_name;            //  name -> s_buyer_t
    s_index_t campaign_by_name;         //  name -> pp_campaign_t
    s_index_t campaign_by_id;           //  id -> pp_campaign_t (stored ones)
};

//  ---------------------------------------------------------------------------
//  Problems. Parsing never stops at the first one: each is recorded with the
//  JSON path where it was found, kept in a growing buffer as we descend.

typedef struct {
    pp_market_error_t *errors;  //  problems recorded
    size_t error_count;         //  entries used
    size_t error_cap;           //  entries allocated
    size_t problems;            //  every problem seen, recorded or not
    char *path;                 //  current JSON path, "$..."
    size_t path_len;            //  its length
    size_t path_cap;            //  its allocation
    s_index_t vertical_names;   //  every vertical name of the file, valid or not
} s_ctx_t;

static void
s_ctx_init (s_ctx_t *ctx)
{
    memset (ctx, 0, sizeof (*ctx));
    ctx->path_cap = 256;
    ctx->path = (char *) malloc (ctx->path_cap);
    assert (ctx->path);
    strcpy (ctx->path, "$");
    ctx->path_len = 1;
}

static void
s_ctx_reset (s_ctx_t *ctx)
{
    pp_market_errors_free (&ctx->errors, ctx->error_count);
    ctx->error_count = 0;
    ctx->error_cap = 0;
    ctx->problems = 0;
    strcpy (ctx->path, "$");
    ctx->path_len = 1;
}

static void
s_ctx_destroy (s_ctx_t *ctx)
{
    pp_market_errors_free (&ctx->errors, ctx->error_count);
    free (ctx->path);
    s_index_clear (&ctx->vertical_names);
}

static void
s_path_append (s_ctx_t *ctx, const char *text, size_t size)
{
    if (ctx->path_len + size + 1 > ctx->path_cap) {
        while (ctx->path_len + size + 1 > ctx->path_cap)
            ctx->path_cap *= 2;
        ctx->path = (char *) realloc (ctx->path, ctx->path_cap);
        assert (ctx->path);
    }
    memcpy (ctx->path + ctx->path_len, text, size);
    ctx->path_len += size;
    ctx->path [ctx->path_len] = 0;
}

//  Copy text for a message or a path into buf: at most 48 bytes, cut at a
//  UTF-8 boundary ("..." added), quotes, backslashes and control characters
//  replaced, so a hostile key cannot forge lines in a log.
static const char *
s_clip (const char *text, char *buf, size_t size)
{
    assert (size >= 56);
    size_t out = 0;
    size_t in = 0;
    while (text [in] && out < 48) {
        unsigned char c = (unsigned char) text [in];
        buf [out++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '\'') ? '?' : (char) c;
        in++;
    }
    if (text [in]) {
        while (out > 0 && ((unsigned char) buf [out - 1] & 0xC0) == 0x80)
            out--;              //  drop a cut multibyte sequence's tail...
        if (out > 0 && ((unsigned char) buf [out - 1] & 0xC0) == 0xC0)
            out--;              //  ...and its lead byte
        memcpy (buf + out, "...", 3);
        out += 3;
    }
    buf [out] = 0;
    return buf;
}

//  Descend into an object member; returns the mark to pop back to.
static size_t
s_push_key (s_ctx_t *ctx, const char *key)
{
    size_t mark = ctx->path_len;
    bool plain = *key != 0 && strlen (key) <= S_NAME_MAX;
    for (const char *p = key; plain && *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '_' && *p != '-')
            plain = false;
    if (plain) {
        s_path_append (ctx, ".", 1);
        s_path_append (ctx, key, strlen (key));
    }
    else {
        char clipped [64];
        s_clip (key, clipped, sizeof clipped);
        s_path_append (ctx, "[\"", 2);
        s_path_append (ctx, clipped, strlen (clipped));
        s_path_append (ctx, "\"]", 2);
    }
    return mark;
}

//  Descend into an array element; returns the mark to pop back to.
static size_t
s_push_index (s_ctx_t *ctx, size_t i)
{
    size_t mark = ctx->path_len;
    char text [32];
    int size = snprintf (text, sizeof text, "[%zu]", i);
    s_path_append (ctx, text, (size_t) size);
    return mark;
}

static void
s_pop (s_ctx_t *ctx, size_t mark)
{
    ctx->path_len = mark;
    ctx->path [mark] = 0;
}

static void
s_verr (s_ctx_t *ctx, const char *format, va_list args)
{
    ctx->problems++;
    if (ctx->error_count > S_MAX_ERRORS)
        return;
    if (ctx->error_count == ctx->error_cap) {
        ctx->error_cap = ctx->error_cap ? ctx->error_cap * 2 : 16;
        ctx->errors = (pp_market_error_t *) realloc (ctx->errors,
                                                     ctx->error_cap * sizeof (pp_market_error_t));
        assert (ctx->errors);
    }
    pp_market_error_t *error = &ctx->errors [ctx->error_count++];
    if (ctx->error_count > S_MAX_ERRORS) {
        error->path = strdup ("$");
        error->message = strdup ("too many problems, the rest are not listed");
    }
    else {
        error->path = strdup (ctx->path);
        error->message = zsys_vprintf (format, args);
    }
    assert (error->path && error->message);
}

//  Record a problem at the current path.
static void __attribute__ ((format (printf, 2, 3)))
s_err (s_ctx_t *ctx, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_verr (ctx, format, args);
    va_end (args);
}

//  Record a problem at the current path's member `key`.
static void __attribute__ ((format (printf, 3, 4)))
s_err_key (s_ctx_t *ctx, const char *key, const char *format, ...)
{
    size_t mark = s_push_key (ctx, key);
    va_list args;
    va_start (args, format);
    s_verr (ctx, format, args);
    va_end (args);
    s_pop (ctx, mark);
}

//  Record a problem at the current path's element i.
static void __attribute__ ((format (printf, 3, 4)))
s_err_index (s_ctx_t *ctx, size_t i, const char *format, ...)
{
    size_t mark = s_push_index (ctx, i);
    va_list args;
    va_start (args, format);
    s_verr (ctx, format, args);
    va_end (args);
    s_pop (ctx, mark);
}

//  ---------------------------------------------------------------------------
//  Small checks of JSON values and text forms.

//  cJSON text of a value, as a string we own (freed with free).
static char *
s_print (const cJSON *item)
{
    char *printed = cJSON_PrintUnformatted (item);
    assert (printed);
    char *copy = strdup (printed);
    assert (copy);
    cJSON_free (printed);
    return copy;
}

static bool
s_is_integer (const cJSON *item, double lo, double hi)
{
    return cJSON_IsNumber (item) && isfinite (item->valuedouble)
        && item->valuedouble == floor (item->valuedouble)
        && item->valuedouble >= lo && item->valuedouble <= hi;
}

static bool
s_is_scalar (const cJSON *item)
{
    return cJSON_IsString (item) || cJSON_IsNumber (item) || cJSON_IsBool (item);
}

static bool
s_name_ok (const char *name)
{
    size_t size = strlen (name);
    if (size < 1 || size > S_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}
#define S_NAME_RULE "must be 1..64 characters of A-Z a-z 0-9 . _ -"

static bool
s_digits (const char *text, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (!isdigit ((unsigned char) text [i]))
            return false;
    return true;
}

static bool
s_zip_ok (const char *zip)
{
    return strlen (zip) == 5 && s_digits (zip, 5);
}

static const char *s_states [] = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV",
    "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN",
    "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "PR", NULL
};

static bool
s_state_ok (const char *state)
{
    for (size_t i = 0; s_states [i]; i++)
        if (streq (state, s_states [i]))
            return true;
    return false;
}

//  http(s)://host... with a non-empty host and only visible ASCII.
static bool
s_url_ok (const char *url)
{
    size_t size = strlen (url);
    if (size > 2048)
        return false;
    const char *rest = NULL;
    if (strncasecmp (url, "http://", 7) == 0)
        rest = url + 7;
    else
    if (strncasecmp (url, "https://", 8) == 0)
        rest = url + 8;
    if (!rest || strcspn (rest, "/?#") == 0)
        return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
            return false;
    return true;
}

//  RFC 6901: "" or "/..." where "~" is followed by 0 or 1.
static bool
s_pointer_ok (const char *pointer)
{
    if (*pointer && *pointer != '/')
        return false;
    if (strlen (pointer) > 256)
        return false;
    for (const char *p = pointer; *p; p++)
        if (*p == '~' && p [1] != '0' && p [1] != '1')
            return false;
    return true;
}

//  A mapping or constant target: "a" or "a/b" (nests in JSON), no empty part.
static bool
s_target_ok (const char *target)
{
    size_t size = strlen (target);
    if (size < 1 || size > 256 || target [0] == '/' || target [size - 1] == '/'
    ||  strstr (target, "//"))
        return false;
    for (const char *p = target; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool
s_api_key_ok (const char *key)
{
    size_t size = strlen (key);
    if (size < 8 || size > 256)
        return false;
    for (const char *p = key; *p; p++)
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
            return false;
    return true;
}

static bool
s_hex_hash_ok (const char *hash)
{
    if (strlen (hash) != 64)
        return false;
    for (const char *p = hash; *p; p++)
        if (!isdigit ((unsigned char) *p) && !(*p >= 'a' && *p <= 'f'))
            return false;
    return true;
}

//  An existing time zone file: no "..", not absolute, TZif magic.
static bool
s_time_zone_ok (const char *zone)
{
    size_t size = strlen (zone);
    if (size < 1 || size > 64 || zone [0] == '/' || strstr (zone, ".."))
        return false;
    for (const char *p = zone; *p; p++)
        if (!isalnum ((unsigned char) *p) && !strchr ("/_-+", *p))
            return false;
    char path [128];
    snprintf (path, sizeof path, "%s/%s", S_ZONEINFO, zone);
    struct stat st;
    if (stat (path, &st) || !S_ISREG (st.st_mode))
        return false;
    FILE *file = fopen (path, "rb");
    if (!file)
        return false;
    char magic [4] = { 0 };
    bool tzif = fread (magic, 1, 4, file) == 4 && memcmp (magic, "TZif", 4) == 0;
    fclose (file);
    return tzif;
}

static bool
s_date_ok (const char *date)
{
    if (strlen (date) != 10 || date [4] != '-' || date [7] != '-'
    ||  !s_digits (date, 4) || !s_digits (date + 5, 2) || !s_digits (date + 8, 2))
        return false;
    int year = atoi (date);
    int month = atoi (date + 5);
    int day = atoi (date + 8);
    static const int days [] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days [month - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return !(month == 2 && day == 29 && !leap);
}

static const char *s_days [] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL };

static int
s_day (const char *text, size_t size)
{
    for (int i = 0; s_days [i]; i++)
        if (size == 3 && memcmp (text, s_days [i], 3) == 0)
            return i;
    return -1;
}

//  "mon" or "mon-fri" (forward in the week) as a bit mask of days, or 0.
static unsigned
s_day_mask (const char *text)
{
    size_t size = strlen (text);
    int first = -1, last = -1;
    if (size == 3)
        first = last = s_day (text, 3);
    else
    if (size == 7 && text [3] == '-') {
        first = s_day (text, 3);
        last = s_day (text + 4, 3);
    }
    if (first < 0 || last < first)
        return 0;
    unsigned mask = 0;
    for (int day = first; day <= last; day++)
        mask |= 1u << day;
    return mask;
}

//  "HH:MM-HH:MM", start before end, end at most 24:00.
static bool
s_window_ok (const char *text)
{
    if (strlen (text) != 11 || text [2] != ':' || text [5] != '-' || text [8] != ':'
    ||  !s_digits (text, 2) || !s_digits (text + 3, 2)
    ||  !s_digits (text + 6, 2) || !s_digits (text + 9, 2))
        return false;
    int start_hour = atoi (text), start_min = atoi (text + 3);
    int end_hour = atoi (text + 6), end_min = atoi (text + 9);
    if (start_hour > 23 || start_min > 59 || end_hour > 24 || end_min > 59
    ||  (end_hour == 24 && end_min != 0))
        return false;
    return start_hour * 60 + start_min < end_hour * 60 + end_min;
}

static bool
s_phone_ok (const char *phone)
{
    size_t digits = 0;
    char first = 0;
    for (const char *p = phone; *p; p++) {
        if (isdigit ((unsigned char) *p)) {
            if (!digits)
                first = *p;
            digits++;
        }
        else
        if (!strchr (" -().+", *p))
            return false;
    }
    return digits == 10 || (digits == 11 && first == '1');
}

static bool
s_domain_ok (const char *domain)
{
    size_t size = strlen (domain);
    if (size < 3 || size > 253 || domain [0] == '.' || domain [size - 1] == '.'
    ||  strstr (domain, "..") || !strchr (domain, '.'))
        return false;
    for (const char *p = domain; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '-' && *p != '.')
            return false;
    return true;
}

static bool
s_email_ok (const char *email)
{
    const char *at = strchr (email, '@');
    if (!at || at == email || strchr (at + 1, '@') || strlen (email) > 254)
        return false;
    for (const char *p = email; p < at; p++)
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
            return false;
    return s_domain_ok (at + 1);
}

static bool
s_ip_ok (const char *ip)
{
    unsigned char address [16];
    return inet_pton (AF_INET, ip, address) == 1 || inet_pton (AF_INET6, ip, address) == 1;
}

static bool
s_cidr_ok (const char *cidr)
{
    const char *slash = strchr (cidr, '/');
    if (!slash || slash == cidr || (size_t) (slash - cidr) >= 64)
        return false;
    char ip [64];
    memcpy (ip, cidr, (size_t) (slash - cidr));
    ip [slash - cidr] = 0;
    const char *bits = slash + 1;
    size_t size = strlen (bits);
    if (size < 1 || size > 3 || !s_digits (bits, size))
        return false;
    unsigned char address [16];
    if (inet_pton (AF_INET, ip, address) == 1)
        return atoi (bits) <= 32;
    if (inet_pton (AF_INET6, ip, address) == 1)
        return atoi (bits) <= 128;
    return false;
}

static bool
s_text_ok (const char *text)
{
    size_t size = strlen (text);
    return size >= 1 && size <= 256;
}

//  Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
//  Returns the offset of the first bad byte, or size when all is well.
static size_t
s_utf8_check (const unsigned char *text, size_t size)
{
    size_t i = 0;
    while (i < size) {
        unsigned char c = text [i];
        size_t more;
        uint32_t code;
        if (c < 0x80) {
            i++;
            continue;
        }
        else
        if ((c & 0xE0) == 0xC0) {
            more = 1;
            code = c & 0x1F;
        }
        else
        if ((c & 0xF0) == 0xE0) {
            more = 2;
            code = c & 0x0F;
        }
        else
        if ((c & 0xF8) == 0xF0) {
            more = 3;
            code = c & 0x07;
        }
        else
            return i;
        if (i + more >= size)
            return i;
        for (size_t k = 1; k <= more; k++) {
            if ((text [i + k] & 0xC0) != 0x80)
                return i;
            code = (code << 6) | (text [i + k] & 0x3F);
        }
        if ((more == 1 && code < 0x80) || (more == 2 && code < 0x800)
        ||  (more == 3 && code < 0x10000) || code > 0x10FFFF
        ||  (code >= 0xD800 && code <= 0xDFFF))
            return i;
        i += more + 1;
    }
    return size;
}

//  ---------------------------------------------------------------------------
//  Member getters: each reports its own problem at path.key and returns
//  whether a valid value was stored (absent optional members leave *out).

//  Report unknown and repeated members of an object with fixed keys.
static void
s_check_keys (s_ctx_t *ctx, const cJSON *object, const char *const *allowed)
{
    uint32_t seen = 0;
    const cJSON *child;
    cJSON_ArrayForEach (child, object) {
        const char *key = child->string ? child->string : "";
        size_t i;
        for (i = 0; allowed [i]; i++)
            if (streq (key, allowed [i]))
                break;
        char clipped [64];
        if (!allowed [i])
            s_err_key (ctx, key, "unknown key '%s'", s_clip (key, clipped, sizeof clipped));
        else
        if (seen & (1u << i))
            s_err_key (ctx, key, "duplicate key '%s'", key);
        else
            seen |= 1u << i;
    }
}

static const cJSON *
s_member (s_ctx_t *ctx, const cJSON *object, const char *key, bool required)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (object, key);
    if (!item && required)
        s_err_key (ctx, key, "is required");
    return item;
}

static const char *
s_get_string (s_ctx_t *ctx, const cJSON *object, const char *key, bool required)
{
    const cJSON *item = s_member (ctx, object, key, required);
    if (!item)
        return NULL;
    if (!cJSON_IsString (item)) {
        s_err_key (ctx, key, "must be a string");
        return NULL;
    }
    return item->valuestring;
}

static const char *
s_get_name (s_ctx_t *ctx, const cJSON *object, const char *key, bool required)
{
    const char *name = s_get_string (ctx, object, key, required);
    if (name && !s_name_ok (name)) {
        s_err_key (ctx, key, S_NAME_RULE);
        return NULL;
    }
    return name;
}

static bool
s_get_int (s_ctx_t *ctx, const cJSON *object, const char *key, bool required, int lo, int hi,
           int *out)
{
    const cJSON *item = s_member (ctx, object, key, required);
    if (!item)
        return false;
    if (s_is_integer (item, lo, hi)) {
        *out = (int) item->valuedouble;
        return true;
    }
    if (hi == INT_MAX)
        s_err_key (ctx, key, "must be an integer >= %d", lo);
    else
        s_err_key (ctx, key, "must be an integer from %d to %d", lo, hi);
    return false;
}

static bool
s_get_bool (s_ctx_t *ctx, const cJSON *object, const char *key, bool required, bool *out)
{
    const cJSON *item = s_member (ctx, object, key, required);
    if (!item)
        return false;
    if (!cJSON_IsBool (item)) {
        s_err_key (ctx, key, "must be true or false");
        return false;
    }
    *out = cJSON_IsTrue (item);
    return true;
}

static bool
s_get_number (s_ctx_t *ctx, const cJSON *object, const char *key, bool required, double *out)
{
    const cJSON *item = s_member (ctx, object, key, required);
    if (!item)
        return false;
    if (!cJSON_IsNumber (item) || !isfinite (item->valuedouble)) {
        s_err_key (ctx, key, "must be a number");
        return false;
    }
    *out = item->valuedouble;
    return true;
}

//  Money: a JSON number >= 0 (> 0 when positive) with at most two decimals,
//  kept as integer cents.
static bool
s_get_money (s_ctx_t *ctx, const cJSON *object, const char *key, bool required,
             bool positive, int64_t *out)
{
    const cJSON *item = s_member (ctx, object, key, required);
    if (!item)
        return false;
    int64_t cents;
    if (!cJSON_IsNumber (item) || pp_cents_from_double (item->valuedouble, &cents) != 0
    ||  cents < 0 || (positive && cents == 0)) {
        s_err_key (ctx, key, positive ? "must be a number > 0 with at most two decimals"
                                      : "must be a number >= 0 with at most two decimals");
        return false;
    }
    *out = cents;
    return true;
}

//  One of a fixed set of words; returns its index or -1 (reported).
static int
s_get_word (s_ctx_t *ctx, const cJSON *object, const char *key, const char *const *words,
            const char *rule)
{
    const char *word = s_get_string (ctx, object, key, false);
    if (!word)
        return -1;
    for (int i = 0; words [i]; i++)
        if (streq (word, words [i]))
            return i;
    s_err_key (ctx, key, "must be %s", rule);
    return -1;
}

//  Check that item is an array of strings each passing `valid` (NULL: any
//  string of 1..256 bytes), reporting each bad entry at [i]. When list_p is
//  given, keeps copies of the good entries there. Linear in the entries.
static void
s_string_list (s_ctx_t *ctx, const cJSON *item, bool nonempty, bool (*valid) (const char *),
               const char *rule, char ***list_p, size_t *count_p)
{
    if (!cJSON_IsArray (item)) {
        s_err (ctx, "must be an array of strings");
        return;
    }
    size_t size = (size_t) cJSON_GetArraySize (item);
    if (nonempty && size == 0) {
        s_err (ctx, "must not be empty");
        return;
    }
    char **list = NULL;
    size_t count = 0;
    if (list_p) {
        list = (char **) calloc (size ? size : 1, sizeof (char *));
        assert (list);
    }
    size_t i = 0;
    const cJSON *entry;
    cJSON_ArrayForEach (entry, item) {
        if (!cJSON_IsString (entry))
            s_err_index (ctx, i, "must be a string");
        else
        if (!(valid ? valid (entry->valuestring) : s_text_ok (entry->valuestring))) {
            char clipped [64];
            s_err_index (ctx, i, "'%s' %s", s_clip (entry->valuestring, clipped, sizeof clipped),
                         rule);
        }
        else
        if (list) {
            list [count] = strdup (entry->valuestring);
            assert (list [count]);
            count++;
        }
        i++;
    }
    if (list_p) {
        *list_p = list;
        *count_p = count;
    }
}

static void
s_strings_free (char ***list_p, size_t count)
{
    if (!*list_p)
        return;
    for (size_t i = 0; i < count; i++)
        free ((*list_p) [i]);
    free (*list_p);
    *list_p = NULL;
}

//  ---------------------------------------------------------------------------
//  Auction settings

static const char *s_auction_keys [] = {
    "mode", "pricing", "floor", "max_sales", "timeout_ms", NULL
};
static const char *s_modes [] = { "auction", "ping_tree", NULL };
static const char *s_pricings [] = { "first", "second", NULL };

static void
s_auction_defaults (pp_auction_t *auction)
{
    auction->mode = PP_MODE_AUCTION;
    auction->pricing = PP_PRICING_FIRST;
    auction->floor_cents = 0;
    auction->max_sales = 1;
    auction->timeout_ms = 3000;
}

static void
s_auction_parse (s_ctx_t *ctx, const cJSON *object, pp_auction_t *auction)
{
    s_auction_defaults (auction);
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, object, s_auction_keys);
    int mode = s_get_word (ctx, object, "mode", s_modes, "'auction' or 'ping_tree'");
    if (mode >= 0)
        auction->mode = mode == 0 ? PP_MODE_AUCTION : PP_MODE_PING_TREE;
    int pricing = s_get_word (ctx, object, "pricing", s_pricings, "'first' or 'second'");
    if (pricing >= 0)
        auction->pricing = pricing == 0 ? PP_PRICING_FIRST : PP_PRICING_SECOND;
    s_get_money (ctx, object, "floor", false, false, &auction->floor_cents);
    s_get_int (ctx, object, "max_sales", false, 1, 100, &auction->max_sales);
    s_get_int (ctx, object, "timeout_ms", false, 1, 120000, &auction->timeout_ms);
}

//  ---------------------------------------------------------------------------
//  Verticals

static const char *s_vertical_keys [] = {
    "name", "fields", "dedupe", "consent_required", "min_form_seconds", "bot_threshold", NULL
};
static const char *s_field_keys [] = {
    "type", "pii", "required", "max_length", "min", "max", "values", NULL
};
static const char *s_dedupe_keys [] = { "fields", "days", NULL };
static const char *s_type_names [] = {
    NULL, "string", "integer", "number", "boolean", "enum",
    "email", "phone", "zip", "state", "date"
};

const char *
pp_field_type_name (int type)
{
    if (type < PP_FT_STRING || type > PP_FT_DATE)
        return NULL;
    return s_type_names [type];
}

static bool
s_type_is_text (pp_field_type_t type)
{
    return type == PP_FT_STRING || type == PP_FT_EMAIL || type == PP_FT_PHONE
        || type == PP_FT_ZIP || type == PP_FT_STATE || type == PP_FT_DATE;
}

static bool
s_type_is_number (pp_field_type_t type)
{
    return type == PP_FT_INTEGER || type == PP_FT_NUMBER;
}

static void
s_field_spec_free (pp_field_spec_t *field)
{
    free (field->name);
    s_strings_free (&field->values, field->value_count);
}

//  One field of a schema; the object's key is the field name.
static void
s_field_parse (s_ctx_t *ctx, const cJSON *object, pp_field_spec_t *field)
{
    field->name = strdup (object->string ? object->string : "");
    assert (field->name);
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, object, s_field_keys);
    const char *type = s_get_string (ctx, object, "type", true);
    if (type) {
        for (int i = PP_FT_STRING; i <= PP_FT_DATE; i++)
            if (streq (type, s_type_names [i]))
                field->type = (pp_field_type_t) i;
        if (!field->type)
            s_err_key (ctx, "type", "must be one of string integer number boolean enum email "
                                    "phone zip state date");
    }
    s_get_bool (ctx, object, "pii", false, &field->pii);
    s_get_bool (ctx, object, "required", false, &field->required);

    if (s_member (ctx, object, "max_length", false) && field->type) {
        if (!s_type_is_text (field->type))
            s_err_key (ctx, "max_length", "only applies to string, email, phone, zip, state "
                                          "and date fields");
        else
            s_get_int (ctx, object, "max_length", false, 1, INT_MAX, &field->max_length);
    }
    bool has_range = s_member (ctx, object, "min", false) || s_member (ctx, object, "max", false);
    if (has_range && field->type && !s_type_is_number (field->type))
        s_err_key (ctx, s_member (ctx, object, "min", false) ? "min" : "max",
                   "only applies to integer and number fields");
    else
    if (has_range) {
        field->has_min = s_get_number (ctx, object, "min", false, &field->min);
        field->has_max = s_get_number (ctx, object, "max", false, &field->max);
        if (field->has_min && field->has_max && field->min > field->max)
            s_err_key (ctx, "max", "must not be less than min");
    }
    const cJSON *values = s_member (ctx, object, "values", field->type == PP_FT_ENUM);
    if (values && field->type && field->type != PP_FT_ENUM)
        s_err_key (ctx, "values", "only applies to enum fields");
    else
    if (values) {
        size_t mark = s_push_key (ctx, "values");
        size_t before = ctx->problems;
        s_string_list (ctx, values, true, NULL, "must be 1..256 bytes", &field->values,
                       &field->value_count);
        if (ctx->problems == before) {
            s_index_t seen = { 0 };
            for (size_t i = 0; i < field->value_count; i++)
                if (s_index_put (&seen, field->values [i], 0, field->values [i])) {
                    char clipped [64];
                    s_err_index (ctx, i, "duplicate value '%s'",
                                 s_clip (field->values [i], clipped, sizeof clipped));
                }
            s_index_clear (&seen);
        }
        s_pop (ctx, mark);
    }
}

static void
s_vertical_destroy (s_vertical_t **self_p)
{
    s_vertical_t *self = *self_p;
    if (!self)
        return;
    free (self->pub.name);
    for (size_t i = 0; i < self->pub.field_count; i++)
        s_field_spec_free (&self->pub.fields [i]);
    free (self->pub.fields);
    s_strings_free (&self->pub.dedupe_fields, self->pub.dedupe_count);
    free (self->spec_json);
    free (self);
    *self_p = NULL;
}

static void
s_dedupe_parse (s_ctx_t *ctx, const cJSON *object, pp_vertical_t *vertical)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, object, s_dedupe_keys);
    const cJSON *fields = s_member (ctx, object, "fields", true);
    if (fields) {
        size_t mark = s_push_key (ctx, "fields");
        size_t before = ctx->problems;
        s_string_list (ctx, fields, true, NULL, "must be 1..256 bytes",
                       &vertical->dedupe_fields, &vertical->dedupe_count);
        if (ctx->problems == before) {
            s_index_t seen = { 0 };
            for (size_t i = 0; i < vertical->dedupe_count; i++) {
                const char *name = vertical->dedupe_fields [i];
                char clipped [64];
                if (!pp_vertical_field (vertical, name))
                    s_err_index (ctx, i, "unknown field '%s'",
                                 s_clip (name, clipped, sizeof clipped));
                else
                if (s_index_put (&seen, name, 0, vertical->dedupe_fields [i]))
                    s_err_index (ctx, i, "duplicate field '%s'", name);
            }
            s_index_clear (&seen);
        }
        s_pop (ctx, mark);
    }
    s_get_int (ctx, object, "days", true, 1, 3650, &vertical->dedupe_days);
}

//  A vertical object, or NULL (problems recorded). Used for the file and
//  for stored rows alike.
static s_vertical_t *
s_vertical_parse (s_ctx_t *ctx, const cJSON *object)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return NULL;
    }
    size_t problems = ctx->problems;
    s_check_keys (ctx, object, s_vertical_keys);
    s_vertical_t *self = (s_vertical_t *) zmalloc (sizeof (s_vertical_t));
    const char *name = s_get_name (ctx, object, "name", true);
    self->pub.name = strdup (name ? name : "");
    assert (self->pub.name);

    const cJSON *fields = s_member (ctx, object, "fields", true);
    if (fields && !cJSON_IsObject (fields))
        s_err_key (ctx, "fields", "must be an object");
    else
    if (fields) {
        size_t size = (size_t) cJSON_GetArraySize (fields);
        self->pub.fields = (pp_field_spec_t *) calloc (size ? size : 1, sizeof (pp_field_spec_t));
        assert (self->pub.fields);
        size_t mark = s_push_key (ctx, "fields");
        s_index_t seen = { 0 };
        const cJSON *field;
        cJSON_ArrayForEach (field, fields) {
            const char *key = field->string ? field->string : "";
            size_t field_mark = s_push_key (ctx, key);
            if (!s_name_ok (key))
                s_err (ctx, "field name " S_NAME_RULE);
            else
            if (s_index_put (&seen, key, 0, (void *) field))
                s_err (ctx, "duplicate field '%s'", key);
            s_field_parse (ctx, field, &self->pub.fields [self->pub.field_count++]);
            s_pop (ctx, field_mark);
        }
        s_index_clear (&seen);
        s_pop (ctx, mark);
    }
    const cJSON *dedupe = s_member (ctx, object, "dedupe", false);
    if (dedupe) {
        size_t mark = s_push_key (ctx, "dedupe");
        s_dedupe_parse (ctx, dedupe, &self->pub);
        s_pop (ctx, mark);
    }
    s_get_bool (ctx, object, "consent_required", false, &self->pub.consent_required);
    int unused;
    s_get_int (ctx, object, "min_form_seconds", false, 0, INT_MAX, &unused);
    s_get_int (ctx, object, "bot_threshold", false, 0, 100, &unused);

    if (ctx->problems > problems) {
        s_vertical_destroy (&self);
        return NULL;
    }
    self->spec_json = s_print (object);
    return self;
}

//  ---------------------------------------------------------------------------
//  Publishers

static const char *s_publisher_keys [] = {
    "name", "api_key", "payout", "rate_limit_per_second", NULL
};
//  A stored publisher has no key, only its hash (in its own column).
static const char *s_stored_publisher_keys [] = {
    "name", "payout", "rate_limit_per_second", NULL
};
static const char *s_payout_keys [] = { "revshare_percent", "fixed", NULL };

static void
s_publisher_destroy (s_publisher_t **self_p)
{
    s_publisher_t *self = *self_p;
    if (!self)
        return;
    free (self->pub.name);
    free (self->spec_json);
    free (self);
    *self_p = NULL;
}

//  A copy of object without one member, for printing (members are shared
//  references, so the copy is cheap and deleting it frees nothing of object).
static char *
s_print_without (const cJSON *object, const char *skip)
{
    cJSON *copy = cJSON_CreateObject ();
    assert (copy);
    const cJSON *child;
    cJSON_ArrayForEach (child, object)
        if (!streq (child->string, skip))
            cJSON_AddItemReferenceToObject (copy, child->string, (cJSON *) child);
    char *text = s_print (copy);
    cJSON_Delete (copy);
    return text;
}

//  A publisher object, or NULL (problems recorded). From the file,
//  stored_hash is NULL and the api_key is hashed; from a row, stored_hash
//  is the row's api_key_hash.
static s_publisher_t *
s_publisher_parse (s_ctx_t *ctx, const cJSON *object, const char *stored_hash)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return NULL;
    }
    size_t problems = ctx->problems;
    s_check_keys (ctx, object, stored_hash ? s_stored_publisher_keys : s_publisher_keys);
    s_publisher_t *self = (s_publisher_t *) zmalloc (sizeof (s_publisher_t));
    const char *name = s_get_name (ctx, object, "name", true);
    self->pub.name = strdup (name ? name : "");
    assert (self->pub.name);

    if (stored_hash) {
        if (s_hex_hash_ok (stored_hash))
            memcpy (self->pub.api_key_hash, stored_hash, 65);
        else
            s_err (ctx, "api_key_hash is not a hex SHA-256");
    }
    else {
        const char *key = s_get_string (ctx, object, "api_key", true);
        if (key && !s_api_key_ok (key))
            s_err_key (ctx, "api_key", "must be 8..256 visible ASCII characters");
        else
        if (key)
            pp_sha256_hex (key, strlen (key), self->pub.api_key_hash);
    }
    const cJSON *payout = s_member (ctx, object, "payout", true);
    if (payout) {
        size_t mark = s_push_key (ctx, "payout");
        if (!cJSON_IsObject (payout))
            s_err (ctx, "must be an object");
        else {
            s_check_keys (ctx, payout, s_payout_keys);
            bool revshare = s_member (ctx, payout, "revshare_percent", false) != NULL;
            bool fixed = s_member (ctx, payout, "fixed", false) != NULL;
            if (revshare == fixed)
                s_err (ctx, "must have exactly one of 'revshare_percent' or 'fixed'");
            else
            if (revshare) {
                self->pub.payout_kind = PP_PAYOUT_REVSHARE;
                s_get_int (ctx, payout, "revshare_percent", true, 0, 100,
                           &self->pub.revshare_percent);
            }
            else {
                self->pub.payout_kind = PP_PAYOUT_FIXED;
                s_get_money (ctx, payout, "fixed", true, false, &self->pub.payout_fixed_cents);
            }
        }
        s_pop (ctx, mark);
    }
    s_get_int (ctx, object, "rate_limit_per_second", false, 0, INT_MAX,
               &self->pub.rate_limit_per_second);

    if (ctx->problems > problems) {
        s_publisher_destroy (&self);
        return NULL;
    }
    //  The key itself is never kept: the stored spec is the object without it
    self->spec_json = s_print_without (object, "api_key");
    return self;
}

//  ---------------------------------------------------------------------------
//  Buyers

static const char *s_buyer_keys [] = { "name", "campaigns", NULL };

static void
s_buyer_destroy (s_buyer_t **self_p)
{
    s_buyer_t *self = *self_p;
    if (!self)
        return;
    free (self->pub.name);
    free (self->spec_json);
    free (self);
    *self_p = NULL;
}

//  A buyer object (its campaigns are the caller's business), or NULL.
static s_buyer_t *
s_buyer_parse (s_ctx_t *ctx, const cJSON *object)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return NULL;
    }
    size_t problems = ctx->problems;
    s_check_keys (ctx, object, s_buyer_keys);
    const char *name = s_get_name (ctx, object, "name", true);
    if (ctx->problems > problems)
        return NULL;
    s_buyer_t *self = (s_buyer_t *) zmalloc (sizeof (s_buyer_t));
    self->pub.name = strdup (name);
    assert (self->pub.name);
    self->spec_json = s_print_without (object, "campaigns");
    return self;
}

//  ---------------------------------------------------------------------------
//  Campaigns

static const char *s_campaign_keys [] = {
    "name", "vertical", "tier", "exclusive", "bid", "post", "filters", "schedule", "caps", NULL
};
static const char *s_bid_keys [] = { "fixed", "ping", NULL };
static const char *s_circuit_keys [] = { "failures", "cooldown_ms", NULL };
static const char *s_ping_keys [] = {
    "url", "timeout_ms", "price_pointer", "accept_pointer", "id_pointer", "circuit", NULL
};
static const char *s_post_keys [] = {
    "url", "timeout_ms", "format", "mapping", "constants", "accepted_when", NULL
};
static const char *s_formats [] = { "json", "form", NULL };
static const char *s_accepted_keys [] = { "pointer", "equals", "contains", "regex", NULL };
static const char *s_filter_keys [] = {
    "states", "zips", "zip_radius", "fields", "publishers", "sources", NULL
};
static const char *s_radius_keys [] = { "zip", "miles", NULL };
static const char *s_rule_keys [] = { "min", "max", "in", "not_in", "equals", "exists", NULL };
static const char *s_allow_keys [] = { "allow", "deny", NULL };
static const char *s_schedule_keys [] = { "time_zone", "hours", "holidays", NULL };
static const char *s_cap_keys [] = { "count", "amount", "per", "pacing", NULL };
static const char *s_cap_pers [] = { "hour", "day", "week", "month", "total", NULL };
//  What a mapping may take besides the vertical's fields.
static const char *s_meta_sources [] = {
    "lead_id", "ping_id", "vertical", "source", "sub_id", "publisher", "price", NULL
};

static void
s_pairs_free (pp_pair_t **pairs_p, size_t count)
{
    if (!*pairs_p)
        return;
    for (size_t i = 0; i < count; i++) {
        free ((*pairs_p) [i].key);
        free ((*pairs_p) [i].value);
    }
    free (*pairs_p);
    *pairs_p = NULL;
}

static void
s_campaign_destroy (pp_campaign_t **self_p)
{
    pp_campaign_t *self = *self_p;
    if (!self)
        return;
    free (self->name);
    free (self->ping_url);
    free (self->price_pointer);
    free (self->accept_pointer);
    free (self->id_pointer);
    free (self->post_url);
    s_pairs_free (&self->mapping, self->mapping_count);
    s_pairs_free (&self->constants, self->constant_count);
    free (self->accepted_pointer);
    free (self->accepted_equals);
    free (self->accepted_contains);
    free (self->accepted_regex);
    s_strings_free (&self->states, self->state_count);
    s_strings_free (&self->zips, self->zip_count);
    for (size_t i = 0; i < self->rule_count; i++) {
        pp_field_rule_t *rule = &self->rules [i];
        free (rule->field);
        s_strings_free (&rule->in, rule->in_count);
        s_strings_free (&rule->not_in, rule->not_in_count);
        free (rule->equals);
    }
    free (self->rules);
    free (self->schedule_json);
    free (self->time_zone);
    for (int day = 0; day < 7; day++)
        free (self->windows [day]);
    s_strings_free (&self->holidays, self->holiday_count);
    s_strings_free (&self->publishers_allow, self->publishers_allow_count);
    s_strings_free (&self->publishers_deny, self->publishers_deny_count);
    s_strings_free (&self->sources_allow, self->sources_allow_count);
    s_strings_free (&self->sources_deny, self->sources_deny_count);
    for (size_t i = 0; i < self->cap_count; i++)
        free (self->caps [i].per);
    free (self->caps);
    free (self->spec_json);
    free (self);
    *self_p = NULL;
}

//  A JSON pointer member: copied into *out (replacing a default).
static void
s_get_pointer (s_ctx_t *ctx, const cJSON *object, const char *key, char **out)
{
    const char *pointer = s_get_string (ctx, object, key, false);
    if (pointer && !s_pointer_ok (pointer))
        s_err_key (ctx, key, "must be a JSON pointer (\"\" or \"/a/b\")");
    else
    if (pointer) {
        free (*out);
        *out = strdup (pointer);
        assert (*out);
    }
}

static void
s_get_url (s_ctx_t *ctx, const cJSON *object, const char *key, char **out)
{
    const char *url = s_get_string (ctx, object, key, true);
    if (url && !s_url_ok (url))
        s_err_key (ctx, key, "must be an http:// or https:// URL");
    else
    if (url) {
        *out = strdup (url);
        assert (*out);
    }
}

static void
s_bid_parse (s_ctx_t *ctx, const cJSON *bid, pp_campaign_t *self)
{
    if (!cJSON_IsObject (bid)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, bid, s_bid_keys);
    const cJSON *fixed = s_member (ctx, bid, "fixed", false);
    const cJSON *ping = s_member (ctx, bid, "ping", false);
    if (!fixed == !ping) {
        s_err (ctx, "must have exactly one of 'fixed' or 'ping'");
        return;
    }
    if (fixed) {
        self->bid_kind = PP_BID_FIXED;
        s_get_money (ctx, bid, "fixed", true, true, &self->bid_fixed_cents);
        return;
    }
    self->bid_kind = PP_BID_PING;
    size_t mark = s_push_key (ctx, "ping");
    if (!cJSON_IsObject (ping))
        s_err (ctx, "must be an object");
    else {
        s_check_keys (ctx, ping, s_ping_keys);
        s_get_url (ctx, ping, "url", &self->ping_url);
        self->ping_timeout_ms = 500;
        s_get_int (ctx, ping, "timeout_ms", false, 1, 60000, &self->ping_timeout_ms);
        self->price_pointer = strdup ("/bid");
        self->id_pointer = strdup ("/id");
        assert (self->price_pointer && self->id_pointer);
        s_get_pointer (ctx, ping, "price_pointer", &self->price_pointer);
        s_get_pointer (ctx, ping, "accept_pointer", &self->accept_pointer);
        s_get_pointer (ctx, ping, "id_pointer", &self->id_pointer);
        self->circuit_failures = 5;
        self->circuit_cooldown_ms = 30000;
        const cJSON *circuit = s_member (ctx, ping, "circuit", false);
        if (circuit) {
            size_t inner = s_push_key (ctx, "circuit");
            if (!cJSON_IsObject (circuit))
                s_err (ctx, "must be an object");
            else {
                s_check_keys (ctx, circuit, s_circuit_keys);
                s_get_int (ctx, circuit, "failures", false, 1, 1000, &self->circuit_failures);
                s_get_int (ctx, circuit, "cooldown_ms", false, 100, 3600000,
                           &self->circuit_cooldown_ms);
            }
            s_pop (ctx, inner);
        }
    }
    s_pop (ctx, mark);
}

static bool
s_source_ok (const pp_vertical_t *vertical, const char *source)
{
    for (size_t i = 0; s_meta_sources [i]; i++)
        if (streq (source, s_meta_sources [i]))
            return true;
    return vertical == NULL || pp_vertical_field (vertical, source) != NULL;
}

//  mapping (values are field names) or constants (values are scalars kept
//  as JSON text): an object of target -> value, in file order.
static void
s_pairs_parse (s_ctx_t *ctx, const cJSON *object, bool constants, const pp_vertical_t *vertical,
               pp_pair_t **pairs_p, size_t *count_p)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return;
    }
    size_t size = (size_t) cJSON_GetArraySize (object);
    pp_pair_t *pairs = (pp_pair_t *) calloc (size ? size : 1, sizeof (pp_pair_t));
    assert (pairs);
    size_t count = 0;
    s_index_t seen = { 0 };
    const cJSON *child;
    cJSON_ArrayForEach (child, object) {
        const char *key = child->string ? child->string : "";
        size_t mark = s_push_key (ctx, key);
        char clipped [64];
        if (!s_target_ok (key))
            s_err (ctx, "target must be 1..256 characters, parts split by single '/'");
        else
        if (s_index_put (&seen, key, 0, (void *) child))
            s_err (ctx, "duplicate key '%s'", s_clip (key, clipped, sizeof clipped));
        else
        if (constants) {
            if (!s_is_scalar (child))
                s_err (ctx, "must be a string, number or boolean");
            else {
                pairs [count].key = strdup (key);
                pairs [count].value = s_print (child);
                assert (pairs [count].key);
                count++;
            }
        }
        else {
            if (!cJSON_IsString (child))
                s_err (ctx, "must be a field name (string)");
            else
            if (!s_source_ok (vertical, child->valuestring))
                s_err (ctx, "unknown source field '%s'",
                       s_clip (child->valuestring, clipped, sizeof clipped));
            else {
                pairs [count].key = strdup (key);
                pairs [count].value = strdup (child->valuestring);
                assert (pairs [count].key && pairs [count].value);
                count++;
            }
        }
        s_pop (ctx, mark);
    }
    s_index_clear (&seen);
    *pairs_p = pairs;
    *count_p = count;
}

static void
s_accepted_parse (s_ctx_t *ctx, const cJSON *object, pp_campaign_t *self)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, object, s_accepted_keys);
    const cJSON *pointer = s_member (ctx, object, "pointer", false);
    const cJSON *equals = s_member (ctx, object, "equals", false);
    bool contains = s_member (ctx, object, "contains", false) != NULL;
    bool regex = s_member (ctx, object, "regex", false) != NULL;
    if ((pointer || equals) + contains + regex != 1) {
        s_err (ctx, "must have exactly one of 'pointer' with 'equals', 'contains' or 'regex'");
        return;
    }
    if (pointer || equals) {
        s_member (ctx, object, "pointer", true);        //  both or neither
        s_member (ctx, object, "equals", true);
        s_get_pointer (ctx, object, "pointer", &self->accepted_pointer);
        if (equals && !s_is_scalar (equals))
            s_err_key (ctx, "equals", "must be a string, number or boolean");
        else
        if (equals)
            self->accepted_equals = s_print (equals);
    }
    else
    if (contains) {
        const char *text = s_get_string (ctx, object, "contains", true);
        if (text && !*text)
            s_err_key (ctx, "contains", "must not be empty");
        else
        if (text) {
            self->accepted_contains = strdup (text);
            assert (self->accepted_contains);
        }
    }
    else {
        const char *text = s_get_string (ctx, object, "regex", true);
        if (text) {
            regex_t compiled;
            if (!*text || regcomp (&compiled, text, REG_EXTENDED | REG_NOSUB) != 0)
                s_err_key (ctx, "regex", "must be a POSIX extended regular expression");
            else {
                regfree (&compiled);
                self->accepted_regex = strdup (text);
                assert (self->accepted_regex);
            }
        }
    }
}

static void
s_post_parse (s_ctx_t *ctx, const cJSON *post, pp_campaign_t *self)
{
    if (!cJSON_IsObject (post)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, post, s_post_keys);
    s_get_url (ctx, post, "url", &self->post_url);
    self->post_timeout_ms = 2000;
    s_get_int (ctx, post, "timeout_ms", false, 1, 120000, &self->post_timeout_ms);
    self->post_format = PP_POST_JSON;
    int format = s_get_word (ctx, post, "format", s_formats, "'json' or 'form'");
    if (format == 1)
        self->post_format = PP_POST_FORM;
    const cJSON *mapping = s_member (ctx, post, "mapping", false);
    if (mapping) {
        size_t mark = s_push_key (ctx, "mapping");
        s_pairs_parse (ctx, mapping, false, self->vertical, &self->mapping, &self->mapping_count);
        s_pop (ctx, mark);
    }
    const cJSON *constants = s_member (ctx, post, "constants", false);
    if (constants) {
        size_t mark = s_push_key (ctx, "constants");
        s_pairs_parse (ctx, constants, true, NULL, &self->constants, &self->constant_count);
        //  A constant and a mapped field of the same name: one would be lost
        for (size_t i = 0; i < self->constant_count; i++)
            for (size_t j = 0; j < self->mapping_count; j++)
                if (streq (self->constants [i].key, self->mapping [j].key))
                    s_err_key (ctx, self->constants [i].key, "is also a mapping target");
        s_pop (ctx, mark);
    }
    const cJSON *accepted = s_member (ctx, post, "accepted_when", false);
    if (accepted) {
        size_t mark = s_push_key (ctx, "accepted_when");
        s_accepted_parse (ctx, accepted, self);
        s_pop (ctx, mark);
    }
}

//  In/not_in entries as text: strings as they are, numbers and booleans as JSON.
static void
s_scalar_list (s_ctx_t *ctx, const cJSON *array, char ***list_p, size_t *count_p)
{
    if (!cJSON_IsArray (array) || cJSON_GetArraySize (array) == 0) {
        s_err (ctx, "must be a non-empty array of strings, numbers or booleans");
        return;
    }
    size_t size = (size_t) cJSON_GetArraySize (array);
    char **list = (char **) calloc (size, sizeof (char *));
    assert (list);
    size_t count = 0, i = 0;
    const cJSON *entry;
    cJSON_ArrayForEach (entry, array) {
        if (!s_is_scalar (entry))
            s_err_index (ctx, i, "must be a string, number or boolean");
        else {
            //  Numbers as pp_json_scalar_text writes them, the form filter
            //  compares a lead's values in (1000000000000000, not 1e+15)
            char number [40];
            const char *text = pp_json_scalar_text (entry, number, sizeof number);
            list [count] = strdup (text ? text : "");
            assert (list [count]);
            count++;
        }
        i++;
    }
    *list_p = list;
    *count_p = count;
}

static void
s_rule_parse (s_ctx_t *ctx, const cJSON *object, const pp_field_spec_t *field,
              pp_field_rule_t *rule)
{
    rule->exists = -1;
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, object, s_rule_keys);
    bool has_range = s_member (ctx, object, "min", false) || s_member (ctx, object, "max", false);
    if (has_range && field && !s_type_is_number (field->type))
        s_err_key (ctx, s_member (ctx, object, "min", false) ? "min" : "max",
                   "only applies to integer and number fields");
    else
    if (has_range) {
        rule->has_min = s_get_number (ctx, object, "min", false, &rule->min);
        rule->has_max = s_get_number (ctx, object, "max", false, &rule->max);
        if (rule->has_min && rule->has_max && rule->min > rule->max)
            s_err_key (ctx, "max", "must not be less than min");
    }
    const cJSON *in = s_member (ctx, object, "in", false);
    if (in) {
        size_t mark = s_push_key (ctx, "in");
        s_scalar_list (ctx, in, &rule->in, &rule->in_count);
        s_pop (ctx, mark);
    }
    const cJSON *not_in = s_member (ctx, object, "not_in", false);
    if (not_in) {
        size_t mark = s_push_key (ctx, "not_in");
        s_scalar_list (ctx, not_in, &rule->not_in, &rule->not_in_count);
        s_pop (ctx, mark);
    }
    const cJSON *equals = s_member (ctx, object, "equals", false);
    if (equals && !s_is_scalar (equals))
        s_err_key (ctx, "equals", "must be a string, number or boolean");
    else
    if (equals)
        rule->equals = s_print (equals);
    bool exists;
    if (s_get_bool (ctx, object, "exists", false, &exists))
        rule->exists = exists ? 1 : 0;
}

static void
s_allow_deny_parse (s_ctx_t *ctx, const cJSON *object, bool names, char ***allow,
                    size_t *allow_count, char ***deny, size_t *deny_count)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, object, s_allow_keys);
    for (size_t i = 0; s_allow_keys [i]; i++) {
        const cJSON *list = s_member (ctx, object, s_allow_keys [i], false);
        if (list) {
            size_t mark = s_push_key (ctx, s_allow_keys [i]);
            //  An empty allow list would let nothing through: surely a mistake
            s_string_list (ctx, list, i == 0, names ? s_name_ok : NULL,
                           names ? S_NAME_RULE : "must be 1..256 bytes", i == 0 ? allow : deny,
                           i == 0 ? allow_count : deny_count);
            s_pop (ctx, mark);
        }
    }
}

static void
s_filters_parse (s_ctx_t *ctx, const cJSON *filters, pp_campaign_t *self)
{
    if (!cJSON_IsObject (filters)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, filters, s_filter_keys);
    const cJSON *states = s_member (ctx, filters, "states", false);
    if (states) {
        size_t mark = s_push_key (ctx, "states");
        s_string_list (ctx, states, true, s_state_ok,
                       "is not a US state code (two capitals, DC and PR included)",
                       &self->states, &self->state_count);
        s_pop (ctx, mark);
    }
    const cJSON *zips = s_member (ctx, filters, "zips", false);
    if (zips) {
        size_t mark = s_push_key (ctx, "zips");
        s_string_list (ctx, zips, true, s_zip_ok, "is not a 5-digit ZIP", &self->zips,
                       &self->zip_count);
        s_pop (ctx, mark);
    }
    const cJSON *radius = s_member (ctx, filters, "zip_radius", false);
    if (radius) {
        size_t mark = s_push_key (ctx, "zip_radius");
        if (!cJSON_IsObject (radius))
            s_err (ctx, "must be an object");
        else {
            s_check_keys (ctx, radius, s_radius_keys);
            const char *zip = s_get_string (ctx, radius, "zip", true);
            if (zip && !s_zip_ok (zip))
                s_err_key (ctx, "zip", "must be a 5-digit ZIP");
            double miles = 0;
            bool have_miles = s_get_number (ctx, radius, "miles", true, &miles);
            if (have_miles && !(miles > 0 && miles <= 500))
                s_err_key (ctx, "miles", "must be more than 0 and at most 500");
            else
            if (have_miles && zip && s_zip_ok (zip)) {
                snprintf (self->radius_zip, sizeof self->radius_zip, "%s", zip);
                self->radius_miles = miles;
            }
        }
        s_pop (ctx, mark);
    }
    const cJSON *fields = s_member (ctx, filters, "fields", false);
    if (fields) {
        size_t mark = s_push_key (ctx, "fields");
        if (!cJSON_IsObject (fields))
            s_err (ctx, "must be an object");
        else {
            size_t size = (size_t) cJSON_GetArraySize (fields);
            self->rules = (pp_field_rule_t *) calloc (size ? size : 1, sizeof (pp_field_rule_t));
            assert (self->rules);
            s_index_t seen = { 0 };
            const cJSON *child;
            cJSON_ArrayForEach (child, fields) {
                const char *key = child->string ? child->string : "";
                size_t field_mark = s_push_key (ctx, key);
                const pp_field_spec_t *field =
                    self->vertical ? pp_vertical_field (self->vertical, key) : NULL;
                char clipped [64];
                if (self->vertical && !field)
                    s_err (ctx, "unknown field '%s' (not in vertical '%s')",
                           s_clip (key, clipped, sizeof clipped), self->vertical->name);
                else
                if (s_index_put (&seen, key, 0, (void *) child))
                    s_err (ctx, "duplicate key '%s'", s_clip (key, clipped, sizeof clipped));
                else {
                    pp_field_rule_t *rule = &self->rules [self->rule_count++];
                    rule->field = strdup (key);
                    assert (rule->field);
                    s_rule_parse (ctx, child, field, rule);
                }
                s_pop (ctx, field_mark);
            }
            s_index_clear (&seen);
        }
        s_pop (ctx, mark);
    }
    const cJSON *publishers = s_member (ctx, filters, "publishers", false);
    if (publishers) {
        size_t mark = s_push_key (ctx, "publishers");
        s_allow_deny_parse (ctx, publishers, true, &self->publishers_allow,
                            &self->publishers_allow_count, &self->publishers_deny,
                            &self->publishers_deny_count);
        s_pop (ctx, mark);
    }
    const cJSON *sources = s_member (ctx, filters, "sources", false);
    if (sources) {
        size_t mark = s_push_key (ctx, "sources");
        s_allow_deny_parse (ctx, sources, false, &self->sources_allow,
                            &self->sources_allow_count, &self->sources_deny,
                            &self->sources_deny_count);
        s_pop (ctx, mark);
    }
}

//  Add a window "HH:MM-HH:MM" to every day of mask (bit 0 = Monday).
static void
s_add_window (pp_campaign_t *self, unsigned mask, const char *text)
{
    pp_window_t window = {atoi (text) * 60 + atoi (text + 3), atoi (text + 6) * 60 + atoi (text + 9)};
    for (int day = 0; day < 7; day++) {
        if (!(mask & (1u << day)))
            continue;
        int wday = (day + 1) % 7;       //  tm_wday: Sunday = 0
        self->windows [wday] = (pp_window_t *) realloc (
            self->windows [wday], (self->window_count [wday] + 1) * sizeof (pp_window_t));
        assert (self->windows [wday]);
        self->windows [wday] [self->window_count [wday]++] = window;
    }
}

static void
s_schedule_parse (s_ctx_t *ctx, const cJSON *schedule, pp_campaign_t *self)
{
    if (!cJSON_IsObject (schedule)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, schedule, s_schedule_keys);
    const char *zone = s_get_string (ctx, schedule, "time_zone", true);
    if (zone && !s_time_zone_ok (zone)) {
        char clipped [64];
        s_err_key (ctx, "time_zone", "unknown time zone '%s'",
                   s_clip (zone, clipped, sizeof clipped));
    }
    else
    if (zone) {
        self->time_zone = strdup (zone);
        assert (self->time_zone);
    }
    const cJSON *hours = s_member (ctx, schedule, "hours", false);
    if (hours) {
        size_t mark = s_push_key (ctx, "hours");
        if (!cJSON_IsObject (hours))
            s_err (ctx, "must be an object");
        else {
            self->has_hours = true;
            unsigned covered = 0;
            const cJSON *child;
            cJSON_ArrayForEach (child, hours) {
                const char *key = child->string ? child->string : "";
                size_t day_mark = s_push_key (ctx, key);
                unsigned days = s_day_mask (key);
                if (!days)
                    s_err (ctx, "must be a day or a forward range of days (mon, mon-fri...)");
                else
                if (covered & days)
                    s_err (ctx, "repeats a day given before");
                covered |= days;
                if (cJSON_IsString (child)) {
                    if (!s_window_ok (child->valuestring))
                        s_err (ctx, "must be \"HH:MM-HH:MM\" with the start before the end");
                    else
                        s_add_window (self, days, child->valuestring);
                }
                else
                if (cJSON_IsArray (child) && cJSON_GetArraySize (child) > 0) {
                    s_string_list (ctx, child, true, s_window_ok,
                                   "must be \"HH:MM-HH:MM\" with the start before the end",
                                   NULL, NULL);
                    const cJSON *window;
                    cJSON_ArrayForEach (window, child)
                        if (cJSON_IsString (window) && s_window_ok (window->valuestring))
                            s_add_window (self, days, window->valuestring);
                }
                else
                    s_err (ctx, "must be \"HH:MM-HH:MM\" or a non-empty array of such");
                s_pop (ctx, day_mark);
            }
        }
        s_pop (ctx, mark);
    }
    const cJSON *holidays = s_member (ctx, schedule, "holidays", false);
    if (holidays) {
        size_t mark = s_push_key (ctx, "holidays");
        s_string_list (ctx, holidays, false, s_date_ok, "is not a date YYYY-MM-DD",
                       &self->holidays, &self->holiday_count);
        s_pop (ctx, mark);
    }
}

static void
s_caps_parse (s_ctx_t *ctx, const cJSON *caps, pp_campaign_t *self)
{
    if (!cJSON_IsArray (caps)) {
        s_err (ctx, "must be an array");
        return;
    }
    size_t size = (size_t) cJSON_GetArraySize (caps);
    self->caps = (pp_cap_t *) calloc (size ? size : 1, sizeof (pp_cap_t));
    assert (self->caps);
    size_t i = 0;
    const cJSON *cap;
    cJSON_ArrayForEach (cap, caps) {
        size_t mark = s_push_index (ctx, i++);
        if (!cJSON_IsObject (cap))
            s_err (ctx, "must be an object");
        else {
            s_check_keys (ctx, cap, s_cap_keys);
            pp_cap_t *entry = &self->caps [self->cap_count++];
            bool count = s_member (ctx, cap, "count", false) != NULL;
            bool amount = s_member (ctx, cap, "amount", false) != NULL;
            if (count == amount)
                s_err (ctx, "must have exactly one of 'count' or 'amount'");
            else
            if (count)
                s_get_int (ctx, cap, "count", true, 1, INT_MAX, &entry->count);
            else
                s_get_money (ctx, cap, "amount", true, true, &entry->amount_cents);
            s_member (ctx, cap, "per", true);
            int per = s_get_word (ctx, cap, "per", s_cap_pers,
                                  "one of hour day week month total");
            if (per >= 0) {
                entry->per = strdup (s_cap_pers [per]);
                assert (entry->per);
            }
            //  Pacing spreads a day's limit over the day's open hours: a
            //  cap of any other period has no day to spread it over
            const char *pacing = s_get_string (ctx, cap, "pacing", false);
            if (pacing) {
                if (!streq (pacing, "even")) {
                    char clipped [64];
                    s_err_key (ctx, "pacing", "campaign '%s': unknown pacing '%s', must be 'even'",
                               self->name, s_clip (pacing, clipped, sizeof clipped));
                }
                else
                if (per >= 0 && !streq (s_cap_pers [per], "day"))
                    s_err_key (ctx, "pacing", "campaign '%s': pacing applies only to a cap"
                               " per day, not per %s", self->name, s_cap_pers [per]);
                else
                    entry->pacing_even = true;
            }
        }
        s_pop (ctx, mark);
    }
}

//  A campaign object of buyer, or NULL (problems recorded). Its vertical is
//  looked up in market; an unknown one is a problem unless the file has a
//  vertical of that name that failed on its own (reported there already).
static pp_campaign_t *
s_campaign_parse (s_ctx_t *ctx, const cJSON *object, const pp_market_t *market,
                  pp_buyer_t *buyer)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return NULL;
    }
    size_t problems = ctx->problems;
    s_check_keys (ctx, object, s_campaign_keys);
    pp_campaign_t *self = (pp_campaign_t *) zmalloc (sizeof (pp_campaign_t));
    self->buyer = buyer;
    const char *name = s_get_name (ctx, object, "name", true);
    self->name = strdup (name ? name : "");
    assert (self->name);
    const char *vertical = s_get_string (ctx, object, "vertical", true);
    if (vertical) {
        self->vertical = pp_market_vertical (market, vertical);
        if (!self->vertical && !s_index_find (&ctx->vertical_names, vertical, 0)) {
            char clipped [64];
            s_err_key (ctx, "vertical", "unknown vertical '%s'",
                       s_clip (vertical, clipped, sizeof clipped));
        }
    }
    self->tier = 1;
    s_get_int (ctx, object, "tier", false, 1, INT_MAX, &self->tier);
    self->exclusive = true;
    s_get_bool (ctx, object, "exclusive", false, &self->exclusive);

    const cJSON *bid = s_member (ctx, object, "bid", true);
    if (bid) {
        size_t mark = s_push_key (ctx, "bid");
        s_bid_parse (ctx, bid, self);
        s_pop (ctx, mark);
    }
    const cJSON *post = s_member (ctx, object, "post", true);
    if (post) {
        size_t mark = s_push_key (ctx, "post");
        s_post_parse (ctx, post, self);
        s_pop (ctx, mark);
    }
    const cJSON *filters = s_member (ctx, object, "filters", false);
    if (filters) {
        size_t mark = s_push_key (ctx, "filters");
        s_filters_parse (ctx, filters, self);
        s_pop (ctx, mark);
    }
    const cJSON *schedule = s_member (ctx, object, "schedule", false);
    if (schedule) {
        size_t mark = s_push_key (ctx, "schedule");
        s_schedule_parse (ctx, schedule, self);
        s_pop (ctx, mark);
        self->schedule_json = s_print (schedule);
    }
    const cJSON *caps = s_member (ctx, object, "caps", false);
    if (caps) {
        size_t mark = s_push_key (ctx, "caps");
        s_caps_parse (ctx, caps, self);
        s_pop (ctx, mark);
    }
    if (ctx->problems > problems) {
        s_campaign_destroy (&self);
        return NULL;
    }
    self->spec_json = s_print (object);
    return self;
}

//  ---------------------------------------------------------------------------
//  Blacklist: stored whole, checked entry by entry.

static const char *s_blacklist_keys [] = {
    "phones", "emails", "email_domains", "ips", "cidrs", "names", NULL
};

static void
s_blacklist_check (s_ctx_t *ctx, const cJSON *object)
{
    if (!cJSON_IsObject (object)) {
        s_err (ctx, "must be an object");
        return;
    }
    s_check_keys (ctx, object, s_blacklist_keys);
    static bool (*const checks []) (const char *) = {
        s_phone_ok, s_email_ok, s_domain_ok, s_ip_ok, s_cidr_ok, s_text_ok
    };
    static const char *rules [] = {
        "is not a US phone number", "is not an email address", "is not a domain name",
        "is not an IPv4 or IPv6 address", "is not a CIDR block (address/bits)",
        "must be 1..256 bytes"
    };
    for (size_t i = 0; s_blacklist_keys [i]; i++) {
        const cJSON *list = s_member (ctx, object, s_blacklist_keys [i], false);
        if (list) {
            size_t mark = s_push_key (ctx, s_blacklist_keys [i]);
            s_string_list (ctx, list, false, checks [i], rules [i], NULL, NULL);
            s_pop (ctx, mark);
        }
    }
}

//  ---------------------------------------------------------------------------
//  Market building

static pp_market_t *
s_market_new (void)
{
    pp_market_t *self = (pp_market_t *) zmalloc (sizeof (pp_market_t));
    atomic_init (&self->refs, 1);
    s_auction_defaults (&self->auction);
    return self;
}

static void
s_market_destroy (pp_market_t **self_p)
{
    pp_market_t *self = *self_p;
    if (!self)
        return;
    free (self->auction_json);
    for (size_t i = 0; i < self->vertical_count; i++)
        s_vertical_destroy (&self->verticals [i]);
    free (self->verticals);
    for (size_t i = 0; i < self->publisher_count; i++)
        s_publisher_destroy (&self->publishers [i]);
    free (self->publishers);
    for (size_t i = 0; i < self->buyer_count; i++)
        s_buyer_destroy (&self->buyers [i]);
    free (self->buyers);
    for (size_t i = 0; i < self->campaign_count; i++)
        s_campaign_destroy (&self->campaigns [i]);
    free (self->campaigns);
    for (size_t i = 0; i < self->section_count; i++) {
        free (self->sections [i].name);
        free (self->sections [i].spec_json);
    }
    free (self->sections);
    s_index_clear (&self->vertical_by_name);
    s_index_clear (&self->publisher_by_hash);
    s_index_clear (&self->publisher_by_id);
    s_index_clear (&self->buyer_by_name);
    s_index_clear (&self->campaign_by_name);
    s_index_clear (&self->campaign_by_id);
    free (self);
    *self_p = NULL;
}

//  Grow a pointer array to hold one more entry.
static void *
s_grow (void *array, size_t count, size_t *cap)
{
    if (count < *cap)
        return array;
    *cap = *cap ? *cap * 2 : 8;
    array = realloc (array, *cap * sizeof (void *));
    assert (array);
    return array;
}

//  Add objects to the model, taking ownership. Names (and key hashes) must
//  be new: callers check first, so a clash is a broken invariant.
static void
s_market_add_vertical (pp_market_t *self, s_vertical_t *vertical)
{
    void *clash = s_index_put (&self->vertical_by_name, vertical->pub.name, 0, vertical);
    assert (!clash);
    self->verticals = (s_vertical_t **) s_grow (self->verticals, self->vertical_count,
                                                &self->vertical_cap);
    self->verticals [self->vertical_count++] = vertical;
}

static void
s_market_add_publisher (pp_market_t *self, s_publisher_t *publisher)
{
    void *clash = s_index_put (&self->publisher_by_hash, publisher->pub.api_key_hash, 0,
                               publisher);
    assert (!clash);
    if (publisher->pub.id) {
        clash = s_index_put (&self->publisher_by_id, NULL, publisher->pub.id, publisher);
        assert (!clash);
    }
    self->publishers = (s_publisher_t **) s_grow (self->publishers, self->publisher_count,
                                                  &self->publisher_cap);
    self->publishers [self->publisher_count++] = publisher;
}

static void
s_market_add_buyer (pp_market_t *self, s_buyer_t *buyer)
{
    void *clash = s_index_put (&self->buyer_by_name, buyer->pub.name, 0, buyer);
    assert (!clash);
    self->buyers = (s_buyer_t **) s_grow (self->buyers, self->buyer_count, &self->buyer_cap);
    self->buyers [self->buyer_count++] = buyer;
}

static void
s_market_add_campaign (pp_market_t *self, pp_campaign_t *campaign)
{
    void *clash = s_index_put (&self->campaign_by_name, campaign->name, 0, campaign);
    assert (!clash);
    if (campaign->id) {
        clash = s_index_put (&self->campaign_by_id, NULL, campaign->id, campaign);
        assert (!clash);
    }
    self->campaigns = (pp_campaign_t **) s_grow (self->campaigns, self->campaign_count,
                                                 &self->campaign_cap);
    self->campaigns [self->campaign_count++] = campaign;
}

static void
s_market_add_section (pp_market_t *self, const char *name, char *spec_json)
{
    self->sections = (s_section_t *) realloc (self->sections,
                                              (self->section_count + 1) * sizeof (s_section_t));
    assert (self->sections);
    self->sections [self->section_count].name = strdup (name);
    assert (self->sections [self->section_count].name);
    self->sections [self->section_count].spec_json = spec_json;
    self->section_count++;
}

//  The valid name of an object, if it has one (for duplicate checks).
static const char *
s_object_name (const cJSON *object)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (object, "name");
    return cJSON_IsString (name) && s_name_ok (name->valuestring) ? name->valuestring : NULL;
}

//  Note a name in a per-kind set; reports a duplicate at .name.
static void
s_unique_name (s_ctx_t *ctx, s_index_t *seen, const cJSON *object)
{
    const char *name = s_object_name (object);
    if (name && s_index_put (seen, name, 0, (void *) object))
        s_err_key (ctx, "name", "duplicate name '%s'", name);
}

static const char *s_top_keys [] = {
    "auction", "verticals", "publishers", "buyers", "blacklist", NULL
};

static const cJSON *
s_top_array (s_ctx_t *ctx, const cJSON *root, const char *key)
{
    const cJSON *array = s_member (ctx, root, key, false);
    if (array && !cJSON_IsArray (array)) {
        s_err_key (ctx, key, "must be an array");
        return NULL;
    }
    return array;
}

//  ---------------------------------------------------------------------------
//  The whole file: every section, every object, every problem. Objects with
//  problems are not added; the caller throws the market away if any.

static void
s_market_from_file (s_ctx_t *ctx, pp_market_t *self, const cJSON *root)
{
    s_check_keys (ctx, root, s_top_keys);
    const cJSON *auction = s_member (ctx, root, "auction", false);
    if (auction) {
        size_t mark = s_push_key (ctx, "auction");
        size_t before = ctx->problems;
        s_auction_parse (ctx, auction, &self->auction);
        if (ctx->problems == before)
            self->auction_json = s_print (auction);
        s_pop (ctx, mark);
    }
    const cJSON *verticals = s_top_array (ctx, root, "verticals");
    const cJSON *item;
    size_t i = 0;
    cJSON_ArrayForEach (item, verticals) {
        size_t mark = s_push_key (ctx, "verticals");
        s_push_index (ctx, i++);
        s_unique_name (ctx, &ctx->vertical_names, item);
        s_vertical_t *vertical = s_vertical_parse (ctx, item);
        if (vertical && !pp_market_vertical (self, vertical->pub.name))
            s_market_add_vertical (self, vertical);
        else
            s_vertical_destroy (&vertical);
        s_pop (ctx, mark);
    }
    s_index_t seen = { 0 };
    const cJSON *publishers = s_top_array (ctx, root, "publishers");
    i = 0;
    cJSON_ArrayForEach (item, publishers) {
        size_t mark = s_push_key (ctx, "publishers");
        s_push_index (ctx, i++);
        s_unique_name (ctx, &seen, item);
        s_publisher_t *publisher = s_publisher_parse (ctx, item, NULL);
        if (publisher) {
            s_publisher_t *other = (s_publisher_t *) s_index_find (
                &self->publisher_by_hash, publisher->pub.api_key_hash, 0);
            if (other)
                s_err_key (ctx, "api_key", "same api_key as publisher '%s'", other->pub.name);
            else {
                s_market_add_publisher (self, publisher);
                publisher = NULL;
            }
        }
        s_publisher_destroy (&publisher);
        s_pop (ctx, mark);
    }
    s_index_clear (&seen);

    s_index_t campaign_names = { 0 };
    const cJSON *buyers = s_top_array (ctx, root, "buyers");
    i = 0;
    cJSON_ArrayForEach (item, buyers) {
        size_t mark = s_push_key (ctx, "buyers");
        s_push_index (ctx, i++);
        s_unique_name (ctx, &seen, item);
        s_buyer_t *buyer = s_buyer_parse (ctx, item);
        const cJSON *campaigns = cJSON_IsObject (item)
                               ? s_member (ctx, item, "campaigns", false) : NULL;
        if (campaigns && !cJSON_IsArray (campaigns)) {
            s_err_key (ctx, "campaigns", "must be an array");
            campaigns = NULL;
        }
        if (buyer && !s_index_find (&self->buyer_by_name, buyer->pub.name, 0))
            s_market_add_buyer (self, buyer);
        else
            s_buyer_destroy (&buyer);
        size_t k = 0;
        const cJSON *object;
        cJSON_ArrayForEach (object, campaigns) {
            size_t campaign_mark = s_push_key (ctx, "campaigns");
            s_push_index (ctx, k++);
            s_unique_name (ctx, &campaign_names, object);
            pp_campaign_t *campaign = s_campaign_parse (ctx, object, self,
                                                        buyer ? &buyer->pub : NULL);
            if (campaign && buyer && !pp_market_campaign (self, campaign->name))
                s_market_add_campaign (self, campaign);
            else
                s_campaign_destroy (&campaign);
            s_pop (ctx, campaign_mark);
        }
        s_pop (ctx, mark);
    }
    s_index_clear (&seen);
    s_index_clear (&campaign_names);

    const cJSON *blacklist = s_member (ctx, root, "blacklist", false);
    if (blacklist) {
        size_t mark = s_push_key (ctx, "blacklist");
        size_t before = ctx->problems;
        s_blacklist_check (ctx, blacklist);
        if (ctx->problems == before)
            s_market_add_section (self, "blacklist", s_print (blacklist));
        s_pop (ctx, mark);
    }
}

//  Line and column (1-based) of a byte offset, for parse errors.
static void
s_position (const char *text, size_t offset, size_t *line, size_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text [i] == '\n') {
            (*line)++;
            *column = 1;
        }
        else
            (*column)++;
    }
}

pp_market_t *
pp_market_parse (const char *json_text, size_t size, pp_market_error_t **errors_p,
                 size_t *error_count_p)
{
    assert (errors_p);
    assert (error_count_p);
    *errors_p = NULL;
    *error_count_p = 0;
    s_ctx_t ctx;
    s_ctx_init (&ctx);
    pp_market_t *self = NULL;
    cJSON *root = NULL;
    size_t bad = json_text ? s_utf8_check ((const unsigned char *) json_text, size) : 0;
    size_t line, column;
    if (!json_text)
        s_err (&ctx, "no input");
    else
    if (bad < size) {
        s_position (json_text, bad, &line, &column);
        s_err (&ctx, "not valid UTF-8 (line %zu, column %zu)", line, column);
    }
    else {
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts (json_text, size, &end, false);
        size_t offset = end && end >= json_text ? (size_t) (end - json_text) : 0;
        if (offset > size)
            offset = size;
        if (root) {
            //  Whitespace may follow the value; a NUL ends the text
            while (offset < size && json_text [offset] && strchr (" \t\r\n", json_text [offset]))
                offset++;
            if (offset < size && !json_text [offset])
                offset = size;
        }
        s_position (json_text, offset, &line, &column);
        if (!root)
            s_err (&ctx, "not valid JSON (line %zu, column %zu)", line, column);
        else
        if (offset < size)
            s_err (&ctx, "unexpected text after the JSON value (line %zu, column %zu)",
                   line, column);
        else
        if (!cJSON_IsObject (root))
            s_err (&ctx, "must be a JSON object");
        else {
            self = s_market_new ();
            s_market_from_file (&ctx, self, root);
        }
    }
    if (ctx.problems) {
        s_market_destroy (&self);
        *errors_p = ctx.errors;
        *error_count_p = ctx.error_count;
        ctx.errors = NULL;
        ctx.error_count = 0;
    }
    cJSON_Delete (root);
    s_ctx_destroy (&ctx);
    return self;
}

void
pp_market_errors_free (pp_market_error_t **errors_p, size_t count)
{
    assert (errors_p);
    pp_market_error_t *errors = *errors_p;
    if (!errors)
        return;
    for (size_t i = 0; i < count; i++) {
        free (errors [i].path);
        free (errors [i].message);
    }
    free (errors);
    *errors_p = NULL;
}

//  ---------------------------------------------------------------------------
//  Store. Upsert by name: objects of the database that the file does not
//  name are left as they are (a file may carry one buyer only; removing
//  things is not the apply command's job). Each upsert changes a row only
//  when something differs, so applying the same file twice touches nothing
//  and updated_at says when a row last really changed.

static const char *s_sql_store_auction =
    "INSERT INTO auction_settings (id, spec) VALUES (1, $1::jsonb) "
    "ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_at = now () "
    "WHERE auction_settings.spec IS DISTINCT FROM excluded.spec";

static const char *s_sql_store_vertical =
    "INSERT INTO verticals (name, spec) VALUES ($1, $2::jsonb) "
    "ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = now () "
    "WHERE verticals.spec IS DISTINCT FROM excluded.spec";

static const char *s_sql_store_publisher =
    "INSERT INTO publishers (name, api_key_hash, spec) VALUES ($1, $2, $3::jsonb) "
    "ON CONFLICT (name) DO UPDATE SET api_key_hash = excluded.api_key_hash, "
    "spec = excluded.spec, updated_at = now () "
    "WHERE publishers.spec IS DISTINCT FROM excluded.spec "
    "OR publishers.api_key_hash IS DISTINCT FROM excluded.api_key_hash";

static const char *s_sql_store_buyer =
    "INSERT INTO buyers (name, spec) VALUES ($1, $2::jsonb) "
    "ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = now () "
    "WHERE buyers.spec IS DISTINCT FROM excluded.spec";

//  The buyer's id comes from its name, upserted just before in the same
//  transaction; a campaign moved to another buyer gets the new buyer_id.
static const char *s_sql_store_campaign =
    "INSERT INTO campaigns (name, buyer_id, vertical, spec) "
    "SELECT $1, b.id, $3, $4::jsonb FROM buyers b WHERE b.name = $2 "
    "ON CONFLICT (name) DO UPDATE SET buyer_id = excluded.buyer_id, "
    "vertical = excluded.vertical, spec = excluded.spec, updated_at = now () "
    "WHERE campaigns.spec IS DISTINCT FROM excluded.spec "
    "OR campaigns.buyer_id IS DISTINCT FROM excluded.buyer_id "
    "OR campaigns.vertical IS DISTINCT FROM excluded.vertical";

static const char *s_sql_store_section =
    "INSERT INTO market_sections (name, spec) VALUES ($1, $2::jsonb) "
    "ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = now () "
    "WHERE market_sections.spec IS DISTINCT FROM excluded.spec";

int
pp_market_store (pp_market_t *self, pp_db_t *db)
{
    assert (self);
    assert (db);
    if (pp_db_command (db, "pp_market: begin", "BEGIN", 0, NULL))
        return -1;
    char what [128];
    int rc = 0;
    if (self->auction_json) {
        const char *params [] = { self->auction_json };
        rc = pp_db_command (db, "pp_market: store auction", s_sql_store_auction, 1, params);
    }
    for (size_t i = 0; rc == 0 && i < self->vertical_count; i++) {
        s_vertical_t *vertical = self->verticals [i];
        const char *params [] = { vertical->pub.name, vertical->spec_json };
        snprintf (what, sizeof what, "pp_market: store vertical '%s'", vertical->pub.name);
        rc = pp_db_command (db, what, s_sql_store_vertical, 2, params);
    }
    for (size_t i = 0; rc == 0 && i < self->publisher_count; i++) {
        s_publisher_t *publisher = self->publishers [i];
        const char *params [] = {
            publisher->pub.name, publisher->pub.api_key_hash, publisher->spec_json
        };
        snprintf (what, sizeof what, "pp_market: store publisher '%s'", publisher->pub.name);
        rc = pp_db_command (db, what, s_sql_store_publisher, 3, params);
    }
    for (size_t i = 0; rc == 0 && i < self->buyer_count; i++) {
        s_buyer_t *buyer = self->buyers [i];
        const char *params [] = { buyer->pub.name, buyer->spec_json };
        snprintf (what, sizeof what, "pp_market: store buyer '%s'", buyer->pub.name);
        rc = pp_db_command (db, what, s_sql_store_buyer, 2, params);
    }
    for (size_t i = 0; rc == 0 && i < self->campaign_count; i++) {
        pp_campaign_t *campaign = self->campaigns [i];
        const char *params [] = {
            campaign->name, campaign->buyer->name, campaign->vertical->name, campaign->spec_json
        };
        snprintf (what, sizeof what, "pp_market: store campaign '%s'", campaign->name);
        rc = pp_db_command (db, what, s_sql_store_campaign, 4, params);
    }
    for (size_t i = 0; rc == 0 && i < self->section_count; i++) {
        const char *params [] = { self->sections [i].name, self->sections [i].spec_json };
        snprintf (what, sizeof what, "pp_market: store section '%s'", self->sections [i].name);
        rc = pp_db_command (db, what, s_sql_store_section, 2, params);
    }
    //  The blacklist's entries also go into the blacklist table (only added:
    //  `pingpost blacklist remove` removes), which validate reads
    const char *blacklist = pp_market_section (self, "blacklist");
    if (rc == 0 && blacklist)
        rc = pp_blacklist_store_section (db, blacklist, NULL);
    if (rc == 0) {
        //  Delivered to listeners at COMMIT, and only if it happens
        const char *params [] = { PP_MARKET_CHANNEL, "" };
        rc = pp_db_command (db, "pp_market: notify", "SELECT pg_notify ($1, $2)", 2, params);
    }
    if (rc == 0)
        rc = pp_db_command (db, "pp_market: commit", "COMMIT", 0, NULL);
    if (rc) {
        //  A broken connection cannot roll back, but then nothing was committed either
        if (pp_db_command (db, "pp_market: rollback", "ROLLBACK", 0, NULL))
            return -1;
    }
    return rc;
}

//  ---------------------------------------------------------------------------
//  Load: every stored row goes through the same per-object parse as the
//  file, so what services run on is what apply validated. A row that no
//  longer parses (an older program wrote it?) is logged and skipped.

static void
s_log_skipped (s_ctx_t *ctx, const char *kind, const char *name)
{
    for (size_t i = 0; i < ctx->error_count; i++)
        zsys_warning ("pp_market: stored %s '%s' skipped: %s: %s", kind, name,
                      ctx->errors [i].path, ctx->errors [i].message);
    if (ctx->error_count == 0)
        zsys_warning ("pp_market: stored %s '%s' skipped", kind, name);
    s_ctx_reset (ctx);
}

static cJSON *
s_row_json (PGresult *result, int row, int column)
{
    return cJSON_Parse (PQgetvalue (result, row, column));
}

static uint32_t
s_row_id (PGresult *result, int row, int column)
{
    return (uint32_t) strtoul (PQgetvalue (result, row, column), NULL, 10);
}

//  Check that a row's name column agrees with its spec.
static void
s_check_row_name (s_ctx_t *ctx, const char *column, const char *spec_name)
{
    if (!streq (column, spec_name))
        s_err (ctx, "name differs from the row's name");
}

static int
s_load_rows (pp_market_t *self, pp_db_t *db, s_ctx_t *ctx)
{
    PGresult *result = pp_db_exec (db, "pp_market: load auction",
                                   "SELECT spec::text FROM auction_settings WHERE id = 1",
                                   0, NULL);
    if (!result)
        return -1;
    if (PQntuples (result) == 1) {
        cJSON *spec = s_row_json (result, 0, 0);
        pp_auction_t auction;
        s_auction_parse (ctx, spec, &auction);
        if (ctx->problems)
            s_log_skipped (ctx, "auction", "settings");
        else {
            self->auction = auction;
            self->auction_json = s_print (spec);
        }
        cJSON_Delete (spec);
    }
    PQclear (result);

    result = pp_db_exec (db, "pp_market: load verticals",
                         "SELECT id, name, spec::text FROM verticals ORDER BY id", 0, NULL);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++) {
        const char *name = PQgetvalue (result, row, 1);
        cJSON *spec = s_row_json (result, row, 2);
        s_vertical_t *vertical = s_vertical_parse (ctx, spec);
        if (vertical)
            s_check_row_name (ctx, name, vertical->pub.name);
        if (vertical && !ctx->problems && !pp_market_vertical (self, name)) {
            vertical->pub.id = s_row_id (result, row, 0);
            s_market_add_vertical (self, vertical);
        }
        else {
            s_vertical_destroy (&vertical);
            s_log_skipped (ctx, "vertical", name);
        }
        cJSON_Delete (spec);
    }
    PQclear (result);

    result = pp_db_exec (db, "pp_market: load publishers",
                         "SELECT id, name, api_key_hash, spec::text FROM publishers ORDER BY id",
                         0, NULL);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++) {
        const char *name = PQgetvalue (result, row, 1);
        cJSON *spec = s_row_json (result, row, 3);
        s_publisher_t *publisher = s_publisher_parse (ctx, spec, PQgetvalue (result, row, 2));
        if (publisher) {
            s_check_row_name (ctx, name, publisher->pub.name);
            publisher->pub.id = s_row_id (result, row, 0);
        }
        if (publisher && !ctx->problems
        &&  !s_index_find (&self->publisher_by_hash, publisher->pub.api_key_hash, 0)
        &&  !s_index_find (&self->publisher_by_id, NULL, publisher->pub.id))
            s_market_add_publisher (self, publisher);
        else {
            s_publisher_destroy (&publisher);
            s_log_skipped (ctx, "publisher", name);
        }
        cJSON_Delete (spec);
    }
    PQclear (result);

    result = pp_db_exec (db, "pp_market: load buyers",
                         "SELECT id, name, spec::text FROM buyers ORDER BY id", 0, NULL);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++) {
        const char *name = PQgetvalue (result, row, 1);
        cJSON *spec = s_row_json (result, row, 2);
        s_buyer_t *buyer = s_buyer_parse (ctx, spec);
        if (buyer)
            s_check_row_name (ctx, name, buyer->pub.name);
        if (buyer && !ctx->problems && !s_index_find (&self->buyer_by_name, name, 0)) {
            buyer->pub.id = s_row_id (result, row, 0);
            s_market_add_buyer (self, buyer);
        }
        else {
            s_buyer_destroy (&buyer);
            s_log_skipped (ctx, "buyer", name);
        }
        cJSON_Delete (spec);
    }
    PQclear (result);

    result = pp_db_exec (db, "pp_market: load campaigns",
                         "SELECT c.id, c.name, b.name, c.vertical, c.spec::text "
                         "FROM campaigns c JOIN buyers b ON b.id = c.buyer_id ORDER BY c.id",
                         0, NULL);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++) {
        const char *name = PQgetvalue (result, row, 1);
        s_buyer_t *buyer = (s_buyer_t *) s_index_find (&self->buyer_by_name,
                                                       PQgetvalue (result, row, 2), 0);
        cJSON *spec = s_row_json (result, row, 4);
        pp_campaign_t *campaign = NULL;
        if (!buyer)
            s_err (ctx, "its buyer was skipped");
        else
            campaign = s_campaign_parse (ctx, spec, self, &buyer->pub);
        if (campaign) {
            s_check_row_name (ctx, name, campaign->name);
            if (!campaign->vertical || !streq (campaign->vertical->name, PQgetvalue (result, row, 3)))
                s_err (ctx, "vertical differs from the row's vertical");
            campaign->id = s_row_id (result, row, 0);
        }
        if (campaign && !ctx->problems && !pp_market_campaign (self, name))
            s_market_add_campaign (self, campaign);
        else {
            s_campaign_destroy (&campaign);
            s_log_skipped (ctx, "campaign", name);
        }
        cJSON_Delete (spec);
    }
    PQclear (result);

    result = pp_db_exec (db, "pp_market: load sections",
                         "SELECT name, spec::text FROM market_sections ORDER BY name", 0, NULL);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++) {
        const char *name = PQgetvalue (result, row, 0);
        cJSON *spec = s_row_json (result, row, 1);
        if (streq (name, "blacklist"))
            s_blacklist_check (ctx, spec);
        else
        if (!spec)
            s_err (ctx, "not JSON");
        if (ctx->problems || pp_market_section (self, name))
            s_log_skipped (ctx, "section", name);
        else
            s_market_add_section (self, name, s_print (spec));
        cJSON_Delete (spec);
    }
    PQclear (result);
    return 0;
}

pp_market_t *
pp_market_load (pp_db_t *db)
{
    assert (db);
    //  One snapshot, so an apply running meanwhile is seen whole or not at all
    if (pp_db_command (db, "pp_market: begin load",
                       "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))
        return NULL;
    pp_market_t *self = s_market_new ();
    s_ctx_t ctx;
    s_ctx_init (&ctx);
    int rc = s_load_rows (self, db, &ctx);
    s_ctx_destroy (&ctx);
    if (rc == 0)
        rc = pp_db_command (db, "pp_market: end load", "COMMIT", 0, NULL);
    if (rc) {
        if (pp_db_command (db, "pp_market: rollback load", "ROLLBACK", 0, NULL)) {
            //  Logged by pp_db; the connection is broken and the caller resets it
        }
        s_market_destroy (&self);
    }
    return self;
}

//  ---------------------------------------------------------------------------
//  Sharing

pp_market_t *
pp_market_link (pp_market_t *self)
{
    if (self)
        atomic_fetch_add_explicit (&self->refs, 1, memory_order_relaxed);
    return self;
}

void
pp_market_unlink (pp_market_t **self_p)
{
    assert (self_p);
    pp_market_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    //  acq_rel: the last owner sees every other owner's reads finished
    if (atomic_fetch_sub_explicit (&self->refs, 1, memory_order_acq_rel) == 1)
        s_market_destroy (&self);
}

//  ---------------------------------------------------------------------------
//  Accessors

const pp_auction_t *
pp_market_auction (const pp_market_t *self)
{
    assert (self);
    return &self->auction;
}

size_t
pp_market_vertical_count (const pp_market_t *self)
{
    assert (self);
    return self->vertical_count;
}

pp_vertical_t *
pp_market_vertical_at (const pp_market_t *self, size_t i)
{
    assert (self);
    return i < self->vertical_count ? &self->verticals [i]->pub : NULL;
}

pp_vertical_t *
pp_market_vertical (const pp_market_t *self, const char *name)
{
    assert (self);
    if (!name)
        return NULL;
    s_vertical_t *vertical = (s_vertical_t *) s_index_find (&self->vertical_by_name, name, 0);
    return vertical ? &vertical->pub : NULL;
}

const pp_field_spec_t *
pp_vertical_field (const pp_vertical_t *vertical, const char *name)
{
    assert (vertical);
    if (!name)
        return NULL;
    for (size_t i = 0; i < vertical->field_count; i++)
        if (vertical->fields [i].name && streq (vertical->fields [i].name, name))
            return &vertical->fields [i];
    return NULL;
}

size_t
pp_market_publisher_count (const pp_market_t *self)
{
    assert (self);
    return self->publisher_count;
}

pp_publisher_t *
pp_market_publisher_at (const pp_market_t *self, size_t i)
{
    assert (self);
    return i < self->publisher_count ? &self->publishers [i]->pub : NULL;
}

pp_publisher_t *
pp_market_publisher_by_key_hash (const pp_market_t *self, const char *hash_hex)
{
    assert (self);
    if (!hash_hex)
        return NULL;
    s_publisher_t *publisher = (s_publisher_t *) s_index_find (&self->publisher_by_hash,
                                                               hash_hex, 0);
    return publisher ? &publisher->pub : NULL;
}

pp_publisher_t *
pp_market_publisher_by_id (const pp_market_t *self, uint32_t id)
{
    assert (self);
    s_publisher_t *publisher = (s_publisher_t *) s_index_find (&self->publisher_by_id, NULL, id);
    return publisher ? &publisher->pub : NULL;
}

size_t
pp_market_buyer_count (const pp_market_t *self)
{
    assert (self);
    return self->buyer_count;
}

pp_buyer_t *
pp_market_buyer_at (const pp_market_t *self, size_t i)
{
    assert (self);
    return i < self->buyer_count ? &self->buyers [i]->pub : NULL;
}

size_t
pp_market_campaign_count (const pp_market_t *self)
{
    assert (self);
    return self->campaign_count;
}

pp_campaign_t *
pp_market_campaign_at (const pp_market_t *self, size_t i)
{
    assert (self);
    return i < self->campaign_count ? self->campaigns [i] : NULL;
}

pp_campaign_t *
pp_market_campaign_by_id (const pp_market_t *self, uint32_t id)
{
    assert (self);
    return (pp_campaign_t *) s_index_find (&self->campaign_by_id, NULL, id);
}

pp_campaign_t *
pp_market_campaign (const pp_market_t *self, const char *name)
{
    assert (self);
    if (!name)
        return NULL;
    return (pp_campaign_t *) s_index_find (&self->campaign_by_name, name, 0);
}

const char *
pp_vertical_spec_json (const pp_vertical_t *vertical)
{
    assert (vertical);
    return ((const s_vertical_t *) vertical)->spec_json;
}

const char *
pp_market_section (const pp_market_t *self, const char *name)
{
    assert (self);
    for (size_t i = 0; name && i < self->section_count; i++)
        if (streq (self->sections [i].name, name))
            return self->sections [i].spec_json;
    return NULL;
}
