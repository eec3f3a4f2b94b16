//! Managing messages (`SERVER.md` §5, §7): a message, its cancel, the message logs
//! (events), the dead-letter queue, the signing keys and the flow-control keys (§8).

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{Method, Request, Uri};
use qstash_protocol::{
    DLQ_PATH, DLQ_RETRY_PATH, DlqDelete, DlqDeleteResponse, DlqListResponse, DlqMessage, DlqQuery,
    DlqRetryResponse, EVENTS_PATH, EventsQuery, EventsResponse, FLOW_CONTROL_PATH, FlowControlInfo,
    KEYS_PATH, KEYS_ROTATE_PATH, MESSAGES_PATH, Message, SigningKeysResponse,
};
use serde::de::DeserializeOwned;

use crate::client::{Client, Op};
use crate::error::{Error, ErrorKind};
use crate::replay::Replay;

impl Client {
    /// A message: `GET {base}/v2/messages/{messageId}`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown message (or another tenant's);
    /// [`ErrorKind::InvalidRequest`] for an empty id; otherwise see [`ErrorKind`].
    pub async fn message(&self, message_id: &str) -> Result<Message, Error> {
        let path = Target::new(MESSAGES_PATH).id("message id", message_id)?;
        self.call(Op::Message, Method::GET, &path, Replay::Safe)
            .await
    }

    /// Cancels a message that has not been delivered yet:
    /// `DELETE {base}/v2/messages/{messageId}` (an attempt in flight finishes but is not
    /// retried).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown message; [`ErrorKind::BadRequest`] for one
    /// that is already delivered, failed or cancelled. A cancel whose first answer was lost
    /// may report the second case on the client's retry.
    pub async fn cancel_message(&self, message_id: &str) -> Result<(), Error> {
        let path = Target::new(MESSAGES_PATH).id("message id", message_id)?;
        self.call_with(
            Op::CancelMessage,
            Method::DELETE,
            &path,
            Replay::Safe,
            |_| Ok(()),
        )
        .await
    }

    /// One page of the message logs, newest first: `GET {base}/v2/events?…`. Pass the
    /// answer's cursor in the query for the next page.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn events(&self, query: &EventsQuery) -> Result<EventsResponse, Error> {
        let path = Target::new(EVENTS_PATH).query(query.to_query_string());
        self.call(Op::Events, Method::GET, &path, Replay::Safe)
            .await
    }

    /// One page of the dead-letter queue: `GET {base}/v2/dlq?…`.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn dlq(&self, query: &DlqQuery) -> Result<DlqListResponse, Error> {
        let path = Target::new(DLQ_PATH).query(query.to_query_string());
        self.call(Op::Dlq, Method::GET, &path, Replay::Safe).await
    }

    /// One entry of the dead-letter queue: `GET {base}/v2/dlq/{dlqId}`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown entry; otherwise see [`ErrorKind`].
    pub async fn dlq_message(&self, dlq_id: &str) -> Result<DlqMessage, Error> {
        let path = Target::new(DLQ_PATH).id("DLQ id", dlq_id)?;
        self.call(Op::DlqMessage, Method::GET, &path, Replay::Safe)
            .await
    }

    /// Deletes entries of the dead-letter queue: `DELETE {base}/v2/dlq?dlqIds=…`; returns
    /// how many were deleted (unknown ids are not counted).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for no id or an invalid one; otherwise see
    /// [`ErrorKind`].
    pub async fn delete_dlq<I>(&self, dlq_ids: I) -> Result<u64, Error>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let delete = DlqDelete::new(dlq_ids)?;
        let path = Target::new(DLQ_PATH).query(delete.to_query_string());
        let deleted: DlqDeleteResponse = self
            .call(Op::DeleteDlq, Method::DELETE, &path, Replay::Safe)
            .await?;
        Ok(deleted.deleted)
    }

    /// Sends a dead letter's request again as a new message:
    /// `POST {base}/v2/dlq/retry/{dlqId}`; the answer holds the new message's id.
    ///
    /// Each call makes a new message, so, as a publish without deduplication
    /// ([`publish`](Self::publish)), it is retried only after failures that surely did not
    /// reach the server.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown entry; otherwise see [`ErrorKind`].
    pub async fn retry_dlq(&self, dlq_id: &str) -> Result<DlqRetryResponse, Error> {
        let path = Target::new(DLQ_RETRY_PATH).id("DLQ id", dlq_id)?;
        self.call(Op::RetryDlq, Method::POST, &path, Replay::OnlyUnsent)
            .await
    }

    /// The signing keys: `GET {base}/v2/keys`. Their `Debug` does not show them.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn signing_keys(&self) -> Result<SigningKeysResponse, Error> {
        let path = Target::new(KEYS_PATH);
        self.call(Op::SigningKeys, Method::GET, &path, Replay::Safe)
            .await
    }

    /// Rotates the signing keys: the next key becomes the current one and a new next key is
    /// made (`POST {base}/v2/keys/rotate`); returns the new pair.
    ///
    /// Two rotations are not one, so it is retried only after failures that surely did not
    /// reach the server.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn rotate_signing_keys(&self) -> Result<SigningKeysResponse, Error> {
        let path = Target::new(KEYS_ROTATE_PATH);
        self.call(
            Op::RotateSigningKeys,
            Method::POST,
            &path,
            Replay::OnlyUnsent,
        )
        .await
    }

    /// The live counters of one flow-control key: `GET {base}/v2/flowControl/{key}`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for a key the tenant never used; [`ErrorKind::InvalidRequest`]
    /// for an empty key; otherwise see [`ErrorKind`].
    pub async fn flow_control(&self, key: &str) -> Result<FlowControlInfo, Error> {
        let path = Target::new(FLOW_CONTROL_PATH).id("flow-control key", key)?;
        self.call(Op::FlowControl, Method::GET, &path, Replay::Safe)
            .await
    }

    /// Every flow-control key the tenant has used, with its live counters:
    /// `GET {base}/v2/flowControl`.
    ///
    /// # Errors
    /// See [`ErrorKind`].
    pub async fn flow_controls(&self) -> Result<Vec<FlowControlInfo>, Error> {
        let path = Target::new(FLOW_CONTROL_PATH);
        self.call(Op::FlowControls, Method::GET, &path, Replay::Safe)
            .await
    }

    /// Sends a request without body to `target` and parses the JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        op: Op,
        method: Method,
        target: &Target,
        replay: Replay,
    ) -> Result<T, Error> {
        self.call_with(op, method, target, replay, |body| {
            serde_json::from_slice::<T>(body)
        })
        .await
    }

    /// Sends a request without body to `target` and parses the answer with `parse`.
    pub(crate) async fn call_with<T>(
        &self,
        op: Op,
        method: Method,
        target: &Target,
        replay: Replay,
        parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, Error> {
        let base = self.base_url();
        self.execute_with(
            op,
            replay,
            || target.request(base, method.clone()),
            &[],
            parse,
        )
        .await
    }
}

/// An endpoint's path after the base's, with an id segment and a query.
#[derive(Debug)]
pub(crate) struct Target(String);

impl Target {
    pub(crate) fn new(path: &str) -> Target {
        Target(path.to_owned())
    }

    /// Appends `/{id}`, percent-encoded; an empty id would name another endpoint.
    pub(crate) fn id(mut self, what: &str, id: &str) -> Result<Target, Error> {
        if id.is_empty() {
            return Err(
                Error::new(ErrorKind::InvalidRequest).with_message(format!("the {what} is empty"))
            );
        }
        self.0.push('/');
        for &b in id.as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                self.0.push(char::from(b));
            } else {
                self.0.push_str(&format!("%{b:02X}"));
            }
        }
        Ok(self)
    }

    /// The path so far.
    pub(crate) fn path(&self) -> &str {
        &self.0
    }

    /// Appends `?query` when the query is not empty (it is already percent-encoded).
    fn query(mut self, query: String) -> Target {
        if !query.is_empty() {
            self.0.push('?');
            self.0.push_str(&query);
        }
        self
    }

    /// The request to `{base}{path}`, the base's path kept as a prefix, with an empty body.
    pub(crate) fn request(&self, base: &Uri, method: Method) -> Request<Bytes> {
        let prefix = base.path().trim_end_matches('/');
        let mut parts = base.clone().into_parts();
        parts.path_and_query = PathAndQuery::try_from(format!("{prefix}{}", self.0)).ok();
        let mut request = Request::new(Bytes::new());
        *request.method_mut() = method;
        // Every byte of the target is one a request target carries, so this does not fail.
        *request.uri_mut() = Uri::from_parts(parts).unwrap_or_default();
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_the_base_path_and_encode_ids() {
        let base = Uri::from_static("https://h:8443/prefix/");
        let t = Target::new(MESSAGES_PATH).id("id", "msg_a/b c").unwrap();
        let r = t.request(&base, Method::GET);
        assert_eq!(
            r.uri().to_string(),
            "https://h:8443/prefix/v2/messages/msg_a%2Fb%20c"
        );
        let t = Target::new(DLQ_PATH).query("dlqIds=a&dlqIds=b".into());
        let r = t.request(&Uri::from_static("http://127.0.0.1:9"), Method::DELETE);
        assert_eq!(
            r.uri().to_string(),
            "http://127.0.0.1:9/v2/dlq?dlqIds=a&dlqIds=b"
        );
        assert_eq!(r.method(), Method::DELETE);
        let empty = Target::new(EVENTS_PATH).query(String::new());
        assert_eq!(
            empty
                .request(&Uri::from_static("http://h"), Method::GET)
                .uri()
                .path_and_query()
                .unwrap()
                .as_str(),
            "/v2/events"
        );
        let err = Target::new(MESSAGES_PATH).id("message id", "").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }
}
