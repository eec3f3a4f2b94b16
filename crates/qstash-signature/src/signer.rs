use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::Claims;

/// `{"alg":"HS256","typ":"JWT"}` in base64url: the first part of every token.
pub(crate) const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Makes `Upstash-Signature` tokens with one signing key (the current one).
///
/// Cheap to clone. `Debug` does not show the key.
///
/// ```
/// use qstash_signature::Signer;
///
/// let signer = Signer::new("sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r");
/// let token = signer.sign_at("https://example.com/hook", b"{}", 1_700_000_000);
/// assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
/// assert_eq!(format!("{signer:?}"), "Signer { key: <redacted> }");
/// ```
#[derive(Clone)]
pub struct Signer {
    key: EncodingKey,
}

impl Signer {
    /// A signer whose HMAC key is the UTF-8 bytes of `key` as printed (`sig_…`).
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: EncodingKey::from_secret(key.into().as_bytes()),
        }
    }

    /// The token for calling `url` with `body`, issued now (see [`Claims::new`]).
    ///
    /// # Panics
    /// If the operating system's random source fails (for the `jti`).
    pub fn sign(&self, url: &str, body: &[u8]) -> String {
        self.sign_at(url, body, crate::now_unix_secs())
    }

    /// The token for calling `url` with `body`, issued at `now` (Unix seconds): `iat` = `nbf` =
    /// `now`, `exp` = `now` + 300. Only the `jti` is random.
    ///
    /// # Panics
    /// If the operating system's random source fails (for the `jti`).
    pub fn sign_at(&self, url: &str, body: &[u8], now: u64) -> String {
        self.sign_claims(&Claims::new(url, body, now))
    }

    /// The token carrying exactly these claims, for full control (fixed `jti`, tests).
    pub fn sign_claims(&self, claims: &Claims) -> String {
        // Serializing a struct of strings and integers into a Vec cannot fail.
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let mut token = String::with_capacity(HEADER_B64.len() + 2 + payload.len() * 4 / 3 + 47);
        token.push_str(HEADER_B64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = hmac(&self.key, token.as_bytes());
        token.push('.');
        token.push_str(&signature);
        token
    }
}

#[expect(
    clippy::expect_used,
    reason = "HMAC-SHA256 accepts keys of any length, so signing cannot fail"
)]
fn hmac(key: &EncodingKey, message: &[u8]) -> String {
    jsonwebtoken::crypto::sign(message, key, Algorithm::HS256).expect("HMAC-SHA256 signing")
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key", &format_args!("<redacted>"))
            .finish()
    }
}
