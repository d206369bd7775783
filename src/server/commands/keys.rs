//! Keyspace commands (Redis's db.c, expire.c, object.c): DEL, EXISTS, the EXPIRE
//! family, TTL, TYPE, KEYS, SCAN, RENAME, MOVE, COPY, SWAPDB, FLUSHDB, OBJECT...

use super::args::{int, int_bytes, is, owned, syntax_error, NOT_INTEGER};
use crate::resp::Frame;
use crate::server::command::{flags::*, owned_args, Command, Ctx};
use crate::server::db::{self, scan_indices, Db, Value};
use crate::server::glob::glob_match;
use bytes::Bytes;

pub static COMMANDS: &[Command] = &[
    Command::new("del", -2, WRITE, del).keys(1, -1, 1),
    Command::new("unlink", -2, WRITE | FAST, del).keys(1, -1, 1),
    Command::new("exists", -2, READONLY | FAST, exists).keys(1, -1, 1),
    Command::new("touch", -2, READONLY | FAST, touch).keys(1, -1, 1),
    Command::new("expire", -3, WRITE | FAST, expire).keys(1, 1, 1),
    Command::new("pexpire", -3, WRITE | FAST, pexpire).keys(1, 1, 1),
    Command::new("expireat", -3, WRITE | FAST, expireat).keys(1, 1, 1),
    Command::new("pexpireat", -3, WRITE | FAST, pexpireat).keys(1, 1, 1),
    Command::new("ttl", 2, READONLY | FAST, ttl).keys(1, 1, 1),
    Command::new("pttl", 2, READONLY | FAST, pttl).keys(1, 1, 1),
    Command::new("expiretime", 2, READONLY | FAST, expiretime).keys(1, 1, 1),
    Command::new("pexpiretime", 2, READONLY | FAST, pexpiretime).keys(1, 1, 1),
    Command::new("persist", 2, WRITE | FAST, persist).keys(1, 1, 1),
    Command::new("type", 2, READONLY | FAST, type_cmd).keys(1, 1, 1),
    Command::new("keys", 2, READONLY, keys_cmd),
    Command::new("scan", -2, READONLY, scan),
    Command::new("rename", 3, WRITE, rename).keys(1, 2, 1),
    Command::new("renamenx", 3, WRITE | FAST, renamenx).keys(1, 2, 1),
    Command::new("randomkey", 1, READONLY, randomkey),
    Command::new("dbsize", 1, READONLY | FAST, dbsize),
    Command::new("flushdb", -1, WRITE, flushdb),
    Command::new("flushall", -1, WRITE, flushall),
    Command::new("swapdb", 3, WRITE | FAST, swapdb),
    Command::new("move", 3, WRITE | FAST, move_cmd).keys(1, 1, 1),
    Command::new("copy", -3, WRITE | DENYOOM, copy).keys(1, 2, 1),
    Command::new("object", -2, READONLY, object_help).subs(&[
        Command::new("encoding", 3, READONLY, object_encoding).keys(2, 2, 1),
        Command::new("refcount", 3, READONLY, object_refcount).keys(2, 2, 1),
        Command::new("idletime", 3, READONLY, object_idletime).keys(2, 2, 1),
        Command::new("freq", 3, READONLY, object_freq).keys(2, 2, 1),
        Command::new("help", 2, READONLY | LOADING | STALE, object_help),
    ]),
];

/// Read lookup for the data families: lazy expiry, and the keyspace hit/miss
/// counters of INFO stats (Redis's lookupKeyRead).
pub fn lookup_read<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Option<&'a Value> {
    let now = ctx.now_ms;
    let i = ctx.client.db;
    let st = &mut *ctx.state;
    let v = st.dbs[i].get(key, now);
    if v.is_some() {
        st.stats.keyspace_hits += 1;
    } else {
        st.stats.keyspace_misses += 1;
    }
    v
}

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

/// `DEL key [key ...]` / `UNLINK key [key ...]`: number of keys removed.
fn del(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let db = ctx.db();
    let n = argv[1..]
        .iter()
        .filter(|k| db.remove(k, now).is_some())
        .count();
    Frame::Integer(n as i64)
}

/// `EXISTS key [key ...]`: how many exist (repeats count); keys are not touched.
fn exists(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    count_existing(ctx, &argv[1..], false)
}

/// `TOUCH key [key ...]`: how many exist (repeats count), marking them accessed.
fn touch(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    count_existing(ctx, &argv[1..], true)
}

/// How many of `keys` exist; `touch` marks them accessed (OBJECT IDLETIME).
fn count_existing(ctx: &mut Ctx, keys: &[&[u8]], touch: bool) -> Frame {
    let now = ctx.now_ms;
    let db = ctx.db();
    let n = keys
        .iter()
        .filter(|k| {
            if touch {
                db.contains(k, now)
            } else {
                db.peek(k, now).is_some()
            }
        })
        .count();
    Frame::Integer(n as i64)
}

/// Shared body of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT (expire.c's
/// expireGenericCommand): flags first, then the time, then the conditions. Relative
/// forms propagate as PEXPIREAT; a time already past deletes and propagates DEL.
fn expire_generic(ctx: &mut Ctx, argv: &[&[u8]], base: i64, unit_ms: i64, name: &str) -> Frame {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &argv[3..] {
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            return Frame::err(format!("Unsupported option {}", String::from_utf8_lossy(a)));
        }
    }
    if nx && (xx || gt || lt) {
        return Frame::err("NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Frame::err("GT and LT options at the same time are not compatible");
    }
    let mut when = match int(argv[2]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let invalid = || Frame::err(format!("invalid expire time in '{name}' command"));
    if unit_ms == 1000 {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return invalid();
        }
        when *= 1000;
    }
    if when > i64::MAX - base {
        return invalid();
    }
    when += base;
    let now = ctx.now_ms;
    let key = &argv[1];
    let db = ctx.db();
    if !db.contains(key, now) {
        return Frame::Integer(0);
    }
    let current = db.ttl_ms(key);
    if (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c))
    {
        return Frame::Integer(0);
    }
    let stores_past = ctx.state.is_replica() || ctx.state.loading;
    if when <= now && !stores_past {
        ctx.db().remove(key, now);
        ctx.propagate_as(vec![vec![b(b"DEL"), owned(key)]]);
        return Frame::Integer(1);
    }
    ctx.db().set_expire(key, when);
    let mut prop = owned_args(argv);
    if !argv[0].eq_ignore_ascii_case(b"pexpireat") {
        prop[0] = b(b"PEXPIREAT");
        prop[2] = int_bytes(when);
    }
    ctx.propagate_as(vec![prop]);
    Frame::Integer(1)
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`.
fn expire(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    expire_generic(ctx, argv, now, 1000, "expire")
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`.
fn pexpire(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    expire_generic(ctx, argv, now, 1, "pexpire")
}

/// `EXPIREAT key unix-seconds [NX|XX|GT|LT]`.
fn expireat(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    expire_generic(ctx, argv, 0, 1000, "expireat")
}

/// `PEXPIREAT key unix-ms [NX|XX|GT|LT]`.
fn pexpireat(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    expire_generic(ctx, argv, 0, 1, "pexpireat")
}

/// Remaining/absolute expiry of a key: -2 missing, -1 no TTL.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], absolute: bool, ms: bool) -> Frame {
    let now = ctx.now_ms;
    let db = ctx.db();
    if db.peek(key, now).is_none() {
        return Frame::Integer(-2);
    }
    let Some(at) = db.ttl_ms(key) else {
        return Frame::Integer(-1);
    };
    let v = if absolute { at } else { (at - now).max(0) };
    Frame::Integer(match (ms, absolute) {
        (true, _) => v,
        (false, true) => v / 1000,
        (false, false) => (v + 500) / 1000,
    })
}

/// `TTL key`: seconds left (rounded), -1 without TTL, -2 missing.
fn ttl(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    ttl_generic(ctx, argv[1], false, false)
}

/// `PTTL key`: milliseconds left.
fn pttl(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    ttl_generic(ctx, argv[1], false, true)
}

/// `EXPIRETIME key`: absolute unix seconds.
fn expiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    ttl_generic(ctx, argv[1], true, false)
}

/// `PEXPIRETIME key`: absolute unix ms.
fn pexpiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    ttl_generic(ctx, argv[1], true, true)
}

/// `PERSIST key`: 1 if a TTL was removed.
fn persist(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let db = ctx.db();
    if !db.contains(argv[1], now) {
        return Frame::Integer(0);
    }
    Frame::Integer(db.persist(argv[1]) as i64)
}

/// `TYPE key`: string, list, hash, set, zset or none.
fn type_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let name = ctx
        .db()
        .peek(argv[1], now)
        .map(Value::type_name)
        .unwrap_or("none");
    Frame::simple(name)
}

fn is_live(db: &Db, key: &[u8], now: i64) -> bool {
    db.expires.is_empty() || db.expires.get(key).is_none_or(|&t| t > now)
}

/// `KEYS pattern`: every live key matching the glob.
fn keys_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let pat = &argv[1];
    let all = *pat == b"*";
    let db = ctx.db();
    Frame::Array(
        db.map
            .keys()
            .filter(|k| (all || glob_match(pat, k)) && is_live(db, k, now))
            .map(|k| Frame::Bulk(k.clone()))
            .collect(),
    )
}

/// Parse a SCAN cursor like strtoul: decimal, optional sign, no spaces.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Frame> {
    let invalid = || Frame::err("invalid cursor");
    let s = std::str::from_utf8(arg).map_err(|_| invalid())?;
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    let v: u64 = digits.parse().map_err(|_| invalid())?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Options of the SCAN family: `[MATCH pattern] [COUNT n] [TYPE t]`.
pub struct ScanOpts {
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub type_name: Option<Bytes>,
}

/// Parse SCAN options from `args`; `allow_type` only for SCAN itself.
pub fn parse_scan_opts(args: &[&[u8]], allow_type: bool) -> Result<ScanOpts, Frame> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        type_name: None,
    };
    let mut i = 0;
    while i < args.len() {
        let has_next = i + 1 < args.len();
        if is(args[i], "count") && has_next {
            let n = int(args[i + 1])?;
            if n < 1 {
                return Err(syntax_error());
            }
            o.count = n as usize;
        } else if is(args[i], "match") && has_next {
            let p = owned(args[i + 1]);
            o.pattern = if &p[..] == b"*" { None } else { Some(p) };
        } else if allow_type && is(args[i], "type") && has_next {
            o.type_name = Some(owned(args[i + 1]));
        } else {
            return Err(syntax_error());
        }
        i += 2;
    }
    Ok(o)
}

/// The `[cursor, [elements]]` reply of the SCAN family.
pub fn scan_reply(cursor: u64, items: Vec<Frame>) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(Bytes::from(cursor.to_string())),
        Frame::Array(items),
    ])
}

impl ScanOpts {
    /// Whether `name` passes the MATCH pattern (if any).
    pub fn matches(&self, name: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|p| glob_match(p, name))
    }
}

/// Shared body of HSCAN/SSCAN/ZSCAN (`CMD key cursor [MATCH pattern] [COUNT count]`),
/// checking in Redis's order: the cursor, then the key (missing: an empty page,
/// whatever the options; WRONGTYPE), then the options. `read` finds the collection,
/// `page(collection, cursor, options)` answers.
pub fn scan_collection<C: ?Sized>(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    read: for<'c> fn(&'c mut Ctx, &[u8]) -> Result<Option<&'c C>, Frame>,
    page: impl FnOnce(&C, u64, &ScanOpts) -> Frame,
) -> Frame {
    let cursor = match parse_cursor(argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let found = match read(ctx, argv[1]) {
        Ok(Some(c)) => c,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(e) => return e,
    };
    match parse_scan_opts(&argv[3..], false) {
        Ok(opts) => page(found, cursor, &opts),
        Err(e) => e,
    }
}

/// The elements of one HSCAN/SSCAN/ZSCAN page and the next cursor. A collection in
/// one of Redis's compact encodings comes back `whole` (in that encoding's order)
/// with cursor 0; otherwise the `len` slots are walked with the SCAN cursor scheme
/// ([`scan_indices`]), `at(i)` giving slot `i`.
pub fn scan_page<E>(
    cursor: u64,
    count: usize,
    len: usize,
    whole: Option<Vec<E>>,
    at: impl Fn(usize) -> Option<E>,
) -> (u64, Vec<E>) {
    if let Some(all) = whole {
        return (0, all);
    }
    let (next, range) = scan_indices(len, cursor, count);
    (next, range.rev().filter_map(at).collect())
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
fn scan(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let cursor = match parse_cursor(argv[1]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let opts = match parse_scan_opts(&argv[2..], true) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let now = ctx.now_ms;
    let db = ctx.db();
    let (next, range) = scan_indices(db.map.len(), cursor, opts.count);
    let mut items = Vec::with_capacity(range.len());
    let mut expired = Vec::new();
    for i in range.rev() {
        let Some((k, v)) = db.map.get_index(i) else {
            continue;
        };
        if !is_live(db, k, now) {
            expired.push(k.clone());
            continue;
        }
        if let Some(p) = &opts.pattern {
            if !glob_match(p, k) {
                continue;
            }
        }
        if let Some(t) = &opts.type_name {
            if !t.eq_ignore_ascii_case(v.type_name().as_bytes()) {
                continue;
            }
        }
        items.push(Frame::Bulk(k.clone()));
    }
    for k in expired {
        db.expire_if_needed(&k, now);
    }
    scan_reply(next, items)
}

/// Whether a value's key should wake clients blocked on it once (re)created.
fn wakes_blocked(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::ZSet(_))
}

fn rename_generic(ctx: &mut Ctx, argv: &[&[u8]], nx: bool) -> Frame {
    let now = ctx.now_ms;
    let (src, dst) = (&argv[1], &argv[2]);
    let db = ctx.db();
    if !db.contains(src, now) {
        return Frame::err("no such key");
    }
    if src == dst {
        return if nx { Frame::Integer(0) } else { Frame::ok() };
    }
    if nx && db.contains(dst, now) {
        return Frame::Integer(0);
    }
    let ttl = db.ttl_ms(src);
    let flags = db.flags(src);
    let Some(v) = db.remove(src, now) else {
        return Frame::err("no such key");
    };
    let ready = wakes_blocked(&v);
    db.remove(dst, now);
    db.insert_with_expire(Bytes::copy_from_slice(dst), v, ttl);
    db.set_flags(dst, flags);
    if ready {
        db.signal_ready(dst);
    }
    if nx {
        Frame::Integer(1)
    } else {
        Frame::ok()
    }
}

/// `RENAME key newkey`: keeps the TTL; overwrites newkey.
fn rename(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    rename_generic(ctx, argv, false)
}

/// `RENAMENX key newkey`: 1 if renamed, 0 if newkey exists.
fn renamenx(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    rename_generic(ctx, argv, true)
}

/// `RANDOMKEY`: a random live key or null.
fn randomkey(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    match ctx.db().random_key(now) {
        Some(k) => Frame::Bulk(k),
        None => Frame::Null,
    }
}

/// `DBSIZE`: keys in the selected database.
fn dbsize(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Integer(ctx.db().len() as i64)
}

/// Validate `[ASYNC|SYNC]` of FLUSHDB/FLUSHALL.
fn flush_mode(argv: &[&[u8]]) -> Result<(), Frame> {
    match argv.len() {
        1 => Ok(()),
        2 if is(argv[1], "async") || is(argv[1], "sync") => Ok(()),
        _ => Err(syntax_error()),
    }
}

/// Flushed databases may hold keys that clients wait on: nothing to wake, but the
/// watched keys are invalidated by `Db::flush`.
fn flush_db(db: &mut Db) {
    db.flush();
}

/// `FLUSHDB [ASYNC|SYNC]`: always propagated.
fn flushdb(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if let Err(e) = flush_mode(argv) {
        return e;
    }
    flush_db(ctx.db());
    Frame::ok()
}

/// `FLUSHALL [ASYNC|SYNC]`: always propagated.
fn flushall(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if let Err(e) = flush_mode(argv) {
        return e;
    }
    for db in ctx.state.dbs.iter_mut() {
        flush_db(db);
    }
    Frame::ok()
}

/// Parse a database index argument against the configured count.
fn db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, Frame> {
    let i = int(arg)?;
    if i < 0 || i as usize >= ctx.state.dbs.len() {
        return Err(Frame::err("DB index is out of range"));
    }
    Ok(i as usize)
}

/// `SWAPDB index1 index2`: swaps the contents (not the watchers) of two databases.
fn swapdb(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let a = match int(argv[1]) {
        Ok(_) => match db_index(ctx, argv[1]) {
            Ok(i) => i,
            Err(e) => return e,
        },
        Err(_) => return Frame::err("invalid first DB index"),
    };
    let bi = match int(argv[2]) {
        Ok(_) => match db_index(ctx, argv[2]) {
            Ok(i) => i,
            Err(e) => return e,
        },
        Err(_) => return Frame::err("invalid second DB index"),
    };
    if a != bi {
        let dbs = &mut ctx.state.dbs;
        let (lo, hi) = (a.min(bi), a.max(bi));
        let (left, right) = dbs.split_at_mut(hi);
        let (x, y) = (&mut left[lo], &mut right[0]);
        x.swap_keyspace(y);
        for db in [x, y] {
            db.dirty += 1;
            let watched: Vec<Bytes> = db.watched.keys().cloned().collect();
            for k in watched {
                db.signal_modified(&k);
            }
        }
        // Clients blocked on keys that now hold a list or zset can be served.
        let waiting: Vec<(usize, Bytes)> = ctx
            .state
            .blocking
            .waiting
            .keys()
            .filter(|(d, _)| *d == a || *d == bi)
            .cloned()
            .collect();
        for (d, k) in waiting {
            let db = &mut ctx.state.dbs[d];
            if db.map.get(&k).is_some_and(wakes_blocked) {
                db.signal_ready(&k);
            }
        }
    }
    Frame::ok()
}

/// `MOVE key db`: 1 if moved (0 when missing here or present there).
fn move_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let dst = match int(argv[2]) {
        Ok(_) => match db_index(ctx, argv[2]) {
            Ok(i) => i,
            Err(e) => return e,
        },
        Err(_) => return Frame::err(NOT_INTEGER),
    };
    let src = ctx.client.db;
    if src == dst {
        return Frame::err("source and destination objects are the same");
    }
    let now = ctx.now_ms;
    let key = &argv[1];
    if !ctx.state.dbs[src].contains(key, now) {
        return Frame::Integer(0);
    }
    if ctx.state.dbs[dst].contains(key, now) {
        return Frame::Integer(0);
    }
    let ttl = ctx.state.dbs[src].ttl_ms(key);
    let flags = ctx.state.dbs[src].flags(key);
    let Some(v) = ctx.state.dbs[src].remove(key, now) else {
        return Frame::Integer(0);
    };
    let ready = wakes_blocked(&v);
    let d = &mut ctx.state.dbs[dst];
    d.insert_with_expire(Bytes::copy_from_slice(key), v, ttl);
    d.set_flags(key, flags);
    if ready {
        d.signal_ready(key);
    }
    Frame::Integer(1)
}

/// `COPY source destination [DB destination-db] [REPLACE]`: 1 if copied.
fn copy(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if is(argv[i], "replace") {
            replace = true;
        } else if is(argv[i], "db") && i + 1 < argv.len() {
            dst_db = match db_index(ctx, argv[i + 1]) {
                Ok(d) => d,
                Err(e) => return e,
            };
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    let (src, dst) = (&argv[1], &argv[2]);
    if src_db == dst_db && src == dst {
        return Frame::err("source and destination objects are the same");
    }
    let now = ctx.now_ms;
    let Some(v) = ctx.state.dbs[src_db].get(src, now).cloned() else {
        return Frame::Integer(0);
    };
    let ttl = ctx.state.dbs[src_db].ttl_ms(src);
    let flags = ctx.state.dbs[src_db].flags(src);
    let d = &mut ctx.state.dbs[dst_db];
    if d.contains(dst, now) {
        if !replace {
            return Frame::Integer(0);
        }
        d.remove(dst, now);
    }
    let ready = wakes_blocked(&v);
    d.insert_with_expire(Bytes::copy_from_slice(dst), v, ttl);
    d.set_flags(dst, flags);
    if ready {
        d.signal_ready(dst);
    }
    Frame::Integer(1)
}

/// Whether a string value is held as an integer (object.c's tryObjectEncoding).
fn is_int_string(s: &[u8]) -> bool {
    s.len() <= 20 && super::args::parse_i64(s).is_some()
}

/// The size limits under which Redis keeps aggregates in compact encodings.
pub struct Thresholds {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub set_intset_entries: usize,
    pub zset_entries: usize,
    pub zset_value: usize,
}

impl Thresholds {
    pub fn from_ctx(ctx: &Ctx) -> Thresholds {
        let cfg = |name: &str| ctx.state.config.get_i64(name).max(0) as usize;
        Thresholds {
            hash_entries: cfg("hash-max-listpack-entries"),
            hash_value: cfg("hash-max-listpack-value"),
            set_intset_entries: cfg("set-max-intset-entries"),
            zset_entries: cfg("zset-max-listpack-entries"),
            zset_value: cfg("zset-max-listpack-value"),
        }
    }
}

/// The encoding Redis 7.0 would report for `v` under the given size thresholds
/// (computed from the current contents).
pub fn encoding_of(t: &Thresholds, v: &Value) -> &'static str {
    encoding_with_flags(t, v, 0)
}

/// [`encoding_of`] for a value stored with the given [`db::flags`]: APPEND and
/// SETRANGE leave raw strings, INCRBYFLOAT plain ones (never int).
pub fn encoding_with_flags(t: &Thresholds, v: &Value, flags: u8) -> &'static str {
    match v {
        Value::Str(_) if flags & db::flags::RAW != 0 => "raw",
        Value::Str(s) if flags & db::flags::PLAIN != 0 && s.len() <= 44 => "embstr",
        Value::Str(_) if flags & db::flags::PLAIN != 0 => "raw",
        Value::Str(s) if is_int_string(s) => "int",
        Value::Str(s) if s.len() <= 44 => "embstr",
        Value::Str(_) => "raw",
        Value::List(_) => "quicklist",
        Value::Hash(h) => {
            let maxv = t.hash_value;
            if h.len() <= t.hash_entries
                && h.iter().all(|(f, v)| f.len() <= maxv && v.len() <= maxv)
            {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::Set(s) => {
            if s.len() <= t.set_intset_entries && s.iter().all(|m| is_int_string(m)) {
                "intset"
            } else {
                "hashtable"
            }
        }
        Value::ZSet(z) => {
            let maxv = t.zset_value;
            if z.len() <= t.zset_entries && z.dict.keys().all(|m| m.len() <= maxv) {
                "listpack"
            } else {
                "skiplist"
            }
        }
    }
}

/// `OBJECT ENCODING key`.
fn object_encoding(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let t = Thresholds::from_ctx(ctx);
    let db = ctx.db();
    let flags = db.flags(argv[2]);
    match db.peek(argv[2], now) {
        Some(v) => Frame::bulk_str(encoding_with_flags(&t, v, flags)),
        None => Frame::Null,
    }
}

/// Whether Redis would share the integers 0..9999 between keys: not when maxmemory
/// is set with an LRU or LFU policy (MAXMEMORY_FLAG_NO_SHARED_INTEGERS).
fn shares_integers(ctx: &Ctx) -> bool {
    let policy = ctx.state.config.get("maxmemory-policy");
    ctx.state.config.get_i64("maxmemory") == 0
        || !(policy.contains("lru") || policy.contains("lfu"))
}

/// `OBJECT REFCOUNT key`: shared small integers report INT_MAX, like Redis.
fn object_refcount(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let db = ctx.db();
    let plain = db.flags(argv[2]) != 0;
    let shared = !plain && shares_integers(ctx);
    match ctx.db().peek(argv[2], now) {
        None => Frame::Null,
        Some(Value::Str(s))
            if shared && super::args::parse_i64(s).is_some_and(|n| (0..10000).contains(&n)) =>
        {
            Frame::Integer(i32::MAX as i64)
        }
        Some(_) => Frame::Integer(1),
    }
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.state.config.get("maxmemory-policy").contains("lfu")
}

/// `OBJECT IDLETIME key`: seconds since the key was last read or written (commands
/// that only look, such as EXISTS, TYPE, TTL and OBJECT, do not count).
fn object_idletime(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    let shared = shares_integers(ctx);
    let Some(idle) = ctx.db().idle_secs(argv[2], now, shared) else {
        return Frame::Null;
    };
    if lfu_policy(ctx) {
        return Frame::err("An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    Frame::Integer(idle as i64)
}

/// `OBJECT FREQ key`: needs an LFU policy (access frequencies are not tracked).
fn object_freq(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let now = ctx.now_ms;
    if ctx.db().peek(argv[2], now).is_none() {
        return Frame::Null;
    }
    if !lfu_policy(ctx) {
        return Frame::err("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    Frame::err("access frequency is not tracked by this server")
}

/// `OBJECT HELP` (also `OBJECT` alone, which Redis rejects by arity).
fn object_help(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len() < 2 {
        return Frame::err("wrong number of arguments for 'object' command");
    }
    let lines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    Frame::Array(lines.iter().map(|l| Frame::simple(*l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0").ok(), Some(0));
        assert_eq!(parse_cursor(b"17").ok(), Some(17));
        assert_eq!(parse_cursor(b"-1").ok(), Some(u64::MAX));
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"1x").is_err());
        assert!(parse_cursor(b"").is_err());
        assert!(parse_cursor(b"99999999999999999999999").is_err());
    }

    #[test]
    fn int_strings() {
        assert!(is_int_string(b"123"));
        assert!(is_int_string(b"-5"));
        assert!(!is_int_string(b"012"));
        assert!(!is_int_string(b"1.5"));
    }
}
