//! The server's metrics, served at `GET /metrics` in the Prometheus text format.
//!
//! Counters count what this process did since it started (accepts through its API, outcomes
//! of the attempts it made); gauges that describe shared work (the due backlog) are read from
//! the store at scrape time, so every process sharing a store reports the same backlog.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use qstash_store::FlowControlInfo;

/// The metrics of one server process.
pub(crate) struct Metrics {
    registry: Registry,
    /// Messages accepted through the API (publish, batch, trigger, DLQ retry), each once.
    pub accepted: Counter,
    /// Workflow runs created through the API.
    pub runs_created: Counter,
    /// Attempts that delivered their message.
    pub delivered: Counter,
    /// Attempts that failed and will be retried.
    pub retried: Counter,
    /// Attempts that failed for good.
    pub failed: Counter,
    /// Messages that went to the dead-letter queue.
    pub dead_lettered: Counter,
    /// Attempts in flight now (set at scrape time).
    in_flight: Gauge,
    /// Pending messages due now and not claimed (set at scrape time).
    due_backlog: Gauge,
    /// Per flow-control key: due messages waiting for a claim, and attempts in flight (set at
    /// scrape time).
    flow_waiting: Family<FlowLabels, Gauge>,
    flow_in_flight: Family<FlowLabels, Gauge>,
    /// How long one attempt's HTTP exchange took.
    pub attempt_seconds: Histogram,
    /// From acceptance to delivery, for delivered messages (includes delays and retries).
    pub delivery_latency_seconds: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("qstash");
        let accepted = Counter::default();
        let runs_created = Counter::default();
        let delivered = Counter::default();
        let retried = Counter::default();
        let failed = Counter::default();
        let dead_lettered = Counter::default();
        let in_flight = Gauge::default();
        let due_backlog = Gauge::default();
        let flow_waiting = Family::<FlowLabels, Gauge>::default();
        let flow_in_flight = Family::<FlowLabels, Gauge>::default();
        // 1 ms … about 65 s.
        let attempt_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let delivery_latency_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 20));
        registry.register(
            "messages_accepted",
            "Messages accepted through the API (publish, batch, trigger, DLQ retry)",
            accepted.clone(),
        );
        registry.register(
            "runs_created",
            "Workflow runs created through the API",
            runs_created.clone(),
        );
        registry.register(
            "deliveries_delivered",
            "Attempts that delivered their message",
            delivered.clone(),
        );
        registry.register(
            "deliveries_retried",
            "Attempts that failed and will be retried",
            retried.clone(),
        );
        registry.register(
            "deliveries_failed",
            "Attempts that failed for good",
            failed.clone(),
        );
        registry.register(
            "messages_dead_lettered",
            "Messages moved to the dead-letter queue",
            dead_lettered.clone(),
        );
        registry.register(
            "deliveries_in_flight",
            "Attempts this process has in flight",
            in_flight.clone(),
        );
        registry.register(
            "due_backlog",
            "Pending messages that are due and not claimed (shared by every process of the store)",
            due_backlog.clone(),
        );
        registry.register(
            "flow_control_waiting",
            "Due messages of a flow-control key waiting for a claim (its limits hold most of them back)",
            flow_waiting.clone(),
        );
        registry.register(
            "flow_control_in_flight",
            "Attempts of a flow-control key in flight, over every process of the store",
            flow_in_flight.clone(),
        );
        registry.register(
            "attempt_duration_seconds",
            "How long one attempt's HTTP exchange took",
            attempt_seconds.clone(),
        );
        registry.register(
            "delivery_latency_seconds",
            "From acceptance to delivery, for delivered messages (includes delays and retries)",
            delivery_latency_seconds.clone(),
        );
        Metrics {
            registry,
            accepted,
            runs_created,
            delivered,
            retried,
            failed,
            dead_lettered,
            in_flight,
            due_backlog,
            flow_waiting,
            flow_in_flight,
            attempt_seconds,
            delivery_latency_seconds,
        }
    }

    /// The text exposition, with the gauges set to `in_flight`, `due_backlog` and the
    /// flow-control keys' counts (`None` when the store could not say; the gauges then keep
    /// their last values).
    pub(crate) fn render(
        &self,
        in_flight: usize,
        due_backlog: Option<u64>,
        flow: Option<&[(String, FlowControlInfo)]>,
    ) -> String {
        if let Some(flow) = flow {
            self.flow_waiting.clear();
            self.flow_in_flight.clear();
            for (tenant, info) in flow {
                let labels = FlowLabels {
                    tenant: tenant.clone(),
                    key: info.key.clone(),
                };
                let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                self.flow_waiting
                    .get_or_create(&labels)
                    .set(gauge(info.wait_list_size));
                self.flow_in_flight
                    .get_or_create(&labels)
                    .set(gauge(info.parallelism_count));
            }
        }
        self.in_flight
            .set(i64::try_from(in_flight).unwrap_or(i64::MAX));
        if let Some(due) = due_backlog {
            self.due_backlog.set(i64::try_from(due).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The labels of a flow-control key's gauges: the tenant id (a hash of its token, never the
/// token) and the key.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlowLabels {
    tenant: String,
    key: String,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.accepted.inc_by(3);
        m.attempt_seconds.observe(0.004);
        let info = FlowControlInfo {
            key: "k1".into(),
            wait_list_size: 4,
            parallelism_max: Some(1),
            parallelism_count: 1,
            rate_max: None,
            rate_count: 0,
            rate_period_ms: 1000,
            rate_period_start: None,
        };
        let text = m.render(2, Some(7), Some(&[("t_a".into(), info)]));
        for name in [
            "qstash_messages_accepted_total 3",
            "qstash_runs_created_total 0",
            "qstash_deliveries_delivered_total 0",
            "qstash_deliveries_retried_total 0",
            "qstash_deliveries_failed_total 0",
            "qstash_messages_dead_lettered_total 0",
            "qstash_deliveries_in_flight 2",
            "qstash_due_backlog 7",
            "qstash_attempt_duration_seconds_count 1",
            "qstash_delivery_latency_seconds_count 0",
            r#"qstash_flow_control_waiting{tenant="t_a",key="k1"} 4"#,
            r#"qstash_flow_control_in_flight{tenant="t_a",key="k1"} 1"#,
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
