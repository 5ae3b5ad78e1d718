/*  pp_fields - an ordered bag of named, typed values (a lead's fields, consent, signals)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_FIELDS_H_INCLUDED
#define PP_FIELDS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PP_MUSTCHECK
#define PP_MUSTCHECK __attribute__ ((warn_unused_result))
#endif

//  The type of one value. JSON holds the JSON text of a nested array or
//  object that the lead carried (unknown fields may be nested); it travels
//  as msgpack bin and is passed on to posts verbatim.
typedef enum {
    PP_VALUE_NIL = 0,
    PP_VALUE_BOOL,
    PP_VALUE_INT,
    PP_VALUE_NUM,
    PP_VALUE_STR,
    PP_VALUE_JSON
} pp_value_type_t;

//  One value. `s` is owned by the bag that holds the value.
typedef struct {
    pp_value_type_t type;   //  which member below is meaningful
    bool b;                 //  PP_VALUE_BOOL
    int64_t i;              //  PP_VALUE_INT
    double n;               //  PP_VALUE_NUM
    char *s;                //  PP_VALUE_STR (UTF-8) or PP_VALUE_JSON (JSON text)
} pp_value_t;

typedef struct pp_fields pp_fields_t;

//  Create an empty bag.
pp_fields_t *
    pp_fields_new (void);
//  Destroy the bag and every name and value it holds; nulls *self_p. Safe on NULL.
void
    pp_fields_destroy (pp_fields_t **self_p);
//  Deep copy.
pp_fields_t *
    pp_fields_dup (const pp_fields_t *self);
//  Number of entries.
size_t
    pp_fields_size (const pp_fields_t *self);
//  Name of entry i (0 <= i < size); borrowed.
const char *
    pp_fields_name (const pp_fields_t *self, size_t i);
//  Value of entry i; borrowed.
const pp_value_t *
    pp_fields_value (const pp_fields_t *self, size_t i);
//  Value by name, or NULL; borrowed.
const pp_value_t *
    pp_fields_get (const pp_fields_t *self, const char *name);
//  String value by name, or NULL when absent or not a string; borrowed.
const char *
    pp_fields_str (const pp_fields_t *self, const char *name);
//  Setters: replace the entry of that name (keeping its position) or append.
void
    pp_fields_set_nil (pp_fields_t *self, const char *name);
void
    pp_fields_set_bool (pp_fields_t *self, const char *name, bool value);
void
    pp_fields_set_int (pp_fields_t *self, const char *name, int64_t value);
void
    pp_fields_set_num (pp_fields_t *self, const char *name, double value);
void
    pp_fields_set_str (pp_fields_t *self, const char *name, const char *value);
//  Set a string value of `len` bytes (need not be NUL terminated).
void
    pp_fields_set_strn (pp_fields_t *self, const char *name, const char *value, size_t len);
void
    pp_fields_set_json (pp_fields_t *self, const char *name, const char *json_text);
//  Remove the entry of that name; returns 0 if removed, -1 if absent.
int
    pp_fields_remove (pp_fields_t *self, const char *name);
//  True when both bags hold the same names with equal values in the same order.
bool
    pp_fields_eq (const pp_fields_t *a, const pp_fields_t *b);

#endif
