//! What the tests that run the real `qstash` binary share: the binary's command with the
//! caller's `QSTASH_*`/`UPSTASH_*` variables removed, free ports, the test database
//! (`QSTASH_TEST_DATABASE_URL`), a schema per test, and `qstash serve` started on a store.
// Each test file uses a part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tokio_postgres::NoTls;

/// The `qstash` binary, with every `QSTASH_*` and `UPSTASH_*` variable of this process's
/// environment removed: a test sets what the command should read, nothing leaks in from the
/// shell that runs the tests (a quick start's exported token or signing keys, say). Every test
/// that starts the binary goes through here (`tests/conventions.rs` checks it).
pub fn qstash() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qstash"));
    clear_qstash_env(&mut command);
    command
}

/// Removes every `QSTASH_*` and `UPSTASH_*` variable of this process's environment from
/// `command` (for children other than `qstash`, such as the Node.js workflow endpoint).
pub fn clear_qstash_env(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && (name.starts_with("QSTASH_") || name.starts_with("UPSTASH_"))
        {
            command.env_remove(name);
        }
    }
    command
}

/// A port nobody listens on now (on 127.0.0.1).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test database's URL. These tests are `#[ignore]`d: they run only when asked
/// (`--include-ignored`, as `.ci/run` does), and then a missing URL is a failure, never a pass.
pub fn database_url() -> String {
    match std::env::var("QSTASH_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "QSTASH_TEST_DATABASE_URL is not set: the PostgreSQL tests need a database (start \
             one with `.ci/pg start DIR` and export the URL it prints)"
        ),
    }
}

/// A fresh schema, and the URL whose connections use it; the schema is dropped at the end.
pub struct Schema {
    admin: tokio_postgres::Client,
    name: String,
    pub url: String,
}

impl Schema {
    pub async fn new(base: &str) -> Schema {
        let (admin, connection) = tokio_postgres::connect(base, NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        let name = format!("qc_{}_{}", std::process::id(), free_port());
        admin
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        Schema { admin, name, url }
    }

    pub async fn drop_schema(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.name))
            .await
            .unwrap();
    }
}

/// Starts `qstash serve` on the store `url` with API token `token` (a pool of 4, loopback
/// destinations allowed, and `extra` arguments), waits for its banner, and returns it with its base URL.
pub fn serve(url: &str, token: &str, extra: &[&str]) -> (Child, String) {
    let port = free_port();
    let mut child = qstash()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tokens",
            token,
            "--pool-size",
            "4",
            // the tests' receivers are on loopback, which serve refuses by default
            "--allow-private-destinations",
        ])
        .args(extra)
        .env("QSTASH_DATABASE_URL", url)
        .env_remove("QSTASH_TOKEN")
        .env_remove("QSTASH_ALLOW_DESTINATIONS")
        .env_remove("QSTASH_SERVER_TOKENS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the qstash binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    match lines.next() {
        Some(Ok(line)) if line.contains("qstash server on") => {}
        other => {
            let _ = child.kill();
            panic!("serve did not start: {other:?}");
        }
    }
    (child, format!("http://127.0.0.1:{port}"))
}
