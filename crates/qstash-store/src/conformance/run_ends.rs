//! Checks of the end of a workflow run: `end_run` cancels what is pending, a finish can end the
//! run.

use super::{
    T0, all_events, claim_one, create, ended, finish_of, get, insert, linked, message, new_run,
    run_of, states_of, steps_of,
};
use crate::{
    AttemptResponse, EndRun, EndRunOutcome, EventFilter, FinishOutcome, InsertOutcome,
    MessageState, NewDlq, RunLink, RunState, Store, Transition,
};

/// `end_run`: a started run ends (state, end time, response and reason kept) and every pending
/// message of it, claimed or not, is cancelled with a `CANCELLED` event; an ended run is
/// `AlreadyEnded` and nothing changes; an unknown or another tenant's run is `NotFound`.
pub async fn end_run_cancels_pending<S: Store>(store: &S) {
    create(
        store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_0", T0), "wfr_a", true),
        T0,
    )
    .await;
    create(
        store,
        new_run("t1", "wfr_b"),
        linked(message("t1", "msg_b", T0 + 50), "wfr_b", true),
        T0,
    )
    .await;
    create(
        store,
        new_run("t2", "wfr_a"),
        linked(message("t2", "msg_t2", T0 + 50), "wfr_a", true),
        T0,
    )
    .await;
    insert(
        store,
        vec![
            linked(message("t1", "msg_1", T0 + 10), "wfr_a", true),
            linked(message("t1", "msg_cb", T0 + 20), "wfr_a", false),
            linked(message("t1", "msg_done", T0 + 1), "wfr_a", false),
            message("t1", "msg_plain", T0 + 30),
        ],
        T0,
    )
    .await;
    // msg_0 is in flight; msg_done is delivered.
    let in_flight = claim_one(store, T0).await;
    assert_eq!(in_flight.message.message.id, "msg_0");
    let done = claim_one(store, T0 + 1).await;
    assert_eq!(done.message.message.id, "msg_done");
    store
        .finish(vec![finish_of(
            &done,
            T0 + 2,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");

    let end = EndRun {
        state: RunState::Success,
        response: Some(b"\"the result\"".to_vec()),
        reason: Some("done".to_string()),
    };
    for (tenant, run_id) in [("t1", "wfr_x"), ("t3", "wfr_a")] {
        assert_eq!(
            store
                .end_run(tenant, run_id, end.clone(), T0 + 3)
                .await
                .expect("end_run"),
            EndRunOutcome::NotFound
        );
    }
    assert!(
        store
            .end_run("t1", "wfr_a", ended(RunState::Started), T0 + 3)
            .await
            .is_err(),
        "a run cannot end as started"
    );
    assert_eq!(run_of(store, "t1", "wfr_a").await.state, RunState::Started);
    assert_eq!(
        store
            .end_run("t1", "wfr_a", end.clone(), T0 + 4)
            .await
            .expect("end_run"),
        EndRunOutcome::Ended
    );
    let run = run_of(store, "t1", "wfr_a").await;
    assert_eq!(run.state, RunState::Success);
    assert_eq!(run.ended_at, Some(T0 + 4));
    assert_eq!(run.response, end.response);
    assert_eq!(run.reason, end.reason);
    for id in ["msg_0", "msg_1", "msg_cb"] {
        assert_eq!(get(store, "t1", id).await.state, MessageState::Cancelled);
    }
    assert_eq!(
        states_of(store, "t1", "msg_0").await,
        ["CREATED", "ACTIVE", "CANCELLED"]
    );
    assert_eq!(
        states_of(store, "t1", "msg_1").await,
        ["CREATED", "CANCELLED"]
    );
    let filter = EventFilter {
        message_ids: vec!["msg_1".to_string()],
        ..EventFilter::default()
    };
    let cancelled = &all_events(store, "t1", &filter).await[0];
    assert_eq!(cancelled.time, T0 + 4);
    assert_eq!(cancelled.url, "https://example.com/msg_1");
    assert_eq!(
        get(store, "t1", "msg_done").await.state,
        MessageState::Delivered
    );
    for (tenant, id) in [("t1", "msg_plain"), ("t1", "msg_b"), ("t2", "msg_t2")] {
        assert_eq!(get(store, tenant, id).await.state, MessageState::Pending);
    }
    assert_eq!(run_of(store, "t1", "wfr_b").await.state, RunState::Started);
    assert_eq!(run_of(store, "t2", "wfr_a").await.state, RunState::Started);
    // The attempt in flight finishes stale.
    let out = store
        .finish(vec![finish_of(
            &in_flight,
            T0 + 5,
            Transition::Retry { at: T0 + 9 },
            "RETRY",
        )])
        .await
        .expect("finish");
    assert_eq!(out, [FinishOutcome::Stale]);

    // Ended: nothing changes.
    assert_eq!(
        store
            .end_run("t1", "wfr_a", ended(RunState::Canceled), T0 + 6)
            .await
            .expect("end_run"),
        EndRunOutcome::AlreadyEnded(RunState::Success)
    );
    assert_eq!(run_of(store, "t1", "wfr_a").await, run);
    // A step of the ended run is refused with its state; a linked message is still stored.
    let out = store
        .insert_messages(
            vec![
                linked(message("t1", "msg_late", T0), "wfr_a", true),
                linked(message("t1", "msg_fcb", T0 + 100), "wfr_a", false),
            ],
            T0 + 7,
        )
        .await
        .expect("insert");
    assert_eq!(
        out,
        [
            InsertOutcome::RunNotActive(Some(RunState::Success)),
            InsertOutcome::Inserted
        ]
    );
    assert_eq!(
        store.get_message("t1", "msg_late").await.expect("get"),
        None
    );
    assert_eq!(steps_of(store, "t1", "wfr_a", None).await.len(), 2);

    // Cancelling ends the other run with its own state.
    assert_eq!(
        store
            .end_run("t1", "wfr_b", ended(RunState::Canceled), T0 + 8)
            .await
            .expect("end_run"),
        EndRunOutcome::Ended
    );
    let b = run_of(store, "t1", "wfr_b").await;
    assert_eq!(
        (
            b.state,
            b.ended_at,
            b.response.as_deref(),
            b.reason.as_deref()
        ),
        (RunState::Canceled, Some(T0 + 8), None, None)
    );
    assert_eq!(
        get(store, "t1", "msg_b").await.state,
        MessageState::Cancelled
    );
    assert_eq!(
        get(store, "t2", "msg_t2").await.state,
        MessageState::Pending,
        "another tenant's run of the same id is untouched"
    );
}

/// A finish with `end_run` ends a started run in its own transaction (the run's other pending
/// messages are cancelled, its spawned messages inserted); when the run has ended already the
/// run keeps its state and nothing is spawned, but the rest of the finish applies; a stale
/// finish ends nothing; the finishing message is not cancelled by the run it ends; a run the
/// tenant does not have ends nothing and does not stop the spawned messages.
pub async fn finish_ends_run<S: Store>(store: &S) {
    create(
        store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_0", T0), "wfr_a", true),
        T0,
    )
    .await;
    insert(
        store,
        vec![linked(message("t1", "msg_1", T0 + 10), "wfr_a", true)],
        T0,
    )
    .await;
    let c = claim_one(store, T0).await;
    assert_eq!(c.message.message.id, "msg_0");
    let failure = EndRun {
        state: RunState::Failed,
        response: None,
        reason: Some("status 500".to_string()),
    };
    let mut stale = finish_of(&c, T0 + 1, Transition::Failed, "FAILED");
    stale.claim += 1;
    stale.end_run = Some(("wfr_a".to_string(), failure.clone()));
    stale.spawn = vec![message("t1", "msg_stale_cb", T0 + 1)];
    assert_eq!(
        store.finish(vec![stale]).await.expect("finish"),
        [FinishOutcome::Stale]
    );
    assert_eq!(run_of(store, "t1", "wfr_a").await.state, RunState::Started);

    let mut f = finish_of(&c, T0 + 2, Transition::Failed, "FAILED");
    f.end_run = Some(("wfr_a".to_string(), failure.clone()));
    f.spawn = vec![linked(message("t1", "msg_fcb", T0 + 2), "wfr_a", false)];
    f.dlq = Some(NewDlq {
        dlq_id: "dlq_0".to_string(),
        created_at: T0 + 2,
        response: AttemptResponse::default(),
        failure_callback: Some("https://example.com/wf".to_string()),
    });
    assert_eq!(
        store.finish(vec![f]).await.expect("finish"),
        [FinishOutcome::Applied]
    );
    let run = run_of(store, "t1", "wfr_a").await;
    assert_eq!(
        (run.state, run.ended_at, run.reason.as_deref()),
        (RunState::Failed, Some(T0 + 2), Some("status 500"))
    );
    assert_eq!(get(store, "t1", "msg_0").await.state, MessageState::Failed);
    assert_eq!(
        states_of(store, "t1", "msg_0").await,
        ["CREATED", "ACTIVE", "FAILED"]
    );
    assert_eq!(
        get(store, "t1", "msg_1").await.state,
        MessageState::Cancelled
    );
    assert_eq!(
        states_of(store, "t1", "msg_1").await,
        ["CREATED", "CANCELLED"]
    );
    assert_eq!(
        get(store, "t1", "msg_fcb").await.state,
        MessageState::Pending,
        "the failure callback is spawned after the run's messages were cancelled"
    );
    assert!(store.get_dlq("t1", "dlq_0").await.expect("dlq").is_some());

    // The failure callback (linked to the ended run) fails too: the run keeps its state and
    // nothing more is spawned, but the message fails and its dead letter is added.
    let c = claim_one(store, T0 + 2).await;
    assert_eq!(c.message.message.id, "msg_fcb");
    assert_eq!(
        c.message.message.run,
        Some(RunLink {
            run_id: "wfr_a".to_string(),
            step: false
        }),
        "a claim carries the run link"
    );
    let mut f = finish_of(&c, T0 + 3, Transition::Failed, "FAILED");
    f.end_run = Some((
        "wfr_a".to_string(),
        EndRun {
            state: RunState::Failed,
            response: None,
            reason: Some("again".to_string()),
        },
    ));
    f.spawn = vec![message("t1", "msg_second_cb", T0 + 3)];
    f.dlq = Some(NewDlq {
        dlq_id: "dlq_fcb".to_string(),
        created_at: T0 + 3,
        response: AttemptResponse::default(),
        failure_callback: None,
    });
    assert_eq!(
        store.finish(vec![f]).await.expect("finish"),
        [FinishOutcome::Applied]
    );
    assert_eq!(
        run_of(store, "t1", "wfr_a").await,
        run,
        "the run is unchanged"
    );
    assert_eq!(
        store.get_message("t1", "msg_second_cb").await.expect("get"),
        None,
        "a run has one failure callback"
    );
    assert_eq!(
        get(store, "t1", "msg_fcb").await.state,
        MessageState::Failed
    );
    assert!(store.get_dlq("t1", "dlq_fcb").await.expect("dlq").is_some());
    assert_eq!(
        states_of(store, "t1", "msg_fcb").await,
        ["CREATED", "ACTIVE", "FAILED"]
    );
    assert_eq!(store.next_due(T0).await.expect("next_due"), None);

    // The finishing message itself is not cancelled by the run it ends, even while it stays
    // pending; the run's other pending messages are.
    create(
        store,
        new_run("t1", "wfr_b"),
        linked(message("t1", "msg_b0", T0 + 10), "wfr_b", true),
        T0 + 10,
    )
    .await;
    insert(
        store,
        vec![linked(message("t1", "msg_b1", T0 + 50), "wfr_b", false)],
        T0 + 10,
    )
    .await;
    let c = claim_one(store, T0 + 10).await;
    assert_eq!(c.message.message.id, "msg_b0");
    let mut f = finish_of(&c, T0 + 11, Transition::Retry { at: T0 + 20 }, "RETRY");
    f.end_run = Some(("wfr_b".to_string(), ended(RunState::Canceled)));
    assert_eq!(
        store.finish(vec![f]).await.expect("finish"),
        [FinishOutcome::Applied]
    );
    assert_eq!(run_of(store, "t1", "wfr_b").await.state, RunState::Canceled);
    let b0 = get(store, "t1", "msg_b0").await;
    assert_eq!((b0.state, b0.retried), (MessageState::Pending, 1));
    assert_eq!(
        get(store, "t1", "msg_b1").await.state,
        MessageState::Cancelled
    );
    // A finish naming a run the tenant does not have ends nothing and still spawns.
    let c = claim_one(store, T0 + 20).await;
    assert_eq!(c.message.message.id, "msg_b0");
    let mut f = finish_of(&c, T0 + 21, Transition::Failed, "FAILED");
    f.end_run = Some(("wfr_none".to_string(), ended(RunState::Failed)));
    f.spawn = vec![message("t1", "msg_b_cb", T0 + 21)];
    assert_eq!(
        store.finish(vec![f]).await.expect("finish"),
        [FinishOutcome::Applied]
    );
    assert_eq!(
        store.get_run("t1", "wfr_none").await.expect("get_run"),
        None
    );
    get(store, "t1", "msg_b_cb").await;
}
