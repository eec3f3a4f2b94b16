//! The table of known headers agrees with itself and with both decoders: a header is decoded
//! (here: refused for a malformed value) exactly by the requests its scope names, and is
//! otherwise ignored (a trigger) or kept as an extra header (a message).

use bytes::Bytes;
use http::Request;
use qstash_protocol::header::{self, ForwardPrefix, Known};
use qstash_protocol::{PublishRequest, TriggerRequest};

#[test]
fn rows_are_consistent() {
    assert_eq!(Known::ALL.len(), 15);
    for &k in Known::ALL {
        assert_eq!(Known::from_name(k.as_str()), Some(k));
        assert_eq!(k.name().as_str(), k.as_str());
        assert_eq!(k.canonical().to_ascii_lowercase(), k.as_str());
        assert_eq!(header::canonical(&k.name()), Some(k.canonical()));
        assert!(k.scope().trigger() || k.scope().message());
    }
    for &p in ForwardPrefix::ALL {
        assert_eq!(p.canonical().to_ascii_lowercase(), p.as_str());
        let name = format!("{}x-a", p.as_str());
        assert_eq!(ForwardPrefix::split(&name), Some((p, "x-a")));
        assert_eq!(Known::from_name(&name), None);
    }
    assert_eq!(ForwardPrefix::split("upstash-delay"), None);
}

/// A value no known header accepts: a control byte is refused by the free-form check, and
/// every other grammar refuses a space.
const BAD: &str = "a b";

#[test]
fn each_decoder_reads_exactly_its_rows() {
    for &k in Known::ALL {
        if k == Known::ContentType {
            continue; // free-form: "a b" is a valid content type
        }
        let req = |path: &str| {
            Request::post(path)
                .header(k.name(), BAD)
                .body(Bytes::new())
                .unwrap()
        };
        let trigger = TriggerRequest::from_http(&req("/v2/trigger/https://example.com/x"));
        assert_eq!(trigger.is_err(), k.scope().trigger(), "{k:?}: {trigger:?}");
        if let Err(e) = trigger {
            assert_eq!(e.field(), Some(k.canonical()));
        }
        let message = PublishRequest::from_http(&req("/v2/publish/https://example.com/x"));
        assert_eq!(message.is_err(), k.scope().message(), "{k:?}: {message:?}");
        match message {
            Err(e) => assert_eq!(e.field(), Some(k.canonical())),
            Ok(m) => assert_eq!(m.extra_header(k.as_str()).unwrap(), BAD),
        }
    }
}
