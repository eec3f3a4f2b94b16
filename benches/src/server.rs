//! The real `qstash` server as a child process, for the load benchmarks (`load`, `runs`):
//! where the release binary is, starting and stopping it on a scratch store, and what `/proc`
//! says about it.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

pub const TOKEN: &str = "eyJVc2VySUQiOiJsb2FkIiwiUGFzc3dvcmQiOiJsb2FkIn0=";
const CURRENT_KEY: &str = "sig_loadBenchCurrentKey000000000";
const NEXT_KEY: &str = "sig_loadBenchNextKey000000000000";

/// The release `qstash` binary of the workspace: `$CARGO_TARGET_DIR/release/qstash` or
/// `target/release/qstash`. Building it from here would run cargo under `cargo run`'s
/// environment, which makes cargo rebuild part of the dependency graph; so it is built first,
/// by the documented command.
pub fn locate_qstash() -> Result<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let bin = target.join("release").join("qstash");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "no server binary at {}: build it first with `cargo build --release -p qstash-cli` \
             at the workspace root, or pass --qstash PATH",
            bin.display()
        )
        .into())
    }
}

pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl ServerProcess {
    pub fn start(bin: &Path, dir: &Path) -> Result<ServerProcess> {
        ServerProcess::start_with(bin, dir, &[])
    }

    /// [`ServerProcess::start`] with more arguments to `qstash serve`.
    pub fn start_with(bin: &Path, dir: &Path, extra: &[&str]) -> Result<ServerProcess> {
        let db = dir.join("qstash.db");
        ServerProcess::start_on(bin, dir, &format!("sqlite://{}", db.display()), extra)
    }

    /// Starts `qstash serve` on the store at `database_url` (`sqlite://…` or `postgres://…`),
    /// its log in `dir/server.log`.
    pub fn start_on(
        bin: &Path,
        dir: &Path,
        database_url: &str,
        extra: &[&str],
    ) -> Result<ServerProcess> {
        let log = dir.join("server.log");
        let mut cmd = Command::new(bin);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("QSTASH_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("QSTASH_DATABASE_URL", database_url)
            .args(["--tokens", TOKEN])
            .args(["--current-signing-key", CURRENT_KEY])
            .args(["--next-signing-key", NEXT_KEY])
            // The receivers are on loopback, which serve refuses unless opened; opening one
            // range keeps the destination check on every accept, as in production.
            .args(["--allow-destination", "127.0.0.0/8"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first)?;
        let Some(url) = first.trim().strip_prefix("qstash server on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            let mut text = String::new();
            let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
            return Err(format!("the server did not start: {first:?}\n{text}").into());
        };
        let addr = url.parse()?;
        Ok(ServerProcess { child, addr, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for the graceful exit (SIGKILL after 20 s).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let mut text = String::new();
            let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut text));
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            eprintln!("server log (last lines):");
            for line in tail.iter().rev() {
                eprintln!("  {line}");
            }
        }
    }
}

/// A temporary directory, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Result<Scratch> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let dir = std::env::temp_dir().join(format!("qstash-load-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

pub fn proc_status_kib(pid: u32, field: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kib = rest.trim().trim_end_matches("kB").trim().parse()?;
            return Ok(kib);
        }
    }
    Err(format!("no {field} in /proc/{pid}/status").into())
}

/// `utime + stime` of a process, in clock ticks.
pub fn proc_cpu_ticks(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3, the state.
    let rest = &text[text.rfind(')').ok_or("bad /proc stat")? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).ok_or("bad /proc stat")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("bad /proc stat")?.parse()?;
    Ok(utime + stime)
}

pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100)
}

pub async fn wait_healthy(http: &reqwest::Client, addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("http://{addr}/health")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the server did not become healthy within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
