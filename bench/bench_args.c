/*  bench_args - the command line helpers the benchmark's own tools share  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "bench_args.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

static const char *s_program = "pingpost-bench";
static bench_usage_fn *s_usage;

void
bench_args_init (const char *program, bench_usage_fn *usage)
{
    assert (program);
    s_program = program;
    s_usage = usage;
}

void
bench_usage_error (const char *what, const char *value)
{
    fprintf (stderr, "%s: %s%s%s\n", s_program, what, value ? ": " : "", value ? value : "");
    if (s_usage)
        s_usage (stderr);
    exit (BENCH_EXIT_USAGE);
}

double
bench_parse_number (const char *text, const char *what, double min, double max)
{
    char *end = NULL;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || value < min || value > max)
        bench_usage_error (what, text);
    return value;
}
