//! The endpoint's answers without a server: signatures checked before any workflow code runs,
//! and a replay that takes another path fails loudly, naming both steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::Body;
use base64::Engine as _;
use http::{Request, StatusCode};
use qstash_signature::Signer;
use qstash_workflow::{Context, Error, Options, Workflow};
use serde_json::{Value, json};

const CURRENT: &str = "sig_endpointcurrent0000000000";
const NEXT: &str = "sig_endpointnext000000000000000";
const URL: &str = "http://127.0.0.1:9/wf";

fn workflow(ran: Arc<AtomicU32>) -> Workflow<Value> {
    // The server URL is a closed port: nothing here may reach it.
    let options = Options::new("http://127.0.0.1:9", "token")
        .signing_keys(CURRENT, NEXT)
        .url(URL);
    Workflow::new(
        move |ctx: Context<Value>| {
            let ran = ran.clone();
            async move {
                ran.fetch_add(1, Ordering::SeqCst);
                ctx.run("double", || async { Ok::<_, Error>(2) }).await
            }
        },
        options,
    )
}

/// A step delivery whose one recorded step is `recorded`.
fn delivery(recorded: &str, signature: Option<String>) -> Request<Body> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let step =
        json!({"stepId": 1, "stepName": recorded, "stepType": "Run", "out": "2", "concurrent": 1});
    let body = json!([
        {"messageId": "msg_1", "body": b64("{\"n\":1}"), "callType": "step"},
        {"messageId": "msg_2", "body": b64(&step.to_string()), "callType": "step"},
    ])
    .to_string();
    let mut r = Request::post(URL)
        .header("upstash-workflow-runid", "wfr_endpoint")
        .header("upstash-workflow-url", URL)
        .header("upstash-workflow-sdk-version", "1")
        .header("upstash-message-id", "msg_2")
        .header("content-type", "application/json");
    if let Some(sig) = signature {
        r = r.header("upstash-signature", sig);
    }
    r.body(Body::from(body)).unwrap()
}

async fn answer(wf: &Workflow<Value>, req: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let r = wf.handle(req).await;
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

fn signed(recorded: &str, key: &str) -> Request<Body> {
    let unsigned = delivery(recorded, None);
    let (parts, body) = unsigned.into_parts();
    let bytes = futures_bytes(body);
    let sig = Signer::new(key).sign(URL, &bytes);
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.headers_mut()
        .insert("upstash-signature", sig.parse().unwrap());
    req
}

fn futures_bytes(body: Body) -> Vec<u8> {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current()
            .block_on(axum::body::to_bytes(body, 1 << 20))
            .unwrap()
            .to_vec()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_or_missing_signature_is_401_before_any_workflow_code() {
    let ran = Arc::new(AtomicU32::new(0));
    let wf = workflow(ran.clone());
    let (status, _, body) = answer(&wf, delivery("double", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, body) = answer(&wf, signed("double", "sig_someoneelse00000000000000")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Upstash-Signature"),
        "{body}"
    );
    // A trigger with a bad signature publishes nothing either.
    let trigger = Request::post(URL)
        .header("upstash-signature", "not.a.jwt")
        .body(Body::from("{\"n\":1}"))
        .unwrap();
    let (status, _, _) = answer(&wf, trigger).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_on_another_path_fails_loudly_naming_both_steps() {
    let ran = Arc::new(AtomicU32::new(0));
    let wf = workflow(ran.clone());
    // Signed with the next key: accepted, then the recorded step disagrees.
    let (status, _, body) = answer(&wf, signed("renamed", NEXT)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(
        body["message"],
        "Incompatible step name. Expected 'double', got 'renamed' from the request"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    // The same step recorded: memoised, and the run would end (the server is unreachable,
    // so ending it fails with a server error, not a mismatch).
    let (status, _, body) = answer(&wf, signed("double", CURRENT)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("DELETE /v2/workflows/runs"),
        "{body}"
    );
}
