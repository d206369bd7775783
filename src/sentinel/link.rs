//! IO for one outgoing link (command or pub/sub) to an instance or a peer sentinel:
//! connect with a bounded timeout, write the setup commands, then pipeline commands
//! and feed every reply back to the machine with the tag it was sent with.
//!
//! A link's task ([`run_link`]) only connects and writes the setup commands; the
//! connected socket then joins the [`Readers`]: a command link joins an epoll set
//! of its own, watched by the reactor as one descriptor, whose single task
//! ([`read_links`]) reads every link that has data in one pass and feeds all of it
//! to the machine under one lock, with one `pump` after it; a pub/sub link joins a
//! second set that is read on the tick and after each such pass ([`Set::Lazy`]). (One tokio task per link cost a task wake-up,
//! a poll and a `pump` for each reply; a sentinel watching hundreds of instances
//! gets hundreds of replies a second.)
//!
//! Commands are written by the driver itself ([`LinkOut::try_flush`] from
//! `Shared::pump`, everything queued for a link in one write). A write the socket
//! does not take at once is finished by a short-lived task ([`finish_write`]).

use super::machine::{LinkKey, Machine, Tag};
use super::state::FxBuild;
use super::Shared;
use crate::resp::{parse_frame, Frame};
use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// What [`LinkOut::try_flush`] left to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Flush {
    /// Everything was written (or a write is being finished already).
    Done,
    /// The socket is full: spawn [`finish_write`].
    Blocked,
    /// The link is not connected yet: its task writes once it is.
    NotUp,
}

/// The write side of a link, shared between the driver and the link task.
pub struct LinkOut {
    key: LinkKey,
    conn: u64,
    wr: Option<Arc<std::net::TcpStream>>,
    /// The link's entry in the [`Readers`] once connected.
    pub token: Option<u64>,
    /// Encoded commands not yet written.
    buf: BytesMut,
    /// Tags of the commands sent or queued on a command link, oldest first.
    fifo: VecDeque<Tag>,
    /// The link task is finishing a write: the driver only appends.
    busy: bool,
    /// Queued since the last flush (the driver flushes once per batch).
    pub dirty: bool,
    /// A batched write's outcome is unknown: the link is reported down.
    failed: bool,
}

impl LinkOut {
    /// The write side of connection `conn` of link `key` (not connected yet).
    pub fn new(key: LinkKey, conn: u64) -> LinkOut {
        LinkOut {
            key,
            conn,
            wr: None,
            token: None,
            buf: BytesMut::new(),
            fifo: VecDeque::new(),
            busy: false,
            dirty: false,
            failed: false,
        }
    }

    /// Bytes queued and not written yet.
    #[cfg(test)]
    pub fn queued_len(&self) -> usize {
        self.buf.len()
    }

    /// The connection is up: writes go to `wr` from now on.
    pub fn attach(&mut self, wr: Arc<std::net::TcpStream>) {
        self.wr = Some(wr);
    }

    /// Queue a command whose reply will be reported with `tag`.
    pub fn queue(&mut self, args: &[String], tag: Tag) {
        encode(args, &mut self.buf);
        self.fifo.push_back(tag);
    }

    /// Write what is queued without waiting (a failed write is reported by
    /// [`finish_write`] too).
    pub fn try_flush(&mut self) -> Flush {
        if self.busy {
            return Flush::Done;
        }
        let up = self.wr.is_some();
        match self.write_some() {
            Ok(true) => Flush::Done,
            _ => {
                self.busy = true;
                if up {
                    Flush::Blocked
                } else {
                    Flush::NotUp
                }
            }
        }
    }

    /// The socket and the bytes a batched write should send now, when this link
    /// can take one (connected, not finishing a write already, something queued).
    pub fn pending(&self) -> Option<(RawFd, &[u8])> {
        match &self.wr {
            Some(wr) if !self.busy && !self.buf.is_empty() => Some((wr.as_raw_fd(), &self.buf)),
            _ => None,
        }
    }

    /// Account for a batched write of [`LinkOut::pending`]'s bytes: `Ok(n)` bytes
    /// went out, or the write failed. What is left (a short write, a full socket,
    /// an error to report) is [`finish_write`]'s: `Flush::Blocked`.
    pub fn sent(&mut self, res: std::io::Result<usize>) -> Flush {
        if let Ok(n) = res {
            self.buf.advance(n.min(self.buf.len()));
            if self.buf.is_empty() {
                if self.buf.capacity() > KEEP_CAPACITY {
                    self.buf = BytesMut::new();
                }
                return Flush::Done;
            }
        }
        self.busy = true;
        Flush::Blocked
    }

    /// A batched write whose outcome is unknown (the batch failed): nothing more
    /// can be written in order, so [`finish_write`] reports the link down.
    pub fn failed(&mut self) -> Flush {
        self.failed = true;
        self.busy = true;
        Flush::Blocked
    }

    /// Write as much as the socket takes; `Ok(true)` when everything went out.
    fn write_some(&mut self) -> std::io::Result<bool> {
        let Some(wr) = &self.wr else {
            return Ok(false);
        };
        if self.failed {
            return Err(std::io::Error::other("batched write failed"));
        }
        while !self.buf.is_empty() {
            match (&**wr).write(&self.buf) {
                Ok(n) if n == self.buf.len() => self.buf.clear(),
                Ok(n) => self.buf.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = BytesMut::new();
        }
        Ok(true)
    }
}

/// Largest reply buffered from an instance before the link is dropped.
const MAX_REPLY_BUF: usize = 64 * 1024 * 1024;

/// Buffers grown past this by one big reply or burst are replaced when empty.
const KEEP_CAPACITY: usize = 16 * 1024;

/// Bytes taken from a socket per read (a longer reply takes several reads).
const READ_SCRATCH: usize = 16 * 1024;

/// Readiness events taken from the epoll set per call.
const MAX_EVENTS: usize = 256;

fn encode(args: &[String], out: &mut BytesMut) {
    Frame::encode_command(args, out);
}

/// Connect to `host:port`. A hostname (accepted with `resolve-hostnames yes`) is
/// resolved again on every connection attempt, off the reactor thread, so an
/// instance that comes back at a new address is found on the next reconnect
/// (Redis re-resolves when it recreates a link). Each resolved address is tried
/// in order.
pub async fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return TcpStream::connect((ip, port)).await;
    }
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tracing::debug!(host, %addr, "connected to resolved address");
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("can't resolve instance hostname {host}"),
        )
    }))
}

/// A descriptor shared through an `Arc`, registered with the reactor by an
/// [`AsyncFd`] that keeps it open for as long as the registration lives.
struct ArcFd<T>(Arc<T>);

impl<T: AsRawFd> AsRawFd for ArcFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Register `fd` with the reactor for `interest`.
fn register<T: AsRawFd>(fd: &Arc<T>, interest: Interest) -> std::io::Result<AsyncFd<ArcFd<T>>> {
    // SAFETY: the `AsyncFd` owns an `Arc` of the descriptor's owner, so it stays
    // open and the same for the registration's whole life.
    unsafe { AsyncFd::register_with_interest(ArcFd(fd.clone()), interest) }.map_err(|e| e.into())
}

/// Wait until `wr` can take more bytes, at most `limit`: `Ok(())` when writable or
/// when the wait ran out (the caller tries again).
async fn writable(wr: &Arc<std::net::TcpStream>, limit: Duration) -> std::io::Result<()> {
    match register(wr, Interest::WRITABLE) {
        Ok(fd) => match tokio::time::timeout(limit, fd.writable()).await {
            Ok(Err(e)) => Err(e),
            _ => Ok(()),
        },
        // Not registrable right now: poll again shortly.
        Err(_) => {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        }
    }
}

/// Finish writing what a link has queued once the socket takes it; report the
/// link down if the write fails. Ends when everything is written, or when the link
/// is gone (its queue dropped: checked every second while the socket is full).
pub async fn finish_write(shared: Arc<Shared>, out: Weak<Mutex<LinkOut>>) {
    loop {
        let Some(o) = out.upgrade() else { return };
        let (done, wr, key, conn) = {
            let mut g = o.lock();
            let done = g.write_some();
            if matches!(done, Ok(true)) {
                g.busy = false;
            }
            (done, g.wr.clone(), g.key.clone(), g.conn)
        };
        drop(o);
        let err = match (done, wr) {
            (Ok(true), _) => return,
            (Ok(false), Some(wr)) => match writable(&wr, Duration::from_secs(1)).await {
                Ok(()) => continue,
                Err(e) => e.to_string(),
            },
            (Ok(false), None) => return,
            (Err(e), _) => e.to_string(),
        };
        shared.link_down(&key, conn, &err);
        return;
    }
}

/// Connect one link and write its setup commands, then hand the socket to the
/// [`Readers`] and report the link up. Aborted if the machine closes the link
/// meanwhile.
pub async fn run_link(
    shared: Arc<Shared>,
    key: LinkKey,
    conn: u64,
    (ip, port): (String, u16),
    setup: Vec<Vec<String>>,
    out: Arc<Mutex<LinkOut>>,
) {
    let pubsub = matches!(key, LinkKey::Pubsub(_));
    let connect = tokio::time::timeout(Duration::from_millis(2000), connect(&ip, port)).await;
    let mut stream = match connect {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            shared.link_down(&key, conn, &e.to_string());
            return;
        }
        Err(_) => {
            shared.link_down(&key, conn, "connect timeout");
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let local_ip = stream.local_addr().ok().map(|a| a.ip().to_string());
    let peer_ip = stream.peer_addr().ok().map(|a| a.ip().to_string());
    let mut setup_buf = BytesMut::new();
    for cmd in &setup {
        encode(cmd, &mut setup_buf);
    }
    if let Err(e) = stream.write_all(&setup_buf).await {
        shared.link_down(&key, conn, &e.to_string());
        return;
    }
    drop(setup_buf);
    // The socket leaves the reactor (it stays non-blocking) for the readers' set.
    let stream = match stream.into_std() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            shared.link_down(&key, conn, &e.to_string());
            return;
        }
    };
    {
        let mut o = out.lock();
        let token = shared.readers.lock().add(LinkRead {
            key: key.clone(),
            conn,
            pubsub,
            stream: stream.clone(),
            out: out.clone(),
            buf: Vec::new(),
        });
        let token = match token {
            Ok(t) => t,
            Err(e) => {
                drop(o);
                shared.link_down(&key, conn, &e.to_string());
                return;
            }
        };
        o.token = Some(token);
        if !pubsub {
            // The setup replies come first; commands queued meanwhile follow.
            for _ in &setup {
                o.fifo.push_front(Tag::Discard);
            }
        }
        o.attach(stream);
        // Commands queued before the link was up.
        if o.busy {
            o.busy = false;
            if o.try_flush() == Flush::Blocked {
                tokio::spawn(finish_write(shared.clone(), Arc::downgrade(&out)));
            }
        }
    }
    shared.link_up(&key, conn, local_ip, peer_ip);
}

/// A connected link's read side.
pub struct LinkRead {
    key: LinkKey,
    conn: u64,
    pubsub: bool,
    stream: Arc<std::net::TcpStream>,
    out: Arc<Mutex<LinkOut>>,
    /// Bytes read and not parsed yet (an incomplete reply).
    buf: Vec<u8>,
}

/// Which of the [`Readers`]' two epoll sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    /// Command links (replies): watched by the reactor, read as soon as they come.
    Eager,
    /// Pub/sub links (hellos): not watched; read by [`drain_lazy`] on every tick
    /// and after every eager pass. A hello is a 2-second heartbeat whose handling
    /// can wait a tick, and peers publish theirs on their own schedule: read as
    /// they came, each peer's hellos would wake the sentinel several times a
    /// second for nothing urgent.
    Lazy,
}

/// Every connected link's read side, in two epoll sets (edge-triggered: a link is
/// read until the socket is drained): the eager one the reactor watches as a
/// single descriptor, the lazy one read on the tick.
pub struct Readers {
    epfd: Arc<OwnedFd>,
    lazy: OwnedFd,
    next: u64,
    links: HashMap<u64, LinkRead, FxBuild>,
    events: Vec<libc::epoll_event>,
    scratch: Vec<u8>,
}

fn epoll_create() -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; the descriptor is owned below.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

impl Readers {
    /// A new, empty set.
    pub fn new() -> std::io::Result<Readers> {
        Ok(Readers {
            epfd: Arc::new(epoll_create()?),
            lazy: epoll_create()?,
            next: 0,
            links: HashMap::default(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS],
            scratch: vec![0u8; READ_SCRATCH],
        })
    }

    fn set_fd(&self, set: Set) -> RawFd {
        match set {
            Set::Eager => self.epfd.as_raw_fd(),
            Set::Lazy => self.lazy.as_raw_fd(),
        }
    }

    fn ctl(&self, set: Set, op: libc::c_int, fd: RawFd, token: u64) -> std::io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: valid descriptors and a pointer to an initialized event.
        if unsafe { libc::epoll_ctl(self.set_fd(set), op, fd, &mut ev) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watch a link (a pub/sub link in the lazy set); returns its token.
    pub fn add(&mut self, r: LinkRead) -> std::io::Result<u64> {
        self.next += 1;
        let token = self.next;
        self.ctl(r.set(), libc::EPOLL_CTL_ADD, r.stream.as_raw_fd(), token)?;
        self.links.insert(token, r);
        Ok(token)
    }

    /// Stop watching a link (closed by the machine, or failed).
    pub fn remove(&mut self, token: u64) {
        if let Some(r) = self.links.remove(&token) {
            let _ = self.ctl(r.set(), libc::EPOLL_CTL_DEL, r.stream.as_raw_fd(), token);
        }
    }

    /// How many links of `set` have something to read (or a hang-up), without
    /// waiting; their events are in `self.events`.
    fn ready(&mut self, set: Set) -> usize {
        loop {
            // SAFETY: `events` is a valid buffer of `events.len()` entries.
            let n = unsafe {
                libc::epoll_wait(
                    self.set_fd(set),
                    self.events.as_mut_ptr(),
                    self.events.len() as libc::c_int,
                    0,
                )
            };
            if n >= 0 {
                return n as usize;
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return 0;
            }
        }
    }
}

impl LinkRead {
    fn set(&self) -> Set {
        if self.pubsub {
            Set::Lazy
        } else {
            Set::Eager
        }
    }
}

/// Read link `r` until its socket is drained (a read that does not fill the
/// scratch buffer, as the edge-triggered set requires) and hand every complete
/// reply or message to the machine. `Err` with the reason when the link has failed.
fn read_link(r: &mut LinkRead, m: &mut Machine, scratch: &mut [u8]) -> Result<(), String> {
    loop {
        match (&*r.stream).read(scratch) {
            Ok(0) => return Err("connection closed".into()),
            Ok(n) => {
                r.buf.extend_from_slice(&scratch[..n]);
                if n < scratch.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let now = Instant::now();
    let mut used = 0;
    let mut failed = None;
    loop {
        match parse_frame(&r.buf[used..]) {
            Ok(Some((f, n))) => {
                used += n;
                if r.pubsub {
                    match message_of(&f) {
                        Some((ch, payload)) => {
                            m.handle_pubsub_message(&r.key, r.conn, &ch, &payload, now)
                        }
                        None => m.handle_pubsub_activity(&r.key, r.conn, now),
                    }
                } else {
                    let tag = r.out.lock().fifo.pop_front().unwrap_or(Tag::Discard);
                    m.handle_reply(&r.key, r.conn, tag, f, now);
                }
            }
            Ok(None) => break,
            Err(e) => {
                failed = Some(format!("protocol error: {}", e.0));
                break;
            }
        }
    }
    if let Some(err) = failed {
        return Err(err);
    }
    r.buf.drain(..used);
    if r.buf.len() > MAX_REPLY_BUF {
        return Err("reply too large".into());
    }
    if r.buf.is_empty() && r.buf.capacity() > KEEP_CAPACITY {
        // A big reply (INFO of a busy master) is not kept around.
        r.buf = Vec::new();
    }
    Ok(())
}

/// The task that reads the command links: woken when the eager epoll set has
/// something, it drains the set, feeding all replies of the pass to the machine
/// under one lock, then carries out what the machine asks once; the lazy set's
/// hellos are taken along.
pub async fn read_links(shared: Arc<Shared>) {
    let fd = shared.readers.lock().epfd.clone();
    let afd = match register(&fd, Interest::READABLE) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(%e, "cannot watch the links");
            return;
        }
    };
    loop {
        let mut guard = match afd.readable().await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(%e, "cannot watch the links");
                return;
            }
        };
        drain(&shared, Set::Eager);
        drain(&shared, Set::Lazy);
        guard.clear_ready();
    }
}

/// Read the pub/sub links that have something (the tick calls this).
pub fn drain_lazy(shared: &Arc<Shared>) {
    drain(shared, Set::Lazy);
}

/// Read every link of `set` that has data until the set is empty, one lock and one
/// `pump` per pass.
fn drain(shared: &Arc<Shared>, set: Set) {
    loop {
        let mut down = Vec::new();
        let n = {
            let mut rd = shared.readers.lock();
            let n = rd.ready(set);
            if n == 0 {
                return;
            }
            super::coalesce::note_link_io();
            let mut m = shared.machine.lock();
            let rd = &mut *rd;
            for ev in &rd.events[..n] {
                let token = ev.u64;
                let Some(r) = rd.links.get_mut(&token) else {
                    continue;
                };
                if let Err(err) = read_link(r, &mut m, &mut rd.scratch) {
                    down.push((token, r.key.clone(), r.conn, err));
                }
            }
            drop(m);
            for (token, ..) in &down {
                rd.remove(*token);
            }
            n
        };
        for (_, key, conn, err) in down {
            shared.link_down(&key, conn, &err);
        }
        shared.pump();
        // Fewer events than room: the set's ready list was emptied, and a link
        // that gets data later signals it again (edge-triggered).
        if n < MAX_EVENTS {
            return;
        }
    }
}

/// `["message", channel, payload]` (array in RESP2, push in RESP3), borrowed.
fn message_of(f: &Frame) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    let items = match f {
        Frame::Array(v) | Frame::Push(v) => v,
        _ => return None,
    };
    if items.len() != 3 || items[0].as_bytes() != Some(b"message") {
        return None;
    }
    fn text(f: &Frame) -> Option<Cow<'_, str>> {
        // Valid UTF-8 (every hello) is borrowed without the lossy decoder's walk.
        f.as_bytes().map(|b| match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(b),
        })
    }
    Some((text(&items[1])?, text(&items[2])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `localhost` is looked up on each call and reaches a listener on loopback.
    #[tokio::test]
    async fn connect_resolves_hostnames_each_time() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        for _ in 0..2 {
            let s = connect("localhost", port).await.unwrap();
            assert!(s.peer_addr().unwrap().ip().is_loopback());
            let _ = l.accept().await.unwrap();
        }
        assert!(connect("127.0.0.1", port).await.is_ok());
    }

    /// Replies on command links are in the set the reactor watches; hellos on
    /// pub/sub links wait in the lazy set for the tick.
    #[test]
    fn pubsub_links_are_read_lazily_command_links_eagerly() {
        use std::net::{TcpListener, TcpStream};
        let mut rd = Readers::new().unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut peers, mut ours) = (Vec::new(), Vec::new());
        for (n, pubsub) in [(1, true), (2, false)] {
            let c = Arc::new(TcpStream::connect(l.local_addr().unwrap()).unwrap());
            c.set_nonblocking(true).unwrap();
            ours.push(c.clone());
            peers.push(l.accept().unwrap().0);
            let key = LinkKey::Peer(format!("p{n}").into());
            let out = Arc::new(Mutex::new(LinkOut::new(key.clone(), n)));
            let token = rd
                .add(LinkRead {
                    key,
                    conn: n,
                    pubsub,
                    stream: c,
                    out,
                    buf: Vec::new(),
                })
                .unwrap();
            assert_eq!(token, n);
        }
        assert_eq!((rd.ready(Set::Eager), rd.ready(Set::Lazy)), (0, 0));
        peers[0].write_all(b"+hello\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!((rd.ready(Set::Eager), rd.ready(Set::Lazy)), (0, 1));
        assert_eq!({ rd.events[0].u64 }, 1);
        peers[1].write_all(b"+PONG\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(rd.ready(Set::Eager), 1);
        assert_eq!({ rd.events[0].u64 }, 2);
        // Removed links leave their set (the sockets stay open here).
        rd.remove(1);
        rd.remove(2);
        peers[0].write_all(b"+again\r\n").unwrap();
        peers[1].write_all(b"+again\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!((rd.ready(Set::Eager), rd.ready(Set::Lazy)), (0, 0));
    }
}
