/*  pp_watch - the current marketplace of a service: loaded from PostgreSQL, reloaded on NOTIFY  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_watch.h"
#include "pp_log.h"

#include <pthread.h>

struct pp_watch {
    pp_db_t *db;                //  session that LISTENs (and serves the owner's queries)
    pp_market_t *market;        //  current market
    pthread_mutex_t mutex;      //  guards market for pp_watch_market_link
    zloop_t *loop;              //  Not owned
    zmq_pollitem_t item;        //  the connection's socket, polled by the loop
    bool polling;               //  item registered
    int sweep_timer;            //  periodic check for notifications a query consumed
    int retry_timer;            //  reconnect timer id, 0 = none
    int retry_ms;               //  current backoff
    pp_watch_fn *callback;      //  after a reload
    void *callback_arg;         //  its argument
};

static int s_on_notify (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static int
s_listen (pp_watch_t *self)
{
    int fd = pp_db_listen (self->db, PP_MARKET_CHANNEL);
    if (fd < 0)
        return -1;
    if (self->loop) {
        if (self->polling)
            zloop_poller_end (self->loop, &self->item);
        self->item = (zmq_pollitem_t) {NULL, fd, ZMQ_POLLIN, 0};
        if (zloop_poller (self->loop, &self->item, s_on_notify, self))
            return -1;
        self->polling = true;
    }
    return 0;
}

pp_watch_t *
pp_watch_new (const char *database_url)
{
    pp_watch_t *self = (pp_watch_t *) zmalloc (sizeof (pp_watch_t));
    pthread_mutex_init (&self->mutex, NULL);
    self->db = pp_db_new (database_url);
    self->retry_ms = 100;
    if (!self->db || !pp_db_ok (self->db) || s_listen (self) || pp_watch_reload (self)) {
        pp_watch_destroy (&self);
        return NULL;
    }
    return self;
}

void
pp_watch_destroy (pp_watch_t **self_p)
{
    assert (self_p);
    pp_watch_t *self = *self_p;
    if (!self)
        return;
    if (self->loop && self->polling)
        zloop_poller_end (self->loop, &self->item);
    if (self->loop && self->retry_timer)
        zloop_timer_end (self->loop, self->retry_timer);
    if (self->loop && self->sweep_timer)
        zloop_timer_end (self->loop, self->sweep_timer);
    pp_market_unlink (&self->market);
    pp_db_destroy (&self->db);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

int
pp_watch_reload (pp_watch_t *self)
{
    assert (self);
    pp_market_t *market = pp_market_load (self->db);
    if (!market)
        return -1;
    pthread_mutex_lock (&self->mutex);
    pp_market_t *old = self->market;
    self->market = market;
    pthread_mutex_unlock (&self->mutex);
    pp_market_unlink (&old);
    if (self->callback)
        self->callback (market, self->callback_arg);
    return 0;
}

static int
s_on_retry (zloop_t *loop, int timer_id, void *arg)
{
    pp_watch_t *self = (pp_watch_t *) arg;
    self->retry_timer = 0;
    if (pp_db_reset (self->db) == 0 && s_listen (self) == 0 && pp_watch_reload (self) == 0) {
        zsys_notice ("watch: database connection restored, market reloaded");
        pp_sd_status ("running");
        self->retry_ms = 100;
        return 0;
    }
    self->retry_ms = self->retry_ms < 5000 ? self->retry_ms * 2 : 5000;
    self->retry_timer = zloop_timer (loop, (size_t) self->retry_ms, 1, s_on_retry, self);
    return 0;
}

static int
s_on_notify (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    pp_watch_t *self = (pp_watch_t *) arg;
    int count = pp_db_notifications (self->db);
    if (count > 0) {
        if (pp_watch_reload (self))
            zsys_warning ("watch: market reload failed, keeping the current one");
        else
        if (pp_log_verbose ())
            zsys_debug ("watch: market reloaded");
    }
    else
    if (count < 0 && !self->retry_timer) {
        pp_sd_status ("database down, retrying");
        zloop_poller_end (loop, &self->item);
        self->polling = false;
        self->retry_timer = zloop_timer (loop, (size_t) self->retry_ms, 1, s_on_retry, self);
    }
    return 0;
}

//  A query on the same session (validate's dedupe) reads and queues any
//  notification that arrives meanwhile; the socket then stays quiet, so a
//  short timer picks such notifications up too.
static int
s_on_sweep (zloop_t *loop, int timer_id, void *arg)
{
    pp_watch_t *self = (pp_watch_t *) arg;
    if (self->polling)
        s_on_notify (loop, &self->item, self);
    return 0;
}

int
pp_watch_attach (pp_watch_t *self, zloop_t *loop)
{
    assert (self && loop);
    self->loop = loop;
    int fd = pp_db_socket (self->db);
    if (fd < 0)
        return -1;
    self->item = (zmq_pollitem_t) {NULL, fd, ZMQ_POLLIN, 0};
    if (zloop_poller (loop, &self->item, s_on_notify, self))
        return -1;
    self->polling = true;
    self->sweep_timer = zloop_timer (loop, 250, 0, s_on_sweep, self);
    return self->sweep_timer > 0 ? 0 : -1;
}

void
pp_watch_set_callback (pp_watch_t *self, pp_watch_fn *callback, void *arg)
{
    assert (self);
    self->callback = callback;
    self->callback_arg = arg;
}

pp_market_t *
pp_watch_market (pp_watch_t *self)
{
    assert (self);
    return self->market;
}

pp_market_t *
pp_watch_market_link (pp_watch_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    pp_market_t *market = pp_market_link (self->market);
    pthread_mutex_unlock (&self->mutex);
    return market;
}

pp_db_t *
pp_watch_db (pp_watch_t *self)
{
    assert (self);
    return self->db;
}
