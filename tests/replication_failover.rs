//! FAILOVER pauses writes like Redis (blocked, not rejected) while the target catches
//! up: with writers running through a FAILOVER no acknowledged write is lost and the
//! old master ends up a replica of the target; ABORT and TIMEOUT release the paused
//! writers (which then run). Plus `repl-timeout` on both sides of a link and
//! `repl-backlog-ttl`.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use vigil::resp::Frame;

/// A writer that SETs `prefix:i = i` in a loop and remembers which SETs were
/// acknowledged (+OK); it keeps going after errors (-READONLY) until stopped.
fn writer(
    port: u16,
    prefix: &'static str,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Vec<u64>, usize)> {
    std::thread::spawn(move || {
        let mut c = Client::connect(port);
        let mut acked = Vec::new();
        let mut errors = 0;
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let k = format!("{prefix}:{i}");
            match c.cmd(&["SET", &k, &i.to_string()]) {
                Frame::Simple(s) if s == "OK" => acked.push(i),
                _ => errors += 1,
            }
            i += 1;
        }
        (acked, errors)
    })
}

#[test]
fn failover_under_writes_loses_no_acknowledged_write() {
    failover_under_writes(false);
}

/// The same with a real redis-server as the target (it answers our
/// `PSYNC <replid> <offset> FAILOVER`).
#[test]
fn failover_to_a_redis_replica_under_writes() {
    failover_under_writes(true);
}

fn failover_under_writes(redis_target: bool) {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    let follow = ["--replicaof", "127.0.0.1", &m.port.to_string()];
    let (tdir, odir) = (dir.path().join("t"), dir.path().join("o"));
    std::fs::create_dir_all(&tdir).unwrap();
    std::fs::create_dir_all(&odir).unwrap();
    let (target, other) = if redis_target {
        (redis_server(&tdir, &follow), vigil_server(&odir, &follow))
    } else {
        (vigil_server(&tdir, &follow), redis_server(&odir, &follow))
    };
    wait_link_up(target.port);
    wait_link_up(other.port);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|p| writer(m.port, p, stop.clone()))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // States seen by a poller while the failover runs.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let poll_stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (seen, poll_stop, port) = (seen.clone(), poll_stop.clone(), m.port);
        std::thread::spawn(move || {
            let mut c = Client::connect(port);
            while !poll_stop.load(Ordering::Relaxed) {
                let s = info_field(&c.text(&["INFO", "replication"]), "master_failover_state")
                    .unwrap_or_default();
                let mut v = seen.lock().unwrap();
                if v.last() != Some(&s) {
                    v.push(s);
                }
            }
        })
    };
    wait_for("poller running", Duration::from_secs(5), || {
        (!seen.lock().unwrap().is_empty()).then_some(())
    });
    let mut mc = m.client();
    let tport = target.port.to_string();
    assert_eq!(
        mc.text(&["FAILOVER", "TO", "127.0.0.1", &tport, "TIMEOUT", "10000"]),
        "OK"
    );
    wait_for("roles swapped", Duration::from_secs(15), || {
        (field(m.port, "replication", "role") == "slave"
            && field(m.port, "replication", "master_port") == tport
            && field(m.port, "replication", "master_link_status") == "up"
            && field(m.port, "replication", "master_failover_state") == "no-failover"
            && field(target.port, "replication", "role") == "master")
            .then_some(())
    });
    // Let the writers hit the new replica for a moment (-READONLY), then stop.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    poll_stop.store(true, Ordering::Relaxed);
    poller.join().unwrap();
    let results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("no-failover"),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|s| s == "waiting-for-sync"),
        "INFO never showed waiting-for-sync: {seen:?}"
    );
    // Every acknowledged write is on the new master (and on the old one, now its
    // replica, once caught up); the writers were refused only after the switch.
    let mut tc = target.client();
    tc.cmd(&["SET", "after", "1"]);
    wait_caught_up(target.port, m.port);
    let mut mc = m.client();
    let mut total = 0;
    for ((acked, errors), prefix) in results.iter().zip(["a", "b", "c"]) {
        assert!(!acked.is_empty(), "writer {prefix} never wrote");
        assert!(*errors > 0, "writer {prefix} never saw the switch");
        for i in acked {
            let k = format!("{prefix}:{i}");
            assert_eq!(
                tc.text(&["GET", &k]),
                i.to_string(),
                "{k} lost on the target"
            );
            assert_eq!(
                mc.text(&["GET", &k]),
                i.to_string(),
                "{k} lost on the old master"
            );
        }
        total += acked.len();
    }
    assert!(total > 50, "too few writes to mean anything: {total}");
    assert_eq!(mc.text(&["GET", "after"]), "1");
    assert!(mc.text(&["SET", "x", "1"]).starts_with("READONLY"));
    // The switch was a partial resync on the target.
    assert_eq!(field(target.port, "stats", "sync_full"), "0");
}

#[test]
fn abort_and_timeout_release_paused_writes() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    let r = vigil_replica(dir.path(), m.port);
    let mut mc = m.client();
    mc.cmd(&["SET", "k", "v"]);
    wait_caught_up(m.port, r.port);
    // A stopped target never acknowledges the GETACK FAILOVER sends.
    r.stop();
    mc.cmd(&["SET", "ttl", "v", "PX", "700"]);
    let rport = r.port.to_string();
    let started = Instant::now();
    assert_eq!(
        mc.text(&["FAILOVER", "TO", "127.0.0.1", &rport, "TIMEOUT", "1500"]),
        "OK"
    );
    assert_eq!(
        field(m.port, "replication", "master_failover_state"),
        "waiting-for-sync"
    );
    assert_eq!(
        mc.text(&["FAILOVER", "TO", "127.0.0.1", &rport]),
        "ERR FAILOVER already in progress."
    );
    assert_eq!(
        mc.text(&["REPLICAOF", "NO", "ONE"]),
        "ERR REPLICAOF not allowed while failing over."
    );
    let mut w = m.client();
    w.assert_held(&["SET", "k", "paused-1"]);
    // Reads are served; a write waits already where MULTI would queue it (Redis
    // checks the pause before queueing).
    let mut r2 = m.client();
    assert_eq!(r2.text(&["GET", "k"]), "v");
    std::thread::sleep(Duration::from_millis(400));
    // No expiry while paused: the key is gone for readers but no DEL is propagated.
    let off = field(m.port, "replication", "master_repl_offset");
    assert_eq!(r2.cmd(&["GET", "ttl"]), Frame::Null);
    assert_eq!(field(m.port, "replication", "master_repl_offset"), off);
    let mut tx = m.client();
    assert_eq!(tx.text(&["MULTI"]), "OK");
    tx.assert_held(&["INCR", "n"]);
    // TIMEOUT: the failover aborts, the writes run, we are still the master.
    assert_eq!(w.read(), Frame::Simple("OK".into()));
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(tx.read(), Frame::Simple("QUEUED".into()));
    assert_eq!(tx.cmd(&["EXEC"]), Frame::Array(vec![Frame::Integer(1)]));
    assert_eq!(
        field(m.port, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(field(m.port, "replication", "role"), "master");
    assert_eq!(r2.text(&["GET", "k"]), "paused-1");
    // ABORT: same, at once.
    assert_eq!(mc.text(&["FAILOVER", "TO", "127.0.0.1", &rport]), "OK");
    w.assert_held(&["SET", "k", "paused-2"]);
    assert_eq!(mc.text(&["FAILOVER", "ABORT"]), "OK");
    assert_eq!(w.read(), Frame::Simple("OK".into()));
    assert_eq!(r2.text(&["GET", "k"]), "paused-2");
    assert_eq!(
        field(m.port, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(
        mc.text(&["FAILOVER", "ABORT"]),
        "ERR No failover in progress."
    );
    // After the pause, writes run at once again and the target catches up.
    r.cont();
    assert_eq!(w.text(&["SET", "k", "free"]), "OK");
    wait_caught_up(m.port, r.port);
    assert_eq!(r.client().text(&["GET", "k"]), "free");
}

#[test]
fn replica_drops_a_silent_master_after_repl_timeout() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &["--repl-ping-replica-period", "1"]);
    let sub = dir.path().join("r");
    std::fs::create_dir_all(&sub).unwrap();
    let r = vigil_server(
        &sub,
        &[
            "--replicaof",
            "127.0.0.1",
            &m.port.to_string(),
            "--repl-timeout",
            "2",
        ],
    );
    wait_link_up(r.port);
    // Pinged every second, the link stays up past the timeout.
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(field(r.port, "replication", "master_link_status"), "up");
    m.stop();
    let stopped = Instant::now();
    wait_for("link down", Duration::from_secs(8), || {
        (field(r.port, "replication", "master_link_status") == "down").then_some(())
    });
    let took = stopped.elapsed();
    // repl-timeout (2 s) counts from the last byte from the master, and the master
    // pings every second: the link goes down 1-2 s after the stop (a little less
    // when the stop lands right before a ping was due).
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    m.cont();
    wait_link_up(r.port);
    // The link was cached: the master saw a partial resync.
    assert_eq!(field(m.port, "stats", "sync_partial_ok"), "1");
}

#[test]
fn master_drops_a_replica_that_stopped_acking() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &["--repl-timeout", "2"]);
    for kind in ["vigil", "redis"] {
        let sub = dir.path().join(kind);
        std::fs::create_dir_all(&sub).unwrap();
        let args = ["--replicaof", "127.0.0.1", &m.port.to_string()];
        let r = server_of(kind, &sub, &args);
        wait_link_up(r.port);
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(field(m.port, "replication", "connected_slaves"), "1");
        r.stop();
        let stopped = Instant::now();
        wait_for("replica dropped", Duration::from_secs(8), || {
            (field(m.port, "replication", "connected_slaves") == "0").then_some(())
        });
        assert!(stopped.elapsed() < Duration::from_secs(5), "{kind}");
        r.cont();
    }
}

#[test]
fn backlog_freed_after_repl_backlog_ttl_without_replicas_like_redis() {
    let dir = temp_dir();
    for kind in ["vigil", "redis"] {
        let sub = dir.path().join(kind);
        std::fs::create_dir_all(&sub).unwrap();
        let args = ["--repl-backlog-ttl", "1"];
        let m = server_of(kind, &sub, &args);
        assert_eq!(field(m.port, "replication", "repl_backlog_active"), "0");
        std::fs::create_dir_all(sub.join("r")).unwrap();
        let r = vigil_server(
            &sub.join("r"),
            &["--replicaof", "127.0.0.1", &m.port.to_string()],
        );
        wait_link_up(r.port);
        m.client().cmd(&["SET", "k", "v"]);
        assert_eq!(field(m.port, "replication", "repl_backlog_active"), "1");
        let replid = field(m.port, "replication", "master_replid");
        // Kept while a replica is connected.
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(
            field(m.port, "replication", "repl_backlog_active"),
            "1",
            "{kind}"
        );
        r.client().cmd(&["REPLICAOF", "NO", "ONE"]);
        let gone = Instant::now();
        wait_for("backlog freed", Duration::from_secs(8), || {
            (field(m.port, "replication", "repl_backlog_active") == "0").then_some(())
        });
        assert!(gone.elapsed() < Duration::from_secs(4), "{kind}");
        // Freed with a new replication id (the old history is gone).
        assert_ne!(field(m.port, "replication", "master_replid"), replid);
        assert_eq!(field(m.port, "replication", "repl_backlog_histlen"), "0");
    }
}

/// FORCE: at the timeout the switch starts even though the (stopped) target never
/// caught up; the writes stay paused in `failover-in-progress` until ABORT makes us
/// a master again (new replid, old one kept as replid2), and then they run.
#[test]
fn forced_failover_to_a_dead_target_then_abort() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    let sub = dir.path().join("r");
    std::fs::create_dir_all(&sub).unwrap();
    let r = vigil_replica(&sub, m.port);
    let mut mc = m.client();
    mc.cmd(&["SET", "k", "v"]);
    wait_caught_up(m.port, r.port);
    r.stop();
    let rport = r.port.to_string();
    assert_eq!(
        mc.text(&["FAILOVER", "TO", "127.0.0.1", &rport, "FORCE"]),
        "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    );
    let replid = field(m.port, "replication", "master_replid");
    assert_eq!(
        mc.text(&[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &rport,
            "FORCE",
            "TIMEOUT",
            "500"
        ]),
        "OK"
    );
    let mut w = m.client();
    w.assert_held(&["SET", "k", "held"]);
    wait_for("failover-in-progress", Duration::from_secs(5), || {
        (field(m.port, "replication", "master_failover_state") == "failover-in-progress")
            .then_some(())
    });
    assert_eq!(field(m.port, "replication", "role"), "slave");
    // Still held.
    w.stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(w.try_read().is_none());
    w.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(mc.text(&["FAILOVER", "ABORT"]), "OK");
    assert_eq!(w.read(), Frame::Simple("OK".into()));
    assert_eq!(field(m.port, "replication", "role"), "master");
    assert_eq!(
        field(m.port, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(field(m.port, "replication", "master_replid2"), replid);
    assert_eq!(mc.text(&["GET", "k"]), "held");
    r.cont();
}
