/*  pp_fields - an ordered bag of named, typed values (a lead's fields, consent, signals)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <math.h>
#include "pp_fields.h"
#include "pp_wire.h"

#define PP_FIELDS_INITIAL 16 //  entries allocated on first use

//  One entry. The name and the string value share one block,
//  "name\0value\0": its own malloc for an entry set by a setter, or a slice
//  of the bag's bulk block for the entries a decode or a dup created at once.
typedef struct {
    char *name;       //  the block; the name is at its start
    bool owned;       //  the block is this entry's own malloc, not bulk
    size_t name_len;  //  strlen (name)
    uint32_t hash;    //  s_hash of the name, compared before the name
    size_t value_len; //  bytes of value.s (STR, JSON), else 0
    pp_value_t value; //  value.s points into the block after the name
} pp_fields_entry_t;

struct pp_fields {
    pp_fields_entry_t *entries; //  `capacity` slots, NULL until first use
    size_t size;                //  slots in use
    size_t capacity;            //  slots allocated
    size_t bytes;               //  sum of name_len and value_len of all entries
    char *bulk;                 //  one block for entries made in bulk, or NULL
};

pp_fields_t *
pp_fields_new (void)
{
    pp_fields_t *self = (pp_fields_t *) zmalloc (sizeof (pp_fields_t));
    assert (self);
    return self;
}

void
pp_fields_destroy (pp_fields_t **self_p)
{
    assert (self_p);
    pp_fields_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->size; i++)
            if (self->entries[i].owned)
                free (self->entries[i].name);
        free (self->entries);
        free (self->bulk);
        free (self);
        *self_p = NULL;
    }
}

//  Make room for at least `capacity` entries.
static void
s_reserve (pp_fields_t *self, size_t capacity)
{
    if (capacity <= self->capacity)
        return;
    size_t grown = self->capacity ? self->capacity * 2 : PP_FIELDS_INITIAL;
    if (grown < capacity)
        grown = capacity;
    pp_fields_entry_t *entries =
        (pp_fields_entry_t *) realloc (self->entries, grown * sizeof (pp_fields_entry_t));
    assert (entries);
    self->entries = entries;
    self->capacity = grown;
}

//  FNV-1a of a name: lookups and the duplicate check compare this first.
static uint32_t
s_hash (const char *name, size_t len)
{
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ (uint8_t) name[i]) * 16777619u;
    return hash;
}

static bool
s_is_text (pp_value_type_t type)
{
    return type == PP_VALUE_STR || type == PP_VALUE_JSON;
}

//  Bytes of the block of one entry.
static size_t
s_block_size (size_t name_len, pp_value_type_t type, size_t s_len)
{
    return name_len + 1 + (s_is_text (type) ? s_len + 1 : 0);
}

//  Fill *entry: its block (*bulk_p, advanced past it, or a new malloc when
//  bulk_p is NULL) gets the name and (for STR/JSON) the value text.
static void
s_entry_fill (pp_fields_entry_t *entry, char **bulk_p, const char *name, size_t name_len,
              pp_value_type_t type, bool b, int64_t i, double n, const char *s, size_t s_len)
{
    bool text = s_is_text (type);
    size_t block = s_block_size (name_len, type, s_len);
    char *mem;
    if (bulk_p) {
        mem = *bulk_p;
        *bulk_p += block;
    } else {
        mem = (char *) malloc (block);
        assert (mem);
    }
    memcpy (mem, name, name_len);
    mem[name_len] = '\0';
    entry->name = mem;
    entry->owned = bulk_p == NULL;
    entry->name_len = name_len;
    entry->hash = s_hash (name, name_len);
    entry->value_len = text ? s_len : 0;
    entry->value.type = type;
    entry->value.b = type == PP_VALUE_BOOL ? b : false;
    entry->value.i = type == PP_VALUE_INT ? i : 0;
    entry->value.n = type == PP_VALUE_NUM ? n : 0.0;
    entry->value.s = NULL;
    if (text) {
        char *value = mem + name_len + 1;
        if (s_len)
            memcpy (value, s, s_len);
        value[s_len] = '\0';
        entry->value.s = value;
    }
}

//  Index of the entry named name[0..len), or -1.
static ssize_t
s_find (const pp_fields_t *self, const char *name, size_t name_len)
{
    uint32_t hash = s_hash (name, name_len);
    for (size_t i = 0; i < self->size; i++) {
        const pp_fields_entry_t *entry = &self->entries[i];
        if (entry->hash == hash && entry->name_len == name_len &&
            memcmp (entry->name, name, name_len) == 0)
            return (ssize_t) i;
    }
    return -1;
}

//  Append without looking for an entry of the same name; the block comes
//  from *bulk_p as s_entry_fill says.
static void
s_append (pp_fields_t *self, char **bulk_p, const char *name, size_t name_len, pp_value_type_t type,
          bool b, int64_t i, double n, const char *s, size_t s_len)
{
    s_reserve (self, self->size + 1);
    pp_fields_entry_t *entry = &self->entries[self->size++];
    s_entry_fill (entry, bulk_p, name, name_len, type, b, i, n, s, s_len);
    self->bytes += entry->name_len + entry->value_len;
}

//  Replace the entry of that name in place, or append.
static void
s_set (pp_fields_t *self, const char *name, pp_value_type_t type, bool b, int64_t i, double n,
       const char *s, size_t s_len)
{
    assert (self);
    assert (name);
    size_t name_len = strlen (name);
    ssize_t at = s_find (self, name, name_len);
    if (at < 0) {
        s_append (self, NULL, name, name_len, type, b, i, n, s, s_len);
        return;
    }
    //  The new block is filled before the old one goes: name or s may
    //  point into it.
    pp_fields_entry_t *entry = &self->entries[at];
    self->bytes -= entry->name_len + entry->value_len;
    char *old = entry->owned ? entry->name : NULL;
    s_entry_fill (entry, NULL, name, name_len, type, b, i, n, s, s_len);
    free (old);
    self->bytes += entry->name_len + entry->value_len;
}

pp_fields_t *
pp_fields_dup (const pp_fields_t *self)
{
    assert (self);
    pp_fields_t *copy = pp_fields_new ();
    s_reserve (copy, self->size);
    size_t total = 0;
    for (size_t i = 0; i < self->size; i++) {
        const pp_fields_entry_t *entry = &self->entries[i];
        total += s_block_size (entry->name_len, entry->value.type, entry->value_len);
    }
    char *bulk = NULL;
    if (total) {
        copy->bulk = bulk = (char *) malloc (total);
        assert (bulk);
    }
    for (size_t i = 0; i < self->size; i++) {
        const pp_fields_entry_t *entry = &self->entries[i];
        s_append (copy, &bulk, entry->name, entry->name_len, entry->value.type, entry->value.b,
                  entry->value.i, entry->value.n, entry->value.s, entry->value_len);
    }
    return copy;
}

size_t
pp_fields_size (const pp_fields_t *self)
{
    assert (self);
    return self->size;
}

const char *
pp_fields_name (const pp_fields_t *self, size_t i)
{
    assert (self);
    assert (i < self->size);
    return self->entries[i].name;
}

const pp_value_t *
pp_fields_value (const pp_fields_t *self, size_t i)
{
    assert (self);
    assert (i < self->size);
    return &self->entries[i].value;
}

const pp_value_t *
pp_fields_get (const pp_fields_t *self, const char *name)
{
    assert (self);
    assert (name);
    ssize_t at = s_find (self, name, strlen (name));
    return at < 0 ? NULL : &self->entries[at].value;
}

const char *
pp_fields_str (const pp_fields_t *self, const char *name)
{
    const pp_value_t *value = pp_fields_get (self, name);
    return value && value->type == PP_VALUE_STR ? value->s : NULL;
}

void
pp_fields_set_nil (pp_fields_t *self, const char *name)
{
    s_set (self, name, PP_VALUE_NIL, false, 0, 0.0, NULL, 0);
}

void
pp_fields_set_bool (pp_fields_t *self, const char *name, bool value)
{
    s_set (self, name, PP_VALUE_BOOL, value, 0, 0.0, NULL, 0);
}

void
pp_fields_set_int (pp_fields_t *self, const char *name, int64_t value)
{
    s_set (self, name, PP_VALUE_INT, false, value, 0.0, NULL, 0);
}

void
pp_fields_set_num (pp_fields_t *self, const char *name, double value)
{
    s_set (self, name, PP_VALUE_NUM, false, 0, value, NULL, 0);
}

//  A NULL value sets nil.
void
pp_fields_set_str (pp_fields_t *self, const char *name, const char *value)
{
    if (value)
        s_set (self, name, PP_VALUE_STR, false, 0, 0.0, value, strlen (value));
    else
        pp_fields_set_nil (self, name);
}

//  The value ends at its first NUL byte, if any within `len`: a C string
//  cannot hold more, and the wire rejects strings with NUL bytes.
void
pp_fields_set_strn (pp_fields_t *self, const char *name, const char *value, size_t len)
{
    if (value)
        s_set (self, name, PP_VALUE_STR, false, 0, 0.0, value, strnlen (value, len));
    else
        pp_fields_set_nil (self, name);
}

//  A NULL text sets nil.
void
pp_fields_set_json (pp_fields_t *self, const char *name, const char *json_text)
{
    if (json_text)
        s_set (self, name, PP_VALUE_JSON, false, 0, 0.0, json_text, strlen (json_text));
    else
        pp_fields_set_nil (self, name);
}

int
pp_fields_remove (pp_fields_t *self, const char *name)
{
    assert (self);
    assert (name);
    ssize_t at = s_find (self, name, strlen (name));
    if (at < 0)
        return -1;
    pp_fields_entry_t *entry = &self->entries[at];
    self->bytes -= entry->name_len + entry->value_len;
    if (entry->owned)
        free (entry->name);
    memmove (entry, entry + 1, (self->size - (size_t) at - 1) * sizeof (pp_fields_entry_t));
    self->size--;
    return 0;
}

//  Values are equal when of one type and equal; NaN equals NaN, so that a
//  bag equals its own round trip.
static bool
s_value_eq (const pp_fields_entry_t *a, const pp_fields_entry_t *b)
{
    if (a->value.type != b->value.type)
        return false;
    switch (a->value.type) {
        case PP_VALUE_NIL:
            return true;
        case PP_VALUE_BOOL:
            return a->value.b == b->value.b;
        case PP_VALUE_INT:
            return a->value.i == b->value.i;
        case PP_VALUE_NUM:
            return a->value.n == b->value.n || (isnan (a->value.n) && isnan (b->value.n));
        case PP_VALUE_STR:
        case PP_VALUE_JSON:
            return a->value_len == b->value_len &&
                   memcmp (a->value.s, b->value.s, a->value_len) == 0;
    }
    return false;
}

bool
pp_fields_eq (const pp_fields_t *a, const pp_fields_t *b)
{
    assert (a);
    assert (b);
    if (a->size != b->size)
        return false;
    for (size_t i = 0; i < a->size; i++) {
        const pp_fields_entry_t *x = &a->entries[i];
        const pp_fields_entry_t *y = &b->entries[i];
        if (x->name_len != y->name_len || memcmp (x->name, y->name, x->name_len) != 0 ||
            !s_value_eq (x, y))
            return false;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Wire form: a map name -> nil | bool | int | float64 | str | bin (JSON text).

void
pp_fields_pack (const pp_fields_t *self, msgpack_packer *pk)
{
    assert (self);
    msgpack_pack_map (pk, self->size);
    for (size_t i = 0; i < self->size; i++) {
        const pp_fields_entry_t *entry = &self->entries[i];
        pp_wire_pack_strn (pk, entry->name, entry->name_len);
        switch (entry->value.type) {
            case PP_VALUE_NIL:
                msgpack_pack_nil (pk);
                break;
            case PP_VALUE_BOOL:
                if (entry->value.b)
                    msgpack_pack_true (pk);
                else
                    msgpack_pack_false (pk);
                break;
            case PP_VALUE_INT:
                msgpack_pack_int64 (pk, entry->value.i);
                break;
            case PP_VALUE_NUM:
                msgpack_pack_double (pk, entry->value.n);
                break;
            case PP_VALUE_STR:
                pp_wire_pack_strn (pk, entry->value.s, entry->value_len);
                break;
            case PP_VALUE_JSON:
                msgpack_pack_bin (pk, entry->value_len);
                msgpack_pack_bin_body (pk, entry->value.s, entry->value_len);
                break;
        }
    }
}

static bool
s_same_name (const pp_fields_entry_t *x, const pp_fields_entry_t *y)
{
    return x->hash == y->hash && x->name_len == y->name_len &&
           memcmp (x->name, y->name, x->name_len) == 0;
}

//  Orders entries by name, for the duplicate check of large bags.
static int
s_entry_cmp (const void *a, const void *b)
{
    const pp_fields_entry_t *x = *(const pp_fields_entry_t *const *) a;
    const pp_fields_entry_t *y = *(const pp_fields_entry_t *const *) b;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return memcmp (x->name, y->name, x->name_len);
}

//  --------------------------------------------------------------------------
//  True when two entries share a name. Pairwise for the usual small bag; a
//  sort beyond that, so a hostile frame with thousands of names costs
//  n log n, not n squared.

static bool
s_has_duplicates (const pp_fields_t *self)
{
    if (self->size <= 32) {
        for (size_t i = 1; i < self->size; i++)
            for (size_t j = 0; j < i; j++)
                if (s_same_name (&self->entries[i], &self->entries[j]))
                    return true;
        return false;
    }
    const pp_fields_entry_t **sorted =
        (const pp_fields_entry_t **) malloc (self->size * sizeof (pp_fields_entry_t *));
    assert (sorted);
    for (size_t i = 0; i < self->size; i++)
        sorted[i] = &self->entries[i];
    qsort (sorted, self->size, sizeof (pp_fields_entry_t *), s_entry_cmp);
    bool duplicates = false;
    for (size_t i = 1; i < self->size && !duplicates; i++)
        duplicates = s_entry_cmp (&sorted[i - 1], &sorted[i]) == 0;
    free (sorted);
    return duplicates;
}

const char *
pp_fields_unpack (pp_fields_t *self, const msgpack_object *o)
{
    assert (self);
    assert (self->size == 0);
    if (o->type != MSGPACK_OBJECT_MAP)
        return "field bag is not a map";
    const msgpack_object_map *map = &o->via.map;
    s_reserve (self, map->size);
    //  One block for every name and text; sizes are bounded by the input.
    size_t total = 0;
    for (uint32_t k = 0; k < map->size; k++) {
        const msgpack_object *key = &map->ptr[k].key;
        const msgpack_object *v = &map->ptr[k].val;
        total += (key->type == MSGPACK_OBJECT_STR ? key->via.str.size : 0) + 1;
        if (v->type == MSGPACK_OBJECT_STR)
            total += v->via.str.size + 1;
        else if (v->type == MSGPACK_OBJECT_BIN)
            total += v->via.bin.size + 1;
    }
    assert (!self->bulk);
    char *bulk = NULL;
    if (total) {
        self->bulk = bulk = (char *) malloc (total);
        assert (bulk);
    }
    for (uint32_t k = 0; k < map->size; k++) {
        const char *name;
        size_t name_len;
        if (pp_wire_strp (&map->ptr[k].key, 0, SIZE_MAX, &name, &name_len))
            return "field name is not a string without NUL bytes";
        const msgpack_object *v = &map->ptr[k].val;
        pp_value_t value = {.type = PP_VALUE_NIL};
        const char *text = NULL;
        size_t text_len = 0;
        switch (v->type) {
            case MSGPACK_OBJECT_NIL:
                break;
            case MSGPACK_OBJECT_BOOLEAN:
                value.type = PP_VALUE_BOOL;
                value.b = v->via.boolean;
                break;
            case MSGPACK_OBJECT_POSITIVE_INTEGER:
            case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                if (pp_wire_int64 (v, &value.i))
                    return "field integer out of range";
                value.type = PP_VALUE_INT;
                break;
            case MSGPACK_OBJECT_FLOAT32:
            case MSGPACK_OBJECT_FLOAT64:
                value.type = PP_VALUE_NUM;
                value.n = v->via.f64;
                break;
            case MSGPACK_OBJECT_STR:
                if (pp_wire_strp (v, 0, SIZE_MAX, &text, &text_len))
                    return "field string holds a NUL byte";
                value.type = PP_VALUE_STR;
                break;
            case MSGPACK_OBJECT_BIN:
                text = v->via.bin.size ? v->via.bin.ptr : "";
                text_len = v->via.bin.size;
                if (text_len && memchr (text, '\0', text_len))
                    return "field JSON holds a NUL byte";
                value.type = PP_VALUE_JSON;
                break;
            default:
                return "field value of a wrong type";
        }
        s_append (self, &bulk, name, name_len, value.type, value.b, value.i, value.n, text,
                  text_len);
    }
    if (s_has_duplicates (self))
        return "duplicate field name";
    return NULL;
}

size_t
pp_fields_bytes (const pp_fields_t *self)
{
    assert (self);
    return self->bytes;
}
