//! The workflow runs benchmark: the real `qstash` binary on a temporary embedded store and a
//! minimal Rust workflow endpoint that speaks the SDK's step protocol
//! (`qstash_test_support::workflow_endpoint`, the same one the tests use).
//!
//! ```text
//! cargo build --release -p qstash-cli && \
//!   cargo run --release --manifest-path benches/Cargo.toml --bin runs [-- --seconds 10 --concurrency 256]
//! ```
//!
//! The workflow has three `context.run` steps; a run is one `POST /v2/trigger`, then five
//! deliveries to the endpoint (the trigger, the Init message, three steps) and five requests
//! back to the server (the Init message and three step messages through `POST /v2/batch`, and
//! `DELETE /v2/workflows/runs/{id}?cancel=false`).
//!
//! 1. **trigger→first step latency** at `--rate` runs/s (default 50) for `--latency-seconds`,
//!    on the fresh store: from sending the trigger to the endpoint running the first step (the
//!    delivery of the Init message), and to the trigger's own delivery, on this process's clock.
//! 2. **completed runs/s**: `--concurrency` runs kept in flight (a new trigger as soon as a run
//!    ends), counted after a warm-up for `--seconds`; with the server's CPU time (and its store
//!    threads'), this process's CPU time and the server's `/proc/PID/io` write counters over
//!    the same window, per run.
//!
//! 3. `--endpoints N` instead: the Rust example endpoint (`examples/workflow-rust`, made with
//!    `qstash-workflow`) and the Node one (`examples/workflow`, `@upstash/workflow` 1.3.3),
//!    each its own process serving the same three-step workflow (`POST /three`), N runs each
//!    against the same server: completed runs/s and the endpoint's CPU per step
//!    (`src/endpoints.rs`; needs `cargo build --release -p workflow-rust-example` and `npm ci`
//!    in `examples/workflow`).
//!
//! Every run must end with the right result; a run that fails or a step that runs twice is
//! reported. `--quick` (CI's smoke run) uses tiny numbers and ends in a few seconds.

mod endpoints;
mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qstash_test_support::workflow_endpoint::{Endpoint, expected_result, input};
use server::{
    Result, Scratch, ServerProcess, TOKEN, clock_ticks, dir_size, locate_qstash, proc_cpu_ticks,
    proc_status_kib, wait_healthy,
};

#[derive(Debug, Clone)]
struct Options {
    seconds: f64,
    warmup: f64,
    concurrency: u64,
    latency_seconds: f64,
    rate: f64,
    qstash: Option<PathBuf>,
    quick: bool,
    /// `--endpoints N`: the Rust and Node example endpoints side by side, N runs each.
    endpoints: Option<u64>,
}

impl Options {
    fn parse() -> Result<Options> {
        let mut o = Options {
            seconds: 10.0,
            warmup: 2.0,
            concurrency: 256,
            latency_seconds: 10.0,
            rate: 50.0,
            qstash: None,
            quick: false,
            endpoints: None,
        };
        let (mut seconds, mut concurrency) = (None, None);
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--seconds" => seconds = Some(value("--seconds")?.parse::<f64>()?),
                "--concurrency" => concurrency = Some(value("--concurrency")?.parse::<u64>()?),
                "--latency-seconds" => o.latency_seconds = value("--latency-seconds")?.parse()?,
                "--rate" => o.rate = value("--rate")?.parse()?,
                "--qstash" => o.qstash = Some(PathBuf::from(value("--qstash")?)),
                "--quick" => o.quick = true,
                "--endpoints" => o.endpoints = Some(value("--endpoints")?.parse()?),
                "--bench" => {} // passed by `cargo bench`
                "-h" | "--help" => {
                    println!(
                        "usage: runs [--seconds N] [--concurrency N] [--latency-seconds N] [--rate N] [--quick] [--qstash PATH]\n\
                         \n\
                         --seconds N          length of the throughput phase (default 10)\n\
                         --concurrency N      runs kept in flight in the throughput phase (default 256)\n\
                         --latency-seconds N  length of the latency phase (default 10)\n\
                         --rate N             runs started per second in the latency phase (default 50)\n\
                         --quick              tiny numbers, for CI's smoke run\n\
                         --qstash PATH        the server binary (default: target/release/qstash)\n\
                         --endpoints N        instead: the Rust and the Node example endpoints, N runs each"
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?} (see --help)").into()),
            }
        }
        if o.quick {
            o.seconds = 1.0;
            o.warmup = 0.3;
            o.concurrency = 64;
            o.latency_seconds = 1.0;
        }
        if let Some(s) = seconds {
            o.seconds = s;
        }
        if let Some(c) = concurrency {
            o.concurrency = c;
        }
        if o.seconds <= 0.0 || o.concurrency == 0 || o.rate <= 0.0 || o.latency_seconds <= 0.0 {
            return Err(
                "--seconds, --concurrency, --rate and --latency-seconds must be above zero".into(),
            );
        }
        Ok(o)
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("runs: {e}");
        std::process::exit(1);
    }
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .build()?)
}

/// `--endpoints N`: the Rust and the Node example endpoint, N runs each (see `endpoints.rs`).
fn side_by_side(server: &mut ServerProcess, url: &str, runs: u64, load_avg: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let http = client()?;
    rt.block_on(wait_healthy(&http, server.addr))?;
    eprintln!(
        "server pid {} on {url}; load average {}",
        server.pid(),
        load_avg.trim()
    );
    let figures = rt.block_on(endpoints::run(&http, url, runs));
    server.stop();
    let figures = figures?;
    println!(
        "| endpoint | runs | completed runs/s | endpoint CPU µs/step | endpoint CPU µs/request |"
    );
    println!("|---|---:|---:|---:|---:|");
    for f in &figures {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} |",
            f.name, f.runs, f.rate, f.cpu_us_per_step, f.cpu_us_per_request
        );
    }
    if let [rust, node] = figures.as_slice() {
        println!(
            "Rust/Node: {:.2}x the runs/s, {:.2}x less endpoint CPU per step",
            rust.rate / node.rate,
            node.cpu_us_per_step / rust.cpu_us_per_step
        );
    }
    Ok(())
}

fn run() -> Result<()> {
    let opts = Options::parse()?;
    let qstash = match &opts.qstash {
        Some(p) => p.clone(),
        None => locate_qstash()?,
    };
    let scratch = Scratch::new()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let mut server = ServerProcess::start(&qstash, scratch.path())?;
    let addr = server.addr;
    let server_url = format!("http://{addr}");
    if let Some(runs) = opts.endpoints {
        return side_by_side(&mut server, &server_url, runs, &load_avg);
    }

    // The endpoint on its own runtime; the load generator on another.
    let endpoint_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("runs-endpoint")
        .enable_all()
        .build()?;
    let mut ep = Endpoint::new(&server_url, TOKEN, client()?);
    let listener = endpoint_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let ep_addr: SocketAddr = listener.local_addr()?;
    ep.url = format!("http://{ep_addr}");
    let app = ep.router();
    std::thread::Builder::new()
        .name("runs-endpoint-main".into())
        .spawn(move || {
            endpoint_rt.block_on(async move {
                let _ = axum::serve(listener, app).await;
            });
        })?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("runs-client")
        .enable_all()
        .build()?;
    let http = client()?;
    client_rt.block_on(wait_healthy(&http, addr))?;
    let wf = format!("{}/wf/three-steps", ep.url);
    eprintln!(
        "server pid {} on {addr}, store {}, workflow endpoint {wf}; load average {}",
        server.pid(),
        scratch.path().display(),
        load_avg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let runs: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    eprintln!(
        "[1/2] trigger->first step latency at {} runs/s for {} s",
        opts.rate, opts.latency_seconds
    );
    let latency = client_rt.block_on(latency(&http, &server_url, &wf, &ep, &runs, &opts))?;
    eprintln!(
        "      first step p50 {:.2} ms, p99 {:.2} ms; trigger delivery p50 {:.2} ms, p99 {:.2} ms ({} runs)",
        latency.first_step.p50,
        latency.first_step.p99,
        latency.delivery.p50,
        latency.delivery.p99,
        latency.count
    );

    eprintln!(
        "[2/2] completed runs/s, {} runs in flight, {} s after a {} s warm-up",
        opts.concurrency, opts.seconds, opts.warmup
    );
    let through = client_rt.block_on(throughput(
        &http,
        &server_url,
        &wf,
        &ep,
        &runs,
        server.pid(),
        &opts,
    ))?;
    eprintln!(
        "      {:.0} runs/s ({:.0} deliveries/s at the endpoint); server CPU {:.2} ms/run, {:.1} write calls/run, {:.1} KiB to storage/run",
        through.rate,
        through.requests_rate,
        through.cpu_ms_per_run,
        through.syscw_per_run,
        through.write_kib_per_run
    );

    // Every run ended with its own result, each step ran once.
    let (wrong, twice, errors) = {
        let log = ep.log();
        let runs = runs.lock().map_err(|_| "poisoned")?;
        let wrong = runs
            .iter()
            .filter(|(id, n)| log.ended.get(*id).map(|e| &e.0) != Some(&expected_result(**n)))
            .count();
        let twice = log.executed.values().filter(|c| **c > 1).count();
        (wrong, twice, log.errors.clone())
    };
    let total = runs.lock().map_err(|_| "poisoned")?.len();
    let rss_mib = proc_status_kib(server.pid(), "VmHWM")? as f64 / 1024.0;
    server.stop();
    let store_mib = dir_size(scratch.path()) as f64 / (1024.0 * 1024.0);
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
    if !errors.is_empty() {
        eprintln!(
            "endpoint: {} requests answered 500 (at most the last 100 kept), the last ones:",
            errors.len()
        );
        for e in errors.iter().rev().take(5) {
            eprintln!("  {e}");
        }
    }

    let rows: Vec<[String; 5]> = vec![
        [
            format!("completed runs/s ({} in flight)", opts.concurrency),
            format!("{:.0}", through.rate),
            ">= 1000".into(),
            verdict(through.rate >= 1000.0),
            format!(
                "{} runs; endpoint saw {:.0} requests/s",
                through.completed, through.requests_rate
            ),
        ],
        [
            "  server CPU per run".into(),
            format!("{:.2} ms", through.cpu_ms_per_run),
            "-".into(),
            "-".into(),
            format!(
                "{:.1} write calls, {:.1} KiB to storage per run",
                through.syscw_per_run, through.write_kib_per_run
            ),
        ],
        [
            "    of which the store's writer threads".into(),
            format!("{:.2} ms", through.store_cpu_ms_per_run),
            "-".into(),
            "-".into(),
            format!("on CPU {:.0}% of the window", through.store_busy * 100.0),
        ],
        [
            "  endpoint + load generator CPU per run".into(),
            format!("{:.2} ms", through.own_cpu_ms_per_run),
            "-".into(),
            "-".into(),
            "this process, same window".into(),
        ],
        [
            format!("trigger->first step p50 ({}/s)", opts.rate),
            format!("{:.2} ms", latency.first_step.p50),
            "-".into(),
            "-".into(),
            format!("{} runs", latency.count),
        ],
        [
            format!("trigger->first step p99 ({}/s)", opts.rate),
            format!("{:.2} ms", latency.first_step.p99),
            "<= 10 ms".into(),
            verdict(latency.first_step.p99 <= 10.0),
            format!("max {:.2} ms", latency.first_step.max),
        ],
        [
            "trigger->trigger delivery p50 / p99".into(),
            format!(
                "{:.2} / {:.2} ms",
                latency.delivery.p50, latency.delivery.p99
            ),
            "-".into(),
            "-".into(),
            format!("whole run p50 {:.2} ms", latency.whole.p50),
        ],
        [
            "runs ended with a wrong result or not at all".into(),
            format!("{wrong}"),
            "0".into(),
            verdict(wrong == 0),
            format!("of {total}; {twice} steps ran twice"),
        ],
        [
            "server peak RSS / store size".into(),
            format!("{rss_mib:.0} MiB"),
            "-".into(),
            "-".into(),
            format!("store {store_mib:.0} MiB after {total} runs"),
        ],
    ];
    print_table(&opts, &rows);
    if wrong > 0 {
        return Err(format!("{wrong} runs ended wrong or not at all").into());
    }
    Ok(())
}

fn verdict(met: bool) -> String {
    if met { "met" } else { "MISSED" }.to_owned()
}

fn print_table(opts: &Options, rows: &[[String; 5]]) {
    let header = ["measure", "qstash-server", "target", "", "same run / notes"];
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    println!();
    println!(
        "qstash-server workflow runs benchmark ({}{} s throughput phase, {} cores)",
        if opts.quick { "quick, " } else { "" },
        opts.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
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
    line(&widths.map(|w| "-".repeat(w)));
    for row in rows {
        line(row);
    }
}

/// `POST /v2/trigger/{wf}` with the input of `n`: the run id.
async fn trigger(http: &reqwest::Client, server: &str, wf: &str, n: u64) -> Result<String> {
    let r = http
        .post(format!("{server}/v2/trigger/{wf}"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(input(n, None).to_string())
        .send()
        .await?;
    let status = r.status();
    let bytes = r.bytes().await?;
    if !status.is_success() {
        return Err(format!(
            "trigger answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        )
        .into());
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes)?;
    Ok(v["workflowRunId"]
        .as_str()
        .ok_or("no workflowRunId in the answer")?
        .to_owned())
}

/// CPU ticks of the threads of `pid` whose name starts with `prefix`.
fn thread_ticks(pid: u32, prefix: &str) -> Result<u64> {
    let mut ticks = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = task?.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !name.starts_with(prefix) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("stat"))?;
        let rest = &text[text.rfind(')').ok_or("bad /proc stat")? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11).ok_or("bad /proc stat")?.parse()?;
        let stime: u64 = fields.get(12).ok_or("bad /proc stat")?.parse()?;
        ticks += utime + stime;
    }
    Ok(ticks)
}

/// `(syscw, write_bytes)` of `/proc/PID/io`.
fn proc_io(pid: u32) -> Result<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io"))?;
    let field = |name: &str| -> Result<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| format!("no {name} in /proc/{pid}/io"))?;
        Ok(line[name.len()..].trim_start_matches(':').trim().parse()?)
    };
    Ok((field("syscw")?, field("write_bytes")?))
}

struct Throughput {
    completed: u64,
    rate: f64,
    requests_rate: f64,
    cpu_ms_per_run: f64,
    /// This process: the workflow endpoint and the load generator.
    own_cpu_ms_per_run: f64,
    /// The store's writer and checkpoint threads.
    store_cpu_ms_per_run: f64,
    /// Their CPU time as a share of the window.
    store_busy: f64,
    syscw_per_run: f64,
    write_kib_per_run: f64,
}

/// Keeps `concurrency` runs between trigger and end; counts the runs that end in the window.
async fn throughput(
    http: &reqwest::Client,
    server: &str,
    wf: &str,
    ep: &Endpoint,
    runs: &Arc<Mutex<HashMap<String, u64>>>,
    pid: u32,
    opts: &Options,
) -> Result<Throughput> {
    let base = ep.ended_count();
    let next_n = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.concurrency as usize));
    // Gives a permit back for every run that ends.
    let releaser = {
        let (ep, permits, stop) = (ep.clone(), permits.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen = ep.ended_count();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let now = ep.ended_count();
                permits.add_permits((now - seen) as usize);
                seen = now;
            }
        })
    };
    let starter = {
        let (http, server, wf) = (http.clone(), server.to_owned(), wf.to_owned());
        let (next_n, failed, stop, permits, runs) = (
            next_n.clone(),
            failed.clone(),
            stop.clone(),
            permits.clone(),
            runs.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(permit) = permits.acquire().await else {
                    return;
                };
                permit.forget();
                let n = next_n.fetch_add(1, Ordering::Relaxed);
                let (http, server, wf, failed, runs) = (
                    http.clone(),
                    server.clone(),
                    wf.clone(),
                    failed.clone(),
                    runs.clone(),
                );
                tokio::spawn(async move {
                    match trigger(&http, &server, &wf, n).await {
                        Ok(id) => {
                            if let Ok(mut runs) = runs.lock() {
                                runs.insert(id, n);
                            }
                        }
                        Err(e) => {
                            if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("      a trigger failed: {e}");
                            }
                        }
                    }
                });
            }
        })
    };
    tokio::time::sleep(Duration::from_secs_f64(opts.warmup)).await;
    let ticks = clock_ticks();
    let (t0, e0, r0) = (Instant::now(), ep.ended_count(), ep.log().requests);
    let cpu0 = proc_cpu_ticks(pid)?;
    let own0 = proc_cpu_ticks(std::process::id())?;
    let store0 = thread_ticks(pid, "qstash-store-")?;
    let io0 = proc_io(pid)?;
    tokio::time::sleep(Duration::from_secs_f64(opts.seconds)).await;
    let (t1, e1, r1) = (Instant::now(), ep.ended_count(), ep.log().requests);
    let cpu1 = proc_cpu_ticks(pid)?;
    let own1 = proc_cpu_ticks(std::process::id())?;
    let store1 = thread_ticks(pid, "qstash-store-")?;
    let io1 = proc_io(pid)?;
    stop.store(true, Ordering::Relaxed);
    permits.add_permits(1); // wakes the starter so that it sees `stop`
    starter.await?;
    releaser.await?;
    // Let the runs in flight end before the next phase.
    let started = next_n.load(Ordering::Relaxed) - failed.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ep.ended_count() - base < started {
        if Instant::now() > deadline {
            return Err(format!(
                "{} of {started} runs ended; the rest did not within 60 s",
                ep.ended_count() - base
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} triggers failed").into());
    }
    let completed = e1 - e0;
    let secs = (t1 - t0).as_secs_f64();
    let per_run = |x: f64| x / completed.max(1) as f64;
    Ok(Throughput {
        completed,
        rate: completed as f64 / secs,
        requests_rate: (r1 - r0) as f64 / secs,
        cpu_ms_per_run: per_run((cpu1 - cpu0) as f64 * 1000.0 / ticks as f64),
        own_cpu_ms_per_run: per_run((own1 - own0) as f64 * 1000.0 / ticks as f64),
        store_cpu_ms_per_run: per_run((store1 - store0) as f64 * 1000.0 / ticks as f64),
        store_busy: (store1 - store0) as f64 / ticks as f64 / secs,
        syscw_per_run: per_run((io1.0 - io0.0) as f64),
        write_kib_per_run: per_run((io1.1 - io0.1) as f64 / 1024.0),
    })
}

struct Percentiles {
    p50: f64,
    p99: f64,
    max: f64,
}

fn percentiles(mut ms: Vec<f64>) -> Percentiles {
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return Percentiles {
            p50: f64::NAN,
            p99: f64::NAN,
            max: f64::NAN,
        };
    }
    let pick = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    Percentiles {
        p50: pick(0.50),
        p99: pick(0.99),
        max: ms[ms.len() - 1],
    }
}

struct Latency {
    count: usize,
    first_step: Percentiles,
    delivery: Percentiles,
    whole: Percentiles,
}

async fn latency(
    http: &reqwest::Client,
    server: &str,
    wf: &str,
    ep: &Endpoint,
    runs: &Arc<Mutex<HashMap<String, u64>>>,
    opts: &Options,
) -> Result<Latency> {
    let count = ((opts.latency_seconds * opts.rate).round() as u64).max(1);
    // Warm the pool: a few connections ready before the clock starts.
    for _ in 0..4 {
        http.get(format!("{server}/health")).send().await?;
    }
    let first_n = 1 << 40;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / opts.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    for i in 0..count {
        tick.tick().await;
        let (http, server, wf) = (http.clone(), server.to_owned(), wf.to_owned());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let id = trigger(&http, &server, &wf, first_n + i).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((id, first_n + i, sent))
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.push(t.await??);
    }
    let ids: Vec<String> = sent.iter().map(|s| s.0.clone()).collect();
    if let Err(missing) = ep.wait_ended(&ids, Duration::from_secs(60)).await {
        return Err(format!("{} latency runs did not end within 60 s", missing.len()).into());
    }
    {
        let mut runs = runs.lock().map_err(|_| "poisoned")?;
        runs.extend(sent.iter().map(|(id, n, _)| (id.clone(), *n)));
    }
    let log = ep.log();
    let since = |at: &HashMap<String, Instant>| -> Vec<f64> {
        sent.iter()
            .filter_map(|(id, _, s)| at.get(id).map(|a| (*a - *s).as_secs_f64() * 1000.0))
            .collect()
    };
    Ok(Latency {
        count: sent.len(),
        first_step: percentiles(since(&log.first_step_at)),
        delivery: percentiles(since(&log.triggered_at)),
        whole: percentiles(since(&log.ended_at)),
    })
}
