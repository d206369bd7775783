//! Server administration (server.md §7-§9, §12.7-§12.9): INFO, CONFIG
//! GET/SET/REWRITE/RESETSTAT/HELP, COMMAND (COUNT, INFO, DOCS, LIST, GETKEYS,
//! GETKEYSANDFLAGS, HELP), DEBUG (SLEEP, DIGEST, DIGEST-VALUE, SET-ACTIVE-EXPIRE,
//! POPULATE, OBJECT, PROTOCOL, RELOAD, HELP), SHUTDOWN, LASTSAVE, MONITOR and SLOWLOG
//! (GET, LEN, RESET, HELP; the log itself is `server::slowlog`), LATENCY (LATEST,
//! HISTORY, RESET, HISTOGRAM, HELP; the monitor is `server::latency`).

use super::args::{int, is, syntax_error};
use super::pubsub::help_lines;
use crate::resp::Frame;
use crate::server::command::{self, flags::*, Command, Ctx, Propagation};
use crate::server::db::Value;
use crate::server::state::ShutdownRequest;
use bytes::Bytes;

pub static COMMANDS: &[Command] = &[
    Command::new("info", -1, LOADING | STALE, info),
    Command::new("config", -2, 0, config_help).subs(CONFIG_SUBS),
    Command::new("command", -1, LOADING | STALE, command_all).subs(COMMAND_SUBS),
    Command::new("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, debug),
    Command::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI,
        shutdown,
    ),
    Command::new("lastsave", 1, LOADING | STALE | FAST, lastsave),
    Command::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, monitor),
    Command::new("slowlog", -2, 0, slowlog_help).subs(SLOWLOG_SUBS),
    Command::new("latency", -2, 0, latency_help).subs(LATENCY_SUBS),
];

static LATENCY_SUBS: &[Command] = &[
    Command::new(
        "latest",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        latency_latest,
    ),
    Command::new(
        "history",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        latency_history,
    ),
    Command::new(
        "reset",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        latency_reset,
    ),
    Command::new(
        "histogram",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        latency_histogram,
    ),
    Command::new("help", 2, LOADING | STALE, latency_help),
];

static SLOWLOG_SUBS: &[Command] = &[
    Command::new("get", -2, ADMIN | LOADING | STALE, slowlog_get),
    Command::new("len", 2, ADMIN | LOADING | STALE, slowlog_len),
    Command::new("reset", 2, ADMIN | LOADING | STALE, slowlog_reset),
    Command::new("help", 2, LOADING | STALE, slowlog_help),
];

static CONFIG_SUBS: &[Command] = &[
    Command::new("get", -3, ADMIN | NOSCRIPT | LOADING | STALE, config_get),
    Command::new("set", -4, ADMIN | NOSCRIPT | LOADING | STALE, config_set),
    Command::new(
        "rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        config_rewrite,
    ),
    Command::new(
        "resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        config_resetstat,
    ),
    Command::new("help", 2, LOADING | STALE, config_help),
];

static COMMAND_SUBS: &[Command] = &[
    Command::new("count", 2, LOADING | STALE, command_count),
    Command::new("info", -2, LOADING | STALE, command_info),
    Command::new("docs", -2, LOADING | STALE, command_docs),
    Command::new("list", -2, LOADING | STALE, command_list),
    Command::new("getkeys", -4, LOADING | STALE, command_getkeys),
    Command::new("getkeysandflags", -4, LOADING | STALE, command_getkeys),
    Command::new("help", 2, LOADING | STALE, command_help),
];

fn text_args(argv: &[&[u8]]) -> Vec<String> {
    argv.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// INFO

/// `INFO [section ...]`: a bulk string in RESP2, verbatim text in RESP3.
fn info(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let text = crate::server::info::info_text(ctx.state, &text_args(&argv[1..]));
    Frame::Verbatim(Bytes::from(text))
}

// ---------------------------------------------------------------------------
// CONFIG

/// `CONFIG GET pattern [pattern ...]`: a map of matching parameters.
fn config_get(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let pairs = ctx.state.config.config_get(&text_args(&argv[2..]));
    Frame::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Frame::Bulk(Bytes::from(k)), Frame::Bulk(Bytes::from(v))))
            .collect(),
    )
}

/// `CONFIG SET name value [name value ...]`: all or nothing.
fn config_set(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if !(argv.len() - 2).is_multiple_of(2) {
        return syntax_error();
    }
    let args = text_args(&argv[2..]);
    let pairs: Vec<(String, String)> = args
        .chunks_exact(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    match ctx.state.config.config_set(&pairs) {
        Ok(()) => Frame::ok(),
        Err(e) => Frame::err(e),
    }
}

/// `CONFIG REWRITE`: rewrite the config file in place, atomically.
fn config_rewrite(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    match ctx.state.config.rewrite() {
        Ok(()) => {
            tracing::info!("CONFIG REWRITE executed with success.");
            Frame::ok()
        }
        Err(e) => {
            tracing::warn!("CONFIG REWRITE failed: {e}");
            Frame::err(e)
        }
    }
}

/// `CONFIG RESETSTAT`: reset the INFO stats, commandstats and errorstats.
fn config_resetstat(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    ctx.state.stats.reset();
    Frame::ok()
}

/// `CONFIG HELP`.
fn config_help(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    help_lines(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    )
}

// ---------------------------------------------------------------------------
// SLOWLOG

/// The slow log as of now: a lowered `slowlog-max-len` applies at once (Redis trims
/// after every command while the log is enabled).
fn slowlog_of<'a>(ctx: &'a mut Ctx) -> &'a mut crate::server::slowlog::SlowLog {
    let hot = &ctx.state.config.hot;
    if hot.slowlog_slower_than != u64::MAX {
        let max_len = hot.slowlog_max_len;
        ctx.state.slowlog.trim(max_len);
    }
    &mut ctx.state.slowlog
}

/// `SLOWLOG GET [count]`: the newest `count` entries (10 by default, -1 for all),
/// each `[id, unix time, µs, args, "ip:port", name]`.
fn slowlog_get(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let count = match argv.len() {
        2 => 10,
        3 => match int(argv[2]) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => return Frame::err("count should be greater than or equal to -1"),
        },
        _ => {
            return Frame::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                String::from_utf8_lossy(&argv[1][..argv[1].len().min(128)])
            ))
        }
    };
    Frame::Array(
        slowlog_of(ctx)
            .newest(count)
            .map(|e| e.to_frame())
            .collect(),
    )
}

/// `SLOWLOG LEN`: the number of entries.
fn slowlog_len(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Integer(slowlog_of(ctx).len() as i64)
}

/// `SLOWLOG RESET`: forget every entry (`+OK`; ids keep growing).
fn slowlog_reset(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    ctx.state.slowlog.reset();
    Frame::ok()
}

/// `SLOWLOG HELP`.
fn slowlog_help(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    help_lines(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )
}

// ---------------------------------------------------------------------------
// LATENCY

/// `LATENCY LATEST`: `[event, time, latest ms, max ms]` per event.
fn latency_latest(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    ctx.state.latency.latest()
}

/// `LATENCY HISTORY event`: `[time, ms]` per second sampled, oldest first.
fn latency_history(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    ctx.state.latency.history(argv[2])
}

/// `LATENCY RESET [event ...]`: forget all events or the ones named; how many went.
fn latency_reset(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let monitor = &mut ctx.state.latency;
    let n = if argv.len() == 2 {
        monitor.reset(None)
    } else {
        argv[2..].iter().map(|e| monitor.reset(Some(e))).sum()
    };
    Frame::Integer(n as i64)
}

/// `LATENCY HISTOGRAM [command ...]`: `{name: {calls, histogram_usec}}` for every
/// command with tracked calls, or for those named (a container name gives its
/// subcommands too; unknown names are skipped, repeats repeated, as in Redis).
fn latency_histogram(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let stats = &ctx.state.stats.commands;
    let entry = |name: &str| {
        stats
            .get(name)
            .filter(|s| s.histogram.calls > 0)
            .map(|s| (bulk(name), s.histogram.to_frame()))
    };
    let mut out = Vec::new();
    if argv.len() == 2 {
        let mut names: Vec<&String> = stats.keys().collect();
        names.sort();
        out.extend(names.into_iter().filter_map(|n| entry(n)));
    } else {
        for arg in &argv[2..] {
            let Some((c, full)) = find_command(arg) else {
                continue;
            };
            out.extend(entry(&full));
            for s in c.subcommands {
                out.extend(entry(&format!("{full}|{}", s.name)));
            }
        }
    }
    Frame::Map(out)
}

/// `LATENCY HELP` (Redis's text, including the subcommands not done here yet).
fn latency_help(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    help_lines(
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    )
}

// ---------------------------------------------------------------------------
// COMMAND

/// Command-table flags in the order COMMAND INFO lists them.
const FLAG_NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (SKIP_SLOWLOG, "skip_slowlog"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (NO_MULTI, "no_multi"),
];

/// The command family (COMMAND DOCS `group`) of a top-level command.
fn group_of(name: &str) -> &'static str {
    use super::*;
    let families: &[(&[Command], &str)] = &[
        (strings::COMMANDS, "string"),
        (keys::COMMANDS, "generic"),
        (lists::COMMANDS, "list"),
        (hashes::COMMANDS, "hash"),
        (sets::COMMANDS, "set"),
        (zsets::COMMANDS, "sorted-set"),
        (pubsub::COMMANDS, "pubsub"),
        (transactions::COMMANDS, "transactions"),
        (connection::COMMANDS, "connection"),
        (client::COMMANDS, "connection"),
        (replication::COMMANDS, "server"),
        (server::COMMANDS, "server"),
    ];
    families
        .iter()
        .find(|(cmds, _)| cmds.iter().any(|c| c.name == name))
        .map(|(_, g)| *g)
        .unwrap_or("server")
}

fn acl_categories(c: &Command, group: &str) -> Vec<Frame> {
    let mut cats = Vec::new();
    let mut add = |s: &str| cats.push(Frame::simple(format!("@{s}")));
    if c.has(WRITE) {
        add("write");
    }
    if c.has(READONLY) {
        add("read");
    }
    match group {
        "string" => add("string"),
        "list" => add("list"),
        "hash" => add("hash"),
        "set" => add("set"),
        "sorted-set" => add("sortedset"),
        "generic" => add("keyspace"),
        "connection" => add("connection"),
        "transactions" => add("transaction"),
        _ => {}
    }
    if c.has(PUBSUB) {
        add("pubsub");
    }
    if c.has(ADMIN) {
        add("admin");
        add("dangerous");
    }
    if c.has(BLOCKING) {
        add("blocking");
    }
    add(if c.has(FAST) { "fast" } else { "slow" });
    // Redis lists them in its category table's order.
    const ORDER: [&str; 21] = [
        "@keyspace",
        "@read",
        "@write",
        "@set",
        "@sortedset",
        "@list",
        "@hash",
        "@string",
        "@bitmap",
        "@hyperloglog",
        "@geo",
        "@stream",
        "@pubsub",
        "@admin",
        "@fast",
        "@slow",
        "@blocking",
        "@dangerous",
        "@connection",
        "@transaction",
        "@scripting",
    ];
    cats.sort_by_key(|f| {
        let name = f.as_text().unwrap_or_default();
        ORDER.iter().position(|o| *o == name).unwrap_or(ORDER.len())
    });
    cats
}

fn bulk(s: &str) -> Frame {
    Frame::bulk_str(s)
}

/// The key specification derived from first/last/step.
fn key_specs(c: &Command) -> Vec<Frame> {
    if c.first_key <= 0 {
        return Vec::new();
    }
    let flags = if c.has(WRITE) {
        vec![Frame::simple("RW"), Frame::simple("update")]
    } else {
        vec![Frame::simple("RO"), Frame::simple("access")]
    };
    let lastkey = if c.last_key < 0 {
        c.last_key
    } else {
        c.last_key - c.first_key
    };
    vec![Frame::Map(vec![
        (bulk("flags"), Frame::Set(flags)),
        (
            bulk("begin_search"),
            Frame::Map(vec![
                (bulk("type"), bulk("index")),
                (
                    bulk("spec"),
                    Frame::Map(vec![(bulk("index"), Frame::Integer(c.first_key as i64))]),
                ),
            ]),
        ),
        (
            bulk("find_keys"),
            Frame::Map(vec![
                (bulk("type"), bulk("range")),
                (
                    bulk("spec"),
                    Frame::Map(vec![
                        (bulk("lastkey"), Frame::Integer(lastkey as i64)),
                        (bulk("keystep"), Frame::Integer(c.step.max(1) as i64)),
                        (bulk("limit"), Frame::Integer(0)),
                    ]),
                ),
            ]),
        ),
    ])]
}

/// One COMMAND INFO entry (10 elements, server.md §9.1).
fn command_entry(c: &Command, fullname: &str, group: &str) -> Frame {
    let flags: Vec<Frame> = FLAG_NAMES
        .iter()
        .filter(|(f, _)| c.has(*f))
        .map(|(_, n)| Frame::simple(*n))
        .collect();
    let subs: Vec<Frame> = c
        .subcommands
        .iter()
        .map(|s| command_entry(s, &format!("{fullname}|{}", s.name), group))
        .collect();
    let (first, last, step) = if c.first_key > 0 {
        (c.first_key, c.last_key, c.step)
    } else {
        (0, 0, 0)
    };
    Frame::Array(vec![
        bulk(fullname),
        Frame::Integer(c.arity as i64),
        Frame::Set(flags),
        Frame::Integer(first as i64),
        Frame::Integer(last as i64),
        Frame::Integer(step as i64),
        Frame::Set(acl_categories(c, group)),
        Frame::Set(Vec::new()),
        Frame::Set(key_specs(c)),
        Frame::Array(subs),
    ])
}

/// COMMAND's entry for the top-level command `name` as this server's table has it
/// (a sentinel answers with these for the commands both have).
pub fn command_entry_of(name: &str) -> Option<Frame> {
    let c = command::lookup(name.as_bytes())?;
    Some(command_entry(c, c.name, group_of(c.name)))
}

/// Every top-level command, sorted by name.
fn all_commands() -> Vec<&'static Command> {
    let mut v: Vec<&'static Command> = command::table().values().copied().collect();
    v.sort_by_key(|c| c.name);
    v
}

/// Resolve `name` or `container|sub`.
fn find_command(name: &[u8]) -> Option<(&'static Command, String)> {
    let text = String::from_utf8_lossy(name).to_ascii_lowercase();
    match text.split_once('|') {
        Some((top, sub)) => {
            let c = command::lookup(top.as_bytes())?;
            let s = command::lookup_sub(c, sub.as_bytes())?;
            Some((s, format!("{}|{}", c.name, s.name)))
        }
        None => command::lookup(name).map(|c| (c, c.name.to_string())),
    }
}

/// `COMMAND`: every command's entry.
fn command_all(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Array(
        all_commands()
            .into_iter()
            .map(|c| command_entry(c, c.name, group_of(c.name)))
            .collect(),
    )
}

/// `COMMAND COUNT`.
fn command_count(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Integer(command::table().len() as i64)
}

/// `COMMAND INFO [name ...]`: one entry per name (null for unknown names); all
/// commands without names.
fn command_info(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len() == 2 {
        return command_all(ctx, argv);
    }
    Frame::Array(
        argv[2..]
            .iter()
            .map(|n| match find_command(n) {
                Some((c, full)) => {
                    let top = full.split('|').next().unwrap_or("");
                    command_entry(c, &full, group_of(top))
                }
                None => Frame::Null,
            })
            .collect(),
    )
}

/// A COMMAND DOCS doc map. Vigil carries no per-command prose, so only the
/// always-present `group` (and `subcommands` for containers) is given; this is the
/// structure redis-cli's help integration accepts (server.md §9.2-9.3).
fn doc_map(c: &Command, fullname: &str, group: &str) -> Frame {
    let mut pairs = vec![(bulk("group"), bulk(group))];
    if !c.subcommands.is_empty() {
        let subs = c
            .subcommands
            .iter()
            .map(|s| {
                let name = format!("{fullname}|{}", s.name);
                (bulk(&name), doc_map(s, &name, group))
            })
            .collect();
        pairs.push((bulk("subcommands"), Frame::Map(subs)));
    }
    Frame::Map(pairs)
}

/// `COMMAND DOCS [name ...]`: a map of name → doc map (unknown names skipped).
fn command_docs(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut out = Vec::new();
    if argv.len() == 2 {
        for c in all_commands() {
            out.push((bulk(c.name), doc_map(c, c.name, group_of(c.name))));
        }
    } else {
        for n in &argv[2..] {
            if let Some((c, full)) = find_command(n) {
                let top = full.split('|').next().unwrap_or("").to_string();
                out.push((bulk(&full), doc_map(c, &full, group_of(&top))));
            }
        }
    }
    Frame::Map(out)
}

type NameFilter = dyn Fn(&str, &Command, &str) -> bool;

/// `COMMAND LIST [FILTERBY MODULE m|ACLCAT c|PATTERN p]`: every fullname.
fn command_list(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut names = Vec::new();
    for c in all_commands() {
        names.push((c.name.to_string(), c, c.name));
        for s in c.subcommands {
            names.push((format!("{}|{}", c.name, s.name), s, c.name));
        }
    }
    let filter: Box<NameFilter> = match argv.len() {
        2 => Box::new(|_, _, _| true),
        5 if is(argv[2], "filterby") => {
            let value = String::from_utf8_lossy(argv[4]).into_owned();
            if is(argv[3], "module") {
                Box::new(|_, _, _| false)
            } else if is(argv[3], "aclcat") {
                let want = format!("@{}", value.to_ascii_lowercase());
                Box::new(move |_, c, top| {
                    acl_categories(c, group_of(top))
                        .iter()
                        .any(|f| f.as_text().as_deref() == Some(want.as_str()))
                })
            } else if is(argv[3], "pattern") {
                Box::new(move |n, _, _| {
                    crate::server::glob::glob_match(
                        value.to_ascii_lowercase().as_bytes(),
                        n.as_bytes(),
                    )
                })
            } else {
                return syntax_error();
            }
        }
        _ => return syntax_error(),
    };
    Frame::Array(
        names
            .into_iter()
            .filter(|(n, c, top)| filter(n, c, top))
            .map(|(n, _, _)| Frame::Bulk(Bytes::from(n)))
            .collect(),
    )
}

/// `COMMAND GETKEYS cmd [args...]` and `GETKEYSANDFLAGS`: the key arguments of a call.
fn command_getkeys(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let with_flags = is(argv[1], "getkeysandflags");
    let call = &argv[2..];
    let Some(mut cmd) = command::lookup(call[0]) else {
        return Frame::err("Invalid command specified");
    };
    if !cmd.subcommands.is_empty() && call.len() >= 2 {
        match command::lookup_sub(cmd, call[1]) {
            Some(s) => cmd = s,
            None => return Frame::err("Invalid command specified"),
        }
    }
    let n = call.len() as i32;
    if (cmd.arity > 0 && n != cmd.arity) || (cmd.arity < 0 && n < -cmd.arity) {
        return Frame::err("Invalid number of arguments specified for command");
    }
    let keys = cmd.key_args(call);
    if keys.is_empty() {
        return Frame::err("The command has no key arguments");
    }
    let flags = if cmd.has(WRITE) {
        vec![Frame::simple("RW"), Frame::simple("update")]
    } else {
        vec![Frame::simple("RO"), Frame::simple("access")]
    };
    Frame::Array(
        keys.into_iter()
            .map(|k| {
                if with_flags {
                    Frame::Array(vec![
                        Frame::Bulk(Bytes::copy_from_slice(k)),
                        Frame::Set(flags.clone()),
                    ])
                } else {
                    Frame::Bulk(Bytes::copy_from_slice(k))
                }
            })
            .collect(),
    )
}

/// `COMMAND HELP`.
fn command_help(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    help_lines(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    )
}

// ---------------------------------------------------------------------------
// DEBUG

fn debug_unknown(sub: &[u8]) -> Frame {
    Frame::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// `DEBUG <subcommand> ...` (allowed by `enable-debug-command`, checked by the
/// dispatcher).
fn debug(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let sub = String::from_utf8_lossy(argv[1]).to_ascii_lowercase();
    match (sub.as_str(), argv.len()) {
        ("help", 2) => debug_help(),
        ("sleep", 3) => debug_sleep(argv[2]),
        ("digest", 2) => Frame::simple(crate::server::digest::dataset_digest(ctx.state)),
        ("digest-value", _) => {
            let db = &ctx.state.dbs[ctx.client.db];
            Frame::Array(
                argv[2..]
                    .iter()
                    .map(|k| Frame::simple(crate::server::digest::key_digest(db, k)))
                    .collect(),
            )
        }
        ("set-active-expire", 3) => {
            // Redis parses with atoi: anything non-numeric is 0.
            let on = std::str::from_utf8(argv[2])
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0);
            ctx.state.active_expire_enabled = on != 0;
            Frame::ok()
        }
        ("populate", 3..=5) => debug_populate(ctx, argv),
        ("object", 3) => debug_object(ctx, argv[2]),
        ("protocol", 3) => debug_protocol(ctx, argv[2]),
        ("reload", _) => debug_reload(ctx, &argv[2..]),
        _ => debug_unknown(argv[1]),
    }
}

/// `DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]`: save the RDB (unless NOSAVE), then
/// load it back, replacing the dataset (NOFLUSH/MERGE: loaded keys are added over
/// the existing ones). Nothing is propagated.
fn debug_reload(ctx: &mut Ctx, opts: &[&[u8]]) -> Frame {
    use crate::server::replication::persist;
    let (mut merge, mut noflush, mut nosave) = (false, false, false);
    for o in opts {
        if is(o, "merge") {
            merge = true;
        } else if is(o, "noflush") {
            noflush = true;
        } else if is(o, "nosave") {
            nosave = true;
        } else {
            return Frame::err("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
        }
    }
    ctx.propagation = Propagation::Nothing;
    if !nosave {
        if let Err(e) = persist::save_now(ctx.state) {
            tracing::warn!("DEBUG RELOAD: save failed: {e}");
            return Frame::Error("ERR".into());
        }
    }
    let path = ctx.state.config.db_path();
    let loaded = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|data| {
            crate::server::rdb::decode(&data, ctx.state.dbs.len()).map_err(|e| e.to_string())
        });
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("DEBUG RELOAD: can't load {}: {e}", path.display());
            return Frame::err("Error trying to load the RDB dump");
        }
    };
    let now = ctx.now_ms;
    if !(merge || noflush) {
        persist::install(ctx.state, loaded, Some(now));
    } else {
        for (i, map, expires) in loaded.dbs {
            let Some(db) = ctx.state.dbs.get_mut(i) else {
                continue;
            };
            for (k, v) in map {
                match expires.get(&k) {
                    Some(&t) if t <= now => continue,
                    Some(&t) => {
                        db.expires.insert(k.clone(), t);
                    }
                    None => {
                        db.expires.swap_remove(&k);
                    }
                }
                db.map.insert(k, v);
            }
        }
    }
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    Frame::ok()
}

/// `DEBUG SLEEP seconds`: blocks the whole server, as Redis does (strtod; junk is 0).
fn debug_sleep(arg: &[u8]) -> Frame {
    let secs = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(0.0);
    // Bounded: at most an hour, so a typo cannot wedge the server forever.
    std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
    Frame::ok()
}

/// `DEBUG POPULATE count [prefix] [size]`: `prefix:i` = `value:i` (padded or cut to
/// `size`), existing keys skipped, nothing propagated.
fn debug_populate(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    const POSITIVE: &str = "value is out of range, must be positive";
    let count = match int(argv[2]) {
        Ok(n) if n >= 0 => n,
        Ok(_) => return Frame::err(POSITIVE),
        Err(e) => return e,
    };
    let prefix = argv
        .get(3)
        .map(|p| p.to_vec())
        .unwrap_or_else(|| b"key".to_vec());
    let size = match argv.get(4).map(|s| int(s)) {
        None => None,
        Some(Ok(n)) if n >= 0 => Some(n as usize),
        Some(Ok(_)) => return Frame::err(POSITIVE),
        Some(Err(e)) => return e,
    };
    let now = ctx.now_ms;
    let db = ctx.db();
    db.map.reserve(count as usize);
    let mut key = Vec::with_capacity(prefix.len() + 21);
    for i in 0..count {
        key.clear();
        key.extend_from_slice(&prefix);
        key.push(b':');
        key.extend_from_slice(i.to_string().as_bytes());
        if db.contains(&key, now) {
            continue;
        }
        let mut value = format!("value:{i}").into_bytes();
        if let Some(size) = size {
            value.resize(size, 0);
        }
        db.set(&key, Value::Str(Bytes::from(value)));
    }
    ctx.propagation = Propagation::Nothing;
    Frame::ok()
}

/// The encoding Redis 7.0 would report for a value.
fn encoding(v: &Value) -> &'static str {
    match v {
        Value::Str(s) => {
            if s.len() <= 20 && super::args::parse_i64(s).is_some() {
                "int"
            } else if s.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Value::List(_) => "quicklist",
        Value::Hash(h) => {
            if h.len() <= 128 && h.iter().all(|(f, v)| f.len() <= 64 && v.len() <= 64) {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::Set(s) => {
            if s.len() <= 512 && s.iter().all(|m| super::args::parse_i64(m).is_some()) {
                "intset"
            } else {
                "hashtable"
            }
        }
        Value::ZSet(z) => {
            if z.len() <= 128 && z.dict.keys().all(|m| m.len() <= 64) {
                "listpack"
            } else {
                "skiplist"
            }
        }
    }
}

/// `DEBUG OBJECT key`: a status line describing the value.
fn debug_object(ctx: &mut Ctx, key: &[u8]) -> Frame {
    let now = ctx.now_ms;
    let Some(v) = ctx.db().get(key, now) else {
        return Frame::err("no such key");
    };
    let len = match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.iter().map(|e| e.len() + 1).sum(),
        Value::Hash(h) => h.iter().map(|(f, v)| f.len() + v.len() + 2).sum(),
        Value::Set(s) => s.iter().map(|m| m.len() + 1).sum(),
        Value::ZSet(z) => z.dict.keys().map(|m| m.len() + 9).sum(),
    };
    Frame::simple(format!(
        "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:0",
        v as *const Value,
        encoding(v),
        len
    ))
}

/// `DEBUG PROTOCOL type`: one reply of the given RESP type (for client tests).
fn debug_protocol(ctx: &mut Ctx, t: &[u8]) -> Frame {
    let t = String::from_utf8_lossy(t).to_ascii_lowercase();
    match t.as_str() {
        "string" => bulk("Hello World"),
        "integer" => Frame::Integer(12345),
        // The value Redis's DEBUG PROTOCOL double sends (not meant as pi).
        #[allow(clippy::approx_constant)]
        "double" => Frame::Double(3.141),
        "bignum" => Frame::BigNumber("1234567999999999999999999999999999999".into()),
        "null" => Frame::Null,
        "array" => Frame::Array((0..3).map(Frame::Integer).collect()),
        "set" => Frame::Set((0..3).map(Frame::Integer).collect()),
        "map" => Frame::Map(
            (0..3)
                .map(|i| (Frame::Integer(i), Frame::Boolean(i == 1)))
                .collect(),
        ),
        "verbatim" => Frame::Verbatim(Bytes::from_static(b"This is a verbatim\nstring")),
        "true" => Frame::Boolean(true),
        "false" => Frame::Boolean(false),
        "push" => {
            if ctx.client.proto == crate::resp::Proto::Resp2 {
                return Frame::err("RESP2 is not supported by this command");
            }
            ctx.client.pre_replies.push(Frame::Push(vec![
                bulk("server-cpu-usage"),
                Frame::Integer(42),
            ]));
            bulk("Some real reply following the push reply")
        }
        _ => Frame::err(
            "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|verbatim|true|false|push",
        ),
    }
}

fn debug_help() -> Frame {
    help_lines(
        "DEBUG",
        &[
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "OBJECT <key>",
            "    Show low level info about the <key> and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, verbatim, true, false,",
            "    push.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Options: MERGE,",
            "    NOFLUSH, NOSAVE.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    )
}

// ---------------------------------------------------------------------------
// SHUTDOWN, LASTSAVE

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: saves the RDB (SAVE, or save
/// points configured, unless NOSAVE); a failed save cancels the shutdown with
/// `-ERR Errors trying to SHUTDOWN. Check logs.` unless FORCE. On success the
/// caller gets no reply, just EOF, and the server exits. Vigil does not wait for
/// lagging replicas (NOW is implied).
fn shutdown(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let ShutdownArgs {
        save,
        nosave,
        force,
    } = match shutdown_args(&argv[1..]) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let want_save =
        !nosave && !ctx.state.loading && (save || !ctx.state.config.save_points().is_empty());
    tracing::info!(save = want_save, force, "User requested shutdown...");
    if want_save {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if let Err(e) = crate::server::replication::persist::save_stopping_bgsave(ctx.state) {
            tracing::warn!("Error trying to save the DB, can't exit: {e}");
            if !force {
                return Frame::err("Errors trying to SHUTDOWN. Check logs.");
            }
        }
    }
    // Saved (or not wanted) here: the exit path must not save again.
    ctx.state.shutdown = Some(ShutdownRequest::NoSave);
    ctx.client.skip_replies = ctx.client.skip_replies.max(1);
    ctx.client.close_after_reply = true;
    Frame::ok()
}

/// SHUTDOWN's flags.
pub struct ShutdownArgs {
    pub save: bool,
    pub nosave: bool,
    pub force: bool,
}

/// Parse SHUTDOWN's arguments as Redis 7.0 does (a server's and a sentinel's):
/// `-ERR syntax error` for an unknown word or SAVE with NOSAVE or ABORT with
/// anything; ABORT alone is `-ERR No shutdown in progress.` (a Vigil shutdown never
/// waits, so none can be in progress).
pub fn shutdown_args(args: &[&[u8]]) -> Result<ShutdownArgs, Frame> {
    let (mut save, mut nosave, mut abort, mut other) = (false, false, false, false);
    let mut force = false;
    for a in args {
        if is(a, "save") {
            save = true;
        } else if is(a, "nosave") {
            nosave = true;
        } else if is(a, "abort") {
            abort = true;
        } else if is(a, "now") {
            other = true;
        } else if is(a, "force") {
            other = true;
            force = true;
        } else {
            return Err(syntax_error());
        }
    }
    if (save && nosave) || (abort && (save || nosave || other)) {
        return Err(syntax_error());
    }
    if abort {
        return Err(Frame::err("No shutdown in progress."));
    }
    Ok(ShutdownArgs {
        save,
        nosave,
        force,
    })
}

/// `LASTSAVE`: unix time of the last successful save (the start time until then).
fn lastsave(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Integer(ctx.state.lastsave)
}

/// `MONITOR`: from now on, stream every command the server executes (admin
/// commands excepted) to this connection as status lines.
fn monitor(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    if ctx.in_exec {
        return Frame::err("MONITOR isn't allowed for DENY BLOCKING client");
    }
    ctx.state.monitors.insert(ctx.client.id);
    Frame::ok()
}

/// Send one executed command to every MONITOR connection:
/// `+<secs>.<usecs> [<db> <addr>] "arg" "arg" ...`. Monitors that went away are
/// dropped here.
pub fn feed_monitors(
    state: &mut crate::server::state::State,
    client: &crate::server::client::Client,
    argv: &[&[u8]],
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!(
        "{}.{:06} [{} {}]",
        now.as_secs(),
        now.subsec_micros(),
        client.db,
        client.addr
    );
    for (i, a) in argv.iter().enumerate() {
        line.push(' ');
        // Passwords never reach a MONITOR client, as in Redis.
        let shown = if crate::server::slowlog::redacted(argv, i) {
            b"(redacted)".as_slice()
        } else {
            a
        };
        crate::util::quote::repr_bytes(shown, &mut line);
    }
    let frame = Frame::Simple(line.into());
    let clients = &state.clients.entries;
    state.monitors.retain(|id| match clients.get(id) {
        Some(e) => {
            e.push(frame.clone());
            true
        }
        None => false,
    });
}
