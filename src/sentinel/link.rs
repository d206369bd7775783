//! IO for one outgoing link (command or pub/sub) to an instance or a peer sentinel:
//! connect with a bounded timeout, write the setup commands, then pipeline commands
//! and feed every reply back to the machine with the tag it was sent with.
//!
//! Commands are written by the driver itself ([`LinkOut::try_flush`] from
//! `Shared::pump`, everything queued for a link in one write) without waking the
//! link task; the task only reads. A write the socket does not take at once is
//! finished by a short-lived task ([`finish_write`]).

use super::machine::{LinkKey, Tag};
use super::Shared;
use crate::resp::{parse_frame, Frame};
use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
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
    wr: Option<Arc<OwnedWriteHalf>>,
    /// Encoded commands not yet written.
    buf: BytesMut,
    /// Tags of the commands sent or queued on a command link, oldest first.
    fifo: VecDeque<Tag>,
    /// The link task is finishing a write: the driver only appends.
    busy: bool,
    /// Queued since the last flush (the driver flushes once per batch).
    pub dirty: bool,
}

impl LinkOut {
    /// The write side of connection `conn` of link `key` (not connected yet).
    pub fn new(key: LinkKey, conn: u64) -> LinkOut {
        LinkOut {
            key,
            conn,
            wr: None,
            buf: BytesMut::new(),
            fifo: VecDeque::new(),
            busy: false,
            dirty: false,
        }
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

    /// Write as much as the socket takes; `Ok(true)` when everything went out.
    fn write_some(&mut self) -> std::io::Result<bool> {
        let Some(wr) = &self.wr else {
            return Ok(false);
        };
        while !self.buf.is_empty() {
            match wr.try_write(&self.buf) {
                Ok(n) if n == self.buf.len() => self.buf.clear(),
                Ok(n) => self.buf.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
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

/// Free room made in the read buffer before each read.
const READ_CHUNK: usize = 512;

/// Buffers grown past this by one big reply or burst are replaced when empty.
const KEEP_CAPACITY: usize = 16 * 1024;

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
            (Ok(false), Some(wr)) => {
                match tokio::time::timeout(Duration::from_secs(1), wr.writable()).await {
                    Ok(Err(e)) => e.to_string(),
                    _ => continue,
                }
            }
            (Ok(false), None) => return,
            (Err(e), _) => e.to_string(),
        };
        shared.link_down(&key, conn, &err);
        return;
    }
}

/// Run one link until it fails or the machine closes it (the task is aborted).
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
    let stream = match connect {
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
    let (mut rd, mut wr) = stream.into_split();
    let mut setup_buf = BytesMut::new();
    for cmd in &setup {
        encode(cmd, &mut setup_buf);
    }
    if let Err(e) = wr.write_all(&setup_buf).await {
        shared.link_down(&key, conn, &e.to_string());
        return;
    }
    let wr = Arc::new(wr);
    {
        let mut o = out.lock();
        if !pubsub {
            // The setup replies come first; commands queued meanwhile follow.
            for _ in &setup {
                o.fifo.push_front(Tag::Discard);
            }
        }
        o.wr = Some(wr);
        // Commands queued before the link was up.
        if o.busy {
            o.busy = false;
            if o.try_flush() == Flush::Blocked {
                tokio::spawn(finish_write(shared.clone(), Arc::downgrade(&out)));
            }
        }
    }
    drop(setup_buf);
    shared.link_up(&key, conn, local_ip);
    // Replies are read into a buffer that always starts at offset 0 and is drained
    // after parsing, so a link only ever touches as many bytes as its largest reply
    // (a hello or a PONG on most links) instead of walking through a big buffer.
    let mut buf: Vec<u8> = Vec::with_capacity(if pubsub { 512 } else { 1024 });
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK {
            buf.reserve(READ_CHUNK);
        }
        let r = rd.read_buf(&mut buf).await;
        match r {
            Ok(0) => {
                shared.link_down(&key, conn, "connection closed");
                return;
            }
            Err(e) => {
                shared.link_down(&key, conn, &e.to_string());
                return;
            }
            Ok(_) => {}
        }
        let now = Instant::now();
        let mut used = 0;
        let mut failed = None;
        {
            let mut m = shared.machine.lock();
            loop {
                match parse_frame(&buf[used..]) {
                    Ok(Some((f, n))) => {
                        used += n;
                        if pubsub {
                            match message_of(&f) {
                                Some((ch, payload)) => {
                                    m.handle_pubsub_message(&key, conn, &ch, &payload, now)
                                }
                                None => m.handle_pubsub_activity(&key, conn, now),
                            }
                        } else {
                            let tag = out.lock().fifo.pop_front().unwrap_or(Tag::Discard);
                            m.handle_reply(&key, conn, tag, f, now);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(format!("protocol error: {}", e.0));
                        break;
                    }
                }
            }
        }
        if let Some(err) = failed {
            shared.link_down(&key, conn, &err);
            return;
        }
        buf.drain(..used);
        if buf.len() > MAX_REPLY_BUF {
            shared.link_down(&key, conn, "reply too large");
            return;
        }
        if buf.is_empty() && buf.capacity() > KEEP_CAPACITY {
            // A big reply (INFO of a busy master) is not kept around.
            buf = Vec::with_capacity(READ_CHUNK);
        }
        shared.pump();
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
}
