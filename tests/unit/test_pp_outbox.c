/*  test_pp_outbox - the ledger outbox against a real ZeroMQ ROUTER playing pingpost-ledger  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "pp_outbox.h"
#include "pp_util.h"

//  Each test runs in its own short var dir (ipc paths must stay short).
typedef struct {
    char var_dir [32];          //  /tmp/ppu-XXXXXX
    pp_config_t *config;        //  ledger slot 0 at ipc://<var>/run/ledger-0
    char *endpoint;             //  that endpoint
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) zmalloc (sizeof (s_fixture_t));
    snprintf (fixture->var_dir, sizeof fixture->var_dir, "/tmp/ppu-XXXXXX");
    if (!mkdtemp (fixture->var_dir)) {
        free (fixture);
        return -1;
    }
    char run [64];
    snprintf (run, sizeof run, "%s/run", fixture->var_dir);
    zsys_dir_create ("%s", run);
    fixture->config = pp_config_new ();
    free (fixture->config->var_dir);
    fixture->config->var_dir = strdup (fixture->var_dir);
    fixture->config->slots [PP_SLOT_LEDGER] = 1;
    fixture->endpoint = pp_config_endpoint (fixture->config, PP_SLOT_LEDGER, 0);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zstr_free (&fixture->endpoint);
    pp_config_destroy (&fixture->config);
    char path [96];
    snprintf (path, sizeof path, "%s/run/ledger-0", fixture->var_dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/run", fixture->var_dir);
    rmdir (path);
    rmdir (fixture->var_dir);
    free (fixture);
    return 0;
}

//  The ledger's side: a ROUTER bound on the ledger slot.
static zsock_t *
s_ledger_new (s_fixture_t *fixture)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_non_null (router);
    zsock_set_linger (router, 0);
    assert_int_equal (zsock_bind (router, "%s", fixture->endpoint), 0);
    return router;
}

static pp_event_t *
s_event (int n)
{
    char id [48];
    snprintf (id, sizeof id, "01J0000000000000000000TEST.%d", n);
    pp_event_t *event = pp_event_new (id, "01J0000000000000000000TEST", "received", 1,
                                      pp_now_us ());
    assert_non_null (event);
    return event;
}

static void
s_add (pp_outbox_t *outbox, int n, int expected_rc)
{
    pp_event_t *event = s_event (n);
    assert_int_equal (pp_outbox_add (outbox, &event), expected_rc);
    assert_null (event);
}

//  Receive one batch at the ledger within timeout_ms: the batch, or NULL;
//  the sender's routing id goes to *peer_p (caller destroys).
static pp_events_t *
s_ledger_recv (zsock_t *router, int timeout_ms, zframe_t **peer_p)
{
    zpoller_t *poller = zpoller_new (router, NULL);
    pp_events_t *batch = NULL;
    if (zpoller_wait (poller, timeout_ms) == router) {
        zframe_t *peer = zframe_recv (router);
        zframe_t *body = zframe_recv (router);
        assert_non_null (peer);
        assert_non_null (body);
        assert_false (zsock_rcvmore (router));
        batch = pp_events_decode (body);
        assert_non_null (batch);
        zframe_destroy (&body);
        *peer_p = peer;
    }
    zpoller_destroy (&poller);
    return batch;
}

//  Flush until the ledger receives a batch (the DEALER connects with
//  ZMQ_IMMEDIATE, so sends wait for the connection).
static pp_events_t *
s_flush_until_received (pp_outbox_t *outbox, zsock_t *router, zframe_t **peer_p)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        pp_outbox_flush (outbox);
        pp_events_t *batch = s_ledger_recv (router, 10, peer_p);
        if (batch)
            return batch;
    }
    fail_msg ("the ledger never received a batch");
    return NULL;
}

//  Send an ack with these ids to the peer.
static void
s_ledger_ack (zsock_t *router, zframe_t *peer, const char *const *ids, size_t count)
{
    pp_ack_t *ack = pp_ack_new ();
    for (size_t i = 0; i < count; i++)
        pp_ack_append (ack, ids [i]);
    zframe_t *frame = pp_ack_encode (ack);
    pp_ack_destroy (&ack);
    zframe_t *to = zframe_dup (peer);
    assert_int_equal (zframe_send (&to, router, ZFRAME_MORE), 0);
    assert_int_equal (zframe_send (&frame, router, 0), 0);
}

//  Ack every event of a batch.
static void
s_ledger_ack_batch (zsock_t *router, zframe_t *peer, pp_events_t *batch)
{
    pp_ack_t *ack = pp_ack_new ();
    for (size_t i = 0; i < pp_events_size (batch); i++)
        pp_ack_append (ack, pp_event_id (pp_events_get (batch, i)));
    zframe_t *frame = pp_ack_encode (ack);
    pp_ack_destroy (&ack);
    zframe_t *to = zframe_dup (peer);
    assert_int_equal (zframe_send (&to, router, ZFRAME_MORE), 0);
    assert_int_equal (zframe_send (&frame, router, 0), 0);
}

//  Let the outbox read one message from its DEALER.
static void
s_outbox_take (pp_outbox_t *outbox)
{
    zpoller_t *poller = zpoller_new (pp_outbox_socket (outbox), NULL);
    assert_ptr_equal (zpoller_wait (poller, 2000), pp_outbox_socket (outbox));
    zpoller_destroy (&poller);
    assert_int_equal (pp_outbox_recv (outbox), 0);
}

static void
test_pp_outbox_batch_and_ack (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    assert_non_null (outbox);
    assert_non_null (pp_outbox_socket (outbox));
    assert_int_equal (zsock_type (pp_outbox_socket (outbox)), ZMQ_DEALER);
    assert_int_equal (pp_outbox_pending (outbox), 0);

    for (int n = 0; n < 5; n++)
        s_add (outbox, n, 0);
    assert_int_equal (pp_outbox_pending (outbox), 5);
    zframe_t *peer = NULL;
    pp_events_t *batch = s_flush_until_received (outbox, router, &peer);
    //  One batch, in the order added
    assert_int_equal (pp_events_size (batch), 5);
    for (int n = 0; n < 5; n++) {
        char id [32];
        snprintf (id, sizeof id, "01J0000000000000000000TEST.%d", n);
        assert_string_equal (pp_event_id (pp_events_get (batch, (size_t) n)), id);
        assert_string_equal (pp_event_kind (pp_events_get (batch, (size_t) n)), "received");
    }
    //  Sent, not acknowledged: still pending, and a flush sends nothing again
    assert_int_equal (pp_outbox_pending (outbox), 5);
    pp_outbox_flush (outbox);
    zframe_t *other = NULL;
    pp_events_t *again = s_ledger_recv (router, 100, &other);
    assert_null (again);

    //  A partial ack, then the rest
    const char *first [] = {"01J0000000000000000000TEST.1", "01J0000000000000000000TEST.3"};
    s_ledger_ack (router, peer, first, 2);
    s_outbox_take (outbox);
    assert_int_equal (pp_outbox_pending (outbox), 3);
    s_ledger_ack_batch (router, peer, batch);
    s_outbox_take (outbox);
    assert_int_equal (pp_outbox_pending (outbox), 0);
    assert_false (pp_outbox_full (outbox));

    pp_events_destroy (&batch);
    zframe_destroy (&peer);
    pp_outbox_destroy (&outbox);
    assert_null (outbox);
    pp_outbox_destroy (&outbox);        //  safe on NULL
    zsock_destroy (&router);
}

//  A timer that ends the loop.
static int
s_on_stop (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

//  pp_outbox_flush_soon sends only a full eager batch; fewer events wait for
//  the outbox's tick on the loop, which sends them within a few ticks.
static void
test_pp_outbox_flush_soon (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    assert_non_null (outbox);
    //  Connected first (ZMQ_IMMEDIATE holds sends until then)
    s_add (outbox, 1000, 0);
    zframe_t *peer = NULL;
    pp_events_t *batch = s_flush_until_received (outbox, router, &peer);
    assert_int_equal (pp_events_size (batch), 1);
    pp_events_destroy (&batch);
    zframe_destroy (&peer);

    //  One short of an eager batch: nothing goes
    for (int n = 0; n < PP_OUTBOX_EAGER - 1; n++)
        s_add (outbox, n, 0);
    pp_outbox_flush_soon (outbox);
    batch = s_ledger_recv (router, 100, &peer);
    assert_null (batch);
    //  The eager batch's last event sends all of them at once, in order
    s_add (outbox, PP_OUTBOX_EAGER - 1, 0);
    pp_outbox_flush_soon (outbox);
    batch = s_ledger_recv (router, 1000, &peer);
    assert_non_null (batch);
    assert_int_equal (pp_events_size (batch), PP_OUTBOX_EAGER);
    assert_string_equal (pp_event_id (pp_events_get (batch, 0)), "01J0000000000000000000TEST.0");
    pp_events_destroy (&batch);
    zframe_destroy (&peer);

    //  Three more wait for the tick: none without the loop, all with it
    for (int n = 100; n < 103; n++)
        s_add (outbox, n, 0);
    pp_outbox_flush_soon (outbox);
    batch = s_ledger_recv (router, 50, &peer);
    assert_null (batch);
    zloop_t *loop = zloop_new ();
    assert_int_equal (pp_outbox_attach (outbox, loop), 0);
    assert_true (zloop_timer (loop, 10 * PP_OUTBOX_TICK_MS, 1, s_on_stop, NULL) > 0);
    int64_t started = pp_mono_us ();
    zloop_start (loop);
    batch = s_ledger_recv (router, 1000, &peer);
    assert_non_null (batch);
    assert_int_equal (pp_events_size (batch), 3);
    assert_true (pp_mono_us () - started < 1000000);
    pp_events_destroy (&batch);
    zframe_destroy (&peer);
    assert_int_equal (pp_outbox_pending (outbox), 1 + PP_OUTBOX_EAGER + 3);

    pp_outbox_destroy (&outbox);
    zloop_destroy (&loop);
    zsock_destroy (&router);
}

//  The tick runs only while the outbox holds events: not before the first,
//  and it stops once the ledger acknowledged them all (an idle stage does
//  not wake every 5 ms), and starts again with the next event.
static void
test_pp_outbox_tick_only_when_holding (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    zloop_t *loop = zloop_new ();
    assert_int_equal (pp_outbox_attach (outbox, loop), 0);
    assert_false (pp_outbox_ticking (outbox));

    for (int round = 0; round < 2; round++) {
        s_add (outbox, 10 * round, 0);
        s_add (outbox, 10 * round + 1, 0);
        assert_true (pp_outbox_ticking (outbox));
        //  The tick sends them (nothing else flushes here)
        assert_true (zloop_timer (loop, 40 * PP_OUTBOX_TICK_MS, 1, s_on_stop, NULL) > 0);
        zloop_start (loop);
        zframe_t *peer = NULL;
        pp_events_t *batch = s_ledger_recv (router, 1000, &peer);
        assert_non_null (batch);
        assert_int_equal (pp_events_size (batch), 2);
        //  Still unacknowledged: still ticking (resends depend on it)
        assert_true (pp_outbox_ticking (outbox));
        s_ledger_ack_batch (router, peer, batch);
        s_outbox_take (outbox);
        assert_int_equal (pp_outbox_pending (outbox), 0);
        assert_true (zloop_timer (loop, 10 * PP_OUTBOX_TICK_MS, 1, s_on_stop, NULL) > 0);
        zloop_start (loop);
        assert_false (pp_outbox_ticking (outbox));
        pp_events_destroy (&batch);
        zframe_destroy (&peer);
    }
    pp_outbox_destroy (&outbox);
    zloop_destroy (&loop);
    zsock_destroy (&router);
}

static void
test_pp_outbox_large_batches (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    for (int n = 0; n < 2500; n++)
        s_add (outbox, n, 0);
    //  At most 1000 events a frame, nothing lost, nothing twice
    zframe_t *peer = NULL;
    pp_events_t *batch = s_flush_until_received (outbox, router, &peer);
    size_t total = pp_events_size (batch);
    assert_true (pp_events_size (batch) <= 1000);
    zhashx_t *seen = zhashx_new ();
    for (size_t i = 0; i < pp_events_size (batch); i++)
        assert_int_equal (zhashx_insert (seen, pp_event_id (pp_events_get (batch, i)), seen), 0);
    s_ledger_ack_batch (router, peer, batch);
    pp_events_destroy (&batch);
    int frames = 1;
    while (total < 2500) {
        zframe_t *next_peer = NULL;
        batch = s_flush_until_received (outbox, router, &next_peer);
        assert_true (pp_events_size (batch) <= 1000);
        for (size_t i = 0; i < pp_events_size (batch); i++)
            assert_int_equal (
                zhashx_insert (seen, pp_event_id (pp_events_get (batch, i)), seen), 0);
        total += pp_events_size (batch);
        s_ledger_ack_batch (router, next_peer, batch);
        pp_events_destroy (&batch);
        zframe_destroy (&next_peer);
        frames++;
    }
    assert_int_equal (total, 2500);
    assert_int_equal (zhashx_size (seen), 2500);
    assert_true (frames >= 3);
    for (int i = 0; i < frames; i++)
        s_outbox_take (outbox);
    assert_int_equal (pp_outbox_pending (outbox), 0);
    zhashx_destroy (&seen);
    zframe_destroy (&peer);
    pp_outbox_destroy (&outbox);
    zsock_destroy (&router);
}

//  The loop test's ledger: counts batches and acks only from the second
//  delivery of an event on.
typedef struct {
    zsock_t *router;            //  the ledger
    pp_outbox_t *outbox;        //  Not owned
    int batches;                //  batches received
    int64_t first_us;           //  monotonic time of the first batch
    int64_t second_us;          //  of the second
    char first_ids [4][64];     //  ids of the first batch
    size_t first_count;         //  entries in first_ids
    bool second_same;           //  the second batch held the same ids
    bool acked;                 //  acked the second batch
} s_ledger_t;

static int
s_on_ledger (zloop_t *loop, zsock_t *reader, void *arg)
{
    s_ledger_t *ledger = (s_ledger_t *) arg;
    zframe_t *peer = NULL;
    pp_events_t *batch = s_ledger_recv (ledger->router, 0, &peer);
    if (!batch)
        return 0;
    ledger->batches++;
    if (ledger->batches == 1) {
        ledger->first_us = pp_mono_us ();
        ledger->first_count = pp_events_size (batch);
        for (size_t i = 0; i < pp_events_size (batch) && i < 4; i++)
            snprintf (ledger->first_ids [i], 64, "%s", pp_event_id (pp_events_get (batch, i)));
    }
    else
    if (ledger->batches == 2) {
        ledger->second_us = pp_mono_us ();
        ledger->second_same = pp_events_size (batch) == ledger->first_count;
        for (size_t i = 0; i < pp_events_size (batch) && i < 4; i++)
            if (!streq (ledger->first_ids [i], pp_event_id (pp_events_get (batch, i))))
                ledger->second_same = false;
        s_ledger_ack_batch (ledger->router, peer, batch);
        ledger->acked = true;
    }
    pp_events_destroy (&batch);
    zframe_destroy (&peer);
    return 0;
}

static void
test_pp_outbox_resend (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    fixture->config->outbox_resend_ms = 150;
    s_ledger_t ledger = {0};
    ledger.router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    ledger.outbox = outbox;
    zloop_t *loop = zloop_new ();
    assert_int_equal (pp_outbox_attach (outbox, loop), 0);
    assert_int_equal (zloop_reader (loop, ledger.router, s_on_ledger, &ledger), 0);
    for (int n = 0; n < 3; n++)
        s_add (outbox, n, 0);
    //  The outbox's own timer flushes and resends; run for 1 s
    zloop_timer (loop, 1000, 1, s_on_stop, NULL);
    zloop_start (loop);

    assert_int_equal (ledger.first_count, 3);
    //  Sent once, then again after resend_ms without an ack, then acked:
    //  nothing more after that
    assert_int_equal (ledger.batches, 2);
    assert_true (ledger.second_same);
    assert_true (ledger.acked);
    int64_t gap_ms = (ledger.second_us - ledger.first_us) / 1000;
    if (gap_ms < 140 || gap_ms > 600)
        fail_msg ("resent after %lld ms, expected about 150", (long long) gap_ms);
    assert_int_equal (pp_outbox_pending (outbox), 0);

    //  Destroying the outbox first detaches it from the loop
    pp_outbox_destroy (&outbox);
    zloop_destroy (&loop);
    zsock_destroy (&ledger.router);
}

//  A slow ledger that keeps acknowledging is not sent its backlog again:
//  only silence makes the outbox resend.
static void
test_pp_outbox_no_resend_while_acks_flow (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    fixture->config->outbox_resend_ms = 100;
    zsock_t *router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    s_add (outbox, 0, 0);
    zframe_t *peer = NULL;
    pp_events_t *batch = s_flush_until_received (outbox, router, &peer);
    assert_non_null (batch);
    assert_int_equal (pp_events_size (batch), 1);
    pp_events_destroy (&batch);
    //  Event 0 stays unacknowledged; newer events are acked every 40 ms
    //  for 400 ms (4 resend periods)
    int64_t until = zclock_mono () + 400;
    int n = 1;
    int resent = 0;
    while (zclock_mono () < until) {
        s_add (outbox, n, 0);
        pp_outbox_flush (outbox);
        zframe_t *from = NULL;
        pp_events_t *got = s_ledger_recv (router, 100, &from);
        for (size_t i = 0; got && i < pp_events_size (got); i++) {
            pp_event_t *event = pp_events_get (got, i);
            if (streq (pp_event_id (event), "01J0000000000000000000TEST.0"))
                resent++;
            else {
                const char *ids [] = {pp_event_id (event)};
                s_ledger_ack (router, from, ids, 1);
            }
        }
        pp_events_destroy (&got);
        zframe_destroy (&from);
        //  Let the outbox take the acks and run its resend check
        s_outbox_take (outbox);
        pp_outbox_flush (outbox);
        zclock_sleep (40);
        n++;
    }
    assert_int_equal (resent, 0);
    assert_int_equal (pp_outbox_pending (outbox), 1);
    zframe_destroy (&peer);
    pp_outbox_destroy (&outbox);
    zsock_destroy (&router);
}

static void
test_pp_outbox_ack_duplicates (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    for (int n = 0; n < 3; n++)
        s_add (outbox, n, 0);
    //  The same event added twice is kept once
    s_add (outbox, 1, 0);
    assert_int_equal (pp_outbox_pending (outbox), 3);
    zframe_t *peer = NULL;
    pp_events_t *batch = s_flush_until_received (outbox, router, &peer);
    assert_int_equal (pp_events_size (batch), 3);
    pp_events_destroy (&batch);

    //  An id twice, an unknown id, and an id acked twice over two acks
    const char *ids [] = {
        "01J0000000000000000000TEST.0", "01J0000000000000000000TEST.0",
        "01J0000000000000000000TEST.99", "01J0000000000000000000TEST.2",
    };
    s_ledger_ack (router, peer, ids, 4);
    s_outbox_take (outbox);
    assert_int_equal (pp_outbox_pending (outbox), 1);
    s_ledger_ack (router, peer, ids, 4);
    s_outbox_take (outbox);
    assert_int_equal (pp_outbox_pending (outbox), 1);
    //  A malformed answer changes nothing
    zframe_t *to = zframe_dup (peer);
    zframe_send (&to, router, ZFRAME_MORE);
    zstr_send (router, "not msgpack");
    s_outbox_take (outbox);
    assert_int_equal (pp_outbox_pending (outbox), 1);
    //  The batch frame of events is not an ack either
    pp_events_t *events = pp_events_new ();
    pp_event_t *event = s_event (1);
    pp_events_append (events, &event);
    zframe_t *frame = pp_events_encode (events);
    pp_events_destroy (&events);
    to = zframe_dup (peer);
    zframe_send (&to, router, ZFRAME_MORE);
    zframe_send (&frame, router, 0);
    s_outbox_take (outbox);
    assert_int_equal (pp_outbox_pending (outbox), 1);
    //  The last one
    const char *last [] = {"01J0000000000000000000TEST.1"};
    s_ledger_ack (router, peer, last, 1);
    s_outbox_take (outbox);
    assert_int_equal (pp_outbox_pending (outbox), 0);

    zframe_destroy (&peer);
    pp_outbox_destroy (&outbox);
    zsock_destroy (&router);
}

static void
test_pp_outbox_full (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    fixture->config->outbox_limit = 3;
    zsock_t *router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    s_add (outbox, 0, 0);
    s_add (outbox, 1, 0);
    assert_false (pp_outbox_full (outbox));
    s_add (outbox, 2, 0);
    //  At the limit: full
    assert_true (pp_outbox_full (outbox));
    //  Past it: -1, but the event is kept
    s_add (outbox, 3, -1);
    s_add (outbox, 4, -1);
    assert_int_equal (pp_outbox_pending (outbox), 5);
    assert_true (pp_outbox_full (outbox));

    //  Every event reaches the ledger, the kept ones included
    zhashx_t *seen = zhashx_new ();
    zframe_t *peer = NULL;
    while (zhashx_size (seen) < 5) {
        zframe_t *from = NULL;
        pp_events_t *batch = s_flush_until_received (outbox, router, &from);
        for (size_t i = 0; i < pp_events_size (batch); i++)
            zhashx_insert (seen, pp_event_id (pp_events_get (batch, i)), seen);
        s_ledger_ack_batch (router, from, batch);
        s_outbox_take (outbox);
        pp_events_destroy (&batch);
        zframe_destroy (&peer);
        peer = from;
    }
    assert_non_null (zhashx_lookup (seen, "01J0000000000000000000TEST.4"));
    assert_int_equal (pp_outbox_pending (outbox), 0);
    assert_false (pp_outbox_full (outbox));
    //  And it takes events again
    s_add (outbox, 5, 0);
    assert_false (pp_outbox_full (outbox));
    zhashx_destroy (&seen);
    zframe_destroy (&peer);
    //  Destroy with an event pending frees it
    pp_outbox_destroy (&outbox);
    zsock_destroy (&router);
}

static void
test_pp_outbox_drain_no_ledger (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    for (int n = 0; n < 4; n++)
        s_add (outbox, n, 0);
    int64_t start = pp_mono_us ();
    size_t left = pp_outbox_drain (outbox, 300);
    int64_t took_ms = (pp_mono_us () - start) / 1000;
    assert_int_equal (left, 4);
    assert_int_equal (pp_outbox_pending (outbox), 4);
    if (took_ms < 280 || took_ms > 1500)
        fail_msg ("drain took %lld ms, expected about 300", (long long) took_ms);
    //  Nothing pending: returns at once
    pp_outbox_t *empty = pp_outbox_new (fixture->config);
    start = pp_mono_us ();
    assert_int_equal (pp_outbox_drain (empty, 5000), 0);
    assert_true (pp_mono_us () - start < 1000000);
    pp_outbox_destroy (&empty);
    pp_outbox_destroy (&outbox);
}

//  A ledger in its own thread that acks everything until told to stop.
static void
s_ledger_actor (zsock_t *pipe, void *args)
{
    const char *endpoint = (const char *) args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (router, 0);
    int rc = zsock_bind (router, "%s", endpoint);
    zsock_signal (pipe, rc == 0 ? 0 : 1);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (rc == 0) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;              //  $TERM or interrupted
        zframe_t *peer = zframe_recv (router);
        zframe_t *body = zframe_recv (router);
        pp_events_t *batch = body ? pp_events_decode (body) : NULL;
        if (peer && batch) {
            pp_ack_t *ack = pp_ack_new ();
            for (size_t i = 0; i < pp_events_size (batch); i++)
                pp_ack_append (ack, pp_event_id (pp_events_get (batch, i)));
            zframe_t *frame = pp_ack_encode (ack);
            pp_ack_destroy (&ack);
            zframe_send (&peer, router, ZFRAME_MORE);
            zframe_send (&frame, router, 0);
        }
        pp_events_destroy (&batch);
        zframe_destroy (&peer);
        zframe_destroy (&body);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

static void
test_pp_outbox_drain_with_ledger (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zactor_t *ledger = zactor_new (s_ledger_actor, fixture->endpoint);
    assert_non_null (ledger);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    for (int n = 0; n < 1500; n++)
        s_add (outbox, n, 0);
    int64_t start = pp_mono_us ();
    assert_int_equal (pp_outbox_drain (outbox, 5000), 0);
    assert_int_equal (pp_outbox_pending (outbox), 0);
    assert_true (pp_mono_us () - start < 4000000);
    pp_outbox_destroy (&outbox);
    zactor_destroy (&ledger);
}

static void
test_pp_outbox_destroy_pending (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    zsock_t *router = s_ledger_new (fixture);
    pp_outbox_t *outbox = pp_outbox_new (fixture->config);
    zloop_t *loop = zloop_new ();
    assert_int_equal (pp_outbox_attach (outbox, loop), 0);
    //  Some sent and unacknowledged, some never sent
    for (int n = 0; n < 10; n++)
        s_add (outbox, n, 0);
    zframe_t *peer = NULL;
    pp_events_t *batch = s_flush_until_received (outbox, router, &peer);
    assert_int_equal (pp_events_size (batch), 10);
    pp_events_destroy (&batch);
    zframe_destroy (&peer);
    for (int n = 10; n < 20; n++)
        s_add (outbox, n, 0);
    //  The loop runs a while (its timer flushes the second ten), then stops,
    //  as a stage's loop does before the stage is destroyed
    zloop_timer (loop, 50, 1, s_on_stop, NULL);
    zloop_start (loop);
    batch = s_ledger_recv (router, 1000, &peer);
    assert_non_null (batch);
    assert_int_equal (pp_events_size (batch), 10);
    pp_events_destroy (&batch);
    zframe_destroy (&peer);
    assert_int_equal (pp_outbox_pending (outbox), 20);
    //  Everything freed (the sanitizer build checks)
    pp_outbox_destroy (&outbox);
    zloop_destroy (&loop);
    zsock_destroy (&router);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_pp_outbox_batch_and_ack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_large_batches, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_flush_soon, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_tick_only_when_holding, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_resend, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_no_resend_while_acks_flow, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_ack_duplicates, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_drain_no_ledger, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_drain_with_ledger, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pp_outbox_destroy_pending, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
