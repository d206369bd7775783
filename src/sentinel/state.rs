//! Plain data of a sentinel: global options, timers, monitored masters, their
//! replicas and peer sentinels, epochs and failover bookkeeping. No IO, no clock.

use indexmap::IndexMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cheaply clonable name (master name, replica `ip:port`, sentinel run id).
pub type Name = Arc<str>;

/// A [`Name`] from any string.
pub fn nm(s: &str) -> Name {
    Name::from(s)
}

/// FxHash (rustc's hasher): fast hashing for the sentinel's small string keys, which
/// are looked up many times per tick. Not DoS-resistant; keys come from our own
/// config and from the monitored instances.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builder for [`FxHasher`].
pub type FxBuild = BuildHasherDefault<FxHasher>;

/// Insertion-ordered map with the fast hasher.
pub type Map<K, V> = IndexMap<K, V, FxBuild>;

/// Tunable timers (`SENTINEL DEBUG`), with Redis's defaults (reference §3.1).
#[derive(Clone, Debug)]
pub struct Timers {
    pub info_period: Duration,
    pub ping_period: Duration,
    pub ask_period: Duration,
    pub publish_period: Duration,
    pub default_down_after: Duration,
    pub default_failover_timeout: Duration,
    pub tilt_trigger: Duration,
    pub tilt_period: Duration,
    pub slave_reconf_timeout: Duration,
    pub min_link_reconnect_period: Duration,
    pub election_timeout: Duration,
    pub script_max_runtime: Duration,
    pub script_retry_delay: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        let ms = Duration::from_millis;
        Timers {
            info_period: ms(10_000),
            ping_period: ms(1_000),
            ask_period: ms(1_000),
            publish_period: ms(2_000),
            default_down_after: ms(30_000),
            default_failover_timeout: ms(180_000),
            tilt_trigger: ms(2_000),
            tilt_period: ms(30_000),
            slave_reconf_timeout: ms(10_000),
            min_link_reconnect_period: ms(15_000),
            election_timeout: ms(10_000),
            script_max_runtime: ms(60_000),
            script_retry_delay: ms(30_000),
        }
    }
}

impl Timers {
    /// The `SENTINEL DEBUG` names, in Redis's reply order.
    pub const NAMES: [&'static str; 13] = [
        "info-period",
        "ping-period",
        "ask-period",
        "publish-period",
        "default-down-after",
        "default-failover-timeout",
        "tilt-trigger",
        "tilt-period",
        "slave-reconf-timeout",
        "min-link-reconnect-period",
        "election-timeout",
        "script-max-runtime",
        "script-retry-delay",
    ];

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Duration> {
        Some(match name {
            "info-period" => &mut self.info_period,
            "ping-period" => &mut self.ping_period,
            "ask-period" => &mut self.ask_period,
            "publish-period" => &mut self.publish_period,
            "default-down-after" => &mut self.default_down_after,
            "default-failover-timeout" => &mut self.default_failover_timeout,
            "tilt-trigger" => &mut self.tilt_trigger,
            "tilt-period" => &mut self.tilt_period,
            "slave-reconf-timeout" => &mut self.slave_reconf_timeout,
            "min-link-reconnect-period" => &mut self.min_link_reconnect_period,
            "election-timeout" => &mut self.election_timeout,
            "script-max-runtime" => &mut self.script_max_runtime,
            "script-retry-delay" => &mut self.script_retry_delay,
            _ => return None,
        })
    }

    pub fn get(&self, name: &str) -> Option<Duration> {
        self.clone().get_mut(name).map(|d| *d)
    }
}

/// Process-wide sentinel options.
#[derive(Clone, Debug, Default)]
pub struct Global {
    pub myid: String,
    pub current_epoch: u64,
    pub announce_ip: Option<String>,
    pub announce_port: u16,
    pub deny_scripts_reconfig: bool,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    /// How host names are resolved (the system's resolver; a table in tests).
    pub resolver: super::addr::Resolver,
    /// Our listening port (for hellos).
    pub port: u16,
    pub requirepass: Option<String>,
    pub loglevel: String,
}

/// What kind of instance a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Master,
    Replica,
    Sentinel,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Replica => "slave",
            Kind::Sentinel => "sentinel",
        }
    }
}

/// Role reported by INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Unknown,
    Master,
    Slave,
}

/// Replica reconfiguration progress during a failover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconf {
    None,
    Sent,
    InProg,
    Done,
}

/// Failover states (reference §3.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverState {
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    pub fn word(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// One monitored instance: a master, one of its replicas, or a peer sentinel (as seen
/// for that master). Times are monotonic.
#[derive(Clone, Debug)]
pub struct Instance {
    pub kind: Kind,
    /// Master: its name; replica: `ip:port`; sentinel: its run id.
    pub name: String,
    /// The same, shared (its key in the maps and in link identities).
    pub key: Name,
    /// The host as given: an IP, or a name with `resolve-hostnames yes`.
    pub ip: String,
    /// The IP `ip` resolved to when the address was created, or when a link last
    /// reached it; `None` while it never resolved (see `addr.rs`).
    pub resolved: Option<String>,
    pub port: u16,
    pub runid: String,
    pub created: Instant,
    pub down_after: Duration,

    // Link and liveness (reference §3.4-3.6).
    /// Time the oldest unanswered PING was sent (`act_ping_time`).
    pub act_ping_time: Option<Instant>,
    /// When the last PING was sent.
    pub last_ping_time: Option<Instant>,
    pub last_avail_time: Instant,
    pub last_pong_time: Option<Instant>,
    pub last_pub_time: Option<Instant>,
    pub script_kill_sent: bool,

    pub sdown_since: Option<Instant>,
    pub odown_since: Option<Instant>,
    /// Last time the instance entered SDOWN or ODOWN (never cleared, like Redis's
    /// `s_down_since_time`), for the "no down state for N ms" checks.
    pub down_mark: Option<Instant>,

    // INFO (masters and replicas).
    pub info_refresh: Option<Instant>,
    /// When the outstanding INFO was sent (none in flight when unset).
    pub info_sent: Option<Instant>,
    pub info_text: Option<String>,
    pub role_reported: Role,
    pub role_reported_time: Instant,
    pub slave_conf_change_time: Instant,
    pub master_reboot_since: Option<Instant>,
    pub master_link_down_ms: i64,
    pub master_host: Option<String>,
    pub master_port: u16,
    pub master_link_up: bool,
    pub slave_priority: i64,
    pub repl_offset: i64,
    /// `master_repl_offset` from INFO (any role).
    pub master_repl_offset: i64,
    pub replica_announced: bool,

    // Failover flags for replicas.
    pub promoted: bool,
    pub reconf: Reconf,
    pub reconf_sent_time: Option<Instant>,

    // Peer sentinel fields.
    pub last_hello: Option<Instant>,
    pub master_down: bool,
    pub last_master_down_reply: Option<Instant>,
    /// When the outstanding is-master-down-by-addr was sent.
    pub ask_sent: Option<Instant>,
    pub leader: Option<String>,
    pub leader_epoch: u64,

    /// The timer's "nothing due before" mark: `(t, gen)` says that, as long as the
    /// machine's link generation is still `gen` and the master is steady, visiting
    /// this instance before `t` would do nothing (see `Machine::handle_tick`).
    pub quiet_until: Option<(Instant, u64)>,
    /// The part of `quiet_until` that a PING reply leaves as it is (everything but
    /// the PING terms), so a reply can push the mark to the next PING at once.
    pub quiet_rest: Option<Instant>,
}

impl Instance {
    pub fn new(kind: Kind, name: String, ip: String, port: u16, now: Instant) -> Instance {
        Instance {
            kind,
            key: Name::from(name.as_str()),
            name,
            resolved: ip.parse::<std::net::IpAddr>().is_ok().then(|| ip.clone()),
            ip,
            port,
            runid: String::new(),
            created: now,
            down_after: Duration::from_secs(30),
            act_ping_time: Some(now),
            last_ping_time: None,
            last_avail_time: now,
            last_pong_time: None,
            last_pub_time: None,
            script_kill_sent: false,
            sdown_since: None,
            odown_since: None,
            down_mark: None,
            info_refresh: None,
            info_sent: None,
            info_text: None,
            role_reported: if kind == Kind::Replica {
                Role::Slave
            } else {
                Role::Master
            },
            role_reported_time: now,
            slave_conf_change_time: now,
            master_reboot_since: None,
            master_link_down_ms: 0,
            master_host: None,
            master_port: 0,
            master_link_up: false,
            slave_priority: 100,
            repl_offset: 0,
            master_repl_offset: 0,
            replica_announced: true,
            promoted: false,
            reconf: Reconf::None,
            reconf_sent_time: None,
            last_hello: None,
            master_down: false,
            last_master_down_reply: None,
            ask_sent: None,
            leader: None,
            leader_epoch: 0,
            quiet_until: None,
            quiet_rest: None,
        }
    }
}

/// `ip:port`, or `[ip]:port` for IPv6, the replica dictionary key.
pub fn addr_key(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// A monitored master with its per-master options, replicas and peers.
/// A hello payload with everything it was made from but the master's name (fixed
/// for a [`Master`]).
#[derive(Clone, Debug)]
pub struct HelloCache {
    pub ip: String,
    pub port: u16,
    pub runid: String,
    pub current_epoch: u64,
    pub master_ip: String,
    pub master_port: u16,
    pub config_epoch: u64,
    pub payload: String,
}

#[derive(Clone, Debug)]
pub struct Master {
    pub inst: Instance,
    pub quorum: u32,
    pub failover_timeout: Duration,
    pub parallel_syncs: u32,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    pub auth_user: Option<String>,
    pub auth_pass: Option<String>,
    pub master_reboot_down_after: Duration,
    pub rename_commands: Vec<(String, String)>,
    pub config_epoch: u64,
    /// This sentinel's vote for the master: leader run id and the epoch it was cast in.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub replicas: Map<String, Instance>,
    pub sentinels: Map<String, Instance>,
    pub last_ask: Option<Instant>,

    // Failover.
    pub failover_state: FailoverState,
    pub failover_epoch: u64,
    pub failover_start_time: Option<Instant>,
    pub failover_state_change_time: Instant,
    pub failover_delay_logged: bool,
    pub force_failover: bool,
    /// `SENTINEL FAILOVER` not elected yet: a split election is retried in a new
    /// epoch until then (a forced failover needs a majority for its epoch too).
    pub force_until: Option<Instant>,
    /// Key of the promoted replica while a failover runs.
    pub promoted: Option<String>,
    /// Earliest time a new election may start (randomized backoff).
    pub next_election: Option<Instant>,
    /// The timer's quiet mark for the whole master (the earliest of its instances'
    /// marks and of its peers' answers going stale), with the link generation it was
    /// taken under (see `Machine::handle_tick`).
    pub quiet_until: Option<(Instant, u64)>,
    /// Our last hello payload for this master and what it was made from: it only
    /// changes with our address, our epoch, or the master's address or config
    /// epoch (see `Machine::send_hello`).
    pub hello_cache: Option<HelloCache>,
    pub election_attempts: u32,
    /// Last time we asked the promoted replica for its role (fast promotion check).
    pub last_promotion_poll: Option<Instant>,
    /// `SENTINEL FAILOVER` with a reachable master: pause writes on it, wait until
    /// the chosen replica has its offset, then promote and demote (no write lost).
    pub coordinated: bool,
    /// When `CLIENT PAUSE` was sent to the old master.
    pub pause_sent: Option<Instant>,
    /// The old master's offset (read after the pause) the replica must reach.
    pub sync_target: Option<i64>,
}

impl Master {
    pub fn new(name: String, ip: String, port: u16, quorum: u32, t: &Timers, now: Instant) -> Self {
        let mut inst = Instance::new(Kind::Master, name, ip, port, now);
        inst.down_after = t.default_down_after;
        Master {
            inst,
            quorum,
            failover_timeout: t.default_failover_timeout,
            parallel_syncs: 1,
            notification_script: None,
            client_reconfig_script: None,
            auth_user: None,
            auth_pass: None,
            master_reboot_down_after: Duration::ZERO,
            rename_commands: Vec::new(),
            config_epoch: 0,
            leader: None,
            leader_epoch: 0,
            replicas: Map::default(),
            sentinels: Map::default(),
            last_ask: None,
            failover_state: FailoverState::None,
            failover_epoch: 0,
            failover_start_time: None,
            failover_state_change_time: now,
            failover_delay_logged: false,
            force_failover: false,
            force_until: None,
            promoted: None,
            next_election: None,
            quiet_until: None,
            hello_cache: None,
            election_attempts: 0,
            last_promotion_poll: None,
            coordinated: false,
            pause_sent: None,
            sync_target: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.inst.name
    }

    pub fn in_failover(&self) -> bool {
        self.failover_state != FailoverState::None
    }

    /// The instance whose address clients should use: the promoted replica once the
    /// failover has reached reconf-slaves (`sentinelGetCurrentMasterAddress`).
    pub fn current(&self) -> &Instance {
        if matches!(
            self.failover_state,
            FailoverState::ReconfSlaves | FailoverState::UpdateConfig
        ) {
            if let Some(p) = self.promoted.as_ref().and_then(|k| self.replicas.get(k)) {
                return p;
            }
        }
        &self.inst
    }

    /// [`Master::current`]'s address as reported ([`Global::shown`]).
    pub fn current_addr(&self, g: &Global) -> (String, u16) {
        let c = self.current();
        (g.shown(c).to_string(), c.port)
    }

    /// Translate a command name through `rename-command`.
    pub fn cmd_name(&self, name: &str) -> String {
        self.rename_commands
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(name))
            .map(|(_, to)| to.clone())
            .unwrap_or_else(|| name.to_string())
    }
}

/// Simple glob matching (`*`, `?`, `[...]`, `\`), case-sensitive unless `nocase`, as
/// Redis's `stringmatchlen`.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut i) = (0usize, 0usize);
    while p < pattern.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                for k in i..=s.len() {
                    if glob_match(&pattern[p + 1..], &s[k..], nocase) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if i >= s.len() {
                    return false;
                }
                i += 1;
            }
            b'[' => {
                if i >= s.len() {
                    return false;
                }
                p += 1;
                let not = p < pattern.len() && pattern[p] == b'^';
                if not {
                    p += 1;
                }
                let mut matched = false;
                while p < pattern.len() && pattern[p] != b']' {
                    if pattern[p] == b'\\' && p + 1 < pattern.len() {
                        p += 1;
                        if eq(pattern[p], s[i]) {
                            matched = true;
                        }
                    } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' {
                        let (mut lo, mut hi) = (pattern[p], pattern[p + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let c = s[i];
                        if (lo..=hi).contains(&c)
                            || (nocase
                                && (lo..=hi).contains(&c.to_ascii_lowercase())
                                && (lo..=hi).contains(&c.to_ascii_uppercase()))
                        {
                            matched = true;
                        }
                        p += 2;
                    } else if eq(pattern[p], s[i]) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                i += 1;
            }
            b'\\' if p + 1 < pattern.len() => {
                p += 1;
                if i >= s.len() || !eq(pattern[p], s[i]) {
                    return false;
                }
                i += 1;
            }
            c => {
                if i >= s.len() || !eq(c, s[i]) {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
    }
    i == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"my*", b"mymaster", false));
        assert!(!glob_match(b"my*", b"other", false));
        assert!(glob_match(b"m?master", b"mymaster", false));
        assert!(glob_match(b"[a-c]x", b"bx", false));
        assert!(!glob_match(b"[^a-c]x", b"bx", false));
        assert!(glob_match(b"ANN*", b"announce-ip", true));
    }

    #[test]
    fn current_addr_follows_promotion() {
        let now = Instant::now();
        let t = Timers::default();
        let mut m = Master::new("m".into(), "10.0.0.1".into(), 6379, 2, &t, now);
        let r = Instance::new(
            Kind::Replica,
            "10.0.0.2:6380".into(),
            "10.0.0.2".into(),
            6380,
            now,
        );
        m.replicas.insert(addr_key(&r.ip, r.port), r);
        m.promoted = Some("10.0.0.2:6380".into());
        m.failover_state = FailoverState::WaitPromotion;
        let g = Global::default();
        assert_eq!(m.current_addr(&g), ("10.0.0.1".to_string(), 6379));
        m.failover_state = FailoverState::ReconfSlaves;
        assert_eq!(m.current_addr(&g), ("10.0.0.2".to_string(), 6380));
    }
}
