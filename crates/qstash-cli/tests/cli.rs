//! The `qstash` binary end to end: outputs, error messages and exit codes, and the commands
//! that talk to the API against a real HTTP server on loopback.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

/// One request as the server received it.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 server: answers each request with the next scripted (status, body),
/// repeating the last one, and records what it received.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    fn start(script: Vec<(u16, &'static str)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let (status, body) = script[i.min(script.len() - 1)];
                if let Some(req) = handle(stream, status, body) {
                    seen.lock().unwrap().push(req);
                }
            }
        });
        Server { url, requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

fn handle(stream: TcpStream, status: u16, body: &str) -> Option<Recorded> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    let mut body_in = vec![0; len];
    reader.read_exact(&mut body_in).ok()?;
    let mut stream = stream;
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).ok()?;
    Some(Recorded {
        method,
        target,
        headers,
        body: body_in,
    })
}

fn qstash(args: &[&str]) -> Output {
    qstash_with_stdin(args, "")
}

fn qstash_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = common::qstash()
        .args(args)
        .env_remove("QSTASH_TOKEN")
        .env_remove("QSTASH_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const OK_TRIGGER: &str = r#"{"workflowRunId":"wfr_server","workflowCreatedAt":1767225600000}"#;
const OK_BATCH_OF_TWO: &str = r#"[{"workflowRunId":"wfr_one","workflowCreatedAt":1767225600000},{"workflowRunId":"wfr_two","workflowCreatedAt":1767225600000,"deduplicated":true}]"#;

#[test]
fn check_delay_prints_canonical_form() {
    let o = qstash(&["check", "delay", "90m1.5s"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "canonical: 1h30m1s500ms\nseconds:   5401.5\n");
}

#[test]
fn check_errors_echo_the_value_with_a_caret() {
    let o = qstash(&["check", "delay", "1d10x"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: invalid delay \"1d10x\": unknown unit \"x\" at byte 4\n  |\n  | 1d10x\n  |     ^\n"
    );
    assert_eq!(stdout(&o), "");

    let o = qstash(&["check", "flow-control", "parallelism=2, rate=5, speed=3"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let caret = format!(
        "  | parallelism=2, rate=5, speed=3\n  | {}^^^^^\n",
        " ".repeat(23)
    );
    assert!(err.contains(&caret), "{err}");
    assert!(err.starts_with("error: invalid flow control "), "{err}");

    let o = qstash(&["check", "retry-delay", "2 ** retried"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pow(x, y)"), "{}", stderr(&o));
}

#[test]
fn check_flow_control_and_retry_delay() {
    let o = qstash(&["check", "flow-control", "rate=10,parallelism=1"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).starts_with("canonical:   parallelism=1, rate=10\n"),
        "{}",
        stdout(&o)
    );
    let o = qstash(&["check", "retry-delay", "max(1000, pow(2, retried) * 100)"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("first 5 retries: 1s, 1s, 1s, 1s, 1s600ms"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn check_cron_lists_the_next_ticks() {
    let o = qstash(&[
        "check",
        "cron",
        "CRON_TZ=Europe/Berlin 30 2 * * *",
        "--from",
        "2026-03-28T12:00:00Z",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // March 29th's 02:30 does not exist in Berlin: it fires right after the gap.
    assert_eq!(
        stdout(&o),
        "canonical: CRON_TZ=Europe/Berlin 30 2 * * *\n\
         zone:      Europe/Berlin\n\
         next 5 ticks after 2026-03-28T12:00:00Z:\n  \
         2026-03-29T01:00:00Z  2026-03-29T03:00:00+02:00\n  \
         2026-03-30T00:30:00Z  2026-03-30T02:30:00+02:00\n  \
         2026-03-31T00:30:00Z  2026-03-31T02:30:00+02:00\n  \
         2026-04-01T00:30:00Z  2026-04-01T02:30:00+02:00\n  \
         2026-04-02T00:30:00Z  2026-04-02T02:30:00+02:00\n"
    );

    let o = qstash(&["check", "cron", "0 9 * * MON-FRY"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: invalid cron \"0 9 * * MON-FRY\": the day of week field \"MON-FRY\": \"FRY\" is \
         not a day of week name (SUN-SAT) at byte 12\n  |\n  | 0 9 * * MON-FRY\n  |             ^^^\n"
    );
    assert_eq!(stdout(&o), "");

    let o = qstash(&["check", "delay", "1s", "--from", "2026-01-01T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--from applies to `qstash check cron` only"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn retry_schedule_table() {
    let o = qstash(&["retry-schedule", "1000 * (1 + retried)", "--retries", "3"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "retry-delay: 1000 * (1 + retried)\n\
         attempt  retried  delay          since first failure\n\
         \x20     2        0  1s             1s\n\
         \x20     3        1  2s             3s\n\
         \x20     4        2  3s             6s\n"
    );
}

#[test]
fn dry_run_prints_the_exact_request_with_every_option() {
    let o = qstash(&[
        "--token",
        "s3cret-token",
        "--url",
        "https://qstash.example",
        "trigger",
        "https://example.com/api/wf?tenant=7&x=%2F",
        "--body",
        r#"{"order":42}"#,
        "--content-type",
        "application/json",
        "--run-id",
        "wfr_order-42",
        "-H",
        "Authorization: Bearer downstream",
        "-H",
        "X-Tenant: 7",
        "--retries",
        "5",
        "--retry-delay",
        "pow(2, retried) * 1000",
        "--delay",
        "90m",
        "--not-before",
        "2026-01-01T00:00:00Z",
        "--label",
        "checkout",
        "--label",
        "eu",
        "--flow-control-key",
        "tenant-7",
        "--flow-control",
        "rate=5,parallelism=2",
        "--failure-callback",
        "https://example.com/api/failed",
        "--failure-header",
        "X-Source: checkout",
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "POST https://qstash.example/v2/trigger/https://example.com/api/wf?tenant=7&x=%2F\n\
         Authorization: Bearer ****\n\
         Content-Type: application/json\n\
         Upstash-Delay: 1h30m\n\
         Upstash-Failure-Callback: https://example.com/api/failed\n\
         Upstash-Failure-Callback-Forward-X-Source: checkout\n\
         Upstash-Flow-Control-Key: tenant-7\n\
         Upstash-Flow-Control-Value: parallelism=2, rate=5\n\
         Upstash-Forward-Authorization: Bearer downstream\n\
         Upstash-Forward-X-Tenant: 7\n\
         Upstash-Label: checkout,eu\n\
         Upstash-Not-Before: 1767225600\n\
         Upstash-Retries: 5\n\
         Upstash-Retry-Delay: pow(2, retried) * 1000\n\
         Upstash-Workflow-RunId: wfr_order-42\n\
         \n\
         {\"order\":42}\n"
    );
    assert!(!stdout(&o).contains("s3cret"), "the token is masked");
}

#[test]
fn dry_run_generates_a_run_id_and_reads_the_body_from_stdin() {
    let o = qstash_with_stdin(
        &[
            "trigger",
            "https://example.com/wf",
            "--body-file",
            "-",
            "--failure-callback",
            "--dry-run",
        ],
        "from stdin",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let id_line = out
        .lines()
        .find(|l| l.starts_with("Upstash-Workflow-RunId: wfr_"))
        .unwrap();
    assert_eq!(
        id_line.len(),
        "Upstash-Workflow-RunId: wfr_".len() + 21,
        "{id_line}"
    );
    assert!(
        out.contains("Upstash-Failure-Callback: \n"),
        "empty: the workflow's failure function"
    );
    assert!(out.ends_with("\nfrom stdin\n"), "{out}");
}

#[test]
fn invalid_trigger_values_exit_2_and_send_nothing() {
    let server = Server::start(vec![(200, OK_TRIGGER)]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--delay", "5sec"],
            "error: --delay: invalid delay \"5sec\": unknown unit \"sec\" at byte 1\n  |\n  | 5sec\n  |  ^^^\n",
        ),
        (
            &["--flow-control-key", "k", "--flow-control", "rate=0"],
            "error: --flow-control: ",
        ),
        (&["--retry-delay", "pow(2)"], "error: --retry-delay: "),
        (&["--label", "a,b"], "error: --label: "),
        (&["-H", "X-Bad: a\r\nb"], "error: "),
        (
            &["-H", "no-colon"],
            "error: --header: expected `Name: value`",
        ),
        (
            &["--not-before", "next week"],
            "error: --not-before: not unix seconds or an RFC 3339 time",
        ),
        (
            &["--failure-callback", "ftp://x"],
            "error: --failure-callback: ",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec![
            "--token",
            "t",
            "--url",
            server.url.as_str(),
            "trigger",
            "https://example.com/wf",
        ];
        args.extend_from_slice(extra);
        let o = qstash(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with(expected),
            "{extra:?}: {}",
            stderr(&o)
        );
        assert_eq!(
            stderr(&o).lines().next().map(|l| l.starts_with("error: ")),
            Some(true)
        );
    }
    let o = qstash(&[
        "--url",
        server.url.as_str(),
        "trigger",
        "https://example.com/wf",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: no token: pass --token or set QSTASH_TOKEN\n"
    );
    let o = qstash(&["trigger", "not a url", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: URL: "), "{}", stderr(&o));
    // A destination an HTTP stack would rewrite is refused, naming the segment (SPEC.md §1).
    let o = qstash(&["trigger", "https://example.com/../x", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(r#"dot segment ".." is not allowed at byte 20"#),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
    let o = qstash(&["trigger", "https://example.com/{id}", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(r#""{" is not allowed at byte 20"#),
        "{}",
        stderr(&o)
    );
    let o = qstash(&["trigger"]);
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2 too");
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[test]
fn trigger_sends_the_request_on_the_wire() {
    let server = Server::start(vec![(200, OK_TRIGGER)]);
    let o = qstash(&[
        "--token",
        "s3cret-token",
        "--url",
        &server.url,
        "trigger",
        "https://example.com/api/wf?tenant=7",
        "--body",
        "payload bytes",
        "--delay",
        "10s",
        "--run-id",
        "wfr_cli-1",
        "-H",
        "X-Tenant: 7",
        "--label",
        "cli",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "started wfr_server (created at 2026-01-01T00:00:00Z)\n"
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/v2/trigger/https://example.com/api/wf?tenant=7");
    assert_eq!(r.header("authorization"), Some("Bearer s3cret-token"));
    assert_eq!(r.header("upstash-delay"), Some("10s"));
    assert_eq!(r.header("upstash-workflow-runid"), Some("wfr_cli-1"));
    assert_eq!(r.header("upstash-forward-x-tenant"), Some("7"));
    assert_eq!(r.header("upstash-label"), Some("cli"));
    assert_eq!(r.body, b"payload bytes");
}

#[test]
fn trigger_json_output() {
    let server = Server::start(vec![(200, OK_TRIGGER)]);
    let o = qstash(&[
        "--token",
        "t",
        "--url",
        &server.url,
        "trigger",
        "https://example.com/wf",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["workflowRunId"], "wfr_server");
    assert_eq!(v["workflowCreatedAt"], 1_767_225_600_000u64);
}

#[test]
fn api_errors_exit_1_with_the_servers_message() {
    let server = Server::start(vec![(401, r#"{"error":"invalid token"}"#)]);
    let o = qstash(&[
        "--token",
        "wrong-token",
        "--url",
        &server.url,
        "trigger",
        "https://example.com/wf",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("invalid token"), "{err}");
    assert!(
        !err.contains("wrong-token"),
        "the token never appears: {err}"
    );
    assert_eq!(err.lines().count(), 1, "one readable line: {err}");

    let server = Server::start(vec![(412, r#"{"error":"quota exceeded"}"#)]);
    let o = qstash(&[
        "--token",
        "t",
        "--url",
        &server.url,
        "trigger",
        "https://example.com/wf",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(server.requests().len(), 1, "412 is not retried");
}

#[test]
fn transport_failure_exits_1() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let o = qstash(&["--token", "t", "--url", &url, "cancel", "wfr_x"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    // The causes follow, each once.
    let err = stderr(&o);
    assert_eq!(err.matches("error sending request").count(), 1, "{err}");
    assert!(err.matches(": ").count() >= 3, "{err}");
}

#[test]
fn batch_runs_every_good_line_and_reports_the_bad_one() {
    let server = Server::start(vec![(200, OK_BATCH_OF_TWO)]);
    let file = std::env::temp_dir().join(format!("qstash-batch-{}.jsonl", std::process::id()));
    std::fs::write(
        &file,
        concat!(
            r#"{"destination":"https://example.com/a","body":"one"}"#,
            "\n",
            r#"{"destination":"https://example.com/b","headers":{"Upstash-Delay":"5sec"}}"#,
            "\n",
            "\n",
            r#"{"destination":"https://example.com/c","headers":{"Upstash-Delay":"1m"}}"#,
            "\n",
        ),
    )
    .unwrap();
    let o = qstash(&[
        "--token",
        "t",
        "--url",
        &server.url,
        "batch",
        file.to_str().unwrap(),
        "--concurrency",
        "2",
    ]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "a bad line makes the run an input failure"
    );
    let err = stderr(&o);
    assert!(err.contains("line 2: invalid: "), "{err}");
    assert!(err.contains("unknown unit \"sec\""), "{err}");
    assert!(
        err.contains("line 1: started wfr_one\nline 4: started wfr_two (deduplicated)\n"),
        "{err}"
    );
    assert!(
        err.contains("2 started, 0 failed, 1 invalid, of 3 lines"),
        "{err}"
    );
    // The two good lines travel in one batch request, in file order.
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].target, "/v2/batch/trigger");
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    let destinations: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["destination"].as_str().unwrap())
        .collect();
    assert_eq!(
        destinations,
        ["https://example.com/a", "https://example.com/c"]
    );
    assert_eq!(body[1]["headers"]["Upstash-Delay"], "1m");
}

#[test]
fn batch_from_stdin_all_good() {
    let server = Server::start(vec![(200, OK_BATCH_OF_TWO)]);
    let o = qstash_with_stdin(
        &["--token", "t", "--url", &server.url, "batch", "-"],
        "{\"destination\":\"https://example.com/a\"}\n{\"destination\":\"https://example.com/b\"}\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "line 1: started wfr_one\nline 2: started wfr_two (deduplicated)\n2 started, 0 failed, 0 invalid, of 2 lines\n"
    );
}

#[test]
fn batch_sends_chunks_and_reports_a_failed_chunk_per_line() {
    // Five lines in chunks of two: three requests; the second one fails.
    let server = Server::start(vec![
        (200, OK_BATCH_OF_TWO),
        (400, r#"{"error":"bad batch"}"#),
        (
            200,
            r#"[{"workflowRunId":"wfr_five","workflowCreatedAt":1}]"#,
        ),
    ]);
    let lines: String = (1..=5)
        .map(|i| format!("{{\"destination\":\"https://example.com/{i}\"}}\n"))
        .collect();
    let o = qstash_with_stdin(
        &[
            "--token",
            "s3cr3t-token",
            "--url",
            &server.url,
            "batch",
            "-",
            "--batch-size",
            "2",
            "--concurrency",
            "1",
        ],
        &lines,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("line 3: failed: bad request (HTTP 400): bad batch"),
        "{err}"
    );
    assert!(
        err.contains("line 4: failed: bad request (HTTP 400): bad batch"),
        "{err}"
    );
    assert!(
        err.contains("line 1: started wfr_one\nline 2: started wfr_two (deduplicated)\nline 5: started wfr_five\n"),
        "{err}"
    );
    assert!(
        err.contains("3 started, 2 failed, 0 invalid, of 5 lines"),
        "{err}"
    );
    let sizes: Vec<usize> = server
        .requests()
        .iter()
        .map(|r| {
            assert_eq!(r.target, "/v2/batch/trigger");
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .unwrap()
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [2, 2, 1]);
}

#[test]
fn cancel_one_and_many() {
    let server = Server::start(vec![(200, ""), (200, r#"{"cancelled":2}"#)]);
    let o = qstash(&["--token", "t", "--url", &server.url, "cancel", "wfr_a"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "cancelled wfr_a\n");
    let o = qstash(&[
        "--token",
        "t",
        "--url",
        &server.url,
        "cancel",
        "wfr_a",
        "wfr_b",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "cancelled 2 of 2 runs\n");
    let reqs = server.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].target.as_str()),
        ("DELETE", "/v2/workflows/runs/wfr_a")
    );
    assert_eq!(reqs[1].method, "DELETE");
    assert!(
        reqs[1]
            .target
            .starts_with("/v2/workflows/runs?workflowRunIds=wfr_a"),
        "{}",
        reqs[1].target
    );

    let o = qstash(&["--token", "t", "--url", &server.url, "cancel", "bad id"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: run id: "), "{}", stderr(&o));
}

#[test]
fn logs_one_page() {
    let server = Server::start(vec![(
        200,
        r#"{"cursor":"c2","runs":[{"workflowRunId":"wfr_a","workflowState":"RUN_SUCCESS","workflowRunCreatedAt":1,"workflowUrl":"https://example.com/wf"}]}"#,
    )]);
    let o = qstash(&[
        "--token",
        "t",
        "--url",
        &server.url,
        "logs",
        "--state",
        "RUN_SUCCESS",
        "--count",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "wfr_a  RUN_SUCCESS  1970-01-01T00:00:00.001Z  https://example.com/wf\nmore: --cursor c2\n"
    );
    assert_eq!(
        server.requests()[0].target,
        "/v2/workflows/logs?count=1&state=RUN_SUCCESS"
    );
    let o = qstash(&[
        "--token",
        "t",
        "--url",
        &server.url,
        "logs",
        "--state",
        "DONE",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown state \"DONE\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn timeout_bounds_a_call_to_a_silent_server() {
    // A server that accepts, reads, and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let o = qstash(&[
        "--token",
        "t",
        "--url",
        &url,
        "trigger",
        "https://example.com/wf",
        "--timeout",
        "300ms",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("timed out: the call took longer than its total timeout of 300ms"),
        "{}",
        stderr(&o)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let o = qstash(&[
        "--token",
        "t",
        "--url",
        &url,
        "cancel",
        "wfr_x",
        "--timeout",
        "0s",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("longer than zero"), "{}", stderr(&o));
}
