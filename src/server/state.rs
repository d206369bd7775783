//! The server's shared state: everything commands touch, behind one lock.
//!
//! One lock (like Redis's single thread) keeps every write in one order, which is the
//! order of the replication stream. Connection tasks take it once per batch of
//! pipelined commands.

use super::blocking::Blocking;
use super::client::ClientRegistry;
use super::config::Config;
use super::db::Db;
use super::pubsub::PubSub;
use super::replication::Replication;
use super::stats::Stats;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Why and how the server is asked to stop.
#[derive(Clone, Debug, PartialEq)]
pub enum ShutdownRequest {
    /// Save if save points are configured (SHUTDOWN, SIGTERM).
    Default,
    Save,
    NoSave,
}

pub struct State {
    pub config: Config,
    pub dbs: Vec<Db>,
    pub clients: ClientRegistry,
    pub pubsub: PubSub,
    pub stats: Stats,
    pub repl: Replication,
    pub blocking: Blocking,
    /// 40-hex id, new at every start (INFO run_id).
    pub run_id: String,
    pub started: Instant,
    /// Loading a dataset (startup RDB or full sync): commands answer -LOADING.
    pub loading: bool,
    pub shutdown: Option<ShutdownRequest>,
    /// TCP port we listen on (after binding).
    pub port: u16,
    /// Clients whose WATCHed keys were modified (their EXEC fails).
    pub dirty_cas: std::collections::HashSet<u64>,
    /// Active expiry in the cron (DEBUG SET-ACTIVE-EXPIRE 0 turns it off).
    pub active_expire_enabled: bool,
    /// Unix seconds of the last successful save (LASTSAVE); the start time until then.
    pub lastsave: i64,
    /// Connections in MONITOR mode (commands/server.rs feeds them).
    pub monitors: std::collections::BTreeSet<u64>,
    /// Sentinel leases for write fencing (`vigil-fencing`).
    pub fencing: super::fencing::Fencing,
    /// When the last command of the running batch ended: the next one's start (one
    /// clock read per command). Set by `begin_batch`.
    pub clock_mark: Option<Instant>,
    /// SLOWLOG entries (fed by `command::call`).
    pub slowlog: super::slowlog::SlowLog,
    /// LATENCY events (fed by `command::call`).
    pub latency: super::latency::Monitor,
    /// CLIENT PAUSE and FAILOVER's write pause.
    pub pause: super::pause::Pauses,
    /// The wall clock at a monotonic instant (unix microseconds), re-read by the cron
    /// every 100 ms: a batch derives its wall time from the one monotonic reading it
    /// takes anyway.
    wall_base: (Instant, i64),
}

impl State {
    pub fn new(config: Config) -> State {
        let n = config.hot.databases;
        State {
            dbs: (0..n).map(|_| Db::new(true)).collect(),
            clients: ClientRegistry::default(),
            pubsub: PubSub::default(),
            stats: Stats::default(),
            repl: Replication::new(&config),
            blocking: Blocking::default(),
            run_id: crate::util::ids::random_hex40(),
            started: Instant::now(),
            loading: false,
            shutdown: None,
            port: config.get_i64("port") as u16,
            dirty_cas: Default::default(),
            active_expire_enabled: true,
            lastsave: unix_ms() / 1000,
            monitors: Default::default(),
            fencing: Default::default(),
            clock_mark: None,
            slowlog: Default::default(),
            latency: Default::default(),
            pause: Default::default(),
            wall_base: wall_now(),
            config,
        }
    }

    /// Start a batch of commands run under one lock: the wall clock its commands
    /// share (unix ms) and a fresh call clock (see `clock_mark`).
    pub fn begin_batch(&mut self) -> i64 {
        let now = Instant::now();
        self.clock_mark = Some(now);
        let (at, base_us) = self.wall_base;
        let us = base_us + now.saturating_duration_since(at).as_micros() as i64;
        let ms = us / 1000;
        LAST_UNIX_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
        ms
    }

    /// Re-read the wall clock that `begin_batch` extrapolates from (the cron calls
    /// this every 100 ms, so a wall-clock step is followed within that).
    pub fn resync_wall_clock(&mut self) {
        self.wall_base = wall_now();
    }

    /// Sum of the dirty counters of all databases.
    pub fn dirty(&self) -> u64 {
        self.dbs.iter().map(|d| d.dirty).sum()
    }

    /// Whether this server is a replica.
    pub fn is_replica(&self) -> bool {
        self.repl.master.is_some()
    }
}

/// The state plus the wake-ups that tasks wait on.
pub struct Shared {
    pub state: Mutex<State>,
    /// Signalled when a shutdown is requested.
    pub shutdown: Notify,
}

impl Shared {
    pub fn new(config: Config) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State::new(config)),
            shutdown: Notify::new(),
        })
    }
}

/// Wall clock in unix milliseconds (for expiry, which Redis keys on wall time).
/// Every batch of commands reads it once; [`recent_unix_ms`] reuses that reading.
pub fn unix_ms() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    LAST_UNIX_MS.store(now, std::sync::atomic::Ordering::Relaxed);
    now
}

/// A monotonic instant and the wall clock (unix µs) read right after it.
fn wall_now() -> (Instant, i64) {
    let at = Instant::now();
    let us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    (at, us)
}

static LAST_UNIX_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The last [`unix_ms`] reading (no clock read): for the keys' LRU clock, whose
/// resolution is a second (Redis's LRU clock is likewise refreshed by its cron).
pub fn recent_unix_ms() -> i64 {
    match LAST_UNIX_MS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => unix_ms(),
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_wall_clock_follows_the_system_clock() {
        let mut st = State::new(Config::default());
        for _ in 0..3 {
            std::thread::sleep(std::time::Duration::from_millis(30));
            let before = unix_ms();
            let batch = st.begin_batch();
            let after = unix_ms();
            assert!(
                before - 1 <= batch && batch <= after + 1,
                "{before} {batch} {after}"
            );
            assert!(st.clock_mark.is_some());
            st.resync_wall_clock();
        }
    }
}
