//! Swapping the binaries in: Debian's own redis.conf and sentinel.conf start under
//! `vigil server` / `vigil sentinel` with the arguments of Debian's systemd units
//! (`--supervised systemd --daemonize no`, `Type=notify`), the sd_notify readiness and
//! stopping messages reach `$NOTIFY_SOCKET`, and `daemonize yes` forks into the
//! background with a pidfile, as redis-server does.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

/// Debian's file with the paths and port moved into `dir`.
fn debian_conf(file: &str, dir: &Path, port: u16) -> PathBuf {
    let src = format!("/etc/redis/{file}");
    let text = std::fs::read_to_string(&src)
        .unwrap_or_else(|e| panic!("{src} (from Debian's redis packages) must exist: {e}"));
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split_whitespace().next().unwrap_or("");
        let replaced = match key {
            "port" => format!("port {port}"),
            "dir" => format!("dir {}", dir.display()),
            "logfile" => format!("logfile {}", dir.join(format!("{file}.log")).display()),
            "pidfile" => format!("pidfile {}", dir.join(format!("{file}.pid")).display()),
            _ => line.to_string(),
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    let path = dir.join(file);
    std::fs::write(&path, out).unwrap();
    path
}

/// A bound notify socket like systemd's, with a bounded read.
fn notify_socket(dir: &Path) -> (UnixDatagram, PathBuf) {
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    (sock, path)
}

fn recv_text(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock
        .recv(&mut buf)
        .expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Start `vigil <mode> <conf> --supervised systemd --daemonize no` as Debian's unit
/// does, with NOTIFY_SOCKET set; check READY=1, INFO, then STOPPING=1 on SIGTERM.
fn run_like_debian_unit(mode: &str, file: &str) {
    let dir = temp_dir();
    let port = free_port();
    let conf = debian_conf(file, dir.path(), port);
    let (sock, sock_path) = notify_socket(dir.path());
    let child = Command::new(vigil_bin())
        .arg(mode)
        .arg(&conf)
        .args(["--supervised", "systemd", "--daemonize", "no"])
        .env("NOTIFY_SOCKET", &sock_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut proc = Proc {
        child,
        port,
        name: format!("vigil {mode}"),
        dir: dir.path().to_path_buf(),
    };
    let ready = recv_text(&sock);
    assert!(ready.contains("READY=1"), "{ready:?}");
    let mut c = Client::connect(port);
    let info = c.text(&["INFO", "server"]);
    assert_eq!(
        info_field(&info, "process_supervised").as_deref(),
        Some("systemd")
    );
    // The pidfile named by Debian's file (moved into dir) holds our pid.
    let pid = std::fs::read_to_string(dir.path().join(format!("{file}.pid"))).unwrap();
    assert_eq!(pid.trim(), proc.pid().to_string());
    proc.signal(libc::SIGTERM);
    let stopping = recv_text(&sock);
    assert!(stopping.contains("STOPPING=1"), "{stopping:?}");
    let status = wait_for(&format!("{mode} exit"), Duration::from_secs(10), || {
        proc.try_exit()
    });
    assert!(status.success(), "{status}");
}

#[test]
fn server_starts_from_debians_redis_conf_under_systemd_notify() {
    run_like_debian_unit("server", "redis.conf");
}

#[test]
fn sentinel_starts_from_debians_sentinel_conf_under_systemd_notify() {
    run_like_debian_unit("sentinel", "sentinel.conf");
}

/// Kills the daemon named by a pidfile when dropped (also when the test panics).
struct Daemon(PathBuf);

impl Daemon {
    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.0).ok()?.trim().parse().ok()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) on the daemon this test started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

#[test]
fn daemonize_yes_forks_into_the_background_with_a_pidfile() {
    let dir = temp_dir();
    let port = free_port();
    let pidfile = dir.path().join("vigil.pid");
    let daemon = Daemon(pidfile.clone());
    let status = Command::new(vigil_bin())
        .args(["server", "--port", &port.to_string(), "--save", ""])
        .args(["--daemonize", "yes", "--pidfile"])
        .arg(&pidfile)
        .arg("--dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the foreground process exits 0: {status}");
    let mut c = wait_for("daemon answers", Duration::from_secs(10), || {
        Client::try_connect(port)
    });
    assert_eq!(c.text(&["PING"]), "PONG");
    let pid = wait_for("pidfile", Duration::from_secs(5), || daemon.pid());
    let info = c.text(&["INFO", "server"]);
    assert_eq!(
        info_field(&info, "process_id").as_deref(),
        Some(pid.to_string().as_str())
    );
    // SAFETY: kill(2) on the daemon this test started.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    wait_for("daemon gone", Duration::from_secs(10), || {
        (!pidfile.exists() && Client::try_connect(port).is_none()).then_some(())
    });
}

#[test]
fn unsupported_features_are_refused_not_ignored() {
    let dir = temp_dir();
    for (args, want) in [
        (["--cluster-enabled", "yes"], "no cluster mode"),
        (["--tls-port", "6390"], "no TLS"),
        (["--appendonly", "yes"], "no AOF"),
    ] {
        let out = Command::new(vigil_bin())
            .args(["server", "--port", &free_port().to_string()])
            .args(args)
            .arg("--dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(want), "{args:?}: {text}");
    }
    let s = vigil_server(dir.path(), &[]);
    let mut c = s.client();
    let reply = c.text(&["CONFIG", "SET", "tls-port", "6390"]);
    assert!(reply.contains("no TLS"), "{reply}");
    let got = c.cmd(&["CONFIG", "GET", "tls-port"]);
    assert_eq!(
        frame_map(&got).get("tls-port").map(String::as_str),
        Some("0")
    );
}

/// The deployment examples under scripts/deploy/ and sentinel.conf.example work as
/// they are (only ports, addresses and directories moved to this test's).
#[test]
fn deployment_examples_run_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = temp_dir();
    let start = |file: &str, extra: &[&str]| -> Proc {
        let port = free_port();
        let mut cmd = Command::new(vigil_bin());
        cmd.arg("server")
            .arg(root.join("scripts/deploy").join(file))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(dir.path())
            .args(["--dbfilename", &format!("dump-{port}.rdb")])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let p = Proc {
            child: cmd.spawn().unwrap(),
            port,
            name: file.to_string(),
            dir: dir.path().to_path_buf(),
        };
        wait_for(file, Duration::from_secs(10), || Client::try_connect(port));
        p
    };
    let master = start("server-master.conf", &[]);
    let mport = master.port.to_string();
    let replica = start("server-replica.conf", &["--replicaof", "127.0.0.1", &mport]);
    let mut m = master.client();
    assert!(m.text(&["PING"]).starts_with("NOAUTH"));
    assert_eq!(m.text(&["AUTH", "change-me"]), "OK");
    let mut r = replica.client();
    assert_eq!(r.text(&["AUTH", "change-me"]), "OK");
    wait_for("replica link up", Duration::from_secs(15), || {
        let info = r.text(&["INFO", "replication"]);
        (info_field(&info, "master_link_status").as_deref() == Some("up")).then_some(())
    });
    // min-replicas-to-write 1 is satisfied once the replica ACKs.
    wait_for("write accepted", Duration::from_secs(10), || {
        (m.text(&["SET", "k", "v"]) == "OK").then_some(())
    });

    // sentinel.conf.example, pointed at this master (plus the password it needs).
    let text = std::fs::read_to_string(root.join("sentinel.conf.example")).unwrap();
    let sport = free_port();
    let text = text
        .replace("port 26379", &format!("port {sport}"))
        .replace(
            "sentinel monitor mymaster 127.0.0.1 6379 2",
            &format!("sentinel monitor mymaster 127.0.0.1 {mport} 1"),
        )
        .replace(
            "# sentinel auth-pass mymaster a-password",
            "sentinel auth-pass mymaster change-me",
        );
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, text).unwrap();
    let sentinel = vigil_sentinel_at(dir.path(), sport, &conf);
    let mut s = sentinel.client();
    let addr = s.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
    assert!(format!("{addr:?}").contains(&mport), "{addr:?}");
    wait_for("sentinel sees the replica", Duration::from_secs(20), || {
        let reps = frame_maps(&s.cmd(&["SENTINEL", "REPLICAS", "mymaster"]));
        reps.iter()
            .any(|r| r.get("flags").map(String::as_str) == Some("slave"))
            .then_some(())
    });
}
