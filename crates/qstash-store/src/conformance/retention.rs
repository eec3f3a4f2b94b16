//! The retention checks ([`Store::purge`]): what is old and finished goes, with its events and
//! steps; what is pending, started, recent or still dead-lettered stays; batches are bounded.

use super::{
    LEASE, T0, claim_one, create, dead_letter, ended, finish_of, get, insert, linked, message,
    new_run, states_of, with_dedup,
};
use crate::{
    EventFilter, FinishOutcome, InsertOutcome, Millis, PurgeCounts, PurgeCutoffs, RunState, Store,
    Transition,
};

/// Stores `id` of `tenant` and delivers it at `at`.
async fn delivered<S: Store>(store: &S, tenant: &str, id: &str, at: Millis) {
    insert(store, vec![message(tenant, id, at)], at).await;
    let claimed = claim_one(store, at).await;
    assert_eq!(claimed.message.message.id, id);
    let finish = finish_of(&claimed, at, Transition::Delivered, "DELIVERED");
    assert_eq!(
        store.finish(vec![finish]).await.expect("finish"),
        vec![FinishOutcome::Applied]
    );
}

fn cutoffs(finished_before: Millis, dlq_before: Millis, now: Millis) -> PurgeCutoffs {
    PurgeCutoffs {
        finished_before,
        dlq_before,
        now,
    }
}

async fn purge_all<S: Store>(store: &S, cutoffs: PurgeCutoffs) -> PurgeCounts {
    let mut total = PurgeCounts::default();
    loop {
        let counts = store.purge(cutoffs, 500).await.expect("purge");
        total.add(&counts);
        if !counts.may_have_more(500) {
            return total;
        }
    }
}

/// Finished messages (delivered, cancelled) that ended before the cutoff go with all their
/// events; pending ones, recent ones and dead-lettered ones stay. A dead letter goes once older
/// than its own cutoff, and its message with it. Event ids keep increasing after a purge.
pub async fn purge_removes_old_finished_messages<S: Store>(store: &S) {
    delivered(store, "t1", "msg_old", T0 + 10).await;
    insert(store, vec![message("t1", "msg_cancelled", T0 + 5)], T0).await;
    store
        .cancel_message("t1", "msg_cancelled", T0 + 20)
        .await
        .expect("cancel");
    dead_letter(store, message("t1", "msg_failed", T0), "dlq_1", 500).await;
    delivered(store, "t1", "msg_recent", T0 + 1_000).await;
    // Pending, due long ago: never finished, never removed.
    insert(store, vec![message("t1", "msg_pending", T0 + 2_000)], T0).await;
    let newest_before = super::all_events(store, "t1", &EventFilter::default())
        .await
        .first()
        .map(|e| e.id)
        .expect("events exist");

    let counts = purge_all(store, cutoffs(T0 + 500, T0, T0)).await;
    assert_eq!(
        counts.messages, 2,
        "the old delivered and cancelled ones: {counts:?}"
    );
    assert_eq!(counts.events, 6, "3 events each: {counts:?}");
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    for id in ["msg_old", "msg_cancelled"] {
        assert_eq!(
            store.get_message("t1", id).await.expect("get"),
            None,
            "{id} removed"
        );
        assert!(
            states_of(store, "t1", id).await.is_empty(),
            "{id}'s events removed"
        );
    }
    for id in ["msg_failed", "msg_recent", "msg_pending"] {
        get(store, "t1", id).await;
        assert!(
            !states_of(store, "t1", id).await.is_empty(),
            "{id}'s events kept"
        );
    }
    assert!(
        store
            .get_dlq("t1", "dlq_1")
            .await
            .expect("get_dlq")
            .is_some()
    );

    // The dead letter's own cutoff: it goes, and its failed message with it.
    let counts = purge_all(store, cutoffs(T0 + 500, T0 + 2, T0)).await;
    assert_eq!(counts.dead_letters, 1, "{counts:?}");
    assert_eq!(counts.messages, 1, "{counts:?}");
    assert!(
        store
            .get_dlq("t1", "dlq_1")
            .await
            .expect("get_dlq")
            .is_none()
    );
    assert_eq!(
        store.get_message("t1", "msg_failed").await.expect("get"),
        None
    );

    // Nothing more to remove: a purge again removes nothing.
    let again = store
        .purge(cutoffs(T0 + 500, T0 + 2, T0), 500)
        .await
        .expect("purge");
    assert!(again.is_empty(), "{again:?}");

    // New events still get ids above every id seen before (cursors stay valid).
    insert(
        store,
        vec![message("t1", "msg_new", T0 + 3_000)],
        T0 + 3_000,
    )
    .await;
    let events = super::all_events(store, "t1", &EventFilter::default()).await;
    assert!(
        events[0].id > newest_before,
        "{} > {newest_before}",
        events[0].id
    );
}

/// Runs that ended before the cutoff go with their steps; started runs, recent ones and runs
/// with a dead-lettered message stay.
pub async fn purge_removes_old_finished_runs<S: Store>(store: &S) {
    create(
        store,
        new_run("t1", "run_old"),
        linked(message("t1", "msg_a", T0 + 100_000), "run_old", true),
        T0,
    )
    .await;
    store
        .end_run("t1", "run_old", ended(RunState::Success), T0 + 10)
        .await
        .expect("end_run");
    create(
        store,
        new_run("t1", "run_started"),
        linked(message("t1", "msg_b", T0 + 100_000), "run_started", true),
        T0,
    )
    .await;
    create(
        store,
        new_run("t1", "run_recent"),
        linked(message("t1", "msg_c", T0 + 100_000), "run_recent", true),
        T0,
    )
    .await;
    store
        .end_run("t1", "run_recent", ended(RunState::Canceled), T0 + 1_000)
        .await
        .expect("end_run");
    // A failed run whose message is dead-lettered: resuming it needs the run.
    create(
        store,
        new_run("t1", "run_dead"),
        linked(message("t1", "msg_d", T0), "run_dead", true),
        T0,
    )
    .await;
    let claimed = claim_one(store, T0).await;
    assert_eq!(claimed.message.message.id, "msg_d");
    let mut finish = finish_of(&claimed, T0 + 1, Transition::Failed, "FAILED");
    finish.dlq = Some(crate::NewDlq {
        dlq_id: "dlq_run".to_string(),
        created_at: T0 + 1,
        response: crate::AttemptResponse::default(),
        failure_callback: None,
    });
    finish.end_run = Some(("run_dead".to_string(), ended(RunState::Failed)));
    assert_eq!(
        store.finish(vec![finish]).await.expect("finish"),
        vec![FinishOutcome::Applied]
    );

    let counts = purge_all(store, cutoffs(T0 + 500, T0, T0)).await;
    assert_eq!(counts.runs, 1, "{counts:?}");
    assert_eq!(counts.run_steps, 1, "{counts:?}");
    assert_eq!(store.get_run("t1", "run_old").await.expect("get_run"), None);
    assert!(
        store
            .run_steps("t1", "run_old", None)
            .await
            .expect("run_steps")
            .is_empty()
    );
    for run in ["run_started", "run_recent", "run_dead"] {
        assert!(
            store.get_run("t1", run).await.expect("get_run").is_some(),
            "{run} kept"
        );
        assert!(
            !store
                .run_steps("t1", run, None)
                .await
                .expect("run_steps")
                .is_empty(),
            "{run}'s steps kept"
        );
    }
    // The old run's cancelled message went too (it finished when the run ended).
    assert_eq!(store.get_message("t1", "msg_a").await.expect("get"), None);
    get(store, "t1", "msg_b").await;
}

/// Expired deduplication ids go; remembered ones stay and still refuse.
pub async fn purge_removes_expired_dedup_ids<S: Store>(store: &S) {
    let first = with_dedup(message("t1", "msg_1", T0 + LEASE), "d1", T0 + 100);
    let second = with_dedup(message("t1", "msg_2", T0 + LEASE), "d2", T0 + 1_000);
    insert(store, vec![first, second], T0).await;
    let counts = purge_all(store, cutoffs(T0, T0, T0 + 100)).await;
    assert_eq!(counts.dedup_ids, 1, "{counts:?}");
    assert_eq!(counts.messages, 0, "pending messages stay: {counts:?}");
    let again = with_dedup(message("t1", "msg_3", T0 + LEASE), "d2", T0 + 2_000);
    assert_eq!(
        store
            .insert_messages(vec![again], T0 + 200)
            .await
            .expect("insert"),
        vec![InsertOutcome::Deduplicated {
            existing_id: "msg_2".to_string()
        }]
    );
}

/// One call removes at most `batch_limit` of a kind, and says when more may be left.
pub async fn purge_is_batched<S: Store>(store: &S) {
    for i in 0..7 {
        delivered(store, "t1", &format!("msg_{i}"), T0 + i).await;
    }
    // A recent one, so that the newest event is not among those removed.
    delivered(store, "t1", "msg_recent", T0 + 10_000).await;
    let c = cutoffs(T0 + 500, T0, T0);
    let mut seen = Vec::new();
    loop {
        let counts = store.purge(c, 3).await.expect("purge");
        seen.push(counts.messages);
        assert_eq!(counts.events, 3 * counts.messages, "{counts:?}");
        if !counts.may_have_more(3) {
            break;
        }
        assert!(seen.len() < 10, "purge never ends: {seen:?}");
    }
    assert_eq!(seen, vec![3, 3, 1]);
    get(store, "t1", "msg_recent").await;
}
