//! `qstash events` and `qstash dlq list|get|retry|delete`.

use std::fmt::Write as _;

use clap::{Args, Subcommand};
use qstash_protocol::{DlqQuery, EventState, EventsQuery, Label};

use crate::diagnostic::Failure;
use crate::request::{bad, json_line};
use crate::{ApiArgs, Connection, api_failure, block_on};

/// `qstash events` flags.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this message's events.
    #[arg(long)]
    pub message_id: Option<String>,
    /// Only events in this state: CREATED, ACTIVE, RETRY, ERROR, DELIVERED, FAILED,
    /// CANCEL_REQUESTED or CANCELLED.
    #[arg(long)]
    pub state: Option<String>,
    /// Only events of messages to this destination URL.
    #[arg(long = "destination", value_name = "URL")]
    pub url: Option<String>,
    /// Only events of messages with this label.
    #[arg(long)]
    pub label: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// The paging and output flags of a list.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// How many entries (runs, events, messages).
    #[arg(long)]
    pub count: Option<u32>,
    /// Continue after a previous page (its cursor).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Print the page as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `qstash dlq` subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// One page of failed messages: DLQ id, message id, last status, destination.
    List {
        /// Only messages to this destination URL.
        #[arg(long = "destination", value_name = "URL")]
        url: Option<String>,
        /// Only messages with this label.
        #[arg(long)]
        label: Option<String>,
        /// Only messages whose last response had this status.
        #[arg(long)]
        response_status: Option<u16>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One failed message, as JSON.
    Get {
        /// The DLQ id.
        dlq_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Send a failed message again as a new message; prints the new message's id.
    Retry {
        /// The DLQ id.
        dlq_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete failed messages.
    Delete {
        /// The DLQ ids.
        #[arg(required = true)]
        dlq_ids: Vec<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

fn label(value: Option<&String>) -> Result<Option<Label>, Failure> {
    value
        .map(|l| Label::new(l.as_str()).map_err(|e| bad("--label", &e, l, e.span())))
        .transpose()
}

/// `qstash events`: one page, a line per event (time in RFC 3339, message, state, status,
/// destination, error), then the cursor of the next page.
pub fn events(args: &EventsArgs, conn: &Connection) -> Result<String, Failure> {
    let state = args
        .state
        .as_deref()
        .map(|s| {
            s.parse::<EventState>().map_err(|_| {
                let valid: Vec<&str> = EventState::ALL.iter().map(|s| s.as_str()).collect();
                Failure::input(format!(
                    "--state: unknown state {s:?} (one of {})",
                    valid.join(", ")
                ))
            })
        })
        .transpose()?;
    let mut query = EventsQuery::default();
    query.message_id = args.message_id.clone();
    query.state = state;
    query.url = args.url.clone();
    query.label = label(args.label.as_ref())?;
    query.count = args.page.count;
    query.cursor = args.page.cursor.clone();
    let client = args.page.api.client(conn)?;
    let page = block_on(async { client.events(&query).await.map_err(api_failure) })?;
    if args.page.json {
        return json_line(&page);
    }
    let mut out = String::new();
    for e in &page.events {
        let _ = write!(
            out,
            "{}  {}  {}  {}  {}",
            crate::show::time(e.time),
            e.message_id,
            e.state,
            status(e.response_status),
            e.url
        );
        if let Some(error) = &e.error {
            let _ = write!(out, "  {}", error.escape_debug());
        }
        out.push('\n');
    }
    if page.events.is_empty() {
        out.push_str("no events\n");
    }
    more(&mut out, page.cursor.as_deref());
    Ok(out)
}

/// `qstash dlq …`.
pub fn dlq(command: DlqCommand, conn: &Connection) -> Result<String, Failure> {
    let api = match &command {
        DlqCommand::List { page, .. } => &page.api,
        DlqCommand::Get { api, .. }
        | DlqCommand::Retry { api, .. }
        | DlqCommand::Delete { api, .. } => api,
    };
    let client = api.client(conn)?;
    match command {
        DlqCommand::List {
            url,
            label: l,
            response_status,
            page,
        } => {
            let mut query = DlqQuery::default();
            query.url = url;
            query.label = label(l.as_ref())?;
            query.response_status = response_status;
            query.count = page.count;
            query.cursor = page.cursor;
            let list = block_on(async { client.dlq(&query).await.map_err(api_failure) })?;
            if page.json {
                return json_line(&list);
            }
            let mut out = String::new();
            for m in &list.messages {
                let _ = writeln!(
                    out,
                    "{}  {}  {}  {}",
                    m.dlq_id,
                    m.message_id,
                    status(m.response_status),
                    m.url
                );
            }
            if list.messages.is_empty() {
                out.push_str("no failed messages\n");
            }
            more(&mut out, list.cursor.as_deref());
            Ok(out)
        }
        DlqCommand::Get { dlq_id, .. } => {
            let m = block_on(async { client.dlq_message(&dlq_id).await.map_err(api_failure) })?;
            json_line(&m)
        }
        DlqCommand::Retry { dlq_id, .. } => {
            let r = block_on(async { client.retry_dlq(&dlq_id).await.map_err(api_failure) })?;
            Ok(format!("{}\n", r.message_id))
        }
        DlqCommand::Delete { dlq_ids, .. } => {
            let total = dlq_ids.len();
            let n = block_on(async { client.delete_dlq(dlq_ids).await.map_err(api_failure) })?;
            Ok(format!("deleted {n} of {total}\n"))
        }
    }
}

fn status(status: Option<u16>) -> String {
    status.map_or_else(|| "-".to_owned(), |s| s.to_string())
}

/// The line that tells how to get the next page, when there is one.
pub fn more(out: &mut String, cursor: Option<&str>) {
    if let Some(cursor) = cursor.filter(|c| !c.is_empty()) {
        let _ = writeln!(out, "more: --cursor {cursor}");
    }
}
