//! Writes to many links in one system call.
//!
//! A tick sends a PING (with a hello or an INFO riding along) to every instance
//! that is due: dozens of small writes, each to another socket. Written one by one,
//! each `send` wakes the redis-server it reaches, and that server often preempts
//! the sentinel on the way back from the system call: a context switch out and back
//! in per write. Submitted together through io_uring, the sends all happen in one
//! `io_uring_enter`, and the sentinel is preempted at most once per batch.
//!
//! Every send is non-blocking (`MSG_DONTWAIT`: io_uring completes it at once with
//! what the socket took, or `EAGAIN`), so the wait for the completions never
//! blocks; what a socket did not take is finished by the link's usual slow path
//! ([`super::link::finish_write`]). Where io_uring is not available (an old kernel,
//! a seccomp profile that forbids it) or fails, links are written one by one as
//! before.

use super::link::{Flush, LinkOut};
use io_uring::{opcode, types, IoUring};
use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;

/// Submission slots in the ring; a bigger batch is submitted in several rounds.
const RING_ENTRIES: u32 = 256;

/// The writer of batches; one per sentinel.
pub struct SendBatch {
    ring: Option<IoUring>,
}

impl Default for SendBatch {
    fn default() -> SendBatch {
        SendBatch::new()
    }
}

impl SendBatch {
    /// A batch writer over io_uring when the kernel offers it, else one that
    /// writes link by link.
    pub fn new() -> SendBatch {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_coop_taskrun()
            .build(RING_ENTRIES)
            .or_else(|_| IoUring::new(RING_ENTRIES));
        match ring {
            Ok(r) => SendBatch { ring: Some(r) },
            Err(e) => {
                tracing::debug!(%e, "io_uring not available: links are written one by one");
                SendBatch { ring: None }
            }
        }
    }

    /// A batch writer that never uses io_uring (the fallback, for tests).
    pub fn plain() -> SendBatch {
        SendBatch { ring: None }
    }

    /// Write what each link has queued. Returns the links whose write must be
    /// finished by [`super::link::finish_write`].
    pub fn flush(&mut self, outs: &[Arc<Mutex<LinkOut>>]) -> Vec<Arc<Mutex<LinkOut>>> {
        let mut guards: Vec<MutexGuard<'_, LinkOut>> = outs.iter().map(|o| o.lock()).collect();
        let mut done = vec![false; guards.len()];
        let mut blocked = Vec::new();
        for g in guards.iter_mut() {
            g.dirty = false;
        }
        if guards.iter().filter(|g| g.pending().is_some()).count() >= 2 {
            if let Err(e) = self.submit(&mut guards, &mut done, &mut blocked) {
                tracing::warn!(%e, "io_uring write failed: writing links one by one from now on");
                self.ring = None;
            }
        }
        for (i, g) in guards.iter_mut().enumerate() {
            if !done[i] && g.try_flush() == Flush::Blocked {
                blocked.push(i);
            }
        }
        drop(guards);
        blocked.into_iter().map(|i| outs[i].clone()).collect()
    }

    /// Send every pending link's bytes through the ring, [`RING_ENTRIES`] at a
    /// time; marks each link it accounted for in `done`.
    fn submit(
        &mut self,
        guards: &mut [MutexGuard<'_, LinkOut>],
        done: &mut [bool],
        blocked: &mut Vec<usize>,
    ) -> std::io::Result<()> {
        let Some(ring) = self.ring.as_mut() else {
            return Ok(());
        };
        let todo: Vec<usize> = (0..guards.len())
            .filter(|&i| guards[i].pending().is_some())
            .collect();
        for round in todo.chunks(RING_ENTRIES as usize) {
            for &i in round {
                let Some((fd, bytes)) = guards[i].pending() else {
                    continue;
                };
                let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                let sqe = opcode::Send::new(types::Fd(fd), bytes.as_ptr(), len)
                    .flags(libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
                    .build()
                    .user_data(i as u64);
                // SAFETY: the bytes stay in place and unchanged until their
                // completion is reaped below: the link's lock is held for the whole
                // call and nothing else writes its buffer. The ring has room: at
                // most RING_ENTRIES entries per round, all reaped before the next.
                if unsafe { ring.submission().push(&sqe) }.is_err() {
                    return Err(std::io::Error::other("submission queue full"));
                }
            }
            // MSG_DONTWAIT sends complete during the submission: this wait ends at
            // once.
            let mut want = round.len();
            while want > 0 {
                match ring.submit_and_wait(want) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // Whether this round's unreaped sends went out is unknown:
                        // those links are reported down (and reconnected).
                        for cqe in ring.completion() {
                            let i = cqe.user_data() as usize;
                            done[i] = true;
                            if guards[i].sent(result(cqe.result())) == Flush::Blocked {
                                blocked.push(i);
                            }
                        }
                        for &i in round {
                            if !done[i] {
                                done[i] = true;
                                guards[i].failed();
                                blocked.push(i);
                            }
                        }
                        return Err(e);
                    }
                }
                for cqe in ring.completion() {
                    let i = cqe.user_data() as usize;
                    done[i] = true;
                    want -= 1;
                    if guards[i].sent(result(cqe.result())) == Flush::Blocked {
                        blocked.push(i);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A completion's result as bytes written or the error.
fn result(res: i32) -> std::io::Result<usize> {
    if res >= 0 {
        Ok(res as usize)
    } else {
        Err(std::io::Error::from_raw_os_error(-res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::machine::{LinkKey, Tag};
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    /// A connected pair: a link's write side (non-blocking, like the driver's) and
    /// the peer that reads it.
    fn pair(n: u64) -> (Arc<Mutex<LinkOut>>, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (peer, _) = l.accept().unwrap();
        c.set_nonblocking(true).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = LinkOut::new(LinkKey::Peer(format!("p{n}").into()), n);
        out.attach(Arc::new(c));
        (Arc::new(Mutex::new(out)), peer)
    }

    /// Where the kernel allows io_uring, the batch uses it (the tests below then
    /// cover the ring path, not only the fallback).
    #[test]
    fn uses_io_uring_where_the_kernel_offers_it() {
        let allowed = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .map(|s| s.trim() == "0")
            .unwrap_or(false);
        if allowed {
            assert!(SendBatch::new().ring.is_some());
        }
        assert!(SendBatch::plain().ring.is_none());
    }

    fn queue(out: &Arc<Mutex<LinkOut>>, args: &[&str]) {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut o = out.lock();
        o.queue(&args, Tag::Discard);
        o.dirty = true;
    }

    fn read_exactly(peer: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        peer.read_exact(&mut got).unwrap();
        got
    }

    /// Every link's queued commands arrive whole and in order, through the ring
    /// and through the link-by-link fallback alike.
    #[test]
    fn batch_writes_every_link_in_order() {
        for mut batch in [SendBatch::new(), SendBatch::plain()] {
            let mut links: Vec<_> = (0..5).map(pair).collect();
            for (n, (out, _)) in links.iter().enumerate() {
                queue(out, &["PING"]);
                queue(
                    out,
                    &["PUBLISH", "__sentinel__:hello", &format!("hello {n}")],
                );
            }
            let outs: Vec<_> = links.iter().map(|(o, _)| o.clone()).collect();
            assert!(batch.flush(&outs).is_empty());
            for (n, (out, peer)) in links.iter_mut().enumerate() {
                let want = format!(
                    "*1\r\n$4\r\nPING\r\n*3\r\n$7\r\nPUBLISH\r\n$18\r\n__sentinel__:hello\r\n$7\r\nhello {n}\r\n"
                );
                assert_eq!(read_exactly(peer, want.len()), want.as_bytes());
                let o = out.lock();
                assert!(o.pending().is_none() && !o.dirty);
            }
        }
    }

    /// A socket that does not take everything leaves the rest to the slow path
    /// (the link is returned as blocked, busy, with exactly the unwritten bytes
    /// kept), and never blocks the batch.
    #[test]
    fn a_full_socket_is_left_to_the_slow_path() {
        for mut batch in [SendBatch::new(), SendBatch::plain()] {
            let (small, mut small_peer) = pair(1);
            let (big, mut big_peer) = pair(2);
            queue(&small, &["PING"]);
            let blob = "x".repeat(16 << 20);
            queue(&big, &["SET", "k", &blob]);
            let total = big.lock().pending().unwrap().1.len();
            let blocked = batch.flush(&[small.clone(), big.clone()]);
            assert_eq!(blocked.len(), 1);
            assert!(Arc::ptr_eq(&blocked[0], &big));
            assert_eq!(read_exactly(&mut small_peer, 14), b"*1\r\n$4\r\nPING\r\n");
            let o = big.lock();
            // Busy: the driver only appends until finish_write is done.
            assert!(o.pending().is_none());
            let left = o.queued_len();
            assert!(left > 0 && left < total, "left {left} of {total}");
            drop(o);
            // What went out is the start of the command.
            let head = read_exactly(&mut big_peer, 64);
            assert!(head.starts_with(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16777216\r\nxxx"));
        }
    }

    /// A peer that is gone: the failed write is left to the slow path, which
    /// reports the link down.
    #[test]
    fn a_failed_write_is_left_to_the_slow_path() {
        for mut batch in [SendBatch::new(), SendBatch::plain()] {
            let (a, peer_a) = pair(1);
            let (b, _peer_b) = pair(2);
            // Reset the connection: unread data at close sends an RST.
            queue(&a, &["PING"]);
            assert!(batch.flush(std::slice::from_ref(&a)).is_empty());
            drop(peer_a);
            std::thread::sleep(Duration::from_millis(50));
            queue(&a, &["PING"]);
            queue(&b, &["PING"]);
            let mut blocked = batch.flush(&[a.clone(), b.clone()]);
            // The first write after the peer closed may still be accepted;
            // the next one fails.
            if blocked.is_empty() {
                queue(&a, &["PING"]);
                queue(&b, &["PING"]);
                blocked = batch.flush(&[a.clone(), b.clone()]);
            }
            assert_eq!(blocked.len(), 1);
            assert!(Arc::ptr_eq(&blocked[0], &a));
            assert!(a.lock().pending().is_none());
        }
    }
}
