//! Fewer wake-ups for bursts of link traffic. A tick sends PINGs, INFOs and hellos
//! to many instances at once, and their replies come back over the next millisecond
//! or two, one socket at a time; a peer's hellos fan out to our pub/sub links the
//! same way. Woken by each of them, the sentinel would sleep and wake again a dozen
//! times per burst, and every wake-up costs more than handling the reply it brings.
//!
//! So when the runtime has handled link traffic and is about to block, it first
//! waits until [`WINDOW`] after the wake-up that started the burst (a plain sleep:
//! no wake-ups meanwhile), then collects whatever arrived in one poll. One burst,
//! two wake-ups. The first message of a burst is handled at once; the rest at most
//! `WINDOW` later. A wake-up that served a client on the sentinel port opens no
//! window, so request/response traffic from clients is never held back (a client's
//! request that lands during a window waits at most `WINDOW`).
//!
//! The hooks run on the runtime's single thread ([`before_park`]/[`after_unpark`]
//! are the `current_thread` runtime's park hooks), so the state is thread-local.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long after the wake-up that started a burst its replies are collected.
pub const WINDOW: Duration = Duration::from_millis(2);

/// A wake-up within this long after a window ended continues that burst (the
/// runtime found the window's traffic ready at once) and opens no new window.
const CONTINUATION: Duration = Duration::from_micros(300);

#[derive(Clone, Copy, Default)]
struct State {
    /// When the current burst's first wake-up happened (`None`: no window open).
    woke: Option<Instant>,
    /// Link traffic handled (read or sent) since that wake-up.
    link_io: bool,
    /// A client on the sentinel port was served since the last wake-up.
    client_io: bool,
    /// When the last window ended.
    held_until: Option<Instant>,
}

thread_local! {
    static STATE: Cell<State> = Cell::new(State::default());
}

/// What [`before_park`] should do, from the state and the clock.
fn hold(s: &State, now: Instant) -> Option<Instant> {
    if !s.link_io || s.client_io {
        return None;
    }
    let until = s.woke? + WINDOW;
    (now < until).then_some(until)
}

/// Runtime hook: the thread is about to block for I/O or a timer.
pub fn before_park() {
    let mut s = STATE.with(Cell::get);
    let now = Instant::now();
    if let Some(until) = hold(&s, now) {
        std::thread::sleep(until - now);
        s.held_until = Some(until);
    }
    STATE.with(|c| c.set(s));
}

/// Runtime hook: the thread woke up.
pub fn after_unpark() {
    let mut s = STATE.with(Cell::get);
    woke(&mut s, Instant::now());
    STATE.with(|c| c.set(s));
}

/// A wake-up at `now`: it opens a window unless it continues the one just held.
fn woke(s: &mut State, now: Instant) {
    let continues = s
        .held_until
        .take()
        .is_some_and(|t| now.saturating_duration_since(t) < CONTINUATION);
    s.woke = (!continues).then_some(now);
    s.link_io = false;
    s.client_io = false;
}

/// Link traffic was handled: replies (or more messages) are likely to follow.
pub fn note_link_io() {
    STATE.with(|c| {
        let mut s = c.get();
        s.link_io = true;
        c.set(s);
    });
}

/// A client on the sentinel port was served: do not hold the next park.
pub fn note_client_io() {
    STATE.with(|c| {
        let mut s = c.get();
        s.client_io = true;
        c.set(s);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_only_after_link_traffic_within_the_window() {
        let t0 = Instant::now();
        let mut s = State {
            woke: Some(t0),
            ..State::default()
        };
        // Nothing handled on links: park at once.
        assert_eq!(hold(&s, t0), None);
        s.link_io = true;
        assert_eq!(hold(&s, t0), Some(t0 + WINDOW));
        assert_eq!(hold(&s, t0 + WINDOW / 2), Some(t0 + WINDOW));
        // The window is over: park at once.
        assert_eq!(hold(&s, t0 + WINDOW), None);
        // A client was served: never held.
        s.client_io = true;
        assert_eq!(hold(&s, t0), None);
        // No window open (the wake-up continued a burst).
        s.client_io = false;
        s.woke = None;
        assert_eq!(hold(&s, t0), None);
    }

    #[test]
    fn a_wake_up_right_after_a_window_opens_none() {
        let t0 = Instant::now();
        let mut s = State::default();
        woke(&mut s, t0);
        assert_eq!(s.woke, Some(t0));
        s.link_io = true;
        // The window was held until t0 + WINDOW; the runtime found its traffic
        // ready at once: no new window.
        s.held_until = hold(&s, t0);
        let t1 = t0 + WINDOW + Duration::from_micros(50);
        woke(&mut s, t1);
        assert!(s.woke.is_none() && !s.link_io && s.held_until.is_none());
        assert_eq!(hold(&State { link_io: true, ..s }, t1), None);
        // The next wake-up opens one again.
        let t2 = t1 + Duration::from_millis(40);
        woke(&mut s, t2);
        assert_eq!(s.woke, Some(t2));
        // A wake-up long after a window (the park blocked) opens one too.
        s.held_until = Some(t2);
        woke(&mut s, t2 + Duration::from_millis(30));
        assert_eq!(s.woke, Some(t2 + Duration::from_millis(30)));
    }
}
