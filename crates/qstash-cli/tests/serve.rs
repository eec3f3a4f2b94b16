//! `qstash dev` and `qstash serve` as a user runs them: the banner, bad configuration, and a
//! clean exit on SIGTERM.

mod common;

use common::free_port;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn qstash() -> Command {
    let mut c = common::qstash();
    c.env_remove("QSTASH_TOKEN")
        .env_remove("QSTASH_SERVER_TOKENS")
        .env_remove("QSTASH_DATABASE_URL")
        .env_remove("QSTASH_LISTEN");
    c
}

#[test]
fn bad_configuration_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/q.db", dir.path().display());
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--database-url", &db], "--token"),
        (
            &["serve", "--database-url", "mysql://x", "--tokens", "t"],
            "--database-url",
        ),
        (
            &[
                "serve",
                "--database-url",
                &db,
                "--tokens",
                "t",
                "--listen",
                "nowhere",
            ],
            "--listen",
        ),
        (
            &[
                "serve",
                "--database-url",
                &db,
                "--tokens",
                "t",
                "--current-signing-key",
                "sig_a",
            ],
            "--next-signing-key",
        ),
        (
            &[
                "serve",
                "--database-url",
                &db,
                "--tokens",
                "t",
                "--max-delay",
                "7x",
            ],
            "--max-delay",
        ),
        (
            &[
                "serve",
                "--database-url",
                &db,
                "--tokens",
                "t",
                "--concurrency",
                "0",
            ],
            "--concurrency",
        ),
    ];
    for (args, flag) in cases {
        let out = qstash().args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err:?} should name {flag}");
    }
}

#[test]
fn dev_prints_what_a_client_needs_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = qstash()
        .args(["dev", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !banner.contains("QSTASH_NEXT_SIGNING_KEY") {
        assert!(Instant::now() < deadline, "no banner: {banner}");
        match lines.next() {
            Some(Ok(l)) => {
                banner.push_str(&l);
                banner.push('\n');
            }
            _ => panic!("dev exited early: {banner}"),
        }
    }
    assert!(
        banner.contains(&format!("http://127.0.0.1:{port}")),
        "{banner}"
    );
    assert!(banner.contains(qstash_server::DEV_TOKEN), "{banner}");
    assert!(
        banner.contains(qstash_server::DEV_CURRENT_SIGNING_KEY),
        "{banner}"
    );
    assert!(
        banner.contains(qstash_server::DEV_NEXT_SIGNING_KEY),
        "{banner}"
    );
    assert!(dir.path().join("data/qstash.db").exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(Instant::now() < deadline, "dev did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn receive_stays_up_verifies_and_prints_each_delivery() {
    use std::io::{Read, Write};
    let port = free_port();
    let mut child = qstash()
        .args(["receive", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");
    let signer = qstash_signature::Signer::new(qstash_server::DEV_CURRENT_SIGNING_KEY);
    for (i, body) in ["one", "two"].iter().enumerate() {
        let sig = signer.sign(&format!("http://127.0.0.1:{port}/hook"), body.as_bytes());
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            conn,
            "POST /hook HTTP/1.1\r\nHost: x\r\nUpstash-Message-Id: msg_{i}\r\nUpstash-Retried: 0\r\nUpstash-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let line = lines.next().unwrap().unwrap();
        assert!(line.contains(&format!("message=msg_{i}")), "{line}");
        assert!(line.contains("signature ok"), "{line}");
        assert!(line.contains(body), "{line}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = qstash()
        .args(["serve", "--tokens", "t0k3n", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("q.db").display()))
        .args(["--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    match lines.next() {
        Some(Ok(l)) => assert!(l.starts_with("qstash server on"), "{l}"),
        other => panic!("serve exited early: {other:?}"),
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect();
    assert!(
        logs.iter()
            .any(|l| l["message"] == "shutting down" && l["level"] == "INFO"),
        "{stderr}"
    );
    assert!(!stderr.contains("t0k3n"), "the token must not be logged");
}

/// Starts `qstash dev` on `port` and `data_dir` and returns it once its banner is out.
fn start_dev(port: u16, data_dir: &std::path::Path) -> std::process::Child {
    let mut child = qstash()
        .args(["dev", "--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        if line.unwrap().contains("QSTASH_NEXT_SIGNING_KEY") {
            return child;
        }
    }
    let status = child.wait();
    panic!("dev exited before its banner: {status:?}");
}

#[test]
fn a_second_dev_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = start_dev(free_port(), &data);
    let second = qstash()
        .args(["dev", "--port", &free_port().to_string(), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(err.contains("another qstash dev is using"), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
    // Once the first one is gone, the directory is free again.
    let mut third = start_dev(free_port(), &data);
    third.kill().unwrap();
    third.wait().unwrap();
}

#[test]
fn dev_on_a_busy_port_suggests_another() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let out = qstash()
        .args(["dev", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("--port"), "{err}");
}

#[test]
fn help_tells_the_server_from_the_client() {
    let help = |args: &[&str]| {
        let out = qstash().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&["--help"]);
    assert!(top.contains("server"), "{top}");
    assert!(top.contains("--token"), "{top}");
    for server in ["dev", "serve"] {
        let text = help(&[server, "--help"]);
        assert!(!text.contains("--url"), "{server}: {text}");
        assert!(!text.contains("qstash.upstash.io"), "{server}: {text}");
        assert!(!text.contains("never printed"), "{server}: {text}");
        assert!(text.contains("--token"), "{server}: {text}");
    }
    let client = help(&["publish", "--help"]);
    assert!(client.contains("--url"), "{client}");
    assert!(client.contains("--token"), "{client}");
}
