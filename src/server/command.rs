//! The command table and the dispatcher.
//!
//! Every command is a [`Command`] entry (name, arity, flags, key positions, handler)
//! declared by its family module under `commands/`. Flags drive every cross-cutting
//! rule in [`dispatch`], in redis-server's order of checks (server.md §0): unknown
//! command, arity, DEBUG gate, auth, MULTI restrictions, NOREPLICAS, write fencing
//! (Vigil's own, off by default), READONLY,
//! subscribed mode, MASTERDOWN, LOADING, CLIENT PAUSE, queueing. [`call`] runs the handler and feeds
//! executed writes to the replication stream exactly once.

use super::client::Client;
use super::state::State;
use crate::resp::Frame;
use bytes::Bytes;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

pub type Handler = fn(&mut Ctx, &[&[u8]]) -> Frame;

pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const ADMIN: u32 = 1 << 2;
    pub const PUBSUB: u32 = 1 << 3;
    pub const NOSCRIPT: u32 = 1 << 4;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 5;
    /// Allowed on a stale replica (link down, replica-serve-stale-data no).
    pub const STALE: u32 = 1 << 6;
    /// Allowed before AUTH.
    pub const NO_AUTH: u32 = 1 << 7;
    /// Refused inside MULTI.
    pub const NO_MULTI: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const DENYOOM: u32 = 1 << 10;
    pub const BLOCKING: u32 = 1 << 11;
    /// Allowed in RESP2 subscribed mode.
    pub const SUBSCRIBED_OK: u32 = 1 << 12;
    /// Not queued by MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    pub const NO_QUEUE: u32 = 1 << 13;
    /// May propagate even though it is not a write (e.g. PUBLISH is not propagated in
    /// 7.0 standalone; kept for completeness).
    pub const MAY_REPLICATE: u32 = 1 << 14;
    /// Not logged by SLOWLOG (EXEC: the commands it runs are).
    pub const SKIP_SLOWLOG: u32 = 1 << 15;
}

/// A command table entry.
pub struct Command {
    /// Lower-case name (for subcommands, the subcommand alone).
    pub name: &'static str,
    /// `arity > 0`: exact argc; `arity < 0`: at least `-arity`.
    pub arity: i32,
    pub flags: u32,
    /// Key positions: first, last (negative counts from the end), step. 0 = no keys.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub handler: Handler,
    /// Subcommands of a container command (CLIENT, CONFIG...).
    pub subcommands: &'static [Command],
}

impl Command {
    pub const fn new(name: &'static str, arity: i32, flags: u32, handler: Handler) -> Command {
        Command {
            name,
            arity,
            flags,
            first_key: 0,
            last_key: 0,
            step: 0,
            handler,
            subcommands: &[],
        }
    }

    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Command {
        self.first_key = first;
        self.last_key = last;
        self.step = step;
        self
    }

    pub const fn subs(mut self, subs: &'static [Command]) -> Command {
        self.subcommands = subs;
        self
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Key arguments of a call (for WATCH-like uses and COMMAND GETKEYS).
    pub fn key_args<'a>(&self, argv: &[&'a [u8]]) -> Vec<&'a [u8]> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 {
            argv.len() as i32 + self.last_key
        } else {
            self.last_key
        };
        let mut out = Vec::new();
        let mut i = self.first_key;
        while i <= last && (i as usize) < argv.len() {
            out.push(argv[i as usize]);
            i += self.step.max(1);
        }
        out
    }
}

/// How a write is propagated to replicas.
pub enum Propagation {
    /// As executed (the default for write commands that changed the dataset).
    AsIs,
    /// Not at all.
    Nothing,
    /// These commands instead (SPOP → SREM, EXPIRE → PEXPIREAT, ...).
    Rewritten(Vec<Vec<Bytes>>),
}

/// What a blocking command waits for.
pub struct BlockOn {
    pub keys: Vec<Bytes>,
    /// Absolute deadline; `None` waits forever.
    pub deadline: Option<std::time::Instant>,
    /// Reply when the deadline passes.
    pub timeout_reply: Frame,
}

/// Taking over a connection (a replica after PSYNC): gets the socket and any bytes
/// read but not parsed.
pub type Handoff = Box<
    dyn FnOnce(tokio::net::TcpStream, bytes::BytesMut) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send,
>;

/// Everything a handler can see and do.
pub struct Ctx<'a> {
    pub state: &'a mut State,
    pub client: &'a mut Client,
    /// Wall clock (unix ms) at the start of the call, used for expiry.
    pub now_ms: i64,
    pub propagation: Propagation,
    /// Set by a blocking command that found nothing to pop.
    pub block: Option<BlockOn>,
    /// Set by PSYNC/SYNC: the connection becomes a replica link after this reply.
    pub handoff: Option<Handoff>,
    /// Whether this call runs inside EXEC (blocking commands then do not block).
    pub in_exec: bool,
}

impl<'a> Ctx<'a> {
    /// The client's selected database.
    pub fn db(&mut self) -> &mut super::db::Db {
        let i = self.client.db;
        &mut self.state.dbs[i]
    }

    /// Replace the propagated form of this call.
    pub fn propagate_as(&mut self, cmds: Vec<Vec<Bytes>>) {
        self.propagation = Propagation::Rewritten(cmds);
    }
}

// ---------------------------------------------------------------------------
// The table

/// FNV-1a: command names are short and trusted-size (≤ 64 bytes, checked in
/// `lookup`), so a simple hash beats SipHash on the per-request lookup.
#[derive(Default, Clone, Copy)]
pub struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf29ce484222325
        } else {
            self.0
        };
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        self.0 = h;
    }
}

pub type CommandTable =
    HashMap<&'static str, &'static Command, std::hash::BuildHasherDefault<NameHasher>>;

/// name → command, built once from every family's list.
pub fn table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = CommandTable::default();
        for family in super::commands::FAMILIES {
            for c in family.iter() {
                m.insert(c.name, c);
            }
        }
        m
    })
}

/// Look a command up case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    // Pipelines repeat a name spelled the same way: remember the last one found
    // (compared byte for byte, so a hit is exactly what the table returned for it).
    thread_local! {
        static LAST: std::cell::Cell<([u8; 16], usize, Option<&'static Command>)> =
            const { std::cell::Cell::new(([0; 16], 0, None)) };
    }
    let (bytes, len, cmd) = LAST.get();
    if cmd.is_some() && len == name.len() && bytes[..len] == *name {
        return cmd;
    }
    let found = lookup_table(name);
    if found.is_some() && name.len() <= 16 {
        let mut b = [0u8; 16];
        b[..name.len()].copy_from_slice(name);
        LAST.set((b, name.len(), found));
    }
    found
}

fn lookup_table(name: &[u8]) -> Option<&'static Command> {
    if name.len() > 64 {
        return None;
    }
    let mut buf = [0u8; 64];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower)
        .ok()
        .and_then(|s| table().get(s).copied())
}

/// Resolve a container's subcommand.
pub fn lookup_sub(cmd: &'static Command, sub: &[u8]) -> Option<&'static Command> {
    cmd.subcommands
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(sub))
}

/// `'a' 'b c' ` rendering of the first arguments (Redis truncates at 128 chars).
pub fn args_preview(args: &[&[u8]]) -> String {
    let mut s = String::new();
    for a in args {
        if s.len() >= 128 {
            break;
        }
        let room = 128 - s.len();
        let text = String::from_utf8_lossy(a);
        let t: String = text.chars().take(room).collect();
        s.push_str(&format!("'{t}' "));
    }
    s
}

fn truncate128(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned()
}

/// The result of looking up and checking a call.
enum Resolved {
    // The full name is borrowed for top-level commands: no allocation per call.
    Run(&'static Command, std::borrow::Cow<'static, str>),
    Reject(Frame),
}

fn resolve(argv: &[&[u8]]) -> Resolved {
    let Some(cmd) = lookup(argv[0]) else {
        return Resolved::Reject(Frame::err(format!(
            "unknown command '{}', with args beginning with: {}",
            truncate128(argv[0]),
            args_preview(&argv[1..])
        )));
    };
    let arity_ok = |c: &Command| {
        let n = argv.len() as i32;
        (c.arity > 0 && n == c.arity) || (c.arity < 0 && n >= -c.arity)
    };
    if !cmd.subcommands.is_empty() && argv.len() >= 2 {
        let Some(sub) = lookup_sub(cmd, argv[1]) else {
            return Resolved::Reject(Frame::err(format!(
                "unknown subcommand '{}'. Try {} HELP.",
                truncate128(argv[1]),
                cmd.name.to_ascii_uppercase()
            )));
        };
        let full: std::borrow::Cow<'static, str> = format!("{}|{}", cmd.name, sub.name).into();
        if !arity_ok(sub) {
            return Resolved::Reject(Frame::err(format!(
                "wrong number of arguments for '{full}' command"
            )));
        }
        return Resolved::Run(sub, full);
    }
    if !arity_ok(cmd) {
        return Resolved::Reject(Frame::err(format!(
            "wrong number of arguments for '{}' command",
            cmd.name
        )));
    }
    Resolved::Run(cmd, std::borrow::Cow::Borrowed(cmd.name))
}

/// Outcome of dispatching one request.
pub struct Outcome {
    pub reply: Frame,
    pub block: Option<BlockOn>,
    pub handoff: Option<Handoff>,
    /// The request, handed back when the command blocked (to run it again later),
    /// so the connection need not clone every request.
    pub argv: Option<Vec<Bytes>>,
}

impl Outcome {
    fn reply(reply: Frame) -> Outcome {
        Outcome {
            reply,
            block: None,
            handoff: None,
            argv: None,
        }
    }
}

const DEBUG_DENIED: &str = "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Run one request from a client, with every check in redis-server's order.
pub fn dispatch(state: &mut State, client: &mut Client, argv: &[&[u8]], now_ms: i64) -> Outcome {
    // A command postponed by a pause is back: let the next one in line go too.
    if let Some(generation) = client.postponed_gen.take() {
        super::pause::retrying(state, client.db, generation);
    }
    let (cmd, fullname) = match resolve(argv) {
        Resolved::Run(c, n) => (c, n),
        Resolved::Reject(e) => return reject(state, client, argv, e),
    };
    if fullname.starts_with("debug") {
        let gate = state.config.hot.debug_command.as_str();
        let local = client.addr.ip().is_loopback();
        if gate == "no" || (gate == "local" && !local) {
            return reject(state, client, argv, Frame::err(DEBUG_DENIED));
        }
    }
    if !client.authenticated && !cmd.has(flags::NO_AUTH) {
        return reject(
            state,
            client,
            argv,
            Frame::error("NOAUTH Authentication required."),
        );
    }
    if client.in_multi() && cmd.has(flags::NO_MULTI) {
        return reject(
            state,
            client,
            argv,
            Frame::err("Command not allowed inside a transaction"),
        );
    }
    let is_write = cmd.has(flags::WRITE);
    let queued = client.in_multi() && !cmd.has(flags::NO_QUEUE);
    if is_write && !client.is_master_link && !state.is_replica() {
        let min = state.config.hot.min_replicas_to_write;
        if min > 0
            && state
                .repl
                .good_replicas(state.config.hot.min_replicas_max_lag)
                < min
        {
            return reject(
                state,
                client,
                argv,
                Frame::error("NOREPLICAS Not enough good replicas to write."),
            );
        }
    }
    // Write fencing (vigil-fencing): where Redis checks min-replicas. EXEC counts
    // as a write when it would run one, as Redis does for NOREPLICAS.
    if state.config.hot.fencing
        && !client.is_master_link
        && (is_write || (cmd.name == "exec" && queued_write(client)))
        && super::fencing::fenced(state, std::time::Instant::now())
    {
        return reject(state, client, argv, Frame::error(super::fencing::FENCED));
    }
    if is_write
        && state.is_replica()
        && state.config.hot.replica_read_only
        && !client.is_master_link
    {
        return reject(
            state,
            client,
            argv,
            Frame::error("READONLY You can't write against a read only replica."),
        );
    }
    if client.proto == crate::resp::Proto::Resp2
        && client.subscriptions() > 0
        && !cmd.has(flags::SUBSCRIBED_OK)
    {
        return reject(
            state,
            client,
            argv,
            Frame::err(format!(
                "Can't execute '{fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            )),
        );
    }
    if state.is_replica()
        && !state.repl.link_up()
        && !state.config.hot.replica_serve_stale_data
        && !cmd.has(flags::STALE)
        && !client.is_master_link
    {
        return reject(
            state,
            client,
            argv,
            Frame::error(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            ),
        );
    }
    if state.loading && !cmd.has(flags::LOADING) {
        return reject(
            state,
            client,
            argv,
            Frame::error("LOADING Redis is loading the dataset in memory"),
        );
    }
    // CLIENT PAUSE and FAILOVER: postponed (blocked), not rejected; before queueing.
    if super::pause::must_postpone(state, client, cmd) {
        return super::pause::postpone(state, argv);
    }
    if queued {
        if let Some(q) = client.multi.as_mut() {
            q.push(owned_args(argv));
        }
        return Outcome::reply(Frame::simple("QUEUED"));
    }
    call(state, client, cmd, &fullname, argv, now_ms, false)
}

/// An owned copy of a request's arguments, for a request that outlives its network
/// buffer (queued by MULTI, blocked, postponed).
pub fn owned_args(argv: &[&[u8]]) -> Vec<Bytes> {
    argv.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

/// Borrowed views of owned arguments, the form handlers take.
pub fn arg_refs(argv: &[Bytes]) -> Vec<&[u8]> {
    argv.iter().map(|a| &a[..]).collect()
}

/// Whether a MULTI queue holds a write command.
fn queued_write(client: &Client) -> bool {
    client.multi.as_ref().is_some_and(|q| {
        q.iter().any(
            |argv| matches!(resolve(&arg_refs(argv)), Resolved::Run(c, _) if c.has(flags::WRITE)),
        )
    })
}

fn reject(state: &mut State, client: &mut Client, argv: &[&[u8]], e: Frame) -> Outcome {
    if client.in_multi() {
        let is_exec = argv[0].eq_ignore_ascii_case(b"exec");
        if is_exec {
            client.multi = None;
            client.multi_error = false;
            let text = match &e {
                Frame::Error(t) => t.clone(),
                _ => String::new(),
            };
            return Outcome::reply(Frame::error(format!(
                "EXECABORT Transaction discarded because of: {text}"
            )));
        }
        client.multi_error = true;
    }
    if let Frame::Error(t) = &e {
        state.stats.error_reply(t);
    }
    Outcome::reply(e)
}

/// Execute a resolved command: run the handler, then propagate what it wrote.
pub fn call(
    state: &mut State,
    client: &mut Client,
    cmd: &'static Command,
    fullname: &str,
    argv: &[&[u8]],
    now_ms: i64,
    in_exec: bool,
) -> Outcome {
    let dirty_before = state.dirty();
    let db_index = client.db;
    // One clock read per call: a call starts when the previous one in its batch ended.
    let started = state
        .clock_mark
        .take()
        .unwrap_or_else(std::time::Instant::now);
    let mut ctx = Ctx {
        state,
        client,
        now_ms,
        propagation: Propagation::AsIs,
        block: None,
        handoff: None,
        in_exec,
    };
    let reply = (cmd.handler)(&mut ctx, argv);
    let Ctx {
        propagation,
        block,
        handoff,
        state,
        client,
        ..
    } = ctx;
    let ended = std::time::Instant::now();
    let elapsed = ended.saturating_duration_since(started).as_micros() as u64;
    state.clock_mark = Some(ended);
    // Keys removed by lazy expiry are propagated as DEL before the command itself.
    // One pass over the databases: the dirty total and whether any has events.
    let (dirty_after, db_events) = state.dbs.iter().fold((0, false), |(d, e), db| {
        (d + db.dirty, e || db.has_events())
    });
    if db_events {
        propagate_expired(state, false);
    }
    let wrote = dirty_after != dirty_before;
    if block.is_none() {
        match propagation {
            Propagation::AsIs => {
                if wrote && cmd.has(flags::WRITE) {
                    state.repl.feed(db_index, argv);
                }
            }
            Propagation::Rewritten(cmds) => {
                for c in cmds {
                    state.repl.feed(db_index, &c);
                }
            }
            Propagation::Nothing => {}
        }
        if !in_exec {
            state.repl.flush_batch();
        }
        if wrote {
            client.woff = state.repl.master_repl_offset;
        }
        if db_events {
            wake_ready(state);
            invalidate_watchers(state);
        }
    }
    // Look the stat up by &str first: allocate its key only on a command's first call.
    let failed = reply.is_error();
    // LATENCY HISTOGRAM: a blocked command counts when it finally runs.
    let track = state.config.hot.latency_tracking && block.is_none();
    match state.stats.commands.get_mut(fullname) {
        Some(stat) => stat.bump(elapsed, failed, track),
        None => {
            let mut stat = super::stats::CommandStat::default();
            stat.bump(elapsed, failed, track);
            state.stats.commands.insert(fullname.to_string(), stat);
        }
    }
    if let Frame::Error(t) = &reply {
        state.stats.error_reply(t);
    }
    // A blocked command is logged when it finally runs.
    if elapsed >= state.config.hot.slowlog_slower_than && block.is_none() {
        let max_len = state.config.hot.slowlog_max_len;
        state.slowlog.push(cmd, client, argv, elapsed, max_len);
    }
    // Redis records whole milliseconds: elapsed/1000 >= threshold.
    if elapsed >= state.config.hot.latency_threshold_us && block.is_none() {
        let event = if cmd.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        state.latency.add(event, elapsed / 1000);
    }
    state.stats.total_commands_processed += 1;
    // MONITOR clients see every executed command except admin ones, like Redis.
    if !state.monitors.is_empty() && !cmd.has(flags::ADMIN) {
        super::commands::server::feed_monitors(state, client, argv);
    }
    let argv = block.is_some().then(|| owned_args(argv));
    Outcome {
        reply,
        block,
        handoff,
        argv,
    }
}

/// Feed DELs for keys that lazy or active expiry removed: lazy ones join the current
/// command's batch, active ones (`unwrapped`) go out on their own.
pub fn propagate_expired(state: &mut State, unwrapped: bool) {
    for i in 0..state.dbs.len() {
        if state.dbs[i].expired.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut state.dbs[i].expired);
        state.stats.expired_keys += keys.len() as u64;
        for k in keys {
            let del = [Bytes::from_static(b"DEL"), k];
            if unwrapped {
                state.repl.feed_unwrapped(i, &del);
            } else {
                state.repl.feed(i, &del);
            }
        }
    }
}

fn wake_ready(state: &mut State) {
    for i in 0..state.dbs.len() {
        if state.dbs[i].ready.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut state.dbs[i].ready);
        for k in keys {
            state.blocking.wake(i, &k);
        }
    }
}

fn invalidate_watchers(state: &mut State) {
    for i in 0..state.dbs.len() {
        if state.dbs[i].touched_clients.is_empty() {
            continue;
        }
        let ids = std::mem::take(&mut state.dbs[i].touched_clients);
        state.dirty_cas.extend(ids);
    }
}

/// Resolve a queued command again at EXEC time.
pub fn resolve_for_exec(argv: &[&[u8]]) -> Option<(&'static Command, String)> {
    match resolve(argv) {
        Resolved::Run(c, n) => Some((c, n.into_owned())),
        Resolved::Reject(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_whatever_was_looked_up_before() {
        for name in [
            &b"SET"[..],
            b"set",
            b"get",
            b"SET",
            b"Get",
            b"nosuch",
            b"GET",
            b"sEt",
        ] {
            let want = std::str::from_utf8(name).unwrap().to_ascii_lowercase();
            match lookup(name) {
                Some(c) => assert_eq!(c.name, want),
                None => assert_eq!(want, "nosuch"),
            }
        }
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(&[b'x'; 100]).is_none());
    }
}
