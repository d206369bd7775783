//! The RESP value type and its encoder.

use super::Proto;
use bytes::{BufMut, Bytes, BytesMut};

/// A RESP value. Servers build replies from it; clients get it back from
/// [`super::parse_frame`]. RESP3-only types are down-converted when encoded for a
/// RESP2 connection, exactly as redis-server does (see server.md §1.1).
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Simple(std::borrow::Cow<'static, str>),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    /// `$-1` in RESP2, `_` in RESP3.
    Null,
    /// `*-1` in RESP2, `_` in RESP3.
    NullArray,
    Array(Vec<Frame>),
    /// `%n` in RESP3, a flat array of 2n in RESP2.
    Map(Vec<(Frame, Frame)>),
    /// `~n` in RESP3, an array in RESP2.
    Set(Vec<Frame>),
    /// `,<%.17g>` in RESP3, a bulk string in RESP2.
    Double(f64),
    /// `=len\r\ntxt:...` in RESP3, a bulk string in RESP2.
    Verbatim(Bytes),
    /// `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    Boolean(bool),
    /// `>n` in RESP3, an array in RESP2.
    Push(Vec<Frame>),
    /// `(digits` in RESP3, a bulk string in RESP2.
    BigNumber(String),
    /// An array of bulk strings already encoded (identical in RESP2 and RESP3), built
    /// by [`Frame::bulk_array`] for long replies such as LRANGE: one buffer instead of
    /// one reference-counted string per element.
    EncodedArray(Bytes),
}

impl Frame {
    /// `+OK` (no allocation: the text is static).
    pub fn ok() -> Frame {
        Frame::Simple(std::borrow::Cow::Borrowed("OK"))
    }

    pub fn simple(s: impl Into<std::borrow::Cow<'static, str>>) -> Frame {
        Frame::Simple(s.into())
    }

    /// An error reply; `ERR ` is prefixed unless the text already starts with an
    /// upper-case error code such as `WRONGTYPE` (Redis's `addReplyError` rule is that
    /// texts starting with '-' carry their own prefix; callers here pass the code).
    pub fn error(s: impl Into<String>) -> Frame {
        Frame::Error(s.into())
    }

    pub fn err(s: impl AsRef<str>) -> Frame {
        Frame::Error(format!("ERR {}", s.as_ref()))
    }

    pub fn bulk(b: impl Into<Bytes>) -> Frame {
        Frame::Bulk(b.into())
    }

    pub fn bulk_str(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// Encode an array of bulk strings once, for replies built from many stored
    /// strings (the same bytes as `Frame::Array` of `Frame::Bulk`s).
    pub fn bulk_array<'a, I>(items: I) -> Frame
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: Clone + ExactSizeIterator,
    {
        let it = items.into_iter();
        let size: usize = it.clone().map(|b| b.len() + 16).sum::<usize>() + 16;
        let mut out = BytesMut::with_capacity(size);
        int_line(&mut out, b'*', it.len() as i64);
        for b in it {
            bulk(&mut out, b);
        }
        Frame::EncodedArray(out.freeze())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// Bytes of a simple, bulk or verbatim string (the client side's view).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Simple(s) => Some(s.as_bytes()),
            Frame::Bulk(b) | Frame::Verbatim(b) => Some(b),
            Frame::BigNumber(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// Lossy text of a string-ish frame.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Frame::Integer(i) => Some(i.to_string()),
            Frame::Double(d) => Some(format_double(*d)),
            Frame::Error(e) => Some(e.clone()),
            other => other
                .as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Frame::Integer(i) => Some(*i),
            other => other
                .as_bytes()
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| s.parse().ok()),
        }
    }

    /// Elements of an aggregate (array, set, push; a map flattened).
    pub fn into_items(self) -> Option<Vec<Frame>> {
        match self {
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
            Frame::Map(pairs) => Some(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
            _ => None,
        }
    }

    /// Encode for a connection speaking `proto`.
    pub fn encode(&self, proto: Proto, out: &mut BytesMut) {
        let resp3 = proto == Proto::Resp3;
        match self {
            Frame::Simple(s) => line(out, b'+', s.as_bytes()),
            Frame::Error(s) => line(out, b'-', s.as_bytes()),
            Frame::Integer(i) => int_line(out, b':', *i),
            Frame::Bulk(b) => bulk(out, b),
            Frame::Null => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Frame::NullArray => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            Frame::Array(items) => {
                int_line(out, b'*', items.len() as i64);
                for f in items {
                    f.encode(proto, out);
                }
            }
            Frame::Map(pairs) => {
                if resp3 {
                    int_line(out, b'%', pairs.len() as i64);
                } else {
                    int_line(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Frame::Set(items) | Frame::Push(items) => {
                let prefix = match (resp3, self) {
                    (false, _) => b'*',
                    (true, Frame::Set(_)) => b'~',
                    _ => b'>',
                };
                int_line(out, prefix, items.len() as i64);
                for f in items {
                    f.encode(proto, out);
                }
            }
            Frame::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Frame::Verbatim(b) => {
                if resp3 {
                    int_line(out, b'=', b.len() as i64 + 4);
                    out.put_slice(b"txt:");
                    out.put_slice(b);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, b);
                }
            }
            Frame::Boolean(v) => {
                if resp3 {
                    out.put_slice(if *v { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.put_slice(if *v { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Frame::EncodedArray(b) => out.put_slice(b),
            Frame::BigNumber(s) => {
                if resp3 {
                    line(out, b'(', s.as_bytes());
                } else {
                    bulk(out, s.as_bytes());
                }
            }
        }
    }

    /// Encode as a RESP array of bulk strings: the form commands take on the wire and
    /// in the replication stream.
    pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
        int_line(out, b'*', args.len() as i64);
        for a in args {
            bulk(out, a.as_ref());
        }
    }

    pub fn to_bytes(&self, proto: Proto) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(proto, &mut out);
        out.freeze()
    }
}

fn line(out: &mut BytesMut, prefix: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(prefix);
    // Redis maps CR/LF inside status and error lines to spaces.
    if body.iter().any(|&c| c == b'\r' || c == b'\n') {
        out.extend(
            body.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
    } else {
        out.put_slice(body);
    }
    out.put_slice(b"\r\n");
}

fn int_line(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut buf = itoa_buf(n);
    out.put_u8(prefix);
    out.put_slice(buf.as_bytes_mut());
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    out.reserve(b.len() + 16);
    int_line(out, b'$', b.len() as i64);
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

struct ItoaBuf {
    buf: [u8; 20],
    start: usize,
}

impl ItoaBuf {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(n: i64) -> ItoaBuf {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    ItoaBuf { buf, start: i }
}

/// Redis's `%.17g` double formatting (`inf`, `-inf`, `nan`).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g(d, 17)
}

/// C's `%.<prec>g`.
pub(crate) fn format_g(d: f64, prec: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = d.abs().log10().floor() as i32;
    // Decide on the exponent after rounding to `prec` significant digits.
    let sci = format!("{:.*e}", prec - 1, d);
    let (mantissa, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(exp);
    if e < -4 || e >= prec as i32 {
        let m = trim_zeros(mantissa);
        let sign = if e < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", m, sign, e.abs())
    } else {
        let decimals = (prec as i32 - 1 - e).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: &Frame, p: Proto) -> Vec<u8> {
        f.to_bytes(p).to_vec()
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(2.5), "2.5");
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(-3.0), "-3");
    }

    #[test]
    fn down_conversion() {
        let m = Frame::Map(vec![(Frame::bulk_str("a"), Frame::Integer(1))]);
        assert_eq!(enc(&m, Proto::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, Proto::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Frame::Null, Proto::Resp2), b"$-1\r\n");
        assert_eq!(enc(&Frame::NullArray, Proto::Resp2), b"*-1\r\n");
        assert_eq!(enc(&Frame::Null, Proto::Resp3), b"_\r\n");
        assert_eq!(enc(&Frame::Double(2.5), Proto::Resp2), b"$3\r\n2.5\r\n");
        assert_eq!(enc(&Frame::Double(2.5), Proto::Resp3), b",2.5\r\n");
        assert_eq!(
            enc(&Frame::Verbatim(Bytes::from_static(b"hi")), Proto::Resp3),
            b"=6\r\ntxt:hi\r\n"
        );
        assert_eq!(enc(&Frame::Integer(-42), Proto::Resp2), b":-42\r\n");
        assert_eq!(
            enc(&Frame::Integer(i64::MIN), Proto::Resp2),
            b":-9223372036854775808\r\n"
        );
    }
}
