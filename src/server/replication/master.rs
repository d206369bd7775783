//! Master side: PSYNC decisions (partial from the backlog or full with a snapshot),
//! full-sync snapshots, the task that serves one replica connection (RDB transfer,
//! then the stream from its backlog position, reading its REPLCONF ACKs), and the
//! replication cron (ping replicas, time them out, backlog TTL, save points, FAILOVER
//! progress).
//!
//! Full syncs as in Redis 7.0 (replication.md §1.6, §2): a replica asking for one
//! waits in `wait_bgsave` (newline keepalives) until a snapshot starts; then it gets
//! `+FULLRESYNC <replid> <offset>` (nothing for SYNC) and the RDB.
//! - `repl-diskless-sync yes` (default) and every waiting replica has `capa eof`: a
//!   forked child streams the RDB through a pipe and each replica of the batch gets
//!   it as it is produced, framed `$EOF:<40 hex mark>\r\n<rdb><mark>`; the stream
//!   follows only after the replica's first `REPLCONF ACK`. The snapshot starts
//!   `repl-diskless-sync-delay` seconds after the first replica asked (0: at once),
//!   or as soon as `repl-diskless-sync-max-replicas` are waiting, so replicas that
//!   arrive together share one snapshot.
//! - Otherwise (disk-based): the child writes the RDB file (`dir/dbfilename`, like
//!   a BGSAVE), which is then sent as `$<len>\r\n<rdb>`; a replica that asks while
//!   that file is being written attaches to it.
//!
//! While a snapshot child runs no other one starts; waiting replicas go next.

use super::backlog::Backlog;
use super::{ReplConf, ReplicaInfo, ReplicaState, WAIT_KEY};
use crate::resp::{Frame, RequestLimits, RequestParser};
use crate::server::client::{Client, ClientEntry, ClientKind, ClientMsg};
use crate::server::command::Handoff;
use crate::server::rdb::{self, DbSnapshot, ReplInfo, SaveOptions};
use crate::server::state::{unix_ms, Shared, State};
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, watch};

/// Where a full-sync snapshot comes from.
enum Source {
    /// A clone of the dataset, serialized in a blocking thread (fork failed).
    Cloned(Vec<DbSnapshot>, SaveOptions),
    /// A forked child writing the RDB into a pipe or the RDB file.
    Forked(super::fork::ForkChild),
}

/// A replica that asked for a full sync and waits for its snapshot to start.
pub struct WaitingSync {
    pub since: Instant,
    pub capa_eof: bool,
    pub pre_psync: bool,
    tx: oneshot::Sender<Arc<SnapshotJob>>,
}

/// One RDB snapshot for full syncs, produced once (by a blocking thread reading the
/// child's pipe, or the file it wrote) and read by every replica of its batch.
pub struct SnapshotJob {
    pub offset: i64,
    pub replid: String,
    /// Streamed `$EOF:`-framed (else sent as `$<len>` once complete).
    pub diskless: bool,
    /// The `$EOF:` mark.
    pub mark: String,
    chunks: parking_lot::Mutex<Vec<Bytes>>,
    result: parking_lot::Mutex<Option<Result<(), String>>>,
    /// Bumped on every chunk and at the end.
    progress: watch::Sender<u64>,
}

impl SnapshotJob {
    fn new(offset: i64, replid: String, diskless: bool) -> SnapshotJob {
        SnapshotJob {
            offset,
            replid,
            diskless,
            mark: crate::util::ids::random_hex40(),
            chunks: parking_lot::Mutex::new(Vec::new()),
            result: parking_lot::Mutex::new(None),
            progress: watch::channel(0).0,
        }
    }

    fn push(&self, chunk: Bytes) {
        self.chunks.lock().push(chunk);
        self.progress.send_modify(|v| *v += 1);
    }

    fn finish(&self, r: Result<(), String>) {
        *self.result.lock() = Some(r);
        self.progress.send_modify(|v| *v += 1);
    }

    /// Whether the snapshot is still being produced.
    pub fn running(&self) -> bool {
        self.result.lock().is_none()
    }

    /// Chunks from index `from`, and the result once finished (read first: when it
    /// is there, every chunk is too).
    fn poll(&self, from: usize) -> (Vec<Bytes>, Option<Result<(), String>>) {
        let res = self.result.lock().clone();
        let chunks = self.chunks.lock();
        (chunks.get(from..).unwrap_or(&[]).to_vec(), res)
    }

    /// Produce the RDB (blocking: runs in a blocking thread).
    fn produce(&self, source: Source, file: Option<std::path::PathBuf>) -> Result<(), String> {
        use std::io::Read;
        match source {
            Source::Forked(child) => {
                if let Some(mut pipe) = child.pipe {
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        match pipe.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => self.push(Bytes::copy_from_slice(&buf[..n])),
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                drop(pipe);
                                super::fork::wait(child.pid);
                                return Err(format!("reading the snapshot pipe: {e}"));
                            }
                        }
                    }
                }
                if !super::fork::wait(child.pid) {
                    return Err("the snapshot child failed".into());
                }
                if let Some(path) = file {
                    let data = std::fs::read(&path)
                        .map_err(|e| format!("reading {}: {e}", path.display()))?;
                    self.push(Bytes::from(data));
                }
                Ok(())
            }
            Source::Cloned(dbs, opts) => {
                let bytes = rdb::encode(&dbs, &opts);
                if let Some(path) = file {
                    crate::util::fsutil::write_atomic(&path, &bytes)
                        .map_err(|e| format!("writing {}: {e}", path.display()))?;
                }
                self.push(Bytes::from(bytes));
                Ok(())
            }
        }
    }
}

/// The replication aux fields for an RDB taken now (§4.6), when there is history.
pub fn repl_info_now(st: &State) -> Option<ReplInfo> {
    let r = &st.repl;
    if st.is_replica() {
        if r.link.has_client || r.cached.is_some() {
            return Some(ReplInfo {
                stream_db: r.link_db(),
                replid: r.replid.clone(),
                offset: r.master_repl_offset,
            });
        }
        return None;
    }
    r.backlog.as_ref()?;
    Some(ReplInfo {
        stream_db: r.stream_db.max(0),
        replid: r.replid.clone(),
        offset: r.master_repl_offset,
    })
}

impl super::Replication {
    /// The db selected on our master link (for repl-stream-db).
    pub fn link_db(&self) -> i64 {
        self.link_db
    }
}

/// `PSYNC replid offset` / `SYNC` (`req` = None) from connection `id`: decide partial
/// or full resync, register the replica, and return the reply line (partial only;
/// a full sync's `+FULLRESYNC` is written when its snapshot starts) plus the handoff
/// that serves it.
pub fn psync(
    st: &mut State,
    id: u64,
    addr: SocketAddr,
    req: Option<(&str, i64)>,
) -> Result<(Option<Frame>, Handoff), Frame> {
    if st.repl.failover != super::FailoverState::None {
        return Err(Frame::error("NOMASTERLINK Can't SYNC while failing over"));
    }
    if st.is_replica() && st.repl.link.state != super::LinkState::Connected {
        return Err(Frame::error(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    let Some(shared) = st.repl.shared() else {
        return Err(Frame::err("replication is not running"));
    };
    let conf = st.repl.pending_conf.remove(&id).unwrap_or_default();
    let ip = conf
        .ip_address
        .clone()
        .unwrap_or_else(|| addr.ip().to_string());
    if let Some((replid, off)) = req {
        let r = &st.repl;
        let id_ok = replid.eq_ignore_ascii_case(&r.replid)
            || (replid.eq_ignore_ascii_case(&r.replid2) && off <= r.second_repl_offset);
        let in_backlog = r.backlog.as_ref().is_some_and(|b| b.covers(off));
        if id_ok && in_backlog {
            st.stats.sync_partial_ok += 1;
            let line = if conf.capa_psync2 {
                format!("CONTINUE {}", st.repl.replid)
            } else {
                "CONTINUE".to_string()
            };
            tracing::info!(
                "Partial resynchronization request from {ip}:{} accepted. Sending {} bytes of backlog starting from offset {off}.",
                conf.listening_port,
                st.repl.master_repl_offset + 1 - off
            );
            register(st, id, ip, conf, ReplicaState::Online, off, false);
            return Ok((Some(Frame::simple(line)), handoff(shared, id, addr, None)));
        }
        if replid != "?" {
            st.stats.sync_partial_err += 1;
            tracing::info!(
                "Partial resynchronization not accepted: replid or offset {off} out of range"
            );
        } else {
            tracing::info!(
                "Full resync requested by replica {ip}:{}",
                conf.listening_port
            );
        }
    }
    st.stats.sync_full += 1;
    if !st.is_replica() && st.repl.replicas.is_empty() && st.repl.backlog.is_none() {
        st.repl.replid = crate::util::ids::random_hex40();
        st.repl.clear_replid2();
    }
    let size = st.config.get_i64("repl-backlog-size").max(0) as usize;
    st.repl.ensure_backlog(size);
    let (tx, rx) = oneshot::channel();
    let pre_psync = req.is_none();
    st.repl.sync_waiting.insert(
        id,
        WaitingSync {
            since: Instant::now(),
            capa_eof: conf.capa_eof,
            pre_psync,
            tx,
        },
    );
    register(
        st,
        id,
        ip,
        conf,
        ReplicaState::WaitBgsave,
        i64::MAX,
        pre_psync,
    );
    maybe_start_sync(st);
    Ok((None, handoff(shared, id, addr, Some(rx))))
}

/// Start a snapshot for the replicas waiting for one, when it is time (called on
/// every full-sync request and 10 times a second by the cron).
pub fn maybe_start_sync(st: &mut State) {
    if st.repl.sync_waiting.is_empty() {
        return;
    }
    st.repl.sync_waiting.retain(|_, w| !w.tx.is_closed());
    if st.repl.sync_waiting.is_empty() {
        return;
    }
    if let Some(job) = st.repl.snapshot.clone() {
        if job.running() {
            // A disk snapshot being written: attach (its offset is still in the
            // backlog and the replicas want the same thing). A streamed one: wait.
            let attach = !job.diskless
                && job.replid == st.repl.replid
                && st
                    .repl
                    .backlog
                    .as_ref()
                    .is_some_and(|b| b.covers(job.offset + 1));
            if attach {
                tracing::info!("Waiting for end of BGSAVE for SYNC");
                assign(st, &job);
            }
            return;
        }
    }
    if st.repl.persist.bgsave_in_progress {
        // Another child (BGSAVE) is running: start when it is done.
        return;
    }
    let c = &st.config;
    let diskless =
        c.get_bool("repl-diskless-sync") && st.repl.sync_waiting.values().all(|w| w.capa_eof);
    let delay = c.get_i64("repl-diskless-sync-delay").max(0) as u64;
    let max_replicas = c.get_i64("repl-diskless-sync-max-replicas");
    let waiting = st.repl.sync_waiting.len() as i64;
    let oldest = st.repl.sync_waiting.values().map(|w| w.since).min();
    let start = !diskless
        || delay == 0
        || (max_replicas > 0 && waiting >= max_replicas)
        || oldest.is_some_and(|t| t.elapsed() >= Duration::from_secs(delay));
    if !start {
        if st.repl.snapshot_delay_logged_for != oldest {
            st.repl.snapshot_delay_logged_for = oldest;
            tracing::info!("Delay next BGSAVE for diskless SYNC");
        }
        return;
    }
    match start_snapshot(st, diskless) {
        Ok(job) => assign(st, &job),
        Err(e) => {
            tracing::warn!("BGSAVE for replication failed: {e}");
            // Dropping the senders closes the waiting replicas' connections.
            st.repl.sync_waiting.clear();
        }
    }
}

/// Hand `job` to every waiting replica: their stream starts after its offset.
fn assign(st: &mut State, job: &Arc<SnapshotJob>) {
    for (id, w) in std::mem::take(&mut st.repl.sync_waiting) {
        if let Some(r) = st.repl.replicas.get_mut(&id) {
            r.next = job.offset + 1;
            r.sent = job.offset;
            let _ = w.tx.send(job.clone());
        }
    }
}

/// Fork the snapshot child (or clone the dataset when fork fails) and start the
/// thread that collects its RDB.
fn start_snapshot(st: &mut State, diskless: bool) -> Result<Arc<SnapshotJob>, String> {
    let shared = st
        .repl
        .shared()
        .ok_or_else(|| "replication is not running".to_string())?;
    let started = Instant::now();
    let offset = st.repl.master_repl_offset;
    let repl = Some(ReplInfo {
        stream_db: if st.is_replica() {
            st.repl.link_db()
        } else {
            0
        },
        replid: st.repl.replid.clone(),
        offset,
    });
    // The stream after the snapshot starts with a SELECT.
    if !st.is_replica() {
        st.repl.stream_db = -1;
    }
    let opts = super::persist::save_options(st, repl.clone());
    let file = (!diskless).then(|| st.config.db_path());
    let target = match &file {
        Some(p) => super::fork::Target::File(p.clone()),
        None => super::fork::Target::Pipe,
    };
    let source = match super::fork::fork_rdb(st, &opts, target) {
        Ok(child) => Source::Forked(child),
        Err(e) => {
            tracing::warn!("Can't fork for the replica sync ({e}); using a copy");
            let (dbs, opts) = super::persist::capture(st, repl);
            Source::Cloned(dbs, opts)
        }
    };
    let dirty = st.dirty();
    let p = &mut st.repl.persist;
    p.bgsave_in_progress = true;
    p.bgsave_started = Some(Instant::now());
    p.dirty_at_bgsave = dirty;
    if !diskless {
        p.bgsaves += 1;
    }
    p.last_save_attempt = unix_ms() / 1000;
    tracing::info!(
        "Starting BGSAVE for SYNC with target: {} (fork took {} ms)",
        if diskless { "replicas sockets" } else { "disk" },
        started.elapsed().as_millis()
    );
    let job = Arc::new(SnapshotJob::new(offset, st.repl.replid.clone(), diskless));
    st.repl.snapshot = Some(job.clone());
    let producer = job.clone();
    tokio::spawn(async move {
        let worker = producer.clone();
        let r = tokio::task::spawn_blocking(move || worker.produce(source, file))
            .await
            .unwrap_or_else(|e| Err(format!("snapshot task failed: {e}")));
        producer.finish(r.clone());
        snapshot_done(&shared, &producer, r);
    });
    Ok(job)
}

/// Bookkeeping when a snapshot child ends (INFO persistence), then start the next
/// snapshot for replicas that waited.
fn snapshot_done(shared: &Shared, job: &Arc<SnapshotJob>, r: Result<(), String>) {
    let mut st = shared.state.lock();
    if st
        .repl
        .snapshot
        .as_ref()
        .is_some_and(|j| Arc::ptr_eq(j, job))
    {
        st.repl.snapshot = None;
    }
    let p = &mut st.repl.persist;
    p.bgsave_finished();
    match (&r, job.diskless) {
        (Ok(()), true) => tracing::info!("Background RDB transfer terminated with success"),
        (Ok(()), false) => {
            p.last_save = unix_ms() / 1000;
            p.last_save_ok = true;
            p.dirty_at_save = p.dirty_at_bgsave;
            st.lastsave = st.repl.persist.last_save;
            tracing::info!("Background saving terminated with success");
        }
        (Err(e), diskless) => {
            if !diskless {
                p.last_save_ok = false;
            }
            tracing::warn!("Background RDB for replication failed: {e}");
        }
    }
    maybe_start_sync(&mut st);
}

fn register(
    st: &mut State,
    id: u64,
    ip: String,
    conf: ReplConf,
    state: ReplicaState,
    next: i64,
    pre_psync: bool,
) {
    st.repl.replicas.insert(
        id,
        ReplicaInfo {
            id,
            ip,
            port: conf.listening_port,
            state,
            ack_off: 0,
            ack_time: Instant::now(),
            next,
            sent: next - 1,
            conf,
            pre_psync,
            streaming: false,
            acked_since_rdb: false,
        },
    );
    st.repl.no_replicas_since = None;
}

fn handoff(
    shared: Arc<Shared>,
    id: u64,
    addr: SocketAddr,
    wait: Option<oneshot::Receiver<Arc<SnapshotJob>>>,
) -> Handoff {
    Box::new(move |stream, rest| Box::pin(serve_replica(shared, id, addr, stream, rest, wait)))
}

/// Remove a replica (its connection ended or was dropped).
fn forget(shared: &Shared, id: u64) {
    let mut st = shared.state.lock();
    st.repl.sync_waiting.remove(&id);
    if st.repl.replicas.remove(&id).is_some() && st.repl.replicas.is_empty() {
        st.repl.no_replicas_since = Some(Instant::now());
    }
    // Writers waiting for this replica's socket wait for the others only.
    st.repl.publish_sent();
    st.clients.entries.remove(&id);
}

type Writer = tokio::net::tcp::OwnedWriteHalf;
type KillRx = tokio::sync::mpsc::UnboundedReceiver<ClientMsg>;

/// A kill message (anything but a push) ends the replica.
fn killed(m: Option<ClientMsg>) -> Result<(), String> {
    match m {
        Some(ClientMsg::Push(_)) => Ok(()),
        _ => Err("killed".into()),
    }
}

async fn write_timed(wr: &mut Writer, bytes: &[u8], timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, wr.write_all(bytes)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("timeout writing to the replica".into()),
    }
}

/// The full-sync part of a replica's life: wait for the snapshot (newline
/// keepalives), `+FULLRESYNC`, the RDB, then (EOF framing) its first ACK.
async fn full_sync(
    shared: &Shared,
    id: u64,
    wr: &mut Writer,
    kill_rx: &mut KillRx,
    mut wait: oneshot::Receiver<Arc<SnapshotJob>>,
    timeout: Duration,
) -> Result<(), String> {
    let job = loop {
        tokio::select! {
            r = &mut wait => break r.map_err(|_| "no snapshot for this replica".to_string())?,
            _ = tokio::time::sleep(Duration::from_secs(1)) => write_timed(wr, b"\n", timeout).await?,
            m = kill_rx.recv() => killed(m)?,
        }
    };
    let (pre_psync, rdb_only) = {
        let st = shared.state.lock();
        let r = st.repl.replicas.get(&id).ok_or("dropped")?;
        (r.pre_psync, r.conf.rdb_only)
    };
    if !pre_psync {
        let line = format!("+FULLRESYNC {} {}\r\n", job.replid, job.offset);
        write_timed(wr, line.as_bytes(), timeout).await?;
    }
    let mut progress = job.progress.subscribe();
    let mut next = 0usize;
    let mut header_sent = false;
    let mut sent = 0u64;
    if job.diskless {
        write_timed(wr, format!("$EOF:{}\r\n", job.mark).as_bytes(), timeout).await?;
        header_sent = true;
    }
    loop {
        progress.borrow_and_update();
        let (chunks, res) = job.poll(next);
        if let Some(Err(e)) = &res {
            return Err(format!("the snapshot failed: {e}"));
        }
        if !job.diskless && res.is_none() {
            // The disk child is still writing the file: keepalives meanwhile.
            tokio::select! {
                _ = progress.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => write_timed(wr, b"\n", timeout).await?,
                m = kill_rx.recv() => killed(m)?,
            }
            continue;
        }
        if !header_sent {
            let len: usize = chunks.iter().map(|c| c.len()).sum();
            {
                let mut st = shared.state.lock();
                let r = st.repl.replicas.get_mut(&id).ok_or("dropped")?;
                r.state = ReplicaState::SendBulk;
            }
            write_timed(wr, format!("${len}\r\n").as_bytes(), timeout).await?;
            header_sent = true;
        }
        for c in &chunks {
            write_timed(wr, c, timeout).await?;
            sent += c.len() as u64;
        }
        next += chunks.len();
        if res.is_some() {
            break;
        }
        if chunks.is_empty() {
            tokio::select! {
                _ = progress.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                m = kill_rx.recv() => killed(m)?,
            }
        }
    }
    if job.diskless {
        write_timed(wr, job.mark.as_bytes(), timeout).await?;
    }
    {
        let mut st = shared.state.lock();
        st.stats.total_net_output_bytes += sent;
        let r = st.repl.replicas.get_mut(&id).ok_or("dropped")?;
        r.state = ReplicaState::Online;
        r.ack_time = Instant::now();
    }
    tracing::info!("Synchronization with replica {id} succeeded ({sent} bytes of RDB)");
    if rdb_only {
        return Err("rdb-only replica: RDB sent, closing".into());
    }
    if job.diskless && !pre_psync {
        // The replica finds the EOF mark only if nothing follows it: stream after
        // its first ACK (sent once it loaded the RDB), like Redis.
        let started = Instant::now();
        loop {
            let acked = {
                let st = shared.state.lock();
                st.repl.replicas.get(&id).ok_or("dropped")?.acked_since_rdb
            };
            if acked {
                break;
            }
            if started.elapsed() > timeout {
                return Err("no REPLCONF ACK after the RDB transfer".into());
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                m = kill_rx.recv() => killed(m)?,
            }
        }
    }
    Ok(())
}

/// Serve one replica connection until it closes or is dropped.
async fn serve_replica(
    shared: Arc<Shared>,
    id: u64,
    addr: SocketAddr,
    stream: tokio::net::TcpStream,
    rest: BytesMut,
    wait: Option<oneshot::Receiver<Arc<SnapshotJob>>>,
) {
    let laddr = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (tx, mut kill_rx) = tokio::sync::mpsc::unbounded_channel();
    let (hard_limit, timeout) = {
        let mut st = shared.state.lock();
        let c = Client::new(id, addr, laddr, true, tx);
        let mut e = ClientEntry::from_client(&c, ClientKind::Replica);
        e.last_cmd = if wait.is_some() && st.repl.replicas.get(&id).is_some_and(|r| r.pre_psync) {
            "sync".into()
        } else {
            "psync".into()
        };
        st.clients.entries.insert(id, e);
        (
            replica_hard_limit(&st),
            Duration::from_secs(st.config.get_i64("repl-timeout").max(1) as u64),
        )
    };
    let (rd, mut wr) = stream.into_split();
    // ACK reader.
    let reader_shared = shared.clone();
    let reader = tokio::spawn(async move {
        read_acks(&reader_shared, id, rd, rest).await;
        // The replica closed its side: drop it so the writer stops too.
        let mut st = reader_shared.state.lock();
        st.repl.sync_waiting.remove(&id);
        if st.repl.replicas.remove(&id).is_some() {
            if st.repl.replicas.is_empty() {
                st.repl.no_replicas_since = Some(Instant::now());
            }
            st.repl.stream_tx.send_replace(st.repl.master_repl_offset);
        }
    });
    let mut rx = shared.state.lock().repl.stream_tx.subscribe();
    let mut sent_upto: i64 = 0;
    let result: Result<(), String> = async {
        if let Some(wait) = wait {
            full_sync(&shared, id, &mut wr, &mut kill_rx, wait, timeout).await?;
        }
        if let Some(r) = shared.state.lock().repl.replicas.get_mut(&id) {
            r.streaming = true;
        }
        loop {
            let chunk = {
                let mut st = shared.state.lock();
                rx.borrow_and_update();
                let end = st.repl.backlog.as_ref().map(|b| b.end()).unwrap_or(0);
                let Some(r) = st.repl.replicas.get(&id) else {
                    return Err("disconnected".into());
                };
                let next = r.next;
                if end - next > hard_limit as i64 {
                    return Err("output buffer limit reached".into());
                }
                let Some(b) = st.repl.backlog.as_ref() else {
                    return Err("no backlog".into());
                };
                let Some(chunk) = b.read(next, 1 << 20) else {
                    return Err("its offset is no longer in the backlog".into());
                };
                if let Some(r) = st.repl.replicas.get_mut(&id) {
                    r.next += chunk.len() as i64;
                    sent_upto = r.next - 1;
                }
                if !chunk.is_empty() {
                    st.stats.total_net_output_bytes += chunk.len() as u64;
                }
                chunk
            };
            if chunk.is_empty() {
                tokio::select! {
                    r = rx.changed() => { if r.is_err() { return Err("shutdown".into()); } }
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = kill_rx.recv() => return Err("killed".into()),
                }
                continue;
            }
            tokio::select! {
                r = tokio::time::timeout(timeout, wr.write_all(&chunk)) => match r {
                    Ok(Ok(())) => {
                        // Only an online replica's progress lets writers reply.
                        let mut st = shared.state.lock();
                        if let Some(r) = st.repl.replicas.get_mut(&id) {
                            r.sent = sent_upto;
                            if r.state == ReplicaState::Online {
                                st.repl.publish_sent();
                            }
                        }
                    }
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("timeout writing to the replica".into()),
                },
                m = kill_rx.recv() => {
                    if !matches!(m, Some(ClientMsg::Push(_))) {
                        return Err("killed".into());
                    }
                }
            }
        }
    }
    .await;
    if let Err(e) = result {
        tracing::info!("Connection with replica {addr} lost: {e}");
    }
    reader.abort();
    forget(&shared, id);
}

/// Read what a replica sends (REPLCONF ACK) until it closes.
async fn read_acks(
    shared: &Shared,
    id: u64,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    rest: BytesMut,
) {
    let mut buf = rest;
    let mut parser = RequestParser::new(RequestLimits::default());
    loop {
        loop {
            match parser.next(&mut buf) {
                Ok(Some(argv)) => on_replica_command(shared, id, &argv),
                Ok(None) => break,
                Err(_) => return,
            }
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if buf.len() > 1 << 20 {
                    return;
                }
            }
        }
    }
}

/// `client-output-buffer-limit` hard limit of the replica class (default 256 MB).
fn replica_hard_limit(st: &State) -> usize {
    let v = st.config.get("client-output-buffer-limit").to_string();
    let w: Vec<&str> = v.split_whitespace().collect();
    for c in w.chunks(4) {
        if c.len() == 4 && (c[0] == "slave" || c[0] == "replica") {
            if let Some(n) = crate::server::config::parse_memory(c[1]) {
                if n > 0 {
                    return n as usize;
                }
            }
        }
    }
    usize::MAX / 4
}

/// A command from a replica connection: only `REPLCONF ACK <offset>` matters.
fn on_replica_command(shared: &Shared, id: u64, argv: &[Bytes]) {
    if argv.len() >= 3
        && argv[0].eq_ignore_ascii_case(b"replconf")
        && argv[1].eq_ignore_ascii_case(b"ack")
    {
        let Some(off) = std::str::from_utf8(&argv[2])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        else {
            return;
        };
        let mut st = shared.state.lock();
        if let Some(r) = st.repl.replicas.get_mut(&id) {
            r.ack_off = r.ack_off.max(off);
            r.ack_time = Instant::now();
            if r.state == ReplicaState::Online {
                r.acked_since_rdb = true;
            }
        }
        if let Some(e) = st.clients.entries.get_mut(&id) {
            e.last_interaction = Instant::now();
            e.last_cmd = "replconf".into();
        }
        st.repl.acks_tx.send_modify(|n| *n = n.wrapping_add(1));
        wake_waiters(&mut st);
    }
}

/// Wake WAIT callers (they re-check their count).
pub fn wake_waiters(st: &mut State) {
    if st.repl.waits.is_empty() {
        return;
    }
    let key = Bytes::from_static(WAIT_KEY);
    for db in 0..st.dbs.len() {
        st.blocking.wake(db, &key);
    }
}

/// The replication cron, 10 times a second.
pub async fn cron(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut last_second = Instant::now();
    loop {
        tick.tick().await;
        if shared.state.lock().shutdown.is_some() {
            return;
        }
        super::failover::tick(&shared);
        maybe_start_sync(&mut shared.state.lock());
        if last_second.elapsed() < Duration::from_secs(1) {
            continue;
        }
        last_second = Instant::now();
        let mut st = shared.state.lock();
        let now = Instant::now();
        let period = st.config.get_i64("repl-ping-replica-period").max(1) as u64;
        let timeout = st.config.get_i64("repl-timeout").max(1) as u64;
        if !st.is_replica()
            && !st.repl.replicas.is_empty()
            && now.duration_since(st.repl.last_ping).as_secs() >= period
            && !matches!(st.repl.failover, super::FailoverState::WaitForSync { .. })
        {
            st.repl.last_ping = now;
            st.repl.emit_no_select(&[b"ping"]);
        }
        let dead: Vec<u64> = st
            .repl
            .replicas
            .values()
            .filter(|r| {
                r.state == ReplicaState::Online
                    && !r.pre_psync
                    && now.duration_since(r.ack_time).as_secs() > timeout
            })
            .map(|r| r.id)
            .collect();
        let removed_any = !dead.is_empty();
        for id in dead {
            tracing::warn!("Disconnecting timedout replica (streaming sync): {id}");
            st.repl.replicas.remove(&id);
            if let Some(e) = st.clients.entries.get(&id) {
                let _ = e.tx.send(ClientMsg::Kill(None));
            }
        }
        if removed_any {
            st.repl.wake();
        }
        // Backlog TTL on a master without replicas.
        let ttl = st.config.get_i64("repl-backlog-ttl");
        if !st.is_replica() && ttl > 0 && st.repl.replicas.is_empty() && st.repl.backlog.is_some() {
            if let Some(since) = st.repl.no_replicas_since {
                if now.duration_since(since).as_secs() as i64 > ttl {
                    st.repl.backlog = None;
                    st.repl.replid = crate::util::ids::random_hex40();
                    st.repl.clear_replid2();
                    tracing::info!(
                        "Replication backlog freed after {ttl} seconds without connected replicas."
                    );
                }
            }
        }
        // Keep the configured backlog size.
        let size = st.config.get_i64("repl-backlog-size").max(0) as usize;
        if let Some(b) = st.repl.backlog.as_mut() {
            if b.size != size.max(16384) {
                b.resize(size);
            }
        }
        let ids: Vec<u64> = st.repl.pending_conf.keys().copied().collect();
        for id in ids {
            if !st.clients.entries.contains_key(&id) {
                st.repl.pending_conf.remove(&id);
            }
        }
        let waits: Vec<u64> = st.repl.waits.keys().copied().collect();
        for id in waits {
            if !st.clients.entries.contains_key(&id) {
                st.repl.waits.remove(&id);
            }
        }
        drop(st);
        super::persist::cron(&shared);
    }
}

/// A fresh backlog at the current offset (used on promotion when none exists).
pub fn new_backlog(st: &State) -> Backlog {
    Backlog::new(
        st.config.get_i64("repl-backlog-size").max(0) as usize,
        st.repl.master_repl_offset + 1,
    )
}
