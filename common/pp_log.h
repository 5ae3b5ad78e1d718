/*  pp_log - logging set-up (czmq zsys) and systemd notification  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_LOG_H_INCLUDED
#define PP_LOG_H_INCLUDED

#include <stdbool.h>

//  Set up zsys logging once: ident is the binary name; under systemd
//  (JOURNAL_STREAM set) log to syslog, else to stderr. verbose enables
//  pp_log_verbose ().
void
    pp_log_init (const char *ident, bool verbose);
//  True when -v was given (guard zsys_debug calls with it).
bool
    pp_log_verbose (void);

//  sd_notify wrappers; no-ops without libsystemd or NOTIFY_SOCKET.
void
    pp_sd_ready (void);
void
    pp_sd_stopping (void);
void
    pp_sd_status (const char *status);
void
    pp_sd_watchdog (void);
//  Watchdog interval in ms (half of WATCHDOG_USEC), or 0 when not enabled.
int
    pp_sd_watchdog_ms (void);

#endif
