//! Replica side: the link to our master. Connect, handshake (PING, AUTH, REPLCONF
//! listening-port / ip-address / capa, PSYNC), then either load the RDB of a full
//! resync (`$<len>` or `$EOF:<mark>` framing; clients get -LOADING and never see a
//! half-loaded dataset: it is parsed aside and swapped in whole) or continue from the
//! cached offset; then apply the stream through the dispatcher as the master link,
//! counting applied bytes exactly as Redis does, re-streaming them to our own
//! replicas, sending `REPLCONF ACK` every second and on GETACK. A broken link keeps
//! the cached master for a partial resync; a protocol error or a bad RDB drops it.

use super::LinkState;
use crate::resp::{Frame, RequestLimits, RequestParser};
use crate::server::client::{Client, ClientEntry, ClientKind, ClientMsg};
use crate::server::command::{arg_refs, dispatch};
use crate::server::rdb;
use crate::server::state::{Shared, State};
use bytes::BytesMut;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Timeout of one reply during the handshake (CONFIG_REPL_SYNCIO_TIMEOUT).
const SYNCIO_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a session ended.
struct LinkError {
    msg: String,
    /// Keep the cached master (partial resync next time).
    keep_cache: bool,
}

fn lerr(msg: impl Into<String>) -> LinkError {
    LinkError {
        msg: msg.into(),
        keep_cache: true,
    }
}

fn fatal(msg: impl Into<String>) -> LinkError {
    LinkError {
        msg: msg.into(),
        keep_cache: false,
    }
}

/// Start (or restart) the link task for the current `master`.
pub fn spawn_link(shared: &Arc<Shared>) {
    let mut st = shared.state.lock();
    start_link(&mut st);
}

/// Start the link task from under the lock: older link tasks stop at their next
/// check because the generation changed.
pub fn start_link(st: &mut State) {
    st.repl.link.generation += 1;
    st.repl.link.state = LinkState::Connect;
    st.repl.link.has_client = false;
    let gen = st.repl.link.generation;
    if let Some(shared) = st.repl.shared() {
        tokio::spawn(run(shared, gen));
    }
}

fn current(shared: &Shared, gen: u64) -> Option<(String, u16)> {
    let st = shared.state.lock();
    if st.repl.link.generation != gen || st.shutdown.is_some() {
        return None;
    }
    st.repl.master.as_ref().map(|m| (m.host.clone(), m.port))
}

async fn run(shared: Arc<Shared>, gen: u64) {
    let mut last_error = String::new();
    loop {
        let Some((host, port)) = current(&shared, gen) else {
            return;
        };
        let started = Instant::now();
        let res = session(&shared, gen, &host, port).await;
        let mut retry_soon = false;
        {
            let mut st = shared.state.lock();
            if st.repl.link.generation == gen {
                if st.repl.link.state == LinkState::Connected || st.repl.link.down_since.is_none() {
                    st.repl.link.down_since = Some(Instant::now());
                }
                let was_connected = st.repl.link.has_client;
                if let Err(e) = &res {
                    if was_connected && e.keep_cache {
                        st.repl.cached = Some((st.repl.replid.clone(), st.repl.link.applied));
                        retry_soon = true;
                    } else if !e.keep_cache {
                        st.repl.cached = None;
                        retry_soon = true;
                    }
                }
                st.repl.link.state = LinkState::Connect;
                st.repl.link.has_client = false;
                st.loading = false;
            }
        }
        if let Err(e) = res {
            if e.msg != last_error || started.elapsed() > Duration::from_secs(5) {
                tracing::warn!("MASTER {host}:{port} link: {}", e.msg);
                last_error = e.msg;
            }
        }
        let wait = if retry_soon {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        tokio::time::sleep(wait).await;
    }
}

/// A buffered connection to the master for the handshake and the transfer.
struct MasterConn {
    stream: TcpStream,
    buf: BytesMut,
}

impl MasterConn {
    async fn send(&mut self, args: &[&[u8]]) -> Result<(), LinkError> {
        let mut out = BytesMut::new();
        Frame::encode_command(args, &mut out);
        tokio::time::timeout(SYNCIO_TIMEOUT, self.stream.write_all(&out))
            .await
            .map_err(|_| lerr("Timeout writing to MASTER"))?
            .map_err(|e| lerr(format!("Error writing to MASTER: {e}")))
    }

    async fn fill(&mut self, timeout: Duration) -> Result<usize, LinkError> {
        let n = tokio::time::timeout(timeout, self.stream.read_buf(&mut self.buf))
            .await
            .map_err(|_| lerr("Timeout connecting to the MASTER or reading its reply"))?
            .map_err(|e| lerr(format!("Error reading from MASTER: {e}")))?;
        if n == 0 {
            return Err(lerr("MASTER closed the connection"));
        }
        Ok(n)
    }

    /// One reply line without its CR LF.
    async fn line(&mut self, timeout: Duration) -> Result<String, LinkError> {
        loop {
            if let Some(p) = self.buf.iter().position(|&c| c == b'\n') {
                let l = self.buf.split_to(p + 1);
                let mut s = &l[..p];
                if s.last() == Some(&b'\r') {
                    s = &s[..s.len() - 1];
                }
                return Ok(String::from_utf8_lossy(s).into_owned());
            }
            if self.buf.len() > 64 * 1024 {
                return Err(fatal("MASTER sent a line that is too long"));
            }
            self.fill(timeout).await?;
        }
    }
}

struct Settings {
    masterauth: String,
    masteruser: String,
    port: i64,
    announce_ip: String,
    timeout: Duration,
    cached: Option<(String, i64)>,
    failover: bool,
    max_dbs: usize,
    /// Where to keep the received RDB (None with diskless load).
    keep_file: Option<std::path::PathBuf>,
}

async fn session(shared: &Arc<Shared>, gen: u64, host: &str, port: u16) -> Result<(), LinkError> {
    let set = {
        let mut st = shared.state.lock();
        st.repl.link.state = LinkState::Connecting;
        let c = &st.config;
        let announce_port = c.get_i64("replica-announce-port");
        Settings {
            masterauth: c.get("masterauth").to_string(),
            masteruser: c.get("masteruser").to_string(),
            port: if announce_port > 0 {
                announce_port
            } else {
                st.port as i64
            },
            announce_ip: c.get("replica-announce-ip").to_string(),
            timeout: Duration::from_secs(c.get_i64("repl-timeout").max(1) as u64),
            cached: st.repl.cached.clone(),
            failover: st.repl.link.psync_failover,
            max_dbs: st.dbs.len(),
            keep_file: (c.get("repl-diskless-load") == "disabled").then(|| c.db_path()),
        }
    };
    tracing::info!("Connecting to MASTER {host}:{port}");
    let stream = tokio::time::timeout(set.timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| lerr("Timeout connecting to the MASTER"))?
        .map_err(|e| lerr(format!("Error condition on socket for SYNC: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut mc = MasterConn {
        stream,
        buf: BytesMut::with_capacity(64 * 1024),
    };
    if !still_current(shared, gen) {
        return Ok(());
    }
    shared.state.lock().repl.link.state = LinkState::Handshake;
    tracing::info!("MASTER <-> REPLICA sync started");
    mc.send(&[b"PING"]).await?;
    let pong = mc.line(SYNCIO_TIMEOUT).await?;
    if !(pong.starts_with('+')
        || pong.starts_with("-NOAUTH")
        || pong.starts_with("-NOPERM")
        || pong.starts_with("-ERR operation not permitted"))
    {
        return Err(lerr(format!("Error reply to PING from master: '{pong}'")));
    }
    if !set.masterauth.is_empty() {
        if set.masteruser.is_empty() {
            mc.send(&[b"AUTH", set.masterauth.as_bytes()]).await?;
        } else {
            mc.send(&[
                b"AUTH",
                set.masteruser.as_bytes(),
                set.masterauth.as_bytes(),
            ])
            .await?;
        }
        let r = mc.line(SYNCIO_TIMEOUT).await?;
        if r.starts_with('-') {
            return Err(lerr(format!("Unable to AUTH to MASTER: {r}")));
        }
    }
    let port_s = set.port.to_string();
    mc.send(&[b"REPLCONF", b"listening-port", port_s.as_bytes()])
        .await?;
    let r = mc.line(SYNCIO_TIMEOUT).await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF listening-port: {r}");
    }
    if !set.announce_ip.is_empty() {
        mc.send(&[b"REPLCONF", b"ip-address", set.announce_ip.as_bytes()])
            .await?;
        let r = mc.line(SYNCIO_TIMEOUT).await?;
        if r.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF ip-address: {r}");
        }
    }
    mc.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    let r = mc.line(SYNCIO_TIMEOUT).await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF capa: {r}");
    }
    let (psync_id, psync_off) = match &set.cached {
        Some((id, off)) => (id.clone(), (off + 1).to_string()),
        None => ("?".to_string(), "-1".to_string()),
    };
    if set.cached.is_some() {
        tracing::info!("Trying a partial resynchronization (request {psync_id}:{psync_off}).");
    }
    if set.failover {
        mc.send(&[
            b"PSYNC",
            psync_id.as_bytes(),
            psync_off.as_bytes(),
            b"FAILOVER",
        ])
        .await?;
    } else {
        mc.send(&[b"PSYNC", psync_id.as_bytes(), psync_off.as_bytes()])
            .await?;
    }
    let reply = loop {
        let l = mc.line(set.timeout).await?;
        if !l.is_empty() {
            break l;
        }
    };
    let accepted = reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE");
    if set.failover {
        let mut st = shared.state.lock();
        st.repl.link.psync_failover = false;
        super::failover::psync_result(&mut st, accepted);
        if !accepted {
            return Ok(());
        }
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let id = it.next().unwrap_or("").to_string();
        let off: i64 = it
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| fatal("Master replied with wrong +FULLRESYNC syntax."))?;
        if id.len() != 40 {
            return Err(fatal("Master replied with wrong +FULLRESYNC syntax."));
        }
        tracing::info!("Full resync from master: {id}:{off}");
        full_sync(shared, gen, &mut mc, &set, id, off).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim().to_string();
        let Some((cached_id, cached_off)) = set.cached.clone() else {
            return Err(fatal("MASTER accepted a partial resync we did not ask for"));
        };
        tracing::info!("Successful partial resynchronization with master.");
        let mut st = shared.state.lock();
        if st.repl.link.generation != gen {
            return Ok(());
        }
        if new_id.len() == 40 && new_id != cached_id {
            st.repl.replid2 = cached_id;
            st.repl.second_repl_offset = st.repl.master_repl_offset + 1;
            st.repl.replid = new_id.clone();
            st.repl.disconnect_replicas();
            tracing::info!("Master replication ID changed to {new_id}");
        } else {
            st.repl.replid = cached_id;
        }
        st.repl.master_repl_offset = cached_off;
        let size = st.config.get_i64("repl-backlog-size").max(0) as usize;
        st.repl.ensure_backlog(size);
        st.repl.link.read_off = cached_off;
        st.repl.link.applied = cached_off;
    } else if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
        return Err(lerr(format!(
            "Master is currently unable to PSYNC but should be in the future: {reply}"
        )));
    } else {
        return Err(lerr(format!(
            "Unexpected reply to PSYNC from master: {reply}"
        )));
    }
    {
        let mut st = shared.state.lock();
        if st.repl.link.generation != gen {
            return Ok(());
        }
        st.repl.cached = None;
        st.repl.link.state = LinkState::Connected;
        st.repl.link.has_client = true;
        st.repl.link.last_io = Instant::now();
        st.repl.link.down_since = None;
        tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    }
    stream_loop(shared, gen, mc, &set).await
}

fn still_current(shared: &Shared, gen: u64) -> bool {
    let st = shared.state.lock();
    st.repl.link.generation == gen && st.repl.master.is_some()
}

/// Receive and load the RDB of a full resync at `off`.
async fn full_sync(
    shared: &Arc<Shared>,
    gen: u64,
    mc: &mut MasterConn,
    set: &Settings,
    id: String,
    off: i64,
) -> Result<(), LinkError> {
    {
        let mut st = shared.state.lock();
        st.repl.cached = None;
        st.repl.link.state = LinkState::Sync;
        st.repl.link.sync_total = -1;
        st.repl.link.sync_read = 0;
        st.repl.link.sync_last_io = Instant::now();
    }
    let header = loop {
        let l = mc.line(set.timeout).await?;
        if l.is_empty() {
            shared.state.lock().repl.link.sync_last_io = Instant::now();
            continue;
        }
        if let Some(e) = l.strip_prefix('-') {
            return Err(lerr(format!(
                "MASTER aborted replication with an error: {e}"
            )));
        }
        if !l.starts_with('$') {
            return Err(fatal(format!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{l}'), are you sure the host and port are right?"
            )));
        }
        break l;
    };
    let mut data: Vec<u8>;
    let eof_mark: Option<Vec<u8>> = match header.strip_prefix("$EOF:") {
        Some(mark) if mark.len() >= 40 => Some(mark.as_bytes()[..40].to_vec()),
        _ => None,
    };
    let progress = |shared: &Shared, total: i64, read: i64| {
        let mut st = shared.state.lock();
        st.repl.link.sync_total = total;
        st.repl.link.sync_read = read;
        st.repl.link.sync_last_io = Instant::now();
    };
    match &eof_mark {
        Some(mark) => {
            tracing::info!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser"
            );
            data = mc.buf.split().to_vec();
            let mut last_report = Instant::now();
            while !(data.len() >= 40 && data[data.len() - 40..] == mark[..]) {
                mc.fill(set.timeout).await.map_err(|e| {
                    lerr(format!("I/O error trying to sync with MASTER: {}", e.msg))
                })?;
                data.extend_from_slice(&mc.buf);
                mc.buf.clear();
                if last_report.elapsed() > Duration::from_millis(200) {
                    progress(shared, 0, data.len() as i64);
                    last_report = Instant::now();
                }
            }
            data.truncate(data.len() - 40);
        }
        None => {
            let len: usize = header[1..]
                .trim()
                .parse()
                .map_err(|_| fatal(format!("Bad bulk length from MASTER: '{header}'")))?;
            tracing::info!("MASTER <-> REPLICA sync: receiving {len} bytes from master to disk");
            data = Vec::with_capacity(len.min(1 << 30));
            let mut last_report = Instant::now();
            loop {
                let take = (len - data.len()).min(mc.buf.len());
                data.extend_from_slice(&mc.buf.split_to(take));
                if data.len() >= len {
                    break;
                }
                mc.fill(set.timeout).await.map_err(|e| {
                    lerr(format!("I/O error trying to sync with MASTER: {}", e.msg))
                })?;
                if last_report.elapsed() > Duration::from_millis(200) {
                    progress(shared, len as i64, (data.len() + mc.buf.len()) as i64);
                    last_report = Instant::now();
                }
            }
        }
    }
    if !still_current(shared, gen) {
        return Ok(());
    }
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    shared.state.lock().loading = true;
    let max_dbs = set.max_dbs;
    let size = data.len();
    // Like Redis with repl-diskless-load disabled (the default), the received RDB
    // becomes our own dump file: its repl-id/repl-offset let a restarted replica
    // ask for a partial resync.
    let keep_file = set.keep_file.clone();
    let parse = tokio::task::spawn_blocking(move || {
        let r = rdb::decode(&data, max_dbs);
        if let (Ok(_), Some(path)) = (&r, keep_file) {
            if let Err(e) = crate::util::fsutil::write_atomic(&path, &data) {
                tracing::warn!("can't keep the received RDB as {}: {e}", path.display());
            }
        }
        r
    });
    tokio::pin!(parse);
    // Newline keepalives to the master while loading (at most one per second).
    let loaded = loop {
        tokio::select! {
            r = &mut parse => break r,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                let _ = mc.stream.write_all(b"\n").await;
            }
        }
    };
    let loaded = match loaded {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            shared.state.lock().loading = false;
            return Err(fatal(format!(
                "Failed trying to load the MASTER synchronization DB from socket ({size} bytes): {e}"
            )));
        }
        Err(e) => {
            shared.state.lock().loading = false;
            return Err(fatal(format!("RDB load task failed: {e}")));
        }
    };
    if let Some(note) = loaded.skipped_streams_note() {
        tracing::warn!("MASTER <-> REPLICA sync: {note}");
    }
    let stream_db = loaded.repl_stream_db.unwrap_or(0).max(0);
    {
        let mut st = shared.state.lock();
        if st.repl.link.generation != gen {
            st.loading = false;
            return Ok(());
        }
        st.repl.disconnect_replicas();
        st.repl.snapshot = None;
        super::persist::install(&mut st, loaded, None);
        super::set_expire_deletes(&mut st, false);
        st.loading = false;
        st.repl.replid = id;
        st.repl.clear_replid2();
        st.repl.master_repl_offset = off;
        let bsize = st.config.get_i64("repl-backlog-size").max(0) as usize;
        st.repl.backlog = None;
        st.repl.ensure_backlog(bsize);
        st.repl.link.read_off = off;
        st.repl.link.applied = off;
        st.repl.link_db = stream_db;
        st.repl.persist.dirty_at_save = st.dirty();
    }
    if eof_mark.is_some() {
        send_ack(&mut mc.stream, off).await?;
    }
    Ok(())
}

async fn send_ack(stream: &mut TcpStream, off: i64) -> Result<(), LinkError> {
    let o = off.to_string();
    let mut out = BytesMut::new();
    Frame::encode_command(&[&b"REPLCONF"[..], b"ACK", o.as_bytes()], &mut out);
    tokio::time::timeout(SYNCIO_TIMEOUT, stream.write_all(&out))
        .await
        .map_err(|_| lerr("Timeout sending REPLCONF ACK"))?
        .map_err(|e| lerr(format!("Error sending REPLCONF ACK: {e}")))
}

/// Apply the master's stream until the link breaks or REPLICAOF changes.
async fn stream_loop(
    shared: &Arc<Shared>,
    gen: u64,
    mc: MasterConn,
    set: &Settings,
) -> Result<(), LinkError> {
    let MasterConn { mut stream, buf } = mc;
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut client = {
        let mut st = shared.state.lock();
        let id = st.clients.next_id();
        let mut c = Client::new(id, peer, local, true, tx);
        c.is_master_link = true;
        c.db = (st.repl.link_db.max(0) as usize).min(st.dbs.len().saturating_sub(1));
        st.clients
            .entries
            .insert(id, ClientEntry::from_client(&c, ClientKind::Master));
        c
    };
    let client_id = client.id;
    let result = async {
        let mut parser = RequestParser::new(RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: usize::MAX / 2,
            authenticated: true,
        });
        // `buf` is what the parser consumes; `raw` keeps the same bytes so the
        // applied ones can be re-streamed verbatim to our own replicas.
        let mut buf = buf;
        let mut raw = BytesMut::from(&buf[..]);
        let mut pending: usize = 0;
        let mut unsupported = std::collections::HashSet::new();
        {
            let mut st = shared.state.lock();
            st.repl.link.read_off += buf.len() as i64;
        }
        let mut ack_tick = tokio::time::interval(Duration::from_secs(1));
        ack_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_read = Instant::now();
        loop {
            let acks = apply(
                shared,
                gen,
                &mut client,
                &mut parser,
                &mut buf,
                &mut raw,
                &mut pending,
                &mut unsupported,
            )?;
            for off in acks.offsets {
                send_ack(&mut stream, off).await?;
            }
            if acks.more {
                // Bounded work per lock hold: let clients in, then go on.
                tokio::task::yield_now().await;
                continue;
            }
            if buf.len() > 1 << 30 {
                return Err(fatal("master stream buffer too large"));
            }
            // Held by a CLIENT PAUSE: look again shortly (UNPAUSE or the deadline).
            let paused = acks.paused;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)), if paused => {}
                r = stream.read_buf(&mut buf) => {
                    let n = r.map_err(|e| lerr(format!("Error reading from MASTER: {e}")))?;
                    if n == 0 {
                        return Err(lerr("Connection with master lost."));
                    }
                    raw.extend_from_slice(&buf[buf.len() - n..]);
                    last_read = Instant::now();
                    let mut st = shared.state.lock();
                    st.repl.link.read_off += n as i64;
                    st.repl.link.last_io = last_read;
                    st.stats.total_net_input_bytes += n as u64;
                }
                _ = ack_tick.tick() => {
                    let applied = {
                        let st = shared.state.lock();
                        if st.repl.link.generation != gen || st.repl.master.is_none() {
                            return Ok(());
                        }
                        st.repl.link.applied
                    };
                    if last_read.elapsed() > set.timeout {
                        return Err(lerr("MASTER timeout: no data nor PING received..."));
                    }
                    send_ack(&mut stream, applied).await?;
                }
                m = rx.recv() => {
                    match m {
                        Some(ClientMsg::Push(_)) => {}
                        _ => return Err(lerr("master link killed (CLIENT KILL)")),
                    }
                }
            }
        }
    }
    .await;
    shared.state.lock().clients.entries.remove(&client_id);
    result
}

/// Commands applied under one lock hold.
const MAX_APPLY_BATCH: usize = 4096;

/// What one `apply` round did.
struct Applied {
    /// Offsets to ACK right away (one per GETACK).
    offsets: Vec<i64>,
    /// Stopped at the batch limit with commands left in the buffer.
    more: bool,
    /// Stopped at a command a CLIENT PAUSE holds (it stays in the buffer).
    paused: bool,
}

/// Whether a CLIENT PAUSE holds the next complete command in `buf` (looked at in
/// place, not consumed).
fn master_link_held(
    st: &mut State,
    client: &Client,
    parser: &mut RequestParser,
    buf: &BytesMut,
) -> bool {
    let Ok(Some(crate::resp::Parsed::Command(n))) = parser.parse(buf) else {
        return false;
    };
    let Some(&(s, e)) = parser.ranges().first() else {
        return false;
    };
    let Some(cmd) = crate::server::command::lookup(&buf[..n][s..e]) else {
        return false;
    };
    crate::server::pause::holds_master_link(st, client, cmd)
}

/// Run every complete command in `buf` as the master link. Returns the offsets to
/// ACK right away (one per GETACK).
#[allow(clippy::too_many_arguments)] // the link's parsing state, passed piecewise
fn apply(
    shared: &Shared,
    gen: u64,
    client: &mut Client,
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    raw: &mut BytesMut,
    pending: &mut usize,
    unsupported: &mut std::collections::HashSet<String>,
) -> Result<Applied, LinkError> {
    let mut acks = Applied {
        offsets: Vec::new(),
        more: false,
        paused: false,
    };
    if buf.is_empty() {
        return Ok(acks);
    }
    let mut st = shared.state.lock();
    if st.repl.link.generation != gen {
        return Ok(acks);
    }
    let now = st.begin_batch();
    let mut applied_bytes = 0usize;
    let mut ran = 0;
    loop {
        if ran >= MAX_APPLY_BATCH {
            acks.more = true;
            break;
        }
        ran += 1;
        if st.pause.kind.is_some() && master_link_held(&mut st, client, parser, buf) {
            acks.paused = true;
            break;
        }
        let before = buf.len();
        let argv = match parser.next(buf) {
            Ok(Some(a)) => a,
            Ok(None) => {
                // Blank lines consumed without a command count with the next one.
                *pending += before - buf.len();
                break;
            }
            Err(e) => {
                return Err(fatal(format!(
                    "Protocol error from MASTER ({e}); dropping the link"
                )))
            }
        };
        *pending += before - buf.len();
        if argv[0].eq_ignore_ascii_case(b"replconf")
            && argv.len() >= 2
            && argv[1].eq_ignore_ascii_case(b"getack")
        {
            acks.offsets
                .push(st.repl.link.applied + applied_bytes as i64);
        } else {
            let name = argv[0].clone();
            let out = dispatch(&mut st, client, &arg_refs(&argv), now);
            if let Frame::Error(e) = &out.reply {
                if e.starts_with("ERR unknown command") {
                    // The dataset diverges from the master's: say so (once per
                    // command name and link, not once per call).
                    let n = String::from_utf8_lossy(&name).to_ascii_lowercase();
                    if unsupported.len() < 64 && unsupported.insert(n) {
                        tracing::warn!(
                            "command from master not supported, replica diverges: {e} (logged once per command)"
                        );
                    }
                }
                tracing::debug!(
                    "error applying '{}' from master: {e}",
                    String::from_utf8_lossy(&name)
                );
            }
        }
        if !client.in_multi() {
            applied_bytes += *pending;
            *pending = 0;
        }
    }
    if applied_bytes > 0 {
        let bytes = raw.split_to(applied_bytes);
        st.repl.link.applied += applied_bytes as i64;
        st.repl.link_db = client.db as i64;
        st.repl.proxy(&bytes);
        if let Some(e) = st.clients.entries.get_mut(&client.id) {
            e.last_interaction = Instant::now();
            e.db = client.db;
        }
    }
    Ok(acks)
}
