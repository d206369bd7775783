#!/usr/bin/env python3
"""Regenerate the committed seed corpora in fuzz/seeds/ from real Redis 7 processes
(redis-server, redis-sentinel on loopback, free ports, temp dirs) and sample configs.

Usage: python3 fuzz/make_seeds.py   (from the repository root or fuzz/)
"""
import os, shutil, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def put(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def raw(port, payload, wait=0.3):
    """Send raw bytes, return every reply byte received within `wait` of quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(payload)
    s.settimeout(wait)
    buf = b""
    end = time.time() + wait * 4
    try:
        while time.time() < end:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout:
        pass
    s.close()
    return buf


def wait_port(port, deadline=10):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} did not open")


def main():
    if os.path.isdir(SEEDS):
        shutil.rmtree(SEEDS)
    tmp = tempfile.mkdtemp(prefix="vigil-seeds-")
    procs = []
    try:
        p1, p2, ps = free_port(), free_port(), free_port()
        common = ["--save", "", "--dir", tmp, "--enable-debug-command", "yes",
                  "--repl-diskless-sync-delay", "0"]
        procs.append(subprocess.Popen(["redis-server", "--port", str(p1)] + common,
                                      stdout=subprocess.DEVNULL))
        wait_port(p1)
        procs.append(subprocess.Popen(["redis-server", "--port", str(p2), "--replicaof",
                                       "127.0.0.1", str(p1), "--dbfilename", "r.rdb"] + common,
                                      stdout=subprocess.DEVNULL))
        wait_port(p2)
        with open(os.path.join(tmp, "s.conf"), "w") as f:
            f.write(f"port {ps}\nsentinel monitor mymaster 127.0.0.1 {p1} 1\n"
                    "sentinel down-after-milliseconds mymaster 5000\n")
        procs.append(subprocess.Popen(["redis-sentinel", os.path.join(tmp, "s.conf")],
                                      stdout=subprocess.DEVNULL))
        wait_port(ps)

        # Requests: commands of every family, pipelines, inline forms.
        reqs = {
            "set": enc("SET", "key:1", "value"),
            "pipeline": enc("SET", "a", "1") + enc("INCR", "a") + enc("GET", "a") + enc("MGET", "a", "b", "c"),
            "hset": enc("HSET", "h", "f1", "v1", "f2", "v2"),
            "binary": enc("SET", b"k\x00\r\n", b"\xff\xfe\r\n\x00"),
            "empty_arg": enc("ECHO", ""),
            "star0": b"*0\r\n" + enc("PING"),
            "inline": b"PING\r\nSET foo bar\r\n",
            "inline_quotes": b'SET "a b" \'c d\' "\\x41\\n"\r\n',
            "inline_lf": b"GET foo\nECHO \"x\\\"y\"\n",
            "blank_lines": b"\r\n\r\n  \r\nPING\r\n",
            "hello3": enc("HELLO", "3", "AUTH", "default", "pw") + enc("CLIENT", "SETNAME", "x"),
            "multi": enc("MULTI") + enc("SET", "x", "1") + enc("EXEC"),
            "wait": enc("SET", "w", "1") + enc("WAIT", "1", "100"),
            "psync": enc("REPLCONF", "listening-port", "6380") + enc("PSYNC", "?", "-1"),
            "big_bulk": enc("SET", "big", "x" * 5000),
            "many_args": enc("RPUSH", "l", *[str(i) for i in range(40)]),
            "partial": enc("SET", "a", "b")[:-3],
        }
        for name, body in reqs.items():
            put("resp_request", name, b"\x05" + body)
            put("resp_request", name + "_unauth_split1", b"\x80" + body)
        # Data for RDB and replies.
        r = lambda *a: raw(p1, enc(*a))
        r("SET", "str", "hello")
        r("SET", "int", "12345")
        r("SET", "bigint", "-9223372036854775808")
        r("SET", "long", "a" * 300)  # LZF-compressible
        r("SET", "rnd", os.urandom(64))
        r("RPUSH", "list", "a", "b", "1", "2")
        r("RPUSH", "biglist", *[("item%d" % i) * 5 for i in range(300)])
        r("SADD", "intset", "1", "2", "3", "100000")
        r("SADD", "set", "a", "b", "c")
        r("SADD", "bigset", *["m%d" % i for i in range(200)])
        r("HSET", "hash", "f", "v", "n", "7")
        r("HSET", "bighash", *sum([["f%d" % i, "v" * 80] for i in range(150)], []))
        r("ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c")
        r("ZADD", "bigzset", *sum([[str(i / 3), "m%d" % i] for i in range(200)], []))
        r("SET", "ttl", "v", "PX", "100000000")
        r("SELECT", "3")
        raw(p1, enc("SELECT", "3") + enc("SET", "in_db3", "x"))
        time.sleep(0.5)
        # Replies of every RESP2/RESP3 type.
        replies = {
            "info_master": enc("INFO"),
            "info_all": enc("INFO", "all"),
            "hello3": enc("HELLO", "3"),
            "hgetall3": enc("HELLO", "3") + enc("HGETALL", "hash") + enc("SMEMBERS", "set") + enc("ZSCORE", "zset", "b"),
            "lrange": enc("LRANGE", "biglist", "0", "20"),
            "errors": enc("NOSUCH") + enc("INCR", "str") + enc("GET", "nokey"),
            "client_list": enc("CLIENT", "LIST"),
            "role": enc("ROLE"),
            "exec": enc("MULTI") + enc("INCR", "int") + enc("GET", "int") + enc("EXEC"),
            "bignum": enc("HELLO", "3") + enc("DEBUG", "PROTOCOL", "bignum") + enc("DEBUG", "PROTOCOL", "verbatim")
            + enc("DEBUG", "PROTOCOL", "true") + enc("DEBUG", "PROTOCOL", "null") + enc("DEBUG", "PROTOCOL", "double")
            + enc("DEBUG", "PROTOCOL", "attrib") + enc("DEBUG", "PROTOCOL", "map") + enc("DEBUG", "PROTOCOL", "set"),
            "push": enc("HELLO", "3") + enc("SUBSCRIBE", "ch"),
            "nullarray": enc("BLPOP", "nolist", "0.01"),
        }
        for name, req in replies.items():
            put("resp_reply", name, raw(p1, req, wait=0.4))
        put("resp_reply", "sentinel_masters", raw(ps, enc("SENTINEL", "MASTERS")))
        put("resp_reply", "sentinel_replicas", raw(ps, enc("SENTINEL", "REPLICAS", "mymaster")))
        put("resp_reply", "fullsync", raw(p1, enc("PSYNC", "?", "-1"), wait=1.0)[:20000])
        # INFO text as the sentinel sees it.
        time.sleep(1)
        for name, port in (("master", p1), ("replica", p2), ("sentinel", ps)):
            rep = raw(port, enc("INFO"))
            body = rep.split(b"\r\n", 1)[1] if rep.startswith(b"$") else rep
            put("info", name, body[:-2] if body.endswith(b"\r\n") else body)
        # Hello messages, as published by the sentinel on the master.
        rep = raw(p1, enc("SUBSCRIBE", "__sentinel__:hello"), wait=2.5)
        hellos = [l for l in rep.split(b"\r\n") if l.count(b",") == 7]
        for i, h in enumerate(hellos[:3]):
            put("hello", f"real{i}", h)
        put("hello", "ipv6", b"::1,26379,e7ba5b87c9a4b1d2c3e4f5a6b7c8d9e0f1a2b3c4,3,mymaster,::1,6379,2")
        put("hello", "hostname", b"sentinel-1.local,26380,0123456789abcdef0123456789abcdef01234567,18446744073709551615,m,redis-a,1,0")
        # Sentinel config after the sentinel rewrote it (known-replica etc.).
        raw(ps, enc("SENTINEL", "FLUSHCONFIG"))
        shutil.copy(os.path.join(tmp, "s.conf"), os.path.join(tmp, "s.snapshot"))
        put("sentinel_conf", "rewritten_by_redis", open(os.path.join(tmp, "s.snapshot"), "rb").read())
        # RDB from SAVE.
        raw(p1, enc("SAVE"), wait=1.0)
        put("rdb", "dump-types.bin", open(os.path.join(tmp, "dump.rdb"), "rb").read())
        raw(p1, enc("FLUSHALL") + enc("SET", "only", "one") + enc("SAVE"), wait=1.0)
        put("rdb", "dump-small.bin", open(os.path.join(tmp, "dump.rdb"), "rb").read())
        raw(p1, enc("FLUSHALL") + enc("SAVE"), wait=1.0)
        put("rdb", "dump-empty.bin", open(os.path.join(tmp, "dump.rdb"), "rb").read())
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    # Configuration files.
    for src, target, name in (("/etc/redis/redis.conf", "redis_conf", "debian_redis.conf"),
                              ("/etc/redis/sentinel.conf", "sentinel_conf", "debian_sentinel.conf")):
        if os.path.exists(src):
            put(target, name, open(src, "rb").read())
    example = os.environ.get("SENTINEL_EXAMPLE", os.path.join(HERE, "..", "sentinel.conf.example"))
    if os.path.exists(example):
        put("sentinel_conf", "example.conf", open(example, "rb").read())
    put("redis_conf", "small.conf", "port 6380\nbind 127.0.0.1 ::1\nsave 900 1\nsave 300 10\n"
        "replicaof 127.0.0.1 6379\nmasterauth \"p w\"\nrequirepass 'x\\'y'\nmaxmemory 100mb\n"
        "min-replicas-to-write 1\nmin-replicas-max-lag 10\nprotected-mode no\ndir /tmp\n"
        "replica-priority 0\nrename-command FLUSHALL \"\"\ninclude /nonexistent.conf\n")
    put("sentinel_conf", "full.conf",
        "port 26380\nbind 127.0.0.1\nsentinel myid 0123456789abcdef0123456789abcdef01234567\n"
        "sentinel announce-ip \"10.0.0.1\"\nsentinel resolve-hostnames yes\n"
        "sentinel monitor m1 127.0.0.1 6379 2\nsentinel down-after-milliseconds m1 1000\n"
        "sentinel failover-timeout m1 5000\nsentinel parallel-syncs m1 2\n"
        "sentinel auth-pass m1 \"secret pass\"\nsentinel auth-user m1 bob\n"
        "sentinel notification-script m1 /bin/true\nsentinel client-reconfig-script m1 /bin/true\n"
        "sentinel config-epoch m1 3\nsentinel leader-epoch m1 3\n"
        "sentinel known-replica m1 127.0.0.1 6380\n"
        "sentinel known-sentinel m1 127.0.0.1 26381 fedcba9876543210fedcba9876543210fedcba98\n"
        "sentinel rename-command m1 CONFIG GUESSME\nsentinel current-epoch 3\n"
        "sentinel monitor m2 ::1 7000 1\n")
    # The blog posts in shared/seeds mention config lines among prose: fair game for
    # both config parsers.
    shared = "/work/shared/seeds"
    if os.path.isdir(shared):
        for f in sorted(os.listdir(shared))[:5]:
            data = open(os.path.join(shared, f), "rb").read()[:8000]
            put("redis_conf", "shared_" + f, data)
            put("sentinel_conf", "shared_" + f, data)
    for t in ("resp_request", "resp_reply", "redis_conf", "sentinel_conf", "hello", "info", "rdb"):
        n = len(os.listdir(os.path.join(SEEDS, t)))
        print(f"{t}: {n} seeds")


if __name__ == "__main__":
    main()
