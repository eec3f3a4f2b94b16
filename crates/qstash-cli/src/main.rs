//! The `qstash` command: the server (`qstash dev`, `qstash serve`) and the client (publish
//! messages, trigger workflow runs, read logs, check the values they carry).
//!
//! Exit status: 0 on success, 2 for invalid input or usage, 1 when the API or the transport
//! failed. Errors go to stderr.

mod batch;
mod check;
mod demo;
mod diagnostic;
mod messages;
mod publish;
mod receive;
mod request;
mod runs;
mod schedule;
mod schedules;
mod serve;
mod show;
mod trigger;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use qstash_client::{Client, ErrorKind};
use qstash_protocol::DEFAULT_BASE_URL;

use crate::diagnostic::Failure;

/// A QStash-compatible server and its client, in one binary.
///
/// The server: `qstash dev` (one process on an embedded store, for a laptop) and `qstash serve`
/// (production, SQLite or PostgreSQL). The client: publish messages, trigger workflow runs,
/// read their logs and events, manage the DLQ, and check delays, retry-delay expressions and
/// flow-control values. The client's `--token` and `--url` (or `QSTASH_TOKEN`, `QSTASH_URL`)
/// go before or after the client command's name.
#[derive(Debug, Parser)]
#[command(name = "qstash", version, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: Command,
}

/// Where and as whom a client command connects.
#[derive(Debug, Clone, Default, Args)]
struct Connection {
    /// The QStash token (never printed).
    #[arg(long, env = "QSTASH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The API's base URL (the upstream service's by default).
    #[arg(
        long = "url",
        env = "QSTASH_URL",
        help = "The API's base URL [default: https://qstash.upstash.io]"
    )]
    base_url: Option<String>,
}

impl Connection {
    /// This connection, with what it leaves unset taken from `outer` (the flags given before
    /// the command's name).
    fn or(&self, outer: &Connection) -> Connection {
        Connection {
            token: self.token.clone().or_else(|| outer.token.clone()),
            base_url: self.base_url.clone().or_else(|| outer.base_url.clone()),
        }
    }

    /// The API's base URL: `--url`, `QSTASH_URL`, or the upstream service's.
    fn base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL)
    }

    /// A client for this connection whose calls end within `timeout`; a missing token is a
    /// usage error.
    fn client(&self, timeout: Duration) -> Result<Client, Failure> {
        let token = self
            .token
            .as_deref()
            .ok_or_else(|| Failure::input("no token: pass --token or set QSTASH_TOKEN"))?;
        Client::builder()
            .token(token)
            .base_url(self.base_url())
            .total_timeout(Some(timeout))
            .build()
            .map_err(api_failure)
    }
}

/// The flags of every command that calls the API: where, as whom, and how long one call may
/// wait.
#[derive(Debug, Clone, Args)]
struct ApiArgs {
    #[command(flatten)]
    conn: Connection,
    /// The longest one call to the API may take, its retries and their waits included, as a
    /// delay (`30s`, `2m`, `1m30s`).
    #[arg(long, value_name = "DELAY", default_value = "60s", value_parser = parse_timeout)]
    timeout: Duration,
}

impl ApiArgs {
    /// The connection these flags describe, completed by `outer`.
    fn connection(&self, outer: &Connection) -> Connection {
        self.conn.or(outer)
    }

    /// A client for these flags (completed by `outer`).
    fn client(&self, outer: &Connection) -> Result<Client, Failure> {
        self.connection(outer).client(self.timeout)
    }
}

/// A `--timeout` value: a delay greater than zero.
fn parse_timeout(value: &str) -> Result<Duration, String> {
    let delay: qstash_delay::Delay = value.parse().map_err(|e| format!("{e}"))?;
    let timeout = Duration::from(delay);
    if timeout.is_zero() {
        return Err("the timeout must be longer than zero".to_owned());
    }
    Ok(timeout)
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a workflow run: POST /v2/trigger/{URL}.
    Trigger(Box<trigger::TriggerArgs>),
    /// Start one run per line of a JSON-lines file ({"destination", "body", "headers"}).
    Batch(batch::BatchArgs),
    /// Check a value: print its canonical form and meaning, or what is wrong with it.
    Check {
        /// What the value is.
        what: CheckWhat,
        /// The value, as it would travel in its header.
        value: String,
        /// `check cron`: list the ticks after this RFC 3339 time instead of after now.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
    },
    /// Show when each retry of a failing delivery happens.
    RetrySchedule {
        /// A retry-delay expression (milliseconds; `retried` counts retries so far). The
        /// default backoff when absent.
        expr: Option<String>,
        /// How many retries (Upstash-Retries).
        #[arg(long, default_value_t = 3)]
        retries: u32,
    },
    /// Publish a message: POST /v2/publish/{URL}; prints its id.
    Publish(Box<publish::PublishArgs>),
    /// List message events (the message logs), newest first, one page.
    Events(messages::EventsArgs),
    /// The dead-letter queue: list, get, retry or delete failed messages.
    #[command(subcommand)]
    Dlq(messages::DlqCommand),
    /// Schedules: create, list, get, pause, resume or delete them.
    #[command(subcommand)]
    Schedules(schedules::SchedulesCommand),
    /// URL groups: add or remove endpoints, list, get or delete groups.
    #[command(subcommand)]
    UrlGroups(schedules::UrlGroupsCommand),
    /// Cancel runs by id.
    Cancel {
        /// The run ids.
        #[arg(required = true)]
        run_ids: Vec<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List runs and their states, one page.
    Logs(runs::LogsArgs),
    /// Run the server for development: the embedded store, the well-known token and signing
    /// keys; `--demo` also runs the example workflow once.
    Dev(Box<serve::DevArgs>),
    /// Run the server for production: SQLite or PostgreSQL, flags or environment variables for
    /// everything.
    Serve(Box<serve::ServeArgs>),
    /// Listen for deliveries on 127.0.0.1, verify their signatures, and print them.
    Receive(receive::ReceiveArgs),
}

/// The values `qstash check` knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum CheckWhat {
    /// An Upstash-Delay value (`1d10h30m`).
    Delay,
    /// An Upstash-Retry-Delay expression (`pow(2, retried) * 1000`).
    RetryDelay,
    /// An Upstash-Flow-Control-Value (`parallelism=2, rate=5, period=1m`).
    FlowControl,
    /// An Upstash-Cron schedule (`0 9 * * MON-FRI`, `CRON_TZ=America/New_York 0 9 * * *`).
    Cron,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`qstash … | head`) is not an error worth a message.
            let _ = stdout.write_all(out.as_bytes());
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs the command and returns what to print on stdout.
fn run(cli: Cli) -> Result<String, Failure> {
    match cli.command {
        Command::Check { what, value, from } => match (what, from) {
            (CheckWhat::Cron, from) => check::cron(&value, from.as_deref()),
            (_, Some(_)) => Err(diagnostic::Diagnostic::new(
                "--from applies to `qstash check cron` only",
            )),
            (CheckWhat::Delay, None) => check::delay(&value),
            (CheckWhat::RetryDelay, None) => check::retry_delay(&value),
            (CheckWhat::FlowControl, None) => check::flow_control(&value),
        }
        .map_err(Failure::Input),
        Command::RetrySchedule { expr, retries } => {
            schedule::table(expr.as_deref(), retries).map_err(Failure::Input)
        }
        Command::Trigger(args) => {
            let request = trigger::build(&args)?;
            let conn = args.request.api.connection(&cli.conn);
            if args.request.dry_run {
                return trigger::dry_run(&request, &conn);
            }
            let client = conn.client(args.request.api.timeout)?;
            block_on(trigger::send(&client, request, args.request.json))
        }
        Command::Batch(args) => {
            let client = args.api.client(&cli.conn)?;
            block_on(batch::run(&client, &args))
        }
        Command::Cancel { run_ids, api } => {
            let ids = runs::parse_ids(&run_ids)?;
            let client = api.client(&cli.conn)?;
            block_on(runs::cancel(&client, ids))
        }
        Command::Publish(args) => publish::run(&args, &args.request.api.connection(&cli.conn)),
        Command::Events(args) => messages::events(&args, &cli.conn),
        Command::Dlq(command) => messages::dlq(command, &cli.conn),
        Command::Schedules(command) => schedules::schedules(command, &cli.conn),
        Command::UrlGroups(command) => schedules::url_groups(command, &cli.conn),
        Command::Dev(args) => serve::dev(&args, cli.conn.token.as_deref()),
        Command::Serve(args) => serve::serve(&args, cli.conn.token.as_deref()),
        Command::Receive(args) => receive::run(&args),
        Command::Logs(args) => {
            let query = runs::logs_query(&args)?;
            let client = args.page.api.client(&cli.conn)?;
            block_on(runs::logs(&client, query, args.page.json))
        }
    }
}

/// Runs a future on a single-threaded runtime: the command does network I/O only.
fn block_on<T, F: std::future::Future<Output = Result<T, Failure>>>(
    future: F,
) -> Result<T, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Api(format!("cannot start the runtime: {e}")))?
        .block_on(future)
}

/// Maps a client error to a failure: invalid input and setup are usage errors (2), the rest
/// API or transport failures (1). The message is the error's whole chain of causes.
fn api_failure(e: qstash_client::Error) -> Failure {
    let message = diagnostic::report(&e);
    match e.kind() {
        ErrorKind::InvalidRequest | ErrorKind::Config => Failure::input(message),
        _ => Failure::Api(message),
    }
}
