//! Publishing and managing messages against the real server (`qstash-server` in-process on
//! loopback, on a SQLite file) delivering to a loopback destination.

mod loopback;

use std::time::{Duration, Instant};

use loopback::{CURRENT_KEY, Loopback, NEXT_KEY};
use qstash_client::{
    Client, DlqQuery, ErrorKind, EventState, EventsQuery, Label, PublishBatch, PublishRequest,
    WorkflowUrl,
};

const TOKEN: &str = "client-test-token";
const WAIT: Duration = Duration::from_secs(20);

/// The server and destination ([`Loopback`]), and a client of the server.
struct Setup {
    lb: Loopback,
    url: String,
    dest: String,
    client: Client,
}

async fn setup() -> Setup {
    let lb = Loopback::start(TOKEN).await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(lb.url.as_str())
        .build()
        .unwrap();
    Setup {
        url: lb.url.clone(),
        dest: lb.dest.clone(),
        lb,
        client,
    }
}

impl Setup {
    /// Waits for an event of `message_id` in `state`, through the client.
    async fn wait_event(&self, message_id: &str, state: EventState) -> qstash_client::Event {
        let deadline = Instant::now() + WAIT;
        let mut query = EventsQuery::default();
        query.message_id = Some(message_id.to_owned());
        query.state = Some(state);
        loop {
            let page = self.client.events(&query).await.unwrap();
            if let Some(e) = page.events.into_iter().next() {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {state} event for {message_id}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_messages_are_delivered_and_logged() {
    let s = setup().await;
    let sent = s
        .client
        .publish_url(format!("{}/ok/one?x=1", s.dest))
        .body("hello")
        .forward("X-Tenant", "7")
        .label("client-test")
        .unwrap()
        .retries(1)
        .send()
        .await
        .unwrap();
    assert!(sent.message_id.starts_with("msg_"), "{sent:?}");
    assert!(!sent.deduplicated);

    let delivered = s.wait_event(&sent.message_id, EventState::Delivered).await;
    assert_eq!(delivered.url, format!("{}/ok/one?x=1", s.dest));
    assert_eq!(delivered.response_status, Some(200));
    assert_eq!(delivered.labels, ["client-test"]);
    let seen = s.lb.deliveries();
    assert_eq!(seen.len(), 1);
    let d = &seen[0];
    assert_eq!(d.target, "/ok/one?x=1");
    assert_eq!(d.message_id, sent.message_id);
    assert_eq!(d.tenant.as_deref(), Some("7"));
    assert_eq!(d.body, b"hello");

    // The events of the message, filtered by label too, newest first.
    let mut q = EventsQuery::default();
    q.label = Some(Label::new("client-test").unwrap());
    let page = s.client.events(&q).await.unwrap();
    let states: Vec<EventState> = page.events.iter().map(|e| e.state).collect();
    assert_eq!(states.first(), Some(&EventState::Delivered), "{states:?}");
    assert_eq!(states.last(), Some(&EventState::Created), "{states:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_delivered_in_order_of_the_answers() {
    let s = setup().await;
    let msg = |path: &str, body: &str| {
        PublishRequest::builder(WorkflowUrl::new(format!("{}{path}", s.dest)).unwrap())
            .body(body.to_owned())
            .build()
            .unwrap()
    };
    let batch = PublishBatch::new(vec![msg("/ok/a", "A"), msg("/ok/b", "B")]).unwrap();
    let answers = s.client.publish_batch(batch).await.unwrap();
    assert_eq!(answers.len(), 2);
    for a in &answers {
        s.wait_event(&a.message_id, EventState::Delivered).await;
    }
    let seen = s.lb.deliveries();
    let by_id = |id: &str| seen.iter().find(|d| d.message_id == id).unwrap().clone();
    assert_eq!(by_id(&answers[0].message_id).target, "/ok/a");
    assert_eq!(by_id(&answers[1].message_id).body, b"B");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_read_back_cancel_and_deduplicate() {
    let s = setup().await;
    let sent = s
        .client
        .publish_url(format!("{}/ok/later", s.dest))
        .json(&serde_json::json!({"order": 42}))
        .unwrap()
        .delay("1h")
        .unwrap()
        .retries(2)
        .retry_delay("1000 * retried")
        .unwrap()
        .timeout("5s")
        .unwrap()
        .deduplication_id("order-42")
        .unwrap()
        .await
        .unwrap();

    let m = s.client.message(&sent.message_id).await.unwrap();
    assert_eq!(m.message_id, sent.message_id);
    assert_eq!(m.url, format!("{}/ok/later", s.dest));
    assert_eq!(m.method.as_deref(), Some("POST"));
    assert_eq!(m.body.as_deref(), Some(r#"{"order":42}"#));
    assert_eq!(m.max_retries, Some(2));
    assert_eq!(m.retry_delay_expression.as_deref(), Some("1000 * retried"));

    // The same deduplication id: accepted, not enqueued, the first message's id.
    let again = s
        .client
        .publish_url(format!("{}/ok/later", s.dest))
        .deduplication_id("order-42")
        .unwrap()
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.message_id, sent.message_id);

    s.client.cancel_message(&sent.message_id).await.unwrap();
    s.wait_event(&sent.message_id, EventState::Cancelled).await;
    let err = s.client.cancel_message(&sent.message_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest, "{err}");
    assert!(s.lb.deliveries().is_empty(), "nothing was delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_messages_go_to_the_dlq_and_come_back() {
    let s = setup().await;
    let sent = s
        .client
        .publish_url(format!("{}/fail/x", s.dest))
        .body("doomed")
        .retries(0)
        .label("dlq-test")
        .unwrap()
        .await
        .unwrap();
    let failed = s.wait_event(&sent.message_id, EventState::Failed).await;
    assert_eq!(failed.response_status, Some(500));

    let mut q = DlqQuery::default();
    q.label = Some(Label::new("dlq-test").unwrap());
    let page = s.client.dlq(&q).await.unwrap();
    assert_eq!(page.messages.len(), 1, "{page:?}");
    let entry = &page.messages[0];
    assert_eq!(entry.message_id, sent.message_id);
    assert_eq!(entry.response_status, Some(500));
    assert_eq!(entry.body.as_deref(), Some("doomed"));

    let one = s.client.dlq_message(&entry.dlq_id).await.unwrap();
    assert_eq!(&one, entry);

    // A retry is a new message with the same request; it fails again.
    let retried = s.client.retry_dlq(&entry.dlq_id).await.unwrap();
    assert_ne!(retried.message_id, sent.message_id);
    s.wait_event(&retried.message_id, EventState::Failed).await;
    let bodies: Vec<Vec<u8>> = s.lb.deliveries().into_iter().map(|d| d.body).collect();
    assert_eq!(bodies, [b"doomed".to_vec(), b"doomed".to_vec()]);

    // The retry took the first entry out of the DLQ; the retried message's failure made one.
    let err = s.client.dlq_message(&entry.dlq_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let all = s.client.dlq(&q).await.unwrap();
    let ids: Vec<String> = all.messages.iter().map(|m| m.dlq_id.clone()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(all.messages[0].message_id, retried.message_id);
    assert_eq!(
        s.client
            .delete_dlq(ids.iter().map(String::as_str).chain(["dlq_unknown"]))
            .await
            .unwrap(),
        1
    );
    assert!(s.client.dlq(&q).await.unwrap().messages.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate() {
    let s = setup().await;
    let keys = s.client.signing_keys().await.unwrap();
    assert_eq!(
        (keys.current.as_str(), keys.next.as_str()),
        (CURRENT_KEY, NEXT_KEY)
    );
    assert!(!format!("{keys:?}").contains(CURRENT_KEY));
    let rotated = s.client.rotate_signing_keys().await.unwrap();
    assert_eq!(rotated.current, NEXT_KEY);
    assert!(rotated.next.starts_with("sig_"), "a new next key");
    assert_ne!(rotated.next, NEXT_KEY);
    assert_eq!(s.client.signing_keys().await.unwrap(), rotated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_map_to_their_kinds() {
    let s = setup().await;
    let wrong = Client::builder()
        .token("not-the-token")
        .base_url(s.url.as_str())
        .build()
        .unwrap();
    let err = wrong
        .publish_url(format!("{}/ok", s.dest))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert_eq!(err.attempts(), 1, "401 is not retried");
    let err = wrong.signing_keys().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!err.to_string().contains("not-the-token"));

    for err in [
        s.client.message("msg_unknown").await.unwrap_err(),
        s.client.cancel_message("msg_unknown").await.unwrap_err(),
        s.client.dlq_message("dlq_unknown").await.unwrap_err(),
        s.client.retry_dlq("dlq_unknown").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    }

    // The server's own limits come back as bad requests with its message.
    let err = s
        .client
        .publish_url(format!("{}/ok", s.dest))
        .retries(1000)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert!(err.message().unwrap().contains("Upstash-Retries"), "{err}");

    // Nothing is sent for an empty id.
    let err = s.client.message("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(err.attempts(), 0);
    let err = s.client.delete_dlq(Vec::<String>::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_and_dlq_pages_follow_the_cursor() {
    let s = setup().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let sent = s
            .client
            .publish_url(format!("{}/ok/{i}", s.dest))
            .label("paged")
            .unwrap()
            .await
            .unwrap();
        s.wait_event(&sent.message_id, EventState::Delivered).await;
        ids.push(sent.message_id);
    }
    let mut q = EventsQuery::default();
    q.label = Some(Label::new("paged").unwrap());
    q.state = Some(EventState::Delivered);
    q.count = Some(2);
    let mut pages = s.client.events_stream(q);
    let mut seen = Vec::new();
    let mut n = 0;
    while let Some(page) = pages.next_page().await {
        let page = page.unwrap();
        assert!(page.events.len() <= 2);
        seen.extend(page.events.into_iter().map(|e| e.message_id));
        n += 1;
    }
    assert!(n >= 2, "three events in pages of two: {n} pages");
    seen.reverse();
    assert_eq!(seen, ids, "every event once, newest first");

    let mut q = DlqQuery::default();
    q.count = Some(1);
    let mut pages = s.client.dlq_stream(q);
    let first = pages.next_page().await.unwrap().unwrap();
    assert!(first.messages.is_empty());
    assert!(pages.next_page().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_control_keys_show_their_counters() {
    let s = setup().await;
    let err = s.client.flow_control("fc-key").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(s.client.flow_controls().await.unwrap().is_empty());
    let sent = s
        .client
        .publish_url(format!("{}/ok/fc", s.dest))
        .body("x")
        .flow_control("fc-key", "parallelism=3, rate=20, period=1m")
        .unwrap()
        .send()
        .await
        .unwrap();
    s.wait_event(&sent.message_id, EventState::Delivered).await;
    let info = s.client.flow_control("fc-key").await.unwrap();
    assert_eq!(info.flow_control_key, "fc-key");
    assert_eq!(
        (info.parallelism_max, info.rate_max, info.rate_period),
        (3, 20, 60)
    );
    assert_eq!(info.rate_count, 1, "{info:?}");
    assert_eq!(info.wait_list_size, 0);
    let all = s.client.flow_controls().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].flow_control_key, "fc-key");
    let empty = s.client.flow_control("").await.unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidRequest);
}
