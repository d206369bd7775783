//! A live `vigil server` fed hostile bytes keeps serving: mutated RESP requests on
//! client connections (seeded from the fuzz corpus), and a fake master that answers
//! PSYNC with corrupted RDB payloads. After each barrage the process must still be
//! alive and answer PING on a fresh connection.

mod support;

use bytes::BytesMut;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::*;
use vigil::resp::{Frame, RequestParser};

/// xorshift64*, seeded: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn mutate(rng: &mut Rng, mut v: Vec<u8>) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"\r\n",
        b"*",
        b"$",
        b"-1",
        b"0",
        b"2147483648",
        b"99999999999",
        b"\"",
        b"\x00",
        b"\xff",
        b"1048577",
        b"536870913",
    ];
    for _ in 0..1 + rng.below(5) {
        let len = v.len();
        match rng.below(5) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                v.splice(at..at, t.iter().copied());
            }
            2 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                v.drain(at..at + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            _ => v.truncate(rng.below(len + 1)),
        }
    }
    v
}

fn assert_serving(p: &mut Proc) {
    assert!(p.try_exit().is_none(), "server exited");
    let mut c = Client::try_connect(p.port).expect("server accepts connections");
    c.send(&["PING"]);
    assert_eq!(c.try_read(), Some(Frame::Simple("PONG".into())));
}

/// Mutated requests (multibulk and inline), each on its own connection, then read
/// whatever comes back until the server closes or goes quiet.
#[test]
fn server_survives_mutated_requests() {
    let dir = temp_dir();
    let mut p = vigil_server(dir.path(), &[]);
    let corpus: Vec<Vec<u8>> = seeds("resp_request")
        .into_iter()
        // The first byte of a resp_request seed is the fuzz target's control byte.
        .map(|s| s[1..].to_vec())
        .collect();
    let mut rng = Rng(0x5eed_0001);
    for round in 0..300 {
        let base = corpus[rng.below(corpus.len())].clone();
        let input = mutate(&mut rng, base);
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", p.port)) else {
            panic!("round {round}: server refused a connection");
        };
        s.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        let _ = s.write_all(&input);
        let mut buf = [0u8; 4096];
        let end = Instant::now() + Duration::from_millis(200);
        while Instant::now() < end {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        if round % 50 == 49 {
            assert_serving(&mut p);
        }
    }
    assert_serving(&mut p);
}

/// A fake master: answers the replica's handshake and its PSYNC with a full resync
/// whose RDB payload is `payload`, then keeps the link a moment and closes it.
fn serve_one_sync(l: &TcpListener, payload: &[u8]) -> bool {
    l.set_nonblocking(false).unwrap();
    let (mut s, _) = match l.accept() {
        Ok(x) => x,
        Err(_) => return false,
    };
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    let end = Instant::now() + Duration::from_secs(5);
    let mut chunk = [0u8; 4096];
    while Instant::now() < end {
        match s.read(&mut chunk) {
            Ok(0) => return true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => continue,
        }
        while let Ok(Some(cmd)) = parser.next(&mut buf) {
            let name = String::from_utf8_lossy(&cmd[0]).to_ascii_lowercase();
            let reply: Vec<u8> = match name.as_str() {
                "ping" => b"+PONG\r\n".to_vec(),
                "psync" | "sync" => {
                    let mut r =
                        format!("+FULLRESYNC {} 0\r\n${}\r\n", "a".repeat(40), payload.len())
                            .into_bytes();
                    r.extend_from_slice(payload);
                    let _ = s.write_all(&r);
                    std::thread::sleep(Duration::from_millis(150));
                    return true;
                }
                _ => b"+OK\r\n".to_vec(),
            };
            if s.write_all(&reply).is_err() {
                return true;
            }
        }
    }
    true
}

#[test]
fn replica_survives_corrupt_rdb_from_master() {
    let dir = temp_dir();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mport = l.local_addr().unwrap().port().to_string();
    let mut p = vigil_server(dir.path(), &["--replicaof", "127.0.0.1", &mport]);
    let rdbs = seeds("rdb");
    let mut rng = Rng(0x5eed_0002);
    // Accept with a bound: the replica reconnects after each failed sync.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let payloads: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            let base = rdbs[i % rdbs.len()].clone();
            if i == 0 {
                base
            } else {
                mutate(&mut rng, base)
            }
        })
        .collect();
    let server = std::thread::spawn(move || {
        let mut served = 0;
        for pl in payloads {
            if serve_one_sync(&l, &pl) {
                served += 1;
            }
        }
        let _ = tx.send(());
        served
    });
    // Bounded: the replica retries about once a second.
    let got = rx.recv_timeout(Duration::from_secs(60));
    assert!(got.is_ok(), "replica stopped reconnecting to the master");
    assert!(server.join().unwrap() >= 6);
    assert_serving(&mut p);
    let info = p.client().text(&["INFO", "replication"]);
    assert_eq!(info_field(&info, "role").as_deref(), Some("slave"));
}
