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

/// Reporting levels of LATENCY HISTOGRAM: Redis records each call's duration in ns
/// (clamped to 1 ns .. 1 s) into an hdr_histogram of 2 significant digits and
/// reports it with a log-2 iterator from 1024 ns. A level L = 1024·2^k (k < 20)
/// counts the values below L + L/128 (the end of L's hdr sub-bucket) and is labelled
/// with that bound - 1 in µs; the values above 2^29 + 2^22 ns fall in a last level,
/// labelled with the histogram's top (2^30 - 1 ns).
const HIST_LEVELS: usize = 21;
/// Redis's LATENCY_HISTOGRAM_MAX_VALUE (ns).
const HIST_MAX_NS: u64 = 1_000_000_000;

/// Per-command latency histogram (fed by `call` while `latency-tracking` is on).
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    pub calls: u64,
    counts: [u64; HIST_LEVELS],
}

/// Highest value (ns) counted by level `k`.
fn level_top(k: usize) -> u64 {
    if k + 1 == HIST_LEVELS {
        return (1 << 30) - 1;
    }
    let l = 1024u64 << k;
    l + l / 128 - 1
}

/// The first level whose top reaches `ns` (1 ..= HIST_MAX_NS): with 2^(10+j) <= ns
/// < 2^(11+j), level j if ns is in its first sub-bucket, else level j + 1.
fn level_of(ns: u64) -> usize {
    if ns < 1024 {
        return 0;
    }
    let j = (63 - ns.leading_zeros()) as usize - 10;
    let k = if ns <= level_top(j) { j } else { j + 1 };
    k.min(HIST_LEVELS - 1)
}

impl Histogram {
    /// Record one call of `usec` µs.
    pub fn record(&mut self, usec: u64) {
        let ns = usec.saturating_mul(1000).clamp(1, HIST_MAX_NS);
        self.counts[level_of(ns)] += 1;
        self.calls += 1;
    }

    /// `{calls, histogram_usec: {bucket µs: cumulative count}}`, only the levels
    /// that add calls.
    pub fn to_frame(&self) -> Frame {
        let mut cumulative = 0;
        let mut buckets = Vec::new();
        for (k, &n) in self.counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            cumulative += n;
            buckets.push((
                Frame::Integer((level_top(k) / 1000) as i64),
                Frame::Integer(cumulative as i64),
            ));
        }
        Frame::Map(vec![
            (
                Frame::Bulk(Bytes::from_static(b"calls")),
                Frame::Integer(self.calls as i64),
            ),
            (
                Frame::Bulk(Bytes::from_static(b"histogram_usec")),
                Frame::Map(buckets),
            ),
        ])
    }
}

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

    fn buckets(h: &Histogram) -> Vec<(i64, i64)> {
        let Frame::Map(pairs) = h.to_frame() else {
            panic!()
        };
        let Frame::Map(b) = &pairs[1].1 else { panic!() };
        b.iter()
            .map(|(k, v)| match (k, v) {
                (Frame::Integer(k), Frame::Integer(v)) => (*k, *v),
                _ => panic!(),
            })
            .collect()
    }

    #[test]
    fn level_of_is_the_first_level_reaching_the_value() {
        let slow = |ns: u64| {
            (0..HIST_LEVELS - 1)
                .find(|&k| ns <= level_top(k))
                .unwrap_or(HIST_LEVELS - 1)
        };
        let mut ns = 1;
        while ns <= HIST_MAX_NS {
            for v in [ns - 1, ns, ns + 1] {
                if (1..=HIST_MAX_NS).contains(&v) {
                    assert_eq!(level_of(v), slow(v), "{v} ns");
                }
            }
            for k in 0..HIST_LEVELS - 1 {
                let t = level_top(k);
                assert_eq!(level_of(t), slow(t));
                assert_eq!(level_of(t + 1), slow(t + 1));
            }
            ns = ns * 3 / 2 + 1;
        }
        assert_eq!(level_of(HIST_MAX_NS), HIST_LEVELS - 1);
    }

    #[test]
    fn histogram_levels_match_redis() {
        // Durations (µs) and the buckets redis-server 7.0 reported for them.
        let mut h = Histogram::default();
        for us in [0, 1, 2, 4, 131, 3000, 20000, 300000, 1_200_000, 5_000_000] {
            h.record(us);
        }
        assert_eq!(
            buckets(&h),
            vec![
                (1, 2),
                (2, 3),
                (4, 4),
                (132, 5),
                (4227, 6),
                (33816, 7),
                (541065, 8),
                (1073741, 10)
            ]
        );
        assert_eq!(h.calls, 10);
        // Bounds: 1031 ns is the top of the first level, 1032 the next.
        let mut h = Histogram::default();
        h.record(1);
        assert_eq!(buckets(&h), vec![(1, 1)]);
        assert_eq!(level_top(0), 1031);
        assert_eq!(level_top(1), 2063);
        assert_eq!(level_top(19), 541065215);
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
