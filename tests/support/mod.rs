//! Shared helpers for integration tests: free ports, processes killed on drop (also on
//! panic), a tiny synchronous RESP client, redis-cli, and bounded waits.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use vigil::resp::{parse_frame, Frame};

/// A port nobody listens on right now. Ports are handed out from a per-process
/// counter offset by the pid so that parallel test binaries rarely collide, and each
/// candidate is checked by binding it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Below the kernel's ephemeral range (32768+), so outgoing connections never
    // hold a port we are about to hand out.
    let base = 10000 + (std::process::id() % 1100) as u16 * 20;
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 10000 + (base - 10000 + n % 22000) % 22000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Poll `f` every 20 ms until it returns `Some`, or panic after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub name: String,
    pub dir: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// SIGSTOP, and wait (bounded) until every thread is stopped: the kernel stops a
    /// multi-threaded process only once the thread that took the signal has run, and
    /// on a loaded machine the others go on meanwhile (a stopped replica was seen
    /// acknowledging writes sent after kill(2) returned).
    pub fn stop(&self) {
        self.signal(libc::SIGSTOP);
        let tasks = format!("/proc/{}/task", self.pid());
        let all_stopped = || {
            let Ok(dir) = std::fs::read_dir(&tasks) else {
                return true; // gone: nothing runs
            };
            dir.flatten().all(|t| {
                std::fs::read_to_string(t.path().join("stat")).map_or(true, |s| {
                    // "pid (comm) S ...": the state follows the last ')'.
                    s.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().next())
                        .is_none_or(|st| st == "T" || st == "t" || st == "Z" || st == "X")
                })
            })
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !all_stopped() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn cont(&self) {
        self.signal(libc::SIGCONT);
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process has exited (and its status).
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port)
    }

    /// The last 40 lines of the log `spawn` writes (DIR/NAME-PORT.log).
    pub fn log_tail(&self) -> String {
        let path = self.dir.join(format!("{}-{}.log", self.name, self.port));
        let log = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("({e})"));
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A failing test deletes its directory: show what the process logged first.
        if std::thread::panicking() && self.port != 0 {
            let exited = self
                .try_exit()
                .map_or("running".to_string(), |st| format!("exited: {st}"));
            eprintln!(
                "--- {} on port {} ({exited}), last log lines:\n{}",
                self.name,
                self.port,
                self.log_tail()
            );
        }
        self.cont();
        self.kill();
    }
}

pub fn vigil_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vigil")
}

/// Spawn `cmd` with its stdout piped: each line arrives on the channel (a reader
/// thread ends with the process). The process is killed when the `Proc` drops.
pub fn spawn_lines(
    mut cmd: Command,
    name: &str,
    dir: &Path,
) -> (Proc, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let p = Proc {
        child,
        port: 0,
        name: name.into(),
        dir: dir.to_path_buf(),
    };
    (p, rx)
}

/// A fresh temporary directory that lives as long as the returned guard.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("vigil-test-")
        .tempdir()
        .expect("temp dir")
}

fn spawn(mut cmd: Command, port: u16, name: &str, dir: &Path) -> Proc {
    let log = std::fs::File::create(dir.join(format!("{name}-{port}.log"))).expect("log file");
    let log2 = log.try_clone().expect("log file");
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2));
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let mut p = Proc {
        child,
        port,
        name: name.to_string(),
        dir: dir.to_path_buf(),
    };
    wait_for(
        &format!("{name} on port {port}"),
        Duration::from_secs(10),
        || {
            if let Some(st) = p.try_exit() {
                panic!("{name} exited early ({st}); its log follows");
            }
            // Ready means our child answers a command on the port, not merely that
            // something accepts connections there.
            let mut c = Client::try_connect(port)?;
            c.send_raw(b"PING\r\n");
            c.try_read().map(|_| ())
        },
    );
    if let Some(st) = p.try_exit() {
        panic!("{name} on port {port} answered, then exited ({st}); its log follows");
    }
    p
}

/// `vigil server --port P --save '' --dir DIR --repl-diskless-sync-delay 0 <extra...>`
/// (no 5 s wait before each full sync, like `redis_server`; `extra` may override it).
pub fn vigil_server(dir: &Path, extra: &[&str]) -> Proc {
    let port = free_port();
    let mut cmd = Command::new(vigil_bin());
    cmd.arg("server")
        .args(["--port", &port.to_string(), "--save", "", "--dir"])
        .arg(dir)
        .args(["--repl-diskless-sync-delay", "0"])
        .args(extra);
    spawn(cmd, port, "vigil-server", dir)
}

/// The Debian `redis-server` with test-friendly settings.
pub fn redis_server(dir: &Path, extra: &[&str]) -> Proc {
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--save", "", "--dir"])
        .arg(dir)
        .args([
            "--repl-diskless-sync-delay",
            "0",
            "--daemonize",
            "no",
            "--bind",
            "127.0.0.1",
        ])
        .args(extra);
    spawn(cmd, port, "redis-server", dir)
}

/// `vigil_server` or `redis_server` by name ("vigil" or "redis"), for tests that run
/// one scenario against both.
pub fn server_of(kind: &str, dir: &Path, extra: &[&str]) -> Proc {
    match kind {
        "vigil" => vigil_server(dir, extra),
        "redis" => redis_server(dir, extra),
        other => panic!("unknown server kind {other}"),
    }
}

/// Run `scenario` against a fresh `vigil server` and a fresh redis-server (both
/// started with `extra`) and require the same transcript.
pub fn same_on_both(extra: &[&str], scenario: impl Fn(u16) -> Vec<String>) {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), extra);
    let r = redis_server(dir.path(), extra);
    let ours = scenario(v.port);
    let theirs = scenario(r.port);
    assert_eq!(ours, theirs, "vigil (left) and redis-server (right) differ");
}

/// A reply as one line of a transcript (arrays as `[a, b]`).
pub fn show(f: &Frame) -> String {
    match f {
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => other.as_text().unwrap_or_else(|| format!("{other:?}")),
    }
}

/// Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Write `conf` (with `port P` appended) to DIR/sentinel-P.conf and start `vigil sentinel`.
pub fn vigil_sentinel(dir: &Path, conf: &str) -> Proc {
    let port = free_port();
    let path = write_sentinel_conf(dir, port, conf);
    let mut cmd = Command::new(vigil_bin());
    cmd.arg("sentinel").arg(&path);
    spawn(cmd, port, "vigil-sentinel", dir)
}

/// The same with the Debian `redis-sentinel`.
pub fn redis_sentinel(dir: &Path, conf: &str) -> Proc {
    let port = free_port();
    let path = write_sentinel_conf(dir, port, conf);
    let mut cmd = Command::new("redis-sentinel");
    cmd.arg(&path);
    spawn(cmd, port, "redis-sentinel", dir)
}

pub fn write_sentinel_conf(dir: &Path, port: u16, conf: &str) -> PathBuf {
    let path = dir.join(format!("sentinel-{port}.conf"));
    std::fs::write(
        &path,
        format!("port {port}\nbind 127.0.0.1\ndaemonize no\n{conf}\n"),
    )
    .expect("write sentinel conf");
    path
}

/// Run redis-cli against `port` and return its stdout (trimmed).
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// A minimal blocking RESP client built on Vigil's own codec.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.set_nodelay(true).ok();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn try_connect(port: u16) -> Option<Client> {
        let stream =
            TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
                .ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        Some(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send(&mut self, args: &[&str]) {
        let mut out = bytes::BytesMut::new();
        Frame::encode_command(args, &mut out);
        self.send_raw(&out);
    }

    /// Read one reply; panics on timeout or a closed connection.
    pub fn read(&mut self) -> Frame {
        self.try_read()
            .expect("reply (connection closed or timed out)")
    }

    /// Read one reply; `None` when the connection closed or timed out.
    pub fn try_read(&mut self) -> Option<Frame> {
        loop {
            if let Some((f, used)) = parse_frame(&self.buf).expect("valid reply") {
                self.buf.drain(..used);
                return Some(f);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub fn cmd(&mut self, args: &[&str]) -> Frame {
        self.send(args);
        self.read()
    }

    /// Send a command and return its reply as text (bulk/simple/int/error).
    pub fn text(&mut self, args: &[&str]) -> String {
        let f = self.cmd(args);
        f.as_text().unwrap_or_else(|| format!("{f:?}"))
    }

    /// Send a command and check that no reply comes for 400 ms (held by a pause,
    /// not refused).
    pub fn assert_held(&mut self, args: &[&str]) {
        self.send(args);
        self.stream
            .set_read_timeout(Some(Duration::from_millis(400)))
            .unwrap();
        let r = self.try_read();
        assert!(r.is_none(), "{args:?} was not held: {r:?}");
        self.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        self.try_read().is_none()
    }
}

/// One field of an INFO text (`field:value` lines).
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
}

/// Start `vigil sentinel` on an existing config file (e.g. to restart one). The file
/// must already name `port`.
pub fn vigil_sentinel_at(dir: &Path, port: u16, conf_path: &Path) -> Proc {
    let mut cmd = Command::new(vigil_bin());
    cmd.arg("sentinel").arg(conf_path);
    spawn(cmd, port, "vigil-sentinel", dir)
}

/// A Sentinel instance map (RESP2 flat array or RESP3 map) as `field -> value`.
pub fn frame_map(f: &Frame) -> std::collections::HashMap<String, String> {
    let items = f.clone().into_items().unwrap_or_default();
    items
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| {
            (
                c[0].as_text().unwrap_or_default(),
                c[1].as_text().unwrap_or_default(),
            )
        })
        .collect()
}

/// The list of instance maps returned by SENTINEL MASTERS / REPLICAS / SENTINELS.
pub fn frame_maps(f: &Frame) -> Vec<std::collections::HashMap<String, String>> {
    f.clone()
        .into_items()
        .unwrap_or_default()
        .iter()
        .map(frame_map)
        .collect()
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME name` on the sentinel at `port`; `None` when it
/// does not answer or knows no such master.
pub fn sentinel_master_addr(port: u16, name: &str) -> Option<(String, u16)> {
    let mut c = Client::try_connect(port)?;
    c.send(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]);
    let items = c.try_read()?.into_items()?;
    Some((
        items.first()?.as_text()?,
        items.get(1)?.as_text()?.parse().ok()?,
    ))
}

/// The log of the `vigil sentinel` on `port` started in `dir` (empty if none).
pub fn vigil_sentinel_log(dir: &Path, port: u16) -> String {
    std::fs::read_to_string(dir.join(format!("vigil-sentinel-{port}.log"))).unwrap_or_default()
}

/// Wait until each sentinel in `ports` knows `replicas` replicas of `name` and every
/// other sentinel in `ports`, all with their links up, and has INFO from every
/// replica.
pub fn wait_sentinels_know(ports: &[u16], name: &str, replicas: usize) {
    for &p in ports {
        wait_for("sentinel discovery", Duration::from_secs(20), || {
            let mut c = Client::try_connect(p)?;
            let r = frame_maps(&c.cmd(&["SENTINEL", "REPLICAS", name]));
            let s = frame_maps(&c.cmd(&["SENTINEL", "SENTINELS", name]));
            let linked = r
                .iter()
                .chain(s.iter())
                .all(|i| !i["flags"].contains("disconnected"))
                && r.iter().all(|i| i["info-refresh"] != "0");
            (r.len() == replicas && s.len() == ports.len() - 1 && linked).then_some(())
        });
    }
}

/// Assert that every sentinel in `ports` reports the same non-zero `config-epoch`
/// for `name` (one failover configuration everywhere); returns it.
pub fn assert_one_config_epoch(ports: &[u16], name: &str) -> String {
    let epochs: Vec<String> = ports
        .iter()
        .map(|&p| {
            let m = frame_map(&Client::connect(p).cmd(&["SENTINEL", "MASTER", name]));
            m.get("config-epoch").cloned().unwrap_or_default()
        })
        .collect();
    assert!(
        epochs.iter().all(|e| e == &epochs[0] && e != "0"),
        "config epochs: {epochs:?}"
    );
    epochs[0].clone()
}

/// One INFO field of the server on `port` ("" when absent).
pub fn field(port: u16, section: &str, name: &str) -> String {
    let mut c = Client::connect(port);
    c.send(&["INFO", section]);
    let reply = c.try_read().unwrap_or_else(|| {
        panic!("INFO {section} on port {port}: connection closed or no reply within 10 s")
    });
    let text = reply.as_text().unwrap_or_else(|| format!("{reply:?}"));
    info_field(&text, name).unwrap_or_default()
}

/// Wait (20 s at most) until the replica on `port` reports `master_link_status:up`
/// (polling INFO on one connection).
pub fn wait_link_up(port: u16) {
    let mut c = Client::connect(port);
    wait_for("master_link_status:up", Duration::from_secs(20), || {
        let i = c.text(&["INFO", "replication"]);
        (info_field(&i, "master_link_status").as_deref() == Some("up")).then_some(())
    });
}

/// Wait (20 s at most) until the replica applied everything the master has
/// (polling INFO on one connection to each).
pub fn wait_caught_up(master: u16, replica: u16) {
    let mut m = Client::connect(master);
    let mut r = Client::connect(replica);
    wait_for("replica caught up", Duration::from_secs(20), || {
        let mi = m.text(&["INFO", "replication"]);
        let ri = r.text(&["INFO", "replication"]);
        let mo = info_field(&mi, "master_repl_offset")?;
        let ro = info_field(&ri, "slave_repl_offset")?;
        (mo == ro && info_field(&ri, "master_link_status").as_deref() == Some("up")).then_some(())
    });
}

/// A `vigil server` replica (in `dir`) of the master on `master_port`, its link up.
pub fn vigil_replica(dir: &Path, master_port: u16) -> Proc {
    let r = vigil_server(dir, &["--replicaof", "127.0.0.1", &master_port.to_string()]);
    wait_link_up(r.port);
    r
}
