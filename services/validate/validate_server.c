/*  validate_server - field rules, normalisation, consent and duplicates: only clean leads go on  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "validate_server.h"
#include "pp_blacklist.h"
#include "pp_bot.h"
#include "pp_dedupe.h"
#include "pp_email.h"
#include "pp_phone.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_stage.h"
#include "pp_util.h"

#include <ctype.h>
#include <pthread.h>

struct validate_server {
    pp_stage_t *stage;          //  the shared runtime
    pp_zip_t *zip;              //  the US ZIP table, or NULL (then ZIPs are checked by form only)
    pp_dedupe_t *dedupe;        //  pipelined duplicate checks
    pp_blacklist_t *blacklist;  //  phones, emails, domains, IPs, CIDRs, names (reloaded with the market)
    pp_email_t *email;          //  disposable domains and role accounts, or NULL
    const pp_config_t *config;  //  Not owned: MX check settings
    zhashx_t *bot_configs;      //  vertical name -> pp_bot_config_t
    uint64_t rejected;          //  leads rejected
    uint64_t duplicates;        //  leads found duplicate
};


int
validate_phone (const char *text, char *buf)
{
    pp_line_type_t line;
    return pp_phone_check (text, buf, 16, &line) == PP_PHONE_OK ? 0 : -1;
}

//  Syntax only (no disposable list, no roles): one checker for the process.
static pp_email_t *s_email_syntax;
static pthread_once_t s_email_once = PTHREAD_ONCE_INIT;

static void
s_email_syntax_new (void)
{
    s_email_syntax = pp_email_new (NULL);
    assert (s_email_syntax);
    int rc = pp_email_set_roles (s_email_syntax, NULL, 0);
    assert (rc == 0);
}

char *
validate_email (const char *text)
{
    if (!text)
        return NULL;
    pthread_once (&s_email_once, s_email_syntax_new);
    char normal [PP_EMAIL_NORMAL_SIZE];
    if (pp_email_check (s_email_syntax, text, normal, sizeof normal))
        return NULL;
    char *copy = strdup (normal);
    assert (copy);
    return copy;
}

static size_t
s_utf8_length (const char *text)
{
    size_t count = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p & 0xC0) != 0x80)
            count++;
    return count;
}

static bool
s_hex_run (const char *text, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isxdigit ((unsigned char) text [i]))
            return false;
    return true;
}

//  TrustedForm certificate URLs: https://cert.trustedform.com/<40 hex>
static bool
s_trustedform_ok (const char *url)
{
    const char *prefix = "https://cert.trustedform.com/";
    size_t n = strlen (prefix);
    return strncmp (url, prefix, n) == 0 && strlen (url + n) == 40 && s_hex_run (url + n, 40);
}

//  Jornaya LeadiD tokens: a UUID (8-4-4-4-12 hex digits)
static bool
s_jornaya_ok (const char *token)
{
    if (strlen (token) != 36)
        return false;
    return s_hex_run (token, 8) && token [8] == '-' && s_hex_run (token + 9, 4)
           && token [13] == '-' && s_hex_run (token + 14, 4) && token [18] == '-'
           && s_hex_run (token + 19, 4) && token [23] == '-' && s_hex_run (token + 24, 12);
}

static void
s_problem (void *arg, const char *code, const char *field, const char *message)
{
    pp_result_add_reason ((pp_result_t *) arg, code, field, message);
}

static bool
s_in_list (const char *value, char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (streq (value, list [i]))
            return true;
    return false;
}

int
validate_check (const pp_vertical_t *vertical, pp_lead_t *lead, pp_result_t *result)
{
    assert (vertical && lead && result);
    pp_fields_t *fields = pp_lead_fields (lead);
    int problems = pp_json_check_structure (vertical, fields, s_problem, result);
    for (size_t i = 0; i < vertical->field_count; i++) {
        const pp_field_spec_t *spec = &vertical->fields [i];
        const pp_value_t *value = pp_fields_get (fields, spec->name);
        if (!value || value->type == PP_VALUE_NIL)
            continue;
        const char *text = value->type == PP_VALUE_STR ? value->s : NULL;
        switch (spec->type) {
            case PP_FT_INTEGER:
            case PP_FT_NUMBER: {
                if (value->type != PP_VALUE_INT && value->type != PP_VALUE_NUM)
                    break;      //  reported as field_type
                double number = value->type == PP_VALUE_INT ? (double) value->i : value->n;
                if ((spec->has_min && number < spec->min) || (spec->has_max && number > spec->max)) {
                    problems++;
                    pp_result_add_reason (result, "field_out_of_range", spec->name,
                                          "is outside the allowed range");
                }
                break;
            }
            case PP_FT_ENUM:
                if (text && !s_in_list (text, spec->values, spec->value_count)) {
                    problems++;
                    pp_result_add_reason (result, "field_not_allowed", spec->name,
                                          "is not one of the allowed values");
                }
                break;
            case PP_FT_EMAIL:
                if (text) {
                    char *normal = validate_email (text);
                    if (!normal) {
                        problems++;
                        pp_result_add_reason (result, "email_invalid", spec->name,
                                              "is not a valid email address");
                    }
                    else
                        pp_fields_set_str (fields, spec->name, normal);
                    free (normal);
                }
                break;
            case PP_FT_PHONE:
                if (text) {
                    //  libphonenumber's numbering plan, then our rules
                    char e164 [16];
                    pp_line_type_t line;
                    pp_phone_verdict_t verdict = pp_phone_check (text, e164, sizeof e164, &line);
                    if (verdict != PP_PHONE_OK) {
                        static const char *messages [] = {
                            "", "is not a phone number", "is not a valid US phone number",
                            "is not a US number", "is one digit repeated or a run of digits",
                            "is a fictitious number (555-01xx, 555-1212)",
                            "has an N11 service exchange"};
                        problems++;
                        pp_result_add_reason (result, "phone_invalid", spec->name,
                                              verdict < sizeof messages / sizeof messages [0]
                                                  ? messages [verdict]
                                                  : "is not a valid US phone number");
                    }
                    else {
                        pp_fields_set_str (fields, spec->name, e164);
                        //  The line type travels with the lead for buyers' filters
                        //  (declare "<field>_line_type" in the vertical to filter on it)
                        char name [96];
                        snprintf (name, sizeof name, "%s_line_type", spec->name);
                        pp_fields_set_str (fields, name, pp_line_type_name (line));
                    }
                }
                break;
            case PP_FT_ZIP:
                if (text) {
                    size_t size = strlen (text);
                    bool ok = (size == 5 && strspn (text, "0123456789") == 5)
                              || (size == 10 && strspn (text, "0123456789") == 5
                                  && text [5] == '-' && strspn (text + 6, "0123456789") == 4);
                    if (!ok) {
                        problems++;
                        pp_result_add_reason (result, "zip_invalid", spec->name,
                                              "is not a US ZIP code");
                    }
                    else
                    if (size == 10) {
                        char zip5 [6];
                        memcpy (zip5, text, 5);
                        zip5 [5] = 0;
                        pp_fields_set_str (fields, spec->name, zip5);
                    }
                }
                break;
            case PP_FT_STATE:
                if (text) {
                    char upper [3] = {0, 0, 0};
                    bool ok = strlen (text) == 2;
                    if (ok) {
                        upper [0] = (char) toupper ((unsigned char) text [0]);
                        upper [1] = (char) toupper ((unsigned char) text [1]);
                        ok = pp_state_index (upper) >= 0;
                    }
                    if (!ok) {
                        problems++;
                        pp_result_add_reason (result, "state_invalid", spec->name,
                                              "is not a US state code");
                    }
                    else
                        pp_fields_set_str (fields, spec->name, upper);
                }
                break;
            case PP_FT_DATE:
                if (text) {
                    int64_t us;
                    char with_time [64];
                    bool ok = pp_time_parse_iso (text, &us) == 0;
                    if (!ok && strlen (text) == 10) {
                        snprintf (with_time, sizeof with_time, "%sT00:00:00Z", text);
                        ok = pp_time_parse_iso (with_time, &us) == 0;
                    }
                    if (!ok) {
                        problems++;
                        pp_result_add_reason (result, "date_invalid", spec->name,
                                              "is not an ISO 8601 date");
                    }
                }
                break;
            default:
                break;
        }
        //  Normalising replaced the value (and freed the old text): measure the new one
        text = text ? pp_fields_str (fields, spec->name) : NULL;
        if (text && spec->max_length > 0 && s_utf8_length (text) > (size_t) spec->max_length) {
            problems++;
            pp_result_add_reason (result, "field_too_long", spec->name,
                                  "is longer than allowed");
        }
    }
    //  Consent
    pp_fields_t *consent = pp_lead_consent (lead);
    if (vertical->consent_required) {
        const pp_value_t *tcpa = pp_fields_get (consent, "tcpa");
        const char *consent_text = pp_fields_str (consent, "text");
        if (!tcpa || tcpa->type != PP_VALUE_BOOL || !tcpa->b || !consent_text || !*consent_text) {
            problems++;
            pp_result_add_reason (result, "consent_missing", "consent",
                                  "tcpa must be true and the consent text given");
        }
    }
    const char *certificate = pp_fields_str (consent, "trustedform_cert_url");
    if (certificate && *certificate && !s_trustedform_ok (certificate)) {
        problems++;
        pp_result_add_reason (result, "consent_trustedform_invalid", "consent.trustedform_cert_url",
                              "is not a TrustedForm certificate URL");
    }
    const char *leadid = pp_fields_str (consent, "jornaya_leadid");
    if (leadid && *leadid && !s_jornaya_ok (leadid)) {
        problems++;
        pp_result_add_reason (result, "consent_jornaya_invalid", "consent.jornaya_leadid",
                              "is not a Jornaya LeadiD token");
    }
    return problems;
}

int
validate_check_zip (const pp_vertical_t *vertical, const pp_zip_t *zip, pp_lead_t *lead,
                    pp_result_t *result)
{
    assert (vertical && lead && result);
    if (!zip)
        return 0;
    pp_fields_t *fields = pp_lead_fields (lead);
    const pp_zip_entry_t *entry = NULL;
    int problems = 0;
    for (size_t i = 0; i < vertical->field_count; i++) {
        const pp_field_spec_t *spec = &vertical->fields [i];
        if (spec->type != PP_FT_ZIP)
            continue;
        const char *text = pp_fields_str (fields, spec->name);
        if (!text || strlen (text) != 5)
            continue;           //  absent, or already reported by its form
        const pp_zip_entry_t *found = pp_zip_find (zip, text);
        if (!found) {
            problems++;
            pp_result_add_reason (result, "zip_unknown", spec->name, "is not a US ZIP code in use");
        }
        else
        if (!entry)
            entry = found;
    }
    if (!entry)
        return problems;
    for (size_t i = 0; i < vertical->field_count; i++) {
        const pp_field_spec_t *spec = &vertical->fields [i];
        if (spec->type != PP_FT_STATE)
            continue;
        const pp_value_t *value = pp_fields_get (fields, spec->name);
        if (!value || value->type == PP_VALUE_NIL)
            pp_fields_set_str (fields, spec->name, entry->state);
        else
        if (value->type == PP_VALUE_STR && strlen (value->s) == 2
            && !streq (value->s, entry->state)) {
            problems++;
            pp_result_add_reason (result, "state_zip_mismatch", spec->name,
                                  "does not match the state of the ZIP code");
        }
    }
    return problems;
}

bool
validate_fingerprint (const pp_vertical_t *vertical, pp_lead_t *lead, char *buf)
{
    if (vertical->dedupe_count == 0)
        return false;
    pp_fields_t *fields = pp_lead_fields (lead);
    size_t cap = 256, len = 0;
    char *text = (char *) malloc (cap);
    assert (text);
    len = (size_t) snprintf (text, cap, "%s", vertical->name);
    bool any = false;
    for (size_t i = 0; i < vertical->dedupe_count; i++) {
        const pp_value_t *value = pp_fields_get (fields, vertical->dedupe_fields [i]);
        char scalar [32] = "";
        const char *part = "";
        if (value && value->type == PP_VALUE_STR)
            part = value->s;
        else
        if (value && value->type == PP_VALUE_INT) {
            snprintf (scalar, sizeof scalar, "%lld", (long long) value->i);
            part = scalar;
        }
        if (*part)
            any = true;
        size_t need = len + strlen (part) + 2;
        if (need > cap) {
            cap = need * 2;
            text = (char *) realloc (text, cap);
            assert (text);
        }
        text [len++] = '\x1f';
        memcpy (text + len, part, strlen (part) + 1);
        len += strlen (part);
    }
    if (any)
        pp_sha256_hex (text, len, buf);
    free (text);
    return any;
}

//  A lead waiting for its duplicate check.
typedef struct {
    validate_server_t *server;  //  Not owned
    pp_lead_t *lead;            //  the lead
} s_waiting_t;

static void
s_validated (validate_server_t *self, pp_lead_t **lead_p)
{
    pp_event_t *event = pp_stage_event (self->stage, *lead_p, "validated");
    pp_stage_emit (self->stage, &event);
    pp_stage_forward (self->stage, lead_p);
}

//  The verdict of the duplicate check: insert-if-absent on the fingerprint
//  (pp_dedupe) makes it exact across every validate instance.
static void
s_on_dedupe (int verdict, void *arg)
{
    s_waiting_t *waiting = (s_waiting_t *) arg;
    validate_server_t *self = waiting->server;
    pp_lead_t *lead = waiting->lead;
    free (waiting);
    if (verdict == 1) {
        self->duplicates++;
        pp_event_t *event = pp_stage_event (self->stage, lead, "duplicate");
        pp_event_set_code (event, "duplicate");
        pp_stage_emit (self->stage, &event);
        pp_stage_finish_status (self->stage, &lead, PP_STATUS_DUPLICATE, "duplicate", NULL,
                                "the same lead was received within the dedupe window");
    }
    else
    if (verdict < 0)
        pp_stage_finish_status (self->stage, &lead, PP_STATUS_ERROR, "internal", NULL,
                                "the duplicate check is unavailable");
    else
        s_validated (self, &lead);
}

static void
s_handle (pp_stage_t *stage, pp_lead_t **lead_p, void *arg)
{
    validate_server_t *self = (validate_server_t *) arg;
    pp_lead_t *lead = *lead_p;
    pp_market_t *market = pp_stage_market (stage);
    const pp_vertical_t *vertical = pp_market_vertical (market, pp_lead_vertical (lead));
    pp_result_t *result = pp_result_new (pp_lead_id (lead), PP_STATUS_REJECTED);
    if (!vertical)
        pp_result_add_reason (result, "vertical_unknown", "vertical", "is not a known vertical");
    else
    if (validate_check (vertical, lead, result) == 0
        && validate_check_zip (vertical, self->zip, lead, result) == 0) {
        //  Only a well-formed lead is worth these: its fields are normalised
        const char *field = NULL;
        const char *code = self->blacklist
                               ? pp_blacklist_check (self->blacklist, vertical, pp_lead_fields (lead),
                                                     pp_lead_consent (lead), pp_lead_signals (lead),
                                                     &field)
                               : NULL;
        if (code)
            pp_result_add_reason (result, code, field, "is on the blacklist");
        //  Disposable domains and role accounts (syntax passed already)
        for (size_t i = 0; self->email && i < vertical->field_count; i++) {
            const pp_field_spec_t *spec = &vertical->fields [i];
            const char *address = spec->type == PP_FT_EMAIL
                                      ? pp_fields_str (pp_lead_fields (lead), spec->name)
                                      : NULL;
            const char *verdict = address ? pp_email_check (self->email, address, NULL, 0) : NULL;
            if (!verdict && address && self->config->mx_check) {
                //  Opt-in: a domain that cannot receive mail; our own DNS
                //  failure or a timeout lets the lead pass
                const char *at = strrchr (address, '@');
                if (at && pp_email_mx_check (at + 1, self->config->mx_timeout_ms,
                                             self->config->mx_nameserver)
                              == 0)
                    verdict = "email_no_mx";
            }
            if (verdict)
                pp_result_add_reason (result, verdict, spec->name,
                                      streq (verdict, PP_EMAIL_ROLE)
                                          ? "is a role account, not a person"
                                      : streq (verdict, "email_no_mx")
                                          ? "its domain cannot receive mail"
                                          : "is at a disposable email domain");
        }
        const pp_bot_config_t *config
            = (const pp_bot_config_t *) zhashx_lookup (self->bot_configs, vertical->name);
        pp_bot_config_t defaults;
        if (!config) {
            pp_bot_config_defaults (&defaults);
            config = &defaults;
        }
        pp_bot_hit_t hits [PP_BOT_MAX_HITS];
        size_t hit_count = 0;
        int score = pp_bot_score (config, pp_lead_signals (lead), pp_lead_consent (lead),
                                  pp_lead_received_us (lead), hits, PP_BOT_MAX_HITS, &hit_count);
        if (pp_bot_rejects (config, score))
            for (size_t i = 0; i < hit_count; i++)
                pp_result_add_reason (result, hits [i].code, hits [i].field, hits [i].message);
    }
    if (pp_result_reason_size (result) > 0) {
        self->rejected++;
        pp_event_t *event = pp_stage_event (stage, lead, "rejected");
        pp_event_set_code (event, pp_result_reason_code (result, 0));
        cJSON *reasons = cJSON_CreateArray ();
        for (size_t i = 0; i < pp_result_reason_size (result); i++) {
            cJSON *reason = cJSON_CreateObject ();
            cJSON_AddStringToObject (reason, "code", pp_result_reason_code (result, i));
            cJSON_AddStringToObject (reason, "field", pp_result_reason_field (result, i));
            cJSON_AddItemToArray (reasons, reason);
        }
        cJSON *detail = cJSON_CreateObject ();
        cJSON_AddItemToObject (detail, "reasons", reasons);
        char *text = pp_json_print (detail);
        cJSON_Delete (detail);
        pp_event_set_detail (event, text);
        free (text);
        pp_stage_emit (stage, &event);
        pp_stage_finish (stage, lead_p, &result);
        return;
    }
    pp_result_destroy (&result);
    char fingerprint [65];
    if (!pp_lead_test (lead) && validate_fingerprint (vertical, lead, fingerprint)) {
        s_waiting_t *waiting = (s_waiting_t *) zmalloc (sizeof (s_waiting_t));
        waiting->server = self;
        waiting->lead = lead;
        *lead_p = NULL;
        if (pp_dedupe_check (self->dedupe, vertical->name, fingerprint, pp_lead_id (lead),
                             vertical->dedupe_days, s_on_dedupe, waiting)) {
            free (waiting);
            pp_stage_finish_status (stage, &lead, PP_STATUS_ERROR, "internal", NULL,
                                    "the duplicate check is unavailable");
        }
        return;
    }
    s_validated (self, lead_p);
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  A new market (or blacklist change: the CLI NOTIFYs the same channel):
//  reload the blacklist and the verticals' bot settings.
static void
s_on_market (pp_stage_t *stage, pp_market_t *market, void *arg)
{
    validate_server_t *self = (validate_server_t *) arg;
    pp_blacklist_t *blacklist = pp_blacklist_load (pp_stage_db (stage));
    if (blacklist) {
        pp_blacklist_destroy (&self->blacklist);
        self->blacklist = blacklist;
    }
    else
        zsys_warning ("validate: blacklist reload failed, keeping the current one");
    zhashx_purge (self->bot_configs);
    for (size_t i = 0; i < pp_market_vertical_count (market); i++) {
        const pp_vertical_t *vertical = pp_market_vertical_at (market, i);
        pp_bot_config_t *config = (pp_bot_config_t *) zmalloc (sizeof (pp_bot_config_t));
        pp_bot_config_from_vertical (vertical, config);
        zhashx_update (self->bot_configs, vertical->name, config);
    }
}

validate_server_t *
validate_server_new (const pp_config_t *config, int slot)
{
    validate_server_t *self = (validate_server_t *) zmalloc (sizeof (validate_server_t));
    self->config = config;
    pp_phone_init ();           //  the numbering plan's tables, before the first lead
    self->email = pp_email_new (pp_email_default_path ());
    if (!self->email)
        zsys_warning ("validate: no disposable email list: disposable and role checks are off");
    else
    if (config->email_roles) {
        //  validate/email_roles: "info,sales,..." or "none"
        char *list = strdup (config->email_roles);
        assert (list);
        const char *roles [256];
        size_t count = 0;
        char *save = NULL;
        for (char *role = strtok_r (list, ", ", &save); role && count < 256;
             role = strtok_r (NULL, ", ", &save))
            if (!streq (role, "none"))
                roles [count++] = role;
        int rc = pp_email_set_roles (self->email, roles, count);
        free (list);
        if (rc) {
            zsys_error ("validate: validate/email_roles '%s' holds a bad role", config->email_roles);
            validate_server_destroy (&self);
            return NULL;
        }
    }
    self->zip = pp_zip_load (pp_zip_default_path ());
    if (!self->zip)
        zsys_warning ("validate: no ZIP table: ZIPs are checked by their form only");
    self->stage = pp_stage_new (config, PP_STAGE_VALIDATE, slot);
    if (!self->stage) {
        validate_server_destroy (&self);
        return NULL;
    }
    //  Duplicate fingerprints commit asynchronously: a committed row is seen
    //  by every validate instance at once (exactness holds); only a crash
    //  of PostgreSQL itself can lose the last few hundred ms of them.
    self->dedupe = pp_dedupe_new (config->database_url, pp_stage_loop (self->stage));
    if (!self->dedupe) {
        zsys_error ("validate: cannot open the duplicate check session");
        validate_server_destroy (&self);
        return NULL;
    }
    self->bot_configs = zhashx_new ();
    zhashx_set_destructor (self->bot_configs, s_free_item);
    s_on_market (self->stage, pp_stage_market (self->stage), self);
    pp_stage_set_reload (self->stage, s_on_market, self);
    pp_stage_set_handler (self->stage, s_handle, self);
    return self;
}

void
validate_server_destroy (validate_server_t **self_p)
{
    assert (self_p);
    validate_server_t *self = *self_p;
    if (!self)
        return;
    pp_dedupe_destroy (&self->dedupe);
    pp_blacklist_destroy (&self->blacklist);
    pp_email_destroy (&self->email);
    zhashx_destroy (&self->bot_configs);
    pp_stage_destroy (&self->stage);
    pp_zip_destroy (&self->zip);
    free (self);
    *self_p = NULL;
}

int
validate_server_run (validate_server_t *self)
{
    assert (self);
    return pp_stage_run (self->stage);
}
