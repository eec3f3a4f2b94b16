//! Checks of the claim path under a held-back backlog: a key's messages start in due order at
//! its limits, a freed place or an opened window is taken by the next claim, `next_due` and the
//! key's counts stay right, and a claim behind a long backlog takes what may start.

use super::{LEASE, T0, finish_of, insert, keyed, message};
use crate::{CancelOutcome, Claimed, FlowControlInfo, Millis, Store, Transition};

fn ids(claimed: &[Claimed]) -> Vec<String> {
    claimed
        .iter()
        .map(|c| c.message.message.id.clone())
        .collect()
}

async fn key_info<S: Store>(store: &S, key: &str, now: Millis) -> FlowControlInfo {
    store
        .flow_control("t1", key, now)
        .await
        .expect("flow_control")
        .unwrap_or_else(|| panic!("flow-control key {key} exists"))
}

async fn finish<S: Store>(store: &S, claimed: &Claimed, now: Millis, transition: Transition) {
    let state = match transition {
        Transition::Delivered => "DELIVERED",
        Transition::Failed => "FAILED",
        Transition::Retry { .. } => "RETRY",
    };
    let out = store
        .finish(vec![finish_of(claimed, now, transition, state)])
        .await
        .expect("finish");
    assert_eq!(out, [crate::FinishOutcome::Applied]);
}

/// A key with a backlog of 10 000 hands out its messages in due order at its parallelism; a
/// freed place is taken by the next claim; a plain message behind the backlog is claimed by a
/// claim of one; `next_due` is the first lease end while the key is full and the next
/// message's due time once a place is free.
pub async fn claim_path_backlog_in_order<S: Store>(store: &S) {
    const BACKLOG: u64 = 10_000;
    let batch: Vec<_> = (0..BACKLOG)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_{i:05}"), T0 + i / 10),
                "hot",
                Some(2),
                None,
                1000,
            )
        })
        .collect();
    insert(store, batch, T0).await;
    let now = T0 + BACKLOG;
    let first = store.claim_due(now, 10).await.expect("claim");
    assert_eq!(ids(&first), ["msg_00000", "msg_00001"], "parallelism 2");
    let waiting = key_info(store, "hot", now).await;
    assert_eq!(
        (waiting.wait_list_size, waiting.parallelism_count),
        (BACKLOG - 2, 2)
    );
    assert_eq!(
        store.next_due(now).await.expect("next_due"),
        Some(now + LEASE),
        "the key is full: nothing starts before a lease ends"
    );
    // A plain message behind the whole backlog is what a claim of one takes.
    insert(store, vec![message("t1", "msg_plain", now)], now).await;
    assert_eq!(store.next_due(now).await.expect("next_due"), Some(now));
    let plain = store.claim_due(now, 1).await.expect("claim");
    assert_eq!(ids(&plain), ["msg_plain"]);
    // Each finish frees one place, which the next claim takes, in due order.
    let mut in_flight: Vec<Claimed> = first;
    for i in 2..32u64 {
        let t = now + i;
        let done = in_flight.remove(0);
        finish(store, &done, t, Transition::Delivered).await;
        let due = T0 + i / 10;
        assert_eq!(
            store.next_due(t).await.expect("next_due"),
            Some(due),
            "the freed place makes the next message due again"
        );
        let next = store.claim_due(t, 10).await.expect("claim");
        assert_eq!(
            ids(&next),
            [format!("msg_{i:05}")],
            "one place, the next in due order"
        );
        in_flight.extend(next);
        let info = key_info(store, "hot", t).await;
        assert_eq!(
            (info.wait_list_size, info.parallelism_count),
            (BACKLOG - i - 1, 2)
        );
    }
}

/// A full rate window holds the key until it ends; its end (`next_due`) releases exactly
/// `rate` messages, in order.
pub async fn claim_path_window_releases_exactly_rate<S: Store>(store: &S) {
    let batch: Vec<_> = (0..20u64)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_{i:02}"), T0 + i),
                "r",
                None,
                Some(3),
                1000,
            )
        })
        .collect();
    insert(store, batch, T0).await;
    let first = store.claim_due(T0 + 100, 100).await.expect("claim");
    assert_eq!(ids(&first), ["msg_00", "msg_01", "msg_02"]);
    assert!(
        store
            .claim_due(T0 + 500, 100)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store.next_due(T0 + 500).await.expect("next_due"),
        Some(T0 + 1100),
        "the window's end, not earlier, not later"
    );
    assert_eq!(key_info(store, "r", T0 + 500).await.wait_list_size, 17);
    assert!(
        store
            .claim_due(T0 + 1099, 100)
            .await
            .expect("claim")
            .is_empty()
    );
    let second = store.claim_due(T0 + 1100, 100).await.expect("claim");
    assert_eq!(
        ids(&second),
        ["msg_03", "msg_04", "msg_05"],
        "exactly the rate"
    );
    assert_eq!(
        store.next_due(T0 + 1100).await.expect("next_due"),
        Some(T0 + 2100)
    );
    // A window that ends while nobody claims releases the rate once, not for every window
    // missed.
    let third = store.claim_due(T0 + 9_000, 100).await.expect("claim");
    assert_eq!(ids(&third), ["msg_06", "msg_07", "msg_08"]);
    let info = key_info(store, "r", T0 + 9_000).await;
    assert_eq!(
        (info.wait_list_size, info.rate_count, info.rate_period_start),
        (11, 3, Some(T0 + 9_000))
    );
}

/// The key's counts after a held message is cancelled, an attempt in flight is cancelled, an
/// attempt is retried and one fails: each freed place goes to the next held message.
pub async fn claim_path_counts_after_cancel_retry_failure<S: Store>(store: &S) {
    let batch: Vec<_> = (0..6u64)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_{i}"), T0 + i),
                "k",
                Some(2),
                None,
                1000,
            )
        })
        .collect();
    insert(store, batch, T0).await;
    let now = T0 + 10;
    let first = store.claim_due(now, 10).await.expect("claim");
    assert_eq!(ids(&first), ["msg_0", "msg_1"]);
    let counts = |i: FlowControlInfo| (i.wait_list_size, i.parallelism_count);
    assert_eq!(counts(key_info(store, "k", now).await), (4, 2));
    // A held message cancelled leaves the wait list.
    assert_eq!(
        store
            .cancel_message("t1", "msg_3", now + 1)
            .await
            .expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert_eq!(counts(key_info(store, "k", now + 1).await), (3, 2));
    // An attempt in flight cancelled frees its place for the first held message.
    store
        .cancel_message("t1", "msg_0", now + 2)
        .await
        .expect("cancel");
    assert_eq!(counts(key_info(store, "k", now + 2).await).1, 1);
    let next = store.claim_due(now + 3, 10).await.expect("claim");
    assert_eq!(ids(&next), ["msg_2"]);
    assert_eq!(counts(key_info(store, "k", now + 3).await), (2, 2));
    // A retry frees the place; the retried message waits for its time, then for a place.
    finish(
        store,
        &first[1],
        now + 4,
        Transition::Retry { at: now + 5_000 },
    )
    .await;
    let next = store.claim_due(now + 5, 10).await.expect("claim");
    assert_eq!(ids(&next), ["msg_4"]);
    assert_eq!(counts(key_info(store, "k", now + 5).await), (1, 2));
    // A failure for good frees the place too.
    finish(store, &next[0], now + 6, Transition::Failed).await;
    let last = store.claim_due(now + 7, 10).await.expect("claim");
    assert_eq!(ids(&last), ["msg_5"]);
    assert_eq!(counts(key_info(store, "k", now + 7).await), (0, 2));
    assert!(
        store
            .claim_due(now + 5_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        counts(key_info(store, "k", now + 5_000).await),
        (1, 2),
        "the retried message waits for a place, its retry not consumed"
    );
    let retried = store
        .get_message("t1", "msg_1")
        .await
        .expect("get")
        .expect("msg_1");
    assert_eq!(retried.retried, 1);
}
