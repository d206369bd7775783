"""Write through redis-py's Sentinel.master_for across a failover.

usage: redis_py_writer.py SENTINEL_PORTS(comma) NAME PREFIX PROTOCOL SECONDS

Writes PREFIX:i = i every 10 ms for SECONDS, retrying on the errors a failover
causes, then reads one key back through slave_for and prints one JSON line:
{"acked": [...], "errors": n, "masters": [...], "replica_read": value}.
"""
import json
import sys
import time

import redis
from redis.sentinel import MasterNotFoundError, Sentinel, SlaveNotFoundError

ports, name, prefix, proto, seconds = sys.argv[1:6]
sentinels = [("127.0.0.1", int(p)) for p in ports.split(",")]
kwargs = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
if proto == "2":
    kwargs["protocol"] = 2
s = Sentinel(sentinels, sentinel_kwargs={"socket_timeout": 0.5}, **kwargs)
m = s.master_for(name, **kwargs)
acked, errors, masters = [], 0, []
end = time.monotonic() + float(seconds)
i = 0
while time.monotonic() < end:
    i += 1
    try:
        m.set(f"{prefix}:{i}", i)
        acked.append(i)
        addr = "%s:%s" % s.discover_master(name)
        if not masters or masters[-1] != addr:
            masters.append(addr)
    except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError,
            MasterNotFoundError) as e:
        errors += 1
    time.sleep(0.01)
replica_read = None
for _ in range(50):
    try:
        v = s.slave_for(name, **kwargs).get(f"{prefix}:{acked[0]}")
        replica_read = v.decode() if isinstance(v, bytes) else v
        break
    except (redis.ConnectionError, redis.TimeoutError, SlaveNotFoundError):
        time.sleep(0.1)
print(json.dumps({"acked": acked, "errors": errors, "masters": masters,
                  "replica_read": replica_read}))
