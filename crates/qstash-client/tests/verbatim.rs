//! The destination travels byte for byte, or the request is refused before anything is sent:
//! the HTTP stack under the client never rewrites it silently.

mod server;

use proptest::prelude::*;
use qstash_client::{Client, ErrorKind, RetryPolicy, WorkflowUrl};
use server::{Reply, TestServer};

const OK_TRIGGER: &str = r#"{"workflowRunId":"wfr_x","workflowCreatedAt":1}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Sends a trigger to `destination`; returns the target the server saw, or the error kind.
fn send(
    server: &TestServer,
    client: &Client,
    rt: &tokio::runtime::Runtime,
    destination: &str,
) -> Result<String, ErrorKind> {
    let before = server.recorded().len();
    let result = rt.block_on(client.trigger_url(destination).send());
    let recorded = server.recorded();
    match result {
        Ok(_) => {
            assert_eq!(recorded.len(), before + 1);
            Ok(recorded[before].target.clone())
        }
        Err(e) => {
            assert_eq!(recorded.len(), before, "an error after sending: {e}");
            assert_eq!(e.attempts(), 0);
            Err(e.kind())
        }
    }
}

fn setup() -> (TestServer, Client, tokio::runtime::Runtime) {
    let server = TestServer::start([]).always(Reply::json(OK_TRIGGER));
    let client = Client::builder()
        .token("token")
        .base_url(server.url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    (server, client, runtime())
}

#[test]
fn ordinary_destinations_travel_verbatim() {
    let (server, client, rt) = setup();
    for dest in [
        "https://example.com",
        "https://example.com/",
        "http://example.com:8080/api/workflow",
        "https://EXAMPLE.com/Api/WF",
        "https://example.com/api/wf?x=1&y=2",
        "https://example.com/api/wf?",
        "https://example.com/a%20b/%7E%2F?q=%26%3D&r=a+b",
        "https://example.com/!$&()*+,;=:@-._~/x",
        "https://example.com/wf?list=a,b&t=2026-01-01T00:00:00Z&p=/x?y",
        "https://user:pass@example.com/wf",
        "https://[::1]:3000/wf",
        "https://example.com//double//slash",
    ] {
        assert!(WorkflowUrl::new(dest).is_ok(), "{dest}");
        assert_eq!(
            send(&server, &client, &rt, dest),
            Ok(format!("/v2/trigger/{dest}")),
            "{dest}"
        );
    }
}

#[test]
fn rewritten_destinations_are_refused() {
    let (server, client, rt) = setup();
    for dest in [
        "https://example.com/a/../b",
        "https://example.com/a/./b",
        "https://example.com/a/%2e%2e/b",
        "https://example.com/a\\b",
        // The `url` crate escapes these in an http(s) URL.
        "https://example.com/{id}",
        "https://example.com/say\"hi\"",
        "https://example.com/wf?name='x'",
    ] {
        // `WorkflowUrl` refuses them when built (`SPEC.md` §1), so nothing is sent.
        assert!(WorkflowUrl::new(dest).is_err(), "{dest}");
        assert_eq!(
            send(&server, &client, &rt, dest),
            Err(ErrorKind::InvalidRequest),
            "{dest}"
        );
    }
}

/// Path bytes a destination may hold, tricky ones over-represented.
fn path_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,6}".prop_map(String::from),
        Just("/".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2e".to_owned()),
        Just("%2F".to_owned()),
        prop::sample::select(vec![
            "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", ":", "@", "-", "_", "~", "\"",
            "{", "}", "|", "^", "\\", "[", "]", "%"
        ])
        .prop_map(String::from),
    ]
}

fn query_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,6}".prop_map(String::from),
        prop::sample::select(vec![
            "&", "=", "?", "/", "'", "`", "{", "}", "|", "^", "\\", "[", "]", "%20", "%", "+", ",",
            ";", ":", "@", "!", "$", "(", ")", "*", "~", "."
        ])
        .prop_map(String::from),
    ]
}

fn destination() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["http://", "https://", "HTTPS://"]),
        "[a-z]{1,8}(\\.[a-z]{2,3})?",
        prop::collection::vec(path_piece(), 0..8),
        prop::option::of(prop::collection::vec(query_piece(), 0..8)),
    )
        .prop_map(|(scheme, host, path, query)| {
            let mut s = format!("{scheme}{host}/");
            s.extend(path);
            if let Some(q) = query {
                s.push('?');
                s.extend(q);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever `WorkflowUrl` accepts, the HTTP stack sends byte for byte; whatever it
    /// refuses is never sent.
    #[test]
    fn sent_verbatim_or_refused(dest in destination()) {
        thread_local! {
            static SETUP: (TestServer, Client, tokio::runtime::Runtime) = setup();
        }
        let accepted = WorkflowUrl::new(dest.as_str()).is_ok();
        SETUP.with(|(server, client, rt)| {
            match send(server, client, rt, &dest) {
                Ok(target) => {
                    assert!(accepted, "{dest}");
                    assert_eq!(target, format!("/v2/trigger/{dest}"));
                }
                Err(kind) => {
                    assert!(!accepted, "{dest} is valid but was not sent verbatim");
                    assert_eq!(kind, ErrorKind::InvalidRequest, "{dest}");
                }
            }
        });
    }
}
