//! Schedules (`/v2/schedules`): creating or replacing one (its cron expression and the publish
//! request each tick sends, checked as a publish is), reading, listing, pausing, resuming and
//! deleting them, and firing the due ticks (which the engine's scheduler asks for).
//!
//! Tick times are computed here with `qstash-cron`; the store only keeps them and fires a tick
//! with a compare-and-set on the schedule's next tick, in the transaction that stores the
//! tick's message (see `qstash_store::Store::fire_schedule`). Ticks missed while no process ran
//! collapse into one message for the latest of them.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use qstash_cron::Cron;
use qstash_protocol::{PublishRequest, Schedule};
use qstash_store::{Millis, NewMessage, NewSchedule, ScheduleTick, StoredSchedule};

use super::{Error, Result, Service};
use crate::engine::envelope::Envelope;
use crate::engine::outcome::header_lists;
use crate::ids::random_id;
use crate::service::url_groups::is_group_name;

/// The most due schedules fired in one pass of the scheduler.
const FIRE_BATCH: usize = 64;

/// The most ticks stepped over to find the latest missed one (about two months of a
/// schedule ticking every minute); beyond it the last tick stepped to is fired.
const MAX_MISSED_STEPS: usize = 100_000;

/// The URL a schedule to a URL group checks its request's headers with.
const GROUP_STAND_IN: &str = "https://url-group.invalid/";

/// The longest schedule id accepted.
const MAX_ID_LEN: usize = 200;

/// Request headers that are not part of the schedule's publish request.
fn is_schedule_header(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "host"
            | "content-length"
            | "connection"
            | "accept"
            | "accept-encoding"
            | "user-agent"
            | "upstash-cron"
            | "upstash-schedule-id"
    )
}

impl Service {
    /// Creates a schedule, or replaces the tenant's schedule of the id in
    /// `Upstash-Schedule-Id`: checks the cron expression and the publish request as a publish
    /// is checked (limits, destination policy), stores it and wakes the scheduler. Returns the
    /// schedule's id.
    pub(crate) async fn create_schedule(
        &self,
        tenant: &str,
        destination: &str,
        headers: &HeaderMap,
        body: Bytes,
        now: Millis,
    ) -> Result<String> {
        let cron_text = headers
            .get("upstash-cron")
            .ok_or_else(|| {
                Error::invalid("Upstash-Cron: missing (a schedule needs a cron expression)")
            })?
            .to_str()
            .map_err(|_| Error::invalid("Upstash-Cron: not visible ASCII"))?
            .trim()
            .to_owned();
        let cron =
            Cron::parse(&cron_text).map_err(|e| Error::invalid(format!("Upstash-Cron: {e}")))?;
        let id = match headers.get("upstash-schedule-id") {
            Some(v) => check_id(v)?,
            None => random_id("scd_", 26),
        };
        let mut publish = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            if !is_schedule_header(name.as_str()) {
                publish.append(name.clone(), value.clone());
            }
        }
        // A URL group's name: its endpoints are checked when they are added; the request's
        // headers are checked here against a stand-in URL.
        let group = is_group_name(destination);
        let url = if group { GROUP_STAND_IN } else { destination };
        let req = PublishRequest::from_parts(url, &publish, body.clone())
            .map_err(|e| Error::invalid(e.to_string()))?;
        // Checked now as a publish would be, so that ticks do not fail on what a create can tell.
        let message = self.new_message(tenant, &req, now)?;
        if !group {
            self.check_destinations(&message).await?;
        }
        let schedule = NewSchedule {
            id: id.clone(),
            tenant: tenant.to_owned(),
            cron: cron_text,
            destination: if group {
                destination.to_owned()
            } else {
                req.destination().as_str().to_owned()
            },
            method: req.method().as_str().to_owned(),
            headers: message.headers.clone(),
            body: body.to_vec(),
            created_at: now,
            next_at: cron.next_after(now),
            paused: false,
        };
        self.engine().store.put_schedule(schedule).await?;
        self.made_due();
        Ok(id)
    }

    /// One schedule of the tenant, as the SDK reads it.
    pub(crate) async fn get_schedule(&self, tenant: &str, id: &str) -> Result<Schedule> {
        let stored = self
            .engine()
            .store
            .get_schedule(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(&format!("schedule {id}")))?;
        self.schedule_view(stored).await
    }

    /// The tenant's schedules, oldest first.
    pub(crate) async fn list_schedules(&self, tenant: &str) -> Result<Vec<Schedule>> {
        let stored = self.engine().store.list_schedules(tenant).await?;
        let mut out = Vec::with_capacity(stored.len());
        for s in stored {
            out.push(self.schedule_view(s).await?);
        }
        Ok(out)
    }

    /// Deletes a schedule of the tenant (404 when there is none); its messages stay.
    pub(crate) async fn delete_schedule(&self, tenant: &str, id: &str) -> Result<()> {
        if self.engine().store.delete_schedule(tenant, id).await? {
            Ok(())
        } else {
            Err(Error::not_found(&format!("schedule {id}")))
        }
    }

    /// Pauses a schedule of the tenant: it publishes nothing until resumed.
    pub(crate) async fn pause_schedule(&self, tenant: &str, id: &str) -> Result<()> {
        if self
            .engine()
            .store
            .set_schedule_paused(tenant, id, true, None)
            .await?
        {
            Ok(())
        } else {
            Err(Error::not_found(&format!("schedule {id}")))
        }
    }

    /// Resumes a schedule of the tenant from its next tick after `now` (the ticks it missed
    /// while paused are not made up for), and wakes the scheduler.
    pub(crate) async fn resume_schedule(&self, tenant: &str, id: &str, now: Millis) -> Result<()> {
        let store = &self.engine().store;
        let stored = store
            .get_schedule(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(&format!("schedule {id}")))?;
        let cron = Cron::parse(&stored.schedule.cron).map_err(|e| {
            Error::Internal(format!("schedule {id}: the stored cron expression: {e}"))
        })?;
        if !store
            .set_schedule_paused(tenant, id, false, cron.next_after(now))
            .await?
        {
            return Err(Error::not_found(&format!("schedule {id}")));
        }
        self.made_due();
        Ok(())
    }

    /// Fires the schedules due at `now` (each tick once, whatever the number of processes):
    /// for each, one message for the latest tick at or before `now`, and the next tick after
    /// `now`. Returns how many ticks this call fired.
    pub(crate) async fn fire_due_schedules(&self, now: Millis) -> Result<usize> {
        let store = &self.engine().store;
        let mut fired = 0;
        for s in store.due_schedules(now, FIRE_BATCH).await? {
            let Some(expected) = s.schedule.next_at else {
                continue;
            };
            let (tick_at, next_at, messages) = match Cron::parse(&s.schedule.cron) {
                Ok(cron) => {
                    let tick_at = latest_tick(&cron, expected, now);
                    let messages = match self.tick_messages(&s, now).await {
                        Ok(m) => m,
                        Err(e) => {
                            // What a create checked may have changed (the server's limits):
                            // the tick is skipped, and the schedule goes on.
                            tracing::warn!(schedule_id = %s.schedule.id, error = ?e, "a schedule's tick could not be published");
                            Vec::new()
                        }
                    };
                    (tick_at, cron.next_after(now), messages)
                }
                Err(e) => {
                    tracing::warn!(schedule_id = %s.schedule.id, error = %e, "a stored cron expression does not parse; the schedule stops");
                    (expected, None, Vec::new())
                }
            };
            let n = messages.len() as u64;
            let tick = ScheduleTick {
                tenant: s.schedule.tenant.clone(),
                schedule_id: s.schedule.id.clone(),
                expected_next_at: expected,
                tick_at,
                next_at,
                messages,
            };
            if store.fire_schedule(tick, now).await? {
                fired += 1;
                self.engine().metrics.accepted.inc_by(n);
            }
        }
        Ok(fired)
    }

    /// The messages one tick of `s` publishes at `now`, built as a publish of the schedule's
    /// request is (one per endpoint for a URL group), each carrying the schedule's id.
    async fn tick_messages(&self, s: &StoredSchedule, now: Millis) -> Result<Vec<NewMessage>> {
        let mut headers = HeaderMap::with_capacity(s.schedule.headers.len());
        for (name, value) in &s.schedule.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        let body = Bytes::from(s.schedule.body.clone());
        let tenant = &s.schedule.tenant;
        let mut messages = if is_group_name(&s.schedule.destination) {
            self.group_messages(tenant, &s.schedule.destination, &headers, body, now)
                .await?
        } else {
            let req = PublishRequest::from_parts(&s.schedule.destination, &headers, body)
                .map_err(|e| Error::invalid(e.to_string()))?;
            vec![self.new_message(tenant, &req, now)?]
        };
        for message in &mut messages {
            let mut envelope = Envelope::decode(&message.extra);
            envelope.schedule_id = Some(s.schedule.id.clone());
            message.extra = envelope.encode();
        }
        Ok(messages)
    }

    /// A stored schedule as the SDK reads it, with its last tick's messages' states.
    async fn schedule_view(&self, stored: StoredSchedule) -> Result<Schedule> {
        let s = &stored.schedule;
        let mut out = Schedule::default();
        out.schedule_id = s.id.clone();
        out.cron = s.cron.clone();
        out.created_at = s.created_at;
        out.destination = s.destination.clone();
        out.method = s.method.clone();
        out.header = header_lists(&s.headers);
        out.is_paused = s.paused;
        out.last_schedule_time = stored.last_at;
        out.next_schedule_time = if s.paused { None } else { s.next_at };
        out.retries = 3;
        match std::str::from_utf8(&s.body) {
            Ok(text) if !text.is_empty() => out.body = Some(text.to_owned()),
            Ok(_) => {}
            Err(_) => {
                use base64::Engine as _;
                out.body_base64 = Some(base64::engine::general_purpose::STANDARD.encode(&s.body));
            }
        }
        let header = |name: &str| {
            s.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if let Some(r) = header("upstash-retries").and_then(|v| v.trim().parse().ok()) {
            out.retries = r;
        }
        out.delay = header("upstash-delay")
            .and_then(|v| v.trim().parse::<qstash_delay::Delay>().ok())
            .map(|d| std::time::Duration::from(d).as_secs());
        out.callback = header("upstash-callback");
        out.failure_callback = header("upstash-failure-callback");
        out.queue_name = header("upstash-queue-name");
        let mut states = BTreeMap::new();
        for id in &stored.last_message_ids {
            if let Some(m) = self.engine().store.get_message(&s.tenant, id).await? {
                states.insert(id.clone(), m.state.as_str().to_owned());
            }
        }
        out.last_schedule_states = states;
        Ok(out)
    }
}

/// The latest tick at or before `now`, stepping from `first` (a tick at or before `now`).
fn latest_tick(cron: &Cron, first: Millis, now: Millis) -> Millis {
    let mut at = first;
    for _ in 0..MAX_MISSED_STEPS {
        match cron.next_after(at) {
            Some(t) if t <= now => at = t,
            _ => break,
        }
    }
    at
}

/// A schedule id from `Upstash-Schedule-Id`: 1 to 200 visible ASCII characters, no `/`.
fn check_id(v: &HeaderValue) -> Result<String> {
    let id = v
        .to_str()
        .map_err(|_| Error::invalid("Upstash-Schedule-Id: not visible ASCII"))?
        .trim();
    if id.is_empty()
        || id.len() > MAX_ID_LEN
        || id.contains('/')
        || !id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::invalid(format!(
            "Upstash-Schedule-Id: {id:?} is not an id (1 to {MAX_ID_LEN} visible ASCII \
             characters, no '/')"
        )));
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_ticks_collapse_into_the_latest() {
        let cron = Cron::parse("* * * * *").unwrap();
        let t0 = 1_767_225_600_000;
        assert_eq!(latest_tick(&cron, t0, t0 + 30_000), t0);
        assert_eq!(
            latest_tick(&cron, t0, t0 + 10 * 60_000 + 5),
            t0 + 10 * 60_000
        );
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id(&HeaderValue::from_static("my-schedule_1")).is_ok());
        assert!(check_id(&HeaderValue::from_static("a/b")).is_err());
        assert!(check_id(&HeaderValue::from_static(" ")).is_err());
    }
}
