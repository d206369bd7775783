//! Sorted sets (t_zset.c).

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
