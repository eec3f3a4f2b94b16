//! The axum extractor.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, FromRequest, OriginalUri, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::{Claims, Receiver, VerifyError};

/// A request body whose `Upstash-Signature` was verified, as an axum extractor.
///
/// The [`Receiver`] comes from the router's state through [`FromRef`], so the state is either the
/// receiver itself or any state that implements `FromRef<State> for Receiver`. It consumes the
/// body, so it is the last extractor of a handler.
///
/// The URL check is off by default: any `sub` is accepted, because the URL a sender called
/// (scheme, public host, path prefix) is generally not what a server behind a proxy sees. With
/// [`Receiver::with_base_url`], `sub` must equal the base URL followed by the request's path and
/// query (the original URI, before any `nest`), e.g. `https://example.com` + `/hook?a=1`.
///
/// Rejections ([`SignatureRejection`]) answer `401 {"error": "..."}`; a body that cannot be read
/// answers axum's status for that (e.g. 413) with the same JSON shape.
///
/// ```
/// use axum::extract::FromRef;
/// use axum::routing::post;
/// use axum::Router;
/// use qstash_signature::{Receiver, VerifiedBody};
///
/// async fn hook(VerifiedBody { claims, body }: VerifiedBody) -> String {
///     format!("{} bytes for {}", body.len(), claims.sub)
/// }
///
/// // The receiver as the whole state:
/// let receiver = Receiver::new("sig_current", "sig_next");
/// let app: Router = Router::new().route("/hook", post(hook)).with_state(receiver);
///
/// // Or inside the application's own state, checking `sub` against the public URL:
/// #[derive(Clone)]
/// struct AppState {
///     receiver: Receiver,
/// }
/// impl FromRef<AppState> for Receiver {
///     fn from_ref(state: &AppState) -> Receiver {
///         state.receiver.clone()
///     }
/// }
/// let receiver = Receiver::new("sig_current", "sig_next").with_base_url("https://api.example.com");
/// let app: Router = Router::new()
///     .route("/hook", post(hook))
///     .with_state(AppState { receiver });
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedBody {
    /// The verified token's claims.
    pub claims: Claims,
    /// The body bytes, exactly as received.
    pub body: Bytes,
}

/// Why [`VerifiedBody`] refused a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureRejection {
    /// The request has no `Upstash-Signature` header, or its value is not text.
    #[error("missing or non-text Upstash-Signature header")]
    MissingSignature,
    /// The token did not verify.
    #[error(transparent)]
    Invalid(#[from] VerifyError),
    /// The body could not be read.
    #[error("{}", .0.body_text())]
    Body(#[from] BytesRejection),
}

impl SignatureRejection {
    /// The status of the response: 401, or axum's status for an unreadable body.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Body(rejection) => rejection.status(),
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for SignatureRejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() });
        (self.status(), axum::Json(body)).into_response()
    }
}

impl<S> FromRequest<S> for VerifiedBody
where
    Receiver: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = SignatureRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let receiver = Receiver::from_ref(state);
        let signature = req
            .headers()
            .get(crate::HEADER_NAME)
            .and_then(|v| v.to_str().ok())
            .ok_or(SignatureRejection::MissingSignature)?
            .to_owned();
        let url = receiver.base_url.as_deref().map(|base| {
            let uri = req
                .extensions()
                .get::<OriginalUri>()
                .map_or(req.uri(), |original| &original.0);
            let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
            format!("{}{path}", base.trim_end_matches('/'))
        });
        let body = Bytes::from_request(req, state).await?;
        let claims = receiver.verify(&signature, &body, url.as_deref())?;
        Ok(Self { claims, body })
    }
}

impl Receiver {
    /// The same receiver, with the public base URL (scheme, host and any path prefix, e.g.
    /// `https://api.example.com`) that [`VerifiedBody`] joins with each request's path and query
    /// to check `sub`. Without it, [`VerifiedBody`] does not check `sub`.
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into().into());
        self
    }
}
