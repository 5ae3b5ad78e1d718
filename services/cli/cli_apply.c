/*  cli_apply - `pingpost apply FILE`: validate a marketplace file, then store it  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "cli.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>

#include "pp_market.h"

//  Read all of a stream; NULL on a read error. *size_p gets the length.
static char *
s_slurp (FILE *file, size_t *size_p)
{
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
    if (ferror (file)) {
        free (text);
        return NULL;
    }
    if (!text)
        text = strdup ("");
    else
        text [size] = 0;
    *size_p = size;
    return text;
}

int
cli_cmd_apply (cli_t *cli, int argc, char *argv [])
{
    const char *path = NULL;
    for (int index = 1; index < argc; index++) {
        int taken = cli_common_option (cli, argc, argv, &index);
        if (taken < 0)
            return CLI_USAGE;
        if (taken)
            continue;
        if (argv [index][0] == '-' && argv [index][1] != 0)
            return cli_usage ("apply: unknown option '%s'", argv [index]);
        if (path)
            return cli_usage ("apply: one file at a time ('%s' and '%s')", path, argv [index]);
        path = argv [index];
    }
    if (!path)
        return cli_usage ("apply: which file? (pingpost apply FILE, - for stdin)");

    bool from_stdin = streq (path, "-");
    const char *label = from_stdin ? "<stdin>" : path;
    FILE *file = from_stdin ? stdin : fopen (path, "rb");
    if (!file)
        return cli_fail ("apply: cannot open %s: %s", path, strerror (errno));
    size_t size = 0;
    char *text = s_slurp (file, &size);
    int read_errno = errno;
    if (!from_stdin)
        fclose (file);
    if (!text)
        return cli_fail ("apply: cannot read %s: %s", label, strerror (read_errno));

    pp_market_error_t *errors = NULL;
    size_t error_count = 0;
    pp_market_t *market = pp_market_parse (text, size, &errors, &error_count);
    free (text);
    if (!market) {
        for (size_t i = 0; i < error_count; i++)
            fprintf (stderr, "%s: %s: %s\n", label, errors [i].path, errors [i].message);
        if (error_count == 0)
            fprintf (stderr, "%s: not a valid marketplace file\n", label);
        pp_market_errors_free (&errors, error_count);
        fprintf (stderr, "pingpost: apply: %s has %zu problem%s; nothing was changed\n", label,
                 error_count, error_count == 1 ? "" : "s");
        return CLI_FAIL;
    }
    int rc = CLI_OK;
    pp_db_t *db = cli_db_open (cli);
    if (!db)
        rc = CLI_FAIL;
    else
    if (pp_market_store (market, db))
        rc = cli_fail ("apply: storing %s failed (see the log above); nothing was changed",
                       label);
    else
        printf ("applied %s: %zu verticals, %zu publishers, %zu buyers, %zu campaigns\n", label,
                pp_market_vertical_count (market), pp_market_publisher_count (market),
                pp_market_buyer_count (market), pp_market_campaign_count (market));
    pp_market_unlink (&market);
    return rc;
}
