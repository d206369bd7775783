//! Write fencing (beyond Redis, opt-in with `vigil-fencing yes`): a master accepts
//! writes only while a quorum of the sentinels that watch it hold an unexpired lease
//! on it, so that a master cut off from the sentinels' majority stops taking writes
//! before any new master can be advertised.
//!
//! # Protocol
//!
//! A Vigil sentinel that sees `vigil_fencing:1` in the master's INFO sends, every
//! lease/3 or so, `VIGIL-LEASE <sentinel-id> <token> <lease-ms>` where `token` is the
//! last token this master gave it (`0` for none). The master answers a fresh token
//! (an integer, unique across restarts: a random base plus a counter) and remembers
//! the instant `m` at which it sent that reply. When a later command echoes that
//! token, the master knows the sentinel received the reply at some time `>= m`, so it
//! records `lease[sentinel-id] = m + min(lease-ms, vigil-fencing-lease-ms)`. The lease
//! is measured on the master's own monotonic clock from a moment that provably came
//! before the sentinel's decision to grant it; network delays only shorten it.
//!
//! # Safety argument
//!
//! Let N be the number of sentinels, F = `vigil-fencing-quorum` with F > N/2 (a
//! majority), L the lease length. A failover needs a majority of votes for its leader
//! in one epoch. A Vigil sentinel never sends a grant for master address A after it
//! voted (for anyone, itself included) in a failover of A, until its configuration
//! moved to another address or a hold time (longer than any failover can take to
//! advertise a new master) has passed (see `sentinel::fencing`). Each voter's last
//! grant echoed a token sent at `m <= v` (its vote time), so its lease ends by
//! `v + L`. The elected leader received every vote it counted before its election at
//! `e`, so all of them end before `e + L`. The voters are a majority, so at most
//! N - majority < F sentinels can still hold a lease after `e + L`: the old master
//! cannot count F leases and refuses every write. The leader waits `L` plus a drift
//! margin (10 % + 50 ms) after its election before it sends `REPLICAOF NO ONE`, so the
//! old master is fenced before the new one exists, let alone is advertised. Clock
//! rates are assumed to differ by far less than the margin; no clock is compared.
//!
//! Leases are tied to the replication id under which they were granted: a master
//! that is demoted and promoted again (new replication id) starts without leases.
//!
//! A sentinel restarted after a vote has lost the vote's time: when its persisted
//! `leader-epoch` is newer than the master's config epoch (a failover it voted in and
//! never saw complete) it holds grants from its start for the whole hold time.
//!
//! Configuration: `vigil-fencing yes|no` (default no), `vigil-fencing-quorum N`
//! (default 2; the operator must set a majority of the sentinels, the server cannot
//! know how many there are), `vigil-fencing-lease-ms MS` (default 1000, the longest
//! lease one grant gives; sentinels cap it at down-after / 2). All are settable with
//! CONFIG SET and kept by CONFIG REWRITE. A fenced master answers writes, and
//! EXEC of a transaction holding a write, with [`FENCED`]; reads, admin commands and
//! the replication stream are unaffected; replicas ignore fencing. A fresh or freshly
//! promoted master has no lease until the sentinels grant it one (a round trip after
//! they first see it).
//!
//! Not guaranteed by leases alone: writes the old master acknowledged during its last
//! lease that had not reached the promoted replica are lost when it rejoins as a
//! replica (the window is bounded by L, not zero). `vigil-sync-replicas N`
//! (`server::sync_ack`) closes it for the usual case: replies to writes wait until N
//! replicas acknowledged them, so an acknowledged write is on a replica; when the
//! sentinels' side of a partition holds all replicas (the old master isolated with
//! its clients), the promoted replica, the most advanced one they reach, has it. If
//! the old master keeps an acknowledging replica on its side, up to one lease of
//! writes can still be lost. A forced
//! `SENTINEL FAILOVER` with an unreachable master skips the election; the leader
//! still waits L, but other sentinels may keep granting (they never voted), so the
//! old master stays writable if it still reaches F of them. Real `redis-sentinel`s
//! never grant, and one elected leader does not wait: F must be reachable with Vigil
//! sentinels alone, and with a `redis-sentinel` leader the old master may take writes
//! for up to one lease after the new one is promoted.

use crate::resp::Frame;
use crate::server::command::{flags::*, Command, Ctx};
use crate::server::commands::args::parse_i64;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Tokens remembered per sentinel (commands may be pipelined).
const TOKENS_PER_SENTINEL: usize = 8;
/// Sentinel ids remembered at most (the least recently seen is forgotten).
const MAX_SENTINELS: usize = 128;

/// The error a fenced master answers to writes. `READONLY` makes redis-py's Sentinel
/// connection, go-redis and Vigil's discovery drop the connection and ask the
/// sentinels again, which is what a client of a fenced master should do.
pub const FENCED: &str =
    "READONLY You can't write against a fenced master (vigil-fencing: no sentinel lease quorum).";

#[derive(Debug)]
struct Peer {
    /// Tokens issued to this sentinel with the instant each reply was made.
    issued: VecDeque<(u64, Instant)>,
    /// End of the lease and the replication id it was granted under.
    lease: Option<(Instant, String)>,
    last_seen: Instant,
}

/// The lease table of one server.
#[derive(Debug)]
pub struct Fencing {
    next_token: u64,
    peers: HashMap<String, Peer>,
}

impl Default for Fencing {
    fn default() -> Self {
        Fencing::new(rand::random::<u64>() >> 2)
    }
}

impl Fencing {
    /// A table whose tokens start after `base` (random in production).
    pub fn new(base: u64) -> Fencing {
        Fencing {
            next_token: base.max(1),
            peers: HashMap::new(),
        }
    }

    /// Handle one grant from sentinel `id` echoing `echoed` (0 = none), offering a
    /// lease of `offered` capped at `max`. Returns the new token to reply, issued at
    /// `now`. A known echoed token extends the lease to (its issue time + lease).
    pub fn grant(
        &mut self,
        id: &str,
        echoed: u64,
        offered: Duration,
        max: Duration,
        replid: &str,
        now: Instant,
    ) -> u64 {
        if !self.peers.contains_key(id) && self.peers.len() >= MAX_SENTINELS {
            if let Some(old) = self
                .peers
                .iter()
                .min_by_key(|(_, p)| p.last_seen)
                .map(|(k, _)| k.clone())
            {
                self.peers.remove(&old);
            }
        }
        let p = self.peers.entry(id.to_string()).or_insert_with(|| Peer {
            issued: VecDeque::new(),
            lease: None,
            last_seen: now,
        });
        p.last_seen = now;
        if echoed != 0 {
            if let Some(pos) = p.issued.iter().position(|(t, _)| *t == echoed) {
                let sent = p.issued[pos].1;
                // Older tokens can no longer give a later lease.
                p.issued.drain(..=pos);
                let end = sent + offered.min(max);
                let keep = match &p.lease {
                    Some((e, r)) => r == replid && *e >= end,
                    None => false,
                };
                if !keep {
                    p.lease = Some((end, replid.to_string()));
                }
            }
        }
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1).max(1);
        p.issued.push_back((token, now));
        while p.issued.len() > TOKENS_PER_SENTINEL {
            p.issued.pop_front();
        }
        token
    }

    /// Sentinels holding an unexpired lease granted under `replid`.
    pub fn holders(&self, replid: &str, now: Instant) -> usize {
        self.peers
            .values()
            .filter(|p| matches!(&p.lease, Some((end, r)) if r == replid && *end > now))
            .count()
    }

    /// Whether `quorum` leases are held.
    pub fn has_quorum(&self, quorum: usize, replid: &str, now: Instant) -> bool {
        self.holders(replid, now) >= quorum
    }

    /// Milliseconds left until the quorum is lost (0 if not held).
    pub fn quorum_ms_left(&self, quorum: usize, replid: &str, now: Instant) -> u64 {
        let mut ends: Vec<Instant> = self
            .peers
            .values()
            .filter_map(|p| match &p.lease {
                Some((end, r)) if r == replid && *end > now => Some(*end),
                _ => None,
            })
            .collect();
        if quorum == 0 || ends.len() < quorum {
            return 0;
        }
        ends.sort_unstable_by(|a, b| b.cmp(a));
        ends[quorum - 1].saturating_duration_since(now).as_millis() as u64
    }
}

/// Whether fencing refuses writes now on this server (fencing on, role master,
/// no quorum of leases).
pub fn fenced(state: &crate::server::state::State, now: Instant) -> bool {
    let hot = &state.config.hot;
    hot.fencing
        && !state.is_replica()
        && !state
            .fencing
            .has_quorum(hot.fencing_quorum, &state.repl.replid, now)
}

/// The fields appended to INFO's replication section when fencing is on (nothing
/// when off, so the default output stays Redis's).
pub fn info_fields(state: &crate::server::state::State) -> String {
    let hot = &state.config.hot;
    if !hot.fencing {
        return String::new();
    }
    let now = Instant::now();
    let replid = &state.repl.replid;
    let f = &state.fencing;
    format!(
        "vigil_fencing:1\r\nvigil_fencing_quorum:{}\r\nvigil_fencing_lease_ms:{}\r\nvigil_fencing_leases:{}\r\nvigil_fencing_writable:{}\r\nvigil_fencing_ms_left:{}\r\n",
        hot.fencing_quorum,
        hot.fencing_lease_ms,
        f.holders(replid, now),
        i32::from(!fenced(state, now)),
        if state.is_replica() {
            0
        } else {
            f.quorum_ms_left(hot.fencing_quorum, replid, now)
        }
    )
}

pub static COMMANDS: &[Command] = &[Command::new(
    "vigil-lease",
    4,
    ADMIN | NOSCRIPT | LOADING | STALE | FAST,
    vigil_lease,
)];

/// `VIGIL-LEASE <sentinel-id> <token> <lease-ms>`: a sentinel's lease grant (see the
/// module doc). `token` is the last token this server gave that sentinel, `0` for
/// none; `lease-ms` the lease it grants (capped by `vigil-fencing-lease-ms`). Replies
/// a fresh token (integer). Always answered, also with fencing off or on a replica
/// (leases then simply have no effect).
fn vigil_lease(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let id = &argv[1];
    if id.is_empty() || id.len() > 64 || !id.iter().all(|c| c.is_ascii_graphic()) {
        return Frame::err("VIGIL-LEASE: invalid sentinel id");
    }
    let Some(token) = parse_i64(argv[2]).filter(|t| *t >= 0) else {
        return Frame::err("VIGIL-LEASE: invalid token");
    };
    let Some(ms) = parse_i64(argv[3]).filter(|m| (1..=3_600_000).contains(m)) else {
        return Frame::err("VIGIL-LEASE: invalid lease-ms (1..3600000)");
    };
    let id = String::from_utf8_lossy(id).into_owned();
    let max = Duration::from_millis(ctx.state.config.hot.fencing_lease_ms);
    let st = &mut *ctx.state;
    let t = st.fencing.grant(
        &id,
        token as u64,
        Duration::from_millis(ms as u64),
        max,
        &st.repl.replid,
        Instant::now(),
    );
    Frame::Integer(t as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn echoed_token_gives_lease_from_its_issue_time() {
        let t0 = Instant::now();
        let mut f = Fencing::new(100);
        let a = f.grant("s1", 0, MS(1000), MS(5000), "r", t0);
        assert_eq!(f.holders("r", t0), 0, "no lease before an echo");
        // Echoed 300 ms later: the lease runs from t0, not from the echo.
        let _b = f.grant("s1", a, MS(1000), MS(5000), "r", t0 + MS(300));
        assert_eq!(f.holders("r", t0 + MS(999)), 1);
        assert_eq!(f.holders("r", t0 + MS(1000)), 0);
        assert_eq!(f.quorum_ms_left(1, "r", t0 + MS(400)), 600);
    }

    #[test]
    fn lease_is_capped_by_server_max() {
        let t0 = Instant::now();
        let mut f = Fencing::new(1);
        let a = f.grant("s1", 0, MS(9000), MS(500), "r", t0);
        f.grant("s1", a, MS(9000), MS(500), "r", t0 + MS(10));
        assert_eq!(f.holders("r", t0 + MS(499)), 1);
        assert_eq!(f.holders("r", t0 + MS(500)), 0);
    }

    #[test]
    fn unknown_foreign_or_reused_tokens_give_nothing() {
        let t0 = Instant::now();
        let mut f = Fencing::new(1000);
        let a = f.grant("s1", 0, MS(1000), MS(5000), "r", t0);
        // A token never issued (e.g. from a previous process).
        f.grant("s2", 7, MS(1000), MS(5000), "r", t0);
        assert_eq!(f.holders("r", t0), 0);
        // s1's token echoed by s2 proves nothing about s2.
        f.grant("s2", a, MS(1000), MS(5000), "r", t0);
        assert_eq!(f.holders("r", t0), 0);
        // Echoing an older token after a newer one cannot move the lease back.
        let b = f.grant("s1", a, MS(1000), MS(5000), "r", t0 + MS(100));
        let c = f.grant("s1", b, MS(1000), MS(5000), "r", t0 + MS(200));
        assert_eq!(f.quorum_ms_left(1, "r", t0), 1100);
        f.grant("s1", a, MS(1000), MS(5000), "r", t0 + MS(300));
        assert_eq!(f.quorum_ms_left(1, "r", t0), 1100);
        assert!(c > b && b > a);
    }

    #[test]
    fn quorum_counts_distinct_sentinels_and_replid() {
        let t0 = Instant::now();
        let mut f = Fencing::new(1);
        for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
            let t = f.grant(id, 0, MS(1000), MS(1000), "r", t0);
            f.grant(id, t, MS(1000), MS(1000), "r", t0 + MS(i as u64 * 100));
        }
        // The same sentinel twice counts once.
        let t = f.grant("s1", 0, MS(1000), MS(1000), "r", t0);
        f.grant("s1", t, MS(1000), MS(1000), "r", t0);
        assert!(f.has_quorum(3, "r", t0 + MS(1)));
        assert!(!f.has_quorum(4, "r", t0 + MS(1)));
        // Quorum 2 of 3 lasts until the second-latest lease ends.
        assert_eq!(f.quorum_ms_left(2, "r", t0), 1000);
        assert!(!f.has_quorum(2, "r", t0 + MS(1500)));
        // Leases granted under another replication id do not count.
        assert_eq!(f.holders("other", t0 + MS(1)), 0);
    }

    #[test]
    fn tokens_never_zero_and_peer_table_bounded() {
        let t0 = Instant::now();
        let mut f = Fencing::new(u64::MAX);
        let a = f.grant("s", 0, MS(1), MS(1), "r", t0);
        let b = f.grant("s", 0, MS(1), MS(1), "r", t0);
        assert!(a != 0 && b != 0);
        for i in 0..(MAX_SENTINELS + 10) {
            f.grant(&format!("id{i}"), 0, MS(1), MS(1), "r", t0 + MS(i as u64));
        }
        assert!(f.peers.len() <= MAX_SENTINELS);
    }
}
