//! Replication: the one replication stream (backlog + fan-out to replicas), the
//! master side (replicas, PSYNC, full/partial sync, WAIT, min-replicas), the replica
//! side (link to our master) and RDB persistence. See replication.md.
//!
//! Every write the master executes enters the stream once through [`Replication::feed`]
//! and is emitted as RESP bytes by [`Replication::flush_batch`] into the backlog;
//! replica sender tasks read from the backlog at their own position and are woken
//! through a `watch` channel. A replica re-streams the exact bytes it applied from its
//! master ([`Replication::proxy`]), so offsets are the same along a chain.

pub mod backlog;
pub mod failover;
pub mod fork;
pub mod master;
pub mod persist;
pub mod replica;

use super::config::Config;
use super::state::{Shared, State};
use backlog::Backlog;
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Instant;

pub use persist::save_on_shutdown;

/// Where our master is, when we are a replica.
#[derive(Clone, Debug, PartialEq)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

/// State of one replica connected to us (INFO `state=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    WaitBgsave,
    SendBulk,
    Online,
}

impl ReplicaState {
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// What REPLCONF told us about a connection before it sent PSYNC.
#[derive(Clone, Debug, Default)]
pub struct ReplConf {
    pub listening_port: i64,
    pub ip_address: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// `REPLCONF rdb-only 1`: send the RDB and close (redis-cli --rdb).
    pub rdb_only: bool,
}

/// A replica connected to us.
pub struct ReplicaInfo {
    pub id: u64,
    /// Announced ip (REPLCONF ip-address) or the peer ip.
    pub ip: String,
    pub port: i64,
    pub state: ReplicaState,
    pub ack_off: i64,
    pub ack_time: Instant,
    /// Next stream byte to send to it (`i64::MAX` while waiting for a snapshot).
    pub next: i64,
    /// Stream offset up to which its socket has taken the bytes.
    pub sent: i64,
    pub conf: ReplConf,
    /// Came with SYNC (no PSYNC): sends no ACKs, never timed out for missing ones.
    pub pre_psync: bool,
    /// Its sender streams the backlog (not waiting for a snapshot or an ACK):
    /// only then do writers wait for its socket.
    pub streaming: bool,
    /// Sent a REPLCONF ACK since its RDB transfer ended (an EOF-framed transfer is
    /// followed by the stream only after the first ACK, like Redis).
    pub acked_since_rdb: bool,
}

/// Replica-side link state (ROLE / INFO strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    Handshake,
    Sync,
    Connected,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// Our link to our master.
pub struct Link {
    pub state: LinkState,
    /// Whether a master client exists (connected) — INFO offsets are 1 otherwise.
    pub has_client: bool,
    pub read_off: i64,
    pub applied: i64,
    pub last_io: Instant,
    /// When the link went down; `None`: never up since start or promotion.
    pub down_since: Option<Instant>,
    pub sync_total: i64,
    pub sync_read: i64,
    pub sync_last_io: Instant,
    /// Bumped on every REPLICAOF: link tasks of an older generation stop.
    pub generation: u64,
    /// A pending `PSYNC ... FAILOVER` for the next handshake.
    pub psync_failover: bool,
}

/// Coordinated failover state (FAILOVER command).
#[derive(Clone, Debug, PartialEq)]
pub enum FailoverState {
    None,
    WaitForSync {
        target: Option<(String, u16)>,
        deadline: Option<Instant>,
        force: bool,
    },
    InProgress,
}

/// Replication state shared by both roles.
pub struct Replication {
    /// Our master when we are a replica.
    pub master: Option<MasterAddr>,
    /// Replication id (40 hex) and the previous one (PSYNC2).
    pub replid: String,
    pub replid2: String,
    pub master_repl_offset: i64,
    pub second_repl_offset: i64,
    /// Database the stream last SELECTed (-1: none yet).
    pub stream_db: i64,
    /// Commands of the current top-level execution, emitted by `flush_batch`: their
    /// db and the end of their RESP encoding in `batch_buf`.
    batch: Vec<(usize, usize)>,
    batch_buf: BytesMut,
    scratch: BytesMut,
    pub backlog: Option<Backlog>,
    /// Replicas by client id.
    pub replicas: BTreeMap<u64, ReplicaInfo>,
    /// REPLCONF options of connections that may become replicas.
    pub pending_conf: HashMap<u64, ReplConf>,
    /// Wakes replica sender tasks when the stream grows (value: master_repl_offset).
    pub stream_tx: tokio::sync::watch::Sender<i64>,
    /// Stream offset every waited-for replica's socket has taken (see
    /// `waited_sent`). Connections wait for it before replying to a write (see
    /// `conn.rs`), so a write is never acknowledged before its bytes are on their way
    /// to every replica that keeps up: whichever the sentinels promote has it.
    pub sent_tx: Arc<tokio::sync::watch::Sender<i64>>,
    /// Bumped on every REPLCONF ACK: connections waiting for replica confirmations
    /// (`server::sync_ack`) re-check their count.
    pub acks_tx: Arc<tokio::sync::watch::Sender<u64>>,
    /// Stream offset of the last `REPLCONF GETACK *` sent for confirmations: a write
    /// before it needs no GETACK of its own.
    pub getack_at: i64,
    pub link: Link,
    /// Cached master for PSYNC after a broken link: (replid, applied offset).
    pub cached: Option<(String, i64)>,
    /// The full-sync snapshot being produced (replicas may attach to a disk one).
    pub snapshot: Option<Arc<master::SnapshotJob>>,
    /// Replicas that asked for a full sync and wait for a snapshot to start
    /// (WAIT_BGSAVE_START: batched by repl-diskless-sync-delay).
    pub sync_waiting: BTreeMap<u64, master::WaitingSync>,
    /// The wait the "Delay next BGSAVE" line was logged for (once per batch).
    pub snapshot_delay_logged_for: Option<Instant>,
    pub failover: FailoverState,
    /// WAIT callers blocked: client id → (target offset, deadline).
    pub waits: HashMap<u64, Option<Instant>>,
    pub last_ping: Instant,
    pub no_replicas_since: Option<Instant>,
    pub persist: persist::PersistState,
    /// Db selected on our master link (repl-stream-db of our snapshots).
    pub link_db: i64,
    /// The shared server, for tasks started from command handlers.
    pub shared: Option<Weak<Shared>>,
}

/// How far (bytes) a replica's socket may be behind the stream and still be waited
/// for before a write's reply (see `Replication::waited_sent`).
pub const SENT_LAG_LIMIT: i64 = 1 << 20;

/// Sentinel key used to wake WAIT callers (never a real key lookup).
pub const WAIT_KEY: &[u8] = b"\x00vigil-wait-acks";

impl Replication {
    pub fn new(config: &Config) -> Replication {
        let (stream_tx, _) = tokio::sync::watch::channel(0);
        let (sent_tx, _) = tokio::sync::watch::channel(0);
        let (acks_tx, _) = tokio::sync::watch::channel(0);
        Replication {
            master: config
                .replicaof()
                .map(|(host, port)| MasterAddr { host, port }),
            replid: crate::util::ids::random_hex40(),
            replid2: "0".repeat(40),
            master_repl_offset: 0,
            second_repl_offset: -1,
            stream_db: -1,
            batch: Vec::new(),
            batch_buf: BytesMut::new(),
            scratch: BytesMut::new(),
            backlog: None,
            replicas: BTreeMap::new(),
            pending_conf: HashMap::new(),
            stream_tx,
            sent_tx: Arc::new(sent_tx),
            acks_tx: Arc::new(acks_tx),
            getack_at: 0,
            link: Link {
                state: LinkState::Connect,
                has_client: false,
                read_off: 0,
                applied: 0,
                last_io: Instant::now(),
                down_since: None,
                sync_total: -1,
                sync_read: 0,
                sync_last_io: Instant::now(),
                generation: 0,
                psync_failover: false,
            },
            cached: None,
            snapshot: None,
            sync_waiting: BTreeMap::new(),
            snapshot_delay_logged_for: None,
            failover: FailoverState::None,
            waits: HashMap::new(),
            last_ping: Instant::now(),
            no_replicas_since: Some(Instant::now()),
            persist: persist::PersistState::default(),
            link_db: 0,
            shared: None,
        }
    }

    /// The shared server (set by `start`).
    pub fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.as_ref().and_then(Weak::upgrade)
    }

    /// Queue one executed write for the replication stream. This is the only place
    /// writes enter the stream; the queue is emitted by `flush_batch` at the end of
    /// the top-level command. A replica generates no stream of its own.
    pub fn feed<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        if self.master.is_some() || self.backlog.is_none() {
            return;
        }
        crate::resp::Frame::encode_command(argv, &mut self.batch_buf);
        self.batch.push((db, self.batch_buf.len()));
    }

    /// Emit the queued writes of one top-level execution: a single command bare, two
    /// or more wrapped in MULTI/EXEC (replication.md §6).
    pub fn flush_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let buf = std::mem::take(&mut self.batch_buf);
        let wrap = batch.len() > 1;
        if wrap {
            self.emit(batch[0].0, &[Bytes::from_static(b"MULTI")]);
        }
        let mut start = 0;
        for &(db, end) in &batch {
            self.select(db);
            self.append_raw(&buf[start..end]);
            start = end;
        }
        if wrap {
            let last = batch[batch.len() - 1].0;
            self.emit(last, &[Bytes::from_static(b"EXEC")]);
        }
        // Keep the buffers' capacity for the next execution.
        self.batch = batch;
        self.batch.clear();
        self.batch_buf = buf;
        self.batch_buf.clear();
        if self.batch_buf.capacity() > 1 << 20 {
            self.batch_buf = BytesMut::new();
        }
        self.wake();
    }

    /// Emit one command right away, unwrapped (active expiry, eviction).
    pub fn feed_unwrapped(&mut self, db: usize, argv: &[Bytes]) {
        if self.master.is_some() || self.backlog.is_none() {
            return;
        }
        self.flush_batch();
        self.emit(db, argv);
        self.wake();
    }

    fn emit(&mut self, db: usize, argv: &[Bytes]) {
        self.select(db);
        self.append(argv);
    }

    /// A SELECT into the stream when the next command's db differs from the last one.
    fn select(&mut self, db: usize) {
        if self.stream_db != db as i64 {
            let sel = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
            self.append(&sel);
            self.stream_db = db as i64;
        }
    }

    /// Emit a command that never triggers a SELECT (the cron `ping`, GETACK).
    pub fn emit_no_select(&mut self, argv: &[&[u8]]) {
        if self.backlog.is_none() || self.master.is_some() {
            return;
        }
        self.scratch.clear();
        crate::resp::Frame::encode_command(argv, &mut self.scratch);
        let bytes = std::mem::take(&mut self.scratch);
        self.append_raw(&bytes);
        self.scratch = bytes;
        self.wake();
    }

    fn append(&mut self, argv: &[Bytes]) {
        self.scratch.clear();
        crate::resp::Frame::encode_command(argv, &mut self.scratch);
        let bytes = std::mem::take(&mut self.scratch);
        self.append_raw(&bytes);
        self.scratch = bytes;
    }

    /// Append raw stream bytes to the backlog and count them in the offset.
    fn append_raw(&mut self, bytes: &[u8]) {
        self.master_repl_offset += bytes.len() as i64;
        let keep_from = self.replicas.values().map(|r| r.next).min();
        if let Some(b) = self.backlog.as_mut() {
            b.append(bytes);
            b.trim(keep_from);
        }
    }

    /// A replica re-streams the exact bytes it applied from its master.
    pub fn proxy(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.backlog.is_none() {
            let size = self.backlog_size_hint();
            self.backlog = Some(Backlog::new(size, self.master_repl_offset + 1));
        }
        self.append_raw(bytes);
        self.wake();
    }

    fn backlog_size_hint(&self) -> usize {
        self.backlog.as_ref().map(|b| b.size).unwrap_or(1 << 20)
    }

    /// Wake replica senders.
    pub fn wake(&self) {
        if !self.replicas.is_empty() {
            self.stream_tx.send_replace(self.master_repl_offset);
        }
    }

    /// Create the backlog if missing (first replica, or after a sync).
    pub fn ensure_backlog(&mut self, size: usize) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(size, self.master_repl_offset + 1));
        }
    }

    /// PSYNC2 id shift on promotion: the old history stays reachable via replid2.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, crate::util::ids::random_hex40());
        self.second_repl_offset = self.master_repl_offset + 1;
    }

    pub fn clear_replid2(&mut self) {
        self.replid2 = "0".repeat(40);
        self.second_repl_offset = -1;
    }

    /// Drop every replica connection (their tasks notice and close).
    pub fn disconnect_replicas(&mut self) {
        self.sync_waiting.clear();
        if self.replicas.is_empty() {
            return;
        }
        self.replicas.clear();
        self.no_replicas_since = Some(Instant::now());
        self.stream_tx.send_replace(self.master_repl_offset);
    }

    /// The offset a client that just wrote up to `woff` must see sent to the replicas
    /// before its reply goes out: `None` when there is nothing to wait for (no
    /// replica keeps up, or the bytes are already sent).
    pub fn must_send_before_reply(&self, woff: i64) -> Option<i64> {
        match self.waited_sent() {
            Some(sent) if sent < woff => Some(woff),
            _ => None,
        }
    }

    /// The lowest offset the sockets of the replicas that keep up have taken: online
    /// replicas less than `SENT_LAG_LIMIT` bytes behind the stream. A replica further
    /// behind is lagging (its socket is full) and writers do not wait for it, as
    /// Redis's asynchronous replication never does.
    pub fn waited_sent(&self) -> Option<i64> {
        self.replicas
            .values()
            .filter(|r| {
                r.state == ReplicaState::Online
                    && r.streaming
                    && self.master_repl_offset - r.sent <= SENT_LAG_LIMIT
            })
            .map(|r| r.sent)
            .min()
    }

    /// Publish `waited_sent` to the connections waiting on `sent_tx`.
    pub fn publish_sent(&self) {
        if let Some(sent) = self.waited_sent() {
            self.sent_tx.send_if_modified(|v| {
                let changed = *v != sent;
                *v = sent;
                changed
            });
        }
    }

    /// Replicas whose last ACK is recent enough for min-replicas-max-lag.
    pub fn good_replicas(&self, max_lag_secs: i64) -> i64 {
        let now = Instant::now();
        self.replicas
            .values()
            .filter(|r| {
                r.state == ReplicaState::Online
                    && (now.duration_since(r.ack_time).as_secs() as i64) <= max_lag_secs
            })
            .count() as i64
    }

    /// Online replicas that acknowledged at least `offset`.
    pub fn replicas_acked(&self, offset: i64) -> i64 {
        self.replicas
            .values()
            .filter(|r| r.state == ReplicaState::Online && r.ack_off >= offset)
            .count() as i64
    }

    /// Whether the link to our master is up (always true on a master).
    pub fn link_up(&self) -> bool {
        self.master.is_none() || self.link.state == LinkState::Connected
    }
}

/// Start the replication background tasks: load the RDB file, the replica link when
/// `replicaof` is set, and the replication cron (pings, timeouts, save points).
pub fn start(shared: &Arc<Shared>) {
    {
        let mut st = shared.state.lock();
        st.repl.shared = Some(Arc::downgrade(shared));
    }
    persist::load_at_start(shared);
    let is_replica = {
        let mut st = shared.state.lock();
        if st.is_replica() {
            set_expire_deletes(&mut st, false);
            true
        } else {
            false
        }
    };
    if is_replica {
        replica::spawn_link(shared);
    }
    tokio::spawn(master::cron(shared.clone()));
}

/// Keys expire by themselves on a master only; a replica waits for the master's DEL.
/// Nothing expires while clients are paused (`server::pause`).
pub fn set_expire_deletes(st: &mut State, on: bool) {
    let on = on && st.pause.kind.is_none();
    for db in st.dbs.iter_mut() {
        db.expire_deletes = on;
    }
}

/// The `# Replication` section of INFO (field names and order as Redis 7.0).
pub fn info_section(state: &State) -> String {
    use std::fmt::Write;
    let r = &state.repl;
    let now = Instant::now();
    let mut s = String::from("# Replication\r\n");
    match &r.master {
        Some(m) => {
            let l = &r.link;
            let _ = write!(
                s,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n",
                m.host,
                m.port,
                if l.state == LinkState::Connected {
                    "up"
                } else {
                    "down"
                }
            );
            let last_io = if l.has_client {
                now.duration_since(l.last_io).as_secs() as i64
            } else {
                -1
            };
            let syncing = l.state == LinkState::Sync;
            let (read, applied) = if l.has_client {
                (l.read_off, l.applied)
            } else if let Some((_, off)) = &r.cached {
                (*off, *off)
            } else {
                (1, 1)
            };
            let _ = write!(
                s,
                "master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                last_io, syncing as i32, read, applied
            );
            if syncing {
                let left = l.sync_total - l.sync_read;
                let perc = if l.sync_total > 0 {
                    l.sync_read as f64 * 100.0 / l.sync_total as f64
                } else {
                    -0.0
                };
                let _ = write!(
                    s,
                    "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                    l.sync_total,
                    l.sync_read,
                    left,
                    perc,
                    now.duration_since(l.sync_last_io).as_secs()
                );
            }
            if l.state != LinkState::Connected {
                let down = l
                    .down_since
                    .map(|t| now.duration_since(t).as_secs() as i64)
                    .unwrap_or(-1);
                let _ = write!(s, "master_link_down_since_seconds:{down}\r\n");
            }
            let c = &state.config;
            let _ = write!(
                s,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                c.get_i64("replica-priority"),
                c.get_bool("replica-read-only") as i32,
                c.get_bool("replica-announced") as i32
            );
        }
        None => s.push_str("role:master\r\n"),
    }
    let _ = write!(s, "connected_slaves:{}\r\n", r.replicas.len());
    let (min_w, max_lag) = (
        state.config.hot.min_replicas_to_write,
        state.config.hot.min_replicas_max_lag,
    );
    if min_w > 0 && max_lag > 0 {
        let _ = write!(s, "min_slaves_good_slaves:{}\r\n", r.good_replicas(max_lag));
    }
    for (i, rep) in r.replicas.values().enumerate() {
        let lag = if rep.state == ReplicaState::Online {
            now.duration_since(rep.ack_time).as_secs()
        } else {
            0
        };
        let _ = write!(
            s,
            "slave{}:ip={},port={},state={},offset={},lag={}\r\n",
            i,
            rep.ip,
            rep.port,
            rep.state.name(),
            rep.ack_off,
            lag
        );
    }
    let fo = match r.failover {
        FailoverState::None => "no-failover",
        FailoverState::WaitForSync { .. } => "waiting-for-sync",
        FailoverState::InProgress => "failover-in-progress",
    };
    let _ = write!(s, "master_failover_state:{fo}\r\n");
    let _ = write!(
        s,
        "master_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\n",
        r.replid, r.replid2, r.master_repl_offset, r.second_repl_offset
    );
    match &r.backlog {
        Some(b) => {
            let _ = write!(
                s,
                "repl_backlog_active:1\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
                b.size,
                b.first(),
                b.histlen()
            );
        }
        None => {
            let _ = write!(
                s,
                "repl_backlog_active:0\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                state.config.get_i64("repl-backlog-size").max(16384)
            );
        }
    }
    s
}

/// `REPLICAOF NO ONE` (and FAILOVER abort): become a master, keeping the old history
/// reachable through replid2 so our replicas and the old master resync partially.
pub fn become_master(st: &mut State) {
    if st.repl.master.is_none() {
        return;
    }
    st.repl.master = None;
    st.repl.link.generation += 1;
    st.repl.link.state = LinkState::Connect;
    st.repl.link.has_client = false;
    st.repl.link.down_since = None;
    st.repl.link.psync_failover = false;
    st.repl.cached = None;
    st.loading = false;
    st.repl.shift_replid();
    st.repl.disconnect_replicas();
    st.repl.stream_db = -1;
    let size = st.config.get_i64("repl-backlog-size").max(0) as usize;
    st.repl.ensure_backlog(size);
    st.repl.no_replicas_since = Some(Instant::now());
    set_expire_deletes(st, true);
    let _ = st.config.set_raw("replicaof", &[String::new()]);
    st.clients
        .kill_kind(super::client::ClientKind::Master, None);
    tracing::info!(
        "MASTER MODE enabled (user request from 'id=? addr=? laddr=? fd=? name= age=? idle=? flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=replicaof user=default redir=-1 resp=2')"
    );
}

/// `REPLICAOF host port`: follow a (new) master. Returns false when it already is
/// our master.
pub fn become_replica(st: &mut State, host: &str, port: u16) -> bool {
    if let Some(m) = &st.repl.master {
        if m.host.eq_ignore_ascii_case(host) && m.port == port {
            return false;
        }
    }
    let was_master = st.repl.master.is_none();
    st.repl.master = Some(MasterAddr {
        host: host.to_string(),
        port,
    });
    if was_master {
        // The cached master is synthesized from our own history (§4.3).
        st.repl.cached = Some((st.repl.replid.clone(), st.repl.master_repl_offset));
        st.repl.link_db = st.repl.stream_db.max(0);
        st.repl.batch.clear();
        st.repl.batch_buf.clear();
        set_expire_deletes(st, false);
    } else if st.repl.link.has_client {
        st.repl.cached = Some((st.repl.replid.clone(), st.repl.link.applied));
    }
    st.repl.link.down_since = None;
    let _ = st
        .config
        .set_raw("replicaof", &[host.to_string(), port.to_string()]);
    st.clients
        .kill_kind(super::client::ClientKind::Master, None);
    replica::start_link(st);
    tracing::info!("Connecting to MASTER {host}:{port}");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// Offsets count the stream bytes exactly as replication.md §3.1 captured them.
    #[test]
    fn stream_bytes_and_offsets_match_redis() {
        let mut r = Replication::new(&Config::default());
        // No backlog (never had a replica): nothing is appended, the offset stays 0.
        r.feed(0, &[b("SET"), b("a"), b("1")]);
        r.flush_batch();
        assert_eq!(r.master_repl_offset, 0);
        r.ensure_backlog(1 << 20);
        r.emit_no_select(&[b"ping"]);
        assert_eq!(r.master_repl_offset, 14);
        r.feed(0, &[b("SET"), b("a"), b("1")]);
        r.flush_batch();
        assert_eq!(r.master_repl_offset, 64, "ping + SELECT 0 + SET a 1");
        let bl = r.backlog.as_ref().unwrap();
        assert_eq!(
            bl.read(15, 100).unwrap(),
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        // Two commands of one call: MULTI/EXEC around them (SPOP s 2 as two SREMs).
        let before = r.master_repl_offset;
        r.feed(0, &[b("SREM"), b("s"), b("4")]);
        r.feed(0, &[b("SREM"), b("s"), b("3")]);
        r.flush_batch();
        assert_eq!(r.master_repl_offset - before, 85);
        // Another db: a SELECT first (24 bytes for db 10).
        let before = r.master_repl_offset;
        r.feed(10, &[b("DEL"), b("k")]);
        r.flush_batch();
        assert_eq!(r.master_repl_offset - before, 24 + 20);
        // GETACK never SELECTs.
        let before = r.master_repl_offset;
        r.emit_no_select(&[b"REPLCONF", b"GETACK", b"*"]);
        assert_eq!(r.master_repl_offset - before, 37);
        // A replica generates no stream of its own.
        r.master = Some(MasterAddr {
            host: "h".into(),
            port: 1,
        });
        let before = r.master_repl_offset;
        r.feed(0, &[b("SET"), b("x"), b("y")]);
        r.flush_batch();
        assert_eq!(r.master_repl_offset, before);
        r.proxy(b"*1\r\n$4\r\nping\r\n");
        assert_eq!(r.master_repl_offset, before + 14);
    }

    #[test]
    fn promotion_shifts_the_replication_id() {
        let mut r = Replication::new(&Config::default());
        r.master_repl_offset = 3697;
        let old = r.replid.clone();
        r.shift_replid();
        assert_eq!(r.replid2, old);
        assert_eq!(r.second_repl_offset, 3698);
        assert_ne!(r.replid, old);
    }
}
