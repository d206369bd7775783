#!/usr/bin/env bash
# Replication benchmark: vigil server vs redis-server, side by side in one run.
#
#   1. stall: longest PING round trip seen by a client pinging in a loop while a
#      snapshot (BGSAVE) of KEYS keys is taken (target <= 100 ms);
#   2. link-up: time from starting a replica until master_link_status:up, with KEYS
#      keys on the master (full sync; target <= 1.0x Redis);
#   3. lag: replication lag in bytes sampled every 10 ms while redis-benchmark runs a
#      SET load on the master: master_repl_offset - replica ACK offset (INFO slave0)
#      and master_repl_offset - replica slave_repl_offset; p50/p99 (target <= Redis).
#
# Usage: scripts/bench-replication.sh [KEYS]   (default 1000000; VIGIL=path to binary)
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${1:-${KEYS:-1000000}}
VIGIL=${VIGIL:-target/release/vigil}
if [ ! -x "$VIGIL" ]; then
  cargo build --release --bin vigil
fi
export VIGIL KEYS
exec python3 - <<'EOF'
import os, subprocess, socket, tempfile, threading, time, statistics, redis

VIGIL = os.environ["VIGIL"]
KEYS = int(os.environ["KEYS"])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class Server:
    def __init__(self, kind, extra=()):
        self.dir = tempfile.mkdtemp(prefix=f"bench-repl-{kind}-")
        self.port = free_port()
        common = ["--port", str(self.port), "--save", "", "--dir", self.dir,
                  "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0"]
        if kind == "redis":
            cmd = ["redis-server", *common, "--daemonize", "no", "--bind", "127.0.0.1"]
        else:
            cmd = [VIGIL, "server", *common]
        self.proc = subprocess.Popen(cmd + list(extra), stdout=open(os.path.join(self.dir, "log"), "w"),
                                     stderr=subprocess.STDOUT)
        self.r = redis.Redis(port=self.port, socket_timeout=120)
        for _ in range(500):
            try:
                self.r.ping(); break
            except Exception:
                time.sleep(0.01)
    def stop(self):
        self.proc.kill(); self.proc.wait()

def info(r, field, section="replication"):
    return r.info(section).get(field)

def populate(r):
    r.execute_command("DEBUG", "POPULATE", KEYS, "key", 16)
    assert r.dbsize() == KEYS, r.dbsize()

PINGER = """
import redis, sys, time
c = redis.Redis(port=int(sys.argv[1]), socket_timeout=60)
end = time.perf_counter() + float(sys.argv[2]); worst = 0.0
while time.perf_counter() < end:
    t = time.perf_counter(); c.ping(); worst = max(worst, time.perf_counter() - t)
print(worst * 1000)
"""

def stall(kind):
    m = Server(kind); populate(m.r)
    time.sleep(1.1)  # LASTSAVE has a 1 s resolution
    before = m.r.lastsave()
    pinger = subprocess.Popen(["python3", "-c", PINGER, str(m.port), "4"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    t0 = time.perf_counter()
    m.r.bgsave()
    while m.r.lastsave() == before and time.perf_counter() - t0 < 120:
        time.sleep(0.01)
    save_s = time.perf_counter() - t0
    worst = float(pinger.communicate()[0].strip())
    m.stop()
    return worst, save_s

def link_up(kind):
    m = Server(kind); populate(m.r)
    t0 = time.perf_counter()
    r = Server(kind, ["--replicaof", "127.0.0.1", str(m.port)])
    while info(r.r, "master_link_status") != "up":
        time.sleep(0.005)
        if time.perf_counter() - t0 > 300: raise SystemExit("link never came up")
    dt = time.perf_counter() - t0
    ok = r.r.dbsize() == KEYS
    r.stop(); m.stop()
    return dt, ok

def lag(kind):
    m = Server(kind)
    r = Server(kind, ["--replicaof", "127.0.0.1", str(m.port)])
    while info(r.r, "master_link_status") != "up": time.sleep(0.01)
    bench = subprocess.Popen(["redis-benchmark", "-p", str(m.port), "-t", "set", "-n", "400000",
                              "-c", "50", "-r", "100000", "-d", "32", "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ack, direct = [], []
    time.sleep(0.3)
    while bench.poll() is None:
        mi = m.r.info("replication")
        mro = int(mi["master_repl_offset"])
        if "slave0" in mi:
            ack.append(mro - int(mi["slave0"]["offset"]))
        ro = int(info(r.r, "slave_repl_offset"))
        direct.append(max(0, mro - ro))
        time.sleep(0.01)
    r.stop(); m.stop()
    pct = lambda v, p: sorted(v)[min(len(v) - 1, int(len(v) * p))] if v else -1
    return pct(ack, .5), pct(ack, .99), pct(direct, .5), pct(direct, .99)

res = {}
for kind in ("redis", "vigil"):
    print(f"[{kind}] snapshot stall ...", flush=True); res[(kind, "stall")] = stall(kind)
    print(f"[{kind}] link-up ...", flush=True); res[(kind, "link")] = link_up(kind)
    print(f"[{kind}] lag ...", flush=True); res[(kind, "lag")] = lag(kind)

def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"

print(f"\nreplication benchmark, {KEYS} keys (ours = vigil, ratio = vigil / redis)")
print(f"{'metric':44} {'redis':>10} {'vigil':>10} {'ratio':>8}")
rs, vs = res[("redis", "stall")], res[("vigil", "stall")]
print(f"{'longest PING stall during BGSAVE (ms)':44} {rs[0]:10.1f} {vs[0]:10.1f} {ratio(vs[0], rs[0]):>8}")
print(f"{'BGSAVE duration (s)':44} {rs[1]:10.2f} {vs[1]:10.2f} {ratio(vs[1], rs[1]):>8}")
rl, vl = res[("redis", "link")], res[("vigil", "link")]
print(f"{'time to master_link_status:up (s)':44} {rl[0]:10.2f} {vl[0]:10.2f} {ratio(vl[0], rl[0]):>8}")
print(f"{'  replica has all keys':44} {str(rl[1]):>10} {str(vl[1]):>10}")
ra, va = res[("redis", "lag")], res[("vigil", "lag")]
names = ["lag p50, master offset - ACK (bytes)", "lag p99, master offset - ACK (bytes)",
         "lag p50, master - replica offset (bytes)", "lag p99, master - replica offset (bytes)"]
for i, n in enumerate(names):
    print(f"{n:44} {ra[i]:10d} {va[i]:10d} {ratio(va[i], ra[i]):>8}")
EOF
