//! Bodies and queries of the message API: the upstream JSON shapes, round trips of the
//! queries, errors naming the parameter, and keys kept out of `Debug`.

use proptest::prelude::*;
use qstash_protocol::{
    CallbackBody, CallbackState, DlqBulkRetryResponse, DlqDelete, DlqDeleteResponse,
    DlqListResponse, DlqMessage, DlqQuery, DlqRetryResponse, Event, EventState, EventsQuery,
    EventsResponse, Label, Message, PublishResponse, SigningKeysResponse,
};
use serde_json::json;

fn token() -> impl Strategy<Value = String> {
    "[!-+--~]{1,30}"
}

fn events_query() -> impl Strategy<Value = EventsQuery> {
    (
        prop::option::of(token()),
        prop::option::of(any::<u32>()),
        prop::option::of(token()),
        prop::option::of(prop::sample::select(EventState::ALL.to_vec())),
        prop::option::of("\\PC{1,30}"),
        prop::option::of("[!-+--~]{1,20}".prop_map(|s| Label::new(s).unwrap())),
    )
        .prop_map(|(cursor, count, message_id, state, url, label)| {
            let mut q = EventsQuery::default();
            q.cursor = cursor;
            q.count = count;
            if let Some(id) = message_id {
                q = q.with_message_id(id);
            }
            if let Some(state) = state {
                q = q.with_state(state);
            }
            if let Some(url) = url {
                q = q.with_url(url);
            }
            if let Some(label) = label {
                q = q.with_label(label);
            }
            q
        })
}

fn dlq_query() -> impl Strategy<Value = DlqQuery> {
    (
        prop::option::of(token()),
        prop::option::of(any::<u32>()),
        prop::option::of("\\PC{1,30}"),
        prop::option::of("[!-+--~]{1,20}".prop_map(|s| Label::new(s).unwrap())),
        prop::option::of(0u16..=599),
        any::<bool>(),
    )
        .prop_map(|(cursor, count, url, label, response_status, workflow)| {
            let mut q = DlqQuery::default();
            q.workflow = workflow;
            q.cursor = cursor;
            q.count = count;
            if let Some(url) = url {
                q = q.with_url(url);
            }
            if let Some(label) = label {
                q = q.with_label(label);
            }
            if let Some(status) = response_status {
                q = q.with_response_status(status);
            }
            q
        })
}

proptest! {
    #[test]
    fn events_query_round_trips(q in events_query()) {
        let s = q.to_query_string();
        prop_assert_eq!(EventsQuery::from_query(&s), Ok(q.clone()));
        prop_assert_eq!(EventsQuery::from_query(&format!("?{s}")), Ok(q));
    }

    #[test]
    fn dlq_query_round_trips(q in dlq_query()) {
        prop_assert_eq!(DlqQuery::from_query(&q.to_query_string()), Ok(q));
    }

    #[test]
    fn dlq_delete_round_trips(ids in prop::collection::vec(token(), 1..5)) {
        let del = DlqDelete::new(ids).unwrap();
        prop_assert_eq!(DlqDelete::from_query(&del.to_query_string()), Ok(del));
    }

    #[test]
    fn queries_never_panic(s in "\\PC{0,60}") {
        let _ = EventsQuery::from_query(&s);
        let _ = DlqQuery::from_query(&s);
        let _ = DlqDelete::from_query(&s);
    }

    #[test]
    fn bodies_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut m = Message::new("msg_1", "https://example.com", 1);
        m.set_body(&bytes);
        let back: Message = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        prop_assert_eq!(back.body_bytes().unwrap(), bytes.clone());
        let mut d = DlqMessage::new("dlq_1", "msg_1", "https://example.com", 1);
        d.set_response_body(&bytes);
        let back: DlqMessage = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        prop_assert_eq!(back.response_body_bytes().unwrap(), bytes.clone());
        let mut cb = CallbackBody::default();
        cb.set_body(&bytes);
        cb.set_source_body(&bytes);
        prop_assert_eq!(cb.body_bytes().unwrap(), bytes.clone());
        prop_assert_eq!(cb.source_body_bytes().unwrap(), bytes);
    }
}

#[test]
fn query_errors_name_the_parameter() {
    for (q, field) in [
        ("count=-1", "count"),
        ("count=4294967296", "count"),
        ("state=DONE", "state"),
        ("cursor=a%20b", "cursor"),
        ("messageId=a%20b", "messageIds"),
        ("label=a%20b", "label"),
        ("url=%zz", "url"),
        ("unknown=1", "unknown"),
    ] {
        let err = EventsQuery::from_query(q).unwrap_err();
        assert_eq!(err.field(), Some(field), "{q}: {err}");
    }
    for (q, field) in [
        ("responseStatus=600", "responseStatus"),
        ("responseStatus=x", "responseStatus"),
        ("cursor=1&cursor=2", "cursor"),
    ] {
        let err = DlqQuery::from_query(q).unwrap_err();
        assert_eq!(err.field(), Some(field), "{q}: {err}");
    }
    assert_eq!(
        DlqDelete::from_query("other=1").unwrap_err().to_string(),
        "at least one dlqIds parameter is needed"
    );
    assert_eq!(
        DlqDelete::from_query("dlqIds=a%20b").unwrap_err().field(),
        Some("dlqIds")
    );
    let q = EventsQuery::from_query("cursor=&count=&unknown=").unwrap();
    assert_eq!(q, EventsQuery::default());
    // Repeated keys and comma lists are lists.
    let q = EventsQuery::from_query("state=CREATED&state=ACTIVE&label=a,b&label=c").unwrap();
    assert_eq!(q.filter.states, [EventState::Created, EventState::Active]);
    assert_eq!(q.filter.labels.len(), 3);
    assert_eq!(q.state, Some(EventState::Created));
}

#[test]
fn event_states_are_the_wire_names() {
    for s in EventState::ALL {
        assert_eq!(s.to_string().parse::<EventState>().unwrap(), s);
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
    let e: Event = serde_json::from_value(json!({
        "time": 1, "messageId": "msg_1", "state": "CANCELED", "url": "https://x.example",
        "nextDeliveryTime": 2, "labels": ["a", "b"], "label": "a", "topicName": "ignored"
    }))
    .unwrap();
    assert_eq!(e.state, EventState::Cancelled);
    assert_eq!(e.next_delivery_time, Some(2));
    assert_eq!(e.labels, ["a", "b"]);
    assert!(
        serde_json::from_value::<Event>(json!({
            "time": 1, "messageId": "m", "state": "NOPE", "url": "u"
        }))
        .is_err()
    );
}

#[test]
fn events_response_shape() {
    let r = EventsResponse::new(
        vec![Event::new(
            5,
            "msg_1",
            EventState::Delivered,
            "https://x.example",
        )],
        Some("4".into()),
    );
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"cursor": "4", "events": [
            {"time": 5, "messageId": "msg_1", "state": "DELIVERED", "url": "https://x.example"}
        ]})
    );
    let last: EventsResponse = serde_json::from_str(r#"{"events":[]}"#).unwrap();
    assert_eq!(last.cursor, None);
}

#[test]
fn message_shape_follows_upstream() {
    let mut m = Message::new("msg_1", "https://x.example/a?b=1", 1_000);
    m.method = Some("PUT".into());
    m.header
        .insert("Content-Type".into(), vec!["text/plain".into()]);
    m.set_body(b"hi");
    m.max_retries = Some(3);
    m.not_before = Some(0);
    m.callback = Some("https://x.example/cb".into());
    m.failure_callback = Some("https://x.example/fcb".into());
    m.set_labels(["a", "b"]);
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({
            "messageId": "msg_1", "url": "https://x.example/a?b=1", "method": "PUT",
            "header": {"Content-Type": ["text/plain"]}, "body": "hi", "maxRetries": 3,
            "notBefore": 0, "createdAt": 1000, "callback": "https://x.example/cb",
            "failureCallback": "https://x.example/fcb", "label": "a", "labels": ["a", "b"]
        })
    );
    // Upstream answers carry more fields, which are ignored.
    let m: Message = serde_json::from_value(json!({
        "messageId": "m", "url": "u", "createdAt": 1, "topicName": "t", "callerIp": "1.2.3.4"
    }))
    .unwrap();
    assert_eq!(m.body_bytes().unwrap(), b"");
}

#[test]
fn dlq_shapes() {
    let mut d = DlqMessage::new("dlq_1", "msg_1", "https://x.example", 7);
    d.set_body(&[0xC3, 0x28]);
    d.response_status = Some(502);
    d.response_header
        .insert("Retry-After".into(), vec!["5".into()]);
    d.failure_callback_state = Some(CallbackState::Fail);
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["bodyBase64"], "wyg=");
    assert_eq!(v["failureCallbackState"], "CALLBACK_FAIL");
    assert_eq!(v["responseHeader"], json!({"Retry-After": ["5"]}));
    assert!(v.get("body").is_none());

    let list = DlqListResponse::new(vec![d.clone()], None);
    let back: DlqListResponse =
        serde_json::from_str(&serde_json::to_string(&list).unwrap()).unwrap();
    assert_eq!(back, list);

    assert_eq!(
        serde_json::to_string(&DlqDeleteResponse::new(2)).unwrap(),
        r#"{"deleted":2}"#
    );
    assert_eq!(
        serde_json::to_string(&DlqRetryResponse::new("msg_9")).unwrap(),
        r#"{"messageId":"msg_9"}"#
    );
    let bulk: DlqBulkRetryResponse =
        serde_json::from_str(r#"{"cursor":"3","responses":[{"messageId":"a"}]}"#).unwrap();
    assert_eq!(bulk.cursor.as_deref(), Some("3"));
}

#[test]
fn callback_body_shape() {
    let mut cb = CallbackBody::default();
    cb.status = 0;
    cb.set_body(b"connection refused");
    cb.retried = 3;
    cb.max_retries = 3;
    cb.source_message_id = "msg_1".into();
    cb.url = "https://x.example".into();
    cb.method = "POST".into();
    cb.created_at = 1_767_225_600_000;
    cb.workflow_run_id = Some("wfr_1".into());
    cb.workflow_created_at = Some(5);
    let v = serde_json::to_value(&cb).unwrap();
    assert_eq!(
        v,
        json!({
            "status": 0, "header": {}, "body": "Y29ubmVjdGlvbiByZWZ1c2Vk", "retried": 3,
            "maxRetries": 3, "sourceMessageId": "msg_1", "url": "https://x.example",
            "method": "POST", "sourceHeader": {}, "sourceBody": "", "createdAt": 1767225600000u64,
            "notBefore": 0, "workflowRunId": "wfr_1", "workflowCreatedAt": 5
        })
    );
}

#[test]
fn publish_response_shape() {
    let mut r = PublishResponse::new("msg_1");
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"messageId":"msg_1"}"#
    );
    r.deduplicated = true;
    r.url = Some("https://x.example".into());
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"messageId":"msg_1","deduplicated":true,"url":"https://x.example"}"#
    );
    let batch: Vec<PublishResponse> =
        serde_json::from_str(r#"[{"messageId":"a"},{"messageId":"b","deduplicated":true}]"#)
            .unwrap();
    assert!(!batch[0].deduplicated && batch[1].deduplicated);
}

#[test]
fn signing_keys_stay_out_of_debug() {
    let keys = SigningKeysResponse::new("sig_current_secret", "sig_next_secret");
    let shown = format!("{keys:?} {keys:#?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert_eq!(
        serde_json::to_value(&keys).unwrap(),
        json!({"current": "sig_current_secret", "next": "sig_next_secret"})
    );
}

#[test]
fn bulk_run_cancel_takes_the_sdk_forms() {
    use qstash_protocol::BulkCancel;
    let req = |q: &str| {
        http::Request::builder()
            .method(http::Method::DELETE)
            .uri(format!("https://h/v2/workflows/runs?{q}"))
            .body(bytes::Bytes::new())
            .unwrap()
    };
    let c = BulkCancel::from_http(&req("workflowRunIds=wfr_a&workflowRunIds=wfr_b,wfr_c")).unwrap();
    let ids: Vec<&str> = c.run_ids().iter().map(|r| r.as_str()).collect();
    assert_eq!(ids, ["wfr_a", "wfr_b", "wfr_c"]);
    let c = BulkCancel::from_http(&req("workflowUrl=https%3A%2F%2Fa.test%2Fw&count=100")).unwrap();
    assert!(!c.workflow_url_exact(), "a prefix by default");
    let c = BulkCancel::from_http(&req(
        "workflowUrl=https%3A%2F%2Fa.test%2Fw&workflowUrlExactMatch=true&count=100",
    ))
    .unwrap();
    assert!(c.workflow_url_exact());
    let c = BulkCancel::from_http(&req("count=100")).unwrap();
    assert!(c.all());
    assert_eq!(
        BulkCancel::from_http(&c.to_http(&"https://h".parse().unwrap())).unwrap(),
        c
    );
    assert!(BulkCancel::from_http(&req("")).is_err());
    let err = BulkCancel::from_http(&req("callerIp=1.2.3.4")).unwrap_err();
    assert_eq!(err.field(), Some("callerIp"));
}
