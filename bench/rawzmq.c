/*  rawzmq - the raw ZeroMQ baseline: a PUSH/PULL chain of the pipeline's hop count, msgs/s and latency  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  pingpost-rawzmq [--hops 5] [--size 1024] [--duration 3] [--rate 0] [--window 32]
//                  [--hwm 10000] [--msgpack] [--dir /tmp] [--warmup-ms 300]
//
//  What ZeroMQ alone costs on the pipeline's path. A sold lead travels
//  intake -> validate -> filter -> auction -> deliver -> intake: five
//  PUSH/PULL hops through five processes (common/pp_stage.c: each
//  stage binds a PULL on its slot, the upstream PUSH connects with
//  ZMQ_IMMEDIATE; deliver's result goes to the lead's intake over the
//  intake's reply PULL). This program builds the same chain with nothing
//  in it: this process is the head (intake: one thread sends, another
//  receives, as intake's HTTP thread pushes and its loop thread pulls the
//  results) and forks --hops - 1 relay processes (the stages), each
//  binding its PULL on ipc://DIR/rawzmq-<pid>-<n> and passing every
//  message unchanged to the next (zero copy), with the fleet's high-water
//  mark on every socket. With --msgpack each relay also decodes the
//  message and encodes it again, as a stage does with a lead.
//
//  The message is a msgpack map of --size bytes (default 1,024, about a
//  lead's envelope; 640 at least): {"t": <send time, bin 8>, "f": {20
//  string fields}, "pad": "..."}. Its latency runs from its send time
//  (closed loop) or due time (open loop) to its return to the head.
//
//  --rate 0 (default): closed loop, --window messages in flight (like wrk
//  with that many connections): msgs/s at saturation. --rate R: open loop
//  at R msgs/s, latency from each message's due time. After --warmup-ms
//  of untimed traffic it measures for --duration seconds and prints one
//  JSON object: counts, msgs/s, latency percentiles (microseconds) and the
//  CPU time of the head and every relay per message.

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <zmq.h>

#include "bench_args.h"
#include "bench_stats.h"

#define RZ_HOPS_MAX 32
#define RZ_TIME_OFFSET 5                //  fixmap(1) + "t"(2) + bin8 header(2)
#define RZ_FIELDS 20                    //  string fields in "f", as a lead has
#define RZ_DRAIN_US 2000000             //  wait for messages in flight after the end

typedef struct {
    int hops;                           //  PUSH/PULL hops, head to head
    size_t size;                        //  message bytes
    double duration_s;                  //  measured time
    double rate;                        //  msgs/s, 0 = closed loop
    int window;                         //  closed loop: messages in flight
    int hwm;                            //  high-water mark of every socket
    bool msgpack;                       //  relays decode and re-encode
    const char *dir;                    //  where the ipc endpoints live
    long warmup_ms;                     //  untimed traffic before measuring
} rz_options_t;

//  The head's shared state: the sender thread and the receiver thread.
typedef struct {
    const rz_options_t *options;        //  Not owned
    void *push;                         //  the sender thread's socket
    void *pull;                         //  the receiver thread's socket
    const uint8_t *template_bytes;      //  the message, time field to fill
    size_t template_size;               //  its bytes
    sem_t credits;                      //  closed loop: sends allowed (window)
    uint64_t start_us;                  //  measured window start (monotonic)
    uint64_t end_us;                    //  and end
    atomic_bool sending;                //  the sender runs
    atomic_ullong sent;                 //  messages sent in the window
    atomic_ullong send_failed;          //  open loop: sends refused (queue full)
    uint64_t received;                  //  messages back (receiver only)
    uint64_t received_in_window;        //  of them, back before end_us
    uint64_t bad;                       //  messages back that are not ours
    bench_samples_t latency_us;         //  one per message back
} rz_head_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int signum)
{
    s_stop = 1;
}

static uint64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void
s_sleep_until_us (uint64_t due)
{
    struct timespec ts = {(time_t) (due / 1000000u), (long) (due % 1000000u) * 1000};
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !s_stop)
        ;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: pingpost-rawzmq [--hops 5] [--size 1024] [--duration 3] [--rate 0] [--window 32]\n"
        "                       [--hwm 10000] [--msgpack] [--dir /tmp] [--warmup-ms 300]\n"
        "a PUSH/PULL chain of --hops hops through --hops - 1 relay processes over ipc://;\n"
        "closed loop (--rate 0, --window in flight) or open loop at --rate msgs/s;\n"
        "prints one JSON object (msgs/s, latency percentiles in us, CPU per message)\n");
}

static char *
s_endpoint (const rz_options_t *options, pid_t head, int node)
{
    char *endpoint = NULL;
    int rc = asprintf (&endpoint, "ipc://%s/rawzmq-%ld-%d", options->dir, (long) head, node);
    assert (rc > 0);
    return endpoint;
}

//  A socket with the fleet's options (common/pp_stage.c): the high-water
//  mark, no linger, and ZMQ_IMMEDIATE on a PUSH.
static void *
s_socket (void *context, int type, int hwm)
{
    void *socket = zmq_socket (context, type);
    assert (socket);
    int zero = 0, one = 1;
    zmq_setsockopt (socket, ZMQ_LINGER, &zero, sizeof zero);
    if (type == ZMQ_PUSH) {
        zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt (socket, ZMQ_IMMEDIATE, &one, sizeof one);
    }
    else
        zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    return socket;
}

//  --------------------------------------------------------------------------
//  The message: a msgpack map whose first entry is "t", an 8-byte bin at a
//  fixed offset that the head fills with the send time. A re-encoding relay
//  keeps it there (msgpack keeps the map order and the bin's form).

static void
s_template (size_t size, msgpack_sbuffer *buffer)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    static const char zeros [8] = {0};
    msgpack_pack_map (&packer, 3);
    msgpack_pack_str_with_body (&packer, "t", 1);
    msgpack_pack_bin_with_body (&packer, zeros, 8);
    msgpack_pack_str_with_body (&packer, "f", 1);
    msgpack_pack_map (&packer, RZ_FIELDS);
    static const char value [] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < RZ_FIELDS; i++) {
        char key [8];
        int len = snprintf (key, sizeof key, "f%02d", i);
        msgpack_pack_str_with_body (&packer, key, (size_t) len);
        msgpack_pack_str_with_body (&packer, value, 24);
    }
    msgpack_pack_str_with_body (&packer, "pad", 3);
    //  The pad string fills the rest; its header is 1, 2 or 3 bytes
    size_t left = size > buffer->size ? size - buffer->size : 1;
    size_t pad = left <= 32      ? left - 1
               : left <= 257     ? left - 2
               : left <= 65538   ? left - 3
                                 : left - 5;
    char *filler = (char *) malloc (pad + 1);
    assert (filler);
    memset (filler, 'x', pad);
    msgpack_pack_str_with_body (&packer, filler, pad);
    free (filler);
    assert ((uint8_t) buffer->data [0] == 0x83 && (uint8_t) buffer->data [3] == 0xc4);
}

//  --------------------------------------------------------------------------
//  A relay: PULL bound on its own endpoint, PUSH to the next node, every
//  message passed on (or decoded and encoded again with --msgpack). Runs in
//  a forked child until SIGTERM or its parent dies.

static void
    s_relay (const rz_options_t *options, pid_t head, int node) __attribute__ ((noreturn));

static void
s_relay (const rz_options_t *options, pid_t head, int node)
{
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (getppid () != head)
        _exit (0);
    void *context = zmq_ctx_new ();
    assert (context);
    void *pull = s_socket (context, ZMQ_PULL, options->hwm);
    void *push = s_socket (context, ZMQ_PUSH, options->hwm);
    //  A signal between the stop check and a blocking call would be missed:
    //  never block longer than this
    int timeout_ms = 100;
    zmq_setsockopt (pull, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt (push, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    char *in = s_endpoint (options, head, node);
    char *out = s_endpoint (options, head, node + 1 < options->hops ? node + 1 : 0);
    if (zmq_bind (pull, in) != 0 || zmq_connect (push, out) != 0) {
        fprintf (stderr, "pingpost-rawzmq: relay %d: cannot bind %s or connect %s: %s\n", node,
                 in, out, zmq_strerror (zmq_errno ()));
        _exit (1);
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    while (!s_stop) {
        zmq_msg_t message;
        zmq_msg_init (&message);
        if (zmq_msg_recv (&message, pull, 0) < 0) {
            zmq_msg_close (&message);
            if (zmq_errno () == EINTR || zmq_errno () == EAGAIN)
                continue;
            break;
        }
        if (options->msgpack) {
            //  As a stage does: decode the envelope, encode it again
            msgpack_unpacked unpacked;
            msgpack_unpacked_init (&unpacked);
            size_t offset = 0;
            msgpack_unpack_return rc = msgpack_unpack_next (
                &unpacked, (const char *) zmq_msg_data (&message), zmq_msg_size (&message),
                &offset);
            if (rc == MSGPACK_UNPACK_SUCCESS) {
                msgpack_sbuffer_clear (&buffer);
                msgpack_packer packer;
                msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
                msgpack_pack_object (&packer, unpacked.data);
                zmq_msg_close (&message);
                zmq_msg_init_size (&message, buffer.size);
                memcpy (zmq_msg_data (&message), buffer.data, buffer.size);
            }
            msgpack_unpacked_destroy (&unpacked);
        }
        while (zmq_msg_send (&message, push, 0) < 0) {
            if ((zmq_errno () != EINTR && zmq_errno () != EAGAIN) || s_stop)
                break;
        }
        zmq_msg_close (&message);
    }
    msgpack_sbuffer_destroy (&buffer);
    zmq_close (pull);
    zmq_close (push);
    zmq_ctx_term (context);
    free (in);
    free (out);
    _exit (0);
}

//  CPU microseconds of the head and its relays (a process that cannot be
//  read counts 0).
static int64_t
s_chain_cpu_us (pid_t head, const pid_t *relays, int relay_count)
{
    int64_t total = 0;
    for (int i = -1; i < relay_count; i++) {
        int64_t us = bench_pid_cpu_us ((long) (i < 0 ? head : relays [i]));
        if (us > 0)
            total += us;
    }
    return total;
}

//  --------------------------------------------------------------------------
//  The head's two threads

static int
s_send (rz_head_t *head, uint64_t stamp, int flags)
{
    zmq_msg_t message;
    zmq_msg_init_size (&message, head->template_size);
    uint8_t *data = (uint8_t *) zmq_msg_data (&message);
    memcpy (data, head->template_bytes, head->template_size);
    memcpy (data + RZ_TIME_OFFSET, &stamp, sizeof stamp);
    int rc = zmq_msg_send (&message, head->push, flags);
    if (rc < 0)
        zmq_msg_close (&message);
    return rc < 0 ? -1 : 0;
}

static void *
s_sender (void *arg)
{
    rz_head_t *head = (rz_head_t *) arg;
    const rz_options_t *options = head->options;
    uint64_t index = 0;
    while (!s_stop) {
        uint64_t stamp;
        if (options->rate > 0) {
            stamp = head->start_us + (uint64_t) ((double) index * 1e6 / options->rate);
            if (stamp >= head->end_us)
                break;
            if (stamp > s_now_us ())
                s_sleep_until_us (stamp);
            if (s_send (head, stamp, ZMQ_DONTWAIT))
                atomic_fetch_add (&head->send_failed, 1);
            else
                atomic_fetch_add (&head->sent, 1);
        }
        else {
            struct timespec until;
            clock_gettime (CLOCK_REALTIME, &until);
            until.tv_nsec += 100000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            if (sem_timedwait (&head->credits, &until) != 0) {
                if (s_now_us () >= head->end_us)
                    break;
                continue;
            }
            stamp = s_now_us ();
            if (stamp >= head->end_us)
                break;
            if (s_send (head, stamp, 0) == 0)
                atomic_fetch_add (&head->sent, 1);
        }
        index++;
    }
    atomic_store (&head->sending, false);
    return NULL;
}

//  The receiver: runs in main's thread until every message sent is back, or
//  RZ_DRAIN_US after the end.
static void
s_receive (rz_head_t *head)
{
    int timeout_ms = 100;
    zmq_setsockopt (head->pull, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    while (!s_stop) {
        uint64_t now = s_now_us ();
        if (!atomic_load (&head->sending)
            && (head->received >= atomic_load (&head->sent) || now >= head->end_us + RZ_DRAIN_US))
            break;
        zmq_msg_t message;
        zmq_msg_init (&message);
        if (zmq_msg_recv (&message, head->pull, 0) < 0) {
            zmq_msg_close (&message);
            continue;
        }
        now = s_now_us ();
        const uint8_t *data = (const uint8_t *) zmq_msg_data (&message);
        if (zmq_msg_size (&message) < RZ_TIME_OFFSET + 8
            || memcmp (data, head->template_bytes, RZ_TIME_OFFSET) != 0) {
            head->bad++;
            zmq_msg_close (&message);
            continue;
        }
        uint64_t stamp;
        memcpy (&stamp, data + RZ_TIME_OFFSET, sizeof stamp);
        zmq_msg_close (&message);
        head->received++;
        if (now < head->end_us)
            head->received_in_window++;
        bench_samples_push (&head->latency_us, now > stamp ? now - stamp : 0);
        if (head->options->rate <= 0)
            sem_post (&head->credits);
    }
}

//  Untimed traffic until the chain is connected and warm: one message sent
//  and back, then a closed loop for warmup_ms. Single-threaded (the threads
//  start after it). Returns -1 if nothing came back within 10 s.
static int
s_warm_up (rz_head_t *head)
{
    int timeout_ms = 10000;
    zmq_setsockopt (head->pull, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    //  Sends time out (SNDTIMEO): until the chain is connected, try again
    uint64_t give_up = s_now_us () + 10000000;
    while (s_send (head, s_now_us (), 0))
        if (s_stop || s_now_us () >= give_up)
            return -1;
    zmq_msg_t message;
    zmq_msg_init (&message);
    int rc = zmq_msg_recv (&message, head->pull, 0);
    zmq_msg_close (&message);
    if (rc < 0)
        return -1;
    uint64_t end = s_now_us () + (uint64_t) head->options->warmup_ms * 1000u;
    int window = head->options->window;
    int in_flight = 0;
    timeout_ms = 1000;
    zmq_setsockopt (head->pull, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    while (!s_stop) {
        while (in_flight < window && s_now_us () < end && s_send (head, s_now_us (), 0) == 0)
            in_flight++;
        if (in_flight == 0)
            break;
        zmq_msg_init (&message);
        rc = zmq_msg_recv (&message, head->pull, 0);
        zmq_msg_close (&message);
        if (rc < 0)
            break;
        in_flight--;
    }
    return 0;
}

int
main (int argc, char *argv [])
{
    bench_args_init ("pingpost-rawzmq", s_usage);
    rz_options_t options = {
        .hops = 5, .size = 1024, .duration_s = 3, .rate = 0, .window = 32, .hwm = 10000,
        .msgpack = false, .dir = "/tmp", .warmup_ms = 300
    };
    static struct option longopts [] = {
        {"hops", required_argument, NULL, 'H'},
        {"size", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"rate", required_argument, NULL, 'r'},
        {"window", required_argument, NULL, 'w'},
        {"hwm", required_argument, NULL, 'm'},
        {"msgpack", no_argument, NULL, 'M'},
        {"dir", required_argument, NULL, 'D'},
        {"warmup-ms", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "H:s:d:r:w:m:MD:W:h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'H': options.hops = (int) bench_parse_number (optarg, "bad --hops", 1, RZ_HOPS_MAX); break;
            case 's': options.size = (size_t) bench_parse_number (optarg, "bad --size (640..1048576)", 640, 1048576); break;
            case 'd': options.duration_s = bench_parse_number (optarg, "bad --duration", 0.1, 86400); break;
            case 'r': options.rate = bench_parse_number (optarg, "bad --rate", 0, 1e7); break;
            case 'w': options.window = (int) bench_parse_number (optarg, "bad --window", 1, 100000); break;
            case 'm': options.hwm = (int) bench_parse_number (optarg, "bad --hwm", 1, 10000000); break;
            case 'M': options.msgpack = true; break;
            case 'D': options.dir = optarg; break;
            case 'W': options.warmup_ms = (long) bench_parse_number (optarg, "bad --warmup-ms", 0, 60000); break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return BENCH_EXIT_USAGE;
        }
    }
    if (optind < argc)
        bench_usage_error ("unexpected argument", argv [optind]);
    struct stat dir_stat;
    if (stat (options.dir, &dir_stat) != 0 || !S_ISDIR (dir_stat.st_mode))
        bench_usage_error ("--dir is not a directory", options.dir);
    if (strlen (options.dir) + 40 > 100)
        bench_usage_error ("--dir is too long for an ipc endpoint", options.dir);

    //  Relays first: each makes its own context after the fork
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;        //  no SA_RESTART: a blocked recv returns EINTR
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    pid_t self = getpid ();
    pid_t relays [RZ_HOPS_MAX];
    int relay_count = 0;
    for (int node = 1; node < options.hops; node++) {
        fflush (stdout);
        pid_t pid = fork ();
        if (pid < 0) {
            perror ("pingpost-rawzmq: fork");
            break;
        }
        if (pid == 0)
            s_relay (&options, self, node);
        relays [relay_count++] = pid;
    }

    int rc = 0;
    msgpack_sbuffer template;
    s_template (options.size, &template);
    void *context = zmq_ctx_new ();
    assert (context);
    rz_head_t head;
    memset (&head, 0, sizeof head);
    head.options = &options;
    head.template_bytes = (const uint8_t *) template.data;
    head.template_size = template.size;
    head.push = s_socket (context, ZMQ_PUSH, options.hwm);
    head.pull = s_socket (context, ZMQ_PULL, options.hwm);
    //  A relay gone must not block the sender for ever
    int send_timeout_ms = 1000;
    zmq_setsockopt (head.push, ZMQ_SNDTIMEO, &send_timeout_ms, sizeof send_timeout_ms);
    char *in = s_endpoint (&options, self, 0);
    char *out = s_endpoint (&options, self, options.hops > 1 ? 1 : 0);
    if (relay_count != options.hops - 1 || zmq_bind (head.pull, in) != 0
        || zmq_connect (head.push, out) != 0 || s_warm_up (&head) != 0) {
        fprintf (stderr, "pingpost-rawzmq: the chain did not come up (%d of %d relays; %s)\n",
                 relay_count, options.hops - 1, zmq_strerror (zmq_errno ()));
        rc = 1;
    }
    if (rc == 0) {
        sem_init (&head.credits, 0, (unsigned) options.window);
        int64_t cpu_before = s_chain_cpu_us (self, relays, relay_count);
        head.start_us = s_now_us ();
        head.end_us = head.start_us + (uint64_t) (options.duration_s * 1e6);
        atomic_store (&head.sending, true);
        pthread_t sender;
        pthread_create (&sender, NULL, s_sender, &head);
        s_receive (&head);
        uint64_t finished = s_now_us ();
        int64_t cpu_after = s_chain_cpu_us (self, relays, relay_count);
        s_stop = 1;
        pthread_join (sender, NULL);
        sem_destroy (&head.credits);

        double window_s = (double) ((finished < head.end_us ? finished : head.end_us)
                                    - head.start_us) / 1e6;
        double cpu_s = (double) (cpu_after - cpu_before) / 1e6;
        uint64_t sent = atomic_load (&head.sent);
        bench_samples_sort (&head.latency_us);
        const uint64_t *l = head.latency_us.values;
        size_t n = head.latency_us.count;
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += (double) l [i];
        printf ("{\"mode\":\"%s\",\"hops\":%d,\"relays\":%d,\"transport\":\"ipc\",\"size\":%zu,"
                "\"msgpack\":%s,\"hwm\":%d,\"window\":%d,\"target_rate\":%.1f,\"duration_s\":%.3f,"
                "\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
                ",\"send_failed\":%llu,\"bad\":%" PRIu64 ",\"msgs_per_s\":%.1f,"
                "\"latency_us\":{\"count\":%zu,\"mean\":%.1f,\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
                ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "},"
                "\"cpu_s\":%.2f,\"cpu_us_per_msg\":%.1f,\"cpu_us_per_hop\":%.1f}\n",
                options.rate > 0 ? "rate" : "closed", options.hops, relay_count, template.size,
                options.msgpack ? "true" : "false", options.hwm,
                options.rate > 0 ? 0 : options.window, options.rate, window_s, sent,
                head.received, sent > head.received ? sent - head.received : 0,
                (unsigned long long) atomic_load (&head.send_failed), head.bad,
                window_s > 0 ? (double) head.received_in_window / window_s : 0.0, n,
                n ? sum / (double) n : 0.0, bench_percentile (l, n, 50), bench_percentile (l, n, 90),
                bench_percentile (l, n, 99), bench_percentile (l, n, 99.9), n ? l [n - 1] : 0, cpu_s,
                head.received ? cpu_s * 1e6 / (double) head.received : 0.0,
                head.received ? cpu_s * 1e6 / (double) head.received / options.hops : 0.0);
        fflush (stdout);
    }

    //  Tear down: the relays first (their endpoints are files in --dir);
    //  one that has not stopped within 2 s is killed
    for (int i = 0; i < relay_count; i++)
        kill (relays [i], SIGTERM);
    uint64_t kill_at = s_now_us () + 2000000;
    int left = relay_count;
    while (left > 0) {
        for (int i = 0; i < relay_count; i++) {
            int status = 0;
            if (relays [i] > 0 && waitpid (relays [i], &status, WNOHANG) != 0) {
                relays [i] = 0;
                left--;
            }
        }
        if (left == 0)
            break;
        if (s_now_us () >= kill_at) {
            for (int i = 0; i < relay_count; i++)
                if (relays [i] > 0)
                    kill (relays [i], SIGKILL);
            kill_at = UINT64_MAX;
        }
        struct timespec pause = {0, 10000000};
        nanosleep (&pause, NULL);
    }
    zmq_close (head.push);
    zmq_close (head.pull);
    zmq_ctx_term (context);
    for (int node = 0; node < options.hops; node++) {
        char *endpoint = s_endpoint (&options, self, node);
        unlink (endpoint + strlen ("ipc://"));
        free (endpoint);
    }
    free (in);
    free (out);
    bench_samples_free (&head.latency_us);
    msgpack_sbuffer_destroy (&template);
    return rc;
}
