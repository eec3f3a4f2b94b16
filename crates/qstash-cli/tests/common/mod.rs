//! What the tests that run the real `qstash` binary share: free ports, the test database
//! (`QSTASH_TEST_DATABASE_URL`), a schema per test, and `qstash serve` started on a store.
// Each test file uses a part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tokio_postgres::NoTls;

/// A port nobody listens on now (on 127.0.0.1).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test database's URL. Without `QSTASH_TEST_DATABASE_URL`: a failure when
/// `QSTASH_REQUIRE_POSTGRES=1` (as `.ci/run` sets), else one line on stderr saying that `what`
/// did not run, and `None`.
pub fn database_url(what: &str) -> Option<String> {
    match std::env::var("QSTASH_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("QSTASH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "QSTASH_REQUIRE_POSTGRES=1 but QSTASH_TEST_DATABASE_URL is not set: the \
                 PostgreSQL tests must run (start a server with `.ci/pg start DIR` and export \
                 the URL it prints)"
            );
            // Straight to the stream: the test harness would capture eprintln!.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "qstash-cli: {what} did not run: QSTASH_TEST_DATABASE_URL is not set (see the \
                 README, \"PostgreSQL backend\")"
            );
            None
        }
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_qstash"))
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
