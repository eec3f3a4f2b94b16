//! A loopback stand-in for the QStash API, for timing the `qstash` command against a server
//! that costs nothing: `POST /v2/trigger/{url}` answers one run, `POST /v2/batch/trigger` one
//! entry per request entry. Prints its URL, then serves until killed.
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml --bin loopback-api
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;

static NEXT: AtomicU64 = AtomicU64::new(0);

fn run(out: &mut String) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    out.push_str(&format!(
        r#"{{"workflowRunId":"wfr_{n:021}","workflowCreatedAt":1767225600000}}"#
    ));
}

async fn trigger() -> impl IntoResponse {
    let mut out = String::new();
    run(&mut out);
    ([(CONTENT_TYPE, "application/json")], out)
}

async fn batch(body: Bytes) -> impl IntoResponse {
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap_or_default();
    let mut out = String::from("[");
    for i in 0..entries.len() {
        if i > 0 {
            out.push(',');
        }
        run(&mut out);
    }
    out.push(']');
    ([(CONTENT_TYPE, "application/json")], out)
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(serve());
}

async fn serve() {
    let app = Router::new()
        .route("/v2/trigger/{*url}", post(trigger))
        .route("/v2/batch/trigger", post(batch));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    println!(
        "http://{}",
        listener.local_addr().expect("the listener's address")
    );
    axum::serve(listener, app).await.expect("serve");
}
