//! Hashes (Redis's t_hash.c): HSET, HGET, HGETALL, counters, HRANDFIELD, HSCAN...

use super::args::{int, owned, parse_i64};
use super::keys::{scan_collection, scan_page, scan_reply};
use crate::resp::{Frame, Proto};
use crate::server::command::{flags::*, Command, Ctx};
use crate::server::db::{wrongtype, Value};
use crate::server::longdouble::LongDouble;
use bytes::Bytes;
use indexmap::IndexMap;
use rand::Rng;

pub static COMMANDS: &[Command] = &[
    Command::new("hset", -4, WRITE | DENYOOM | FAST, hset).keys(1, 1, 1),
    Command::new("hmset", -4, WRITE | DENYOOM | FAST, hmset).keys(1, 1, 1),
    Command::new("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx).keys(1, 1, 1),
    Command::new("hget", 3, READONLY | FAST, hget).keys(1, 1, 1),
    Command::new("hmget", -3, READONLY | FAST, hmget).keys(1, 1, 1),
    Command::new("hdel", -3, WRITE | FAST, hdel).keys(1, 1, 1),
    Command::new("hgetall", 2, READONLY, hgetall).keys(1, 1, 1),
    Command::new("hlen", 2, READONLY | FAST, hlen).keys(1, 1, 1),
    Command::new("hexists", 3, READONLY | FAST, hexists).keys(1, 1, 1),
    Command::new("hincrby", 4, WRITE | DENYOOM | FAST, hincrby).keys(1, 1, 1),
    Command::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat).keys(1, 1, 1),
    Command::new("hkeys", 2, READONLY, hkeys).keys(1, 1, 1),
    Command::new("hvals", 2, READONLY, hvals).keys(1, 1, 1),
    Command::new("hstrlen", 3, READONLY | FAST, hstrlen).keys(1, 1, 1),
    Command::new("hrandfield", -2, READONLY, hrandfield).keys(1, 1, 1),
    Command::new("hscan", -3, READONLY, hscan).keys(1, 1, 1),
];

type Hash = IndexMap<Bytes, Bytes>;

fn is_hash(v: &Value) -> bool {
    matches!(v, Value::Hash(_))
}

fn new_hash() -> Value {
    Value::Hash(Box::default())
}

/// The hash at `key` for reading: Ok(None) when missing.
fn read_hash<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a Hash>, Frame> {
    match super::keys::lookup_read(ctx, key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(wrongtype()),
    }
}

/// The hash at `key` for writing, created when missing (counts one modification).
fn create_hash<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<&'a mut Hash, Frame> {
    let now = ctx.now_ms;
    match ctx.db().get_or_create(key, now, is_hash, new_hash)? {
        Value::Hash(h) => Ok(h),
        _ => Err(wrongtype()),
    }
}

/// Set `f` to `v`; true when the field is new. Copies only what gets stored.
fn put(h: &mut Hash, f: &[u8], v: &[u8]) -> bool {
    if let Some(slot) = h.get_mut(f.as_ref()) {
        *slot = owned(v);
        false
    } else {
        h.insert(owned(f), owned(v));
        true
    }
}

/// `HSET key field value [field value ...]`: number of new fields.
fn hset(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if !argv.len().is_multiple_of(2) {
        return Frame::err("wrong number of arguments for 'hset' command");
    }
    match create_hash(ctx, argv[1]) {
        Ok(h) => {
            let added = argv[2..].chunks(2).filter(|p| put(h, p[0], p[1])).count();
            Frame::Integer(added as i64)
        }
        Err(e) => e,
    }
}

/// `HMSET key field value [field value ...]`: OK.
fn hmset(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if !argv.len().is_multiple_of(2) {
        return Frame::err("wrong number of arguments for 'hmset' command");
    }
    match create_hash(ctx, argv[1]) {
        Ok(h) => {
            for p in argv[2..].chunks(2) {
                put(h, p[0], p[1]);
            }
            Frame::ok()
        }
        Err(e) => e,
    }
}

/// `HSETNX key field value`: 1 if set.
fn hsetnx(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(Some(h)) if h.contains_key(argv[2].as_ref()) => return Frame::Integer(0),
        Ok(_) => {}
        Err(e) => return e,
    }
    match create_hash(ctx, argv[1]) {
        Ok(h) => {
            put(h, argv[2], argv[3]);
            Frame::Integer(1)
        }
        Err(e) => e,
    }
}

/// `HGET key field`.
fn hget(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(Some(h)) => h
            .get(argv[2].as_ref())
            .map_or(Frame::Null, |v| Frame::Bulk(v.clone())),
        Ok(None) => Frame::Null,
        Err(e) => e,
    }
}

/// `HMGET key field [field ...]`: nulls for missing fields.
fn hmget(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(h) => Frame::Array(
            argv[2..]
                .iter()
                .map(|f| {
                    h.and_then(|h| h.get(*f))
                        .map_or(Frame::Null, |v| Frame::Bulk(v.clone()))
                })
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `HDEL key field [field ...]`: number removed; the key goes when emptied.
fn hdel(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let small = ctx.state.config.get_i64("hash-max-listpack-entries").max(0) as usize;
    let key = &argv[1];
    let db = ctx.db();
    let h = match db.lookup_write(key, now) {
        None => return Frame::Integer(0),
        Some(Value::Hash(h)) => h,
        Some(_) => return wrongtype(),
    };
    let mut n = 0;
    for f in &argv[2..] {
        // Small hashes keep insertion order like Redis's listpack; big ones need not.
        let gone = if h.len() <= small {
            h.shift_remove(*f)
        } else {
            h.swap_remove(*f)
        };
        n += gone.is_some() as u64;
    }
    if n > 0 {
        db.modified(key, n);
        db.remove_if_empty(key);
    }
    Frame::Integer(n as i64)
}

/// `HGETALL key`: a map (flat array in RESP2).
fn hgetall(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(h) => Frame::Map(
            h.into_iter()
                .flatten()
                .map(|(f, v)| (Frame::Bulk(f.clone()), Frame::Bulk(v.clone())))
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `HLEN key`.
fn hlen(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(h) => Frame::Integer(h.map_or(0, |h| h.len()) as i64),
        Err(e) => e,
    }
}

/// `HEXISTS key field`.
fn hexists(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(h) => Frame::Integer(h.is_some_and(|h| h.contains_key(argv[2].as_ref())) as i64),
        Err(e) => e,
    }
}

/// `HINCRBY key field increment`.
fn hincrby(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let delta = match int(argv[3]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let cur = match read_hash(ctx, argv[1]) {
        Ok(h) => match h.and_then(|h| h.get(argv[2].as_ref())) {
            Some(v) => match parse_i64(v) {
                Some(n) => n,
                None => return Frame::err("hash value is not an integer"),
            },
            None => 0,
        },
        Err(e) => return e,
    };
    let Some(next) = cur.checked_add(delta) else {
        return Frame::err("increment or decrement would overflow");
    };
    match create_hash(ctx, argv[1]) {
        Ok(h) => {
            put(h, argv[2], &super::args::int_bytes(next));
            Frame::Integer(next)
        }
        Err(e) => e,
    }
}

/// `HINCRBYFLOAT key field increment`: adds in x87 `long double` like Redis (see
/// [`LongDouble`]); bulk result, propagated as HSET with the stored text.
fn hincrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let Some(delta) = LongDouble::parse(argv[3]) else {
        return Frame::err(super::args::NOT_FLOAT);
    };
    if !delta.is_finite() {
        return Frame::err("value is NaN or Infinity");
    }
    let cur = match read_hash(ctx, argv[1]) {
        Ok(h) => match h.and_then(|h| h.get(argv[2].as_ref())) {
            Some(v) => match LongDouble::parse(v) {
                Some(n) => n,
                None => return Frame::err("hash value is not a float"),
            },
            None => LongDouble::zero(false),
        },
        Err(e) => return e,
    };
    let Some(next) = cur.checked_add(delta) else {
        return Frame::err("increment would produce NaN or Infinity");
    };
    let text = Bytes::from(next.to_human());
    match create_hash(ctx, argv[1]) {
        Ok(h) => {
            put(h, argv[2], &text);
        }
        Err(e) => return e,
    }
    ctx.propagate_as(vec![vec![
        Bytes::from_static(b"HSET"),
        owned(argv[1]),
        owned(argv[2]),
        text.clone(),
    ]]);
    Frame::Bulk(text)
}

/// `HKEYS key`: a flat array even in RESP3.
fn hkeys(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(h) => Frame::Array(
            h.into_iter()
                .flat_map(|h| h.keys())
                .map(|f| Frame::Bulk(f.clone()))
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `HVALS key`.
fn hvals(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(h) => Frame::Array(
            h.into_iter()
                .flat_map(|h| h.values())
                .map(|v| Frame::Bulk(v.clone()))
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `HSTRLEN key field`.
fn hstrlen(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_hash(ctx, argv[1]) {
        Ok(h) => Frame::Integer(
            h.and_then(|h| h.get(argv[2].as_ref()))
                .map_or(0, |v| v.len()) as i64,
        ),
        Err(e) => e,
    }
}

/// Pairs as RESP3 wants them (array of 2-arrays) or flattened for RESP2.
pub fn pairs_reply(proto: Proto, pairs: Vec<(Frame, Frame)>) -> Frame {
    if proto == Proto::Resp3 {
        Frame::Array(
            pairs
                .into_iter()
                .map(|(a, b)| Frame::Array(vec![a, b]))
                .collect(),
        )
    } else {
        Frame::Array(pairs.into_iter().flat_map(|(a, b)| [a, b]).collect())
    }
}

/// Distinct random indices (`count` ≤ `len`), in random order.
pub fn distinct_indices(len: usize, count: usize) -> Vec<usize> {
    let mut rng = rand::thread_rng();
    rand::seq::index::sample(&mut rng, len, count.min(len)).into_vec()
}

/// Which slots of a `len`-element collection a random-member reply takes: one when
/// no count was given, distinct ones for a count >= 0, `|count|` that may repeat
/// for a negative count.
fn random_slots(len: usize, count: Option<i64>) -> Vec<usize> {
    let mut rng = rand::thread_rng();
    match count {
        None => vec![rng.gen_range(0..len)],
        Some(c) if c >= 0 => distinct_indices(len, c as usize),
        Some(c) => (0..c.unsigned_abs())
            .map(|_| rng.gen_range(0..len))
            .collect(),
    }
}

/// Shared body of HRANDFIELD, SRANDMEMBER and ZRANDMEMBER (`key [count [flag]]`,
/// `flag` being WITHVALUES/WITHSCORES, or None for SRANDMEMBER): the options, the
/// count, then the collection found by `read`; a missing key answers at once (an
/// empty array with a count, null without). `pick(collection, slots, single, flag)`
/// builds the reply from the [`random_slots`]; `single` when no count was given.
pub fn random_members<C: ?Sized>(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    flag: Option<&str>,
    read: for<'c> fn(&'c mut Ctx, &[u8]) -> Result<Option<&'c C>, Frame>,
    len: fn(&C) -> usize,
    pick: impl FnOnce(&C, Vec<usize>, bool, bool) -> Frame,
) -> Frame {
    let max_args = if flag.is_some() { 4 } else { 3 };
    let flagged = argv.len() == 4 && flag.is_some();
    if argv.len() > max_args || (flagged && !flag.is_some_and(|f| super::args::is(argv[3], f))) {
        return super::args::syntax_error();
    }
    let count = match super::args::random_count(argv, flagged) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let found = match read(ctx, argv[1]) {
        Ok(Some(c)) => c,
        Ok(None) if count.is_some() => return Frame::Array(Vec::new()),
        Ok(None) => return Frame::Null,
        Err(e) => return e,
    };
    let slots = random_slots(len(found), count);
    pick(found, slots, count.is_none(), flagged)
}

/// `HRANDFIELD key [count [WITHVALUES]]`.
fn hrandfield(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let proto = ctx.client.proto;
    let pick = |h: &Hash, slots: Vec<usize>, single: bool, withvalues: bool| {
        let mut entries = slots.into_iter().filter_map(|i| h.get_index(i));
        if single {
            entries
                .next()
                .map_or(Frame::Null, |(f, _)| Frame::Bulk(f.clone()))
        } else if withvalues {
            pairs_reply(
                proto,
                entries
                    .map(|(f, v)| (Frame::Bulk(f.clone()), Frame::Bulk(v.clone())))
                    .collect(),
            )
        } else {
            Frame::Array(entries.map(|(f, _)| Frame::Bulk(f.clone())).collect())
        }
    };
    random_members(ctx, argv, Some("withvalues"), read_hash, Hash::len, pick)
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`: small hashes come back whole.
fn hscan(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let t = super::keys::Thresholds::from_ctx(ctx);
    scan_collection(ctx, argv, read_hash, |h, cursor, opts| {
        let compact = h.len() <= t.hash_entries
            && h.iter()
                .all(|(f, v)| f.len() <= t.hash_value && v.len() <= t.hash_value);
        let whole = compact.then(|| h.iter().collect());
        let (next, page) = scan_page(cursor, opts.count, h.len(), whole, |i| h.get_index(i));
        let mut items = Vec::new();
        for (f, v) in page.into_iter().filter(|(f, _)| opts.matches(f)) {
            items.push(Frame::Bulk(f.clone()));
            items.push(Frame::Bulk(v.clone()));
        }
        scan_reply(next, items)
    })
}
