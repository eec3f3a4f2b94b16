//! The server load benchmark: the real `qstash` binary on a temporary embedded store, a no-op
//! loopback destination, and a plain axum handler as the baseline, measured in one run.
//!
//! ```text
//! cargo build --release -p qstash-cli && \
//!   cargo run --release --manifest-path benches/Cargo.toml --bin load [-- --seconds 10 --messages 1000000]
//! ```
//!
//! It runs `target/release/qstash` (or `--qstash PATH`) as a child process, so that its
//! resident set and CPU time can be read from `/proc`, then:
//!
//! 1. **durable accepts/s**: `POST /v2/publish/{destination}` with `Upstash-Delay: 1d` (nothing
//!    is delivered), 64 keep-alive connections, one task each, for `--seconds`; the same
//!    requests against a plain axum handler answering a small JSON, measured the same way.
//! 2. **delivered/s**: publishes at full speed for `--seconds`, every message with the same
//!    `Upstash-Not-Before` (the whole second at least 1.5 s after the publishing ends), then
//!    waits until the destination has every accepted message and the server's log holds a
//!    `DELIVERED` event for each one; the rate is the accepted count over the time from the
//!    due instant to the latest `DELIVERED` event (the event's time is stamped when the
//!    attempt's outcome goes to the store; its group commit follows within milliseconds).
//!    Publishing while delivering would cap the figure at the accept rate, as both share the
//!    store's one writer.
//! 3. **flow-control overhead**: messages due at once published at full speed for half of
//!    `--seconds` while the server delivers them, until each one has its `DELIVERED` event;
//!    the figure is accepted messages over the time from the first publish to the last
//!    `DELIVERED` event (accepts and deliveries sharing the store). It runs four times, without
//!    flow control, with an uncontended key (`Upstash-Flow-Control-Key: bench` with limits that
//!    are never reached), with the key again and without it again (so that the store's growth
//!    weighs on both alike); the overhead is how much slower the key's runs were.
//! 4. **publish→delivery latency** at 100 messages/s: from sending the publish request to the
//!    destination receiving the message, both on this process's monotonic clock.
//! 5. **memory and idle CPU**: `--messages` delayed messages stored through `POST /v2/batch`
//!    (1 000 per request, 4 requests in flight), the server's resident set read from
//!    `/proc/PID/status`, then its CPU time (`utime + stime` of `/proc/PID/stat`) over 5 s of
//!    idleness.
//!
//! `--quick` (CI's smoke run) uses tiny numbers and ends in well under 30 s once built.
//!
//! `--postgres` (or `--database-url URL`) runs the PostgreSQL series instead: accepts,
//! deliveries and latency with one and with two server processes on one database; see
//! `pg_series.rs`.
//!
//! `--peers` runs the peers' series instead: accepts, deliveries and latency of ours beside
//! BullMQ (on Redis) and graphile-worker (on PostgreSQL), which it starts and installs itself;
//! not run by CI; see `peers.rs`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

const BODY: &str = r#"{"order":42,"items":["a","b","c"]}"#;
const CONNECTIONS: usize = 64;

mod peers;
mod pg_series;
mod server;

use server::{
    Result, Scratch, ServerProcess, TOKEN, clock_ticks, dir_size, locate_qstash, proc_cpu_ticks,
    proc_status_kib, wait_healthy,
};

/// What the command line asks for.
#[derive(Debug, Clone)]
struct Options {
    seconds: f64,
    warmup: f64,
    messages: u64,
    latency_seconds: f64,
    idle_seconds: f64,
    client_threads: usize,
    qstash: Option<PathBuf>,
    quick: bool,
    /// Run the PostgreSQL series instead (see [`postgres_series`]).
    postgres: bool,
    /// The PostgreSQL database of that series; `None`: a private cluster started with `.ci/pg`.
    database_url: Option<String>,
    /// Run the peers' series instead (see `peers.rs`).
    peers: bool,
    /// The backlog each peer drains in that series.
    peer_backlog: u64,
}

impl Options {
    fn parse() -> Result<Options> {
        let mut o = Options {
            seconds: 10.0,
            warmup: 1.0,
            messages: 1_000_000,
            latency_seconds: 10.0,
            idle_seconds: 5.0,
            client_threads: 2,
            qstash: None,
            quick: false,
            postgres: false,
            database_url: std::env::var("QSTASH_BENCH_DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty()),
            peers: false,
            peer_backlog: 20_000,
        };
        let mut seconds = None;
        let mut messages = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--seconds" => seconds = Some(value("--seconds")?.parse::<f64>()?),
                "--messages" => messages = Some(value("--messages")?.replace('_', "").parse()?),
                "--client-threads" => o.client_threads = value("--client-threads")?.parse()?,
                "--qstash" => o.qstash = Some(PathBuf::from(value("--qstash")?)),
                "--quick" => o.quick = true,
                "--postgres" => o.postgres = true,
                "--database-url" => o.database_url = Some(value("--database-url")?),
                "--peers" => o.peers = true,
                "--peer-backlog" => {
                    o.peer_backlog = value("--peer-backlog")?.replace('_', "").parse()?
                }
                "--bench" => {} // passed by `cargo bench`
                "-h" | "--help" => {
                    println!(
                        "usage: load [--seconds N] [--messages N] [--quick] [--client-threads N] [--qstash PATH]\n\
                         \x20           [--postgres [--database-url URL]]\n\
                         \n\
                         --seconds N         length of each throughput phase (default 10)\n\
                         --messages N        delayed messages stored for the memory figure (default 1000000)\n\
                         --quick             tiny numbers, for CI's smoke run\n\
                         --client-threads N  worker threads of the load generator (default 2)\n\
                         --qstash PATH       the server binary (default: build it with cargo)\n\
                         --postgres          the PostgreSQL series: one and two server processes on one database\n\
                         --database-url URL  its database (also QSTASH_BENCH_DATABASE_URL; default: a private\n\
                         \x20                   cluster started with .ci/pg); each run works in a schema of its own\n\
                         --peers             ours beside BullMQ and graphile-worker (with --postgres: ours on\n\
                         \x20                   PostgreSQL too); starts Redis and PostgreSQL, runs npm ci in benches/peers\n\
                         --peer-backlog N    the backlog each peer drains (default 20000)"
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?} (see --help)").into()),
            }
        }
        if o.quick {
            o.seconds = 1.0;
            o.warmup = 0.2;
            o.messages = 20_000;
            o.latency_seconds = 1.0;
            o.idle_seconds = 1.0;
            o.peer_backlog = 2_000;
        }
        if let Some(s) = seconds {
            o.seconds = s;
        }
        if let Some(m) = messages {
            o.messages = m;
        }
        if o.seconds <= 0.0 || o.client_threads == 0 {
            return Err("--seconds and --client-threads must be above zero".into());
        }
        Ok(o)
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("load: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let opts = Options::parse()?;
    let qstash = match &opts.qstash {
        Some(p) => p.clone(),
        None => locate_qstash()?,
    };
    let scratch = Scratch::new()?;
    if opts.peers {
        return peers::peers_series(&opts, &qstash, &scratch);
    }
    if opts.postgres || opts.database_url.is_some() {
        return pg_series::postgres_series(&opts, &qstash, &scratch);
    }

    // The destination and the baseline run in this process, each on its own runtime; the load
    // generator gets a third one.
    let sink = Arc::new(Sink::default());
    let sink_addr = serve_on_thread("sink", 1, sink_router(sink.clone()))?;
    let baseline_addr = serve_on_thread("baseline", 2, baseline_router())?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.client_threads)
        .thread_name("load-client")
        .enable_all()
        .build()?;

    let mut server = ServerProcess::start(&qstash, scratch.path())?;
    let addr = server.addr;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    client_rt.block_on(wait_healthy(&http, addr))?;
    eprintln!(
        "server pid {} on {addr}, store {}, destination {sink_addr}, baseline {baseline_addr}",
        server.pid(),
        scratch.path().display()
    );

    let sink_url = format!("http://{sink_addr}/sink");
    let publish_path = format!("/v2/publish/{sink_url}");
    let delayed = vec![
        ("authorization", format!("Bearer {TOKEN}")),
        ("content-type", "application/json".to_owned()),
        ("upstash-delay", "1d".to_owned()),
    ];

    // 1. Durable accepts against the plain handler, then the server.
    eprintln!("[1/5] accepts: baseline");
    let base = client_rt.block_on(closed_loop(
        baseline_addr,
        &publish_path,
        &delayed,
        opts.warmup,
        opts.seconds,
    ))?;
    eprintln!("      {:.0} req/s", base.rate);
    eprintln!("[1/5] accepts: qstash (Upstash-Delay: 1d)");
    let accepts = client_rt.block_on(closed_loop(
        addr,
        &publish_path,
        &delayed,
        opts.warmup,
        opts.seconds,
    ))?;
    eprintln!("      {:.0} accepts/s", accepts.rate);
    let mut stored_delayed = accepts.total_ok;

    // 2. Delivered per second, end to end.
    eprintln!("[2/5] delivered: publishing a backlog due at one instant, then draining it");
    let now_headers = vec![
        ("authorization", format!("Bearer {TOKEN}")),
        ("content-type", "application/json".to_owned()),
    ];
    let delivered = client_rt.block_on(delivered_phase(
        &http,
        addr,
        &publish_path,
        &now_headers,
        &sink,
        opts.seconds,
    ))?;
    eprintln!(
        "      {} messages, {:.0} delivered/s committed ({:.0}/s at the destination)",
        delivered.accepted, delivered.committed_rate, delivered.destination_rate
    );

    // 3. Latency at 100 messages/s.
    // 3. Flow control's overhead on an uncontended key: plain, keyed, keyed, plain.
    eprintln!("[3/5] flow-control overhead: accepts + deliveries, without and with a key");
    let mut keyed_headers = now_headers.clone();
    keyed_headers.push(("upstash-flow-control-key", "bench".to_owned()));
    keyed_headers.push((
        "upstash-flow-control-value",
        "parallelism=1000000, rate=1000000000, period=1s".to_owned(),
    ));
    let (mut plain_rates, mut keyed_rates) = (Vec::new(), Vec::new());
    for keyed in [false, true, true, false] {
        let headers = if keyed { &keyed_headers } else { &now_headers };
        let rate = client_rt.block_on(mixed_phase(
            &http,
            addr,
            &publish_path,
            headers,
            &sink,
            opts.seconds / 2.0,
        ))?;
        eprintln!(
            "      {} {rate:.0} accepted+delivered/s",
            if keyed {
                "with the key:   "
            } else {
                "without a key: "
            }
        );
        if keyed {
            keyed_rates.push(rate);
        } else {
            plain_rates.push(rate);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (plain_rate, keyed_rate) = (mean(&plain_rates), mean(&keyed_rates));
    let flow_overhead = (1.0 - keyed_rate / plain_rate) * 100.0;

    eprintln!("[4/5] latency at 100 messages/s");
    let latency = client_rt.block_on(latency_phase(
        &http,
        addr,
        &sink_url,
        &sink,
        opts.latency_seconds,
    ))?;
    eprintln!(
        "      p50 {:.2} ms, p99 {:.2} ms ({} messages)",
        latency.p50, latency.p99, latency.count
    );

    // 4. Memory with many delayed messages, then idle CPU.
    let rss_before = proc_status_kib(server.pid(), "VmRSS")?;
    eprintln!(
        "[5/5] storing {} delayed messages through /v2/batch",
        opts.messages
    );
    let batch = client_rt.block_on(batch_phase(&http, addr, &sink_url, opts.messages))?;
    stored_delayed += batch.stored;
    let rss = proc_status_kib(server.pid(), "VmRSS")?;
    let hwm = proc_status_kib(server.pid(), "VmHWM")?;
    eprintln!(
        "      {:.0} messages/s; RSS {} MiB (peak {} MiB)",
        batch.rate,
        rss / 1024,
        hwm / 1024
    );
    std::thread::sleep(Duration::from_secs(1));
    let ticks = clock_ticks();
    let cpu0 = proc_cpu_ticks(server.pid())?;
    let idle_start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(opts.idle_seconds));
    let cpu1 = proc_cpu_ticks(server.pid())?;
    let idle_elapsed = idle_start.elapsed().as_secs_f64();
    let idle_cpu_ms = (cpu1 - cpu0) as f64 * 1000.0 / ticks as f64;
    let db_mib = dir_size(scratch.path()) as f64 / (1024.0 * 1024.0);
    server.stop();
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    if !warnings.is_empty() {
        eprintln!(
            "server log: {} warnings or errors, first ones:",
            warnings.len()
        );
        for w in warnings.iter().take(5) {
            eprintln!("  {w}");
        }
    }

    // The table.
    let axum_share = accepts.rate / base.rate * 100.0;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let rows: Vec<[String; 5]> = vec![
        [
            "durable accepts/s (64 conns, delay 1d)".into(),
            format!("{:.0}", accepts.rate),
            ">= 20000".into(),
            verdict(accepts.rate >= 20_000.0),
            format!("plain axum {:.0} req/s", base.rate),
        ],
        [
            "  share of the plain axum rate".into(),
            format!("{axum_share:.1}%"),
            ">= 25%".into(),
            verdict(axum_share >= 25.0),
            String::new(),
        ],
        [
            "delivered/s (backlog drain, committed)".into(),
            format!("{:.0}", delivered.committed_rate),
            ">= 8000".into(),
            verdict(delivered.committed_rate >= 8000.0),
            format!(
                "{} msgs; destination saw {:.0}/s",
                delivered.accepted, delivered.destination_rate
            ),
        ],
        [
            "flow-control overhead (uncontended key)".into(),
            format!("{flow_overhead:.1}%"),
            "<= 10%".into(),
            verdict(flow_overhead <= 10.0),
            format!("accepted+delivered/s: {keyed_rate:.0} with the key, {plain_rate:.0} without"),
        ],
        [
            "publish->delivery p50 (100/s)".into(),
            format!("{:.2} ms", latency.p50),
            "<= 2 ms".into(),
            verdict(latency.p50 <= 2.0),
            format!("{} msgs", latency.count),
        ],
        [
            "publish->delivery p99 (100/s)".into(),
            format!("{:.2} ms", latency.p99),
            "<= 5 ms".into(),
            verdict(latency.p99 <= 5.0),
            format!("max {:.2} ms", latency.max),
        ],
        [
            format!("RSS with {stored_delayed} delayed msgs"),
            format!("{:.0} MiB", mib(rss)),
            "<= 200 MiB".into(),
            verdict(mib(rss) <= 200.0),
            format!(
                "peak {:.0} MiB; {:.0} MiB before the batch; store {db_mib:.0} MiB",
                mib(hwm),
                mib(rss_before)
            ),
        ],
        [
            format!("idle CPU over {idle_elapsed:.1} s"),
            format!("{idle_cpu_ms:.0} ms"),
            "~0".into(),
            verdict(idle_cpu_ms <= 10.0),
            format!("tick {} ms", 1000 / ticks.max(1)),
        ],
        [
            "batch inserts/s (1000 per request, 4 in flight)".into(),
            format!("{:.0}", batch.rate),
            "-".into(),
            "-".into(),
            format!("{} requests answered 503 and sent again", batch.retried),
        ],
    ];
    print_table(&opts, &rows);
    Ok(())
}

fn verdict(met: bool) -> String {
    if met { "met" } else { "MISSED" }.to_owned()
}

/// Prints `title` and a table of `rows`.
fn print_rows(title: &str, rows: &[[String; 5]]) {
    let header = ["measure", "qstash-server", "target", "", "same run / notes"];
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    println!();
    println!("{title}");
    let line = |cells: &[String; 5]| {
        let mut out = String::from("|");
        for (i, (w, cell)) in widths.iter().zip(cells).enumerate() {
            if i == 0 || i == 4 {
                out.push_str(&format!(" {cell:<w$} |"));
            } else {
                out.push_str(&format!(" {cell:>w$} |"));
            }
        }
        println!("{out}");
    };
    line(&header.map(str::to_owned));
    let sep = widths.map(|w| "-".repeat(w));
    line(&sep);
    for row in rows {
        line(row);
    }
}

fn print_table(opts: &Options, rows: &[[String; 5]]) {
    print_rows(
        &format!(
            "qstash-server load benchmark ({}{} s per phase, {} client threads, {} cores)",
            if opts.quick { "quick, " } else { "" },
            opts.seconds,
            opts.client_threads,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        rows,
    );
    println!(
        "reference (issue 10, same machine): plain axum 81 000 req/s (wrk, 64 conns); \
         graphile-worker 0.18 on PostgreSQL accepts 1 200 jobs/s one by one, runs 2 500 jobs/s \
         (25 000 tuned), add->start latency p50 3.5 ms, p99 10 ms"
    );
}

// ---------------------------------------------------------------------------------------------
// The destination and the baseline.

/// The no-op destination: answers 200 and records what arrived.
#[derive(Default)]
struct Sink {
    /// Distinct message ids received.
    distinct: AtomicU64,
    seen: Mutex<HashSet<Box<str>>>,
    /// When each `X-Seq` message arrived (latency phase).
    arrivals: Mutex<HashMap<u64, Instant>>,
    last_new: Mutex<Option<Instant>>,
    record_seen: AtomicBool,
}

async fn sink_handle(State(sink): State<Arc<Sink>>, req: Request<Body>) -> Response<Body> {
    let at = Instant::now();
    let headers: &HeaderMap = req.headers();
    if let Some(seq) = headers
        .get("x-seq")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        sink.arrivals.lock().unwrap().entry(seq).or_insert(at);
    }
    if sink.record_seen.load(Ordering::Relaxed)
        && let Some(id) = headers
            .get("upstash-message-id")
            .and_then(|v| v.to_str().ok())
    {
        let new = sink.seen.lock().unwrap().insert(id.into());
        if new {
            sink.distinct.fetch_add(1, Ordering::Relaxed);
            *sink.last_new.lock().unwrap() = Some(at);
        }
    }
    let _ = req.into_body().collect().await;
    Response::new(Body::empty())
}

fn sink_router(sink: Arc<Sink>) -> Router {
    Router::new().fallback(sink_handle).with_state(sink)
}

/// The baseline: reads the body and answers a small JSON, as a publish does.
async fn baseline_handle(State(n): State<Arc<AtomicU64>>, req: Request<Body>) -> Response<Body> {
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    if body.is_err() {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return r;
    }
    let id = n.fetch_add(1, Ordering::Relaxed);
    let mut r = Response::new(Body::from(format!(r#"{{"messageId":"msg_{id:026}"}}"#)));
    *r.status_mut() = StatusCode::CREATED;
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn baseline_router() -> Router {
    Router::new()
        .fallback(baseline_handle)
        .with_state(Arc::new(AtomicU64::new(0)))
}

/// Serves `app` on 127.0.0.1 from a thread with its own runtime of `workers` threads.
fn serve_on_thread(name: &str, workers: usize, app: Router) -> Result<SocketAddr> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(format!("load-{name}"))
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name(format!("load-{name}-main"))
        .spawn(move || {
            rt.block_on(async move {
                let _ = axum::serve(listener, app).await;
            });
        })?;
    Ok(addr)
}

// ---------------------------------------------------------------------------------------------
// The load phases.

struct Closed {
    rate: f64,
    total_ok: u64,
}

/// `CONNECTIONS` keep-alive connections, each with one task sending the same request in a loop;
/// counts 2xx answers after `warmup` seconds for `seconds` seconds.
async fn closed_loop(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    warmup: f64,
    seconds: f64,
) -> Result<Closed> {
    closed_loop_on(addr, CONNECTIONS, path, headers, warmup, seconds).await
}

/// [`closed_loop`] with `connections` connections.
async fn closed_loop_on(
    addr: SocketAddr,
    connections: usize,
    path: &str,
    headers: &[(&'static str, String)],
    warmup: f64,
    seconds: f64,
) -> Result<Closed> {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
        let req = template(addr, path, headers);
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            while !stop.load(Ordering::Relaxed) {
                let resp = sender.send_request(req.clone_request()).await?;
                let status = resp.status();
                let _ = resp.into_body().collect().await?;
                if status.is_success() {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    let (start, n0) = (Instant::now(), ok.load(Ordering::Relaxed));
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let (elapsed, n1) = (start.elapsed(), ok.load(Ordering::Relaxed));
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} requests to {addr} were refused").into());
    }
    Ok(Closed {
        rate: (n1 - n0) as f64 / elapsed.as_secs_f64(),
        total_ok: ok.load(Ordering::Relaxed),
    })
}

/// One request, built once and cloned per send.
struct Template {
    parts: http::request::Parts,
    body: Bytes,
}

impl Template {
    fn clone_request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.parts.method.clone();
        *req.uri_mut() = self.parts.uri.clone();
        *req.headers_mut() = self.parts.headers.clone();
        req
    }
}

fn template(addr: SocketAddr, path: &str, headers: &[(&'static str, String)]) -> Template {
    let mut b = Request::post(path).header("host", addr.to_string());
    for (n, v) in headers {
        b = b.header(*n, v.as_str());
    }
    let (parts, ()) = b.body(()).expect("a valid request").into_parts();
    Template {
        parts,
        body: Bytes::from_static(BODY.as_bytes()),
    }
}

async fn connect(addr: SocketAddr) -> Result<http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

struct Delivered {
    accepted: u64,
    committed_rate: f64,
    destination_rate: f64,
}

async fn delivered_phase(
    http: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    sink: &Sink,
    seconds: f64,
) -> Result<Delivered> {
    sink.seen.lock().unwrap().clear();
    sink.distinct.store(0, Ordering::Relaxed);
    *sink.last_new.lock().unwrap() = None;
    sink.record_seen.store(true, Ordering::Relaxed);
    // Every message is due at the same instant, after the publishing ends: the backlog then
    // drains with nothing else competing for the store.
    let start_wall = wall_ms();
    let start = Instant::now();
    let due_ms = (start_wall + (seconds * 1000.0) as u64 + 1500).div_ceil(1000) * 1000;
    let due = start + Duration::from_millis(due_ms - start_wall);
    let mut headers = headers.to_vec();
    headers.push(("upstash-not-before", (due_ms / 1000).to_string()));
    let published = closed_loop(addr, path, &headers, 0.0, seconds).await?;
    let accepted = published.total_ok;
    eprintln!(
        "      {accepted} accepted in {:.1} s ({:.0}/s), all due {:.1} s after the start",
        start.elapsed().as_secs_f64(),
        published.rate,
        (due - start).as_secs_f64()
    );
    if Instant::now() > due {
        return Err("publishing ended after the messages were due; lower --seconds".into());
    }
    // Wait for the destination to see every message; give up when nothing arrives for 30 s.
    let mut last = (sink.distinct.load(Ordering::Relaxed), Instant::now());
    while sink.distinct.load(Ordering::Relaxed) < accepted {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let n = sink.distinct.load(Ordering::Relaxed);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "the destination got {n} of {accepted} messages and nothing more for 30 s"
            )
            .into());
        }
    }
    let last_new = sink.last_new.lock().unwrap().ok_or("no delivery arrived")?;
    let destination_rate = accepted as f64 / (last_new - due).as_secs_f64();
    sink.record_seen.store(false, Ordering::Relaxed);
    sink.seen.lock().unwrap().clear();
    // Every outcome committed: a DELIVERED event for each accepted message.
    let deadline = Instant::now() + Duration::from_secs(60);
    let newest = loop {
        let (count, newest) = delivered_events_since(http, addr, due_ms).await?;
        if count >= accepted {
            break newest;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {count} of {accepted} DELIVERED events after the destination had them all"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let committed_rate = accepted as f64 / (newest.saturating_sub(due_ms).max(1) as f64 / 1000.0);
    Ok(Delivered {
        accepted,
        committed_rate,
        destination_rate,
    })
}

/// Publishes messages due now at full speed for `seconds` while the server delivers them,
/// then waits for a `DELIVERED` event of each one: accepted messages per second from the first
/// publish to the last `DELIVERED` event.
async fn mixed_phase(
    http: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    sink: &Sink,
    seconds: f64,
) -> Result<f64> {
    sink.seen.lock().unwrap().clear();
    sink.distinct.store(0, Ordering::Relaxed);
    sink.record_seen.store(true, Ordering::Relaxed);
    let start_wall = wall_ms();
    let published = closed_loop(addr, path, headers, 0.0, seconds).await?;
    let accepted = published.total_ok;
    let mut last = (sink.distinct.load(Ordering::Relaxed), Instant::now());
    while sink.distinct.load(Ordering::Relaxed) < accepted {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let n = sink.distinct.load(Ordering::Relaxed);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "the destination got {n} of {accepted} messages and nothing more for 30 s"
            )
            .into());
        }
    }
    sink.record_seen.store(false, Ordering::Relaxed);
    sink.seen.lock().unwrap().clear();
    sink.distinct.store(0, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(60);
    let newest = loop {
        let (count, newest) = delivered_events_since(http, addr, start_wall).await?;
        if count >= accepted {
            break newest;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {count} of {accepted} DELIVERED events after the destination had them all"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Ok(accepted as f64 / (newest.saturating_sub(start_wall).max(1) as f64 / 1000.0))
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Walks `/v2/events?state=DELIVERED` newest first down to `since` (wall ms): the count and
/// the newest event's time.
async fn delivered_events_since(
    http: &reqwest::Client,
    addr: SocketAddr,
    since: u64,
) -> Result<(u64, u64)> {
    let mut count = 0;
    let mut newest = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("http://{addr}/v2/events?state=DELIVERED&count=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let bytes = http
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let page: serde_json::Value = serde_json::from_slice(&bytes)?;
        let events = page["events"].as_array().ok_or("no events in the answer")?;
        for e in events {
            let time = e["time"].as_u64().ok_or("an event without time")?;
            if time < since {
                return Ok((count, newest));
            }
            newest = newest.max(time);
            count += 1;
        }
        match page["cursor"].as_str() {
            Some(c) if !events.is_empty() => cursor = Some(c.to_owned()),
            _ => return Ok((count, newest)),
        }
    }
}

struct Latency {
    count: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

async fn latency_phase(
    http: &reqwest::Client,
    addr: SocketAddr,
    sink_url: &str,
    sink: &Arc<Sink>,
    seconds: f64,
) -> Result<Latency> {
    let n = ((seconds * 100.0).round() as u64).max(1);
    let url = format!("http://{addr}/v2/publish/{sink_url}");
    // Warm the pool: a few connections ready before the clock starts.
    for _ in 0..4 {
        http.get(format!("http://{addr}/health")).send().await?;
    }
    sink.arrivals.lock().unwrap().clear();
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    for seq in 0..n {
        tick.tick().await;
        let (http, url, sent) = (http.clone(), url.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let req = http
                .post(url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .header("upstash-forward-x-seq", seq.to_string())
                .body(BODY);
            sent.lock().unwrap().insert(seq, Instant::now());
            let r = req.send().await?;
            if !r.status().is_success() {
                return Err(format!("publish answered {}", r.status()).into());
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.arrivals.lock().unwrap().len() < n as usize {
        if Instant::now() > deadline {
            return Err("the latency messages did not all arrive within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = sent.lock().unwrap();
    let arrivals = sink.arrivals.lock().unwrap();
    let mut ms: Vec<f64> = (0..n)
        .map(|seq| (arrivals[&seq] - sent[&seq]).as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    Ok(Latency {
        count: ms.len(),
        p50: pick(0.50),
        p99: pick(0.99),
        max: ms[ms.len() - 1],
    })
}

struct Batch {
    /// Requests answered 503 (store unavailable) and sent again.
    retried: u64,
    stored: u64,
    rate: f64,
}

async fn batch_phase(
    http: &reqwest::Client,
    addr: SocketAddr,
    sink_url: &str,
    messages: u64,
) -> Result<Batch> {
    const PER_REQUEST: u64 = 1000;
    const IN_FLIGHT: u64 = 4;
    let entry = serde_json::json!({
        "destination": sink_url,
        "headers": {"Content-Type": "application/json", "Upstash-Delay": "1d"},
        "body": BODY,
    });
    let make = |n: u64| Bytes::from(serde_json::to_vec(&vec![&entry; n as usize]).unwrap());
    let full = make(PER_REQUEST);
    let next = Arc::new(AtomicU64::new(0));
    let retries503 = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (http, next, full) = (http.clone(), next.clone(), full.clone());
        let retries503 = retries503.clone();
        let url = format!("http://{addr}/v2/batch");
        let tail = messages % PER_REQUEST;
        let tail_body = make(tail);
        tasks.push(tokio::spawn(async move {
            let mut stored = 0u64;
            loop {
                let first = next.fetch_add(PER_REQUEST, Ordering::Relaxed);
                if first >= messages {
                    return Ok::<u64, Box<dyn std::error::Error + Send + Sync>>(stored);
                }
                let n = (messages - first).min(PER_REQUEST);
                let body = if n == PER_REQUEST {
                    full.clone()
                } else {
                    tail_body.clone()
                };
                let r = http
                    .post(&url)
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = r.status();
                let text = r.bytes().await?;
                // 503: nothing was accepted; the server asks to try again.
                if status == StatusCode::SERVICE_UNAVAILABLE
                    && retries503.load(Ordering::Relaxed) < 100
                {
                    retries503.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let r = http
                        .post(&url)
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    if r.status().is_success() {
                        stored += n;
                        continue;
                    }
                    let status = r.status();
                    let text = r.bytes().await?;
                    return Err(format!(
                        "batch answered {status} twice: {}",
                        String::from_utf8_lossy(&text)
                    )
                    .into());
                }
                if !status.is_success() {
                    return Err(format!(
                        "batch answered {status}: {}",
                        String::from_utf8_lossy(&text)
                    )
                    .into());
                }
                stored += n;
            }
        }));
    }
    let mut stored = 0;
    for t in tasks {
        stored += t.await??;
    }
    Ok(Batch {
        retried: retries503.load(Ordering::Relaxed),
        stored,
        rate: stored as f64 / start.elapsed().as_secs_f64(),
    })
}
