//! Deterministic simulation of the sans-IO core: several sentinel [`Machine`]s and
//! simulated Redis servers on a simulated network with message loss, delays,
//! partitions, crashes and restarts, `SENTINEL FAILOVER`s, all driven by one seeded RNG and a virtual
//! clock. Checks: at most one leader per (master, epoch); config epochs never
//! decrease (also across restarts, which reload the persisted config); every failover
//! ends; once the network heals, all sentinels converge on one master address.

use super::addr::Resolver;
use super::config;
use super::machine::{Action, LinkKey, Machine, Tag};
use super::state::{FailoverState, Timers};
use crate::resp::Frame;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Sentinel(usize),
    Server(usize),
}

struct Server {
    ip: String,
    /// Its host name (`db1`, `db2`...), used in hostname worlds.
    name: String,
    port: u16,
    alive: bool,
    run_id: String,
    master: Option<usize>,
    /// The master's host as given to REPLICAOF (what INFO's `master_host` shows).
    master_host: String,
    offset: i64,
}

struct Sen {
    ip: String,
    port: u16,
    m: Option<Machine>,
    persisted: Vec<String>,
    /// Open links: key → (conn, target).
    links: HashMap<LinkKey, (u64, Node)>,
    last_config_epoch: u64,
    failover_since: Option<Duration>,
    /// When its timer fires next (a tick event for another time is stale: the
    /// timer was re-armed sooner, or the sentinel restarted).
    next_tick: Duration,
}

#[derive(Debug)]
enum Ev {
    Tick(usize),
    Repl,
    LinkUp(usize, LinkKey, u64, Node),
    LinkDown(usize, LinkKey, u64),
    Cmd {
        from: usize,
        key: LinkKey,
        conn: u64,
        to: Node,
        cmd: Vec<String>,
        tag: Tag,
    },
    Reply(usize, LinkKey, u64, Tag, Frame),
    Message(usize, LinkKey, u64, String),
    CrashServer(usize, Duration),
    RestartServer(usize),
    CrashSentinel(usize, Duration),
    RestartSentinel(usize),
    Partition(Vec<u8>, Duration),
    Heal,
    /// `SENTINEL FAILOVER` on a sentinel.
    Force(usize),
}

/// The simulated world.
struct World {
    rng: StdRng,
    base: Instant,
    now: Duration,
    seq: u64,
    queue: BTreeMap<(Duration, u64), Ev>,
    servers: Vec<Server>,
    sens: Vec<Sen>,
    /// Partition group per node (same group = connected).
    groups: HashMap<Node, u8>,
    loss: f64,
    faults_until: Duration,
    /// Per-connection MULTI queues on servers.
    multi: HashMap<(usize, u64), Vec<Vec<String>>>,
    leaders: HashMap<u64, String>,
    /// When each `+elected-leader` happened.
    elected_at: Vec<Duration>,
    /// Last arrival time per connection and direction: TCP keeps order.
    fifo: HashMap<(usize, LinkKey, u64, bool), Duration>,
    /// Every event, for replaying a failing seed.
    trace: Vec<String>,
    /// Every action of every sentinel, with its time, when recorded.
    actions: Option<Vec<String>>,
    /// [`Machine::skip_quiet`] for the sentinels booted in this world.
    skip_quiet: bool,
    /// A hostname world: sentinels run with `resolve-hostnames yes` (and
    /// `announce-hostnames` set to the value held here) and monitor the master by
    /// name, masters list their replicas by name, replicas follow their master by
    /// IP at first, then by whatever REPLICAOF named (so the sentinels must match
    /// names and IPs); names resolve through a table.
    hostnames: Option<bool>,
}

const MASTER: &str = "m";

fn hex40(rng: &mut StdRng) -> String {
    (0..40)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}

impl World {
    fn new(seed: u64, n_sentinels: usize) -> World {
        World::new_with(seed, n_sentinels, true)
    }

    /// A world whose sentinels skip quiet instances (`skip_quiet`) or not.
    fn new_with(seed: u64, n_sentinels: usize, skip_quiet: bool) -> World {
        World::build(seed, n_sentinels, skip_quiet, None)
    }

    /// A hostname world (see [`World::hostnames`]).
    fn new_named(seed: u64, n_sentinels: usize, announce_hostnames: bool) -> World {
        World::build(seed, n_sentinels, true, Some(announce_hostnames))
    }

    fn build(seed: u64, n_sentinels: usize, skip_quiet: bool, hostnames: Option<bool>) -> World {
        let mut rng = StdRng::seed_from_u64(seed);
        let servers: Vec<Server> = (0..3)
            .map(|i| Server {
                ip: format!("10.0.0.{}", i + 1),
                name: format!("db{}", i + 1),
                port: 6379,
                alive: true,
                run_id: hex40(&mut rng),
                master: if i == 0 { None } else { Some(0) },
                master_host: "10.0.0.1".into(),
                offset: 0,
            })
            .collect();
        let quorum = (n_sentinels / 2 + 1) as u32;
        let mut w = World {
            rng,
            base: Instant::now(),
            now: Duration::ZERO,
            seq: 0,
            queue: BTreeMap::new(),
            servers,
            sens: Vec::new(),
            groups: HashMap::new(),
            loss: 0.0,
            faults_until: Duration::ZERO,
            multi: HashMap::new(),
            leaders: HashMap::new(),
            elected_at: Vec::new(),
            fifo: HashMap::new(),
            trace: Vec::new(),
            actions: None,
            skip_quiet,
            hostnames,
        };
        for i in 0..n_sentinels {
            let myid = hex40(&mut w.rng);
            let mut persisted = vec![
                format!("sentinel myid {myid}"),
                format!("sentinel monitor {MASTER} 10.0.0.1 6379 {quorum}"),
                format!("sentinel down-after-milliseconds {MASTER} 1000"),
                format!("sentinel failover-timeout {MASTER} 5000"),
            ];
            if let Some(announce) = hostnames {
                persisted[1] = format!("sentinel monitor {MASTER} db1 6379 {quorum}");
                persisted.insert(1, "sentinel resolve-hostnames yes".into());
                if announce {
                    persisted.insert(1, "sentinel announce-hostnames yes".into());
                }
            }
            w.sens.push(Sen {
                ip: format!("10.0.1.{}", i + 1),
                port: 26379,
                m: None,
                persisted,
                links: HashMap::new(),
                last_config_epoch: 0,
                failover_since: None,
                next_tick: Duration::ZERO,
            });
            w.boot(i);
        }
        w.at(Duration::from_millis(100), Ev::Repl);
        w
    }

    /// Arm sentinel `i`'s timer `delay` from now.
    fn tick_in(&mut self, i: usize, delay: Duration) {
        self.sens[i].next_tick = self.now + delay;
        self.at(delay, Ev::Tick(i));
    }

    fn at(&mut self, delay: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), ev);
    }

    /// Delay for a message on connection `(i, key, conn)` in direction `up` that
    /// keeps per-connection order.
    fn ordered_delay(&mut self, i: usize, key: &LinkKey, conn: u64, up: bool) -> Duration {
        let d = self.net_delay();
        let slot = self
            .fifo
            .entry((i, key.clone(), conn, up))
            .or_insert(Duration::ZERO);
        let at = (self.now + d).max(*slot + Duration::from_micros(1));
        *slot = at;
        at - self.now
    }

    fn instant(&self) -> Instant {
        self.base + self.now
    }

    fn net_delay(&mut self) -> Duration {
        if self.rng.gen_bool(0.02) {
            Duration::from_millis(self.rng.gen_range(50..300))
        } else {
            Duration::from_micros(self.rng.gen_range(100..5000))
        }
    }

    fn reachable(&self, a: Node, b: Node) -> bool {
        self.groups.get(&a).copied().unwrap_or(0) == self.groups.get(&b).copied().unwrap_or(0)
    }

    fn lost(&mut self) -> bool {
        self.loss > 0.0 && self.rng.gen_bool(self.loss)
    }

    fn boot(&mut self, i: usize) {
        let text = format!("port 26379\n{}\n", self.sens[i].persisted.join("\n"));
        let resolver = Resolver::table(self.servers.iter().map(|s| (&*s.name, &*s.ip)));
        let loaded = config::parse_with(
            "sim.conf",
            &text,
            &[],
            &Timers::default(),
            self.instant(),
            resolver,
        )
        .unwrap_or_else(|e| panic!("reload failed: {e}\n{text}"));
        let seed = self.rng.gen();
        let mut m = Machine::new(loaded.global, loaded.masters, seed);
        m.skip_quiet = self.skip_quiet;
        m.start();
        let ce = m.masters.get(MASTER).map(|x| x.config_epoch).unwrap_or(0);
        assert!(
            ce >= self.sens[i].last_config_epoch,
            "config epoch went back on restart of sentinel {i}"
        );
        self.sens[i].m = Some(m);
        self.sens[i].links.clear();
        self.sens[i].failover_since = None;
        let d = Duration::from_millis(self.rng.gen_range(1..100));
        self.tick_in(i, d);
    }

    /// The server or sentinel at `host:port` (`host` an IP, or a server's name in a
    /// hostname world).
    fn resolve(&self, host: &str, port: u16) -> Option<Node> {
        if let Some(i) = self.server_at(host, port) {
            return Some(Node::Server(i));
        }
        self.sens
            .iter()
            .position(|s| s.ip == host && s.port == port)
            .map(Node::Sentinel)
    }

    fn server_at(&self, host: &str, port: u16) -> Option<usize> {
        let named = self.hostnames.is_some();
        self.servers
            .iter()
            .position(|s| (s.ip == host || (named && s.name == host)) && s.port == port)
    }

    /// How a master lists replica `s` in INFO: its IP, or its name in a hostname
    /// world (as if it ran with `replica-announce-ip <name>`).
    fn host_of(&self, s: usize) -> &str {
        let sv = &self.servers[s];
        if self.hostnames.is_some() {
            &sv.name
        } else {
            &sv.ip
        }
    }

    fn alive(&self, n: Node) -> bool {
        match n {
            Node::Server(i) => self.servers[i].alive,
            Node::Sentinel(i) => self.sens[i].m.is_some(),
        }
    }

    /// Drain a sentinel's actions, persist its state, check invariants.
    fn after_step(&mut self, i: usize) -> Result<(), String> {
        let sen = &mut self.sens[i];
        let Some(m) = sen.m.as_mut() else {
            return Ok(());
        };
        let mut actions = Vec::new();
        while let Some(a) = m.poll_action() {
            actions.push(a);
        }
        if m.take_dirty() {
            sen.persisted = config::render_state(&m.g, &m.masters);
        }
        // Something voided the marks its timer sleeps on: re-armed sooner, as the
        // driver does.
        let now = self.base + self.now;
        if let Some(t) = m.wake_request(now) {
            let at = t - self.base;
            if at < sen.next_tick {
                sen.next_tick = at;
                self.seq += 1;
                self.queue.insert((at, self.seq), Ev::Tick(i));
            }
        }
        let mm = &m.masters[MASTER];
        if mm.config_epoch < sen.last_config_epoch {
            return Err(format!("config epoch decreased on sentinel {i}"));
        }
        let (ce, state, fe) = (mm.config_epoch, mm.failover_state, mm.failover_epoch);
        let myid = m.g.myid.clone();
        self.sens[i].last_config_epoch = ce;
        if let Some(log) = self.actions.as_mut() {
            let t = self.now.as_secs_f64();
            log.extend(actions.iter().map(|a| format!("{t:>9.4}s s{i} {a:?}")));
        }
        if state == FailoverState::None {
            self.sens[i].failover_since = None;
        } else if self.sens[i].failover_since.is_none() {
            self.sens[i].failover_since = Some(self.now);
        }
        if let Some(t) = self.sens[i].failover_since {
            if self.now - t > Duration::from_secs(25) {
                return Err(format!("failover on sentinel {i} did not end ({state:?})"));
            }
        }
        for a in actions {
            match a {
                Action::Connect {
                    link,
                    conn,
                    ip,
                    port,
                    ..
                } => {
                    let target = self.resolve(&ip, port);
                    let d = self.net_delay();
                    match target {
                        Some(t) if self.alive(t) && self.reachable(Node::Sentinel(i), t) => {
                            self.at(d, Ev::LinkUp(i, link, conn, t))
                        }
                        _ => self.at(d, Ev::LinkDown(i, link, conn)),
                    }
                }
                Action::Send {
                    link,
                    conn,
                    cmd,
                    tag,
                } => {
                    let Some(&(c, to)) = self.sens[i].links.get(&link) else {
                        continue;
                    };
                    if c != conn || self.lost() || !self.reachable(Node::Sentinel(i), to) {
                        continue;
                    }
                    let d = self.ordered_delay(i, &link, conn, true);
                    self.at(
                        d,
                        Ev::Cmd {
                            from: i,
                            key: link,
                            conn,
                            to,
                            cmd,
                            tag,
                        },
                    );
                }
                Action::Close { link } => {
                    self.sens[i].links.remove(&link);
                }
                Action::Event(e) => {
                    self.trace.push(format!(
                        "{:>8.3}s s{i} {} {}",
                        self.now.as_secs_f64(),
                        e.kind,
                        e.text
                    ));
                    if e.kind == "+elected-leader" {
                        self.elected_at.push(self.now);
                        if let Some(prev) = self.leaders.insert(fe, myid.clone()) {
                            if prev != myid {
                                return Err(format!(
                                    "two leaders in epoch {fe}: {prev} and {myid}"
                                ));
                            }
                        }
                    }
                }
                Action::Log(..) | Action::ReconfigScript { .. } => {}
                Action::Exit(_) => return Err("unexpected exit".into()),
            }
        }
        Ok(())
    }

    fn info(&self, s: usize) -> String {
        let sv = &self.servers[s];
        let mut t = format!("# Server\r\nrun_id:{}\r\n# Replication\r\n", sv.run_id);
        match sv.master {
            None => {
                t.push_str("role:master\r\n");
                let mut k = 0;
                for (j, r) in self.servers.iter().enumerate() {
                    if r.alive
                        && r.master == Some(s)
                        && self.reachable(Node::Server(j), Node::Server(s))
                    {
                        t.push_str(&format!(
                            "slave{k}:ip={},port={},state=online,offset={},lag=0\r\n",
                            self.host_of(j),
                            r.port,
                            r.offset
                        ));
                        k += 1;
                    }
                }
            }
            Some(mi) => {
                let m = &self.servers[mi];
                let up = m.alive
                    && m.master.is_none()
                    && self.reachable(Node::Server(s), Node::Server(mi));
                t.push_str(&format!(
                    "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n{}slave_repl_offset:{}\r\nslave_priority:100\r\n",
                    sv.master_host,
                    m.port,
                    if up { "up" } else { "down" },
                    if up { String::new() } else { "master_link_down_since_seconds:1\r\n".into() },
                    sv.offset
                ));
            }
        }
        t
    }

    fn server_cmd(
        &mut self,
        from: usize,
        key: &LinkKey,
        conn: u64,
        s: usize,
        cmd: &[String],
    ) -> Option<Frame> {
        let name = cmd.first()?.to_ascii_uppercase();
        let slot = (s, conn ^ ((from as u64) << 48));
        if let Some(q) = self.multi.get_mut(&slot) {
            if name != "EXEC" {
                q.push(cmd.to_vec());
                return Some(Frame::simple("QUEUED"));
            }
        }
        Some(match name.as_str() {
            "PING" => Frame::simple("PONG"),
            "INFO" => Frame::bulk(self.info(s).into_bytes()),
            "MULTI" => {
                self.multi.insert(slot, Vec::new());
                Frame::ok()
            }
            "EXEC" => {
                let q = self.multi.remove(&slot).unwrap_or_default();
                for c in &q {
                    if c[0].eq_ignore_ascii_case("SLAVEOF") {
                        if c[1].eq_ignore_ascii_case("NO") {
                            self.servers[s].master = None;
                        } else {
                            let port: u16 = c[2].parse().unwrap_or(0);
                            self.servers[s].master = self.server_at(&c[1], port);
                            self.servers[s].master_host = c[1].clone();
                        }
                    }
                }
                Frame::Array(q.iter().map(|_| Frame::ok()).collect())
            }
            "PUBLISH" => {
                let payload = cmd.get(2).cloned().unwrap_or_default();
                let subs: Vec<(usize, LinkKey, u64)> = self
                    .sens
                    .iter()
                    .enumerate()
                    .flat_map(|(j, sen)| {
                        sen.links
                            .iter()
                            .filter(|(k, (_, t))| {
                                matches!(k, LinkKey::Pubsub(_)) && *t == Node::Server(s)
                            })
                            .map(move |(k, (c, _))| (j, k.clone(), *c))
                    })
                    .collect();
                let n = subs.len();
                for (j, k, c) in subs {
                    if self.reachable(Node::Sentinel(j), Node::Server(s)) && !self.lost() {
                        let d = self.ordered_delay(j, &k, c, false);
                        self.at(d, Ev::Message(j, k, c, payload.clone()));
                    }
                }
                Frame::Integer(n as i64)
            }
            _ => {
                let _ = key;
                Frame::ok()
            }
        })
    }

    fn sentinel_cmd(&mut self, j: usize, cmd: &[String]) -> Option<Frame> {
        let now = self.instant();
        let m = self.sens[j].m.as_mut()?;
        let name = cmd.first()?.to_ascii_uppercase();
        let f = match name.as_str() {
            "PING" => Frame::simple("PONG"),
            "PUBLISH" => {
                m.handle_hello(cmd.get(2)?, now);
                Frame::Integer(1)
            }
            "SENTINEL" if cmd.len() == 6 => {
                let port = cmd[3].parse().unwrap_or(-1);
                let epoch = cmd[4].parse().unwrap_or(-1);
                let f = m.is_master_down_by_addr(&cmd[2], port, epoch, &cmd[5], now);
                // Durable before the reply: persist now.
                if m.io.dirty {
                    m.io.dirty = false;
                    self.sens[j].persisted = config::render_state(&m.g, &m.masters);
                }
                f
            }
            _ => Frame::ok(),
        };
        Some(f)
    }

    fn step(&mut self) -> Result<bool, String> {
        let Some(((t, _), ev)) = self.queue.pop_first() else {
            return Ok(false);
        };
        self.now = t;
        let now = self.instant();
        match ev {
            Ev::Tick(i) if self.sens[i].next_tick != t => {}
            Ev::Tick(i) => {
                if let Some(m) = self.sens[i].m.as_mut() {
                    m.handle_tick(now);
                    let next = m.poll_timeout(now) - now;
                    self.tick_in(i, next);
                    self.after_step(i)?;
                }
            }
            Ev::Repl => {
                for s in 0..self.servers.len() {
                    if !self.servers[s].alive {
                        continue;
                    }
                    match self.servers[s].master {
                        None => self.servers[s].offset += 100,
                        Some(mi) => {
                            if self.servers[mi].alive
                                && self.servers[mi].master.is_none()
                                && self.reachable(Node::Server(s), Node::Server(mi))
                            {
                                self.servers[s].offset = self.servers[mi].offset;
                            }
                        }
                    }
                }
                self.at(Duration::from_millis(100), Ev::Repl);
            }
            Ev::LinkUp(i, key, conn, t) => {
                if self.alive(t) && self.reachable(Node::Sentinel(i), t) {
                    let peer = Some(match t {
                        Node::Server(s) => self.servers[s].ip.clone(),
                        Node::Sentinel(s) => self.sens[s].ip.clone(),
                    });
                    let sen = &mut self.sens[i];
                    if let Some(m) = sen.m.as_mut() {
                        sen.links.insert(key.clone(), (conn, t));
                        m.handle_link_up(&key, conn, Some(sen.ip.clone()), peer, now);
                        self.after_step(i)?;
                    }
                } else if let Some(m) = self.sens[i].m.as_mut() {
                    m.handle_link_down(&key, conn, "refused", now);
                    self.after_step(i)?;
                }
            }
            Ev::LinkDown(i, key, conn) => {
                let sen = &mut self.sens[i];
                if let Some(m) = sen.m.as_mut() {
                    if sen.links.get(&key).map(|l| l.0 == conn).unwrap_or(false) {
                        sen.links.remove(&key);
                    }
                    m.handle_link_down(&key, conn, "down", now);
                    self.after_step(i)?;
                }
            }
            Ev::Cmd {
                from,
                key,
                conn,
                to,
                cmd,
                tag,
            } => {
                if !self.alive(to) || self.sens[from].m.is_none() {
                    return Ok(true);
                }
                if !self.reachable(Node::Sentinel(from), to) {
                    return Ok(true);
                }
                let reply = match to {
                    Node::Server(s) => {
                        if matches!(key, LinkKey::Pubsub(_)) {
                            None
                        } else {
                            self.server_cmd(from, &key, conn, s, &cmd)
                        }
                    }
                    Node::Sentinel(j) => {
                        let r = self.sentinel_cmd(j, &cmd);
                        self.after_step(j)?;
                        r
                    }
                };
                if let Some(f) = reply {
                    if !self.lost() {
                        let d = self.ordered_delay(from, &key, conn, false);
                        self.at(d, Ev::Reply(from, key, conn, tag, f));
                    }
                }
            }
            Ev::Reply(i, key, conn, tag, f) => {
                let open = self.sens[i]
                    .links
                    .get(&key)
                    .map(|l| l.0 == conn)
                    .unwrap_or(false);
                if let (true, Some(m)) = (open, self.sens[i].m.as_mut()) {
                    m.handle_reply(&key, conn, tag, f, now);
                    self.after_step(i)?;
                }
            }
            Ev::Message(i, key, conn, payload) => {
                let open = self.sens[i]
                    .links
                    .get(&key)
                    .map(|l| l.0 == conn)
                    .unwrap_or(false);
                if let (true, Some(m)) = (open, self.sens[i].m.as_mut()) {
                    m.handle_pubsub_message(&key, conn, "__sentinel__:hello", &payload, now);
                    self.after_step(i)?;
                }
            }
            Ev::CrashServer(s, down_for) => {
                if self.servers[s].alive {
                    self.servers[s].alive = false;
                    self.drop_links_to(Node::Server(s));
                    self.at(down_for, Ev::RestartServer(s));
                }
            }
            Ev::RestartServer(s) => {
                if !self.servers[s].alive {
                    let id = hex40(&mut self.rng);
                    let sv = &mut self.servers[s];
                    sv.alive = true;
                    sv.run_id = id;
                }
            }
            Ev::CrashSentinel(i, down_for) => {
                if self.sens[i].m.is_some() {
                    self.sens[i].m = None;
                    self.sens[i].links.clear();
                    self.drop_links_to(Node::Sentinel(i));
                    self.at(down_for, Ev::RestartSentinel(i));
                }
            }
            Ev::RestartSentinel(i) => {
                if self.sens[i].m.is_none() {
                    self.boot(i);
                }
            }
            Ev::Partition(groups, dur) => {
                for (k, g) in groups.iter().enumerate() {
                    let node = if k < self.sens.len() {
                        Node::Sentinel(k)
                    } else {
                        Node::Server(k - self.sens.len())
                    };
                    self.groups.insert(node, *g);
                }
                self.at(dur, Ev::Heal);
            }
            Ev::Heal => self.groups.clear(),
            Ev::Force(i) => {
                if let Some(m) = self.sens[i].m.as_mut() {
                    let r = super::failover::manual_failover(m, MASTER, now);
                    self.trace.push(format!(
                        "{:>8.3}s s{i} SENTINEL FAILOVER: {}",
                        self.now.as_secs_f64(),
                        if r.is_ok() { "OK" } else { "refused" }
                    ));
                    // The reply waits for the flush, as in the real sentinel.
                    if m.io.dirty {
                        m.io.dirty = false;
                        self.sens[i].persisted = config::render_state(&m.g, &m.masters);
                    }
                    self.after_step(i)?;
                }
            }
        }
        Ok(true)
    }

    fn drop_links_to(&mut self, n: Node) {
        let mut downs = Vec::new();
        for (i, s) in self.sens.iter().enumerate() {
            for (k, (c, t)) in &s.links {
                if *t == n {
                    downs.push((i, k.clone(), *c));
                }
            }
        }
        // The same order on every run of a seed (the link table is a HashMap).
        downs.sort_by_cached_key(|(i, k, c)| (*i, format!("{k:?}"), *c));
        for (i, k, c) in downs {
            let d = self.net_delay();
            self.at(d, Ev::LinkDown(i, k, c));
        }
    }

    /// Schedule random faults in [0, faults_until).
    fn plan_faults(&mut self) {
        let n = self.sens.len();
        let horizon = self.faults_until.as_millis() as u64;
        let count = self.rng.gen_range(1..6);
        for _ in 0..count {
            let at = Duration::from_millis(self.rng.gen_range(2000..horizon));
            let dur = Duration::from_millis(self.rng.gen_range(500..8000));
            let ev = match self.rng.gen_range(0..5) {
                0 => Ev::CrashServer(0, dur),
                1 => Ev::CrashServer(self.rng.gen_range(0..3), dur),
                2 => Ev::CrashSentinel(self.rng.gen_range(0..n), dur),
                3 => Ev::Force(self.rng.gen_range(0..n)),
                _ => {
                    let groups: Vec<u8> = (0..n + 3).map(|_| self.rng.gen_range(0..2)).collect();
                    Ev::Partition(groups, dur)
                }
            };
            self.seq += 1;
            self.queue.insert((at, self.seq), ev);
        }
        self.loss = [0.0, 0.001, 0.01, 0.03][self.rng.gen_range(0..4)];
    }

    fn run_until(&mut self, t: Duration) -> Result<(), String> {
        while self
            .queue
            .first_key_value()
            .map(|((at, _), _)| *at <= t)
            .unwrap_or(false)
        {
            if self.now > self.faults_until && self.loss > 0.0 {
                self.loss = 0.0;
            }
            self.step()?;
        }
        self.now = t;
        Ok(())
    }

    /// Heal everything: no partitions or loss, every server and sentinel up.
    fn heal(&mut self) {
        self.groups.clear();
        self.loss = 0.0;
        for s in 0..self.servers.len() {
            if !self.servers[s].alive {
                self.at(Duration::ZERO, Ev::RestartServer(s));
            }
        }
        for i in 0..self.sens.len() {
            if self.sens[i].m.is_none() {
                self.at(Duration::ZERO, Ev::RestartSentinel(i));
            }
        }
        // Drop pending fault events.
        self.queue.retain(|_, ev| {
            !matches!(
                ev,
                Ev::CrashServer(..)
                    | Ev::CrashSentinel(..)
                    | Ev::Partition(..)
                    | Ev::Heal
                    | Ev::Force(_)
            )
        });
    }

    fn addresses(&self) -> Vec<(String, u16)> {
        self.sens
            .iter()
            .filter_map(|s| s.m.as_ref())
            .map(|m| m.masters[MASTER].current_addr(&m.g))
            .collect()
    }
}

/// Run one seed; `Err` describes the first violated invariant. `Ok` carries the
/// number of elections won.
fn run_seed(seed: u64) -> Result<usize, String> {
    let n = if seed.is_multiple_of(3) { 5 } else { 3 };
    let mut w = World::new(seed, n);
    run_world(&mut w)
}

/// The faults, healing and convergence check of [`run_seed`] on a given world.
fn run_world(w: &mut World) -> Result<usize, String> {
    w.faults_until = Duration::from_secs(25);
    w.plan_faults();
    w.run_until(Duration::from_secs(25))?;
    w.heal();
    // Converge within a bound after healing.
    let bound = Duration::from_secs(60);
    let mut t = Duration::from_secs(25);
    loop {
        t += Duration::from_secs(1);
        w.run_until(t)?;
        let addrs = w.addresses();
        let agree = addrs.windows(2).all(|p| p[0] == p[1]);
        let quiet = w
            .sens
            .iter()
            .filter_map(|s| s.m.as_ref())
            .all(|m| !m.masters[MASTER].in_failover());
        if agree && quiet && t > Duration::from_secs(30) {
            return Ok(w.leaders.len());
        }
        if t > Duration::from_secs(25) + bound {
            return Err(format!("no convergence after healing: {addrs:?}"));
        }
    }
}

#[test]
fn simulation_invariants_hold_over_many_seeds() {
    let seeds: u64 = std::env::var("VIGIL_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let first: u64 = std::env::var("VIGIL_SIM_FIRST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut failures = Vec::new();
    let mut with_failover = 0;
    for seed in first..first + seeds {
        match run_seed(seed) {
            Ok(n) => with_failover += usize::from(n > 0),
            Err(e) => {
                eprintln!(
                    "seed {seed} failed: {e} (replay: VIGIL_SIM_FIRST={seed} VIGIL_SIM_SEEDS=1)"
                );
                failures.push(seed);
            }
        }
    }
    eprintln!("{seeds} seeds, {with_failover} with at least one failover");
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    // The schedules must actually exercise failovers.
    assert!(
        with_failover * 5 >= seeds as usize,
        "only {with_failover} seeds failed over"
    );
}

/// Passing over quiet instances in the timer changes nothing: over seeds with
/// crashes, partitions, message loss and failovers, sentinels that skip and
/// sentinels that visit every instance on every tick take exactly the same actions
/// at exactly the same times (every command, link, event, log line).
#[test]
fn skipping_quiet_instances_changes_no_action() {
    for seed in 1..=40u64 {
        let run = |skip: bool| {
            let n = if seed.is_multiple_of(3) { 5 } else { 3 };
            let mut w = World::new_with(seed, n, skip);
            w.actions = Some(Vec::new());
            let r = run_world(&mut w);
            (r, w.actions.take().unwrap_or_default())
        };
        let (r1, a1) = run(true);
        let (r2, a2) = run(false);
        assert_eq!(r1, r2, "seed {seed}");
        assert!(
            a1.len() > 500,
            "seed {seed}: only {} actions ({r1:?})",
            a1.len()
        );
        if let Some(k) = (0..a1.len().min(a2.len())).find(|&k| a1[k] != a2[k]) {
            panic!(
                "seed {seed}: action {k} differs\n skipping: {}\n visiting: {}",
                a1[k], a2[k]
            );
        }
        assert_eq!(a1.len(), a2.len(), "seed {seed}");
    }
}

#[test]
fn simulated_master_crash_fails_over_once() {
    let mut w = World::new(42, 3);
    w.run_until(Duration::from_secs(5)).unwrap();
    w.at(Duration::ZERO, Ev::CrashServer(0, Duration::from_secs(30)));
    w.run_until(Duration::from_secs(15)).unwrap();
    let addrs = w.addresses();
    assert!(
        addrs.iter().all(|a| a == &addrs[0] && a.0 != "10.0.0.1"),
        "{addrs:?}"
    );
    assert_eq!(
        w.leaders.len(),
        1,
        "exactly one election won: {:?}",
        w.leaders
    );
    let new_master = w.servers.iter().position(|s| s.ip == addrs[0].0).unwrap();
    assert_eq!(w.servers[new_master].master, None);
    let other = 3 - new_master;
    assert_eq!(
        w.servers[other].master,
        Some(new_master),
        "other replica repointed"
    );
    // The old master returns and is converted.
    w.run_until(Duration::from_secs(50)).unwrap();
    assert_eq!(
        w.servers[0].master,
        Some(new_master),
        "old master converted"
    );
}

/// Two (or three) sentinels get `SENTINEL FAILOVER` at the same instant while the
/// master is unreachable and before ODOWN: they must not both take the same epoch
/// (reference §7.5), and everything still converges on one master.
#[test]
fn simultaneous_forced_failovers_never_share_an_epoch() {
    let mut failures = Vec::new();
    let mut completed = 0;
    for seed in 1..=200u64 {
        let n = [2, 3, 5][(seed % 3) as usize];
        let mut w = World::new(seed, n);
        let r = (|| -> Result<(), String> {
            w.run_until(Duration::from_secs(5))?;
            w.at(Duration::ZERO, Ev::CrashServer(0, Duration::from_secs(60)));
            w.run_until(Duration::from_millis(5300))?;
            let k = if seed % 2 == 0 { 2 } else { n.min(3) };
            for i in 0..k {
                w.at(Duration::ZERO, Ev::Force(i));
            }
            let mut t = Duration::from_millis(5300);
            loop {
                t += Duration::from_millis(500);
                w.run_until(t)?;
                let addrs = w.addresses();
                let agree = addrs.windows(2).all(|p| p[0] == p[1]) && addrs[0].0 != "10.0.0.1";
                let quiet = w
                    .sens
                    .iter()
                    .filter_map(|s| s.m.as_ref())
                    .all(|m| !m.masters[MASTER].in_failover());
                if agree && quiet {
                    return Ok(());
                }
                if t > Duration::from_secs(40) {
                    return Err(format!("no convergence: {addrs:?}"));
                }
            }
        })();
        match r {
            // The forced failover itself won (a split vote is retried at once),
            // before the ODOWN-driven one could start (down-after is 1 s).
            Ok(()) if w.elected_at.first() < Some(&Duration::from_millis(6000)) => completed += 1,
            Ok(()) => eprintln!("seed {seed} ({n} sentinels): no forced failover won"),
            Err(e) => {
                eprintln!("seed {seed} ({n} sentinels) failed: {e}");
                for l in w.trace.iter().rev().take(40).rev() {
                    eprintln!("  {l}");
                }
                failures.push(seed);
            }
        }
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    assert_eq!(completed, 200);
}

/// Hostname worlds (`resolve-hostnames yes`, the master monitored as `db1`, replicas
/// listed by name, following by IP or by name): the invariants and the
/// convergence after faults hold as with IPs, and every sentinel reports the
/// master by IP with `announce-hostnames no` and by name with `yes` (before and
/// after failovers, whose `+switch-master`, hellos and REPLICAOF use those forms).
#[test]
fn hostname_worlds_hold_invariants_and_report_as_announced() {
    let mut failures = Vec::new();
    // Seeds that failed over, with announce-hostnames no and yes.
    let mut with_failover = [0usize; 2];
    let seeds = 300u64;
    for seed in 1..=seeds {
        let announce = seed.is_multiple_of(2);
        let n = if seed.is_multiple_of(3) { 5 } else { 3 };
        let mut w = World::new_named(seed, n, announce);
        let r = run_world(&mut w).and_then(|k| {
            let addrs = w.addresses();
            let prefix = if announce { "db" } else { "10.0.0." };
            if addrs.iter().all(|(h, _)| h.starts_with(prefix)) {
                Ok(k)
            } else {
                Err(format!("announce-hostnames {announce}: reported {addrs:?}"))
            }
        });
        match r {
            Ok(k) => with_failover[usize::from(announce)] += usize::from(k > 0),
            Err(e) => {
                eprintln!("hostname seed {seed} failed: {e}");
                failures.push(seed);
            }
        }
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    // Each half must fail over (the peers' IS-MASTER-DOWN-BY-ADDR finds the master).
    assert!(
        with_failover.iter().all(|&k| k * 10 >= seeds as usize),
        "seeds that failed over (announce no, yes): {with_failover:?}"
    );
}

/// A hostname world loses its master: one failover, every sentinel reports the
/// new master as announced (IP or name), the replicas and the returning old master
/// follow it, and no replica is ever "fixed" (its `master_host`, an IP or a name,
/// matches the master it follows) nor the switch announced twice.
#[test]
fn hostname_world_master_crash_fails_over_once() {
    for announce in [false, true] {
        let mut w = World::new_named(42, 3, announce);
        w.actions = Some(Vec::new());
        w.run_until(Duration::from_secs(5)).unwrap();
        w.at(Duration::ZERO, Ev::CrashServer(0, Duration::from_secs(20)));
        w.run_until(Duration::from_secs(15)).unwrap();
        let addrs = w.addresses();
        let (new_ip, new_name) = if addrs[0].0.ends_with('2') {
            ("10.0.0.2", "db2")
        } else {
            ("10.0.0.3", "db3")
        };
        let shown = if announce { new_name } else { new_ip };
        assert!(addrs.iter().all(|a| a.0 == shown), "{announce}: {addrs:?}");
        assert_eq!(w.leaders.len(), 1, "{announce}: {:?}", w.leaders);
        let new_master = w.servers.iter().position(|s| s.ip == new_ip).unwrap();
        assert_eq!(w.servers[new_master].master, None);
        assert_eq!(w.servers[3 - new_master].master, Some(new_master));
        // The old master returns (at 25 s) and is converted.
        w.run_until(Duration::from_secs(60)).unwrap();
        assert_eq!(w.servers[0].master, Some(new_master), "{announce}");
        let actions = w.actions.take().unwrap_or_default();
        let count = |what: &str| actions.iter().filter(|a| a.contains(what)).count();
        assert_eq!(count("kind: \"+switch-master\""), 3, "{announce}");
        assert_eq!(count("+fix-slave-config"), 0, "{announce}");
        let old = if announce { "db1" } else { "10.0.0.1" };
        let switch = format!("text: \"m {old} 6379 {shown} 6379\"");
        assert_eq!(count(&switch), 3, "{announce}: {switch}");
    }
}
