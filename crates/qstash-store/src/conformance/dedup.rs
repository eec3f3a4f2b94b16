//! Checks of deduplication: an id is remembered for its window, per tenant, also within one call.

use super::{T0, get, insert, message, states_of, with_dedup};
use crate::{InsertOutcome, Store};

/// A deduplication id still remembered refuses a second message, naming the first.
pub async fn dedup_within_window<S: Store>(store: &S) {
    let until = T0 + 1_000;
    insert(
        store,
        vec![with_dedup(message("t1", "msg_a", T0), "x", until)],
        T0,
    )
    .await;
    let out = store
        .insert_messages(
            vec![with_dedup(message("t1", "msg_b", T0), "x", until + 500)],
            until - 1,
        )
        .await
        .expect("insert");
    assert_eq!(
        out,
        vec![InsertOutcome::Deduplicated {
            existing_id: "msg_a".to_string()
        }]
    );
    assert_eq!(store.get_message("t1", "msg_b").await.expect("get"), None);
    assert_eq!(states_of(store, "t1", "msg_b").await, Vec::<String>::new());
}

/// Once `until` has come, the id is free again; the new message then owns it.
pub async fn dedup_after_window<S: Store>(store: &S) {
    let until = T0 + 1_000;
    insert(
        store,
        vec![with_dedup(message("t1", "msg_a", T0), "x", until)],
        T0,
    )
    .await;
    insert(
        store,
        vec![with_dedup(message("t1", "msg_b", T0), "x", until + 1_000)],
        until,
    )
    .await;
    let out = store
        .insert_messages(
            vec![with_dedup(message("t1", "msg_c", T0), "x", until + 5_000)],
            until + 1,
        )
        .await
        .expect("insert");
    assert_eq!(
        out,
        vec![InsertOutcome::Deduplicated {
            existing_id: "msg_b".to_string()
        }]
    );
}

/// Two messages with one deduplication id in one call: the first is stored, the second names it.
pub async fn dedup_twice_in_one_call<S: Store>(store: &S) {
    let until = T0 + 1_000;
    let out = store
        .insert_messages(
            vec![
                with_dedup(message("t1", "msg_a", T0), "x", until),
                message("t1", "msg_b", T0),
                with_dedup(message("t1", "msg_c", T0), "x", until),
            ],
            T0,
        )
        .await
        .expect("insert");
    assert_eq!(
        out,
        vec![
            InsertOutcome::Inserted,
            InsertOutcome::Inserted,
            InsertOutcome::Deduplicated {
                existing_id: "msg_a".to_string()
            }
        ]
    );
    assert_eq!(store.get_message("t1", "msg_c").await.expect("get"), None);
}

/// Deduplication ids are per tenant.
pub async fn dedup_is_per_tenant<S: Store>(store: &S) {
    let until = T0 + 1_000;
    insert(
        store,
        vec![with_dedup(message("t1", "msg_a", T0), "x", until)],
        T0,
    )
    .await;
    insert(
        store,
        vec![with_dedup(message("t2", "msg_b", T0), "x", until)],
        T0,
    )
    .await;
    get(store, "t2", "msg_b").await;
}
