/*  pp_event - ledger events, sent in batches to pingpost-ledger and acknowledged after commit  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_event.h"
#include "pp_lead.h"
#include "pp_wire.h"

//  Message types and keys; proto/README.md is the spec.
#define PP_EVENTS_TYPE "events"
#define PP_ACK_TYPE "ack"
#define PP_EVENT_KIND_MAX 31 //  longest event kind, in bytes

//  Keys of the batch and of one event.
enum { L_EV, L_COUNT };
static const char *const s_batch_keys[L_COUNT] = {"ev"};
enum { E_ID, E_LD, E_K, E_SG, E_AT, E_CP, E_BY, E_AM, E_PO, E_LAT, E_CD, E_DT, E_COUNT };
static const char *const s_event_keys[E_COUNT] = {"id", "ld", "k",  "sg",  "at", "cp",
                                                  "by", "am", "po", "lat", "cd", "dt"};
#define PP_EVENT_REQUIRED ((1u << E_ID) | (1u << E_LD) | (1u << E_K) | (1u << E_SG) | (1u << E_AT))
enum { A_IDS, A_COUNT };
static const char *const s_ack_keys[A_COUNT] = {"ids"};

struct pp_event {
    char id[PP_EVENT_ID_MAX + 1];      //  unique event id, 1..PP_EVENT_ID_MAX bytes
    char lead_id[PP_LEAD_ID_SIZE + 1]; //  the lead it is about
    char kind[PP_EVENT_KIND_MAX + 1];  //  "received", "bid"... (README)
    int stage;                         //  pp_stage_code_t of the producer
    int64_t at_us;                     //  when it happened, us since the epoch
    uint32_t campaign_id;              //  campaigns.id, 0 = none
    uint32_t buyer_id;                 //  buyers.id, 0 = none
    int64_t amount_cents;              //  bid or buyer charge, cents
    int64_t payout_cents;              //  publisher payout, cents
    int64_t latency_us;                //  step latency, -1 = none
    char *code;                        //  reason code, NULL for ""
    char *detail;                      //  JSON object text, NULL for ""
};

struct pp_events {
    pp_event_t **events; //  owned events, in order
    size_t size;         //  events in use
    size_t alloc;        //  slots allocated
};

typedef char pp_ack_id_t[PP_EVENT_ID_MAX + 1];

struct pp_ack {
    pp_ack_id_t *ids; //  acknowledged event ids, one array
    size_t size;      //  ids in use
    size_t alloc;     //  ids allocated
};

//  Copy s into buf (size max + 1) when it has min..max bytes; else -1.
static int
s_copy_bounded (char *buf, const char *s, size_t min, size_t max)
{
    if (!s)
        return -1;
    size_t len = strnlen (s, max + 1);
    if (len < min || len > max)
        return -1;
    memcpy (buf, s, len + 1);
    return 0;
}

static pp_event_t *
s_event_new (void)
{
    pp_event_t *self = (pp_event_t *) zmalloc (sizeof (pp_event_t));
    assert (self);
    self->latency_us = -1;
    return self;
}

//  NULL when id (1..PP_EVENT_ID_MAX), lead_id (1..PP_LEAD_ID_SIZE) or kind
//  (1..31 bytes) is out of bounds, or stage is not 0..255.
pp_event_t *
pp_event_new (const char *id, const char *lead_id, const char *kind, int stage, int64_t at_us)
{
    if (stage < 0 || stage > UINT8_MAX)
        return NULL;
    pp_event_t *self = s_event_new ();
    if (s_copy_bounded (self->id, id, 1, PP_EVENT_ID_MAX) ||
        s_copy_bounded (self->lead_id, lead_id, 1, PP_LEAD_ID_SIZE) ||
        s_copy_bounded (self->kind, kind, 1, PP_EVENT_KIND_MAX)) {
        pp_event_destroy (&self);
        return NULL;
    }
    self->stage = stage;
    self->at_us = at_us;
    return self;
}

void
pp_event_destroy (pp_event_t **self_p)
{
    assert (self_p);
    pp_event_t *self = *self_p;
    if (self) {
        free (self->code);
        free (self->detail);
        free (self);
        *self_p = NULL;
    }
}

pp_event_t *
pp_event_dup (const pp_event_t *self)
{
    assert (self);
    pp_event_t *copy = (pp_event_t *) malloc (sizeof (pp_event_t));
    assert (copy);
    *copy = *self;
    if (self->code) {
        copy->code = strdup (self->code);
        assert (copy->code);
    }
    if (self->detail) {
        copy->detail = strdup (self->detail);
        assert (copy->detail);
    }
    return copy;
}

const char *
pp_event_id (const pp_event_t *self)
{
    assert (self);
    return self->id;
}

const char *
pp_event_lead_id (const pp_event_t *self)
{
    assert (self);
    return self->lead_id;
}

const char *
pp_event_kind (const pp_event_t *self)
{
    assert (self);
    return self->kind;
}

int
pp_event_stage (const pp_event_t *self)
{
    assert (self);
    return self->stage;
}

int64_t
pp_event_at_us (const pp_event_t *self)
{
    assert (self);
    return self->at_us;
}

uint32_t
pp_event_campaign_id (const pp_event_t *self)
{
    assert (self);
    return self->campaign_id;
}

uint32_t
pp_event_buyer_id (const pp_event_t *self)
{
    assert (self);
    return self->buyer_id;
}

void
pp_event_set_campaign (pp_event_t *self, uint32_t campaign_id, uint32_t buyer_id)
{
    assert (self);
    self->campaign_id = campaign_id;
    self->buyer_id = buyer_id;
}

int64_t
pp_event_amount_cents (const pp_event_t *self)
{
    assert (self);
    return self->amount_cents;
}

void
pp_event_set_amount_cents (pp_event_t *self, int64_t cents)
{
    assert (self);
    self->amount_cents = cents;
}

int64_t
pp_event_payout_cents (const pp_event_t *self)
{
    assert (self);
    return self->payout_cents;
}

void
pp_event_set_payout_cents (pp_event_t *self, int64_t cents)
{
    assert (self);
    self->payout_cents = cents;
}

int64_t
pp_event_latency_us (const pp_event_t *self)
{
    assert (self);
    return self->latency_us;
}

void
pp_event_set_latency_us (pp_event_t *self, int64_t us)
{
    assert (self);
    self->latency_us = us;
}

//  Replace an owned string; NULL and "" both mean unset.
static void
s_set_string (char **field, const char *value)
{
    free (*field);
    *field = NULL;
    if (value && *value) {
        *field = strdup (value);
        assert (*field);
    }
}

const char *
pp_event_code (const pp_event_t *self)
{
    assert (self);
    return self->code ? self->code : "";
}

void
pp_event_set_code (pp_event_t *self, const char *code)
{
    assert (self);
    s_set_string (&self->code, code);
}

const char *
pp_event_detail (const pp_event_t *self)
{
    assert (self);
    return self->detail ? self->detail : "";
}

void
pp_event_set_detail (pp_event_t *self, const char *json_text)
{
    assert (self);
    s_set_string (&self->detail, json_text);
}

//  --------------------------------------------------------------------------
//  One event on the wire. Keys at their default are left out.

static size_t
s_event_hint (const pp_event_t *self)
{
    return 96 + strlen (self->id) + strlen (self->kind) + (self->code ? strlen (self->code) : 0) +
           (self->detail ? strlen (self->detail) : 0);
}

static void
s_pack_event (msgpack_packer *pk, const pp_event_t *self)
{
    size_t keys = 5 + (self->campaign_id != 0) + (self->buyer_id != 0) + (self->amount_cents != 0) +
                  (self->payout_cents != 0) + (self->latency_us != -1) + (self->code != NULL) +
                  (self->detail != NULL);
    msgpack_pack_map (pk, keys);
    PP_WIRE_PACK_KEY (pk, "id");
    pp_wire_pack_str (pk, self->id);
    PP_WIRE_PACK_KEY (pk, "ld");
    pp_wire_pack_str (pk, self->lead_id);
    PP_WIRE_PACK_KEY (pk, "k");
    pp_wire_pack_str (pk, self->kind);
    PP_WIRE_PACK_KEY (pk, "sg");
    msgpack_pack_int (pk, self->stage);
    PP_WIRE_PACK_KEY (pk, "at");
    msgpack_pack_int64 (pk, self->at_us);
    if (self->campaign_id != 0) {
        PP_WIRE_PACK_KEY (pk, "cp");
        msgpack_pack_uint32 (pk, self->campaign_id);
    }
    if (self->buyer_id != 0) {
        PP_WIRE_PACK_KEY (pk, "by");
        msgpack_pack_uint32 (pk, self->buyer_id);
    }
    if (self->amount_cents != 0) {
        PP_WIRE_PACK_KEY (pk, "am");
        msgpack_pack_int64 (pk, self->amount_cents);
    }
    if (self->payout_cents != 0) {
        PP_WIRE_PACK_KEY (pk, "po");
        msgpack_pack_int64 (pk, self->payout_cents);
    }
    if (self->latency_us != -1) {
        PP_WIRE_PACK_KEY (pk, "lat");
        msgpack_pack_int64 (pk, self->latency_us);
    }
    if (self->code) {
        PP_WIRE_PACK_KEY (pk, "cd");
        pp_wire_pack_str (pk, self->code);
    }
    if (self->detail) {
        PP_WIRE_PACK_KEY (pk, "dt");
        pp_wire_pack_str (pk, self->detail);
    }
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

//  Decode one event into a new object; NULL with *reason and *bad_key set.
static pp_event_t *
s_decode_event (const msgpack_object *o, const char **reason, const char **bad_key)
{
    *bad_key = NULL;
    if (o->type != MSGPACK_OBJECT_MAP) {
        *reason = "event is not a map";
        return NULL;
    }
    pp_event_t *self = s_event_new ();
    unsigned seen = 0;
    *reason = NULL;
    int next = 0;
    const msgpack_object_map *map = &o->via.map;
    for (uint32_t k = 0; k < map->size && !*reason; k++) {
        int key = pp_wire_key_index (&map->ptr[k].key, s_event_keys, E_COUNT, next);
        if (key < 0)
            continue; //  unknown key: ignored
        next = key + 1;
        *bad_key = s_event_keys[key];
        if (seen & (1u << key)) {
            *reason = "duplicate key in an event";
            break;
        }
        seen |= 1u << key;
        const msgpack_object *v = &map->ptr[k].val;
        int64_t stage = 0;
        int rc = 0;
        switch (key) {
            case E_ID:
                rc = pp_wire_strbuf (v, 1, PP_EVENT_ID_MAX, self->id);
                break;
            case E_LD:
                rc = pp_wire_strbuf (v, 1, PP_LEAD_ID_SIZE, self->lead_id);
                break;
            case E_K:
                rc = pp_wire_strbuf (v, 1, PP_EVENT_KIND_MAX, self->kind);
                break;
            case E_SG:
                rc = pp_wire_int (v, 0, UINT8_MAX, &stage);
                self->stage = (int) stage;
                break;
            case E_AT:
                rc = pp_wire_int64 (v, &self->at_us);
                break;
            case E_CP:
                rc = pp_wire_uint32 (v, &self->campaign_id);
                break;
            case E_BY:
                rc = pp_wire_uint32 (v, &self->buyer_id);
                break;
            case E_AM:
                rc = pp_wire_int64 (v, &self->amount_cents);
                break;
            case E_PO:
                rc = pp_wire_int64 (v, &self->payout_cents);
                break;
            case E_LAT:
                rc = pp_wire_int64 (v, &self->latency_us);
                break;
            case E_CD:
                rc = s_decode_string (&self->code, v);
                break;
            case E_DT:
                rc = s_decode_string (&self->detail, v);
                break;
        }
        if (rc)
            *reason = "wrong type or value in an event for key";
    }
    if (!*reason && (seen & PP_EVENT_REQUIRED) != PP_EVENT_REQUIRED) {
        for (int key = 0; key < E_COUNT; key++)
            if ((PP_EVENT_REQUIRED & (1u << key)) && !(seen & (1u << key))) {
                *bad_key = s_event_keys[key];
                break;
            }
        *reason = "event misses key";
    }
    if (*reason)
        pp_event_destroy (&self);
    return self;
}

//  --------------------------------------------------------------------------
//  Batches

pp_events_t *
pp_events_new (void)
{
    pp_events_t *self = (pp_events_t *) zmalloc (sizeof (pp_events_t));
    assert (self);
    return self;
}

void
pp_events_destroy (pp_events_t **self_p)
{
    assert (self_p);
    pp_events_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->size; i++)
            pp_event_destroy (&self->events[i]);
        free (self->events);
        free (self);
        *self_p = NULL;
    }
}

size_t
pp_events_size (const pp_events_t *self)
{
    assert (self);
    return self->size;
}

pp_event_t *
pp_events_get (pp_events_t *self, size_t i)
{
    assert (self);
    assert (i < self->size);
    return self->events[i];
}

static void
s_events_reserve (pp_events_t *self, size_t want)
{
    if (want <= self->alloc)
        return;
    size_t grown = self->alloc ? self->alloc * 2 : 16;
    if (grown < want)
        grown = want;
    pp_event_t **events = (pp_event_t **) realloc (self->events, grown * sizeof (pp_event_t *));
    assert (events);
    self->events = events;
    self->alloc = grown;
}

void
pp_events_append (pp_events_t *self, pp_event_t **event_p)
{
    assert (self);
    assert (event_p);
    assert (*event_p);
    s_events_reserve (self, self->size + 1);
    self->events[self->size++] = *event_p;
    *event_p = NULL;
}

zframe_t *
pp_events_encode (const pp_events_t *self)
{
    assert (self);
    size_t hint = 32;
    for (size_t i = 0; i < self->size; i++)
        hint += s_event_hint (self->events[i]);
    pp_wire_out_t out;
    pp_wire_begin (&out, hint, PP_EVENTS_TYPE, 3);
    PP_WIRE_PACK_KEY (&out.pk, "ev");
    msgpack_pack_array (&out.pk, self->size);
    for (size_t i = 0; i < self->size; i++)
        s_pack_event (&out.pk, self->events[i]);
    return pp_wire_frame (&out);
}

pp_events_t *
pp_events_decode_buf (const void *data, size_t size)
{
    pp_wire_in_t in;
    pp_events_t *self = NULL;
    if (pp_wire_open (&in, data, size, "pp_events", PP_EVENTS_TYPE))
        goto cleanup;

    const msgpack_object *list = NULL;
    for (uint32_t k = 0; k < in.root->size; k++) {
        if (pp_wire_key_index (&in.root->ptr[k].key, s_batch_keys, L_COUNT, 0) != L_EV)
            continue;
        if (list) {
            pp_wire_reject (&in, "duplicate key", "ev");
            goto cleanup;
        }
        list = &in.root->ptr[k].val;
    }
    if (!list) {
        pp_wire_reject (&in, "missing key", "ev");
        goto cleanup;
    }
    if (list->type != MSGPACK_OBJECT_ARRAY) {
        pp_wire_reject (&in, "wrong type for key", "ev");
        goto cleanup;
    }
    self = pp_events_new ();
    s_events_reserve (self, list->via.array.size);
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const char *reason, *bad_key;
        pp_event_t *event = s_decode_event (&list->via.array.ptr[i], &reason, &bad_key);
        if (!event) {
            pp_wire_reject (&in, reason, bad_key);
            pp_events_destroy (&self);
            goto cleanup;
        }
        self->events[self->size++] = event;
    }
cleanup:
    pp_wire_close (&in);
    return self;
}

pp_events_t *
pp_events_decode (zframe_t *frame)
{
    if (!frame) {
        zsys_warning ("pp_events: no frame");
        return NULL;
    }
    return pp_events_decode_buf (zframe_data (frame), zframe_size (frame));
}

//  --------------------------------------------------------------------------
//  Acknowledgments

pp_ack_t *
pp_ack_new (void)
{
    pp_ack_t *self = (pp_ack_t *) zmalloc (sizeof (pp_ack_t));
    assert (self);
    return self;
}

void
pp_ack_destroy (pp_ack_t **self_p)
{
    assert (self_p);
    pp_ack_t *self = *self_p;
    if (self) {
        free (self->ids);
        free (self);
        *self_p = NULL;
    }
}

size_t
pp_ack_size (const pp_ack_t *self)
{
    assert (self);
    return self->size;
}

const char *
pp_ack_get (const pp_ack_t *self, size_t i)
{
    assert (self);
    assert (i < self->size);
    return self->ids[i];
}

static void
s_ack_reserve (pp_ack_t *self, size_t want)
{
    if (want <= self->alloc)
        return;
    size_t grown = self->alloc ? self->alloc * 2 : 64;
    if (grown < want)
        grown = want;
    pp_ack_id_t *ids = (pp_ack_id_t *) realloc (self->ids, grown * sizeof (pp_ack_id_t));
    assert (ids);
    self->ids = ids;
    self->alloc = grown;
}

//  event_id must be 1..PP_EVENT_ID_MAX bytes (asserted: it comes from an event).
void
pp_ack_append (pp_ack_t *self, const char *event_id)
{
    assert (self);
    assert (event_id);
    s_ack_reserve (self, self->size + 1);
    int rc = s_copy_bounded (self->ids[self->size], event_id, 1, PP_EVENT_ID_MAX);
    assert (rc == 0);
    self->size++;
}

zframe_t *
pp_ack_encode (const pp_ack_t *self)
{
    assert (self);
    pp_wire_out_t out;
    pp_wire_begin (&out, 32 + self->size * (PP_EVENT_ID_MAX + 2), PP_ACK_TYPE, 3);
    PP_WIRE_PACK_KEY (&out.pk, "ids");
    msgpack_pack_array (&out.pk, self->size);
    for (size_t i = 0; i < self->size; i++)
        pp_wire_pack_str (&out.pk, self->ids[i]);
    return pp_wire_frame (&out);
}

pp_ack_t *
pp_ack_decode_buf (const void *data, size_t size)
{
    pp_wire_in_t in;
    pp_ack_t *self = NULL;
    if (pp_wire_open (&in, data, size, "pp_ack", PP_ACK_TYPE))
        goto cleanup;

    const msgpack_object *ids = NULL;
    for (uint32_t k = 0; k < in.root->size; k++) {
        if (pp_wire_key_index (&in.root->ptr[k].key, s_ack_keys, A_COUNT, 0) != A_IDS)
            continue;
        if (ids) {
            pp_wire_reject (&in, "duplicate key", "ids");
            goto cleanup;
        }
        ids = &in.root->ptr[k].val;
    }
    if (!ids) {
        pp_wire_reject (&in, "missing key", "ids");
        goto cleanup;
    }
    if (ids->type != MSGPACK_OBJECT_ARRAY) {
        pp_wire_reject (&in, "wrong type for key", "ids");
        goto cleanup;
    }
    self = pp_ack_new ();
    s_ack_reserve (self, ids->via.array.size);
    for (uint32_t i = 0; i < ids->via.array.size; i++) {
        if (pp_wire_strbuf (&ids->via.array.ptr[i], 1, PP_EVENT_ID_MAX, self->ids[i])) {
            pp_wire_reject (&in, "wrong type or value in key", "ids");
            pp_ack_destroy (&self);
            goto cleanup;
        }
        self->size++;
    }
cleanup:
    pp_wire_close (&in);
    return self;
}

pp_ack_t *
pp_ack_decode (zframe_t *frame)
{
    if (!frame) {
        zsys_warning ("pp_ack: no frame");
        return NULL;
    }
    return pp_ack_decode_buf (zframe_data (frame), zframe_size (frame));
}
