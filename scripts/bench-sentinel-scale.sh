#!/usr/bin/env bash
# One sentinel monitoring N masters (each with one replica): `vigil sentinel` and
# `redis-sentinel` side by side in the same run, over the same redis-servers.
# Prints CPU seconds per minute and RSS of each, and the ratios (target: vigil CPU
# <= 0.5x redis-sentinel's, RSS <= 1.0x).
#
#   N=100 DUR=60 scripts/bench-sentinel-scale.sh
#
# VIGIL=path picks another vigil binary (e.g. a saved baseline); KEEP=1 keeps the
# temporary directory (configs and logs) for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}
DUR=${DUR:-60}
WARMUP=${WARMUP:-10}
BASE=${BASE_PORT:-31000}
VIGIL=${VIGIL:-target/release/vigil}
if [ ! -x "$VIGIL" ]; then cargo build --release >/dev/null; fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

echo "starting $N masters and $N replicas..."
for i in $(seq 0 $((N - 1))); do
  mp=$((BASE + i)); rp=$((BASE + N + i))
  redis-server --port $mp --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --daemonize no --logfile "$tmp/m$i.log" & pids+=($!)
  redis-server --port $rp --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --daemonize no --logfile "$tmp/r$i.log" --replicaof 127.0.0.1 $mp & pids+=($!)
done
sleep 2

conf() { # port file
  {
    echo "port $1"
    echo "bind 127.0.0.1"
    echo "daemonize no"
    for i in $(seq 0 $((N - 1))); do
      echo "sentinel monitor m$i 127.0.0.1 $((BASE + i)) 2"
      echo "sentinel down-after-milliseconds m$i 5000"
    done
  } >"$2"
}
VP=$((BASE + 2 * N + 1)); RP=$((BASE + 2 * N + 2))
conf $VP "$tmp/vigil.conf"
conf $RP "$tmp/redis.conf"
"$VIGIL" sentinel "$tmp/vigil.conf" >"$tmp/vigil.log" 2>&1 & vpid=$!; pids+=($vpid)
redis-sentinel "$tmp/redis.conf" >"$tmp/redis-sentinel.log" 2>&1 & rpid=$!; pids+=($rpid)

echo "warming up ${WARMUP}s..."
sleep "$WARMUP"
# CPU time in ns summed over the process's threads (/proc/PID/task/*/schedstat: exact
# run time, not the 10 ms ticks of /proc/PID/stat, which made short runs noisy; a thread
# that exits during the run would drop out, none does in this steady state).
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
v0=$(cpu $vpid); r0=$(cpu $rpid)
echo "measuring ${DUR}s..."
sleep "$DUR"
v1=$(cpu $vpid); r1=$(cpu $rpid)
vr=$(rss $vpid); rr=$(rss $rpid)
vrep=$(redis-cli -p $VP sentinel replicas m0 | grep -c '^name' || true)
rrep=$(redis-cli -p $RP sentinel replicas m0 | grep -c '^name' || true)

awk -v v0="$v0" -v v1="$v1" -v r0="$r0" -v r1="$r1" -v d="$DUR" \
    -v vr="$vr" -v rr="$rr" -v n="$N" -v vrep="$vrep" -v rrep="$rrep" 'BEGIN {
  vc = (v1 - v0) / 1e9 * 60 / d; rc = (r1 - r0) / 1e9 * 60 / d
  printf "masters monitored: %d (replicas seen for m0: vigil %d, redis %d)\n", n, vrep, rrep
  printf "%-16s %14s %10s\n", "", "cpu s/min", "rss MB"
  printf "%-16s %14.3f %10.1f\n", "vigil sentinel", vc, vr / 1024
  printf "%-16s %14.3f %10.1f\n", "redis-sentinel", rc, rr / 1024
  if (rc > 0) printf "cpu ratio vigil/redis: %.2f (target <= 0.5)\n", vc / rc
  printf "rss ratio vigil/redis: %.2f (target <= 1.0)\n", vr / rr
}'
