//! `qstash trigger URL …`: one flag per header of the wire contract.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use http::HeaderName;
use qstash_client::Client;
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_protocol::{CallbackUrl, Label, RunId, TriggerRequest, WorkflowUrl, header};
use qstash_retry_delay::RetryDelay;

use crate::diagnostic::{Diagnostic, Failure};
use crate::{Connection, api_failure};

/// `qstash trigger` flags.
#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The workflow's URL (absolute http or https; its query string travels too).
    pub url: String,
    /// The body, as text.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the body from a file, or from stdin with `-`.
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<PathBuf>,
    /// A header forwarded to the workflow, `Name: value` (repeatable; Upstash-Forward-Name).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The body's Content-Type.
    #[arg(long)]
    pub content_type: Option<String>,
    /// The run id (Upstash-Workflow-RunId); one is generated when absent.
    #[arg(long)]
    pub run_id: Option<String>,
    /// How many times a failed step is retried (Upstash-Retries).
    #[arg(long)]
    pub retries: Option<u32>,
    /// The delay before each retry, an expression in milliseconds (Upstash-Retry-Delay).
    #[arg(long, value_name = "EXPR")]
    pub retry_delay: Option<String>,
    /// Delay the start (Upstash-Delay: `50s`, `1d10h30m`).
    #[arg(long, value_name = "DELAY")]
    pub delay: Option<String>,
    /// Start no earlier than this time: unix seconds or RFC 3339 (Upstash-Not-Before).
    #[arg(long, value_name = "TIME")]
    pub not_before: Option<String>,
    /// A label for logs and the DLQ (repeatable; Upstash-Label).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// The flow-control key (Upstash-Flow-Control-Key); needs --flow-control.
    #[arg(long, value_name = "KEY", requires = "flow_control")]
    pub flow_control_key: Option<String>,
    /// The flow-control limits, `parallelism=2, rate=5, period=1m`; needs --flow-control-key.
    #[arg(long, value_name = "VALUE", requires = "flow_control_key")]
    pub flow_control: Option<String>,
    /// Call this URL when the run fails; without a URL (`--failure-callback` alone, or
    /// `--failure-callback=`), the workflow's own failure function.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub failure_callback: Option<String>,
    /// A header forwarded to the failure callback, `Name: value` (repeatable).
    #[arg(
        long = "failure-header",
        value_name = "NAME: VALUE",
        requires = "failure_callback"
    )]
    pub failure_headers: Vec<String>,
    /// Print the exact HTTP request (token masked) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the response as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub deadline: crate::Deadline,
}

/// An error about the value of `flag`, pointing into it.
fn bad(
    flag: &str,
    message: impl std::fmt::Display,
    value: &str,
    span: std::ops::Range<usize>,
) -> Failure {
    Failure::Input(Diagnostic::at(format!("{flag}: {message}"), value, span))
}

/// `Name: value` → (`Name`, `value`), the value's leading spaces trimmed as curl does.
fn split_header<'a>(flag: &str, line: &'a str) -> Result<(&'a str, &'a str), Failure> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| bad(flag, "expected `Name: value`", line, line.len()..line.len()))?;
    Ok((name.trim(), value.trim_start()))
}

/// The request the flags describe, every value checked.
pub fn build(args: &TriggerArgs) -> Result<TriggerRequest, Failure> {
    let url =
        WorkflowUrl::new(args.url.as_str()).map_err(|e| bad("URL", &e, &args.url, e.span()))?;
    let mut b = TriggerRequest::builder(url).body(read_body(args)?);
    if let Some(ct) = &args.content_type {
        b = b.content_type(ct.as_bytes());
    }
    if let Some(id) = &args.run_id {
        b = b.run_id(RunId::new(id.as_str()).map_err(|e| bad("--run-id", &e, id, e.span()))?);
    }
    for line in &args.headers {
        let (name, value) = split_header("--header", line)?;
        b = b.forward(name, value);
    }
    if let Some(n) = args.retries {
        b = b.retries(n);
    }
    if let Some(src) = &args.retry_delay {
        let program =
            RetryDelay::compile(src).map_err(|e| bad("--retry-delay", &e, src, e.span()))?;
        b = b.retry_delay(program);
    }
    if let Some(d) = &args.delay {
        let delay = Delay::parse(d.as_bytes()).map_err(|e| bad("--delay", &e, d, e.span()))?;
        b = b.delay(delay);
    }
    if let Some(t) = &args.not_before {
        b = b.not_before(not_before(t)?);
    }
    for l in &args.labels {
        b = b.label(Label::new(l.as_str()).map_err(|e| bad("--label", &e, l, e.span()))?);
    }
    if let (Some(key), Some(value)) = (&args.flow_control_key, &args.flow_control) {
        let k = FlowControlKey::new(key.as_str())
            .map_err(|e| bad("--flow-control-key", &e, key, e.span()))?;
        let v = FlowControl::parse(value.as_bytes())
            .map_err(|e| bad("--flow-control", &e, value, e.span()))?;
        b = b.flow_control(k, v);
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
    for line in &args.failure_headers {
        let (name, value) = split_header("--failure-header", line)?;
        b = b.failure_forward(name, value);
    }
    b.build().map_err(|e| Failure::input(e.to_string()))
}

/// `--body`, `--body-file PATH` or `--body-file -` (stdin); empty when none is given.
fn read_body(args: &TriggerArgs) -> Result<Bytes, Failure> {
    if let Some(text) = &args.body {
        return Ok(Bytes::from(text.clone()));
    }
    let Some(path) = &args.body_file else {
        return Ok(Bytes::new());
    };
    let mut body = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().lock().read_to_end(&mut body).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut body).map(|_| ()))
    };
    read.map_err(|e| Failure::input(format!("--body-file {}: {e}", path.display())))?;
    Ok(Bytes::from(body))
}

/// Unix seconds (`1767225600`) or an RFC 3339 time (`2026-01-01T00:00:00Z`).
fn not_before(value: &str) -> Result<u64, Failure> {
    if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        return value
            .parse::<u64>()
            .map_err(|e| bad("--not-before", e, value, 0..value.len()));
    }
    let ts: jiff::Timestamp = value.parse().map_err(|e| {
        bad(
            "--not-before",
            format!("not unix seconds or an RFC 3339 time ({e})"),
            value,
            0..value.len(),
        )
    })?;
    u64::try_from(ts.as_second())
        .map_err(|_| bad("--not-before", "before 1970", value, 0..value.len()))
}

/// `content-type` → `Content-Type`; the contract's names keep their own spelling
/// (`Upstash-Workflow-RunId`), forwarded names keep theirs after the prefix.
fn display_name(name: &HeaderName) -> String {
    if let Some(known) = header::canonical(name) {
        return known.to_string();
    }
    let lower = name.as_str();
    for (prefix, shown) in [
        (
            header::FAILURE_CALLBACK_FORWARD_PREFIX,
            header::FAILURE_CALLBACK_FORWARD_PREFIX_CANONICAL,
        ),
        (header::FORWARD_PREFIX, header::FORWARD_PREFIX_CANONICAL),
    ] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            return format!("{shown}{}", title_case(rest));
        }
    }
    title_case(lower)
}

fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The exact request `trigger` would send, with the token masked: method and URL, headers
/// sorted by name (repeated names in their order), a blank line, the body.
pub fn dry_run(request: &TriggerRequest, conn: &Connection) -> Result<String, Failure> {
    let base: http::Uri = conn
        .base_url
        .parse()
        .map_err(|e| Failure::input(format!("--url {:?}: {e}", conn.base_url)))?;
    let mut request = request.clone();
    // The client gives a request without a run id a generated one; show that one.
    request.ensure_run_id();
    let http = request.to_http(&base);
    let mut out = format!("{} {}\n", http.method(), http.uri());
    let auth = if conn.token.is_some() {
        "Bearer ****"
    } else {
        "Bearer <no token: --token or QSTASH_TOKEN>"
    };
    let _ = writeln!(out, "Authorization: {auth}");
    let mut names: Vec<&HeaderName> = http.headers().keys().collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    for name in names {
        for value in http.headers().get_all(name) {
            let value = String::from_utf8_lossy(value.as_bytes());
            let _ = writeln!(out, "{}: {value}", display_name(name));
        }
    }
    out.push('\n');
    match std::str::from_utf8(http.body()) {
        Ok(text) => out.push_str(text),
        Err(_) => {
            let _ = write!(out, "<{} bytes of binary data>", http.body().len());
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// Sends the trigger and reports the new run.
pub async fn send(client: &Client, request: TriggerRequest, json: bool) -> Result<String, Failure> {
    let response = client.trigger(request).await.map_err(api_failure)?;
    if json {
        let text = serde_json::to_string(&response)
            .map_err(|e| Failure::Api(format!("cannot print the response: {e}")))?;
        return Ok(text + "\n");
    }
    Ok(format!(
        "started {} (created at {} ms since the epoch)\n",
        response.workflow_run_id.as_str(),
        response.workflow_created_at
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_follow_the_contract() {
        let name = |s: &'static str| display_name(&HeaderName::from_static(s));
        assert_eq!(name("upstash-workflow-runid"), "Upstash-Workflow-RunId");
        assert_eq!(name("upstash-forward-x-tenant"), "Upstash-Forward-X-Tenant");
        assert_eq!(
            name("upstash-failure-callback-forward-authorization"),
            "Upstash-Failure-Callback-Forward-Authorization"
        );
        assert_eq!(name("content-type"), "Content-Type");
    }

    #[test]
    fn not_before_reads_both_forms() {
        assert_eq!(not_before("1767225600").unwrap(), 1_767_225_600);
        assert_eq!(not_before("2026-01-01T00:00:00Z").unwrap(), 1_767_225_600);
        assert_eq!(
            not_before("2026-01-01T02:00:00+02:00").unwrap(),
            1_767_225_600
        );
        assert!(not_before("1969-12-31T23:59:59Z").is_err());
        assert!(not_before("tomorrow").is_err());
        assert!(not_before("").is_err());
    }

    #[test]
    fn header_lines_split_at_the_first_colon() {
        assert_eq!(split_header("-H", "X-A: b: c").unwrap(), ("X-A", "b: c"));
        assert_eq!(split_header("-H", "X-A:b").unwrap(), ("X-A", "b"));
        assert!(split_header("-H", "no colon").is_err());
    }
}
