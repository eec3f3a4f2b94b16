//! Checks of the dead-letter queue: list, get, delete, and the workflow filter.

use super::{T0, create, dead_letter, linked, message, new_run};
use crate::{DlqFilter, RunLink, Store};

/// Dead letters: newest first, filters, cursor, get, delete, all per tenant.
pub async fn dlq_list_get_delete<S: Store>(store: &S) {
    for i in 0..6u16 {
        let mut m = message("t1", &format!("msg_{i}"), T0);
        if i % 2 == 0 {
            m.labels = vec!["even".to_string(), "e%".to_string()];
            m.destination = "https://example.com/even".to_string();
        }
        dead_letter(store, m, &format!("dlq_{i}"), 500 + i % 3).await;
    }
    dead_letter(store, message("t2", "msg_other", T0), "dlq_other", 500).await;

    let list = |filter: DlqFilter, count: usize| async move {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_dlq("t1", &filter, cursor, count)
                .await
                .expect("list_dlq");
            assert!(page.items.len() <= count);
            out.extend(page.items.into_iter().map(|e| e.dlq_id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return out,
            }
        }
    };
    assert_eq!(
        list(DlqFilter::default(), 4).await,
        ["dlq_5", "dlq_4", "dlq_3", "dlq_2", "dlq_1", "dlq_0"],
        "newest first, across pages"
    );
    assert_eq!(
        list(DlqFilter::default(), 2).await,
        ["dlq_5", "dlq_4", "dlq_3", "dlq_2", "dlq_1", "dlq_0"]
    );
    let even = DlqFilter {
        urls: vec!["https://example.com/even".to_string()],
        ..DlqFilter::default()
    };
    assert_eq!(list(even, 1).await, ["dlq_4", "dlq_2", "dlq_0"]);
    let label = DlqFilter {
        labels: vec!["e%".to_string()],
        ..DlqFilter::default()
    };
    assert_eq!(list(label, 10).await, ["dlq_4", "dlq_2", "dlq_0"]);
    let partial = DlqFilter {
        labels: vec!["e".to_string()],
        ..DlqFilter::default()
    };
    assert!(list(partial, 10).await.is_empty(), "labels match whole");
    let status = DlqFilter {
        response_statuses: vec![501],
        ..DlqFilter::default()
    };
    assert_eq!(list(status, 10).await, ["dlq_4", "dlq_1"]);
    let both = DlqFilter {
        response_statuses: vec![501],
        labels: vec!["even".to_string()],
        ..DlqFilter::default()
    };
    assert_eq!(list(both, 10).await, ["dlq_4"]);

    assert!(
        store
            .get_dlq("t1", "dlq_other")
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_dlq("t1", "dlq_nope")
            .await
            .expect("get")
            .is_none()
    );
    let entry = store
        .get_dlq("t1", "dlq_3")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(entry.message.message.id, "msg_3");
    assert_eq!(entry.response.status, Some(500));

    let ids: Vec<String> = ["dlq_1", "dlq_3", "dlq_other", "dlq_nope", "dlq_3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(store.delete_dlq("t1", &ids).await.expect("delete"), 2);
    assert_eq!(
        list(DlqFilter::default(), 10).await,
        ["dlq_5", "dlq_4", "dlq_2", "dlq_0"]
    );
    assert!(
        store
            .get_dlq("t2", "dlq_other")
            .await
            .expect("get")
            .is_some(),
        "another tenant's dead letter is untouched"
    );
    assert_eq!(store.delete_dlq("t1", &[]).await.expect("delete"), 0);
    // A dead letter added after a deletion still lists newest first.
    dead_letter(store, message("t1", "msg_9", T0), "dlq_9", 500).await;
    assert_eq!(
        list(DlqFilter::default(), 3).await,
        ["dlq_9", "dlq_5", "dlq_4", "dlq_2", "dlq_0"]
    );
}

/// `DlqFilter::workflow`: `Some(true)` lists only dead letters of messages linked to a run,
/// `Some(false)` only the others, `None` both.
pub async fn dlq_workflow_filter<S: Store>(store: &S) {
    create(
        store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_init", T0 + 1_000), "wfr_a", true),
        T0,
    )
    .await;
    dead_letter(store, message("t1", "msg_plain", T0), "dlq_plain", 500).await;
    dead_letter(
        store,
        linked(message("t1", "msg_step", T0), "wfr_a", true),
        "dlq_step",
        500,
    )
    .await;
    dead_letter(
        store,
        linked(message("t1", "msg_call", T0), "wfr_a", false),
        "dlq_call",
        500,
    )
    .await;
    let list = async |workflow: Option<bool>| -> Vec<String> {
        let filter = DlqFilter {
            workflow,
            ..DlqFilter::default()
        };
        store
            .list_dlq("t1", &filter, None, 10)
            .await
            .expect("list_dlq")
            .items
            .into_iter()
            .map(|e| e.dlq_id)
            .collect()
    };
    assert_eq!(list(Some(true)).await, ["dlq_call", "dlq_step"]);
    assert_eq!(list(Some(false)).await, ["dlq_plain"]);
    assert_eq!(list(None).await, ["dlq_call", "dlq_step", "dlq_plain"]);
    let entry = store
        .get_dlq("t1", "dlq_step")
        .await
        .expect("get_dlq")
        .expect("exists");
    assert_eq!(
        entry.message.message.run,
        Some(RunLink {
            run_id: "wfr_a".to_string(),
            step: true
        })
    );
}
