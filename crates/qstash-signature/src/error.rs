/// Why a token was refused by [`Receiver::verify`](crate::Receiver::verify).
///
/// Messages never contain key material; they may quote claims of a token whose signature was
/// already verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a compact HS256 JWS with the expected claims (bad shape, base64, JSON, algorithm or a
    /// missing or mistyped claim).
    #[error("malformed signature token: {reason}")]
    Malformed {
        /// What is wrong, without quoting the token.
        reason: String,
    },
    /// The signature matches neither the current nor the next signing key.
    #[error("signature does not match the current or the next signing key")]
    BadSignature,
    /// `exp` has passed (beyond the clock tolerance).
    #[error("signature expired at {exp} (now {now}, Unix seconds)")]
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// The receiver's clock.
        now: u64,
    },
    /// `nbf` or `iat` is in the future (beyond the clock tolerance).
    #[error("signature not valid before {not_before} (now {now}, Unix seconds)")]
    NotYetValid {
        /// The later of the token's `nbf` and `iat`.
        not_before: u64,
        /// The receiver's clock.
        now: u64,
    },
    /// `iss` is not `"Upstash"`.
    #[error("signature issuer is {issuer:?}, want \"Upstash\"")]
    WrongIssuer {
        /// The token's `iss`.
        issuer: String,
    },
    /// `sub` is not the URL the request was received on.
    #[error("signature is for url {found:?}, want {expected:?}")]
    WrongUrl {
        /// The URL the receiver expected.
        expected: String,
        /// The token's `sub`.
        found: String,
    },
    /// The `body` claim is not the hash of the received body.
    #[error("body hash does not match the signed body")]
    BodyMismatch,
}

impl VerifyError {
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::Malformed {
            reason: reason.into(),
        }
    }
}
