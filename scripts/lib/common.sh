# common.sh: shell functions shared by multihost.sh and deploy.sh. Sourced, not run:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# The script sets NAME (its own name, for messages) and ROOT (the project); the run helpers
# also read KEEP_LOGS and READY_TIMEOUT.
# shellcheck shell=bash

# die MESSAGE: prints "NAME: MESSAGE" on stderr, exits 1.
die() {
  echo "$NAME: $*" >&2
  exit 1
}

# usage_error MESSAGE: a bad command line; exits 2.
usage_error() {
  echo "$NAME: error: $*" >&2
  echo "Try '$NAME --help'." >&2
  exit 2
}

# need_value OPTION ARGS...: a usage error unless OPTION is followed by a non-empty value.
need_value() { [[ $# -ge 2 && -n "$2" ]] || usage_error "$1 needs a value"; }

# node_flags FILE: the node flags FILE's #! line names (#!/usr/bin/env -S node FLAGS), the one
# place they are written; launchers start a program as "$NODE" $(node_flags FILE) FILE ARGS.
node_flags() { sed -n '1s|^#!/usr/bin/env -S node ||p' "$1"; }

# require_built PROGRAM...: dies unless each dist/PROGRAM has been built.
require_built() {
  local program
  for program in "$@"; do
    [[ -f "$ROOT/dist/$program" ]] || die "dist/$program is missing: build first with 'npx tsc -p .'"
  done
}

# to_ms TIME: "2s", "1.5s", "1500ms", "2" (seconds) -> milliseconds; fails on anything else.
to_ms() {
  local value="$1"
  if [[ "$value" =~ ^([0-9]+)(\.([0-9]{1,3}))?(s)?$ ]]; then
    local frac="${BASH_REMATCH[3]}000"
    echo $((10#${BASH_REMATCH[1]} * 1000 + 10#${frac:0:3}))
  elif [[ "$value" =~ ^([0-9]+)ms$ ]]; then
    echo $((10#${BASH_REMATCH[1]}))
  else
    return 1
  fi
}

# ms_to_seconds MS: 2500 -> "2.5"
ms_to_seconds() {
  printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# make_run_dir KIND: sets RUN to --keep-logs' directory (made if need be), else to a new temp dir.
make_run_dir() {
  if [[ -n "$KEEP_LOGS" ]]; then
    mkdir -p "$KEEP_LOGS"
    RUN="$(cd "$KEEP_LOGS" && pwd)"
  else
    RUN="$(mktemp -d "${TMPDIR:-/tmp}/policy-broker-$1.XXXXXX")"
  fi
}

# Everything started, in start order; stopped in reverse order on the way out.
PIDS=()
CLEANUP_GRACE=5
CLEANUP_HOOK=""

# stop_on_exit GRACE [HOOK]: on exit, Ctrl-C (130) or SIGTERM (143), sends SIGTERM to every pid
# in PIDS (last started first), SIGKILLs what still runs after GRACE seconds, runs HOOK, removes
# RUN unless KEEP_LOGS, and keeps the exit code.
stop_on_exit() {
  CLEANUP_GRACE="$1"
  CLEANUP_HOOK="${2:-}"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local i pid deadline=$((SECONDS + CLEANUP_GRACE))
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -z "$CLEANUP_HOOK" ]] || "$CLEANUP_HOOK"
  [[ -n "$KEEP_LOGS" ]] || rm -rf "$RUN"
  exit "$rc"
}

# poll_line PID PATTERN FILE: polls FILE for PATTERN (grep) every 50 ms. Returns 0 once it is
# there, 1 when PID has exited without it, 2 when READY_TIMEOUT seconds have passed.
poll_line() {
  local pid="$1" pattern="$2" file="$3" deadline=$((SECONDS + READY_TIMEOUT))
  until grep -q "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 2
    sleep 0.05
  done
}
