//! A run started by the official TypeScript SDK's `Client.trigger` (`@upstash/workflow`
//! 1.3.3, `examples/workflow/trigger.mjs` under Node) completes on a Rust endpoint.
//!
//! Needs `node` and `npm`; the example's packages come from `npm ci` (`.ci/run` does it; this
//! test does it too when `node_modules` is missing).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Effects, serve, start_server};
use qstash_client::RunId;
use qstash_test_support::node::{example_workflow_dir, npm_ci};
use qstash_workflow::{Context, Error};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_triggered_by_the_typescript_client_completes_on_the_rust_endpoint() {
    let dir = example_workflow_dir();
    npm_ci(&dir, "@upstash/workflow/package.json");
    let ts = start_server().await;
    let fx = Effects::default();
    let f = fx.clone();
    let route = qstash_workflow::serve(
        move |ctx: Context<Value>| {
            let fx = f.clone();
            async move {
                let n = ctx.payload["n"].as_i64().unwrap_or(0);
                let doubled = ctx
                    .run("double", || async {
                        fx.hit("double");
                        Ok::<_, Error>(n * 2)
                    })
                    .await?;
                ctx.sleep("pause", Duration::from_secs(1)).await?;
                let text = ctx
                    .run("describe", || async {
                        fx.hit("describe");
                        Ok::<_, Error>(format!("{n} -> {doubled}"))
                    })
                    .await?;
                Ok(json!({"doubled": doubled, "text": text}))
            }
        },
        ts.options().failure(|_, _| async { Ok(()) }),
    );
    let base = serve(axum::Router::new().route("/wf", route)).await;
    let url = format!("{base}/wf");

    let mut cmd = Command::new("node");
    for (name, _) in std::env::vars() {
        if name.starts_with("QSTASH_") || name.starts_with("UPSTASH_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(["trigger.mjs", &url, "{\"n\":5}"])
        .current_dir(&dir)
        .env("QSTASH_URL", &ts.url)
        .env("QSTASH_TOKEN", common::TOKEN);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("node must be installed to run the official SDK test");
    assert!(
        out.status.success(),
        "trigger.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = RunId::new(started["workflowRunId"].as_str().unwrap()).unwrap();
    let (state, log) = ts.wait_run(&run_id, Duration::from_secs(30)).await;
    assert_eq!(state, "RUN_SUCCESS", "{log}");
    let response: Value = match &log["workflowRunResponse"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    };
    assert_eq!(response, json!({"doubled": 10, "text": "5 -> 10"}));
    assert_eq!((fx.count("double"), fx.count("describe")), (1, 1));
    ts.server.shutdown().await;
}
