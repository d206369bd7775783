//! Random identifiers in Redis's format.

use rand::Rng;

/// 40 lower-case hex characters, like Redis's run ids, replication ids and sentinel ids.
pub fn random_hex40() -> String {
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}

/// Whether `s` is exactly 40 hex characters.
pub fn is_hex40(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex40() {
        let id = super::random_hex40();
        assert!(super::is_hex40(&id));
        assert_ne!(id, super::random_hex40());
        assert!(!super::is_hex40("xyz"));
    }
}
