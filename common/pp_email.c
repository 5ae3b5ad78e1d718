/*  pp_email - email address checks: syntax, disposable domains, role accounts, MX  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_email.h"

#include <czmq.h>
#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

//  CMake defines PP_EMAIL_DATA as the source tree's copy; installed systems
//  point PINGPOST_EMAIL_DATA at share/pingpost/email/disposable-domains.txt.
#ifndef PP_EMAIL_DATA
#define PP_EMAIL_DATA "/usr/share/pingpost/email/disposable-domains.txt"
#endif

#define S_MAX_FILE (64 * 1024 * 1024)   //  the shipped list is about 130 kB
#define S_DOMAIN_MAX 253                //  RFC 1035 host name, without a root dot

//  An open-addressing hash set of NUL-terminated strings it does not own.
//  Lookups only read it, so any number of threads may share a built set
//  (czmq's zhash caches its last lookup in the table: not safe to share).
typedef struct {
    const char **slots;         //  mask + 1 slots, NULL when free
    size_t mask;                //  slot count - 1 (a power of two minus one)
    size_t size;                //  strings in the set
} s_set_t;

struct pp_email {
    char *text;                 //  the disposable list file, split in place: the set points into it
    s_set_t disposable;         //  disposable domains, lower case
    char **roles;               //  role_count owned lower-case copies, the role set's keys
    size_t role_count;          //  entries in roles
    s_set_t role_set;           //  roles as a set
};

//  ---------------------------------------------------------------------------
//  FNV-1a over len bytes: short keys, good spread, no state.

static uint64_t
s_hash (const char *key, size_t len)
{
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char) key [i];
        hash *= 1099511628211ULL;
    }
    return hash;
}

//  Size an empty set for up to `count` strings, at most half full.
static void
s_set_init (s_set_t *set, size_t count)
{
    size_t slots = 16;
    while (slots < count * 2)
        slots *= 2;
    set->slots = (const char **) calloc (slots, sizeof (char *));
    assert (set->slots);
    set->mask = slots - 1;
    set->size = 0;
}

static void
s_set_free (s_set_t *set)
{
    free (set->slots);
    set->slots = NULL;
    set->mask = 0;
    set->size = 0;
}

//  True when the len bytes at key are in the set.
static bool
s_set_has (const s_set_t *set, const char *key, size_t len)
{
    if (set->size == 0)
        return false;
    for (size_t at = s_hash (key, len) & set->mask;; at = (at + 1) & set->mask) {
        const char *item = set->slots [at];
        if (!item)
            return false;
        if (strncmp (item, key, len) == 0 && item [len] == '\0')
            return true;
    }
}

//  Add key (kept, not copied); a key already there is not added twice.
static void
s_set_add (s_set_t *set, const char *key)
{
    size_t len = strlen (key);
    assert (set->size * 2 < set->mask + 1);
    size_t at = s_hash (key, len) & set->mask;
    for (; set->slots [at]; at = (at + 1) & set->mask)
        if (streq (set->slots [at], key))
            return;
    set->slots [at] = key;
    set->size++;
}

//  ---------------------------------------------------------------------------
//  Character classes, ASCII only and independent of the locale.

static bool
s_is_alnum (int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

//  RFC 5322 atext: letters, digits and these specials.
static bool
s_is_atext (int c)
{
    return s_is_alnum (c) || (c != '\0' && strchr ("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool
s_is_space (int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int
s_lower (int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

//  ---------------------------------------------------------------------------
//  A host name as we accept it in an address: labels of 1..63 letters,
//  digits and hyphens with no hyphen at either end, at least two labels,
//  at most 253 characters, a top-level label of two or more characters that
//  is not all digits. The last rules go past RFC 5321: every real TLD has
//  two or more characters and a letter, so "x@y.z" and "x@1.2.3.4" are
//  typing or faking, not addresses. With lower_only, capitals are refused
//  (the disposable list must be lower case).

static bool
s_host_ok (const char *host, size_t len, bool lower_only)
{
    if (len == 0 || len > S_DOMAIN_MAX)
        return false;
    size_t labels = 0, label_len = 0;
    bool all_digits = true;
    for (size_t i = 0; i <= len; i++) {
        int c = i < len ? (unsigned char) host [i] : '.';
        if (c == '.') {
            if (label_len == 0 || host [i - 1] == '-')
                return false;
            labels++;
            if (i == len && (all_digits || label_len < 2))
                return false;
            label_len = 0;
            all_digits = true;
            continue;
        }
        if (!(s_is_alnum (c) || c == '-') || (lower_only && c >= 'A' && c <= 'Z'))
            return false;
        if (c == '-' && label_len == 0)
            return false;
        if (!(c >= '0' && c <= '9'))
            all_digits = false;
        if (++label_len > PP_EMAIL_LABEL_MAX)
            return false;
    }
    return labels >= 2;
}

//  A dot-atom (RFC 5322 section 3.2.3) of 1..64 characters: atext runs
//  joined by single dots.
static bool
s_local_ok (const char *local, size_t len)
{
    if (len == 0 || len > PP_EMAIL_LOCAL_MAX)
        return false;
    if (local [0] == '.' || local [len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char) local [i];
        if (c == '.') {
            if (local [i + 1] == '.')
                return false;
        }
        else
        if (!s_is_atext (c))
            return false;
    }
    return true;
}

//  ---------------------------------------------------------------------------
//  Read a whole regular file into a new NUL-terminated buffer. NULL (logged)
//  when it cannot be read.

static char *
s_slurp (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        zsys_error ("email: cannot open %s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = NULL;
    struct stat info;
    if (fstat (fileno (file), &info) != 0) {
        zsys_error ("email: cannot stat %s: %s", path, strerror (errno));
        goto cleanup;
    }
    if (!S_ISREG (info.st_mode)) {
        zsys_error ("email: %s: not a regular file", path);
        goto cleanup;
    }
    if (info.st_size > S_MAX_FILE) {
        zsys_error ("email: %s: larger than %d bytes", path, S_MAX_FILE);
        goto cleanup;
    }
    size_t size = (size_t) info.st_size;
    text = (char *) malloc (size + 1);
    assert (text);
    if (fread (text, 1, size, file) != size) {
        zsys_error ("email: cannot read %s", path);
        free (text);
        text = NULL;
        goto cleanup;
    }
    text [size] = '\0';
    if (strlen (text) != size) {
        zsys_error ("email: %s: has a NUL byte", path);
        free (text);
        text = NULL;
    }
cleanup:
    fclose (file);
    return text;
}

//  ---------------------------------------------------------------------------
//  Split the list in place and fill the disposable set. A bad line fails
//  the whole load: the file is made by a script, so a bad line means a
//  broken file or a hand edit, and guessing could block good leads.

static int
s_load_disposable (pp_email_t *self, const char *path)
{
    self->text = s_slurp (path);
    if (!self->text)
        return -1;
    size_t lines = 1;
    for (const char *at = self->text; *at; at++)
        lines += *at == '\n';
    s_set_init (&self->disposable, lines);
    char *line = self->text;
    for (size_t number = 1; *line; number++) {
        char *end = strchr (line, '\n');
        char *next = end ? end + 1 : line + strlen (line);
        if (!end)
            end = next;
        if (end > line && end [-1] == '\r')
            end--;
        *end = '\0';
        if (*line != '\0' && *line != '#') {
            if (!s_host_ok (line, (size_t) (end - line), true)) {
                zsys_error ("email: %s:%zu: not a lower-case domain", path, number);
                return -1;
            }
            s_set_add (&self->disposable, line);
        }
        line = next;
    }
    return 0;
}

//  Replace the roles with lower-case copies of the given ones (valid).
static void
s_roles_replace (pp_email_t *self, const char *const *roles, size_t count)
{
    for (size_t i = 0; i < self->role_count; i++)
        free (self->roles [i]);
    free (self->roles);
    s_set_free (&self->role_set);
    self->roles = count ? (char **) calloc (count, sizeof (char *)) : NULL;
    assert (self->roles || count == 0);
    self->role_count = count;
    s_set_init (&self->role_set, count);
    for (size_t i = 0; i < count; i++) {
        self->roles [i] = strdup (roles [i]);
        assert (self->roles [i]);
        for (char *at = self->roles [i]; *at; at++)
            *at = (char) s_lower ((unsigned char) *at);
        s_set_add (&self->role_set, self->roles [i]);
    }
}

//  ---------------------------------------------------------------------------

pp_email_t *
pp_email_new (const char *disposable_path)
{
    static const char *const defaults [] = {
        "admin",     "administrator", "info",       "sales",    "support",  "help",
        "contact",   "office",        "webmaster",  "postmaster", "hostmaster", "abuse",
        "noreply",   "no-reply",      "marketing",  "billing",  "root"};
    pp_email_t *self = (pp_email_t *) zmalloc (sizeof (pp_email_t));
    assert (self);
    s_roles_replace (self, defaults, sizeof (defaults) / sizeof (defaults [0]));
    if (!disposable_path)
        s_set_init (&self->disposable, 0);
    else
    if (s_load_disposable (self, disposable_path) != 0)
        pp_email_destroy (&self);
    return self;
}

void
pp_email_destroy (pp_email_t **self_p)
{
    assert (self_p);
    pp_email_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->role_count; i++)
        free (self->roles [i]);
    free (self->roles);
    s_set_free (&self->role_set);
    s_set_free (&self->disposable);
    free (self->text);
    free (self);
    *self_p = NULL;
}

const char *
pp_email_default_path (void)
{
    const char *path = getenv ("PINGPOST_EMAIL_DATA");
    return path && *path ? path : PP_EMAIL_DATA;
}

size_t
pp_email_disposable_size (const pp_email_t *self)
{
    assert (self);
    return self->disposable.size;
}

int
pp_email_set_roles (pp_email_t *self, const char *const *roles, size_t count)
{
    assert (self);
    assert (roles || count == 0);
    for (size_t i = 0; i < count; i++) {
        const char *role = roles [i];
        if (!role || !s_local_ok (role, strlen (role)) || strchr (role, '+')) {
            zsys_warning ("email: role %zu is not a plain local part", i);
            return -1;
        }
    }
    s_roles_replace (self, roles, count);
    return 0;
}

//  ---------------------------------------------------------------------------
//  The checks run in the order of the contract; nothing is allocated, so a
//  shared checker serves any number of threads.

const char *
pp_email_check (const pp_email_t *self, const char *text, char *normal, size_t size)
{
    assert (self);
    assert (!normal || size >= PP_EMAIL_NORMAL_SIZE);
    if (normal)
        normal [0] = '\0';
    if (!text)
        return PP_EMAIL_INVALID;

    //  Trim, then find the one '@', refusing non-ASCII, spaces and controls
    const char *start = text;
    while (s_is_space ((unsigned char) *start))
        start++;
    const char *end = start + strlen (start);
    while (end > start && s_is_space ((unsigned char) end [-1]))
        end--;
    size_t len = (size_t) (end - start);
    if (len == 0 || len > PP_EMAIL_MAX)
        return PP_EMAIL_INVALID;
    const char *at = NULL;
    for (const char *scan = start; scan < end; scan++) {
        int c = (unsigned char) *scan;
        if (c < 0x21 || c > 0x7e)
            return PP_EMAIL_INVALID;
        if (c == '@') {
            if (at)
                return PP_EMAIL_INVALID;
            at = scan;
        }
    }
    if (!at)
        return PP_EMAIL_INVALID;
    size_t local_len = (size_t) (at - start);
    size_t domain_len = (size_t) (end - at - 1);
    if (!s_local_ok (start, local_len) || !s_host_ok (at + 1, domain_len, false))
        return PP_EMAIL_INVALID;

    //  The normalised domain, lower case, NUL-terminated: each parent is a
    //  suffix of it, so the set is probed without copying
    char domain [S_DOMAIN_MAX + 1];
    for (size_t i = 0; i < domain_len; i++)
        domain [i] = (char) s_lower ((unsigned char) at [1 + i]);
    domain [domain_len] = '\0';
    for (const char *parent = domain; parent; ) {
        const char *dot = strchr (parent, '.');
        if (!dot)
            break;                      //  a lone top-level label is never listed
        if (s_set_has (&self->disposable, parent, strlen (parent)))
            return PP_EMAIL_DISPOSABLE;
        parent = dot + 1;
    }

    //  The role is the local part before any +tag
    size_t base_len = 0;
    char base [PP_EMAIL_LOCAL_MAX + 1];
    while (base_len < local_len && start [base_len] != '+') {
        base [base_len] = (char) s_lower ((unsigned char) start [base_len]);
        base_len++;
    }
    if (base_len > 0 && s_set_has (&self->role_set, base, base_len))
        return PP_EMAIL_ROLE;

    if (normal) {
        memcpy (normal, start, local_len);
        normal [local_len] = '@';
        memcpy (normal + local_len + 1, domain, domain_len + 1);
    }
    return NULL;
}

//  ---------------------------------------------------------------------------
//  MX check with c-ares. glibc's res_nquery counts its timeout in whole
//  seconds (one at least), far above the tens of milliseconds a lead can
//  spare; c-ares takes milliseconds, a server with a port per channel,
//  matches answers to queries and falls back to TCP on truncation.

//  What one query found.
typedef enum {
    S_PENDING,                  //  no answer yet
    S_FOUND,                    //  at least one record of the type asked
    S_NODATA,                   //  the name exists, no record of that type
    S_NXDOMAIN,                 //  the name does not exist
    S_NULL_MX,                  //  MX 0 "." only: the domain takes no mail
    S_ERROR                     //  timeout, server failure, cancelled, bad answer
} s_outcome_t;

//  One query in flight.
typedef struct {
    int type;                   //  ns_t_mx, ns_t_a or ns_t_aaaa
    s_outcome_t outcome;        //  what it found
    int *pending;               //  Not owned: queries of this round not answered yet
} s_query_t;

static pthread_once_t s_ares_once = PTHREAD_ONCE_INIT;
static int s_ares_status = ARES_ENOTINITIALIZED;

static void
s_ares_init (void)
{
    s_ares_status = ares_library_init (ARES_LIB_INIT_ALL);
}

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  Turn an MX answer into an outcome.
static s_outcome_t
s_mx_outcome (const unsigned char *answer, int length)
{
    struct ares_mx_reply *replies = NULL;
    int status = ares_parse_mx_reply (answer, length, &replies);
    if (status == ARES_ENODATA)
        return S_NODATA;
    if (status != ARES_SUCCESS)
        return S_ERROR;
    //  RFC 7505: a null MX is a single record of preference 0 and host ".",
    //  which c-ares expands to ""; any real host among them means mail
    s_outcome_t outcome = S_NULL_MX;
    for (struct ares_mx_reply *reply = replies; reply; reply = reply->next)
        if (reply->host && *reply->host)
            outcome = S_FOUND;
    ares_free_data (replies);
    return outcome;
}

//  Turn an A or AAAA answer into an outcome.
static s_outcome_t
s_address_outcome (int type, unsigned char *answer, int length)
{
    int count = 1;
    int status;
    if (type == ns_t_a) {
        struct ares_addrttl addresses [1];
        status = ares_parse_a_reply (answer, length, NULL, addresses, &count);
    }
    else {
        struct ares_addr6ttl addresses [1];
        status = ares_parse_aaaa_reply (answer, length, NULL, addresses, &count);
    }
    if (status == ARES_ENODATA || (status == ARES_SUCCESS && count == 0))
        return S_NODATA;
    return status == ARES_SUCCESS ? S_FOUND : S_ERROR;
}

static void
s_on_answer (void *arg, int status, int timeouts, unsigned char *answer, int length)
{
    s_query_t *query = (s_query_t *) arg;
    if (status == ARES_SUCCESS)
        query->outcome = query->type == ns_t_mx ? s_mx_outcome (answer, length)
                                                : s_address_outcome (query->type, answer, length);
    else
    if (status == ARES_ENODATA)
        query->outcome = S_NODATA;
    else
    if (status == ARES_ENOTFOUND)
        query->outcome = S_NXDOMAIN;
    else
        query->outcome = S_ERROR;
    (*query->pending)--;
}

//  Drive the channel until no query is pending or the deadline passes, then
//  cancel what is left (their callbacks run, as errors).
static void
s_wait (ares_channel channel, const int *pending, int64_t deadline)
{
    while (*pending > 0) {
        int64_t left = deadline - s_now_ms ();
        if (left <= 0)
            break;
        ares_socket_t sockets [ARES_GETSOCK_MAXNUM];
        //  Bit i: read sockets [i]; bit i + 16: write it. (c-ares's own
        //  ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit.)
        unsigned int bits = (unsigned int) ares_getsock (channel, sockets, ARES_GETSOCK_MAXNUM);
        struct pollfd fds [ARES_GETSOCK_MAXNUM];
        nfds_t count = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short events = (short) (((bits >> i) & 1u ? POLLIN : 0)
                                    | ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u ? POLLOUT : 0));
            if (events) {
                fds [count].fd = sockets [i];
                fds [count].events = events;
                fds [count].revents = 0;
                count++;
            }
        }
        struct timeval most = {(time_t) (left / 1000), (suseconds_t) (left % 1000) * 1000};
        struct timeval room;
        struct timeval *wait = ares_timeout (channel, &most, &room);
        int wait_ms = (int) (wait->tv_sec * 1000 + (wait->tv_usec + 999) / 1000);
        int rc = poll (fds, count, wait_ms);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0) {
            ares_process_fd (channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (nfds_t i = 0; i < count; i++) {
            if (fds [i].revents == 0)
                continue;
            bool readable = (fds [i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
            bool writable = (fds [i].revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
            ares_process_fd (channel, readable ? fds [i].fd : ARES_SOCKET_BAD,
                             writable && (fds [i].events & POLLOUT) ? fds [i].fd
                                                                    : ARES_SOCKET_BAD);
        }
    }
    if (*pending > 0)
        ares_cancel (channel);
}

//  ---------------------------------------------------------------------------
//  True when list is "ip", "ip:port", "[ipv6]:port" or a bare IPv6 address,
//  or several of them separated by commas, ports 1..65535. c-ares 1.18
//  would take "1.2.3.4:99999" as port 34463: check it here first.

static bool
s_nameservers_ok (const char *list)
{
    if (!list || !*list)
        return false;
    while (true) {
        const char *end = strchr (list, ',');
        size_t len = end ? (size_t) (end - list) : strlen (list);
        char entry [64];
        if (len == 0 || len >= sizeof (entry))
            return false;
        memcpy (entry, list, len);
        entry [len] = '\0';
        char *host = entry, *port = NULL;
        if (*host == '[') {
            char *close = strchr (host, ']');
            if (!close || (close [1] != '\0' && close [1] != ':'))
                return false;
            *close = '\0';
            host++;
            port = close [1] == ':' ? close + 2 : NULL;
        }
        else {
            char *colon = strchr (host, ':');
            if (colon && !strchr (colon + 1, ':')) {
                *colon = '\0';
                port = colon + 1;
            }
        }
        unsigned char address [16];
        if (inet_pton (AF_INET, host, address) != 1 && inet_pton (AF_INET6, host, address) != 1)
            return false;
        if (port) {
            size_t digits = strspn (port, "0123456789");
            if (digits == 0 || digits > 5 || port [digits] != '\0')
                return false;
            long number = strtol (port, NULL, 10);
            if (number < 1 || number > 65535)
                return false;
        }
        if (!end)
            return true;
        list = end + 1;
    }
}

int
pp_email_mx_check (const char *domain, int timeout_ms, const char *nameserver)
{
    if (!domain || !s_host_ok (domain, strlen (domain), false)) {
        zsys_warning ("email: mx check: not a host name");
        return -1;
    }
    if (timeout_ms < 1) {
        zsys_warning ("email: mx check: timeout %d ms is below 1", timeout_ms);
        return -1;
    }
    if (nameserver && !s_nameservers_ok (nameserver)) {
        zsys_warning ("email: mx check: bad nameserver '%s' (ip, ip:port or [ipv6]:port)",
                      nameserver);
        return -1;
    }
    pthread_once (&s_ares_once, s_ares_init);
    if (s_ares_status != ARES_SUCCESS) {
        zsys_error ("email: c-ares: %s", ares_strerror (s_ares_status));
        return -1;
    }
    int64_t deadline = s_now_ms () + timeout_ms;

    //  One retry: c-ares doubles the wait on the second try, so a third of
    //  the budget, then two thirds, spend it all. The deadline bounds the
    //  A/AAAA round too, and several servers from resolv.conf
    struct ares_options options;
    memset (&options, 0, sizeof (options));
    options.flags = ARES_FLAG_NOSEARCH;
    options.timeout = timeout_ms / 3 > 0 ? timeout_ms / 3 : 1;
    options.tries = 2;
    ares_channel channel = NULL;
    int status = ares_init_options (&channel, &options,
                                    ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (status != ARES_SUCCESS) {
        zsys_error ("email: mx check: cannot make a resolver: %s", ares_strerror (status));
        if (channel)
            ares_destroy (channel);
        return -1;
    }
    if (nameserver) {
        status = ares_set_servers_ports_csv (channel, nameserver);
        if (status != ARES_SUCCESS) {
            zsys_error ("email: mx check: c-ares refused nameserver '%s': %s", nameserver,
                        ares_strerror (status));
            ares_destroy (channel);
            return -1;
        }
    }
    int result = -1;
    int pending = 1;
    s_query_t mx = {ns_t_mx, S_PENDING, &pending};
    ares_query (channel, domain, ns_c_in, ns_t_mx, s_on_answer, &mx);
    s_wait (channel, &pending, deadline);
    if (mx.outcome == S_FOUND)
        result = 1;
    else
    if (mx.outcome == S_NXDOMAIN || mx.outcome == S_NULL_MX)
        result = 0;
    else
    if (mx.outcome == S_NODATA) {
        //  No MX: the domain's own address is its implicit MX (RFC 5321 5.1)
        pending = 2;
        s_query_t a = {ns_t_a, S_PENDING, &pending};
        s_query_t aaaa = {ns_t_aaaa, S_PENDING, &pending};
        ares_query (channel, domain, ns_c_in, ns_t_a, s_on_answer, &a);
        ares_query (channel, domain, ns_c_in, ns_t_aaaa, s_on_answer, &aaaa);
        s_wait (channel, &pending, deadline);
        if (a.outcome == S_FOUND || aaaa.outcome == S_FOUND)
            result = 1;
        else
        if (a.outcome != S_ERROR && aaaa.outcome != S_ERROR)
            result = 0;
    }
    ares_destroy (channel);
    return result;
}
