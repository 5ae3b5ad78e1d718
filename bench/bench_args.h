/*  bench_args - the command line helpers the benchmark's own tools share  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef BENCH_ARGS_H_INCLUDED
#define BENCH_ARGS_H_INCLUDED

#include <stdio.h>

#define BENCH_EXIT_USAGE 64

typedef void (bench_usage_fn) (FILE *out);

//  Name the program and its usage printer, once, first thing in main.
void
    bench_args_init (const char *program, bench_usage_fn *usage);
//  Print "<program>: <what>[: <value>]" and the usage on stderr; exit 64.
void
    bench_usage_error (const char *what, const char *value) __attribute__ ((noreturn));
//  The number in text, all of it, within [min, max]; else bench_usage_error
//  with `what` and the text.
double
    bench_parse_number (const char *text, const char *what, double min, double max);

#endif
