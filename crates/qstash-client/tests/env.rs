//! `Client::from_env` against a real server. Setting variables in this process would need
//! `unsafe` (and race with other tests), so the test runs itself again as a child process
//! with `QSTASH_TOKEN` and `QSTASH_URL` set, and the child does the checks.

mod server;

use qstash_client::Client;
use server::{Reply, TestServer};

const CHILD: &str = "QSTASH_CLIENT_TEST_ENV_CHILD";
const TOKEN: &str = "token-from-the-environment";

#[test]
fn from_env_reads_token_and_url() {
    if std::env::var_os(CHILD).is_some() {
        // Child: the variables are set; trigger through the configured server.
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
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "from_env_reads_token_and_url",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("QSTASH_TOKEN", TOKEN)
        .env("QSTASH_URL", server.url())
        .status()
        .unwrap();
    assert!(status.success(), "the child failed: {status}");
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].header("authorization"),
        format!("Bearer {TOKEN}")
    );

    // Without a token, from_env fails with a configuration error naming the variable.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "from_env_without_token_fails",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("QSTASH_TOKEN")
        .env_remove("QSTASH_URL")
        .status()
        .unwrap();
    assert!(status.success(), "the child failed: {status}");
}

#[test]
fn from_env_without_token_fails() {
    // Only meaningful where QSTASH_TOKEN is unset: the child run above guarantees it.
    if std::env::var_os("QSTASH_TOKEN").is_some() {
        return;
    }
    let err = Client::from_env().unwrap_err();
    assert_eq!(err.kind(), qstash_client::ErrorKind::Config);
    assert!(err.to_string().contains("QSTASH_TOKEN"), "{err}");
}
