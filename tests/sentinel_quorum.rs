//! Elections end to end, vigil sentinels over real redis-servers: no failover without
//! a majority of the sentinels (ODOWN alone is not enough), quorum 5 of 5, and two
//! simultaneous `SENTINEL FAILOVER`s never promote under the same epoch.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

const NAME: &str = "mymaster";

/// A redis master with one replica, replication up.
fn master_and_replica(dir: &Path) -> (Proc, Proc) {
    let master = redis_server(dir, &[]);
    let mp = master.port.to_string();
    let replica = redis_server(dir, &["--replicaof", "127.0.0.1", &mp]);
    wait_for("replica online", Duration::from_secs(10), || {
        let mut c = Client::try_connect(master.port)?;
        let i = c.cmd(&["INFO", "replication"]).as_text()?;
        i.contains("state=online").then_some(())
    });
    (master, replica)
}

fn conf(master_port: u16, quorum: u32, down_after_ms: u64) -> String {
    format!(
        "sentinel monitor {NAME} 127.0.0.1 {master_port} {quorum}\n\
         sentinel down-after-milliseconds {NAME} {down_after_ms}\n\
         sentinel failover-timeout {NAME} 5000\n"
    )
}

fn addr_port(p: u16) -> Option<u16> {
    sentinel_master_addr(p, NAME).map(|a| a.1)
}

fn conf_path(dir: &Path, port: u16) -> std::path::PathBuf {
    dir.join(format!("sentinel-{port}.conf"))
}

fn count_in_logs(dir: &Path, ports: &[u16], what: &str) -> usize {
    ports
        .iter()
        .map(|&p| vigil_sentinel_log(dir, p).matches(what).count())
        .sum()
}

/// Every sentinel in `ports` answers `new_port` as the master's port.
fn wait_all_switched(ports: &[u16], new_port: u16, within: Duration) {
    for &p in ports {
        wait_for("the new master on every sentinel", within, || {
            (addr_port(p) == Some(new_port)).then_some(())
        });
    }
}

#[test]
fn no_failover_without_a_majority_then_failover_when_sentinels_return() {
    let dir = temp_dir();
    let (mut master, replica) = master_and_replica(dir.path());
    let old_port = master.port;
    let c = conf(old_port, 2, 300);
    let mut s: Vec<Proc> = (0..5).map(|_| vigil_sentinel(dir.path(), &c)).collect();
    let ports: Vec<u16> = s.iter().map(|p| p.port).collect();
    wait_sentinels_know(&ports, NAME, 1);
    // 3 of 5 down: 2 left, enough for the quorum (ODOWN) but not a majority (3).
    for p in &mut s[2..] {
        p.kill();
    }
    master.kill();
    let live = &ports[..2];
    for &p in live {
        wait_for("ODOWN with 2 of 5", Duration::from_secs(10), || {
            vigil_sentinel_log(dir.path(), p)
                .contains("+odown master")
                .then_some(())
        });
    }
    // Several election attempts fit in this window; none may win.
    std::thread::sleep(Duration::from_secs(2));
    for &p in live {
        assert_eq!(
            addr_port(p),
            Some(old_port),
            "no failover without a majority"
        );
        let m = frame_map(&Client::connect(p).cmd(&["SENTINEL", "MASTER", NAME]));
        assert_eq!(m["config-epoch"], "0");
    }
    assert_eq!(count_in_logs(dir.path(), live, "+elected-leader"), 0);
    assert_eq!(count_in_logs(dir.path(), live, "+switch-master"), 0);
    // The three come back: the failover completes, everyone agrees.
    let back: Vec<Proc> = ports[2..]
        .iter()
        .map(|&p| vigil_sentinel_at(dir.path(), p, &conf_path(dir.path(), p)))
        .collect();
    let t = Instant::now();
    wait_all_switched(&ports, replica.port, Duration::from_secs(30));
    eprintln!(
        "failover done {:?} after the sentinels returned",
        t.elapsed()
    );
    let epochs: Vec<String> = ports
        .iter()
        .map(|&p| {
            frame_map(&Client::connect(p).cmd(&["SENTINEL", "MASTER", NAME]))["config-epoch"]
                .clone()
        })
        .collect();
    assert!(
        epochs.iter().all(|e| e == &epochs[0] && e != "0"),
        "{epochs:?}"
    );
    drop(back);
}

#[test]
fn quorum_five_of_five_needs_every_sentinel() {
    let dir = temp_dir();
    let (mut master, replica) = master_and_replica(dir.path());
    let old_port = master.port;
    let c = conf(old_port, 5, 300);
    let mut s: Vec<Proc> = (0..5).map(|_| vigil_sentinel(dir.path(), &c)).collect();
    let ports: Vec<u16> = s.iter().map(|p| p.port).collect();
    wait_sentinels_know(&ports, NAME, 1);
    for &p in &ports {
        assert!(Client::connect(p)
            .text(&["SENTINEL", "CKQUORUM", NAME])
            .starts_with("OK 5 usable"));
    }
    // One sentinel down: 4 of 5 see SDOWN, never ODOWN.
    s[4].kill();
    master.kill();
    let live = &ports[..4];
    for &p in live {
        wait_for("SDOWN", Duration::from_secs(10), || {
            vigil_sentinel_log(dir.path(), p)
                .contains("+sdown master")
                .then_some(())
        });
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        count_in_logs(dir.path(), live, "+odown"),
        0,
        "no ODOWN with 4 of 5"
    );
    for &p in live {
        assert_eq!(addr_port(p), Some(old_port));
    }
    // The fifth returns: ODOWN with 5/5, then a failover.
    let back = vigil_sentinel_at(dir.path(), ports[4], &conf_path(dir.path(), ports[4]));
    wait_all_switched(&ports, replica.port, Duration::from_secs(30));
    assert!(count_in_logs(dir.path(), &ports, "+odown master") >= 1);
    drop(back);
}

/// Reference §7.5: Redis gives two concurrent forced failovers the same epoch.
#[test]
fn simultaneous_forced_failovers_never_share_an_epoch() {
    let dir = temp_dir();
    let (mut master, replica) = master_and_replica(dir.path());
    let old_port = master.port;
    // A long down-after: only the forced failovers act in this test.
    let c = conf(old_port, 2, 20000);
    let s: Vec<Proc> = (0..3).map(|_| vigil_sentinel(dir.path(), &c)).collect();
    let ports: Vec<u16> = s.iter().map(|p| p.port).collect();
    wait_sentinels_know(&ports, NAME, 1);
    master.kill();
    // Let the sentinels see their links to the master drop.
    wait_for("master link down", Duration::from_secs(5), || {
        ports
            .iter()
            .all(|&p| {
                frame_map(&Client::connect(p).cmd(&["SENTINEL", "MASTER", NAME]))["flags"]
                    .contains("disconnected")
            })
            .then_some(())
    });
    // Two SENTINEL FAILOVERs at the same instant.
    let mut c0 = Client::connect(ports[0]);
    let mut c1 = Client::connect(ports[1]);
    c0.send(&["SENTINEL", "FAILOVER", NAME]);
    c1.send(&["SENTINEL", "FAILOVER", NAME]);
    let replies = [c0.read().as_text(), c1.read().as_text()];
    eprintln!("replies: {replies:?}");

    assert!(
        replies.iter().any(|r| r.as_deref() == Some("OK")),
        "{replies:?}"
    );
    for r in &replies {
        let r = r.as_deref().unwrap_or_default();
        assert!(r == "OK" || r.starts_with("INPROG"), "{r}");
    }
    wait_all_switched(&ports, replica.port, Duration::from_secs(15));
    // Stragglers (a retry after a split vote) would show up within this.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        count_in_logs(dir.path(), &ports, "+elected-leader"),
        1,
        "one leader, one epoch"
    );
    let epochs: Vec<String> = ports
        .iter()
        .map(|&p| {
            frame_map(&Client::connect(p).cmd(&["SENTINEL", "MASTER", NAME]))["config-epoch"]
                .clone()
        })
        .collect();
    assert!(
        epochs.iter().all(|e| e == &epochs[0] && e != "0"),
        "{epochs:?}"
    );
}
