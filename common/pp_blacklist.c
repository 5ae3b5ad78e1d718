/*  pp_blacklist - phones, emails, domains, IPs, CIDR blocks and names that validate rejects  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_blacklist.h"
#include "pp_util.h"

#include <arpa/inet.h>
#include <assert.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <czmq.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME_MAX      256         //  longest name entry, in bytes (as the file parser)
#define S_TEXT_MAX      320         //  buffer for a normalised phone, email, domain or address

//  The kinds, in check order; the table's names and the file's keys.
typedef enum { K_PHONE, K_EMAIL, K_DOMAIN, K_IP, K_CIDR, K_NAME, K_COUNT } s_kind_t;

static const char *s_kind_names [K_COUNT] = {
    "phone", "email", "email_domain", "ip", "cidr", "name"
};
static const char *s_file_keys [K_COUNT] = {
    "phones", "emails", "email_domains", "ips", "cidrs", "names"
};

static int
s_kind (const char *kind)
{
    for (int i = 0; kind && i < K_COUNT; i++)
        if (streq (kind, s_kind_names [i]))
            return i;
    return -1;
}

//  ---------------------------------------------------------------------------
//  A set of strings (open addressing, FNV-1a). czmq's zhashx writes to
//  itself on lookup, so validate threads could not share one; this set is
//  never written after the build.

typedef struct {
    char **slots;               //  cap slots, NULL = empty; the strings are owned
    size_t cap;                 //  power of two, or 0 before the first insert
    size_t count;               //  used slots
} s_set_t;

static uint64_t
s_hash (const char *key)
{
    uint64_t hash = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211ULL;
    }
    return hash;
}

//  The slot holding key, or the empty slot where it would go.
static char **
s_set_probe (const s_set_t *set, const char *key)
{
    size_t i = (size_t) s_hash (key) & (set->cap - 1);
    while (set->slots [i] && !streq (set->slots [i], key))
        i = (i + 1) & (set->cap - 1);
    return &set->slots [i];
}

static bool
s_set_has (const s_set_t *set, const char *key)
{
    return set->cap && *s_set_probe (set, key) != NULL;
}

//  Add a copy of key; false when it was there already.
static bool
s_set_add (s_set_t *set, const char *key)
{
    if ((set->count + 1) * 2 > set->cap) {
        s_set_t bigger = { NULL, set->cap ? set->cap * 2 : 16, set->count };
        bigger.slots = (char **) calloc (bigger.cap, sizeof (char *));
        assert (bigger.slots);
        for (size_t i = 0; i < set->cap; i++)
            if (set->slots [i])
                *s_set_probe (&bigger, set->slots [i]) = set->slots [i];
        free (set->slots);
        *set = bigger;
    }
    char **slot = s_set_probe (set, key);
    if (*slot)
        return false;
    *slot = strdup (key);
    assert (*slot);
    set->count++;
    return true;
}

static void
s_set_clear (s_set_t *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free (set->slots [i]);
    free (set->slots);
    set->slots = NULL;
    set->cap = 0;
    set->count = 0;
}

//  ---------------------------------------------------------------------------
//  Structure

//  A CIDR block, host bits cleared.
typedef struct {
    int family;                 //  AF_INET or AF_INET6
    unsigned char net [16];     //  network address (4 bytes used for IPv4)
    int bits;                   //  prefix length
} s_cidr_t;

struct pp_blacklist {
    s_set_t exact [K_COUNT];    //  phone, email, email_domain, ip and exact name entries
    s_cidr_t *cidrs;            //  CIDR blocks, checked one by one
    size_t cidr_count;          //  entries in cidrs
    char **patterns;            //  name entries with wildcards, checked with fnmatch
    size_t pattern_count;       //  entries in patterns
    s_set_t seen;               //  "cidr:<value>" and "pattern:<value>": no duplicates in lists
};

//  ---------------------------------------------------------------------------
//  Normal forms. Each writes into out (size bytes) and returns 0, or -1
//  with *error set. They accept at least what the marketplace parser
//  accepts for the same kind, so every file it took can be stored.

static int
s_fail (const char **error, const char *message)
{
    if (error)
        *error = message;
    return -1;
}

//  Trimmed view of text: start in *start, length returned.
static size_t
s_trim (const char *text, const char **start)
{
    while (isspace ((unsigned char) *text))
        text++;
    size_t size = strlen (text);
    while (size && isspace ((unsigned char) text [size - 1]))
        size--;
    *start = text;
    return size;
}

static int
s_norm_phone (const char *text, char *out, size_t size, const char **error)
{
    char digits [12];
    size_t count = 0;
    for (const char *p = text; *p; p++) {
        if (isdigit ((unsigned char) *p)) {
            if (count == 11)
                return s_fail (error, "is not a US phone number (too many digits)");
            digits [count++] = *p;
        }
        else
        if (!strchr (" -().+", *p))
            return s_fail (error, "is not a US phone number (only digits and \" -().+\")");
    }
    const char *national = digits;
    if (count == 11 && digits [0] == '1') {
        national++;
        count--;
    }
    if (count != 10)
        return s_fail (error, "is not a US phone number (10 digits, or 11 starting with 1)");
    snprintf (out, size, "+1%.10s", national);
    return 0;
}

static bool
s_domain_ok (const char *domain, size_t size)
{
    if (size < 3 || size > 253 || domain [0] == '.' || domain [size - 1] == '.'
    ||  !memchr (domain, '.', size))
        return false;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char) domain [i];
        if (!isalnum (c) && c != '-' && c != '.')
            return false;
        if (c == '.' && domain [i + 1] == '.')
            return false;
    }
    return true;
}

static void
s_lower (char *text)
{
    for (; *text; text++)
        *text = (char) tolower ((unsigned char) *text);
}

static int
s_norm_domain (const char *text, char *out, size_t size, const char **error)
{
    const char *start;
    size_t length = s_trim (text, &start);
    if (!s_domain_ok (start, length) || length >= size)
        return s_fail (error, "is not a domain name (letters, digits, '-' and '.', with a dot)");
    memcpy (out, start, length);
    out [length] = 0;
    s_lower (out);
    return 0;
}

static int
s_norm_email (const char *text, char *out, size_t size, const char **error)
{
    const char *start;
    size_t length = s_trim (text, &start);
    const char *at = memchr (start, '@', length);
    if (!at || at == start || length > 254 || length >= size
    ||  memchr (at + 1, '@', length - (size_t) (at - start) - 1))
        return s_fail (error, "is not an email address (local@domain)");
    for (const char *p = start; p < at; p++)
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
            return s_fail (error, "is not an email address (a space or non-ASCII byte)");
    size_t local = (size_t) (at - start);
    if (!s_domain_ok (at + 1, length - local - 1))
        return s_fail (error, "is not an email address (its domain is not a domain name)");
    memcpy (out, start, length);
    out [length] = 0;
    s_lower (out + local + 1);
    return 0;
}

static const unsigned char s_v4_mapped [12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

//  Parse an IPv4 or IPv6 address (an IPv4-mapped IPv6 one becomes IPv4);
//  returns the family or 0.
static int
s_parse_ip (const char *text, size_t length, unsigned char *address)
{
    char buf [64];
    if (length == 0 || length >= sizeof buf)
        return 0;
    memcpy (buf, text, length);
    buf [length] = 0;
    if (inet_pton (AF_INET, buf, address) == 1)
        return AF_INET;
    if (inet_pton (AF_INET6, buf, address) != 1)
        return 0;
    if (memcmp (address, s_v4_mapped, 12) == 0) {
        memmove (address, address + 12, 4);
        return AF_INET;
    }
    return AF_INET6;
}

static int
s_norm_ip (const char *text, char *out, size_t size, const char **error)
{
    const char *start;
    size_t length = s_trim (text, &start);
    unsigned char address [16];
    int family = s_parse_ip (start, length, address);
    if (!family || !inet_ntop (family, address, out, (socklen_t) size))
        return s_fail (error, "is not an IPv4 or IPv6 address");
    return 0;
}

//  Parse "address/bits" into a block with the host bits cleared.
static int
s_parse_cidr (const char *text, s_cidr_t *cidr, const char **error)
{
    const char *start;
    size_t length = s_trim (text, &start);
    const char *slash = memchr (start, '/', length);
    if (!slash)
        return s_fail (error, "is not a CIDR block (address/bits)");
    const char *bits = slash + 1;
    size_t bits_size = length - (size_t) (bits - start);
    if (bits_size < 1 || bits_size > 3 || strspn (bits, "0123456789") < bits_size)
        return s_fail (error, "is not a CIDR block (address/bits)");
    memset (cidr, 0, sizeof *cidr);
    cidr->bits = atoi (bits);
    //  Parse without the v4-mapped shortcut: a mapped block's bits count from ::
    char buf [64];
    size_t ip_size = (size_t) (slash - start);
    if (ip_size == 0 || ip_size >= sizeof buf)
        return s_fail (error, "is not a CIDR block (address/bits)");
    memcpy (buf, start, ip_size);
    buf [ip_size] = 0;
    if (inet_pton (AF_INET, buf, cidr->net) == 1)
        cidr->family = AF_INET;
    else
    if (inet_pton (AF_INET6, buf, cidr->net) == 1)
        cidr->family = AF_INET6;
    else
        return s_fail (error, "is not a CIDR block (its address is not IPv4 or IPv6)");
    if (cidr->bits > (cidr->family == AF_INET ? 32 : 128))
        return s_fail (error, "is not a CIDR block (too many bits for the address)");
    if (cidr->family == AF_INET6 && cidr->bits >= 96 && memcmp (cidr->net, s_v4_mapped, 12) == 0) {
        //  ::ffff:a.b.c.d/96+n is a.b.c.d/n: leads' mapped addresses are IPv4 too
        memmove (cidr->net, cidr->net + 12, 4);
        memset (cidr->net + 4, 0, 12);
        cidr->family = AF_INET;
        cidr->bits -= 96;
    }
    int total = cidr->family == AF_INET ? 4 : 16;
    for (int i = 0; i < total; i++) {
        int keep = cidr->bits - i * 8;
        if (keep <= 0)
            cidr->net [i] = 0;
        else
        if (keep < 8)
            cidr->net [i] &= (unsigned char) (0xff << (8 - keep));
    }
    return 0;
}

static int
s_norm_cidr (const char *text, char *out, size_t size, const char **error)
{
    s_cidr_t cidr;
    if (s_parse_cidr (text, &cidr, error))
        return -1;
    char ip [64];
    if (!inet_ntop (cidr.family, cidr.net, ip, sizeof ip))
        return s_fail (error, "is not a CIDR block");
    snprintf (out, size, "%s/%d", ip, cidr.bits);
    return 0;
}

//  Fold a name into out (at least strlen (text) + 1 bytes): trimmed, each
//  run of white space one space, ASCII lower-cased. Returns its length.
static size_t
s_fold_name (const char *text, char *out)
{
    size_t length = 0;
    bool space = false;
    for (const char *p = text; *p; p++) {
        if (isspace ((unsigned char) *p)) {
            space = length > 0;
            continue;
        }
        if (space)
            out [length++] = ' ';
        space = false;
        out [length++] = (char) tolower ((unsigned char) *p);
    }
    out [length] = 0;
    return length;
}

static int
s_norm_name (const char *text, char *out, size_t size, const char **error)
{
    if (strlen (text) >= size)
        return s_fail (error, "is longer than 256 bytes");
    size_t length = s_fold_name (text, out);
    if (length == 0)
        return s_fail (error, "is empty");
    if (length > S_NAME_MAX)
        return s_fail (error, "is longer than 256 bytes");
    return 0;
}

typedef int (s_norm_fn) (const char *text, char *out, size_t size, const char **error);
static s_norm_fn *s_norms [K_COUNT] = {
    s_norm_phone, s_norm_email, s_norm_domain, s_norm_ip, s_norm_cidr, s_norm_name
};

//  Normalise a value of kind into out (size bytes: S_TEXT_MAX holds every normal form).
static int
s_normalise (s_kind_t kind, const char *value, char *out, size_t size, const char **error)
{
    if (!value)
        return s_fail (error, "is missing");
    return s_norms [kind] (value, out, size, error);
}

//  ---------------------------------------------------------------------------
//  Building

pp_blacklist_t *
pp_blacklist_new (void)
{
    pp_blacklist_t *self = (pp_blacklist_t *) zmalloc (sizeof (pp_blacklist_t));
    return self;
}

void
pp_blacklist_destroy (pp_blacklist_t **self_p)
{
    assert (self_p);
    pp_blacklist_t *self = *self_p;
    if (!self)
        return;
    for (int kind = 0; kind < K_COUNT; kind++)
        s_set_clear (&self->exact [kind]);
    free (self->cidrs);
    for (size_t i = 0; i < self->pattern_count; i++)
        free (self->patterns [i]);
    free (self->patterns);
    s_set_clear (&self->seen);
    free (self);
    *self_p = NULL;
}

static bool
s_is_pattern (const char *name)
{
    return strpbrk (name, "*?[\\") != NULL;
}

//  Add a normalised value of kind.
static void
s_add_normal (pp_blacklist_t *self, s_kind_t kind, const char *normal)
{
    if (kind == K_CIDR || (kind == K_NAME && s_is_pattern (normal))) {
        char *key = zsys_sprintf ("%s:%s", kind == K_CIDR ? "cidr" : "pattern", normal);
        bool fresh = s_set_add (&self->seen, key);
        zstr_free (&key);
        if (!fresh)
            return;
        if (kind == K_CIDR) {
            s_cidr_t cidr;
            int rc = s_parse_cidr (normal, &cidr, NULL);
            assert (rc == 0);       //  it is a normal form already
            self->cidrs = (s_cidr_t *) realloc (self->cidrs,
                                                (self->cidr_count + 1) * sizeof (s_cidr_t));
            assert (self->cidrs);
            self->cidrs [self->cidr_count++] = cidr;
        }
        else {
            self->patterns = (char **) realloc (self->patterns,
                                                (self->pattern_count + 1) * sizeof (char *));
            assert (self->patterns);
            self->patterns [self->pattern_count] = strdup (normal);
            assert (self->patterns [self->pattern_count]);
            self->pattern_count++;
        }
    }
    else
        s_set_add (&self->exact [kind], normal);
}

int
pp_blacklist_add (pp_blacklist_t *self, const char *kind, const char *value)
{
    assert (self);
    int index = s_kind (kind);
    if (index < 0)
        return -1;
    char normal [S_TEXT_MAX];
    if (s_normalise ((s_kind_t) index, value, normal, sizeof normal, NULL))
        return -1;
    s_add_normal (self, (s_kind_t) index, normal);
    return 0;
}

pp_blacklist_t *
pp_blacklist_load (pp_db_t *db)
{
    assert (db);
    PGresult *result = pp_db_exec (db, "pp_blacklist: load",
                                   "SELECT kind, value FROM blacklist ORDER BY kind, value", 0,
                                   NULL);
    if (!result)
        return NULL;
    pp_blacklist_t *self = pp_blacklist_new ();
    size_t skipped [K_COUNT + 1] = { 0 };
    for (int row = 0; row < PQntuples (result); row++) {
        const char *kind = PQgetvalue (result, row, 0);
        int index = s_kind (kind);
        if (index < 0 || pp_blacklist_add (self, kind, PQgetvalue (result, row, 1)))
            skipped [index < 0 ? K_COUNT : index]++;
    }
    PQclear (result);
    //  Never the values: they are personal data
    for (int kind = 0; kind <= K_COUNT; kind++)
        if (skipped [kind])
            zsys_warning ("pp_blacklist: skipped %zu invalid '%s' row%s of the blacklist table",
                          skipped [kind], kind < K_COUNT ? s_kind_names [kind] : "unknown kind",
                          skipped [kind] == 1 ? "" : "s");
    return self;
}

size_t
pp_blacklist_size (const pp_blacklist_t *self)
{
    assert (self);
    size_t size = self->cidr_count + self->pattern_count;
    for (int kind = 0; kind < K_COUNT; kind++)
        size += self->exact [kind].count;
    return size;
}

//  ---------------------------------------------------------------------------
//  Checking: reads only, local buffers only, so readers need no lock.

static bool
s_has (const pp_blacklist_t *self, s_kind_t kind, const char *value)
{
    char normal [S_TEXT_MAX];
    return value && s_normalise (kind, value, normal, sizeof normal, NULL) == 0
           && s_set_has (&self->exact [kind], normal);
}

//  The email's domain, or one of its parent domains, is blocked.
static bool
s_domain_blocked (const pp_blacklist_t *self, const char *email)
{
    char normal [S_TEXT_MAX];
    if (!email || s_norm_email (email, normal, sizeof normal, NULL))
        return false;
    const char *domain = strrchr (normal, '@') + 1;
    while (domain && strchr (domain, '.')) {
        if (s_set_has (&self->exact [K_DOMAIN], domain))
            return true;
        domain = strchr (domain, '.');
        if (domain)
            domain++;
    }
    return false;
}

static bool
s_in_cidr (const s_cidr_t *cidr, int family, const unsigned char *address)
{
    if (cidr->family != family)
        return false;
    int whole = cidr->bits / 8;
    if (memcmp (cidr->net, address, (size_t) whole) != 0)
        return false;
    int rest = cidr->bits % 8;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char) (0xff << (8 - rest));
    return (address [whole] & mask) == cidr->net [whole];
}

static bool
s_cidr_blocked (const pp_blacklist_t *self, const char *ip)
{
    if (!ip || !self->cidr_count)
        return false;
    const char *start;
    size_t length = s_trim (ip, &start);
    unsigned char address [16];
    int family = s_parse_ip (start, length, address);
    if (!family)
        return false;
    for (size_t i = 0; i < self->cidr_count; i++)
        if (s_in_cidr (&self->cidrs [i], family, address))
            return true;
    return false;
}

static bool
s_name_matches (const pp_blacklist_t *self, const char *folded)
{
    if (!*folded)
        return false;
    if (s_set_has (&self->exact [K_NAME], folded))
        return true;
    for (size_t i = 0; i < self->pattern_count; i++)
        if (fnmatch (self->patterns [i], folded, FNM_CASEFOLD) == 0)
            return true;
    return false;
}

//  Name checks: "first last", then first, then last. Returns the field.
static const char *
s_name_blocked (const pp_blacklist_t *self, const pp_fields_t *fields)
{
    if (!self->exact [K_NAME].count && !self->pattern_count)
        return NULL;
    const char *first = pp_fields_str (fields, "first_name");
    const char *last = pp_fields_str (fields, "last_name");
    size_t first_size = first ? strlen (first) : 0;
    size_t last_size = last ? strlen (last) : 0;
    //  One buffer: "first last" at the start, then first, then last
    size_t need = 2 * (first_size + last_size) + 4;
    char stack [1024];
    char *buf = need <= sizeof stack ? stack : (char *) malloc (need);
    assert (buf);
    char *full = buf;
    char *first_folded = full + first_size + last_size + 2;
    char *last_folded = first_folded + first_size + 1;
    s_fold_name (first ? first : "", first_folded);
    s_fold_name (last ? last : "", last_folded);
    size_t first_length = strlen (first_folded);
    size_t last_length = strlen (last_folded);
    memcpy (full, first_folded, first_length);
    full [first_length] = ' ';
    memcpy (full + first_length + 1, last_folded, last_length + 1);
    const char *field = NULL;
    if (*first_folded && *last_folded && s_name_matches (self, full))
        field = "first_name";
    else
    if (s_name_matches (self, first_folded))
        field = "first_name";
    else
    if (s_name_matches (self, last_folded))
        field = "last_name";
    if (buf != stack)
        free (buf);
    return field;
}

static bool
s_is_type (const pp_vertical_t *vertical, size_t i, pp_field_type_t type)
{
    return vertical->fields [i].type == type && vertical->fields [i].name;
}

const char *
pp_blacklist_check (const pp_blacklist_t *self, const pp_vertical_t *vertical,
                    const pp_fields_t *fields, const pp_fields_t *consent,
                    const pp_fields_t *signals, const char **field)
{
    assert (self);
    const char *code = NULL;
    const char *where = NULL;
    size_t spec_count = vertical ? vertical->field_count : 0;

    //  Phones, emails, domains: the vertical's fields of those types
    for (size_t i = 0; fields && !code && i < (vertical ? spec_count : 1); i++) {
        const char *name = vertical ? (s_is_type (vertical, i, PP_FT_PHONE)
                                       ? vertical->fields [i].name : NULL)
                                    : "phone";
        if (name && s_has (self, K_PHONE, pp_fields_str (fields, name))) {
            code = "blacklisted_phone";
            where = name;
        }
    }
    for (size_t pass = 0; pass < 2 && fields && !code; pass++) {
        for (size_t i = 0; !code && i < (vertical ? spec_count : 1); i++) {
            const char *name = vertical ? (s_is_type (vertical, i, PP_FT_EMAIL)
                                           ? vertical->fields [i].name : NULL)
                                        : "email";
            const char *email = name ? pp_fields_str (fields, name) : NULL;
            if (pass == 0 && s_has (self, K_EMAIL, email))
                code = "blacklisted_email";
            else
            if (pass == 1 && s_domain_blocked (self, email))
                code = "blacklisted_email_domain";
            if (code)
                where = name;
        }
    }
    //  Addresses: the signals' first, then the consent's
    const char *ips [2] = {
        signals ? pp_fields_str (signals, "ip") : NULL,
        consent ? pp_fields_str (consent, "ip") : NULL
    };
    static const char *ip_fields [2] = { "signals.ip", "consent.ip" };
    for (size_t i = 0; !code && i < 2; i++)
        if (s_has (self, K_IP, ips [i])) {
            code = "blacklisted_ip";
            where = ip_fields [i];
        }
    for (size_t i = 0; !code && i < 2; i++)
        if (s_cidr_blocked (self, ips [i])) {
            code = "blacklisted_cidr";
            where = ip_fields [i];
        }
    if (!code && fields) {
        where = s_name_blocked (self, fields);
        if (where)
            code = "blacklisted_name";
    }
    if (field)
        *field = code ? where : NULL;
    return code;
}

//  ---------------------------------------------------------------------------
//  Normal forms for the command line and the table

bool
pp_blacklist_kind_valid (const char *kind)
{
    return s_kind (kind) >= 0;
}

char *
pp_blacklist_normalise (const char *kind, const char *value, const char **error)
{
    int index = s_kind (kind);
    if (index < 0) {
        s_fail (error, "is not a kind of entry (" PP_BLACKLIST_KINDS ")");
        return NULL;
    }
    char normal [S_TEXT_MAX];
    if (s_normalise ((s_kind_t) index, value, normal, sizeof normal, error))
        return NULL;
    char *copy = strdup (normal);
    assert (copy);
    return copy;
}

//  ---------------------------------------------------------------------------
//  Storing a file's section: one statement per kind, the values as a JSON
//  array, so a long list is one round trip.

static const char *s_sql_store =
    "INSERT INTO blacklist (kind, value, note) "
    "SELECT DISTINCT $1::text, v, 'pingpost apply' FROM jsonb_array_elements_text ($2::jsonb) AS v "
    "ON CONFLICT (kind, value) DO NOTHING";

int
pp_blacklist_store_section (pp_db_t *db, const char *section_json, size_t *added)
{
    assert (db);
    if (added)
        *added = 0;
    cJSON *section = section_json ? cJSON_Parse (section_json) : NULL;
    if (!cJSON_IsObject (section)) {
        zsys_error ("pp_blacklist: the blacklist section is not a JSON object");
        cJSON_Delete (section);
        return -1;
    }
    int rc = 0;
    for (int kind = 0; rc == 0 && kind < K_COUNT; kind++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive (section, s_file_keys [kind]);
        if (!list)
            continue;
        if (!cJSON_IsArray (list)) {
            zsys_error ("pp_blacklist: blacklist.%s is not an array", s_file_keys [kind]);
            rc = -1;
            break;
        }
        cJSON *values = cJSON_CreateArray ();
        assert (values);
        size_t skipped = 0;
        const cJSON *item;
        cJSON_ArrayForEach (item, list) {
            char normal [S_TEXT_MAX];
            if (cJSON_IsString (item)
            &&  s_normalise ((s_kind_t) kind, item->valuestring, normal, sizeof normal, NULL) == 0)
                cJSON_AddItemToArray (values, cJSON_CreateString (normal));
            else
                skipped++;
        }
        if (skipped)
            zsys_warning ("pp_blacklist: skipped %zu invalid entr%s of blacklist.%s", skipped,
                          skipped == 1 ? "y" : "ies", s_file_keys [kind]);
        if (cJSON_GetArraySize (values) > 0) {
            char *text = cJSON_PrintUnformatted (values);
            assert (text);
            const char *params [] = { s_kind_names [kind], text };
            PGresult *result = pp_db_exec (db, "pp_blacklist: store section", s_sql_store, 2,
                                           params);
            cJSON_free (text);
            if (!result)
                rc = -1;
            else {
                if (added)
                    *added += (size_t) strtoul (PQcmdTuples (result), NULL, 10);
                PQclear (result);
            }
        }
        cJSON_Delete (values);
    }
    cJSON_Delete (section);
    return rc;
}
