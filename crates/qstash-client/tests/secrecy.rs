//! The token never shows in `Debug`, `Display`, errors or logs.

mod server;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qstash_client::{Client, Error, ErrorKind, LogsQuery, RetryPolicy, RunId};
use server::{Reply, TestServer};

const TOKEN: &str = "eyJVc2VySUQiOiJzZWNyZXQtdXNlciIsIlBhc3N3b3JkIjoiaHVudGVyMiJ9";

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn assert_no_token(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "{what} shows the token: {text}");
    // Nor a recognisable part of it.
    assert!(
        !text.contains(&TOKEN[..16]),
        "{what} shows part of the token: {text}"
    );
}

fn check_error(err: &Error) {
    assert_no_token("Display", &err.to_string());
    assert_no_token("Debug", &format!("{err:?}"));
    assert_no_token("alternate Debug", &format!("{err:#?}"));
    if let Some(inner) = err.get_ref() {
        assert_no_token("underlying error", &inner.to_string());
        assert_no_token("underlying error Debug", &format!("{inner:?}"));
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        assert_no_token("source", &s.to_string());
        assert_no_token("source Debug", &format!("{s:?}"));
        source = s.source();
    }
}

#[test]
fn client_and_builder_debug() {
    let builder = Client::builder()
        .token(TOKEN)
        .base_url("http://127.0.0.1:9");
    let debug = format!("{builder:?}");
    assert_no_token("ClientBuilder Debug", &debug);
    assert!(debug.contains("<redacted>"), "{debug}");
    let client = builder.build().unwrap();
    for text in [format!("{client:?}"), format!("{client:#?}")] {
        assert_no_token("Client Debug", &text);
        assert!(text.contains("127.0.0.1:9"), "{text}");
    }
}

#[test]
fn configuration_errors_do_not_quote_the_token() {
    let bad = format!("{TOKEN}\u{e9}");
    let err = Client::builder().token(bad).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    check_error(&err);
    let err = Client::builder()
        .token(format!("{TOKEN} x"))
        .build()
        .unwrap_err();
    check_error(&err);
}

#[tokio::test(flavor = "current_thread")]
async fn errors_and_logs_never_show_the_token() {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start([
        Reply::new(503, ""),
        // A server that echoes the credentials back.
        Reply::error(401, &format!("invalid token: Bearer {TOKEN}")),
        Reply::new(400, format!("Authorization: Bearer {TOKEN}")),
        Reply::error(429, "slow down").header("retry-after", "1000"),
        Reply::new(200, "not json"),
    ]);
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.url())
        .retry_policy(RetryPolicy::new(2).with_initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();

    let mut errors = Vec::new();
    for _ in 0..4 {
        errors.push(
            client
                .trigger_url("https://example.com/wf")
                .send()
                .await
                .unwrap_err(),
        );
    }
    // No server at all.
    let offline = Client::builder()
        .token(TOKEN)
        .base_url(server::unused_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    errors.push(
        offline
            .cancel_run(&RunId::new("wfr_x").unwrap())
            .await
            .unwrap_err(),
    );
    errors.push(offline.logs(&LogsQuery::default()).await.unwrap_err());

    let kinds: Vec<_> = errors.iter().map(Error::kind).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::Unauthorized,
            ErrorKind::BadRequest,
            ErrorKind::RateLimited,
            ErrorKind::UnexpectedResponse,
            ErrorKind::Transport,
            ErrorKind::Transport,
        ]
    );
    for err in &errors {
        check_error(err);
    }
    // The echoed token was replaced, the rest of the message kept.
    assert_eq!(
        errors[0].message(),
        Some("invalid token: Bearer <redacted>")
    );
    assert_eq!(
        errors[1].message(),
        Some("Authorization: Bearer <redacted>")
    );

    // Every request did carry it.
    for r in server.recorded() {
        assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    }

    let logs = sink.text();
    assert_no_token("logs", &logs);
    // The logs are there: spans with the operation and run id, retries, statuses.
    assert!(logs.contains("qstash.request"), "{logs}");
    assert!(logs.contains("op=\"trigger\""), "{logs}");
    assert!(logs.contains("run_id=\"wfr_"), "{logs}");
    assert!(logs.contains("retrying"), "{logs}");
    assert!(logs.contains("status=503"), "{logs}");
    assert!(logs.contains("op=\"cancel_run\""), "{logs}");
}
