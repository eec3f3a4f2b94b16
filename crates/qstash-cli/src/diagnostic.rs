//! Errors as the user sees them: one readable line, and for a value, the value echoed with a
//! caret under the offending bytes, as rustc does.

use std::fmt;
use std::ops::Range;

/// An error and its causes on one line, `error: cause: cause`, as the `source()` chain gives
/// them (the client's errors show each message once along that chain).
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// What went wrong, and how the process should exit.
#[derive(Debug)]
pub enum Failure {
    /// Invalid input or usage: exit status 2.
    Input(Diagnostic),
    /// The API or the transport failed: exit status 1.
    Api(String),
}

impl Failure {
    /// A usage or input error without a value to point at.
    pub fn input(message: impl Into<String>) -> Failure {
        Failure::Input(Diagnostic::new(message))
    }

    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Input(_) => 2,
            Failure::Api(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Input(d) => d.fmt(f),
            Failure::Api(message) => write!(f, "error: {message}"),
        }
    }
}

/// An error message, optionally with the value it is about and the byte range at fault.
#[derive(Debug)]
pub struct Diagnostic {
    message: String,
    source: Option<(String, Range<usize>)>,
}

impl Diagnostic {
    /// A message alone.
    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            source: None,
        }
    }

    /// A message about `value`, pointing at `span` (byte offsets into `value`).
    pub fn at(message: impl Into<String>, value: &str, span: Range<usize>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            source: Some((value.to_string(), span)),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// ```text
    /// error: invalid delay "1d10x": unknown unit "x" at byte 4
    ///   |
    ///   | 1d10x
    ///   |     ^
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some((value, span)) = &self.source {
            // Columns count characters, so a caret lands under `µ` as it does under `m`.
            let shown: String = value.chars().map(printable).collect();
            let column = value
                .get(..span.start)
                .map_or_else(|| value.chars().count(), |before| before.chars().count());
            let width = value
                .get(span.clone())
                .map_or(1, |inside| inside.chars().count().max(1));
            write!(
                f,
                "\n  |\n  | {shown}\n  | {}{}",
                " ".repeat(column),
                "^".repeat(width)
            )?;
        }
        Ok(())
    }
}

/// Control characters would break the caret's alignment; show them as `·`.
fn printable(c: char) -> char {
    if c.is_control() { '·' } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_sits_under_the_span() {
        let d = Diagnostic::at("bad", "1d10x", 4..5);
        assert_eq!(d.to_string(), "error: bad\n  |\n  | 1d10x\n  |     ^");
        let d = Diagnostic::at("bad", "5sec", 1..4);
        assert_eq!(d.to_string(), "error: bad\n  |\n  | 5sec\n  |  ^^^");
    }

    #[test]
    fn caret_counts_characters_not_bytes() {
        let d = Diagnostic::at("bad", "1µx", 3..4);
        assert_eq!(d.to_string(), "error: bad\n  |\n  | 1µx\n  |   ^");
    }

    #[test]
    fn empty_span_at_the_end_still_shows_a_caret() {
        let d = Diagnostic::at("missing unit", "10", 2..2);
        assert_eq!(d.to_string(), "error: missing unit\n  |\n  | 10\n  |   ^");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Failure::input("x").exit_code(), 2);
        assert_eq!(Failure::Api("x".into()).exit_code(), 1);
    }
}
