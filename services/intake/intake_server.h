/*  intake_server - the publishers' HTTP gateway: auth, parse, structural checks, hold until the result  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef INTAKE_SERVER_H_INCLUDED
#define INTAKE_SERVER_H_INCLUDED

#include "pp_config.h"

typedef struct intake_server intake_server_t;

//  Create the gateway of `slot`: loads the market, binds the reply socket,
//  connects to every validate slot and the ledger, starts the HTTP server on
//  http_port + slot. NULL (logged) on failure.
intake_server_t *
    intake_server_new (const pp_config_t *config, int slot);
//  Answer what is pending with 503, stop HTTP, destroy. Safe on NULL.
void
    intake_server_destroy (intake_server_t **self_p);
//  Run until SIGTERM; 0 on a clean stop.
int
    intake_server_run (intake_server_t *self);

#endif
