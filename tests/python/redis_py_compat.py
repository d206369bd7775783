"""redis-py 8 against a running server: default RESP3 and protocol=2.

Usage: python3 redis_py_compat.py PORT. Exits non-zero (with a traceback) on the
first mismatch. Run by tests/server_compat.rs.
"""
import sys
import time

import redis


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def exercise(port, protocol):
    kwargs = {} if protocol is None else {"protocol": protocol}
    r = redis.Redis(port=port, decode_responses=True, client_name="pycompat", **kwargs)
    tag = f"proto={protocol or 'default'}"
    check(r.ping() is True, f"{tag}: ping")
    want_resp = "2" if protocol == 2 else "3"
    resp = str(r.client_info()["resp"])
    check(resp == want_resp, f"{tag}: connection speaks RESP{resp}, expected RESP{want_resp}")
    check(r.set("py:k", "v") is True, f"{tag}: set")
    check(r.get("py:k") == "v", f"{tag}: get")
    check(r.get("py:missing") is None, f"{tag}: get missing")
    check(r.incr("py:n") >= 1, f"{tag}: incr")
    check(r.mget(["py:k", "py:missing"]) == ["v", None], f"{tag}: mget")
    check(r.client_getname() == "pycompat", f"{tag}: client name")
    check(isinstance(r.client_id(), int), f"{tag}: client id")
    info = r.info()
    check(info["redis_version"] == "7.0.15", f"{tag}: info version")
    check(len(info["run_id"]) == 40, f"{tag}: run_id")
    check(info["role"] == "master", f"{tag}: role")
    check("connected_clients" in r.info("clients"), f"{tag}: info clients")
    check(isinstance(r.info("keyspace").get("db0"), dict), f"{tag}: keyspace dict")
    clients = r.client_list()
    check(any(c["name"] == "pycompat" for c in clients), f"{tag}: client list {clients}")
    check(r.config_get("maxmemory") == {"maxmemory": "0"}, f"{tag}: config get")
    check(r.config_set("hz", 15) is True, f"{tag}: config set")
    check(r.config_get("hz") == {"hz": "15"}, f"{tag}: config get after set")
    try:
        r.execute_command("NOSUCHCMD")
        raise AssertionError(f"{tag}: unknown command should fail")
    except redis.ResponseError as e:
        check("unknown command" in str(e), f"{tag}: {e}")

    # Transactions: pipeline(transaction=True) and WATCH.
    p = r.pipeline(transaction=True)
    p.set("py:t", "1").incr("py:t").get("py:t")
    check(p.execute() == [True, 2, "2"], f"{tag}: multi/exec")
    with r.pipeline() as p:
        p.watch("py:w")
        r2 = redis.Redis(port=port, decode_responses=True, **kwargs)
        r2.set("py:w", "other")
        p.multi()
        p.set("py:w", "mine")
        try:
            p.execute()
            raise AssertionError(f"{tag}: WATCH should abort the transaction")
        except redis.WatchError:
            pass
    check(r.get("py:w") == "other", f"{tag}: watch kept the other write")

    # Pub/sub with channel and pattern subscriptions.
    ps = r.pubsub()
    ps.subscribe("py:chan")
    ps.psubscribe("py:*")
    confirmations = []
    deadline = time.time() + 5
    while len(confirmations) < 2 and time.time() < deadline:
        m = ps.get_message(timeout=0.5)
        if m:
            confirmations.append(m["type"])
    check(confirmations == ["subscribe", "psubscribe"], f"{tag}: {confirmations}")
    check(r.publish("py:chan", "hi") == 2, f"{tag}: publish receivers")
    got = []
    deadline = time.time() + 5
    while len(got) < 2 and time.time() < deadline:
        m = ps.get_message(timeout=0.5)
        if m:
            got.append((m["type"], m["channel"], m["data"]))
    check(("message", "py:chan", "hi") in got, f"{tag}: {got}")
    check(("pmessage", "py:chan", "hi") in got, f"{tag}: {got}")
    check(r.pubsub_numsub("py:chan") == [("py:chan", 1)], f"{tag}: numsub")
    check(r.pubsub_numpat() == 1, f"{tag}: numpat")
    ps.close()
    r.close()
    r2.close()


def main():
    port = int(sys.argv[1])
    print("redis-py", redis.__version__)
    exercise(port, None)  # redis-py 8 default: HELLO 3, no fallback
    exercise(port, 2)
    exercise(port, 3)
    print("ok")


if __name__ == "__main__":
    main()
