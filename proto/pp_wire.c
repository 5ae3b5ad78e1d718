/*  pp_wire - msgpack helpers shared by the codecs of libpp_proto (internal)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_wire.h"
#include "pp_lead.h"

//  --------------------------------------------------------------------------
//  Every stage decodes and encodes each lead, and glibc's malloc makes a
//  request of a kilobyte or more (an encoding's buffer, the unpacker's 8 KB
//  zone) first merge every small chunk freed since (malloc_consolidate):
//  half of a lead's decode and encode went to malloc and free. So each
//  thread keeps its last encoding buffer and a few cleared zones for the
//  next message. They stay reachable from thread-local storage, and a
//  thread that ends frees them (the key's destructor).

#define S_SPARE_ZONES 4                 //  cleared zones a thread keeps
#define S_SPARE_BUFFER_MAX (64 * 1024)  //  a bigger encoding buffer is not kept

typedef struct {
    msgpack_zone *zones [S_SPARE_ZONES];
    size_t zone_count;
    char *buffer;                       //  an encoding buffer, or NULL
    size_t buffer_size;                 //  its allocated size
} s_spares_t;

static _Thread_local s_spares_t *s_spares;
static pthread_key_t s_spares_key;
static pthread_once_t s_spares_once = PTHREAD_ONCE_INIT;

static void
s_spares_free (void *arg)
{
    s_spares_t *spares = (s_spares_t *) arg;
    for (size_t i = 0; i < spares->zone_count; i++)
        msgpack_zone_free (spares->zones [i]);
    free (spares->buffer);
    free (spares);
    s_spares = NULL;            //  a later destructor of this thread starts afresh
}

static void
s_spares_key_make (void)
{
    int rc = pthread_key_create (&s_spares_key, s_spares_free);
    assert (rc == 0);
}

static s_spares_t *
s_thread_spares (void)
{
    if (!s_spares) {
        pthread_once (&s_spares_once, s_spares_key_make);
        s_spares = (s_spares_t *) calloc (1, sizeof (s_spares_t));
        assert (s_spares);
        pthread_setspecific (s_spares_key, s_spares);
    }
    return s_spares;
}

//  --------------------------------------------------------------------------
//  Start an encoding. The sbuffer gets its first block up front (the
//  thread's spare buffer when it is big enough) so a small message is
//  written with no malloc and no realloc.

void
pp_wire_begin (pp_wire_out_t *out, size_t size_hint, const char *type, size_t keys)
{
    assert (out);
    assert (type);
    msgpack_sbuffer_init (&out->sbuf);
    s_spares_t *spares = s_thread_spares ();
    if (spares->buffer && spares->buffer_size >= size_hint) {
        out->sbuf.data = spares->buffer;
        out->sbuf.alloc = spares->buffer_size;
        spares->buffer = NULL;
        spares->buffer_size = 0;
    }
    else {
        out->sbuf.data = (char *) malloc (size_hint);
        assert (out->sbuf.data);
        out->sbuf.alloc = size_hint;
    }
    msgpack_packer_init (&out->pk, &out->sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&out->pk, keys);
    PP_WIRE_PACK_KEY (&out->pk, PP_WIRE_KEY_VERSION);
    msgpack_pack_int (&out->pk, PP_PROTO_VERSION);
    PP_WIRE_PACK_KEY (&out->pk, PP_WIRE_KEY_TYPE);
    pp_wire_pack_str (&out->pk, type);
}

void
pp_wire_end (pp_wire_out_t *out)
{
    assert (out);
    s_spares_t *spares = s_thread_spares ();
    if (out->sbuf.data && !spares->buffer && out->sbuf.alloc <= S_SPARE_BUFFER_MAX) {
        spares->buffer = out->sbuf.data;
        spares->buffer_size = out->sbuf.alloc;
    }
    else
        msgpack_sbuffer_destroy (&out->sbuf);
    msgpack_sbuffer_init (&out->sbuf);
}

zframe_t *
pp_wire_frame (pp_wire_out_t *out)
{
    assert (out);
    zframe_t *frame = zframe_new (out->sbuf.data, out->sbuf.size);
    assert (frame);
    pp_wire_end (out);
    return frame;
}

int
pp_wire_send (pp_wire_out_t *out, void *sock, int flags)
{
    assert (out);
    void *handle = zsock_resolve (sock);
    assert (handle);
    int rc = zmq_send (handle, out->sbuf.data, out->sbuf.size, flags);
    int saved = errno;
    pp_wire_end (out);
    errno = saved;
    return rc == -1 ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Receive straight into a zmq_msg_t: the decoder reads the message in
//  place, no frame object in between. Every codec frame is single-part, so
//  more parts mean a peer that speaks something else; they are drained so
//  the next receive starts on a message boundary.

int
pp_wire_recv (void *sock, zmq_msg_t *msg, const char *subject)
{
    assert (msg);
    void *handle = zsock_resolve (sock);
    assert (handle);
    zmq_msg_init (msg);
    if (zmq_msg_recv (msg, handle, 0) == -1) {
        zmq_msg_close (msg);
        return -1;
    }
    if (!zmq_msg_more (msg))
        return 0;
    while (zmq_msg_more (msg)) {
        if (zmq_msg_recv (msg, handle, 0) == -1)
            break;
    }
    zmq_msg_close (msg);
    zsys_warning ("%s: multipart message rejected", subject);
    return -1;
}

void
pp_wire_pack_strn (msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s ? s : "", len);
}

void
pp_wire_pack_str (msgpack_packer *pk, const char *s)
{
    pp_wire_pack_strn (pk, s, s ? strlen (s) : 0);
}

//  --------------------------------------------------------------------------
//  Read an n-byte big-endian unsigned integer at data[*pos]; -1 if truncated.

static int
s_read_be (const uint8_t *data, size_t size, size_t *pos, size_t n, uint64_t *value)
{
    if (size - *pos < n)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | data[*pos + i];
    *pos += n;
    *value = v;
    return 0;
}

//  --------------------------------------------------------------------------
//  Walk the headers of one msgpack object without building anything.
//  `pending` counts the objects still to read across all open containers;
//  since every object takes at least one byte, pending > bytes left means
//  the input is truncated or lies about a length. This keeps msgpack-c,
//  which allocates a container's slots when it meets the header, from
//  allocating gigabytes for a five-byte input; and it finds the exact end
//  of the object, so trailing bytes can be rejected.

const char *
pp_wire_scan (const uint8_t *data, size_t size, size_t *used)
{
    size_t pos = 0;
    uint64_t pending = 1;
    while (pending > 0) {
        if (pos >= size)
            return "truncated input";
        uint8_t b = data[pos++];
        pending--;
        uint64_t skip = 0;  //  payload bytes after the header
        uint64_t items = 0; //  objects the container holds
        uint64_t n = 0;
        int rc = 0;
        if (b <= 0x7f || b >= 0xe0)
            ; //  fixint
        else if (b <= 0x8f)
            items = 2 * (uint64_t) (b & 0x0f);
        else if (b <= 0x9f)
            items = b & 0x0f;
        else if (b <= 0xbf)
            skip = b & 0x1f;
        else
            switch (b) {
                case 0xc0:
                case 0xc2:
                case 0xc3:
                    break;
                case 0xc1:
                    return "malformed msgpack";
                case 0xc4:
                case 0xd9:
                    rc = s_read_be (data, size, &pos, 1, &skip);
                    break;
                case 0xc5:
                case 0xda:
                    rc = s_read_be (data, size, &pos, 2, &skip);
                    break;
                case 0xc6:
                case 0xdb:
                    rc = s_read_be (data, size, &pos, 4, &skip);
                    break;
                case 0xc7:
                    rc = s_read_be (data, size, &pos, 1, &n);
                    skip = n + 1;
                    break;
                case 0xc8:
                    rc = s_read_be (data, size, &pos, 2, &n);
                    skip = n + 1;
                    break;
                case 0xc9:
                    rc = s_read_be (data, size, &pos, 4, &n);
                    skip = n + 1;
                    break;
                case 0xca:
                    skip = 4;
                    break;
                case 0xcb:
                    skip = 8;
                    break;
                case 0xcc:
                case 0xd0:
                    skip = 1;
                    break;
                case 0xcd:
                case 0xd1:
                    skip = 2;
                    break;
                case 0xce:
                case 0xd2:
                    skip = 4;
                    break;
                case 0xcf:
                case 0xd3:
                    skip = 8;
                    break;
                case 0xd4:
                    skip = 2;
                    break;
                case 0xd5:
                    skip = 3;
                    break;
                case 0xd6:
                    skip = 5;
                    break;
                case 0xd7:
                    skip = 9;
                    break;
                case 0xd8:
                    skip = 17;
                    break;
                case 0xdc:
                    rc = s_read_be (data, size, &pos, 2, &items);
                    break;
                case 0xdd:
                    rc = s_read_be (data, size, &pos, 4, &items);
                    break;
                case 0xde:
                    rc = s_read_be (data, size, &pos, 2, &n);
                    items = 2 * n;
                    break;
                case 0xdf:
                    rc = s_read_be (data, size, &pos, 4, &n);
                    items = 2 * n;
                    break;
                default:
                    return "malformed msgpack";
            }
        if (rc || skip > size - pos)
            return "truncated input";
        pos += skip;
        pending += items;
        if (pending > size - pos)
            return "truncated input";
    }
    *used = pos;
    return NULL;
}

void
pp_wire_reject (const pp_wire_in_t *in, const char *reason, const char *key)
{
    if (key)
        zsys_warning ("%s: %s '%s'", in->subject, reason, key);
    else
        zsys_warning ("%s: %s", in->subject, reason);
}

//  True when o is a string equal to the NUL-terminated `s`.
static bool
s_str_is (const msgpack_object *o, const char *s, size_t len)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp (o->via.str.ptr, s, len) == 0;
}

//  --------------------------------------------------------------------------
//  Open a frame. The envelope is checked before any other key so that a
//  frame of another type or version is reported as such, not as a missing
//  key of this one.

int
pp_wire_open (pp_wire_in_t *in, const void *data, size_t size, const char *subject,
              const char *type)
{
    assert (in);
    assert (subject);
    assert (type);
    in->zone = NULL;
    in->root = NULL;
    in->subject = subject;
    if (!data || size == 0) {
        pp_wire_reject (in, "empty input", NULL);
        return -1;
    }
    size_t used = 0;
    const char *reason = pp_wire_scan ((const uint8_t *) data, size, &used);
    if (reason) {
        pp_wire_reject (in, reason, NULL);
        return -1;
    }
    if (used != size) {
        pp_wire_reject (in, "trailing bytes after the message", NULL);
        return -1;
    }
    s_spares_t *spares = s_thread_spares ();
    if (spares->zone_count > 0)
        in->zone = spares->zones [--spares->zone_count];
    else {
        in->zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
        assert (in->zone);
    }
    size_t offset = 0;
    msgpack_unpack_return ret =
        msgpack_unpack ((const char *) data, size, &offset, in->zone, &in->object);
    if (ret != MSGPACK_UNPACK_SUCCESS) {
        //  Structure was checked; this is nesting deeper than msgpack-c allows.
        pp_wire_reject (in, "cannot unpack (nested too deep)", NULL);
        return -1;
    }
    if (in->object.type != MSGPACK_OBJECT_MAP) {
        pp_wire_reject (in, "not a map", NULL);
        return -1;
    }
    const msgpack_object_map *map = &in->object.via.map;
    const msgpack_object *version = NULL;
    const msgpack_object *msgtype = NULL;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr[i].key;
        const msgpack_object *value = &map->ptr[i].val;
        if (s_str_is (key, PP_WIRE_KEY_VERSION, 1)) {
            if (version) {
                pp_wire_reject (in, "duplicate key", PP_WIRE_KEY_VERSION);
                return -1;
            }
            version = value;
        } else if (s_str_is (key, PP_WIRE_KEY_TYPE, 1)) {
            if (msgtype) {
                pp_wire_reject (in, "duplicate key", PP_WIRE_KEY_TYPE);
                return -1;
            }
            msgtype = value;
        }
    }
    if (!version) {
        pp_wire_reject (in, "missing key", PP_WIRE_KEY_VERSION);
        return -1;
    }
    if (version->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        pp_wire_reject (in, "wrong type for key", PP_WIRE_KEY_VERSION);
        return -1;
    }
    if (version->via.u64 != PP_PROTO_VERSION) {
        zsys_warning ("%s: unsupported version %" PRIu64 " (this build speaks %d)", subject,
                      version->via.u64, PP_PROTO_VERSION);
        return -1;
    }
    if (!msgtype) {
        pp_wire_reject (in, "missing key", PP_WIRE_KEY_TYPE);
        return -1;
    }
    if (msgtype->type != MSGPACK_OBJECT_STR) {
        pp_wire_reject (in, "wrong type for key", PP_WIRE_KEY_TYPE);
        return -1;
    }
    if (!s_str_is (msgtype, type, strlen (type))) {
        zsys_warning ("%s: message is not of type '%s'", subject, type);
        return -1;
    }
    in->root = map;
    return 0;
}

void
pp_wire_close (pp_wire_in_t *in)
{
    assert (in);
    if (in->zone) {
        msgpack_zone_clear (in->zone);
        s_spares_t *spares = s_thread_spares ();
        if (spares->zone_count < S_SPARE_ZONES)
            spares->zones [spares->zone_count++] = in->zone;
        else
            msgpack_zone_free (in->zone);
        in->zone = NULL;
    }
    in->root = NULL;
}

//  --------------------------------------------------------------------------
//  Keys are a few bytes long and looked up for every map entry, so this
//  compares in place: no strlen, no memcmp call, and starts at `start`:
//  our encoders write keys in table order, so passing the index after the
//  previous match finds each key at the first try. A name byte is read only
//  while the bytes before it matched and were not its terminator.

int
pp_wire_key_index (const msgpack_object *key, const char *const *names, int count, int start)
{
    if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0)
        return -1;
    const char *ptr = key->via.str.ptr;
    size_t size = key->via.str.size;
    if (start < 0 || start >= count)
        start = 0;
    for (int n = 0; n < count; n++) {
        int i = start + n < count ? start + n : start + n - count;
        const char *name = names[i];
        size_t j = 0;
        while (j < size && name[j] != '\0' && name[j] == ptr[j])
            j++;
        if (j == size && name[j] == '\0')
            return i;
    }
    return -1;
}

int
pp_wire_int (const msgpack_object *o, int64_t min, int64_t max, int64_t *value)
{
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t) INT64_MAX)
            return -1;
        v = (int64_t) o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = o->via.i64;
    else
        return -1;
    if (v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

int
pp_wire_int64 (const msgpack_object *o, int64_t *value)
{
    return pp_wire_int (o, INT64_MIN, INT64_MAX, value);
}

int
pp_wire_uint32 (const msgpack_object *o, uint32_t *value)
{
    int64_t v;
    if (pp_wire_int (o, 0, UINT32_MAX, &v))
        return -1;
    *value = (uint32_t) v;
    return 0;
}

int
pp_wire_bool (const msgpack_object *o, bool *value)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *value = o->via.boolean;
    return 0;
}

int
pp_wire_strp (const msgpack_object *o, size_t min, size_t max, const char **ptr, size_t *len)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return -1;
    size_t size = o->via.str.size;
    if (size < min || size > max)
        return -1;
    if (size > 0 && memchr (o->via.str.ptr, '\0', size))
        return -1;
    *ptr = size > 0 ? o->via.str.ptr : "";
    *len = size;
    return 0;
}

int
pp_wire_strbuf (const msgpack_object *o, size_t min, size_t max, char *buf)
{
    const char *ptr;
    size_t len;
    if (pp_wire_strp (o, min, max, &ptr, &len))
        return -1;
    memcpy (buf, ptr, len);
    buf[len] = '\0';
    return 0;
}

char *
pp_wire_strdup (const msgpack_object *o, size_t min, size_t max)
{
    const char *ptr;
    size_t len;
    if (pp_wire_strp (o, min, max, &ptr, &len))
        return NULL;
    char *s = (char *) malloc (len + 1);
    assert (s);
    memcpy (s, ptr, len);
    s[len] = '\0';
    return s;
}
