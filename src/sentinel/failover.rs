//! Election and failover state machine (issue 5), driven by the machine.

use super::machine::{Inst, Machine};
use std::time::Instant;

pub(crate) fn on_info_acting(_m: &mut Machine, _id: &Inst, _now: Instant) {}
pub(crate) fn tick(_m: &mut Machine, _name: &str, _now: Instant) {}
pub(crate) fn switch_finished(_m: &mut Machine, _now: Instant) {}
pub(crate) fn manual_failover(
    _m: &mut Machine,
    _name: &str,
    _now: Instant,
) -> Result<(), crate::resp::Frame> {
    Err(crate::resp::Frame::err("not implemented"))
}
