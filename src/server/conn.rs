//! One client connection: read requests, run them in batches under the state lock,
//! write replies; deliver pub/sub pushes; block for BLPOP and friends; hand the socket
//! over to replication after PSYNC.

use super::client::{Client, ClientEntry, ClientKind, ClientMsg};
use super::command::{arg_refs, dispatch, BlockOn, Handoff};
use super::state::{Shared, State};
use crate::resp::{Frame, Parsed, Proto, RequestLimits, RequestParser};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Most requests run under one lock acquisition.
const MAX_BATCH: usize = 1024;

const DENIED: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/// Removes the client from the shared registries when the task ends (also on panic).
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock();
        forget_client(&mut st, self.id);
    }
}

/// Drop every trace of a client: registry, subscriptions, watches.
pub fn forget_client(st: &mut State, id: u64) {
    st.clients.entries.remove(&id);
    st.pubsub.channels.retain(|_, s| {
        s.remove(&id);
        !s.is_empty()
    });
    st.pubsub.patterns.retain(|_, s| {
        s.remove(&id);
        !s.is_empty()
    });
    for db in st.dbs.iter_mut() {
        if !db.watched.is_empty() {
            db.watched.retain(|_, ids| {
                ids.retain(|x| *x != id);
                !ids.is_empty()
            });
        }
    }
    st.dirty_cas.remove(&id);
}

/// Serve one accepted connection until it closes.
/// `id` is the client id, assigned in accept order (CLIENT ID grows with connection
/// order, as in Redis).
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, addr: SocketAddr, id: u64) {
    let _ = stream.set_nodelay(true);
    let laddr = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (tx, rx) = mpsc::unbounded_channel();
    let admitted = {
        let mut st = shared.state.lock();
        st.stats.total_connections_received += 1;
        if st.clients.len() >= st.config.hot.maxclients {
            st.stats.rejected_connections += 1;
            Err("ERR max number of clients reached".to_string())
        } else if st.config.hot.protected_mode
            && st.config.hot.requirepass.is_none()
            && !addr.ip().is_loopback()
        {
            Err(DENIED.to_string())
        } else {
            let client = Client::new(id, addr, laddr, st.config.hot.requirepass.is_none(), tx);
            st.clients
                .entries
                .insert(id, ClientEntry::from_client(&client, ClientKind::Normal));
            Ok(client)
        }
    };
    let mut stream = stream;
    let client = match admitted {
        Ok(c) => c,
        Err(e) => {
            let _ = stream
                .write_all(&Frame::Error(e).to_bytes(Proto::Resp2))
                .await;
            return;
        }
    };
    let reg = Registration {
        shared: shared.clone(),
        id: client.id,
    };
    let (rd, wr) = stream.into_split();
    let conn = Conn {
        shared,
        client,
        rd,
        wr,
        rx,
        inbuf: BytesMut::with_capacity(READ_CHUNK),
        outbuf: BytesMut::with_capacity(16 * 1024),
        parser: RequestParser::new(RequestLimits::default()),
        pending: VecDeque::new(),
        retry_deadline: None,
        net_in: 0,
        net_out: 0,
        query_limit: usize::MAX,
        await_sent: None,
        await_acks: None,
        write_replies: Vec::new(),
    };
    if let Some((handoff, rd, wr, rest)) = conn.run().await {
        drop(reg);
        if let Ok(stream) = rd.reunite(wr) {
            handoff(stream, rest).await;
        }
    }
}

struct Conn {
    shared: Arc<Shared>,
    client: Client,
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    rx: mpsc::UnboundedReceiver<ClientMsg>,
    inbuf: BytesMut,
    outbuf: BytesMut,
    parser: RequestParser,
    /// Parsed requests not yet run (behind a blocked command).
    pending: VecDeque<Vec<Bytes>>,
    /// Deadline of a blocked command being retried after a wake-up: if it has to
    /// block again, it keeps its original deadline.
    retry_deadline: Option<Option<Instant>>,
    /// Network bytes not yet added to INFO stats: they are added under the lock the
    /// next batch takes anyway, so reads and writes take no lock of their own.
    net_in: u64,
    net_out: u64,
    /// client-query-buffer-limit as of the last batch.
    query_limit: usize,
    /// Stream offset that must reach a replica before the pending replies go out.
    await_sent: Option<(i64, tokio::sync::watch::Receiver<i64>)>,
    /// With `vigil-sync-replicas`: the batch's writes waiting for confirmations, and
    /// the byte ranges of their replies in `outbuf` (see `sync_ack`).
    await_acks: Option<super::sync_ack::SyncWait>,
    write_replies: Vec<(usize, usize)>,
}

/// Longest a reply waits for its write to be sent to a replica. A replica that cannot
/// take the bytes this fast is lagging, and the reply goes out anyway (Redis's
/// asynchronous replication); normally the wait is one task hop.
const SENT_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// What a batch ended with.
enum BatchEnd {
    Continue,
    Close,
    Block(BlockOn, Vec<Bytes>, Arc<tokio::sync::Notify>),
    Handoff(Handoff),
}

/// Reads ask for at least this much (Redis reads 16 KB at a time).
const READ_CHUNK: usize = 16 * 1024;

/// Room for a whole read: the buffer's spare capacity shrinks as requests are consumed
/// from its front, and a short read splits a pipeline into two batches (two reads,
/// two writes). Reserving when little is left reclaims the consumed front.
fn make_read_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
}

/// Add a connection's not-yet-counted network bytes to INFO stats.
fn settle_net_counters(st: &mut State, net_in: &mut u64, net_out: &mut u64) {
    st.stats.total_net_input_bytes += std::mem::take(net_in);
    st.stats.total_net_output_bytes += std::mem::take(net_out);
}

type HandoffParts = (Handoff, OwnedReadHalf, OwnedWriteHalf, BytesMut);

impl Conn {
    async fn run(mut self) -> Option<HandoffParts> {
        let handoff = self.run_inner().await;
        if self.net_in + self.net_out > 0 {
            let mut st = self.shared.state.lock();
            settle_net_counters(&mut st, &mut self.net_in, &mut self.net_out);
        }
        handoff.map(|(h, rest)| (h, self.rd, self.wr, rest))
    }

    async fn run_inner(&mut self) -> Option<(Handoff, BytesMut)> {
        loop {
            match self.run_batch() {
                BatchEnd::Continue => {}
                BatchEnd::Close => {
                    let _ = self.flush().await;
                    return None;
                }
                BatchEnd::Handoff(h) => {
                    if self.flush().await.is_err() {
                        return None;
                    }
                    let rest = std::mem::take(&mut self.inbuf);
                    return Some((h, rest));
                }
                BatchEnd::Block(block, argv, notify) => {
                    if self.flush().await.is_err() {
                        return None;
                    }
                    if !self.wait_blocked(block, argv, notify).await {
                        return None;
                    }
                    continue;
                }
            }
            if self.flush().await.is_err() {
                return None;
            }
            if !self.pending.is_empty() {
                continue;
            }
            make_read_room(&mut self.inbuf);
            tokio::select! {
                r = self.rd.read_buf(&mut self.inbuf) => {
                    match r {
                        Ok(0) | Err(_) => return None,
                        Ok(n) => {
                            self.net_in += n as u64;
                            if self.inbuf.len() > self.query_limit {
                                tracing::warn!(client = self.client.id, "closing client that reached max query buffer length");
                                return None;
                            }
                            let want = self.parser.wanted(&self.inbuf);
                            if want > 0 {
                                self.inbuf.reserve(want);
                            }
                        }
                    }
                }
                msg = self.rx.recv() => {
                    if !self.handle_msg(msg) {
                        let _ = self.flush().await;
                        return None;
                    }
                }
            }
        }
    }

    /// Handle a message from elsewhere in the server. False: close the connection.
    fn handle_msg(&mut self, msg: Option<ClientMsg>) -> bool {
        match msg {
            Some(ClientMsg::Push(f)) => {
                let before = self.outbuf.len();
                f.encode(self.client.proto, &mut self.outbuf);
                let size = self.outbuf.len() - before;
                let pending = &self.client.pending_push_bytes;
                let _ = pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(size))
                });
                true
            }
            Some(ClientMsg::Kill(last)) => {
                if let Some(f) = last {
                    f.encode(self.client.proto, &mut self.outbuf);
                }
                false
            }
            None => false,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        // Acknowledge writes only once a replica has their bytes: a master killed
        // right after replying then loses nothing it acknowledged.
        if let Some((off, mut rx)) = self.await_sent.take() {
            let _ = tokio::time::timeout(SENT_WAIT, rx.wait_for(|v| *v >= off)).await;
        }
        let ranges = std::mem::take(&mut self.write_replies);
        if let Some(w) = self.await_acks.take() {
            if !super::sync_ack::confirmed(&self.shared, &w).await {
                let err = super::sync_ack::not_synced(&w);
                super::sync_ack::replace_replies(
                    &mut self.outbuf,
                    &ranges,
                    &err,
                    self.client.proto,
                );
            }
        }
        self.write_replies = ranges;
        self.write_replies.clear();
        let n = self.outbuf.len();
        let r = self.wr.write_all(&self.outbuf).await;
        self.outbuf.clear();
        if self.outbuf.capacity() > 1 << 20 {
            self.outbuf = BytesMut::with_capacity(16 * 1024);
        }
        self.net_out += n as u64;
        r
    }

    /// Parse and run what is buffered, under one lock.
    fn run_batch(&mut self) -> BatchEnd {
        let mut st = self.shared.state.lock();
        settle_net_counters(&mut st, &mut self.net_in, &mut self.net_out);
        self.query_limit = st.config.hot.client_query_buffer_limit;
        self.parser.limits.authenticated = self.client.authenticated;
        self.parser.limits.max_bulk_len = st.config.hot.proto_max_bulk_len;
        let now_ms = st.begin_batch();
        let woff_before = self.client.woff;
        let sync_writes = st.config.hot.sync_replicas > 0;
        self.write_replies.clear();
        let mut ran = 0;
        let mut end = BatchEnd::Continue;
        // The last command's name, copied (not a Bytes clone: no refcount traffic).
        let mut last_cmd = [0u8; 32];
        let mut last_cmd_len: Option<usize> = None;
        // Requests are parsed in place: their arguments are slices of `inbuf`, which
        // is advanced past them once the batch is done (no copy, no refcount).
        let mut consumed = 0;
        // The argument slices of the batch's multibulk requests, one vector reused
        // for every request (no allocation per command).
        let mut slices: Vec<&[u8]> = Vec::new();
        while ran < MAX_BATCH {
            let queued: Vec<Bytes>;
            let inline: Vec<Vec<u8>>;
            let owned: Vec<&[u8]>;
            let argv: &[&[u8]] = if let Some(a) = self.pending.pop_front() {
                queued = a;
                owned = arg_refs(&queued);
                &owned
            } else {
                let head = &self.inbuf[consumed..];
                match self.parser.parse(head) {
                    Ok(Some(Parsed::Command(n))) => {
                        consumed += n;
                        let head = &head[..n];
                        slices.clear();
                        slices.extend(self.parser.ranges().iter().map(|&(s, e)| &head[s..e]));
                        &slices
                    }
                    Ok(Some(Parsed::Inline(n, args))) => {
                        consumed += n;
                        inline = args;
                        owned = inline.iter().map(|a| &a[..]).collect();
                        &owned
                    }
                    Ok(Some(Parsed::Skip(n))) => {
                        consumed += n;
                        continue;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        Frame::err(e.to_string()).encode(self.client.proto, &mut self.outbuf);
                        end = BatchEnd::Close;
                        break;
                    }
                }
            };
            ran += 1;
            // Redis closes silently on requests that look like HTTP cross-protocol attacks.
            if argv[0].eq_ignore_ascii_case(b"host:") || argv[0].eq_ignore_ascii_case(b"post") {
                tracing::warn!("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. Connection aborted.");
                end = BatchEnd::Close;
                break;
            }
            let n = argv[0].len().min(last_cmd.len());
            last_cmd[..n].copy_from_slice(&argv[0][..n]);
            last_cmd_len = Some(n);
            let retry_deadline = self.retry_deadline.take();
            // Writes are told by the dirty counter (the offset does not move on a
            // master that never had a replica, and every write must be confirmed).
            let (dirty_cmd, reply_start) = if sync_writes {
                (st.dirty(), self.outbuf.len())
            } else {
                (0, 0)
            };
            let out = dispatch(&mut st, &mut self.client, argv, now_ms);
            if let Some(mut block) = out.block {
                // A retried command that blocks again keeps its first deadline.
                if let Some(d) = retry_deadline {
                    block.deadline = d;
                }
                // `call` hands the request back with a block, to be run again.
                let Some(argv) = out.argv else {
                    block
                        .timeout_reply
                        .encode(self.client.proto, &mut self.outbuf);
                    continue;
                };
                let notify = st.blocking.register(self.client.db, &block.keys);
                if let Some(e) = st.clients.entries.get_mut(&self.client.id) {
                    e.blocked = true;
                }
                end = BatchEnd::Block(block, argv, notify);
                break;
            }
            // Extra frames of a multi-frame reply (SUBSCRIBE a b), then the reply
            // unless CLIENT REPLY OFF|SKIP or SHUTDOWN suppressed it (commands/client.rs).
            for f in self.client.pre_replies.drain(..) {
                f.encode(self.client.proto, &mut self.outbuf);
            }
            // A handoff with an empty simple string writes no reply (SYNC).
            let silent =
                out.handoff.is_some() && matches!(&out.reply, Frame::Simple(s) if s.is_empty());
            if self.client.take_reply_permission() && !silent {
                out.reply.encode(self.client.proto, &mut self.outbuf);
            }
            if sync_writes && self.outbuf.len() > reply_start && st.dirty() != dirty_cmd {
                self.write_replies.push((reply_start, self.outbuf.len()));
            }
            // SHUTDOWN (commands/server.rs) only sets `state.shutdown`: wake the main task.
            if st.shutdown.is_some() {
                self.shared.shutdown.notify_one();
            }
            if let Some(h) = out.handoff {
                end = BatchEnd::Handoff(h);
                break;
            }
            if self.client.close_after_reply {
                end = BatchEnd::Close;
                break;
            }
        }
        self.inbuf.advance(consumed);
        if ran > 0 {
            self.update_entry(&mut st, last_cmd_len.map(|n| &last_cmd[..n]));
        }
        if !self.write_replies.is_empty() {
            self.await_acks = super::sync_ack::start(&mut st, self.client.woff);
        }
        if self.client.woff > woff_before {
            if let Some(off) = st.repl.must_send_before_reply(self.client.woff) {
                self.await_sent = Some((off, st.repl.sent_tx.subscribe()));
            }
        }
        end
    }

    fn update_entry(&self, st: &mut State, last_cmd: Option<&[u8]>) {
        if let Some(e) = st.clients.entries.get_mut(&self.client.id) {
            e.last_interaction = st.clock_mark.unwrap_or_else(Instant::now);
            e.db = self.client.db;
            e.name = self.client.name.clone();
            e.sub = self.client.channels.len();
            e.psub = self.client.patterns.len();
            e.multi = self
                .client
                .multi
                .as_ref()
                .map(|q| q.len() as i64)
                .unwrap_or(-1);
            e.proto = self.client.proto;
            // Compare before cloning: no allocation per batch in the common case.
            if e.user != self.client.user {
                e.user = self.client.user.clone();
            }
            if e.lib_name != self.client.lib_name {
                e.lib_name = self.client.lib_name.clone();
            }
            if e.lib_ver != self.client.lib_ver {
                e.lib_ver = self.client.lib_ver.clone();
            }
            if e.kind == ClientKind::Normal && self.client.subscriptions() > 0 {
                e.kind = ClientKind::PubSub;
            } else if e.kind == ClientKind::PubSub && self.client.subscriptions() == 0 {
                e.kind = ClientKind::Normal;
            }
            if let Some(c) = last_cmd {
                if !e.last_cmd.as_bytes().eq_ignore_ascii_case(c) {
                    e.last_cmd = String::from_utf8_lossy(c).to_ascii_lowercase();
                }
            }
        }
    }

    /// Wait until a blocked command can be retried, times out or the client is killed.
    /// False: close the connection.
    async fn wait_blocked(
        &mut self,
        block: BlockOn,
        argv: Vec<Bytes>,
        notify: Arc<tokio::sync::Notify>,
    ) -> bool {
        let deadline = block.deadline;
        let sleep = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        let mut alive = true;
        let mut retry = false;
        loop {
            tokio::select! {
                _ = notify.notified() => { retry = true; break; }
                _ = &mut sleep => {
                    block.timeout_reply.encode(self.client.proto, &mut self.outbuf);
                    break;
                }
                msg = self.rx.recv() => {
                    if !self.handle_msg(msg) { alive = false; break; }
                    if self.flush().await.is_err() { alive = false; break; }
                }
                // A client that goes away while blocked; more requests stay buffered.
                r = self.rd.read_buf(&mut self.inbuf) => {
                    if matches!(r, Ok(0) | Err(_)) { alive = false; break; }
                }
            }
        }
        {
            let mut st = self.shared.state.lock();
            st.blocking.unregister(self.client.db, &block.keys, &notify);
            if let Some(e) = st.clients.entries.get_mut(&self.client.id) {
                e.blocked = false;
            }
        }
        if retry {
            self.pending.push_front(argv);
            self.retry_deadline = Some(deadline);
        }
        alive
    }
}
