//! One logical database: keys, values, expiry, and the bookkeeping that writes need
//! (dirty counter for propagation, WATCH invalidation, keys made ready for blocked
//! clients, keys deleted by lazy expiry so they can be propagated as DEL).
//!
//! Keys and values stored here must own their bytes: command arguments are slices of
//! the network buffer, so copy them (`Bytes::copy_from_slice`) before storing.

pub mod value;

use bytes::Bytes;
use indexmap::IndexMap;
use std::collections::HashMap;
pub use value::{Score, Value, ZSet};

use crate::resp::Frame;

/// `-WRONGTYPE ...`
pub fn wrongtype() -> Frame {
    Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value")
}

#[derive(Default)]
pub struct Db {
    pub map: IndexMap<Bytes, Value>,
    /// Absolute expiry in unix milliseconds.
    pub expires: IndexMap<Bytes, i64>,
    /// Whether lookups delete expired keys (masters) or only hide them (replicas).
    pub expire_deletes: bool,
    /// Keys deleted by lazy or active expiry, to be propagated as DEL.
    pub expired: Vec<Bytes>,
    /// Keys that received elements (for clients blocked on them).
    pub ready: Vec<Bytes>,
    /// Count of modifications; the dispatcher propagates a write when it grows.
    pub dirty: u64,
    /// WATCHed keys → client ids.
    pub watched: HashMap<Bytes, Vec<u64>>,
    /// Clients whose watched keys were touched.
    pub touched_clients: Vec<u64>,
}

fn copy(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

impl Db {
    pub fn new(expire_deletes: bool) -> Db {
        Db {
            expire_deletes,
            ..Db::default()
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        !self.expires.is_empty() && self.expires.get(key).is_some_and(|&t| t <= now_ms)
    }

    /// Expire `key` if its time has come. Returns true when the key is logically gone.
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: i64) -> bool {
        if !self.is_expired(key, now_ms) {
            return false;
        }
        if self.expire_deletes {
            if let Some((k, _)) = self.map.swap_remove_entry(key) {
                self.expires.swap_remove(key);
                self.signal_modified(&k);
                self.expired.push(k);
            }
        }
        true
    }

    /// Read access (lazy expiry applied).
    pub fn get(&mut self, key: &[u8], now_ms: i64) -> Option<&Value> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        self.map.get(key)
    }

    /// Write access to an existing value: counts as a modification.
    pub fn get_mut(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        if self.map.contains_key(key) {
            self.dirty += 1;
            self.signal_modified(key);
        }
        self.map.get_mut(key)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Set a key, clearing any TTL (SET semantics).
    pub fn set(&mut self, key: &[u8], value: Value) {
        if !self.expires.is_empty() {
            self.expires.swap_remove(key);
        }
        self.set_keep_ttl(key, value);
    }

    /// Set a key, keeping its TTL (KEEPTTL, SETRANGE, APPEND...).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        self.dirty += 1;
        self.signal_modified(key);
        if let Some(slot) = self.map.get_mut(key) {
            *slot = value;
        } else {
            self.map.insert(copy(key), value);
        }
    }

    /// Get the value at `key` for writing, creating it with `make` when missing.
    /// Errors with WRONGTYPE when `check` rejects the existing value.
    pub fn get_or_create(
        &mut self,
        key: &[u8],
        now_ms: i64,
        check: fn(&Value) -> bool,
        make: impl FnOnce() -> Value,
    ) -> Result<&mut Value, Frame> {
        self.expire_if_needed(key, now_ms);
        // Type check first: a WRONGTYPE error is not a modification.
        let idx = match self.map.get_index_of(key) {
            Some(i) => {
                if !self.map.get_index(i).is_some_and(|(_, v)| check(v)) {
                    return Err(wrongtype());
                }
                i
            }
            None => self.map.insert_full(copy(key), make()).0,
        };
        self.dirty += 1;
        self.signal_modified(key);
        self.map
            .get_index_mut(idx)
            .map(|(_, v)| v)
            .ok_or_else(|| Frame::err("internal error: key vanished"))
    }

    /// Write access to an existing value without counting a modification: callers
    /// that change it call [`Db::modified`] afterwards (so a no-op is not propagated).
    pub fn lookup_write(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        self.map.get_mut(key)
    }

    /// Count a modification of `key` made through [`Db::lookup_write`].
    pub fn modified(&mut self, key: &[u8], changes: u64) {
        self.dirty += changes;
        self.signal_modified(key);
    }

    /// Insert a value (with an optional absolute expiry), replacing any old one.
    pub fn insert_with_expire(&mut self, key: Bytes, value: Value, expire_at: Option<i64>) {
        self.dirty += 1;
        self.signal_modified(&key);
        match expire_at {
            Some(t) => {
                self.expires.insert(key.clone(), t);
            }
            None => {
                if !self.expires.is_empty() {
                    self.expires.swap_remove(&key);
                }
            }
        }
        self.map.insert(key, value);
    }

    /// Remove a key; returns its value.
    pub fn remove(&mut self, key: &[u8], now_ms: i64) -> Option<Value> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        let v = self.map.swap_remove(key)?;
        if !self.expires.is_empty() {
            self.expires.swap_remove(key);
        }
        self.dirty += 1;
        self.signal_modified(key);
        Some(v)
    }

    /// Delete `key` if its aggregate value became empty (after a pop or removal).
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if self.map.get(key).is_some_and(Value::is_empty_aggregate) {
            self.map.swap_remove(key);
            self.expires.swap_remove(key);
        }
    }

    /// The absolute expiry of `key` in unix ms, if any.
    pub fn ttl_ms(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    /// Set an absolute expiry (the key must exist).
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) {
        if let Some((k, _)) = self.map.get_key_value(key) {
            let k = k.clone();
            self.expires.insert(k, at_ms);
            self.dirty += 1;
            self.signal_modified(key);
        }
    }

    /// Remove the expiry; true if there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let had = self.expires.swap_remove(key).is_some();
        if had {
            self.dirty += 1;
            self.signal_modified(key);
        }
        had
    }

    /// Remove everything.
    pub fn flush(&mut self) -> usize {
        let n = self.map.len();
        let keys: Vec<Bytes> = self.watched.keys().cloned().collect();
        for k in keys {
            self.signal_modified(&k);
        }
        self.map = IndexMap::new();
        self.expires = IndexMap::new();
        self.dirty += 1;
        n
    }

    /// Mark a key modified: invalidates WATCHes on it.
    pub fn signal_modified(&mut self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(ids) = self.watched.get(key) {
            self.touched_clients.extend(ids.iter().copied());
        }
    }

    /// Note that a list (or zset) key got new elements, for blocked clients.
    pub fn signal_ready(&mut self, key: &[u8]) {
        self.ready.push(copy(key));
    }

    /// Delete up to `max` expired keys from a random sample (active expiry). Returns
    /// how many were deleted.
    pub fn active_expire(&mut self, now_ms: i64, samples: usize) -> usize {
        if !self.expire_deletes || self.expires.is_empty() {
            return 0;
        }
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let mut deleted = 0;
        for _ in 0..samples.min(self.expires.len()) {
            if self.expires.is_empty() {
                break;
            }
            let i = rng.gen_range(0..self.expires.len());
            let Some((k, &t)) = self.expires.get_index(i) else {
                break;
            };
            if t <= now_ms {
                let k = k.clone();
                self.expire_if_needed(&k, now_ms);
                deleted += 1;
            }
        }
        deleted
    }

    /// A random live key.
    pub fn random_key(&mut self, now_ms: i64) -> Option<Bytes> {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            if self.map.is_empty() {
                return None;
            }
            let i = rng.gen_range(0..self.map.len());
            let k = self.map.get_index(i)?.0.clone();
            // On a master this deletes an expired key; on a replica it is skipped.
            if !self.expire_if_needed(&k, now_ms) {
                return Some(k);
            }
        }
        None
    }
}

/// Cursor-based iteration over an IndexMap/IndexSet-backed collection, walking from
/// the end so that swap_remove during a scan never hides an element that was present
/// for the whole scan. Cursor 0 starts; the returned cursor is 0 when done.
/// Returns (next_cursor, indices visited).
pub fn scan_indices(len: usize, cursor: u64, count: usize) -> (u64, std::ops::Range<usize>) {
    let start_from = if cursor == 0 {
        len
    } else {
        (cursor as usize).min(len)
    };
    let lo = start_from.saturating_sub(count.max(1));
    let next = if lo == 0 { 0 } else { lo as u64 };
    (next, lo..start_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_expiry_records_deletes_on_master_only() {
        let mut db = Db::new(true);
        db.set(b"k", Value::Str(Bytes::from_static(b"v")));
        db.set_expire(b"k", 100);
        assert!(db.get(b"k", 50).is_some());
        assert!(db.get(b"k", 100).is_none());
        assert_eq!(db.expired, vec![Bytes::from_static(b"k")]);
        let mut replica = Db::new(false);
        replica.set(b"k", Value::Str(Bytes::from_static(b"v")));
        replica.set_expire(b"k", 100);
        assert!(replica.get(b"k", 100).is_none());
        assert!(replica.expired.is_empty());
        assert_eq!(replica.len(), 1);
    }

    #[test]
    fn scan_walks_everything() {
        let mut seen = 0;
        let mut cursor = 0;
        loop {
            let (next, r) = scan_indices(25, cursor, 10);
            seen += r.len();
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 25);
        assert_eq!(scan_indices(0, 0, 10).0, 0);
    }
}
