/*  cli_blacklist - `pingpost blacklist add|remove|list`: the entries validate rejects leads by  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "cli.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <czmq.h>

#include "pp_blacklist.h"
#include "pp_market.h"

#define S_ISO(column)                                                                            \
    "to_char (" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char *s_sql_add =
    "INSERT INTO blacklist (kind, value, note) VALUES ($1, $2, $3) "
    "ON CONFLICT (kind, value) DO NOTHING";
//  Only a given note replaces the one there (and only when it differs)
static const char *s_sql_note =
    "UPDATE blacklist SET note = $3 WHERE kind = $1 AND value = $2 "
    "AND note IS DISTINCT FROM $3";
static const char *s_sql_remove = "DELETE FROM blacklist WHERE kind = $1 AND value = $2";
static const char *s_sql_list =
    "SELECT kind, value, note, " S_ISO ("created_at") " FROM blacklist "
    "WHERE $1::text IS NULL OR kind = $1 ORDER BY kind, value COLLATE \"C\"";

//  Run a statement; the rows it changed, or -1 (logged by pp_db).
static long
s_changed (pp_db_t *db, const char *what, const char *sql, int nparams, const char *const *params)
{
    PGresult *result = pp_db_exec (db, what, sql, nparams, params);
    if (!result)
        return -1;
    long rows = strtol (PQcmdTuples (result), NULL, 10);
    PQclear (result);
    return rows;
}

//  -----------------------------------------------------------------------
//  Each change is one transaction that, when it changed a row, also
//  NOTIFYs the config channel, so running validate instances reload.

static int
s_begin (pp_db_t *db)
{
    return pp_db_command (db, "blacklist: begin", "BEGIN", 0, NULL);
}

static int
s_finish (pp_db_t *db, int rc, bool changed)
{
    if (rc == 0 && changed) {
        const char *params [] = { PP_MARKET_CHANNEL, "" };
        rc = pp_db_command (db, "blacklist: notify", "SELECT pg_notify ($1, $2)", 2, params);
    }
    if (rc == 0)
        rc = pp_db_command (db, "blacklist: commit", "COMMIT", 0, NULL);
    if (rc && pp_db_ok (db) && pp_db_command (db, "blacklist: rollback", "ROLLBACK", 0, NULL)) {
        //  Logged by pp_db; nothing was committed
    }
    return rc;
}

//  True when the stored marketplace file's blacklist section lists the
//  entry, so `pingpost apply` of that file would add it again.
static bool
s_in_market_file (pp_db_t *db, const char *kind, const char *normal)
{
    PGresult *result = pp_db_exec (db, "blacklist: section",
                                   "SELECT spec::text FROM market_sections "
                                   "WHERE name = 'blacklist'", 0, NULL);
    if (!result)
        return false;
    cJSON *section = PQntuples (result) ? cJSON_Parse (PQgetvalue (result, 0, 0)) : NULL;
    PQclear (result);
    char key [32];
    snprintf (key, sizeof key, "%ss", kind);      //  "phone" -> "phones"...
    const cJSON *list = cJSON_GetObjectItemCaseSensitive (section, key);
    bool found = false;
    const cJSON *item;
    cJSON_ArrayForEach (item, list) {
        char *other = cJSON_IsString (item)
                      ? pp_blacklist_normalise (kind, item->valuestring, NULL) : NULL;
        found = other && streq (other, normal);
        free (other);
        if (found)
            break;
    }
    cJSON_Delete (section);
    return found;
}

static int
s_add (cli_t *cli, const char *kind, const char *value, const char *note)
{
    const char *error = NULL;
    char *normal = pp_blacklist_normalise (kind, value, &error);
    if (!normal)
        return cli_fail ("blacklist add: %s '%s' %s", kind, value, error);
    pp_db_t *db = cli_db_open (cli);
    if (!db) {
        free (normal);
        return CLI_FAIL;
    }
    const char *params [] = { kind, normal, note };
    long added = -1;
    long noted = 0;
    int rc = s_begin (db);
    if (rc == 0)
        added = s_changed (db, "blacklist: add", s_sql_add, 3, params);
    if (added == 0 && note)
        noted = s_changed (db, "blacklist: note", s_sql_note, 3, params);
    if (added < 0 || noted < 0)
        rc = -1;
    rc = s_finish (db, rc, added > 0 || noted > 0);
    if (rc)
        rc = cli_fail ("blacklist add: the database refused (see above); is it migrated?");
    else
    if (added > 0)
        printf ("added %s %s\n", kind, normal);
    else
        printf ("%s %s was on the blacklist already%s\n", kind, normal,
                noted > 0 ? "; its note is updated" : "");
    free (normal);
    return rc;
}

static int
s_remove (cli_t *cli, const char *kind, const char *value)
{
    const char *error = NULL;
    char *normal = pp_blacklist_normalise (kind, value, &error);
    if (!normal && !pp_blacklist_kind_valid (kind))
        return cli_fail ("blacklist remove: '%s' %s", kind, error);
    pp_db_t *db = cli_db_open (cli);
    if (!db) {
        free (normal);
        return CLI_FAIL;
    }
    //  A value that does not normalise can only be a row written by hand:
    //  remove it as typed
    const char *params [] = { kind, normal ? normal : value };
    long removed = -1;
    int rc = s_begin (db);
    if (rc == 0)
        removed = s_changed (db, "blacklist: remove", s_sql_remove, 2, params);
    if (removed < 0)
        rc = -1;
    rc = s_finish (db, rc, removed > 0);
    if (rc)
        rc = cli_fail ("blacklist remove: the database refused (see above); is it migrated?");
    else
    if (removed == 0 && !normal)
        rc = cli_fail ("blacklist remove: %s '%s' %s", kind, value, error);
    else
    if (removed == 0)
        rc = cli_fail ("blacklist remove: %s %s is not on the blacklist", kind, normal);
    else {
        printf ("removed %s %s\n", kind, params [1]);
        if (normal && s_in_market_file (db, kind, normal))
            fprintf (stderr, "pingpost: note: the marketplace file's \"blacklist\" section "
                     "lists it: applying that file again adds it back\n");
    }
    free (normal);
    return rc;
}

static const char *
s_value (PGresult *result, int row, int column)
{
    return PQgetisnull (result, row, column) ? NULL : PQgetvalue (result, row, column);
}

static int
s_list (cli_t *cli, const char *kind, const char *format)
{
    if (kind && !pp_blacklist_kind_valid (kind))
        return cli_fail ("blacklist list: '%s' is not a kind of entry (%s)", kind,
                         PP_BLACKLIST_KINDS);
    pp_db_t *db = cli_db_open (cli);
    if (!db)
        return CLI_FAIL;
    const char *params [] = { kind };
    PGresult *result = pp_db_exec (db, "blacklist: list", s_sql_list, 1, params);
    if (!result)
        return cli_fail ("blacklist list: the query failed (see above); is the database migrated?");
    if (streq (format, "json")) {
        cJSON *array = cJSON_CreateArray ();
        for (int row = 0; row < PQntuples (result); row++) {
            cJSON *item = cJSON_CreateObject ();
            cJSON_AddStringToObject (item, "kind", s_value (result, row, 0));
            cJSON_AddStringToObject (item, "value", s_value (result, row, 1));
            const char *note = s_value (result, row, 2);
            cJSON_AddItemToObject (item, "note",
                                   note ? cJSON_CreateString (note) : cJSON_CreateNull ());
            cJSON_AddStringToObject (item, "created_at", s_value (result, row, 3));
            cJSON_AddItemToArray (array, item);
        }
        char *text = cJSON_Print (array);
        assert (text);
        printf ("%s\n", text);
        cJSON_free (text);
        cJSON_Delete (array);
    }
    else {
        const char *headers [] = { "kind", "value", "note", "created_at" };
        cli_table_t *table = cli_table_new (4, headers);
        for (int row = 0; row < PQntuples (result); row++) {
            const char *cells [] = {
                s_value (result, row, 0), s_value (result, row, 1), s_value (result, row, 2),
                s_value (result, row, 3)
            };
            cli_table_add (table, cells);
        }
        cli_table_print (table, stdout);
        cli_table_destroy (&table);
    }
    PQclear (result);
    return CLI_OK;
}

int
cli_cmd_blacklist (cli_t *cli, int argc, char *argv [])
{
    const char *args [3] = { NULL, NULL, NULL };    //  sub-command, KIND, VALUE
    size_t arg_count = 0;
    const char *note = NULL;
    const char *format = NULL;
    bool options = true;
    for (int index = 1; index < argc; index++) {
        if (options && argv [index][0] == '-' && argv [index][1] != 0) {
            if (streq (argv [index], "--")) {
                options = false;
                continue;
            }
            const char *value = NULL;
            int taken = cli_common_option (cli, argc, argv, &index);
            if (taken == 0 && (taken = cli_option (argc, argv, &index, "--note", &value)) == 1)
                note = value;
            else
            if (taken == 0 && (taken = cli_option (argc, argv, &index, "--format", &value)) == 1)
                format = value;
            if (taken < 0)
                return CLI_USAGE;
            if (taken == 0)
                return cli_usage ("blacklist: unknown option '%s'", argv [index]);
            continue;
        }
        if (arg_count == 3)
            return cli_usage ("blacklist: unexpected argument '%s'", argv [index]);
        args [arg_count++] = argv [index];
    }
    const char *sub = args [0];
    if (!sub)
        return cli_usage ("blacklist: which command? (add, remove, list)");
    if (streq (sub, "add") || streq (sub, "remove")) {
        if (arg_count != 3)
            return cli_usage ("blacklist %s: needs KIND and VALUE (pingpost blacklist %s KIND "
                              "VALUE%s; KIND is one of %s)", sub, sub,
                              streq (sub, "add") ? " [--note TEXT]" : "", PP_BLACKLIST_KINDS);
        if (format)
            return cli_usage ("blacklist %s: --format is for list", sub);
        if (streq (sub, "remove") && note)
            return cli_usage ("blacklist remove: --note is for add");
        return streq (sub, "add") ? s_add (cli, args [1], args [2], note)
                                  : s_remove (cli, args [1], args [2]);
    }
    if (streq (sub, "list")) {
        if (arg_count > 2)
            return cli_usage ("blacklist list: unexpected argument '%s'", args [2]);
        if (note)
            return cli_usage ("blacklist list: --note is for add");
        if (format && !streq (format, "table") && !streq (format, "json"))
            return cli_usage ("blacklist list: --format must be table or json, not '%s'", format);
        return s_list (cli, args [1], format ? format : "table");
    }
    return cli_usage ("blacklist: unknown command '%s' (add, remove, list)", sub);
}
