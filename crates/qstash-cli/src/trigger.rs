//! `qstash trigger URL …`: one flag per header of the wire contract.

use clap::Args;
use qstash_client::Client;
use qstash_protocol::{CallbackUrl, RunId, TriggerRequest};

use crate::diagnostic::Failure;
use crate::request::{RequestArgs, apply, bad, destination, header_lines, json_line};
use crate::{Connection, api_failure};

/// `qstash trigger` flags.
#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The run id (Upstash-Workflow-RunId); one is generated when absent.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Call this URL when the run fails; without a URL (`--failure-callback` alone, or
    /// `--failure-callback=`), the workflow's own failure function.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub failure_callback: Option<String>,
    /// The flags a message has too.
    #[command(flatten)]
    pub request: RequestArgs,
}

/// The request the flags describe, every value checked.
pub fn build(args: &TriggerArgs) -> Result<TriggerRequest, Failure> {
    let url = destination(&args.request, "workflow URL")?;
    let mut b = apply(&args.request, TriggerRequest::builder(url))?;
    if let Some(id) = &args.run_id {
        b = b.run_id(RunId::new(id.as_str()).map_err(|e| bad("--run-id", &e, id, e.span()))?);
    }
    match args.failure_callback.as_deref() {
        None => {}
        Some("") => b = b.failure_function(),
        Some(url) => {
            let url =
                CallbackUrl::new(url).map_err(|e| bad("--failure-callback", &e, url, e.span()))?;
            b = b.failure_url(url);
        }
    }
    for (name, value) in header_lines("--failure-header", &args.request.failure_headers)? {
        b = b.failure_forward(name, value);
    }
    b.build().map_err(|e| Failure::input(e.to_string()))
}

/// The exact request `trigger` would send, with the token masked (see
/// [`request::dry_run`](crate::request::dry_run)).
pub fn dry_run(request: &TriggerRequest, conn: &Connection) -> Result<String, Failure> {
    let base = crate::request::base_uri(conn)?;
    let mut request = request.clone();
    // The client gives a request without a run id a generated one; show that one.
    request.ensure_run_id();
    Ok(crate::request::dry_run(&request.to_http(&base), conn))
}

/// Sends the trigger and reports the new run.
pub async fn send(client: &Client, request: TriggerRequest, json: bool) -> Result<String, Failure> {
    let response = client.trigger(request).await.map_err(api_failure)?;
    if json {
        return json_line(&response);
    }
    Ok(format!(
        "started {} (created at {})\n",
        response.workflow_run_id.as_str(),
        crate::show::time(response.workflow_created_at)
    ))
}
