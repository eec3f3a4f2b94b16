//! Releasing a workflow's `waitForEvent`: `POST /v2/notify/{eventId}` (SERVER.md §9).

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{Method, Request, Uri};
use serde::{Deserialize, Serialize};

use crate::client::{Client, Op};
use crate::error::{Error, ErrorKind};
use crate::replay::Replay;

/// One waiter a notify released.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NotifyResult {
    /// The id of the waiting step's message.
    #[serde(default)]
    pub message_id: String,
    /// Why this waiter could not be released (empty when it was).
    #[serde(default)]
    pub error: String,
}

impl Client {
    /// Notifies every run waiting for `event_id` (`context.waitForEvent`) with `data` as the
    /// event's data (JSON): `POST {base}/v2/notify/{eventId}`. Returns the waiters released;
    /// none when no run waits for the event yet.
    ///
    /// A second notify releases nothing the first released, so it is retried as a read is.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for an empty event id or data that does not serialize;
    /// otherwise see [`ErrorKind`].
    pub async fn notify<T: Serialize + ?Sized>(
        &self,
        event_id: &str,
        data: &T,
    ) -> Result<Vec<NotifyResult>, Error> {
        if event_id.is_empty() {
            return Err(Error::new(ErrorKind::InvalidRequest).with_message("the event id is empty"));
        }
        let body = Bytes::from(serde_json::to_vec(data).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest)
                .with_message(format!("the event data does not serialize: {e}"))
        })?);
        let mut path = String::from("/v2/notify/");
        for &b in event_id.as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                path.push(char::from(b));
            } else {
                path.push_str(&format!("%{b:02X}"));
            }
        }
        let base = self.base_url().clone();
        let encode = || {
            let prefix = base.path().trim_end_matches('/');
            let mut parts = base.clone().into_parts();
            parts.path_and_query = PathAndQuery::try_from(format!("{prefix}{path}")).ok();
            let mut request = Request::new(body.clone());
            *request.method_mut() = Method::POST;
            *request.uri_mut() = Uri::from_parts(parts).unwrap_or_default();
            request
        };
        self.execute_with(Op::Notify, Replay::Safe, encode, &[], |b| {
            serde_json::from_slice::<Vec<NotifyResult>>(b)
        })
        .await
    }
}
