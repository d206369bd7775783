//! Lists (Redis's t_list.c): pushes, pops (with counts), ranges, LPOS, LMOVE, LMPOP
//! and the blocking forms BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP.

use super::args::{int, is, owned, syntax_error, NOT_INTEGER};
use crate::resp::Frame;
use crate::server::command::{flags::*, owned_args, BlockOn, Command, Ctx};
use crate::server::db::{wrongtype, Value};
use bytes::Bytes;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub static COMMANDS: &[Command] = &[
    Command::new("lpush", -3, WRITE | DENYOOM | FAST, lpush).keys(1, 1, 1),
    Command::new("rpush", -3, WRITE | DENYOOM | FAST, rpush).keys(1, 1, 1),
    Command::new("lpushx", -3, WRITE | DENYOOM | FAST, lpushx).keys(1, 1, 1),
    Command::new("rpushx", -3, WRITE | DENYOOM | FAST, rpushx).keys(1, 1, 1),
    Command::new("lpop", -2, WRITE | FAST, lpop).keys(1, 1, 1),
    Command::new("rpop", -2, WRITE | FAST, rpop).keys(1, 1, 1),
    Command::new("lrange", 4, READONLY, lrange).keys(1, 1, 1),
    Command::new("llen", 2, READONLY | FAST, llen).keys(1, 1, 1),
    Command::new("lindex", 3, READONLY, lindex).keys(1, 1, 1),
    Command::new("lset", 4, WRITE | DENYOOM, lset).keys(1, 1, 1),
    Command::new("lrem", 4, WRITE, lrem).keys(1, 1, 1),
    Command::new("ltrim", 4, WRITE, ltrim).keys(1, 1, 1),
    Command::new("linsert", 5, WRITE | DENYOOM, linsert).keys(1, 1, 1),
    Command::new("lpos", -3, READONLY, lpos).keys(1, 1, 1),
    Command::new("lmove", 5, WRITE | DENYOOM, lmove).keys(1, 2, 1),
    Command::new("rpoplpush", 3, WRITE | DENYOOM, rpoplpush).keys(1, 2, 1),
    Command::new("lmpop", -4, WRITE, lmpop),
    Command::new("blpop", -3, WRITE | BLOCKING, blpop).keys(1, -2, 1),
    Command::new("brpop", -3, WRITE | BLOCKING, brpop).keys(1, -2, 1),
    Command::new("blmove", 6, WRITE | DENYOOM | BLOCKING, blmove).keys(1, 2, 1),
    Command::new("brpoplpush", 4, WRITE | DENYOOM | BLOCKING, brpoplpush).keys(1, 2, 1),
    Command::new("blmpop", -5, WRITE | BLOCKING, blmpop),
];

fn is_list(v: &Value) -> bool {
    matches!(v, Value::List(_))
}

fn new_list() -> Value {
    Value::List(Box::default())
}

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

/// Resolve Redis's inclusive `start..=end` index pair (negative from the end) against
/// `len`: `None` when the range is empty. Used by LRANGE, LTRIM, ZRANGE by rank...
pub fn index_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

/// The list at `key` for reading: Ok(None) when missing.
fn read_list<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a VecDeque<Bytes>>, Frame> {
    match super::keys::lookup_read(ctx, key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(wrongtype()),
    }
}

/// The list at `key` for writing (no modification counted yet): Ok(None) when missing.
fn write_list<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut VecDeque<Bytes>>, Frame> {
    let now = ctx.now_ms;
    match ctx.db().lookup_write(key, now) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(wrongtype()),
    }
}

/// Tell blocked clients that `key` got elements (only when someone waits at all).
fn signal_ready(ctx: &mut Ctx, key: &[u8]) {
    if !ctx.state.blocking.waiting.is_empty() {
        ctx.db().signal_ready(key);
    }
}

/// Push `argv[2..]` at the head or tail; `only_existing` for LPUSHX/RPUSHX.
fn push_generic(ctx: &mut Ctx, argv: &[&[u8]], left: bool, only_existing: bool) -> Frame {
    let now = ctx.now_ms;
    let key = &argv[1];
    let db = ctx.db();
    let list = if only_existing {
        match db.lookup_write(key, now) {
            None => return Frame::Integer(0),
            Some(Value::List(l)) => l,
            Some(_) => return wrongtype(),
        }
    } else {
        match db.get_or_create(key, now, is_list, new_list) {
            Ok(Value::List(l)) => l,
            Ok(_) => return wrongtype(),
            Err(e) => return e,
        }
    };
    let vals = &argv[2..];
    if left {
        for v in vals {
            list.push_front(owned(v));
        }
    } else {
        list.extend(vals.iter().map(|v| owned(v)));
    }
    let len = list.len();
    if only_existing {
        db.modified(key, vals.len() as u64);
    }
    signal_ready(ctx, key);
    Frame::Integer(len as i64)
}

/// `LPUSH key element [element ...]`: new length.
fn lpush(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    push_generic(ctx, argv, true, false)
}

/// `RPUSH key element [element ...]`: new length.
fn rpush(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    push_generic(ctx, argv, false, false)
}

/// `LPUSHX key element [element ...]`: only onto an existing list; 0 otherwise.
fn lpushx(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    push_generic(ctx, argv, true, true)
}

/// `RPUSHX key element [element ...]`.
fn rpushx(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    push_generic(ctx, argv, false, true)
}

/// Pop up to `n` elements from one end of the list at `key` (which must exist and be
/// a list); deletes the key when emptied.
fn pop_n(ctx: &mut Ctx, key: &[u8], left: bool, n: usize) -> Vec<Bytes> {
    let now = ctx.now_ms;
    let db = ctx.db();
    let Some(Value::List(l)) = db.lookup_write(key, now) else {
        return Vec::new();
    };
    let n = n.min(l.len());
    let out: Vec<Bytes> = if left {
        l.drain(..n).collect()
    } else {
        (0..n).filter_map(|_| l.pop_back()).collect()
    };
    if !out.is_empty() {
        db.modified(key, out.len() as u64);
        db.remove_if_empty(key);
    }
    out
}

/// `LPOP key [count]` / `RPOP key [count]`.
fn pop_generic(ctx: &mut Ctx, argv: &[&[u8]], left: bool) -> Frame {
    if argv.len() > 3 {
        let name = if left { "lpop" } else { "rpop" };
        return Frame::err(format!("wrong number of arguments for '{name}' command"));
    }
    let count = if argv.len() == 3 {
        match super::args::parse_i64(argv[2]) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Frame::err("value is out of range, must be positive"),
        }
    } else {
        None
    };
    let key = &argv[1];
    match read_list(ctx, key) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return if count.is_some() {
                Frame::NullArray
            } else {
                Frame::Null
            }
        }
        Err(e) => return e,
    }
    match count {
        None => match pop_n(ctx, key, left, 1).pop() {
            Some(v) => Frame::Bulk(v),
            None => Frame::Null,
        },
        Some(0) => Frame::Array(Vec::new()),
        Some(n) => Frame::Array(
            pop_n(ctx, key, left, n)
                .into_iter()
                .map(Frame::Bulk)
                .collect(),
        ),
    }
}

/// `LPOP key [count]`.
fn lpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    pop_generic(ctx, argv, true)
}

/// `RPOP key [count]`.
fn rpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    pop_generic(ctx, argv, false)
}

/// `LRANGE key start stop`.
fn lrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (start, end) = match (int(argv[2]), int(argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let l = match read_list(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Frame::Array(Vec::new()),
        Err(e) => return e,
    };
    match index_range(start, end, l.len()) {
        None => Frame::Array(Vec::new()),
        Some((s, e)) => Frame::bulk_array(l.range(s..=e).map(|v| v.as_ref())),
    }
}

/// `LLEN key`.
fn llen(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_list(ctx, argv[1]) {
        Ok(l) => Frame::Integer(l.map_or(0, |l| l.len()) as i64),
        Err(e) => e,
    }
}

/// A Redis list index (negative from the end) → position, if inside.
fn list_pos(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

/// `LINDEX key index`: element or null.
fn lindex(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let l = match read_list(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Frame::Null,
        Err(e) => return e,
    };
    let Some(index) = super::args::parse_i64(argv[2]) else {
        return Frame::err(NOT_INTEGER);
    };
    match list_pos(index, l.len()) {
        Some(i) => Frame::Bulk(l[i].clone()),
        None => Frame::Null,
    }
}

/// `LSET key index element`.
fn lset(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let l = match write_list(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Frame::err("no such key"),
        Err(e) => return e,
    };
    let Some(index) = super::args::parse_i64(argv[2]) else {
        return Frame::err(NOT_INTEGER);
    };
    match list_pos(index, l.len()) {
        Some(i) => {
            l[i] = owned(argv[3]);
            ctx.db().modified(argv[1], 1);
            Frame::ok()
        }
        None => Frame::err("index out of range"),
    }
}

/// `LREM key count element`: removed count (count > 0 from the head, < 0 from the
/// tail, 0 all).
fn lrem(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let count = match int(argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let key = &argv[1];
    let elem = &argv[3];
    let l = match write_list(ctx, key) {
        Ok(Some(l)) => l,
        Ok(None) => return Frame::Integer(0),
        Err(e) => return e,
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut removed = 0usize;
    if count >= 0 {
        l.retain(|v| {
            if removed < limit && v == elem {
                removed += 1;
                false
            } else {
                true
            }
        });
    } else {
        let mut i = l.len();
        while i > 0 && removed < limit {
            i -= 1;
            if l[i] == elem {
                l.remove(i);
                removed += 1;
            }
        }
    }
    if removed > 0 {
        let db = ctx.db();
        db.modified(key, removed as u64);
        db.remove_if_empty(key);
    }
    Frame::Integer(removed as i64)
}

/// `LTRIM key start stop`.
fn ltrim(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (start, end) = match (int(argv[2]), int(argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let key = &argv[1];
    let l = match write_list(ctx, key) {
        Ok(Some(l)) => l,
        Ok(None) => return Frame::ok(),
        Err(e) => return e,
    };
    let before = l.len();
    match index_range(start, end, l.len()) {
        None => l.clear(),
        Some((s, e)) => {
            l.truncate(e + 1);
            l.drain(..s);
        }
    }
    let removed = before - l.len();
    let db = ctx.db();
    if removed > 0 {
        db.modified(key, removed as u64);
    }
    db.remove_if_empty(key);
    Frame::ok()
}

/// `LINSERT key BEFORE|AFTER pivot element`: new length, -1 without pivot, 0 without key.
fn linsert(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let after = if is(argv[2], "after") {
        true
    } else if is(argv[2], "before") {
        false
    } else {
        return syntax_error();
    };
    let l = match write_list(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Frame::Integer(0),
        Err(e) => return e,
    };
    let Some(pos) = l.iter().position(|v| v == argv[3]) else {
        return Frame::Integer(-1);
    };
    l.insert(if after { pos + 1 } else { pos }, owned(argv[4]));
    let len = l.len();
    ctx.db().modified(argv[1], 1);
    Frame::Integer(len as i64)
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
fn lpos(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (mut rank, mut count, mut maxlen): (i64, Option<i64>, i64) = (1, None, 0);
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if is(argv[j], "rank") && more {
            rank = match int(argv[j + 1]) {
                Ok(r) => r,
                Err(e) => return e,
            };
            if rank == 0 {
                return Frame::err("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            if rank == i64::MIN {
                // Redis negates it and overflows back to a negative rank: it
                // then behaves as a search from the tail for the first match.
                rank = -1;
            }
        } else if is(argv[j], "count") && more {
            match super::args::parse_i64(argv[j + 1]) {
                Some(c) if c >= 0 => count = Some(c),
                _ => return Frame::err("COUNT can't be negative"),
            }
        } else if is(argv[j], "maxlen") && more {
            match super::args::parse_i64(argv[j + 1]) {
                Some(m) if m >= 0 => maxlen = m,
                _ => return Frame::err("MAXLEN can't be negative"),
            }
        } else {
            return syntax_error();
        }
        j += 2;
    }
    let l = match read_list(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return if count.is_some() {
                Frame::Array(Vec::new())
            } else {
                Frame::Null
            }
        }
        Err(e) => return e,
    };
    let elem = &argv[2];
    let want = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(c) => c as usize,
    };
    let scan_limit = if maxlen == 0 {
        l.len()
    } else {
        (maxlen as usize).min(l.len())
    };
    let mut skip = rank.unsigned_abs() as usize - 1;
    let mut found = Vec::new();
    let mut check = |i: usize, v: &Bytes| -> bool {
        if v == elem {
            if skip > 0 {
                skip -= 1;
            } else {
                found.push(Frame::Integer(i as i64));
                if found.len() >= want {
                    return true;
                }
            }
        }
        false
    };
    if rank > 0 {
        for (i, v) in l.iter().enumerate().take(scan_limit) {
            if check(i, v) {
                break;
            }
        }
    } else {
        for (i, v) in l.iter().enumerate().rev().take(scan_limit) {
            if check(i, v) {
                break;
            }
        }
    }
    match count {
        Some(_) => Frame::Array(found),
        None => found.pop().unwrap_or(Frame::Null),
    }
}

/// LEFT → true, RIGHT → false.
fn parse_side(arg: &[u8]) -> Result<bool, Frame> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(syntax_error())
    }
}

fn side_name(left: bool) -> Bytes {
    if left {
        b(b"LEFT")
    } else {
        b(b"RIGHT")
    }
}

/// Move one element from `src` to `dst`. Ok(None) when `src` is missing; WRONGTYPE
/// when either key holds another type (checked before anything moves).
fn move_one(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Bytes>, Frame> {
    if read_list(ctx, src)?.is_none() {
        return Ok(None);
    }
    read_list(ctx, dst)?;
    if src == dst {
        // Rotation in place: the key (and its TTL) stays.
        let Some(l) = write_list(ctx, src)? else {
            return Ok(None);
        };
        let Some(v) = (if from_left {
            l.pop_front()
        } else {
            l.pop_back()
        }) else {
            return Ok(None);
        };
        if to_left {
            l.push_front(v.clone());
        } else {
            l.push_back(v.clone());
        }
        ctx.db().modified(src, 2);
        signal_ready(ctx, src);
        return Ok(Some(v));
    }
    let Some(v) = pop_n(ctx, src, from_left, 1).pop() else {
        return Ok(None);
    };
    let now = ctx.now_ms;
    match ctx.db().get_or_create(dst, now, is_list, new_list)? {
        Value::List(l) => {
            if to_left {
                l.push_front(v.clone());
            } else {
                l.push_back(v.clone());
            }
        }
        _ => return Err(wrongtype()),
    }
    signal_ready(ctx, dst);
    Ok(Some(v))
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: the moved element or null.
fn lmove(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (from, to) = match (parse_side(argv[3]), parse_side(argv[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match move_one(ctx, argv[1], argv[2], from, to) {
        Ok(Some(v)) => Frame::Bulk(v),
        Ok(None) => Frame::Null,
        Err(e) => e,
    }
}

/// `RPOPLPUSH source destination`.
fn rpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match move_one(ctx, argv[1], argv[2], false, true) {
        Ok(Some(v)) => Frame::Bulk(v),
        Ok(None) => Frame::Null,
        Err(e) => e,
    }
}

/// Parse a blocking timeout in seconds (a float): `None` = wait forever.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Instant>, Frame> {
    let secs = super::args::parse_f64(arg)
        .filter(|s| s.is_finite())
        .ok_or_else(|| Frame::err("timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    // Beyond a long long the C conversion wraps negative: Redis says "negative".
    if !(0.0..9.2e18).contains(&ms) {
        return Err(Frame::err("timeout is negative"));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    Instant::now()
        .checked_add(Duration::from_millis(ms as u64))
        .map(Some)
        .ok_or_else(|| Frame::err("timeout is out of range"))
}

/// Block on `keys` until `deadline` (the timeout reply is a null array); inside EXEC
/// the timeout reply comes at once.
pub fn block_on(ctx: &mut Ctx, keys: &[&[u8]], deadline: Option<Instant>) -> Frame {
    if ctx.in_exec {
        return Frame::NullArray;
    }
    ctx.block = Some(BlockOn {
        keys: owned_args(keys),
        deadline,
        timeout_reply: Frame::NullArray,
    });
    Frame::NullArray
}

/// The first of `keys` holding a non-empty list; WRONGTYPE if a key before it holds
/// another type.
fn first_nonempty(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Option<Bytes>, Frame> {
    for k in keys {
        if read_list(ctx, k)?.is_some_and(|l| !l.is_empty()) {
            return Ok(Some(owned(k)));
        }
    }
    Ok(None)
}

/// What serving a pop from the first non-empty key gives: the reply, `None` when
/// every key is empty, or an error (WRONGTYPE).
pub type Served = Result<Option<Frame>, Frame>;

/// Shared body of BLPOP/BRPOP/BZPOPMIN/BZPOPMAX (`CMD key [key ...] timeout`): parse
/// the timeout, then answer with `serve(ctx, keys)` or block on all the keys.
pub fn blocking_pop(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    serve: impl FnOnce(&mut Ctx, &[&[u8]]) -> Served,
) -> Frame {
    let deadline = match parse_timeout(argv[argv.len() - 1]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let keys = &argv[1..argv.len() - 1];
    match serve(ctx, keys) {
        Ok(Some(f)) => f,
        Ok(None) => block_on(ctx, keys, deadline),
        Err(e) => e,
    }
}

/// Shared body of LMPOP/BLMPOP/ZMPOP/BZMPOP: `[timeout] numkeys key [key ...] <side>
/// [COUNT count]` (the timeout only when `blocking`). `side` parses LEFT|RIGHT or
/// MIN|MAX; `serve(ctx, keys, side, count)` pops from the first non-empty key.
pub fn mpop(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    blocking: bool,
    side: fn(&[u8]) -> Result<bool, Frame>,
    serve: fn(&mut Ctx, &[&[u8]], bool, usize) -> Served,
) -> Frame {
    let (deadline, rest) = if blocking {
        match parse_timeout(argv[1]) {
            Ok(d) => (d, &argv[2..]),
            Err(e) => return e,
        }
    } else {
        (None, &argv[1..])
    };
    let a = match parse_mpop(rest) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let s = match side(a.side) {
        Ok(s) => s,
        Err(e) => return e,
    };
    match serve(ctx, &a.keys, s, a.count) {
        Ok(Some(f)) => f,
        Ok(None) if blocking => block_on(ctx, &a.keys, deadline),
        Ok(None) => Frame::NullArray,
        Err(e) => e,
    }
}

/// Pop one element from the first non-empty list: `[key, element]`, propagated as
/// LPOP/RPOP.
fn pop_first(ctx: &mut Ctx, keys: &[&[u8]], left: bool) -> Served {
    let Some(k) = first_nonempty(ctx, keys)? else {
        return Ok(None);
    };
    let v = pop_n(ctx, &k, left, 1);
    let name = if left { b(b"LPOP") } else { b(b"RPOP") };
    ctx.propagate_as(vec![vec![name, k.clone()]]);
    let mut items = vec![Frame::Bulk(k)];
    items.extend(v.into_iter().map(Frame::Bulk));
    Ok(Some(Frame::Array(items)))
}

/// `BLPOP key [key ...] timeout`.
fn blpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    blocking_pop(ctx, argv, |ctx, keys| pop_first(ctx, keys, true))
}

/// `BRPOP key [key ...] timeout`.
fn brpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    blocking_pop(ctx, argv, |ctx, keys| pop_first(ctx, keys, false))
}

/// Shared body of BLMOVE and BRPOPLPUSH; `prop` is the non-blocking form to propagate.
fn bmove_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    from: bool,
    to: bool,
    timeout: &[u8],
    prop: Vec<Bytes>,
) -> Frame {
    let deadline = match parse_timeout(timeout) {
        Ok(d) => d,
        Err(e) => return e,
    };
    match move_one(ctx, argv[1], argv[2], from, to) {
        Ok(Some(v)) => {
            ctx.propagate_as(vec![prop]);
            Frame::Bulk(v)
        }
        // Inside EXEC the non-blocking form's null answers at once.
        Ok(None) if ctx.in_exec => Frame::Null,
        Ok(None) => block_on(ctx, &argv[1..2], deadline),
        Err(e) => e,
    }
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`.
fn blmove(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (from, to) = match (parse_side(argv[3]), parse_side(argv[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let prop = vec![
        b(b"LMOVE"),
        owned(argv[1]),
        owned(argv[2]),
        side_name(from),
        side_name(to),
    ];
    bmove_generic(ctx, argv, from, to, argv[5], prop)
}

/// `BRPOPLPUSH source destination timeout`.
fn brpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let prop = vec![b(b"RPOPLPUSH"), owned(argv[1]), owned(argv[2])];
    bmove_generic(ctx, argv, false, true, argv[3], prop)
}

/// Parsed `numkeys key [key ...] <where> [COUNT count]` of LMPOP/BLMPOP/ZMPOP.
pub struct MpopArgs<'a> {
    pub keys: Vec<&'a [u8]>,
    /// The word after the keys (LEFT/RIGHT or MIN/MAX), still to be parsed.
    pub side: &'a [u8],
    pub count: usize,
}

/// Parse the MPOP argument tail starting at `numkeys`.
pub fn parse_mpop<'a>(args: &[&'a [u8]]) -> Result<MpopArgs<'a>, Frame> {
    let numkeys = match super::args::parse_i64(args[0]) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err(Frame::err("numkeys should be greater than 0")),
    };
    if numkeys >= args.len() - 1 {
        return Err(syntax_error());
    }
    let keys = args[1..=numkeys].to_vec();
    let side = args[numkeys + 1];
    let mut count = None;
    let mut j = numkeys + 2;
    while j < args.len() {
        if count.is_none() && is(args[j], "count") && j + 1 < args.len() {
            match super::args::parse_i64(args[j + 1]) {
                Some(c) if c >= 1 => count = Some(c as usize),
                _ => return Err(Frame::err("count should be greater than 0")),
            }
            j += 2;
        } else {
            return Err(syntax_error());
        }
    }
    Ok(MpopArgs {
        keys,
        side,
        count: count.unwrap_or(1),
    })
}

/// Pop from the first non-empty list: `[key, [elements]]`, propagated as
/// `LPOP|RPOP key n`. None when every list is empty.
fn mpop_now(ctx: &mut Ctx, keys: &[&[u8]], left: bool, count: usize) -> Served {
    let Some(k) = first_nonempty(ctx, keys)? else {
        return Ok(None);
    };
    let vals = pop_n(ctx, &k, left, count);
    let name = if left { b(b"LPOP") } else { b(b"RPOP") };
    ctx.propagate_as(vec![vec![
        name,
        k.clone(),
        super::args::int_bytes(vals.len() as i64),
    ]]);
    Ok(Some(Frame::Array(vec![
        Frame::Bulk(k),
        Frame::Array(vals.into_iter().map(Frame::Bulk).collect()),
    ])))
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
fn lmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    mpop(ctx, argv, false, parse_side, mpop_now)
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
fn blmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    mpop(ctx, argv, true, parse_side, mpop_now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_lrange() {
        assert_eq!(index_range(0, -1, 5), Some((0, 4)));
        assert_eq!(index_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(index_range(-100, 2, 5), Some((0, 2)));
        assert_eq!(index_range(3, 100, 5), Some((3, 4)));
        assert_eq!(index_range(5, 10, 5), None);
        assert_eq!(index_range(3, 2, 5), None);
        assert_eq!(index_range(0, -6, 5), None);
        assert_eq!(index_range(0, 0, 0), None);
    }

    #[test]
    fn list_positions() {
        assert_eq!(list_pos(0, 3), Some(0));
        assert_eq!(list_pos(-1, 3), Some(2));
        assert_eq!(list_pos(-4, 3), None);
        assert_eq!(list_pos(3, 3), None);
    }

    #[test]
    fn timeouts() {
        assert!(parse_timeout(b"0").unwrap().is_none());
        assert!(parse_timeout(b"0.1").unwrap().is_some());
        assert!(parse_timeout(b"-1").is_err());
        assert!(parse_timeout(b"abc").is_err());
        assert!(parse_timeout(b"inf").is_err());
    }

    #[test]
    fn mpop_args() {
        let v = |s: &[&'static str]| s.iter().map(|x| x.as_bytes()).collect::<Vec<_>>();
        let a = parse_mpop(&v(&["2", "a", "b", "LEFT", "COUNT", "3"]))
            .ok()
            .unwrap();
        assert_eq!(a.keys.len(), 2);
        assert_eq!(a.count, 3);
        assert!(parse_mpop(&v(&["0", "a", "LEFT"])).is_err());
        assert!(parse_mpop(&v(&["3", "a", "LEFT"])).is_err());
        assert!(parse_mpop(&v(&["1", "a", "LEFT", "COUNT", "0"])).is_err());
    }
}
