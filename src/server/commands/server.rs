//! Server administration: INFO, CONFIG, COMMAND, DEBUG, SHUTDOWN, SAVE/BGSAVE, DBSIZE-like server commands.

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
