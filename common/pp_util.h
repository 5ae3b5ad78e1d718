/*  pp_util - time, ids, hashing and small helpers shared by every service  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_UTIL_H_INCLUDED
#define PP_UTIL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PP_MUSTCHECK
#define PP_MUSTCHECK __attribute__ ((warn_unused_result))
#endif

//  Exit status for a bad configuration (systemd RestartPreventExitStatus).
#define PP_EXIT_CONFIG 78

//  Wall clock, microseconds since the epoch.
int64_t
    pp_now_us (void);
//  Monotonic clock, microseconds.
int64_t
    pp_mono_us (void);

//  Write a new time-ordered lead id (ULID: 48-bit ms time + 80 random bits,
//  Crockford base32, 26 chars) into buf (at least 27 bytes). Ids made by one
//  process are strictly increasing.
void
    pp_id_new (char *buf);
//  True when text is a well-formed id of pp_id_new.
bool
    pp_id_valid (const char *text);

//  Write the lower-case hex SHA-256 of data into hex (at least 65 bytes).
void
    pp_sha256_hex (const void *data, size_t size, char *hex);

//  Format an ISO 8601 UTC time with milliseconds ("2026-11-26T10:00:05.123Z")
//  into buf (at least 32 bytes).
void
    pp_time_iso (int64_t us, char *buf, size_t size);
//  Parse an ISO 8601 date-time (with Z or +hh:mm offset, optional fraction)
//  into us since the epoch. Returns 0 or -1.
int PP_MUSTCHECK
    pp_time_parse_iso (const char *text, int64_t *us);

//  Length of the valid UTF-8 sequence at text [0] (1..4, at most `size`),
//  or 0 when it is not one (overlong forms, surrogates and code points past
//  U+10FFFF are not valid).
size_t
    pp_utf8_char (const unsigned char *text, size_t size);
//  True when all `size` bytes are valid UTF-8 with no NUL byte.
bool
    pp_utf8_valid (const char *text, size_t size);

//  US state codes (50 states, DC and PR): how many, and the index (0 ..
//  PP_STATE_COUNT - 1) of an upper-case code, or -1.
#define PP_STATE_COUNT 52
int
    pp_state_index (const char *code);
//  The code of state index i; borrowed.
const char *
    pp_state_code (int index);

//  Money: format integer cents as "12.34" (or "-0.05") into buf (>= 24 bytes).
void
    pp_cents_format (int64_t cents, char *buf, size_t size);
//  Convert a JSON number to cents when it has at most two decimals and fits;
//  returns 0 or -1.
int PP_MUSTCHECK
    pp_cents_from_double (double value, int64_t *cents);

#endif
