/*  pp_util - time, ids, hashing and small helpers shared by every service  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_util.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/random.h>
#include <openssl/evp.h>

int64_t
pp_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
pp_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  --------------------------------------------------------------------------
//  ULID ids. Within one millisecond the 80-bit random part is incremented,
//  so ids of one process sort in the order they were made (intake may run
//  several HTTP threads, hence the mutex).

static const char s_crockford [] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static pthread_mutex_t s_id_mutex = PTHREAD_MUTEX_INITIALIZER;
static uint64_t s_id_last_ms;
static uint8_t s_id_rand [10];

void
pp_id_new (char *buf)
{
    assert (buf);
    uint8_t bytes [16];
    pthread_mutex_lock (&s_id_mutex);
    uint64_t ms = (uint64_t) (pp_now_us () / 1000);
    if (ms <= s_id_last_ms) {
        ms = s_id_last_ms;
        int i;
        for (i = 9; i >= 0; i--)
            if (++s_id_rand [i] != 0)
                break;
    }
    else {
        s_id_last_ms = ms;
        size_t got = 0;
        while (got < sizeof s_id_rand) {
            ssize_t rc = getrandom (s_id_rand + got, sizeof s_id_rand - got, 0);
            assert (rc > 0);
            got += (size_t) rc;
        }
        s_id_rand [0] &= 0x7F;     //  room to increment within the millisecond
    }
    for (int i = 0; i < 6; i++)
        bytes [i] = (uint8_t) (ms >> (40 - 8 * i));
    memcpy (bytes + 6, s_id_rand, 10);
    pthread_mutex_unlock (&s_id_mutex);

    //  128 bits as 26 base32 digits, the first taking the top 3 bits
    int bit = -2;                   //  26 * 5 = 130 bits: two leading zero bits
    for (int c = 0; c < 26; c++) {
        int value = 0;
        for (int k = 0; k < 5; k++, bit++) {
            value <<= 1;
            if (bit >= 0 && (bytes [bit / 8] >> (7 - bit % 8)) & 1)
                value |= 1;
        }
        buf [c] = s_crockford [value];
    }
    buf [26] = 0;
}

bool
pp_id_valid (const char *text)
{
    if (!text || strlen (text) != 26)
        return false;
    if (text [0] > '7')
        return false;
    for (int i = 0; i < 26; i++)
        if (!strchr (s_crockford, text [i]) || text [i] == 0)
            return false;
    return true;
}

//  The digest is fetched once per process: EVP_sha256 () makes OpenSSL 3
//  look the implementation up at every call (0.4 against 0.16 us a hash).
static EVP_MD *s_sha256;
static pthread_once_t s_sha256_once = PTHREAD_ONCE_INIT;

static void
s_sha256_fetch (void)
{
    s_sha256 = EVP_MD_fetch (NULL, "SHA256", NULL);
    assert (s_sha256);
}

void
pp_sha256_hex (const void *data, size_t size, char *hex)
{
    pthread_once (&s_sha256_once, s_sha256_fetch);
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    int rc = EVP_Digest (data, size, digest, &digest_size, s_sha256, NULL);
    assert (rc == 1 && digest_size == 32);
    //  By table, not snprintf: 32 snprintf calls took 2 us, the hash 0.2
    static const char digits [] = "0123456789abcdef";
    for (unsigned int i = 0; i < digest_size; i++) {
        hex [2 * i] = digits [digest [i] >> 4];
        hex [2 * i + 1] = digits [digest [i] & 15];
    }
    hex [64] = 0;
}

void
pp_time_iso (int64_t us, char *buf, size_t size)
{
    time_t secs = (time_t) (us / 1000000);
    int ms = (int) ((us % 1000000) / 1000);
    if (us < 0 && us % 1000000) {
        secs -= 1;
        ms = (int) ((1000000 + us % 1000000) / 1000);
    }
    struct tm tm;
    gmtime_r (&secs, &tm);
    snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static int
s_digits (const char **p, int n, int *value)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p) [i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *value = v;
    return 0;
}

int
pp_time_parse_iso (const char *text, int64_t *us)
{
    if (!text || !us)
        return -1;
    const char *p = text;
    int year, mon, day, hour = 0, min = 0, sec = 0;
    if (s_digits (&p, 4, &year) || *p++ != '-' || s_digits (&p, 2, &mon) || *p++ != '-'
        || s_digits (&p, 2, &day))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (s_digits (&p, 2, &hour) || *p++ != ':' || s_digits (&p, 2, &min))
        return -1;
    if (*p == ':') {
        p++;
        if (s_digits (&p, 2, &sec))
            return -1;
    }
    int64_t frac_us = 0;
    if (*p == '.' || *p == ',') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 6) {
                frac_us = frac_us * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
        if (digits == 0)
            return -1;
        while (digits++ < 6)
            frac_us *= 10;
    }
    int offset_s = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh, om = 0;
        if (s_digits (&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (*p && s_digits (&p, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    }
    else
        return -1;
    if (*p)
        return -1;
    static const int mdays [] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > mdays [mon - 1] || hour > 23
        || min > 59 || sec > 60)
        return -1;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 2 && day == 29 && !leap)
        return -1;
    //  days from civil (Howard Hinnant's algorithm)
    int y = year - (mon <= 2);
    int era = y / 400;
    int yoe = y - era * 400;
    int doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t) era * 146097 + doe - 719468;
    int64_t secs = days * 86400 + hour * 3600 + min * 60 + sec - offset_s;
    *us = secs * 1000000 + frac_us;
    return 0;
}

size_t
pp_utf8_char (const unsigned char *text, size_t size)
{
    if (size == 0)
        return 0;
    unsigned char c = text [0];
    if (c < 0x80)
        return 1;
    size_t need;
    uint32_t code;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        code = c & 0x1F;
    }
    else
    if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        code = c & 0x0F;
    }
    else
    if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        code = c & 0x07;
    }
    else
        return 0;
    if (size < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((text [i] & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (text [i] & 0x3F);
    }
    if ((need == 3 && code < 0x800) || (need == 4 && (code < 0x10000 || code > 0x10FFFF))
        || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return need;
}

bool
pp_utf8_valid (const char *text, size_t size)
{
    const unsigned char *p = (const unsigned char *) text;
    size_t i = 0;
    while (i < size) {
        if (p [i] == 0)
            return false;
        if (p [i] < 0x80) {
            i++;
            continue;
        }
        size_t n = pp_utf8_char (p + i, size - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static const char *s_states [PP_STATE_COUNT] = {
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL",
    "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE",
    "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX",
    "UT", "VA", "VT", "WA", "WI", "WV", "WY"
};

int
pp_state_index (const char *code)
{
    if (!code || strlen (code) != 2)
        return -1;
    //  Sorted: binary search
    int lo = 0, hi = PP_STATE_COUNT - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int cmp = strcmp (code, s_states [mid]);
        if (cmp == 0)
            return mid;
        if (cmp < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

const char *
pp_state_code (int index)
{
    return index >= 0 && index < PP_STATE_COUNT ? s_states [index] : "";
}

void
pp_cents_format (int64_t cents, char *buf, size_t size)
{
    uint64_t magnitude = cents < 0 ? (uint64_t) 0 - (uint64_t) cents : (uint64_t) cents;
    snprintf (buf, size, "%s%llu.%02llu", cents < 0 ? "-" : "",
              (unsigned long long) (magnitude / 100), (unsigned long long) (magnitude % 100));
}

int
pp_cents_from_double (double value, int64_t *cents)
{
    //  Up to 1e13 (1e15 cents) a double still tells cents apart
    if (!cents || !isfinite (value) || fabs (value) > 1.0e13)
        return -1;
    double scaled = value * 100.0;
    double rounded = nearbyint (scaled);
    //  JSON "12.34" parses to 12.339999...; allow binary noise, not a third
    //  decimal. The noise is a few ulps of `scaled`: a tolerance relative to
    //  the amount itself (1e-6 of it) let 12345.678 through as 1234568.
    double tolerance = fabs (scaled) * 8 * DBL_EPSILON;
    if (fabs (scaled - rounded) > (tolerance > 1e-6 ? tolerance : 1e-6))
        return -1;
    *cents = (int64_t) rounded;
    return 0;
}
