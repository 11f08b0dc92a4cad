#!/usr/bin/env bash
# deploy.sh: runs policy-broker on real machines over ssh. The hosts and their roles come from a
# file; the programs run as systemd units (default) or in the background with nohup
# (--no-systemd). --dry-run prints every command instead of running it. See docs/multihost.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME="deploy.sh"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh [options] COMMAND HOSTS_FILE

Commands (each acts on every host of the file, or on --only ROLE):
  copy     send the built programs (dist/, package.json, package-lock.json) to each host
  install  check Node >= 20, npm ci --omit=dev, write each program's environment file
           (the secret included, mode 600) and, with systemd, its unit file
  start    start the broker and wait for it, then the server pools, then run each client
           host's load and print its summary
  stop     stop the server pools, then the broker
  logs     fetch the last --lines of each program's log into --logs-dir/HOST/NAME.log
  status   whether each program runs

Hosts file: one host a line, "role host [user] [key=value ...]"; # starts a comment.
  role     broker (exactly one), server, client
  host     what ssh connects to (a public name is fine)
  user     ssh user (default: your ssh configuration's)
  broker   address=IP    address the others reach the broker at (default: host); use the
                         private address when the machines share a network
           listen=IP     address the broker listens on (default 0.0.0.0)
  server   policy=N ids=A,B  required: the policy and the server ids (unique overall)
           port=N        listen port of the first server, the others count up (default 7000)
           listen=IP     address the servers listen on (default 0.0.0.0)
           delay=MS handler=sha1|echo|upper
  client   policy=N count=N concurrency=N (defaults 111, 1000, 8)
Example: scripts/deploy-hosts.example

Options:
  --dry-run              print the commands (secret redacted) instead of running them
  --no-systemd           run with nohup in the background; pid and log files under the
                         remote directory (no sudo needed)
  --remote-dir DIR       where the project goes on each host (default policy-broker,
                         relative to the ssh user's home)
  --secret-file FILE     the registration secret (else $POLICY_BROKER_REGISTRATION_SECRET);
                         required by install unless --no-secret
  --no-secret            install without a registration secret (a private lab network only):
                         the broker takes registrations from any host
                         (--insecure-open-registration) unless
                         --env POLICY_BROKER_ALLOW_REGISTER_FROM=CIDR names the servers' network
  --broker-port N        the broker's packet port (default 2100)
  --algorithm NAME       the broker's selection algorithm (default round-robin)
  --tls-cert FILE        TLS certificate and key for the broker's listeners, copied to the
  --tls-key FILE         broker host; only with a build whose broker has --tls-cert
  --env KEY=VALUE        one more setting for the programs it names by prefix
                         (POLICY_BROKER_*, POLICY_SERVER_POOL_*, POLICY_CLIENT_*); repeatable
  --only ROLE            act only on broker, server or client hosts
  --ssh-option OPT       passed to ssh as -o OPT; repeatable
  --identity FILE        passed to ssh as -i FILE
  --lines N              lines of log per program for logs (default 200)
  --logs-dir DIR         where logs puts them (default deploy-logs)
  -h, --help             this help
EOF
}

DRY_RUN=0
SYSTEMD=1
REMOTE_DIR="policy-broker"
SECRET_FILE=""
NO_SECRET=0
BROKER_PORT=2100
ALGORITHM="round-robin"
TLS_CERT=""
TLS_KEY=""
EXTRA_ENV=()
ONLY=""
SSH=(ssh -o BatchMode=yes -o ConnectTimeout=10)
LINES=200
LOGS_DIR="deploy-logs"
POSITIONAL=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --no-systemd) SYSTEMD=0; shift ;;
    --remote-dir) need_value "$@"; REMOTE_DIR="$2"; shift 2 ;;
    --secret-file) need_value "$@"; SECRET_FILE="$2"; shift 2 ;;
    --no-secret) NO_SECRET=1; shift ;;
    --broker-port) need_value "$@"; BROKER_PORT="$2"; shift 2 ;;
    --algorithm) need_value "$@"; ALGORITHM="$2"; shift 2 ;;
    --tls-cert) need_value "$@"; TLS_CERT="$2"; shift 2 ;;
    --tls-key) need_value "$@"; TLS_KEY="$2"; shift 2 ;;
    --env) need_value "$@"; EXTRA_ENV+=("$2"); shift 2 ;;
    --only) need_value "$@"; ONLY="$2"; shift 2 ;;
    --ssh-option) need_value "$@"; SSH+=(-o "$2"); shift 2 ;;
    --identity) need_value "$@"; SSH+=(-i "$2"); shift 2 ;;
    --lines) need_value "$@"; LINES="$2"; shift 2 ;;
    --logs-dir) need_value "$@"; LOGS_DIR="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) usage_error "unknown option '$1'" ;;
    *) POSITIONAL+=("$1"); shift ;;
  esac
done
[[ ${#POSITIONAL[@]} -eq 2 ]] || usage_error "expected COMMAND HOSTS_FILE"
COMMAND="${POSITIONAL[0]}"
HOSTS_FILE="${POSITIONAL[1]}"
case "$COMMAND" in copy|install|start|stop|logs|status) ;; *) usage_error "unknown command '$COMMAND'" ;; esac
case "$ONLY" in ''|broker|server|client) ;; *) usage_error "--only: broker, server or client" ;; esac
[[ "$BROKER_PORT" =~ ^[0-9]+$ ]] && ((BROKER_PORT >= 1 && BROKER_PORT <= 65535)) || usage_error "--broker-port: a port number"
[[ "$LINES" =~ ^[0-9]+$ ]] || usage_error "--lines: a whole number"
case "$ALGORITHM" in round-robin|random|first|last|least-outstanding) ;; *) usage_error "--algorithm: unknown '$ALGORITHM'" ;; esac
[[ "$REMOTE_DIR" =~ ^[A-Za-z0-9._/~-]+$ ]] || usage_error "--remote-dir: letters, digits and . _ / ~ - only"
[[ -f "$HOSTS_FILE" ]] || usage_error "no hosts file '$HOSTS_FILE'"
[[ -z "$TLS_CERT$TLS_KEY" || (-n "$TLS_CERT" && -n "$TLS_KEY") ]] || usage_error "--tls-cert and --tls-key go together"

# Values end up in environment files that systemd and sh both read: keep them plain.
SAFE_VALUE='^[A-Za-z0-9._:,/@+=~-]*$'

# --- the hosts file ---------------------------------------------------------------------------
H_ROLE=() H_HOST=() H_USER=() H_OPTS=() H_NAME=()
line_no=0
while IFS= read -r line || [[ -n "$line" ]]; do
  line_no=$((line_no + 1))
  line="${line%%#*}"
  read -r -a fields <<<"$line" || true
  [[ ${#fields[@]} -gt 0 ]] || continue
  role="${fields[0]}"
  case "$role" in broker|server|client) ;; *) die "$HOSTS_FILE:$line_no: unknown role '$role' (broker, server or client)" ;; esac
  [[ ${#fields[@]} -ge 2 ]] || die "$HOSTS_FILE:$line_no: no host"
  host="${fields[1]}"
  [[ "$host" =~ ^[A-Za-z0-9.:_-]+$ ]] || die "$HOSTS_FILE:$line_no: bad host '$host'"
  user=""
  opts=" "
  for field in "${fields[@]:2}"; do
    if [[ "$field" == *=* ]]; then
      [[ "${field%%=*}" =~ ^[a-z-]+$ && "${field#*=}" =~ $SAFE_VALUE ]] || die "$HOSTS_FILE:$line_no: bad setting '$field'"
      opts+="$field "
    elif [[ -z "$user" && "$opts" == " " ]]; then
      [[ "$field" =~ ^[a-z_][a-z0-9_.-]*$ ]] || die "$HOSTS_FILE:$line_no: bad user '$field'"
      user="$field"
    else
      die "$HOSTS_FILE:$line_no: expected key=value, got '$field'"
    fi
  done
  H_ROLE+=("$role") H_HOST+=("$host") H_USER+=("$user") H_OPTS+=("$opts")
done <"$HOSTS_FILE"

# opt INDEX KEY DEFAULT: a key=value of host INDEX.
opt() {
  local opts="${H_OPTS[$1]}" key=" $2="
  if [[ "$opts" == *"$key"* ]]; then
    local rest="${opts#*"$key"}"
    echo "${rest%% *}"
  else
    echo "$3"
  fi
}

BROKER_INDEX=""
declare -A SEEN_ID
for i in "${!H_ROLE[@]}"; do
  case "${H_ROLE[$i]}" in
    broker)
      [[ -z "$BROKER_INDEX" ]] || die "$HOSTS_FILE: more than one broker"
      BROKER_INDEX=$i
      H_NAME[$i]="policy-broker" ;;
    server)
      policy="$(opt "$i" policy '')" ids="$(opt "$i" ids '')"
      [[ "$policy" =~ ^[0-9]+$ ]] || die "$HOSTS_FILE: server ${H_HOST[$i]} needs policy=N"
      [[ "$ids" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "$HOSTS_FILE: server ${H_HOST[$i]} needs ids=A,B,..."
      for id in ${ids//,/ }; do
        [[ -z "${SEEN_ID[$id]:-}" ]] || die "$HOSTS_FILE: server id $id is used twice"
        SEEN_ID[$id]=1
      done
      H_NAME[$i]="policy-server-pool-$policy-${ids%%,*}" ;;
    client)
      H_NAME[$i]="policy-client-$(opt "$i" policy 111)-$i" ;;
  esac
done
[[ -n "$BROKER_INDEX" ]] || die "$HOSTS_FILE: no broker line"
BROKER_ADDRESS="$(opt "$BROKER_INDEX" address "${H_HOST[$BROKER_INDEX]}")"

# --- secret, TLS, extra settings --------------------------------------------------------------
SECRET=""
if [[ -n "$SECRET_FILE" ]]; then
  [[ -r "$SECRET_FILE" ]] || die "cannot read --secret-file $SECRET_FILE"
  SECRET="$(tr -d '\r\n' <"$SECRET_FILE")"
elif [[ -n "${POLICY_BROKER_REGISTRATION_SECRET:-}" ]]; then
  SECRET="$POLICY_BROKER_REGISTRATION_SECRET"
fi
if [[ -n "$SECRET" ]]; then
  [[ "$SECRET" =~ $SAFE_VALUE && ${#SECRET} -ge 16 ]] || die "the registration secret must be 16 or more of A-Z a-z 0-9 . _ : , / @ + = ~ - (try: openssl rand -hex 24)"
elif [[ "$COMMAND" == install && "$NO_SECRET" == 0 ]]; then
  die "install needs a registration secret: --secret-file FILE or POLICY_BROKER_REGISTRATION_SECRET (or --no-secret on a private lab network)"
fi
for setting in "${EXTRA_ENV[@]}"; do
  [[ "$setting" =~ ^POLICY_(BROKER|SERVER_POOL|CLIENT)_[A-Z0-9_]+=.*$ ]] || die "--env $setting: expected POLICY_BROKER_*, POLICY_SERVER_POOL_* or POLICY_CLIENT_* =VALUE"
  [[ "${setting#*=}" =~ $SAFE_VALUE ]] || die "--env $setting: the value may only hold A-Z a-z 0-9 . _ : , / @ + = ~ -"
done
if [[ -n "$TLS_CERT" ]]; then
  [[ -r "$TLS_CERT" && -r "$TLS_KEY" ]] || die "cannot read $TLS_CERT or $TLS_KEY"
  # Only a broker that knows the options may be given them: an unknown setting would be ignored silently.
  node "$ROOT/dist/broker/main.js" --help 2>/dev/null | grep -q -- '--tls-cert' ||
    die "this build of policy-broker has no --tls-cert option yet: reach the broker through WireGuard or an ssh tunnel instead (docs/multihost.md)"
fi

# --- running commands -------------------------------------------------------------------------
target() { if [[ -n "${H_USER[$1]}" ]]; then echo "${H_USER[$1]}@${H_HOST[$1]}"; else echo "${H_HOST[$1]}"; fi; }
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
redact() { if [[ -n "$SECRET" ]]; then sed "s|$SECRET|<secret>|g"; else cat; fi; }

# remote INDEX COMMAND [STDIN_FILE WHAT [show]]: runs COMMAND on host INDEX over ssh, feeding it
# STDIN_FILE; a dry run names it WHAT, and with "show" prints it too (secret redacted).
remote() {
  local i="$1" cmd="$2" input="${3:-}" what="${4:-}" show="${5:-}"
  if ((DRY_RUN)); then
    printf '$ %s %s %s%s\n' "${SSH[*]}" "$(target "$i")" "$(quote "$cmd")" "${input:+ < $what}"
    [[ "$show" != show ]] || sed 's/^/    | /' "$input" | redact
  elif [[ -n "$input" ]]; then
    "${SSH[@]}" "$(target "$i")" "$cmd" <"$input"
  else
    "${SSH[@]}" "$(target "$i")" "$cmd" </dev/null
  fi
}

# selected ROLE: indexes of the hosts of ROLE, unless --only says otherwise.
selected() {
  local i
  for i in "${!H_ROLE[@]}"; do
    [[ "${H_ROLE[$i]}" == "$1" && ( -z "$ONLY" || "$ONLY" == "$1" ) ]] && echo "$i"
  done
  return 0
}
say() { echo "# ${H_ROLE[$1]} ${H_HOST[$1]}: $2"; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/policy-broker-deploy.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

ENV_DIR_SYSTEMD="/etc/policy-broker"
# env_path INDEX: where the program's environment file goes; relative paths are inside the remote directory.
env_path() { if ((SYSTEMD)) && [[ "${H_ROLE[$1]}" != client ]]; then echo "$ENV_DIR_SYSTEMD/${H_NAME[$1]}.env"; else echo "run/${H_NAME[$1]}.env"; fi; }
program_of() { case "${H_ROLE[$1]}" in broker) echo dist/broker/main.js ;; server) echo dist/server-pool/main.js ;; client) echo dist/client/main.js ;; esac; }
# node_command I: node, the flags of the program's #! line (read here, from the same build), the program.
node_command() { local program; program=$(program_of "$1"); echo "node $(node_flags "$ROOT/$program") $program"; }

# env_file INDEX: writes the environment of host INDEX's program to a local file, prints its path.
env_file() {
  local i="$1" file="$TMP/${H_NAME[$1]}.env" prefix setting
  {
    case "${H_ROLE[$i]}" in
      broker)
        prefix=POLICY_BROKER_
        echo "POLICY_BROKER_HOST=$(opt "$i" listen 0.0.0.0)"
        echo "POLICY_BROKER_PORT=$BROKER_PORT"
        echo "POLICY_BROKER_ALGORITHM=$ALGORITHM"
        [[ -z "$SECRET" ]] || echo "POLICY_BROKER_REGISTRATION_SECRET=$SECRET"
        # Without a secret the broker, listening beyond loopback, would take registrations from
        # its own host only (protected mode): --no-secret opens it, unless an allow-list is given.
        if [[ -z "$SECRET" && ! " ${EXTRA_ENV[*]} " =~ \ POLICY_BROKER_ALLOW_REGISTER_FROM= ]]; then
          echo "POLICY_BROKER_INSECURE_OPEN_REGISTRATION=true"
        fi
        if [[ -n "$TLS_CERT" ]]; then
          echo "POLICY_BROKER_TLS_CERT=tls/$(basename "$TLS_CERT")"
          echo "POLICY_BROKER_TLS_KEY=tls/$(basename "$TLS_KEY")"
        fi
        echo "POLICY_BROKER_LOG_FORMAT=json" ;;
      server)
        prefix=POLICY_SERVER_POOL_
        echo "POLICY_SERVER_POOL_BROKER=$BROKER_ADDRESS:$BROKER_PORT"
        echo "POLICY_SERVER_POOL_POLICY=$(opt "$i" policy '')"
        echo "POLICY_SERVER_POOL_IDS=$(opt "$i" ids '')"
        echo "POLICY_SERVER_POOL_PORT=$(opt "$i" port 7000)"
        echo "POLICY_SERVER_POOL_LISTEN_HOST=$(opt "$i" listen 0.0.0.0)"
        [[ -z "$(opt "$i" delay '')" ]] || echo "POLICY_SERVER_POOL_DELAY=$(opt "$i" delay '')"
        [[ -z "$(opt "$i" handler '')" ]] || echo "POLICY_SERVER_POOL_HANDLER=$(opt "$i" handler '')"
        [[ -z "$SECRET" ]] || echo "POLICY_SERVER_POOL_SECRET=$SECRET"
        echo "POLICY_SERVER_POOL_LOG_FORMAT=json" ;;
      client)
        prefix=POLICY_CLIENT_
        echo "POLICY_CLIENT_BROKER=$BROKER_ADDRESS:$BROKER_PORT"
        echo "POLICY_CLIENT_POLICY=$(opt "$i" policy 111)"
        echo "POLICY_CLIENT_SRCID=$i"
        echo "POLICY_CLIENT_COUNT=$(opt "$i" count 1000)"
        echo "POLICY_CLIENT_CONCURRENCY=$(opt "$i" concurrency 8)"
        echo "POLICY_CLIENT_VERIFY=sha1"
        echo "POLICY_CLIENT_LOG_FORMAT=json" ;;
    esac
    for setting in "${EXTRA_ENV[@]}"; do [[ "$setting" != "$prefix"* ]] || echo "$setting"; done
  } >"$file"
  echo "$file"
}

# unit_file INDEX: the systemd unit of host INDEX's program; @DIR@, @NODE@, @USER@ are filled in on the host.
unit_file() {
  local i="$1" file="$TMP/${H_NAME[$1]}.service"
  cat >"$file" <<EOF
[Unit]
Description=policy-broker ${H_ROLE[$i]}: ${H_NAME[$i]}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=@USER@
WorkingDirectory=@DIR@
EnvironmentFile=$(env_path "$i")
ExecStart=@NODE@ $(node_flags "$ROOT/$(program_of "$i")") @DIR@/$(program_of "$i")
Restart=on-failure
RestartSec=2
TimeoutStopSec=20
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
EOF
  echo "$file"
}

# A remote snippet: waits up to 20 s for the program's ready line in what LOG_CMD prints.
wait_ready_snippet() {
  echo "i=0; until $1 2>/dev/null | grep -q '\"ready\":true'; do i=\$((i+1)); if [ \$i -gt 100 ]; then echo '${H_NAME[$2]} not ready within 20 s' >&2; exit 1; fi; sleep 0.2; done; echo '${H_NAME[$2]} ready'"
}

do_copy() {
  local i
  require_built broker/main.js server-pool/main.js client/main.js
  tar -C "$ROOT" -czf "$TMP/policy-broker.tgz" package.json package-lock.json dist/broker dist/client dist/server-pool
  for i in $(selected broker) $(selected server) $(selected client); do
    say "$i" "copy to $REMOTE_DIR"
    remote "$i" "mkdir -p $REMOTE_DIR && tar -xzf - -C $REMOTE_DIR" "$TMP/policy-broker.tgz" "policy-broker.tgz (package.json, package-lock.json, dist/)"
    if [[ -n "$TLS_CERT" && "${H_ROLE[$i]}" == broker ]]; then
      tar -C "$(dirname "$TLS_CERT")" -czf "$TMP/tls-cert.tgz" "$(basename "$TLS_CERT")"
      tar -C "$(dirname "$TLS_KEY")" -czf "$TMP/tls-key.tgz" "$(basename "$TLS_KEY")"
      remote "$i" "mkdir -p $REMOTE_DIR/tls && tar -xzf - -C $REMOTE_DIR/tls" "$TMP/tls-cert.tgz" "$(basename "$TLS_CERT")"
      remote "$i" "umask 077 && tar -xzf - -C $REMOTE_DIR/tls" "$TMP/tls-key.tgz" "$(basename "$TLS_KEY") (private key)"
    fi
  done
}

do_install() {
  local i env unit
  for i in $(selected broker) $(selected server) $(selected client); do
    say "$i" "install ${H_NAME[$i]}"
    remote "$i" "v=\$(node --version 2>/dev/null) || { echo 'node is not installed on '\$(hostname) >&2; exit 1; }; m=\${v#v}; [ \"\${m%%.*}\" -ge 20 ] || { echo \"node \$v on \$(hostname): 20 or later is needed\" >&2; exit 1; }; cd $REMOTE_DIR && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier && mkdir -p run logs"
    env="$(env_file "$i")"
    if ((SYSTEMD)) && [[ "${H_ROLE[$i]}" != client ]]; then
      remote "$i" "sudo install -D -m 600 /dev/stdin $(env_path "$i")" "$env" "$(env_path "$i")" show
      unit="$(unit_file "$i")"
      remote "$i" "d=\$(cd $REMOTE_DIR && pwd) && n=\$(command -v node) && u=\$(id -un) && sed -e \"s|@DIR@|\$d|g\" -e \"s|@NODE@|\$n|g\" -e \"s|@USER@|\$u|g\" | sudo install -m 644 /dev/stdin /etc/systemd/system/${H_NAME[$i]}.service && sudo systemctl daemon-reload" "$unit" "/etc/systemd/system/${H_NAME[$i]}.service" show
    else
      remote "$i" "cd $REMOTE_DIR && umask 077 && cat > $(env_path "$i")" "$env" "$REMOTE_DIR/$(env_path "$i")" show
    fi
  done
}

start_daemon() {
  local i="$1" name="${H_NAME[$1]}"
  say "$i" "start $name"
  if ((SYSTEMD)); then
    remote "$i" "t=\$(date +%s) && sudo systemctl enable $name.service && sudo systemctl restart $name.service && $(wait_ready_snippet "sudo journalctl -u $name.service --since @\$t -o cat --no-pager" "$i")"
  else
    remote "$i" "cd $REMOTE_DIR && if [ -f run/$name.pid ] && kill -0 \$(cat run/$name.pid) 2>/dev/null; then echo '$name already running'; exit 0; fi; [ ! -f logs/$name.log ] || mv logs/$name.log logs/$name.log.1; (set -a; . $(env_path "$i"); set +a; exec nohup $(node_command "$i") >logs/$name.log 2>&1 </dev/null) & echo \$! > run/$name.pid; $(wait_ready_snippet "cat logs/$name.log" "$i")"
  fi
}

stop_daemon() {
  local i="$1" name="${H_NAME[$1]}"
  say "$i" "stop $name"
  if ((SYSTEMD)); then
    remote "$i" "sudo systemctl stop $name.service; sudo systemctl disable $name.service 2>/dev/null || true"
  else
    remote "$i" "cd $REMOTE_DIR && if [ -f run/$name.pid ] && kill -TERM \$(cat run/$name.pid) 2>/dev/null; then i=0; while kill -0 \$(cat run/$name.pid) 2>/dev/null && [ \$i -lt 100 ]; do i=\$((i+1)); sleep 0.2; done; kill -KILL \$(cat run/$name.pid) 2>/dev/null || true; fi; rm -f run/$name.pid"
  fi
}

do_start() {
  local i
  for i in $(selected broker) $(selected server); do start_daemon "$i"; done
  for i in $(selected client); do
    say "$i" "run ${H_NAME[$i]}'s load"
    remote "$i" "cd $REMOTE_DIR && set -a && . $(env_path "$i") && set +a && $(node_command "$i") --json"
  done
}

do_stop() {
  local i
  for i in $(selected server) $(selected broker); do stop_daemon "$i"; done
}

do_logs() {
  local i name out
  for i in $(selected broker) $(selected server) $(selected client); do
    [[ "${H_ROLE[$i]}" != client ]] || continue
    name="${H_NAME[$i]}"
    out="$LOGS_DIR/${H_HOST[$i]}/$name.log"
    say "$i" "logs of $name -> $out"
    if ((DRY_RUN)); then
      printf '$ mkdir -p %s\n' "$(dirname "$out")"
    else
      mkdir -p "$(dirname "$out")"
    fi
    local cmd
    if ((SYSTEMD)); then cmd="sudo journalctl -u $name.service -n $LINES -o cat --no-pager"; else cmd="tail -n $LINES $REMOTE_DIR/logs/$name.log"; fi
    if ((DRY_RUN)); then
      printf '$ %s %s %s > %s\n' "${SSH[*]}" "$(target "$i")" "$(quote "$cmd")" "$out"
    else
      "${SSH[@]}" "$(target "$i")" "$cmd" </dev/null >"$out"
    fi
  done
}

do_status() {
  local i name
  for i in $(selected broker) $(selected server); do
    name="${H_NAME[$i]}"
    if ((SYSTEMD)); then
      remote "$i" "printf '%s %s: ' '${H_HOST[$i]}' '$name'; systemctl is-active $name.service || true"
    else
      remote "$i" "printf '%s %s: ' '${H_HOST[$i]}' '$name'; if [ -f $REMOTE_DIR/run/$name.pid ] && kill -0 \$(cat $REMOTE_DIR/run/$name.pid) 2>/dev/null; then echo running; else echo stopped; fi"
    fi
  done
}

((DRY_RUN)) && echo "# dry run: $COMMAND on the hosts of $HOSTS_FILE ($( ((SYSTEMD)) && echo systemd || echo nohup)); nothing is run"
"do_$COMMAND"
