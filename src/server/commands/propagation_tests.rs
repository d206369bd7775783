//! What the data commands put into the replication stream (replication.md §6): the
//! deterministic rewrites (EXPIRE → PEXPIREAT, SPOP → SREM, HINCRBYFLOAT → HSET,
//! blocking pops → their plain forms) and no entry at all for calls that change
//! nothing.

use crate::resp::{parse_frame, Frame};
use crate::server::client::{Client, ClientMsg};
use crate::server::command::dispatch;
use crate::server::config::Config;
use crate::server::replication::backlog::Backlog;
use crate::server::state::{unix_ms, State};
use tokio::sync::mpsc;

struct Harness {
    st: State,
    c: Client,
    _rx: mpsc::UnboundedReceiver<ClientMsg>,
    /// Next stream offset to read from the backlog.
    read_from: i64,
}

impl Harness {
    fn new() -> Harness {
        let (tx, rx) = mpsc::unbounded_channel();
        let addr = "127.0.0.1:1".parse().expect("addr");
        let mut st = State::new(Config::default());
        // A master propagates only once it has a backlog (a replica attached once).
        let read_from = st.repl.master_repl_offset + 1;
        st.repl.backlog = Some(Backlog::new(1 << 20, read_from));
        Harness {
            st,
            c: Client::new(1, addr, addr, true, tx),
            _rx: rx,
            read_from,
        }
    }

    fn run(&mut self, args: &[&str]) -> Frame {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        dispatch(&mut self.st, &mut self.c, &argv, unix_ms()).reply
    }

    /// The commands emitted since the last call, SELECTs left out.
    fn stream(&mut self) -> Vec<String> {
        let end = self.st.repl.master_repl_offset + 1;
        let buf = self
            .st
            .repl
            .backlog
            .as_ref()
            .and_then(|b| b.read(self.read_from, (end - self.read_from) as usize))
            .unwrap_or_default();
        self.read_from = end;
        let mut pos = 0;
        let mut out = Vec::new();
        while let Ok(Some((f, used))) = parse_frame(&buf[pos..]) {
            pos += used;
            let words: Vec<String> = f
                .into_items()
                .unwrap_or_default()
                .iter()
                .filter_map(Frame::as_text)
                .collect();
            if words
                .first()
                .is_some_and(|w| w.eq_ignore_ascii_case("select"))
            {
                continue;
            }
            out.push(words.join(" "));
        }
        out
    }

    /// Run setup commands and forget what they propagated.
    fn setup(&mut self, cmds: &[&[&str]]) {
        for c in cmds {
            self.run(c);
        }
        self.stream();
    }
}

#[test]
fn expire_family_becomes_pexpireat_or_del() {
    let mut h = Harness::new();
    h.setup(&[&["SET", "k", "v"]]);
    let before = unix_ms();
    h.run(&["EXPIRE", "k", "100", "NX"]);
    let s = h.stream();
    assert_eq!(s.len(), 1);
    let parts: Vec<&str> = s[0].split(' ').collect();
    assert_eq!((parts[0], parts[1], parts[3]), ("PEXPIREAT", "k", "NX"));
    let at: i64 = parts[2].parse().expect("ms");
    assert!(at >= before + 100_000 && at <= unix_ms() + 100_000);
    h.run(&["PEXPIREAT", "k", "99999999999999"]);
    assert_eq!(h.stream(), ["PEXPIREAT k 99999999999999"]);
    h.run(&["EXPIREAT", "k", "99999999999"]);
    assert_eq!(h.stream(), ["PEXPIREAT k 99999999999000"]);
    // Refused by a condition, or a missing key: nothing.
    h.run(&["EXPIRE", "k", "100", "NX"]);
    h.run(&["EXPIRE", "nokey", "100"]);
    assert!(h.stream().is_empty());
    h.run(&["EXPIRE", "k", "-1"]);
    assert_eq!(h.stream(), ["DEL k"]);
    h.setup(&[&["SET", "p", "v", "EX", "100"]]);
    h.run(&["PERSIST", "p"]);
    assert_eq!(h.stream(), ["PERSIST p"]);
    h.run(&["PERSIST", "p"]);
    assert!(h.stream().is_empty());
}

#[test]
fn spop_becomes_srem_or_del() {
    let mut h = Harness::new();
    h.setup(&[&["SADD", "s", "a", "b", "c", "d", "e"]]);
    let m = h.run(&["SPOP", "s"]).as_text().expect("member");
    assert_eq!(h.stream(), [format!("SREM s {m}")]);
    h.run(&["SPOP", "s", "2"]);
    let s = h.stream();
    assert_eq!(s.len(), 4, "{s:?}");
    assert_eq!(s[0], "MULTI");
    assert!(s[1].starts_with("SREM s ") && s[2].starts_with("SREM s "));
    assert_eq!(s[3], "EXEC");
    h.run(&["SPOP", "s", "10"]);
    assert_eq!(h.stream(), ["DEL s"]);
    h.run(&["SPOP", "s"]);
    assert!(h.stream().is_empty());
}

#[test]
fn float_increments_and_pops_are_rewritten() {
    let mut h = Harness::new();
    h.run(&["HINCRBYFLOAT", "h", "f", "2.5"]);
    assert_eq!(h.stream(), ["HSET h f 2.5"]);
    h.run(&["INCRBYFLOAT", "k", "0.1"]);
    h.run(&["INCRBYFLOAT", "k", "0.2"]);
    assert_eq!(h.stream(), ["SET k 0.1 KEEPTTL", "SET k 0.3 KEEPTTL"]);
    h.setup(&[
        &["RPUSH", "l", "a", "b"],
        &["ZADD", "z", "1", "m", "2", "n"],
    ]);
    h.run(&["BLPOP", "nokey", "l", "0"]);
    assert_eq!(h.stream(), ["LPOP l"]);
    h.run(&["BLMOVE", "l", "l2", "RIGHT", "LEFT", "0"]);
    assert_eq!(h.stream(), ["LMOVE l l2 RIGHT LEFT"]);
    h.run(&["BRPOPLPUSH", "l2", "l3", "0"]);
    assert_eq!(h.stream(), ["RPOPLPUSH l2 l3"]);
    h.run(&["LMPOP", "1", "l3", "RIGHT", "COUNT", "5"]);
    assert_eq!(h.stream(), ["RPOP l3 1"]);
    h.run(&["BZPOPMAX", "z", "0"]);
    assert_eq!(h.stream(), ["ZPOPMAX z"]);
    h.run(&["ZMPOP", "1", "z", "MIN", "COUNT", "9"]);
    assert_eq!(h.stream(), ["ZPOPMIN z 1"]);
}

#[test]
fn calls_that_change_nothing_are_not_propagated() {
    let mut h = Harness::new();
    h.setup(&[
        &["SET", "str", "v"],
        &["HSET", "h", "f", "v"],
        &["RPUSH", "l", "a"],
        &["SADD", "s", "a"],
        &["ZADD", "z", "1", "a"],
    ]);
    for cmd in [
        &["LPUSH", "str", "x"][..],
        &["HDEL", "h", "nofield"],
        &["LREM", "l", "0", "zz"],
        &["SREM", "s", "zz"],
        &["ZREM", "z", "zz"],
        &["ZADD", "z", "NX", "5", "a"],
        &["ZADD", "z", "1", "a"],
        &["LPOP", "nokey"],
        &["DEL", "nokey"],
        &["SMOVE", "s", "t", "zz"],
        &["LPUSHX", "nokey", "a"],
        &["RENAMENX", "str", "h"],
        &["ZREMRANGEBYSCORE", "z", "5", "9"],
    ] {
        h.run(cmd);
        assert!(h.stream().is_empty(), "{cmd:?} was propagated");
    }
    h.run(&["LPUSH", "l", "b"]);
    assert_eq!(h.stream(), ["LPUSH l b"]);
    h.run(&["FLUSHDB"]);
    h.run(&["FLUSHDB"]);
    // FLUSHDB is always propagated, even on an empty database.
    assert_eq!(h.stream(), ["FLUSHDB", "FLUSHDB"]);
}
