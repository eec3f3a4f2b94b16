//! Checks of the list filters with several values, of retrying dead letters and of the bulk
//! cancel of messages.

use super::{T0, dead_letter, get, insert, message};
use crate::{DlqFilter, EventFilter, InsertOutcome, MessageFilter, MessageState, Store};

async fn dlq_ids<S: Store>(store: &S, filter: DlqFilter) -> Vec<String> {
    let page = store
        .list_dlq("t1", &filter, None, 100)
        .await
        .expect("list");
    page.items.into_iter().map(|e| e.dlq_id).collect()
}

async fn event_ids<S: Store>(store: &S, filter: EventFilter) -> Vec<String> {
    let page = store
        .list_events("t1", &filter, None, 100)
        .await
        .expect("events");
    let mut ids: Vec<String> = page.items.into_iter().map(|e| e.message_id).collect();
    ids.dedup();
    ids
}

/// Filters with several values match any of them; separate filters all; data that does not
/// match is left out; dates bound both ends.
pub async fn list_filters_match_any_value<S: Store>(store: &S) {
    for (i, label) in ["a", "b", "c"].into_iter().enumerate() {
        let mut m = message("t1", &format!("msg_{i}"), T0);
        m.labels = vec![label.to_string()];
        m.flow_key = Some(format!("key_{i}"));
        dead_letter(store, m, &format!("dlq_{i}"), 500).await;
    }
    dead_letter(store, message("t2", "msg_x", T0), "dlq_x", 500).await;
    let f = |f: fn(&mut DlqFilter)| {
        let mut d = DlqFilter::default();
        f(&mut d);
        d
    };
    assert_eq!(
        dlq_ids(
            store,
            f(|d| d.dlq_ids = vec!["dlq_0".into(), "dlq_2".into(), "dlq_x".into()])
        )
        .await,
        ["dlq_2", "dlq_0"]
    );
    assert_eq!(
        dlq_ids(store, f(|d| d.message_ids = vec!["msg_1".into()])).await,
        ["dlq_1"]
    );
    assert_eq!(
        dlq_ids(store, f(|d| d.labels = vec!["a".into(), "c".into()])).await,
        ["dlq_2", "dlq_0"]
    );
    assert_eq!(
        dlq_ids(
            store,
            f(|d| d.flow_keys = vec!["key_1".into(), "nope".into()])
        )
        .await,
        ["dlq_1"]
    );
    assert_eq!(
        dlq_ids(
            store,
            f(|d| d.workflow_url = Some("https://example.com/msg_".into()))
        )
        .await,
        ["dlq_2", "dlq_1", "dlq_0"],
        "a prefix"
    );
    let exact = f(|d| {
        d.workflow_url = Some("https://example.com/msg_".into());
        d.workflow_url_exact = true;
    });
    assert!(dlq_ids(store, exact).await.is_empty(), "exact match");
    assert_eq!(
        dlq_ids(store, f(|d| d.from = Some(T0 + 1))).await.len(),
        3,
        "dead letters are added at T0 + 1"
    );
    assert!(dlq_ids(store, f(|d| d.to = Some(T0))).await.is_empty());
    assert!(
        dlq_ids(
            store,
            f(|d| d.failure_callback_states = vec!["CALLBACK_SUCCESS".into()])
        )
        .await
        .is_empty()
    );

    let e = |f: fn(&mut EventFilter)| {
        let mut e = EventFilter::default();
        f(&mut e);
        e
    };
    assert_eq!(
        event_ids(
            store,
            e(|e| {
                e.message_ids = vec!["msg_0".into(), "msg_2".into()];
                e.states = vec!["FAILED".into()];
            })
        )
        .await,
        ["msg_2", "msg_0"]
    );
    assert_eq!(
        event_ids(
            store,
            e(|e| {
                e.labels = vec!["b".into(), "c".into()];
                e.states = vec!["CREATED".into()];
            })
        )
        .await,
        ["msg_2", "msg_1"]
    );
    assert_eq!(
        event_ids(
            store,
            e(|e| {
                e.flow_keys = vec!["key_0".into()];
                e.states = vec!["CREATED".into(), "FAILED".into()];
            })
        )
        .await,
        ["msg_0"]
    );
    assert_eq!(
        event_ids(
            store,
            e(|e| {
                e.urls = vec!["https://example.com/msg_1".into()];
                e.states = vec!["CREATED".into()];
            })
        )
        .await,
        ["msg_1"]
    );
    assert!(
        event_ids(store, e(|e| e.to = Some(T0 - 1)))
            .await
            .is_empty()
    );
    assert!(
        event_ids(store, e(|e| e.from = Some(u64::MAX / 2)))
            .await
            .is_empty()
    );
}

/// A retry stores the new messages and removes their dead letters together; an unknown dead
/// letter (or another tenant's) fails the whole call and changes nothing.
pub async fn retry_dlq_is_all_or_nothing<S: Store>(store: &S) {
    dead_letter(store, message("t1", "msg_a", T0), "dlq_a", 500).await;
    dead_letter(store, message("t1", "msg_b", T0), "dlq_b", 500).await;
    dead_letter(store, message("t2", "msg_c", T0), "dlq_c", 500).await;
    let retry = |id: &str, dlq: &str| (dlq.to_string(), message("t1", id, T0 + 10));
    let err = store
        .retry_dlq(
            "t1",
            vec![retry("msg_a2", "dlq_a"), retry("msg_c2", "dlq_c")],
            T0 + 10,
        )
        .await;
    assert!(err.is_err(), "another tenant's dead letter fails the call");
    assert!(
        store
            .get_message("t1", "msg_a2")
            .await
            .expect("get")
            .is_none()
    );
    assert!(store.get_dlq("t1", "dlq_a").await.expect("get").is_some());
    assert!(store.get_dlq("t2", "dlq_c").await.expect("get").is_some());

    let out = store
        .retry_dlq(
            "t1",
            vec![retry("msg_a2", "dlq_a"), retry("msg_b2", "dlq_b")],
            T0 + 10,
        )
        .await
        .expect("retry");
    assert_eq!(out, vec![InsertOutcome::Inserted, InsertOutcome::Inserted]);
    assert!(store.get_dlq("t1", "dlq_a").await.expect("get").is_none());
    assert!(store.get_dlq("t1", "dlq_b").await.expect("get").is_none());
    assert_eq!(
        get(store, "t1", "msg_b2").await.state,
        MessageState::Pending
    );
    let again = store
        .retry_dlq("t1", vec![retry("msg_a3", "dlq_a")], T0 + 11)
        .await;
    assert!(again.is_err(), "a dead letter is retried once");
}

/// The bulk cancel cancels the tenant's matching messages that are not final, and counts
/// them; nothing of another tenant's.
pub async fn cancel_messages_by_filter<S: Store>(store: &S) {
    let mut msgs = Vec::new();
    for (i, label) in ["x", "x", "y", "z"].into_iter().enumerate() {
        let mut m = message("t1", &format!("msg_{i}"), T0 + 1_000_000);
        m.labels = vec![label.to_string()];
        msgs.push(m);
    }
    let mut theirs = message("t2", "msg_t2", T0 + 1_000_000);
    theirs.labels = vec!["x".to_string()];
    msgs.push(theirs);
    insert(store, msgs, T0).await;
    let by_label = MessageFilter {
        labels: vec!["x".into()],
        ..MessageFilter::default()
    };
    assert_eq!(
        store
            .cancel_messages("t1", &by_label, T0 + 1)
            .await
            .expect("cancel"),
        2
    );
    assert_eq!(
        get(store, "t1", "msg_0").await.state,
        MessageState::Cancelled
    );
    assert_eq!(
        get(store, "t2", "msg_t2").await.state,
        MessageState::Pending
    );
    assert_eq!(
        store
            .cancel_messages("t1", &by_label, T0 + 2)
            .await
            .expect("cancel"),
        0,
        "final messages are not cancelled again"
    );
    let by_id = MessageFilter {
        message_ids: vec!["msg_2".into(), "msg_t2".into()],
        ..MessageFilter::default()
    };
    assert_eq!(
        store
            .cancel_messages("t1", &by_id, T0 + 3)
            .await
            .expect("cancel"),
        1
    );
    assert_eq!(
        store
            .cancel_messages("t1", &MessageFilter::default(), T0 + 4)
            .await
            .expect("cancel"),
        1
    );
    assert_eq!(
        get(store, "t1", "msg_3").await.state,
        MessageState::Cancelled
    );
    assert_eq!(
        get(store, "t2", "msg_t2").await.state,
        MessageState::Pending
    );
}
