//! The wake-up of the sentinel's timer: a Linux timerfd watched by the reactor, so
//! that each tick costs one wake-up. (A 100 ms `tokio::time::sleep` wakes the
//! thread twice, once when its timer-wheel slot cascades and once when it fires,
//! and re-arming it signals the runtime's eventfd: three wake-ups per tick.)
//! Falls back to `tokio::time::sleep_until` if the timerfd cannot be used.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A one-shot timer re-armed for every tick.
pub struct Ticker {
    fd: Option<AsyncFd<OwnedFd>>,
}

impl Ticker {
    /// A timerfd registered with the current runtime (or the fallback). Must be
    /// called from within the runtime.
    pub fn start() -> Ticker {
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Ticker { fd: None };
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the `OwnedFd` keeps the descriptor open and unchanged for as long
        // as the `AsyncFd` owns it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) };
        Ticker { fd: fd.ok() }
    }

    /// Sleep until `t` (`CLOCK_MONOTONIC`, like [`Instant`]).
    pub async fn sleep_until(&mut self, t: Instant) {
        let d = t.saturating_duration_since(Instant::now());
        if d.is_zero() {
            tokio::task::yield_now().await;
            return;
        }
        if self.wait(d).await.is_err() {
            // The timerfd failed: use tokio's timer from now on.
            self.fd = None;
            tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await;
        }
    }

    async fn wait(&self, d: Duration) -> std::io::Result<()> {
        let Some(fd) = &self.fd else {
            return Err(std::io::Error::other("no timerfd"));
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: valid descriptor and pointers to initialized structs.
        let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        loop {
            let mut guard = fd.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: reads at most 8 bytes into an 8-byte buffer.
            let n = unsafe {
                libc::read(
                    fd.as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            // Either way the descriptor is drained: wait for the next edge.
            guard.clear_ready();
            if n == 8 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::WouldBlock {
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleeps last at least as asked, and not much longer.
    #[tokio::test(flavor = "current_thread")]
    async fn sleeps_until_the_deadline() {
        let mut t = Ticker::start();
        assert!(t.fd.is_some(), "timerfd available on Linux");
        for ms in [1u64, 30, 5] {
            let start = Instant::now();
            t.sleep_until(start + Duration::from_millis(ms)).await;
            let took = start.elapsed();
            assert!(took >= Duration::from_millis(ms), "{took:?} < {ms} ms");
            assert!(took < Duration::from_millis(ms + 500), "{took:?}");
        }
        // A deadline already passed returns at once.
        let start = Instant::now();
        t.sleep_until(start - Duration::from_millis(1)).await;
        assert!(start.elapsed() < Duration::from_millis(100));
    }
}
