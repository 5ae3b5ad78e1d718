/*  test_pp_fields - the field bag: set, replace, remove, get, dup, eq  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>
#include <czmq.h>
#include "pp_fields.h"

static void
test_pp_fields_new_destroy (void **state)
{
    pp_fields_t *fields = pp_fields_new ();
    assert_non_null (fields);
    assert_int_equal (pp_fields_size (fields), 0);
    assert_null (pp_fields_get (fields, "a"));
    assert_null (pp_fields_str (fields, "a"));
    pp_fields_destroy (&fields);
    assert_null (fields);
    pp_fields_destroy (&fields); //  idempotent
    assert_null (fields);
}

static void
test_pp_fields_set_get_every_type (void **state)
{
    pp_fields_t *fields = pp_fields_new ();
    pp_fields_set_nil (fields, "nil");
    pp_fields_set_bool (fields, "yes", true);
    pp_fields_set_bool (fields, "no", false);
    pp_fields_set_int (fields, "min", INT64_MIN);
    pp_fields_set_int (fields, "max", INT64_MAX);
    pp_fields_set_num (fields, "pi", 3.25);
    pp_fields_set_str (fields, "name", "Zoë 東京");
    pp_fields_set_json (fields, "nested", "{\"a\":[1,2]}");
    assert_int_equal (pp_fields_size (fields), 8);

    const char *names[] = {"nil", "yes", "no", "min", "max", "pi", "name", "nested"};
    for (size_t i = 0; i < 8; i++)
        assert_string_equal (pp_fields_name (fields, i), names[i]);

    assert_int_equal (pp_fields_get (fields, "nil")->type, PP_VALUE_NIL);
    assert_int_equal (pp_fields_get (fields, "yes")->type, PP_VALUE_BOOL);
    assert_true (pp_fields_get (fields, "yes")->b);
    assert_false (pp_fields_get (fields, "no")->b);
    assert_int_equal (pp_fields_get (fields, "min")->type, PP_VALUE_INT);
    assert_true (pp_fields_get (fields, "min")->i == INT64_MIN);
    assert_true (pp_fields_get (fields, "max")->i == INT64_MAX);
    assert_int_equal (pp_fields_get (fields, "pi")->type, PP_VALUE_NUM);
    assert_true (pp_fields_get (fields, "pi")->n == 3.25);
    assert_int_equal (pp_fields_get (fields, "name")->type, PP_VALUE_STR);
    assert_string_equal (pp_fields_get (fields, "name")->s, "Zoë 東京");
    assert_string_equal (pp_fields_str (fields, "name"), "Zoë 東京");
    assert_int_equal (pp_fields_get (fields, "nested")->type, PP_VALUE_JSON);
    assert_string_equal (pp_fields_get (fields, "nested")->s, "{\"a\":[1,2]}");
    //  pp_fields_str is for strings only.
    assert_null (pp_fields_str (fields, "nested"));
    assert_null (pp_fields_str (fields, "max"));
    assert_null (pp_fields_get (fields, "absent"));
    //  By index and by name give the same value.
    assert_ptr_equal (pp_fields_value (fields, 6), pp_fields_get (fields, "name"));
    pp_fields_destroy (&fields);
}

static void
test_pp_fields_replace_keeps_position (void **state)
{
    pp_fields_t *fields = pp_fields_new ();
    pp_fields_set_str (fields, "a", "1");
    pp_fields_set_str (fields, "b", "2");
    pp_fields_set_str (fields, "c", "3");
    pp_fields_set_int (fields, "b", 42); //  a new type replaces too
    assert_int_equal (pp_fields_size (fields), 3);
    assert_string_equal (pp_fields_name (fields, 1), "b");
    assert_int_equal (pp_fields_value (fields, 1)->type, PP_VALUE_INT);
    assert_int_equal (pp_fields_value (fields, 1)->i, 42);
    assert_null (pp_fields_value (fields, 1)->s);

    //  Replace a string by a longer one, and by its own value.
    pp_fields_set_str (fields, "c", "a much longer string than before");
    assert_string_equal (pp_fields_str (fields, "c"), "a much longer string than before");
    pp_fields_set_str (fields, "c", pp_fields_str (fields, "c"));
    assert_string_equal (pp_fields_str (fields, "c"), "a much longer string than before");
    pp_fields_set_str (fields, pp_fields_name (fields, 0), "x");
    assert_string_equal (pp_fields_name (fields, 0), "a");
    assert_string_equal (pp_fields_str (fields, "a"), "x");
    assert_int_equal (pp_fields_size (fields), 3);
    pp_fields_destroy (&fields);
}

static void
test_pp_fields_remove (void **state)
{
    pp_fields_t *fields = pp_fields_new ();
    pp_fields_set_int (fields, "a", 1);
    pp_fields_set_int (fields, "b", 2);
    pp_fields_set_int (fields, "c", 3);
    assert_int_equal (pp_fields_remove (fields, "b"), 0);
    assert_int_equal (pp_fields_remove (fields, "b"), -1);
    assert_int_equal (pp_fields_remove (fields, "zz"), -1);
    assert_int_equal (pp_fields_size (fields), 2);
    assert_string_equal (pp_fields_name (fields, 0), "a");
    assert_string_equal (pp_fields_name (fields, 1), "c");
    assert_int_equal (pp_fields_get (fields, "c")->i, 3);
    assert_null (pp_fields_get (fields, "b"));
    //  Set after remove appends at the end.
    pp_fields_set_int (fields, "b", 4);
    assert_string_equal (pp_fields_name (fields, 2), "b");
    assert_int_equal (pp_fields_remove (fields, "a"), 0);
    assert_int_equal (pp_fields_remove (fields, "c"), 0);
    assert_int_equal (pp_fields_remove (fields, "b"), 0);
    assert_int_equal (pp_fields_size (fields), 0);
    pp_fields_destroy (&fields);
}

static void
test_pp_fields_strn_and_null (void **state)
{
    pp_fields_t *fields = pp_fields_new ();
    const char buffer[] = {'a', 'b', 'c', 'd'}; //  not terminated
    pp_fields_set_strn (fields, "s", buffer, 3);
    assert_string_equal (pp_fields_str (fields, "s"), "abc");
    //  An embedded NUL ends the value.
    pp_fields_set_strn (fields, "n", "ab\0cd", 5);
    assert_string_equal (pp_fields_str (fields, "n"), "ab");
    pp_fields_set_strn (fields, "e", buffer, 0);
    assert_string_equal (pp_fields_str (fields, "e"), "");
    //  NULL values set nil.
    pp_fields_set_str (fields, "x", NULL);
    pp_fields_set_json (fields, "y", NULL);
    pp_fields_set_strn (fields, "z", NULL, 3);
    assert_int_equal (pp_fields_get (fields, "x")->type, PP_VALUE_NIL);
    assert_int_equal (pp_fields_get (fields, "y")->type, PP_VALUE_NIL);
    assert_int_equal (pp_fields_get (fields, "z")->type, PP_VALUE_NIL);
    pp_fields_set_str (fields, "", "empty name");
    assert_string_equal (pp_fields_str (fields, ""), "empty name");
    pp_fields_destroy (&fields);
}

static void
test_pp_fields_many (void **state)
{
    pp_fields_t *fields = pp_fields_new ();
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf (name, sizeof (name), "field_%d", i);
        pp_fields_set_int (fields, name, i);
    }
    assert_int_equal (pp_fields_size (fields), 1000);
    for (int i = 0; i < 1000; i += 37) {
        snprintf (name, sizeof (name), "field_%d", i);
        assert_int_equal (pp_fields_get (fields, name)->i, i);
        assert_string_equal (pp_fields_name (fields, (size_t) i), name);
    }
    pp_fields_destroy (&fields);
}

static pp_fields_t *
s_sample (void)
{
    pp_fields_t *fields = pp_fields_new ();
    pp_fields_set_str (fields, "email", "x@example.com");
    pp_fields_set_int (fields, "bill", -250);
    pp_fields_set_num (fields, "score", 0.5);
    pp_fields_set_bool (fields, "owner", true);
    pp_fields_set_json (fields, "extra", "[1,{\"b\":null}]");
    pp_fields_set_nil (fields, "none");
    return fields;
}

static void
test_pp_fields_dup_is_deep (void **state)
{
    pp_fields_t *fields = s_sample ();
    pp_fields_t *copy = pp_fields_dup (fields);
    assert_non_null (copy);
    assert_true (pp_fields_eq (fields, copy));
    assert_ptr_not_equal (pp_fields_str (fields, "email"), pp_fields_str (copy, "email"));
    pp_fields_set_str (fields, "email", "changed@example.com");
    assert_false (pp_fields_eq (fields, copy));
    assert_string_equal (pp_fields_str (copy, "email"), "x@example.com");
    pp_fields_destroy (&fields);
    //  The copy lives on its own.
    assert_string_equal (pp_fields_get (copy, "extra")->s, "[1,{\"b\":null}]");

    //  A copy can be changed like any bag.
    pp_fields_set_str (copy, "email", "new@example.com");
    pp_fields_set_int (copy, "added", 1);
    assert_int_equal (pp_fields_remove (copy, "score"), 0);
    assert_int_equal (pp_fields_remove (copy, "none"), 0);
    assert_string_equal (pp_fields_str (copy, "email"), "new@example.com");
    assert_int_equal (pp_fields_size (copy), 5);
    assert_int_equal (pp_fields_get (copy, "bill")->i, -250);
    pp_fields_t *copy2 = pp_fields_dup (copy);
    assert_true (pp_fields_eq (copy, copy2));
    pp_fields_destroy (&copy2);

    pp_fields_t *empty = pp_fields_new ();
    pp_fields_t *empty_copy = pp_fields_dup (empty);
    assert_int_equal (pp_fields_size (empty_copy), 0);
    assert_true (pp_fields_eq (empty, empty_copy));
    assert_false (pp_fields_eq (empty, copy));
    pp_fields_destroy (&empty);
    pp_fields_destroy (&empty_copy);
    pp_fields_destroy (&copy);
}

static void
test_pp_fields_eq (void **state)
{
    pp_fields_t *a = s_sample ();
    pp_fields_t *b = s_sample ();
    assert_true (pp_fields_eq (a, b));
    assert_true (pp_fields_eq (a, a));

    //  Same value, another type.
    pp_fields_set_str (b, "bill", "-250");
    assert_false (pp_fields_eq (a, b));
    pp_fields_set_int (b, "bill", -250);
    assert_true (pp_fields_eq (a, b));

    //  STR and JSON with the same text differ.
    pp_fields_set_str (b, "extra", "[1,{\"b\":null}]");
    assert_false (pp_fields_eq (a, b));
    pp_fields_set_json (b, "extra", "[1,{\"b\":null}]");
    assert_true (pp_fields_eq (a, b));

    //  Other values.
    pp_fields_set_bool (b, "owner", false);
    assert_false (pp_fields_eq (a, b));
    pp_fields_set_bool (b, "owner", true);
    pp_fields_set_num (b, "score", 0.25);
    assert_false (pp_fields_eq (a, b));
    pp_fields_set_num (b, "score", 0.5);
    assert_true (pp_fields_eq (a, b));

    //  Order matters.
    pp_fields_remove (b, "email");
    assert_false (pp_fields_eq (a, b));
    pp_fields_set_str (b, "email", "x@example.com");
    assert_int_equal (pp_fields_size (a), pp_fields_size (b));
    assert_false (pp_fields_eq (a, b));

    //  NaN equals NaN, so a bag equals its own copy.
    pp_fields_t *c = pp_fields_new ();
    pp_fields_set_num (c, "nan", NAN);
    pp_fields_t *d = pp_fields_dup (c);
    assert_true (pp_fields_eq (c, d));
    pp_fields_set_num (d, "nan", 1.0);
    assert_false (pp_fields_eq (c, d));

    pp_fields_destroy (&a);
    pp_fields_destroy (&b);
    pp_fields_destroy (&c);
    pp_fields_destroy (&d);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_pp_fields_new_destroy),
        cmocka_unit_test (test_pp_fields_set_get_every_type),
        cmocka_unit_test (test_pp_fields_replace_keeps_position),
        cmocka_unit_test (test_pp_fields_remove),
        cmocka_unit_test (test_pp_fields_strn_and_null),
        cmocka_unit_test (test_pp_fields_many),
        cmocka_unit_test (test_pp_fields_dup_is_deep),
        cmocka_unit_test (test_pp_fields_eq),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
