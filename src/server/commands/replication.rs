//! Replication commands: REPLICAOF/SLAVEOF, SYNC/PSYNC, REPLCONF, WAIT, ROLE, FAILOVER.

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
