use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::{Claims, ISSUER, VerifyError, body_hash};

/// The clock tolerance a [`Receiver`] applies unless told otherwise: 5 seconds.
///
/// Tokens are issued at the sender's current second and expire 300 s later, so the tolerance
/// only has to absorb clock skew between sender and receiver; the official SDKs default to 0,
/// which refuses a fresh token whenever the receiver's clock is a second behind the sender's.
pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_secs(5);

/// Verifies `Upstash-Signature` tokens against the current and the next signing key.
///
/// Cheap to clone (the keys are shared). `Debug` does not show the keys.
///
/// ```
/// use qstash_signature::{Receiver, Signer, VerifyError};
///
/// let receiver = Receiver::new("sig_current", "sig_next");
/// // During a rotation the sender may already sign with what is the next key here.
/// let token = Signer::new("sig_next").sign("https://example.com/hook", b"hi");
/// assert!(receiver.verify(&token, b"hi", None).is_ok());
/// assert_eq!(receiver.verify(&token, b"tampered", None), Err(VerifyError::BodyMismatch));
/// assert_eq!(format!("{receiver:?}"), "Receiver { current: <redacted>, next: <redacted>, clock_tolerance: 5s }");
/// ```
#[derive(Clone)]
pub struct Receiver {
    keys: Arc<[DecodingKey; 2]>,
    tolerance: u64,
    #[cfg(feature = "axum")]
    pub(crate) base_url: Option<Arc<str>>,
}

impl Receiver {
    /// A receiver that accepts tokens signed with `current` or `next` (each used as the UTF-8
    /// bytes of the key as printed), with [`DEFAULT_CLOCK_TOLERANCE`].
    pub fn new(current: impl Into<String>, next: impl Into<String>) -> Self {
        let key = |k: String| DecodingKey::from_secret(k.as_bytes());
        Self {
            keys: Arc::new([key(current.into()), key(next.into())]),
            tolerance: DEFAULT_CLOCK_TOLERANCE.as_secs(),
            #[cfg(feature = "axum")]
            base_url: None,
        }
    }

    /// The same receiver with another clock tolerance for `exp`, `nbf` and `iat`, in whole
    /// seconds (a fraction is dropped). `Duration::ZERO` is as strict as the official SDKs'
    /// default.
    #[must_use]
    pub fn with_clock_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance.as_secs();
        self
    }

    /// The clock tolerance in use.
    pub fn clock_tolerance(&self) -> Duration {
        Duration::from_secs(self.tolerance)
    }

    /// Verifies `signature` (the `Upstash-Signature` header value) for the received `body`,
    /// against the system clock. When `url` is given the token's `sub` must equal it exactly.
    ///
    /// Returns the token's claims; see the [crate documentation](crate#verification) for what is
    /// checked and in which order.
    pub fn verify(
        &self,
        signature: &str,
        body: &[u8],
        url: Option<&str>,
    ) -> Result<Claims, VerifyError> {
        self.verify_at(signature, body, url, crate::now_unix_secs())
    }

    /// [`verify`](Self::verify) with the clock reading `now` (Unix seconds).
    ///
    /// With tolerance `t`, the token is expired when `now >= exp + t` (RFC 7519: valid strictly
    /// before `exp`) and not yet valid when `now + t < nbf` or `now + t < iat`.
    pub fn verify_at(
        &self,
        signature: &str,
        body: &[u8],
        url: Option<&str>,
        now: u64,
    ) -> Result<Claims, VerifyError> {
        let Some((signed, mac)) = signature.rsplit_once('.') else {
            return Err(VerifyError::malformed("not three dot-separated parts"));
        };
        let Some((header, payload)) = signed.split_once('.').filter(|(_, p)| !p.contains('.'))
        else {
            return Err(VerifyError::malformed("not three dot-separated parts"));
        };
        check_header(header)?;
        let mut matched = false;
        for key in self.keys.iter() {
            match jsonwebtoken::crypto::verify(mac, signed.as_bytes(), key, Algorithm::HS256) {
                Ok(true) => {
                    matched = true;
                    break;
                }
                Ok(false) => {}
                Err(_) => return Err(VerifyError::malformed("signature is not base64url")),
            }
        }
        if !matched {
            return Err(VerifyError::BadSignature);
        }

        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| VerifyError::malformed("claims are not base64url"))?;
        let claims: Claims = serde_json::from_slice(&payload)
            .map_err(|e| VerifyError::malformed(format!("claims: {e}")))?;

        if claims.iss != ISSUER {
            return Err(VerifyError::WrongIssuer { issuer: claims.iss });
        }
        if now >= claims.exp.saturating_add(self.tolerance) {
            return Err(VerifyError::Expired {
                exp: claims.exp,
                now,
            });
        }
        let not_before = claims.nbf.max(claims.iat);
        if now.saturating_add(self.tolerance) < not_before {
            return Err(VerifyError::NotYetValid { not_before, now });
        }
        if let Some(url) = url
            && claims.sub != url
        {
            return Err(VerifyError::WrongUrl {
                expected: url.to_owned(),
                found: claims.sub,
            });
        }
        if claims.body.trim_end_matches('=') != body_hash(body).trim_end_matches('=') {
            return Err(VerifyError::BodyMismatch);
        }
        Ok(claims)
    }
}

/// The JOSE header must say HS256; other members (`typ`, …) are not checked.
fn check_header(header: &str) -> Result<(), VerifyError> {
    #[derive(serde::Deserialize)]
    struct Header {
        alg: String,
    }
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| VerifyError::malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&json)
        .map_err(|_| VerifyError::malformed("header is not a JSON object with \"alg\""))?;
    if header.alg != "HS256" {
        return Err(VerifyError::malformed("algorithm is not HS256"));
    }
    Ok(())
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Receiver");
        s.field("current", &format_args!("<redacted>"))
            .field("next", &format_args!("<redacted>"))
            .field("clock_tolerance", &self.clock_tolerance());
        #[cfg(feature = "axum")]
        if let Some(base) = &self.base_url {
            s.field("base_url", base);
        }
        s.finish()
    }
}
