/*  pp_wire - msgpack helpers shared by the codecs of libpp_proto (internal, not a contract)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_WIRE_H_INCLUDED
#define PP_WIRE_H_INCLUDED

#include <czmq.h>
#include <msgpack.h>
#include "pp_fields.h"

//  Common frame keys.
#define PP_WIRE_KEY_VERSION "v"
#define PP_WIRE_KEY_TYPE "t"

//  Pack a string literal (a key constant) without a strlen.
#define PP_WIRE_PACK_KEY(pk, literal) pp_wire_pack_strn ((pk), (literal), sizeof (literal) - 1)

//  An encoder: a msgpack_sbuffer with an initial size and a packer on it.
typedef struct {
    msgpack_sbuffer sbuf;       //  the encoded bytes
    msgpack_packer pk;          //  writes into sbuf
} pp_wire_out_t;

//  Start an encoding: preallocate `size_hint` bytes, open the root map of
//  `keys` entries (v and t included) and write v and t = `type`.
void
    pp_wire_begin (pp_wire_out_t *out, size_t size_hint, const char *type, size_t keys);
//  Free the buffer. Safe to call twice.
void
    pp_wire_end (pp_wire_out_t *out);
//  Copy the encoded bytes into a new frame and end the encoding.
zframe_t *
    pp_wire_frame (pp_wire_out_t *out);
//  Send the encoded bytes as one message (no frame copy) and end the
//  encoding; 0 or -1 with errno from zmq_send.
int
    pp_wire_send (pp_wire_out_t *out, void *sock, int flags);

//  Receive one message into *msg. 0: *msg holds it, close it after use.
//  -1: interrupted or failed, or a multipart message (drained and logged);
//  nothing to close.
int
    pp_wire_recv (void *sock, zmq_msg_t *msg, const char *subject);

//  Pack a string of `len` bytes / a NUL-terminated string (NULL packs "").
void
    pp_wire_pack_strn (msgpack_packer *pk, const char *s, size_t len);
void
    pp_wire_pack_str (msgpack_packer *pk, const char *s);

//  A decoder: the unpacked object tree of one frame. Strings in it point
//  into the input buffer, which must outlive the decoder.
typedef struct {
    msgpack_zone *zone;         //  holds the object tree; back to the thread's spares at close
    msgpack_object object;      //  the unpacked frame
    const msgpack_object_map *root;     //  the root map; Not owned
    const char *subject;        //  "pp_lead"..., prefix of log lines
} pp_wire_in_t;

//  Check and unpack one frame: exactly one well-formed msgpack object whose
//  every declared length fits in the input (so a few bytes can never make
//  the unpacker allocate much), a map, with "v" = PP_PROTO_VERSION and
//  "t" = `type`. Returns 0, or -1 after logging "<subject>: <reason>"; in
//  both cases call pp_wire_close.
int
    pp_wire_open (pp_wire_in_t *in, const void *data, size_t size, const char *subject,
                  const char *type);
void
    pp_wire_close (pp_wire_in_t *in);
//  Log why a frame is rejected: "<subject>: <reason>" or "<subject>: <reason> '<key>'".
void
    pp_wire_reject (const pp_wire_in_t *in, const char *reason, const char *key);
//  Scan the structure of the first msgpack object in data; sets *used to its
//  length. Returns NULL, or a static reason.
const char *
    pp_wire_scan (const uint8_t *data, size_t size, size_t *used);

//  Index of `key` in names[0..count), or -1 (also for a non-string key).
//  The search begins at names[start] and wraps around.
int
    pp_wire_key_index (const msgpack_object *key, const char *const *names, int count,
                       int start);

//  Typed reads of one value: 0, or -1 for a wrong msgpack type or a value
//  out of range. Nothing is written on -1.
int
    pp_wire_int (const msgpack_object *o, int64_t min, int64_t max, int64_t *value);
int
    pp_wire_int64 (const msgpack_object *o, int64_t *value);
int
    pp_wire_uint32 (const msgpack_object *o, uint32_t *value);
int
    pp_wire_bool (const msgpack_object *o, bool *value);
//  A string of min..max bytes without NUL bytes; *ptr is not terminated.
int
    pp_wire_strp (const msgpack_object *o, size_t min, size_t max, const char **ptr,
                  size_t *len);
//  As pp_wire_strp, copied into buf (size max + 1) and terminated.
int
    pp_wire_strbuf (const msgpack_object *o, size_t min, size_t max, char *buf);
//  As pp_wire_strp, into a new heap string (free with free); NULL on error.
char *
    pp_wire_strdup (const msgpack_object *o, size_t min, size_t max);

//  Field bags on the wire (implemented in pp_fields.c).
//  Pack the bag as a map name -> value.
void
    pp_fields_pack (const pp_fields_t *self, msgpack_packer *pk);
//  Fill an empty bag from a map; NULL, or a static reason.
const char *
    pp_fields_unpack (pp_fields_t *self, const msgpack_object *o);
//  Bytes of names and string values held (an encoding size hint).
size_t
    pp_fields_bytes (const pp_fields_t *self);

#endif
