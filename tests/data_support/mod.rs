//! Helpers for the data-command integration tests: a client that returns replies as
//! raw bytes, and a runner that plays the same command script against redis-server
//! and `vigil server` (RESP2, then RESP3 after `HELLO 3`) and reports every reply
//! that differs byte for byte.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A client that keeps replies as the exact bytes the server sent.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    pub fn connect(port: u16) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.set_nodelay(true).ok();
        RawClient {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).expect("write");
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("connection closed"),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read: {e}"),
        }
    }

    fn line_end(&mut self, pos: usize) -> usize {
        loop {
            if let Some(i) = self.buf[pos..].windows(2).position(|w| w == b"\r\n") {
                return pos + i;
            }
            self.fill();
        }
    }

    /// End offset of the reply starting at `pos` (reading more as needed).
    fn reply_end(&mut self, pos: usize) -> usize {
        let e = self.line_end(pos);
        let kind = self.buf[pos];
        let n: i64 = std::str::from_utf8(&self.buf[pos + 1..e])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match kind {
            b'$' | b'=' => {
                if n < 0 {
                    return e + 2;
                }
                let end = e + 2 + n as usize + 2;
                while self.buf.len() < end {
                    self.fill();
                }
                end
            }
            b'*' | b'~' | b'>' | b'%' => {
                let items = if kind == b'%' { 2 * n } else { n };
                let mut p = e + 2;
                for _ in 0..items.max(0) {
                    p = self.reply_end(p);
                }
                p
            }
            _ => e + 2,
        }
    }

    /// Read one whole reply.
    pub fn read(&mut self) -> Vec<u8> {
        let end = self.reply_end(0);
        self.buf.drain(..end).collect()
    }

    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        self.send(args);
        self.read()
    }

    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }
}

/// Lines of a reply, sorted: for replies whose order is unspecified (hash order).
fn unordered(r: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = r.split(|&c| c == b'\n').map(|l| l.to_vec()).collect();
    v.sort();
    v
}

/// Run `script` (one command per line, `#` comments, a leading `~` marks a reply whose
/// element order is unspecified) against both servers in one protocol. Returns the
/// differences found.
pub fn compare_on(redis_port: u16, vigil_port: u16, script: &str, resp3: bool) -> Vec<String> {
    let mut a = RawClient::connect(redis_port);
    let mut b = RawClient::connect(vigil_port);
    if resp3 {
        a.cmd(&["HELLO", "3"]);
        b.cmd(&["HELLO", "3"]);
    }
    let mut diffs = Vec::new();
    for line in script.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (any_order, line) = match line.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let args: Vec<&str> = line.split_whitespace().collect();
        let ra = a.cmd(&args);
        let rb = b.cmd(&args);
        let same = if any_order {
            unordered(&ra) == unordered(&rb)
        } else {
            ra == rb
        };
        if !same {
            diffs.push(format!(
                "RESP{} `{line}`\n   redis: {:?}\n   vigil: {:?}",
                if resp3 { 3 } else { 2 },
                String::from_utf8_lossy(&ra),
                String::from_utf8_lossy(&rb)
            ));
        }
    }
    diffs
}

/// Start redis-server and vigil, run `script` in RESP2 and RESP3, panic on any
/// difference (listing all of them).
pub fn assert_same_as_redis(script: &str) {
    let dir = super::support::temp_dir();
    let redis = super::support::redis_server(dir.path(), &[]);
    let vigil = super::support::vigil_server(dir.path(), &[]);
    let mut diffs = compare_on(redis.port, vigil.port, script, false);
    diffs.extend(compare_on(redis.port, vigil.port, script, true));
    assert!(
        diffs.is_empty(),
        "{} replies differ from redis-server:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
