//! Dead letters: listing, reading and deleting them, retrying a message's dead letter, and
//! restarting or resuming the workflow run of a run's dead letter.

use qstash_protocol::{
    CallbackState, DlqListResponse, DlqMessage, DlqQuery, DlqRetryOverrides, FailureCallbackInfo,
    ListFilter, RunAgainOverrides, RunId,
};
use qstash_store::{DlqEntry, DlqFilter, Millis, NewRun, RunLink, RunToCreate};

use super::accept::Basics;
use super::reads::{flow_fields, forwarded_headers};
use super::{Error, Result, Service, page_size, parse_cursor};
use crate::engine::envelope::{Envelope, WorkflowInfo, WorkflowRole};
use crate::engine::outcome::header_lists;
use crate::engine::steps::steps_body;
use crate::ids::message_id;
use crate::workflow::RunConfig;

/// How a dead letter of a run runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Again {
    /// A new run from the start, with the same initial payload and configuration.
    Restart,
    /// A new run that keeps the failed run's completed steps and goes on from the failed one.
    Resume,
}

/// Applies what a restart or resume overrides to the failed run's configuration. A new
/// flow-control key keeps the run's limits (the value sent beside it is checked, not applied).
fn apply_overrides(o: &RunAgainOverrides, config: &mut RunConfig) {
    if let Some(d) = &o.retry_delay {
        config.retry_delay = Some(d.as_str().to_owned());
    }
    if let Some(l) = &o.label {
        config.labels = vec![l.as_str().to_owned()];
    }
    if let Some(r) = o.retries {
        config.retries = Some(r);
    }
    if let Some(k) = &o.flow_control_key {
        config.flow_key = Some(k.as_str().to_owned());
    }
}

impl Service {
    /// A page of the tenant's dead letters; with `workflow`, only those of workflow runs.
    pub(crate) async fn list_dlq(
        &self,
        tenant: &str,
        q: &DlqQuery,
        workflow: Option<bool>,
    ) -> Result<DlqListResponse> {
        let filter = dlq_filter(&q.filter, workflow);
        let page = self
            .engine()
            .store
            .list_dlq(
                tenant,
                &filter,
                parse_cursor(q.cursor.as_deref())?,
                page_size(q.count),
            )
            .await?;
        Ok(DlqListResponse::new(
            page.items.iter().map(dlq_view).collect(),
            page.next.map(|c| c.to_string()),
        ))
    }

    /// One dead letter of the tenant, as the API shows it.
    pub(crate) async fn get_dlq(&self, tenant: &str, id: &str) -> Result<DlqMessage> {
        Ok(dlq_view(&self.find_dlq(tenant, id).await?))
    }

    /// Deletes one dead letter.
    pub(crate) async fn delete_dlq(&self, tenant: &str, id: String) -> Result<()> {
        match self.engine().store.delete_dlq(tenant, &[id]).await? {
            0 => Err(Error::not_found("dead letter")),
            _ => Ok(()),
        }
    }

    /// The dead letters a bulk DLQ action (delete, retry) selects, and the cursor of the rest:
    /// the ids given (each must exist), or one page of those matching the filters. A query
    /// with neither ids, filters nor `count` (the SDKs' `{all: true}` sends it) selects
    /// nothing and is refused.
    async fn select_dlq(
        &self,
        tenant: &str,
        q: &DlqQuery,
        workflow: Option<bool>,
    ) -> Result<(Vec<DlqEntry>, Option<String>)> {
        let f = &q.filter;
        if only_ids(f) {
            let mut entries = Vec::with_capacity(f.dlq_ids.len());
            for id in &f.dlq_ids {
                entries.push(
                    self.find_dlq(tenant, id)
                        .await
                        .map_err(|e| e.prefixed(&format!("{id}: ")))?,
                );
            }
            return Ok((entries, None));
        }
        if f.is_empty() && q.count.is_none() && q.cursor.is_none() {
            return Err(Error::invalid(
                "name the dead letters (dlqIds), give a filter, or pass count to act on all",
            ));
        }
        let page = self
            .engine()
            .store
            .list_dlq(
                tenant,
                &dlq_filter(f, workflow),
                parse_cursor(q.cursor.as_deref())?,
                page_size(q.count),
            )
            .await?;
        Ok((page.items, page.next.map(|c| c.to_string())))
    }

    /// Deletes the dead letters a bulk query selects: `(deleted, cursor of the rest)`.
    pub(crate) async fn delete_dlq_selected(
        &self,
        tenant: &str,
        q: &DlqQuery,
        workflow: Option<bool>,
    ) -> Result<(u64, Option<String>)> {
        // Ids that are unknown or another tenant's are skipped (`{"deleted": 0}`).
        if only_ids(&q.filter) {
            let deleted = self
                .engine()
                .store
                .delete_dlq(tenant, &q.filter.dlq_ids)
                .await?;
            return Ok((deleted, None));
        }
        let (entries, cursor) = self.select_dlq(tenant, q, workflow).await?;
        let ids: Vec<String> = entries.into_iter().map(|e| e.dlq_id).collect();
        Ok((self.engine().store.delete_dlq(tenant, &ids).await?, cursor))
    }

    /// Retries the dead letters a bulk query selects, all or none: a new message with each
    /// one's request (and the overrides), and the dead letter removed. Returns the new ids, in
    /// order, and the cursor of the rest.
    pub(crate) async fn retry_dlq_selected(
        &self,
        tenant: &str,
        q: &DlqQuery,
        overrides: &DlqRetryOverrides,
        now: Millis,
    ) -> Result<(Vec<String>, Option<String>)> {
        let (entries, cursor) = self.select_dlq(tenant, q, None).await?;
        Ok((
            self.retry_entries(tenant, entries, overrides, now).await?,
            cursor,
        ))
    }

    /// Retries one dead letter (see [`retry_dlq_selected`](Self::retry_dlq_selected)).
    pub(crate) async fn retry_dlq(
        &self,
        tenant: &str,
        id: &str,
        overrides: &DlqRetryOverrides,
        now: Millis,
    ) -> Result<String> {
        let entry = self.find_dlq(tenant, id).await?;
        let ids = self
            .retry_entries(tenant, vec![entry], overrides, now)
            .await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| Error::not_found("dead letter"))
    }

    async fn retry_entries(
        &self,
        tenant: &str,
        entries: Vec<DlqEntry>,
        overrides: &DlqRetryOverrides,
        now: Millis,
    ) -> Result<Vec<String>> {
        let limits = *self.limits();
        let due_at = match overrides.delay {
            Some(delay) => {
                let d: std::time::Duration = delay.into();
                if d > limits.max_delay {
                    return Err(Error::invalid(format!(
                        "Upstash-Delay: {delay} is longer than the maximum of {:?}",
                        limits.max_delay
                    )));
                }
                now.saturating_add(d.as_millis() as u64)
            }
            None => now,
        };
        if let Some(r) = overrides.retries
            && r > limits.max_retries
        {
            return Err(Error::invalid(format!(
                "Upstash-Retries: {r} is more than the maximum of {}",
                limits.max_retries
            )));
        }
        let mut retries = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut message = entry.message.message;
            message.id = message_id();
            message.created_at = now;
            message.due_at = due_at;
            message.dedup = None;
            if let Some(r) = overrides.retries {
                message.max_retries = r;
            }
            self.check_destinations(&message).await?;
            retries.push((entry.dlq_id, message));
        }
        let ids: Vec<String> = retries.iter().map(|(_, m)| m.id.clone()).collect();
        self.store_dlq_retries(tenant, retries, now).await?;
        Ok(ids)
    }

    /// Runs a dead letter's workflow again: `(new run id, created at)`.
    pub(crate) async fn run_again(
        &self,
        tenant: &str,
        dlq_id: &str,
        how: Again,
        overrides: &RunAgainOverrides,
        now: Millis,
    ) -> Result<(RunId, Millis)> {
        let (run_id, run) = self
            .prepare_again(tenant, dlq_id, how, overrides, now)
            .await?;
        let (run_id, created_at, _) = self.commit_run(run_id, run, now).await?;
        Ok((run_id, created_at))
    }

    /// Runs the workflows of several dead letters again: every one is checked before anything
    /// is stored; then every new run is stored in one transaction, or none.
    pub(crate) async fn run_again_many(
        &self,
        tenant: &str,
        dlq_ids: &[String],
        how: Again,
        overrides: &RunAgainOverrides,
        now: Millis,
    ) -> Result<Vec<(RunId, Millis)>> {
        if dlq_ids.len() > 1 && overrides.run_id.is_some() {
            return Err(Error::invalid(
                "Upstash-Workflow-RunId names one run: give it with one dead letter only",
            ));
        }
        let mut prepared = Vec::with_capacity(dlq_ids.len());
        for id in dlq_ids {
            prepared.push(
                self.prepare_again(tenant, id, how, overrides, now)
                    .await
                    .map_err(|e| e.prefixed(&format!("{id}: ")))?,
            );
        }
        Ok(self
            .commit_runs(prepared, now)
            .await?
            .into_iter()
            .map(|(run_id, created_at, _)| (run_id, created_at))
            .collect())
    }

    /// One dead letter of the tenant, or not found.
    async fn find_dlq(&self, tenant: &str, id: &str) -> Result<DlqEntry> {
        self.engine()
            .store
            .get_dlq(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("dead letter"))
    }

    /// A new run of a dead letter's workflow, checked and ready to store: `(new run id, the
    /// run)`.
    async fn prepare_again(
        &self,
        tenant: &str,
        dlq_id: &str,
        how: Again,
        overrides: &RunAgainOverrides,
        now: Millis,
    ) -> Result<(RunId, RunToCreate)> {
        let store = &self.engine().store;
        let entry = self.find_dlq(tenant, dlq_id).await?;
        let failed = entry.message.message;
        let link = failed
            .run
            .clone()
            .ok_or_else(|| Error::invalid("this dead letter is not of a workflow run"))?;
        let run = store
            .get_run(tenant, &link.run_id)
            .await?
            .ok_or_else(|| Error::not_found("workflow run"))?;
        let mut config = RunConfig::decode(&run.run.config);
        apply_overrides(overrides, &mut config);
        // The completed steps: up to the failed step message, or all of them when the failed
        // message is not a step (a call, the trigger's delivery).
        let copied = match how {
            Again::Restart => Vec::new(),
            Again::Resume if link.step => {
                store
                    .run_steps(tenant, &link.run_id, Some(&failed.id))
                    .await?
            }
            Again::Resume => store.run_steps(tenant, &link.run_id, None).await?,
        };
        let basics = Basics {
            destination: &run.run.workflow_url,
            method: "POST",
            body: &run.run.initial_body,
            retries: config.retries,
            delay: None,
            not_before: None,
            timeout: None,
        };
        let run_id = overrides.run_id.clone().unwrap_or_else(RunId::generate);
        if copied.is_empty() {
            // Nothing completed: a resume is a restart.
            let run = self
                .prepare_run(tenant, &run_id, &basics, &config, now)
                .await?;
            return Ok((run_id, run));
        }
        let (mut first, mut envelope) = self.base_message(tenant, &basics, now)?;
        let old = Envelope::decode(&failed.extra);
        envelope.forward = old.forward.clone();
        envelope.content_type = old.content_type.clone();
        config.apply(
            &mut first,
            &mut envelope,
            run_id.as_str(),
            &run.run.workflow_url,
        );
        envelope.workflow = Some(WorkflowInfo {
            run_id: run_id.as_str().to_owned(),
            url: run.run.workflow_url.clone(),
            created_at: now,
            feature_set: old.workflow.as_ref().and_then(|w| w.feature_set.clone()),
            role: WorkflowRole::Step,
        });
        // Not a step itself: its delivery carries the copied steps as they are.
        first.body = steps_body(&copied);
        first.extra = envelope.encode();
        first.run = Some(RunLink {
            run_id: run_id.as_str().to_owned(),
            step: false,
        });
        let new_run = NewRun {
            tenant: tenant.to_owned(),
            run_id: run_id.as_str().to_owned(),
            workflow_url: run.run.workflow_url.clone(),
            created_at: now,
            initial_body: run.run.initial_body.clone(),
            labels: config.labels.clone(),
            config: config.encode(),
        };
        self.check_destinations(&first).await?;
        Ok((
            run_id,
            RunToCreate {
                run: new_run,
                steps: copied,
                first,
            },
        ))
    }
}

/// Whether a DLQ query names dead letters by id and has no other filter.
fn only_ids(f: &ListFilter) -> bool {
    !f.dlq_ids.is_empty() && {
        let mut rest = f.clone();
        rest.dlq_ids.clear();
        rest.is_empty()
    }
}

/// The store's filter of a DLQ query's filters.
pub(crate) fn dlq_filter(f: &ListFilter, workflow: Option<bool>) -> DlqFilter {
    DlqFilter {
        dlq_ids: f.dlq_ids.clone(),
        message_ids: f.message_ids.clone(),
        urls: f.urls.clone(),
        labels: f.labels.iter().map(|l| l.as_str().to_owned()).collect(),
        response_statuses: f.response_statuses.clone(),
        flow_keys: f.flow_control_keys.clone(),
        from: f.from_date,
        to: f.to_date,
        run_ids: f.workflow_run_ids.clone(),
        workflow_url: f.workflow_url.clone(),
        workflow_url_exact: f.workflow_url_exact_match,
        failure_callback_states: f
            .failure_callback_states
            .iter()
            .map(|s| match s {
                CallbackState::Success => "CALLBACK_SUCCESS".to_owned(),
                _ => "CALLBACK_FAIL".to_owned(),
            })
            .collect(),
        workflow,
    }
}

/// A dead letter as the API shows it.
fn dlq_view(entry: &DlqEntry) -> DlqMessage {
    let m = &entry.message.message;
    let envelope = Envelope::decode(&m.extra);
    let mut out = DlqMessage::new(
        entry.dlq_id.clone(),
        m.id.clone(),
        m.destination.clone(),
        entry.created_at,
    );
    out.method = Some(m.method.clone());
    out.header = forwarded_headers(&envelope);
    out.set_body(&m.body);
    out.max_retries = Some(m.max_retries);
    out.not_before = (envelope.not_before > 0).then_some(envelope.not_before);
    out.callback = envelope.callback;
    out.topic_name = envelope.topic_name;
    out.endpoint_name = envelope.endpoint_name;
    out.flow_control_key = m.flow_key.clone();
    (out.parallelism, out.rate, out.period) = flow_fields(m);
    out.failure_callback = entry.failure_callback.clone();
    out.set_labels(m.labels.iter().cloned());
    out.response_status = entry.response.status;
    out.response_header = header_lists(&entry.response.headers);
    out.set_response_body(&entry.response.body);
    out.failure_callback_state = match entry.failure_callback_state.as_deref() {
        Some("CALLBACK_SUCCESS") => Some(CallbackState::Success),
        Some("CALLBACK_FAIL") => Some(CallbackState::Fail),
        _ => None,
    };
    if let Some(wf) = &envelope.workflow {
        // A message of a workflow run: the run's fields, as upstream's workflow DLQ lists them.
        out.workflow_run_id = Some(wf.run_id.clone());
        out.workflow_url = Some(wf.url.clone());
        out.workflow_created_at = Some(wf.created_at);
        if out.failure_callback.is_some() {
            out.failure_callback_info = Some(FailureCallbackInfo::new(out.failure_callback_state));
        }
    } else if let Some(run) = &m.run {
        out.workflow_run_id = Some(run.run_id.clone());
    }
    out
}
