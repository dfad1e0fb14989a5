#!/usr/bin/env bash
# CPU per HTTPS and per plain HTTP probe: linewatch against
# prometheus-blackbox-exporter, in the same run, against the same loopback
# servers.
#
# Usage: bash bench/https_vs_blackbox.sh [BUILD_DIR] [ROUNDS] [REPS]
#   BUILD_DIR  where bench/bench_http_probe was built, default build
#   ROUNDS     probes per measurement, default 1000
#   REPS       repetitions of the four measurements, default 5
#
# Servers: python3's http.server on 127.0.0.1, one wrapped in TLS with a
# throw-away CA and an EC P-256 server certificate made here by openssl, one
# plain. Each answers `GET /` with 200 and 3 bytes on a new connection
# (HTTP/1.0, so neither prober can keep a connection). Their CPU is not counted.
#
# linewatch: bench_http_probe, run_probe() with the agent's shared TLS
# contexts, verifying against the test CA, one round after another.
# blackbox_exporter: listening on 127.0.0.1 with a module per scheme (the
# https one verifies against the same CA), sent ROUNDS sequential
# /probe?module=...&target=... requests by one curl over one kept-alive
# connection (the way Prometheus scrapes it), curl's CPU not counted.
#
# CPU is utime + stime from /proc/PID/stat of the probing process over the
# measured probes only (after 20 warm-up probes each), divided by ROUNDS.
# Each repetition measures linewatch https, blackbox https, linewatch http,
# blackbox http; the order of the two tools alternates between repetitions.
# Prints every measurement, then the medians and the ratios.
#
# Network: loopback only. Every process started here is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
rounds=${2:-1000}
reps=${3:-5}
bench="$build/bench/bench_http_probe"
exporter=${BLACKBOX_EXPORTER:-prometheus-blackbox-exporter}
[[ -x "$bench" ]] || { echo "no $bench: build the bench_http_probe target" >&2; exit 2; }
command -v "$exporter" >/dev/null ||
  { echo "no $exporter: apt-get install prometheus-blackbox-exporter" >&2; exit 2; }

tmp=$(mktemp -d /tmp/https-vs-blackbox-XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The PKI: a CA and a server certificate for IP 127.0.0.1 signed by it.
(
  cd "$tmp"
  key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
  # shellcheck disable=SC2086
  openssl req -x509 $key -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
  # shellcheck disable=SC2086
  openssl req $key -keyout server.key -out server.csr -subj /CN=bench-server
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out server.pem -days 2 -extfile ext.cnf
) >/dev/null 2>&1

cat >"$tmp/server.py" <<'EOF'
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *args):
        pass
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
server = http.server.HTTPServer(("127.0.0.1", port), Handler)
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
EOF

https_port=$(free_port)
http_port=$(free_port)
bb_port=$(free_port)
python3 "$tmp/server.py" "$https_port" "$tmp/server.pem" "$tmp/server.key" &
pids+=($!)
python3 "$tmp/server.py" "$http_port" "" "" &
pids+=($!)

cat >"$tmp/blackbox.yml" <<EOF
modules:
  https:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        ca_file: $tmp/ca.pem
  http:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
EOF
"$exporter" --config.file="$tmp/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" \
  --log.level=warn >"$tmp/blackbox.log" 2>&1 &
bb_pid=$!
pids+=("$bb_pid")

https_url="https://127.0.0.1:$https_port/"
http_url="http://127.0.0.1:$http_port/"
for _ in $(seq 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$bb_port/" && curl -sfk -o /dev/null "$https_url" &&
    curl -sf -o /dev/null "$http_url" && break
  sleep 0.1
done

tick_ms=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN { print 1000 / t }')
ticks_of() {  # utime + stime of PID, in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# blackbox MODULE TARGET COUNT: COUNT probes through one curl; fails unless
# every one reported probe_success 1.
blackbox_probes() {
  local module=$1 target=$2 count=$3 cfg="$tmp/curl-$1.cfg" out="$tmp/curl-$1.out"
  : >"$cfg"
  for _ in $(seq "$count"); do
    printf 'url = "http://127.0.0.1:%s/probe?module=%s&target=%s"\n' "$bb_port" "$module" \
      "$target" >>"$cfg"
  done
  curl -sf -K "$cfg" >"$out"
  local good
  good=$(grep -c '^probe_success 1$' "$out" || true)
  [[ "$good" -eq "$count" ]] || {
    echo "blackbox $module: $good of $count probes succeeded" >&2
    return 1
  }
}

measure_linewatch() {  # SCHEME: prints CPU µs per probe
  local out
  if [[ $1 == https ]]; then
    out=$("$bench" --url "$https_url" --ca-file "$tmp/ca.pem" --rounds "$rounds")
  else
    out=$("$bench" --url "$http_url" --rounds "$rounds")
  fi
  local ticks=${out#*cpu_ticks=}
  ticks=${ticks%% *}
  awk -v t="$ticks" -v ms="$tick_ms" -v n="$rounds" 'BEGIN { printf "%.0f", t * ms * 1000 / n }'
}

measure_blackbox() {  # SCHEME: prints CPU µs per probe
  local target=$https_url
  [[ $1 == http ]] && target=$http_url
  blackbox_probes "$1" "$target" 20
  local before after
  before=$(ticks_of "$bb_pid")
  blackbox_probes "$1" "$target" "$rounds"
  after=$(ticks_of "$bb_pid")
  awk -v t="$((after - before))" -v ms="$tick_ms" -v n="$rounds" \
    'BEGIN { printf "%.0f", t * ms * 1000 / n }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "https_vs_blackbox on $(uname -n): $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
  "$rounds probes per measurement, $reps repetitions"
echo "blackbox_exporter: $("$exporter" --version 2>&1 | head -1)"
echo "CPU per probe (µs), utime + stime from /proc/PID/stat:"
printf '%-4s %-8s %10s %10s %7s\n' rep scheme linewatch blackbox ratio
declare -A results
for rep in $(seq "$reps"); do
  for scheme in https http; do
    if ((rep % 2)); then
      lw=$(measure_linewatch "$scheme")
      bb=$(measure_blackbox "$scheme")
    else
      bb=$(measure_blackbox "$scheme")
      lw=$(measure_linewatch "$scheme")
    fi
    results[$scheme.lw]+="$lw "
    results[$scheme.bb]+="$bb "
    printf '%-4s %-8s %10s %10s %7s\n' "$rep" "$scheme" "$lw" "$bb" \
      "$(awk -v a="$lw" -v b="$bb" 'BEGIN { printf "%.2f", a / b }')"
  done
done
echo "medians:"
for scheme in https http; do
  lw=$(tr ' ' '\n' <<<"${results[$scheme.lw]}" | grep . | median)
  bb=$(tr ' ' '\n' <<<"${results[$scheme.bb]}" | grep . | median)
  printf '%-4s %-8s %10s %10s %7s\n' med "$scheme" "$lw" "$bb" \
    "$(awk -v a="$lw" -v b="$bb" 'BEGIN { printf "%.2f", a / b }')"
done
