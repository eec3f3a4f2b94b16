//! `Context::invoke` against the real server (in-process, SQLite, loopback): a Rust workflow
//! invokes other Rust workflows served beside it, gets the return value of one that succeeds
//! and `is_failed` from one that fails, and each step runs once.

mod common;

use std::time::Duration;

use axum::Router;
use common::{Effects, serve, start_server};
use qstash_workflow::{Context, Error, InvokeRequest, Invoked};
use serde_json::{Value, json};

const WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_invokes_others_and_gets_their_ends() {
    let ts = start_server().await;
    let fx = Effects::default();
    let (f1, f2) = (fx.clone(), fx.clone());
    let parent = qstash_workflow::serve(
        move |ctx: Context<Value>| {
            let fx = f1.clone();
            async move {
                let n = ctx
                    .run("before", || async {
                        fx.hit("parent-before");
                        Ok::<_, Error>(ctx.payload["n"].as_u64().unwrap_or(0))
                    })
                    .await?;
                let child: Invoked<Value> = ctx
                    .invoke(
                        "child",
                        InvokeRequest::workflow("child")
                            .json(&json!({"n": n}))
                            .header("x-from", "parent")
                            .run_id(format!("child-of-{n}")),
                    )
                    .await?;
                let failing: Invoked<Value> = ctx
                    .invoke(
                        "failing",
                        InvokeRequest::workflow("failing").body("plain").retries(0),
                    )
                    .await?;
                let after = ctx
                    .run("after", || async {
                        fx.hit("parent-after");
                        Ok::<_, Error>("done".to_owned())
                    })
                    .await?;
                Ok(json!({
                    "child": child.body,
                    "childFailed": child.is_failed,
                    "failingFailed": failing.is_failed,
                    "failingBody": failing.body,
                    "after": after,
                }))
            }
        },
        ts.options(),
    );
    let child = qstash_workflow::serve(
        move |ctx: Context<Value>| {
            let fx = f2.clone();
            async move {
                let n = ctx.payload["n"].as_u64().unwrap_or(0);
                let tripled = ctx
                    .run("triple", || async {
                        fx.hit("child-triple");
                        Ok::<_, Error>(n * 3)
                    })
                    .await?;
                ctx.sleep("nap", Duration::from_secs(1)).await?;
                Ok(json!({"tripled": tripled, "runId": ctx.run_id()}))
            }
        },
        ts.options(),
    );
    let failing = qstash_workflow::serve(
        |ctx: Context<String>| async move {
            ctx.run("refuse", || async {
                Err::<(), _>(Error::non_retryable(format!("no {}", ctx.payload)))
            })
            .await?;
            Ok(())
        },
        ts.options().retries(0),
    );
    let app = Router::new()
        .route("/wf/parent", parent)
        .route("/wf/child", child)
        .route("/wf/failing", failing);
    let base = serve(app).await;
    let run = ts
        .client
        .trigger_url(format!("{base}/wf/parent").as_str())
        .json(&json!({"n": 7}))
        .unwrap()
        .send()
        .await
        .unwrap();
    let (state, log) = ts.wait_run(&run.workflow_run_id, WITHIN).await;
    assert_eq!(state, "RUN_SUCCESS", "{log:#}");
    let result: Value = serde_json::from_str(log["workflowRunResponse"].as_str().unwrap()).unwrap();
    assert_eq!(
        result,
        json!({
            "child": {"tripled": 21, "runId": "wfr_child-of-7"},
            "childFailed": false,
            "failingFailed": true,
            "failingBody": null,
            "after": "done",
        })
    );
    assert_eq!(fx.count("parent-before"), 1, "{:?}", fx.all());
    assert_eq!(fx.count("parent-after"), 1, "{:?}", fx.all());
    assert_eq!(fx.count("child-triple"), 1, "{:?}", fx.all());
    // The invoked run is a run of its own, with the payload the invoker gave it.
    let child_id = qstash_client::RunId::new("wfr_child-of-7").unwrap();
    let (state, child_log) = ts.wait_run(&child_id, WITHIN).await;
    assert_eq!(state, "RUN_SUCCESS", "{child_log:#}");
    assert_eq!(
        child_log["invoker"]["workflowRunId"],
        json!(run.workflow_run_id.as_str())
    );
    assert_eq!(
        child_log["invoker"]["workflowUrl"],
        json!(format!("{base}/wf/parent"))
    );
    let init = &child_log["steps"][0]["steps"][0];
    assert_eq!(init["stepType"], "Initial");
    assert_eq!(init["out"], r#"{"n":7}"#);
    // The invoker's log shows the Invoke steps with their outputs.
    let invoke_steps: Vec<&Value> = log["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["steps"].as_array().unwrap())
        .filter(|s| s["stepType"] == "Invoke")
        .collect();
    assert_eq!(invoke_steps.len(), 2, "{log:#}");
    assert_eq!(invoke_steps[0]["stepName"], "child");
}

/// An invoked run that is cancelled answers its invoker with `is_canceled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_invoked_run_answers_its_invoker() {
    let ts = start_server().await;
    let parent = qstash_workflow::serve(
        |ctx: Context<Value>| async move {
            let waiting: Invoked<Value> = ctx
                .invoke(
                    "waiting",
                    InvokeRequest::workflow("waiting").run_id("cancel-me"),
                )
                .await?;
            Ok::<_, Error>(json!({"canceled": waiting.is_canceled, "body": waiting.body}))
        },
        ts.options(),
    );
    let waiting = qstash_workflow::serve(
        |ctx: Context<Value>| async move {
            ctx.wait_for_event("never", "never-sent", Duration::from_secs(3600))
                .await?;
            Ok::<_, Error>(json!("not cancelled"))
        },
        ts.options(),
    );
    let app = Router::new()
        .route("/wf/parent", parent)
        .route("/wf/waiting", waiting);
    let base = serve(app).await;
    let run = ts
        .client
        .trigger_url(format!("{base}/wf/parent").as_str())
        .json(&json!({}))
        .unwrap()
        .send()
        .await
        .unwrap();
    let child = qstash_client::RunId::new("wfr_cancel-me").unwrap();
    // Cancel once the invoked run waits for its event.
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let logs = ts
            .client
            .logs(&qstash_client::LogsQuery::new().with_run_id(child.clone()))
            .await
            .unwrap();
        let waits = logs.runs.first().is_some_and(|r| {
            serde_json::to_string(&r.other)
                .unwrap()
                .contains("\"Wait\"")
        });
        if waits {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the invoked run never waited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ts.client.cancel_run(&child).await.unwrap();
    let (state, log) = ts.wait_run(&run.workflow_run_id, WITHIN).await;
    assert_eq!(state, "RUN_SUCCESS", "{log:#}");
    let result: Value = serde_json::from_str(log["workflowRunResponse"].as_str().unwrap()).unwrap();
    assert_eq!(result, json!({"canceled": true, "body": null}));
}
