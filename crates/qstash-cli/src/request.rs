//! What `qstash trigger` and `qstash publish` share: the flags of the headers a trigger and a
//! message both carry, their checks, and the dry-run printout.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use http::HeaderName;
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_protocol::{Label, PublishRequestBuilder, TriggerRequestBuilder, WorkflowUrl, header};
use qstash_retry_delay::RetryDelay;

use crate::Connection;
use crate::diagnostic::{Diagnostic, Failure};

/// The flags of `qstash trigger` and `qstash publish` for the headers both carry.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The destination: the workflow's or endpoint's URL (absolute http or https; its query
    /// string travels too).
    pub url: String,
    /// The body, as text.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the body from a file, or from stdin with `-`.
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<PathBuf>,
    /// A header forwarded to the destination, `Name: value` (repeatable; Upstash-Forward-Name).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The body's Content-Type.
    #[arg(long)]
    pub content_type: Option<String>,
    /// How many times a failed delivery is retried (Upstash-Retries).
    #[arg(long)]
    pub retries: Option<u32>,
    /// The delay before each retry, an expression in milliseconds (Upstash-Retry-Delay).
    #[arg(long, value_name = "EXPR")]
    pub retry_delay: Option<String>,
    /// Delay the delivery (Upstash-Delay: `50s`, `1d10h30m`).
    #[arg(long, value_name = "DELAY")]
    pub delay: Option<String>,
    /// Deliver no earlier than this time: unix seconds or RFC 3339 (Upstash-Not-Before).
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
    pub api: crate::ApiArgs,
}

/// The setters of the headers a trigger and a message both carry.
pub trait SharedHeaders: Sized {
    /// Sets the body.
    fn body(self, body: Bytes) -> Self;
    /// Sets `Content-Type`.
    fn content_type(self, value: &[u8]) -> Self;
    /// Adds `Upstash-Forward-<name>`.
    fn forward(self, name: &str, value: &str) -> Self;
    /// Sets `Upstash-Retries`.
    fn retries(self, retries: u32) -> Self;
    /// Sets `Upstash-Retry-Delay`.
    fn retry_delay(self, program: RetryDelay) -> Self;
    /// Sets `Upstash-Delay`.
    fn delay(self, delay: Delay) -> Self;
    /// Sets `Upstash-Not-Before`.
    fn not_before(self, unix_secs: u64) -> Self;
    /// Adds a label.
    fn label(self, label: Label) -> Self;
    /// Sets the flow-control key and value.
    fn flow_control(self, key: FlowControlKey, value: FlowControl) -> Self;
}

macro_rules! shared_headers {
    ($($ty:ident),*) => {$(
        impl SharedHeaders for $ty {
            fn body(self, body: Bytes) -> Self { $ty::body(self, body) }
            fn content_type(self, value: &[u8]) -> Self { $ty::content_type(self, value) }
            fn forward(self, name: &str, value: &str) -> Self { $ty::forward(self, name, value) }
            fn retries(self, retries: u32) -> Self { $ty::retries(self, retries) }
            fn retry_delay(self, program: RetryDelay) -> Self { $ty::retry_delay(self, program) }
            fn delay(self, delay: Delay) -> Self { $ty::delay(self, delay) }
            fn not_before(self, unix_secs: u64) -> Self { $ty::not_before(self, unix_secs) }
            fn label(self, label: Label) -> Self { $ty::label(self, label) }
            fn flow_control(self, key: FlowControlKey, value: FlowControl) -> Self {
                $ty::flow_control(self, key, value)
            }
        }
    )*};
}

shared_headers!(TriggerRequestBuilder, PublishRequestBuilder);

/// The destination, checked; `what` names it in errors (`"workflow URL"` for a trigger,
/// `"destination URL"` for a message).
pub fn destination(args: &RequestArgs, what: &'static str) -> Result<WorkflowUrl, Failure> {
    WorkflowUrl::new(args.url.as_str()).map_err(|e| {
        let span = e.span();
        bad("URL", e.read_as(what), &args.url, span)
    })
}

/// Sets on `b` what the shared flags describe but the failure headers (their setter
/// differs), every value checked.
pub fn apply<B: SharedHeaders>(args: &RequestArgs, b: B) -> Result<B, Failure> {
    let mut b = b.body(read_body(args)?);
    if let Some(ct) = &args.content_type {
        b = b.content_type(ct.as_bytes());
    }
    for (name, value) in header_lines("--header", &args.headers)? {
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
        b = b.delay(delay("--delay", d)?);
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
    Ok(b)
}

/// A delay given to `flag`.
pub fn delay(flag: &str, value: &str) -> Result<Delay, Failure> {
    Delay::parse(value.as_bytes()).map_err(|e| bad(flag, &e, value, e.span()))
}

/// Each `Name: value` line given to `flag`, split.
pub fn header_lines<'a>(
    flag: &str,
    lines: &'a [String],
) -> Result<Vec<(&'a str, &'a str)>, Failure> {
    lines.iter().map(|line| split_header(flag, line)).collect()
}

/// The response as one line of JSON.
pub fn json_line<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value)
        .map(|text| text + "\n")
        .map_err(|e| Failure::Api(format!("cannot print the response: {e}")))
}

/// An error about the value of `flag`, pointing into it.
pub fn bad(
    flag: &str,
    message: impl std::fmt::Display,
    value: &str,
    span: std::ops::Range<usize>,
) -> Failure {
    Failure::Input(Diagnostic::at(format!("{flag}: {message}"), value, span))
}

/// `Name: value` → (`Name`, `value`), the value's leading spaces trimmed as curl does.
pub fn split_header<'a>(flag: &str, line: &'a str) -> Result<(&'a str, &'a str), Failure> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| bad(flag, "expected `Name: value`", line, line.len()..line.len()))?;
    Ok((name.trim(), value.trim_start()))
}

/// `--body`, `--body-file PATH` or `--body-file -` (stdin); empty when none is given.
fn read_body(args: &RequestArgs) -> Result<Bytes, Failure> {
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
        (
            header::CALLBACK_FORWARD_PREFIX,
            header::CALLBACK_FORWARD_PREFIX_CANONICAL,
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

/// The base URL of `conn`, for a dry run.
pub fn base_uri(conn: &Connection) -> Result<http::Uri, Failure> {
    conn.base_url()
        .parse()
        .map_err(|e| Failure::input(format!("--url {:?}: {e}", conn.base_url())))
}

/// The exact request `http` with the token masked: method and URL, headers sorted by name
/// (repeated names in their order), a blank line, the body.
pub fn dry_run(http: &http::Request<Bytes>, conn: &Connection) -> String {
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
    out
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
