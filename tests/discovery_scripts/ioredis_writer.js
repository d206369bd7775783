// Write through ioredis's Sentinel support across a failover.
//
// usage: node ioredis_writer.js SENTINEL_PORTS(comma) NAME PREFIX PROTOCOL SECONDS
//
// Writes PREFIX:i = i every 10 ms for SECONDS (ioredis speaks RESP2 only, PROTOCOL is
// accepted for the same command line as redis_py_writer.py), counting the errors a
// failover causes, then reads one key back through a `role: "slave"` connection and
// prints one JSON line: {"acked": [...], "errors": n, "masters": [...],
// "replica_read": value}. `masters` lists the addresses the writes went to, in order.
const Redis = require("ioredis");

const [ports, name, prefix, , seconds] = process.argv.slice(2);
const sentinels = ports.split(",").map((p) => ({ host: "127.0.0.1", port: Number(p) }));
const common = {
  sentinels,
  name,
  connectTimeout: 500,
  commandTimeout: 500,
  sentinelRetryStrategy: () => 100,
  retryStrategy: () => 100,
  maxRetriesPerRequest: 1,
  lazyConnect: false,
};
const m = new Redis(common);
m.on("error", () => {});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const acked = [];
  const masters = [];
  let errors = 0;
  const end = Date.now() + Number(seconds) * 1000;
  for (let i = 1; Date.now() < end; i++) {
    try {
      await m.set(`${prefix}:${i}`, String(i));
      acked.push(i);
      const s = m.stream;
      const addr = s ? `${s.remoteAddress}:${s.remotePort}` : "?";
      if (masters.length === 0 || masters[masters.length - 1] !== addr) masters.push(addr);
    } catch (e) {
      errors++;
    }
    await sleep(10);
  }
  let replicaRead = null;
  const r = new Redis({ ...common, role: "slave" });
  r.on("error", () => {});
  for (let k = 0; k < 50 && acked.length > 0; k++) {
    try {
      replicaRead = await r.get(`${prefix}:${acked[0]}`);
      break;
    } catch (e) {
      await sleep(100);
    }
  }
  console.log(JSON.stringify({ acked, errors, masters, replica_read: replicaRead }));
  m.disconnect();
  r.disconnect();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  }
);
