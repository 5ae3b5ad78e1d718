/*  pp_config - the fleet configuration (ZPL) every service reads: var dir, database, slots, endpoints  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_config.h"

#include <czmq.h>
#include <getopt.h>
#include <limits.h>

static const char *s_kind_names [PP_SLOT_KINDS] = {
    "intake", "validate", "filter", "auction", "deliver", "ledger"
};

const char *
pp_slot_kind_name (pp_slot_kind_t kind)
{
    return kind >= 0 && kind < PP_SLOT_KINDS ? s_kind_names [kind] : "unknown";
}

pp_opts_t
pp_opts_parse (int argc, char *argv [], const char *ident)
{
    pp_opts_t opts = {"./var/etc/pingpost.cfg", 0, false};
    int c;
    optind = 1;
    while ((c = getopt (argc, argv, "c:s:vh")) != -1) {
        switch (c) {
            case 'c':
                opts.config_file = optarg;
                break;
            case 's': {
                char *end;
                long slot = strtol (optarg, &end, 10);
                if (*end || slot < 0 || slot >= PP_SLOTS_MAX) {
                    fprintf (stderr, "%s: bad slot '%s' (0..%d)\n", ident, optarg,
                             PP_SLOTS_MAX - 1);
                    exit (64);
                }
                opts.slot = (int) slot;
                break;
            }
            case 'v':
                opts.verbose = true;
                break;
            case 'h':
                printf ("usage: %s [-c CONFIG] [-s SLOT] [-v]\n"
                        "  -c FILE  fleet config (ZPL), default ./var/etc/pingpost.cfg\n"
                        "  -s SLOT  which declared slot this instance occupies, default 0\n"
                        "  -v       verbose logging\n",
                        ident);
                exit (0);
            default:
                fprintf (stderr, "usage: %s [-c CONFIG] [-s SLOT] [-v]\n", ident);
                exit (64);
        }
    }
    if (optind < argc) {
        fprintf (stderr, "%s: unexpected argument '%s'\n", ident, argv [optind]);
        exit (64);
    }
    return opts;
}

static char *
s_absolute (const char *path)
{
    char resolved [PATH_MAX];
    if (realpath (path, resolved))
        return strdup (resolved);
    if (path [0] == '/')
        return strdup (path);
    char cwd [PATH_MAX];
    if (!getcwd (cwd, sizeof cwd))
        return strdup (path);
    return zsys_sprintf ("%s/%s", cwd, path);
}

char *
pp_config_default_database_url (const char *var_dir)
{
    return zsys_sprintf ("host=%s/pg/sock dbname=pingpost user=pingpost", var_dir);
}

pp_config_t *
pp_config_new (void)
{
    pp_config_t *self = (pp_config_t *) zmalloc (sizeof (pp_config_t));
    const char *var = getenv ("PINGPOST_VAR_DIR");
    self->var_dir = s_absolute (var && *var ? var : "./var");
    self->http_address = strdup ("127.0.0.1");
    self->http_port = 8080;
    self->http_threads = 1;
    self->body_limit = 1024 * 1024;
    self->hwm = 10000;
    self->outbox_limit = 200000;
    self->outbox_resend_ms = 2000;
    self->ledger_batch = 1000;
    self->ledger_flush_ms = 10;
    self->ledger_direct = 1;
    self->ledger_careful_ms = 5000;
    self->default_timeout_ms = 3000;
    self->idempotency_purge_ms = 60000;
    self->intake_db_timeout_ms = 1000;
    self->mx_timeout_ms = 200;
    for (int k = 0; k < PP_SLOT_KINDS; k++)
        self->slots [k] = 4;
    self->slots [PP_SLOT_LEDGER] = 1;
    return self;
}

void
pp_config_destroy (pp_config_t **self_p)
{
    assert (self_p);
    pp_config_t *self = *self_p;
    if (!self)
        return;
    free (self->var_dir);
    free (self->database_url);
    free (self->http_address);
    free (self->mx_nameserver);
    free (self->email_roles);
    for (int k = 0; k < PP_SLOT_KINDS; k++)
        free (self->endpoint_base [k]);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  The table of known keys: every leaf of the file must be one of these,
//  so a typo is an error rather than a silently ignored setting.

typedef enum { S_STR, S_INT, S_LONG } s_type_t;

typedef struct {
    const char *path;           //  path under "pingpost/"
    s_type_t type;              //  how to read it
    size_t offset;              //  where in pp_config_t
    long min;                   //  numbers: smallest value
    long max;                   //  numbers: largest value
} s_key_t;

#define S_OFF(member) offsetof (pp_config_t, member)

static const s_key_t s_keys [] = {
    {"var_dir", S_STR, S_OFF (var_dir), 0, 0},
    {"database_url", S_STR, S_OFF (database_url), 0, 0},
    {"http/address", S_STR, S_OFF (http_address), 0, 0},
    {"http/port", S_INT, S_OFF (http_port), 1, 65535},
    {"http/threads", S_INT, S_OFF (http_threads), 1, 64},
    {"http/body_limit", S_LONG, S_OFF (body_limit), 1024, 64L * 1024 * 1024},
    {"slots/intake", S_INT, S_OFF (slots [PP_SLOT_INTAKE]), 1, PP_SLOTS_MAX},
    {"slots/validate", S_INT, S_OFF (slots [PP_SLOT_VALIDATE]), 1, PP_SLOTS_MAX},
    {"slots/filter", S_INT, S_OFF (slots [PP_SLOT_FILTER]), 1, PP_SLOTS_MAX},
    {"slots/auction", S_INT, S_OFF (slots [PP_SLOT_AUCTION]), 1, PP_SLOTS_MAX},
    {"slots/deliver", S_INT, S_OFF (slots [PP_SLOT_DELIVER]), 1, PP_SLOTS_MAX},
    {"slots/ledger", S_INT, S_OFF (slots [PP_SLOT_LEDGER]), 1, PP_SLOTS_MAX},
    {"endpoints/intake", S_STR, S_OFF (endpoint_base [PP_SLOT_INTAKE]), 0, 0},
    {"endpoints/validate", S_STR, S_OFF (endpoint_base [PP_SLOT_VALIDATE]), 0, 0},
    {"endpoints/filter", S_STR, S_OFF (endpoint_base [PP_SLOT_FILTER]), 0, 0},
    {"endpoints/auction", S_STR, S_OFF (endpoint_base [PP_SLOT_AUCTION]), 0, 0},
    {"endpoints/deliver", S_STR, S_OFF (endpoint_base [PP_SLOT_DELIVER]), 0, 0},
    {"endpoints/ledger", S_STR, S_OFF (endpoint_base [PP_SLOT_LEDGER]), 0, 0},
    {"pipeline/hwm", S_INT, S_OFF (hwm), 10, 10000000},
    {"pipeline/default_timeout_ms", S_INT, S_OFF (default_timeout_ms), 10, 600000},
    {"intake/idempotency_purge_ms", S_INT, S_OFF (idempotency_purge_ms), 100, 3600000},
    {"intake/db_timeout_ms", S_INT, S_OFF (intake_db_timeout_ms), 50, 600000},
    {"validate/mx_check", S_INT, S_OFF (mx_check), 0, 1},
    {"validate/mx_timeout_ms", S_INT, S_OFF (mx_timeout_ms), 10, 5000},
    {"validate/mx_nameserver", S_STR, S_OFF (mx_nameserver), 0, 0},
    {"validate/email_roles", S_STR, S_OFF (email_roles), 0, 0},
    {"outbox/limit", S_INT, S_OFF (outbox_limit), 10, 100000000},
    {"outbox/resend_ms", S_INT, S_OFF (outbox_resend_ms), 10, 3600000},
    {"ledger/batch", S_INT, S_OFF (ledger_batch), 1, 1000000},
    {"ledger/flush_ms", S_INT, S_OFF (ledger_flush_ms), 1, 60000},
    {"ledger/direct", S_INT, S_OFF (ledger_direct), 0, 1},
    {"ledger/careful_ms", S_INT, S_OFF (ledger_careful_ms), 0, 3600000},
};

static const s_key_t *
s_key_find (const char *path)
{
    for (size_t i = 0; i < sizeof s_keys / sizeof s_keys [0]; i++)
        if (streq (s_keys [i].path, path))
            return &s_keys [i];
    return NULL;
}

static bool
s_is_section (const char *path)
{
    return streq (path, "http") || streq (path, "slots") || streq (path, "endpoints")
           || streq (path, "pipeline") || streq (path, "outbox") || streq (path, "ledger")
           || streq (path, "validate") || streq (path, "intake");
}

//  Walk the children of `node`; path is relative to the root "pingpost".
static int
s_walk (pp_config_t *self, zconfig_t *node, const char *prefix, const char *file)
{
    int errors = 0;
    for (zconfig_t *child = zconfig_child (node); child; child = zconfig_next (child)) {
        const char *name = zconfig_name (child);
        if (!name || *name == 0)
            continue;
        char path [256];
        snprintf (path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", name);
        if (zconfig_child (child)) {
            if (!s_is_section (path)) {
                zsys_error ("config: %s: unknown section 'pingpost/%s'", file, path);
                errors++;
            }
            else
                errors += s_walk (self, child, path, file);
            continue;
        }
        const s_key_t *key = s_key_find (path);
        if (!key) {
            if (!s_is_section (path)) {
                zsys_error ("config: %s: unknown key 'pingpost/%s'", file, path);
                errors++;
            }
            continue;
        }
        const char *value = zconfig_value (child);
        if (!value)
            value = "";
        char *target = (char *) self + key->offset;
        if (key->type == S_STR) {
            char **slot = (char **) target;
            free (*slot);
            *slot = *value ? strdup (value) : NULL;
            continue;
        }
        char *end;
        errno = 0;
        long number = strtol (value, &end, 10);
        if (errno || *value == 0 || *end || number < key->min || number > key->max) {
            zsys_error ("config: %s: 'pingpost/%s' must be a whole number from %ld to %ld, "
                        "not '%s'",
                        file, path, key->min, key->max, value);
            errors++;
            continue;
        }
        if (key->type == S_INT)
            *(int *) target = (int) number;
        else
            *(long *) target = number;
    }
    return errors;
}

pp_config_t *
pp_config_load (const char *path, bool allow_missing)
{
    pp_config_t *self = pp_config_new ();
    if (path && zsys_file_exists (path)) {
        zconfig_t *root = zconfig_load (path);
        if (!root) {
            zsys_error ("config: cannot parse %s", path);
            pp_config_destroy (&self);
            return NULL;
        }
        int errors = 0;
        for (zconfig_t *top = zconfig_child (root); top; top = zconfig_next (top)) {
            if (!streq (zconfig_name (top), "pingpost")) {
                zsys_error ("config: %s: unknown section '%s'", path, zconfig_name (top));
                errors++;
            }
            else
                errors += s_walk (self, top, "", path);
        }
        zconfig_destroy (&root);
        if (errors) {
            pp_config_destroy (&self);
            return NULL;
        }
        if (self->var_dir) {
            char *absolute = s_absolute (self->var_dir);
            free (self->var_dir);
            self->var_dir = absolute;
        }
    }
    else
    if (!allow_missing) {
        zsys_error ("config: %s not found", path ? path : "(none)");
        pp_config_destroy (&self);
        return NULL;
    }
    //  The environment wins over the file
    const char *env = getenv ("PINGPOST_VAR_DIR");
    if (env && *env && (!path || !zsys_file_exists (path))) {
        free (self->var_dir);
        self->var_dir = s_absolute (env);
    }
    env = getenv ("PINGPOST_DATABASE_URL");
    if (env && *env) {
        free (self->database_url);
        self->database_url = strdup (env);
    }
    env = getenv ("PINGPOST_HTTP_PORT");
    if (env && *env) {
        char *end;
        errno = 0;
        long port = strtol (env, &end, 10);
        if (errno || *end || port < 1 || port > 65535) {
            zsys_error ("config: PINGPOST_HTTP_PORT '%s' is not a port", env);
            pp_config_destroy (&self);
            return NULL;
        }
        self->http_port = (int) port;
    }
    if (!self->var_dir)
        self->var_dir = s_absolute ("./var");
    if (!self->database_url)
        self->database_url = pp_config_default_database_url (self->var_dir);
    //  ipc paths are limited by sun_path (108 bytes); every stage counts,
    //  as any of them may still use the default ipc endpoints
    bool too_long = false;
    for (int k = 0; k < PP_SLOT_KINDS && !too_long; k++) {
        char *probe = pp_config_endpoint (self, (pp_slot_kind_t) k, PP_SLOTS_MAX - 1);
        too_long = strncmp (probe, "ipc://", 6) == 0 && strlen (probe + 6) >= 100;
        if (too_long)
            zsys_error ("config: var dir '%s' is too long for ipc endpoints (%s); use a "
                        "shorter PINGPOST_VAR_DIR",
                        self->var_dir, probe);
        zstr_free (&probe);
    }
    if (too_long) {
        pp_config_destroy (&self);
        return NULL;
    }
    return self;
}

char *
pp_config_endpoint (const pp_config_t *self, pp_slot_kind_t kind, int slot)
{
    assert (self);
    assert (kind >= 0 && kind < PP_SLOT_KINDS);
    const char *base = self->endpoint_base [kind];
    if (base && strncmp (base, "tcp://", 6) == 0) {
        //  tcp://host:port: slot n listens on port + n
        const char *colon = strrchr (base, ':');
        if (colon && colon > base + 6) {
            int port = atoi (colon + 1);
            return zsys_sprintf ("%.*s:%d", (int) (colon - base), base, port + slot);
        }
    }
    if (base)
        return zsys_sprintf ("%s-%d", base, slot);
    if (kind == PP_SLOT_INTAKE)
        return zsys_sprintf ("ipc://%s/run/reply-%d", self->var_dir, slot);
    return zsys_sprintf ("ipc://%s/run/%s-%d", self->var_dir, s_kind_names [kind], slot);
}

int
pp_config_connect_slots (const pp_config_t *self, zsock_t *sock, pp_slot_kind_t kind,
                         const char *who)
{
    assert (self);
    assert (sock);
    assert (kind >= 0 && kind < PP_SLOT_KINDS);
    zsock_set_immediate (sock, 1);
    zsock_set_reconnect_ivl_max (sock, PP_RECONNECT_MAX_MS);
    int connected = 0;
    for (int slot = 0; slot < self->slots [kind]; slot++) {
        char *endpoint = pp_config_endpoint (self, kind, slot);
        if (zsock_connect (sock, "%s", endpoint))
            zsys_warning ("%s: cannot connect to %s", who, endpoint);
        else
            connected++;
        zstr_free (&endpoint);
    }
    return connected;
}
