/*  validate_server - field rules, normalisation, consent and duplicates: only clean leads go on  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef VALIDATE_SERVER_H_INCLUDED
#define VALIDATE_SERVER_H_INCLUDED

#include "pp_config.h"
#include "pp_market.h"
#include "pp_result.h"
#include "pp_lead.h"
#include "pp_zip.h"

typedef struct validate_server validate_server_t;

validate_server_t *
    validate_server_new (const pp_config_t *config, int slot);
void
    validate_server_destroy (validate_server_t **self_p);
int
    validate_server_run (validate_server_t *self);

//  Check and normalise a lead against its vertical (no database): every
//  problem is added to `result` as a reason. Returns the number of problems.
//  Exposed for unit tests.
int
    validate_check (const pp_vertical_t *vertical, pp_lead_t *lead, pp_result_t *result);
//  Check the lead's ZIP fields against the ZIP table (after validate_check
//  normalised them): a ZIP must exist ("zip_unknown"), a state field given
//  must agree with it ("state_zip_mismatch"), and an absent state field is
//  filled from it. Returns the number of problems (added to result).
int
    validate_check_zip (const pp_vertical_t *vertical, const pp_zip_t *zip, pp_lead_t *lead,
                        pp_result_t *result);
//  The duplicate fingerprint of a lead (hex SHA-256 of the vertical and its
//  normalised dedupe fields) into buf (65 bytes); false when the vertical
//  has no dedupe fields or the lead lacks all of them.
bool
    validate_fingerprint (const pp_vertical_t *vertical, pp_lead_t *lead, char *buf);
//  Normalise a US phone number to E.164 ("+12125550123") into buf (16
//  bytes); -1 when it is not a valid North American number.
int
    validate_phone (const char *text, char *buf);
//  Normalise an email (trim, lower-case domain) into a new string, or NULL
//  when its syntax is invalid.
char *
    validate_email (const char *text);

#endif
