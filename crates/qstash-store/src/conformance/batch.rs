//! Checks of the calls that write several things at once: [`Store::write_batch`] and
//! [`Store::end_runs`] are all or nothing.

use super::{T0, all_events, create, linked, message, new_run, steps_of, with_dedup};
use crate::{
    BatchOutcome, CreateRunOutcome, EndRun, EndRunOutcome, EventFilter, InsertOutcome,
    MessageState, RunState, RunStep, RunToCreate, Store,
};

fn run_to_create(tenant: &str, run_id: &str, first_id: &str) -> RunToCreate {
    RunToCreate {
        run: new_run(tenant, run_id),
        steps: Vec::new(),
        first: linked(message(tenant, first_id, T0), run_id, true),
    }
}

/// Nothing of a batch is stored when its last part fails on commit: a message id used twice,
/// or a run whose first message is a duplicate.
pub async fn write_batch_is_all_or_nothing<S: Store>(store: &S) {
    // The last message reuses the id of the first: a constraint violation at the end.
    let out = store
        .write_batch(
            vec![run_to_create("t1", "wfr_a", "msg_a0")],
            vec![message("t1", "msg_p", T0), message("t1", "msg_p", T0)],
            T0,
        )
        .await;
    assert!(out.is_err(), "a message id twice fails the batch: {out:?}");
    // The last run's first message is a duplicate of a remembered id.
    store
        .insert_messages(
            vec![with_dedup(message("t1", "msg_d", T0), "x", T0 + 60_000)],
            T0,
        )
        .await
        .expect("insert_messages");
    let mut dup = run_to_create("t1", "wfr_c", "msg_c0");
    dup.first = with_dedup(dup.first, "x", T0 + 60_000);
    let out = store
        .write_batch(
            vec![run_to_create("t1", "wfr_b", "msg_b0"), dup],
            vec![message("t1", "msg_q", T0)],
            T0,
        )
        .await;
    assert!(
        out.is_err(),
        "a duplicate first message fails the batch: {out:?}"
    );
    for run in ["wfr_a", "wfr_b", "wfr_c"] {
        assert_eq!(
            store.get_run("t1", run).await.expect("get_run"),
            None,
            "{run}"
        );
        assert_eq!(steps_of(store, "t1", run, None).await, [], "{run}");
    }
    for id in ["msg_a0", "msg_p", "msg_b0", "msg_c0", "msg_q"] {
        assert_eq!(
            store.get_message("t1", id).await.expect("get"),
            None,
            "{id}"
        );
    }
    let events = all_events(store, "t1", &EventFilter::default()).await;
    assert!(
        events.iter().all(|e| e.message_id == "msg_d"),
        "only the earlier message has events: {events:?}"
    );
}

/// A batch creates its runs (a run id given twice is `Exists` the second time, also within the
/// call), copies the steps a run starts with, then stores its messages, steps of the runs just
/// created included.
pub async fn write_batch_creates_runs_and_messages<S: Store>(store: &S) {
    let mut resumed = run_to_create("t1", "wfr_r", "msg_r1");
    resumed.steps = vec![RunStep {
        seq: 7,
        message_id: "msg_old".into(),
        body: b"done".to_vec(),
        created_at: T0 - 5,
    }];
    let out: BatchOutcome = store
        .write_batch(
            vec![
                run_to_create("t1", "wfr_a", "msg_a0"),
                run_to_create("t1", "wfr_a", "msg_a0_again"),
                resumed,
            ],
            vec![
                message("t1", "msg_plain", T0),
                linked(message("t1", "msg_a1", T0), "wfr_a", true),
            ],
            T0,
        )
        .await
        .expect("write_batch");
    assert_eq!(out.runs[0], CreateRunOutcome::Created);
    assert!(
        matches!(out.runs[1], CreateRunOutcome::Exists(_)),
        "{out:?}"
    );
    assert_eq!(out.runs[2], CreateRunOutcome::Created);
    assert_eq!(out.messages, vec![InsertOutcome::Inserted; 2]);
    let ids = |steps: Vec<(u64, String, Vec<u8>)>| -> Vec<(u64, String)> {
        steps.into_iter().map(|(s, id, _)| (s, id)).collect()
    };
    assert_eq!(
        ids(steps_of(store, "t1", "wfr_a", None).await),
        [(0, "msg_a0".to_string()), (1, "msg_a1".to_string())]
    );
    assert_eq!(
        ids(steps_of(store, "t1", "wfr_r", None).await),
        [(0, "msg_old".to_string()), (1, "msg_r1".to_string())]
    );
    assert_eq!(
        store.get_message("t1", "msg_a0_again").await.expect("get"),
        None
    );
    assert!(
        store
            .get_message("t1", "msg_plain")
            .await
            .expect("get")
            .is_some()
    );
}

/// `end_runs` ends every started run named, in one call: outcomes in order, pending messages
/// cancelled; an end state of `Started` refuses the whole call.
pub async fn end_runs_in_one_call<S: Store>(store: &S) {
    for run in ["wfr_a", "wfr_b"] {
        create(
            store,
            new_run("t1", run),
            linked(message("t1", &format!("msg_{run}"), T0 + 60_000), run, true),
            T0,
        )
        .await;
    }
    let started = EndRun {
        state: RunState::Started,
        response: None,
        reason: None,
    };
    let ids = ["wfr_a".to_string(), "nope".to_string(), "wfr_b".to_string()];
    assert!(store.end_runs("t1", &ids, started, T0).await.is_err());
    let run = store
        .get_run("t1", "wfr_a")
        .await
        .expect("get_run")
        .expect("run");
    assert_eq!(run.state, RunState::Started);
    let cancel = EndRun {
        state: RunState::Canceled,
        response: None,
        reason: Some("cancelled".into()),
    };
    let out = store
        .end_runs("t1", &ids, cancel.clone(), T0 + 1)
        .await
        .expect("end_runs");
    assert_eq!(
        out,
        [
            EndRunOutcome::Ended,
            EndRunOutcome::NotFound,
            EndRunOutcome::Ended
        ]
    );
    for run in ["wfr_a", "wfr_b"] {
        let m = store
            .get_message("t1", &format!("msg_{run}"))
            .await
            .expect("get")
            .expect("message");
        assert_eq!(m.state, MessageState::Cancelled, "{run}");
    }
    // Another tenant names the same runs: for it they do not exist.
    let out = store
        .end_runs("t2", &ids[..1], cancel, T0 + 2)
        .await
        .expect("end_runs");
    assert_eq!(out, [EndRunOutcome::NotFound]);
}

/// Many messages in one [`Store::insert_messages`] call (the size of a `/v2/batch`) are each
/// stored as one at a time would be, their `CREATED` events in order; one id that exists
/// fails the whole call, naming the id, with nothing of it stored.
pub async fn insert_messages_many_in_one_call<S: Store>(store: &S) {
    // 150 = 64 + 64 + 16 + 4 + 1 + 1: every size of the multi-row statements.
    let batch: Vec<_> = (0..150u64)
        .map(|i| {
            let mut m = message("t1", &format!("msg_{i:03}"), T0 + i);
            m.labels = if i % 3 == 0 {
                vec![format!("l{i}")]
            } else {
                Vec::new()
            };
            if i % 5 == 0 {
                m.flow_key = Some("fk".into());
            }
            m.body = vec![u8::try_from(i % 251).expect("byte"); usize::try_from(i).expect("len")];
            m
        })
        .collect();
    super::insert(store, batch.clone(), T0).await;
    for m in &batch {
        let stored = store
            .get_message("t1", &m.id)
            .await
            .expect("get_message")
            .unwrap_or_else(|| panic!("{} stored", m.id));
        assert_eq!(&stored.message, m, "{}", m.id);
        assert_eq!(stored.state, MessageState::Pending, "{}", m.id);
        assert_eq!(stored.due_at, m.due_at, "{}", m.id);
    }
    let events = all_events(store, "t1", &EventFilter::default()).await;
    let created: Vec<&str> = events
        .iter()
        .rev()
        .filter(|e| e.state == "CREATED")
        .map(|e| e.message_id.as_str())
        .collect();
    let ids: Vec<&str> = batch.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(created, ids, "one CREATED event each, in order");

    // The 71st of 100 exists already.
    let again: Vec<_> = (0..100u64)
        .map(|i| {
            let id = if i == 70 {
                "msg_042".to_owned()
            } else {
                format!("new_{i:03}")
            };
            message("t1", &id, T0)
        })
        .collect();
    let out = store.insert_messages(again, T0).await;
    let err = out.expect_err("an existing id fails the call");
    assert!(err.to_string().contains("msg_042"), "names the id: {err}");
    for i in 0..100u64 {
        let id = format!("new_{i:03}");
        assert_eq!(
            store.get_message("t1", &id).await.expect("get"),
            None,
            "{id}"
        );
    }
    assert_eq!(
        all_events(store, "t1", &EventFilter::default()).await.len(),
        events.len(),
        "no event of the failed call"
    );
}
