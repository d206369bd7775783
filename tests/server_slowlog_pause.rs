//! SLOWLOG and CLIENT PAUSE / UNPAUSE, each scenario run against `vigil server` and
//! the Debian redis-server 7.0 side by side; the deterministic parts of the outputs
//! (entry shapes, ids, truncation and redaction texts, errors, which commands are
//! held by a pause and in which order they run) must be the same.

mod support;

use std::time::{Duration, Instant};
use support::*;

fn local_addr(c: &Client) -> String {
    c.stream.local_addr().unwrap().to_string()
}

/// The entries of SLOWLOG GET, each shown without its duration; the time and the
/// client address are checked here (they differ between runs).
fn entries(c: &mut Client, count: &str, before: i64, peer: &str) -> Vec<String> {
    let after = unix_now() + 1;
    let list = c.cmd(&["SLOWLOG", "GET", count]).into_items().unwrap();
    list.into_iter()
        .map(|e| {
            let e = e.into_items().unwrap();
            assert_eq!(e.len(), 6, "an entry has 6 fields");
            let time = e[1].as_int().unwrap();
            assert!(time >= before && time <= after, "timestamp {time}");
            assert!(e[2].as_int().unwrap() >= 0, "duration");
            assert_eq!(e[4].as_text().unwrap(), peer, "client address");
            format!("{} {} {}", show(&e[0]), show(&e[3]), show(&e[5]))
        })
        .collect()
}

#[test]
fn slowlog_entries_match_redis() {
    same_on_both(&[], |port| {
        let before = unix_now();
        let mut c = Client::connect(port);
        let peer = local_addr(&c);
        // Every command from now on is logged (this one included, as id 0).
        let mut out = vec![
            c.text(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
            c.text(&["SLOWLOG", "RESET"]),
            c.text(&["CLIENT", "SETNAME", "slow-one"]),
        ];
        let many: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
        let mut rpush = vec!["RPUSH", "list"];
        rpush.extend(many.iter().map(|s| s.as_str()));
        out.push(c.text(&rpush));
        let long = "v".repeat(300);
        out.push(c.text(&["SET", "k", &long]));
        out.push(c.text(&["AUTH", "secret"]));
        out.push(c.text(&["AUTH", "someone", "secret"]));
        let hello = c.cmd(&["HELLO", "2", "AUTH", "default", "nopass"]);
        out.push(format!("hello error: {}", hello.is_error()));
        out.push(c.text(&["CONFIG", "SET", "masterauth", "s3cret", "maxmemory", "0"]));
        out.push(c.text(&["CONFIG", "SET", "masterauth", ""]));
        // EXEC is not logged; the commands it ran are.
        out.push(c.text(&["MULTI"]));
        out.push(c.text(&["INCR", "n"]));
        out.push(show(&c.cmd(&["EXEC"])));
        // Rejected before running: not logged.
        out.push(c.text(&["NOSUCHCOMMAND", "x"]));
        out.push(c.text(&["GET"]));
        out.push(c.text(&["SLOWLOG", "LEN"]));
        out.extend(entries(&mut c, "-1", before, &peer));
        out.extend(entries(&mut c, "2", before, &peer));
        out.extend(entries(&mut c, "0", before, &peer));
        out
    });
}

#[test]
fn slowlog_threshold_length_reset_and_errors_match_redis() {
    same_on_both(&["--enable-debug-command", "yes"], |port| {
        let before = unix_now();
        let mut c = Client::connect(port);
        let peer = local_addr(&c);
        // Default threshold (10 ms): a 50 ms command is logged, fast ones are not.
        let mut out = vec![
            c.text(&["CONFIG", "GET", "slowlog-log-slower-than"]),
            c.text(&["SET", "a", "1"]),
            c.text(&["DEBUG", "SLEEP", "0.05"]),
            c.text(&["GET", "a"]),
        ];
        out.extend(entries(&mut c, "10", before, &peer));
        // A shorter log keeps the newest entries, at once.
        out.push(c.text(&["DEBUG", "SLEEP", "0.02"]));
        out.push(c.text(&["DEBUG", "SLEEP", "0.02"]));
        out.push(c.text(&["SLOWLOG", "LEN"]));
        out.push(c.text(&["CONFIG", "SET", "slowlog-max-len", "2"]));
        out.push(c.text(&["SLOWLOG", "LEN"]));
        out.extend(entries(&mut c, "-1", before, &peer));
        // A negative threshold disables the log.
        out.push(c.text(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]));
        out.push(c.text(&["SLOWLOG", "RESET"]));
        out.push(c.text(&["DEBUG", "SLEEP", "0.02"]));
        out.push(c.text(&["SLOWLOG", "LEN"]));
        out.push(c.text(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]));
        out.push(c.text(&["SLOWLOG", "LEN"]));
        out.push(c.text(&["CONFIG", "SET", "slowlog-max-len", "128"]));
        out.push(c.text(&["SLOWLOG", "RESET"]));
        out.push(c.text(&["SLOWLOG", "LEN"]));
        // Errors.
        for args in [
            &["SLOWLOG", "GET", "-2"][..],
            &["SLOWLOG", "GET", "abc"],
            &["SLOWLOG", "GET", "1.5"],
            &["SLOWLOG", "GET", "99999999999999999999"],
            &["SLOWLOG", "GET", "1", "2"],
            &["SLOWLOG", "Get", "1", "2"],
            &["SLOWLOG", "FOO"],
            &["SLOWLOG"],
            &["SLOWLOG", "LEN", "x"],
            &["SLOWLOG", "RESET", "x"],
            &["SLOWLOG", "HELP", "x"],
        ] {
            out.push(c.text(args));
        }
        out.push(show(&c.cmd(&["SLOWLOG", "HELP"])));
        out.extend(entries(&mut c, "3", before, &peer));
        out
    });
}

#[test]
fn client_pause_write_holds_writes_while_reads_run() {
    same_on_both(&[], |port| {
        let mut out = Vec::new();
        let mut admin = Client::connect(port);
        out.push(admin.text(&["SET", "k", "old"]));
        out.push(admin.text(&["SET", "ttl", "v", "PX", "100"]));
        out.push(admin.text(&["CLIENT", "PAUSE", "20000", "WRITE"]));
        let mut w = Client::connect(port);
        w.assert_held(&["SET", "k", "new"]);
        let mut p = Client::connect(port);
        p.assert_held(&["PUBLISH", "ch", "m"]);
        // A write waits already where MULTI would queue it.
        let mut tx = Client::connect(port);
        out.push(tx.text(&["MULTI"]));
        tx.assert_held(&["INCR", "n"]);
        // Reads go on, the caller included.
        let mut r = Client::connect(port);
        out.push(r.text(&["GET", "k"]));
        out.push(admin.text(&["GET", "k"]));
        out.push(r.text(&["PING"]));
        // No key expires while paused: gone for readers, still counted.
        std::thread::sleep(Duration::from_millis(300));
        out.push(show(&r.cmd(&["GET", "ttl"])));
        out.push(r.text(&["DBSIZE"]));
        // UNPAUSE releases the held commands; they run and answer.
        out.push(admin.text(&["CLIENT", "UNPAUSE"]));
        out.push(show(&w.read()));
        out.push(show(&p.read()));
        out.push(show(&tx.read()));
        out.push(show(&tx.cmd(&["EXEC"])));
        out.push(r.text(&["GET", "k"]));
        // Expiry resumes.
        wait_for("the expired key deleted", Duration::from_secs(10), || {
            (r.text(&["DBSIZE"]) == "2").then_some(())
        });
        out.push(r.text(&["DBSIZE"]));
        out
    });
}

#[test]
fn client_pause_all_holds_reads_until_the_timeout() {
    same_on_both(&[], |port| {
        let mut out = Vec::new();
        let mut admin = Client::connect(port);
        out.push(admin.text(&["SET", "k", "v"]));
        let started = Instant::now();
        out.push(admin.text(&["CLIENT", "PAUSE", "1500", "ALL"]));
        let mut r = Client::connect(port);
        r.assert_held(&["GET", "k"]);
        // The caller is paused too, CLIENT UNPAUSE included.
        admin.assert_held(&["CLIENT", "UNPAUSE"]);
        out.push(show(&r.read()));
        out.push(show(&admin.read()));
        assert!(started.elapsed() < Duration::from_secs(10));
        out.push(r.text(&["GET", "k"]));
        out
    });
}

#[test]
fn a_stronger_pause_takes_the_longer_deadline_and_errors_match_redis() {
    same_on_both(&[], |port| {
        let mut out = Vec::new();
        let mut c = Client::connect(port);
        for args in [
            &["CLIENT", "PAUSE", "abc"][..],
            &["CLIENT", "PAUSE", "-1"],
            &["CLIENT", "PAUSE", "-0"],
            &["CLIENT", "PAUSE", "1.5"],
            &["CLIENT", "PAUSE", "99999999999999999999"],
            &["CLIENT", "PAUSE", "10", "foo"],
            &["CLIENT", "PAUSE", "10", "write", "x"],
            &["CLIENT", "PAUSE"],
            &["CLIENT", "UNPAUSE", "x"],
            &["CLIENT", "UNPAUSE"],
        ] {
            out.push(c.text(args));
        }
        // WRITE for 1.5 s, then ALL for 100 ms: everything is held for 1.5 s.
        out.push(c.text(&["CLIENT", "PAUSE", "1500", "WRITE"]));
        out.push(c.text(&["CLIENT", "PAUSE", "100", "all"]));
        let mut r = Client::connect(port);
        r.assert_held(&["GET", "k"]);
        let mut w = Client::connect(port);
        w.assert_held(&["SET", "k", "v"]);
        out.push(show(&r.read()));
        out.push(show(&w.read()));
        out.push(r.text(&["GET", "k"]));
        // A pause past the end of the clock is no pause (Redis's clock wraps).
        out.push(c.text(&["CLIENT", "PAUSE", "9223372036854775000", "ALL"]));
        out.push(r.text(&["GET", "k"]));
        out
    });
}

#[test]
fn held_commands_run_in_the_order_they_arrived() {
    same_on_both(&[], |port| {
        let mut admin = Client::connect(port);
        admin.text(&["CLIENT", "PAUSE", "20000", "WRITE"]);
        let mut writers: Vec<Client> = (0..8).map(|_| Client::connect(port)).collect();
        for (i, w) in writers.iter_mut().enumerate() {
            w.assert_held(&["RPUSH", "log", &i.to_string()]);
        }
        admin.text(&["CLIENT", "UNPAUSE"]);
        for w in writers.iter_mut() {
            w.read();
        }
        vec![show(&admin.cmd(&["LRANGE", "log", "0", "-1"]))]
    });
}

/// On a replica, CLIENT PAUSE holds the master link too (Redis pauses its master
/// client): under WRITE the replica keeps serving reads of the old value and its
/// offset stands still; after UNPAUSE the held stream is applied. Each kind of
/// replica (vigil, redis) of a master of the same kind.
#[test]
fn client_pause_on_a_replica_holds_the_replication_stream() {
    let dir = temp_dir();
    for kind in ["vigil", "redis"] {
        let sub = dir.path().join(kind);
        std::fs::create_dir_all(sub.join("r")).unwrap();
        let start = |d: &std::path::Path, extra: &[&str]| server_of(kind, d, extra);
        let m = start(&sub, &[]);
        let r = start(
            &sub.join("r"),
            &["--replicaof", "127.0.0.1", &m.port.to_string()],
        );
        wait_link_up(r.port);
        let mut mc = m.client();
        assert_eq!(mc.text(&["SET", "k", "old"]), "OK");
        wait_caught_up(m.port, r.port);
        let mut rc = r.client();
        assert_eq!(
            rc.text(&["CLIENT", "PAUSE", "20000", "WRITE"]),
            "OK",
            "{kind}"
        );
        let offset = field(r.port, "replication", "slave_repl_offset");
        assert_eq!(mc.text(&["SET", "k", "new"]), "OK");
        // The master's write arrives but is not applied while the pause lasts.
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(rc.text(&["GET", "k"]), "old", "{kind}");
        assert_eq!(
            field(r.port, "replication", "slave_repl_offset"),
            offset,
            "{kind}"
        );
        assert_eq!(rc.text(&["CLIENT", "UNPAUSE"]), "OK", "{kind}");
        wait_for(
            &format!("{kind} replica applies after UNPAUSE"),
            Duration::from_secs(5),
            || (rc.text(&["GET", "k"]) == "new").then_some(()),
        );
        wait_caught_up(m.port, r.port);
    }
}
