//! Workflow endpoints made with this crate against the real server (in-process, SQLite,
//! loopback): every step kind, retries, cancel, wait/notify, parallel groups, the failure
//! function, signatures and replay mismatches.

mod common;

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use common::{Effects, TestServer, serve, start_server};
use qstash_workflow::{CallRequest, Context, Error, Options};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const WITHIN: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Input {
    n: u64,
    #[serde(default)]
    event: String,
    #[serde(default)]
    echo: String,
}

async fn echo(body: String) -> (StatusCode, String) {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (StatusCode::CREATED, json!({ "echo": v }).to_string())
}

async fn start(_ts: &TestServer, path: &str, route: axum::routing::MethodRouter) -> String {
    let app = Router::new().route(path, route).route("/echo", post(echo));
    let base = serve(app).await;
    format!("{base}{path}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_kind_runs_once_against_the_server() {
    let ts = start_server().await;
    let fx = Effects::default();
    let f = fx.clone();
    let route = qstash_workflow::serve(
        move |ctx: Context<Input>| {
            let fx = f.clone();
            async move {
                let n = ctx.payload.n;
                let doubled = ctx
                    .run("double", || async {
                        fx.hit("double");
                        Ok::<_, Error>(n * 2)
                    })
                    .await?;
                ctx.sleep("pause", Duration::from_secs(1)).await?;
                ctx.sleep_until("until", SystemTime::now() + Duration::from_secs(1))
                    .await?;
                let echoed = ctx
                    .call(
                        "echo",
                        CallRequest::post(ctx.payload.echo.clone())
                            .json(&json!({"value": doubled})),
                    )
                    .await?;
                let waited = ctx
                    .wait_for_event("wait", ctx.payload.event.clone(), Duration::from_secs(60))
                    .await?;
                let (a, b, c) = tokio::try_join!(
                    ctx.run("part-1", || async {
                        fx.hit("part-1");
                        Ok::<_, Error>(1)
                    }),
                    ctx.run("part-2", || async {
                        fx.hit("part-2");
                        Ok::<_, Error>(4)
                    }),
                    ctx.run("part-3", || async {
                        fx.hit("part-3");
                        Ok::<_, Error>(9)
                    }),
                )?;
                let last = ctx
                    .run("last", || async {
                        fx.hit("last");
                        Ok::<_, Error>(format!("{doubled}:{}", a + b + c))
                    })
                    .await?;
                fx.hit("returned");
                Ok(json!({
                    "doubled": doubled,
                    "status": echoed.status,
                    "echo": echoed.json::<Value>()?,
                    "event": waited.event_data,
                    "timeout": waited.timeout,
                    "last": last,
                }))
            }
        },
        // A failure function puts a failure callback on the run: the call step must not
        // carry its headers (the server refuses them without the callback itself).
        ts.options().failure(|_, _| async { Ok(()) }),
    );
    let url = start(&ts, "/kinds", route).await;
    let echo_url = url.replace("/kinds", "/echo");
    let run = ts
        .client
        .trigger_url(url.as_str())
        .json(&json!({"n": 21, "event": "kinds-event", "echo": echo_url}))
        .unwrap()
        .send()
        .await
        .unwrap();
    // Notify once the run waits for the event.
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let released = ts
            .client
            .notify("kinds-event", &json!({"paid": true}))
            .await
            .unwrap();
        if !released.is_empty() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let logs = ts
                .client
                .logs(&qstash_client::LogsQuery::new().with_run_id(run.workflow_run_id.clone()))
                .await
                .unwrap();
            panic!("the run never waited: {:?}\n{logs:?}", fx.all());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (state, log) = ts.wait_run(&run.workflow_run_id, WITHIN).await;
    assert_eq!(state, "RUN_SUCCESS", "{log}");
    let response: Value = match &log["workflowRunResponse"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    };
    assert_eq!(
        response,
        json!({
            "doubled": 42,
            "status": 201,
            "echo": {"echo": {"value": 42}},
            "event": {"paid": true},
            "timeout": false,
            "last": "42:14",
        })
    );
    for step in ["double", "part-1", "part-2", "part-3", "last"] {
        assert_eq!(fx.count(step), 1, "{step} ran {} times", fx.count(step));
    }
    ts.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_fails_twice_then_succeeds_is_retried_and_the_run_completes() {
    let ts = start_server().await;
    let fx = Effects::default();
    let f = fx.clone();
    let route = qstash_workflow::serve(
        move |ctx: Context<Input>| {
            let fx = f.clone();
            async move {
                let v = ctx
                    .run("flaky", || async {
                        let attempt = fx.hit("flaky");
                        if attempt <= 2 {
                            return Err(format!("attempt {attempt} fails"));
                        }
                        Ok(ctx.payload.n + 1)
                    })
                    .await?;
                ctx.run("after", || async {
                    fx.hit("after");
                    Ok::<_, Error>(v)
                })
                .await
            }
        },
        ts.options(),
    );
    let url = start(&ts, "/flaky", route).await;
    let run = ts
        .client
        .trigger_url(url.as_str())
        .json(&json!({"n": 1}))
        .unwrap()
        .retries(3)
        .retry_delay("100")
        .unwrap()
        .send()
        .await
        .unwrap();
    let (state, log) = ts.wait_run(&run.workflow_run_id, WITHIN).await;
    assert_eq!(state, "RUN_SUCCESS", "{log}");
    assert_eq!(fx.count("flaky"), 3);
    assert_eq!(fx.count("after"), 1);
    ts.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_during_a_sleep_does_not_go_on() {
    let ts = start_server().await;
    let fx = Effects::default();
    let f = fx.clone();
    let route = qstash_workflow::serve(
        move |ctx: Context<Input>| {
            let fx = f.clone();
            async move {
                ctx.run("before", || async {
                    fx.hit("before");
                    Ok::<_, Error>(1)
                })
                .await?;
                ctx.sleep("long", Duration::from_secs(3)).await?;
                fx.hit("woke");
                ctx.run("after", || async {
                    fx.hit("after");
                    Ok::<_, Error>(2)
                })
                .await
            }
        },
        ts.options(),
    );
    let url = start(&ts, "/cancel", route).await;
    let run = ts
        .client
        .trigger_url(url.as_str())
        .json(&json!({"n": 1}))
        .unwrap()
        .send()
        .await
        .unwrap();
    fx.wait("before", 1, WITHIN).await;
    // The sleep is handed over in the delivery after "before" (which replays "before").
    tokio::time::sleep(Duration::from_millis(700)).await;
    ts.client.cancel_run(&run.workflow_run_id).await.unwrap();
    let (state, _) = ts.wait_run(&run.workflow_run_id, WITHIN).await;
    assert_eq!(state, "RUN_CANCELED");
    // Past the sleep's end: nothing after it ran.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(fx.count("woke"), 0);
    assert_eq!(fx.count("after"), 0);
    ts.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_times_out_without_a_notify() {
    let ts = start_server().await;
    let route = qstash_workflow::serve(
        |ctx: Context<Input>| async move {
            let waited = ctx
                .wait_for_event("wait", "never-notified", Duration::from_secs(1))
                .await?;
            Ok(json!({"timeout": waited.timeout, "data": waited.event_data}))
        },
        ts.options(),
    );
    let url = start(&ts, "/timeout", route).await;
    let run = ts
        .client
        .trigger_url(url.as_str())
        .json(&json!({"n": 1}))
        .unwrap()
        .send()
        .await
        .unwrap();
    let (state, log) = ts.wait_run(&run.workflow_run_id, WITHIN).await;
    assert_eq!(state, "RUN_SUCCESS", "{log}");
    let response: Value = match &log["workflowRunResponse"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    };
    assert_eq!(response, json!({"timeout": true, "data": null}));
    ts.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_function_runs_once_for_a_failed_run() {
    let ts = start_server().await;
    let fx = Effects::default();
    let (f, g) = (fx.clone(), fx.clone());
    let options: Options = ts.options().failure(move |ctx, failure| {
        let fx = g.clone();
        async move {
            fx.hit("failure");
            let input: Input = ctx.payload()?;
            fx.hit(&format!("failure:{}:{}", input.n, failure.message));
            Ok(json!({"handled": ctx.run_id}))
        }
    });
    let route = qstash_workflow::serve(
        move |ctx: Context<Input>| {
            let fx = f.clone();
            async move {
                ctx.run("doomed", || async {
                    fx.hit("doomed");
                    Err::<u64, _>("no luck")
                })
                .await
            }
        },
        options,
    );
    let url = start(&ts, "/doomed", route).await;
    let run = ts
        .client
        .trigger_url(url.as_str())
        .json(&json!({"n": 7}))
        .unwrap()
        .retries(1)
        .retry_delay("100")
        .unwrap()
        .send()
        .await
        .unwrap();
    let (state, log) = ts.wait_run(&run.workflow_run_id, WITHIN).await;
    assert_eq!(state, "RUN_FAILED", "{log}");
    fx.wait("failure", 1, WITHIN).await;
    assert_eq!(fx.count("doomed"), 2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fx.count("failure"), 1, "{:?}", fx.all());
    assert_eq!(fx.count("failure:7:no luck"), 1, "{:?}", fx.all());
    ts.server.shutdown().await;
}
