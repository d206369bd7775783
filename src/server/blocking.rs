//! Clients blocked on keys (BLPOP, BRPOP, BLMOVE...). A blocked connection waits on a
//! Notify registered for each of its keys; a write that makes a key ready wakes the
//! waiters, which then retry their command under the lock.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Blocking {
    /// (db, key) → notifiers of the clients waiting on it.
    pub waiting: HashMap<(usize, Bytes), Vec<Arc<Notify>>>,
}

impl Blocking {
    /// Register a waiter on keys; returns the Notify to await.
    pub fn register(&mut self, db: usize, keys: &[Bytes]) -> Arc<Notify> {
        let n = Arc::new(Notify::new());
        for k in keys {
            self.waiting
                .entry((db, Bytes::copy_from_slice(k)))
                .or_default()
                .push(n.clone());
        }
        n
    }

    /// Remove a waiter from every key it waits on.
    pub fn unregister(&mut self, db: usize, keys: &[Bytes], n: &Arc<Notify>) {
        for k in keys {
            let key = (db, k.clone());
            if let Some(v) = self.waiting.get_mut(&key) {
                v.retain(|x| !Arc::ptr_eq(x, n));
                if v.is_empty() {
                    self.waiting.remove(&key);
                }
            }
        }
    }

    /// Wake the waiters of a key that became ready.
    pub fn wake(&mut self, db: usize, key: &Bytes) {
        if let Some(v) = self.waiting.get(&(db, key.clone())) {
            for n in v {
                n.notify_one();
            }
        }
    }
}
