/*  cli_db - `pingpost db migrate` and `pingpost db url`  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "cli.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>

#ifndef PP_SQL_DIR
#define PP_SQL_DIR "deploy/sql"
#endif

//  Session advisory lock held while migrating, so parallel migrates (two
//  fleets starting at once) apply each file once. Tests take it as well.
#define S_MIGRATE_LOCK "7089133181"

//  One migration file: deploy/sql/NNN_name.sql.
typedef struct {
    long version;               //  NNN
    char *name;                 //  "NNN_name" (the file name without .sql)
    char *path;                 //  full path
} s_migration_t;

static int
s_migration_cmp (const void *a, const void *b)
{
    long x = ((const s_migration_t *) a)->version;
    long y = ((const s_migration_t *) b)->version;
    return x < y ? -1 : x > y;
}

//  Version of a file name "NNN_name.sql", or -1 when it is not one.
static long
s_version (const char *file)
{
    size_t len = strlen (file);
    if (len < 6 || !streq (file + len - 4, ".sql") || !isdigit ((unsigned char) file [0]))
        return -1;
    char *end;
    errno = 0;
    long version = strtol (file, &end, 10);
    if (errno || *end != '_' || version < 0 || version > INT32_MAX)
        return -1;
    return version;
}

static void
s_free (s_migration_t *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free (list [i].name);
        zstr_free (&list [i].path);
    }
    free (list);
}

//  The migrations of dir, sorted by number, into *list_p / *count_p (the
//  caller frees them with s_free). -1 (message printed) on failure.
static int
s_scan (const char *dir, s_migration_t **list_p, size_t *count_p)
{
    DIR *handle = opendir (dir);
    if (!handle) {
        cli_fail ("migrate: cannot open %s: %s", dir, strerror (errno));
        return -1;
    }
    s_migration_t *list = NULL;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        long version = s_version (entry->d_name);
        if (version < 0)
            continue;
        list = (s_migration_t *) realloc (list, sizeof (s_migration_t) * (count + 1));
        assert (list);
        list [count].version = version;
        list [count].name = strndup (entry->d_name, strlen (entry->d_name) - 4);
        assert (list [count].name);
        list [count].path = zsys_sprintf ("%s/%s", dir, entry->d_name);
        count++;
    }
    closedir (handle);
    if (count)
        qsort (list, count, sizeof (s_migration_t), s_migration_cmp);
    for (size_t i = 1; i < count; i++)
        if (list [i].version == list [i - 1].version) {
            cli_fail ("migrate: %s and %s have the same number", list [i - 1].name,
                      list [i].name);
            s_free (list, count);
            return -1;
        }
    *list_p = list;
    *count_p = count;
    return 0;
}

static char *
s_read_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    size_t alloc = 0;
    char chunk [65536];
    size_t got;
    while ((got = fread (chunk, 1, sizeof chunk, file)) > 0) {
        if (size + got + 1 > alloc) {
            alloc = (size + got + 1) * 2;
            text = (char *) realloc (text, alloc);
            assert (text);
        }
        memcpy (text + size, chunk, got);
        size += got;
    }
    bool failed = ferror (file);
    fclose (file);
    if (failed) {
        free (text);
        return NULL;
    }
    if (!text)
        text = strdup ("");
    else
        text [size] = 0;
    return text;
}

static int
s_apply_one (pp_db_t *db, s_migration_t *migration)
{
    char *sql = s_read_file (migration->path);
    if (!sql)
        return cli_fail ("migrate: cannot read %s: %s", migration->path, strerror (errno));
    char version [24];
    snprintf (version, sizeof version, "%ld", migration->version);
    const char *params [2] = {version, migration->name};
    int rc = pp_db_script (db, "migrate begin", "BEGIN");
    if (rc == 0)
        rc = pp_db_script (db, migration->name, sql);
    if (rc == 0)
        rc = pp_db_command (db, "migrate record",
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                            params);
    if (rc == 0)
        rc = pp_db_script (db, "migrate commit", "COMMIT");
    free (sql);
    if (rc) {
        if (pp_db_ok (db) && pp_db_script (db, "migrate rollback", "ROLLBACK"))
            cli_fail ("migrate: rollback failed");
        return cli_fail ("migrate: %s failed; nothing of it was applied", migration->name);
    }
    printf ("migrate: applied %s\n", migration->name);
    fflush (stdout);
    return CLI_OK;
}

static int
s_migrate (cli_t *cli)
{
    const char *dir = getenv ("PINGPOST_SQL_DIR");
    if (!dir || !*dir)
        dir = PP_SQL_DIR;
    s_migration_t *list = NULL;
    size_t count = 0;
    if (s_scan (dir, &list, &count))
        return CLI_FAIL;
    if (count == 0)
        return cli_fail ("migrate: no NNN_name.sql files in %s", dir);
    pp_db_t *db = cli_db_open (cli);
    if (!db) {
        s_free (list, count);
        return CLI_FAIL;
    }
    int rc = CLI_OK;
    if (pp_db_script (db, "migrate lock", "SELECT pg_advisory_lock (" S_MIGRATE_LOCK ")")
        || pp_db_script (db, "migrate table",
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version int PRIMARY KEY, name text NOT NULL,"
                         " applied_at timestamptz NOT NULL DEFAULT now())")) {
        s_free (list, count);
        return cli_fail ("migrate: cannot prepare the migrations table");
    }
    PGresult *result =
        pp_db_exec (db, "migrate versions", "SELECT version FROM schema_migrations", 0, NULL);
    if (!result) {
        s_free (list, count);
        return cli_fail ("migrate: cannot read schema_migrations");
    }
    size_t applied = 0;
    for (size_t i = 0; i < count && rc == CLI_OK; i++) {
        bool done = false;
        for (int row = 0; row < PQntuples (result) && !done; row++)
            done = strtol (PQgetvalue (result, row, 0), NULL, 10) == list [i].version;
        if (done)
            continue;
        rc = s_apply_one (db, &list [i]);
        if (rc == CLI_OK)
            applied++;
    }
    PQclear (result);
    if (rc == CLI_OK && applied == 0)
        printf ("migrate: up to date\n");
    //  Disconnecting releases the advisory lock
    s_free (list, count);
    return rc;
}

int
cli_cmd_db (cli_t *cli, int argc, char *argv [])
{
    const char *sub = NULL;
    for (int index = 1; index < argc; index++) {
        int taken = cli_common_option (cli, argc, argv, &index);
        if (taken < 0)
            return CLI_USAGE;
        if (taken)
            continue;
        if (argv [index][0] == '-')
            return cli_usage ("db: unknown option '%s'", argv [index]);
        if (sub)
            return cli_usage ("db %s: unexpected argument '%s'", sub, argv [index]);
        sub = argv [index];
    }
    if (!sub)
        return cli_usage ("db: which one: migrate or url?");
    if (streq (sub, "migrate"))
        return s_migrate (cli);
    if (streq (sub, "url")) {
        pp_config_t *config = cli_config (cli);
        if (!config)
            return CLI_FAIL;
        printf ("%s\n", config->database_url);
        return CLI_OK;
    }
    return cli_usage ("db: unknown command '%s' (migrate or url)", sub);
}
