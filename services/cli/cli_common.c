/*  cli_common - errors, options, config and database session of the `pingpost` command line  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "cli.h"

#include <czmq.h>
#include <stdarg.h>

#include "pp_util.h"

int
cli_fail (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("pingpost: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
    return CLI_FAIL;
}

int
cli_usage (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("pingpost: ", stderr);
    vfprintf (stderr, format, args);
    fputs ("\nrun 'pingpost help' for usage\n", stderr);
    va_end (args);
    return CLI_USAGE;
}

int
cli_option (int argc, char *argv [], int *index, const char *name, const char **value)
{
    const char *arg = argv [*index];
    size_t len = strlen (name);
    if (strncmp (arg, name, len) != 0)
        return 0;
    if (arg [len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg [len] != 0)
        return 0;
    if (*index + 1 >= argc) {
        cli_usage ("option %s needs a value", name);
        return -1;
    }
    *index += 1;
    *value = argv [*index];
    return 1;
}

int
cli_common_option (cli_t *cli, int argc, char *argv [], int *index)
{
    const char *arg = argv [*index];
    if (streq (arg, "-v") || streq (arg, "--verbose")) {
        cli->verbose = true;
        return 1;
    }
    const char *value = NULL;
    int rc = streq (arg, "-c") ? cli_option (argc, argv, index, "-c", &value)
                               : cli_option (argc, argv, index, "--config", &value);
    if (rc == 1) {
        cli->config_file = value;
        cli->config_explicit = true;
    }
    return rc;
}

pp_config_t *
cli_config (cli_t *cli)
{
    if (cli->config)
        return cli->config;
    char *path = NULL;
    if (cli->config_file)
        path = strdup (cli->config_file);
    else {
        const char *var = getenv ("PINGPOST_VAR_DIR");
        path = zsys_sprintf ("%s/etc/pingpost.cfg", var && *var ? var : "./var");
    }
    if (cli->config_explicit && !zsys_file_exists (path)) {
        cli_fail ("config file %s not found", path);
        zstr_free (&path);
        return NULL;
    }
    cli->config = pp_config_load (path, true);
    if (!cli->config)
        cli_fail ("cannot load the config %s (errors above)", path);
    zstr_free (&path);
    return cli->config;
}

pp_db_t *
cli_db_open (cli_t *cli)
{
    if (cli->db)
        return cli->db;
    pp_config_t *config = cli_config (cli);
    if (!config)
        return NULL;
    cli->db = pp_db_new (config->database_url);
    if (!cli->db || !pp_db_ok (cli->db)) {
        cli_fail ("cannot connect to the database (the reason is above; 'pingpost db url' "
                  "shows the connection string)");
        pp_db_destroy (&cli->db);
        return NULL;
    }
    return cli->db;
}

void
cli_money (const char *cents, char *buf, size_t size)
{
    if (!cents || !*cents) {
        snprintf (buf, size, "%s", "");
        return;
    }
    pp_cents_format (strtoll (cents, NULL, 10), buf, size);
}

void
cli_millis (const char *micros, char *buf, size_t size)
{
    if (!micros || !*micros) {
        snprintf (buf, size, "%s", "");
        return;
    }
    long long us = strtoll (micros, NULL, 10);
    unsigned long long magnitude = us < 0 ? 0ULL - (unsigned long long) us
                                          : (unsigned long long) us;
    snprintf (buf, size, "%s%llu.%03llu", us < 0 ? "-" : "", magnitude / 1000,
              magnitude % 1000);
}
