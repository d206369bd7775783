//! OBJECT IDLETIME against redis-server 7.0: which commands count as an access of a
//! key (reads and writes do; EXISTS, TYPE, TTL, OBJECT, SCAN... only look), and the
//! replies for missing keys and under an LFU policy. Idle times are whole seconds on
//! a clock Redis samples every 100 ms, so a touched key reads 0 or 1 and an untouched
//! one at least 2 after a 2.5 s wait.

mod data_support;
mod support;

use data_support::RawClient;
use std::time::Duration;

/// Each case: a key prepared with `setup`, then `cmd` (`K` stands for the key).
const CASES: &[(&str, &str)] = &[
    ("SET K v", "GET K"),
    ("SET K v", "STRLEN K"),
    ("SET K v", "GETRANGE K 0 1"),
    ("SET K v", "APPEND K x"),
    ("SET K v", "SETNX K x"),
    ("SET K v", "EXPIRE K 100"),
    ("SET K v", "PERSIST K"),
    ("SET K v", "TOUCH K"),
    ("SET K v", "EXISTS K"),
    ("SET K v", "TYPE K"),
    ("SET K v", "TTL K"),
    ("SET K v", "PTTL K"),
    ("SET K v", "EXPIRETIME K"),
    ("SET K v", "OBJECT ENCODING K"),
    ("SET K v", "OBJECT REFCOUNT K"),
    ("SET K v", "SCAN 0 MATCH K"),
    ("SET K v", "KEYS K"),
    ("SET K v", "SET K w"),
    ("SET K 5", "INCR K"),
    ("SET K 7", "GET K"),
    ("SET K 12345", "GET K"),
    ("SET K 8", "PING"),
    ("HSET K f v", "HGET K f"),
    ("HSET K f v", "HLEN K"),
    ("HSET K f v", "HSCAN K 0"),
    ("RPUSH K a b", "LRANGE K 0 -1"),
    ("RPUSH K a b", "LLEN K"),
    ("SADD K a", "SISMEMBER K a"),
    ("SADD K a", "SINTER K"),
    ("SADD K a", "SCARD K"),
    ("ZADD K 1 a", "ZSCORE K a"),
    ("ZADD K 1 a", "ZRANGE K 0 -1"),
    ("SET K v", "PING"),
];

fn args(line: &str, key: &str) -> Vec<String> {
    line.split_whitespace()
        .map(|w| {
            if w == "K" {
                key.to_string()
            } else {
                w.to_string()
            }
        })
        .collect()
}

fn run(c: &mut RawClient, line: &str, key: &str) -> String {
    let a = args(line, key);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    c.cmd_str(&refs)
}

/// `:n` → whether the key looks touched (n <= 1) or not (n >= 2).
fn touched(reply: &str) -> Option<bool> {
    let n: i64 = reply.strip_prefix(':')?.trim_end().parse().ok()?;
    Some(n <= 1)
}

#[test]
fn idle_time_counts_the_same_accesses_as_redis() {
    let dir = support::temp_dir();
    let redis = support::redis_server(dir.path(), &[]);
    let vigil = support::vigil_server(dir.path(), &[]);
    let mut r = RawClient::connect(redis.port);
    let mut v = RawClient::connect(vigil.port);
    for (i, (setup, _)) in CASES.iter().enumerate() {
        let key = format!("k{i}");
        run(&mut r, setup, &key);
        run(&mut v, setup, &key);
    }
    std::thread::sleep(Duration::from_millis(2500));
    for (i, (_, cmd)) in CASES.iter().enumerate() {
        let key = format!("k{i}");
        run(&mut r, cmd, &key);
        run(&mut v, cmd, &key);
    }
    let mut diffs = Vec::new();
    for (i, (_, cmd)) in CASES.iter().enumerate() {
        let key = format!("k{i}");
        let a = run(&mut r, "OBJECT IDLETIME K", &key);
        let b = run(&mut v, "OBJECT IDLETIME K", &key);
        let (ta, tb) = (touched(&a), touched(&b));
        assert!(ta.is_some(), "redis answered {a:?} for `{cmd}`");
        if ta != tb {
            diffs.push(format!("after `{cmd}`: redis {a:?}, vigil {b:?}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));

    for line in ["OBJECT IDLETIME nokey", "OBJECT FREQ k0"] {
        assert_eq!(run(&mut r, line, ""), run(&mut v, line, ""), "{line}");
    }
    for c in [&mut r, &mut v] {
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    }
    let line = "OBJECT IDLETIME k0";
    assert_eq!(run(&mut r, line, ""), run(&mut v, line, ""), "{line}");
}
