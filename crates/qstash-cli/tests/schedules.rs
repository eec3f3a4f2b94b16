//! `qstash schedules …` and `qstash url-groups …` end to end: the real binary against the
//! real server (in-process on loopback, on a SQLite file).

mod common;
#[path = "../../qstash-client/tests/loopback/mod.rs"]
mod loopback;

use std::process::Output;

use loopback::Loopback;
use serde_json::Value;

const TOKEN: &str = "cli-schedules-test-token";

/// Runs `qstash --token … --url … args…` off the runtime's threads.
async fn qstash(url: &str, args: &[&str]) -> Output {
    let mut all = vec![
        "--token".to_owned(),
        TOKEN.to_owned(),
        "--url".to_owned(),
        url.to_owned(),
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

/// The command's stdout, after checking that it succeeded.
async fn ok(url: &str, args: &[&str]) -> String {
    let o = qstash(url, args).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_create_list_get_pause_resume_delete() {
    let lb = Loopback::start(TOKEN).await;
    let url = lb.url.clone();
    let dest = format!("{}/ok", lb.dest);
    let id = ok(
        &url,
        &[
            "schedules",
            "create",
            &dest,
            "--cron",
            "0 9 * * MON-FRI",
            "--id",
            "weekdays",
            "-H",
            "Upstash-Retries: 1",
            "--body",
            "hello",
        ],
    )
    .await;
    assert_eq!(id, "weekdays\n");
    let list = ok(&url, &["schedules", "list"]).await;
    assert!(list.starts_with("weekdays  active  "), "{list}");
    assert!(list.contains("0 9 * * MON-FRI"), "{list}");
    let got: Value =
        serde_json::from_str(&ok(&url, &["schedules", "get", "weekdays"]).await).unwrap();
    assert_eq!(got["retries"], 1);
    assert_eq!(got["body"], "hello");
    assert_eq!(
        ok(&url, &["schedules", "pause", "weekdays"]).await,
        "paused weekdays\n"
    );
    let got: Value =
        serde_json::from_str(&ok(&url, &["schedules", "get", "weekdays"]).await).unwrap();
    assert_eq!(got["isPaused"], true);
    assert!(
        ok(&url, &["schedules", "list"])
            .await
            .contains("  paused  -  ")
    );
    ok(&url, &["schedules", "resume", "weekdays"]).await;
    assert_eq!(
        ok(&url, &["schedules", "delete", "weekdays"]).await,
        "deleted weekdays\n"
    );
    assert_eq!(ok(&url, &["schedules", "list"]).await, "no schedules\n");
    let o = qstash(&url, &["schedules", "get", "weekdays"]).await;
    assert_ne!(o.status.code(), Some(0), "an unknown schedule is an error");
    let o = qstash(
        &url,
        &["schedules", "create", &dest, "--cron", "61 * * * *"],
    )
    .await;
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("minute"), "the error names the field: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_groups_add_list_get_remove_delete() {
    let lb = Loopback::start(TOKEN).await;
    let url = lb.url.clone();
    let a = format!("{}/ok-a", lb.dest);
    let b = format!("{}/ok-b", lb.dest);
    ok(
        &url,
        &["url-groups", "add", "team", &a, &format!("second={b}")],
    )
    .await;
    let list = ok(&url, &["url-groups", "list"]).await;
    assert_eq!(list, format!("team  {a} second={b}\n"));
    let got: Value = serde_json::from_str(&ok(&url, &["url-groups", "get", "team"]).await).unwrap();
    assert_eq!(got["endpoints"][1]["name"], "second");
    ok(&url, &["url-groups", "remove", "team", "second"]).await;
    ok(&url, &["url-groups", "remove", "team", &a]).await;
    let got: Value = serde_json::from_str(&ok(&url, &["url-groups", "get", "team"]).await).unwrap();
    assert_eq!(got["endpoints"], serde_json::json!([]));
    ok(&url, &["url-groups", "delete", "team"]).await;
    assert_eq!(ok(&url, &["url-groups", "list"]).await, "no URL groups\n");
}
