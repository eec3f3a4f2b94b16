//! `qstash publish`, `qstash events` and `qstash dlq` end to end: the real binary against the
//! real server (in-process on loopback, on a SQLite file) delivering to a loopback
//! destination.

mod common;
#[path = "../../qstash-client/tests/loopback/mod.rs"]
mod loopback;

use std::process::Output;
use std::time::{Duration, Instant};

use loopback::{Delivery, Loopback};

const TOKEN: &str = "cli-publish-test-token";

struct Setup {
    lb: Loopback,
    url: String,
    dest: String,
}

/// The server and a destination answering 200 under `/ok`, 500 elsewhere.
async fn setup() -> Setup {
    let lb = Loopback::start(TOKEN).await;
    Setup {
        url: lb.url.clone(),
        dest: lb.dest.clone(),
        lb,
    }
}

impl Setup {
    /// Runs `qstash --token … --url … args…` off the runtime's threads.
    async fn qstash(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "--token".to_owned(),
            TOKEN.to_owned(),
            "--url".to_owned(),
            self.url.clone(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        tokio::task::spawn_blocking(move || {
            common::qstash()
                .args(all)
                .env_remove("QSTASH_TOKEN")
                .env_remove("QSTASH_URL")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    /// Runs `qstash events …` until a line shows `state`; returns the output.
    async fn wait_event(&self, message_id: &str, state: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let o = self
                .qstash(&["events", "--message-id", message_id, "--state", state])
                .await;
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            let out = stdout(&o);
            if out.contains(&format!("{message_id}  {state}  ")) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "no {state} event for {message_id}: {out}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_is_delivered_and_shows_in_the_events() {
    let s = setup().await;
    let dest = format!("{}/ok/cli?x=1", s.dest);
    let o = s
        .qstash(&[
            "publish",
            &dest,
            "--body",
            "from the cli",
            "-H",
            "X-Tenant: 7",
            "--label",
            "cli",
            "--retries",
            "1",
            "--attempt-timeout",
            "5s",
        ])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let id = stdout(&o).trim_end().to_owned();
    assert!(id.starts_with("msg_"), "prints the message id: {id}");
    assert!(!id.contains(' '), "{id}");

    let out = s.wait_event(&id, "DELIVERED").await;
    assert!(
        out.contains(&format!("{id}  DELIVERED  200  {dest}\n")),
        "{out}"
    );
    assert_eq!(
        s.lb.deliveries(),
        [Delivery {
            target: "/ok/cli?x=1".to_owned(),
            message_id: id.clone(),
            tenant: Some("7".to_owned()),
            body: b"from the cli".to_vec(),
        }]
    );

    // Every event of the message, as JSON, newest first.
    let o = s.qstash(&["events", "--message-id", &id, "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let states: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.first(), Some(&"DELIVERED"), "{states:?}");
    assert_eq!(states.last(), Some(&"CREATED"), "{states:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_deduplicates_and_prints_json() {
    let s = setup().await;
    let dest = format!("{}/ok/dedup", s.dest);
    let args = ["publish", &dest, "--delay", "1h", "--dedup-id", "order-7"];
    let first = s.qstash(&args).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let id = stdout(&first).trim_end().to_owned();
    let again = s.qstash(&args).await;
    assert_eq!(stdout(&again), format!("{id} (deduplicated)\n"));
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let o = s.qstash(&json_args).await;
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["messageId"], id.as_str());
    assert_eq!(v["deduplicated"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_messages_are_listed_retried_and_deleted_in_the_dlq() {
    let s = setup().await;
    let dest = format!("{}/fail/cli", s.dest);
    let o = s
        .qstash(&[
            "publish",
            &dest,
            "--body",
            "doomed",
            "--retries",
            "0",
            "--label",
            "dlq",
        ])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let id = stdout(&o).trim_end().to_owned();
    s.wait_event(&id, "FAILED").await;

    let o = s.qstash(&["dlq", "list", "--label", "dlq"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out.lines().next().unwrap();
    let fields: Vec<&str> = line.split("  ").collect();
    assert_eq!(fields[1..], [id.as_str(), "500", dest.as_str()], "{out}");
    let dlq_id = fields[0].to_owned();

    let o = s.qstash(&["dlq", "get", &dlq_id]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["messageId"], id.as_str());
    assert_eq!(v["body"], "doomed");

    let o = s.qstash(&["dlq", "retry", &dlq_id]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let new_id = stdout(&o).trim_end().to_owned();
    assert!(new_id.starts_with("msg_") && new_id != id, "{new_id}");
    s.wait_event(&new_id, "FAILED").await;

    // The retry took the entry out of the DLQ; the retried message's failure made a new one.
    let o = s.qstash(&["dlq", "get", &dlq_id]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = s.qstash(&["dlq", "list", "--label", "dlq"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out.lines().next().unwrap();
    let fields: Vec<&str> = line.split("  ").collect();
    assert_eq!(
        fields[1..],
        [new_id.as_str(), "500", dest.as_str()],
        "{out}"
    );
    let dlq_id = fields[0].to_owned();

    let o = s.qstash(&["dlq", "delete", &dlq_id, "dlq_unknown"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "deleted 1 of 2\n");
    let o = s.qstash(&["dlq", "get", &dlq_id]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: not found (HTTP 404)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn publish_dry_run_prints_every_header_with_the_token_masked() {
    let o = common::qstash()
        .args([
            "--token",
            "s3cret-token",
            "--url",
            "https://qstash.example",
            "publish",
            "https://example.com/hook?id=7",
            "--body",
            "hi",
            "--content-type",
            "text/plain",
            "--method",
            "PUT",
            "--attempt-timeout",
            "90s",
            "--delay",
            "10s",
            "--retries",
            "2",
            "--callback",
            "https://example.com/cb",
            "--callback-header",
            "X-Cb: 1",
            "--failure-callback",
            "https://example.com/failed",
            "--failure-header",
            "X-Fail: 2",
            "--dedup-id",
            "order-7",
            "--content-dedup",
            "-H",
            "Authorization: Bearer downstream",
            "--flow-control-key",
            "k",
            "--flow-control",
            "parallelism=1",
            "--dry-run",
        ])
        .env_remove("QSTASH_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "POST https://qstash.example/v2/publish/https://example.com/hook?id=7\n\
         Authorization: Bearer ****\n\
         Content-Type: text/plain\n\
         Upstash-Callback: https://example.com/cb\n\
         Upstash-Callback-Forward-X-Cb: 1\n\
         Upstash-Content-Based-Deduplication: true\n\
         Upstash-Deduplication-Id: order-7\n\
         Upstash-Delay: 10s\n\
         Upstash-Failure-Callback: https://example.com/failed\n\
         Upstash-Failure-Callback-Forward-X-Fail: 2\n\
         Upstash-Flow-Control-Key: k\n\
         Upstash-Flow-Control-Value: parallelism=1\n\
         Upstash-Forward-Authorization: Bearer downstream\n\
         Upstash-Method: PUT\n\
         Upstash-Retries: 2\n\
         Upstash-Timeout: 1m30s\n\
         \n\
         hi\n"
    );
}

#[test]
fn a_url_without_a_scheme_is_an_invalid_destination_url_or_workflow_url() {
    for (command, what) in [
        ("publish", "invalid destination URL"),
        ("trigger", "invalid workflow URL"),
    ] {
        let o = common::qstash()
            .args(["--token", "t", command, "example.com/hook", "--dry-run"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{command}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("{what} \"example.com/hook\"")),
            "{command}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn invalid_publish_values_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--attempt-timeout", "5sec"], "error: --attempt-timeout: "),
        (&["--method", "GE T"], "error: --method: "),
        (&["--callback", "ftp://x"], "error: --callback: "),
        (&["--dedup-id", "a b"], "error: --dedup-id: "),
        (&["--delay", "5x"], "error: --delay: "),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["--token", "t", "publish", "https://example.com/hook"];
        args.extend_from_slice(extra);
        args.push("--dry-run");
        let o = common::qstash().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with(expected),
            "{extra:?}: {}",
            stderr(&o)
        );
    }
    let o = common::qstash()
        .args(["--token", "t", "events", "--state", "DONE"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown state \"DONE\""),
        "{}",
        stderr(&o)
    );
}
