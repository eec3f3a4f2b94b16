//! `qstash dev` and `qstash serve`: run the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use qstash_delay::Delay;
use qstash_server::{
    DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_TOKEN, DeliveryConfig, Limits,
    MetricsAccess, RunningServer, Server, ServerBuilder, Token,
};
use qstash_store::Store;
use qstash_store::postgres::{PgOptions, PgStore};
use qstash_store::sqlite::SqliteStore;

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
    #[arg(long, env = "QSTASH_MAX_DELAY", default_value = "7d", value_parser = parse_delay)]
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
        Ok(builder
            .limits(limits)
            .delivery(delivery)
            .shutdown_grace(Duration::from(self.shutdown_grace)))
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
    /// The current signing key.
    #[arg(long, default_value = DEV_CURRENT_SIGNING_KEY, hide_default_value = true)]
    current_signing_key: String,
    /// The next signing key.
    #[arg(long, default_value = DEV_NEXT_SIGNING_KEY, hide_default_value = true)]
    next_signing_key: String,
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
    /// Serves `GET /metrics` on the API listener to requests with `Authorization: Bearer
    /// <this token>` (without it, the API listener does not serve /metrics).
    #[arg(long, env = "QSTASH_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Serves `GET /metrics` without a token on its own address (keep it private).
    #[arg(long, env = "QSTASH_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    #[command(flatten)]
    tuning: Tuning,
}

fn open_sqlite(path: PathBuf) -> Result<Arc<dyn Store>, Failure> {
    let store = SqliteStore::open(&path)
        .map_err(|e| Failure::Api(format!("cannot open the store at {}: {e}", path.display())))?;
    Ok(Arc::new(store))
}

/// Where `serve` keeps its data.
enum StoreUrl {
    Sqlite(PathBuf),
    Postgres { url: String, pool_size: usize },
}

impl StoreUrl {
    async fn open(&self) -> Result<Arc<dyn Store>, Failure> {
        match self {
            StoreUrl::Sqlite(path) => open_sqlite(path.clone()),
            StoreUrl::Postgres { url, pool_size } => {
                let options = PgOptions {
                    pool_size: *pool_size,
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
pub(crate) fn dev(args: &DevArgs, token: Option<&str>) -> Result<String, Failure> {
    let token = token.unwrap_or(DEV_TOKEN).to_owned();
    let db = args.data_dir.join("qstash.db");
    let listen = SocketAddr::from(([127, 0, 0, 1], args.port));
    let current = args.current_signing_key.clone();
    let next = args.next_signing_key.clone();
    let banner_keys = (token.clone(), current.clone(), next.clone());
    run_server(
        StoreUrl::Sqlite(db.clone()),
        args.tuning.log_format,
        move |store| {
            let builder = Server::builder(store)
                .listen(listen)
                .token(token.clone())
                .map_err(|_| Failure::input("--token: must be non-empty visible ASCII"))?
                .signing_keys(current, next);
            args.tuning.apply(builder)
        },
        move |server| {
            let url = server.url();
            format!(
                "qstash dev server on {url}\n  store:   {} (delete it to start afresh)\n  QSTASH_URL={url}\n  QSTASH_TOKEN={}\n  QSTASH_CURRENT_SIGNING_KEY={}\n  QSTASH_NEXT_SIGNING_KEY={}\n",
                args.data_dir.join("qstash.db").display(),
                banner_keys.0,
                banner_keys.1,
                banner_keys.2
            )
        },
    )
}

/// Runs `qstash serve` until SIGINT or SIGTERM.
pub(crate) fn serve(args: &ServeArgs, token: Option<&str>) -> Result<String, Failure> {
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
        args.tuning.log_format,
        move |store| {
            let mut builder = Server::builder(store).listen(listen).metrics(metrics);
            if let Some(addr) = metrics_listen {
                builder = builder.metrics_listen(addr);
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
        |server| match server.metrics_addr() {
            Some(m) => format!(
                "qstash server on {}\n  metrics: http://{m}/metrics\n",
                server.url()
            ),
            None => format!("qstash server on {}\n", server.url()),
        },
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

/// Starts the server on a multi-threaded runtime, prints the banner, and runs until a signal.
fn run_server(
    store: StoreUrl,
    log_format: LogFormat,
    build: impl FnOnce(Arc<dyn Store>) -> Result<ServerBuilder, Failure>,
    banner: impl FnOnce(&RunningServer) -> String,
) -> Result<String, Failure> {
    init_logging(log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Api(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        // Before anything is printed: a SIGTERM right after the banner must stop it cleanly.
        let signal = qstash_server::shutdown_signal();
        let store = store.open().await?;
        let builder = build(store)?;
        let server = builder.start().await.map_err(|e| match e {
            qstash_server::StartError::Bind { .. } => Failure::input(e.to_string()),
            other => Failure::Api(other.to_string()),
        })?;
        let text = banner(&server);
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        signal.await;
        tracing::info!("shutting down");
        server.shutdown().await;
        Ok(String::new())
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
