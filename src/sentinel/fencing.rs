//! The sentinel's side of write fencing (beyond Redis; see `server::fencing` for the
//! protocol and the safety argument).
//!
//! For every master whose INFO shows `vigil_fencing:1`, the sentinel sends
//! `VIGIL-LEASE <myid> <last token> <lease-ms>` about every lease/3, echoing the last
//! token that master gave it, but only while it would not help replace that master:
//! not in TILT, master not SDOWN/ODOWN and reporting `role:master`, no failover of it
//! in progress here, and no vote cast in a failover of that master address within the
//! hold time (longer than any failover takes from the vote to advertising a new
//! master). After a `+switch-master` the new address is granted at once.
//!
//! The lease it grants is `min(vigil_fencing_lease_ms, down-after / 2)`, so a lease
//! is always shorter than down-after (a larger server setting is clamped and logged
//! once). The driver wakes the machine when a grant falls due (`next_wake`), so
//! short leases are renewed on time too. All Vigil sentinels of a fenced master must use the same down-after (the
//! lease cap), like they should for Redis anyway.
//!
//! A leader elected for a failover of a master it knows to be fenced (or whose INFO
//! it never saw) waits the longest lease it has seen for that master plus 10 % + 50 ms
//! before sending `REPLICAOF NO ONE`: by then every voter's lease has lapsed, so the
//! old master refuses writes before a new master exists.
//!
//! It also chooses the replica to promote only then ([`hold_selection`]), from INFO
//! replies to requests sent after the wait: until its leases lapse the old master may
//! still acknowledge writes (with `vigil-sync-replicas`, once any replica confirmed
//! them), so offsets read at the election can be stale. Found by analysis of the
//! partition script's lossy-link runs (none of them lost a write): a master whose
//! links lose 40 % of the packets can look down to the other sentinels while one of
//! them still grants (ODOWN uses peers' down reports up to a few seconds old) and
//! keeps replicating; the replica chosen at the election could then lack writes that
//! another replica confirmed before the last lease lapsed.

use super::events::Level;
use super::machine::{Inst, LinkKey, Machine, Tag};
use super::state::*;
use crate::resp::Frame;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a leader waits, once the old master's leases lapsed, for the replicas'
/// INFO replies it chooses the promoted replica from (at most the failover timeout).
pub const FRESH_INFO_WAIT: Duration = Duration::from_secs(5);

/// What a sentinel knows about fencing for one master.
#[derive(Clone, Debug, Default)]
pub struct MasterFencing {
    /// The master address all of the below is about.
    pub addr: (String, u16),
    /// `Some(on)` once an INFO of this address was seen; `None` = unknown.
    pub enabled: Option<bool>,
    /// `vigil_fencing_lease_ms` from the last INFO.
    pub server_lease_ms: u64,
    /// Longest lease offered for this address (what a leader must wait out).
    pub max_offered: Duration,
    /// Last token this master gave us (0 = none).
    pub token: u64,
    /// When the outstanding VIGIL-LEASE was sent.
    pub sent: Option<Instant>,
    pub last_sent: Option<Instant>,
    /// Interval between grants (lease / 3), for the driver's next wake-up.
    pub cadence: Duration,
    /// No grants to `hold.0` before `hold.1` (we voted in a failover of it).
    pub hold: Option<((String, u16), Instant)>,
    /// A failover we lead may not promote before this instant.
    pub promote_after: Option<Instant>,
    /// A failover we lead chooses its replica only from INFO replies to requests sent
    /// at or after this instant (the old master's leases have lapsed by then).
    pub select_after: Option<Instant>,
    /// Per replica key: when that INFO request was sent and the replica's
    /// `info_refresh` at that moment (a reply changes it).
    pub asked: HashMap<String, (Instant, Option<Instant>)>,
    pub clamp_logged: bool,
}

/// Why a grant is (not) sent now: the sentinel-side decision, pure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Grant,
    NotFenced,
    Tilt,
    MasterDown,
    NotMasterRole,
    InFailover,
    Voted,
    LinkDown,
    NotDue,
}

/// Inputs of [`decide`], gathered from the machine.
#[derive(Clone, Debug)]
pub struct View {
    pub enabled: Option<bool>,
    pub tilt: bool,
    pub sdown: bool,
    pub odown: bool,
    pub role_master: bool,
    pub in_failover: bool,
    /// A vote we cast in a failover of this address still holds grants back (the
    /// hold names the address, so a new master after a switch is granted at once).
    pub held: bool,
    pub link_up: bool,
    pub due: bool,
}

/// Whether to send a grant now.
pub fn decide(v: &View) -> Decision {
    if v.enabled != Some(true) {
        Decision::NotFenced
    } else if v.tilt {
        Decision::Tilt
    } else if v.sdown || v.odown {
        Decision::MasterDown
    } else if !v.role_master {
        Decision::NotMasterRole
    } else if v.in_failover {
        Decision::InFailover
    } else if v.held {
        Decision::Voted
    } else if !v.link_up {
        Decision::LinkDown
    } else if !v.due {
        Decision::NotDue
    } else {
        Decision::Grant
    }
}

/// The lease we offer for a master: the server's setting capped at down-after / 2.
pub fn offered_lease(server_lease_ms: u64, down_after: Duration) -> Duration {
    let cap = (down_after / 2).max(Duration::from_millis(10));
    Duration::from_millis(server_lease_ms.max(1)).min(cap)
}

/// How long a leader waits after its election before promoting: the longest lease
/// that may be held plus 10 % + 50 ms for clock drift.
pub fn promote_wait(max_lease: Duration) -> Duration {
    max_lease + max_lease / 10 + Duration::from_millis(50)
}

/// How long a vote keeps us from granting the old address: longer than the voted
/// leader can take from our vote to advertising a new master (election, lease wait,
/// selection, promotion), after which an aborted failover lets writes resume.
pub fn vote_hold(
    election_timeout: Duration,
    failover_timeout: Duration,
    lease: Duration,
) -> Duration {
    election_timeout.min(failover_timeout)
        + failover_timeout * 2
        + promote_wait(lease)
        + Duration::from_secs(2)
}

fn entry<'a>(m: &'a mut Machine, name: &str, now: Instant) -> Option<&'a mut MasterFencing> {
    let mm = m.masters.get(name)?;
    if !m.fencing.contains_key(name) {
        // First sight of this master since we started. A vote persisted in our
        // config (leader-epoch) for a failover we never saw complete may have been
        // cast a moment before a restart: hold grants as if we had just voted.
        let mut f = MasterFencing::default();
        if mm.leader_epoch > mm.config_epoch {
            let lease = offered_lease(u64::MAX, mm.inst.down_after);
            let hold = vote_hold(m.t.election_timeout, mm.failover_timeout, lease);
            f.hold = Some(((mm.inst.ip.clone(), mm.inst.port), now + hold));
        }
        m.fencing.insert(name.to_string(), f);
    }
    let f = m.fencing.get_mut(name)?;
    if f.addr.0 != mm.inst.ip || f.addr.1 != mm.inst.port {
        let addr = (mm.inst.ip.clone(), mm.inst.port);
        // A new master address: forget tokens and leases; keep the hold (it names
        // its address) and whether fencing was on (the new master is most likely
        // configured like the old one; its INFO corrects it).
        let (enabled, lease_ms, max_offered) = (f.enabled, f.server_lease_ms, f.max_offered);
        let hold = f.hold.take();
        *f = MasterFencing {
            addr,
            enabled,
            server_lease_ms: lease_ms,
            max_offered,
            hold,
            ..Default::default()
        };
    }
    Some(f)
}

/// The master's INFO arrived: learn whether it is fenced and its lease.
pub fn on_master_info(m: &mut Machine, name: &str, text: &str, now: Instant) {
    let mut on = false;
    let mut lease_ms = 0u64;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if let Some(v) = line.strip_prefix("vigil_fencing:") {
            on = v.trim() == "1";
        } else if let Some(v) = line.strip_prefix("vigil_fencing_lease_ms:") {
            lease_ms = v.trim().parse().unwrap_or(0);
        }
    }
    let Some(down_after) = m.masters.get(name).map(|mm| mm.inst.down_after) else {
        return;
    };
    let Some(f) = entry(m, name, now) else { return };
    let was = f.enabled;
    f.enabled = Some(on && lease_ms > 0);
    if !on || lease_ms == 0 {
        return;
    }
    f.server_lease_ms = lease_ms;
    let offered = offered_lease(lease_ms, down_after);
    f.max_offered = f.max_offered.max(offered);
    let clamp = Duration::from_millis(lease_ms) > offered && !f.clamp_logged;
    if clamp {
        f.clamp_logged = true;
    }
    if was != Some(true) {
        m.io.log(
            Level::Notice,
            format!(
                "{name}: write fencing on, granting leases of {} ms",
                offered.as_millis()
            ),
        );
    }
    if clamp {
        m.io.log(
            Level::Warning,
            format!(
                "{name}: vigil-fencing-lease-ms {lease_ms} is not below down-after-milliseconds / 2; leases clamped to {} ms",
                offered.as_millis()
            ),
        );
    }
}

/// We voted in a failover of `name`: stop granting its current address for the hold.
pub fn on_vote(m: &mut Machine, name: &str, now: Instant) {
    let election_timeout = m.t.election_timeout;
    let Some((failover_timeout, down_after)) = m
        .masters
        .get(name)
        .map(|mm| (mm.failover_timeout, mm.inst.down_after))
    else {
        return;
    };
    let Some(f) = entry(m, name, now) else { return };
    let lease = f.max_offered.max(offered_lease(u64::MAX, down_after));
    let until = now + vote_hold(election_timeout, failover_timeout, lease);
    f.hold = Some((f.addr.clone(), until));
    f.sent = None;
}

/// We won the election for `name`: promotion waits out the old master's leases, if
/// it is (or may be) fenced.
pub fn on_elected(m: &mut Machine, name: &str, now: Instant) {
    let Some(down_after) = m.masters.get(name).map(|mm| mm.inst.down_after) else {
        return;
    };
    let Some(f) = entry(m, name, now) else { return };
    f.select_after = None;
    f.asked.clear();
    let lease = match f.enabled {
        Some(false) => return,
        Some(true) if !f.max_offered.is_zero() => f.max_offered,
        // Never saw its INFO (e.g. we started while it was down): assume the cap.
        _ => offered_lease(u64::MAX, down_after),
    };
    let wait = promote_wait(lease);
    f.promote_after = Some(now + wait);
    f.select_after = Some(now + wait);
    m.io.log(
        Level::Notice,
        format!(
            "{name}: waiting {} ms for the old master's fencing leases to expire before promoting",
            wait.as_millis()
        ),
    );
}

/// Whether the failover we lead must wait before choosing the replica to promote:
/// until the old master's leases lapsed, then until every connected replica answered
/// an INFO sent after that (requested here), for at most [`FRESH_INFO_WAIT`] (capped
/// by the failover timeout). Replicas without such a reply are then not eligible
/// ([`info_fresh`]).
pub fn hold_selection(m: &mut Machine, name: &str, now: Instant) -> bool {
    let Some(after) = m.fencing.get(name).and_then(|f| f.select_after) else {
        return false;
    };
    if now < after {
        return true;
    }
    let Some(limit) = m
        .masters
        .get(name)
        .map(|mm| FRESH_INFO_WAIT.min(mm.failover_timeout))
    else {
        return false;
    };
    let keys: Vec<String> = m
        .masters
        .get(name)
        .map(|mm| mm.replicas.keys().cloned().collect())
        .unwrap_or_default();
    let mut pending = false;
    for key in keys {
        let id = Inst::Replica(nm(name), nm(&key));
        if !m.is_connected(&id) || info_fresh(m, name, &key) {
            continue;
        }
        pending = true;
        let asked = m
            .fencing
            .get(name)
            .and_then(|f| f.asked.get(&key))
            .is_some();
        let idle = m
            .instance(&id)
            .map(|r| r.info_sent.is_none())
            .unwrap_or(false);
        if !asked && idle {
            // No INFO in flight (one sent before `after` could describe the replica
            // before the old master's last acknowledged writes): ask now.
            let before = m.instance(&id).and_then(|r| r.info_refresh);
            m.request_info(&id, now);
            if m.instance(&id).and_then(|r| r.info_sent) == Some(now) {
                if let Some(f) = m.fencing.get_mut(name) {
                    f.asked.insert(key, (now, before));
                }
            }
        }
    }
    pending && now.saturating_duration_since(after) < limit
}

/// Whether replica `key` may be chosen by the failover we lead: always without
/// fencing, else only once it answered an INFO sent after the old master's leases
/// lapsed (see [`hold_selection`]).
pub fn info_fresh(m: &Machine, name: &str, key: &str) -> bool {
    let Some(f) = m.fencing.get(name) else {
        return true;
    };
    if f.select_after.is_none() {
        return true;
    }
    let Some((sent, before)) = f.asked.get(key) else {
        return false;
    };
    m.instance(&Inst::Replica(nm(name), nm(key)))
        .map(|r| {
            r.info_sent.is_none() && r.info_refresh != *before && r.info_refresh >= Some(*sent)
        })
        .unwrap_or(false)
}

/// Whether a failover we lead may send `REPLICAOF NO ONE` now.
pub fn may_promote(m: &Machine, name: &str, now: Instant) -> bool {
    m.fencing
        .get(name)
        .and_then(|f| f.promote_after)
        .map(|t| now >= t)
        .unwrap_or(true)
}

/// The timer's step for master `name`: send a grant if one is due.
pub fn tick(m: &mut Machine, name: &str, now: Instant) {
    // Cheap exit for unfenced masters (no allocation per tick).
    if m.fencing.get(name).and_then(|f| f.enabled) != Some(true) {
        return;
    }
    let tilt = m.tilt;
    let myid = m.g.myid.clone();
    let link = LinkKey::Cmd(Inst::Master(nm(name)));
    let link_up = m.io.connected(&link);
    let Some(mm) = m.masters.get(name) else {
        return;
    };
    let down_after = mm.inst.down_after;
    let view_base = (
        mm.inst.sdown_since.is_some(),
        mm.inst.odown_since.is_some(),
        mm.inst.role_reported == Role::Master,
        mm.in_failover(),
    );
    let cmd_name = mm.cmd_name("VIGIL-LEASE");
    let Some(f) = entry(m, name, now) else { return };
    let lease = offered_lease(f.server_lease_ms, down_after);
    let cadence = (lease / 3).max(Duration::from_millis(5));
    let in_flight = f
        .sent
        .map(|t| now.saturating_duration_since(t) < lease)
        .unwrap_or(false);
    let due = !in_flight
        && f.last_sent
            .map(|t| now.saturating_duration_since(t) >= cadence)
            .unwrap_or(true);
    let held = matches!(&f.hold, Some((a, until)) if *a == f.addr && now < *until);
    let v = View {
        enabled: f.enabled,
        tilt,
        sdown: view_base.0,
        odown: view_base.1,
        role_master: view_base.2,
        in_failover: view_base.3,
        held,
        link_up,
        due,
    };
    if decide(&v) != Decision::Grant {
        return;
    }
    let cmd = vec![
        cmd_name,
        myid,
        f.token.to_string(),
        lease.as_millis().to_string(),
    ];
    let addr = f.addr.clone();
    if m.io.send(&link, cmd, Tag::Lease(name.to_string(), addr)) {
        if let Some(f) = m.fencing.get_mut(name) {
            f.sent = Some(now);
            f.last_sent = Some(now);
            f.cadence = cadence;
        }
    }
}

/// The earliest time a grant falls due (two grant intervals must fit in one lease,
/// so grants cannot wait for the ~100 ms tick).
pub fn next_wake(m: &Machine) -> Option<Instant> {
    m.fencing
        .values()
        .filter(|f| f.enabled == Some(true) && !f.cadence.is_zero())
        .filter_map(|f| f.last_sent.map(|t| t + f.cadence))
        .min()
}

/// The reply to a VIGIL-LEASE sent to `addr` as the master of `name`.
pub fn on_reply(m: &mut Machine, name: &str, addr: &(String, u16), reply: &Frame, now: Instant) {
    let Some(f) = m.fencing.get_mut(name) else {
        return;
    };
    if f.addr != *addr {
        return;
    }
    f.sent = None;
    match reply {
        Frame::Integer(t) if *t > 0 => {
            let first = f.token == 0;
            f.token = *t as u64;
            // The first token proves nothing yet: echo it at once so the lease
            // starts one round trip later, not one cadence later.
            if first {
                f.last_sent = None;
                tick(m, name, now);
            }
        }
        other => {
            f.token = 0;
            let text = format!("{name}: VIGIL-LEASE refused: {other:?}");
            m.io.log(Level::Verbose, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granting() -> View {
        View {
            enabled: Some(true),
            tilt: false,
            sdown: false,
            odown: false,
            role_master: true,
            in_failover: false,
            held: false,
            link_up: true,
            due: true,
        }
    }

    #[test]
    fn grants_only_when_nothing_speaks_against_the_master() {
        assert_eq!(decide(&granting()), Decision::Grant);
        type Change = fn(&mut View);
        let cases: Vec<(Change, Decision)> = vec![
            (|v| v.enabled = None, Decision::NotFenced),
            (|v| v.enabled = Some(false), Decision::NotFenced),
            (|v| v.tilt = true, Decision::Tilt),
            (|v| v.sdown = true, Decision::MasterDown),
            (|v| v.odown = true, Decision::MasterDown),
            (|v| v.role_master = false, Decision::NotMasterRole),
            (|v| v.in_failover = true, Decision::InFailover),
            (|v| v.held = true, Decision::Voted),
            (|v| v.link_up = false, Decision::LinkDown),
            (|v| v.due = false, Decision::NotDue),
        ];
        for (change, want) in cases {
            let mut v = granting();
            change(&mut v);
            assert_eq!(decide(&v), want, "{v:?}");
        }
    }

    use crate::sentinel::machine::Action;
    use crate::sentinel::state::Timers;

    fn machine(now: Instant) -> Machine {
        let text = "sentinel myid 0123456789abcdef0123456789abcdef01234567\n\
                    sentinel monitor m 10.0.0.1 6379 2\n\
                    sentinel down-after-milliseconds m 1000\n\
                    sentinel failover-timeout m 3000\n";
        let l =
            crate::sentinel::config::parse("t.conf", text, &[], &Timers::default(), now).unwrap();
        Machine::new(l.global, l.masters, 7)
    }

    /// Bring the master's command link up (ticking until it is requested).
    fn link_up(m: &mut Machine, now: Instant) -> LinkKey {
        let key = LinkKey::Cmd(Inst::Master(nm("m")));
        m.handle_tick(now);
        let conn = m.io.links[&key].conn;
        m.handle_link_up(&key, conn, Some("10.0.1.1".into()), None, now);
        key
    }

    /// The VIGIL-LEASE commands queued since the last call.
    fn grants(m: &mut Machine) -> Vec<Vec<String>> {
        let mut v = Vec::new();
        while let Some(a) = m.poll_action() {
            if let Action::Send { cmd, .. } = a {
                if cmd[0] == "VIGIL-LEASE" {
                    v.push(cmd);
                }
            }
        }
        v
    }

    #[test]
    fn machine_grants_then_stops_after_a_vote_and_grants_the_new_master() {
        let ms = Duration::from_millis;
        let mut t = Instant::now();
        let mut m = machine(t);
        let key = link_up(&mut m, t);
        let conn = m.io.links[&key].conn;
        m.handle_tick(t);
        assert!(
            grants(&mut m).is_empty(),
            "no grant before INFO says fenced"
        );
        let info =
            "# Replication\r\nrole:master\r\nvigil_fencing:1\r\nvigil_fencing_lease_ms:5000\r\n";
        m.handle_reply(
            &key,
            conn,
            Tag::Info(Inst::Master(nm("m"))),
            Frame::bulk(info.as_bytes().to_vec()),
            t,
        );
        t += ms(100);
        m.handle_tick(t);
        let g = grants(&mut m);
        // Lease clamped at down-after / 2.
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0][2], "0");
        assert_eq!(g[0][3], "500");
        // The first token is echoed at once.
        let addr = ("10.0.0.1".to_string(), 6379);
        m.handle_reply(
            &key,
            conn,
            Tag::Lease("m".into(), addr.clone()),
            Frame::Integer(42),
            t,
        );
        let g = grants(&mut m);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0][2], "42");
        m.handle_reply(
            &key,
            conn,
            Tag::Lease("m".into(), addr.clone()),
            Frame::Integer(43),
            t,
        );
        // Then every lease/3.
        t += ms(100);
        m.handle_tick(t);
        assert!(grants(&mut m).is_empty());
        t += ms(100);
        m.handle_tick(t);
        assert_eq!(grants(&mut m)[0][2], "43");
        m.handle_reply(
            &key,
            conn,
            Tag::Lease("m".into(), addr.clone()),
            Frame::Integer(44),
            t,
        );
        // A vote for another sentinel's failover of this address: no more grants.
        let other = "fedcba9876543210fedcba9876543210fedcba98";
        m.is_master_down_by_addr("10.0.0.1", 6379, 1, other, t);
        for _ in 0..20 {
            t += ms(100);
            m.handle_tick(t);
            // Keep the master alive so only the vote explains the silence.
            let conn = m.io.links[&key].conn;
            m.handle_reply(
                &key,
                conn,
                Tag::Ping(Inst::Master(nm("m"))),
                Frame::simple("PONG"),
                t,
            );
        }
        assert!(grants(&mut m).is_empty(), "a voter must not grant");
        // The failover it voted for switched the master: the new address is granted.
        m.reset_master_and_change_address("m", "10.0.0.2", 6380, t);
        let key2 = link_up(&mut m, t);
        let conn2 = m.io.links[&key2].conn;
        m.handle_reply(
            &key2,
            conn2,
            Tag::Ping(Inst::Master(nm("m"))),
            Frame::simple("PONG"),
            t,
        );
        t += ms(100);
        m.handle_tick(t);
        let g = grants(&mut m);
        assert_eq!(g.len(), 1, "new master granted at once");
        assert_eq!(g[0][2], "0", "fresh token for a new address");
    }

    #[test]
    fn a_persisted_unfinished_vote_holds_grants_after_a_restart() {
        let t = Instant::now();
        let text = "sentinel myid 0123456789abcdef0123456789abcdef01234567\n\
                    sentinel current-epoch 3\n\
                    sentinel monitor m 10.0.0.1 6379 2\n\
                    sentinel down-after-milliseconds m 1000\n\
                    sentinel failover-timeout m 3000\n\
                    sentinel leader-epoch m 3\n";
        let l = crate::sentinel::config::parse("t.conf", text, &[], &Timers::default(), t).unwrap();
        let mut m = Machine::new(l.global, l.masters, 7);
        on_master_info(
            &mut m,
            "m",
            "role:master\r\nvigil_fencing:1\r\nvigil_fencing_lease_ms:300\r\n",
            t,
        );
        let f = &m.fencing["m"];
        let (addr, until) = f.hold.clone().expect("held");
        assert_eq!(addr, ("10.0.0.1".to_string(), 6379));
        assert!(until > t + Duration::from_secs(6));
    }

    #[test]
    fn elected_leader_waits_out_the_leases() {
        let t = Instant::now();
        let mut m = machine(t);
        // Unknown fencing state (no INFO seen): assume the longest lease.
        on_elected(&mut m, "m", t);
        assert!(!may_promote(&m, "m", t + Duration::from_millis(500)));
        assert!(may_promote(&m, "m", t + Duration::from_millis(600)));
        // Known to be unfenced: no wait.
        on_master_info(&mut m, "m", "role:master\r\n", t);
        on_elected(&mut m, "m", t + Duration::from_secs(1));
        assert!(may_promote(&m, "m", t + Duration::from_secs(1)));
        // Fenced with a 200 ms lease: 200 + 20 + 50 ms.
        on_master_info(
            &mut m,
            "m",
            "role:master\r\nvigil_fencing:1\r\nvigil_fencing_lease_ms:200\r\n",
            t,
        );
        let e = t + Duration::from_secs(2);
        on_elected(&mut m, "m", e);
        assert!(!may_promote(&m, "m", e + Duration::from_millis(269)));
        assert!(may_promote(&m, "m", e + Duration::from_millis(270)));
    }

    #[test]
    fn leader_chooses_the_replica_from_info_asked_after_the_leases_lapsed() {
        let ms = Duration::from_millis;
        let t = Instant::now();
        let text = "sentinel myid 0123456789abcdef0123456789abcdef01234567\n\
                    sentinel monitor m 10.0.0.1 6379 2\n\
                    sentinel down-after-milliseconds m 1000\n\
                    sentinel failover-timeout m 3000\n\
                    sentinel known-replica m 10.0.0.2 6379\n\
                    sentinel known-replica m 10.0.0.3 6379\n";
        let l = crate::sentinel::config::parse("t.conf", text, &[], &Timers::default(), t).unwrap();
        let mut m = Machine::new(l.global, l.masters, 7);
        m.handle_tick(t);
        let ids: Vec<Inst> = ["10.0.0.2:6379", "10.0.0.3:6379"]
            .iter()
            .map(|k| Inst::Replica(nm("m"), nm(k)))
            .collect();
        for id in &ids {
            for key in [LinkKey::Cmd(id.clone()), LinkKey::Pubsub(id.clone())] {
                let conn = m.io.links[&key].conn;
                m.handle_link_up(&key, conn, Some("10.0.1.1".into()), None, t);
            }
        }
        let info_reply = |m: &mut Machine, id: &Inst, now: Instant| {
            let key = LinkKey::Cmd(id.clone());
            let conn = m.io.links[&key].conn;
            let text = "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n\
                        master_port:6379\r\nmaster_link_status:up\r\nslave_repl_offset:7\r\n";
            m.handle_reply(
                &key,
                conn,
                Tag::Info(id.clone()),
                Frame::bulk(text.as_bytes().to_vec()),
                now,
            );
        };
        let infos_sent = |m: &mut Machine| {
            let mut n = 0;
            while let Some(a) = m.poll_action() {
                if let Action::Send { cmd, .. } = a {
                    n += usize::from(cmd[0] == "INFO");
                }
            }
            n
        };
        // Unfenced master: nothing held, every replica eligible.
        assert!(!hold_selection(&mut m, "m", t));
        assert!(info_fresh(&m, "m", "10.0.0.2:6379"));
        on_master_info(
            &mut m,
            "m",
            "role:master\r\nvigil_fencing:1\r\nvigil_fencing_lease_ms:200\r\n",
            t,
        );
        // Elected at e: leases lapse at e + 270 ms.
        let e = t + ms(1000);
        for id in &ids {
            info_reply(&mut m, id, e); // answers to requests sent before the election
        }
        infos_sent(&mut m);
        on_elected(&mut m, "m", e);
        assert!(
            hold_selection(&mut m, "m", e + ms(100)),
            "leases may still be held"
        );
        assert_eq!(infos_sent(&mut m), 0);
        assert!(
            !info_fresh(&m, "m", "10.0.0.2:6379"),
            "INFO from before the election"
        );
        // An INFO to replica 3 sent before the leases lapsed is in flight.
        m.request_info(&ids[1], e + ms(200));
        assert_eq!(infos_sent(&mut m), 1);
        // Leases lapsed: replica 2 is asked now, replica 3 once its old reply is in.
        let after = e + ms(270);
        assert!(hold_selection(&mut m, "m", after));
        assert_eq!(infos_sent(&mut m), 1);
        info_reply(&mut m, &ids[1], after + ms(10));
        assert!(
            !info_fresh(&m, "m", "10.0.0.3:6379"),
            "reply to a request sent before"
        );
        info_reply(&mut m, &ids[0], after + ms(20));
        assert!(info_fresh(&m, "m", "10.0.0.2:6379"));
        assert!(
            hold_selection(&mut m, "m", after + ms(30)),
            "replica 3 not fresh yet"
        );
        assert_eq!(infos_sent(&mut m), 1, "replica 3 asked again");
        // The wait is bounded (failover-timeout 3 s < 5 s): replica 3 never answers,
        // so it is not eligible.
        assert!(hold_selection(&mut m, "m", after + ms(2999)));
        assert!(!hold_selection(&mut m, "m", after + ms(3000)));
        assert!(!info_fresh(&m, "m", "10.0.0.3:6379"));
        info_reply(&mut m, &ids[1], after + ms(3100));
        assert!(info_fresh(&m, "m", "10.0.0.3:6379"));
        assert!(!hold_selection(&mut m, "m", after + ms(3100)));
        // A new election starts over.
        on_elected(&mut m, "m", e + ms(5000));
        assert!(!info_fresh(&m, "m", "10.0.0.2:6379"));
    }

    #[test]
    fn lease_is_below_down_after_and_wait_covers_it() {
        let ms = Duration::from_millis;
        assert_eq!(offered_lease(500, ms(2000)), ms(500));
        assert_eq!(offered_lease(5000, ms(2000)), ms(1000));
        assert_eq!(promote_wait(ms(1000)), ms(1150));
        let hold = vote_hold(ms(10_000), ms(6000), ms(1000));
        assert!(hold > ms(6000) * 2 + ms(1150));
    }
}
