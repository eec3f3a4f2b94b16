//! `qstash schedules create|list|get|pause|resume|delete` and `qstash url-groups
//! add|remove|list|get|delete`.

use std::fmt::Write as _;

use clap::Subcommand;
use qstash_client::{Endpoint, EndpointRef, NewSchedule};

use crate::diagnostic::Failure;
use crate::request::json_line;
use crate::{ApiArgs, Connection, api_failure, block_on};

/// `qstash schedules` subcommands.
#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Create a schedule (or replace the one of `--id`); prints its id.
    Create {
        /// Where each tick publishes: a URL, or a URL group's name.
        destination: String,
        /// The cron expression: five fields in UTC, or `CRON_TZ=<zone> ` first.
        #[arg(long)]
        cron: String,
        /// The schedule's id (creates or replaces that schedule).
        #[arg(long)]
        id: Option<String>,
        /// A publish header, `Name: value` (repeatable): `Upstash-Retries: 2`,
        /// `Upstash-Forward-Authorization: …`, `Content-Type: …`.
        #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// The body of each published message.
        #[arg(long, default_value = "")]
        body: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The schedules: id, state, next tick, cron, destination.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// One schedule, as JSON.
    Get {
        /// The schedule id.
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Pause a schedule: it publishes nothing until resumed.
    Pause {
        /// The schedule id.
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Resume a schedule from its next tick.
    Resume {
        /// The schedule id.
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a schedule (its messages already published stay).
    Delete {
        /// The schedule id.
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// `qstash url-groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum UrlGroupsCommand {
    /// Add endpoints to a URL group (creating it).
    Add {
        /// The group's name.
        name: String,
        /// The endpoints: `URL`, or `NAME=URL` for a named one.
        #[arg(required = true, value_name = "[NAME=]URL")]
        endpoints: Vec<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Remove endpoints from a URL group, by URL or by name.
    Remove {
        /// The group's name.
        name: String,
        /// The endpoints: a URL, or an endpoint's name.
        #[arg(required = true, value_name = "URL|NAME")]
        endpoints: Vec<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The URL groups: name and endpoints.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// One URL group, as JSON.
    Get {
        /// The group's name.
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a URL group.
    Delete {
        /// The group's name.
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// `qstash schedules …`.
pub fn schedules(command: SchedulesCommand, conn: &Connection) -> Result<String, Failure> {
    use SchedulesCommand as C;
    let api = match &command {
        C::Create { api, .. }
        | C::List { api, .. }
        | C::Get { api, .. }
        | C::Pause { api, .. }
        | C::Resume { api, .. }
        | C::Delete { api, .. } => api,
    };
    let client = api.client(conn)?;
    match command {
        C::Create {
            destination,
            cron,
            id,
            headers,
            body,
            ..
        } => {
            let mut s = NewSchedule::new(destination, cron).body(body);
            if let Some(id) = id {
                s = s.schedule_id(id);
            }
            for h in &headers {
                let (n, v) = h.split_once(':').ok_or_else(|| {
                    Failure::input(format!("--header: {h:?} is not `Name: value`"))
                })?;
                s = s.header(n.trim(), v.trim());
            }
            let id = block_on(async { client.create_schedule(&s).await.map_err(api_failure) })?;
            Ok(format!("{id}\n"))
        }
        C::List { json, .. } => {
            let list = block_on(async { client.schedules().await.map_err(api_failure) })?;
            if json {
                return json_line(&list);
            }
            let mut out = String::new();
            for s in &list {
                let state = if s.is_paused { "paused" } else { "active" };
                let next = s
                    .next_schedule_time
                    .map_or_else(|| "-".to_owned(), crate::show::time);
                let _ = writeln!(
                    out,
                    "{}  {state}  {next}  {}  {}",
                    s.schedule_id, s.cron, s.destination
                );
            }
            if list.is_empty() {
                out.push_str("no schedules\n");
            }
            Ok(out)
        }
        C::Get { id, .. } => {
            let s = block_on(async { client.schedule(&id).await.map_err(api_failure) })?;
            json_line(&s)
        }
        C::Pause { id, .. } => {
            block_on(async { client.pause_schedule(&id).await.map_err(api_failure) })?;
            Ok(format!("paused {id}\n"))
        }
        C::Resume { id, .. } => {
            block_on(async { client.resume_schedule(&id).await.map_err(api_failure) })?;
            Ok(format!("resumed {id}\n"))
        }
        C::Delete { id, .. } => {
            block_on(async { client.delete_schedule(&id).await.map_err(api_failure) })?;
            Ok(format!("deleted {id}\n"))
        }
    }
}

/// `qstash url-groups …`.
pub fn url_groups(command: UrlGroupsCommand, conn: &Connection) -> Result<String, Failure> {
    use UrlGroupsCommand as C;
    let api = match &command {
        C::Add { api, .. }
        | C::Remove { api, .. }
        | C::List { api, .. }
        | C::Get { api, .. }
        | C::Delete { api, .. } => api,
    };
    let client = api.client(conn)?;
    match command {
        C::Add {
            name, endpoints, ..
        } => {
            let endpoints: Vec<Endpoint> = endpoints
                .iter()
                .map(|e| match e.split_once('=') {
                    Some((n, url)) if !n.contains(':') && !n.contains('/') => Endpoint {
                        name: Some(n.to_owned()),
                        url: url.to_owned(),
                    },
                    _ => Endpoint {
                        name: None,
                        url: e.clone(),
                    },
                })
                .collect();
            let n = endpoints.len();
            block_on(async {
                client
                    .add_endpoints(&name, &endpoints)
                    .await
                    .map_err(api_failure)
            })?;
            Ok(format!("added {n} endpoint(s) to {name}\n"))
        }
        C::Remove {
            name, endpoints, ..
        } => {
            let refs: Vec<EndpointRef> = endpoints
                .iter()
                .map(|e| {
                    if e.contains("://") {
                        EndpointRef {
                            name: None,
                            url: Some(e.clone()),
                        }
                    } else {
                        EndpointRef {
                            name: Some(e.clone()),
                            url: None,
                        }
                    }
                })
                .collect();
            block_on(async {
                client
                    .remove_endpoints(&name, &refs)
                    .await
                    .map_err(api_failure)
            })?;
            Ok(format!("removed from {name}\n"))
        }
        C::List { json, .. } => {
            let list = block_on(async { client.url_groups().await.map_err(api_failure) })?;
            if json {
                return json_line(&list);
            }
            let mut out = String::new();
            for g in &list {
                let urls: Vec<String> = g
                    .endpoints
                    .iter()
                    .map(|e| match &e.name {
                        Some(n) => format!("{n}={}", e.url),
                        None => e.url.clone(),
                    })
                    .collect();
                let _ = writeln!(out, "{}  {}", g.name, urls.join(" "));
            }
            if list.is_empty() {
                out.push_str("no URL groups\n");
            }
            Ok(out)
        }
        C::Get { name, .. } => {
            let g = block_on(async { client.url_group(&name).await.map_err(api_failure) })?;
            json_line(&g)
        }
        C::Delete { name, .. } => {
            block_on(async { client.delete_url_group(&name).await.map_err(api_failure) })?;
            Ok(format!("deleted {name}\n"))
        }
    }
}
