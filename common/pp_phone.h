/*  pp_phone - US phone numbers: libphonenumber's numbering plan plus our lead-quality rules  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_PHONE_H_INCLUDED
#define PP_PHONE_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Longest text pp_phone_check reads, in bytes; longer text is malformed.
#define PP_PHONE_MAX_TEXT 64
//  Room for the E.164 form of a US number: "+1", ten digits and the NUL.
#define PP_PHONE_E164_SIZE 13
//  Room for a region code: two capitals ("US", "PR", "CA", "ZZ") and the NUL.
#define PP_PHONE_REGION_SIZE 3

//  What pp_phone_check thinks of a phone number. Only PP_PHONE_OK passes;
//  each other verdict is one reason, in the order they are checked.
typedef enum {
    PP_PHONE_OK = 0,            //  a valid number of the US or a territory, passing our rules
    PP_PHONE_MALFORMED,         //  not phone text: NULL, empty, longer than PP_PHONE_MAX_TEXT,
                                //  a character other than ASCII digits and " -.()+" (so letters,
                                //  any non-ASCII byte, controls, quotes), a '+' anywhere but first,
                                //  a '-' or '.' first or last, or parentheses not around the
                                //  three-digit area code
    PP_PHONE_INVALID,           //  phone text, but no number of the numbering plan: wrong length,
                                //  an area code or exchange not in service (libphonenumber says)
    PP_PHONE_FOREIGN,           //  a number outside our market: another country code with a
                                //  length possible there (+44 ..., 011 44 ...), or a valid number
                                //  of a NANP region other than the US and its territories
                                //  (Canada, Jamaica, the Bahamas, ...)
    PP_PHONE_PATTERN,           //  the last seven digits (exchange and line) are one digit repeated
                                //  or a run up or down, wrapping 9-0: 555-5555, 234-5678,
                                //  876-5432, 890-1234; so every ten-digit run (123-456-7890)
                                //  and every ten same digits fail here too
    PP_PHONE_FICTITIOUS,        //  exchange 555 with line 0100-0199 (NANPA's range for fiction) or
                                //  1212 (directory assistance): never a consumer's line
    PP_PHONE_N11                //  the exchange is N11 (211, 311, ..., 911): service codes
} pp_phone_verdict_t;

//  The kind of line a valid number belongs to, from libphonenumber's metadata.
//  For most US numbers the plan cannot tell mobile from fixed, and the answer
//  is PP_LINE_FIXED_OR_MOBILE; toll-free (8xx) and premium (900) numbers are
//  told apart. Buyers filter on the names (pp_line_type_name).
typedef enum {
    PP_LINE_UNKNOWN = 0,        //  no valid number (never the type of a valid one)
    PP_LINE_MOBILE,             //  mobile only (some territories, e.g. American Samoa)
    PP_LINE_FIXED,              //  fixed line only
    PP_LINE_FIXED_OR_MOBILE,    //  either: the plan does not say (most of the NANP)
    PP_LINE_TOLL_FREE,          //  800, 833, 844, 855, 866, 877, 888
    PP_LINE_VOIP,               //  VoIP ranges the plan names (none in the US today)
    PP_LINE_PREMIUM,            //  900
    PP_LINE_OTHER               //  personal (5XX), shared cost, pager, UAN, voicemail
} pp_line_type_t;

//  Check a phone number a publisher sent for a US lead, and normalise it.
//  Accepted: ten digits, or eleven with a leading 1 or +1, with spaces, dots
//  and dashes anywhere between digits, and one pair of parentheses around the
//  area code: "(415) 555-2671", "415.555.2671", "1-415-555-2671",
//  "+1 415 555 2671", "4155552671". Leading and trailing spaces are ignored.
//  Not accepted, by decision:
//  - letters, so no vanity numbers ("1-800-FLOWERS") and no extensions
//    ("x123"): publishers send digits, and letters in a phone field mean a
//    mistake or a bot;
//  - non-ASCII digits (full-width, Arabic-Indic, ...) and non-ASCII spaces,
//    although libphonenumber would normalise them: US forms send ASCII, and
//    a strict ASCII alphabet keeps the rule simple to audit; invalid UTF-8
//    and every other non-ASCII byte are refused by the same rule;
//  - numbers outside the US and its territories (PP_PHONE_FOREIGN): we sell
//    US leads. Accepted regions are the US and the NANP territories whose
//    ZIPs the ZIP table holds: PR, VI, GU, AS, MP.
//  After a '+' or the US international prefix 011, the country code is read
//  as libphonenumber reads it: 1 comes back to the US checks; another code
//  is PP_PHONE_FOREIGN when the library knows it and the length is possible
//  there, PP_PHONE_INVALID otherwise (a length check only, no patterns: a
//  rejection either way, and it stays cheap, about 2 us).
//  Order: PP_PHONE_MALFORMED, then for numbers of ten digits PP_PHONE_PATTERN,
//  PP_PHONE_FICTITIOUS and PP_PHONE_N11 (our rules, whose verdicts say more
//  than "invalid"), then the numbering plan (PP_PHONE_INVALID, PP_PHONE_FOREIGN).
//  On PP_PHONE_OK writes the E.164 form ("+14155552671") into e164 and the
//  line type into *line; on any other verdict writes "" and PP_LINE_UNKNOWN.
//  e164 and line may be NULL; a non-NULL e164 must hold PP_PHONE_E164_SIZE
//  bytes (size is asserted). Thread-safe, no allocation on the common path,
//  under a microsecond; the first call in a process builds the tables (see
//  pp_phone_init). Never throws, never logs the number.
pp_phone_verdict_t
    pp_phone_check (const char *text, char *e164, size_t size, pp_line_type_t *line);

//  The verdict's stable lower-case name: "ok", "malformed", "invalid",
//  "foreign", "pattern", "fictitious", "n11"; "unknown" for any other value.
//  Takes an int (a pp_phone_verdict_t converts), so that any value is
//  defined behaviour in the C++ implementation. Static string.
const char *
    pp_phone_verdict_name (int verdict);

//  The line type's stable lower-case name: "unknown", "mobile", "fixed",
//  "fixed_or_mobile", "toll_free", "voip", "premium", "other"; "unknown" for
//  any other value. Takes an int as pp_phone_verdict_name does. Static string.
const char *
    pp_line_type_name (int line);

//  Build the numbering-plan tables now rather than on the first check (about
//  30 ms with libphonenumber's own start-up: call it at service start).
//  Returns 0 when the fast tables are ready; -1 (logged once) when they could
//  not be built and every lookup uses libphonenumber's own API (about 50 us a
//  number). Safe to call many times and from many threads; pp_phone_check
//  works either way.
int
    pp_phone_init (void);

//  The numbering-plan lookup under pp_phone_check, with none of our rules:
//  `national` is exactly ten ASCII digits (area code, exchange, line).
//  Returns 0 when the number is valid somewhere in the NANP, -1 when not (or
//  national is not ten digits). Writes into region (PP_PHONE_REGION_SIZE
//  bytes, may be NULL) the region libphonenumber assigns ("US", "PR", "CA",
//  ...; "ZZ" when none), and into *line (may be NULL) the line type
//  (PP_LINE_UNKNOWN when not valid). Same answers as libphonenumber's
//  GetRegionCodeForNumber, IsValidNumber and GetNumberType; thread-safe.
int
    pp_phone_plan (const char *national, char *region, pp_line_type_t *line);

//  The same lookup through libphonenumber's PhoneNumberUtil itself (about
//  45 us): the reference pp_phone_plan is tested against.
int
    pp_phone_plan_reference (const char *national, char *region, pp_line_type_t *line);

#ifdef __cplusplus
}
#endif

#endif
