//! Coordinated failover (FAILOVER, Redis 6.2+): wait until the target replica has
//! acknowledged our whole stream, then become its replica with
//! `PSYNC <our replid> <our offset + 1> FAILOVER`, which makes it a master that
//! continues our history. See replication.md §9.
//!
//! Not done: writes are not paused while waiting for the target (Redis pauses
//! write clients); a write accepted during that window can make the target never
//! catch up (the failover then times out) or, with FORCE, be lost.

use super::{FailoverState, ReplicaState};
use crate::server::state::{Shared, State};
use std::time::Instant;

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

fn start_switch(st: &mut State, host: String, port: u16) {
    tracing::info!("Failover target {host}:{port} is synced, failing over.");
    st.repl.failover = FailoverState::InProgress;
    st.repl.link.psync_failover = true;
    super::become_replica(st, &host, port);
}

/// Abort a failover; from `failover-in-progress` we become a master again.
pub fn abort(st: &mut State, reason: &str) {
    tracing::warn!("FAILOVER aborted: {reason}");
    let in_progress = st.repl.failover == FailoverState::InProgress;
    st.repl.failover = FailoverState::None;
    if in_progress {
        super::become_master(st);
    }
}

/// The target answered our `PSYNC ... FAILOVER`.
pub fn psync_result(st: &mut State, accepted: bool) {
    if st.repl.failover != FailoverState::InProgress {
        return;
    }
    if accepted {
        st.repl.failover = FailoverState::None;
        tracing::info!("Failover completed: we are now a replica.");
    } else {
        abort(st, "Failover target rejected psync request");
    }
}
