//! The body a workflow step delivery carries: the run's steps so far, in the form the official
//! workflow SDKs read. The engine builds it for every step attempt; the workflow code (a
//! trigger's first delivery, a resumed run, `GET /v2/workflows/runs/{id}`) uses it too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use qstash_store::RunStep;
use serde::Serialize;

/// The body of a step delivery: `[{"messageId", "body": <standard base64>, "callType": "step"}]`
/// in step order.
pub(crate) fn steps_body(steps: &[RunStep]) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Raw<'a> {
        message_id: &'a str,
        body: String,
        call_type: &'static str,
    }
    let raw: Vec<Raw<'_>> = steps
        .iter()
        .map(|s| Raw {
            message_id: &s.message_id,
            body: STANDARD.encode(&s.body),
            call_type: "step",
        })
        .collect();
    serde_json::to_vec(&raw).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_body_is_standard_base64_in_order() {
        let steps = [
            RunStep {
                seq: 0,
                message_id: "m0".into(),
                body: br#"{"n":1}"#.to_vec(),
                created_at: 1,
            },
            RunStep {
                seq: 1,
                message_id: "m1".into(),
                body: vec![0xfb, 0xff],
                created_at: 2,
            },
        ];
        let body = String::from_utf8(steps_body(&steps)).unwrap();
        assert_eq!(
            body,
            r#"[{"messageId":"m0","body":"eyJuIjoxfQ==","callType":"step"},{"messageId":"m1","body":"+/8=","callType":"step"}]"#
        );
    }
}
