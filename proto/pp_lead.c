/*  pp_lead - the lead envelope as it travels between stages (msgpack)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_lead.h"
#include "pp_wire.h"

//  Message type and keys; proto/README.md is the spec.
#define PP_LEAD_TYPE "lead"

//  Root keys, in the order of s_keys and of the encoding (v and t are
//  checked by pp_wire_open; they are listed so the lookup finds them first).
enum {
    K_V,
    K_T,
    K_ID,
    K_RCV,
    K_DL,
    K_RS,
    K_PID,
    K_PUB,
    K_SRC,
    K_SUB,
    K_VT,
    K_TST,
    K_F,
    K_C,
    K_S,
    K_EL,
    K_BD,
    K_TS,
    K_COUNT
};
static const char *const s_keys[K_COUNT] = {PP_WIRE_KEY_VERSION,
                                            PP_WIRE_KEY_TYPE,
                                            "id",
                                            "rcv",
                                            "dl",
                                            "rs",
                                            "pid",
                                            "pub",
                                            "src",
                                            "sub",
                                            "vt",
                                            "tst",
                                            "f",
                                            "c",
                                            "s",
                                            "el",
                                            "bd",
                                            "ts"};
#define PP_LEAD_REQUIRED ((1u << K_ID) | (1u << K_RCV) | (1u << K_DL))

//  Keys of one bid map, in the order of s_bid_keys.
enum { B_C, B_B, B_A, B_P, B_TR, B_X, B_LAT, B_ANS, B_REF, B_COUNT };
static const char *const s_bid_keys[B_COUNT] = {"c", "b", "a", "p", "tr", "x", "lat", "ans", "ref"};
#define PP_BID_REQUIRED ((1u << B_C) | (1u << B_B) | (1u << B_A))

struct pp_lead {
    char id[PP_LEAD_ID_SIZE + 1]; //  lead id, 1..PP_LEAD_ID_SIZE chars
    int64_t received_us;          //  when intake received it, us since the epoch
    int64_t deadline_us;          //  absolute deadline, us since the epoch
    int reply_slot;               //  intake instance waiting for the result
    uint32_t publisher_id;        //  publishers.id
    char *publisher;              //  publisher name, or NULL for ""
    char *source;                 //  source, or NULL for ""
    char *sub_id;                 //  sub id, or NULL for ""
    char *vertical;               //  vertical name, or NULL for ""
    bool test;                    //  a test lead: never sold for money
    pp_fields_t *fields;          //  the lead's fields
    pp_fields_t *consent;         //  consent members
    pp_fields_t *signals;         //  bot signals
    uint32_t *eligible;           //  eligible campaign ids
    size_t eligible_size;         //  ids in use
    size_t eligible_alloc;        //  ids allocated
    pp_bid_t *bids;               //  bids; each bid_ref is owned
    size_t bid_size;              //  bids in use
    size_t bid_alloc;             //  bids allocated
    pp_stamp_t *stamps;           //  timestamps, in order
    size_t stamp_size;            //  stamps in use
    size_t stamp_alloc;           //  stamps allocated
};

static const char *const s_stage_names[] = {"unknown", "intake",  "validate", "filter",
                                            "auction", "deliver", "ledger"};

const char *
pp_stage_code_name (int code)
{
    if (code >= PP_STAGE_INTAKE && code <= PP_STAGE_LEDGER)
        return s_stage_names[code];
    return s_stage_names[0];
}

//  Grow an array of `unit`-byte items to hold at least `want`.
static void *
s_grow (void *array, size_t *alloc, size_t want, size_t unit)
{
    if (want <= *alloc)
        return array;
    size_t grown = *alloc ? *alloc * 2 : 8;
    if (grown < want)
        grown = want;
    void *bigger = realloc (array, grown * unit);
    assert (bigger);
    *alloc = grown;
    return bigger;
}

//  True when id is a usable lead id.
static bool
s_id_valid (const char *id)
{
    if (!id)
        return false;
    size_t len = strnlen (id, PP_LEAD_ID_SIZE + 1);
    return len >= 1 && len <= PP_LEAD_ID_SIZE;
}

//  A lead with no id yet: what the decoder starts from.
static pp_lead_t *
s_lead_new (void)
{
    pp_lead_t *self = (pp_lead_t *) zmalloc (sizeof (pp_lead_t));
    assert (self);
    self->fields = pp_fields_new ();
    self->consent = pp_fields_new ();
    self->signals = pp_fields_new ();
    return self;
}

//  NULL when id is NULL, empty or longer than PP_LEAD_ID_SIZE.
pp_lead_t *
pp_lead_new (const char *id)
{
    if (!s_id_valid (id))
        return NULL;
    pp_lead_t *self = s_lead_new ();
    strcpy (self->id, id);
    return self;
}

void
pp_lead_destroy (pp_lead_t **self_p)
{
    assert (self_p);
    pp_lead_t *self = *self_p;
    if (self) {
        free (self->publisher);
        free (self->source);
        free (self->sub_id);
        free (self->vertical);
        pp_fields_destroy (&self->fields);
        pp_fields_destroy (&self->consent);
        pp_fields_destroy (&self->signals);
        free (self->eligible);
        pp_lead_clear_bids (self);
        free (self->bids);
        free (self->stamps);
        free (self);
        *self_p = NULL;
    }
}

const char *
pp_lead_id (const pp_lead_t *self)
{
    assert (self);
    return self->id;
}

int64_t
pp_lead_received_us (const pp_lead_t *self)
{
    assert (self);
    return self->received_us;
}

void
pp_lead_set_received_us (pp_lead_t *self, int64_t us)
{
    assert (self);
    self->received_us = us;
}

int64_t
pp_lead_deadline_us (const pp_lead_t *self)
{
    assert (self);
    return self->deadline_us;
}

void
pp_lead_set_deadline_us (pp_lead_t *self, int64_t us)
{
    assert (self);
    self->deadline_us = us;
}

int
pp_lead_reply_slot (const pp_lead_t *self)
{
    assert (self);
    return self->reply_slot;
}

void
pp_lead_set_reply_slot (pp_lead_t *self, int slot)
{
    assert (self);
    self->reply_slot = slot;
}

uint32_t
pp_lead_publisher_id (const pp_lead_t *self)
{
    assert (self);
    return self->publisher_id;
}

void
pp_lead_set_publisher_id (pp_lead_t *self, uint32_t id)
{
    assert (self);
    self->publisher_id = id;
}

//  Replace an owned string; NULL and "" both mean unset.
static void
s_set_string (char **field, const char *value)
{
    free (*field);
    *field = value && *value ? strdup (value) : NULL;
    assert (*field || !value || !*value);
}

const char *
pp_lead_publisher (const pp_lead_t *self)
{
    assert (self);
    return self->publisher ? self->publisher : "";
}

void
pp_lead_set_publisher (pp_lead_t *self, const char *name)
{
    assert (self);
    s_set_string (&self->publisher, name);
}

const char *
pp_lead_source (const pp_lead_t *self)
{
    assert (self);
    return self->source ? self->source : "";
}

void
pp_lead_set_source (pp_lead_t *self, const char *source)
{
    assert (self);
    s_set_string (&self->source, source);
}

const char *
pp_lead_sub_id (const pp_lead_t *self)
{
    assert (self);
    return self->sub_id ? self->sub_id : "";
}

void
pp_lead_set_sub_id (pp_lead_t *self, const char *sub_id)
{
    assert (self);
    s_set_string (&self->sub_id, sub_id);
}

const char *
pp_lead_vertical (const pp_lead_t *self)
{
    assert (self);
    return self->vertical ? self->vertical : "";
}

void
pp_lead_set_vertical (pp_lead_t *self, const char *vertical)
{
    assert (self);
    s_set_string (&self->vertical, vertical);
}

bool
pp_lead_test (const pp_lead_t *self)
{
    assert (self);
    return self->test;
}

void
pp_lead_set_test (pp_lead_t *self, bool test)
{
    assert (self);
    self->test = test;
}

pp_fields_t *
pp_lead_fields (pp_lead_t *self)
{
    assert (self);
    return self->fields;
}

pp_fields_t *
pp_lead_consent (pp_lead_t *self)
{
    assert (self);
    return self->consent;
}

pp_fields_t *
pp_lead_signals (pp_lead_t *self)
{
    assert (self);
    return self->signals;
}

size_t
pp_lead_eligible_size (const pp_lead_t *self)
{
    assert (self);
    return self->eligible_size;
}

uint32_t
pp_lead_eligible (const pp_lead_t *self, size_t i)
{
    assert (self);
    assert (i < self->eligible_size);
    return self->eligible[i];
}

void
pp_lead_add_eligible (pp_lead_t *self, uint32_t campaign_id)
{
    assert (self);
    self->eligible = (uint32_t *) s_grow (self->eligible, &self->eligible_alloc,
                                          self->eligible_size + 1, sizeof (uint32_t));
    self->eligible[self->eligible_size++] = campaign_id;
}

void
pp_lead_clear_eligible (pp_lead_t *self)
{
    assert (self);
    self->eligible_size = 0;
}

size_t
pp_lead_bid_size (const pp_lead_t *self)
{
    assert (self);
    return self->bid_size;
}

pp_bid_t *
pp_lead_bid (pp_lead_t *self, size_t i)
{
    assert (self);
    assert (i < self->bid_size);
    return &self->bids[i];
}

void
pp_lead_add_bid (pp_lead_t *self, const pp_bid_t *bid)
{
    assert (self);
    assert (bid);
    self->bids =
        (pp_bid_t *) s_grow (self->bids, &self->bid_alloc, self->bid_size + 1, sizeof (pp_bid_t));
    pp_bid_t *copy = &self->bids[self->bid_size++];
    *copy = *bid;
    if (bid->bid_ref) {
        copy->bid_ref = strdup (bid->bid_ref);
        assert (copy->bid_ref);
    }
}

void
pp_lead_clear_bids (pp_lead_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->bid_size; i++)
        free (self->bids[i].bid_ref);
    self->bid_size = 0;
}

size_t
pp_lead_stamp_size (const pp_lead_t *self)
{
    assert (self);
    return self->stamp_size;
}

const pp_stamp_t *
pp_lead_stamp (const pp_lead_t *self, size_t i)
{
    assert (self);
    assert (i < self->stamp_size);
    return &self->stamps[i];
}

void
pp_lead_add_stamp (pp_lead_t *self, int stage, bool out, int64_t at_us)
{
    assert (self);
    assert (stage >= 0 && stage <= UINT8_MAX);
    self->stamps = (pp_stamp_t *) s_grow (self->stamps, &self->stamp_alloc, self->stamp_size + 1,
                                          sizeof (pp_stamp_t));
    pp_stamp_t *stamp = &self->stamps[self->stamp_size++];
    stamp->stage = (uint8_t) stage;
    stamp->out = out ? 1 : 0;
    stamp->at_us = at_us;
}

//  --------------------------------------------------------------------------
//  Encoding. Keys holding their default value are left out; the decoder
//  puts the default back.

static size_t
s_bid_keys_count (const pp_bid_t *bid)
{
    return 3 + (bid->price_cents != 0) + (bid->tier != 0) + (bid->exclusive) +
           (bid->latency_us != 0) + (bid->answered_us != 0) + (bid->bid_ref != NULL);
}

static void
s_pack_bid (msgpack_packer *pk, const pp_bid_t *bid)
{
    msgpack_pack_map (pk, s_bid_keys_count (bid));
    PP_WIRE_PACK_KEY (pk, "c");
    msgpack_pack_uint32 (pk, bid->campaign_id);
    PP_WIRE_PACK_KEY (pk, "b");
    msgpack_pack_uint32 (pk, bid->buyer_id);
    PP_WIRE_PACK_KEY (pk, "a");
    msgpack_pack_int64 (pk, bid->amount_cents);
    if (bid->price_cents != 0) {
        PP_WIRE_PACK_KEY (pk, "p");
        msgpack_pack_int64 (pk, bid->price_cents);
    }
    if (bid->tier != 0) {
        PP_WIRE_PACK_KEY (pk, "tr");
        msgpack_pack_int32 (pk, bid->tier);
    }
    if (bid->exclusive) {
        PP_WIRE_PACK_KEY (pk, "x");
        msgpack_pack_true (pk);
    }
    if (bid->latency_us != 0) {
        PP_WIRE_PACK_KEY (pk, "lat");
        msgpack_pack_int64 (pk, bid->latency_us);
    }
    if (bid->answered_us != 0) {
        PP_WIRE_PACK_KEY (pk, "ans");
        msgpack_pack_int64 (pk, bid->answered_us);
    }
    if (bid->bid_ref) {
        PP_WIRE_PACK_KEY (pk, "ref");
        pp_wire_pack_str (pk, bid->bid_ref);
    }
}

//  Bytes the encoding should take, so the buffer is allocated once.
static size_t
s_size_hint (const pp_lead_t *self)
{
    size_t hint = 128;
    hint += self->publisher ? strlen (self->publisher) : 0;
    hint += self->source ? strlen (self->source) : 0;
    hint += self->sub_id ? strlen (self->sub_id) : 0;
    hint += self->vertical ? strlen (self->vertical) : 0;
    hint += pp_fields_bytes (self->fields) + pp_fields_size (self->fields) * 12;
    hint += pp_fields_bytes (self->consent) + pp_fields_size (self->consent) * 12;
    hint += pp_fields_bytes (self->signals) + pp_fields_size (self->signals) * 12;
    hint += self->eligible_size * 5 + self->bid_size * 72 + self->stamp_size * 12;
    return hint;
}

static void
s_encode (const pp_lead_t *self, pp_wire_out_t *out)
{
    assert (self);
    size_t keys = 2 + 3; //  v t id rcv dl
    keys += (self->reply_slot != 0) + (self->publisher_id != 0) + (self->publisher != NULL) +
            (self->source != NULL) + (self->sub_id != NULL) + (self->vertical != NULL) +
            (self->test) + (pp_fields_size (self->fields) > 0) +
            (pp_fields_size (self->consent) > 0) + (pp_fields_size (self->signals) > 0) +
            (self->eligible_size > 0) + (self->bid_size > 0) + (self->stamp_size > 0);
    pp_wire_begin (out, s_size_hint (self), PP_LEAD_TYPE, keys);
    msgpack_packer *pk = &out->pk;

    PP_WIRE_PACK_KEY (pk, "id");
    pp_wire_pack_str (pk, self->id);
    PP_WIRE_PACK_KEY (pk, "rcv");
    msgpack_pack_int64 (pk, self->received_us);
    PP_WIRE_PACK_KEY (pk, "dl");
    msgpack_pack_int64 (pk, self->deadline_us);
    if (self->reply_slot != 0) {
        PP_WIRE_PACK_KEY (pk, "rs");
        msgpack_pack_int (pk, self->reply_slot);
    }
    if (self->publisher_id != 0) {
        PP_WIRE_PACK_KEY (pk, "pid");
        msgpack_pack_uint32 (pk, self->publisher_id);
    }
    if (self->publisher) {
        PP_WIRE_PACK_KEY (pk, "pub");
        pp_wire_pack_str (pk, self->publisher);
    }
    if (self->source) {
        PP_WIRE_PACK_KEY (pk, "src");
        pp_wire_pack_str (pk, self->source);
    }
    if (self->sub_id) {
        PP_WIRE_PACK_KEY (pk, "sub");
        pp_wire_pack_str (pk, self->sub_id);
    }
    if (self->vertical) {
        PP_WIRE_PACK_KEY (pk, "vt");
        pp_wire_pack_str (pk, self->vertical);
    }
    if (self->test) {
        PP_WIRE_PACK_KEY (pk, "tst");
        msgpack_pack_true (pk);
    }
    if (pp_fields_size (self->fields) > 0) {
        PP_WIRE_PACK_KEY (pk, "f");
        pp_fields_pack (self->fields, pk);
    }
    if (pp_fields_size (self->consent) > 0) {
        PP_WIRE_PACK_KEY (pk, "c");
        pp_fields_pack (self->consent, pk);
    }
    if (pp_fields_size (self->signals) > 0) {
        PP_WIRE_PACK_KEY (pk, "s");
        pp_fields_pack (self->signals, pk);
    }
    if (self->eligible_size > 0) {
        PP_WIRE_PACK_KEY (pk, "el");
        msgpack_pack_array (pk, self->eligible_size);
        for (size_t i = 0; i < self->eligible_size; i++)
            msgpack_pack_uint32 (pk, self->eligible[i]);
    }
    if (self->bid_size > 0) {
        PP_WIRE_PACK_KEY (pk, "bd");
        msgpack_pack_array (pk, self->bid_size);
        for (size_t i = 0; i < self->bid_size; i++)
            s_pack_bid (pk, &self->bids[i]);
    }
    if (self->stamp_size > 0) {
        PP_WIRE_PACK_KEY (pk, "ts");
        msgpack_pack_array (pk, self->stamp_size);
        for (size_t i = 0; i < self->stamp_size; i++) {
            msgpack_pack_array (pk, 3);
            msgpack_pack_uint8 (pk, self->stamps[i].stage);
            msgpack_pack_uint8 (pk, self->stamps[i].out);
            msgpack_pack_int64 (pk, self->stamps[i].at_us);
        }
    }
}

zframe_t *
pp_lead_encode (const pp_lead_t *self)
{
    pp_wire_out_t out;
    s_encode (self, &out);
    return pp_wire_frame (&out);
}

//  --------------------------------------------------------------------------
//  Decoding. Each reader returns NULL or the reason the frame is rejected.

static const char *
s_decode_bid (pp_lead_t *self, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return "bid is not a map";
    pp_bid_t bid = {0};
    const msgpack_object *ref = NULL;
    unsigned seen = 0;
    int next = 0;
    const msgpack_object_map *map = &o->via.map;
    for (uint32_t k = 0; k < map->size; k++) {
        int key = pp_wire_key_index (&map->ptr[k].key, s_bid_keys, B_COUNT, next);
        if (key < 0)
            continue; //  unknown key: ignored
        next = key + 1;
        if (seen & (1u << key))
            return "duplicate key in a bid";
        seen |= 1u << key;
        const msgpack_object *v = &map->ptr[k].val;
        int64_t tier = 0;
        int rc = 0;
        switch (key) {
            case B_C:
                rc = pp_wire_uint32 (v, &bid.campaign_id);
                break;
            case B_B:
                rc = pp_wire_uint32 (v, &bid.buyer_id);
                break;
            case B_A:
                rc = pp_wire_int64 (v, &bid.amount_cents);
                break;
            case B_P:
                rc = pp_wire_int64 (v, &bid.price_cents);
                break;
            case B_TR:
                rc = pp_wire_int (v, INT32_MIN, INT32_MAX, &tier);
                bid.tier = (int32_t) tier;
                break;
            case B_X:
                rc = pp_wire_bool (v, &bid.exclusive);
                break;
            case B_LAT:
                rc = pp_wire_int64 (v, &bid.latency_us);
                break;
            case B_ANS:
                rc = pp_wire_int64 (v, &bid.answered_us);
                break;
            case B_REF:
                ref = v;
                rc = v->type == MSGPACK_OBJECT_STR ? 0 : -1;
                break;
        }
        if (rc)
            return "wrong type or value in a bid";
    }
    if ((seen & PP_BID_REQUIRED) != PP_BID_REQUIRED)
        return "bid misses a required key";
    if (ref) {
        bid.bid_ref = pp_wire_strdup (ref, 0, SIZE_MAX);
        if (!bid.bid_ref)
            return "bid reference holds a NUL byte";
    }
    //  Append the bid in place: the lead takes the reference string.
    self->bids =
        (pp_bid_t *) s_grow (self->bids, &self->bid_alloc, self->bid_size + 1, sizeof (pp_bid_t));
    self->bids[self->bid_size++] = bid;
    return NULL;
}

static const char *
s_decode_stamp (pp_lead_t *self, const msgpack_object *o)
{
    //  [stage, out, at]; more elements are allowed and ignored.
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 3)
        return "stamp is not an array of 3";
    const msgpack_object *item = o->via.array.ptr;
    int64_t stage = 0, out = 0, at = 0;
    if (pp_wire_int (&item[0], 0, UINT8_MAX, &stage) || pp_wire_int (&item[1], 0, 1, &out) ||
        pp_wire_int64 (&item[2], &at))
        return "wrong type or value in a stamp";
    pp_lead_add_stamp (self, (int) stage, out == 1, at);
    return NULL;
}

static const char *
s_decode_list (pp_lead_t *self, const msgpack_object *o, int key)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return "wrong type for key";
    const msgpack_object_array *array = &o->via.array;
    if (key == K_EL) {
        self->eligible = (uint32_t *) s_grow (self->eligible, &self->eligible_alloc, array->size,
                                              sizeof (uint32_t));
        for (uint32_t i = 0; i < array->size; i++)
            if (pp_wire_uint32 (&array->ptr[i], &self->eligible[self->eligible_size++]))
                return "wrong type or value in key";
        return NULL;
    }
    const char *reason = NULL;
    if (key == K_BD) {
        self->bids =
            (pp_bid_t *) s_grow (self->bids, &self->bid_alloc, array->size, sizeof (pp_bid_t));
        for (uint32_t i = 0; i < array->size && !reason; i++)
            reason = s_decode_bid (self, &array->ptr[i]);
    } else {
        self->stamps = (pp_stamp_t *) s_grow (self->stamps, &self->stamp_alloc, array->size,
                                              sizeof (pp_stamp_t));
        for (uint32_t i = 0; i < array->size && !reason; i++)
            reason = s_decode_stamp (self, &array->ptr[i]);
    }
    return reason;
}

//  An optional string; "" is kept as unset, as the setters do.
static int
s_decode_string (char **field, const msgpack_object *o)
{
    *field = pp_wire_strdup (o, 0, SIZE_MAX);
    if (!*field)
        return -1;
    if (**field == '\0') {
        free (*field);
        *field = NULL;
    }
    return 0;
}

pp_lead_t *
pp_lead_decode_buf (const void *data, size_t size)
{
    pp_wire_in_t in;
    pp_lead_t *self = NULL;
    if (pp_wire_open (&in, data, size, "pp_lead", PP_LEAD_TYPE))
        goto cleanup;

    self = s_lead_new ();
    unsigned seen = 0;
    const char *reason = NULL;
    int key = -1;
    int next = 0;
    for (uint32_t k = 0; k < in.root->size && !reason; k++) {
        key = pp_wire_key_index (&in.root->ptr[k].key, s_keys, K_COUNT, next);
        if (key < 0)
            continue; //  unknown key: ignored
        next = key + 1;
        if (seen & (1u << key)) {
            reason = "duplicate key";
            break;
        }
        seen |= 1u << key;
        const msgpack_object *v = &in.root->ptr[k].val;
        int64_t slot = 0;
        int rc = 0;
        switch (key) {
            case K_V:
            case K_T:
                break;
            case K_ID:
                rc = pp_wire_strbuf (v, 1, PP_LEAD_ID_SIZE, self->id);
                break;
            case K_RCV:
                rc = pp_wire_int64 (v, &self->received_us);
                break;
            case K_DL:
                rc = pp_wire_int64 (v, &self->deadline_us);
                break;
            case K_RS:
                rc = pp_wire_int (v, INT_MIN, INT_MAX, &slot);
                self->reply_slot = (int) slot;
                break;
            case K_PID:
                rc = pp_wire_uint32 (v, &self->publisher_id);
                break;
            case K_PUB:
                rc = s_decode_string (&self->publisher, v);
                break;
            case K_SRC:
                rc = s_decode_string (&self->source, v);
                break;
            case K_SUB:
                rc = s_decode_string (&self->sub_id, v);
                break;
            case K_VT:
                rc = s_decode_string (&self->vertical, v);
                break;
            case K_TST:
                rc = pp_wire_bool (v, &self->test);
                break;
            case K_F:
                reason = pp_fields_unpack (self->fields, v);
                break;
            case K_C:
                reason = pp_fields_unpack (self->consent, v);
                break;
            case K_S:
                reason = pp_fields_unpack (self->signals, v);
                break;
            case K_EL:
            case K_BD:
            case K_TS:
                reason = s_decode_list (self, v, key);
                break;
        }
        if (rc)
            reason = "wrong type or value for key";
    }
    if (!reason && (seen & PP_LEAD_REQUIRED) != PP_LEAD_REQUIRED) {
        for (key = 0; key < K_COUNT; key++)
            if ((PP_LEAD_REQUIRED & (1u << key)) && !(seen & (1u << key)))
                break;
        reason = "missing key";
    }
    if (reason) {
        pp_wire_reject (&in, reason, key >= 0 && key < K_COUNT ? s_keys[key] : NULL);
        pp_lead_destroy (&self);
    }
cleanup:
    pp_wire_close (&in);
    return self;
}

pp_lead_t *
pp_lead_decode (zframe_t *frame)
{
    if (!frame) {
        zsys_warning ("pp_lead: no frame");
        return NULL;
    }
    return pp_lead_decode_buf (zframe_data (frame), zframe_size (frame));
}

int
pp_lead_send (const pp_lead_t *self, void *sock, int flags)
{
    pp_wire_out_t out;
    s_encode (self, &out);
    return pp_wire_send (&out, sock, flags);
}

pp_lead_t *
pp_lead_recv (void *sock)
{
    zmq_msg_t msg;
    if (pp_wire_recv (sock, &msg, "pp_lead"))
        return NULL;
    pp_lead_t *self = pp_lead_decode_buf (zmq_msg_data (&msg), zmq_msg_size (&msg));
    zmq_msg_close (&msg);
    return self;
}
