/*  pp_blacklist - phones, emails, domains, IPs, CIDR blocks and names that validate rejects  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_BLACKLIST_H_INCLUDED
#define PP_BLACKLIST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "pp_db.h"
#include "pp_fields.h"
#include "pp_market.h"

//  The kinds of entry, as stored in blacklist.kind, and the marketplace
//  file's "blacklist" keys that hold them.
#define PP_BLACKLIST_KINDS "phone, email, email_domain, ip, cidr, name"

typedef struct pp_blacklist pp_blacklist_t;

//  Create an empty blacklist.
pp_blacklist_t *
    pp_blacklist_new (void);
//  Load every entry of the blacklist table. NULL on a database failure
//  (logged). A row that does not normalise (written by hand?) is skipped
//  with a warning naming its kind, never its value.
pp_blacklist_t *
    pp_blacklist_load (pp_db_t *db);
//  Destroy; nulls *self_p. Safe on NULL.
void
    pp_blacklist_destroy (pp_blacklist_t **self_p);
//  Add an entry (normalised as pp_blacklist_normalise does). 0, or -1 when
//  the kind is unknown or the value is not valid for it (nothing added).
//  Not thread-safe: build the blacklist, then share it.
int PP_MUSTCHECK
    pp_blacklist_add (pp_blacklist_t *self, const char *kind, const char *value);
//  Number of entries (duplicates counted once).
size_t
    pp_blacklist_size (const pp_blacklist_t *self);

//  Check a lead. Returns NULL when nothing matches, else the reason code of
//  the first match, in this order, and sets *field (when field is not NULL)
//  to the lead field that matched (borrowed: a static string or a field
//  name of `vertical` or `fields`):
//    "blacklisted_phone"         a PP_FT_PHONE field of the vertical, compared in E.164
//    "blacklisted_email"         a PP_FT_EMAIL field: the whole address, domain case-insensitive
//    "blacklisted_email_domain"  its domain or a parent domain of it ("x.example.com" ends
//                                in the entry "example.com")
//    "blacklisted_ip"            signals.ip, then consent.ip ("signals.ip", "consent.ip")
//    "blacklisted_cidr"          the same addresses inside a blocked CIDR block
//    "blacklisted_name"          the lead fields first_name and last_name: "first last",
//                                then first_name alone ("first_name"), then last_name
//                                alone ("last_name"); case-insensitive (ASCII), spaces
//                                trimmed and runs of them made one; entries may hold
//                                fnmatch wildcards (* ? [...]). A "first last" match
//                                names "first_name".
//  With a NULL vertical, the fields named "phone" and "email" are checked.
//  fields, consent and signals may be NULL. Reads only: any number of
//  threads may check one blacklist at once.
const char *
    pp_blacklist_check (const pp_blacklist_t *self, const pp_vertical_t *vertical,
                        const pp_fields_t *fields, const pp_fields_t *consent,
                        const pp_fields_t *signals, const char **field);

//  True when kind is one of PP_BLACKLIST_KINDS.
bool
    pp_blacklist_kind_valid (const char *kind);
//  The normal form of a value of kind, as stored and compared: a new string
//  (free with free ()), or NULL when the value is not valid for the kind
//  (then *error, when error is not NULL, says why: a static string).
//    phone         10 digits, or 11 starting with 1, with " -().+" between
//                  them -> "+1XXXXXXXXXX"
//    email         local@domain, trimmed, domain lower-cased
//    email_domain  lower-cased, at least one dot
//    ip            IPv4 or IPv6 -> inet_ntop form (IPv4-mapped IPv6 -> IPv4)
//    cidr          address/bits -> network/bits, host bits cleared
//                  (::ffff:a.b.c.d/96+n -> IPv4 /n)
//    name          1..256 bytes: trimmed, spaces collapsed, ASCII lower-cased
char *
    pp_blacklist_normalise (const char *kind, const char *value, const char **error);

//  Insert the entries of a marketplace file's "blacklist" section (its JSON
//  text, as pp_market_section returns it) into the blacklist table, each
//  normalised and with the note "pingpost apply"; entries already there are
//  left as they are (so applying a file twice changes nothing), and no entry
//  is removed. Runs in the caller's transaction (pp_market_store's). Sets
//  *added (when not NULL) to the number of new rows. 0, or -1 on a database
//  failure or an invalid section (logged).
int PP_MUSTCHECK
    pp_blacklist_store_section (pp_db_t *db, const char *section_json, size_t *added);

#endif
