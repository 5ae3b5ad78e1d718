/*  pingpost - the operator's command line: db, apply, report, lead trace, blacklist  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <czmq.h>

#include "pp_log.h"
#include "cli.h"

static const char *s_help =
    "usage: pingpost [-c FILE] [-v] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  db migrate          apply the deploy/sql migrations not yet applied\n"
    "  db url              print the database connection string in use\n"
    "  apply FILE          validate a marketplace file (JSON; - for stdin) and store it\n"
    "  report --by publisher|source|buyer|campaign|vertical\n"
    "         [--since 24h|90m|7d|all] [--format table|csv|json] [--include-test]\n"
    "                      leads, sales and money per key (default: last 24h, table)\n"
    "  lead trace LEAD_ID [--format table|json]\n"
    "                      a lead's outcome and every event of it, in order\n"
    "  blacklist add KIND VALUE [--note TEXT]\n"
    "  blacklist remove KIND VALUE\n"
    "  blacklist list [KIND] [--format table|json]\n"
    "                      entries validate rejects leads by; KIND is phone, email,\n"
    "                      email_domain, ip, cidr or name (see docs/blacklist.md)\n"
    "  help                this text\n"
    "\n"
    "options:\n"
    "  -c FILE   fleet config (default $PINGPOST_VAR_DIR/etc/pingpost.cfg, else\n"
    "            ./var/etc/pingpost.cfg; a missing default file means defaults)\n"
    "  -v        verbose logging\n"
    "\n"
    "environment: PINGPOST_DATABASE_URL, PINGPOST_VAR_DIR, PINGPOST_SQL_DIR (migrations)\n";

int
main (int argc, char *argv [])
{
    cli_t cli = {0};
    int index = 1;
    //  Options before the command
    while (index < argc && argv [index][0] == '-') {
        const char *arg = argv [index];
        if (streq (arg, "-h") || streq (arg, "--help")) {
            fputs (s_help, stdout);
            return CLI_OK;
        }
        int taken = cli_common_option (&cli, argc, argv, &index);
        if (taken < 0)
            return CLI_USAGE;
        if (taken == 0)
            return cli_usage ("unknown option '%s'", arg);
        index++;
    }
    if (index >= argc) {
        fputs (s_help, stderr);
        return CLI_USAGE;
    }
    const char *command = argv [index];
    if (streq (command, "help")) {
        fputs (s_help, stdout);
        return CLI_OK;
    }
    pp_log_init ("pingpost", cli.verbose);
    int rc;
    if (streq (command, "db"))
        rc = cli_cmd_db (&cli, argc - index, argv + index);
    else
    if (streq (command, "apply"))
        rc = cli_cmd_apply (&cli, argc - index, argv + index);
    else
    if (streq (command, "report"))
        rc = cli_cmd_report (&cli, argc - index, argv + index);
    else
    if (streq (command, "lead"))
        rc = cli_cmd_lead (&cli, argc - index, argv + index);
    else
    if (streq (command, "blacklist"))
        rc = cli_cmd_blacklist (&cli, argc - index, argv + index);
    else
        rc = cli_usage ("unknown command '%s'", command);
    pp_db_destroy (&cli.db);
    pp_config_destroy (&cli.config);
    return rc;
}
