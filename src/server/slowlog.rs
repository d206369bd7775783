//! The slow log (Redis's slowlog.c): the latest `slowlog-max-len` commands that ran
//! for at least `slowlog-log-slower-than` microseconds (0 logs every command, a
//! negative value none). `call` checks the duration against the threshold and only
//! then comes here, so a command that is not logged costs one comparison.
//!
//! An entry is what SLOWLOG GET shows: `[id, unix time (s), duration (µs), args,
//! "ip:port", client name]`. Like Redis, at most 32 arguments are kept (the last
//! one then says `... (N more arguments)`), each cut at 128 bytes (`... (N more
//! bytes)`), and secrets are replaced by `(redacted)`: the arguments of AUTH, the
//! user and password of `HELLO .. AUTH`, and the values of sensitive parameters in
//! CONFIG SET. EXEC is not logged (flag SKIP_SLOWLOG), the commands it runs are.

use super::client::Client;
use super::command::{flags, Command};
use crate::resp::Frame;
use bytes::Bytes;
use std::collections::VecDeque;

/// Arguments kept per entry (`SLOWLOG_ENTRY_MAX_ARGC`).
pub const MAX_ARGC: usize = 32;
/// Bytes kept per argument (`SLOWLOG_ENTRY_MAX_STRING`).
pub const MAX_STRING: usize = 128;

const REDACTED: &[u8] = b"(redacted)";

/// CONFIG SET parameters whose values never reach the slow log (Redis's
/// SENSITIVE_CONFIG).
const SENSITIVE_CONFIGS: &[&str] = &["requirepass", "masterauth", "masteruser"];

pub struct Entry {
    pub id: u64,
    /// Unix time in seconds.
    pub time: i64,
    /// Microseconds.
    pub duration: u64,
    pub args: Vec<Bytes>,
    /// `ip:port` of the client.
    pub peer: String,
    pub name: Bytes,
}

impl Entry {
    /// The SLOWLOG GET form of the entry.
    pub fn to_frame(&self) -> Frame {
        Frame::Array(vec![
            Frame::Integer(self.id as i64),
            Frame::Integer(self.time),
            Frame::Integer(self.duration as i64),
            Frame::Array(self.args.iter().cloned().map(Frame::Bulk).collect()),
            Frame::Bulk(Bytes::from(self.peer.clone())),
            Frame::Bulk(self.name.clone()),
        ])
    }
}

/// The log, newest entry first.
#[derive(Default)]
pub struct SlowLog {
    entries: VecDeque<Entry>,
    /// Ids keep growing across SLOWLOG RESET, as in Redis.
    next_id: u64,
}

impl SlowLog {
    /// Record a call that ran `duration` µs (already known to reach the threshold),
    /// then trim to `max_len`.
    pub fn push(
        &mut self,
        cmd: &Command,
        client: &Client,
        argv: &[&[u8]],
        duration: u64,
        max_len: usize,
    ) {
        if cmd.has(flags::SKIP_SLOWLOG) {
            return;
        }
        let entry = Entry {
            id: self.next_id,
            time: super::state::unix_ms() / 1000,
            duration,
            args: entry_args(argv),
            peer: client.addr.to_string(),
            name: client.name.clone().unwrap_or_default(),
        };
        self.next_id += 1;
        self.entries.push_front(entry);
        self.trim(max_len);
    }

    /// Drop the oldest entries beyond `max_len` (also done when read, so a lowered
    /// `slowlog-max-len` shows at once, as Redis trims after every command).
    pub fn trim(&mut self, max_len: usize) {
        self.entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> impl Iterator<Item = &Entry> {
        self.entries.iter().take(count)
    }

    /// SLOWLOG RESET: forget every entry (ids go on).
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// Which arguments are secrets (Redis's `redactClientCommandArgument` callers): the
/// slow log and MONITOR show them as `(redacted)`.
pub fn redacted(argv: &[&[u8]], i: usize) -> bool {
    let is = |a: &[u8], w: &str| a.eq_ignore_ascii_case(w.as_bytes());
    let name = argv[0];
    if is(name, "auth") {
        return i >= 1;
    }
    if is(name, "hello") {
        // HELLO [protover [AUTH user pass] [SETNAME name]]: the two words after AUTH
        // (options are read in order up to the first syntax error, like Redis).
        let mut j = 2;
        while j < argv.len() {
            if is(argv[j], "auth") && j + 2 < argv.len() {
                if i == j + 1 || i == j + 2 {
                    return true;
                }
                j += 3;
            } else if is(argv[j], "setname") && j + 1 < argv.len() {
                j += 2;
            } else {
                break;
            }
        }
        return false;
    }
    if is(name, "config") && argv.len() > 1 && is(argv[1], "set") && i >= 3 && i % 2 == 1 {
        let param = argv[i - 1];
        return SENSITIVE_CONFIGS.iter().any(|s| is(param, s))
            || super::config::find_param(&String::from_utf8_lossy(param))
                .is_some_and(|p| SENSITIVE_CONFIGS.contains(&p.name));
    }
    false
}

/// The arguments as stored: at most [`MAX_ARGC`], each at most [`MAX_STRING`] bytes
/// plus a note of what was cut, secrets redacted.
fn entry_args(argv: &[&[u8]]) -> Vec<Bytes> {
    let argc = argv.len();
    let kept = argc.min(MAX_ARGC);
    (0..kept)
        .map(|j| {
            if kept != argc && j == kept - 1 {
                Bytes::from(format!("... ({} more arguments)", argc - kept + 1))
            } else if redacted(argv, j) {
                Bytes::from_static(REDACTED)
            } else if argv[j].len() > MAX_STRING {
                let mut s = argv[j][..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", argv[j].len() - MAX_STRING).as_bytes(),
                );
                Bytes::from(s)
            } else {
                Bytes::copy_from_slice(argv[j])
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        entry_args(&v.iter().map(|s| s.as_bytes()).collect::<Vec<_>>())
            .into_iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn long_calls_are_cut_like_redis() {
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = std::iter::once("rpush")
            .chain(many.iter().map(|s| s.as_str()))
            .collect();
        let got = args(&refs);
        assert_eq!(got.len(), 32);
        assert_eq!(got[30], "29");
        assert_eq!(got[31], "... (10 more arguments)");
        let exactly: Vec<&str> = refs[..32].to_vec();
        assert_eq!(args(&exactly), exactly);
        let long = "x".repeat(200);
        let got = args(&["set", "k", &long]);
        assert_eq!(got[2], format!("{}... (72 more bytes)", "x".repeat(128)));
        let edge = "y".repeat(128);
        assert_eq!(args(&["set", "k", &edge])[2], edge);
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            args(&["AUTH", "u", "p"]),
            ["AUTH", "(redacted)", "(redacted)"]
        );
        assert_eq!(
            args(&["hello", "3", "auth", "u", "p", "setname", "n"]),
            [
                "hello",
                "3",
                "auth",
                "(redacted)",
                "(redacted)",
                "setname",
                "n"
            ]
        );
        assert_eq!(
            args(&["hello", "3", "auth", "u"]),
            ["hello", "3", "auth", "u"]
        );
        assert_eq!(
            args(&["config", "set", "maxmemory", "1", "MasterAuth", "s"]),
            [
                "config",
                "set",
                "maxmemory",
                "1",
                "MasterAuth",
                "(redacted)"
            ]
        );
        assert_eq!(
            args(&["config", "get", "masterauth"]),
            ["config", "get", "masterauth"]
        );
    }
}
