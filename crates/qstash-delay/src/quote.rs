//! The quoted input of a parse error, shared by the parser crates of this workspace
//! (`qstash-delay`, `qstash-retry-delay`, `qstash-flow-control`) so that their errors store it
//! the same way. Not part of this crate's API: it may change in any release.

/// How many bytes of the input an error keeps for its message.
pub const INPUT_LIMIT: usize = 128;
/// How many bytes of the offending token an error keeps for its message.
pub const FOUND_LIMIT: usize = 32;

/// What an error message quotes: the head of the input (at most [`INPUT_LIMIT`] bytes) and
/// the offending bytes (at most [`FOUND_LIMIT`]), decoded lossily, in one allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quote {
    /// The head, then the offending bytes.
    text: Box<str>,
    /// Where the offending bytes start in `text`.
    found_at: u32,
    /// Whether the head is shorter than the input.
    truncated: bool,
}

impl Quote {
    /// Quotes `input` and its bytes `offset..offset + len` (both cut at their limits).
    #[cold]
    #[inline(never)]
    #[must_use]
    pub fn new(input: &[u8], offset: usize, len: usize) -> Quote {
        let head = input.get(..INPUT_LIMIT).unwrap_or(input);
        let end = offset.saturating_add(len.min(FOUND_LIMIT)).min(input.len());
        let found = input.get(offset..end).unwrap_or_default();
        let truncated = head.len() < input.len();
        let head = String::from_utf8_lossy(head);
        let found = String::from_utf8_lossy(found);
        let mut text = String::with_capacity(head.len() + found.len());
        text.push_str(&head);
        text.push_str(&found);
        Quote {
            // The capacity is exact, so this keeps the one allocation.
            text: text.into_boxed_str(),
            // At most 3 · INPUT_LIMIT bytes after lossy decoding.
            found_at: head.len() as u32,
            truncated,
        }
    }

    /// The head of the input, and the offending bytes.
    #[must_use]
    pub fn parts(&self) -> (&str, &str) {
        // `found_at` is the head's length, a boundary of `text` by construction; the
        // fallback is for release builds, where `Display` must not panic.
        let parts = self.text.split_at_checked(self.found_at as usize);
        debug_assert!(parts.is_some(), "the quote splits at {}", self.found_at);
        parts.unwrap_or_default()
    }

    /// `"…"` when the head is shorter than the input, else `""`.
    #[must_use]
    pub fn ellipsis(&self) -> &'static str {
        if self.truncated { "…" } else { "" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_head_and_found_within_their_limits() {
        let q = Quote::new(b"1d10x", 4, 1);
        assert_eq!(q.parts(), ("1d10x", "x"));
        assert_eq!(q.ellipsis(), "");
        let long = "9".repeat(300);
        let q = Quote::new(long.as_bytes(), 200, 100);
        assert_eq!(q.parts().0.len(), INPUT_LIMIT);
        assert_eq!(q.parts().1.len(), FOUND_LIMIT);
        assert_eq!(q.ellipsis(), "…");
        let q = Quote::new(b"a\xffb", 1, 1);
        assert_eq!(q.parts(), ("a\u{fffd}b", "\u{fffd}"));
        let q = Quote::new(b"", 5, 3);
        assert_eq!(q.parts(), ("", ""));
    }
}
