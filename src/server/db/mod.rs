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
use std::sync::atomic::{AtomicU32, Ordering};
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
    /// Per key, by its index in `map`: the last access on Redis's 24-bit LRU clock
    /// (what OBJECT IDLETIME reports) in the low bits, [`flags`] in the top byte.
    /// Kept as long as `map`; entries that code outside `Db` added to `map` (an RDB
    /// load, DEBUG POPULATE) count as accessed when first looked at.
    access: Vec<u32>,
}

/// How many small integers Redis shares (OBJ_SHARED_INTEGERS).
const SHARED_INTEGERS: usize = 10_000;

/// Access times of Redis's shared integer objects: every key holding 0..9999 (set
/// by SET, INCR...) holds the same object, so a read of any of them is an access of
/// all. 0 = not accessed since the start.
static SHARED_ACCESS: [AtomicU32; SHARED_INTEGERS] = [const { AtomicU32::new(0) }; SHARED_INTEGERS];

/// When the shared objects were created (the first keyspace's creation).
static STARTED: AtomicU32 = AtomicU32::new(0);

/// The shared integer a value would be in Redis: a string `0`..`9999` written
/// canonically.
fn shared_integer(v: &Value) -> Option<usize> {
    let Value::Str(s) = v else {
        return None;
    };
    let canonical = !s.is_empty() && s.len() <= 4 && (s.len() == 1 || s[0] != b'0');
    if !canonical || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, &d| n * 10 + usize::from(d - b'0')))
}

/// How a value was stored, where Redis's encoding depends on it (OBJECT ENCODING).
/// Cleared whenever a new value is stored.
pub mod flags {
    /// A string made raw (APPEND, SETRANGE).
    pub const RAW: u8 = 1;
    /// A string made as a plain string, never an integer (INCRBYFLOAT): embstr up to
    /// 44 bytes, raw beyond.
    pub const PLAIN: u8 = 2;
}

/// Redis's LRU clock: unix seconds (LRU_CLOCK_RESOLUTION 1000 ms) on 24 bits.
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 1000) as u64 & u64::from(LRU_CLOCK_MAX)) as u32
}

/// Seconds from `then` to `now` on the wrapping LRU clock (estimateObjectIdleTime).
fn lru_elapsed(now: u32, then: u32) -> u64 {
    if now >= then {
        u64::from(now - then)
    } else {
        u64::from(now) + u64::from(LRU_CLOCK_MAX - then)
    }
}

fn copy(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

impl Db {
    /// Whether a command left work for the dispatcher: expired keys to propagate,
    /// keys ready for blocked clients, WATCHers to invalidate.
    pub fn has_events(&self) -> bool {
        !self.expired.is_empty() || !self.ready.is_empty() || !self.touched_clients.is_empty()
    }

    pub fn new(expire_deletes: bool) -> Db {
        let now = lru_clock(Db::wall_ms());
        let _ = STARTED.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
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
            if let Some((i, k, _)) = self.map.swap_remove_full(key) {
                self.forget_access(i);
                self.expires.swap_remove(key);
                self.signal_modified(&k);
                self.expired.push(k);
            }
        }
        true
    }

    /// The wall clock in unix ms, for the writers that are not given the call's time.
    fn wall_ms() -> i64 {
        crate::server::state::recent_unix_ms()
    }

    /// Note an access to the key at index `i` of `map` (Redis's LRU touch in
    /// lookupKey), which is also an access of the shared integer it may hold.
    fn touch(&mut self, i: usize, now_ms: i64) {
        let now = lru_clock(now_ms);
        self.sync_access(now);
        let Some(a) = self.access.get_mut(i) else {
            return;
        };
        *a = (*a & !LRU_CLOCK_MAX) | now;
        if *a >> 24 != 0 {
            return;
        }
        if let Some(n) = self.map.get_index(i).and_then(|(_, v)| shared_integer(v)) {
            SHARED_ACCESS[n].store(now, Ordering::Relaxed);
        }
    }

    /// A new value was stored at index `i` of `map`: accessed now, no flags.
    fn stamp(&mut self, i: usize, now_ms: i64) {
        let now = lru_clock(now_ms);
        self.sync_access(now);
        if let Some(a) = self.access.get_mut(i) {
            *a = now;
        }
    }

    /// Bring `access` to the length of `map` (see the field).
    fn sync_access(&mut self, now: u32) {
        if self.access.len() != self.map.len() {
            self.access.resize(self.map.len(), now);
        }
    }

    /// The [`flags`] of `key` (0 when missing).
    pub fn flags(&mut self, key: &[u8]) -> u8 {
        let Some(i) = self.map.get_index_of(key) else {
            return 0;
        };
        self.sync_access(lru_clock(Db::wall_ms()));
        self.access.get(i).map_or(0, |a| (a >> 24) as u8)
    }

    /// Set the [`flags`] of an existing `key` (after storing its value).
    pub fn set_flags(&mut self, key: &[u8], flags: u8) {
        let Some(i) = self.map.get_index_of(key) else {
            return;
        };
        self.sync_access(lru_clock(Db::wall_ms()));
        if let Some(a) = self.access.get_mut(i) {
            *a = (*a & LRU_CLOCK_MAX) | (u32::from(flags) << 24);
        }
    }

    /// Drop the access time of the key that was at index `i` of `map`, after
    /// `map.swap_remove_index(i)` (which moved the last key there).
    fn forget_access(&mut self, i: usize) {
        if self.access.len() == self.map.len() + 1 {
            self.access.swap_remove(i);
        } else {
            self.access.truncate(self.map.len());
        }
    }

    /// Seconds since `key` was last accessed (OBJECT IDLETIME); the key itself is
    /// not touched. With `shared_integers` (Redis shares 0..9999 unless maxmemory
    /// is set with an LRU/LFU policy) a key holding one reports the shared object's
    /// time. None when missing.
    pub fn idle_secs(&mut self, key: &[u8], now_ms: i64, shared_integers: bool) -> Option<u64> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        let now = lru_clock(now_ms);
        self.sync_access(now);
        let (i, _, v) = self.map.get_full(key)?;
        let a = self.access.get(i).copied().unwrap_or(now);
        let shared = shared_integer(v).filter(|_| shared_integers && a >> 24 == 0);
        let last = match shared {
            Some(n) => match SHARED_ACCESS[n].load(Ordering::Relaxed) {
                0 => STARTED.load(Ordering::Relaxed),
                t => t,
            },
            None => a & LRU_CLOCK_MAX,
        };
        Some(lru_elapsed(now, last))
    }

    /// Read access (lazy expiry applied); touches the key.
    pub fn get(&mut self, key: &[u8], now_ms: i64) -> Option<&Value> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        let i = self.map.get_index_of(key)?;
        self.touch(i, now_ms);
        self.map.get_index(i).map(|(_, v)| v)
    }

    /// Read access without touching the key (Redis's LOOKUP_NOTOUCH: EXISTS, TYPE,
    /// TTL, OBJECT...).
    pub fn peek(&mut self, key: &[u8], now_ms: i64) -> Option<&Value> {
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
        let i = self.map.get_index_of(key)?;
        self.touch(i, now_ms);
        self.dirty += 1;
        self.signal_modified(key);
        self.map.get_index_mut(i).map(|(_, v)| v)
    }

    /// Whether `key` exists (touches it, like a Redis lookup).
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
        let i = match self.map.get_full_mut(key) {
            Some((i, _, slot)) => {
                *slot = value;
                i
            }
            None => self.map.insert_full(copy(key), value).0,
        };
        self.stamp(i, Db::wall_ms());
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
        self.touch(idx, now_ms);
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
        let i = self.map.get_index_of(key)?;
        self.touch(i, now_ms);
        self.map.get_index_mut(i).map(|(_, v)| v)
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
        let i = self.map.insert_full(key, value).0;
        self.stamp(i, Db::wall_ms());
    }

    /// Remove a key; returns its value.
    pub fn remove(&mut self, key: &[u8], now_ms: i64) -> Option<Value> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        let (i, _, v) = self.map.swap_remove_full(key)?;
        self.forget_access(i);
        if !self.expires.is_empty() {
            self.expires.swap_remove(key);
        }
        self.dirty += 1;
        self.signal_modified(key);
        Some(v)
    }

    /// Delete `key` if its aggregate value became empty (after a pop or removal).
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if let Some((i, _, v)) = self.map.get_full(key) {
            if v.is_empty_aggregate() {
                self.map.swap_remove_index(i);
                self.forget_access(i);
                self.expires.swap_remove(key);
            }
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

    /// Exchange the whole keyspace (keys, expiries, access times) with `other`
    /// (SWAPDB).
    pub fn swap_keyspace(&mut self, other: &mut Db) {
        std::mem::swap(&mut self.map, &mut other.map);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.access, &mut other.access);
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
        self.access = Vec::new();
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

    fn s(v: &str) -> Value {
        Value::Str(Bytes::from(v.to_string()))
    }

    #[test]
    fn access_times_follow_their_keys() {
        let mut db = Db::new(true);
        let t0 = 1_000_000_000;
        for k in ["a", "b", "c", "d"] {
            db.get_or_create(k.as_bytes(), t0, |_| true, || s(k)).ok();
        }
        // "b" read 5 s later; "a" removed (the last key moves into its slot).
        assert!(db.get(b"b", t0 + 5_000).is_some());
        db.remove(b"a", t0 + 5_000);
        assert_eq!(db.idle_secs(b"d", t0 + 10_000, true), Some(10));
        assert_eq!(db.idle_secs(b"b", t0 + 10_000, true), Some(5));
        assert_eq!(db.idle_secs(b"c", t0 + 10_000, true), Some(10));
        assert_eq!(db.idle_secs(b"a", t0 + 10_000, true), None);
        // Looking without touching keeps the time; a write refreshes it.
        assert!(db.peek(b"c", t0 + 20_000).is_some());
        assert_eq!(db.idle_secs(b"c", t0 + 20_000, true), Some(20));
        assert!(db.lookup_write(b"c", t0 + 20_000).is_some());
        assert_eq!(db.idle_secs(b"c", t0 + 21_000, true), Some(1));
        // Keys added behind Db's back count as accessed when first looked at.
        db.map.insert(Bytes::from_static(b"e"), s("e"));
        assert_eq!(db.idle_secs(b"e", t0 + 30_000, true), Some(0));
        assert_eq!(db.idle_secs(b"e", t0 + 31_000, true), Some(1));
        assert_eq!(db.idle_secs(b"d", t0 + 31_000, true), Some(31));
        db.flush();
        assert_eq!(db.idle_secs(b"d", t0 + 31_000, true), None);
    }

    #[test]
    fn small_integers_share_one_access_time() {
        let mut db = Db::new(true);
        let t0 = 2_000_000_000;
        db.set(b"x", s("4321"));
        db.set(b"y", s("4321"));
        db.set(b"z", s("04321"));
        assert!(db.get(b"x", t0).is_some());
        assert!(db.get(b"z", t0).is_some());
        // Reading x was an access of the object y holds too.
        assert_eq!(db.idle_secs(b"y", t0 + 3_000, true), Some(3));
        assert!(db.idle_secs(b"y", t0 + 3_000, false) != Some(3));
        assert_eq!(db.idle_secs(b"z", t0 + 3_000, true), Some(3));
    }

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
