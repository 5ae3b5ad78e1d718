/*  pp_email - email address checks: syntax, disposable domains, role accounts, MX  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_EMAIL_H_INCLUDED
#define PP_EMAIL_H_INCLUDED

#include <stddef.h>

#ifndef PP_MUSTCHECK
#define PP_MUSTCHECK __attribute__ ((warn_unused_result))
#endif

//  RFC 5321 limits (section 4.5.3.1 and its errata): a whole address (a
//  forward-path less its angle brackets), a local part, a domain label.
#define PP_EMAIL_MAX 254
#define PP_EMAIL_LOCAL_MAX 64
#define PP_EMAIL_LABEL_MAX 63
//  A pp_email_check output buffer of this size always holds the result.
#define PP_EMAIL_NORMAL_SIZE (PP_EMAIL_MAX + 1)

//  The reason codes pp_email_check returns (docs/reason-codes.md).
#define PP_EMAIL_INVALID "email_invalid"
#define PP_EMAIL_DISPOSABLE "email_disposable"
#define PP_EMAIL_ROLE "email_role"

//  The role local parts rejected until pp_email_set_roles is called.
#define PP_EMAIL_DEFAULT_ROLES                                                                     \
    "admin, administrator, info, sales, support, help, contact, office, webmaster, postmaster, "   \
    "hostmaster, abuse, noreply, no-reply, marketing, billing, root"

typedef struct pp_email pp_email_t;

//  Create a checker. disposable_path names the disposable-domain list
//  (data/email/disposable-domains.txt, made by scripts/make-emaildata):
//  ASCII text, one lower-case domain per line, lines starting with '#' and
//  empty lines ignored. NULL path: no disposable check. Returns NULL, with
//  one error line naming the file (and line), when the file cannot be read
//  or a line is not a lower-case host name of at least two labels that
//  pp_email_check would accept as a domain. Roles start as
//  PP_EMAIL_DEFAULT_ROLES. Once configured, the checker is read-only: any
//  number of threads may call pp_email_check on it at once.
pp_email_t *
    pp_email_new (const char *disposable_path);
//  Destroy; nulls *self_p. Safe on NULL.
void
    pp_email_destroy (pp_email_t **self_p);
//  The list's path: env PINGPOST_EMAIL_DATA when set and not empty, else the
//  compile-time PP_EMAIL_DATA (the source tree's data/email/
//  disposable-domains.txt). Borrowed string.
const char *
    pp_email_default_path (void);
//  Number of domains in the disposable list (0 without one).
size_t
    pp_email_disposable_size (const pp_email_t *self);
//  Replace the role local parts with `count` strings from roles (copied;
//  roles may be NULL when count is 0, which turns the role check off).
//  Each must be a non-empty dot-atom of at most PP_EMAIL_LOCAL_MAX
//  characters without '+' (see pp_email_check); it is matched without
//  regard to ASCII case. Returns -1, with the roles unchanged and a warning
//  naming the bad entry's index, when one is not. Not thread-safe: set the
//  roles before sharing the checker.
int PP_MUSTCHECK
    pp_email_set_roles (pp_email_t *self, const char *const *roles, size_t count);
//  Check one address. Returns NULL when it is good, else a borrowed reason
//  code, the first that applies in this order:
//  - PP_EMAIL_INVALID, syntax (RFC 5321/5322, stricter where leads need it):
//    after trimming ASCII white space at both ends, exactly one '@'; at most
//    PP_EMAIL_MAX characters in all; a local part of 1..PP_EMAIL_LOCAL_MAX
//    characters that is a dot-atom: RFC 5322 atext (letters, digits and
//    !#$%&'*+-/=?^_`{|}~) in runs joined by single dots, no dot at either
//    end; a domain of at least two dot-separated labels of
//    1..PP_EMAIL_LABEL_MAX letters, digits and hyphens with no hyphen at
//    either end, and a top-level label of at least two characters that is
//    not all digits. Rejected on purpose though RFC 5321 allows them:
//    quoted local parts ("john doe"@x.com: almost always a typo or an attack
//    in a lead form), address literals ([1.2.3.4], IPv6:...), a trailing
//    root dot (x.com.), and any byte outside ASCII, so internationalised
//    addresses (RFC 6531 UTF-8 local parts, Unicode IDN domains) are
//    invalid: they are rare in US leads and many buyer CRMs refuse them (an
//    IDN domain in its ASCII form, xn--..., is fine). Spaces and control
//    characters inside (a CR LF header injection) are invalid as well.
//  - PP_EMAIL_DISPOSABLE: the domain, or a parent of it with at least two
//    labels (mail.mailinator.com under mailinator.com), is in the list.
//  - PP_EMAIL_ROLE: the local part up to its first '+' (the +tag is
//    ignored) equals a role, ignoring ASCII case (Info+x@ matches info).
//  When the address is good and normal is not NULL, the normalised form is
//  written there: trimmed, domain lower-cased, local part as given. On any
//  reason normal gets "". normal must be NULL or hold at least
//  PP_EMAIL_NORMAL_SIZE bytes (size; asserted). NULL text is invalid.
//  Thread-safe for concurrent callers; allocates nothing.
const char *
    pp_email_check (const pp_email_t *self, const char *text, char *normal, size_t size);
//  Ask DNS whether `domain` (a domain as pp_email_check normalises it) can
//  receive mail, within timeout_ms in all, from the nameserver "ip",
//  "ip:port" or "[ipv6]:port", or a comma-separated list of them (NULL: the
//  servers of /etc/resolv.conf).
//  Returns 1 when the domain has an MX record, or none but an A or AAAA
//  record (RFC 5321 section 5.1, the implicit MX); 0 when it does not exist
//  (NXDOMAIN), has neither, or publishes a null MX (RFC 7505: "MX 0 ."); -1
//  on a timeout, a server failure or refusal, or a bad argument (domain not
//  a valid host name, timeout_ms < 1, a nameserver that does not parse;
//  these are logged, timeouts and server errors are not, being expected
//  under a tight budget). The caller treats -1 as a pass: a lead is never
//  rejected for our own failure. Blocks the calling thread for at most
//  about timeout_ms; thread-safe (each call has its own c-ares channel).
//  The MX query is retried once within the budget; the A and AAAA queries,
//  made only when there is no MX, go out together.
int
    pp_email_mx_check (const char *domain, int timeout_ms, const char *nameserver);

#endif
