//! INCRBYFLOAT and HINCRBYFLOAT against redis-server 7.0, byte for byte: Redis adds
//! in x87 `long double` and prints `%.17Lf` trimmed, which Vigil emulates in software
//! (src/server/longdouble.rs). Edge cases plus a few hundred random sequences
//! (decimal, exponent and hex-float increments, huge and tiny magnitudes, values a
//! previous step produced, stored strings that strtold refuses), each reply and the
//! stored value compared, in RESP2 and RESP3.

mod data_support;
mod support;

use data_support::RawClient;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Plays commands on both servers and records every reply that differs.
struct Pair {
    redis: RawClient,
    vigil: RawClient,
    diffs: Vec<String>,
    /// Results Redis produced so far: fed back as increments and stored values.
    seen: Vec<String>,
}

impl Pair {
    fn new(redis_port: u16, vigil_port: u16, resp3: bool) -> Pair {
        let mut p = Pair {
            redis: RawClient::connect(redis_port),
            vigil: RawClient::connect(vigil_port),
            diffs: Vec::new(),
            seen: Vec::new(),
        };
        if resp3 {
            // Not compared: the reply carries each server's own client id.
            p.redis.cmd(&["HELLO", "3"]);
            p.vigil.cmd(&["HELLO", "3"]);
        }
        p
    }

    fn run(&mut self, args: &[&str]) {
        let a = self.redis.cmd(args);
        let b = self.vigil.cmd(args);
        if a != b {
            self.diffs.push(format!(
                "{args:?}\n   redis: {:?}\n   vigil: {:?}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
        if let Some(v) = a.strip_prefix(b"$") {
            let text = String::from_utf8_lossy(v);
            if let Some((_, body)) = text.split_once("\r\n") {
                let body = body.trim_end_matches("\r\n");
                if !body.is_empty() && self.seen.len() < 2000 {
                    self.seen.push(body.to_string());
                }
            }
        }
    }

    fn check(self, what: &str) {
        assert!(
            self.diffs.is_empty(),
            "{what}: {} replies differ from redis-server:\n{}",
            self.diffs.len(),
            self.diffs.join("\n")
        );
    }
}

fn start() -> (tempfile::TempDir, support::Proc, support::Proc) {
    let dir = support::temp_dir();
    let redis = support::redis_server(dir.path(), &[]);
    let vigil = support::vigil_server(dir.path(), &[]);
    (dir, redis, vigil)
}

/// Values every run tries: the classic surprises, limits of the 80-bit format,
/// half-way roundings of the 17th decimal, and texts strtold or Redis refuse.
const EDGES: &[&str] = &[
    "0.1",
    "0.2",
    "10.5",
    "1e17",
    "1",
    "-1",
    "-0",
    "0",
    "3.0e3",
    "5.0e300",
    "-5.0e300",
    "1e-20",
    "-1e-20",
    "1e4000",
    "1e4932",
    "1.18973149535723176502e+4932",
    "-1.18973149535723176502e+4932",
    "1.18973149535723176508e+4932",
    "1e-4950",
    "1e-5000",
    "0x1p-16445",
    "0x1p-16446",
    "0x1.8p3",
    "0X1P2",
    "0x.8",
    "0x",
    "0x1p",
    "0.000003814697265625",
    "2.5e-17",
    "5e-18",
    "-5e-18",
    "18446744073709551615",
    "18446744073709551617",
    "9223372036854775807",
    "inf",
    "-inf",
    "infinity",
    "infin",
    "nan",
    "-nan(1)",
    " 1",
    "1 ",
    "\t1",
    "+5",
    ".5",
    "5.",
    "1e",
    "-.e1",
    "1_0",
    "1\u{0}",
    "\u{0}",
    "",
    "abc",
];

#[test]
fn edge_increments_match_redis() {
    let (_dir, redis, vigil) = start();
    for resp3 in [false, true] {
        let mut p = Pair::new(redis.port, vigil.port, resp3);
        for start in ["0", "0.1", "1e17", "-1e-20", "5.0e300"] {
            for inc in EDGES {
                p.run(&["SET", "k", start]);
                p.run(&["INCRBYFLOAT", "k", inc]);
                p.run(&["GET", "k"]);
                p.run(&["HSET", "h", "f", start]);
                p.run(&["HINCRBYFLOAT", "h", "f", inc]);
                p.run(&["HGET", "h", "f"]);
            }
        }
        // Stored texts INCRBYFLOAT must refuse or accept as Redis does.
        for stored in EDGES {
            p.run(&["SET", "k", stored]);
            p.run(&["INCRBYFLOAT", "k", "1"]);
            p.run(&["HSET", "h", "f", stored]);
            p.run(&["HINCRBYFLOAT", "h", "f", "1"]);
        }
        let long_ok = format!("{}1", "0".repeat(5118));
        let too_long = format!("{}1", "0".repeat(5119));
        for arg in [long_ok.as_str(), too_long.as_str()] {
            p.run(&["DEL", "k", "h"]);
            p.run(&["INCRBYFLOAT", "k", arg]);
            p.run(&["HINCRBYFLOAT", "h", "f", arg]);
        }
        p.run(&["DEL", "k", "h"]);
        p.run(&["INCRBYFLOAT", "k", "0.1"]);
        p.run(&["INCRBYFLOAT", "k", "0.2"]);
        p.run(&["INCRBYFLOAT", "k", "-0.3"]);
        p.check(if resp3 { "edges RESP3" } else { "edges RESP2" });
    }
}

fn digits(rng: &mut StdRng, max: usize) -> String {
    let n = rng.gen_range(0..=max);
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// A random increment: decimal with or without exponent, hex float, an edge value,
/// or a value Redis produced earlier (maybe negated, to cancel it).
fn increment(rng: &mut StdRng, seen: &[String]) -> String {
    let sign = ["", "", "-", "+"][rng.gen_range(0..4)];
    match rng.gen_range(0..10) {
        0..=3 => {
            let int = digits(rng, 22);
            let frac = digits(rng, 22);
            let mut s = if int.is_empty() && frac.is_empty() {
                "7".to_string()
            } else if rng.gen_bool(0.7) || int.is_empty() {
                format!("{int}.{frac}")
            } else {
                int
            };
            if rng.gen_bool(0.4) {
                let e: i32 = match rng.gen_range(0..4) {
                    0 => rng.gen_range(-30..=30),
                    1 => rng.gen_range(-5000..=5000),
                    2 => rng.gen_range(-4960..=-4900),
                    _ => rng.gen_range(4900..=4935),
                };
                s = format!("{s}{}{e}", if rng.gen_bool(0.5) { "e" } else { "E" });
            }
            format!("{sign}{s}")
        }
        4 => format!("{sign}{}", rng.gen_range(-1e6..1e6f64).abs()),
        5 => {
            let hex: String = (0..rng.gen_range(1..=18))
                .map(|_| char::from(b"0123456789abcdefABCDEF"[rng.gen_range(0..22)]))
                .collect();
            let p: i32 = match rng.gen_range(0..3) {
                0 => rng.gen_range(-100..=100),
                1 => rng.gen_range(-16500..=-16300),
                _ => rng.gen_range(16300..=16400),
            };
            format!("{sign}0x{hex}p{p}")
        }
        6 => EDGES[rng.gen_range(0..EDGES.len())].to_string(),
        _ => match seen.get(rng.gen_range(0..seen.len().max(1))) {
            Some(v) if rng.gen_bool(0.5) => match v.strip_prefix('-') {
                Some(pos) => pos.to_string(),
                None => format!("-{v}"),
            },
            Some(v) => v.clone(),
            None => "0.1".to_string(),
        },
    }
}

#[test]
fn random_increment_sequences_match_redis() {
    let seed: u64 = std::env::var("FLOAT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let mut rng = StdRng::seed_from_u64(seed);
    let (_dir, redis, vigil) = start();
    for resp3 in [false, true] {
        let mut p = Pair::new(redis.port, vigil.port, resp3);
        for _ in 0..150 {
            let hash = rng.gen_bool(0.5);
            p.run(&["DEL", "k", "h"]);
            if rng.gen_bool(0.3) {
                let v = increment(&mut rng, &p.seen);
                if hash {
                    p.run(&["HSET", "h", "f", &v]);
                } else {
                    p.run(&["SET", "k", &v]);
                }
            }
            for _ in 0..rng.gen_range(1..=6) {
                let inc = increment(&mut rng, &p.seen);
                if hash {
                    p.run(&["HINCRBYFLOAT", "h", "f", &inc]);
                } else {
                    p.run(&["INCRBYFLOAT", "k", &inc]);
                }
            }
            if hash {
                p.run(&["HGET", "h", "f"]);
            } else {
                p.run(&["GET", "k"]);
            }
        }
        p.check(&format!(
            "random sequences (FLOAT_SEED={seed}, RESP3 {resp3})"
        ));
    }
}
