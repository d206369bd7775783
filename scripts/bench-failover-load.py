#!/usr/bin/env python3
"""Load during failover, on loopback: 1 master + 2 replicas + 3 sentinels (quorum 2);
N concurrent client connections (default 1000) each send pipelined batches of writes
to the master; after a warm-up the master is SIGKILLed. Measures the failover time
(kill -> every sentinel names the new master) and how the clients come back (each
re-asks a sentinel after an error and reconnects): how many of the N served by the
new master, and the time from the kill to each client's first good batch (p50, p99,
max). Throughput before and after. Bounded in time; loopback only.

Usage: scripts/bench-failover-load.py [--server vigil|redis] [--sentinel vigil|redis]
           [--clients 1000] [--pipeline 10] [--compare]
--compare runs vigil (server+sentinel) and Redis in turn and prints both.
"""
import argparse
import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import shutil
import time

DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


async def read_reply(r):
    """Read one RESP2 reply; returns (is_error, value)."""
    line = await r.readline()
    if not line:
        raise ConnectionError("closed")
    t, rest = line[:1], line[1:-2]
    if t == b"-":
        return True, rest.decode()
    if t in (b"+", b":"):
        return False, rest.decode()
    if t == b"$":
        n = int(rest)
        if n < 0:
            return False, None
        data = await r.readexactly(n + 2)
        return False, data[:-2].decode()
    if t == b"*":
        n = int(rest)
        items = []
        for _ in range(max(n, 0)):
            items.append((await read_reply(r))[1])
        return False, items
    raise ConnectionError(f"bad reply {line!r}")


async def ask_sentinel(port):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
        try:
            w.write(enc("SENTINEL", "get-master-addr-by-name", "m"))
            _, v = await asyncio.wait_for(read_reply(r), 1)
            return int(v[1]) if isinstance(v, list) and len(v) == 2 else None
        finally:
            w.close()
    except (OSError, asyncio.TimeoutError, ConnectionError, ValueError, IndexError):
        return None


class Stats:
    def __init__(self, n):
        self.ops_before = 0
        self.ops_after = 0
        self.kill_at = None
        self.recovered = {}  # client id -> seconds after kill of first good batch
        self.errors = 0
        self.n = n


async def client(cid, sentinels, pipeline, stats, stop):
    r = w = None
    port = None
    seq = 0
    while not stop.is_set():
        if w is None:
            for s in sentinels[cid % 3:] + sentinels[:cid % 3]:
                port = await ask_sentinel(s)
                if port:
                    break
            if not port:
                await asyncio.sleep(0.1)
                continue
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            except (OSError, asyncio.TimeoutError):
                w = None
                await asyncio.sleep(0.1)
                continue
        batch = b"".join(enc("SET", f"load:{cid}:{seq + i}", seq + i) for i in range(pipeline))
        sent_at = time.time()
        try:
            w.write(batch)
            ok = True
            for _ in range(pipeline):
                err, _ = await asyncio.wait_for(read_reply(r), 5)
                ok = ok and not err
            if not ok:
                raise ConnectionError("error reply")
            seq += pipeline
            if stats.kill_at is None or sent_at < stats.kill_at:
                stats.ops_before += pipeline
            else:
                # Sent after the kill and fully acknowledged: served by the new master.
                stats.ops_after += pipeline
                if cid not in stats.recovered:
                    stats.recovered[cid] = time.time() - stats.kill_at
        except (OSError, asyncio.TimeoutError, ConnectionError, ValueError):
            stats.errors += 1
            try:
                w.close()
            except Exception:
                pass
            w = None
            await asyncio.sleep(0.05)
        await asyncio.sleep(0)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def run_one(kind_server, kind_sentinel, args):
    tmp = tempfile.mkdtemp(prefix="vigil-loadfo-")
    procs = []
    sport = [free_port() for _ in range(3)]
    sent = [free_port() for _ in range(3)]

    def spawn(cmd, name):
        p = subprocess.Popen(cmd, stdout=open(os.path.join(tmp, name), "ab"), stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    def server(i, replicaof=None):
        b = [args.vigil, "server"] if kind_server == "vigil" else ["redis-server"]
        cmd = b + ["--port", str(sport[i]), "--bind", "127.0.0.1", "--save", "", "--dir", tmp,
                   "--dbfilename", f"d{i}.rdb", "--maxclients", "10000",
                   "--repl-diskless-sync-delay", "0"]
        if replicaof:
            cmd += ["--replicaof", "127.0.0.1", str(replicaof)]
        return spawn(cmd, f"s{i}.log")

    try:
        master = server(0)
        time.sleep(0.3)
        server(1, sport[0])
        server(2, sport[0])
        for i in range(3):
            conf = os.path.join(tmp, f"sent{i}.conf")
            with open(conf, "w") as f:
                f.write(f"port {sent[i]}\nbind 127.0.0.1\ndir {tmp}\n"
                        f"sentinel monitor m 127.0.0.1 {sport[0]} 2\n"
                        f"sentinel down-after-milliseconds m {DOWN_AFTER_MS}\n"
                        f"sentinel failover-timeout m {FAILOVER_TIMEOUT_MS}\n")
            b = [args.vigil, "sentinel"] if kind_sentinel == "vigil" else ["redis-sentinel"]
            spawn(b + [conf], f"n{i}.log")
        # Wait for the sentinels to know both replicas (a failover needs them).
        end = time.time() + 30
        while time.time() < end:
            out = subprocess.run(["redis-cli", "-p", str(sent[0]), "SENTINEL", "master", "m"],
                                 capture_output=True, text=True).stdout.split()
            ready = [out[i + 1] for i in range(len(out) - 1) if out[i] in ("num-slaves", "num-other-sentinels")]
            if ready == ["2", "2"]:
                break
            time.sleep(0.2)
        return asyncio.run(drive(master, sport, sent, args))
    finally:
        for p in procs:
            try:
                p.kill()
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(tmp, ignore_errors=True)


async def drive(master, sport, sent, args):
    stats = Stats(args.clients)
    stop = asyncio.Event()
    tasks = []
    for cid in range(args.clients):
        tasks.append(asyncio.create_task(client(cid, sent, args.pipeline, stats, stop)))
        if cid % 100 == 99:
            await asyncio.sleep(0.05)
    t_load = time.time()
    await asyncio.sleep(args.warmup)
    before_rate = stats.ops_before / (time.time() - t_load)
    stats.kill_at = time.time()
    master.kill()
    # Failover time: until every sentinel names another master.
    fo = None
    while time.time() - stats.kill_at < 60:
        names = [await ask_sentinel(s) for s in sent]
        if all(n and n != sport[0] for n in names) and len(set(names)) == 1:
            fo = time.time() - stats.kill_at
            break
        await asyncio.sleep(0.05)
    # Let clients come back (bounded).
    end = time.time() + args.recover_seconds
    while time.time() < end and len(stats.recovered) < args.clients:
        await asyncio.sleep(0.1)
    t_after = time.time()
    ops_mark = stats.ops_after
    await asyncio.sleep(2)
    after_rate = (stats.ops_after - ops_mark) / (time.time() - t_after)
    stop.set()
    await asyncio.wait(tasks, timeout=10)
    for t in tasks:
        t.cancel()
    rec = list(stats.recovered.values())
    return {
        "failover_s": fo,
        "recovered": len(rec),
        "p50": pct(rec, 0.5),
        "p99": pct(rec, 0.99),
        "max": max(rec) if rec else float("nan"),
        "before_ops": before_rate,
        "after_ops": after_rate,
        "errors": stats.errors,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["vigil", "redis"], default="vigil")
    ap.add_argument("--sentinel", choices=["vigil", "redis"], default="vigil")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--pipeline", type=int, default=10)
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--recover-seconds", type=float, default=30.0)
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--vigil", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "target", "debug", "vigil"))
    args = ap.parse_args()
    args.clients = max(1, min(args.clients, 5000))
    args.vigil = os.path.abspath(args.vigil)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * args.clients + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    runs = [("vigil", "vigil"), ("redis", "redis")] if args.compare else [(args.server, args.sentinel)]
    print(f"failover under load: {args.clients} clients, pipeline {args.pipeline}, "
          f"down-after {DOWN_AFTER_MS} ms, SIGKILL of the master after {args.warmup:.0f}s")
    print(f"{'server/sentinel':<16} {'failover s':>10} {'clients back':>13} {'p50 s':>6} {'p99 s':>6} "
          f"{'max s':>6} {'ops/s before':>12} {'ops/s after':>12}")
    ok = True
    for srv, sen in runs:
        r = run_one(srv, sen, args)
        fo = f"{r['failover_s']:.2f}" if r["failover_s"] is not None else "none"
        print(f"{srv + '/' + sen:<16} {fo:>10} {r['recovered']:>6}/{args.clients:<6} {r['p50']:>6.2f} "
              f"{r['p99']:>6.2f} {r['max']:>6.2f} {r['before_ops']:>12.0f} {r['after_ops']:>12.0f}", flush=True)
        ok = ok and r["failover_s"] is not None and r["recovered"] == args.clients
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
