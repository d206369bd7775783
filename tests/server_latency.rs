//! LATENCY (the latency monitor), each scenario run against `vigil server` and the
//! Debian redis-server 7.0 side by side; the deterministic parts of the outputs
//! (event names, reply shapes, RESET counts, HELP, errors) must be the same, the
//! times and durations are checked against generous bounds.

mod support;

use support::*;
use vigil::resp::Frame;

/// A sample's time and duration within bounds: taken since `before`, at least
/// `min_ms` (and not absurdly more).
fn check_sample(time: i64, ms: i64, before: i64, min_ms: i64) {
    let after = unix_now() + 1;
    assert!(time >= before && time <= after, "sample time {time}");
    assert!(ms >= min_ms && ms < min_ms + 5000, "sample of {ms} ms");
}

/// LATENCY LATEST, each event shown by name, sorted (Redis lists its events in hash
/// order); the times and durations are checked here.
fn latest(c: &mut Client, before: i64, min_ms: i64) -> Vec<String> {
    let mut rows: Vec<String> = c
        .cmd(&["LATENCY", "LATEST"])
        .into_items()
        .unwrap()
        .into_iter()
        .map(|row| {
            let row = row.into_items().unwrap();
            assert_eq!(row.len(), 4, "a LATEST row has 4 fields");
            let (time, ms, max) = (
                row[1].as_int().unwrap(),
                row[2].as_int().unwrap(),
                row[3].as_int().unwrap(),
            );
            check_sample(time, ms, before, min_ms);
            assert!(max >= ms, "max {max} below latest {ms}");
            format!("latest {}", show(&row[0]))
        })
        .collect();
    rows.sort();
    rows
}

/// LATENCY HISTORY event: how many samples (each checked; times strictly grow).
fn history(c: &mut Client, event: &str, before: i64, min_ms: i64) -> String {
    let samples = c.cmd(&["LATENCY", "HISTORY", event]).into_items().unwrap();
    let mut last = 0;
    for s in &samples {
        let s = s.clone().into_items().unwrap();
        assert_eq!(s.len(), 2, "a sample is [time, ms]");
        let (time, ms) = (s[0].as_int().unwrap(), s[1].as_int().unwrap());
        check_sample(time, ms, before, min_ms);
        assert!(time > last, "one sample per second, oldest first");
        last = time;
    }
    format!("history {event}: {} samples", samples.len())
}

#[test]
fn latency_monitor_records_slow_commands_like_redis() {
    same_on_both(&["--enable-debug-command", "yes"], |port| {
        let before = unix_now();
        let mut c = Client::connect(port);
        // Off by default: nothing is recorded.
        let mut out = vec![
            c.text(&["CONFIG", "GET", "latency-monitor-threshold"]),
            c.text(&["DEBUG", "SLEEP", "0.06"]),
        ];
        out.extend(latest(&mut c, before, 0));
        out.push(history(&mut c, "command", before, 0));
        // 50 ms: the 100 ms sleep is an event "command", quick commands are not.
        out.push(c.text(&["CONFIG", "SET", "latency-monitor-threshold", "50"]));
        out.push(c.text(&["SET", "k", "v"]));
        out.push(c.text(&["GET", "k"]));
        out.extend(latest(&mut c, before, 0));
        out.push(c.text(&["DEBUG", "SLEEP", "0.1"]));
        out.extend(latest(&mut c, before, 100));
        out.push(history(&mut c, "command", before, 100));
        out.push(history(&mut c, "fast-command", before, 0));
        out.push(history(&mut c, "nothing", before, 0));
        // Inside MULTI too (EXEC itself also runs for 100 ms).
        out.push(c.text(&["MULTI"]));
        out.push(c.text(&["DEBUG", "SLEEP", "0.1"]));
        out.push(show(&c.cmd(&["EXEC"])));
        out.extend(latest(&mut c, before, 100));
        // Back to 0: off again.
        out.push(c.text(&["CONFIG", "SET", "latency-monitor-threshold", "0"]));
        out.push(c.text(&["LATENCY", "RESET"]));
        out.push(c.text(&["DEBUG", "SLEEP", "0.06"]));
        out.extend(latest(&mut c, before, 0));
        out.push(c.text(&["LATENCY", "RESET"]));
        out
    });
}

#[test]
fn latency_samples_keep_the_max_of_their_second() {
    // Two events in one second: one sample, the larger; max is all-time.
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &["--enable-debug-command", "yes"]);
    let mut c = v.client();
    c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "20"]);
    let before = unix_now();
    // Start right after a second boundary so both sleeps share one second.
    wait_for("a fresh second", std::time::Duration::from_secs(3), || {
        (unix_now() > before).then_some(())
    });
    c.cmd(&["DEBUG", "SLEEP", "0.2"]);
    c.cmd(&["DEBUG", "SLEEP", "0.03"]);
    let samples = c
        .cmd(&["LATENCY", "HISTORY", "command"])
        .into_items()
        .unwrap();
    let rows = c.cmd(&["LATENCY", "LATEST"]).into_items().unwrap();
    let row = rows[0].clone().into_items().unwrap();
    let (ms, max) = (row[2].as_int().unwrap(), row[3].as_int().unwrap());
    assert!(max >= 200, "max {max}");
    if samples.len() == 1 {
        assert_eq!(ms, max, "the second keeps its larger sample");
    } else {
        // The load pushed the second sleep into the next second.
        assert_eq!(samples.len(), 2);
        assert!((30..1000).contains(&ms), "latest {ms}");
    }
}

#[test]
fn latency_reset_counts_and_errors_match_redis() {
    same_on_both(&["--enable-debug-command", "yes"], |port| {
        let mut c = Client::connect(port);
        let mut out = vec![
            c.text(&["LATENCY", "RESET"]),
            c.text(&["CONFIG", "SET", "latency-monitor-threshold", "50"]),
            c.text(&["DEBUG", "SLEEP", "0.06"]),
            c.text(&["LATENCY", "RESET", "nothing", "fast-command"]),
            c.text(&["LATENCY", "RESET", "command", "command", "nothing"]),
            c.text(&["LATENCY", "RESET", "command"]),
            c.text(&["DEBUG", "SLEEP", "0.06"]),
            c.text(&["latency", "reset"]),
            c.text(&["LATENCY", "RESET"]),
            c.text(&["CONFIG", "SET", "latency-monitor-threshold", "-1"]),
            c.text(&["CONFIG", "SET", "latency-monitor-threshold", "abc"]),
            c.text(&["CONFIG", "GET", "latency-monitor-threshold"]),
            show(&c.cmd(&["LATENCY", "HELP"])),
        ];
        for args in [
            &["LATENCY"][..],
            &["LATENCY", "FOO"],
            &["LATENCY", "LATEST", "x"],
            &["LATENCY", "HISTORY"],
            &["LATENCY", "HISTORY", "command", "x"],
            &["LATENCY", "HELP", "x"],
        ] {
            out.push(c.text(args));
        }
        out
    });
}

/// The bucket labels Redis 7.0 reports (µs): the tops of the hdr sub-buckets at
/// 1024·2^k ns, then the histogram's top.
fn bucket_labels() -> Vec<i64> {
    let mut v: Vec<i64> = (0..20)
        .map(|k| {
            let l = 1024i64 << k;
            (l + l / 128 - 1) / 1000
        })
        .collect();
    v.push(((1i64 << 30) - 1) / 1000);
    v
}

/// LATENCY HISTOGRAM [args]: per command (sorted by name; Redis answers in hash
/// order) its name and calls; the buckets are checked here (known labels, growing,
/// cumulative up to the calls).
fn histogram(c: &mut Client, args: &[&str]) -> Vec<String> {
    let mut cmd = vec!["LATENCY", "HISTOGRAM"];
    cmd.extend(args);
    let items = c.cmd(&cmd).into_items().unwrap();
    let labels = bucket_labels();
    let mut out: Vec<String> = items
        .chunks(2)
        .map(|pair| {
            let name = pair[0].as_text().unwrap();
            let fields = pair[1].clone().into_items().unwrap();
            assert_eq!(fields.len(), 4, "calls and histogram_usec");
            assert_eq!(fields[0].as_text().unwrap(), "calls");
            assert_eq!(fields[2].as_text().unwrap(), "histogram_usec");
            let calls = fields[1].as_int().unwrap();
            let buckets = fields[3].clone().into_items().unwrap();
            let (mut last_label, mut last_count) = (-1, 0);
            for b in buckets.chunks(2) {
                let (label, count) = (b[0].as_int().unwrap(), b[1].as_int().unwrap());
                assert!(labels.contains(&label), "bucket {label}");
                assert!(
                    label > last_label && count > last_count,
                    "{name}: {buckets:?}"
                );
                (last_label, last_count) = (label, count);
            }
            assert_eq!(last_count, calls, "{name}: cumulative counts end at calls");
            format!("{name} calls={calls}")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn latency_histogram_matches_redis() {
    same_on_both(&["--enable-debug-command", "yes"], |port| {
        let mut c = Client::connect(port);
        let mut out = vec![c.text(&["CONFIG", "RESETSTAT"])];
        for _ in 0..3 {
            out.push(c.text(&["SET", "k", "v"]));
        }
        out.push(c.text(&["DEBUG", "SLEEP", "0.02"]));
        out.push(c.text(&["CONFIG", "GET", "latency-tracking"]));
        out.extend(histogram(&mut c, &["set", "DEBUG", "nosuch", "get"]));
        // A container gives its subcommands; a subcommand by its full name.
        out.extend(histogram(&mut c, &["config"]));
        out.extend(histogram(&mut c, &["CONFIG|get", "set"]));
        // With no names: every command called so far.
        out.extend(histogram(&mut c, &[]));
        // Wrongly-spelled commands are rejected before running: not counted.
        out.push(c.text(&["SET", "k"]));
        out.extend(histogram(&mut c, &["set"]));
        // latency-tracking no: calls are not counted.
        out.push(c.text(&["CONFIG", "SET", "latency-tracking", "no"]));
        out.push(c.text(&["SET", "k", "v"]));
        out.extend(histogram(&mut c, &["set"]));
        out.push(c.text(&["CONFIG", "SET", "latency-tracking", "yes"]));
        // CONFIG RESETSTAT forgets them.
        out.push(c.text(&["CONFIG", "RESETSTAT"]));
        out.extend(histogram(&mut c, &["set", "debug"]));
        // The RESP3 form is a map of maps.
        c.cmd(&["HELLO", "3"]);
        out.push(c.text(&["SET", "k", "v"]));
        match c.cmd(&["LATENCY", "HISTOGRAM", "set"]) {
            Frame::Map(pairs) => {
                out.push(format!("map of {}", pairs.len()));
                let Frame::Map(fields) = &pairs[0].1 else {
                    panic!("not a map: {:?}", pairs[0].1)
                };
                out.push(format!("fields {}", fields.len()));
                assert!(matches!(fields[1].1, Frame::Map(_)), "histogram_usec map");
            }
            other => panic!("not a map: {other:?}"),
        }
        out
    });
}

#[test]
fn latency_doctor_and_graph_are_not_done() {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let mut c = v.client();
    for sub in ["DOCTOR", "GRAPH"] {
        assert_eq!(
            c.text(&["LATENCY", sub]),
            format!("ERR unknown subcommand '{sub}'. Try LATENCY HELP.")
        );
    }
}
