//! Quoting of strings written into config files (redis.conf rewrites and the
//! sentinel state), escaping like Redis's `sdscatrepr` so that Redis's own config
//! parser (`sdssplitargs`) reads back exactly the same bytes.

/// `s` in double quotes, escaped like Redis's `sdscatrepr` (see [`repr_bytes`]).
pub fn repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    repr_bytes(s.as_bytes(), &mut out);
    out
}

/// Redis's `sdscatrepr`: `arg` appended to `out` in double quotes, with `\\`, `\"`,
/// `\n`, `\r`, `\t`, `\a`, `\b` escapes and `\xHH` for everything else outside
/// printable ASCII. Used for config rewrites and MONITOR lines.
pub fn repr_bytes(arg: &[u8], out: &mut String) {
    out.push('"');
    for &c in arg {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            other => out.push_str(&format!("\\x{other:02x}")),
        }
    }
    out.push('"');
}

/// `s` as a config-file argument: bare when it is a non-empty run of printable
/// ASCII without quotes or backslashes, otherwise [`repr`].
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    if plain {
        s.to_string()
    } else {
        repr(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_when_safe_quoted_otherwise() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(quote("p\"w\\d"), "\"p\\\"w\\\\d\"");
    }

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        assert_eq!(repr("abc"), "\"abc\"");
        assert_eq!(repr("a\r\n\t\x01é"), "\"a\\r\\n\\t\\x01\\xc3\\xa9\"");
    }
}
