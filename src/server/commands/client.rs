//! CLIENT subcommands.

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
