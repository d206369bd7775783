//! The user-space "netem hub" of `scripts/partition-test.py` (loss and delay for the
//! partition scenarios; this kernel has no netem qdisc): its per-link delay, jitter,
//! FIFO order, seeded loss and queue bound as unit tests in Python (`--self-test`, no
//! root), and, as root, the hub itself between two network namespaces
//! (`--hub-self-test`: frames and 100 KB GSO writes cross it, a 50 ms one-way delay
//! shows in the round trip, TCP survives 20 % loss, 100 % loss cuts, the bridge works
//! again afterwards). Without root or namespaces the second test says so and passes.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the script's whole process group when dropped (also on panic).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group of our own child.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Runs the partition script with `arg`; (exit success, stdout + stderr). Panics after
/// `limit`.
fn script(arg: &str, limit: Duration) -> (bool, String) {
    let path = format!("{}/scripts/partition-test.py", env!("CARGO_MANIFEST_DIR"));
    let mut g = Group(
        Command::new("python3")
            .arg(path)
            .arg(arg)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("python3"),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = g.0.try_wait().expect("wait") {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "{arg} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    g.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    g.0.stderr.take().unwrap().read_to_string(&mut out).unwrap();
    println!("{out}");
    (status.success(), out)
}

#[test]
fn shaper_delay_jitter_loss_and_bounds() {
    let (ok, out) = script("--self-test", Duration::from_secs(30));
    assert!(ok && out.contains("shaper self-test: ok"), "{out}");
}

#[test]
fn hub_between_namespaces() {
    let (ok, out) = script("--hub-self-test", Duration::from_secs(90));
    assert!(ok, "{out}");
    assert!(
        out.contains("hub self-test: ok") || out.contains("hub self-test: SKIPPED"),
        "{out}"
    );
}
