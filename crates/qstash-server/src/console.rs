//! The web console at `/console` (issue 23): a small single-page app that reads and acts
//! through the public JSON API with the tenant's token, and the router that serves it.
//!
//! # Design note
//! The console is hand-written HTML, CSS and JavaScript (ES modules, no framework, no build
//! step) under `crates/qstash-server/console/`, built into the binary with `include_str!`:
//! - **Kept by a Rust team**: there is no toolchain to keep (no bundler, no npm in the build,
//!   no lockfile to refresh); a change is an edit and a `cargo build`. The files are short and
//!   split by page (`js/runs.js`, `js/dlq.js`, …).
//! - **One source of truth**: the console calls only the API any client calls
//!   (`/v2/workflows/logs`, `/v2/events`, `/v2/dlq`, `/v2/messages/{id}`, `/v2/flowControl`,
//!   their cancel/retry/restart endpoints, `/metrics`), as the tenant, with its token as
//!   `Bearer`. It adds no data path to the server, so it can show nothing the tenant's token
//!   could not read, and the handlers stay as they are. Server-side rendering (`maud`,
//!   `askama`) would need a second, cookie-authenticated path into every handler.
//! - **Offline and small**: every asset is in the binary (no CDN); the whole console is a few
//!   tens of KiB gzipped.
//! - **Live without storms**: each open page reads one small page of its list every few
//!   seconds while the browser tab is visible, and nothing while it is hidden.
//!
//! The token is typed on the login page (or given once in the URL's fragment,
//! `/console/#token=…`, which `qstash dev` prints: fragments never reach the server) and kept in
//! the tab's `sessionStorage`. The assets are public (they hold no data); a strict
//! Content-Security-Policy allows scripts, styles and requests from this origin only.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use axum::extract::State;

use crate::api::metrics_access::is_operator;
use crate::api::{AppState, Tenant};

/// The console's options ([`ServerBuilder::console`](crate::ServerBuilder::console)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Console {
    /// How the console's server page describes the store (`SQLite .qstash/qstash.db`,
    /// `PostgreSQL`); never a URL with a password.
    pub store: Option<String>,
}

impl Console {
    /// The console with no store description.
    pub fn new() -> Console {
        Console::default()
    }

    /// Describes the store on the console's server page (never put a password here).
    pub fn store(mut self, description: impl Into<String>) -> Console {
        self.store = Some(description.into());
        self
    }
}

/// One file of the console: its path under `/console/`, content type and bytes.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The path under `/console/` (`index.html`, `js/main.js`, …).
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The file.
    pub body: &'static str,
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_str!(concat!("../console/", $path)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every file of the console.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("icon.svg", SVG),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/ui.js", JS),
    asset!("js/runs.js", JS),
    asset!("js/events.js", JS),
    asset!("js/dlq.js", JS),
    asset!("js/flow.js", JS),
    asset!("js/server.js", JS),
];

/// The Content-Security-Policy of every console answer: this origin only, no inline script
/// or style, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The routes of the console, to merge into the API's router.
pub(crate) fn router(state: AppState, console: Console) -> Router {
    let info = console.clone();
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(|h: HeaderMap| async move { serve("index.html", &h) }),
        )
        .route(
            "/console/api/info",
            get(
                move |tenant: Tenant, State(state): State<AppState>, headers: HeaderMap| async move {
                    server_info(tenant, &state, &headers, &info)
                },
            ),
        )
        .route(
            "/console/{*path}",
            get(
                |axum::extract::Path(p): axum::extract::Path<String>, h: HeaderMap| async move {
                    serve(&p, &h)
                },
            ),
        )
        .with_state(state)
}

/// `GET /console/api/info`: the server's version and store, for the tenant's token; and the
/// number of tenants when the request also may read the server-wide numbers (`qstash dev`,
/// or `serve` with the `--metrics-token` as the token): a tenant never learns how many others
/// share the server.
fn server_info(
    Tenant(_tenant): Tenant,
    state: &AppState,
    headers: &HeaderMap,
    console: &Console,
) -> Response {
    let mut info = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "store": console.store,
    });
    if is_operator(state, headers) == Some(true) {
        info["tenants"] = state.tenant_count().into();
    }
    axum::Json(info).into_response()
}

/// The ETag of an asset: a hash of its bytes, so that a new build is fetched at once.
fn etag(body: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let mut out = String::from("\"");
    for b in digest.iter().take(12) {
        out.push_str(&format!("{b:02x}"));
    }
    out.push('"');
    out
}

/// One asset, or 404; `304 Not Modified` when the browser's copy is current.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        let mut r = (StatusCode::NOT_FOUND, "no such file in the console").into_response();
        secure(r.headers_mut());
        return r;
    };
    let tag = etag(asset.body);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    // Revalidated on every load (cheap with the ETag): a new binary's console is never mixed
    // with an old cached module.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(h);
    response
}

/// The security headers of every console answer.
fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_its_type_and_every_module_is_listed() {
        for a in ASSETS {
            let ext = a.path.rsplit('.').next().unwrap();
            let want = match ext {
                "html" => HTML,
                "js" => JS,
                "css" => CSS,
                "svg" => SVG,
                other => panic!("{}: unknown extension {other}", a.path),
            };
            assert_eq!(a.content_type, want, "{}", a.path);
            // Every module a module imports is served.
            for line in a.body.lines().filter(|l| l.starts_with("import ")) {
                let from = line.split('"').nth(1).unwrap();
                let name = from.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|b| b.path == format!("js/{name}")),
                    "{} imports {from}, which is not served",
                    a.path
                );
            }
        }
    }

    #[test]
    fn the_etag_changes_with_the_bytes() {
        assert_ne!(etag("a"), etag("b"));
        assert_eq!(etag("a"), etag("a"));
    }
}
