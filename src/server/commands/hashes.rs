//! Hashes (t_hash.c).

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
