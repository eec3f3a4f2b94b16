//! The order workflow of `examples/workflow` (the Node one), written with `qstash-workflow`.
//!
//! ```text
//! POST /workflow   the workflow: steps "double", "add-ten", a sleep "pause", "describe",
//!                  and a call "echo" to POST /echo
//! POST /echo       a third party: answers 201 {"echo": <value>}
//! POST /three      the three-step workflow of the runs benchmark: on {"n": N} the steps
//!                  "double" (2N), "increment" (2N + 1) and "describe" ("N -> <increment>"),
//!                  returning {"n", "result", "text"}
//! GET  /events     what ran so far, as JSON: [{"type": "step"|"failure", "runId", ...}]
//! ```
//!
//! Input (JSON): `{"n": 3, "tag": "x", "sleep": 1, "fail": false}`; the run returns
//! `{"result": "<tag>:<add-ten>", "echoStatus": 201, "echo": {"echo": <add-ten>}}`.
//!
//! Environment: PORT (default 3000), QSTASH_URL and QSTASH_TOKEN (default: `qstash dev`'s
//! address and token), QSTASH_CURRENT_SIGNING_KEY with QSTASH_NEXT_SIGNING_KEY (both: every
//! request is verified). With `--trigger '<JSON>'` it also starts one run, prints its result
//! when it ends and exits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use qstash_client::{Client, LogsQuery};
use qstash_workflow::{CallRequest, Context, Error, Options};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `qstash dev`'s address and token.
const DEV_URL: &str = "http://127.0.0.1:8080";
const DEV_TOKEN: &str = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";

/// The run's input.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct Order {
    #[serde(default)]
    n: i64,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    sleep: Option<u64>,
    #[serde(default)]
    fail: bool,
}

/// What the run returns.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome {
    result: String,
    echo_status: u16,
    echo: Value,
}

/// What ran, for `GET /events`.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Value>>>);

impl Events {
    fn record(&self, event: Value) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(event);
    }
}

/// The workflow.
async fn order(ctx: Context<Order>, events: Events, port: u16) -> Result<Outcome, Error> {
    let input = ctx.payload.clone();
    let run_id = ctx.run_id().to_owned();
    let step = |name: &str| events.record(json!({"type": "step", "step": name, "runId": run_id}));

    let doubled = ctx
        .run("double", || async {
            step("double");
            Ok::<_, Error>(input.n * 2)
        })
        .await?;
    let added = ctx
        .run("add-ten", || async {
            step("add-ten");
            if input.fail {
                return Err(format!("add-ten refuses to run for {}", input.n));
            }
            Ok(doubled + 10)
        })
        .await?;
    ctx.sleep("pause", Duration::from_secs(input.sleep.unwrap_or(1)))
        .await?;
    let described = ctx
        .run("describe", || async {
            step("describe");
            Ok::<_, Error>(format!("{}:{added}", input.tag.as_deref().unwrap_or("run")))
        })
        .await?;
    // A call to a third party (here this server's /echo) through the QStash server.
    let echoed = ctx
        .call(
            "echo",
            CallRequest::post(format!("http://127.0.0.1:{port}/echo"))
                .json(&json!({"value": added})),
        )
        .await?;
    Ok(Outcome {
        result: described,
        echo_status: echoed.status,
        echo: echoed.json()?,
    })
}

/// The three-step workflow of the runs benchmark (`benches/src/runs.rs --endpoints`).
async fn three(ctx: Context<Value>) -> Result<Value, Error> {
    let n = ctx.payload["n"].as_u64().unwrap_or(0);
    let doubled = ctx
        .run("double", || async { Ok::<_, Error>(n * 2) })
        .await?;
    let incremented = ctx
        .run("increment", || async { Ok::<_, Error>(doubled + 1) })
        .await?;
    let text = ctx
        .run("describe", || async {
            Ok::<_, Error>(format!("{n} -> {incremented}"))
        })
        .await?;
    Ok(json!({"n": n, "result": incremented, "text": text}))
}

async fn echo(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(json!({"echo": body["value"]})))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    let port: u16 = env_or("PORT", "3000").parse()?;
    let qstash_url = env_or("QSTASH_URL", DEV_URL);
    let token = env_or("QSTASH_TOKEN", DEV_TOKEN);
    let mut options = Options::new(qstash_url.clone(), token.clone());
    if let (Ok(current), Ok(next)) = (
        std::env::var("QSTASH_CURRENT_SIGNING_KEY"),
        std::env::var("QSTASH_NEXT_SIGNING_KEY"),
    ) {
        options = options.signing_keys(current, next);
    }
    let three_options = options.clone();
    let events = Events::default();
    let failures = events.clone();
    options = options.failure(move |ctx, failure| {
        let events = failures.clone();
        async move {
            events.record(json!({
                "type": "failure",
                "runId": ctx.run_id,
                "failStatus": failure.status,
                "failResponse": failure.message,
            }));
            Ok(format!("failure handled for {}", ctx.run_id))
        }
    });

    let wf_events = events.clone();
    let app = Router::new()
        .route(
            "/workflow",
            qstash_workflow::serve(
                move |ctx: Context<Order>| order(ctx, wf_events.clone(), port),
                options,
            ),
        )
        .route("/three", qstash_workflow::serve(three, three_options))
        .route("/echo", post(echo))
        .route(
            "/events",
            get(move || {
                let events = events.clone();
                async move {
                    Json(Value::Array(
                        events.0.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                    ))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("workflow endpoint on http://127.0.0.1:{port}/workflow (QStash at {qstash_url})");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--trigger") {
        let body: Value = serde_json::from_str(args.get(at + 1).map_or("{}", String::as_str))?;
        let client = Client::builder()
            .base_url(qstash_url)
            .token(token)
            .build()?;
        let run = client
            .trigger_url(format!("http://127.0.0.1:{port}/workflow").as_str())
            .json(&body)?
            .send()
            .await?;
        eprintln!("started {}", run.workflow_run_id);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let logs = client
                .logs(&LogsQuery::new().with_run_id(run.workflow_run_id.clone()))
                .await?;
            if let Some(r) = logs.runs.first() {
                let state = r.workflow_state.clone().unwrap_or_default();
                if state != "RUN_STARTED" {
                    println!(
                        "{}",
                        json!({"state": state, "response": r.other.get("workflowRunResponse")})
                    );
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err("the run did not end within 120 s".into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    server.await??;
    Ok(())
}
