//! From an attempt's result to the store transition: delivered, retried (when, and why), or
//! failed for good with its dead letter; plus the callbacks the attempt causes.

use std::time::Duration;

use qstash_protocol::{CallbackBody, HeaderLists};
use qstash_retry_delay::RetryDelay;
use qstash_store::{
    AttemptResponse, Claimed, EndRun, EventDetail, Finish, Millis, NewDlq, NewMessage, RunState,
    StoredMessage, Transition,
};

use super::deliver::Attempt;
use super::envelope::{Envelope, Kind, WorkflowRole};
use crate::config::DeliveryConfig;
use crate::ids::{dlq_id, message_id};

/// The store transition for one finished attempt.
pub(crate) fn finish(
    claimed: &Claimed,
    envelope: &Envelope,
    attempt: Attempt,
    now: Millis,
    config: &DeliveryConfig,
    run_initial_body: Option<&[u8]>,
) -> Finish {
    let stored = &claimed.message;
    let msg = &stored.message;
    let delivered = attempt.delivered();
    let last = stored.retried >= msg.max_retries;
    let (transition, event) = if delivered {
        (
            Transition::Delivered,
            EventDetail {
                state: "DELIVERED".into(),
                response_status: attempt.response.status,
                ..EventDetail::default()
            },
        )
    } else if attempt.non_retryable() || last {
        (
            Transition::Failed,
            EventDetail {
                state: "FAILED".into(),
                response_status: attempt.response.status,
                error: Some(failure_text(&attempt)),
                ..EventDetail::default()
            },
        )
    } else {
        let wait = retry_wait(&attempt, envelope, stored.retried);
        let at = now.saturating_add(wait.as_millis() as u64);
        (
            Transition::Retry { at },
            EventDetail {
                state: "RETRY".into(),
                response_status: attempt.response.status,
                error: Some(failure_text(&attempt)),
                next_delivery_time: Some(at),
            },
        )
    };

    let mut spawn = Vec::new();
    let mut dlq = None;
    if envelope.kind == Kind::Message {
        if let Some(url) = &envelope.callback {
            let body = callback_body(stored, envelope, &attempt.response, None, None);
            spawn.push(callback_message(
                msg,
                envelope,
                url,
                &envelope.callback_forward,
                body,
                Kind::Callback,
                None,
                now,
                config,
            ));
        }
        if transition == Transition::Failed {
            let id = dlq_id();
            if let Some(url) = &envelope.failure_callback {
                let body = callback_body(
                    stored,
                    envelope,
                    &attempt.response,
                    Some(&id),
                    run_initial_body,
                );
                spawn.push(callback_message(
                    msg,
                    envelope,
                    url,
                    &envelope.failure_callback_forward,
                    body,
                    Kind::FailureCallback,
                    Some(id.clone()),
                    now,
                    config,
                ));
            }
            dlq = Some(NewDlq {
                dlq_id: id,
                created_at: now,
                response: attempt.response.clone(),
                failure_callback: envelope.failure_callback.clone(),
            });
        }
    }
    let dlq_callback_state = match (&envelope.kind, &envelope.dlq_id, &transition) {
        (Kind::FailureCallback, Some(id), Transition::Delivered) => {
            Some((id.clone(), "CALLBACK_SUCCESS".to_owned()))
        }
        (Kind::FailureCallback, Some(id), Transition::Failed) => {
            Some((id.clone(), "CALLBACK_FAIL".to_owned()))
        }
        _ => None,
    };
    let end_run = envelope.workflow.as_ref().and_then(|wf| {
        if transition == Transition::Failed {
            return Some((
                wf.run_id.clone(),
                EndRun {
                    state: RunState::Failed,
                    response: None,
                    reason: Some(format!(
                        "a message of the run failed for good: {}",
                        failure_text(&attempt)
                    )),
                },
            ));
        }
        let answered_as_workflow = attempt.response.headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("upstash-workflow-sdk-version")
        });
        (wf.role == WorkflowRole::Trigger
            && transition == Transition::Delivered
            && !answered_as_workflow)
            .then(|| {
                (
                    wf.run_id.clone(),
                    EndRun {
                        state: RunState::Failed,
                        response: None,
                        reason: Some(
                            "the destination answered without Upstash-Workflow-Sdk-Version: it is not a workflow endpoint"
                                .into(),
                        ),
                    },
                )
            })
    });
    Finish {
        end_run,
        tenant: msg.tenant.clone(),
        message_id: msg.id.clone(),
        claim: claimed.claim,
        now,
        transition,
        response: Some(attempt.response),
        event,
        spawn,
        dlq,
        dlq_callback_state,
    }
}

/// The wait before the next attempt: `Retry-After`, else the message's retry-delay program,
/// else the default backoff.
fn retry_wait(attempt: &Attempt, envelope: &Envelope, retried: u32) -> Duration {
    if let Some(wait) = attempt.retry_after {
        return wait;
    }
    let program = envelope
        .retry_delay
        .as_deref()
        .and_then(|src| RetryDelay::compile(src).ok())
        .unwrap_or_else(RetryDelay::default_backoff);
    // NaN (the only evaluation error) falls back to the default backoff.
    program
        .delay(retried)
        .or_else(|_| RetryDelay::default_backoff().delay(retried))
        .unwrap_or(RetryDelay::DEFAULT_CAP)
}

fn failure_text(attempt: &Attempt) -> String {
    match (&attempt.error, attempt.response.status) {
        (Some(e), _) => e.clone(),
        (None, Some(s)) => format!("the destination answered {s}"),
        (None, None) => "no response".to_owned(),
    }
}

/// Header pairs as the callback body shows them: each name with its values in order.
pub(crate) fn header_lists(headers: &[(String, String)]) -> HeaderLists {
    let mut out = HeaderLists::new();
    for (name, value) in headers {
        out.entry(name.clone()).or_default().push(value.clone());
    }
    out
}

/// The body of a callback or failure callback (SERVER.md §6).
fn callback_body(
    stored: &StoredMessage,
    envelope: &Envelope,
    response: &AttemptResponse,
    dlq_id: Option<&str>,
    run_initial_body: Option<&[u8]>,
) -> Vec<u8> {
    let msg = &stored.message;
    let mut body = CallbackBody::default();
    body.status = response.status.unwrap_or(0);
    body.header = header_lists(&response.headers);
    body.set_body(&response.body);
    body.retried = stored.retried;
    body.max_retries = msg.max_retries;
    body.source_message_id = msg.id.clone();
    body.url = msg.destination.clone();
    body.method = msg.method.clone();
    body.source_header = header_lists(&msg.headers);
    body.set_source_body(&msg.body);
    body.created_at = msg.created_at;
    body.not_before = envelope.not_before;
    body.dlq_id = dlq_id.map(str::to_owned);
    if let Some(wf) = &envelope.workflow {
        body.workflow_run_id = Some(wf.run_id.clone());
        body.workflow_created_at = Some(wf.created_at);
        if let Some(initial) = run_initial_body {
            body.set_source_body(initial);
        }
    }
    // Plain strings, numbers and maps always serialise.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A callback as a message of its own: signed, retried like its source.
#[allow(clippy::too_many_arguments)]
fn callback_message(
    source: &NewMessage,
    envelope: &Envelope,
    url: &str,
    forward: &[(String, String)],
    body: Vec<u8>,
    kind: Kind,
    dlq_id: Option<String>,
    now: Millis,
    config: &DeliveryConfig,
) -> NewMessage {
    let cb_envelope = Envelope {
        kind,
        dlq_id,
        forward: forward.to_vec(),
        content_type: Some("application/json".into()),
        timeout_ms: envelope.timeout_ms,
        retry_delay: envelope.retry_delay.clone(),
        ..Envelope::default()
    };
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    headers.extend(
        forward
            .iter()
            .map(|(n, v)| (format!("Upstash-Forward-{n}"), v.clone())),
    );
    let timeout = envelope
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(config.timeout);
    NewMessage {
        id: message_id(),
        tenant: source.tenant.clone(),
        destination: url.to_owned(),
        method: "POST".into(),
        headers,
        body,
        created_at: now,
        due_at: now,
        max_retries: source.max_retries,
        lease_ms: (timeout + config.lease_grace).as_millis() as u64,
        labels: source.labels.clone(),
        dedup: None,
        flow_key: None,
        flow_limits: None,
        extra: cb_envelope.encode(),
        // Not linked to the run: ending the run (which a failure does) must not cancel it.
        run: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use qstash_store::{MessageState, NewMessage};
    use serde_json::Value;

    fn claimed(retried: u32, max_retries: u32) -> Claimed {
        let message = NewMessage {
            id: "msg_1".into(),
            tenant: "t".into(),
            destination: "http://127.0.0.1:1/x".into(),
            method: "POST".into(),
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"hi".to_vec(),
            created_at: 1,
            due_at: 1,
            max_retries,
            lease_ms: 60_000,
            labels: vec![],
            dedup: None,
            flow_key: None,
            flow_limits: None,
            extra: Vec::new(),
            run: None,
        };
        Claimed {
            message: StoredMessage {
                message,
                state: MessageState::Pending,
                retried,
                due_at: 1,
                claim: 1,
                last_response: None,
            },
            claim: 1,
            lease_until: 60_001,
        }
    }

    fn status(s: u16, headers: &[(&str, &str)]) -> Attempt {
        Attempt {
            response: AttemptResponse {
                status: Some(s),
                headers: headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
                body: b"oops".to_vec(),
            },
            retry_after: None,
            error: None,
            refused: false,
        }
    }

    #[test]
    fn transitions() {
        let cfg = DeliveryConfig::default();
        let env = Envelope::default();
        let f = finish(&claimed(0, 3), &env, status(200, &[]), 1000, &cfg, None);
        assert_eq!(f.transition, Transition::Delivered);
        assert!(f.dlq.is_none());

        let f = finish(&claimed(0, 3), &env, status(500, &[]), 1000, &cfg, None);
        // default backoff: exp(2.5) s = 12.18 s
        assert_eq!(f.transition, Transition::Retry { at: 1000 + 12_182 });

        let f = finish(&claimed(3, 3), &env, status(500, &[]), 1000, &cfg, None);
        assert_eq!(f.transition, Transition::Failed);
        assert!(f.dlq.is_some());

        let f = finish(
            &claimed(0, 3),
            &env,
            status(489, &[("Upstash-NonRetryable-Error", "true")]),
            1000,
            &cfg,
            None,
        );
        assert_eq!(f.transition, Transition::Failed);
        let f = finish(&claimed(0, 3), &env, status(489, &[]), 1000, &cfg, None);
        assert!(matches!(f.transition, Transition::Retry { .. }));
    }

    #[test]
    fn retry_wait_order() {
        let env = Envelope {
            retry_delay: Some("1000 * (retried + 1)".into()),
            ..Envelope::default()
        };
        let mut a = status(500, &[]);
        assert_eq!(retry_wait(&a, &env, 2), Duration::from_secs(3));
        a.retry_after = Some(Duration::from_secs(7));
        assert_eq!(retry_wait(&a, &env, 2), Duration::from_secs(7));
    }

    #[test]
    fn failure_callback_and_dlq() {
        let cfg = DeliveryConfig::default();
        let env = Envelope {
            callback: Some("http://127.0.0.1:1/cb".into()),
            failure_callback: Some("http://127.0.0.1:1/fail".into()),
            failure_callback_forward: vec![("X-Src".into(), "a".into())],
            ..Envelope::default()
        };
        let f = finish(&claimed(1, 1), &env, status(500, &[]), 1000, &cfg, None);
        assert_eq!(f.spawn.len(), 2);
        let dlq = f.dlq.as_ref().expect("dead letter");
        let fc = &f.spawn[1];
        assert_eq!(fc.destination, "http://127.0.0.1:1/fail");
        let body: Value = serde_json::from_slice(&fc.body).expect("json");
        assert_eq!(body["dlqId"], dlq.dlq_id.as_str());
        assert_eq!(body["status"], 500);
        assert_eq!(body["retried"], 1);
        assert_eq!(body["sourceMessageId"], "msg_1");
        assert_eq!(body["sourceBody"], STANDARD.encode("hi"));
        let cb: Value = serde_json::from_slice(&f.spawn[0].body).expect("json");
        assert!(cb.get("dlqId").is_none());
        let e = Envelope::decode(&fc.extra);
        assert_eq!(e.kind, Kind::FailureCallback);
        assert_eq!(e.forward, vec![("X-Src".to_owned(), "a".to_owned())]);
    }
}
