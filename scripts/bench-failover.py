#!/usr/bin/env python3
"""Failover speed, Vigil vs Redis, side by side.

1 master + 2 replicas + 3 sentinels on loopback, quorum 2, down-after 1000 ms. A
redis-py Sentinel client writes every few ms; the master is SIGKILLed. Measured from
the kill: (a) every sentinel's get-master-addr-by-name answers the new master, (b) the
client's writes succeed again (on the new master); and the acknowledged writes missing
from the new master. Runs interleave Vigil and Redis; prints medians and the ratio.

Then two checks, for both: no failover when the master is SIGSTOPped for half of
down-after (3 stops of 500 ms at down-after 1000 ms), and no ping-pong: at
down-after 250 ms exactly one failover per master crash (completed failovers counted
in the sentinels' logs over 5 s after every sentinel shows the new master).

  scripts/bench-failover.py [runs]          (default 5)
  scripts/bench-failover.py --checks-only   only the two checks
  BENCH_VIGIL_SERVER=redis ...              vigil sentinels over redis-server
  VIGIL=path/to/vigil ...                   use that binary (default: builds release)
  BENCH_FENCING=1 ...                       vigil servers with write fencing (lease 500 ms)
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.sentinel import Sentinel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.path.abspath(os.environ.get("VIGIL", os.path.join(ROOT, "target", "release", "vigil")))
NAME = "mymaster"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what, cond, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.01)
    raise RuntimeError("timed out waiting for " + what)


class Cluster:
    def __init__(self, kind):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="bench-failover-")
        self.procs = []

    def spawn(self, args, name):
        log = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.procs.append(p)
        return p

    def server(self, port, extra=()):
        use_vigil = self.kind == "vigil" and os.environ.get("BENCH_VIGIL_SERVER", "vigil") == "vigil"
        base = [VIGIL, "server"] if use_vigil else ["redis-server", "--repl-diskless-sync-delay", "0"]
        args = base + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", self.dir] + list(extra)
        if use_vigil and os.environ.get("BENCH_FENCING"):
            args += ["--vigil-fencing", "yes", "--vigil-fencing-quorum", "2", "--vigil-fencing-lease-ms", "500"]
        p = self.spawn(args, "server-%d" % port)
        wait("server %d" % port, lambda: redis.Redis(port=port).ping())
        return p

    def sentinel(self, port, master_port, down_after=1000):
        conf = os.path.join(self.dir, "sentinel-%d.conf" % port)
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\n" % port)
            f.write("sentinel monitor %s 127.0.0.1 %d 2\n" % (NAME, master_port))
            f.write("sentinel down-after-milliseconds %s %d\n" % (NAME, down_after))
            f.write("sentinel failover-timeout %s 10000\n" % NAME)
        args = [VIGIL, "sentinel", conf] if self.kind == "vigil" else ["redis-sentinel", conf]
        p = self.spawn(args, "sentinel-%d" % port)
        wait("sentinel %d" % port, lambda: redis.Redis(port=port).ping())
        return p

    def sentinel_logs(self, ports):
        out = []
        for p in ports:
            with open(os.path.join(self.dir, "sentinel-%d.log" % p)) as f:
                out.append(f.read())
        return out

    def stop(self):
        if os.environ.get("KEEP"):
            print("kept logs in", self.dir)
        for p in self.procs:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass


def addr(port):
    r = redis.Redis(port=port, socket_timeout=0.5)
    a = r.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME)
    return int(a[1])


def topology(c, down_after=1000):
    """1 master + 2 replicas + 3 sentinels, all known to each other."""
    mp = free_port()
    master = c.server(mp)
    rps = [free_port(), free_port()]
    for p in rps:
        c.server(p, ["--replicaof", "127.0.0.1", str(mp)])

    def online():
        info = redis.Redis(port=mp).info("replication")
        return sum(1 for k, v in info.items() if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online") == 2
    wait("replicas online", online, 30)
    sps = [free_port() for _ in range(3)]
    for p in sps:
        c.sentinel(p, mp, down_after)
    for p in sps:
        wait("discovery", lambda p=p: len(redis.Redis(port=p).execute_command("SENTINEL", "REPLICAS", NAME)) == 2
             and len(redis.Redis(port=p).execute_command("SENTINEL", "SENTINELS", NAME)) == 2, 30)
    if c.kind == "vigil" and os.environ.get("BENCH_FENCING"):
        wait("fenced master writable", lambda: redis.Redis(port=mp).set("x", 1), 30)
    return mp, master, sps


def check_short_stop(kind):
    """Master SIGSTOPped for half of down-after, 3 times: failovers seen (want 0)."""
    c = Cluster(kind)
    master = None
    try:
        mp, master, sps = topology(c, 1000)
        time.sleep(1.0)
        for _ in range(3):
            os.kill(master.pid, signal.SIGSTOP)
            time.sleep(0.5)
            os.kill(master.pid, signal.SIGCONT)
            time.sleep(1.0)
        moved = sum(1 for p in sps if addr(p) != mp)
        ends = sum(log.count("+failover-end") for log in c.sentinel_logs(sps))
        return max(moved, ends)
    finally:
        if master is not None:
            os.kill(master.pid, signal.SIGCONT)
        c.stop()


def check_ping_pong(kind):
    """Down-after 250 ms, master SIGKILLed: completed failovers (want exactly 1)."""
    c = Cluster(kind)
    try:
        mp, master, sps = topology(c, 250)
        time.sleep(1.0)
        os.kill(master.pid, signal.SIGKILL)
        wait("new master on every sentinel", lambda: all(addr(p) != mp for p in sps), 60)
        time.sleep(5.0)
        return sum(log.count("+failover-end ") for log in c.sentinel_logs(sps))
    finally:
        c.stop()


def run(kind):
    c = Cluster(kind)
    try:
        mp, master, sps = topology(c)
        sentinel = Sentinel([("127.0.0.1", p) for p in sps], socket_timeout=0.3, protocol=2)
        acked = []
        first_ok_after_kill = [None]
        killed_at = [None]
        stop = threading.Event()

        def writer():
            client = sentinel.master_for(NAME, socket_timeout=0.3, socket_connect_timeout=0.3, protocol=2)
            i = 0
            while not stop.is_set():
                i += 1
                started = time.time()
                try:
                    client.rpush("log", i)
                    acked.append(i)
                    after_kill = killed_at[0] is not None and started > killed_at[0]
                    if after_kill and first_ok_after_kill[0] is None:
                        first_ok_after_kill[0] = time.time()
                except Exception:
                    time.sleep(0.005)
                time.sleep(0.003)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(1.0)
        os.kill(master.pid, signal.SIGKILL)
        killed_at[0] = time.time()
        wait("new master on every sentinel", lambda: all(addr(p) != mp for p in sps), 60)
        t_a = time.time() - killed_at[0]
        wait("writes succeed again", lambda: first_ok_after_kill[0] is not None, 60)
        t_b = first_ok_after_kill[0] - killed_at[0]
        time.sleep(1.0)
        stop.set()
        t.join()
        new = addr(sps[0])
        have = set(int(x) for x in redis.Redis(port=new).lrange("log", 0, -1))
        lost = sum(1 for i in acked if i not in have)
        return t_a, t_b, lost
    finally:
        c.stop()


def verdict(kind, good):
    """Only Vigil's results decide the exit status; Redis's are shown for contrast."""
    if good:
        return "  ok"
    return "  FAIL" if kind == "vigil" else "  (redis-sentinel's known behaviour)"


def checks():
    ok = True
    for kind in ("vigil", "redis"):
        n = check_short_stop(kind)
        print("check %-5s SIGSTOP for half of down-after x3: %d failover(s) (want 0)%s" % (kind, n, verdict(kind, n == 0)), flush=True)
        ok = ok and (n == 0 or kind == "redis")
    for kind in ("vigil", "redis"):
        counts = [check_ping_pong(kind) for _ in range(3)]
        bad = [n for n in counts if n != 1]
        print("check %-5s down-after 250 ms, 3 crashes: failovers per crash %s (want 1 each)%s" % (kind, counts, verdict(kind, not bad)), flush=True)
        ok = ok and (not bad or kind == "redis")
    return ok


def main():
    if "VIGIL" not in os.environ:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if sys.argv[1:] == ["--checks-only"]:
        sys.exit(0 if checks() else 1)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    res = {"vigil": [], "redis": []}
    for r in range(runs):
        for kind in ("vigil", "redis"):
            a, b, lost = run(kind)
            res[kind].append((a, b, lost))
            print("run %d %-5s  (a) all sentinels %.3fs  (b) writes ok %.3fs  lost %d" % (r + 1, kind, a, b, lost), flush=True)
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v), sum(x[2] for x in v)) for k, v in res.items()}
    for k in ("vigil", "redis"):
        print("median %-5s (a) %.3fs  (b) %.3fs  lost total %d" % (k, med[k][0], med[k][1], med[k][2]))
    print("ratio vigil/redis (a) %.2f  (b) %.2f" % (med["vigil"][0] / med["redis"][0], med["vigil"][1] / med["redis"][1]))
    if not checks():
        sys.exit(1)


if __name__ == "__main__":
    main()
