use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The `iss` claim of every token: `"Upstash"`.
pub const ISSUER: &str = "Upstash";

/// How long a token is valid after it is issued: `exp` is `iat` + 300 seconds.
pub const EXPIRES_IN_SECS: u64 = 300;

/// The claims of an `Upstash-Signature` token.
///
/// Serialized in the order upstream uses (`iss`, `sub`, `exp`, `nbf`, `iat`, `jti`, `body`);
/// claims a received token carries beyond these are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer, [`ISSUER`].
    pub iss: String,
    /// The URL being called.
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Not before, Unix seconds.
    pub nbf: u64,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// A unique id of the token.
    pub jti: String,
    /// The SHA-256 of the body bytes in base64url, see [`body_hash`].
    pub body: String,
}

impl Claims {
    /// The claims for calling `url` with `body` at `now` (Unix seconds), with a fresh random
    /// `jti`: `iat` = `nbf` = `now`, `exp` = `now` + [`EXPIRES_IN_SECS`].
    ///
    /// # Panics
    /// If the operating system's random source fails (see [`generate_signing_key`](crate::generate_signing_key)).
    pub fn new(url: &str, body: &[u8], now: u64) -> Self {
        Self {
            iss: ISSUER.to_owned(),
            sub: url.to_owned(),
            exp: now.saturating_add(EXPIRES_IN_SECS),
            nbf: now,
            iat: now,
            jti: crate::random::token_id(),
            body: body_hash(body),
        }
    }
}

/// The `body` claim for these bytes: base64url of their SHA-256, with `=` padding
/// (44 characters).
///
/// ```
/// assert_eq!(qstash_signature::body_hash(b""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
/// ```
pub fn body_hash(body: &[u8]) -> String {
    URL_SAFE.encode(Sha256::digest(body))
}
