//! The peers' series of the load benchmark (`load --peers`): the server beside BullMQ (on
//! Redis) and graphile-worker (on PostgreSQL), all measured in one run on the same machine.
//!
//! ```text
//! cargo build --release -p qstash-cli && \
//!   cargo run --release --manifest-path benches/Cargo.toml --bin load -- --peers [--postgres] \
//!     [--seconds 10] [--peer-backlog 20000]
//! ```
//!
//! Not run by CI (`.ci/run` runs `load -- --quick` only): the peers need Redis, PostgreSQL and
//! Node packages, and their phases take minutes on a loaded machine.
//!
//! What it starts and stops itself:
//! - **Redis**: `redis-server` from `PATH` (as root, `apt-get install -y redis-server` when it
//!   is absent), on a free loopback port in a temporary directory, with `appendonly yes`,
//!   `appendfsync always` (every write synced, as our store and PostgreSQL sync every commit)
//!   and no snapshots.
//! - **PostgreSQL**: a private cluster from `.ci/pg start` (fsync on), for graphile-worker and,
//!   with `--postgres`, for our server on PostgreSQL (in a schema of its own).
//! - **the peers**: `npm ci` in `benches/peers/` (pinned `bullmq`, `ioredis`,
//!   `graphile-worker` and `pg` in its `package-lock.json`), then `node bench.mjs PEER URL`.
//!
//! The three measures, taken as the embedded series takes ours (see `load.rs`):
//! 1. **durable accepts/s**: 64 concurrent producers, each adding one message at a time, due
//!    in a day (ours: `Upstash-Delay: 1d` over 64 keep-alive connections; BullMQ `queue.add`
//!    with `delay`; graphile-worker `addJob` with `runAt`, through a pool of 64 connections);
//!    plain axum answering the same requests is the ceiling of the HTTP part.
//! 2. **delivered/run per s**: a backlog due now, drained by a no-op consumer (ours: the whole
//!    `--seconds` of publishes, delivered with the server's default 256 attempts in flight to a
//!    no-op loopback destination; the peers: `--peer-backlog` jobs added in bulk, untimed, then
//!    a worker with `--concurrency 256` for BullMQ and 64 for graphile-worker, bounded by its
//!    pool's connections), from the consumer's start to the last completion.
//! 3. **publish→start latency** at 100/s: ours to the destination's receipt; the peers from
//!    `add` to the no-op task's start, in the same Node process.
//!
//! graphile-worker is measured twice: with its defaults, and "tuned" (its `localQueue` of 500
//! jobs and batched completions, `completeJobBatchDelay: 0`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    Options, Sink, baseline_router, closed_loop, delivered_phase, latency_phase, serve_on_thread,
    sink_router,
};
use crate::pg_series::{self, Cluster, loadavg};
use crate::server::{Result, Scratch, ServerProcess, TOKEN, wait_healthy};

/// One system's three figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    accepts: f64,
    delivered: f64,
    p50: f64,
    p99: f64,
}

/// The peers' series: ours on SQLite (and on PostgreSQL with `--postgres`), BullMQ,
/// graphile-worker, plain axum; prints one table.
pub fn peers_series(opts: &Options, qstash: &Path, scratch: &Scratch) -> Result<()> {
    let load_before = loadavg();
    let peers_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers");
    npm_ci(&peers_dir)?;
    let redis_bin = redis_server()?;

    let sink = Arc::new(Sink::default());
    let sink_addr = serve_on_thread("sink", 1, sink_router(sink.clone()))?;
    let baseline_addr = serve_on_thread("baseline", 2, baseline_router())?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.client_threads)
        .thread_name("load-client")
        .enable_all()
        .build()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let sink_url = format!("http://{sink_addr}/sink");
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

    eprintln!("[axum] accepts: plain axum handler");
    let axum_rate = client_rt
        .block_on(closed_loop(
            baseline_addr,
            &publish_path,
            &delayed,
            opts.warmup,
            opts.seconds,
        ))?
        .rate;
    eprintln!("      {axum_rate:.0} req/s");

    // Ours on SQLite.
    let sqlite_dir = scratch.path().join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    let mut server = ServerProcess::start(qstash, &sqlite_dir)?;
    client_rt.block_on(wait_healthy(&http, server.addr))?;
    eprintln!("[ours, SQLite] accepts (Upstash-Delay: 1d)");
    let accepts = client_rt.block_on(closed_loop(
        server.addr,
        &publish_path,
        &delayed,
        opts.warmup,
        opts.seconds,
    ))?;
    eprintln!("      {:.0} accepts/s", accepts.rate);
    eprintln!("[ours, SQLite] delivered: a backlog due at one instant");
    let delivered = client_rt.block_on(delivered_phase(
        &http,
        server.addr,
        &publish_path,
        &now_headers,
        &sink,
        opts.seconds,
    ))?;
    eprintln!(
        "      {} messages, {:.0} delivered/s",
        delivered.accepted, delivered.committed_rate
    );
    eprintln!("[ours, SQLite] latency at 100 messages/s");
    let latency = client_rt.block_on(latency_phase(
        &http,
        server.addr,
        &sink_url,
        &sink,
        opts.latency_seconds,
    ))?;
    eprintln!("      p50 {:.2} ms, p99 {:.2} ms", latency.p50, latency.p99);
    server.stop();
    let ours_sqlite = Figures {
        accepts: accepts.rate,
        delivered: delivered.committed_rate,
        p50: latency.p50,
        p99: latency.p99,
    };
    let ours_backlog = delivered.accepted;

    let cluster = Cluster::start()?;
    let ours_pg = if opts.postgres {
        eprintln!("[ours, PostgreSQL] one process");
        let f = pg_series::in_schema(
            opts,
            qstash,
            scratch,
            &cluster.url,
            1,
            &client_rt,
            &http,
            &sink,
            &sink_url,
        )?;
        if f.warnings > 0 {
            eprintln!(
                "      the server log holds {} warnings or errors",
                f.warnings
            );
        }
        Some((
            Figures {
                accepts: f.accepts,
                delivered: f.delivered,
                p50: f.p50,
                p99: f.p99,
            },
            f.backlog,
        ))
    } else {
        None
    };
    drop(client_rt);

    let redis = Redis::start(&redis_bin, scratch.path())?;
    eprintln!("[BullMQ] on redis-server at {}", redis.addr);
    let bullmq = node_peer(
        &peers_dir,
        opts,
        "bullmq",
        &format!("redis://{}", redis.addr),
        256,
    )?;
    drop(redis);
    eprintln!("[graphile-worker] on PostgreSQL");
    let graphile = node_peer(&peers_dir, opts, "graphile", &cluster.url, 64)?;
    // A fresh database for the tuned run, so it does not drain a bigger jobs table.
    eprintln!("[graphile-worker, tuned] on PostgreSQL");
    let tuned_url = fresh_database(&cluster.url, "graphile_tuned")?;
    let tuned = node_peer(&peers_dir, opts, "graphile-tuned", &tuned_url, 64)?;
    drop(cluster);
    let load_after = loadavg();

    let ms = |v: f64| format!("{v:.2} ms");
    let rate = |v: f64| format!("{v:.0}");
    let mut header = vec!["measure".to_owned(), "ours, SQLite".to_owned()];
    let mut columns = vec![ours_sqlite];
    if let Some((f, _)) = ours_pg {
        header.push("ours, PostgreSQL".to_owned());
        columns.push(f);
    }
    header.extend(["BullMQ", "graphile-worker", "graphile-worker tuned"].map(str::to_owned));
    columns.extend([bullmq, graphile, tuned]);
    header.push("plain axum".to_owned());
    let row = |label: &str, cell: &dyn Fn(&Figures) -> String, axum: &str| {
        let mut r = vec![label.to_owned()];
        r.extend(columns.iter().map(cell));
        r.push(axum.to_owned());
        r
    };
    let rows = vec![
        header,
        row(
            "durable accepts/s (64 concurrent)",
            &|f| rate(f.accepts),
            &rate(axum_rate),
        ),
        row(
            "delivered / run per s (backlog)",
            &|f| rate(f.delivered),
            "-",
        ),
        row("publish->start p50 (100/s)", &|f| ms(f.p50), "-"),
        row("publish->start p99 (100/s)", &|f| ms(f.p99), "-"),
    ];
    println!();
    println!(
        "qstash-server beside its peers ({}{} s per phase, {} cores; load average {load_before} \
         before, {load_after} after)",
        if opts.quick { "quick, " } else { "" },
        opts.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    print_grid(&rows);
    println!(
        "backlogs: ours, SQLite {ours_backlog}{}; peers {} each; fsync on everywhere (Redis \
         appendfsync always)",
        ours_pg.map_or(String::new(), |(_, b)| format!(", PostgreSQL {b}")),
        opts.peer_backlog
    );
    Ok(())
}

/// Prints `rows` (the first one the header) as a Markdown table, numbers right-aligned.
fn print_grid(rows: &[Vec<String>]) {
    let mut widths = vec![0; rows[0].len()];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::from("|");
        for (i, (w, cell)) in widths.iter().zip(cells).enumerate() {
            if i == 0 {
                out.push_str(&format!(" {cell:<w$} |"));
            } else {
                out.push_str(&format!(" {cell:>w$} |"));
            }
        }
        println!("{out}");
    };
    line(&rows[0]);
    let sep: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w.saturating_sub(1)))
            }
        })
        .collect();
    line(&sep);
    for row in &rows[1..] {
        line(row);
    }
}

/// `npm ci` in the peers' package.
fn npm_ci(dir: &Path) -> Result<()> {
    eprintln!("npm ci in {}", dir.display());
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run npm (Node.js 20 or later is needed): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm ci in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// `redis-server` on `PATH`; as root, installed from Debian's packages when absent.
fn redis_server() -> Result<PathBuf> {
    let find = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("redis-server"))
                .find(|p| p.is_file())
        })
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        eprintln!("no redis-server: apt-get install -y redis-server");
        let status = Command::new("apt-get")
            .args(["install", "-y", "redis-server"])
            .stdout(Stdio::null())
            .status()?;
        if status.success()
            && let Some(p) = find()
        {
            return Ok(p);
        }
    }
    Err("no redis-server on PATH: install it (Debian: apt-get install -y redis-server)".into())
}

/// A `redis-server` child process in a directory of its own, stopped on drop.
struct Redis {
    child: Child,
    addr: SocketAddr,
}

impl Redis {
    fn start(bin: &Path, scratch: &Path) -> Result<Redis> {
        let dir = scratch.join("redis");
        std::fs::create_dir_all(&dir)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(bin)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .arg("--dir")
            .arg(&dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--daemonize", "no", "--logfile", "redis.log"])
            .stdout(Stdio::null())
            .spawn()?;
        let mut redis = Redis {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(redis.addr).is_err() {
            if let Some(status) = redis.child.try_wait()? {
                return Err(format!("redis-server exited: {status}").into());
            }
            if Instant::now() > deadline {
                return Err("redis-server did not listen within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new database `name` on the cluster of `url`; its URL.
fn fresh_database(url: &str, name: &str) -> Result<String> {
    let out = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !out.status.success() {
        return Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

/// Runs `node bench.mjs PEER URL …` and reads its line of JSON.
fn node_peer(
    dir: &Path,
    opts: &Options,
    peer: &str,
    url: &str,
    concurrency: usize,
) -> Result<Figures> {
    let out = Command::new("node")
        .arg("bench.mjs")
        .args([peer, url])
        .args(["--seconds", &opts.seconds.to_string()])
        .args(["--warmup", &opts.warmup.to_string()])
        .args(["--latency-seconds", &opts.latency_seconds.to_string()])
        .args(["--backlog", &opts.peer_backlog.to_string()])
        .args(["--producers", &super::CONNECTIONS.to_string()])
        .args(["--concurrency", &concurrency.to_string()])
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("node bench.mjs {peer} failed: {}", out.status).into());
    }
    let text = String::from_utf8(out.stdout)?;
    let line = text.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| format!("node bench.mjs {peer} printed {line:?}: {e}"))?;
    let get = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let f = Figures {
        accepts: get("accepts"),
        delivered: get("run"),
        p50: get("p50"),
        p99: get("p99"),
    };
    eprintln!(
        "      {:.0} accepts/s, {:.0} run/s, p50 {:.2} ms, p99 {:.2} ms",
        f.accepts, f.delivered, f.p50, f.p99
    );
    Ok(f)
}
