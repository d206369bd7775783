//! The demo's processes: servers and sentinels started as children (of this binary,
//! or of redis-server/redis-sentinel with `--redis`) on free loopback ports in one
//! directory, each logging to its own file; killed, restarted and cleaned up here.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::discovery::{Addr, Link};
use crate::resp::Frame;

/// Which program runs a kind of node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bin {
    /// This binary (`current_exe() server ...` / `current_exe() sentinel FILE`).
    Vigil(PathBuf),
    /// `redis-server` / `redis-sentinel` from PATH.
    Redis,
}

/// What to run for servers and for sentinels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flavor {
    pub servers: Bin,
    pub sentinels: Bin,
}

impl Flavor {
    pub fn label(&self) -> &'static str {
        match (&self.servers, &self.sentinels) {
            (Bin::Vigil(_), Bin::Vigil(_)) => "vigil",
            (Bin::Redis, Bin::Redis) => "redis",
            (Bin::Redis, Bin::Vigil(_)) => "redis-server + vigil sentinel",
            (Bin::Vigil(_), Bin::Redis) => "vigil server + redis-sentinel",
        }
    }
}

/// One child process.
pub struct Node {
    /// `master`, `replica-1`, `sentinel-2`, ...
    pub label: String,
    pub port: u16,
    pub pid: u32,
    pub log: PathBuf,
    child: Option<Child>,
    program: PathBuf,
    args: Vec<String>,
}

impl Node {
    pub fn addr(&self) -> Addr {
        Addr::new("127.0.0.1", self.port)
    }
}

/// All children of one demo run.
pub struct Topology {
    pub dir: PathBuf,
    tmp: Option<tempfile::TempDir>,
    pub flavor: Flavor,
    pub nodes: Vec<Node>,
    /// Children outlive the demo (`--keep`): own session, no parent-death signal.
    detach: bool,
}

/// A loopback port nobody listens on, below the ephemeral range (so that outgoing
/// connections do not grab it before the child binds it).
pub fn free_port(taken: &[u16]) -> Result<u16, String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    for _ in 0..1000 {
        let p: u16 = rng.gen_range(20000..32000);
        if taken.contains(&p) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return Ok(p);
        }
    }
    Err("no free loopback port found".into())
}

impl Topology {
    pub fn new(flavor: Flavor, detach: bool) -> Result<Topology, String> {
        let tmp = tempfile::Builder::new()
            .prefix("vigil-demo-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        Ok(Topology {
            dir: tmp.path().to_path_buf(),
            tmp: Some(tmp),
            flavor,
            nodes: Vec::new(),
            detach,
        })
    }

    /// Keep the directory after the demo (for `--keep`).
    pub fn persist_dir(&mut self) {
        if let Some(t) = self.tmp.take() {
            let _ = t.keep();
        }
    }

    fn taken(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    fn server_args(&self, port: u16, replicaof: Option<u16>) -> (PathBuf, Vec<String>) {
        let mut args: Vec<String> = Vec::new();
        let program = match &self.flavor.servers {
            Bin::Vigil(exe) => {
                args.push("server".into());
                exe.clone()
            }
            Bin::Redis => PathBuf::from("redis-server"),
        };
        for (k, v) in [
            ("--port", port.to_string()),
            ("--bind", "127.0.0.1".into()),
            ("--save", String::new()),
            ("--appendonly", "no".into()),
            ("--repl-diskless-sync-delay", "0".into()),
            ("--dir", self.dir.display().to_string()),
        ] {
            args.push(k.into());
            args.push(v);
        }
        if let Some(m) = replicaof {
            args.extend(["--replicaof".into(), "127.0.0.1".into(), m.to_string()]);
        }
        (program, args)
    }

    /// Start a server; `replicaof` makes it a replica of that port.
    pub async fn start_server(
        &mut self,
        label: &str,
        replicaof: Option<u16>,
    ) -> Result<usize, String> {
        let port = free_port(&self.taken())?;
        let (program, args) = self.server_args(port, replicaof);
        self.spawn(label, port, program, args).await
    }

    /// Write `sentinel-PORT.conf` (port, bind, then `body`) and start a sentinel on it.
    pub async fn start_sentinel(&mut self, label: &str, body: &str) -> Result<usize, String> {
        let port = free_port(&self.taken())?;
        let conf = self.dir.join(format!("sentinel-{port}.conf"));
        std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\n{body}"))
            .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
        let (program, args) = match &self.flavor.sentinels {
            Bin::Vigil(exe) => (
                exe.clone(),
                vec!["sentinel".to_string(), conf.display().to_string()],
            ),
            Bin::Redis => (
                PathBuf::from("redis-sentinel"),
                vec![conf.display().to_string()],
            ),
        };
        self.spawn(label, port, program, args).await
    }

    fn command(&self, program: &Path, args: &[String], log: &Path) -> Result<Command, String> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let detach = self.detach;
        // SAFETY: only async-signal-safe calls (setsid, prctl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if detach {
                    libc::setsid();
                } else {
                    // Die with the demo even if it is killed with SIGKILL.
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                    // Own process group: the terminal's Ctrl-C goes to the demo,
                    // which then cleans up in order.
                    libc::setpgid(0, 0);
                }
                Ok(())
            });
        }
        Ok(cmd)
    }

    async fn spawn(
        &mut self,
        label: &str,
        port: u16,
        program: PathBuf,
        args: Vec<String>,
    ) -> Result<usize, String> {
        let log = self.dir.join(format!("{label}-{port}.log"));
        let child = self
            .command(&program, &args, &log)?
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        self.nodes.push(Node {
            label: label.to_string(),
            port,
            pid: child.id(),
            log,
            child: Some(child),
            program,
            args,
        });
        let i = self.nodes.len() - 1;
        self.wait_listening(i, Duration::from_secs(10)).await?;
        Ok(i)
    }

    /// Wait until node `i` accepts connections; fail early if it exited.
    async fn wait_listening(&mut self, i: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let node = &mut self.nodes[i];
            if let Some(child) = node.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    node.child = None;
                    let log = std::fs::read_to_string(&node.log).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(5).collect();
                    return Err(format!(
                        "{} on port {} exited at start ({status}); last log lines: {}",
                        node.label,
                        node.port,
                        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                    ));
                }
            }
            let addr = node.addr();
            if Link::connect(
                &addr,
                Duration::from_millis(200),
                Duration::from_millis(500),
            )
            .await
            .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on {} within {timeout:?}",
                    node.label, addr
                ));
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// The last log line of each of these nodes (for error messages).
    pub fn last_log_lines(&self, idx: &[usize]) -> String {
        idx.iter()
            .filter_map(|&i| self.nodes.get(i))
            .map(|n| {
                let log = std::fs::read_to_string(&n.log).unwrap_or_default();
                let last = log
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                format!("{} log: {}", n.label, strip_ansi(last.trim()))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// SIGKILL node `i` and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start node `i` again with the same command line (same port).
    pub async fn restart(&mut self, i: usize) -> Result<(), String> {
        self.kill(i);
        let (program, args, log) = {
            let n = &self.nodes[i];
            (n.program.clone(), n.args.clone(), n.log.clone())
        };
        let child = self
            .command(&program, &args, &log)?
            .spawn()
            .map_err(|e| format!("cannot restart {}: {e}", program.display()))?;
        self.nodes[i].pid = child.id();
        self.nodes[i].child = Some(child);
        self.wait_listening(i, Duration::from_secs(10)).await
    }

    /// Kill every child and reap it (idempotent).
    pub fn shutdown(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }

    /// Pids of the children still running.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.pid)
            .collect()
    }

    /// Let the children outlive this process (`--keep`).
    pub fn release(&mut self) {
        for n in &mut self.nodes {
            n.child = None;
        }
        self.persist_dir();
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Drop ANSI colour sequences (`ESC [ ... m`) from a log line.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One command on a fresh link; `None` on any failure.
pub async fn query(addr: &Addr, args: &[&str]) -> Option<Frame> {
    let mut l = Link::connect(addr, Duration::from_millis(300), Duration::from_secs(1))
        .await
        .ok()?;
    let f = l.call(args).await.ok()?;
    (!f.is_error()).then_some(f)
}

/// A field of an INFO text.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours_and_finds_free_ports() {
        assert_eq!(
            strip_ansi("\x1b[2m2026\x1b[0m \x1b[33m WARN\x1b[0m x"),
            "2026  WARN x"
        );
        let a = free_port(&[]).unwrap();
        let b = free_port(&[a]).unwrap();
        assert_ne!(a, b);
        assert!((20000..32000).contains(&a));
    }
}
