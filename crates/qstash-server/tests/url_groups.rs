//! URL groups over real HTTP: endpoints added and removed, a publish fanned out to every
//! endpoint (independent retries, the failing one in the DLQ with its group), a delay and a
//! callback, bad input, and tenants apart.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

async fn add(s: &TestServer, token: &str, name: &str, endpoints: Value) -> reqwest::StatusCode {
    s.http
        .post(format!("{}/v2/topics/{name}/endpoints", s.url))
        .bearer_auth(token)
        .json(&json!({ "endpoints": endpoints }))
        .send()
        .await
        .unwrap()
        .status()
}

async fn get_json(s: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let r = s
        .http
        .get(format!("{}{path}", s.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_publish_fans_out_and_the_failing_endpoint_dead_letters() {
    let s = start().await;
    let sink = Sink::start().await;
    let urls = [
        format!("{}/ok-a", sink.url),
        format!("{}/ok-b", sink.url),
        format!("{}/fail-c", sink.url),
    ];
    let status = add(
        &s,
        TOKEN,
        "orders",
        json!([{"name": "a", "url": urls[0]}, {"url": urls[1]}, {"name": "c", "url": urls[2]}]),
    )
    .await;
    assert_eq!(status, 200);
    let r = s
        .post("/v2/publish/orders")
        .header("Upstash-Retries", "1")
        .header("Upstash-Retry-Delay", "100")
        .header("Upstash-Forward-X", "y")
        .body("order 7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let answers: Vec<Value> = r.json().await.unwrap();
    assert_eq!(answers.len(), 3);
    let ids: Vec<String> = answers
        .iter()
        .map(|a| a["messageId"].as_str().unwrap().to_owned())
        .collect();
    for (a, url) in answers.iter().zip(&urls) {
        assert_eq!(a["url"], url.as_str());
    }
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        3,
        "each endpoint its own message"
    );
    for (prefix, id) in [("/ok-a", &ids[0]), ("/ok-b", &ids[1])] {
        let got = sink.wait_for(prefix, 1, WAIT).await;
        assert_eq!(got[0].header("Upstash-Message-Id"), Some(id.as_str()));
        assert_eq!(got[0].header("X"), Some("y"));
        assert_eq!(&got[0].body[..], b"order 7");
    }
    // The failing endpoint is retried on its own, then dead-lettered with its group.
    sink.wait_for("/fail-c", 2, WAIT).await;
    s.wait_event(&ids[2], "FAILED", WAIT).await;
    let (_, dlq) = get_json(&s, TOKEN, "/v2/dlq").await;
    let entries = dlq["messages"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{dlq}");
    assert_eq!(entries[0]["messageId"], ids[2].as_str());
    assert_eq!(entries[0]["topicName"], "orders");
    assert_eq!(entries[0]["endpointName"], "c");
    assert_eq!(
        sink.to("/ok-a").len(),
        1,
        "a delivered endpoint is not retried"
    );
    let (_, m) = get_json(&s, TOKEN, &format!("/v2/messages/{}", ids[1])).await;
    assert_eq!(m["topicName"], "orders");
    assert!(m.get("endpointName").is_none(), "{m}");
    let (_, m) = get_json(&s, TOKEN, &format!("/v2/messages/{}", ids[0])).await;
    assert_eq!(m["endpointName"], "a");
}

#[tokio::test]
async fn endpoints_added_and_removed_and_tenants_apart() {
    let s = start().await;
    assert_eq!(
        add(
            &s,
            TOKEN,
            "g1",
            json!([{"url": "https://a.example/"}, {"name": "b", "url": "https://b.example/"}])
        )
        .await,
        200
    );
    assert_eq!(
        add(&s, TOKEN, "g0", json!([{"url": "https://z.example/"}])).await,
        200
    );
    let (status, g) = get_json(&s, TOKEN, "/v2/topics/g1").await;
    assert_eq!(status, 200);
    assert_eq!(g["name"], "g1");
    assert_eq!(
        g["endpoints"],
        json!([{"url": "https://a.example/"}, {"name": "b", "url": "https://b.example/"}])
    );
    assert!(g["createdAt"].as_u64().unwrap() > 0);
    assert!(g["updatedAt"].as_u64().unwrap() >= g["createdAt"].as_u64().unwrap());
    let (_, list) = get_json(&s, TOKEN, "/v2/topics").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["g0", "g1"]);

    // Removal by name and by URL; the emptied group answers a publish with 400.
    let r = s
        .http
        .delete(format!("{}/v2/topics/g1/endpoints", s.url))
        .bearer_auth(TOKEN)
        .json(&json!({"endpoints": [{"name": "b"}, {"url": "https://a.example/"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, g) = get_json(&s, TOKEN, "/v2/topics/g1").await;
    assert_eq!(g["endpoints"], json!([]));
    let r = s.post("/v2/publish/g1").body("x").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = s.post("/v2/publish/nope").body("x").send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Another tenant sees nothing of them and cannot publish to them.
    let (_, list) = get_json(&s, OTHER_TOKEN, "/v2/topics").await;
    assert_eq!(list, json!([]));
    let (status, _) = get_json(&s, OTHER_TOKEN, "/v2/topics/g0").await;
    assert_eq!(status, 404);
    let r = s
        .http
        .post(format!("{}/v2/publish/g0", s.url))
        .bearer_auth(OTHER_TOKEN)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .http
        .delete(format!("{}/v2/topics/g0", s.url))
        .bearer_auth(OTHER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Bad input.
    assert_eq!(
        add(&s, TOKEN, "bad name!", json!([{"url": "https://a/"}])).await,
        400
    );
    assert_eq!(
        add(&s, TOKEN, "g2", json!([{"url": "not a url"}])).await,
        400
    );
    assert_eq!(add(&s, TOKEN, "g2", json!([])).await, 400);
    let (status, _) = get_json(&s, TOKEN, "/v2/topics/g2").await;
    assert_eq!(status, 404, "nothing stored");

    // Delete.
    let r = s.delete("/v2/topics/g0").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = get_json(&s, TOKEN, "/v2/topics/g0").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_publish_to_a_group_with_a_delay_and_a_callback() {
    let s = start().await;
    let sink = Sink::start().await;
    add(
        &s,
        TOKEN,
        "later",
        json!([{"url": format!("{}/ok-1", sink.url)}, {"url": format!("{}/ok-2", sink.url)}]),
    )
    .await;
    let sent = Instant::now();
    let r = s
        .post("/v2/publish/later")
        .header("Upstash-Delay", "2s")
        .header("Upstash-Callback", format!("{}/ok-callback", sink.url))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let answers: Vec<Value> = r.json().await.unwrap();
    assert_eq!(answers.len(), 2);
    let first = sink.wait_for("/ok-1", 1, WAIT).await;
    let second = sink.wait_for("/ok-2", 1, WAIT).await;
    for d in [&first[0], &second[0]] {
        assert!(
            d.at.duration_since(sent) >= Duration::from_millis(1900),
            "delivered after the delay"
        );
    }
    let callbacks = sink.wait_for("/ok-callback", 2, WAIT).await;
    let mut sources: Vec<String> = callbacks
        .iter()
        .map(|c| {
            let v: Value = serde_json::from_slice(&c.body).unwrap();
            v["sourceMessageId"].as_str().unwrap().to_owned()
        })
        .collect();
    sources.sort();
    let mut ids: Vec<String> = answers
        .iter()
        .map(|a| a["messageId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(sources, ids, "one callback per endpoint's message");
}
