//! Client libraries through sentinels across a SIGKILL failover: redis-py 8
//! (`Sentinel.master_for` / `slave_for`, default RESP3 and `protocol=2`), through
//! the real redis-sentinel and through `vigil sentinel`, over redis-server.

mod discovery_support;
mod support;

use discovery_support::{Flavor, Topology, NAME};
use std::process::{Command, Stdio};
use std::time::Duration;

fn redis_py_across_failover(flavor: Flavor) {
    let mut t = Topology::start(flavor, 2, 3, 1000);
    let old = t.master.port;
    let ports = t
        .sentinels
        .iter()
        .map(|s| s.port.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/discovery_scripts/redis_py_writer.py"
    );
    let spawn = |prefix: &str, proto: &str| {
        Command::new("python3")
            .args([script, &ports, NAME, prefix, proto, "9"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let resp3 = spawn("py3", "3");
    let resp2 = spawn("py2", "2");
    std::thread::sleep(Duration::from_secs(2));
    t.master.kill();
    let new = t.wait_new_master(old, Duration::from_secs(25));
    for (prefix, child) in [("py3", resp3), ("py2", resp2)] {
        let out = child.wait_with_output().unwrap();
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
        assert_eq!(
            masters,
            vec![format!("127.0.0.1:{old}"), format!("127.0.0.1:{new}")],
            "{prefix}: writes went to the old then the new master"
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
        assert!(
            lost.is_empty(),
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
