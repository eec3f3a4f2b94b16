//! PostgreSQL over TLS: the URL's `sslmode` and `sslrootcert`, against a private cluster started
//! for this test with TLS on and a certificate for the name `localhost` signed by a CA of its
//! own (`PG_SSL=1 .ci/pg start DIR`). Needs the PostgreSQL server binaries, as the other
//! PostgreSQL tests do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use qstash_store::postgres::{PgOptions, PgStore};
use qstash_store::{Store, StoreErrorKind};

/// The PostgreSQL tests run where `QSTASH_TEST_DATABASE_URL` is set; this one starts a cluster
/// of its own with TLS, beside that one.
fn database_url() -> String {
    match std::env::var("QSTASH_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "QSTASH_TEST_DATABASE_URL is not set: this PostgreSQL test cannot run (start a server \
             with `.ci/pg start DIR` and export the URL it prints)"
        ),
    }
}

fn ci_pg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/pg")
}

/// A private cluster with TLS; stopped when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Cluster {
        // A directory of its own that the cluster's owner can reach (.ci/pg makes it).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("qstash-pg-tls-{}-{nanos}", std::process::id()));
        let out = Command::new("bash")
            .arg(ci_pg())
            .arg("start")
            .arg(&dir)
            .env("PG_SSL", "1")
            .output()
            .expect("bash runs .ci/pg");
        assert!(
            out.status.success(),
            "PG_SSL=1 .ci/pg start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap();
        let port = url
            .trim()
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url:?}"));
        Cluster { dir, port }
    }

    fn ca(&self) -> String {
        self.dir.join("ca.crt").display().to_string()
    }

    fn url(&self, host: &str, app: &str, tls: &str) -> String {
        format!(
            "postgres://postgres@{host}:{}/qstash?application_name={app}&{tls}",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(ci_pg())
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

fn options() -> PgOptions {
    PgOptions {
        pool_size: 2,
        connect_timeout: Duration::from_secs(5),
        ..PgOptions::default()
    }
}

/// Whether every connection of `app` is encrypted (there is at least one).
async fn encrypted(cluster: &Cluster, app: &str) -> bool {
    let (client, connection) = tokio_postgres::connect(
        &format!(
            "postgres://postgres@127.0.0.1:{}/qstash?sslmode=disable",
            cluster.port
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*), coalesce(bool_and(s.ssl), false) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    let n: i64 = row.get(0);
    assert!(n > 0, "no connection of {app}");
    row.get(1)
}

/// The error's text and its sources' texts.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(" / ");
        text.push_str(&format!("{s} {s:?}"));
        next = s.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn sslmode_and_sslrootcert_are_honoured() {
    // The test starts a cluster of its own; the URL only says PostgreSQL tests are wanted.
    let _ = database_url();
    let cluster = Cluster::start();
    let ca = cluster.ca();

    // Encrypted, the certificate unchecked; then checked against the CA, with and without the
    // host name.
    for (i, (host, tls)) in [
        ("127.0.0.1", "sslmode=require".to_string()),
        ("localhost", format!("sslmode=verify-full&sslrootcert={ca}")),
        ("127.0.0.1", format!("sslmode=verify-ca&sslrootcert={ca}")),
        ("127.0.0.1", format!("sslmode=prefer&sslrootcert={ca}")),
    ]
    .into_iter()
    .enumerate()
    {
        let app = format!("qtls_ok_{i}");
        let store = PgStore::connect(&cluster.url(host, &app, &tls), options())
            .await
            .unwrap_or_else(|e| panic!("{host} {tls}: {}", chain(&e)));
        store.ping().await.unwrap();
        assert!(
            encrypted(&cluster, &app).await,
            "{host} {tls}: not encrypted"
        );
    }

    // Plain when asked.
    let store = PgStore::connect(
        &cluster.url("127.0.0.1", "qtls_plain", "sslmode=disable"),
        options(),
    )
    .await
    .unwrap();
    store.ping().await.unwrap();
    assert!(
        !encrypted(&cluster, "qtls_plain").await,
        "sslmode=disable encrypted"
    );

    // The certificate names `localhost`, not 127.0.0.1: verify-full refuses it.
    let refused = PgStore::connect(
        &cluster.url(
            "127.0.0.1",
            "qtls_wrong_name",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        options(),
    )
    .await;
    match refused {
        Err(e) => {
            assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e:?}");
            let text = chain(&e);
            assert!(text.to_lowercase().contains("certificate"), "{text}");
        }
        Ok(_) => panic!("verify-full must refuse a certificate for another host name"),
    }

    // A CA that did not sign the server's certificate: refused by verify-ca too.
    let other = tempfile::tempdir().unwrap();
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=another-ca",
            "-keyout",
        ])
        .arg(other.path().join("k.pem"))
        .arg("-out")
        .arg(other.path().join("ca.pem"))
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other_ca = other.path().join("ca.pem").display().to_string();
    for mode in ["verify-ca", "verify-full"] {
        let refused = PgStore::connect(
            &cluster.url(
                "localhost",
                "qtls_wrong_ca",
                &format!("sslmode={mode}&sslrootcert={other_ca}"),
            ),
            options(),
        )
        .await;
        assert!(refused.is_err(), "{mode} with another CA must be refused");
    }

    // A bad sslmode or a missing root file is refused before any connection, naming it.
    for (tls, names) in [
        ("sslmode=sometimes", "sslmode"),
        (
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "sslrootcert",
        ),
    ] {
        match PgStore::connect(&cluster.url("localhost", "qtls_bad", tls), options()).await {
            Err(e) => {
                assert_eq!(e.kind(), StoreErrorKind::Invalid, "{e:?}");
                assert!(e.to_string().contains(names), "{e}");
            }
            Ok(_) => panic!("{tls} must be refused"),
        }
    }
}
