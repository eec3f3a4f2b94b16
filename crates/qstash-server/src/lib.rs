//! A durable QStash-compatible server, as a library.
//!
//! It accepts messages (`POST /v2/publish/{destination}`, `POST /v2/batch`), keeps each one in a
//! [`Store`] before answering, and delivers it over HTTP when it is due: signed with the
//! `Upstash-Signature` JWT, retried with the message's retry-delay program (or `Retry-After`, or
//! the default backoff), with callbacks after every attempt, a failure callback and a dead letter
//! when it fails for good. Every token is a tenant: no endpoint shows one token another's data.
//! With [`ServerBuilder::console`], it also serves a web console at `/console` that reads and
//! acts through the same API with a tenant's token.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use qstash_server::Server;
//! use qstash_store::sqlite::SqliteStore;
//!
//! let store = Arc::new(SqliteStore::open(".qstash/qstash.db")?);
//! let server = Server::builder(store)
//!     .listen("127.0.0.1:8080".parse()?)
//!     .token("my-token")?
//!     .start()
//!     .await?;
//! println!("listening on {}", server.url());
//! server.wait().await;
//! # Ok(()) }
//! ```
//!
//! # What it promises
//! - **A 2xx means committed**: the store has made the message durable before the answer is
//!   written; concurrent accepts share commits.
//! - **At least once**: an attempt is made under a claim with a lease (the attempt's timeout
//!   plus [`DeliveryConfig::lease_grace`]); if the process dies, the attempt is made again
//!   after the lease, with the same `Upstash-Message-Id`.
//! - **Idle costs nothing**: the scheduler sleeps until the next due time or until a message
//!   is accepted; it never polls.
//! - **Bounded work per attempt**: each attempt ends within its timeout and keeps at most
//!   [`DeliveryConfig::max_response_body`] bytes of the response.

mod api;
mod config;
mod console;
mod destination;
mod engine;
mod error;
mod http;
mod ids;
mod keys;
mod metrics;
mod retention;
mod service;
mod workflow;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use qstash_store::{SigningKeys, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

pub use config::{DeliveryConfig, InvalidToken, Limits, MetricsAccess, Token};
pub use console::{ASSETS as CONSOLE_ASSETS, Asset, Console};
pub use destination::{Cidr, DestinationPolicy, DestinationRefused, SystemResolver};
pub use http::HttpLimits;
/// The DNS resolver interface a server may be given ([`ServerBuilder::resolver`]).
pub use reqwest::dns::{Addrs, Name, Resolve, Resolving};
pub use retention::Retention;

/// The well-known development token of the official development server (upstream), the
/// default token of `qstash dev`.
pub const DEV_TOKEN: &str =
    "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
/// The well-known current signing key of the official development server (upstream).
pub const DEV_CURRENT_SIGNING_KEY: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
/// The well-known next signing key of the official development server (upstream).
pub const DEV_NEXT_SIGNING_KEY: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The reason.
        source: std::io::Error,
    },
    /// No token was configured: nobody could call the API.
    #[error("no API token configured")]
    NoToken,
    /// The store failed while starting.
    #[error(transparent)]
    Store(#[from] qstash_store::StoreError),
    /// The HTTP client for deliveries could not be built.
    #[error("the delivery HTTP client could not be built: {0}")]
    Http(String),
}

/// Builds and starts a [`Server`].
pub struct ServerBuilder {
    store: Arc<dyn Store>,
    listen: SocketAddr,
    tokens: Vec<Token>,
    keys: Option<SigningKeys>,
    limits: Limits,
    delivery: DeliveryConfig,
    shutdown_grace: Duration,
    retention: Retention,
    http: HttpLimits,
    destinations: DestinationPolicy,
    resolver: Arc<dyn Resolve>,
    metrics: MetricsAccess,
    metrics_listen: Option<SocketAddr>,
    console: Option<Console>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("listen", &self.listen)
            .field("tokens", &self.tokens.len())
            .field("limits", &self.limits)
            .field("delivery", &self.delivery)
            .field("retention", &self.retention)
            .field("http", &self.http)
            .field("destinations", &self.destinations)
            .field("metrics", &self.metrics)
            .field("metrics_listen", &self.metrics_listen)
            .field("console", &self.console)
            .finish_non_exhaustive()
    }
}

/// The server: see [`Server::builder`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// A builder over `store`, listening on `127.0.0.1:0` until told otherwise.
    pub fn builder(store: Arc<dyn Store>) -> ServerBuilder {
        ServerBuilder {
            store,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens: Vec::new(),
            keys: None,
            limits: Limits::default(),
            delivery: DeliveryConfig::default(),
            shutdown_grace: Duration::from_secs(10),
            retention: Retention::default(),
            http: HttpLimits::default(),
            destinations: DestinationPolicy::allow_all(),
            resolver: Arc::new(SystemResolver),
            metrics: MetricsAccess::Open,
            metrics_listen: None,
            console: None,
        }
    }
}

impl ServerBuilder {
    /// The address to listen on (port 0: any free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Adds an API token (a tenant).
    pub fn token(mut self, token: impl Into<String>) -> Result<Self, InvalidToken> {
        self.tokens.push(Token::new(token)?);
        Ok(self)
    }

    /// One pair of signing keys shared by every tenant (every token). Without it, each tenant
    /// has its own pair, made on its first use and kept in the store (SERVER.md §11.1).
    pub fn signing_keys(mut self, current: impl Into<String>, next: impl Into<String>) -> Self {
        self.keys = Some(SigningKeys {
            current: current.into(),
            next: next.into(),
        });
        self
    }

    /// The limits on accepted messages.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The delivery settings.
    pub fn delivery(mut self, delivery: DeliveryConfig) -> Self {
        self.delivery = delivery;
        self
    }

    /// How long finished work is kept before it is removed (see [`Retention`]; default 7
    /// days, 14 for dead letters).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The limits on the API's connections and requests (see [`HttpLimits`]).
    pub fn http_limits(mut self, limits: HttpLimits) -> Self {
        self.http = limits;
        self
    }

    /// Who may read `GET /metrics` on the API listener (default: anyone).
    pub fn metrics(mut self, access: MetricsAccess) -> Self {
        self.metrics = access;
        self
    }

    /// Also serves `GET /metrics`, without a token, on its own listener at `addr` (port 0: any
    /// free port; see [`RunningServer::metrics_addr`]).
    pub fn metrics_listen(mut self, addr: SocketAddr) -> Self {
        self.metrics_listen = Some(addr);
        self
    }

    /// Serves the web console at `/console` (off by default; `qstash dev` turns it on, `qstash
    /// serve` with `--console`). Its pages read and act through the API with a tenant's token,
    /// so it shows each tenant only its own work.
    pub fn console(mut self, console: Console) -> Self {
        self.console = Some(console);
        self
    }

    /// How long a shutdown waits for attempts in flight (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Which destinations the server may call (SERVER.md §11.3). Default:
    /// [`DestinationPolicy::allow_all`]; `qstash serve` uses
    /// [`DestinationPolicy::refuse_private`] with the operator's openings.
    pub fn destination_policy(mut self, policy: DestinationPolicy) -> Self {
        self.destinations = policy;
        self
    }

    /// The DNS resolver for destinations' names, used both to check a URL when it is accepted
    /// and to find the address each delivery dials (default: [`SystemResolver`]).
    pub fn resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Binds the listener and starts the API, the engine and the retention sweep.
    pub async fn start(self) -> Result<RunningServer, StartError> {
        if self.tokens.is_empty() {
            return Err(StartError::NoToken);
        }
        let keys = match self.keys {
            Some(k) => keys::KeySource::shared(k),
            None => keys::KeySource::per_tenant(self.delivery.keys_refresh),
        };
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.listen,
            source,
        })?;
        let metrics_listener = match self.metrics_listen {
            Some(addr) => {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?;
                let local = l
                    .local_addr()
                    .map_err(|source| StartError::Bind { addr, source })?;
                Some((l, local))
            }
            None => None,
        };
        let guard = destination::Guard::new(self.destinations, self.resolver);
        let http = engine::deliver::http_client(guard.clone()).map_err(StartError::Http)?;
        let engine = Arc::new(engine::Engine::new(
            self.store.clone(),
            keys,
            self.delivery,
            http,
            guard,
            self.limits,
        ));
        let tenants: Vec<([u8; 32], String)> = self
            .tokens
            .iter()
            .map(|t| (t.digest(), t.tenant()))
            .collect();
        let service = service::Service::new(engine.clone(), self.limits);
        // A run that an attempt's outcome ended answers its invoker (`context.invoke`).
        let weak = Arc::downgrade(&engine);
        let limits = self.limits;
        let _ = engine.run_ended.set(Box::new(move |tenant, run_id| {
            let Some(engine) = weak.upgrade() else { return };
            let service = service::Service::new(engine, limits);
            tokio::spawn(async move {
                if let Err(e) = service
                    .answer_invoker(&tenant, &run_id, ids::now_ms())
                    .await
                {
                    tracing::warn!(run_id, error = ?e, "the invoking run was not answered");
                }
            });
        }));
        let state = api::AppState::new(service, tenants, self.metrics);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (engine_task, engine_abort) =
            supervise(engine.clone(), stop_rx.clone(), self.shutdown_grace);
        let retention_task = tokio::spawn(retention::run(
            self.store.clone(),
            self.retention,
            stop_rx.clone(),
        ));
        let metrics_addr = metrics_listener.as_ref().map(|(_, a)| *a);
        let metrics_task = metrics_listener.map(|(listener, _)| {
            let app = api::metrics_router(state.clone());
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        let console = self.console.map(|c| console::router(state.clone(), c));
        let mut app = api::router(state);
        if let Some(console) = console {
            app = app.merge(console);
        }
        let api_task = tokio::spawn(http::serve(listener, app, self.http, stop_rx));
        Ok(RunningServer {
            local_addr,
            metrics_addr,
            stop: stop_tx,
            engine_task,
            engine_abort,
            engine_stopped: engine.watch_stopped(),
            retention_task,
            api_task,
            metrics_task,
        })
    }
}

/// Runs the engine's scheduler and watches it: when it ends without being asked to (a panic,
/// a cancelled task), the engine is marked stopped with the reason, so that `/health` answers
/// 503 and [`RunningServer::engine_stopped`] resolves. Returns the watcher's handle and a
/// handle that aborts the scheduler (a test hook).
fn supervise(
    engine: Arc<engine::Engine>,
    stop: watch::Receiver<bool>,
    grace: Duration,
) -> (JoinHandle<()>, AbortHandle) {
    let scheduler = tokio::spawn(engine.clone().run(stop.clone(), grace));
    let abort = scheduler.abort_handle();
    let watcher = tokio::spawn(async move {
        let reason = match scheduler.await {
            Ok(()) if *stop.borrow() => return,
            Ok(()) => "it returned without being asked to stop".to_string(),
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let text = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_string());
                format!("it panicked: {text}")
            }
            Err(_) => "its task was cancelled".to_string(),
        };
        tracing::error!(%reason, "the engine's scheduler stopped; /health answers 503");
        engine.mark_stopped(reason);
    });
    (watcher, abort)
}

/// A started server.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    engine_task: JoinHandle<()>,
    engine_abort: AbortHandle,
    engine_stopped: watch::Receiver<Option<String>>,
    retention_task: JoinHandle<()>,
    api_task: JoinHandle<()>,
    metrics_task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the separate metrics listener, when one was asked for.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Its base URL, `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Resolves when the engine's scheduler has stopped without being asked to (it panicked
    /// or its task ended), with the reason; never while it runs. A process that serves should
    /// then shut down and exit with an error rather than accept work it will not deliver.
    pub async fn engine_stopped(&self) -> String {
        let mut stopped = self.engine_stopped.clone();
        match stopped.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }

    /// Aborts the engine's scheduler, as a crash of it would end it. For tests of
    /// [`engine_stopped`](Self::engine_stopped) and `/health` only.
    #[doc(hidden)]
    pub fn stop_engine_for_tests(&self) {
        self.engine_abort.abort();
    }

    /// Stops accepting, lets attempts in flight finish for up to the shutdown grace, and
    /// returns when the API, the engine and the retention task have stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.api_task.await;
        if let Some(task) = self.metrics_task {
            let _ = task.await;
        }
        let _ = self.engine_task.await;
        let _ = self.retention_task.await;
    }

    /// Runs until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn wait(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// A future that completes at the first SIGINT or SIGTERM (Ctrl-C elsewhere). The handlers
/// are installed when this is called, not when the future is first polled, so that a signal
/// arriving in between is not lost (nor fatal). Call it inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut term), Some(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
