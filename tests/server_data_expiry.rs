//! Expiry on `vigil server`: keys with a TTL vanish without being read (active
//! expiry), reads never see expired keys (lazy expiry), past times delete at once,
//! and TTL/PTTL/EXPIRETIME report what was set.

mod data_support;
mod support;

use data_support::RawClient;
use std::time::Duration;
use support::{temp_dir, vigil_server, wait_for};

#[test]
fn active_expiry_removes_keys_nobody_reads() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = RawClient::connect(s.port);
    c.cmd(&["SET", "k", "v", "PX", "50"]);
    c.cmd(&["RPUSH", "l", "a"]);
    c.cmd(&["PEXPIRE", "l", "50"]);
    c.cmd(&["SET", "keep", "v"]);
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":3\r\n");
    wait_for("active expiry", Duration::from_secs(5), || {
        (c.cmd_str(&["DBSIZE"]) == ":1\r\n").then_some(())
    });
}

#[test]
fn expired_keys_are_invisible_to_every_read() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = RawClient::connect(s.port);
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["SADD", "s", "m"]);
    c.cmd(&["ZADD", "z", "1", "m"]);
    c.cmd(&["RPUSH", "l", "x"]);
    for k in ["h", "s", "z", "l"] {
        assert_eq!(c.cmd_str(&["PEXPIRE", k, "40"]), ":1\r\n");
    }
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(c.cmd_str(&["HGET", "h", "f"]), "$-1\r\n");
    assert_eq!(c.cmd_str(&["SCARD", "s"]), ":0\r\n");
    assert_eq!(c.cmd_str(&["ZSCORE", "z", "m"]), "$-1\r\n");
    assert_eq!(c.cmd_str(&["LLEN", "l"]), ":0\r\n");
    assert_eq!(c.cmd_str(&["KEYS", "*"]), "*0\r\n");
    assert_eq!(c.cmd_str(&["TYPE", "h"]), "+none\r\n");
    assert_eq!(c.cmd_str(&["EXISTS", "h", "s", "z", "l"]), ":0\r\n");
}

#[test]
fn past_times_delete_and_ttls_report() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = RawClient::connect(s.port);
    c.cmd(&["SET", "a", "1"]);
    assert_eq!(c.cmd_str(&["EXPIRE", "a", "-5"]), ":1\r\n");
    assert_eq!(c.cmd_str(&["EXISTS", "a"]), ":0\r\n");
    c.cmd(&["SET", "b", "1"]);
    assert_eq!(c.cmd_str(&["PEXPIREAT", "b", "1000"]), ":1\r\n");
    assert_eq!(c.cmd_str(&["EXISTS", "b"]), ":0\r\n");
    c.cmd(&["SET", "t", "1"]);
    c.cmd(&["EXPIRE", "t", "100"]);
    assert_eq!(c.cmd_str(&["TTL", "t"]), ":100\r\n");
    let pttl: i64 = c.cmd_str(&["PTTL", "t"])[1..].trim().parse().unwrap();
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(c.cmd_str(&["EXPIREAT", "t", "4000000000"]), ":1\r\n");
    assert_eq!(c.cmd_str(&["EXPIRETIME", "t"]), ":4000000000\r\n");
    assert_eq!(c.cmd_str(&["PEXPIRETIME", "t"]), ":4000000000000\r\n");
    assert_eq!(c.cmd_str(&["PERSIST", "t"]), ":1\r\n");
    assert_eq!(c.cmd_str(&["TTL", "t"]), ":-1\r\n");
    assert_eq!(c.cmd_str(&["TTL", "missing"]), ":-2\r\n");
    // RENAME and MOVE carry the TTL along.
    c.cmd(&["EXPIRE", "t", "100"]);
    c.cmd(&["RENAME", "t", "t2"]);
    assert_eq!(c.cmd_str(&["TTL", "t2"]), ":100\r\n");
    c.cmd(&["MOVE", "t2", "3"]);
    c.cmd(&["SELECT", "3"]);
    assert_eq!(c.cmd_str(&["TTL", "t2"]), ":100\r\n");
    // A write that replaces a value clears the TTL; a list push keeps it.
    c.cmd(&["RPUSH", "l", "a"]);
    c.cmd(&["EXPIRE", "l", "100"]);
    c.cmd(&["RPUSH", "l", "b"]);
    assert_eq!(c.cmd_str(&["TTL", "l"]), ":100\r\n");
}

#[test]
fn lazy_expiry_deletes_on_access_when_active_expiry_is_off() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &["--enable-debug-command", "yes"]);
    let mut c = RawClient::connect(s.port);
    assert_eq!(c.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    c.cmd(&["SET", "k", "v", "PX", "30"]);
    c.cmd(&["RPUSH", "l", "a"]);
    c.cmd(&["PEXPIRE", "l", "30"]);
    std::thread::sleep(Duration::from_millis(250));
    // Nobody touched them and active expiry is off: still counted.
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":2\r\n");
    assert_eq!(c.cmd_str(&["GET", "k"]), "$-1\r\n");
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":1\r\n");
    assert_eq!(c.cmd_str(&["LPUSH", "l", "b"]), ":1\r\n", "a fresh list");
    assert_eq!(c.cmd_str(&["TTL", "l"]), ":-1\r\n");
}
