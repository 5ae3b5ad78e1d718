/*  test_e2e_kill - SIGKILL each stage under load: publishers still get answers in time  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_fleet.h"

#define S_LEADS        20      //  leads in flight when the stage dies
#define S_TIMEOUT_MS   1500    //  their deadline
#define S_GRACE_MS     500     //  how late past the deadline an answer may come
#define S_KILL_AFTER_MS 150    //  when the stage dies, after the leads were sent

//  The buyer takes 400 ms per post, so leads are in flight when a stage dies.
static const char *s_mock_buyers [] = {"slow:bid=20.00,delay_ms=400,accept=1", NULL};

static const char *s_stages [] = {"intake", "validate", "filter", "auction", "deliver", "ledger"};
#define S_STAGES (sizeof s_stages / sizeof s_stages [0])

static int
s_setup (void **state)
{
    pp_fleet_t *fleet = pp_fleet_new ("test_e2e_kill", NULL);
    *state = fleet;
    if (!fleet || pp_fleet_mockbuyer_start (fleet, s_mock_buyers))
        return -1;
    return pp_fleet_apply_fixed_buyer (fleet, "slow", "20.00", "CA");
}

//  A lead with this deadline.
static cJSON *
s_lead (int timeout_ms)
{
    cJSON *lead = pp_fleet_lead_new ("CA", "90001");
    cJSON_SetNumberValue (cJSON_GetObjectItemCaseSensitive (lead, "timeout_ms"), timeout_ms);
    return lead;
}

static bool
s_is_normal (const char *status)
{
    return strcmp (status, "sold") == 0 || strcmp (status, "unsold") == 0
        || strcmp (status, "rejected") == 0 || strcmp (status, "duplicate") == 0;
}

//  ---------------------------------------------------------------------------
//  Kill every instance of `svc` while S_LEADS leads are in flight; check the
//  answers, restart it by hand, and check that a new lead sells.

//  Restart what an earlier failed test left dead, so one failure does not cascade.
static void
s_heal (pp_fleet_t *fleet)
{
    for (size_t s = 0; s < S_STAGES; s++)
        for (int slot = 0; slot < pp_fleet_slots (fleet, s_stages [s]); slot++)
            if (!pp_fleet_pid_alive (pp_fleet_pid (fleet, s_stages [s], slot))) {
                printf ("restarting %s-%d, left dead by an earlier test\n", s_stages [s], slot);
                if (pp_fleet_restart (fleet, s_stages [s], slot) == 0)
                    pp_fleet_sleep_ms (1000);
            }
}

static void
s_kill_stage (pp_fleet_t *fleet, const char *svc)
{
    s_heal (fleet);
    PP_CHECKF (fleet, pp_fleet_all_alive (fleet), "fleet not whole before killing %s", svc);
    int slots = pp_fleet_slots (fleet, svc);
    PP_CHECK (fleet, slots >= 1);

    //  Every other instance's pid, to check they are left alone.
    pid_t before [S_STAGES][8];
    for (size_t s = 0; s < S_STAGES; s++)
        for (int slot = 0; slot < 8; slot++)
            before [s][slot] = pp_fleet_pid (fleet, s_stages [s], slot);

    pp_fleet_batch_t *batch = pp_fleet_batch_new (fleet, S_LEADS);
    for (int i = 0; i < S_LEADS; i++) {
        cJSON *lead = s_lead (S_TIMEOUT_MS);
        pp_fleet_batch_add_lead (batch, PP_FLEET_KEY_ACME, lead);
        cJSON_Delete (lead);
    }
    pp_fleet_batch_run (batch, S_KILL_AFTER_MS);
    for (int slot = 0; slot < slots; slot++)
        PP_CHECK (fleet, pp_fleet_kill (fleet, svc, slot, SIGKILL) == 0);
    printf ("killed %s (%d instance(s)) %d ms after sending %d leads\n", svc, slots,
            S_KILL_AFTER_MS, S_LEADS);
    //  Wait well past the deadline, to report late answers rather than cut them off.
    size_t pending = pp_fleet_batch_run (batch, S_TIMEOUT_MS + S_GRACE_MS + 3000);

    int sold = 0, timeouts = 0, other = 0, bad = 0;
    char ids [S_LEADS + 5][64];
    int id_count = 0;
    for (int i = 0; i < S_LEADS; i++) {
        pp_fleet_reply_t *reply = pp_fleet_batch_reply (batch, (size_t) i);
        if (!reply) {
            printf ("  lead %d: no answer at all\n", i);
            bad++;
            continue;
        }
        const char *status = pp_fleet_reply_status (reply);
        bool in_time = reply->elapsed_us <= (int64_t) (S_TIMEOUT_MS + S_GRACE_MS) * 1000;
        bool timeout = strcmp (status, "error") == 0
                    && pp_fleet_reply_has_reason (reply, "timeout", NULL);
        bool fine = reply->status == 200 && in_time && (s_is_normal (status) || timeout);
        if (!fine) {
            pp_fleet_reply_print (reply, in_time ? "bad answer" : "answer too late");
            bad++;
        }
        else if (strcmp (status, "sold") == 0)
            sold++;
        else if (timeout)
            timeouts++;
        else
            other++;
        const char *id = pp_fleet_reply_lead_id (reply);
        if (*id && strlen (id) < sizeof ids [0])
            snprintf (ids [id_count++], sizeof ids [0], "%s", id);
    }
    printf ("%s killed: %d sold, %d timeout, %d other, %d bad, %zu unanswered\n", svc, sold,
            timeouts, other, bad, pending);
    pp_fleet_batch_destroy (&batch);
    PP_CHECKF (fleet, bad == 0 && pending == 0,
               "%d of %d publishers got no timely 200 answer with %s killed", bad, S_LEADS, svc);

    //  While the stage is down, new leads are answered at once and honestly:
    //  a normal status, error (timeout or overloaded), or 503 with an error body.
    for (int i = 0; i < 5; i++) {
        cJSON *lead = s_lead (S_TIMEOUT_MS);
        pp_fleet_reply_t *reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
        cJSON_Delete (lead);
        const char *status = pp_fleet_reply_status (reply);
        bool in_time = reply->elapsed_us <= (int64_t) (S_TIMEOUT_MS + S_GRACE_MS) * 1000;
        bool fine = (reply->status == 200
                     && (s_is_normal (status)
                         || (strcmp (status, "error") == 0
                             && (pp_fleet_reply_has_reason (reply, "timeout", NULL)
                                 || pp_fleet_reply_has_reason (reply, "overloaded", NULL)))))
                 || (reply->status == 503 && pp_fleet_reply_is_error_body (reply));
        if (!fine || !in_time)
            pp_fleet_reply_print (reply, "lead while the stage is down");
        PP_CHECKF (fleet, fine && in_time, "lead %d sent while %s was down", i, svc);
        const char *id = pp_fleet_reply_lead_id (reply);
        if (*id && strlen (id) < sizeof ids [0] && id_count < S_LEADS + 5)
            snprintf (ids [id_count++], sizeof ids [0], "%s", id);
        pp_fleet_reply_destroy (&reply);
    }

    //  Restart by hand; nothing else was restarted.
    for (int slot = 0; slot < slots; slot++)
        PP_CHECK (fleet, pp_fleet_restart (fleet, svc, slot) == 0);
    int64_t restarted = pp_fleet_now_us ();
    for (size_t s = 0; s < S_STAGES; s++) {
        if (strcmp (s_stages [s], svc) == 0)
            continue;
        for (int slot = 0; slot < 8; slot++) {
            pid_t now = pp_fleet_pid (fleet, s_stages [s], slot);
            PP_CHECKF (fleet, now == before [s][slot], "%s-%d pid %d, was %d", s_stages [s],
                       slot, (int) now, (int) before [s][slot]);
            if (now > 0)
                PP_CHECKF (fleet, pp_fleet_pid_alive (now), "%s-%d (pid %d) died", s_stages [s],
                           slot, (int) now);
        }
    }

    //  A new lead sells within 5 s of the restart.
    pp_fleet_reply_t *reply = NULL;
    int attempts = 0;
    while (true) {
        pp_fleet_reply_destroy (&reply);
        cJSON *lead = s_lead (2000);
        reply = pp_fleet_post_lead (fleet, PP_FLEET_KEY_ACME, lead);
        cJSON_Delete (lead);
        attempts++;
        if (reply->status == 200 && strcmp (pp_fleet_reply_status (reply), "sold") == 0)
            break;
        if (pp_fleet_now_us () - restarted > 5000000)
            break;
        pp_fleet_sleep_ms (100);
    }
    int64_t took = pp_fleet_now_us () - restarted;
    PP_CHECKF (fleet, pp_fleet_reply_is (reply, "lead after restart", 200, "sold")
                   && took <= 5000000,
               "no sale within 5 s of restarting %s (%d attempts, %.1f s)", svc, attempts,
               (double) took / 1e6);
    printf ("%s restarted: a lead sold %.0f ms later (%d attempt(s))\n", svc,
            (double) took / 1000.0, attempts);
    pp_fleet_reply_destroy (&reply);

    //  Every answered lead gets its answered event into the ledger, even those
    //  answered while the ledger was down (producers resend).
    if (id_count > 0) {
        size_t size = 3 + (size_t) id_count * 66;
        char *array = malloc (size);
        PP_CHECK (fleet, array);
        char *p = array;
        *p++ = '{';
        for (int i = 0; i < id_count; i++)
            p += sprintf (p, "%s%s", i ? "," : "", ids [i]);
        strcpy (p, "}");
        char expected [16];
        snprintf (expected, sizeof expected, "%d", id_count);
        int rc = pp_fleet_sql_wait (fleet, expected, 10000,
                                    "select count(distinct lead_id) from events"
                                    "  where kind = 'answered' and lead_id = any ($1::text[])",
                                    array, NULL);
        PP_CHECKF (fleet, rc == 0,
                   "answered events of the %d leads sent around the death of %s did not reach "
                   "the ledger within 10 s", id_count, svc);
        free (array);
    }
}

static void
test_e2e_kill_validate (void **state)
{
    s_kill_stage (*state, "validate");
}

static void
test_e2e_kill_filter (void **state)
{
    s_kill_stage (*state, "filter");
}

static void
test_e2e_kill_auction (void **state)
{
    s_kill_stage (*state, "auction");
}

static void
test_e2e_kill_deliver (void **state)
{
    s_kill_stage (*state, "deliver");
}

static void
test_e2e_kill_ledger (void **state)
{
    s_kill_stage (*state, "ledger");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_e2e_kill_validate),
        cmocka_unit_test (test_e2e_kill_filter),
        cmocka_unit_test (test_e2e_kill_auction),
        cmocka_unit_test (test_e2e_kill_deliver),
        cmocka_unit_test (test_e2e_kill_ledger),
    };
    return cmocka_run_group_tests (tests, s_setup, pp_fleet_teardown);
}
