/*  ledger_server - pingpost-ledger: batches events, commits them to PostgreSQL, acknowledges  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef LEDGER_SERVER_H_INCLUDED
#define LEDGER_SERVER_H_INCLUDED

#include <czmq.h>
#include "pp_config.h"

typedef struct ledger_server ledger_server_t;

//  Create the ledger of slot `slot`: binds a ROUTER on the slot's endpoint
//  (creating <var_dir>/run for ipc endpoints) and opens a database session.
//  A database that is down is not fatal: the server retries it and sends
//  READY once it is up. Returns NULL (logged) when the bind fails. config
//  is not owned and must outlive the server.
ledger_server_t *
    ledger_server_new (const pp_config_t *config, int slot);
//  Destroy the server; buffered events are lost (logged with their count),
//  their producers resend them. Nulls *self_p. Safe on NULL.
void
    ledger_server_destroy (ledger_server_t **self_p);
//  Run the loop until SIGINT/SIGTERM (or "$TERM" on `pipe`, when not NULL:
//  tests), then flush what is buffered once, acknowledge it and notify
//  STOPPING. Returns 0 on a clean stop, -1 when the loop failed.
int
    ledger_server_run (ledger_server_t *self, zsock_t *pipe);

//  Handle one message read from the ROUTER: [identity][events frame].
//  Takes ownership of *msg_p and nulls it. The events are buffered; nothing
//  is written until ledger_server_flush. Returns 0 when buffered, -1 when
//  the message was malformed and dropped (logged once).
int
    ledger_server_handle (ledger_server_t *self, zmsg_t **msg_p);
//  Write every buffered event in one transaction (COPY into a staging table,
//  then leads, lead_pii, events and sales; or, the direct way, COPY into
//  events and stage only what the other tables need: see ledger/careful_ms),
//  commit, and send each producer one ack listing the ids it sent. Events the database rejects on their
//  own while the rest of the batch commits are logged, dropped and acked.
//  Returns 0 when the buffer was written (or empty), -1 on a database
//  failure: then the batch is kept, nothing is acked, and the caller retries.
int
    ledger_server_flush (ledger_server_t *self);
//  Events buffered and not yet committed.
size_t
    ledger_server_pending (ledger_server_t *self);
//  Events committed (or dropped as rejected) and acked since start.
uint64_t
    ledger_server_committed (ledger_server_t *self);
//  Flushes committed the direct way since start (the rest went the careful
//  way: for ledger/careful_ms after meeting a resent event, and retries).
uint64_t
    ledger_server_direct (ledger_server_t *self);
//  The bound endpoint (borrowed).
const char *
    ledger_server_endpoint (ledger_server_t *self);
//  The ROUTER (borrowed), for tests that read it and call ledger_server_handle.
zsock_t *
    ledger_server_socket (ledger_server_t *self);

#endif
