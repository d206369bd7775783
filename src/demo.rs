//! `vigil demo`: a whole topology on loopback, failed over live. It starts 1 master +
//! N replicas + M sentinels as child processes of this binary (`vigil server`,
//! `vigil sentinel`; or the Redis binaries with `--redis`) on free loopback ports in a
//! temporary directory, writes through discovery ([`crate::discovery::FailoverClient`]),
//! SIGKILLs the master and prints a live timeline read from the sentinels' pub/sub
//! plus the client's own events, checks that every acknowledged write is on the new
//! master, restarts the old master and waits until it is a replica, prints a summary
//! (text or `--json`) and cleans up, also on Ctrl-C.

mod timeline;
mod topology;

use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

use crate::discovery::events::{spawn_subscriber, SubscribeConfig};
use crate::discovery::{
    connect_node, instance_maps, Addr, Discovery, FailoverClient, ManagerConfig, ManagerEvent,
};
use timeline::{format_entry, Timeline};
use topology::{info_field, query, Bin, Flavor, Topology};

/// The monitored master's name.
const NAME: &str = "mymaster";

/// Arguments of `vigil demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// Number of replicas.
    #[arg(long, default_value_t = 2)]
    pub replicas: usize,
    /// Number of sentinels (quorum is a majority).
    #[arg(long, default_value_t = 3)]
    pub sentinels: usize,
    /// Sentinels' down-after-milliseconds, e.g. 1s, 500ms.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub down_after: Duration,
    /// Sentinels' failover-timeout.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub failover_timeout: Duration,
    /// Leave the topology running at the end and print how to connect to it.
    #[arg(long)]
    pub keep: bool,
    /// Print the summary as JSON on stdout (the timeline goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Run redis-server and redis-sentinel from PATH instead of this binary (to compare).
    #[arg(long)]
    pub redis: bool,
    /// Run redis-server from PATH for the data nodes, with this binary's sentinels.
    #[arg(long, conflicts_with = "redis")]
    pub redis_servers: bool,
    /// Count a write as acknowledged only once `WAIT N` confirms N replicas have it
    /// (0: the master's reply is the acknowledgement, as with plain async replication).
    #[arg(long, default_value_t = 0)]
    pub wait: usize,
    /// Upper bound for the whole run.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            replicas: 2,
            sentinels: 3,
            down_after: Duration::from_secs(1),
            failover_timeout: Duration::from_secs(10),
            keep: false,
            json: false,
            redis: false,
            redis_servers: false,
            wait: 0,
            timeout: Duration::from_secs(120),
        }
    }
}

/// Entry point of `vigil demo` (also what `vigil` alone runs).
pub fn main(args: DemoArgs) -> Result<(), String> {
    if args.replicas == 0 || args.sentinels == 0 {
        return Err("--replicas and --sentinels must be at least 1".into());
    }
    if args.wait > args.replicas {
        return Err("--wait cannot exceed --replicas".into());
    }
    if args.down_after < Duration::from_millis(100) {
        return Err("--down-after must be at least 100ms".into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let flavor = Flavor {
        servers: if args.redis || args.redis_servers {
            Bin::Redis
        } else {
            Bin::Vigil(exe.clone())
        },
        sentinels: if args.redis {
            Bin::Redis
        } else {
            Bin::Vigil(exe)
        },
    };
    // Current-thread runtime: children are forked from the main thread, so their
    // parent-death signal fires only when the demo process itself goes away.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    rt.block_on(async move {
        let mut topo = Topology::new(flavor, args.keep)?;
        let out = Out::new(args.json);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
        let result = tokio::select! {
            r = tokio::time::timeout(args.timeout, run(&args, &mut topo, &out)) => {
                r.unwrap_or_else(|_| Err(format!("the demo did not finish within {:?}", args.timeout)))
            }
            _ = tokio::signal::ctrl_c() => Err("interrupted; every demo process was stopped".to_string()),
            _ = term.recv() => Err("terminated; every demo process was stopped".to_string()),
        };
        out.clear();
        if result.is_ok() && args.keep {
            topo.release();
        } else {
            topo.shutdown();
        }
        result
    })
}

/// Human output: stdout (stderr with `--json`), and a one-line progress indicator on
/// stderr when it is a terminal.
struct Out {
    json: bool,
    spinner: bool,
    shown: std::cell::Cell<bool>,
    tick: std::cell::Cell<usize>,
}

impl Out {
    fn new(json: bool) -> Out {
        Out {
            json,
            spinner: std::io::stderr().is_terminal(),
            shown: std::cell::Cell::new(false),
            tick: std::cell::Cell::new(0),
        }
    }

    fn clear(&self) {
        if self.shown.replace(false) {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }

    fn line(&self, s: impl AsRef<str>) {
        self.clear();
        if self.json {
            eprintln!("{}", s.as_ref());
        } else {
            println!("{}", s.as_ref());
        }
    }

    fn progress(&self, what: &str, since: Instant) {
        if !self.spinner {
            return;
        }
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        let n = self.tick.get().wrapping_add(1);
        self.tick.set(n);
        eprint!(
            "\r\x1b[2K{} {what} ({:.1}s)",
            FRAMES[n % 4],
            since.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
        self.shown.set(true);
    }
}

/// One write attempt of the demo's client.
struct WriteResult {
    i: u64,
    at: Instant,
    ok: bool,
    /// Accepted by the master but not confirmed by `WAIT` in time (with `--wait`).
    unconfirmed: bool,
    master: Option<Addr>,
    error: Option<String>,
}

/// SET demo:i i through the connection manager, back to back with a short pause.
async fn writer(
    client: FailoverClient,
    wait: usize,
    stop: watch::Receiver<bool>,
    tx: mpsc::UnboundedSender<WriteResult>,
) {
    let mut i = 0u64;
    while !*stop.borrow() {
        i += 1;
        let key = format!("demo:{i}");
        // With --wait, the SET and its WAIT go down one connection as one pipeline
        // (a retry re-runs both on the new master), so WAIT counts this very write.
        let r: Result<bool, _> = if wait == 0 {
            client
                .query::<()>(redis::cmd("SET").arg(&key).arg(i))
                .await
                .map(|()| true)
        } else {
            client
                .query_pipe::<((), i64)>(
                    redis::pipe()
                        .cmd("SET")
                        .arg(&key)
                        .arg(i)
                        .cmd("WAIT")
                        .arg(wait)
                        .arg(1000),
                )
                .await
                .map(|((), n)| n >= wait as i64)
        };
        let at = Instant::now();
        let (ok, unconfirmed, master, error) = match r {
            Ok(true) => (true, false, client.current_master().await, None),
            Ok(false) => (false, true, None, Some("WAIT timed out".to_string())),
            Err(e) => (false, false, None, Some(e.to_string())),
        };
        if tx
            .send(WriteResult {
                i,
                at,
                ok,
                unconfirmed,
                master,
                error,
            })
            .is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn replicas_in_sync(addrs: &[Addr]) -> bool {
    for a in addrs {
        let Some(info) = query(a, &["INFO", "replication"])
            .await
            .and_then(|f| f.as_text())
        else {
            return false;
        };
        if info_field(&info, "master_link_status").as_deref() != Some("up") {
            return false;
        }
    }
    true
}

/// Every sentinel lists all replicas as healthy and knows every other sentinel.
async fn sentinels_settled(sentinels: &[Addr], replicas: usize) -> bool {
    for s in sentinels {
        let Some(reps) = query(s, &["SENTINEL", "REPLICAS", NAME]).await else {
            return false;
        };
        let healthy = instance_maps(reps)
            .iter()
            .filter(|m| {
                let get = |k: &str| m.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
                let flags = get("flags").unwrap_or("");
                !flags.contains("s_down")
                    && !flags.contains("disconnected")
                    && get("master-link-status") == Some("ok")
            })
            .count();
        let peers = query(s, &["SENTINEL", "SENTINELS", NAME])
            .await
            .and_then(|f| f.into_items())
            .map(|v| v.len())
            .unwrap_or(0);
        if healthy < replicas || peers + 1 < sentinels.len() {
            return false;
        }
    }
    true
}

/// Poll `check` every 100 ms (with the progress indicator) until it holds.
async fn wait_until<F, Fut>(
    out: &Out,
    what: &str,
    timeout: Duration,
    mut check: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            out.clear();
            return Ok(());
        }
        if started.elapsed() > timeout {
            out.clear();
            return Err(format!("timed out after {timeout:?} {what}"));
        }
        out.progress(what, started);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

async fn run(args: &DemoArgs, topo: &mut Topology, out: &Out) -> Result<(), String> {
    let t_start = Instant::now();
    out.line(format!(
        "vigil demo: 1 master + {} replicas + {} sentinels ({}), down-after {:?}, in {}",
        args.replicas,
        args.sentinels,
        topo.flavor.label(),
        args.down_after,
        topo.dir.display()
    ));

    // 1. The topology.
    let m = topo.start_server("master", None).await?;
    let old_master = topo.nodes[m].addr();
    let mut replica_idx = Vec::new();
    for i in 1..=args.replicas {
        replica_idx.push(
            topo.start_server(&format!("replica-{i}"), Some(old_master.port))
                .await?,
        );
    }
    let replica_addrs: Vec<Addr> = replica_idx.iter().map(|&i| topo.nodes[i].addr()).collect();
    wait_until(
        out,
        "waiting for replicas to sync",
        Duration::from_secs(20),
        || replicas_in_sync(&replica_addrs),
    )
    .await
    .map_err(|e| format!("{e}; {}", topo.last_log_lines(&replica_idx)))?;
    let quorum = args.sentinels / 2 + 1;
    let body = format!(
        "sentinel monitor {NAME} 127.0.0.1 {} {quorum}\n\
         sentinel down-after-milliseconds {NAME} {}\n\
         sentinel failover-timeout {NAME} {}\n\
         sentinel parallel-syncs {NAME} {}\n",
        old_master.port,
        ms(args.down_after),
        ms(args.failover_timeout),
        args.replicas
    );
    let mut sentinel_idx = Vec::new();
    for i in 1..=args.sentinels {
        sentinel_idx.push(topo.start_sentinel(&format!("sentinel-{i}"), &body).await?);
    }
    let sentinels: Vec<Addr> = sentinel_idx.iter().map(|&i| topo.nodes[i].addr()).collect();
    for n in &topo.nodes {
        out.line(format!(
            "  {:<11} {:<16} pid {}",
            n.label,
            n.addr().to_string(),
            n.pid
        ));
    }
    wait_until(
        out,
        "waiting for sentinels to find the replicas and each other",
        Duration::from_secs(30),
        || sentinels_settled(&sentinels, args.replicas),
    )
    .await
    .map_err(|e| format!("{e}; {}", topo.last_log_lines(&sentinel_idx)))?;
    out.line(format!(
        "ready after {:.1}s: sentinels agree on master {old_master} (quorum {quorum})",
        t_start.elapsed().as_secs_f64()
    ));

    // 2. Watch the sentinels, write through discovery.
    let (ev_tx, mut ev_rx) = mpsc::channel(1024);
    let _subs: Vec<AbortOnDrop> = sentinels
        .iter()
        .map(|s| {
            AbortOnDrop(spawn_subscriber(
                s.clone(),
                vec!["*".to_string()],
                SubscribeConfig::default(),
                ev_tx.clone(),
            ))
        })
        .collect();
    drop(ev_tx);
    let discovery = Discovery::new(NAME, sentinels.clone()).map_err(|e| e.to_string())?;
    let client = FailoverClient::new(
        discovery,
        ManagerConfig {
            connect_timeout: Duration::from_millis(300),
            response_timeout: Duration::from_secs(1),
            retry_budget: args.timeout,
            ..ManagerConfig::default()
        },
    );
    let mut mgr_rx = client.events();
    let (w_tx, mut w_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let writer_task = AbortOnDrop(tokio::spawn(writer(
        client.clone(),
        args.wait,
        stop_rx,
        w_tx,
    )));

    // (write index, when it was acknowledged)
    let mut acked: Vec<(u64, Instant)> = Vec::new();
    let mut last_ack_before = Instant::now();
    let mut failed = 0u64;
    let mut last_error: Option<String> = None;
    let mut unconfirmed = 0u64;
    let warm = Instant::now();
    while acked.len() < 50 {
        match tokio::time::timeout(Duration::from_secs(10), w_rx.recv()).await {
            Ok(Some(w)) if w.ok => {
                acked.push((w.i, w.at));
                last_ack_before = w.at;
            }
            Ok(Some(w)) => {
                return Err(format!(
                    "writes through discovery fail before any failure was injected: {}",
                    w.error.unwrap_or_default()
                ))
            }
            _ => return Err("writes through discovery do not complete".into()),
        }
    }
    out.line(format!(
        "client: {} writes acknowledged by {old_master} in {:.2}s (SET demo:<i> <i>{})",
        acked.len(),
        warm.elapsed().as_secs_f64(),
        if args.wait > 0 {
            format!(", each confirmed by WAIT {}", args.wait)
        } else {
            String::new()
        }
    ));
    // Subscriptions are up by now (they connected while the client warmed up).

    // 3. Kill the master and follow what happens.
    let mut tl = Timeline::new();
    let t_kill = Instant::now();
    tl.kill = Some(t_kill);
    topo.kill(m);
    out.line(format!(
        "killed the master {old_master} (SIGKILL); timeline, in seconds since the kill:"
    ));
    let e = tl.note(t_kill, "kill", "master killed", &old_master.to_string());
    out.line(format_entry(&e));
    let failover_deadline =
        t_kill + args.down_after + args.failover_timeout + Duration::from_secs(20);
    let mut resumed: Option<(Instant, Addr)> = None;
    let mut after_done: Option<Instant> = None;
    loop {
        tokio::select! {
            Some(ev) = ev_rx.recv() => {
                if let Some(e) = tl.sentinel_event(ev.at, &ev.sentinel.port.to_string(), &ev.channel, &ev.payload) {
                    out.line(format_entry(&e));
                }
            }
            Ok(me) = mgr_rx.recv() => {
                let now = Instant::now();
                let e = match me {
                    ManagerEvent::Dropped { addr, reason } => Some(tl.note(now, "client", "client dropped its master connection", &format!("{addr}: {reason}"))),
                    ManagerEvent::Connected { addr, .. } if addr != old_master => Some(tl.note(now, "client", "client resolved the new master", &addr.to_string())),
                    _ => None,
                };
                if let Some(e) = e { out.line(format_entry(&e)); }
            }
            Some(w) = w_rx.recv() => {
                if w.ok {
                    acked.push((w.i, w.at));
                    if w.at <= t_kill {
                        last_ack_before = last_ack_before.max(w.at);
                    } else if resumed.is_none() && w.master.as_ref().is_some_and(|a| *a != old_master) {
                        let a = w.master.clone().unwrap_or_else(|| old_master.clone());
                        let gap = w.at.duration_since(last_ack_before);
                        let e = tl.note(w.at, "client", "writes resume", &format!("on {a} (write gap {:.3}s)", gap.as_secs_f64()));
                        out.line(format_entry(&e));
                        resumed = Some((w.at, a));
                    }
                } else if w.unconfirmed {
                    unconfirmed += 1;
                } else {
                    failed += 1;
                    last_error = w.error;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                if resumed.is_none() {
                    out.progress("waiting for the failover", t_kill);
                }
            }
        }
        if after_done.is_none() && resumed.is_some() && tl.first("+switch-master").is_some() {
            after_done = Some(Instant::now());
        }
        // Once the switch is seen and writes resumed, keep writing a little longer.
        if after_done.is_some_and(|t| t.elapsed() > Duration::from_millis(300)) {
            break;
        }
        if Instant::now() > failover_deadline {
            out.clear();
            return Err(format!(
                "no completed failover within {:?} of the kill (switch-master seen: {}, writes resumed: {}; last client error: {})",
                failover_deadline - t_kill,
                tl.first("+switch-master").is_some(),
                resumed.is_some(),
                last_error.as_deref().unwrap_or("none")
            ));
        }
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer_task.join()).await;
    while let Ok(w) = w_rx.try_recv() {
        if w.ok {
            acked.push((w.i, w.at));
        } else if w.unconfirmed {
            unconfirmed += 1;
        } else {
            failed += 1;
        }
    }
    let (t_resume, new_master) = resumed.ok_or("writes never resumed")?;

    // 4. Every acknowledged write must be on the new master.
    let cfg = ManagerConfig::default();
    let mut conn = connect_node(&new_master, &cfg)
        .await
        .map_err(|e| format!("cannot connect to the new master {new_master}: {e}"))?;
    let mut lost: Vec<(u64, Instant)> = Vec::new();
    for chunk in acked.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(|(i, _)| format!("demo:{i}")).collect();
        let vals: Vec<Option<u64>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("MGET on the new master failed: {e}"))?;
        lost.extend(
            chunk
                .iter()
                .zip(vals)
                .filter(|((i, _), v)| *v != Some(*i))
                .map(|(w, _)| *w),
        );
    }
    out.line(format!(
        "checked {} acknowledged writes on the new master {new_master}: {} missing",
        acked.len(),
        lost.len()
    ));
    for (i, at) in lost.iter().take(10) {
        out.line(format!(
            "  missing demo:{i}, acknowledged {:+.3}s from the kill",
            tl.rel_ms(*at) as f64 / 1000.0
        ));
    }

    // 5. Restart the old master: the sentinels must turn it into a replica.
    topo.restart(m).await?;
    let t_restart = Instant::now();
    let e = tl.note(
        t_restart,
        "restart",
        "old master restarted",
        &old_master.to_string(),
    );
    out.line(format_entry(&e));
    let rejoin_deadline = t_restart + Duration::from_secs(45);
    let mut rejoined: Option<Instant> = None;
    let mut next_check = Instant::now();
    while rejoined.is_none() && Instant::now() < rejoin_deadline {
        tokio::select! {
            Some(ev) = ev_rx.recv() => {
                if let Some(e) = tl.sentinel_event(ev.at, &ev.sentinel.port.to_string(), &ev.channel, &ev.payload) {
                    out.line(format_entry(&e));
                }
            }
            _ = tokio::time::sleep_until(next_check.into()) => {
                next_check = Instant::now() + Duration::from_millis(200);
                out.progress("waiting for the old master to become a replica", t_restart);
                if let Some(info) = query(&old_master, &["INFO", "replication"]).await.and_then(|f| f.as_text()) {
                    if info_field(&info, "role").as_deref() == Some("slave")
                        && info_field(&info, "master_port").as_deref() == Some(new_master.port.to_string().as_str())
                        && info_field(&info, "master_link_status").as_deref() == Some("up")
                    {
                        let now = Instant::now();
                        rejoined = Some(now);
                        let e = tl.note(now, "rejoined", "old master is a replica of the new master, in sync", &old_master.to_string());
                        out.line(format_entry(&e));
                    }
                }
            }
        }
    }
    out.clear();
    drop(client);

    // 6. Summary.
    let failover_ms = tl.first("+switch-master");
    let gap = t_resume.duration_since(last_ack_before);
    let ok = lost.is_empty() && rejoined.is_some();
    let summary = json!({
        "ok": ok,
        "binaries": topo.flavor.label(),
        "replicas": args.replicas,
        "sentinels": args.sentinels,
        "down_after_ms": ms(args.down_after),
        "old_master": old_master.to_string(),
        "new_master": new_master.to_string(),
        "switch_master_ms": failover_ms,
        "odown_ms": tl.first("+odown"),
        "promoted_ms": tl.first("+promoted-slave"),
        "writes_resumed_ms": ms(t_resume.duration_since(t_kill)),
        "write_gap_ms": ms(gap),
        "writes_acknowledged": acked.len(),
        "writes_lost": lost.len(),
        "lost_sample": lost
            .iter()
            .take(10)
            .map(|(i, at)| json!({"write": i, "acked_ms": tl.rel_ms(*at)}))
            .collect::<Vec<_>>(),
        "write_errors": failed,
        "wait_replicas": args.wait,
        "writes_unconfirmed": unconfirmed,
        "old_master_rejoined": rejoined.is_some(),
        "rejoin_ms": rejoined.map(|t| ms(t.duration_since(t_restart))),
        "dir": topo.dir.display().to_string(),
        "kept": args.keep,
        "pids": topo.pids(),
        "sentinel_addrs": sentinels.iter().map(Addr::to_string).collect::<Vec<_>>(),
        "timeline": tl.entries,
    });
    if args.json {
        println!("{summary}");
    } else {
        let secs = |v: Option<i64>| {
            v.map(|m| format!("{:.2}s", m as f64 / 1000.0))
                .unwrap_or_else(|| "not seen".into())
        };
        out.line("summary:");
        out.line(format!(
            "  failover (kill -> +switch-master)        {}",
            secs(failover_ms)
        ));
        out.line(format!(
            "  client writes resumed after the kill     {:.2}s (gap since the last write before it {:.2}s)",
            t_resume.duration_since(t_kill).as_secs_f64(),
            gap.as_secs_f64()
        ));
        out.line(format!(
            "  writes acknowledged {}, lost {}, failed {}{}",
            acked.len(),
            lost.len(),
            failed,
            if args.wait > 0 {
                format!(
                    ", accepted but not confirmed by WAIT {} (not counted): {unconfirmed}",
                    args.wait
                )
            } else {
                String::new()
            }
        ));
        out.line(format!(
            "  master {old_master} -> {new_master}; old master {}",
            match rejoined {
                Some(t) => format!(
                    "back as a replica {:.1}s after its restart",
                    t.duration_since(t_restart).as_secs_f64()
                ),
                None => "did NOT become a replica within 45s".into(),
            }
        ));
        out.line(if ok {
            "  result: OK, every acknowledged write is on the new master".to_string()
        } else {
            "  result: FAILED (see above)".to_string()
        });
    }
    if args.keep {
        keep_instructions(topo, &new_master, &sentinels, out);
    }
    if !ok {
        return Err(if lost.is_empty() {
            "the old master did not rejoin as a replica".into()
        } else {
            format!(
                "{} acknowledged writes are missing on the new master",
                lost.len()
            )
        });
    }
    Ok(())
}

fn keep_instructions(topo: &Topology, master: &Addr, sentinels: &[Addr], out: &Out) {
    let s = &sentinels[0];
    let list = sentinels
        .iter()
        .map(|a| format!("('{}', {})", a.host, a.port))
        .collect::<Vec<_>>()
        .join(", ");
    let pids = topo
        .pids()
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let dir: PathBuf = topo.dir.clone();
    out.line(format!(
        "the topology keeps running (logs and configs in {}):",
        dir.display()
    ));
    out.line(format!("  redis-cli -p {} SET hello world", master.port));
    out.line(format!(
        "  redis-cli -p {} SENTINEL GET-MASTER-ADDR-BY-NAME {NAME}",
        s.port
    ));
    out.line(format!(
        "  {} discover --sentinel {} --name {NAME} --replicas --watch",
        std::env::args().next().unwrap_or_else(|| "vigil".into()),
        sentinels
            .iter()
            .map(Addr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    ));
    out.line(format!(
        "  python3 -c \"from redis.sentinel import Sentinel; s = Sentinel([{list}]); m = s.master_for('{NAME}'); m.set('hello', 'world'); print(m.get('hello'))\""
    ));
    out.line(format!(
        "stop it with: kill {pids}; rm -rf {}",
        dir.display()
    ));
}

/// Aborts a task when dropped (so an interrupted demo leaves no task behind).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    async fn join(mut self) {
        let _ = (&mut self.0).await;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
