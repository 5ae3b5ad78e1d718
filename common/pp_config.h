/*  pp_config - the fleet configuration (ZPL) every service reads: var dir, database, slots, endpoints  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_CONFIG_H_INCLUDED
#define PP_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>

#define PP_SLOTS_MAX 64

//  The stages whose instances occupy slots.
typedef enum {
    PP_SLOT_INTAKE = 0,     //  endpoint: the intake's reply socket (PULL)
    PP_SLOT_VALIDATE,
    PP_SLOT_FILTER,
    PP_SLOT_AUCTION,
    PP_SLOT_DELIVER,
    PP_SLOT_LEDGER,         //  endpoint: the ledger's ROUTER
    PP_SLOT_KINDS
} pp_slot_kind_t;

//  Options every binary takes: -c FILE, -s SLOT, -v, -h.
typedef struct {
    const char *config_file;    //  -c, default "./var/etc/pingpost.cfg"; not owned (argv)
    int slot;                   //  -s, default 0
    bool verbose;               //  -v
} pp_opts_t;

//  Parse argv; prints usage and exits on -h (0) or misuse (64).
pp_opts_t
    pp_opts_parse (int argc, char *argv [], const char *ident);

typedef struct {
    char *var_dir;                      //  absolute; internal sockets live in <var_dir>/run
    char *database_url;                 //  libpq conninfo
    int slots [PP_SLOT_KINDS];          //  declared instances per stage
    char *endpoint_base [PP_SLOT_KINDS];//  NULL: ipc://<var>/run/<stage>-<n>; "tcp://h:p": port + n
    char *http_address;                 //  intake bind address, default "127.0.0.1"
    int http_port;                      //  intake port for slot 0 (slot n: port + n), default 8080
    int http_threads;                   //  libmicrohttpd worker threads, default 1
    long body_limit;                    //  bytes, default 1 MiB
    int hwm;                            //  ZeroMQ high-water mark on pipeline sockets, default 10000
    int outbox_limit;                   //  unacknowledged ledger events a stage may hold, default 200000
    int outbox_resend_ms;               //  resend unacknowledged events after, default 2000
    int ledger_batch;                   //  ledger commits after this many events, default 1000
    int ledger_flush_ms;                //  or after this long, default 10
    int ledger_direct;                  //  1: COPY events into the ledger (the direct way),
                                        //  0: always the careful way; default 1
    int ledger_careful_ms;              //  checks every event id for this long after meeting
                                        //  a resent one, default 5000 (else COPYs them)
    int default_timeout_ms;             //  lead deadline when neither publisher nor market says, 3000
    int idempotency_purge_ms;           //  intake deletes Idempotency-Keys older than 24 h this
                                        //  often, default 60000
    int intake_db_timeout_ms;           //  intake waits at most this for its database (idempotency
                                        //  keys, lead status) before answering 503, default 1000
    int mx_check;                       //  validate asks DNS for the email domain's MX, default 0 (off)
    int mx_timeout_ms;                  //  budget of that check, default 200 (past it the lead passes)
    char *mx_nameserver;                //  "ip[:port]" to ask, NULL = the system's resolv.conf
    char *email_roles;                  //  role local parts to reject, comma separated; NULL = the
                                        //  built-in list, "none" = no role check
} pp_config_t;

//  Load a config file. Unknown keys and bad values are errors (logged with
//  their path); returns NULL then. A missing file gives the defaults when
//  `allow_missing`. PINGPOST_VAR_DIR, PINGPOST_DATABASE_URL and
//  PINGPOST_HTTP_PORT override the file.
pp_config_t *
    pp_config_load (const char *path, bool allow_missing);
//  Defaults (var dir from PINGPOST_VAR_DIR or ./var).
pp_config_t *
    pp_config_new (void);
void
    pp_config_destroy (pp_config_t **self_p);
//  The endpoint of slot n of a stage kind, as a new string.
char *
    pp_config_endpoint (const pp_config_t *self, pp_slot_kind_t kind, int slot);
//  Connect a socket to every declared slot of a stage kind, the way every
//  pipeline socket connects (DESIGN section 3): ZMQ_IMMEDIATE, so messages go
//  only to live instances, and reconnects to a declared slot nobody serves
//  backing off from 100 ms to PP_RECONNECT_MAX_MS (a new instance there gets
//  work within that; an absent slot costs a connect attempt a second, not
//  ten). `who` names the caller in the warning for an endpoint that cannot
//  be connected. Returns the number of slots connected.
#define PP_RECONNECT_MAX_MS 1000
int
    pp_config_connect_slots (const pp_config_t *self, zsock_t *sock, pp_slot_kind_t kind,
                             const char *who);
//  Name of a slot kind ("intake", "validate"...).
const char *
    pp_slot_kind_name (pp_slot_kind_t kind);
//  Default embedded conninfo for a var dir: host=<var>/pg/sock dbname=pingpost user=pingpost.
char *
    pp_config_default_database_url (const char *var_dir);

#endif
