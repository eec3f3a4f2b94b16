//! The engine's promises that the API cannot show directly: an idle server does no work, a
//! shutdown lets attempts in flight finish, secrets stay out of `Debug`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use qstash_server::Server;
use qstash_store::sqlite::SqliteStore;
use qstash_store::*;

/// The real SQLite store, counting how often the engine asks it for work.
struct Counting {
    inner: SqliteStore,
    claims: AtomicU64,
    next_due: AtomicU64,
    /// Wake-ups as a store shared with other processes gives them.
    wakeups: Option<Arc<tokio::sync::Notify>>,
}

#[async_trait]
impl Store for Counting {
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn insert_messages(&self, m: Vec<NewMessage>, now: Millis) -> Result<Vec<InsertOutcome>> {
        self.inner.insert_messages(m, now).await
    }
    async fn claim_due(&self, now: Millis, limit: usize) -> Result<Vec<Claimed>> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        self.inner.claim_due(now, limit).await
    }
    async fn next_due(&self, now: Millis) -> Result<Option<Millis>> {
        self.next_due.fetch_add(1, Ordering::SeqCst);
        self.inner.next_due(now).await
    }
    async fn due_count(&self, now: Millis) -> Result<u64> {
        self.inner.due_count(now).await
    }
    async fn finish(&self, f: Vec<Finish>) -> Result<Vec<FinishOutcome>> {
        self.inner.finish(f).await
    }
    async fn get_message(&self, t: &str, id: &str) -> Result<Option<StoredMessage>> {
        self.inner.get_message(t, id).await
    }
    async fn cancel_message(&self, t: &str, id: &str, now: Millis) -> Result<CancelOutcome> {
        self.inner.cancel_message(t, id, now).await
    }
    async fn list_events(
        &self,
        t: &str,
        f: &EventFilter,
        c: Option<u64>,
        n: usize,
    ) -> Result<Page<Event>> {
        self.inner.list_events(t, f, c, n).await
    }
    async fn list_dlq(
        &self,
        t: &str,
        f: &DlqFilter,
        c: Option<u64>,
        n: usize,
    ) -> Result<Page<DlqEntry>> {
        self.inner.list_dlq(t, f, c, n).await
    }
    async fn get_dlq(&self, t: &str, id: &str) -> Result<Option<DlqEntry>> {
        self.inner.get_dlq(t, id).await
    }
    async fn delete_dlq(&self, t: &str, ids: &[String]) -> Result<u64> {
        self.inner.delete_dlq(t, ids).await
    }
    async fn signing_keys_or_init(&self, p: SigningKeys) -> Result<SigningKeys> {
        self.inner.signing_keys_or_init(p).await
    }
    async fn rotate_signing_keys(&self, n: String) -> Result<SigningKeys> {
        self.inner.rotate_signing_keys(n).await
    }
    async fn tenant_signing_keys_or_init(&self, t: &str, p: SigningKeys) -> Result<SigningKeys> {
        self.inner.tenant_signing_keys_or_init(t, p).await
    }
    async fn rotate_tenant_signing_keys(&self, t: &str, n: String) -> Result<SigningKeys> {
        self.inner.rotate_tenant_signing_keys(t, n).await
    }
    async fn create_run(&self, r: NewRun, m: NewMessage, now: Millis) -> Result<CreateRunOutcome> {
        self.inner.create_run(r, m, now).await
    }
    async fn get_run(&self, t: &str, id: &str) -> Result<Option<StoredRun>> {
        self.inner.get_run(t, id).await
    }
    async fn run_steps(&self, t: &str, id: &str, up_to: Option<&str>) -> Result<Vec<RunStep>> {
        self.inner.run_steps(t, id, up_to).await
    }
    async fn end_run(&self, t: &str, id: &str, e: EndRun, now: Millis) -> Result<EndRunOutcome> {
        self.inner.end_run(t, id, e, now).await
    }
    async fn list_runs(
        &self,
        t: &str,
        f: &RunFilter,
        c: Option<u64>,
        n: usize,
    ) -> Result<Page<StoredRun>> {
        self.inner.list_runs(t, f, c, n).await
    }
    async fn flow_control(&self, t: &str, k: &str, now: Millis) -> Result<Option<FlowControlInfo>> {
        self.inner.flow_control(t, k, now).await
    }
    async fn list_flow_control(&self, t: &str, now: Millis) -> Result<Vec<FlowControlInfo>> {
        self.inner.list_flow_control(t, now).await
    }
    fn due_wakeups(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.wakeups.clone()
    }
}

#[tokio::test]
async fn an_idle_server_asks_the_store_for_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Counting {
        inner: SqliteStore::open(dir.path().join("q.db")).unwrap(),
        claims: AtomicU64::new(0),
        next_due: AtomicU64::new(0),
        wakeups: None,
    });
    let server = Server::builder(store.clone())
        .token(TOKEN)
        .unwrap()
        .start()
        .await
        .unwrap();
    let sink = Sink::start().await;
    let http = http_client();
    // one message due in 300 ms, another in an hour
    for delay in ["300ms", "1h"] {
        let r = http
            .post(format!("{}/v2/publish/{}/ok/idle", server.url(), sink.url))
            .bearer_auth(TOKEN)
            .header("Upstash-Delay", delay)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    sink.wait_for("/ok/idle", 1, Duration::from_secs(5)).await;
    // let the delivery's outcome settle, then watch a second of idleness
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (c0, n0) = (
        store.claims.load(Ordering::SeqCst),
        store.next_due.load(Ordering::SeqCst),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (c1, n1) = (
        store.claims.load(Ordering::SeqCst),
        store.next_due.load(Ordering::SeqCst),
    );
    assert_eq!(
        (c1 - c0, n1 - n0),
        (0, 0),
        "the scheduler polled while nothing was due"
    );
    // and the wake-up for the first message was not a poll loop either
    assert!(c1 < 20, "{c1} claims for three wake-ups");
    server.shutdown().await;
}

/// Messages held back by flow control are not due: while a key is at its parallelism or its
/// rate window is full, the scheduler sleeps (until a finish or the window's end) instead of
/// asking the store again and again.
#[tokio::test]
async fn held_back_messages_do_not_make_the_scheduler_poll() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Counting {
        inner: SqliteStore::open(dir.path().join("q.db")).unwrap(),
        claims: AtomicU64::new(0),
        next_due: AtomicU64::new(0),
        wakeups: None,
    });
    let server = Server::builder(store.clone())
        .token(TOKEN)
        .unwrap()
        .shutdown_grace(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let sink = Sink::start().await;
    let http = http_client();
    let publish = |path: &'static str, value: &'static str| {
        let (http, url, sink_url) = (http.clone(), server.url(), sink.url.clone());
        async move {
            let r = http
                .post(format!("{url}/v2/publish/{sink_url}{path}"))
                .bearer_auth(TOKEN)
                .header("Upstash-Flow-Control-Key", path)
                .header("Upstash-Flow-Control-Value", value)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    // Parallelism: /second holds the one place for a second; two more wait.
    for _ in 0..3 {
        publish("/second/p", "parallelism=1").await;
    }
    // Rate: one start per 2 s; two more wait for the window's end.
    for _ in 0..3 {
        publish("/ok/r", "rate=1, period=2s").await;
    }
    sink.wait_for("/second/p", 1, Duration::from_secs(5)).await;
    sink.wait_for("/ok/r", 1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (c0, n0) = (
        store.claims.load(Ordering::SeqCst),
        store.next_due.load(Ordering::SeqCst),
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (c1, n1) = (
        store.claims.load(Ordering::SeqCst),
        store.next_due.load(Ordering::SeqCst),
    );
    assert!(
        c1 - c0 <= 2 && n1 - n0 <= 2,
        "the scheduler polled while every due message was held back: {} claims, {} next_due",
        c1 - c0,
        n1 - n0
    );
    assert_eq!(sink.to("/second/p").len(), 1);
    assert_eq!(sink.to("/ok/r").len(), 1);
    // And the held-back messages go once their key allows.
    sink.wait_for("/second/p", 3, Duration::from_secs(10)).await;
    sink.wait_for("/ok/r", 2, Duration::from_secs(10)).await;
    server.shutdown().await;
}

/// A message stored behind the engine's back (as by another process sharing the store) is
/// delivered as soon as the store's wake-up signal fires, not when the idle scheduler's hour of
/// sleep ends.
#[tokio::test]
async fn a_store_wakeup_makes_the_idle_scheduler_look_again() {
    let dir = tempfile::tempdir().unwrap();
    let wakeups = Arc::new(tokio::sync::Notify::new());
    let store = Arc::new(Counting {
        inner: SqliteStore::open(dir.path().join("q.db")).unwrap(),
        claims: AtomicU64::new(0),
        next_due: AtomicU64::new(0),
        wakeups: Some(wakeups.clone()),
    });
    let server = Server::builder(store.clone())
        .token(TOKEN)
        .unwrap()
        .start()
        .await
        .unwrap();
    let sink = Sink::start().await;
    // Wait until the scheduler has found nothing due and gone to sleep.
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.next_due.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the scheduler never looked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let message = NewMessage {
        id: "msg_from_elsewhere".to_string(),
        tenant: "other-process".to_string(),
        destination: format!("{}/elsewhere", sink.url),
        method: "POST".to_string(),
        headers: Vec::new(),
        body: b"hi".to_vec(),
        created_at: now,
        due_at: now,
        max_retries: 0,
        lease_ms: 60_000,
        labels: Vec::new(),
        dedup: None,
        flow_key: None,
        flow_limits: None,
        extra: Vec::new(),
        run: None,
    };
    store
        .inner
        .insert_messages(vec![message], now)
        .await
        .unwrap();
    wakeups.notify_one();
    sink.wait_for("/elsewhere", 1, Duration::from_secs(5)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_an_attempt_in_flight_finish_within_its_grace() {
    let sink = Sink::start().await;
    let s = start().await;
    // /second answers after 1 s: within the 2 s grace, so its outcome is committed
    let id = s.publish(&format!("{}/second", sink.url), &[], "x").await;
    sink.wait_for("/second", 1, Duration::from_secs(5)).await;
    let t0 = Instant::now();
    let TestServer {
        server, url, dir, ..
    } = s;
    server.shutdown().await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "shutdown did not wait for the attempt: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "shutdown waited past its grace: {took:?}"
    );
    // after the shutdown nothing answers, and the attempt's outcome is on disk
    assert!(
        http_client()
            .get(format!("{url}/health"))
            .send()
            .await
            .is_err()
    );
    let store = SqliteStore::open(dir.path().join("qstash.db")).unwrap();
    let tenant = qstash_server::Token::new(TOKEN).unwrap().tenant();
    let m = store.get_message(&tenant, &id).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::Delivered);

    // an attempt longer than the grace is cut off at the grace
    let sink = Sink::start().await;
    let s = start().await;
    s.publish(&format!("{}/slow", sink.url), &[], "x").await;
    sink.wait_for("/slow", 1, Duration::from_secs(5)).await;
    let t0 = Instant::now();
    s.server.shutdown().await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn builders_never_show_tokens_or_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("q.db")).unwrap());
    let builder = Server::builder(store)
        .token("secret-token-value")
        .unwrap()
        .signing_keys("sig_secretcurrent", "sig_secretnext");
    let shown = format!("{builder:?}");
    for secret in ["secret-token-value", "sig_secretcurrent", "sig_secretnext"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let token = qstash_server::Token::new("abc").unwrap();
    assert!(!format!("{token:?}").contains("abc"));
    let keys = SigningKeys {
        current: "sig_a1".into(),
        next: "sig_b2".into(),
    };
    assert!(!format!("{keys:?}").contains("sig_a1"));
}
