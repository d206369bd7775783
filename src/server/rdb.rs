//! Redis RDB files, version 10 (what redis-server 7.0 reads and writes).
//!
//! [`encode`] writes a snapshot the way 7.0 does: `REDIS0010`, the aux fields
//! (redis-ver, redis-bits, ctime, used-mem, optionally repl-stream-db / repl-id /
//! repl-offset, aof-base), then per non-empty db SELECTDB + RESIZEDB and the keys
//! (EXPIRETIME_MS before a key with a TTL), EOF and the CRC64-Jones checksum. Strings
//! use the integer encodings and LZF as Redis picks them; lists are QUICKLIST_2 of
//! listpacks, small hashes and zsets are listpacks, small integer sets are intsets,
//! bigger ones the plain SET/HASH/ZSET_2 types.
//!
//! [`decode`] loads every type 7.0 can load except modules: strings,
//! LIST, SET, ZSET, HASH, ZSET_2, HASH_ZIPMAP, LIST_ZIPLIST, SET_INTSET, ZSET_ZIPLIST,
//! HASH_ZIPLIST, LIST_QUICKLIST, HASH_LISTPACK, ZSET_LISTPACK, LIST_QUICKLIST_2, with
//! every string encoding (INT8/16/32, LZF), function libraries skipped. Vigil has
//! no stream type: stream keys (STREAM_LISTPACKS, _2) are parsed past and listed in
//! [`Loaded::skipped_streams`] so the caller logs them; module keys are an error.
//! Every read is bounds-checked: a corrupt file is an error, never a panic.
//! See replication.md §11.

use super::db::{Value, ZSet};
use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use std::collections::VecDeque;

/// A load failure, with a short reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RdbError(pub String);

fn bad(s: impl Into<String>) -> RdbError {
    RdbError(s.into())
}

type Result<T> = std::result::Result<T, RdbError>;

// Object types (rdb.h).
const T_STRING: u8 = 0;
const T_LIST: u8 = 1;
const T_SET: u8 = 2;
const T_ZSET: u8 = 3;
const T_HASH: u8 = 4;
const T_ZSET_2: u8 = 5;
const T_HASH_ZIPMAP: u8 = 9;
const T_LIST_ZIPLIST: u8 = 10;
const T_SET_INTSET: u8 = 11;
const T_ZSET_ZIPLIST: u8 = 12;
const T_HASH_ZIPLIST: u8 = 13;
const T_LIST_QUICKLIST: u8 = 14;
const T_HASH_LISTPACK: u8 = 16;
const T_ZSET_LISTPACK: u8 = 17;
const T_LIST_QUICKLIST_2: u8 = 18;

// Opcodes.
const OP_FUNCTION2: u8 = 0xF5;
const OP_FUNCTION: u8 = 0xF6;
const OP_MODULE_AUX: u8 = 0xF7;
const OP_IDLE: u8 = 0xF8;
const OP_FREQ: u8 = 0xF9;
const OP_AUX: u8 = 0xFA;
const OP_RESIZEDB: u8 = 0xFB;
const OP_EXPIRETIME_MS: u8 = 0xFC;
const OP_EXPIRETIME: u8 = 0xFD;
const OP_SELECTDB: u8 = 0xFE;
const OP_EOF: u8 = 0xFF;

// Thresholds of redis.conf defaults, used to pick the compact encodings.
const LISTPACK_MAX_ENTRIES_HASH: usize = 512;
const LISTPACK_MAX_VALUE: usize = 64;
const LISTPACK_MAX_ENTRIES_ZSET: usize = 128;
const INTSET_MAX_ENTRIES: usize = 512;
const QUICKLIST_NODE_BYTES: usize = 8192;

// ---------------------------------------------------------------------------
// CRC64 (Jones, reflected, init 0) as Redis computes it.

fn crc64_table() -> &'static [u64; 256] {
    static T: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let poly: u64 = 0x95AC_9329_AC4B_C9B5;
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut crc = i as u64;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ poly
                } else {
                    crc >> 1
                };
            }
            *slot = crc;
        }
        t
    })
}

/// CRC-64/Jones of `data`, continuing from `crc`.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    let t = crc64_table();
    for &b in data {
        crc = t[((crc ^ b as u64) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc
}

// ---------------------------------------------------------------------------
// LZF

/// Decompress an LZF block into exactly `ulen` bytes.
pub fn lzf_decompress(input: &[u8], ulen: usize) -> Result<Vec<u8>> {
    let err = || bad("Invalid LZF compressed string");
    let mut out: Vec<u8> = Vec::with_capacity(ulen);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(i..i + n).ok_or_else(err)?;
            if out.len() + n > ulen {
                return Err(err());
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i).ok_or_else(err)? as usize;
                i += 1;
            }
            let low = *input.get(i).ok_or_else(err)? as usize;
            i += 1;
            let back = ((ctrl & 0x1F) << 8) + low + 1;
            if back > out.len() || out.len() + len + 2 > ulen {
                return Err(err());
            }
            let start = out.len() - back;
            for k in 0..len + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    if out.len() != ulen {
        return Err(err());
    }
    Ok(out)
}

/// Compress with LZF (liblzf's format; any valid LZF stream decodes the same).
/// `None` when the output would not be smaller than `max_out` bytes.
pub fn lzf_compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    const HLOG: usize = 14;
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = 262;
    let n = input.len();
    if n < 4 {
        return None;
    }
    let mut htab = vec![0usize; 1 << HLOG];
    let mut out = Vec::with_capacity(max_out);
    let mut lit: Vec<u8> = Vec::with_capacity(32);
    let flush_lit = |out: &mut Vec<u8>, lit: &mut Vec<u8>| {
        if !lit.is_empty() {
            out.push((lit.len() - 1) as u8);
            out.extend_from_slice(lit);
            lit.clear();
        }
    };
    let hash = |p: usize| -> usize {
        let v = ((input[p] as u32) << 16) | ((input[p + 1] as u32) << 8) | input[p + 2] as u32;
        ((v.wrapping_mul(2654435761)) >> (32 - HLOG as u32)) as usize & ((1 << HLOG) - 1)
    };
    let mut ip = 0;
    while ip + 2 < n {
        let h = hash(ip);
        let cand = htab[h];
        htab[h] = ip + 1; // +1 so 0 means empty
        if cand > 0 {
            let r = cand - 1;
            let off = ip - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                let maxlen = (n - ip).min(MAX_REF + 2);
                let mut len = 3;
                while len < maxlen && input[r + len] == input[ip + len] {
                    len += 1;
                }
                flush_lit(&mut out, &mut lit);
                let l = len - 2;
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xFF) as u8);
                if out.len() >= max_out {
                    return None;
                }
                ip += len;
                continue;
            }
        }
        lit.push(input[ip]);
        if lit.len() == 32 {
            flush_lit(&mut out, &mut lit);
        }
        if out.len() + lit.len() >= max_out {
            return None;
        }
        ip += 1;
    }
    while ip < n {
        lit.push(input[ip]);
        if lit.len() == 32 {
            flush_lit(&mut out, &mut lit);
        }
        ip += 1;
    }
    flush_lit(&mut out, &mut lit);
    if out.len() >= max_out {
        return None;
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// Writer

/// The data of one database to write.
pub struct DbSnapshot {
    pub index: usize,
    pub map: IndexMap<Bytes, Value>,
    pub expires: IndexMap<Bytes, i64>,
}

/// Replication info stored in the aux fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplInfo {
    pub stream_db: i64,
    pub replid: String,
    pub offset: i64,
}

/// Options of one save.
pub struct SaveOptions {
    pub repl: Option<ReplInfo>,
    pub compress: bool,
    pub checksum: bool,
    pub ctime: i64,
    pub used_mem: i64,
}

struct Writer {
    out: Vec<u8>,
    compress: bool,
}

/// Canonical decimal integer (Redis's string2ll rules), as i64.
fn canonical_int(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let v: i64 = s.parse().ok()?;
    if v.to_string().as_bytes() == b {
        Some(v)
    } else {
        None
    }
}

impl Writer {
    fn len(&mut self, n: u64) {
        if n < 64 {
            self.out.push(n as u8);
        } else if n < 16384 {
            self.out.push(0x40 | (n >> 8) as u8);
            self.out.push((n & 0xFF) as u8);
        } else if n <= u32::MAX as u64 {
            self.out.push(0x80);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.out.push(0x81);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    fn string(&mut self, b: &[u8]) {
        if b.len() <= 11 {
            if let Some(v) = canonical_int(b) {
                if let Ok(x) = i8::try_from(v) {
                    self.out.push(0xC0);
                    self.out.push(x as u8);
                    return;
                } else if let Ok(x) = i16::try_from(v) {
                    self.out.push(0xC1);
                    self.out.extend_from_slice(&x.to_le_bytes());
                    return;
                } else if let Ok(x) = i32::try_from(v) {
                    self.out.push(0xC2);
                    self.out.extend_from_slice(&x.to_le_bytes());
                    return;
                }
            }
        }
        if self.compress && b.len() > 20 {
            if let Some(c) = lzf_compress(b, b.len() - 4) {
                self.out.push(0xC3);
                self.len(c.len() as u64);
                self.len(b.len() as u64);
                self.out.extend_from_slice(&c);
                return;
            }
        }
        self.len(b.len() as u64);
        self.out.extend_from_slice(b);
    }

    fn aux(&mut self, k: &str, v: &[u8]) {
        self.out.push(OP_AUX);
        self.string(k.as_bytes());
        self.string(v);
    }

    fn value(&mut self, key: &[u8], v: &Value) {
        match v {
            Value::Str(s) => {
                self.out.push(T_STRING);
                self.string(key);
                self.string(s);
            }
            Value::List(l) => {
                self.out.push(T_LIST_QUICKLIST_2);
                self.string(key);
                let mut nodes: Vec<Vec<u8>> = Vec::new();
                let mut lp = Listpack::new();
                for e in l.iter() {
                    if lp.count > 0 && lp.buf.len() + e.len() + 11 > QUICKLIST_NODE_BYTES {
                        nodes.push(std::mem::replace(&mut lp, Listpack::new()).finish());
                    }
                    lp.push(e);
                }
                if lp.count > 0 {
                    nodes.push(lp.finish());
                }
                self.len(nodes.len() as u64);
                for n in nodes {
                    self.len(2); // PACKED
                    self.string(&n);
                }
            }
            Value::Set(s) => {
                let ints: Option<Vec<i64>> = if s.len() <= INTSET_MAX_ENTRIES {
                    s.iter().map(|m| canonical_int(m)).collect()
                } else {
                    None
                };
                match ints {
                    Some(mut ints) if !ints.is_empty() => {
                        ints.sort_unstable();
                        let width: u32 = if ints.iter().all(|&v| i16::try_from(v).is_ok()) {
                            2
                        } else if ints.iter().all(|&v| i32::try_from(v).is_ok()) {
                            4
                        } else {
                            8
                        };
                        let mut blob = Vec::with_capacity(8 + ints.len() * width as usize);
                        blob.extend_from_slice(&width.to_le_bytes());
                        blob.extend_from_slice(&(ints.len() as u32).to_le_bytes());
                        for v in ints {
                            match width {
                                2 => blob.extend_from_slice(&(v as i16).to_le_bytes()),
                                4 => blob.extend_from_slice(&(v as i32).to_le_bytes()),
                                _ => blob.extend_from_slice(&v.to_le_bytes()),
                            }
                        }
                        self.out.push(T_SET_INTSET);
                        self.string(key);
                        self.string(&blob);
                    }
                    _ => {
                        self.out.push(T_SET);
                        self.string(key);
                        self.len(s.len() as u64);
                        for m in s.iter() {
                            self.string(m);
                        }
                    }
                }
            }
            Value::Hash(h) => {
                let small = h.len() <= LISTPACK_MAX_ENTRIES_HASH
                    && h.iter().all(|(f, v)| {
                        f.len() <= LISTPACK_MAX_VALUE && v.len() <= LISTPACK_MAX_VALUE
                    });
                if small {
                    let mut lp = Listpack::new();
                    for (f, v) in h.iter() {
                        lp.push(f);
                        lp.push(v);
                    }
                    self.out.push(T_HASH_LISTPACK);
                    self.string(key);
                    self.string(&lp.finish());
                } else {
                    self.out.push(T_HASH);
                    self.string(key);
                    self.len(h.len() as u64);
                    for (f, v) in h.iter() {
                        self.string(f);
                        self.string(v);
                    }
                }
            }
            Value::ZSet(z) => {
                let small = z.len() <= LISTPACK_MAX_ENTRIES_ZSET
                    && z.dict.keys().all(|m| m.len() <= LISTPACK_MAX_VALUE);
                if small {
                    let mut lp = Listpack::new();
                    for (score, m) in z.order.iter() {
                        lp.push(m);
                        lp.push(score_text(score.0).as_bytes());
                    }
                    self.out.push(T_ZSET_LISTPACK);
                    self.string(key);
                    self.string(&lp.finish());
                } else {
                    self.out.push(T_ZSET_2);
                    self.string(key);
                    self.len(z.len() as u64);
                    for (score, m) in z.order.iter().rev() {
                        self.string(m);
                        self.out.extend_from_slice(&score.0.to_le_bytes());
                    }
                }
            }
        }
    }
}

/// A score as Redis's d2string writes it into a zset listpack.
fn score_text(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 && d.is_sign_negative() {
        return "-0".into();
    }
    if d.fract() == 0.0 && d.abs() < 1e17 {
        return format!("{}", d as i64);
    }
    format!("{d:?}")
}

/// Bytes of a listpack entry's backlen for an entry of `l` bytes.
fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// Listpack builder (listpack.c's format).
struct Listpack {
    buf: Vec<u8>,
    count: usize,
}

impl Listpack {
    fn new() -> Listpack {
        Listpack {
            buf: vec![0; 6],
            count: 0,
        }
    }

    fn push(&mut self, e: &[u8]) {
        let start = self.buf.len();
        match canonical_int(e) {
            Some(v) if (0..=127).contains(&v) => self.buf.push(v as u8),
            Some(v) if (-4096..=4095).contains(&v) => {
                let u = (v as i32 as u32) & 0x1FFF;
                self.buf.push(0xC0 | (u >> 8) as u8);
                self.buf.push((u & 0xFF) as u8);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                self.buf.push(0xF1);
                self.buf.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                self.buf.push(0xF2);
                let b = (v as i32).to_le_bytes();
                self.buf.extend_from_slice(&b[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                self.buf.push(0xF3);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                self.buf.push(0xF4);
                self.buf.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                let n = e.len();
                if n < 64 {
                    self.buf.push(0x80 | n as u8);
                } else if n < 4096 {
                    self.buf.push(0xE0 | (n >> 8) as u8);
                    self.buf.push((n & 0xFF) as u8);
                } else {
                    self.buf.push(0xF0);
                    self.buf.extend_from_slice(&(n as u32).to_le_bytes());
                }
                self.buf.extend_from_slice(e);
            }
        }
        let l = self.buf.len() - start;
        // backlen (lpEncodeBacklen): most significant 7 bits first with bit 7 clear,
        // then 7 bits per byte with bit 7 set.
        let nbytes = backlen_size(l);
        for i in (0..nbytes).rev() {
            let g = ((l >> (7 * i)) & 0x7F) as u8;
            self.buf.push(if i == nbytes - 1 { g } else { g | 0x80 });
        }
        self.count += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count < 65535 {
            self.count as u16
        } else {
            65535
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// Serialize a whole dataset as an RDB v10 file.
pub fn encode(dbs: &[DbSnapshot], opts: &SaveOptions) -> Vec<u8> {
    let refs: Vec<DbRef> = dbs.iter().map(|d| (d.index, &d.map, &d.expires)).collect();
    encode_refs(&refs, opts)
}

/// A database by reference: (index, keys, expires).
pub type DbRef<'a> = (usize, &'a IndexMap<Bytes, Value>, &'a IndexMap<Bytes, i64>);

/// Serialize databases given by reference (used by a forked child, which reads the
/// live maps of its copy-on-write image).
pub fn encode_refs(dbs: &[DbRef], opts: &SaveOptions) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(1 << 16),
        compress: opts.compress,
    };
    w.out.extend_from_slice(b"REDIS0010");
    w.aux("redis-ver", super::REDIS_VERSION.as_bytes());
    w.aux("redis-bits", b"64");
    w.aux("ctime", opts.ctime.to_string().as_bytes());
    w.aux("used-mem", opts.used_mem.to_string().as_bytes());
    if let Some(r) = &opts.repl {
        w.aux("repl-stream-db", r.stream_db.to_string().as_bytes());
        w.aux("repl-id", r.replid.as_bytes());
        w.aux("repl-offset", r.offset.to_string().as_bytes());
    }
    w.aux("aof-base", b"0");
    for &(index, map, expires) in dbs {
        if map.is_empty() {
            continue;
        }
        w.out.push(OP_SELECTDB);
        w.len(index as u64);
        w.out.push(OP_RESIZEDB);
        w.len(map.len() as u64);
        let nexp = expires.keys().filter(|k| map.contains_key(*k)).count();
        w.len(nexp as u64);
        for (k, v) in map.iter() {
            if v.is_empty_aggregate() {
                continue;
            }
            if let Some(t) = expires.get(k) {
                w.out.push(OP_EXPIRETIME_MS);
                w.out.extend_from_slice(&t.to_le_bytes());
            }
            w.value(k, v);
        }
    }
    w.out.push(OP_EOF);
    let crc = if opts.checksum { crc64(0, &w.out) } else { 0 };
    w.out.extend_from_slice(&crc.to_le_bytes());
    w.out
}

// ---------------------------------------------------------------------------
// Reader

/// One loaded database: (index, keys, expires).
pub type LoadedDb = (usize, IndexMap<Bytes, Value>, IndexMap<Bytes, i64>);

/// What a load produced.
#[derive(Default)]
pub struct Loaded {
    /// db index → (keys, expires).
    pub dbs: Vec<LoadedDb>,
    pub repl_stream_db: Option<i64>,
    pub repl_id: Option<String>,
    pub repl_offset: Option<i64>,
    pub keys: usize,
    /// Stream keys found and skipped (vigil has no stream type): (db, key).
    pub skipped_streams: Vec<(usize, Bytes)>,
}

impl Loaded {
    /// One log line naming the stream keys that were skipped (at most 5 named).
    pub fn skipped_streams_note(&self) -> Option<String> {
        if self.skipped_streams.is_empty() {
            return None;
        }
        let names: Vec<String> = self
            .skipped_streams
            .iter()
            .take(5)
            .map(|(db, k)| format!("db{db}:'{}'", String::from_utf8_lossy(k)))
            .collect();
        let more = self.skipped_streams.len().saturating_sub(names.len());
        Some(format!(
            "{} stream key(s) NOT loaded (vigil has no stream type; this dataset differs from the source): {}{}",
            self.skipped_streams.len(),
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ))
    }

    /// The repl info when all three aux fields were present and valid (§4.6).
    pub fn repl_info(&self) -> Option<ReplInfo> {
        let id = self.repl_id.clone()?;
        if !crate::util::ids::is_hex40(&id) {
            return None;
        }
        let offset = self.repl_offset?;
        let db = self.repl_stream_db?;
        if offset < 0 || db < 0 {
            return None;
        }
        Some(ReplInfo {
            stream_db: db,
            replid: id,
            offset,
        })
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| bad("Unexpected EOF reading RDB file"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn len_enc(&mut self) -> Result<Len> {
        let b = self.u8()?;
        match b >> 6 {
            0 => Ok(Len::Plain((b & 0x3F) as u64)),
            1 => {
                let b2 = self.u8()?;
                Ok(Len::Plain((((b & 0x3F) as u64) << 8) | b2 as u64))
            }
            2 => match b {
                0x80 => {
                    let s = self.take(4)?;
                    Ok(Len::Plain(
                        u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64
                    ))
                }
                0x81 => {
                    let s = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    Ok(Len::Plain(u64::from_be_bytes(a)))
                }
                _ => Err(bad("Unknown length encoding in rdbLoadLen()")),
            },
            _ => Ok(Len::Encoded(b & 0x3F)),
        }
    }

    fn len(&mut self) -> Result<u64> {
        match self.len_enc()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(bad(
                "unexpected string encoding where a length was expected",
            )),
        }
    }

    /// A length used to size a collection: bounded by the bytes left, so a corrupt
    /// length cannot make us allocate gigabytes.
    fn count(&mut self) -> Result<usize> {
        let n = self.len()?;
        if n > (self.data.len() - self.pos) as u64 {
            return Err(bad("collection length larger than the file"));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<Bytes> {
        match self.len_enc()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| bad("string too long"))?;
                Ok(Bytes::copy_from_slice(self.take(n)?))
            }
            Len::Encoded(0) => Ok(Bytes::from((self.u8()? as i8).to_string())),
            Len::Encoded(1) => {
                let s = self.take(2)?;
                Ok(Bytes::from(i16::from_le_bytes([s[0], s[1]]).to_string()))
            }
            Len::Encoded(2) => {
                let s = self.take(4)?;
                Ok(Bytes::from(
                    i32::from_le_bytes([s[0], s[1], s[2], s[3]]).to_string(),
                ))
            }
            Len::Encoded(3) => {
                let clen = self.len()? as usize;
                let ulen = self.len()? as usize;
                if ulen > 1 << 31 {
                    return Err(bad("Invalid LZF compressed string"));
                }
                let c = self.take(clen)?;
                Ok(Bytes::from(lzf_decompress(c, ulen)?))
            }
            Len::Encoded(_) => Err(bad("Unknown RDB string encoding type")),
        }
    }

    fn f64le(&mut self) -> Result<f64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(f64::from_le_bytes(a))
    }

    fn i64le(&mut self) -> Result<i64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_le_bytes(a))
    }

    /// Legacy string-encoded double (type 3 zsets).
    fn old_double(&mut self) -> Result<f64> {
        let n = self.u8()?;
        match n {
            253 => Err(bad("Zset with NAN score detected")),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(n as usize)?;
                parse_score(s)
            }
        }
    }
}

fn parse_score(s: &[u8]) -> Result<f64> {
    let v: f64 = std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| bad("bad zset score"))?;
    if v.is_nan() {
        return Err(bad("Zset with NAN score detected"));
    }
    Ok(v)
}

/// Elements of a listpack blob, integers rendered as decimal text.
pub fn listpack_entries(lp: &[u8]) -> Result<Vec<Bytes>> {
    let err = || bad("listpack integrity check failed");
    if lp.len() < 7 {
        return Err(err());
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() || lp[lp.len() - 1] != 0xFF {
        return Err(err());
    }
    let mut out = Vec::new();
    let mut p = 6;
    loop {
        let b = *lp.get(p).ok_or_else(err)?;
        if b == 0xFF {
            break;
        }
        let get = |from: usize, n: usize| lp.get(from..from + n).ok_or_else(err);
        let (val, size): (Bytes, usize) = if b & 0x80 == 0 {
            (Bytes::from((b & 0x7F).to_string()), 1)
        } else if b & 0xC0 == 0x80 {
            let n = (b & 0x3F) as usize;
            (Bytes::copy_from_slice(get(p + 1, n)?), 1 + n)
        } else if b & 0xE0 == 0xC0 {
            let lo = *lp.get(p + 1).ok_or_else(err)? as i32;
            let mut v = (((b & 0x1F) as i32) << 8) | lo;
            if v >= 4096 {
                v -= 8192;
            }
            (Bytes::from(v.to_string()), 2)
        } else if b & 0xF0 == 0xE0 {
            let lo = *lp.get(p + 1).ok_or_else(err)? as usize;
            let n = (((b & 0x0F) as usize) << 8) | lo;
            (Bytes::copy_from_slice(get(p + 2, n)?), 2 + n)
        } else {
            match b {
                0xF0 => {
                    let s = get(p + 1, 4)?;
                    let n = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize;
                    (Bytes::copy_from_slice(get(p + 5, n)?), 5 + n)
                }
                0xF1 => {
                    let s = get(p + 1, 2)?;
                    (Bytes::from(i16::from_le_bytes([s[0], s[1]]).to_string()), 3)
                }
                0xF2 => {
                    let s = get(p + 1, 3)?;
                    let v = ((s[2] as i32) << 24 | (s[1] as i32) << 16 | (s[0] as i32) << 8) >> 8;
                    (Bytes::from(v.to_string()), 4)
                }
                0xF3 => {
                    let s = get(p + 1, 4)?;
                    (
                        Bytes::from(i32::from_le_bytes([s[0], s[1], s[2], s[3]]).to_string()),
                        5,
                    )
                }
                0xF4 => {
                    let s = get(p + 1, 8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    (Bytes::from(i64::from_le_bytes(a).to_string()), 9)
                }
                _ => return Err(err()),
            }
        };
        p += size + backlen_size(size);
        out.push(val);
    }
    Ok(out)
}

/// Elements of a ziplist blob (pre-7.0 encodings).
pub fn ziplist_entries(zl: &[u8]) -> Result<Vec<Bytes>> {
    let err = || bad("ziplist integrity check failed");
    if zl.len() < 11 {
        return Err(err());
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    if total != zl.len() {
        return Err(err());
    }
    let mut out = Vec::new();
    let mut p = 10;
    loop {
        let first = *zl.get(p).ok_or_else(err)?;
        if first == 0xFF {
            break;
        }
        // prevlen
        p += if first < 254 { 1 } else { 5 };
        let enc = *zl.get(p).ok_or_else(err)?;
        let get = |from: usize, n: usize| zl.get(from..from + n).ok_or_else(err);
        match enc >> 6 {
            0 => {
                let n = (enc & 0x3F) as usize;
                out.push(Bytes::copy_from_slice(get(p + 1, n)?));
                p += 1 + n;
            }
            1 => {
                let lo = *zl.get(p + 1).ok_or_else(err)? as usize;
                let n = (((enc & 0x3F) as usize) << 8) | lo;
                out.push(Bytes::copy_from_slice(get(p + 2, n)?));
                p += 2 + n;
            }
            2 => {
                let s = get(p + 1, 4)?;
                let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                out.push(Bytes::copy_from_slice(get(p + 5, n)?));
                p += 5 + n;
            }
            _ => {
                let (v, n): (i64, usize) = match enc {
                    0xC0 => {
                        let s = get(p + 1, 2)?;
                        (i16::from_le_bytes([s[0], s[1]]) as i64, 2)
                    }
                    0xD0 => {
                        let s = get(p + 1, 4)?;
                        (i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64, 4)
                    }
                    0xE0 => {
                        let s = get(p + 1, 8)?;
                        let mut a = [0u8; 8];
                        a.copy_from_slice(s);
                        (i64::from_le_bytes(a), 8)
                    }
                    0xF0 => {
                        let s = get(p + 1, 3)?;
                        (
                            (((s[2] as i32) << 24 | (s[1] as i32) << 16 | (s[0] as i32) << 8) >> 8)
                                as i64,
                            3,
                        )
                    }
                    0xFE => (*zl.get(p + 1).ok_or_else(err)? as i8 as i64, 1),
                    e if (0xF1..=0xFD).contains(&e) => (((e & 0x0F) as i64) - 1, 0),
                    _ => return Err(err()),
                };
                out.push(Bytes::from(v.to_string()));
                p += 1 + n;
            }
        }
    }
    Ok(out)
}

/// Members of an intset blob.
fn intset_entries(b: &[u8]) -> Result<Vec<Bytes>> {
    let err = || bad("intset integrity check failed");
    if b.len() < 8 {
        return Err(err());
    }
    let enc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(enc, 2 | 4 | 8) || n.checked_mul(enc).map(|x| x + 8) != Some(b.len()) {
        return Err(err());
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let s = &b[8 + i * enc..8 + (i + 1) * enc];
        let v: i64 = match enc {
            2 => i16::from_le_bytes([s[0], s[1]]) as i64,
            4 => i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64,
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                i64::from_le_bytes(a)
            }
        };
        out.push(Bytes::from(v.to_string()));
    }
    Ok(out)
}

/// Pairs of a zipmap blob (Redis ≤ 2.4 hashes).
fn zipmap_pairs(b: &[u8]) -> Result<Vec<(Bytes, Bytes)>> {
    let err = || bad("zipmap integrity check failed");
    let mut p = 1;
    let mut out = Vec::new();
    let read_len = |p: &mut usize| -> Result<Option<usize>> {
        let f = *b.get(*p).ok_or_else(err)?;
        if f == 0xFF {
            return Ok(None);
        }
        if f < 254 {
            *p += 1;
            Ok(Some(f as usize))
        } else if f == 254 {
            let s = b.get(*p + 1..*p + 5).ok_or_else(err)?;
            *p += 5;
            Ok(Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize))
        } else {
            Err(err())
        }
    };
    while let Some(klen) = read_len(&mut p)? {
        let k = b.get(p..p + klen).ok_or_else(err)?;
        p += klen;
        let vlen = read_len(&mut p)?.ok_or_else(err)?;
        let free = *b.get(p).ok_or_else(err)? as usize;
        p += 1;
        let v = b.get(p..p + vlen).ok_or_else(err)?;
        p += vlen + free;
        out.push((Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)));
    }
    Ok(out)
}

fn pairs_to_hash(items: Vec<Bytes>) -> Result<Value> {
    if !items.len().is_multiple_of(2) {
        return Err(bad("hash listpack with an odd number of elements"));
    }
    let mut h = IndexMap::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        h.insert(f, v);
    }
    Ok(Value::Hash(Box::new(h)))
}

fn pairs_to_zset(items: Vec<Bytes>) -> Result<Value> {
    if !items.len().is_multiple_of(2) {
        return Err(bad("zset listpack with an odd number of elements"));
    }
    let mut z = ZSet::default();
    let mut it = items.into_iter();
    while let (Some(m), Some(s)) = (it.next(), it.next()) {
        z.insert(m, parse_score(&s)?);
    }
    Ok(Value::ZSet(Box::new(z)))
}

fn read_value(r: &mut Reader, t: u8) -> Result<Value> {
    Ok(match t {
        T_STRING => Value::Str(r.string()?),
        T_LIST => {
            let n = r.count()?;
            let mut l = VecDeque::with_capacity(n);
            for _ in 0..n {
                l.push_back(r.string()?);
            }
            Value::List(Box::new(l))
        }
        T_SET => {
            let n = r.count()?;
            let mut s = IndexSet::with_capacity(n);
            for _ in 0..n {
                s.insert(r.string()?);
            }
            Value::Set(Box::new(s))
        }
        T_ZSET | T_ZSET_2 => {
            let n = r.count()?;
            let mut z = ZSet::default();
            for _ in 0..n {
                let m = r.string()?;
                let s = if t == T_ZSET_2 {
                    let v = r.f64le()?;
                    if v.is_nan() {
                        return Err(bad("Zset with NAN score detected"));
                    }
                    v
                } else {
                    r.old_double()?
                };
                z.insert(m, s);
            }
            Value::ZSet(Box::new(z))
        }
        T_HASH => {
            let n = r.count()?;
            let mut h = IndexMap::with_capacity(n);
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                h.insert(f, v);
            }
            Value::Hash(Box::new(h))
        }
        T_HASH_ZIPMAP => {
            let blob = r.string()?;
            Value::Hash(Box::new(zipmap_pairs(&blob)?.into_iter().collect()))
        }
        T_LIST_ZIPLIST => {
            let blob = r.string()?;
            Value::List(Box::new(ziplist_entries(&blob)?.into_iter().collect()))
        }
        T_SET_INTSET => {
            let blob = r.string()?;
            Value::Set(Box::new(intset_entries(&blob)?.into_iter().collect()))
        }
        T_ZSET_ZIPLIST => pairs_to_zset(ziplist_entries(&r.string()?)?)?,
        T_HASH_ZIPLIST => pairs_to_hash(ziplist_entries(&r.string()?)?)?,
        T_LIST_QUICKLIST | T_LIST_QUICKLIST_2 => {
            let nodes = r.count()?;
            let mut l = VecDeque::new();
            for _ in 0..nodes {
                let container = if t == T_LIST_QUICKLIST_2 { r.len()? } else { 2 };
                let blob = r.string()?;
                match container {
                    1 => {
                        if blob.is_empty() {
                            return Err(bad("Quicklist integrity check failed."));
                        }
                        l.push_back(blob)
                    }
                    2 => {
                        let items = if t == T_LIST_QUICKLIST {
                            ziplist_entries(&blob)?
                        } else {
                            listpack_entries(&blob)?
                        };
                        l.extend(items);
                    }
                    _ => return Err(bad("Quicklist integrity check failed.")),
                }
            }
            Value::List(Box::new(l))
        }
        T_HASH_LISTPACK => pairs_to_hash(listpack_entries(&r.string()?)?)?,
        T_ZSET_LISTPACK => pairs_to_zset(listpack_entries(&r.string()?)?)?,
        T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 => {
            return Err(bad("stream keys are not supported by vigil"))
        }
        6 | 7 => return Err(bad("module keys are not supported by vigil")),
        other => return Err(bad(format!("Unknown RDB encoding type {other}"))),
    })
}

const T_STREAM_LISTPACKS: u8 = 15;
const T_STREAM_LISTPACKS_2: u8 = 19;

/// Read past a stream value (RDB_TYPE_STREAM_LISTPACKS / _2, as rdbSaveObject
/// writes them in 7.0): the listpack nodes, the metadata, the consumer groups with
/// their pending entries and consumers. Bounds-checked like every other read.
fn skip_stream(r: &mut Reader, t: u8) -> Result<()> {
    let v2 = t == T_STREAM_LISTPACKS_2;
    for _ in 0..r.count()? {
        let master_id = r.string()?;
        if master_id.len() != 16 {
            return Err(bad("Stream node key entry is not the size of a stream ID"));
        }
        if r.string()?.is_empty() {
            return Err(bad("Empty listpack inside stream"));
        }
    }
    // length, last_id (ms, seq); v2: first_id, max_deleted_entry_id, entries_added.
    let meta = if v2 { 8 } else { 3 };
    for _ in 0..meta {
        r.len()?;
    }
    for _ in 0..r.count()? {
        r.string()?; // group name
        r.len()?; // last_id ms
        r.len()?; // last_id seq
        if v2 {
            r.len()?; // entries_read
        }
        // Group PEL: raw 16-byte id, delivery time (8 bytes), delivery count.
        for _ in 0..r.count()? {
            r.take(16)?;
            r.take(8)?;
            r.len()?;
        }
        // Consumers: name, seen time (8 bytes), their PEL of raw ids.
        for _ in 0..r.count()? {
            r.string()?;
            r.take(8)?;
            for _ in 0..r.count()? {
                r.take(16)?;
            }
        }
    }
    Ok(())
}

/// Parse a whole RDB file (checksum verified unless it is zero).
pub fn decode(data: &[u8], max_dbs: usize) -> Result<Loaded> {
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return Err(bad("Wrong signature trying to load DB from file"));
    }
    let ver: u32 = std::str::from_utf8(&data[5..9])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("Wrong signature trying to load DB from file"))?;
    if !(1..=10).contains(&ver) {
        return Err(bad(format!("Can't handle RDB format version {ver}")));
    }
    let mut r = Reader { data, pos: 9 };
    let mut out = Loaded::default();
    let mut cur: Option<usize> = None; // index into out.dbs
    let mut expire: Option<i64> = None;
    let select = |out: &mut Loaded, db: usize| -> usize {
        match out.dbs.iter().position(|(i, _, _)| *i == db) {
            Some(p) => p,
            None => {
                out.dbs.push((db, IndexMap::new(), IndexMap::new()));
                out.dbs.len() - 1
            }
        }
    };
    loop {
        let t = r.u8()?;
        match t {
            OP_EOF => break,
            OP_SELECTDB => {
                let db = r.len()? as usize;
                if db >= max_dbs {
                    return Err(bad(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {max_dbs} databases"
                    )));
                }
                cur = Some(select(&mut out, db));
            }
            OP_RESIZEDB => {
                let n = r.len()?;
                let _ = r.len()?;
                if let Some(c) = cur {
                    let room = (n as usize).min(data.len() / 4);
                    out.dbs[c].1.reserve(room);
                }
            }
            OP_EXPIRETIME_MS => expire = Some(r.i64le()?),
            OP_EXPIRETIME => {
                let s = r.take(4)?;
                expire = Some(i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64 * 1000);
            }
            OP_IDLE => {
                r.len()?;
            }
            OP_FREQ => {
                r.u8()?;
            }
            OP_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                let text = String::from_utf8_lossy(&v).into_owned();
                match &k[..] {
                    b"repl-stream-db" => out.repl_stream_db = text.parse().ok(),
                    b"repl-id" => out.repl_id = Some(text),
                    b"repl-offset" => out.repl_offset = text.parse().ok(),
                    _ => {}
                }
            }
            OP_MODULE_AUX => return Err(bad("module aux data is not supported by vigil")),
            OP_FUNCTION2 => {
                // Function libraries: vigil has no scripting; skip the code.
                r.string()?;
            }
            OP_FUNCTION => {
                r.string()?;
                r.string()?;
                if r.len()? != 0 {
                    r.string()?;
                }
                r.string()?;
            }
            T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 => {
                // No stream type here: parse past it (so the rest loads) and let
                // the caller say which keys were left out.
                let key = r.string()?;
                skip_stream(&mut r, t)?;
                expire = None;
                let db = cur.map(|c| out.dbs[c].0).unwrap_or(0);
                out.skipped_streams.push((db, key));
            }
            t => {
                let key = r.string()?;
                let value = read_value(&mut r, t)?;
                let c = match cur {
                    Some(c) => c,
                    None => {
                        let c = select(&mut out, 0);
                        cur = Some(c);
                        c
                    }
                };
                let exp = expire.take();
                if value.is_empty_aggregate() {
                    continue;
                }
                let (_, map, expires) = &mut out.dbs[c];
                if map.contains_key(&key) {
                    return Err(bad(format!(
                        "Duplicated key '{}' found in RDB file",
                        String::from_utf8_lossy(&key)
                    )));
                }
                if let Some(e) = exp {
                    expires.insert(key.clone(), e);
                }
                map.insert(key, value);
                out.keys += 1;
            }
        }
    }
    if ver >= 5 {
        let end = r.pos;
        let stored = r
            .take(8)
            .map_err(|_| bad("Unexpected EOF reading RDB file (checksum)"))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(stored);
        let stored = u64::from_le_bytes(a);
        if stored != 0 {
            let computed = crc64(0, &data[..end]);
            if computed != stored {
                return Err(bad(format!(
                    "Wrong RDB checksum expected: ({stored:x}) but got ({computed:x})"
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-1 stream (type 15, as 5.0-6.2 wrote it) with a group, a pending
    /// entry and a consumer is parsed past; the key after it loads; every truncation
    /// is an error, never a panic.
    #[test]
    fn stream_keys_are_skipped_and_named() {
        let mut w = Writer {
            out: b"REDIS0009".to_vec(),
            compress: false,
        };
        w.out.push(OP_SELECTDB);
        w.len(3);
        w.out.push(T_STREAM_LISTPACKS);
        w.string(b"events");
        w.len(1); // one listpack node
        w.string(&[0u8; 16]);
        w.string(b"not-parsed-listpack");
        w.len(2); // length
        w.len(1700000000000); // last id ms
        w.len(1); // last id seq
        w.len(1); // one group
        w.string(b"g1");
        w.len(1700000000000);
        w.len(0);
        w.len(1); // group PEL: id, delivery time, count
        w.out.extend_from_slice(&[7u8; 16]);
        w.out.extend_from_slice(&1700000000000i64.to_le_bytes());
        w.len(1);
        w.len(1); // one consumer: name, seen time, PEL
        w.string(b"alice");
        w.out.extend_from_slice(&1700000000000i64.to_le_bytes());
        w.len(1);
        w.out.extend_from_slice(&[7u8; 16]);
        w.out.push(T_STRING);
        w.string(b"after");
        w.string(b"yes");
        w.out.push(OP_EOF);
        let body = w.out.len();
        w.out.extend_from_slice(&[0u8; 8]); // checksum 0: not checked
        let loaded = decode(&w.out, 16).unwrap();
        assert_eq!(loaded.keys, 1);
        assert_eq!(
            loaded.skipped_streams,
            vec![(3, Bytes::from_static(b"events"))]
        );
        let note = loaded.skipped_streams_note().unwrap();
        assert!(note.contains("1 stream key(s) NOT loaded") && note.contains("db3:'events'"));
        for cut in 10..body {
            assert!(decode(&w.out[..cut], 16).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn crc64_check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The 204-byte dump of replication.md §11.14, rebuilt byte by byte.
    fn reference_dump() -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(b"REDIS0010");
        d.extend(hex("FA 09"));
        d.extend_from_slice(b"redis-ver");
        d.push(6);
        d.extend_from_slice(b"7.0.15");
        d.extend(hex("FA 0A"));
        d.extend_from_slice(b"redis-bits");
        d.extend(hex("C0 40 FA 05"));
        d.extend_from_slice(b"ctime");
        d.extend(hex("C2 60 FE 01 6B FA 08"));
        d.extend_from_slice(b"used-mem");
        d.extend(hex("C2 78 3A 10 00 FA 08"));
        d.extend_from_slice(b"aof-base");
        d.extend(hex("C0 00 FE 00 FB 07 01"));
        d.extend(hex("0B 02 73 69 0C 02 00 00 00 02 00 00 00 01 00 02 00"));
        d.extend(hex("FC 00 40 94 52 A3 03 00 00 00 01 65 01 76"));
        d.extend(hex(
            "11 01 7A 0F 0F 00 00 00 02 00 81 6D 02 83 31 2E 35 04 FF",
        ));
        d.extend(hex("00 01 6E C1 E8 03"));
        d.extend(hex("00 01 73 05"));
        d.extend_from_slice(b"hello");
        d.extend(hex("10 01 68 0D 0D 00 00 00 02 00 81 66 02 81 76 02 FF"));
        d.extend(hex("12 01 6C 01 02 0C 0C 00 00 00 02 00 81 78 02 01 01 FF"));
        d.extend(hex("FE 02 FB 01 00 00 01 6B 01 76 FF"));
        d.extend(hex("FA 43 EF B7 81 AD 8E 20"));
        d
    }

    #[test]
    fn loads_the_reference_dump() {
        let d = reference_dump();
        assert_eq!(d.len(), 204);
        let l = decode(&d, 16).unwrap();
        assert_eq!(l.keys, 8);
        let db0 = &l.dbs.iter().find(|x| x.0 == 0).unwrap();
        match db0.1.get(&b"s"[..]).unwrap() {
            Value::Str(s) => assert_eq!(&s[..], b"hello"),
            _ => panic!(),
        }
        match db0.1.get(&b"n"[..]).unwrap() {
            Value::Str(s) => assert_eq!(&s[..], b"1000"),
            _ => panic!(),
        }
        match db0.1.get(&b"l"[..]).unwrap() {
            Value::List(l) => assert_eq!(l.iter().cloned().collect::<Vec<_>>(), vec!["x", "1"]),
            _ => panic!(),
        }
        match db0.1.get(&b"si"[..]).unwrap() {
            Value::Set(s) => assert!(s.contains(&b"1"[..]) && s.contains(&b"2"[..])),
            _ => panic!(),
        }
        match db0.1.get(&b"z"[..]).unwrap() {
            Value::ZSet(z) => assert_eq!(z.score(b"m"), Some(1.5)),
            _ => panic!(),
        }
        match db0.1.get(&b"h"[..]).unwrap() {
            Value::Hash(h) => assert_eq!(&h.get(&b"f"[..]).unwrap()[..], b"v"),
            _ => panic!(),
        }
        assert_eq!(db0.2.get(&b"e"[..]), Some(&4000000000000));
        let db2 = &l.dbs.iter().find(|x| x.0 == 2).unwrap();
        assert_eq!(db2.1.len(), 1);
        // A flipped byte fails the checksum.
        let mut bad = d.clone();
        bad[145] ^= 1;
        assert!(decode(&bad, 16).is_err());
        // Truncations never panic.
        for n in 0..d.len() {
            assert!(decode(&d[..n], 16).is_err());
        }
    }

    #[test]
    fn writes_reference_encodings() {
        // The same values encode to the exact bytes Redis writes.
        let mut w = Writer {
            out: Vec::new(),
            compress: true,
        };
        let mut z = ZSet::default();
        z.insert(Bytes::from_static(b"m"), 1.5);
        w.value(b"z", &Value::ZSet(Box::new(z)));
        assert_eq!(
            w.out,
            hex("11 01 7A 0F 0F 00 00 00 02 00 81 6D 02 83 31 2E 35 04 FF")
        );
        w.out.clear();
        let l: VecDeque<Bytes> = [&b"x"[..], b"1"]
            .iter()
            .map(|b| Bytes::copy_from_slice(b))
            .collect();
        w.value(b"l", &Value::List(Box::new(l)));
        assert_eq!(
            w.out,
            hex("12 01 6C 01 02 0C 0C 00 00 00 02 00 81 78 02 01 01 FF")
        );
        w.out.clear();
        let s: IndexSet<Bytes> = [&b"2"[..], b"1"]
            .iter()
            .map(|b| Bytes::copy_from_slice(b))
            .collect();
        w.value(b"si", &Value::Set(Box::new(s)));
        assert_eq!(
            w.out,
            hex("0B 02 73 69 0C 02 00 00 00 02 00 00 00 01 00 02 00")
        );
        w.out.clear();
        w.value(b"n", &Value::Str(Bytes::from_static(b"1000")));
        assert_eq!(w.out, hex("00 01 6E C1 E8 03"));
    }

    #[test]
    fn roundtrip_every_type() {
        let mut map = IndexMap::new();
        let mut expires = IndexMap::new();
        map.insert(Bytes::from("s"), Value::Str(Bytes::from("a".repeat(100))));
        map.insert(Bytes::from("i"), Value::Str(Bytes::from("-30000")));
        map.insert(Bytes::from("big"), Value::Str(Bytes::from("12345678901")));
        let long: VecDeque<Bytes> = (0..3000)
            .map(|i| Bytes::from(format!("item-{i}-{}", "x".repeat(i % 50))))
            .collect();
        map.insert(Bytes::from("l"), Value::List(Box::new(long.clone())));
        let mut h = IndexMap::new();
        for i in 0..600 {
            h.insert(
                Bytes::from(format!("f{i}")),
                Bytes::from(format!("{}", i * 7)),
            );
        }
        map.insert(Bytes::from("h"), Value::Hash(Box::new(h)));
        let mut z = ZSet::default();
        for i in 0..200 {
            z.insert(Bytes::from(format!("m{i}")), i as f64 * 0.5 - 3.0);
        }
        z.insert(Bytes::from("inf"), f64::INFINITY);
        map.insert(Bytes::from("z"), Value::ZSet(Box::new(z)));
        let ints: IndexSet<Bytes> = [-5i64, 70000, 1, 1 << 40]
            .iter()
            .map(|v| Bytes::from(v.to_string()))
            .collect();
        map.insert(Bytes::from("si"), Value::Set(Box::new(ints)));
        expires.insert(Bytes::from("s"), 4_000_000_000_000);
        let snap = DbSnapshot {
            index: 3,
            map,
            expires,
        };
        let bytes = encode(
            &[snap],
            &SaveOptions {
                repl: Some(ReplInfo {
                    stream_db: 3,
                    replid: "a".repeat(40),
                    offset: 77,
                }),
                compress: true,
                checksum: true,
                ctime: 1,
                used_mem: 2,
            },
        );
        let l = decode(&bytes, 16).unwrap();
        assert_eq!(l.repl_info().unwrap().offset, 77);
        let (idx, m, e) = &l.dbs[0];
        assert_eq!(*idx, 3);
        assert_eq!(e.get(&b"s"[..]), Some(&4_000_000_000_000));
        match m.get(&b"l"[..]).unwrap() {
            Value::List(x) => assert_eq!(**x, long),
            _ => panic!(),
        }
        match m.get(&b"z"[..]).unwrap() {
            Value::ZSet(x) => {
                assert_eq!(x.len(), 201);
                assert_eq!(x.score(b"m3"), Some(-1.5));
                assert_eq!(x.score(b"inf"), Some(f64::INFINITY));
            }
            _ => panic!(),
        }
        match m.get(&b"h"[..]).unwrap() {
            Value::Hash(x) => assert_eq!(&x.get(&b"f599"[..]).unwrap()[..], b"4193"),
            _ => panic!(),
        }
        match m.get(&b"si"[..]).unwrap() {
            Value::Set(x) => assert!(x.contains(&Bytes::from((1i64 << 40).to_string()))),
            _ => panic!(),
        }
    }

    #[test]
    fn lzf_roundtrip() {
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i % 251) as u8 ^ (i / 700) as u8)
            .collect();
        let c = lzf_compress(&data, data.len()).unwrap();
        assert!(c.len() < data.len());
        assert_eq!(lzf_decompress(&c, data.len()).unwrap(), data);
        let a = vec![b'a'; 100];
        let c = lzf_compress(&a, 96).unwrap();
        assert_eq!(lzf_decompress(&c, 100).unwrap(), a);
        assert!(lzf_decompress(&c, 101).is_err());
    }
}
