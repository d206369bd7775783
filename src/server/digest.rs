//! DEBUG DIGEST / DIGEST-VALUE: Redis's order-independent dataset digest
//! (debug.c `computeDatasetDigest`, server.md §12.7), built on a small SHA-1.
//!
//! `xor(D, data)`: D ^= SHA1(data); `mix(D, data)`: D = SHA1(D ^ SHA1(data)).
//! Unordered collections (sets, hashes, zsets, the keys of a db) are combined with
//! xor, so the digest does not depend on insertion order.

use super::db::{Db, Value};
use super::state::State;

/// SHA-1 of `data` (FIPS 180-1).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    let mut w = [0u32; 80];
    for chunk in msg.chunks_exact(64) {
        for (i, word) in chunk.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

type Digest = [u8; 20];

fn xor_digest(d: &mut Digest, data: &[u8]) {
    let h = sha1(data);
    for (a, b) in d.iter_mut().zip(h) {
        *a ^= b;
    }
}

fn mix_digest(d: &mut Digest, data: &[u8]) {
    xor_digest(d, data);
    *d = sha1(&d[..]);
}

fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    }
}

/// The digest of one value, with its type and (when `has_ttl`) the expire marker;
/// the key name is mixed in first when given.
fn value_digest(key: Option<&[u8]>, v: &Value, has_ttl: bool) -> Digest {
    let mut d = [0u8; 20];
    if let Some(k) = key {
        mix_digest(&mut d, k);
    }
    mix_digest(&mut d, &type_code(v).to_be_bytes());
    match v {
        Value::Str(s) => mix_digest(&mut d, s),
        Value::List(l) => {
            for e in l.iter() {
                mix_digest(&mut d, e);
            }
        }
        Value::Set(s) => {
            for m in s.iter() {
                xor_digest(&mut d, m);
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.dict.iter() {
                let mut e = [0u8; 20];
                mix_digest(&mut e, m);
                mix_digest(&mut e, crate::resp::format_double(*score).as_bytes());
                xor_digest(&mut d, &e);
            }
        }
        Value::Hash(h) => {
            for (f, val) in h.iter() {
                let mut e = [0u8; 20];
                mix_digest(&mut e, f);
                mix_digest(&mut e, val);
                xor_digest(&mut d, &e);
            }
        }
    }
    if has_ttl {
        xor_digest(&mut d, b"!!expire!!");
    }
    d
}

fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn db_digest(final_d: &mut Digest, index: usize, db: &Db) {
    mix_digest(final_d, &(index as u32).to_be_bytes());
    for (k, v) in db.map.iter() {
        let d = value_digest(Some(k), v, db.expires.contains_key(k));
        xor_digest(final_d, &d);
    }
}

/// `DEBUG DIGEST`: 40 hex chars; all zeros for an empty dataset.
pub fn dataset_digest(state: &State) -> String {
    let mut d = [0u8; 20];
    for (i, db) in state.dbs.iter().enumerate() {
        if db.map.is_empty() {
            continue;
        }
        db_digest(&mut d, i, db);
    }
    hex(&d)
}

/// `DEBUG DIGEST-VALUE key`: the per-key digest without the key name; zeros when the
/// key is missing.
pub fn key_digest(db: &Db, key: &[u8]) -> String {
    match db.map.get(key) {
        Some(v) => hex(&value_digest(None, v, db.expires.contains_key(key))),
        None => "0".repeat(40),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn digest_ignores_insertion_order() {
        let mut a = Db::new(true);
        let mut b = Db::new(true);
        a.set(b"k1", Value::Str(Bytes::from_static(b"v1")));
        a.set(b"k2", Value::Str(Bytes::from_static(b"v2")));
        b.set(b"k2", Value::Str(Bytes::from_static(b"v2")));
        b.set(b"k1", Value::Str(Bytes::from_static(b"v1")));
        let mut da = [0u8; 20];
        let mut db = [0u8; 20];
        db_digest(&mut da, 0, &a);
        db_digest(&mut db, 0, &b);
        assert_eq!(da, db);
        b.set(b"k1", Value::Str(Bytes::from_static(b"other")));
        let mut dc = [0u8; 20];
        db_digest(&mut dc, 0, &b);
        assert_ne!(da, dc);
    }
}
