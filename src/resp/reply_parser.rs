//! Client-side parsing of any RESP2/RESP3 reply.

use super::Frame;
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol error in reply: {0}")]
pub struct ParseError(pub String);

/// Nesting limit for aggregates, so hostile input cannot blow the stack.
const MAX_DEPTH: usize = 64;
/// Largest bulk accepted from a peer (same as proto-max-bulk-len).
const MAX_BULK: i64 = 512 * 1024 * 1024;
/// Largest aggregate length accepted from a peer.
const MAX_AGGREGATE: i64 = 64 * 1024 * 1024;

/// Parse one frame from the start of `buf`. `Ok(None)`: incomplete, need more bytes.
/// `Ok(Some((frame, used)))`: a frame and how many bytes it took.
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, ParseError> {
    parse_at(buf, 0, 0)
}

fn err(s: impl Into<String>) -> ParseError {
    ParseError(s.into())
}

fn read_line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rel = buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[pos..pos + rel], pos + rel + 2))
}

fn int_of(line: &[u8]) -> Result<i64, ParseError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err(format!("bad integer {:?}", String::from_utf8_lossy(line))))
}

fn text_of(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

fn parse_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(Frame, usize)>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(err("nesting too deep"));
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line, next)) = read_line(buf, pos + 1) else {
        if buf.len() - pos > 64 * 1024 && !matches!(kind, b'$' | b'=' | b'!') {
            return Err(err("line too long"));
        }
        return Ok(None);
    };
    match kind {
        b'+' => Ok(Some((Frame::Simple(text_of(line).into()), next))),
        b'-' => Ok(Some((Frame::Error(text_of(line)), next))),
        b':' => Ok(Some((Frame::Integer(int_of(line)?), next))),
        b'(' => Ok(Some((Frame::BigNumber(text_of(line)), next))),
        b',' => {
            let t = text_of(line);
            let d = match t.as_str() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                s => s.parse().map_err(|_| err(format!("bad double {s:?}")))?,
            };
            Ok(Some((Frame::Double(d), next)))
        }
        b'#' => match line {
            b"t" => Ok(Some((Frame::Boolean(true), next))),
            b"f" => Ok(Some((Frame::Boolean(false), next))),
            _ => Err(err("bad boolean")),
        },
        b'_' => Ok(Some((Frame::Null, next))),
        b'$' | b'=' | b'!' => {
            let len = int_of(line)?;
            if len == -1 {
                return Ok(Some((Frame::Null, next)));
            }
            if !(0..=MAX_BULK).contains(&len) {
                return Err(err("bad bulk length"));
            }
            let end = next + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(err("bulk not terminated by CRLF"));
            }
            let data = Bytes::copy_from_slice(&buf[next..end]);
            let frame = match kind {
                b'$' => Frame::Bulk(data),
                b'!' => Frame::Error(String::from_utf8_lossy(&data).into_owned()),
                _ => Frame::Verbatim(if data.len() >= 4 && data[3] == b':' {
                    data.slice(4..)
                } else {
                    data
                }),
            };
            Ok(Some((frame, end + 2)))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = int_of(line)?;
            if n == -1 {
                return Ok(Some((Frame::NullArray, next)));
            }
            if !(0..=MAX_AGGREGATE).contains(&n) {
                return Err(err("bad aggregate length"));
            }
            let count = if matches!(kind, b'%' | b'|') {
                n * 2
            } else {
                n
            } as usize;
            let mut items = Vec::with_capacity(count.min(1024));
            let mut p = next;
            for _ in 0..count {
                match parse_at(buf, p, depth + 1)? {
                    Some((f, np)) => {
                        items.push(f);
                        p = np;
                    }
                    None => return Ok(None),
                }
            }
            let frame = match kind {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    if kind == b'|' {
                        // An attribute precedes the real reply: skip it.
                        return parse_at(buf, p, depth + 1);
                    }
                    Frame::Map(pairs)
                }
            };
            Ok(Some((frame, p)))
        }
        other => Err(err(format!("unexpected type byte {:?}", char::from(other)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Proto;

    #[test]
    fn round_trip_resp3() {
        let f = Frame::Array(vec![
            Frame::Map(vec![(Frame::bulk_str("k"), Frame::Double(2.5))]),
            Frame::Set(vec![Frame::Integer(1)]),
            Frame::Null,
            Frame::Boolean(true),
            Frame::Push(vec![Frame::Simple("x".into())]),
            Frame::Verbatim(Bytes::from_static(b"info")),
            Frame::Error("ERR x".into()),
        ]);
        let bytes = f.to_bytes(Proto::Resp3);
        let (g, used) = parse_frame(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(g, f);
        for cut in 0..bytes.len() {
            assert!(parse_frame(&bytes[..cut]).unwrap().is_none());
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_frame(b"?x\r\n").is_err());
        assert!(parse_frame(b"$3\r\nabcd\r\n").is_err());
        assert!(parse_frame(b"*-5\r\n").is_err());
    }
}
