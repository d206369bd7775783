//! Typed errors of master discovery and of the failover-aware connection manager.

use super::Addr;
use std::time::Duration;

/// Why one sentinel could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelFailure {
    pub sentinel: Addr,
    pub reason: String,
}

fn list(fails: &[SentinelFailure]) -> String {
    if fails.is_empty() {
        return "none tried".into();
    }
    fails
        .iter()
        .map(|f| format!("{}: {}", f.sentinel, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Everything discovery and the connection manager can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The sentinel list is empty.
    #[error("no sentinel address given")]
    NoSentinels,
    /// A `HOST:PORT` that does not parse.
    #[error("invalid address {0:?} (expected HOST:PORT)")]
    InvalidAddress(String),
    /// No sentinel answered at all (refused, timed out, or replied with an error).
    #[error("no sentinel reachable for master '{name}' ({})", list(.failures))]
    NoSentinelReachable {
        name: String,
        failures: Vec<SentinelFailure>,
    },
    /// At least one sentinel answered, and none of those that answered knows the name.
    #[error("no sentinel knows master '{name}' ({answered} answered, unknown name; {})", list(.failures))]
    MasterUnknown {
        name: String,
        answered: usize,
        failures: Vec<SentinelFailure>,
    },
    /// The sentinels named an address whose `ROLE` is not master (or that could not be
    /// reached), on every attempt.
    #[error("master '{name}' not confirmed at {addr} after {attempts} attempts: {reason}")]
    MasterNotConfirmed {
        name: String,
        addr: Addr,
        attempts: u32,
        reason: String,
    },
    /// No replica of the master is healthy according to the sentinels (and ROLE).
    #[error("no usable replica of master '{name}'")]
    NoReplica { name: String },
    /// A data-node error the manager does not retry (e.g. WRONGTYPE), or a connection
    /// error to a node.
    #[error("{addr}: {source}")]
    Redis {
        addr: Addr,
        #[source]
        source: redis::RedisError,
    },
    /// The connection manager retried for its whole budget without success.
    #[error("gave up after {elapsed:?} and {attempts} attempts: {last}")]
    GaveUp {
        elapsed: Duration,
        attempts: u32,
        last: Box<DiscoveryError>,
    },
}

impl DiscoveryError {
    /// Whether the condition may clear by itself (a failover in progress, a node or
    /// sentinel restarting): the connection manager retries these.
    pub fn is_transient(&self) -> bool {
        match self {
            DiscoveryError::NoSentinelReachable { .. }
            | DiscoveryError::MasterUnknown { .. }
            | DiscoveryError::MasterNotConfirmed { .. }
            | DiscoveryError::NoReplica { .. } => true,
            DiscoveryError::Redis { source, .. } => is_reconnect_error(source),
            _ => false,
        }
    }
}

/// Errors after which the connection to the master must be dropped and the master
/// resolved again: I/O and timeouts (the node died, a sentinel ran `CLIENT KILL`),
/// and `-READONLY` (the node was demoted to a replica).
pub fn is_reconnect_error(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    matches!(
        e.kind(),
        ErrorKind::Io | ErrorKind::Server(ServerErrorKind::ReadOnly)
    ) || e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || e.code() == Some("READONLY")
}

/// Errors that say "not now" without the node being wrong: retried on the same
/// connection after a pause (`-LOADING`, `-MASTERDOWN`, `-TRYAGAIN`).
pub fn is_wait_error(e: &redis::RedisError) -> bool {
    matches!(
        e.code(),
        Some("LOADING") | Some("MASTERDOWN") | Some("TRYAGAIN")
    )
}
