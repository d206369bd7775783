//! Write through a sentinel-monitored master and keep writing across failovers.
//!
//! ```text
//! cargo run --example failover_client -- 127.0.0.1:26379,127.0.0.1:26380 mymaster
//! ```
//!
//! Every 200 ms it SETs a key on the current master (the connection manager resolves
//! the master through the sentinels and reconnects by itself after a failover, a
//! dropped connection or a `-READONLY` reply), reads it back from a replica when one
//! is available, and prints what the manager does. Stop it with Ctrl-C.

use std::time::Duration;
use vigil::discovery::{Discovery, FailoverClient, ManagerConfig, ManagerEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let sentinels = args.next().unwrap_or_else(|| "127.0.0.1:26379".into());
    let name = args.next().unwrap_or_else(|| "mymaster".into());

    let discovery = Discovery::parse(name, &sentinels)?;
    let client = FailoverClient::new(discovery, ManagerConfig::default());

    let mut events = client.events();
    tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                ManagerEvent::Connected { addr, generation } => {
                    println!("connected to master {addr} (connection #{generation})")
                }
                ManagerEvent::Dropped { addr, reason } => {
                    println!("dropped master {addr}: {reason}")
                }
                ManagerEvent::SwitchHint { sentinel, new } => {
                    println!("sentinel {sentinel} announced a new master {new}")
                }
            }
        }
    });

    let mut replica = None;
    for i in 0u64.. {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        // Retries (with rediscovery) for up to 30 s before giving up.
        match client
            .query::<()>(redis::cmd("SET").arg("example:counter").arg(i))
            .await
        {
            Ok(()) => println!("SET example:counter {i}: OK"),
            Err(e) => {
                println!("write failed: {e}");
                continue;
            }
        }
        if replica.is_none() {
            replica = client.replica().await.ok();
        }
        if let Some((addr, conn)) = replica.as_mut() {
            match redis::cmd("GET")
                .arg("example:counter")
                .query_async::<Option<String>>(conn)
                .await
            {
                Ok(v) => println!("  replica {addr} has {v:?}"),
                Err(e) => {
                    println!("  replica {addr} failed: {e}");
                    replica = None;
                }
            }
        }
    }
    Ok(())
}
