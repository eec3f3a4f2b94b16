//! Retention: a background task that removes finished work once it is old enough
//! ([`Store::purge`]), in small batches, off the request path.

use std::sync::Arc;
use std::time::Duration;

use qstash_store::{PurgeCounts, PurgeCutoffs, Store, StoreError};
use tokio::sync::watch;

use crate::ids::now_ms;

/// How long finished work is kept, and how the removal runs.
///
/// ```
/// use std::time::Duration;
/// use qstash_server::Retention;
///
/// let r = Retention::default().finished(Duration::from_secs(3600));
/// assert_eq!(r.dead_letters, Duration::from_secs(14 * 24 * 3600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Finished messages (delivered, failed, cancelled) with their events, and finished runs
    /// with their steps, are removed this long after they finished. Default 7 days.
    pub finished: Duration,
    /// Dead letters are removed this long after they were added. Default 14 days.
    pub dead_letters: Duration,
    /// How often the removal runs. Default 1 minute.
    pub interval: Duration,
    /// At most this many items of each kind are removed per store transaction. Default 500.
    pub batch: usize,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            finished: Duration::from_secs(7 * 24 * 3600),
            dead_letters: Duration::from_secs(14 * 24 * 3600),
            interval: Duration::from_secs(60),
            batch: 500,
        }
    }
}

impl Retention {
    /// How long finished messages and runs are kept.
    pub fn finished(mut self, keep: Duration) -> Self {
        self.finished = keep;
        self
    }

    /// How long dead letters are kept.
    pub fn dead_letters(mut self, keep: Duration) -> Self {
        self.dead_letters = keep;
        self
    }

    /// How often the removal runs.
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every;
        self
    }

    /// The most items of each kind removed per transaction (at least 1).
    pub fn batch(mut self, items: usize) -> Self {
        self.batch = items.max(1);
        self
    }

    /// The cutoffs of a removal at `now`.
    fn cutoffs(&self, now: u64) -> PurgeCutoffs {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        PurgeCutoffs {
            finished_before: now.saturating_sub(ms(self.finished)),
            dlq_before: now.saturating_sub(ms(self.dead_letters)),
            now,
        }
    }
}

/// Removes old work every [`Retention::interval`] until `stop` turns true.
pub(crate) async fn run(store: Arc<dyn Store>, config: Retention, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        match sweep(store.as_ref(), &config, &stop).await {
            Ok(total) if !total.is_empty() => tracing::info!(
                messages = total.messages,
                events = total.events,
                runs = total.runs,
                run_steps = total.run_steps,
                dead_letters = total.dead_letters,
                dedup_ids = total.dedup_ids,
                "retention removed old finished work"
            ),
            Ok(_) => {}
            Err(StoreError::Invalid(e)) => {
                tracing::warn!(error = %e, "this store cannot remove old work; retention is off");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "removing old work failed; trying again later");
            }
        }
    }
}

/// One removal: batches until nothing old is left (or the server stops). Between batches the
/// task yields, so that accepts and deliveries get the store in between.
async fn sweep(
    store: &dyn Store,
    config: &Retention,
    stop: &watch::Receiver<bool>,
) -> qstash_store::Result<PurgeCounts> {
    let mut total = PurgeCounts::default();
    let cutoffs = config.cutoffs(now_ms());
    loop {
        let counts = store.purge(cutoffs, config.batch).await?;
        total.add(&counts);
        if !counts.may_have_more(config.batch) || *stop.borrow() {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_count_back_from_now() {
        let r = Retention::default()
            .finished(Duration::from_secs(2))
            .dead_letters(Duration::from_secs(5));
        let c = r.cutoffs(10_000);
        assert_eq!(c.finished_before, 8_000);
        assert_eq!(c.dlq_before, 5_000);
        assert_eq!(c.now, 10_000);
        // Never below zero.
        assert_eq!(Retention::default().cutoffs(1_000).finished_before, 0);
    }
}
