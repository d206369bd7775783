//! The sentinel's decisions, sans-IO. Observations come in through `handle_*`
//! methods together with `now` (a link came up or went down, a reply arrived, a hello
//! arrived, the timer ticked); the machine updates its state and queues [`Action`]s
//! that the driver drains with [`Machine::poll_action`]. It never touches a socket or
//! the clock, so whole clusters of machines can be simulated deterministically.

use super::events::{instance_event, plain_event, Event, Level};
use super::hello::{Hello, HelloRef};
use super::info::parse_info;
use super::state::*;
use crate::resp::Frame;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Identity of one monitored instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Inst {
    Master(Name),
    /// Master name, replica `ip:port` key.
    Replica(Name, Name),
    /// Master name, sentinel run id.
    Sentinel(Name, Name),
}

impl Inst {
    pub fn master(&self) -> &str {
        match self {
            Inst::Master(m) | Inst::Replica(m, _) | Inst::Sentinel(m, _) => m,
        }
    }
}

/// A connection the sentinel keeps: command and pub/sub links per master/replica,
/// one command link per peer sentinel (shared across masters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkKey {
    Cmd(Inst),
    Pubsub(Inst),
    Peer(Name),
}

/// A borrowed [`Inst`]: looks links up without touching the names' reference
/// counts (the tick visits every instance ten times a second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstRef<'a> {
    Master(&'a str),
    Replica(&'a str, &'a str),
    Sentinel(&'a str, &'a str),
}

/// A borrowed [`LinkKey`]; hashes exactly like the owned key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKeyRef<'a> {
    Cmd(InstRef<'a>),
    Pubsub(InstRef<'a>),
    Peer(&'a str),
}

impl Inst {
    pub fn as_ref(&self) -> InstRef<'_> {
        match self {
            Inst::Master(m) => InstRef::Master(m),
            Inst::Replica(m, k) => InstRef::Replica(m, k),
            Inst::Sentinel(m, r) => InstRef::Sentinel(m, r),
        }
    }
}

impl InstRef<'_> {
    pub fn to_owned(self) -> Inst {
        match self {
            InstRef::Master(m) => Inst::Master(nm(m)),
            InstRef::Replica(m, k) => Inst::Replica(nm(m), nm(k)),
            InstRef::Sentinel(m, r) => Inst::Sentinel(nm(m), nm(r)),
        }
    }
}

impl LinkKey {
    pub fn as_ref(&self) -> LinkKeyRef<'_> {
        match self {
            LinkKey::Cmd(i) => LinkKeyRef::Cmd(i.as_ref()),
            LinkKey::Pubsub(i) => LinkKeyRef::Pubsub(i.as_ref()),
            LinkKey::Peer(r) => LinkKeyRef::Peer(r),
        }
    }
}

impl std::hash::Hash for LinkKeyRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let inst = |i: &InstRef<'_>, h: &mut H| match *i {
            InstRef::Master(m) => {
                h.write_u8(0);
                m.hash(h);
            }
            InstRef::Replica(m, k) => {
                h.write_u8(1);
                m.hash(h);
                k.hash(h);
            }
            InstRef::Sentinel(m, r) => {
                h.write_u8(2);
                m.hash(h);
                r.hash(h);
            }
        };
        match self {
            LinkKeyRef::Cmd(i) => {
                h.write_u8(0);
                inst(i, h);
            }
            LinkKeyRef::Pubsub(i) => {
                h.write_u8(1);
                inst(i, h);
            }
            LinkKeyRef::Peer(r) => {
                h.write_u8(2);
                r.hash(h);
            }
        }
    }
}

impl std::hash::Hash for LinkKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_ref().hash(h)
    }
}

impl indexmap::Equivalent<LinkKey> for LinkKeyRef<'_> {
    fn equivalent(&self, key: &LinkKey) -> bool {
        *self == key.as_ref()
    }
}

/// What a reply on a command link answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Tag {
    Discard,
    Ping(Inst),
    Info(Inst),
    Hello(Inst),
    AskDown {
        master: String,
        runid: String,
    },
    /// Reply to `CLIENT PAUSE` sent to the old master of a coordinated failover.
    Pause(String),
    /// Reply to a fencing lease grant (`VIGIL-LEASE`) sent to a master's address.
    Lease(String, (String, u16)),
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Open `link` to `ip:port`; send `setup` (replies discarded), then report
    /// [`Machine::handle_link_up`] or [`Machine::handle_link_down`] with `conn`.
    Connect {
        link: LinkKey,
        conn: u64,
        ip: String,
        port: u16,
        setup: Vec<Vec<String>>,
    },
    /// Send a command on an open link; its reply comes back with `tag`.
    Send {
        link: LinkKey,
        conn: u64,
        cmd: Vec<String>,
        tag: Tag,
    },
    /// Close a link (no report expected).
    Close { link: LinkKey },
    /// Log, publish and maybe run the notification script.
    Event(Event),
    /// A plain log line (not an event).
    Log(Level, String),
    /// Run `client-reconfig-script` with these arguments.
    ReconfigScript { path: String, args: Vec<String> },
    /// `SENTINEL SIMULATE-FAILURE`: exit the process with this code.
    Exit(i32),
}

/// A master with nothing unusual going on: not down (subjectively or objectively),
/// no failover, writes not paused. Only the instances of a steady master may be
/// passed over by the timer; the rest are visited on every tick.
fn steady(m: &Master) -> bool {
    m.inst.sdown_since.is_none()
        && m.inst.odown_since.is_none()
        && !m.in_failover()
        && m.pause_sent.is_none()
}

/// Whether `hay` contains `id` (`str::contains` without building a searcher for
/// every hello).
fn contains_id(hay: &str, id: &str) -> bool {
    id.is_empty() || hay.as_bytes().windows(id.len()).any(|w| w == id.as_bytes())
}

/// When `periodic` sends the next PING to `i` (none sent in the last half period
/// and no reply for a whole one), unless something else falls due first.
fn next_ping(i: &Instance, ping_period: Duration) -> Option<Instant> {
    Some((i.last_ping_time? + ping_period / 2).max(i.last_pong_time? + ping_period))
}

/// When a periodic command that falls due at `due` (Redis's rule) goes out to
/// an instance of a steady master: on the first beat from `slack` before `due`
/// on. Beats come every `ping_period` from the first tick on, so instances whose
/// PINGs went out together stay together, and the timer has one wake-up per
/// period with work to do. A PING (`late_ok`) is sent at most `slack` early or
/// late (one regular tick, as late as the regular tick may find it due): one
/// that falls between beats goes out `slack` late, moving a little closer to the
/// next beat each period until it is on one. Anything else waits for the beat
/// (at most one ping period): hellos and INFOs ride along with the PINGs from
/// then on.
fn send_at(beat0: Option<Instant>, due: Instant, ping_period: Duration, late_ok: bool) -> Instant {
    let Some(b0) = beat0 else {
        return due;
    };
    let slack = TICK.min(ping_period / 4);
    let from = due.checked_sub(slack).unwrap_or(due);
    let beat = if from <= b0 {
        b0
    } else {
        let p = ping_period.as_nanos().max(1);
        let n = (from - b0).as_nanos().div_ceil(p) * p;
        let d = Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX));
        b0.checked_add(d).unwrap_or(due)
    };
    if late_ok {
        beat.min(due + slack)
    } else {
        beat
    }
}

/// Whether `i`'s next PING is due because its last reply is a period old (it
/// may then go out a little late to reach a beat, [`send_at`]), not because the
/// PING in flight is half a period old with no reply: that one is only sent
/// again on a beat (the SDOWN clock runs from the first unanswered PING, so
/// sending it again later changes nothing but the wake-ups).
fn ping_answered(i: &Instance, ping_period: Duration) -> bool {
    match (i.last_ping_time, i.last_pong_time) {
        (Some(p), Some(q)) => q + ping_period >= p + ping_period / 2,
        _ => true,
    }
}

/// After a valid PING reply (`last_pong_time` just set, no PING outstanding):
/// the instance's current quiet mark moves to its next PING at once, instead of
/// the tick visiting it only to find nothing due.
fn quiet_after_pong(
    i: &mut Instance,
    gen: u64,
    ping_period: Duration,
    beat0: Option<Instant>,
) -> Option<Instant> {
    let ping_period = ping_period.min(i.down_after);
    let mark = match (i.quiet_until, i.quiet_rest) {
        (Some((_, g)), Some(rest)) if g == gen && i.act_ping_time.is_none() => {
            next_ping(i, ping_period).map(|p| (rest.min(send_at(beat0, p, ping_period, true)), g))
        }
        _ => None,
    };
    if mark.is_some() {
        i.quiet_until = mark;
    }
    mark.map(|(t, _)| t)
}

/// An instance of `m` got the new mark `t` (a PING answered: its next PING may
/// fall due before the PING in flight would have been sent again): the master's
/// mark, and the earliest one, come no later.
fn lower_mark(m: &mut Master, t: Instant, next: &mut Option<(Instant, u64)>) {
    if let Some((mt, g)) = m.quiet_until {
        m.quiet_until = Some((mt.min(t), g));
    }
    if let Some((nt, g)) = *next {
        *next = Some((nt.min(t), g));
    }
}

/// A steady master with no election pending and none forced: the timer's ODOWN
/// and failover steps have nothing to do for it.
fn idle(m: &Master) -> bool {
    steady(m) && m.force_until.is_none() && m.next_election.is_none()
}

/// Bookkeeping of one link.
#[derive(Clone, Debug)]
pub struct LinkState {
    pub conn: u64,
    pub ip: String,
    pub port: u16,
    pub connected: bool,
    pub connecting: bool,
    pub connected_at: Option<Instant>,
    pub last_attempt: Instant,
    pub pending: u32,
    pub last_activity: Instant,
    pub local_ip: Option<String>,
}

/// Most commands allowed in flight on a link before periodic ones are skipped.
const MAX_PENDING: u32 = 100;

/// [`MAX_PENDING`] for the command link of the instance in `slot`: a peer's link
/// is shared by every master it watches, and one beat puts a hello per master
/// on it (plus a PING), so it may hold that many more.
fn max_pending(slot: Slot, masters: usize) -> u32 {
    match slot {
        Slot::Sentinel(_) => MAX_PENDING.saturating_add(u32::try_from(masters).unwrap_or(u32::MAX)),
        _ => MAX_PENDING,
    }
}

/// The regular tick period (the timer runs every 80-120 ms when not sleeping on
/// marks).
const TICK: Duration = Duration::from_millis(100);

/// The longest sleep on marks: half of the default TILT trigger, so the timer
/// still runs at least once a second and a stalled process or a clock jump is
/// still seen.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// How early a PING, a hello or an INFO may be sent so that it shares a write with
/// another one that is due (a little more than one tick, so they stay in step).
const ALIGN: Duration = Duration::from_millis(150);

/// Where an instance sits in [`Machine::masters`] during one tick: visiting an
/// instance never adds or removes instances, so the tick reaches each one by index
/// instead of hashing its names again and again.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot {
    Master,
    Replica(usize),
    Sentinel(usize),
}

/// An instance's position: master index and slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct At {
    master: usize,
    slot: Slot,
}

/// What [`Machine::reconnect`] leaves behind for the rest of the visit.
struct LinksAfter {
    /// All the instance's links are connected.
    all_up: bool,
    /// The command link is connected and not backed up.
    cmd_ready: bool,
}

/// The slot after `slot` in master `m`: the master, its replicas, then its peers.
fn next_slot(m: &Master, slot: Slot) -> Option<Slot> {
    let first_peer = (!m.sentinels.is_empty()).then_some(Slot::Sentinel(0));
    match slot {
        Slot::Master if !m.replicas.is_empty() => Some(Slot::Replica(0)),
        Slot::Master => first_peer,
        Slot::Replica(n) if n + 1 < m.replicas.len() => Some(Slot::Replica(n + 1)),
        Slot::Replica(_) => first_peer,
        Slot::Sentinel(n) => (n + 1 < m.sentinels.len()).then_some(Slot::Sentinel(n + 1)),
    }
}

/// Append the identities of a master, its replicas and its peers to `out`.
fn push_instance_ids(m: &Master, out: &mut Vec<Inst>) {
    let mname = &m.inst.key;
    out.push(Inst::Master(mname.clone()));
    out.extend(
        m.replicas
            .values()
            .map(|r| Inst::Replica(mname.clone(), r.key.clone())),
    );
    out.extend(
        m.sentinels
            .values()
            .map(|s| Inst::Sentinel(mname.clone(), s.key.clone())),
    );
}

/// Outgoing side: queued actions, link table, dirty-config flag.
#[derive(Default)]
pub struct Io {
    pub actions: VecDeque<Action>,
    pub links: Map<LinkKey, LinkState>,
    next_conn: u64,
    /// Set when persistent state changed; the driver flushes the config file.
    pub dirty: bool,
    /// Bumped whenever a link is opened, lost or closed, or anything else happens
    /// that may bring an instance's work forward: every [`Instance::quiet_until`]
    /// mark taken under an older generation is void.
    pub gen: u64,
}

impl Io {
    pub fn event(&mut self, e: Event) {
        self.actions.push_back(Action::Event(e));
    }

    pub fn log(&mut self, level: Level, msg: String) {
        self.actions.push_back(Action::Log(level, msg));
    }

    pub fn connected(&self, key: &LinkKey) -> bool {
        self.links.get(key).map(|l| l.connected).unwrap_or(false)
    }

    pub fn pending(&self, key: &LinkKey) -> u32 {
        self.links.get(key).map(|l| l.pending).unwrap_or(0)
    }

    /// Queue `cmd` on `key` if the link is up. Returns whether it was queued.
    pub fn send(&mut self, key: &LinkKey, cmd: Vec<String>, tag: Tag) -> bool {
        let Some(l) = self.links.get_mut(key) else {
            return false;
        };
        if !l.connected {
            return false;
        }
        l.pending += 1;
        self.actions.push_back(Action::Send {
            link: key.clone(),
            conn: l.conn,
            cmd,
            tag,
        });
        true
    }

    fn connect(
        &mut self,
        key: LinkKey,
        ip: &str,
        port: u16,
        setup: Vec<Vec<String>>,
        now: Instant,
    ) {
        self.next_conn += 1;
        self.gen += 1;
        let conn = self.next_conn;
        self.links.insert(
            key.clone(),
            LinkState {
                conn,
                ip: ip.to_string(),
                port,
                connected: false,
                connecting: true,
                connected_at: None,
                last_attempt: now,
                pending: 0,
                last_activity: now,
                local_ip: None,
            },
        );
        self.actions.push_back(Action::Connect {
            link: key,
            conn,
            ip: ip.to_string(),
            port,
            setup,
        });
    }

    pub fn close(&mut self, key: &LinkKey) {
        if self.links.swap_remove(key).is_some() {
            self.gen += 1;
            self.actions.push_back(Action::Close { link: key.clone() });
        }
    }

    /// Close a link but keep its record so the reconnect throttle applies.
    fn drop_connection(&mut self, key: &LinkKey) {
        if let Some(l) = self.links.get_mut(key) {
            if l.connected || l.connecting {
                l.connected = false;
                l.connecting = false;
                l.pending = 0;
                self.next_conn += 1;
                self.gen += 1;
                l.conn = self.next_conn;
                self.actions.push_back(Action::Close { link: key.clone() });
            }
        }
    }
}

/// The sentinel's whole decision state.
pub struct Machine {
    pub g: Global,
    pub t: Timers,
    pub masters: Map<String, Master>,
    pub io: Io,
    pub tilt: bool,
    pub tilt_start: Option<Instant>,
    pub last_tick: Option<Instant>,
    /// When the driver was last told to run the tick ([`Machine::poll_timeout`]).
    planned_tick: Option<Instant>,
    pub rng: StdRng,
    /// `SENTINEL SIMULATE-FAILURE` flags.
    pub simfail_after_election: bool,
    pub simfail_after_promotion: bool,
    /// Write-fencing lease state per master name (`fencing.rs`).
    pub fencing: HashMap<String, super::fencing::MasterFencing>,
    /// Let the timer skip instances with nothing due ([`Instance::quiet_until`]);
    /// off only to check that skipping changes nothing (the marks, and so the
    /// wake-ups, are the same either way).
    pub skip_quiet: bool,
    /// The earliest master mark left by the last tick, with the link generation it
    /// holds under; `None` when some master must be visited on every tick.
    next_mark: Option<(Instant, u64)>,
    /// Set when [`Machine::poll_timeout`] let the driver sleep past the regular
    /// tick on the strength of the marks: the generation they hold under.
    sleep_gen: Option<u64>,
    /// The deadline [`Machine::poll_timeout`] or [`Machine::wake_request`] last set
    /// when sleeping on marks.
    sleep_until: Option<Instant>,
    /// Where the beats start: the periodic commands of steady instances go out on
    /// beats (see [`Machine::send_at`]).
    beat0: Option<Instant>,
}

/// Whether a PING reply proves the instance alive (reference §3.5).
fn valid_ping_reply(f: &Frame) -> bool {
    match f {
        Frame::Simple(s) => s.eq_ignore_ascii_case("PONG"),
        Frame::Error(e) => e.starts_with("LOADING") || e.starts_with("MASTERDOWN"),
        _ => false,
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Machine {
    pub fn new(g: Global, masters: Map<String, Master>, seed: u64) -> Machine {
        Machine {
            g,
            t: Timers::default(),
            masters,
            io: Io::default(),
            tilt: false,
            tilt_start: None,
            last_tick: None,
            planned_tick: None,
            rng: StdRng::seed_from_u64(seed),
            simfail_after_election: false,
            simfail_after_promotion: false,
            fencing: HashMap::new(),
            skip_quiet: true,
            next_mark: None,
            sleep_gen: None,
            sleep_until: None,
            beat0: None,
        }
    }

    /// Next action for the driver, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.io.actions.pop_front()
    }

    /// Take the dirty flag: `true` means the config file must be rewritten.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.io.dirty)
    }

    /// When the driver should call [`Machine::handle_tick`] next. While every
    /// master is steady and its mark current, at the earliest mark (when the next
    /// PING, hello, INFO or SDOWN check falls due: a PING is due once a second and
    /// the periodic commands go out on shared beats, so this is about one wake-up
    /// per second), at most [`MAX_SLEEP`] away so TILT still sees the clock.
    /// Otherwise about 10 times a second, randomized (80-120 ms) so sentinels do
    /// not run in lock-step. Everything urgent (ODOWN, votes, promotion,
    /// reconfiguration) is driven by replies, not by the tick; anything that voids
    /// the marks meanwhile asks for the regular tick ([`Machine::wake_request`]).
    pub fn poll_timeout(&mut self, now: Instant) -> Instant {
        self.sleep_gen = None;
        self.sleep_until = None;
        // While a failover runs, tick every 20-30 ms so polling the promoted replica
        // and the replicas being reconfigured is not held back by the tick.
        if self.masters.values().any(|m| m.in_failover()) {
            return now + Duration::from_millis(self.rng.gen_range(20..=30));
        }
        let mut next = match self.next_mark {
            Some((t, g)) if g == self.io.gen && t > now => {
                self.sleep_gen = Some(g);
                t.min(now + MAX_SLEEP.min(self.t.tilt_trigger / 2))
            }
            _ => now + Duration::from_millis(self.rng.gen_range(80..=120)),
        };
        if self.sleep_gen.is_some() {
            self.sleep_until = Some(next);
        }
        // Fencing lease grants fall due on time, not at the next tick.
        if let Some(t) = super::fencing::next_wake(self).filter(|t| *t > now) {
            next = next.min(t);
        }
        // An election waiting for its small random delay starts on time.
        let next = self
            .masters
            .values()
            .filter(|m| m.inst.odown_since.is_some())
            .filter_map(|m| m.next_election)
            .filter(|t| *t > now)
            .fold(next, |a, t| a.min(t));
        self.planned_tick = Some(next);
        next
    }

    /// After something was handled between ticks: when the driver must run the
    /// tick, if sooner than [`Machine::poll_timeout`] said. Something voided the
    /// marks that let it sleep long (a link opened or lost, an event, a client's
    /// command): the tick runs as it would without them, [`TICK`] after the last.
    /// A PING reply brought a mark forward: the tick runs at that mark.
    pub fn wake_request(&mut self, now: Instant) -> Option<Instant> {
        let until = self.sleep_until?;
        let t = match self.next_mark {
            Some((t, g)) if self.sleep_gen == Some(self.io.gen) && g == self.io.gen => t.max(now),
            _ => {
                self.sleep_gen = None;
                self.regular_tick(now)
            }
        };
        if t >= until {
            return None;
        }
        self.sleep_until = Some(t);
        Some(t)
    }

    /// The deadline set by the last [`Machine::wake_request`] (or
    /// [`Machine::poll_timeout`]) while sleeping on marks.
    pub fn sleep_until(&self) -> Option<Instant> {
        self.sleep_until
    }

    /// When the regular tick after the last one runs (not before `now`).
    pub fn regular_tick(&self, now: Instant) -> Instant {
        self.last_tick.map_or(now, |t| t + TICK).max(now)
    }

    /// Emit the start-up `+monitor` events.
    pub fn start(&mut self) {
        for m in self.masters.values() {
            let e = instance_event(
                &self.g,
                Level::Warning,
                "+monitor",
                m,
                None,
                &format!("quorum {}", m.quorum),
            );
            self.io.event(e);
        }
    }

    pub fn instance(&self, id: &Inst) -> Option<&Instance> {
        let m = self.masters.get(id.master())?;
        match id {
            Inst::Master(_) => Some(&m.inst),
            Inst::Replica(_, k) => m.replicas.get(&**k),
            Inst::Sentinel(_, r) => m.sentinels.get(&**r),
        }
    }

    /// The command link used for an instance.
    pub fn cmd_link(id: &Inst) -> LinkKey {
        match id {
            Inst::Sentinel(_, r) => LinkKey::Peer(r.clone()),
            other => LinkKey::Cmd(other.clone()),
        }
    }

    /// Whether an instance's links are all up.
    pub fn is_connected(&self, id: &Inst) -> bool {
        match id {
            Inst::Sentinel(_, r) => self.io.connected(&LinkKey::Peer(r.clone())),
            other => {
                self.io.connected(&LinkKey::Cmd(other.clone()))
                    && self.io.connected(&LinkKey::Pubsub(other.clone()))
            }
        }
    }

    // ---------------------------------------------------------------- link reports

    /// A link finished connecting (its setup commands were written). `local_ip` is
    /// our end of it (for hellos), `peer_ip` the address it reached: with
    /// `resolve-hostnames yes` that is the instance's IP from now on (Redis resolves
    /// the host name again when it reconnects).
    pub fn handle_link_up(
        &mut self,
        key: &LinkKey,
        conn: u64,
        local_ip: Option<String>,
        peer_ip: Option<String>,
        now: Instant,
    ) {
        self.io.gen += 1;
        let Some(l) = self.io.links.get_mut(key) else {
            return;
        };
        if l.conn != conn {
            return;
        }
        if let (Some(ip), true) = (peer_ip, self.g.resolve_hostnames) {
            self.link_reached(key, &ip);
        }
        let Some(l) = self.io.links.get_mut(key) else {
            return;
        };
        l.connected = true;
        l.connecting = false;
        l.connected_at = Some(now);
        l.last_activity = now;
        l.local_ip = local_ip;
        l.pending = 0;
        // Ping at once on a fresh command link.
        let ids: Vec<Inst> = match key {
            LinkKey::Cmd(id) => vec![id.clone()],
            LinkKey::Pubsub(_) => vec![],
            LinkKey::Peer(r) => self
                .masters
                .iter()
                .filter(|(_, m)| m.sentinels.contains_key(&**r))
                .map(|(n, _)| Inst::Sentinel(nm(n), nm(r)))
                .collect(),
        };
        for id in ids {
            self.send_ping(&id, now);
        }
    }

    /// Record the IP a link to a named instance reached (see `handle_link_up`).
    fn link_reached(&mut self, key: &LinkKey, ip: &str) {
        let set = |i: &mut Instance| {
            if i.ip.parse::<std::net::IpAddr>().is_err() && i.resolved.as_deref() != Some(ip) {
                i.resolved = Some(ip.to_string());
            }
        };
        match key {
            LinkKey::Cmd(id) => {
                if let Some(i) = self.inst_mut(id) {
                    set(i);
                }
            }
            LinkKey::Pubsub(_) => {}
            LinkKey::Peer(r) => {
                for m in self.masters.values_mut() {
                    if let Some(s) = m.sentinels.get_mut(&**r) {
                        set(s);
                    }
                }
            }
        }
    }

    /// A link failed to connect or was lost.
    pub fn handle_link_down(&mut self, key: &LinkKey, conn: u64, error: &str, _now: Instant) {
        self.io.gen += 1;
        let Some(l) = self.io.links.get_mut(key) else {
            return;
        };
        if l.conn != conn {
            return;
        }
        let was_up = l.connected;
        l.connected = false;
        l.connecting = false;
        l.pending = 0;
        if was_up {
            self.io.log(
                Level::Debug,
                format!(
                    "-{}-link-reconnection {key:?} #{error}",
                    if matches!(key, LinkKey::Pubsub(_)) {
                        "pubsub"
                    } else {
                        "cmd"
                    }
                ),
            );
        }
    }

    /// Any traffic on a pub/sub link (for the pub/sub liveness check).
    pub fn handle_pubsub_activity(&mut self, key: &LinkKey, conn: u64, now: Instant) {
        if let Some(l) = self.io.links.get_mut(key) {
            if l.conn == conn {
                l.last_activity = now;
            }
        }
    }

    /// A `message` on a pub/sub link: a hello on `__sentinel__:hello`.
    pub fn handle_pubsub_message(
        &mut self,
        key: &LinkKey,
        conn: u64,
        channel: &str,
        payload: &str,
        now: Instant,
    ) {
        self.handle_pubsub_activity(key, conn, now);
        if channel == "__sentinel__:hello" {
            let (queued, dirty) = (self.io.actions.len(), self.io.dirty);
            self.handle_hello(payload, now);
            if self.io.actions.len() != queued || self.io.dirty != dirty {
                self.io.gen += 1;
            }
        }
    }

    /// The reply to a command sent with `tag`.
    pub fn handle_reply(&mut self, key: &LinkKey, conn: u64, tag: Tag, reply: Frame, now: Instant) {
        if let Some(l) = self.io.links.get_mut(key) {
            if l.conn != conn {
                return;
            }
            l.pending = l.pending.saturating_sub(1);
            l.last_activity = now;
        } else {
            return;
        }
        let (queued, dirty) = (self.io.actions.len(), self.io.dirty);
        match tag {
            Tag::Discard => {}
            // A PING reply only moves the instance's work later.
            Tag::Ping(id) => self.on_ping_reply(&id, &reply, now),
            Tag::Info(id) => {
                // INFO may change the role, the replication link, the INFO period:
                // the instance's next visit is worked out again.
                if let Some(i) = self.inst_mut(&id) {
                    i.quiet_until = None;
                }
                if let Some(text) = match &reply {
                    Frame::Bulk(_) | Frame::Verbatim(_) => reply.as_text(),
                    _ => None,
                } {
                    self.on_info(&id, &text, now);
                } else if let Some(i) = self.inst_mut(&id) {
                    i.info_sent = None;
                }
            }
            Tag::Hello(id) => {
                if reply.is_error() {
                    if let Some(i) = self.inst_mut(&id) {
                        i.last_pub_time = None;
                        i.quiet_until = None;
                    }
                }
            }
            Tag::AskDown { master, runid } => self.on_ask_reply(&master, &runid, reply, now),
            Tag::Lease(master, addr) => super::fencing::on_reply(self, &master, &addr, &reply, now),
            Tag::Pause(master) => {
                if reply.is_error() {
                    // The server cannot pause writes: fall back to a classic failover.
                    if let Some(m) = self.masters.get_mut(&master) {
                        m.coordinated = false;
                    }
                    self.io.log(
                        Level::Warning,
                        format!("CLIENT PAUSE refused by the master of {master}; classic failover"),
                    );
                }
                super::failover::tick(self, &master, now);
            }
        }
        // Anything out of the ordinary (an event, a command sent, a config change)
        // voids every instance's quiet mark.
        if self.io.actions.len() != queued || self.io.dirty != dirty {
            self.io.gen += 1;
        }
    }

    /// Void every instance's quiet mark (the next tick visits all of them): for
    /// changes made from outside the machine's own handlers (client commands).
    pub fn invalidate_quiet(&mut self) {
        self.io.gen += 1;
    }

    fn inst_mut(&mut self, id: &Inst) -> Option<&mut Instance> {
        inst_mut(&mut self.masters, id)
    }

    fn on_ping_reply(&mut self, id: &Inst, reply: &Frame, now: Instant) {
        if let Inst::Sentinel(_, r) = id {
            // One PING per peer link answers for every master that peer watches.
            let valid = valid_ping_reply(reply);
            let (gen, ping_period, beat0) = (self.io.gen, self.t.ping_period, self.beat0);
            for m in self.masters.values_mut() {
                if let Some(i) = m.sentinels.get_mut(&**r) {
                    i.last_pong_time = Some(now);
                    if valid {
                        i.last_avail_time = now;
                        i.act_ping_time = None;
                        if let Some(t) = quiet_after_pong(i, gen, ping_period, beat0) {
                            lower_mark(m, t, &mut self.next_mark);
                        }
                    }
                }
            }
            return;
        }
        let busy = matches!(reply, Frame::Error(e) if e.starts_with("BUSY"));
        let (gen, ping_period, beat0) = (self.io.gen, self.t.ping_period, self.beat0);
        let Some(m) = self.masters.get_mut(id.master()) else {
            return;
        };
        let Some(i) = inst_of(m, id) else { return };
        i.last_pong_time = Some(now);
        if valid_ping_reply(reply) {
            i.last_avail_time = now;
            i.act_ping_time = None;
            if matches!(reply, Frame::Simple(_)) {
                i.master_reboot_since = None;
            }
            if let Some(t) = quiet_after_pong(i, gen, ping_period, beat0) {
                lower_mark(m, t, &mut self.next_mark);
            }
        } else if busy && i.sdown_since.is_some() && !i.script_kill_sent {
            i.script_kill_sent = true;
            let cmd = self
                .masters
                .get(id.master())
                .map(|m| m.cmd_name("SCRIPT"))
                .unwrap_or_else(|| "SCRIPT".into());
            self.io
                .send(&Self::cmd_link(id), vec![cmd, "KILL".into()], Tag::Discard);
        }
    }

    fn send_ping(&mut self, id: &Inst, now: Instant) -> bool {
        let name = match id {
            Inst::Sentinel(..) => "PING".to_string(),
            _ => self
                .masters
                .get(id.master())
                .map(|m| m.cmd_name("PING"))
                .unwrap_or_else(|| "PING".into()),
        };
        if self
            .io
            .send(&Self::cmd_link(id), vec![name], Tag::Ping(id.clone()))
        {
            if let Inst::Sentinel(_, r) = id {
                for m in self.masters.values_mut() {
                    if let Some(i) = m.sentinels.get_mut(&**r) {
                        i.last_ping_time = Some(now);
                        if i.act_ping_time.is_none() {
                            i.act_ping_time = Some(now);
                        }
                    }
                }
                return true;
            }
            if let Some(i) = self.inst_mut(id) {
                i.last_ping_time = Some(now);
                if i.act_ping_time.is_none() {
                    i.act_ping_time = Some(now);
                }
            }
            true
        } else {
            false
        }
    }

    // ---------------------------------------------------------------- INFO

    fn on_info(&mut self, id: &Inst, text: &str, now: Instant) {
        let f = parse_info(text);
        if let Inst::Master(name) = id {
            super::fencing::on_master_info(self, name, text, now);
        }
        let tilt = self.tilt;
        let Machine { masters, io, g, .. } = self;
        let Some(m) = masters.get_mut(id.master()) else {
            return;
        };
        let is_master = matches!(id, Inst::Master(_));
        {
            let Some(i) = inst_of(m, id) else { return };
            i.info_refresh = Some(now);
            i.info_sent = None;
            i.info_text = Some(text.to_string());
            i.master_link_down_ms = f.master_link_down_ms;
            if let Some(o) = f.master_repl_offset {
                i.master_repl_offset = o;
            }
        }
        // Run id: learn it, or notice a reboot.
        if let Some(run_id) = &f.run_id {
            let reboot_window = m.master_reboot_down_after;
            let i = inst_of(m, id).map(|i| {
                let old = std::mem::replace(&mut i.runid, run_id.clone());
                (old, i.clone())
            });
            if let Some((old, snapshot)) = i {
                if !old.is_empty() && old != *run_id {
                    io.event(instance_event(
                        g,
                        Level::Notice,
                        "+reboot",
                        m,
                        Some(&snapshot),
                        "",
                    ));
                    if is_master && !reboot_window.is_zero() {
                        m.inst.master_reboot_since = Some(now);
                    }
                }
            }
        }
        // Replicas listed by a master.
        if is_master && f.role_master == Some(true) {
            for (ip, port) in &f.slaves {
                // Known under the address as listed (the usual case: an IP), or
                // under its reported address once resolved.
                if m.replicas.contains_key(&addr_key(ip, *port)) {
                    continue;
                }
                let mut r = g.instance(Kind::Replica, String::new(), ip.clone(), *port, now);
                if !m.replicas.contains_key(&r.name) {
                    r.down_after = m.inst.down_after;
                    io.event(instance_event(g, Level::Notice, "+slave", m, Some(&r), ""));
                    m.replicas.insert(r.name.clone(), r);
                    io.dirty = true;
                }
            }
        }
        // Role.
        if let Some(role_master) = f.role_master {
            let role = if role_master {
                Role::Master
            } else {
                Role::Slave
            };
            let changed = inst_of(m, id).map(|i| {
                if i.role_reported != role {
                    i.role_reported = role;
                    i.role_reported_time = now;
                    if role == Role::Slave {
                        i.slave_conf_change_time = now;
                    }
                    Some(i.clone())
                } else {
                    None
                }
            });
            if let Some(Some(snapshot)) = changed {
                let matches_conf = (snapshot.kind == Kind::Master) == role_master;
                let kind = if matches_conf {
                    "+role-change"
                } else {
                    "-role-change"
                };
                let role_word = if role_master { "master" } else { "slave" };
                let inst_opt = if is_master { None } else { Some(&snapshot) };
                io.event(instance_event(
                    g,
                    Level::Verbose,
                    kind,
                    m,
                    inst_opt,
                    &format!("new reported role is {role_word}"),
                ));
            }
        }
        // Replica fields.
        if let Some(i) = inst_of(m, id) {
            if f.role_master == Some(false) {
                if let Some(h) = &f.master_host {
                    if i.master_host.as_deref() != Some(h.as_str()) {
                        i.master_host = Some(h.clone());
                        i.slave_conf_change_time = now;
                    }
                }
                if let Some(p) = f.master_port {
                    if i.master_port != p {
                        i.master_port = p;
                        i.slave_conf_change_time = now;
                    }
                }
                if let Some(up) = f.master_link_up {
                    i.master_link_up = up;
                }
                if let Some(p) = f.slave_priority {
                    i.slave_priority = p;
                }
                if let Some(o) = f.slave_repl_offset {
                    i.repl_offset = o;
                }
                if let Some(a) = f.replica_announced {
                    i.replica_announced = a;
                }
            }
        }
        if tilt {
            return;
        }
        self.info_acting_half(id, now);
    }

    /// Hook for what INFO makes the sentinel do outside TILT (failover progress,
    /// converting returning masters, fixing replicas); see the failover module.
    fn info_acting_half(&mut self, id: &Inst, now: Instant) {
        super::failover::on_info_acting(self, id, now);
    }

    // ---------------------------------------------------------------- hellos

    /// Our hello payload for master `m`, or `None` until we know our own address.
    pub fn hello_payload(&self, m: &Master, link: &LinkKey) -> Option<String> {
        let ip = match &self.g.announce_ip {
            Some(ip) => ip.clone(),
            None => self.io.links.get(link)?.local_ip.clone()?,
        };
        let port = if self.g.announce_port != 0 {
            self.g.announce_port
        } else {
            self.g.port
        };
        let (mip, mport) = m.current_addr(&self.g);
        Some(
            Hello {
                ip,
                port,
                runid: self.g.myid.clone(),
                current_epoch: self.g.current_epoch,
                master_name: m.name().to_string(),
                master_ip: mip,
                master_port: mport,
                master_config_epoch: m.config_epoch,
            }
            .encode(),
        )
    }

    /// Process a hello payload (from a pub/sub link or a `PUBLISH` to us).
    pub fn handle_hello(&mut self, payload: &str, now: Instant) {
        if contains_id(payload, &self.g.myid) {
            return;
        }
        let Some(h) = HelloRef::parse(payload) else {
            self.io.log(
                Level::Verbose,
                format!("ignoring malformed hello: {payload:?}"),
            );
            return;
        };
        let epoch = self.g.current_epoch;
        let Some(m) = self.masters.get_mut(h.master_name) else {
            return;
        };
        // The usual hello: a known peer at its known address, no newer epoch.
        if h.current_epoch <= epoch && h.master_config_epoch <= m.config_epoch {
            if let Some(s) = m.sentinels.get_mut(h.runid) {
                if s.ip == h.ip && s.port == h.port {
                    s.last_hello = Some(now);
                    return;
                }
            }
        }
        let h = h.to_owned();
        let name = h.master_name.clone();
        let known = self.masters[&name]
            .sentinels
            .get(&h.runid)
            .is_some_and(|s| self.g.same_addr(s, &h.ip, h.port));
        if !known {
            self.add_or_move_sentinel(&name, &h, now);
        }
        // Epochs.
        if h.current_epoch > self.g.current_epoch {
            self.g.current_epoch = h.current_epoch;
            self.io.dirty = true;
            self.io.event(plain_event(
                Level::Warning,
                "+new-epoch",
                h.current_epoch.to_string(),
            ));
        }
        let Machine { masters, io, g, .. } = self;
        let Some(m) = masters.get_mut(&name) else {
            return;
        };
        if m.config_epoch < h.master_config_epoch && m.sentinels.contains_key(&h.runid) {
            m.config_epoch = h.master_config_epoch;
            io.dirty = true;
            let (cur_ip, cur_port) = m.current_addr(g);
            // The peer's master address may be our name for it, or its IP.
            if cur_port != h.master_port || !g.addr_is(m.current(), &h.master_ip) {
                let from = m.sentinels.get(&h.runid).cloned();
                io.event(instance_event(
                    g,
                    Level::Warning,
                    "+config-update-from",
                    m,
                    from.as_ref(),
                    "",
                ));
                io.event(plain_event(
                    Level::Warning,
                    "+switch-master",
                    format!(
                        "{} {} {} {} {}",
                        name, cur_ip, cur_port, h.master_ip, h.master_port
                    ),
                ));
                if let Some(script) = m.client_reconfig_script.clone() {
                    io.actions.push_back(Action::ReconfigScript {
                        path: script,
                        args: vec![
                            name.clone(),
                            "observer".into(),
                            "start".into(),
                            cur_ip.clone(),
                            cur_port.to_string(),
                            h.master_ip.clone(),
                            h.master_port.to_string(),
                        ],
                    });
                }
                self.reset_master_and_change_address(&name, &h.master_ip, h.master_port, now);
            }
        }
        if let Some(s) = self
            .masters
            .get_mut(&name)
            .and_then(|m| m.sentinels.get_mut(&h.runid))
        {
            s.last_hello = Some(now);
        }
    }

    fn add_or_move_sentinel(&mut self, name: &str, h: &Hello, now: Instant) {
        let Machine { masters, io, g, .. } = self;
        let Some(m) = masters.get_mut(name) else {
            return;
        };
        // Same run id at a new address: address switch.
        let removed = m.sentinels.shift_remove(&h.runid);
        if let Some(old) = &removed {
            io.close(&LinkKey::Peer(nm(&old.runid)));
            io.event(instance_event(
                g,
                Level::Notice,
                "+sentinel-address-switch",
                m,
                None,
                &format!("ip {} port {} for {}", h.ip, h.port, h.runid),
            ));
        }
        // Another run id at this address: that entry's address is now invalid.
        let other: Option<String> = m
            .sentinels
            .values()
            .find(|s| s.runid != h.runid && g.same_addr(s, &h.ip, h.port))
            .map(|s| s.runid.clone());
        let mut invalid = None;
        if let Some(o) = other {
            if m.sentinels.contains_key(&o) {
                io.event(instance_event(
                    g,
                    Level::Notice,
                    "+sentinel-invalid-addr",
                    m,
                    m.sentinels.get(&o),
                    "",
                ));
            }
            invalid = Some(o);
        }
        let mut s = g.instance(Kind::Sentinel, h.runid.clone(), h.ip.clone(), h.port, now);
        s.runid = h.runid.clone();
        let resolved = s.resolved.clone();
        s.down_after = m.inst.down_after;
        if removed.is_none() {
            io.event(instance_event(
                g,
                Level::Notice,
                "+sentinel",
                m,
                Some(&s),
                "",
            ));
        }
        m.sentinels.insert(h.runid.clone(), s);
        io.dirty = true;
        // Propagate the address change / invalidation to every master.
        let mut updated = 0;
        for (n, other_m) in masters.iter_mut() {
            if let Some(inv) = &invalid {
                if let Some(s) = other_m.sentinels.get_mut(inv) {
                    s.port = 0;
                }
            }
            if n != name && removed.is_some() {
                if let Some(s) = other_m.sentinels.get_mut(&h.runid) {
                    if !g.same_addr(s, &h.ip, h.port) {
                        s.ip = h.ip.clone();
                        s.resolved = resolved.clone();
                        s.port = h.port;
                        updated += 1;
                    }
                }
            }
        }
        if let Some(inv) = invalid {
            io.close(&LinkKey::Peer(nm(&inv)));
        }
        if updated > 0 {
            if let Some(m) = masters.get(name) {
                io.event(instance_event(
                    g,
                    Level::Notice,
                    "+sentinel-address-update",
                    m,
                    None,
                    &format!("{updated} additional matching instances"),
                ));
            }
        }
    }

    /// Forget everything about a master's replicas and failover and point it at a new
    /// address, keeping its sentinels (`sentinelResetMasterAndChangeAddress`).
    pub fn reset_master_and_change_address(
        &mut self,
        name: &str,
        ip: &str,
        port: u16,
        now: Instant,
    ) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        // Replicas (and the old master) are added back from their host names and
        // resolved again, as Redis does.
        let g = &self.g;
        let mut keep: Vec<(String, u16)> = m
            .replicas
            .values()
            .filter(|r| !g.same_addr(r, ip, port))
            .map(|r| (r.ip.clone(), r.port))
            .collect();
        if !g.same_addr(&m.inst, ip, port) {
            keep.push((m.inst.ip.clone(), m.inst.port));
        }
        self.reset_master(name, true, now);
        let Machine { masters, io, g, .. } = self;
        let Some(m) = masters.get_mut(name) else {
            return;
        };
        m.inst.ip = ip.to_string();
        m.inst.resolved = g.resolve(ip);
        m.inst.port = port;
        for (rip, rport) in keep {
            let mut r = g.instance(Kind::Replica, String::new(), rip, rport, now);
            r.down_after = m.inst.down_after;
            io.event(instance_event(g, Level::Notice, "+slave", m, Some(&r), ""));
            m.replicas.insert(r.name.clone(), r);
        }
        io.dirty = true;
    }

    /// `sentinelResetMaster`: drop replicas (and sentinels unless kept), failover
    /// state, down flags and links of a master.
    pub fn reset_master(&mut self, name: &str, keep_sentinels: bool, now: Instant) {
        let Machine { masters, io, .. } = self;
        let Some(m) = masters.get_mut(name) else {
            return;
        };
        for k in m.replicas.keys() {
            io.close(&LinkKey::Cmd(Inst::Replica(nm(name), nm(k))));
            io.close(&LinkKey::Pubsub(Inst::Replica(nm(name), nm(k))));
        }
        m.replicas.clear();
        if !keep_sentinels {
            let gone: Vec<String> = m.sentinels.keys().cloned().collect();
            m.sentinels.clear();
            for r in gone {
                if !masters.values().any(|mm| mm.sentinels.contains_key(&r)) {
                    io.close(&LinkKey::Peer(nm(&r)));
                }
            }
        }
        let Some(m) = masters.get_mut(name) else {
            return;
        };
        io.close(&LinkKey::Cmd(Inst::Master(nm(name))));
        io.close(&LinkKey::Pubsub(Inst::Master(nm(name))));
        let down_after = m.inst.down_after;
        let (ip, port) = (m.inst.ip.clone(), m.inst.port);
        let resolved = m.inst.resolved.take();
        m.inst = Instance::new(Kind::Master, name.to_string(), ip, port, now);
        m.inst.resolved = resolved;
        m.inst.down_after = down_after;
        m.failover_state = FailoverState::None;
        m.failover_start_time = None;
        m.failover_state_change_time = now;
        m.force_failover = false;
        m.force_until = None;
        m.promoted = None;
        m.last_ask = None;
        m.next_election = None;
        m.election_attempts = 0;
        m.coordinated = false;
        m.pause_sent = None;
        m.sync_target = None;
        for s in m.sentinels.values_mut() {
            s.master_down = false;
            s.leader = None;
            s.last_master_down_reply = None;
        }
    }

    // ---------------------------------------------------------------- the timer

    /// The periodic step: TILT check, then for every master the monitoring half
    /// (links, PING/INFO/hello) and, outside TILT, the acting half (SDOWN, ODOWN,
    /// asking peers, failover). Each instance is visited once (reconnect, periodic
    /// commands, SDOWN), by index, so a tick over hundreds of instances allocates
    /// nothing. An instance whose quiet mark says nothing can fall due before a
    /// later time is passed over (most ticks, for most instances: a PING is due once
    /// a second, the tick runs ten times a second).
    pub fn handle_tick(&mut self, now: Instant) {
        self.check_tilt(now);
        self.beat0.get_or_insert(now);
        // Write fencing runs its own per-master step: no master is passed over whole
        // while any is fenced.
        let fencing = self.fencing.values().any(|f| f.enabled == Some(true));
        let gen0 = self.io.gen;
        // The earliest master mark (`None`: some master has none).
        let mut next_mark = (!fencing && !self.tilt).then_some(now + Duration::from_secs(3600));
        let mut mi = 0;
        while let Some((_, m)) = self.masters.get_index(mi) {
            // A quiet master keeps its mark; without `skip_quiet` it is visited all
            // the same (and must do nothing), its marks left as they are.
            let quiet_master = !fencing && self.is_quiet_master(m, now);
            let kept = m.quiet_until.map(|(t, _)| t);
            if quiet_master && self.skip_quiet {
                next_mark = next_mark.zip(kept).map(|(a, t)| a.min(t));
                mi += 1;
                continue;
            }
            let name = m.inst.key.clone();
            let gen = self.io.gen;
            // The earliest of the instances' marks, while all are current.
            let mut mark = Some(now + Duration::from_secs(3600));
            let mut slot = Some(Slot::Master);
            while let Some(sl) = slot {
                let at = At {
                    master: mi,
                    slot: sl,
                };
                let quiet = quiet_master || self.is_quiet(at, now);
                let q = if quiet && self.skip_quiet {
                    self.at_inst(at).and_then(|(_, i)| i.quiet_until)
                } else {
                    let links = self.reconnect(at, now);
                    self.periodic(at, links.cmd_ready, now);
                    if !self.tilt {
                        self.check_sdown(at, links.all_up, now);
                    }
                    if quiet {
                        self.at_inst(at).and_then(|(_, i)| i.quiet_until)
                    } else {
                        let q = self.quiet_mark(at, now);
                        let gen = self.io.gen;
                        if let Some(i) = self.at_inst_mut(at) {
                            i.quiet_until = q.map(|(t, _)| (t, gen));
                            i.quiet_rest = q.map(|(_, rest)| rest);
                        }
                        q.map(|(t, _)| (t, gen))
                    }
                };
                mark = match (mark, q) {
                    (Some(a), Some((t, g))) if g == gen => Some(a.min(t)),
                    _ => None,
                };
                slot = self
                    .masters
                    .get_index(mi)
                    .and_then(|(_, m)| next_slot(m, sl));
            }
            mi += 1;
            if self.tilt {
                continue;
            }
            // A steady master with no election pending or forced has no ODOWN to
            // change and no failover to start or advance.
            let was_idle = self.masters.get_index(mi - 1).is_some_and(|(_, m)| idle(m));
            if !was_idle {
                self.check_odown(&name, now);
                super::failover::tick(self, &name, now);
            }
            super::fencing::tick(self, &name, now);
            self.ask_peers(&name, false, now);
            if quiet_master {
                next_mark = next_mark.zip(kept).map(|(a, t)| a.min(t));
                continue;
            }
            let gen_now = self.io.gen;
            let ask_stale = self.t.ask_period * 5;
            if let Some((_, m)) = self.masters.get_index_mut(mi - 1) {
                // Peers' answers are forgotten once stale (`ask_peers`).
                for s in m.sentinels.values() {
                    if s.master_down || s.leader.is_some() {
                        mark = match (mark, s.last_master_down_reply) {
                            (Some(a), Some(r)) => Some(a.min(r + ask_stale)),
                            _ => None,
                        };
                    }
                }
                m.quiet_until = mark.filter(|_| gen_now == gen).map(|t| (t, gen));
                // Only a master the next tick may pass over holds the sleep.
                next_mark = match m.quiet_until {
                    Some((t, _)) if idle(m) => next_mark.map(|a| a.min(t)),
                    _ => None,
                };
            }
        }
        self.next_mark = next_mark.filter(|_| self.io.gen == gen0).map(|t| (t, gen0));
        super::failover::switch_finished(self, now);
    }

    /// Whether the tick may pass over master `m` and all its instances: every one
    /// of them is quiet until a later time, under the current link generation,
    /// and the master is steady with no election pending.
    fn is_quiet_master(&self, m: &Master, now: Instant) -> bool {
        !self.tilt
            && matches!(m.quiet_until, Some((t, g)) if g == self.io.gen && now < t)
            && idle(m)
    }

    /// The master and instance at `at`.
    fn at_inst(&self, at: At) -> Option<(&Master, &Instance)> {
        let (_, m) = self.masters.get_index(at.master)?;
        let i = match at.slot {
            Slot::Master => &m.inst,
            Slot::Replica(n) => m.replicas.get_index(n)?.1,
            Slot::Sentinel(n) => m.sentinels.get_index(n)?.1,
        };
        Some((m, i))
    }

    fn at_inst_mut(&mut self, at: At) -> Option<&mut Instance> {
        let (_, m) = self.masters.get_index_mut(at.master)?;
        match at.slot {
            Slot::Master => Some(&mut m.inst),
            Slot::Replica(n) => m.replicas.get_index_mut(n).map(|(_, i)| i),
            Slot::Sentinel(n) => m.sentinels.get_index_mut(n).map(|(_, i)| i),
        }
    }

    /// Whether the tick may pass over the instance at `at`: its quiet mark is
    /// current (same link generation, not yet reached) and its master is steady.
    fn is_quiet(&self, at: At, now: Instant) -> bool {
        if self.tilt {
            return false;
        }
        let Some((m, i)) = self.at_inst(at) else {
            return false;
        };
        matches!(i.quiet_until, Some((t, g)) if g == self.io.gen && now < t) && steady(m)
    }

    /// After a visit: the earliest time at which visiting the instance at `at`
    /// could do anything (open or drop a link, send a PING, INFO or hello, change
    /// SDOWN), assuming nothing else happens meanwhile; `None` when every tick must
    /// visit it (not steady, a link down, a failover, TILT...). Each bound below is
    /// the moment the matching test in `reconnect`, `periodic` or `check_sdown`
    /// can first pass, or earlier; events that bring work forward void the mark
    /// (they bump [`Io::gen`] or clear the instance's mark). Returns the mark and
    /// its part that does not depend on the PING in flight ([`Instance::quiet_rest`]).
    fn quiet_mark(&self, at: At, now: Instant) -> Option<(Instant, Instant)> {
        if self.tilt {
            return None;
        }
        let (m, i) = self.at_inst(at)?;
        let odd = i.port == 0
            || i.sdown_since.is_some()
            || i.master_reboot_since.is_some()
            || i.promoted
            || i.reconf != Reconf::None
            || i.master_link_down_ms != 0
            || (i.kind == Kind::Master && i.role_reported != Role::Master);
        if odd || !steady(m) {
            return None;
        }
        let id = match at.slot {
            Slot::Master => InstRef::Master(&m.inst.key),
            Slot::Replica(_) => InstRef::Replica(&m.inst.key, &i.key),
            Slot::Sentinel(_) => InstRef::Sentinel(&m.inst.key, &i.key),
        };
        let cmd = match id {
            InstRef::Sentinel(_, r) => LinkKeyRef::Peer(r),
            other => LinkKeyRef::Cmd(other),
        };
        let l = self.io.links.get(&cmd)?;
        if !l.connected || l.pending >= max_pending(at.slot, self.masters.len()) {
            return None;
        }
        let ping_period = self.t.ping_period.min(i.down_after);
        let half = i.down_after / 2;
        // A peer's link is shared by all the masters it watches: a PING sent through
        // it for another master starts this instance's SDOWN clock too. Such a mark
        // goes no further than that clock's shortest step, so the PING is seen in
        // time. (A master's or replica's PING is only ever sent by its own visit.)
        let mut due = now + Duration::from_secs(3600);
        if matches!(at.slot, Slot::Sentinel(_)) {
            due = now + ping_period.min(half);
        } else {
            let p = self.io.links.get(&LinkKeyRef::Pubsub(id))?;
            if !p.connected {
                return None;
            }
            // A silent pub/sub link is dropped after three publish periods.
            due = due.min(p.last_activity + self.t.publish_period * 3);
            // INFO: stale and none in flight.
            let mut info = i.info_refresh? + self.t.info_period;
            if let Some(sent) = i.info_sent {
                info = info.max(sent + self.t.info_period);
            }
            due = due.min(self.send_at(info, ping_period, false));
        }
        // Hello.
        let hello = i.last_pub_time? + self.t.publish_period;
        due = due.min(self.send_at(hello, ping_period, false));
        let rest = due;
        // PING: none sent in the last half period and no reply for a period.
        let ping = next_ping(i, ping_period)?;
        due = due.min(self.send_at(ping, ping_period, ping_answered(i, ping_period)));
        // An unanswered PING: the command link may look stuck after down-after/2,
        // SDOWN after down-after.
        if let Some(a) = i.act_ping_time {
            due = due.min(a + half);
        }
        Some((due, rest))
    }

    /// [`send_at`] with this machine's beats.
    fn send_at(&self, due: Instant, ping_period: Duration, late_ok: bool) -> Instant {
        send_at(self.beat0, due, ping_period, late_ok)
    }

    /// Whether a command due at `due` (`None`: never sent) goes out at `now`
    /// ([`Machine::send_at`]).
    fn on_beat(
        &self,
        due: Option<Instant>,
        ping_period: Duration,
        late_ok: bool,
        now: Instant,
    ) -> bool {
        due.is_none_or(|d| now >= self.send_at(d, ping_period, late_ok))
    }

    /// The identity of the instance at `at` (shares the names' allocations).
    fn inst_id(&self, at: At) -> Option<Inst> {
        let (m, i) = self.at_inst(at)?;
        let mname = m.inst.key.clone();
        Some(match at.slot {
            Slot::Master => Inst::Master(mname),
            Slot::Replica(_) => Inst::Replica(mname, i.key.clone()),
            Slot::Sentinel(_) => Inst::Sentinel(mname, i.key.clone()),
        })
    }

    fn check_tilt(&mut self, now: Instant) {
        if let Some(last) = self.last_tick {
            // Redis enters TILT when two timer calls 100 ms apart are more than
            // tilt-trigger apart: a stall of tilt-trigger minus one tick. The tick
            // here may sleep longer when nothing is due, so the stall is measured
            // past the planned wake-up, with the same tolerance.
            let planned = self
                .planned_tick
                .map_or(Duration::ZERO, |p| p.saturating_duration_since(last));
            let stall = now
                .saturating_duration_since(last)
                .saturating_sub(planned.max(TICK));
            if stall + TICK > self.t.tilt_trigger {
                self.tilt_start = Some(now);
                if !self.tilt {
                    self.io.gen += 1;
                    self.tilt = true;
                    self.io.event(plain_event(
                        Level::Warning,
                        "+tilt",
                        "#tilt mode entered".into(),
                    ));
                }
            }
        }
        self.last_tick = Some(now);
        if self.tilt {
            if let Some(start) = self.tilt_start {
                if now.saturating_duration_since(start) > self.t.tilt_period {
                    self.io.gen += 1;
                    self.tilt = false;
                    self.tilt_start = None;
                    self.io.event(plain_event(
                        Level::Warning,
                        "-tilt",
                        "#tilt mode exited".into(),
                    ));
                }
            }
        }
    }

    pub fn instance_ids(&self, name: &str) -> Vec<Inst> {
        let Some(m) = self.masters.get(name) else {
            return vec![];
        };
        let mut v = Vec::with_capacity(1 + m.replicas.len() + m.sentinels.len());
        push_instance_ids(m, &mut v);
        v
    }

    fn setup_cmds(&self, m: &Master, id: &Inst, pubsub: bool) -> Vec<Vec<String>> {
        let mut v = Vec::new();
        let suffix = if pubsub { "pubsub" } else { "cmd" };
        let (user, pass, rename) = match id {
            Inst::Sentinel(..) => (
                self.g.sentinel_user.clone(),
                self.g
                    .sentinel_pass
                    .clone()
                    .or_else(|| self.g.requirepass.clone()),
                false,
            ),
            _ => (m.auth_user.clone(), m.auth_pass.clone(), true),
        };
        let name = |c: &str| if rename { m.cmd_name(c) } else { c.to_string() };
        if let Some(p) = pass {
            let mut auth = vec![name("AUTH")];
            if let Some(u) = user {
                auth.push(u);
            }
            auth.push(p);
            v.push(auth);
        }
        let id8: String = self.g.myid.chars().take(8).collect();
        v.push(vec![
            name("CLIENT"),
            "SETNAME".into(),
            format!("sentinel-{id8}-{suffix}"),
        ]);
        if pubsub {
            v.push(vec![name("SUBSCRIBE"), "__sentinel__:hello".into()]);
        }
        v
    }

    /// Open the links of an instance that are down (at most once per ping period)
    /// and close links that look stuck (reference §3.3).
    fn reconnect(&mut self, at: At, now: Instant) -> LinksAfter {
        let down = LinksAfter {
            all_up: false,
            cmd_ready: false,
        };
        let Some((m, i)) = self.at_inst(at) else {
            return down;
        };
        if i.port == 0 {
            return down;
        }
        let ping_period = self.t.ping_period.min(i.down_after);
        let half = i.down_after / 2;
        // Redis closes the command link when a PING has been pending for more than
        // down-after/2 and no PING reply of any kind came for as long.
        let ping_stuck = i
            .act_ping_time
            .map(|a| now.saturating_duration_since(a) > half)
            .unwrap_or(false)
            && now.saturating_duration_since(i.last_pong_time.unwrap_or(i.created)) > half;
        let id = match at.slot {
            Slot::Master => InstRef::Master(&m.inst.key),
            Slot::Replica(_) => InstRef::Replica(&m.inst.key, &i.key),
            Slot::Sentinel(_) => InstRef::Sentinel(&m.inst.key, &i.key),
        };
        let keys: [Option<(LinkKeyRef<'_>, bool)>; 2] = match id {
            InstRef::Sentinel(_, r) => [Some((LinkKeyRef::Peer(r), false)), None],
            other => [
                Some((LinkKeyRef::Cmd(other), false)),
                Some((LinkKeyRef::Pubsub(other), true)),
            ],
        };
        let mut after = LinksAfter {
            all_up: true,
            cmd_ready: false,
        };
        // (pub/sub link?, connect it (else drop it as stuck))
        let mut todo: [Option<(bool, bool)>; 2] = [None, None];
        for (n, (key, pubsub)) in keys.into_iter().flatten().enumerate() {
            // (connect now, drop as stuck, connected and kept, commands in flight)
            let (need, stuck, up, pending) = match self.io.links.get(&key) {
                None => (true, false, false, 0),
                Some(l) if !l.connected => (
                    !l.connecting && now.saturating_duration_since(l.last_attempt) >= ping_period,
                    false,
                    false,
                    0,
                ),
                Some(l) => {
                    let old_enough = l.connected_at.is_some_and(|since| {
                        now.saturating_duration_since(since) >= self.t.min_link_reconnect_period
                    });
                    let stuck = old_enough
                        && if pubsub {
                            now.saturating_duration_since(l.last_activity)
                                > self.t.publish_period * 3
                        } else {
                            ping_stuck
                        };
                    (false, stuck, !stuck, l.pending)
                }
            };
            if need || stuck {
                todo[n] = Some((pubsub, need));
            }
            after.all_up &= up;
            if !pubsub {
                after.cmd_ready = up && pending < max_pending(at.slot, self.masters.len());
            }
        }
        if todo.iter().all(Option::is_none) {
            return after;
        }
        let Some(id) = self.inst_id(at) else {
            return down;
        };
        for (pubsub, need) in todo.into_iter().flatten() {
            let key = if pubsub {
                LinkKey::Pubsub(id.clone())
            } else {
                Self::cmd_link(&id)
            };
            if !need {
                self.io.drop_connection(&key);
                continue;
            }
            let Some((m, i)) = self.at_inst(at) else {
                return down;
            };
            let setup = self.setup_cmds(m, &id, pubsub);
            let (ip, port) = (i.ip.clone(), i.port);
            self.io.connect(key, &ip, port, setup, now);
        }
        after
    }

    /// PING, INFO and hello to one instance when they are due (reference §3.4).
    /// When one of them is due, the others due within [`ALIGN`] go out with it, in
    /// one write, so their replies come back in one read: each is sent at most
    /// `ALIGN` early, never late.
    fn periodic(&mut self, at: At, cmd_ready: bool, now: Instant) {
        if !cmd_ready {
            return;
        }
        let Some((m, i)) = self.at_inst(at) else {
            return;
        };
        let since = |t: Option<Instant>| t.map(|t| now.saturating_duration_since(t));
        let ping_period = self.t.ping_period.min(i.down_after);
        let publish_period = self.t.publish_period;
        let align = ALIGN.min(ping_period / 4).min(publish_period / 4);
        // A steady master's instances get their commands on beats.
        let aligned = steady(m);
        // INFO to masters and replicas: (due now, due within `align`).
        let (info_due, info_soon) = if i.kind == Kind::Sentinel {
            (false, false)
        } else {
            let fast = i.kind == Kind::Replica
                && (m.inst.sdown_since.is_some()
                    || m.inst.odown_since.is_some()
                    || m.in_failover()
                    || i.master_link_down_ms != 0);
            // During a failover, the replicas whose progress we wait for are polled
            // every 50 ms instead of waiting for the 1 s INFO period.
            let very_fast = i.kind == Kind::Replica
                && ((i.promoted
                    && matches!(
                        m.failover_state,
                        FailoverState::WaitPromotion | FailoverState::SendSlaveofNoone
                    ))
                    || (m.failover_state == FailoverState::ReconfSlaves
                        && matches!(i.reconf, Reconf::Sent | Reconf::InProg)));
            let period = if very_fast {
                Duration::from_millis(50)
            } else if fast {
                Duration::from_millis(1000).min(self.t.info_period)
            } else {
                self.t.info_period
            };
            let (stale, in_flight) = if aligned {
                // Due: stale and none in flight, from the same moment on.
                let due = i.info_refresh.map(|t| t + period);
                let due = match (due, i.info_sent) {
                    (Some(d), Some(sent)) => Some(d.max(sent + period)),
                    (d, _) => d,
                };
                (self.on_beat(due, ping_period, false, now), false)
            } else {
                (
                    since(i.info_refresh).map(|d| d > period).unwrap_or(true),
                    since(i.info_sent).map(|d| d < period).unwrap_or(false),
                )
            };
            let align = align.min(period / 4);
            let stale_soon = since(i.info_refresh)
                .map(|d| d + align > period)
                .unwrap_or(true);
            let in_flight_soon = since(i.info_sent)
                .map(|d| d + align < period)
                .unwrap_or(false);
            (stale && !in_flight, stale_soon && !in_flight_soon)
        };
        let pong_age = since(i.last_pong_time);
        let ping_not_recent = since(i.last_ping_time)
            .map(|d| d > ping_period / 2)
            .unwrap_or(true);
        let ping_due = if aligned {
            let due = [
                i.last_ping_time.map(|t| t + ping_period / 2),
                i.last_pong_time.map(|t| t + ping_period),
            ];
            let late_ok = ping_answered(i, ping_period);
            self.on_beat(due.into_iter().flatten().max(), ping_period, late_ok, now)
        } else {
            ping_not_recent && pong_age.map(|d| d > ping_period).unwrap_or(true)
        };
        let pub_age = since(i.last_pub_time);
        // A master whose writes we paused would block our link on PUBLISH.
        let paused = matches!(at.slot, Slot::Master) && m.coordinated && m.pause_sent.is_some();
        let pub_due = !paused
            && if aligned {
                let due = i.last_pub_time.map(|t| t + publish_period);
                self.on_beat(due, ping_period, false, now)
            } else {
                pub_age.map(|d| d > publish_period).unwrap_or(true)
            };
        if !info_due && !ping_due && !pub_due {
            return;
        }
        // Ride along with another one when it is due within `align`.
        let ping_now = ping_due
            || ((pub_due || info_due)
                && ping_not_recent
                && pong_age.map(|d| d + align > ping_period).unwrap_or(true));
        let pub_now = pub_due
            || (!paused
                && (ping_due || info_due)
                && pub_age.map(|d| d + align > publish_period).unwrap_or(true));
        let info_now = info_due || (info_soon && (ping_due || pub_due));
        let info_cmd = info_now.then(|| m.cmd_name("INFO"));
        let Some(id) = self.inst_id(at) else {
            return;
        };
        let link = Self::cmd_link(&id);
        if let Some(cmd) = info_cmd {
            if self.io.send(&link, vec![cmd], Tag::Info(id.clone())) {
                if let Some(i) = self.inst_mut(&id) {
                    i.info_sent = Some(now);
                }
            }
        }
        if ping_now {
            self.send_ping(&id, now);
        }
        if pub_now {
            self.send_hello(&id, now);
        }
    }

    /// Ask `id` for INFO now unless one is already in flight.
    pub fn request_info(&mut self, id: &Inst, now: Instant) {
        let in_flight = self
            .instance(id)
            .map(|i| i.info_sent.is_some())
            .unwrap_or(true);
        if in_flight {
            return;
        }
        let Some(name) = self.masters.get(id.master()).map(|m| m.cmd_name("INFO")) else {
            return;
        };
        if self
            .io
            .send(&Self::cmd_link(id), vec![name], Tag::Info(id.clone()))
        {
            if let Some(i) = self.inst_mut(id) {
                i.info_sent = Some(now);
            }
        }
    }

    /// Our hello payload for `id`'s master as [`Machine::hello_payload`] makes it,
    /// taken from the master's cache while nothing it is made from has changed.
    fn cached_hello_payload(&mut self, id: &Inst, link: &LinkKey) -> Option<String> {
        let Machine { g, io, masters, .. } = self;
        let m = masters.get_mut(id.master())?;
        let ip = match &g.announce_ip {
            Some(ip) => ip.as_str(),
            None => io.links.get(link)?.local_ip.as_deref()?,
        };
        let port = if g.announce_port != 0 {
            g.announce_port
        } else {
            g.port
        };
        let cur = m.current();
        let (mip, mport) = (g.shown(cur), cur.port);
        if let Some(c) = &m.hello_cache {
            if c.ip == ip
                && c.port == port
                && c.runid == g.myid
                && c.current_epoch == g.current_epoch
                && c.master_ip == mip
                && c.master_port == mport
                && c.config_epoch == m.config_epoch
            {
                return Some(c.payload.clone());
            }
        }
        let hello = Hello {
            ip: ip.to_string(),
            port,
            runid: g.myid.clone(),
            current_epoch: g.current_epoch,
            master_name: m.name().to_string(),
            master_ip: mip.to_string(),
            master_port: mport,
            master_config_epoch: m.config_epoch,
        };
        let payload = hello.encode();
        m.hello_cache = Some(HelloCache {
            ip: hello.ip,
            port,
            runid: hello.runid,
            current_epoch: hello.current_epoch,
            master_ip: hello.master_ip,
            master_port: mport,
            config_epoch: hello.master_config_epoch,
            payload: payload.clone(),
        });
        Some(payload)
    }

    /// Publish our hello for `id`'s master on `id`'s command link.
    pub fn send_hello(&mut self, id: &Inst, now: Instant) -> bool {
        let link = Self::cmd_link(id);
        let Some(payload) = self.cached_hello_payload(id, &link) else {
            return false;
        };
        let Some(m) = self.masters.get(id.master()) else {
            return false;
        };
        let cmd = match id {
            Inst::Sentinel(..) => "PUBLISH".to_string(),
            _ => m.cmd_name("PUBLISH"),
        };
        if self.io.send(
            &link,
            vec![cmd, "__sentinel__:hello".into(), payload],
            Tag::Hello(id.clone()),
        ) {
            if let Some(i) = self.inst_mut(id) {
                i.last_pub_time = Some(now);
            }
            true
        } else {
            false
        }
    }

    /// Send hellos for a master to all its instances at once (after promotion or a
    /// config change), instead of waiting for the publish period.
    pub fn force_hellos(&mut self, name: &str, now: Instant) {
        for id in self.instance_ids(name) {
            self.send_hello(&id, now);
        }
    }

    // ---------------------------------------------------------------- SDOWN / ODOWN

    /// SDOWN for one instance (reference §3.6), like `sentinelCheckSubjectivelyDown`:
    /// the outage clock runs from the oldest unanswered PING (`act_ping_time`, kept
    /// across reconnects), or, with no PING pending and a link down, from the last
    /// valid reply. `connected`: whether all the instance's links are up.
    fn check_sdown(&mut self, at: At, connected: bool, now: Instant) {
        let disconnected = !connected;
        let info_period = self.t.info_period;
        let Machine { masters, io, g, .. } = self;
        let Some((_, m)) = masters.get_index_mut(at.master) else {
            return;
        };
        let reboot_after = m.master_reboot_down_after;
        let i = match at.slot {
            Slot::Master => Some(&mut m.inst),
            Slot::Replica(n) => m.replicas.get_index_mut(n).map(|(_, i)| i),
            Slot::Sentinel(n) => m.sentinels.get_index_mut(n).map(|(_, i)| i),
        };
        let Some(i) = i else {
            return;
        };
        let elapsed = if let Some(a) = i.act_ping_time {
            now.saturating_duration_since(a)
        } else if disconnected {
            now.saturating_duration_since(i.last_avail_time)
        } else {
            Duration::ZERO
        };
        let role_mismatch = i.kind == Kind::Master
            && i.role_reported == Role::Slave
            && now.saturating_duration_since(i.role_reported_time) > i.down_after + info_period * 2;
        let reboot_down = i.kind == Kind::Master
            && !reboot_after.is_zero()
            && i.master_reboot_since
                .map(|t| now.saturating_duration_since(t) > reboot_after)
                .unwrap_or(false);
        let down = elapsed > i.down_after || role_mismatch || reboot_down;
        if down && i.sdown_since.is_none() {
            i.sdown_since = Some(now);
            i.down_mark = Some(now);
            let snap = i.clone();
            let inst = if snap.kind == Kind::Master {
                None
            } else {
                Some(&snap)
            };
            io.event(instance_event(g, Level::Warning, "+sdown", m, inst, ""));
        } else if !down && i.sdown_since.is_some() {
            i.sdown_since = None;
            i.script_kill_sent = false;
            let snap = i.clone();
            let inst = if snap.kind == Kind::Master {
                None
            } else {
                Some(&snap)
            };
            io.event(instance_event(g, Level::Warning, "-sdown", m, inst, ""));
        }
    }

    /// ODOWN: our SDOWN plus peers that said "down" recently reach the quorum.
    pub fn check_odown(&mut self, name: &str, now: Instant) {
        let Machine { masters, io, g, .. } = self;
        let Some(m) = masters.get_mut(name) else {
            return;
        };
        let mut count = 0u32;
        let mut odown = false;
        if m.inst.sdown_since.is_some() {
            count = 1 + m.sentinels.values().filter(|s| s.master_down).count() as u32;
            odown = count >= m.quorum;
        }
        if odown && m.inst.odown_since.is_none() {
            m.inst.odown_since = Some(now);
            m.inst.down_mark = Some(now);
            let e = instance_event(
                g,
                Level::Warning,
                "+odown",
                m,
                None,
                &format!("#quorum {count}/{}", m.quorum),
            );
            io.event(e);
        } else if !odown && m.inst.odown_since.is_some() {
            m.inst.odown_since = None;
            io.event(instance_event(g, Level::Warning, "-odown", m, None, ""));
        }
    }

    /// Ask connected peers whether they see the master down (and, during our
    /// failover, for their vote). `force` skips the ask-period gate.
    pub fn ask_peers(&mut self, name: &str, force: bool, now: Instant) {
        let ask_period = self.t.ask_period;
        let epoch = self.g.current_epoch;
        let Machine { masters, io, g, .. } = self;
        let Some(m) = masters.get_mut(name) else {
            return;
        };
        let sdown = m.inst.sdown_since.is_some();
        let candidate = m.in_failover();
        let electing = m.failover_state == FailoverState::WaitStart;
        if !sdown && !electing {
            // Nothing to ask: only forget answers that are too old.
            for s in m.sentinels.values_mut() {
                let stale = s
                    .last_master_down_reply
                    .is_none_or(|t| now.saturating_duration_since(t) > ask_period * 5);
                if stale {
                    s.master_down = false;
                    s.leader = None;
                }
            }
            return;
        }
        let myid = g.myid.clone();
        let (ip, port) = (g.shown(&m.inst).to_string(), m.inst.port);
        // Until ODOWN is reached, peers that said "not down" are asked again every
        // 100 ms (they may reach SDOWN a moment after us), not once per second.
        let interval = if m.inst.odown_since.is_none() && !candidate {
            ask_period.min(Duration::from_millis(100))
        } else {
            ask_period
        };
        let cmd_name = "SENTINEL".to_string();
        for s in m.sentinels.values_mut() {
            let elapsed = s
                .last_master_down_reply
                .map(|t| now.saturating_duration_since(t))
                .unwrap_or(Duration::MAX);
            if elapsed > ask_period * 5 {
                s.master_down = false;
                s.leader = None;
            }
            // A candidate asks even when it sees the master up: a forced failover
            // (`SENTINEL FAILOVER`) needs votes for its epoch too.
            if !sdown && !electing {
                continue;
            }
            let link = LinkKey::Peer(s.key.clone());
            if !io.connected(&link) {
                continue;
            }
            if !force && elapsed < interval {
                continue;
            }
            // Don't stack requests: at most one per interval in flight.
            if !force {
                if let Some(t) = s.ask_sent {
                    if now.saturating_duration_since(t) < interval {
                        continue;
                    }
                }
            }
            let runid = if candidate {
                myid.clone()
            } else {
                "*".to_string()
            };
            let cmd = vec![
                cmd_name.clone(),
                "is-master-down-by-addr".into(),
                ip.clone(),
                port.to_string(),
                epoch.to_string(),
                runid,
            ];
            if io.send(
                &link,
                cmd,
                Tag::AskDown {
                    master: name.to_string(),
                    runid: s.runid.clone(),
                },
            ) {
                s.ask_sent = Some(now);
            }
        }
    }

    fn on_ask_reply(&mut self, master: &str, runid: &str, reply: Frame, now: Instant) {
        let Machine { masters, io, .. } = self;
        let Some(m) = masters.get_mut(master) else {
            return;
        };
        let Some(s) = m.sentinels.get_mut(runid) else {
            return;
        };
        s.ask_sent = None;
        let Some(items) = (match reply {
            Frame::Array(v) => Some(v),
            Frame::Push(v) => Some(v),
            _ => None,
        }) else {
            return;
        };
        if items.len() != 3 {
            return;
        }
        let (Frame::Integer(down), Some(leader), Frame::Integer(leader_epoch)) =
            (&items[0], items[1].as_bytes(), &items[2])
        else {
            return;
        };
        let leader = String::from_utf8_lossy(leader).into_owned();
        s.last_master_down_reply = Some(now);
        s.master_down = *down == 1;
        if leader != "*" {
            let epoch = (*leader_epoch).max(0) as u64;
            if s.leader.as_deref() != Some(leader.as_str()) || s.leader_epoch != epoch {
                io.log(
                    Level::Notice,
                    format!("{} voted for {} {}", s.runid, leader, epoch),
                );
            }
            s.leader = Some(leader);
            s.leader_epoch = epoch;
        }
        // Fast path: re-evaluate ODOWN (and the election) at once.
        self.check_odown(master, now);
        super::failover::tick(self, master, now);
    }

    // ---------------------------------------------------------------- votes

    /// `sentinelVoteLeader`: grant our vote for `master` in `req_epoch` to
    /// `req_runid` if we have not voted in that epoch yet. Returns our vote (leader,
    /// epoch). No vote is granted in TILT. The caller must flush the config before
    /// replying when [`Io::dirty`] is set.
    pub fn vote_leader(
        &mut self,
        master: &str,
        req_epoch: u64,
        req_runid: &str,
        now: Instant,
    ) -> (Option<String>, u64) {
        if self.tilt {
            let m = self.masters.get(master);
            return (
                m.and_then(|m| m.leader.clone()),
                m.map(|m| m.leader_epoch).unwrap_or(0),
            );
        }
        if req_epoch > self.g.current_epoch {
            self.g.current_epoch = req_epoch;
            self.io.dirty = true;
            self.io.event(plain_event(
                Level::Warning,
                "+new-epoch",
                req_epoch.to_string(),
            ));
        }
        let cur = self.g.current_epoch;
        let myid = self.g.myid.clone();
        let delay = Duration::from_millis(self.rng.gen_range(0..1000));
        let Machine { masters, io, .. } = self;
        let Some(m) = masters.get_mut(master) else {
            return (None, 0);
        };
        // While we lead a failover of this master past its election, another
        // candidate gets no vote from us: never two failovers of one master at once
        // (refusing a vote is always safe; Redis would grant it).
        let leading = !matches!(
            m.failover_state,
            FailoverState::None | FailoverState::WaitStart
        );
        let eligible = m.leader_epoch < req_epoch && cur <= req_epoch;
        let refused = eligible && leading && req_runid != myid;
        if refused {
            io.log(
                Level::Notice,
                format!("{master}: no vote for {req_runid} in epoch {req_epoch}: our failover is in progress"),
            );
        }
        let voted = eligible && !refused;
        if voted {
            m.leader = Some(req_runid.to_string());
            m.leader_epoch = cur;
            io.dirty = true;
            io.event(plain_event(
                Level::Warning,
                "+vote-for-leader",
                format!("{req_runid} {cur}"),
            ));
            if req_runid != myid {
                // We voted for someone else: don't start our own election for a while,
                // and leave a pending `SENTINEL FAILOVER` to that candidate.
                m.next_election =
                    Some(now + (m.failover_timeout * 2).min(Duration::from_secs(5)) + delay);
                m.force_until = None;
            }
        }
        let vote = (m.leader.clone(), m.leader_epoch);
        if voted {
            // A voter stops granting fencing leases to this master address.
            super::fencing::on_vote(self, master, now);
        }
        vote
    }

    /// `SENTINEL IS-MASTER-DOWN-BY-ADDR ip port epoch runid`: whether we see that
    /// master SDOWN (never while in TILT), and with a run id other than `*` our vote
    /// for that epoch. Reply `[down, leader or "*", leader_epoch]`. When this sets
    /// [`Io::dirty`], the config must be flushed before the reply is sent.
    pub fn is_master_down_by_addr(
        &mut self,
        ip: &str,
        port: i64,
        epoch: i64,
        runid: &str,
        now: Instant,
    ) -> Frame {
        let master = if (0..=65535).contains(&port) {
            self.master_by_addr(ip, port as u16)
        } else {
            None
        };
        let down = master
            .as_ref()
            .and_then(|nm| self.masters.get(nm))
            .map(|mm| mm.inst.sdown_since.is_some() && !self.tilt)
            .unwrap_or(false);
        let mut leader = None;
        let mut leader_epoch = 0u64;
        if let (Some(nm), true) = (&master, runid != "*") {
            let (l, e) = self.vote_leader(nm, epoch.max(0) as u64, runid, now);
            leader = l;
            leader_epoch = e;
        }
        Frame::Array(vec![
            Frame::Integer(i64::from(down)),
            Frame::bulk_str(leader.as_deref().unwrap_or("*")),
            Frame::Integer(leader_epoch as i64),
        ])
    }

    /// Find a master by address (`IS-MASTER-DOWN-BY-ADDR` looks masters up that
    /// way): by IP or by host name ([`Global::same_addr`]).
    pub fn master_by_addr(&self, ip: &str, port: u16) -> Option<String> {
        self.masters
            .values()
            .find(|m| self.g.same_addr(&m.inst, ip, port))
            .map(|m| m.name().to_string())
    }

    /// `SENTINEL MONITOR`: validate and add a master.
    pub fn monitor(
        &mut self,
        name: &str,
        ip: &str,
        port: &str,
        quorum: &str,
        now: Instant,
    ) -> Result<(), String> {
        let quorum: i64 = quorum.parse().map_err(|_| "Invalid quorum".to_string())?;
        let port: i64 = port.parse().map_err(|_| "Invalid port".to_string())?;
        if quorum <= 0 || quorum > u32::MAX as i64 {
            return Err("Quorum must be 1 or greater.".into());
        }
        if !(1..=65535).contains(&port) {
            return Err("Invalid port number.".into());
        }
        // Resolved now, like Redis (without resolve-hostnames: IPs only).
        let Some(resolved) = self.g.resolve(ip) else {
            return Err("Invalid IP address or hostname specified".into());
        };
        if self.masters.contains_key(name) {
            return Err("Duplicate master name.".into());
        }
        let mut m = Master::new(
            name.to_string(),
            ip.to_string(),
            port as u16,
            quorum as u32,
            &self.t,
            now,
        );
        m.inst.resolved = Some(resolved);
        let e = instance_event(
            &self.g,
            Level::Warning,
            "+monitor",
            &m,
            None,
            &format!("quorum {quorum}"),
        );
        self.masters.insert(name.to_string(), m);
        self.io.event(e);
        self.io.dirty = true;
        Ok(())
    }

    /// `SENTINEL REMOVE`.
    pub fn remove(&mut self, name: &str, now: Instant) -> bool {
        if !self.masters.contains_key(name) {
            return false;
        }
        self.reset_master(name, false, now);
        if let Some(m) = self.masters.shift_remove(name) {
            self.io.event(instance_event(
                &self.g,
                Level::Warning,
                "-monitor",
                &m,
                None,
                "",
            ));
        }
        self.io.dirty = true;
        true
    }

    /// `SENTINEL RESET <pattern>`: returns how many masters matched.
    pub fn reset_pattern(&mut self, pattern: &str, now: Instant) -> usize {
        let names: Vec<String> = self
            .masters
            .keys()
            .filter(|n| glob_match(pattern.as_bytes(), n.as_bytes(), false))
            .cloned()
            .collect();
        for n in &names {
            self.reset_master(n, false, now);
            if let Some(m) = self.masters.get(n) {
                self.io.event(instance_event(
                    &self.g,
                    Level::Warning,
                    "+reset-master",
                    m,
                    None,
                    "",
                ));
            }
        }
        if !names.is_empty() {
            self.io.dirty = true;
        }
        names.len()
    }

    /// Forget the links of a master and its replicas (credentials changed).
    pub fn drop_instance_links(&mut self, name: &str) {
        for id in self.instance_ids(name) {
            if !matches!(id, Inst::Sentinel(..)) {
                self.io.drop_connection(&LinkKey::Cmd(id.clone()));
                self.io.drop_connection(&LinkKey::Pubsub(id));
            }
        }
    }

    /// Forget the links to all peer sentinels (sentinel-user/pass changed).
    pub fn drop_peer_links(&mut self) {
        let keys: Vec<LinkKey> = self
            .io
            .links
            .keys()
            .filter(|k| matches!(k, LinkKey::Peer(_)))
            .cloned()
            .collect();
        for k in keys {
            self.io.drop_connection(&k);
        }
    }

    /// Number of masters sharing the link to peer `runid`.
    pub fn peer_refcount(&self, runid: &str) -> usize {
        self.masters
            .values()
            .filter(|m| m.sentinels.contains_key(runid))
            .count()
    }
}

/// Mutable access to one instance of `m` by identity.
pub fn inst_of<'a>(m: &'a mut Master, id: &Inst) -> Option<&'a mut Instance> {
    match id {
        Inst::Master(_) => Some(&mut m.inst),
        Inst::Replica(_, k) => m.replicas.get_mut(&**k),
        Inst::Sentinel(_, r) => m.sentinels.get_mut(&**r),
    }
}

fn inst_mut<'a>(masters: &'a mut Map<String, Master>, id: &Inst) -> Option<&'a mut Instance> {
    inst_of(masters.get_mut(id.master())?, id)
}

/// Milliseconds since `t` (0 if unset), for instance maps.
pub fn ms_since(now: Instant, t: Option<Instant>) -> u64 {
    t.map(|t| ms(now.saturating_duration_since(t))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::config;

    /// Bring master "m"'s command and pub/sub links up at `t0`: (instance, command
    /// link, its connection id).
    fn master_links_up(m: &mut Machine, t0: Instant) -> (Inst, LinkKey, u64) {
        let id = Inst::Master("m".into());
        let key = LinkKey::Cmd(id.clone());
        let pkey = LinkKey::Pubsub(id.clone());
        m.handle_tick(t0);
        let conn = m.io.links[&key].conn;
        let pconn = m.io.links[&pkey].conn;
        m.handle_link_up(&key, conn, Some("10.0.1.1".into()), None, t0);
        m.handle_link_up(&pkey, pconn, Some("10.0.1.1".into()), None, t0);
        (id, key, conn)
    }

    fn machine(now: Instant) -> Machine {
        let text = "sentinel myid 0123456789abcdef0123456789abcdef01234567\n\
                    sentinel monitor m 10.0.0.1 6379 1\n\
                    sentinel down-after-milliseconds m 1000\n";
        let l = config::parse("t.conf", text, &[], &Timers::default(), now).unwrap();
        Machine::new(l.global, l.masters, 7)
    }

    fn events(m: &mut Machine) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(a) = m.poll_action() {
            if let Action::Event(e) = a {
                v.push(format!("{} {}", e.kind, e.text));
            }
        }
        v
    }

    /// The hello payload comes from the master's cache only while nothing it is made
    /// from has changed: our address (announced or the link's), our epoch, our id,
    /// the master's address and config epoch. It always equals a fresh one.
    #[test]
    fn cached_hello_changes_with_epochs_and_addresses() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let (id, key, _) = master_links_up(&mut m, t0);
        let check = |m: &mut Machine| -> String {
            let fresh = m.hello_payload(&m.masters["m"], &key).unwrap();
            let cached = m.cached_hello_payload(&id, &key).unwrap();
            assert_eq!(cached, fresh);
            cached
        };
        let p0 = check(&mut m);
        assert_eq!(
            p0,
            "10.0.1.1,26379,0123456789abcdef0123456789abcdef01234567,0,m,10.0.0.1,6379,0"
        );
        assert_eq!(check(&mut m), p0);
        m.masters.get_mut("m").unwrap().config_epoch = 3;
        assert!(check(&mut m).ends_with(",m,10.0.0.1,6379,3"));
        m.g.current_epoch = 4;
        assert!(check(&mut m).ends_with(",4,m,10.0.0.1,6379,3"));
        {
            let mm = m.masters.get_mut("m").unwrap();
            mm.inst.ip = "10.0.0.9".into();
            mm.inst.resolved = Some("10.0.0.9".into());
            mm.inst.port = 6380;
        }
        assert!(check(&mut m).ends_with(",m,10.0.0.9,6380,3"));
        // A master given by name: its IP, or the name with announce-hostnames yes.
        m.masters.get_mut("m").unwrap().inst.ip = "db9".into();
        assert!(check(&mut m).ends_with(",m,10.0.0.9,6380,3"));
        m.g.announce_hostnames = true;
        assert!(check(&mut m).ends_with(",m,db9,6380,3"));
        m.g.announce_hostnames = false;
        m.io.links.get_mut(&key).unwrap().local_ip = Some("10.0.1.2".into());
        assert!(check(&mut m).starts_with("10.0.1.2,26379,"));
        m.g.announce_ip = Some("192.0.2.1".into());
        m.g.announce_port = 26999;
        assert!(check(&mut m).starts_with("192.0.2.1,26999,"));
        m.g.myid = "f".repeat(40);
        assert!(check(&mut m).contains(&format!(",{},", "f".repeat(40))));
    }

    /// The quiet mark never delays periodic work: with every command answered at
    /// once, the timer still sends PING every second, hello every two seconds and
    /// INFO every ten (each at most one tick late and at most ALIGN early),
    /// while most ticks pass the instance over.
    #[test]
    fn quiet_instances_still_get_ping_hello_and_info_on_time() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let (id, key, conn) = master_links_up(&mut m, t0);
        let pkey = LinkKey::Pubsub(id);
        let pconn = m.io.links[&pkey].conn;
        let info = "run_id:0123456789abcdef0123456789abcdef01234567\r\nrole:master\r\n";
        let mut sent: HashMap<&str, Vec<Instant>> = HashMap::new();
        let (mut ticks, mut quiet) = (0, 0);
        let mut t = t0;
        while t < t0 + Duration::from_secs(30) {
            t += Duration::from_millis(100);
            // Our own hellos come back on the pub/sub link.
            m.handle_pubsub_activity(&pkey, pconn, t);
            m.handle_tick(t);
            ticks += 1;
            if matches!(m.masters["m"].inst.quiet_until, Some((q, g)) if g == m.io.gen && q > t) {
                quiet += 1;
            }
            while let Some(a) = m.poll_action() {
                let Action::Send { link, tag, .. } = a else {
                    continue;
                };
                assert_eq!(link, key);
                let (kind, reply) = match &tag {
                    Tag::Ping(_) => ("ping", Frame::simple("PONG")),
                    Tag::Info(_) => ("info", Frame::bulk(info)),
                    Tag::Hello(_) => ("hello", Frame::Integer(1)),
                    _ => ("other", Frame::ok()),
                };
                sent.entry(kind).or_default().push(t);
                m.handle_reply(&key, conn, tag, reply, t + Duration::from_millis(1));
            }
        }
        let tick = Duration::from_millis(100);
        for (kind, period, early) in [
            ("ping", Duration::from_secs(1), ALIGN),
            ("hello", Duration::from_secs(2), ALIGN),
            ("info", Duration::from_secs(10), ALIGN),
        ] {
            let times = &sent[kind];
            assert!(
                times.len() as u64 >= 30 / period.as_secs() - 1,
                "{kind}: {times:?}"
            );
            for w in times.windows(2) {
                let gap = w[1] - w[0];
                assert!(gap <= period + tick + tick, "{kind} late: {gap:?}");
                assert!(gap + early >= period, "{kind} early: {gap:?}");
            }
        }
        assert!(
            quiet * 2 > ticks,
            "only {quiet} of {ticks} ticks passed over"
        );
    }

    /// Steady instances whose links came up at different moments end up with their
    /// PINGs, hellos and INFOs on the same beats, and the timer, sleeping until
    /// something is due, wakes about once a second; no PING is ever more than a
    /// regular tick early or late.
    #[test]
    fn periodic_commands_converge_on_shared_beats() {
        enum Ev {
            Up(LinkKey, u64),
            Reply(LinkKey, u64, Tag, Frame),
        }
        let t0 = Instant::now();
        let mut text = String::from("sentinel myid 0123456789abcdef0123456789abcdef01234567\n");
        for k in 0..4 {
            text += &format!("sentinel monitor m{k} 10.0.0.{k} 6379 1\n");
            text += &format!("sentinel down-after-milliseconds m{k} 5000\n");
        }
        let l = config::parse("t.conf", &text, &[], &Timers::default(), t0).unwrap();
        let mut m = Machine::new(l.global, l.masters, 7);
        let info = "run_id:0123456789abcdef0123456789abcdef01234567\r\nrole:master\r\n";
        let mut pending: Vec<(Instant, Ev)> = Vec::new();
        let mut pings: Vec<(String, Instant)> = Vec::new();
        let mut ticks = Vec::new();
        let mut next_tick = t0;
        let end = t0 + Duration::from_secs(40);
        loop {
            let first = pending.iter().map(|(t, _)| *t).min();
            let t = first.map_or(next_tick, |p| p.min(next_tick));
            if t > end {
                break;
            }
            if t == next_tick {
                m.handle_tick(t);
                ticks.push(t);
                next_tick = m.poll_timeout(t);
                assert!(next_tick > t);
            } else {
                let k = pending.iter().position(|(at, _)| *at == t).unwrap();
                match pending.swap_remove(k).1 {
                    Ev::Up(key, conn) => {
                        m.handle_link_up(&key, conn, Some("10.0.1.1".into()), None, t)
                    }
                    Ev::Reply(key, conn, tag, f) => m.handle_reply(&key, conn, tag, f, t),
                }
                if let Some(w) = m.wake_request(t) {
                    next_tick = next_tick.min(w);
                }
            }
            while let Some(a) = m.poll_action() {
                match a {
                    // Master k's links come up k * 230 ms late: out of step.
                    Action::Connect { link, conn, .. } => {
                        let (LinkKey::Cmd(id) | LinkKey::Pubsub(id)) = &link else {
                            continue;
                        };
                        let k: u64 = id.master()[1..].parse().unwrap();
                        let at = t + Duration::from_millis(1 + 230 * k);
                        pending.push((at, Ev::Up(link, conn)));
                    }
                    Action::Send {
                        link, conn, tag, ..
                    } => {
                        let reply = match &tag {
                            Tag::Ping(id) => {
                                pings.push((id.master().to_string(), t));
                                Frame::simple("PONG")
                            }
                            Tag::Info(_) => Frame::bulk(info),
                            Tag::Hello(id) => {
                                // Our own hello comes back on the pub/sub link.
                                let p = LinkKey::Pubsub(id.clone());
                                let pconn = m.io.links[&p].conn;
                                m.handle_pubsub_activity(&p, pconn, t);
                                Frame::Integer(1)
                            }
                            _ => Frame::ok(),
                        };
                        pending.push((
                            t + Duration::from_millis(1),
                            Ev::Reply(link, conn, tag, reply),
                        ));
                    }
                    _ => {}
                }
            }
        }
        let from = t0 + Duration::from_secs(20);
        let late: Vec<_> = pings.iter().filter(|(_, t)| *t >= from).collect();
        assert!(late.len() >= 4 * 19, "{late:?}");
        // Every PING of the last 20 s went out on a beat shared by all four.
        for (_, t) in &late {
            let n = late.iter().filter(|(_, u)| u == t).count();
            assert_eq!(n, 4, "PINGs at {:?} not shared", *t - t0);
        }
        let woke = ticks.iter().filter(|t| **t >= from).count();
        assert!(woke <= 25, "{woke} ticks in 20 s");
        for k in 0..4 {
            let times: Vec<Instant> = pings
                .iter()
                .filter(|(n, _)| *n == format!("m{k}"))
                .map(|(_, t)| *t)
                .collect();
            for w in times.windows(2) {
                let gap = w[1] - w[0];
                assert!(gap >= Duration::from_millis(900), "m{k} early: {gap:?}");
                assert!(gap <= Duration::from_millis(1102), "m{k} late: {gap:?}");
            }
        }
    }

    /// A tick planned a second ahead (nothing due) tolerates the same stall as
    /// Redis's 100 ms tick: TILT only when the wake-up comes more than
    /// tilt-trigger minus one tick after it was planned.
    #[test]
    fn tilt_measures_the_stall_past_the_planned_tick() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        m.handle_tick(t0);
        m.planned_tick = Some(t0 + Duration::from_secs(1));
        // Woken 1.8 s after the planned time (2.8 s after the last tick): no TILT.
        let t1 = t0 + Duration::from_millis(2800);
        m.handle_tick(t1);
        assert!(!m.tilt);
        // Planned 100 ms ahead, woken 2.1 s later: TILT, as in Redis.
        m.planned_tick = Some(t1 + Duration::from_millis(100));
        m.handle_tick(t1 + Duration::from_millis(2100));
        assert!(m.tilt);
        // Planned 1 s ahead, woken 2 s late: TILT.
        let mut m = machine(t0);
        m.handle_tick(t0);
        m.planned_tick = Some(t0 + Duration::from_secs(1));
        m.handle_tick(t0 + Duration::from_millis(3000));
        assert!(m.tilt);
    }

    #[test]
    fn tilt_on_a_stall_blocks_actions_and_votes() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        m.handle_tick(t0);
        events(&mut m);
        // A 3 s stall between ticks: TILT.
        let t1 = t0 + Duration::from_secs(3);
        m.handle_tick(t1);
        let ev = events(&mut m);
        assert!(
            ev.contains(&"+tilt #tilt mode entered".to_string()),
            "{ev:?}"
        );
        assert!(m.tilt);
        // The master never answered, but no SDOWN is declared in TILT.
        let t2 = t1 + Duration::from_millis(100);
        m.handle_tick(t2);
        assert!(m.masters["m"].inst.sdown_since.is_none());
        // No vote, and "not down", while in TILT.
        let r = m.is_master_down_by_addr(
            "10.0.0.1",
            6379,
            5,
            "fedcba9876543210fedcba9876543210fedcba98",
            t2,
        );
        assert_eq!(
            r,
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::bulk_str("*"),
                Frame::Integer(0)
            ])
        );
        assert!(!m.take_dirty());
        // TILT ends after the tilt period (ticks keep coming regularly).
        let mut t = t2;
        while t < t1 + Duration::from_secs(31) {
            t += Duration::from_millis(100);
            m.handle_tick(t);
        }
        let ev = events(&mut m);
        assert!(
            ev.contains(&"-tilt #tilt mode exited".to_string()),
            "{ev:?}"
        );
        assert!(!m.tilt);
        assert!(
            m.masters["m"].inst.sdown_since.is_some(),
            "acts again after TILT"
        );
    }

    #[test]
    fn sdown_after_down_after_and_back() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let mut t = t0;
        for _ in 0..5 {
            t += Duration::from_millis(100);
            m.handle_tick(t);
        }
        // Links requested; bring the command link up and answer PINGs.
        let key = LinkKey::Cmd(Inst::Master("m".into()));
        let conn = m.io.links[&key].conn;
        m.handle_link_up(&key, conn, Some("10.0.1.1".into()), None, t);
        m.handle_reply(
            &key,
            conn,
            Tag::Ping(Inst::Master("m".into())),
            Frame::simple("PONG"),
            t,
        );
        for _ in 0..9 {
            t += Duration::from_millis(100);
            m.handle_tick(t);
        }
        assert!(m.masters["m"].inst.sdown_since.is_none());
        // Silence for more than down-after: +sdown; with quorum 1 also +odown.
        for _ in 0..25 {
            t += Duration::from_millis(100);
            m.handle_tick(t);
        }
        let ev = events(&mut m);
        assert!(
            ev.contains(&"+sdown master m 10.0.0.1 6379".to_string()),
            "{ev:?}"
        );
        assert!(ev
            .iter()
            .any(|e| e.starts_with("+odown master m 10.0.0.1 6379 #quorum 1/1")));
        // A valid reply (-LOADING counts) clears it.
        m.handle_reply(
            &key,
            conn,
            Tag::Ping(Inst::Master("m".into())),
            Frame::error("LOADING loading"),
            t,
        );
        t += Duration::from_millis(100);
        m.handle_tick(t);
        let ev = events(&mut m);
        assert!(
            ev.contains(&"-sdown master m 10.0.0.1 6379".to_string()),
            "{ev:?}"
        );
        assert!(
            ev.contains(&"-odown master m 10.0.0.1 6379".to_string()),
            "{ev:?}"
        );
    }

    /// Like Redis: the outage clock starts at the oldest unanswered PING and keeps
    /// running across a reconnect (the new link's PING does not restart it); a
    /// valid reply within down-after stops it.
    #[test]
    fn sdown_clock_runs_from_the_oldest_unanswered_ping_across_reconnects() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let (id, key, conn) = master_links_up(&mut m, t0);
        m.handle_reply(&key, conn, Tag::Ping(id.clone()), Frame::simple("PONG"), t0);
        assert!(m.masters["m"].inst.act_ping_time.is_none());
        // Tick until the next PING goes out; it starts the clock.
        let mut t = t0;
        while m.masters["m"].inst.act_ping_time.is_none() {
            t += Duration::from_millis(100);
            m.handle_tick(t);
        }
        let first = t;
        assert_eq!(m.masters["m"].inst.act_ping_time, Some(first));
        // The command link drops and comes back 700 ms later: the new link's PING
        // does not restart the clock.
        m.handle_link_down(&key, conn, "reset", first + Duration::from_millis(600));
        let mut conn2 = conn;
        while t < first + Duration::from_millis(700) {
            t += Duration::from_millis(100);
            m.handle_tick(t);
            if let Some(l) = m.io.links.get(&key) {
                if l.connecting {
                    conn2 = l.conn;
                }
            }
        }
        assert_ne!(conn2, conn, "reconnected");
        m.handle_link_up(&key, conn2, Some("10.0.1.1".into()), None, t);
        assert_eq!(m.masters["m"].inst.act_ping_time, Some(first));
        // 1 s after the first unanswered PING: SDOWN, though the new link is
        // only 300 ms old.
        while t <= first + Duration::from_millis(1000) {
            t += Duration::from_millis(100);
            m.handle_tick(t);
        }
        assert!(m.masters["m"].inst.sdown_since.is_some());
        // The PONG on the new link clears it.
        m.handle_reply(&key, conn2, Tag::Ping(id.clone()), Frame::simple("PONG"), t);
        m.handle_tick(t + Duration::from_millis(100));
        assert!(m.masters["m"].inst.sdown_since.is_none());
    }

    /// A master silent for half of down-after (a SIGSTOP) answers the pending
    /// PING when it resumes and is never SDOWN, whatever the phase of the pause.
    #[test]
    fn silence_of_half_down_after_is_never_sdown() {
        for down_after in [1000u64, 2000] {
            for phase in (0..1000).step_by(50) {
                let t0 = Instant::now();
                let mut m = machine(t0);
                m.masters["m"].inst.down_after = Duration::from_millis(down_after);
                let (id, key, conn) = master_links_up(&mut m, t0);
                let stop = t0 + Duration::from_millis(3000 + phase);
                let resume = stop + Duration::from_millis(down_after / 2);
                let mut t = t0;
                let mut answered = 0;
                while t < resume + Duration::from_millis(3 * down_after) {
                    t += Duration::from_millis(100);
                    m.handle_tick(t);
                    // The instance answers every PING at once, except while stopped,
                    // when the PINGs wait until it resumes.
                    let mut pings = 0;
                    while let Some(a) = m.poll_action() {
                        if let Action::Send {
                            tag: Tag::Ping(_), ..
                        } = a
                        {
                            pings += 1;
                        }
                    }
                    answered += pings;
                    if (t < stop || t >= resume) && m.masters["m"].inst.act_ping_time.is_some() {
                        m.handle_reply(&key, conn, Tag::Ping(id.clone()), Frame::simple("PONG"), t);
                    }
                    assert!(
                        m.masters["m"].inst.sdown_since.is_none(),
                        "down-after {down_after} phase {phase}: SDOWN at {:?}",
                        t - stop
                    );
                }
                assert!(answered > 3);
            }
        }
    }

    #[test]
    fn hello_adds_peer_and_adopts_newer_config() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let peer = "fedcba9876543210fedcba9876543210fedcba98";
        m.handle_hello(&format!("10.0.1.2,26379,{peer},3,m,10.0.0.1,6379,0"), t0);
        assert_eq!(m.masters["m"].sentinels.len(), 1);
        assert_eq!(m.g.current_epoch, 3);
        // Same address, other run id: the old entry's address becomes invalid.
        let peer2 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        m.handle_hello(&format!("10.0.1.2,26379,{peer2},3,m,10.0.0.1,6379,0"), t0);
        assert_eq!(m.masters["m"].sentinels[peer].port, 0);
        // A newer config epoch with another address switches the master.
        m.handle_hello(&format!("10.0.1.2,26379,{peer2},4,m,10.0.0.9,6380,4"), t0);
        assert_eq!(
            m.masters["m"].current_addr(&m.g),
            ("10.0.0.9".to_string(), 6380)
        );
        assert_eq!(m.masters["m"].config_epoch, 4);
        let ev = events(&mut m);
        assert!(
            ev.contains(&"+switch-master m 10.0.0.1 6379 10.0.0.9 6380".to_string()),
            "{ev:?}"
        );
        assert!(
            m.masters["m"].replicas.contains_key("10.0.0.1:6379"),
            "old master kept as replica"
        );
        // Our own hellos and garbage are ignored.
        m.handle_hello("0123456789abcdef0123456789abcdef01234567,x", t0);
        m.handle_hello("10.0.1.2,26379,x,1,m", t0);
        assert_eq!(m.masters["m"].sentinels.len(), 2);
    }

    /// With `resolve-hostnames yes` a master given by name is reported by the IP it
    /// resolved to when created (by its name with `announce-hostnames yes`), and
    /// addresses that come in match it by IP or by name: a peer's
    /// IS-MASTER-DOWN-BY-ADDR, a hello's master address, a replica listed by its
    /// master. A link that reaches it reports its IP again.
    #[test]
    fn hostname_master_reported_by_ip_and_matched_by_ip_or_name() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        m.g.resolve_hostnames = true;
        m.g.resolver =
            crate::sentinel::addr::Resolver::table([("db1", "10.0.0.5"), ("db2", "10.0.0.6")]);
        assert_eq!(
            m.monitor("h", "nowhere", "6379", "2", t0),
            Err("Invalid IP address or hostname specified".to_string())
        );
        m.monitor("h", "db1", "6379", "2", t0).unwrap();
        let ev = events(&mut m);
        assert!(
            ev.contains(&"+monitor master h 10.0.0.5 6379 quorum 2".to_string()),
            "{ev:?}"
        );
        assert_eq!(m.masters["h"].current_addr(&m.g), ("10.0.0.5".into(), 6379));
        // Asked by IP (Redis peers, announce-hostnames no) or by name.
        for host in ["10.0.0.5", "db1", "DB1"] {
            assert_eq!(m.master_by_addr(host, 6379).as_deref(), Some("h"), "{host}");
        }
        assert_eq!(m.master_by_addr("10.0.0.6", 6379), None);
        assert_eq!(m.master_by_addr("db1", 6380), None);
        // A replica listed by IP, then by a name for the same IP: one replica, named
        // by its IP.
        let info = |ip: &str| {
            format!("# Replication\r\nrole:master\r\nslave0:ip={ip},port=6380,state=online,offset=0,lag=0\r\n")
        };
        let hid = Inst::Master("h".into());
        m.on_info(&hid, &info("10.0.0.6"), t0);
        m.on_info(&hid, &info("db2"), t0);
        let keys: Vec<&String> = m.masters["h"].replicas.keys().collect();
        assert_eq!(keys, ["10.0.0.6:6380"]);
        // The config rewrite names the master by IP, or by name with announce yes.
        let monitor_line = |m: &Machine| {
            config::render_state(&m.g, &m.masters)
                .into_iter()
                .find(|l| l.starts_with("sentinel monitor h "))
                .unwrap()
        };
        assert_eq!(monitor_line(&m), "sentinel monitor h 10.0.0.5 6379 2");
        m.g.announce_hostnames = true;
        assert_eq!(monitor_line(&m), "sentinel monitor h db1 6379 2");
        assert_eq!(m.masters["h"].current_addr(&m.g), ("db1".into(), 6379));
        m.g.announce_hostnames = false;
        // A peer's newer config naming the same master (by IP or by name) is no
        // switch; naming another host is.
        let peer = "fedcba9876543210fedcba9876543210fedcba98";
        m.handle_hello(&format!("10.0.1.2,26379,{peer},1,h,10.0.0.5,6379,1"), t0);
        m.handle_hello(&format!("10.0.1.2,26379,{peer},2,h,db1,6379,2"), t0);
        let ev = events(&mut m);
        assert!(
            !ev.iter().any(|e| e.starts_with("+switch-master")),
            "{ev:?}"
        );
        assert_eq!(m.masters["h"].config_epoch, 2);
        m.handle_hello(&format!("10.0.1.2,26379,{peer},3,h,db2,6379,3"), t0);
        let ev = events(&mut m);
        assert!(
            ev.contains(&"+switch-master h 10.0.0.5 6379 db2 6379".to_string()),
            "{ev:?}"
        );
        assert_eq!(m.masters["h"].current_addr(&m.g), ("10.0.0.6".into(), 6379));
        assert!(m.masters["h"].replicas.contains_key("10.0.0.5:6379"));
        // The link reaches the name at another IP now: that IP is reported.
        m.handle_tick(t0);
        let key = LinkKey::Cmd(Inst::Master("h".into()));
        let conn = m.io.links[&key].conn;
        m.handle_link_up(&key, conn, None, Some("10.0.0.7".into()), t0);
        assert_eq!(m.masters["h"].current_addr(&m.g), ("10.0.0.7".into(), 6379));
        // Without resolve-hostnames, links never rename anything.
        m.g.resolve_hostnames = false;
        m.handle_link_up(&key, conn, None, Some("10.0.0.8".into()), t0);
        assert_eq!(m.masters["h"].current_addr(&m.g), ("10.0.0.7".into(), 6379));
    }
}
