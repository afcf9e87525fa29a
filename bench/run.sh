#!/usr/bin/env bash
# bench/run.sh: run nocontact beside unbound, dnsmasq and dnsdist on loopback
# and compare them. See bench/README.md for what it measures and how to read it.
#
#   bash bench/run.sh               # 20 s per server per mix
#   bash bench/run.sh -d 60         # longer runs
#   bash bench/run.sh --short       # ~3 s per server per mix (CI)
#
# Everything talks to 127.0.0.1 only. Every process it starts is stopped on
# exit, and its temporary directory removed.
set -euo pipefail

duration=20        # seconds measured, per server per mix
warmup=5           # seconds of warm-up before each measurement
miss_names=200000  # unique names in the cache-miss-heavy file
port_base=         # stand-in, nocontact, unbound, dnsmasq, dnsdist: base .. base+4; empty picks free ones
clients=4          # dnsperf -c

usage() {
  cat <<EOF
usage: bash bench/run.sh [-d SECONDS] [--short] [--port-base PORT]

  -d, --duration SECONDS  measure each server on each query mix this long (default $duration)
  --short                 3 s per server per mix, 1 s warm-up, a smaller miss file (for CI)
  --port-base PORT        use 127.0.0.1 ports PORT..PORT+4 (default: five free ones from 20000 up)

Needs root only to install what is missing (dnsperf, unbound, dnsmasq-base,
dnsdist, dig) with apt-get; Go 1.26 must be installed (https://go.dev/dl/).
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    -d | --duration)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      duration=$2
      shift 2
      ;;
    --short)
      duration=3 warmup=1 miss_names=50000
      shift
      ;;
    --port-base)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      port_base=$2
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "run.sh: unknown argument '$1'" >&2
      usage >&2
      exit 2
      ;;
  esac
done
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --duration '$duration': want a whole number of seconds, like 20" >&2; exit 2; }
if [ -n "$port_base" ]; then
  [[ $port_base =~ ^[1-9][0-9]*$ ]] && [ "$port_base" -le 65531 ] || { echo "run.sh: --port-base '$port_base': want a port from 1 to 65531" >&2; exit 2; }
fi
if [ "$warmup" -gt "$duration" ]; then warmup=$duration; fi

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin:/usr/local/go/bin"

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# ---------------------------------------------------------------- tools

need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v unbound >/dev/null || need+=(unbound)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v dnsdist >/dev/null || need+=(dnsdist)
command -v dig >/dev/null || need+=(bind9-dnsutils)
command -v taskset >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}: run as root to install them with apt-get, or install them yourself"
  command -v apt-get >/dev/null || die "missing ${need[*]}, and this is not a Debian-like system: install them yourself"
  say "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's unbound and dnsdist packages start a system service; the
  # benchmark runs its own, so put the machine back as it was.
  for svc in unbound dnsdist; do
    if [[ " ${need[*]} " == *" $svc "* ]] && command -v systemctl >/dev/null &&
      systemctl is-active --quiet "$svc" 2>/dev/null; then
      say "stopping and disabling the $svc service the package just started"
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
fi
command -v go >/dev/null || die "go not found: install Go 1.26 or newer from https://go.dev/dl/"

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
  server_cpu=0 client_cpu=1
else
  server_cpu=0 client_cpu=0
  say "run.sh: only one CPU: the servers and dnsperf share it, so the figures are not comparable with 2-CPU runs"
fi

# ---------------------------------------------------------------- cleanup

tmp=$(mktemp -d -t nocontact-bench.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# forget PID: drop a process that has been waited for from the list.
forget() {
  local p keep=()
  for p in "${pids[@]}"; do
    [ "$p" = "$1" ] || keep+=("$p")
  done
  pids=("${keep[@]+"${keep[@]}"}")
}

# stop PID: stop one process started here, and forget it.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget "$1"
}

# ---------------------------------------------------------------- build

say "building nocontact and the bench helpers"
go build -o "$tmp/bin/nocontact" ./cmd/nocontact
go build -o "$tmp/bin/standin" ./bench/standin
go build -o "$tmp/bin/blocklist" ./bench/blocklist

# The stand-in answers every name; allowed names live under this domain.
allowed_zone=bench.example
standin_a=192.0.2.1
standin_aaaa=2001:db8::1

# ---------------------------------------------------------------- ports

# port_taken PORT: something listens on the port (ss), or answers DNS on it
# (dig, where ss is missing); it would be measured in place of our server.
port_taken() {
  if command -v ss >/dev/null; then
    [ -n "$(ss -Hlnu "sport = :$1"; ss -Hlnt "sport = :$1")" ]
  else
    dig +time=1 +tries=1 @127.0.0.1 -p "$1" "probe.$allowed_zone" A >/dev/null 2>&1
  fi
}

# ports_free BASE: BASE..BASE+4 are all free.
ports_free() {
  local p
  for ((p = $1; p < $1 + 5; p++)); do
    ! port_taken "$p" || return 1
  done
}

if [ -n "$port_base" ]; then
  ports_free "$port_base" || die "something already listens on 127.0.0.1 ports $port_base..$((port_base + 4)): stop it, or pick other ports with --port-base"
else
  # Other runs (CI in other work trees) may be going on: pick at random.
  for ((try = 0; ; try++)); do
    port_base=$((20000 + RANDOM % 2400 * 5)) # below the ephemeral ports
    ! ports_free "$port_base" || break
    [ "$try" -lt 20 ] || die "found no five free ports from 20000 up: pick some with --port-base"
  done
fi
standin_port=$port_base
nocontact_port=$((port_base + 1))
unbound_port=$((port_base + 2))
dnsmasq_port=$((port_base + 3))
dnsdist_port=$((port_base + 4))

# ---------------------------------------------------------------- query files

"$tmp/bin/blocklist" >"$tmp/blocked-domains.txt"
nblocked=$(wc -l <"$tmp/blocked-domains.txt")
[ "$nblocked" -gt 0 ] || die "the blocked-domain list is empty"

# 667 names under blocked platforms: www.DOMAIN for each domain, then
# bN.DOMAIN round the list; A, and AAAA for every other one.
awk -v n=667 '{ d[NR - 1] = $1 } END {
  for (i = 0; i < n; i++) {
    dom = d[i % NR]
    name = (i < NR) ? "www." dom : "b" i "." dom
    print name, (i % 2 ? "AAAA" : "A")
  }
}' "$tmp/blocked-domains.txt" >"$tmp/blocked-names.txt"
first_blocked=$(awk 'NR == 1 { print $1 }' "$tmp/blocked-names.txt")

# (a) cached+blocked: 2,000 allowed names (A) and the 667 blocked names, in
# a fixed shuffled order; dnsperf loops over the file, so after the warm-up
# every allowed name is in a caching server's cache.
{
  awk -v z="$allowed_zone" 'BEGIN { for (i = 0; i < 2000; i++) print "c" i "." z, "A" }'
  cat "$tmp/blocked-names.txt"
} | awk 'BEGIN { srand(7) } { printf "%.8f\t%s\n", rand(), $0 }' | sort -k1,1 | cut -f2- >"$tmp/cached.txt"

# (b) cache-miss-heavy: miss_names unique allowed names, one blocked name
# after every ninth, so about 90% of the queries miss any cache (the file is
# far larger than a 10,000-entry cache, and dnsperf loops over it in order).
# Its warm-up file has other names, so the warm-up caches none of them.
miss_file() { # PREFIX
  awk -v p="$1" -v z="miss.$allowed_zone" -v n="$miss_names" 'NR == FNR { b[NR - 1] = $0; nb = NR; next } END {
    for (i = 0; i < n; i++) {
      print p i "." z, "A"
      if (i % 9 == 8) print b[int(i / 9) % nb]
    }
  }' "$tmp/blocked-names.txt" /dev/null
}
miss_file u >"$tmp/miss.txt"
miss_file w >"$tmp/miss-warmup.txt"
cp "$tmp/cached.txt" "$tmp/cached-warmup.txt"

# ---------------------------------------------------------------- configs

cat >"$tmp/nocontact.toml" <<EOF
[pact]
block = ["all"]

[dns]
listen = ["127.0.0.1:$nocontact_port"]
upstreams = ["127.0.0.1:$standin_port"]
cache_size = 10000

# Its own state and control socket: run as root, the defaults would be
# the installed service's (/var/lib/nocontact, /run/nocontact.sock).
[daemon]
state_dir = "$tmp/state"
control_socket = "$tmp/nocontact.sock"
EOF

{
  cat <<EOF
server:
  interface: 127.0.0.1
  port: $unbound_port
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  access-control: 127.0.0.0/8 allow
  num-threads: 1
  chroot: ""
  username: ""
  directory: "$tmp"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  do-daemonize: no
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  # unbound sizes its caches in bytes: these hold far more than the 2,000
  # cached names and far less than the miss file, like a 10,000-entry cache.
  msg-cache-size: 4m
  rrset-cache-size: 8m
  msg-cache-slabs: 1
  rrset-cache-slabs: 1
  infra-cache-slabs: 1
  key-cache-slabs: 1
EOF
  awk '{ print "  local-zone: \"" $1 ".\" always_null" }' "$tmp/blocked-domains.txt"
  cat <<EOF
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$standin_port
remote-control:
  control-enable: no
EOF
} >"$tmp/unbound.conf"
unbound-checkconf "$tmp/unbound.conf" >/dev/null || die "unbound-checkconf rejected $tmp/unbound.conf"

{
  cat <<EOF
no-resolv
no-hosts
no-poll
server=127.0.0.1#$standin_port
cache-size=10000
listen-address=127.0.0.1
port=$dnsmasq_port
bind-interfaces
local-ttl=30
pid-file=
EOF
  # '#' answers 0.0.0.0 for A and :: for AAAA, as the other two do.
  awk '{ print "address=/" $1 "/#" }' "$tmp/blocked-domains.txt"
} >"$tmp/dnsmasq.conf"

# dnsdist: a forwarding front end with its packet cache (10,000 entries, as
# the others), answering 0.0.0.0 and :: for the blocked domains itself. No
# console, no security polling (it would ask a name outside 127.0.0.1).
{
  cat <<EOF
setLocal("127.0.0.1:$dnsdist_port")
setACL({"127.0.0.0/8"})
setSecurityPollSuffix("")
newServer({address="127.0.0.1:$standin_port"})
pc = newPacketCache(10000, {maxTTL=86400, minTTL=0})
getPool(""):setCache(pc)
blocked = newSuffixMatchNode()
EOF
  awk '{ print "blocked:add(\"" $1 "\")" }' "$tmp/blocked-domains.txt"
  echo 'addAction(SuffixMatchNodeRule(blocked), SpoofAction({"0.0.0.0", "::"}, {ttl=30}))'
} >"$tmp/dnsdist.conf"
dnsdist --check-config -C "$tmp/dnsdist.conf" >/dev/null || die "dnsdist --check-config rejected $tmp/dnsdist.conf"

# ---------------------------------------------------------------- helpers

# ask PORT NAME TYPE: the first answer's data, or "" (never fails). The
# generous timeout is for machines busy with other work, not for the servers.
ask() {
  dig +short +time=2 +tries=2 @127.0.0.1 -p "$1" "$2" "$3" 2>/dev/null | grep -v '^;' | head -n 1 || true
}


# wait_ready NAME PID PORT LOG: wait up to 15 s for an answer on PORT.
wait_ready() {
  local name=$1 pid=$2 port=$3 log=$4 i
  for ((i = 0; i < 150; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited before answering; its output:"
      sed 's/^/  /' "$log" >&2
      die "$name did not start"
    fi
    if [ -n "$(ask "$port" "ready.$allowed_zone" A)" ]; then
      return 0
    fi
    sleep 0.1
  done
  sed 's/^/  /' "$log" >&2
  die "$name did not answer on 127.0.0.1:$port within 15 s"
}

# check NAME PORT: the server blocks and forwards as it should, or the run
# fails: a number from a server that answers wrongly is worth nothing.
check() {
  local name=$1 port=$2 got want q
  for q in "a.$allowed_zone A $standin_a" "a.$allowed_zone AAAA $standin_aaaa" \
    "$first_blocked A 0.0.0.0" "$first_blocked AAAA ::"; do
    set -- $q
    want=$3
    got=$(ask "$port" "$1" "$2")
    [ "$got" = "$want" ] || die "$name answered '$got' for $1 $2, want '$want'"
  done
}

cpu_ticks() { # PID: utime+stime in clock ticks, all threads
  local s
  s=$(<"/proc/$1/stat")
  s=${s##*) }
  set -- $s
  echo $((${12} + ${13}))
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
upstream_count() { ask "$standin_port" queries.standin TXT | tr -d '"'; }
clk_tck=$(getconf CLK_TCK)

dnsperf_run() { # PORT FILE SECONDS OUT
  local pid rc=0
  # In the background and waited for, so that an interrupt stops it at once.
  taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$1" -d "$2" -c "$clients" -l "$3" -t 2 >"$4" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  [ "$rc" -eq 0 ] || { sed 's/^/  /' "$4" >&2; die "dnsperf failed against 127.0.0.1:$1"; }
}
noerror() { # FILE: how many answers were NOERROR
  awk '/Response codes:/ { for (i = 1; i < NF; i++) if ($i == "NOERROR") { print $(i + 1) + 0; exit } }' "$1"
}
perf_field() { # FILE LABEL: the first number after "LABEL:"
  awk -v l="$2:" '(i = index($0, l)) { split(substr($0, i + length(l)), f, " "); print f[1] + 0; exit }' "$1"
}

# ---------------------------------------------------------------- run

results=$tmp/results.tsv
: >"$results"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(uptime)


say "starting the stand-in upstream on 127.0.0.1:$standin_port (CPU $client_cpu, beside dnsperf)"
taskset -c "$client_cpu" "$tmp/bin/standin" -port "$standin_port" >"$tmp/standin.log" 2>&1 &
pids+=($!)
wait_ready standin $! "$standin_port" "$tmp/standin.log"

bench_server() { # NAME PORT CMD...
  local name=$1 port=$2 pid log idle mix file out t0 t1 u0 u1 done qps lat sd lost ok hwm
  shift 2
  log=$tmp/$name.log
  say "$name: starting on 127.0.0.1:$port (CPU $server_cpu)"
  taskset -c "$server_cpu" "$@" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_ready "$name" "$pid" "$port" "$log"
  check "$name" "$port"
  idle=$(status_kb "$pid" VmRSS)
  for mix in cached miss; do
    file=$tmp/$mix.txt
    out=$tmp/$name-$mix.dnsperf
    say "$name: $mix mix: ${warmup}s warm-up, ${duration}s measured"
    dnsperf_run "$port" "$tmp/$mix-warmup.txt" "$warmup" "$out.warmup"
    t0=$(cpu_ticks "$pid")
    u0=$(upstream_count)
    dnsperf_run "$port" "$file" "$duration" "$out"
    t1=$(cpu_ticks "$pid")
    u1=$(upstream_count)
    kill -0 "$pid" 2>/dev/null || die "$name died during the $mix mix; its output is in $log"
    hwm=$(status_kb "$pid" VmHWM)
    done=$(perf_field "$out" "Queries completed")
    qps=$(perf_field "$out" "Queries per second")
    lat=$(perf_field "$out" "Average Latency (s)")
    sd=$(perf_field "$out" "Latency StdDev (s)")
    lost=$(perf_field "$out" "Queries lost")
    ok=$(noerror "$out")
    [ "${done:-0}" -gt 0 ] || { sed 's/^/  /' "$out" >&2; die "$name completed no queries in the $mix mix"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$mix" "$qps" "$lat" "$sd" \
      "$((t1 - t0))" "$done" "$lost" "$((u1 - u0))" "$idle" "$hwm" "${ok:-0}" >>"$results"
  done
  check "$name" "$port"
  stop "$pid"
}

bench_server nocontact "$nocontact_port" "$tmp/bin/nocontact" run --config "$tmp/nocontact.toml" --log-level warn
bench_server unbound "$unbound_port" unbound -d -c "$tmp/unbound.conf"
bench_server dnsmasq "$dnsmasq_port" dnsmasq --no-daemon --conf-file="$tmp/dnsmasq.conf"
bench_server dnsdist "$dnsdist_port" dnsdist --supervised --disable-syslog -C "$tmp/dnsdist.conf"

load_after=$(uptime)

# ---------------------------------------------------------------- report

version_of() { "$@" 2>&1 | awk 'NF { print; exit }'; }
cat <<EOF

## $started: ${duration}s per server per mix, ${warmup}s warm-up

- machine: $ncpu CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)
- $(go version | sed 's/^go version //'); nocontact $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo '+changes')
- unbound $(unbound -V 2>&1 | awk '/^Version/ { print $2; exit }'), $(version_of dnsmasq --version | awk '{ print $1, $3 }'), dnsdist $(dnsdist --version 2>&1 | awk '/^dnsdist/ { print $2; exit }'), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2; exit }')
- load before: ${load_before#*load average: }; after: ${load_after#*load average: }
- servers on CPU $server_cpu, dnsperf ($clients clients) and the stand-in on CPU $client_cpu
- cached mix: 2,000 allowed names + 667 blocked; miss mix: $miss_names unique allowed names + 1 blocked in 10

| server | mix | queries/s | avg latency ms (stddev) | CPU µs/query | server CPU busy | lost | NOERROR | upstream/query | idle RSS MB | peak RSS MB |
|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|
EOF
awk -F'\t' -v tck="$clk_tck" -v secs="$duration" '{
  cpu = $6 / tck / $7 * 1e6
  printf "| %s | %s | %.0f | %.3f (%.3f) | %.2f | %.0f%% | %d | %.1f%% | %.2f | %.1f | %.1f |\n",
    $1, $2, $3, $4 * 1000, $5 * 1000, cpu, $6 / tck / secs * 100, $8, $12 / $7 * 100, $9 / $7, $10 / 1024, $11 / 1024
}' "$results"

echo
echo "| ratio | mix | queries/s | CPU/query |"
echo "|---|---|--:|--:|"
awk -F'\t' '{ qps[$1, $2] = $3; cpu[$1, $2] = $6 / $7 } END {
  split("unbound dnsmasq dnsdist", other, " ")
  split("cached miss", mixes, " ")
  for (o = 1; o <= 3; o++) for (m = 1; m <= 2; m++) {
    k = other[o] SUBSEP mixes[m]; n = "nocontact" SUBSEP mixes[m]
    printf "| nocontact/%s | %s | %.2f | %s |\n", other[o], mixes[m], qps[n] / qps[k],
      (cpu[k] > 0 ? sprintf("%.2f", cpu[n] / cpu[k]) : "n/a")
  }
}' "$results"
