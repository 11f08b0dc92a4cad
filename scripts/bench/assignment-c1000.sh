#!/usr/bin/env bash
# The HTTP assignment's own load test, `wrk -t10 -c1000 -d10s --latency`, against nginx as the
# load balancer and against policy-broker builds, all over the same three sites of one stock-like
# nginx (one worker, Debian's worker_connections 768, default keep-alive), in one run.
#
#   flock /tmp/bench.lock bash scripts/bench/assignment-c1000.sh [ROUNDS] [NAME=DIST ...]
#
# DIST is a built dist/ directory (default: this worktree's dist as "ours"). Each round runs
# every target once, in a rotating order. Prints one line per run, and the broker's count of
# "HTTP server down" warnings. Needs nginx and wrk on PATH (or in /usr/sbin).
# SITES_WORKER_CONNECTIONS=8192 gives the sites room (a tuned nginx, as in npm run bench).
set -eu
PATH="$PATH:/usr/sbin"
rounds=${1:-2}
[ $# -gt 0 ] && shift
[ $# -eq 0 ] && set -- "ours=$(dirname "$0")/../../dist"
dir=$(mktemp -d /tmp/assignment-c1000.XXXXXX)
chmod 755 "$dir"
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

freeport() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
waitport() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
temps() { for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $dir/$1-$t;"; done; }

b1=$(freeport); b2=$(freeport); b3=$(freeport); lb=$(freeport)
for i in 1 2 3; do mkdir -p "$dir/site$i"; echo "<h1>site $i</h1>" > "$dir/site$i/index.html"; done
user=""; [ "$(id -u)" = 0 ] && user="user root;"
# Debian's stock nginx.conf, as far as it matters here: worker_connections 768, keepalive_timeout 65.
cat > "$dir/sites.conf" <<EOF
$user
worker_processes 1;
pid $dir/sites.pid;
error_log $dir/sites-error.log warn;
events { worker_connections ${SITES_WORKER_CONNECTIONS:-768}; }
http {
  access_log off;
  sendfile on;
  keepalive_timeout 65;
$(temps sites)
  server { listen 127.0.0.1:$b1; root $dir/site1; }
  server { listen 127.0.0.1:$b2; root $dir/site2; }
  server { listen 127.0.0.1:$b3; root $dir/site3; }
}
EOF
# nginx as the load balancer: the connections the assignment's 1,000 clients need, keep-alive to the sites.
cat > "$dir/lb.conf" <<EOF
$user
worker_processes 1;
pid $dir/lb.pid;
error_log $dir/lb-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
$(temps lb)
  upstream sites { server 127.0.0.1:$b1; server 127.0.0.1:$b2; server 127.0.0.1:$b3; keepalive 256; }
  server { listen 127.0.0.1:$lb; location / { proxy_pass http://sites; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
EOF
nginx -p "$dir" -c "$dir/sites.conf" -e "$dir/sites-error.log" -g 'daemon off;' & pids="$pids $!"
nginx -p "$dir" -c "$dir/lb.conf" -e "$dir/lb-error.log" -g 'daemon off;' & pids="$pids $!"
for p in $b1 $b2 $b3 $lb; do waitport "$p"; done
echo "{\"backend_servers\":[{\"ip\":\"127.0.0.1\",\"port\":$b1},{\"ip\":\"127.0.0.1\",\"port\":$b2},{\"ip\":\"127.0.0.1\",\"port\":$b3}]}" > "$dir/servers.conf"

targets="nginx=$lb"
for variant in "$@"; do
  name=${variant%%=*}; dist=${variant#*=}
  port=$(freeport)
  POLICY_BROKER_LOG_LEVEL=warn node "$dist/broker/main.js" --port 0 --http-port "$port" --servers "$dir/servers.conf" 2> "$dir/$name.log" > /dev/null & pids="$pids $!"
  waitport "$port"
  targets="$targets $name=$port"
done

run() {
  out=$(wrk -t10 -c1000 -d10s --latency "http://127.0.0.1:$2/")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errs=$(echo "$out" | awk '/Socket errors/ {print}' | sed 's/^ *Socket errors: //')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "round $3 $1: req/s ${rps} p99 ${p99} socket errors [${errs:-none}] non-2xx ${non2xx:-0}"
}
# Round r starts at the r-th target, so no target always runs first (or right after another).
rotate() { n=$1; shift; while [ "$n" -gt 0 ]; do first=$1; shift; set -- "$@" "$first"; n=$((n - 1)); done; echo "$*"; }
count=$(echo "$targets" | wc -w)
for r in $(seq "$rounds"); do
  for t in $(rotate $(( (r - 1) % count )) $targets); do run "${t%%=*}" "${t#*=}" "$r"; done
done
for variant in $(echo "$targets" | cut -d' ' -f2-); do
  name=${variant%%=*}
  echo "$name: $(grep -c 'HTTP server down' "$dir/$name.log" || true) 'HTTP server down' warnings"
done
echo "sites' error log: $(grep -c 'worker_connections are not enough' "$dir/sites-error.log" || true) 'worker_connections are not enough'"
lb_errors() { grep -c "$1" "$dir/lb-error.log" || true; }
echo "nginx (load balancer) error log: $(lb_errors 'no live upstreams') 'no live upstreams', $(lb_errors 'prematurely closed') 'upstream prematurely closed', $(lb_errors 'Connection reset') 'Connection reset', $(lb_errors 'worker_connections') 'worker_connections'"
