#!/usr/bin/env python3
"""Bounded chaos run on loopback: 3 data servers + 3 sentinels (quorum 2) under a
write load; for N steps, randomly SIGKILL (then restart), SIGSTOP/SIGCONT servers and
sentinels. After each step it checks convergence within a bound (exactly one master,
every sentinel names it, is out of TILT, has no down flag or failover in progress, knows the other
two sentinels and both replicas, every replica follows it with the link up), and at the end
that every write acknowledged with WAIT 1 is on the final master. Prints the seed, so
a failing run can be replayed with --seed.

Usage: scripts/chaos.py [--steps N] [--seed S] [--server vigil|redis]
                        [--sentinel vigil|redis] [--vigil PATH]
Exit status 0 when every check passed.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis

DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000
CONVERGE_LIMIT = 45.0  # > the 30 s TILT period


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def conn(port, timeout=0.5):
    return redis.Redis(host="127.0.0.1", port=port, protocol=2, socket_timeout=timeout,
                       socket_connect_timeout=timeout, decode_responses=True)


def safe(f, *a):
    try:
        return f(*a)
    except (redis.RedisError, OSError):
        return None


class Topology:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.sport = [free_port() for _ in range(3)]
        self.sent_port = [free_port() for _ in range(3)]
        self.procs = {}

    def log(self, name):
        return open(os.path.join(self.tmp, name + ".log"), "ab")

    def start_server(self, i, replicaof=None):
        d = os.path.join(self.tmp, f"s{i}")
        os.makedirs(d, exist_ok=True)
        binary = [self.args.vigil, "server"] if self.args.server == "vigil" else ["redis-server"]
        cmd = binary + ["--port", str(self.sport[i]), "--bind", "127.0.0.1", "--save", "",
                        "--dir", d, "--repl-diskless-sync-delay", "0", "--repl-timeout", "5"]
        if replicaof:
            cmd += ["--replicaof", "127.0.0.1", str(replicaof)]
        self.procs[("server", i)] = subprocess.Popen(cmd, stdout=self.log(f"s{i}"),
                                                     stderr=subprocess.STDOUT)

    def start_sentinel(self, i, fresh=False):
        d = os.path.join(self.tmp, f"n{i}")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "sentinel.conf")
        if fresh:
            with open(conf, "w") as f:
                f.write(f"port {self.sent_port[i]}\nbind 127.0.0.1\ndir {d}\n"
                        f"sentinel monitor m 127.0.0.1 {self.sport[0]} 2\n"
                        f"sentinel down-after-milliseconds m {DOWN_AFTER_MS}\n"
                        f"sentinel failover-timeout m {FAILOVER_TIMEOUT_MS}\n")
        binary = [self.args.vigil, "sentinel"] if self.args.sentinel == "vigil" else ["redis-sentinel"]
        self.procs[("sentinel", i)] = subprocess.Popen(binary + [conf], stdout=self.log(f"n{i}"),
                                                       stderr=subprocess.STDOUT)

    def kill(self, key):
        p = self.procs.pop(key, None)
        if p:
            try:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def stop_all(self):
        for k in list(self.procs):
            self.kill(k)

    def sentinel_master(self, i):
        r = safe(lambda: conn(self.sent_port[i]).execute_command(
            "SENTINEL", "get-master-addr-by-name", "m"))
        return int(r[1]) if r else None

    def converged(self):
        """(master port, None) or (None, reason)."""
        names = {self.sentinel_master(i) for i in range(3)}
        if len(names) != 1 or None in names:
            return None, f"sentinels name {names}"
        mport = names.pop()
        masters, followers = [], 0
        for i in range(3):
            info = safe(lambda: conn(self.sport[i]).info("replication"))
            if info is None:
                return None, f"server {i} does not answer"
            if info.get("role") == "master":
                masters.append(self.sport[i])
            elif info.get("master_port") == mport and info.get("master_link_status") == "up":
                followers += 1
        if masters != [mport]:
            return None, f"masters {masters}, sentinels say {mport}"
        if followers != 2:
            return None, f"{followers} of 2 replicas follow {mport}"
        # Every sentinel knows the other two and both replicas, so that the next
        # fault can be failed over (quorum 2).
        for i in range(3):
            r = safe(lambda: conn(self.sent_port[i]).execute_command("SENTINEL", "MASTER", "m"))
            if isinstance(r, list):
                r = dict(zip(r[::2], r[1::2]))
            if not isinstance(r, dict):
                return None, f"sentinel {i}: no master state"
            info = safe(lambda: conn(self.sent_port[i]).info("sentinel"))
            if not info or int(info.get("sentinel_tilt", 1)) != 0:
                # A sentinel stopped for >2 s enters TILT for 30 s (as in Redis) and
                # does not act: the next fault would not be failed over.
                return None, f"sentinel {i} in TILT (or not answering)"
            if r.get("flags") != "master":
                return None, f"sentinel {i}: master flags {r.get('flags')}"
            if int(r.get("num-other-sentinels", 0)) < 2 or int(r.get("num-slaves", 0)) < 2:
                return None, (f"sentinel {i} knows {r.get('num-other-sentinels')} sentinels, "
                              f"{r.get('num-slaves')} replicas")
        return mport, None

    def wait_converged(self, limit=CONVERGE_LIMIT):
        end = time.time() + limit
        why = None
        while time.time() < end:
            m, why = self.converged()
            if m:
                return m, None
            time.sleep(0.2)
        return None, why


class Writer(threading.Thread):
    """Writes chaos:<n> = n, counted as acknowledged when WAIT 1 says a replica has
    it. Finds the master through the sentinels after every error."""

    def __init__(self, topo, rate):
        super().__init__(daemon=True)
        self.topo, self.interval = topo, 1.0 / rate
        self.acked, self.attempts, self.errors = [], 0, 0
        self.stop = threading.Event()

    def run(self):
        c, n = None, 0
        while not self.stop.is_set():
            t0 = time.time()
            if c is None:
                for i in random.sample(range(3), 3):
                    p = self.topo.sentinel_master(i)
                    if p:
                        c = conn(p, timeout=1.0)
                        break
                if c is None:
                    time.sleep(0.1)
                    continue
            n += 1
            self.attempts += 1
            try:
                if c.set(f"chaos:{n}", n) and c.execute_command("WAIT", 1, 500) >= 1:
                    self.acked.append(n)
            except (redis.RedisError, OSError):
                self.errors += 1
                c = None
            time.sleep(max(0, self.interval - (time.time() - t0)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--server", choices=["vigil", "redis"], default="vigil")
    ap.add_argument("--sentinel", choices=["vigil", "redis"], default="vigil")
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--vigil", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "target", "debug", "vigil"))
    args = ap.parse_args()
    args.steps = max(1, min(args.steps, 500))
    args.rate = max(1, min(args.rate, 1000))
    args.vigil = os.path.abspath(args.vigil)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="vigil-chaos-")
    topo = Topology(args, tmp)
    print(f"chaos: seed={seed} steps={args.steps} server={args.server} sentinel={args.sentinel}")
    failure = None
    writer = None
    t_start = time.time()
    try:
        topo.start_server(0)
        time.sleep(0.3)
        for i in (1, 2):
            topo.start_server(i, replicaof=topo.sport[0])
        for i in range(3):
            topo.start_sentinel(i, fresh=True)
        m, why = topo.wait_converged()
        if not m:
            raise RuntimeError(f"initial topology did not converge: {why}")
        writer = Writer(topo, args.rate)
        writer.start()
        for step in range(1, args.steps + 1):
            m, _ = topo.converged()
            mi = topo.sport.index(m) if m else rng.randrange(3)
            action = rng.choice(["kill-master", "kill-server", "stop-server", "stop-master",
                                 "kill-sentinel", "stop-sentinel"])
            target = mi if action.endswith("master") else rng.randrange(3)
            pause = rng.uniform(0.2, 3.0)
            t0 = time.time()
            if action.startswith("kill") and "sentinel" not in action:
                topo.kill(("server", target))
                time.sleep(pause)
                # Restart as a replica of whatever the sentinels name now (an empty
                # server must never come back as a master: no persistence here).
                end = time.time() + CONVERGE_LIMIT
                new_m = None
                while time.time() < end:
                    names = {topo.sentinel_master(i) for i in range(3)} - {None}
                    if len(names) == 1 and names != {topo.sport[target]}:
                        new_m = names.pop()
                        break
                    time.sleep(0.2)
                if new_m is None:
                    failure = f"step {step}: no new master named after killing server {target}"
                    break
                topo.start_server(target, replicaof=new_m)
            elif action == "kill-sentinel":
                topo.kill(("sentinel", target))
                time.sleep(pause)
                topo.start_sentinel(target)
            else:
                key = ("sentinel" if "sentinel" in action else "server", target)
                p = topo.procs[key]
                p.send_signal(signal.SIGSTOP)
                time.sleep(pause)
                p.send_signal(signal.SIGCONT)
            m, why = topo.wait_converged()
            took = time.time() - t0
            print(f"  step {step:>3}: {action:<13} #{target} for {pause:.1f}s -> "
                  f"{'master :%d' % m if m else 'NOT CONVERGED: ' + why} ({took:.1f}s)", flush=True)
            if not m:
                failure = f"step {step}: no convergence within {CONVERGE_LIMIT:.0f}s: {why}"
                break
        writer.stop.set()
        writer.join(timeout=5)
        m, why = topo.wait_converged()
        if m and failure is None:
            time.sleep(0.5)
            c = conn(m, timeout=5)
            keys = [f"chaos:{n}" for n in writer.acked]
            vals = []
            for i in range(0, len(keys), 1000):
                vals += c.mget(keys[i:i + 1000])
            lost = [n for n, v in zip(writer.acked, vals) if v != str(n)]
            print(f"chaos: {len(writer.acked)} acknowledged (WAIT 1) of {writer.attempts} attempted, "
                  f"{len(lost)} lost, {writer.errors} client errors, {time.time() - t_start:.0f}s")
            if lost:
                failure = f"{len(lost)} acknowledged writes lost, e.g. {lost[:10]}"
        elif failure is None:
            failure = f"final convergence failed: {why}"
    except KeyboardInterrupt:
        failure = "interrupted"
    except (RuntimeError, redis.RedisError, OSError) as e:
        failure = str(e)
    finally:
        if writer:
            writer.stop.set()
        topo.stop_all()
    if failure:
        print(f"chaos: FAILED (seed {seed}): {failure}; logs in {tmp}")
        print(f"chaos: replay with: scripts/chaos.py --steps {args.steps} --seed {seed} "
              f"--server {args.server} --sentinel {args.sentinel}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"chaos: OK (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
