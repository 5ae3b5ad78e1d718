/*  cli - the operator's command line `pingpost`: shared context, errors, options, output  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef CLI_H_INCLUDED
#define CLI_H_INCLUDED

#include <stdbool.h>
#include <stdio.h>

#include "pp_config.h"
#include "pp_db.h"

#define CLI_OK 0            //  success
#define CLI_FAIL 1          //  the command failed (message on stderr)
#define CLI_USAGE 64        //  bad command line (EX_USAGE)

//  What every command gets.
typedef struct {
    const char *config_file;    //  -c FILE; NULL = the default path
    bool config_explicit;       //  -c was given: a missing file is an error
    bool verbose;               //  -v
    pp_config_t *config;        //  loaded by cli_config, or NULL
    pp_db_t *db;                //  opened by cli_db_open, or NULL
} cli_t;

//  Print "pingpost: <message>" on stderr; returns CLI_FAIL.
int
    cli_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
//  Print "pingpost: <message>" and a pointer to `pingpost help`; returns CLI_USAGE.
int
    cli_usage (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  Match option `name` ("--by") at argv [*index], as "--by VALUE" or
//  "--by=VALUE". Returns 1 and sets *value (advancing *index past a
//  separate value), 0 when argv [*index] is another argument, or -1 when
//  the value is missing (a usage message was printed).
int
    cli_option (int argc, char *argv [], int *index, const char *name, const char **value);
//  Handle "-c FILE" / "--config FILE" and "-v" at argv [*index]: 1 when
//  taken, 0 when not, -1 on a missing value (message printed).
int
    cli_common_option (cli_t *cli, int argc, char *argv [], int *index);

//  Load the config once; NULL after a message.
pp_config_t *
    cli_config (cli_t *cli);
//  Connect to the database once; NULL after a message.
pp_db_t *
    cli_db_open (cli_t *cli);

//  Commands: argv [0] is the command name; each returns an exit status.
int
    cli_cmd_db (cli_t *cli, int argc, char *argv []);
int
    cli_cmd_apply (cli_t *cli, int argc, char *argv []);
int
    cli_cmd_report (cli_t *cli, int argc, char *argv []);
int
    cli_cmd_lead (cli_t *cli, int argc, char *argv []);
int
    cli_cmd_blacklist (cli_t *cli, int argc, char *argv []);

//  Money: integer cents as decimal text (SQL bigint) to "12.30" in buf
//  (>= 24 bytes); NULL or empty text gives "".
void
    cli_money (const char *cents, char *buf, size_t size);
//  Microseconds as decimal text to milliseconds with three decimals
//  ("1234" -> "1.234"); NULL or empty text gives "".
void
    cli_millis (const char *micros, char *buf, size_t size);

//  A text table printed with aligned columns, or as CSV.
typedef struct cli_table cli_table_t;

//  A table with `columns` columns and these headers (copied).
cli_table_t *
    cli_table_new (size_t columns, const char *const *headers);
void
    cli_table_destroy (cli_table_t **self_p);
//  Right-align a column (numbers).
void
    cli_table_align_right (cli_table_t *self, size_t column);
//  Append a row of `columns` cells (copied; NULL prints empty).
void
    cli_table_add (cli_table_t *self, const char *const *cells);
//  Print with a header and columns padded to their widest cell.
void
    cli_table_print (cli_table_t *self, FILE *out);
//  Print as CSV (RFC 4180 quoting: cells with a comma, quote or newline are
//  quoted; lines end in \n).
void
    cli_table_print_csv (cli_table_t *self, FILE *out);

#endif
