//! Fuzz target bodies for Vigil's parsers of untrusted input. Each function takes
//! arbitrary bytes, must never panic, hang or allocate without bound, and checks a
//! property beyond "no crash" where one exists (chunking independence, round trips).
//! Used by the libFuzzer targets in `fuzz_targets/` and by the stable `fuzz-driver`.

use bytes::BytesMut;
use vigil::resp::{parse_frame, Frame, Proto, RequestLimits, RequestParser};

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by name, for drivers.
pub const TARGETS: &[(&str, Target)] = &[
    ("resp_request", resp_request),
    ("resp_reply", resp_reply),
    ("redis_conf", redis_conf),
    ("sentinel_conf", sentinel_conf),
    ("hello", hello),
    ("info", info),
    ("rdb", rdb),
];

/// Look a target up by name.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

type Parsed = (Vec<Vec<bytes::Bytes>>, Option<String>);

/// Drain `parser` over `input` fed in pieces of `chunk` bytes (0: all at once).
fn drain(limits: RequestLimits, input: &[u8], chunk: usize) -> Parsed {
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let pieces: Vec<&[u8]> = if chunk == 0 {
        vec![input]
    } else {
        input.chunks(chunk).collect()
    };
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match parser.next(&mut buf) {
                Ok(Some(cmd)) => out.push(cmd),
                Ok(None) => break,
                Err(e) => return (out, Some(e.0)),
            }
        }
    }
    (out, None)
}

/// Server request parser (multibulk and inline): no panic, and the commands (and the
/// protocol error, if any) do not depend on how the bytes were split into reads.
/// The first byte picks the limits (authenticated or not) and the chunk size.
pub fn resp_request(data: &[u8]) {
    let Some((&ctl, input)) = data.split_first() else {
        return;
    };
    let limits = RequestLimits {
        authenticated: ctl & 0x80 == 0,
        ..RequestLimits::default()
    };
    let whole = drain(limits, input, 0);
    let chunk = (ctl & 0x7f) as usize % 17 + 1;
    let split = drain(limits, input, chunk);
    // A protocol error can be detected earlier on a partial buffer (e.g. a header line
    // longer than the limit) — but the commands before it must be the same.
    let n = whole.0.len().min(split.0.len());
    assert_eq!(whole.0[..n], split.0[..n], "commands differ by chunking");
    if whole.1.is_none() && split.1.is_none() {
        assert_eq!(whole.0, split.0, "commands differ by chunking");
    }
}

/// Client reply parser: no panic; a parsed frame used at most the input, parses the
/// same from exactly its own bytes, and re-encodes (RESP3) to something that parses.
pub fn resp_reply(data: &[u8]) {
    let mut rest = data;
    for _ in 0..64 {
        match parse_frame(rest) {
            Ok(Some((frame, used))) => {
                assert!(
                    used > 0 && used <= rest.len(),
                    "used {used} of {}",
                    rest.len()
                );
                let again = parse_frame(&rest[..used]);
                match again {
                    Ok(Some((f2, u2))) => {
                        assert_eq!(u2, used);
                        assert!(same_frame(&frame, &f2), "{frame:?} != {f2:?}");
                    }
                    other => panic!("frame does not re-parse from its own bytes: {other:?}"),
                }
                let enc = frame.to_bytes(Proto::Resp3);
                match parse_frame(&enc) {
                    Ok(Some((_, u))) => assert_eq!(u, enc.len()),
                    other => panic!("re-encoded {frame:?} does not parse: {other:?}"),
                }
                let _ = frame.to_bytes(Proto::Resp2);
                rest = &rest[used..];
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// Frame equality where NaN equals NaN.
fn same_frame(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_frame(p, q))
        }
        (Frame::Map(x), Frame::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| same_frame(k1, k2) && same_frame(v1, v2))
        }
        _ => a == b,
    }
}

/// redis.conf: no panic; an accepted file rewrites (CONFIG REWRITE) into a file that
/// loads again to the same configuration.
pub fn redis_conf(data: &[u8]) {
    use vigil::server::config::Config;
    let text = String::from_utf8_lossy(data);
    let mut c = Config::default();
    if c.load_text(&text, "fuzz.conf").is_err() {
        return;
    }
    let all = vec!["*".to_string()];
    let before = c.config_get(&all);
    let rewritten = c.rewrite_text(&text);
    let mut c2 = Config::default();
    if let Err(e) = c2.load_text(&rewritten, "rewritten.conf") {
        if before.iter().any(|(_, v)| v.contains(['"', '\'', '\\'])) {
            return; // see below: unquoted multi-word values
        }
        panic!("rewritten config does not load: {e:?}\n--- rewritten:\n{rewritten}");
    }
    let after = c2.config_get(&all);
    // Multi-word values (bind, ...) are written back unquoted, as redis-server does
    // (`sdsjoin` in rewriteConfigBindOption): words with quotes, backslashes or empty
    // words cannot survive that, in Redis either. Everything else must.
    let plain = |v: &str| {
        !v.contains(['"', '\'', '\\'])
            && !v.starts_with(' ')
            && !v.ends_with(' ')
            && !v.contains("  ")
    };
    for ((k1, v1), (k2, v2)) in before.iter().zip(&after) {
        assert_eq!(k1, k2);
        if plain(v1) {
            assert_eq!(v1, v2, "{k1} changed across rewrite:\n{rewritten}");
        }
    }
    assert_eq!(before.len(), after.len());
}

/// sentinel.conf: no panic; an accepted file, rewritten with its own state, parses
/// again to the same state.
pub fn sentinel_conf(data: &[u8]) {
    use std::time::Instant;
    use vigil::sentinel::config::{merge, parse, render_state};
    use vigil::sentinel::state::Timers;
    let text = String::from_utf8_lossy(data);
    let t = Timers::default();
    let Ok(loaded) = parse("fuzz.conf", &text, &[], &t, Instant::now()) else {
        return;
    };
    let state = render_state(&loaded.global, &loaded.masters);
    let merged = merge(&text, &state);
    match parse("rewritten.conf", &merged, &[], &t, Instant::now()) {
        Ok(again) => {
            let state2 = render_state(&again.global, &again.masters);
            assert_eq!(state, state2, "state changed across rewrite:\n{merged}");
        }
        Err(e) => panic!("rewritten sentinel.conf does not load: {e}\n--- rewritten:\n{merged}"),
    }
}

/// Hello payload: no panic; a parsed hello encodes back to the same hello.
pub fn hello(data: &[u8]) {
    use vigil::sentinel::hello::Hello;
    let text = String::from_utf8_lossy(data);
    if let Some(h) = Hello::parse(&text) {
        let enc = h.encode();
        assert_eq!(
            Hello::parse(&enc).as_ref(),
            Some(&h),
            "hello round trip: {enc}"
        );
    }
}

/// INFO text as a sentinel reads it: no panic.
pub fn info(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = vigil::sentinel::info::parse_info(&text);
}

/// RDB loader: no panic, no unbounded allocation; a loaded file re-encodes to a file
/// that loads to the same data (compared through a second encoding).
pub fn rdb(data: &[u8]) {
    use vigil::server::rdb::{decode, encode, DbSnapshot, SaveOptions};
    let Ok(loaded) = decode(data, 16) else {
        return;
    };
    let snap = |l: vigil::server::rdb::Loaded| -> Vec<DbSnapshot> {
        l.dbs
            .into_iter()
            .map(|(index, map, expires)| DbSnapshot {
                index,
                map,
                expires,
            })
            .collect()
    };
    let opts = SaveOptions {
        repl: None,
        compress: true,
        checksum: true,
        ctime: 0,
        used_mem: 0,
    };
    let first = encode(&snap(loaded), &opts);
    let second_loaded = match decode(&first, 16) {
        Ok(l) => l,
        Err(e) => panic!("re-encoded RDB does not load: {e:?}"),
    };
    let second = encode(&snap(second_loaded), &opts);
    assert_eq!(first, second, "RDB round trip changed the data");
}
