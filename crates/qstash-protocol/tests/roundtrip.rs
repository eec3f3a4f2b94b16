//! Property tests: every field round-trips through HTTP, encoding agrees with a reference
//! written here from the contract, encoding is stable, and arbitrary requests never panic.

mod common;

use bytes::Bytes;
use common::{Callback, Fields, base, fields, label, run_id, workflow_url};
use http::{HeaderMap, Method, Request, Uri};
use proptest::prelude::*;
use qstash_protocol::{
    BulkCancel, CancelRun, DecodeError, FailureTarget, LogsQuery, RunState, TriggerBatch,
    TriggerRequest,
};

/// Headers as `(name, value)` pairs, grouped by name (stable, so each name's values keep
/// their order), for comparison regardless of the order between names.
fn grouped(pairs: impl IntoIterator<Item = (String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = pairs.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn pairs(map: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    map.iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

/// The headers §1 says a request with these fields carries, written out independently of the
/// crate's encoder.
fn reference_headers(f: &Fields) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut put = |n: &str, v: &[u8]| out.push((n.to_owned(), v.to_vec()));
    if let Some(ct) = &f.content_type {
        put("content-type", ct);
    }
    if let Some(id) = &f.run_id {
        put("upstash-workflow-runid", id.as_str().as_bytes());
    }
    if let Some(n) = f.retries {
        put("upstash-retries", n.to_string().as_bytes());
    }
    if let Some(d) = f.delay {
        put("upstash-delay", d.to_string().as_bytes());
    }
    if let Some(t) = f.not_before {
        put("upstash-not-before", t.to_string().as_bytes());
    }
    if !f.labels.is_empty() {
        let joined: Vec<&str> = f.labels.iter().map(|l| l.as_str()).collect();
        put("upstash-label", joined.join(",").as_bytes());
    }
    if let Some((k, v)) = &f.flow_control {
        put("upstash-flow-control-key", k.as_str().as_bytes());
        put("upstash-flow-control-value", v.to_string().as_bytes());
    }
    match &f.callback {
        Callback::None => {}
        Callback::Function => put("upstash-failure-callback", b""),
        Callback::Url(u) => put("upstash-failure-callback", u.as_str().as_bytes()),
    }
    if let Some(rd) = &f.retry_delay {
        put("upstash-retry-delay", rd.as_str().as_bytes());
    }
    for (n, v) in &f.forwards {
        put(&format!("upstash-forward-{}", n.to_ascii_lowercase()), v);
    }
    for (n, v) in &f.callback_forwards {
        put(
            &format!(
                "upstash-failure-callback-forward-{}",
                n.to_ascii_lowercase()
            ),
            v,
        );
    }
    grouped(out)
}

/// Everything that makes two encoded requests identical, header order included.
fn snapshot(req: &Request<Bytes>) -> (Method, String, Vec<(String, Vec<u8>)>, Bytes) {
    (
        req.method().clone(),
        req.uri().to_string(),
        pairs(req.headers()),
        req.body().clone(),
    )
}

fn expected_uri(base: &Uri, path_and_query: &str) -> String {
    let prefix = base.path().strip_suffix('/').unwrap_or(base.path());
    match (base.scheme_str(), base.authority()) {
        (Some(s), Some(a)) => format!("{s}://{a}{prefix}{path_and_query}"),
        _ => format!("{prefix}{path_and_query}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_field_round_trips(f in fields(), base in base()) {
        let req = f.build();
        let http = req.to_http(&base);
        prop_assert_eq!(TriggerRequest::from_http(&http), Ok(req.clone()));
    }

    #[test]
    fn encoding_agrees_with_the_reference(f in fields(), base in base()) {
        let req = f.build();
        let http = req.to_http(&base);
        prop_assert_eq!(http.method(), Method::POST);
        prop_assert_eq!(
            http.uri().to_string(),
            expected_uri(&base, &format!("/v2/trigger/{}", f.url))
        );
        prop_assert_eq!(http.uri().path(), format!("/v2/trigger/{}", f.url.path_part()));
        prop_assert_eq!(http.uri().query(), f.url.query_part());
        prop_assert_eq!(grouped(pairs(http.headers())), reference_headers(&f));
        prop_assert_eq!(http.body().as_ref(), &f.body[..]);
        prop_assert_eq!(grouped(pairs(&req.headers())), reference_headers(&f));
    }

    #[test]
    fn getters_return_what_was_built(f in fields()) {
        let req = f.build();
        prop_assert_eq!(req.url(), &f.url);
        prop_assert_eq!(req.run_id(), f.run_id.as_ref());
        prop_assert_eq!(req.retries(), f.retries);
        prop_assert_eq!(req.delay(), f.delay);
        prop_assert_eq!(req.not_before(), f.not_before);
        prop_assert_eq!(req.labels(), &f.labels[..]);
        prop_assert_eq!(req.flow_control(), f.flow_control.as_ref().map(|(k, v)| (k, *v)));
        prop_assert_eq!(req.retry_delay(), f.retry_delay.as_ref());
        prop_assert_eq!(req.forwarded().len(), f.forwards.len());
        for (n, _) in &f.forwards {
            let want: Vec<&[u8]> = f.forwards.iter()
                .filter(|(m, _)| m.eq_ignore_ascii_case(n))
                .map(|(_, v)| &v[..])
                .collect();
            let got: Vec<&[u8]> = req.forwarded().get_all(n).map(|v| v.as_bytes()).collect();
            prop_assert_eq!(got, want);
        }
        match (&f.callback, req.failure_callback().map(|c| c.target())) {
            (Callback::None, None) | (Callback::Function, Some(FailureTarget::FailureFunction)) => {}
            (Callback::Url(u), Some(FailureTarget::Url(v))) => prop_assert_eq!(u, v),
            (want, got) => prop_assert!(false, "callback {:?} gave {:?}", want, got),
        }
        let n = req.failure_callback().map_or(0, |c| c.forwarded().len());
        prop_assert_eq!(n, f.callback_forwards.len());
        // Rebuilding from the request's own builder changes nothing.
        prop_assert_eq!(req.clone().into_builder().build(), Ok(req));
    }

    #[test]
    fn encoding_is_stable(f in fields(), base in base()) {
        let req = f.build();
        let once = req.to_http(&base);
        prop_assert_eq!(snapshot(&once), snapshot(&req.to_http(&base)));
        let again = TriggerRequest::from_http(&once).unwrap().to_http(&base);
        prop_assert_eq!(snapshot(&again), snapshot(&once));
    }

    #[test]
    fn ensure_run_id_keeps_a_given_id_and_generates_otherwise(f in fields()) {
        let mut req = f.build();
        let id = req.ensure_run_id().clone();
        match &f.run_id {
            Some(given) => prop_assert_eq!(&id, given),
            None => prop_assert!(id.as_str().starts_with("wfr_") && id.as_str().len() == 25),
        }
        prop_assert_eq!(req.run_id(), Some(&id));
    }

    #[test]
    fn batches_round_trip(list in prop::collection::vec(fields(), 0..4), base in base()) {
        // Make each entry carriable in JSON: UTF-8 body and values, one value per name.
        let reqs: Vec<TriggerRequest> = list.into_iter().map(|mut f| {
            f.body = String::from_utf8_lossy(&f.body).into_owned().into_bytes();
            f.content_type = f.content_type.map(|v| String::from_utf8_lossy(&v).into_owned().into_bytes());
            for fw in [&mut f.forwards, &mut f.callback_forwards] {
                let mut seen = std::collections::HashSet::new();
                fw.retain(|(n, _)| seen.insert(n.to_ascii_lowercase()));
                for (_, v) in fw.iter_mut() {
                    *v = String::from_utf8_lossy(v).into_owned().into_bytes();
                }
            }
            f.build()
        }).collect();
        let batch = TriggerBatch::new(reqs.clone()).unwrap();
        prop_assert_eq!(batch.entries(), &reqs[..]);
        let http = batch.to_http(&base);
        prop_assert_eq!(http.method(), Method::POST);
        prop_assert_eq!(http.uri().to_string(), expected_uri(&base, "/v2/batch/trigger"));
        prop_assert_eq!(TriggerBatch::from_http(&http), Ok(batch.clone()));
        prop_assert_eq!(TriggerBatch::from_entries(&batch.to_entries()), Ok(batch.clone()));
        // Each entry's JSON headers are the single trigger's headers with canonical names.
        for (entry, req) in batch.to_entries().iter().zip(&reqs) {
            let json: Vec<(String, Vec<u8>)> = entry.headers.iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone().into_bytes()))
                .collect();
            prop_assert_eq!(grouped(json), grouped(pairs(&req.headers())));
        }
        prop_assert_eq!(snapshot(&batch.to_http(&base)), snapshot(&http));
    }

    #[test]
    fn batch_rejects_what_json_cannot_carry(f in fields()) {
        let req = f.build();
        let utf8_body = std::str::from_utf8(req.body()).is_ok();
        let result = TriggerBatch::new(vec![req.clone()]);
        let mut names = std::collections::HashSet::new();
        let repeated = !f.forwards.iter().all(|(n, _)| names.insert(n.to_ascii_lowercase()));
        let mut cb_names = std::collections::HashSet::new();
        let cb_repeated = !f.callback_forwards.iter().all(|(n, _)| cb_names.insert(n.to_ascii_lowercase()));
        let utf8_values = f.forwards.iter().chain(&f.callback_forwards)
            .all(|(_, v)| std::str::from_utf8(v).is_ok())
            && f.content_type.as_ref().is_none_or(|v| std::str::from_utf8(v).is_ok());
        prop_assert_eq!(result.is_ok(), utf8_body && !repeated && !cb_repeated && utf8_values, "{:?}", result);
        if let Err(e) = result {
            prop_assert_eq!(e.entry(), Some(0));
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn cancel_round_trips(id in run_id(), base in base()) {
        let cancel = CancelRun::new(id);
        let http = cancel.to_http(&base);
        prop_assert_eq!(http.method(), Method::DELETE);
        prop_assert_eq!(CancelRun::from_http(&http), Ok(cancel.clone()));
        prop_assert_eq!(snapshot(&cancel.to_http(&base)), snapshot(&http));
    }

    #[test]
    fn bulk_cancel_round_trips(
        ids in prop::collection::vec(run_id(), 0..4),
        url in prop::option::of(workflow_url()),
        label in prop::option::of(label()),
        base in base(),
    ) {
        let none = ids.is_empty() && url.is_none() && label.is_none();
        match BulkCancel::new(ids.clone(), url.clone(), label.clone()) {
            Err(e) => prop_assert!(none, "{}", e),
            Ok(cancel) => {
                prop_assert!(!none);
                prop_assert_eq!(cancel.run_ids(), &ids[..]);
                let http = cancel.to_http(&base);
                prop_assert_eq!(http.method(), Method::DELETE);
                prop_assert_eq!(BulkCancel::from_http(&http), Ok(cancel));
            }
        }
    }

    #[test]
    fn logs_query_round_trips(
        run_id in prop::option::of(run_id()),
        cursor in prop::option::of(".*"),
        count in prop::option::of(any::<u32>()),
        state in prop::option::of(prop::sample::select(RunState::ALL.to_vec())),
        label in prop::option::of(label()),
        base in base(),
    ) {
        let mut query = LogsQuery::new();
        query.run_id = run_id;
        query.cursor = cursor;
        query.count = count;
        query.state = state;
        query.label = label;
        let http = query.to_http(&base);
        prop_assert_eq!(http.method(), Method::GET);
        prop_assert_eq!(LogsQuery::from_http(&http), Ok(query));
    }
}

// ---- arbitrary input never panics ----

/// Header names a decoder meets: known ones in any case, forwarded ones (sometimes with an
/// empty name), unknown `Upstash-*` ones and anything else.
fn any_name() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "Content-Type",
        "Upstash-Workflow-RunId",
        "Upstash-Retries",
        "Upstash-Delay",
        "Upstash-Not-Before",
        "Upstash-Label",
        "Upstash-Flow-Control-Key",
        "Upstash-Flow-Control-Value",
        "Upstash-Failure-Callback",
        "Upstash-Retry-Delay",
        "Upstash-Forward-",
        "Upstash-Failure-Callback-Forward-",
        "Upstash-Unknown",
        "Authorization",
    ]);
    prop_oneof![
        (known.clone(), any::<u32>()).prop_map(|(k, mask)| {
            k.chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask >> (i % 32) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        }),
        (
            prop::sample::select(vec![
                "Upstash-Forward-",
                "Upstash-Failure-Callback-Forward-"
            ]),
            "[a-zA-Z0-9-]{0,8}"
        )
            .prop_map(|(p, n)| format!("{p}{n}")),
        "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,30}",
    ]
}

/// Values: plausible ones for every header, and arbitrary bytes.
fn any_value() -> impl Strategy<Value = Vec<u8>> {
    let plausible = prop::sample::select(vec![
        "",
        " ",
        "0",
        "3",
        "4294967296",
        "-1",
        "+1",
        "1d10h30m",
        "50s",
        "1.5h",
        "10",
        "90m",
        "1767225600",
        "a,b",
        "a, b",
        "a,,b",
        ",",
        "wfr_abc",
        "rate=5,parallelism=2",
        "parallelism=0",
        "period=1s",
        "https://example.com/cb",
        "ftp://x",
        "pow(2, retried) * 1000",
        "retried ^ 2",
        " 1000",
        "tenant-1",
        "application/json",
    ]);
    prop_oneof![
        plausible.prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn any_path() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => (prop::sample::select(vec!["http://", "https://", "", "ftp://", "https:/"]), ".{0,40}")
            .prop_map(|(s, r)| format!("/v2/trigger/{s}{r}")),
        4 => (prop::sample::select(vec!["http://", "HTTPS://"]), "[a-z.]{0,10}", "[!-~]{0,30}")
            .prop_map(|(s, h, r)| format!("/v2/trigger/{s}{h}{r}")),
        1 => ".{0,40}",
    ]
}

/// Builds a request from arbitrary parts, or `None` when `http` itself refuses them.
fn arbitrary_request(
    method: &str,
    path: &str,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
) -> Option<Request<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(Uri::try_from(path).ok()?);
    // Pairs `http` refuses are left out; the rest still make a request.
    for (n, v) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(n.as_bytes()),
            http::HeaderValue::from_bytes(v),
        ) {
            b = b.header(name, value);
        }
    }
    b.body(Bytes::copy_from_slice(body)).ok()
}

fn check_decode_result(result: &Result<TriggerRequest, DecodeError>) -> Result<(), TestCaseError> {
    match result {
        Ok(req) => {
            let base = Uri::from_static("https://qstash.upstash.io");
            let http = req.to_http(&base);
            let decoded = TriggerRequest::from_http(&http);
            prop_assert_eq!(decoded.as_ref(), Ok(req));
            let again = TriggerRequest::from_http(&http).unwrap().to_http(&base);
            prop_assert_eq!(snapshot(&again), snapshot(&http));
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_requests_never_panic(
        method in prop::sample::select(vec!["POST", "POST", "POST", "GET", "DELETE"]),
        path in any_path(),
        headers in prop::collection::vec((any_name(), any_value()), 0..12),
        body in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        if let Some(req) = arbitrary_request(method, &path, &headers, &body) {
            check_decode_result(&TriggerRequest::from_http(&req))?;
            let _ = TriggerBatch::from_http(&req);
            let _ = CancelRun::from_http(&req);
            let _ = BulkCancel::from_http(&req);
            let _ = LogsQuery::from_http(&req);
        }
    }

    #[test]
    fn arbitrary_run_management_paths_never_panic(
        method in prop::sample::select(vec!["GET", "DELETE"]),
        path in prop_oneof![
            "/v2/workflows/runs/[ -~]{0,30}",
            "/v2/workflows/runs\\?[ -~]{0,40}",
            "/v2/workflows/logs\\?[ -~]{0,40}",
        ],
    ) {
        if let Some(req) = arbitrary_request(method, &path, &[], b"") {
            let base = Uri::from_static("https://qstash.upstash.io");
            if let Ok(c) = CancelRun::from_http(&req) {
                prop_assert_eq!(CancelRun::from_http(&c.to_http(&base)), Ok(c));
            }
            if let Ok(c) = BulkCancel::from_http(&req) {
                prop_assert_eq!(BulkCancel::from_http(&c.to_http(&base)), Ok(c));
            }
            if let Ok(q) = LogsQuery::from_http(&req) {
                prop_assert_eq!(LogsQuery::from_http(&q.to_http(&base)), Ok(q));
            }
        }
    }

    #[test]
    fn arbitrary_batch_bodies_never_panic(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            (any_name(), any_value(), any_path()).prop_map(|(n, v, p)| {
                let entry = serde_json::json!([{
                    "destination": p.trim_start_matches("/v2/trigger/"),
                    "body": String::from_utf8_lossy(&v),
                    "headers": { n: String::from_utf8_lossy(&v) },
                }]);
                serde_json::to_vec(&entry).unwrap()
            }),
        ],
    ) {
        let req = Request::post("/v2/batch/trigger").body(Bytes::from(body)).unwrap();
        if let Ok(batch) = TriggerBatch::from_http(&req) {
            let http = batch.to_http(&Uri::from_static("https://qstash.upstash.io"));
            prop_assert_eq!(TriggerBatch::from_http(&http), Ok(batch));
        }
    }
}
