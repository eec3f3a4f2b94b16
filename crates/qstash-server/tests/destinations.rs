//! The destination policy (SERVER.md §11.3) on a real server: refused ranges get 400 when a
//! message, callback or trigger is accepted, names are checked through the resolver, and the
//! address actually dialled is checked again at delivery.
//!
//! No test here ever sends a packet outside loopback: every refused target outside loopback is
//! published with a long `Upstash-Delay`, so that a bug accepting it still could not make the
//! server dial it, and names resolve through a map in the test (never the network).

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::{Sink, TOKEN, http_client};
use qstash_server::{Addrs, DestinationPolicy, Name, Resolve, Resolving, RunningServer, Server};
use qstash_store::sqlite::SqliteStore;

/// A resolver that knows only the names the test maps; any other name fails to resolve.
#[derive(Clone, Default)]
struct MapResolver(Arc<Mutex<HashMap<String, Vec<IpAddr>>>>);

impl MapResolver {
    fn set(&self, name: &str, ip: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(name.to_owned(), vec![ip.parse().unwrap()]);
    }
}

impl Resolve for MapResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.0.lock().unwrap().get(name.as_str()).cloned();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let ips = found.ok_or_else(|| format!("{name}: no such name in the test's map"))?;
            let addrs: Addrs = Box::new(
                ips.into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

struct Policed {
    server: RunningServer,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start(policy: DestinationPolicy, resolver: MapResolver) -> Policed {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("qstash.db")).unwrap();
    let server = Server::builder(Arc::new(store))
        .token(TOKEN)
        .unwrap()
        .signing_keys(common::CURRENT_KEY, common::NEXT_KEY)
        .destination_policy(policy)
        .resolver(Arc::new(resolver))
        .shutdown_grace(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    Policed {
        url: server.url(),
        server,
        http: http_client(),
        _dir: dir,
    }
}

impl Policed {
    /// Publishes with a one-hour delay (so that nothing accepted by mistake is ever dialled).
    async fn publish_later(&self, destination: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}/v2/publish/{destination}", self.url))
            .bearer_auth(TOKEN)
            .header("Upstash-Delay", "1h")
            .body("x");
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn json(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The events of a message, waiting until one in `state` shows up.
    async fn wait_state(&self, id: &str, state: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let v = self
                .json(&format!("/v2/events?messageId={id}&state={state}"))
                .await;
            if let Some(e) = v["events"].as_array().and_then(|a| a.first()) {
                return e.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {state} event for {id}: {}",
                self.json(&format!("/v2/events?messageId={id}")).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

const REFUSED: &[(&str, &str)] = &[
    ("http://127.0.0.1:9/x", "127.0.0.0/8"),
    ("http://127.3.4.5/x", "127.0.0.0/8"),
    ("http://[::1]:9/x", "::1/128"),
    ("http://169.254.169.254/latest/meta-data", "169.254.0.0/16"),
    ("http://[fe80::1]/x", "fe80::/10"),
    ("http://10.0.0.1/x", "10.0.0.0/8"),
    ("http://172.16.5.4/x", "172.16.0.0/12"),
    ("http://192.168.0.1/x", "192.168.0.0/16"),
    ("http://100.64.0.1/x", "100.64.0.0/10"),
    ("http://[fd00::1]/x", "fc00::/7"),
    ("http://224.0.0.1/x", "224.0.0.0/4"),
    ("http://[ff02::1]/x", "ff00::/8"),
    ("http://255.255.255.255/x", "255.255.255.255/32"),
    ("http://0.0.0.0/x", "0.0.0.0/8"),
    ("http://[::]/x", "::/128"),
    ("http://[::ffff:169.254.169.254]/x", "169.254.0.0/16"),
    ("http://[::ffff:10.0.0.1]/x", "10.0.0.0/8"),
];

#[tokio::test]
async fn literal_addresses_of_every_refused_range_are_refused() {
    let s = start(DestinationPolicy::refuse_private(), MapResolver::default()).await;
    for (url, range) in REFUSED {
        let (status, body) = s.publish_later(url, &[]).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body.contains(range), "{url}: {body} should name {range}");
        assert!(
            body.contains("--allow-destination") && body.contains("--allow-private-destinations"),
            "{url}: {body} should name the flags"
        );
    }
    s.server.shutdown().await;
}

#[tokio::test]
async fn callbacks_triggers_and_batches_are_checked_too() {
    let sink = Sink::start().await;
    let s = start(
        DestinationPolicy::refuse_private()
            .allow("127.0.0.1")
            .unwrap(),
        MapResolver::default(),
    )
    .await;
    let ok = format!("{}/ok", sink.url);
    for header in ["Upstash-Callback", "Upstash-Failure-Callback"] {
        let (status, body) = s
            .publish_later(&ok, &[(header, "http://169.254.169.254/cb")])
            .await;
        assert_eq!(status, 400, "{header}: {body}");
        assert!(
            body.contains(header) && body.contains("169.254.0.0/16"),
            "{body}"
        );
    }
    // A batch with one refused entry is refused whole: the allowed entry is not kept either.
    let resp = s
        .http
        .post(format!("{}/v2/batch", s.url))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!([
            {"destination": format!("{}/ok-batch", sink.url), "headers": {}, "body": "a"},
            {"destination": "http://10.1.1.1/x", "headers": {"Upstash-Delay": "1h"}, "body": "b"},
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("entry 1") && text.contains("10.0.0.0/8"),
        "{text}"
    );
    // A workflow trigger.
    let resp = s
        .http
        .post(format!("{}/v2/trigger/http://192.168.1.1/wf", s.url))
        .bearer_auth(TOKEN)
        .header("Upstash-Delay", "1h")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("192.168.0.0/16"));
    // The allowed destination of the refused batch never got anything.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.to("/ok-batch").is_empty());
    s.server.shutdown().await;
}

#[tokio::test]
async fn localhost_and_names_resolving_to_loopback_are_refused() {
    let resolver = MapResolver::default();
    resolver.set("loop.test", "127.0.0.1");
    resolver.set("meta.test", "169.254.169.254");
    let s = start(DestinationPolicy::refuse_private(), resolver).await;
    for (url, range) in [
        ("http://localhost:9/x", "127.0.0.0/8"),
        ("http://api.localhost:9/x", "127.0.0.0/8"),
        ("http://loop.test:9/x", "127.0.0.0/8"),
        ("http://meta.test/x", "169.254.0.0/16"),
    ] {
        let (status, body) = s.publish_later(url, &[]).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body.contains(range), "{url}: {body}");
    }
    s.server.shutdown().await;
}

#[tokio::test]
async fn a_name_that_turns_to_a_refused_address_fails_the_attempt_for_good() {
    let sink = Sink::start().await;
    let port = sink.url.rsplit(':').next().unwrap().to_owned();
    let resolver = MapResolver::default();
    resolver.set("hooks.test", "127.0.0.1");
    let s = start(
        DestinationPolicy::refuse_private()
            .allow("127.0.0.1/32")
            .unwrap(),
        resolver.clone(),
    )
    .await;
    // Allowed when accepted: the name resolves to the opened 127.0.0.1.
    let resp = s
        .http
        .post(format!("{}/v2/publish/http://hooks.test:{port}/ok", s.url))
        .bearer_auth(TOKEN)
        .header("Upstash-Delay", "1s")
        .header("Upstash-Retries", "3")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<serde_json::Value>().await.unwrap()["messageId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Before delivery the name turns to a refused loopback address (still loopback: a bug
    // that dialled it would reach nobody outside this machine).
    resolver.set("hooks.test", "127.0.0.2");
    let failed = s.wait_state(&id, "FAILED").await;
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("destination refused") && error.contains("127.0.0.0/8"),
        "{failed}"
    );
    // Not retried: no RETRY event came before the failure.
    let all = s.json(&format!("/v2/events?messageId={id}")).await;
    assert!(
        !all["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["state"] == "RETRY"),
        "{all}"
    );
    let dlq = s.json("/v2/dlq").await;
    let entry = &dlq["messages"][0];
    assert_eq!(entry["messageId"], id.as_str(), "{dlq}");
    assert!(
        entry["responseBody"]
            .as_str()
            .is_some_and(|b| b.contains("127.0.0.0/8")),
        "{entry}"
    );
    assert!(sink.to("/ok").is_empty());
    s.server.shutdown().await;
}

async fn redirector(location: String) -> String {
    let app = Router::new().fallback(move || {
        let location = location.clone();
        async move { (StatusCode::FOUND, [("location", location)], "moved").into_response() }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn a_redirect_to_a_refused_address_is_not_followed() {
    // The target of the redirect: a recorder on 127.0.0.2, which the policy refuses.
    let target = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let target_addr = target.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(0usize));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = target.accept().await {
            *counted.lock().unwrap() += 1;
            drop(conn);
        }
    });
    let from = redirector(format!("http://{target_addr}/stolen")).await;
    let s = start(
        DestinationPolicy::refuse_private()
            .allow("127.0.0.1/32")
            .unwrap(),
        MapResolver::default(),
    )
    .await;
    let resp = s
        .http
        .post(format!("{}/v2/publish/{from}/go", s.url))
        .bearer_auth(TOKEN)
        .header("Upstash-Retries", "0")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<serde_json::Value>().await.unwrap()["messageId"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = s.wait_state(&id, "FAILED").await;
    assert_eq!(failed["responseStatus"], 302, "{failed}");
    assert_eq!(*hits.lock().unwrap(), 0, "the redirect was followed");
    s.server.shutdown().await;
}

#[tokio::test]
async fn opened_ranges_names_and_an_open_policy_deliver() {
    let sink = Sink::start().await;
    let port = sink.url.rsplit(':').next().unwrap().to_owned();
    let resolver = MapResolver::default();
    resolver.set("hooks.internal", "127.0.0.1");
    for (policy, destination) in [
        (
            DestinationPolicy::refuse_private()
                .allow("127.0.0.0/8")
                .unwrap(),
            format!("{}/ok-range", sink.url),
        ),
        (
            DestinationPolicy::refuse_private()
                .allow("*.internal")
                .unwrap(),
            format!("http://hooks.internal:{port}/ok-name"),
        ),
        (
            DestinationPolicy::refuse_private().allow_private(),
            format!("{}/ok-private", sink.url),
        ),
        (
            DestinationPolicy::allow_all(),
            format!("{}/ok-open", sink.url),
        ),
    ] {
        let s = start(policy, resolver.clone()).await;
        let resp = s
            .http
            .post(format!("{}/v2/publish/{destination}", s.url))
            .bearer_auth(TOKEN)
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{destination}");
        let path = destination.rsplit('/').next().unwrap();
        let got = sink
            .wait_for(&format!("/{path}"), 1, Duration::from_secs(10))
            .await;
        assert_eq!(got[0].body.as_ref(), b"hello");
        s.server.shutdown().await;
    }
}
