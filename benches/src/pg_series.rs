//! The PostgreSQL series of the load benchmark (`load --postgres`): the real `qstash` binary
//! on one PostgreSQL database, first one server process, then two processes sharing it.
//!
//! ```text
//! cargo build --release -p qstash-cli && \
//!   cargo run --release --manifest-path benches/Cargo.toml --bin load -- --postgres \
//!     [--database-url postgres://…] [--seconds 10]
//! ```
//!
//! The database is `--database-url` or `QSTASH_BENCH_DATABASE_URL`; without either, a private
//! cluster is started with `.ci/pg start` (and stopped at the end). Each configuration works
//! in a schema of its own, created and dropped with `psql`. For each configuration:
//!
//! 1. **durable accepts/s**: `POST /v2/publish` with `Upstash-Delay: 1d`, 64 keep-alive
//!    connections split evenly over the processes, for `--seconds`.
//! 2. **delivered/s**: a backlog published through the first process, all due at one instant,
//!    drained by every process; as in the embedded series (committed `DELIVERED` events).
//! 3. **publish→delivery latency** at 100 messages/s, published to the first process; with two
//!    processes the second one receives no publishes and learns of the messages only through
//!    `LISTEN`/`NOTIFY`, competing for them with the first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use super::{
    CONNECTIONS, Options, Sink, closed_loop_on, delivered_phase, latency_phase, serve_on_thread,
    sink_router, verdict,
};
use crate::server::{Result, Scratch, ServerProcess, TOKEN, wait_healthy};

/// A private cluster started with `.ci/pg start`, stopped on drop.
pub(crate) struct Cluster {
    dir: PathBuf,
    pub(crate) url: String,
}

impl Cluster {
    pub(crate) fn start() -> Result<Cluster> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/pg");
        let dir = std::env::temp_dir().join(format!("qstash-load-pg-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "`.ci/pg start` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let url = String::from_utf8(out.stdout)?.trim().to_owned();
        Ok(Cluster { dir, url })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/pg");
        let _ = Command::new("bash")
            .arg(&script)
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// Runs one SQL command with `psql`.
fn psql(url: &str, sql: &str) -> Result<()> {
    let out = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !out.status.success() {
        return Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

/// `url` with connections that use `schema`.
fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

pub(crate) struct Figures {
    pub(crate) accepts: f64,
    pub(crate) delivered: f64,
    delivered_at_destination: f64,
    pub(crate) backlog: u64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    max: f64,
    latency_count: usize,
    pub(crate) warnings: usize,
}

pub fn postgres_series(opts: &Options, qstash: &Path, scratch: &Scratch) -> Result<()> {
    let load_before = loadavg();
    let cluster = match &opts.database_url {
        Some(_) => None,
        None => {
            eprintln!(
                "no --database-url nor QSTASH_BENCH_DATABASE_URL: starting a cluster with .ci/pg"
            );
            Some(Cluster::start()?)
        }
    };
    let base_url = match (&opts.database_url, &cluster) {
        (Some(url), _) => url.clone(),
        (None, Some(c)) => c.url.clone(),
        (None, None) => unreachable!("a cluster was started"),
    };

    let sink = Arc::new(Sink::default());
    let sink_addr = serve_on_thread("sink", 1, sink_router(sink.clone()))?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.client_threads)
        .thread_name("load-client")
        .enable_all()
        .build()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;

    let mut results = Vec::new();
    for processes in [1usize, 2] {
        let figures = in_schema(
            opts,
            qstash,
            scratch,
            &base_url,
            processes,
            &client_rt,
            &http,
            &sink,
            &format!("http://{sink_addr}/sink"),
        );
        results.push((processes, figures?));
    }
    drop(cluster);
    let load_after = loadavg();

    let mut rows: Vec<[String; 5]> = Vec::new();
    for (processes, f) in &results {
        let label = if *processes == 1 {
            "1 process".to_owned()
        } else {
            format!("{processes} processes")
        };
        rows.push([
            format!("{label}: durable accepts/s (64 conns, delay 1d)"),
            format!("{:.0}", f.accepts),
            ">= 10000".into(),
            verdict(f.accepts >= 10_000.0),
            if *processes > 1 {
                "connections split evenly".into()
            } else {
                String::new()
            },
        ]);
        rows.push([
            format!("{label}: delivered/s (backlog drain, committed)"),
            format!("{:.0}", f.delivered),
            ">= 5000".into(),
            verdict(f.delivered >= 5000.0),
            format!(
                "{} msgs; destination saw {:.0}/s",
                f.backlog, f.delivered_at_destination
            ),
        ]);
        rows.push([
            format!("{label}: publish->delivery p50 (100/s)"),
            format!("{:.2} ms", f.p50),
            "-".into(),
            "-".into(),
            format!("{} msgs", f.latency_count),
        ]);
        rows.push([
            format!("{label}: publish->delivery p99 (100/s)"),
            format!("{:.2} ms", f.p99),
            "<= 10 ms".into(),
            verdict(f.p99 <= 10.0),
            format!(
                "max {:.2} ms{}",
                f.max,
                if *processes > 1 {
                    "; second process idle"
                } else {
                    ""
                }
            ),
        ]);
        if f.warnings > 0 {
            eprintln!(
                "{label}: the server logs hold {} warnings or errors",
                f.warnings
            );
        }
    }
    super::print_rows(
        &format!(
            "qstash-server load benchmark on PostgreSQL ({}{} s per phase, {} client threads, {} \
             cores; load average {load_before} before, {load_after} after)",
            if opts.quick { "quick, " } else { "" },
            opts.seconds,
            opts.client_threads,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        &rows,
    );
    Ok(())
}

/// [`run_configuration`] in a schema of its own of `base_url`, created and dropped here.
#[allow(clippy::too_many_arguments)]
pub(crate) fn in_schema(
    opts: &Options,
    qstash: &Path,
    scratch: &Scratch,
    base_url: &str,
    processes: usize,
    client_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    sink: &Arc<Sink>,
    sink_url: &str,
) -> Result<Figures> {
    let schema = format!("qstash_load_{}_{processes}", std::process::id());
    psql(base_url, &format!("CREATE SCHEMA \"{schema}\""))?;
    let url = with_search_path(base_url, &schema);
    let figures = run_configuration(
        opts, qstash, scratch, &url, processes, client_rt, http, sink, sink_url,
    );
    let _ = psql(base_url, &format!("DROP SCHEMA \"{schema}\" CASCADE"));
    figures
}

#[allow(clippy::too_many_arguments)]
fn run_configuration(
    opts: &Options,
    qstash: &Path,
    scratch: &Scratch,
    url: &str,
    processes: usize,
    client_rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    sink: &Arc<Sink>,
    sink_url: &str,
) -> Result<Figures> {
    let mut servers = Vec::new();
    for i in 0..processes {
        let dir = scratch.path().join(format!("pg-{processes}-{i}"));
        std::fs::create_dir_all(&dir)?;
        let server = ServerProcess::start_on(qstash, &dir, url, &[])?;
        client_rt.block_on(wait_healthy(http, server.addr))?;
        servers.push(server);
    }
    let addrs: Vec<_> = servers.iter().map(|s| s.addr).collect();
    eprintln!(
        "PostgreSQL, {processes} server process(es) on {}",
        addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let publish_path = format!("/v2/publish/{sink_url}");
    let delayed = vec![
        ("authorization", format!("Bearer {TOKEN}")),
        ("content-type", "application/json".to_owned()),
        ("upstash-delay", "1d".to_owned()),
    ];
    let now_headers = vec![
        ("authorization", format!("Bearer {TOKEN}")),
        ("content-type", "application/json".to_owned()),
    ];

    eprintln!("[1/3] accepts (Upstash-Delay: 1d)");
    let accepts = client_rt.block_on(async {
        let mut tasks = Vec::new();
        for addr in &addrs {
            let (addr, path, headers) = (*addr, publish_path.clone(), delayed.clone());
            let (warmup, seconds) = (opts.warmup, opts.seconds);
            tasks.push(tokio::spawn(async move {
                closed_loop_on(
                    addr,
                    CONNECTIONS / processes,
                    &path,
                    &headers,
                    warmup,
                    seconds,
                )
                .await
            }));
        }
        let mut rate = 0.0;
        for t in tasks {
            rate += t.await??.rate;
        }
        Ok::<f64, Box<dyn std::error::Error + Send + Sync>>(rate)
    })?;
    eprintln!("      {accepts:.0} accepts/s");

    eprintln!("[2/3] delivered: a backlog due at one instant, drained by every process");
    let delivered = client_rt.block_on(delivered_phase(
        http,
        addrs[0],
        &publish_path,
        &now_headers,
        sink,
        opts.seconds,
    ))?;
    eprintln!(
        "      {} messages, {:.0} delivered/s committed ({:.0}/s at the destination)",
        delivered.accepted, delivered.committed_rate, delivered.destination_rate
    );

    eprintln!("[3/3] latency at 100 messages/s");
    // Let the second process settle (it may still be sleeping off the backlog's end).
    std::thread::sleep(Duration::from_millis(200));
    let latency = client_rt.block_on(latency_phase(
        http,
        addrs[0],
        sink_url,
        sink,
        opts.latency_seconds,
    ))?;
    eprintln!(
        "      p50 {:.2} ms, p99 {:.2} ms ({} messages)",
        latency.p50, latency.p99, latency.count
    );

    let mut warnings = 0;
    for server in &mut servers {
        server.stop();
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        warnings += log
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .count();
    }
    Ok(Figures {
        accepts,
        delivered: delivered.committed_rate,
        delivered_at_destination: delivered.destination_rate,
        backlog: delivered.accepted,
        p50: latency.p50,
        p99: latency.p99,
        max: latency.max,
        latency_count: latency.count,
        warnings,
    })
}
