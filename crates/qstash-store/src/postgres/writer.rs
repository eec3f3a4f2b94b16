//! Group commit of accepts and finishes: the calls queued to the group writers, applied together
//! in one transaction, and again one savepoint per call when one of them fails.

use super::*;

/// One `insert_messages` call.
pub(super) struct InsertJob {
    pub(super) messages: Vec<NewMessage>,
    pub(super) now: Millis,
    pub(super) reply: oneshot::Sender<Result<Vec<InsertOutcome>>>,
    /// The call's place in the write queue, given back with the job.
    pub(super) _permit: OwnedSemaphorePermit,
}

impl InsertJob {
    /// Whether every message can go through the multi-row statements (no deduplication id, no
    /// run step).
    pub(super) fn is_plain(&self) -> bool {
        self.messages
            .iter()
            .all(|m| m.dedup.is_none() && !m.run.as_ref().is_some_and(|r| r.step))
    }
}

/// One `finish` call.
pub(super) struct FinishJob {
    pub(super) finishes: Vec<Finish>,
    pub(super) reply: oneshot::Sender<Result<Vec<FinishOutcome>>>,
    /// The call's place in the write queue, given back with the job.
    pub(super) _permit: OwnedSemaphorePermit,
}

/// A call the group writers take: the calls waiting together share one transaction.
pub(super) enum Job {
    Insert(InsertJob),
    Finish(FinishJob),
}

pub(super) type InsertResult = Option<Result<Vec<InsertOutcome>>>;
pub(super) type FinishResult = Option<Result<Vec<FinishOutcome>>>;

pub(super) async fn group_writer(
    pool: Pool,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    max_group: usize,
    writers: usize,
) {
    let permits = Arc::new(Semaphore::new(writers));
    loop {
        // Wait for a free writer first: calls arriving meanwhile form the next group.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < max_group {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            run_group(&pool, &shared, group).await;
            drop(permit);
        });
    }
}

pub(super) async fn run_group(pool: &Pool, shared: &Shared, group: Vec<Job>) {
    let calls = group.len() as u64;
    let (mut inserts, mut finishes) = (Vec::new(), Vec::new());
    for job in group {
        match job {
            Job::Insert(job) => inserts.push(job),
            Job::Finish(job) => finishes.push(job),
        }
    }
    let mut attempt = 1;
    let (out, insert_results, finish_results) = loop {
        let mut ir: Vec<InsertResult> = inserts.iter().map(|_| None).collect();
        let mut fr: Vec<FinishResult> = finishes.iter().map(|_| None).collect();
        let out = apply_group(pool, shared, &inserts, &finishes, &mut ir, &mut fr).await;
        match out {
            Err(e) if attempt < TX_ATTEMPTS && is_transient(&e) => attempt += 1,
            out => break (out, ir, fr),
        }
    };
    if out.is_ok() {
        shared.commits.fetch_add(1, Ordering::SeqCst);
        shared.calls.fetch_add(calls, Ordering::SeqCst);
    }
    for (job, result) in inserts.into_iter().zip(insert_results) {
        let _ = job.reply.send(answer(&out, result));
    }
    for (job, result) in finishes.into_iter().zip(finish_results) {
        let _ = job.reply.send(answer(&out, result));
    }
}

/// A call's answer: its own error stands whatever happened to the group; otherwise its result
/// counts only if the group committed.
pub(super) fn answer<T>(group: &Result<()>, result: Option<Result<T>>) -> Result<T> {
    match (group, result) {
        (_, Some(Err(e))) => Err(e),
        (Ok(()), Some(Ok(v))) => Ok(v),
        (Err(e), _) => Err(match e {
            StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
            StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
            e @ StoreError::Backend { .. } => e.clone(),
            other => StoreError::Unavailable(other.to_string()),
        }),
        (Ok(()), None) => Err(closed("the write did not run")),
    }
}

/// Applies a group in one transaction: first optimistically, without savepoints; when a call
/// fails, that transaction is rolled back and the group runs again with each call in its own
/// savepoint, so that only the failing calls fail.
pub(super) async fn apply_group(
    pool: &Pool,
    shared: &Shared,
    inserts: &[InsertJob],
    finishes: &[FinishJob],
    ir: &mut [InsertResult],
    fr: &mut [FinishResult],
) -> Result<()> {
    let mut client = pool.get().await.map_err(pool_error)?;
    {
        let tx = client.transaction().await.map_err(pg)?;
        if apply_calls(&tx, shared, inserts, finishes, ir, fr, false).await? {
            return tx.commit().await.map_err(pg);
        }
        tx.rollback().await.map_err(pg)?;
    }
    ir.iter_mut().for_each(|r| *r = None);
    fr.iter_mut().for_each(|r| *r = None);
    let tx = client.transaction().await.map_err(pg)?;
    apply_calls(&tx, shared, inserts, finishes, ir, fr, true).await?;
    tx.commit().await.map_err(pg)
}

/// Applies every call of a group in `tx` and sends one notification when other processes
/// should look for due work. Optimistic (`careful` false): the plain accepts in multi-row
/// statements, no savepoints, and `false` as soon as a call fails (the transaction must then be
/// rolled back). Careful: each call in its own savepoint; a failing call rolls back alone and
/// keeps its error.
#[allow(clippy::too_many_arguments)]
pub(super) async fn apply_calls(
    tx: &Transaction<'_>,
    shared: &Shared,
    inserts: &[InsertJob],
    finishes: &[FinishJob],
    ir: &mut [InsertResult],
    fr: &mut [FinishResult],
    careful: bool,
) -> Result<bool> {
    let mut notified = false;
    let mut wake: Option<Millis> = None;
    if !careful {
        let plain: Vec<usize> = (0..inserts.len())
            .filter(|&i| inserts[i].is_plain())
            .collect();
        if !plain.is_empty() {
            if !insert_plain(tx, shared, inserts, &plain)
                .await
                .unwrap_or(false)
            {
                return Ok(false);
            }
            for &i in &plain {
                ir[i] = Some(Ok(vec![InsertOutcome::Inserted; inserts[i].messages.len()]));
            }
            notified = true;
        }
    }
    for (i, job) in inserts.iter().enumerate() {
        if ir[i].is_some() {
            continue;
        }
        let out = if careful {
            in_savepoint(tx, insert_all(tx, &job.messages, job.now)).await?
        } else {
            insert_all(tx, &job.messages, job.now).await
        };
        match out {
            Ok(outcomes) => {
                for (m, o) in job.messages.iter().zip(&outcomes) {
                    if *o == InsertOutcome::Inserted {
                        wake = earliest(wake, Some(m.due_at));
                    }
                }
                ir[i] = Some(Ok(outcomes));
            }
            Err(_) if !careful => return Ok(false),
            Err(e) => ir[i] = Some(Err(e)),
        }
    }
    for (i, job) in finishes.iter().enumerate() {
        let out = if careful {
            in_savepoint(tx, finish_all(tx, &job.finishes)).await?
        } else {
            finish_all(tx, &job.finishes).await
        };
        match out {
            Ok((outcomes, woken)) => {
                wake = earliest(wake, woken);
                fr[i] = Some(Ok(outcomes));
            }
            Err(_) if !careful => return Ok(false),
            Err(e) => fr[i] = Some(Err(e)),
        }
    }
    if let Some(due) = wake
        && !notified
    {
        notify_due(tx, shared, due).await?;
    }
    Ok(true)
}

/// Runs `call` inside a savepoint, rolled back when the call fails. The outer error is the
/// savepoint's own (the transaction is then unusable), the inner one the call's.
pub(super) async fn in_savepoint<T>(
    tx: &Transaction<'_>,
    call: impl std::future::Future<Output = Result<T>>,
) -> Result<Result<T>> {
    tx.batch_execute("SAVEPOINT call").await.map_err(pg)?;
    let out = call.await;
    let end = if out.is_ok() {
        "RELEASE SAVEPOINT call"
    } else {
        "ROLLBACK TO SAVEPOINT call; RELEASE SAVEPOINT call"
    };
    tx.batch_execute(end).await.map_err(pg)?;
    Ok(out)
}

/// Applies the finishes of one call in turn; `true` in the second place when other processes
/// should look for due work.
pub(super) async fn finish_all(
    tx: &Transaction<'_>,
    finishes: &[Finish],
) -> Result<(Vec<FinishOutcome>, Option<Millis>)> {
    // The keys first, in key order (see `lock_flow_keys`).
    let messages: Vec<(&str, &str)> = finishes
        .iter()
        .map(|f| (f.tenant.as_str(), f.message_id.as_str()))
        .collect();
    let runs: Vec<(&str, &str)> = finishes
        .iter()
        .filter_map(|f| {
            f.end_run
                .as_ref()
                .map(|(run, _)| (f.tenant.as_str(), run.as_str()))
        })
        .collect();
    lock_flow_keys(tx, &messages, &runs).await?;
    let mut out = Vec::with_capacity(finishes.len());
    let mut wake = None;
    for f in finishes {
        let (outcome, woken) = finish_one(tx, f).await?;
        wake = earliest(wake, woken);
        out.push(outcome);
    }
    Ok((out, wake))
}

/// The earlier of two optional times.
pub(super) fn earliest(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
