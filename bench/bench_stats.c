/*  bench_stats - samples, percentiles, CPU time and JSON text for the benchmark's own tools  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "bench_stats.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
bench_samples_push (bench_samples_t *self, uint64_t value)
{
    if (self->count == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 4096;
        self->values = (uint64_t *) realloc (self->values, self->cap * sizeof (uint64_t));
        assert (self->values);
    }
    self->values [self->count++] = value;
}

static int
s_compare_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

void
bench_samples_sort (bench_samples_t *self)
{
    if (self->count)
        qsort (self->values, self->count, sizeof (uint64_t), s_compare_u64);
}

void
bench_samples_free (bench_samples_t *self)
{
    free (self->values);
    memset (self, 0, sizeof *self);
}

uint64_t
bench_percentile (const uint64_t *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t) (p / 100.0 * (double) count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > count)
        rank = count;
    return sorted [rank - 1];
}

int64_t
bench_self_cpu_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
bench_pid_cpu_us (long pid)
{
    if (pid <= 0)
        return -1;
    char path [64];
    snprintf (path, sizeof path, "/proc/%ld/stat", pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char line [1024];
    char *got = fgets (line, sizeof line, file);
    fclose (file);
    //  The command name may hold spaces and parens: fields count from the
    //  last ')'. After ") ": state ppid ... utime is field 14, stime 15.
    const char *paren = got ? strrchr (line, ')') : NULL;
    unsigned long long utime, stime;
    if (!paren || sscanf (paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                          &utime, &stime) != 2)
        return -1;
    long ticks = sysconf (_SC_CLK_TCK);
    if (ticks <= 0)
        ticks = 100;
    return (int64_t) ((utime + stime) * 1000000ull / (unsigned long long) ticks);
}

void
bench_print_json_text (const char *text)
{
    for (const char *p = text; *p; p++)
        if (*p == '"' || *p == '\\')
            printf ("\\%c", *p);
        else
        if ((unsigned char) *p >= 0x20)
            putchar (*p);
}
