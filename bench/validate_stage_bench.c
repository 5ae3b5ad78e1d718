/*  validate_stage_bench - leads per second through one running validate instance, dedupe on  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Usage: pingpost-validatestagebench CONFIG LEADS
//  With a fleet up (scripts/up) and its filter-0 stopped, this takes filter
//  slot 0's place: it pushes LEADS distinct solar leads straight into
//  validate slot 0 and counts what validate passes on, so the figure is the
//  stage's own rate with its pipelined duplicate check (issue 5: >= 10,000
//  leads/s). The marketplace must have the example's solar vertical.

#include "pp_config.h"
#include "pp_json.h"
#include "pp_lead.h"
#include "pp_util.h"

#include <czmq.h>

int
main (int argc, char *argv [])
{
    if (argc < 3) {
        fprintf (stderr, "usage: pingpost-validatestagebench CONFIG LEADS\n");
        return 64;
    }
    zsys_init ();
    pp_config_t *config = pp_config_load (argv [1], false);
    if (!config)
        return 1;
    int leads = atoi (argv [2]);
    char *input = pp_config_endpoint (config, PP_SLOT_VALIDATE, 0);
    char *output = pp_config_endpoint (config, PP_SLOT_FILTER, 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_set_sndhwm (push, 100000);
    zsock_set_rcvhwm (pull, 100000);
    if (zsock_bind (pull, "%s", output) < 0 || zsock_connect (push, "%s", input)) {
        fprintf (stderr, "cannot bind %s (stop filter-0 first) or connect %s\n", output, input);
        return 1;
    }
    zclock_sleep (300);
    char run [16];
    pp_id_new (run);
    int64_t start = pp_mono_us ();
    int received = 0;
    int64_t last = start;
    for (int n = 0; n < leads; n++) {
        char id [PP_LEAD_ID_SIZE + 1], text [512];
        pp_id_new (id);
        pp_lead_t *lead = pp_lead_new (id);
        pp_lead_set_vertical (lead, "solar");
        pp_lead_set_received_us (lead, pp_now_us ());
        pp_lead_set_deadline_us (lead, pp_now_us () + 60000000LL);
        pp_lead_set_publisher_id (lead, 1);
        pp_lead_set_publisher (lead, "bench");
        int exchange = 230 + (n / 9000) % 300;
        if (exchange % 100 == 11 || exchange == 555)
            exchange++;
        snprintf (text, sizeof text,
                  "{\"first_name\": \"Dana\", \"last_name\": \"Doe\", \"email\": \"s%s.%d@example.com\","
                  " \"phone\": \"(415) %03d-%04d\", \"zip\": \"90001\", \"state\": \"CA\","
                  " \"monthly_bill\": 250, \"home_owner\": true, \"credit\": \"good\"}",
                  run, n, exchange, 1000 + n % 9000);
        cJSON *json = cJSON_Parse (text);
        pp_json_to_fields (json, pp_lead_fields (lead));
        cJSON_Delete (json);
        pp_fields_set_bool (pp_lead_consent (lead), "tcpa", true);
        pp_fields_set_str (pp_lead_consent (lead), "text", "I agree.");
        int rc = pp_lead_send (lead, zsock_resolve (push), 0);
        assert (rc == 0);
        pp_lead_destroy (&lead);
        //  Drain what has come back so far
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        while (zmq_msg_recv (&msg, zsock_resolve (pull), ZMQ_DONTWAIT) >= 0) {
            received++;
            last = pp_mono_us ();
        }
        zmq_msg_close (&msg);
    }
    int64_t until = pp_mono_us () + 5000000LL;
    zsock_set_rcvtimeo (pull, 200);
    while (received < leads && pp_mono_us () < until) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, zsock_resolve (pull), 0) >= 0) {
            received++;
            last = pp_mono_us ();
        }
        zmq_msg_close (&msg);
    }
    //  Up to the last lead that came through (a missing one waits 5 s)
    double seconds = (double) (last - start) / 1e6;
    printf ("validate stage: %d of %d leads passed on in %.2f s: %.0f leads/s\n", received, leads,
            seconds, received / seconds);
    zsock_destroy (&push);
    zsock_destroy (&pull);
    zstr_free (&input);
    zstr_free (&output);
    pp_config_destroy (&config);
    return received == leads ? 0 : 1;
}
