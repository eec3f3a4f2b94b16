//! Ids and the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use qstash_store::Millis;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `prefix` followed by `len` random alphanumeric characters.
pub(crate) fn random_id(prefix: &str, len: usize) -> String {
    let mut raw = vec![0u8; len];
    // The OS generator failing is not something a server can go on without.
    getrandom::fill(&mut raw).expect("the operating system's random generator failed");
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    // 62 does not divide 256, but a small bias in id characters is harmless.
    id.extend(
        raw.iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % 62])),
    );
    id
}

/// A new message id.
pub(crate) fn message_id() -> String {
    random_id("msg_", 26)
}

/// A new dead-letter id.
pub(crate) fn dlq_id() -> String {
    random_id("dlq_", 26)
}

/// Now, in milliseconds since the unix epoch.
pub(crate) fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}
