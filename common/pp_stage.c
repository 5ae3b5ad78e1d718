/*  pp_stage - the runtime shared by the pipeline stages: sockets, deadlines, replies, events, config  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_stage.h"
#include "pp_log.h"
#include "pp_util.h"
#include "pp_watch.h"

#include <sys/random.h>

struct pp_stage {
    const pp_config_t *config;  //  Not owned
    int code;                   //  pp_stage_code_t
    int slot;                   //  our slot
    char name [16];             //  "validate"
    char instance [5];          //  random tag that makes event ids unique per run
    uint64_t event_seq;         //  events made by this run
    zsock_t *input;             //  PULL bound on our slot
    zsock_t *outputs [PP_SLOT_KINDS];   //  PUSH to every slot of a stage kind, NULL when unused
    zsock_t **replies;          //  PUSH per intake slot
    int reply_count;            //  entries in replies
    pp_outbox_t *outbox;        //  ledger events
    pp_watch_t *watch;          //  market and database session
    zloop_t *loop;              //  the one loop
    bool reading;               //  input reader registered (off under back-pressure)
    int pressure_timer;         //  re-checks the outbox while input is paused, else 0
    int watchdog_timer;         //  sd watchdog timer, 0 = none
    pp_stage_handler_fn *handler;   //  the stage's logic
    void *handler_arg;          //  its argument
    pp_stage_reload_fn *reload; //  market change callback
    void *reload_arg;           //  its argument
    uint64_t handled;           //  leads taken
};

static const char s_base32 [] = "0123456789abcdefghjkmnpqrstvwxyz";

void
pp_event_id_make (char *buf, size_t size, const char *lead_id, int stage, const char *instance,
                  uint64_t n)
{
    char digits [16];
    int at = (int) sizeof digits;
    digits [--at] = 0;
    do {
        digits [--at] = s_base32 [n & 31];
        n >>= 5;
    } while (n && at > 0);
    snprintf (buf, size, "%s.%d%s%s", lead_id, stage, instance, digits + at);
}

static int s_on_input (zloop_t *loop, zsock_t *reader, void *arg);
static int s_on_pressure (zloop_t *loop, int timer_id, void *arg);

#define S_PRESSURE_MS 50            //  outbox re-check period while input is paused

static void
s_on_market (pp_market_t *market, void *arg)
{
    pp_stage_t *self = (pp_stage_t *) arg;
    zsys_info ("%s: market loaded: %zu verticals, %zu campaigns", self->name,
               pp_market_vertical_count (market), pp_market_campaign_count (market));
    if (self->reload)
        self->reload (self, market, self->reload_arg);
}

static pp_slot_kind_t
s_kind_of (int code)
{
    switch (code) {
        case PP_STAGE_VALIDATE: return PP_SLOT_VALIDATE;
        case PP_STAGE_FILTER: return PP_SLOT_FILTER;
        case PP_STAGE_AUCTION: return PP_SLOT_AUCTION;
        case PP_STAGE_DELIVER: return PP_SLOT_DELIVER;
        default: return PP_SLOT_KINDS;
    }
}

pp_stage_t *
pp_stage_new (const pp_config_t *config, int code, int slot)
{
    assert (config);
    pp_slot_kind_t kind = s_kind_of (code);
    assert (kind != PP_SLOT_KINDS);
    if (slot < 0 || slot >= config->slots [kind]) {
        zsys_error ("%s: slot %d is not declared (slots/%s = %d)", pp_stage_code_name (code),
                    slot, pp_slot_kind_name (kind), config->slots [kind]);
        return NULL;
    }
    pp_stage_t *self = (pp_stage_t *) zmalloc (sizeof (pp_stage_t));
    self->config = config;
    self->code = code;
    self->slot = slot;
    snprintf (self->name, sizeof self->name, "%s", pp_stage_code_name (code));
    uint8_t random [4];
    if (getrandom (random, sizeof random, 0) != (ssize_t) sizeof random)
        memset (random, (int) getpid (), sizeof random);
    for (int i = 0; i < 4; i++)
        self->instance [i] = s_base32 [random [i] & 31];

    char *run_dir = zsys_sprintf ("%s/run", config->var_dir);
    zsys_dir_create ("%s", run_dir);
    zstr_free (&run_dir);

    //  Stable parts bind: our input on our slot
    self->input = zsock_new (ZMQ_PULL);
    assert (self->input);
    zsock_set_rcvhwm (self->input, config->hwm);
    zsock_set_linger (self->input, 0);
    char *endpoint = pp_config_endpoint (config, kind, slot);
    if (zsock_bind (self->input, "%s", endpoint) < 0) {
        zsys_error ("%s: cannot bind %s: %s", self->name, endpoint, zmq_strerror (zmq_errno ()));
        zstr_free (&endpoint);
        pp_stage_destroy (&self);
        return NULL;
    }
    zstr_free (&endpoint);

    //  Moving parts connect: the next stage, every declared slot
    if (kind != PP_SLOT_DELIVER)
        pp_stage_add_output (self, (pp_slot_kind_t) (kind + 1));
    self->reply_count = config->slots [PP_SLOT_INTAKE];
    self->replies = (zsock_t **) zmalloc (sizeof (zsock_t *) * (size_t) self->reply_count);
    for (int n = 0; n < self->reply_count; n++) {
        self->replies [n] = zsock_new (ZMQ_PUSH);
        assert (self->replies [n]);
        zsock_set_immediate (self->replies [n], 1);
        zsock_set_reconnect_ivl_max (self->replies [n], PP_RECONNECT_MAX_MS);
        zsock_set_sndhwm (self->replies [n], config->hwm);
        zsock_set_linger (self->replies [n], 0);
        endpoint = pp_config_endpoint (config, PP_SLOT_INTAKE, n);
        if (zsock_connect (self->replies [n], "%s", endpoint))
            zsys_warning ("%s: cannot connect to %s", self->name, endpoint);
        zstr_free (&endpoint);
    }
    self->outbox = pp_outbox_new (config);
    self->watch = pp_watch_new (config->database_url);
    if (!self->watch) {
        zsys_error ("%s: cannot load the marketplace from the database", self->name);
        pp_stage_destroy (&self);
        return NULL;
    }
    self->loop = zloop_new ();
    assert (self->loop);
    if (zloop_reader (self->loop, self->input, s_on_input, self)
        || pp_outbox_attach (self->outbox, self->loop)
        || pp_watch_attach (self->watch, self->loop)) {
        zsys_error ("%s: cannot set up the loop", self->name);
        pp_stage_destroy (&self);
        return NULL;
    }
    self->reading = true;
    pp_watch_set_callback (self->watch, s_on_market, self);
    pp_market_t *market = pp_watch_market (self->watch);
    zsys_info ("%s: slot %d up, market: %zu verticals, %zu campaigns", self->name, slot,
               pp_market_vertical_count (market), pp_market_campaign_count (market));
    return self;
}

void
pp_stage_destroy (pp_stage_t **self_p)
{
    assert (self_p);
    pp_stage_t *self = *self_p;
    if (!self)
        return;
    pp_outbox_destroy (&self->outbox);
    pp_watch_destroy (&self->watch);
    zloop_destroy (&self->loop);
    for (int n = 0; n < self->reply_count; n++)
        zsock_destroy (&self->replies [n]);
    free (self->replies);
    for (int k = 0; k < PP_SLOT_KINDS; k++)
        zsock_destroy (&self->outputs [k]);
    zsock_destroy (&self->input);
    free (self);
    *self_p = NULL;
}

void
pp_stage_set_handler (pp_stage_t *self, pp_stage_handler_fn *handler, void *arg)
{
    assert (self);
    self->handler = handler;
    self->handler_arg = arg;
}

void
pp_stage_set_reload (pp_stage_t *self, pp_stage_reload_fn *reload, void *arg)
{
    assert (self);
    self->reload = reload;
    self->reload_arg = arg;
}

//  Back-pressure: while the outbox is full we stop taking leads, so the
//  upstream PUSH queues fill and intake answers 503, and nothing is dropped.
static void
s_check_pressure (pp_stage_t *self)
{
    bool full = pp_outbox_full (self->outbox);
    if (full && self->reading) {
        zloop_reader_end (self->loop, self->input);
        self->reading = false;
        zsys_warning ("%s: ledger outbox full (%zu events), pausing input", self->name,
                      pp_outbox_pending (self->outbox));
        pp_sd_status ("ledger outbox full, input paused");
        if (!self->pressure_timer)
            self->pressure_timer = zloop_timer (self->loop, S_PRESSURE_MS, 0, s_on_pressure, self);
    }
    else
    if (!full && !self->reading) {
        if (zloop_reader (self->loop, self->input, s_on_input, self) == 0) {
            self->reading = true;
            zsys_notice ("%s: ledger outbox drained, input resumed", self->name);
            pp_sd_status ("running");
            if (self->pressure_timer > 0)
                zloop_timer_end (self->loop, self->pressure_timer);
            self->pressure_timer = 0;
        }
    }
}

static int
s_on_input (zloop_t *loop, zsock_t *reader, void *arg)
{
    pp_stage_t *self = (pp_stage_t *) arg;
    //  Take a bounded burst per wake-up, then let timers and acks run
    for (int burst = 0; burst < 64 && self->reading; burst++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, zsock_resolve (self->input), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            break;
        }
        pp_lead_t *lead = pp_lead_decode_buf (zmq_msg_data (&msg), zmq_msg_size (&msg));
        zmq_msg_close (&msg);
        if (!lead)
            continue;           //  malformed: logged by the decoder
        self->handled++;
        int64_t now = pp_now_us ();
        pp_lead_add_stamp (lead, self->code, false, now);
        if (now >= pp_lead_deadline_us (lead))
            pp_stage_finish_status (self, &lead, PP_STATUS_ERROR, "timeout", NULL,
                                    "the lead's deadline passed before it was processed");
        else
        if (self->handler)
            self->handler (self, &lead, self->handler_arg);
        else
            pp_stage_finish_status (self, &lead, PP_STATUS_ERROR, "internal", NULL,
                                    "stage has no handler");
        assert (!lead);
        s_check_pressure (self);
    }
    pp_outbox_flush_soon (self->outbox);
    return 0;
}

static int
s_on_watchdog (zloop_t *loop, int timer_id, void *arg)
{
    pp_sd_watchdog ();
    return 0;
}

//  Input paused by a full outbox resumes as soon as acks drain it.
static int
s_on_pressure (zloop_t *loop, int timer_id, void *arg)
{
    s_check_pressure ((pp_stage_t *) arg);
    return 0;
}

int
pp_stage_run (pp_stage_t *self)
{
    assert (self);
    int watchdog_ms = pp_sd_watchdog_ms ();
    if (watchdog_ms)
        self->watchdog_timer = zloop_timer (self->loop, (size_t) watchdog_ms, 0, s_on_watchdog,
                                            self);
    pp_sd_ready ();
    pp_sd_status ("running");
    zloop_start (self->loop);
    pp_sd_stopping ();
    zsys_info ("%s: stopping after %" PRIu64 " leads", self->name, self->handled);
    size_t left = pp_outbox_drain (self->outbox, 2000);
    if (left)
        zsys_warning ("%s: %zu events not acknowledged at exit", self->name, left);
    return 0;
}

zloop_t *
pp_stage_loop (pp_stage_t *self)
{
    assert (self);
    return self->loop;
}

const pp_config_t *
pp_stage_config (pp_stage_t *self)
{
    assert (self);
    return self->config;
}

pp_market_t *
pp_stage_market (pp_stage_t *self)
{
    assert (self);
    return pp_watch_market (self->watch);
}

pp_db_t *
pp_stage_db (pp_stage_t *self)
{
    assert (self);
    return pp_watch_db (self->watch);
}

int
pp_stage_code (pp_stage_t *self)
{
    assert (self);
    return self->code;
}

const char *
pp_stage_name (pp_stage_t *self)
{
    assert (self);
    return self->name;
}

void
pp_stage_add_output (pp_stage_t *self, pp_slot_kind_t kind)
{
    assert (self);
    assert (kind > PP_SLOT_INTAKE && kind < PP_SLOT_LEDGER);
    if (self->outputs [kind])
        return;
    zsock_t *output = zsock_new (ZMQ_PUSH);
    assert (output);
    zsock_set_sndhwm (output, self->config->hwm);
    zsock_set_linger (output, 0);
    pp_config_connect_slots (self->config, output, kind, self->name);
    self->outputs [kind] = output;
}

void
pp_stage_forward_to (pp_stage_t *self, pp_slot_kind_t kind, pp_lead_t **lead_p)
{
    assert (self && lead_p && *lead_p);
    assert (kind >= 0 && kind < PP_SLOT_KINDS && self->outputs [kind]);
    pp_lead_t *lead = *lead_p;
    pp_lead_add_stamp (lead, self->code, true, pp_now_us ());
    if (pp_lead_send (lead, zsock_resolve (self->outputs [kind]), ZMQ_DONTWAIT) == 0) {
        pp_lead_destroy (lead_p);
        return;
    }
    pp_stage_finish_status (self, lead_p, PP_STATUS_ERROR, "overloaded", NULL,
                            "the next stage has no live instance or is full");
}

void
pp_stage_forward (pp_stage_t *self, pp_lead_t **lead_p)
{
    assert (self);
    pp_slot_kind_t kind = s_kind_of (self->code);
    assert (kind != PP_SLOT_DELIVER);
    pp_stage_forward_to (self, (pp_slot_kind_t) (kind + 1), lead_p);
}

void
pp_stage_finish (pp_stage_t *self, pp_lead_t **lead_p, pp_result_t **result_p)
{
    assert (self && lead_p && *lead_p && result_p && *result_p);
    pp_lead_t *lead = *lead_p;
    pp_result_t *result = *result_p;
    pp_result_set_stage (result, self->code);
    if (pp_result_status (result) == PP_STATUS_ERROR) {
        pp_event_t *event = pp_stage_event (self, lead, "error");
        if (pp_result_reason_size (result) > 0)
            pp_event_set_code (event, pp_result_reason_code (result, 0));
        pp_stage_emit (self, &event);
    }
    int slot = pp_lead_reply_slot (lead);
    if (slot < 0 || slot >= self->reply_count)
        zsys_warning ("%s: lead %s names reply slot %d, not declared", self->name,
                      pp_lead_id (lead), slot);
    else
    if (pp_result_send (result, zsock_resolve (self->replies [slot]), ZMQ_DONTWAIT)) {
        if (pp_log_verbose ())
            zsys_debug ("%s: intake %d gone, result of %s dropped", self->name, slot,
                        pp_lead_id (lead));
    }
    pp_result_destroy (result_p);
    pp_lead_destroy (lead_p);
}

void
pp_stage_finish_status (pp_stage_t *self, pp_lead_t **lead_p, pp_status_t status,
                        const char *code, const char *field, const char *message)
{
    assert (self && lead_p && *lead_p);
    pp_result_t *result = pp_result_new (pp_lead_id (*lead_p), status);
    if (code)
        pp_result_add_reason (result, code, field, message);
    pp_stage_finish (self, lead_p, &result);
}

bool
pp_stage_expired (pp_stage_t *self, const pp_lead_t *lead)
{
    assert (self && lead);
    return pp_now_us () >= pp_lead_deadline_us (lead);
}

pp_event_t *
pp_stage_event (pp_stage_t *self, const pp_lead_t *lead, const char *kind)
{
    assert (self && lead && kind);
    char id [PP_EVENT_ID_MAX + 1];
    pp_event_id_make (id, sizeof id, pp_lead_id (lead), self->code, self->instance,
                      ++self->event_seq);
    return pp_event_new (id, pp_lead_id (lead), kind, self->code, pp_now_us ());
}

void
pp_stage_emit (pp_stage_t *self, pp_event_t **event_p)
{
    assert (self && event_p);
    pp_outbox_add (self->outbox, event_p);
}

uint64_t
pp_stage_handled (pp_stage_t *self)
{
    assert (self);
    return self->handled;
}
