//! `qstash dev` and `qstash serve`: run the server (and, for `dev --demo`, the example).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use qstash_delay::Delay;
use qstash_server::{
    Console, DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_TOKEN, DeliveryConfig,
    DestinationPolicy, HttpLimits, Limits, MetricsAccess, Retention, RunningServer, Server,
    ServerBuilder, Token,
};
use qstash_store::Store;
use qstash_store::postgres::{PgOptions, PgStore};
use qstash_store::sqlite::{SqliteOptions, SqliteStore};

use crate::diagnostic::Failure;

/// Settings shared by `dev` and `serve`: limits and delivery.
#[derive(Debug, Args)]
pub(crate) struct Tuning {
    /// The largest message body accepted (bytes; 413 above it).
    #[arg(long, env = "QSTASH_MAX_BODY", default_value_t = 1024 * 1024)]
    max_body: usize,
    /// The most retries a message may ask for (400 above it).
    #[arg(long, env = "QSTASH_MAX_RETRIES", default_value_t = 10)]
    max_retries: u32,
    /// How far ahead a delay or not-before may reach (400 beyond it).
    #[arg(long, env = "QSTASH_MAX_DELAY", default_value = "365d", value_parser = parse_delay)]
    max_delay: Delay,
    /// How long deduplication ids are remembered.
    #[arg(long, env = "QSTASH_DEDUP_WINDOW", default_value = "10m", value_parser = parse_delay)]
    dedup_window: Delay,
    /// The most steps one workflow run may record (a workflow that never ends fails beyond it).
    #[arg(long, env = "QSTASH_MAX_RUN_STEPS", default_value_t = 1000)]
    max_run_steps: usize,
    /// The timeout of an attempt whose message sets no Upstash-Timeout.
    #[arg(long, env = "QSTASH_DELIVERY_TIMEOUT", default_value = "30s", value_parser = parse_delay)]
    delivery_timeout: Delay,
    /// The most attempts in flight at once.
    #[arg(long, env = "QSTASH_CONCURRENCY", default_value_t = 256)]
    concurrency: usize,
    /// What a claim's lease adds to the attempt's timeout before the attempt is made again
    /// after a crash.
    #[arg(long, env = "QSTASH_LEASE_GRACE", default_value = "30s", value_parser = parse_delay)]
    lease_grace: Delay,
    /// How long a shutdown (SIGINT, SIGTERM) waits for attempts in flight.
    #[arg(long, env = "QSTASH_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_delay)]
    shutdown_grace: Delay,
    /// How long finished messages (delivered, failed, cancelled) with their events, and
    /// finished workflow runs with their steps, are kept before they are removed.
    #[arg(long, env = "QSTASH_RETENTION", default_value = "7d", value_parser = parse_delay)]
    retention: Delay,
    /// How long dead letters are kept before they are removed.
    #[arg(long, env = "QSTASH_DLQ_RETENTION", default_value = "14d", value_parser = parse_delay)]
    dlq_retention: Delay,
    /// How often old work is looked for and removed.
    #[arg(long, default_value = "1m", value_parser = parse_delay, hide = true)]
    retention_interval: Delay,
    /// How long a client may take to send a request's headers (the connection is closed
    /// then), and how long a request's body may stall (the request is refused then).
    #[arg(long, env = "QSTASH_READ_TIMEOUT", default_value = "30s", value_parser = parse_delay)]
    read_timeout: Delay,
    /// The most bytes of a request's line and headers (431 above it; at least 8192).
    #[arg(long, env = "QSTASH_MAX_HEADER_BYTES", default_value_t = 64 * 1024)]
    max_header_bytes: usize,
    /// The most API requests handled at once; more wait for a place.
    #[arg(long, env = "QSTASH_MAX_CONCURRENT_REQUESTS", default_value_t = 1024)]
    max_concurrent_requests: usize,
    /// The most writes waiting for the store; beyond it publishes and triggers answer 503
    /// with Retry-After: 1 (nothing accepted) instead of queueing more.
    #[arg(long, env = "QSTASH_MAX_QUEUED_WRITES", default_value_t = 2048)]
    max_queued_writes: usize,
    /// Test hook: aborts the engine's scheduler this long after the start, as a crash would.
    #[arg(long, value_parser = parse_delay, hide = true)]
    test_stop_engine_after: Option<Delay>,
    /// How log lines are written to stderr: `text` for people, `json` (one object per line)
    /// for log collectors.
    #[arg(long, env = "QSTASH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The format of the server's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn parse_delay(s: &str) -> Result<Delay, String> {
    s.parse::<Delay>().map_err(|e| e.to_string())
}

impl Tuning {
    fn apply(&self, builder: ServerBuilder) -> Result<ServerBuilder, Failure> {
        if self.concurrency == 0 {
            return Err(Failure::input("--concurrency must be at least 1"));
        }
        if self.delivery_timeout.as_nanos() == 0 {
            return Err(Failure::input("--delivery-timeout must be above zero"));
        }
        if self.retention.as_nanos() == 0 {
            return Err(Failure::input("--retention must be above zero"));
        }
        if self.dlq_retention.as_nanos() == 0 {
            return Err(Failure::input("--dlq-retention must be above zero"));
        }
        if self.retention_interval.as_nanos() == 0 {
            return Err(Failure::input("--retention-interval must be above zero"));
        }
        if self.read_timeout.as_nanos() == 0 {
            return Err(Failure::input("--read-timeout must be above zero"));
        }
        if self.max_header_bytes < 8192 {
            return Err(Failure::input("--max-header-bytes must be at least 8192"));
        }
        if self.max_concurrent_requests == 0 {
            return Err(Failure::input(
                "--max-concurrent-requests must be at least 1",
            ));
        }
        let mut limits = Limits::default();
        limits.max_body = self.max_body;
        limits.max_retries = self.max_retries;
        limits.max_delay = self.max_delay.into();
        limits.dedup_window = self.dedup_window.into();
        limits.max_run_steps = self.max_run_steps;
        let mut delivery = DeliveryConfig::default();
        delivery.timeout = self.delivery_timeout.into();
        delivery.concurrency = self.concurrency;
        delivery.lease_grace = self.lease_grace.into();
        let retention = Retention::default()
            .finished(self.retention.into())
            .dead_letters(self.dlq_retention.into())
            .interval(self.retention_interval.into());
        let read_timeout = Duration::from(self.read_timeout);
        let http = HttpLimits::default()
            .header_read_timeout(read_timeout)
            .body_read_timeout(read_timeout)
            .max_header_bytes(self.max_header_bytes)
            .max_concurrent_requests(self.max_concurrent_requests);
        Ok(builder
            .limits(limits)
            .delivery(delivery)
            .retention(retention)
            .http_limits(http)
            .shutdown_grace(Duration::from(self.shutdown_grace)))
    }

    /// The store's bound on waiting writes (checked before the store opens).
    fn max_queued_writes(&self) -> Result<usize, Failure> {
        if self.max_queued_writes == 0 {
            return Err(Failure::input("--max-queued-writes must be at least 1"));
        }
        Ok(self.max_queued_writes)
    }
}

/// `qstash dev`.
#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// The port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Where the embedded store keeps its file (`qstash.db`); delete it to start afresh.
    #[arg(long, default_value = ".qstash")]
    data_dir: PathBuf,
    /// The API token [default: the well-known token of the official development server].
    #[arg(long, env = "QSTASH_TOKEN")]
    token: Option<String>,
    /// Also start the example workflow endpoint (`examples/workflow`, its npm packages
    /// installed when missing), run it once and print its steps as they complete; the
    /// endpoint stops with the server.
    #[arg(long)]
    demo: bool,
    /// The current signing key.
    #[arg(long, default_value = DEV_CURRENT_SIGNING_KEY, hide_default_value = true)]
    current_signing_key: String,
    /// The next signing key.
    #[arg(long, default_value = DEV_NEXT_SIGNING_KEY, hide_default_value = true)]
    next_signing_key: String,
    /// Do not serve the web console at /console (served by default).
    #[arg(long)]
    no_console: bool,
    #[command(flatten)]
    tuning: Tuning,
}

/// `qstash serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "QSTASH_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The store: `sqlite://PATH` (embedded, one process) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (shared by any number of processes).
    #[arg(long, env = "QSTASH_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The most connections to PostgreSQL (with a postgres:// store; one more listens for
    /// other processes' messages).
    #[arg(long, env = "QSTASH_POOL_SIZE", default_value_t = 16)]
    pool_size: usize,
    /// API tokens, each one a tenant: comma-separated, and/or the flag repeated. The server's
    /// tenants come only from here (the client's `QSTASH_TOKEN` is not one).
    #[arg(
        long = "tokens",
        env = "QSTASH_SERVER_TOKENS",
        hide_env_values = true,
        value_delimiter = ',',
        action = clap::ArgAction::Append
    )]
    tokens: Vec<String>,
    /// One current signing key shared by every tenant (default: each tenant has its own pair,
    /// made on its first use and kept in the store).
    #[arg(long, env = "QSTASH_CURRENT_SIGNING_KEY", hide_env_values = true)]
    current_signing_key: Option<String>,
    /// The next signing key shared by every tenant (with --current-signing-key).
    #[arg(long, env = "QSTASH_NEXT_SIGNING_KEY", hide_env_values = true)]
    next_signing_key: Option<String>,
    /// Opens a destination that serve refuses (loopback, link-local, private, CGNAT,
    /// unique-local, multicast, broadcast, unspecified): an address range (`10.1.0.0/16`, one
    /// address) or a host name (`hooks.internal`, `*.internal`). Repeatable; the environment
    /// variable takes a comma-separated list.
    #[arg(
        long = "allow-destination",
        value_name = "CIDR|HOSTNAME",
        env = "QSTASH_ALLOW_DESTINATIONS",
        value_delimiter = ','
    )]
    allow_destination: Vec<String>,
    /// Opens every destination range serve refuses (for a server that only calls its own
    /// network).
    #[arg(long, env = "QSTASH_ALLOW_PRIVATE_DESTINATIONS")]
    allow_private_destinations: bool,
    /// Serves `GET /metrics` on the API listener to requests with `Authorization: Bearer
    /// <this token>` (without it, the API listener does not serve /metrics).
    #[arg(long, env = "QSTASH_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Serves `GET /metrics` without a token on its own address (keep it private).
    #[arg(long, env = "QSTASH_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Serves the web console at /console; each tenant logs in with its token and sees only
    /// its own work.
    #[arg(long, env = "QSTASH_CONSOLE")]
    console: bool,
    #[command(flatten)]
    tuning: Tuning,
}

impl ServeArgs {
    /// The destination policy of the flags: the refused ranges, less what they open.
    fn destination_policy(&self) -> Result<DestinationPolicy, Failure> {
        let mut policy = DestinationPolicy::refuse_private();
        if self.allow_private_destinations {
            policy = policy.allow_private();
        }
        for rule in self
            .allow_destination
            .iter()
            .filter(|r| !r.trim().is_empty())
        {
            policy = policy
                .allow(rule)
                .map_err(|e| Failure::input(format!("--allow-destination: {e}")))?;
        }
        Ok(policy)
    }
}

fn open_sqlite(path: PathBuf, max_queued: usize) -> Result<Arc<dyn Store>, Failure> {
    let store = SqliteStore::open_with(&path, SqliteOptions::default().max_queued(max_queued))
        .map_err(|e| Failure::Api(format!("cannot open the store at {}: {e}", path.display())))?;
    Ok(Arc::new(store))
}

/// Where `serve` keeps its data.
enum StoreUrl {
    Sqlite(PathBuf),
    Postgres { url: String, pool_size: usize },
}

impl StoreUrl {
    async fn open(&self, max_queued: usize) -> Result<Arc<dyn Store>, Failure> {
        match self {
            StoreUrl::Sqlite(path) => open_sqlite(path.clone(), max_queued),
            StoreUrl::Postgres { url, pool_size } => {
                let options = PgOptions {
                    pool_size: *pool_size,
                    max_queued,
                    ..PgOptions::default()
                };
                // The store's errors never contain the URL (it may hold a password).
                let store = PgStore::connect(url, options)
                    .await
                    .map_err(|e| Failure::Api(format!("cannot open the PostgreSQL store: {e}")))?;
                Ok(Arc::new(store))
            }
        }
    }
}

/// Runs `qstash dev` until SIGINT or SIGTERM.
/// `outer_token` is a `--token` given before the command's name.
pub(crate) fn dev(args: &DevArgs, outer_token: Option<&str>) -> Result<String, Failure> {
    let token = args
        .token
        .as_deref()
        .or(outer_token)
        .unwrap_or(DEV_TOKEN)
        .to_owned();
    let _lock = lock_data_dir(&args.data_dir)?;
    let db = args.data_dir.join("qstash.db");
    let listen = SocketAddr::from(([127, 0, 0, 1], args.port));
    let current = args.current_signing_key.clone();
    let next = args.next_signing_key.clone();
    let keys = crate::demo::Keys {
        token: token.clone(),
        current: current.clone(),
        next: next.clone(),
    };
    let banner_keys = keys.clone();
    let demo = args.demo.then_some(keys);
    run_server(
        StoreUrl::Sqlite(db.clone()),
        &args.tuning,
        Some("is another server running there? Pass --port to use another port"),
        move |store| {
            let builder = Server::builder(store)
                .listen(listen)
                .token(token.clone())
                .map_err(|_| Failure::input("--token: must be non-empty visible ASCII"))?
                .signing_keys(current, next)
                // A laptop's server calls whatever the developer runs, loopback first.
                .destination_policy(DestinationPolicy::allow_all());
            let builder = if args.no_console {
                builder
            } else {
                builder.console(Console::new().store(format!("SQLite {}", db.display())))
            };
            args.tuning.apply(builder)
        },
        move |server| {
            let url = server.url();
            let console = if args.no_console {
                String::new()
            } else {
                format!(
                    "  console: {url}/console/#token={}\n",
                    fragment(&banner_keys.token)
                )
            };
            format!(
                "qstash dev server on {url}\n  store:   {} (delete it to start afresh)\n  QSTASH_URL={url}\n  QSTASH_TOKEN={}\n  QSTASH_CURRENT_SIGNING_KEY={}\n  QSTASH_NEXT_SIGNING_KEY={}\n{console}",
                args.data_dir.join("qstash.db").display(),
                banner_keys.token,
                banner_keys.current,
                banner_keys.next
            )
        },
        demo,
    )
}

/// `token` for the console's URL fragment (`#token=…`): every byte but unreserved ones (and `=`) percent-encoded.
pub(crate) fn fragment(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Takes the data directory's lock file (`qstash.lock`, an advisory lock held while the
/// process runs), so that a second `qstash dev` on the same directory is refused instead of
/// sharing the store.
fn lock_data_dir(dir: &Path) -> Result<std::fs::File, Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Api(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join("qstash.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Failure::Api(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Failure::input(format!(
            "--data-dir: another qstash dev is using {} (it holds {}); stop it, or pass \
             another --data-dir (and --port)",
            dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Failure::Api(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

/// Runs `qstash serve` until SIGINT or SIGTERM; `outer_token` is a `--token` given before the
/// command's name.
pub(crate) fn serve(args: &ServeArgs, outer_token: Option<&str>) -> Result<String, Failure> {
    // A client's token is never a tenant; it only explains a missing --tokens.
    let token = outer_token
        .map(str::to_owned)
        .or_else(|| std::env::var("QSTASH_TOKEN").ok());
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        Failure::input(format!(
            "--listen: {:?} is not an address like 127.0.0.1:8080",
            args.listen
        ))
    })?;
    let store_url = if let Some(p) = args.database_url.strip_prefix("sqlite://") {
        if p.is_empty() {
            return Err(Failure::input(
                "--database-url: sqlite:// needs a file path",
            ));
        }
        StoreUrl::Sqlite(PathBuf::from(p))
    } else if args.database_url.starts_with("postgres://")
        || args.database_url.starts_with("postgresql://")
    {
        if args.pool_size == 0 {
            return Err(Failure::input("--pool-size must be at least 1"));
        }
        StoreUrl::Postgres {
            url: args.database_url.clone(),
            pool_size: args.pool_size,
        }
    } else {
        return Err(Failure::input(
            "--database-url: expected sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE",
        ));
    };
    let tokens = server_tokens(&args.tokens);
    if tokens.is_empty() {
        let client = if token.is_some() {
            " (--token and QSTASH_TOKEN are a client's token, not the server's tenants)"
        } else {
            ""
        };
        return Err(Failure::input(format!(
            "--tokens: at least one API token is needed (--tokens or QSTASH_SERVER_TOKENS){client}"
        )));
    }
    let keys = match (&args.current_signing_key, &args.next_signing_key) {
        (Some(c), Some(n)) => Some((c.clone(), n.clone())),
        (None, None) => None,
        _ => {
            return Err(Failure::input(
                "--current-signing-key and --next-signing-key go together",
            ));
        }
    };
    let policy = args.destination_policy()?;
    let console = args.console.then(|| match &store_url {
        // The path stays with the operator: tenants see only the kind of store.
        StoreUrl::Sqlite(_) => Console::new().store("SQLite"),
        StoreUrl::Postgres { .. } => Console::new().store("PostgreSQL"),
    });
    let metrics = match &args.metrics_token {
        Some(t) => MetricsAccess::Bearer(Token::new(t.trim()).map_err(|_| {
            Failure::input("--metrics-token: a token must be non-empty visible ASCII")
        })?),
        None => MetricsAccess::Closed,
    };
    let metrics_listen: Option<SocketAddr> = args
        .metrics_listen
        .as_deref()
        .map(|a| {
            a.parse().map_err(|_| {
                Failure::input(format!(
                    "--metrics-listen: {a:?} is not an address like 127.0.0.1:9090"
                ))
            })
        })
        .transpose()?;
    run_server(
        store_url,
        &args.tuning,
        None,
        move |store| {
            let mut builder = Server::builder(store)
                .listen(listen)
                .destination_policy(policy)
                .metrics(metrics);
            if let Some(addr) = metrics_listen {
                builder = builder.metrics_listen(addr);
            }
            if let Some(console) = console {
                builder = builder.console(console);
            }
            for t in &tokens {
                builder = builder.token(t.clone()).map_err(|_| {
                    Failure::input("--tokens: a token must be non-empty visible ASCII")
                })?;
            }
            if let Some((c, n)) = &keys {
                builder = builder.signing_keys(c.clone(), n.clone());
            }
            args.tuning.apply(builder)
        },
        move |server| {
            let mut text = format!("qstash server on {}\n", server.url());
            if let Some(m) = server.metrics_addr() {
                text.push_str(&format!("  metrics: http://{m}/metrics\n"));
            }
            if args.console {
                text.push_str(&format!(
                    "  console: {}/console/ (log in with a tenant's token)\n",
                    server.url()
                ));
            }
            text
        },
        None,
    )
}

/// The tenants' tokens of `--tokens` (each value may hold several, comma-separated): trimmed,
/// without empty ones or repeats.
fn server_tokens(values: &[String]) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    for t in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if !t.is_empty() && !tokens.iter().any(|x| x == t) {
            tokens.push(t.to_owned());
        }
    }
    tokens
}

/// Starts the server on a multi-threaded runtime, prints the banner, runs the demo when
/// asked, and runs until a signal or until the engine dies (an error). `bind_hint` follows the
/// error when the address is taken.
fn run_server(
    store: StoreUrl,
    tuning: &Tuning,
    bind_hint: Option<&str>,
    build: impl FnOnce(Arc<dyn Store>) -> Result<ServerBuilder, Failure>,
    banner: impl FnOnce(&RunningServer) -> String,
    demo: Option<crate::demo::Keys>,
) -> Result<String, Failure> {
    init_logging(tuning.log_format);
    let max_queued = tuning.max_queued_writes()?;
    let stop_engine_after = tuning.test_stop_engine_after.map(Duration::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Api(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        // Before anything is printed: a SIGTERM right after the banner must stop it cleanly.
        let signal = qstash_server::shutdown_signal();
        let store = store.open(max_queued).await?;
        let builder = build(store)?;
        let server = builder.start().await.map_err(|e| match e {
            qstash_server::StartError::Bind { .. } => match bind_hint {
                Some(hint) => Failure::input(format!("{e}; {hint}")),
                None => Failure::input(e.to_string()),
            },
            other => Failure::Api(other.to_string()),
        })?;
        let text = banner(&server);
        crate::demo::print(&text);
        let demo = demo.map(|keys| crate::demo::start(server.url(), keys));
        if let Some(after) = stop_engine_after {
            tokio::time::sleep(after).await;
            server.stop_engine_for_tests();
        }
        // A dead engine would accept work it never delivers: exit with an error instead.
        let engine_stopped = tokio::select! {
            () = signal => None,
            reason = server.engine_stopped() => Some(reason),
        };
        if let Some(demo) = demo {
            demo.stop().await;
        }
        match engine_stopped {
            None => {
                tracing::info!("shutting down");
                server.shutdown().await;
                Ok(String::new())
            }
            Some(reason) => {
                tracing::error!(%reason, "the engine stopped; shutting down");
                server.shutdown().await;
                Err(Failure::Api(format!(
                    "the engine's scheduler stopped ({reason}); the server shut down"
                )))
            }
        }
    })
}

fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
