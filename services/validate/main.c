/*  pingpost-validate - the validate stage  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "validate_server.h"
#include "pp_log.h"
#include "pp_util.h"

#include <stdlib.h>

int
main (int argc, char *argv [])
{
    pp_opts_t opts = pp_opts_parse (argc, argv, "pingpost-validate");
    pp_log_init ("pingpost-validate", opts.verbose);
    pp_config_t *config = pp_config_load (opts.config_file, true);
    if (!config)
        return PP_EXIT_CONFIG;
    validate_server_t *server = validate_server_new (config, opts.slot);
    int rc = server ? validate_server_run (server) : -1;
    validate_server_destroy (&server);
    pp_config_destroy (&config);
    return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}
