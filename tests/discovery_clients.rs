//! Client libraries through sentinels across a SIGKILL failover: redis-py 8
//! (`Sentinel.master_for` / `slave_for`, default RESP3 and `protocol=2`), through
//! the real redis-sentinel and through `vigil sentinel`, over redis-server, and
//! through `vigil sentinel` over `vigil server`; and ioredis (Node.js, installed by
//! scripts/test.sh into target/node) through `vigil sentinel` over `vigil server`.

mod discovery_support;
mod support;

use discovery_support::{Flavor, Topology, NAME};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Which client program to run (each prints the same JSON line).
#[derive(Clone, Copy)]
enum Lib {
    RedisPy,
    Ioredis,
}

/// Where scripts/test.sh installs ioredis (`npm install --prefix target/node`).
fn node_modules() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/node/node_modules");
    assert!(
        std::path::Path::new(dir).join("ioredis").is_dir(),
        "ioredis is missing: run scripts/test.sh or `npm install --prefix target/node ioredis@5`"
    );
    dir.to_string()
}

fn redis_py_across_failover(flavor: Flavor) {
    across_failover(
        flavor,
        &[("py3", Lib::RedisPy, "3"), ("py2", Lib::RedisPy, "2")],
    );
}

fn across_failover(flavor: Flavor, clients: &[(&str, Lib, &str)]) {
    // redis-sentinel at down-after 1000 ms fails over back and forth under a loaded
    // test run (a just-promoted master whose first PING reply takes > 1 s is called
    // down), and the writes acknowledged by the first promoted replica are then lost:
    // that is Redis's ping-pong, not the client's behaviour under test.
    let down_after = match flavor {
        Flavor::Redis => 3000,
        Flavor::VigilSentinel | Flavor::Vigil => 1000,
    };
    let mut t = Topology::start(flavor, 2, 3, down_after);
    let old = t.master.port;
    let ports = t
        .sentinels
        .iter()
        .map(|s| s.port.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/discovery_scripts");
    let spawn = |prefix: &str, lib: Lib, proto: &str| {
        let mut cmd = match lib {
            Lib::RedisPy => {
                let mut c = Command::new("python3");
                c.arg(format!("{dir}/redis_py_writer.py"))
                    .args([&ports, NAME, prefix, proto, "9"]);
                c
            }
            Lib::Ioredis => {
                let mut c = Command::new("node");
                c.env("NODE_PATH", node_modules())
                    .arg(format!("{dir}/ioredis_writer.js"))
                    .args([&ports, NAME, prefix, proto, "9"]);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = clients
        .iter()
        .map(|(prefix, lib, proto)| (*prefix, spawn(prefix, *lib, proto)))
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    t.master.kill();
    let first_new = t.wait_new_master(old, Duration::from_secs(25));
    let outputs: Vec<_> = children
        .into_iter()
        .map(|(prefix, child)| (prefix, child.wait_with_output().unwrap()))
        .collect();
    // On a loaded machine the sentinels may fail over once more (the promoted
    // replica briefly looks down); what counts is the master at the end.
    let new = t.wait_new_master(old, Duration::from_secs(25));
    if new != first_new {
        eprintln!("note: a second failover happened ({old} -> {first_new} -> {new})");
    }
    for (prefix, out) in outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{prefix}: {stderr}");
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        let masters: Vec<&str> = v["masters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert!(
            masters.len() >= 2
                && masters[0] == format!("127.0.0.1:{old}")
                && masters[masters.len() - 1] == format!("127.0.0.1:{new}"),
            "{prefix}: writes went to the old then the new master: {masters:?}"
        );
        let acked: Vec<u64> = v["acked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert!(acked.len() > 100, "{prefix}: {} acked", acked.len());
        let mut c = support::Client::connect(new);
        let lost: Vec<u64> = acked
            .iter()
            .copied()
            .filter(|i| c.text(&["GET", &format!("{prefix}:{i}")]) != i.to_string())
            .collect();
        // redis-server replicates asynchronously and may send a write's reply before
        // its replica has the bytes: the write acknowledged right before the SIGKILL
        // can be lost there (seen once in many runs under load). That is Redis's
        // behaviour, not the client's: allow it on redis-server, never on vigil server
        // (whose replies wait for the replicas' sockets, see src/server/conn.rs).
        let allowed = match flavor {
            Flavor::Vigil => 0,
            Flavor::Redis | Flavor::VigilSentinel => 1,
        };
        if !lost.is_empty() {
            eprintln!("{prefix}: redis-server lost {lost:?} (acknowledged just before the kill)");
        }
        assert!(
            lost.len() <= allowed,
            "{prefix}: acknowledged writes lost: {lost:?}"
        );
        assert_eq!(
            v["replica_read"],
            acked[0].to_string(),
            "{prefix}: slave_for read"
        );
        eprintln!(
            "{prefix}: {} acked, {} errors during the failover, 0 lost",
            acked.len(),
            v["errors"]
        );
    }
}

#[test]
fn redis_py_master_for_across_failover_real_redis() {
    redis_py_across_failover(Flavor::Redis);
}

#[test]
fn redis_py_master_for_across_failover_vigil_sentinel() {
    redis_py_across_failover(Flavor::VigilSentinel);
}

#[test]
fn redis_py_master_for_across_failover_all_vigil() {
    redis_py_across_failover(Flavor::Vigil);
}

#[test]
fn ioredis_across_failover_all_vigil() {
    across_failover(Flavor::Vigil, &[("ior", Lib::Ioredis, "2")]);
}
