#  lib.sh - shared bash functions of the operator scripts (up, down, test, psql)
#  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.
#
#  Source it after `set -euo pipefail`:
#      source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#  It sets PP_ROOT (the repository root, absolute) and cds there, so every
#  script works from any cwd. Functions are prefixed pp_; they die (exit 1)
#  with a message naming the script on any failure they cannot handle.

PP_CALLER_PWD="$PWD"
PP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$PP_ROOT" || exit 1
PP_SCRIPT="$(basename "${0:-pingpost}")"

#  Stages in start order (downstream first, so every PUSH finds its peer).
PP_START_ORDER=(ledger deliver auction filter validate intake)
#  And in stop order (the gateway first, the ledger last).
PP_STOP_ORDER=(intake validate filter auction deliver ledger)

#  Slots declared per stage in the config unless PINGPOST_INSTANCES asks more.
declare -A PP_SLOTS_DEFAULT=([intake]=4 [validate]=8 [filter]=8 [auction]=8 [deliver]=8 [ledger]=2)

#  ---------------------------------------------------------------------------
#  Messages

pp_say () { printf '%s: %s\n' "$PP_SCRIPT" "$*"; }
pp_warn () { printf '%s: warning: %s\n' "$PP_SCRIPT" "$*" >&2; }
pp_die () { printf '%s: error: %s\n' "$PP_SCRIPT" "$*" >&2; exit 1; }

#  ---------------------------------------------------------------------------
#  Paths

#  pp_abspath PATH [BASE]: PATH made absolute against BASE (default: the repo
#  root), without resolving symlinks or requiring it to exist. Prints it.
pp_abspath () {
    local p="$1" base="${2:-$PP_ROOT}"
    [[ -n "$p" ]] || pp_die "empty path"
    [[ "$p" == /* ]] || p="$base/$p"
    #  Normalise "/./", "//" and a trailing "/" (".." is kept as is: harmless).
    p="$(printf '%s' "$p" | sed -e 's#/\./#/#g' -e 's#/\.$##' -e 's#//*#/#g' -e 's#\(.\)/$#\1#')"
    printf '%s\n' "$p"
}

#  pp_var_dir: the var dir, absolute: PINGPOST_VAR_DIR (relative to the
#  caller's cwd) or <repo>/var. Rejects paths that the config file or pg_ctl's
#  option string cannot carry.
pp_var_dir () {
    local v
    if [[ -n "${PINGPOST_VAR_DIR:-}" ]]; then
        v="$(pp_abspath "$PINGPOST_VAR_DIR" "$PP_CALLER_PWD")"
    else
        v="$(pp_abspath var)"
    fi
    [[ "$v" != *[[:space:]\'\"\\]* ]] || pp_die "var dir '$v' must not contain spaces, quotes or backslashes"
    printf '%s\n' "$v"
}

#  pp_build_dir: the build dir, absolute: PINGPOST_BUILD_DIR (relative to the
#  caller's cwd) or <repo>/build.
pp_build_dir () {
    if [[ -n "${PINGPOST_BUILD_DIR:-}" ]]; then
        pp_abspath "$PINGPOST_BUILD_DIR" "$PP_CALLER_PWD"
    else
        pp_abspath build
    fi
}

pp_is_root () { [[ "$(id -u)" -eq 0 ]]; }

#  ---------------------------------------------------------------------------
#  Build

#  pp_build BUILD_DIR: configure (only when there is no CMakeCache.txt yet) and
#  build. A lock serialises concurrent callers (parallel integration tests all
#  run scripts/up on one build dir).
pp_build () {
    local build="$1"
    mkdir -p "$build"
    (
        flock -w 1800 9 || pp_die "timed out waiting for the build lock $build/.pp-build.lock"
        if [[ ! -f "$build/CMakeCache.txt" ]]; then
            pp_say "configuring $build"
            cmake -S "$PP_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
                || pp_die "cmake configure of $build failed"
            pp_say "building $build (log: $build/.pp-build.log)"
        fi
        cmake --build "$build" -j"$(nproc)" >"$build/.pp-build.log" 2>&1 || {
            tail -n 60 "$build/.pp-build.log" >&2
            pp_die "build failed (full log: $build/.pp-build.log)"
        }
    ) 9>"$build/.pp-build.lock"
}

#  ---------------------------------------------------------------------------
#  Embedded PostgreSQL
#
#  Layout under a var dir VAR: VAR/pg/data (cluster), VAR/pg/sock (its unix
#  socket, the only way in), VAR/pg/log (server log). PostgreSQL refuses to
#  run as root, so as root initdb and pg_ctl run as the postgres user and
#  VAR/pg belongs to it. When postgres cannot reach VAR/pg (VAR under /root)
#  or the socket path would pass the 107-byte unix limit, the cluster lives in
#  /var/tmp/pingpost-pg-<sha1(VAR), 12 hex> and VAR/pg is a symlink to it.

#  pp_pg_bindir [DATA_DIR]: PostgreSQL's bin dir, matching the cluster's
#  PG_VERSION when DATA_DIR holds one, the newest installed otherwise.
pp_pg_bindir () {
    local data="${1:-}" v d
    if [[ -n "$data" && -f "$data/PG_VERSION" ]]; then
        v="$(cat "$data/PG_VERSION")"
        if [[ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]]; then
            printf '%s\n' "/usr/lib/postgresql/$v/bin"
            return 0
        fi
    fi
    d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    [[ -n "$d" && -x "$d/pg_ctl" ]] \
        || pp_die "no PostgreSQL server found in /usr/lib/postgresql/*/bin (run scripts/install-deps)"
    printf '%s\n' "$d"
}

#  pp_pg_run CMD...: run a PostgreSQL server program as the cluster's owner
#  (postgres when we are root, ourselves otherwise), from / so that a cwd the
#  postgres user cannot read does not matter.
pp_pg_run () {
    if pp_is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

#  pp_pg_dir VAR: the real directory of VAR's cluster (VAR/pg or its symlink
#  target), as postgres must be given it. Prints it; does not create anything.
pp_pg_dir () {
    local pg="$1/pg"
    if [[ -L "$pg" ]]; then
        readlink "$pg"
    else
        printf '%s\n' "$pg"
    fi
}

#  pp_pg_sock_dir VAR: the socket dir clients should use: VAR/pg/sock, or the
#  real path when VAR/pg/sock is too long for a unix socket address.
pp_pg_sock_dir () {
    local sock="$1/pg/sock"
    if (( ${#sock} + 15 > 107 )); then
        sock="$(pp_pg_dir "$1")/sock"
    fi
    printf '%s\n' "$sock"
}

#  pp_pg_url VAR: the libpq conninfo of VAR's embedded cluster.
pp_pg_url () {
    printf 'host=%s dbname=pingpost user=pingpost\n' "$(pp_pg_sock_dir "$1")"
}

#  s_pg_discard DIR: remove a relocated cluster dir left by an earlier var
#  dir of the same path (the var dir is new, so its cluster must be too),
#  stopping its server first if it still runs.
s_pg_discard () {
    local dir="$1"
    [[ -d "$dir" ]] || return 0
    if [[ -f "$dir/data/PG_VERSION" ]]; then
        pp_warn "discarding the cluster of an earlier $dir"
        pp_pg_run "$(pp_pg_bindir "$dir/data")/pg_ctl" -D "$dir/data" -m immediate -w stop \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

#  s_pg_prepare VAR: make VAR/pg (a dir or a symlink to /var/tmp) with sock/
#  inside, owned by the cluster owner and reachable by it.
s_pg_prepare () {
    local var="$1" pg="$1/pg" alt hash
    mkdir -p "$var"
    hash="$(printf '%s' "$var" | sha1sum | cut -c1-12)"
    alt="/var/tmp/pingpost-pg-$hash"
    if [[ -L "$pg" ]]; then
        mkdir -p "$(readlink "$pg")"
    elif [[ ! -d "$pg" ]]; then
        mkdir -p "$pg"
        local relocate=0
        if (( ${#pg} + 20 > 107 )); then
            relocate=1          #  VAR/pg/sock/.s.PGSQL.5432 too long for sun_path
        elif pp_is_root; then
            chown postgres:postgres "$pg"
            runuser -u postgres -- test -x "$pg" -a -w "$pg" || relocate=1
        fi
        if (( relocate )); then
            rmdir "$pg"
            s_pg_discard "$alt"
            mkdir -p "$alt"
            ln -s "$alt" "$pg"
        fi
    fi
    local real
    real="$(pp_pg_dir "$var")"
    mkdir -p "$real/sock"
    if pp_is_root && [[ "$(stat -c %U "$real")" != postgres || "$(stat -c %U "$real/sock")" != postgres ]]; then
        chown -R postgres:postgres "$real"
    fi
    if pp_is_root; then
        runuser -u postgres -- test -x "$real" -a -w "$real" \
            || pp_die "the postgres user cannot reach $real"
    fi
}

#  pp_pg_running VAR: true when VAR's cluster runs.
pp_pg_running () {
    local real
    real="$(pp_pg_dir "$1")"
    [[ -f "$real/data/PG_VERSION" ]] || return 1
    pp_pg_run "$(pp_pg_bindir "$real/data")/pg_ctl" -D "$real/data" status >/dev/null 2>&1
}

#  pp_pg_up VAR: initdb (once), start VAR's private cluster unless it runs,
#  and create database pingpost if absent. Prints nothing on success except
#  what initdb/pg_ctl print to VAR/pg/log.
pp_pg_up () {
    local var="$1" real bin sock
    s_pg_prepare "$var"
    real="$(pp_pg_dir "$var")"
    if [[ ! -f "$real/data/PG_VERSION" ]]; then
        #  A half-made cluster (initdb interrupted) is ours to clear.
        rm -rf "$real/data"
        bin="$(pp_pg_bindir)"
        pp_pg_run "$bin/initdb" -D "$real/data" -U pingpost --auth=trust -E UTF8 --no-locale \
            >>"$real/initdb.log" 2>&1 || {
            tail -n 20 "$real/initdb.log" >&2
            pp_die "initdb of $real/data failed (log: $real/initdb.log)"
        }
        if pp_is_root; then
            chown postgres:postgres "$real/initdb.log"
        fi
    fi
    bin="$(pp_pg_bindir "$real/data")"
    if ! pp_pg_run "$bin/pg_ctl" -D "$real/data" status >/dev/null 2>&1; then
        #  postgres needs the socket dir by a path it can resolve: the real one.
        #  PINGPOST_PG_OPTIONS adds server options (e.g. to profile with
        #  "-c shared_preload_libraries=pg_stat_statements").
        pp_pg_run "$bin/pg_ctl" -D "$real/data" -l "$real/log" -w -t 60 \
            -o "-k '$real/sock' -c listen_addresses='' -c fsync=on ${PINGPOST_PG_OPTIONS:-}" \
            start >/dev/null || {
            tail -n 20 "$real/log" >&2
            pp_die "PostgreSQL did not start for $var (log: $real/log)"
        }
    fi
    sock="$(pp_pg_sock_dir "$var")"
    local found
    found="$("$bin/psql" -X -q -h "$sock" -U pingpost -d postgres -tAc \
        "select 1 from pg_database where datname = 'pingpost'")" \
        || pp_die "cannot connect to the cluster at $sock"
    if [[ "$found" != 1 ]]; then
        "$bin/psql" -X -q -h "$sock" -U pingpost -d postgres -c 'create database pingpost' >/dev/null \
            || pp_die "cannot create database pingpost in the cluster at $sock"
    fi
}

#  pp_pg_down VAR: fast-stop VAR's cluster if it has one and it runs.
pp_pg_down () {
    local var="$1" real bin
    [[ -e "$var/pg" ]] || return 0
    real="$(pp_pg_dir "$var")"
    [[ -f "$real/data/PG_VERSION" ]] || return 0
    bin="$(pp_pg_bindir "$real/data")"
    if pp_pg_run "$bin/pg_ctl" -D "$real/data" status >/dev/null 2>&1; then
        pp_pg_run "$bin/pg_ctl" -D "$real/data" -m fast -w -t 60 stop >/dev/null \
            || pp_die "could not stop PostgreSQL of $var (log: $real/log)"
    fi
}

#  ---------------------------------------------------------------------------
#  Fleet config

#  pp_instance_count SVC: how many instances of SVC to run, from
#  PINGPOST_INSTANCES ("validate=2,deliver=2"; a stage not named runs 1).
#  Dies on a malformed entry.
pp_instance_count () {
    local want="$1" spec="${PINGPOST_INSTANCES:-}" item svc count result=1
    spec="${spec//[[:space:]]/}"
    local -a items=()
    [[ -z "$spec" ]] || IFS=',' read -r -a items <<<"$spec"
    for item in "${items[@]+"${items[@]}"}"; do
        [[ -z "$item" ]] && continue
        svc="${item%%=*}"
        count="${item#*=}"
        if [[ "$item" != *=* || -z "${PP_SLOTS_DEFAULT[$svc]+x}" ]]; then
            pp_die "PINGPOST_INSTANCES: bad entry '$item' (want stage=count, stage one of ${PP_START_ORDER[*]})"
        fi
        if ! [[ "$count" =~ ^[0-9]+$ ]] || (( count < 1 || count > 64 )); then
            pp_die "PINGPOST_INSTANCES: bad count in '$item' (1..64)"
        fi
        if [[ "$svc" == "$want" ]]; then
            result="$count"
        fi
    done
    printf '%s\n' "$result"
}

#  pp_write_config VAR DATABASE_URL PORT: write VAR/etc/pingpost.cfg (ZPL).
#  Declares the default slot counts, or more where PINGPOST_INSTANCES runs more.
pp_write_config () {
    local var="$1" url="$2" port="$3" svc count declared tmp q='"'
    if [[ "$url" == *'"'* ]]; then
        q="'"
    fi
    [[ "$url" != *"$q"* ]] || pp_die "database URL contains both quote characters"
    mkdir -p "$var/etc"
    tmp="$var/etc/pingpost.cfg.tmp.$$"
    {
        printf '#   pingpost fleet config, written by scripts/up (edits are overwritten)\n'
        printf 'pingpost\n'
        printf '    var_dir = "%s"\n' "$var"
        printf '    database_url = %s%s%s\n' "$q" "$url" "$q"
        printf '    http\n'
        printf '        port = %d\n' "$port"
        printf '    slots\n'
        for svc in intake validate filter auction deliver ledger; do
            count="$(pp_instance_count "$svc")"
            declared="${PP_SLOTS_DEFAULT[$svc]}"
            if (( count > declared )); then
                declared="$count"
            fi
            printf '        %s = %d\n' "$svc" "$declared"
        done
    } >"$tmp"
    mv -f "$tmp" "$var/etc/pingpost.cfg"
}

#  pp_config_url VAR: the database_url of VAR/etc/pingpost.cfg, if any.
pp_config_url () {
    local cfg="$1/etc/pingpost.cfg"
    [[ -f "$cfg" ]] || return 1
    sed -n -e "s/^[[:space:]]*database_url[[:space:]]*=[[:space:]]*[\"']\(.*\)[\"'][[:space:]]*$/\1/p" "$cfg" | head -n 1
}

#  ---------------------------------------------------------------------------
#  Processes

#  pp_pid_ours PID VAR: true when PID is alive and its command line names
#  VAR (every process we start for a var dir carries a path inside it), so a
#  recycled pid or another var dir's process is never taken for ours.
pp_pid_ours () {
    local pid="$1" var="$2" cmd
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
    [[ " $cmd" == *" $var/"* || " $cmd" == *"=$var/"* ]]
}

#  pp_svc_running VAR SVC SLOT: true when that instance's pid file names a
#  live process of VAR.
pp_svc_running () {
    local pidfile="$1/run/$2-$3.pid"
    [[ -f "$pidfile" ]] && pp_pid_ours "$(cat "$pidfile" 2>/dev/null || true)" "$1"
}

#  pp_port_busy PORT: true when something accepts TCP connections on
#  127.0.0.1:PORT.
pp_port_busy () {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

#  pp_svc_start VAR BUILD SVC SLOT: start one instance unless it runs.
#  Writes VAR/run/SVC-SLOT.pid and .cmd; logs to VAR/log/SVC-SLOT.log.
#  The PINGPOST_* overrides are cleared: the config file says everything.
pp_svc_start () {
    local var="$1" build="$2" svc="$3" slot="$4"
    local name="$svc-$slot" bin="$2/bin/pingpost-$3" pid
    local pidfile="$var/run/$name.pid"
    if pp_svc_running "$var" "$svc" "$slot"; then
        return 0
    fi
    rm -f "$pidfile"
    [[ -x "$bin" ]] || pp_die "$bin is missing (did the build make it?)"
    mkdir -p "$var/run" "$var/log"
    local -a cmd=("$bin" -c "$var/etc/pingpost.cfg" -s "$slot")
    local line
    line="$(printf '%q ' "${cmd[@]}")"
    printf '%s\n' "${line% }" >"$var/run/$name.cmd"
    printf '%s starting %s\n' "$(date -u +%FT%TZ)" "${cmd[*]}" >>"$var/log/$name.log"
    env -u PINGPOST_VAR_DIR -u PINGPOST_DATABASE_URL -u PINGPOST_HTTP_PORT \
        setsid nohup "${cmd[@]}" </dev/null >>"$var/log/$name.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$pidfile"
}

#  s_stage_pids VAR SVC: pids of running pingpost-SVC processes started with
#  -c VAR/etc/pingpost.cfg, found in /proc: catches an instance restarted by
#  hand (from its .cmd file) whose pid no pid file holds.
s_stage_pids () {
    local cfg="$1/etc/pingpost.cfg" want="pingpost-$2" dir arg has_bin has_cfg
    for dir in /proc/[0-9]*; do
        has_bin=0 has_cfg=0
        while IFS= read -r -d '' arg; do
            if [[ "$arg" == "$cfg" ]]; then
                has_cfg=1
            elif [[ "${arg##*/}" == "$want" ]]; then
                has_bin=1       #  argv[0], or the script of an interpreter
            fi
        done 2>/dev/null <"$dir/cmdline" || true
        if (( has_cfg && has_bin )); then
            printf '%s\n' "${dir#/proc/}"
        fi
    done
}

#  pp_pids_stop VAR PID...: SIGTERM these processes, those that are still
#  ours, wait up to 10 s, SIGKILL what is left.
pp_pids_stop () {
    local var="$1" pid
    shift
    local -a live=()
    for pid in "$@"; do
        if pp_pid_ours "$pid" "$var"; then
            kill -TERM "$pid" 2>/dev/null || true
            live+=("$pid")
        fi
    done
    local deadline=$((SECONDS + 10)) left
    while (( ${#live[@]} )); do
        left=()
        for pid in "${live[@]}"; do
            if pp_pid_ours "$pid" "$var"; then
                left+=("$pid")
            fi
        done
        live=("${left[@]+"${left[@]}"}")
        (( ${#live[@]} )) || break
        if (( SECONDS >= deadline )); then
            for pid in "${live[@]}"; do
                pp_warn "pid $pid did not stop within 10 s: SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            done
            break
        fi
        sleep 0.1
    done
}

#  s_pidfiles_stop VAR [SVC] PIDFILE...: stop the processes of these pid
#  files (plus, with SVC, that stage's hand-started instances of VAR) and
#  remove the files. A pid file naming someone else's process is dropped.
s_pidfiles_stop () {
    local var="$1" svc="$2" f pid
    shift 2
    local -a pids=()
    for f in "$@"; do
        pid="$(cat "$f" 2>/dev/null || true)"
        if pp_pid_ours "$pid" "$var"; then
            pids+=("$pid")
        elif [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
            pp_warn "pid $pid of $f is not a process of $var: left alone"
        fi
    done
    if [[ -n "$svc" ]]; then
        while read -r pid; do
            pids+=("$pid")
        done < <(s_stage_pids "$var" "$svc")
    fi
    pp_pids_stop "$var" "${pids[@]+"${pids[@]}"}"
    rm -f "$@"
}

#  pp_fleet_stop VAR: stop VAR's fleet stage by stage, intake first, ledger
#  last: each stage's pid files and hand-started instances; other pid files
#  in VAR/run (e.g. mock buyers) just before the ledger.
pp_fleet_stop () {
    local var="$1" svc f
    [[ -d "$var" ]] || return 0
    shopt -s nullglob
    local -a others=()
    for svc in "${PP_STOP_ORDER[@]}"; do
        if [[ "$svc" != ledger ]]; then
            s_pidfiles_stop "$var" "$svc" "$var/run/$svc"-*.pid
        fi
    done
    for f in "$var/run"/*.pid; do
        if [[ "$(basename "$f")" != ledger-*.pid ]]; then
            others+=("$f")
        fi
    done
    s_pidfiles_stop "$var" "" "${others[@]+"${others[@]}"}"
    s_pidfiles_stop "$var" ledger "$var/run"/ledger-*.pid
    shopt -u nullglob
}

#  pp_wait_http URL SECONDS: true once URL answers 200 within SECONDS.
pp_wait_http () {
    local url="$1" limit="$2" code
    local deadline=$((SECONDS + limit))
    while (( SECONDS < deadline )); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null || true)"
        [[ "$code" == 200 ]] && return 0
        sleep 0.2
    done
    return 1
}

#  pp_logs_tail VAR: the last lines of every log of VAR, to stderr.
pp_logs_tail () {
    local f
    shopt -s nullglob
    for f in "$1"/log/*.log; do
        printf '==> %s <==\n' "$f" >&2
        tail -n 30 "$f" >&2
    done
    shopt -u nullglob
}
