//! Encodings and conversions both database backends share: how labels, headers and
//! integers are kept in columns, the column lists of the shared row shapes, and the settings'
//! key names.

use crate::{Result, StoreError};

/// The columns of a dead letter joined with its message (`decode_dlq`).
pub(crate) const DLQ_COLS: &str = "d.seq, d.dlq_id, d.created_at, d.response_status, d.response_headers, \
     d.response_body, d.failure_callback, d.failure_callback_state";

pub(crate) const DLQ_NCOLS: usize = 8;

pub(crate) const KEY_CURRENT: &str = "signing_key_current";

pub(crate) const KEY_NEXT: &str = "signing_key_next";

/// The settings keys of a tenant's own signing keys, (current, next): the store-wide pair's
/// keys followed by `:` and the tenant id.
pub(crate) fn tenant_key_names(tenant: &str) -> (String, String) {
    (
        format!("{KEY_CURRENT}:{tenant}"),
        format!("{KEY_NEXT}:{tenant}"),
    )
}

/// The separator of stored labels; it cannot occur in an HTTP header value.
pub(crate) const LABEL_SEP: char = '\u{1f}';

/// The columns of a message, as `decode_message` reads them (27 columns).
pub(crate) const MSG_COLS: &str = "m.tenant, m.id, m.destination, m.method, m.headers, m.body, m.created_at, \
     m.first_due_at, m.due_at, m.max_retries, m.retried, m.state, m.claim, m.lease_ms, m.labels, \
     m.dedup_id, m.dedup_until, m.flow_key, m.extra, m.last_status, m.last_headers, m.last_body, \
     m.run_id, m.run_step, m.flow_parallelism, m.flow_rate, m.flow_period_ms";

/// The columns of a run, as `decode_run` reads them.
pub(crate) const RUN_COLS: &str = "r.seq, r.tenant, r.run_id, r.workflow_url, r.created_at, r.initial_body, \
     r.labels, r.config, r.state, r.ended_at, r.response, r.reason";

pub(crate) fn closed(why: &str) -> StoreError {
    StoreError::Unavailable(why.to_string())
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("bad stored {what}"))
}

pub(crate) fn decode_headers(mut buf: &[u8]) -> Result<Vec<(String, String)>> {
    fn string(buf: &mut &[u8]) -> Result<String> {
        let len = get_varint(buf)?;
        if len > buf.len() {
            return Err(corrupt("headers"));
        }
        let (s, rest) = buf.split_at(len);
        *buf = rest;
        String::from_utf8(s.to_vec()).map_err(|_| corrupt("headers"))
    }
    let n = get_varint(&mut buf)?;
    let mut out = Vec::with_capacity(n.min(buf.len() / 2));
    for _ in 0..n {
        let name = string(&mut buf)?;
        let value = string(&mut buf)?;
        out.push((name, value));
    }
    if !buf.is_empty() {
        return Err(corrupt("headers"));
    }
    Ok(out)
}

pub(crate) fn decode_labels(s: &str) -> Result<Vec<String>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let inner = s
        .strip_prefix(LABEL_SEP)
        .and_then(|s| s.strip_suffix(LABEL_SEP))
        .ok_or_else(|| corrupt("labels"))?;
    Ok(inner.split(LABEL_SEP).map(str::to_string).collect())
}

/// Headers as a count then length-prefixed names and values (LEB128 lengths).
pub(crate) fn encode_headers(headers: &[(String, String)]) -> Vec<u8> {
    let len: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(len + 2);
    put_varint(&mut out, headers.len());
    for (name, value) in headers {
        put_varint(&mut out, name.len());
        out.extend_from_slice(name.as_bytes());
        put_varint(&mut out, value.len());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

pub(crate) fn encode_labels(labels: &[String]) -> Result<String> {
    if labels.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::with_capacity(labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1);
    out.push(LABEL_SEP);
    for label in labels {
        if label.contains(LABEL_SEP) {
            return Err(StoreError::Invalid(
                "a label contains the control character U+001F".to_string(),
            ));
        }
        out.push_str(label);
        out.push(LABEL_SEP);
    }
    Ok(out)
}

fn get_varint(buf: &mut &[u8]) -> Result<usize> {
    let mut v: usize = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first().ok_or_else(|| corrupt("headers"))?;
        *buf = rest;
        v |= usize::from(b & 0x7f)
            .checked_shl(shift)
            .ok_or_else(|| corrupt("headers"))?;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(corrupt("headers"))
}

pub(crate) fn int(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{v} is out of range")))
}

/// The needle that finds a whole label in stored labels with `instr`.
pub(crate) fn label_needle(label: &str) -> String {
    format!("{LABEL_SEP}{label}{LABEL_SEP}")
}

pub(crate) fn opt_u32(v: Option<i64>, what: &str) -> Result<Option<u32>> {
    v.map(|n| u32::try_from(n).map_err(|_| corrupt(what)))
        .transpose()
}

pub(crate) fn opt_uint(v: Option<i64>) -> Result<Option<u64>> {
    v.map(uint).transpose()
}

pub(crate) fn page_limit(count: usize) -> i64 {
    // One more row than asked tells whether an older page exists.
    i64::try_from(count.max(1)).map_or(i64::MAX, |c| c.saturating_add(1))
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn uint(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative value {v}")))
}
