//! Reading and managing what the tenant has: a message (and cancelling it), the events log,
//! flow-control keys, the signing keys; and the process's own health and metrics.

use qstash_protocol::{
    Event, EventState, EventsQuery, EventsResponse, FlowControlInfo, HeaderLists, Message,
    MessageCancelQuery, header_lists,
};
use qstash_store::{CancelOutcome, EventFilter, MessageFilter, Millis, SigningKeys, StoredMessage};

use super::{Error, Result, Service, page_size, parse_cursor};
use crate::engine::envelope::Envelope;

/// Whether the server can do its work.
#[derive(Debug)]
pub(crate) enum Health {
    /// The engine runs and the store answers.
    Ok,
    /// The engine's scheduler stopped without being asked to, for this reason.
    EngineStopped(String),
    /// The store does not answer.
    StoreUnavailable,
}

impl Service {
    /// One message of the tenant, as the API shows it.
    pub(crate) async fn get_message(&self, tenant: &str, id: &str) -> Result<Message> {
        let stored = self
            .engine()
            .store
            .get_message(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("message"))?;
        Ok(message_view(&stored))
    }

    /// Cancels a message that has not been delivered or failed for good.
    pub(crate) async fn cancel_message(&self, tenant: &str, id: &str, now: Millis) -> Result<()> {
        match self.engine().store.cancel_message(tenant, id, now).await? {
            CancelOutcome::Cancelled => Ok(()),
            CancelOutcome::AlreadyFinal(s) => Err(Error::invalid(format!(
                "message {id} cannot be cancelled: it is {}",
                s.as_str().to_ascii_lowercase()
            ))),
            CancelOutcome::NotFound => Err(Error::not_found("message")),
        }
    }

    /// Cancels, in one transaction, the tenant's messages that `q` selects and that are not
    /// final yet; returns how many it cancelled.
    pub(crate) async fn cancel_messages(
        &self,
        tenant: &str,
        q: &MessageCancelQuery,
        now: Millis,
    ) -> Result<u64> {
        let f = &q.filter;
        let filter = MessageFilter {
            message_ids: f.message_ids.clone(),
            urls: f.urls.clone(),
            labels: f.labels.iter().map(|l| l.as_str().to_owned()).collect(),
            flow_keys: f.flow_control_keys.clone(),
            from: f.from_date,
            to: f.to_date,
        };
        Ok(self
            .engine()
            .store
            .cancel_messages(tenant, &filter, now)
            .await?)
    }

    /// A page of the tenant's message log, newest first.
    pub(crate) async fn events(&self, tenant: &str, q: &EventsQuery) -> Result<EventsResponse> {
        let f = &q.filter;
        let filter = EventFilter {
            message_ids: f.message_ids.clone(),
            states: f.states.iter().map(|s| s.as_str().to_owned()).collect(),
            urls: f.urls.clone(),
            labels: f.labels.iter().map(|l| l.as_str().to_owned()).collect(),
            flow_keys: f.flow_control_keys.clone(),
            from: f.from_date,
            to: f.to_date,
        };
        let page = self
            .engine()
            .store
            .list_events(
                tenant,
                &filter,
                parse_cursor(q.cursor.as_deref())?,
                page_size(q.count),
            )
            .await?;
        let events = page
            .items
            .into_iter()
            .map(|e| {
                let state = e.state.parse().unwrap_or(EventState::Error);
                let mut out = Event::new(e.time, e.message_id, state, e.url);
                out.response_status = e.response_status;
                out.error = e.error;
                out.next_delivery_time = e.next_delivery_time;
                out.label = e.labels.first().cloned();
                out.labels = e.labels;
                out
            })
            .collect();
        Ok(EventsResponse::new(
            events,
            page.next.map(|c| c.to_string()),
        ))
    }

    /// The live counters of the tenant's flow-control keys that contain `search`.
    pub(crate) async fn flow_control_keys(
        &self,
        tenant: &str,
        search: &str,
        now: Millis,
    ) -> Result<Vec<FlowControlInfo>> {
        let keys = self.engine().store.list_flow_control(tenant, now).await?;
        Ok(keys
            .into_iter()
            .filter(|k| k.key.contains(search))
            .map(flow_control_view)
            .collect())
    }

    /// The live counters of one of the tenant's flow-control keys.
    pub(crate) async fn flow_control_key(
        &self,
        tenant: &str,
        key: &str,
        now: Millis,
    ) -> Result<FlowControlInfo> {
        match self.engine().store.flow_control(tenant, key, now).await? {
            Some(info) => Ok(flow_control_view(info)),
            None => Err(Error::not_found("flow-control key")),
        }
    }

    /// The tenant's signing keys now.
    pub(crate) async fn signing_keys(&self, tenant: &str) -> Result<SigningKeys> {
        let engine = self.engine();
        Ok(engine.keys.keys(&*engine.store, tenant).await?)
    }

    /// Rotates the tenant's signing keys (next becomes current, a new next is made).
    pub(crate) async fn rotate_signing_keys(&self, tenant: &str) -> Result<SigningKeys> {
        let engine = self.engine();
        Ok(engine.keys.rotate(&*engine.store, tenant).await?)
    }

    /// Whether the engine runs and the store answers.
    pub(crate) async fn health(&self) -> Health {
        let engine = self.engine();
        if let Some(reason) = engine.stopped_reason() {
            return Health::EngineStopped(reason);
        }
        match engine.store.ping().await {
            Ok(()) => Health::Ok,
            Err(_) => Health::StoreUnavailable,
        }
    }

    /// The Prometheus text exposition of this process's metrics, with the flow-control keys
    /// of `tenants` (ids only) and the due backlog; a part the store cannot give is left out.
    pub(crate) async fn metrics_text(&self, tenants: &[&String], now: Millis) -> String {
        let engine = self.engine();
        let due = match engine.store.due_count(now).await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "reading the due backlog for /metrics failed");
                None
            }
        };
        let mut flow = Vec::new();
        let mut flow_ok = true;
        for tenant in tenants {
            match engine.store.list_flow_control(tenant, now).await {
                Ok(keys) => flow.extend(keys.into_iter().map(|k| ((*tenant).clone(), k))),
                Err(e) => {
                    tracing::warn!(error = %e, "reading flow-control keys for /metrics failed");
                    flow_ok = false;
                    break;
                }
            }
        }
        engine
            .metrics
            .render(engine.in_flight(), due, flow_ok.then_some(flow.as_slice()))
    }
}

/// A stored message as the API shows it.
fn message_view(stored: &StoredMessage) -> Message {
    let m = &stored.message;
    let envelope = Envelope::decode(&m.extra);
    let mut out = Message::new(m.id.clone(), m.destination.clone(), m.created_at);
    out.method = Some(m.method.clone());
    out.header = forwarded_headers(&envelope);
    out.set_body(&m.body);
    out.max_retries = Some(m.max_retries);
    out.retry_delay_expression = envelope.retry_delay;
    out.not_before = (envelope.not_before > 0).then_some(envelope.not_before);
    out.callback = envelope.callback;
    out.failure_callback = envelope.failure_callback;
    out.schedule_id = envelope.schedule_id;
    out.topic_name = envelope.topic_name;
    out.endpoint_name = envelope.endpoint_name;
    out.flow_control_key = m.flow_key.clone();
    (out.parallelism, out.rate, out.period) = flow_fields(m);
    out.set_labels(m.labels.iter().cloned());
    out
}

/// The headers a message's deliveries forward, as upstream shows them: under their forwarded
/// names (`X-Test`, not `Upstash-Forward-X-Test`), with `Content-Type`, without the control
/// headers (`Upstash-*`).
pub(crate) fn forwarded_headers(envelope: &Envelope) -> HeaderLists {
    let mut map = http::HeaderMap::new();
    for (name, value) in &envelope.forward {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            map.append(n, v);
        }
    }
    if let Some(v) = envelope
        .content_type
        .as_deref()
        .and_then(|v| http::HeaderValue::from_str(v).ok())
    {
        map.insert(http::header::CONTENT_TYPE, v);
    }
    header_lists(&map)
}

/// The flow-control limits sent with a message: `(parallelism, rate, period in seconds)`.
pub(crate) fn flow_fields(m: &qstash_store::NewMessage) -> (Option<u32>, Option<u32>, Option<u64>) {
    match m.flow_limits {
        Some(l) => (
            l.parallelism,
            l.rate,
            l.rate.map(|_| l.period_ms.div_ceil(1000)),
        ),
        None => (None, None, None),
    }
}

/// The wire form of the store's counters: limits that are not set are 0, the period and the
/// window's start are in seconds (upstream).
fn flow_control_view(info: qstash_store::FlowControlInfo) -> FlowControlInfo {
    let mut out = FlowControlInfo::new(info.key);
    out.wait_list_size = info.wait_list_size;
    out.parallelism_max = info.parallelism_max.map_or(0, u64::from);
    out.parallelism_count = info.parallelism_count;
    out.rate_max = info.rate_max.map_or(0, u64::from);
    out.rate_count = info.rate_count;
    // A period under a second shows as 1 s rather than as no period at all.
    out.rate_period = info.rate_period_ms.div_ceil(1000);
    out.rate_period_start = info.rate_period_start.map_or(0, |ms| ms / 1000);
    out
}
