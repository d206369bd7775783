//! Sets (t_set.c).

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
