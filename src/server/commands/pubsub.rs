//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, PUBLISH, PUBSUB ...

use crate::server::command::Command;

pub static COMMANDS: &[Command] = &[];
