//! Per-connection state (owned by the connection task) and the registry of all
//! connections (in the shared state, for CLIENT LIST/KILL, pub/sub delivery and INFO).

use crate::resp::{Frame, Proto};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// What other parts of the server can send to a connection task.
#[derive(Debug)]
pub enum ClientMsg {
    /// A push frame (pub/sub message) to write out.
    Push(Frame),
    /// Close the connection (CLIENT KILL, SHUTDOWN, role change...), optionally after
    /// writing one last reply.
    Kill(Option<Frame>),
}

/// Connection kind, as CLIENT LIST/KILL TYPE see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Normal,
    PubSub,
    /// A replica connected to us (after SYNC/PSYNC).
    Replica,
    /// Our link to our master.
    Master,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Normal => "normal",
            ClientKind::PubSub => "pubsub",
            ClientKind::Replica => "slave",
            ClientKind::Master => "master",
        }
    }
}

/// State of one connection, owned by its task.
pub struct Client {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub proto: Proto,
    pub db: usize,
    pub authenticated: bool,
    pub user: String,
    pub name: Option<Bytes>,
    /// Commands queued by MULTI; `None` outside a transaction.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A queue-time error happened inside MULTI.
    pub multi_error: bool,
    /// Keys WATCHed: (db, key).
    pub watched: Vec<(usize, Bytes)>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    /// Set by QUIT or a protocol error: close after the pending replies.
    pub close_after_reply: bool,
    /// This connection is our replication master's link (its writes bypass READONLY).
    pub is_master_link: bool,
    pub push_tx: mpsc::UnboundedSender<ClientMsg>,
    pub lib_name: Option<String>,
    pub lib_ver: Option<String>,
    /// Bytes of pushes queued but not yet written (for output-buffer limits).
    pub pending_push_bytes: Arc<AtomicUsize>,
    /// Offset in the replication stream after this client's last write (for WAIT).
    pub woff: i64,
    /// Frames written before this command's reply (SUBSCRIBE a b c emits one
    /// confirmation per channel; the handler returns the last one).
    pub pre_replies: Vec<Frame>,
    /// CLIENT REPLY OFF: no replies at all until CLIENT REPLY ON.
    pub reply_off: bool,
    /// Number of upcoming replies to drop (CLIENT REPLY SKIP, SHUTDOWN).
    pub skip_replies: u32,
    /// The command waiting on a pause was postponed at this pause generation
    /// (`server::pause`: postponed commands run again in order).
    pub postponed_gen: Option<u64>,
}

impl Client {
    pub fn new(
        id: u64,
        addr: SocketAddr,
        laddr: SocketAddr,
        authenticated: bool,
        push_tx: mpsc::UnboundedSender<ClientMsg>,
    ) -> Client {
        Client {
            id,
            addr,
            laddr,
            proto: Proto::Resp2,
            db: 0,
            authenticated,
            user: "default".into(),
            name: None,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            close_after_reply: false,
            is_master_link: false,
            push_tx,
            lib_name: None,
            lib_ver: None,
            pending_push_bytes: Arc::new(AtomicUsize::new(0)),
            woff: 0,
            pre_replies: Vec::new(),
            reply_off: false,
            skip_replies: 0,
            postponed_gen: None,
        }
    }

    /// Whether the reply of the command just run is sent (CLIENT REPLY OFF|SKIP and
    /// SHUTDOWN suppress it). Consumes one pending skip.
    pub fn take_reply_permission(&mut self) -> bool {
        if self.skip_replies > 0 {
            self.skip_replies -= 1;
            return false;
        }
        !self.reply_off
    }

    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }
}

/// What the registry knows about a connection (CLIENT LIST / KILL / INFO clients).
pub struct ClientEntry {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub name: Option<Bytes>,
    pub kind: ClientKind,
    pub db: usize,
    pub created: Instant,
    pub last_interaction: Instant,
    pub last_cmd: String,
    pub sub: usize,
    pub psub: usize,
    pub multi: i64,
    pub proto: Proto,
    pub user: String,
    pub lib_name: Option<String>,
    pub lib_ver: Option<String>,
    pub blocked: bool,
    pub tx: mpsc::UnboundedSender<ClientMsg>,
    pub pending_push_bytes: Arc<AtomicUsize>,
}

impl ClientEntry {
    pub fn from_client(c: &Client, kind: ClientKind) -> ClientEntry {
        let now = Instant::now();
        ClientEntry {
            id: c.id,
            addr: c.addr,
            laddr: c.laddr,
            name: c.name.clone(),
            kind,
            db: c.db,
            created: now,
            last_interaction: now,
            last_cmd: "NULL".into(),
            sub: 0,
            psub: 0,
            multi: -1,
            proto: c.proto,
            user: c.user.clone(),
            lib_name: None,
            lib_ver: None,
            blocked: false,
            tx: c.push_tx.clone(),
            pending_push_bytes: c.pending_push_bytes.clone(),
        }
    }

    /// Send a push frame; counts its size against the pub/sub output limit.
    pub fn push(&self, f: Frame) {
        let size = f.to_bytes(self.proto).len();
        self.pending_push_bytes.fetch_add(size, Ordering::Relaxed);
        let _ = self.tx.send(ClientMsg::Push(f));
    }

    /// One CLIENT LIST line (without the trailing newline).
    pub fn info_line(&self, now: Instant) -> String {
        let flags = match self.kind {
            ClientKind::Replica => "S",
            ClientKind::Master => "M",
            ClientKind::PubSub => "P",
            ClientKind::Normal if self.multi >= 0 => "x",
            ClientKind::Normal if self.blocked => "b",
            ClientKind::Normal => "N",
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.id + 7,
            self.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default(),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_interaction).as_secs(),
            flags,
            self.db,
            self.sub,
            self.psub,
            self.multi,
            self.pending_push_bytes.load(Ordering::Relaxed),
            self.last_cmd,
            self.user,
            self.proto.number(),
            self.lib_name.as_deref().unwrap_or(""),
            self.lib_ver.as_deref().unwrap_or(""),
        )
    }
}

/// All connections by id.
#[derive(Default)]
pub struct ClientRegistry {
    pub entries: HashMap<u64, ClientEntry>,
    next_id: u64,
}

impl ClientRegistry {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Close every connection of the given kind (role changes, CLIENT KILL TYPE).
    pub fn kill_kind(&self, kind: ClientKind, except: Option<u64>) -> usize {
        let mut n = 0;
        for e in self.entries.values() {
            if e.kind == kind && Some(e.id) != except {
                let _ = e.tx.send(ClientMsg::Kill(None));
                n += 1;
            }
        }
        n
    }
}
