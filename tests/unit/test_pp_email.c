/*  test_pp_email - email syntax, disposable domains, roles, MX against a local DNS server  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pp_email.h"

#define streq(a, b) (strcmp ((a), (b)) == 0)

//  ---------------------------------------------------------------------------
//  The case table: real-world good and bad addresses, checked against the
//  shipped disposable list and the default roles (none of the good ones is
//  on the list or a role). normal NULL on a good case: the input itself.

typedef struct {
    const char *text;           //  the address as a publisher sends it
    const char *reason;         //  expected reason code, NULL when good
    const char *normal;         //  expected normal form when good and it differs
} s_case_t;

#define GOOD(text) {text, NULL, NULL}
#define GOOD_AS(text, normal) {text, NULL, normal}
#define BAD(text) {text, PP_EMAIL_INVALID, NULL}

static const s_case_t s_cases [] = {
    //  Ordinary addresses
    GOOD ("dana@example.com"),
    GOOD ("john.smith@gmail.com"),
    GOOD ("jane_doe99@hotmail.com"),
    GOOD ("j@outlook.com"),
    GOOD ("john.doe@comcast.net"),
    GOOD ("firstname-lastname@icloud.com"),
    GOOD ("tom.o'neil@aol.com"),
    GOOD ("o'brien@example.com"),
    GOOD ("first_last@example.co.uk"),
    GOOD ("user-name@sub.domain.example.org"),
    GOOD ("user@sub1.sub2.sub3.example.com"),
    GOOD ("a.b.c.d@example.com"),
    GOOD ("12345@example.com"),
    GOOD ("user@123.com"),
    GOOD ("1@1a.com"),
    GOOD ("user@x.com"),
    GOOD ("user@example.com.au"),
    GOOD ("user@example.museum"),
    GOOD ("user@domain.travel"),
    GOOD ("first.last@iana.org"),
    GOOD ("user@my-domain.com"),
    GOOD ("user@a-b-c.d-e.com"),
    GOOD ("user@xn--bcher-kva.de"),            //  bücher.de in its ASCII form
    GOOD ("user@example.xn--p1ai"),            //  .рф in its ASCII form
    GOOD ("info.desk@example.com"),            //  not the role "info"
    GOOD ("info2@example.com"),
    GOOD ("information@example.com"),
    GOOD ("admins@example.com"),
    //  +tags are kept
    GOOD ("john+leads@gmail.com"),
    GOOD ("tom.o'neil+spam@aol.com"),
    GOOD ("john+@gmail.com"),
    GOOD ("+tag@example.com"),
    //  RFC 3696 section 3 examples and every atext special
    GOOD ("customer/department=shipping@example.com"),
    GOOD ("$A12345@example.com"),
    GOOD ("!def!xyz%abc@example.com"),
    GOOD ("_somename@example.com"),
    GOOD ("!#$%&'*+-/=?^_`{|}~@example.com"),
    GOOD ("a%00@example.com"),                 //  a literal "%00": atext, never decoded
    //  Normalisation: trimmed, domain lower-cased, local part as given
    GOOD_AS ("Dana.Doe@Example.COM", "Dana.Doe@example.com"),
    GOOD_AS ("USER@EXAMPLE.COM", "USER@example.com"),
    GOOD_AS ("  john.smith@gmail.com  ", "john.smith@gmail.com"),
    GOOD_AS ("\tjane@yahoo.com\r\n", "jane@yahoo.com"),
    GOOD_AS ("\n\n Mixed.Case+Tag@Sub.Example.Org \t", "Mixed.Case+Tag@sub.example.org"),
    GOOD_AS ("user@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de"),

    //  Structure
    BAD (""),
    BAD ("   "),
    BAD ("\r\n"),
    BAD ("plainaddress"),
    BAD ("@example.com"),
    BAD ("user@"),
    BAD ("@"),
    BAD ("user@@example.com"),
    BAD ("user@exa@mple.com"),
    BAD ("user.example.com"),
    //  Domains
    BAD ("user@localhost"),
    BAD ("user@com"),
    BAD ("user@example"),
    BAD ("user@example.c"),                    //  one-letter top-level label
    BAD ("user@example.123"),                  //  numeric top-level label
    BAD ("user@1.2.3.4"),
    BAD ("user@[1.2.3.4]"),                    //  address literal
    BAD ("user@[IPv6:2001:db8::1]"),
    BAD ("user@example.com."),                 //  trailing root dot
    BAD ("user@.example.com"),
    BAD ("user@example..com"),
    BAD ("user@-example.com"),
    BAD ("user@example-.com"),
    BAD ("user@example.-com"),
    BAD ("user@example.com-"),
    BAD ("user@exa_mple.com"),
    BAD ("user@exa mple.com"),
    BAD ("user@exam\tple.com"),
    BAD ("john@exam!ple.com"),
    BAD ("john@example,com"),
    BAD ("user@example.com/../../etc/passwd"),
    //  Local parts
    BAD (".user@example.com"),
    BAD ("user.@example.com"),
    BAD ("us..er@example.com"),
    BAD ("..@example.com"),
    BAD (".@example.com"),
    BAD ("\"john doe\"@example.com"),          //  quoted local part
    BAD ("\"john\"@example.com"),
    BAD ("\"john@doe\"@example.com"),
    BAD ("john doe@example.com"),
    BAD ("john(comment)@example.com"),
    BAD ("john\\@example.com"),
    BAD ("john,doe@example.com"),
    BAD ("john;doe@example.com"),
    BAD ("john:doe@example.com"),
    BAD ("john[1]@example.com"),
    //  Several addresses, display names and URIs
    BAD ("john@example.com (John)"),
    BAD ("John Doe <john@example.com>"),
    BAD ("<john@example.com>"),
    BAD ("mailto:john@example.com"),
    BAD ("john@example.com,jane@example.com"),
    BAD ("john@example.com;jane@example.com"),
    BAD ("john@example.com jane@example.com"),
    //  Injection strings
    BAD ("a@b.com' OR '1'='1"),
    BAD ("a@b.com'--"),
    BAD ("' OR 1=1 --@example.com"),
    BAD ("\"; DROP TABLE leads; --@example.com"),
    BAD ("<script>@x.com"),
    BAD ("<script>alert(1)</script>@example.com"),
    BAD ("user@<script>.com"),
    BAD ("a@b.com\r\nBcc: x@y.com"),
    BAD ("a@b.com\nBcc: x@y.com"),
    BAD ("a@b.com\r\n\r\nbody"),
    BAD ("a@b.com%0d%0aBcc:x@y.com"),
    BAD ("%00"),
    BAD ("a@b.com%00"),
    BAD ("a@b%00.com"),
    BAD ("a@b.com\x01"),
    BAD ("a\x7f@example.com"),
    BAD ("a\x1b[31m@example.com"),
    BAD ("${jndi:ldap://evil.example/a}@example.com"),
    BAD ("user@example.com?subject=hi"),
    BAD ("user@example.com#frag"),
    BAD ("../../../etc/passwd"),
    BAD ("user@example.com\\"),
    //  Unicode: internationalised addresses and look-alikes
    BAD ("jos\xc3\xa9@example.com"),           //  josé@
    BAD ("Pel\xc3\xa9@example.com"),
    BAD ("user@b\xc3\xbc" "cher.de"),          //  user@bücher.de
    BAD ("us\xc3\xa9r@ex\xc3\xa1mple.com"),
    //  用户@例子.广告
    BAD ("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a"),
    BAD ("user@\xe4\xbe\x8b\xe3\x81\x88.jp"),  //  user@例え.jp
    //  почта@пример.рф
    BAD ("\xd0\xbf\xd0\xbe\xd1\x87\xd1\x82\xd0\xb0@"
         "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84"),
    BAD ("\xf0\x9f\x98\x80@example.com"),      //  an emoji
    BAD ("\xd0\xb0" "dmin@example.com"),       //  Cyrillic a: a homoglyph of admin
    BAD ("user@ex\xd0\xb0mple.com"),           //  Cyrillic a in the domain
    BAD ("user@example.com\xe2\x80\x8b"),      //  zero-width space
    BAD ("\xc2\xa0user@example.com"),          //  no-break space is not trimmed
    BAD ("user@example.com\xc2\xa0"),
    BAD ("user\xef\xbc\xa0" "example.com"),    //  fullwidth commercial at
    BAD ("\xff@example.com"),                  //  not UTF-8
    BAD ("\xc0\xae@example.com"),              //  overlong encoding of '.'
};

#define S_CASES (sizeof (s_cases) / sizeof (s_cases [0]))

//  The shipped list, loaded once for the tests that use it.
static pp_email_t *s_shipped;

static int
s_group_setup (void **state)
{
    s_shipped = pp_email_new (pp_email_default_path ());
    if (!s_shipped) {
        fprintf (stderr, "cannot load %s\n", pp_email_default_path ());
        return -1;
    }
    printf ("loaded %zu disposable domains from %s\n", pp_email_disposable_size (s_shipped),
            pp_email_default_path ());
    return 0;
}

static int
s_group_teardown (void **state)
{
    pp_email_destroy (&s_shipped);
    return 0;
}

//  Printable form of a case for failure messages (no control bytes on the terminal).
static const char *
s_show (const char *text, char *buffer, size_t size)
{
    size_t used = 0;
    for (const unsigned char *at = (const unsigned char *) text; *at && used + 5 < size; at++)
        used += (size_t) snprintf (buffer + used, size - used, isprint (*at) ? "%c" : "\\x%02x",
                                   *at);
    buffer [used] = '\0';
    return buffer;
}

//  Check one case; count the failures and print each.
static int
s_run_case (const pp_email_t *email, const s_case_t *test)
{
    char normal [PP_EMAIL_NORMAL_SIZE];
    const char *reason = pp_email_check (email, test->text, normal, sizeof (normal));
    const char *want_normal = test->normal ? test->normal : test->text;
    bool ok = test->reason ? reason && streq (reason, test->reason) && normal [0] == '\0'
                           : !reason && streq (normal, want_normal);
    if (!ok) {
        char shown [512];
        fprintf (stderr, "case '%s': got %s '%s', want %s '%s'\n",
                 s_show (test->text, shown, sizeof (shown)), reason ? reason : "good", normal,
                 test->reason ? test->reason : "good", test->reason ? "" : want_normal);
    }
    return ok ? 0 : 1;
}

static void
test_pp_email_table (void **state)
{
    size_t good = 0, failures = 0;
    for (size_t i = 0; i < S_CASES; i++) {
        failures += (size_t) s_run_case (s_shipped, &s_cases [i]);
        good += s_cases [i].reason == NULL;
    }
    printf ("%zu cases: %zu good, %zu bad\n", S_CASES, good, S_CASES - good);
    assert_true (S_CASES >= 100);
    assert_true (good >= 30 && S_CASES - good >= 60);
    assert_int_equal (failures, 0);
    //  The verdict does not need an output buffer
    assert_null (pp_email_check (s_shipped, "dana@example.com", NULL, 0));
    assert_string_equal (pp_email_check (s_shipped, "dana@", NULL, 0), PP_EMAIL_INVALID);
    assert_string_equal (pp_email_check (s_shipped, NULL, NULL, 0), PP_EMAIL_INVALID);
}

//  text = local part of local_len 'l's, '@', then domain.
static void
s_address (char *text, size_t local_len, const char *domain)
{
    memset (text, 'l', local_len);
    text [local_len] = '@';
    strcpy (text + local_len + 1, domain);
}

static void
test_pp_email_limits (void **state)
{
    char text [600], normal [PP_EMAIL_NORMAL_SIZE], domain [300];
    //  Local part: 64 is the most
    s_address (text, 64, "example.com");
    assert_null (pp_email_check (s_shipped, text, normal, sizeof (normal)));
    assert_string_equal (normal, text);
    s_address (text, 65, "example.com");
    assert_string_equal (pp_email_check (s_shipped, text, normal, sizeof (normal)),
                         PP_EMAIL_INVALID);
    assert_string_equal (normal, "");

    //  A label: 63 is the most, in any position
    memset (domain, 'd', 63);
    strcpy (domain + 63, ".com");
    s_address (text, 4, domain);
    assert_null (pp_email_check (s_shipped, text, NULL, 0));
    memset (domain, 'd', 64);
    strcpy (domain + 64, ".com");
    s_address (text, 4, domain);
    assert_string_equal (pp_email_check (s_shipped, text, NULL, 0), PP_EMAIL_INVALID);
    strcpy (domain, "example.");
    memset (domain + 8, 't', 63);
    domain [71] = '\0';
    s_address (text, 4, domain);
    assert_null (pp_email_check (s_shipped, text, NULL, 0));
    domain [71] = 't';
    domain [72] = '\0';
    s_address (text, 4, domain);
    assert_string_equal (pp_email_check (s_shipped, text, NULL, 0), PP_EMAIL_INVALID);

    //  The whole address: 254 is the most (64 + 1 + 63.63.57.com = 254)
    memset (domain, 'a', 63);
    domain [63] = '.';
    memset (domain + 64, 'b', 63);
    domain [127] = '.';
    memset (domain + 128, 'c', 57);
    strcpy (domain + 185, ".com");
    s_address (text, 64, domain);
    assert_int_equal (strlen (text), 254);
    assert_null (pp_email_check (s_shipped, text, normal, sizeof (normal)));
    assert_string_equal (normal, text);
    //  White space around it does not count
    char padded [600];
    snprintf (padded, sizeof (padded), "  %s \r\n", text);
    assert_null (pp_email_check (s_shipped, padded, normal, sizeof (normal)));
    assert_string_equal (normal, text);
    //  One more character anywhere is too many
    memset (domain + 128, 'c', 58);
    strcpy (domain + 186, ".com");
    s_address (text, 64, domain);
    assert_int_equal (strlen (text), 255);
    assert_string_equal (pp_email_check (s_shipped, text, normal, sizeof (normal)),
                         PP_EMAIL_INVALID);
    s_address (text, 63, domain);
    assert_int_equal (strlen (text), 254);
    assert_null (pp_email_check (s_shipped, text, NULL, 0));
    //  A long string is refused whatever it holds
    memset (text, 'a', sizeof (text) - 1);
    text [sizeof (text) - 1] = '\0';
    text [10] = '@';
    assert_string_equal (pp_email_check (s_shipped, text, NULL, 0), PP_EMAIL_INVALID);
}

//  ---------------------------------------------------------------------------
//  Disposable domains

//  Write text to a new temporary file; its path goes to path (a buffer of 64).
static void
s_write_temp (char *path, const char *text)
{
    strcpy (path, "/tmp/test_pp_email.XXXXXX");
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    size_t len = strlen (text);
    assert_int_equal (write (fd, text, len), (ssize_t) len);
    close (fd);
}

static void
test_pp_email_disposable (void **state)
{
    char path [64];
    s_write_temp (path, "# a test list\n"
                        "mailinator.com\n"
                        "guerrillamail.com\r\n"
                        "\n"
                        "yopmail.net\n"
                        "mailinator.com\n"
                        "trash.mail.example.org");       //  no final newline
    pp_email_t *email = pp_email_new (path);
    unlink (path);
    assert_non_null (email);
    assert_int_equal (pp_email_disposable_size (email), 4);
    char normal [PP_EMAIL_NORMAL_SIZE];

    //  Exact, any case, and every subdomain
    const char *hits [] = {"x@mailinator.com",       "x@MAILINATOR.COM",
                           "x@mail.mailinator.com",  "x@a.b.c.mailinator.com",
                           "x@guerrillamail.com",    "x@yopmail.net",
                           "x@trash.mail.example.org", "x@in.trash.mail.example.org",
                           " Dana@Mailinator.Com "};
    for (size_t i = 0; i < sizeof (hits) / sizeof (hits [0]); i++) {
        const char *reason = pp_email_check (email, hits [i], normal, sizeof (normal));
        if (!reason || !streq (reason, PP_EMAIL_DISPOSABLE))
            fprintf (stderr, "%s: %s\n", hits [i], reason ? reason : "good");
        assert_non_null (reason);
        assert_string_equal (reason, PP_EMAIL_DISPOSABLE);
        assert_string_equal (normal, "");
    }
    //  Near misses: other domains, not label-aligned, a listed name as a subdomain
    const char *misses [] = {"x@mailinator.co",          "x@mailinator.org",
                             "x@notmailinator.com",      "x@mymailinator.com",
                             "x@mailinator.com.evil.org", "x@mailinator-com.net",
                             "x@mail.example.org",       "x@example.org",
                             "x@yopmail.com",            "x@guerrillamail.co.uk"};
    for (size_t i = 0; i < sizeof (misses) / sizeof (misses [0]); i++) {
        const char *reason = pp_email_check (email, misses [i], normal, sizeof (normal));
        if (reason)
            fprintf (stderr, "%s: %s\n", misses [i], reason);
        assert_null (reason);
        assert_string_equal (normal, misses [i]);
    }
    //  Syntax comes first, then disposable, then role
    assert_string_equal (pp_email_check (email, "x@mailinator.com.", NULL, 0), PP_EMAIL_INVALID);
    assert_string_equal (pp_email_check (email, "admin@mailinator.com", NULL, 0),
                         PP_EMAIL_DISPOSABLE);
    assert_string_equal (pp_email_check (email, "admin@example.org", NULL, 0), PP_EMAIL_ROLE);
    pp_email_destroy (&email);
    assert_null (email);
    pp_email_destroy (&email);

    //  No list: no disposable check
    email = pp_email_new (NULL);
    assert_non_null (email);
    assert_int_equal (pp_email_disposable_size (email), 0);
    assert_null (pp_email_check (email, "x@mailinator.com", NULL, 0));
    assert_string_equal (pp_email_check (email, "info@mailinator.com", NULL, 0), PP_EMAIL_ROLE);
    pp_email_destroy (&email);
}

static void
test_pp_email_shipped_list (void **state)
{
    assert_true (pp_email_disposable_size (s_shipped) > 1000);
    const char *listed [] = {"x@mailinator.com", "x@guerrillamail.com", "x@yopmail.com",
                             "x@10minutemail.com", "x@sharklasers.com", "x@a.mailinator.com"};
    for (size_t i = 0; i < sizeof (listed) / sizeof (listed [0]); i++) {
        const char *reason = pp_email_check (s_shipped, listed [i], NULL, 0);
        assert_non_null (reason);
        assert_string_equal (reason, PP_EMAIL_DISPOSABLE);
    }
    //  The big US mailbox providers must never be on it
    const char *providers [] = {"gmail.com",  "yahoo.com",    "outlook.com", "hotmail.com",
                                "aol.com",    "icloud.com",   "comcast.net", "att.net",
                                "verizon.net", "msn.com",     "live.com",    "me.com",
                                "sbcglobal.net", "cox.net",   "charter.net", "bellsouth.net",
                                "ymail.com",  "protonmail.com", "gmx.com",   "mail.com"};
    for (size_t i = 0; i < sizeof (providers) / sizeof (providers [0]); i++) {
        char text [64];
        snprintf (text, sizeof (text), "dana.doe@%s", providers [i]);
        const char *reason = pp_email_check (s_shipped, text, NULL, 0);
        if (reason)
            fprintf (stderr, "%s: %s\n", text, reason);
        assert_null (reason);
    }
}

static void
test_pp_email_bad_files (void **state)
{
    assert_null (pp_email_new ("/nonexistent/disposable-domains.txt"));
    assert_null (pp_email_new ("/tmp"));        //  a directory
    const char *bad [] = {"mailinator.com\nMailinator.net\n",    //  capitals
                          "mailinator.com\nlocalhost\n",         //  one label
                          "bad_domain.com\n",
                          "mailinator.com.\n",
                          " mailinator.com\n",
                          "mailinator.com # comment\n",
                          "m\xc3\xa4il.com\n",
                          "example.123\n"};
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        char path [64];
        s_write_temp (path, bad [i]);
        pp_email_t *email = pp_email_new (path);
        unlink (path);
        assert_null (email);
    }
    //  An empty list (or only comments) is a list of nothing
    char path [64];
    s_write_temp (path, "# nothing yet\n\n");
    pp_email_t *email = pp_email_new (path);
    unlink (path);
    assert_non_null (email);
    assert_int_equal (pp_email_disposable_size (email), 0);
    assert_null (pp_email_check (email, "x@mailinator.com", NULL, 0));
    pp_email_destroy (&email);
}

static void
test_pp_email_default_path (void **state)
{
    setenv ("PINGPOST_EMAIL_DATA", "/srv/pingpost/domains.txt", 1);
    assert_string_equal (pp_email_default_path (), "/srv/pingpost/domains.txt");
    setenv ("PINGPOST_EMAIL_DATA", "", 1);
    assert_string_equal (pp_email_default_path (), PP_EMAIL_DATA);
    unsetenv ("PINGPOST_EMAIL_DATA");
    assert_string_equal (pp_email_default_path (), PP_EMAIL_DATA);
}

//  ---------------------------------------------------------------------------
//  Role accounts

static void
test_pp_email_roles (void **state)
{
    pp_email_t *email = pp_email_new (NULL);
    assert_non_null (email);
    //  The default list, any case, +tags ignored
    const char *roles [] = {"admin@example.com",      "administrator@example.com",
                            "info@example.com",       "Info@example.com",
                            "SALES@example.com",      "support+leads@example.com",
                            "help@example.com",       "contact@example.com",
                            "office@example.com",     "webmaster@example.com",
                            "postmaster@example.com", "hostmaster@example.com",
                            "abuse@example.com",      "noreply@example.com",
                            "no-reply@example.com",   "Marketing+2024@example.com",
                            "billing@example.com",    "root@example.com"};
    for (size_t i = 0; i < sizeof (roles) / sizeof (roles [0]); i++) {
        const char *reason = pp_email_check (email, roles [i], NULL, 0);
        if (!reason || !streq (reason, PP_EMAIL_ROLE))
            fprintf (stderr, "%s: %s\n", roles [i], reason ? reason : "good");
        assert_non_null (reason);
        assert_string_equal (reason, PP_EMAIL_ROLE);
    }
    const char *people [] = {"info2@example.com",  "admins@example.com", "john.info@example.com",
                             "info.sales@example.com", "+info@example.com", "rooted@example.com",
                             "no_reply@example.com", "dana@example.com"};
    for (size_t i = 0; i < sizeof (people) / sizeof (people [0]); i++)
        assert_null (pp_email_check (email, people [i], NULL, 0));

    //  A custom list replaces the default
    const char *custom [] = {"Leads", "team", "do.not.reply"};
    assert_int_equal (pp_email_set_roles (email, custom, 3), 0);
    assert_string_equal (pp_email_check (email, "leads@example.com", NULL, 0), PP_EMAIL_ROLE);
    assert_string_equal (pp_email_check (email, "LEADS+x@example.com", NULL, 0), PP_EMAIL_ROLE);
    assert_string_equal (pp_email_check (email, "Team@example.com", NULL, 0), PP_EMAIL_ROLE);
    assert_string_equal (pp_email_check (email, "do.not.reply@example.com", NULL, 0),
                         PP_EMAIL_ROLE);
    assert_null (pp_email_check (email, "admin@example.com", NULL, 0));
    assert_null (pp_email_check (email, "info@example.com", NULL, 0));
    assert_null (pp_email_check (email, "teams@example.com", NULL, 0));

    //  A bad entry changes nothing
    const char *bad_lists [][2] = {{"sales", ""},  {"sales", "a b"}, {"sales", "x+y"},
                                   {"sales", ".x"}, {"sales", "j\xc3\xa9"}, {"sales", NULL}};
    for (size_t i = 0; i < sizeof (bad_lists) / sizeof (bad_lists [0]); i++)
        assert_int_equal (pp_email_set_roles (email, bad_lists [i], 2), -1);
    assert_string_equal (pp_email_check (email, "team@example.com", NULL, 0), PP_EMAIL_ROLE);
    assert_null (pp_email_check (email, "sales@example.com", NULL, 0));

    //  No roles at all
    assert_int_equal (pp_email_set_roles (email, NULL, 0), 0);
    assert_null (pp_email_check (email, "team@example.com", NULL, 0));
    assert_null (pp_email_check (email, "admin@example.com", NULL, 0));
    //  Many roles (the set grows)
    char names [300][8];
    const char *many [300];
    for (int i = 0; i < 300; i++) {
        snprintf (names [i], sizeof (names [i]), "r%d", i);
        many [i] = names [i];
    }
    assert_int_equal (pp_email_set_roles (email, many, 300), 0);
    assert_string_equal (pp_email_check (email, "R299@example.com", NULL, 0), PP_EMAIL_ROLE);
    assert_string_equal (pp_email_check (email, "r0@example.com", NULL, 0), PP_EMAIL_ROLE);
    assert_null (pp_email_check (email, "r300@example.com", NULL, 0));
    pp_email_destroy (&email);
}

//  ---------------------------------------------------------------------------
//  Many threads share one checker

#define S_THREADS 4
#define S_ROUNDS 200

static void *
s_checker (void *arg)
{
    size_t failures = 0;
    for (int round = 0; round < S_ROUNDS; round++)
        for (size_t i = 0; i < S_CASES; i++) {
            char normal [PP_EMAIL_NORMAL_SIZE];
            const char *reason = pp_email_check (s_shipped, s_cases [i].text, normal,
                                                 sizeof (normal));
            const char *want = s_cases [i].normal ? s_cases [i].normal : s_cases [i].text;
            if (s_cases [i].reason ? !reason : (reason || !streq (normal, want)))
                failures++;
        }
    *(size_t *) arg = failures;
    return NULL;
}

static void
test_pp_email_threads (void **state)
{
    pthread_t threads [S_THREADS];
    size_t failures [S_THREADS];
    for (int i = 0; i < S_THREADS; i++) {
        failures [i] = 1;
        assert_int_equal (pthread_create (&threads [i], NULL, s_checker, &failures [i]), 0);
    }
    for (int i = 0; i < S_THREADS; i++) {
        pthread_join (threads [i], NULL);
        assert_int_equal (failures [i], 0);
    }
}

//  ---------------------------------------------------------------------------
//  MX: a small authoritative DNS server on 127.0.0.1, in a thread of the test.
//  Its zone:
//    hasmx.example     MX 10 mail.hasmx.example
//    nxdomain.example  NXDOMAIN for every type
//    silent.example    never answers
//    aonly.example     no MX, A 192.0.2.1
//    v6only.example    no MX, AAAA 2001:db8::1
//    nomail.example    exists, no MX, A or AAAA
//    nullmx.example    MX 0 . (RFC 7505)
//    servfail.example  SERVFAIL
//    refused.example   REFUSED
//    slowaddr.example  no MX; A and AAAA never answered
//    anything else     NXDOMAIN

typedef struct {
    int fd;                     //  the UDP socket
    int stop [2];               //  a pipe: a byte on it stops the thread
    int port;                   //  the port it listens on
    pthread_t thread;           //  the server
    pthread_mutex_t lock;       //  guards the counters
    int queries;                //  queries seen
    int a_queries;              //  of them, type A or AAAA
} s_dns_t;

#define S_TYPE_A 1
#define S_TYPE_MX 15
#define S_TYPE_AAAA 28

//  Append a resource record for the question name (a pointer to offset 12).
static size_t
s_add_record (uint8_t *out, size_t used, int type, const uint8_t *data, size_t size)
{
    uint8_t head [12] = {0xc0, 0x0c, 0, (uint8_t) type, 0, 1, 0, 0, 0x0e, 0x10,
                         (uint8_t) (size >> 8), (uint8_t) size};
    memcpy (out + used, head, sizeof (head));
    memcpy (out + used + sizeof (head), data, size);
    return used + sizeof (head) + size;
}

//  Answer one query in place of out; returns the answer's length, 0 to stay silent.
static size_t
s_dns_answer (s_dns_t *self, const uint8_t *query, size_t size, uint8_t *out)
{
    if (size < 17 || (query [2] & 0x80) || query [4] != 0 || query [5] != 1)
        return 0;
    char name [256];
    size_t used = 0, at = 12;
    while (at < size && query [at] != 0) {
        size_t len = query [at++];
        if (len > 63 || at + len >= size || used + len + 2 > sizeof (name))
            return 0;
        if (used)
            name [used++] = '.';
        for (size_t i = 0; i < len; i++)
            name [used++] = (char) tolower (query [at + i]);
        at += len;
    }
    name [used] = '\0';
    at++;                                   //  the root label
    if (at + 4 > size)
        return 0;
    int type = query [at] << 8 | query [at + 1];
    size_t question_end = at + 4;
    pthread_mutex_lock (&self->lock);
    self->queries++;
    if (type == S_TYPE_A || type == S_TYPE_AAAA)
        self->a_queries++;
    pthread_mutex_unlock (&self->lock);

    int rcode = 0;
    const uint8_t *data = NULL;
    size_t data_size = 0;
    static const uint8_t mx [] = {0, 10, 4, 'm', 'a', 'i', 'l', 5, 'h', 'a', 's', 'm', 'x',
                                  7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    static const uint8_t null_mx [] = {0, 0, 0};
    static const uint8_t a [] = {192, 0, 2, 1};
    static const uint8_t aaaa [] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (streq (name, "silent.example"))
        return 0;
    else
    if (streq (name, "hasmx.example") && type == S_TYPE_MX)
        data = mx, data_size = sizeof (mx);
    else
    if (streq (name, "nullmx.example") && type == S_TYPE_MX)
        data = null_mx, data_size = sizeof (null_mx);
    else
    if (streq (name, "aonly.example") && type == S_TYPE_A)
        data = a, data_size = sizeof (a);
    else
    if (streq (name, "v6only.example") && type == S_TYPE_AAAA)
        data = aaaa, data_size = sizeof (aaaa);
    else
    if (streq (name, "slowaddr.example") && type != S_TYPE_MX)
        return 0;
    else
    if (streq (name, "servfail.example"))
        rcode = 2;
    else
    if (streq (name, "refused.example"))
        rcode = 5;
    else
    if (!streq (name, "hasmx.example") && !streq (name, "nullmx.example")
        && !streq (name, "aonly.example") && !streq (name, "v6only.example")
        && !streq (name, "nomail.example") && !streq (name, "slowaddr.example"))
        rcode = 3;

    memcpy (out, query, question_end);
    out [2] = (uint8_t) (0x84 | (query [2] & 0x79));   //  QR, AA, the opcode and RD
    out [3] = (uint8_t) (0x80 | rcode);                 //  RA
    out [6] = 0;
    out [7] = data ? 1 : 0;
    memset (out + 8, 0, 4);
    return data ? s_add_record (out, question_end, type, data, data_size) : question_end;
}

static void *
s_dns_run (void *arg)
{
    s_dns_t *self = (s_dns_t *) arg;
    while (true) {
        struct pollfd fds [2] = {{self->fd, POLLIN, 0}, {self->stop [0], POLLIN, 0}};
        if (poll (fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds [1].revents)
            break;
        if (!fds [0].revents)
            continue;
        uint8_t query [512], answer [600];
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof (peer);
        ssize_t got = recvfrom (self->fd, query, sizeof (query), 0, (struct sockaddr *) &peer,
                                &peer_len);
        if (got <= 0)
            continue;
        size_t size = s_dns_answer (self, query, (size_t) got, answer);
        if (size)
            sendto (self->fd, answer, size, 0, (struct sockaddr *) &peer, peer_len);
    }
    return NULL;
}

//  A bound UDP socket on 127.0.0.1 and an ephemeral port; *port_p gets the port.
static int
s_udp_socket (int *port_p)
{
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address;
    memset (&address, 0, sizeof (address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (fd, (struct sockaddr *) &address, sizeof (address)), 0);
    socklen_t len = sizeof (address);
    assert_int_equal (getsockname (fd, (struct sockaddr *) &address, &len), 0);
    *port_p = ntohs (address.sin_port);
    return fd;
}

static s_dns_t *
s_dns_start (char *nameserver, size_t size)
{
    s_dns_t *self = (s_dns_t *) calloc (1, sizeof (s_dns_t));
    assert_non_null (self);
    self->fd = s_udp_socket (&self->port);
    assert_int_equal (pipe (self->stop), 0);
    pthread_mutex_init (&self->lock, NULL);
    assert_int_equal (pthread_create (&self->thread, NULL, s_dns_run, self), 0);
    snprintf (nameserver, size, "127.0.0.1:%d", self->port);
    return self;
}

static void
s_dns_stop (s_dns_t **self_p)
{
    s_dns_t *self = *self_p;
    assert_int_equal (write (self->stop [1], "x", 1), 1);
    pthread_join (self->thread, NULL);
    close (self->fd);
    close (self->stop [0]);
    close (self->stop [1]);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

static void
s_dns_counts (s_dns_t *self, int *queries, int *a_queries)
{
    pthread_mutex_lock (&self->lock);
    *queries = self->queries;
    *a_queries = self->a_queries;
    self->queries = 0;
    self->a_queries = 0;
    pthread_mutex_unlock (&self->lock);
}

static double
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000.0 + now.tv_nsec / 1e6;
}

static void
test_pp_email_mx_answers (void **state)
{
    char nameserver [64];
    s_dns_t *dns = s_dns_start (nameserver, sizeof (nameserver));
    int queries, a_queries;
    struct {
        const char *domain;     //  asked
        int result;             //  expected
        int queries;            //  queries the server should see
        int a_queries;          //  of them A or AAAA
    } cases [] = {
        {"hasmx.example", 1, 1, 0},     {"HasMX.Example", 1, 1, 0},
        {"nxdomain.example", 0, 1, 0},  {"unknown.example", 0, 1, 0},
        {"nullmx.example", 0, 1, 0},    {"aonly.example", 1, 3, 2},
        {"v6only.example", 1, 3, 2},    {"nomail.example", 0, 3, 2},
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases [0]); i++) {
        int result = pp_email_mx_check (cases [i].domain, 1000, nameserver);
        s_dns_counts (dns, &queries, &a_queries);
        if (result != cases [i].result || queries != cases [i].queries)
            fprintf (stderr, "%s: %d after %d queries\n", cases [i].domain, result, queries);
        assert_int_equal (result, cases [i].result);
        assert_int_equal (queries, cases [i].queries);
        assert_int_equal (a_queries, cases [i].a_queries);
    }
    //  Server failures are ours to absorb: -1, never a rejection
    assert_int_equal (pp_email_mx_check ("servfail.example", 1000, nameserver), -1);
    assert_int_equal (pp_email_mx_check ("refused.example", 1000, nameserver), -1);
    s_dns_stop (&dns);
    assert_null (dns);
}

static void
test_pp_email_mx_timeout (void **state)
{
    char nameserver [64];
    s_dns_t *dns = s_dns_start (nameserver, sizeof (nameserver));
    int queries, a_queries;
    int budgets [] = {200, 100};
    for (size_t i = 0; i < sizeof (budgets) / sizeof (budgets [0]); i++) {
        double start = s_now_ms ();
        int result = pp_email_mx_check ("silent.example", budgets [i], nameserver);
        double took = s_now_ms () - start;
        printf ("silent.example, %d ms budget: %d after %.1f ms\n", budgets [i], result, took);
        assert_int_equal (result, -1);
        assert_true (took >= budgets [i] * 0.75);
        assert_true (took <= budgets [i] + 150);
        s_dns_counts (dns, &queries, &a_queries);
        assert_true (queries >= 1);     //  it did ask (and retried within the budget)
    }
    //  No MX, and then the address queries time out: still -1 within the budget
    double start = s_now_ms ();
    assert_int_equal (pp_email_mx_check ("slowaddr.example", 200, nameserver), -1);
    double took = s_now_ms () - start;
    assert_true (took <= 200 + 150);
    s_dns_counts (dns, &queries, &a_queries);
    assert_true (a_queries >= 2);
    //  Three silent servers: c-ares alone would try each twice (9 x a third
    //  of the budget); the deadline still holds
    int ports [3], fds [3];
    for (int i = 0; i < 3; i++)
        fds [i] = s_udp_socket (&ports [i]);
    char list [160];
    snprintf (list, sizeof (list), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", ports [0], ports [1],
              ports [2]);
    start = s_now_ms ();
    assert_int_equal (pp_email_mx_check ("hasmx.example", 200, list), -1);
    took = s_now_ms () - start;
    printf ("three silent servers, 200 ms budget: %.1f ms\n", took);
    assert_true (took >= 150 && took <= 200 + 150);
    for (int i = 0; i < 3; i++)
        close (fds [i]);
    //  A good answer comes well inside a tight budget
    start = s_now_ms ();
    assert_int_equal (pp_email_mx_check ("hasmx.example", 200, nameserver), 1);
    assert_true (s_now_ms () - start < 200);
    s_dns_stop (&dns);
}

static void
test_pp_email_mx_errors (void **state)
{
    //  Nobody listens on the port: an error, never a verdict
    int port;
    int fd = s_udp_socket (&port);
    close (fd);
    char nameserver [64];
    snprintf (nameserver, sizeof (nameserver), "127.0.0.1:%d", port);
    double start = s_now_ms ();
    assert_int_equal (pp_email_mx_check ("hasmx.example", 300, nameserver), -1);
    assert_true (s_now_ms () - start <= 300 + 150);
    //  Bad arguments
    assert_int_equal (pp_email_mx_check (NULL, 100, nameserver), -1);
    assert_int_equal (pp_email_mx_check ("", 100, nameserver), -1);
    assert_int_equal (pp_email_mx_check ("bad_domain.example", 100, nameserver), -1);
    assert_int_equal (pp_email_mx_check ("x@hasmx.example", 100, nameserver), -1);
    assert_int_equal (pp_email_mx_check ("hasmx.example", 0, nameserver), -1);
    assert_int_equal (pp_email_mx_check ("hasmx.example", -5, nameserver), -1);
    assert_int_equal (pp_email_mx_check ("hasmx.example", 100, "not-an-address"), -1);
    assert_int_equal (pp_email_mx_check ("hasmx.example", 100, ""), -1);
    const char *bad_servers [] = {"127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:", "127.0.0.1:53x",
                                  "[::1]:53x", "[::1", "::1]:53", "1.2.3", "127.0.0.1,",
                                  "127.0.0.1;127.0.0.2", " 127.0.0.1"};
    for (size_t i = 0; i < sizeof (bad_servers) / sizeof (bad_servers [0]); i++) {
        start = s_now_ms ();
        assert_int_equal (pp_email_mx_check ("hasmx.example", 100, bad_servers [i]), -1);
        assert_true (s_now_ms () - start < 50);     //  refused before asking anyone
    }
}

static void
test_pp_email_mx_nameservers (void **state)
{
    //  A list: the first server is silent, the second answers
    char nameserver [64];
    s_dns_t *dns = s_dns_start (nameserver, sizeof (nameserver));
    int port;
    int fd = s_udp_socket (&port);             //  bound, never read: a silent server
    char list [160];
    snprintf (list, sizeof (list), "127.0.0.1:%d,%s", port, nameserver);
    assert_int_equal (pp_email_mx_check ("hasmx.example", 1000, list), 1);
    assert_int_equal (pp_email_mx_check ("nxdomain.example", 1000, list), 0);
    close (fd);
    s_dns_stop (&dns);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_email_table),
        cmocka_unit_test (test_pp_email_limits),
        cmocka_unit_test (test_pp_email_disposable),
        cmocka_unit_test (test_pp_email_shipped_list),
        cmocka_unit_test (test_pp_email_bad_files),
        cmocka_unit_test (test_pp_email_default_path),
        cmocka_unit_test (test_pp_email_roles),
        cmocka_unit_test (test_pp_email_threads),
        cmocka_unit_test (test_pp_email_mx_answers),
        cmocka_unit_test (test_pp_email_mx_timeout),
        cmocka_unit_test (test_pp_email_mx_errors),
        cmocka_unit_test (test_pp_email_mx_nameservers),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
