/*  bench_stats - samples, percentiles, CPU time and JSON text for the benchmark's own tools  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef BENCH_STATS_H_INCLUDED
#define BENCH_STATS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  A growing array of samples (latencies in microseconds, say). Zero it to
//  start; bench_samples_free ends it.
typedef struct {
    uint64_t *values;
    size_t count;
    size_t cap;
} bench_samples_t;

//  Append one sample (aborts when memory runs out).
void
    bench_samples_push (bench_samples_t *self, uint64_t value);
//  Sort the samples in place, ascending.
void
    bench_samples_sort (bench_samples_t *self);
//  Free the samples; the struct is empty again.
void
    bench_samples_free (bench_samples_t *self);
//  Nearest-rank percentile p (0-100) of `count` sorted values; 0 when empty.
uint64_t
    bench_percentile (const uint64_t *sorted, size_t count, double p);
//  CPU microseconds (user + system, every thread) this process has used.
int64_t
    bench_self_cpu_us (void);
//  CPU microseconds (user + system, every thread) process `pid` has used,
//  from /proc; -1 when it cannot be read.
int64_t
    bench_pid_cpu_us (long pid);

//  Print `text` on stdout as the inside of a JSON string: quotes and
//  backslashes escaped, control characters left out.
void
    bench_print_json_text (const char *text);

#endif
