//! Pub/Sub registry: channel and pattern subscriptions → client ids.

use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};

#[derive(Default)]
pub struct PubSub {
    pub channels: HashMap<Bytes, BTreeSet<u64>>,
    pub patterns: HashMap<Bytes, BTreeSet<u64>>,
}

impl PubSub {
    pub fn subscribe(&mut self, channel: Bytes, client: u64) -> bool {
        self.channels.entry(channel).or_default().insert(client)
    }

    pub fn unsubscribe(&mut self, channel: &[u8], client: u64) -> bool {
        let Some(set) = self.channels.get_mut(channel) else {
            return false;
        };
        let removed = set.remove(&client);
        if set.is_empty() {
            self.channels.remove(channel);
        }
        removed
    }

    pub fn psubscribe(&mut self, pattern: Bytes, client: u64) -> bool {
        self.patterns.entry(pattern).or_default().insert(client)
    }

    pub fn punsubscribe(&mut self, pattern: &[u8], client: u64) -> bool {
        let Some(set) = self.patterns.get_mut(pattern) else {
            return false;
        };
        let removed = set.remove(&client);
        if set.is_empty() {
            self.patterns.remove(pattern);
        }
        removed
    }
}
