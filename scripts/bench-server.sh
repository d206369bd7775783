#!/usr/bin/env bash
# Throughput and memory of `vigil server` against the Debian redis-server, side by
# side in one run (a benchmark, not a test: it never fails on a slow result).
#
#   scripts/bench-server.sh            # 3 rounds
#   ROUNDS=5 N1=200000 N16=1000000 TESTS="set get" scripts/bench-server.sh
#
# For each round, -P 1 and -P 16, and each test (SET GET INCR LPUSH LRANGE_100
# HSET), redis-benchmark -c 50 runs against both servers back to back, the order
# alternating between rounds. Prints the median requests/s per server and the
# Vigil/Redis ratio. Then each server is restarted empty, loaded with
# `DEBUG POPULATE 1000000` (1M small string keys), and its RSS (VmRSS) compared.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
N1=${N1:-100000}       # requests per test at -P 1
N16=${N16:-1000000}    # requests per test at -P 16
CLIENTS=${CLIENTS:-50}
KEYS=${KEYS:-1000000}
read -ra TESTS <<<"${TESTS:-set get incr lpush lrange_100 hset}"

for tool in redis-server redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

cargo build --release --bin vigil >&2
VIGIL="$PWD/target/release/vigil"
WORK=$(mktemp -d /tmp/vigil-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 1 200); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server on port $1 did not start" >&2
  exit 1
}

# start NAME PORT -> sets LAST_PID
start() {
  local name=$1 port=$2
  mkdir -p "$WORK/$name"
  if [ "$name" = vigil ]; then
    "$VIGIL" server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --enable-debug-command yes --dir "$WORK/$name" >"$WORK/$name.log" 2>&1 &
  else
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --enable-debug-command yes --daemonize no --dir "$WORK/$name" >"$WORK/$name.log" 2>&1 &
  fi
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  wait_port "$port"
}

VPORT=$(free_port); start vigil "$VPORT"; VPID=$LAST_PID
RPORT=$(free_port); start redis "$RPORT"; RPID=$LAST_PID
echo "vigil $("$VIGIL" --version 2>/dev/null || echo) on :$VPORT, $(redis-server --version | cut -d' ' -f1-3) on :$RPORT" >&2
echo "rounds=$ROUNDS clients=$CLIENTS n(-P1)=$N1 n(-P16)=$N16 cpus=$(nproc)" >&2

RESULTS="$WORK/results.txt"
: >"$RESULTS"
# bench SERVER PORT PIPELINE TEST: appends "server P test rps" (rps=0 on failure).
bench() {
  local server=$1 port=$2 p=$3 t=$4 n
  n=$([ "$p" = 1 ] && echo "$N1" || echo "$N16")
  local out rps
  out=$(redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" -P "$p" -t "$t" --csv 2>&1 || true)
  # The row named exactly like the test (LRANGE_100 also prints its LPUSH filler).
  local want
  want=$(echo "$t" | tr 'a-z' 'A-Z' | sed 's/LRANGE_100/LRANGE_100 (first 100 elements)/')
  rps=$(echo "$out" | awk -F'","' -v want="$want" '{gsub(/^"/,"",$1)} $1==want {print $2; exit}')
  if [ -z "$rps" ]; then
    echo "  $server -P $p $t: no result: $(echo "$out" | tail -1)" >&2
    rps=0
  fi
  echo "$server $p $t $rps" >>"$RESULTS"
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  for p in 1 16; do
    for t in "${TESTS[@]}"; do
      if [ $((round % 2)) = 1 ]; then
        bench vigil "$VPORT" "$p" "$t"; bench redis "$RPORT" "$p" "$t"
      else
        bench redis "$RPORT" "$p" "$t"; bench vigil "$VPORT" "$p" "$t"
      fi
    done
  done
done

# CPU work per request, which depends less than requests/s on how busy the machine
# is: `perf stat` of each server process over the same SET/GET run: CPU time
# (task-clock) and, where the machine has hardware counters (many VMs do not),
# instructions (user + kernel). Skipped when perf is unavailable.
INSTR="$WORK/instr.txt"
: >"$INSTR"
if [ "${SKIP_INSTR:-0}" != 1 ] && command -v perf >/dev/null \
  && perf stat -e task-clock true >/dev/null 2>&1; then
  events=task-clock
  if ! perf stat -x, -e instructions:u true 2>&1 >/dev/null | grep -q "not supported"; then
    events=task-clock,instructions:u,instructions:k
  fi
  for p in 1 16; do
    for t in set get; do
      for server in vigil redis; do
        if [ $server = vigil ]; then pid=$VPID port=$VPORT; else pid=$RPID port=$RPORT; fi
        n=$([ "$p" = 1 ] && echo "$N1" || echo "$N16")
        perf stat -x, -e "$events" -p "$pid" -o "$WORK/perf.out" &
        ps=$!
        sleep 0.3
        redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" -P "$p" -t "$t" -q >/dev/null 2>&1 || true
        kill -INT "$ps"; wait "$ps" 2>/dev/null || true
        cpu_ms=$(awk -F, '/task-clock/ {printf "%.3f\n", $1}' "$WORK/perf.out")
        instr=$(awk -F, '/instructions/ && $1 ~ /^[0-9]+$/ {s += $1} END {printf "%.0f\n", s}' "$WORK/perf.out")
        echo "$server $p $t ${cpu_ms:-0} ${instr:-0} $n" >>"$INSTR"
      done
    done
  done
fi

# Memory: fresh servers, 1M keys each, RSS from /proc.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
kill "$VPID" "$RPID"; wait "$VPID" "$RPID" 2>/dev/null || true
VPORT=$(free_port); start vigil "$VPORT"; VPID=$LAST_PID
RPORT=$(free_port); start redis "$RPORT"; RPID=$LAST_PID
V_EMPTY=$(rss_kb "$VPID"); R_EMPTY=$(rss_kb "$RPID")
redis-cli -p "$VPORT" debug populate "$KEYS" >/dev/null
redis-cli -p "$RPORT" debug populate "$KEYS" >/dev/null
V_KEYS=$(redis-cli -p "$VPORT" info keyspace | tr -d '\r' | sed -n 's/^db0:keys=\([0-9]*\).*/\1/p')
R_KEYS=$(redis-cli -p "$RPORT" info keyspace | tr -d '\r' | sed -n 's/^db0:keys=\([0-9]*\).*/\1/p')
sleep 1
V_RSS=$(rss_kb "$VPID"); R_RSS=$(rss_kb "$RPID")

python3 - "$RESULTS" "$V_EMPTY" "$R_EMPTY" "$V_RSS" "$R_RSS" "$V_KEYS" "$R_KEYS" "$KEYS" "$INSTR" <<'EOF'
import statistics, sys
path, v_empty, r_empty, v_rss, r_rss, v_keys, r_keys, keys, instr = sys.argv[1:]
rows = {}
for line in open(path):
    server, p, test, rps = line.split()
    rows.setdefault((int(p), test, server), []).append(float(rps))
tests = list(dict.fromkeys(k[1] for k in rows))
print(f"{'test':<12}{'pipeline':>9}{'vigil rps':>14}{'redis rps':>14}{'vigil/redis':>13}")
for p in (1, 16):
    for t in tests:
        v = rows.get((p, t, "vigil"), [0])
        r = rows.get((p, t, "redis"), [0])
        vm, rm = statistics.median(v), statistics.median(r)
        ratio = f"{vm / rm:.2f}x" if rm and vm else "n/a"
        print(f"{t.upper():<12}{'-P ' + str(p):>9}{vm:>14,.0f}{rm:>14,.0f}{ratio:>13}")
cpu, ins = {}, {}
for line in open(instr):
    server, p, test, cpu_ms, total, n = line.split()
    cpu[(int(p), test, server)] = float(cpu_ms) * 1e6 / int(n)
    if float(total) > 0:
        ins[(int(p), test, server)] = float(total) / int(n)
for title, table, fmt in (("server CPU ns/request (perf stat task-clock)", cpu, ",.0f"),
                          ("instructions/request (user+kernel, perf stat)", ins, ",.0f")):
    if not table:
        continue
    print()
    print(f"{title:<48}{'vigil':>9}{'redis':>9}{'vigil/redis':>13}")
    for (p, t, server), v in sorted(table.items()):
        if server != "vigil":
            continue
        r = table.get((p, t, "redis"), 0)
        print(f"{t.upper() + ' -P ' + str(p):<48}{v:>9{fmt}}{r:>9{fmt}}{(v / r if r else 0):>12.2f}x")
mb = lambda kb: int(kb) / 1024
print()
print(f"RSS with {int(keys):,} keys (DEBUG POPULATE): vigil {mb(v_rss):.1f} MB "
      f"({v_keys} keys, {mb(v_empty):.1f} MB empty), redis {mb(r_rss):.1f} MB "
      f"({r_keys} keys, {mb(r_empty):.1f} MB empty), vigil/redis {int(v_rss) / int(r_rss):.2f}x")
EOF
