//! Coordinated failover (FAILOVER, Redis 6.2+): pause writes, wait until the target
//! replica has acknowledged our whole stream, then become its replica with
//! `PSYNC <our replid> <our offset + 1> FAILOVER`, which makes it a master that
//! continues our history. See replication.md §9.
//!
//! While a failover runs (`waiting-for-sync` and `failover-in-progress`) writes are
//! paused like Redis's `CLIENT_PAUSE_WRITE`, through the same mechanism as CLIENT
//! PAUSE (`server::pause`, its own failover pause): a write (or MAY_REPLICATE command, or
//! an EXEC with a write queued) from a normal client is postponed, not rejected, and
//! runs again when the failover ends (on the new replica it then answers `-READONLY`;
//! after an abort or a timeout it runs). Keys do not expire either (no DEL enters the
//! stream), so the target can catch up. A write postponed by the failover alone waits
//! at most the failover's own timeout plus `repl-timeout` seconds, then gets an error
//! and is not executed.

use super::{FailoverState, ReplicaState};
use crate::server::pause;
use crate::server::state::{Shared, State};
use std::time::{Duration, Instant};

/// Progress a running failover (called 10 times a second).
pub fn tick(shared: &Shared) {
    let mut st = shared.state.lock();
    let FailoverState::WaitForSync {
        target,
        deadline,
        force,
    } = st.repl.failover.clone()
    else {
        return;
    };
    let mro = st.repl.master_repl_offset;
    let chosen = st
        .repl
        .replicas
        .values()
        .filter(|r| r.state == ReplicaState::Online)
        .filter(|r| match &target {
            Some((h, p)) => r.ip == *h && r.port == *p as i64,
            None => r.ack_off == mro,
        })
        .map(|r| (r.ip.clone(), r.port, r.ack_off))
        .next();
    let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
    match chosen {
        Some((ip, port, ack)) if ack == mro || (timed_out && force) => {
            start_switch(&mut st, ip, port as u16);
        }
        _ if timed_out && force => {
            if let Some((h, p)) = target {
                start_switch(&mut st, h, p);
            }
        }
        _ if timed_out => abort(&mut st, "Replica never caught up before timeout"),
        _ => {}
    }
}

/// FAILOVER accepted: enter `waiting-for-sync` and pause writes.
pub fn begin(st: &mut State, target: Option<(String, u16)>, timeout_ms: Option<i64>, force: bool) {
    st.repl.failover = FailoverState::WaitForSync {
        target,
        deadline: timeout_ms.map(|t| Instant::now() + Duration::from_millis(t as u64)),
        force,
    };
    // Like Redis's pause: no key expires (no DEL may enter the stream meanwhile).
    pause::set_failover_pause(st, true);
    tracing::info!("FAILOVER requested; writes are paused while the target catches up.");
    // Ask for fresh ACKs so the target's position is known soon.
    st.repl.emit_no_select(&[b"REPLCONF", b"GETACK", b"*"]);
}

fn start_switch(st: &mut State, host: String, port: u16) {
    tracing::info!("Failover target {host}:{port} is synced, failing over.");
    st.repl.failover = FailoverState::InProgress;
    st.repl.link.psync_failover = true;
    super::become_replica(st, &host, port);
}

/// Leave the failover state and release the postponed writers.
fn end(st: &mut State) {
    st.repl.failover = FailoverState::None;
    pause::set_failover_pause(st, false);
}

/// Abort a failover; from `failover-in-progress` we become a master again.
pub fn abort(st: &mut State, reason: &str) {
    tracing::warn!("FAILOVER aborted: {reason}");
    let in_progress = st.repl.failover == FailoverState::InProgress;
    if in_progress {
        // become_master refuses nothing but clears the link; do it before waking
        // the writers so they run against a master.
        st.repl.failover = FailoverState::None;
        super::become_master(st);
    }
    end(st);
}

/// The target answered our `PSYNC ... FAILOVER`.
pub fn psync_result(st: &mut State, accepted: bool) {
    if st.repl.failover != FailoverState::InProgress {
        return;
    }
    if accepted {
        tracing::info!("Failover completed: we are now a replica.");
        end(st);
    } else {
        abort(st, "Failover target rejected psync request");
    }
}
