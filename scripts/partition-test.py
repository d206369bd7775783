#!/usr/bin/env python3
"""Network-partition test between real (namespaced) hosts.

Builds 3 hosts, each running a data server (`vigil server` or redis-server) and a
sentinel (`vigil sentinel` or redis-sentinel), plus a client host, as Linux network
namespaces on one bridge (in its own namespace) with a private /24 that only exists on
these veths (no route out). Links between a pair of hosts are cut without netem (this
kernel has none): tc u32 filters on the bridge ports redirect that pair's packets into
an unattached sink veth, a silent black hole like a real partition. The client host
always reaches every server, which is the case that loses writes.

A writer on the client host writes unique keys to the master it learns from the
sentinels (re-asking only after an error, like a real client), optionally acknowledged
with WAIT 1; a probe measures how long two servers accepted writes at once; after the
heal and convergence a checker reads every acknowledged key from the final master.

Scenarios: master-isolated (master's host cut from the majority), master-isolated-wait
(same, writes acknowledged only after WAIT 1), minority-sentinel (a replica+sentinel
host cut off), flapping (the master's links cut and healed repeatedly).

With --fencing (Vigil server and sentinels only) the servers run with write fencing
(`vigil-fencing yes`, quorum 2 of the 3 sentinels, lease --lease-ms): an old master cut
off from the sentinels' majority refuses writes (-READONLY) before a new master is
advertised. The table then also shows the longest gap between two acknowledged writes
(the time writes were unavailable around a failover). --ack-replicas N also sets
`vigil-sync-replicas N`: the master answers a write only once N replicas acknowledged
it (timeout: one lease).

Root required (skips with a message otherwise). Every namespace is removed on exit.
Usage: sudo scripts/partition-test.py [--server vigil|redis] [--sentinel vigil|redis]
           [--runs N] [--scenarios a,b] [--vigil PATH] [--fencing [--lease-ms MS] [--ack-replicas N]]
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

SUBNET = "10.213.47"
PORT, SPORT = 6379, 26379
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 6000


# ---------------------------------------------------------------- RESP client
class Resp:
    """Minimal blocking RESP2 client with timeouts (no external dependency, so the
    writer can run under `ip netns exec` with a bare python3)."""

    def __init__(self, host, port, timeout=1.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.settimeout(timeout)
        self.buf = b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                d = self.s.recv(65536)
                if not d:
                    raise ConnectionError("closed")
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError(f"bad reply {line!r}")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self._read()


class RespError(str):
    pass


def one(host, port, *args, timeout=0.5):
    """One command on a fresh connection; None on any network failure."""
    try:
        c = Resp(host, port, timeout)
        try:
            return c.cmd(*args)
        finally:
            c.close()
    except (OSError, ConnectionError, ValueError):
        return None


def ip_of(i):
    return f"{SUBNET}.{10 + i}"


# ---------------------------------------------------------------- client host
def writer_main(a):
    """Runs inside the client namespace. Writes `<prefix>:<n>` = n until the stop file
    appears; appends acknowledged n to the ack file; probes every server with a write
    every 100 ms and logs which accepted it."""
    servers = [ip_of(i) for i in (1, 2, 3)]
    sentinels = servers
    stop = a.stop_file
    acks = open(a.ack_file, "w", buffering=1)
    probe_log = open(a.probe_file, "w", buffering=1)
    deadline = time.time() + a.max_seconds

    def probe():
        while not os.path.exists(stop) and time.time() < deadline:
            t = time.time()
            ok = []
            for h in servers:
                r = one(h, PORT, "SET", "probe", "1", timeout=0.15)
                if r == "OK":
                    ok.append(h)
            probe_log.write(f"{t:.3f} {','.join(ok)}\n")
            time.sleep(max(0, 0.1 - (time.time() - t)))

    threading.Thread(target=probe, daemon=True).start()

    def discover():
        for s in random.sample(sentinels, len(sentinels)):
            r = one(s, SPORT, "SENTINEL", "get-master-addr-by-name", "m", timeout=0.3)
            if isinstance(r, list) and len(r) == 2:
                return r[0], int(r[1])
        return None

    conn, n = None, 0
    interval = 1.0 / a.rate
    while not os.path.exists(stop) and time.time() < deadline:
        t0 = time.time()
        if conn is None:
            addr = discover()
            if addr is None:
                time.sleep(0.1)
                continue
            try:
                conn = Resp(addr[0], addr[1], timeout=1.0)
            except OSError:
                time.sleep(0.1)
                continue
        n += 1
        try:
            r = conn.cmd("SET", f"{a.prefix}:{n}", n)
            if r == "OK" and a.wait:
                w = conn.cmd("WAIT", 1, a.wait_ms)
                r = "OK" if isinstance(w, int) and w >= 1 else "NOWAIT"
            if r == "OK":
                acks.write(f"{n} {time.time():.3f}\n")
            elif isinstance(r, RespError):
                conn.close()
                conn = None
        except (OSError, ConnectionError, ValueError):
            conn.close()
            conn = None
        time.sleep(max(0, interval - (time.time() - t0)))
    acks.close()
    probe_log.close()


# ---------------------------------------------------------------- topology
class Net:
    """Namespaces, veths, bridge and per-pair cuts."""

    def __init__(self, tag):
        self.br = f"vgbr{tag}"
        self.hosts = {i: f"vgh{tag}n{i}" for i in (1, 2, 3, 4)}
        self.cuts = set()

    def sh(self, *cmd, check=True):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
        return r

    def up(self):
        self.sh("ip", "netns", "add", self.br)
        self.sh("ip", "-n", self.br, "link", "add", "br0", "type", "bridge")
        self.sh("ip", "-n", self.br, "link", "set", "br0", "up")
        self.sh("ip", "-n", self.br, "link", "set", "lo", "up")
        # The sink: packets redirected into vsink leave on vsink2, attached to nothing.
        self.sh("ip", "-n", self.br, "link", "add", "vsink", "type", "veth", "peer", "name", "vsink2")
        self.sh("ip", "-n", self.br, "link", "set", "vsink", "up")
        self.sh("ip", "-n", self.br, "link", "set", "vsink2", "up")
        for i, ns in self.hosts.items():
            self.sh("ip", "netns", "add", ns)
            self.sh("ip", "-n", ns, "link", "set", "lo", "up")
            self.sh("ip", "link", "add", "vh", "netns", ns, "type", "veth",
                    "peer", "name", f"vb{i}", "netns", self.br)
            self.sh("ip", "-n", ns, "addr", "add", f"{ip_of(i)}/24", "dev", "vh")
            self.sh("ip", "-n", ns, "link", "set", "vh", "up")
            self.sh("ip", "-n", self.br, "link", "set", f"vb{i}", "master", "br0")
            self.sh("ip", "-n", self.br, "link", "set", f"vb{i}", "up")
            self.sh("ip", "netns", "exec", self.br, "tc", "qdisc", "add", "dev", f"vb{i}", "ingress")

    def down(self):
        for ns in list(self.hosts.values()) + [self.br]:
            self.sh("ip", "netns", "del", ns, check=False)

    def _apply(self, i):
        """Rewrite the ingress filters of host i's bridge port from self.cuts."""
        self.sh("ip", "netns", "exec", self.br, "tc", "filter", "del", "dev", f"vb{i}",
                "ingress", check=False)
        for a, b in self.cuts:
            if i in (a, b):
                other = b if i == a else a
                self.sh("ip", "netns", "exec", self.br, "tc", "filter", "add", "dev", f"vb{i}",
                        "parent", "ffff:", "protocol", "ip", "prio", "1", "u32", "match", "ip",
                        "dst", f"{ip_of(other)}/32", "action", "mirred", "egress", "redirect",
                        "dev", "vsink")

    def cut(self, a, b):
        self.cuts.add((min(a, b), max(a, b)))
        self._apply(a)
        self._apply(b)

    def heal(self):
        touched = {h for c in self.cuts for h in c}
        self.cuts.clear()
        for i in touched:
            self._apply(i)

    def run(self, i, cmd, log):
        return subprocess.Popen(["ip", "netns", "exec", self.hosts[i]] + cmd,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


class Cluster:
    def __init__(self, net, args, tmp):
        self.net, self.args, self.tmp = net, args, tmp
        self.procs = {}

    def start_server(self, i, replicaof=None):
        d = os.path.join(self.tmp, f"n{i}")
        os.makedirs(d, exist_ok=True)
        binary = [self.args.vigil, "server"] if self.args.server == "vigil" else ["redis-server"]
        cmd = binary + ["--port", str(PORT), "--bind", ip_of(i), "--protected-mode", "no",
                        "--save", "", "--appendonly", "no", "--dir", d,
                        "--repl-diskless-sync-delay", "0", "--repl-timeout", "5"]
        if self.args.fencing:
            cmd += ["--vigil-fencing", "yes", "--vigil-fencing-quorum", "2",
                    "--vigil-fencing-lease-ms", str(self.args.lease_ms),
                    "--vigil-sync-replicas", str(self.args.ack_replicas),
                    "--vigil-sync-timeout-ms", str(self.args.lease_ms)]
        if replicaof:
            cmd += ["--replicaof", replicaof, str(PORT)]
        log = open(os.path.join(d, "server.log"), "ab")
        self.procs[("server", i)] = self.net.run(i, cmd, log)

    def start_sentinel(self, i, master_ip):
        d = os.path.join(self.tmp, f"n{i}")
        conf = os.path.join(d, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {SPORT}\nbind {ip_of(i)}\nprotected-mode no\ndir {d}\n"
                    f"sentinel monitor m {master_ip} {PORT} 2\n"
                    f"sentinel down-after-milliseconds m {DOWN_AFTER_MS}\n"
                    f"sentinel failover-timeout m {FAILOVER_TIMEOUT_MS}\n"
                    "sentinel parallel-syncs m 2\n")
        binary = [self.args.vigil, "sentinel"] if self.args.sentinel == "vigil" else ["redis-sentinel"]
        log = open(os.path.join(d, "sentinel.log"), "ab")
        self.procs[("sentinel", i)] = self.net.run(i, binary + [conf], log)

    def stop_all(self):
        for p in self.procs.values():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()

    # Queries go through the client namespace, which reaches every host.
    def q(self, i, port, *args):
        return ns_query(self.net.hosts[4], ip_of(i), port, *args)

    def converged(self):
        """(master host, detail) when every sentinel names the same master, it says it
        is a master, and every other server replicates it with the link up."""
        addrs = set()
        for i in (1, 2, 3):
            r = self.q(i, SPORT, "SENTINEL", "get-master-addr-by-name", "m")
            if not isinstance(r, list) or len(r) != 2:
                return None, f"sentinel {i}: {r}"
            addrs.add(r[0])
        if len(addrs) != 1:
            return None, f"sentinels disagree: {addrs}"
        mip = addrs.pop()
        m = int(mip.rsplit(".", 1)[1]) - 10
        info = self.q(m, PORT, "INFO", "replication") or ""
        if "role:master" not in info:
            return None, f"{mip} is not a master"
        for i in (1, 2, 3):
            if i == m:
                continue
            info = self.q(i, PORT, "INFO", "replication") or ""
            if f"master_host:{mip}" not in info or "master_link_status:up" not in info:
                return None, f"server {i} does not follow {mip}"
        return m, "ok"

    def wait_converged(self, limit):
        end = time.time() + limit
        detail = ""
        while time.time() < end:
            m, detail = self.converged()
            if m:
                return m
            time.sleep(0.25)
        print(f"  no convergence within {limit}s: {detail}")
        return None


def ns_query(ns, host, port, *args):
    """Run one command from inside namespace `ns` (a child python in that namespace)."""
    code = ("import sys,json;sys.path.insert(0,%r);import importlib.util as u;"
            "s=u.spec_from_file_location('pt',%r);m=u.module_from_spec(s);s.loader.exec_module(m);"
            "print(json.dumps(m.one(%r,%d,*%r,timeout=0.5)))") % (
        os.path.dirname(__file__), os.path.abspath(__file__), host, port, list(args))
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                       capture_output=True, text=True, timeout=10)
    try:
        import json
        return json.loads(r.stdout.strip() or "null")
    except ValueError:
        return None


def ns_mget(ns, host, keys):
    """Values of `keys` on host (from namespace ns), in batches."""
    code = ("import sys,json;import importlib.util as u;"
            "s=u.spec_from_file_location('pt',%r);m=u.module_from_spec(s);s.loader.exec_module(m);"
            "keys=json.load(sys.stdin);c=m.Resp(%r,%d,5.0);out=[]\n"
            "for i in range(0,len(keys),500): out+=c.cmd('MGET',*keys[i:i+500])\n"
            "print(json.dumps(out))") % (os.path.abspath(__file__), host, PORT)
    import json
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                       input=json.dumps(keys), capture_output=True, text=True, timeout=60)
    return json.loads(r.stdout) if r.returncode == 0 else None


# ---------------------------------------------------------------- scenarios
def run_scenario(cl, net, name, run_no, args, tmp):
    m = cl.wait_converged(30)
    if m is None:
        return None
    others = [i for i in (1, 2, 3) if i != m]
    prefix = f"{name}:{run_no}:{random.randrange(1 << 30)}"
    files = {k: os.path.join(tmp, f"{prefix.replace(':', '_')}.{k}") for k in ("ack", "probe", "stop")}
    wait = name.endswith("-wait")
    cmd = [sys.executable, os.path.abspath(__file__), "--writer", "--prefix", prefix,
           "--ack-file", files["ack"], "--probe-file", files["probe"], "--stop-file", files["stop"],
           "--rate", str(args.rate), "--max-seconds", "90"] + (["--wait"] if wait else [])
    w = net.run(4, cmd, open(os.path.join(tmp, "writer.log"), "ab"))
    t_start = time.time()
    time.sleep(2)  # steady state first
    if name.startswith("master-isolated"):
        for o in others:
            net.cut(m, o)
        time.sleep(args.partition_seconds)
        net.heal()
    elif name == "minority-sentinel":
        victim = others[0]
        for o in (m, others[1]):
            net.cut(victim, o)
        time.sleep(args.partition_seconds)
        net.heal()
    elif name == "flapping":
        end = time.time() + args.partition_seconds
        while time.time() < end:
            for o in others:
                net.cut(m, o)
            time.sleep(random.uniform(1.0, 4.0))
            net.heal()
            time.sleep(random.uniform(0.3, 1.5))
        net.heal()
    final = cl.wait_converged(40)
    time.sleep(1)  # writes after convergence reach the final master too
    open(files["stop"], "w").close()
    try:
        w.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(w.pid, signal.SIGKILL)
    elapsed = time.time() - t_start
    if final is None:
        final = cl.converged()[0]
    ack_lines = open(files["ack"]).read().splitlines() if os.path.exists(files["ack"]) else []
    acked = [int(x.split()[0]) for x in ack_lines if x.strip()]
    ack_times = [float(x.split()[1]) for x in ack_lines if len(x.split()) > 1]
    gap = max((b - a for a, b in zip(ack_times, ack_times[1:])), default=0.0)
    lost = None
    if final:
        vals = ns_mget(net.hosts[4], ip_of(final), [f"{prefix}:{n}" for n in acked])
        if vals is not None:
            lost = sum(1 for n, v in zip(acked, vals) if v != str(n))
    # Two masters accepting writes: probe rounds where ≥2 servers took the write.
    two = 0.0
    prev = None
    for line in open(files["probe"]).read().splitlines() if os.path.exists(files["probe"]) else []:
        parts = line.split(" ")
        t = float(parts[0])
        ok = parts[1].split(",") if len(parts) > 1 and parts[1] else []
        if prev is not None and prev[1] >= 2:
            two += t - prev[0]
        prev = (t, len(ok))
    print(f"  {name} run {run_no}: master n{m} -> n{final}, acknowledged {len(acked)}, "
          f"lost {lost}, two masters {two:.1f}s, longest write gap {gap:.1f}s, {elapsed:.0f}s")
    return len(acked), lost, two, m != final, gap


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["vigil", "redis"], default="vigil")
    ap.add_argument("--sentinel", choices=["vigil", "redis"], default="vigil")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--scenarios", default="master-isolated,master-isolated-wait,minority-sentinel,flapping")
    ap.add_argument("--partition-seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=200, help="writes per second (bounded)")
    ap.add_argument("--vigil", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "target", "debug", "vigil"))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fencing", action="store_true",
                    help="run the Vigil servers with write fencing (vigil-fencing yes)")
    ap.add_argument("--lease-ms", type=int, default=1000,
                    help="vigil-fencing-lease-ms with --fencing (capped at down-after/2)")
    ap.add_argument("--ack-replicas", type=int, default=0,
                    help="vigil-sync-replicas with --fencing (write replies wait for N replicas)")
    # Writer mode (internal: runs inside the client namespace).
    ap.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--prefix"), ap.add_argument("--ack-file"), ap.add_argument("--probe-file")
    ap.add_argument("--stop-file"), ap.add_argument("--wait", action="store_true")
    ap.add_argument("--wait-ms", type=int, default=500)
    ap.add_argument("--max-seconds", type=float, default=90)
    args = ap.parse_args()
    if args.writer:
        args.rate = max(1, min(args.rate, 1000))
        return writer_main(args)
    if os.geteuid() != 0:
        print("partition-test: SKIPPED (needs root for network namespaces)")
        return 0
    if shutil.which("ip") is None or shutil.which("tc") is None:
        print("partition-test: SKIPPED (iproute2 `ip`/`tc` not found)")
        return 0
    args.rate = max(1, min(args.rate, 1000))
    args.runs = max(1, min(args.runs, 20))
    if args.fencing and (args.server != "vigil" or args.sentinel != "vigil"):
        sys.exit("partition-test: --fencing needs --server vigil and --sentinel vigil")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    random.seed(seed)
    if args.server == "vigil" or args.sentinel == "vigil":
        args.vigil = os.path.abspath(args.vigil)
        if not os.access(args.vigil, os.X_OK):
            sys.exit(f"partition-test: {args.vigil} not found (cargo build first)")
    net = Net(f"{os.getpid() % 100000}")
    tmp = tempfile.mkdtemp(prefix="vigil-partition-")
    cl = Cluster(net, args, tmp)

    def bye(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, bye)
    results = {}
    ok = True
    try:
        net.up()
        cl.start_server(1)
        for i in (2, 3):
            cl.start_server(i, replicaof=ip_of(1))
        time.sleep(0.5)
        for i in (1, 2, 3):
            cl.start_sentinel(i, ip_of(1))
        print(f"partition-test: server={args.server} sentinel={args.sentinel} "
              f"fencing={'on, lease %dms, ack-replicas %d' % (args.lease_ms, args.ack_replicas) if args.fencing else 'off'} seed={seed} "
              f"down-after={DOWN_AFTER_MS}ms partition={args.partition_seconds}s rate={args.rate}/s")
        if cl.wait_converged(30) is None:
            print("partition-test: topology never converged; logs in", tmp)
            return 1
        for name in args.scenarios.split(","):
            for r in range(args.runs):
                res = run_scenario(cl, net, name, r + 1, args, tmp)
                if res is None:
                    ok = False
                    continue
                results.setdefault(name, []).append(res)
    except KeyboardInterrupt:
        print("partition-test: interrupted")
        ok = False
    finally:
        cl.stop_all()
        net.down()
    print()
    print(f"fencing {'on' if args.fencing else 'off'}")
    print(f"{'scenario':<22} {'runs':>4} {'acknowledged':>12} {'lost':>6} {'two masters (s)':>16} "
          f"{'failovers':>9} {'max write gap (s)':>18}")
    for name, rs in results.items():
        lost = [r[1] for r in rs]
        lost_s = "?" if any(x is None for x in lost) else str(sum(lost))
        print(f"{name:<22} {len(rs):>4} {sum(r[0] for r in rs):>12} {lost_s:>6} "
              f"{sum(r[2] for r in rs):>16.1f} {sum(1 for r in rs if r[3]):>9} "
              f"{max(r[4] for r in rs):>18.1f}")
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("logs kept in", tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
