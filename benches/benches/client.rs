//! Triggers per second through `qstash-client`, beside the same requests built by hand with
//! plain `reqwest`, against one loopback HTTP server, in the same run.
//!
//! Both sides use a `reqwest::Client` of the same configuration (the client gets its own
//! through `ClientBuilder::http_client`), send the same headers and body, and parse the same
//! JSON response, so the difference is what the client adds: encoding through
//! `qstash-protocol`, the generated run id, the verbatim-target check, the retry loop and
//! the tracing span. Before measuring, one request of each side is recorded by the server
//! and compared.
//!
//! The server runs on its own thread with a current-thread runtime, the clients on another
//! current-thread runtime: on a 2-core machine each side gets about one core.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Request, Response};
use qstash_client::{Client, RetryPolicy, RunId, TriggerRequest, TriggerResponse, WorkflowUrl};

const TOKEN: &str = "eyJVc2VySUQiOiJiZW5jaCIsIlBhc3N3b3JkIjoiYmVuY2gifQ==";
const DESTINATION: &str = "https://example.com/api/workflow?tenant=7";
const BODY: &str = r#"{"order":42,"items":["a","b","c"]}"#;
const REPLY: &str = r#"{"workflowRunId":"wfr_server","workflowCreatedAt":1767225600000}"#;

#[derive(Default)]
struct ServerState {
    record: AtomicBool,
    recorded: Mutex<Vec<(String, HeaderMap, bytes::Bytes)>>,
}

async fn handle(State(state): State<Arc<ServerState>>, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    if state.record.load(Ordering::Relaxed) {
        let target = parts
            .uri
            .path_and_query()
            .map_or("", |pq| pq.as_str())
            .to_owned();
        state
            .recorded
            .lock()
            .unwrap()
            .push((target, parts.headers, body));
    }
    let mut resp = Response::new(Body::from(REPLY));
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

/// Starts the server on its own thread; returns its base URL.
fn start_server(state: Arc<ServerState>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = Router::new().fallback(handle).with_state(state);
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

/// The `reqwest` client both sides use: plain HTTP/1.1 on loopback, pooled, no redirects.
fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(128)
        .build()
        .unwrap()
}

/// The request every trigger sends (its run id is generated per trigger).
fn request() -> TriggerRequest {
    TriggerRequest::builder(WorkflowUrl::new(DESTINATION).unwrap())
        .body(BODY)
        .content_type("application/json")
        .retries(3)
        .delay("10s".parse().unwrap())
        .forward("X-Tenant", "7")
        .build()
        .unwrap()
}

/// One trigger through the client.
async fn via_client(client: &Client, req: &TriggerRequest) -> TriggerResponse {
    client.trigger(req.clone()).await.unwrap()
}

/// The same trigger built by hand.
async fn by_hand(http: &reqwest::Client, url: &str, auth: &HeaderValue) -> TriggerResponse {
    let resp = http
        .post(url)
        .header("authorization", auth.clone())
        .header("content-type", "application/json")
        .header("upstash-workflow-runid", RunId::generate().as_str())
        .header("upstash-retries", "3")
        .header("upstash-delay", "10s")
        .header("upstash-forward-x-tenant", "7")
        .timeout(Duration::from_secs(30))
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let body = resp.bytes().await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// Runs `iters` triggers with `concurrency` in flight; returns the wall time.
async fn run<F, Fut>(iters: u64, concurrency: u64, one: F) -> Duration
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: Future<Output = TriggerResponse> + 'static,
{
    let start = Instant::now();
    if concurrency == 1 {
        for _ in 0..iters {
            black_box(one().await);
        }
        return start.elapsed();
    }
    let next = Arc::new(AtomicU64::new(0));
    let local = tokio::task::LocalSet::new();
    for _ in 0..concurrency {
        let next = next.clone();
        let one = one.clone();
        local.spawn_local(async move {
            while next.fetch_add(1, Ordering::Relaxed) < iters {
                black_box(one().await);
            }
        });
    }
    local.await;
    start.elapsed()
}

fn client(c: &mut Criterion) {
    // Plain reqwest with only this TLS provider needs it installed process-wide.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let state = Arc::new(ServerState::default());
    let base = start_server(state.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let ours = Client::builder()
        .token(TOKEN)
        .base_url(base.as_str())
        .http_client(reqwest_client())
        .retry_policy(RetryPolicy::default())
        .build()
        .unwrap();
    let plain = reqwest_client();
    let url: Arc<str> = format!("{base}/v2/trigger/{DESTINATION}").into();
    let req = Arc::new(request());
    let auth: HeaderValue = format!("Bearer {TOKEN}").parse().unwrap();

    // Both sides send the same request (but for the run id) and read the same response.
    state.record.store(true, Ordering::Relaxed);
    let a = rt.block_on(via_client(&ours, &req));
    let b = rt.block_on(by_hand(&plain, &url, &auth));
    assert_eq!(a, b);
    state.record.store(false, Ordering::Relaxed);
    {
        let recorded = state.recorded.lock().unwrap();
        let [(ta, ha, ba), (tb, hb, bb)] = recorded.as_slice() else {
            panic!("expected two requests, got {}", recorded.len());
        };
        assert_eq!(ta, tb);
        assert_eq!(ba, bb);
        let strip = |h: &HeaderMap| {
            let mut pairs: Vec<(String, String)> = h
                .iter()
                .filter(|(k, _)| *k != "upstash-workflow-runid" && *k != "user-agent")
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            pairs.sort();
            pairs
        };
        assert_eq!(strip(ha), strip(hb));
        assert_ne!(ha["upstash-workflow-runid"], hb["upstash-workflow-runid"]);
    }

    // Criterion measures one variant after the other, and on a shared machine the load
    // drifts between them; this paired run alternates short blocks of both and reports the
    // median of the per-pair ratios, which drift affects far less.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        const PAIRS: usize = 31;
        for concurrency in [1u64, 64] {
            let mut ratios = Vec::new();
            for _ in 0..PAIRS {
                let (o, r, a) = (ours.clone(), req.clone(), auth.clone());
                let t_ours = rt.block_on(run(400, concurrency, move || {
                    let (o, r) = (o.clone(), r.clone());
                    async move { via_client(&o, &r).await }
                }));
                let (p, u) = (plain.clone(), url.clone());
                let t_plain = rt.block_on(run(400, concurrency, move || {
                    let (p, u, a) = (p.clone(), u.clone(), a.clone());
                    async move { by_hand(&p, &u, &a).await }
                }));
                ratios.push(t_ours.as_secs_f64() / t_plain.as_secs_f64());
            }
            ratios.sort_by(f64::total_cmp);
            eprintln!(
                "client/paired/{concurrency}: qstash-client time / reqwest-by-hand time, median of {PAIRS} pairs of 400 triggers: {:.3} (quartiles {:.3}..{:.3})",
                ratios[PAIRS / 2],
                ratios[PAIRS / 4],
                ratios[3 * PAIRS / 4]
            );
        }
    }

    let mut group = c.benchmark_group("client/trigger");
    group.throughput(Throughput::Elements(1));
    for concurrency in [1u64, 64] {
        group.bench_with_input(
            BenchmarkId::new("qstash-client", concurrency),
            &concurrency,
            |b, &conc| {
                b.iter_custom(|iters| {
                    let ours = ours.clone();
                    let req = req.clone();
                    rt.block_on(run(iters, conc, move || {
                        let ours = ours.clone();
                        let req = req.clone();
                        async move { via_client(&ours, &req).await }
                    }))
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("reqwest-by-hand", concurrency),
            &concurrency,
            |b, &conc| {
                b.iter_custom(|iters| {
                    let plain = plain.clone();
                    let url = url.clone();
                    let auth = auth.clone();
                    rt.block_on(run(iters, conc, move || {
                        let plain = plain.clone();
                        let url = url.clone();
                        let auth = auth.clone();
                        async move { by_hand(&plain, &url, &auth).await }
                    }))
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, client);
criterion_main!(benches);
