//! The web console (`/console`): its assets as the server serves them (content types, security
//! headers, size), `serve` without `--console` answering 404, and, in a real browser (Debian's
//! Chromium driven by `playwright-core`, with `axe-core`), every page against `qstash dev` and
//! `qstash serve --console` with two tenants (`tests/console/console.test.mjs`).

mod common;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{free_port, qstash};
use qstash_server::{CONSOLE_ASSETS, DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_TOKEN};
use qstash_test_support::node::npm_ci;

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `qstash` with `args`, waits for its banner line starting with `console:` (or, when
/// `want_console` is false, for the first line) and answers the process and the banner.
fn start(args: &[&str], want_console: bool) -> (Running, String) {
    let mut child = qstash()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the qstash binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let child = Running(child);
    let mut banner = String::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                banner.push_str(&line);
                banner.push('\n');
                if !want_console || line.trim_start().starts_with("console:") {
                    return (child, banner);
                }
            }
            Err(_) => panic!("qstash {args:?} printed no console line:\n{banner}"),
        }
    }
}

fn dev(dir: &Path) -> (Running, String, String) {
    let port = free_port().to_string();
    let data = dir.join("dev");
    let (child, banner) = start(
        &["dev", "--port", &port, "--data-dir", data.to_str().unwrap()],
        true,
    );
    let url = format!("http://127.0.0.1:{port}");
    let console = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("console: "))
        .unwrap()
        .to_owned();
    (child, url, console)
}

fn serve(dir: &Path, extra: &[&str]) -> (Running, String, String) {
    let port = free_port().to_string();
    let db = format!("sqlite://{}", dir.join("serve.db").display());
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "serve",
        "--listen",
        &listen,
        "--database-url",
        &db,
        "--tokens",
        "tenant-a-token,tenant-b-token",
        "--allow-private-destinations",
    ];
    args.extend_from_slice(extra);
    let (child, banner) = start(&args, extra.contains(&"--console"));
    (child, format!("http://127.0.0.1:{port}"), banner)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn get(url: &str) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

/// The size of `bytes` gzipped (by the system's gzip, at its best compression).
fn gzipped(bytes: &[u8]) -> usize {
    let mut gzip = Command::new("gzip")
        .arg("-9c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip is installed");
    gzip.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = gzip.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout.len()
}

#[tokio::test]
async fn dev_serves_the_console_assets_with_their_types_and_under_300_kib_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let (_dev, url, console) = dev(dir.path());
    assert_eq!(
        console,
        format!("{url}/console/#token={DEV_TOKEN}"),
        "the banner links the console, logged in"
    );
    let mut total = 0;
    for asset in CONSOLE_ASSETS {
        let r = get(&format!("{url}/console/{}", asset.path)).await;
        assert_eq!(r.status(), 200, "{}", asset.path);
        let h = r.headers().clone();
        assert_eq!(h["content-type"], asset.content_type, "{}", asset.path);
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-cache");
        let etag = h["etag"].to_str().unwrap().to_owned();
        let body = r.bytes().await.unwrap();
        assert_eq!(&body[..], asset.body.as_bytes(), "{}", asset.path);
        total += gzipped(&body);
        // A browser's copy that is current is not sent again.
        let again = client()
            .get(format!("{url}/console/{}", asset.path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{}", asset.path);
    }
    let index = get(&format!("{url}/console/")).await;
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    // Every file the page and its modules name is one of the assets.
    let html = index.text().await.unwrap();
    for name in ["style.css", "js/main.js", "icon.svg"] {
        assert!(html.contains(name), "index.html loads {name}");
    }
    let missing = get(&format!("{url}/console/js/nothing.js")).await;
    assert_eq!(missing.status(), 404);
    // The server's facts are the tenant's only.
    assert_eq!(get(&format!("{url}/console/api/info")).await.status(), 401);
    println!(
        "the console: {} files, {total} bytes gzipped",
        CONSOLE_ASSETS.len()
    );
    assert!(total < 300 * 1024, "the console is {total} bytes gzipped");
}

#[tokio::test]
async fn serve_has_no_console_without_the_flag_and_one_with_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_serve, url, _) = serve(dir.path(), &[]);
        for path in ["/console", "/console/", "/console/js/main.js"] {
            assert_eq!(get(&format!("{url}{path}")).await.status(), 404, "{path}");
        }
    }
    {
        let (_serve, url, banner) = serve(dir.path(), &["--console"]);
        assert!(
            banner.contains(&format!("console: {url}/console/ (log in")),
            "{banner}"
        );
        assert!(!banner.contains("tenant-a-token"), "{banner}");
        assert_eq!(get(&format!("{url}/console/")).await.status(), 200);
        let info = info_as(&url, "tenant-b-token").await;
        // The file's path stays with the operator, and so does the number of tenants.
        assert_eq!(info["store"], "SQLite", "{info}");
        assert!(info.get("tenants").is_none(), "{info}");
    }
    // The operator is the tenant whose token is also the metrics token: it sees how many
    // tenants share the server; the other tenant still does not.
    let (_serve, url, _) = serve(
        dir.path(),
        &["--console", "--metrics-token", "tenant-a-token"],
    );
    let info = info_as(&url, "tenant-a-token").await;
    assert_eq!(info["tenants"], 2, "{info}");
    let info = info_as(&url, "tenant-b-token").await;
    assert!(info.get("tenants").is_none(), "{info}");
}

/// `GET /console/api/info` with `token`, which must answer 200.
async fn info_as(url: &str, token: &str) -> serde_json::Value {
    let info = client()
        .get(format!("{url}/console/api/info"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    info.json().await.unwrap()
}

#[tokio::test]
async fn dev_without_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let data = dir.path().join("dev");
    let (_dev, banner) = start(
        &[
            "dev",
            "--no-console",
            "--port",
            &port,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        false,
    );
    assert!(!banner.contains("console:"), "{banner}");
    let r = get(&format!("http://127.0.0.1:{port}/console/")).await;
    assert_eq!(r.status(), 404);
}

/// Where a program is on the PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

#[test]
#[ignore = "needs Chromium: apt-get install chromium (.ci/run installs it)"]
fn the_console_in_a_real_browser() {
    let chromium = which("chromium").unwrap_or_else(|| {
        panic!("chromium is not installed: apt-get install chromium (.ci/run installs it)")
    });
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script_dir = here.join("tests/console");
    let workflow_dir = here.join("../../examples/workflow");
    npm_ci(&script_dir, "playwright-core/package.json");
    npm_ci(&workflow_dir, "@upstash/workflow/package.json");
    let shots = here.join("../../target/console-screenshots");

    let dir = tempfile::tempdir().unwrap();
    let (_dev, dev_url, _) = dev(dir.path());
    let (_serve, serve_url, _) = serve(dir.path(), &["--console"]);
    let mut node = Command::new("node");
    common::clear_qstash_env(&mut node);
    let status = node
        .arg("console.test.mjs")
        .current_dir(&script_dir)
        .env("CONSOLE_CHROMIUM", &chromium)
        .env("CONSOLE_DEV_URL", &dev_url)
        .env("CONSOLE_DEV_TOKEN", DEV_TOKEN)
        .env("CONSOLE_SERVE_URL", &serve_url)
        .env("CONSOLE_TENANT_A", "tenant-a-token")
        .env("CONSOLE_TENANT_B", "tenant-b-token")
        .env(
            "CONSOLE_SIGNING_KEYS",
            format!("{DEV_CURRENT_SIGNING_KEY},{DEV_NEXT_SIGNING_KEY}"),
        )
        .env("CONSOLE_WORKFLOW_DIR", &workflow_dir)
        .env("CONSOLE_SCREENSHOTS", &shots)
        .status()
        .expect("node runs (is Node.js installed?)");
    assert!(status.success(), "the browser test failed ({status})");
}
