//! `qstash dev --demo`, as a newcomer runs it: the server, the example workflow endpoint
//! (`examples/workflow`, the official `@upstash/workflow` SDK) started by it, one run printed
//! step by step to its end, and the endpoint stopped with the server.
//!
//! Needs Node.js; the example's npm packages are installed by `.ci/run` (else the demo runs
//! `npm ci` itself).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{free_port, qstash};

#[test]
fn the_demo_runs_the_example_workflow_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = qstash()
        .args(["dev", "--demo", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path().join("data"))
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while !out.contains(" ended ") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the demo did not finish its run:\n{out}");
            }
        }
    }
    // The rest of the summary (the commands to try).
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
        out.push_str(&line);
        out.push('\n');
    }
    let kill = |signal: &str| {
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
    };
    assert!(out.contains("ended RUN_SUCCESS"), "{out}");
    assert!(out.contains(r#""result":"demo:16""#), "{out}");
    for step in ["double", "add-ten", "pause", "describe", "echo"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("demo:   step") && l.contains(&format!(" {step} "))),
            "no line for step {step}:\n{out}"
        );
    }
    assert!(out.contains("qstash logs"), "{out}");
    // The banner links the console; the summary links the run's page in it.
    assert!(
        out.contains(&format!("console: http://127.0.0.1:{port}/console/#token=")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "http://127.0.0.1:{port}/console/#token={}&then=/runs/wfr_",
            qstash_server::DEV_TOKEN
        )),
        "{out}"
    );
    let endpoint: u16 = out
        .lines()
        .find_map(|l| l.strip_prefix("demo: workflow endpoint on http://127.0.0.1:"))
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no endpoint line:\n{out}"));
    assert!(std::net::TcpStream::connect(("127.0.0.1", endpoint)).is_ok());

    assert!(kill("-TERM").success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "dev did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    // The endpoint went with it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", endpoint)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the endpoint still listens on {endpoint} after dev exited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
