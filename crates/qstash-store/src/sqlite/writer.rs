//! The writer thread: the commands sent to it, group commit (every command waiting, each in its
//! own `SAVEPOINT`, one commit), and the checkpoint thread it wakes.

use super::*;

/// A write command: run inside a savepoint, answered after the commit.
pub(super) trait Job: Send {
    /// Runs the command; `false` when it failed (its savepoint is then rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller; `commit_error` is set when the group's commit failed.
    fn reply(self: Box<Self>, commit_error: Option<&StoreError>);
    /// Whether the command's commit must be on disk before it is answered (see
    /// [`Durability`]).
    fn durability(&self) -> Durability;
}

/// How durable a command's commit must be when it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// On disk (the WAL synced): anything a caller acknowledges to a client.
    Synced,
    /// Written to the WAL but not synced: a claim. A process crash keeps it (the operating
    /// system has the write); a power loss may undo it, which makes the attempt claimable again
    /// (at least once still holds). The next synced commit syncs it too, so a finish on disk
    /// implies its claim is on disk.
    Written,
}

/// Whether a write may wait for room in the writer's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Fail at once with [`StoreError::Overloaded`] when the queue is full (accepts).
    Refuse,
    /// Wait for room (the engine's and the API's other writes).
    Wait,
}

pub(super) struct Call<T, F> {
    pub(super) f: Option<F>,
    pub(super) out: Option<Result<T>>,
    pub(super) tx: Option<oneshot::Sender<Result<T>>>,
    pub(super) durability: Durability,
    /// The command's place in the queue, given back once it is answered.
    pub(super) permit: Option<OwnedSemaphorePermit>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let out = f(conn);
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn durability(&self) -> Durability {
        self.durability
    }

    fn reply(self: Box<Self>, commit_error: Option<&StoreError>) {
        let Call {
            out, tx, permit, ..
        } = *self;
        let answer = match (out, commit_error) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Some(e)) => Err(e.clone()),
            (Some(Ok(v)), None) => Ok(v),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(closed("the write did not run")),
        };
        if let Some(tx) = tx {
            let _ = tx.send(answer);
        }
        drop(permit);
    }
}

pub(super) fn writer_loop(
    conn: &Connection,
    rx: &mpsc::Receiver<Box<dyn Job>>,
    max_group: usize,
    stats: &Stats,
    checkpoints: &mpsc::SyncSender<()>,
) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(max_group.min(1024));
    let mut commits_since_checkpoint = 0u32;
    // The connection opens with synchronous=FULL.
    let mut synced = true;
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < max_group {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        stats
            .commands
            .fetch_add(group.len() as u64, Ordering::SeqCst);
        // A group of claims alone commits without syncing the WAL; any other command in the
        // group makes the whole commit synced.
        let want_synced = group.iter().any(|j| j.durability() == Durability::Synced);
        if want_synced != synced {
            let pragma = if want_synced {
                "PRAGMA synchronous=FULL"
            } else {
                "PRAGMA synchronous=NORMAL"
            };
            // If the mode cannot be switched, stay synced: slower, never less durable.
            match conn.execute_batch(pragma) {
                Ok(()) => synced = want_synced,
                Err(_) if !synced => {
                    let _ = conn.execute_batch("PRAGMA synchronous=FULL");
                }
                Err(_) => {}
            }
        }
        run_group(conn, &mut group, stats);
        commits_since_checkpoint += 1;
        if commits_since_checkpoint >= CHECKPOINT_EVERY {
            commits_since_checkpoint = 0;
            // Full means a checkpoint is pending already.
            let _ = checkpoints.try_send(());
        }
    }
}

/// The writer asks for a checkpoint after this many commits.
pub(super) const CHECKPOINT_EVERY: u32 = 16;

/// Starts the thread that copies the WAL into the database file (a passive checkpoint) when
/// the writer asks, so that the writer's commits never wait for a checkpoint. The thread ends
/// when the returned sender is dropped.
pub(super) fn start_checkpointer(
    path: &Path,
    options: &SqliteOptions,
) -> Result<mpsc::SyncSender<()>> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .db()?;
    conn.busy_timeout(options.busy_timeout).db()?;
    conn.execute_batch("PRAGMA cache_size=-256;").db()?;
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("qstash-store-checkpoint".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // A failed checkpoint is retried at the next request; the WAL keeps the data.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(tx)
}

pub(super) fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Runs one group in one transaction, each command in its own savepoint, then answers all.
pub(super) fn run_group(conn: &Connection, group: &mut Vec<Box<dyn Job>>, stats: &Stats) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        let err = driver_error("cannot begin a transaction", e);
        for job in group.drain(..) {
            job.reply(Some(&err));
        }
        return;
    }
    let mut aborted: Option<StoreError> = None;
    for job in group.iter_mut() {
        if let Err(e) = exec(conn, "SAVEPOINT cmd") {
            aborted = Some(driver_error("cannot open a savepoint", e));
            break;
        }
        let ok = catch_unwind(AssertUnwindSafe(|| job.run(conn))).unwrap_or(false);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (an I/O error, a full disk): nothing of
            // this group is applied.
            aborted = Some(StoreError::Unavailable(
                "the transaction was rolled back by the database".to_string(),
            ));
            break;
        }
        let end = if ok {
            exec(conn, "RELEASE cmd")
        } else {
            exec(conn, "ROLLBACK TO cmd").and_then(|()| exec(conn, "RELEASE cmd"))
        };
        if let Err(e) = end {
            aborted = Some(driver_error("cannot close a savepoint", e));
            break;
        }
    }
    let commit_error = match aborted {
        Some(msg) => {
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            Some(msg)
        }
        None => match exec(conn, "COMMIT") {
            Ok(()) => {
                stats.commits.fetch_add(1, Ordering::SeqCst);
                None
            }
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = exec(conn, "ROLLBACK");
                }
                Some(driver_error("commit failed", e))
            }
        },
    };
    for job in group.drain(..) {
        job.reply(commit_error.as_ref());
    }
}
