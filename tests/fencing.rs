//! Write fencing end to end (`vigil-fencing yes` + Vigil sentinels): a fenced master
//! takes writes only while a quorum of sentinels grants it leases; losing them
//! (sentinels stopped or killed, or the master cut off from the sentinels while its
//! clients still reach it) stops writes within about one lease, and a failover of a
//! fenced master never advertises the new master while the old one still accepts
//! writes.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

const NAME: &str = "fm";
const LEASE_MS: &str = "500";

fn fenced_server(dir: &std::path::Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--vigil-fencing",
        "yes",
        "--vigil-fencing-quorum",
        "2",
        "--vigil-fencing-lease-ms",
        LEASE_MS,
        "--repl-diskless-sync-delay",
        "0",
    ];
    args.extend_from_slice(extra);
    vigil_server(dir, &args)
}

fn sentinel_conf(master_port: u16) -> String {
    format!(
        "sentinel monitor {NAME} 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds {NAME} 1000\n\
         sentinel failover-timeout {NAME} 4000\n"
    )
}

/// SET on a fresh connection: `Some(true)` OK, `Some(false)` fenced (READONLY),
/// `None` anything else (connection refused, other error).
fn try_set(port: u16, pass: Option<&str>, key: &str) -> Option<bool> {
    let mut c = Client::try_connect(port)?;
    if let Some(p) = pass {
        c.send(&["AUTH", p]);
        c.try_read()?;
    }
    c.send(&["SET", key, "v"]);
    match c.try_read()? {
        Frame::Simple(s) if s == "OK" => Some(true),
        Frame::Error(e) if e.starts_with("READONLY") => Some(false),
        _ => None,
    }
}

fn info_repl(port: u16) -> String {
    Client::try_connect(port)
        .and_then(|mut c| {
            c.send(&["INFO", "replication"]);
            c.try_read()
        })
        .and_then(|f| f.as_text())
        .unwrap_or_default()
}

fn sentinels(dir: &std::path::Path, master_port: u16, n: usize) -> Vec<Proc> {
    let conf = sentinel_conf(master_port);
    (0..n).map(|_| vigil_sentinel(dir, &conf)).collect()
}

#[test]
fn lease_command_and_info_fields() {
    let dir = temp_dir();
    let plain = vigil_server(dir.path(), &[]);
    let mut c = plain.client();
    // Fencing off: INFO is Redis's, writes work, the command is still answered.
    assert!(!c.text(&["INFO", "replication"]).contains("vigil_fencing"));
    assert_eq!(c.text(&["SET", "k", "v"]), "OK");
    let t = c.cmd(&["VIGIL-LEASE", "abc", "0", "100"]);
    assert!(matches!(t, Frame::Integer(n) if n > 0), "{t:?}");
    for bad in [
        ["VIGIL-LEASE", "abc", "x", "100"],
        ["VIGIL-LEASE", "abc", "-1", "100"],
        ["VIGIL-LEASE", "abc", "0", "0"],
        ["VIGIL-LEASE", "", "0", "100"],
    ] {
        let r = c.text(&bad);
        assert!(r.starts_with("ERR VIGIL-LEASE"), "{bad:?}: {r}");
    }
    assert!(c
        .text(&["VIGIL-LEASE", "abc"])
        .starts_with("ERR wrong number of arguments"));
    // Turned on at runtime: no lease yet, so writes are refused and reads work.
    assert_eq!(c.text(&["CONFIG", "SET", "vigil-fencing", "yes"]), "OK");
    assert_eq!(
        c.text(&["CONFIG", "SET", "vigil-fencing-quorum", "1"]),
        "OK"
    );
    let info = c.text(&["INFO", "replication"]);
    assert_eq!(info_field(&info, "vigil_fencing").as_deref(), Some("1"));
    assert_eq!(
        info_field(&info, "vigil_fencing_writable").as_deref(),
        Some("0")
    );
    let r = c.text(&["SET", "k", "w"]);
    assert!(r.starts_with("READONLY"), "{r}");
    assert_eq!(c.text(&["GET", "k"]), "v");
    // MULTI/EXEC with a write is refused at EXEC time too.
    c.text(&["MULTI"]);
    c.text(&["GET", "k"]);
    c.send(&["INCR", "n"]);
    let queued = c.read();
    assert!(
        matches!(&queued, Frame::Error(e) if e.starts_with("READONLY")),
        "{queued:?}"
    );
    let r = c.text(&["EXEC"]);
    assert!(r.starts_with("EXECABORT"), "{r}");
    // A lease by hand: token, echo, then one lease holder = quorum 1.
    let Frame::Integer(t) = c.cmd(&["VIGIL-LEASE", "me", "0", "100000"]) else {
        panic!("token")
    };
    c.cmd(&["VIGIL-LEASE", "me", &t.to_string(), "100000"]);
    assert_eq!(c.text(&["SET", "k", "w"]), "OK");
    let info = c.text(&["INFO", "replication"]);
    assert_eq!(
        info_field(&info, "vigil_fencing_leases").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&info, "vigil_fencing_writable").as_deref(),
        Some("1")
    );
    // Quorum raised above the holders: fenced again. All three are rewritable.
    assert_eq!(
        c.text(&["CONFIG", "SET", "vigil-fencing-quorum", "2"]),
        "OK"
    );
    assert!(c.text(&["SET", "k", "x"]).starts_with("READONLY"));
    assert_eq!(
        c.text(&["CONFIG", "SET", "vigil-fencing-lease-ms", "700"]),
        "OK"
    );
    let got = frame_map(&c.cmd(&["CONFIG", "GET", "vigil-fencing*"]));
    assert_eq!(got["vigil-fencing"], "yes");
    assert_eq!(got["vigil-fencing-quorum"], "2");
    assert_eq!(got["vigil-fencing-lease-ms"], "700");
    assert!(c
        .text(&["CONFIG", "SET", "vigil-fencing-quorum", "0"])
        .starts_with("ERR CONFIG SET failed"));
}

#[test]
fn writes_follow_the_sentinels_leases() {
    let dir = temp_dir();
    let master = fenced_server(dir.path(), &[]);
    let port = master.port;
    assert_eq!(try_set(port, None, "k"), Some(false), "no lease at start");
    let mut s = sentinels(dir.path(), port, 3);
    // SIGSTOPped sentinels must not come back in TILT (which stops their grants).
    for p in &s {
        assert_eq!(
            p.client()
                .text(&["SENTINEL", "DEBUG", "tilt-trigger", "60000"]),
            "OK"
        );
    }
    let t = Instant::now();
    wait_for("leases granted", Duration::from_secs(15), || {
        (try_set(port, None, "k") == Some(true)).then_some(())
    });
    eprintln!(
        "writes accepted {:?} after the sentinels started",
        t.elapsed()
    );
    wait_for("3 leases", Duration::from_secs(5), || {
        (info_field(&info_repl(port), "vigil_fencing_leases").as_deref() == Some("3")).then_some(())
    });
    // One sentinel stopped: 2 of 3 still grant, writes continue.
    s[0].stop();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(try_set(port, None, "k"), Some(true));
    // Two stopped (short enough that they do not enter TILT): fenced within a lease.
    s[1].stop();
    let t = Instant::now();
    wait_for("writes refused", Duration::from_millis(2000), || {
        (try_set(port, None, "k") == Some(false)).then_some(())
    });
    eprintln!("fenced {:?} after losing the lease quorum", t.elapsed());
    let mut c = master.client();
    assert_eq!(c.text(&["GET", "k"]), "v", "reads still work");
    s[0].cont();
    s[1].cont();
    wait_for("writes accepted again", Duration::from_secs(5), || {
        (try_set(port, None, "k") == Some(true)).then_some(())
    });
    // All sentinels gone: fenced within about one lease.
    for p in s.iter_mut() {
        p.kill();
    }
    let t = Instant::now();
    wait_for("writes refused", Duration::from_millis(2000), || {
        (try_set(port, None, "k") == Some(false)).then_some(())
    });
    eprintln!("fenced {:?} after the sentinels died", t.elapsed());
}

/// The master is cut off from the sentinels (a password they do not know, and their
/// connections killed) while its client still writes to it. A failover follows; the
/// old master must refuse writes before any sentinel advertises the new one, and
/// before the new one accepts any write.
#[test]
fn isolated_master_is_fenced_before_the_new_master_is_advertised() {
    let dir = temp_dir();
    let master = fenced_server(dir.path(), &[]);
    let mp = master.port.to_string();
    let replicas: Vec<Proc> = (0..2)
        .map(|_| fenced_server(dir.path(), &["--replicaof", "127.0.0.1", &mp]))
        .collect();
    wait_for("2 replicas online", Duration::from_secs(10), || {
        (info_repl(master.port).matches("state=online").count() == 2).then_some(())
    });
    let s = sentinels(dir.path(), master.port, 3);
    let sports: Vec<u16> = s.iter().map(|p| p.port).collect();
    wait_for("sentinels know each other", Duration::from_secs(15), || {
        sports
            .iter()
            .all(|&p| {
                let mut c = Client::connect(p);
                frame_maps(&c.cmd(&["SENTINEL", "SENTINELS", NAME])).len() == 2
                    && frame_maps(&c.cmd(&["SENTINEL", "REPLICAS", NAME])).len() == 2
            })
            .then_some(())
    });
    wait_for("writable", Duration::from_secs(10), || {
        (try_set(master.port, None, "k") == Some(true)).then_some(())
    });
    // Writers: one on the old master (with the password), one probing the replicas.
    let stop = Arc::new(AtomicBool::new(false));
    let last_old_ok: Arc<Mutex<Option<Instant>>> = Arc::default();
    let first_new_ok: Arc<Mutex<Option<(Instant, u16)>>> = Arc::default();
    let old_port = master.port;
    let w1 = {
        let (stop, last) = (stop.clone(), last_old_ok.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                if try_set(old_port, Some("sekret"), &format!("old:{n}")) == Some(true) {
                    *last.lock().unwrap() = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let rports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    let w2 = {
        let (stop, first) = (stop.clone(), first_new_ok.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for &p in &rports {
                    if try_set(p, None, "new") == Some(true) {
                        let mut f = first.lock().unwrap();
                        if f.is_none() {
                            *f = Some((Instant::now(), p));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // Cut the sentinels off the master.
    let mut c = master.client();
    assert_eq!(c.text(&["CONFIG", "SET", "requirepass", "sekret"]), "OK");
    c.text(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    c.text(&["CLIENT", "KILL", "TYPE", "normal"]);
    let cut = Instant::now();
    // The first moment any sentinel advertises another master.
    let (advertised, new_port) = wait_for("new master advertised", Duration::from_secs(20), || {
        for &p in &sports {
            let mut c = Client::try_connect(p)?;
            c.send(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME]);
            let items = c.try_read()?.into_items()?;
            let port: u16 = items.get(1)?.as_text()?.parse().ok()?;
            if port != old_port {
                return Some((Instant::now(), port));
            }
        }
        std::thread::sleep(Duration::from_millis(2));
        None
    });
    wait_for("new master writable", Duration::from_secs(10), || {
        (try_set(new_port, None, "k2") == Some(true)).then_some(())
    });
    let resumed = cut.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    w1.join().unwrap();
    w2.join().unwrap();
    let last_old = last_old_ok.lock().unwrap().expect("old master took writes");
    let (first_new, first_port) = first_new_ok
        .lock()
        .unwrap()
        .expect("new master took writes");
    eprintln!(
        "old master's last write {:?} after the cut, new master advertised at {:?}, its first write at {:?}, writes resumed by {resumed:?}",
        last_old.duration_since(cut),
        advertised.duration_since(cut),
        first_new.saturating_duration_since(cut)
    );
    assert_eq!(first_port, new_port);
    assert!(
        last_old < advertised,
        "old master accepted a write after the new one was advertised"
    );
    assert!(
        last_old < first_new,
        "two masters accepted writes at the same time"
    );
    assert_eq!(
        try_set(old_port, Some("sekret"), "late"),
        Some(false),
        "the old master stays fenced"
    );
}
