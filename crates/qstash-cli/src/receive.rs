//! `qstash receive`: a destination for trying the server out. It answers 200 to every request,
//! verifies its `Upstash-Signature`, and prints one line per delivery.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use clap::Args;
use qstash_server::{DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY};
use qstash_signature::Receiver;

use crate::diagnostic::Failure;

/// `qstash receive`.
#[derive(Debug, Args)]
pub(crate) struct ReceiveArgs {
    /// The port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// The current signing key to verify with (default: the development key).
    #[arg(long, env = "QSTASH_CURRENT_SIGNING_KEY", hide_env_values = true)]
    current_signing_key: Option<String>,
    /// The next signing key to verify with.
    #[arg(long, env = "QSTASH_NEXT_SIGNING_KEY", hide_env_values = true)]
    next_signing_key: Option<String>,
    /// Answer with this status instead of 200 (to watch retries and the DLQ).
    #[arg(long, default_value_t = 200)]
    status: u16,
    /// Exit after this many requests.
    #[arg(long)]
    count: Option<u64>,
}

struct Shared {
    receiver: Receiver,
    status: StatusCode,
    /// Requests left before exiting (none: never), and how to say it is time.
    left: tokio::sync::Mutex<(Option<u64>, Option<tokio::sync::oneshot::Sender<()>>)>,
}

/// Runs the receiver until SIGINT, or until `--count` requests arrived.
pub(crate) fn run(args: &ReceiveArgs) -> Result<String, Failure> {
    let status = StatusCode::from_u16(args.status)
        .map_err(|_| Failure::input(format!("--status: {} is not an HTTP status", args.status)))?;
    let receiver = Receiver::new(
        args.current_signing_key
            .as_deref()
            .unwrap_or(DEV_CURRENT_SIGNING_KEY),
        args.next_signing_key
            .as_deref()
            .unwrap_or(DEV_NEXT_SIGNING_KEY),
    );
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let shared = Arc::new(Shared {
        receiver,
        status,
        left: tokio::sync::Mutex::new((args.count, Some(done_tx))),
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Api(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::input(format!("--port: cannot listen on {addr}: {e}")))?;
        println!("receiving on http://{addr}/ (any path)");
        let app = Router::new().fallback(handle).with_state(shared);
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // `done_rx` ends when `--count` requests arrived (its sender lives as long as
                // the server does).
                tokio::select! {
                    _ = done_rx => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .await
            .map_err(|e| Failure::Api(format!("the receiver failed: {e}")))?;
        Ok(String::new())
    })
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("-");
    let signature = match headers
        .get("upstash-signature")
        .and_then(|v| v.to_str().ok())
    {
        None => "unsigned".to_owned(),
        Some(sig) => match shared.receiver.verify(sig, &body, None) {
            Ok(_) => "signature ok".to_owned(),
            Err(e) => format!("signature INVALID ({e})"),
        },
    };
    let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    println!(
        "{method} {uri} message={} retried={} {signature} body={shown:?}",
        header("upstash-message-id"),
        header("upstash-retried"),
    );
    let mut left = shared.left.lock().await;
    if let Some(n) = left.0.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0
            && let Some(tx) = left.1.take()
        {
            let _ = tx.send(());
        }
    }
    shared.status
}
