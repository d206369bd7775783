//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET, TIME.

use super::args::{int, is};
use crate::resp::{Frame, Proto};
use crate::server::command::{flags::*, Command, Ctx};
use bytes::Bytes;

pub static COMMANDS: &[Command] = &[
    // Like Redis, PING lacks the loading and stale flags: it answers -LOADING and
    // -MASTERDOWN (sentinels count those as alive).
    Command::new("ping", -1, FAST | SUBSCRIBED_OK, ping),
    Command::new("echo", 2, FAST, echo),
    Command::new(
        "quit",
        -1,
        NO_AUTH | LOADING | STALE | FAST | SUBSCRIBED_OK | NO_QUEUE,
        quit,
    ),
    Command::new(
        "hello",
        -1,
        NO_AUTH | LOADING | STALE | FAST | NOSCRIPT,
        hello,
    ),
    Command::new(
        "auth",
        -2,
        NO_AUTH | LOADING | STALE | FAST | NOSCRIPT,
        auth,
    ),
    Command::new("select", 2, LOADING | STALE | FAST, select),
    Command::new(
        "reset",
        1,
        NO_AUTH | LOADING | STALE | FAST | SUBSCRIBED_OK | NO_QUEUE | NOSCRIPT,
        reset,
    ),
    Command::new("time", 1, LOADING | STALE | FAST, time),
];

/// `PING [message]`: `+PONG`, or the message as a bulk. In RESP2 subscribed mode the
/// reply is `["pong", message]`.
fn ping(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len() > 2 {
        return Frame::err("wrong number of arguments for 'ping' command");
    }
    if ctx.client.proto == Proto::Resp2 && ctx.client.subscriptions() > 0 {
        let msg = Bytes::copy_from_slice(argv.get(1).copied().unwrap_or_default());
        return Frame::Array(vec![Frame::bulk_str("pong"), Frame::Bulk(msg)]);
    }
    match argv.get(1) {
        Some(m) => Frame::Bulk(Bytes::copy_from_slice(m)),
        None => Frame::simple("PONG"),
    }
}

/// `ECHO message`.
fn echo(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(argv[1]))
}

/// `QUIT`: `+OK`, then close.
fn quit(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    ctx.client.close_after_reply = true;
    Frame::ok()
}

/// Check a password for `user` against requirepass (the only user is `default`).
fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    if !user.eq_ignore_ascii_case(b"default") {
        return false;
    }
    match &ctx.state.config.hot.requirepass {
        None => true,
        Some(p) => p.as_bytes() == pass,
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// `AUTH [username] password`.
fn auth(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (user, pass): (&[u8], &[u8]) = match argv.len() {
        2 => {
            if ctx.state.config.hot.requirepass.is_none() {
                return Frame::err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            }
            (b"default", argv[1])
        }
        3 => (argv[1], argv[2]),
        _ => return Frame::err("syntax error"),
    };
    if check_password(ctx, user, pass) {
        ctx.client.authenticated = true;
        ctx.client.user = String::from_utf8_lossy(user).into_owned();
        Frame::ok()
    } else {
        Frame::error(WRONGPASS)
    }
}

/// Client names may not contain spaces, newlines or special characters.
pub fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`: switches the
/// protocol and answers the server map (server.md §4).
fn hello(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut ver = None;
    if argv.len() >= 2 {
        let v = match int(argv[1]) {
            Ok(v) => v,
            Err(_) => return Frame::err("Protocol version is not an integer or out of range"),
        };
        if !(2..=3).contains(&v) {
            return Frame::error("NOPROTO unsupported protocol version");
        }
        ver = Some(v);
    }
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is(argv[i], "auth") && more >= 2 {
            if !check_password(ctx, argv[i + 1], argv[i + 2]) {
                return Frame::error(WRONGPASS);
            }
            ctx.client.authenticated = true;
            ctx.client.user = String::from_utf8_lossy(argv[i + 1]).into_owned();
            i += 3;
        } else if is(argv[i], "setname") && more >= 1 {
            if !valid_client_name(argv[i + 1]) {
                return Frame::err(
                    "Client names cannot contain spaces, newlines or special characters.",
                );
            }
            ctx.client.name = if argv[i + 1].is_empty() {
                None
            } else {
                Some(Bytes::copy_from_slice(argv[i + 1]))
            };
            i += 2;
        } else {
            return Frame::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(argv[i])
            ));
        }
    }
    if !ctx.client.authenticated {
        return Frame::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(v) = ver {
        ctx.client.proto = if v == 3 { Proto::Resp3 } else { Proto::Resp2 };
    }
    let role = if ctx.state.is_replica() {
        "replica"
    } else {
        "master"
    };
    Frame::Map(vec![
        (Frame::bulk_str("server"), Frame::bulk_str("redis")),
        (
            Frame::bulk_str("version"),
            Frame::bulk_str(crate::server::REDIS_VERSION),
        ),
        (
            Frame::bulk_str("proto"),
            Frame::Integer(ctx.client.proto.number()),
        ),
        (Frame::bulk_str("id"), Frame::Integer(ctx.client.id as i64)),
        (Frame::bulk_str("mode"), Frame::bulk_str("standalone")),
        (Frame::bulk_str("role"), Frame::bulk_str(role)),
        (Frame::bulk_str("modules"), Frame::Array(vec![])),
    ])
}

/// `SELECT index`.
fn select(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let i = match int(argv[1]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    if i < 0 || i as usize >= ctx.state.dbs.len() {
        return Frame::err("DB index is out of range");
    }
    ctx.client.db = i as usize;
    Frame::ok()
}

/// `RESET`: back to a fresh connection's state; `+RESET`.
fn reset(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    let id = ctx.client.id;
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    crate::server::commands::transactions::unwatch_all(ctx.state, ctx.client);
    for ch in std::mem::take(&mut ctx.client.channels) {
        ctx.state.pubsub.unsubscribe(&ch, id);
    }
    for p in std::mem::take(&mut ctx.client.patterns) {
        ctx.state.pubsub.punsubscribe(&p, id);
    }
    ctx.client.db = 0;
    ctx.client.proto = Proto::Resp2;
    ctx.client.name = None;
    ctx.client.authenticated = ctx.state.config.hot.requirepass.is_none();
    ctx.client.user = "default".into();
    Frame::simple("RESET")
}

/// `TIME`: [unix seconds, microseconds] as bulk strings.
fn time(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Frame::Array(vec![
        Frame::bulk(now.as_secs().to_string()),
        Frame::bulk(now.subsec_micros().to_string()),
    ])
}
