//! The client against a real HTTP server on loopback: what goes on the wire, retries, error
//! mapping, batch, cancel and logs.

mod server;

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use qstash_client::{
    BulkCancel, Client, ErrorKind, Label, LogsQuery, RetryPolicy, RunId, RunState, TriggerRequest,
    WorkflowUrl,
};
use qstash_protocol::TriggerBatch;
use server::{Reply, TestServer};

const TOKEN: &str = "eyJVc2VySUQiOiJ0ZXN0LXVzZXIiLCJQYXNzd29yZCI6InMzY3IzdCJ9";
const OK_TRIGGER: &str = r#"{"workflowRunId":"wfr_from_server","workflowCreatedAt":1767225600000}"#;

/// A client of `server` with fast, deterministic retries.
fn client(server: &TestServer, attempts: u32) -> Client {
    Client::builder()
        .token(TOKEN)
        .base_url(server.url())
        .timeout(Some(Duration::from_secs(10)))
        .retry_policy(
            RetryPolicy::new(attempts)
                .with_initial_backoff(Duration::from_millis(5))
                .with_jitter(false),
        )
        .build()
        .unwrap()
}

fn assert_generated(id: &str) {
    assert!(id.starts_with("wfr_"), "{id}");
    assert_eq!(id.len(), 25, "{id}");
    assert!(
        id[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{id}"
    );
}

#[tokio::test]
async fn trigger_with_every_option_is_sent_exactly() {
    let server = TestServer::start([Reply::json(OK_TRIGGER)]);
    let client = client(&server, 3);
    // A body that is not UTF-8 travels unchanged.
    let body = Bytes::from_static(b"\x00\xffraw \r\n body\xc3\x28");
    let destination = "https://example.com/api/wf/%7Euser?tenant=7&q=a%20b&empty=";
    let request = client
        .trigger_url(destination)
        .body(body.clone())
        .content_type("application/octet-stream")
        .run_id("wfr_order-42")
        .unwrap()
        .forward("Authorization", "Bearer for-the-workflow")
        .forward("X-Multi", "first")
        .forward("X-Multi", "second")
        .retries(5)
        .delay("1d10h30m")
        .unwrap()
        .not_before(1_767_225_600)
        .label("checkout")
        .unwrap()
        .label("eu")
        .unwrap()
        .flow_control("tenant-7", "rate=5,parallelism=2")
        .unwrap()
        .failure_url("https://example.com/api/failed?src=wf")
        .unwrap()
        .failure_forward("X-Source", "checkout")
        .retry_delay("pow(2, retried) * 1000")
        .unwrap()
        .build()
        .unwrap();

    let response = client.trigger(request.clone()).await.unwrap();
    assert_eq!(response.workflow_run_id.as_str(), "wfr_from_server");
    assert_eq!(response.workflow_created_at, 1_767_225_600_000);

    let recorded = server.recorded();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, format!("/v2/trigger/{destination}"));
    assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(r.body, body);
    assert_eq!(r.header("content-type"), "application/octet-stream");
    assert_eq!(r.header("upstash-workflow-runid"), "wfr_order-42");
    assert_eq!(
        r.header("upstash-forward-authorization"),
        "Bearer for-the-workflow"
    );
    let multi: Vec<_> = r
        .headers
        .get_all("upstash-forward-x-multi")
        .iter()
        .collect();
    assert_eq!(multi, ["first", "second"]);
    assert_eq!(r.header("upstash-retries"), "5");
    assert_eq!(r.header("upstash-delay"), "1d10h30m");
    assert_eq!(r.header("upstash-not-before"), "1767225600");
    assert_eq!(r.header("upstash-label"), "checkout,eu");
    assert_eq!(r.header("upstash-flow-control-key"), "tenant-7");
    assert_eq!(
        r.header("upstash-flow-control-value"),
        "parallelism=2, rate=5"
    );
    assert_eq!(
        r.header("upstash-failure-callback"),
        "https://example.com/api/failed?src=wf"
    );
    assert_eq!(
        r.header("upstash-failure-callback-forward-x-source"),
        "checkout"
    );
    assert_eq!(r.header("upstash-retry-delay"), "pow(2, retried) * 1000");

    // Every header the codec encodes arrived with the same values, in the same order.
    let encoded = request.headers();
    for name in encoded.keys() {
        let sent: Vec<_> = encoded.get_all(name).iter().collect();
        let got: Vec<_> = r.headers.get_all(name).iter().collect();
        assert_eq!(got, sent, "{name}");
    }
    // And the server-side decoder reads back the very request.
    assert_eq!(TriggerRequest::from_http(&r.to_http()).unwrap(), request);
}

#[tokio::test]
async fn failure_function_and_defaults() {
    let server = TestServer::start([Reply::json(OK_TRIGGER)]);
    let client = client(&server, 3);
    client
        .trigger_url("https://example.com/wf")
        .failure_function()
        .await
        .unwrap();
    let r = &server.recorded()[0];
    assert_eq!(r.header("upstash-failure-callback"), "");
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), "0");
    // No option given: only the generated run id among the Upstash headers.
    let upstash: Vec<_> = r
        .headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("upstash-"))
        .collect();
    assert_eq!(
        upstash,
        ["upstash-workflow-runid", "upstash-failure-callback"]
    );
    assert_generated(r.header("upstash-workflow-runid"));
    assert!(r.header("user-agent").starts_with("qstash-client/"));
}

#[tokio::test]
async fn base_url_path_is_a_prefix() {
    let server = TestServer::start([Reply::json(OK_TRIGGER)]);
    let client = Client::builder()
        .token(TOKEN)
        .base_url(format!("{}/proxy/qstash/", server.url()))
        .build()
        .unwrap();
    client
        .trigger_url("http://example.com/wf?a=1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.recorded()[0].target,
        "/proxy/qstash/v2/trigger/http://example.com/wf?a=1"
    );
}

#[tokio::test]
async fn a_retry_carries_the_same_generated_run_id() {
    let server = TestServer::start([
        Reply::error(503, "try again"),
        Reply::error(502, "bad gateway"),
        Reply::json(OK_TRIGGER),
    ]);
    let client = client(&server, 3);
    let response = client
        .trigger_url("https://example.com/wf")
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.workflow_run_id.as_str(), "wfr_from_server");
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 3);
    let id = recorded[0].header("upstash-workflow-runid");
    assert_generated(id);
    for r in &recorded {
        assert_eq!(r.header("upstash-workflow-runid"), id);
        assert_eq!(r.body, "payload");
        assert_eq!(r.target, "/v2/trigger/https://example.com/wf");
    }
}

#[tokio::test]
async fn a_given_run_id_is_kept_across_retries() {
    let server = TestServer::start([Reply::new(504, ""), Reply::json(OK_TRIGGER)]);
    let client = client(&server, 2);
    client
        .trigger_url("https://example.com/wf")
        .run_id(RunId::new("wfr_mine").unwrap())
        .unwrap()
        .await
        .unwrap();
    let ids: Vec<_> = server
        .recorded()
        .iter()
        .map(|r| r.header("upstash-workflow-runid").to_owned())
        .collect();
    assert_eq!(ids, ["wfr_mine", "wfr_mine"]);
}

#[tokio::test]
async fn retries_stop_at_the_bound_and_the_error_tells() {
    let server = TestServer::start([]).always(Reply::error(503, "overloaded"));
    let err = client(&server, 4)
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.recorded().len(), 4);
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.attempts(), 4);
    assert_eq!(err.message(), Some("overloaded"));
    let id = server.recorded()[0]
        .header("upstash-workflow-runid")
        .to_owned();
    assert_eq!(err.run_id().map(RunId::as_str), Some(id.as_str()));
    assert_eq!(
        err.to_string(),
        format!("server error (HTTP 503): overloaded [run {id}] after 4 attempts")
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn retries_can_be_turned_off() {
    let server = TestServer::start([]).always(Reply::error(503, "overloaded"));
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.recorded().len(), 1);
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn quota_exceeded_is_never_retried() {
    let server = TestServer::start([]).always(Reply::error(412, "daily quota exceeded"));
    let err = client(&server, 5)
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.recorded().len(), 1);
    assert_eq!(err.kind(), ErrorKind::QuotaExceeded);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(412));
    assert_eq!(err.message(), Some("daily quota exceeded"));
    assert_eq!(err.attempts(), 1);
    assert!(!err.is_retryable());
    assert_eq!(
        err.run_id().map(RunId::as_str),
        Some(server.recorded()[0].header("upstash-workflow-runid"))
    );
}

/// A client for tests on paused time, which jumps to the next timer whenever the runtime
/// idles (waiting for the server included): no timer but the retry waits, so no request
/// timeout, no call deadline and no connection-pool idle sweep.
fn paused_client(server: &TestServer) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    Client::builder()
        .token(TOKEN)
        .base_url(server.url())
        .http_client(http)
        .timeout(None)
        .total_timeout(None)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let server = TestServer::start([
        Reply::error(429, "slow down").header("retry-after", "7"),
        Reply::json(OK_TRIGGER),
    ]);
    let client = paused_client(&server);
    let start = tokio::time::Instant::now();
    client
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap();
    let waited = start.elapsed();
    assert_eq!(server.recorded().len(), 2);
    assert!(waited >= Duration::from_secs(7), "{waited:?}");
    assert!(waited < Duration::from_secs(8), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_burst_window_is_waited_for() {
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3;
    let server = TestServer::start([
        Reply::error(429, "burst")
            .header("burst-ratelimit-limit", "100")
            .header("burst-ratelimit-remaining", "0")
            .header("burst-ratelimit-reset", &reset.to_string()),
        Reply::json(OK_TRIGGER),
    ]);
    let client = paused_client(&server);
    let start = tokio::time::Instant::now();
    client
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap();
    let waited = start.elapsed();
    assert_eq!(server.recorded().len(), 2);
    // The reset is a whole second 2 to 3 s from the response.
    assert!(
        waited >= Duration::from_secs(1) && waited <= Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_wait_beyond_the_policy_ends_the_retries() {
    let server = TestServer::start([]).always(
        Reply::error(429, "daily limit")
            .header("retry-after", "3600")
            .header("ratelimit-limit", "1000")
            .header("ratelimit-remaining", "0")
            .header("ratelimit-reset", "1767312000"),
    );
    let err = client(&server, 5)
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.recorded().len(), 1);
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    let rl = err.rate_limit().unwrap();
    assert_eq!(rl.daily().unwrap().limit, Some(1000));
    assert_eq!(rl.daily().unwrap().remaining, Some(0));
    assert_eq!(
        rl.daily().unwrap().reset,
        Some(std::time::UNIX_EPOCH + Duration::from_secs(1_767_312_000))
    );
    assert_eq!(
        err.reset_at(),
        Some(rl.received_at() + Duration::from_secs(3600))
    );
    assert!(err.to_string().contains("retry after 3600s"), "{err}");
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let server =
        TestServer::start([]).always(Reply::json(OK_TRIGGER).delayed(Duration::from_secs(3)));
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.url())
        .timeout(Some(Duration::from_millis(150)))
        .retry_policy(RetryPolicy::new(2).with_initial_backoff(Duration::from_millis(5)))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = client
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(err.attempts(), 2);
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(3));
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[0].header("upstash-workflow-runid"),
        recorded[1].header("upstash-workflow-runid")
    );
}

#[tokio::test]
async fn a_timeout_then_success_is_one_run() {
    let server = TestServer::start([
        Reply::json(OK_TRIGGER).delayed(Duration::from_secs(3)),
        Reply::json(OK_TRIGGER),
    ]);
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.url())
        .timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    client
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap();
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[0].header("upstash-workflow-runid"),
        recorded[1].header("upstash-workflow-runid")
    );
}

#[tokio::test]
async fn connect_errors_are_transport_errors_and_retried() {
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server::unused_url())
        .retry_policy(RetryPolicy::new(3).with_initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    let err = client
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert!(err.status().is_none());
    assert!(std::error::Error::source(&err).is_some());
    assert_generated(err.run_id().unwrap().as_str());
}

#[tokio::test]
async fn statuses_map_to_kinds() {
    let cases: &[(Reply, ErrorKind, Option<&str>, usize)] = &[
        (
            Reply::error(400, "invalid Upstash-Delay"),
            ErrorKind::BadRequest,
            Some("invalid Upstash-Delay"),
            1,
        ),
        (
            Reply::error(401, "unauthorized"),
            ErrorKind::Unauthorized,
            Some("unauthorized"),
            1,
        ),
        (
            Reply::new(404, "no such endpoint"),
            ErrorKind::NotFound,
            Some("no such endpoint"),
            1,
        ),
        (
            Reply::error(412, "quota"),
            ErrorKind::QuotaExceeded,
            Some("quota"),
            1,
        ),
        (
            Reply::error(429, "rate"),
            ErrorKind::RateLimited,
            Some("rate"),
            3,
        ),
        (
            Reply::error(500, "boom"),
            ErrorKind::Server,
            Some("boom"),
            1,
        ),
        (Reply::new(502, ""), ErrorKind::Server, None, 3),
        (Reply::new(503, ""), ErrorKind::Server, None, 3),
        (Reply::new(504, ""), ErrorKind::Server, None, 3),
        (
            Reply::new(418, "teapot"),
            ErrorKind::UnexpectedResponse,
            Some("teapot"),
            1,
        ),
        (Reply::new(409, ""), ErrorKind::UnexpectedResponse, None, 1),
        // A redirect is not followed.
        (
            Reply::new(307, "").header("location", "http://127.0.0.1:1/elsewhere"),
            ErrorKind::UnexpectedResponse,
            None,
            1,
        ),
        // A 200 whose body is not the trigger response.
        (
            Reply::json("<html>"),
            ErrorKind::UnexpectedResponse,
            Some("the response body is not the expected JSON"),
            1,
        ),
        (
            Reply::json(r#"{"workflowRunId":"wfr_x"}"#),
            ErrorKind::UnexpectedResponse,
            Some("the response body is not the expected JSON"),
            1,
        ),
    ];
    for (reply, kind, message, requests) in cases {
        let server = TestServer::start([]).always(reply.clone());
        let err = client(&server, 3)
            .trigger_url("https://example.com/wf")
            .send()
            .await
            .unwrap_err();
        let status = reply.status.as_u16();
        assert_eq!(err.kind(), *kind, "{status}: {err}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(err.message(), *message, "{status}");
        assert_eq!(server.recorded().len(), *requests, "{status}");
        assert_eq!(err.attempts() as usize, *requests, "{status}");
        assert!(err.run_id().is_some(), "{status}");
        let text = err.to_string();
        assert!(text.starts_with(kind.description()), "{text}");
        assert!(text.contains(&format!("(HTTP {status})")), "{text}");
    }
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = TestServer::start([]).always(Reply::json(OK_TRIGGER));
    let client = client(&server, 3);
    let cases = [
        client
            .trigger_url("ftp://example.com/wf")
            .send()
            .await
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .forward("Bad Name", "v")
            .send()
            .await
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .forward("X-A", "line\nbreak")
            .send()
            .await
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .failure_forward("X-A", "v")
            .send()
            .await
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .delay("10 s")
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .delay(Duration::MAX)
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .label("a,b")
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .run_id("")
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .flow_control("k", "rate=0")
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .flow_control("", "rate=1")
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .failure_url("mailto:x@example.com")
            .unwrap_err(),
        client
            .trigger_url("https://example.com/wf")
            .retry_delay("2 ^ retried")
            .unwrap_err(),
        // The HTTP stack would resolve the dot segment, changing the destination.
        client
            .trigger_url("https://example.com/a/../wf")
            .send()
            .await
            .unwrap_err(),
    ];
    for err in &cases {
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
        assert_eq!(err.attempts(), 0);
        assert!(err.to_string().starts_with("invalid request"), "{err}");
    }
    let bad = TriggerRequest::builder(WorkflowUrl::new("https://example.com/wf").unwrap())
        .body(&b"\xff"[..])
        .build()
        .unwrap();
    let err = client.batch_trigger(vec![bad]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(server.recorded().is_empty());
}

#[tokio::test]
async fn batch_trigger() {
    let server = TestServer::start([Reply::json(
        r#"[{"workflowRunId":"wfr_given","workflowCreatedAt":1,"deduplicated":true},
            {"workflowRunId":"wfr_other","workflowCreatedAt":2}]"#,
    )]);
    let client = client(&server, 3);
    let a = TriggerRequest::builder(WorkflowUrl::new("https://example.com/a?x=1").unwrap())
        .body(r#"{"n":1}"#)
        .run_id(RunId::new("wfr_given").unwrap())
        .retries(2)
        .build()
        .unwrap();
    let b = TriggerRequest::builder(WorkflowUrl::new("https://example.com/b").unwrap())
        .label(Label::new("nightly").unwrap())
        .build()
        .unwrap();
    let entries = client
        .batch_trigger(vec![a.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries[0].deduplicated);
    assert_eq!(entries[1].workflow_run_id.as_str(), "wfr_other");
    assert_eq!(entries[1].workflow_created_at, 2);

    let r = &server.recorded()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/v2/batch/trigger");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    let sent = TriggerBatch::from_http(&r.to_http())
        .unwrap()
        .into_entries();
    assert_eq!(sent[0], a);
    // The entry without a run id got a generated one; otherwise it is the request given.
    let generated = sent[1].run_id().unwrap().clone();
    assert_generated(generated.as_str());
    let mut b_with_id = b;
    b_with_id.set_run_id(generated);
    assert_eq!(sent[1], b_with_id);
}

#[tokio::test]
async fn batch_retries_keep_the_ids_and_errors_carry_them() {
    let server = TestServer::start([]).always(Reply::new(503, ""));
    let reqs: Vec<_> = ["https://example.com/a", "https://example.com/b"]
        .iter()
        .map(|u| {
            TriggerRequest::builder(WorkflowUrl::new(*u).unwrap())
                .build()
                .unwrap()
        })
        .collect();
    let err = client(&server, 2).batch_trigger(reqs).await.unwrap_err();
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].body, recorded[1].body);
    let sent = TriggerBatch::from_http(&recorded[0].to_http())
        .unwrap()
        .into_entries();
    let sent_ids: Vec<_> = sent.iter().map(|r| r.run_id().unwrap().clone()).collect();
    assert_eq!(err.run_ids(), sent_ids.as_slice());
    assert!(err.run_id().is_none());
    assert!(err.to_string().contains("[2 runs]"), "{err}");
}

#[tokio::test]
async fn cancel_one_run() {
    let server = TestServer::start([Reply::new(200, ""), Reply::error(404, "run not found")]);
    let client = client(&server, 3);
    let id = RunId::new("wfr_a/b").unwrap();
    client.cancel_run(&id).await.unwrap();
    let err = client.cancel_run(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.run_id(), Some(&id));
    assert_eq!(err.message(), Some("run not found"));
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    for r in &recorded {
        assert_eq!(r.method, "DELETE");
        assert_eq!(r.target, "/v2/workflows/runs/wfr_a%2Fb");
        assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    }
}

#[tokio::test]
async fn cancel_runs_in_bulk() {
    let server = TestServer::start([Reply::new(503, ""), Reply::json(r#"{"cancelled":3}"#)]);
    let client = client(&server, 3);
    let filter = BulkCancel::new(
        [RunId::new("wfr_a").unwrap(), RunId::new("wfr_b").unwrap()],
        Some(WorkflowUrl::new("https://example.com/wf?x=1").unwrap()),
        Some(Label::new("nightly").unwrap()),
    )
    .unwrap();
    assert_eq!(client.cancel_runs(&filter).await.unwrap(), 3);
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    for r in &recorded {
        assert_eq!(r.method, "DELETE");
        assert_eq!(
            r.target,
            "/v2/workflows/runs?workflowRunIds=wfr_a,wfr_b&workflowUrl=https%3A%2F%2Fexample.com%2Fwf%3Fx%3D1&workflowUrlExactMatch=true&label=nightly"
        );
        assert_eq!(BulkCancel::from_http(&r.to_http()).unwrap(), filter);
    }
}

fn page(ids: &[&str], cursor: Option<&str>) -> Reply {
    let runs: Vec<_> = ids
        .iter()
        .map(|id| format!(r#"{{"workflowRunId":"{id}","workflowState":"RUN_FAILED","extra":1}}"#))
        .collect();
    let cursor = cursor.map_or(String::new(), |c| format!(r#""cursor":"{c}","#));
    Reply::json(&format!(r#"{{{cursor}"runs":[{}]}}"#, runs.join(",")))
}

#[tokio::test]
async fn logs_one_page() {
    let server = TestServer::start([page(&["wfr_1"], Some("c1"))]);
    let client = client(&server, 3);
    let query = LogsQuery::new()
        .with_run_id(RunId::new("wfr_1").unwrap())
        .with_count(10);
    let page = client.logs(&query).await.unwrap();
    assert_eq!(page.cursor.as_deref(), Some("c1"));
    assert_eq!(page.runs.len(), 1);
    assert_eq!(page.runs[0].state(), Some(RunState::Failed));
    let r = &server.recorded()[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/v2/workflows/logs?workflowRunId=wfr_1&count=10");
}

#[tokio::test]
async fn logs_stream_follows_the_cursor_through_three_pages() {
    let server = TestServer::start([
        page(&["wfr_1", "wfr_2"], Some("c 1")),
        Reply::new(503, ""), // retried inside the second page
        page(&["wfr_3"], Some("c2")),
        page(&["wfr_4"], None),
    ]);
    let client = client(&server, 3);
    let query = LogsQuery::new()
        .with_count(2)
        .with_state(RunState::Failed)
        .with_label(Label::new("nightly").unwrap());
    let pages: Vec<_> = client.logs_stream(query).collect().await;
    assert_eq!(pages.len(), 3);
    let ids: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.unwrap().runs)
        .map(|r| r.workflow_run_id.into_string())
        .collect();
    assert_eq!(ids, ["wfr_1", "wfr_2", "wfr_3", "wfr_4"]);
    let targets: Vec<_> = server.recorded().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/v2/workflows/logs?count=2&state=RUN_FAILED&label=nightly",
            "/v2/workflows/logs?cursor=c%201&count=2&state=RUN_FAILED&label=nightly",
            "/v2/workflows/logs?cursor=c%201&count=2&state=RUN_FAILED&label=nightly",
            "/v2/workflows/logs?cursor=c2&count=2&state=RUN_FAILED&label=nightly",
        ]
    );
}

#[tokio::test]
async fn logs_stream_ends_on_an_error_or_a_repeated_cursor() {
    let server = TestServer::start([page(&["wfr_1"], Some("c1")), Reply::error(401, "bad token")]);
    let mut pages = client(&server, 3).logs_stream(LogsQuery::default());
    assert!(pages.next_page().await.unwrap().is_ok());
    assert_eq!(pages.next_query().cursor.as_deref(), Some("c1"));
    let err = pages.next_page().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(pages.next_page().await.is_none());
    assert_eq!(server.recorded().len(), 2);

    let server =
        TestServer::start([page(&["wfr_1"], Some("c1"))]).always(page(&["wfr_2"], Some("c1")));
    let mut pages = client(&server, 3).logs_stream(LogsQuery::default());
    assert!(pages.next_page().await.unwrap().is_ok());
    assert!(pages.next_page().await.unwrap().is_ok());
    let err = pages.next_page().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedResponse);
    assert!(pages.next_page().await.is_none());
    assert_eq!(server.recorded().len(), 2);
}

#[tokio::test]
async fn the_callers_reqwest_client_is_used() {
    // With only this crate's reqwest features, a reqwest client of one's own needs a rustls
    // provider installed first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = TestServer::start([Reply::json(OK_TRIGGER)]);
    let http = reqwest::Client::builder()
        .user_agent("my-app/1.0")
        .build()
        .unwrap();
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.url())
        .http_client(http)
        .build()
        .unwrap();
    client
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap();
    assert_eq!(server.recorded()[0].header("user-agent"), "my-app/1.0");
    assert_eq!(
        server.recorded()[0].header("authorization"),
        format!("Bearer {TOKEN}")
    );
}
