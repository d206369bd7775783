//! Master side: PSYNC decisions (partial from the backlog or full with a snapshot),
//! the task that serves one replica connection (RDB transfer, then the stream from
//! its backlog position, reading its REPLCONF ACKs), and the replication cron
//! (ping replicas, time them out, backlog TTL, save points, FAILOVER progress).

use super::backlog::Backlog;
use super::{ReplConf, ReplicaInfo, ReplicaState, WAIT_KEY};
use crate::resp::{Frame, RequestLimits, RequestParser};
use crate::server::client::{Client, ClientEntry, ClientKind, ClientMsg};
use crate::server::command::Handoff;
use crate::server::rdb::{self, DbSnapshot, ReplInfo, SaveOptions};
use crate::server::state::{Shared, State};
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where a full-sync snapshot comes from.
pub enum Source {
    /// A clone of the dataset, serialized in a blocking thread.
    Cloned(Vec<DbSnapshot>, SaveOptions),
    /// A forked child writing the RDB into a pipe.
    Forked(super::fork::ForkChild),
}

/// One RDB snapshot for full syncs, shared by replicas asking at the same offset.
pub struct SnapshotJob {
    pub offset: i64,
    data: parking_lot::Mutex<Option<Source>>,
    rdb: tokio::sync::OnceCell<Result<Arc<Vec<u8>>, String>>,
}

impl SnapshotJob {
    pub fn new(offset: i64, source: Source) -> SnapshotJob {
        SnapshotJob {
            offset,
            data: parking_lot::Mutex::new(Some(source)),
            rdb: tokio::sync::OnceCell::new(),
        }
    }

    /// Whether another replica can still share this snapshot: its data was not taken
    /// yet (a taken one may belong to a transfer that was cancelled).
    pub fn reusable(&self) -> bool {
        self.data.lock().is_some()
    }

    /// The serialized RDB (built once, in a blocking thread or a child process).
    pub async fn rdb(&self) -> Result<Arc<Vec<u8>>, String> {
        self.rdb
            .get_or_init(|| async {
                let data = self.data.lock().take();
                let task = tokio::task::spawn_blocking(move || match data {
                    Some(Source::Cloned(dbs, opts)) => Ok(Arc::new(rdb::encode(&dbs, &opts))),
                    Some(Source::Forked(child)) => {
                        use std::io::Read;
                        let mut out = Vec::new();
                        let read = child.pipe.map(|mut p| p.read_to_end(&mut out));
                        let ok = super::fork::wait(child.pid);
                        match read {
                            Some(Ok(_)) if ok => Ok(Arc::new(out)),
                            _ => Err("the snapshot child failed".to_string()),
                        }
                    }
                    None => Err("snapshot already consumed".into()),
                });
                task.await
                    .map_err(|e| format!("snapshot task failed: {e}"))
                    .and_then(|r| r)
            })
            .await
            .clone()
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

/// `PSYNC replid offset` / `SYNC` from connection `id`: decide partial or full resync,
/// register the replica, and return the reply line plus the handoff that serves it.
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
            register(st, id, ip, conf, ReplicaState::Online, off);
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
    if !st.is_replica() {
        st.repl.stream_db = -1;
    }
    let offset = st.repl.master_repl_offset;
    let job = match &st.repl.snapshot {
        Some(j) if j.offset == offset && j.reusable() => j.clone(),
        _ => {
            let started = Instant::now();
            let repl = Some(ReplInfo {
                stream_db: if st.is_replica() {
                    st.repl.link_db()
                } else {
                    0
                },
                replid: st.repl.replid.clone(),
                offset,
            });
            let opts = super::persist::save_options(st, repl.clone());
            let source = match super::fork::fork_rdb(st, &opts, super::fork::Target::Pipe) {
                Ok(child) => Source::Forked(child),
                Err(e) => {
                    tracing::warn!("Can't fork for the replica sync ({e}); using a copy");
                    let (dbs, opts) = super::persist::capture(st, repl);
                    Source::Cloned(dbs, opts)
                }
            };
            tracing::info!(
                "Starting BGSAVE for SYNC with target: replicas sockets (snapshot took {} ms)",
                started.elapsed().as_millis()
            );
            let j = Arc::new(SnapshotJob::new(offset, source));
            st.repl.snapshot = Some(j.clone());
            j
        }
    };
    let line = format!("FULLRESYNC {} {}", st.repl.replid, offset);
    register(st, id, ip, conf, ReplicaState::WaitBgsave, offset + 1);
    let reply = if req.is_some() {
        Some(Frame::simple(line))
    } else {
        None
    };
    Ok((reply, handoff(shared, id, addr, Some(job))))
}

fn register(st: &mut State, id: u64, ip: String, conf: ReplConf, state: ReplicaState, next: i64) {
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
        },
    );
    st.repl.no_replicas_since = None;
}

fn handoff(
    shared: Arc<Shared>,
    id: u64,
    addr: SocketAddr,
    job: Option<Arc<SnapshotJob>>,
) -> Handoff {
    Box::new(move |stream, rest| Box::pin(serve_replica(shared, id, addr, stream, rest, job)))
}

/// Remove a replica (its connection ended or was dropped).
fn forget(shared: &Shared, id: u64) {
    let mut st = shared.state.lock();
    if st.repl.replicas.remove(&id).is_some() && st.repl.replicas.is_empty() {
        st.repl.no_replicas_since = Some(Instant::now());
    }
    // Writers waiting for this replica's socket wait for the others only.
    st.repl.publish_sent();
    st.clients.entries.remove(&id);
}

/// Serve one replica connection until it closes or is dropped.
async fn serve_replica(
    shared: Arc<Shared>,
    id: u64,
    addr: SocketAddr,
    stream: tokio::net::TcpStream,
    rest: BytesMut,
    job: Option<Arc<SnapshotJob>>,
) {
    let laddr = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (tx, mut kill_rx) = tokio::sync::mpsc::unbounded_channel();
    let (hard_limit, timeout) = {
        let mut st = shared.state.lock();
        let c = Client::new(id, addr, laddr, true, tx);
        let mut e = ClientEntry::from_client(&c, ClientKind::Replica);
        e.last_cmd = "psync".into();
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
        if let Some(job) = job {
            let rdb_fut = job.rdb();
            tokio::pin!(rdb_fut);
            let rdb = loop {
                tokio::select! {
                    r = &mut rdb_fut => break r?,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {
                        wr.write_all(b"\n").await.map_err(|e| e.to_string())?;
                    }
                    _ = kill_rx.recv() => return Err("killed".into()),
                }
            };
            {
                let mut st = shared.state.lock();
                match st.repl.replicas.get_mut(&id) {
                    Some(r) => r.state = ReplicaState::SendBulk,
                    None => return Err("dropped".into()),
                }
            }
            let header = format!("${}\r\n", rdb.len());
            wr.write_all(header.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            wr.write_all(&rdb).await.map_err(|e| e.to_string())?;
            let mut st = shared.state.lock();
            st.stats.total_net_output_bytes += rdb.len() as u64;
            match st.repl.replicas.get_mut(&id) {
                Some(r) => {
                    r.state = ReplicaState::Online;
                    r.ack_time = Instant::now();
                }
                None => return Err("dropped".into()),
            }
            tracing::info!("Synchronization with replica {addr} succeeded");
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
        }
        if let Some(e) = st.clients.entries.get_mut(&id) {
            e.last_interaction = Instant::now();
            e.last_cmd = "replconf".into();
        }
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

impl Drop for SnapshotJob {
    fn drop(&mut self) {
        // A child nobody read from: close the pipe (it exits on EPIPE) and reap it.
        if let Some(Source::Forked(child)) = self.data.lock().take() {
            drop(child.pipe);
            let pid = child.pid;
            std::thread::spawn(move || super::fork::wait(pid));
        }
    }
}
