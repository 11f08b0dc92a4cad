#!/usr/bin/env bash
# multihost.sh: several hosts on one machine. Builds a small network with Linux network
# namespaces joined by veth links to a bridge (a broker host, two server hosts, a client host in
# a test subnet it creates), runs the programs across them, shows that the broker reaches each
# server at its own address and that the client host is served, then cuts one server host's link
# mid-load and shows failover. Traffic stays inside the namespaces it creates; it removes all of
# them on exit, Ctrl-C or SIGTERM. Needs root and iproute2, and a build (npx tsc -p .).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME="multihost.sh"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: sudo scripts/multihost.sh [options]

Hosts (network namespaces, one bridge, subnet 10.203.0.0/24):
  PREFIX-broker  10.203.0.1    policy-broker on 10.203.0.1:2100 with a registration secret
  PREFIX-srv1    10.203.0.11   servers 100 (policy 111) and 200 (policy 222)
  PREFIX-srv2    10.203.0.12   servers 300 (policy 111) and 400 (policy 222)
  PREFIX-client  10.203.0.100  policy-client, one load per policy
  PREFIX-lan     the switch: bridge br0 and the other end of every host's link

Phases: before (a short load: every server serves), during (a load of --load-seconds; the link
of srv1 goes down --cut-after into it), after (a short load: only srv2 serves). Exit code 0 when
the broker registered every server at its host's address, nothing was lost and the failover
happened; 1 otherwise; 2 on a bad option; 3 when namespaces cannot be made here (or 0 with
"SKIP: ..." under --allow-skip).

Options:
  --prefix NAME          name prefix of the namespaces (default pb)
  --load-seconds N       length of the load during which the link is cut (default 6)
  --cut-after T          when the link goes down, into that load (default 2s; 1500ms works)
  --json                 print the report as one JSON line, last
  --allow-skip           print "SKIP: reason" and exit 0 when namespaces are impossible
                         (also PB_MULTIHOST_ALLOW_SKIP=1)
  --keep-logs DIR        keep every program's output in DIR
  --ready-timeout N      seconds each step may take (default 20)
  -h, --help             this help
EOF
}

PREFIX="pb"
LOAD_SECONDS=6
CUT_AFTER="2s"
JSON=0
ALLOW_SKIP="${PB_MULTIHOST_ALLOW_SKIP:-0}"
KEEP_LOGS=""
READY_TIMEOUT=20
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
    --load-seconds) need_value "$@"; LOAD_SECONDS="$2"; shift 2 ;;
    --cut-after) need_value "$@"; CUT_AFTER="$2"; shift 2 ;;
    --json) JSON=1; shift ;;
    --allow-skip) ALLOW_SKIP=1; shift ;;
    --keep-logs) need_value "$@"; KEEP_LOGS="$2"; shift 2 ;;
    --ready-timeout) need_value "$@"; READY_TIMEOUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
[[ "$PREFIX" =~ ^[a-z][a-z0-9]{0,7}$ ]] || usage_error "--prefix: 1 to 8 lower-case letters and digits, starting with a letter"
[[ "$LOAD_SECONDS" =~ ^[0-9]+$ ]] && ((LOAD_SECONDS >= 2)) || usage_error "--load-seconds: a whole number of at least 2"
[[ "$READY_TIMEOUT" =~ ^[0-9]+$ ]] && ((READY_TIMEOUT >= 1)) || usage_error "--ready-timeout: a whole number of seconds"
CUT_AFTER_MS="$(to_ms "$CUT_AFTER")" || usage_error "--cut-after: expected a time like 2s or 1500ms, got '$CUT_AFTER'"
((CUT_AFTER_MS >= 200 && CUT_AFTER_MS <= LOAD_SECONDS * 1000 - 1000)) || usage_error "--cut-after: from 200ms to 1s before the end of --load-seconds"

# Namespaces impossible here: a clear SKIP (exit 0) when allowed, else an error (exit 3).
cannot() {
  if [[ "$ALLOW_SKIP" == 1 ]]; then
    echo "SKIP: $NAME: $*"
    exit 0
  fi
  echo "$NAME: $* (use --allow-skip to skip instead)" >&2
  exit 3
}

require_built broker/main.js server-pool/main.js client/main.js scripts/sim-report.js
NODE="$(command -v "${NODE:-node}")" || die "node not found"
[[ "$(id -u)" == 0 ]] || cannot "network namespaces need root (run with sudo)"
command -v ip >/dev/null || cannot "the ip command is missing (apt-get install -y iproute2)"
command -v flock >/dev/null || die "flock is missing (util-linux)"

SUBNET="10.203.0"
declare -A ADDRESS=([broker]="$SUBNET.1" [srv1]="$SUBNET.11" [srv2]="$SUBNET.12" [client]="$SUBNET.100")
HOSTS=(broker srv1 srv2 client)
LAN="$PREFIX-lan"
BROKER_PORT=2100
CUT_HOST="srv1"
# id policy host port
SERVERS=("100 111 srv1 7100" "200 222 srv1 7200" "300 111 srv2 7100" "400 222 srv2 7200")
POLICIES=(111 222)
ns() { echo "$PREFIX-$1"; }
all_namespaces() { echo "$LAN"; for host in "${HOSTS[@]}"; do ns "$host"; done; }

# One run at a time per prefix: the names are fixed, and stale ones are removed below.
LOCK="${TMPDIR:-/tmp}/policy-broker-multihost-$PREFIX.lock"
exec 9>"$LOCK"
flock -w 120 9 || die "another $NAME with prefix $PREFIX is still running (lock $LOCK)"

# remove_namespaces: ends what runs inside our namespaces and deletes them.
remove_namespaces() {
  local name pid
  for name in $(all_namespaces); do
    ip netns list 2>/dev/null | grep -q "^$name\( \|$\)" || continue
    for pid in $(ip netns pids "$name" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$name" 2>/dev/null || true
  done
}

make_run_dir multihost
# On the way out: what runs is stopped (3 s before SIGKILL), then the namespaces are removed.
stop_on_exit 3 remove_namespaces

remove_namespaces # stale ones from a run that could not clean up
if ! err="$(ip netns add "$LAN" 2>&1)"; then cannot "cannot create a network namespace: $err"; fi

# The network: a bridge in the switch namespace, one veth link per host.
ip -n "$LAN" link set lo up
ip -n "$LAN" link add br0 type bridge
ip -n "$LAN" link set br0 up
for host in "${HOSTS[@]}"; do
  ip netns add "$(ns "$host")"
  ip -n "$(ns "$host")" link set lo up
  ip link add eth0 netns "$(ns "$host")" type veth peer name "v-$host" netns "$LAN"
  ip -n "$LAN" link set "v-$host" master br0
  ip -n "$LAN" link set "v-$host" up
  ip -n "$(ns "$host")" addr add "${ADDRESS[$host]}/24" dev eth0
  ip -n "$(ns "$host")" link set eth0 up
done
echo "network   bridge br0 in netns $LAN, subnet $SUBNET.0/24"

# start HOST NAME ARGS...: runs a program inside HOST's namespace, output in $RUN/NAME.{out,log}.
LAST_PID=""
start() {
  local host="$1" name="$2"
  shift 2
  # shellcheck disable=SC2046 # the flags are words
  ip netns exec "$(ns "$host")" "$NODE" $(node_flags "$1") "$@" >"$RUN/$name.out" 2>"$RUN/$name.log" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# wait_for NAME PID PATTERN FILE: polls FILE for PATTERN while NAME runs, until the deadline.
wait_for() {
  local name="$1" pattern="$3" rc=0
  poll_line "$2" "$pattern" "$4" || rc=$?
  case $rc in
    1) die "$name exited early: $(tail -n 5 "$RUN/$name.log" 2>/dev/null)" ;;
    2) die "$name: no '$pattern' within ${READY_TIMEOUT}s: $(tail -n 3 "$RUN/$name.log" 2>/dev/null)" ;;
  esac
}

SECRET="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export POLICY_BROKER_LOG_FORMAT=json POLICY_SERVER_POOL_LOG_FORMAT=json POLICY_CLIENT_LOG_FORMAT=json
export POLICY_SERVER_POOL_LOG_LEVEL=info POLICY_CLIENT_LOG_LEVEL=warn

# The broker listens on its own host's address only and requires the secret (given by the
# environment, so it is not on a command line).
POLICY_BROKER_REGISTRATION_SECRET="$SECRET" start broker broker "$ROOT/dist/broker/main.js" \
  --host "${ADDRESS[broker]}" --port "$BROKER_PORT" --log-level info \
  --server-timeout 1000 --heartbeat 250 --heartbeat-misses 4
BROKER_PID=$LAST_PID
wait_for broker "$BROKER_PID" '"ready":true' "$RUN/broker.out"
BROKER="${ADDRESS[broker]}:$BROKER_PORT"
host_line() { printf 'host      %-12s %-13s %s\n' "$(ns "$1")" "${ADDRESS[$1]}" "$2"; }
host_line broker "broker on $BROKER, registration secret required"

POOLS=()
for server in "${SERVERS[@]}"; do
  read -r id policy host port <<<"$server"
  POLICY_SERVER_POOL_SECRET="$SECRET" start "$host" "pool-$id" "$ROOT/dist/server-pool/main.js" \
    --broker "$BROKER" --policy "$policy" --ids "$id" --listen-host "${ADDRESS[$host]}" --port "$port" --delay 5
  POOLS+=("$id:$LAST_PID")
done
for pool in "${POOLS[@]}"; do wait_for "pool-${pool%%:*}" "${pool##*:}" '"ready":true' "$RUN/pool-${pool%%:*}.out"; done
for host in srv1 srv2; do
  list=""
  for server in "${SERVERS[@]}"; do
    read -r id policy h port <<<"$server"
    [[ "$h" == "$host" ]] && list+="${list:+, }$id (policy $policy, ${ADDRESS[$host]}:$port)"
  done
  host_line "$host" "servers $list"
done
host_line client "clients"

MANIFEST="$RUN/manifest.tsv"
{
  for host in "${HOSTS[@]}"; do printf 'host\t%s\t%s\n' "$host" "${ADDRESS[$host]}"; done
  for server in "${SERVERS[@]}"; do
    read -r id policy host port <<<"$server"
    printf 'server\t%s\t%s\t%s\n' "$id" "$policy" "$host"
  done
  printf 'cut\t%s\t%s\n' "$CUT_HOST" "$CUT_AFTER_MS"
  printf 'brokerlog\t%s\n' "$RUN/broker.log"
} >"$MANIFEST"

# phase NAME LOAD...: one client per policy on the client host, in parallel; fills PHASE_PIDS.
PHASE_PIDS=()
phase_start() {
  local phase="$1"
  shift
  PHASE_PIDS=()
  local policy
  for policy in "${POLICIES[@]}"; do
    start client "client-$phase-$policy" "$ROOT/dist/client/main.js" --broker "$BROKER" --policy "$policy" \
      --srcid "$policy" "$@" --concurrency 4 --payload-size 32 --verify sha1 --json
    PHASE_PIDS+=("$policy:$LAST_PID")
  done
}
phase_wait() {
  local phase="$1" entry code
  for entry in "${PHASE_PIDS[@]}"; do
    code=0
    wait "${entry##*:}" || code=$?
    printf 'phase\t%s\t%s\t%s\t%s\n' "$phase" "${entry%%:*}" "$code" "$RUN/client-$phase-${entry%%:*}.out" >>"$MANIFEST"
  done
}

echo "before    40 packets per policy from ${ADDRESS[client]}"
phase_start before --count 40
phase_wait before

echo "during    ${LOAD_SECONDS}s of load per policy; the link of $CUT_HOST (${ADDRESS[$CUT_HOST]}) goes down $(ms_to_seconds "$CUT_AFTER_MS")s in"
phase_start during --duration "$LOAD_SECONDS"
# The cut's clock starts when both clients are connected to the broker.
deadline=$((SECONDS + READY_TIMEOUT))
while :; do
  connections="$(ip netns exec "$(ns client)" ss -Htnp state established dst "$BROKER" 2>/dev/null || true)"
  missing=0
  for entry in "${PHASE_PIDS[@]}"; do [[ "$connections" == *"pid=${entry##*:},"* ]] || missing=1; done
  ((missing)) || break
  ((SECONDS < deadline)) || die "the clients did not connect within ${READY_TIMEOUT}s"
  sleep 0.05
done
sleep "$(ms_to_seconds "$CUT_AFTER_MS")" &
wait $! || true
ip -n "$LAN" link set "v-$CUT_HOST" down
echo "cut       ip -n $LAN link set v-$CUT_HOST down"
phase_wait during

# Before the last phase, the broker must have taken the cut servers out (heartbeats, timeout).
for server in "${SERVERS[@]}"; do
  read -r id policy host port <<<"$server"
  [[ "$host" == "$CUT_HOST" ]] || continue
  wait_for broker "$BROKER_PID" "\"id\":$id,.*\"message\":\"server \(connection lost\|missed its heartbeats\|removed\)\"" "$RUN/broker.log"
done

echo "after     40 packets per policy"
phase_start after --count 40
phase_wait after

echo
REPORT_ARGS=(multihost "$MANIFEST")
((JSON)) && REPORT_ARGS+=(--json)
code=0
"$NODE" "$ROOT/dist/scripts/sim-report.js" "${REPORT_ARGS[@]}" || code=$?
[[ -z "$KEEP_LOGS" ]] || echo "logs in $RUN" >&2
exit "$code"
