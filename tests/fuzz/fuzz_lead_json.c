/*  fuzz_lead_json - libFuzzer target: a publisher's request body through intake, the wire and
 * validate  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  The input is the body of POST /v1/leads. It takes the path a lead takes,
//  through public functions only (intake's and validate's own steps are
//  static, so they are repeated here, in their order):
//
//  intake    pp_utf8_valid, cJSON_ParseWithLength, the top-level checks of
//            s_build_lead, pp_json_to_fields, pp_json_check_structure against
//            the vertical the body names (from market.json, parsed once), the
//            "received" event (its JSON detail, through the events codec);
//  wire      pp_lead encode, decode, compare, re-encode: same bytes;
//  validate  as s_handle, without the database: validate_check,
//            validate_check_zip (the shipped ZIP table), then for a
//            well-formed lead pp_blacklist_check (market.json's blacklist),
//            pp_email_check (the shipped disposable domains, default roles)
//            and pp_bot_score; validate_fingerprint; then the result, or the
//            lead it passes on through the codec again, and the ping JSON
//            auction would send.
//
//  Properties checked (assert; libFuzzer saves the input): a lead intake
//  accepts always survives the codec unchanged; every problem validate counts
//  is a reason in the result; an address validate_check passed is never
//  invalid to pp_email_check; a bot score is 0..100 and 0 exactly without
//  hits; a lead that passed validation passes again unchanged, with the same
//  fingerprint (normalising is idempotent); a fingerprint is 64 hex digits; a
//  ping carries only declared, non-personal fields.

#include "validate_server.h"
#include "pp_blacklist.h"
#include "pp_bot.h"
#include "pp_email.h"
#include "pp_event.h"
#include "pp_json.h"
#include "pp_util.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  A fixed id and clock keep every run of an input the same.
#define S_LEAD_ID "01JDFUZZ000000000000000000"
#define S_NOW_US INT64_C (1764410321123456)
//  intake's limit on the members of fields, consent and signals (S_MAX_FIELDS)
#define S_MAX_FIELDS 500

static pp_market_t *s_market;       //  market.json, parsed once
static pp_zip_t *s_zip;             //  the shipped ZIP table, loaded once
static bool s_verbose;              //  PP_FUZZ_VERBOSE: log where each input ends
static pp_blacklist_t *s_blacklist; //  market.json's "blacklist" section
static pp_email_t *s_email;         //  the shipped disposable domains, default roles
static pp_bot_config_t *s_bot;      //  bot settings per vertical, in market order

//  The blacklist as `pingpost apply` stores it: every entry of the section.
static pp_blacklist_t *
s_blacklist_new (const char *section_json)
{
    static const char *keys[][2] = {
        {"phones", "phone"}, {"emails", "email"}, {"email_domains", "email_domain"},
        {"ips", "ip"},       {"cidrs", "cidr"},   {"names", "name"}};
    pp_blacklist_t *self = pp_blacklist_new ();
    cJSON *section = cJSON_Parse (section_json ? section_json : "{}");
    assert (section);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive (section, keys[i][0]);
        for (const cJSON *item = list ? list->child : NULL; item; item = item->next) {
            int rc = pp_blacklist_add (self, keys[i][1], item->valuestring);
            assert (rc == 0);
        }
    }
    cJSON_Delete (section);
    return self;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    //  zsys_init first, so the handlers libFuzzer installs afterwards win;
    //  the decoders log malformed input, which would drown the fuzzer's output
    zsys_init ();
    s_verbose = getenv ("PP_FUZZ_VERBOSE") != NULL;
    if (!s_verbose)
        zsys_set_logstream (NULL);

    const char *path = getenv ("PP_FUZZ_MARKET");
    if (!path)
        path = PP_FUZZ_MARKET;
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "fuzz_lead_json: cannot open %s\n", path);
        exit (1);
    }
    char text[65536];
    size_t size = fread (text, 1, sizeof text, file);
    fclose (file);
    pp_market_error_t *errors = NULL;
    size_t error_count = 0;
    s_market = pp_market_parse (text, size, &errors, &error_count);
    if (!s_market) {
        for (size_t i = 0; i < error_count; i++)
            fprintf (stderr, "fuzz_lead_json: %s: %s: %s\n", path, errors[i].path,
                     errors[i].message);
        pp_market_errors_free (&errors, error_count);
        exit (1);
    }
    s_zip = pp_zip_load (pp_zip_default_path ());
    s_email = pp_email_new (pp_email_default_path ());
    if (!s_zip || !s_email) {
        fprintf (stderr, "fuzz_lead_json: cannot load %s or %s\n", pp_zip_default_path (),
                 pp_email_default_path ());
        exit (1);
    }
    s_blacklist = s_blacklist_new (pp_market_section (s_market, "blacklist"));
    size_t verticals = pp_market_vertical_count (s_market);
    s_bot = (pp_bot_config_t *) calloc (verticals, sizeof (pp_bot_config_t));
    assert (s_bot);
    for (size_t i = 0; i < verticals; i++)
        pp_bot_config_from_vertical (pp_market_vertical_at (s_market, i), &s_bot[i]);
    return 0;
}

//  --------------------------------------------------------------------------
//  Intake: the top-level checks of s_build_lead (services/intake), then the
//  lead. Returns NULL where intake answers 4xx.

static int s_problems;

static void
s_count_problem (void *arg, const char *code, const char *field, const char *message)
{
    assert (code && field && message);
    s_problems++;
}

static bool
s_short_string_or_null (const cJSON *item)
{
    return !item || cJSON_IsNull (item) ||
           (cJSON_IsString (item) && strlen (item->valuestring) <= 128);
}

static pp_lead_t *
s_build_lead (const cJSON *root, pp_vertical_t **vertical_p)
{
    const cJSON *vertical_json = cJSON_GetObjectItemCaseSensitive (root, "vertical");
    const cJSON *fields_json = cJSON_GetObjectItemCaseSensitive (root, "fields");
    const cJSON *source = cJSON_GetObjectItemCaseSensitive (root, "source");
    const cJSON *sub_id = cJSON_GetObjectItemCaseSensitive (root, "sub_id");
    const cJSON *test = cJSON_GetObjectItemCaseSensitive (root, "test");
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive (root, "timeout_ms");
    const cJSON *consent = cJSON_GetObjectItemCaseSensitive (root, "consent");
    const cJSON *signals = cJSON_GetObjectItemCaseSensitive (root, "signals");
    if (!cJSON_IsString (vertical_json))
        return NULL;
    pp_vertical_t *vertical = pp_market_vertical (s_market, vertical_json->valuestring);
    if (!vertical || !cJSON_IsObject (fields_json))
        return NULL;
    if (!s_short_string_or_null (source) || !s_short_string_or_null (sub_id))
        return NULL;
    if (test && !cJSON_IsNull (test) && !cJSON_IsBool (test))
        return NULL;
    int timeout_ms = pp_market_auction (s_market)->timeout_ms;
    if (timeout && !cJSON_IsNull (timeout)) {
        if (!cJSON_IsNumber (timeout) || timeout->valuedouble < 1 || timeout->valuedouble > 60000 ||
            timeout->valuedouble != (int) timeout->valuedouble)
            return NULL;
        timeout_ms = (int) timeout->valuedouble;
    }
    if ((consent && !cJSON_IsNull (consent) && !cJSON_IsObject (consent)) ||
        (signals && !cJSON_IsNull (signals) && !cJSON_IsObject (signals)))
        return NULL;
    if (cJSON_GetArraySize (fields_json) > S_MAX_FIELDS ||
        cJSON_GetArraySize (consent) > S_MAX_FIELDS || cJSON_GetArraySize (signals) > S_MAX_FIELDS)
        return NULL;

    pp_lead_t *lead = pp_lead_new (S_LEAD_ID);
    pp_json_to_fields (fields_json, pp_lead_fields (lead));
    s_problems = 0;
    int problems = pp_json_check_structure (vertical, pp_lead_fields (lead), s_count_problem, NULL);
    assert (problems == s_problems);
    if (problems > 0) {
        pp_lead_destroy (&lead);
        return NULL;
    }
    pp_lead_set_received_us (lead, S_NOW_US);
    pp_lead_set_deadline_us (lead, S_NOW_US + (int64_t) timeout_ms * 1000);
    pp_lead_set_reply_slot (lead, 0);
    pp_lead_set_publisher_id (lead, 1);
    pp_lead_set_publisher (lead, "fuzz-pub");
    pp_lead_set_vertical (lead, vertical->name);
    if (cJSON_IsString (source))
        pp_lead_set_source (lead, source->valuestring);
    if (cJSON_IsString (sub_id))
        pp_lead_set_sub_id (lead, sub_id->valuestring);
    pp_lead_set_test (lead, cJSON_IsTrue (test));
    pp_json_to_fields (consent, pp_lead_consent (lead));
    pp_json_to_fields (signals, pp_lead_signals (lead));
    pp_lead_add_stamp (lead, PP_STAGE_INTAKE, false, S_NOW_US);
    *vertical_p = vertical;
    return lead;
}

//  The "received" event, as intake's s_received_event makes it: personal and
//  undeclared fields apart, then through the events codec.
static void
s_received_event (pp_lead_t *lead, const pp_vertical_t *vertical)
{
    cJSON *base = cJSON_CreateObject ();
    cJSON_AddStringToObject (base, "source", pp_lead_source (lead));
    cJSON_AddStringToObject (base, "sub_id", pp_lead_sub_id (lead));
    cJSON_AddStringToObject (base, "vertical", pp_lead_vertical (lead));
    cJSON *open = cJSON_CreateObject ();
    cJSON *pii = cJSON_CreateObject ();
    pp_fields_t *fields = pp_lead_fields (lead);
    for (size_t i = 0; i < pp_fields_size (fields); i++) {
        const char *name = pp_fields_name (fields, i);
        const pp_field_spec_t *spec = pp_vertical_field (vertical, name);
        cJSON_AddItemToObject (spec && !spec->pii ? open : pii, name,
                               pp_json_from_value (pp_fields_value (fields, i)));
    }
    cJSON_AddItemToObject (base, "fields", open);
    cJSON_AddItemToObject (base, "pii", pii);
    cJSON_AddItemToObject (base, "consent",
                           pp_json_from_fields (pp_lead_consent (lead), NULL, true));
    char *text = pp_json_print (base);
    cJSON_Delete (base);
    //  The detail is JSON the ledger stores as jsonb: it must parse
    cJSON *parsed = cJSON_Parse (text);
    assert (cJSON_IsObject (parsed));
    cJSON_Delete (parsed);

    pp_event_t *event = pp_event_new (S_LEAD_ID ".1abcd1", pp_lead_id (lead), "received",
                                      PP_STAGE_INTAKE, S_NOW_US);
    pp_event_set_detail (event, text);
    free (text);
    pp_events_t *events = pp_events_new ();
    pp_events_append (events, &event);
    zframe_t *frame = pp_events_encode (events);
    pp_events_t *copy = pp_events_decode (frame);
    assert (copy && pp_events_size (copy) == 1);
    assert (streq (pp_event_detail (pp_events_get (copy, 0)),
                   pp_event_detail (pp_events_get (events, 0))));
    pp_events_destroy (&copy);
    zframe_destroy (&frame);
    pp_events_destroy (&events);
}

//  --------------------------------------------------------------------------
//  The wire between two stages: the lead must arrive as it left.

static pp_lead_t *
s_over_the_wire (pp_lead_t *lead)
{
    zframe_t *frame = pp_lead_encode (lead);
    assert (frame);
    pp_lead_t *copy = pp_lead_decode (frame);
    assert (copy);
    assert (streq (pp_lead_id (copy), pp_lead_id (lead)));
    assert (pp_lead_deadline_us (copy) == pp_lead_deadline_us (lead));
    assert (streq (pp_lead_source (copy), pp_lead_source (lead)));
    assert (streq (pp_lead_sub_id (copy), pp_lead_sub_id (lead)));
    assert (streq (pp_lead_vertical (copy), pp_lead_vertical (lead)));
    assert (pp_lead_test (copy) == pp_lead_test (lead));
    assert (pp_fields_eq (pp_lead_fields (copy), pp_lead_fields (lead)));
    assert (pp_fields_eq (pp_lead_consent (copy), pp_lead_consent (lead)));
    assert (pp_fields_eq (pp_lead_signals (copy), pp_lead_signals (lead)));
    assert (pp_lead_stamp_size (copy) == pp_lead_stamp_size (lead));
    zframe_t *again = pp_lead_encode (copy);
    assert (zframe_eq (frame, again));
    zframe_destroy (&again);
    zframe_destroy (&frame);
    return copy;
}

static void
s_result_over_the_wire (const pp_result_t *result)
{
    zframe_t *frame = pp_result_encode (result);
    pp_result_t *copy = pp_result_decode (frame);
    assert (copy);
    assert (pp_result_status (copy) == pp_result_status (result));
    assert (pp_result_reason_size (copy) == pp_result_reason_size (result));
    for (size_t i = 0; i < pp_result_reason_size (result); i++) {
        assert (streq (pp_result_reason_code (copy, i), pp_result_reason_code (result, i)));
        assert (streq (pp_result_reason_field (copy, i), pp_result_reason_field (result, i)));
    }
    pp_result_destroy (&copy);
    zframe_destroy (&frame);
}

//  --------------------------------------------------------------------------
//  Validate: the database-free checks, in validate's order.

//  validate's s_handle without the database: the field rules and the ZIP
//  table, then for a well-formed lead the blacklist, disposable and role
//  addresses and the bot score. Returns the number of reasons.
static size_t
s_validate (const pp_vertical_t *vertical, pp_lead_t *lead, pp_result_t *result)
{
    int problems = validate_check (vertical, lead, result);
    assert (problems >= 0 && (size_t) problems == pp_result_reason_size (result));
    if (problems == 0) {
        problems = validate_check_zip (vertical, s_zip, lead, result);
        assert (problems >= 0 && (size_t) problems == pp_result_reason_size (result));
    }
    if (problems == 0) {
        pp_fields_t *fields = pp_lead_fields (lead);
        const char *field = NULL;
        const char *code = pp_blacklist_check (
            s_blacklist, vertical, fields, pp_lead_consent (lead), pp_lead_signals (lead), &field);
        if (code) {
            assert (field);
            pp_result_add_reason (result, code, field, "is on the blacklist");
        }
        for (size_t i = 0; i < vertical->field_count; i++) {
            const pp_field_spec_t *spec = &vertical->fields[i];
            const char *address =
                spec->type == PP_FT_EMAIL ? pp_fields_str (fields, spec->name) : NULL;
            const char *verdict = address ? pp_email_check (s_email, address, NULL, 0) : NULL;
            //  validate_check let the syntax pass: only the lists may object
            assert (!verdict || !streq (verdict, PP_EMAIL_INVALID));
            if (verdict)
                pp_result_add_reason (result, verdict, spec->name, "is not a person's address");
        }
        size_t index = 0;
        while (pp_market_vertical_at (s_market, index) != vertical)
            index++;
        pp_bot_hit_t hits[PP_BOT_MAX_HITS];
        size_t hit_count = 0;
        int score = pp_bot_score (&s_bot[index], pp_lead_signals (lead), pp_lead_consent (lead),
                                  pp_lead_received_us (lead), hits, PP_BOT_MAX_HITS, &hit_count);
        assert (score >= 0 && score <= 100 && hit_count <= PP_BOT_MAX_HITS);
        assert ((score == 0) == (hit_count == 0));
        if (pp_bot_rejects (&s_bot[index], score))
            for (size_t i = 0; i < hit_count; i++)
                pp_result_add_reason (result, hits[i].code, hits[i].field, hits[i].message);
    }
    for (size_t i = 0; s_verbose && i < pp_result_reason_size (result); i++)
        zsys_info ("fuzz_lead_json: validate: %s %s", pp_result_reason_code (result, i),
                   pp_result_reason_field (result, i));
    return pp_result_reason_size (result);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *body = (const char *) data;
    cJSON *root = NULL;
    if (!pp_utf8_valid (body, size) || !(root = cJSON_ParseWithLength (body, size))) {
        if (s_verbose)
            zsys_info ("fuzz_lead_json: intake answers 400 malformed_json");
        return 0;
    }
    pp_vertical_t *vertical = NULL;
    pp_lead_t *lead = cJSON_IsObject (root) ? s_build_lead (root, &vertical) : NULL;
    cJSON_Delete (root);
    if (!lead) {
        if (s_verbose)
            zsys_info ("fuzz_lead_json: intake answers 400 or 422");
        return 0;
    }
    s_received_event (lead, vertical);

    pp_lead_t *received = s_over_the_wire (lead);
    pp_lead_destroy (&lead);
    pp_result_t *result = pp_result_new (pp_lead_id (received), PP_STATUS_REJECTED);
    pp_result_set_stage (result, PP_STAGE_VALIDATE);
    if (s_validate (vertical, received, result) > 0)
        s_result_over_the_wire (result);
    else {
        char fingerprint[65] = "";
        if (validate_fingerprint (vertical, received, fingerprint))
            assert (strlen (fingerprint) == 64 && strspn (fingerprint, "0123456789abcdef") == 64);
        if (s_verbose)
            zsys_info ("fuzz_lead_json: validate passes it on (fingerprint %s)",
                       *fingerprint ? "made" : "none");
        //  Validate passes the normalised lead on: it must pass again, unchanged
        pp_lead_t *passed = s_over_the_wire (received);
        pp_result_t *again = pp_result_new (pp_lead_id (passed), PP_STATUS_REJECTED);
        assert (s_validate (vertical, passed, again) == 0);
        assert (pp_fields_eq (pp_lead_fields (passed), pp_lead_fields (received)));
        char fingerprint2[65] = "";
        validate_fingerprint (vertical, passed, fingerprint2);
        assert (streq (fingerprint, fingerprint2));
        //  The ping auction sends: declared, non-personal fields only
        cJSON *ping = pp_json_from_fields (pp_lead_fields (passed), vertical, false);
        for (const cJSON *item = ping->child; item; item = item->next) {
            const pp_field_spec_t *spec = pp_vertical_field (vertical, item->string);
            assert (spec && !spec->pii);
        }
        char *text = pp_json_print (ping);
        free (text);
        cJSON_Delete (ping);
        pp_result_destroy (&again);
        pp_lead_destroy (&passed);
    }
    pp_result_destroy (&result);
    pp_lead_destroy (&received);
    return 0;
}
