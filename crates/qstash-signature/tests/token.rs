//! The token's exact encoding, its HMAC, and every verification outcome.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use qstash_signature::{Claims, Receiver, Signer, VerifyError, body_hash, generate_signing_key};
use sha2::{Digest, Sha256};

const CURRENT: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
const NEXT: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";
const URL: &str = "https://example.com/api/hook?x=1&y=%20";
const T: u64 = 1_700_000_000;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn parts(token: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let p: Vec<&str> = token.split('.').collect();
    assert_eq!(p.len(), 3, "{token}");
    let d = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
    (d(p[0]), d(p[1]), d(p[2]))
}

/// An HS256 token over arbitrary header and payload JSON, built without the crate.
fn raw_token(key: &str, header: &str, payload: &str) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn claims_at(now: u64) -> Claims {
    Claims::new(URL, b"payload", now)
}

#[test]
fn exact_header_claims_and_body_hash() {
    let body = br#"{"hello":"world"}"#;
    let before = now();
    let token = Signer::new(CURRENT).sign(URL, body);
    let after = now();

    let (header, payload, _) = parts(&token);
    assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);

    let text = String::from_utf8(payload.clone()).unwrap();
    let names = ["iss", "sub", "exp", "nbf", "iat", "jti", "body"];
    let positions: Vec<usize> = names
        .iter()
        .map(|n| text.find(&format!("\"{n}\":")).unwrap())
        .collect();
    assert!(positions.is_sorted(), "claims in upstream order: {text}");
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&payload).unwrap();
    let mut keys: Vec<&str> = json.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = names.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "exactly these claims, no aud");

    assert_eq!(json["iss"], "Upstash");
    assert_eq!(json["sub"], URL);
    let iat = json["iat"].as_u64().unwrap();
    assert_eq!(json["nbf"].as_u64(), Some(iat));
    assert!(
        before <= iat && iat <= after,
        "{before} <= {iat} <= {after}"
    );
    assert_eq!(json["exp"].as_u64(), Some(iat + 300));
    let jti = json["jti"].as_str().unwrap();
    assert!(jti.starts_with("jwt_") && jti.len() == 28, "{jti}");

    let independent = URL_SAFE.encode(Sha256::digest(body));
    assert_eq!(json["body"], independent.as_str());
    assert_eq!(independent.len(), 44);
    assert!(independent.ends_with('='), "padded like upstream");
    assert_eq!(body_hash(body), independent);
    assert_eq!(
        body_hash(b""),
        "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
    );
}

#[test]
fn sign_at_fixes_the_times_and_jti_is_unique() {
    let signer = Signer::new(CURRENT);
    let a = signer.sign_at(URL, b"", T);
    let b = signer.sign_at(URL, b"", T);
    let ca = Receiver::new(CURRENT, NEXT)
        .verify_at(&a, b"", None, T)
        .unwrap();
    let cb = Receiver::new(CURRENT, NEXT)
        .verify_at(&b, b"", None, T)
        .unwrap();
    assert_eq!((ca.iat, ca.nbf, ca.exp), (T, T, T + 300));
    assert_ne!(ca.jti, cb.jti);
    assert_ne!(a, b);
    // With the claims fixed, the token is fixed.
    assert_eq!(signer.sign_claims(&ca), a);
}

#[test]
fn hmac_key_is_the_printed_key_bytes() {
    let token = Signer::new(CURRENT).sign_at(URL, b"x", T);
    let (signed, mac) = token.rsplit_once('.').unwrap();
    let mut expected = Hmac::<Sha256>::new_from_slice(CURRENT.as_bytes()).unwrap();
    expected.update(signed.as_bytes());
    expected
        .verify_slice(&URL_SAFE_NO_PAD.decode(mac).unwrap())
        .unwrap();

    // And a token made entirely outside the crate verifies.
    let payload = format!(
        r#"{{"iss":"Upstash","sub":"{URL}","exp":{},"nbf":{T},"iat":{T},"jti":"jwt_x","body":"{}"}}"#,
        T + 300,
        URL_SAFE_NO_PAD.encode(Sha256::digest(b"x")),
    );
    let outside = raw_token(CURRENT, r#"{"alg":"HS256","typ":"JWT"}"#, &payload);
    let claims = Receiver::new(CURRENT, NEXT)
        .verify_at(&outside, b"x", Some(URL), T)
        .unwrap();
    assert_eq!(claims.jti, "jwt_x");
}

#[test]
fn either_key_is_accepted() {
    let receiver = Receiver::new(CURRENT, NEXT);
    for key in [CURRENT, NEXT] {
        let token = Signer::new(key).sign(URL, b"body");
        let claims = receiver.verify(&token, b"body", Some(URL)).unwrap();
        assert_eq!(claims.sub, URL);
    }
    let other = Signer::new(generate_signing_key()).sign(URL, b"body");
    assert_eq!(
        receiver.verify(&other, b"body", Some(URL)),
        Err(VerifyError::BadSignature)
    );
    // The key is the string, not a decoding of it: a near miss fails.
    let near = Signer::new(&CURRENT[4..]).sign(URL, b"body");
    assert_eq!(
        receiver.verify(&near, b"body", None),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn unpadded_body_claim_is_accepted() {
    let mut claims = claims_at(T);
    claims.body = claims.body.trim_end_matches('=').to_owned();
    let token = Signer::new(CURRENT).sign_claims(&claims);
    assert!(
        Receiver::new(CURRENT, NEXT)
            .verify_at(&token, b"payload", None, T)
            .is_ok()
    );
}

fn malformed(token: &str) -> String {
    match Receiver::new(CURRENT, NEXT).verify_at(token, b"payload", None, T) {
        Err(VerifyError::Malformed { reason }) => reason,
        other => panic!("{token:?}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn malformed_tokens() {
    let good = Signer::new(CURRENT).sign_claims(&claims_at(T));
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    for token in ["", "abc", "a.b", &format!("{good}.x"), &format!("{h}.{p}")] {
        assert_eq!(malformed(token), "not three dot-separated parts");
    }
    assert_eq!(
        malformed(&format!("{h}=.{p}.{s}")),
        "header is not base64url"
    );
    assert_eq!(
        malformed(&format!("{h}.{p}.{s}=")),
        "signature is not base64url"
    );
    assert_eq!(
        malformed(&format!("{h}.{p}.*")),
        "signature is not base64url"
    );
    assert_eq!(
        malformed(&format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode("[]"))),
        "header is not a JSON object with \"alg\""
    );
    for alg in ["none", "HS512", "RS256"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let token = format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode(header));
        assert_eq!(malformed(&token), "algorithm is not HS256");
    }

    // Correctly signed, but the claims are not what a token must carry.
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let missing_body = format!(
        r#"{{"iss":"Upstash","sub":"u","exp":{},"nbf":{T},"iat":{T},"jti":"j"}}"#,
        T + 300
    );
    assert!(malformed(&raw_token(CURRENT, header, &missing_body)).contains("missing field `body`"));
    let float_exp = format!(
        r#"{{"iss":"Upstash","sub":"u","exp":{}.5,"nbf":{T},"iat":{T},"jti":"j","body":"b"}}"#,
        T + 300
    );
    assert!(malformed(&raw_token(CURRENT, header, &float_exp)).starts_with("claims: "));
    assert!(malformed(&raw_token(CURRENT, header, "not json")).starts_with("claims: "));
    // A header without typ is fine.
    let payload = serde_json::to_string(&claims_at(T)).unwrap();
    let no_typ = raw_token(CURRENT, r#"{"alg":"HS256"}"#, &payload);
    assert!(
        Receiver::new(CURRENT, NEXT)
            .verify_at(&no_typ, b"payload", None, T)
            .is_ok()
    );
}

#[test]
fn tampering_breaks_the_signature() {
    let token = Signer::new(CURRENT).sign_claims(&claims_at(T));
    let (h, rest) = token.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let mut claims = claims_at(T);
    claims.sub = "https://evil.example/".into();
    let forged = format!(
        "{h}.{}.{s}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    let receiver = Receiver::new(CURRENT, NEXT);
    assert_eq!(
        receiver.verify_at(&forged, b"payload", None, T),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn each_claim_check_has_its_error() {
    let signer = Signer::new(NEXT);
    let receiver = Receiver::new(CURRENT, NEXT);
    let verify = |claims: &Claims, body: &[u8], url: Option<&str>| {
        receiver.verify_at(&signer.sign_claims(claims), body, url, T)
    };

    let mut c = claims_at(T);
    c.iss = "Someone".into();
    assert_eq!(
        verify(&c, b"payload", None),
        Err(VerifyError::WrongIssuer {
            issuer: "Someone".into()
        })
    );

    let c = claims_at(T - 400);
    assert_eq!(
        verify(&c, b"payload", None),
        Err(VerifyError::Expired {
            exp: T - 100,
            now: T
        })
    );

    let c = claims_at(T + 60);
    assert_eq!(
        verify(&c, b"payload", None),
        Err(VerifyError::NotYetValid {
            not_before: T + 60,
            now: T
        })
    );
    let mut c = claims_at(T);
    c.iat = T + 60;
    assert_eq!(
        verify(&c, b"payload", None),
        Err(VerifyError::NotYetValid {
            not_before: T + 60,
            now: T
        }),
        "a future iat is refused like a future nbf"
    );

    let c = claims_at(T);
    assert_eq!(
        verify(&c, b"payload", Some("https://example.com/api/hook")),
        Err(VerifyError::WrongUrl {
            expected: "https://example.com/api/hook".into(),
            found: URL.into()
        })
    );
    assert!(verify(&c, b"payload", Some(URL)).is_ok());
    assert!(verify(&c, b"payload", None).is_ok(), "no url, no sub check");

    assert_eq!(
        verify(&c, b"payload!", None),
        Err(VerifyError::BodyMismatch)
    );
    assert_eq!(verify(&c, b"", None), Err(VerifyError::BodyMismatch));
}

#[test]
fn clock_tolerance_edges() {
    let token = Signer::new(CURRENT).sign_at(URL, b"", T); // nbf = iat = T, exp = T + 300
    let at = |r: &Receiver, now| r.verify_at(&token, b"", None, now);

    let default = Receiver::new(CURRENT, NEXT);
    assert_eq!(default.clock_tolerance(), Duration::from_secs(5));
    assert!(at(&default, T - 5).is_ok());
    assert_eq!(
        at(&default, T - 6),
        Err(VerifyError::NotYetValid {
            not_before: T,
            now: T - 6
        })
    );
    assert!(at(&default, T + 304).is_ok());
    assert_eq!(
        at(&default, T + 305),
        Err(VerifyError::Expired {
            exp: T + 300,
            now: T + 305
        })
    );

    let strict = Receiver::new(CURRENT, NEXT).with_clock_tolerance(Duration::ZERO);
    assert!(at(&strict, T).is_ok());
    assert!(matches!(
        at(&strict, T - 1),
        Err(VerifyError::NotYetValid { .. })
    ));
    assert!(at(&strict, T + 299).is_ok());
    assert!(matches!(
        at(&strict, T + 300),
        Err(VerifyError::Expired { .. })
    ));

    let loose = Receiver::new(CURRENT, NEXT).with_clock_tolerance(Duration::from_millis(60_900));
    assert_eq!(loose.clock_tolerance(), Duration::from_secs(60));
    assert!(at(&loose, T - 60).is_ok());
    assert!(at(&loose, T - 61).is_err());
    assert!(at(&loose, T + 359).is_ok());
    assert!(at(&loose, T + 360).is_err());

    // Extreme clocks and claims do not overflow.
    let huge = Receiver::new(CURRENT, NEXT).with_clock_tolerance(Duration::MAX);
    assert!(at(&huge, 0).is_ok());
    let mut c = claims_at(u64::MAX);
    c.nbf = 0;
    c.iat = 0;
    let far = Signer::new(CURRENT).sign_claims(&c);
    assert!(
        default
            .verify_at(&far, b"payload", None, u64::MAX - 1)
            .is_ok()
    );
}

#[test]
fn keys_never_show() {
    let signer = Signer::new(CURRENT);
    let receiver = Receiver::new(CURRENT, NEXT);
    for shown in [
        format!("{signer:?}"),
        format!("{receiver:?}"),
        format!("{signer:#?}"),
    ] {
        assert!(!shown.contains(CURRENT) && !shown.contains(NEXT), "{shown}");
        assert!(
            !shown.contains("7kYjw") && !shown.contains("5ZB6D"),
            "{shown}"
        );
    }
    assert_eq!(format!("{signer:?}"), "Signer { key: <redacted> }");

    let token = signer.sign_claims(&claims_at(T));
    let errors = [
        receiver.verify_at("x", b"", None, T),
        receiver.verify_at(&Signer::new("sig_other").sign(URL, b""), b"", None, T),
        receiver.verify_at(&token, b"", None, T),
        receiver.verify_at(&token, b"payload", Some("u"), T),
        receiver.verify_at(&token, b"payload", None, T + 1000),
        receiver.verify_at(&token, b"payload", None, T - 1000),
    ];
    for error in errors {
        let error = error.unwrap_err();
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains(CURRENT) && !shown.contains(NEXT), "{shown}");
        }
    }
}

#[test]
fn types_are_shareable() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Signer>();
    shareable::<Receiver>();
    shareable::<Claims>();
    shareable::<VerifyError>();
}
