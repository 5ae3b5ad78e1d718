/*  make_corpus - write the fuzzers' seed inputs (tests/fuzz/corpus/<target>/)  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  Usage: pp_fuzz_make_corpus OUT_DIR SOURCE_DIR
//  Writes OUT_DIR/fuzz_msgpack/ (messages made by the codec, then broken on
//  purpose), OUT_DIR/fuzz_lead_json/ (request bodies for the verticals of
//  tests/fuzz/market.json) and OUT_DIR/fuzz_market/ (the repository's
//  marketplace files and small broken ones). The output is the same on every
//  run: fixed ids and times, no randomness. Existing files of the same name
//  are overwritten; others (e.g. minimised crash inputs) are left alone.

#include <msgpack.h>
#include <sys/stat.h>
#include "pp_event.h"
#include "pp_lead.h"
#include "pp_result.h"

#define S_ID "01JD5Z6W9X3K8M2N4P6Q8R0S2T"
#define S_AT INT64_C (1764410321123456)

static const char *s_out; //  OUT_DIR

static void
s_write (const char *target, const char *name, const void *data, size_t size)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", s_out, target);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/%s/%s", s_out, target, name);
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (data, 1, size, file) != size || fclose (file)) {
        fprintf (stderr, "make_corpus: cannot write %s\n", path);
        exit (1);
    }
}

static void
s_write_frame (const char *name, zframe_t **frame_p)
{
    s_write ("fuzz_msgpack", name, zframe_data (*frame_p), zframe_size (*frame_p));
    zframe_destroy (frame_p);
}

static void
s_write_text (const char *target, const char *name, const char *text)
{
    s_write (target, name, text, strlen (text));
}

//  Copy a file of the source tree into the corpus.
static void
s_copy (const char *source_dir, const char *from, const char *target, const char *name)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", source_dir, from);
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "make_corpus: cannot read %s\n", path);
        exit (1);
    }
    char data[65536];
    size_t size = fread (data, 1, sizeof data, file);
    fclose (file);
    s_write (target, name, data, size);
}

//  --------------------------------------------------------------------------
//  fuzz_msgpack: messages as the codec makes them

static void
s_fill_bag (pp_fields_t *bag)
{
    pp_fields_set_str (bag, "first_name", "Dana");
    pp_fields_set_str (bag, "city", "S\xc3\xa3o Paulo \xe2\x98\x80");
    pp_fields_set_str (bag, "", "empty name");
    pp_fields_set_nil (bag, "address");
    pp_fields_set_bool (bag, "home_owner", true);
    pp_fields_set_bool (bag, "renter", false);
    pp_fields_set_int (bag, "monthly_bill", 250);
    pp_fields_set_int (bag, "big", INT64_MAX);
    pp_fields_set_int (bag, "small", INT64_MIN);
    pp_fields_set_int (bag, "minus", -1);
    pp_fields_set_num (bag, "ratio", 0.25);
    pp_fields_set_num (bag, "inf", 1e308 * 10);
    pp_fields_set_json (bag, "extra", "{\"roof\":{\"age\":12},\"list\":[1,\"a\",null]}");
    pp_fields_set_json (bag, "broken", "[1, 2");
}

static pp_lead_t *
s_lead_full (void)
{
    pp_lead_t *lead = pp_lead_new (S_ID);
    pp_lead_set_received_us (lead, S_AT);
    pp_lead_set_deadline_us (lead, S_AT + 3000000);
    pp_lead_set_reply_slot (lead, 2);
    pp_lead_set_publisher_id (lead, 1);
    pp_lead_set_publisher (lead, "acme-media");
    pp_lead_set_source (lead, "google");
    pp_lead_set_sub_id (lead, "sub-7");
    pp_lead_set_vertical (lead, "solar");
    pp_lead_set_test (lead, true);
    s_fill_bag (pp_lead_fields (lead));
    pp_fields_set_bool (pp_lead_consent (lead), "tcpa", true);
    pp_fields_set_str (pp_lead_consent (lead), "text", "I agree to be contacted.");
    pp_fields_set_str (pp_lead_consent (lead), "timestamp", "2026-11-29T10:00:00Z");
    pp_fields_set_str (pp_lead_signals (lead), "honeypot", "");
    pp_fields_set_str (pp_lead_signals (lead), "user_agent", "Mozilla/5.0");
    pp_lead_add_eligible (lead, 3);
    pp_lead_add_eligible (lead, UINT32_MAX);
    pp_bid_t bid = {7, 2, 1850, 1850, 1, true, 4210, S_AT + 6000, "q-991"};
    pp_lead_add_bid (lead, &bid);
    pp_bid_t plain = {8, 3, -5, 0, -1, false, 0, 0, NULL};
    pp_lead_add_bid (lead, &plain);
    pp_bid_t empty_ref = {9, 4, 100, 99, 2, false, 1, 2, ""};
    pp_lead_add_bid (lead, &empty_ref);
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, false, S_AT);
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, true, S_AT + 154);
    pp_lead_add_stamp (lead, 255, true, -1);
    return lead;
}

static void
s_msgpack_codec (void)
{
    pp_lead_t *lead = pp_lead_new ("x");
    pp_lead_set_received_us (lead, 0);
    pp_lead_set_deadline_us (lead, 0);
    zframe_t *frame = pp_lead_encode (lead);
    s_write_frame ("lead-minimal", &frame);
    pp_lead_destroy (&lead);

    lead = s_lead_full ();
    frame = pp_lead_encode (lead);
    s_write_frame ("lead-full", &frame);
    pp_lead_destroy (&lead);

    //  The example of proto/README.md section 11
    lead = pp_lead_new (S_ID);
    pp_lead_set_received_us (lead, S_AT);
    pp_lead_set_deadline_us (lead, S_AT + 3000000);
    pp_lead_set_reply_slot (lead, 2);
    pp_lead_set_publisher_id (lead, 1);
    pp_lead_set_publisher (lead, "acme-media");
    pp_lead_set_source (lead, "google");
    pp_lead_set_vertical (lead, "solar");
    pp_fields_set_str (pp_lead_fields (lead), "zip", "90001");
    pp_fields_set_int (pp_lead_fields (lead), "monthly_bill", 250);
    pp_fields_set_bool (pp_lead_fields (lead), "home_owner", true);
    pp_fields_set_json (pp_lead_fields (lead), "extra", "{\"roof\":{\"age\":12}}");
    pp_fields_set_bool (pp_lead_consent (lead), "tcpa", true);
    pp_fields_set_str (pp_lead_consent (lead), "text", "I agree to be contacted.");
    pp_lead_add_eligible (lead, 3);
    pp_lead_add_eligible (lead, 7);
    pp_bid_t bid = {7, 2, 1850, 1850, 1, true, 4210, S_AT + 5544, "q-991"};
    pp_lead_add_bid (lead, &bid);
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, false, S_AT);
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, true, S_AT + 154);
    frame = pp_lead_encode (lead);
    s_write_frame ("lead-example", &frame);
    pp_lead_destroy (&lead);

    pp_result_t *result = pp_result_new (S_ID, PP_STATUS_SOLD);
    pp_result_set_price_cents (result, 2400);
    pp_result_set_charge_cents (result, 3000);
    pp_result_set_stage (result, PP_STAGE_DELIVER);
    frame = pp_result_encode (result);
    s_write_frame ("result-sold", &frame);
    pp_result_destroy (&result);

    result = pp_result_new (S_ID, PP_STATUS_REJECTED);
    pp_result_set_stage (result, PP_STAGE_VALIDATE);
    pp_result_add_reason (result, "phone_invalid", "phone", "is not a valid US phone number");
    pp_result_add_reason (result, "consent_missing", NULL, NULL);
    pp_result_add_reason (result, "", "", "");
    frame = pp_result_encode (result);
    s_write_frame ("result-rejected", &frame);
    pp_result_destroy (&result);

    result = pp_result_new ("y", PP_STATUS_ERROR);
    pp_result_set_price_cents (result, INT64_MIN);
    pp_result_set_stage (result, 255);
    frame = pp_result_encode (result);
    s_write_frame ("result-error", &frame);
    pp_result_destroy (&result);

    pp_events_t *events = pp_events_new ();
    frame = pp_events_encode (events);
    s_write_frame ("events-empty", &frame);
    const char *kinds[] = {"received", "validated", "bid", "sold", "answered", "error"};
    for (int i = 0; i < 6; i++) {
        char id[64];
        snprintf (id, sizeof id, "%s.%dabcd%d", S_ID, i % 6 + 1, i);
        pp_event_t *event = pp_event_new (id, S_ID, kinds[i], i % 6 + 1, S_AT + i);
        if (i == 2 || i == 3) {
            pp_event_set_campaign (event, 7, 2);
            pp_event_set_amount_cents (event, 1850);
            pp_event_set_latency_us (event, 4210);
        }
        if (i == 3)
            pp_event_set_payout_cents (event, 1480);
        if (i == 4)
            pp_event_set_code (event, "sold");
        if (i == 0)
            pp_event_set_detail (event, "{\"fields\":{\"zip\":\"90001\"},\"pii\":{}}");
        pp_events_append (events, &event);
    }
    frame = pp_events_encode (events);
    s_write_frame ("events-six", &frame);
    pp_events_destroy (&events);

    pp_ack_t *ack = pp_ack_new ();
    frame = pp_ack_encode (ack);
    s_write_frame ("ack-empty", &frame);
    pp_ack_append (ack, S_ID ".1abcd1");
    pp_ack_append (ack, "e");
    pp_ack_append (ack, "012345678901234567890123456789012345678901234567890123456789012");
    frame = pp_ack_encode (ack);
    s_write_frame ("ack-three", &frame);
    pp_ack_destroy (&ack);
}

//  --------------------------------------------------------------------------
//  fuzz_msgpack: messages broken on purpose, each of proto/README.md's
//  rejection cases (written with msgpack-c directly, as the codec's tests do)

static void
s_pack_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str (pk, strlen (text));
    msgpack_pack_str_body (pk, text, strlen (text));
}

static void
s_write_sbuffer (const char *name, msgpack_sbuffer *buffer)
{
    s_write ("fuzz_msgpack", name, buffer->data, buffer->size);
    msgpack_sbuffer_clear (buffer);
}

static void
s_msgpack_broken (void)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);

    //  Truncated and with trailing bytes: cut and grown copies of lead-full
    pp_lead_t *lead = s_lead_full ();
    zframe_t *frame = pp_lead_encode (lead);
    pp_lead_destroy (&lead);
    s_write ("fuzz_msgpack", "lead-truncated", zframe_data (frame), zframe_size (frame) / 2);
    msgpack_sbuffer_write (&buffer, (const char *) zframe_data (frame), zframe_size (frame));
    msgpack_pack_nil (&pk);
    s_write_sbuffer ("lead-trailing", &buffer);
    zframe_destroy (&frame);

    //  Wrong version, wrong type, keys out of order, unknown keys
    msgpack_pack_map (&pk, 5);
    s_pack_str (&pk, "v");
    msgpack_pack_int (&pk, 2);
    s_pack_str (&pk, "t");
    s_pack_str (&pk, "lead");
    s_pack_str (&pk, "id");
    s_pack_str (&pk, "a");
    s_pack_str (&pk, "rcv");
    msgpack_pack_int (&pk, 1);
    s_pack_str (&pk, "dl");
    msgpack_pack_int (&pk, 2);
    s_write_sbuffer ("lead-version-2", &buffer);

    msgpack_pack_map (&pk, 2);
    s_pack_str (&pk, "v");
    msgpack_pack_int (&pk, 1);
    s_pack_str (&pk, "t");
    s_pack_str (&pk, "nope");
    s_write_sbuffer ("wrong-type", &buffer);

    msgpack_pack_map (&pk, 9);
    s_pack_str (&pk, "dl");
    msgpack_pack_uint64 (&pk, UINT64_MAX); //  above int64: rejected
    s_pack_str (&pk, "zz");
    msgpack_pack_array (&pk, 1);
    msgpack_pack_ext (&pk, 1, 7);
    msgpack_pack_ext_body (&pk, "x", 1);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_int (&pk, 2); //  a key that is not a str: unknown
    s_pack_str (&pk, "id");
    s_pack_str (&pk, "b");
    s_pack_str (&pk, "t");
    s_pack_str (&pk, "lead");
    s_pack_str (&pk, "rcv");
    msgpack_pack_double (&pk, 1.5); //  a float for an int: rejected
    s_pack_str (&pk, "v");
    msgpack_pack_int (&pk, 1);
    s_pack_str (&pk, "ts");
    msgpack_pack_array (&pk, 2);
    msgpack_pack_array (&pk, 2); //  a stamp of two: rejected
    msgpack_pack_int (&pk, 1);
    msgpack_pack_int (&pk, 0);
    msgpack_pack_array (&pk, 4); //  a stamp of four: the rest ignored
    msgpack_pack_int (&pk, 1);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_int (&pk, 5);
    msgpack_pack_nil (&pk);
    s_pack_str (&pk, "f");
    msgpack_pack_map (&pk, 3);
    s_pack_str (&pk, "a");
    msgpack_pack_bin (&pk, 2);
    msgpack_pack_bin_body (&pk, "[]", 2);
    s_pack_str (&pk, "a"); //  a name twice: rejected
    msgpack_pack_float (&pk, 1.5f);
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "n\0l", 3); //  a NUL in a name: rejected
    msgpack_pack_map (&pk, 0);              //  a map value: rejected
    s_write_sbuffer ("lead-bad-keys", &buffer);

    //  A duplicate key in a result, a reason without its code
    msgpack_pack_map (&pk, 6);
    s_pack_str (&pk, "v");
    msgpack_pack_int (&pk, 1);
    s_pack_str (&pk, "t");
    s_pack_str (&pk, "result");
    s_pack_str (&pk, "id");
    s_pack_str (&pk, "r");
    s_pack_str (&pk, "st");
    msgpack_pack_int (&pk, 3);
    s_pack_str (&pk, "rn");
    msgpack_pack_array (&pk, 2);
    msgpack_pack_map (&pk, 1);
    s_pack_str (&pk, "c");
    s_pack_str (&pk, "zip_unknown");
    msgpack_pack_map (&pk, 1);
    s_pack_str (&pk, "f");
    s_pack_str (&pk, "zip");
    s_pack_str (&pk, "st");
    msgpack_pack_int (&pk, 6);
    s_write_sbuffer ("result-bad", &buffer);

    //  An event with every key, one without its kind
    msgpack_pack_map (&pk, 3);
    s_pack_str (&pk, "v");
    msgpack_pack_int (&pk, 1);
    s_pack_str (&pk, "t");
    s_pack_str (&pk, "events");
    s_pack_str (&pk, "ev");
    msgpack_pack_array (&pk, 2);
    msgpack_pack_map (&pk, 12);
    const char *keys[] = {"id", "ld", "k", "cd", "dt"};
    const char *values[] = {"e.1", S_ID, "bid", "timeout", "{}"};
    for (int i = 0; i < 5; i++) {
        s_pack_str (&pk, keys[i]);
        s_pack_str (&pk, values[i]);
    }
    const char *int_keys[] = {"sg", "at", "cp", "by", "am", "po", "lat"};
    const int64_t ints[] = {4, S_AT, 7, 2, 1850, 0, -1};
    for (int i = 0; i < 7; i++) {
        s_pack_str (&pk, int_keys[i]);
        msgpack_pack_int64 (&pk, ints[i]);
    }
    msgpack_pack_map (&pk, 4);
    s_pack_str (&pk, "id");
    s_pack_str (&pk, "e.2");
    s_pack_str (&pk, "ld");
    s_pack_str (&pk, S_ID);
    s_pack_str (&pk, "sg");
    msgpack_pack_int (&pk, 256);
    s_pack_str (&pk, "at");
    msgpack_pack_int (&pk, 0);
    s_write_sbuffer ("events-bad", &buffer);

    //  An ack with a 64-byte id (over the limit)
    msgpack_pack_map (&pk, 3);
    s_pack_str (&pk, "v");
    msgpack_pack_int (&pk, 1);
    s_pack_str (&pk, "t");
    s_pack_str (&pk, "ack");
    s_pack_str (&pk, "ids");
    msgpack_pack_array (&pk, 1);
    s_pack_str (&pk, "0123456789012345678901234567890123456789012345678901234567890123");
    s_write_sbuffer ("ack-long-id", &buffer);

    //  Nesting 40 deep under an unknown key
    msgpack_pack_map (&pk, 3);
    s_pack_str (&pk, "v");
    msgpack_pack_int (&pk, 1);
    s_pack_str (&pk, "t");
    s_pack_str (&pk, "ack");
    s_pack_str (&pk, "deep");
    for (int i = 0; i < 40; i++)
        msgpack_pack_array (&pk, 1);
    msgpack_pack_nil (&pk);
    s_write_sbuffer ("ack-deep", &buffer);

    msgpack_sbuffer_destroy (&buffer);

    //  Raw bytes: a declared length far past the input, 0xc1, empty
    const uint8_t huge[] = {0x83, 0xa1, 'v', 0x01, 0xa1, 't',  0xa3, 'a',  'c', 'k',
                            0xa3, 'i',  'd', 's',  0xdd, 0x0f, 0xff, 0xff, 0xff};
    s_write ("fuzz_msgpack", "ack-huge-array", huge, sizeof huge);
    const uint8_t never[] = {0x82, 0xa1, 'v', 0x01, 0xa1, 't', 0xc1};
    s_write ("fuzz_msgpack", "byte-c1", never, sizeof never);
    s_write ("fuzz_msgpack", "empty", "", 0);
}

//  --------------------------------------------------------------------------
//  fuzz_lead_json: request bodies (verticals of tests/fuzz/market.json)

static const char *s_bodies[][2] = {
    {"solar-good",
     "{\"vertical\": \"solar\", \"source\": \"site-1\", \"sub_id\": \"s1\", "
     "\"test\": false, \"timeout_ms\": 3000,\n"
     " \"fields\": {\"first_name\": \"Dana\", \"last_name\": \"Doe\", "
     "\"email\": \"dana@example.com\", \"phone\": \"(415) 555-2671\", \"zip\": \"90001\", "
     "\"state\": \"CA\", \"monthly_bill\": 250, \"home_owner\": true, \"credit\": \"good\"},\n"
     " \"consent\": {\"tcpa\": true, \"text\": \"I agree to be contacted.\", "
     "\"timestamp\": \"2025-11-29T09:58:00Z\"}}"},
    {"solar-normalise",
     "{\"vertical\": \"solar\", \"fields\": {\"first_name\": \"Ren\\u00e9e\", "
     "\"last_name\": \"O'Brien-\\u6771\", \"email\": \"  Ren.Ee+tag@Example.CO.uk \", "
     "\"phone\": \"+1 212.555.0847\", \"zip\": \"10001-1234\", \"state\": \"ny\", "
     "\"address\": \"1 Main St\", \"monthly_bill\": 0, \"credit\": \"excellent\", "
     "\"roof\": {\"age\": 12, \"type\": [\"tile\", null]}},\n"
     " \"consent\": {\"tcpa\": true, \"text\": \"yes\", "
     "\"trustedform_cert_url\": "
     "\"https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567\", "
     "\"jornaya_leadid\": \"01234567-89AB-cdef-0123-456789abcdef\"},\n"
     " \"signals\": {\"form_started_at\": \"2025-11-29T09:58:00Z\", \"honeypot\": \"\", "
     "\"ip\": \"203.0.113.9\", \"user_agent\": \"Mozilla/5.0\"}}"},
    {"solar-state-filled",
     "{\"vertical\":\"solar\",\"fields\":{\"first_name\":\"A\","
     "\"last_name\":\"B\",\"email\":\"a@b.io\",\"phone\":\"12025553412\",\"zip\":\"20001\","
     "\"state\":null},\"consent\":{\"tcpa\":true,\"text\":\"t\"}}"},
    {"solar-rejected",
     "{\"vertical\": \"solar\", \"fields\": {\"first_name\": "
     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", "
     "\"last_name\": \"x\", \"email\": \"a..b@-example.com\", \"phone\": \"(155) 555-0100\", "
     "\"zip\": \"00000\", \"state\": \"ZZ\", \"monthly_bill\": 5001, \"credit\": \"bad\"},"
     " \"consent\": {\"tcpa\": false, \"trustedform_cert_url\": \"http://x\", "
     "\"jornaya_leadid\": \"nope\"}, \"signals\": {\"honeypot\": \"filled\"}}"},
    {"solar-blacklisted",
     "{\"vertical\":\"solar\",\"fields\":{\"first_name\":\" TEST \",\"last_name\":\"test\","
     "\"email\":\"Spam@Example.COM\",\"phone\":\"(202) 555-2368\",\"zip\":\"20001\"},"
     "\"consent\":{\"tcpa\":true,\"text\":\"t\",\"ip\":\"192.168.1.20\"},"
     "\"signals\":{\"ip\":\"2001:db8:1::5\"}}"},
    {"solar-blacklisted-ip",
     "{\"vertical\":\"solar\",\"fields\":{\"first_name\":\"Mickey \",\"last_name\":\" Mouse\","
     "\"email\":\"m@blocked.example\",\"phone\":\"(415) 555-2671\",\"zip\":\"90001\"},"
     "\"consent\":{\"tcpa\":true,\"text\":\"t\",\"ip\":\"::ffff:192.168.1.20\"}}"},
    {"solar-disposable",
     "{\"vertical\":\"solar\",\"fields\":{\"first_name\":\"Ann\",\"last_name\":\"Lee\","
     "\"email\":\"ann@mail.mailinator.com\",\"phone\":\"(312) 555-2671\",\"zip\":\"60601\"},"
     "\"consent\":{\"tcpa\":true,\"text\":\"t\"}}"},
    {"solar-role",
     "{\"vertical\":\"solar\",\"fields\":{\"first_name\":\"Ann\",\"last_name\":\"Lee\","
     "\"email\":\"Info+x@Shop.example.org\",\"phone\":\"312-555-2671\",\"zip\":\"60601\"},"
     "\"consent\":{\"tcpa\":true,\"text\":\"t\"}}"},
    {"solar-bot",
     "{\"vertical\":\"solar\",\"fields\":{\"first_name\":\"Ann\",\"last_name\":\"Lee\","
     "\"email\":\"ann@example.net\",\"phone\":\"3125552671\",\"zip\":\"60601\"},"
     "\"consent\":{\"tcpa\":true,\"text\":\"t\",\"timestamp\":\"2025-11-30T09:58:41Z\","
     "\"user_agent\":\"Mozilla/5.0 HeadlessChrome/120\"},"
     "\"signals\":{\"form_started_at\":\"2025-11-29T09:58:39Z\",\"honeypot\":0,"
     "\"user_agent\":\"python-requests/2.31\"}}"},
    {"auto-bot-stale", "{\"vertical\":\"auto\",\"fields\":{\"zip\":\"60601\",\"married\":true},"
                       "\"consent\":{\"timestamp\":\"2020-01-01T00:00:00Z\"},"
                       "\"signals\":{\"form_started_at\":\"yesterday\"}}"},
    {"solar-mismatch",
     "{\"vertical\":\"solar\",\"fields\":{\"first_name\":\"A\","
     "\"last_name\":\"B\",\"email\":\"a@b.io\",\"phone\":\"2025553412\",\"zip\":\"90001\","
     "\"state\":\"NY\"},\"consent\":{\"tcpa\":true,\"text\":\"t\"}}"},
    {"solar-types", "{\"vertical\":\"solar\",\"fields\":{\"first_name\":1,\"last_name\":null,"
                    "\"email\":true,\"phone\":2025553412,\"zip\":90001,\"monthly_bill\":2.5,"
                    "\"home_owner\":\"yes\",\"credit\":[\"good\"]}}"},
    {"auto-good",
     "{\"vertical\": \"auto\", \"fields\": {\"zip\": \"60601\", "
     "\"zip_work\": \"60602-0001\", \"age\": 34.5, \"dob\": \"1991-04-01\", \"vehicles\": 2, "
     "\"married\": false, \"email\": \"x@y.us\", \"phone\": \"312 555 2671\"}}"},
    {"auto-edges",
     "{\"vertical\": \"auto\", \"fields\": {\"zip\": \"99999\", "
     "\"zip_work\": \"00501\", \"state\": \"pr\", \"age\": 1e999, "
     "\"dob\": \"2026-02-30T25:61:00+14:00\", \"vehicles\": -0, \"married\": true, "
     "\"email\": \"a@bbbbbbbbbbbbbbbbbbbbbbbbbbbb.com\", \"phone\": \"+1 (800) 555-0100\"}, "
     "\"timeout_ms\": 60000, \"test\": true, \"sub_id\": null}"},
    {"auto-dedupe-int", "{\"vertical\":\"auto\",\"fields\":{\"zip\":\"02134\",\"vehicles\":9,"
                        "\"married\":true,\"dob\":\"2000-01-01T00:00:00.123456Z\"}}"},
    {"misc",
     "{\"vertical\":\"misc\",\"fields\":{\"note\":\"\\u00e9\\u00e9\\u00e9\","
     "\"level\":\"\",\"n\":9007199254740993,\"m\":-9.007e15,\"z\":-0.0,\"big\":1e308,"
     "\"deep\":[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]],\"nul\":\"a\\u0000b\",\"\":\"\"}}"},
    {"misc-duplicate-keys", "{\"vertical\":\"misc\",\"vertical\":\"solar\",\"fields\":"
                            "{\"note\":\"abcd\",\"note\":\"ab\",\"level\":\"c\"},\"fields\":{}}"},
    {"unknown-vertical", "{\"vertical\":\"roofing\",\"fields\":{}}"},
    {"top-level-bad", "{\"vertical\":\"misc\",\"fields\":{},\"source\":7,\"test\":\"no\","
                      "\"timeout_ms\":1.5,\"consent\":[],\"signals\":\"x\"}"},
    {"not-an-object", "[{\"vertical\":\"misc\",\"fields\":{}}]"},
    {"not-json", "{\"vertical\": \"misc\", \"fields\": {"},
    {"surrogates", "{\"vertical\":\"misc\",\"fields\":{\"note\":\"\\ud83d\\ude00\\u00e9\","
                   "\"level\":\"\u00e9t\u00e9\"}}"},
    {"lone-surrogate", "{\"vertical\":\"misc\",\"fields\":{\"level\":\"\\udc00\"}}"},
};

static void
s_lead_json (void)
{
    for (size_t i = 0; i < sizeof s_bodies / sizeof s_bodies[0]; i++)
        s_write_text ("fuzz_lead_json", s_bodies[i][0], s_bodies[i][1]);
    //  One member over intake's limit of 500 (S_MAX_FIELDS)
    char many[8192] = "{\"vertical\":\"misc\",\"fields\":{";
    for (int i = 0; i < 501; i++)
        snprintf (many + strlen (many), sizeof many - strlen (many), "%s\"%x\":%d", i ? "," : "", i,
                  i % 10);
    strcat (many, "}}");
    s_write_text ("fuzz_lead_json", "too-many-fields", many);
    //  Not UTF-8: an overlong slash, a lone continuation byte
    s_write_text ("fuzz_lead_json", "not-utf8",
                  "{\"vertical\":\"misc\",\"fields\":{\"note\":\"\xc0\xaf\x80\"}}");
}

//  --------------------------------------------------------------------------
//  fuzz_market: marketplace files

static const char *s_markets[][2] = {
    {"empty-object", "{}"},
    {"empty", ""},
    {"trailing", "{} {}"},
    {"wrong-types", "{\"auction\": [], \"verticals\": {}, \"publishers\": 1, \"buyers\": null, "
                    "\"blacklist\": \"x\", \"other\": true}"},
    {"bad-vertical",
     "{\"verticals\": [{\"name\": \"\", \"fields\": {\"a\": {\"type\": \"enum\"}, "
     "\"b\": {\"type\": \"integer\", \"min\": 5, \"max\": 1}, \"c\": {\"type\": \"color\"}}, "
     "\"dedupe\": {\"fields\": [\"zz\"], \"days\": -1}}, {\"name\": \"\"}]}"},
    {"ping-campaign",
     "{\"auction\": {\"mode\": \"ping_tree\", \"pricing\": \"second\", "
     "\"floor\": 0.01, \"max_sales\": 2, \"timeout_ms\": 100},\n"
     " \"verticals\": [{\"name\": \"v\", \"fields\": {\"zip\": {\"type\": \"zip\"}}}],\n"
     " \"publishers\": [{\"name\": \"p\", \"api_key\": \"k\", \"payout\": {\"fixed\": 1.10}}],\n"
     " \"buyers\": [{\"name\": \"b\", \"campaigns\": [{\"name\": \"c\", \"vertical\": \"v\", "
     "\"bid\": {\"ping\": {\"url\": \"http://127.0.0.1:1/p\", \"price_pointer\": \"/a/0\"}}, "
     "\"post\": {\"url\": \"http://127.0.0.1:1/q\", \"format\": \"form\", "
     "\"accepted_when\": {\"pointer\": \"/ok\", \"equals\": true}}, "
     "\"filters\": {\"zip_radius\": {\"zip\": \"10001\", \"miles\": 0}}, "
     "\"schedule\": {\"time_zone\": \"UTC\", \"hours\": {\"sat-sun\": \"00:00-24:00\"}}, "
     "\"caps\": [{\"count\": 1, \"per\": \"hour\"}]}]}],\n"
     " \"blacklist\": {\"phones\": [\"2025553412\"], \"cidrs\": [\"10.0.0.0/8\"]}}"},
    {"money-decimals", "{\"auction\": {\"floor\": 5.001}, \"publishers\": [{\"name\": \"p\", "
                       "\"api_key\": \"k\", \"payout\": {\"revshare_percent\": 101}}]}"},
};

static void
s_market (const char *source_dir)
{
    for (size_t i = 0; i < sizeof s_markets / sizeof s_markets[0]; i++)
        s_write_text ("fuzz_market", s_markets[i][0], s_markets[i][1]);
    s_copy (source_dir, "examples/marketplace.json", "fuzz_market", "examples-marketplace.json");
    s_copy (source_dir, "tests/data/market_full.json", "fuzz_market", "market_full.json");
    s_copy (source_dir, "tests/data/market_design.json", "fuzz_market", "market_design.json");
    s_copy (source_dir, "tests/fuzz/market.json", "fuzz_market", "fuzz-market.json");
}

int
main (int argc, char *argv[])
{
    if (argc != 3) {
        fprintf (stderr, "usage: pp_fuzz_make_corpus OUT_DIR SOURCE_DIR\n");
        return 1;
    }
    s_out = argv[1];
    mkdir (s_out, 0755);
    s_msgpack_codec ();
    s_msgpack_broken ();
    s_lead_json ();
    s_market (argv[2]);
    return 0;
}
