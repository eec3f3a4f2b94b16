//! Which failures a request may be sent again after: all transient ones for a request that
//! cannot do anything twice, only those that surely did not reach the server for one that
//! could.

use crate::error::{Error, ErrorKind};

/// Whether sending a request again after a transient failure is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Sending it twice does what sending it once does (a trigger with its run id, a
    /// publish with a deduplication id, a read, a cancel): every transient failure is
    /// retried ([`Error::is_retryable`]).
    Safe,
    /// Sending it twice may do it twice (a publish without deduplication, a retry from the
    /// DLQ, a key rotation): only failures after which the server surely did nothing are
    /// retried: a connection that was never made (connect error, connect timeout, TLS
    /// handshake), and `429` (the server refused the request).
    OnlyUnsent,
}

impl Replay {
    /// Whether the request may be sent again after `err`.
    pub(crate) fn allows(self, err: &Error) -> bool {
        match self {
            Replay::Safe => err.is_retryable(),
            Replay::OnlyUnsent => err.kind() == ErrorKind::RateLimited || never_connected(err),
        }
    }
}

/// Whether `err` is a transport error from before a connection was made: the request was
/// not written.
fn never_connected(err: &Error) -> bool {
    if !matches!(err.kind(), ErrorKind::Transport | ErrorKind::Timeout) {
        return false;
    }
    err.get_ref()
        .and_then(|s| s.downcast_ref::<reqwest::Error>())
        .is_some_and(reqwest::Error::is_connect)
}
