//! Pausing clients (Redis's `pauseClients`): CLIENT PAUSE and FAILOVER's write pause.
//!
//! Each purpose has its own pause, as in Redis 7.0: CLIENT PAUSE (`WRITE` or `ALL`,
//! until a deadline or CLIENT UNPAUSE) and a running FAILOVER (`WRITE`, until the
//! failover ends). The strongest one in force applies. Under `ALL` every command of
//! a normal client waits; under `WRITE` the commands that may change the dataset or
//! the replication stream wait (flags WRITE and MAY_REPLICATE, and EXEC with such a
//! command queued) while reads run. On a replica, CLIENT PAUSE also holds the
//! master link's commands ([`holds_master_link`]), as Redis does; replicas' links do
//! not run commands.
//!
//! A paused command is postponed, not rejected: the dispatcher checks
//! [`must_postpone`] just before MULTI queueing (Redis's order), and the connection
//! blocks on [`PAUSE_KEY`] with the request, and runs it again when a pause ends
//! (the requests behind it wait in order). Postponed commands run again in the order
//! they were postponed, like Redis's list of postponed clients: the end of a pause
//! wakes the first waiter, and each one, when it runs again, wakes the next
//! ([`retrying`]; waking them all at once would let the scheduler pick the order).
//! Waiters are listed per database, so the order holds among the clients of one
//! database.
//! While any pause is in force no key expires (no DEL enters the stream), neither
//! lazily nor in the cron.
//!
//! A new CLIENT PAUSE takes the new mode and keeps the later of the two deadlines
//! (CLIENT PAUSE 100 ALL during a 5 s WRITE pause pauses everything for 5 s).
//! The deadline is checked by the cron (10 times a second, like Redis's serverCron)
//! and whenever a command meets the pause.

use super::client::Client;
use super::command::{flags, BlockOn, Command, Outcome};
use super::replication::FailoverState;
use super::state::State;
use crate::resp::Frame;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// Key postponed commands block on (never a real key lookup).
pub const PAUSE_KEY: &[u8] = b"\x00vigil-pause";

/// Reply to a write FAILOVER postponed for longer than its bound.
pub const FAILOVER_PAUSE_TIMEOUT_ERR: &str =
    "FAILOVER kept writes paused for too long; the command was not executed";

/// What a pause holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    /// Writes and MAY_REPLICATE commands.
    Write,
    /// Every command.
    All,
}

#[derive(Default)]
pub struct Pauses {
    /// CLIENT PAUSE: its mode and end.
    client: Option<(PauseKind, Instant)>,
    /// FAILOVER pauses writes while it runs.
    failover: bool,
    /// The strongest pause in force: the one field the command path reads.
    pub kind: Option<PauseKind>,
    /// Grows each time a pause ends or weakens: the commands postponed before
    /// then are released one after the other.
    generation: u64,
}

impl Pauses {
    fn recompute(&mut self) {
        let client = self.client.map(|(k, _)| k);
        let failover = self.failover.then_some(PauseKind::Write);
        self.kind = client.max(failover);
    }
}

/// CLIENT PAUSE: pause `kind` until `end` (the later of this end and a running
/// CLIENT PAUSE's). An `end` in the past ends the CLIENT PAUSE at the next check.
pub fn pause_clients(st: &mut State, kind: PauseKind, end: Instant) {
    let end = match st.pause.client {
        Some((_, old)) => old.max(end),
        None => end,
    };
    st.pause.client = Some((kind, end));
    changed(st);
}

/// FAILOVER began or ended.
pub fn set_failover_pause(st: &mut State, on: bool) {
    st.pause.failover = on;
    changed(st);
}

/// CLIENT UNPAUSE: end the CLIENT PAUSE (a running FAILOVER keeps its pause).
pub fn unpause_clients(st: &mut State) {
    if st.pause.client.take().is_some() {
        changed(st);
    }
}

/// End a CLIENT PAUSE whose time is up (the cron and [`must_postpone`] call this).
/// With no pause in force, a postponed command still waiting is woken: its
/// predecessor went away before passing the turn on (the cron's fallback).
pub fn check_deadline(st: &mut State, now: Instant) {
    if st.pause.client.is_some_and(|(_, end)| now >= end) {
        st.pause.client = None;
        changed(st);
    } else if st.pause.kind.is_none() && !st.blocking.waiting.is_empty() {
        wake_first_waiters(st);
    }
}

/// A postponed command of a client (now in `db`) runs again: if it was released by
/// the end of a pause, the next postponed one goes next.
pub fn retrying(st: &mut State, db: usize, generation: u64) {
    if generation < st.pause.generation {
        wake_first(st, db);
    }
}

fn wake_first(st: &mut State, db: usize) {
    let key = (db, Bytes::from_static(PAUSE_KEY));
    if let Some(first) = st.blocking.waiting.get(&key).and_then(|v| v.first()) {
        first.notify_one();
    }
}

fn wake_first_waiters(st: &mut State) {
    for db in 0..st.dbs.len() {
        wake_first(st, db);
    }
}

/// Whether a CLIENT PAUSE is in force (INFO, tests).
pub fn clients_paused(st: &State) -> bool {
    st.pause.client.is_some()
}

/// After any change: expiry follows the pause, and postponed commands run again
/// (those still paused block again).
fn changed(st: &mut State) {
    let before = st.pause.kind;
    st.pause.recompute();
    let after = st.pause.kind;
    if before.is_none() != after.is_none() {
        if after.is_some() {
            super::replication::set_expire_deletes(st, false);
        } else {
            let master = !st.is_replica();
            super::replication::set_expire_deletes(st, master);
        }
    }
    if after < before {
        st.pause.generation += 1;
        wake_first_waiters(st);
    }
}

/// Whether this call must wait for the pause to end.
pub fn must_postpone(st: &mut State, client: &mut Client, cmd: &Command) -> bool {
    if st.pause.kind.is_none() || client.is_master_link {
        return false;
    }
    check_deadline(st, Instant::now());
    let held = held(st, client, cmd);
    if held {
        client.postponed_gen = Some(st.pause.generation);
    }
    held
}

/// Whether a CLIENT PAUSE holds the master link's next command. Redis pauses its
/// master client like any other: a replica under CLIENT PAUSE stops applying the
/// stream (writes under WRITE, everything under ALL) and its offset stands still
/// until the pause ends; the bytes wait in the link's buffer.
pub fn holds_master_link(st: &mut State, client: &Client, cmd: &Command) -> bool {
    if st.pause.client.is_none() {
        return false;
    }
    check_deadline(st, Instant::now());
    st.pause.client.is_some() && held(st, client, cmd)
}

fn held(st: &State, client: &Client, cmd: &Command) -> bool {
    match st.pause.kind {
        None => false,
        Some(PauseKind::All) => true,
        Some(PauseKind::Write) => {
            let paused = |c: &Command| c.has(flags::WRITE | flags::MAY_REPLICATE);
            paused(cmd)
                || (cmd.name == "exec"
                    && client.multi.as_ref().is_some_and(|q| {
                        q.iter().any(|argv| {
                            super::command::resolve_for_exec(&super::command::arg_refs(argv))
                                .is_some_and(|(c, _)| paused(c))
                        })
                    }))
        }
    }
}

/// Postpone a call until the pause ends: the connection blocks on [`PAUSE_KEY`] and
/// runs it again. CLIENT PAUSE has no other bound (its own deadline ends it); a
/// write held by FAILOVER alone waits at most the failover's deadline plus
/// `repl-timeout`, then gets an error and is not executed.
pub fn postpone(st: &State, argv: &[&[u8]]) -> Outcome {
    let deadline = if st.pause.client.is_none() && st.pause.failover {
        let now = Instant::now();
        let until = match &st.repl.failover {
            FailoverState::WaitForSync {
                deadline: Some(d), ..
            } => (*d).max(now),
            _ => now,
        };
        let grace = Duration::from_secs(st.config.get_i64("repl-timeout").max(1) as u64);
        Some(until + grace)
    } else {
        None
    };
    Outcome {
        reply: Frame::Null,
        block: Some(BlockOn {
            keys: vec![Bytes::from_static(PAUSE_KEY)],
            deadline,
            timeout_reply: Frame::err(FAILOVER_PAUSE_TIMEOUT_ERR),
        }),
        handoff: None,
        argv: Some(super::command::owned_args(argv)),
    }
}
