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

Loss and delay ("netem" scenarios; `--scenarios netem` or `all`): this kernel has no
netem qdisc (`tc qdisc add dev X root netem delay 50ms loss 5%` fails with "Specified
qdisc kind is unknown"), so they are EMULATED in user space, at packet level: for the
duration of the scenario the hosts' veth peers are taken off the kernel bridge and a
hub process in the bridge namespace switches their Ethernet frames itself (AF_PACKET
socket per port, MAC learning, flooding; PACKET_VNET_HDR keeps GSO/checksum offload
metadata, so 64 KB GSO frames cross it). Each directed pair of hosts has its own
one-way delay, uniform jitter (frames of one pair stay in FIFO order, so under
traffic the delay tends to its upper bound, unlike netem's default reordering) and
random loss (seeded), and a bounded queue (2000 frames, tail drop). After the heal
the hub stops and the ports go back on the bridge. The hub is single-threaded Python
on a shared machine: an idle round trip through it took 0.03-0.05 ms (0.01 ms over
the bridge), more under load.
(iptables' `-m statistic --mode random` works on this kernel once iptables is
installed and could drop packets, but it cannot delay them; one mechanism for both
keeps loss and delay on the same links and RNG.) Only links between server hosts are
shaped; the client host keeps clean links to every server.
  lossy-links    --loss (30 %) per direction on every server-server link, --netem-seconds
  delayed-links  --delay-ms (300) +- --jitter-ms (200) one way on every server-server link
  master-lossy   --master-loss (40 %) on the master host's links to the other servers
                 (may or may not lead to a failover)
The writer also counts writes that were not acknowledged, by error (READONLY: fenced
master; NOTSYNCED: no replica confirmed in time; TimeoutError, ...).
`--self-test` unit-tests the hub's delay/jitter/loss logic; `--hub-self-test` (root)
checks the hub between two namespaces (both run by tests/partition_hub.rs).

With --fencing (Vigil server and sentinels only) the servers run with write fencing
(`vigil-fencing yes`, quorum 2 of the 3 sentinels, lease --lease-ms): an old master cut
off from the sentinels' majority refuses writes (-READONLY) before a new master is
advertised. The table then also shows the longest gap between two acknowledged writes
(the time writes were unavailable around a failover). --ack-replicas N also sets
`vigil-sync-replicas N`: the master answers a write only once N replicas acknowledged
it (timeout: one lease).

Root required (skips with a message otherwise). Every namespace is removed on exit.
Usage: sudo scripts/partition-test.py [--server vigil|redis] [--sentinel vigil|redis]
           [--runs N] [--scenarios a,b|netem|all] [--vigil PATH] [--seed N] [--keep-logs]
           [--fencing [--lease-ms MS] [--ack-replicas N]]
           [--netem-seconds S] [--loss P] [--delay-ms D] [--jitter-ms J] [--master-loss P]
"""
import argparse
import collections
import json
import os
import random
import select
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
    outcomes = {}  # refused/failed writes by error kind
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
            else:
                kind = r.split(" ", 1)[0] if isinstance(r, str) and r else str(r)
                outcomes[kind] = outcomes.get(kind, 0) + 1
            if isinstance(r, RespError):
                conn.close()
                conn = None
        except (OSError, ConnectionError, ValueError) as e:
            outcomes[type(e).__name__] = outcomes.get(type(e).__name__, 0) + 1
            conn.close()
            conn = None
        time.sleep(max(0, interval - (time.time() - t0)))
    acks.close()
    probe_log.close()
    with open(a.ack_file + ".errors", "w") as f:
        json.dump(outcomes, f)


# ---------------------------------------------------------------- netem hub
# This kernel has no netem qdisc (CONFIG_NET_SCH_NETEM unset: `tc qdisc add ... netem`
# answers "Specified qdisc kind is unknown") and no tc gact, so loss and delay are
# emulated in user space: for the lossy/delayed scenarios the hosts' veth peers leave
# the kernel bridge and a hub process (inside the bridge namespace) switches their
# Ethernet frames itself, delaying and dropping them per directed pair of hosts.
SOL_PACKET, PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING = 263, 15, 23
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003
VNET_HDR_LEN = 10  # struct virtio_net_hdr
HUB_QUEUE_LIMIT = 2000  # frames per directed link, like netem's default limit of 1000


class Shaper:
    """Per directed link (src host, dst host): one-way delay + uniform jitter and random
    loss with a seeded RNG, like `netem delay D J loss L`. Frames of one link stay in
    FIFO order (a jittered frame never overtakes an earlier one: its due time is at
    least the previous frame's) and each link queue is bounded (tail drop). Pure logic,
    clocked by the caller, so it is unit-tested without a network."""

    def __init__(self, seed, limit=HUB_QUEUE_LIMIT):
        self.rng = random.Random(seed)
        self.limit = limit
        self.params = {}  # (src, dst) -> (delay_ms, jitter_ms, loss)
        self.queues = {}  # (src, dst) -> deque of (due, payload)
        self.last_due = {}
        self.stats = {}  # (src, dst) -> [passed, lost, overflow]

    def set_links(self, params):
        """Replace every link's parameters; a link not named is clean. Frames already
        queued keep their due time (as when a netem qdisc is changed)."""
        self.params = {k: (max(0.0, float(d)), max(0.0, float(j)), min(1.0, max(0.0, float(l))))
                       for k, (d, j, l) in params.items()}

    def offer(self, now, link, payload):
        """Queue a frame on `link`; False when it is lost or the queue is full."""
        st = self.stats.setdefault(link, [0, 0, 0])
        delay, jitter, loss = self.params.get(link, (0.0, 0.0, 0.0))
        if loss > 0 and self.rng.random() < loss:
            st[1] += 1
            return False
        q = self.queues.get(link)
        if q is None:
            q = self.queues[link] = collections.deque()
        if len(q) >= self.limit:
            st[2] += 1
            return False
        d = delay + (self.rng.uniform(-jitter, jitter) if jitter > 0 else 0.0)
        due = max(now + max(0.0, d) / 1000.0, self.last_due.get(link, 0.0))
        self.last_due[link] = due
        q.append((due, payload))
        st[0] += 1
        return True

    def next_due(self):
        """Earliest due time over all queues, or None."""
        heads = [q[0][0] for q in self.queues.values() if q]
        return min(heads) if heads else None

    def pop_due(self, now):
        """[(link, payload)] of every frame due at `now`, per link in FIFO order."""
        out = []
        for link, q in self.queues.items():
            while q and q[0][0] <= now:
                out.append((link, q.popleft()[1]))
        return out

    def queued(self):
        return sum(len(q) for q in self.queues.values())


def hub_main(a):
    """Runs inside the bridge namespace: an Ethernet switch over AF_PACKET sockets, one
    per port (vb<i>, the peer of host i's veth), with MAC learning and flooding of
    broadcast/unknown destinations. Every copy of a frame from host s to host d goes
    through Shaper link (s, d). Sockets use PACKET_VNET_HDR, so GSO super-frames (up to
    64 KB) and partial checksums are read with their offload metadata and written back
    with it: the kernel segments/checksums them as a NIC would. Control: one JSON line
    per update on stdin ({"links": {"s>d": [delay_ms, jitter_ms, loss]}}); EOF, a dead
    port or --max-seconds ends it; counters go to stdout as one JSON line at exit."""
    ports = {}
    for name in a.hub_ports.split(","):
        host = int(name.lstrip("vb"))
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        try:
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass  # older kernel: outgoing frames are filtered by pkttype below
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.bind((name, ETH_P_ALL))
        s.setblocking(False)
        ports[host] = s
    by_fd = {s.fileno(): h for h, s in ports.items()}
    shaper = Shaper(a.hub_seed)
    macs = {}  # MAC -> host
    counters = {"frames_in": 0, "send_errors": 0, "max_queued": 0, "max_frame": 0}
    poller = select.poll()
    for s in ports.values():
        poller.register(s, select.POLLIN)
    stdin_fd = sys.stdin.fileno()
    poller.register(stdin_fd, select.POLLIN)
    ctl = b""
    deadline = time.monotonic() + a.max_seconds
    print("ready", flush=True)
    running = True
    while running and time.monotonic() < deadline:
        nd = shaper.next_due()
        wait_ms = 200 if nd is None else min(200, max(1, int((nd - time.monotonic()) * 1000) + 1))
        for fd, ev in poller.poll(wait_ms):
            if fd == stdin_fd:
                chunk = os.read(stdin_fd, 65536)
                if not chunk:
                    running = False
                    break
                ctl += chunk
                while b"\n" in ctl:
                    line, ctl = ctl.split(b"\n", 1)
                    if line.strip():
                        msg = json.loads(line)
                        shaper.set_links({tuple(int(x) for x in k.split(">")): v
                                          for k, v in msg.get("links", {}).items()})
                continue
            if ev & (select.POLLERR | select.POLLNVAL | select.POLLHUP):
                running = False  # a port vanished (namespace removed)
                break
            src = by_fd[fd]
            now = time.monotonic()
            for _ in range(256):
                try:
                    data, addr = ports[src].recvfrom(262144)
                except BlockingIOError:
                    break
                except OSError:
                    running = False
                    break
                if addr[2] == PACKET_OUTGOING or len(data) < VNET_HDR_LEN + 14:
                    continue
                counters["frames_in"] += 1
                counters["max_frame"] = max(counters["max_frame"], len(data) - VNET_HDR_LEN)
                frame = memoryview(data)[VNET_HDR_LEN:]
                dst_mac, src_mac = bytes(frame[0:6]), bytes(frame[6:12])
                if not src_mac[0] & 1:
                    macs[src_mac] = src
                dst = macs.get(dst_mac) if not dst_mac[0] & 1 else None
                for d in ([dst] if dst is not None else [h for h in ports if h != src]):
                    if d != src:
                        shaper.offer(now, (src, d), data)
        counters["max_queued"] = max(counters["max_queued"], shaper.queued())
        for (src, d), data in shaper.pop_due(time.monotonic()):
            try:
                ports[d].send(data)
            except OSError:
                counters["send_errors"] += 1
    links = {f"{s}>{d}": {"passed": v[0], "lost": v[1], "overflow": v[2]}
             for (s, d), v in sorted(shaper.stats.items())}
    print(json.dumps({"counters": counters, "links": links}), flush=True)


class Hub:
    """The orchestrator's handle on a running hub: start (ports leave the bridge), set
    link parameters, stop (ports go back on the bridge). Killed with its process group
    on any exit path (stop() is idempotent; the hub also exits on stdin EOF, so even a
    SIGKILLed orchestrator leaves no hub behind)."""

    def __init__(self, net, seed, log, max_seconds=300):
        self.net, self.seed, self.log, self.max_seconds = net, seed, log, max_seconds
        self.p = None
        self.stats = None

    def start(self):
        ports = ",".join(f"vb{i}" for i in self.net.hosts)
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", self.net.br, sys.executable, os.path.abspath(__file__),
             "--hub", "--hub-ports", ports, "--hub-seed", str(self.seed),
             "--max-seconds", str(self.max_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, start_new_session=True)
        r, _, _ = select.select([self.p.stdout], [], [], 15)
        if not r or self.p.stdout.readline().strip() != b"ready":
            self.stop()
            raise RuntimeError("netem hub did not start (see hub.log)")
        # The hub already reads every port; now take them off the bridge so that only
        # the hub forwards (a few frames may be dropped or doubled meanwhile; TCP copes).
        for i in self.net.hosts:
            self.net.sh("ip", "-n", self.net.br, "link", "set", f"vb{i}", "nomaster")

    def set(self, links):
        """links: {(src, dst): (delay_ms, jitter_ms, loss)} for directed host pairs."""
        msg = {"links": {f"{s}>{d}": list(v) for (s, d), v in links.items()}}
        self.p.stdin.write((json.dumps(msg) + "\n").encode())
        self.p.stdin.flush()

    def stop(self):
        if self.p is None:
            return
        for i in self.net.hosts:
            self.net.sh("ip", "-n", self.net.br, "link", "set", f"vb{i}", "master", "br0", check=False)
        try:
            out, _ = self.p.communicate(timeout=5)  # closes stdin: the hub's signal to stop
            lines = out.decode(errors="replace").strip().splitlines()
            self.stats = json.loads(lines[-1]) if lines else None
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.p = None

    def summary(self):
        """'passed/lost/overflow' totals of the last run, for the scenario line."""
        if not self.stats:
            return "hub stats unavailable"
        t = [0, 0, 0]
        for v in self.stats["links"].values():
            t[0] += v["passed"]
            t[1] += v["lost"]
            t[2] += v["overflow"]
        c = self.stats["counters"]
        return (f"hub: {t[0]} frames passed, {t[1]} lost, {t[2]} queue-dropped, "
                f"max queued {c['max_queued']}, largest frame {c['max_frame']} B, "
                f"send errors {c['send_errors']}")


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


# ---------------------------------------------------------------- self-tests
def shaper_self_test():
    """Unit tests of Shaper (no network, no root): `--self-test`. Exit status 1 and a
    message on the first failure."""
    def check(cond, what):
        if not cond:
            raise AssertionError(what)

    # Fixed delay: every frame due exactly delay later, FIFO, nothing early.
    s = Shaper(1)
    s.set_links({(1, 2): (100, 0, 0)})
    for n in range(5):
        check(s.offer(10.0 + n * 0.01, (1, 2), n), "clean delayed frame accepted")
    check(s.pop_due(10.099) == [], "nothing due before the delay")
    got = s.pop_due(10.15)
    check([p for _, p in got] == [0, 1, 2, 3, 4][:len(got)] and len(got) == 5, f"fifo {got}")
    check(s.next_due() is None, "queue empty")
    # Unshaped link: due immediately.
    s.offer(20.0, (2, 1), "x")
    check(s.pop_due(20.0) == [((2, 1), "x")], "clean link is immediate")

    # Jitter: due in [now, now + delay + jitter], never before the previous frame's due
    # time, order kept, and the jitter really spreads the delays.
    s = Shaper(2)
    s.set_links({(1, 3): (200, 150, 0)})
    dues = []
    for n in range(2000):
        now = 100.0 + n * 0.001
        s.offer(now, (1, 3), n)
        due = s.queues[(1, 3)][-1][0]
        check(now + 0.05 - 1e-9 <= due <= max(now + 0.35, dues[-1] if dues else 0) + 1e-9,
              f"due {due} for frame at {now}")
        dues.append(due)
    check(dues == sorted(dues), "jittered frames keep FIFO order")
    out = [p for _, p in s.pop_due(1e9)]
    check(out == list(range(2000)), "all frames out, in order")
    # Frames far apart (0.5 s > 2 x jitter) get independent delays over the whole range.
    s = Shaper(6)
    s.set_links({(1, 3): (200, 150, 0)})
    delays = []
    for n in range(400):
        s.offer(n * 0.5, (1, 3), n)
        delays.append(s.queues[(1, 3)][-1][0] - n * 0.5)
    check(0.05 - 1e-9 <= min(delays) < 0.08 and 0.32 < max(delays) <= 0.35 + 1e-9,
          f"sparse jitter range {min(delays):.3f}-{max(delays):.3f}s")

    # Loss: seeded, close to the configured rate, identical for the same seed.
    def lost_count(seed, p, n=20000):
        s = Shaper(seed, limit=n)
        s.set_links({(1, 2): (0, 0, p)})
        return sum(1 for _ in range(n) if not s.offer(0.0, (1, 2), b""))
    lost = lost_count(3, 0.2)
    check(3600 <= lost <= 4400, f"20% loss gave {lost}/20000")
    check(lost == lost_count(3, 0.2), "same seed, same losses")
    check(lost_count(3, 0.0) == 0, "0% loss drops nothing")
    check(lost_count(3, 1.0, 500) == 500, "100% loss drops everything")

    # Directed links are independent; set_links replaces the whole table.
    s = Shaper(4)
    s.set_links({(1, 2): (0, 0, 1.0)})
    check(not s.offer(0.0, (1, 2), b"") and s.offer(0.0, (2, 1), b""), "per-direction loss")
    s.set_links({})
    check(s.offer(0.0, (1, 2), b""), "healed link passes")
    check(s.stats[(1, 2)] == [1, 1, 0], f"stats {s.stats[(1, 2)]}")

    # Bounded queue: tail drop once `limit` frames wait.
    s = Shaper(5, limit=10)
    s.set_links({(1, 2): (1000, 0, 0)})
    ok = [s.offer(0.0, (1, 2), n) for n in range(15)]
    check(ok == [True] * 10 + [False] * 5, f"queue bound {ok}")
    check(s.stats[(1, 2)] == [10, 0, 5] and s.queued() == 10, "overflow counted")
    check(s.next_due() == 1.0, "next_due is the head's due time")
    print("shaper self-test: ok")
    return 0


def echo_server_main(a):
    """Internal (--echo-server): TCP echo on (--echo-host, PORT) for the hub self-test;
    exits after --max-seconds."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.echo_host, PORT))
    srv.listen(16)
    srv.settimeout(0.5)
    deadline = time.time() + a.max_seconds

    def serve(c):
        c.settimeout(a.max_seconds)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)
        except OSError:
            return
        finally:
            c.close()

    print("ready", flush=True)
    while time.time() < deadline:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def echo_probe_main(a):
    """Internal (--echo-probe): round trips of 1-byte messages and one 100 KB echo to
    (--echo-host, PORT); prints JSON {connected, rtts_ms, big_ok, big_s}."""
    out = {"connected": False, "rtts_ms": [], "big_ok": False, "big_s": None}
    try:
        c = socket.create_connection((a.echo_host, PORT), timeout=a.connect_timeout)
    except OSError:
        print(json.dumps(out))
        return
    out["connected"] = True
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.settimeout(20.0)
    try:
        for _ in range(a.pings):
            t = time.monotonic()
            c.sendall(b"p")
            if c.recv(1) != b"p":
                break
            out["rtts_ms"].append((time.monotonic() - t) * 1000)
        big = bytes(random.Random(9).getrandbits(8) for _ in range(100_000))
        t = time.monotonic()
        c.sendall(big)
        got = b""
        while len(got) < len(big):
            d = c.recv(65536)
            if not d:
                break
            got += d
        out["big_ok"] = got == big
        out["big_s"] = time.monotonic() - t
    except OSError:
        pass
    finally:
        c.close()
    print(json.dumps(out))


def hub_self_test(args):
    """Root-only (--hub-self-test): hosts 1 and 2 through the hub; checks that frames
    cross it (small round trips, a 100 KB echo: GSO super-frames), that a 50 ms one-way
    delay shows in the round trip, that TCP still delivers 100 KB under 20 % loss both
    ways, and that loss 100 % cuts the link. Exit status 1 on failure."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("hub self-test: SKIPPED (needs root and iproute2)")
        return 0
    net = Net(f"t{os.getpid() % 100000}")
    probe_ns = subprocess.run(["ip", "netns", "add", net.br], capture_output=True, text=True)
    if probe_ns.returncode != 0:
        print(f"hub self-test: SKIPPED (cannot create a network namespace: {probe_ns.stderr.strip()})")
        return 0
    subprocess.run(["ip", "netns", "del", net.br], capture_output=True)
    tmp = tempfile.mkdtemp(prefix="vigil-hubtest-")
    log = open(os.path.join(tmp, "hub.log"), "ab")
    hub = Hub(net, 1, log)
    srv = None
    me = os.path.abspath(__file__)

    def probe(pings, connect_timeout=10.0):
        # A SYN lost to the 20 % loss is resent after 1 s, then 3 s: connect patiently.
        r = subprocess.run(["ip", "netns", "exec", net.hosts[1], sys.executable, me, "--echo-probe",
                            "--echo-host", ip_of(2), "--pings", str(pings),
                            "--connect-timeout", str(connect_timeout)],
                           capture_output=True, text=True, timeout=60)
        return json.loads(r.stdout)

    failures = []

    def median(r):
        v = sorted(r["rtts_ms"])
        return round(v[len(v) // 2], 3) if v else None

    def secs(r):
        return "-" if r["big_s"] is None else f"{r['big_s']:.3f}s"

    def check(cond, what):
        print(f"  {'ok  ' if cond else 'FAIL'} {what}")
        if not cond:
            failures.append(what)

    try:
        net.up()
        srv = net.run(2, [sys.executable, me, "--echo-server", "--echo-host", ip_of(2),
                          "--max-seconds", "120"], log)
        time.sleep(0.5)
        base = probe(20)
        check(base["connected"] and base["big_ok"],
              f"bridge: 100 KB echo in {secs(base)}, median RTT {median(base)} ms")
        hub.start()
        clean = probe(20)
        med = median(clean)
        check(clean["big_ok"] and med is not None and med < 50,
              f"hub, clean: 100 KB echo in {secs(clean)}, median RTT {med} ms")
        hub.set({(1, 2): (50, 0, 0), (2, 1): (50, 0, 0)})
        d = probe(10)
        med = median(d)
        check(d["big_ok"] and med is not None and 100 <= med < 400 and min(d["rtts_ms"]) >= 99,
              f"hub, 50 ms each way: median RTT {med} ms, 100 KB echo in {secs(d)}")
        hub.set({(1, 2): (0, 0, 0.2), (2, 1): (0, 0, 0.2)})
        lossy = probe(20)
        check(lossy["big_ok"], f"hub, 20 % loss both ways: 100 KB echo in {secs(lossy)}")
        hub.set({(1, 2): (0, 0, 1.0), (2, 1): (0, 0, 1.0)})
        cut = probe(1, connect_timeout=2.0)
        check(not cut["connected"], "hub, 100 % loss: no connection")
        hub.set({})
        healed = probe(5)
        check(healed["big_ok"], "hub, healed: 100 KB echo")
        hub.stop()
        links = (hub.stats or {}).get("links", {})
        lost = sum(v["lost"] for v in links.values())
        check(lost > 0 and (hub.stats or {}).get("counters", {}).get("send_errors", 1) == 0,
              f"hub counters: {hub.summary()}")
        back = probe(5)
        check(back["big_ok"], "bridge again after the hub stopped: 100 KB echo")
    finally:
        hub.stop()
        if srv is not None:
            try:
                os.killpg(srv.pid, signal.SIGKILL)
            except OSError:
                pass
            srv.wait()
        net.down()
    if failures:
        print("hub self-test: FAILED; logs in", tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("hub self-test: ok")
    return 0


# ---------------------------------------------------------------- scenarios
PARTITION_SCENARIOS = ["master-isolated", "master-isolated-wait", "minority-sentinel", "flapping"]
NETEM_SCENARIOS = ["lossy-links", "delayed-links", "master-lossy"]


def netem_links(name, m, others, args):
    """Directed-link parameters {(src, dst): (delay_ms, jitter_ms, loss)} of a netem
    scenario. Only links between server hosts are shaped: the client host (4) keeps
    clean links to every server, as in the cut scenarios."""
    servers = [m] + others
    pairs = [(a, b) for a in servers for b in servers if a != b]
    if name == "lossy-links":
        return {p: (0, 0, args.loss) for p in pairs}
    if name == "delayed-links":
        return {p: (args.delay_ms, args.jitter_ms, 0) for p in pairs}
    if name == "master-lossy":
        return {p: (0, 0, args.master_loss) for p in pairs if m in p}
    raise ValueError(name)


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
    cl.procs[("writer", 4)] = w  # killed with the cluster if the run is interrupted
    logs = [os.path.join(tmp, f"n{i}", "sentinel.log") for i in (1, 2, 3)]
    log_start = [os.path.getsize(p) if os.path.exists(p) else 0 for p in logs]
    t_start = time.time()
    hub_note = ""
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
    elif name in NETEM_SCENARIOS:
        hub_seed = random.randrange(1 << 30)
        links = netem_links(name, m, others, args)
        hub = Hub(net, hub_seed, open(os.path.join(tmp, "hub.log"), "ab"),
                  max_seconds=args.netem_seconds + 120)
        try:
            hub.start()
            hub.set(links)
            time.sleep(args.netem_seconds)
            hub.set({})
        finally:
            hub.stop()
        hub_note = f"; hub seed {hub_seed}, {hub.summary()}"
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
        w.wait(timeout=5)
    cl.procs.pop(("writer", 4), None)
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
    try:
        with open(files["ack"] + ".errors") as f:
            refused = json.load(f)
    except (OSError, ValueError):
        refused = {}
    if refused:
        hub_note += "; not acknowledged: " + ", ".join(f"{k} {v}" for k, v in sorted(refused.items()))
    # Failovers: +switch-master events during the run, as the sentinel that saw most.
    switches = 0
    for p, start in zip(logs, log_start):
        try:
            with open(p, "rb") as f:
                f.seek(start)
                switches = max(switches, f.read().count(b"+switch-master"))
        except OSError:
            pass
    print(f"  {name} run {run_no}: master n{m} -> n{final} ({switches} failovers), acknowledged {len(acked)}, "
          f"lost {lost}, two masters {two:.1f}s, longest write gap {gap:.1f}s, {elapsed:.0f}s"
          f"{hub_note}")
    return len(acked), lost, two, max(switches, int(m != final)), gap


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["vigil", "redis"], default="vigil")
    ap.add_argument("--sentinel", choices=["vigil", "redis"], default="vigil")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--scenarios", default=",".join(PARTITION_SCENARIOS),
                    help="comma-separated names; 'netem' = " + ",".join(NETEM_SCENARIOS)
                    + "; 'all' = every scenario")
    ap.add_argument("--partition-seconds", type=float, default=10.0)
    ap.add_argument("--netem-seconds", type=float, default=20.0,
                    help="how long loss/delay lasts in the netem scenarios")
    ap.add_argument("--loss", type=float, default=0.3,
                    help="lossy-links: loss per direction on every server-server link")
    ap.add_argument("--delay-ms", type=float, default=300,
                    help="delayed-links: one-way delay on every server-server link")
    ap.add_argument("--jitter-ms", type=float, default=200,
                    help="delayed-links: uniform jitter (+/-) around --delay-ms")
    ap.add_argument("--master-loss", type=float, default=0.4,
                    help="master-lossy: loss per direction on the master's server links")
    ap.add_argument("--rate", type=int, default=200, help="writes per second (bounded)")
    ap.add_argument("--vigil", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "target", "debug", "vigil"))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep-logs", action="store_true", help="keep the logs directory on success")
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
    # Hub mode and self-tests.
    ap.add_argument("--self-test", action="store_true",
                    help="unit-test the loss/delay logic of the netem hub (no root) and exit")
    ap.add_argument("--hub-self-test", action="store_true",
                    help="root: check the netem hub between two namespaces and exit")
    ap.add_argument("--hub", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--hub-ports", help=argparse.SUPPRESS)
    ap.add_argument("--hub-seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--echo-probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--echo-host", help=argparse.SUPPRESS)
    ap.add_argument("--pings", type=int, default=10, help=argparse.SUPPRESS)
    ap.add_argument("--connect-timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.writer:
        args.rate = max(1, min(args.rate, 1000))
        return writer_main(args)
    if args.hub:
        return hub_main(args)
    if args.echo_server:
        return echo_server_main(args)
    if args.echo_probe:
        return echo_probe_main(args)
    if args.self_test:
        return shaper_self_test()
    if os.geteuid() != 0:
        print("partition-test: SKIPPED (needs root for network namespaces)")
        return 0
    if shutil.which("ip") is None or shutil.which("tc") is None:
        print("partition-test: SKIPPED (iproute2 `ip`/`tc` not found)")
        return 0
    if args.hub_self_test:
        return hub_self_test(args)
    args.rate = max(1, min(args.rate, 1000))
    args.runs = max(1, min(args.runs, 20))
    if args.fencing and (args.server != "vigil" or args.sentinel != "vigil"):
        sys.exit("partition-test: --fencing needs --server vigil and --sentinel vigil")
    names = []
    for name in args.scenarios.split(","):
        names += {"netem": NETEM_SCENARIOS,
                  "all": PARTITION_SCENARIOS + NETEM_SCENARIOS}.get(name, [name])
    unknown = [n for n in names if n not in PARTITION_SCENARIOS + NETEM_SCENARIOS]
    if unknown:
        sys.exit(f"partition-test: unknown scenario(s) {unknown}")
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
        if any(n in NETEM_SCENARIOS for n in names):
            print(f"  netem (emulated by the user-space hub): {args.netem_seconds}s, lossy-links "
                  f"loss {args.loss:.0%}, delayed-links {args.delay_ms:.0f}+-{args.jitter_ms:.0f}ms "
                  f"one way, master-lossy loss {args.master_loss:.0%}")
        if cl.wait_converged(30) is None:
            print("partition-test: topology never converged; logs in", tmp)
            return 1
        for name in names:
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
              f"{sum(r[2] for r in rs):>16.1f} {sum(r[3] for r in rs):>9} "
              f"{max(r[4] for r in rs):>18.1f}")
    if ok and not args.keep_logs:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("logs kept in", tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
