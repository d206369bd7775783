//! `vigil discover --sentinel HOST:PORT[,...] --name NAME [--replicas] [--watch] [--json]`:
//! ask the sentinels where the master (and replicas) of NAME are, print it, and with
//! `--watch` keep following failovers, one timestamped line per change. Errors are
//! one line on stderr and a non-zero exit.

use serde_json::json;
use std::time::{Duration, SystemTime};

use super::events::{switch_master_hints, SubscribeConfig};
use super::{Addr, Discovery, DiscoveryConfig, DiscoveryError, ReplicaInfo};

/// Arguments of `vigil discover`.
#[derive(clap::Args, Debug, Clone)]
pub struct DiscoverArgs {
    /// Sentinels to ask, HOST:PORT[,HOST:PORT...].
    #[arg(long, value_delimiter = ',', required = true)]
    pub sentinel: Vec<String>,
    /// Name of the monitored master.
    #[arg(long)]
    pub name: String,
    /// Also list the replicas (from SENTINEL REPLICAS).
    #[arg(long)]
    pub replicas: bool,
    /// Keep running and print every change of master (until Ctrl-C).
    #[arg(long)]
    pub watch: bool,
    /// Print JSON (one object; with --watch one object per line).
    #[arg(long)]
    pub json: bool,
    /// Connect timeout per sentinel or node.
    #[arg(long, default_value = "300ms", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// With --watch: how often to resolve again besides +switch-master hints.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
}

/// Entry point of `vigil discover`.
pub fn main(args: DiscoverArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    rt.block_on(run(args)).map_err(|e| e.to_string())
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn replica_json(r: &ReplicaInfo) -> serde_json::Value {
    json!({
        "addr": r.addr.to_string(),
        "flags": r.flags,
        "healthy": r.is_healthy(),
        "master_link_status": r.master_link_status,
        "offset": r.offset,
    })
}

fn replica_line(r: &ReplicaInfo) -> String {
    format!(
        "replica {} link={} offset={} flags={}{}",
        r.addr,
        r.master_link_status.as_deref().unwrap_or("?"),
        r.offset
            .map(|o| o.to_string())
            .unwrap_or_else(|| "?".into()),
        r.flags.join(","),
        if r.is_healthy() { "" } else { " (not usable)" }
    )
}

async fn run(args: DiscoverArgs) -> Result<(), DiscoveryError> {
    let mut sentinels = Vec::new();
    for s in &args.sentinel {
        sentinels.extend(Addr::parse_list(s)?);
    }
    let cfg = DiscoveryConfig {
        connect_timeout: args.timeout,
        io_timeout: (args.timeout * 3).max(Duration::from_secs(1)),
        ..DiscoveryConfig::default()
    };
    let disc = Discovery::with_config(args.name.clone(), sentinels, cfg)?;
    let master = disc.master().await?;
    let replicas = if args.replicas {
        Some(disc.all_replicas().await?)
    } else {
        None
    };
    if args.json {
        let mut v = json!({
            "name": args.name,
            "master": master.addr.to_string(),
            "sentinel": master.sentinel.to_string(),
        });
        if let Some(r) = &replicas {
            v["replicas"] = r.iter().map(replica_json).collect();
        }
        if args.watch {
            v["time"] = json!(now());
            v["event"] = json!("master");
        }
        println!("{v}");
    } else {
        let prefix = if args.watch {
            format!("{} ", now())
        } else {
            String::new()
        };
        println!(
            "{prefix}master {} ({}, via sentinel {})",
            master.addr, args.name, master.sentinel
        );
        for r in replicas.iter().flatten() {
            println!("{prefix}{}", replica_line(r));
        }
    }
    if args.watch {
        watch(&args, &disc, master.addr, replicas).await?;
    }
    Ok(())
}

/// Follow the master: resolve again on every `+switch-master` hint and every
/// `interval`, print each confirmed change.
async fn watch(
    args: &DiscoverArgs,
    disc: &Discovery,
    mut current: Addr,
    mut replicas: Option<Vec<ReplicaInfo>>,
) -> Result<(), DiscoveryError> {
    let (mut hints, tasks) =
        switch_master_hints(&disc.sentinels(), disc.name(), SubscribeConfig::default());
    let mut down: Option<String> = None;
    let emit = |v: serde_json::Value, text: String| {
        if args.json {
            println!("{v}");
        } else {
            println!("{} {text}", now());
        }
    };
    loop {
        let mut via = "poll";
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(args.interval) => {}
            Some((sentinel, sw)) = hints.recv() => {
                via = "+switch-master";
                emit(
                    json!({"time": now(), "event": "hint", "sentinel": sentinel.to_string(),
                           "old": sw.old.to_string(), "new": sw.new.to_string()}),
                    format!("hint +switch-master from {sentinel}: {} -> {}", sw.old, sw.new),
                );
            }
        }
        match disc.master().await {
            Err(e) => {
                let msg = e.to_string();
                if down.as_deref() != Some(msg.as_str()) {
                    emit(
                        json!({"time": now(), "event": "unavailable", "error": msg}),
                        format!("unavailable {msg}"),
                    );
                    down = Some(msg);
                }
                continue;
            }
            Ok(m) => {
                if m.addr != current {
                    emit(
                        json!({"time": now(), "event": "switch", "name": disc.name(),
                               "old": current.to_string(), "new": m.addr.to_string(),
                               "via": via, "sentinel": m.sentinel.to_string()}),
                        format!(
                            "switch {} {} -> {} (noticed by {via}, sentinel {})",
                            disc.name(),
                            current,
                            m.addr,
                            m.sentinel
                        ),
                    );
                    current = m.addr;
                } else if down.is_some() {
                    emit(
                        json!({"time": now(), "event": "available", "master": current.to_string()}),
                        format!("available master {current}"),
                    );
                }
                down = None;
            }
        }
        if let Some(old) = &replicas {
            if let Ok(new) = disc.all_replicas().await {
                if summary(&new) != summary(old) {
                    emit(
                        json!({"time": now(), "event": "replicas",
                               "replicas": new.iter().map(replica_json).collect::<Vec<_>>()}),
                        format!(
                            "replicas {}",
                            new.iter()
                                .map(|r| format!(
                                    "{}{}",
                                    r.addr,
                                    if r.is_healthy() { "" } else { "(down)" }
                                ))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                    );
                    replicas = Some(new);
                }
            }
        }
    }
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// What counts as a change of the replica list: addresses and health.
fn summary(r: &[ReplicaInfo]) -> Vec<(Addr, bool)> {
    let mut v: Vec<(Addr, bool)> = r.iter().map(|r| (r.addr.clone(), r.is_healthy())).collect();
    v.sort();
    v
}
