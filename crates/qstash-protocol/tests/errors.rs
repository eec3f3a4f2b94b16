//! Every build and decode error: its kind, the header it names, the parser's error it
//! carries, and its message.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request};
use qstash_protocol::{
    BatchRequestEntry, BuildErrorKind, BulkCancel, CancelRun, DecodeError, DecodeErrorKind,
    HeaderError, LogsQuery, MAX_FORWARDED_HEADERS, TriggerBatch, TriggerRequest,
    TriggerRequestBuilder, ValueErrorKind, WorkflowUrl,
};
use qstash_retry_delay::RetryDelay;

fn builder() -> TriggerRequestBuilder {
    TriggerRequest::builder(WorkflowUrl::new("https://example.com/wf").unwrap())
}

// ---- build time: bad values are rejected, never sent ----

#[test]
fn forwarded_values_with_cr_or_lf_are_rejected_at_build_time() {
    for (value, offset, what) in [
        ("a\r\nInjected: yes", 1, "carriage return (0x0D)"),
        ("line1\nline2", 5, "line feed (0x0A)"),
        ("x\ry", 1, "carriage return (0x0D)"),
        ("nul\0", 3, "NUL (0x00)"),
        ("del\x7f", 3, "byte 0x7F"),
        ("bell\x07", 4, "byte 0x07"),
    ] {
        let err = builder().forward("X-Trace", value).build().unwrap_err();
        assert_eq!(err.kind(), BuildErrorKind::InvalidValue, "{value:?}");
        assert_eq!(err.field(), Some("Upstash-Forward-x-trace"));
        let v = err.value_error().unwrap();
        assert_eq!(v.kind(), ValueErrorKind::InvalidByte);
        assert_eq!(v.offset(), offset, "{value:?}");
        assert_eq!(v.span(), offset..offset + 1);
        assert!(
            err.to_string()
                .ends_with(&format!("{what} is not allowed at byte {offset}")),
            "{err}"
        );

        // The same for the failure callback's forwarded headers.
        let err = builder()
            .failure_function()
            .failure_forward("X-Trace", value)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), BuildErrorKind::InvalidValue);
        assert_eq!(
            err.field(),
            Some("Upstash-Failure-Callback-Forward-x-trace")
        );
    }
}

#[test]
fn surrounding_whitespace_is_rejected() {
    for (value, offset) in [(" x", 0), ("x ", 1), ("\tx", 0), ("x\t", 1), (" ", 0)] {
        let err = builder().forward("X-A", value).build().unwrap_err();
        let v = err.value_error().unwrap();
        assert_eq!(v.kind(), ValueErrorKind::SurroundingWhitespace, "{value:?}");
        assert_eq!(v.offset(), offset, "{value:?}");
    }
    // A typed value is checked too.
    let err = builder()
        .forward("X-A", HeaderValue::from_static("x "))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::InvalidValue);
    // Inner whitespace, tabs, obs-text and an empty value are fine.
    let req = builder()
        .forward("X-A", "a b\tc")
        .forward("X-B", b"\xff\x80")
        .forward("X-C", "")
        .build()
        .unwrap();
    assert_eq!(req.forwarded().get("x-a").unwrap(), "a b\tc");
    assert_eq!(req.forwarded().get("x-b").unwrap().as_bytes(), b"\xff\x80");
    assert_eq!(req.forwarded().get("x-c").unwrap(), "");
}

#[test]
fn invalid_forwarded_names_are_rejected() {
    for (name, kind, offset) in [
        ("", ValueErrorKind::Empty, 0),
        ("My Header", ValueErrorKind::InvalidByte, 2),
        ("X:Y", ValueErrorKind::InvalidByte, 1),
        ("Ünicode", ValueErrorKind::InvalidByte, 0),
        ("a\nb", ValueErrorKind::InvalidByte, 1),
    ] {
        let err = builder().forward(name, "v").build().unwrap_err();
        assert_eq!(err.kind(), BuildErrorKind::InvalidHeaderName, "{name:?}");
        let v = err.value_error().unwrap();
        assert_eq!(v.kind(), kind, "{name:?}");
        assert_eq!(v.offset(), offset, "{name:?}");
    }
    let err = builder().forward("", "v").build().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid name for Upstash-Forward-: invalid header name "": empty"#
    );
}

#[test]
fn the_first_error_is_kept() {
    let err = builder()
        .forward("A", "bad\n")
        .forward("", "v")
        .content_type("x\r")
        .build()
        .unwrap_err();
    assert_eq!(err.field(), Some("Upstash-Forward-a"));
}

#[test]
fn content_type_is_checked() {
    let err = builder()
        .content_type("text/plain\r\nX: y")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::InvalidValue);
    assert_eq!(err.field(), Some("Content-Type"));
}

#[test]
fn callback_forward_without_callback() {
    let err = builder().failure_forward("X-A", "1").build().unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::CallbackForwardWithoutCallback);
    assert!(err.to_string().contains("need a failure callback"), "{err}");
    // Setting the target later is fine.
    let req = builder()
        .failure_forward("X-A", "1")
        .failure_function()
        .build()
        .unwrap();
    assert_eq!(req.failure_callback().unwrap().forwarded().len(), 1);
}

#[test]
fn retry_delay_sources_a_header_cannot_carry() {
    // The expression grammar allows any ASCII whitespace between tokens; a header does not.
    for source in ["1000 *\nretried", "1000\r\n", " 1000", "1000 "] {
        if let Ok(rd) = RetryDelay::compile(source) {
            let err = builder().retry_delay(rd).build().unwrap_err();
            assert_eq!(err.kind(), BuildErrorKind::InvalidValue, "{source:?}");
            assert_eq!(err.field(), Some("Upstash-Retry-Delay"));
        }
    }
    let rd = RetryDelay::compile("1000 *\nretried").unwrap();
    assert!(builder().retry_delay(rd).build().is_err());
}

#[test]
fn too_many_forwarded_headers() {
    let mut b = builder();
    for i in 0..MAX_FORWARDED_HEADERS - 1 {
        b = b.forward(format!("x-{}", i % 100), "v");
    }
    let ok = b
        .clone()
        .failure_function()
        .failure_forward("x", "v")
        .build()
        .unwrap();
    assert_eq!(ok.forwarded().len(), MAX_FORWARDED_HEADERS - 1);
    assert_eq!(
        ok.forwarded().get_all("X-7").count(),
        (MAX_FORWARDED_HEADERS - 1) / 100 + 1
    );
    let err = b
        .failure_function()
        .failure_forward("x", "v")
        .failure_forward("y", "v")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::TooManyForwardedHeaders);
    assert_eq!(err.to_string(), "more than 16384 forwarded headers");
}

// ---- decoding ----

fn post(path: &str, headers: &[(&str, &[u8])]) -> Request<Bytes> {
    let mut b = Request::post(path);
    for (n, v) in headers {
        b = b.header(*n, HeaderValue::from_bytes(v).unwrap());
    }
    b.body(Bytes::new()).unwrap()
}

fn decode_err(headers: &[(&str, &[u8])]) -> DecodeError {
    TriggerRequest::from_http(&post("/v2/trigger/https://example.com/wf", headers)).unwrap_err()
}

#[test]
fn wrong_method_and_path() {
    let req = Request::get("/v2/trigger/https://example.com/wf")
        .body(Bytes::new())
        .unwrap();
    let err = TriggerRequest::from_http(&req).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Method);
    assert_eq!(err.to_string(), "wrong method: expected POST, found GET");

    for path in [
        "/v2/publish/https://example.com",
        "/v2/trigger",
        "/",
        "/v2/Trigger/https://x",
    ] {
        let err = TriggerRequest::from_http(&post(path, &[])).unwrap_err();
        assert_eq!(err.kind(), DecodeErrorKind::Path, "{path}");
    }
    let err = TriggerRequest::from_http(&post("/v2/trigger", &[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"wrong path: expected /v2/trigger/{workflowUrl}, found "/v2/trigger""#
    );
}

#[test]
fn invalid_destinations() {
    for (path, kind) in [
        ("/v2/trigger/", ValueErrorKind::Empty),
        ("/v2/trigger/ftp://example.com", ValueErrorKind::NotHttpUrl),
        ("/v2/trigger/example.com/wf", ValueErrorKind::NotHttpUrl),
        ("/v2/trigger/https://", ValueErrorKind::MissingHost),
        ("/v2/trigger/https:///wf", ValueErrorKind::MissingHost),
        ("/v2/trigger/https://?x", ValueErrorKind::MissingHost),
    ] {
        let err = TriggerRequest::from_http(&post(path, &[])).unwrap_err();
        assert_eq!(err.kind(), DecodeErrorKind::WorkflowUrl, "{path}");
        match err.header_error() {
            Some(HeaderError::Value(v)) => assert_eq!(v.kind(), kind, "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    // Escapes are kept as they are, never decoded, even when they decode to nonsense.
    let req = TriggerRequest::from_http(&post("/v2/trigger/https://%C3%A9/%FF%zz", &[])).unwrap();
    assert_eq!(req.url().as_str(), "https://%C3%A9/%FF%zz");
    let err = TriggerRequest::from_http(&post("/v2/trigger/ftp://x", &[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid destination: invalid workflow URL "ftp://x": expected an absolute URL starting with http:// or https:// at byte 0"#
    );
}

/// Destinations an HTTP stack would rewrite (`SPEC.md` §1) are refused when built, with the
/// character or segment named.
#[test]
fn destinations_a_url_parser_would_rewrite_are_refused() {
    for (url, kind, offset, message) in [
        (
            "https://example.com/../x",
            ValueErrorKind::DotSegment,
            20,
            r#"dot segment ".." is not allowed at byte 20"#,
        ),
        (
            "https://example.com/a/./b",
            ValueErrorKind::DotSegment,
            22,
            r#"dot segment "." is not allowed at byte 22"#,
        ),
        (
            "https://example.com/a/..",
            ValueErrorKind::DotSegment,
            22,
            r#"dot segment ".." is not allowed at byte 22"#,
        ),
        (
            "https://example.com/.",
            ValueErrorKind::DotSegment,
            20,
            r#"dot segment "." is not allowed at byte 20"#,
        ),
        (
            "https://example.com/a/%2e%2E/b?x",
            ValueErrorKind::DotSegment,
            22,
            r#"dot segment "%2e%2E" is not allowed at byte 22"#,
        ),
        (
            "https://example.com/.%2e",
            ValueErrorKind::DotSegment,
            20,
            r#"dot segment ".%2e" is not allowed at byte 20"#,
        ),
        (
            "https://example.com/%2E.",
            ValueErrorKind::DotSegment,
            20,
            r#"dot segment "%2E." is not allowed at byte 20"#,
        ),
        (
            "https://example.com/a\\b",
            ValueErrorKind::InvalidByte,
            21,
            r#""\\" is not allowed at byte 21"#,
        ),
        (
            "https://example.com/a#top",
            ValueErrorKind::InvalidByte,
            21,
            r##""#" is not allowed at byte 21"##,
        ),
        (
            "https://example.com/say\"hi\"",
            ValueErrorKind::InvalidByte,
            23,
            r#""\"" is not allowed at byte 23"#,
        ),
        (
            "https://example.com/{id}",
            ValueErrorKind::InvalidByte,
            20,
            r#""{" is not allowed at byte 20"#,
        ),
        (
            "https://example.com/a}",
            ValueErrorKind::InvalidByte,
            21,
            r#""}" is not allowed at byte 21"#,
        ),
        (
            "https://example.com/it's",
            ValueErrorKind::InvalidByte,
            22,
            r#""'" is not allowed at byte 22"#,
        ),
        (
            "https://example.com/wf?name='x'",
            ValueErrorKind::InvalidByte,
            28,
            r#""'" is not allowed at byte 28"#,
        ),
        (
            "https://example.com/wf?q={}",
            ValueErrorKind::InvalidByte,
            25,
            r#""{" is not allowed at byte 25"#,
        ),
        (
            "https://example.com/a b",
            ValueErrorKind::InvalidByte,
            21,
            "space is not allowed at byte 21",
        ),
        (
            "https://example.com/a\tb",
            ValueErrorKind::InvalidByte,
            21,
            "tab (0x09) is not allowed at byte 21",
        ),
        (
            "https://example.com/\u{e9}",
            ValueErrorKind::InvalidByte,
            20,
            "byte 0xC3 is not allowed at byte 20",
        ),
    ] {
        let err = WorkflowUrl::new(url).unwrap_err();
        assert_eq!((err.kind(), err.offset()), (kind, offset), "{url}");
        assert!(err.to_string().ends_with(message), "{url}: {err}");
    }
    // Not dot segments: dots inside a segment, three dots, an escaped slash.
    for url in [
        "https://example.com/a.b/.../..x/x../%2e%2e%2e/%2F..",
        "https://example.com/a/%2e-x",
        "https://example.com/a?x=/../.",
        "https://example.com/|^[]!$&()*+,;=:@-._~",
    ] {
        assert!(WorkflowUrl::new(url).is_ok(), "{url}");
    }
    let err = TriggerRequest::from_http(&post("/v2/trigger/https://example.com/a/../b", &[]))
        .unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::WorkflowUrl);
    assert_eq!(
        err.to_string(),
        r#"invalid destination: invalid workflow URL "https://example.com/a/../b": dot segment ".." is not allowed at byte 22"#
    );
}

#[test]
fn every_malformed_known_header_names_itself() {
    let cases: &[(&str, &[u8])] = &[
        ("Upstash-Workflow-RunId", b"run 1"),
        ("Upstash-Workflow-RunId", b""),
        ("Upstash-Workflow-RunId", b"a,b"),
        ("Upstash-Retries", b"-1"),
        ("Upstash-Retries", b"+1"),
        ("Upstash-Retries", b"4294967296"),
        ("Upstash-Retries", b""),
        ("Upstash-Retries", b"3 "),
        ("Upstash-Delay", b"10"),
        ("Upstash-Delay", b"1x"),
        ("Upstash-Delay", b""),
        ("Upstash-Not-Before", b"soon"),
        ("Upstash-Not-Before", b"18446744073709551616"),
        ("Upstash-Label", b""),
        ("Upstash-Label", b"a,,b"),
        ("Upstash-Label", b"a,"),
        ("Upstash-Label", b"a b"),
        ("Upstash-Flow-Control-Key", b""),
        ("Upstash-Flow-Control-Key", b"a b"),
        ("Upstash-Flow-Control-Value", b"parallelism=0"),
        ("Upstash-Flow-Control-Value", b"concurrency=1"),
        ("Upstash-Failure-Callback", b"example.com/cb"),
        ("Upstash-Failure-Callback", b"https://"),
        ("Upstash-Failure-Callback", b"https://x/\xff"),
        ("Upstash-Retry-Delay", b"retried ^ 2"),
        ("Upstash-Retry-Delay", b"nope(1)"),
        ("Upstash-Retry-Delay", b" 1000"),
        ("Upstash-Retry-Delay", b""),
        ("Content-Type", b" text/plain"),
    ];
    for (name, value) in cases {
        let err = decode_err(&[(name, value)]);
        assert_eq!(
            err.kind(),
            DecodeErrorKind::InvalidValue,
            "{name}: {value:?}"
        );
        assert_eq!(err.field(), Some(*name), "{name}: {value:?}");
        let source = err.header_error().unwrap();
        let expected = match *name {
            "Upstash-Delay" => matches!(source, HeaderError::Delay(_)),
            "Upstash-Flow-Control-Value" => matches!(source, HeaderError::FlowControl(_)),
            "Upstash-Flow-Control-Key" => matches!(source, HeaderError::FlowControlKey(_)),
            "Upstash-Retry-Delay" if *value != b" 1000" => {
                matches!(source, HeaderError::RetryDelay(_))
            }
            _ => matches!(source, HeaderError::Value(_)),
        };
        assert!(expected, "{name}: {value:?} gave {source:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("invalid {name}: ")), "{msg}");
        assert!(msg.ends_with(&source.to_string()), "{msg}");
        // The message ends with the header's error, so the chain goes on with its cause.
        assert_eq!(
            std::error::Error::source(&err).map(|e| e.to_string()),
            std::error::Error::source(source).map(|e| e.to_string()),
            "{name}: {value:?}"
        );
    }
}

#[test]
fn number_errors_say_where() {
    let err = decode_err(&[("Upstash-Retries", b"12a")]);
    assert_eq!(
        err.to_string(),
        r#"invalid Upstash-Retries: invalid retries "12a": "a" is not a decimal digit at byte 2"#
    );
    let err = decode_err(&[("Upstash-Retries", b"99999999999")]);
    assert_eq!(
        err.to_string(),
        r#"invalid Upstash-Retries: invalid retries "99999999999": above the maximum of 4294967295 at byte 0"#
    );
    let err = decode_err(&[("Upstash-Label", b"ok, b@d ,")]);
    match err.header_error() {
        Some(HeaderError::Value(v)) => {
            assert_eq!(v.kind(), ValueErrorKind::Empty);
            assert_eq!(v.offset(), 9);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn single_valued_headers_sent_twice() {
    for name in [
        "Upstash-Workflow-RunId",
        "Upstash-Retries",
        "Upstash-Delay",
        "Upstash-Not-Before",
        "Upstash-Flow-Control-Key",
        "Upstash-Flow-Control-Value",
        "Upstash-Failure-Callback",
        "Upstash-Retry-Delay",
        "Content-Type",
    ] {
        let value: &[u8] = match name {
            "Upstash-Flow-Control-Value" => b"rate=1",
            "Upstash-Failure-Callback" => b"",
            "Upstash-Delay" => b"1s",
            "Upstash-Workflow-RunId" | "Upstash-Flow-Control-Key" | "Content-Type" => b"a",
            _ => b"1",
        };
        let lower = name.to_ascii_lowercase();
        let err = decode_err(&[(name, value), (&lower, value)]);
        assert_eq!(err.kind(), DecodeErrorKind::Duplicate, "{name}");
        assert_eq!(err.field(), Some(name));
        assert_eq!(err.to_string(), format!("{name} sent more than once"));
    }
}

#[test]
fn labels_add_up_over_several_lines() {
    let req = TriggerRequest::from_http(&post(
        "/v2/trigger/https://example.com/wf",
        &[("Upstash-Label", b"a,b"), ("upstash-label", b"c")],
    ))
    .unwrap();
    let labels: Vec<_> = req.labels().iter().map(|l| l.as_str()).collect();
    assert_eq!(labels, ["a", "b", "c"]);
}

#[test]
fn forwarded_and_flow_control_rules() {
    let err = decode_err(&[("Upstash-Forward-", b"v")]);
    assert_eq!(err.kind(), DecodeErrorKind::EmptyForwardName);
    assert_eq!(err.field(), Some("Upstash-Forward-"));
    assert_eq!(
        err.to_string(),
        "Upstash-Forward- has no header name after the prefix"
    );
    let err = decode_err(&[
        ("Upstash-Failure-Callback", b""),
        ("Upstash-Failure-Callback-Forward-", b"v"),
    ]);
    assert_eq!(err.kind(), DecodeErrorKind::EmptyForwardName);

    let err = decode_err(&[("Upstash-Forward-X", b"v ")]);
    assert_eq!(err.kind(), DecodeErrorKind::InvalidValue);
    assert_eq!(err.field(), Some("Upstash-Forward-x"));

    let err = decode_err(&[("Upstash-Flow-Control-Key", b"k")]);
    assert_eq!(err.kind(), DecodeErrorKind::FlowControlKeyWithoutValue);
    let err = decode_err(&[("Upstash-Flow-Control-Value", b"rate=1")]);
    assert_eq!(err.kind(), DecodeErrorKind::FlowControlValueWithoutKey);
    // A malformed value is reported as such, not as a missing key.
    let err = decode_err(&[("Upstash-Flow-Control-Value", b"rate=0")]);
    assert_eq!(err.kind(), DecodeErrorKind::InvalidValue);

    let err = decode_err(&[("Upstash-Failure-Callback-Forward-X-A", b"1")]);
    assert_eq!(err.kind(), DecodeErrorKind::CallbackForwardWithoutCallback);
    assert_eq!(err.field(), Some("Upstash-Failure-Callback-Forward-x-a"));
    assert_eq!(
        err.to_string(),
        "Upstash-Failure-Callback-Forward-x-a is only valid with Upstash-Failure-Callback, which is absent"
    );
}

#[test]
fn unknown_headers_are_ignored_and_names_are_case_insensitive() {
    let req = TriggerRequest::from_http(&post(
        "/v2/trigger/https://example.com/wf",
        &[
            ("Upstash-Unknown-Thing", b"\xff whatever"),
            ("Upstash-Forwarded", b"x"),
            ("Upstash-Method", b"GET"),
            ("X-Other", b"1"),
            ("UPSTASH-RETRIES", b"7"),
            ("uPsTaSh-FoRwArD-X-Mixed", b"v"),
        ],
    ))
    .unwrap();
    assert_eq!(req.retries(), Some(7));
    assert_eq!(req.forwarded().len(), 1);
    assert_eq!(req.forwarded().get("x-mixed").unwrap(), "v");
    // The header names `http` gives are lowercase; the mixed-case spellings were accepted.
    assert_eq!(
        HeaderName::from_bytes(b"UPSTASH-RETRIES").unwrap(),
        "upstash-retries"
    );
}

#[test]
fn too_many_forwarded_headers_when_decoding() {
    let mut b = Request::post("/v2/trigger/https://example.com/wf");
    for i in 0..=MAX_FORWARDED_HEADERS {
        b = b.header(format!("upstash-forward-x-{i}"), "v");
    }
    let err = TriggerRequest::from_http(&b.body(Bytes::new()).unwrap()).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::TooManyForwardedHeaders);
}

// ---- batches ----

fn batch_req(body: &str) -> Request<Bytes> {
    Request::post("/v2/batch/trigger")
        .body(Bytes::copy_from_slice(body.as_bytes()))
        .unwrap()
}

#[test]
fn batch_decode_errors() {
    let err = TriggerBatch::from_http(&batch_req("{}")).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Json);
    assert!(err.to_string().starts_with("invalid batch body: "), "{err}");

    let err = TriggerBatch::from_http(&batch_req(
        r#"[{"destination":"https://a.example"},{"destination":"https://b.example","headers":{"Upstash-Delay":"1s","upstash-delay":"2s"}}]"#,
    ))
    .unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Duplicate);
    assert_eq!(err.entry(), Some(1));
    assert_eq!(err.field(), Some("Upstash-Delay"));
    assert_eq!(
        err.to_string(),
        "batch entry 1: Upstash-Delay sent more than once"
    );

    let err = TriggerBatch::from_http(&batch_req(
        r#"[{"destination":"https://a.example","headers":{"Upstash-Forward-A":"1","upstash-forward-a":"2"}}]"#,
    ))
    .unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Duplicate);

    let err = TriggerBatch::from_http(&batch_req(
        r#"[{"destination":"https://a.example","headers":{"Bad Name":"1"}}]"#,
    ))
    .unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::InvalidHeaderName);
    assert_eq!(err.field(), Some("Bad Name"));

    let err = TriggerBatch::from_http(&batch_req(
        r#"[{"destination":"https://a.example","headers":{"Upstash-Forward-A":"x\ny"}}]"#,
    ))
    .unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::InvalidValue);
    assert_eq!(err.field(), Some("Upstash-Forward-A"));

    let err = TriggerBatch::from_http(&batch_req(r#"[{"destination":"mailto:a@b"}]"#)).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::WorkflowUrl);
    assert_eq!(err.entry(), Some(0));

    let get = Request::get("/v2/batch/trigger")
        .body(Bytes::new())
        .unwrap();
    assert_eq!(
        TriggerBatch::from_http(&get).unwrap_err().kind(),
        DecodeErrorKind::Method
    );
    let wrong = Request::post("/v2/batch").body(Bytes::new()).unwrap();
    assert_eq!(
        TriggerBatch::from_http(&wrong).unwrap_err().kind(),
        DecodeErrorKind::Path
    );
}

#[test]
fn batch_accepts_null_headers_and_body() {
    let batch = TriggerBatch::from_http(&batch_req(
        r#"[{"destination":"https://a.example","body":null,"headers":null},
            {"destination":"https://b.example","body":"hi","headers":{"Upstash-Flow-Control-Key":"k","Upstash-Flow-Control-Value":" rate=1 "}}]"#,
    ))
    .unwrap();
    assert_eq!(batch.entries().len(), 2);
    assert!(batch.entries()[0].body().is_empty());
    assert_eq!(batch.entries()[1].body().as_ref(), b"hi");
    assert_eq!(
        batch.entries()[1].flow_control().unwrap().1.to_string(),
        "rate=1"
    );
    let entries: Vec<BatchRequestEntry> = batch.to_entries();
    assert_eq!(entries[0].headers, []);
    assert_eq!(entries[0].body, None);
}

#[test]
fn batch_build_errors() {
    let url = || WorkflowUrl::new("https://example.com/wf").unwrap();
    let ok = TriggerRequest::builder(url()).build().unwrap();
    let binary = TriggerRequest::builder(url())
        .body(&b"\xff"[..])
        .build()
        .unwrap();
    let err = TriggerBatch::new(vec![ok.clone(), binary]).unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::NotUtf8);
    assert_eq!(err.entry(), Some(1));
    assert_eq!(
        err.to_string(),
        "batch entry 1: body is not UTF-8, which a JSON batch entry needs"
    );

    let repeated = TriggerRequest::builder(url())
        .forward("X-A", "1")
        .forward("x-a", "2")
        .build()
        .unwrap();
    let err = TriggerBatch::new(vec![repeated]).unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::RepeatedHeader);
    assert_eq!(err.field(), Some("Upstash-Forward-x-a"));

    let obs = TriggerRequest::builder(url())
        .failure_function()
        .failure_forward("X-A", b"\xff")
        .build()
        .unwrap();
    let err = TriggerBatch::new(vec![obs]).unwrap_err();
    assert_eq!(err.kind(), BuildErrorKind::NotUtf8);
    assert_eq!(err.field(), Some("Upstash-Failure-Callback-Forward-x-a"));

    assert_eq!(TriggerBatch::new(vec![]).unwrap().entries().len(), 0);
}

// ---- run management ----

fn req(method: &str, uri: &str) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Bytes::new())
        .unwrap()
}

#[test]
fn run_management_decode_errors() {
    let err = CancelRun::from_http(&req("GET", "/v2/workflows/runs/wfr_a")).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Method);
    let err = CancelRun::from_http(&req("DELETE", "/v2/workflows/runs")).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Path);
    let err = CancelRun::from_http(&req("DELETE", "/v2/workflows/runs/")).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::InvalidValue);
    let err = CancelRun::from_http(&req("DELETE", "/v2/workflows/runs/a%2")).unwrap_err();
    match err.header_error() {
        Some(HeaderError::Value(v)) => {
            assert_eq!(v.kind(), ValueErrorKind::BadEscape);
            assert_eq!(v.offset(), 1);
        }
        other => panic!("{other:?}"),
    }
    let err = CancelRun::from_http(&req("DELETE", "/v2/workflows/runs/a%20b")).unwrap_err();
    assert_eq!(err.field(), Some("workflowRunId"));

    let err = BulkCancel::from_http(&req("DELETE", "/v2/workflows/runs")).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::MissingFilter);
    let err = BulkCancel::from_http(&req("DELETE", "/v2/workflows/runs?other=1")).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::UnknownParameter);
    assert_eq!(err.field(), Some("other"));
    let err =
        BulkCancel::from_http(&req("DELETE", "/v2/workflows/runs?label=a&label=b")).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Duplicate);
    assert_eq!(err.field(), Some("label"));
    let err = BulkCancel::from_http(&req("DELETE", "/v2/workflows/runs?workflowRunIds=a,,b"))
        .unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::InvalidValue);
    let err =
        BulkCancel::from_http(&req("DELETE", "/v2/workflows/runs?workflowUrl=x")).unwrap_err();
    assert_eq!(err.field(), Some("workflowUrl"));
    let ok = BulkCancel::from_http(&req(
        "DELETE",
        "/v2/workflows/runs?workflowUrl=https%3A%2F%2Fexample.com%2Fwf&workflowRunIds=a%2Cb",
    ))
    .unwrap();
    assert_eq!(
        ok.workflow_url().unwrap().as_str(),
        "https://example.com/wf"
    );
    assert_eq!(ok.run_ids().len(), 2);

    let err = LogsQuery::from_http(&req("GET", "/v2/workflows/logs?count=-1")).unwrap_err();
    assert_eq!(err.field(), Some("count"));
    let err = LogsQuery::from_http(&req("GET", "/v2/workflows/logs?state=DONE")).unwrap_err();
    match err.header_error() {
        Some(HeaderError::Value(v)) => assert_eq!(v.kind(), ValueErrorKind::UnknownValue),
        other => panic!("{other:?}"),
    }
    let err = LogsQuery::from_http(&req("GET", "/v2/workflows/logs?cursor=%FF")).unwrap_err();
    assert_eq!(err.field(), Some("cursor"));
    let err = LogsQuery::from_http(&req("POST", "/v2/workflows/logs")).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Method);
    let q = LogsQuery::from_http(&req("GET", "/v2/workflows/logs?cursor=a+b&x&&count=5")).unwrap();
    assert_eq!(q.cursor.as_deref(), Some("a+b"));
    assert_eq!(q.count, Some(5));
}

#[test]
fn base_paths_are_prefixes() {
    let trigger = TriggerRequest::builder(WorkflowUrl::new("https://example.com/wf").unwrap())
        .build()
        .unwrap();
    for (base, expected) in [
        (
            "https://proxy.example/qstash",
            "https://proxy.example/qstash/v2/trigger/https://example.com/wf",
        ),
        (
            "https://proxy.example/qstash/",
            "https://proxy.example/qstash/v2/trigger/https://example.com/wf",
        ),
        (
            "https://proxy.example/?ignored=1",
            "https://proxy.example/v2/trigger/https://example.com/wf",
        ),
        ("proxy.example:443", "/v2/trigger/https://example.com/wf"),
    ] {
        let http = trigger.to_http(&base.parse().unwrap());
        assert_eq!(http.uri().to_string(), expected, "{base}");
    }
}

/// A decoder's error, reported by walking `source()` as `anyhow` does, shows each cause once:
/// the message already ends with the header's error, so `source()` goes on with its cause.
#[test]
fn decode_errors_show_each_cause_once_in_a_report() {
    use std::error::Error as _;
    let cases = [
        ("upstash-delay", "5sec", "unknown unit \"sec\""),
        (
            "upstash-flow-control-value",
            "rate=5, period=1x",
            "unknown unit \"x\"",
        ),
        ("upstash-retry-delay", "2 ^ retried", "pow(x, y)"),
    ];
    for (name, value, needle) in cases {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("https://qstash.upstash.io/v2/trigger/https://example.com/wf");
        req = req.header(name, value);
        if name == "upstash-flow-control-value" {
            req = req.header("upstash-flow-control-key", "k");
        }
        let req = req.body(bytes::Bytes::new()).unwrap();
        let err = qstash_protocol::TriggerRequest::from_http(&req).unwrap_err();
        let mut layers = vec![err.to_string()];
        let mut next = err.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            let parent = layers.last().unwrap();
            assert!(
                !parent.contains(&text),
                "{parent:?} repeats its cause {text:?}"
            );
            layers.push(text);
            next = cause.source();
        }
        let report = layers.join(": ");
        assert_eq!(
            report.matches(needle).count(),
            1,
            "{needle:?} once in {report:?}"
        );
        assert!(
            err.header_error().is_some(),
            "the header's error is still there"
        );
    }
}
