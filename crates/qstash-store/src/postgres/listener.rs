//! Wake-ups across processes: the `LISTEN` connection (reconnecting after errors) and the
//! `NOTIFY` a transaction sends when it stores due work.

use super::*;

/// Keeps a `LISTEN` on the store's channel, reconnecting after errors, and notifies `wakeups`
/// for every notification of another instance (and after each reconnection, when some may have
/// been missed). `ready` answers after the first `LISTEN` (or its error).
pub(super) async fn listen(
    config: Config,
    tls: tls::MakeRustls,
    shared: Arc<Shared>,
    wakeups: Arc<Notify>,
    ready: oneshot::Sender<Result<()>>,
) {
    let mut ready = Some(ready);
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = tokio::time::Instant::now();
        let out = listen_once(&config, &tls, &shared, &wakeups, &mut ready).await;
        if let Some(ready) = ready.take() {
            // The first connection failed: connect reports it, and this task ends.
            let _ = ready.send(out);
            return;
        }
        if let Err(e) = out {
            tracing::warn!(error = %e, "the LISTEN connection failed; reconnecting");
        }
        if started.elapsed() > Duration::from_secs(30) {
            // It had been listening for a while: this is a new failure, not a repeated one.
            backoff = Duration::from_millis(100);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

pub(super) async fn listen_once(
    config: &Config,
    tls: &tls::MakeRustls,
    shared: &Shared,
    wakeups: &Notify,
    ready: &mut Option<oneshot::Sender<Result<()>>>,
) -> Result<()> {
    use futures_util::StreamExt;

    let (client, mut connection) = config.connect(tls.clone()).await.map_err(pg)?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let sql = format!("LISTEN \"{}\"", shared.channel.replace('"', "\"\""));
    let subscribe = client.batch_execute(&sql);
    tokio::pin!(subscribe);
    // The connection must be polled for the LISTEN to complete.
    loop {
        tokio::select! {
            done = &mut subscribe => {
                done.map_err(pg)?;
                break;
            }
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(pg(e)),
                None => return Err(closed("the LISTEN connection closed")),
            },
        }
    }
    match ready.take() {
        Some(ready) => {
            let _ = ready.send(Ok(()));
        }
        // A reconnection: notifications may have been missed meanwhile.
        None => wakeups.notify_one(),
    }
    while let Some(message) = messages.next().await {
        if let AsyncMessage::Notification(n) = message.map_err(pg)? {
            let (from, due) = match n.payload().split_once(' ') {
                Some((from, due)) => (from, due.parse::<Millis>().unwrap_or(0)),
                None => (n.payload(), 0),
            };
            // Work due no earlier than the scheduler's plan changes nothing: it wakes then.
            if from != shared.instance && due < shared.planned.fetch_min(due, Ordering::SeqCst) {
                wakeups.notify_one();
            }
        }
    }
    Err(closed("the LISTEN connection closed"))
}

/// Sends the store's notification (one per transaction that stored a pending message or
/// freed a flow-control key's place): `instance due_at`, with the earliest due time of the work
/// it made.
pub(super) async fn notify_due<C: GenericClient>(
    c: &C,
    shared: &Shared,
    due: Millis,
) -> Result<()> {
    let payload = format!("{} {due}", shared.instance);
    exec(c, "SELECT pg_notify($1, $2)", &[&shared.channel, &payload]).await?;
    Ok(())
}
