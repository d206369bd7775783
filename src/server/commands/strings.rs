//! Strings (Redis's t_string.c): GET, SET and friends, counters, ranges.

use super::args::{int, int_bytes, is, owned, syntax_error};
use crate::resp::Frame;
use crate::server::command::{flags::*, Command, Ctx, Propagation};
use crate::server::db::{flags, wrongtype, Value};
use crate::server::longdouble::LongDouble;
use bytes::{Bytes, BytesMut};

pub static COMMANDS: &[Command] = &[
    Command::new("get", 2, READONLY | FAST, get).keys(1, 1, 1),
    Command::new("set", -3, WRITE | DENYOOM, set).keys(1, 1, 1),
    Command::new("setnx", 3, WRITE | DENYOOM | FAST, setnx).keys(1, 1, 1),
    Command::new("setex", 4, WRITE | DENYOOM, setex).keys(1, 1, 1),
    Command::new("psetex", 4, WRITE | DENYOOM, psetex).keys(1, 1, 1),
    Command::new("getset", 3, WRITE | DENYOOM | FAST, getset).keys(1, 1, 1),
    Command::new("getdel", 2, WRITE | FAST, getdel).keys(1, 1, 1),
    Command::new("getex", -2, WRITE | FAST, getex).keys(1, 1, 1),
    Command::new("mget", -2, READONLY | FAST, mget).keys(1, -1, 1),
    Command::new("mset", -3, WRITE | DENYOOM, mset).keys(1, -1, 2),
    Command::new("msetnx", -3, WRITE | DENYOOM, msetnx).keys(1, -1, 2),
    Command::new("incr", 2, WRITE | DENYOOM | FAST, incr).keys(1, 1, 1),
    Command::new("decr", 2, WRITE | DENYOOM | FAST, decr).keys(1, 1, 1),
    Command::new("incrby", 3, WRITE | DENYOOM | FAST, incrby).keys(1, 1, 1),
    Command::new("decrby", 3, WRITE | DENYOOM | FAST, decrby).keys(1, 1, 1),
    Command::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, incrbyfloat).keys(1, 1, 1),
    Command::new("append", 3, WRITE | DENYOOM | FAST, append).keys(1, 1, 1),
    Command::new("strlen", 2, READONLY | FAST, strlen).keys(1, 1, 1),
    Command::new("getrange", 4, READONLY, getrange).keys(1, 1, 1),
    Command::new("substr", 4, READONLY, getrange).keys(1, 1, 1),
    Command::new("setrange", 4, WRITE | DENYOOM, setrange).keys(1, 1, 1),
];

/// Values up to this size are copied out of the keyspace rather than shared.
const SMALL_COPY: usize = 512;

/// The string at `key`: Ok(None) when missing, Err(WRONGTYPE) for another type.
pub fn get_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, Frame> {
    let now = ctx.now_ms;
    match ctx.db().get(key, now) {
        None => Ok(None),
        // Small values are copied: cheaper than the shared refcount a clone takes
        // (and drops), and the stored value stays unshared.
        Some(Value::Str(s)) if s.len() <= SMALL_COPY => Ok(Some(Bytes::copy_from_slice(s))),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wrongtype()),
    }
}

fn bulk_or_null(v: Option<Bytes>) -> Frame {
    v.map(Frame::Bulk).unwrap_or(Frame::Null)
}

/// `GET key`.
fn get(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let r = get_string(ctx, argv[1]);
    count_hit(ctx, &r);
    match r {
        Ok(v) => bulk_or_null(v),
        Err(e) => e,
    }
}

fn count_hit(ctx: &mut Ctx, r: &Result<Option<Bytes>, Frame>) {
    match r {
        Ok(Some(_)) => ctx.state.stats.keyspace_hits += 1,
        Ok(None) => ctx.state.stats.keyspace_misses += 1,
        Err(_) => {}
    }
}

/// Expiry given to SET-like commands.
#[derive(Clone, Copy, PartialEq)]
enum Expiry {
    None,
    KeepTtl,
    /// Absolute unix ms.
    At(i64),
}

/// Turn a relative or absolute expire argument into absolute ms, with Redis's checks.
fn expire_at(ctx: &Ctx, arg: &[u8], unit_ms: i64, absolute: bool, cmd: &str) -> Result<i64, Frame> {
    let v = int(arg)?;
    let invalid = || Frame::err(format!("invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = v.checked_mul(unit_ms).ok_or_else(invalid)?;
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(ctx.now_ms).ok_or_else(invalid)
    }
}

/// An `EX|PX|EXAT|PXAT <value>` option as absolute unix ms; `None` when `word` is
/// not one of them (or has no value).
fn expire_option(
    ctx: &Ctx,
    word: &[u8],
    value: Option<&[u8]>,
    cmd: &str,
) -> Option<Result<i64, Frame>> {
    let (unit, absolute) = match word.to_ascii_lowercase().as_slice() {
        b"ex" => (1000, false),
        b"px" => (1, false),
        b"exat" => (1000, true),
        b"pxat" => (1, true),
        _ => return None,
    };
    Some(expire_at(ctx, value?, unit, absolute, cmd))
}

/// Store a string with the given expiry and propagate it as Redis does
/// (`SET k v PXAT <abs>` for any expiry; the plain SET otherwise).
fn store(ctx: &mut Ctx, key: &[u8], value: &[u8], expiry: Expiry) {
    let v = Value::Str(Bytes::copy_from_slice(value));
    let db = ctx.db();
    match expiry {
        Expiry::KeepTtl => db.set_keep_ttl(key, v),
        _ => db.set(key, v),
    }
    if let Expiry::At(at) = expiry {
        ctx.db().set_expire(key, at);
        ctx.propagate_as(vec![vec![
            Bytes::from_static(b"SET"),
            owned(key),
            owned(value),
            Bytes::from_static(b"PXAT"),
            int_bytes(at),
        ]]);
    }
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms|KEEPTTL]`.
fn set(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut expiry = Expiry::None;
    let mut i = 3;
    while i < argv.len() {
        let a = &argv[i];
        let has_next = i + 1 < argv.len();
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get = true;
        } else if is(a, "keepttl") && expiry == Expiry::None {
            expiry = Expiry::KeepTtl;
        } else if let (true, Some(at)) = (
            has_next && expiry == Expiry::None,
            expire_option(ctx, a, argv.get(i + 1).copied(), "set"),
        ) {
            match at {
                Ok(at) => expiry = Expiry::At(at),
                Err(e) => return e,
            }
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    let key = &argv[1];
    let old = match get_string(ctx, key) {
        Ok(v) => v,
        Err(e) if get => return e,
        Err(_) => None,
    };
    let exists = {
        let now = ctx.now_ms;
        ctx.db().contains(key, now)
    };
    if (nx && exists) || (xx && !exists) {
        return if get { bulk_or_null(old) } else { Frame::Null };
    }
    // Without an expiry the SET is propagated verbatim; with one, store() rewrites it.
    store(ctx, key, argv[2], expiry);
    if get {
        bulk_or_null(old)
    } else {
        Frame::ok()
    }
}

/// `SETNX key value`: 1 if set.
fn setnx(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    if ctx.db().contains(argv[1], now) {
        return Frame::Integer(0);
    }
    store(ctx, argv[1], argv[2], Expiry::None);
    Frame::Integer(1)
}

fn setex_generic(ctx: &mut Ctx, argv: &[&[u8]], unit: i64, name: &str) -> Frame {
    match expire_at(ctx, argv[2], unit, false, name) {
        Ok(at) => {
            store(ctx, argv[1], argv[3], Expiry::At(at));
            Frame::ok()
        }
        Err(e) => e,
    }
}

/// `SETEX key seconds value`.
fn setex(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    setex_generic(ctx, argv, 1000, "setex")
}

/// `PSETEX key milliseconds value`.
fn psetex(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    setex_generic(ctx, argv, 1, "psetex")
}

/// `GETSET key value`: old value, sets the new one (clears TTL).
fn getset(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match get_string(ctx, argv[1]) {
        Ok(old) => {
            store(ctx, argv[1], argv[2], Expiry::None);
            bulk_or_null(old)
        }
        Err(e) => e,
    }
}

/// `GETDEL key`.
fn getdel(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match get_string(ctx, argv[1]) {
        Ok(Some(v)) => {
            let now = ctx.now_ms;
            ctx.db().remove(argv[1], now);
            ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), owned(argv[1])]]);
            Frame::Bulk(v)
        }
        Ok(None) => Frame::Null,
        Err(e) => e,
    }
}

/// `GETEX key [EX s|PX ms|EXAT ts|PXAT ms|PERSIST]`.
fn getex(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    enum Op {
        Keep,
        At(i64),
        Persist,
    }
    let mut op = Op::Keep;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "persist") && matches!(op, Op::Keep) {
            op = Op::Persist;
        } else if let (true, Some(at)) = (
            i + 1 < argv.len() && matches!(op, Op::Keep),
            expire_option(ctx, a, argv.get(i + 1).copied(), "getex"),
        ) {
            match at {
                Ok(at) => op = Op::At(at),
                Err(e) => return e,
            }
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    let v = match get_string(ctx, argv[1]) {
        Ok(Some(v)) => v,
        Ok(None) => return Frame::Null,
        Err(e) => return e,
    };
    let key = owned(argv[1]);
    match op {
        Op::Keep => ctx.propagation = Propagation::Nothing,
        Op::Persist => {
            if ctx.db().persist(&key) {
                ctx.propagate_as(vec![vec![Bytes::from_static(b"PERSIST"), key]]);
            }
        }
        Op::At(at) if at <= ctx.now_ms => {
            let now = ctx.now_ms;
            ctx.db().remove(&key, now);
            ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), key]]);
        }
        Op::At(at) => {
            ctx.db().set_expire(&key, at);
            ctx.propagate_as(vec![vec![
                Bytes::from_static(b"PEXPIREAT"),
                key,
                int_bytes(at),
            ]]);
        }
    }
    Frame::Bulk(v)
}

/// `MGET key [key ...]`: nulls for missing keys and non-strings.
fn mget(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let db = ctx.db();
    Frame::Array(
        argv[1..]
            .iter()
            .map(|k| match db.get(k, now) {
                Some(Value::Str(s)) => Frame::Bulk(s.clone()),
                _ => Frame::Null,
            })
            .collect(),
    )
}

/// `MSET key value [key value ...]`.
fn mset(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len().is_multiple_of(2) {
        return Frame::err("wrong number of arguments for 'mset' command");
    }
    for pair in argv[1..].chunks(2) {
        store(ctx, pair[0], pair[1], Expiry::None);
    }
    Frame::ok()
}

/// `MSETNX key value [key value ...]`: all or nothing; 1 if set.
fn msetnx(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len().is_multiple_of(2) {
        return Frame::err("wrong number of arguments for 'msetnx' command");
    }
    let now = ctx.now_ms;
    if argv[1..].chunks(2).any(|p| ctx.db().contains(p[0], now)) {
        return Frame::Integer(0);
    }
    for pair in argv[1..].chunks(2) {
        store(ctx, pair[0], pair[1], Expiry::None);
    }
    Frame::Integer(1)
}

/// Add `delta` to the integer at `key` (created as 0), keeping its TTL.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) -> Frame {
    let cur = match get_string(ctx, key) {
        Ok(Some(v)) => match super::args::parse_i64(&v) {
            Some(n) => n,
            None => return Frame::err(super::args::NOT_INTEGER),
        },
        Ok(None) => 0,
        Err(e) => return e,
    };
    let Some(next) = cur.checked_add(delta) else {
        return Frame::err("increment or decrement would overflow");
    };
    ctx.db().set_keep_ttl(key, Value::Str(int_bytes(next)));
    Frame::Integer(next)
}

/// `INCR key`.
fn incr(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    incr_by(ctx, argv[1], 1)
}

/// `DECR key`.
fn decr(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    incr_by(ctx, argv[1], -1)
}

/// `INCRBY key increment`.
fn incrby(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match int(argv[2]) {
        Ok(d) => incr_by(ctx, argv[1], d),
        Err(e) => e,
    }
}

/// `DECRBY key decrement`.
fn decrby(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match int(argv[2]) {
        Ok(d) if d == i64::MIN => Frame::err("decrement would overflow"),
        Ok(d) => incr_by(ctx, argv[1], -d),
        Err(e) => e,
    }
}

/// `INCRBYFLOAT key increment`: adds in x87 `long double` like Redis (see
/// [`LongDouble`]), stores and answers the `%.17Lf`-style text; propagated as
/// `SET key <result> KEEPTTL`.
fn incrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let cur = match get_string(ctx, argv[1]) {
        Ok(Some(v)) => match LongDouble::parse(&v) {
            Some(n) => n,
            None => return Frame::err(super::args::NOT_FLOAT),
        },
        Ok(None) => LongDouble::zero(false),
        Err(e) => return e,
    };
    let Some(delta) = LongDouble::parse(argv[2]) else {
        return Frame::err(super::args::NOT_FLOAT);
    };
    let Some(next) = cur.checked_add(delta) else {
        return Frame::err("increment would produce NaN or Infinity");
    };
    let text = Bytes::from(next.to_human());
    let db = ctx.db();
    db.set_keep_ttl(argv[1], Value::Str(text.clone()));
    // Redis stores the text as made (createStringObject): never an integer.
    db.set_flags(argv[1], flags::PLAIN);
    ctx.propagate_as(vec![vec![
        Bytes::from_static(b"SET"),
        owned(argv[1]),
        text.clone(),
        Bytes::from_static(b"KEEPTTL"),
    ]]);
    Frame::Bulk(text)
}

fn check_size(ctx: &Ctx, len: usize) -> Result<(), Frame> {
    if len > ctx.state.config.hot.proto_max_bulk_len {
        Err(Frame::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        ))
    } else {
        Ok(())
    }
}

/// `APPEND key value`: new length.
fn append(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (cur, existed) = match get_string(ctx, argv[1]) {
        Ok(v) => (v.clone().unwrap_or_default(), v.is_some()),
        Err(e) => return e,
    };
    if let Err(e) = check_size(ctx, cur.len() + argv[2].len()) {
        return e;
    }
    let mut b = BytesMut::with_capacity(cur.len() + argv[2].len());
    b.extend_from_slice(&cur);
    b.extend_from_slice(argv[2]);
    let len = b.len();
    let db = ctx.db();
    db.set_keep_ttl(argv[1], Value::Str(b.freeze()));
    // Appending to a string makes it raw; a new key is encoded like SET's value.
    if existed {
        db.set_flags(argv[1], flags::RAW);
    }
    Frame::Integer(len as i64)
}

/// `STRLEN key`.
fn strlen(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match get_string(ctx, argv[1]) {
        Ok(v) => Frame::Integer(v.map(|b| b.len()).unwrap_or(0) as i64),
        Err(e) => e,
    }
}

/// `GETRANGE key start end` (negative indexes count from the end).
fn getrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (start, end) = match (int(argv[2]), int(argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let v = match get_string(ctx, argv[1]) {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => return e,
    };
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Frame::bulk(Bytes::new());
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if len == 0 || s > e {
        return Frame::bulk(Bytes::new());
    }
    Frame::Bulk(v.slice(s as usize..=e as usize))
}

/// `SETRANGE key offset value`: new length; zero-padded.
fn setrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let offset = match int(argv[2]) {
        Ok(o) if o >= 0 => o as usize,
        Ok(_) => return Frame::err("offset is out of range"),
        Err(e) => return e,
    };
    let cur = match get_string(ctx, argv[1]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let value = &argv[3];
    if value.is_empty() {
        return Frame::Integer(cur.map(|c| c.len()).unwrap_or(0) as i64);
    }
    if let Err(e) = check_size(ctx, offset + value.len()) {
        return e;
    }
    let cur = cur.unwrap_or_default();
    let mut b = BytesMut::from(&cur[..]);
    if b.len() < offset + value.len() {
        b.resize(offset + value.len(), 0);
    }
    b[offset..offset + value.len()].copy_from_slice(value);
    let len = b.len();
    let db = ctx.db();
    db.set_keep_ttl(argv[1], Value::Str(b.freeze()));
    db.set_flags(argv[1], flags::RAW);
    Frame::Integer(len as i64)
}
