/*  pp_zip - the US ZIP table: state, city, point and time zone per ZIP, radius search  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_ZIP_H_INCLUDED
#define PP_ZIP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  ZIPs are 00000..99999: a radius bitmap has one bit per ZIP number.
#define PP_ZIP_SLOTS 100000
#define PP_ZIP_BITMAP_BYTES (PP_ZIP_SLOTS / 8)

//  Earth radius used by every distance here, in statute miles.
#define PP_ZIP_EARTH_MILES 3958.8

//  One ZIP of the table. Entries belong to their table and live as long as it.
typedef struct {
    int zip;                    //  the ZIP as a number, 0..99999 ("00601" is 601)
    char state [3];             //  USPS state code: "NY", "DC", "PR", ...
    const char *city;           //  place name; "" where the source has none
    double lat;                 //  latitude, degrees north
    double lon;                 //  longitude, degrees east (negative in the Americas)
    const char *time_zone;      //  IANA zone name, e.g. "America/Chicago"
} pp_zip_entry_t;

typedef struct pp_zip pp_zip_t;

//  Load the table from a TSV file: the header line
//  "zip\tstate\tcity\tlat\tlon\ttime_zone", then one row per ZIP, each line
//  ending in a newline (data/zip/us-zips.tsv, made by scripts/make-zipdata).
//  Returns NULL, with one error line naming the file and line, when the file
//  cannot be read, the header differs, or any row is malformed: not six
//  fields, a ZIP that is not five digits or repeats, a state that is not two
//  capitals, a latitude or longitude out of range, an empty or odd zone.
//  The table is read-only once loaded: any number of threads may share it.
pp_zip_t *
    pp_zip_load (const char *path);
//  Destroy the table and its entries; nulls *self_p. Safe on NULL.
void
    pp_zip_destroy (pp_zip_t **self_p);
//  The table's path: env PINGPOST_ZIP_DATA when set and not empty, else the
//  compile-time PP_ZIP_DATA (the source tree's data/zip/us-zips.tsv).
//  Borrowed string.
const char *
    pp_zip_default_path (void);
//  Number of ZIPs in the table.
size_t
    pp_zip_size (const pp_zip_t *self);
//  The entry of a ZIP given as exactly five ASCII digits ("02134"), in O(1).
//  NULL when zip5 is NULL, not five digits (ZIP+4 included: cut it first),
//  or not in the table. Borrowed.
const pp_zip_entry_t *
    pp_zip_find (const pp_zip_t *self, const char *zip5);
//  The same by number (0..99999); NULL when out of range or unknown.
const pp_zip_entry_t *
    pp_zip_find_number (const pp_zip_t *self, int zip);
//  Great-circle (haversine) distance between two entries, in miles, with
//  PP_ZIP_EARTH_MILES as the radius. Symmetric; 0 for the same point.
double
    pp_zip_distance_miles (const pp_zip_entry_t *a, const pp_zip_entry_t *b);
//  Zero bitmap (PP_ZIP_BITMAP_BYTES bytes, the caller's) and set bit n
//  (bitmap [n / 8] & (1 << n % 8)) for every ZIP n whose distance from zip5,
//  by pp_zip_distance_miles, is at most `miles`, zip5 itself included.
//  Returns how many bits were set: 0 when zip5 is unknown (see pp_zip_find)
//  or miles is negative or not a number. Cost grows with the ZIPs in the
//  latitude band of the circle, not with the whole table.
size_t
    pp_zip_within (const pp_zip_t *self, const char *zip5, double miles, uint8_t *bitmap);
//  True when bit `zip` of a pp_zip_within bitmap is set; false out of range.
bool
    pp_zip_bitmap_has (const uint8_t *bitmap, int zip);

#endif
