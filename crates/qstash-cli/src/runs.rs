//! `qstash cancel` and `qstash logs`.

use clap::Args;
use qstash_client::Client;
use qstash_protocol::{BulkCancel, Label, LogsQuery, RunId, RunState};

use crate::api_failure;
use crate::diagnostic::{Diagnostic, Failure};
use crate::messages::{PageArgs, more};
use crate::request::json_line;

/// Checks every id before anything is sent.
pub fn parse_ids(ids: &[String]) -> Result<Vec<RunId>, Failure> {
    ids.iter()
        .map(|id| {
            RunId::new(id.as_str())
                .map_err(|e| Failure::Input(Diagnostic::at(format!("run id: {e}"), id, e.span())))
        })
        .collect()
}

/// One id: `DELETE /v2/workflows/runs/{id}`; several: one bulk cancel by ids.
pub async fn cancel(client: &Client, ids: Vec<RunId>) -> Result<String, Failure> {
    if let [id] = ids.as_slice() {
        client.cancel_run(id).await.map_err(api_failure)?;
        return Ok(format!("cancelled {}\n", id.as_str()));
    }
    let filter = BulkCancel::new(ids, None, None).map_err(|e| Failure::input(e.to_string()))?;
    let n = client.cancel_runs(&filter).await.map_err(api_failure)?;
    Ok(format!(
        "cancelled {n} of {} runs\n",
        filter.run_ids().len()
    ))
}

/// `qstash logs` flags.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this run.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only runs with this label.
    #[arg(long)]
    pub label: Option<String>,
    /// Only runs in this state: RUN_STARTED, RUN_SUCCESS, RUN_FAILED or RUN_CANCELED.
    #[arg(long)]
    pub state: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// The query the flags describe, every value checked.
pub fn logs_query(args: &LogsArgs) -> Result<LogsQuery, Failure> {
    let run_id = args.run_id.as_deref().map(|id| {
        RunId::new(id)
            .map_err(|e| Failure::Input(Diagnostic::at(format!("--run-id: {e}"), id, e.span())))
    });
    let label = args.label.as_deref().map(|l| {
        Label::new(l)
            .map_err(|e| Failure::Input(Diagnostic::at(format!("--label: {e}"), l, e.span())))
    });
    let state = args.state.as_deref().map(|s| {
        s.parse::<RunState>().map_err(|_| {
            let valid: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
            Failure::input(format!(
                "--state: unknown state {s:?} (one of {})",
                valid.join(", ")
            ))
        })
    });
    let mut query = LogsQuery::new();
    query.run_id = run_id.transpose()?;
    query.cursor = args.page.cursor.clone();
    query.count = args.page.count;
    query.state = state.transpose()?;
    query.label = label.transpose()?;
    Ok(query)
}

/// One page: each run (state, start time, duration, URL) with its steps as a tree, then the
/// cursor of the next page when there is one; `--json` prints the API's page as it is.
pub async fn logs(client: &Client, query: LogsQuery, json: bool) -> Result<String, Failure> {
    let page = client.logs(&query).await.map_err(api_failure)?;
    if json {
        return json_line(&page);
    }
    let mut out = String::new();
    for run in &page.runs {
        crate::show::write_run(&mut out, run);
    }
    if page.runs.is_empty() {
        out.push_str("no runs\n");
    }
    more(&mut out, page.cursor.as_deref());
    Ok(out)
}
