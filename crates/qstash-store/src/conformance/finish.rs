//! Checks of finishing an attempt and of cancelling: idempotent transitions, spawned messages,
//! dead letters and their callback state, cancel outcomes.

use super::{T0, all_events, claim_one, dead_letter, finish_of, get, insert, message, states_of};
use crate::{
    AttemptResponse, CancelOutcome, EventFilter, FinishOutcome, MessageState, Store, Transition,
};

/// A repeated finish, an unknown message and a wrong claim are stale and change nothing.
pub async fn finish_is_idempotent<S: Store>(store: &S) {
    insert(store, vec![message("t1", "msg_a", T0)], T0).await;
    let c = claim_one(store, T0).await;
    let f = finish_of(&c, T0 + 1, Transition::Retry { at: T0 + 100 }, "RETRY");
    let mut wrong_claim = f.clone();
    wrong_claim.claim += 1;
    let mut unknown = f.clone();
    unknown.message_id = "msg_unknown".to_string();
    let out = store
        .finish(vec![wrong_claim, unknown, f.clone(), f.clone()])
        .await
        .expect("finish");
    assert_eq!(
        out,
        [
            FinishOutcome::Stale,
            FinishOutcome::Stale,
            FinishOutcome::Applied,
            FinishOutcome::Stale
        ]
    );
    let out = store.finish(vec![f]).await.expect("finish");
    assert_eq!(out, [FinishOutcome::Stale], "a repeated finish is stale");
    let stored = get(store, "t1", "msg_a").await;
    assert_eq!(
        (stored.retried, stored.due_at),
        (1, T0 + 100),
        "applied once"
    );
    assert_eq!(
        states_of(store, "t1", "msg_a").await,
        ["CREATED", "ACTIVE", "RETRY"]
    );
    assert!(store.finish(Vec::new()).await.expect("finish").is_empty());
}

/// Retry counts and reschedules; Delivered and Failed end the message; the last response is
/// kept.
pub async fn finish_transitions<S: Store>(store: &S) {
    insert(
        store,
        vec![message("t1", "msg_d", T0), message("t1", "msg_f", T0 + 1)],
        T0,
    )
    .await;
    let c = claim_one(store, T0 + 5).await;
    assert_eq!(c.message.message.id, "msg_d");
    let mut f = finish_of(&c, T0 + 6, Transition::Retry { at: T0 + 1_000 }, "RETRY");
    f.event.error = Some("status 500".to_string());
    f.event.next_delivery_time = Some(T0 + 1_000);
    assert_eq!(
        store.finish(vec![f.clone()]).await.expect("finish"),
        [FinishOutcome::Applied]
    );
    let stored = get(store, "t1", "msg_d").await;
    assert_eq!(stored.state, MessageState::Pending);
    assert_eq!(stored.retried, 1, "retried goes up by one");
    assert_eq!(stored.due_at, T0 + 1_000, "due at the retry time");
    assert_eq!(stored.last_response, f.response, "last response kept");
    let filter = EventFilter {
        message_ids: vec!["msg_d".to_string()],
        ..EventFilter::default()
    };
    let newest = &all_events(store, "t1", &filter).await[0];
    assert_eq!(newest.state, "RETRY");
    assert_eq!(newest.time, T0 + 6);
    assert_eq!(newest.response_status, Some(500));
    assert_eq!(newest.error.as_deref(), Some("status 500"));
    assert_eq!(newest.next_delivery_time, Some(T0 + 1_000));

    let c = claim_one(store, T0 + 5).await;
    assert_eq!(
        c.message.message.id, "msg_f",
        "msg_d is not due before its retry time"
    );
    let out = store
        .finish(vec![finish_of(&c, T0 + 7, Transition::Failed, "FAILED")])
        .await
        .expect("finish");
    assert_eq!(out, [FinishOutcome::Applied]);
    assert_eq!(get(store, "t1", "msg_f").await.state, MessageState::Failed);

    let c = claim_one(store, T0 + 1_000).await;
    assert_eq!(c.message.message.id, "msg_d");
    assert_eq!(
        c.message.retried, 1,
        "the claim sees the retries made before it"
    );
    assert_eq!(c.claim, 2);
    let mut f = finish_of(&c, T0 + 1_001, Transition::Delivered, "DELIVERED");
    f.response = Some(AttemptResponse {
        status: Some(200),
        headers: Vec::new(),
        body: b"ok".to_vec(),
    });
    assert_eq!(
        store.finish(vec![f.clone()]).await.expect("finish"),
        [FinishOutcome::Applied]
    );
    let stored = get(store, "t1", "msg_d").await;
    assert_eq!(stored.state, MessageState::Delivered);
    assert_eq!(stored.retried, 1);
    assert_eq!(stored.last_response, f.response);
    assert_eq!(store.next_due(T0).await.expect("next_due"), None);
}

/// Spawned messages are inserted only when the finish applies.
pub async fn spawn_only_when_applied<S: Store>(store: &S) {
    insert(store, vec![message("t1", "msg_a", T0)], T0).await;
    let c = claim_one(store, T0).await;
    let mut stale = finish_of(&c, T0 + 1, Transition::Delivered, "DELIVERED");
    stale.claim += 7;
    stale.spawn = vec![message("t1", "msg_stale_cb", T0 + 1)];
    let mut applied = finish_of(&c, T0 + 1, Transition::Delivered, "DELIVERED");
    applied.spawn = vec![
        message("t1", "msg_cb", T0 + 1),
        message("t1", "msg_cb2", T0 + 2),
    ];
    let out = store.finish(vec![stale, applied]).await.expect("finish");
    assert_eq!(out, [FinishOutcome::Stale, FinishOutcome::Applied]);
    assert_eq!(
        store.get_message("t1", "msg_stale_cb").await.expect("get"),
        None
    );
    let cb = get(store, "t1", "msg_cb").await;
    assert_eq!(cb.state, MessageState::Pending);
    assert_eq!(cb.due_at, T0 + 1);
    get(store, "t1", "msg_cb2").await;
    assert_eq!(states_of(store, "t1", "msg_cb").await, ["CREATED"]);
    let claimed = store.claim_due(T0 + 2, 10).await.expect("claim");
    let ids: Vec<_> = claimed
        .iter()
        .map(|c| c.message.message.id.as_str())
        .collect();
    assert_eq!(ids, ["msg_cb", "msg_cb2"], "spawned messages are delivered");
}

/// A failing finish adds its dead letter; the failure callback's finish settles its state,
/// only when it applies.
pub async fn dlq_added_and_callback_state<S: Store>(store: &S) {
    dead_letter(store, message("t1", "msg_a", T0), "dlq_a", 503).await;
    let entry = store
        .get_dlq("t1", "dlq_a")
        .await
        .expect("get_dlq")
        .expect("the dead letter exists");
    assert_eq!(entry.dlq_id, "dlq_a");
    assert_eq!(entry.created_at, T0 + 1);
    assert_eq!(entry.message.message.id, "msg_a");
    assert_eq!(entry.message.state, MessageState::Failed);
    assert_eq!(entry.response.status, Some(503));
    assert_eq!(entry.response.body, b"failed");
    assert_eq!(entry.response.headers, [("X".to_string(), "y".to_string())]);
    assert_eq!(
        entry.failure_callback.as_deref(),
        Some("https://example.com/failed")
    );
    assert_eq!(entry.failure_callback_state, None);

    // The failure callback is itself a message; its finish settles the state.
    insert(store, vec![message("t1", "msg_fcb", T0 + 2)], T0 + 1).await;
    let c = claim_one(store, T0 + 2).await;
    let mut stale = finish_of(&c, T0 + 3, Transition::Delivered, "DELIVERED");
    stale.claim += 1;
    stale.dlq_callback_state = Some(("dlq_a".to_string(), "CALLBACK_FAIL".to_string()));
    let mut ok = finish_of(&c, T0 + 3, Transition::Delivered, "DELIVERED");
    ok.dlq_callback_state = Some(("dlq_a".to_string(), "CALLBACK_SUCCESS".to_string()));
    let out = store.finish(vec![stale, ok]).await.expect("finish");
    assert_eq!(out, [FinishOutcome::Stale, FinishOutcome::Applied]);
    let entry = store
        .get_dlq("t1", "dlq_a")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        entry.failure_callback_state.as_deref(),
        Some("CALLBACK_SUCCESS")
    );
}

/// Cancel: pending → cancelled (an in-flight claim's finish is then stale), final → already
/// final, unknown or another tenant's → not found.
pub async fn cancel_outcomes<S: Store>(store: &S) {
    insert(
        store,
        vec![message("t1", "msg_a", T0), message("t1", "msg_b", T0 + 1)],
        T0,
    )
    .await;
    let in_flight = claim_one(store, T0 + 1).await;
    assert_eq!(in_flight.message.message.id, "msg_a");
    assert_eq!(
        store
            .cancel_message("t2", "msg_a", T0 + 2)
            .await
            .expect("cancel"),
        CancelOutcome::NotFound,
        "another tenant's message does not exist"
    );
    assert_eq!(
        store
            .cancel_message("t1", "msg_x", T0 + 2)
            .await
            .expect("cancel"),
        CancelOutcome::NotFound
    );
    assert_eq!(
        store
            .cancel_message("t1", "msg_a", T0 + 2)
            .await
            .expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        get(store, "t1", "msg_a").await.state,
        MessageState::Cancelled
    );
    let out = store
        .finish(vec![finish_of(
            &in_flight,
            T0 + 3,
            Transition::Retry { at: T0 + 9 },
            "RETRY",
        )])
        .await
        .expect("finish");
    assert_eq!(
        out,
        [FinishOutcome::Stale],
        "the in-flight attempt is not retried"
    );
    assert_eq!(
        get(store, "t1", "msg_a").await.state,
        MessageState::Cancelled
    );
    assert_eq!(
        store
            .cancel_message("t1", "msg_a", T0 + 4)
            .await
            .expect("cancel"),
        CancelOutcome::AlreadyFinal(MessageState::Cancelled)
    );
    assert_eq!(
        states_of(store, "t1", "msg_a").await,
        ["CREATED", "ACTIVE", "CANCEL_REQUESTED", "CANCELLED"]
    );
    let c = claim_one(store, T0 + 5).await;
    assert_eq!(c.message.message.id, "msg_b");
    store
        .finish(vec![finish_of(
            &c,
            T0 + 6,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    assert_eq!(
        store
            .cancel_message("t1", "msg_b", T0 + 7)
            .await
            .expect("cancel"),
        CancelOutcome::AlreadyFinal(MessageState::Delivered)
    );
    assert_eq!(
        get(store, "t1", "msg_b").await.state,
        MessageState::Delivered
    );
}
