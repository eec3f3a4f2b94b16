//! Checks of workflow runs: creating one with its first message, its steps, listing runs, copied
//! steps, concurrent steps.

use std::collections::HashSet;
use std::sync::Arc;

use super::{
    T0, all_events, create, ended, get, insert, linked, message, new_run, run_of, states_of,
    steps_of, with_dedup,
};
use crate::{
    CreateRunOutcome, EndRunOutcome, EventFilter, InsertOutcome, MessageState, RunFilter, RunLink,
    RunState, RunStep, Store, StoreErrorKind,
};

/// `create_run` stores the run (started) and its first message, which keeps its run link and is
/// step 0 when it is a step; a run id the tenant has is `Exists` and stores nothing; another
/// tenant's run with the same id is a different run.
pub async fn run_create_and_get<S: Store>(store: &S) {
    let mut run = new_run("t1", "wfr_a");
    run.labels = vec!["l1".to_string(), "l%2_".to_string()];
    let first = linked(message("t1", "msg_init", T0), "wfr_a", true);
    create(store, run.clone(), first.clone(), T0 + 1).await;
    let stored = run_of(store, "t1", "wfr_a").await;
    assert_eq!(stored.run, run, "the run reads back as created");
    assert_eq!(stored.state, RunState::Started);
    assert_eq!(
        (
            stored.ended_at,
            stored.response.as_deref(),
            stored.reason.as_deref()
        ),
        (None, None, None)
    );
    let m = get(store, "t1", "msg_init").await;
    assert_eq!(m.message, first, "the first message keeps its run link");
    assert_eq!(m.state, MessageState::Pending);
    assert_eq!(states_of(store, "t1", "msg_init").await, ["CREATED"]);
    let steps = store
        .run_steps("t1", "wfr_a", None)
        .await
        .expect("run_steps");
    assert_eq!(
        steps,
        [RunStep {
            seq: 0,
            message_id: "msg_init".to_string(),
            body: first.body.clone(),
            created_at: T0 + 1,
        }],
        "the first message is step 0"
    );

    // The same id again: exists, and nothing of the call is stored.
    let again = store
        .create_run(
            new_run("t1", "wfr_a"),
            linked(message("t1", "msg_again", T0), "wfr_a", true),
            T0 + 2,
        )
        .await
        .expect("create_run");
    assert_eq!(again, CreateRunOutcome::Exists(stored.clone()));
    assert_eq!(
        store.get_message("t1", "msg_again").await.expect("get"),
        None
    );
    assert_eq!(steps_of(store, "t1", "wfr_a", None).await.len(), 1);

    // Another tenant, same run id: an independent run.
    assert_eq!(store.get_run("t2", "wfr_a").await.expect("get_run"), None);
    let mut other = new_run("t2", "wfr_a");
    other.workflow_url = "https://example.com/other".to_string();
    create(
        store,
        other.clone(),
        linked(message("t2", "msg_t2", T0), "wfr_a", true),
        T0 + 3,
    )
    .await;
    assert_eq!(run_of(store, "t2", "wfr_a").await.run, other);
    assert_eq!(run_of(store, "t1", "wfr_a").await, stored, "untouched");
    assert_eq!(
        steps_of(store, "t2", "wfr_a", None).await,
        [(0, "msg_t2".to_string(), b"body of msg_t2".to_vec())]
    );
    assert!(stored.seq < run_of(store, "t2", "wfr_a").await.seq);

    // A first message that is not a step is linked but does not start the steps.
    create(
        store,
        new_run("t1", "wfr_b"),
        linked(message("t1", "msg_b", T0), "wfr_b", false),
        T0 + 4,
    )
    .await;
    assert_eq!(steps_of(store, "t1", "wfr_b", None).await, []);
    assert_eq!(
        get(store, "t1", "msg_b").await.message.run,
        Some(RunLink {
            run_id: "wfr_b".to_string(),
            step: false
        })
    );
    assert_eq!(store.get_run("t1", "wfr_x").await.expect("get_run"), None);
    assert_eq!(steps_of(store, "t1", "wfr_x", None).await, []);
}

/// `create_run` is both or neither: a first message that would not be stored (deduplicated,
/// an existing id, another tenant's) fails the call and leaves no run.
pub async fn run_create_is_all_or_none<S: Store>(store: &S) {
    insert(
        store,
        vec![with_dedup(message("t1", "msg_a", T0), "x", T0 + 1_000)],
        T0,
    )
    .await;
    let dup = linked(
        with_dedup(message("t1", "msg_dup", T0), "x", T0 + 1_000),
        "wfr_a",
        true,
    );
    let taken = linked(message("t1", "msg_a", T0), "wfr_a", true);
    let foreign = linked(message("t2", "msg_f", T0), "wfr_a", true);
    for first in [dup, taken, foreign] {
        let id = first.id.clone();
        let out = store.create_run(new_run("t1", "wfr_a"), first, T0).await;
        assert!(out.is_err(), "{id}: the run is refused: {out:?}");
        assert_eq!(store.get_run("t1", "wfr_a").await.expect("get_run"), None);
        assert_eq!(steps_of(store, "t1", "wfr_a", None).await, []);
    }
    assert_eq!(store.get_message("t1", "msg_dup").await.expect("get"), None);
    assert_eq!(store.get_message("t2", "msg_f").await.expect("get"), None);
    assert!(
        all_events(store, "t2", &EventFilter::default())
            .await
            .is_empty()
    );
    // The id is still free.
    create(
        store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_ok", T0), "wfr_a", true),
        T0,
    )
    .await;
}

/// Step messages are appended in order (also several in one call); a message linked with
/// `step: false` is only linked; a step of a run that does not exist (or is another tenant's)
/// is `RunNotActive(None)` and stores nothing, while the rest of its call is stored.
pub async fn run_step_messages<S: Store>(store: &S) {
    create(
        store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_0", T0), "wfr_a", true),
        T0,
    )
    .await;
    create(
        store,
        new_run("t2", "wfr_t2"),
        linked(message("t2", "msg_t2", T0), "wfr_t2", true),
        T0,
    )
    .await;
    let out = store
        .insert_messages(
            vec![
                linked(message("t1", "msg_1", T0), "wfr_a", true),
                linked(message("t1", "msg_call", T0), "wfr_a", false),
                linked(message("t1", "msg_lost", T0), "wfr_none", true),
                message("t1", "msg_plain", T0),
                linked(message("t1", "msg_2", T0), "wfr_a", true),
                linked(message("t1", "msg_foreign", T0), "wfr_t2", true),
                linked(message("t1", "msg_loose", T0), "wfr_none", false),
            ],
            T0 + 5,
        )
        .await
        .expect("insert");
    assert_eq!(
        out,
        [
            InsertOutcome::Inserted,
            InsertOutcome::Inserted,
            InsertOutcome::RunNotActive(None),
            InsertOutcome::Inserted,
            InsertOutcome::Inserted,
            InsertOutcome::RunNotActive(None),
            InsertOutcome::Inserted,
        ]
    );
    for id in ["msg_lost", "msg_foreign"] {
        assert_eq!(store.get_message("t1", id).await.expect("get"), None);
        assert_eq!(states_of(store, "t1", id).await, Vec::<String>::new());
    }
    assert_eq!(get(store, "t1", "msg_plain").await.message.run, None);
    let call = get(store, "t1", "msg_call").await.message.run;
    assert_eq!(
        call,
        Some(RunLink {
            run_id: "wfr_a".to_string(),
            step: false
        })
    );
    assert_eq!(
        get(store, "t1", "msg_2").await.message.run,
        Some(RunLink {
            run_id: "wfr_a".to_string(),
            step: true
        })
    );
    let steps = store
        .run_steps("t1", "wfr_a", None)
        .await
        .expect("run_steps");
    let ids: Vec<_> = steps.iter().map(|s| s.message_id.as_str()).collect();
    assert_eq!(ids, ["msg_0", "msg_1", "msg_2"], "steps in order");
    let seqs: Vec<_> = steps.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(steps[1].body, b"body of msg_1");
    assert_eq!(steps[2].created_at, T0 + 5);
    assert_eq!(steps_of(store, "t2", "wfr_t2", None).await.len(), 1);
    assert_eq!(steps_of(store, "t2", "wfr_a", None).await, []);

    // A later call continues the numbering.
    insert(
        store,
        vec![linked(message("t1", "msg_3", T0), "wfr_a", true)],
        T0 + 6,
    )
    .await;
    assert_eq!(
        steps_of(store, "t1", "wfr_a", None).await.last(),
        Some(&(3, "msg_3".to_string(), b"body of msg_3".to_vec()))
    );
    // A failing call (an id that exists) appends no step.
    let out = store
        .insert_messages(
            vec![
                linked(message("t1", "msg_4", T0), "wfr_a", true),
                message("t1", "msg_plain", T0),
            ],
            T0 + 7,
        )
        .await;
    assert!(out.is_err(), "an existing id fails the call");
    assert_eq!(steps_of(store, "t1", "wfr_a", None).await.len(), 4);
    // A deduplicated step is not a step.
    insert(
        store,
        vec![with_dedup(message("t1", "msg_d1", T0), "d", T0 + 100)],
        T0 + 8,
    )
    .await;
    let out = store
        .insert_messages(
            vec![linked(
                with_dedup(message("t1", "msg_d2", T0), "d", T0 + 100),
                "wfr_a",
                true,
            )],
            T0 + 9,
        )
        .await
        .expect("insert");
    assert_eq!(
        out,
        [InsertOutcome::Deduplicated {
            existing_id: "msg_d1".to_string()
        }]
    );
    assert_eq!(steps_of(store, "t1", "wfr_a", None).await.len(), 4);
}

/// `run_steps` with `up_to` stops at that step message, inclusive; a message that is not a step
/// of that run gives no steps.
pub async fn run_steps_up_to<S: Store>(store: &S) {
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
        linked(message("t1", "msg_b0", T0), "wfr_b", true),
        T0,
    )
    .await;
    insert(
        store,
        vec![
            linked(message("t1", "msg_1", T0), "wfr_a", true),
            linked(message("t1", "msg_side", T0), "wfr_a", false),
            linked(message("t1", "msg_2", T0), "wfr_a", true),
            linked(message("t1", "msg_3", T0), "wfr_a", true),
        ],
        T0,
    )
    .await;
    let ids = |steps: Vec<(u64, String, Vec<u8>)>| -> Vec<String> {
        steps.into_iter().map(|(_, id, _)| id).collect()
    };
    assert_eq!(
        ids(steps_of(store, "t1", "wfr_a", Some("msg_2")).await),
        ["msg_0", "msg_1", "msg_2"]
    );
    assert_eq!(
        ids(steps_of(store, "t1", "wfr_a", Some("msg_0")).await),
        ["msg_0"]
    );
    assert_eq!(
        ids(steps_of(store, "t1", "wfr_a", Some("msg_3")).await),
        ["msg_0", "msg_1", "msg_2", "msg_3"]
    );
    for not_a_step in ["msg_side", "msg_b0", "msg_unknown"] {
        assert_eq!(
            steps_of(store, "t1", "wfr_a", Some(not_a_step)).await,
            [],
            "{not_a_step} is not a step of wfr_a"
        );
    }
    assert_eq!(steps_of(store, "t2", "wfr_a", Some("msg_2")).await, []);
}

/// `list_runs`: newest first, a cursor walk sees each run once, every filter set must match
/// (labels whole), another tenant's runs are absent.
pub async fn list_runs_pages_and_filters<S: Store>(store: &S) {
    for i in 0..7 {
        let mut run = new_run("t1", &format!("wfr_{i}"));
        if i % 2 == 0 {
            run.workflow_url = "https://example.com/even".to_string();
            run.labels = vec!["e%".to_string(), "even".to_string()];
        }
        create(
            store,
            run,
            linked(
                message("t1", &format!("msg_{i}"), T0),
                &format!("wfr_{i}"),
                true,
            ),
            T0 + i,
        )
        .await;
    }
    create(
        store,
        new_run("t2", "wfr_other"),
        linked(message("t2", "msg_other", T0), "wfr_other", true),
        T0,
    )
    .await;
    for (i, state) in [(1, RunState::Canceled), (4, RunState::Success)] {
        assert_eq!(
            store
                .end_run("t1", &format!("wfr_{i}"), ended(state), T0 + 10)
                .await
                .expect("end_run"),
            EndRunOutcome::Ended
        );
    }
    let list = async |filter: RunFilter, count: usize| -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_runs("t1", &filter, cursor, count)
                .await
                .expect("list_runs");
            assert!(page.items.len() <= count);
            for run in &page.items {
                assert_eq!(run.run.tenant, "t1");
                if let Some(cursor) = cursor {
                    assert!(run.seq < cursor, "older than the cursor");
                }
            }
            out.extend(page.items.into_iter().map(|r| r.run.run_id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return out,
            }
        }
    };
    let all = [
        "wfr_6", "wfr_5", "wfr_4", "wfr_3", "wfr_2", "wfr_1", "wfr_0",
    ];
    assert_eq!(list(RunFilter::default(), 3).await, all, "newest first");
    assert_eq!(list(RunFilter::default(), 1).await, all);
    assert_eq!(list(RunFilter::default(), 100).await, all);
    let page = store
        .list_runs("t1", &RunFilter::default(), None, 7)
        .await
        .expect("list_runs");
    assert_eq!(page.next, None, "the last page has no cursor");
    let by_id = RunFilter {
        run_id: Some("wfr_3".to_string()),
        ..RunFilter::default()
    };
    assert_eq!(list(by_id, 10).await, ["wfr_3"]);
    let by_url = RunFilter {
        workflow_url: Some("https://example.com/even".to_string()),
        ..RunFilter::default()
    };
    assert_eq!(list(by_url, 2).await, ["wfr_6", "wfr_4", "wfr_2", "wfr_0"]);
    let started = RunFilter {
        state: Some(RunState::Started),
        ..RunFilter::default()
    };
    assert_eq!(
        list(started, 2).await,
        ["wfr_6", "wfr_5", "wfr_3", "wfr_2", "wfr_0"]
    );
    let canceled = RunFilter {
        state: Some(RunState::Canceled),
        ..RunFilter::default()
    };
    assert_eq!(list(canceled, 2).await, ["wfr_1"]);
    let label = RunFilter {
        label: Some("e%".to_string()),
        ..RunFilter::default()
    };
    assert_eq!(list(label, 10).await, ["wfr_6", "wfr_4", "wfr_2", "wfr_0"]);
    let partial = RunFilter {
        label: Some("e".to_string()),
        ..RunFilter::default()
    };
    assert!(list(partial, 10).await.is_empty(), "labels match whole");
    let both = RunFilter {
        label: Some("even".to_string()),
        state: Some(RunState::Success),
        ..RunFilter::default()
    };
    assert_eq!(list(both, 10).await, ["wfr_4"]);
    let other = RunFilter {
        run_id: Some("wfr_other".to_string()),
        ..RunFilter::default()
    };
    assert!(list(other, 10).await.is_empty(), "another tenant's run");
    let theirs = store
        .list_runs("t2", &RunFilter::default(), None, 10)
        .await
        .expect("list_runs");
    let ids: Vec<_> = theirs.items.iter().map(|r| r.run.run_id.as_str()).collect();
    assert_eq!(ids, ["wfr_other"]);
    assert!(
        store
            .list_runs("t3", &RunFilter::default(), None, 10)
            .await
            .expect("list_runs")
            .items
            .is_empty()
    );
}

/// Many tasks appending steps to one run at once: every step is stored once, numbered 0, 1, 2,
/// … without gaps.
pub async fn concurrent_steps<S: Store>(store: Arc<S>) {
    const TASKS: usize = 16;
    const EACH: usize = 8;
    create(
        &*store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_init", T0), "wfr_a", true),
        T0,
    )
    .await;
    let mut tasks = Vec::with_capacity(TASKS);
    for t in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let m = linked(message("t1", &format!("msg_{t}_{i}"), T0), "wfr_a", true);
                let out = store.insert_messages(vec![m], T0).await.expect("insert");
                assert_eq!(out, [InsertOutcome::Inserted]);
            }
        }));
    }
    for task in tasks {
        task.await.expect("an inserting task panicked");
    }
    let steps = store
        .run_steps("t1", "wfr_a", None)
        .await
        .expect("run_steps");
    assert_eq!(steps.len(), 1 + TASKS * EACH);
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step.seq, i as u64, "no gaps");
    }
    let ids: HashSet<_> = steps.iter().map(|s| s.message_id.as_str()).collect();
    assert_eq!(ids.len(), steps.len(), "each step once");
}

/// `create_run_with_steps` records the given steps as the run's steps 0, 1, … (keeping their
/// message ids, bodies and creation times, storing no message and no event for them) and then
/// stores the first message as `create_run` does: as the next step when it is one. A run id the
/// tenant has is `Exists` and stores nothing; with no steps it is `create_run`.
pub async fn run_with_copied_steps<S: Store>(store: &S) {
    let copied = |seq: u64, id: &str| RunStep {
        seq: seq + 40,
        message_id: id.to_string(),
        body: format!("copied {id}").into_bytes(),
        created_at: T0 - 100 + seq,
    };
    let out = store
        .create_run_with_steps(
            new_run("t1", "wfr_r"),
            vec![copied(0, "msg_old0"), copied(1, "msg_old1")],
            linked(message("t1", "msg_next", T0), "wfr_r", true),
            T0 + 1,
        )
        .await
        .expect("create_run_with_steps");
    assert_eq!(out, CreateRunOutcome::Created);
    let steps = store
        .run_steps("t1", "wfr_r", None)
        .await
        .expect("run_steps");
    let got: Vec<_> = steps
        .iter()
        .map(|s| (s.seq, s.message_id.as_str(), s.body.clone(), s.created_at))
        .collect();
    assert_eq!(
        got,
        [
            (0, "msg_old0", b"copied msg_old0".to_vec(), T0 - 100),
            (1, "msg_old1", b"copied msg_old1".to_vec(), T0 - 99),
            (2, "msg_next", b"body of msg_next".to_vec(), T0 + 1),
        ],
        "copied steps first, renumbered from 0, then the first message"
    );
    assert_eq!(
        steps_of(store, "t1", "wfr_r", Some("msg_old1")).await.len(),
        2,
        "a copied step is a step of the run for up_to"
    );
    for id in ["msg_old0", "msg_old1"] {
        assert_eq!(
            store.get_message("t1", id).await.expect("get"),
            None,
            "no message is stored for a copied step"
        );
        assert_eq!(states_of(store, "t1", id).await, Vec::<String>::new());
    }
    assert_eq!(run_of(store, "t1", "wfr_r").await.state, RunState::Started);
    assert_eq!(states_of(store, "t1", "msg_next").await, ["CREATED"]);
    let claimed = store.claim_due(T0 + 1, 10).await.expect("claim_due");
    let ids: Vec<_> = claimed
        .iter()
        .map(|c| c.message.message.id.as_str())
        .collect();
    assert_eq!(ids, ["msg_next"], "only the first message is delivered");

    // The same run id again stores nothing.
    let again = store
        .create_run_with_steps(
            new_run("t1", "wfr_r"),
            vec![copied(0, "msg_x")],
            linked(message("t1", "msg_again", T0), "wfr_r", true),
            T0 + 2,
        )
        .await
        .expect("create_run_with_steps");
    assert!(matches!(again, CreateRunOutcome::Exists(_)), "{again:?}");
    assert_eq!(
        store.get_message("t1", "msg_again").await.expect("get"),
        None
    );
    assert_eq!(steps_of(store, "t1", "wfr_r", None).await.len(), 3);

    // A first message that is not a step: only the copied steps are the run's steps; another
    // tenant's run with the same id is a different run.
    let out = store
        .create_run_with_steps(
            new_run("t2", "wfr_r"),
            vec![copied(0, "msg_t2old")],
            linked(message("t2", "msg_t2first", T0), "wfr_r", false),
            T0 + 3,
        )
        .await
        .expect("create_run_with_steps");
    assert_eq!(out, CreateRunOutcome::Created);
    let ids: Vec<_> = steps_of(store, "t2", "wfr_r", None)
        .await
        .into_iter()
        .map(|s| s.1)
        .collect();
    assert_eq!(ids, ["msg_t2old"]);
    assert_eq!(steps_of(store, "t1", "wfr_r", None).await.len(), 3);

    // All or nothing: a first message of another tenant stores neither the run nor its steps.
    let err = store
        .create_run_with_steps(
            new_run("t1", "wfr_bad"),
            vec![copied(0, "msg_bad0")],
            linked(message("t2", "msg_bad", T0), "wfr_bad", true),
            T0 + 4,
        )
        .await;
    assert!(
        matches!(&err, Err(e) if e.kind() == StoreErrorKind::Invalid),
        "{err:?}"
    );
    assert_eq!(store.get_run("t1", "wfr_bad").await.expect("get_run"), None);
    assert!(steps_of(store, "t1", "wfr_bad", None).await.is_empty());
}
