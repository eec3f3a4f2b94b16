//! The `Upstash-Flow-Control-Key`: 1..=256 bytes of visible ASCII.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use qstash_delay::quote::Quote;

/// A validated `Upstash-Flow-Control-Key`: 1 to 256 bytes of visible ASCII (`!` to `~`), so no
/// spaces, control characters or non-ASCII.
///
/// Runs that share a key share its [`FlowControl`](crate::FlowControl) limits. Equality, ordering
/// and hashing are those of the string, and a key can be looked up by `&str` in maps.
///
/// ```
/// use qstash_flow_control::{FlowControlKey, KeyErrorKind};
///
/// let key = FlowControlKey::new("tenant:42/emails")?;
/// assert_eq!(key.as_str(), "tenant:42/emails");
/// assert_eq!(key.to_string(), "tenant:42/emails");
///
/// let err = FlowControlKey::new("tenant 42").unwrap_err();
/// assert_eq!(err.kind(), KeyErrorKind::InvalidCharacter);
/// assert_eq!(err.offset(), 6);
/// # Ok::<(), qstash_flow_control::KeyError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowControlKey(String);

impl FlowControlKey {
    /// The longest key, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Validates `key`, keeping its allocation.
    ///
    /// ```
    /// use qstash_flow_control::{FlowControlKey, KeyErrorKind};
    ///
    /// assert!(FlowControlKey::new(String::from("a")).is_ok());
    /// assert_eq!(FlowControlKey::new("").unwrap_err().kind(), KeyErrorKind::Empty);
    /// assert_eq!(FlowControlKey::new("k".repeat(257)).unwrap_err().kind(), KeyErrorKind::TooLong);
    /// ```
    ///
    /// # Errors
    /// A [`KeyError`] when `key` is empty, longer than [`FlowControlKey::MAX_LEN`] bytes, or
    /// holds a byte outside visible ASCII.
    pub fn new(key: impl Into<String>) -> Result<FlowControlKey, KeyError> {
        let key = key.into();
        validate(key.as_bytes())?;
        Ok(FlowControlKey(key))
    }

    /// Validates a header value's bytes.
    ///
    /// ```
    /// use qstash_flow_control::FlowControlKey;
    ///
    /// assert_eq!(FlowControlKey::parse(b"emails")?.as_str(), "emails");
    /// assert!(FlowControlKey::parse(b"caf\xc3\xa9").is_err());
    /// # Ok::<(), qstash_flow_control::KeyError>(())
    /// ```
    ///
    /// # Errors
    /// As for [`FlowControlKey::new`].
    pub fn parse(key: &[u8]) -> Result<FlowControlKey, KeyError> {
        validate(key)?;
        // Visible ASCII is valid UTF-8; the fallback cannot be taken.
        let key = std::str::from_utf8(key)
            .map_err(|e| KeyError::new(KeyErrorKind::InvalidCharacter, key, e.valid_up_to(), 1))?;
        Ok(FlowControlKey(key.to_owned()))
    }

    /// The key as a string slice.
    #[must_use]
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's string, without copying.
    #[must_use]
    #[inline]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Checks the key rule (1..=256 bytes of visible ASCII), reporting the first problem in input order.
fn validate(key: &[u8]) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::new(KeyErrorKind::Empty, key, 0, 0));
    }
    let head = key.get(..FlowControlKey::MAX_LEN).unwrap_or(key);
    if let Some(at) = head.iter().position(|b| !b.is_ascii_graphic()) {
        let len = key.get(at..).map_or(1, char_len);
        return Err(KeyError::new(KeyErrorKind::InvalidCharacter, key, at, len));
    }
    if key.len() > FlowControlKey::MAX_LEN {
        let at = FlowControlKey::MAX_LEN;
        return Err(KeyError::new(
            KeyErrorKind::TooLong,
            key,
            at,
            key.len() - at,
        ));
    }
    Ok(())
}

/// Length of the UTF-8 character starting `rest` (1 for a stray byte).
fn char_len(rest: &[u8]) -> usize {
    let n = match rest.first() {
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        Some(&b) if b >= 0xC0 => 2,
        _ => 1,
    };
    match rest.get(..n) {
        Some(c) if std::str::from_utf8(c).is_ok() => n,
        _ => 1,
    }
}

impl fmt::Display for FlowControlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for FlowControlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlowControlKey({:?})", self.0)
    }
}

impl FromStr for FlowControlKey {
    type Err = KeyError;

    /// Same as [`FlowControlKey::new`].
    fn from_str(s: &str) -> Result<FlowControlKey, KeyError> {
        FlowControlKey::new(s)
    }
}

impl TryFrom<&str> for FlowControlKey {
    type Error = KeyError;

    fn try_from(s: &str) -> Result<FlowControlKey, KeyError> {
        FlowControlKey::new(s)
    }
}

impl TryFrom<String> for FlowControlKey {
    type Error = KeyError;

    fn try_from(s: String) -> Result<FlowControlKey, KeyError> {
        FlowControlKey::new(s)
    }
}

impl From<FlowControlKey> for String {
    fn from(key: FlowControlKey) -> String {
        key.0
    }
}

impl AsRef<str> for FlowControlKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for FlowControlKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for FlowControlKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for FlowControlKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// What is wrong with a flow-control key.
///
/// The set of kinds may grow, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyErrorKind {
    /// The key was empty.
    Empty,
    /// The key is longer than [`FlowControlKey::MAX_LEN`] bytes.
    TooLong,
    /// A byte outside visible ASCII: a space, a control character or non-ASCII.
    InvalidCharacter,
}

impl KeyErrorKind {
    /// A short, lowercase description of the kind, without the input.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            KeyErrorKind::Empty => "empty key",
            KeyErrorKind::TooLong => "key too long",
            KeyErrorKind::InvalidCharacter => "invalid character",
        }
    }
}

impl fmt::Display for KeyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A string that is not a valid `Upstash-Flow-Control-Key`.
///
/// ```
/// use qstash_flow_control::{FlowControlKey, KeyErrorKind};
///
/// let err = FlowControlKey::new("a\tb").unwrap_err();
/// assert_eq!(err.kind(), KeyErrorKind::InvalidCharacter);
/// assert_eq!(err.span(), 1..2);
/// assert_eq!(
///     err.to_string(),
///     r#"invalid flow control key "a\tb": invalid character "\t" (only visible ASCII is allowed) at byte 1"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    kind: KeyErrorKind,
    offset: usize,
    len: usize,
    key_len: usize,
    quoted: Quote,
}

impl KeyError {
    #[cold]
    #[inline(never)]
    fn new(kind: KeyErrorKind, input: &[u8], offset: usize, len: usize) -> KeyError {
        KeyError {
            kind,
            offset,
            len,
            key_len: input.len(),
            quoted: Quote::new(input, offset, len),
        }
    }

    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> KeyErrorKind {
        self.kind
    }

    /// The byte offset of the problem: 0 for an empty key, [`FlowControlKey::MAX_LEN`] for a
    /// key too long, otherwise the first invalid byte.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The byte range of the key at fault (the bytes past the limit for a key too long).
    #[must_use]
    pub fn span(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (input, found) = self.quoted.parts();
        write!(
            f,
            "invalid flow control key \"{}{}\": ",
            input.escape_debug(),
            self.quoted.ellipsis()
        )?;
        match self.kind {
            KeyErrorKind::Empty => return f.write_str("empty key"),
            KeyErrorKind::TooLong => write!(
                f,
                "key of {} bytes is longer than the maximum of {}",
                self.key_len,
                FlowControlKey::MAX_LEN
            )?,
            KeyErrorKind::InvalidCharacter => write!(
                f,
                "invalid character \"{}\" (only visible ASCII is allowed)",
                found.escape_debug()
            )?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for KeyError {}
