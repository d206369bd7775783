//! Server-side request parsing: multibulk (`*`) and inline commands, with
//! redis-server's limits and error texts (server.md §2).

use bytes::{Bytes, BytesMut};

/// Longest inline request or `*`/`$` header line (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// proto-max-bulk-len (default 512 MB).
    pub max_bulk_len: usize,
    /// Largest `*<n>` accepted (Redis: INT_MAX; the issue asks for 1M).
    pub max_multibulk_len: usize,
    /// Unauthenticated clients: `*` ≤ 10 and `$` ≤ 16384.
    pub authenticated: bool,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            authenticated: true,
        }
    }
}

/// A protocol violation. Its text is what follows `-ERR ` on the wire; the connection
/// is closed after it is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct RequestError(pub String);

fn perr(s: impl Into<String>) -> RequestError {
    RequestError(s.into())
}

/// Incremental parser. Keeps no state between calls other than what is in the buffer,
/// so a partial request simply waits for more bytes.
#[derive(Default)]
pub struct RequestParser {
    pub limits: RequestLimits,
    /// Argument ranges of the command being parsed, reused between commands.
    ranges: Vec<(usize, usize)>,
}

/// One request found at the head of a buffer by [`RequestParser::parse`].
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `n` bytes that held no command (blank inline line, `*0`).
    Skip(usize),
    /// A multibulk command of the first `n` bytes; its arguments are at
    /// [`RequestParser::ranges`] in the buffer.
    Command(usize),
    /// An inline command of `n` bytes whose arguments were unescaped into owned buffers.
    Inline(usize, Vec<Vec<u8>>),
}

enum Step {
    Incomplete,
    Done(Parsed),
}

impl RequestParser {
    pub fn new(limits: RequestLimits) -> Self {
        RequestParser {
            limits,
            ranges: Vec::new(),
        }
    }

    /// Take the next complete command out of `buf`. `Ok(None)` means more bytes are
    /// needed (and nothing was consumed).
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, RequestError> {
        loop {
            let Some(parsed) = self.parse(buf)? else {
                return Ok(None);
            };
            match parsed {
                Parsed::Skip(n) => {
                    let _ = buf.split_to(n);
                }
                Parsed::Command(n) => {
                    let frame = buf.split_to(n).freeze();
                    return Ok(Some(
                        self.ranges
                            .iter()
                            .map(|&(s, e)| frame.slice(s..e))
                            .collect(),
                    ));
                }
                Parsed::Inline(n, args) => {
                    let _ = buf.split_to(n);
                    return Ok(Some(args.into_iter().map(Bytes::from).collect()));
                }
            }
        }
    }

    /// Parse the request at the head of `buf` in place, consuming nothing: the
    /// caller advances past the returned length once done with the arguments, so a
    /// server reads its arguments straight from its network buffer. `Ok(None)`: more
    /// bytes are needed.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<Parsed>, RequestError> {
        if buf.is_empty() {
            return Ok(None);
        }
        let step = if buf[0] == b'*' {
            self.multibulk(buf)?
        } else {
            inline(buf)?
        };
        Ok(match step {
            Step::Incomplete => None,
            Step::Done(p) => Some(p),
        })
    }

    /// Argument ranges of the last [`Parsed::Command`], relative to the buffer given
    /// to [`RequestParser::parse`].
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges
    }

    fn multibulk(&mut self, buf: &[u8]) -> Result<Step, RequestError> {
        let Some(eol) = find_cr(buf, 0) else {
            if buf.len() > INLINE_MAX {
                return Err(perr("too big mbulk count string"));
            }
            return Ok(Step::Incomplete);
        };
        if eol > INLINE_MAX {
            return Err(perr("too big mbulk count string"));
        }
        if eol + 1 >= buf.len() {
            return Ok(Step::Incomplete);
        }
        let n = string2ll(&buf[1..eol]).ok_or_else(|| perr("invalid multibulk length"))?;
        if n > i32::MAX as i64 || n as i128 > self.limits.max_multibulk_len as i128 {
            return Err(perr("invalid multibulk length"));
        }
        let mut pos = eol + 2;
        if n <= 0 {
            return Ok(Step::Done(Parsed::Skip(pos)));
        }
        if !self.limits.authenticated && n > 10 {
            return Err(perr("unauthenticated multibulk length"));
        }
        self.ranges.clear();
        if self.ranges.capacity() > 1024 {
            self.ranges.shrink_to(16);
        }
        for _ in 0..n {
            if pos >= buf.len() {
                return Ok(Step::Incomplete);
            }
            let Some(eol) = find_cr(buf, pos) else {
                if buf.len() - pos > INLINE_MAX {
                    return Err(perr("too big bulk count string"));
                }
                return Ok(Step::Incomplete);
            };
            if eol - pos > INLINE_MAX {
                return Err(perr("too big bulk count string"));
            }
            if buf[pos] != b'$' {
                return Err(perr(format!(
                    "expected '$', got '{}'",
                    char::from(buf[pos])
                )));
            }
            if eol + 1 >= buf.len() {
                return Ok(Step::Incomplete);
            }
            let len = string2ll(&buf[pos + 1..eol]).ok_or_else(|| perr("invalid bulk length"))?;
            if len < 0 || len as u64 > self.limits.max_bulk_len as u64 {
                return Err(perr("invalid bulk length"));
            }
            if !self.limits.authenticated && len > 16384 {
                return Err(perr("unauthenticated bulk length"));
            }
            let start = eol + 2;
            let end = start + len as usize;
            // The two bytes after the payload are skipped unchecked, like Redis.
            if end + 2 > buf.len() {
                return Ok(Step::Incomplete);
            }
            self.ranges.push((start, end));
            pos = end + 2;
        }
        Ok(Step::Done(Parsed::Command(pos)))
    }

    /// How many more bytes the request at the head of `buf` needs at least, so the
    /// reader can reserve space for a large bulk in one go.
    pub fn wanted(&self, buf: &BytesMut) -> usize {
        // Cheap heuristic: look at the last `$<len>` header seen.
        if buf.len() < 4 || buf[0] != b'*' {
            return 0;
        }
        let tail_start = buf.len().saturating_sub(64);
        let tail = &buf[tail_start..];
        if let Some(d) = tail.iter().rposition(|&c| c == b'$') {
            let rest = &tail[d + 1..];
            if let Some(cr) = rest.iter().position(|&c| c == b'\r') {
                if let Some(len) = string2ll(&rest[..cr]) {
                    let have = rest.len() - cr;
                    if len > 0 && (len as usize) <= self.limits.max_bulk_len {
                        return (len as usize + 4).saturating_sub(have);
                    }
                }
            }
        }
        0
    }
}

fn find_cr(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .iter()
        .position(|&c| c == b'\r')
        .map(|p| p + from)
}

/// Redis's `string2ll`: a strict decimal i64 (optional '-', no '+', no leading zeros,
/// no "-0", no spaces, at most 20 characters). Used for the `*`/`$` headers, where
/// redis-server answers "invalid multibulk/bulk length" to anything else, and for
/// integer arguments.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

fn inline(buf: &[u8]) -> Result<Step, RequestError> {
    let Some(nl) = buf.iter().take(INLINE_MAX + 1).position(|&c| c == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(perr("too big inline request"));
        }
        return Ok(Step::Incomplete);
    };
    // A NUL stops Redis's newline search; the request never completes until the
    // inline limit is hit.
    if buf[..nl].contains(&0) {
        if buf.len() > INLINE_MAX {
            return Err(perr("too big inline request"));
        }
        return Ok(Step::Incomplete);
    }
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let args = split_args(line).ok_or_else(|| perr("unbalanced quotes in request"))?;
    if args.is_empty() {
        return Ok(Step::Done(Parsed::Skip(nl + 1)));
    }
    Ok(Step::Done(Parsed::Inline(nl + 1, args)))
}

/// Split an inline line into arguments with Redis's quoting rules (`sdssplitargs`).
/// `None` when quotes are unbalanced. Also used by config-file parsers.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let is_space = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c);
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= line.len() {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < line.len()
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let h = std::str::from_utf8(&line[i + 2..i + 4]).ok()?;
                    cur.push(u8::from_str_radix(h, 16).ok()?);
                    i += 4;
                    continue;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else if in_sq {
                if i >= line.len() {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else {
                if i >= line.len() {
                    break;
                }
                match line[i] {
                    c if is_space(c) => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<RequestError>) {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(input);
        let mut cmds = Vec::new();
        loop {
            match p.next(&mut buf) {
                Ok(Some(c)) => cmds.push(c.iter().map(|b| b.to_vec()).collect()),
                Ok(None) => return (cmds, None),
                Err(e) => return (cmds, Some(e)),
            }
        }
    }

    #[test]
    fn string2ll_is_strict_like_redis() {
        for (s, want) in [
            (&b"0"[..], Some(0)),
            (b"12", Some(12)),
            (b"-12", Some(-12)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"-9223372036854775809", None),
            (b"012", None),
            (b"-0", None),
            (b"-012", None),
            (b"+1", None),
            (b" 1", None),
            (b"1 ", None),
            (b"", None),
            (b"-", None),
            (b"1a", None),
            (b"99999999999999999999", None),
        ] {
            assert_eq!(string2ll(s), want, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn headers_with_leading_zeros_or_plus_are_protocol_errors_like_redis() {
        for (input, want) in [
            (&b"*1\r\n$04\r\nPING\r\n"[..], "invalid bulk length"),
            (b"*1\r\n$+4\r\nPING\r\n", "invalid bulk length"),
            (b"*01\r\n$4\r\nPING\r\n", "invalid multibulk length"),
            (b"*+1\r\n$4\r\nPING\r\n", "invalid multibulk length"),
            (b"*-0\r\n", "invalid multibulk length"),
        ] {
            let (cmds, e) = parse_all(input);
            assert!(cmds.is_empty());
            assert_eq!(e, Some(RequestError(want.into())));
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let (c, e) =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\n\r\n\r\nSET \"a b\" 'c d'\r\n");
        assert!(e.is_none());
        assert_eq!(c.len(), 3);
        assert_eq!(c[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(c[1], vec![b"PING".to_vec()]);
        assert_eq!(
            c[2],
            vec![b"SET".to_vec(), b"a b".to_vec(), b"c d".to_vec()]
        );
    }

    #[test]
    fn partial_waits() {
        let mut p = RequestParser::default();
        let head = b"*2\r\n$3\r\nGET\r\n$1\r";
        let mut buf = BytesMut::from(&head[..]);
        assert_eq!(p.next(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), head.len());
        buf.extend_from_slice(b"\nk\r\n");
        assert!(p.next(&mut buf).unwrap().is_some());
        assert!(buf.is_empty());
    }

    #[test]
    fn errors_like_redis() {
        assert_eq!(
            parse_all(b"*x\r\n").1.unwrap().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n:1\r\n").1.unwrap().0,
            "expected '$', got ':'"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n").1.unwrap().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$536870913\r\n").1.unwrap().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse_all(b"SET \"a b\r\n").1.unwrap().0,
            "unbalanced quotes in request"
        );
        assert_eq!(
            parse_all(b"ECHO \"a\"b\r\n").1.unwrap().0,
            "unbalanced quotes in request"
        );
        assert_eq!(
            parse_all(&vec![b'a'; INLINE_MAX + 2]).1.unwrap().0,
            "too big inline request"
        );
        // *0 and *-1 are ignored
        let (c, e) = parse_all(b"*0\r\n*-1\r\nPING\r\n");
        assert!(e.is_none());
        assert_eq!(c.len(), 1);
        // payload terminator unchecked
        let (c, _) = parse_all(b"*1\r\n$4\r\nPINGxx");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn inline_escapes() {
        let (c, _) = parse_all(b"ECHO \"h\\x41\\n\"\r\n");
        assert_eq!(c[0][1], b"hA\n".to_vec());
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 7u64;
        for _ in 0..2000 {
            let len = (seed % 40) as usize;
            let mut v = Vec::new();
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                v.push(b"*$\r\n0123-x\"' "[(seed >> 33) as usize % 13]);
            }
            let _ = parse_all(&v);
        }
    }
}
