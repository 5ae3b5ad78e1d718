/*  pp_log - logging set-up (czmq zsys) and systemd notification  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_log.h"

#include <czmq.h>
#include <stdlib.h>
#ifdef PP_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static bool s_verbose;

void
pp_log_init (const char *ident, bool verbose)
{
    s_verbose = verbose;
    zsys_init ();
    zsys_set_logident (ident);
    //  Our own handler: SIGINT/SIGTERM set zsys_interrupted, loops stop.
    if (getenv ("JOURNAL_STREAM")) {
        zsys_set_logsystem (true);
        zsys_set_logstream (NULL);
    }
    else
        zsys_set_logstream (stderr);
}

bool
pp_log_verbose (void)
{
    return s_verbose;
}

void
pp_sd_ready (void)
{
#ifdef PP_HAVE_SYSTEMD
    sd_notify (0, "READY=1");
#endif
}

void
pp_sd_stopping (void)
{
#ifdef PP_HAVE_SYSTEMD
    sd_notify (0, "STOPPING=1");
#endif
}

void
pp_sd_status (const char *status)
{
#ifdef PP_HAVE_SYSTEMD
    sd_notifyf (0, "STATUS=%s", status);
#else
    (void) status;
#endif
}

void
pp_sd_watchdog (void)
{
#ifdef PP_HAVE_SYSTEMD
    sd_notify (0, "WATCHDOG=1");
#endif
}

int
pp_sd_watchdog_ms (void)
{
#ifdef PP_HAVE_SYSTEMD
    uint64_t usec = 0;
    if (sd_watchdog_enabled (0, &usec) > 0 && usec > 0)
        return (int) (usec / 2000);
#endif
    return 0;
}
