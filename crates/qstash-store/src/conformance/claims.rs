//! Checks of claims under leases: order and limit, what is never claimed, a lease that ends,
//! `next_due` and `due_count`, concurrent claims.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{LEASE, T0, claim_one, finish_of, get, insert, message, states_of};
use crate::{CancelOutcome, FinishOutcome, MessageState, Store, Transition};

/// Claims come earliest due first, at most `limit` at a time, each once.
pub async fn claim_order_and_limit<S: Store>(store: &S) {
    insert(
        store,
        vec![
            message("t1", "msg_3", T0 + 300),
            message("t2", "msg_1", T0 + 100),
            message("t1", "msg_2", T0 + 200),
        ],
        T0,
    )
    .await;
    let now = T0 + 1_000;
    assert!(store.claim_due(now, 0).await.expect("claim").is_empty());
    let first = store.claim_due(now, 2).await.expect("claim");
    let ids: Vec<_> = first
        .iter()
        .map(|c| c.message.message.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["msg_1", "msg_2"],
        "earliest due first, limit respected"
    );
    let rest = store.claim_due(now, 10).await.expect("claim");
    let ids: Vec<_> = rest.iter().map(|c| c.message.message.id.as_str()).collect();
    assert_eq!(ids, ["msg_3"]);
    assert!(
        store.claim_due(now, 10).await.expect("claim").is_empty(),
        "claimed once"
    );
}

/// Messages due later, and messages that ended, are not claimed.
pub async fn claim_skips_future_and_final<S: Store>(store: &S) {
    insert(
        store,
        vec![
            message("t1", "msg_now", T0),
            message("t1", "msg_later", T0 + 5_000),
            message("t1", "msg_cancel", T0),
        ],
        T0,
    )
    .await;
    assert_eq!(
        store
            .cancel_message("t1", "msg_cancel", T0)
            .await
            .expect("cancel"),
        CancelOutcome::Cancelled
    );
    let c = claim_one(store, T0 + 1).await;
    assert_eq!(c.message.message.id, "msg_now");
    let out = store
        .finish(vec![finish_of(
            &c,
            T0 + 2,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(out, vec![FinishOutcome::Applied]);
    // Long after the lease: the delivered and cancelled ones are still not claimed.
    let later = store.claim_due(T0 + 4_999, 10).await.expect("claim");
    assert!(later.is_empty(), "nothing due: {later:?}");
    let c = claim_one(store, T0 + 5_000).await;
    assert_eq!(c.message.message.id, "msg_later");
    // Once msg_later's lease ended only it comes back.
    let again = store.claim_due(T0 + 10 * LEASE, 10).await.expect("claim");
    let ids: Vec<_> = again
        .iter()
        .map(|c| c.message.message.id.as_str())
        .collect();
    assert_eq!(ids, ["msg_later"]);
}

/// A claim holds a lease; when the lease ends the same message is claimed again under a new
/// claim number, and the old claim's finish is stale.
pub async fn lease_expiry_reclaims<S: Store>(store: &S) {
    insert(store, vec![message("t1", "msg_a", T0)], T0).await;
    let first = claim_one(store, T0 + 10).await;
    assert_eq!(first.claim, 1, "first claim number");
    assert_eq!(first.lease_until, T0 + 10 + LEASE);
    assert_eq!(first.message.due_at, first.lease_until);
    assert_eq!(first.message.claim, 1);
    assert_eq!(first.message.retried, 0);
    assert_eq!(first.message.state, MessageState::Pending);
    let stored = get(store, "t1", "msg_a").await;
    assert_eq!((stored.due_at, stored.claim), (T0 + 10 + LEASE, 1));
    assert!(
        store
            .claim_due(T0 + 9 + LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "not claimed again during the lease"
    );
    let second = claim_one(store, T0 + 10 + LEASE).await;
    assert_eq!(second.message.message.id, "msg_a", "same message id");
    assert_eq!(second.claim, 2, "new claim number");
    assert_eq!(second.lease_until, T0 + 10 + 2 * LEASE);
    let out = store
        .finish(vec![finish_of(
            &first,
            T0 + LEASE + 20,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(
        out,
        vec![FinishOutcome::Stale],
        "the old claim's finish is stale"
    );
    assert_eq!(get(store, "t1", "msg_a").await.state, MessageState::Pending);
    let out = store
        .finish(vec![finish_of(
            &second,
            T0 + LEASE + 30,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(out, vec![FinishOutcome::Applied]);
    assert_eq!(
        states_of(store, "t1", "msg_a").await,
        ["CREATED", "ACTIVE", "ACTIVE", "DELIVERED"]
    );
}

/// `next_due`: none when nothing is pending; the earliest pending due time; a claimed message
/// counts at its lease end; ended messages do not count.
pub async fn next_due_semantics<S: Store>(store: &S) {
    assert_eq!(store.next_due(T0).await.expect("next_due"), None);
    insert(
        store,
        vec![
            message("t1", "msg_a", T0 + 50),
            message("t2", "msg_b", T0 + 20),
        ],
        T0,
    )
    .await;
    assert_eq!(store.next_due(T0).await.expect("next_due"), Some(T0 + 20));
    let c = claim_one(store, T0 + 30).await;
    assert_eq!(c.message.message.id, "msg_b");
    assert_eq!(
        store.next_due(T0 + 30).await.expect("next_due"),
        Some(T0 + 50)
    );
    assert_eq!(
        store
            .cancel_message("t1", "msg_a", T0 + 31)
            .await
            .expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        store.next_due(T0 + 31).await.expect("next_due"),
        Some(T0 + 30 + LEASE),
        "a claimed message counts at its lease end"
    );
    store
        .finish(vec![finish_of(
            &c,
            T0 + 32,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(store.next_due(T0).await.expect("next_due"), None);
}

/// The due backlog counts pending messages due now and not under a live claim, over every
/// tenant.
pub async fn due_count_semantics<S: Store>(store: &S) {
    let count = |now| async move { store.due_count(now).await.expect("due_count") };
    assert_eq!(count(T0).await, 0);
    insert(
        store,
        vec![
            message("t1", "msg_a", T0 + 10),
            message("t2", "msg_b", T0 + 20),
            message("t1", "msg_c", T0 + 1_000_000),
        ],
        T0,
    )
    .await;
    assert_eq!(count(T0).await, 0, "nothing is due yet");
    assert_eq!(
        count(T0 + 20).await,
        2,
        "due messages of every tenant count"
    );
    let c = claim_one(store, T0 + 20).await;
    assert_eq!(c.message.message.id, "msg_a");
    assert_eq!(count(T0 + 21).await, 1, "a claimed message is not backlog");
    assert_eq!(
        count(T0 + 20 + LEASE).await,
        2,
        "a claim whose lease ended is backlog again"
    );
    store
        .finish(vec![finish_of(
            &c,
            T0 + 22,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(
        count(T0 + 20 + LEASE).await,
        1,
        "a delivered message is not"
    );
}

/// Concurrent claimers never hold the same message at once; together they claim each once.
pub async fn concurrent_claims<S: Store>(store: Arc<S>) {
    const MESSAGES: usize = 200;
    let batch: Vec<_> = (0..MESSAGES)
        .map(|i| message("t1", &format!("msg_{i}"), T0 + (i % 17) as u64))
        .collect();
    insert(&*store, batch, T0).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_due(T0 + 100, 7).await.expect("claim");
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|c| (c.message.message.id, c.claim)));
            }
        }));
    }
    let mut seen: HashMap<String, u64> = HashMap::new();
    for task in tasks {
        for (id, claim) in task.await.expect("a claiming task panicked") {
            assert_eq!(claim, 1, "{id} claimed once under the lease");
            assert!(
                seen.insert(id.clone(), claim).is_none(),
                "{id} claimed twice"
            );
        }
    }
    let expected: HashSet<_> = (0..MESSAGES).map(|i| format!("msg_{i}")).collect();
    let got: HashSet<_> = seen.into_keys().collect();
    assert_eq!(got, expected, "every due message claimed");
}
