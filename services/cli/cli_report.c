/*  cli_report - `pingpost report`: leads, sales and money per publisher, source, buyer...  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "cli.h"

#include <cjson/cJSON.h>
#include <czmq.h>

//  --------------------------------------------------------------------------
//  The two aggregations. Parameters: $1 the window as an interval (NULL =
//  all time), $2 include test leads, $3 the dimension. Money stays integer
//  cents (bigint) all the way; the C side only formats it.

//  Publisher, source, vertical: the leads offered to us, by receipt time.
//  The money comes from the sales rows (the `sold` events, the money of
//  record) of those leads: a sale is never earlier than its lead's receipt,
//  so the window bounds the sales scan too. payout is what the publishers
//  earned, epl their earnings per lead offered.
static const char *s_sql_by_lead =
    "WITH s AS ("
    "  SELECT lead_id, sum (charge_cents)::bigint AS charge, sum (payout_cents)::bigint AS payout"
    "  FROM sales"
    "  WHERE ($1::interval IS NULL OR at >= now () - $1::interval)"
    "  GROUP BY lead_id)"
    " SELECT key, leads, sold, revenue, payout, revenue - payout AS margin,"
    "        payout / leads AS epl, round (sold::numeric / leads, 4) AS sell_through"
    " FROM ("
    "  SELECT CASE $3::text WHEN 'publisher' THEN l.publisher WHEN 'source' THEN l.source"
    "         ELSE l.vertical END AS key,"
    "         count (*) AS leads,"
    "         count (*) FILTER (WHERE l.status = 'sold') AS sold,"
    "         coalesce (sum (s.charge), 0)::bigint AS revenue,"
    "         coalesce (sum (s.payout), 0)::bigint AS payout"
    "  FROM leads l LEFT JOIN s USING (lead_id)"
    "  WHERE ($1::interval IS NULL OR l.received_at >= now () - $1::interval)"
    "    AND ($2::boolean OR NOT l.test)"
    "  GROUP BY 1) t"
    " ORDER BY revenue DESC, key COLLATE \"C\"";

//  Buyer, campaign: leads posted to it (distinct), and its sales rows.
//  revenue is what it was charged, epl its cost per lead posted.
static const char *s_sql_by_buyer =
    "WITH p AS ("
    "  SELECT CASE WHEN $3::text = 'buyer' THEN e.buyer_id ELSE e.campaign_id END AS id,"
    "         count (DISTINCT e.lead_id) AS leads"
    "  FROM events e"
    "  WHERE e.kind = 'posted'"
    "    AND ($1::interval IS NULL OR e.at >= now () - $1::interval)"
    "    AND ($2::boolean OR NOT EXISTS (SELECT 1 FROM leads l"
    "                                    WHERE l.lead_id = e.lead_id AND l.test))"
    "  GROUP BY 1),"
    " s AS ("
    "  SELECT CASE WHEN $3::text = 'buyer' THEN s.buyer_id ELSE s.campaign_id END AS id,"
    "         count (*) AS sold, sum (s.charge_cents)::bigint AS revenue,"
    "         sum (s.payout_cents)::bigint AS payout"
    "  FROM sales s"
    "  WHERE ($1::interval IS NULL OR s.at >= now () - $1::interval)"
    "    AND ($2::boolean OR NOT EXISTS (SELECT 1 FROM leads l"
    "                                    WHERE l.lead_id = s.lead_id AND l.test))"
    "  GROUP BY 1),"
    " j AS ("
    "  SELECT id, coalesce (p.leads, 0) AS leads, coalesce (s.sold, 0) AS sold,"
    "         coalesce (s.revenue, 0) AS revenue, coalesce (s.payout, 0) AS payout"
    "  FROM p FULL JOIN s USING (id) WHERE id IS NOT NULL)"
    " SELECT * FROM ("
    " SELECT coalesce (CASE WHEN $3::text = 'buyer'"
    "                       THEN (SELECT b.name FROM buyers b WHERE b.id = j.id)"
    "                       ELSE (SELECT c.name FROM campaigns c WHERE c.id = j.id) END,"
    "                  '#' || j.id) AS key,"
    "        leads, sold, revenue, payout, revenue - payout AS margin,"
    "        CASE WHEN leads > 0 THEN revenue / leads ELSE 0 END AS epl,"
    "        round (CASE WHEN leads > 0 THEN sold::numeric / leads ELSE 0 END, 4)"
    "          AS sell_through"
    " FROM j) t ORDER BY revenue DESC, key COLLATE \"C\"";

enum { C_KEY, C_LEADS, C_SOLD, C_REVENUE, C_PAYOUT, C_MARGIN, C_EPL, C_SELL, C_COUNT };
static const char *s_columns [C_COUNT] = {"key", "leads", "sold", "revenue", "payout",
                                          "margin", "epl", "sell_through"};

//  "24h", "90m", "7d", "30s", "2w" to an interval text, "all" to "".
static int
s_since (const char *text, char *interval, size_t size)
{
    if (streq (text, "all")) {
        interval [0] = 0;
        return 0;
    }
    char *end;
    long long count = strtoll (text, &end, 10);
    if (end == text || count <= 0 || count > 100000000 || strlen (end) != 1)
        return -1;
    const char *unit = NULL;
    switch (*end) {
        case 's': unit = "seconds"; break;
        case 'm': unit = "minutes"; break;
        case 'h': unit = "hours"; break;
        case 'd': unit = "days"; break;
        case 'w': unit = "weeks"; break;
        default: return -1;
    }
    snprintf (interval, size, "%lld %s", count, unit);
    return 0;
}

static void
s_print_json (PGresult *result)
{
    cJSON *array = cJSON_CreateArray ();
    for (int row = 0; row < PQntuples (result); row++) {
        cJSON *item = cJSON_CreateObject ();
        cJSON_AddStringToObject (item, "key", PQgetvalue (result, row, C_KEY));
        cJSON_AddItemToObject (item, "leads", cJSON_CreateRaw (PQgetvalue (result, row, C_LEADS)));
        cJSON_AddItemToObject (item, "sold", cJSON_CreateRaw (PQgetvalue (result, row, C_SOLD)));
        //  Money as JSON numbers with two decimals, and exact integer cents
        for (int column = C_REVENUE; column <= C_EPL; column++) {
            char money [32];
            cli_money (PQgetvalue (result, row, column), money, sizeof money);
            cJSON_AddItemToObject (item, s_columns [column], cJSON_CreateRaw (money));
        }
        cJSON_AddItemToObject (item, "sell_through",
                               cJSON_CreateRaw (PQgetvalue (result, row, C_SELL)));
        for (int column = C_REVENUE; column <= C_EPL; column++) {
            char name [32];
            snprintf (name, sizeof name, "%s_cents", s_columns [column]);
            cJSON_AddItemToObject (item, name, cJSON_CreateRaw (PQgetvalue (result, row, column)));
        }
        cJSON_AddItemToArray (array, item);
    }
    char *text = cJSON_Print (array);
    assert (text);
    printf ("%s\n", text);
    cJSON_free (text);
    cJSON_Delete (array);
}

static void
s_print_table (PGresult *result, bool csv)
{
    cli_table_t *table = cli_table_new (C_COUNT, s_columns);
    for (int column = C_LEADS; column < C_COUNT; column++)
        cli_table_align_right (table, (size_t) column);
    for (int row = 0; row < PQntuples (result); row++) {
        char money [C_COUNT][32];
        const char *cells [C_COUNT];
        for (int column = 0; column < C_COUNT; column++) {
            cells [column] = PQgetvalue (result, row, column);
            if (column >= C_REVENUE && column <= C_EPL) {
                cli_money (cells [column], money [column], sizeof money [column]);
                cells [column] = money [column];
            }
        }
        if (!csv && *cells [C_KEY] == 0)
            cells [C_KEY] = "(none)";
        cli_table_add (table, cells);
    }
    if (csv)
        cli_table_print_csv (table, stdout);
    else
        cli_table_print (table, stdout);
    cli_table_destroy (&table);
}

int
cli_cmd_report (cli_t *cli, int argc, char *argv [])
{
    const char *by = NULL;
    const char *since = "24h";
    const char *format = "table";
    bool include_test = false;
    for (int index = 1; index < argc; index++) {
        const char *value = NULL;
        int taken = cli_common_option (cli, argc, argv, &index);
        if (taken == 0 && (taken = cli_option (argc, argv, &index, "--by", &value)) == 1)
            by = value;
        if (taken == 0 && (taken = cli_option (argc, argv, &index, "--since", &value)) == 1)
            since = value;
        if (taken == 0 && (taken = cli_option (argc, argv, &index, "--format", &value)) == 1)
            format = value;
        if (taken == 0 && streq (argv [index], "--include-test")) {
            include_test = true;
            taken = 1;
        }
        if (taken < 0)
            return CLI_USAGE;
        if (taken == 0)
            return cli_usage ("report: unexpected argument '%s'", argv [index]);
    }
    if (!by)
        return cli_usage ("report: --by publisher|source|buyer|campaign|vertical is required");
    bool by_lead = streq (by, "publisher") || streq (by, "source") || streq (by, "vertical");
    bool by_buyer = streq (by, "buyer") || streq (by, "campaign");
    if (!by_lead && !by_buyer)
        return cli_usage ("report: --by must be publisher, source, buyer, campaign or vertical, "
                          "not '%s'",
                          by);
    char interval [64];
    if (s_since (since, interval, sizeof interval))
        return cli_usage ("report: --since must be like 90m, 24h, 7d or all, not '%s'", since);
    if (!streq (format, "table") && !streq (format, "csv") && !streq (format, "json"))
        return cli_usage ("report: --format must be table, csv or json, not '%s'", format);

    pp_db_t *db = cli_db_open (cli);
    if (!db)
        return CLI_FAIL;
    const char *params [3] = {*interval ? interval : NULL, include_test ? "true" : "false", by};
    PGresult *result =
        pp_db_exec (db, "report", by_lead ? s_sql_by_lead : s_sql_by_buyer, 3, params);
    if (!result)
        return cli_fail ("report: the query failed (see above); is the database migrated?");
    if (streq (format, "json"))
        s_print_json (result);
    else
        s_print_table (result, streq (format, "csv"));
    PQclear (result);
    return CLI_OK;
}
