//! Real clients against `vigil server`: redis-cli (one-shot, `--no-raw`, `-3`,
//! interactive through a pty), redis-py 8 (default RESP3 and protocol=2) and the
//! `redis` crate (RESP2 and RESP3); protocol-violation inputs; 1,000 concurrent
//! connections. redis-cli output and protocol errors are compared with the Debian
//! redis-server run side by side.

mod support;

use redis::Commands;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;
use support::*;

fn python_script(name: &str) -> String {
    format!("{}/tests/python/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn redis_cli_output_matches_redis() {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let r = redis_server(dir.path(), &[]);
    let script: &[&[&str]] = &[
        &["set", "a", "b"],
        &["get", "a"],
        &["--no-raw", "get", "a"],
        &["--no-raw", "get", "missing"],
        &["incr", "counter"],
        &["--no-raw", "incr", "counter"],
        &["incr", "a"],
        &["--no-raw", "incr", "a"],
        &["mget", "a", "missing", "counter"],
        &["--no-raw", "mget", "a", "missing", "counter"],
        &["-3", "get", "missing"],
        &["-3", "--no-raw", "mget", "a", "missing"],
        &["-3", "config", "get", "maxmemory"],
        &["-n", "3", "set", "x", "1"],
        &["-n", "3", "get", "x"],
        &["config", "get", "maxmemory"],
        &["--no-raw", "config", "get", "maxmemory"],
        &["nosuchcommand", "x"],
        &["client", "getname"],
        &["pubsub", "numsub", "x"],
        &["command", "info", "nosuch"],
        &["info", "nosuchsection"],
        &["multi"],
        &["exec"],
    ];
    for args in script {
        let a = redis_cli(v.port, args);
        let b = redis_cli(r.port, args);
        assert_eq!(a, b, "redis-cli {args:?}: vigil vs redis output");
    }
    // INFO through redis-cli: the fields clients and tools parse are there.
    let info = redis_cli(v.port, &["info"]);
    assert!(info.starts_with("# Server"), "{info}");
    assert_eq!(
        info_field(&info, "redis_mode").as_deref(),
        Some("standalone")
    );
    assert_eq!(info_field(&info, "role").as_deref(), Some("master"));
    assert!(info_field(&info, "db0").is_some());
    let clients = redis_cli(v.port, &["info", "clients"]);
    assert!(clients.starts_with("# Clients"), "{clients}");
}

#[test]
fn redis_cli_interactive_mode() {
    // Interactive redis-cli fetches COMMAND DOCS and asserts on its structure.
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let out = Command::new("python3")
        .arg(python_script("redis_cli_interactive.py"))
        .arg(v.port.to_string())
        .output()
        .expect("python3");
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis-cli interactive failed: {transcript}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v.client().text(&["GET", "cli:interactive"]), "yes");
    let stats = v.client().text(&["INFO", "commandstats"]);
    assert!(
        stats.contains("cmdstat_command|docs:calls=1"),
        "redis-cli asked for COMMAND DOCS: {stats}"
    );
}

#[test]
fn redis_py_default_resp3_and_protocol_2() {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let out = Command::new("python3")
        .arg(python_script("redis_py_compat.py"))
        .arg(v.port.to_string())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "redis-py compatibility script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn redis_crate_resp2_and_resp3() {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    for proto in ["resp2", "resp3"] {
        let url = format!("redis://127.0.0.1:{}/?protocol={proto}", v.port);
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        con.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _: () = con.set("rs:k", "v").unwrap();
        let got: String = con.get("rs:k").unwrap();
        assert_eq!(got, "v");
        let missing: Option<String> = con.get("rs:missing").unwrap();
        assert_eq!(missing, None);
        let (a, b): (i64, i64) = redis::pipe()
            .atomic()
            .incr("rs:n", 1)
            .incr("rs:n", 2)
            .query(&mut con)
            .unwrap();
        assert_eq!(b - a, 2);
        let info: redis::InfoDict = redis::cmd("INFO").query(&mut con).unwrap();
        assert_eq!(info.get::<String>("role").as_deref(), Some("master"));
        let cfg: std::collections::HashMap<String, String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory")
            .query(&mut con)
            .unwrap();
        assert_eq!(cfg.get("maxmemory").map(String::as_str), Some("0"));
        let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
        assert_eq!(name, None);
        let err = redis::cmd("NOSUCH").query::<()>(&mut con).unwrap_err();
        assert!(err.to_string().contains("unknown command"), "{err}");

        // Pub/sub through the crate's blocking PubSub.
        let mut sub = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        let mut publisher = client.get_connection().unwrap();
        let mut ps = sub.as_pubsub();
        ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        ps.subscribe("rs:chan").unwrap();
        ps.psubscribe("rs:*").unwrap();
        let n: i64 = publisher.publish("rs:chan", "hello").unwrap();
        assert_eq!(n, 2, "{proto}: channel + pattern receivers");
        let mut seen = Vec::new();
        for _ in 0..2 {
            let msg = ps.get_message().unwrap();
            let payload: String = msg.get_payload().unwrap();
            seen.push((
                msg.get_channel_name().to_string(),
                payload,
                msg.from_pattern(),
            ));
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("rs:chan".into(), "hello".into(), false),
                ("rs:chan".into(), "hello".into(), true)
            ],
            "{proto}"
        );
    }
}

/// Send raw bytes on a fresh connection; return everything the server wrote before
/// closing (None: it did not close within 5 s).
fn raw_exchange(port: u16, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(out),
            Err(_) => return None,
        }
    }
}

#[test]
fn protocol_violations_close_only_that_connection() {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let r = redis_server(dir.path(), &[]);
    let mut bystander = v.client();
    assert_eq!(bystander.text(&["SET", "safe", "1"]), "OK");
    let cases: &[&[u8]] = &[
        b"*1\r\n$999999999999\r\n", // bulk over proto-max-bulk-len
        b"*1\r\n$-5\r\n",           // negative bulk length
        b"*x\r\n",                  // bad multibulk length
        b"*3000000000\r\n",         // multibulk length over INT_MAX
        b"*1\r\n+PING\r\n",         // element without '$'
        b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n", // replies before the error
        b"SET \"a b\r\n",           // unbalanced quotes
        b"ECHO \"a\"b\r\n",         // closing quote not followed by space
    ];
    for case in cases {
        let a = raw_exchange(v.port, case).expect("vigil closed the connection");
        let b = raw_exchange(r.port, case).expect("redis closed the connection");
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "input {:?}",
            String::from_utf8_lossy(case)
        );
        assert!(
            String::from_utf8_lossy(&a).contains("-ERR Protocol error: "),
            "{:?}",
            String::from_utf8_lossy(&a)
        );
        assert_eq!(
            bystander.text(&["GET", "safe"]),
            "1",
            "other client unaffected"
        );
    }
    // Binary garbage is answered (as an unknown inline command) and nothing else breaks.
    let mut g = TcpStream::connect(("127.0.0.1", v.port)).unwrap();
    g.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    g.write_all(b"\xff\xfe\x01\x02garbage\r\n").unwrap();
    let mut buf = [0u8; 512];
    let n = g.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"-ERR unknown command"),
        "{:?}",
        &buf[..n]
    );
    // Oversized inline request without a newline.
    let big = vec![b'a'; 70 * 1024];
    let out = raw_exchange(v.port, &big).expect("closed");
    assert!(
        String::from_utf8_lossy(&out).starts_with("-ERR Protocol error: too big inline request"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(bystander.text(&["GET", "safe"]), "1");
    assert_eq!(bystander.text(&["PING"]), "PONG");
}

/// Raise the soft open-files limit to the hard limit (the server inherits it).
fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit on our own process with a valid struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    }
}

#[test]
fn thousand_concurrent_connections() {
    let limit = raise_nofile();
    assert!(limit >= 2200, "need ~2,100 descriptors, have {limit}");
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let mut conns: Vec<Client> = (0..1000).map(|_| Client::connect(v.port)).collect();
    // Everyone sends before anyone reads: all 1,000 are open at once.
    for (i, c) in conns.iter_mut().enumerate() {
        c.send(&["SET", &format!("conn:{i}"), &i.to_string()]);
    }
    for c in conns.iter_mut() {
        assert_eq!(c.read(), Frame::ok());
    }
    for (i, c) in conns.iter_mut().enumerate().rev() {
        assert_eq!(c.text(&["GET", &format!("conn:{i}")]), i.to_string());
    }
    let info = conns[0].text(&["INFO", "clients"]);
    assert_eq!(
        info_field(&info, "connected_clients").as_deref(),
        Some("1000")
    );
    drop(conns);
    let mut c = v.client();
    wait_for("connections released", Duration::from_secs(10), || {
        let info = c.text(&["INFO", "clients"]);
        (info_field(&info, "connected_clients").as_deref() == Some("1")).then_some(())
    });
}

#[test]
fn slow_subscriber_does_not_stall_others() {
    // A subscriber that never reads: publishing to it must not block other clients.
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let mut lazy = v.client();
    lazy.cmd(&["SUBSCRIBE", "firehose"]);
    let mut publisher = v.client();
    let payload = "x".repeat(16 * 1024);
    // Each call is bounded by the client's read timeout: a stall fails the test.
    for _ in 0..2000 {
        publisher.cmd(&["PUBLISH", "firehose", &payload]);
    }
    let mut other = v.client();
    assert_eq!(other.text(&["PING"]), "PONG");
}
