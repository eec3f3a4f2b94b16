//! Workflow runs: starting them (`/v2/trigger`, `/v2/batch/trigger`), the runs API the SDK
//! uses (a run's steps, ending a run), bulk cancel and the run logs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use qstash_protocol::{
    BatchResponseEntry, BulkCancel, LogsQuery, LogsResponse, RunId, RunLog, TriggerBatch,
    TriggerRequest, TriggerResponse,
};
use qstash_store::{
    CreateRunOutcome, EndRun, EndRunOutcome, Millis, RunFilter, RunState, RunToCreate, StoredRun,
};
use serde_json::{Value, json};

use super::accept::Basics;
use super::{Error, Result, Service, page_size, parse_cursor};
use crate::engine::steps::steps_body;
use crate::workflow::{self, RunConfig};

/// How a run ends by `DELETE /v2/workflows/runs/{id}`.
#[derive(Debug)]
pub(crate) enum RunEnd {
    /// The run is cancelled.
    Cancel,
    /// The run succeeded with this result (the SDK's last call).
    Success(Vec<u8>),
}

impl Service {
    /// Starts a workflow run (`POST /v2/trigger/{url}`). A run id used before (a client's
    /// retry) answers the run it already started.
    pub(crate) async fn trigger(
        &self,
        tenant: &str,
        req: TriggerRequest,
        now: Millis,
    ) -> Result<TriggerResponse> {
        let (run_id, run) = self.prepare_trigger(tenant, req, now).await?;
        let (run_id, created_at, _) = self.commit_run(run_id, run, now).await?;
        Ok(TriggerResponse::new(run_id, created_at))
    }

    /// Starts the runs of a batch of triggers: every entry is checked before anything is
    /// stored; then all are stored in one transaction, or none.
    pub(crate) async fn trigger_batch(
        &self,
        tenant: &str,
        batch: TriggerBatch,
        now: Millis,
    ) -> Result<Vec<BatchResponseEntry>> {
        let limits = self.limits();
        if batch.entries().len() > limits.max_batch {
            return Err(Error::invalid(format!(
                "a batch holds at most {} triggers, this one has {}",
                limits.max_batch,
                batch.entries().len()
            )));
        }
        let mut runs = Vec::with_capacity(batch.entries().len());
        for (i, req) in batch.into_entries().into_iter().enumerate() {
            runs.push(
                self.prepare_trigger(tenant, req, now)
                    .await
                    .map_err(|e| e.prefixed(&format!("entry {i}: ")))?,
            );
        }
        Ok(self
            .commit_runs(runs, now)
            .await?
            .into_iter()
            .map(|(run_id, created_at, created)| {
                BatchResponseEntry::new(run_id, created_at, !created)
            })
            .collect())
    }

    /// The body of a started run's steps (the SDK's lazy fetch); not found once it ended.
    pub(crate) async fn run_steps_body(&self, tenant: &str, run_id: &str) -> Result<Vec<u8>> {
        let store = &self.engine().store;
        match store.get_run(tenant, run_id).await? {
            Some(run) if run.state == RunState::Started => {
                let steps = store.run_steps(tenant, run_id, None).await?;
                Ok(steps_body(&steps))
            }
            _ => Err(Error::not_found("workflow run")),
        }
    }

    /// Ends a run as `end` says; a run that ended already is not an error.
    pub(crate) async fn end_run(
        &self,
        tenant: &str,
        run_id: &str,
        end: RunEnd,
        now: Millis,
    ) -> Result<()> {
        let end = match end {
            RunEnd::Cancel => EndRun {
                state: RunState::Canceled,
                response: None,
                reason: Some("cancelled".into()),
            },
            RunEnd::Success(body) => EndRun {
                state: RunState::Success,
                response: Some(body),
                reason: None,
            },
        };
        match self
            .engine()
            .store
            .end_run(tenant, run_id, end, now)
            .await?
        {
            // An invoked run answers its invoker, also on a repeat (the answer is deduplicated).
            EndRunOutcome::Ended | EndRunOutcome::AlreadyEnded(_) => {
                self.answer_invoker(tenant, run_id, now).await
            }
            EndRunOutcome::NotFound => Err(Error::not_found("workflow run")),
        }
    }

    /// Cancels the started runs a bulk cancel names (by id, or by URL and label), in one
    /// transaction: every matching run, or (on an error) none. Returns how many it cancelled.
    pub(crate) async fn cancel_runs(
        &self,
        tenant: &str,
        q: &BulkCancel,
        now: Millis,
    ) -> Result<u64> {
        let store = &self.engine().store;
        let mut ids: Vec<String> = q.run_ids().iter().map(|r| r.as_str().to_owned()).collect();
        if ids.is_empty() {
            // Every started run matching the URL and label filters.
            let filter = RunFilter {
                run_id: None,
                // A prefix is matched below, run by run.
                workflow_url: q
                    .workflow_url()
                    .filter(|_| q.workflow_url_exact())
                    .map(|u| u.as_str().to_owned()),
                state: Some(RunState::Started),
                label: q.label().map(|l| l.as_str().to_owned()),
            };
            let mut cursor = None;
            loop {
                let page = store.list_runs(tenant, &filter, cursor, 1000).await?;
                ids.extend(page.items.into_iter().map(|r| r.run.run_id));
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        let mut matching = Vec::with_capacity(ids.len());
        for id in ids {
            let matches = match store.get_run(tenant, &id).await? {
                Some(run) => {
                    q.workflow_url().is_none_or(|u| {
                        if q.workflow_url_exact() {
                            u.as_str() == run.run.workflow_url
                        } else {
                            run.run.workflow_url.starts_with(u.as_str())
                        }
                    }) && q
                        .label()
                        .is_none_or(|l| run.run.labels.iter().any(|x| x == l.as_str()))
                }
                None => false,
            };
            if matches {
                matching.push(id);
            }
        }
        let end = EndRun {
            state: RunState::Canceled,
            response: None,
            reason: Some("cancelled".into()),
        };
        let outcomes = store.end_runs(tenant, &matching, end, now).await?;
        let mut cancelled = 0;
        for (id, outcome) in matching.iter().zip(&outcomes) {
            if *outcome == EndRunOutcome::Ended {
                cancelled += 1;
                // The runs are cancelled already: an invoker that cannot be answered now is
                // logged, not an error of the cancel.
                if let Err(e) = self.answer_invoker(tenant, id, now).await {
                    tracing::warn!(run_id = id, error = ?e, "the invoking run was not answered");
                }
            }
        }
        Ok(cancelled)
    }

    /// A page of the tenant's run logs.
    pub(crate) async fn run_logs(&self, tenant: &str, q: &LogsQuery) -> Result<LogsResponse> {
        let filter = RunFilter {
            run_id: q.run_id.as_ref().map(|r| r.as_str().to_owned()),
            workflow_url: None,
            state: q.state.and_then(|s| RunState::from_name(s.as_str())),
            label: q.label.as_ref().map(|l| l.as_str().to_owned()),
        };
        let store = &self.engine().store;
        let page = store
            .list_runs(
                tenant,
                &filter,
                parse_cursor(q.cursor.as_deref())?,
                page_size(q.count),
            )
            .await?;
        let mut runs = Vec::with_capacity(page.items.len());
        for run in page.items {
            let steps = store.run_steps(tenant, &run.run.run_id, None).await?;
            runs.push(run_log(&run, &steps)?);
        }
        Ok(LogsResponse::new(runs, page.next.map(|c| c.to_string())))
    }

    /// A run from a decoded trigger, checked and ready to store: `(run id, the run)`.
    async fn prepare_trigger(
        &self,
        tenant: &str,
        mut req: TriggerRequest,
        now: Millis,
    ) -> Result<(RunId, RunToCreate)> {
        let run_id = req.ensure_run_id().clone();
        let config = RunConfig::from_trigger(&req);
        let basics = Basics {
            destination: req.url().as_str(),
            method: "POST",
            body: req.body(),
            retries: req.retries(),
            delay: req.delay(),
            not_before: req.not_before(),
            timeout: None,
        };
        let run = self
            .prepare_run(tenant, &run_id, &basics, &config, now)
            .await?;
        Ok((run_id, run))
    }

    /// A run and its first delivery, checked (limits, destination policy) and ready to store.
    pub(super) async fn prepare_run(
        &self,
        tenant: &str,
        run_id: &RunId,
        basics: &Basics<'_>,
        config: &RunConfig,
        now: Millis,
    ) -> Result<RunToCreate> {
        let first = self.base_message(tenant, basics, now)?;
        let (run, first) = workflow::trigger_run(
            tenant,
            run_id.as_str(),
            basics.destination,
            basics.body,
            config,
            first,
            now,
        );
        self.check_destinations(&first).await?;
        Ok(RunToCreate {
            run,
            steps: Vec::new(),
            first,
        })
    }

    /// Stores prepared runs in one transaction, all or nothing: `(run id, created at, whether
    /// it is new)` of each, in order. A run id used before (a client's retry) answers the run
    /// it already started.
    pub(super) async fn commit_runs(
        &self,
        runs: Vec<(RunId, RunToCreate)>,
        now: Millis,
    ) -> Result<Vec<(RunId, Millis, bool)>> {
        let (ids, runs): (Vec<RunId>, Vec<RunToCreate>) = runs.into_iter().unzip();
        let out = self.store_batch(runs, Vec::new(), now).await?;
        Ok(ids
            .into_iter()
            .zip(out.runs)
            .map(|(id, o)| match o {
                CreateRunOutcome::Created => (id, now, true),
                CreateRunOutcome::Exists(existing) => (id, existing.run.created_at, false),
            })
            .collect())
    }

    /// Stores one prepared run: `(run id, created at, whether it is new)`.
    pub(super) async fn commit_run(
        &self,
        run_id: RunId,
        run: RunToCreate,
        now: Millis,
    ) -> Result<(RunId, Millis, bool)> {
        match self.store_run(run.run, run.steps, run.first, now).await? {
            CreateRunOutcome::Created => Ok((run_id, now, true)),
            CreateRunOutcome::Exists(existing) => Ok((run_id, existing.run.created_at, false)),
        }
    }
}

/// A run as the logs show it, with its steps (`stepName`, `stepType`, `out`, `state`).
///
/// The plan steps of parallel steps (`stepId` 0 after the initial payload) are the SDK's
/// bookkeeping and are not shown; results of steps that ran in parallel (`concurrent` > 1) are
/// grouped as `{"type": "parallel", "steps": [...]}`. A `Wait` step shows its event's data as
/// `out` (decoded) and its timeout as `waitTimeoutDuration`.
fn run_log(run: &StoredRun, steps: &[qstash_store::RunStep]) -> Result<RunLog> {
    let mut groups: Vec<Value> = Vec::with_capacity(steps.len());
    // How many more results the open parallel group takes.
    let mut parallel_left = 0u64;
    for step in steps {
        let mut entry = if step.seq == 0 {
            json!({
                "stepId": 0,
                "stepName": "init",
                "stepType": "Initial",
                "out": String::from_utf8_lossy(&step.body),
            })
        } else {
            serde_json::from_slice::<Value>(&step.body)
                .unwrap_or_else(|_| json!({"out": String::from_utf8_lossy(&step.body)}))
        };
        if step.seq > 0 && entry["stepId"] == 0 && entry.get("targetStep").is_some() {
            continue;
        }
        if let Value::Object(map) = &mut entry {
            if map.get("stepType").and_then(Value::as_str) == Some("Wait") {
                if let Some(t) = map.remove("timeout") {
                    map.insert("waitTimeoutDuration".into(), t);
                }
                let decoded = map
                    .get("out")
                    .and_then(Value::as_str)
                    .and_then(|o| STANDARD.decode(o).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                if let Some(d) = decoded {
                    map.insert("out".into(), Value::String(d));
                }
            }
            map.insert("messageId".into(), Value::String(step.message_id.clone()));
            map.insert("state".into(), Value::String("STEP_SUCCESS".into()));
            map.insert("createdAt".into(), Value::from(step.created_at));
        }
        let concurrent = entry["concurrent"].as_u64().unwrap_or(1);
        if concurrent > 1 && parallel_left > 0 {
            if let Some(Value::Array(group)) = groups.last_mut().and_then(|g| g.get_mut("steps")) {
                group.push(entry);
            }
            parallel_left -= 1;
        } else if concurrent > 1 {
            groups.push(json!({"type": "parallel", "steps": [entry]}));
            parallel_left = concurrent - 1;
        } else {
            parallel_left = 0;
            groups.push(json!({"type": "sequential", "steps": [entry]}));
        }
    }
    let mut other = serde_json::Map::new();
    other.insert("steps".into(), Value::Array(groups));
    if let Some(resp) = &run.response {
        other.insert(
            "workflowRunResponse".into(),
            Value::String(String::from_utf8_lossy(resp).into_owned()),
        );
    }
    if let Some(reason) = &run.reason {
        other.insert("reason".into(), Value::String(reason.clone()));
    }
    if !run.run.labels.is_empty() {
        other.insert("labels".into(), json!(run.run.labels));
    }
    // A run started by `context.invoke` names the run that invoked it.
    if let Some(invoker) = RunConfig::decode(&run.run.config).invoker {
        other.insert(
            "invoker".into(),
            json!({
                "workflowRunId": invoker.run_id,
                "workflowUrl": invoker.url,
                "workflowRunCreatedAt": invoker.created_at,
            }),
        );
    }
    let run_id =
        RunId::new(run.run.run_id.clone()).map_err(|_| Error::Internal("corrupt run id".into()))?;
    let mut log = RunLog::new(run_id);
    log.workflow_url = Some(run.run.workflow_url.clone());
    log.workflow_state = Some(run.state.as_str().to_owned());
    log.workflow_run_created_at = Some(run.run.created_at);
    log.workflow_run_completed_at = run.ended_at;
    log.other = other;
    Ok(log)
}
