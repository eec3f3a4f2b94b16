//! Publish requests and batches of messages: every field round-trips through HTTP and JSON,
//! an independent reference decoder written here from `SERVER.md` §3 agrees with the crate,
//! and malformed input is refused with an error naming the header.

mod common;

use bytes::Bytes;
use common::{
    base, callback_url, flow_control, forwards, header_name, header_value, label, retry_delay,
    utf8_header_value, workflow_url,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use proptest::prelude::*;
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_protocol::{
    BuildErrorKind, CallbackUrl, DecodeErrorKind, DeduplicationId, Label, MAX_BATCH_ENTRIES,
    PublishBatch, PublishRequest, WorkflowUrl,
};
use qstash_retry_delay::RetryDelay;

/// Every field of a message, independently present or absent.
#[derive(Debug, Clone)]
struct Msg {
    url: WorkflowUrl,
    body: Vec<u8>,
    content_type: Option<Vec<u8>>,
    method: Option<Method>,
    forwards: Vec<(String, Vec<u8>)>,
    retries: Option<u32>,
    delay: Option<Delay>,
    not_before: Option<u64>,
    timeout: Option<Delay>,
    retry_delay: Option<RetryDelay>,
    labels: Vec<Label>,
    flow_control: Option<(FlowControlKey, FlowControl)>,
    callback: Option<CallbackUrl>,
    callback_forwards: Vec<(String, Vec<u8>)>,
    failure: Option<CallbackUrl>,
    failure_forwards: Vec<(String, Vec<u8>)>,
    dedup: Option<DeduplicationId>,
    content_based: Option<bool>,
    extras: Vec<(String, Vec<u8>)>,
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::PATCH),
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}".prop_map(|s| Method::from_bytes(s.as_bytes()).unwrap()),
    ]
}

fn dedup() -> impl Strategy<Value = DeduplicationId> {
    "[!-+--~]{1,40}".prop_map(|s| DeduplicationId::new(s).unwrap())
}

/// Unknown `Upstash-*` names: workflow headers and made-up ones, some repeated.
fn extras() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("Upstash-Workflow-RunId".to_owned()),
        Just("Upstash-Workflow-Init".to_owned()),
        Just("Upstash-Feature-Set".to_owned()),
        header_name().prop_map(|n| format!("Upstash-X-{n}")),
    ];
    prop::collection::vec((name, header_value()), 0..5)
}

fn msg() -> impl Strategy<Value = Msg> {
    let delay = || prop::option::of(any::<u64>().prop_map(Delay::from_nanos));
    let a = (
        workflow_url(),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::option::of(header_value()),
        prop::option::of(method()),
        forwards(),
        prop::option::of(any::<u32>()),
        delay(),
        prop::option::of(any::<u64>()),
    );
    let b = (
        delay(),
        prop::option::of(retry_delay()),
        prop::collection::vec(label(), 0..4),
        prop::option::of(flow_control()),
        prop::option::of(callback_url()),
        forwards(),
        prop::option::of(callback_url()),
        forwards(),
    );
    let c = (
        prop::option::of(dedup()),
        prop::option::of(any::<bool>()),
        extras(),
    );
    (a, b, c).prop_map(
        |(
            (url, body, content_type, method, forwards, retries, delay, not_before),
            (timeout, retry_delay, labels, flow_control, callback, cbf, failure, ff),
            (dedup, content_based, extras),
        )| Msg {
            callback_forwards: if callback.is_some() { cbf } else { Vec::new() },
            failure_forwards: if failure.is_some() { ff } else { Vec::new() },
            url,
            body,
            content_type,
            method,
            forwards,
            retries,
            delay,
            not_before,
            timeout,
            retry_delay,
            labels,
            flow_control,
            callback,
            failure,
            dedup,
            content_based,
            extras,
        },
    )
}

impl Msg {
    fn build(&self) -> PublishRequest {
        let mut b = PublishRequest::builder(self.url.clone()).body(Bytes::from(self.body.clone()));
        if let Some(ct) = &self.content_type {
            b = b.content_type(ct);
        }
        if let Some(m) = &self.method {
            b = b.method(m.clone());
        }
        for (n, v) in &self.forwards {
            b = b.forward(n, v);
        }
        if let Some(n) = self.retries {
            b = b.retries(n);
        }
        if let Some(d) = self.delay {
            b = b.delay(d);
        }
        if let Some(t) = self.not_before {
            b = b.not_before(t);
        }
        if let Some(d) = self.timeout {
            b = b.timeout(d);
        }
        if let Some(rd) = &self.retry_delay {
            b = b.retry_delay(rd.clone());
        }
        b = b.labels(self.labels.iter().cloned());
        if let Some((k, v)) = &self.flow_control {
            b = b.flow_control(k.clone(), *v);
        }
        if let Some(u) = &self.callback {
            b = b.callback(u.clone());
        }
        for (n, v) in &self.callback_forwards {
            b = b.callback_forward(n, v);
        }
        if let Some(u) = &self.failure {
            b = b.failure_callback(u.clone());
        }
        for (n, v) in &self.failure_forwards {
            b = b.failure_callback_forward(n, v);
        }
        if let Some(id) = &self.dedup {
            b = b.deduplication_id(id.clone());
        }
        if let Some(on) = self.content_based {
            b = b.content_based_deduplication(on);
        }
        for (n, v) in &self.extras {
            b = b.extra_header(n, v);
        }
        b.build().unwrap()
    }

    /// What the reference decoder must read from the encoded request.
    fn expected(&self) -> Reference {
        let lower = |pairs: &[(String, Vec<u8>)]| {
            grouped(
                pairs
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                    .collect(),
            )
        };
        let mut r = Reference {
            destination: self.url.as_str().to_owned(),
            method: self.method.as_ref().map(|m| m.as_str().to_owned()),
            ..Reference::default()
        };
        let mut set = |n: &str, v: String| {
            r.known.push((n.to_owned(), v));
        };
        if let Some(ct) = &self.content_type {
            set("content-type", String::from_utf8_lossy(ct).into_owned());
        }
        if let Some(n) = self.retries {
            set("upstash-retries", n.to_string());
        }
        if let Some(d) = self.delay {
            set("upstash-delay", d.to_string());
        }
        if let Some(t) = self.not_before {
            set("upstash-not-before", t.to_string());
        }
        if let Some(d) = self.timeout {
            set("upstash-timeout", d.to_string());
        }
        if let Some(rd) = &self.retry_delay {
            set("upstash-retry-delay", rd.as_str().to_owned());
        }
        if !self.labels.is_empty() {
            let l: Vec<&str> = self.labels.iter().map(|l| l.as_str()).collect();
            set("upstash-label", l.join(","));
        }
        if let Some((k, v)) = &self.flow_control {
            set("upstash-flow-control-key", k.as_str().to_owned());
            set("upstash-flow-control-value", v.to_string());
        }
        if let Some(u) = &self.callback {
            set("upstash-callback", u.as_str().to_owned());
        }
        if let Some(u) = &self.failure {
            set("upstash-failure-callback", u.as_str().to_owned());
        }
        if let Some(id) = &self.dedup {
            set("upstash-deduplication-id", id.as_str().to_owned());
        }
        if let Some(on) = self.content_based {
            set("upstash-content-based-deduplication", on.to_string());
        }
        r.known.sort();
        r.forwards = lower(&self.forwards);
        r.callback_forwards = lower(&self.callback_forwards);
        r.failure_forwards = lower(&self.failure_forwards);
        r.extras = lower(&self.extras);
        r.body = self.body.clone();
        r
    }
}

fn grouped(mut v: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// What a message is, read by the reference decoder: known headers as text, forwarded
/// headers by list (without prefix), extras; every list sorted by name.
#[derive(Debug, Default, PartialEq)]
struct Reference {
    destination: String,
    method: Option<String>,
    known: Vec<(String, String)>,
    forwards: Vec<(String, Vec<u8>)>,
    callback_forwards: Vec<(String, Vec<u8>)>,
    failure_forwards: Vec<(String, Vec<u8>)>,
    extras: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// An independent decoder: `SERVER.md` §3 read literally, for well-formed requests only.
fn reference_decode(req: &Request<Bytes>) -> Reference {
    let pq = req.uri().path_and_query().unwrap().as_str();
    let mut r = Reference {
        destination: pq.strip_prefix("/v2/publish/").unwrap().to_owned(),
        body: req.body().to_vec(),
        ..Reference::default()
    };
    const KNOWN: &[&str] = &[
        "content-type",
        "upstash-retries",
        "upstash-delay",
        "upstash-not-before",
        "upstash-timeout",
        "upstash-retry-delay",
        "upstash-label",
        "upstash-flow-control-key",
        "upstash-flow-control-value",
        "upstash-callback",
        "upstash-failure-callback",
        "upstash-deduplication-id",
        "upstash-content-based-deduplication",
    ];
    for (name, value) in req.headers() {
        let n = name.as_str();
        let v = value.as_bytes().to_vec();
        if n == "upstash-method" {
            r.method = Some(String::from_utf8(v).unwrap());
        } else if KNOWN.contains(&n) {
            r.known
                .push((n.to_owned(), String::from_utf8_lossy(&v).into_owned()));
        } else if let Some(bare) = n.strip_prefix("upstash-failure-callback-forward-") {
            r.failure_forwards.push((bare.to_owned(), v));
        } else if let Some(bare) = n.strip_prefix("upstash-callback-forward-") {
            r.callback_forwards.push((bare.to_owned(), v));
        } else if let Some(bare) = n.strip_prefix("upstash-forward-") {
            r.forwards.push((bare.to_owned(), v));
        } else if n.starts_with("upstash-") {
            r.extras.push((n.to_owned(), v));
        }
    }
    r.known.sort();
    r.forwards = grouped(r.forwards);
    r.callback_forwards = grouped(r.callback_forwards);
    r.failure_forwards = grouped(r.failure_forwards);
    r.extras = grouped(r.extras);
    r
}

/// The crate's view of a decoded message, in the reference's terms.
fn project(m: &PublishRequest) -> Reference {
    let fwd = |f: &qstash_protocol::ForwardedHeaders| {
        grouped(
            f.iter()
                .map(|(n, v)| (n.to_owned(), v.as_bytes().to_vec()))
                .collect(),
        )
    };
    let mut known = Vec::new();
    let mut set = |n: &str, v: String| known.push((n.to_owned(), v));
    if let Some(ct) = m.content_type() {
        set(
            "content-type",
            String::from_utf8_lossy(ct.as_bytes()).into_owned(),
        );
    }
    if let Some(n) = m.retries() {
        set("upstash-retries", n.to_string());
    }
    if let Some(d) = m.delay() {
        set("upstash-delay", d.to_string());
    }
    if let Some(t) = m.not_before() {
        set("upstash-not-before", t.to_string());
    }
    if let Some(d) = m.timeout() {
        set("upstash-timeout", d.to_string());
    }
    if let Some(rd) = m.retry_delay() {
        set("upstash-retry-delay", rd.as_str().to_owned());
    }
    if !m.labels().is_empty() {
        let l: Vec<&str> = m.labels().iter().map(|l| l.as_str()).collect();
        set("upstash-label", l.join(","));
    }
    if let Some((k, v)) = m.flow_control() {
        set("upstash-flow-control-key", k.as_str().to_owned());
        set("upstash-flow-control-value", v.to_string());
    }
    if let Some(cb) = m.callback() {
        set("upstash-callback", cb.url().as_str().to_owned());
    }
    if let Some(cb) = m.failure_callback() {
        set("upstash-failure-callback", cb.url().as_str().to_owned());
    }
    if let Some(id) = m.deduplication_id() {
        set("upstash-deduplication-id", id.as_str().to_owned());
    }
    if let Some(on) = m.content_based_deduplication() {
        set("upstash-content-based-deduplication", on.to_string());
    }
    known.sort();
    Reference {
        destination: m.destination().as_str().to_owned(),
        method: m.method_header().map(|m| m.as_str().to_owned()),
        known,
        forwards: fwd(m.forwarded()),
        callback_forwards: m.callback().map(|c| fwd(c.forwarded())).unwrap_or_default(),
        failure_forwards: m
            .failure_callback()
            .map(|c| fwd(c.forwarded()))
            .unwrap_or_default(),
        extras: grouped(
            m.extra_headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
        ),
        body: m.body().to_vec(),
    }
}

fn post(target: &str, headers: &[(&str, &str)]) -> Request<Bytes> {
    let mut b = Request::post(target);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(Bytes::new()).unwrap()
}

fn decode(headers: &[(&str, &str)]) -> Result<PublishRequest, qstash_protocol::DecodeError> {
    PublishRequest::from_http(&post("/v2/publish/https://example.com/hook", headers))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_field_round_trips(m in msg(), base in base()) {
        let req = m.build();
        let http = req.to_http(&base);
        prop_assert_eq!(http.method(), Method::POST);
        prop_assert_eq!(PublishRequest::from_http(&http), Ok(req.clone()));
        prop_assert_eq!(&req.headers(), http.headers());
        prop_assert_eq!(
            PublishRequest::from_parts(req.destination().as_str(), &req.headers(), req.body().clone()),
            Ok(req.clone())
        );
        prop_assert_eq!(req.clone().into_builder().build(), Ok(req));
    }

    #[test]
    fn agrees_with_the_reference_decoder(m in msg()) {
        let req = m.build();
        let http = req.to_http(&http::Uri::from_static("https://qstash.upstash.io"));
        let reference = reference_decode(&http);
        prop_assert_eq!(&reference, &m.expected());
        prop_assert_eq!(&project(&PublishRequest::from_http(&http).unwrap()), &reference);
    }

    #[test]
    fn batches_round_trip_through_json(ms in prop::collection::vec(msg(), 0..4)) {
        let reqs: Vec<PublishRequest> = ms.iter().map(Msg::build).collect();
        if let Ok(batch) = PublishBatch::new(reqs) {
            let json = batch.to_json();
            prop_assert_eq!(PublishBatch::from_json(&json), Ok(batch.clone()));
            let http = batch.to_http(&http::Uri::from_static("https://qstash.upstash.io"));
            prop_assert_eq!(PublishBatch::from_http(&http), Ok(batch));
        }
    }

    #[test]
    fn utf8_messages_always_fit_a_batch(
        url in workflow_url(),
        body in "[ -~\u{a0}-\u{2fff}]{0,40}",
        fwd in prop::collection::btree_map(header_name().prop_map(|n| n.to_ascii_lowercase()), utf8_header_value(), 0..4),
        extra in utf8_header_value(),
    ) {
        let mut b = PublishRequest::builder(url).body(body).extra_header("Upstash-Workflow-Url", &extra);
        for (n, v) in &fwd {
            b = b.forward(n, v);
        }
        let req = b.build().unwrap();
        let batch = PublishBatch::new(vec![req]).unwrap();
        prop_assert_eq!(PublishBatch::from_json(&batch.to_json()), Ok(batch));
    }

    #[test]
    fn arbitrary_headers_never_panic(
        pairs in prop::collection::vec(
            (
                prop_oneof![
                    Just("upstash-method".to_owned()),
                    Just("upstash-timeout".to_owned()),
                    Just("upstash-callback".to_owned()),
                    Just("upstash-callback-forward-x".to_owned()),
                    Just("upstash-failure-callback".to_owned()),
                    Just("upstash-deduplication-id".to_owned()),
                    Just("upstash-content-based-deduplication".to_owned()),
                    Just("upstash-forward-".to_owned()),
                    "upstash-[a-z-]{0,12}",
                ],
                prop::collection::vec(any::<u8>(), 0..20),
            ),
            0..6,
        )
    ) {
        let mut map = HeaderMap::new();
        for (n, v) in &pairs {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                map.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), v);
            }
        }
        if let Ok(req) = PublishRequest::from_parts("https://example.com/x", &map, Bytes::new()) {
            let again = PublishRequest::from_parts("https://example.com/x", &req.headers(), Bytes::new());
            prop_assert_eq!(again, Ok(req));
        }
    }
}

#[test]
fn method_defaults_to_post_and_keeps_its_case() {
    let req = decode(&[]).unwrap();
    assert_eq!(req.method(), Method::POST);
    assert_eq!(req.method_header(), None);
    assert!(!req.headers().contains_key("upstash-method"));

    let req = decode(&[("Upstash-Method", "get")]).unwrap();
    assert_eq!(req.method().as_str(), "get");
    assert_eq!(req.headers()["upstash-method"], "get");
}

#[test]
fn malformed_headers_are_named() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[("Upstash-Method", "")],
            "Upstash-Method",
            "invalid Upstash-Method: invalid method \"\": empty",
        ),
        (
            &[("Upstash-Method", "GE T")],
            "Upstash-Method",
            "invalid Upstash-Method: invalid method \"GE T\": space is not allowed at byte 2",
        ),
        (
            &[("Upstash-Timeout", "30")],
            "Upstash-Timeout",
            "invalid Upstash-Timeout: ",
        ),
        (
            &[("Upstash-Callback", "")],
            "Upstash-Callback",
            "invalid Upstash-Callback: ",
        ),
        (
            &[("Upstash-Failure-Callback", "")],
            "Upstash-Failure-Callback",
            "invalid Upstash-Failure-Callback: invalid failure callback URL \"\": empty",
        ),
        (
            &[("Upstash-Deduplication-Id", "a b")],
            "Upstash-Deduplication-Id",
            "invalid Upstash-Deduplication-Id: invalid deduplication id \"a b\": space is not allowed at byte 1",
        ),
        (
            &[("Upstash-Content-Based-Deduplication", "yes")],
            "Upstash-Content-Based-Deduplication",
            "invalid Upstash-Content-Based-Deduplication: invalid boolean \"yes\": not one of the accepted values at byte 0",
        ),
        (
            &[("Upstash-Timeout", "1s"), ("upstash-timeout", "2s")],
            "Upstash-Timeout",
            "Upstash-Timeout sent more than once",
        ),
        (
            &[("Upstash-Callback-Forward-X", "1")],
            "Upstash-Callback-Forward-x",
            "Upstash-Callback-Forward-x is only valid with Upstash-Callback, which is absent",
        ),
        (
            &[("Upstash-Failure-Callback-Forward-X", "1")],
            "Upstash-Failure-Callback-Forward-x",
            "Upstash-Failure-Callback-Forward-x is only valid with Upstash-Failure-Callback, which is absent",
        ),
        (
            &[("Upstash-Callback-Forward-", "1")],
            "Upstash-Callback-Forward-",
            "Upstash-Callback-Forward- has no header name after the prefix",
        ),
    ];
    for (headers, field, message) in cases {
        let err = decode(headers).unwrap_err();
        assert_eq!(err.field(), Some(*field), "{headers:?}");
        assert!(err.to_string().starts_with(message), "{headers:?}: {err}");
    }
}

#[test]
fn wrong_method_path_and_destination() {
    let get = Request::get("/v2/publish/https://example.com/x")
        .body(Bytes::new())
        .unwrap();
    assert_eq!(
        PublishRequest::from_http(&get).unwrap_err().kind(),
        DecodeErrorKind::Method
    );
    let err =
        PublishRequest::from_http(&post("/v2/trigger/https://example.com/x", &[])).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Path);
    let err = PublishRequest::from_http(&post("/v2/publish/ftp://example.com/x", &[])).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::WorkflowUrl);
    assert_eq!(
        PublishRequest::from_parts("example.com", &HeaderMap::new(), Bytes::new())
            .unwrap_err()
            .kind(),
        DecodeErrorKind::WorkflowUrl
    );
}

#[test]
fn destination_and_extras_are_kept_verbatim() {
    let req = PublishRequest::from_http(&post(
        "/v2/publish/https://example.com/a%2Fb?x=%20&y",
        &[
            ("Upstash-Workflow-RunId", "wfr_1"),
            ("X-Other", "ignored"),
            ("Upstash-Workflow-Init", "true"),
            ("upstash-workflow-runid", "wfr_2"),
        ],
    ))
    .unwrap();
    assert_eq!(
        req.destination().as_str(),
        "https://example.com/a%2Fb?x=%20&y"
    );
    let extras: Vec<(&str, &[u8])> = req
        .extra_headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    assert_eq!(
        extras,
        [
            ("upstash-workflow-runid", &b"wfr_1"[..]),
            ("upstash-workflow-runid", b"wfr_2"),
            ("upstash-workflow-init", b"true"),
        ]
    );
    assert!(!req.headers().contains_key("x-other"));
}

#[test]
fn builder_groups_extras_like_a_header_map() {
    let req = PublishRequest::builder(WorkflowUrl::new("https://example.com/x").unwrap())
        .extra_header("Upstash-A", "1")
        .extra_header("Upstash-B", "2")
        .extra_header("Upstash-A", "3")
        .build()
        .unwrap();
    let names: Vec<&str> = req
        .extra_headers()
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["upstash-a", "upstash-a", "upstash-b"]);
    let http = req.to_http(&http::Uri::from_static("https://q.example"));
    assert_eq!(PublishRequest::from_http(&http), Ok(req.clone()));
    // JSON carries one value per name.
    let err = PublishBatch::new(vec![req]).unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::RepeatedHeader);
}

#[test]
fn builder_errors() {
    let b = || PublishRequest::builder(WorkflowUrl::new("https://example.com/x").unwrap());
    let err = b().extra_header("Upstash-Delay", "1s").build().unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::NotAnExtraHeader);
    assert_eq!(
        err.to_string(),
        "Upstash-Delay cannot be an extra header: only unknown Upstash-* headers can"
    );
    let err = b()
        .extra_header("Upstash-Forward-X", "1")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::NotAnExtraHeader);
    let err = b().extra_header("X-Custom", "1").build().unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::NotAnExtraHeader);
    let err = b()
        .extra_header("Upstash-Bad Name", "1")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::InvalidHeaderName);
    let err = b().extra_header("Upstash-X", "a\nb").build().unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::InvalidValue);
    let err = b().callback_forward("X", "1").build().unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::CallbackForwardWithoutCallback);
    assert_eq!(
        err.to_string(),
        "callback forwarded headers need a callback (Upstash-Callback)"
    );
    let err = b().failure_callback_forward("X", "1").build().unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::CallbackForwardWithoutCallback);
    let err = b().content_type("a\r\n").build().unwrap_err();
    assert_eq!(err.field(), Some("Content-Type"));
}

#[test]
fn batch_entries_are_named_in_errors() {
    let err = PublishBatch::from_json(
        br#"[{"destination":"https://example.com/a","headers":{}},
            {"destination":"https://example.com/b","queue":"q","body":"x"},
            {"destination":"https://example.com/c","headers":{"Upstash-Retries":"x"}}]"#,
    )
    .unwrap_err();
    assert_eq!(err.entry(), Some(2));
    assert_eq!(err.field(), Some("Upstash-Retries"));
    assert!(
        err.to_string()
            .starts_with("batch entry 2: invalid Upstash-Retries: "),
        "{err}"
    );

    let err = PublishBatch::from_json(
        br#"[{"destination":"https://example.com/a","headers":{"Upstash-Delay":"1s","upstash-delay":"2s"}}]"#,
    )
    .unwrap_err();
    assert_eq!(
        (err.entry(), err.kind()),
        (Some(0), DecodeErrorKind::Duplicate)
    );

    for bad in [
        &b"{}"[..],
        b"[1]",
        b"[{}]",
        b"[",
        b"",
        b"[] x",
        br#"[{"destination":1}]"#,
    ] {
        let err = PublishBatch::from_json(bad).unwrap_err();
        assert_eq!(
            err.kind(),
            DecodeErrorKind::Json,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(PublishBatch::from_json(b"[]").unwrap().entries().len(), 0);
}

#[test]
fn batch_size_is_bounded() {
    let entry = r#"{"destination":"https://example.com/a"}"#;
    let json = |n: usize| format!("[{}]", vec![entry; n].join(","));
    assert_eq!(
        PublishBatch::from_json(json(MAX_BATCH_ENTRIES).as_bytes())
            .unwrap()
            .entries()
            .len(),
        MAX_BATCH_ENTRIES
    );
    let err = PublishBatch::from_json(json(MAX_BATCH_ENTRIES + 1).as_bytes()).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::TooManyEntries);
    assert_eq!(err.to_string(), "a batch holds at most 1000 entries");

    let one = PublishRequest::builder(WorkflowUrl::new("https://example.com/a").unwrap())
        .build()
        .unwrap();
    let err = PublishBatch::new(vec![one; MAX_BATCH_ENTRIES + 1]).unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::TooManyEntries);
}

#[test]
fn batch_json_uses_canonical_names() {
    let req = PublishRequest::builder(WorkflowUrl::new("https://example.com/a").unwrap())
        .method(Method::PUT)
        .timeout("5s".parse().unwrap())
        .callback(CallbackUrl::new("https://example.com/cb").unwrap())
        .callback_forward("X-Id", "1")
        .content_based_deduplication(true)
        .extra_header("Upstash-Workflow-RunId", "wfr_1")
        .build()
        .unwrap();
    let json = String::from_utf8(PublishBatch::new(vec![req]).unwrap().to_json()).unwrap();
    assert_eq!(
        json,
        r#"[{"destination":"https://example.com/a","headers":{"Upstash-Method":"PUT","Upstash-Timeout":"5s","Upstash-Callback":"https://example.com/cb","Upstash-Content-Based-Deduplication":"true","Upstash-Callback-Forward-x-id":"1","upstash-workflow-runid":"wfr_1"}}]"#
    );
}

#[test]
fn content_based_deduplication_reads_any_case() {
    assert_eq!(
        decode(&[("Upstash-Content-Based-Deduplication", "TRUE")])
            .unwrap()
            .content_based_deduplication(),
        Some(true)
    );
    assert_eq!(
        decode(&[("Upstash-Content-Based-Deduplication", "false")])
            .unwrap()
            .content_based_deduplication(),
        Some(false)
    );
}

#[test]
fn a_bad_destination_is_called_a_destination_url() {
    let err = PublishRequest::from_http(&post("/v2/publish/example.com/hook", &[])).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(r#"invalid destination URL "example.com/hook""#),
        "{message}"
    );
    assert!(!message.contains("workflow URL"), "{message}");
    let err = PublishRequest::from_parts("ftp://example.com/x", &HeaderMap::new(), Bytes::new())
        .unwrap_err();
    assert!(err.to_string().contains("invalid destination URL"), "{err}");
}
