//! Table tests from the upstream reference page (`trigger-workflow-run.upstream.txt`): each
//! header's example value decodes to the expected field, and encodes back.

use bytes::Bytes;
use http::{Request, Uri};
use qstash_delay::Delay;
use qstash_protocol::{
    ApiErrorKind, DEFAULT_BASE_URL, DecodeError, DecodeErrorKind, FailureTarget, HeaderError,
    TriggerRequest, TriggerResponse,
};

const HOUR: u64 = 3_600_000_000_000;

fn trigger(headers: &[(&str, &str)]) -> Request<Bytes> {
    let mut b = Request::post("https://qstash.upstash.io/v2/trigger/https://example.com/api/wf");
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(Bytes::from_static(b"<string>")).unwrap()
}

fn decode(headers: &[(&str, &str)]) -> TriggerRequest {
    let req = TriggerRequest::from_http(&trigger(headers)).unwrap();
    // Whatever decodes encodes back to the same request.
    let again = req.to_http(&Uri::from_static(DEFAULT_BASE_URL));
    assert_eq!(TriggerRequest::from_http(&again).as_ref(), Ok(&req));
    req
}

fn decode_err(headers: &[(&str, &str)]) -> DecodeError {
    TriggerRequest::from_http(&trigger(headers)).unwrap_err()
}

#[test]
fn curl_example_decodes() {
    let req = decode(&[
        ("Authorization", "Bearer <token>"),
        ("Content-Type", "text/plain"),
    ]);
    assert_eq!(req.url().as_str(), "https://example.com/api/wf");
    assert_eq!(req.content_type().unwrap(), "text/plain");
    assert_eq!(req.body().as_ref(), b"<string>");
    // Authorization is the caller's business, not part of the trigger.
    assert!(req.forwarded().is_empty());
    assert_eq!(req.run_id(), None);
    assert_eq!(req.retries(), None); // the server's default (3) applies
}

#[test]
fn run_id_example() {
    let req = decode(&[("Upstash-Workflow-RunId", "wfr_custom-id.1")]);
    assert_eq!(req.run_id().unwrap().as_str(), "wfr_custom-id.1");
}

#[test]
fn forward_examples() {
    let req = decode(&[
        ("Upstash-Forward-My-Header", "my-value"),
        ("Upstash-Forward-Authorization", "Bearer abc"),
    ]);
    assert_eq!(req.forwarded().get("My-Header").unwrap(), "my-value");
    assert_eq!(req.forwarded().get("authorization").unwrap(), "Bearer abc");
    assert_eq!(req.forwarded().len(), 2);
    // Credentials stay out of debug output.
    let debug = format!("{req:?}");
    assert!(!debug.contains("Bearer abc"), "{debug}");
    assert!(debug.contains("my-value"), "{debug}");
}

#[test]
fn repeated_forward_values_keep_their_order() {
    let req = decode(&[
        ("Upstash-Forward-X-Tag", "first"),
        ("Upstash-Forward-Other", "x"),
        ("Upstash-Forward-X-Tag", "second"),
    ]);
    let tags: Vec<_> = req.forwarded().get_all("x-tag").collect();
    assert_eq!(tags, ["first", "second"]);
}

#[test]
fn retries_examples() {
    assert_eq!(decode(&[("Upstash-Retries", "3")]).retries(), Some(3));
    assert_eq!(decode(&[("Upstash-Retries", "0")]).retries(), Some(0));
    assert_eq!(
        decode(&[("Upstash-Retries", "4294967295")]).retries(),
        Some(u32::MAX)
    );
}

#[test]
fn delay_examples() {
    for (value, nanos) in [
        ("50s", 50_000_000_000),
        ("1d10h30m", 34 * HOUR + 30 * 60_000_000_000),
        ("10h", 10 * HOUR),
        ("1d", 24 * HOUR),
    ] {
        let req = decode(&[("Upstash-Delay", value)]);
        assert_eq!(req.delay(), Some(Delay::from_nanos(nanos)), "{value}");
        let http = req.to_http(&Uri::from_static(DEFAULT_BASE_URL));
        assert_eq!(http.headers()["upstash-delay"], value);
    }
}

#[test]
fn not_before_example_and_precedence() {
    let req = decode(&[("Upstash-Not-Before", "1767225600")]);
    assert_eq!(req.not_before(), Some(1_767_225_600));
    // Both are kept; the server lets not-before win.
    let req = decode(&[
        ("Upstash-Not-Before", "1767225600"),
        ("Upstash-Delay", "10h"),
    ]);
    assert_eq!(req.not_before(), Some(1_767_225_600));
    assert_eq!(req.delay(), Some(Delay::from_nanos(10 * HOUR)));
}

#[test]
fn label_examples() {
    let labels = |v| {
        decode(&[("Upstash-Label", v)])
            .labels()
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(labels("checkout"), ["checkout"]);
    assert_eq!(labels("checkout,eu"), ["checkout", "eu"]);
    assert_eq!(labels("checkout, eu ,\tbeta"), ["checkout", "eu", "beta"]);
}

#[test]
fn flow_control_example() {
    let req = decode(&[
        ("Upstash-Flow-Control-Key", "my-key"),
        (
            "Upstash-Flow-Control-Value",
            "parallelism=2, rate=5, period=1m",
        ),
    ]);
    let (key, value) = req.flow_control().unwrap();
    assert_eq!(key.as_str(), "my-key");
    assert_eq!(value.parallelism().map(|n| n.get()), Some(2));
    assert_eq!(value.rate().map(|n| n.get()), Some(5));
    assert_eq!(value.period().as_secs(), 60);
}

#[test]
fn failure_callback_examples() {
    let req = decode(&[("Upstash-Failure-Callback", "")]);
    assert_eq!(
        req.failure_callback().unwrap().target(),
        &FailureTarget::FailureFunction
    );

    let req = decode(&[
        ("Upstash-Failure-Callback", "https://example.com/on-failure"),
        ("Upstash-Failure-Callback-Forward-My-Header", "my-value"),
        (
            "Upstash-Failure-Callback-Forward-Authorization",
            "Bearer abc",
        ),
    ]);
    let cb = req.failure_callback().unwrap();
    match cb.target() {
        FailureTarget::Url(url) => assert_eq!(url.as_str(), "https://example.com/on-failure"),
        other => panic!("{other:?}"),
    }
    assert_eq!(cb.forwarded().get("my-header").unwrap(), "my-value");
    assert_eq!(cb.forwarded().get("authorization").unwrap(), "Bearer abc");
    assert!(req.forwarded().is_empty());

    // "must be prefixed with a valid protocol (http:// or https://)"
    let err = decode_err(&[("Upstash-Failure-Callback", "example.com/on-failure")]);
    assert_eq!(err.field(), Some("Upstash-Failure-Callback"));
    assert!(matches!(err.header_error(), Some(HeaderError::Value(_))));
    assert!(err.to_string().contains("http:// or https://"), "{err}");
}

#[test]
fn retry_delay_examples() {
    for (expr, retried, millis) in [
        ("1000", 0, 1000.0),
        ("1000 * (1 + retried)", 2, 3000.0),
        ("pow(2, retried) * 1000", 3, 8000.0),
        ("max(1000, pow(2, retried) * 100)", 1, 1000.0),
        ("max(1000, pow(2, retried) * 100)", 5, 3200.0),
    ] {
        let req = decode(&[("Upstash-Retry-Delay", expr)]);
        let rd = req.retry_delay().unwrap();
        assert_eq!(rd.as_str(), expr);
        assert_eq!(rd.eval(retried), millis, "{expr} at {retried}");
    }
    let err = decode_err(&[("Upstash-Retry-Delay", "2 ^ retried")]);
    assert_eq!(err.kind(), DecodeErrorKind::InvalidValue);
    assert!(matches!(
        err.header_error(),
        Some(HeaderError::RetryDelay(_))
    ));
    assert!(err.to_string().contains("pow(x, y)"), "{err}");
}

#[test]
fn destination_with_query_and_escapes() {
    let req = TriggerRequest::from_http(
        &Request::post("/v2/trigger/https://example.com/api/wf%2Fx?x=1&y=a%20b")
            .body(Bytes::new())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        req.url().as_str(),
        "https://example.com/api/wf%2Fx?x=1&y=a%20b"
    );
    let http = req.to_http(&Uri::from_static(DEFAULT_BASE_URL));
    assert_eq!(
        http.uri().to_string(),
        "https://qstash.upstash.io/v2/trigger/https://example.com/api/wf%2Fx?x=1&y=a%20b"
    );
}

#[test]
fn response_example() {
    let r: TriggerResponse =
        serde_json::from_str(r#"{"workflowRunId": "wfr_abc", "workflowCreatedAt": 123}"#).unwrap();
    assert_eq!(r.workflow_run_id.as_str(), "wfr_abc");
    assert_eq!(r.workflow_created_at, 123);
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"workflowRunId":"wfr_abc","workflowCreatedAt":123}"#
    );
}

#[test]
fn error_statuses() {
    use http::StatusCode;
    for (code, kind, retry) in [
        (400, ApiErrorKind::BadRequest, false),
        (401, ApiErrorKind::Unauthorized, false),
        (404, ApiErrorKind::NotFound, false),
        (412, ApiErrorKind::QuotaExceeded, false),
        (429, ApiErrorKind::RateLimited, true),
        (500, ApiErrorKind::Server, true),
        (503, ApiErrorKind::Server, true),
        (418, ApiErrorKind::Other, false),
    ] {
        let k = ApiErrorKind::from_status(StatusCode::from_u16(code).unwrap()).unwrap();
        assert_eq!(k, kind, "{code}");
        assert_eq!(k.is_retryable(), retry, "{code}");
    }
    assert_eq!(ApiErrorKind::from_status(StatusCode::OK), None);
    let body: qstash_protocol::ErrorBody = serde_json::from_str(r#"{"error":"quota"}"#).unwrap();
    assert_eq!(body.error, "quota");
}
