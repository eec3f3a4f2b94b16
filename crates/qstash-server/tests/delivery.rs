//! Delivery end to end: a real server on a SQLite file delivering to a loopback destination.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use qstash_signature::Receiver;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn delivers_body_headers_and_a_valid_signature() {
    let sink = Sink::start().await;
    let s = start().await;
    let dest = format!("{}/ok/path?q=1&r=%20x", sink.url);
    let id = s
        .publish(
            &dest,
            &[
                ("Content-Type", "application/json"),
                ("Upstash-Method", "PUT"),
                ("Upstash-Forward-X-Trace", "abc"),
                ("Upstash-Forward-X-Multi", "1"),
                ("Upstash-Forward-Host", "evil.example"),
                ("Upstash-Forward-Upstash-Signature", "forged"),
                ("Upstash-Label", "billing"),
            ],
            r#"{"n":1}"#,
        )
        .await;
    assert!(id.starts_with("msg_"), "{id}");
    let got = sink.wait_for("/ok/path", 1, WAIT).await;
    let r = &got[0];
    assert_eq!(r.method, "PUT");
    assert_eq!(r.target, "/ok/path?q=1&r=%20x");
    assert_eq!(&r.body[..], br#"{"n":1}"#);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-trace"), Some("abc"));
    assert_eq!(r.header("x-multi"), Some("1"));
    assert_ne!(r.header("host"), Some("evil.example"));
    assert_eq!(r.header("upstash-message-id"), Some(id.as_str()));
    assert_eq!(r.header("upstash-retried"), Some("0"));
    assert_eq!(r.header("user-agent"), Some("Upstash-QStash"));
    let sig = r.header("upstash-signature").expect("signed");
    assert_ne!(sig, "forged");
    let receiver = Receiver::new(CURRENT_KEY, NEXT_KEY);
    receiver
        .verify(sig, &r.body, Some(&dest))
        .expect("the signature verifies with the current key");

    let e = s.wait_event(&id, "DELIVERED", WAIT).await;
    assert_eq!(e["url"], dest.as_str());
    assert_eq!(e["responseStatus"], 200);
}

#[tokio::test]
async fn retries_then_dead_letters_and_calls_back() {
    let sink = Sink::start().await;
    let s = start().await;
    let dest = format!("{}/fail/a", sink.url);
    let id = s
        .publish(
            &dest,
            &[
                ("Upstash-Retries", "2"),
                ("Upstash-Retry-Delay", "50"),
                ("Upstash-Callback", &format!("{}/ok/cb", sink.url)),
                (
                    "Upstash-Failure-Callback",
                    &format!("{}/ok/failed", sink.url),
                ),
                ("Upstash-Failure-Callback-Forward-X-Src", "checkout"),
                ("Upstash-Label", "pay"),
            ],
            "payload",
        )
        .await;
    let attempts = sink.wait_for("/fail/a", 3, WAIT).await;
    let retried: Vec<_> = attempts
        .iter()
        .map(|r| r.header("upstash-retried").unwrap().to_owned())
        .collect();
    assert_eq!(retried, ["0", "1", "2"]);
    assert!(
        attempts
            .iter()
            .all(|r| r.header("upstash-message-id") == Some(id.as_str()))
    );
    // the retry delay of 50 ms is respected
    assert!(attempts[1].at - attempts[0].at >= Duration::from_millis(45));

    let failed = sink.wait_for("/ok/failed", 1, WAIT).await;
    assert_eq!(failed.len(), 1, "the failure callback is called once");
    let fc = &failed[0];
    assert_eq!(fc.header("x-src"), Some("checkout"));
    assert_eq!(fc.header("content-type"), Some("application/json"));
    Receiver::new(CURRENT_KEY, NEXT_KEY)
        .verify(
            fc.header("upstash-signature").unwrap(),
            &fc.body,
            Some(&format!("{}/ok/failed", sink.url)),
        )
        .expect("callbacks are signed");
    let body: Value = serde_json::from_slice(&fc.body).unwrap();
    assert_eq!(body["status"], 500);
    assert_eq!(body["retried"], 2);
    assert_eq!(body["maxRetries"], 2);
    assert_eq!(body["sourceMessageId"], id.as_str());
    assert_eq!(body["url"], dest.as_str());
    assert_eq!(body["method"], "POST");
    assert_eq!(body["sourceBody"], STANDARD.encode("payload"));
    assert_eq!(body["body"], STANDARD.encode("broken"));
    let dlq_id = body["dlqId"].as_str().expect("dlqId").to_owned();

    // a callback after every attempt
    let cbs = sink.wait_for("/ok/cb", 3, WAIT).await;
    let statuses: Vec<i64> = cbs
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["status"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(statuses, [500, 500, 500]);

    s.wait_event(&id, "FAILED", WAIT).await;
    // the dead letter, with the failure callback's outcome once it is known
    let deadline = Instant::now() + WAIT;
    loop {
        let d: Value = s
            .get(&format!("/v2/dlq/{dlq_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["messageId"], id.as_str());
        assert_eq!(d["url"], dest.as_str());
        assert_eq!(d["responseStatus"], 500);
        assert_eq!(d["responseBody"], "broken");
        assert_eq!(d["body"], "payload");
        if d["failureCallbackState"] == "CALLBACK_SUCCESS" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "failure callback state never set: {d}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let list: Value = s
        .get("/v2/dlq?label=pay")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["messages"].as_array().unwrap().len(), 1);
    let list: Value = s
        .get("/v2/dlq?label=other")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["messages"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn non_retryable_error_fails_at_once() {
    let sink = Sink::start().await;
    let s = start().await;
    let id = s
        .publish(
            &format!("{}/nonretryable", sink.url),
            &[("Upstash-Retries", "3"), ("Upstash-Retry-Delay", "10")],
            "x",
        )
        .await;
    s.wait_event(&id, "FAILED", WAIT).await;
    assert_eq!(sink.to("/nonretryable").len(), 1);
}

#[tokio::test]
async fn a_failed_attempt_is_retried_and_then_delivered() {
    let sink = Sink::start().await;
    let s = start().await;
    let id = s
        .publish(
            &format!("{}/flaky", sink.url),
            &[("Upstash-Retry-Delay", "10")],
            "x",
        )
        .await;
    let e = s.wait_event(&id, "DELIVERED", WAIT).await;
    assert_eq!(e["responseStatus"], 200);
    let retry = s.wait_event(&id, "RETRY", WAIT).await;
    assert_eq!(retry["responseStatus"], 500);
    assert!(retry["nextDeliveryTime"].as_u64().is_some());
    assert_eq!(sink.to("/flaky").len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let sink = Sink::start().await;
    let s = start().await;
    s.publish(
        &format!("{}/retry-after", sink.url),
        &[("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "0")],
        "x",
    )
    .await;
    let got = sink.wait_for("/retry-after", 2, WAIT).await;
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(950),
        "{:?}",
        got[1].at - got[0].at
    );
}

#[tokio::test]
async fn delay_and_not_before_hold_a_message_back() {
    let sink = Sink::start().await;
    let s = start().await;
    let t0 = Instant::now();
    s.publish(
        &format!("{}/ok/delayed", sink.url),
        &[("Upstash-Delay", "1s")],
        "x",
    )
    .await;
    let got = sink.wait_for("/ok/delayed", 1, WAIT).await;
    assert!(
        got[0].at - t0 >= Duration::from_millis(990),
        "{:?}",
        got[0].at - t0
    );

    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let t0 = Instant::now();
    s.publish(
        &format!("{}/ok/nb", sink.url),
        // not-before wins over the delay
        &[
            ("Upstash-Not-Before", &secs.to_string()),
            ("Upstash-Delay", "0s"),
        ],
        "x",
    )
    .await;
    let got = sink.wait_for("/ok/nb", 1, WAIT).await;
    assert!(
        got[0].at - t0 >= Duration::from_millis(900),
        "{:?}",
        got[0].at - t0
    );
}

#[tokio::test]
async fn a_slow_destination_times_out_and_others_flow() {
    let sink = Sink::start().await;
    let s = start().await;
    let id = s
        .publish(
            &format!("{}/slow", sink.url),
            &[("Upstash-Timeout", "200ms"), ("Upstash-Retries", "0")],
            "x",
        )
        .await;
    let t0 = Instant::now();
    // other deliveries are not held up
    let ok = s.publish(&format!("{}/ok/other", sink.url), &[], "y").await;
    s.wait_event(&ok, "DELIVERED", WAIT).await;
    let e = s.wait_event(&id, "FAILED", WAIT).await;
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(e["error"].as_str().unwrap().contains("timeout"), "{e}");
}

#[tokio::test]
async fn a_refused_connection_is_a_failed_attempt() {
    let sink = Sink::start().await;
    let s = start().await;
    // a port nobody listens on
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let id = s
        .publish(
            &format!("http://{addr}/x"),
            &[
                ("Upstash-Retries", "0"),
                ("Upstash-Failure-Callback", &format!("{}/ok/f", sink.url)),
            ],
            "x",
        )
        .await;
    let e = s.wait_event(&id, "FAILED", WAIT).await;
    assert!(e["responseStatus"].is_null(), "{e}");
    let fc = sink.wait_for("/ok/f", 1, WAIT).await;
    let body: Value = serde_json::from_slice(&fc[0].body).unwrap();
    assert_eq!(body["status"], 0);
    let text = STANDARD.decode(body["body"].as_str().unwrap()).unwrap();
    assert!(
        String::from_utf8_lossy(&text).contains("connect"),
        "{}",
        String::from_utf8_lossy(&text)
    );
}

#[tokio::test]
async fn only_the_first_64_kib_of_a_response_are_kept() {
    let sink = Sink::start().await;
    let s = start().await;
    s.publish(
        &format!("{}/huge", sink.url),
        &[("Upstash-Callback", &format!("{}/ok/cb", sink.url))],
        "x",
    )
    .await;
    let cb = sink.wait_for("/ok/cb", 1, WAIT).await;
    let body: Value = serde_json::from_slice(&cb[0].body).unwrap();
    let kept = STANDARD.decode(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(kept.len(), 64 * 1024);
}

#[tokio::test]
async fn a_cancelled_message_is_never_delivered() {
    let sink = Sink::start().await;
    let s = start().await;
    let id = s
        .publish(
            &format!("{}/ok/c", sink.url),
            &[("Upstash-Delay", "1s")],
            "x",
        )
        .await;
    let r = s
        .delete(&format!("/v2/messages/{id}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    s.wait_event(&id, "CANCELLED", WAIT).await;
    // a marker published after it, due after it, arrives: by then the cancelled one would have
    let marker = s
        .publish(
            &format!("{}/ok/marker", sink.url),
            &[("Upstash-Delay", "1500ms")],
            "m",
        )
        .await;
    s.wait_event(&marker, "DELIVERED", WAIT).await;
    assert!(sink.to("/ok/c").is_empty());
    let r = s.delete("/v2/messages/msg_unknown").send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn deduplication_by_id_and_by_content() {
    let sink = Sink::start().await;
    let s = start().await;
    let dest = format!("{}/ok/d", sink.url);
    let send = |headers: Vec<(&'static str, &'static str)>, token: &'static str| {
        let mut req = s
            .http
            .post(format!("{}/v2/publish/{dest}", s.url))
            .bearer_auth(token)
            .body("same");
        for (n, v) in headers {
            req = req.header(n, v);
        }
        req.send()
    };
    let a = send(vec![("Upstash-Deduplication-Id", "k1")], TOKEN)
        .await
        .unwrap();
    assert_eq!(a.status(), 201);
    let a: Value = a.json().await.unwrap();
    let b = send(vec![("Upstash-Deduplication-Id", "k1")], TOKEN)
        .await
        .unwrap();
    assert_eq!(b.status(), 202);
    let b: Value = b.json().await.unwrap();
    assert_eq!(a["messageId"], b["messageId"]);
    // another tenant's id space is its own
    let c = send(vec![("Upstash-Deduplication-Id", "k1")], OTHER_TOKEN)
        .await
        .unwrap();
    assert_eq!(c.status(), 201);

    let x = send(vec![("Upstash-Content-Based-Deduplication", "true")], TOKEN)
        .await
        .unwrap();
    assert_eq!(x.status(), 201);
    let y = send(vec![("Upstash-Content-Based-Deduplication", "true")], TOKEN)
        .await
        .unwrap();
    assert_eq!(y.status(), 202);
}

#[tokio::test]
async fn a_batch_is_accepted_whole_and_delivered() {
    let sink = Sink::start().await;
    let s = start().await;
    let body = serde_json::json!([
        {"destination": format!("{}/ok/b1", sink.url), "body": "one"},
        {"destination": format!("{}/ok/b2", sink.url), "headers": {"Upstash-Forward-X-N": "2"}, "body": "two"},
        {"destination": format!("{}/ok/b3", sink.url)},
    ]);
    let r = s.post("/v2/batch").json(&body).send().await.unwrap();
    assert!(r.status().is_success());
    let ids: Value = r.json().await.unwrap();
    assert_eq!(ids.as_array().unwrap().len(), 3);
    let b2 = sink.wait_for("/ok/b2", 1, WAIT).await;
    assert_eq!(b2[0].header("x-n"), Some("2"));
    assert_eq!(&b2[0].body[..], b"two");
    sink.wait_for("/ok/b1", 1, WAIT).await;
    sink.wait_for("/ok/b3", 1, WAIT).await;

    // a bad entry refuses the whole batch, naming the entry
    let bad = serde_json::json!([
        {"destination": format!("{}/ok/never", sink.url), "body": "one"},
        {"destination": format!("{}/ok/never", sink.url), "headers": {"Upstash-Delay": "soon"}},
    ]);
    let r = s.post("/v2/batch").json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains('1'), "{e}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sink.to("/ok/never").is_empty());
}

#[tokio::test]
async fn dlq_retry_makes_a_new_message_and_removes_the_entry_and_delete_removes_entries() {
    let sink = Sink::start().await;
    let s = start().await;
    let id = s
        .publish(
            &format!("{}/fail/r", sink.url),
            &[("Upstash-Retries", "0")],
            "again",
        )
        .await;
    s.wait_event(&id, "FAILED", WAIT).await;
    let list: Value = s.get("/v2/dlq").send().await.unwrap().json().await.unwrap();
    let entry = &list["messages"][0];
    let dlq_id = entry["dlqId"].as_str().unwrap().to_owned();
    let r: Value = s
        .post(&format!("/v2/dlq/retry/{dlq_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_id = r["messageId"].as_str().unwrap();
    assert_ne!(new_id, id);
    let got = sink.wait_for("/fail/r", 2, WAIT).await;
    assert_eq!(got[1].header("upstash-message-id"), Some(new_id));
    assert_eq!(&got[1].body[..], b"again");

    // The retry took the entry out of the DLQ (SERVER.md §15).
    let r = s.get(&format!("/v2/dlq/{dlq_id}")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // A dead letter deleted is gone too.
    let other = s
        .publish(
            &format!("{}/fail/d", sink.url),
            &[("Upstash-Retries", "0")],
            "gone",
        )
        .await;
    s.wait_event(&other, "FAILED", WAIT).await;
    let list: Value = s.get("/v2/dlq").send().await.unwrap().json().await.unwrap();
    let dlq_id = list["messages"][0]["dlqId"].as_str().unwrap().to_owned();
    let r = s.delete(&format!("/v2/dlq/{dlq_id}")).send().await.unwrap();
    assert!(r.status().is_success());
    let r = s.get(&format!("/v2/dlq/{dlq_id}")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
