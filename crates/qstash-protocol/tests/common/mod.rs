//! Strategies shared by the property tests.
#![allow(dead_code)]

use std::num::NonZeroU32;

use bytes::Bytes;
use proptest::prelude::*;
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_protocol::{CallbackUrl, Label, RunId, TriggerRequest, WorkflowUrl};
use qstash_retry_delay::RetryDelay;

/// Bytes allowed verbatim in the path part of a workflow URL.
pub fn path_bytes() -> Vec<u8> {
    (0x21u8..=0x7E)
        .filter(|b| {
            !matches!(
                b,
                b'#' | b'<' | b'>' | b'`' | b'?' | b'"' | b'{' | b'}' | b'\\' | b'\''
            )
        })
        .collect()
}

/// Bytes allowed verbatim in the query part of a workflow URL.
pub fn query_bytes() -> Vec<u8> {
    (0x21u8..=0x7E)
        .filter(|b| !matches!(b, b'#' | b'<' | b'>' | b'"' | b'\'' | b'{' | b'}' | b'\\'))
        .collect()
}

fn bytes_from(set: Vec<u8>, len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(set), len)
        .prop_map(|v| String::from_utf8(v).unwrap())
}

/// Any workflow URL: a scheme in any case, a host, a path with any allowed byte (percent
/// escapes, `|`, `^`, `[` included; no dot segment) and maybe a query (possibly empty, `?` and
/// `` ` `` included).
pub fn workflow_url() -> impl Strategy<Value = WorkflowUrl> {
    let scheme = prop::sample::select(vec!["http://", "https://", "HTTPS://", "Http://"]);
    let host = "[a-z0-9][a-z0-9.-]{0,15}(:[0-9]{1,5})?|\\[::1\\](:8080)?|user:pw@[a-z]{1,8}";
    let path = prop::option::of(bytes_from(path_bytes(), 0..40).prop_map(|p| format!("/{p}")));
    let pct = prop::option::of("(%[0-9A-Fa-f]{2}|%zz|%)[a-z]{0,3}");
    let query = prop::option::of(bytes_from(query_bytes(), 0..40));
    (scheme, host, path, pct, query)
        .prop_map(|(s, h, p, pct, q)| {
            let mut url = format!("{s}{h}");
            if let Some(p) = p {
                url.push_str(&p);
            }
            if let Some(pct) = pct {
                url.push('/');
                url.push_str(&pct);
            }
            if let Some(q) = q {
                url.push('?');
                url.push_str(&q);
            }
            url
        })
        // A generated path may hold a dot segment (`/./`), which is refused.
        .prop_filter_map("dot segment", |url| WorkflowUrl::new(url).ok())
}

/// Visible ASCII without `,`.
fn id_bytes() -> Vec<u8> {
    (0x21u8..=0x7E).filter(|&b| b != b',').collect()
}

pub fn run_id() -> impl Strategy<Value = RunId> {
    prop_oneof![
        bytes_from(id_bytes(), 1..40).prop_map(|s| RunId::new(s).unwrap()),
        bytes_from(id_bytes(), 256..257).prop_map(|s| RunId::new(s).unwrap()),
        Just(()).prop_map(|()| RunId::generate()),
    ]
}

pub fn label() -> impl Strategy<Value = Label> {
    bytes_from(id_bytes(), 1..20).prop_map(|s| Label::new(s).unwrap())
}

/// A token: a valid header name.
pub fn header_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}"
}

/// A header value that travels unchanged: visible ASCII, obs-text, inner spaces and tabs.
pub fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let mut set: Vec<u8> = (0x21u8..=0x7E).collect();
    set.extend(0x80u8..=0xFF);
    set.extend([b' ', b'\t', b' ']);
    prop::collection::vec(prop::sample::select(set), 0..30).prop_map(|mut v| {
        while matches!(v.first(), Some(b' ' | b'\t')) {
            v.remove(0);
        }
        while matches!(v.last(), Some(b' ' | b'\t')) {
            v.pop();
        }
        v
    })
}

/// A UTF-8 header value that travels unchanged.
pub fn utf8_header_value() -> impl Strategy<Value = String> {
    "[ -~\t\u{a0}-\u{2fff}]{0,30}".prop_map(|s| s.trim_matches([' ', '\t']).to_owned())
}

pub fn flow_control() -> impl Strategy<Value = (FlowControlKey, FlowControl)> {
    let key = bytes_from((0x21u8..=0x7E).collect(), 1..30);
    let n = || prop::option::of(1u32..=u32::MAX);
    let period = prop::option::of(prop_oneof![
        (1u64..=604_800).prop_map(|s| s.to_string()),
        (1u64..=604_800).prop_map(|s| format!("{}", Delay::checked_from_secs(s).unwrap())),
        Just("1500ms".to_owned()),
    ]);
    (key, n(), n(), period).prop_map(|(key, p, r, period)| {
        let p = p.or(if r.is_none() { Some(1) } else { None });
        let mut parts = Vec::new();
        if let Some(p) = p {
            parts.push(format!("parallelism={p}"));
        }
        if let Some(r) = r {
            parts.push(format!("rate={r}"));
        }
        if let Some(period) = period {
            parts.push(format!("period={period}"));
        }
        let value = FlowControl::parse(parts.join(",").as_bytes()).unwrap();
        assert_eq!(value.parallelism(), p.and_then(NonZeroU32::new));
        (FlowControlKey::new(key).unwrap(), value)
    })
}

pub fn retry_delay() -> impl Strategy<Value = RetryDelay> {
    prop_oneof![
        (0u32..100_000).prop_map(|n| n.to_string()),
        (0u32..100_000).prop_map(|n| format!("{n} * (1 + retried)")),
        (1u32..10_000).prop_map(|n| format!("pow(2, retried) * {n}")),
        (1u32..10_000, 1u32..1000).prop_map(|(a, b)| format!("max({a}, pow(2, retried) * {b})")),
        Just("min(86400, exp(2.5 * (retried + 1))) * 1000".to_owned()),
        Just("1000\t*\tretried".to_owned()),
    ]
    .prop_map(|s| RetryDelay::compile(&s).unwrap())
}

pub fn callback_url() -> impl Strategy<Value = CallbackUrl> {
    let rest = bytes_from((0x21u8..=0x7E).collect(), 0..40);
    (
        prop::sample::select(vec!["http://", "https://"]),
        "[a-z]{1,10}",
        rest,
    )
        .prop_map(|(s, h, r)| CallbackUrl::new(format!("{s}{h}/{r}")).unwrap())
}

/// Pairs of forwarded headers, some names repeated.
pub fn forwards() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::vec(
        (
            prop_oneof![3 => header_name(), 1 => Just("X-Same".to_owned())],
            header_value(),
        ),
        0..5,
    )
}

/// Which failure callback: none, the failure function, or a URL.
#[derive(Debug, Clone)]
pub enum Callback {
    None,
    Function,
    Url(CallbackUrl),
}

pub fn callback() -> impl Strategy<Value = Callback> {
    prop_oneof![
        Just(Callback::None),
        Just(Callback::Function),
        callback_url().prop_map(Callback::Url),
    ]
}

/// Every field, independently present or absent.
#[derive(Debug, Clone)]
pub struct Fields {
    pub url: WorkflowUrl,
    pub body: Vec<u8>,
    pub content_type: Option<Vec<u8>>,
    pub run_id: Option<RunId>,
    pub forwards: Vec<(String, Vec<u8>)>,
    pub retries: Option<u32>,
    pub delay: Option<Delay>,
    pub not_before: Option<u64>,
    pub labels: Vec<Label>,
    pub flow_control: Option<(FlowControlKey, FlowControl)>,
    pub callback: Callback,
    pub callback_forwards: Vec<(String, Vec<u8>)>,
    pub retry_delay: Option<RetryDelay>,
}

pub fn fields() -> impl Strategy<Value = Fields> {
    let a = (
        workflow_url(),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::option::of(header_value()),
        prop::option::of(run_id()),
        forwards(),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u64>().prop_map(Delay::from_nanos)),
    );
    let b = (
        prop::option::of(any::<u64>()),
        prop::collection::vec(label(), 0..4),
        prop::option::of(flow_control()),
        callback(),
        forwards(),
        prop::option::of(retry_delay()),
    );
    (a, b).prop_map(
        |(
            (url, body, content_type, run_id, forwards, retries, delay),
            (not_before, labels, flow_control, callback, callback_forwards, retry_delay),
        )| {
            let callback_forwards = match callback {
                Callback::None => Vec::new(),
                _ => callback_forwards,
            };
            Fields {
                url,
                body,
                content_type,
                run_id,
                forwards,
                retries,
                delay,
                not_before,
                labels,
                flow_control,
                callback,
                callback_forwards,
                retry_delay,
            }
        },
    )
}

impl Fields {
    pub fn build(&self) -> TriggerRequest {
        let mut b = TriggerRequest::builder(self.url.clone()).body(Bytes::from(self.body.clone()));
        if let Some(ct) = &self.content_type {
            b = b.content_type(ct);
        }
        if let Some(id) = &self.run_id {
            b = b.run_id(id.clone());
        }
        for (n, v) in &self.forwards {
            b = b.forward(n, v);
        }
        if let Some(n) = self.retries {
            b = b.retries(n);
        }
        if let Some(d) = self.delay {
            b = b.delay(d);
        }
        if let Some(t) = self.not_before {
            b = b.not_before(t);
        }
        b = b.labels(self.labels.iter().cloned());
        if let Some((k, v)) = &self.flow_control {
            b = b.flow_control(k.clone(), *v);
        }
        match &self.callback {
            Callback::None => {}
            Callback::Function => b = b.failure_function(),
            Callback::Url(u) => b = b.failure_url(u.clone()),
        }
        for (n, v) in &self.callback_forwards {
            b = b.failure_forward(n, v);
        }
        if let Some(rd) = &self.retry_delay {
            b = b.retry_delay(rd.clone());
        }
        b.build().unwrap()
    }
}

/// A base URL, with or without a trailing slash or a path prefix.
pub fn base() -> impl Strategy<Value = http::Uri> {
    prop::sample::select(vec![
        "https://qstash.upstash.io",
        "https://qstash.upstash.io/",
        "http://localhost:8080",
        "/",
    ])
    .prop_map(http::Uri::from_static)
}
