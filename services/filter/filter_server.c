/*  filter_server - which campaigns may see a lead: vertical, geography, field rules  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "filter_server.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_stage.h"

#include <math.h>

struct filter_server {
    pp_stage_t *stage;          //  the shared runtime
};

static bool
s_listed (const char *value, char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (streq (value, list [i]))
            return true;
    return false;
}

//  A scalar field value as text for in / not_in comparisons.
static const char *
s_value_text (const pp_value_t *value, char *buf, size_t size)
{
    switch (value->type) {
        case PP_VALUE_STR: return value->s;
        case PP_VALUE_INT: snprintf (buf, size, "%lld", (long long) value->i); return buf;
        case PP_VALUE_NUM: {
            //  As the market prints its lists (cJSON): the shortest text that reads back
            cJSON number = {.type = cJSON_Number, .valuedouble = value->n};
            return pp_json_scalar_text (&number, buf, size);
        }
        case PP_VALUE_BOOL: return value->b ? "true" : "false";
        default: return NULL;
    }
}

static bool
s_rule_ok (const pp_field_rule_t *rule, const pp_value_t *value)
{
    bool present = value && value->type != PP_VALUE_NIL;
    if (rule->exists == 1 && !present)
        return false;
    if (rule->exists == 0 && present)
        return false;
    if (!present)
        //  Any other rule needs a value to hold
        return !(rule->has_min || rule->has_max || rule->in_count || rule->equals);
    if (rule->has_min || rule->has_max) {
        double number;
        if (value->type == PP_VALUE_INT)
            number = (double) value->i;
        else
        if (value->type == PP_VALUE_NUM)
            number = value->n;
        else
            return false;
        if ((rule->has_min && number < rule->min) || (rule->has_max && number > rule->max))
            return false;
    }
    char buf [40];
    const char *text = s_value_text (value, buf, sizeof buf);
    if (rule->in_count && (!text || !s_listed (text, rule->in, rule->in_count)))
        return false;
    if (rule->not_in_count && text && s_listed (text, rule->not_in, rule->not_in_count))
        return false;
    if (rule->equals) {
        cJSON *expected = cJSON_Parse (rule->equals);
        cJSON *actual = value->type == PP_VALUE_INT ? cJSON_CreateNumber ((double) value->i)
                                                    : pp_json_from_value (value);
        bool same = expected && actual && cJSON_Compare (expected, actual, true);
        cJSON_Delete (expected);
        cJSON_Delete (actual);
        if (!same)
            return false;
    }
    return true;
}

const char *
filter_exclusion (const pp_campaign_t *campaign, pp_lead_t *lead, char *buf, size_t size)
{
    if (!campaign->vertical || !streq (campaign->vertical->name, pp_lead_vertical (lead)))
        return "vertical";
    pp_fields_t *fields = pp_lead_fields (lead);
    if (campaign->state_count) {
        const char *state = pp_fields_str (fields, "state");
        if (!state || !s_listed (state, campaign->states, campaign->state_count))
            return "state";
    }
    if (campaign->zip_count) {
        const char *zip = pp_fields_str (fields, "zip");
        if (!zip || !s_listed (zip, campaign->zips, campaign->zip_count))
            return "zip";
    }
    for (size_t i = 0; i < campaign->rule_count; i++) {
        const pp_field_rule_t *rule = &campaign->rules [i];
        if (!s_rule_ok (rule, pp_fields_get (fields, rule->field))) {
            snprintf (buf, size, "field:%s", rule->field);
            return buf;
        }
    }
    return NULL;
}

static void
s_handle (pp_stage_t *stage, pp_lead_t **lead_p, void *arg)
{
    pp_lead_t *lead = *lead_p;
    pp_market_t *market = pp_stage_market (stage);
    pp_lead_clear_eligible (lead);
    cJSON *eligible = cJSON_CreateArray ();
    cJSON *excluded = cJSON_CreateObject ();
    for (size_t i = 0; i < pp_market_campaign_count (market); i++) {
        const pp_campaign_t *campaign = pp_market_campaign_at (market, i);
        char buf [96];
        const char *why = filter_exclusion (campaign, lead, buf, sizeof buf);
        if (!why) {
            pp_lead_add_eligible (lead, campaign->id);
            cJSON_AddItemToArray (eligible, cJSON_CreateNumber (campaign->id));
        }
        else
        if (!streq (why, "vertical"))
            cJSON_AddStringToObject (excluded, campaign->name, why);
    }
    cJSON *detail = cJSON_CreateObject ();
    cJSON_AddItemToObject (detail, "campaigns", eligible);
    cJSON_AddItemToObject (detail, "excluded", excluded);
    char *text = pp_json_print (detail);
    cJSON_Delete (detail);
    size_t count = pp_lead_eligible_size (lead);
    pp_event_t *event = pp_stage_event (stage, lead, count ? "eligible" : "unsold");
    pp_event_set_detail (event, text);
    if (!count)
        pp_event_set_code (event, "no_eligible_campaign");
    free (text);
    pp_stage_emit (stage, &event);
    if (!count) {
        pp_stage_finish_status (stage, lead_p, PP_STATUS_UNSOLD, "no_eligible_campaign", NULL,
                                "no buyer campaign takes this lead");
        return;
    }
    pp_stage_forward (stage, lead_p);
}

filter_server_t *
filter_server_new (const pp_config_t *config, int slot)
{
    filter_server_t *self = (filter_server_t *) zmalloc (sizeof (filter_server_t));
    self->stage = pp_stage_new (config, PP_STAGE_FILTER, slot);
    if (!self->stage) {
        free (self);
        return NULL;
    }
    pp_stage_set_handler (self->stage, s_handle, self);
    return self;
}

void
filter_server_destroy (filter_server_t **self_p)
{
    assert (self_p);
    filter_server_t *self = *self_p;
    if (!self)
        return;
    pp_stage_destroy (&self->stage);
    free (self);
    *self_p = NULL;
}

int
filter_server_run (filter_server_t *self)
{
    assert (self);
    return pp_stage_run (self->stage);
}
