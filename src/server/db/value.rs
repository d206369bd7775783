//! Value types stored in the keyspace.

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use std::collections::{BTreeSet, VecDeque};

/// A sorted-set score with a total order (scores are never NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set: member → score, plus (score, member) order.
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    pub dict: IndexMap<Bytes, f64>,
    pub order: BTreeSet<(Score, Bytes)>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Insert or update; returns the previous score.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        let prev = self.dict.insert(member.clone(), score);
        if let Some(old) = prev {
            self.order.remove(&(Score(old), member.clone()));
        }
        self.order.insert((Score(score), member));
        prev
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (k, old) = self.dict.swap_remove_entry(member)?;
        self.order.remove(&(Score(old), k));
        Some(old)
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(member).copied()
    }
}

/// A value in the keyspace. Large variants are boxed so that the common case (small
/// strings) stays compact.
#[derive(Clone, Debug)]
pub enum Value {
    Str(Bytes),
    List(Box<VecDeque<Bytes>>),
    Hash(Box<IndexMap<Bytes, Bytes>>),
    Set(Box<IndexSet<Bytes>>),
    ZSet(Box<ZSet>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// Whether an aggregate became empty (Redis deletes empty aggregates).
    pub fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}
