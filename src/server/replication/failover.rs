//! Coordinated failover (FAILOVER, Redis 6.2+): pause writes, wait until the target
//! replica has acknowledged our whole stream, then become its replica with
//! `PSYNC <our replid> <our offset + 1> FAILOVER`, which makes it a master that
//! continues our history. See replication.md §9.
//!
//! While a failover runs (`waiting-for-sync` and `failover-in-progress`) writes are
//! paused like Redis's `CLIENT_PAUSE_WRITE`: a write (or MAY_REPLICATE command, or an
//! EXEC with a write queued) from a normal client is postponed, not rejected — the
//! connection blocks on [`PAUSE_KEY`] and runs the command again when the failover
//! ends (on the new replica it then answers `-READONLY`; after an abort or a timeout
//! it runs). Keys do not expire either (no DEL enters the stream), so the target can
//! catch up. A postponed write waits at most the failover's own timeout plus
//! `repl-timeout` seconds, then gets an error and is not executed.

use super::{FailoverState, ReplicaState};
use crate::resp::Frame;
use crate::server::client::Client;
use crate::server::command::{flags, BlockOn, Command, Outcome};
use crate::server::state::{Shared, State};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// Key postponed writers block on (never a real key lookup).
pub const PAUSE_KEY: &[u8] = b"\x00vigil-failover-pause";

/// Reply to a write postponed for longer than the bound.
pub const PAUSE_TIMEOUT_ERR: &str =
    "FAILOVER kept writes paused for too long; the command was not executed";

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
    super::set_expire_deletes(st, false);
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
    if !st.is_replica() {
        super::set_expire_deletes(st, true);
    }
    let key = Bytes::from_static(PAUSE_KEY);
    for db in 0..st.dbs.len() {
        st.blocking.wake(db, &key);
    }
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

/// Whether this call must wait for the failover to end: writes are paused for every
/// client except our master link (Redis: `is_may_replicate_command`).
pub fn must_postpone(st: &State, client: &Client, cmd: &Command) -> bool {
    if matches!(st.repl.failover, FailoverState::None) || client.is_master_link {
        return false;
    }
    if cmd.has(flags::WRITE | flags::MAY_REPLICATE) {
        return true;
    }
    cmd.name == "exec"
        && client.multi.as_ref().is_some_and(|q| {
            q.iter().any(|argv| {
                crate::server::command::resolve_for_exec(&crate::server::command::arg_refs(argv))
                    .is_some_and(|(c, _)| c.has(flags::WRITE | flags::MAY_REPLICATE))
            })
        })
}

/// Postpone a call until the failover ends (the connection blocks on [`PAUSE_KEY`]
/// and runs it again), at most until the failover's deadline plus `repl-timeout`.
pub fn postpone(st: &State, argv: &[&[u8]]) -> Outcome {
    let now = Instant::now();
    let until = match &st.repl.failover {
        FailoverState::WaitForSync {
            deadline: Some(d), ..
        } => (*d).max(now),
        _ => now,
    };
    let grace = Duration::from_secs(st.config.get_i64("repl-timeout").max(1) as u64);
    Outcome {
        reply: Frame::Null,
        block: Some(BlockOn {
            keys: vec![Bytes::from_static(PAUSE_KEY)],
            deadline: Some(until + grace),
            timeout_reply: Frame::err(PAUSE_TIMEOUT_ERR),
        }),
        handoff: None,
        argv: Some(crate::server::command::owned_args(argv)),
    }
}
