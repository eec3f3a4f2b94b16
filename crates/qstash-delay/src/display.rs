//! The canonical form: `d h m s ms us ns`, zero components left out, zero as `0s`.

use std::fmt;

use crate::Delay;

/// Longest canonical form: `213503d23h59m59s999ms999us999ns` is 31 bytes.
const CAPACITY: usize = 40;

/// The units of the canonical form, largest first, with their size in the unit below.
const UNITS: [(u64, &[u8]); 7] = [
    (0, b"d"), // days take whatever is left
    (24, b"h"),
    (60, b"m"),
    (60, b"s"),
    (1000, b"ms"),
    (1000, b"us"),
    (1000, b"ns"),
];

/// A stack buffer holding the canonical form, so that displaying never allocates.
pub(crate) struct Buf {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl Buf {
    pub(crate) fn new(delay: Delay) -> Buf {
        let mut buf = Buf {
            bytes: [0; CAPACITY],
            len: 0,
        };
        let n = delay.as_nanos();
        if n == 0 {
            buf.push(b"0s");
            return buf;
        }
        // Split into [d, h, m, s, ms, us, ns] from the smallest unit up.
        let mut parts = [0u64; 7];
        let mut left = n;
        for (part, &(size, _)) in parts.iter_mut().zip(UNITS.iter()).rev() {
            if size == 0 {
                *part = left;
            } else {
                *part = left % size;
                left /= size;
            }
        }
        for (&value, &(_, unit)) in parts.iter().zip(UNITS.iter()) {
            if value != 0 {
                buf.push_u64(value);
                buf.push(unit);
            }
        }
        buf
    }

    fn push(&mut self, s: &[u8]) {
        let end = self.len + s.len();
        if let Some(dst) = self.bytes.get_mut(self.len..end) {
            dst.copy_from_slice(s);
            self.len = end;
        }
    }

    fn push_u64(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
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
        self.push(digits.get(i..).unwrap_or_default());
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and unit letters are ever pushed.
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl fmt::Display for Delay {
    /// Writes the canonical form (`1d10h30m`, `1s500ms`, `0s`), honouring width and fill.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(Buf::new(*self).as_str())
    }
}

impl fmt::Debug for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Delay({})", Buf::new(*self).as_str())
    }
}
