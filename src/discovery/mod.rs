//! Master discovery for Rust applications, through sentinels, following the Sentinel
//! client guidelines (../shared/reference/clients.md §A.1):
//!
//! * [`Discovery`]: the resolve procedure (sentinels in order with short timeouts,
//!   `SENTINEL GET-MASTER-ADDR-BY-NAME`, `ROLE` check, `SENTINEL SENTINELS` refresh,
//!   `SENTINEL REPLICAS`), never cached;
//! * [`FailoverClient`]: an async connection manager on the `redis` crate that
//!   reconnects to the new master by itself (I/O errors, `-READONLY`, `+switch-master`
//!   hints) with bounded backoff, and hands out replica connections;
//! * [`events`]: sentinel pub/sub subscriptions (hints and timelines);
//! * [`cli`]: `vigil discover`.

mod addr;
pub mod cli;
mod error;
pub mod events;
mod link;
mod manager;
mod resolver;

pub use addr::Addr;
pub use error::{is_reconnect_error, DiscoveryError, SentinelFailure};
pub use events::{SentinelEvent, SwitchMaster};
pub use link::{Link, LinkError};
pub use manager::{connect_node, FailoverClient, ManagerConfig, ManagerEvent};
pub use resolver::{
    instance_maps, parse_info_role, parse_master_addr, parse_role, Discovery, DiscoveryConfig,
    MasterInfo, ReplicaInfo, Role,
};
