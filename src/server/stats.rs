//! Counters reported by INFO stats / commandstats / errorstats.

use std::collections::HashMap;

#[derive(Default, Debug)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// LATENCY HISTOGRAM data (`latency-tracking`).
    pub histogram: super::latency::Histogram,
}

impl CommandStat {
    /// Count one call that took `usec` microseconds (into the latency histogram
    /// too when `track`).
    pub fn bump(&mut self, usec: u64, failed: bool, track: bool) {
        self.calls += 1;
        self.usec += usec;
        if failed {
            self.failed_calls += 1;
        }
        if track {
            self.histogram.record(usec);
        }
    }
}

#[derive(Default, Debug)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub pubsub_messages: u64,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    pub total_error_replies: u64,
    /// Keyed by full name (`client|list`), hashed like the command table: every
    /// call looks its entry up.
    pub commands:
        HashMap<String, CommandStat, std::hash::BuildHasherDefault<super::command::NameHasher>>,
    /// Error prefix (ERR, WRONGTYPE...) → count.
    pub errors: HashMap<String, u64>,
}

impl Stats {
    /// Count an error reply by its prefix.
    pub fn error_reply(&mut self, text: &str) {
        self.total_error_replies += 1;
        let prefix = text.split(' ').next().unwrap_or("ERR").to_string();
        *self.errors.entry(prefix).or_default() += 1;
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}
