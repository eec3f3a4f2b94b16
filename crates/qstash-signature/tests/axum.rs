//! `VerifiedBody` behind a real axum server on loopback, with a raw HTTP/1.1 client.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;
use qstash_signature::{Receiver, Signer, VerifiedBody};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const CURRENT: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
const NEXT: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";

async fn hook(VerifiedBody { claims, body }: VerifiedBody) -> String {
    format!("{} {}", claims.sub, String::from_utf8_lossy(&body))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends one request and returns (status, body).
async fn post_to(
    addr: SocketAddr,
    path: &str,
    signature: Option<&str>,
    body: &str,
) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(signature) = signature {
            request.push_str(&format!("Upstash-Signature: {signature}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let response = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap();
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, body.to_owned())
}

fn error_of(body: &str) -> String {
    let json: Value = serde_json::from_str(body).unwrap();
    json["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn accepts_valid_and_refuses_invalid_signatures() {
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(Receiver::new(CURRENT, NEXT));
    let addr = serve(app).await;

    // Without a base URL, `sub` is not checked.
    let token = Signer::new(NEXT).sign("https://anywhere.example/hook", b"hello");
    let (status, body) = post_to(addr, "/hook", Some(&token), "hello").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "https://anywhere.example/hook hello")
    );

    let (status, body) = post_to(addr, "/hook", Some(&token), "hellO").await;
    assert_eq!(status, 401);
    assert_eq!(error_of(&body), "body hash does not match the signed body");

    let forged = Signer::new("sig_someoneElse").sign("https://anywhere.example/hook", b"hello");
    let (status, body) = post_to(addr, "/hook", Some(&forged), "hello").await;
    assert_eq!(status, 401);
    assert_eq!(
        error_of(&body),
        "signature does not match the current or the next signing key"
    );
    assert!(!body.contains(CURRENT) && !body.contains(NEXT));

    let (status, body) = post_to(addr, "/hook", None, "hello").await;
    assert_eq!(status, 401);
    assert_eq!(
        error_of(&body),
        "missing or non-text Upstash-Signature header"
    );

    let (status, body) = post_to(addr, "/hook", Some("garbage"), "hello").await;
    assert_eq!(status, 401);
    assert!(error_of(&body).starts_with("malformed signature token"));
}

#[derive(Clone)]
struct AppState {
    receiver: Receiver,
}

impl FromRef<AppState> for Receiver {
    fn from_ref(state: &AppState) -> Receiver {
        state.receiver.clone()
    }
}

#[tokio::test]
async fn base_url_checks_sub_against_the_original_uri() {
    let receiver = Receiver::new(CURRENT, NEXT).with_base_url("https://api.example.com/");
    let nested = Router::new().route("/hook", post(hook));
    let app = Router::new()
        .nest("/v1", nested)
        .with_state(AppState { receiver });
    let addr = serve(app).await;
    let signer = Signer::new(CURRENT);

    let url = "https://api.example.com/v1/hook?id=7";
    let token = signer.sign(url, b"{}");
    let (status, body) = post_to(addr, "/v1/hook?id=7", Some(&token), "{}").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "https://api.example.com/v1/hook?id=7 {}")
    );

    let token = signer.sign("https://api.example.com/v1/hook?id=8", b"{}");
    let (status, body) = post_to(addr, "/v1/hook?id=7", Some(&token), "{}").await;
    assert_eq!(status, 401);
    assert_eq!(
        error_of(&body),
        r#"signature is for url "https://api.example.com/v1/hook?id=8", want "https://api.example.com/v1/hook?id=7""#
    );
}

#[tokio::test]
async fn unreadable_body_keeps_axums_status_with_a_json_error() {
    let app = Router::new()
        .route("/hook", post(hook))
        .layer(axum::extract::DefaultBodyLimit::max(4))
        .with_state(Receiver::new(CURRENT, NEXT));
    let addr = serve(app).await;
    let token = Signer::new(CURRENT).sign("u", b"too long");
    let (status, body) = post_to(addr, "/hook", Some(&token), "too long").await;
    assert_eq!(status, 413);
    assert!(!error_of(&body).is_empty());
}
