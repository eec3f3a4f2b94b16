//! `PublishRequest::from_http` and `to_http` of a workflow step message that sets every header
//! of `SERVER.md` §3 plus the `Upstash-Workflow-*` headers an SDK adds, and of a minimal one;
//! `PublishBatch::from_json` of 100 entries of each. No public crate decodes this protocol, so
//! there is no peer: the baseline is the trigger decoder of `protocol.rs`.
//!
//! Before measuring, each decoded value is checked to equal the one that was encoded.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Method, Uri};
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_protocol::{
    CallbackUrl, DeduplicationId, Label, PublishBatch, PublishRequest, WorkflowUrl,
};
use qstash_retry_delay::RetryDelay;

fn every_header() -> PublishRequest {
    PublishRequest::builder(WorkflowUrl::new("https://example.com/api/workflow?tenant=7").unwrap())
        .body(Bytes::from_static(
            br#"{"stepId":1,"stepName":"charge","stepType":"Run","out":"\"ok\"","concurrent":1}"#,
        ))
        .content_type("application/json")
        .method(Method::POST)
        .forward("Authorization", "Bearer 3c8a6f0e2b7d4a91")
        .forward("X-Request-Id", "req-7f3a9c")
        .retries(5)
        .delay("10s".parse::<Delay>().unwrap())
        .timeout("30s".parse::<Delay>().unwrap())
        .labels([Label::new("checkout").unwrap()])
        .flow_control(
            FlowControlKey::new("tenant-7").unwrap(),
            "parallelism=2, rate=5".parse::<FlowControl>().unwrap(),
        )
        .failure_callback(CallbackUrl::new("https://example.com/api/workflow").unwrap())
        .failure_callback_forward("Upstash-Workflow-Is-Failure", "true")
        .retry_delay(RetryDelay::compile("pow(2, retried) * 1000").unwrap())
        .deduplication_id(DeduplicationId::new("wfr_0123456789abcdefghijk-1").unwrap())
        .extra_header("Upstash-Workflow-RunId", "wfr_0123456789abcdefghijk")
        .extra_header("Upstash-Workflow-Url", "https://example.com/api/workflow")
        .extra_header("Upstash-Workflow-Init", "false")
        .extra_header("Upstash-Workflow-Sdk-Version", "1")
        .extra_header(
            "Upstash-Feature-Set",
            "LazyFetch,InitialBody,WF_DetectTrigger",
        )
        .build()
        .unwrap()
}

fn minimal() -> PublishRequest {
    PublishRequest::builder(WorkflowUrl::new("https://example.com/api/hook").unwrap())
        .body(Bytes::from_static(b"hello"))
        .build()
        .unwrap()
}

fn publish(c: &mut Criterion) {
    let base = Uri::from_static("https://qstash.upstash.io");
    let inputs = [("every-header", every_header()), ("minimal", minimal())];
    for (_, req) in &inputs {
        let http = req.to_http(&base);
        assert_eq!(PublishRequest::from_http(&http).as_ref(), Ok(req));
    }

    let mut g = c.benchmark_group("publish/from_http");
    for (name, req) in &inputs {
        let http = req.to_http(&base);
        g.bench_with_input(
            BenchmarkId::new("qstash-protocol", name),
            &http,
            |b, http| {
                b.iter(|| PublishRequest::from_http(black_box(http)));
            },
        );
    }
    g.finish();

    let mut g = c.benchmark_group("publish/to_http");
    for (name, req) in &inputs {
        g.bench_with_input(BenchmarkId::new("qstash-protocol", name), req, |b, req| {
            b.iter(|| black_box(req).to_http(black_box(&base)));
        });
    }
    g.finish();

    let mut g = c.benchmark_group("publish/batch_from_json");
    for (name, req) in [
        ("100-every-header", every_header()),
        ("100-minimal", minimal()),
    ] {
        let batch = PublishBatch::new(vec![req; 100]).unwrap();
        let json = batch.to_json();
        assert_eq!(PublishBatch::from_json(&json).as_ref(), Ok(&batch));
        g.bench_with_input(
            BenchmarkId::new("qstash-protocol", name),
            &json,
            |b, json| {
                b.iter(|| PublishBatch::from_json(black_box(json)));
            },
        );
    }
    g.finish();
}

criterion_group!(benches, publish);
criterion_main!(benches);
