//! Dead letters: listing, reading and deleting them, retrying a message's dead letter, and
//! restarting or resuming the workflow run of a run's dead letter.

use qstash_protocol::{
    CallbackState, DlqDelete, DlqListResponse, DlqMessage, DlqQuery, FailureCallbackInfo,
    RunAgainOverrides, RunId,
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
        let filter = DlqFilter {
            url: q.url.clone(),
            label: q.label.as_ref().map(|l| l.as_str().to_owned()),
            response_status: q.response_status,
            workflow,
        };
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

    /// Deletes the dead letters `q` names; returns how many it deleted.
    pub(crate) async fn delete_dlq_many(&self, tenant: &str, q: &DlqDelete) -> Result<u64> {
        Ok(self.engine().store.delete_dlq(tenant, q.dlq_ids()).await?)
    }

    /// A new message with the dead letter's request, due now; returns its id.
    pub(crate) async fn retry_dlq(&self, tenant: &str, id: &str, now: Millis) -> Result<String> {
        let entry = self.find_dlq(tenant, id).await?;
        let mut message = entry.message.message;
        message.id = message_id();
        message.created_at = now;
        message.due_at = now;
        message.dedup = None;
        let new_id = message.id.clone();
        self.check_destinations(&message).await?;
        self.store_messages(vec![message], now).await?;
        Ok(new_id)
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
