//! The Sentinel-style supervisor (`vigil sentinel sentinel.conf`): a drop-in for
//! `redis-sentinel`. The decisions live in the sans-IO [`machine::Machine`]; this
//! module is the tokio driver: it loads the config, serves clients on the sentinel
//! port, runs the links the machine asks for, ticks the machine, fans events out to
//! subscribers and the log, runs scripts, and rewrites the config file atomically
//! off the reactor (before the reply when the reply depends on it, e.g. a vote).

pub mod addr;
pub mod coalesce;
pub mod commands;
pub mod config;
pub mod events;
pub mod failover;
pub mod fencing;
pub mod hello;
pub mod info;
pub mod link;
pub mod machine;
pub mod sendbatch;
#[cfg(test)]
mod sim;
pub mod state;
pub mod ticker;

use crate::util::process::Supervision;
use bytes::BytesMut;
use commands::{ClientState, Ctx, Outgoing, ProcInfo, Registry, ScriptJob};
use events::Level;
use machine::{Action, LinkKey, Machine};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::resp::{Frame, Proto, RequestParser};

/// Where Redis-format log lines go.
struct Logger {
    out: Mutex<Box<dyn Write + Send>>,
    pid: u32,
}

impl Logger {
    fn line(&self, loglevel: &str, level: Level, msg: &str) {
        if !level.enabled(loglevel) {
            return;
        }
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut o = self.out.lock();
        let _ = writeln!(o, "{}", events::log_line(self.pid, ms, level, msg));
        let _ = o.flush();
    }
}

/// A link with commands queued in the current batch.
type LinkFlush = Arc<Mutex<link::LinkOut>>;

struct LinkHandle {
    conn: u64,
    /// Queued commands; written by [`Shared::pump`].
    out: Arc<Mutex<link::LinkOut>>,
    task: tokio::task::JoinHandle<()>,
}

/// State shared by the driver's tasks.
pub struct Shared {
    pub machine: Mutex<Machine>,
    pub reg: Mutex<Registry>,
    links: Mutex<HashMap<LinkKey, LinkHandle, state::FxBuild>>,
    /// The read sides of the connected links ([`link::read_links`]).
    readers: Mutex<link::Readers>,
    /// Writes everything queued for the links in one batch ([`sendbatch`]).
    sends: Mutex<sendbatch::SendBatch>,
    config_path: PathBuf,
    flush_lock: tokio::sync::Mutex<()>,
    flush_scheduled: AtomicBool,
    logger: Logger,
    /// Re-arms the timer sooner ([`Machine::wake_request`]).
    tick_wake: tokio::sync::Notify,
}

impl Shared {
    /// A link task reports that it is up.
    pub fn link_up(
        self: &Arc<Self>,
        key: &LinkKey,
        conn: u64,
        local_ip: Option<String>,
        peer_ip: Option<String>,
    ) {
        self.machine
            .lock()
            .handle_link_up(key, conn, local_ip, peer_ip, Instant::now());
        self.pump();
    }

    /// A link task reports that it failed.
    pub fn link_down(self: &Arc<Self>, key: &LinkKey, conn: u64, err: &str) {
        tracing::debug!(?key, err, "link down");
        self.machine
            .lock()
            .handle_link_down(key, conn, err, Instant::now());
        self.pump();
    }

    /// Drain the machine's actions and carry them out.
    pub fn pump(self: &Arc<Self>) {
        loop {
            let (mut actions, dirty, loglevel) = {
                let mut m = self.machine.lock();
                if m.wake_request(Instant::now()).is_some() {
                    self.tick_wake.notify_one();
                }
                let dirty = m.take_dirty();
                if m.io.actions.is_empty() && !dirty {
                    return;
                }
                // Only events and log lines need the log level.
                let logs =
                    m.io.actions
                        .iter()
                        .any(|a| matches!(a, Action::Event(_) | Action::Log(..) | Action::Exit(_)));
                let loglevel = if logs {
                    m.g.loglevel.clone()
                } else {
                    String::new()
                };
                (std::mem::take(&mut m.io.actions), dirty, loglevel)
            };
            let mut flush = Vec::new();
            for a in actions.drain(..) {
                self.execute(a, &loglevel, &mut flush);
            }
            // Everything queued for a link in this batch goes out in one write.
            if !flush.is_empty() {
                coalesce::note_link_io();
            }
            let blocked = self.sends.lock().flush(&flush);
            for out in blocked {
                tokio::spawn(link::finish_write(self.clone(), Arc::downgrade(&out)));
            }
            // Hand the (empty) queue back so its capacity is reused.
            {
                let mut m = self.machine.lock();
                if m.io.actions.is_empty() {
                    m.io.actions = actions;
                }
            }
            if dirty {
                self.schedule_flush();
            }
        }
    }

    /// Carry out one action; links that got commands are added to `flush`.
    fn execute(self: &Arc<Self>, a: Action, loglevel: &str, flush: &mut Vec<LinkFlush>) {
        match a {
            Action::Connect {
                link,
                conn,
                ip,
                port,
                setup,
            } => {
                let out = Arc::new(Mutex::new(link::LinkOut::new(link.clone(), conn)));
                let task = tokio::spawn(link::run_link(
                    self.clone(),
                    link.clone(),
                    conn,
                    (ip, port),
                    setup,
                    out.clone(),
                ));
                let handle = LinkHandle { conn, out, task };
                let old = self.links.lock().insert(link, handle);
                if let Some(old) = old {
                    self.drop_link(old);
                }
            }
            Action::Send {
                link,
                conn,
                cmd,
                tag,
            } => {
                if let Some(h) = self.links.lock().get(&link) {
                    if h.conn == conn {
                        let mut o = h.out.lock();
                        o.queue(&cmd, tag);
                        if !o.dirty {
                            o.dirty = true;
                            flush.push(h.out.clone());
                        }
                    }
                }
            }
            Action::Close { link } => {
                let old = self.links.lock().remove(&link);
                if let Some(old) = old {
                    self.drop_link(old);
                }
            }
            Action::Event(e) => {
                tracing::debug!(event = %e.kind, text = %e.text, "sentinel event");
                self.logger
                    .line(loglevel, e.level, &format!("{} {}", e.kind, e.text));
                if e.level != Level::Debug {
                    self.reg.lock().publish(&e.kind, &e.text);
                }
                if let Some(script) = e.script {
                    self.run_script(vec![script, e.kind.clone(), e.text.clone()]);
                }
            }
            Action::Log(level, msg) => self.logger.line(loglevel, level, &msg),
            Action::ReconfigScript { path, args } => {
                let mut argv = vec![path];
                argv.extend(args);
                self.run_script(argv);
            }
            Action::Exit(code) => {
                self.logger
                    .line(loglevel, Level::Warning, "Simulated failure: exiting");
                std::process::exit(code);
            }
        }
    }

    /// Stop a link: its task (if still connecting) and its read side.
    fn drop_link(&self, h: LinkHandle) {
        h.task.abort();
        let token = h.out.lock().token.take();
        if let Some(t) = token {
            self.readers.lock().remove(t);
        }
    }

    /// Rewrite the config file in the background (coalesced).
    fn schedule_flush(self: &Arc<Self>) {
        if self.flush_scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.flush_scheduled.store(false, Ordering::SeqCst);
            if let Err(e) = me.flush_now().await {
                me.logger
                    .line("notice", Level::Warning, &format!("WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"));
            }
        });
    }

    /// Render the current state and write it durably; returns once it is on disk.
    pub async fn flush_now(self: &Arc<Self>) -> std::io::Result<()> {
        let _guard = self.flush_lock.lock().await;
        let state = {
            let mut m = self.machine.lock();
            m.take_dirty();
            config::render_state(&m.g, &m.masters)
        };
        let path = self.config_path.clone();
        tokio::task::spawn_blocking(move || {
            let existing = std::fs::read_to_string(&path)?;
            let text = config::merge(&existing, &state);
            crate::util::fsutil::write_atomic(&path, text.as_bytes())
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
    }

    /// Run a script off the reactor with Redis's retry and timeout rules: exit code 1
    /// or a signal is retried with a doubling delay (at most 10 runs); exit ≥ 2 is a
    /// `-script-error`; a run longer than script-max-runtime is killed
    /// (`-script-timeout`). At most 256 jobs are kept.
    fn run_script(self: &Arc<Self>, argv: Vec<String>) {
        {
            let mut reg = self.reg.lock();
            if reg.scripts.len() >= 256 {
                if let Some(pos) = reg.scripts.iter().position(|j| !j.running) {
                    reg.scripts.remove(pos);
                } else {
                    return;
                }
            }
            reg.scripts.push(ScriptJob {
                argv: argv.clone(),
                running: false,
                pid: 0,
                start: Instant::now(),
                retry_num: 0,
            });
        }
        let me = self.clone();
        tokio::spawn(async move {
            let (max_rt, retry_delay) = {
                let m = me.machine.lock();
                (m.t.script_max_runtime, m.t.script_retry_delay)
            };
            let set = |running: bool, pid: u32, retry: u32| {
                let mut reg = me.reg.lock();
                if let Some(j) = reg.scripts.iter_mut().find(|j| j.argv == argv) {
                    j.running = running;
                    j.pid = pid;
                    j.retry_num = retry;
                    j.start = Instant::now();
                }
            };
            let mut retry = 0u32;
            loop {
                let child = tokio::process::Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .spawn();
                let mut child = match child {
                    Ok(c) => c,
                    Err(_) => {
                        me.emit_plain(Level::Warning, "-script-error", format!("{} 99 0", argv[0]));
                        break;
                    }
                };
                set(true, child.id().unwrap_or(0), retry);
                let status = tokio::time::timeout(max_rt, child.wait()).await;
                let retryable = match status {
                    Err(_) => {
                        let pid = child.id().unwrap_or(0);
                        let _ = child.kill().await;
                        me.emit_plain(
                            Level::Warning,
                            "-script-timeout",
                            format!("{} {pid}", argv[0]),
                        );
                        false
                    }
                    Ok(Err(_)) => false,
                    Ok(Ok(st)) => {
                        use std::os::unix::process::ExitStatusExt;
                        let code = st.code().unwrap_or(0);
                        let sig = st.signal().unwrap_or(0);
                        if sig != 0 || code == 1 {
                            true
                        } else {
                            if code >= 2 {
                                me.emit_plain(
                                    Level::Warning,
                                    "-script-error",
                                    format!("{} {sig} {code}", argv[0]),
                                );
                            }
                            false
                        }
                    }
                };
                retry += 1;
                if !retryable || retry >= 10 {
                    break;
                }
                set(false, 0, retry);
                tokio::time::sleep(retry_delay * (1u32 << (retry - 1).min(10))).await;
            }
            let mut reg = me.reg.lock();
            if let Some(pos) = reg.scripts.iter().position(|j| j.argv == argv) {
                reg.scripts.remove(pos);
            }
        });
    }

    fn emit_plain(self: &Arc<Self>, level: Level, kind: &str, text: String) {
        self.machine
            .lock()
            .io
            .event(events::plain_event(level, kind, text));
        self.pump();
    }
}

/// Entry point of `vigil sentinel <sentinel.conf> [--directive value ...]`.
pub fn main(args: Vec<String>) -> Result<(), String> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let Some(path) = args.first() else {
        return Err("Sentinel needs config file on disk to save state. Exiting...".into());
    };
    let mut extra = Vec::new();
    let mut cur: Option<String> = None;
    for a in &args[1..] {
        if let Some(d) = a.strip_prefix("--") {
            if let Some(c) = cur.take() {
                extra.push(c);
            }
            cur = Some(d.to_string());
        } else if let Some(c) = cur.as_mut() {
            c.push(' ');
            c.push_str(&config::quote(a));
        } else {
            return Err(format!("unexpected argument '{a}'"));
        }
    }
    if let Some(c) = cur.take() {
        extra.push(c);
    }
    let config_path = std::fs::canonicalize(path)
        .map_err(|e| format!("Sentinel config file {path} does not exist: {e}"))?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&config_path)
        .map_err(|e| format!("Sentinel config file {path} is not writable: {e}. Exiting..."))?;
    let text = std::fs::read_to_string(&config_path).map_err(|e| format!("{path}: {e}"))?;
    let now = Instant::now();
    let loaded = config::parse(path, &text, &extra, &state::Timers::default(), now)?;
    let supervision = Supervision::resolve(&loaded.process.supervised);
    if loaded.process.daemonize && supervision == Supervision::No {
        crate::util::process::daemonize()?;
    }
    if let Some(dir) = &loaded.process.dir {
        std::env::set_current_dir(dir).map_err(|e| format!("Can't chdir to '{dir}': {e}"))?;
    }
    let out: Box<dyn Write + Send> = match &loaded.process.logfile {
        Some(f) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .map_err(|e| format!("Can't open the log file {f}: {e}"))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    if let Some(p) = &loaded.process.pidfile {
        let _ = std::fs::write(p, format!("{}\n", std::process::id()));
    }
    let bind = if loaded.process.bind.is_empty() {
        vec!["0.0.0.0".to_string()]
    } else {
        loaded
            .process
            .bind
            .iter()
            .map(|b| b.trim_start_matches('-').to_string())
            .map(|b| if b == "*" { "0.0.0.0".to_string() } else { b })
            .collect()
    };
    let port = loaded.global.port;
    let new_myid = loaded.new_myid;
    let myid = loaded.global.myid.clone();
    let seed: u64 = rand::random();
    let mut machine = Machine::new(loaded.global, loaded.masters, seed);
    let pid = std::process::id();
    let proc = ProcInfo {
        pid,
        run_id: crate::util::ids::random_hex40(),
        started: now,
        config_file: config_path.display().to_string(),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        supervision,
    };
    machine.start();
    let shared = Arc::new(Shared {
        machine: Mutex::new(machine),
        reg: Mutex::new(Registry::new(proc)),
        links: Mutex::new(HashMap::default()),
        readers: Mutex::new(link::Readers::new().map_err(|e| format!("epoll: {e}"))?),
        sends: Mutex::new(sendbatch::SendBatch::new()),
        config_path,
        flush_lock: tokio::sync::Mutex::new(()),
        flush_scheduled: AtomicBool::new(false),
        tick_wake: tokio::sync::Notify::new(),
        logger: Logger {
            out: Mutex::new(out),
            pid,
        },
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(coalesce::before_park)
        .on_thread_unpark(coalesce::after_unpark)
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let mut listeners = Vec::new();
        for b in &bind {
            let l = TcpListener::bind((b.as_str(), port)).await.map_err(|e| {
                format!("Could not create server TCP listening socket {b}:{port}: {e}")
            })?;
            listeners.push(l);
        }
        if new_myid {
            shared
                .flush_now()
                .await
                .map_err(|e| format!("Sentinel was not able to save the new id on disk: {e}"))?;
        }
        let loglevel = shared.machine.lock().g.loglevel.clone();
        shared.logger.line(
            &loglevel,
            Level::Notice,
            &format!("Running mode=sentinel, port={port}."),
        );
        shared
            .logger
            .line(&loglevel, Level::Notice, &format!("Sentinel ID is {myid}"));
        supervision.ready();
        tokio::spawn(link::read_links(shared.clone()));
        shared.pump();
        for l in listeners {
            let sh = shared.clone();
            tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((stream, peer)) => {
                            tokio::spawn(serve_client(sh.clone(), stream, peer.to_string()));
                        }
                        Err(e) => {
                            tracing::warn!(%e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            });
        }
        let ticker = shared.clone();
        tokio::spawn(async move {
            let mut timer = ticker::Ticker::start();
            loop {
                link::drain_lazy(&ticker);
                let mut next = {
                    let mut m = ticker.machine.lock();
                    let now = Instant::now();
                    m.handle_tick(now);
                    m.poll_timeout(now)
                };
                ticker.pump();
                loop {
                    tokio::select! {
                        _ = timer.sleep_until(next) => break,
                        _ = ticker.tick_wake.notified() => {
                            // The marks it slept on changed (`Machine::wake_request`).
                            if let Some(soon) = ticker.machine.lock().sleep_until() {
                                next = next.min(soon);
                            }
                        }
                    }
                }
            }
        });
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        shared.logger.line(
            &loglevel,
            Level::Warning,
            "Received shutdown signal, scheduling shutdown...",
        );
        supervision.stopping();
        let _ = shared.flush_now().await;
        shared.logger.line(
            &loglevel,
            Level::Warning,
            "Sentinel is now ready to exit, bye bye...",
        );
        Ok::<(), String>(())
    })
}

/// Count a write to a client (INFO's `total_net_output_bytes`, `total_writes_processed`).
fn written(shared: &Shared, bytes: usize) {
    let mut reg = shared.reg.lock();
    reg.net_output += bytes as u64;
    reg.writes += 1;
}

/// Serve one client connection on the sentinel port.
async fn serve_client(shared: Arc<Shared>, stream: TcpStream, peer: String) {
    let _ = stream.set_nodelay(true);
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let id = {
        let mut reg = shared.reg.lock();
        reg.next_id += 1;
        reg.total_connections += 1;
        let id = reg.next_id;
        let now = Instant::now();
        reg.clients.insert(
            id,
            ClientState {
                id,
                addr: peer,
                laddr,
                name: String::new(),
                proto: Proto::Resp2,
                authenticated: false,
                user: "default".into(),
                channels: Default::default(),
                patterns: Default::default(),
                created: now,
                last_active: now,
                last_cmd: "NULL".into(),
                lib_name: String::new(),
                lib_ver: String::new(),
                tx,
            },
        );
        id
    };
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(4096);
    let mut parser = RequestParser::default();
    'conn: loop {
        tokio::select! {
            r = rd.read_buf(&mut buf) => {
                let n = match r {
                    Ok(0) | Err(_) => break 'conn,
                    Ok(n) => n,
                };
                {
                    let mut reg = shared.reg.lock();
                    reg.net_input += n as u64;
                    reg.reads += 1;
                }
                coalesce::note_client_io();
                // Replies to everything parsed from this read go out in one write.
                let mut out = BytesMut::new();
                let mut close = false;
                loop {
                    let args = match parser.next(&mut buf) {
                        Ok(Some(a)) => a,
                        Ok(None) => break,
                        Err(e) => {
                            Frame::err(e.to_string()).encode(Proto::Resp2, &mut out);
                            close = true;
                            break;
                        }
                    };
                    let outcome = {
                        let mut m = shared.machine.lock();
                        let mut reg = shared.reg.lock();
                        let mut cx = Ctx { m: &mut m, reg: &mut reg, client: id, now: Instant::now() };
                        commands::execute(&mut cx, &args)
                    };
                    shared.pump();
                    let mut replies = outcome.replies;
                    if outcome.flush_before_reply {
                        if let Err(e) = shared.flush_now().await {
                            tracing::warn!(%e, "config flush failed");
                            if outcome.flush_reports_error {
                                replies = vec![Frame::err("Failed to save config file. Check server logs.")];
                            }
                        }
                    }
                    if outcome.shutdown {
                        let ll = shared.machine.lock().g.loglevel.clone();
                        shared.logger.line(&ll, Level::Warning, "User requested shutdown...");
                        let supervision = shared.reg.lock().proc.supervision;
                        supervision.stopping();
                        shared.logger.line(&ll, Level::Warning, "Sentinel is now ready to exit, bye bye...");
                        std::process::exit(0);
                    }
                    let proto = {
                        let mut reg = shared.reg.lock();
                        reg.error_replies += replies.iter().filter(|f| f.is_error()).count() as u64;
                        reg.clients.get(&id).map(|c| c.proto).unwrap_or_default()
                    };
                    for f in &replies {
                        f.encode(proto, &mut out);
                    }
                    if outcome.close {
                        close = true;
                        break;
                    }
                }
                if !out.is_empty() {
                    written(&shared, out.len());
                    if wr.write_all(&out).await.is_err() {
                        break 'conn;
                    }
                }
                if close {
                    break 'conn;
                }
            }
            msg = rx.recv() => {
                match msg {
                    Some(Outgoing::Frame(f)) => {
                        let proto = shared.reg.lock().clients.get(&id).map(|c| c.proto).unwrap_or_default();
                        let mut out = BytesMut::new();
                        f.encode(proto, &mut out);
                        // Batch whatever else is queued.
                        let mut close = false;
                        while let Ok(o) = rx.try_recv() {
                            match o {
                                Outgoing::Frame(f) => f.encode(proto, &mut out),
                                Outgoing::Close => {
                                    close = true;
                                    break;
                                }
                            }
                        }
                        written(&shared, out.len());
                        if wr.write_all(&out).await.is_err() || close {
                            break 'conn;
                        }
                    }
                    Some(Outgoing::Close) | None => break 'conn,
                }
            }
        }
    }
    shared.reg.lock().clients.remove(&id);
}
