#!/usr/bin/env bash
# simulate.sh: a whole lab from one command. Starts a broker, a server pool per policy and N
# clients on loopback, waits for each program's ready line (never a fixed sleep), prints a table
# per policy and server, and exits non-zero on any loss, error answer or failed verification.
# With --kill-one-server-after it kills one server with SIGKILL mid-run to show failover.
# Every process it starts is stopped on exit, Ctrl-C or SIGTERM. Needs a build: npx tsc -p .
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="${NODE:-node}"
NAME="simulate.sh"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/simulate.sh [options]

Starts a broker, servers and clients on 127.0.0.1, waits until each is ready, runs the clients,
prints who served whom and how fast, and stops everything. Exit code 0 when every packet got a
verified reply, 1 when anything was lost, answered with an error or failed verification,
2 on a bad option. Defaults are the classic lab: servers 100 and 300 in policy 111, 200 and
400 in policy 222, 15 clients with random policies.

Options:
  --policies LIST            comma-separated policies (default 111,222)
  --servers-per-policy N     servers in each policy (default 2); ids are 100, 200, ... taken
                             in turn by the policies, as in the classic lab
  --clients N                client processes, each with a random policy (default 15)
  --packets N                packets per client (default 100)
  --duration SECONDS         send for this long per client instead of --packets
  --concurrency N            packets in flight per client (default 1)
  --payload-size N           random payload length, verified by SHA-1 (default 32)
  --algorithm NAME           round-robin|random|first|last|least-outstanding (default round-robin)
  --delay MS                 simulated work per packet on the servers (default 0; 5 with a kill)
  --kill-one-server-after T  chaos: kill one server with SIGKILL T into the load (2s, 1500ms);
                             each server then runs as its own process, and the clients send
                             for 2*T+2 s unless --duration says otherwise
  --kill-server ID           which server to kill (default: the first of client 1's policy)
  --seed N                   seed for the clients' random policies (default: random)
  --json                     print the report as one JSON line, last
  --keep-logs DIR            keep every program's output in DIR (default: a temp dir, removed)
  --ready-timeout SECONDS    how long each program may take to be ready (default 20)
  -h, --help                 this help

Example:
  scripts/simulate.sh --policies 111,222 --servers-per-policy 2 --clients 15 --packets 100
  scripts/simulate.sh --kill-one-server-after 2s
EOF
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

POLICIES="111,222"
SERVERS_PER_POLICY=2
CLIENTS=15
PACKETS=100
DURATION=""
CONCURRENCY=1
PAYLOAD_SIZE=32
ALGORITHM="round-robin"
DELAY=""
KILL_AFTER_MS=""
KILL_ID=""
SEED=""
JSON=0
KEEP_LOGS=""
READY_TIMEOUT=20

while [[ $# -gt 0 ]]; do
  case "$1" in
    --policies) need_value "$@"; POLICIES="$2"; shift 2 ;;
    --servers-per-policy) need_value "$@"; SERVERS_PER_POLICY="$2"; shift 2 ;;
    --clients) need_value "$@"; CLIENTS="$2"; shift 2 ;;
    --packets) need_value "$@"; PACKETS="$2"; shift 2 ;;
    --duration) need_value "$@"; DURATION="$2"; shift 2 ;;
    --concurrency) need_value "$@"; CONCURRENCY="$2"; shift 2 ;;
    --payload-size) need_value "$@"; PAYLOAD_SIZE="$2"; shift 2 ;;
    --algorithm) need_value "$@"; ALGORITHM="$2"; shift 2 ;;
    --delay) need_value "$@"; DELAY="$2"; shift 2 ;;
    --kill-one-server-after)
      need_value "$@"
      KILL_AFTER_MS="$(to_ms "$2")" || usage_error "--kill-one-server-after: expected a time like 2s or 1500ms, got '$2'"
      shift 2 ;;
    --kill-server) need_value "$@"; KILL_ID="$2"; shift 2 ;;
    --seed) need_value "$@"; SEED="$2"; shift 2 ;;
    --json) JSON=1; shift ;;
    --keep-logs) need_value "$@"; KEEP_LOGS="$2"; shift 2 ;;
    --ready-timeout) need_value "$@"; READY_TIMEOUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done

[[ "$POLICIES" =~ ^[0-9]+(,[0-9]+)*$ ]] || usage_error "--policies: expected numbers separated by commas, got '$POLICIES'"
IFS=, read -r -a POLICY_LIST <<<"$POLICIES"
[[ $(printf '%s\n' "${POLICY_LIST[@]}" | sort -u | wc -l) -eq ${#POLICY_LIST[@]} ]] || usage_error "--policies: a policy is listed twice"
for pair in "SERVERS_PER_POLICY:--servers-per-policy" "CLIENTS:--clients" "PACKETS:--packets" "CONCURRENCY:--concurrency" "READY_TIMEOUT:--ready-timeout"; do
  var="${pair%%:*}"
  value="${!var}"
  { is_uint "$value" && ((value >= 1)); } || usage_error "${pair#*:}: expected a whole number of at least 1, got '$value'"
done
is_uint "$PAYLOAD_SIZE" || usage_error "--payload-size: expected a whole number, got '$PAYLOAD_SIZE'"
case "$ALGORITHM" in round-robin|random|first|last|least-outstanding) ;; *) usage_error "--algorithm: unknown '$ALGORITHM'" ;; esac
[[ -z "$DELAY" ]] || is_uint "$DELAY" || usage_error "--delay: expected milliseconds, got '$DELAY'"
[[ -z "$SEED" ]] || is_uint "$SEED" || usage_error "--seed: expected a whole number, got '$SEED'"
[[ -z "$KILL_ID" ]] || is_uint "$KILL_ID" || usage_error "--kill-server: expected a server id, got '$KILL_ID'"
[[ -z "$KILL_ID" || -n "$KILL_AFTER_MS" ]] || usage_error "--kill-server needs --kill-one-server-after"
if [[ -n "$DURATION" ]]; then
  [[ "$DURATION" =~ ^[0-9]+(\.[0-9]+)?$ ]] && [[ ! "$DURATION" =~ ^0+(\.0+)?$ ]] || usage_error "--duration: expected seconds above 0, got '$DURATION'"
fi
if [[ -n "$KILL_AFTER_MS" ]]; then
  ((KILL_AFTER_MS >= 100)) || usage_error "--kill-one-server-after: at least 100ms"
  ((SERVERS_PER_POLICY >= 2)) || usage_error "--kill-one-server-after needs --servers-per-policy 2 or more, or nobody can take over"
  [[ -n "$DELAY" ]] || DELAY=5
  [[ -n "$DURATION" ]] || DURATION="$(ms_to_seconds $((2 * KILL_AFTER_MS + 2000)))"
fi
[[ -n "$DELAY" ]] || DELAY=0

require_built broker/main.js server-pool/main.js client/main.js scripts/sim-report.js

# Server ids: the k-th server of the i-th policy is 100 * (k * policies + i + 1), so the
# classic lab comes out on defaults: 111 -> 100, 300 and 222 -> 200, 400.
declare -A SERVERS_OF
for i in "${!POLICY_LIST[@]}"; do
  ids=()
  for ((k = 0; k < SERVERS_PER_POLICY; k++)); do ids+=($((100 * (k * ${#POLICY_LIST[@]} + i + 1)))); done
  SERVERS_OF[${POLICY_LIST[$i]}]="$(IFS=,; echo "${ids[*]}")"
done

make_run_dir sim
# Everything started (PIDS) is stopped in reverse order on the way out, 5 s before SIGKILL.
stop_on_exit 5

# start NAME ARGS...: runs a program in the background, stdout to $RUN/NAME.out, stderr to $RUN/NAME.log.
LAST_PID=""
start() {
  local name="$1"
  shift
  # shellcheck disable=SC2046 # the flags are words
  "$NODE" $(node_flags "$1") "$@" >"$RUN/$name.out" 2>"$RUN/$name.log" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# wait_ready NAME PID: polls NAME's stdout for its ready line until the deadline.
wait_ready() {
  local name="$1" rc=0
  poll_line "$2" '"ready":true' "$RUN/$name.out" || rc=$?
  case $rc in
    1) die "$name exited before it was ready: $(tail -n 5 "$RUN/$name.log" 2>/dev/null)" ;;
    2) die "$name not ready within ${READY_TIMEOUT}s" ;;
  esac
}

# wait_clients_connected: polls ss until every running client has a connection to the broker.
wait_clients_connected() {
  if ! command -v ss >/dev/null; then
    echo "$NAME: ss (iproute2) not found: the kill's clock starts when the clients are launched" >&2
    return 0
  fi
  local deadline=$((SECONDS + READY_TIMEOUT)) connections pid missing
  while :; do
    connections="$(ss -Htnp state established dst "127.0.0.1:$PORT" 2>/dev/null || true)"
    missing=0
    for pid in "${CLIENT_PIDS[@]}"; do
      if kill -0 "$pid" 2>/dev/null && [[ "$connections" != *"pid=$pid,"* ]]; then missing=1; fi
    done
    ((missing)) || return 0
    ((SECONDS < deadline)) || die "the clients did not all connect within ${READY_TIMEOUT}s"
    sleep 0.05
  done
}

export POLICY_BROKER_LOG_FORMAT=json POLICY_SERVER_POOL_LOG_FORMAT=json POLICY_CLIENT_LOG_FORMAT=json
export POLICY_SERVER_POOL_LOG_LEVEL=warn POLICY_CLIENT_LOG_LEVEL=warn

# The broker, on a free port.
start broker "$ROOT/dist/broker/main.js" --host 127.0.0.1 --port 0 --algorithm "$ALGORITHM" --log-level info
BROKER_PID=$LAST_PID
wait_ready broker "$BROKER_PID"
PORT="$(sed -n 's/.*"ready":true.*"port":\([0-9]*\).*/\1/p' "$RUN/broker.out" | head -n 1)"
[[ -n "$PORT" ]] || die "cannot read the broker's port from: $(head -n 1 "$RUN/broker.out")"
echo "broker      127.0.0.1:$PORT  algorithm $ALGORITHM  (pid $BROKER_PID)"

# The servers: one pool per policy, or one process per server when one is to be killed.
declare -A PID_OF_SERVER
POOLS=()
for policy in "${POLICY_LIST[@]}"; do
  if [[ -n "$KILL_AFTER_MS" ]]; then IFS=, read -r -a groups <<<"${SERVERS_OF[$policy]}"; else groups=("${SERVERS_OF[$policy]}"); fi
  for ids in "${groups[@]}"; do
    name="pool-$policy-${ids//,/-}"
    start "$name" "$ROOT/dist/server-pool/main.js" --broker "127.0.0.1:$PORT" --policy "$policy" --ids "$ids" --delay "$DELAY"
    POOLS+=("$name:$LAST_PID")
    for id in ${ids//,/ }; do PID_OF_SERVER[$id]=$LAST_PID; done
  done
done
for pool in "${POOLS[@]}"; do
  wait_ready "${pool%%:*}" "${pool##*:}"
  echo "servers     $(sed -n 's/.*"ready":true,"servers":\(.*\)}$/\1/p' "$RUN/${pool%%:*}.out")  (pid ${pool##*:})"
done

# The clients, each with a random policy.
[[ -z "$SEED" ]] || RANDOM=$SEED
MANIFEST="$RUN/manifest.tsv"
{
  printf 'meta\talgorithm\t%s\n' "$ALGORITHM"
  for policy in "${POLICY_LIST[@]}"; do printf 'policy\t%s\t%s\n' "$policy" "${SERVERS_OF[$policy]}"; done
  printf 'brokerlog\t%s\n' "$RUN/broker.log"
} >"$MANIFEST"
if [[ -n "$DURATION" ]]; then LOAD=(--duration "$DURATION"); what="for ${DURATION}s"; else LOAD=(--count "$PACKETS"); what="$PACKETS packets"; fi
CLIENT_PIDS=()
CLIENT_POLICY=()
for ((c = 1; c <= CLIENTS; c++)); do
  policy="${POLICY_LIST[$((RANDOM % ${#POLICY_LIST[@]}))]}"
  CLIENT_POLICY[$c]=$policy
  start "client-$c" "$ROOT/dist/client/main.js" --broker "127.0.0.1:$PORT" --policy "$policy" --srcid "$c" \
    "${LOAD[@]}" --concurrency "$CONCURRENCY" --payload-size "$PAYLOAD_SIZE" --verify sha1 --json
  CLIENT_PIDS[$c]=$LAST_PID
done
echo "clients     $CLIENTS, $what each, $CONCURRENCY in flight, policies: $(for c in $(seq 1 "$CLIENTS"); do printf '%s ' "${CLIENT_POLICY[$c]}"; done)"

if [[ -n "$KILL_AFTER_MS" ]]; then
  if [[ -z "$KILL_ID" ]]; then KILL_ID="${SERVERS_OF[${CLIENT_POLICY[1]}]%%,*}"; fi
  [[ -n "${PID_OF_SERVER[$KILL_ID]:-}" ]] || die "--kill-server $KILL_ID: no such server (servers: ${!PID_OF_SERVER[*]})"
  # The kill's clock starts when the load does: once every client is connected, however long
  # the processes took to start on a busy machine.
  wait_clients_connected
  sleep "$(ms_to_seconds "$KILL_AFTER_MS")" &
  wait $! || true
  running=0
  for c in "${!CLIENT_PIDS[@]}"; do if kill -0 "${CLIENT_PIDS[$c]}" 2>/dev/null; then running=1; fi; done
  ((running)) || die "every client had finished before the kill at $(ms_to_seconds "$KILL_AFTER_MS")s: use a longer --duration"
  kill -KILL "${PID_OF_SERVER[$KILL_ID]}"
  { wait "${PID_OF_SERVER[$KILL_ID]}"; } 2>/dev/null || true
  echo "chaos       killed server $KILL_ID with SIGKILL (pid ${PID_OF_SERVER[$KILL_ID]}) $(ms_to_seconds "$KILL_AFTER_MS")s into the load"
  printf 'kill\t%s\t%s\n' "$KILL_ID" "$KILL_AFTER_MS" >>"$MANIFEST"
fi

for c in "${!CLIENT_PIDS[@]}"; do
  code=0
  wait "${CLIENT_PIDS[$c]}" || code=$?
  printf 'client\t%s\t%s\t%s\t%s\n' "$c" "${CLIENT_POLICY[$c]}" "$code" "$RUN/client-$c.out" >>"$MANIFEST"
done

echo
REPORT_ARGS=(simulate "$MANIFEST")
((JSON)) && REPORT_ARGS+=(--json)
code=0
"$NODE" "$ROOT/dist/scripts/sim-report.js" "${REPORT_ARGS[@]}" || code=$?
[[ -z "$KEEP_LOGS" ]] || echo "logs in $RUN" >&2
exit "$code"
