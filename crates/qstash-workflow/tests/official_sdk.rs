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

/// A Rust workflow invokes one made with `@upstash/workflow` 1.3.3 (`POST /three` of
/// `examples/workflow/server.mjs`) and goes on with its return value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_workflow_invokes_a_typescript_one() {
    let dir = example_workflow_dir();
    npm_ci(&dir, "@upstash/workflow/package.json");
    let ts = start_server().await;
    let node_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new("node");
    for (name, _) in std::env::vars() {
        if name.starts_with("QSTASH_") || name.starts_with("UPSTASH_") {
            cmd.env_remove(name);
        }
    }
    let mut node = cmd
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", node_port.to_string())
        .env("QSTASH_URL", &ts.url)
        .env("QSTASH_TOKEN", common::TOKEN)
        .env("QSTASH_CURRENT_SIGNING_KEY", common::CURRENT_KEY)
        .env("QSTASH_NEXT_SIGNING_KEY", common::NEXT_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node must be installed to run the official SDK test");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", node_port))
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let three = format!("http://127.0.0.1:{node_port}/three");
    let route = qstash_workflow::serve(
        move |ctx: Context<Value>| {
            let three = three.clone();
            async move {
                let invoked: qstash_workflow::Invoked<Value> = ctx
                    .invoke(
                        "node-three",
                        qstash_workflow::InvokeRequest::url(three).json(&json!({"n": 7})),
                    )
                    .await?;
                Ok::<_, Error>(json!({"body": invoked.body, "failed": invoked.is_failed}))
            }
        },
        ts.options(),
    );
    let base = serve(axum::Router::new().route("/parent", route)).await;
    let run = ts
        .client
        .trigger_url(format!("{base}/parent").as_str())
        .json(&json!({}))
        .unwrap()
        .send()
        .await
        .unwrap();
    let (state, log) = ts
        .wait_run(&run.workflow_run_id, Duration::from_secs(30))
        .await;
    node.kill().unwrap();
    node.wait().unwrap();
    assert_eq!(state, "RUN_SUCCESS", "{log:#}");
    let response: Value =
        serde_json::from_str(log["workflowRunResponse"].as_str().unwrap()).unwrap();
    assert_eq!(
        response,
        json!({"body": {"n": 7, "result": 15, "text": "7 -> 15"}, "failed": false})
    );
    ts.server.shutdown().await;
}

/// The run log's shape with ids, times and addresses replaced: keys, step names, types,
/// outputs and states.
fn log_shape(v: &Value, run_id: &str, base: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let shaped = match k.as_str() {
                        "messageId"
                        | "createdAt"
                        | "workflowRunCreatedAt"
                        | "workflowRunCompletedAt" => Value::String(format!("<{k}>")),
                        _ => log_shape(v, run_id, base),
                    };
                    (k.clone(), shaped)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| log_shape(x, run_id, base)).collect()),
        Value::String(s) => Value::String(s.replace(run_id, "<RUN>").replace(base, "<BASE>")),
        other => other.clone(),
    }
}

/// `Client.trigger` of the TypeScript SDK starts the same three-step workflow on the Node
/// endpoint and on a Rust one: both runs complete and their `qstash logs` views (`GET
/// /v2/workflows/logs`) have the same shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_typescript_triggered_run_look_the_same_on_both_endpoints() {
    let dir = example_workflow_dir();
    npm_ci(&dir, "@upstash/workflow/package.json");
    let ts = start_server().await;
    let node_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clean = |cmd: &mut Command| {
        for (name, _) in std::env::vars() {
            if name.starts_with("QSTASH_") || name.starts_with("UPSTASH_") {
                cmd.env_remove(name);
            }
        }
        cmd.current_dir(&dir)
            .env("QSTASH_URL", &ts.url)
            .env("QSTASH_TOKEN", common::TOKEN);
    };
    let mut cmd = Command::new("node");
    clean(&mut cmd);
    let mut node = cmd
        .arg("server.mjs")
        .env("PORT", node_port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node must be installed to run the official SDK test");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", node_port))
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let route = qstash_workflow::serve(
        |ctx: Context<Value>| async move {
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
            Ok::<_, Error>(json!({"n": n, "result": incremented, "text": text}))
        },
        ts.options(),
    );
    let rust_base = serve(axum::Router::new().route("/three", route)).await;
    let node_base = format!("http://127.0.0.1:{node_port}");
    let mut shapes = Vec::new();
    for base in [&node_base, &rust_base] {
        let mut cmd = Command::new("node");
        clean(&mut cmd);
        cmd.args(["trigger.mjs", &format!("{base}/three"), "{\"n\":4}"]);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "trigger.mjs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let started: Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = started["workflowRunId"].as_str().unwrap().to_owned();
        let (state, _) = ts
            .wait_run(&RunId::new(id.clone()).unwrap(), Duration::from_secs(30))
            .await;
        assert_eq!(state, "RUN_SUCCESS", "{base}");
        let logs: Value =
            reqwest_get(&format!("{}/v2/workflows/logs?workflowRunId={id}", ts.url)).await;
        shapes.push(log_shape(&logs["runs"][0], &id, base));
    }
    node.kill().unwrap();
    node.wait().unwrap();
    assert_eq!(
        shapes[0], shapes[1],
        "Node:\n{:#}\nRust:\n{:#}",
        shapes[0], shapes[1]
    );
    assert_eq!(
        shapes[1]["workflowRunResponse"],
        json!(r#"{"n":4,"result":9,"text":"4 -> 9"}"#)
    );
    ts.server.shutdown().await;
}

async fn reqwest_get(url: &str) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .get(url)
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap()
}

/// A workflow made with `@upstash/workflow` 1.3.3 (`POST /invoker` of
/// `examples/workflow/server.mjs`) invokes a Rust one. The SDK invokes the workflow served
/// beside it (its URL with the last segment replaced), so both are served under one address:
/// `/invoker` is passed on to the Node process, `/three` is the Rust workflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_workflow_invokes_a_rust_one() {
    let dir = example_workflow_dir();
    npm_ci(&dir, "@upstash/workflow/package.json");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ts = start_server().await;
    let node_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new("node");
    for (name, _) in std::env::vars() {
        if name.starts_with("QSTASH_") || name.starts_with("UPSTASH_") {
            cmd.env_remove(name);
        }
    }
    let mut node = cmd
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", node_port.to_string())
        .env("QSTASH_URL", &ts.url)
        .env("QSTASH_TOKEN", common::TOKEN)
        .env("QSTASH_CURRENT_SIGNING_KEY", common::CURRENT_KEY)
        .env("QSTASH_NEXT_SIGNING_KEY", common::NEXT_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node must be installed to run the official SDK test");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", node_port))
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fx = Effects::default();
    let f = fx.clone();
    let three = qstash_workflow::serve(
        move |ctx: Context<Value>| {
            let fx = f.clone();
            async move {
                let n = ctx.payload["n"].as_u64().unwrap_or(0);
                let tripled = ctx
                    .run("triple", || async {
                        fx.hit("triple");
                        Ok::<_, Error>(n * 3)
                    })
                    .await?;
                Ok::<_, Error>(json!({"tripled": tripled}))
            }
        },
        ts.options(),
    );
    let http = reqwest::Client::new();
    let node_url = format!("http://127.0.0.1:{node_port}/invoker");
    let pass_on = axum::routing::post(move |req: axum::extract::Request| {
        let (http, node_url) = (http.clone(), node_url.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 24).await.unwrap();
            let mut b = http.post(&node_url);
            for (k, v) in &parts.headers {
                if k != "content-length" {
                    b = b.header(k, v);
                }
            }
            let resp = b.body(body).send().await.unwrap();
            let status = resp.status();
            let mut out = axum::response::Response::builder().status(status);
            for (k, v) in resp.headers() {
                if k != "content-length" && k != "transfer-encoding" {
                    out = out.header(k, v);
                }
            }
            out.body(axum::body::Body::from(resp.bytes().await.unwrap()))
                .unwrap()
        }
    });
    let base = serve(
        axum::Router::new()
            .route("/invoker", pass_on)
            .route("/three", three),
    )
    .await;
    let run = ts
        .client
        .trigger_url(format!("{base}/invoker").as_str())
        .json(&json!({"n": 5, "target": "three"}))
        .unwrap()
        .send()
        .await
        .unwrap();
    let (state, log) = ts
        .wait_run(&run.workflow_run_id, Duration::from_secs(30))
        .await;
    node.kill().unwrap();
    node.wait().unwrap();
    assert_eq!(state, "RUN_SUCCESS", "{log:#}");
    let response: Value =
        serde_json::from_str(log["workflowRunResponse"].as_str().unwrap()).unwrap();
    assert_eq!(
        response,
        json!({"body": {"tripled": 15}, "isFailed": false, "isCanceled": false})
    );
    assert_eq!(fx.count("triple"), 1);
    ts.server.shutdown().await;
}
