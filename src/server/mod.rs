//! The bundled Redis-compatible server (`vigil server`).

pub mod blocking;
pub mod client;
pub mod command;
pub mod commands;
pub mod config;
pub mod conn;
pub mod db;
pub mod digest;
pub mod fencing;
pub mod glob;
pub mod info;
pub mod latency;
pub mod longdouble;
pub mod pause;
pub mod pubsub;
pub mod rdb;
pub mod replication;
pub mod slowlog;
pub mod state;
pub mod stats;
pub mod sync_ack;

/// The Redis version we report (HELLO, INFO): clients key features on it.
pub const REDIS_VERSION: &str = "7.0.15";

use crate::util::process::Supervision;
use config::Config;
use state::{Shared, ShutdownRequest};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Entry point of `vigil server [CONFIG] [--directive value ...]`.
pub fn main(args: Vec<String>) -> Result<(), String> {
    let config = Config::from_args(&args).map_err(|e| e.to_string())?;
    let supervision = Supervision::resolve(config.get("supervised"));
    // Like Redis: a supervised server stays in the foreground whatever daemonize says.
    if config.get("daemonize") == "yes" && supervision == Supervision::No {
        crate::util::process::daemonize()?;
    }
    init_logging(&config)?;
    let dir = config.dir();
    std::env::set_current_dir(&dir)
        .map_err(|e| format!("can't chdir to '{}': {e}", dir.display()))?;
    // One thread, like Redis's event loop: the keyspace is behind one lock, so a
    // second worker only competed with clients for the cores, and the current-thread
    // scheduler costs ~3 % less CPU per request than a one-worker multi-thread one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("can't start the runtime: {e}"))?;
    runtime.block_on(run(config, supervision))
}

fn init_logging(config: &Config) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let level = match config.get("loglevel") {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        _ => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logfile = config.get("logfile");
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if logfile.is_empty() {
        builder.with_writer(std::io::stdout).try_init()
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)
            .map_err(|e| format!("can't open the log file '{logfile}': {e}"))?;
        builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
            .try_init()
    };
    // A second init (tests embedding the server) is not an error.
    let _ = result;
    Ok(())
}

/// Addresses to listen on, from `bind` and `port`. A leading `-` marks an address
/// that may be unavailable.
fn listen_addrs(config: &Config) -> Vec<(SocketAddr, bool)> {
    let port = config.get_i64("port") as u16;
    config
        .get("bind")
        .split_whitespace()
        .filter_map(|a| {
            let (optional, a) = match a.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, a),
            };
            let ip = match a {
                "*" => "0.0.0.0".to_string(),
                "::*" => "::".to_string(),
                other => other.to_string(),
            };
            ip.parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| (SocketAddr::new(ip, port), optional))
        })
        .collect()
}

/// Run the server until SHUTDOWN or a signal, telling the supervisor (if any) when
/// it is ready and when it stops.
pub async fn run(config: Config, supervision: Supervision) -> Result<(), String> {
    let addrs = listen_addrs(&config);
    let shared = Shared::new(config);
    let mut listeners = Vec::new();
    for (addr, optional) in addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::debug!(%addr, "optional bind failed: {e}"),
            Err(e) => {
                return Err(format!(
                    "could not create server TCP listening socket {addr}: {e}"
                ))
            }
        }
    }
    if listeners.is_empty() {
        return Err("no address to listen on".into());
    }
    let pidfile = shared.state.lock().config.get("pidfile").to_string();
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    }
    {
        let st = shared.state.lock();
        tracing::info!(
            port = st.port,
            run_id = %st.run_id,
            "Ready to accept connections"
        );
    }
    replication::start(&shared);
    for l in listeners {
        tokio::spawn(accept_loop(shared.clone(), l));
    }
    tokio::spawn(cron(shared.clone()));
    supervision.ready();
    let reason = wait_for_shutdown(&shared).await;
    supervision.stopping();
    finish(&shared, reason);
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    Ok(())
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let id = shared.state.lock().clients.next_id();
                tokio::spawn(conn::serve(shared.clone(), stream, addr, id));
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Background work every 100 ms (Redis's serverCron at hz 10): the end of a CLIENT
/// PAUSE, active expiry.
async fn cron(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        // Also refreshes the clock the keys' LRU stamps read (state::recent_unix_ms).
        let now = state::unix_ms();
        let mut st = shared.state.lock();
        st.resync_wall_clock();
        // A CLIENT PAUSE whose time is up ends here, like in Redis's serverCron.
        pause::check_deadline(&mut st, std::time::Instant::now());
        // DEBUG SET-ACTIVE-EXPIRE 0 (commands/server.rs) stops the active cycle.
        if !st.active_expire_enabled {
            continue;
        }
        for db in st.dbs.iter_mut() {
            // Keep sampling while a quarter of the sample was expired, like Redis.
            for _ in 0..16 {
                if db.active_expire(now, 20) < 5 {
                    break;
                }
            }
        }
        command::propagate_expired(&mut st, true);
    }
}

async fn wait_for_shutdown(shared: &Arc<Shared>) -> ShutdownRequest {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("can't watch SIGTERM: {e}");
            return std::future::pending().await;
        }
    };
    let mut int = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("can't watch SIGINT: {e}");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => { tracing::info!("Received SIGTERM scheduling shutdown..."); ShutdownRequest::Default }
        _ = int.recv() => { tracing::info!("Received SIGINT scheduling shutdown..."); ShutdownRequest::Default }
        _ = shared.shutdown.notified() => {
            shared.state.lock().shutdown.clone().unwrap_or(ShutdownRequest::Default)
        }
    }
}

/// Last steps before exit: save when asked or when save points are configured.
fn finish(shared: &Arc<Shared>, reason: ShutdownRequest) {
    let st = shared.state.lock();
    let save = match reason {
        ShutdownRequest::Save => true,
        ShutdownRequest::NoSave => false,
        ShutdownRequest::Default => !st.config.save_points().is_empty(),
    };
    drop(st);
    if save {
        if let Err(e) = replication::save_on_shutdown(shared) {
            tracing::warn!("Error trying to save the DB on shutdown: {e}");
        }
    }
    tracing::info!("Redis is now ready to exit, bye bye...");
}
