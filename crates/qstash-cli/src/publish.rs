//! `qstash publish URL …`: a message, with the flags of `qstash trigger` and those of a
//! message's own headers.

use clap::Args;
use http::Method;
use qstash_protocol::{CallbackUrl, DeduplicationId, PublishRequest};

use crate::diagnostic::Failure;
use crate::request::{
    RequestArgs, apply, bad, delay, destination, dry_run, header_lines, json_line,
};
use crate::{Connection, api_failure, block_on};

/// `qstash publish` flags.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The method the message is delivered with (Upstash-Method; POST when absent).
    #[arg(long)]
    pub method: Option<String>,
    /// Bound each delivery attempt (Upstash-Timeout: `30s`).
    #[arg(long, value_name = "DELAY")]
    pub attempt_timeout: Option<String>,
    /// Call this URL after every delivery attempt (Upstash-Callback).
    #[arg(long, value_name = "URL")]
    pub callback: Option<String>,
    /// A header forwarded to the callback, `Name: value` (repeatable).
    #[arg(
        long = "callback-header",
        value_name = "NAME: VALUE",
        requires = "callback"
    )]
    pub callback_headers: Vec<String>,
    /// Call this URL once the message failed for good (Upstash-Failure-Callback).
    #[arg(long, value_name = "URL")]
    pub failure_callback: Option<String>,
    /// A deduplication id (Upstash-Deduplication-Id): a second message with it is not
    /// enqueued, and the client may retry the publish safely.
    #[arg(long, value_name = "ID")]
    pub dedup_id: Option<String>,
    /// Deduplicate by content: destination, body and headers
    /// (Upstash-Content-Based-Deduplication).
    #[arg(long)]
    pub content_dedup: bool,
    /// The flags a trigger has too.
    #[command(flatten)]
    pub request: RequestArgs,
}

/// The message the flags describe, every value checked.
pub fn build(args: &PublishArgs) -> Result<PublishRequest, Failure> {
    let url = destination(&args.request, "destination URL")?;
    let mut b = apply(&args.request, PublishRequest::builder(url))?;
    if let Some(m) = &args.method {
        let method =
            Method::from_bytes(m.as_bytes()).map_err(|e| bad("--method", e, m, 0..m.len()))?;
        b = b.method(method);
    }
    if let Some(t) = &args.attempt_timeout {
        b = b.timeout(delay("--attempt-timeout", t)?);
    }
    let callback =
        |flag: &str, url: &str| CallbackUrl::new(url).map_err(|e| bad(flag, &e, url, e.span()));
    if let Some(url) = &args.callback {
        b = b.callback(callback("--callback", url)?);
    }
    for (name, value) in header_lines("--callback-header", &args.callback_headers)? {
        b = b.callback_forward(name, value);
    }
    if let Some(url) = &args.failure_callback {
        b = b.failure_callback(callback("--failure-callback", url)?);
    }
    for (name, value) in header_lines("--failure-header", &args.request.failure_headers)? {
        b = b.failure_callback_forward(name, value);
    }
    if let Some(id) = &args.dedup_id {
        let id =
            DeduplicationId::new(id.as_str()).map_err(|e| bad("--dedup-id", &e, id, e.span()))?;
        b = b.deduplication_id(id);
    }
    if args.content_dedup {
        b = b.content_based_deduplication(true);
    }
    b.build().map_err(|e| Failure::input(e.to_string()))
}

/// `qstash publish`: the dry run, or the message sent and its id printed (with
/// `(deduplicated)` when the server had it already).
pub fn run(args: &PublishArgs, conn: &Connection) -> Result<String, Failure> {
    let request = build(args)?;
    if args.request.dry_run {
        let base = crate::request::base_uri(conn)?;
        return Ok(dry_run(&request.to_http(&base), conn));
    }
    let client = conn.client(args.request.api.timeout)?;
    let response = block_on(async { client.publish(request).await.map_err(api_failure) })?;
    if args.request.json {
        return json_line(&response);
    }
    let note = if response.deduplicated {
        " (deduplicated)"
    } else {
        ""
    };
    Ok(format!("{}{note}\n", response.message_id))
}
