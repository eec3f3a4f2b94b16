//! The QStash server's API as the endpoint uses it: `POST /v2/batch`, `POST /v2/wait`,
//! `POST /v2/publish`, `GET` and `DELETE /v2/workflows/runs/{id}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::StatusCode;
use serde_json::Value;

use crate::context::Outgoing;
use crate::error::{Error, ErrorKind};
use crate::options::Options;
use crate::wire::{OutgoingMessage, RawStep};

/// What an API call's answer means to the endpoint.
pub(crate) enum Answer<T> {
    Ok(T),
    /// 400: the run has ended (cancelled or finished).
    RunEnded,
}

pub(crate) struct Api {
    http: Result<reqwest::Client, Error>,
    base: String,
    token: String,
}

fn server_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Server, format!("{what}: {e}"))
}

impl Api {
    pub(crate) fn new(options: &Options) -> Api {
        let http = match &options.http {
            Some(c) => Ok(c.clone()),
            None => default_http_client(),
        };
        Api {
            http,
            base: options.qstash_url.clone(),
            token: options.token().to_owned(),
        }
    }

    fn request(&self, method: http::Method, path: &str) -> Result<reqwest::RequestBuilder, Error> {
        let http = self.http.as_ref().map_err(Clone::clone)?;
        Ok(http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token))
    }

    async fn send(
        &self,
        what: &str,
        builder: reqwest::RequestBuilder,
    ) -> Result<Answer<bytes::Bytes>, Error> {
        let resp = builder.send().await.map_err(|e| server_error(what, e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| server_error(what, e))?;
        if status == StatusCode::BAD_REQUEST {
            tracing::info!(what, answer = %String::from_utf8_lossy(&body), "the server answered 400: the run has ended");
            return Ok(Answer::RunEnded);
        }
        if !status.is_success() {
            return Err(server_error(
                what,
                format!(
                    "the server answered {status}: {}",
                    String::from_utf8_lossy(&body)
                        .chars()
                        .take(500)
                        .collect::<String>()
                ),
            ));
        }
        Ok(Answer::Ok(body))
    }

    /// `POST /v2/batch`; the answer's entries.
    pub(crate) async fn batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Answer<Vec<Value>>, Error> {
        let body = serde_json::to_vec(messages)?;
        let b = self
            .request(http::Method::POST, "/v2/batch")?
            .header("content-type", "application/json")
            .body(body);
        match self.send("POST /v2/batch", b).await? {
            Answer::RunEnded => Ok(Answer::RunEnded),
            Answer::Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Array(entries)) => Ok(Answer::Ok(entries)),
                _ => Err(server_error(
                    "POST /v2/batch",
                    "the answer is not a JSON array",
                )),
            },
        }
    }

    /// Hands `outgoing` to the server, in order.
    pub(crate) async fn send_outgoing(&self, outgoing: &[Outgoing]) -> Result<Answer<()>, Error> {
        for o in outgoing {
            let answer = match o {
                Outgoing::Batch(messages) => match self.batch(messages).await? {
                    Answer::Ok(_) => Answer::Ok(()),
                    Answer::RunEnded => Answer::RunEnded,
                },
                Outgoing::Wait {
                    event_id,
                    headers,
                    body,
                } => {
                    let mut b = self.request(
                        http::Method::POST,
                        &format!("/v2/wait/{}", encode_segment(event_id)),
                    )?;
                    for (k, v) in headers {
                        b = b.header(k.as_str(), v.as_str());
                    }
                    match self.send("POST /v2/wait", b.body(body.to_string())).await? {
                        Answer::Ok(_) => Answer::Ok(()),
                        Answer::RunEnded => Answer::RunEnded,
                    }
                }
                Outgoing::Publish { url, headers, body } => {
                    let mut b = self.request(http::Method::POST, &format!("/v2/publish/{url}"))?;
                    for (k, v) in headers {
                        b = b.header(k.as_str(), v.as_str());
                    }
                    match self.send("POST /v2/publish", b.body(body.clone())).await? {
                        Answer::Ok(_) => Answer::Ok(()),
                        Answer::RunEnded => Answer::RunEnded,
                    }
                }
            };
            if let Answer::RunEnded = answer {
                return Ok(Answer::RunEnded);
            }
        }
        Ok(Answer::Ok(()))
    }

    /// `POST /v2/publish/{url}` of a JSON body with these headers.
    pub(crate) async fn publish_json(
        &self,
        url: &str,
        headers: &BTreeMap<String, String>,
        body: String,
    ) -> Result<Answer<()>, Error> {
        let mut headers = headers.clone();
        headers.insert("content-type".into(), "application/json".into());
        headers.insert("upstash-method".into(), "POST".into());
        let mut b = self.request(http::Method::POST, &format!("/v2/publish/{url}"))?;
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        Ok(match self.send("POST /v2/publish", b.body(body)).await? {
            Answer::Ok(_) => Answer::Ok(()),
            Answer::RunEnded => Answer::RunEnded,
        })
    }

    /// `GET /v2/workflows/runs/{id}`: the run's step array; `None` once it has ended (404).
    pub(crate) async fn steps(&self, run_id: &str) -> Result<Option<Vec<RawStep>>, Error> {
        let what = "GET /v2/workflows/runs";
        let resp = self
            .request(
                http::Method::GET,
                &format!("/v2/workflows/runs/{}", encode_segment(run_id)),
            )?
            .send()
            .await
            .map_err(|e| server_error(what, e))?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| server_error(what, e))?;
        if !status.is_success() {
            return Err(server_error(what, format!("the server answered {status}")));
        }
        Ok(Some(
            serde_json::from_slice(&body).map_err(|e| server_error(what, e))?,
        ))
    }

    /// `DELETE /v2/workflows/runs/{id}?cancel=…` with the run's result as the body.
    pub(crate) async fn end_run(
        &self,
        run_id: &str,
        cancel: bool,
        body: Option<String>,
    ) -> Result<Answer<()>, Error> {
        let mut b = self.request(
            http::Method::DELETE,
            &format!(
                "/v2/workflows/runs/{}?cancel={cancel}",
                encode_segment(run_id)
            ),
        )?;
        if let Some(body) = body {
            b = b
                .header("content-type", "text/plain;charset=UTF-8")
                .body(body);
        }
        Ok(match self.send("DELETE /v2/workflows/runs", b).await? {
            Answer::Ok(_) => Answer::Ok(()),
            Answer::RunEnded => Answer::RunEnded,
        })
    }
}

/// A path segment, percent-encoded.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// rustls with the ring provider and the platform's certificate verifier.
fn default_http_client() -> Result<reqwest::Client, Error> {
    let config =
        |e: &dyn std::fmt::Display| Error::new(ErrorKind::Config, format!("the HTTP client: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| config(&e))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("qstash-workflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| config(&e))
}
