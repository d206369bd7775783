//! Regression tests for inputs found by fuzzing (fuzz/, scripts/fuzz.sh): each test is
//! a crash or broken round trip the fuzzer found, kept so it cannot come back.
//! Tests marked `#[ignore]` reproduce bugs in code owned elsewhere that are still
//! open; run them with `cargo test --test robustness_parsers -- --ignored`.

use std::time::Instant;
use vigil::server::config::Config;

/// redis.conf `save 300 010`: the value was stored unnormalized (`300 010`), so a
/// CONFIG REWRITE produced `save 300 10` and the config changed across a rewrite
/// (fuzz target redis_conf). Redis keeps save parameters as integers.
#[test]
fn save_params_are_normalized_numbers() {
    let mut c = Config::default();
    c.load_text("save 900 01\nsave 300 010\n", "t.conf")
        .unwrap();
    let get = |c: &Config| c.config_get(&["save".to_string()]);
    assert_eq!(
        get(&c),
        vec![("save".to_string(), "900 1 300 10".to_string())]
    );
    let rewritten = c.rewrite_text("save 900 01\nsave 300 010\n");
    let mut c2 = Config::default();
    c2.load_text(&rewritten, "r.conf").unwrap();
    assert_eq!(get(&c), get(&c2));
    assert!(c.load_text("save 1 x\n", "t.conf").is_err());
    assert!(c.load_text("save 1\n", "t.conf").is_err());
}

/// INFO from a (corrupt or hostile) instance whose run_id line holds a multi-byte
/// character across byte 40: `parse_info` slices `&id[..40]` on bytes and panics
/// ("byte index 40 is not a char boundary") — in the sentinel, on network input.
/// Bug in src/sentinel/info.rs (parse_info, `run_id:` branch); fuzz target `info`.
#[test]
fn info_run_id_with_multibyte_char_does_not_panic() {
    let text = format!(
        "# Server\r\nrun_id:{}é{}\r\nrole:master\r\n",
        "a".repeat(39),
        "b".repeat(8)
    );
    let f = vigil::sentinel::info::parse_info(&text);
    assert_eq!(f.role_master, Some(true));
}

/// `sentinel monitor m 127.0.0.1 6379 4294967296`: the quorum is parsed as i64 and
/// stored `as u32`, so it becomes 0 — accepted (Redis rejects it), and the sentinel's
/// own rewrite then writes `... 0`, which it refuses to load at the next start.
/// Bug in src/sentinel/config.rs (monitor: `quorum as u32`; the same cast is in
/// machine.rs for SENTINEL MONITOR). Fuzz target `sentinel_conf`.
#[test]
fn sentinel_quorum_out_of_u32_range_is_rejected() {
    use vigil::sentinel::config::parse;
    use vigil::sentinel::state::Timers;
    let text = "sentinel monitor m 127.0.0.1 6379 4294967296\n";
    let r = parse("s.conf", text, &[], &Timers::default(), Instant::now());
    assert!(
        r.is_err(),
        "quorum 2^32 must be rejected, not truncated to 0"
    );
}

/// The same file must load again after the sentinel rewrote it (a quorum that fits).
#[test]
fn sentinel_conf_rewrite_loads_again() {
    use vigil::sentinel::config::{merge, parse, render_state};
    use vigil::sentinel::state::Timers;
    let text = "port 26380\nsentinel monitor m 127.0.0.1 6379 2\n\
                sentinel known-replica m 127.0.0.1 6380\nsentinel down-after-milliseconds m 1000\n";
    let t = Timers::default();
    let l = parse("s.conf", text, &[], &t, Instant::now()).unwrap();
    let state = render_state(&l.global, &l.masters);
    let merged = merge(text, &state);
    let l2 = parse("s.conf", &merged, &[], &t, Instant::now()).unwrap();
    assert_eq!(state, render_state(&l2.global, &l2.masters));
}
