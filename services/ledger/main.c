/*  pingpost-ledger - the only writer of events and money rows: batches, commits, acknowledges  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdlib.h>

#include "pp_config.h"
#include "pp_log.h"
#include "pp_util.h"
#include "ledger_server.h"

int
main (int argc, char *argv [])
{
    pp_opts_t opts = pp_opts_parse (argc, argv, "pingpost-ledger");
    pp_log_init ("pingpost-ledger", opts.verbose);
    pp_config_t *config = pp_config_load (opts.config_file, true);
    if (!config)
        return PP_EXIT_CONFIG;
    if (opts.slot >= config->slots [PP_SLOT_LEDGER]) {
        zsys_error ("ledger: slot %d is not declared (slots/ledger = %d)", opts.slot,
                    config->slots [PP_SLOT_LEDGER]);
        pp_config_destroy (&config);
        return PP_EXIT_CONFIG;
    }
    ledger_server_t *server = ledger_server_new (config, opts.slot);
    int rc = server ? ledger_server_run (server, NULL) : -1;
    ledger_server_destroy (&server);
    pp_config_destroy (&config);
    return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}
