//! The engine: wakes when the next message is due, claims due attempts, makes them with a
//! bounded number in flight, and commits each outcome (retry, delivery, failure, callbacks,
//! dead letters) in one store transaction.

pub(crate) mod deliver;
pub(crate) mod envelope;
pub(crate) mod outcome;
pub(crate) mod steps;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use qstash_store::{Claimed, FinishOutcome, Millis, Store, Transition};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::{DeliveryConfig, Limits};
use crate::destination::Guard;
use crate::ids::now_ms;
use crate::keys::KeySource;
use crate::metrics::Metrics;
use envelope::{Envelope, WorkflowRole};

/// The most attempts claimed in one store round trip.
const CLAIM_BATCH: usize = 512;

/// What the engine shares with the API: the store, the signing keys and the wake-up signal.
pub(crate) struct Engine {
    pub store: Arc<dyn Store>,
    /// The keys each tenant's attempts are signed with.
    pub keys: KeySource,
    wake: Notify,
    config: DeliveryConfig,
    http: reqwest::Client,
    /// The destination policy with its resolver (the one `http` resolves with).
    pub(crate) guard: Guard,
    permits: Arc<Semaphore>,
    /// What this process counts for `GET /metrics`.
    pub metrics: Metrics,
    /// Attempts in flight (their tasks started and not ended).
    in_flight: AtomicUsize,
    /// Why the scheduler stopped without being asked to (`None` while it runs).
    stopped: watch::Sender<Option<String>>,
    /// The limits a schedule's tick is published under (those of a publish).
    limits: Limits,
    /// Called with the tenant and run id when an attempt's outcome ended a run (it failed):
    /// an invoked run answers its invoker (`service::invoke`).
    pub(crate) run_ended: std::sync::OnceLock<RunEndedHook>,
}

/// What [`Engine::run_ended`] calls.
pub(crate) type RunEndedHook = Box<dyn Fn(String, String) + Send + Sync>;

impl Engine {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keys: KeySource,
        config: DeliveryConfig,
        http: reqwest::Client,
        guard: Guard,
        limits: Limits,
    ) -> Engine {
        Engine {
            store,
            keys,
            wake: Notify::new(),
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            config,
            http,
            guard,
            metrics: Metrics::new(),
            in_flight: AtomicUsize::new(0),
            stopped: watch::Sender::new(None),
            limits,
            run_ended: std::sync::OnceLock::new(),
        }
    }

    /// Records that the scheduler stopped without being asked to, and why.
    pub(crate) fn mark_stopped(&self, reason: String) {
        self.stopped.send_replace(Some(reason));
    }

    /// Why the scheduler stopped without being asked to, or `None` while it runs.
    pub(crate) fn stopped_reason(&self) -> Option<String> {
        self.stopped.borrow().clone()
    }

    /// A receiver that sees the scheduler's stop reason when there is one.
    pub(crate) fn watch_stopped(&self) -> watch::Receiver<Option<String>> {
        self.stopped.subscribe()
    }

    /// How many attempts are in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The delivery settings.
    pub(crate) fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// Tells the scheduler that new work may be due (the service calls it after a write that
    /// makes work due; the engine after an outcome that does).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// The scheduler loop: runs until `stop` turns true, then waits up to `grace` for the
    /// attempts in flight.
    pub(crate) async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>, grace: Duration) {
        let mut tasks = JoinSet::new();
        let mut store_backoff = Duration::from_millis(50);
        // Another process sharing the store stored a message that may be due (PostgreSQL).
        let shared_wakeups = self.store.due_wakeups();
        // Schedules' ticks are published through the service, as a publish is.
        let ticker = crate::service::Service::new(self.clone(), self.limits);
        // The earliest tick of a schedule as last read (looked at first thing).
        let mut tick_at = Some(0);
        loop {
            if *stop.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            // Wait for room before claiming: a claim starts the lease clock.
            let permit = tokio::select! {
                p = self.permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = stop.changed() => continue,
            };
            if tick_at.is_some_and(|t| t <= now_ms()) {
                tick_at = self.fire_schedules(&ticker).await;
            }
            let room = (self.permits.available_permits() + 1).min(CLAIM_BATCH);
            let claimed = match self.store.claim_due(now_ms(), room).await {
                Ok(c) => {
                    store_backoff = Duration::from_millis(50);
                    c
                }
                Err(e) => {
                    drop(permit);
                    tracing::warn!(error = %e, "claiming due messages failed; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(store_backoff) => {}
                        _ = stop.changed() => {}
                    }
                    store_backoff = (store_backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            let full = claimed.len() == room;
            let mut first = Some(permit);
            for c in claimed {
                let p = match first.take() {
                    Some(p) => p,
                    None => self.permits.clone().try_acquire_owned().expect(
                        "only the scheduler takes permits, and it counted them before claiming",
                    ),
                };
                let engine = self.clone();
                engine.in_flight.fetch_add(1, Ordering::Relaxed);
                tasks.spawn(async move {
                    engine.deliver(c).await;
                    engine.in_flight.fetch_sub(1, Ordering::Relaxed);
                    drop(p);
                });
            }
            drop(first);
            if full {
                continue; // more may be due right now
            }
            // Messages held back by flow control are not due: a full rate window counts at its
            // end, a full parallelism not at all (a finish of the key's attempt wakes us).
            let next = match self.store.next_due(now_ms()).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the next due time failed");
                    Some(now_ms() + 1000)
                }
            };
            // A schedule's next tick is due work too.
            tick_at = match self.store.next_schedule_at().await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the next schedule tick failed");
                    Some(now_ms() + 1000)
                }
            };
            let next = match (next, tick_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = sleep_for(next, now_ms());
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = notified(shared_wakeups.as_deref()) => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = stop.changed() => {}
            }
        }
        // Graceful stop: let attempts in flight finish for up to `grace`.
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                left = tasks.len(),
                "shutdown grace ended with attempts in flight; they are made again after the restart"
            );
            tasks.abort_all();
        }
    }

    /// Fires the schedules' due ticks; returns when to look again (the earliest next tick).
    async fn fire_schedules(&self, ticker: &crate::service::Service) -> Option<Millis> {
        if let Err(e) = ticker.fire_due_schedules(now_ms()).await {
            tracing::warn!(error = ?e, "firing due schedule ticks failed; trying again");
            return Some(now_ms() + 1000);
        }
        match self.store.next_schedule_at().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "reading the next schedule tick failed");
                Some(now_ms() + 1000)
            }
        }
    }

    /// Makes one claimed attempt and commits its outcome.
    async fn deliver(&self, claimed: Claimed) {
        let envelope = Envelope::decode(&claimed.message.message.extra);
        let msg = &claimed.message.message;
        let Some(body) = self.delivery_body(&claimed, &envelope).await else {
            // The run's steps could not be read: make no attempt; the lease ends and the
            // attempt is made later.
            return;
        };
        let signer = match self.keys.signer(&*self.store, &msg.tenant).await {
            Ok(signer) => signer,
            Err(e) => {
                // Without the tenant's key no attempt is made; the lease ends and the attempt
                // is made later.
                tracing::warn!(message_id = %msg.id, error = %e, "reading the tenant's signing keys failed");
                return;
            }
        };
        let signature = signer.sign(&msg.destination, &body);
        let started = std::time::Instant::now();
        let attempt = deliver::attempt(
            &self.http,
            &self.guard,
            &self.config,
            signature,
            &claimed,
            &envelope,
            body,
        )
        .await;
        self.metrics
            .attempt_seconds
            .observe(started.elapsed().as_secs_f64());
        // A run's failure callback carries the run's initial payload.
        let initial_body = match &envelope.workflow {
            Some(wf) if !attempt.delivered() => self
                .store
                .get_run(&msg.tenant, &wf.run_id)
                .await
                .ok()
                .flatten()
                .map(|r| r.run.initial_body),
            _ => None,
        };
        let finish = outcome::finish(
            &claimed,
            &envelope,
            attempt,
            now_ms(),
            &self.config,
            initial_body.as_deref(),
        );
        // A finish of a flow-controlled attempt frees a place that a waiting message may take.
        let wake = !finish.spawn.is_empty()
            || matches!(finish.transition, Transition::Retry { .. })
            || msg.flow_key.is_some();
        // A finish that cannot be committed is not lost: the lease ends and the attempt is
        // made again (at least once).
        let mut wait = Duration::from_millis(20);
        for _ in 0..5 {
            match self.store.finish(vec![finish.clone()]).await {
                Ok(outcomes) => {
                    if outcomes.first() == Some(&FinishOutcome::Applied) {
                        self.count(&finish, msg.created_at);
                        if let (Some((run_id, _)), Some(hook)) =
                            (&finish.end_run, self.run_ended.get())
                        {
                            hook(msg.tenant.clone(), run_id.clone());
                        }
                    }
                    if wake {
                        self.wake();
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(message_id = %msg.id, error = %e, "committing an attempt's outcome failed");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                }
            }
        }
    }

    /// Counts an applied finish in the metrics.
    fn count(&self, finish: &qstash_store::Finish, created_at: Millis) {
        let m = &self.metrics;
        match finish.transition {
            Transition::Delivered => {
                m.delivered.inc();
                let latency = finish.now.saturating_sub(created_at);
                m.delivery_latency_seconds
                    .observe(Duration::from_millis(latency).as_secs_f64());
            }
            Transition::Retry { .. } => {
                m.retried.inc();
            }
            Transition::Failed => {
                m.failed.inc();
            }
        }
        if finish.dlq.is_some() {
            m.dead_lettered.inc();
        }
    }

    /// The body an attempt sends: the stored body, or for a workflow step the run's steps up
    /// to this one. `None` when the steps cannot be read now.
    async fn delivery_body(&self, claimed: &Claimed, envelope: &Envelope) -> Option<Vec<u8>> {
        let msg = &claimed.message.message;
        match &envelope.workflow {
            Some(wf) if wf.role == WorkflowRole::Step => {
                match self
                    .store
                    .run_steps(&msg.tenant, &wf.run_id, Some(&msg.id))
                    .await
                {
                    Ok(steps) if !steps.is_empty() => Some(steps::steps_body(&steps)),
                    Ok(_) => Some(msg.body.clone()),
                    Err(e) => {
                        tracing::warn!(message_id = %msg.id, error = %e, "reading a run's steps failed");
                        None
                    }
                }
            }
            _ => Some(msg.body.clone()),
        }
    }
}

/// How long the scheduler sleeps when the next due time is `next` (none: until woken).
/// Waits for `wakeups` when there is one, forever otherwise.
async fn notified(wakeups: Option<&Notify>) {
    match wakeups {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

fn sleep_for(next: Option<Millis>, now: Millis) -> Duration {
    match next {
        // Due already (for example claimed by another process an instant ago): look again
        // soon, not at once, so that a disagreement between the two queries cannot spin.
        Some(t) if t <= now => Duration::from_millis(5),
        Some(t) => Duration::from_millis(t - now),
        None => Duration::from_secs(3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_until_due() {
        assert_eq!(sleep_for(Some(1500), 1000), Duration::from_millis(500));
        assert_eq!(sleep_for(Some(900), 1000), Duration::from_millis(5));
        assert_eq!(sleep_for(None, 1000), Duration::from_secs(3600));
    }
}
