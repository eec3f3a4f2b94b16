//! `TriggerRequest::to_http` and `TriggerRequest::from_http` of a request that sets every
//! header of §1, and of a minimal one. No public crate encodes this protocol, so there is no
//! peer; the target is at most 2 µs for each direction of the full request.
//!
//! Before measuring, the decoded request is checked to equal the one that was encoded.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::Uri;
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_protocol::{CallbackUrl, Label, RunId, TriggerRequest, WorkflowUrl};
use qstash_retry_delay::RetryDelay;

/// A request with every header: run id, two forwarded headers, retries, delay, not-before,
/// two labels, flow control, a failure callback URL with a forwarded header, a retry delay.
fn every_header() -> TriggerRequest {
    TriggerRequest::builder(WorkflowUrl::new("https://example.com/api/workflow?tenant=7").unwrap())
        .body(Bytes::from_static(br#"{"order":42,"items":["a","b"]}"#))
        .content_type("application/json")
        .run_id(RunId::new("wfr_0123456789abcdefghijk").unwrap())
        .forward("Authorization", "Bearer 3c8a6f0e2b7d4a91")
        .forward("X-Request-Id", "req-7f3a9c")
        .retries(5)
        .delay("1d10h30m".parse::<Delay>().unwrap())
        .not_before(1_767_225_600)
        .labels([
            Label::new("checkout").unwrap(),
            Label::new("eu-west").unwrap(),
        ])
        .flow_control(
            FlowControlKey::new("tenant-7").unwrap(),
            "parallelism=2, rate=5, period=1m"
                .parse::<FlowControl>()
                .unwrap(),
        )
        .failure_url(CallbackUrl::new("https://example.com/api/failed").unwrap())
        .failure_forward("X-Source", "checkout")
        .retry_delay(RetryDelay::compile("max(1000, pow(2, retried) * 100)").unwrap())
        .build()
        .unwrap()
}

fn minimal() -> TriggerRequest {
    TriggerRequest::builder(WorkflowUrl::new("https://example.com/api/workflow").unwrap())
        .body(Bytes::from_static(b"hello"))
        .build()
        .unwrap()
}

fn protocol(c: &mut Criterion) {
    let base = Uri::from_static("https://qstash.upstash.io");
    let inputs = [("every-header", every_header()), ("minimal", minimal())];
    for (_, req) in &inputs {
        let http = req.to_http(&base);
        assert_eq!(TriggerRequest::from_http(&http).as_ref(), Ok(req));
    }

    let mut g = c.benchmark_group("protocol/to_http");
    for (name, req) in &inputs {
        g.bench_with_input(BenchmarkId::new("qstash-protocol", name), req, |b, req| {
            b.iter(|| black_box(req).to_http(black_box(&base)));
        });
    }
    g.finish();

    let mut g = c.benchmark_group("protocol/from_http");
    for (name, req) in &inputs {
        let http = req.to_http(&base);
        g.bench_with_input(
            BenchmarkId::new("qstash-protocol", name),
            &http,
            |b, http| {
                b.iter(|| TriggerRequest::from_http(black_box(http)));
            },
        );
    }
    g.finish();
}

criterion_group!(benches, protocol);
criterion_main!(benches);
