//! Sets (Redis's t_set.c): SADD, SREM, membership, SPOP/SRANDMEMBER, the algebra
//! (SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD), SMOVE, SSCAN.
//!
//! Sets small enough for Redis's intset encoding (all integers, at most
//! set-max-intset-entries) are replied in numeric order, as Redis does.

use super::args::{owned, parse_i64, syntax_error};
use super::hashes::{distinct_indices, random_members};
use super::keys::{scan_collection, scan_page, scan_reply};
use crate::resp::Frame;
use crate::server::command::{flags::*, Command, Ctx};
use crate::server::db::{wrongtype, Value};
use bytes::Bytes;
use indexmap::IndexSet;

pub static COMMANDS: &[Command] = &[
    Command::new("sadd", -3, WRITE | DENYOOM | FAST, sadd).keys(1, 1, 1),
    Command::new("srem", -3, WRITE | FAST, srem).keys(1, 1, 1),
    Command::new("smembers", 2, READONLY, smembers).keys(1, 1, 1),
    Command::new("sismember", 3, READONLY | FAST, sismember).keys(1, 1, 1),
    Command::new("smismember", -3, READONLY | FAST, smismember).keys(1, 1, 1),
    Command::new("scard", 2, READONLY | FAST, scard).keys(1, 1, 1),
    Command::new("spop", -2, WRITE | FAST, spop).keys(1, 1, 1),
    Command::new("srandmember", -2, READONLY, srandmember).keys(1, 1, 1),
    Command::new("sinter", -2, READONLY, sinter).keys(1, -1, 1),
    Command::new("sunion", -2, READONLY, sunion).keys(1, -1, 1),
    Command::new("sdiff", -2, READONLY, sdiff).keys(1, -1, 1),
    Command::new("sinterstore", -3, WRITE | DENYOOM, sinterstore).keys(1, -1, 1),
    Command::new("sunionstore", -3, WRITE | DENYOOM, sunionstore).keys(1, -1, 1),
    Command::new("sdiffstore", -3, WRITE | DENYOOM, sdiffstore).keys(1, -1, 1),
    Command::new("sintercard", -3, READONLY, sintercard),
    Command::new("smove", 4, WRITE | FAST, smove).keys(1, 2, 1),
    Command::new("sscan", -3, READONLY, sscan).keys(1, 1, 1),
];

type Set = IndexSet<Bytes>;

fn is_set(v: &Value) -> bool {
    matches!(v, Value::Set(_))
}

fn new_set() -> Value {
    Value::Set(Box::default())
}

fn intset_limit(ctx: &Ctx) -> usize {
    ctx.state.config.get_i64("set-max-intset-entries").max(0) as usize
}

/// The set at `key` for reading: Ok(None) when missing.
fn read_set<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a Set>, Frame> {
    match super::keys::lookup_read(ctx, key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(wrongtype()),
    }
}

/// Members in reply order: numeric order when Redis would hold them as an intset.
fn ordered<'a>(s: impl Iterator<Item = &'a Bytes> + Clone, len: usize, limit: usize) -> Vec<Bytes> {
    if len <= limit {
        let nums: Option<Vec<(i64, &Bytes)>> = s
            .clone()
            .map(|m| parse_i64(m).filter(|_| m.len() <= 20).map(|n| (n, m)))
            .collect();
        if let Some(mut nums) = nums {
            nums.sort_unstable_by_key(|(n, _)| *n);
            return nums.into_iter().map(|(_, m)| m.clone()).collect();
        }
    }
    s.cloned().collect()
}

fn set_frame(members: Vec<Bytes>) -> Frame {
    Frame::Set(members.into_iter().map(Frame::Bulk).collect())
}

/// `SADD key member [member ...]`: number added.
fn sadd(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    match ctx.db().get_or_create(argv[1], now, is_set, new_set) {
        Ok(Value::Set(s)) => {
            let mut added = 0;
            for m in &argv[2..] {
                if !s.contains(&m[..]) {
                    s.insert(owned(m));
                    added += 1;
                }
            }
            Frame::Integer(added)
        }
        Ok(_) => wrongtype(),
        Err(e) => e,
    }
}

/// Remove members from the set at `key`; deletes the key when emptied.
fn remove_members(ctx: &mut Ctx, key: &[u8], members: &[&[u8]]) -> Result<usize, Frame> {
    let now = ctx.now_ms;
    let db = ctx.db();
    let s = match db.lookup_write(key, now) {
        None => return Ok(0),
        Some(Value::Set(s)) => s,
        Some(_) => return Err(wrongtype()),
    };
    let n = members.iter().filter(|m| s.swap_remove(&m[..])).count();
    if n > 0 {
        db.modified(key, n as u64);
        db.remove_if_empty(key);
    }
    Ok(n)
}

/// `SREM key member [member ...]`: number removed.
fn srem(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match remove_members(ctx, argv[1], &argv[2..]) {
        Ok(n) => Frame::Integer(n as i64),
        Err(e) => e,
    }
}

/// `SMEMBERS key`: a set reply.
fn smembers(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let limit = intset_limit(ctx);
    match read_set(ctx, argv[1]) {
        Ok(Some(s)) => set_frame(ordered(s.iter(), s.len(), limit)),
        Ok(None) => Frame::Set(Vec::new()),
        Err(e) => e,
    }
}

/// `SISMEMBER key member`.
fn sismember(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_set(ctx, argv[1]) {
        Ok(s) => Frame::Integer(s.is_some_and(|s| s.contains(argv[2].as_ref())) as i64),
        Err(e) => e,
    }
}

/// `SMISMEMBER key member [member ...]`: array of 0/1.
fn smismember(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_set(ctx, argv[1]) {
        Ok(s) => Frame::Array(
            argv[2..]
                .iter()
                .map(|m| Frame::Integer(s.is_some_and(|s| s.contains(&m[..])) as i64))
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `SCARD key`.
fn scard(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_set(ctx, argv[1]) {
        Ok(s) => Frame::Integer(s.map_or(0, |s| s.len()) as i64),
        Err(e) => e,
    }
}

/// `SPOP key [count]`: propagated as SREM of what was popped (DEL when all went).
fn spop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len() > 3 {
        return syntax_error();
    }
    let count = if argv.len() == 3 {
        match parse_i64(argv[2]) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Frame::err("value is out of range, must be positive"),
        }
    } else {
        None
    };
    let key = argv[1];
    let len = match read_set(ctx, key) {
        Ok(Some(s)) => s.len(),
        Ok(None) => {
            return if count.is_some() {
                Frame::Set(Vec::new())
            } else {
                Frame::Null
            }
        }
        Err(e) => return e,
    };
    let want = count.unwrap_or(1);
    if want == 0 {
        return Frame::Set(Vec::new());
    }
    let now = ctx.now_ms;
    let limit = intset_limit(ctx);
    let popped: Vec<Bytes> = if want >= len {
        let Some(Value::Set(s)) = ctx.db().remove(key, now) else {
            return Frame::Set(Vec::new());
        };
        ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), owned(key)]]);
        ordered(s.iter(), s.len(), limit)
    } else {
        let db = ctx.db();
        let Some(Value::Set(s)) = db.lookup_write(key, now) else {
            return Frame::Null;
        };
        let mut idx = distinct_indices(s.len(), want);
        // Remove from the highest index down so swap_remove keeps the others valid.
        idx.sort_unstable_by(|a, b| b.cmp(a));
        let out: Vec<Bytes> = idx
            .into_iter()
            .filter_map(|i| s.swap_remove_index(i))
            .collect();
        db.modified(key, out.len() as u64);
        db.remove_if_empty(key);
        ctx.propagate_as(
            out.iter()
                .map(|m| vec![Bytes::from_static(b"SREM"), owned(key), owned(m)])
                .collect(),
        );
        out
    };
    if count.is_none() {
        return popped.into_iter().next().map_or(Frame::Null, Frame::Bulk);
    }
    set_frame(popped)
}

/// `SRANDMEMBER key [count]`: negative counts may repeat members.
fn srandmember(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let pick = |s: &Set, slots: Vec<usize>, single: bool, _: bool| {
        let mut members = slots
            .into_iter()
            .filter_map(|i| s.get_index(i))
            .map(|m| Frame::Bulk(m.clone()));
        if single {
            members.next().unwrap_or(Frame::Null)
        } else {
            Frame::Array(members.collect())
        }
    };
    random_members(ctx, argv, None, read_set, Set::len, pick)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Compute an operation over the sets at `keys` (missing keys are empty sets). Every
/// key's type is checked first.
fn compute(ctx: &mut Ctx, keys: &[&[u8]], op: Op) -> Result<Set, Frame> {
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut sets: Vec<Option<&Set>> = Vec::with_capacity(keys.len());
    // Lazy expiry and the access mark first (they need &mut), then plain reads.
    let live: Vec<bool> = keys.iter().map(|k| db.contains(k, now)).collect();
    for (k, live) in keys.iter().zip(live) {
        match db.map.get(&k[..]).filter(|_| live) {
            None => sets.push(None),
            Some(Value::Set(s)) => sets.push(Some(s)),
            Some(_) => return Err(wrongtype()),
        }
    }
    let mut out = Set::new();
    match op {
        Op::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Ok(out);
            }
            let mut all: Vec<&Set> = sets.into_iter().flatten().collect();
            all.sort_by_key(|s| s.len());
            if let Some((first, rest)) = all.split_first() {
                for m in first.iter() {
                    if rest.iter().all(|s| s.contains(m)) {
                        out.insert(m.clone());
                    }
                }
            }
        }
        Op::Union => {
            for s in sets.into_iter().flatten() {
                out.extend(s.iter().cloned());
            }
        }
        Op::Diff => {
            if let Some(Some(first)) = sets.first() {
                for m in first.iter() {
                    if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                        out.insert(m.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}

fn op_reply(ctx: &mut Ctx, keys: &[&[u8]], op: Op) -> Frame {
    let limit = intset_limit(ctx);
    match compute(ctx, keys, op) {
        Ok(s) => set_frame(ordered(s.iter(), s.len(), limit)),
        Err(e) => e,
    }
}

/// `SINTER key [key ...]`.
fn sinter(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    op_reply(ctx, &argv[1..], Op::Inter)
}

/// `SUNION key [key ...]`.
fn sunion(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    op_reply(ctx, &argv[1..], Op::Union)
}

/// `SDIFF key [key ...]`.
fn sdiff(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    op_reply(ctx, &argv[1..], Op::Diff)
}

/// Store the result at `argv[1]` (deleting it when empty): the result's size.
fn op_store(ctx: &mut Ctx, argv: &[&[u8]], op: Op) -> Frame {
    let s = match compute(ctx, &argv[2..], op) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let now = ctx.now_ms;
    let n = s.len();
    let db = ctx.db();
    if n == 0 {
        db.remove(argv[1], now);
        // Redis propagates the STORE even when it only deleted (or did nothing).
        db.dirty += 1;
    } else {
        db.set(argv[1], Value::Set(Box::new(s)));
    }
    Frame::Integer(n as i64)
}

/// `SINTERSTORE destination key [key ...]`.
fn sinterstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    op_store(ctx, argv, Op::Inter)
}

/// `SUNIONSTORE destination key [key ...]`.
fn sunionstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    op_store(ctx, argv, Op::Union)
}

/// `SDIFFSTORE destination key [key ...]`.
fn sdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    op_store(ctx, argv, Op::Diff)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
fn sintercard(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let numkeys = match parse_i64(argv[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Frame::err("numkeys should be greater than 0"),
    };
    if numkeys > argv.len() - 2 {
        return Frame::err("Number of keys can't be greater than number of args");
    }
    let keys = &argv[2..2 + numkeys];
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < argv.len() {
        if super::args::is(argv[j], "limit") && j + 1 < argv.len() {
            match parse_i64(argv[j + 1]) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return Frame::err("LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return syntax_error();
        }
    }
    match compute(ctx, keys, Op::Inter) {
        Ok(s) => {
            let n = if limit > 0 {
                s.len().min(limit)
            } else {
                s.len()
            };
            Frame::Integer(n as i64)
        }
        Err(e) => e,
    }
}

/// `SMOVE source destination member`: 1 if moved.
fn smove(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (src, dst, m) = (&argv[1], &argv[2], &argv[3]);
    let has = match read_set(ctx, src) {
        Ok(Some(s)) => s.contains(&m[..]),
        Ok(None) => return Frame::Integer(0),
        Err(e) => return e,
    };
    if let Err(e) = read_set(ctx, dst) {
        return e;
    }
    if src == dst {
        return Frame::Integer(has as i64);
    }
    if !has {
        return Frame::Integer(0);
    }
    if let Err(e) = remove_members(ctx, src, std::slice::from_ref(m)) {
        return e;
    }
    let now = ctx.now_ms;
    match ctx.db().get_or_create(dst, now, is_set, new_set) {
        Ok(Value::Set(s)) => {
            s.insert(owned(m));
            Frame::Integer(1)
        }
        Ok(_) => wrongtype(),
        Err(e) => e,
    }
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`: intsets come back whole.
fn sscan(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let limit = intset_limit(ctx);
    scan_collection(ctx, argv, read_set, |s, cursor, opts| {
        let compact = s.len() <= limit && s.iter().all(|m| parse_i64(m).is_some());
        let whole = compact.then(|| ordered(s.iter(), s.len(), limit));
        let at = |i| s.get_index(i).cloned();
        let (next, page) = scan_page(cursor, opts.count, s.len(), whole, at);
        let items = page
            .into_iter()
            .filter(|m| opts.matches(m))
            .map(Frame::Bulk)
            .collect();
        scan_reply(next, items)
    })
}
