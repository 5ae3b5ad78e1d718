/*  pp_outbox - ledger events a producer holds until pingpost-ledger acknowledges their commit  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_outbox.h"
#include "pp_util.h"

#define PP_OUTBOX_BATCH 1000        //  events per frame at most

//  One event held until acknowledged. It sits in `unsent` until a batch
//  carrying it went out, then in `sent` (oldest first) until acknowledged
//  or due for a resend.
typedef struct {
    pp_event_t *event;          //  the event
    int64_t sent_us;            //  monotonic time of the last send, 0 = never
    zlistx_t *list;             //  Not owned: which list holds it
    void *handle;               //  its handle in that list
} s_entry_t;

struct pp_outbox {
    zsock_t *dealer;            //  connected to every ledger slot
    zlistx_t *unsent;           //  entries waiting for a flush
    zlistx_t *sent;             //  entries sent, oldest send first
    zhashx_t *by_id;            //  event id -> entry (owns the entries)
    size_t limit;               //  full at this many entries
    int64_t resend_us;          //  resend after this long without an ack
    zloop_t *loop;              //  Not owned
    int timer;                  //  flush/resend timer id, 0 while nothing is held
    uint64_t resent;            //  events sent more than once
    int64_t last_ack_us;        //  monotonic time of the last acknowledgment (or of creation)
};

//  Unacknowledged events are resent when the ledger looks gone (no ack at
//  all for resend_ms) and, whatever the acks, once they are this old: a
//  ledger that restarted lost what it had not committed, while acks for
//  newer events keep coming.
#define PP_OUTBOX_STALE_US (30LL * 1000000)

static void s_arm (pp_outbox_t *self);

static void
s_entry_destroy (void **item_p)
{
    s_entry_t *entry = (s_entry_t *) *item_p;
    if (entry) {
        pp_event_destroy (&entry->event);
        free (entry);
        *item_p = NULL;
    }
}

pp_outbox_t *
pp_outbox_new (const pp_config_t *config)
{
    assert (config);
    pp_outbox_t *self = (pp_outbox_t *) zmalloc (sizeof (pp_outbox_t));
    self->dealer = zsock_new (ZMQ_DEALER);
    assert (self->dealer);
    zsock_set_sndhwm (self->dealer, 1000);
    zsock_set_linger (self->dealer, 0);
    pp_config_connect_slots (config, self->dealer, PP_SLOT_LEDGER, "outbox");
    self->unsent = zlistx_new ();
    self->sent = zlistx_new ();
    self->by_id = zhashx_new ();
    zhashx_set_destructor (self->by_id, s_entry_destroy);
    self->limit = (size_t) config->outbox_limit;
    self->resend_us = (int64_t) config->outbox_resend_ms * 1000;
    self->last_ack_us = pp_mono_us ();
    return self;
}

void
pp_outbox_destroy (pp_outbox_t **self_p)
{
    assert (self_p);
    pp_outbox_t *self = *self_p;
    if (!self)
        return;
    if (self->loop) {
        zloop_reader_end (self->loop, self->dealer);
        if (self->timer)
            zloop_timer_end (self->loop, self->timer);
    }
    size_t pending = zhashx_size (self->by_id);
    if (pending)
        zsys_warning ("outbox: %zu events were never acknowledged by the ledger", pending);
    zlistx_destroy (&self->unsent);
    zlistx_destroy (&self->sent);
    zhashx_destroy (&self->by_id);
    zsock_destroy (&self->dealer);
    free (self);
    *self_p = NULL;
}

//  Move an entry to the tail of a list.
static void
s_move (s_entry_t *entry, zlistx_t *to)
{
    if (entry->list == to) {
        zlistx_move_end (to, entry->handle);
        return;
    }
    if (entry->list)
        zlistx_detach (entry->list, entry->handle);
    entry->list = to;
    entry->handle = zlistx_add_end (to, entry);
}

int
pp_outbox_add (pp_outbox_t *self, pp_event_t **event_p)
{
    assert (self && event_p && *event_p);
    pp_event_t *event = *event_p;
    *event_p = NULL;
    if (zhashx_lookup (self->by_id, pp_event_id (event))) {
        //  the same fact twice: keep the first
        pp_event_destroy (&event);
        return 0;
    }
    s_entry_t *entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    entry->event = event;
    zhashx_insert (self->by_id, pp_event_id (event), entry);
    s_move (entry, self->unsent);
    s_arm (self);
    return zhashx_size (self->by_id) > self->limit ? -1 : 0;
}

//  Send up to PP_OUTBOX_BATCH unsent entries as one frame. Returns the
//  number sent, or -1 when the ledger cannot take it now.
static int
s_send_batch (pp_outbox_t *self)
{
    if (zlistx_size (self->unsent) == 0)
        return 0;
    pp_events_t *batch = pp_events_new ();
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->unsent);
    size_t count = 0;
    while (entry && count < PP_OUTBOX_BATCH) {
        pp_event_t *copy = pp_event_dup (entry->event);
        pp_events_append (batch, &copy);
        entry = (s_entry_t *) zlistx_next (self->unsent);
        count++;
    }
    zframe_t *frame = pp_events_encode (batch);
    pp_events_destroy (&batch);
    int rc = zmq_send (zsock_resolve (self->dealer), zframe_data (frame), zframe_size (frame),
                       ZMQ_DONTWAIT);
    zframe_destroy (&frame);
    if (rc < 0)
        return -1;
    int64_t now = pp_mono_us ();
    for (size_t i = 0; i < count; i++) {
        entry = (s_entry_t *) zlistx_first (self->unsent);
        if (entry->sent_us)
            self->resent++;
        entry->sent_us = now;
        s_move (entry, self->sent);
    }
    return (int) count;
}

void
pp_outbox_flush (pp_outbox_t *self)
{
    assert (self);
    while (zlistx_size (self->unsent) > 0)
        if (s_send_batch (self) <= 0)
            break;
}

void
pp_outbox_flush_soon (pp_outbox_t *self)
{
    assert (self);
    if (zlistx_size (self->unsent) >= PP_OUTBOX_EAGER)
        pp_outbox_flush (self);
}

bool
pp_outbox_full (pp_outbox_t *self)
{
    assert (self);
    return zhashx_size (self->by_id) >= self->limit;
}

size_t
pp_outbox_pending (pp_outbox_t *self)
{
    assert (self);
    return zhashx_size (self->by_id);
}

bool
pp_outbox_ticking (pp_outbox_t *self)
{
    assert (self);
    return self->timer > 0;
}

zsock_t *
pp_outbox_socket (pp_outbox_t *self)
{
    assert (self);
    return self->dealer;
}

int
pp_outbox_recv (pp_outbox_t *self)
{
    assert (self);
    zframe_t *frame = zframe_recv (self->dealer);
    if (!frame)
        return -1;
    pp_ack_t *ack = pp_ack_decode (frame);
    zframe_destroy (&frame);
    if (!ack)
        return 0;               //  logged by the decoder
    self->last_ack_us = pp_mono_us ();
    for (size_t i = 0; i < pp_ack_size (ack); i++) {
        s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->by_id, pp_ack_get (ack, i));
        if (!entry)
            continue;           //  acknowledged before (a resend)
        zlistx_detach (entry->list, entry->handle);
        zhashx_delete (self->by_id, pp_ack_get (ack, i));
    }
    pp_ack_destroy (&ack);
    return 0;
}

//  Events sent but not acknowledged go out again: the ledger may have died
//  before its commit. It inserts by event id, so a resend of a committed
//  event is harmless, but a busy ledger is only slow: while acks keep coming
//  we wait (resending its backlog to it would multiply its work), and resend
//  only what is stale. See PP_OUTBOX_STALE_US.
static void
s_resend_due (pp_outbox_t *self)
{
    int64_t now = pp_mono_us ();
    bool silent = now - self->last_ack_us > self->resend_us;
    int64_t due = now - (silent ? self->resend_us : PP_OUTBOX_STALE_US);
    s_entry_t *entry;
    while ((entry = (s_entry_t *) zlistx_first (self->sent)) && entry->sent_us <= due)
        s_move (entry, self->unsent);
}

static int
s_on_ack (zloop_t *loop, zsock_t *reader, void *arg)
{
    pp_outbox_t *self = (pp_outbox_t *) arg;
    return pp_outbox_recv (self) < 0 && zsys_interrupted ? -1 : 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    pp_outbox_t *self = (pp_outbox_t *) arg;
    s_resend_due (self);
    pp_outbox_flush (self);
    //  Nothing held: no tick until the next event (an idle stage sleeps)
    if (zhashx_size (self->by_id) == 0) {
        zloop_timer_end (loop, timer_id);
        self->timer = 0;
    }
    return 0;
}

//  The tick runs while the outbox holds events (unsent or unacknowledged).
static void
s_arm (pp_outbox_t *self)
{
    if (self->loop && !self->timer) {
        int timer = zloop_timer (self->loop, PP_OUTBOX_TICK_MS, 0, s_on_tick, self);
        if (timer > 0)
            self->timer = timer;
        else
            zsys_error ("outbox: cannot start the flush timer");
    }
}

int
pp_outbox_attach (pp_outbox_t *self, zloop_t *loop)
{
    assert (self && loop);
    self->loop = loop;
    if (zloop_reader (loop, self->dealer, s_on_ack, self))
        return -1;
    if (zhashx_size (self->by_id) > 0)
        s_arm (self);
    return 0;
}

size_t
pp_outbox_drain (pp_outbox_t *self, int timeout_ms)
{
    assert (self);
    int64_t until = pp_mono_us () + (int64_t) timeout_ms * 1000;
    zpoller_t *poller = zpoller_new (self->dealer, NULL);
    while (zhashx_size (self->by_id) > 0) {
        s_resend_due (self);
        pp_outbox_flush (self);
        int64_t left = (until - pp_mono_us ()) / 1000;
        if (left <= 0)
            break;
        if (zpoller_wait (poller, (int) (left < 50 ? left : 50)) == self->dealer)
            pp_outbox_recv (self);
    }
    zpoller_destroy (&poller);
    return zhashx_size (self->by_id);
}
