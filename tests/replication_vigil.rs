//! Replication behaviours beyond the plain sync: PSYNC2 after REPLICAOF NO ONE (with
//! a redis-server replica in the mix), min-replicas-to-write with a stopped replica,
//! WAIT, FAILOVER, RDB persistence with the repl aux fields (restart → partial
//! resync), MASTERDOWN, and bad input from a fake master (corrupt RDB, malformed
//! stream): one log line, the link is dropped and retried, nothing panics.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;
use support::*;

fn replicaof(port: u16, master: u16) -> String {
    Client::connect(port).text(&["REPLICAOF", "127.0.0.1", &master.to_string()])
}

#[test]
fn promotion_keeps_history_all_resync_partially() {
    let dir = temp_dir();
    let sub = |n: &str| {
        let p = dir.path().join(n);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let a = vigil_server(&sub("a"), &[]);
    let b = vigil_server(
        &sub("b"),
        &["--replicaof", "127.0.0.1", &a.port.to_string()],
    );
    let c = redis_server(
        &sub("c"),
        &["--replicaof", "127.0.0.1", &a.port.to_string()],
    );
    wait_link_up(b.port);
    wait_link_up(c.port);
    let mut ac = a.client();
    for i in 0..50 {
        ac.cmd(&["SET", &format!("k{i}"), &i.to_string()]);
    }
    wait_caught_up(a.port, b.port);
    wait_caught_up(a.port, c.port);
    let old_id = field(a.port, "replication", "master_replid");
    let old_off: i64 = field(a.port, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    // Promote b by hand, repoint the others.
    assert_eq!(b.client().text(&["REPLICAOF", "NO", "ONE"]), "OK");
    assert_eq!(field(b.port, "replication", "role"), "master");
    assert_eq!(field(b.port, "replication", "master_replid2"), old_id);
    assert_eq!(
        field(b.port, "replication", "second_repl_offset"),
        (old_off + 1).to_string()
    );
    assert_eq!(replicaof(c.port, b.port), "OK");
    assert_eq!(replicaof(a.port, b.port), "OK");
    wait_link_up(a.port);
    wait_link_up(c.port);
    let mut bc = b.client();
    assert_eq!(bc.text(&["SET", "after", "promotion"]), "OK");
    wait_caught_up(b.port, a.port);
    wait_caught_up(b.port, c.port);
    assert_eq!(a.client().text(&["GET", "after"]), "promotion");
    assert_eq!(c.client().text(&["GET", "after"]), "promotion");
    assert_eq!(c.client().text(&["GET", "k49"]), "49");
    assert_eq!(field(b.port, "stats", "sync_full"), "0");
    assert_eq!(field(b.port, "stats", "sync_partial_ok"), "2");
    // The old master is now a replica, read-only, with b's history.
    assert_eq!(
        field(a.port, "replication", "master_replid"),
        field(b.port, "replication", "master_replid")
    );
    assert!(a.client().text(&["SET", "x", "1"]).starts_with("READONLY"));
    // Same master again: nothing to do.
    assert_eq!(
        replicaof(a.port, b.port),
        "OK Already connected to specified master"
    );
}

#[test]
fn min_replicas_and_wait() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &["--min-replicas-max-lag", "2"]);
    let r = vigil_replica(dir.path(), m.port);
    let mut mc = m.client();
    assert_eq!(mc.text(&["SET", "a", "1"]), "OK");
    assert_eq!(mc.cmd(&["WAIT", "1", "2000"]).as_int(), Some(1));
    // Nothing written on a fresh connection: WAIT returns at once.
    assert_eq!(m.client().cmd(&["WAIT", "0", "0"]).as_int(), Some(1));
    assert_eq!(
        mc.text(&["CONFIG", "SET", "min-replicas-to-write", "1"]),
        "OK"
    );
    wait_for("good replica counted", Duration::from_secs(5), || {
        (field(m.port, "replication", "min_slaves_good_slaves") == "1").then_some(())
    });
    assert_eq!(mc.text(&["SET", "b", "1"]), "OK");
    r.stop();
    wait_for("NOREPLICAS", Duration::from_secs(10), || {
        let t = mc.text(&["SET", "c", "1"]);
        (t == "NOREPLICAS Not enough good replicas to write.").then_some(())
    });
    // WAIT with a stopped replica times out with 0 acknowledged.
    mc.cmd(&["CONFIG", "SET", "min-replicas-to-write", "0"]);
    assert_eq!(mc.text(&["SET", "d", "1"]), "OK");
    let t = std::time::Instant::now();
    assert_eq!(mc.cmd(&["WAIT", "1", "300"]).as_int(), Some(0));
    assert!(t.elapsed() >= Duration::from_millis(250));
    r.cont();
    assert_eq!(mc.cmd(&["WAIT", "1", "5000"]).as_int(), Some(1));
    assert_eq!(r.client().text(&["GET", "d"]), "1");
    // WAIT on a replica is refused.
    assert!(r
        .client()
        .text(&["WAIT", "1", "1"])
        .starts_with("ERR WAIT cannot be used"));
}

#[test]
fn failover_command_swaps_roles() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    let r = vigil_replica(dir.path(), m.port);
    let mut mc = m.client();
    mc.cmd(&["SET", "k", "v"]);
    wait_caught_up(m.port, r.port);
    assert_eq!(
        mc.text(&["FAILOVER", "TO", "127.0.0.1", "1", "TIMEOUT", "100"]),
        "ERR FAILOVER target HOST and PORT is not a replica."
    );
    assert_eq!(
        mc.text(&["FAILOVER", "ABORT"]),
        "ERR No failover in progress."
    );
    assert_eq!(mc.text(&["FAILOVER", "TIMEOUT", "5000"]), "OK");
    wait_for("roles swapped", Duration::from_secs(10), || {
        (field(m.port, "replication", "role") == "slave"
            && field(r.port, "replication", "role") == "master"
            && field(m.port, "replication", "master_link_status") == "up")
            .then_some(())
    });
    assert_eq!(
        field(m.port, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(field(r.port, "stats", "sync_full"), "0");
    r.client().cmd(&["SET", "new", "1"]);
    wait_caught_up(r.port, m.port);
    assert_eq!(m.client().text(&["GET", "new"]), "1");
    assert_eq!(m.client().text(&["GET", "k"]), "v");
}

#[test]
fn rdb_persistence_and_restart_with_partial_resync() {
    let dir = temp_dir();
    let md = dir.path().join("m");
    let rd = dir.path().join("r");
    std::fs::create_dir_all(&md).unwrap();
    std::fs::create_dir_all(&rd).unwrap();
    let m = vigil_server(&md, &[]);
    let mut mc = m.client();
    mc.cmd(&["RPUSH", "l", "a", "b"]);
    mc.cmd(&["SET", "e", "v", "PX", "100000"]);
    mc.cmd(&["SELECT", "4"]);
    mc.cmd(&["SET", "k4", "v4"]);
    // BGSAVE without replicas: no repl fields; LASTSAVE moves.
    let before: i64 = mc.cmd(&["LASTSAVE"]).as_int().unwrap();
    assert_eq!(mc.text(&["BGSAVE"]), "Background saving started");
    wait_for("bgsave done", Duration::from_secs(10), || {
        (mc.cmd(&["LASTSAVE"]).as_int().unwrap() >= before && md.join("dump.rdb").exists())
            .then_some(())
    });
    let loaded =
        vigil::server::rdb::decode(&std::fs::read(md.join("dump.rdb")).unwrap(), 16).unwrap();
    assert_eq!(loaded.keys, 3);
    assert!(loaded.repl_info().is_none());
    // A replica saves with repl-id/offset; restarted, it resyncs partially.
    let r = vigil_replica(&rd, m.port);
    mc.cmd(&["SET", "more", "1"]);
    wait_caught_up(m.port, r.port);
    assert_eq!(r.client().text(&["SAVE"]), "OK");
    let saved =
        vigil::server::rdb::decode(&std::fs::read(rd.join("dump.rdb")).unwrap(), 16).unwrap();
    let ri = saved.repl_info().expect("repl aux fields");
    assert_eq!(ri.replid, field(m.port, "replication", "master_replid"));
    drop(r);
    mc.cmd(&["SET", "while-down", "1"]);
    let r = vigil_replica(&rd, m.port);
    wait_caught_up(m.port, r.port);
    assert_eq!(field(m.port, "stats", "sync_full"), "1");
    assert_eq!(field(m.port, "stats", "sync_partial_ok"), "1");
    let mut rc = r.client();
    assert_eq!(
        rc.cmd(&["GET", "while-down"]),
        Frame::Null,
        "written in db 4"
    );
    rc.cmd(&["SELECT", "4"]);
    assert_eq!(rc.text(&["GET", "while-down"]), "1");
    assert_eq!(rc.text(&["GET", "k4"]), "v4");
    // The master restarts from its own file with its history in replid2.
    mc.cmd(&["SELECT", "0"]);
    assert_eq!(mc.text(&["SAVE"]), "OK");
    let old_id = field(m.port, "replication", "master_replid");
    let old_off = field(m.port, "replication", "master_repl_offset");
    drop(m);
    let m2 = vigil_server(&md, &[]);
    let mut c2 = m2.client();
    c2.cmd(&["SELECT", "4"]);
    assert_eq!(c2.text(&["GET", "while-down"]), "1");
    c2.cmd(&["SELECT", "0"]);
    assert_eq!(
        c2.cmd(&["LRANGE", "l", "0", "-1"])
            .into_items()
            .unwrap()
            .len(),
        2
    );
    assert!(c2.cmd(&["PTTL", "e"]).as_int().unwrap() > 0);
    assert_eq!(field(m2.port, "replication", "master_replid2"), old_id);
    assert_eq!(field(m2.port, "replication", "master_repl_offset"), old_off);
}

#[test]
fn masterdown_when_stale_data_is_refused() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    let r = vigil_server(
        dir.path(),
        &[
            "--replicaof",
            "127.0.0.1",
            &m.port.to_string(),
            "--replica-serve-stale-data",
            "no",
        ],
    );
    wait_link_up(r.port);
    let mut rc = r.client();
    assert_eq!(rc.cmd(&["GET", "x"]), Frame::Null);
    drop(m);
    wait_for("link down", Duration::from_secs(10), || {
        (field(r.port, "replication", "master_link_status") == "down").then_some(())
    });
    assert_eq!(
        rc.text(&["GET", "x"]),
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    );
    assert!(rc.text(&["SET", "x", "1"]).starts_with("READONLY"));
    let role = rc.cmd(&["ROLE"]).into_items().unwrap();
    assert_eq!(role[0].as_text().unwrap(), "slave");
    assert!(
        field(r.port, "replication", "master_link_down_since_seconds")
            .parse::<i64>()
            .is_ok()
    );
}

/// A scripted master: answers the handshake, then sends what `payload` returns for
/// each connection (the PSYNC arguments are returned through the channel).
fn fake_master(
    payloads: Vec<Vec<u8>>,
) -> (
    u16,
    std::sync::mpsc::Receiver<String>,
    std::thread::JoinHandle<()>,
) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for p in payloads {
            let Ok((s, _)) = l.accept() else { return };
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut rd = BufReader::new(s.try_clone().unwrap());
            let mut w = s;
            // Read commands until PSYNC; answer each.
            loop {
                let mut line = String::new();
                if rd.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let n: usize = line.trim()[1..].parse().unwrap();
                let mut args = Vec::new();
                for _ in 0..n {
                    let mut len = String::new();
                    rd.read_line(&mut len).unwrap();
                    let l: usize = len.trim()[1..].parse().unwrap();
                    let mut b = vec![0; l + 2];
                    rd.read_exact(&mut b).unwrap();
                    args.push(String::from_utf8_lossy(&b[..l]).into_owned());
                }
                if args[0].eq_ignore_ascii_case("psync") {
                    let _ = tx.send(args[1..].join(" "));
                    w.write_all(&p).unwrap();
                    break;
                } else if args[0].eq_ignore_ascii_case("ping") {
                    w.write_all(b"+PONG\r\n").unwrap();
                } else {
                    w.write_all(b"+OK\r\n").unwrap();
                }
            }
            conns.push(w);
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    (port, rx, h)
}

#[test]
fn corrupt_rdb_and_malformed_stream_drop_the_link_and_retry() {
    use vigil::server::db::Value;
    let id = "a".repeat(40);
    let mut map = indexmap::IndexMap::new();
    map.insert(
        bytes::Bytes::from("good"),
        Value::Str(bytes::Bytes::from("yes")),
    );
    let rdb = vigil::server::rdb::encode(
        &[vigil::server::rdb::DbSnapshot {
            index: 0,
            map,
            expires: Default::default(),
        }],
        &vigil::server::rdb::SaveOptions {
            repl: None,
            compress: true,
            checksum: true,
            ctime: 0,
            used_mem: 0,
        },
    );
    let mut corrupt = rdb.clone();
    let n = corrupt.len();
    corrupt[n - 12] ^= 0x55; // inside the data: checksum mismatch
    let full = |body: &[u8], tail: &[u8]| {
        let mut p = format!("+FULLRESYNC {id} 100\r\n${}\r\n", body.len()).into_bytes();
        p.extend_from_slice(body);
        p.extend_from_slice(tail);
        p
    };
    let (port, psyncs, h) = fake_master(vec![
        full(&corrupt, b""),
        full(&rdb, b"*1\r\n$4\r\nping\r\n*2\r\n$3\r\nGET\r\n$x\r\n"),
        full(&rdb, b""),
    ]);
    let dir = temp_dir();
    let r = vigil_server(dir.path(), &["--replicaof", "127.0.0.1", &port.to_string()]);
    let first = psyncs.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, "? -1");
    // Corrupt RDB: the replica retries with a full sync, still serving (empty) data.
    let second = psyncs.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(second, "? -1");
    // Malformed stream after a good RDB: no cached master, full sync again.
    let third = psyncs.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(third, "? -1");
    let mut rc = r.client();
    // The third load may still be running right after its PSYNC: wait for it.
    wait_for("good data loaded", Duration::from_secs(10), || {
        (rc.text(&["PING"]) == "PONG" && rc.text(&["GET", "good"]) == "yes").then_some(())
    });
    let log =
        std::fs::read_to_string(dir.path().join(format!("vigil-server-{}.log", r.port))).unwrap();
    assert!(log.contains("Wrong RDB checksum"), "{log}");
    assert!(log.contains("Protocol error from MASTER"), "{log}");
    assert!(!log.contains("panicked"));
    h.join().unwrap();
}

#[test]
fn clients_get_loading_during_a_full_sync_load_then_all_keys() {
    use vigil::server::db::Value;
    let n = 300_000;
    let mut map = indexmap::IndexMap::with_capacity(n);
    for i in 0..n {
        map.insert(
            bytes::Bytes::from(format!("key:{i}")),
            Value::Str(bytes::Bytes::from(format!("value-{i}"))),
        );
    }
    let rdb = vigil::server::rdb::encode(
        &[vigil::server::rdb::DbSnapshot {
            index: 0,
            map,
            expires: Default::default(),
        }],
        &vigil::server::rdb::SaveOptions {
            repl: None,
            compress: true,
            checksum: true,
            ctime: 0,
            used_mem: 0,
        },
    );
    let mut payload =
        format!("+FULLRESYNC {} 7\r\n${}\r\n", "b".repeat(40), rdb.len()).into_bytes();
    payload.extend_from_slice(&rdb);
    let dir = temp_dir();
    let r = vigil_server(dir.path(), &[]);
    let mut rc = r.client();
    rc.cmd(&["SET", "old", "1"]);
    let (port, psyncs, h) = fake_master(vec![payload]);
    assert_eq!(
        rc.text(&["REPLICAOF", "127.0.0.1", &port.to_string()]),
        "OK"
    );
    psyncs.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut saw_loading = false;
    let mut poll = r.client();
    wait_for("load finished", Duration::from_secs(30), || {
        let t = poll.text(&["GET", "key:1"]);
        if t == "LOADING Redis is loading the dataset in memory" {
            saw_loading = true;
        }
        (t == "value-1").then_some(())
    });
    assert!(saw_loading, "never saw -LOADING during the load");
    // Never a half-loaded dataset: all keys, and the old one is gone.
    assert_eq!(rc.cmd(&["DBSIZE"]).as_int(), Some(n as i64));
    assert_eq!(rc.cmd(&["GET", "old"]), Frame::Null);
    assert_eq!(field(r.port, "replication", "master_repl_offset"), "7");
    h.join().unwrap();
}

#[test]
fn config_rewrite_persists_the_role() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    let port = free_port();
    let conf = dir.path().join("vigil.conf");
    std::fs::write(
        &conf,
        format!("port {port}\nsave \"\"\ndir {}\n", dir.path().display()),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(vigil_bin());
    cmd.arg("server").arg(&conf);
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Proc {
        child,
        port,
        name: "vigil-conf".into(),
        dir: dir.path().to_path_buf(),
    };
    let mut c = wait_for("server up", Duration::from_secs(10), || {
        Client::try_connect(port)
    });
    assert_eq!(
        c.text(&["REPLICAOF", "127.0.0.1", &m.port.to_string()]),
        "OK"
    );
    wait_link_up(port);
    assert_eq!(c.text(&["CONFIG", "REWRITE"]), "OK");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(&format!("replicaof 127.0.0.1 {}", m.port)),
        "{text}"
    );
    assert_eq!(c.text(&["REPLICAOF", "NO", "ONE"]), "OK");
    assert_eq!(c.text(&["CONFIG", "REWRITE"]), "OK");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(!text.contains("replicaof"), "{text}");
}

#[test]
fn crashed_replica_restarts_from_the_received_rdb_with_a_partial_resync() {
    let dir = temp_dir();
    let rd = dir.path().join("r");
    std::fs::create_dir_all(&rd).unwrap();
    let m = vigil_server(dir.path(), &[]);
    let mut mc = m.client();
    mc.cmd(&["SET", "before", "1"]);
    let r = vigil_replica(&rd, m.port);
    assert!(
        rd.join("dump.rdb").exists(),
        "received RDB kept as dump.rdb"
    );
    mc.cmd(&["SET", "streamed", "1"]);
    wait_caught_up(m.port, r.port);
    drop(r); // SIGKILL: no save on shutdown
    mc.cmd(&["SET", "while-down", "1"]);
    let r = vigil_replica(&rd, m.port);
    wait_caught_up(m.port, r.port);
    assert_eq!(field(m.port, "stats", "sync_full"), "1");
    assert_eq!(field(m.port, "stats", "sync_partial_ok"), "1");
    let mut rc = r.client();
    for k in ["before", "streamed", "while-down"] {
        assert_eq!(rc.text(&["GET", k]), "1", "{k}");
    }
}
