/*  cli_lead - `pingpost lead trace ID`: a lead's outcome and every event of it, in order  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "cli.h"

#include <cjson/cJSON.h>
#include <czmq.h>

#define S_ISO(column)                                                                            \
    "to_char (" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  The lead's row; never lead_pii, and not its consent (it may carry the
//  consumer's IP address and user agent).
enum {
    L_ID, L_RECEIVED, L_PUBLISHER_ID, L_PUBLISHER, L_SOURCE, L_SUB_ID, L_VERTICAL, L_TEST,
    L_STATUS, L_PRICE, L_CHARGE, L_REASONS, L_ANSWERED, L_ANSWER_US, L_FIELDS
};
static const char *s_sql_lead =
    "SELECT lead_id, " S_ISO ("received_at") ", publisher_id, publisher, source, sub_id,"
    " vertical, test::text, status, price_cents, charge_cents, reasons::text,"
    " " S_ISO ("answered_at") ", answer_us, fields::text"
    " FROM leads WHERE lead_id = $1";

enum {
    E_AT, E_KIND, E_STAGE, E_CAMPAIGN, E_BUYER, E_AMOUNT, E_PAYOUT, E_CODE, E_LATENCY, E_DETAIL,
    E_ID, E_CAMPAIGN_ID, E_BUYER_ID
};
static const char *s_sql_events =
    "SELECT " S_ISO ("e.at") ", e.kind, e.stage,"
    " coalesce (c.name, '#' || e.campaign_id), coalesce (b.name, '#' || e.buyer_id),"
    " e.amount_cents, e.payout_cents, e.code, e.latency_us, e.detail::text, e.event_id,"
    " e.campaign_id, e.buyer_id"
    " FROM events e"
    " LEFT JOIN campaigns c ON c.id = e.campaign_id"
    " LEFT JOIN buyers b ON b.id = e.buyer_id"
    " WHERE e.lead_id = $1 ORDER BY e.at, e.event_id";

//  The value of a cell, or NULL for SQL NULL.
static const char *
s_value (PGresult *result, int row, int column)
{
    return PQgetisnull (result, row, column) ? NULL : PQgetvalue (result, row, column);
}

//  JSON helpers: NULL cells become null.
static void
s_add_string (cJSON *object, const char *name, const char *value)
{
    cJSON_AddItemToObject (object, name, value ? cJSON_CreateString (value) : cJSON_CreateNull ());
}

static void
s_add_raw (cJSON *object, const char *name, const char *value)
{
    cJSON_AddItemToObject (object, name, value ? cJSON_CreateRaw (value) : cJSON_CreateNull ());
}

static void
s_add_money (cJSON *object, const char *name, const char *cents)
{
    char money [32];
    cli_money (cents, money, sizeof money);
    s_add_raw (object, name, cents ? money : NULL);
}

static void
s_add_millis (cJSON *object, const char *name, const char *micros)
{
    char millis [32];
    cli_millis (micros, millis, sizeof millis);
    s_add_raw (object, name, micros ? millis : NULL);
}

static cJSON *
s_lead_json (PGresult *lead)
{
    if (!lead || PQntuples (lead) == 0)
        return cJSON_CreateNull ();
    cJSON *object = cJSON_CreateObject ();
    s_add_string (object, "lead_id", s_value (lead, 0, L_ID));
    s_add_string (object, "status", s_value (lead, 0, L_STATUS));
    s_add_money (object, "price", s_value (lead, 0, L_PRICE));
    s_add_money (object, "charge", s_value (lead, 0, L_CHARGE));
    s_add_raw (object, "price_cents", s_value (lead, 0, L_PRICE));
    s_add_raw (object, "charge_cents", s_value (lead, 0, L_CHARGE));
    s_add_string (object, "received_at", s_value (lead, 0, L_RECEIVED));
    s_add_string (object, "answered_at", s_value (lead, 0, L_ANSWERED));
    s_add_millis (object, "answer_ms", s_value (lead, 0, L_ANSWER_US));
    s_add_raw (object, "publisher_id", s_value (lead, 0, L_PUBLISHER_ID));
    s_add_string (object, "publisher", s_value (lead, 0, L_PUBLISHER));
    s_add_string (object, "source", s_value (lead, 0, L_SOURCE));
    s_add_string (object, "sub_id", s_value (lead, 0, L_SUB_ID));
    s_add_string (object, "vertical", s_value (lead, 0, L_VERTICAL));
    s_add_raw (object, "test", s_value (lead, 0, L_TEST));
    s_add_raw (object, "reasons", s_value (lead, 0, L_REASONS));
    s_add_raw (object, "fields", s_value (lead, 0, L_FIELDS));
    return object;
}

static void
s_print_json (PGresult *lead, PGresult *events)
{
    cJSON *root = cJSON_CreateObject ();
    cJSON_AddItemToObject (root, "lead", s_lead_json (lead));
    cJSON *array = cJSON_AddArrayToObject (root, "events");
    for (int row = 0; row < PQntuples (events); row++) {
        cJSON *item = cJSON_CreateObject ();
        s_add_string (item, "at", s_value (events, row, E_AT));
        s_add_string (item, "event_id", s_value (events, row, E_ID));
        s_add_string (item, "kind", s_value (events, row, E_KIND));
        s_add_string (item, "stage", s_value (events, row, E_STAGE));
        s_add_string (item, "campaign", s_value (events, row, E_CAMPAIGN));
        s_add_raw (item, "campaign_id", s_value (events, row, E_CAMPAIGN_ID));
        s_add_string (item, "buyer", s_value (events, row, E_BUYER));
        s_add_raw (item, "buyer_id", s_value (events, row, E_BUYER_ID));
        s_add_money (item, "amount", s_value (events, row, E_AMOUNT));
        s_add_money (item, "payout", s_value (events, row, E_PAYOUT));
        s_add_raw (item, "amount_cents", s_value (events, row, E_AMOUNT));
        s_add_raw (item, "payout_cents", s_value (events, row, E_PAYOUT));
        s_add_string (item, "code", s_value (events, row, E_CODE));
        s_add_millis (item, "latency_ms", s_value (events, row, E_LATENCY));
        s_add_raw (item, "detail", s_value (events, row, E_DETAIL));
        cJSON_AddItemToArray (array, item);
    }
    char *text = cJSON_Print (root);
    assert (text);
    printf ("%s\n", text);
    cJSON_free (text);
    cJSON_Delete (root);
}

static const char *
s_or (const char *value, const char *otherwise)
{
    return value && *value ? value : otherwise;
}

static void
s_print_table (const char *lead_id, PGresult *lead, PGresult *events)
{
    if (lead && PQntuples (lead) > 0) {
        char price [32], charge [32], answer [32];
        cli_money (s_value (lead, 0, L_PRICE), price, sizeof price);
        cli_money (s_value (lead, 0, L_CHARGE), charge, sizeof charge);
        cli_millis (s_value (lead, 0, L_ANSWER_US), answer, sizeof answer);
        printf ("lead      %s\n", s_value (lead, 0, L_ID));
        printf ("status    %s  price %s  charge %s\n", s_or (s_value (lead, 0, L_STATUS), "-"),
                price, charge);
        printf ("received  %s  publisher %s  source %s  sub_id %s  vertical %s%s\n",
                s_or (s_value (lead, 0, L_RECEIVED), "-"),
                s_or (s_value (lead, 0, L_PUBLISHER), "-"),
                s_or (s_value (lead, 0, L_SOURCE), "-"), s_or (s_value (lead, 0, L_SUB_ID), "-"),
                s_or (s_value (lead, 0, L_VERTICAL), "-"),
                streq (s_or (s_value (lead, 0, L_TEST), ""), "true") ? "  (test)" : "");
        if (s_value (lead, 0, L_ANSWERED))
            printf ("answered  %s  in %s ms\n", s_value (lead, 0, L_ANSWERED), s_or (answer, "-"));
        if (s_value (lead, 0, L_REASONS))
            printf ("reasons   %s\n", s_value (lead, 0, L_REASONS));
        if (s_value (lead, 0, L_FIELDS))
            printf ("fields    %s\n", s_value (lead, 0, L_FIELDS));
    }
    else
        printf ("lead      %s (no lead row yet)\n", lead_id);
    printf ("\n");
    const char *headers [] = {"at", "kind", "stage", "campaign", "buyer", "amount",
                              "payout", "code", "latency_ms", "detail"};
    cli_table_t *table = cli_table_new (10, headers);
    for (size_t column = 5; column <= 8; column++)
        if (column != 7)
            cli_table_align_right (table, column);
    for (int row = 0; row < PQntuples (events); row++) {
        char amount [32], payout [32], latency [32];
        cli_money (s_value (events, row, E_AMOUNT), amount, sizeof amount);
        cli_money (s_value (events, row, E_PAYOUT), payout, sizeof payout);
        cli_millis (s_value (events, row, E_LATENCY), latency, sizeof latency);
        const char *cells [] = {s_value (events, row, E_AT),
                                s_value (events, row, E_KIND),
                                s_value (events, row, E_STAGE),
                                s_or (s_value (events, row, E_CAMPAIGN), "-"),
                                s_or (s_value (events, row, E_BUYER), "-"),
                                amount,
                                payout,
                                s_or (s_value (events, row, E_CODE), "-"),
                                s_or (latency, "-"),
                                s_or (s_value (events, row, E_DETAIL), "-")};
        cli_table_add (table, cells);
    }
    cli_table_print (table, stdout);
    cli_table_destroy (&table);
}

static int
s_trace (cli_t *cli, const char *lead_id, const char *format)
{
    pp_db_t *db = cli_db_open (cli);
    if (!db)
        return CLI_FAIL;
    const char *params [1] = {lead_id};
    PGresult *lead = pp_db_exec (db, "lead", s_sql_lead, 1, params);
    PGresult *events = lead ? pp_db_exec (db, "lead events", s_sql_events, 1, params) : NULL;
    int rc = CLI_OK;
    if (!lead || !events)
        rc = cli_fail ("lead trace: the query failed (see above); is the database migrated?");
    else
    if (PQntuples (lead) == 0 && PQntuples (events) == 0)
        rc = cli_fail ("lead %s not found", lead_id);
    else
    if (streq (format, "json"))
        s_print_json (lead, events);
    else
        s_print_table (lead_id, lead, events);
    PQclear (lead);
    PQclear (events);
    return rc;
}

int
cli_cmd_lead (cli_t *cli, int argc, char *argv [])
{
    const char *sub = NULL;
    const char *lead_id = NULL;
    const char *format = "table";
    for (int index = 1; index < argc; index++) {
        const char *value = NULL;
        int taken = cli_common_option (cli, argc, argv, &index);
        if (taken == 0 && (taken = cli_option (argc, argv, &index, "--format", &value)) == 1)
            format = value;
        if (taken < 0)
            return CLI_USAGE;
        if (taken)
            continue;
        if (argv [index][0] == '-')
            return cli_usage ("lead: unknown option '%s'", argv [index]);
        if (!sub)
            sub = argv [index];
        else
        if (!lead_id)
            lead_id = argv [index];
        else
            return cli_usage ("lead %s: unexpected argument '%s'", sub, argv [index]);
    }
    if (!sub)
        return cli_usage ("lead: which command? (pingpost lead trace LEAD_ID)");
    if (!streq (sub, "trace"))
        return cli_usage ("lead: unknown command '%s' (trace)", sub);
    if (!lead_id || !*lead_id)
        return cli_usage ("lead trace: which lead? (pingpost lead trace LEAD_ID)");
    if (!streq (format, "table") && !streq (format, "json"))
        return cli_usage ("lead trace: --format must be table or json, not '%s'", format);
    return s_trace (cli, lead_id, format);
}
