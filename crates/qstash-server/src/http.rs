//! The API's HTTP listener: HTTP/1.1 connections with a header read timeout and a bound on a
//! request's head, tower layers for the body read timeout and the concurrency limit, and a
//! graceful stop that lets the requests under way finish.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The smallest bound on a request's head that the HTTP implementation accepts.
const MIN_HEADER_BYTES: usize = 8 * 1024;

/// Limits on the API's connections and requests, so that slow or hostile clients cannot hold
/// the server's memory or connections.
///
/// ```
/// use std::time::Duration;
/// use qstash_server::HttpLimits;
///
/// let limits = HttpLimits::default().header_read_timeout(Duration::from_secs(5));
/// assert_eq!(limits.max_concurrent_requests, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpLimits {
    /// How long a client may take to send a request's line and headers; the connection is
    /// closed when it has not by then. Default 30 s.
    pub header_read_timeout: Duration,
    /// How long a request's body may stall (no bytes arriving) before the request is answered
    /// with an error and nothing of it is accepted. Default 30 s.
    pub body_read_timeout: Duration,
    /// The most bytes of a request's line and headers (431 above it). Default 64 KiB, at
    /// least 8 KiB.
    pub max_header_bytes: usize,
    /// The most requests handled at once; more wait for a place. Default 1 024.
    pub max_concurrent_requests: usize,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_concurrent_requests: 1024,
        }
    }
}

impl HttpLimits {
    /// How long a client may take to send a request's headers.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a request's body may stall.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// The most bytes of a request's line and headers (raised to 8 KiB when smaller).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes.max(MIN_HEADER_BYTES);
        self
    }

    /// The most requests handled at once (at least 1).
    pub fn max_concurrent_requests(mut self, requests: usize) -> Self {
        self.max_concurrent_requests = requests.max(1);
        self
    }
}

/// Serves `app` on `listener` until `stop` turns true, then stops accepting and waits for the
/// requests under way (idle connections are closed at once).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let service = ServiceBuilder::new()
        .layer(GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests.max(1),
        ))
        .layer(RequestBodyTimeoutLayer::new(limits.body_read_timeout))
        .service(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES));
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(service.clone()),
        );
        let mut stop = stop.clone();
        connections.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "a connection ended with an error");
                    }
                }
                () = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
