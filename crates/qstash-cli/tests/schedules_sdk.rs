//! The official `@upstash/qstash` SDK (2.12.0, pinned by `examples/workflow`) through every
//! method of `client.schedules` and `client.urlGroups` against `qstash dev`, checking the
//! answers' fields (the script `sdk/schedules_url_groups.mjs` throws on the first mismatch).
//!
//! The packages come from `npm ci` in `examples/workflow` (done here when missing).

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{free_port, qstash};
use qstash_test_support::node::{example_workflow_dir, npm_ci};

/// The development server's well-known token.
const DEV_TOKEN: &str = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";

#[test]
fn sdk_schedules_and_url_groups_against_dev() {
    let dir = example_workflow_dir();
    npm_ci(&dir, "@upstash/qstash/package.json");
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = qstash()
        .args(["dev", "--port", &port.to_string(), "--data-dir"])
        .arg(data.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the qstash binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    match lines.next() {
        Some(Ok(l)) if l.contains("qstash dev server on") => {}
        other => {
            let _ = child.kill();
            panic!("qstash dev did not start: {other:?}");
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let url = format!("http://127.0.0.1:{port}");
    // Nothing listens there: the messages published to the group just wait for retries.
    let dest = format!("http://127.0.0.1:{}", free_port());
    let out = common::clear_qstash_env(&mut std::process::Command::new("node"))
        .args([
            "--input-type=module",
            "-e",
            include_str!("sdk/schedules_url_groups.mjs"),
        ])
        .current_dir(&dir)
        .env("QSTASH_URL", &url)
        .env("QSTASH_TOKEN", DEV_TOKEN)
        .env("DEST", &dest)
        .output()
        .expect("node must be installed to run the SDK test");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "the SDK script failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}
