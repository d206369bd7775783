//! Full-sync modes as in Redis 7.0: diskless (`$EOF:` framing, the stream only after
//! the first ACK) with `repl-diskless-sync-delay` batching replicas that arrive
//! together into one snapshot (and `-max-replicas` starting early), disk-based
//! (`repl-diskless-sync no`: the RDB file is written, then sent as `$<len>`), the old
//! `SYNC` command, `redis-cli --rdb` (rdb-only), and REPLCONF edge cases compared
//! with a real redis-server.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::*;

fn log_of(dir: &std::path::Path, p: &Proc) -> String {
    std::fs::read_to_string(dir.join(format!("vigil-server-{}.log", p.port))).unwrap_or_default()
}

fn fill(port: u16, n: usize) {
    let mut c = Client::connect(port);
    for i in 0..n {
        c.cmd(&["SET", &format!("key:{i}"), &format!("value-{i}")]);
    }
}

/// A raw replication connection speaking the protocol by hand.
struct Raw {
    rd: BufReader<TcpStream>,
    wr: TcpStream,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        Raw {
            rd: BufReader::new(s.try_clone().unwrap()),
            wr: s,
        }
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = bytes::BytesMut::new();
        vigil::resp::Frame::encode_command(args, &mut out);
        self.wr.write_all(&out).unwrap();
    }

    /// One line, CRLF stripped; newline keepalives are skipped.
    fn line(&mut self) -> String {
        loop {
            let mut l = String::new();
            assert!(self.rd.read_line(&mut l).unwrap() > 0, "connection closed");
            let l = l.trim_end_matches(['\r', '\n']).to_string();
            if !l.is_empty() {
                return l;
            }
        }
    }

    /// The RDB payload after its header line: (framing, rdb bytes).
    fn payload(&mut self) -> (String, Vec<u8>) {
        let header = self.line();
        if let Some(mark) = header.strip_prefix("$EOF:") {
            let mark = mark.as_bytes().to_vec();
            assert_eq!(mark.len(), 40);
            let mut data = Vec::new();
            let mut b = [0u8; 1];
            while !(data.len() >= 40 && data[data.len() - 40..] == mark[..]) {
                self.rd.read_exact(&mut b).unwrap();
                data.push(b[0]);
            }
            data.truncate(data.len() - 40);
            ("eof".into(), data)
        } else {
            let len: usize = header[1..].parse().expect(&header);
            let mut data = vec![0; len];
            self.rd.read_exact(&mut data).unwrap();
            ("bulk".into(), data)
        }
    }

    /// Whatever arrives within `wait` (the stream after the RDB).
    fn drain(&mut self, wait: Duration) -> Vec<u8> {
        self.wr.set_read_timeout(Some(wait)).unwrap();
        let mut out = self.rd.buffer().to_vec();
        self.rd.consume(out.len());
        let mut b = [0u8; 65536];
        while let Ok(n) = self.wr.read(&mut b) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&b[..n]);
        }
        self.wr
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        out
    }
}

#[test]
fn diskless_delay_batches_replicas_into_one_snapshot() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &["--repl-diskless-sync-delay", "2"]);
    fill(m.port, 200);
    let mport = m.port.to_string();
    let started = Instant::now();
    let (a, b) = vigil_and_redis_replicas(dir.path(), &mport);
    // Both wait for the same snapshot meanwhile.
    wait_for("two replicas waiting", Duration::from_secs(5), || {
        let info = Client::connect(m.port).text(&["INFO", "replication"]);
        (info_field(&info, "connected_slaves").as_deref() == Some("2")).then_some(info)
    });
    let info = Client::connect(m.port).text(&["INFO", "replication"]);
    if started.elapsed() < Duration::from_millis(1500) {
        assert!(info.contains("state=wait_bgsave"), "{info}");
        assert!(!info.contains("state=online"), "{info}");
    }
    wait_link_up(a.port);
    wait_link_up(b.port);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "delay not honoured: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(field(m.port, "stats", "sync_full"), "2");
    let log = log_of(dir.path(), &m);
    assert_eq!(
        log.matches("Starting BGSAVE for SYNC with target: replicas sockets")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("Delay next BGSAVE for diskless SYNC"), "{log}");
    // A diskless snapshot is not a save (rdb_saves), but it is timed.
    assert_eq!(field(m.port, "persistence", "rdb_saves"), "0");
    assert_eq!(field(m.port, "persistence", "rdb_bgsave_in_progress"), "0");
    assert_eq!(
        field(m.port, "persistence", "rdb_last_bgsave_time_sec"),
        "0"
    );
    assert!(!dir.path().join("dump.rdb").exists());
    for p in [a.port, b.port] {
        let mut c = Client::connect(p);
        assert_eq!(c.text(&["DBSIZE"]), "200");
        assert_eq!(c.text(&["GET", "key:199"]), "value-199");
    }
    Client::connect(m.port).cmd(&["SET", "live", "1"]);
    for p in [a.port, b.port] {
        wait_for("live write", Duration::from_secs(10), || {
            (Client::connect(p).text(&["GET", "live"]) == "1").then_some(())
        });
    }
}

#[test]
fn max_replicas_starts_the_snapshot_before_the_delay() {
    let dir = temp_dir();
    let m = vigil_server(
        dir.path(),
        &[
            "--repl-diskless-sync-delay",
            "30",
            "--repl-diskless-sync-max-replicas",
            "2",
        ],
    );
    fill(m.port, 10);
    let mport = m.port.to_string();
    let started = Instant::now();
    let a = vigil_server(dir.path(), &["--replicaof", "127.0.0.1", &mport]);
    let b = vigil_server(dir.path(), &["--replicaof", "127.0.0.1", &mport]);
    wait_link_up(a.port);
    wait_link_up(b.port);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(field(m.port, "stats", "sync_full"), "2");
    let log = log_of(dir.path(), &m);
    assert_eq!(log.matches("Starting BGSAVE for SYNC").count(), 1, "{log}");
}

#[test]
fn delay_zero_streams_eof_framed_at_once_and_waits_for_the_first_ack() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    fill(m.port, 50);
    let started = Instant::now();
    let mut r = Raw::connect(m.port);
    r.send(&["REPLCONF", "capa", "eof", "capa", "psync2"]);
    assert_eq!(r.line(), "+OK");
    r.send(&["PSYNC", "?", "-1"]);
    let full = r.line();
    assert!(full.starts_with("+FULLRESYNC "), "{full}");
    let off: i64 = full.rsplit(' ').next().unwrap().parse().unwrap();
    let (framing, rdb) = r.payload();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(framing, "eof");
    assert!(rdb.starts_with(b"REDIS0010"));
    // Nothing of the stream before our first ACK.
    Client::connect(m.port).cmd(&["SET", "after", "1"]);
    assert!(r.drain(Duration::from_millis(400)).is_empty());
    r.send(&["REPLCONF", "ACK", &off.to_string()]);
    let mut got = Vec::new();
    wait_for("stream after ACK", Duration::from_secs(5), || {
        got.extend(r.drain(Duration::from_millis(200)));
        String::from_utf8_lossy(&got)
            .contains("$3\r\nSET\r\n$5\r\nafter\r\n")
            .then_some(())
    });
    assert!(String::from_utf8_lossy(&got).starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"));
    // The same with a real redis-server replica and delay 0: up at once.
    let t = Instant::now();
    let b = redis_server(
        dir.path(),
        &["--replicaof", "127.0.0.1", &m.port.to_string()],
    );
    wait_link_up(b.port);
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(Client::connect(b.port).text(&["DBSIZE"]), "51");
}

#[test]
fn disk_based_sync_writes_the_file_then_sends_a_bulk() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &["--repl-diskless-sync", "no"]);
    fill(m.port, 300);
    let mport = m.port.to_string();
    let (a, b) = vigil_and_redis_replicas(dir.path(), &mport);
    wait_link_up(a.port);
    wait_link_up(b.port);
    let log = log_of(dir.path(), &m);
    assert!(
        log.contains("Starting BGSAVE for SYNC with target: disk"),
        "{log}"
    );
    let file = std::fs::read(dir.path().join("dump.rdb")).expect("the RDB file");
    assert!(file.starts_with(b"REDIS0010"));
    let saves: u64 = field(m.port, "persistence", "rdb_saves").parse().unwrap();
    assert!(saves >= 1);
    assert_eq!(field(m.port, "persistence", "rdb_last_bgsave_status"), "ok");
    for p in [a.port, b.port] {
        assert_eq!(Client::connect(p).text(&["DBSIZE"]), "300");
    }
    // The framing on the wire: `$<len>` even though we announce capa eof.
    let mut r = Raw::connect(m.port);
    r.send(&["REPLCONF", "capa", "eof"]);
    assert_eq!(r.line(), "+OK");
    r.send(&["PSYNC", "?", "-1"]);
    assert!(r.line().starts_with("+FULLRESYNC "));
    let (framing, rdb) = r.payload();
    assert_eq!(framing, "bulk");
    assert!(rdb.starts_with(b"REDIS0010"));
    // Writes after the snapshot follow the bulk directly (no ACK needed).
    Client::connect(m.port).cmd(&["SET", "after", "1"]);
    let mut got = Vec::new();
    wait_for("stream", Duration::from_secs(5), || {
        got.extend(r.drain(Duration::from_millis(200)));
        String::from_utf8_lossy(&got)
            .contains("after")
            .then_some(())
    });
    Client::connect(m.port).cmd(&["SET", "after2", "1"]);
    wait_for("live", Duration::from_secs(10), || {
        (Client::connect(b.port).text(&["GET", "after2"]) == "1").then_some(())
    });
}

#[test]
fn diskless_master_uses_a_bulk_for_a_replica_without_capa_eof() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    fill(m.port, 5);
    let mut r = Raw::connect(m.port);
    r.send(&["PSYNC", "?", "-1"]);
    assert!(r.line().starts_with("+FULLRESYNC "));
    let (framing, rdb) = r.payload();
    assert_eq!(framing, "bulk");
    assert!(rdb.starts_with(b"REDIS0010"));
}

#[test]
fn sync_command_gets_the_rdb_then_the_stream_and_is_never_timed_out() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &["--repl-timeout", "2"]);
    fill(m.port, 20);
    let mut r = Raw::connect(m.port);
    r.wr.write_all(b"SYNC\r\n").unwrap();
    // No +FULLRESYNC line: the payload header comes first.
    let (framing, rdb) = r.payload();
    assert_eq!(framing, "bulk");
    assert!(rdb.starts_with(b"REDIS0010"));
    assert_eq!(field(m.port, "stats", "sync_full"), "1");
    Client::connect(m.port).cmd(&["SET", "k", "v"]);
    let mut got = Vec::new();
    wait_for("stream", Duration::from_secs(5), || {
        got.extend(r.drain(Duration::from_millis(200)));
        String::from_utf8_lossy(&got)
            .contains("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
            .then_some(())
    });
    // A SYNC replica sends no ACKs and is not dropped for it (repl-timeout 2).
    std::thread::sleep(Duration::from_millis(3500));
    let info = Client::connect(m.port).text(&["INFO", "replication"]);
    assert!(info.contains("state=online"), "{info}");
    Client::connect(m.port).cmd(&["SET", "k2", "v2"]);
    let mut got = Vec::new();
    wait_for("still streaming", Duration::from_secs(5), || {
        got.extend(r.drain(Duration::from_millis(200)));
        String::from_utf8_lossy(&got).contains("k2").then_some(())
    });
}

#[test]
fn redis_cli_rdb_gets_one_eof_framed_rdb_and_is_closed() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &[]);
    fill(m.port, 100);
    let path = dir.path().join("cli.rdb");
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &m.port.to_string(), "--rdb"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{text}");
    assert!(
        text.contains("keys read: 100") || text.contains("100 keys"),
        "{text}"
    );
    // rdb-only: the replica is gone after its RDB.
    wait_for("rdb-only client gone", Duration::from_secs(5), || {
        (field(m.port, "replication", "connected_slaves") == "0").then_some(())
    });
}

/// The same REPLCONF sequence against redis-server and vigil: same replies (ACK and
/// GETACK from a normal client get none at all).
#[test]
fn replconf_edge_cases_match_redis() {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let r = redis_server(dir.path(), &[]);
    let script: &[&[&str]] = &[
        &["REPLCONF", "ACK", "5"],
        &["PING"],
        &["REPLCONF", "GETACK", "*"],
        &["PING"],
        &[
            "REPLCONF",
            "listening-port",
            "7000",
            "ACK",
            "10",
            "bogus",
            "x",
        ],
        &["PING"],
        &["REPLCONF", "ACK", "notanumber"],
        &["PING"],
        &["REPLCONF", "capa", "zzz"],
        &["REPLCONF", "capa", "eof", "capa", "psync2"],
        &["REPLCONF", "listening-port", "abc"],
        &["REPLCONF", "listening-port"],
        &["REPLCONF"],
        &["REPLCONF", "bogus", "1"],
        &["REPLCONF", "rdb-only", "2"],
        &["REPLCONF", "rdb-only", "0"],
        &["REPLCONF", "rdb-filter-only", ""],
        &["REPLCONF", "rdb-filter-only", "functions"],
        &["REPLCONF", "rdb-filter-only", "keys"],
        &["REPLCONF", "ip-address", "10.0.0.1"],
    ];
    let run = |port: u16| {
        let mut c = Client::connect(port);
        for cmd in script {
            c.send(cmd);
        }
        // Count the replies: as many as the commands that answer.
        c.send(&["ECHO", "end"]);
        let mut replies = Vec::new();
        loop {
            let f = c.read();
            let t = f.as_text().unwrap_or_else(|| format!("{f:?}"));
            if t == "end" {
                break;
            }
            replies.push(t);
        }
        replies
    };
    let want = run(r.port);
    assert_eq!(run(v.port), want);
    assert_eq!(want.len(), script.len() - 4, "{want:?}");
}

/// A vigil replica (in DIR/a) and a redis-server replica (in DIR/b) of the master
/// on `mport`.
fn vigil_and_redis_replicas(dir: &std::path::Path, mport: &str) -> (Proc, Proc) {
    let a = vigil_server(
        &dir.join("a").tap_mkdir(),
        &["--replicaof", "127.0.0.1", mport],
    );
    let b = redis_server(
        &dir.join("b").tap_mkdir(),
        &["--replicaof", "127.0.0.1", mport],
    );
    (a, b)
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// Disk-based: a replica that asks while the RDB file for another one is being
/// written attaches to it (one BGSAVE, same `+FULLRESYNC` offset, same bytes).
#[test]
fn disk_based_replicas_asking_together_share_the_file() {
    let dir = temp_dir();
    let m = vigil_server(
        dir.path(),
        &[
            "--repl-diskless-sync",
            "no",
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut mc = m.client();
    assert_eq!(mc.text(&["DEBUG", "POPULATE", "200000", "key", "32"]), "OK");
    let mut a = Raw::connect(m.port);
    let mut b = Raw::connect(m.port);
    a.send(&["PSYNC", "?", "-1"]);
    b.send(&["PSYNC", "?", "-1"]);
    let (la, lb) = (a.line(), b.line());
    assert!(la.starts_with("+FULLRESYNC "), "{la}");
    assert_eq!(la, lb);
    let (fa, ra) = a.payload();
    let (fb, rb) = b.payload();
    assert_eq!((fa.as_str(), fb.as_str()), ("bulk", "bulk"));
    assert!(ra == rb, "different snapshots");
    assert_eq!(field(m.port, "stats", "sync_full"), "2");
    assert_eq!(field(m.port, "persistence", "rdb_saves"), "1");
    let log = log_of(dir.path(), &m);
    assert_eq!(log.matches("Starting BGSAVE for SYNC").count(), 1, "{log}");
    assert!(log.contains("Waiting for end of BGSAVE for SYNC"), "{log}");
}

/// A bigger diskless transfer (many pipe chunks streamed as produced) reaches a real
/// redis-server replica and a vigil replica intact.
#[test]
fn large_diskless_transfer_to_redis_and_vigil_replicas() {
    let dir = temp_dir();
    let m = vigil_server(dir.path(), &["--enable-debug-command", "yes"]);
    assert_eq!(
        m.client()
            .text(&["DEBUG", "POPULATE", "300000", "key", "64"]),
        "OK"
    );
    let mport = m.port.to_string();
    let (a, b) = vigil_and_redis_replicas(dir.path(), &mport);
    wait_link_up(a.port);
    wait_link_up(b.port);
    for p in [a.port, b.port] {
        let mut c = Client::connect(p);
        assert_eq!(c.text(&["DBSIZE"]), "300000");
        assert_eq!(c.text(&["STRLEN", "key:299999"]), "64");
    }
    let log = log_of(dir.path(), &m);
    assert!(log.contains("target: replicas sockets"), "{log}");
}
