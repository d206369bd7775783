//! CLIENT subcommands (server.md §6): SETNAME, GETNAME, ID, INFO, LIST, KILL,
//! SETINFO, REPLY, NO-EVICT, TRACKING (off only), TRACKINGINFO, GETREDIR, PAUSE,
//! UNPAUSE, HELP. Unknown subcommands (MAINT_NOTIFICATIONS...) are answered by the dispatcher:
//! `-ERR unknown subcommand 'X'. Try CLIENT HELP.`

use super::args::{is, syntax_error};
use super::pubsub::help_lines;
use crate::resp::Frame;
use crate::server::client::{ClientEntry, ClientKind, ClientMsg};
use crate::server::command::{flags::*, Command, Ctx};
use crate::server::pause::{self, PauseKind};
use bytes::Bytes;
use std::time::{Duration, Instant};

pub static COMMANDS: &[Command] = &[Command::new("client", -2, 0, help).subs(SUBS)];

const F: u32 = NOSCRIPT | LOADING | STALE;

static SUBS: &[Command] = &[
    Command::new("setname", 3, F, setname),
    Command::new("getname", 2, F, getname),
    Command::new("id", 2, F, id),
    Command::new("info", 2, F, info),
    Command::new("list", -2, ADMIN | F, list),
    Command::new("kill", -3, ADMIN | F, kill),
    Command::new("setinfo", 4, F, setinfo),
    Command::new("reply", 3, F, reply),
    Command::new("no-evict", 3, ADMIN | F, no_evict),
    Command::new("tracking", -3, F, tracking),
    Command::new("trackinginfo", 2, F, trackinginfo),
    Command::new("getredir", 2, F, getredir),
    Command::new("pause", -3, ADMIN | F, pause),
    Command::new("unpause", 2, ADMIN | F, unpause),
    Command::new("help", 2, F, help),
];

/// Redis's name rule: every byte in `'!'..='~'`.
fn valid_name(b: &[u8]) -> bool {
    b.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Bring this connection's registry entry up to date (the connection task refreshes
/// it only after a batch), so CLIENT LIST/INFO show the caller as it is now.
fn sync_self(ctx: &mut Ctx, fullname: &str) {
    let c = &*ctx.client;
    if let Some(e) = ctx.state.clients.entries.get_mut(&c.id) {
        e.name = c.name.clone();
        e.db = c.db;
        e.sub = c.channels.len();
        e.psub = c.patterns.len();
        e.multi = c.multi.as_ref().map(|q| q.len() as i64).unwrap_or(-1);
        e.proto = c.proto;
        e.user = c.user.clone();
        e.lib_name = c.lib_name.clone();
        e.lib_ver = c.lib_ver.clone();
        e.last_cmd = fullname.to_string();
        e.last_interaction = Instant::now();
        if e.kind == ClientKind::Normal && c.subscriptions() > 0 {
            e.kind = ClientKind::PubSub;
        } else if e.kind == ClientKind::PubSub && c.subscriptions() == 0 {
            e.kind = ClientKind::Normal;
        }
    }
}

/// `CLIENT SETNAME name`: an empty name clears it.
fn setname(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let name = &argv[2];
    if !valid_name(name) {
        return Frame::err("Client names cannot contain spaces, newlines or special characters.");
    }
    ctx.client.name = if name.is_empty() {
        None
    } else {
        Some(Bytes::copy_from_slice(name))
    };
    sync_self(ctx, "client|setname");
    Frame::ok()
}

/// `CLIENT GETNAME`: the name or null.
fn getname(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    match &ctx.client.name {
        Some(n) => Frame::Bulk(n.clone()),
        None => Frame::Null,
    }
}

/// `CLIENT ID`.
fn id(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Integer(ctx.client.id as i64)
}

/// `CLIENT INFO`: the caller's CLIENT LIST line (bulk in RESP2, verbatim in RESP3).
fn info(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    sync_self(ctx, "client|info");
    let now = Instant::now();
    let line = ctx
        .state
        .clients
        .entries
        .get(&ctx.client.id)
        .map(|e| e.info_line(now))
        .unwrap_or_default();
    Frame::Verbatim(Bytes::from(format!("{line}\n")))
}

/// Parse a CLIENT LIST/KILL type name.
fn parse_kind(t: &[u8]) -> Result<ClientKind, Frame> {
    let lower = String::from_utf8_lossy(t).to_ascii_lowercase();
    match lower.as_str() {
        "normal" => Ok(ClientKind::Normal),
        "pubsub" => Ok(ClientKind::PubSub),
        "master" => Ok(ClientKind::Master),
        "replica" | "slave" => Ok(ClientKind::Replica),
        _ => Err(Frame::err(format!(
            "Unknown client type '{}'",
            String::from_utf8_lossy(t)
        ))),
    }
}

/// `CLIENT LIST [TYPE t] [ID id ...]`: one line per connection, in connection order.
fn list(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut kind = None;
    let mut ids: Option<Vec<u64>> = None;
    if argv.len() == 4 && is(argv[2], "type") {
        match parse_kind(argv[3]) {
            Ok(k) => kind = Some(k),
            Err(e) => return e,
        }
    } else if argv.len() >= 4 && is(argv[2], "id") {
        let mut v = Vec::new();
        for a in &argv[3..] {
            match std::str::from_utf8(a)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(n) if n > 0 => v.push(n),
                _ => return Frame::err("Invalid client ID"),
            }
        }
        ids = Some(v);
    } else if argv.len() != 2 {
        return syntax_error();
    }
    sync_self(ctx, "client|list");
    let now = Instant::now();
    let mut entries: Vec<&ClientEntry> = ctx
        .state
        .clients
        .entries
        .values()
        .filter(|e| kind.is_none_or(|k| e.kind == k))
        .filter(|e| ids.as_ref().is_none_or(|v| v.contains(&e.id)))
        .collect();
    entries.sort_by_key(|e| e.id);
    let mut text = String::new();
    for e in entries {
        text.push_str(&e.info_line(now));
        text.push('\n');
    }
    Frame::Verbatim(Bytes::from(text))
}

/// `CLIENT KILL ip:port` (old form: `+OK` or `-ERR No such client`) or
/// `CLIENT KILL <filter> <value> ...` with ID, TYPE, USER, ADDR, LADDR, SKIPME
/// (new form: `:<killed>`; SKIPME defaults to yes).
fn kill(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let me = ctx.client.id;
    if argv.len() == 3 {
        let addr = String::from_utf8_lossy(argv[2]).into_owned();
        let victims: Vec<u64> = ctx
            .state
            .clients
            .entries
            .values()
            .filter(|e| e.addr.to_string() == addr)
            .map(|e| e.id)
            .collect();
        if victims.is_empty() {
            return Frame::err("No such client");
        }
        kill_ids(ctx, &victims);
        return Frame::ok();
    }
    let mut id: Option<u64> = None;
    let mut kind: Option<ClientKind> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut user: Option<String> = None;
    let mut skipme = true;
    let mut i = 2;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return syntax_error();
        };
        let opt = &argv[i];
        if is(opt, "id") {
            match std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
            {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return Frame::err("client-id should be greater than 0"),
            }
        } else if is(opt, "type") {
            match parse_kind(value) {
                Ok(k) => kind = Some(k),
                Err(e) => return e,
            }
        } else if is(opt, "addr") {
            addr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(opt, "laddr") {
            laddr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(opt, "user") {
            let u = String::from_utf8_lossy(value).into_owned();
            if u != "default" {
                return Frame::err(format!("No such user '{u}'"));
            }
            user = Some(u);
        } else if is(opt, "skipme") {
            if is(value, "yes") {
                skipme = true;
            } else if is(value, "no") {
                skipme = false;
            } else {
                return syntax_error();
            }
        } else {
            return syntax_error();
        }
        i += 2;
    }
    sync_self(ctx, "client|kill");
    let victims: Vec<u64> = ctx
        .state
        .clients
        .entries
        .values()
        .filter(|e| id.is_none_or(|x| e.id == x))
        .filter(|e| kind.is_none_or(|k| e.kind == k))
        .filter(|e| addr.as_ref().is_none_or(|a| e.addr.to_string() == *a))
        .filter(|e| laddr.as_ref().is_none_or(|a| e.laddr.to_string() == *a))
        .filter(|e| user.as_ref().is_none_or(|u| e.user == *u))
        .filter(|e| !(skipme && e.id == me))
        .map(|e| e.id)
        .collect();
    kill_ids(ctx, &victims);
    Frame::Integer(victims.len() as i64)
}

/// Close the given connections; the caller itself is closed after its reply.
fn kill_ids(ctx: &mut Ctx, ids: &[u64]) {
    for id in ids {
        if *id == ctx.client.id {
            ctx.client.close_after_reply = true;
        } else if let Some(e) = ctx.state.clients.entries.get(id) {
            let _ = e.tx.send(ClientMsg::Kill(None));
        }
    }
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value` (Redis 7.2; redis-py and the redis crate
/// send it on connect).
fn setinfo(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let attr = &argv[2];
    let value = &argv[3];
    let is_name = is(attr, "lib-name");
    if !is_name && !is(attr, "lib-ver") {
        return Frame::err(format!(
            "Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        ));
    }
    if !valid_name(value) {
        let which = if is_name { "lib-name" } else { "lib-ver" };
        return Frame::err(format!(
            "{which} cannot contain spaces, newlines or special characters."
        ));
    }
    let v = (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
    if is_name {
        ctx.client.lib_name = v;
    } else {
        ctx.client.lib_ver = v;
    }
    sync_self(ctx, "client|setinfo");
    Frame::ok()
}

/// `CLIENT REPLY ON|OFF|SKIP`: ON answers `+OK`; OFF and SKIP answer nothing, SKIP
/// also drops the next command's reply.
fn reply(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if is(argv[2], "on") {
        ctx.client.reply_off = false;
        ctx.client.skip_replies = 0;
        Frame::ok()
    } else if is(argv[2], "off") {
        ctx.client.reply_off = true;
        Frame::ok()
    } else if is(argv[2], "skip") {
        if !ctx.client.reply_off {
            // This command's reply and the next one.
            ctx.client.skip_replies = 2;
        }
        Frame::ok()
    } else {
        syntax_error()
    }
}

/// `CLIENT NO-EVICT ON|OFF`: accepted; Vigil has no client eviction.
fn no_evict(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if is(argv[2], "on") || is(argv[2], "off") {
        Frame::ok()
    } else {
        syntax_error()
    }
}

/// `CLIENT TRACKING OFF`: `+OK`. Client-side caching (ON) is not implemented and is
/// refused with an error rather than silently ignored.
fn tracking(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if is(argv[2], "off") {
        Frame::ok()
    } else if is(argv[2], "on") {
        Frame::err("client-side caching (CLIENT TRACKING ON) is not supported by this server")
    } else {
        syntax_error()
    }
}

/// `CLIENT TRACKINGINFO`: tracking is always off here.
fn trackinginfo(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Map(vec![
        (
            Frame::bulk_str("flags"),
            Frame::Set(vec![Frame::bulk_str("off")]),
        ),
        (Frame::bulk_str("redirect"), Frame::Integer(-1)),
        (Frame::bulk_str("prefixes"), Frame::Array(Vec::new())),
    ])
}

/// `CLIENT GETREDIR`: `-1` (not tracking).
fn getredir(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Integer(-1)
}

/// `CLIENT PAUSE timeout [WRITE|ALL]`: postpone every command (ALL, the default) or
/// the writes (WRITE) of normal clients for `timeout` ms (see `server::pause`).
fn pause(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let Some(ms) = super::args::parse_i64(argv[2]) else {
        return Frame::err("timeout is not an integer or out of range");
    };
    if ms < 0 {
        return Frame::err("timeout is negative");
    }
    let kind = match argv.len() {
        3 => PauseKind::All,
        4 if is(argv[3], "all") => PauseKind::All,
        4 if is(argv[3], "write") => PauseKind::Write,
        4 => return Frame::err("CLIENT PAUSE mode must be WRITE or ALL"),
        _ => {
            return Frame::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(&argv[1][..argv[1].len().min(128)])
            ))
        }
    };
    let now = Instant::now();
    // Redis adds the timeout to its unix-ms clock: a sum past i64 wraps into the past,
    // so such a pause ends at once.
    let end = if ctx.now_ms.checked_add(ms).is_some() {
        now.checked_add(Duration::from_millis(ms as u64))
            .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400))
    } else {
        now
    };
    pause::pause_clients(ctx.state, kind, end);
    Frame::ok()
}

/// `CLIENT UNPAUSE`: end a CLIENT PAUSE (`+OK`, also when there is none).
fn unpause(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    pause::unpause_clients(ctx.state);
    Frame::ok()
}

/// `CLIENT HELP`.
fn help(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    help_lines(
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "    * ID <client-id> [<client-id> ...]",
            "      Return clients of specified IDs only.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "TRACKING (ON|OFF)",
            "    Only OFF is supported by this server.",
            "TRACKINGINFO",
            "    Return information about current client's tracking status.",
        ],
    )
}
