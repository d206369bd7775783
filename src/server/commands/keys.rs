//! Keyspace commands (db.c, expire.c): DEL, EXISTS, EXPIRE family, TTL, TYPE, KEYS, SCAN, RENAME, FLUSHDB...

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
