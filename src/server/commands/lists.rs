//! Lists (t_list.c), including the blocking pops.

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
