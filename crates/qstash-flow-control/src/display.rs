//! The canonical form: `parallelism=2, rate=5, period=1m`, only the keys that were given.

use std::fmt::{self, Write};

use crate::FlowControl;

/// Longest canonical form: `parallelism=4294967295, rate=4294967295, period=6d23h59m59s999ms999us999ns`
/// is 74 bytes.
const CAPACITY: usize = 96;

/// A stack buffer holding the canonical form, so that displaying never allocates.
struct Buf {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf {
            bytes: [0; CAPACITY],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s);
        self.len = end;
        Ok(())
    }

    fn push_u32(&mut self, mut v: u32) -> fmt::Result {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        self.push(digits.get(i..).unwrap_or_default())
    }

    fn as_str(&self) -> &str {
        // Only ASCII key names, digits, units and separators are ever pushed, within the
        // buffer; the fallbacks are for release builds, where `Display` must not panic.
        let text = std::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default());
        debug_assert!(
            self.len <= self.bytes.len() && text.is_ok(),
            "the display buffer holds {} bytes, or a byte that is not ASCII",
            self.len
        );
        text.unwrap_or_default()
    }
}

impl Write for Buf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes())
    }
}

impl fmt::Display for FlowControl {
    /// Writes the canonical form (`parallelism=2, rate=5, period=1m`), honouring width and fill.
    ///
    /// ```
    /// use qstash_flow_control::FlowControl;
    ///
    /// let value = FlowControl::parse(b" period = 90s ,rate=5,parallelism=02 ")?;
    /// assert_eq!(value.to_string(), "parallelism=2, rate=5, period=1m30s");
    /// assert_eq!(format!("[{:>8}]", FlowControl::parse(b"rate=5")?), "[  rate=5]");
    /// # Ok::<(), qstash_flow_control::ParseError>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Buf::new();
        let mut sep: &[u8] = b"";
        if let Some(n) = self.parallelism() {
            buf.push(b"parallelism=")?;
            buf.push_u32(n.get())?;
            sep = b", ";
        }
        if let Some(n) = self.rate() {
            buf.push(sep)?;
            buf.push(b"rate=")?;
            buf.push_u32(n.get())?;
            sep = b", ";
        }
        if self.period_is_set() {
            buf.push(sep)?;
            buf.push(b"period=")?;
            write!(buf, "{}", self.period())?;
        }
        f.pad(buf.as_str())
    }
}
