//! The commands a sentinel answers on its port (Redis's sentinel command table:
//! AUTH, CLIENT, HELLO, PING, (P)SUBSCRIBE, (P)UNSUBSCRIBE, PUBLISH, SENTINEL, ACL,
//! COMMAND, INFO, ROLE, SHUTDOWN), replying in RESP2 or RESP3. Each command runs
//! against the [`Machine`] and the client registry; nothing here does IO.

use super::machine::{ms_since, Inst, Machine};
use super::state::{glob_match, nm, FailoverState, Instance, Kind, Master, Role};
use crate::resp::{Frame, Proto};
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Redis version we report (the one we mimic).
pub const REDIS_VERSION: &str = "7.0.15";

/// Something a client connection must receive besides replies.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Frame),
    Close,
}

/// One connected client.
pub struct ClientState {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: String,
    pub proto: Proto,
    pub authenticated: bool,
    pub user: String,
    pub channels: BTreeSet<String>,
    pub patterns: BTreeSet<String>,
    pub created: Instant,
    pub last_active: Instant,
    pub last_cmd: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub tx: tokio::sync::mpsc::UnboundedSender<Outgoing>,
}

impl ClientState {
    pub fn subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }
}

/// A pending or running script (for PENDING-SCRIPTS and INFO).
#[derive(Clone, Debug)]
pub struct ScriptJob {
    pub argv: Vec<String>,
    pub running: bool,
    pub pid: u32,
    pub start: Instant,
    pub retry_num: u32,
}

/// Process facts for INFO.
#[derive(Clone, Debug)]
pub struct ProcInfo {
    pub pid: u32,
    pub run_id: String,
    pub started: Instant,
    pub config_file: String,
    pub executable: String,
    /// How an init system supervises us (INFO's `process_supervised`).
    pub supervision: crate::util::process::Supervision,
}

/// Clients, ACL users, statistics and scripts, shared by all connections.
pub struct Registry {
    pub clients: HashMap<u64, ClientState>,
    pub next_id: u64,
    pub total_connections: u64,
    pub total_commands: u64,
    pub rejected_connections: u64,
    /// Bytes read from and written to clients, reads and writes done, error replies.
    pub net_input: u64,
    pub net_output: u64,
    pub reads: u64,
    pub writes: u64,
    pub error_replies: u64,
    /// INFO's instantaneous rates.
    pub rates: crate::util::rates::Rates,
    /// ACL users besides `default`: name → (enabled, password or None for nopass).
    pub users: HashMap<String, (bool, Option<String>)>,
    pub scripts: Vec<ScriptJob>,
    pub proc: ProcInfo,
}

impl Registry {
    pub fn new(proc: ProcInfo) -> Registry {
        Registry {
            clients: HashMap::new(),
            next_id: 0,
            total_connections: 0,
            total_commands: 0,
            rejected_connections: 0,
            net_input: 0,
            net_output: 0,
            reads: 0,
            writes: 0,
            error_replies: 0,
            rates: crate::util::rates::Rates::new(),
            users: HashMap::new(),
            scripts: Vec::new(),
            proc,
        }
    }

    /// Deliver an event published on `channel` to subscribers.
    pub fn publish(&self, channel: &str, msg: &str) -> usize {
        let mut n = 0;
        for c in self.clients.values() {
            if c.channels.contains(channel) {
                let f = Frame::Push(vec![
                    Frame::bulk_str("message"),
                    Frame::bulk_str(channel),
                    Frame::bulk_str(msg),
                ]);
                let _ = c.tx.send(Outgoing::Frame(f));
                n += 1;
            }
            for p in &c.patterns {
                if glob_match(p.as_bytes(), channel.as_bytes(), false) {
                    let f = Frame::Push(vec![
                        Frame::bulk_str("pmessage"),
                        Frame::bulk_str(p),
                        Frame::bulk_str(channel),
                        Frame::bulk_str(msg),
                    ]);
                    let _ = c.tx.send(Outgoing::Frame(f));
                    n += 1;
                }
            }
        }
        n
    }
}

/// What the connection must do after a command.
#[derive(Debug, Default)]
pub struct Outcome {
    pub replies: Vec<Frame>,
    pub close: bool,
    pub shutdown: bool,
    /// The reply must wait until the config file is durably written (a vote,
    /// FLUSHCONFIG, MONITOR...). `FLUSHCONFIG` reports a failure with this set too.
    pub flush_before_reply: bool,
    /// `SENTINEL FLUSHCONFIG`: answer an error when the write fails.
    pub flush_reports_error: bool,
}

impl Outcome {
    fn one(f: Frame) -> Outcome {
        Outcome {
            replies: vec![f],
            ..Default::default()
        }
    }
}

/// Everything a command may touch.
pub struct Ctx<'a> {
    pub m: &'a mut Machine,
    pub reg: &'a mut Registry,
    pub client: u64,
    pub now: Instant,
}

fn s(a: &Bytes) -> String {
    String::from_utf8_lossy(a).into_owned()
}

fn bulk(v: impl AsRef<str>) -> Frame {
    Frame::bulk_str(v.as_ref())
}

fn arity_err(name: &str) -> Frame {
    Frame::err(format!("wrong number of arguments for '{name}' command"))
}

const NOT_INT: &str = "value is not an integer or out of range";

/// The sentinel's command table: name and arity (negative = at least).
const COMMANDS: [(&str, i64); 15] = [
    ("auth", -2),
    ("client", -2),
    ("hello", -1),
    ("ping", -1),
    ("psubscribe", -2),
    ("publish", 3),
    ("punsubscribe", -1),
    ("subscribe", -2),
    ("unsubscribe", -1),
    ("sentinel", -2),
    ("acl", -2),
    ("command", -1),
    ("info", -1),
    ("role", 1),
    ("shutdown", -1),
];

/// Commands that change nothing the timer's quiet marks depend on (peers send
/// PING and PUBLISH all the time; a PUBLISHed hello that changes something queues an
/// event or dirties the config, which voids the marks anyway).
fn leaves_marks(args: &[Bytes]) -> bool {
    const PLAIN: [&str; 12] = [
        "ping",
        "publish",
        "info",
        "role",
        "client",
        "hello",
        "auth",
        "command",
        "subscribe",
        "psubscribe",
        "unsubscribe",
        "punsubscribe",
    ];
    const SENTINEL: [&str; 10] = [
        "masters",
        "master",
        "replicas",
        "slaves",
        "sentinels",
        "get-master-addr-by-name",
        "is-master-down-by-addr",
        "myid",
        "ckquorum",
        "info-cache",
    ];
    let is = |a: &Bytes, list: &[&str]| list.iter().any(|c| a.eq_ignore_ascii_case(c.as_bytes()));
    match args {
        [first, ..] if is(first, &PLAIN) => true,
        [first, sub, ..] if first.eq_ignore_ascii_case(b"sentinel") => is(sub, &SENTINEL),
        _ => false,
    }
}

/// Execute one command. Any command that may change what the timer has to do
/// (timers, addresses, links, failover) voids the instances' quiet marks.
pub fn execute(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    let keep = leaves_marks(args);
    let before = (cx.m.io.actions.len(), cx.m.io.dirty);
    let out = execute_command(cx, args);
    if !keep || before != (cx.m.io.actions.len(), cx.m.io.dirty) {
        cx.m.invalidate_quiet();
    }
    out
}

fn execute_command(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    let Some(first) = args.first() else {
        return Outcome::default();
    };
    let name = s(first).to_ascii_lowercase();
    cx.reg.total_commands += 1;
    let (authenticated, subscribed, proto) = match cx.reg.clients.get_mut(&cx.client) {
        Some(c) => {
            c.last_cmd = full_name(&name, args);
            c.last_active = cx.now;
            (c.authenticated, c.subscribed(), c.proto)
        }
        None => return Outcome::default(),
    };
    if name == "quit" {
        return Outcome {
            replies: vec![Frame::ok()],
            close: true,
            ..Default::default()
        };
    }
    let Some(&(_, arity)) = COMMANDS.iter().find(|(n, _)| *n == name) else {
        let rest: Vec<String> = args[1..].iter().map(|a| format!("'{}' ", s(a))).collect();
        return Outcome::one(Frame::err(format!(
            "unknown command '{}', with args beginning with: {}",
            s(first),
            rest.concat()
        )));
    };
    let n = args.len() as i64;
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        return Outcome::one(arity_err(&name));
    }
    let needs_auth = cx.m.g.requirepass.is_some() && !authenticated;
    if needs_auth && name != "auth" && name != "hello" {
        return Outcome::one(Frame::error("NOAUTH Authentication required."));
    }
    if subscribed
        && proto == Proto::Resp2
        && !matches!(
            name.as_str(),
            "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" | "ping"
        )
    {
        return Outcome::one(Frame::err(format!(
            "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )));
    }
    match name.as_str() {
        "ping" => ping(cx, args, subscribed, proto),
        "auth" => auth(cx, args),
        "hello" => hello(cx, args),
        "client" => client(cx, args),
        "role" => Outcome::one(Frame::Array(vec![
            bulk("sentinel"),
            Frame::Array(cx.m.masters.keys().map(bulk).collect()),
        ])),
        "info" => info(cx, args),
        "subscribe" | "psubscribe" => subscribe(cx, args, name == "psubscribe"),
        "unsubscribe" | "punsubscribe" => unsubscribe(cx, args, name == "punsubscribe"),
        "publish" => publish(cx, args),
        "sentinel" => sentinel(cx, args),
        "acl" => acl(cx, args),
        "command" => command(args),
        "shutdown" => {
            let words: Vec<&[u8]> = args[1..].iter().map(|a| &a[..]).collect();
            match crate::server::commands::server::shutdown_args(&words) {
                Ok(_) => Outcome {
                    shutdown: true,
                    flush_before_reply: true,
                    ..Default::default()
                },
                Err(e) => Outcome::one(e),
            }
        }
        _ => Outcome::one(Frame::err("unknown command")),
    }
}

/// `PING [message]`: `+PONG`, or the message; `["pong", msg]` in RESP2 subscribed mode.
fn ping(_cx: &mut Ctx, args: &[Bytes], subscribed: bool, proto: Proto) -> Outcome {
    if args.len() > 2 {
        return Outcome::one(arity_err("ping"));
    }
    if subscribed && proto == Proto::Resp2 {
        let msg = args.get(1).cloned().unwrap_or_default();
        return Outcome::one(Frame::Array(vec![bulk("pong"), Frame::Bulk(msg)]));
    }
    match args.get(1) {
        Some(m) => Outcome::one(Frame::Bulk(m.clone())),
        None => Outcome::one(Frame::simple("PONG")),
    }
}

fn check_password(cx: &Ctx, user: &str, pass: &str) -> bool {
    if user == "default" {
        return match &cx.m.g.requirepass {
            Some(p) => p == pass,
            None => true,
        };
    }
    match cx.reg.users.get(user) {
        Some((true, None)) => true,
        Some((true, Some(p))) => p == pass,
        _ => false,
    }
}

/// `AUTH [user] password`.
fn auth(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    let (user, pass) = match args.len() {
        2 => {
            if cx.m.g.requirepass.is_none() {
                return Outcome::one(Frame::err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
            }
            ("default".to_string(), s(&args[1]))
        }
        3 => (s(&args[1]), s(&args[2])),
        _ => return Outcome::one(Frame::err("syntax error")),
    };
    if check_password(cx, &user, &pass) {
        if let Some(c) = cx.reg.clients.get_mut(&cx.client) {
            c.authenticated = true;
            c.user = user;
        }
        Outcome::one(Frame::ok())
    } else {
        Outcome::one(Frame::error(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ))
    }
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: switch protocol, reply with
/// the server map.
fn hello(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    let mut proto = None;
    let mut i = 1;
    if args.len() >= 2 {
        match s(&args[1]).parse::<i64>() {
            Ok(2) => proto = Some(Proto::Resp2),
            Ok(3) => proto = Some(Proto::Resp3),
            Ok(_) => return Outcome::one(Frame::error("NOPROTO unsupported protocol version")),
            Err(_) => {
                return Outcome::one(Frame::err(
                    "Protocol version is not an integer or out of range",
                ))
            }
        }
        i = 2;
    }
    let mut setname = None;
    while i < args.len() {
        let opt = s(&args[i]).to_ascii_lowercase();
        if opt == "auth" && i + 2 < args.len() {
            let (u, p) = (s(&args[i + 1]), s(&args[i + 2]));
            if !check_password(cx, &u, &p) {
                return Outcome::one(Frame::error(
                    "WRONGPASS invalid username-password pair or user is disabled.",
                ));
            }
            if let Some(c) = cx.reg.clients.get_mut(&cx.client) {
                c.authenticated = true;
                c.user = u;
            }
            i += 3;
        } else if opt == "setname" && i + 1 < args.len() {
            setname = Some(s(&args[i + 1]));
            i += 2;
        } else {
            return Outcome::one(Frame::err(format!("Syntax error in HELLO option '{opt}'")));
        }
    }
    let needs_auth = cx.m.g.requirepass.is_some()
        && !cx
            .reg
            .clients
            .get(&cx.client)
            .map(|c| c.authenticated)
            .unwrap_or(false);
    if needs_auth {
        return Outcome::one(Frame::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    let Some(c) = cx.reg.clients.get_mut(&cx.client) else {
        return Outcome::default();
    };
    if let Some(n) = setname {
        if !valid_client_name(&n) {
            return Outcome::one(Frame::err(
                "Client names cannot contain spaces, newlines or special characters.",
            ));
        }
        c.name = n;
    }
    if let Some(p) = proto {
        c.proto = p;
    }
    Outcome::one(Frame::Map(vec![
        (bulk("server"), bulk("redis")),
        (bulk("version"), bulk(REDIS_VERSION)),
        (bulk("proto"), Frame::Integer(c.proto.number())),
        (bulk("id"), Frame::Integer(c.id as i64)),
        // Redis leaves `role` out in sentinel mode.
        (bulk("mode"), bulk("sentinel")),
        (bulk("modules"), Frame::Array(vec![])),
    ]))
}

/// Redis 7.0's error for a subcommand of `container` that is unknown or has the
/// wrong number of arguments.
fn subcommand_error(container: &str, sub: &Bytes, known: &[&str]) -> Frame {
    let name = s(sub);
    if known.contains(&name.to_ascii_lowercase().as_str()) {
        arity_err(&format!("{container}|{}", name.to_ascii_lowercase()))
    } else {
        Frame::err(format!(
            "unknown subcommand '{name}'. Try {} HELP.",
            container.to_ascii_uppercase()
        ))
    }
}

/// A command's name as CLIENT LIST shows it: `container|subcommand` for the
/// commands made of subcommands, else the name (both lowercase).
fn full_name(name: &str, args: &[Bytes]) -> String {
    match args.get(1) {
        Some(sub) if matches!(name, "client" | "sentinel" | "acl" | "command") => {
            format!("{name}|{}", s(sub).to_ascii_lowercase())
        }
        _ => name.to_string(),
    }
}

/// A CLIENT LIST / CLIENT KILL `TYPE` argument, lowercased, or Redis's error.
fn client_type(word: &str) -> Result<String, Frame> {
    let t = word.to_ascii_lowercase();
    if ["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
        Ok(t)
    } else {
        Err(Frame::err(format!("Unknown client type '{word}'")))
    }
}

/// Whether client `c` is of `TYPE` `t` (a sentinel's clients are never masters or
/// replicas).
fn of_type(c: &ClientState, t: &str) -> bool {
    match t {
        "pubsub" => c.subscribed(),
        "normal" => !c.subscribed(),
        _ => false,
    }
}

fn valid_client_name(n: &str) -> bool {
    n.bytes().all(|c| (b'!'..=b'~').contains(&c))
}

fn client_line(c: &ClientState, now: Instant) -> String {
    let flags = if c.subscribed() { "P" } else { "N" };
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={flags} db=0 sub={} psub={} ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.name,
        now.saturating_duration_since(c.created).as_secs(),
        now.saturating_duration_since(c.last_active).as_secs(),
        c.channels.len(),
        c.patterns.len(),
        c.last_cmd,
        c.user,
        c.proto.number(),
        c.lib_name,
        c.lib_ver
    )
}

/// `CLIENT SETNAME|GETNAME|ID|LIST|INFO|KILL|SETINFO|HELP`.
fn client(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    let sub = s(&args[1]).to_ascii_lowercase();
    let me = cx.client;
    let now = cx.now;
    match (sub.as_str(), args.len()) {
        ("setname", 3) => {
            let n = s(&args[2]);
            if !valid_client_name(&n) {
                return Outcome::one(Frame::err(
                    "Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            if let Some(c) = cx.reg.clients.get_mut(&me) {
                c.name = n;
            }
            Outcome::one(Frame::ok())
        }
        ("getname", 2) => match cx.reg.clients.get(&me) {
            Some(c) if !c.name.is_empty() => Outcome::one(bulk(&c.name)),
            _ => Outcome::one(Frame::Null),
        },
        ("id", 2) => Outcome::one(Frame::Integer(me as i64)),
        ("info", 2) => match cx.reg.clients.get(&me) {
            Some(c) => Outcome::one(Frame::Verbatim(Bytes::from(format!(
                "{}\n",
                client_line(c, now)
            )))),
            None => Outcome::default(),
        },
        ("list", _) => {
            // [TYPE normal|master|replica|slave|pubsub] [ID id ...], as Redis 7.0.
            let mut kind: Option<String> = None;
            let mut only: Option<Vec<u64>> = None;
            let mut i = 2;
            while i < args.len() {
                let word = s(&args[i]).to_ascii_lowercase();
                if word == "type" && i + 1 < args.len() {
                    match client_type(&s(&args[i + 1])) {
                        Ok(t) => kind = Some(t),
                        Err(e) => return Outcome::one(e),
                    }
                    i += 2;
                } else if word == "id" && i + 1 < args.len() {
                    let mut ids = Vec::new();
                    for a in &args[i + 1..] {
                        match s(a).parse::<u64>() {
                            Ok(id) => ids.push(id),
                            _ => return Outcome::one(Frame::err("Invalid client ID")),
                        }
                    }
                    only = Some(ids);
                    i = args.len();
                } else {
                    return Outcome::one(Frame::err("syntax error"));
                }
            }
            let mut ids: Vec<&u64> = cx.reg.clients.keys().collect();
            ids.sort();
            let text: String = ids
                .into_iter()
                .filter(|id| only.as_ref().is_none_or(|o| o.contains(id)))
                .filter_map(|id| cx.reg.clients.get(id))
                .filter(|c| kind.as_deref().is_none_or(|t| of_type(c, t)))
                .map(|c| client_line(c, now) + "\n")
                .collect();
            Outcome::one(Frame::Verbatim(Bytes::from(text)))
        }
        ("setinfo", 4) => {
            let attr = s(&args[2]).to_ascii_lowercase();
            let val = s(&args[3]);
            let Some(c) = cx.reg.clients.get_mut(&me) else {
                return Outcome::default();
            };
            match attr.as_str() {
                "lib-name" => c.lib_name = val,
                "lib-ver" => c.lib_ver = val,
                _ => {
                    return Outcome::one(Frame::err(format!(
                        "Unrecognized option '{}'",
                        s(&args[2])
                    )))
                }
            }
            Outcome::one(Frame::ok())
        }
        ("kill", 3) => {
            // Old form: CLIENT KILL addr.
            let addr = s(&args[2]);
            let victim = cx
                .reg
                .clients
                .values()
                .find(|c| c.addr == addr)
                .map(|c| c.id);
            match victim {
                Some(id) => {
                    if let Some(c) = cx.reg.clients.get(&id) {
                        let _ = c.tx.send(Outgoing::Close);
                    }
                    Outcome::one(Frame::ok())
                }
                None => Outcome::one(Frame::err("No such client")),
            }
        }
        ("kill", n) if n >= 4 && n % 2 == 0 => {
            let mut skipme = true;
            let mut filters: Vec<(String, String)> = Vec::new();
            for pair in args[2..].chunks(2) {
                let k = s(&pair[0]).to_ascii_lowercase();
                let v = s(&pair[1]);
                match k.as_str() {
                    "skipme" => match v.to_ascii_lowercase().as_str() {
                        "yes" => skipme = true,
                        "no" => skipme = false,
                        _ => return Outcome::one(Frame::err("syntax error")),
                    },
                    "id" => {
                        if v.parse::<u64>().is_err() {
                            return Outcome::one(Frame::err("client-id should be greater than 0"));
                        }
                        filters.push((k, v));
                    }
                    "type" => match client_type(&v) {
                        Ok(t) => filters.push((k, t)),
                        Err(e) => return Outcome::one(e),
                    },
                    "addr" | "laddr" | "user" => filters.push((k, v)),
                    _ => return Outcome::one(Frame::err("syntax error")),
                }
            }
            let mut killed = 0;
            for c in cx.reg.clients.values() {
                if skipme && c.id == me {
                    continue;
                }
                let ok = filters.iter().all(|(k, v)| match k.as_str() {
                    "id" => c.id.to_string() == *v,
                    "addr" => c.addr == *v,
                    "laddr" => c.laddr == *v,
                    "user" => c.user == *v,
                    "type" => of_type(c, v),
                    _ => false,
                });
                if ok {
                    let _ = c.tx.send(Outgoing::Close);
                    killed += 1;
                }
            }
            Outcome::one(Frame::Integer(killed))
        }
        ("help", 2) => Outcome::one(Frame::Array(
            [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "ID",
                "INFO",
                "KILL <ip:port> | <option> <value> [...]",
                "LIST",
                "SETNAME <name>",
                "SETINFO <LIB-NAME|LIB-VER> <value>",
                "HELP",
            ]
            .iter()
            .map(|l| Frame::simple(*l))
            .collect(),
        )),
        _ => Outcome::one(subcommand_error(
            "client",
            &args[1],
            &[
                "setname", "getname", "id", "info", "list", "setinfo", "kill", "help",
            ],
        )),
    }
}

fn subscribe(cx: &mut Ctx, args: &[Bytes], pattern: bool) -> Outcome {
    let Some(c) = cx.reg.clients.get_mut(&cx.client) else {
        return Outcome::default();
    };
    let kind = if pattern { "psubscribe" } else { "subscribe" };
    let mut out = Vec::new();
    for a in &args[1..] {
        let ch = s(a);
        if pattern {
            c.patterns.insert(ch.clone());
        } else {
            c.channels.insert(ch.clone());
        }
        let count = (c.channels.len() + c.patterns.len()) as i64;
        out.push(Frame::Push(vec![
            bulk(kind),
            bulk(&ch),
            Frame::Integer(count),
        ]));
    }
    Outcome {
        replies: out,
        ..Default::default()
    }
}

fn unsubscribe(cx: &mut Ctx, args: &[Bytes], pattern: bool) -> Outcome {
    let Some(c) = cx.reg.clients.get_mut(&cx.client) else {
        return Outcome::default();
    };
    let kind = if pattern {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    let targets: Vec<String> = if args.len() > 1 {
        args[1..].iter().map(s).collect()
    } else if pattern {
        c.patterns.iter().cloned().collect()
    } else {
        c.channels.iter().cloned().collect()
    };
    let mut out = Vec::new();
    if targets.is_empty() {
        let count = (c.channels.len() + c.patterns.len()) as i64;
        out.push(Frame::Push(vec![
            bulk(kind),
            Frame::Null,
            Frame::Integer(count),
        ]));
    }
    for ch in targets {
        if pattern {
            c.patterns.remove(&ch);
        } else {
            c.channels.remove(&ch);
        }
        let count = (c.channels.len() + c.patterns.len()) as i64;
        out.push(Frame::Push(vec![
            bulk(kind),
            bulk(&ch),
            Frame::Integer(count),
        ]));
    }
    Outcome {
        replies: out,
        ..Default::default()
    }
}

/// `PUBLISH __sentinel__:hello <payload>`: process a hello pushed by a peer.
fn publish(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    if s(&args[1]) != "__sentinel__:hello" {
        return Outcome::one(Frame::err(
            "Only HELLO messages are accepted by Sentinel instances.",
        ));
    }
    cx.m.handle_hello(&s(&args[2]), cx.now);
    Outcome::one(Frame::Integer(1))
}

/// `ACL WHOAMI|USERS|SETUSER|DELUSER|LIST|HELP`: enough for requirepass users and
/// sentinel-user/sentinel-pass.
fn acl(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    let sub = s(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "whoami" if args.len() == 2 => {
            let u = cx
                .reg
                .clients
                .get(&cx.client)
                .map(|c| c.user.clone())
                .unwrap_or_default();
            Outcome::one(bulk(u))
        }
        "users" if args.len() == 2 => {
            let mut names: Vec<String> = cx.reg.users.keys().cloned().collect();
            names.push("default".into());
            names.sort();
            Outcome::one(Frame::Array(names.iter().map(bulk).collect()))
        }
        "setuser" if args.len() >= 3 => {
            let name = s(&args[2]);
            if name == "default" {
                for r in &args[3..] {
                    let r = s(r);
                    if let Some(p) = r.strip_prefix('>') {
                        cx.m.g.requirepass = Some(p.to_string());
                    } else if r == "nopass" {
                        cx.m.g.requirepass = None;
                    }
                }
                return Outcome::one(Frame::ok());
            }
            let entry = cx
                .reg
                .users
                .entry(name)
                .or_insert((false, Some(String::new())));
            for r in &args[3..] {
                let r = s(r);
                match r.as_str() {
                    "on" => entry.0 = true,
                    "off" => entry.0 = false,
                    "nopass" => entry.1 = None,
                    "resetpass" => entry.1 = Some(String::new()),
                    r if r.starts_with('>') => entry.1 = Some(r[1..].to_string()),
                    r if r.starts_with('+')
                        || r.starts_with('-')
                        || r.starts_with('~')
                        || r.starts_with('&')
                        || r.starts_with('%')
                        || [
                            "allcommands",
                            "nocommands",
                            "allkeys",
                            "allchannels",
                            "resetchannels",
                            "resetkeys",
                            "reset",
                        ]
                        .contains(&r) => {}
                    other => {
                        return Outcome::one(Frame::err(format!(
                            "Error in ACL SETUSER modifier '{other}': Syntax error"
                        )))
                    }
                }
            }
            Outcome::one(Frame::ok())
        }
        "deluser" if args.len() >= 3 => {
            let mut n = 0;
            for a in &args[2..] {
                if cx.reg.users.remove(&s(a)).is_some() {
                    n += 1;
                }
            }
            Outcome::one(Frame::Integer(n))
        }
        "help" if args.len() == 2 => Outcome::one(Frame::Array(
            [
                "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DELUSER <username> [<username> ...]",
                "LIST",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "USERS",
                "WHOAMI",
                "HELP",
            ]
            .iter()
            .map(|l| Frame::simple(*l))
            .collect(),
        )),
        "list" if args.len() == 2 => {
            let mut v = vec![bulk(match &cx.m.g.requirepass {
                Some(_) => "user default on #<hidden> ~* &* +@all",
                None => "user default on nopass ~* &* +@all",
            })];
            for (n, (on, p)) in &cx.reg.users {
                v.push(bulk(format!(
                    "user {n} {} {} ~* &* +@all",
                    if *on { "on" } else { "off" },
                    if p.is_some() { "#<hidden>" } else { "nopass" }
                )));
            }
            Outcome::one(Frame::Array(v))
        }
        _ => Outcome::one(subcommand_error(
            "acl",
            &args[1],
            &["whoami", "users", "setuser", "deluser", "list", "help"],
        )),
    }
}

/// `COMMAND [COUNT|LIST|INFO|DOCS]` over the sentinel's command table.
fn command(args: &[Bytes]) -> Outcome {
    // The server's entries for the commands both have (flags, ACL categories,
    // subcommands); SENTINEL's own as Redis lists it (admin; @admin @slow
    // @dangerous), without its subcommands' entries.
    let entry = |name: &str, arity: i64| {
        crate::server::commands::server::command_entry_of(name).unwrap_or_else(|| {
            let set =
                |v: &[&'static str]| Frame::Set(v.iter().map(|f| Frame::simple(*f)).collect());
            Frame::Array(vec![
                bulk(name),
                Frame::Integer(arity),
                set(&["admin"]),
                Frame::Integer(0),
                Frame::Integer(0),
                Frame::Integer(0),
                set(&["@admin", "@slow", "@dangerous"]),
                Frame::Set(vec![]),
                Frame::Set(vec![]),
                Frame::Array(vec![]),
            ])
        })
    };
    if args.len() == 1 {
        return Outcome::one(Frame::Array(
            COMMANDS.iter().map(|(n, a)| entry(n, *a)).collect(),
        ));
    }
    match s(&args[1]).to_ascii_lowercase().as_str() {
        "count" => Outcome::one(Frame::Integer(COMMANDS.len() as i64)),
        "list" => Outcome::one(Frame::Array(
            COMMANDS.iter().map(|(n, _)| bulk(n)).collect(),
        )),
        "docs" => Outcome::one(Frame::Map(vec![])),
        "info" => Outcome::one(Frame::Array(
            args[2..]
                .iter()
                .map(|a| {
                    let n = s(a).to_ascii_lowercase();
                    COMMANDS
                        .iter()
                        .find(|(c, _)| *c == n)
                        .map(|(c, ar)| entry(c, *ar))
                        .unwrap_or(Frame::NullArray)
                })
                .collect(),
        )),
        _ => Outcome::one(Frame::err(format!(
            "unknown subcommand '{}'. Try COMMAND HELP.",
            s(&args[1])
        ))),
    }
}

// ------------------------------------------------------------------------ INFO

/// `INFO [section ...]`: server, clients, cpu, stats, sentinel.
fn info(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    // Redis's order, whatever the order asked in.
    let all = ["server", "clients", "stats", "cpu", "sentinel"];
    let mut wanted: Vec<&str> = Vec::new();
    if args.len() == 1 {
        wanted = all.to_vec();
    } else {
        for a in &args[1..] {
            let sec = s(a).to_ascii_lowercase();
            match sec.as_str() {
                "all" | "everything" | "default" => wanted = all.to_vec(),
                other => {
                    if let Some(x) = all.iter().find(|x| **x == other) {
                        wanted.push(x);
                    }
                }
            }
        }
    }
    let mut out = String::new();
    for sec in all.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str(&info_section(cx, sec));
    }
    Outcome::one(Frame::Verbatim(Bytes::from(out)))
}

fn info_section(cx: &mut Ctx, sec: &str) -> String {
    use crate::server::info as si;
    let now = cx.now;
    match sec {
        "server" => {
            let p = &cx.reg.proc;
            si::server_section(&si::ServerFields {
                mode: "sentinel",
                supervised: p.supervision.name(),
                run_id: &p.run_id,
                port: cx.m.g.port,
                uptime: now.saturating_duration_since(p.started).as_secs(),
                hz: 10,
                config_file: &p.config_file,
            })
        }
        "clients" => format!(
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:10000\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
            cx.reg.clients.len()
        ),
        "cpu" => si::cpu(),
        "stats" => {
            let reg = &mut *cx.reg;
            let channels: BTreeSet<&String> =
                reg.clients.values().flat_map(|c| c.channels.iter()).collect();
            let patterns: usize = reg.clients.values().map(|c| c.patterns.len()).sum();
            let pubsub = (channels.len(), patterns);
            let counts = crate::util::rates::Counts {
                commands: reg.total_commands,
                input: reg.net_input,
                output: reg.net_output,
            };
            si::stats_section(&si::StatsFields {
                connections: reg.total_connections,
                commands: reg.total_commands,
                rates: reg.rates.sample(now, counts),
                net_input: reg.net_input,
                net_output: reg.net_output,
                rejected: reg.rejected_connections,
                sync: (0, 0, 0),
                expired_keys: 0,
                evicted_keys: 0,
                keyspace: (0, 0),
                pubsub,
                error_replies: reg.error_replies,
                reads_writes: (reg.reads, reg.writes),
            })
        }
        _ => {
            let m = &cx.m;
            let running = cx.reg.scripts.iter().filter(|j| j.running).count();
            let mut out = format!(
                "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:{running}\r\nsentinel_scripts_queue_length:{}\r\nsentinel_simulate_failure_flags:{}\r\n",
                m.masters.len(),
                u8::from(m.tilt),
                m.tilt_start
                    .filter(|_| m.tilt)
                    .map(|t| now.saturating_duration_since(t).as_secs() as i64)
                    .unwrap_or(-1),
                cx.reg.scripts.len(),
                u8::from(m.simfail_after_election) | (u8::from(m.simfail_after_promotion) << 1)
            );
            for (i, mm) in m.masters.values().enumerate() {
                let status = if mm.inst.odown_since.is_some() {
                    "odown"
                } else if mm.inst.sdown_since.is_some() {
                    "sdown"
                } else {
                    "ok"
                };
                let (ip, port) = mm.current_addr(&m.g);
                out.push_str(&format!(
                    "master{i}:name={},status={status},address={},slaves={},sentinels={}\r\n",
                    mm.name(),
                    super::state::addr_key(&ip, port),
                    mm.replicas.len(),
                    mm.sentinels.len() + 1
                ));
            }
            out
        }
    }
}

// -------------------------------------------------------------------- SENTINEL

/// Flags of an instance, in Redis's order.
pub fn flags(m: &Machine, master: &Master, id: &Inst, i: &Instance) -> String {
    let mut f: Vec<&str> = Vec::new();
    if i.sdown_since.is_some() {
        f.push("s_down");
    }
    if i.odown_since.is_some() {
        f.push("o_down");
    }
    f.push(match i.kind {
        Kind::Master => "master",
        Kind::Replica => "slave",
        Kind::Sentinel => "sentinel",
    });
    if !m.is_connected(id) {
        f.push("disconnected");
    }
    if i.kind == Kind::Sentinel && i.master_down {
        f.push("master_down");
    }
    if i.kind == Kind::Master && master.in_failover() {
        f.push("failover_in_progress");
    }
    if i.promoted {
        f.push("promoted");
    }
    match i.reconf {
        super::state::Reconf::Sent => f.push("reconf_sent"),
        super::state::Reconf::InProg => f.push("reconf_inprog"),
        super::state::Reconf::Done => f.push("reconf_done"),
        super::state::Reconf::None => {}
    }
    if i.kind == Kind::Master && master.force_failover {
        f.push("force_failover");
    }
    if i.script_kill_sent {
        f.push("script_kill_sent");
    }
    if i.kind == Kind::Master && i.master_reboot_since.is_some() {
        f.push("master_reboot");
    }
    f.join(",")
}

/// The instance map of `SENTINEL MASTER(S)/REPLICAS/SENTINELS` (every value a bulk
/// string, Redis's field order).
pub fn instance_map(m: &Machine, master: &Master, id: &Inst, i: &Instance, now: Instant) -> Frame {
    let mut v: Vec<(Frame, Frame)> = Vec::new();
    let mut put = |k: &str, val: String| v.push((bulk(k), Frame::bulk(Bytes::from(val))));
    let link = Machine::cmd_link(id);
    let (ip, port) = if i.kind == Kind::Master {
        master.current_addr(&m.g)
    } else {
        (m.g.shown(i).to_string(), i.port)
    };
    put("name", i.name.clone());
    put("ip", ip);
    put("port", port.to_string());
    put("runid", i.runid.clone());
    put("flags", flags(m, master, id, i));
    put("link-pending-commands", m.io.pending(&link).to_string());
    let refcount = match id {
        Inst::Sentinel(_, r) => m.peer_refcount(r),
        _ => 1,
    };
    put("link-refcount", refcount.to_string());
    if i.kind == Kind::Master && master.failover_state != FailoverState::None {
        put("failover-state", master.failover_state.word().to_string());
    }
    put("last-ping-sent", ms_since(now, i.act_ping_time).to_string());
    put(
        "last-ok-ping-reply",
        ms_since(now, Some(i.last_avail_time)).to_string(),
    );
    put(
        "last-ping-reply",
        ms_since(now, Some(i.last_pong_time.unwrap_or(i.created))).to_string(),
    );
    if let Some(t) = i.sdown_since {
        put("s-down-time", ms_since(now, Some(t)).to_string());
    }
    if let Some(t) = i.odown_since {
        put("o-down-time", ms_since(now, Some(t)).to_string());
    }
    put(
        "down-after-milliseconds",
        i.down_after.as_millis().to_string(),
    );
    if i.kind != Kind::Sentinel {
        put("info-refresh", ms_since(now, i.info_refresh).to_string());
        put(
            "role-reported",
            match i.role_reported {
                Role::Slave => "slave",
                _ => "master",
            }
            .to_string(),
        );
        put(
            "role-reported-time",
            ms_since(now, Some(i.role_reported_time)).to_string(),
        );
    }
    if i.kind == Kind::Master {
        put("config-epoch", master.config_epoch.to_string());
        put("num-slaves", master.replicas.len().to_string());
        put("num-other-sentinels", master.sentinels.len().to_string());
        put("quorum", master.quorum.to_string());
        put(
            "failover-timeout",
            master.failover_timeout.as_millis().to_string(),
        );
        put("parallel-syncs", master.parallel_syncs.to_string());
        if let Some(sc) = &master.notification_script {
            put("notification-script", sc.clone());
        }
        if let Some(sc) = &master.client_reconfig_script {
            put("client-reconfig-script", sc.clone());
        }
    }
    if i.kind == Kind::Replica {
        put("master-link-down-time", i.master_link_down_ms.to_string());
        put(
            "master-link-status",
            if i.master_link_up { "ok" } else { "err" }.to_string(),
        );
        put(
            "master-host",
            i.master_host.clone().unwrap_or_else(|| "?".into()),
        );
        put("master-port", i.master_port.to_string());
        put("slave-priority", i.slave_priority.to_string());
        put("slave-repl-offset", i.repl_offset.to_string());
        put(
            "replica-announced",
            u8::from(i.replica_announced).to_string(),
        );
    }
    if i.kind == Kind::Sentinel {
        put(
            "last-hello-message",
            ms_since(now, Some(i.last_hello.unwrap_or(i.created))).to_string(),
        );
        put(
            "voted-leader",
            i.leader.clone().unwrap_or_else(|| "?".into()),
        );
        put("voted-leader-epoch", i.leader_epoch.to_string());
    }
    Frame::Map(v)
}

fn no_master() -> Frame {
    Frame::err("No such master with that name")
}

const SENTINEL_HELP: [&str; 39] = [
    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value> [<param> <value> ...]",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param> [param param param ...]",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last INFO output from masters and slaves.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>  /  SENTINELS <master-name>  /  SET <master-name> <option> <value> [...]  /  SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Show replicas / other sentinels of a master; change master options; simulate failures.",
];

/// `SENTINEL <subcommand> ...`.
fn sentinel(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    let sub = s(&args[1]).to_ascii_lowercase();
    let n = args.len();
    let now = cx.now;
    let wrong = || Outcome::one(arity_err(&format!("sentinel|{sub}")));
    match sub.as_str() {
        "masters" => {
            if n != 2 {
                return wrong();
            }
            let m = &*cx.m;
            let v = m
                .masters
                .iter()
                .map(|(name, mm)| instance_map(m, mm, &Inst::Master(nm(name)), &mm.inst, now))
                .collect();
            Outcome::one(Frame::Array(v))
        }
        "master" => {
            if n != 3 {
                return wrong();
            }
            let name = s(&args[2]);
            let m = &*cx.m;
            match m.masters.get(&name) {
                Some(mm) => {
                    Outcome::one(instance_map(m, mm, &Inst::Master(nm(&name)), &mm.inst, now))
                }
                None => Outcome::one(no_master()),
            }
        }
        "replicas" | "slaves" => {
            if n != 3 {
                return wrong();
            }
            let name = s(&args[2]);
            let m = &*cx.m;
            match m.masters.get(&name) {
                Some(mm) => Outcome::one(Frame::Array(
                    mm.replicas
                        .iter()
                        .filter(|(_, r)| r.replica_announced)
                        .map(|(k, r)| instance_map(m, mm, &Inst::Replica(nm(&name), nm(k)), r, now))
                        .collect(),
                )),
                None => Outcome::one(no_master()),
            }
        }
        "sentinels" => {
            if n != 3 {
                return wrong();
            }
            let name = s(&args[2]);
            let m = &*cx.m;
            match m.masters.get(&name) {
                Some(mm) => Outcome::one(Frame::Array(
                    mm.sentinels
                        .iter()
                        .map(|(k, r)| {
                            instance_map(m, mm, &Inst::Sentinel(nm(&name), nm(k)), r, now)
                        })
                        .collect(),
                )),
                None => Outcome::one(no_master()),
            }
        }
        "get-master-addr-by-name" => {
            if n != 3 {
                return wrong();
            }
            match cx.m.masters.get(&s(&args[2])) {
                Some(mm) => {
                    let (ip, port) = mm.current_addr(&cx.m.g);
                    Outcome::one(Frame::Array(vec![bulk(ip), bulk(port.to_string())]))
                }
                None => Outcome::one(Frame::NullArray),
            }
        }
        "is-master-down-by-addr" => {
            if n != 6 {
                return wrong();
            }
            let ip = s(&args[2]);
            let (Ok(port), Ok(epoch)) = (s(&args[3]).parse::<i64>(), s(&args[4]).parse::<i64>())
            else {
                return Outcome::one(Frame::err(NOT_INT));
            };
            let runid = s(&args[5]);
            let reply = cx.m.is_master_down_by_addr(&ip, port, epoch, &runid, now);
            Outcome {
                replies: vec![reply],
                // A vote (or an epoch raise) is durable before it is announced.
                flush_before_reply: cx.m.io.dirty,
                ..Default::default()
            }
        }
        "reset" => {
            if n != 3 {
                return wrong();
            }
            let count = cx.m.reset_pattern(&s(&args[2]), now);
            Outcome {
                replies: vec![Frame::Integer(count as i64)],
                flush_before_reply: cx.m.io.dirty,
                ..Default::default()
            }
        }
        "ckquorum" => {
            if n != 3 {
                return wrong();
            }
            let Some(mm) = cx.m.masters.get(&s(&args[2])) else {
                return Outcome::one(no_master());
            };
            Outcome::one(ckquorum(mm))
        }
        "flushconfig" => {
            if n != 2 {
                return wrong();
            }
            cx.m.io.dirty = true;
            Outcome {
                replies: vec![Frame::ok()],
                flush_before_reply: true,
                flush_reports_error: true,
                ..Default::default()
            }
        }
        "monitor" => {
            if n != 6 {
                return wrong();
            }
            match cx
                .m
                .monitor(&s(&args[2]), &s(&args[3]), &s(&args[4]), &s(&args[5]), now)
            {
                Ok(()) => Outcome {
                    replies: vec![Frame::ok()],
                    flush_before_reply: true,
                    ..Default::default()
                },
                Err(e) => Outcome::one(Frame::err(e)),
            }
        }
        "remove" => {
            if n != 3 {
                return wrong();
            }
            if cx.m.remove(&s(&args[2]), now) {
                Outcome {
                    replies: vec![Frame::ok()],
                    flush_before_reply: true,
                    ..Default::default()
                }
            } else {
                Outcome::one(no_master())
            }
        }
        "set" => {
            if n < 5 {
                return wrong();
            }
            set_options(cx, args)
        }
        "config" => config(cx, args),
        "myid" => {
            if n != 2 {
                return wrong();
            }
            Outcome::one(bulk(&cx.m.g.myid))
        }
        "info-cache" => {
            if n < 3 {
                return wrong();
            }
            let mut out = Vec::new();
            let names: Vec<String> = args[2..].iter().map(s).collect();
            for (name, mm) in &cx.m.masters {
                if !names.contains(name) {
                    continue;
                }
                let entry = |i: &Instance| {
                    Frame::Array(vec![
                        Frame::Integer(ms_since(now, i.info_refresh) as i64),
                        match &i.info_text {
                            Some(t) => Frame::Verbatim(Bytes::from(t.clone())),
                            None => Frame::Null,
                        },
                    ])
                };
                let mut list = vec![entry(&mm.inst)];
                list.extend(mm.replicas.values().map(entry));
                out.push(bulk(name));
                out.push(Frame::Array(list));
            }
            Outcome::one(Frame::Array(out))
        }
        "pending-scripts" => {
            if n != 2 {
                return wrong();
            }
            let v = cx
                .reg
                .scripts
                .iter()
                .map(|j| {
                    let age = now.saturating_duration_since(j.start).as_millis() as i64;
                    Frame::Map(vec![
                        (
                            bulk("argv"),
                            Frame::Array(j.argv.iter().map(bulk).collect()),
                        ),
                        (
                            bulk("flags"),
                            bulk(if j.running { "running" } else { "scheduled" }),
                        ),
                        (bulk("pid"), bulk(j.pid.to_string())),
                        (
                            bulk(if j.running { "run-time" } else { "run-delay" }),
                            bulk(age.to_string()),
                        ),
                        (bulk("retry-num"), bulk(j.retry_num.to_string())),
                    ])
                })
                .collect();
            Outcome::one(Frame::Array(v))
        }
        "debug" => debug(cx, args),
        "help" => Outcome::one(Frame::Array(
            SENTINEL_HELP.iter().map(|l| Frame::simple(*l)).collect(),
        )),
        "failover" => {
            if n != 3 {
                return wrong();
            }
            match super::failover::manual_failover(cx.m, &s(&args[2]), now) {
                Ok(()) => Outcome {
                    replies: vec![Frame::ok()],
                    flush_before_reply: cx.m.io.dirty,
                    ..Default::default()
                },
                Err(e) => Outcome::one(e),
            }
        }
        "simulate-failure" => {
            let mut help = false;
            for a in &args[2..] {
                match s(a).to_ascii_lowercase().as_str() {
                    "crash-after-election" => cx.m.simfail_after_election = true,
                    "crash-after-promotion" => cx.m.simfail_after_promotion = true,
                    "help" => help = true,
                    _ => return Outcome::one(Frame::err("Unknown failure simulation specified")),
                }
            }
            if help {
                Outcome::one(Frame::Array(vec![
                    bulk("crash-after-election"),
                    bulk("crash-after-promotion"),
                ]))
            } else {
                Outcome::one(Frame::ok())
            }
        }
        _ => Outcome::one(Frame::err(format!(
            "unknown subcommand '{}'. Try SENTINEL HELP.",
            s(&args[1])
        ))),
    }
}

/// `SENTINEL CKQUORUM` reply.
pub fn ckquorum(mm: &Master) -> Frame {
    let voters = mm.sentinels.len() + 1;
    let usable = 1 + mm
        .sentinels
        .values()
        .filter(|s| s.sdown_since.is_none() && s.odown_since.is_none())
        .count();
    let noquorum = usable < mm.quorum as usize;
    let noauth = usable < voters / 2 + 1;
    if !noquorum && !noauth {
        return Frame::simple(format!(
            "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
        ));
    }
    let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
    if noquorum {
        e.push_str("Not enough available Sentinels to reach the specified quorum for this master");
    }
    if noauth {
        if noquorum {
            e.push_str(". ");
        }
        e.push_str("Not enough available Sentinels to reach the majority and authorize a failover");
    }
    Frame::error(e)
}

/// `SENTINEL SET <name> <option> <value> ...`. Not atomic, like Redis: options
/// before a bad one stay applied (and are flushed).
fn set_options(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    let name = s(&args[2]);
    let now = cx.now;
    if !cx.m.masters.contains_key(&name) {
        return Outcome::one(no_master());
    }
    let mut i = 3;
    let mut changed = false;
    let mut drop_links = false;
    let mut result = Frame::ok();
    while i < args.len() {
        let opt = s(&args[i]).to_ascii_lowercase();
        let deny = cx.m.g.deny_scripts_reconfig;
        let Some(mm) = cx.m.masters.get_mut(&name) else {
            break;
        };
        let val = args.get(i + 1).map(s);
        let badarg =
            |v: &str, o: &str| Frame::err(format!("Invalid argument '{v}' for SENTINEL SET '{o}'"));
        let mut shown = val.clone().unwrap_or_default();
        let step = match (opt.as_str(), &val) {
            ("down-after-milliseconds", Some(v)) => match v.parse::<i64>() {
                Ok(x) if x > 0 => {
                    let d = Duration::from_millis(x as u64);
                    mm.inst.down_after = d;
                    for r in mm.replicas.values_mut().chain(mm.sentinels.values_mut()) {
                        r.down_after = d;
                    }
                    2
                }
                _ => {
                    result = badarg(v, &opt);
                    break;
                }
            },
            ("failover-timeout", Some(v)) => match v.parse::<i64>() {
                Ok(x) if x > 0 => {
                    mm.failover_timeout = Duration::from_millis(x as u64);
                    2
                }
                _ => {
                    result = badarg(v, &opt);
                    break;
                }
            },
            ("parallel-syncs", Some(v)) => match v.parse::<i64>() {
                Ok(x) if x > 0 && x <= u32::MAX as i64 => {
                    mm.parallel_syncs = x as u32;
                    2
                }
                _ => {
                    result = badarg(v, &opt);
                    break;
                }
            },
            ("quorum", Some(v)) => match v.parse::<i64>() {
                Ok(x) if x > 0 && x <= u32::MAX as i64 => {
                    mm.quorum = x as u32;
                    2
                }
                _ => {
                    result = badarg(v, &opt);
                    break;
                }
            },
            ("notification-script" | "client-reconfig-script", Some(v)) => {
                if deny {
                    result = Frame::err("Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration");
                    break;
                }
                if !v.is_empty() && !super::config::is_executable(v) {
                    result = Frame::err(if opt == "notification-script" {
                        "Notification script seems non existing or non executable"
                    } else {
                        "Client reconfiguration script seems non existing or non executable"
                    });
                    break;
                }
                let newv = Some(v.clone()).filter(|x| !x.is_empty());
                if opt == "notification-script" {
                    mm.notification_script = newv;
                } else {
                    mm.client_reconfig_script = newv;
                }
                2
            }
            ("auth-pass", Some(v)) => {
                mm.auth_pass = Some(v.clone()).filter(|x| !x.is_empty());
                shown = "******".into();
                drop_links = true;
                2
            }
            ("auth-user", Some(v)) => {
                mm.auth_user = Some(v.clone()).filter(|x| !x.is_empty());
                drop_links = true;
                2
            }
            ("rename-command", Some(from)) if i + 2 < args.len() => {
                let to = s(&args[i + 2]);
                if from.is_empty() || to.is_empty() {
                    result = badarg(&format!("{from} {to}"), &opt);
                    break;
                }
                mm.rename_commands
                    .retain(|(f, _)| !f.eq_ignore_ascii_case(from));
                if !from.eq_ignore_ascii_case(&to) {
                    mm.rename_commands.push((from.clone(), to.clone()));
                }
                shown = format!("{from} {to}");
                drop_links = true;
                3
            }
            ("master-reboot-down-after-period", Some(v)) => match v.parse::<i64>() {
                Ok(x) if x >= 0 => {
                    mm.master_reboot_down_after = Duration::from_millis(x as u64);
                    2
                }
                _ => {
                    result = badarg(v, &opt);
                    break;
                }
            },
            _ => {
                result = Frame::err(format!(
                    "Unknown option or number of arguments for SENTINEL SET '{}'",
                    s(&args[i])
                ));
                break;
            }
        };
        let e = super::events::instance_event(
            &cx.m.g,
            super::events::Level::Warning,
            "+set",
            mm,
            None,
            &format!("{opt} {shown}"),
        );
        cx.m.io.event(e);
        changed = true;
        i += step;
    }
    if drop_links {
        cx.m.drop_instance_links(&name);
    }
    let _ = now;
    if changed {
        cx.m.io.dirty = true;
    }
    Outcome {
        replies: vec![result],
        flush_before_reply: changed,
        ..Default::default()
    }
}

const CONFIG_PARAMS: [&str; 7] = [
    "resolve-hostnames",
    "announce-hostnames",
    "announce-ip",
    "announce-port",
    "sentinel-user",
    "sentinel-pass",
    "loglevel",
];

fn config_value(m: &Machine, p: &str) -> String {
    let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
    match p {
        "resolve-hostnames" => yn(m.g.resolve_hostnames),
        "announce-hostnames" => yn(m.g.announce_hostnames),
        "announce-ip" => m.g.announce_ip.clone().unwrap_or_default(),
        "announce-port" => m.g.announce_port.to_string(),
        "sentinel-user" => m.g.sentinel_user.clone().unwrap_or_default(),
        "sentinel-pass" => m.g.sentinel_pass.clone().unwrap_or_default(),
        _ => m.g.loglevel.clone(),
    }
}

/// `SENTINEL CONFIG GET <pattern>...` / `SENTINEL CONFIG SET <param> <value>...`.
fn config(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    if args.len() < 4 {
        return Outcome::one(arity_err("sentinel|config"));
    }
    let sub = s(&args[2]).to_ascii_lowercase();
    if sub == "get" {
        let mut out = Vec::new();
        for p in CONFIG_PARAMS {
            if args[3..]
                .iter()
                .any(|pat| glob_match(&pat.to_ascii_lowercase(), p.as_bytes(), true))
            {
                out.push((bulk(p), bulk(config_value(cx.m, p))));
            }
        }
        return Outcome::one(Frame::Map(out));
    }
    if sub != "set" || args.len() % 2 != 1 {
        return Outcome::one(Frame::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try SENTINEL HELP.",
            s(&args[2])
        )));
    }
    // Validate everything first.
    let mut seen: Vec<String> = Vec::new();
    let pairs: Vec<(String, String)> = args[3..]
        .chunks(2)
        .map(|c| (s(&c[0]).to_ascii_lowercase(), s(&c[1])))
        .collect();
    for (p, v) in &pairs {
        if seen.contains(p) {
            return Outcome::one(Frame::err(format!("Duplicate parameter - {p}")));
        }
        seen.push(p.clone());
        let ok = match p.as_str() {
            "resolve-hostnames" | "announce-hostnames" => {
                ["yes", "no"].contains(&v.to_ascii_lowercase().as_str())
            }
            "announce-port" => v.parse::<u16>().is_ok(),
            "loglevel" => ["debug", "verbose", "notice", "warning", "nothing"]
                .contains(&v.to_ascii_lowercase().as_str()),
            "announce-ip" | "sentinel-user" | "sentinel-pass" => true,
            _ => {
                return Outcome::one(Frame::err(format!(
                    "Invalid argument '{p}' to SENTINEL CONFIG SET"
                )))
            }
        };
        if !ok {
            return Outcome::one(Frame::err(format!(
                "Invalid value '{v}' to SENTINEL CONFIG SET '{p}'"
            )));
        }
    }
    let mut drop_peers = false;
    for (p, v) in pairs {
        let g = &mut cx.m.g;
        match p.as_str() {
            "resolve-hostnames" => g.resolve_hostnames = v.eq_ignore_ascii_case("yes"),
            "announce-hostnames" => g.announce_hostnames = v.eq_ignore_ascii_case("yes"),
            "announce-ip" => g.announce_ip = Some(v).filter(|x| !x.is_empty()),
            "announce-port" => g.announce_port = v.parse().unwrap_or(0),
            "sentinel-user" => {
                g.sentinel_user = Some(v).filter(|x| !x.is_empty());
                drop_peers = true;
            }
            "sentinel-pass" => {
                g.sentinel_pass = Some(v).filter(|x| !x.is_empty());
                drop_peers = true;
            }
            _ => g.loglevel = v.to_ascii_lowercase(),
        }
    }
    if drop_peers {
        cx.m.drop_peer_links();
    }
    cx.m.io.dirty = true;
    Outcome {
        replies: vec![Frame::ok()],
        flush_before_reply: true,
        ..Default::default()
    }
}

/// `SENTINEL DEBUG [<param> <ms> ...]`.
fn debug(cx: &mut Ctx, args: &[Bytes]) -> Outcome {
    if args.len() == 2 {
        let t = &cx.m.t;
        let v = super::state::Timers::NAMES
            .iter()
            .map(|n| {
                (
                    bulk(n.to_ascii_uppercase()),
                    Frame::Integer(t.get(n).map(|d| d.as_millis() as i64).unwrap_or(0)),
                )
            })
            .collect();
        return Outcome::one(Frame::Map(v));
    }
    // Validate, then apply.
    let mut updates = Vec::new();
    for c in args[2..].chunks(2) {
        let name = s(&c[0]).to_ascii_lowercase();
        // An option without its value is reported like an unknown one.
        if cx.m.t.get(&name).is_none() || c.len() < 2 {
            return Outcome::one(Frame::err(format!(
                "Unknown option or number of arguments for SENTINEL DEBUG '{}'",
                s(&c[0])
            )));
        }
        let val = s(&c[1]);
        match val.parse::<i64>() {
            Ok(v) if v > 0 => updates.push((name, Duration::from_millis(v as u64))),
            _ => {
                return Outcome::one(Frame::err(format!(
                    "Invalid argument '{val}' for SENTINEL DEBUG '{name}'"
                )))
            }
        }
    }
    for (name, d) in updates {
        if let Some(slot) = cx.m.t.get_mut(&name) {
            *slot = d;
        }
    }
    Outcome::one(Frame::ok())
}

/// Links currently open (for tests/diagnostics).
pub fn link_count(m: &Machine) -> usize {
    m.io.links.values().filter(|l| l.connected).count()
}
