//! Triggers one workflow run and prints its id.
//!
//! ```text
//! QSTASH_TOKEN=… [QSTASH_URL=http://127.0.0.1:8080] \
//!     cargo run -p qstash-client --example trigger -- <workflow-url> [body] [delay]
//! ```
//!
//! `QSTASH_URL` defaults to `https://qstash.upstash.io`; any server speaking the same API
//! works (a local QStash dev server, a proxy). The exit status is 0 on success, 1 on an
//! error (printed with its kind), 2 on bad arguments.

use std::process::ExitCode;

use qstash_client::Client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: trigger <workflow-url> [body] [delay]");
        return ExitCode::from(2);
    };
    let body = args.next().unwrap_or_default();
    let delay = args.next();

    let client = match Client::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut call = client.trigger_url(url.as_str()).body(body);
    if let Some(delay) = delay {
        call = match call.delay(delay.as_str()) {
            Ok(call) => call,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    }
    match call.send().await {
        Ok(run) => {
            println!(
                "{} created at {} ms",
                run.workflow_run_id, run.workflow_created_at
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error ({:?}): {e}", e.kind());
            ExitCode::FAILURE
        }
    }
}
