//! The HTTP API: authentication, tenants, bad input, logs, keys.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use qstash_server::Limits;
use qstash_signature::Receiver;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("errors are JSON");
    (
        status,
        body["error"].as_str().expect("an error message").to_owned(),
    )
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let s = start().await;
    let r = s
        .http
        .get(format!("{}/v2/events", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 401);
    let r = s
        .http
        .get(format!("{}/v2/events", s.url))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    let (status, msg) = error_of(r).await;
    assert_eq!(status, 401);
    assert!(!msg.contains("nope"), "the token is not echoed: {msg}");
    let r = s
        .http
        .get(format!("{}/health", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn no_tenant_sees_or_touches_another_tenants_data() {
    let sink = Sink::start().await;
    let s = start().await;
    let delayed = s
        .publish(
            &format!("{}/ok/a", sink.url),
            &[("Upstash-Delay", "1h"), ("Upstash-Label", "l")],
            "x",
        )
        .await;
    let failed = s
        .publish(
            &format!("{}/fail/a", sink.url),
            &[("Upstash-Retries", "0"), ("Upstash-Label", "l")],
            "x",
        )
        .await;
    s.wait_event(&failed, "FAILED", WAIT).await;
    let dlq: Value = s.get("/v2/dlq").send().await.unwrap().json().await.unwrap();
    let dlq_id = dlq["messages"][0]["dlqId"].as_str().unwrap().to_owned();

    let b = |method: reqwest::Method, path: &str| {
        s.http
            .request(method, format!("{}{path}", s.url))
            .bearer_auth(OTHER_TOKEN)
    };
    use reqwest::Method;
    for (m, path) in [
        (Method::GET, format!("/v2/messages/{delayed}")),
        (Method::DELETE, format!("/v2/messages/{delayed}")),
        (Method::GET, format!("/v2/dlq/{dlq_id}")),
        (Method::DELETE, format!("/v2/dlq/{dlq_id}")),
        (Method::POST, format!("/v2/dlq/retry/{dlq_id}")),
    ] {
        let r = b(m.clone(), &path).send().await.unwrap();
        assert_eq!(r.status(), 404, "{m} {path}");
    }
    let r: Value = b(Method::DELETE, &format!("/v2/dlq?dlqIds={dlq_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["deleted"], 0);
    for path in [
        "/v2/events",
        "/v2/logs",
        &format!("/v2/events?messageId={delayed}"),
        "/v2/events?label=l",
    ] {
        let v: Value = b(Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["events"].as_array().unwrap().len(), 0, "{path}: {v}");
    }
    let v: Value = b(Method::GET, "/v2/dlq")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["messages"].as_array().unwrap().len(), 0);

    // the owner still sees everything, untouched
    let m: Value = s
        .get(&format!("/v2/messages/{delayed}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["messageId"], delayed.as_str());
    let r = s.get(&format!("/v2/dlq/{dlq_id}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_the_server_keeps_serving() {
    let sink = Sink::start().await;
    let mut limits = Limits::default();
    limits.max_body = 1024;
    let s = start_with(limits, Default::default()).await;
    let dest = format!("{}/ok/never", sink.url);
    type Case<'a> = (Vec<(&'a str, &'a str)>, String, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("Upstash-Delay", "10x")],
            "b".into(),
            400,
            "Upstash-Delay",
        ),
        (
            vec![("Upstash-Retries", "11")],
            "b".into(),
            400,
            "Upstash-Retries",
        ),
        (
            vec![("Upstash-Retries", "-1")],
            "b".into(),
            400,
            "Upstash-Retries",
        ),
        (
            vec![("Upstash-Delay", "366d")],
            "b".into(),
            400,
            "Upstash-Delay",
        ),
        (
            vec![("Upstash-Not-Before", "99999999999")],
            "b".into(),
            400,
            "Upstash-Not-Before",
        ),
        (
            vec![("Upstash-Retry-Delay", "2 ^ retried")],
            "b".into(),
            400,
            "pow(x, y)",
        ),
        (
            vec![("Upstash-Timeout", "soon")],
            "b".into(),
            400,
            "Upstash-Timeout",
        ),
        (
            vec![("Upstash-Callback", "not a url")],
            "b".into(),
            400,
            "Upstash-Callback",
        ),
        (
            vec![("Upstash-Flow-Control-Key", "k")],
            "b".into(),
            400,
            "Upstash-Flow-Control",
        ),
        (vec![], "x".repeat(2000), 413, "1024"),
    ];
    for (headers, body, status, needle) in cases {
        let mut req = s.post(&format!("/v2/publish/{dest}")).body(body);
        for (n, v) in &headers {
            req = req.header(*n, *v);
        }
        let (got, msg) = error_of(req.send().await.unwrap()).await;
        assert_eq!(got, status, "{headers:?}: {msg}");
        assert!(
            msg.contains(needle),
            "{headers:?}: {msg:?} should name {needle}"
        );
    }
    // not a URL at all
    let (got, _) = error_of(
        s.post("/v2/publish/nothing:at-all")
            .body("x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, 400);
    // a name is a URL group's (SERVER.md §14): an unknown one is a 404
    let (got, msg) = error_of(
        s.post("/v2/publish/nothing")
            .body("x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, 404);
    assert!(msg.contains("URL group nothing"), "{msg}");
    // batches: not JSON, not an array, too big
    for body in ["{", "{}", "[{\"body\": \"no destination\"}]"] {
        let (got, msg) = error_of(s.post("/v2/batch").body(body).send().await.unwrap()).await;
        assert_eq!(got, 400, "{body}: {msg}");
    }
    // bad queries
    let (got, msg) = error_of(s.get("/v2/events?count=many").send().await.unwrap()).await;
    assert_eq!(got, 400);
    assert!(msg.contains("count"), "{msg}");
    let (got, _) = error_of(s.get("/v2/dlq?cursor=x").send().await.unwrap()).await;
    assert_eq!(got, 400);
    let (got, _) = error_of(s.get("/v2/nothing").send().await.unwrap()).await;
    assert_eq!(got, 404);

    // nothing of that was accepted, and the server still delivers
    let ok = s
        .publish(&format!("{}/ok/after", sink.url), &[], "fine")
        .await;
    s.wait_event(&ok, "DELIVERED", WAIT).await;
    assert!(sink.to("/ok/never").is_empty());
}

#[tokio::test]
async fn a_cursor_walk_sees_every_event_once_while_new_ones_arrive() {
    let sink = Sink::start().await;
    let s = start().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            s.publish(
                &format!("{}/ok/e{i}", sink.url),
                &[("Upstash-Delay", "1h")],
                "x",
            )
            .await,
        );
    }
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v2/events?count=2&cursor={c}"),
            None => "/v2/events?count=2".to_owned(),
        };
        let v: Value = s.get(&path).send().await.unwrap().json().await.unwrap();
        for e in v["events"].as_array().unwrap() {
            let key = (
                e["messageId"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            );
            assert!(seen.insert(key.clone()), "seen twice: {key:?}");
        }
        // new events arrive during the walk
        s.publish(
            &format!("{}/ok/new", sink.url),
            &[("Upstash-Delay", "1h")],
            "x",
        )
        .await;
        pages += 1;
        match v["cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
            _ => break,
        }
        assert!(pages < 50);
    }
    for id in &ids {
        assert!(
            seen.contains(&(id.clone(), "CREATED".to_owned())),
            "{id} missing"
        );
    }
    // newest first
    let v: Value = s
        .get("/v2/events?count=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let times: Vec<u64> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[tokio::test]
async fn keys_rotate_and_deliveries_use_the_new_current_key() {
    let sink = Sink::start().await;
    let s = start().await;
    let k: Value = s
        .get("/v2/keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["current"], CURRENT_KEY);
    assert_eq!(k["next"], NEXT_KEY);
    let k: Value = s
        .post("/v2/keys/rotate")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["current"], NEXT_KEY);
    let new_next = k["next"].as_str().unwrap().to_owned();
    assert!(new_next.starts_with("sig_") && new_next != CURRENT_KEY);
    let dest = format!("{}/ok/rotated", sink.url);
    s.publish(&dest, &[], "x").await;
    let got = sink.wait_for("/ok/rotated", 1, WAIT).await;
    let sig = got[0].header("upstash-signature").unwrap();
    Receiver::new(NEXT_KEY, &new_next)
        .verify(sig, b"x", Some(&dest))
        .expect("signed with the new current key");
    assert!(
        Receiver::new(CURRENT_KEY, CURRENT_KEY)
            .verify(sig, b"x", Some(&dest))
            .is_err()
    );
}

#[tokio::test]
async fn a_message_can_be_read_back() {
    let sink = Sink::start().await;
    let s = start().await;
    let dest = format!("{}/ok/read", sink.url);
    let id = s
        .publish(
            &dest,
            &[
                // Ten days: the SDKs' own examples use it, and the default limit is a year.
                ("Upstash-Delay", "10d"),
                ("Upstash-Retries", "4"),
                ("Upstash-Forward-X-A", "1"),
            ],
            "hello",
        )
        .await;
    let m: Value = s
        .get(&format!("/v2/messages/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["messageId"], id.as_str());
    assert_eq!(m["url"], dest.as_str());
    assert_eq!(m["body"], "hello");
    assert_eq!(m["maxRetries"], 4);
    let r = s.get("/v2/messages/msg_nope").send().await.unwrap();
    assert_eq!(error_of(r).await.0, 404);
}

/// The value of a sample line `name value` in a Prometheus text exposition.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
}

#[tokio::test]
async fn metrics_count_accepts_and_outcomes() {
    let s = start().await;
    let sink = Sink::start().await;
    let metrics = || async {
        let r = s
            .http
            .get(format!("{}/metrics", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "/metrics needs no token");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        r.text().await.unwrap()
    };
    let before = metrics().await;
    assert_eq!(sample(&before, "qstash_messages_accepted_total"), 0.0);
    assert_eq!(sample(&before, "qstash_due_backlog"), 0.0);

    s.publish(&format!("{}/ok/m", sink.url), &[], "a").await;
    s.publish(&format!("{}/ok/m", sink.url), &[], "b").await;
    s.publish(
        &format!("{}/nonretryable/m", sink.url),
        &[("Upstash-Retries", "0")],
        "c",
    )
    .await;
    // Delayed: accepted but not due, so not backlog.
    s.publish(
        &format!("{}/ok/later", sink.url),
        &[("Upstash-Delay", "1h")],
        "d",
    )
    .await;
    sink.wait_for("/ok/m", 2, WAIT).await;
    sink.wait_for("/nonretryable/m", 1, WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    let text = loop {
        let text = metrics().await;
        if sample(&text, "qstash_messages_dead_lettered_total") == 1.0
            && sample(&text, "qstash_deliveries_delivered_total") == 2.0
            && sample(&text, "qstash_deliveries_in_flight") == 0.0
        {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(sample(&text, "qstash_messages_accepted_total"), 4.0);
    assert_eq!(sample(&text, "qstash_deliveries_failed_total"), 1.0);
    assert_eq!(sample(&text, "qstash_deliveries_retried_total"), 0.0);
    assert_eq!(sample(&text, "qstash_due_backlog"), 0.0);
    assert_eq!(sample(&text, "qstash_attempt_duration_seconds_count"), 3.0);
    assert_eq!(sample(&text, "qstash_delivery_latency_seconds_count"), 2.0);
}

#[tokio::test]
async fn a_rotation_through_one_server_reaches_another_sharing_the_store() {
    use std::sync::Arc;
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn qstash_store::Store> =
        Arc::new(qstash_store::sqlite::SqliteStore::open(dir.path().join("shared.db")).unwrap());
    let mut delivery = qstash_server::DeliveryConfig::default();
    delivery.keys_refresh = Duration::from_millis(50);
    // No signing-key configuration: both sign with the store's keys.
    let start = || async {
        qstash_server::Server::builder(store.clone())
            .token(TOKEN)
            .unwrap()
            .delivery(delivery)
            .start()
            .await
            .unwrap()
    };
    let a = start().await;
    let b = start().await;
    let http = http_client();
    let keys = |url: String| {
        let http = http.clone();
        async move {
            http.get(format!("{url}/v2/keys"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let before = keys(b.url()).await;
    assert_eq!(before, keys(a.url()).await, "one pair for the whole store");
    let rotated: Value = http
        .post(format!("{}/v2/keys/rotate", a.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rotated["current"], before["next"]);
    assert_eq!(
        keys(b.url()).await,
        rotated,
        "the other server reads the store"
    );

    // Only B delivers from now on; it must sign with the new current key.
    a.shutdown().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let dest = format!("{}/ok/after-rotation", sink.url);
    let r = http
        .post(format!("{}/v2/publish/{dest}", b.url()))
        .bearer_auth(TOKEN)
        .body("y")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let got = sink.wait_for("/ok/after-rotation", 1, WAIT).await;
    let sig = got[0].header("upstash-signature").unwrap();
    let current = rotated["current"].as_str().unwrap();
    Receiver::new(current, current)
        .verify(sig, b"y", Some(&dest))
        .expect("signed with the rotated current key");
    b.shutdown().await;
}

#[tokio::test]
async fn metrics_show_each_flow_control_key() {
    let s = start().await;
    let sink = Sink::start().await;
    // Never answers: the key's one place stays taken, so the second message waits.
    for body in ["1", "2"] {
        s.publish(
            &format!("{}/slow/fc", sink.url),
            &[
                ("Upstash-Flow-Control-Key", "fc-key"),
                ("Upstash-Flow-Control-Value", "parallelism=1"),
            ],
            body,
        )
        .await;
    }
    sink.wait_for("/slow/fc", 1, WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = s
            .http
            .get(format!("{}/metrics", s.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = |family: &str| {
            text.lines()
                .find(|l| l.starts_with(family) && l.contains(r#"key="fc-key""#))
                .map(|l| l.rsplit(' ').next().unwrap().to_owned())
        };
        if line("qstash_flow_control_in_flight").as_deref() == Some("1")
            && line("qstash_flow_control_waiting").as_deref() == Some("1")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
