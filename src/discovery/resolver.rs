//! The resolve procedure of the Sentinel client guidelines: ask sentinels in order
//! (short timeouts, the first that answers moves to the front), `SENTINEL
//! GET-MASTER-ADDR-BY-NAME`, verify with `ROLE` (retry after a pause when the role is
//! wrong), refresh the sentinel list with `SENTINEL SENTINELS`, list healthy replicas
//! with `SENTINEL REPLICAS`. Nothing is cached: every call asks the sentinels again.

use parking_lot::Mutex;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

use super::link::{Link, LinkError};
use super::{Addr, DiscoveryError, SentinelFailure};
use crate::resp::Frame;

/// Timeouts and retry knobs of the resolve procedure.
#[derive(Clone, Debug)]
pub struct DiscoveryConfig {
    /// TCP connect timeout to one sentinel or node ("a few hundred milliseconds").
    pub connect_timeout: Duration,
    /// How long to wait for one reply.
    pub io_timeout: Duration,
    /// How many times to resolve in all when `ROLE` disagrees (at least 1).
    pub attempts: u32,
    /// Pause before resolving again after a wrong role.
    pub retry_pause: Duration,
    /// Append sentinels learnt from `SENTINEL SENTINELS` to the list.
    pub refresh_sentinels: bool,
    /// Check each replica with `ROLE` before listing it as usable.
    pub verify_replicas: bool,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            connect_timeout: Duration::from_millis(300),
            io_timeout: Duration::from_millis(1000),
            attempts: 3,
            retry_pause: Duration::from_millis(250),
            refresh_sentinels: true,
            verify_replicas: true,
        }
    }
}

/// The role a node reports with `ROLE` (or `INFO replication`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    Master {
        offset: i64,
    },
    #[serde(rename = "slave")]
    Replica {
        master: Option<Addr>,
        state: String,
    },
    Sentinel,
    Other {
        name: String,
    },
}

impl Role {
    pub fn name(&self) -> &str {
        match self {
            Role::Master { .. } => "master",
            Role::Replica { .. } => "slave",
            Role::Sentinel => "sentinel",
            Role::Other { name } => name,
        }
    }
}

/// One replica as a sentinel describes it in `SENTINEL REPLICAS`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaInfo {
    pub addr: Addr,
    pub flags: Vec<String>,
    pub master_link_status: Option<String>,
    pub offset: Option<i64>,
    pub priority: Option<i64>,
}

impl ReplicaInfo {
    /// Not flagged `s_down`, `o_down` or `disconnected` (what go-redis and Lettuce skip).
    pub fn is_healthy(&self) -> bool {
        !self
            .flags
            .iter()
            .any(|f| matches!(f.as_str(), "s_down" | "o_down" | "disconnected"))
    }
}

/// Where a master was found: the address, and which sentinel said so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MasterInfo {
    pub addr: Addr,
    pub sentinel: Addr,
}

struct Shared {
    name: String,
    sentinels: Mutex<Vec<Addr>>,
    cfg: DiscoveryConfig,
}

/// Finds the current master (and replicas) of one monitored name through a list of
/// sentinels. Cheap to clone; clones share the (reordered, refreshed) sentinel list.
#[derive(Clone)]
pub struct Discovery {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("name", &self.shared.name)
            .field("sentinels", &*self.shared.sentinels.lock())
            .finish()
    }
}

/// A boxed, sendable future (the per-sentinel question).
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Outcome of asking the sentinels one question.
enum Asked<T> {
    Found(Addr, T),
    NotFound {
        answered: usize,
        failures: Vec<SentinelFailure>,
    },
}

impl Discovery {
    /// Discovery of master `name` through `sentinels`, with default timeouts.
    pub fn new(name: impl Into<String>, sentinels: Vec<Addr>) -> Result<Discovery, DiscoveryError> {
        Discovery::with_config(name, sentinels, DiscoveryConfig::default())
    }

    pub fn with_config(
        name: impl Into<String>,
        sentinels: Vec<Addr>,
        cfg: DiscoveryConfig,
    ) -> Result<Discovery, DiscoveryError> {
        if sentinels.is_empty() {
            return Err(DiscoveryError::NoSentinels);
        }
        let mut uniq: Vec<Addr> = Vec::new();
        for s in sentinels {
            if !uniq.contains(&s) {
                uniq.push(s);
            }
        }
        Ok(Discovery {
            shared: Arc::new(Shared {
                name: name.into(),
                sentinels: Mutex::new(uniq),
                cfg,
            }),
        })
    }

    /// From a `HOST:PORT[,HOST:PORT...]` string.
    pub fn parse(name: impl Into<String>, sentinels: &str) -> Result<Discovery, DiscoveryError> {
        Discovery::new(name, Addr::parse_list(sentinels)?)
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn config(&self) -> &DiscoveryConfig {
        &self.shared.cfg
    }

    /// The sentinel list in its current order (the last that answered first).
    pub fn sentinels(&self) -> Vec<Addr> {
        self.shared.sentinels.lock().clone()
    }

    async fn link(&self, addr: &Addr) -> Result<Link, LinkError> {
        let c = &self.shared.cfg;
        Link::connect(addr, c.connect_timeout, c.io_timeout).await
    }

    fn promote(&self, sentinel: &Addr) {
        let mut list = self.shared.sentinels.lock();
        if let Some(i) = list.iter().position(|a| a == sentinel) {
            if i > 0 {
                let s = list.remove(i);
                list.insert(0, s);
            }
        }
    }

    fn add_sentinels(&self, found: Vec<Addr>) -> usize {
        let mut list = self.shared.sentinels.lock();
        let mut added = 0;
        for a in found {
            if !list.contains(&a) {
                tracing::debug!(sentinel = %a, "learnt a new sentinel");
                list.push(a);
                added += 1;
            }
        }
        added
    }

    /// Walk the sentinels in order; `ask` returns `Ok(Some(x))` for an answer,
    /// `Ok(None)` for "this sentinel does not know the master", `Err` for a failure.
    /// The first sentinel that answers is moved to the front.
    async fn ask<T, F>(&self, mut ask: F) -> Asked<(T, Link)>
    where
        F: for<'a> FnMut(&'a mut Link) -> BoxFuture<'a, Result<Option<T>, String>>,
    {
        let mut failures = Vec::new();
        let mut answered = 0;
        for s in self.sentinels() {
            let mut link = match self.link(&s).await {
                Ok(l) => l,
                Err(e) => {
                    failures.push(SentinelFailure {
                        sentinel: s,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            match ask(&mut link).await {
                Ok(Some(v)) => {
                    self.promote(&s);
                    return Asked::Found(s, (v, link));
                }
                Ok(None) => answered += 1,
                Err(reason) => failures.push(SentinelFailure {
                    sentinel: s,
                    reason,
                }),
            }
        }
        Asked::NotFound { answered, failures }
    }

    fn not_found(&self, answered: usize, failures: Vec<SentinelFailure>) -> DiscoveryError {
        let name = self.shared.name.clone();
        if answered == 0 {
            DiscoveryError::NoSentinelReachable { name, failures }
        } else {
            DiscoveryError::MasterUnknown {
                name,
                answered,
                failures,
            }
        }
    }

    /// Steps 1 and 2 only: what the sentinels say, without the `ROLE` check.
    pub async fn ask_master(&self) -> Result<MasterInfo, DiscoveryError> {
        let name = self.shared.name.clone();
        let asked = self
            .ask(|link| {
                let name = name.clone();
                Box::pin(async move {
                    let reply = link
                        .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &name])
                        .await
                        .map_err(|e| e.to_string())?;
                    parse_master_addr(reply)
                })
            })
            .await;
        match asked {
            Asked::Found(sentinel, (addr, mut link)) => {
                if self.shared.cfg.refresh_sentinels {
                    self.refresh_on(&mut link).await;
                }
                Ok(MasterInfo { addr, sentinel })
            }
            Asked::NotFound { answered, failures } => Err(self.not_found(answered, failures)),
        }
    }

    /// `SENTINEL SENTINELS <name>` on an open link; new entries are appended.
    async fn refresh_on(&self, link: &mut Link) -> usize {
        match link
            .call(&["SENTINEL", "SENTINELS", &self.shared.name])
            .await
        {
            Ok(reply) => {
                self.add_sentinels(instance_maps(reply).iter().filter_map(map_addr).collect())
            }
            Err(e) => {
                tracing::debug!(sentinel = %link.addr, error = %e, "SENTINEL SENTINELS failed");
                0
            }
        }
    }

    /// Refresh the sentinel list from the first sentinel that knows the master.
    /// Returns how many sentinels were added.
    pub async fn refresh_sentinels(&self) -> Result<usize, DiscoveryError> {
        let name = self.shared.name.clone();
        let asked = self
            .ask(|link| {
                let name = name.clone();
                Box::pin(async move {
                    let reply = link
                        .call(&["SENTINEL", "SENTINELS", &name])
                        .await
                        .map_err(|e| e.to_string())?;
                    known_or_not(reply).map(|o| o.map(instance_maps))
                })
            })
            .await;
        match asked {
            Asked::Found(_, (maps, _)) => {
                Ok(self.add_sentinels(maps.iter().filter_map(map_addr).collect()))
            }
            Asked::NotFound { answered, failures } => Err(self.not_found(answered, failures)),
        }
    }

    /// The full resolve: ask the sentinels, then check `ROLE` on the answer; when the
    /// node is not a master (or does not answer), pause and start again, up to
    /// `attempts` times.
    pub async fn master(&self) -> Result<MasterInfo, DiscoveryError> {
        let cfg = &self.shared.cfg;
        let attempts = cfg.attempts.max(1);
        let mut last: Option<(Addr, String)> = None;
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(cfg.retry_pause).await;
            }
            let info = self.ask_master().await?;
            match self.role(&info.addr).await {
                Ok(Role::Master { .. }) => return Ok(info),
                Ok(other) => {
                    tracing::debug!(addr = %info.addr, role = other.name(), "sentinel answer is not a master yet");
                    last = Some((info.addr, format!("ROLE is {}", other.name())));
                }
                Err(e) => {
                    tracing::debug!(addr = %info.addr, error = %e, "ROLE check failed");
                    last = Some((info.addr, e.to_string()));
                }
            }
        }
        let (addr, reason) = last.unwrap_or_else(|| (Addr::new("?", 1), "no attempt".into()));
        Err(DiscoveryError::MasterNotConfirmed {
            name: self.shared.name.clone(),
            addr,
            attempts,
            reason,
        })
    }

    /// `ROLE` on a node, falling back to `INFO replication` when `ROLE` is refused.
    pub async fn role(&self, addr: &Addr) -> Result<Role, LinkError> {
        let mut link = self.link(addr).await?;
        let reply = link.call(&["ROLE"]).await?;
        if let Some(role) = parse_role(&reply) {
            return Ok(role);
        }
        if let Frame::Error(e) = &reply {
            tracing::debug!(%addr, error = %e, "ROLE refused, trying INFO replication");
        }
        let info = link.call(&["INFO", "replication"]).await?;
        if let Frame::Error(e) = &info {
            return Err(LinkError::Protocol(e.clone()));
        }
        info.as_text()
            .and_then(|t| parse_info_role(&t))
            .ok_or_else(|| LinkError::Protocol(format!("unexpected ROLE reply {reply:?}")))
    }

    /// Every replica the sentinels list, healthy or not, from the first sentinel that
    /// knows the master.
    pub async fn all_replicas(&self) -> Result<Vec<ReplicaInfo>, DiscoveryError> {
        let name = self.shared.name.clone();
        let asked = self
            .ask(|link| {
                let name = name.clone();
                Box::pin(async move {
                    let reply = link
                        .call(&["SENTINEL", "REPLICAS", &name])
                        .await
                        .map_err(|e| e.to_string())?;
                    known_or_not(reply).map(|o| {
                        o.map(|f| instance_maps(f).iter().filter_map(replica_info).collect())
                    })
                })
            })
            .await;
        match asked {
            Asked::Found(_, (v, _)) => Ok(v),
            Asked::NotFound { answered, failures } => Err(self.not_found(answered, failures)),
        }
    }

    /// Usable replicas: not `s_down`/`o_down`/`disconnected` at the sentinel and, when
    /// `verify_replicas` is on, `ROLE` says `slave`.
    pub async fn replicas(&self) -> Result<Vec<ReplicaInfo>, DiscoveryError> {
        let mut out = Vec::new();
        for r in self.all_replicas().await? {
            if !r.is_healthy() {
                continue;
            }
            if self.shared.cfg.verify_replicas {
                match self.role(&r.addr).await {
                    Ok(Role::Replica { .. }) => {}
                    Ok(other) => {
                        tracing::debug!(addr = %r.addr, role = other.name(), "listed replica is not a replica");
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(addr = %r.addr, error = %e, "replica ROLE check failed");
                        continue;
                    }
                }
            }
            out.push(r);
        }
        Ok(out)
    }
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME` reply: `[ip, port]`, or a null (unknown name).
/// The old `-IDONTKNOW` error also means "unknown".
pub fn parse_master_addr(reply: Frame) -> Result<Option<Addr>, String> {
    match reply {
        Frame::Null | Frame::NullArray => Ok(None),
        Frame::Error(e) if e.starts_with("IDONTKNOW") => Ok(None),
        Frame::Error(e) => Err(e),
        Frame::Array(items) if items.len() == 2 => {
            let host = items[0].as_text().ok_or("bad host in reply")?;
            let port = items[1]
                .as_int()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p != 0)
                .ok_or("bad port in reply")?;
            Ok(Some(Addr::new(host, port)))
        }
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// `-ERR No such master with that name` means "not known here".
fn known_or_not(reply: Frame) -> Result<Option<Frame>, String> {
    match reply {
        Frame::Error(e) if e.contains("No such master") => Ok(None),
        Frame::Error(e) => Err(e),
        f => Ok(Some(f)),
    }
}

/// An instance description (`SENTINEL MASTERS/REPLICAS/SENTINELS` entries) as
/// field/value pairs: a flat array in RESP2, a map in RESP3.
pub type InstanceMap = Vec<(String, String)>;

/// The entries of a `SENTINEL REPLICAS`/`SENTINELS` reply.
pub fn instance_maps(reply: Frame) -> Vec<InstanceMap> {
    let Some(items) = reply.into_items() else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|entry| {
            let flat = entry.into_items()?;
            let mut map = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                map.push((k.as_text()?, v.as_text().unwrap_or_default()));
            }
            Some(map)
        })
        .collect()
}

fn field<'a>(m: &'a InstanceMap, k: &str) -> Option<&'a str> {
    m.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

fn map_addr(m: &InstanceMap) -> Option<Addr> {
    let host = field(m, "ip")?;
    let port: u16 = field(m, "port")?.parse().ok()?;
    (port != 0 && !host.is_empty()).then(|| Addr::new(host, port))
}

fn replica_info(m: &InstanceMap) -> Option<ReplicaInfo> {
    Some(ReplicaInfo {
        addr: map_addr(m)?,
        flags: field(m, "flags")
            .unwrap_or("")
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        master_link_status: field(m, "master-link-status").map(str::to_string),
        offset: field(m, "slave-repl-offset").and_then(|v| v.parse().ok()),
        priority: field(m, "slave-priority").and_then(|v| v.parse().ok()),
    })
}

/// `ROLE` reply: `[master, offset, [...]]`, `[slave, ip, port, state, offset]`,
/// `[sentinel, [...]]`. `None` for anything else (an error included).
pub fn parse_role(reply: &Frame) -> Option<Role> {
    let Frame::Array(items) = reply else {
        return None;
    };
    let kind = items.first()?.as_text()?;
    Some(match kind.as_str() {
        "master" => Role::Master {
            offset: items.get(1).and_then(Frame::as_int).unwrap_or(0),
        },
        "slave" | "replica" => {
            let host = items.get(1).and_then(Frame::as_text);
            let port = items
                .get(2)
                .and_then(Frame::as_int)
                .and_then(|p| u16::try_from(p).ok());
            Role::Replica {
                master: host.zip(port).map(|(h, p)| Addr::new(h, p)),
                state: items.get(3).and_then(Frame::as_text).unwrap_or_default(),
            }
        }
        "sentinel" => Role::Sentinel,
        other => Role::Other {
            name: other.to_string(),
        },
    })
}

/// `role:` of an `INFO replication` text.
pub fn parse_info_role(info: &str) -> Option<Role> {
    let get = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    };
    Some(match get("role")?.as_str() {
        "master" => Role::Master {
            offset: get("master_repl_offset")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        },
        "slave" => Role::Replica {
            master: get("master_host")
                .zip(get("master_port").and_then(|p| p.parse().ok()))
                .map(|(h, p)| Addr::new(h, p)),
            state: get("master_link_status").unwrap_or_default(),
        },
        other => Role::Other {
            name: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::bulk_str(s)
    }

    #[test]
    fn master_addr_reply_shapes() {
        let r = Frame::Array(vec![bulk("10.0.0.1"), bulk("6380")]);
        assert_eq!(parse_master_addr(r), Ok(Some(Addr::new("10.0.0.1", 6380))));
        assert_eq!(parse_master_addr(Frame::NullArray), Ok(None));
        assert_eq!(parse_master_addr(Frame::Null), Ok(None));
        assert_eq!(
            parse_master_addr(Frame::Error("IDONTKNOW no idea".into())),
            Ok(None)
        );
        assert!(parse_master_addr(Frame::Error("NOAUTH x".into())).is_err());
        assert!(parse_master_addr(Frame::Array(vec![bulk("h"), bulk("x")])).is_err());
        assert!(parse_master_addr(Frame::Integer(3)).is_err());
    }

    #[test]
    fn replicas_from_resp2_and_resp3() {
        let entry = |ip: &str, port: &str, flags: &str| {
            vec![
                bulk("name"),
                bulk(&format!("{ip}:{port}")),
                bulk("ip"),
                bulk(ip),
                bulk("port"),
                bulk(port),
                bulk("flags"),
                bulk(flags),
                bulk("master-link-status"),
                bulk("ok"),
                bulk("slave-repl-offset"),
                bulk("1234"),
            ]
        };
        let resp2 = Frame::Array(vec![
            Frame::Array(entry("127.0.0.1", "7001", "slave")),
            Frame::Array(entry("127.0.0.1", "7002", "s_down,slave,disconnected")),
        ]);
        let v: Vec<ReplicaInfo> = instance_maps(resp2)
            .iter()
            .filter_map(replica_info)
            .collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].addr, Addr::new("127.0.0.1", 7001));
        assert_eq!(v[0].offset, Some(1234));
        assert!(v[0].is_healthy());
        assert!(!v[1].is_healthy());
        let as_map = |flat: Vec<Frame>| {
            let mut it = flat.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Frame::Map(pairs)
        };
        let resp3 = Frame::Array(vec![as_map(entry("::1", "7003", "slave,o_down"))]);
        let v: Vec<ReplicaInfo> = instance_maps(resp3)
            .iter()
            .filter_map(replica_info)
            .collect();
        assert_eq!(v[0].addr, Addr::new("::1", 7003));
        assert!(!v[0].is_healthy());
    }

    #[test]
    fn role_replies() {
        let m = Frame::Array(vec![
            bulk("master"),
            Frame::Integer(42),
            Frame::Array(vec![]),
        ]);
        assert_eq!(parse_role(&m), Some(Role::Master { offset: 42 }));
        let s = Frame::Array(vec![
            bulk("slave"),
            bulk("127.0.0.1"),
            Frame::Integer(6379),
            bulk("connected"),
            Frame::Integer(7),
        ]);
        assert_eq!(
            parse_role(&s),
            Some(Role::Replica {
                master: Some(Addr::new("127.0.0.1", 6379)),
                state: "connected".into()
            })
        );
        let se = Frame::Array(vec![bulk("sentinel"), Frame::Array(vec![bulk("m")])]);
        assert_eq!(parse_role(&se), Some(Role::Sentinel));
        assert_eq!(
            parse_role(&Frame::Error("ERR unknown command".into())),
            None
        );
        let info = "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.2\r\nmaster_port:6379\r\nmaster_link_status:up\r\n";
        assert_eq!(
            parse_info_role(info),
            Some(Role::Replica {
                master: Some(Addr::new("10.0.0.2", 6379)),
                state: "up".into()
            })
        );
        assert_eq!(
            parse_info_role("role:master\r\n"),
            Some(Role::Master { offset: 0 })
        );
        assert_eq!(parse_info_role("nothing"), None);
    }
}
