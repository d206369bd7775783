//! Leader election and the failover state machine (reference §3.8-3.12), as part of
//! the sans-IO machine: wait-start → select-slave → send-slaveof-noone →
//! wait-promotion → reconf-slaves → update-config, with Redis's events, plus the
//! enforcement done outside failovers (`+convert-to-slave`, `+fix-slave-config`).
//!
//! Differences from Redis, all on the side of speed or safety: an election starts
//! 0-50 ms after ODOWN instead of up to 1 s later; peers are asked at once; a lost
//! or split election is retried after a randomized delay with exponential backoff
//! (seconds, not 2 × failover-timeout); the promoted replica and replicas being
//! reconfigured are polled every 50 ms (INFO pipelined right after each
//! transaction); the new config epoch is pushed to peers at
//! once; a failover whose promoted replica dies in reconf-slaves still times out.
//! A forced failover (`SENTINEL FAILOVER`) skips ODOWN and the quorum but still wins
//! its epoch by a majority vote (split votes retried at once), so two concurrent ones
//! never share an epoch; a sentinel leading a failover grants no vote to another.

use super::events::{instance_event, Level};
use super::machine::{inst_of, Action, Inst, LinkKey, Machine, Tag};
use super::state::*;
use crate::resp::Frame;
use rand::Rng;
use std::time::{Duration, Instant};

/// Longest backoff between election attempts.
const MAX_ELECTION_BACKOFF: Duration = Duration::from_secs(10);

/// Delay before retrying an election after attempt number `attempts` (1-based).
fn election_backoff(m: &mut Machine, attempts: u32) -> Duration {
    let base = 500u64 << attempts.min(5).saturating_sub(1);
    let jitter = m.rng.gen_range(0..=base);
    Duration::from_millis(base + jitter).min(MAX_ELECTION_BACKOFF)
}

/// The timer's failover step for master `name` (not called in TILT).
pub(crate) fn tick(m: &mut Machine, name: &str, now: Instant) {
    if m.tilt {
        return;
    }
    start_if_needed(m, name, now);
    let Some(state) = m.masters.get(name).map(|mm| mm.failover_state) else {
        return;
    };
    match state {
        FailoverState::None | FailoverState::UpdateConfig => {}
        FailoverState::WaitStart => wait_start(m, name, now),
        FailoverState::SelectSlave => select_slave_state(m, name, now),
        FailoverState::SendSlaveofNoone => send_slaveof_noone(m, name, now),
        FailoverState::WaitPromotion => wait_promotion(m, name, now),
        FailoverState::ReconfSlaves => reconf_slaves(m, name, now),
    }
}

fn start_if_needed(m: &mut Machine, name: &str, now: Instant) {
    let delay = Duration::from_millis(m.rng.gen_range(0..=50));
    let Some(mm) = m.masters.get_mut(name) else {
        return;
    };
    if mm.in_failover() {
        return;
    }
    // A pending `SENTINEL FAILOVER` whose election split is retried (forced) until
    // its deadline; otherwise an election needs ODOWN.
    let forced = match mm.force_until {
        Some(t) if now < t => true,
        Some(_) => {
            mm.force_until = None;
            false
        }
        None => false,
    };
    if mm.inst.odown_since.is_none() && !forced {
        return;
    }
    match mm.next_election {
        None => {
            // A small random delay keeps sentinels that saw ODOWN together from
            // splitting the vote.
            mm.next_election = Some(now + delay);
            return;
        }
        Some(t) if now < t => {
            if !mm.failover_delay_logged {
                mm.failover_delay_logged = true;
                let ms = t.saturating_duration_since(now).as_millis();
                m.io.log(
                    Level::Verbose,
                    format!("Next failover delay: I will not start a failover for {name} before {ms} ms"),
                );
            }
            return;
        }
        Some(_) => {}
    }
    start_failover(m, name, now, forced);
}

/// `sentinelStartFailover`: new epoch, WAIT_START, ask peers for votes at once.
fn start_failover(m: &mut Machine, name: &str, now: Instant, force: bool) {
    m.g.current_epoch += 1;
    let epoch = m.g.current_epoch;
    m.io.dirty = true;
    let Machine { masters, io, g, .. } = m;
    let Some(mm) = masters.get_mut(name) else {
        return;
    };
    mm.failover_state = FailoverState::WaitStart;
    mm.failover_epoch = epoch;
    mm.failover_start_time = Some(now);
    mm.failover_state_change_time = now;
    mm.failover_delay_logged = false;
    mm.force_failover = force;
    mm.coordinated = false;
    mm.pause_sent = None;
    mm.sync_target = None;
    mm.election_attempts += 1;
    io.event(super::events::plain_event(
        Level::Warning,
        "+new-epoch",
        epoch.to_string(),
    ));
    io.event(instance_event(
        g,
        Level::Warning,
        "+try-failover",
        mm,
        None,
        "",
    ));
    if force {
        // A forced failover skips ODOWN and the quorum, not the epoch's election:
        // vote for ourselves (durably, before any peer can get this epoch's vote)
        // and ask every peer at once, so two concurrent `SENTINEL FAILOVER`s never
        // promote under the same epoch (reference §7.5).
        let myid = m.g.myid.clone();
        m.vote_leader(name, epoch, &myid, now);
        let coordinated = mm_reachable(m, name);
        if let Some(mm) = m.masters.get_mut(name) {
            mm.coordinated = coordinated;
        }
    }
    m.ask_peers(name, true, now);
}

/// `sentinelAbortFailover` plus our retry backoff.
fn abort(m: &mut Machine, name: &str, now: Instant) {
    let attempts = m
        .masters
        .get(name)
        .map(|mm| mm.election_attempts)
        .unwrap_or(1);
    let backoff = election_backoff(m, attempts);
    let Some(mm) = m.masters.get_mut(name) else {
        return;
    };
    mm.failover_state = FailoverState::None;
    mm.failover_state_change_time = now;
    mm.force_failover = false;
    mm.next_election = Some(now + backoff);
    let unpause = mm.coordinated && mm.pause_sent.is_some();
    mm.coordinated = false;
    mm.pause_sent = None;
    mm.sync_target = None;
    let client = mm.cmd_name("CLIENT");
    if let Some(k) = mm.promoted.take() {
        if let Some(r) = mm.replicas.get_mut(&k) {
            r.promoted = false;
        }
    }
    for r in mm.replicas.values_mut() {
        r.reconf = Reconf::None;
        r.reconf_sent_time = None;
    }
    if unpause {
        m.io.send(
            &LinkKey::Cmd(Inst::Master(nm(name))),
            vec![client, "UNPAUSE".into()],
            Tag::Discard,
        );
    }
}

/// Emit the master-level abort event `event` (`-failover-abort-*`), then abort.
fn abort_with(m: &mut Machine, name: &str, now: Instant, event: &str) {
    if let Some(mm) = m.masters.get(name) {
        let e = instance_event(&m.g, Level::Warning, event, mm, None, "");
        m.io.event(e);
    }
    abort(m, name, now);
}

/// Votes needed to win an election for `mm`: a majority of the known sentinels
/// (self included) and, unless the failover is forced, the quorum.
fn votes_needed(mm: &Master, force: bool) -> u32 {
    let voters = mm.sentinels.len() as u32 + 1;
    let majority = voters / 2 + 1;
    if force {
        majority
    } else {
        majority.max(mm.quorum)
    }
}

/// `sentinelGetLeader`: the winner of `epoch` if it has `needed` votes (see
/// [`votes_needed`]). Casts our own vote on the way.
pub fn get_leader(
    m: &mut Machine,
    name: &str,
    epoch: u64,
    needed: u32,
    now: Instant,
) -> Option<String> {
    let cur = m.g.current_epoch;
    let mm = m.masters.get(name)?;
    let mut counts: Vec<(String, u32)> = Vec::new();
    for s in mm.sentinels.values() {
        if let Some(l) = &s.leader {
            if s.leader_epoch == cur {
                match counts.iter_mut().find(|(r, _)| r == l) {
                    Some(c) => c.1 += 1,
                    None => counts.push((l.clone(), 1)),
                }
            }
        }
    }
    let mut best: Option<(String, u32)> = None;
    for (r, c) in &counts {
        if best.as_ref().map(|b| *c > b.1).unwrap_or(true) {
            best = Some((r.clone(), *c));
        }
    }
    let myid = m.g.myid.clone();
    let candidate = best.as_ref().map(|b| b.0.clone()).unwrap_or(myid);
    let (my_vote, my_epoch) = m.vote_leader(name, epoch, &candidate, now);
    if let (Some(v), true) = (my_vote, my_epoch == epoch) {
        match counts.iter_mut().find(|(r, _)| *r == v) {
            Some(c) => c.1 += 1,
            None => counts.push((v, 1)),
        }
    }
    let (winner, votes) = counts.into_iter().max_by_key(|(_, c)| *c)?;
    if votes >= needed {
        Some(winner)
    } else {
        None
    }
}

fn wait_start(m: &mut Machine, name: &str, now: Instant) {
    let Some(mm) = m.masters.get(name) else {
        return;
    };
    let epoch = mm.failover_epoch;
    let force = mm.force_failover;
    let needed = votes_needed(mm, force);
    let start = mm.failover_start_time.unwrap_or(now);
    let timeout = m.t.election_timeout.min(mm.failover_timeout);
    let leader = get_leader(m, name, epoch, needed, now);
    let myid = m.g.myid.clone();
    if leader.as_deref() == Some(myid.as_str()) {
        let Some(mm) = m.masters.get_mut(name) else {
            return;
        };
        mm.force_until = None;
        let e = instance_event(&m.g, Level::Warning, "+elected-leader", mm, None, "");
        m.io.event(e);
        super::fencing::on_elected(m, name, now);
        if m.simfail_after_election {
            m.io.actions.push_back(Action::Exit(99));
            return;
        }
        let Some(mm) = m.masters.get_mut(name) else {
            return;
        };
        mm.failover_state = FailoverState::SelectSlave;
        mm.failover_state_change_time = now;
        m.io.event(instance_event(
            &m.g,
            Level::Warning,
            "+failover-state-select-slave",
            &m.masters[name],
            None,
            "",
        ));
        select_slave_state(m, name, now);
        return;
    }
    // Not (yet) elected. Give up after the election timeout, or as soon as every
    // connected peer has voted for someone else in this epoch (split vote).
    let Some(t) = tally(m, name, epoch, force) else {
        return;
    };
    let hopeless = t.for_me + t.undecided < needed;
    if now.saturating_duration_since(start) <= timeout && !hopeless {
        return;
    }
    abort_with(m, name, now, "-failover-abort-not-elected");
    // A forced failover whose epoch nobody can win (split vote) tries again in a
    // new epoch after a short random delay, until its deadline. If another
    // candidate can still win, that one does the failover.
    let split = t.best_other > 0 && t.best_other + t.undecided < needed;
    let attempts = m.masters.get(name).map(|mm| mm.election_attempts);
    let delay =
        Duration::from_millis(m.rng.gen_range(20..=250) * u64::from(attempts.unwrap_or(1).min(4)));
    let Some(mm) = m.masters.get_mut(name) else {
        return;
    };
    match mm.force_until {
        Some(until) if force && split && now + delay < until => {
            mm.next_election = Some(now + delay);
            m.io.log(
                Level::Notice,
                format!("{name}: split vote in epoch {epoch} for the forced failover, retrying in {} ms", delay.as_millis()),
            );
        }
        _ => mm.force_until = None,
    }
}

/// The votes of `epoch` as seen by this sentinel.
struct Tally {
    /// Votes for us, ours included.
    for_me: u32,
    /// The most votes any other candidate has.
    best_other: u32,
    /// Connected peers that have not voted in this epoch yet.
    undecided: u32,
}

/// A peer is undecided when it has not voted in `epoch` and can still answer: its
/// link is up or, for a forced failover (which waits out the election timeout
/// rather than retrying), it is not SDOWN (its link may be coming up).
fn tally(m: &Machine, name: &str, epoch: u64, force: bool) -> Option<Tally> {
    let mm = m.masters.get(name)?;
    let myid = m.g.myid.as_str();
    let mut others: Vec<(&str, u32)> = Vec::new();
    let mut t = Tally {
        for_me: 0,
        best_other: 0,
        undecided: 0,
    };
    let mine = (mm.leader.as_deref(), mm.leader_epoch == epoch);
    let votes = mm
        .sentinels
        .values()
        .map(|s| (s.leader.as_deref(), s.leader_epoch == epoch, Some(s)))
        .chain(std::iter::once((mine.0, mine.1, None)));
    for (leader, this_epoch, peer) in votes {
        match (leader, this_epoch) {
            (Some(l), true) if l == myid => t.for_me += 1,
            (Some(l), true) => match others.iter_mut().find(|(c, _)| *c == l) {
                Some(c) => c.1 += 1,
                None => others.push((l, 1)),
            },
            _ => {
                if let Some(s) = peer {
                    if m.io.connected(&LinkKey::Peer(nm(&s.runid)))
                        || (force && s.sdown_since.is_none())
                    {
                        t.undecided += 1;
                    }
                }
            }
        }
    }
    t.best_other = others.iter().map(|(_, c)| *c).max().unwrap_or(0);
    Some(t)
}

/// Why a replica cannot be promoted, or `None` if it can.
fn exclusion(m: &Machine, mm: &Master, key: &str, r: &Instance, now: Instant) -> Option<String> {
    if r.sdown_since.is_some() || r.odown_since.is_some() {
        return Some("it is down".into());
    }
    if !m.is_connected(&Inst::Replica(nm(mm.name()), nm(key))) {
        return Some("it is disconnected".into());
    }
    let validity = m.t.ping_period * 5;
    if now.saturating_duration_since(r.last_avail_time) > validity {
        return Some("no valid PING reply recently".into());
    }
    if r.slave_priority == 0 {
        return Some("its replica-priority is 0".into());
    }
    let info_validity = if mm.inst.sdown_since.is_some() {
        validity
    } else {
        validity + m.t.info_period * 3
    };
    match r.info_refresh {
        Some(t) if now.saturating_duration_since(t) <= info_validity => {}
        _ => return Some("its INFO is too old".into()),
    }
    if mm.failover_state == FailoverState::SelectSlave
        && !super::fencing::info_fresh(m, mm.name(), key)
    {
        return Some("no INFO since the old master's fencing leases lapsed".into());
    }
    let mut max_down = mm.inst.down_after * 10;
    if let Some(t) = mm.inst.sdown_since {
        max_down += now.saturating_duration_since(t);
    }
    if r.master_link_down_ms > max_down.as_millis() as i64 {
        return Some(format!(
            "its link with the master has been down for {} ms",
            r.master_link_down_ms
        ));
    }
    None
}

/// Whether selection should wait a little: some replica is only excluded because its
/// INFO is old, and a fresh one is on its way (replicas are polled every second
/// while the master is down). Waits at most 2 s in SELECT_SLAVE.
fn waiting_for_fresh_info(m: &Machine, name: &str, now: Instant) -> bool {
    let Some(mm) = m.masters.get(name) else {
        return false;
    };
    if now.saturating_duration_since(mm.failover_state_change_time) > Duration::from_secs(2) {
        return false;
    }
    mm.replicas
        .iter()
        .any(|(k, r)| exclusion(m, mm, k, r, now).as_deref() == Some("its INFO is too old"))
}

/// `sentinelSelectSlave`: the best replica by priority, offset, run id.
pub fn select_slave(m: &mut Machine, name: &str, now: Instant, log: bool) -> Option<String> {
    let mm = m.masters.get(name)?;
    let mut ok: Vec<(&String, &Instance)> = Vec::new();
    let mut logs = Vec::new();
    for (k, r) in &mm.replicas {
        match exclusion(m, mm, k, r, now) {
            Some(why) => logs.push(format!(
                "Replica {k} of {name} not eligible for promotion: {why}"
            )),
            None => ok.push((k, r)),
        }
    }
    ok.sort_by(|a, b| {
        a.1.slave_priority
            .cmp(&b.1.slave_priority)
            .then(b.1.repl_offset.cmp(&a.1.repl_offset))
            .then_with(|| match (a.1.runid.is_empty(), b.1.runid.is_empty()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => {
                    a.1.runid
                        .to_ascii_lowercase()
                        .cmp(&b.1.runid.to_ascii_lowercase())
                }
            })
    });
    let chosen = ok.first().map(|(k, _)| (*k).clone());
    if log {
        for l in logs {
            m.io.log(Level::Notice, l);
        }
    }
    chosen
}

fn select_slave_state(m: &mut Machine, name: &str, now: Instant) {
    // Write fencing: choose only once the old master can no longer acknowledge writes.
    if super::fencing::hold_selection(m, name, now) {
        return;
    }
    let waiting = waiting_for_fresh_info(m, name, now);
    match select_slave(m, name, now, !waiting) {
        None if waiting => {}
        None => abort_with(m, name, now, "-failover-abort-no-good-slave"),
        Some(key) => {
            let Machine { masters, io, g, .. } = m;
            let Some(mm) = masters.get_mut(name) else {
                return;
            };
            if let Some(r) = mm.replicas.get_mut(&key) {
                r.promoted = true;
            }
            mm.promoted = Some(key.clone());
            mm.failover_state = FailoverState::SendSlaveofNoone;
            mm.failover_state_change_time = now;
            let r = mm.replicas.get(&key).cloned();
            io.event(instance_event(
                g,
                Level::Warning,
                "+selected-slave",
                mm,
                r.as_ref(),
                "",
            ));
            io.event(instance_event(
                g,
                Level::Notice,
                "+failover-state-send-slaveof-noone",
                mm,
                r.as_ref(),
                "",
            ));
            send_slaveof_noone(m, name, now);
        }
    }
}

/// Queue Redis's reconfiguration transaction on `id`'s command link:
/// `MULTI; SLAVEOF host port | SLAVEOF NO ONE; CONFIG REWRITE; CLIENT KILL TYPE normal;
/// CLIENT KILL TYPE pubsub; EXEC`. Returns whether it was queued.
pub fn send_slaveof(m: &mut Machine, id: &Inst, target: Option<(String, u16)>) -> bool {
    let link = LinkKey::Cmd(id.clone());
    if !m.io.connected(&link) {
        return false;
    }
    let Some(mm) = m.masters.get(id.master()) else {
        return false;
    };
    let c = |n: &str| mm.cmd_name(n);
    let slaveof = match target {
        Some((h, p)) => vec![c("SLAVEOF"), h, p.to_string()],
        None => vec![c("SLAVEOF"), "NO".into(), "ONE".into()],
    };
    let cmds = vec![
        vec![c("MULTI")],
        slaveof,
        vec![c("CONFIG"), "REWRITE".into()],
        vec![c("CLIENT"), "KILL".into(), "TYPE".into(), "normal".into()],
        vec![c("CLIENT"), "KILL".into(), "TYPE".into(), "pubsub".into()],
        vec![c("EXEC")],
    ];
    for cmd in cmds {
        if !m.io.send(&link, cmd, Tag::Discard) {
            return false;
        }
    }
    true
}

fn send_slaveof_noone(m: &mut Machine, name: &str, now: Instant) {
    let Some(mm) = m.masters.get(name) else {
        return;
    };
    let Some(key) = mm.promoted.clone() else {
        abort(m, name, now);
        return;
    };
    let id = Inst::Replica(nm(name), nm(&key));
    let elapsed = now.saturating_duration_since(mm.failover_state_change_time);
    let timeout = mm.failover_timeout;
    if !m.io.connected(&LinkKey::Cmd(id.clone())) {
        if elapsed > timeout {
            abort_with(m, name, now, "-failover-abort-slave-timeout");
        }
        return;
    }
    if m.masters
        .get(name)
        .map(|mm| mm.coordinated)
        .unwrap_or(false)
        && !coordinated_ready(m, name, &id, now)
    {
        return;
    }
    // Write fencing: the old master's leases must have lapsed first.
    if !super::fencing::may_promote(m, name, now) {
        return;
    }
    if send_slaveof(m, &id, None) {
        let Machine { masters, io, g, .. } = m;
        let Some(mm) = masters.get_mut(name) else {
            return;
        };
        mm.failover_state = FailoverState::WaitPromotion;
        mm.failover_state_change_time = now;
        let r = mm.replicas.get(&key).cloned();
        io.event(instance_event(
            g,
            Level::Notice,
            "+failover-state-wait-promotion",
            mm,
            r.as_ref(),
            "",
        ));
        // INFO pipelined right after EXEC: its reply already shows the new role.
        if let Some(r) = mm.replicas.get_mut(&key) {
            r.info_sent = None;
        }
        m.request_info(&id, now);
    }
}

/// The lossless part of a coordinated switchover: pause writes on the old master,
/// read its offset after the pause, wait until the chosen replica has it. Returns
/// whether the replica may be promoted now. Gives up (abort, unpause) after
/// min(failover-timeout, 10 s).
fn coordinated_ready(m: &mut Machine, name: &str, replica: &Inst, now: Instant) -> bool {
    let Some(mm) = m.masters.get(name) else {
        return false;
    };
    let master = Inst::Master(nm(name));
    let elapsed = now.saturating_duration_since(mm.failover_state_change_time);
    let limit = mm.failover_timeout.min(Duration::from_secs(10));
    let Some(paused_at) = mm.pause_sent else {
        let ms = mm.failover_timeout.as_millis().to_string();
        let cmd = vec![mm.cmd_name("CLIENT"), "PAUSE".into(), ms, "WRITE".into()];
        let link = LinkKey::Cmd(master.clone());
        if m.io.send(&link, cmd, Tag::Pause(name.to_string())) {
            if let Some(mm) = m.masters.get_mut(name) {
                mm.pause_sent = Some(now);
                mm.inst.info_sent = None;
            }
            m.request_info(&master, now);
            m.request_info(replica, now);
        } else if let Some(mm) = m.masters.get_mut(name) {
            // Master unreachable after all: classic failover.
            mm.coordinated = false;
            return true;
        }
        return false;
    };
    if elapsed > limit {
        abort_with(m, name, now, "-failover-abort-slave-timeout");
        return false;
    }
    let target = match mm.sync_target {
        Some(t) => t,
        None => {
            let fresh = mm.inst.info_refresh.map(|t| t > paused_at).unwrap_or(false);
            if !fresh {
                m.request_info(&master, now);
                return false;
            }
            let t = mm.inst.master_repl_offset;
            if let Some(mm) = m.masters.get_mut(name) {
                mm.sync_target = Some(t);
            }
            t
        }
    };
    let offset = m.instance(replica).map(|r| r.repl_offset).unwrap_or(0);
    if offset < target {
        m.request_info(replica, now);
        return false;
    }
    m.io.log(
        Level::Notice,
        format!("{name}: replica caught up with the paused master at offset {target}"),
    );
    true
}

fn wait_promotion(m: &mut Machine, name: &str, now: Instant) {
    let Some(mm) = m.masters.get(name) else {
        return;
    };
    if now.saturating_duration_since(mm.failover_state_change_time) > mm.failover_timeout {
        abort_with(m, name, now, "-failover-abort-slave-timeout");
    }
}

fn reconf_slaves(m: &mut Machine, name: &str, now: Instant) {
    let reconf_timeout = m.t.slave_reconf_timeout;
    let Some(mm) = m.masters.get(name) else {
        return;
    };
    let Some(pkey) = mm.promoted.clone() else {
        return;
    };
    let Some(p) = mm.replicas.get(&pkey) else {
        return;
    };
    // REPLICAOF names the promoted replica as reported (`sentinelSendSlaveOf`).
    let (pip, pport) = (m.g.shown(p).to_string(), p.port);
    let parallel = mm.parallel_syncs.max(1) as usize;
    // Replicas stuck in RECONF_SENT for too long count as done.
    let mut in_progress = 0usize;
    let keys: Vec<String> = mm.replicas.keys().cloned().collect();
    for k in &keys {
        let Machine { masters, io, g, .. } = &mut *m;
        let Some(mm) = masters.get_mut(name) else {
            return;
        };
        let Some(r) = mm.replicas.get_mut(k) else {
            continue;
        };
        if r.reconf == Reconf::Sent
            && r.reconf_sent_time
                .map(|t| now.saturating_duration_since(t) > reconf_timeout)
                .unwrap_or(false)
        {
            r.reconf = Reconf::Done;
            let snap = r.clone();
            io.event(instance_event(
                g,
                Level::Notice,
                "-slave-reconf-sent-timeout",
                mm,
                Some(&snap),
                "",
            ));
        } else if matches!(r.reconf, Reconf::Sent | Reconf::InProg) {
            in_progress += 1;
        }
    }
    for k in &keys {
        if in_progress >= parallel {
            break;
        }
        let Some(r) = m.masters.get(name).and_then(|mm| mm.replicas.get(k)) else {
            continue;
        };
        if r.promoted || r.reconf != Reconf::None {
            continue;
        }
        let id = Inst::Replica(nm(name), nm(k));
        if !m.io.connected(&LinkKey::Cmd(id.clone())) {
            continue;
        }
        if send_reconf(m, &id, (pip.clone(), pport), "+slave-reconf-sent", now) {
            in_progress += 1;
        }
    }
    detect_end(m, name, now);
}

/// Send replica `id` the reconfiguration transaction towards the promoted replica at
/// `target`; once queued mark it RECONF_SENT, emit `event` (`+slave-reconf-sent` or
/// the best-effort `+slave-reconf-sent-be`) and poll its INFO at once. Returns
/// whether it was queued.
fn send_reconf(
    m: &mut Machine,
    id: &Inst,
    target: (String, u16),
    event: &str,
    now: Instant,
) -> bool {
    if !send_slaveof(m, id, Some(target)) {
        return false;
    }
    let Machine { masters, io, g, .. } = &mut *m;
    let Some(mm) = masters.get_mut(id.master()) else {
        return true;
    };
    if let Some(r) = inst_of(mm, id) {
        r.reconf = Reconf::Sent;
        r.reconf_sent_time = Some(now);
        r.info_sent = None;
        let snap = r.clone();
        io.event(instance_event(g, Level::Notice, event, mm, Some(&snap), ""));
    }
    m.request_info(id, now);
    true
}

/// `sentinelFailoverDetectEnd`, without Redis's early return when the promoted
/// replica is down (so a failover always ends, by success or timeout).
fn detect_end(m: &mut Machine, name: &str, now: Instant) {
    let Some(mm) = m.masters.get(name) else {
        return;
    };
    let timeout =
        now.saturating_duration_since(mm.failover_state_change_time) > mm.failover_timeout;
    let promoted_down = mm
        .promoted
        .as_ref()
        .and_then(|k| mm.replicas.get(k))
        .map(|r| r.sdown_since.is_some())
        .unwrap_or(true);
    let pending = mm
        .replicas
        .values()
        .filter(|r| !r.promoted && r.reconf != Reconf::Done && r.sdown_since.is_none())
        .count();
    if promoted_down && !timeout {
        return;
    }
    if pending > 0 && !timeout {
        return;
    }
    if timeout {
        m.io.event(instance_event(
            &m.g,
            Level::Warning,
            "+failover-end-for-timeout",
            mm,
            None,
            "",
        ));
        // Best effort: point every replica not yet told at the new master.
        let target = mm
            .promoted
            .as_ref()
            .and_then(|k| mm.replicas.get(k))
            .map(|r| (m.g.shown(r).to_string(), r.port));
        let rest: Vec<String> = mm
            .replicas
            .iter()
            .filter(|(_, r)| !r.promoted && matches!(r.reconf, Reconf::None))
            .map(|(k, _)| k.clone())
            .collect();
        if let Some(target) = target {
            for k in rest {
                let id = Inst::Replica(nm(name), nm(&k));
                send_reconf(m, &id, target.clone(), "+slave-reconf-sent-be", now);
            }
        }
    }
    let Machine { masters, io, g, .. } = m;
    let Some(mm) = masters.get_mut(name) else {
        return;
    };
    io.event(instance_event(
        g,
        Level::Warning,
        "+failover-end",
        mm,
        None,
        "",
    ));
    mm.failover_state = FailoverState::UpdateConfig;
    mm.failover_state_change_time = now;
    switch_finished(m, now);
}

/// Masters in UPDATE_CONFIG switch to the promoted replica (`+switch-master`).
pub(crate) fn switch_finished(m: &mut Machine, now: Instant) {
    let names: Vec<String> = m
        .masters
        .iter()
        .filter(|(_, mm)| mm.failover_state == FailoverState::UpdateConfig)
        .map(|(n, _)| n.clone())
        .collect();
    for name in names {
        let Some(mm) = m.masters.get(&name) else {
            continue;
        };
        let old = (m.g.shown(&mm.inst).to_string(), mm.inst.port);
        let new = mm.current_addr(&m.g);
        // The new address is taken from the promoted replica's host name and
        // resolved again (`sentinelFailoverSwitchToPromotedSlave`).
        let host = mm.current().ip.clone();
        m.io.event(super::events::plain_event(
            Level::Warning,
            "+switch-master",
            format!("{} {} {} {} {}", name, old.0, old.1, new.0, new.1),
        ));
        m.reset_master_and_change_address(&name, &host, new.1, now);
        m.force_hellos(&name, now);
    }
}

/// What INFO makes the sentinel do outside TILT for instance `id`: promotion
/// detection, reconfiguration progress, converting a returning master, fixing a
/// replica that follows the wrong master.
pub(crate) fn on_info_acting(m: &mut Machine, id: &Inst, now: Instant) {
    let Inst::Replica(name, key) = id else {
        return;
    };
    let publish_period = m.t.publish_period;
    let info_period = m.t.info_period;
    let Some(mm) = m.masters.get(&**name) else {
        return;
    };
    let Some(r) = mm.replicas.get(&**key) else {
        return;
    };
    // The promoted replica reports master: promotion done.
    if r.role_reported == Role::Master {
        if r.promoted && mm.failover_state == FailoverState::WaitPromotion {
            promoted(m, name, key, now);
            return;
        }
        let wait = publish_period * 4;
        if !r.promoted
            && master_looks_sane(mm, now, info_period)
            && no_down_for(r, now, wait)
            && now.saturating_duration_since(r.role_reported_time) > wait
        {
            repoint_to_master(m, id, "+convert-to-slave");
        }
        return;
    }
    // A replica replicating from another address than its master's.
    let wrong_master = r
        .master_host
        .as_deref()
        .is_some_and(|h| !m.g.addr_is(&mm.inst, h))
        || (r.master_port != 0 && r.master_port != mm.inst.port);
    if wrong_master && r.reconf == Reconf::None && !mm.in_failover() {
        let wait = mm.failover_timeout;
        if master_looks_sane(mm, now, info_period)
            && no_down_for(r, now, wait)
            && now.saturating_duration_since(r.slave_conf_change_time) > wait
        {
            repoint_to_master(m, id, "+fix-slave-config");
        }
    }
    // Reconfiguration progress during a failover.
    let Some(mm) = m.masters.get(&**name) else {
        return;
    };
    if mm.failover_state != FailoverState::ReconfSlaves {
        return;
    }
    let Some(p) = mm.promoted.as_ref().and_then(|k| mm.replicas.get(k)) else {
        return;
    };
    // Its `master_host` may name the promoted replica by IP or by host name.
    let follows_promoted = mm.replicas.get(&**key).is_some_and(|r| {
        r.master_port == p.port && r.master_host.as_deref().is_some_and(|h| m.g.addr_is(p, h))
    });
    let Machine { masters, io, g, .. } = m;
    let Some(mm) = masters.get_mut(&**name) else {
        return;
    };
    let Some(r) = inst_of(mm, id) else {
        return;
    };
    let mut events = Vec::new();
    if r.reconf == Reconf::Sent && follows_promoted {
        r.reconf = Reconf::InProg;
        events.push("+slave-reconf-inprog");
    }
    if r.reconf == Reconf::InProg && r.master_link_up {
        r.reconf = Reconf::Done;
        events.push("+slave-reconf-done");
    }
    let snap = r.clone();
    for e in events {
        io.event(instance_event(g, Level::Notice, e, mm, Some(&snap), ""));
    }
    if snap.reconf == Reconf::Done {
        // Move on at once: next replica, or the end of the failover.
        reconf_slaves(m, name, now);
    }
}

/// Point replica `id` at its master's current address with the reconfiguration
/// transaction and, once queued, emit `event` (`+convert-to-slave` or
/// `+fix-slave-config`) for it.
fn repoint_to_master(m: &mut Machine, id: &Inst, event: &str) {
    let Some(mm) = m.masters.get(id.master()) else {
        return;
    };
    let target = (m.g.shown(&mm.inst).to_string(), mm.inst.port);
    if send_slaveof(m, id, Some(target)) {
        let Some(mm) = m.masters.get(id.master()) else {
            return;
        };
        let r = match id {
            Inst::Replica(_, key) => mm.replicas.get(&**key),
            _ => None,
        };
        let e = instance_event(&m.g, Level::Notice, event, mm, r, "");
        m.io.event(e);
    }
}

fn master_looks_sane(mm: &Master, now: Instant, info_period: Duration) -> bool {
    mm.inst.role_reported == Role::Master
        && mm.inst.sdown_since.is_none()
        && mm.inst.odown_since.is_none()
        && mm
            .inst
            .info_refresh
            .map(|t| now.saturating_duration_since(t) < info_period * 2)
            .unwrap_or(false)
}

fn no_down_for(r: &Instance, now: Instant, d: Duration) -> bool {
    r.down_mark
        .map(|t| now.saturating_duration_since(t) > d)
        .unwrap_or(true)
}

/// The promoted replica reports `role:master`.
fn promoted(m: &mut Machine, name: &str, key: &str, now: Instant) {
    let crash = m.simfail_after_promotion;
    let Machine { masters, io, g, .. } = m;
    let Some(mm) = masters.get_mut(name) else {
        return;
    };
    mm.config_epoch = mm.failover_epoch;
    io.dirty = true;
    let r = mm.replicas.get(key).cloned();
    io.event(instance_event(
        g,
        Level::Warning,
        "+promoted-slave",
        mm,
        r.as_ref(),
        "",
    ));
    if crash {
        io.actions.push_back(Action::Exit(99));
        return;
    }
    mm.failover_state = FailoverState::ReconfSlaves;
    mm.failover_state_change_time = now;
    io.event(instance_event(
        g,
        Level::Warning,
        "+failover-state-reconf-slaves",
        mm,
        None,
        "",
    ));
    if let (Some(script), Some(r)) = (mm.client_reconfig_script.clone(), r) {
        io.actions.push_back(Action::ReconfigScript {
            path: script,
            args: vec![
                name.to_string(),
                "leader".into(),
                "start".into(),
                g.shown(&mm.inst).to_string(),
                mm.inst.port.to_string(),
                g.shown(&r).to_string(),
                r.port.to_string(),
            ],
        });
    }
    // A coordinated switchover demotes the (paused, reachable) old master at once.
    let demote = m
        .masters
        .get(name)
        .filter(|mm| mm.coordinated)
        .and_then(|mm| {
            mm.replicas
                .get(key)
                .map(|r| (m.g.shown(r).to_string(), r.port, mm.cmd_name("CLIENT")))
        });
    if let Some((ip, port, client)) = demote {
        let old = Inst::Master(nm(name));
        if send_slaveof(m, &old, Some((ip, port))) {
            m.io.send(
                &LinkKey::Cmd(old),
                vec![client, "UNPAUSE".into()],
                Tag::Discard,
            );
            let mm = &m.masters[name];
            m.io.event(instance_event(
                &m.g,
                Level::Notice,
                "+convert-to-slave",
                mm,
                None,
                "",
            ));
        }
    }
    // Tell every peer about the new configuration now, not in 2 s.
    m.force_hellos(name, now);
    reconf_slaves(m, name, now);
}

/// `SENTINEL FAILOVER <name>`: a failover without ODOWN or quorum. Unlike Redis,
/// its epoch is still won by a majority vote of the known sentinels (a split vote
/// is retried for up to min(election timeout, failover-timeout)), so two forced
/// failovers never share an epoch; refused with `-NOQUORUM` when fewer than a
/// majority of the known sentinels (self included) are usable (not down).
pub(crate) fn manual_failover(m: &mut Machine, name: &str, now: Instant) -> Result<(), Frame> {
    let Some(mm) = m.masters.get(name) else {
        return Err(Frame::err("No such master with that name"));
    };
    if mm.in_failover() {
        return Err(Frame::error("INPROG Failover already in progress"));
    }
    // Usable as in CKQUORUM: self and the known sentinels not down.
    let usable = 1 + mm
        .sentinels
        .values()
        .filter(|s| s.sdown_since.is_none() && s.odown_since.is_none())
        .count();
    let deadline = now + m.t.election_timeout.min(mm.failover_timeout);
    if usable < votes_needed(mm, true) as usize {
        return Err(Frame::error(format!(
            "NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover"
        )));
    }
    // We just voted for another sentinel's failover of this master (in the current
    // epoch): that one is in progress.
    let voted_other = mm.leader.as_deref().is_some_and(|l| l != m.g.myid)
        && mm.leader_epoch == m.g.current_epoch
        && mm.next_election.is_some_and(|t| t > now);
    if voted_other {
        return Err(Frame::error("INPROG Failover already in progress"));
    }
    if select_slave(m, name, now, true).is_none() {
        return Err(Frame::error("NOGOODSLAVE No suitable replica to promote"));
    }
    if let Some(mm) = m.masters.get_mut(name) {
        mm.force_until = Some(deadline);
    }
    start_failover(m, name, now, true);
    tick(m, name, now);
    Ok(())
}

/// Whether the master answers: not SDOWN, command link up, reporting role master.
fn mm_reachable(m: &Machine, name: &str) -> bool {
    let Some(mm) = m.masters.get(name) else {
        return false;
    };
    mm.inst.sdown_since.is_none()
        && mm.inst.role_reported == Role::Master
        && m.io.connected(&LinkKey::Cmd(Inst::Master(nm(name))))
}
