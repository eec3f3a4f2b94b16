//! Each cause shows once in an error report that walks the `source()` chain (as `anyhow` and
//! `eyre` print one): an error whose message includes its cause's message does not return
//! that cause again from `source()`.

mod server;

use std::error::Error as _;

use qstash_client::{Client, ErrorKind, RetryPolicy};

/// The chain as a report prints it, after checking that no layer repeats the next one.
fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut layers = vec![err.to_string()];
    let mut next = err.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        let parent = layers.last().unwrap();
        assert!(
            !parent.contains(&text),
            "the message {parent:?} repeats its cause {text:?}"
        );
        layers.push(text);
        next = cause.source();
    }
    layers.join(": ")
}

fn once(report: &str, needle: &str) {
    assert_eq!(
        report.matches(needle).count(),
        1,
        "{needle:?} should show once in {report:?}"
    );
}

#[test]
fn invalid_values_show_the_parsers_message_once() {
    let client = Client::builder()
        .token("t0ken-for-reports")
        .base_url("http://127.0.0.1:1")
        .build()
        .unwrap();
    let err = client
        .trigger_url("https://example.com/wf")
        .delay("5sec")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    let r = report(&err);
    once(&r, "unknown unit \"sec\"");
    // The codec's error is still there to inspect.
    let inner = err.get_ref().unwrap();
    let parse_error = inner.downcast_ref::<qstash_delay::ParseError>().unwrap();
    assert_eq!(parse_error.kind(), qstash_delay::ErrorKind::UnknownUnit);

    let err = client
        .trigger_url("https://example.com/wf")
        .flow_control("k", "rate=5, period=1x")
        .unwrap_err();
    let r = report(&err);
    once(&r, "unknown unit \"x\"");

    let err = client
        .trigger_url("https://example.com/wf")
        .retry_delay("2 ^ retried")
        .unwrap_err();
    let r = report(&err);
    once(&r, "is not an operator");
}

#[tokio::test]
async fn a_transport_error_shows_each_layer_once() {
    let client = Client::builder()
        .token("t0ken-for-reports")
        .base_url(server::unused_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let run = qstash_client::RunId::new("wfr_report").unwrap();
    let err = client.cancel_run(&run).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    let r = report(&err);
    once(&r, "transport error");
    once(&r, "error sending request");
    // The chain goes down to the operating system's error.
    assert!(err.source().is_some(), "{r}");
}
