/*  pp_json - the bridge between JSON (cJSON) and lead field bags, and the vertical schema checks  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_json.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pp_json_to_fields (const cJSON *object, pp_fields_t *fields)
{
    assert (fields);
    if (!cJSON_IsObject (object))
        return;
    for (const cJSON *item = object->child; item; item = item->next) {
        const char *name = item->string;
        if (!name)
            continue;
        if (cJSON_IsString (item))
            pp_fields_set_str (fields, name, item->valuestring);
        else
        if (cJSON_IsBool (item))
            pp_fields_set_bool (fields, name, cJSON_IsTrue (item));
        else
        if (cJSON_IsNull (item))
            pp_fields_set_nil (fields, name);
        else
        if (cJSON_IsNumber (item)) {
            double value = item->valuedouble;
            if (isfinite (value) && value == floor (value) && fabs (value) < 9.007e15)
                pp_fields_set_int (fields, name, (int64_t) value);
            else
                pp_fields_set_num (fields, name, value);
        }
        else {
            char *text = cJSON_PrintUnformatted (item);
            if (text) {
                pp_fields_set_json (fields, name, text);
                free (text);
            }
        }
    }
}

cJSON *
pp_json_from_value (const pp_value_t *value)
{
    if (!value)
        return cJSON_CreateNull ();
    switch (value->type) {
        case PP_VALUE_BOOL:
            return cJSON_CreateBool (value->b);
        case PP_VALUE_INT: {
            //  cJSON keeps doubles; print whole numbers exactly
            char text [32];
            snprintf (text, sizeof text, "%lld", (long long) value->i);
            return cJSON_CreateRaw (text);
        }
        case PP_VALUE_NUM:
            return cJSON_CreateNumber (value->n);
        case PP_VALUE_STR:
            return cJSON_CreateString (value->s ? value->s : "");
        case PP_VALUE_JSON: {
            cJSON *parsed = value->s ? cJSON_Parse (value->s) : NULL;
            return parsed ? parsed : cJSON_CreateNull ();
        }
        default:
            return cJSON_CreateNull ();
    }
}

cJSON *
pp_json_from_fields (const pp_fields_t *fields, const pp_vertical_t *vertical, bool pii)
{
    cJSON *object = cJSON_CreateObject ();
    assert (object);
    if (!fields)
        return object;
    for (size_t i = 0; i < pp_fields_size (fields); i++) {
        const char *name = pp_fields_name (fields, i);
        if (vertical && !pii) {
            const pp_field_spec_t *spec = pp_vertical_field (vertical, name);
            if (!spec || spec->pii)
                continue;
        }
        cJSON_AddItemToObject (object, name, pp_json_from_value (pp_fields_value (fields, i)));
    }
    return object;
}

char *
pp_json_print (const cJSON *json)
{
    char *text = cJSON_PrintUnformatted (json);
    assert (text);
    return text;
}

static bool
s_type_ok (pp_field_type_t type, const pp_value_t *value)
{
    switch (type) {
        case PP_FT_INTEGER:
            return value->type == PP_VALUE_INT;
        case PP_FT_NUMBER:
            return value->type == PP_VALUE_INT || value->type == PP_VALUE_NUM;
        case PP_FT_BOOLEAN:
            return value->type == PP_VALUE_BOOL;
        default:
            return value->type == PP_VALUE_STR;
    }
}

int
pp_json_check_structure (const pp_vertical_t *vertical, const pp_fields_t *fields,
                         pp_json_problem_fn *problem, void *arg)
{
    assert (vertical && fields);
    int count = 0;
    for (size_t i = 0; i < vertical->field_count; i++) {
        const pp_field_spec_t *spec = &vertical->fields [i];
        const pp_value_t *value = pp_fields_get (fields, spec->name);
        if (!value || value->type == PP_VALUE_NIL) {
            if (spec->required) {
                count++;
                if (problem)
                    problem (arg, "field_missing", spec->name, "is required");
            }
            continue;
        }
        if (!s_type_ok (spec->type, value)) {
            count++;
            if (problem) {
                char message [96];
                const char *type_name = pp_field_type_name (spec->type);
                snprintf (message, sizeof message, "must be %s %s",
                          spec->type == PP_FT_INTEGER ? "an" : "a",
                          spec->type == PP_FT_INTEGER || spec->type == PP_FT_NUMBER
                                  || spec->type == PP_FT_BOOLEAN
                              ? type_name
                              : "string");
                problem (arg, "field_type", spec->name, message);
            }
        }
    }
    return count;
}

const cJSON *
pp_json_pointer (const cJSON *root, const char *pointer)
{
    if (!root || !pointer)
        return NULL;
    if (*pointer == 0)
        return root;
    if (*pointer != '/')
        return NULL;
    const cJSON *node = root;
    const char *p = pointer;
    char token [256];
    while (*p == '/' && node) {
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~') {
                if (*p == '0')
                    c = '~';
                else
                if (*p == '1')
                    c = '/';
                else
                    return NULL;
                p++;
            }
            if (n + 1 >= sizeof token)
                return NULL;
            token [n++] = c;
        }
        token [n] = 0;
        if (cJSON_IsObject (node))
            node = cJSON_GetObjectItemCaseSensitive (node, token);
        else
        if (cJSON_IsArray (node)) {
            char *end;
            long index = strtol (token, &end, 10);
            //  Digits only, no leading zero, and few enough to fit an int
            if (n == 0 || n > 9 || strspn (token, "0123456789") != n || *end
                || (n > 1 && token [0] == '0'))
                return NULL;
            node = cJSON_GetArrayItem (node, (int) index);
        }
        else
            return NULL;
    }
    return node;
}

const char *
pp_json_scalar_text (const cJSON *value, char *buf, size_t size)
{
    if (cJSON_IsString (value) || cJSON_IsRaw (value))
        return value->valuestring;
    if (cJSON_IsBool (value))
        return cJSON_IsTrue (value) ? "true" : "false";
    if (cJSON_IsNumber (value)) {
        double number = value->valuedouble;
        if (number == floor (number) && fabs (number) < 9.007e15)
            snprintf (buf, size, "%lld", (long long) number);
        else
        if (snprintf (buf, size, "%.15g", number) > 0 && strtod (buf, NULL) != number)
            snprintf (buf, size, "%.17g", number);      //  shortest text that reads back
        return buf;
    }
    return NULL;
}
