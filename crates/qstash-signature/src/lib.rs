//! The QStash `Upstash-Signature` JWT, both sides: a [`Signer`] for the server that delivers
//! messages and a [`Receiver`] for the service that receives them.
//!
//! ```
//! use qstash_signature::{Receiver, Signer};
//!
//! let signer = Signer::new("sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r");
//! let token = signer.sign("https://example.com/hook", b"hello");
//!
//! let receiver = Receiver::new("sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs");
//! let claims = receiver.verify(&token, b"hello", Some("https://example.com/hook"))?;
//! assert_eq!(claims.sub, "https://example.com/hook");
//! # Ok::<(), qstash_signature::VerifyError>(())
//! ```
//!
//! # The token
//!
//! A compact JWS: the header is exactly `{"alg":"HS256","typ":"JWT"}`; the claims are, in this
//! order, `iss` (`"Upstash"`), `sub` (the URL being called), `exp` (`iat` + 300), `nbf` and `iat`
//! (the current whole second, rounded down so that they are never in the future), `jti` (`jwt_`
//! and 24 random alphanumerics) and `body`: the SHA-256 of the request body bytes in base64url
//! **with** its `=` padding (44 characters). There is no `aud`.
//!
//! The official receivers (`@upstash/qstash`, `qstash` on PyPI, `qstash-go`) all strip trailing
//! `=` from both sides before comparing the body hash, so padded and unpadded forms are both
//! accepted there; the padded form is what the upstream service emits, and [`Receiver`] accepts
//! both as well.
//!
//! The HMAC-SHA256 key is the UTF-8 bytes of the signing key exactly as printed
//! (`sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r`), not a decoding of it.
//!
//! # Verification
//!
//! [`Receiver::verify`] accepts a token signed with either the current or the next key, then
//! checks, in order: `iss == "Upstash"`; `exp`, `nbf` and `iat` against the clock with a
//! tolerance of [`DEFAULT_CLOCK_TOLERANCE`] (5 s) unless changed; `sub` equals the URL when one is
//! given; the body hash. Every claim listed above is required. Each failure is its own
//! [`VerifyError`] variant; no error or `Debug` output ever contains key material.
//!
//! # Features
//! - `axum`: [`VerifiedBody`], an extractor that verifies a delivery in the handler's signature.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod claims;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod random;
mod receiver;
mod signer;

pub use claims::{Claims, EXPIRES_IN_SECS, ISSUER, body_hash};
pub use error::VerifyError;
#[cfg(feature = "axum")]
pub use extract::{SignatureRejection, VerifiedBody};
pub use random::generate_signing_key;
pub use receiver::{DEFAULT_CLOCK_TOLERANCE, Receiver};
pub use signer::Signer;

/// The name of the header that carries the token: `Upstash-Signature`.
pub const HEADER_NAME: &str = "Upstash-Signature";

/// The current Unix time in whole seconds, rounded down (0 if the clock is before 1970).
pub(crate) fn now_unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
