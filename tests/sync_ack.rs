//! `vigil-sync-replicas N`: a write is acknowledged only once N replicas confirmed it
//! (src/server/sync_ack.rs), with vigil and real redis-server replicas; unconfirmed
//! writes answer `-NOTSYNCED` and reads in the same pipeline are untouched.

mod support;

use std::time::{Duration, Instant};
use support::*;

/// A vigil master with `vigil-sync-replicas 1` and one replica (`vigil` or `redis`)
/// whose link is up.
fn master_with_replica(dir: &std::path::Path, timeout_ms: &str, kind: &str) -> (Proc, Proc) {
    let m = vigil_server(
        dir,
        &[
            "--vigil-sync-replicas",
            "1",
            "--vigil-sync-timeout-ms",
            timeout_ms,
        ],
    );
    let sub = dir.join("r");
    std::fs::create_dir_all(&sub).unwrap();
    let mport = m.port.to_string();
    let args = ["--replicaof", "127.0.0.1", mport.as_str()];
    let r = if kind == "redis" {
        redis_server(&sub, &args)
    } else {
        vigil_server(&sub, &args)
    };
    wait_link_up(r.port);
    (m, r)
}

/// Every acknowledged write is already on the replica when the reply arrives.
fn acknowledged_writes_are_on_the_replica(replica_kind: &str) {
    let dir = temp_dir();
    let (m, r) = master_with_replica(dir.path(), "5000", replica_kind);
    let mut mc = m.client();
    let mut rc = r.client();
    for i in 0..50 {
        let key = format!("k{i}");
        assert_eq!(mc.text(&["SET", &key, &i.to_string()]), "OK");
        assert_eq!(rc.text(&["GET", &key]), i.to_string(), "{replica_kind}");
    }
    // A transaction is confirmed as a whole.
    mc.send_raw(b"MULTI\r\nINCR c\r\nINCR c\r\nEXEC\r\n");
    for want in ["OK", "QUEUED", "QUEUED"] {
        assert_eq!(mc.read().as_text().as_deref(), Some(want));
    }
    assert!(format!("{:?}", mc.read()).contains("Integer(2)"));
    assert_eq!(rc.text(&["GET", "c"]), "2");
}

#[test]
fn acknowledged_writes_are_on_a_vigil_replica() {
    acknowledged_writes_are_on_the_replica("vigil");
}

#[test]
fn acknowledged_writes_are_on_a_redis_replica() {
    acknowledged_writes_are_on_the_replica("redis");
}

#[test]
fn unconfirmed_writes_answer_notsynced_and_reads_pass() {
    let dir = temp_dir();
    let (m, r) = master_with_replica(dir.path(), "300", "vigil");
    let mut mc = m.client();
    assert_eq!(mc.text(&["SET", "before", "1"]), "OK");
    r.stop();
    // SET (write), GET (read), INCR (write) in one pipeline.
    let started = Instant::now();
    mc.send_raw(b"SET a 1\r\nGET before\r\nINCR n\r\n");
    let replies: Vec<String> = (0..3)
        .map(|_| mc.read().as_text().unwrap_or_default())
        .collect();
    let took = started.elapsed();
    assert!(replies[0].starts_with("NOTSYNCED"), "{replies:?}");
    assert_eq!(replies[1], "1");
    assert!(replies[2].starts_with("NOTSYNCED"), "{replies:?}");
    assert!(took >= Duration::from_millis(250), "{took:?}");
    // The writes were applied on the master all the same.
    assert_eq!(mc.text(&["GET", "a"]), "1");
    assert_eq!(mc.text(&["GET", "n"]), "1");
    r.cont();
    wait_for("writes confirmed again", Duration::from_secs(10), || {
        (mc.text(&["SET", "after", "1"]) == "OK").then_some(())
    });
    assert_eq!(r.client().text(&["GET", "a"]), "1");
}

#[test]
fn without_enough_replicas_writes_fail_at_once_and_zero_turns_it_off() {
    let dir = temp_dir();
    let m = vigil_server(
        dir.path(),
        &[
            "--vigil-sync-replicas",
            "1",
            "--vigil-sync-timeout-ms",
            "10000",
        ],
    );
    let mut mc = m.client();
    let started = Instant::now();
    let reply = mc.text(&["SET", "k", "v"]);
    assert!(reply.starts_with("NOTSYNCED"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(mc.text(&["GET", "k"]), "v");
    assert_eq!(
        mc.text(&["CONFIG", "SET", "vigil-sync-replicas", "0"]),
        "OK"
    );
    assert_eq!(mc.text(&["SET", "k", "w"]), "OK");
}
