//! The server core against the real redis-server: the same command scripts give the
//! same bytes (strings, errors, transactions, protocol handling).

mod support;

use support::*;
use vigil::resp::Proto;

/// Run `script` on a fresh connection to `port` and return each reply's RESP bytes as
/// the client received them (RESP2 unless the script says HELLO 3).
fn run_script(port: u16, script: &[&[&str]]) -> Vec<String> {
    let mut c = Client::connect(port);
    let mut proto = Proto::Resp2;
    script
        .iter()
        .map(|cmd| {
            let f = c.cmd(cmd);
            if cmd[0].eq_ignore_ascii_case("hello") && cmd.get(1) == Some(&"3") && !f.is_error() {
                proto = Proto::Resp3;
            }
            String::from_utf8_lossy(&f.to_bytes(proto)).into_owned()
        })
        .collect()
}

fn assert_same(script: &[&[&str]]) {
    let dir = temp_dir();
    let ours = vigil_server(dir.path(), &[]);
    let redis = redis_server(dir.path(), &[]);
    let a = run_script(ours.port, script);
    let b = run_script(redis.port, script);
    for (i, cmd) in script.iter().enumerate() {
        assert_eq!(a[i], b[i], "reply to {cmd:?} differs (vigil vs redis)");
    }
}

#[test]
fn strings_match_redis() {
    assert_same(&[
        &["SET", "k", "v"],
        &["GET", "k"],
        &["GET", "missing"],
        &["SET", "k", "w", "NX"],
        &["SET", "k", "w", "XX", "GET"],
        &["SET", "k2", "w", "XX"],
        &["SET", "k", "v", "EX", "0"],
        &["SET", "k", "v", "EX", "abc"],
        &["SET", "k", "v", "NX", "XX"],
        &["SET", "k", "v", "EX", "100", "PX", "100"],
        &["SET", "n", "10"],
        &["INCR", "n"],
        &["INCRBY", "n", "-20"],
        &["DECR", "n"],
        &["DECRBY", "n", "5"],
        &["INCR", "k"],
        &["SET", "big", "9223372036854775807"],
        &["INCR", "big"],
        &["INCRBYFLOAT", "f", "2.5"],
        &["INCRBYFLOAT", "f", "abc"],
        &["APPEND", "k", "xyz"],
        &["STRLEN", "k"],
        &["GETRANGE", "k", "1", "-2"],
        &["GETRANGE", "k", "-100", "100"],
        &["SETRANGE", "k", "10", "zz"],
        &["GET", "k"],
        &["MSET", "a", "1", "b", "2"],
        &["MGET", "a", "b", "nope"],
        &["MSETNX", "a", "1", "c", "3"],
        &["MSETNX", "c", "3", "d", "4"],
        &["GETSET", "a", "new"],
        &["GETDEL", "a"],
        &["GETDEL", "a"],
        &["SETNX", "b", "x"],
        &["SETEX", "e", "100", "v"],
        &["SETEX", "e", "-1", "v"],
        &["PSETEX", "e", "100000", "v"],
        &["GETEX", "e", "PERSIST"],
        &["GETEX", "e", "FOO"],
        &["MSET", "a"],
        &["GET"],
        &["FOOBAR", "a", "b c"],
        &["ECHO", "hi"],
        &["PING"],
        &["PING", "x"],
    ]);
}

#[test]
fn transactions_match_redis() {
    assert_same(&[
        &["MULTI"],
        &["SET", "k", "v"],
        &["INCR", "k"],
        &["GET", "nokey"],
        &["EXEC"],
        &["MULTI"],
        &["MULTI"],
        &["SET", "k"],
        &["EXEC"],
        &["EXEC"],
        &["DISCARD"],
        &["MULTI"],
        &["DISCARD"],
        &["HELLO", "4"],
        &["HELLO", "x"],
    ]);
}

#[test]
fn watch_aborts_exec_when_key_changes() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut a = s.client();
    let mut b = s.client();
    assert_eq!(a.text(&["WATCH", "w"]), "OK");
    assert_eq!(b.text(&["SET", "w", "1"]), "OK");
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "w", "2"]);
    assert_eq!(a.cmd(&["EXEC"]), Frame::NullArray);
    assert_eq!(b.text(&["GET", "w"]), "1");
    // Without interference the transaction runs.
    a.cmd(&["WATCH", "w"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "w", "3"]);
    assert_eq!(a.cmd(&["EXEC"]), Frame::Array(vec![Frame::ok()]));
}

#[test]
fn protocol_errors_close_only_that_connection() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut good = s.client();
    assert_eq!(good.text(&["SET", "k", "v"]), "OK");
    for (input, err) in [
        (
            &b"*x\r\n"[..],
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n$999999999999\r\n",
            "ERR Protocol error: invalid bulk length",
        ),
        (b"*1\r\n:5\r\n", "ERR Protocol error: expected '$', got ':'"),
        (
            b"SET \"a b\r\n",
            "ERR Protocol error: unbalanced quotes in request",
        ),
    ] {
        let mut bad = s.client();
        bad.send_raw(b"PING\r\n");
        bad.send_raw(input);
        assert_eq!(bad.read(), Frame::simple("PONG"));
        assert_eq!(bad.read(), Frame::Error(err.into()));
        assert!(bad.is_closed(), "connection stays open after {err}");
    }
    // Binary garbage that is a valid inline command name gets an unknown-command error.
    let mut g = s.client();
    g.send_raw(b"\x01\x02\xff\r\n");
    assert!(g.read().is_error());
    assert_eq!(good.text(&["GET", "k"]), "v");
}

#[test]
fn redis_cli_works() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    assert_eq!(redis_cli(s.port, &["SET", "greeting", "hello world"]), "OK");
    assert_eq!(redis_cli(s.port, &["GET", "greeting"]), "hello world");
    assert_eq!(redis_cli(s.port, &["INCR", "counter"]), "1");
    assert_eq!(redis_cli(s.port, &["--no-raw", "GET", "nokey"]), "(nil)");
}

#[test]
fn requirepass_gates_commands() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &["--requirepass", "s3cret"]);
    let mut c = s.client();
    assert_eq!(
        c.cmd(&["GET", "k"]),
        Frame::Error("NOAUTH Authentication required.".into())
    );
    assert!(c.text(&["FOO"]).starts_with("ERR unknown command"));
    assert_eq!(
        c.cmd(&["AUTH", "bad"]),
        Frame::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
    );
    assert_eq!(c.text(&["AUTH", "s3cret"]), "OK");
    assert_eq!(c.text(&["SET", "k", "v"]), "OK");
    let mut h = s.client();
    let reply = h.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "cli"]);
    assert!(matches!(reply, Frame::Map(_)), "{reply:?}");
    assert_eq!(h.text(&["GET", "k"]), "v");
}
