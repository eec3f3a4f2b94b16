//! Schedules over real HTTP: create, replace by id, list, get, pause, resume, delete, tenants
//! apart, bad input, and a `* * * * *` schedule firing once on the real clock.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("errors are JSON");
    (
        status,
        body["error"].as_str().expect("an error message").to_owned(),
    )
}

async fn create(s: &TestServer, destination: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut req = s
        .post(&format!("/v2/schedules/{destination}"))
        .body(body.to_owned());
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 201, "create answered {status}: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["scheduleId"].as_str().unwrap().to_owned()
}

fn patch(s: &TestServer, token: &str, path: &str) -> reqwest::RequestBuilder {
    s.http.patch(format!("{}{path}", s.url)).bearer_auth(token)
}

#[tokio::test]
async fn create_replace_get_list_delete_and_tenants_apart() {
    let s = start().await;
    let id = create(
        &s,
        "https://example.com/hook?x=1",
        &[
            ("Upstash-Cron", "*/5 * * * *"),
            ("Upstash-Retries", "2"),
            ("Upstash-Delay", "30s"),
            ("Upstash-Callback", "https://example.com/cb"),
            ("Upstash-Forward-Token", "abc"),
            ("Content-Type", "text/plain"),
        ],
        "hello",
    )
    .await;
    assert!(id.starts_with("scd_"), "a new id: {id}");
    let got: Value = s
        .get(&format!("/v2/schedules/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["scheduleId"], id);
    assert_eq!(got["cron"], "*/5 * * * *");
    assert_eq!(got["destination"], "https://example.com/hook?x=1");
    assert_eq!(got["method"], "POST");
    assert_eq!(got["body"], "hello");
    assert_eq!(got["retries"], 2);
    assert_eq!(got["delay"], 30);
    assert_eq!(got["callback"], "https://example.com/cb");
    assert_eq!(got["isPaused"], false);
    let forwarded = got["header"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Upstash-Forward-Token"))
        .map(|(_, v)| v[0].clone());
    assert_eq!(forwarded, Some(Value::from("abc")), "{got}");
    assert!(got["createdAt"].as_u64().unwrap() > 0);
    let next = got["nextScheduleTime"].as_u64().expect("a next tick");
    assert_eq!(next % 300_000, 0, "on a five-minute boundary");
    assert!(got.get("lastScheduleTime").is_none());

    // Replace by id.
    let same = create(
        &s,
        "https://example.com/other",
        &[
            ("Upstash-Cron", "0 9 * * MON"),
            ("Upstash-Schedule-Id", "weekly"),
        ],
        "",
    )
    .await;
    assert_eq!(same, "weekly");
    let again = create(
        &s,
        "https://example.com/other",
        &[
            ("Upstash-Cron", "CRON_TZ=Europe/Paris 0 9 * * MON"),
            ("Upstash-Schedule-Id", "weekly"),
        ],
        "",
    )
    .await;
    assert_eq!(again, "weekly");
    let list: Vec<Value> = s
        .get("/v2/schedules")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list
        .iter()
        .map(|v| v["scheduleId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), "weekly"]);
    assert_eq!(list[1]["cron"], "CRON_TZ=Europe/Paris 0 9 * * MON");

    // Another tenant sees none of them.
    let other = |req: reqwest::RequestBuilder| req.bearer_auth(OTHER_TOKEN);
    let r = other(s.http.get(format!("{}/v2/schedules", s.url)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 0);
    for r in [
        other(s.http.get(format!("{}/v2/schedules/weekly", s.url))),
        other(s.http.delete(format!("{}/v2/schedules/weekly", s.url))),
        patch(&s, OTHER_TOKEN, "/v2/schedules/weekly/pause"),
        patch(&s, OTHER_TOKEN, "/v2/schedules/weekly/resume"),
    ] {
        assert_eq!(r.send().await.unwrap().status(), 404);
    }
    assert_eq!(
        s.get("/v2/schedules/weekly").send().await.unwrap().status(),
        200,
        "still there for its tenant"
    );

    // Delete.
    let r = s.delete("/v2/schedules/weekly").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        s.get("/v2/schedules/weekly").send().await.unwrap().status(),
        404
    );
    assert_eq!(
        s.delete("/v2/schedules/weekly")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_400_and_nothing_is_stored() {
    let s = start().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[], "Upstash-Cron"),
        (&[("Upstash-Cron", "* * *")], "Upstash-Cron"),
        (&[("Upstash-Cron", "61 * * * *")], "minute"),
        (
            &[("Upstash-Cron", "CRON_TZ=Mars/Olympus * * * * *")],
            "Upstash-Cron",
        ),
        (
            &[("Upstash-Cron", "* * * * *"), ("Upstash-Retries", "99")],
            "Upstash-Retries",
        ),
    ];
    for (headers, named) in cases {
        let mut req = s.post("/v2/schedules/https://example.com/x");
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let (status, message) = error_of(req.send().await.unwrap()).await;
        assert_eq!(status, 400, "{headers:?}: {message}");
        assert!(message.contains(named), "{headers:?}: {message}");
    }
    let (status, message) = error_of(
        s.post("/v2/schedules/https://example.com/x")
            .header("Upstash-Cron", "* * * * *")
            .header("Upstash-Schedule-Id", "a b")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("Upstash-Schedule-Id"), "{message}");
    let list: Vec<Value> = s
        .get("/v2/schedules")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.is_empty(), "nothing stored: {list:?}");
    assert_eq!(
        patch(&s, TOKEN, "/v2/schedules/nope/pause")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// On the real clock: a `* * * * *` schedule publishes one message at the next minute, carrying
/// its id in the delivery and the message; a paused one beside it publishes nothing; resuming
/// gives it the next tick.
#[tokio::test]
async fn every_minute_fires_once_and_a_paused_one_does_not() {
    let s = start().await;
    let sink = Sink::start().await;
    let active = create(
        &s,
        &format!("{}/ok-active", sink.url),
        &[
            ("Upstash-Cron", "* * * * *"),
            ("Upstash-Schedule-Id", "active"),
            ("Upstash-Forward-X", "1"),
        ],
        "tick",
    )
    .await;
    // A schedule to a URL group publishes to each endpoint.
    let r = s
        .post("/v2/topics/fan/endpoints")
        .json(&serde_json::json!({"endpoints": [
            {"url": format!("{}/ok-g1", sink.url)},
            {"name": "two", "url": format!("{}/ok-g2", sink.url)},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let to_group = create(
        &s,
        "fan",
        &[("Upstash-Cron", "* * * * *"), ("Upstash-Retries", "0")],
        "to all",
    )
    .await;
    let paused = create(
        &s,
        &format!("{}/ok-paused", sink.url),
        &[
            ("Upstash-Cron", "* * * * *"),
            ("Upstash-Schedule-Id", "paused"),
        ],
        "tick",
    )
    .await;
    let r = patch(&s, TOKEN, &format!("/v2/schedules/{paused}/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got: Value = s
        .get(&format!("/v2/schedules/{paused}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["isPaused"], true);
    assert!(got.get("nextScheduleTime").is_none());

    let received = sink
        .wait_for("/ok-active", 1, Duration::from_secs(65))
        .await;
    let d = &received[0];
    assert_eq!(d.header("Upstash-Schedule-Id"), Some(active.as_str()));
    assert_eq!(d.header("X"), Some("1"));
    assert_eq!(&d.body[..], b"tick");
    let message_id = d.header("Upstash-Message-Id").unwrap().to_owned();
    s.wait_event(&message_id, "DELIVERED", Duration::from_secs(10))
        .await;
    // Both schedules' ticks were due at the same time: give a wrong tick of the paused one
    // time to show, then check that none did.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.to("/ok-active").len(), 1, "one message per tick");
    assert!(
        sink.to("/ok-paused").is_empty(),
        "a paused schedule publishes nothing"
    );

    let got: Value = s
        .get(&format!("/v2/schedules/{active}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = got["lastScheduleTime"].as_u64().expect("a last tick");
    assert_eq!(last % 60_000, 0, "the tick is on a minute");
    assert_eq!(got["nextScheduleTime"].as_u64(), Some(last + 60_000));
    assert_eq!(got["lastScheduleStates"][&message_id], "DELIVERED");
    let m: Value = s
        .get(&format!("/v2/messages/{message_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["scheduleId"], active);
    for prefix in ["/ok-g1", "/ok-g2"] {
        let got = sink.wait_for(prefix, 1, Duration::from_secs(10)).await;
        assert_eq!(
            got[0].header("Upstash-Schedule-Id"),
            Some(to_group.as_str())
        );
        assert_eq!(&got[0].body[..], b"to all");
    }
    let got: Value = s
        .get(&format!("/v2/schedules/{to_group}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["destination"], "fan");
    assert_eq!(
        got["lastScheduleStates"].as_object().map(|o| o.len()),
        Some(2),
        "one message per endpoint: {got}"
    );

    let got: Value = s
        .get(&format!("/v2/schedules/{paused}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(got.get("lastScheduleTime").is_none());
    let r = patch(&s, TOKEN, &format!("/v2/schedules/{paused}/resume"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got: Value = s
        .get(&format!("/v2/schedules/{paused}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["isPaused"], false);
    assert_eq!(
        got["nextScheduleTime"].as_u64(),
        Some(last + 60_000),
        "resumed from the next tick after now"
    );
}
