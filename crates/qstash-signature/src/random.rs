/// `len` characters drawn uniformly from `[A-Za-z0-9]` with the operating system's random source.
fn alphanumeric(out: &mut String, len: usize) {
    let mut buf = [0u8; 64];
    let mut missing = len;
    while missing > 0 {
        fill(&mut buf);
        // 248 = 4 * 62: rejecting the bytes above keeps every character equally likely.
        for &b in buf.iter().filter(|&&b| b < 248).take(missing) {
            out.push(alphanumeric_char(b % 62));
            missing -= 1;
        }
    }
}

/// The `i`-th character of `A-Z a-z 0-9`, for `i < 62`.
fn alphanumeric_char(i: u8) -> char {
    char::from(match i {
        0..=25 => b'A' + i,
        26..=51 => b'a' + (i - 26),
        _ => b'0' + (i - 52),
    })
}

#[expect(
    clippy::expect_used,
    reason = "no usable fallback exists for a failed OS random source; documented as a panic"
)]
fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random source failed");
}

/// A new signing key: `sig_` and 28 random alphanumeric characters (about 166 bits), the
/// format of the upstream keys (`sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r`).
///
/// ```
/// let key = qstash_signature::generate_signing_key();
/// assert!(key.starts_with("sig_") && key.len() == 32);
/// ```
///
/// # Panics
/// If the operating system's random source fails.
pub fn generate_signing_key() -> String {
    let mut key = String::with_capacity(32);
    key.push_str("sig_");
    alphanumeric(&mut key, 28);
    key
}

/// A `jti`: `jwt_` and 24 random alphanumeric characters.
pub(crate) fn token_id() -> String {
    let mut id = String::with_capacity(28);
    id.push_str("jwt_");
    alphanumeric(&mut id, 24);
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn alphabet_is_the_62_alphanumerics() {
        let chars: String = (0..62).map(super::alphanumeric_char).collect();
        assert_eq!(
            chars,
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        );
    }

    #[test]
    fn keys_and_ids_have_the_upstream_shape_and_differ() {
        let keys: Vec<String> = (0..100).map(|_| super::generate_signing_key()).collect();
        for key in &keys {
            assert_eq!(key.len(), 32);
            assert!(key.starts_with("sig_"));
            assert!(key[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        let id = super::token_id();
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("jwt_") && id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
