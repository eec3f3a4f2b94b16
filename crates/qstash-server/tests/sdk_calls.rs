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

/// Publishes a message that fails at once (no retry) and waits for its dead letter.
async fn dead_letter(s: &TestServer, sink: &Sink, path: &str, label: &str) -> (String, String) {
    let id = s
        .publish(
            &format!("{}/fail/{path}", sink.url),
            &[("Upstash-Retries", "0"), ("Upstash-Label", label)],
            "x",
        )
        .await;
    s.wait_event(&id, "FAILED", WAIT).await;
    let (_, dlq) = json_of(
        s.get(&format!("/v2/dlq?messageIds={id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let dlq_id = dlq["messages"][0]["dlqId"]
        .as_str()
        .unwrap_or_else(|| panic!("no dead letter for {id}: {dlq}"))
        .to_owned();
    (id, dlq_id)
}

fn ids_of(list: &Value, key: &str, field: &str) -> Vec<String> {
    let mut ids: Vec<String> = list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {list}"))
        .iter()
        .map(|m| m[field].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn list_filters_take_repeated_keys_and_unknown_parameters_are_refused() {
    let sink = Sink::start().await;
    let s = start().await;
    let (a, dlq_a) = dead_letter(&s, &sink, "a", "red").await;
    let (b, dlq_b) = dead_letter(&s, &sink, "b", "blue").await;
    let (_c, _) = dead_letter(&s, &sink, "c", "green").await;

    // DLQ: repeated labels, repeated dlqIds, messageIds, dates.
    let (_, l) = json_of(s.get("/v2/dlq?label=red&label=blue").send().await.unwrap()).await;
    assert_eq!(
        ids_of(&l, "messages", "messageId"),
        sorted(vec![a.clone(), b.clone()])
    );
    let (_, l) = json_of(
        s.get(&format!("/v2/dlq?dlqIds={dlq_a}&dlqIds={dlq_b}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        ids_of(&l, "messages", "dlqId"),
        sorted(vec![dlq_a.clone(), dlq_b.clone()])
    );
    let (_, l) = json_of(s.get("/v2/dlq?fromDate=1&toDate=2").send().await.unwrap()).await;
    assert_eq!(ids_of(&l, "messages", "dlqId"), Vec::<String>::new());
    let (_, l) = json_of(s.get("/v2/dlq?responseStatus=500").send().await.unwrap()).await;
    assert_eq!(l["messages"].as_array().unwrap().len(), 3, "{l}");

    // Events: repeated labels and message ids, a state, dates.
    let (_, e) = json_of(
        s.get(&format!(
            "/v2/events?messageIds={a}&messageIds={b}&state=FAILED"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        ids_of(&e, "events", "messageId"),
        sorted(vec![a.clone(), b.clone()])
    );
    let (_, e) = json_of(
        s.get("/v2/events?label=red&label=green&state=CREATED")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(e["events"].as_array().unwrap().len(), 2, "{e}");
    let (_, e) = json_of(s.get("/v2/events?toDate=1").send().await.unwrap()).await;
    assert_eq!(e["events"].as_array().unwrap().len(), 0, "{e}");

    // Another tenant sees none of it.
    let (_, l) = json_of(
        other(&s, reqwest::Method::GET, "/v2/dlq?label=red")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(l["messages"].as_array().unwrap().len(), 0, "{l}");

    // A parameter the server does not know, or does not apply, is a 400 naming it.
    for (path, name) in [
        ("/v2/events?bogus=1", "bogus"),
        ("/v2/dlq?callerIp=1.2.3.4", "callerIp"),
        ("/v2/dlq?state=FAILED", "state"),
        ("/v2/logs?queueName=q", "queueName"),
    ] {
        let (status, body) = json_of(s.get(path).send().await.unwrap()).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(name),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn dlq_retry_by_ids_removes_the_entries_and_honours_overrides() {
    let sink = Sink::start().await;
    let s = start().await;
    let (_, dlq_a) = dead_letter(&s, &sink, "ra", "r").await;
    let (_, dlq_b) = dead_letter(&s, &sink, "rb", "r").await;

    // Another tenant can retry none of them, and nothing changes.
    let r = other(
        &s,
        reqwest::Method::POST,
        &format!("/v2/dlq/retry?dlqIds={dlq_a}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // One unknown id: nothing is retried.
    let r = s
        .post(&format!("/v2/dlq/retry?dlqIds={dlq_a}&dlqIds=dlq_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let (_, l) = json_of(s.get("/v2/dlq").send().await.unwrap()).await;
    assert_eq!(l["messages"].as_array().unwrap().len(), 2, "{l}");

    let (status, body) = json_of(
        s.post(&format!("/v2/dlq/retry?dlqIds={dlq_a}&dlqIds={dlq_b}"))
            .header("Upstash-Retries", "3")
            .header("Upstash-Delay", "1h")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new_ids: Vec<String> = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messageId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new_ids.len(), 2, "{body}");
    for id in &new_ids {
        let (_, m) = json_of(s.get(&format!("/v2/messages/{id}")).send().await.unwrap()).await;
        assert_eq!(m["maxRetries"], 3, "{m}");
    }
    let (_, l) = json_of(s.get("/v2/dlq").send().await.unwrap()).await;
    assert_eq!(l["messages"].as_array().unwrap().len(), 0, "{l}");

    // The path form removes its entry too.
    let (_, dlq_c) = dead_letter(&s, &sink, "rc", "r").await;
    let (status, body) = json_of(
        s.post(&format!("/v2/dlq/retry/{dlq_c}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["messageId"].is_string(), "{body}");
    let r = s.get(&format!("/v2/dlq/{dlq_c}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn dlq_delete_by_filter_and_all() {
    let sink = Sink::start().await;
    let s = start().await;
    dead_letter(&s, &sink, "da", "keep").await;
    dead_letter(&s, &sink, "db", "drop").await;
    let (status, body) = json_of(
        s.delete("/v2/dlq?label=drop&count=100")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["deleted"].clone()), (200, json!(1)), "{body}");
    let (status, body) = json_of(s.delete("/v2/dlq").send().await.unwrap()).await;
    assert_eq!(status, 400, "a bare delete names nothing: {body}");
    let (_, body) = json_of(s.delete("/v2/dlq?count=100").send().await.unwrap()).await;
    assert_eq!(body["deleted"], 1, "{body}");
}

#[tokio::test]
async fn bulk_cancel_by_ids_filters_body_and_all_never_touches_another_tenant() {
    let sink = Sink::start().await;
    let s = start().await;
    let dest = format!("{}/ok/later", sink.url);
    let delayed = |label: &'static str| {
        let s = &s;
        let dest = dest.clone();
        async move {
            s.publish(
                &dest,
                &[("Upstash-Delay", "1h"), ("Upstash-Label", label)],
                "x",
            )
            .await
        }
    };
    let a = delayed("x").await;
    let b = delayed("x").await;
    let c = delayed("y").await;
    let d = delayed("z").await;
    let e = delayed("z").await;
    // Another tenant's message.
    let theirs: Value = other(&s, reqwest::Method::POST, &format!("/v2/publish/{dest}"))
        .header("Upstash-Delay", "1h")
        .body("x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let theirs = theirs["messageId"].as_str().unwrap().to_owned();

    let cancelled = |r: (u16, Value)| {
        assert_eq!(r.0, 200, "{}", r.1);
        r.1["cancelled"].as_u64().unwrap()
    };
    let r = json_of(
        s.delete(&format!("/v2/messages?messageIds={a}&messageIds={theirs}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(cancelled(r), 1);
    let r = json_of(
        s.delete("/v2/messages")
            .json(&json!({"messageIds": [b]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(cancelled(r), 1);
    let r = json_of(s.delete("/v2/messages?label=y").send().await.unwrap()).await;
    assert_eq!(cancelled(r), 1);
    let (status, body) = json_of(s.delete("/v2/messages").send().await.unwrap()).await;
    assert_eq!(status, 400, "a bare cancel names nothing: {body}");
    let r = json_of(s.delete("/v2/messages?count=100").send().await.unwrap()).await;
    assert_eq!(cancelled(r), 2);
    for id in [&a, &b, &c, &d, &e] {
        s.wait_event(id, "CANCELLED", WAIT).await;
    }
    // The other tenant's message is still pending.
    let (_, events) = json_of(
        other(
            &s,
            reqwest::Method::GET,
            &format!("/v2/events?messageId={theirs}&state=CANCELLED"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 0, "{events}");
}
