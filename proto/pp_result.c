/*  pp_result - the answer for one lead, sent by the stage that ends it to the lead's intake  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_result.h"
#include "pp_lead.h"
#include "pp_wire.h"

//  Message type and keys; proto/README.md is the spec.
#define PP_RESULT_TYPE "result"

//  Root keys, in the order of the encoding (v and t are checked by pp_wire_open).
enum { K_V, K_T, K_ID, K_ST, K_PR, K_CH, K_SG, K_RN, K_COUNT };
static const char *const s_keys[K_COUNT] = {
    PP_WIRE_KEY_VERSION, PP_WIRE_KEY_TYPE, "id", "st", "pr", "ch", "sg", "rn"};
#define PP_RESULT_REQUIRED ((1u << K_ID) | (1u << K_ST))

//  Keys of one reason map.
enum { R_C, R_F, R_M, R_COUNT };
static const char *const s_reason_keys[R_COUNT] = {"c", "f", "m"};

//  One reason. The three strings share one allocation, "code\0field\0message\0".
typedef struct {
    char *code;    //  the block; code at its start
    char *field;   //  inside the block, "" when none
    char *message; //  inside the block, "" when none
} pp_result_reason_t;

struct pp_result {
    char lead_id[PP_LEAD_ID_SIZE + 1]; //  the lead this answers
    pp_status_t status;                //  business outcome
    int64_t price_cents;               //  publisher payout, cents
    int64_t charge_cents;              //  total charged to buyers, cents
    int stage;                         //  pp_stage_code_t that ended the lead, 0 = unknown
    pp_result_reason_t *reasons;       //  reasons, in order
    size_t reason_size;                //  reasons in use
    size_t reason_alloc;               //  reasons allocated
};

static const char *const s_status_names[] = {NULL,       "sold",      "unsold",
                                             "rejected", "duplicate", "error"};

const char *
pp_status_name (int status)
{
    if (status >= PP_STATUS_SOLD && status <= PP_STATUS_ERROR)
        return s_status_names[status];
    return "error";
}

int
pp_status_from_name (const char *name)
{
    if (!name)
        return -1;
    for (int status = PP_STATUS_SOLD; status <= PP_STATUS_ERROR; status++)
        if (streq (name, s_status_names[status]))
            return status;
    return -1;
}

static bool
s_status_valid (int status)
{
    return status >= PP_STATUS_SOLD && status <= PP_STATUS_ERROR;
}

//  NULL when lead_id is not 1..PP_LEAD_ID_SIZE chars or status is unknown.
pp_result_t *
pp_result_new (const char *lead_id, pp_status_t status)
{
    if (!lead_id || !s_status_valid ((int) status))
        return NULL;
    size_t len = strnlen (lead_id, PP_LEAD_ID_SIZE + 1);
    if (len < 1 || len > PP_LEAD_ID_SIZE)
        return NULL;
    pp_result_t *self = (pp_result_t *) zmalloc (sizeof (pp_result_t));
    assert (self);
    memcpy (self->lead_id, lead_id, len + 1);
    self->status = status;
    return self;
}

void
pp_result_destroy (pp_result_t **self_p)
{
    assert (self_p);
    pp_result_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->reason_size; i++)
            free (self->reasons[i].code);
        free (self->reasons);
        free (self);
        *self_p = NULL;
    }
}

const char *
pp_result_lead_id (const pp_result_t *self)
{
    assert (self);
    return self->lead_id;
}

pp_status_t
pp_result_status (const pp_result_t *self)
{
    assert (self);
    return self->status;
}

void
pp_result_set_status (pp_result_t *self, pp_status_t status)
{
    assert (self);
    assert (s_status_valid ((int) status));
    self->status = status;
}

int64_t
pp_result_price_cents (const pp_result_t *self)
{
    assert (self);
    return self->price_cents;
}

void
pp_result_set_price_cents (pp_result_t *self, int64_t cents)
{
    assert (self);
    self->price_cents = cents;
}

int64_t
pp_result_charge_cents (const pp_result_t *self)
{
    assert (self);
    return self->charge_cents;
}

void
pp_result_set_charge_cents (pp_result_t *self, int64_t cents)
{
    assert (self);
    self->charge_cents = cents;
}

int
pp_result_stage (const pp_result_t *self)
{
    assert (self);
    return self->stage;
}

void
pp_result_set_stage (pp_result_t *self, int stage)
{
    assert (self);
    assert (stage >= 0 && stage <= UINT8_MAX);
    self->stage = stage;
}

size_t
pp_result_reason_size (const pp_result_t *self)
{
    assert (self);
    return self->reason_size;
}

const char *
pp_result_reason_code (const pp_result_t *self, size_t i)
{
    assert (self);
    assert (i < self->reason_size);
    return self->reasons[i].code;
}

const char *
pp_result_reason_field (const pp_result_t *self, size_t i)
{
    assert (self);
    assert (i < self->reason_size);
    return self->reasons[i].field;
}

const char *
pp_result_reason_message (const pp_result_t *self, size_t i)
{
    assert (self);
    assert (i < self->reason_size);
    return self->reasons[i].message;
}

//  Append a reason from three strings of known length.
static void
s_add_reason (pp_result_t *self, const char *code, size_t code_len, const char *field,
              size_t field_len, const char *message, size_t message_len)
{
    if (self->reason_size == self->reason_alloc) {
        size_t grown = self->reason_alloc ? self->reason_alloc * 2 : 4;
        pp_result_reason_t *reasons =
            (pp_result_reason_t *) realloc (self->reasons, grown * sizeof (pp_result_reason_t));
        assert (reasons);
        self->reasons = reasons;
        self->reason_alloc = grown;
    }
    char *block = (char *) malloc (code_len + field_len + message_len + 3);
    assert (block);
    pp_result_reason_t *reason = &self->reasons[self->reason_size++];
    reason->code = block;
    memcpy (reason->code, code, code_len);
    reason->code[code_len] = '\0';
    reason->field = reason->code + code_len + 1;
    memcpy (reason->field, field, field_len);
    reason->field[field_len] = '\0';
    reason->message = reason->field + field_len + 1;
    memcpy (reason->message, message, message_len);
    reason->message[message_len] = '\0';
}

void
pp_result_add_reason (pp_result_t *self, const char *code, const char *field, const char *message)
{
    assert (self);
    assert (code);
    field = field ? field : "";
    message = message ? message : "";
    s_add_reason (self, code, strlen (code), field, strlen (field), message, strlen (message));
}

//  --------------------------------------------------------------------------
//  Encoding. Keys at their default are left out.

static void
s_encode (const pp_result_t *self, pp_wire_out_t *out)
{
    assert (self);
    size_t hint = 64;
    for (size_t i = 0; i < self->reason_size; i++) {
        const pp_result_reason_t *reason = &self->reasons[i];
        hint += 16 + strlen (reason->code) + strlen (reason->field) + strlen (reason->message);
    }
    size_t keys = 2 + 2 + (self->price_cents != 0) + (self->charge_cents != 0) +
                  (self->stage != 0) + (self->reason_size > 0);
    pp_wire_begin (out, hint, PP_RESULT_TYPE, keys);
    msgpack_packer *pk = &out->pk;
    PP_WIRE_PACK_KEY (pk, "id");
    pp_wire_pack_str (pk, self->lead_id);
    PP_WIRE_PACK_KEY (pk, "st");
    msgpack_pack_int (pk, (int) self->status);
    if (self->price_cents != 0) {
        PP_WIRE_PACK_KEY (pk, "pr");
        msgpack_pack_int64 (pk, self->price_cents);
    }
    if (self->charge_cents != 0) {
        PP_WIRE_PACK_KEY (pk, "ch");
        msgpack_pack_int64 (pk, self->charge_cents);
    }
    if (self->stage != 0) {
        PP_WIRE_PACK_KEY (pk, "sg");
        msgpack_pack_int (pk, self->stage);
    }
    if (self->reason_size > 0) {
        PP_WIRE_PACK_KEY (pk, "rn");
        msgpack_pack_array (pk, self->reason_size);
        for (size_t i = 0; i < self->reason_size; i++) {
            const pp_result_reason_t *reason = &self->reasons[i];
            bool field = *reason->field != '\0';
            bool message = *reason->message != '\0';
            msgpack_pack_map (pk, 1 + field + message);
            PP_WIRE_PACK_KEY (pk, "c");
            pp_wire_pack_str (pk, reason->code);
            if (field) {
                PP_WIRE_PACK_KEY (pk, "f");
                pp_wire_pack_str (pk, reason->field);
            }
            if (message) {
                PP_WIRE_PACK_KEY (pk, "m");
                pp_wire_pack_str (pk, reason->message);
            }
        }
    }
}

zframe_t *
pp_result_encode (const pp_result_t *self)
{
    pp_wire_out_t out;
    s_encode (self, &out);
    return pp_wire_frame (&out);
}

//  --------------------------------------------------------------------------
//  Decoding.

static const char *
s_decode_reason (pp_result_t *self, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return "reason is not a map";
    const char *text[R_COUNT] = {"", "", ""};
    size_t len[R_COUNT] = {0, 0, 0};
    unsigned seen = 0;
    int next = 0;
    const msgpack_object_map *map = &o->via.map;
    for (uint32_t k = 0; k < map->size; k++) {
        int key = pp_wire_key_index (&map->ptr[k].key, s_reason_keys, R_COUNT, next);
        if (key < 0)
            continue;
        next = key + 1;
        if (seen & (1u << key))
            return "duplicate key in a reason";
        seen |= 1u << key;
        if (pp_wire_strp (&map->ptr[k].val, 0, SIZE_MAX, &text[key], &len[key]))
            return "wrong type or value in a reason";
    }
    if (!(seen & (1u << R_C)))
        return "reason misses its code";
    s_add_reason (self, text[R_C], len[R_C], text[R_F], len[R_F], text[R_M], len[R_M]);
    return NULL;
}

pp_result_t *
pp_result_decode_buf (const void *data, size_t size)
{
    pp_wire_in_t in;
    pp_result_t *self = NULL;
    if (pp_wire_open (&in, data, size, "pp_result", PP_RESULT_TYPE))
        goto cleanup;

    self = (pp_result_t *) zmalloc (sizeof (pp_result_t));
    assert (self);
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
        int64_t number = 0;
        int rc = 0;
        switch (key) {
            case K_V:
            case K_T:
                break;
            case K_ID:
                rc = pp_wire_strbuf (v, 1, PP_LEAD_ID_SIZE, self->lead_id);
                break;
            case K_ST:
                rc = pp_wire_int (v, PP_STATUS_SOLD, PP_STATUS_ERROR, &number);
                self->status = (pp_status_t) number;
                break;
            case K_PR:
                rc = pp_wire_int64 (v, &self->price_cents);
                break;
            case K_CH:
                rc = pp_wire_int64 (v, &self->charge_cents);
                break;
            case K_SG:
                rc = pp_wire_int (v, 0, UINT8_MAX, &number);
                self->stage = (int) number;
                break;
            case K_RN:
                if (v->type != MSGPACK_OBJECT_ARRAY) {
                    rc = -1;
                    break;
                }
                for (uint32_t i = 0; i < v->via.array.size && !reason; i++)
                    reason = s_decode_reason (self, &v->via.array.ptr[i]);
                break;
        }
        if (rc)
            reason = "wrong type or value for key";
    }
    if (!reason && (seen & PP_RESULT_REQUIRED) != PP_RESULT_REQUIRED) {
        for (key = 0; key < K_COUNT; key++)
            if ((PP_RESULT_REQUIRED & (1u << key)) && !(seen & (1u << key)))
                break;
        reason = "missing key";
    }
    if (reason) {
        pp_wire_reject (&in, reason, key >= 0 && key < K_COUNT ? s_keys[key] : NULL);
        pp_result_destroy (&self);
    }
cleanup:
    pp_wire_close (&in);
    return self;
}

pp_result_t *
pp_result_decode (zframe_t *frame)
{
    if (!frame) {
        zsys_warning ("pp_result: no frame");
        return NULL;
    }
    return pp_result_decode_buf (zframe_data (frame), zframe_size (frame));
}

int
pp_result_send (const pp_result_t *self, void *sock, int flags)
{
    pp_wire_out_t out;
    s_encode (self, &out);
    return pp_wire_send (&out, sock, flags);
}

pp_result_t *
pp_result_recv (void *sock)
{
    zmq_msg_t msg;
    if (pp_wire_recv (sock, &msg, "pp_result"))
        return NULL;
    pp_result_t *self = pp_result_decode_buf (zmq_msg_data (&msg), zmq_msg_size (&msg));
    zmq_msg_close (&msg);
    return self;
}
