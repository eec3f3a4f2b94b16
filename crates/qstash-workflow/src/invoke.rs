//! `context.invoke`: starting another workflow's run and waiting for its end
//! ([`InvokeRequest`], [`Invoked`]).
//!
//! As `@upstash/workflow` 1.3 does, the step publishes the invoked workflow's Init message
//! (`POST /v2/publish/{url}` with `Upstash-Workflow-Invoke: true`) whose body carries the
//! invoked run's payload and this run's step; the server starts the invoked run and, when it
//! ends, records this run's `Invoke` step with `{"body", "isFailed", "isCanceled"}`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::{Executor, parse_payload};
use crate::error::{Error, ErrorKind};
use crate::wire::{RunHeaders, Step};

/// Which workflow a [`InvokeRequest`] starts.
#[derive(Debug, Clone)]
enum Target {
    /// A sibling route: the last path segment of this workflow's URL replaced.
    Workflow(String),
    /// An absolute URL.
    Url(String),
}

/// A run of another workflow, started by [`Context::invoke`](crate::Context::invoke).
///
/// ```
/// use qstash_workflow::InvokeRequest;
///
/// // The workflow served at the same path as this one, with `summarise` as its last segment.
/// let request = InvokeRequest::workflow("summarise")
///     .json(&serde_json::json!({"doc": 7}))
///     .header("x-tenant", "acme")
///     .retries(2);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct InvokeRequest {
    target: Target,
    body: Option<String>,
    body_error: Option<String>,
    headers: Vec<(String, String)>,
    run_id: Option<String>,
    retries: Option<u32>,
    retry_delay: Option<String>,
    flow_control: Option<(String, String)>,
    label: Option<String>,
}

impl InvokeRequest {
    fn new(target: Target) -> InvokeRequest {
        InvokeRequest {
            target,
            body: None,
            body_error: None,
            headers: Vec::new(),
            run_id: None,
            retries: None,
            retry_delay: None,
            flow_control: None,
            label: None,
        }
    }

    /// The workflow `id` served beside this one: this workflow's URL with its last path
    /// segment replaced by `id` (as the official SDK's `serveMany` routes are invoked).
    pub fn workflow(id: impl Into<String>) -> InvokeRequest {
        InvokeRequest::new(Target::Workflow(id.into()))
    }

    /// The workflow served at `url`.
    pub fn url(url: impl Into<String>) -> InvokeRequest {
        InvokeRequest::new(Target::Url(url.into()))
    }

    /// The invoked run's payload, as text.
    pub fn body(mut self, body: impl Into<String>) -> InvokeRequest {
        self.body = Some(body.into());
        self
    }

    /// The invoked run's payload as JSON (a JSON string is sent as its text, as the official
    /// SDK does). A value that does not serialize makes the step fail with
    /// [`ErrorKind::Serde`].
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> InvokeRequest {
        match serde_json::to_value(value) {
            Ok(Value::String(s)) => self.body = Some(s),
            Ok(v) => self.body = Some(v.to_string()),
            Err(e) => self.body_error = Some(e.to_string()),
        }
        self
    }

    /// A header the invoked run's deliveries carry.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> InvokeRequest {
        let name = name.into().to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    /// The invoked run's id (`wfr_` is put before it); a random one by default.
    pub fn run_id(mut self, id: impl Into<String>) -> InvokeRequest {
        self.run_id = Some(id.into());
        self
    }

    /// Retries of the invoked run's messages (default 3).
    pub fn retries(mut self, retries: u32) -> InvokeRequest {
        self.retries = Some(retries);
        self
    }

    /// The retry delay expression of the invoked run's messages.
    pub fn retry_delay(mut self, expr: impl Into<String>) -> InvokeRequest {
        self.retry_delay = Some(expr.into());
        self
    }

    /// Flow control of the invoked run: key and value (`"parallelism=2"`).
    pub fn flow_control(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> InvokeRequest {
        self.flow_control = Some((key.into(), value.into()));
        self
    }

    /// The invoked run's label.
    pub fn label(mut self, label: impl Into<String>) -> InvokeRequest {
        self.label = Some(label.into());
        self
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.body_error {
            Some(e) => Err(Error::new(
                ErrorKind::Serde,
                format!("the invoke's JSON body: {e}"),
            )),
            None => Ok(()),
        }
    }

    /// The invoked workflow's URL, from this workflow's `url`.
    pub(crate) fn target_url(&self, url: &str) -> String {
        match &self.target {
            Target::Url(u) => u.clone(),
            Target::Workflow(id) => match url.rfind('/') {
                Some(i) if i + 1 < url.len() => format!("{}{id}", &url[..=i]),
                _ => url.to_owned(),
            },
        }
    }

    /// The request that starts the invoked run: `(url, headers, body)` of a
    /// `POST /v2/publish/{url}`.
    pub(crate) fn publish(
        &self,
        exec: &Executor,
        step: &Step,
    ) -> Result<(String, BTreeMap<String, String>, String), Error> {
        let run = &exec.run;
        let url = self.target_url(&run.url);
        let run_id = format!(
            "wfr_{}",
            self.run_id.clone().unwrap_or_else(crate::serve::random_id)
        );
        let content_type = self
            .headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.clone());
        let trigger = RunHeaders {
            init: true,
            run_id: run_id.clone(),
            url: url.clone(),
            retries: self.retries,
            retry_delay: self.retry_delay.clone(),
            flow_control: self.flow_control.clone(),
            failure_url: Some(url.clone()),
            user_headers: self.headers.clone(),
            content_type,
            call: false,
            invoke_count: run.headers.invoke_count + 1,
        };
        let mut headers = trigger.build();
        headers.insert("upstash-workflow-invoke".into(), "true".into());
        if let Some(label) = &self.label {
            headers.insert("upstash-label".into(), label.clone());
            headers.insert("upstash-forward-upstash-label".into(), label.clone());
        }
        headers.insert("upstash-method".into(), "POST".into());
        let invoker = RunHeaders {
            init: false,
            run_id: run.run_id.clone(),
            url: run.url.clone(),
            invoke_count: run.headers.invoke_count,
            ..RunHeaders::default()
        };
        let mut invoker_headers: BTreeMap<String, Vec<String>> = invoker
            .build()
            .into_iter()
            .map(|(k, v)| (k, vec![v]))
            .collect();
        invoker_headers.insert("upstash-workflow-runid".into(), vec![run.run_id.clone()]);
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            body: Option<&'a str>,
            headers: BTreeMap<String, Vec<String>>,
            workflow_run_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            workflow_run_created_at: Option<u64>,
            workflow_url: &'a str,
            step: &'a Step,
        }
        let body = serde_json::to_string(&Body {
            body: self.body.as_deref(),
            headers: invoker_headers,
            workflow_run_id: &run.run_id,
            workflow_run_created_at: run.created_at,
            workflow_url: &run.url,
            step,
        })?;
        Ok((url, headers, body))
    }
}

/// How an invoked run ended: its return value (`None` when it failed or was cancelled).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Invoked<T> {
    /// The invoked workflow's return value.
    pub body: Option<T>,
    /// The invoked run failed.
    pub is_failed: bool,
    /// The invoked run was cancelled.
    pub is_canceled: bool,
}

impl<T: DeserializeOwned> Invoked<T> {
    /// The memoised output of an `Invoke` step.
    pub(crate) fn from_step(step: &Step) -> Result<Invoked<T>, Error> {
        let Some(Value::String(out)) = &step.out else {
            return Err(Error::new(
                ErrorKind::Protocol,
                "an Invoke step without its output",
            ));
        };
        let v: Value = serde_json::from_str(out)?;
        let body = match &v["body"] {
            Value::Null => None,
            Value::String(s) => Some(parse_payload::<T>(s.as_bytes())?),
            other => Some(T::deserialize(other.clone())?),
        };
        Ok(Invoked {
            body,
            is_failed: v["isFailed"].as_bool().unwrap_or(false),
            is_canceled: v["isCanceled"].as_bool().unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_url_replaces_the_last_segment() {
        let r = InvokeRequest::workflow("b");
        assert_eq!(r.target_url("http://h/api/a"), "http://h/api/b");
        assert_eq!(
            InvokeRequest::url("http://x/y").target_url("http://h/a"),
            "http://x/y"
        );
    }

    #[test]
    fn output_parses_body_and_flags() {
        let step = Step {
            out: Some(Value::String(
                r#"{"body":"{\"n\":2}","isFailed":false,"isCanceled":false}"#.into(),
            )),
            ..Step::default()
        };
        let got: Invoked<Value> = Invoked::from_step(&step).unwrap();
        assert_eq!(got.body, Some(serde_json::json!({"n": 2})));
        let failed = Step {
            out: Some(Value::String(
                r#"{"isFailed":true,"isCanceled":false}"#.into(),
            )),
            ..Step::default()
        };
        let got: Invoked<Value> = Invoked::from_step(&failed).unwrap();
        assert!(got.is_failed && got.body.is_none());
    }
}
