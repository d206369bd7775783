//! The latency monitor (Redis's latency.c): with `latency-monitor-threshold` set to
//! N > 0 ms, every command that runs for at least N ms adds a sample to the event
//! "command" ("fast-command" for commands flagged FAST, as Redis's CMD_FAST). `call`
//! compares the duration with the threshold (kept in µs, `u64::MAX` when off) and
//! only then comes here, so a command that is not recorded costs one comparison.
//!
//! Per event Redis keeps a ring of the last 160 samples, one per second (a second
//! sample within the same second only raises that second's value), and the all-time
//! maximum. LATENCY LATEST shows the newest sample and the maximum, LATENCY HISTORY
//! the ring oldest first, LATENCY RESET forgets events.

use crate::resp::Frame;
use bytes::Bytes;

/// Samples kept per event (`LATENCY_TS_LEN`).
pub const TS_LEN: usize = 160;

#[derive(Clone, Copy, Default)]
struct Sample {
    /// Unix time in seconds; 0 for a slot never written.
    time: i64,
    /// Milliseconds.
    ms: u64,
}

/// One event's time series.
struct Series {
    /// The slot the next new second goes to.
    idx: usize,
    max: u64,
    samples: [Sample; TS_LEN],
}

impl Series {
    fn new() -> Series {
        Series {
            idx: 0,
            max: 0,
            samples: [Sample::default(); TS_LEN],
        }
    }

    fn newest(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }

    fn add(&mut self, ms: u64, now: i64) {
        self.max = self.max.max(ms);
        let prev = (self.idx + TS_LEN - 1) % TS_LEN;
        if self.samples[prev].time == now {
            let s = &mut self.samples[prev];
            s.ms = s.ms.max(ms);
            return;
        }
        self.samples[self.idx] = Sample { time: now, ms };
        self.idx = (self.idx + 1) % TS_LEN;
    }
}

/// Every event seen since the last reset, in the order they first appeared.
#[derive(Default)]
pub struct Monitor {
    events: Vec<(&'static str, Box<Series>)>,
}

impl Monitor {
    /// Record `ms` for `event` now (the caller checked the threshold).
    pub fn add(&mut self, event: &'static str, ms: u64) {
        self.add_at(event, ms, super::state::unix_ms() / 1000);
    }

    fn add_at(&mut self, event: &'static str, ms: u64, now: i64) {
        let i = match self.events.iter().position(|(e, _)| *e == event) {
            Some(i) => i,
            None => {
                self.events.push((event, Box::new(Series::new())));
                self.events.len() - 1
            }
        };
        self.events[i].1.add(ms, now);
    }

    /// LATENCY LATEST: `[event, time of the newest sample, its ms, max ms]` per event.
    pub fn latest(&self) -> Frame {
        Frame::Array(
            self.events
                .iter()
                .map(|(name, s)| {
                    let n = s.newest();
                    Frame::Array(vec![
                        Frame::Bulk(Bytes::from_static(name.as_bytes())),
                        Frame::Integer(n.time),
                        Frame::Integer(n.ms as i64),
                        Frame::Integer(s.max as i64),
                    ])
                })
                .collect(),
        )
    }

    /// LATENCY HISTORY event: `[time, ms]` oldest first (empty for an unknown event).
    pub fn history(&self, event: &[u8]) -> Frame {
        let Some((_, s)) = self.events.iter().find(|(e, _)| e.as_bytes() == event) else {
            return Frame::Array(Vec::new());
        };
        Frame::Array(
            (0..TS_LEN)
                .map(|j| s.samples[(s.idx + j) % TS_LEN])
                .filter(|x| x.time != 0)
                .map(|x| Frame::Array(vec![Frame::Integer(x.time), Frame::Integer(x.ms as i64)]))
                .collect(),
        )
    }

    /// LATENCY RESET: forget every event (`None`) or the one named; how many went.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match event {
            None => self.events.clear(),
            Some(name) => self.events.retain(|(e, _)| e.as_bytes() != name),
        }
        before - self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(m: &Monitor, e: &str) -> Vec<(i64, i64)> {
        let Frame::Array(items) = m.history(e.as_bytes()) else {
            panic!("not an array")
        };
        items
            .into_iter()
            .map(|f| match f {
                Frame::Array(v) => match (&v[0], &v[1]) {
                    (Frame::Integer(t), Frame::Integer(ms)) => (*t, *ms),
                    _ => panic!("bad sample"),
                },
                _ => panic!("bad sample"),
            })
            .collect()
    }

    #[test]
    fn one_sample_per_second_keeping_the_max() {
        let mut m = Monitor::default();
        m.add_at("command", 60, 100);
        m.add_at("command", 90, 100);
        m.add_at("command", 70, 100);
        m.add_at("command", 55, 101);
        assert_eq!(history(&m, "command"), vec![(100, 90), (101, 55)]);
        assert!(history(&m, "fast-command").is_empty());
    }

    #[test]
    fn ring_keeps_the_last_160_seconds_and_the_all_time_max() {
        let mut m = Monitor::default();
        m.add_at("command", 1000, 1);
        for t in 2..=200 {
            m.add_at("command", t as u64, t);
        }
        let h = history(&m, "command");
        assert_eq!(h.len(), TS_LEN);
        assert_eq!(h[0], (41, 41));
        assert_eq!(*h.last().unwrap(), (200, 200));
        let Frame::Array(latest) = m.latest() else {
            panic!()
        };
        let Frame::Array(row) = &latest[0] else {
            panic!()
        };
        assert_eq!(row[1], Frame::Integer(200));
        assert_eq!(row[2], Frame::Integer(200));
        assert_eq!(row[3], Frame::Integer(1000));
    }

    #[test]
    fn reset_counts_the_events_it_removed() {
        let mut m = Monitor::default();
        m.add_at("command", 60, 1);
        m.add_at("fast-command", 60, 1);
        assert_eq!(m.reset(Some(b"nothing")), 0);
        assert_eq!(m.reset(Some(b"command")), 1);
        assert_eq!(m.reset(Some(b"command")), 0);
        assert_eq!(m.reset(None), 1);
        assert_eq!(m.latest(), Frame::Array(Vec::new()));
    }
}
