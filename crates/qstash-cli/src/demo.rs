//! `qstash dev --demo`: next to the development server, the example workflow endpoint
//! (`examples/workflow`, made with the official `@upstash/workflow` SDK) is started (its npm
//! packages installed with `npm ci` when missing), one run is triggered and its steps are
//! printed as they complete, then the commands to try next. The endpoint is the server's
//! child: it is killed when the server stops, and exits by itself if the server dies.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use qstash_client::Client;
use qstash_protocol::{LogsQuery, RunLog};
use serde_json::{Value, json};

use crate::show;

/// How long the demo waits for the endpoint to listen, and for the run to end.
const ENDPOINT_WAIT: Duration = Duration::from_secs(30);
const RUN_WAIT: Duration = Duration::from_secs(60);

/// The server's token and signing keys, which the endpoint uses too.
#[derive(Clone)]
pub(crate) struct Keys {
    /// The API token.
    pub token: String,
    /// The current signing key.
    pub current: String,
    /// The next signing key.
    pub next: String,
}

/// The child process of the demo (`npm ci`, then the endpoint) and whether the demo stopped.
#[derive(Default)]
struct Children {
    child: Option<Child>,
    stopped: bool,
}

type Shared = Arc<Mutex<Children>>;

/// A running demo: its task and its child process.
pub(crate) struct Demo {
    children: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Demo {
    /// Stops the demo and kills its child process (and waits for it).
    pub(crate) async fn stop(self) {
        self.task.abort();
        let child = {
            let mut c = self.children.lock().unwrap_or_else(PoisonError::into_inner);
            c.stopped = true;
            c.child.take()
        };
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        }
    }
}

/// Writes `text` to stdout at once (lines of the demo and of the banner do not mix).
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Starts the demo against the server at `url`, on the current runtime.
pub(crate) fn start(url: String, keys: Keys) -> Demo {
    let children = Shared::default();
    let task = tokio::spawn(run(url, keys, children.clone()));
    Demo { children, task }
}

async fn run(url: String, keys: Keys, children: Shared) {
    if let Err(e) = demo(&url, &keys, &children).await {
        let _ = writeln!(
            std::io::stderr(),
            "demo: {e}\n(the server keeps running on {url})"
        );
    }
}

/// Where the example lives: `examples/workflow` under the working directory, else in the
/// source tree this binary was built from.
fn example_dir() -> Result<PathBuf, String> {
    [
        PathBuf::from("examples/workflow"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/workflow"),
    ]
    .into_iter()
    .find(|d| d.join("server.mjs").is_file())
    .ok_or_else(|| {
        "cannot find examples/workflow/server.mjs: run `qstash dev --demo` from the \
         repository's root"
            .to_owned()
    })
}

/// Spawns `command` as the demo's child, unless the demo has stopped.
fn spawn(children: &Shared, command: &mut Command, what: &str) -> Result<(), String> {
    let mut c = children.lock().unwrap_or_else(PoisonError::into_inner);
    if c.stopped {
        return Err("stopped".to_owned());
    }
    c.child = Some(
        command
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?,
    );
    Ok(())
}

/// Waits for the demo's child to exit (polling, so that `stop` can kill it meanwhile).
async fn wait_child(children: &Shared) -> Result<ExitStatus, String> {
    loop {
        {
            let mut c = children.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(child) = c.child.as_mut() else {
                return Err("stopped".to_owned());
            };
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                c.child = None;
                return Ok(status);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A command with the caller's `QSTASH_*`/`UPSTASH_*` variables removed: the endpoint gets
/// exactly this server's values.
fn clean_command(program: &str) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && (name.starts_with("QSTASH_") || name.starts_with("UPSTASH_"))
        {
            command.env_remove(name);
        }
    }
    command
}

async fn demo(url: &str, keys: &Keys, children: &Shared) -> Result<(), String> {
    let dir = example_dir()?;
    if !dir
        .join("node_modules/@upstash/workflow/package.json")
        .is_file()
    {
        print(&format!(
            "demo: installing the example's npm packages (npm ci in {})\n",
            dir.display()
        ));
        let mut npm = clean_command("npm");
        npm.args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .stdout(Stdio::null());
        spawn(children, &mut npm, "npm (is Node.js installed?)")?;
        let status = wait_child(children).await?;
        if !status.success() {
            return Err(format!("npm ci in {} failed ({status})", dir.display()));
        }
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a free port for the endpoint: {e}"))?
        .port();
    let mut node = clean_command("node");
    node.arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("QSTASH_URL", url)
        .env("QSTASH_TOKEN", &keys.token)
        .env("QSTASH_CURRENT_SIGNING_KEY", &keys.current)
        .env("QSTASH_NEXT_SIGNING_KEY", &keys.next)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    spawn(children, &mut node, "node (is Node.js installed?)")?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + ENDPOINT_WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return Err(format!("the example endpoint did not listen on {endpoint}"));
        }
        if let Some(status) = children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            return Err(format!("the example endpoint exited ({status})"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    print(&format!(
        "demo: workflow endpoint on {endpoint}/workflow ({}, stops with this server)\n",
        dir.display()
    ));

    let client = Client::builder()
        .token(keys.token.as_str())
        .base_url(url)
        .build()
        .map_err(|e| e.to_string())?;
    let input = json!({"n": 3, "tag": "demo"});
    let run = client
        .trigger_url(format!("{endpoint}/workflow"))
        .json(&input)
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| format!("the trigger failed: {e}"))?;
    let run_id = run.workflow_run_id;
    print(&format!(
        "demo: triggered run {} of {endpoint}/workflow with {input}\n",
        run_id.as_str()
    ));

    let mut query = LogsQuery::new();
    query.run_id = Some(run_id.clone());
    let mut shown = 0;
    let mut previous = Some(run.workflow_created_at);
    let deadline = Instant::now() + RUN_WAIT;
    let log = loop {
        let page = client
            .logs(&query)
            .await
            .map_err(|e| format!("reading the run's logs failed: {e}"))?;
        if let Some(log) = page.runs.into_iter().next() {
            let steps: Vec<show::Step> = show::step_groups(&log).into_iter().flatten().collect();
            for step in steps.iter().skip(shown) {
                print(&format!(
                    "demo:   step {}  {}\n",
                    shown + 1,
                    show::step_line(step, previous, (10, 8))
                ));
                previous = step.at.or(previous);
                shown += 1;
            }
            if log.workflow_state.as_deref() != Some("RUN_STARTED") {
                break log;
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the run {} did not end within {} s; see `qstash logs`",
                run_id.as_str(),
                RUN_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    print(&summary(&log, url, keys, &endpoint));
    Ok(())
}

/// The run's outcome and the commands to try next.
fn summary(log: &RunLog, url: &str, keys: &Keys, endpoint: &str) -> String {
    let took = match (log.workflow_run_created_at, log.workflow_run_completed_at) {
        (Some(a), Some(b)) => format!(" in {}", show::duration(b.saturating_sub(a))),
        _ => String::new(),
    };
    let outcome = log
        .other
        .get("workflowRunResponse")
        .or_else(|| log.other.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .map_or_else(String::new, |d| format!("PATH=\"{}:$PATH\" ", d.display()));
    format!(
        "demo: run {} ended {}{took}: {outcome}\n\
         \n\
         The server keeps running (Ctrl-C stops it and the endpoint). Try, in another shell:\n\
         \n\
         \x20 export {bin_dir}QSTASH_URL={url} QSTASH_TOKEN={}\n\
         \x20 qstash logs          # the runs and their steps\n\
         \x20 qstash trigger {endpoint}/workflow --content-type application/json \\\n\
         \x20   --body '{{\"n\": 5, \"tag\": \"again\"}}'\n\
         \x20 qstash trigger {endpoint}/workflow --content-type application/json \\\n\
         \x20   --body '{{\"n\": 4, \"fail\": true}}' --retries 1 --retry-delay 500 --failure-callback\n\
         \x20 qstash dlq list      # the failed run's message\n\
         \x20 qstash events        # every message's events\n\
         \n\
         The run in the web console:\n\
         \x20 {url}/console/#token={}&then=/runs/{}\n",
        log.workflow_run_id.as_str(),
        log.workflow_state.as_deref().unwrap_or("-"),
        keys.token,
        crate::serve::fragment(&keys.token),
        log.workflow_run_id.as_str(),
    )
}
