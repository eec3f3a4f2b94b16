//! Encoding a message: every header it carries, in a fixed order, into a [`Sink`].

use crate::encode::{LabelList, Sink, Val};
use crate::header::{ForwardPrefix, Known};

use super::PublishRequest;

impl PublishRequest {
    /// An upper bound of the number of header lines.
    pub(super) fn header_count(&self) -> usize {
        16 + self.forwarded.len()
            + self.callback.as_ref().map_or(0, |cb| cb.forwarded.len())
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |cb| cb.forwarded.len())
            + self.extra.len()
    }

    /// About the bytes of the values [`MapSink`] writes.
    pub(super) fn value_capacity(&self) -> usize {
        64 + self
            .labels
            .iter()
            .map(|l| l.as_str().len() + 1)
            .sum::<usize>()
            + self
                .flow_control
                .as_ref()
                .map_or(0, |(k, _)| k.as_str().len() + 48)
            + self.callback.as_ref().map_or(0, |c| c.url.as_str().len())
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |c| c.url.as_str().len())
            + self
                .deduplication_id
                .as_ref()
                .map_or(0, |d| d.as_str().len())
            + self.retry_delay.as_ref().map_or(0, |r| r.as_str().len())
    }

    /// Feeds every header to `sink`, in a fixed order: the modelled ones, the forwarded ones,
    /// then the extras in their order.
    pub(crate) fn encode(&self, sink: &mut impl Sink) {
        if let Some(ct) = &self.content_type {
            sink.known(Known::ContentType, Val::Header(ct));
        }
        if let Some(m) = &self.method {
            sink.known(Known::Method, Val::Str(m.as_str()));
        }
        if let Some(n) = self.retries {
            sink.known(Known::Retries, Val::Num(u64::from(n)));
        }
        if let Some(d) = &self.delay {
            sink.known(Known::Delay, Val::Display(d));
        }
        if let Some(t) = self.not_before {
            sink.known(Known::NotBefore, Val::Num(t));
        }
        if let Some(d) = &self.timeout {
            sink.known(Known::Timeout, Val::Display(d));
        }
        if let Some(rd) = &self.retry_delay {
            sink.known(Known::RetryDelay, Val::Str(rd.as_str()));
        }
        match self.labels.as_slice() {
            [] => {}
            [one] => sink.known(Known::Label, Val::Str(one.as_str())),
            many => sink.known(Known::Label, Val::Display(&LabelList(many))),
        }
        if let Some((key, value)) = &self.flow_control {
            sink.known(Known::FlowControlKey, Val::Str(key.as_str()));
            sink.known(Known::FlowControlValue, Val::Display(value));
        }
        if let Some(cb) = &self.callback {
            sink.known(Known::Callback, Val::Str(cb.url.as_str()));
        }
        if let Some(cb) = &self.failure_callback {
            sink.known(Known::FailureCallback, Val::Str(cb.url.as_str()));
        }
        if let Some(id) = &self.deduplication_id {
            sink.known(Known::DeduplicationId, Val::Str(id.as_str()));
        }
        if let Some(b) = self.content_based_deduplication {
            sink.known(
                Known::ContentBasedDeduplication,
                Val::Str(if b { "true" } else { "false" }),
            );
        }
        for (full, bare, value) in self.forwarded.wire() {
            sink.forwarded(ForwardPrefix::Destination, full, bare, value);
        }
        if let Some(cb) = &self.callback {
            for (full, bare, value) in cb.forwarded.wire() {
                sink.forwarded(ForwardPrefix::Callback, full, bare, value);
            }
        }
        if let Some(cb) = &self.failure_callback {
            for (full, bare, value) in cb.forwarded.wire() {
                sink.forwarded(ForwardPrefix::Failure, full, bare, value);
            }
        }
        for (name, value) in &self.extra {
            sink.extra(name, value);
        }
    }

    /// How many forwarded and extra header lines the message carries.
    pub(super) fn free_header_count(&self) -> usize {
        self.forwarded.len()
            + self.callback.as_ref().map_or(0, |cb| cb.forwarded.len())
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |cb| cb.forwarded.len())
            + self.extra.len()
    }
}
