//! Master discovery for Rust applications, through sentinels.

pub mod cli;
