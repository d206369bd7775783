//! Command families, one file each (like Redis's t_string.c, t_list.c, ...). Each
//! exposes `COMMANDS`, a slice of table entries; the table is their union.

pub mod args;
pub mod client;
pub mod connection;
pub mod hashes;
pub mod keys;
pub mod lists;
#[cfg(test)]
mod propagation_tests;
pub mod pubsub;
pub mod replication;
pub mod server;
pub mod sets;
pub mod strings;
pub mod transactions;
pub mod zsets;

use super::command::Command;

/// Every family's command list.
pub static FAMILIES: &[&[Command]] = &[
    client::COMMANDS,
    connection::COMMANDS,
    hashes::COMMANDS,
    keys::COMMANDS,
    lists::COMMANDS,
    pubsub::COMMANDS,
    replication::COMMANDS,
    server::COMMANDS,
    sets::COMMANDS,
    strings::COMMANDS,
    transactions::COMMANDS,
    zsets::COMMANDS,
    crate::server::fencing::COMMANDS,
];
