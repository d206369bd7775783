//! `vigil demo` end to end: with the Redis binaries (`--redis`), with `vigil sentinel`
//! over redis-server (`--redis-servers`), and with the bundled server and sentinel
//! (the default). Also: Ctrl-C (and SIGKILL of the
//! demo) leave no child behind, and `--keep` leaves a working topology.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{vigil_bin, Proc};

/// Run the demo with `--json`; the summary is printed also when the demo fails.
fn run_demo_json_any(extra: &[&str]) -> (bool, serde_json::Value) {
    // 1 s unless the caller sets it.
    let down_after: &[&str] = if extra.contains(&"--down-after") {
        &[]
    } else {
        &["--down-after", "1s"]
    };
    let out = Command::new(vigil_bin())
        .args(["demo", "--json", "--timeout", "60s"])
        .args(down_after)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stderr}\n{stdout}"));
    (out.status.success(), v)
}

fn run_demo_json(extra: &[&str]) -> serde_json::Value {
    let (ok, v) = run_demo_json_any(extra);
    assert!(ok, "demo failed: {v}");
    v
}

fn check_summary(v: &serde_json::Value) {
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["writes_lost"], 0, "{v}");
    check_run(v);
}

/// Everything but the 0-lost check.
fn check_run(v: &serde_json::Value) {
    assert!(v["writes_acknowledged"].as_u64().unwrap() > 50, "{v}");
    assert_ne!(v["old_master"], v["new_master"]);
    assert_eq!(v["old_master_rejoined"], true);
    let events: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for want in [
        "kill",
        "+sdown",
        "+odown",
        "+promoted-slave",
        "+switch-master",
        "restart",
        "rejoined",
    ] {
        assert!(events.contains(&want), "{want} missing from {events:?}");
    }
    // Ordered as in a real failover.
    let pos = |e: &str| events.iter().position(|x| *x == e).unwrap();
    assert!(pos("+odown") < pos("+promoted-slave"));
    assert!(pos("+promoted-slave") < pos("restart"));
    let sw = v["switch_master_ms"].as_i64().unwrap();
    let odown = v["odown_ms"].as_i64().unwrap();
    assert!(
        0 < odown && odown <= sw,
        "odown {odown} ms, switch-master {sw} ms"
    );
    // The temporary directory is gone (unless kept).
    if v["kept"] == false {
        assert!(!std::path::Path::new(v["dir"].as_str().unwrap()).exists());
    }
}

#[test]
fn demo_with_redis_binaries_loses_no_acknowledged_write() {
    // redis-sentinel at 1 s down-after failed the new master over a second time under
    // CI load (a clean-clone run, session 3), as in discovery_clients' all-Redis flavor.
    let v = run_demo_json(&["--redis", "--down-after", "3s"]);
    check_summary(&v);
    assert_eq!(v["binaries"], "redis");
}

#[test]
fn demo_with_vigil_sentinels_over_redis_servers() {
    let v = run_demo_json(&["--redis-servers"]);
    check_summary(&v);
    assert_eq!(v["binaries"], "redis-server + vigil sentinel");
}

/// The whole chain on this binary: no acknowledged write may be lost. A write's reply
/// leaves `vigil server` only once an online replica's socket has the write's bytes
/// (bounded wait, see `await_sent` in src/server/conn.rs), so a SIGKILL right after an
/// acknowledgement cannot take the write with it.
#[test]
fn demo_with_vigil_binaries_loses_no_replicated_write() {
    let (ok, v) = run_demo_json_any(&[]);
    assert_eq!(v["binaries"], "vigil");
    check_run(&v);
    assert_eq!(v["old_master_rejoined"], true, "{v}");
    assert_eq!(v["writes_lost"].as_u64(), Some(0), "{v}");
    assert!(
        ok,
        "the demo exits non-zero exactly when writes were lost: {v}"
    );
}

/// With `--wait 1` a write counts only once a replica has it: then nothing
/// acknowledged may be lost, on the bundled server too.
#[test]
fn demo_with_vigil_binaries_and_wait_loses_nothing() {
    let v = run_demo_json(&["--wait", "1"]);
    check_summary(&v);
    assert_eq!(v["binaries"], "vigil");
    assert_eq!(v["wait_replicas"], 1);
}

/// Start `vigil demo --redis`, return it with the pids it printed once it is ready.
fn start_demo() -> (Proc, Vec<i32>, tempfile::TempDir) {
    let dir = support::temp_dir();
    let mut cmd = Command::new(vigil_bin());
    cmd.args(["demo", "--redis", "--timeout", "60s"]);
    let (p, rx) = support::spawn_lines(cmd, "vigil-demo", dir.path());
    let mut pids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let l = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("demo ready line");
        if let Some(pid) = l.split(" pid ").nth(1) {
            pids.push(pid.trim().parse().unwrap());
        }
        if l.starts_with("ready after") {
            break;
        }
    }
    assert_eq!(pids.len(), 6, "1 master + 2 replicas + 3 sentinels");
    (p, pids, dir)
}

fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0); count it as gone.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

fn wait_all_gone(pids: &[i32]) {
    support::wait_for("every demo child to exit", Duration::from_secs(10), || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
}

#[test]
fn ctrl_c_leaves_no_child_behind() {
    let (mut demo, pids, _d) = start_demo();
    assert!(pids.iter().all(|p| alive(*p)));
    demo.signal(libc::SIGINT);
    let status = support::wait_for("demo to exit", Duration::from_secs(10), || demo.try_exit());
    assert!(!status.success(), "interrupted demo exits non-zero");
    wait_all_gone(&pids);
}

#[test]
fn sigkill_of_the_demo_leaves_no_child_behind() {
    let (mut demo, pids, _d) = start_demo();
    demo.kill();
    wait_all_gone(&pids);
}

#[test]
fn keep_leaves_a_working_topology() {
    let v = run_demo_json(&["--keep"]);
    let pids: Vec<i32> = v["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap() as i32)
        .collect();
    let dir = std::path::PathBuf::from(v["dir"].as_str().unwrap());
    // Clean up whatever happens below.
    struct Cleanup(Vec<i32>, std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for p in &self.0 {
                unsafe {
                    libc::kill(*p, libc::SIGKILL);
                }
            }
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    let _c = Cleanup(pids.clone(), dir.clone());
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(pids.len(), 6);
    assert!(dir.exists());
    std::thread::sleep(Duration::from_millis(300));
    assert!(pids.iter().all(|p| alive(*p)), "children outlive the demo");
    let new_port: u16 = v["new_master"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        support::redis_cli(new_port, &["SET", "after-demo", "1"]),
        "OK"
    );
    let s: u16 = v["sentinel_addrs"][0]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let reply = support::redis_cli(s, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
    assert!(reply.ends_with(&new_port.to_string()), "{reply}");
}
