//! One attempt: the HTTP request to the destination and what came back.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use qstash_store::{AttemptResponse, Claimed};

use super::envelope::{Envelope, WorkflowRole};
use crate::config::DeliveryConfig;
use crate::destination::{DestinationRefused, Guard, refusal_in};

/// Headers a forwarded header may never set: hop-by-hop and framing headers, and the ones the
/// server sets itself.
fn is_reserved(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "content-length"
            | "host"
            | "te"
            | "trailer"
            | "upgrade"
            | "user-agent"
            | "upstash-message-id"
            | "upstash-retried"
            | "upstash-signature"
            | "upstash-schedule-id"
    ) || n.starts_with("proxy-")
}

/// What one attempt came to.
#[derive(Debug)]
pub(crate) struct Attempt {
    /// The response (or, for a transport error, no status and the error's text as the body).
    pub response: AttemptResponse,
    /// `Retry-After` of the response, when present, valid and at most one day.
    pub retry_after: Option<Duration>,
    /// The transport error's text, when no response arrived.
    pub error: Option<String>,
    /// Whether the destination policy refused the address (no connection was made): the
    /// attempt fails for good.
    pub refused: bool,
}

impl Attempt {
    /// Whether the destination accepted the message.
    pub(crate) fn delivered(&self) -> bool {
        matches!(self.response.status, Some(s) if (200..300).contains(&s))
    }

    /// Whether the destination refused the message for good (489 with
    /// `Upstash-NonRetryable-Error: true`).
    pub(crate) fn non_retryable(&self) -> bool {
        self.refused
            || self.response.status == Some(489)
                && self.response.headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("upstash-nonretryable-error") && v.trim() == "true"
                })
    }
}

/// Makes one attempt of a claimed message. The client's resolver hands the connector only
/// addresses `guard` allows; a literal address is checked here, before the request.
pub(crate) async fn attempt(
    http: &reqwest::Client,
    guard: &Guard,
    config: &DeliveryConfig,
    signature: String,
    claimed: &Claimed,
    envelope: &Envelope,
    body: Vec<u8>,
) -> Attempt {
    let msg = &claimed.message.message;
    let timeout = envelope
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(config.timeout);
    if let Ok(url) = reqwest::Url::parse(&msg.destination)
        && let Err(refused) = guard.check_literal(&url)
    {
        return refused_attempt(&refused);
    }
    let method = Method::from_bytes(msg.method.as_bytes()).unwrap_or(Method::POST);
    let mut req = http
        .request(method, msg.destination.as_str())
        .timeout(timeout);
    let mut headers = http::HeaderMap::with_capacity(envelope.forward.len() + 5);
    for (name, value) in &envelope.forward {
        if is_reserved(name) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    if let Some(ct) = envelope
        .content_type
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(http::header::CONTENT_TYPE, ct);
    }
    let set = |headers: &mut http::HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set(&mut headers, "upstash-message-id", &msg.id);
    set(
        &mut headers,
        "upstash-retried",
        &claimed.message.retried.to_string(),
    );
    set(&mut headers, "upstash-signature", &signature);
    set(&mut headers, "user-agent", "Upstash-QStash");
    if let Some(id) = &envelope.schedule_id {
        set(&mut headers, "upstash-schedule-id", id);
    }
    if let Some(wf) = &envelope.workflow {
        set(&mut headers, "upstash-workflow-runid", &wf.run_id);
        match wf.role {
            WorkflowRole::Trigger => {
                set(&mut headers, "upstash-workflow-unknown-sdk", "true");
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            WorkflowRole::Step | WorkflowRole::Other => {
                set(&mut headers, "upstash-workflow-url", &wf.url);
                set(
                    &mut headers,
                    "upstash-workflow-createdat",
                    &wf.created_at.to_string(),
                );
                if wf.role == WorkflowRole::Step {
                    set(&mut headers, "upstash-workflow-sdk-version", "1");
                }
                if let Some(f) = &wf.feature_set {
                    set(&mut headers, "upstash-feature-set", f);
                }
            }
        }
    }
    req = req.headers(headers).body(body);

    match req.send().await {
        Ok(resp) => read_response(resp, config.max_response_body).await,
        Err(e) => transport_failure(&e),
    }
}

async fn read_response(mut resp: reqwest::Response, limit: usize) -> Attempt {
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let retry_after = resp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| parse_retry_after(v.to_str().ok()?));
    let mut body = Vec::new();
    // Keep the first `limit` bytes; stop reading there (the connection is then dropped).
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= limit {
                    break;
                }
            }
            Ok(None) => break,
            // The status arrived; a body cut short by a reset or the timeout keeps what came.
            Err(_) => break,
        }
    }
    Attempt {
        response: AttemptResponse {
            status: Some(status),
            headers,
            body,
        },
        retry_after,
        error: None,
        refused: false,
    }
}

/// An attempt the destination policy refused: no connection was made.
fn refused_attempt(refused: &DestinationRefused) -> Attempt {
    let text = format!("destination refused: {refused}");
    Attempt {
        response: AttemptResponse {
            status: None,
            headers: Vec::new(),
            body: text.clone().into_bytes(),
        },
        retry_after: None,
        error: Some(text),
        refused: true,
    }
}

fn transport_failure(e: &reqwest::Error) -> Attempt {
    if let Some(refused) = refusal_in(e) {
        return refused_attempt(refused);
    }
    let text = if e.is_timeout() {
        "timeout: the destination did not answer in time".to_owned()
    } else if e.is_connect() {
        format!("connection failed: {}", error_chain(e))
    } else {
        format!("request failed: {}", error_chain(e))
    };
    Attempt {
        response: AttemptResponse {
            status: None,
            headers: Vec::new(),
            body: text.clone().into_bytes(),
        },
        retry_after: None,
        error: Some(text),
        refused: false,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = s.source();
    }
    out
}

/// `Retry-After` as seconds or an HTTP date; only values up to one day count (upstream).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    const DAY: Duration = Duration::from_secs(86_400);
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
    };
    (wait <= DAY).then_some(wait)
}

/// The HTTP client deliveries use: rustls (ring) with the platform's verifier, no redirects
/// (a redirect is an answer like any other, never followed), a large idle pool per host, and
/// `guard` as its DNS resolver, so that the destination policy applies to the address dialled.
pub(crate) fn http_client(guard: Guard) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("certificate verifier: {e}"))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .dns_resolver(Arc::new(guard))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after(" 86400 "),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(parse_retry_after("86401"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn reserved_headers_are_not_forwarded() {
        for n in [
            "Connection",
            "content-length",
            "Host",
            "Proxy-Authorization",
            "Upstash-Signature",
            "TE",
        ] {
            assert!(is_reserved(n), "{n}");
        }
        assert!(!is_reserved("Authorization"));
        assert!(!is_reserved("X-Trace"));
    }
}
