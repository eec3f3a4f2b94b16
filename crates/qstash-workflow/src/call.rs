//! `context.call`: the HTTP request the server makes for a step ([`CallRequest`]) and its
//! answer ([`CallResponse`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::{Executor, parse_payload};
use crate::error::{Error, ErrorKind};
use crate::wire::{FEATURES, OutgoingMessage, Step};

/// An HTTP request the QStash server makes on the workflow's behalf ([`Context::call`]).
///
/// ```
/// use std::time::Duration;
/// use qstash_workflow::CallRequest;
///
/// let request = CallRequest::post("https://example.com/receipts")
///     .json(&serde_json::json!({"total": 42}))
///     .header("x-tenant", "acme")
///     .retries(2)
///     .timeout(Duration::from_secs(10));
/// ```
///
/// [`Context::call`]: crate::Context::call
#[derive(Debug, Clone)]
#[must_use]
pub struct CallRequest {
    url: String,
    method: String,
    body: Option<String>,
    body_error: Option<String>,
    headers: Vec<(String, String)>,
    retries: u32,
    retry_delay: Option<String>,
    timeout: Option<Duration>,
    flow_control: Option<(String, String)>,
}

impl CallRequest {
    /// A request with `method` to `url`.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> CallRequest {
        CallRequest {
            url: url.into(),
            method: method.into().to_ascii_uppercase(),
            body: None,
            body_error: None,
            headers: Vec::new(),
            retries: 0,
            retry_delay: None,
            timeout: None,
            flow_control: None,
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> CallRequest {
        CallRequest::new("GET", url)
    }

    /// A `POST` to `url`.
    pub fn post(url: impl Into<String>) -> CallRequest {
        CallRequest::new("POST", url)
    }

    /// The body, as text.
    pub fn body(mut self, body: impl Into<String>) -> CallRequest {
        self.body = Some(body.into());
        self
    }

    /// The body as JSON, with `Content-Type: application/json`. A value that does not
    /// serialize makes the step fail with [`ErrorKind::Serde`].
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> CallRequest {
        match serde_json::to_string(value) {
            Ok(body) => self.header("content-type", "application/json").body(body),
            Err(e) => {
                self.body_error = Some(e.to_string());
                self
            }
        }
    }

    /// The body's serialization error, if any.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.body_error {
            Some(e) => Err(Error::new(
                ErrorKind::Serde,
                format!("the call's JSON body: {e}"),
            )),
            None => Ok(()),
        }
    }

    /// A header of the request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> CallRequest {
        let name = name.into().to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    /// How many times the server retries the request when it fails (default 0).
    pub fn retries(mut self, retries: u32) -> CallRequest {
        self.retries = retries;
        self
    }

    /// The retry delay expression (milliseconds).
    pub fn retry_delay(mut self, expr: impl Into<String>) -> CallRequest {
        self.retry_delay = Some(expr.into());
        self
    }

    /// How long the server waits for the answer (whole seconds).
    pub fn timeout(mut self, timeout: Duration) -> CallRequest {
        self.timeout = Some(timeout);
        self
    }

    /// Flow control of the request: key and value (`"rate=10, period=1s"`).
    pub fn flow_control(mut self, key: impl Into<String>, value: impl Into<String>) -> CallRequest {
        self.flow_control = Some((key.into(), value.into()));
        self
    }

    /// The message that asks the server to make this request and call the workflow back.
    pub(crate) fn message(&self, exec: &Executor, step: &Step) -> OutgoingMessage {
        let content_type = self
            .headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map_or("application/json", |(_, v)| v.as_str())
            .to_owned();
        let mut run_headers = exec.run.headers.clone();
        run_headers.init = false;
        run_headers.call = true;
        run_headers.failure_url = None;
        run_headers.run_id.clone_from(&exec.run.run_id);
        run_headers.url.clone_from(&exec.run.url);
        run_headers.content_type = Some(content_type.clone());
        let mut h = run_headers.build();
        let mut put = |k: &str, v: String| {
            h.insert(k.to_owned(), v);
        };
        put("upstash-retries", self.retries.to_string());
        if let Some(d) = &self.retry_delay {
            put("upstash-retry-delay", d.clone());
        }
        put("upstash-feature-set", "WF_NoDelete,InitialBody".into());
        if let Some((k, v)) = &self.flow_control {
            put("upstash-flow-control-key", k.clone());
            put("upstash-flow-control-value", v.clone());
        }
        if let Some(t) = self.timeout {
            put("upstash-timeout", t.as_secs().to_string());
        }
        for (k, v) in &self.headers {
            put(&format!("upstash-forward-{k}"), v.clone());
        }
        let url = &exec.run.url;
        put("upstash-callback", url.clone());
        put("upstash-callback-workflow-runid", exec.run.run_id.clone());
        put("upstash-callback-workflow-calltype", "fromCallback".into());
        put("upstash-callback-workflow-init", "false".into());
        put("upstash-callback-workflow-url", url.clone());
        put("upstash-callback-feature-set", FEATURES.into());
        put(
            "upstash-callback-forward-upstash-workflow-callback",
            "true".into(),
        );
        put(
            "upstash-callback-forward-upstash-workflow-stepid",
            step.step_id.to_string(),
        );
        put(
            "upstash-callback-forward-upstash-workflow-stepname",
            step.step_name.clone(),
        );
        put(
            "upstash-callback-forward-upstash-workflow-steptype",
            "Call".into(),
        );
        put(
            "upstash-callback-forward-upstash-workflow-concurrent",
            step.concurrent.to_string(),
        );
        put(
            "upstash-callback-forward-upstash-workflow-contenttype",
            content_type,
        );
        put("upstash-workflow-calltype", "toCallback".into());
        put("upstash-method", self.method.clone());
        OutgoingMessage {
            destination: self.url.clone(),
            headers: h,
            body: self.body.clone(),
        }
    }
}

/// The answer to a [`CallRequest`], as the server recorded it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The body, as text.
    pub body: String,
}

impl CallResponse {
    /// The body as `T` (JSON).
    ///
    /// # Errors
    /// [`ErrorKind::Serde`] when the body is not a `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        parse_payload(self.body.as_bytes())
    }

    /// The output text of a `Call` step: `{"status", "body", "header"}`, where `body` is the
    /// response body with each byte as one character (as the official SDK records it).
    pub(crate) fn output_text(status: u16, header: &Value, body: &[u8]) -> String {
        let body: String = body.iter().map(|&b| char::from(b)).collect();
        serde_json::json!({"status": status, "body": body, "header": header}).to_string()
    }

    pub(crate) fn from_step(step: &Step) -> Result<CallResponse, Error> {
        let out = match &step.out {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "a Call step without its output",
                ));
            }
        };
        // Characters up to U+00FF are the response body's bytes: restore them as UTF-8.
        let restored: Option<Vec<u8>> = if out.chars().all(|c| (c as u32) < 0x100) {
            Some(out.chars().map(|c| c as u32 as u8).collect())
        } else {
            None
        };
        let text = restored
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or(out);
        let v: Value = serde_json::from_str(&text)?;
        let status = v["status"].as_u64().unwrap_or(0) as u16;
        let headers = v["header"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        let values = match v {
                            Value::Array(a) => a
                                .iter()
                                .map(|x| x.as_str().unwrap_or_default().to_owned())
                                .collect(),
                            Value::String(s) => vec![s.clone()],
                            _ => Vec::new(),
                        };
                        (k.to_ascii_lowercase(), values)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = match &v["body"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        Ok(CallResponse {
            status,
            headers,
            body,
        })
    }
}
