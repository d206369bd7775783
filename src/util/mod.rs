//! Small shared helpers: ids, clocks, atomic file writes, process stats, config
//! string quoting.

pub mod fsutil;
pub mod ids;
pub mod proc_stats;
pub mod process;
pub mod quote;
pub mod rates;
