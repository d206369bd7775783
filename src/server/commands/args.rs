//! Argument parsing shared by the command families, with Redis's error texts.

use crate::resp::Frame;
use bytes::Bytes;

pub const NOT_INTEGER: &str = "value is not an integer or out of range";
pub const NOT_FLOAT: &str = "value is not a valid float";
pub const SYNTAX: &str = "syntax error";

pub fn syntax_error() -> Frame {
    Frame::err(SYNTAX)
}

/// Parse a strict integer (no spaces, no '+', fits in i64), like string2ll.
pub fn int(arg: &[u8]) -> Result<i64, Frame> {
    parse_i64(arg).ok_or_else(|| Frame::err(NOT_INTEGER))
}

pub fn parse_i64(arg: &[u8]) -> Option<i64> {
    crate::resp::string2ll(arg)
}

/// Parse a float like Redis's getDoubleFromObject (`inf`, `-inf` accepted; NaN not).
pub fn float(arg: &[u8]) -> Result<f64, Frame> {
    parse_f64(arg).ok_or_else(|| Frame::err(NOT_FLOAT))
}

pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Largest reply SRANDMEMBER/HRANDFIELD/ZRANDMEMBER build for a negative count
/// (members may repeat, so the count is not bounded by the collection).
pub const MAX_RANDOM_REPLY: u64 = 1 << 24;

/// The error for a random-member count beyond [`MAX_RANDOM_REPLY`].
pub fn random_count_error() -> Frame {
    Frame::err("value is out of range")
}

/// The optional `count` of SRANDMEMBER/ZRANDMEMBER/HRANDFIELD (argv[2]), with Redis's
/// range checks; `pairs` when WITHSCORES/WITHVALUES doubles the reply.
pub fn random_count(argv: &[&[u8]], pairs: bool) -> Result<Option<i64>, Frame> {
    let count = match argv.get(2) {
        Some(a) => Some(int(a)?),
        None => None,
    };
    if pairs && count.is_some_and(|c| c < -(i64::MAX / 2)) {
        return Err(random_count_error());
    }
    if count.is_some_and(|c| c.unsigned_abs() > MAX_RANDOM_REPLY) {
        return Err(random_count_error());
    }
    Ok(count)
}

/// Case-insensitive option match.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Copy an argument into an owned buffer for storage in the keyspace.
pub fn owned(arg: &[u8]) -> Bytes {
    Bytes::copy_from_slice(arg)
}

/// The integer as a bulk string's bytes.
pub fn int_bytes(v: i64) -> Bytes {
    Bytes::from(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"12"), Some(12));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"012"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
    }
}
