//! Checks of flow control: parallelism and rate limits per key, across claims and processes, with
//! no retry consumed by waiting.

use std::collections::HashSet;
use std::sync::Arc;

use super::{LEASE, T0, claim_one, finish_of, get, insert, keyed, message, states_of};
use crate::{
    Claimed, Dedup, FinishOutcome, FlowControlInfo, FlowLimits, InsertOutcome, MessageState,
    Millis, Store, Transition,
};

fn ids_of(claimed: &[Claimed]) -> Vec<&str> {
    claimed
        .iter()
        .map(|c| c.message.message.id.as_str())
        .collect()
}

async fn info<S: Store>(store: &S, tenant: &str, key: &str, now: Millis) -> FlowControlInfo {
    store
        .flow_control(tenant, key, now)
        .await
        .expect("flow_control")
        .unwrap_or_else(|| panic!("flow-control key {key} of {tenant} exists"))
}

/// Parallelism: a key never has more attempts in flight than its limit, over several claim
/// calls; held-back messages are skipped and later due messages of other keys (or of none)
/// are still claimed; a finish frees a place; `next_due` does not report a held-back message.
pub async fn flow_parallelism_caps_claims<S: Store>(store: &S) {
    let mut batch: Vec<_> = (0..5)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_k{i}"), T0 + i),
                "k",
                Some(2),
                None,
                1000,
            )
        })
        .collect();
    batch.push(message("t1", "msg_plain", T0 + 10));
    batch.push(keyed(
        message("t1", "msg_other", T0 + 11),
        "other",
        Some(1),
        None,
        1000,
    ));
    insert(store, batch, T0).await;
    let now = T0 + 100;
    let first = store.claim_due(now, 2).await.expect("claim");
    assert_eq!(ids_of(&first), ["msg_k0", "msg_k1"]);
    let second = store.claim_due(now, 10).await.expect("claim");
    assert_eq!(
        ids_of(&second),
        ["msg_plain", "msg_other"],
        "the key's third message waits; later due messages go past it"
    );
    assert!(
        store
            .claim_due(now + 1, 10)
            .await
            .expect("claim")
            .is_empty(),
        "the key is at its parallelism"
    );
    assert_eq!(
        store.next_due(now + 1).await.expect("next_due"),
        Some(now + LEASE),
        "held-back messages are not due; the attempts in flight count at their lease end"
    );
    let out = store
        .finish(vec![finish_of(
            &first[0],
            now + 2,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(out, [FinishOutcome::Applied]);
    assert_eq!(
        store.next_due(now + 2).await.expect("next_due"),
        Some(T0 + 2),
        "a finish frees a place: the next message of the key is due again"
    );
    let third = store.claim_due(now + 3, 10).await.expect("claim");
    assert_eq!(ids_of(&third), ["msg_k2"], "one place, one claim");
    // A retry also ends the attempt.
    let out = store
        .finish(vec![finish_of(
            &first[1],
            now + 4,
            Transition::Retry { at: now + 5_000 },
            "RETRY",
        )])
        .await
        .expect("finish");
    assert_eq!(out, [FinishOutcome::Applied]);
    let fourth = store.claim_due(now + 5, 10).await.expect("claim");
    assert_eq!(ids_of(&fourth), ["msg_k3"]);
    assert_eq!(info(store, "t1", "k", now + 5).await.parallelism_count, 2);
}

/// The attempts in flight are counted from the claims whose lease has not ended: a claim that
/// is never finished (its process died) stops counting when its lease ends.
pub async fn flow_in_flight_heals_after_lease<S: Store>(store: &S) {
    insert(
        store,
        vec![
            keyed(message("t1", "msg_a", T0), "k", Some(1), None, 1000),
            keyed(message("t1", "msg_b", T0 + 1), "k", Some(1), None, 1000),
        ],
        T0,
    )
    .await;
    let a = store.claim_due(T0 + 10, 10).await.expect("claim");
    assert_eq!(ids_of(&a), ["msg_a"]);
    assert_eq!(info(store, "t1", "k", T0 + 11).await.parallelism_count, 1);
    assert!(
        store
            .claim_due(T0 + 9 + LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "msg_b waits while msg_a's lease lasts"
    );
    let at_end = T0 + 10 + LEASE;
    let healed = info(store, "t1", "k", at_end).await;
    assert_eq!(healed.parallelism_count, 0, "the lease ended");
    assert_eq!(healed.wait_list_size, 2, "both wait now");
    let b = store.claim_due(at_end, 10).await.expect("claim");
    assert_eq!(
        ids_of(&b),
        ["msg_b"],
        "the earliest due goes first; msg_a waits for the place msg_b took"
    );
    assert_eq!(info(store, "t1", "k", at_end).await.parallelism_count, 1);
    // msg_a's late finish (no other claim took it) still applies; it frees no place, as it
    // counted for none.
    let out = store
        .finish(vec![finish_of(
            &a[0],
            at_end + 1,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(out, [FinishOutcome::Applied]);
    assert_eq!(
        info(store, "t1", "k", at_end + 1).await.parallelism_count,
        1
    );
    assert!(
        store
            .claim_due(at_end + 2, 10)
            .await
            .expect("claim")
            .is_empty()
    );
}

/// Rate: at most `rate` claims per fixed window; a window opens with the first claim made
/// while none is open and lasts `period_ms`; `next_due` reports the window's end.
pub async fn flow_rate_windows<S: Store>(store: &S) {
    let batch: Vec<_> = (0..5)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_{i}"), T0),
                "k",
                None,
                Some(2),
                1000,
            )
        })
        .collect();
    insert(store, batch, T0).await;
    let first = store.claim_due(T0 + 10, 10).await.expect("claim");
    assert_eq!(ids_of(&first), ["msg_0", "msg_1"], "two per window");
    let open = info(store, "t1", "k", T0 + 10).await;
    assert_eq!(
        (open.rate_count, open.rate_period_start, open.rate_period_ms),
        (2, Some(T0 + 10), 1000)
    );
    assert!(
        store
            .claim_due(T0 + 500, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store.next_due(T0 + 500).await.expect("next_due"),
        Some(T0 + 1010),
        "held back until the window ends"
    );
    assert!(
        store
            .claim_due(T0 + 1009, 10)
            .await
            .expect("claim")
            .is_empty(),
        "the window lasts its period"
    );
    let second = store.claim_due(T0 + 1010, 1).await.expect("claim");
    assert_eq!(ids_of(&second), ["msg_2"]);
    let third = store.claim_due(T0 + 1500, 10).await.expect("claim");
    assert_eq!(ids_of(&third), ["msg_3"], "the same window as msg_2");
    let window = info(store, "t1", "k", T0 + 1500).await;
    assert_eq!(
        (window.rate_count, window.rate_period_start),
        (2, Some(T0 + 1010))
    );
    // Idle past the window: no window is open until the next claim opens one.
    let idle = info(store, "t1", "k", T0 + 2600).await;
    assert_eq!((idle.rate_count, idle.rate_period_start), (0, None));
    let last = store.claim_due(T0 + 2700, 10).await.expect("claim");
    assert_eq!(ids_of(&last), ["msg_4"]);
    let fresh = info(store, "t1", "k", T0 + 2700).await;
    assert_eq!(
        (fresh.rate_count, fresh.rate_period_start),
        (1, Some(T0 + 2700)),
        "a window opens with the first claim, not on a grid"
    );
    // Finishing does not give a rate place back.
    insert(
        store,
        vec![keyed(
            message("t1", "msg_5", T0 + 2700),
            "k",
            None,
            Some(1),
            1000,
        )],
        T0 + 2700,
    )
    .await;
    let out = store
        .finish(vec![finish_of(
            &last[0],
            T0 + 2701,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(out, [FinishOutcome::Applied]);
    assert!(
        store
            .claim_due(T0 + 2702, 10)
            .await
            .expect("claim")
            .is_empty(),
        "rate 1 now: the window holds one claim already"
    );
    assert_eq!(
        ids_of(&store.claim_due(T0 + 3700, 10).await.expect("claim")),
        ["msg_5"]
    );
}

/// Both limits hold when both are set.
pub async fn flow_parallelism_and_rate_together<S: Store>(store: &S) {
    let batch: Vec<_> = (0..4)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_{i}"), T0),
                "k",
                Some(1),
                Some(2),
                1000,
            )
        })
        .collect();
    insert(store, batch, T0).await;
    let a = store.claim_due(T0, 10).await.expect("claim");
    assert_eq!(ids_of(&a), ["msg_0"], "parallelism 1");
    store
        .finish(vec![finish_of(
            &a[0],
            T0 + 1,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    let b = store.claim_due(T0 + 2, 10).await.expect("claim");
    assert_eq!(ids_of(&b), ["msg_1"]);
    store
        .finish(vec![finish_of(
            &b[0],
            T0 + 3,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert!(
        store.claim_due(T0 + 4, 10).await.expect("claim").is_empty(),
        "rate 2 per window"
    );
    assert_eq!(
        store.next_due(T0 + 4).await.expect("next_due"),
        Some(T0 + 1000)
    );
    let c = store.claim_due(T0 + 1000, 10).await.expect("claim");
    assert_eq!(ids_of(&c), ["msg_2"]);
}

/// The limits of the key's most recently stored message apply to all its messages; a message
/// that is not stored changes nothing, and one without limits keeps the key's.
pub async fn flow_most_recent_value_applies<S: Store>(store: &S) {
    let batch: Vec<_> = (0..6)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_{i}"), T0),
                "k",
                Some(1),
                None,
                1000,
            )
        })
        .collect();
    insert(store, batch, T0).await;
    assert_eq!(info(store, "t1", "k", T0).await.parallelism_max, Some(1));
    insert(
        store,
        vec![keyed(
            message("t1", "msg_new", T0 + 1),
            "k",
            Some(3),
            Some(50),
            2000,
        )],
        T0,
    )
    .await;
    let now_info = info(store, "t1", "k", T0).await;
    assert_eq!(
        (
            now_info.parallelism_max,
            now_info.rate_max,
            now_info.rate_period_ms
        ),
        (Some(3), Some(50), 2000)
    );
    let claimed = store.claim_due(T0 + 10, 10).await.expect("claim");
    assert_eq!(
        ids_of(&claimed),
        ["msg_0", "msg_1", "msg_2"],
        "the new limit applies to the older messages too"
    );
    // A deduplicated message does not change the limits.
    let mut first = keyed(
        message("t1", "msg_d1", T0 + 1),
        "k",
        Some(3),
        Some(50),
        2000,
    );
    first.dedup = Some(Dedup {
        id: "same".to_string(),
        until: T0 + 600_000,
    });
    insert(store, vec![first], T0 + 11).await;
    let mut dup = keyed(message("t1", "msg_d2", T0 + 1), "k", Some(9), None, 1000);
    dup.dedup = Some(Dedup {
        id: "same".to_string(),
        until: T0 + 600_000,
    });
    let out = store
        .insert_messages(vec![dup], T0 + 12)
        .await
        .expect("insert");
    assert!(
        matches!(out[0], InsertOutcome::Deduplicated { .. }),
        "{out:?}"
    );
    assert_eq!(
        info(store, "t1", "k", T0 + 12).await.parallelism_max,
        Some(3)
    );
    // A message with the key and no limits keeps the key's limits.
    let mut bare = message("t1", "msg_bare", T0 + 1);
    bare.flow_key = Some("k".to_string());
    insert(store, vec![bare], T0 + 13).await;
    assert_eq!(
        info(store, "t1", "k", T0 + 13).await.parallelism_max,
        Some(3)
    );
    // Lowering the limit holds everything back while too many are in flight.
    insert(
        store,
        vec![keyed(
            message("t1", "msg_low", T0 + 1),
            "k",
            Some(1),
            None,
            1000,
        )],
        T0 + 14,
    )
    .await;
    assert!(
        store
            .claim_due(T0 + 15, 10)
            .await
            .expect("claim")
            .is_empty(),
        "three in flight, parallelism 1 now"
    );
    let stored = get(store, "t1", "msg_low").await;
    assert_eq!(
        stored.message.flow_limits,
        Some(FlowLimits {
            parallelism: Some(1),
            rate: None,
            period_ms: 1000
        }),
        "a message keeps the limits it was stored with"
    );
}

/// A message that waits for its key stays pending and due, with no claim, no event and no
/// retry; when its turn comes its first attempt is an attempt like any other.
pub async fn flow_waiting_consumes_no_retry<S: Store>(store: &S) {
    insert(
        store,
        vec![
            keyed(message("t1", "msg_a", T0), "k", Some(1), None, 1000),
            keyed(message("t1", "msg_b", T0 + 1), "k", Some(1), None, 1000),
        ],
        T0,
    )
    .await;
    let a = store.claim_due(T0 + 10, 10).await.expect("claim");
    assert_eq!(ids_of(&a), ["msg_a"]);
    for now in [T0 + 20, T0 + 30, T0 + 40] {
        assert!(store.claim_due(now, 10).await.expect("claim").is_empty());
    }
    let waiting = get(store, "t1", "msg_b").await;
    assert_eq!(waiting.state, MessageState::Pending);
    assert_eq!(
        (waiting.retried, waiting.claim, waiting.due_at),
        (0, 0, T0 + 1),
        "no retry, no claim, still due"
    );
    assert_eq!(states_of(store, "t1", "msg_b").await, ["CREATED"]);
    store
        .finish(vec![finish_of(
            &a[0],
            T0 + 50,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    let b = claim_one(store, T0 + 60).await;
    assert_eq!(b.message.message.id, "msg_b");
    assert_eq!((b.claim, b.message.retried), (1, 0), "its first attempt");
    assert_eq!(states_of(store, "t1", "msg_b").await, ["CREATED", "ACTIVE"]);
}

/// Keys are per tenant: the same name in two tenants is two keys, each with its own limits and
/// counts, and a tenant sees only its own keys.
pub async fn flow_tenants_separate<S: Store>(store: &S) {
    insert(
        store,
        vec![
            keyed(message("t1", "msg_a1", T0), "k", Some(1), None, 1000),
            keyed(message("t1", "msg_a2", T0), "k", Some(1), None, 1000),
            keyed(message("t2", "msg_b1", T0), "k", Some(1), Some(7), 3000),
            keyed(message("t2", "msg_b2", T0), "k", Some(1), Some(7), 3000),
            keyed(message("t1", "msg_c", T0), "z-only-t1", Some(5), None, 1000),
        ],
        T0,
    )
    .await;
    let claimed = store.claim_due(T0, 10).await.expect("claim");
    let mut ids = ids_of(&claimed);
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["msg_a1", "msg_b1", "msg_c"],
        "one of each tenant's key"
    );
    let t1 = info(store, "t1", "k", T0).await;
    let t2 = info(store, "t2", "k", T0).await;
    assert_eq!((t1.parallelism_count, t1.rate_max), (1, None));
    assert_eq!(
        (t2.parallelism_count, t2.rate_max, t2.rate_count),
        (1, Some(7), 1)
    );
    assert_eq!(
        store
            .flow_control("t3", "k", T0)
            .await
            .expect("flow_control"),
        None,
        "a tenant that never used the key"
    );
    assert_eq!(
        store
            .flow_control("t2", "z-only-t1", T0)
            .await
            .expect("flow_control"),
        None
    );
    let listed: Vec<_> = store
        .list_flow_control("t1", T0)
        .await
        .expect("list_flow_control")
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(listed, ["k", "z-only-t1"]);
    let listed: Vec<_> = store
        .list_flow_control("t2", T0)
        .await
        .expect("list_flow_control")
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(listed, ["k"]);
    assert!(
        store
            .list_flow_control("t3", T0)
            .await
            .expect("list_flow_control")
            .is_empty()
    );
}

/// The reported counters: waiting, in flight, the open window, the limits; an idle key stays
/// known with zero counts; an unknown key is `None`.
pub async fn flow_info_counters<S: Store>(store: &S) {
    assert_eq!(
        store
            .flow_control("t1", "k", T0)
            .await
            .expect("flow_control"),
        None
    );
    let mut batch: Vec<_> = (0..4)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_{i}"), T0),
                "k",
                Some(2),
                Some(10),
                60_000,
            )
        })
        .collect();
    batch.push(keyed(
        message("t1", "msg_later", T0 + 100_000),
        "k",
        Some(2),
        Some(10),
        60_000,
    ));
    insert(store, batch, T0).await;
    let before = info(store, "t1", "k", T0).await;
    assert_eq!(
        before,
        FlowControlInfo {
            key: "k".to_string(),
            wait_list_size: 4,
            parallelism_max: Some(2),
            parallelism_count: 0,
            rate_max: Some(10),
            rate_count: 0,
            rate_period_ms: 60_000,
            rate_period_start: None,
        }
    );
    let claimed = store.claim_due(T0 + 5, 10).await.expect("claim");
    assert_eq!(claimed.len(), 2);
    let during = info(store, "t1", "k", T0 + 6).await;
    assert_eq!(
        (
            during.wait_list_size,
            during.parallelism_count,
            during.rate_count,
            during.rate_period_start
        ),
        (2, 2, 2, Some(T0 + 5))
    );
    let listed = store.list_flow_control("t1", T0 + 6).await.expect("list");
    assert_eq!(listed, [during]);
    let finishes: Vec<_> = claimed
        .iter()
        .map(|c| finish_of(c, T0 + 7, Transition::Delivered, "DELIVERED"))
        .collect();
    store.finish(finishes).await.expect("finish");
    let rest = store.claim_due(T0 + 8, 10).await.expect("claim");
    assert_eq!(rest.len(), 2);
    let rest_finishes: Vec<_> = rest
        .iter()
        .map(|c| finish_of(c, T0 + 9, Transition::Failed, "FAILED"))
        .collect();
    store.finish(rest_finishes).await.expect("finish");
    // Idle after the window: still listed, zero counts (msg_later is not due yet).
    let idle = info(store, "t1", "k", T0 + 60_010).await;
    assert_eq!(
        (
            idle.wait_list_size,
            idle.parallelism_count,
            idle.rate_count,
            idle.rate_period_start
        ),
        (0, 0, 0, None)
    );
    assert_eq!(
        store
            .list_flow_control("t1", T0 + 60_010)
            .await
            .expect("list")
            .len(),
        1
    );
    // A cancelled in-flight message stops counting at once.
    let later = store.claim_due(T0 + 100_000, 10).await.expect("claim");
    assert_eq!(ids_of(&later), ["msg_later"]);
    assert_eq!(
        info(store, "t1", "k", T0 + 100_001).await.parallelism_count,
        1
    );
    store
        .cancel_message("t1", "msg_later", T0 + 100_002)
        .await
        .expect("cancel");
    assert_eq!(
        info(store, "t1", "k", T0 + 100_003).await.parallelism_count,
        0
    );
}

/// A claim goes past a long held-back backlog (longer than any page a backend reads at once)
/// to the due messages behind it, in due order.
pub async fn flow_claim_passes_a_long_backlog<S: Store>(store: &S) {
    const HELD: usize = 2_500;
    let mut batch: Vec<_> = (0..HELD)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_k{i}"), T0),
                "k",
                Some(1),
                None,
                1000,
            )
        })
        .collect();
    batch.push(message("t1", "msg_plain_a", T0));
    batch.push(keyed(
        message("t1", "msg_free", T0 + 1),
        "free",
        Some(1),
        None,
        1000,
    ));
    batch.push(message("t1", "msg_plain_b", T0 + 2));
    insert(store, batch, T0).await;
    let first = store.claim_due(T0 + 10, 1).await.expect("claim");
    assert_eq!(ids_of(&first), ["msg_k0"]);
    let rest = store.claim_due(T0 + 10, 2).await.expect("claim");
    assert_eq!(ids_of(&rest), ["msg_plain_a", "msg_free"]);
    let last = store.claim_due(T0 + 10, 10).await.expect("claim");
    assert_eq!(ids_of(&last), ["msg_plain_b"]);
    assert_eq!(
        store.next_due(T0 + 10).await.expect("next_due"),
        Some(T0 + 10 + LEASE),
        "the whole backlog is held back"
    );
    let waiting = info(store, "t1", "k", T0 + 10).await;
    assert_eq!(
        (waiting.wait_list_size, waiting.parallelism_count),
        (HELD as u64 - 1, 1)
    );
}

/// Concurrent claimers together never exceed a key's parallelism, and claim each message once.
pub async fn concurrent_claims_respect_flow_control<S: Store>(store: Arc<S>) {
    const MESSAGES: usize = 60;
    let batch: Vec<_> = (0..MESSAGES)
        .map(|i| {
            let m = message("t1", &format!("msg_{i}"), T0 + (i % 5) as u64);
            if i % 3 == 0 {
                m
            } else {
                keyed(m, "k", Some(3), None, 1000)
            }
        })
        .collect();
    insert(&*store, batch, T0).await;
    // The claimers stop when every message is claimed (or after a bound: a claim skips a key
    // another transaction holds, so how many rounds it takes depends on the scheduling).
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = Arc::clone(&store);
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for round in 0..2_000u64 {
                if done.load(std::sync::atomic::Ordering::SeqCst) >= MESSAGES {
                    break;
                }
                let claimed = store.claim_due(T0 + 100 + round, 4).await.expect("claim");
                done.fetch_add(claimed.len(), std::sync::atomic::Ordering::SeqCst);
                if claimed.is_empty() {
                    tokio::task::yield_now().await;
                }
                for c in claimed {
                    let keyed = c.message.message.flow_key.is_some();
                    mine.push(c.message.message.id.clone());
                    if keyed {
                        let now = T0 + 100 + round;
                        let in_flight = store
                            .flow_control("t1", "k", now)
                            .await
                            .expect("flow_control")
                            .expect("key")
                            .parallelism_count;
                        assert!(in_flight <= 3, "{in_flight} in flight");
                        store
                            .finish(vec![finish_of(&c, now, Transition::Delivered, "DELIVERED")])
                            .await
                            .expect("finish");
                    }
                }
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.expect("a claiming task panicked") {
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(seen.len(), MESSAGES, "every message claimed once");
}
