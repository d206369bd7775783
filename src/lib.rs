//! Vigil: a Redis-compatible replicating server, a Sentinel-style supervisor and
//! client-side master discovery, sharing one RESP codec.

pub mod demo;
pub mod discovery;
pub mod resp;
pub mod sentinel;
pub mod server;
pub mod util;
