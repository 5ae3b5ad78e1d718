/*  test_pp_blacklist - blacklist normal forms, checks, loading, apply and the CLI  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */
//  The database tests need PINGPOST_TEST_DATABASE_URL: a fresh schema per
//  run (deploy/sql applied, tests/unit/pp_testdb), dropped at the end. The
//  CLI test runs $PP_BIN_DIR/pingpost (ctest sets PP_BIN_DIR).

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <czmq.h>
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pp_blacklist.h"
#include "pp_log.h"
#include "pp_market.h"
#include "pp_testdb.h"

//  ---------------------------------------------------------------------------
//  Helpers

//  A vertical with a phone, an email, a second email and a plain string
//  field named "phone2" (not a phone: never checked as one).
static pp_field_spec_t s_specs [] = {
    { .name = "mobile", .type = PP_FT_PHONE },
    { .name = "email", .type = PP_FT_EMAIL },
    { .name = "work_email", .type = PP_FT_EMAIL },
    { .name = "phone2", .type = PP_FT_STRING },
    { .name = "first_name", .type = PP_FT_STRING },
    { .name = "last_name", .type = PP_FT_STRING },
};
static pp_vertical_t s_vertical = {
    .name = "test", .fields = s_specs, .field_count = sizeof s_specs / sizeof s_specs [0]
};

static pp_blacklist_t *
s_blacklist (const char *const *entries)
{
    pp_blacklist_t *self = pp_blacklist_new ();
    assert_non_null (self);
    for (size_t i = 0; entries [i]; i += 2)
        if (pp_blacklist_add (self, entries [i], entries [i + 1]))
            fail_msg ("cannot add %s '%s'", entries [i], entries [i + 1]);
    return self;
}

//  Bags from "name", "value", ..., NULL.
static pp_fields_t *
s_fields (const char *name, ...)
{
    pp_fields_t *fields = pp_fields_new ();
    va_list args;
    va_start (args, name);
    for (; name; name = va_arg (args, const char *))
        pp_fields_set_str (fields, name, va_arg (args, const char *));
    va_end (args);
    return fields;
}

//  Check lead fields alone; expect code (NULL = no match) and field.
static void
s_expect_fields (const pp_blacklist_t *self, const pp_fields_t *fields, const char *code,
                 const char *field)
{
    const char *where = "unset";
    const char *got = pp_blacklist_check (self, &s_vertical, fields, NULL, NULL, &where);
    if (!code) {
        if (got)
            fail_msg ("expected no match, got %s on %s", got, where ? where : "(null)");
        assert_null (where);
        return;
    }
    if (!got)
        fail_msg ("expected %s, got no match", code);
    assert_string_equal (got, code);
    assert_non_null (where);
    assert_string_equal (where, field);
}

//  Check one address given as signals.ip (and then as consent.ip).
static void
s_expect_ip (const pp_blacklist_t *self, const char *ip, const char *code)
{
    pp_fields_t *bag = s_fields ("ip", ip, NULL);
    const char *where = NULL;
    const char *got = pp_blacklist_check (self, &s_vertical, NULL, NULL, bag, &where);
    if (code && (!got || !streq (got, code)))
        fail_msg ("%s: expected %s, got %s", ip, code, got ? got : "no match");
    if (!code && got)
        fail_msg ("%s: expected no match, got %s", ip, got);
    if (code)
        assert_string_equal (where, "signals.ip");
    got = pp_blacklist_check (self, &s_vertical, NULL, bag, NULL, &where);
    if (code) {
        assert_non_null (got);
        assert_string_equal (got, code);
        assert_string_equal (where, "consent.ip");
    }
    else
        assert_null (got);
    pp_fields_destroy (&bag);
}

static void
s_expect_normal (const char *kind, const char *value, const char *normal)
{
    const char *error = NULL;
    char *got = pp_blacklist_normalise (kind, value, &error);
    if (!got)
        fail_msg ("%s '%s': %s", kind, value, error ? error : "(no error)");
    assert_string_equal (got, normal);
    free (got);
}

static void
s_expect_invalid (const char *kind, const char *value, const char *reason)
{
    const char *error = NULL;
    char *got = pp_blacklist_normalise (kind, value, &error);
    if (got)
        fail_msg ("%s '%s' normalised to '%s'", kind, value, got);
    assert_non_null (error);
    if (!strstr (error, reason))
        fail_msg ("%s '%s': error '%s' lacks '%s'", kind, value, error, reason);
    pp_blacklist_t *self = pp_blacklist_new ();
    assert_int_equal (pp_blacklist_add (self, kind, value), -1);
    assert_int_equal (pp_blacklist_size (self), 0);
    pp_blacklist_destroy (&self);
}

//  ---------------------------------------------------------------------------
//  Normal forms

static void
test_pp_blacklist_normalise (void **state)
{
    s_expect_normal ("phone", "(212) 555-0123", "+12125550123");
    s_expect_normal ("phone", "1-212-555-0123", "+12125550123");
    s_expect_normal ("phone", "+1 212.555.0123", "+12125550123");
    s_expect_normal ("email", "  Bob.Smith@Example.COM ", "Bob.Smith@example.com");
    s_expect_normal ("email_domain", "Mailinator.COM", "mailinator.com");
    s_expect_normal ("ip", " 10.1.2.3 ", "10.1.2.3");
    s_expect_normal ("ip", "2001:DB8:0:0:0:0:0:1", "2001:db8::1");
    s_expect_normal ("ip", "::ffff:10.1.2.3", "10.1.2.3");
    s_expect_normal ("cidr", "10.9.8.7/8", "10.0.0.0/8");
    s_expect_normal ("cidr", "172.31.200.1/12", "172.16.0.0/12");
    s_expect_normal ("cidr", "2001:DB8:FFFF::1/32", "2001:db8::/32");
    s_expect_normal ("cidr", "::ffff:192.168.1.1/112", "192.168.0.0/16");
    s_expect_normal ("cidr", "0.0.0.0/0", "0.0.0.0/0");
    s_expect_normal ("cidr", "1.2.3.4/32", "1.2.3.4/32");
    s_expect_normal ("cidr", "::1/128", "::1/128");
    s_expect_normal ("name", "  Mickey \t  MOUSE ", "mickey mouse");
    s_expect_normal ("name", "Test*", "test*");

    s_expect_invalid ("phone", "555-0100", "10 digits");
    s_expect_invalid ("phone", "212 555 0123 x1", "only digits");
    s_expect_invalid ("phone", "2-212-555-0123", "10 digits");
    s_expect_invalid ("phone", "212555012345", "too many digits");
    s_expect_invalid ("email", "a@b@c.com", "local@domain");
    s_expect_invalid ("email", "nobody", "local@domain");
    s_expect_invalid ("email", "bob@localhost", "domain");
    s_expect_invalid ("email", "bo b@example.com", "space");
    s_expect_invalid ("email_domain", "bad domain.com", "domain name");
    s_expect_invalid ("email_domain", "example..com", "domain name");
    s_expect_invalid ("ip", "10.0.0.256", "IPv4 or IPv6");
    s_expect_invalid ("ip", "10.0.0.0/8", "IPv4 or IPv6");
    s_expect_invalid ("cidr", "10.0.0.0", "address/bits");
    s_expect_invalid ("cidr", "10.0.0.0/33", "too many bits");
    s_expect_invalid ("cidr", "::/129", "too many bits");
    s_expect_invalid ("cidr", "10.0.0.0/", "address/bits");
    s_expect_invalid ("cidr", "10.0.0.0/-1", "address/bits");
    s_expect_invalid ("cidr", "nope/8", "not IPv4 or IPv6");
    s_expect_invalid ("name", "   ", "empty");
    char long_name [300];
    memset (long_name, 'a', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    s_expect_invalid ("name", long_name, "256");

    const char *error = NULL;
    assert_null (pp_blacklist_normalise ("phones", "2125550123", &error));
    assert_non_null (strstr (error, "kind"));
    assert_null (pp_blacklist_normalise (NULL, "2125550123", NULL));
    assert_null (pp_blacklist_normalise ("phone", NULL, NULL));
    assert_true (pp_blacklist_kind_valid ("email_domain"));
    assert_false (pp_blacklist_kind_valid ("emails"));
    assert_false (pp_blacklist_kind_valid (NULL));
    pp_blacklist_t *self = pp_blacklist_new ();
    assert_int_equal (pp_blacklist_add (self, "bogus", "x"), -1);
    assert_int_equal (pp_blacklist_size (self), 0);
    pp_blacklist_destroy (&self);
    pp_blacklist_destroy (&self);       //  safe on NULL
}

//  ---------------------------------------------------------------------------
//  Checks, kind by kind

static void
test_pp_blacklist_phone (void **state)
{
    const char *entries [] = {
        "phone", "(212) 555-0123", "phone", "1 (646) 555 0199", NULL
    };
    pp_blacklist_t *self = s_blacklist (entries);
    pp_fields_t *fields = s_fields ("mobile", "+12125550123", NULL);
    s_expect_fields (self, fields, "blacklisted_phone", "mobile");
    pp_fields_set_str (fields, "mobile", "646.555.0199");       //  not normalised yet
    s_expect_fields (self, fields, "blacklisted_phone", "mobile");
    pp_fields_set_str (fields, "mobile", "+12125550124");       //  one digit off
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "mobile", "+1212555012");        //  a digit short
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "phone2", "+12125550123");       //  not a phone field
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_destroy (&fields);
    //  Without a vertical the field named "phone" is the phone
    fields = s_fields ("phone", "212-555-0123", NULL);
    const char *where = NULL;
    assert_string_equal (pp_blacklist_check (self, NULL, fields, NULL, NULL, &where),
                         "blacklisted_phone");
    assert_string_equal (where, "phone");
    pp_fields_destroy (&fields);
    //  A number value is not a phone text
    fields = pp_fields_new ();
    pp_fields_set_int (fields, "mobile", 2125550123);
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_destroy (&fields);
    pp_blacklist_destroy (&self);
}

static void
test_pp_blacklist_email (void **state)
{
    const char *entries [] = {
        "email", "Bob@Example.COM", "email_domain", "Mailinator.com", NULL
    };
    pp_blacklist_t *self = s_blacklist (entries);
    pp_fields_t *fields = s_fields ("email", "Bob@EXAMPLE.com", NULL);
    s_expect_fields (self, fields, "blacklisted_email", "email");
    pp_fields_set_str (fields, "email", "bob@example.com");     //  the local part is exact
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "email", "Bob2@example.com");
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "email", "Bob@example.com.au");
    s_expect_fields (self, fields, NULL, NULL);
    //  Domains: the domain or a parent of it, never a mere suffix
    pp_fields_set_str (fields, "email", "anyone@MAILINATOR.com");
    s_expect_fields (self, fields, "blacklisted_email_domain", "email");
    pp_fields_set_str (fields, "email", "anyone@eu.mx.mailinator.com");
    s_expect_fields (self, fields, "blacklisted_email_domain", "email");
    pp_fields_set_str (fields, "email", "anyone@notmailinator.com");
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "email", "anyone@mailinator.com.example.org");
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "email", "mailinator.com");      //  not an address
    s_expect_fields (self, fields, NULL, NULL);
    //  Every email field is checked; an exact address wins over a domain
    pp_fields_set_str (fields, "email", "x@mailinator.com");
    pp_fields_set_str (fields, "work_email", "Bob@example.com");
    s_expect_fields (self, fields, "blacklisted_email", "work_email");
    pp_fields_remove (fields, "email");
    pp_fields_set_str (fields, "work_email", "y@mailinator.com");
    s_expect_fields (self, fields, "blacklisted_email_domain", "work_email");
    pp_fields_destroy (&fields);
    pp_blacklist_destroy (&self);
}

static void
test_pp_blacklist_ip (void **state)
{
    const char *entries [] = {
        "ip", "10.1.2.3", "ip", "2001:DB8::1", "ip", "::ffff:192.0.2.9", NULL
    };
    pp_blacklist_t *self = s_blacklist (entries);
    s_expect_ip (self, "10.1.2.3", "blacklisted_ip");
    s_expect_ip (self, " 10.1.2.3", "blacklisted_ip");
    s_expect_ip (self, "::ffff:10.1.2.3", "blacklisted_ip");
    s_expect_ip (self, "10.1.2.30", NULL);
    s_expect_ip (self, "10.1.2.2", NULL);
    s_expect_ip (self, "2001:db8:0:0::1", "blacklisted_ip");
    s_expect_ip (self, "2001:db8::2", NULL);
    s_expect_ip (self, "192.0.2.9", "blacklisted_ip");
    s_expect_ip (self, "not an ip", NULL);
    s_expect_ip (self, "", NULL);
    //  The signals' address is reported before the consent's
    pp_fields_t *signals = s_fields ("ip", "10.1.2.3", NULL);
    pp_fields_t *consent = s_fields ("ip", "2001:db8::1", NULL);
    const char *where = NULL;
    assert_string_equal (pp_blacklist_check (self, &s_vertical, NULL, consent, signals, &where),
                         "blacklisted_ip");
    assert_string_equal (where, "signals.ip");
    pp_fields_set_str (signals, "ip", "10.0.0.1");
    assert_string_equal (pp_blacklist_check (self, &s_vertical, NULL, consent, signals, &where),
                         "blacklisted_ip");
    assert_string_equal (where, "consent.ip");
    pp_fields_destroy (&signals);
    pp_fields_destroy (&consent);
    pp_blacklist_destroy (&self);
}

static void
test_pp_blacklist_cidr (void **state)
{
    const char *entries [] = {
        "cidr", "192.168.0.0/16", "cidr", "172.16.0.0/12", "cidr", "203.0.113.7/32",
        "cidr", "2001:db8::/32", "cidr", "::1/128", "cidr", "::ffff:198.51.100.0/120", NULL
    };
    pp_blacklist_t *self = s_blacklist (entries);
    s_expect_ip (self, "192.168.0.0", "blacklisted_cidr");
    s_expect_ip (self, "192.168.255.255", "blacklisted_cidr");
    s_expect_ip (self, "192.169.0.0", NULL);
    s_expect_ip (self, "192.167.255.255", NULL);
    s_expect_ip (self, "172.31.255.255", "blacklisted_cidr");   //  /12: not on a byte
    s_expect_ip (self, "172.32.0.0", NULL);
    s_expect_ip (self, "172.15.255.255", NULL);
    s_expect_ip (self, "203.0.113.7", "blacklisted_cidr");      //  /32: that one address
    s_expect_ip (self, "203.0.113.6", NULL);
    s_expect_ip (self, "203.0.113.8", NULL);
    s_expect_ip (self, "2001:db8:ffff:ffff::1", "blacklisted_cidr");
    s_expect_ip (self, "2001:db9::1", NULL);
    s_expect_ip (self, "2001:db7:ffff::1", NULL);
    s_expect_ip (self, "::1", "blacklisted_cidr");              //  /128
    s_expect_ip (self, "::2", NULL);
    s_expect_ip (self, "198.51.100.200", "blacklisted_cidr");   //  a mapped block is IPv4
    s_expect_ip (self, "::ffff:198.51.100.1", "blacklisted_cidr");
    s_expect_ip (self, "198.51.101.1", NULL);
    s_expect_ip (self, "::ffff:192.168.3.4", "blacklisted_cidr");
    //  An address family never matches the other's blocks
    s_expect_ip (self, "c0a8::1", NULL);
    pp_blacklist_destroy (&self);

    //  /0: every address of its own family, none of the other
    const char *all_v4 [] = { "cidr", "0.0.0.0/0", NULL };
    self = s_blacklist (all_v4);
    s_expect_ip (self, "1.2.3.4", "blacklisted_cidr");
    s_expect_ip (self, "255.255.255.255", "blacklisted_cidr");
    s_expect_ip (self, "2001:db8::1", NULL);
    pp_blacklist_destroy (&self);
    const char *all_v6 [] = { "cidr", "::/0", NULL };
    self = s_blacklist (all_v6);
    s_expect_ip (self, "2001:db8::1", "blacklisted_cidr");
    s_expect_ip (self, "::", "blacklisted_cidr");
    s_expect_ip (self, "1.2.3.4", NULL);
    pp_blacklist_destroy (&self);
}

static void
test_pp_blacklist_name (void **state)
{
    const char *entries [] = {
        "name", "Mickey Mouse", "name", "asdf", "name", "test*", "name", "* McFake",
        "name", "j?hn doe", NULL
    };
    pp_blacklist_t *self = s_blacklist (entries);
    pp_fields_t *fields = s_fields ("first_name", "MICKEY", "last_name", "  mouse ", NULL);
    s_expect_fields (self, fields, "blacklisted_name", "first_name");
    pp_fields_set_str (fields, "last_name", "Mousse");
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "first_name", "Mickey  Mouse");      //  all in the first name
    pp_fields_remove (fields, "last_name");
    s_expect_fields (self, fields, "blacklisted_name", "first_name");
    pp_fields_set_str (fields, "first_name", "Mickey");
    s_expect_fields (self, fields, NULL, NULL);
    //  An entry matches a first or last name alone
    pp_fields_set_str (fields, "first_name", "Jane");
    pp_fields_set_str (fields, "last_name", "ASDF");
    s_expect_fields (self, fields, "blacklisted_name", "last_name");
    pp_fields_set_str (fields, "first_name", "asdf");
    s_expect_fields (self, fields, "blacklisted_name", "first_name");
    pp_fields_set_str (fields, "first_name", "asdfg");
    pp_fields_set_str (fields, "last_name", "Smith");
    s_expect_fields (self, fields, NULL, NULL);
    //  Wildcards, case-insensitive
    pp_fields_set_str (fields, "first_name", "Testy");
    s_expect_fields (self, fields, "blacklisted_name", "first_name");
    pp_fields_set_str (fields, "first_name", "Atest");
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "first_name", "Bob");
    pp_fields_set_str (fields, "last_name", "TEST");
    s_expect_fields (self, fields, "blacklisted_name", "last_name");
    pp_fields_set_str (fields, "last_name", "mcfake");
    s_expect_fields (self, fields, "blacklisted_name", "first_name");   //  "bob mcfake"
    pp_fields_set_str (fields, "first_name", "John");
    pp_fields_set_str (fields, "last_name", "DOE");
    s_expect_fields (self, fields, "blacklisted_name", "first_name");
    pp_fields_set_str (fields, "first_name", "Joan");
    s_expect_fields (self, fields, NULL, NULL);
    pp_fields_set_str (fields, "first_name", "Joohn");
    s_expect_fields (self, fields, NULL, NULL);
    //  Empty names match nothing, not even "*"
    pp_fields_set_str (fields, "first_name", "  ");
    pp_fields_set_str (fields, "last_name", "");
    s_expect_fields (self, fields, NULL, NULL);
    //  A long name goes through the heap buffer
    char long_name [3000];
    memset (long_name, 'x', sizeof long_name - 1);
    memcpy (long_name, "test", 4);
    long_name [sizeof long_name - 1] = 0;
    pp_fields_set_str (fields, "first_name", long_name);
    pp_fields_set_str (fields, "last_name", long_name);
    s_expect_fields (self, fields, "blacklisted_name", "first_name");
    pp_fields_destroy (&fields);
    pp_blacklist_destroy (&self);
}

static void
test_pp_blacklist_order_and_nothing (void **state)
{
    pp_blacklist_t *self = pp_blacklist_new ();
    pp_fields_t *fields = s_fields ("mobile", "+12125550123", "email", "a@b.com",
                                    "first_name", "Test", NULL);
    pp_fields_t *signals = s_fields ("ip", "10.0.0.1", NULL);
    const char *where = "unset";
    //  An empty list matches nothing
    assert_null (pp_blacklist_check (self, &s_vertical, fields, signals, signals, &where));
    assert_null (where);
    assert_null (pp_blacklist_check (self, &s_vertical, NULL, NULL, NULL, NULL));
    //  Checks go phone, email, email domain, ip, cidr, name
    const char *entries [] = {
        "name", "test", "cidr", "10.0.0.0/8", "ip", "10.0.0.1", "email_domain", "b.com",
        "email", "a@b.com", "phone", "2125550123", NULL
    };
    const char *codes [] = {
        "blacklisted_phone", "blacklisted_email", "blacklisted_email_domain",
        "blacklisted_ip", "blacklisted_cidr", "blacklisted_name"
    };
    for (size_t i = 0; i < 6; i++) {
        pp_blacklist_t *some = pp_blacklist_new ();
        //  The first i + 1 entries: the last one added is the first checked
        for (size_t j = 0; j <= i; j++)
            assert_int_equal (pp_blacklist_add (some, entries [2 * j], entries [2 * j + 1]), 0);
        const char *code = pp_blacklist_check (some, &s_vertical, fields, NULL, signals, &where);
        assert_non_null (code);
        assert_string_equal (code, codes [5 - i]);
        pp_blacklist_destroy (&some);
    }
    //  Duplicates in any spelling count once
    assert_int_equal (pp_blacklist_add (self, "phone", "212-555-0123"), 0);
    assert_int_equal (pp_blacklist_add (self, "phone", "+1 (212) 555 0123"), 0);
    assert_int_equal (pp_blacklist_add (self, "cidr", "10.1.0.0/8"), 0);
    assert_int_equal (pp_blacklist_add (self, "cidr", "10.0.0.0/8"), 0);
    assert_int_equal (pp_blacklist_add (self, "name", "TEST*"), 0);
    assert_int_equal (pp_blacklist_add (self, "name", "test*"), 0);
    assert_int_equal (pp_blacklist_size (self), 3);
    pp_fields_destroy (&fields);
    pp_fields_destroy (&signals);
    pp_blacklist_destroy (&self);
}

//  Many threads check one blacklist at once and all get the right answers.
typedef struct {
    const pp_blacklist_t *blacklist;    //  Not owned: shared
    int wrong;                          //  answers that were not expected
} s_reader_t;

static void *
s_reader (void *arg)
{
    s_reader_t *reader = (s_reader_t *) arg;
    for (int i = 0; i < 2000; i++) {
        char phone [16];
        snprintf (phone, sizeof phone, "+1212555%04d", i % 200);
        pp_fields_t *fields = s_fields ("mobile", phone, "first_name", "ok", NULL);
        const char *code = pp_blacklist_check (reader->blacklist, &s_vertical, fields, NULL,
                                               NULL, NULL);
        bool blocked = i % 200 < 100;
        if (blocked != (code != NULL))
            reader->wrong++;
        pp_fields_destroy (&fields);
    }
    return NULL;
}

static void
test_pp_blacklist_threads (void **state)
{
    pp_blacklist_t *self = pp_blacklist_new ();
    for (int i = 0; i < 100; i++) {
        char phone [16];
        snprintf (phone, sizeof phone, "212555%04d", i);
        assert_int_equal (pp_blacklist_add (self, "phone", phone), 0);
    }
    assert_int_equal (pp_blacklist_size (self), 100);
    pthread_t threads [4];
    s_reader_t readers [4];
    for (int i = 0; i < 4; i++) {
        readers [i].blacklist = self;
        readers [i].wrong = 0;
        assert_int_equal (pthread_create (&threads [i], NULL, s_reader, &readers [i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join (threads [i], NULL);
        assert_int_equal (readers [i].wrong, 0);
    }
    pp_blacklist_destroy (&self);
}

//  ---------------------------------------------------------------------------
//  Database

static char *s_schema;              //  this run's schema (tests/unit/pp_testdb)
static char *s_url;                 //  conninfo whose search_path is the schema
static pp_db_t *s_db;               //  our session in the schema

//  A conninfo like s_url for another schema (the test makes one beside ours).
static char *
s_conninfo_with_schema (const char *base, const char *schema)
{
    if (strncmp (base, "postgres://", 11) == 0 || strncmp (base, "postgresql://", 13) == 0)
        return zsys_sprintf ("%s%soptions=-csearch_path%%3D%s", base,
                             strchr (base, '?') ? "&" : "?", schema);
    return zsys_sprintf ("%s options='-csearch_path=%s'", base, schema);
}

static int
s_group_setup (void **state)
{
    pp_log_init ("test_pp_blacklist", false);
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    if (!base || !*base) {
        print_error ("PINGPOST_TEST_DATABASE_URL is not set: test_pp_blacklist needs a "
                     "PostgreSQL database (scripts/test sets it)\n");
        return -1;
    }
    s_url = pp_testdb_create ("blacklist");
    if (!s_url)
        return -1;
    s_schema = pp_testdb_schema (s_url);
    s_db = pp_db_new (s_url);
    if (!s_schema || !s_db || !pp_db_ok (s_db)) {
        print_error ("cannot connect to the test schema\n");
        pp_db_destroy (&s_db);
        zstr_free (&s_schema);
        pp_testdb_drop (&s_url);
        return -1;
    }
    return 0;
}

static int
s_group_teardown (void **state)
{
    pp_db_destroy (&s_db);
    pp_testdb_drop (&s_url);
    zstr_free (&s_schema);
    return 0;
}

//  Each database test starts with an empty blacklist.
static int
s_clear (void **state)
{
    return pp_db_script (s_db, "clear", "DELETE FROM blacklist; DELETE FROM market_sections");
}

//  First value of a query's first row (freed by caller); "" for no row.
static char *
s_query (const char *sql)
{
    PGresult *result = pp_db_exec (s_db, "test query", sql, 0, NULL);
    assert_non_null (result);
    char *value = strdup (PQntuples (result) && !PQgetisnull (result, 0, 0)
                          ? PQgetvalue (result, 0, 0) : "");
    PQclear (result);
    return value;
}

static long
s_query_long (const char *sql)
{
    char *value = s_query (sql);
    long number = atol (value);
    free (value);
    return number;
}

static void
s_store (const char *json)
{
    pp_market_error_t *errors = NULL;
    size_t count = 0;
    pp_market_t *market = pp_market_parse (json, strlen (json), &errors, &count);
    for (size_t i = 0; i < count; i++)
        print_error ("market: %s: %s\n", errors [i].path, errors [i].message);
    pp_market_errors_free (&errors, count);
    assert_non_null (market);
    assert_int_equal (pp_market_store (market, s_db), 0);
    pp_market_unlink (&market);
}

static void
test_pp_blacklist_load (void **state)
{
    assert_int_equal (pp_db_script (s_db, "rows",
        "INSERT INTO blacklist (kind, value) VALUES"
        " ('phone', '+12125550123'), ('email', 'bob@example.com'),"
        " ('email_domain', 'mailinator.com'), ('ip', '10.1.2.3'), ('cidr', '2001:db8::/32'),"
        " ('name', 'mickey mouse'), ('name', 'test*'),"
        " ('phone', 'not a phone'), ('cidr', '10.0.0.0/99')"), 0);
    pp_blacklist_t *self = pp_blacklist_load (s_db);
    assert_non_null (self);
    assert_int_equal (pp_blacklist_size (self), 7);     //  the two bad rows skipped
    pp_fields_t *fields = s_fields ("mobile", "+12125550123", NULL);
    s_expect_fields (self, fields, "blacklisted_phone", "mobile");
    pp_fields_destroy (&fields);
    fields = s_fields ("email", "bob@example.com", NULL);
    s_expect_fields (self, fields, "blacklisted_email", "email");
    pp_fields_set_str (fields, "email", "x@mailinator.com");
    s_expect_fields (self, fields, "blacklisted_email_domain", "email");
    pp_fields_destroy (&fields);
    s_expect_ip (self, "10.1.2.3", "blacklisted_ip");
    s_expect_ip (self, "2001:db8::77", "blacklisted_cidr");
    s_expect_ip (self, "10.1.2.4", NULL);
    fields = s_fields ("first_name", "Tester", "last_name", "X", NULL);
    s_expect_fields (self, fields, "blacklisted_name", "first_name");
    pp_fields_destroy (&fields);
    pp_blacklist_destroy (&self);

    //  The table refuses unknown kinds and empty values
    assert_null (pp_db_exec (s_db, "bad kind",
                             "INSERT INTO blacklist (kind, value) VALUES ('phones', 'x')", 0,
                             NULL));
    assert_null (pp_db_exec (s_db, "empty value",
                             "INSERT INTO blacklist (kind, value) VALUES ('name', '')", 0, NULL));
}

static void
test_pp_blacklist_load_failure (void **state)
{
    //  A session whose search path has no blacklist table: NULL, logged
    char *schema = zsys_sprintf ("%s_empty", s_schema);
    char *sql = zsys_sprintf ("CREATE SCHEMA %s", schema);
    assert_int_equal (pp_db_script (s_db, "empty schema", sql), 0);
    zstr_free (&sql);
    const char *base = getenv ("PINGPOST_TEST_DATABASE_URL");
    char *url = s_conninfo_with_schema (base, schema);
    pp_db_t *db = pp_db_new (url);
    assert_true (pp_db_ok (db));
    pp_blacklist_t *self = pp_blacklist_load (db);
    assert_null (self);
    pp_db_destroy (&db);
    zstr_free (&url);
    sql = zsys_sprintf ("DROP SCHEMA %s", schema);
    assert_int_equal (pp_db_script (s_db, "drop empty schema", sql), 0);
    zstr_free (&sql);
    zstr_free (&schema);
}

static const char *s_market_file =
    "{\"blacklist\": {\"phones\": [\"(212) 555-0123\", \"212.555.0123\", \"646 555 0199\"],"
    " \"emails\": [\"Bob@Example.COM\"], \"email_domains\": [\"Mailinator.com\"],"
    " \"ips\": [\"10.1.2.3\", \"2001:DB8::1\"], \"cidrs\": [\"10.9.0.1/16\", \"::1/128\"],"
    " \"names\": [\"Mickey  Mouse\", \"Test Test\", \"asdf\", \"test*\"]}}";

static void
test_pp_blacklist_apply (void **state)
{
    //  An entry already there keeps its note
    assert_int_equal (pp_db_script (s_db, "cli row",
        "INSERT INTO blacklist (kind, value, note) VALUES ('name', 'asdf', 'by hand')"), 0);
    s_store (s_market_file);
    assert_int_equal (s_query_long ("SELECT count(*) FROM blacklist"), 12);
    char *values = s_query ("SELECT string_agg (kind || '=' || value, ',' ORDER BY kind, value)"
                            " FROM blacklist");
    assert_string_equal (values,
        "cidr=10.9.0.0/16,cidr=::1/128,email=Bob@example.com,email_domain=mailinator.com,"
        "ip=10.1.2.3,ip=2001:db8::1,name=asdf,name=mickey mouse,name=test test,name=test*,"
        "phone=+12125550123,phone=+16465550199");
    free (values);
    char *note = s_query ("SELECT note FROM blacklist WHERE kind = 'name' AND value = 'asdf'");
    assert_string_equal (note, "by hand");
    free (note);
    note = s_query ("SELECT note FROM blacklist WHERE kind = 'phone' AND value = '+16465550199'");
    assert_string_equal (note, "pingpost apply");
    free (note);

    //  Twice: no row written
    char *before = s_query ("SELECT string_agg (kind || value || xmin::text, ',' ORDER BY kind,"
                            " value) FROM blacklist");
    s_store (s_market_file);
    char *after = s_query ("SELECT string_agg (kind || value || xmin::text, ',' ORDER BY kind,"
                           " value) FROM blacklist");
    assert_string_equal (before, after);
    free (before);
    free (after);

    //  A file without some entries removes none; a removed entry comes back
    assert_int_equal (pp_db_script (s_db, "remove",
        "DELETE FROM blacklist WHERE kind = 'ip' AND value = '10.1.2.3'"), 0);
    s_store ("{\"blacklist\": {\"ips\": [\"10.1.2.3\"]}}");
    assert_int_equal (s_query_long ("SELECT count(*) FROM blacklist"), 12);
    s_store ("{\"blacklist\": {}}");
    s_store ("{\"auction\": {\"floor\": 2.00}}");
    assert_int_equal (s_query_long ("SELECT count(*) FROM blacklist"), 12);

    //  And validate's view of it
    pp_blacklist_t *self = pp_blacklist_load (s_db);
    assert_non_null (self);
    assert_int_equal (pp_blacklist_size (self), 12);
    s_expect_ip (self, "10.9.255.1", "blacklisted_cidr");
    pp_blacklist_destroy (&self);
}

static void
test_pp_blacklist_store_section (void **state)
{
    size_t added = 99;
    assert_int_equal (pp_blacklist_store_section (s_db, "{\"ips\": [\"10.0.0.1\", \"10.0.0.1\","
                                                  " \"::ffff:10.0.0.1\"], \"names\": [\"  \"]}",
                                                  &added), 0);
    assert_int_equal (added, 1);                //  one address, three spellings; blank name skipped
    assert_int_equal (pp_blacklist_store_section (s_db, "{\"ips\": [\"10.0.0.1\"]}", &added), 0);
    assert_int_equal (added, 0);
    assert_int_equal (pp_blacklist_store_section (s_db, "{}", &added), 0);
    assert_int_equal (added, 0);
    assert_int_equal (pp_blacklist_store_section (s_db, "[1]", &added), -1);
    assert_int_equal (pp_blacklist_store_section (s_db, "{\"ips\": \"10.0.0.1\"}", NULL), -1);
    assert_int_equal (pp_blacklist_store_section (s_db, "not json", NULL), -1);
    assert_int_equal (pp_blacklist_store_section (s_db, NULL, NULL), -1);
    assert_int_equal (s_query_long ("SELECT count(*) FROM blacklist"), 1);
}

static void
test_pp_blacklist_analyst_denied (void **state)
{
    char *granted = s_query ("SELECT has_table_privilege ('pingpost_analyst', 'blacklist',"
                             " 'SELECT')::text");
    assert_string_equal (granted, "false");
    free (granted);
    granted = s_query ("SELECT has_table_privilege ('pingpost_analyst', 'market_sections',"
                       " 'SELECT')::text");
    assert_string_equal (granted, "false");
    free (granted);
    granted = s_query ("SELECT has_table_privilege ('pingpost_analyst', 'blacklist_counts',"
                       " 'SELECT')::text");
    assert_string_equal (granted, "true");
    free (granted);
    s_store (s_market_file);
    assert_int_equal (s_query_long ("SELECT entries FROM blacklist_counts WHERE kind = 'name'"), 4);
    assert_int_equal (s_query_long ("SELECT count(*) FROM market_sections"), 1);
    assert_int_equal (s_query_long ("SELECT count(*) FROM market_sections_public"), 0);
}

//  ---------------------------------------------------------------------------
//  The command line

//  Run `pingpost ARGS` on the test schema; exit status, output in *out.
static int
s_cli (char **out, const char *args)
{
    const char *bin = getenv ("PP_BIN_DIR");
    if (!bin || !*bin)
        fail_msg ("PP_BIN_DIR is not set: run through ctest (it names <build>/bin)");
    char *path = zsys_sprintf ("%s/pingpost", bin);
    if (access (path, X_OK))
        fail_msg ("%s is not built", path);
    setenv ("PINGPOST_DATABASE_URL", s_url, 1);
    setenv ("PINGPOST_VAR_DIR", "/nonexistent/pp-test-blacklist", 1);
    char *command = zsys_sprintf ("%s %s 2>&1", path, args);
    FILE *pipe = popen (command, "r");
    assert_non_null (pipe);
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream (&text, &size);
    char chunk [4096];
    size_t got;
    while ((got = fread (chunk, 1, sizeof chunk, pipe)) > 0)
        fwrite (chunk, 1, got, memory);
    fclose (memory);
    int status = pclose (pipe);
    zstr_free (&command);
    zstr_free (&path);
    if (out)
        *out = text;
    else
        free (text);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
s_expect_cli (int status, const char *args, const char *expect)
{
    char *out = NULL;
    int got = s_cli (&out, args);
    if (got != status || (expect && !strstr (out, expect)))
        fail_msg ("pingpost %s: exit %d (expected %d), output:\n%s\n(expected to hold '%s')",
                  args, got, status, out, expect ? expect : "");
    free (out);
}

static void
test_pp_blacklist_cli (void **state)
{
    //  Each change NOTIFYs the config channel
    pp_db_t *listener = pp_db_new (s_url);
    assert_true (pp_db_ok (listener));
    assert_true (pp_db_listen (listener, PP_MARKET_CHANNEL) >= 0);

    s_expect_cli (0, "blacklist add phone '(212) 555-0123' --note 'chargeback 2026-11'",
                  "added phone +12125550123");
    struct pollfd item = { pp_db_socket (listener), POLLIN, 0 };
    assert_int_equal (poll (&item, 1, 5000), 1);
    assert_true (pp_db_notifications (listener) >= 1);
    char *note = s_query ("SELECT note FROM blacklist WHERE value = '+12125550123'");
    assert_string_equal (note, "chargeback 2026-11");
    free (note);
    s_expect_cli (0, "blacklist add phone 2125550123", "already");
    s_expect_cli (0, "blacklist add phone 2125550123 --note fraud", "note is updated");
    s_expect_cli (0, "blacklist add cidr 10.9.8.7/8", "added cidr 10.0.0.0/8");
    s_expect_cli (0, "blacklist add email Bob@Example.COM", "added email Bob@example.com");
    s_expect_cli (0, "blacklist add name 'Test  Test'", "added name test test");
    s_expect_cli (0, "blacklist add ip -- ::1", "added ip ::1");

    char *out = NULL;
    assert_int_equal (s_cli (&out, "blacklist list"), 0);
    assert_non_null (strstr (out, "+12125550123"));
    assert_non_null (strstr (out, "fraud"));
    assert_non_null (strstr (out, "10.0.0.0/8"));
    free (out);
    assert_int_equal (s_cli (&out, "blacklist list cidr --format json"), 0);
    cJSON *json = cJSON_Parse (out);
    free (out);
    assert_true (cJSON_IsArray (json));
    assert_int_equal (cJSON_GetArraySize (json), 1);
    cJSON *first = cJSON_GetArrayItem (json, 0);
    assert_string_equal (cJSON_GetObjectItem (first, "kind")->valuestring, "cidr");
    assert_string_equal (cJSON_GetObjectItem (first, "value")->valuestring, "10.0.0.0/8");
    assert_true (cJSON_IsNull (cJSON_GetObjectItem (first, "note")));
    assert_non_null (cJSON_GetObjectItem (first, "created_at"));
    cJSON_Delete (json);

    pp_db_notifications (listener);     //  drain what came before
    zclock_sleep (200);
    pp_db_notifications (listener);
    s_expect_cli (0, "blacklist remove phone '+1 212 555 0123'", "removed phone +12125550123");
    assert_int_equal (poll (&item, 1, 5000), 1);
    assert_true (pp_db_notifications (listener) >= 1);
    assert_int_equal (s_query_long ("SELECT count(*) FROM blacklist WHERE kind = 'phone'"), 0);
    s_expect_cli (1, "blacklist remove phone 2125550123", "not on the blacklist");
    //  A row written by hand that does not normalise is removed as typed
    assert_int_equal (pp_db_script (s_db, "hand row",
        "INSERT INTO blacklist (kind, value) VALUES ('phone', 'junk')"), 0);
    s_expect_cli (0, "blacklist remove phone junk", "removed phone junk");
    //  Removing what the applied file lists says apply brings it back
    s_store ("{\"blacklist\": {\"names\": [\"Mickey Mouse\"]}}");
    s_expect_cli (0, "blacklist remove name 'mickey mouse'", "applying that file again");

    //  Bad input: 1; bad command lines: 64
    s_expect_cli (1, "blacklist add phone 555-0100", "not a US phone number");
    s_expect_cli (1, "blacklist add cidr 10.0.0.0/33", "too many bits");
    s_expect_cli (1, "blacklist add phones 2125550123", "not a kind of entry");
    s_expect_cli (1, "blacklist list phones", "not a kind of entry");
    s_expect_cli (1, "blacklist remove ip nope", "IPv4 or IPv6");
    s_expect_cli (64, "blacklist", "which command");
    s_expect_cli (64, "blacklist add phone", "needs KIND and VALUE");
    s_expect_cli (64, "blacklist add phone 1 2", "unexpected argument");
    s_expect_cli (64, "blacklist frob", "unknown command");
    s_expect_cli (64, "blacklist list --format csv", "table or json");
    s_expect_cli (64, "blacklist list --bogus", "unknown option");
    s_expect_cli (64, "blacklist remove phone 2125550123 --note x", "--note is for add");
    s_expect_cli (64, "blacklist add phone 2125550123 --note", "needs a value");
    pp_db_destroy (&listener);
}

int
main (void)
{
    const struct CMUnitTest memory_tests [] = {
        cmocka_unit_test (test_pp_blacklist_normalise),
        cmocka_unit_test (test_pp_blacklist_phone),
        cmocka_unit_test (test_pp_blacklist_email),
        cmocka_unit_test (test_pp_blacklist_ip),
        cmocka_unit_test (test_pp_blacklist_cidr),
        cmocka_unit_test (test_pp_blacklist_name),
        cmocka_unit_test (test_pp_blacklist_order_and_nothing),
        cmocka_unit_test (test_pp_blacklist_threads),
    };
    const struct CMUnitTest db_tests [] = {
        cmocka_unit_test_setup (test_pp_blacklist_load, s_clear),
        cmocka_unit_test_setup (test_pp_blacklist_load_failure, s_clear),
        cmocka_unit_test_setup (test_pp_blacklist_apply, s_clear),
        cmocka_unit_test_setup (test_pp_blacklist_store_section, s_clear),
        cmocka_unit_test_setup (test_pp_blacklist_analyst_denied, s_clear),
        cmocka_unit_test_setup (test_pp_blacklist_cli, s_clear),
    };
    int failed = cmocka_run_group_tests_name ("pp_blacklist", memory_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name ("pp_blacklist_db", db_tests, s_group_setup,
                                           s_group_teardown);
    return failed;
}
