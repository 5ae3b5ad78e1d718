/*  ledger_bench - CPU per lead of the ledger and its PostgreSQL session, both ways of writing  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  pingpost-ledgerbench CONNINFO [LEADS] [LEADS_PER_FLUSH]
//
//  CONNINFO (key=value form) names a database holding pingpost's schema
//  (scripts/migrate, or the bench's own cluster). The bench makes the
//  events of LEADS (default 20,000) sold leads shaped like the `ping5`
//  scenario's (received with personal fields, validated, eligible, 5 bids,
//  posted, accepted, sold, answered: 12 events), then hands them to a
//  ledger server in flushes of LEADS_PER_FLUSH leads (default 30, what one
//  ledger flush held at 2,000 leads/s), the careful way (ledger/direct 0:
//  ids checked per row) and the direct way, twice each. It prints, per
//  lead: wall time, this process's CPU (the ledger server, its ZeroMQ
//  thread and the bench's sends) and the ledger's PostgreSQL backend's CPU
//  (from /proc, found by application_name). The rows stay in the database
//  (test leads, source "ledgerbench").

#include <czmq.h>
#include <libpq-fe.h>

#include "bench_stats.h"
#include "ledger_server.h"
#include "pp_config.h"
#include "pp_db.h"
#include "pp_event.h"
#include "pp_lead.h"
#include "pp_util.h"

#define S_EVENTS_PER_LEAD 12

//  One flush's events: LEADS sold leads.
static pp_events_t *
s_flush_events (int leads, int64_t at)
{
    static const char *kinds [S_EVENTS_PER_LEAD]
        = {"received", "validated", "eligible", "bid",    "bid",  "bid",
           "bid",      "bid",       "posted",   "accepted", "sold", "answered"};
    pp_events_t *events = pp_events_new ();
    for (int l = 0; l < leads; l++) {
        char lead [32];
        pp_id_new (lead);
        for (int k = 0; k < S_EVENTS_PER_LEAD; k++) {
            char id [PP_EVENT_ID_MAX + 1];
            snprintf (id, sizeof id, "%s.%d", lead, k);
            int stage = k == 0 || k == 11 ? PP_STAGE_INTAKE
                      : k == 1            ? PP_STAGE_VALIDATE
                      : k == 2            ? PP_STAGE_FILTER
                      : k < 8             ? PP_STAGE_AUCTION
                                          : PP_STAGE_DELIVER;
            pp_event_t *event = pp_event_new (id, lead, kinds [k], stage, at + k * 100);
            assert (event);
            if (k == 0)
                pp_event_set_detail (
                    event, "{\"publisher_id\":1,\"publisher\":\"bench-pub\",\"source\":"
                           "\"ledgerbench\",\"sub_id\":\"s1\",\"vertical\":\"ping5\",\"test\":true,"
                           "\"fields\":{\"zip\":\"30301\",\"state\":\"GA\",\"age\":44},"
                           "\"pii\":{\"email\":\"jane@example.com\",\"phone\":\"+15555550123\","
                           "\"first_name\":\"Jane\"},\"consent\":{\"tcpa\":true,\"text\":\"I "
                           "agree to be contacted\"}}");
            else
            if (k == 2)
                pp_event_set_detail (event, "{\"eligible\":[1,2,3,4,5],\"excluded\":{}}");
            else
            if (k >= 3 && k <= 10) {
                int campaign = k <= 7 ? k - 2 : 1;
                pp_event_set_campaign (event, campaign, campaign);
                pp_event_set_amount_cents (event, 1000 + k);
                pp_event_set_latency_us (event, 400);
            }
            if (k == 10) {
                pp_event_set_payout_cents (event, 800);
                pp_event_set_detail (event, "{\"publisher_id\":1}");
            }
            if (k == 9)
                pp_event_set_detail (event, "{\"buyer_ref\":\"r1\"}");
            if (k == 11) {
                pp_event_set_code (event, "sold");
                pp_event_set_amount_cents (event, 1010);
                pp_event_set_payout_cents (event, 800);
                pp_event_set_latency_us (event, 3000);
                pp_event_set_detail (event, "{\"status\":\"sold\",\"reasons\":[]}");
            }
            pp_events_append (events, &event);
        }
    }
    return events;
}

//  The backend pid of the session named application_name, or 0.
static int
s_backend_pid (pp_db_t *db, const char *name)
{
    const char *params [1] = {name};
    PGresult *result = pp_db_exec (
        db, "backend", "SELECT pid FROM pg_stat_activity WHERE application_name = $1", 1, params);
    int pid = result && PQntuples (result) == 1 ? atoi (PQgetvalue (result, 0, 0)) : 0;
    PQclear (result);
    return pid;
}

static int
s_run (const char *conninfo, const char *way, int direct_way, int leads, int per_flush)
{
    pp_config_t *config = pp_config_new ();
    free (config->database_url);
    config->database_url = zsys_sprintf ("%s application_name=pp-ledgerbench-%s", conninfo, way);
    config->endpoint_base [PP_SLOT_LEDGER] = zsys_sprintf ("inproc://ledgerbench-%s", way);
    config->ledger_direct = direct_way;
    ledger_server_t *server = ledger_server_new (config, 0);
    pp_db_t *db = pp_db_new (conninfo);
    zsock_t *dealer = server ? zsock_new_dealer (ledger_server_endpoint (server)) : NULL;
    int rc = server && pp_db_ok (db) && dealer ? 0 : -1;
    if (rc)
        fprintf (stderr, "ledgerbench: cannot start a ledger on %s\n", conninfo);

    //  Make the events first: only the ledger's work is timed
    int flushes = (leads + per_flush - 1) / per_flush;
    zframe_t **frames = (zframe_t **) zmalloc (sizeof (zframe_t *) * (size_t) flushes);
    for (int f = 0; rc == 0 && f < flushes; f++) {
        pp_events_t *events = s_flush_events (per_flush, pp_now_us ());
        frames [f] = pp_events_encode (events);
        pp_events_destroy (&events);
    }
    //  One warm-up flush opens the session, so that its backend is known
    int backend = 0;
    if (rc == 0) {
        pp_events_t *events = s_flush_events (1, pp_now_us ());
        zframe_t *frame = pp_events_encode (events);
        pp_events_destroy (&events);
        zframe_send (&frame, dealer, 0);
        zmsg_t *msg = zmsg_recv (ledger_server_socket (server));
        if (ledger_server_handle (server, &msg) || ledger_server_flush (server))
            rc = -1;
        zframe_t *ack = zframe_recv (dealer);
        zframe_destroy (&ack);
        char name [64];
        snprintf (name, sizeof name, "pp-ledgerbench-%s", way);
        backend = s_backend_pid (db, name);
        if (!backend)
            rc = -1;
    }
    uint64_t direct = server ? ledger_server_direct (server) : 0;
    int64_t wall = pp_mono_us ();
    int64_t self_cpu = bench_self_cpu_us ();
    int64_t pg_cpu = rc == 0 ? bench_pid_cpu_us ((long) backend) : 0;
    for (int f = 0; rc == 0 && f < flushes; f++) {
        zframe_send (&frames [f], dealer, 0);
        zmsg_t *msg = zmsg_recv (ledger_server_socket (server));
        if (ledger_server_handle (server, &msg) || ledger_server_flush (server))
            rc = -1;
        zframe_t *ack = zframe_recv (dealer);
        if (!ack)
            rc = -1;
        zframe_destroy (&ack);
    }
    if (rc == 0) {
        double n = (double) flushes * per_flush;
        double wall_us = (double) (pp_mono_us () - wall);
        double ledger_us = (double) (bench_self_cpu_us () - self_cpu);
        double pg_us = (double) (bench_pid_cpu_us ((long) backend) - pg_cpu);
        printf ("%-8s %6d leads  %3d per flush  wall %7.1f us/lead  ledger cpu %6.1f us/lead  "
                "postgres cpu %6.1f us/lead  direct flushes %llu/%d\n",
                way, flushes * per_flush, per_flush, wall_us / n, ledger_us / n, pg_us / n,
                (unsigned long long) (ledger_server_direct (server) - direct), flushes);
    }
    for (int f = 0; f < flushes; f++)
        zframe_destroy (&frames [f]);
    free (frames);
    zsock_destroy (&dealer);
    ledger_server_destroy (&server);
    pp_db_destroy (&db);
    pp_config_destroy (&config);
    return rc;
}

int
main (int argc, char *argv [])
{
    if (argc < 2) {
        fprintf (stderr, "usage: pingpost-ledgerbench CONNINFO [LEADS] [LEADS_PER_FLUSH]\n");
        return 64;
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    int leads = argc > 2 ? atoi (argv [2]) : 20000;
    int per_flush = argc > 3 ? atoi (argv [3]) : 30;
    if (leads < 1 || per_flush < 1 || per_flush > 1000) {
        fprintf (stderr, "ledgerbench: LEADS >= 1, 1 <= LEADS_PER_FLUSH <= 1000\n");
        return 64;
    }
    printf ("ledger bench: %d sold leads of %d events, %ld cores\n", leads, S_EVENTS_PER_LEAD,
            sysconf (_SC_NPROCESSORS_ONLN));
    int rc = s_run (argv [1], "careful", 0, leads, per_flush);
    if (rc == 0)
        rc = s_run (argv [1], "direct", 1, leads, per_flush);
    if (rc == 0)
        rc = s_run (argv [1], "careful", 0, leads, per_flush);
    if (rc == 0)
        rc = s_run (argv [1], "direct", 1, leads, per_flush);
    return rc ? 1 : 0;
}
