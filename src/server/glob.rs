//! Redis's glob matching (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
//! Used by KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE and PUBSUB CHANNELS.

/// Whether `s` matches `pattern` (case-sensitive).
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    match_from(pattern, s, 0)
}

fn match_from(mut p: &[u8], mut s: &[u8], depth: usize) -> bool {
    if depth > 1000 {
        return false;
    }
    while !p.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=s.len() {
                    if match_from(&p[1..], &s[i..], depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                let mut i = 1;
                let not = p.get(1) == Some(&b'^');
                if not {
                    i += 1;
                }
                let mut matched = false;
                loop {
                    if i >= p.len() {
                        // Unterminated class: Redis treats the end as closing it.
                        i = p.len() - 1;
                        break;
                    }
                    if p[i] == b'\\' && i + 1 < p.len() {
                        i += 1;
                        if p[i] == s[0] {
                            matched = true;
                        }
                    } else if p[i] == b']' {
                        break;
                    } else if i + 2 < p.len() && p[i + 1] == b'-' {
                        let (mut a, mut b) = (p[i], p[i + 2]);
                        if a > b {
                            std::mem::swap(&mut a, &mut b);
                        }
                        if s[0] >= a && s[0] <= b {
                            matched = true;
                        }
                        i += 2;
                    } else if p[i] == s[0] {
                        matched = true;
                    }
                    i += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                p = &p[i..];
            }
            b'\\' if p.len() >= 2 => {
                if s.first() != Some(&p[1]) {
                    return false;
                }
                p = &p[1..];
                s = &s[1..];
            }
            c => {
                if s.first() != Some(&c) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn globs() {
        assert!(m(b"*", b"anything"));
        assert!(m(b"h?llo", b"hello"));
        assert!(m(b"h*llo", b"heeeello"));
        assert!(m(b"h[ae]llo", b"hallo"));
        assert!(!m(b"h[^e]llo", b"hello"));
        assert!(m(b"h[a-b]llo", b"hbllo"));
        assert!(m(b"repl*", b"replicaof"));
        assert!(!m(b"repl*", b"port"));
        assert!(m(b"a\\*b", b"a*b"));
        assert!(!m(b"abc", b"ab"));
        assert!(m(b"ab*", b"ab"));
        assert!(!m(b"[", b""));
    }
}
