//! Tokens made by `Signer` are accepted by the official receiver, `Receiver` from the npm package
//! `@upstash/qstash` (pinned), run by Node; tampered ones are refused.
//!
//! The package is installed once into the target directory (`npm install` runs only when it is
//! absent). A failing `npm` or `node` fails the test.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qstash_signature::{Claims, Signer, generate_signing_key};
use serde_json::{Value, json};

const PACKAGE: &str = "@upstash/qstash";
const VERSION: &str = "2.12.0";
/// The keys of the official development server, built into the package's dev mode.
const DEV_CURRENT: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
const DEV_NEXT: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";

const SCRIPT: &str = r#"
const { Receiver } = require("@upstash/qstash");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  const results = [];
  for (const c of JSON.parse(input)) {
    const receiver = c.devMode
      ? new Receiver({ devMode: true })
      : new Receiver({ currentSigningKey: c.current, nextSigningKey: c.next, devMode: false });
    const request = { signature: c.signature, body: c.body };
    if (c.url !== null) request.url = c.url;
    try {
      results.push({ ok: await receiver.verify(request) === true });
    } catch (e) {
      results.push({ ok: false, error: String(e && e.message) });
    }
  }
  process.stdout.write(JSON.stringify(results));
});
"#;

/// The directory holding `node_modules/@upstash/qstash` at the pinned version.
fn installed_package() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-qstash");
    let manifest = dir.join("node_modules/@upstash/qstash/package.json");
    let installed = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .is_some_and(|m| m["version"] == VERSION);
    if !installed {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), r#"{"private":true}"#).unwrap();
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--save-exact"])
            .arg(format!("{PACKAGE}@{VERSION}"))
            .current_dir(&dir)
            .output()
            .expect("running npm (is Node installed?)");
        assert!(
            out.status.success(),
            "npm install {PACKAGE}@{VERSION} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

struct Case {
    name: &'static str,
    signature: String,
    body: String,
    url: Option<String>,
    keys: Option<(String, String)>,
    accept: bool,
}

#[test]
fn official_receiver_accepts_our_tokens() {
    let current = generate_signing_key();
    let next = generate_signing_key();
    let keys = Some((current.clone(), next.clone()));
    let signer = Signer::new(current.clone());
    let url = "https://example.com/api/hook?id=7&q=a%20b";
    let json_body = r#"{"hello":"world","n":[1,2,3]}"#.to_owned();
    // Every ASCII byte including NUL and controls, plus 2-, 3- and 4-byte UTF-8 sequences.
    let binary_body: String = (0u8..128)
        .map(char::from)
        .chain("é✓𝄞\u{feff}\u{10ffff}".chars())
        .collect();

    let case = |name, signature, body: &str, url: Option<&str>, accept| Case {
        name,
        signature,
        body: body.to_owned(),
        url: url.map(str::to_owned),
        keys: keys.clone(),
        accept,
    };
    let mut unpadded = Claims::new(url, json_body.as_bytes(), now());
    unpadded.body = unpadded.body.trim_end_matches('=').to_owned();
    let token = signer.sign(url, json_body.as_bytes());
    let forged = {
        let (h, rest) = token.split_once('.').unwrap();
        let (_, s) = rest.split_once('.').unwrap();
        let mut claims = Claims::new("https://evil.example/", json_body.as_bytes(), now());
        claims.jti = "jwt_forged".into();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        format!("{h}.{payload}.{s}")
    };

    let mut cases = vec![
        case(
            "json body with url",
            token.clone(),
            &json_body,
            Some(url),
            true,
        ),
        case(
            "json body without url",
            token.clone(),
            &json_body,
            None,
            true,
        ),
        case("empty body", signer.sign(url, b""), "", Some(url), true),
        case(
            "binary body",
            signer.sign(url, binary_body.as_bytes()),
            &binary_body,
            Some(url),
            true,
        ),
        case(
            "next key",
            Signer::new(next.clone()).sign(url, b"rotated"),
            "rotated",
            Some(url),
            true,
        ),
        case(
            "unpadded body claim",
            signer.sign_claims(&unpadded),
            &json_body,
            Some(url),
            true,
        ),
        case("tampered body", token.clone(), "{}", Some(url), false),
        case(
            "wrong url",
            token.clone(),
            &json_body,
            Some("https://example.com/other"),
            false,
        ),
        case("forged claims", forged, &json_body, None, false),
        case(
            "unknown key",
            Signer::new(generate_signing_key()).sign(url, b"x"),
            "x",
            None,
            false,
        ),
        case(
            "expired",
            signer.sign_at(url, b"x", now() - 1000),
            "x",
            None,
            false,
        ),
    ];
    for (name, key) in [("dev current key", DEV_CURRENT), ("dev next key", DEV_NEXT)] {
        cases.push(Case {
            name,
            signature: Signer::new(key).sign("http://localhost:3000/api", b"dev"),
            body: "dev".into(),
            url: Some("http://localhost:3000/api".into()),
            keys: None,
            accept: true,
        });
    }

    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "signature": c.signature,
                "body": c.body,
                "url": c.url,
                "devMode": c.keys.is_none(),
                "current": c.keys.as_ref().map(|k| &k.0),
                "next": c.keys.as_ref().map(|k| &k.1),
            })
        })
        .collect();

    let dir = installed_package();
    let mut node = Command::new("node")
        .args(["-e", SCRIPT])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node");
    node.stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = node.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), cases.len());

    let wrong: Vec<String> = cases
        .iter()
        .zip(&results)
        .filter(|(c, r)| r["ok"] != c.accept)
        .map(|(c, r)| format!("{}: expected accept={}, got {r}", c.name, c.accept))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
