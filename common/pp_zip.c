/*  pp_zip - the US ZIP table: state, city, point and time zone per ZIP, radius search  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_zip.h"

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>

//  CMake defines PP_ZIP_DATA as the source tree's copy; installed systems
//  point PINGPOST_ZIP_DATA at share/pingpost/zip/us-zips.tsv.
#ifndef PP_ZIP_DATA
#define PP_ZIP_DATA "/usr/share/pingpost/zip/us-zips.tsv"
#endif

#define S_HEADER "zip\tstate\tcity\tlat\tlon\ttime_zone"
#define S_FIELDS 6
#define S_MIN_ROW 16                        //  "00000\tAA\t\t0\t0\tA\n"
#define S_MAX_FILE (64 * 1024 * 1024)       //  the real table is about 2 MB
#define S_MAX_ZONE 63                       //  longest zone name we accept
#define S_BUCKETS 181                       //  one per whole degree of latitude, -90..90
#define S_RADIANS (M_PI / 180.0)
#define S_MILES_PER_DEGREE (PP_ZIP_EARTH_MILES * S_RADIANS)
//  Slack on the radius search's latitude and longitude windows, in degrees
//  (about 0.1 m): rounding must never push a point on the circle outside.
#define S_SLACK 1e-6

//  An entry as the radius search reads it: its coordinates and cos(lat)
//  side by side, in latitude-bucket order.
typedef struct {
    double lat;                 //  latitude, degrees
    double lon;                 //  longitude, degrees
    double cos_lat;             //  cos (lat), as pp_zip_distance_miles computes it
    int32_t entry;              //  index into entries
} s_point_t;

struct pp_zip {
    char *text;                 //  the whole file, split in place: cities and zones point into it
    pp_zip_entry_t *entries;    //  one per row, in file order
    size_t size;                //  number of entries
    int32_t *index;             //  PP_ZIP_SLOTS slots: ZIP number -> entry index, -1 when none
    s_point_t *points;          //  every entry, grouped by latitude bucket
    size_t bucket [S_BUCKETS + 1];  //  bucket b is points [bucket [b]] .. points [bucket [b + 1]]
};

//  ---------------------------------------------------------------------------
//  Read a whole regular file into a new NUL-terminated buffer; *size_p gets
//  its length. NULL (logged) when it cannot be read.

static char *
s_slurp (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        zsys_error ("zip: cannot open %s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = NULL;
    struct stat info;
    if (fstat (fileno (file), &info) != 0) {
        zsys_error ("zip: cannot stat %s: %s", path, strerror (errno));
        goto cleanup;
    }
    if (!S_ISREG (info.st_mode)) {
        zsys_error ("zip: %s: not a regular file", path);
        goto cleanup;
    }
    if (info.st_size > S_MAX_FILE) {
        zsys_error ("zip: %s: larger than %d bytes", path, S_MAX_FILE);
        goto cleanup;
    }
    size_t size = (size_t) info.st_size;
    text = (char *) malloc (size + 1);
    assert (text);
    if (fread (text, 1, size, file) != size) {
        zsys_error ("zip: cannot read %s", path);
        free (text);
        text = NULL;
        goto cleanup;
    }
    text [size] = '\0';
    *size_p = size;
cleanup:
    fclose (file);
    return text;
}

//  ---------------------------------------------------------------------------
//  A plain decimal field (optional '-', digits, optionally '.' and digits;
//  strtod alone would also take spaces, hex, "inf" and "nan") within
//  [-limit, limit] into *value_p. Up to 15 digits the value is the integer
//  of all digits divided by a power of ten: both exact in a double, so the
//  one division rounds correctly, as strtod would, at a fraction of its cost.

static bool
s_parse_degrees (const char *field, double limit, double *value_p)
{
    static const double power [16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const char *at = field;
    bool negative = *at == '-';
    if (negative)
        at++;
    uint64_t mantissa = 0;
    int digits = 0, decimals = 0;
    const char *start = at;
    for (; *at >= '0' && *at <= '9'; at++, digits++)
        mantissa = mantissa * 10 + (uint64_t) (*at - '0');
    if (at == start)
        return false;
    if (*at == '.') {
        start = ++at;
        for (; *at >= '0' && *at <= '9'; at++, digits++, decimals++)
            mantissa = mantissa * 10 + (uint64_t) (*at - '0');
        if (at == start)
            return false;
    }
    if (*at != '\0')
        return false;
    double value = digits <= 15 ? (double) mantissa / power [decimals] : strtod (field, NULL);
    if (negative && digits <= 15)
        value = -value;
    if (!isfinite (value) || value < -limit || value > limit)
        return false;
    *value_p = value;
    return true;
}

//  IANA zone names are letters, digits and _ / + - ("America/Indiana/Knox",
//  "Etc/GMT+5"); this also keeps paths like "../x" and control bytes out.
static bool
s_is_zone (const char *field)
{
    size_t length = strlen (field);
    if (length == 0 || length > S_MAX_ZONE || field [0] == '/' || field [length - 1] == '/')
        return false;
    for (const char *at = field; *at; at++)
        if (!(*at >= 'A' && *at <= 'Z') && !(*at >= 'a' && *at <= 'z')
            && !(*at >= '0' && *at <= '9') && !strchr ("_/+-", *at))
            return false;
    return true;
}

//  Any UTF-8 text without control characters; may be empty.
static bool
s_is_city (const char *field, const char *end)
{
    for (const char *at = field; at < end; at++)
        if ((unsigned char) *at < 0x20 || *at == 0x7f)
            return false;
    return true;
}

//  ---------------------------------------------------------------------------
//  Split one row (from line to end, its newline already a NUL) in place into
//  an entry. Returns NULL on success, else why the row is malformed.

static const char *
s_parse_row (char *line, char *end, pp_zip_entry_t *entry)
{
    if (memchr (line, '\0', (size_t) (end - line)))
        return "NUL byte in row";
    char *field [S_FIELDS];
    char *field_end [S_FIELDS];
    int count = 0;
    char *at = line;
    while (true) {
        char *tab = (char *) memchr (at, '\t', (size_t) (end - at));
        if (count == S_FIELDS)
            return "more than 6 fields";
        field [count] = at;
        field_end [count] = tab ? tab : end;
        count++;
        if (!tab)
            break;
        *tab = '\0';
        at = tab + 1;
    }
    if (count != S_FIELDS)
        return "fewer than 6 fields";

    const char *zip = field [0];
    if (field_end [0] - zip != 5)
        return "ZIP is not 5 digits";
    entry->zip = 0;
    for (int i = 0; i < 5; i++) {
        if (zip [i] < '0' || zip [i] > '9')
            return "ZIP is not 5 digits";
        entry->zip = entry->zip * 10 + (zip [i] - '0');
    }
    const char *state = field [1];
    if (field_end [1] - state != 2 || state [0] < 'A' || state [0] > 'Z' || state [1] < 'A'
        || state [1] > 'Z')
        return "state is not 2 capital letters";
    memcpy (entry->state, state, 3);
    if (!s_is_city (field [2], field_end [2]))
        return "control character in city";
    entry->city = field [2];
    if (!s_parse_degrees (field [3], 90, &entry->lat))
        return "latitude is not a number from -90 to 90";
    if (!s_parse_degrees (field [4], 180, &entry->lon))
        return "longitude is not a number from -180 to 180";
    if (!s_is_zone (field [5]))
        return "time zone is not a zone name";
    entry->time_zone = field [5];
    return NULL;
}

//  Latitude bucket of a latitude in [-90, 90]: whole degrees, 90 joins 89.
static int
s_bucket (double lat)
{
    int bucket = (int) floor (lat) + 90;
    return bucket < 0 ? 0 : bucket >= S_BUCKETS - 1 ? S_BUCKETS - 2 : bucket;
}

//  ---------------------------------------------------------------------------
//  Group the entries by latitude bucket (a counting sort: stable, linear)
//  for pp_zip_within.

static void
s_index_points (pp_zip_t *self)
{
    self->points = (s_point_t *) malloc (self->size * sizeof (s_point_t));
    assert (self->points);
    size_t count [S_BUCKETS] = {0};
    for (size_t i = 0; i < self->size; i++)
        count [s_bucket (self->entries [i].lat)]++;
    self->bucket [0] = 0;
    for (int b = 0; b < S_BUCKETS; b++)
        self->bucket [b + 1] = self->bucket [b] + count [b];
    size_t next [S_BUCKETS];
    memcpy (next, self->bucket, sizeof next);
    for (size_t i = 0; i < self->size; i++) {
        const pp_zip_entry_t *entry = &self->entries [i];
        s_point_t *point = &self->points [next [s_bucket (entry->lat)]++];
        point->lat = entry->lat;
        point->lon = entry->lon;
        point->cos_lat = cos (entry->lat * S_RADIANS);
        point->entry = (int32_t) i;
    }
}

//  ---------------------------------------------------------------------------
//  Load the table. The file is read once and split in place: no allocation
//  per row, so the 41,000-row table loads in milliseconds.

pp_zip_t *
pp_zip_load (const char *path)
{
    assert (path);
    size_t length = 0;
    char *text = s_slurp (path, &length);
    if (!text)
        return NULL;
    pp_zip_t *self = (pp_zip_t *) zmalloc (sizeof (pp_zip_t));
    self->text = text;
    char *end = text + length;
    size_t most_rows = length / S_MIN_ROW + 1;
    self->entries = (pp_zip_entry_t *) malloc (most_rows * sizeof (pp_zip_entry_t));
    assert (self->entries);
    self->index = (int32_t *) malloc (PP_ZIP_SLOTS * sizeof (int32_t));
    assert (self->index);
    memset (self->index, 0xff, PP_ZIP_SLOTS * sizeof (int32_t));   //  -1 everywhere

    size_t line_no = 0;
    char *line = text;
    while (line < end) {
        line_no++;
        char *eol = (char *) memchr (line, '\n', (size_t) (end - line));
        if (!eol) {
            zsys_error ("zip: %s:%zu: no newline at the end (truncated file?)", path, line_no);
            goto failed;
        }
        *eol = '\0';
        if (line_no == 1) {
            if (eol - line != (ptrdiff_t) strlen (S_HEADER) || strcmp (line, S_HEADER) != 0) {
                zsys_error ("zip: %s:1: header is not \"zip state city lat lon time_zone\""
                            " separated by tabs",
                            path);
                goto failed;
            }
        }
        else {
            assert (self->size < most_rows);
            pp_zip_entry_t *entry = &self->entries [self->size];
            const char *problem = s_parse_row (line, eol, entry);
            if (!problem && self->index [entry->zip] >= 0)
                problem = "ZIP repeats an earlier row";
            if (problem) {
                zsys_error ("zip: %s:%zu: %s", path, line_no, problem);
                goto failed;
            }
            self->index [entry->zip] = (int32_t) self->size++;
        }
        line = eol + 1;
    }
    if (line_no == 0) {
        zsys_error ("zip: %s: empty file", path);
        goto failed;
    }
    if (self->size == 0) {
        zsys_error ("zip: %s: no rows after the header", path);
        goto failed;
    }
    pp_zip_entry_t *fitted =
        (pp_zip_entry_t *) realloc (self->entries, self->size * sizeof (pp_zip_entry_t));
    assert (fitted);
    self->entries = fitted;
    s_index_points (self);
    return self;

failed:
    pp_zip_destroy (&self);
    return NULL;
}

void
pp_zip_destroy (pp_zip_t **self_p)
{
    assert (self_p);
    pp_zip_t *self = *self_p;
    if (self) {
        free (self->points);
        free (self->index);
        free (self->entries);
        free (self->text);
        free (self);
        *self_p = NULL;
    }
}

const char *
pp_zip_default_path (void)
{
    const char *path = getenv ("PINGPOST_ZIP_DATA");
    return path && *path ? path : PP_ZIP_DATA;
}

size_t
pp_zip_size (const pp_zip_t *self)
{
    assert (self);
    return self->size;
}

const pp_zip_entry_t *
pp_zip_find (const pp_zip_t *self, const char *zip5)
{
    assert (self);
    if (!zip5)
        return NULL;
    int zip = 0;
    for (int i = 0; i < 5; i++) {
        if (zip5 [i] < '0' || zip5 [i] > '9')
            return NULL;                    //  also stops at a short string's NUL
        zip = zip * 10 + (zip5 [i] - '0');
    }
    return zip5 [5] == '\0' ? pp_zip_find_number (self, zip) : NULL;
}

const pp_zip_entry_t *
pp_zip_find_number (const pp_zip_t *self, int zip)
{
    assert (self);
    if (zip < 0 || zip >= PP_ZIP_SLOTS || self->index [zip] < 0)
        return NULL;
    return &self->entries [self->index [zip]];
}

//  Haversine with the cosines of both latitudes given. pp_zip_distance_miles
//  and pp_zip_within both measure through here, so they agree to the bit.
static inline double
s_haversine (double lat_a, double lon_a, double cos_a, double lat_b, double lon_b, double cos_b)
{
    double half_dlat = sin ((lat_b - lat_a) * S_RADIANS / 2);
    double half_dlon = sin ((lon_b - lon_a) * S_RADIANS / 2);
    double h = half_dlat * half_dlat + cos_a * cos_b * half_dlon * half_dlon;
    if (h > 1)
        h = 1;                              //  rounding, near antipodes
    return 2 * PP_ZIP_EARTH_MILES * asin (sqrt (h));
}

double
pp_zip_distance_miles (const pp_zip_entry_t *a, const pp_zip_entry_t *b)
{
    assert (a);
    assert (b);
    return s_haversine (a->lat, a->lon, cos (a->lat * S_RADIANS), b->lat, b->lon,
                        cos (b->lat * S_RADIANS));
}

//  ---------------------------------------------------------------------------
//  Only points inside the circle's bounding box can be in it. A great circle
//  is never shorter than the latitude it crosses, so the box spans miles /
//  S_MILES_PER_DEGREE degrees of latitude either way; unless the circle
//  reaches a pole, it spans asin (sin (r) / cos (lat)) of longitude either
//  way (r the angular radius), wrapping at the date line. We read the
//  latitude buckets the box covers, skip points outside it with two
//  comparisons, and measure the rest with the haversine of
//  pp_zip_distance_miles, so the answer is exactly the brute-force one.

size_t
pp_zip_within (const pp_zip_t *self, const char *zip5, double miles, uint8_t *bitmap)
{
    assert (self);
    assert (bitmap);
    memset (bitmap, 0, PP_ZIP_BITMAP_BYTES);
    const pp_zip_entry_t *centre = pp_zip_find (self, zip5);
    if (!centre || !(miles >= 0))
        return 0;                           //  unknown ZIP, negative or NaN radius
    double cos_lat = cos (centre->lat * S_RADIANS);
    double band = miles / S_MILES_PER_DEGREE + S_SLACK;
    double south = centre->lat - band, north = centre->lat + band;
    double span = 360;                      //  longitude half-width; 360 = no limit
    double angle = miles / PP_ZIP_EARTH_MILES;
    if (angle < M_PI / 2 && fabs (centre->lat) + band < 90) {
        double ratio = sin (angle) / cos_lat;
        if (ratio < 1)
            span = asin (ratio) / S_RADIANS * (1 + 1e-9) + S_SLACK;
    }
    int first = s_bucket (south < -90 ? -90 : south);
    int last = s_bucket (north > 90 ? 90 : north);
    size_t count = 0;
    for (size_t i = self->bucket [first]; i < self->bucket [last + 1]; i++) {
        const s_point_t *point = &self->points [i];
        if (point->lat < south || point->lat > north)
            continue;
        if (span < 180) {
            double dlon = fabs (point->lon - centre->lon);
            if (dlon > 180)
                dlon = 360 - dlon;
            if (dlon > span)
                continue;
        }
        if (s_haversine (centre->lat, centre->lon, cos_lat, point->lat, point->lon, point->cos_lat)
            <= miles) {
            int zip = self->entries [point->entry].zip;
            bitmap [zip >> 3] |= (uint8_t) (1u << (zip & 7));
            count++;
        }
    }
    return count;
}

bool
pp_zip_bitmap_has (const uint8_t *bitmap, int zip)
{
    assert (bitmap);
    if (zip < 0 || zip >= PP_ZIP_SLOTS)
        return false;
    return (bitmap [zip >> 3] >> (zip & 7)) & 1;
}
