//! Checks of waiters (a run's waits for an event): register, list, release, the timeout, a release
//! racing the timeout.

use std::collections::HashSet;
use std::sync::Arc;

use super::{
    T0, claim_one, create, ended, finish_of, get, linked, message, new_run, states_of, steps_of,
};
use crate::{
    FinishOutcome, InsertOutcome, MessageState, Millis, NewMessage, RunState, Store,
    StoreErrorKind, Transition,
};

/// A waiter for an event, of run `run_id` of `tenant`, due (timing out) at `deadline`.
fn waiter_message(tenant: &str, id: &str, run_id: &str, deadline: Millis) -> NewMessage {
    linked(message(tenant, id, deadline), run_id, true)
}

/// `register_waiter` stores a step message as a waiter (a `CREATED` event, the run's next step);
/// `list_waiters` lists the tenant's releasable waiters of an event, oldest first, optionally
/// of one run; `release_waiter` replaces the body (message and step), makes it due now, and
/// applies once, to the tenant's own waiters only. A message that is not a step is refused,
/// and a waiter of a run that has ended is not stored.
pub async fn waiters_register_list_release<S: Store>(store: &S) {
    for (tenant, run) in [("t1", "wfr_a"), ("t1", "wfr_b"), ("t2", "wfr_a")] {
        create(
            store,
            new_run(tenant, run),
            linked(
                message(tenant, &format!("msg_init_{tenant}_{run}"), T0 + 1_000_000),
                run,
                true,
            ),
            T0,
        )
        .await;
    }
    let deadline = T0 + 60_000;
    let register = |m: NewMessage, event: &'static str| async move {
        store
            .register_waiter(event, m, T0 + 1)
            .await
            .expect("register_waiter")
    };
    assert_eq!(
        register(waiter_message("t1", "msg_w1", "wfr_a", deadline), "evt").await,
        InsertOutcome::Inserted
    );
    assert_eq!(
        register(waiter_message("t1", "msg_w2", "wfr_b", deadline + 1), "evt").await,
        InsertOutcome::Inserted
    );
    assert_eq!(
        register(
            waiter_message("t1", "msg_other", "wfr_a", deadline),
            "other"
        )
        .await,
        InsertOutcome::Inserted
    );
    assert_eq!(
        register(waiter_message("t2", "msg_t2w", "wfr_a", deadline), "evt").await,
        InsertOutcome::Inserted
    );
    assert_eq!(
        register(
            waiter_message("t1", "msg_lost", "wfr_none", deadline),
            "evt"
        )
        .await,
        InsertOutcome::RunNotActive(None)
    );
    assert_eq!(
        store.get_message("t1", "msg_lost").await.expect("get"),
        None
    );
    let not_step = store
        .register_waiter(
            "evt",
            linked(message("t1", "msg_ns", deadline), "wfr_a", false),
            T0,
        )
        .await;
    assert!(
        matches!(&not_step, Err(e) if e.kind() == StoreErrorKind::Invalid),
        "{not_step:?}"
    );
    assert_eq!(store.get_message("t1", "msg_ns").await.expect("get"), None);

    let w1 = get(store, "t1", "msg_w1").await;
    assert_eq!(w1.state, MessageState::Pending);
    assert_eq!(w1.due_at, deadline);
    assert_eq!(states_of(store, "t1", "msg_w1").await, ["CREATED"]);
    let steps = steps_of(store, "t1", "wfr_a", None).await;
    assert_eq!(
        steps.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
        ["msg_init_t1_wfr_a", "msg_w1", "msg_other"],
        "a waiter is a step of its run"
    );

    let ids = |ws: Vec<crate::Waiter>| -> Vec<(String, String)> {
        ws.into_iter()
            .map(|w| (w.event_id, w.message.message.id))
            .collect()
    };
    let list = store
        .list_waiters("t1", "evt", None)
        .await
        .expect("list_waiters");
    assert_eq!(
        list[0].message.message,
        waiter_message("t1", "msg_w1", "wfr_a", deadline)
    );
    assert_eq!(
        ids(list),
        [
            ("evt".to_string(), "msg_w1".to_string()),
            ("evt".to_string(), "msg_w2".to_string())
        ],
        "the tenant's waiters of the event, oldest first"
    );
    let of_b = store
        .list_waiters("t1", "evt", Some("wfr_b"))
        .await
        .expect("list_waiters");
    assert_eq!(ids(of_b), [("evt".to_string(), "msg_w2".to_string())]);
    let of_t2 = store
        .list_waiters("t2", "evt", None)
        .await
        .expect("list_waiters");
    assert_eq!(ids(of_t2), [("evt".to_string(), "msg_t2w".to_string())]);
    assert!(
        store
            .list_waiters("t3", "evt", None)
            .await
            .expect("list_waiters")
            .is_empty()
    );

    // Another tenant cannot release it.
    assert!(
        !store
            .release_waiter("t2", "msg_w1", b"stolen".to_vec(), T0 + 5)
            .await
            .expect("release_waiter")
    );
    assert!(
        !store
            .release_waiter("t1", "msg_init_t1_wfr_a", b"not a waiter".to_vec(), T0 + 5)
            .await
            .expect("release_waiter"),
        "a message that is not a waiter is not released"
    );
    assert!(
        store
            .release_waiter("t1", "msg_w1", b"event data".to_vec(), T0 + 10)
            .await
            .expect("release_waiter")
    );
    assert!(
        !store
            .release_waiter("t1", "msg_w1", b"again".to_vec(), T0 + 11)
            .await
            .expect("release_waiter"),
        "a waiter is released once"
    );
    let w1 = get(store, "t1", "msg_w1").await;
    assert_eq!(w1.message.body, b"event data");
    assert_eq!(
        (w1.state, w1.due_at, w1.claim),
        (MessageState::Pending, T0 + 10, 0)
    );
    assert_eq!(states_of(store, "t1", "msg_w1").await, ["CREATED"]);
    let steps = steps_of(store, "t1", "wfr_a", Some("msg_w1")).await;
    assert_eq!(
        steps.last().map(|s| s.2.clone()),
        Some(b"event data".to_vec())
    );
    assert_eq!(
        ids(store
            .list_waiters("t1", "evt", None)
            .await
            .expect("list_waiters")),
        [("evt".to_string(), "msg_w2".to_string())],
        "a released waiter is not listed"
    );
    assert_eq!(
        get(store, "t2", "msg_t2w").await.message.body,
        b"body of msg_t2w"
    );

    // Due now: delivered with the event's body.
    let claimed = claim_one(store, T0 + 10).await;
    assert_eq!(claimed.message.message.id, "msg_w1");
    assert_eq!(claimed.message.message.body, b"event data");

    // A waiter of a run that ended is cancelled with it: not listed, not released.
    store
        .end_run("t1", "wfr_b", ended(RunState::Canceled), T0 + 20)
        .await
        .expect("end_run");
    assert!(
        store
            .list_waiters("t1", "evt", None)
            .await
            .expect("list_waiters")
            .is_empty()
    );
    assert!(
        !store
            .release_waiter("t1", "msg_w2", b"late".to_vec(), T0 + 21)
            .await
            .expect("release_waiter")
    );
    assert_eq!(
        get(store, "t1", "msg_w2").await.state,
        MessageState::Cancelled
    );
    let ended_run = store
        .register_waiter(
            "evt",
            waiter_message("t1", "msg_w3", "wfr_b", deadline),
            T0 + 22,
        )
        .await
        .expect("register_waiter");
    assert_eq!(
        ended_run,
        InsertOutcome::RunNotActive(Some(RunState::Canceled))
    );
}

/// A waiter whose deadline came and that was claimed (its timeout is being delivered) is no
/// longer listed and cannot be released: its body stays the timeout's.
pub async fn waiter_timeout_excludes_release<S: Store>(store: &S) {
    create(
        store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_init", T0), "wfr_a", true),
        T0,
    )
    .await;
    let init = claim_one(store, T0).await;
    let out = store
        .finish(vec![finish_of(
            &init,
            T0,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(out, [FinishOutcome::Applied]);
    let out = store
        .register_waiter("evt", waiter_message("t1", "msg_w", "wfr_a", T0 + 100), T0)
        .await
        .expect("register_waiter");
    assert_eq!(out, InsertOutcome::Inserted);
    assert!(
        store
            .claim_due(T0 + 99, 10)
            .await
            .expect("claim_due")
            .is_empty()
    );
    let claimed = claim_one(store, T0 + 100).await;
    assert_eq!(claimed.message.message.id, "msg_w");
    assert!(
        store
            .list_waiters("t1", "evt", None)
            .await
            .expect("list_waiters")
            .is_empty(),
        "a timed-out waiter is not listed"
    );
    assert!(
        !store
            .release_waiter("t1", "msg_w", b"too late".to_vec(), T0 + 101)
            .await
            .expect("release_waiter"),
        "a timed-out waiter is not released"
    );
    let stored = get(store, "t1", "msg_w").await;
    assert_eq!(stored.message.body, b"body of msg_w");
    assert_eq!(stored.claim, claimed.claim);
    // Still not releasable after its timeout attempt failed and is to be retried.
    let out = store
        .finish(vec![finish_of(
            &claimed,
            T0 + 102,
            Transition::Retry { at: T0 + 200 },
            "RETRY",
        )])
        .await
        .expect("finish");
    assert_eq!(out, [FinishOutcome::Applied]);
    assert!(
        !store
            .release_waiter("t1", "msg_w", b"too late".to_vec(), T0 + 103)
            .await
            .expect("release_waiter")
    );
    let steps = steps_of(store, "t1", "wfr_a", None).await;
    assert_eq!(
        steps.last().map(|s| s.2.clone()),
        Some(b"body of msg_w".to_vec())
    );
}

/// Releases racing the claims of the same waiters' timeouts: each waiter ends with exactly one
/// delivery, with the event's body exactly when its release applied.
pub async fn concurrent_release_and_timeout<S: Store>(store: Arc<S>) {
    const N: usize = 64;
    create(
        &*store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_init", T0 + 1_000_000), "wfr_a", true),
        T0,
    )
    .await;
    for i in 0..N {
        let out = store
            .register_waiter(
                "evt",
                waiter_message("t1", &format!("msg_w{i}"), "wfr_a", T0),
                T0,
            )
            .await
            .expect("register_waiter");
        assert_eq!(out, InsertOutcome::Inserted);
    }
    let claimer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            for _ in 0..N {
                claimed.extend(store.claim_due(T0, 1).await.expect("claim_due"));
                tokio::task::yield_now().await;
            }
            claimed
        })
    };
    let releaser = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut released = HashSet::new();
            for i in (0..N).rev() {
                let id = format!("msg_w{i}");
                if store
                    .release_waiter("t1", &id, b"event".to_vec(), T0)
                    .await
                    .expect("release_waiter")
                {
                    released.insert(id);
                }
            }
            released
        })
    };
    let mut claimed = claimer.await.expect("the claiming task panicked");
    let released = releaser.await.expect("the releasing task panicked");
    // Whatever is left is due at T0 (released ones were made due at T0 as well).
    loop {
        let more = store.claim_due(T0, 100).await.expect("claim_due");
        if more.is_empty() {
            break;
        }
        claimed.extend(more);
    }
    let mut seen = HashSet::new();
    for c in &claimed {
        let id = c.message.message.id.clone();
        let with_event = c.message.message.body == b"event";
        assert_eq!(
            with_event,
            released.contains(&id),
            "{id} is delivered with the event's body exactly when its release applied"
        );
        assert!(
            seen.insert(id),
            "each waiter is claimed once (leases are long)"
        );
    }
    assert_eq!(seen.len(), N, "every waiter is delivered");
}
