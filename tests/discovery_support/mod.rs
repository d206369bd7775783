//! A sentinel-monitored topology for discovery tests: 1 master + N replicas + M
//! sentinels, all real Debian binaries (or `vigil` ones), on free loopback ports in a
//! temporary directory; every process is killed when the topology is dropped.
#![allow(dead_code)]

use crate::support::{self, info_field, wait_for, Client, Frame, Proc};
use std::time::Duration;

/// One `#[test]` per flavor: `NAME::redis` (redis-sentinel + redis-server),
/// `NAME::vigil_sentinel` (`vigil sentinel` + redis-server) and `NAME::vigil`
/// (`vigil sentinel` + `vigil server`).
#[macro_export]
macro_rules! flavors {
    ($($body:ident),* $(,)?) => {$(
        mod $body {
            #[test]
            fn redis() {
                super::$body(super::Flavor::Redis)
            }
            #[test]
            fn vigil_sentinel() {
                super::$body(super::Flavor::VigilSentinel)
            }
            #[test]
            fn vigil() {
                super::$body(super::Flavor::Vigil)
            }
        }
    )*};
}

pub const NAME: &str = "mymaster";

/// Which binaries to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// redis-server + redis-sentinel.
    Redis,
    /// redis-server + `vigil sentinel`.
    VigilSentinel,
    /// `vigil server` + `vigil sentinel`.
    Vigil,
}

pub struct Topology {
    pub dir: tempfile::TempDir,
    pub master: Proc,
    pub replicas: Vec<Proc>,
    pub sentinels: Vec<Proc>,
    pub flavor: Flavor,
}

fn text(c: &mut Client, args: &[&str]) -> Option<String> {
    let f = c.cmd(args);
    f.as_text()
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME` port on a sentinel, if it answers.
pub fn sentinel_master_port(sentinel_port: u16, name: &str) -> Option<u16> {
    let mut c = Client::try_connect(sentinel_port)?;
    c.send(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]);
    let items = c.try_read()?.into_items()?;
    items.get(1)?.as_int().map(|p| p as u16)
}

/// Number of entries of `SENTINEL <sub> NAME` on a sentinel.
pub fn sentinel_count(sentinel_port: u16, sub: &str) -> usize {
    Client::try_connect(sentinel_port)
        .and_then(|mut c| {
            c.send(&["SENTINEL", sub, NAME]);
            c.try_read()
        })
        .and_then(|f| f.into_items())
        .map(|v| v.len())
        .unwrap_or(0)
}

/// Replicas a sentinel lists as connected and healthy (no s_down/disconnected flag,
/// master link ok).
pub fn sentinel_healthy_replicas(sentinel_port: u16) -> usize {
    let Some(mut c) = Client::try_connect(sentinel_port) else {
        return 0;
    };
    c.send(&["SENTINEL", "REPLICAS", NAME]);
    let Some(entries) = c.try_read().and_then(|f| f.into_items()) else {
        return 0;
    };
    entries
        .into_iter()
        .filter_map(|e| e.into_items())
        .filter(|kv| {
            let get = |k: &str| {
                kv.chunks(2)
                    .find(|p| p[0].as_text().as_deref() == Some(k))
                    .and_then(|p| p.get(1)?.as_text())
            };
            let flags = get("flags").unwrap_or_default();
            !flags.contains("s_down")
                && !flags.contains("disconnected")
                && get("master-link-status").as_deref() == Some("ok")
        })
        .count()
}

/// The master port in `SENTINEL MASTER NAME` (changes only at failover end, unlike
/// GET-MASTER-ADDR-BY-NAME).
pub fn sentinel_master_struct_port(sentinel_port: u16) -> Option<u16> {
    let mut c = Client::try_connect(sentinel_port)?;
    c.send(&["SENTINEL", "MASTER", NAME]);
    let kv = c.try_read()?.into_items()?;
    kv.chunks(2)
        .find(|p| p[0].as_text().as_deref() == Some("port"))
        .and_then(|p| p.get(1)?.as_int())
        .map(|p| p as u16)
}

/// SIGSTOP `p` and wait until every thread of it is stopped: for a busy
/// multi-threaded process the stop is not immediate, and a reply can still leave
/// right after `kill` returns.
pub fn freeze(p: &Proc) {
    p.stop();
    let pid = p.pid();
    wait_for("process to stop", Duration::from_secs(5), || {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut all = true;
        for t in tasks.flatten() {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // State is the field after the `(comm)`.
            let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
            all &= matches!(state, Some('T') | Some('t'));
        }
        all.then_some(())
    });
}

/// The `role` a node reports in `ROLE`.
pub fn role(port: u16) -> Option<String> {
    let mut c = Client::try_connect(port)?;
    c.send(&["ROLE"]);
    c.try_read()?.into_items()?.first()?.as_text()
}

fn start_server(flavor: Flavor, dir: &std::path::Path, extra: &[&str]) -> Proc {
    match flavor {
        Flavor::Redis | Flavor::VigilSentinel => support::redis_server(dir, extra),
        Flavor::Vigil => support::vigil_server(dir, extra),
    }
}

fn start_sentinel(flavor: Flavor, dir: &std::path::Path, conf: &str) -> Proc {
    match flavor {
        Flavor::Redis => support::redis_sentinel(dir, conf),
        Flavor::VigilSentinel | Flavor::Vigil => support::vigil_sentinel(dir, conf),
    }
}

impl Topology {
    /// Start everything and wait until each replica is in sync and every sentinel
    /// knows all replicas and all other sentinels (so a failover can be authorized).
    pub fn start(
        flavor: Flavor,
        replicas: usize,
        sentinels: usize,
        down_after_ms: u64,
    ) -> Topology {
        let dir = support::temp_dir();
        let master = start_server(flavor, dir.path(), &[]);
        let mport = master.port.to_string();
        let replicas: Vec<Proc> = (0..replicas)
            .map(|_| start_server(flavor, dir.path(), &["--replicaof", "127.0.0.1", &mport]))
            .collect();
        for r in &replicas {
            wait_for("replica in sync", Duration::from_secs(15), || {
                let mut c = Client::try_connect(r.port)?;
                let info = text(&mut c, &["INFO", "replication"])?;
                (info_field(&info, "master_link_status")? == "up").then_some(())
            });
        }
        let quorum = sentinels.div_ceil(2).max(1);
        let conf = format!(
            "sentinel monitor {NAME} 127.0.0.1 {mport} {quorum}\n\
             sentinel down-after-milliseconds {NAME} {down_after_ms}\n\
             sentinel failover-timeout {NAME} 10000\n\
             sentinel parallel-syncs {NAME} 5\n"
        );
        let sentinels: Vec<Proc> = (0..sentinels)
            .map(|_| start_sentinel(flavor, dir.path(), &conf))
            .collect();
        let t = Topology {
            dir,
            master,
            replicas,
            sentinels,
            flavor,
        };
        t.wait_settled(Duration::from_secs(20));
        t
    }

    /// Wait until every sentinel knows every replica and every other sentinel.
    pub fn wait_settled(&self, timeout: Duration) {
        let (nr, ns) = (self.replicas.len(), self.sentinels.len());
        wait_for("sentinels to know replicas and peers", timeout, || {
            self.sentinels
                .iter()
                .all(|s| {
                    sentinel_healthy_replicas(s.port) >= nr
                        && sentinel_count(s.port, "SENTINELS") + 1 >= ns
                })
                .then_some(())
        });
    }

    /// `127.0.0.1:P1,127.0.0.1:P2,...`
    pub fn sentinel_list(&self) -> String {
        self.sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn sentinel_addrs(&self) -> Vec<vigil::discovery::Addr> {
        self.sentinels
            .iter()
            .map(|s| vigil::discovery::Addr::new("127.0.0.1", s.port))
            .collect()
    }

    /// Wait until every sentinel names a master other than `old` and that node says
    /// it is a master; returns its port.
    pub fn wait_new_master(&self, old: u16, timeout: Duration) -> u16 {
        wait_for("failover to a new master", timeout, || {
            let ports: Vec<Option<u16>> = self
                .sentinels
                .iter()
                .map(|s| sentinel_master_port(s.port, NAME))
                .collect();
            let first = (*ports.first()?)?;
            (first != old
                && ports.iter().all(|p| *p == Some(first))
                && role(first).as_deref() == Some("master"))
            .then_some(first)
        })
    }

    /// Wait until every sentinel has ended the failover (`SENTINEL MASTER` shows
    /// `new`).
    pub fn wait_failover_end(&self, new: u16, timeout: Duration) {
        wait_for("failover end on every sentinel", timeout, || {
            self.sentinels
                .iter()
                .all(|s| sentinel_master_struct_port(s.port) == Some(new))
                .then_some(())
        });
    }

    /// The process (master or replica) listening on `port`.
    pub fn node(&mut self, port: u16) -> &mut Proc {
        if self.master.port == port {
            return &mut self.master;
        }
        self.replicas
            .iter_mut()
            .find(|r| r.port == port)
            .expect("node with that port")
    }

    /// Ask one sentinel to fail over now (no down-after wait).
    pub fn force_failover(&self) {
        let mut c = self.sentinels[0].client();
        let r = c.cmd(&["SENTINEL", "FAILOVER", NAME]);
        assert_eq!(r, Frame::ok(), "SENTINEL FAILOVER");
    }
}
