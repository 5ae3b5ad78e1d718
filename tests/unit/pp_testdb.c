/*  pp_testdb - a fresh PostgreSQL schema with the project's migrations, for unit tests  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_testdb.h"
#include "pp_db.h"

#include <czmq.h>
#include <dirent.h>

//  The advisory lock of `pingpost db migrate`: the analyst role is created
//  cluster-wide, so parallel schema set-ups must not race.
#define S_MIGRATE_LOCK "7089133181"

//  deploy/sql is under PP_SOURCE_DIR (ctest sets it), else under the source
//  tree a test was built from (PP_TEST_SOURCE_DIR, when its target defines
//  it), else under the current directory.
#ifdef PP_TEST_SOURCE_DIR
#   define S_SOURCE_FALLBACK PP_TEST_SOURCE_DIR
#else
#   define S_SOURCE_FALLBACK "."
#endif

static int
s_sql_file (const struct dirent *entry)
{
    size_t len = strlen (entry->d_name);
    return len > 4 && streq (entry->d_name + len - 4, ".sql");
}

static int
s_apply_sql (pp_db_t *db)
{
    const char *source = getenv ("PP_SOURCE_DIR");
    char *sql_dir = zsys_sprintf ("%s/deploy/sql", source && *source ? source : S_SOURCE_FALLBACK);
    struct dirent **names = NULL;
    int count = scandir (sql_dir, &names, s_sql_file, alphasort);
    int rc = count > 0 ? 0 : -1;
    if (rc)
        fprintf (stderr, "pp_testdb: no SQL files in %s\n", sql_dir);
    if (rc == 0)
        rc = pp_db_script (db, "lock", "BEGIN; SELECT pg_advisory_xact_lock (" S_MIGRATE_LOCK ")");
    for (int i = 0; i < count; i++) {
        char *path = zsys_sprintf ("%s/%s", sql_dir, names [i]->d_name);
        zfile_t *file = zfile_new (NULL, path);
        char *text = NULL;
        if (file && zfile_input (file) == 0) {
            zchunk_t *chunk = zfile_read (file, zfile_cursize (file), 0);
            text = chunk ? zchunk_strdup (chunk) : NULL;
            zchunk_destroy (&chunk);
        }
        zfile_destroy (&file);
        if (rc == 0 && (!text || pp_db_script (db, names [i]->d_name, text)))
            rc = -1;
        zstr_free (&text);
        zstr_free (&path);
        free (names [i]);
    }
    free (names);
    zstr_free (&sql_dir);
    return rc == 0 ? pp_db_script (db, "commit", "COMMIT") : -1;
}

//  The schema name is the part after the last "search_path=" of our own
//  conninfo (ours is appended after whatever the base conninfo says), and
//  only a name of ours ("t_..."): never a schema the base named.
static char *
s_schema_of (const char *conninfo)
{
    const char *at = strstr (conninfo, "search_path");
    if (!at)
        return NULL;
    for (const char *next = at; next; next = strstr (next + 1, "search_path"))
        at = next;
    at += strlen ("search_path");
    at += *at == '=' ? 1 : 3;   //  "=" or "%3D"
    size_t size = strcspn (at, "'& ");
    if (size < 3 || strncmp (at, "t_", 2) != 0)
        return NULL;
    return strndup (at, size);
}

char *
pp_testdb_create (const char *prefix)
{
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!base || !*base) {
        fprintf (stderr, "PINGPOST_TEST_DATABASE_URL is not set: this test needs a PostgreSQL "
                         "database (scripts/test sets it)\n");
        return NULL;
    }
    char schema [64];
    snprintf (schema, sizeof schema, "t_%s_%d_%u", prefix, (int) getpid (),
              (unsigned) randof (1000000));
    pp_db_t *admin = pp_db_new (base);
    char *sql = zsys_sprintf ("CREATE SCHEMA %s", schema);
    int rc = admin && pp_db_ok (admin) ? pp_db_script (admin, "create schema", sql) : -1;
    zstr_free (&sql);
    pp_db_destroy (&admin);
    if (rc) {
        fprintf (stderr, "pp_testdb: cannot create a schema in PINGPOST_TEST_DATABASE_URL\n");
        return NULL;
    }
    char *conninfo;
    if (strncmp (base, "postgres://", 11) == 0 || strncmp (base, "postgresql://", 13) == 0)
        conninfo = zsys_sprintf ("%s%soptions=-csearch_path%%3D%s", base,
                                 strchr (base, '?') ? "&" : "?", schema);
    else
        conninfo = zsys_sprintf ("%s options='-csearch_path=%s'", base, schema);
    pp_db_t *db = pp_db_new (conninfo);
    rc = db && pp_db_ok (db) ? s_apply_sql (db) : -1;
    pp_db_destroy (&db);
    if (rc) {
        pp_testdb_drop (&conninfo);
        return NULL;
    }
    return conninfo;
}

void
pp_testdb_drop (char **conninfo_p)
{
    if (!conninfo_p || !*conninfo_p)
        return;
    char *schema = s_schema_of (*conninfo_p);
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (schema && base) {
        pp_db_t *admin = pp_db_new (base);
        char *sql = zsys_sprintf ("DROP SCHEMA %s CASCADE", schema);
        if (!admin || pp_db_script (admin, "drop schema", sql))
            fprintf (stderr, "pp_testdb: could not drop schema %s\n", schema);
        zstr_free (&sql);
        pp_db_destroy (&admin);
    }
    free (schema);
    zstr_free (conninfo_p);
}

char *
pp_testdb_schema (const char *conninfo)
{
    return conninfo ? s_schema_of (conninfo) : NULL;
}
