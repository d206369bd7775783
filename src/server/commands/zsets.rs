//! Sorted sets (Redis's t_zset.c): ZADD with its flags, scores, the ZRANGE family
//! (by rank, score and lex, REV, LIMIT, WITHSCORES, STORE), ranks, counts, pops
//! (also blocking), removals by range, ZUNION/ZINTER/ZDIFF (+STORE), ZMPOP, ZSCAN.

use super::args::{int, is, owned, parse_f64, parse_i64, syntax_error, NOT_FLOAT};
use super::hashes::{pairs_reply, random_members};
use super::keys::{scan_collection, scan_page, scan_reply};
use super::lists::{blocking_pop, index_range, mpop, Served};
use crate::resp::{format_double, Frame, Proto};
use crate::server::command::{flags::*, Command, Ctx};
use crate::server::db::{wrongtype, Score, Value, ZSet};
use bytes::Bytes;
use std::ops::Bound;

pub static COMMANDS: &[Command] = &[
    Command::new("zadd", -4, WRITE | DENYOOM | FAST, zadd).keys(1, 1, 1),
    Command::new("zincrby", 4, WRITE | DENYOOM | FAST, zincrby).keys(1, 1, 1),
    Command::new("zrem", -3, WRITE | FAST, zrem).keys(1, 1, 1),
    Command::new("zscore", 3, READONLY | FAST, zscore).keys(1, 1, 1),
    Command::new("zmscore", -3, READONLY | FAST, zmscore).keys(1, 1, 1),
    Command::new("zcard", 2, READONLY | FAST, zcard).keys(1, 1, 1),
    Command::new("zrange", -4, READONLY, zrange).keys(1, 1, 1),
    Command::new("zrangestore", -5, WRITE | DENYOOM, zrangestore).keys(1, 2, 1),
    Command::new("zrevrange", -4, READONLY, zrevrange).keys(1, 1, 1),
    Command::new("zrangebyscore", -4, READONLY, zrangebyscore).keys(1, 1, 1),
    Command::new("zrevrangebyscore", -4, READONLY, zrevrangebyscore).keys(1, 1, 1),
    Command::new("zrangebylex", -4, READONLY, zrangebylex).keys(1, 1, 1),
    Command::new("zrevrangebylex", -4, READONLY, zrevrangebylex).keys(1, 1, 1),
    Command::new("zrank", 3, READONLY | FAST, zrank).keys(1, 1, 1),
    Command::new("zrevrank", 3, READONLY | FAST, zrevrank).keys(1, 1, 1),
    Command::new("zcount", 4, READONLY | FAST, zcount).keys(1, 1, 1),
    Command::new("zlexcount", 4, READONLY | FAST, zlexcount).keys(1, 1, 1),
    Command::new("zpopmin", -2, WRITE | FAST, zpopmin).keys(1, 1, 1),
    Command::new("zpopmax", -2, WRITE | FAST, zpopmax).keys(1, 1, 1),
    Command::new("bzpopmin", -3, WRITE | FAST | BLOCKING, bzpopmin).keys(1, -2, 1),
    Command::new("bzpopmax", -3, WRITE | FAST | BLOCKING, bzpopmax).keys(1, -2, 1),
    Command::new("zmpop", -4, WRITE, zmpop),
    Command::new("bzmpop", -5, WRITE | BLOCKING, bzmpop),
    Command::new("zremrangebyrank", 4, WRITE, zremrangebyrank).keys(1, 1, 1),
    Command::new("zremrangebyscore", 4, WRITE, zremrangebyscore).keys(1, 1, 1),
    Command::new("zremrangebylex", 4, WRITE, zremrangebylex).keys(1, 1, 1),
    Command::new("zunionstore", -4, WRITE | DENYOOM, zunionstore).keys(1, 1, 1),
    Command::new("zinterstore", -4, WRITE | DENYOOM, zinterstore).keys(1, 1, 1),
    Command::new("zdiffstore", -4, WRITE | DENYOOM, zdiffstore).keys(1, 1, 1),
    Command::new("zunion", -3, READONLY, zunion),
    Command::new("zinter", -3, READONLY, zinter),
    Command::new("zdiff", -3, READONLY, zdiff),
    Command::new("zintercard", -3, READONLY, zintercard),
    Command::new("zrandmember", -2, READONLY, zrandmember).keys(1, 1, 1),
    Command::new("zscan", -3, READONLY, zscan).keys(1, 1, 1),
];

fn is_zset(v: &Value) -> bool {
    matches!(v, Value::ZSet(_))
}

fn new_zset() -> Value {
    Value::ZSet(Box::default())
}

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

/// Parse a double like Redis's getDoubleFromObject (strtod): decimal or hex
/// (`0x10`), `inf`; overflow, underflow to zero, NaN, spaces and junk are refused.
pub fn parse_double(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        let v = parse_hex_float(hex)?;
        return Some(if neg { -v } else { v });
    }
    let v = parse_f64(arg)?;
    if v.is_infinite() && !matches!(lower.as_str(), "inf" | "infinity") {
        return None; // ERANGE overflow
    }
    let mantissa = lower.split('e').next().unwrap_or("");
    if v == 0.0 && mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
        return None; // ERANGE underflow
    }
    Some(v)
}

/// The part of a C hex float after `0x`: hex digits, optional fraction, optional
/// binary exponent `p[+-]n`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    v.is_finite().then_some(v)
}

/// Redis compares scores with `<`, so -0 and 0 are equal; keep one zero.
fn norm(s: f64) -> f64 {
    s + 0.0
}

/// The zset at `key` for reading: Ok(None) when missing.
fn read_zset<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a ZSet>, Frame> {
    match super::keys::lookup_read(ctx, key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(wrongtype()),
    }
}

/// Tell blocked clients that `key` got members (only when someone waits at all).
fn signal_ready(ctx: &mut Ctx, key: &[u8]) {
    if !ctx.state.blocking.waiting.is_empty() {
        ctx.db().signal_ready(key);
    }
}

// ---------------------------------------------------------------------------
// Ranges

/// One end of a score range: `1.5`, `(1.5`, `-inf`, `+inf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub v: f64,
    pub excl: bool,
}

/// Parse a score bound like zslParseRange.
pub fn parse_score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (excl, rest) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    // strtod accepts an empty string as 0 (so `(` alone is "exclusive 0").
    let v = if rest.is_empty() {
        0.0
    } else if rest.len() > 2 && rest[..2].eq_ignore_ascii_case(b"0x") {
        parse_hex_float(
            std::str::from_utf8(&rest[2..])
                .ok()?
                .to_ascii_lowercase()
                .as_str(),
        )?
    } else {
        parse_f64(rest)?
    };
    Some(ScoreBound { v: norm(v), excl })
}

#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: ScoreBound,
    pub max: ScoreBound,
}

impl ScoreRange {
    fn above_min(&self, s: f64) -> bool {
        if self.min.excl {
            s > self.min.v
        } else {
            s >= self.min.v
        }
    }

    fn below_max(&self, s: f64) -> bool {
        if self.max.excl {
            s < self.max.v
        } else {
            s <= self.max.v
        }
    }
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Frame> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
        _ => Err(Frame::err("min or max is not a float")),
    }
}

/// One end of a lex range: `-`, `+`, `[member`, `(member`.
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Bytes),
    Excl(Bytes),
}

pub fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg.first() {
        Some(b'-') if arg.len() == 1 => Some(LexBound::NegInf),
        Some(b'+') if arg.len() == 1 => Some(LexBound::PosInf),
        Some(b'[') => Some(LexBound::Incl(owned(&arg[1..]))),
        Some(b'(') => Some(LexBound::Excl(owned(&arg[1..]))),
        _ => None,
    }
}

#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn above_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= x.as_ref(),
            LexBound::Excl(x) => m > x.as_ref(),
        }
    }

    pub fn below_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= x.as_ref(),
            LexBound::Excl(x) => m < x.as_ref(),
        }
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, Frame> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(Frame::err("min or max not valid string range item")),
    }
}

type Entry = (Bytes, f64);

/// Members with ranks `start..=end` (Redis index rules), lowest first or highest first.
fn range_by_rank(z: &ZSet, start: i64, end: i64, rev: bool) -> Vec<Entry> {
    let Some((s, e)) = index_range(start, end, z.len()) else {
        return Vec::new();
    };
    let n = e - s + 1;
    let pick = |(sc, m): &(Score, Bytes)| (m.clone(), sc.0);
    if rev {
        z.order.iter().rev().skip(s).take(n).map(pick).collect()
    } else {
        z.order.iter().skip(s).take(n).map(pick).collect()
    }
}

/// Iterator over the members in a score range, in either direction.
fn score_iter<'a>(
    z: &'a ZSet,
    r: ScoreRange,
    rev: bool,
) -> Box<dyn Iterator<Item = &'a (Score, Bytes)> + 'a> {
    if !rev {
        let lo = if r.min.v == f64::NEG_INFINITY {
            Bound::Unbounded
        } else {
            Bound::Included((Score(r.min.v), Bytes::new()))
        };
        Box::new(
            z.order
                .range((lo, Bound::Unbounded))
                .skip_while(move |(s, _)| !r.above_min(s.0))
                .take_while(move |(s, _)| r.below_max(s.0)),
        )
    } else {
        let hi = if r.max.v == f64::INFINITY {
            Bound::Unbounded
        } else {
            Bound::Excluded((Score(r.max.v.next_up()), Bytes::new()))
        };
        Box::new(
            z.order
                .range((Bound::Unbounded, hi))
                .rev()
                .skip_while(move |(s, _)| !r.below_max(s.0))
                .take_while(move |(s, _)| r.above_min(s.0)),
        )
    }
}

/// Iterator over the members in a lex range, in either direction.
fn lex_iter<'a>(
    z: &'a ZSet,
    r: &'a LexRange,
    rev: bool,
) -> Box<dyn Iterator<Item = &'a (Score, Bytes)> + 'a> {
    // zslIsInLexRange: the extremes must overlap the range at all.
    let overlaps = z.order.last().is_some_and(|(_, m)| r.above_min(m))
        && z.order.first().is_some_and(|(_, m)| r.below_max(m));
    if !overlaps {
        return Box::new(std::iter::empty());
    }
    if !rev {
        Box::new(
            z.order
                .iter()
                .skip_while(move |(_, m)| !r.above_min(m))
                .take_while(move |(_, m)| r.below_max(m)),
        )
    } else {
        Box::new(
            z.order
                .iter()
                .rev()
                .skip_while(move |(_, m)| !r.below_max(m))
                .take_while(move |(_, m)| r.above_min(m)),
        )
    }
}

/// Apply LIMIT offset count (negative offset → nothing; negative count → all).
fn limited<'a>(
    it: Box<dyn Iterator<Item = &'a (Score, Bytes)> + 'a>,
    offset: i64,
    count: i64,
) -> Vec<Entry> {
    if offset < 0 {
        return Vec::new();
    }
    let take = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    it.skip(offset as usize)
        .take(take)
        .map(|(s, m)| (m.clone(), s.0))
        .collect()
}

/// The reply for a list of entries, with or without scores.
fn entries_reply(proto: Proto, entries: Vec<Entry>, withscores: bool) -> Frame {
    if withscores {
        pairs_reply(
            proto,
            entries
                .into_iter()
                .map(|(m, s)| (Frame::Bulk(m), Frame::Double(s)))
                .collect(),
        )
    } else {
        Frame::Array(entries.into_iter().map(|(m, _)| Frame::Bulk(m)).collect())
    }
}

// ---------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM, scores

struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

/// Outcome of adding one member.
enum Added {
    New,
    Updated,
    Same,
    Skipped,
}

/// zsetAdd: apply one (score, member) under the flags; the new score when processed.
fn add_one(
    z: &mut ZSet,
    score: f64,
    m: &[u8],
    f: &AddFlags,
) -> Result<(Added, Option<f64>), Frame> {
    match z.score(m) {
        Some(cur) => {
            if f.nx {
                return Ok((Added::Skipped, None));
            }
            let mut new = score;
            if f.incr {
                new = cur + score;
                if new.is_nan() {
                    return Err(Frame::err("resulting score is not a number (NaN)"));
                }
            }
            let new = norm(new);
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return Ok((Added::Skipped, None));
            }
            if new != cur {
                z.insert(owned(m), new);
                Ok((Added::Updated, Some(new)))
            } else {
                Ok((Added::Same, Some(new)))
            }
        }
        None => {
            if f.xx {
                return Ok((Added::Skipped, None));
            }
            let s = norm(score);
            z.insert(owned(m), s);
            Ok((Added::New, Some(s)))
        }
    }
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`.
fn zadd(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut f = AddFlags {
        nx: false,
        xx: false,
        gt: false,
        lt: false,
        incr: false,
    };
    let mut ch = false;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return syntax_error();
    }
    if f.nx && f.xx {
        return Frame::err("XX and NX options at the same time are not compatible");
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return Frame::err("GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && rest.len() > 2 {
        return Frame::err("INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        match parse_double(p[0]) {
            Some(s) => scores.push(s),
            None => return Frame::err(NOT_FLOAT),
        }
    }
    let key = &argv[1];
    let now = ctx.now_ms;
    let exists = match read_zset(ctx, key) {
        Ok(z) => z.is_some(),
        Err(e) => return e,
    };
    if !exists && f.xx {
        return if f.incr {
            Frame::Null
        } else {
            Frame::Integer(0)
        };
    }
    let db = ctx.db();
    let z = if exists {
        match db.lookup_write(key, now) {
            Some(Value::ZSet(z)) => z,
            _ => return wrongtype(),
        }
    } else {
        match db.get_or_create(key, now, is_zset, new_zset) {
            Ok(Value::ZSet(z)) => z,
            Ok(_) => return wrongtype(),
            Err(e) => return e,
        }
    };
    let (mut added, mut updated, mut changes) = (0i64, 0i64, 0u64);
    let mut last = None;
    let mut err = None;
    for (p, &s) in rest.chunks(2).zip(&scores) {
        match add_one(z, s, p[1], &f) {
            Ok((what, score)) => {
                last = score;
                match what {
                    Added::New => {
                        added += 1;
                        changes += 1;
                    }
                    Added::Updated => {
                        updated += 1;
                        changes += 1;
                    }
                    Added::Same | Added::Skipped => {}
                }
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    if changes > 0 {
        if exists {
            db.modified(key, changes);
        }
        signal_ready(ctx, key);
    } else if !exists {
        ctx.db().remove_if_empty(key);
    }
    if let Some(e) = err {
        return e;
    }
    if f.incr {
        return last.map_or(Frame::Null, Frame::Double);
    }
    Frame::Integer(if ch { added + updated } else { added })
}

/// `ZINCRBY key increment member`: the new score.
fn zincrby(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut args: Vec<&[u8]> = vec![argv[0], argv[1], b"INCR"];
    args.extend_from_slice(&argv[2..]);
    zadd(ctx, &args)
}

/// `ZREM key member [member ...]`: number removed.
fn zrem(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let key = &argv[1];
    let db = ctx.db();
    let z = match db.lookup_write(key, now) {
        None => return Frame::Integer(0),
        Some(Value::ZSet(z)) => z,
        Some(_) => return wrongtype(),
    };
    let n = argv[2..].iter().filter(|m| z.remove(m).is_some()).count();
    if n > 0 {
        db.modified(key, n as u64);
        db.remove_if_empty(key);
    }
    Frame::Integer(n as i64)
}

/// `ZSCORE key member`: a double or null.
fn zscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_zset(ctx, argv[1]) {
        Ok(z) => z
            .and_then(|z| z.score(argv[2]))
            .map_or(Frame::Null, Frame::Double),
        Err(e) => e,
    }
}

/// `ZMSCORE key member [member ...]`.
fn zmscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_zset(ctx, argv[1]) {
        Ok(z) => Frame::Array(
            argv[2..]
                .iter()
                .map(|m| {
                    z.and_then(|z| z.score(m))
                        .map_or(Frame::Null, Frame::Double)
                })
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `ZCARD key`.
fn zcard(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    match read_zset(ctx, argv[1]) {
        Ok(z) => Frame::Integer(z.map_or(0, |z| z.len()) as i64),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// The ZRANGE family

#[derive(Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    Auto,
    Forward,
    Reverse,
}

/// zrangeGenericCommand: `args` = key min max [options]; `store` for ZRANGESTORE
/// (then `dst` gets the result).
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    dst: Option<&[u8]>,
    mut rtype: RangeType,
    mut dir: Dir,
) -> Frame {
    let store = dst.is_some();
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut has_limit = false;
    let mut j = 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            match (int(args[j + 1]), int(args[j + 2])) {
                (Ok(o), Ok(l)) => {
                    offset = o;
                    limit = l;
                }
                (Err(e), _) | (_, Err(e)) => return e,
            }
            has_limit = true;
            j += 2;
        } else if dir == Dir::Auto && is(a, "rev") {
            dir = Dir::Reverse;
        } else if rtype == RangeType::Auto && is(a, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && is(a, "byscore") {
            rtype = RangeType::Score;
        } else {
            return syntax_error();
        }
        j += 1;
    }
    if dir == Dir::Auto {
        dir = Dir::Forward;
    }
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if has_limit && rtype == RangeType::Rank {
        return Frame::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rtype == RangeType::Lex {
        return Frame::err("syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let rev = dir == Dir::Reverse;
    let (mut lo, mut hi) = (&args[1], &args[2]);
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let parsed = match rtype {
        RangeType::Score => match parse_score_range(lo, hi) {
            Ok(r) => Parsed::Score(r),
            Err(e) => return e,
        },
        RangeType::Lex => match parse_lex_range(lo, hi) {
            Ok(r) => Parsed::Lex(r),
            Err(e) => return e,
        },
        _ => match (int(lo), int(hi)) {
            (Ok(s), Ok(e)) => Parsed::Rank(s, e),
            (Err(e), _) | (_, Err(e)) => return e,
        },
    };
    let proto = ctx.client.proto;
    let entries = match read_zset(ctx, args[0]) {
        Ok(Some(z)) => match &parsed {
            Parsed::Rank(s, e) => range_by_rank(z, *s, *e, rev),
            Parsed::Score(r) => limited(score_iter(z, *r, rev), offset, limit),
            Parsed::Lex(r) => limited(lex_iter(z, r, rev), offset, limit),
        },
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    match dst {
        Some(d) => Frame::Integer(store_entries(ctx, d, entries) as i64),
        None => entries_reply(proto, entries, withscores),
    }
}

/// Store entries as a zset at `dst` (deleting it when empty); returns the count.
fn store_entries(ctx: &mut Ctx, dst: &[u8], entries: Vec<Entry>) -> usize {
    let now = ctx.now_ms;
    let n = entries.len();
    let db = ctx.db();
    if n == 0 {
        db.remove(dst, now);
        db.dirty += 1;
        return 0;
    }
    let mut z = ZSet::default();
    for (m, s) in entries {
        z.insert(m, s);
    }
    db.set(dst, Value::ZSet(Box::new(z)));
    signal_ready(ctx, dst);
    n
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`.
fn zrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zrange_generic(ctx, &argv[1..], None, RangeType::Auto, Dir::Auto)
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`.
fn zrangestore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zrange_generic(ctx, &argv[2..], Some(argv[1]), RangeType::Auto, Dir::Auto)
}

/// `ZREVRANGE key start stop [WITHSCORES]`.
fn zrevrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zrange_generic(ctx, &argv[1..], None, RangeType::Rank, Dir::Reverse)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`.
fn zrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zrange_generic(ctx, &argv[1..], None, RangeType::Score, Dir::Forward)
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`.
fn zrevrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zrange_generic(ctx, &argv[1..], None, RangeType::Score, Dir::Reverse)
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`.
fn zrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zrange_generic(ctx, &argv[1..], None, RangeType::Lex, Dir::Forward)
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`.
fn zrevrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zrange_generic(ctx, &argv[1..], None, RangeType::Lex, Dir::Reverse)
}

fn rank_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) -> Frame {
    let z = match read_zset(ctx, argv[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return Frame::Null,
        Err(e) => return e,
    };
    let Some(s) = z.score(argv[2]) else {
        return Frame::Null;
    };
    let m = z
        .dict
        .get_key_value(argv[2].as_ref())
        .map(|(k, _)| k.clone());
    let Some(m) = m else {
        return Frame::Null;
    };
    let below = z.order.range(..(Score(s), m)).count();
    Frame::Integer(if rev { z.len() - 1 - below } else { below } as i64)
}

/// `ZRANK key member`.
fn zrank(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    rank_generic(ctx, argv, false)
}

/// `ZREVRANK key member`.
fn zrevrank(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    rank_generic(ctx, argv, true)
}

/// `ZCOUNT key min max`.
fn zcount(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let r = match parse_score_range(argv[2], argv[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match read_zset(ctx, argv[1]) {
        Ok(Some(z)) => Frame::Integer(score_iter(z, r, false).count() as i64),
        Ok(None) => Frame::Integer(0),
        Err(e) => e,
    }
}

/// `ZLEXCOUNT key min max`.
fn zlexcount(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let r = match parse_lex_range(argv[2], argv[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match read_zset(ctx, argv[1]) {
        Ok(Some(z)) => Frame::Integer(lex_iter(z, &r, false).count() as i64),
        Ok(None) => Frame::Integer(0),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// Pops

/// Pop up to `n` lowest (or highest) members of the zset at `key`.
fn pop_n(ctx: &mut Ctx, key: &[u8], max: bool, n: usize) -> Vec<Entry> {
    let now = ctx.now_ms;
    let db = ctx.db();
    let Some(Value::ZSet(z)) = db.lookup_write(key, now) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(n.min(z.len()));
    while out.len() < n {
        let e = if max {
            z.order.pop_last()
        } else {
            z.order.pop_first()
        };
        let Some((s, m)) = e else { break };
        z.dict.swap_remove(&m);
        out.push((m, s.0));
    }
    if !out.is_empty() {
        db.modified(key, out.len() as u64);
        db.remove_if_empty(key);
    }
    out
}

/// `ZPOPMIN key [count]` / `ZPOPMAX`.
fn zpop_generic(ctx: &mut Ctx, argv: &[&[u8]], max: bool) -> Frame {
    if argv.len() > 3 {
        return syntax_error();
    }
    let count = if argv.len() == 3 {
        match parse_i64(argv[2]) {
            Some(c) if c >= 0 => Some(c as usize),
            _ => return Frame::err("value is out of range, must be positive"),
        }
    } else {
        None
    };
    match read_zset(ctx, argv[1]) {
        Ok(Some(_)) => {}
        Ok(None) => return Frame::Array(Vec::new()),
        Err(e) => return e,
    }
    let proto = ctx.client.proto;
    let popped = pop_n(ctx, argv[1], max, count.unwrap_or(1));
    match count {
        None => Frame::Array(
            popped
                .into_iter()
                .flat_map(|(m, s)| [Frame::Bulk(m), Frame::Double(s)])
                .collect(),
        ),
        Some(_) => entries_reply(proto, popped, true),
    }
}

/// `ZPOPMIN key [count]`.
fn zpopmin(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zpop_generic(ctx, argv, false)
}

/// `ZPOPMAX key [count]`.
fn zpopmax(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    zpop_generic(ctx, argv, true)
}

/// The first of `keys` holding a non-empty zset (WRONGTYPE stops the search).
fn first_nonempty(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Option<Bytes>, Frame> {
    for k in keys {
        if read_zset(ctx, k)?.is_some_and(|z| !z.is_empty()) {
            return Ok(Some(owned(k)));
        }
    }
    Ok(None)
}

fn pop_name(max: bool) -> Bytes {
    if max {
        b(b"ZPOPMAX")
    } else {
        b(b"ZPOPMIN")
    }
}

/// Pop one member from the first non-empty zset: `[key, member, score]`,
/// propagated as ZPOPMIN/ZPOPMAX.
fn pop_first(ctx: &mut Ctx, keys: &[&[u8]], max: bool) -> Served {
    let Some(k) = first_nonempty(ctx, keys)? else {
        return Ok(None);
    };
    let popped = pop_n(ctx, &k, max, 1);
    ctx.propagate_as(vec![vec![pop_name(max), k.clone()]]);
    let mut items = vec![Frame::Bulk(k)];
    for (m, s) in popped {
        items.push(Frame::Bulk(m));
        items.push(Frame::Double(s));
    }
    Ok(Some(Frame::Array(items)))
}

/// `BZPOPMIN key [key ...] timeout`.
fn bzpopmin(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    blocking_pop(ctx, argv, |ctx, keys| pop_first(ctx, keys, false))
}

/// `BZPOPMAX key [key ...] timeout`.
fn bzpopmax(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    blocking_pop(ctx, argv, |ctx, keys| pop_first(ctx, keys, true))
}

fn parse_minmax(arg: &[u8]) -> Result<bool, Frame> {
    if is(arg, "min") {
        Ok(false)
    } else if is(arg, "max") {
        Ok(true)
    } else {
        Err(syntax_error())
    }
}

/// Pop from the first non-empty zset: `[key, [[member, score], ...]]`.
fn zmpop_now(ctx: &mut Ctx, keys: &[&[u8]], max: bool, count: usize) -> Served {
    let Some(k) = first_nonempty(ctx, keys)? else {
        return Ok(None);
    };
    let popped = pop_n(ctx, &k, max, count);
    ctx.propagate_as(vec![vec![
        pop_name(max),
        k.clone(),
        super::args::int_bytes(popped.len() as i64),
    ]]);
    let pairs = popped
        .into_iter()
        .map(|(m, s)| Frame::Array(vec![Frame::Bulk(m), Frame::Double(s)]))
        .collect();
    Ok(Some(Frame::Array(vec![
        Frame::Bulk(k),
        Frame::Array(pairs),
    ])))
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`.
fn zmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    mpop(ctx, argv, false, parse_minmax, zmpop_now)
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`.
fn bzmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    mpop(ctx, argv, true, parse_minmax, zmpop_now)
}

// ---------------------------------------------------------------------------
// Removal by range

/// Remove the members selected by `pick` from the zset at `key`.
fn remove_range(ctx: &mut Ctx, key: &[u8], pick: impl FnOnce(&ZSet) -> Vec<Entry>) -> Frame {
    let now = ctx.now_ms;
    let db = ctx.db();
    let z = match db.lookup_write(key, now) {
        None => return Frame::Integer(0),
        Some(Value::ZSet(z)) => z,
        Some(_) => return wrongtype(),
    };
    let victims = pick(z);
    for (m, _) in &victims {
        z.remove(m);
    }
    let n = victims.len();
    if n > 0 {
        db.modified(key, n as u64);
        db.remove_if_empty(key);
    }
    Frame::Integer(n as i64)
}

/// `ZREMRANGEBYRANK key start stop`.
fn zremrangebyrank(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let (s, e) = match (int(argv[2]), int(argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    remove_range(ctx, argv[1], |z| range_by_rank(z, s, e, false))
}

/// `ZREMRANGEBYSCORE key min max`.
fn zremrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let r = match parse_score_range(argv[2], argv[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    remove_range(ctx, argv[1], |z| limited(score_iter(z, r, false), 0, -1))
}

/// `ZREMRANGEBYLEX key min max`.
fn zremrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let r = match parse_lex_range(argv[2], argv[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    remove_range(ctx, argv[1], |z| limited(lex_iter(z, &r, false), 0, -1))
}

// ---------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(a: Aggregate, acc: &mut f64, v: f64) {
    match a {
        Aggregate::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => *acc = acc.min(v),
        Aggregate::Max => *acc = acc.max(v),
    }
}

/// One input: members with scores (sets count as score 1).
type Source = Vec<(Bytes, f64)>;

/// zunionInterDiffGenericCommand. `args` starts at numkeys. Returns the result
/// entries (sorted) and whether WITHSCORES was given.
fn setop(
    ctx: &mut Ctx,
    args: &[&[u8]],
    op: SetOp,
    store: bool,
    name: &str,
) -> Result<(Vec<Entry>, bool), Frame> {
    let numkeys = int(args[0])?;
    if numkeys < 1 {
        return Err(Frame::err(format!(
            "at least 1 input key is needed for '{name}' command"
        )));
    }
    let numkeys = numkeys as usize;
    if numkeys > args.len() - 1 {
        return Err(syntax_error());
    }
    let keys = &args[1..=numkeys];
    let now = ctx.now_ms;
    let mut sources: Vec<Option<Source>> = Vec::with_capacity(numkeys);
    for k in keys {
        match ctx.db().get(k, now) {
            None => sources.push(None),
            Some(Value::ZSet(z)) => {
                sources.push(Some(z.dict.iter().map(|(m, s)| (m.clone(), *s)).collect()))
            }
            Some(Value::Set(s)) => sources.push(Some(s.iter().map(|m| (m.clone(), 1.0)).collect())),
            Some(_) => return Err(wrongtype()),
        }
    }
    let mut weights = vec![1.0f64; numkeys];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut j = numkeys + 1;
    while j < args.len() {
        let remaining = args.len() - j;
        if op != SetOp::Diff && remaining > numkeys && is(args[j], "weights") {
            for (w, a) in weights.iter_mut().zip(&args[j + 1..j + 1 + numkeys]) {
                *w = parse_double(a).ok_or_else(|| Frame::err("weight value is not a float"))?;
            }
            j += 1 + numkeys;
        } else if op != SetOp::Diff && remaining >= 2 && is(args[j], "aggregate") {
            let a = &args[j + 1];
            agg = if is(a, "sum") {
                Aggregate::Sum
            } else if is(a, "min") {
                Aggregate::Min
            } else if is(a, "max") {
                Aggregate::Max
            } else {
                return Err(syntax_error());
            };
            j += 2;
        } else if !store && is(args[j], "withscores") {
            withscores = true;
            j += 1;
        } else {
            return Err(syntax_error());
        }
    }
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut acc: indexmap::IndexMap<Bytes, f64> = indexmap::IndexMap::new();
    match op {
        SetOp::Union => {
            for (src, &w) in sources.iter().zip(&weights) {
                for (m, s) in src.iter().flatten() {
                    let v = weighted(*s, w);
                    match acc.get_mut(m) {
                        Some(a) => aggregate(agg, a, v),
                        None => {
                            acc.insert(m.clone(), v);
                        }
                    }
                }
            }
        }
        SetOp::Inter => {
            if sources.iter().all(|s| s.is_some()) {
                let mut srcs: Vec<(Source, f64)> = sources
                    .into_iter()
                    .flatten()
                    .zip(weights.iter().copied())
                    .collect();
                srcs.sort_by_key(|(s, _)| s.len());
                let lookups: Vec<std::collections::HashMap<&Bytes, f64>> = srcs[1..]
                    .iter()
                    .map(|(s, _)| s.iter().map(|(m, v)| (m, *v)).collect())
                    .collect();
                let (first, w0) = &srcs[0];
                'outer: for (m, s) in first {
                    let mut score = weighted(*s, *w0);
                    for (lk, (_, w)) in lookups.iter().zip(&srcs[1..]) {
                        match lk.get(m) {
                            Some(v) => aggregate(agg, &mut score, weighted(*v, *w)),
                            None => continue 'outer,
                        }
                    }
                    acc.insert(m.clone(), score);
                }
            }
        }
        SetOp::Diff => {
            if let Some(Some(first)) = sources.first() {
                let others: Vec<std::collections::HashSet<&Bytes>> = sources[1..]
                    .iter()
                    .flatten()
                    .map(|s| s.iter().map(|(m, _)| m).collect())
                    .collect();
                for (m, s) in first {
                    if !others.iter().any(|o| o.contains(m)) {
                        acc.insert(m.clone(), *s);
                    }
                }
            }
        }
    }
    let mut out: Vec<Entry> = acc.into_iter().map(|(m, s)| (m, norm(s))).collect();
    out.sort_by(|a, b| Score(a.1).cmp(&Score(b.1)).then_with(|| a.0.cmp(&b.0)));
    Ok((out, withscores))
}

fn setop_store(ctx: &mut Ctx, argv: &[&[u8]], op: SetOp, name: &str) -> Frame {
    match setop(ctx, &argv[2..], op, true, name) {
        Ok((entries, _)) => Frame::Integer(store_entries(ctx, argv[1], entries) as i64),
        Err(e) => e,
    }
}

fn setop_reply(ctx: &mut Ctx, argv: &[&[u8]], op: SetOp, name: &str) -> Frame {
    let proto = ctx.client.proto;
    match setop(ctx, &argv[1..], op, false, name) {
        Ok((entries, ws)) => entries_reply(proto, entries, ws),
        Err(e) => e,
    }
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]`.
fn zunionstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    setop_store(ctx, argv, SetOp::Union, "zunionstore")
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE ...]`.
fn zinterstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    setop_store(ctx, argv, SetOp::Inter, "zinterstore")
}

/// `ZDIFFSTORE destination numkeys key [key ...]`.
fn zdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    setop_store(ctx, argv, SetOp::Diff, "zdiffstore")
}

/// `ZUNION numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`.
fn zunion(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    setop_reply(ctx, argv, SetOp::Union, "zunion")
}

/// `ZINTER numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`.
fn zinter(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    setop_reply(ctx, argv, SetOp::Inter, "zinter")
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`.
fn zdiff(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    setop_reply(ctx, argv, SetOp::Diff, "zdiff")
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`.
fn zintercard(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let numkeys = match int(argv[1]) {
        Ok(n) if n > 0 => n as usize,
        Ok(_) => return Frame::err("at least 1 input key is needed for 'zintercard' command"),
        Err(e) => return e,
    };
    if numkeys > argv.len() - 2 {
        return syntax_error();
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < argv.len() {
        if is(argv[j], "limit") && j + 1 < argv.len() {
            match parse_i64(argv[j + 1]) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return Frame::err("LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return syntax_error();
        }
    }
    let args: Vec<&[u8]> = argv[1..2 + numkeys].to_vec();
    match setop(ctx, &args, SetOp::Inter, true, "zintercard") {
        Ok((e, _)) => Frame::Integer(if limit > 0 {
            e.len().min(limit)
        } else {
            e.len()
        } as i64),
        Err(e) => e,
    }
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`.
fn zrandmember(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let proto = ctx.client.proto;
    let pick = |z: &ZSet, slots: Vec<usize>, single: bool, withscores: bool| {
        let mut entries = slots.into_iter().filter_map(|i| z.dict.get_index(i));
        if single {
            return entries
                .next()
                .map_or(Frame::Null, |(m, _)| Frame::Bulk(m.clone()));
        }
        let entries: Vec<Entry> = entries.map(|(m, s)| (m.clone(), *s)).collect();
        entries_reply(proto, entries, withscores)
    };
    random_members(ctx, argv, Some("withscores"), read_zset, ZSet::len, pick)
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: scores are bulk strings even in
/// RESP3; small zsets come back whole, in order.
fn zscan(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let t = super::keys::Thresholds::from_ctx(ctx);
    scan_collection(ctx, argv, read_zset, |z, cursor, opts| {
        let compact = z.len() <= t.zset_entries && z.dict.keys().all(|m| m.len() <= t.zset_value);
        let whole = compact.then(|| z.order.iter().map(|(s, m)| (m, s.0)).collect());
        let at = |i| z.dict.get_index(i).map(|(m, s)| (m, *s));
        let (next, page) = scan_page(cursor, opts.count, z.len(), whole, at);
        let mut items = Vec::new();
        for (m, s) in page.into_iter().filter(|(m, _)| opts.matches(m)) {
            items.push(Frame::Bulk(m.clone()));
            items.push(Frame::Bulk(Bytes::from(format_double(s))));
        }
        scan_reply(next, items)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zs(items: &[(&str, f64)]) -> ZSet {
        let mut z = ZSet::default();
        for (m, s) in items {
            z.insert(Bytes::from(m.to_string()), *s);
        }
        z
    }

    fn names(v: Vec<Entry>) -> Vec<String> {
        v.into_iter()
            .map(|(m, _)| String::from_utf8_lossy(&m).into_owned())
            .collect()
    }

    #[test]
    fn doubles_parse_like_strtod_with_range_checks() {
        assert_eq!(parse_double(b"1.5"), Some(1.5));
        assert_eq!(parse_double(b"0x10"), Some(16.0));
        assert_eq!(parse_double(b"-0x1.8p1"), Some(-3.0));
        assert_eq!(parse_double(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_double(b"1e400"), None);
        assert_eq!(parse_double(b"1e-400"), None);
        assert_eq!(parse_double(b"0e-400"), Some(0.0));
        assert_eq!(parse_double(b" 1"), None);
        assert_eq!(parse_double(b"nan"), None);
        assert_eq!(parse_double(b"0x"), None);
    }

    #[test]
    fn score_bounds() {
        assert_eq!(
            parse_score_bound(b"(1.5"),
            Some(ScoreBound { v: 1.5, excl: true })
        );
        assert_eq!(
            parse_score_bound(b"-inf"),
            Some(ScoreBound {
                v: f64::NEG_INFINITY,
                excl: false
            })
        );
        assert!(parse_score_bound(b"x").is_none());
        assert_eq!(
            parse_score_bound(b"("),
            Some(ScoreBound { v: 0.0, excl: true })
        );
        assert!(parse_score_bound(b"nan").is_none());
    }

    #[test]
    fn score_ranges_both_directions() {
        let z = zs(&[("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0)]);
        let r = parse_score_range(b"(1", b"3").ok().unwrap();
        assert_eq!(
            names(limited(score_iter(&z, r, false), 0, -1)),
            ["b", "c", "d"]
        );
        let r = parse_score_range(b"2", b"(3").ok().unwrap();
        assert_eq!(names(limited(score_iter(&z, r, true), 0, -1)), ["c", "b"]);
        let r = parse_score_range(b"-inf", b"+inf").ok().unwrap();
        assert_eq!(names(limited(score_iter(&z, r, true), 1, 2)), ["c", "b"]);
        assert!(limited(score_iter(&z, r, false), -1, 2).is_empty());
        let r = parse_score_range(b"3", b"1").ok().unwrap();
        assert!(limited(score_iter(&z, r, false), 0, -1).is_empty());
    }

    #[test]
    fn lex_ranges() {
        let z = zs(&[("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0)]);
        let r = parse_lex_range(&Bytes::from_static(b"[b"), &Bytes::from_static(b"(d"))
            .ok()
            .unwrap();
        assert_eq!(names(limited(lex_iter(&z, &r, false), 0, -1)), ["b", "c"]);
        let r = parse_lex_range(&Bytes::from_static(b"-"), &Bytes::from_static(b"+"))
            .ok()
            .unwrap();
        assert_eq!(names(limited(lex_iter(&z, &r, true), 0, 2)), ["d", "c"]);
        let r = parse_lex_range(&Bytes::from_static(b"(c"), &Bytes::from_static(b"+"))
            .ok()
            .unwrap();
        assert_eq!(names(limited(lex_iter(&z, &r, true), 0, -1)), ["d"]);
        assert!(parse_lex_range(&Bytes::from_static(b"a"), &Bytes::from_static(b"+")).is_err());
    }

    #[test]
    fn ranks() {
        let z = zs(&[("a", 1.0), ("b", 2.0), ("c", 3.0)]);
        assert_eq!(names(range_by_rank(&z, 0, -1, true)), ["c", "b", "a"]);
        assert_eq!(names(range_by_rank(&z, 1, 1, false)), ["b"]);
        assert!(range_by_rank(&z, 5, 9, false).is_empty());
    }
}
