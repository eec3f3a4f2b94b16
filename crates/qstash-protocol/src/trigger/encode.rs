//! Encoding a trigger: every header it carries, in a fixed order, into a [`Sink`].

use qstash_retry_delay::RetryDelay;

use crate::encode::{LabelList, Sink, Val};
use crate::header::{ForwardPrefix, Known};
use crate::values::RunId;

use super::{FailureTarget, TriggerRequest};

impl TriggerRequest {
    /// An upper bound of the number of header lines.
    pub(super) fn header_count(&self) -> usize {
        usize::from(self.content_type.is_some())
            + usize::from(self.run_id.is_some())
            + usize::from(self.retries.is_some())
            + usize::from(self.delay.is_some())
            + usize::from(self.not_before.is_some())
            + usize::from(!self.labels.is_empty())
            + 2 * usize::from(self.flow_control.is_some())
            + usize::from(self.retry_delay.is_some())
            + self.forwarded.len()
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |cb| 1 + cb.forwarded.len())
    }

    /// About the bytes of the values [`MapSink`] writes: more than enough for the usual
    /// request, and a guess for a long flow-control or delay value.
    pub(super) fn value_capacity(&self) -> usize {
        let len = |s: Option<&str>| s.map_or(0, str::len);
        64 + len(self.run_id.as_ref().map(RunId::as_str))
            + self
                .labels
                .iter()
                .map(|l| l.as_str().len() + 1)
                .sum::<usize>()
            + self
                .flow_control
                .as_ref()
                .map_or(0, |(k, _)| k.as_str().len() + 48)
            + self
                .failure_callback
                .as_ref()
                .map_or(0, |cb| match &cb.target {
                    FailureTarget::FailureFunction => 0,
                    FailureTarget::Url(u) => u.as_str().len(),
                })
            + len(self.retry_delay.as_ref().map(RetryDelay::as_str))
    }

    /// Feeds every header to `sink`, in a fixed order.
    pub(crate) fn encode(&self, sink: &mut impl Sink) {
        if let Some(ct) = &self.content_type {
            sink.known(Known::ContentType, Val::Header(ct));
        }
        if let Some(id) = &self.run_id {
            sink.known(Known::WorkflowRunId, Val::Str(id.as_str()));
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
        match self.labels.as_slice() {
            [] => {}
            [one] => sink.known(Known::Label, Val::Str(one.as_str())),
            many => sink.known(Known::Label, Val::Display(&LabelList(many))),
        }
        if let Some((key, value)) = &self.flow_control {
            sink.known(Known::FlowControlKey, Val::Str(key.as_str()));
            sink.known(Known::FlowControlValue, Val::Display(value));
        }
        if let Some(cb) = &self.failure_callback {
            let v = match &cb.target {
                FailureTarget::FailureFunction => "",
                FailureTarget::Url(url) => url.as_str(),
            };
            sink.known(Known::FailureCallback, Val::Str(v));
        }
        if let Some(rd) = &self.retry_delay {
            sink.known(Known::RetryDelay, Val::Str(rd.as_str()));
        }
        for (full, bare, value) in self.forwarded.wire() {
            sink.forwarded(ForwardPrefix::Destination, full, bare, value);
        }
        if let Some(cb) = &self.failure_callback {
            for (full, bare, value) in cb.forwarded.wire() {
                sink.forwarded(ForwardPrefix::Failure, full, bare, value);
            }
        }
    }
}
