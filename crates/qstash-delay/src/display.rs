//! The canonical form: `d h m s ms us ns`, zero components left out, zero as `0s`.

use std::fmt;

use crate::Delay;

/// Longest canonical form: `213503d23h34m33s709ms551us615ns` is 31 bytes.
const CAPACITY: usize = 40;

/// Writes the canonical form of `nanos` into `buf` and returns its length. Only ASCII digits
/// and unit letters are written.
fn write(nanos: u64, buf: &mut [u8; CAPACITY]) -> usize {
    let ns = nanos % 1000;
    let us = nanos / 1000 % 1000;
    let ms = nanos / 1_000_000 % 1000;
    let secs = nanos / 1_000_000_000;
    let (s, m, h, d) = (secs % 60, secs / 60 % 60, secs / 3600 % 24, secs / 86_400);
    let mut w = Writer { buf, len: 0 };
    if nanos == 0 {
        w.byte(b'0');
        w.byte(b's');
        return w.len;
    }
    if d != 0 {
        w.number(d);
        w.byte(b'd');
    }
    for (value, unit) in [(h, b'h'), (m, b'm'), (s, b's')] {
        if value != 0 {
            w.small(value);
            w.byte(unit);
        }
    }
    for (value, unit) in [(ms, b'm'), (us, b'u'), (ns, b'n')] {
        if value != 0 {
            w.small(value);
            w.byte(unit);
            w.byte(b's');
        }
    }
    w.len
}

struct Writer<'a> {
    buf: &'a mut [u8; CAPACITY],
    len: usize,
}

impl Writer<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        // The capacity holds the longest form, so this never drops a byte.
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// A value below 1000.
    #[inline(always)]
    fn small(&mut self, v: u64) {
        let v = v as u16;
        if v >= 100 {
            self.byte(b'0' + (v / 100) as u8);
        }
        if v >= 10 {
            self.byte(b'0' + (v / 10 % 10) as u8);
        }
        self.byte(b'0' + (v % 10) as u8);
    }

    /// Any value (days go up to 213 503).
    fn number(&mut self, v: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut v = v;
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
            start -= 1;
            if v == 0 {
                break;
            }
        }
        for &d in digits.get(start..).unwrap_or_default() {
            self.byte(d);
        }
    }
}

impl fmt::Display for Delay {
    /// Writes the canonical form (`1d10h30m`, `1s500ms`, `0s`), honouring width and fill.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; CAPACITY];
        let len = write(self.as_nanos(), &mut buf);
        // `write` stays within the buffer and writes ASCII only; the fallbacks are for release
        // builds, where a broken invariant must not panic in `Display`.
        let text = buf.get(..len);
        debug_assert!(text.is_some(), "display wrote {len} bytes into {CAPACITY}");
        let text = std::str::from_utf8(text.unwrap_or_default());
        debug_assert!(text.is_ok(), "display wrote a byte that is not ASCII");
        f.pad(text.unwrap_or_default())
    }
}

impl fmt::Debug for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Delay({self})")
    }
}
