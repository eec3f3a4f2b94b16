//! `Client::from_env` against a real server. Setting variables in this process would need
//! `unsafe` (and race with other tests), so each test runs itself again as a child process
//! with exactly the variables it needs set or removed, and the child does the checks. The
//! caller's own `QSTASH_TOKEN` and `QSTASH_URL` never matter: the parent only spawns, and
//! the child's environment is set by the parent.

mod server;

use std::process::Command;

use qstash_client::{Client, ErrorKind};
use server::{Reply, TestServer};

/// Set in a child to the name of the test it runs.
const CHILD: &str = "QSTASH_CLIENT_TEST_ENV_CHILD";
const TOKEN: &str = "token-from-the-environment";

/// Whether this process is the child of `test`.
fn is_child(test: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|v| v == test)
}

/// Runs `test` alone in a child process whose environment `setup` prepares; asserts that it
/// passed.
fn run_child(test: &str, setup: impl FnOnce(&mut Command) -> &mut Command) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--test-threads=1"])
        .env(CHILD, test)
        .env_remove("QSTASH_TOKEN")
        .env_remove("QSTASH_URL");
    let output = setup(&mut command).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The child did run the test (a filter that matched nothing would pass too).
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[test]
fn from_env_reads_token_and_url() {
    const NAME: &str = "from_env_reads_token_and_url";
    if is_child(NAME) {
        let client = Client::from_env().unwrap();
        let url = std::env::var("QSTASH_URL").unwrap();
        assert_eq!(client.base_url().to_string(), format!("{url}/"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let run = rt
            .block_on(client.trigger_url("https://example.com/wf").send())
            .unwrap();
        assert_eq!(run.workflow_run_id.as_str(), "wfr_env");
        return;
    }

    let server = TestServer::start([Reply::json(
        r#"{"workflowRunId":"wfr_env","workflowCreatedAt":1}"#,
    )]);
    run_child(NAME, |c| {
        c.env("QSTASH_TOKEN", TOKEN).env("QSTASH_URL", server.url())
    });
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].header("authorization"),
        format!("Bearer {TOKEN}")
    );
}

#[test]
fn from_env_without_token_fails() {
    const NAME: &str = "from_env_without_token_fails";
    if is_child(NAME) {
        let err = Client::from_env().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("QSTASH_TOKEN"), "{err}");
        return;
    }
    run_child(NAME, |c| c);
}

#[test]
fn an_empty_url_means_the_default() {
    const NAME: &str = "an_empty_url_means_the_default";
    if is_child(NAME) {
        let client = Client::from_env().unwrap();
        assert_eq!(client.base_url(), "https://qstash.upstash.io/");
        return;
    }
    run_child(NAME, |c| c.env("QSTASH_TOKEN", TOKEN).env("QSTASH_URL", ""));
}
