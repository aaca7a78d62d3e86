# bench/lib.sh — the private stack a bench driver runs on; sourced by the
# drivers in bench/ (bench/triggers, bench/calls), never run.
#
# A driver sets `prog` (bench/NAME), sources this file and then:
#
#   bench_option "$@"            inside its option loop: takes --build DIR,
#                                --keep and --help; sets bench_shift to the
#                                words it used (0: not one of these)
#   bench_build TARGET...        resolves the build folder (`build`), checks
#                                it and builds only these ninja targets;
#                                with STEWARD_BENCH_NO_BUILD=1 (tools/bench
#                                inside the test suite) only checks that
#                                they exist
#   bench_begin                  cleans the environment (PG*,
#                                STEWARD_DATABASE and the session bus must
#                                not leak in), makes the run's folder `tmp`
#                                (/tmp/st-bench-XXXXXX: short, for the Unix
#                                sockets) and sets the traps that stop the
#                                daemon, the bus and the cluster however the
#                                driver ends, and remove the folder unless
#                                --keep or a failure (then it says where)
#   bench_start_postgres [LINE...]
#                                a throwaway cluster (tools/pg init --fast)
#                                with these postgresql.conf lines added;
#                                sets conninfo and pg_pid
#   bench_start_bus              a private session bus; sets bus_pid and
#                                exports DBUS_SESSION_BUS_ADDRESS
#   bench_start_daemon CONFIG    the built stewardd with CONFIG (written in
#                                $tmp by the driver); sets daemon_pid
#   bench_daemon_alive           false (with a note) if stewardd died
#   bench_pg_program NAME        the path of a PostgreSQL client program
#                                (pgbench), found as tools/pg finds the
#                                server's
#
# `root` is the repository.

# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are the drivers' to use
# shellcheck disable=SC2154 # prog is the driver's

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$prog" "$*" >&2; }
# The driver's header comment from its second line: the title paragraph,
# then the synopsis and the options (indented), up to the first paragraph
# of prose.
usage() {
  awk 'NR == 1 { next }
       !/^#/ || (title_done && /^# [^ ]/) { exit }
       /^#$/ { title_done = 1 }
       { sub(/^# ?/, ""); print }' "$0" >&2
  exit 2
}

build=${STEWARD_BUILD_DIR:-build}
keep=no
bench_shift=0

bench_option() {
  bench_shift=0
  case "$1" in
    --build) [ $# -ge 2 ] || usage; build=$2; bench_shift=2 ;;
    --build=*) build=${1#--build=}; bench_shift=1 ;;
    --keep) keep=yes; bench_shift=1 ;;
    -h | --help) usage ;;
  esac
}

bench_build() {
  local target
  case "$build" in /*) ;; *) build=$root/$build ;; esac
  [ -f "$build/build.ninja" ] ||
    die "no build in $build; build first: meson setup $build && ninja -C $build"
  if [ "${STEWARD_BENCH_NO_BUILD:-}" = 1 ]; then
    # Inside meson test: a ninja run here could reconfigure the build
    # under the other tests' feet.
    for target in "$@"; do
      [ -e "$build/$target" ] || die "$build/$target is not built"
    done
    return
  fi
  # Only what the benchmark runs, so a half-edited test elsewhere does not
  # stop it.
  ninja -C "$build" "$@" >&2 || die "the build failed"
}

bench_pg_program() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [ -x "$d/$1" ]; then
    printf '%s\n' "$d/$1"
  else
    command -v "$1" 2>/dev/null ||
      die "no $1 found (neither in /usr/lib/postgresql/*/bin nor on PATH); run tools/deps"
  fi
}

tmp=""
daemon_pid=""
bus_pid=""
pg_pid=""
conninfo=""
pg_started=no

bench_begin() {
  local v
  # Our own clients name everything explicitly: a developer's PG*
  # variables and session bus must not leak into the run.
  while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' || true)
  unset STEWARD_DATABASE DBUS_SESSION_BUS_ADDRESS

  # Short path: the cluster's and the bus's Unix sockets live in it.
  tmp=$(mktemp -d /tmp/st-bench-XXXXXX)
  # As root the server runs as postgres, which must be able to enter it.
  chmod 711 "$tmp"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# shellcheck disable=SC2317 # called by the EXIT trap
bench_cleanup() {
  local rc=$?
  trap '' INT TERM
  set +e
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$daemon_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$daemon_pid" 2>/dev/null && kill -KILL "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null
  fi
  if [ "$rc" -ne 0 ] && [ -s "$tmp/stewardd.log" ]; then
    note "last lines of stewardd's log ($tmp/stewardd.log):"
    tail -n 20 "$tmp/stewardd.log" >&2
  fi
  if [ -n "$bus_pid" ]; then
    kill -TERM "$bus_pid" 2>/dev/null
    wait "$bus_pid" 2>/dev/null
  fi
  if [ "$pg_started" = yes ]; then
    "$root/tools/pg" stop "$tmp/pg" >/dev/null 2>&1
  fi
  if [ "$keep" = yes ] || [ "$rc" -ne 0 ]; then
    note "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}

bench_start_postgres() {
  "$root/tools/pg" init "$tmp/pg" --fast >/dev/null
  if [ $# -gt 0 ]; then
    printf '%s\n' "$@" >>"$tmp/pg/data/postgresql.conf"
  fi
  pg_started=yes
  conninfo=$("$root/tools/pg" start "$tmp/pg")
  pg_pid=$(head -n 1 "$tmp/pg/data/postmaster.pid")
}

bench_start_bus() {
  export DBUS_SESSION_BUS_ADDRESS="unix:path=$tmp/bus"
  dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork \
    --nopidfile >"$tmp/bus.log" 2>&1 &
  bus_pid=$!
  for ((i = 0; i < 100; i++)); do
    [ -S "$tmp/bus" ] && break
    kill -0 "$bus_pid" 2>/dev/null || die "dbus-daemon exited: $(cat "$tmp/bus.log")"
    sleep 0.05
  done
  [ -S "$tmp/bus" ] || die "the private bus did not come up"
}

bench_start_daemon() {
  STEWARD_DATABASE=$conninfo "$build/core/stewardd" --config "$1" \
    >/dev/null 2>"$tmp/stewardd.log" &
  daemon_pid=$!
  note "stewardd pid $daemon_pid, cluster and bus in $tmp"
}

bench_daemon_alive() {
  kill -0 "$daemon_pid" 2>/dev/null && return 0
  note "stewardd died during the run"
  return 1
}
