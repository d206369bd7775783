#!/usr/bin/env bash
# Two vigil builds and redis-sentinel side by side, in ONE run, monitoring the same N
# masters (each with one replica): CPU per window for each and the ratios B/A, A/R,
# B/R. Separate runs of scripts/bench-sentinel-scale.sh swing +-0.05 in their ratio
# (machine state changes between runs); within one run both builds see the same
# load, so a few percent are measurable. The three sentinels also peer with each other.
#
#   A=path/to/old/vigil B=target/release/vigil K=8 W=15 scripts/bench-sentinel-ab.sh
#
# N (100), W (window seconds, 15), K (windows, 8), BASE_PORT (22000).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}; BASE=${BASE_PORT:-22000}; W=${W:-15}; K=${K:-8}
A=${A:?A=path to the first vigil binary}; B=${B:-target/release/vigil}
tmp=$(mktemp -d); pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for i in $(seq 0 $((N - 1))); do
  mp=$((BASE + i)); rp=$((BASE + N + i))
  redis-server --port $mp --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --logfile "$tmp/m$i.log" & pids+=($!)
  redis-server --port $rp --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --logfile "$tmp/r$i.log" --replicaof 127.0.0.1 $mp & pids+=($!)
done
sleep 2
conf() { # port file
  {
    echo "port $1"; echo "bind 127.0.0.1"
    for i in $(seq 0 $((N - 1))); do
      echo "sentinel monitor m$i 127.0.0.1 $((BASE + i)) 2"
      echo "sentinel down-after-milliseconds m$i 5000"
    done
  } >"$2"
}
conf $((BASE + 2 * N + 1)) "$tmp/a.conf"
conf $((BASE + 2 * N + 2)) "$tmp/b.conf"
conf $((BASE + 2 * N + 3)) "$tmp/r.conf"
"$A" sentinel "$tmp/a.conf" >"$tmp/a.log" 2>&1 & ap=$!; pids+=($ap)
"$B" sentinel "$tmp/b.conf" >"$tmp/b.log" 2>&1 & bp=$!; pids+=($bp)
redis-sentinel "$tmp/r.conf" >"$tmp/r.log" 2>&1 & rp=$!; pids+=($rp)
echo "warming up 10s..."
sleep 10
# CPU ns over the process's threads (exact run time; see bench-sentinel-scale.sh).
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
ta=0; tb=0; tr=0
for _ in $(seq "$K"); do
  a0=$(cpu $ap); b0=$(cpu $bp); r0=$(cpu $rp)
  sleep "$W"
  a1=$(cpu $ap); b1=$(cpu $bp); r1=$(cpu $rp)
  awk -v a="$((a1 - a0))" -v b="$((b1 - b0))" -v r="$((r1 - r0))" -v w="$W" 'BEGIN {
    printf "A %5.0f us/s  B %5.0f us/s  R %5.0f us/s   B/A %.3f  A/R %.3f  B/R %.3f\n",
      a / w / 1000, b / w / 1000, r / w / 1000, b / a, a / r, b / r }'
  ta=$((ta + a1 - a0)); tb=$((tb + b1 - b0)); tr=$((tr + r1 - r0))
done
awk -v a="$ta" -v b="$tb" -v r="$tr" 'BEGIN {
  printf "total  B/A %.3f  A/R %.3f  B/R %.3f\n", b / a, a / r, b / r }'
