//! `vigil discover` against real redis-sentinel + redis-server: one-shot output (text
//! and JSON), one-line errors with a non-zero exit, and `--watch` printing the switch
//! after a failover.

mod discovery_support;
mod support;

use discovery_support::{Flavor, Topology, NAME};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{free_port, spawn_lines, vigil_bin, Proc};

flavors!(
    one_shot_text_json_and_errors,
    watch_prints_the_switch_after_forced_failover,
    watch_json_follows_sigkill_failover
);

fn discover(args: &[&str]) -> (bool, String, String, Duration) {
    let started = Instant::now();
    let out = Command::new(vigil_bin())
        .arg("discover")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

fn one_shot_text_json_and_errors(flavor: Flavor) {
    let t = Topology::start(flavor, 2, 3, 1000);
    let list = t.sentinel_list();
    let (ok, out, err, _) = discover(&["--sentinel", &list, "--name", NAME]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!("master 127.0.0.1:{} ", t.master.port)),
        "{out}"
    );

    let (ok, out, err, _) = discover(&["--sentinel", &list, "--name", NAME, "--replicas"]);
    assert!(ok, "{err}");
    for r in &t.replicas {
        assert!(
            out.contains(&format!("replica 127.0.0.1:{} link=ok", r.port)),
            "{out}"
        );
    }

    let (ok, out, err, _) =
        discover(&["--sentinel", &list, "--name", NAME, "--replicas", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["name"], NAME);
    assert_eq!(v["master"], format!("127.0.0.1:{}", t.master.port));
    assert_eq!(v["replicas"].as_array().unwrap().len(), 2);
    assert!(v["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["healthy"] == true));

    // Unknown name: non-zero exit, one line saying no sentinel knows it.
    let (ok, out, err, _) = discover(&["--sentinel", &list, "--name", "nope"]);
    assert!(!ok);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no sentinel knows master 'nope'"), "{err}");

    // Nobody listening: a different one-line error, quickly.
    let dead = format!("127.0.0.1:{},127.0.0.1:{}", free_port(), free_port());
    let (ok, _, err, took) = discover(&["--sentinel", &dead, "--name", NAME]);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no sentinel reachable"), "{err}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A malformed address.
    let (ok, _, err, _) = discover(&["--sentinel", "localhost", "--name", NAME]);
    assert!(!ok);
    assert!(err.contains("invalid address"), "{err}");
}

/// Spawn `vigil discover --watch ...`; lines arrive on the channel.
fn watch(args: &[&str], dir: &std::path::Path) -> (Proc, mpsc::Receiver<String>) {
    let mut cmd = Command::new(vigil_bin());
    cmd.arg("discover").arg("--watch").args(args);
    spawn_lines(cmd, "vigil-discover", dir)
}

/// Lines until one satisfies `f` (panics after `timeout`).
fn line_until(
    rx: &mpsc::Receiver<String>,
    timeout: Duration,
    seen: &mut Vec<String>,
    f: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                seen.push(l.clone());
                if f(&l) {
                    return l;
                }
            }
            Err(_) => panic!("no matching line within {timeout:?}; got {seen:#?}"),
        }
    }
}

fn watch_prints_the_switch_after_forced_failover(flavor: Flavor) {
    let t = Topology::start(flavor, 2, 3, 1000);
    let old = t.master.port;
    let (_p, rx) = watch(
        &[
            "--sentinel",
            &t.sentinel_list(),
            "--name",
            NAME,
            "--interval",
            "200ms",
        ],
        t.dir.path(),
    );
    let mut seen = Vec::new();
    let first = line_until(&rx, Duration::from_secs(5), &mut seen, |_| true);
    assert!(
        first.contains(&format!("master 127.0.0.1:{old} ")),
        "{first}"
    );
    // `<rfc3339 time> master ...`
    assert!(first.split(' ').next().unwrap().ends_with('Z'), "{first}");
    t.force_failover();
    let new = t.wait_new_master(old, Duration::from_secs(20));
    let sw = line_until(&rx, Duration::from_secs(10), &mut seen, |l| {
        l.contains(" switch ")
    });
    assert!(
        sw.contains(&format!("switch {NAME} 127.0.0.1:{old} -> 127.0.0.1:{new}")),
        "{sw}"
    );
    eprintln!("{}", seen.join("\n"));
}

fn watch_json_follows_sigkill_failover(flavor: Flavor) {
    let mut t = Topology::start(flavor, 2, 3, 1000);
    let old = t.master.port;
    let (_p, rx) = watch(
        &[
            "--sentinel",
            &t.sentinel_list(),
            "--name",
            NAME,
            "--json",
            "--replicas",
            "--interval",
            "200ms",
        ],
        t.dir.path(),
    );
    let mut seen = Vec::new();
    let first = line_until(&rx, Duration::from_secs(5), &mut seen, |_| true);
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["event"], "master");
    assert_eq!(v["master"], format!("127.0.0.1:{old}"));
    t.master.kill();
    let new = t.wait_new_master(old, Duration::from_secs(25));
    let sw = line_until(&rx, Duration::from_secs(10), &mut seen, |l| {
        l.contains("\"switch\"")
    });
    let v: serde_json::Value = serde_json::from_str(&sw).unwrap();
    assert_eq!(v["old"], format!("127.0.0.1:{old}"));
    assert_eq!(v["new"], format!("127.0.0.1:{new}"));
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    // While the dead master was still named, the watcher said it was unavailable.
    assert!(
        seen.iter().any(|l| l.contains("\"unavailable\"")),
        "{seen:#?}"
    );
    // The replica list changed too: the promoted node left it, the dead master
    // joined it as not usable.
    let reps = if let Some(l) = seen
        .iter()
        .rev()
        .find(|l| l.contains("\"event\":\"replicas\"") && l.contains(&format!(":{old}\"")))
    {
        l.clone()
    } else {
        line_until(&rx, Duration::from_secs(10), &mut seen, |l| {
            l.contains("\"event\":\"replicas\"") && l.contains(&format!(":{old}\""))
        })
    };
    let v: serde_json::Value = serde_json::from_str(&reps).unwrap();
    let list = v["replicas"].as_array().unwrap();
    assert!(
        list.iter().all(|r| r["addr"] != format!("127.0.0.1:{new}")),
        "{reps}"
    );
    let dead = list
        .iter()
        .find(|r| r["addr"] == format!("127.0.0.1:{old}"))
        .unwrap();
    assert_eq!(dead["healthy"], false, "{reps}");
}
