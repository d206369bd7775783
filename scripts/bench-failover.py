#!/usr/bin/env python3
"""Failover speed, Vigil vs Redis, side by side.

1 master + 2 replicas + 3 sentinels on loopback, quorum 2, down-after 1000 ms. A
redis-py Sentinel client writes every few ms; the master is SIGKILLed. Measured from
the kill: (a) every sentinel's get-master-addr-by-name answers the new master, (b) the
client's writes succeed again (on the new master); and the acknowledged writes missing
from the new master. Runs interleave Vigil and Redis; prints medians and the ratio.

  scripts/bench-failover.py [runs]          (default 5)
  BENCH_VIGIL_SERVER=redis ...              vigil sentinels over redis-server
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
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "target", "release", "vigil"))
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

    def sentinel(self, port, master_port):
        conf = os.path.join(self.dir, "sentinel-%d.conf" % port)
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\n" % port)
            f.write("sentinel monitor %s 127.0.0.1 %d 2\n" % (NAME, master_port))
            f.write("sentinel down-after-milliseconds %s 1000\n" % NAME)
            f.write("sentinel failover-timeout %s 10000\n" % NAME)
        args = [VIGIL, "sentinel", conf] if self.kind == "vigil" else ["redis-sentinel", conf]
        p = self.spawn(args, "sentinel-%d" % port)
        wait("sentinel %d" % port, lambda: redis.Redis(port=port).ping())
        return p

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


def run(kind):
    c = Cluster(kind)
    try:
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
            c.sentinel(p, mp)
        for p in sps:
            wait("discovery", lambda p=p: len(redis.Redis(port=p).execute_command("SENTINEL", "REPLICAS", NAME)) == 2
                 and len(redis.Redis(port=p).execute_command("SENTINEL", "SENTINELS", NAME)) == 2, 30)
        if c.kind == "vigil" and os.environ.get("BENCH_FENCING"):
            wait("fenced master writable", lambda: redis.Redis(port=mp).set("x", 1), 30)
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


def main():
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


if __name__ == "__main__":
    main()
