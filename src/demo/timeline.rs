//! The demo's timeline: sentinel events (from pub/sub) and client events, each with
//! the time since the master was killed, deduplicated across sentinels and labelled
//! for humans.

use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;

/// One line of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// Milliseconds since the kill (negative before it).
    pub t_ms: i64,
    /// The sentinel event name (`+odown`) or `client`/`demo`.
    pub event: String,
    /// What it means, in words.
    pub label: String,
    /// The message as published (or the client detail).
    pub detail: String,
    /// Which sentinel published it (port), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<String>,
}

/// Words for the sentinel events that make up a failover; others are not shown.
pub fn label(event: &str) -> Option<&'static str> {
    Some(match event {
        "+sdown" => "subjectively down (a sentinel lost it)",
        "-sdown" => "reachable again",
        "+odown" => "objectively down (quorum agrees)",
        "-odown" => "no longer objectively down",
        "+new-epoch" => "new epoch",
        "+try-failover" => "failover attempt starts",
        "+vote-for-leader" => "vote for a leader",
        "+elected-leader" => "leader elected for this epoch",
        "+failover-state-select-slave" => "selecting a replica",
        "+selected-slave" => "replica selected",
        "+failover-state-send-slaveof-noone" => "promoting: REPLICAOF NO ONE",
        "+promoted-slave" => "replica promoted to master",
        "+failover-state-reconf-slaves" => "reconfiguring the other replicas",
        "+slave-reconf-sent" => "replica told to follow the new master",
        "+slave-reconf-done" => "replica reconfigured",
        "+failover-end" => "failover finished",
        "+failover-end-for-timeout" => "failover finished by timeout",
        "+switch-master" => "switch-master: clients move to the new master",
        "+convert-to-slave" => "old master converted to a replica",
        "+tilt" => "sentinel entered TILT",
        "-failover-abort-not-elected" => "not elected, failover aborted here",
        "-failover-abort-no-good-slave" => "no usable replica, failover aborted",
        _ => return None,
    })
}

/// Collects entries relative to the kill instant and drops duplicates (several
/// sentinels publishing the same event for the same instance).
pub struct Timeline {
    pub kill: Option<Instant>,
    pub start: Instant,
    pub entries: Vec<Entry>,
    seen: HashSet<(String, String)>,
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline {
            kill: None,
            start: Instant::now(),
            entries: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Milliseconds of `at` relative to the kill (or the start, before it).
    pub fn rel_ms(&self, at: Instant) -> i64 {
        let base = self.kill.unwrap_or(self.start);
        if at >= base {
            at.duration_since(base).as_millis() as i64
        } else {
            -(base.duration_since(at).as_millis() as i64)
        }
    }

    /// A sentinel event; `None` when not shown (unlabelled or a duplicate).
    pub fn sentinel_event(
        &mut self,
        at: Instant,
        sentinel: &str,
        event: &str,
        payload: &str,
    ) -> Option<Entry> {
        let label = label(event)?;
        // `+odown ... #quorum 2/2` differs between sentinels only in the count.
        let key_payload = payload.split(" #").next().unwrap_or(payload).to_string();
        if !self.seen.insert((event.to_string(), key_payload)) {
            return None;
        }
        Some(self.push(at, event, label, payload, Some(sentinel.to_string())))
    }

    /// A client-side or demo event (always shown).
    pub fn note(&mut self, at: Instant, event: &str, label: &str, detail: &str) -> Entry {
        self.push(at, event, label, detail, None)
    }

    fn push(
        &mut self,
        at: Instant,
        event: &str,
        label: &str,
        detail: &str,
        sentinel: Option<String>,
    ) -> Entry {
        let e = Entry {
            t_ms: self.rel_ms(at),
            event: event.to_string(),
            label: label.to_string(),
            detail: detail.to_string(),
            sentinel,
        };
        self.entries.push(e.clone());
        e
    }

    /// First time (ms since kill) an event with this name was recorded.
    pub fn first(&self, event: &str) -> Option<i64> {
        self.entries
            .iter()
            .find(|e| e.event == event && e.t_ms >= 0)
            .map(|e| e.t_ms)
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}

/// `  +1.234s  +odown  objectively down ...  master mymaster 127.0.0.1 6379 #quorum 2/2`
pub fn format_entry(e: &Entry) -> String {
    let secs = e.t_ms as f64 / 1000.0;
    let who = e
        .sentinel
        .as_ref()
        .map(|s| format!("  [sentinel {s}]"))
        .unwrap_or_default();
    format!(
        "  {:>+8.3}s  {:<20} {:<44} {}{}",
        secs, e.event, e.label, e.detail, who
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dedups_across_sentinels_and_times_from_kill() {
        let mut t = Timeline::new();
        let k = Instant::now();
        t.kill = Some(k);
        let a = t.sentinel_event(
            k + Duration::from_millis(1100),
            "26379",
            "+odown",
            "master m 127.0.0.1 1 #quorum 2/2",
        );
        assert_eq!(a.unwrap().t_ms, 1100);
        let b = t.sentinel_event(
            k + Duration::from_millis(1200),
            "26380",
            "+odown",
            "master m 127.0.0.1 1 #quorum 3/2",
        );
        assert!(b.is_none());
        assert!(t
            .sentinel_event(k, "26379", "+reboot", "master m 127.0.0.1 1")
            .is_none());
        assert_eq!(t.first("+odown"), Some(1100));
        let before = t.note(k - Duration::from_millis(5), "demo", "x", "y");
        assert_eq!(before.t_ms, -5);
        assert!(format_entry(&before).contains("-0.005s"));
    }
}
