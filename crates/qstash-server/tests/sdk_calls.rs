//! The answers the official SDKs read (`SERVER.md` §15): message and dead-letter bodies,
//! list filters, DLQ retries and bulk cancels, over real HTTP with two tenants.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

fn other(s: &TestServer, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    s.http
        .request(method, format!("{}{path}", s.url))
        .bearer_auth(OTHER_TOKEN)
}

#[tokio::test]
async fn a_message_shows_its_forwarded_headers_not_before_and_flow_control() {
    let sink = Sink::start().await;
    let s = start().await;
    let dest = format!("{}/ok/shape", sink.url);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let not_before = now + 30 * 86_400;
    let id = s
        .publish(
            &dest,
            &[
                ("Upstash-Not-Before", &not_before.to_string()),
                ("Upstash-Forward-X-Test", "a"),
                ("Content-Type", "text/plain"),
                ("Upstash-Retries", "2"),
                ("Upstash-Flow-Control-Key", "fk"),
                (
                    "Upstash-Flow-Control-Value",
                    "parallelism=3, rate=7, period=1m",
                ),
            ],
            "hello",
        )
        .await;
    let (status, m) = json_of(s.get(&format!("/v2/messages/{id}")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(
        m["header"],
        json!({"Content-Type": ["text/plain"], "X-Test": ["a"]}),
        "forwarded names, no control headers: {m}"
    );
    assert_eq!(m["notBefore"], not_before * 1000);
    assert_eq!(m["flowControlKey"], "fk");
    assert_eq!(m["parallelism"], 3);
    assert_eq!(m["rate"], 7);
    assert_eq!(m["period"], 60);
    assert_eq!(m["maxRetries"], 2);

    // Another tenant neither reads nor cancels it.
    let r = other(&s, reqwest::Method::DELETE, &format!("/v2/messages/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let (status, body) = json_of(
        s.delete(&format!("/v2/messages/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (200, json!({"cancelled": 1})));
}

#[tokio::test]
async fn a_dead_letter_shows_its_forwarded_headers_and_flow_control() {
    let sink = Sink::start().await;
    let s = start().await;
    let id = s
        .publish(
            &format!("{}/fail/shape", sink.url),
            &[
                ("Upstash-Retries", "0"),
                ("Upstash-Forward-X-Test", "b"),
                ("Upstash-Flow-Control-Key", "dk"),
                ("Upstash-Flow-Control-Value", "parallelism=2"),
            ],
            "x",
        )
        .await;
    s.wait_event(&id, "FAILED", WAIT).await;
    let (_, dlq) = json_of(s.get("/v2/dlq").send().await.unwrap()).await;
    let entry = &dlq["messages"][0];
    assert_eq!(entry["messageId"], id.as_str(), "{dlq}");
    assert_eq!(entry["header"], json!({"X-Test": ["b"]}), "{entry}");
    assert_eq!(entry["flowControlKey"], "dk");
    assert_eq!(entry["parallelism"], 2);
    assert!(entry.get("rate").is_none(), "{entry}");
}
