/*  pp_json - the bridge between JSON (cJSON) and lead field bags, and the vertical schema checks  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_JSON_H_INCLUDED
#define PP_JSON_H_INCLUDED

#include <cjson/cJSON.h>
#include "pp_market.h"
#include "../proto/pp_fields.h"

//  Copy the members of a JSON object into a bag: strings, booleans, null,
//  integers (as int when whole and within int64), other numbers, and nested
//  arrays/objects as their JSON text.
void
    pp_json_to_fields (const cJSON *object, pp_fields_t *fields);
//  A new JSON value for a field value.
cJSON *
    pp_json_from_value (const pp_value_t *value);
//  A new JSON object of a bag. With a vertical and `pii` false, only the
//  fields the vertical declares and does not mark pii are included (what a
//  ping may carry); otherwise every field is.
cJSON *
    pp_json_from_fields (const pp_fields_t *fields, const pp_vertical_t *vertical, bool pii);
//  Print a JSON value unformatted into a new string (free with free ()).
char *
    pp_json_print (const cJSON *json);

//  Resolve an RFC 6901 JSON pointer ("/data/price", "" = the root) in a
//  document; the value (borrowed) or NULL when absent.
const cJSON *
    pp_json_pointer (const cJSON *root, const char *pointer);
//  The text of a scalar JSON value (string as is, number, true/false) into
//  buf; NULL for null, arrays and objects.
const char *
    pp_json_scalar_text (const cJSON *value, char *buf, size_t size);

//  One problem found by a schema check.
typedef void (pp_json_problem_fn) (void *arg, const char *code, const char *field,
                                   const char *message);

//  Structural check of a lead's fields against its vertical: required fields
//  present and not null, and each declared field of the right JSON type.
//  Calls `problem` for each issue (codes "field_missing", "field_type");
//  returns the number found.
int
    pp_json_check_structure (const pp_vertical_t *vertical, const pp_fields_t *fields,
                             pp_json_problem_fn *problem, void *arg);

#endif
