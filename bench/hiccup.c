/*  hiccup - how much CPU time the machine itself takes away: stalls seen by a spinning thread per CPU  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  pingpost-hiccup [--duration 5] [--threshold-us 1000]
//
//  The machine baseline of scripts/bench. On every online CPU a thread,
//  pinned to it, does a fixed block of integer work (256 xorshift rounds)
//  again and again and reads CLOCK_MONOTONIC around each block. On a
//  machine where nothing else runs, a block that took longer than
//  --threshold-us is time the thread did not run: interrupts, and on a
//  virtual machine the hypervisor running something else on our CPU
//  (which /proc/stat does not always report as steal). No latency figure
//  of the fleet can be better than what these gaps allow: a lead whose
//  path crosses a 5 ms gap takes 5 ms longer, whatever our code does.
//  The blocks that ran without a gap time the CPU's plain computation
//  (work_ns_p50); a host that slows system calls and wake-ups (VM exits)
//  without slowing computation does not show there: the raw baselines of
//  scripts/bench show that.
//
//  Prints one JSON object: per CPU the gaps over 1, 2, 5, 20 and 100 ms,
//  the longest, the share of time lost in gaps, the block time p50/p99;
//  and the same summed over CPUs (gaps per second, lost share on average).
//  Run it while the machine is otherwise idle (scripts/bench runs it
//  before anything of its own starts): under load it measures the load.

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"

#define HC_CPUS_MAX 256
#define HC_ROUNDS 256                   //  xorshift rounds per work block
#define HC_HIST_NS 100000               //  block times kept to the nanosecond below this

typedef struct {
    int cpu;                            //  the CPU this thread is pinned to
    bool pinned;                        //  pinning worked
    double duration_s;                  //  how long to spin
    int64_t threshold_ns;               //  a block longer than this is a gap
    uint32_t *hist;                     //  block times below HC_HIST_NS (no gap), per ns
    uint64_t blocks;                    //  blocks timed
    uint64_t over [5];                  //  gaps over 1, 2, 5, 20, 100 ms
    uint64_t gaps;                      //  gaps over the threshold
    int64_t lost_ns;                    //  their total time
    int64_t max_ns;                     //  the longest
    int64_t spun_ns;                    //  the time actually spun
    uint64_t sink;                      //  keeps the work from being optimised away
} hc_cpu_t;

static const int64_t s_over_ns [5] = {1000000, 2000000, 5000000, 20000000, 100000000};

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
s_work (uint64_t x)
{
    for (int round = 0; round < HC_ROUNDS; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

static void *
s_spin (void *arg)
{
    hc_cpu_t *self = (hc_cpu_t *) arg;
    cpu_set_t set;
    CPU_ZERO (&set);
    CPU_SET (self->cpu, &set);
    self->pinned = pthread_setaffinity_np (pthread_self (), sizeof set, &set) == 0;
    uint64_t x = 0x9E3779B97F4A7C15ULL ^ (uint64_t) self->cpu;
    int64_t start = s_now_ns ();
    int64_t end = start + (int64_t) (self->duration_s * 1e9);
    int64_t before = start;
    while (before < end) {
        x = s_work (x);
        int64_t after = s_now_ns ();
        int64_t took = after - before;
        self->blocks++;
        if (took > self->threshold_ns) {
            self->gaps++;
            self->lost_ns += took;
            if (took > self->max_ns)
                self->max_ns = took;
            for (int i = 0; i < 5; i++)
                if (took > s_over_ns [i])
                    self->over [i]++;
        }
        else
        if (took < HC_HIST_NS)
            self->hist [took]++;
        before = after;
    }
    self->spun_ns = before - start;
    self->sink = x;
    return NULL;
}

//  The q-quantile of the gap-free block times, in ns (-1 when none).
static int64_t
s_quantile (const hc_cpu_t *self, double q)
{
    uint64_t total = 0;
    for (int64_t ns = 0; ns < HC_HIST_NS; ns++)
        total += self->hist [ns];
    if (total == 0)
        return -1;
    uint64_t rank = (uint64_t) (q * (double) (total - 1)) + 1;
    uint64_t seen = 0;
    for (int64_t ns = 0; ns < HC_HIST_NS; ns++) {
        seen += self->hist [ns];
        if (seen >= rank)
            return ns;
    }
    return HC_HIST_NS;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: pingpost-hiccup [--duration 5] [--threshold-us 1000]\n"
        "spins a pinned thread on every online CPU for --duration seconds and counts the\n"
        "times it did not run for longer than --threshold-us (run it on an idle machine);\n"
        "prints one JSON object\n");
}

int
main (int argc, char *argv [])
{
    bench_args_init ("pingpost-hiccup", s_usage);
    double duration_s = 5;
    double threshold_us = 1000;
    static struct option longopts [] = {
        {"duration", required_argument, NULL, 'd'},
        {"threshold-us", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "d:t:h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'd': duration_s = bench_parse_number (optarg, "bad --duration (0.1..3600)", 0.1, 3600); break;
            case 't': threshold_us = bench_parse_number (optarg, "bad --threshold-us (10..1000000)", 10, 1e6); break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return BENCH_EXIT_USAGE;
        }
    }
    if (optind < argc)
        bench_usage_error ("unexpected argument", argv [optind]);

    long online = sysconf (_SC_NPROCESSORS_ONLN);
    int cpus = online < 1 ? 1 : online > HC_CPUS_MAX ? HC_CPUS_MAX : (int) online;
    hc_cpu_t *all = (hc_cpu_t *) calloc ((size_t) cpus, sizeof (hc_cpu_t));
    pthread_t *threads = (pthread_t *) calloc ((size_t) cpus, sizeof (pthread_t));
    assert (all && threads);
    for (int i = 0; i < cpus; i++) {
        all [i].cpu = i;
        all [i].duration_s = duration_s;
        all [i].threshold_ns = (int64_t) (threshold_us * 1000);
        all [i].hist = (uint32_t *) calloc (HC_HIST_NS, sizeof (uint32_t));
        assert (all [i].hist);
        if (pthread_create (&threads [i], NULL, s_spin, &all [i]) != 0) {
            fprintf (stderr, "pingpost-hiccup: cannot start a thread: %s\n", strerror (errno));
            return EXIT_FAILURE;
        }
    }
    for (int i = 0; i < cpus; i++)
        pthread_join (threads [i], NULL);

    uint64_t gaps = 0, over [5] = {0};
    int64_t max_ns = 0;
    double lost = 0, spun = 0;
    printf ("{\"duration_s\": %.3f, \"cpus\": %d, \"threshold_us\": %.0f, \"rounds_per_block\": %d, "
            "\"per_cpu\": [", duration_s, cpus, threshold_us, HC_ROUNDS);
    for (int i = 0; i < cpus; i++) {
        hc_cpu_t *self = &all [i];
        double seconds = (double) self->spun_ns / 1e9;
        printf ("%s{\"cpu\": %d, \"pinned\": %s, \"blocks\": %" PRIu64 ", \"gaps\": %" PRIu64
                ", \"over_1ms\": %" PRIu64 ", \"over_2ms\": %" PRIu64 ", \"over_5ms\": %" PRIu64
                ", \"over_20ms\": %" PRIu64 ", \"over_100ms\": %" PRIu64 ", \"max_ms\": %.3f"
                ", \"lost_pct\": %.3f, \"work_ns_p50\": %" PRId64 ", \"work_ns_p99\": %" PRId64 "}",
                i ? ", " : "", self->cpu, self->pinned ? "true" : "false", self->blocks,
                self->gaps, self->over [0], self->over [1], self->over [2], self->over [3],
                self->over [4], (double) self->max_ns / 1e6,
                seconds > 0 ? 100.0 * (double) self->lost_ns / (double) self->spun_ns : 0,
                s_quantile (self, 0.5), s_quantile (self, 0.99));
        gaps += self->gaps;
        for (int k = 0; k < 5; k++)
            over [k] += self->over [k];
        if (self->max_ns > max_ns)
            max_ns = self->max_ns;
        lost += (double) self->lost_ns;
        spun += (double) self->spun_ns;
    }
    //  Per second of one CPU's time, summed over CPUs: what a lead crossing
    //  any CPU may meet
    printf ("], \"gaps_per_s\": %.2f, \"over_2ms_per_s\": %.2f, \"over_5ms_per_s\": %.2f"
            ", \"max_ms\": %.3f, \"lost_pct\": %.3f}\n",
            (double) gaps / duration_s, (double) over [1] / duration_s,
            (double) over [2] / duration_s, (double) max_ns / 1e6,
            spun > 0 ? 100.0 * lost / spun : 0);
    for (int i = 0; i < cpus; i++)
        free (all [i].hist);
    free (all);
    free (threads);
    return 0;
}
