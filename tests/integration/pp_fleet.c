/*  pp_fleet - end-to-end test harness: the real fleet, the mock buyer, HTTP, SQL, CLI  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#include "pp_fleet.h"

#include <dirent.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#define PP_FLEET_MAX_PARAMS 16
#define PP_FLEET_MAX_ARGS   256     //  the mock buyer takes two per buyer

struct pp_fleet {
    char *name;                 //  test name, last part of the var dir
    char *source_dir;           //  repository root
    char *bin_dir;              //  <build>/bin
    char *build_dir;            //  <build>
    char *var_dir;              //  <build>/tv/<name>
    char *config;               //  VAR/etc/pingpost.cfg
    char *conninfo;             //  the fleet's database
    char *base_url;             //  http://127.0.0.1:<port>
    int port;                   //  intake HTTP port
    pid_t guardian;             //  runs scripts/down if we die; 0 when none
    PGconn *db;                 //  lazily opened connection, or NULL
    pid_t mock_pid;             //  mock buyer, 0 when none
    int mock_port;              //  its port
    int mock_out;               //  read end of its stdout, or -1
    char *mock_record;          //  VAR/mock.jsonl
    int applies;                //  marketplace files written so far
};

typedef struct {
    pp_fleet_request_t request; //  copy; strings below are the owned copies
    char *method;               //  owned copy of request.method
    char *url;                  //  full URL
    char *body;                 //  owned copy of the body, or NULL
    size_t body_size;           //  its size
    struct curl_slist *headers; //  request headers
    CURL *easy;                 //  while running, else NULL
    pp_fleet_reply_t *reply;    //  filled while running, complete once done
    bool done;                  //  finished
} s_item_t;

struct pp_fleet_batch {
    pp_fleet_t *fleet;          //  Not owned
    CURLM *multi;               //  the multi handle
    int concurrency;            //  most requests in flight
    s_item_t **items;           //  every request added
    size_t size;                //  how many
    size_t limit;               //  allocated
    size_t next;                //  first not yet started
    size_t running;             //  in flight
    size_t done;                //  finished
};

//  The counter behind unique leads.
static unsigned s_lead_counter = 0;

//  ---------------------------------------------------------------------------
//  Small helpers

static char *
s_strdup (const char *text)
{
    char *copy = strdup (text ? text : "");
    assert (copy);
    return copy;
}

static char * __attribute__ ((format (printf, 1, 2)))
s_printf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = NULL;
    int rc = vasprintf (&text, format, args);
    va_end (args);
    assert (rc >= 0 && text);
    return text;
}

int64_t
pp_fleet_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
pp_fleet_sleep_ms (int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
        ;
}

//  Read a whole file; NULL when it cannot be read. Caller frees.
static char *
s_read_file (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    size_t size = 0, limit = 4096;
    char *data = malloc (limit);
    assert (data);
    size_t got;
    while ((got = fread (data + size, 1, limit - size - 1, file)) > 0) {
        size += got;
        if (limit - size - 1 == 0) {
            limit *= 2;
            data = realloc (data, limit);
            assert (data);
        }
    }
    fclose (file);
    data [size] = 0;
    if (size_p)
        *size_p = size;
    return data;
}

static int
s_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "wb");
    if (!file) {
        printf ("pp_fleet: cannot write %s: %s\n", path, strerror (errno));
        return -1;
    }
    size_t size = strlen (text);
    int rc = fwrite (text, 1, size, file) == size ? 0 : -1;
    if (fclose (file))
        rc = -1;
    return rc;
}

//  Replace every occurrence of `from` in text by `to`. Caller frees.
static char *
s_replace_all (const char *text, const char *from, const char *to)
{
    size_t from_size = strlen (from), to_size = strlen (to);
    size_t count = 0;
    for (const char *p = strstr (text, from); p; p = strstr (p + from_size, from))
        count++;
    char *result = malloc (strlen (text) + count * to_size + 1);
    assert (result);
    char *out = result;
    const char *p = text, *hit;
    while ((hit = strstr (p, from))) {
        memcpy (out, p, (size_t) (hit - p));
        out += hit - p;
        memcpy (out, to, to_size);
        out += to_size;
        p = hit + from_size;
    }
    strcpy (out, p);
    return result;
}

//  In a forked child: close every descriptor from `first` on, so services and
//  tools never hold our sockets or pipes.
static void
s_close_fds_from (int first)
{
    if (close_range ((unsigned) first, ~0U, 0) == 0)
        return;
    long max = sysconf (_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = first; fd < max; fd++)
        close (fd);
}

//  A free TCP port on 127.0.0.1 (bind to 0, read it, close), or -1.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t size = sizeof addr;
    int port = -1;
    if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0
    &&  getsockname (fd, (struct sockaddr *) &addr, &size) == 0)
        port = ntohs (addr.sin_port);
    close (fd);
    return port;
}

//  Run argv (argv [0] a path) with extra environment "NAME=value" entries
//  (NULL-terminated, may be NULL), output to ours; wait. Returns its exit
//  status, or -1 when it did not run or died by a signal. The child dies
//  with us, so an orphaned scripts/up cannot start services after the
//  guardian's scripts/down.
static int
s_run (const char *const *argv, const char *const *env)
{
    fflush (stdout);
    fflush (stderr);
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (126);
        s_close_fds_from (3);
        for (size_t i = 0; env && env [i]; i++)
            putenv ((char *) env [i]);
        execv (argv [0], (char *const *) argv);
        fprintf (stderr, "pp_fleet: exec %s: %s\n", argv [0], strerror (errno));
        _exit (127);
    }
    int status = 0;
    while (waitpid (pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  Run scripts/<script> for this fleet. Returns its exit status or -1.
static int
s_run_script (pp_fleet_t *self, const char *script, const char *instances)
{
    char *path = s_printf ("%s/scripts/%s", self->source_dir, script);
    char *var_env = s_printf ("PINGPOST_VAR_DIR=%s", self->var_dir);
    char *port_env = s_printf ("PINGPOST_HTTP_PORT=%d", self->port);
    char *build_env = s_printf ("PINGPOST_BUILD_DIR=%s", self->build_dir);
    char *inst_env = s_printf ("PINGPOST_INSTANCES=%s", instances ? instances : "");
    const char *argv [] = {"/bin/bash", path, NULL};
    const char *env [] = {var_env, port_env, build_env, inst_env, "PINGPOST_NO_BUILD=1", NULL};
    int rc = s_run (argv, env);
    free (path);
    free (var_env);
    free (port_env);
    free (build_env);
    free (inst_env);
    return rc;
}

//  ---------------------------------------------------------------------------
//  The guardian: a child that runs scripts/down when we die without
//  destroying the fleet (PR_SET_PDEATHSIG), and exits quietly on SIGUSR1.

static pid_t
s_guardian_start (pp_fleet_t *self)
{
    pid_t parent = getpid ();
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGUSR1);
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    if (pid != 0)
        return pid < 0 ? 0 : pid;

    sigprocmask (SIG_BLOCK, &set, NULL);
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    int sig = SIGTERM;
    if (getppid () == parent)
        sigwait (&set, &sig);
    if (sig == SIGUSR1)
        _exit (0);
    printf ("pp_fleet: test program gone, stopping fleet %s\n", self->var_dir);
    //  scripts/down also stops the mock buyer (its pid file is in VAR/run).
    //  Let a scripts/up that died with our parent finish dying first.
    sigprocmask (SIG_UNBLOCK, &set, NULL);
    pp_fleet_sleep_ms (500);
    _exit (s_run_script (self, "down", NULL) == 0 ? 0 : 1);
}

static void
s_guardian_stop (pp_fleet_t *self)
{
    if (self->guardian > 0) {
        kill (self->guardian, SIGUSR1);
        waitpid (self->guardian, NULL, 0);
        self->guardian = 0;
    }
}

//  ---------------------------------------------------------------------------
//  Fleet

//  Remove the var dir, and the relocated PostgreSQL cluster its pg symlink
//  points to (scripts/lib.sh puts it under /var/tmp/pingpost-pg-*), so the
//  next up starts from an empty database.
static void
s_remove_var (pp_fleet_t *self)
{
    char *pg = s_printf ("%s/pg", self->var_dir);
    char target [PATH_MAX];
    ssize_t size = readlink (pg, target, sizeof target - 1);
    if (size > 0) {
        target [size] = 0;
        if (strncmp (target, "/var/tmp/pingpost-pg-", 21) == 0) {
            const char *argv [] = {"/bin/rm", "-rf", target, NULL};
            s_run (argv, NULL);
        }
    }
    const char *argv [] = {"/bin/rm", "-rf", self->var_dir, NULL};
    s_run (argv, NULL);
    free (pg);
}

//  The database_url of VAR/etc/pingpost.cfg, or NULL. Caller frees.
static char *
s_config_url (const char *config)
{
    char *text = s_read_file (config, NULL);
    if (!text)
        return NULL;
    char *url = NULL;
    char *line = strstr (text, "database_url");
    if (line) {
        char *quote = strpbrk (line, "\"'");
        char *eol = strchr (line, '\n');
        if (quote && (!eol || quote < eol)) {
            char *end = strchr (quote + 1, *quote);
            if (end) {
                *end = 0;
                url = s_strdup (quote + 1);
            }
        }
    }
    free (text);
    return url;
}

pp_fleet_t *
pp_fleet_new (const char *name, const char *instances)
{
    assert (name);
    signal (SIGPIPE, SIG_IGN);
    curl_global_init (CURL_GLOBAL_ALL);
    const char *bin_dir = getenv ("PP_BIN_DIR");
    const char *source_dir = getenv ("PP_SOURCE_DIR");
    if (!bin_dir || !*bin_dir || !source_dir || !*source_dir) {
        printf ("pp_fleet: PP_BIN_DIR and PP_SOURCE_DIR must be set (run through ctest)\n");
        return NULL;
    }
    pp_fleet_t *self = calloc (1, sizeof *self);
    assert (self);
    self->name = s_strdup (name);
    self->source_dir = s_strdup (source_dir);
    self->bin_dir = s_strdup (bin_dir);
    self->build_dir = s_strdup (bin_dir);
    char *slash = strrchr (self->build_dir, '/');
    if (slash && slash != self->build_dir)
        *slash = 0;
    self->var_dir = s_printf ("%s/tv/%s", self->build_dir, name);
    self->config = s_printf ("%s/etc/pingpost.cfg", self->var_dir);
    self->mock_record = s_printf ("%s/mock.jsonl", self->var_dir);
    self->mock_out = -1;

    //  Leftovers of an earlier run that died: stop them, then start clean.
    struct stat st;
    if (stat (self->var_dir, &st) == 0) {
        self->port = 0;
        s_run_script (self, "down", NULL);
    }
    s_remove_var (self);
    char *tv = s_printf ("%s/tv", self->build_dir);
    mkdir (tv, 0755);
    free (tv);

    self->port = s_free_port ();
    if (self->port <= 0) {
        printf ("pp_fleet: no free port\n");
        goto failed;
    }
    self->base_url = s_printf ("http://127.0.0.1:%d", self->port);
    self->guardian = s_guardian_start (self);

    int64_t started = pp_fleet_now_us ();
    printf ("pp_fleet: starting fleet %s on port %d (instances '%s')\n", self->var_dir,
            self->port, instances ? instances : "");
    int rc = s_run_script (self, "up", instances);
    if (rc != 0) {
        printf ("pp_fleet: scripts/up failed with %d\n", rc);
        pp_fleet_log_tail (self, "migrate", 30);
        pp_fleet_logs_tail (self, 30);
        goto failed;
    }
    self->conninfo = s_config_url (self->config);
    if (!self->conninfo) {
        printf ("pp_fleet: no database_url in %s\n", self->config);
        goto failed;
    }
    printf ("pp_fleet: fleet up in %.1f s (db '%s')\n",
            (double) (pp_fleet_now_us () - started) / 1e6, self->conninfo);
    return self;

failed:
    pp_fleet_destroy (&self);
    return NULL;
}

//  After the fleet stopped: any sanitizer report, failed assertion or
//  czmq dangling-socket message in a service log fails the test program.
static int
s_check_logs (pp_fleet_t *self)
{
    static const char *markers [] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                     "runtime error:", "Assertion", "dangling",
                                     "Segmentation fault", NULL};
    char folder [4096];
    snprintf (folder, sizeof folder, "%s/log", self->var_dir);
    DIR *dir = opendir (folder);
    int problems = 0;
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        size_t len = strlen (entry->d_name);
        if (len < 5 || strcmp (entry->d_name + len - 4, ".log") != 0)
            continue;
        char path [4400];
        snprintf (path, sizeof path, "%s/%s", folder, entry->d_name);
        FILE *file = fopen (path, "r");
        char line [1024];
        while (file && fgets (line, sizeof line, file))
            for (const char **marker = markers; *marker; marker++)
                if (strstr (line, *marker)) {
                    printf ("pp_fleet: %s: %s", entry->d_name, line);
                    problems++;
                    break;
                }
        if (file)
            fclose (file);
    }
    if (dir)
        closedir (dir);
    return problems ? -1 : 0;
}

int
pp_fleet_teardown (void **state)
{
    pp_fleet_t *fleet = (pp_fleet_t *) *state;
    return pp_fleet_destroy (&fleet);
}

int
pp_fleet_destroy (pp_fleet_t **self_p)
{
    assert (self_p);
    pp_fleet_t *self = *self_p;
    if (!self)
        return 0;
    pp_fleet_mockbuyer_stop (self);
    if (self->db)
        PQfinish (self->db);
    int problems = 0;
    if (self->port > 0) {
        int rc = s_run_script (self, "down", NULL);
        if (rc != 0)
            printf ("pp_fleet: scripts/down failed with %d\n", rc);
        problems = s_check_logs (self);
    }
    s_guardian_stop (self);
    free (self->name);
    free (self->source_dir);
    free (self->bin_dir);
    free (self->build_dir);
    free (self->var_dir);
    free (self->config);
    free (self->conninfo);
    free (self->base_url);
    free (self->mock_record);
    free (self);
    *self_p = NULL;
    return problems;
}

const char *
pp_fleet_var_dir (pp_fleet_t *self)
{
    assert (self);
    return self->var_dir;
}

int
pp_fleet_http_port (pp_fleet_t *self)
{
    assert (self);
    return self->port;
}

const char *
pp_fleet_conninfo (pp_fleet_t *self)
{
    assert (self);
    return self->conninfo;
}

int
pp_fleet_config_append (pp_fleet_t *self, const char *lines)
{
    assert (self && lines);
    size_t size = 0;
    char *text = s_read_file (self->config, &size);
    if (!text) {
        printf ("pp_fleet: cannot read %s\n", self->config);
        return -1;
    }
    char *joined = s_printf ("%s%s%s", text, size && text [size - 1] != '\n' ? "\n" : "", lines);
    int rc = s_write_file (self->config, joined);
    if (rc)
        printf ("pp_fleet: cannot write %s\n", self->config);
    free (joined);
    free (text);
    return rc;
}

void
pp_fleet_fail (pp_fleet_t *self, const char *file, int line, const char *cond,
               const char *format, ...)
{
    printf ("FAILED %s:%d: %s", file, line, cond);
    va_list args;
    va_start (args, format);
    char *message = NULL;
    if (vasprintf (&message, format, args) >= 0 && message && *message)
        printf (": %s", message);
    free (message);
    va_end (args);
    printf ("\n");
    if (self)
        pp_fleet_logs_tail (self, 15);
    fflush (stdout);
}

void
pp_fleet_log_tail (pp_fleet_t *self, const char *name, int lines)
{
    assert (self);
    char *path = s_printf ("%s/log/%s.log", self->var_dir, name);
    size_t size = 0;
    char *text = s_read_file (path, &size);
    printf ("==> %s <==\n", path);
    if (text) {
        size_t start = size;
        int seen = 0;
        while (start > 0) {
            if (text [start - 1] == '\n' && start != size && ++seen >= lines)
                break;
            start--;
        }
        //  Keep the output bounded even when a line is huge.
        if (size - start > 8000)
            start = size - 8000;
        fwrite (text + start, 1, size - start, stdout);
        if (size && text [size - 1] != '\n')
            printf ("\n");
    }
    else
        printf ("(no log)\n");
    free (text);
    free (path);
}

void
pp_fleet_logs_tail (pp_fleet_t *self, int lines)
{
    assert (self);
    static const char *names [] = {"intake", "validate", "filter", "auction", "deliver",
                                   "ledger"};
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        int slots = pp_fleet_slots (self, names [i]);
        for (int slot = 0; slot < slots; slot++) {
            char *name = s_printf ("%s-%d", names [i], slot);
            pp_fleet_log_tail (self, name, lines);
            free (name);
        }
    }
    if (self->mock_pid > 0)
        pp_fleet_log_tail (self, "mockbuyer", lines);
}

//  ---------------------------------------------------------------------------
//  Processes

int
pp_fleet_slots (pp_fleet_t *self, const char *svc)
{
    assert (self);
    int slots = 0;
    while (slots < 64) {
        char *cmd = s_printf ("%s/run/%s-%d.cmd", self->var_dir, svc, slots);
        bool exists = access (cmd, F_OK) == 0;
        free (cmd);
        if (!exists)
            break;
        slots++;
    }
    return slots;
}

pid_t
pp_fleet_pid (pp_fleet_t *self, const char *svc, int slot)
{
    assert (self);
    char *path = s_printf ("%s/run/%s-%d.pid", self->var_dir, svc, slot);
    char *text = s_read_file (path, NULL);
    free (path);
    pid_t pid = -1;
    if (text) {
        long value = strtol (text, NULL, 10);
        if (value > 0)
            pid = (pid_t) value;
        free (text);
    }
    return pid;
}

bool
pp_fleet_pid_alive (pid_t pid)
{
    if (pid <= 0)
        return false;
    //  Reap it if it is our own child, so it cannot linger as a zombie.
    waitpid (pid, NULL, WNOHANG);
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    char *text = s_read_file (path, NULL);
    if (!text)
        return false;
    //  "pid (comm) S ...": the state follows the last ')'.
    char *paren = strrchr (text, ')');
    bool alive = paren && paren [1] == ' ' && paren [2] != 'Z' && paren [2] != 'X';
    free (text);
    return alive;
}

//  True when pid is alive and its command line names our var dir, so a
//  recycled pid is never taken for ours.
static bool
s_pid_ours (pp_fleet_t *self, pid_t pid)
{
    if (!pp_fleet_pid_alive (pid))
        return false;
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pid);
    size_t size = 0;
    char *text = s_read_file (path, &size);
    if (!text)
        return false;
    for (size_t i = 0; i < size; i++)
        if (text [i] == 0)
            text [i] = ' ';
    bool ours = strstr (text, self->var_dir) != NULL;
    free (text);
    return ours;
}

int
pp_fleet_kill (pp_fleet_t *self, const char *svc, int slot, int sig)
{
    assert (self);
    pid_t pid = pp_fleet_pid (self, svc, slot);
    if (!s_pid_ours (self, pid)) {
        printf ("pp_fleet: %s-%d (pid %d) is not running\n", svc, slot, (int) pid);
        return -1;
    }
    if (kill (pid, sig) != 0) {
        printf ("pp_fleet: kill %d: %s\n", (int) pid, strerror (errno));
        return -1;
    }
    if (sig == SIGKILL) {
        int64_t deadline = pp_fleet_now_us () + 2000000;
        while (pp_fleet_pid_alive (pid) && pp_fleet_now_us () < deadline)
            pp_fleet_sleep_ms (5);
        if (pp_fleet_pid_alive (pid)) {
            printf ("pp_fleet: %s-%d (pid %d) survived SIGKILL\n", svc, slot, (int) pid);
            return -1;
        }
    }
    return 0;
}

int
pp_fleet_restart (pp_fleet_t *self, const char *svc, int slot)
{
    assert (self);
    char *name = s_printf ("%s-%d", svc, slot);
    char *cmd_path = s_printf ("%s/run/%s.cmd", self->var_dir, name);
    char *pid_path = s_printf ("%s/run/%s.pid", self->var_dir, name);
    char *log_path = s_printf ("%s/log/%s.log", self->var_dir, name);
    char *cmd = s_read_file (cmd_path, NULL);
    char *script = NULL;
    int rc = -1;
    if (!cmd) {
        printf ("pp_fleet: cannot read %s\n", cmd_path);
        goto cleanup;
    }
    cmd [strcspn (cmd, "\n")] = 0;
    script = s_printf ("exec %s", cmd);

    //  Double fork: the service is adopted by init, not left as our zombie.
    fflush (stdout);
    fflush (stderr);
    pid_t child = fork ();
    if (child < 0)
        goto cleanup;
    if (child == 0) {
        setsid ();
        pid_t grandchild = fork ();
        if (grandchild != 0)
            _exit (grandchild < 0 ? 1 : 0);
        int log = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open ("/dev/null", O_RDONLY);
        if (log < 0 || null < 0)
            _exit (126);
        dup2 (null, 0);
        dup2 (log, 1);
        dup2 (log, 2);
        s_close_fds_from (3);
        FILE *file = fopen (pid_path, "w");
        if (!file)
            _exit (126);
        fprintf (file, "%d\n", (int) getpid ());
        fclose (file);
        dprintf (1, "pp_fleet: restarting %s by hand\n", cmd);
        unsetenv ("PINGPOST_VAR_DIR");
        unsetenv ("PINGPOST_DATABASE_URL");
        unsetenv ("PINGPOST_HTTP_PORT");
        execl ("/bin/bash", "bash", "-c", script, (char *) NULL);
        _exit (127);
    }
    int status = 0;
    while (waitpid (child, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        printf ("pp_fleet: restart of %s failed to fork\n", name);
        goto cleanup;
    }
    //  The grandchild writes the pid file just before exec.
    int64_t deadline = pp_fleet_now_us () + 2000000;
    while (pp_fleet_now_us () < deadline) {
        pid_t pid = pp_fleet_pid (self, svc, slot);
        if (s_pid_ours (self, pid)) {
            rc = 0;
            break;
        }
        pp_fleet_sleep_ms (10);
    }
    if (rc)
        printf ("pp_fleet: %s did not come back\n", name);
cleanup:
    free (script);
    free (cmd);
    free (name);
    free (cmd_path);
    free (pid_path);
    free (log_path);
    return rc;
}

bool
pp_fleet_all_alive (pp_fleet_t *self)
{
    assert (self);
    static const char *names [] = {"intake", "validate", "filter", "auction", "deliver",
                                   "ledger"};
    bool alive = true;
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        int slots = pp_fleet_slots (self, names [i]);
        if (slots == 0) {
            printf ("pp_fleet: no instance of %s\n", names [i]);
            alive = false;
        }
        for (int slot = 0; slot < slots; slot++) {
            pid_t pid = pp_fleet_pid (self, names [i], slot);
            if (!s_pid_ours (self, pid)) {
                printf ("pp_fleet: %s-%d (pid %d) is dead\n", names [i], slot, (int) pid);
                alive = false;
            }
        }
    }
    return alive;
}

//  ---------------------------------------------------------------------------
//  The mock buyer

int
pp_fleet_mockbuyer_start (pp_fleet_t *self, const char *const *buyers)
{
    assert (self);
    pp_fleet_mockbuyer_stop (self);
    const char *argv [PP_FLEET_MAX_ARGS];
    size_t argc = 0;
    char *bin = s_printf ("%s/pingpost-mockbuyer", self->bin_dir);
    char *pidfile = s_printf ("%s/run/mockbuyer.pid", self->var_dir);
    char *log_path = s_printf ("%s/log/mockbuyer.log", self->var_dir);
    argv [argc++] = bin;
    argv [argc++] = "--port";
    argv [argc++] = "0";
    argv [argc++] = "--record";
    argv [argc++] = self->mock_record;
    argv [argc++] = "--pidfile";
    argv [argc++] = pidfile;
    for (size_t i = 0; buyers && buyers [i] && argc < PP_FLEET_MAX_ARGS - 3; i++) {
        argv [argc++] = "--buyer";
        argv [argc++] = buyers [i];
    }
    argv [argc] = NULL;

    int rc = -1;
    int out [2];
    if (pipe (out) != 0)
        goto cleanup;
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    if (pid < 0) {
        close (out [0]);
        close (out [1]);
        goto cleanup;
    }
    if (pid == 0) {
        int log = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open ("/dev/null", O_RDONLY);
        if (log >= 0)
            dup2 (log, 2);
        if (null >= 0)
            dup2 (null, 0);
        dup2 (out [1], 1);
        s_close_fds_from (3);
        execv (argv [0], (char *const *) argv);
        fprintf (stderr, "pp_fleet: exec %s: %s\n", argv [0], strerror (errno));
        _exit (127);
    }
    close (out [1]);
    self->mock_pid = pid;
    self->mock_out = out [0];

    //  Read "mockbuyer listening on <port>" (within 10 s).
    char line [256] = "";
    size_t size = 0;
    int64_t deadline = pp_fleet_now_us () + 10000000;
    while (!strchr (line, '\n') && size < sizeof line - 1) {
        int left = (int) ((deadline - pp_fleet_now_us ()) / 1000);
        if (left <= 0)
            break;
        struct pollfd item = {self->mock_out, POLLIN, 0};
        if (poll (&item, 1, left) <= 0)
            continue;
        ssize_t got = read (self->mock_out, line + size, sizeof line - 1 - size);
        if (got <= 0)
            break;
        size += (size_t) got;
        line [size] = 0;
    }
    const char *mark = strstr (line, "listening on ");
    if (mark)
        self->mock_port = atoi (mark + strlen ("listening on "));
    if (self->mock_port <= 0) {
        printf ("pp_fleet: mock buyer did not say 'mockbuyer listening on <port>' (got '%s')\n",
                line);
        pp_fleet_log_tail (self, "mockbuyer", 20);
        pp_fleet_mockbuyer_stop (self);
        goto cleanup;
    }
    //  Later output is drained and dropped (never blocks the mock buyer).
    fcntl (self->mock_out, F_SETFL, O_NONBLOCK);
    printf ("pp_fleet: mock buyer on port %d\n", self->mock_port);
    rc = 0;
cleanup:
    free (bin);
    free (pidfile);
    free (log_path);
    return rc;
}

int
pp_fleet_mockbuyer_port (pp_fleet_t *self)
{
    assert (self);
    return self->mock_port;
}

static void
s_mock_drain (pp_fleet_t *self)
{
    char buffer [4096];
    if (self->mock_out >= 0)
        while (read (self->mock_out, buffer, sizeof buffer) > 0)
            ;
}

void
pp_fleet_mockbuyer_stop (pp_fleet_t *self)
{
    assert (self);
    if (self->mock_pid > 0) {
        kill (self->mock_pid, SIGTERM);
        int64_t deadline = pp_fleet_now_us () + 5000000;
        int status;
        while (waitpid (self->mock_pid, &status, WNOHANG) == 0) {
            s_mock_drain (self);
            if (pp_fleet_now_us () > deadline) {
                printf ("pp_fleet: mock buyer ignored SIGTERM for 5 s: SIGKILL\n");
                kill (self->mock_pid, SIGKILL);
                waitpid (self->mock_pid, &status, 0);
                break;
            }
            pp_fleet_sleep_ms (10);
        }
        self->mock_pid = 0;
    }
    if (self->mock_out >= 0) {
        close (self->mock_out);
        self->mock_out = -1;
    }
    self->mock_port = 0;
}

//  One GET to any URL; for the mock buyer.
static pp_fleet_reply_t *
s_get_url (pp_fleet_t *self, const char *url);

cJSON *
pp_fleet_mockbuyer_stats (pp_fleet_t *self)
{
    assert (self);
    s_mock_drain (self);
    if (self->mock_port <= 0)
        return NULL;
    char *url = s_printf ("http://127.0.0.1:%d/_stats", self->mock_port);
    pp_fleet_reply_t *reply = s_get_url (self, url);
    free (url);
    cJSON *stats = NULL;
    if (reply->status == 200 && cJSON_IsObject (reply->json)) {
        stats = reply->json;
        reply->json = NULL;
    }
    else
        pp_fleet_reply_print (reply, "mock buyer /_stats");
    pp_fleet_reply_destroy (&reply);
    return stats;
}

cJSON *
pp_fleet_mockbuyer_records (pp_fleet_t *self)
{
    assert (self);
    s_mock_drain (self);
    cJSON *records = cJSON_CreateArray ();
    char *text = s_read_file (self->mock_record, NULL);
    if (!text)
        return records;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        cJSON *record = cJSON_Parse (line);
        if (!cJSON_IsObject (record)) {
            printf ("pp_fleet: bad record line in %s: %.200s\n", self->mock_record, line);
            cJSON_Delete (record);
            continue;
        }
        const char *body = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                  "body"));
        cJSON *json = body ? cJSON_Parse (body) : NULL;
        if (json)
            cJSON_AddItemToObject (record, "json", json);
        cJSON_AddItemToArray (records, record);
    }
    free (text);
    return records;
}

//  One POST without a body to any URL; for the mock buyer.
static pp_fleet_reply_t *
s_post_url (pp_fleet_t *self, const char *url);

int
pp_fleet_mockbuyer_mode (pp_fleet_t *self, const char *buyer, const char *mode)
{
    assert (self);
    assert (buyer && mode);
    if (self->mock_port <= 0)
        return -1;
    s_mock_drain (self);
    char *url = s_printf ("http://127.0.0.1:%d/_mode/%s/%s", self->mock_port, buyer, mode);
    pp_fleet_reply_t *reply = s_post_url (self, url);
    free (url);
    const char *now = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (reply->json,
                                                                             "mode"));
    int rc = reply->status == 200 && now && strcmp (now, mode) == 0 ? 0 : -1;
    if (rc)
        pp_fleet_reply_print (reply, "mock buyer /_mode");
    pp_fleet_reply_destroy (&reply);
    return rc;
}

cJSON *
pp_fleet_mockbuyer_posts (pp_fleet_t *self, const char *lead_id)
{
    cJSON *records = pp_fleet_mockbuyer_records (self);
    cJSON *posts = cJSON_CreateArray ();
    cJSON *record;
    cJSON_ArrayForEach (record, records) {
        const char *kind = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                  "kind"));
        cJSON *json = cJSON_GetObjectItemCaseSensitive (record, "json");
        const char *id = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (json,
                                                                                "lead_id"));
        if (kind && strcmp (kind, "post") == 0 && id && strcmp (id, lead_id) == 0)
            cJSON_AddItemToArray (posts, cJSON_Duplicate (record, true));
    }
    cJSON_Delete (records);
    return posts;
}

cJSON *
pp_fleet_mockbuyer_lead_records (pp_fleet_t *self, const char *lead_id, const char *kind)
{
    cJSON *found = cJSON_CreateArray ();
    if (!lead_id || !*lead_id)
        return found;           //  no lead, no records (not every request)
    cJSON *records = pp_fleet_mockbuyer_records (self);
    cJSON *record;
    cJSON_ArrayForEach (record, records) {
        const char *what = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                  "kind"));
        const char *body = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                  "body"));
        if (kind && (!what || strcmp (what, kind) != 0))
            continue;
        if (body && strstr (body, lead_id))
            cJSON_AddItemToArray (found, cJSON_Duplicate (record, true));
    }
    cJSON_Delete (records);
    return found;
}

cJSON *
pp_fleet_mockbuyer_wait (pp_fleet_t *self, const char *lead_id, const char *kind, int count,
                         int timeout_ms, int settle_ms)
{
    int64_t deadline = pp_fleet_now_us () + (int64_t) timeout_ms * 1000;
    while (true) {
        cJSON *found = pp_fleet_mockbuyer_lead_records (self, lead_id, kind);
        bool enough = cJSON_GetArraySize (found) >= count;
        cJSON_Delete (found);
        if (enough || pp_fleet_now_us () >= deadline)
            break;
        pp_fleet_sleep_ms (20);
    }
    pp_fleet_sleep_ms (settle_ms);
    return pp_fleet_mockbuyer_lead_records (self, lead_id, kind);
}

char *
pp_fleet_records_buyers (const cJSON *records)
{
    size_t size = 1;
    const cJSON *record;
    cJSON_ArrayForEach (record, records) {
        const char *buyer = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                   "buyer"));
        size += strlen (buyer ? buyer : "?") + 1;
    }
    char *text = calloc (1, size);
    assert (text);
    cJSON_ArrayForEach (record, records) {
        const char *buyer = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                   "buyer"));
        if (*text)
            strcat (text, ",");
        strcat (text, buyer ? buyer : "?");
    }
    return text;
}

static int
s_compare_buyers (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
pp_fleet_records_buyers_sorted (const cJSON *records)
{
    int count = cJSON_GetArraySize (records);
    const char **names = calloc ((size_t) count + 1, sizeof *names);
    assert (names);
    size_t size = 1;
    int i = 0;
    const cJSON *record;
    cJSON_ArrayForEach (record, records) {
        const char *buyer = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                   "buyer"));
        names [i] = buyer ? buyer : "?";
        size += strlen (names [i++]) + 1;
    }
    qsort (names, (size_t) count, sizeof *names, s_compare_buyers);
    char *text = calloc (1, size);
    assert (text);
    for (i = 0; i < count; i++) {
        if (i)
            strcat (text, ",");
        strcat (text, names [i]);
    }
    free (names);
    return text;
}

char *
pp_fleet_mockbuyer_bid_ref (pp_fleet_t *self, const char *buyer, const char *lead_id)
{
    cJSON *records = pp_fleet_mockbuyer_records (self);
    int n = 0;
    char *ref = NULL;
    cJSON *record;
    cJSON_ArrayForEach (record, records) {
        const char *kind = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                  "kind"));
        const char *who = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (record,
                                                                                 "buyer"));
        if (!kind || strcmp (kind, "ping") != 0 || !who || strcmp (who, buyer) != 0)
            continue;
        n++;
        cJSON *json = cJSON_GetObjectItemCaseSensitive (record, "json");
        const char *id = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (json,
                                                                                "ping_id"));
        if (id && strcmp (id, lead_id) == 0) {
            ref = s_printf ("%s-bid-%d", buyer, n);
            break;
        }
    }
    cJSON_Delete (records);
    return ref;
}

//  ---------------------------------------------------------------------------
//  Marketplace and leads

char *
pp_fleet_market_json (const char *buyers)
{
    return s_printf (
        "{\n"
        "  \"auction\": {\"mode\": \"auction\", \"pricing\": \"first\", \"floor\": 5.00,\n"
        "              \"max_sales\": 1, \"timeout_ms\": 1500},\n"
        "  \"verticals\": [{\n"
        "    \"name\": \"solar\",\n"
        "    \"fields\": {\n"
        "      \"first_name\":   {\"type\": \"string\", \"pii\": true, \"required\": true, "
        "\"max_length\": 64},\n"
        "      \"last_name\":    {\"type\": \"string\", \"pii\": true, \"required\": true, "
        "\"max_length\": 64},\n"
        "      \"email\":        {\"type\": \"email\", \"pii\": true, \"required\": true},\n"
        "      \"phone\":        {\"type\": \"phone\", \"pii\": true, \"required\": true},\n"
        "      \"zip\":          {\"type\": \"zip\", \"required\": true},\n"
        "      \"state\":        {\"type\": \"state\"},\n"
        "      \"monthly_bill\": {\"type\": \"integer\", \"min\": 0, \"max\": 5000}\n"
        "    },\n"
        "    \"dedupe\": {\"fields\": [\"phone\", \"email\"], \"days\": 30},\n"
        "    \"consent_required\": true\n"
        "  }],\n"
        "  \"publishers\": [\n"
        "    {\"name\": \"acme\", \"api_key\": \"" PP_FLEET_KEY_ACME "\",\n"
        "     \"payout\": {\"revshare_percent\": 80}, \"rate_limit_per_second\": 50000},\n"
        "    {\"name\": \"fixedpub\", \"api_key\": \"" PP_FLEET_KEY_FIXED "\",\n"
        "     \"payout\": {\"fixed\": 10.00}, \"rate_limit_per_second\": 50000},\n"
        "    {\"name\": \"slowpub\", \"api_key\": \"" PP_FLEET_KEY_SLOW "\",\n"
        "     \"payout\": {\"revshare_percent\": 80}, \"rate_limit_per_second\": 2}\n"
        "  ],\n"
        "  \"buyers\": %s\n"
        "}\n",
        buyers ? buyers : "[]");
}

char *
pp_fleet_market_json_with (const char *auction, const char *buyers)
{
    return s_printf (
        "{\n"
        "  \"auction\": %s,\n"
        "  \"verticals\": [{\n"
        "    \"name\": \"solar\",\n"
        "    \"fields\": {\n"
        "      \"first_name\":   {\"type\": \"string\", \"pii\": true, \"required\": true, "
        "\"max_length\": 64},\n"
        "      \"last_name\":    {\"type\": \"string\", \"pii\": true, \"required\": true, "
        "\"max_length\": 64},\n"
        "      \"email\":        {\"type\": \"email\", \"pii\": true, \"required\": true},\n"
        "      \"phone\":        {\"type\": \"phone\", \"pii\": true, \"required\": true},\n"
        "      \"address\":      {\"type\": \"string\", \"pii\": true},\n"
        "      \"zip\":          {\"type\": \"zip\", \"required\": true},\n"
        "      \"state\":        {\"type\": \"state\"},\n"
        "      \"monthly_bill\": {\"type\": \"integer\", \"min\": 0, \"max\": 5000}\n"
        "    },\n"
        "    \"dedupe\": {\"fields\": [\"phone\", \"email\"], \"days\": 30},\n"
        "    \"consent_required\": true\n"
        "  }],\n"
        "  \"publishers\": [\n"
        "    {\"name\": \"acme\", \"api_key\": \"" PP_FLEET_KEY_ACME "\",\n"
        "     \"payout\": {\"revshare_percent\": 80}, \"rate_limit_per_second\": 50000},\n"
        "    {\"name\": \"fixedpub\", \"api_key\": \"" PP_FLEET_KEY_FIXED "\",\n"
        "     \"payout\": {\"fixed\": 10.00}, \"rate_limit_per_second\": 50000},\n"
        "    {\"name\": \"slowpub\", \"api_key\": \"" PP_FLEET_KEY_SLOW "\",\n"
        "     \"payout\": {\"revshare_percent\": 80}, \"rate_limit_per_second\": 2}\n"
        "  ],\n"
        "  \"buyers\": %s\n"
        "}\n",
        auction && *auction ? auction
                            : "{\"mode\": \"auction\", \"pricing\": \"first\", \"floor\": 5.00, "
                              "\"max_sales\": 1, \"timeout_ms\": 1500}",
        buyers ? buyers : "[]");
}

char *
pp_fleet_fixed_buyer (const char *name, const char *bid, const char *state)
{
    return s_printf (
        "{\"name\": \"%s\", \"campaigns\": [{\n"
        "   \"name\": \"%s-c\", \"vertical\": \"solar\", \"tier\": 1, \"exclusive\": true,\n"
        "   \"bid\": {\"fixed\": %s},\n"
        "   \"post\": {\"url\": \"@BUYER@/%s/post\", \"timeout_ms\": 2000, \"format\": \"json\"},\n"
        "   \"filters\": {\"states\": [\"%s\"]}}]}",
        name, name, bid, name, state);
}

int
pp_fleet_apply_fixed_buyer (pp_fleet_t *self, const char *name, const char *bid,
                            const char *state)
{
    char *buyer = pp_fleet_fixed_buyer (name, bid, state);
    char *buyers = s_printf ("[%s]", buyer);
    char *market = pp_fleet_market_json (buyers);
    int rc = pp_fleet_apply (self, market);
    free (market);
    free (buyers);
    free (buyer);
    return rc;
}

int
pp_fleet_apply (pp_fleet_t *self, const char *market)
{
    assert (self);
    char *base = s_printf ("http://127.0.0.1:%d", self->mock_port);
    char *text = s_replace_all (market, "@BUYER@", base);
    char *path = s_printf ("%s/etc/market-%d.json", self->var_dir, ++self->applies);
    int rc = s_write_file (path, text);
    if (rc == 0) {
        int exit_code = -1;
        char *out = pp_fleet_cli (self, &exit_code, "apply", path, NULL);
        if (exit_code != 0) {
            printf ("pp_fleet: pingpost apply %s exited %d; stdout:\n%s\n", path, exit_code, out);
            rc = -1;
        }
        free (out);
    }
    //  Running services reload on NOTIFY "within a second".
    if (rc == 0)
        pp_fleet_sleep_ms (1500);
    free (base);
    free (text);
    free (path);
    return rc;
}

//  n in lower-case letters ("a", "b", ... "ba"), for names without digits.
static void
s_letters (unsigned n, char *buf, size_t size)
{
    char tmp [16];
    size_t len = 0;
    do {
        tmp [len++] = (char) ('a' + n % 26);
        n /= 26;
    } while (n && len < sizeof tmp);
    size_t i;
    for (i = 0; i < len && i + 1 < size; i++)
        buf [i] = tmp [len - 1 - i];
    buf [i] = 0;
}

cJSON *
pp_fleet_lead_new (const char *state, const char *zip)
{
    static const char *areas [] = {"212", "310", "415", "503", "617", "702", "713", "808"};
    unsigned n = s_lead_counter++;
    unsigned rest = n / 8;
    unsigned exchange = 230 + (rest / 10000) % 300;
    if (exchange % 100 == 11)
        exchange++;
    char phone [16], letters [16], first [32], last [32], email [96];
    snprintf (phone, sizeof phone, "%s%03u%04u", areas [n % 8], exchange, rest % 10000);
    s_letters (n, letters, sizeof letters);
    snprintf (first, sizeof first, "Jane%s", letters);
    snprintf (last, sizeof last, "Doe%s", letters);
    snprintf (email, sizeof email, "jane.%s.%d@gmail.com", letters, (int) getpid ());

    char started [40], consent_at [40];
    time_t t = time (NULL);
    struct tm tm;
    time_t ts = t - 30;
    gmtime_r (&ts, &tm);
    strftime (consent_at, sizeof consent_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ts = t - 120;
    gmtime_r (&ts, &tm);
    strftime (started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);

    cJSON *lead = cJSON_CreateObject ();
    cJSON_AddStringToObject (lead, "vertical", "solar");
    cJSON_AddStringToObject (lead, "source", "e2e-web");
    cJSON_AddStringToObject (lead, "sub_id", "sub-1");
    cJSON_AddBoolToObject (lead, "test", false);
    cJSON_AddNumberToObject (lead, "timeout_ms", 3000);
    cJSON *fields = cJSON_AddObjectToObject (lead, "fields");
    cJSON_AddStringToObject (fields, "first_name", first);
    cJSON_AddStringToObject (fields, "last_name", last);
    cJSON_AddStringToObject (fields, "email", email);
    cJSON_AddStringToObject (fields, "phone", phone);
    cJSON_AddStringToObject (fields, "zip", zip);
    if (state)
        cJSON_AddStringToObject (fields, "state", state);
    cJSON_AddNumberToObject (fields, "monthly_bill", 180);
    cJSON *consent = cJSON_AddObjectToObject (lead, "consent");
    cJSON_AddBoolToObject (consent, "tcpa", true);
    cJSON_AddStringToObject (consent, "text",
                             "I agree to be contacted by solar installers about my request.");
    cJSON_AddStringToObject (consent, "timestamp", consent_at);
    cJSON_AddStringToObject (consent, "ip", "203.0.113.7");
    cJSON *signals = cJSON_AddObjectToObject (lead, "signals");
    cJSON_AddStringToObject (signals, "form_started_at", started);
    cJSON_AddStringToObject (signals, "honeypot", "");
    cJSON_AddStringToObject (signals, "ip", "203.0.113.7");
    cJSON_AddStringToObject (signals, "user_agent", "Mozilla/5.0 (pp-e2e)");
    return lead;
}

//  ---------------------------------------------------------------------------
//  HTTP: every request, single or not, runs through a batch.

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    pp_fleet_reply_t *reply = (pp_fleet_reply_t *) arg;
    size_t bytes = size * count;
    reply->body = realloc (reply->body, reply->body_size + bytes + 1);
    assert (reply->body);
    memcpy (reply->body + reply->body_size, data, bytes);
    reply->body_size += bytes;
    reply->body [reply->body_size] = 0;
    return bytes;
}

static size_t
s_on_header (char *data, size_t size, size_t count, void *arg)
{
    pp_fleet_reply_t *reply = (pp_fleet_reply_t *) arg;
    size_t bytes = size * count;
    size_t have = strlen (reply->headers);
    reply->headers = realloc (reply->headers, have + bytes + 1);
    assert (reply->headers);
    memcpy (reply->headers + have, data, bytes);
    reply->headers [have + bytes] = 0;
    return bytes;
}

static void
s_item_destroy (s_item_t **self_p)
{
    s_item_t *self = *self_p;
    if (!self)
        return;
    if (self->easy)
        curl_easy_cleanup (self->easy);
    curl_slist_free_all (self->headers);
    pp_fleet_reply_destroy (&self->reply);
    free (self->method);
    free (self->url);
    free (self->body);
    free (self);
    *self_p = NULL;
}

pp_fleet_batch_t *
pp_fleet_batch_new (pp_fleet_t *self, int concurrency)
{
    assert (self);
    pp_fleet_batch_t *batch = calloc (1, sizeof *batch);
    assert (batch);
    batch->fleet = self;
    batch->multi = curl_multi_init ();
    assert (batch->multi);
    batch->concurrency = concurrency > 0 ? concurrency : 1;
    curl_multi_setopt (batch->multi, CURLMOPT_MAXCONNECTS, (long) batch->concurrency + 4);
    return batch;
}

void
pp_fleet_batch_destroy (pp_fleet_batch_t **self_p)
{
    assert (self_p);
    pp_fleet_batch_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++) {
        if (self->items [i]->easy)
            curl_multi_remove_handle (self->multi, self->items [i]->easy);
        s_item_destroy (&self->items [i]);
    }
    free (self->items);
    curl_multi_cleanup (self->multi);
    free (self);
    *self_p = NULL;
}

static void
s_batch_add_url (pp_fleet_batch_t *self, const char *url, const pp_fleet_request_t *request)
{
    s_item_t *item = calloc (1, sizeof *item);
    assert (item);
    item->request = *request;
    item->method = s_strdup (request->method ? request->method : "GET");
    item->url = s_strdup (url);
    if (request->body) {
        item->body_size = request->body_size ? request->body_size : strlen (request->body);
        item->body = malloc (item->body_size + 1);
        assert (item->body);
        memcpy (item->body, request->body, item->body_size);
        item->body [item->body_size] = 0;
    }
    //  "Expect:" off: curl would wait for 100-continue on big bodies.
    item->headers = curl_slist_append (item->headers, "Expect:");
    if (request->api_key) {
        char *header = s_printf ("Authorization: Bearer %s", request->api_key);
        item->headers = curl_slist_append (item->headers, header);
        free (header);
    }
    if (request->content_type) {
        char *header = s_printf ("Content-Type: %s", request->content_type);
        item->headers = curl_slist_append (item->headers, header);
        free (header);
    }
    else
        item->headers = curl_slist_append (item->headers, "Content-Type:");
    if (self->size == self->limit) {
        self->limit = self->limit ? self->limit * 2 : 16;
        self->items = realloc (self->items, self->limit * sizeof *self->items);
        assert (self->items);
    }
    self->items [self->size++] = item;
}

void
pp_fleet_batch_add (pp_fleet_batch_t *self, const pp_fleet_request_t *request)
{
    assert (self);
    assert (request && request->path);
    char *url = s_printf ("%s%s", self->fleet->base_url, request->path);
    s_batch_add_url (self, url, request);
    free (url);
}

void
pp_fleet_batch_add_header (pp_fleet_batch_t *self, const char *header)
{
    assert (self && header);
    assert (self->size > 0);
    s_item_t *item = self->items [self->size - 1];
    item->headers = curl_slist_append (item->headers, header);
}

void
pp_fleet_batch_add_lead (pp_fleet_batch_t *self, const char *api_key, const cJSON *lead)
{
    char *body = cJSON_PrintUnformatted (lead);
    assert (body);
    pp_fleet_request_t request = {"POST", "/v1/leads", api_key, "application/json", body, 0, 0};
    cJSON *timeout = cJSON_GetObjectItemCaseSensitive (lead, "timeout_ms");
    if (cJSON_IsNumber (timeout))
        request.timeout_ms = (int) timeout->valuedouble + 10000;
    pp_fleet_batch_add (self, &request);
    free (body);
}

static void
s_item_start (pp_fleet_batch_t *self, s_item_t *item)
{
    item->reply = calloc (1, sizeof *item->reply);
    assert (item->reply);
    item->reply->body = s_strdup ("");
    item->reply->headers = s_strdup ("");
    CURL *easy = curl_easy_init ();
    assert (easy);
    curl_easy_setopt (easy, CURLOPT_URL, item->url);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, item->headers);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, item->reply);
    curl_easy_setopt (easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (easy, CURLOPT_HEADERDATA, item->reply);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, item->reply->error);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, item);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS,
                      (long) (item->request.timeout_ms > 0 ? item->request.timeout_ms : 30000));
    curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (item->body) {
        curl_easy_setopt (easy, CURLOPT_POSTFIELDS, item->body);
        curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) item->body_size);
    }
    if (strcmp (item->method, "POST") != 0 || !item->body) {
        if (strcmp (item->method, "GET") == 0 && !item->body)
            curl_easy_setopt (easy, CURLOPT_HTTPGET, 1L);
        else
            curl_easy_setopt (easy, CURLOPT_CUSTOMREQUEST, item->method);
    }
    item->easy = easy;
    item->reply->sent_us = pp_fleet_now_us ();
    CURLMcode rc = curl_multi_add_handle (self->multi, easy);
    assert (rc == CURLM_OK);
    self->running++;
}

static void
s_item_finish (pp_fleet_batch_t *self, s_item_t *item, CURLcode result)
{
    pp_fleet_reply_t *reply = item->reply;
    reply->elapsed_us = pp_fleet_now_us () - reply->sent_us;
    if (result == CURLE_OK)
        curl_easy_getinfo (item->easy, CURLINFO_RESPONSE_CODE, &reply->status);
    else {
        reply->status = 0;
        if (!reply->error [0])
            snprintf (reply->error, sizeof reply->error, "%s", curl_easy_strerror (result));
    }
    reply->json = cJSON_ParseWithLength (reply->body, reply->body_size);
    curl_multi_remove_handle (self->multi, item->easy);
    curl_easy_cleanup (item->easy);
    item->easy = NULL;
    item->done = true;
    self->running--;
    self->done++;
}

size_t
pp_fleet_batch_run (pp_fleet_batch_t *self, int timeout_ms)
{
    assert (self);
    int64_t deadline = pp_fleet_now_us () + (int64_t) timeout_ms * 1000;
    while (self->done < self->size) {
        while (self->running < (size_t) self->concurrency && self->next < self->size)
            s_item_start (self, self->items [self->next++]);
        int still = 0;
        curl_multi_perform (self->multi, &still);
        CURLMsg *msg;
        int queued;
        while ((msg = curl_multi_info_read (self->multi, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *private = NULL;
            curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, &private);
            s_item_t *item = (s_item_t *) private;
            assert (item);
            s_item_finish (self, item, msg->data.result);
        }
        if (self->done == self->size)
            break;
        if (self->running < (size_t) self->concurrency && self->next < self->size)
            continue;
        int64_t left = (deadline - pp_fleet_now_us ()) / 1000;
        if (left <= 0)
            break;
        curl_multi_poll (self->multi, NULL, 0, (int) (left < 20 ? left : 20), NULL);
    }
    return self->size - self->done;
}

size_t
pp_fleet_batch_size (pp_fleet_batch_t *self)
{
    assert (self);
    return self->size;
}

pp_fleet_reply_t *
pp_fleet_batch_reply (pp_fleet_batch_t *self, size_t index)
{
    assert (self);
    if (index >= self->size || !self->items [index]->done)
        return NULL;
    return self->items [index]->reply;
}

//  Run one request already added as the batch's only item; take its reply.
static pp_fleet_reply_t *
s_batch_take_one (pp_fleet_batch_t *batch)
{
    int timeout = batch->items [0]->request.timeout_ms;
    pp_fleet_batch_run (batch, (timeout > 0 ? timeout : 30000) + 5000);
    pp_fleet_reply_t *reply = batch->items [0]->reply;
    if (!batch->items [0]->done) {
        curl_multi_remove_handle (batch->multi, batch->items [0]->easy);
        snprintf (reply->error, sizeof reply->error, "no answer");
        reply->status = 0;
    }
    batch->items [0]->reply = NULL;
    return reply;
}

pp_fleet_reply_t *
pp_fleet_request (pp_fleet_t *self, const pp_fleet_request_t *request)
{
    pp_fleet_batch_t *batch = pp_fleet_batch_new (self, 1);
    pp_fleet_batch_add (batch, request);
    pp_fleet_reply_t *reply = s_batch_take_one (batch);
    pp_fleet_batch_destroy (&batch);
    return reply;
}

static pp_fleet_reply_t *
s_get_url (pp_fleet_t *self, const char *url)
{
    pp_fleet_batch_t *batch = pp_fleet_batch_new (self, 1);
    pp_fleet_request_t request = {"GET", "", NULL, NULL, NULL, 0, 10000};
    s_batch_add_url (batch, url, &request);
    pp_fleet_reply_t *reply = s_batch_take_one (batch);
    pp_fleet_batch_destroy (&batch);
    return reply;
}

static pp_fleet_reply_t *
s_post_url (pp_fleet_t *self, const char *url)
{
    pp_fleet_batch_t *batch = pp_fleet_batch_new (self, 1);
    pp_fleet_request_t request = {"POST", "", NULL, NULL, NULL, 0, 10000};
    s_batch_add_url (batch, url, &request);
    pp_fleet_reply_t *reply = s_batch_take_one (batch);
    pp_fleet_batch_destroy (&batch);
    return reply;
}

pp_fleet_reply_t *
pp_fleet_post (pp_fleet_t *self, const char *api_key, const char *body)
{
    pp_fleet_request_t request = {"POST", "/v1/leads", api_key, "application/json", body, 0, 0};
    return pp_fleet_request (self, &request);
}

pp_fleet_reply_t *
pp_fleet_post_lead (pp_fleet_t *self, const char *api_key, const cJSON *lead)
{
    char *body = cJSON_PrintUnformatted (lead);
    assert (body);
    pp_fleet_reply_t *reply = pp_fleet_post (self, api_key, body);
    free (body);
    return reply;
}

pp_fleet_reply_t *
pp_fleet_post_lead_with_header (pp_fleet_t *self, const char *api_key, const cJSON *lead,
                                const char *header)
{
    pp_fleet_batch_t *batch = pp_fleet_batch_new (self, 1);
    pp_fleet_batch_add_lead (batch, api_key, lead);
    if (header)
        pp_fleet_batch_add_header (batch, header);
    pp_fleet_reply_t *reply = s_batch_take_one (batch);
    pp_fleet_batch_destroy (&batch);
    return reply;
}

pp_fleet_reply_t *
pp_fleet_get (pp_fleet_t *self, const char *path)
{
    pp_fleet_request_t request = {"GET", path, NULL, NULL, NULL, 0, 10000};
    return pp_fleet_request (self, &request);
}

void
pp_fleet_reply_destroy (pp_fleet_reply_t **self_p)
{
    assert (self_p);
    pp_fleet_reply_t *self = *self_p;
    if (!self)
        return;
    cJSON_Delete (self->json);
    free (self->body);
    free (self->headers);
    free (self);
    *self_p = NULL;
}

const char *
pp_fleet_reply_status (const pp_fleet_reply_t *self)
{
    const char *status = self ? cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (
                                    self->json, "status"))
                              : NULL;
    return status ? status : "";
}

const char *
pp_fleet_reply_lead_id (const pp_fleet_reply_t *self)
{
    const char *id = self ? cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (
                                self->json, "lead_id"))
                          : NULL;
    return id ? id : "";
}

int64_t
pp_fleet_reply_price_cents (const pp_fleet_reply_t *self)
{
    cJSON *price = self ? cJSON_GetObjectItemCaseSensitive (self->json, "price") : NULL;
    if (!cJSON_IsNumber (price))
        return -1;
    return (int64_t) llround (price->valuedouble * 100.0);
}

bool
pp_fleet_reply_has_reason (const pp_fleet_reply_t *self, const char *code, const char *field)
{
    cJSON *reasons = self ? cJSON_GetObjectItemCaseSensitive (self->json, "reasons") : NULL;
    cJSON *reason;
    cJSON_ArrayForEach (reason, reasons) {
        const char *c = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (reason, "code"));
        const char *f = cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (reason,
                                                                               "field"));
        if (code && (!c || strcmp (c, code) != 0))
            continue;
        if (field && (!f || strcmp (f, field) != 0))
            continue;
        return true;
    }
    return false;
}

bool
pp_fleet_reply_has_header (const pp_fleet_reply_t *self, const char *name, const char *value)
{
    assert (self && name && value);
    size_t name_len = strlen (name);
    const char *line = self->headers;
    while (line && *line) {
        const char *end = strstr (line, "\r\n");
        size_t len = end ? (size_t) (end - line) : strlen (line);
        if (len > name_len && strncasecmp (line, name, name_len) == 0 && line [name_len] == ':') {
            const char *v = line + name_len + 1;
            while (*v == ' ')
                v++;
            size_t v_len = len - (size_t) (v - line);
            while (v_len > 0 && (v [v_len - 1] == ' ' || v [v_len - 1] == '\t'))
                v_len--;
            if (v_len == strlen (value) && strncmp (v, value, v_len) == 0)
                return true;
        }
        line = end ? end + 2 : NULL;
    }
    return false;
}

bool
pp_fleet_reply_is_error_body (const pp_fleet_reply_t *self)
{
    cJSON *error = self ? cJSON_GetObjectItemCaseSensitive (self->json, "error") : NULL;
    return cJSON_IsObject (error)
        && cJSON_IsString (cJSON_GetObjectItemCaseSensitive (error, "code"))
        && cJSON_IsString (cJSON_GetObjectItemCaseSensitive (error, "message"))
        && *cJSON_GetObjectItemCaseSensitive (error, "code")->valuestring;
}

bool
pp_fleet_reply_is (const pp_fleet_reply_t *self, const char *label, long http,
                   const char *status)
{
    assert (self);
    bool match = self->status == http
              && (!status || strcmp (pp_fleet_reply_status (self), status) == 0);
    if (!match) {
        printf ("expected HTTP %ld%s%s, got:\n", http, status ? " status " : "",
                status ? status : "");
        pp_fleet_reply_print (self, label);
    }
    return match;
}

void
pp_fleet_reply_print (const pp_fleet_reply_t *self, const char *label)
{
    assert (self);
    printf ("  %s: HTTP %ld after %.1f ms%s%s, body (%zu bytes): %.1000s\n", label ? label : "",
            self->status, (double) self->elapsed_us / 1000.0, self->error [0] ? ", error: " : "",
            self->error, self->body_size, self->body);
}

//  ---------------------------------------------------------------------------
//  SQL

static PGconn *
s_db (pp_fleet_t *self)
{
    if (self->db && PQstatus (self->db) == CONNECTION_OK)
        return self->db;
    if (self->db) {
        PQreset (self->db);
        if (PQstatus (self->db) == CONNECTION_OK)
            return self->db;
        PQfinish (self->db);
    }
    self->db = PQconnectdb (self->conninfo ? self->conninfo : "");
    if (PQstatus (self->db) != CONNECTION_OK) {
        printf ("pp_fleet: cannot connect to '%s': %s", self->conninfo ? self->conninfo : "",
                PQerrorMessage (self->db));
        PQfinish (self->db);
        self->db = NULL;
    }
    return self->db;
}

static char *
s_sql_v (pp_fleet_t *self, bool quiet, const char *query, va_list args)
{
    const char *params [PP_FLEET_MAX_PARAMS];
    int count = 0;
    const char *param;
    while ((param = va_arg (args, const char *)) && count < PP_FLEET_MAX_PARAMS)
        params [count++] = param;
    PGconn *db = s_db (self);
    if (!db)
        return NULL;
    PGresult *result = PQexecParams (db, query, count, NULL, params, NULL, NULL, 0);
    char *value = NULL;
    if (PQresultStatus (result) == PGRES_TUPLES_OK) {
        if (PQntuples (result) > 0 && PQnfields (result) > 0)
            value = s_strdup (PQgetisnull (result, 0, 0) ? "" : PQgetvalue (result, 0, 0));
    }
    else if (!quiet)
        printf ("pp_fleet: query failed: %s\n  %s", query, PQresultErrorMessage (result));
    PQclear (result);
    return value;
}

char *
pp_fleet_sql (pp_fleet_t *self, const char *query, ...)
{
    assert (self);
    va_list args;
    va_start (args, query);
    char *value = s_sql_v (self, false, query, args);
    va_end (args);
    return value;
}

int64_t
pp_fleet_sql_int (pp_fleet_t *self, const char *query, ...)
{
    assert (self);
    va_list args;
    va_start (args, query);
    char *value = s_sql_v (self, false, query, args);
    va_end (args);
    int64_t number = -1;
    if (value && *value)
        number = strtoll (value, NULL, 10);
    free (value);
    return number;
}

int
pp_fleet_sql_wait (pp_fleet_t *self, const char *expected, int timeout_ms, const char *query,
                   ...)
{
    assert (self);
    int64_t deadline = pp_fleet_now_us () + (int64_t) timeout_ms * 1000;
    char *value = NULL;
    while (true) {
        free (value);
        va_list args;
        va_start (args, query);
        value = s_sql_v (self, true, query, args);
        va_end (args);
        if (value && strcmp (value, expected) == 0)
            break;
        if (pp_fleet_now_us () >= deadline) {
            printf ("pp_fleet: after %d ms, query gives '%s', want '%s':\n  %s\n", timeout_ms,
                    value ? value : "(no value or error)", expected, query);
            if (!value) {
                //  Run it once more loudly, to show the error.
                va_list again;
                va_start (again, query);
                free (s_sql_v (self, false, query, again));
                va_end (again);
            }
            free (value);
            return -1;
        }
        pp_fleet_sleep_ms (50);
    }
    free (value);
    return 0;
}

int
pp_fleet_wait_answered (pp_fleet_t *self, const char *lead_id, int timeout_ms)
{
    return pp_fleet_sql_wait (self, "1", timeout_ms,
                              "select count(*) from events where lead_id = $1"
                              "  and kind = 'answered'",
                              lead_id, NULL);
}

int
pp_fleet_wait_lead (pp_fleet_t *self, const char *lead_id, const char *auction_events,
                    const char *sales, const char *row)
{
    assert (self);
    if (pp_fleet_wait_answered (self, lead_id, 10000))
        return -1;
    if (auction_events
    &&  pp_fleet_sql_wait (self, auction_events, 3000, PP_FLEET_SQL_AUCTION_EVENTS, lead_id,
                           NULL))
        return -1;
    if (sales && pp_fleet_sql_wait (self, sales, 3000, PP_FLEET_SQL_SALES, lead_id, NULL))
        return -1;
    if (row && pp_fleet_sql_wait (self, row, 3000, PP_FLEET_SQL_LEAD_ROW, lead_id, NULL))
        return -1;
    return 0;
}

//  ---------------------------------------------------------------------------
//  CLI

char *
pp_fleet_cli (pp_fleet_t *self, int *exit_code, ...)
{
    assert (self);
    const char *argv [PP_FLEET_MAX_ARGS];
    size_t argc = 0;
    char *bin = s_printf ("%s/pingpost", self->bin_dir);
    argv [argc++] = bin;
    argv [argc++] = "-c";
    argv [argc++] = self->config;
    va_list args;
    va_start (args, exit_code);
    const char *arg;
    while ((arg = va_arg (args, const char *)) && argc < PP_FLEET_MAX_ARGS - 1)
        argv [argc++] = arg;
    va_end (args);
    argv [argc] = NULL;

    size_t size = 0, limit = 4096;
    char *out = malloc (limit);
    assert (out);
    out [0] = 0;
    if (exit_code)
        *exit_code = -1;
    int pipe_fds [2];
    if (pipe (pipe_fds) != 0) {
        free (bin);
        return out;
    }
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    if (pid == 0) {
        dup2 (pipe_fds [1], 1);
        s_close_fds_from (3);
        unsetenv ("PINGPOST_VAR_DIR");
        unsetenv ("PINGPOST_DATABASE_URL");
        unsetenv ("PINGPOST_HTTP_PORT");
        execv (argv [0], (char *const *) argv);
        fprintf (stderr, "pp_fleet: exec %s: %s\n", argv [0], strerror (errno));
        _exit (127);
    }
    close (pipe_fds [1]);
    if (pid > 0) {
        ssize_t got;
        while ((got = read (pipe_fds [0], out + size, limit - size - 1)) != 0) {
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            size += (size_t) got;
            if (limit - size - 1 == 0) {
                limit *= 2;
                out = realloc (out, limit);
                assert (out);
            }
        }
        out [size] = 0;
        int status = 0;
        while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (exit_code)
            *exit_code = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    }
    close (pipe_fds [0]);
    free (bin);
    return out;
}
