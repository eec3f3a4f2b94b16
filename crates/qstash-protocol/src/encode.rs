//! The encoding machinery shared by every request: a [`Sink`] that receives headers, and the
//! one that writes them into an `http::HeaderMap`.

use std::fmt::{self, Write as _};

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::header::{ForwardPrefix, Known};
use crate::values::Label;

/// Labels joined by `,`.
pub(crate) struct LabelList<'a>(pub(crate) &'a [Label]);

impl fmt::Display for LabelList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, label) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(label.as_str())?;
        }
        Ok(())
    }
}

/// A header value handed to a [`Sink`].
pub(crate) enum Val<'a> {
    Str(&'a str),
    Display(&'a dyn fmt::Display),
    Num(u64),
    Header(&'a HeaderValue),
}

/// Where [`TriggerRequest::encode`] writes headers: an `http::HeaderMap` or a JSON batch entry.
pub(crate) trait Sink {
    /// A known header (a row of the table in [`header`]) and its value.
    fn known(&mut self, header: Known, value: Val<'_>);
    /// A forwarded header: its prefix, its full name, the name without prefix, its value.
    fn forwarded(
        &mut self,
        prefix: ForwardPrefix,
        full: &HeaderName,
        bare: &str,
        value: &HeaderValue,
    );
    /// Any other header, kept as received (unknown `Upstash-*` headers of a message).
    fn extra(&mut self, name: &HeaderName, value: &HeaderValue);
}

/// Writes headers into an `http::HeaderMap`; values that must be formatted are written into
/// one shared buffer, so that they cost one allocation together.
pub(crate) struct MapSink<'a> {
    map: &'a mut HeaderMap,
    buf: BytesMut,
    /// The capacity to give `buf` when it is first needed.
    capacity: usize,
}

impl<'a> MapSink<'a> {
    pub(crate) fn new(map: &'a mut HeaderMap, capacity: usize) -> MapSink<'a> {
        MapSink {
            map,
            buf: BytesMut::new(),
            capacity,
        }
    }

    fn value(&mut self, value: Val<'_>) -> Option<HeaderValue> {
        if let Val::Header(v) = value {
            return Some(v.clone());
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve(self.capacity);
        }
        match value {
            Val::Header(_) => {}
            Val::Str(s) => self.buf.extend_from_slice(s.as_bytes()),
            Val::Num(n) => push_decimal(&mut self.buf, n),
            Val::Display(d) => {
                // Writing into a `BytesMut` cannot fail.
                let _ = write!(self.buf, "{d}");
            }
        }
        HeaderValue::from_maybe_shared(self.buf.split().freeze()).ok()
    }
}

/// Appends the decimal digits of `n`.
fn push_decimal(buf: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    buf.extend_from_slice(digits.get(start..).unwrap_or_default());
}

impl Sink for MapSink<'_> {
    fn known(&mut self, header: Known, value: Val<'_>) {
        // Every value was checked when the request was built or decoded, so the conversion
        // cannot fail; `to_http` being infallible, a failure would drop the header.
        if let Some(value) = self.value(value) {
            let _ = self.map.try_append(header.name(), value);
        }
    }

    fn forwarded(
        &mut self,
        _prefix: ForwardPrefix,
        full: &HeaderName,
        _bare: &str,
        value: &HeaderValue,
    ) {
        let _ = self.map.try_append(full.clone(), value.clone());
    }

    fn extra(&mut self, name: &HeaderName, value: &HeaderValue) {
        let _ = self.map.try_append(name.clone(), value.clone());
    }
}
