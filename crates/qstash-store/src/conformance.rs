//! The conformance suite every backend must pass.
//!
//! Each rule of the [`Store`] contract is one public async function that takes a fresh, empty
//! store and panics (like a failing test assertion) when the store breaks the rule. A
//! backend's test calls [`run_all`] with a factory of fresh stores, or the checks one by one:
//!
//! ```no_run
//! # async fn demo() {
//! use qstash_store::{conformance, sqlite::SqliteStore};
//!
//! conformance::run_all(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteStore::open(dir.path().join("store.db")).unwrap();
//!     (store, dir) // the directory lives as long as the check
//! })
//! .await;
//! # }
//! ```
//!
//! The factory returns the store and a guard that is dropped after the check (a temporary
//! directory, a database schema to drop, or `()`). The concurrency checks need a
//! multi-threaded tokio runtime to mean anything.

// The suite is test code: it reports a broken rule by panicking, like an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod batch;
mod retention;
mod tenant_keys;

pub use batch::{
    end_runs_in_one_call, write_batch_creates_runs_and_messages, write_batch_is_all_or_nothing,
};
pub use retention::*;
pub use tenant_keys::{concurrent_tenant_signing_keys, tenant_signing_keys};

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use crate::{
    AttemptResponse, CancelOutcome, Claimed, CreateRunOutcome, Dedup, DlqFilter, EndRun,
    EndRunOutcome, Event, EventDetail, EventFilter, Finish, FinishOutcome, FlowControlInfo,
    FlowLimits, InsertOutcome, MessageState, Millis, NewDlq, NewMessage, NewRun, RunFilter,
    RunLink, RunState, RunStep, SigningKeys, Store, StoreErrorKind, StoredMessage, StoredRun,
    Transition,
};

/// The time the checks start at (2026-01-01T00:00:00Z).
pub const T0: Millis = 1_767_225_600_000;

/// The lease of the messages [`message`] makes.
pub const LEASE: u64 = 60_000;

/// A plain message of `tenant` due at `due_at`, for checks: `POST https://example.com/{id}`,
/// two headers, a body, no labels, no deduplication.
pub fn message(tenant: &str, id: &str, due_at: Millis) -> NewMessage {
    NewMessage {
        id: id.to_string(),
        tenant: tenant.to_string(),
        destination: format!("https://example.com/{id}"),
        method: "POST".to_string(),
        headers: vec![
            ("Content-Type".to_string(), "text/plain".to_string()),
            ("Upstash-Forward-X".to_string(), "1".to_string()),
        ],
        body: format!("body of {id}").into_bytes(),
        created_at: T0,
        due_at,
        max_retries: 3,
        lease_ms: LEASE,
        labels: Vec::new(),
        dedup: None,
        flow_key: None,
        flow_limits: None,
        extra: vec![0, 1, 2, 255],
        run: None,
    }
}

/// A finish of `claimed` with `transition` and an event in `state`, nothing spawned.
pub fn finish_of(claimed: &Claimed, now: Millis, transition: Transition, state: &str) -> Finish {
    Finish {
        tenant: claimed.message.message.tenant.clone(),
        message_id: claimed.message.message.id.clone(),
        claim: claimed.claim,
        now,
        transition,
        response: Some(AttemptResponse {
            status: Some(500),
            headers: vec![("Retry-After".to_string(), "1".to_string())],
            body: b"oops".to_vec(),
        }),
        event: EventDetail {
            state: state.to_string(),
            response_status: Some(500),
            error: None,
            next_delivery_time: None,
        },
        spawn: Vec::new(),
        dlq: None,
        dlq_callback_state: None,
        end_run: None,
    }
}

/// Runs every check, each on a fresh store from `make`.
pub async fn run_all<S, G, F, Fut>(mut make: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = (S, G)>,
{
    macro_rules! each {
        ($($check:ident),* $(,)?) => {$(
            let (store, guard) = make().await;
            $check(&store).await;
            drop(store);
            drop(guard);
        )*};
    }
    macro_rules! each_shared {
        ($($check:ident),* $(,)?) => {$(
            let (store, guard) = make().await;
            $check(Arc::new(store)).await;
            drop(guard);
        )*};
    }
    each!(
        ping_answers,
        insert_and_get_round_trip,
        insert_is_all_or_none,
        dedup_within_window,
        dedup_after_window,
        dedup_twice_in_one_call,
        dedup_is_per_tenant,
        claim_order_and_limit,
        claim_skips_future_and_final,
        lease_expiry_reclaims,
        finish_is_idempotent,
        finish_transitions,
        spawn_only_when_applied,
        dlq_added_and_callback_state,
        cancel_outcomes,
        events_in_the_right_states,
        events_cursor_walk,
        event_filters,
        dlq_list_get_delete,
        signing_keys,
        tenant_signing_keys,
        next_due_semantics,
        due_count_semantics,
        tenant_isolation,
        run_create_and_get,
        run_create_is_all_or_none,
        run_step_messages,
        run_steps_up_to,
        end_run_cancels_pending,
        finish_ends_run,
        dlq_workflow_filter,
        list_runs_pages_and_filters,
        run_with_copied_steps,
        write_batch_is_all_or_nothing,
        write_batch_creates_runs_and_messages,
        end_runs_in_one_call,
        waiters_register_list_release,
        waiter_timeout_excludes_release,
        flow_parallelism_caps_claims,
        flow_in_flight_heals_after_lease,
        flow_rate_windows,
        flow_parallelism_and_rate_together,
        flow_most_recent_value_applies,
        flow_waiting_consumes_no_retry,
        flow_tenants_separate,
        flow_info_counters,
        flow_claim_passes_a_long_backlog,
        purge_removes_old_finished_messages,
        purge_removes_old_finished_runs,
        purge_removes_expired_dedup_ids,
        purge_is_batched,
    );
    each_shared!(
        concurrent_inserts,
        concurrent_claims,
        concurrent_steps,
        concurrent_release_and_timeout,
        concurrent_claims_respect_flow_control,
        concurrent_tenant_signing_keys,
    );
}

async fn insert<S: Store>(store: &S, messages: Vec<NewMessage>, now: Millis) {
    let n = messages.len();
    let outcomes = store
        .insert_messages(messages, now)
        .await
        .expect("insert_messages");
    assert_eq!(
        outcomes,
        vec![InsertOutcome::Inserted; n],
        "every message inserted"
    );
}

async fn claim_one<S: Store>(store: &S, now: Millis) -> Claimed {
    let mut claimed = store.claim_due(now, 1).await.expect("claim_due");
    assert_eq!(claimed.len(), 1, "one message due at {now}");
    claimed.remove(0)
}

async fn get<S: Store>(store: &S, tenant: &str, id: &str) -> StoredMessage {
    store
        .get_message(tenant, id)
        .await
        .expect("get_message")
        .unwrap_or_else(|| panic!("message {id} of {tenant} exists"))
}

async fn all_events<S: Store>(store: &S, tenant: &str, filter: &EventFilter) -> Vec<Event> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_events(tenant, filter, cursor, 100)
            .await
            .expect("list_events");
        out.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

/// The state names of a message's events, oldest first.
async fn states_of<S: Store>(store: &S, tenant: &str, id: &str) -> Vec<String> {
    let filter = EventFilter {
        message_id: Some(id.to_string()),
        ..EventFilter::default()
    };
    let mut events = all_events(store, tenant, &filter).await;
    events.reverse();
    events.into_iter().map(|e| e.state).collect()
}

/// Fails `id` of `tenant` for good with a dead letter `dlq_id` carrying `status`.
async fn dead_letter<S: Store>(store: &S, m: NewMessage, dlq_id: &str, status: u16) {
    let (tenant, id) = (m.tenant.clone(), m.id.clone());
    insert(store, vec![m], T0).await;
    let claimed = claim_one(store, T0).await;
    assert_eq!(claimed.message.message.id, id);
    let mut finish = finish_of(&claimed, T0 + 1, Transition::Failed, "FAILED");
    finish.dlq = Some(NewDlq {
        dlq_id: dlq_id.to_string(),
        created_at: T0 + 1,
        response: AttemptResponse {
            status: Some(status),
            headers: vec![("X".to_string(), "y".to_string())],
            body: b"failed".to_vec(),
        },
        failure_callback: Some("https://example.com/failed".to_string()),
    });
    let out = store.finish(vec![finish]).await.expect("finish");
    assert_eq!(out, vec![FinishOutcome::Applied]);
    assert_eq!(get(store, &tenant, &id).await.state, MessageState::Failed);
}

/// `ping` answers on a working store.
pub async fn ping_answers<S: Store>(store: &S) {
    store.ping().await.expect("ping on a working store");
}

/// A message reads back exactly as stored, pending, with a `CREATED` event.
pub async fn insert_and_get_round_trip<S: Store>(store: &S) {
    let mut m = message("t1", "msg_a", T0 + 10);
    m.labels = vec!["l1".to_string(), "l%2_".to_string()];
    m.flow_key = Some("key".to_string());
    m.dedup = Some(Dedup {
        id: "d".to_string(),
        until: T0 + 600_000,
    });
    m.headers
        .push(("Content-Type".to_string(), "again".to_string()));
    m.body = vec![0, 159, 146, 150, 255];
    insert(store, vec![m.clone()], T0).await;
    let stored = get(store, "t1", "msg_a").await;
    assert_eq!(stored.message, m, "stored message is the one inserted");
    assert_eq!(stored.state, MessageState::Pending);
    assert_eq!((stored.retried, stored.claim), (0, 0));
    assert_eq!(stored.due_at, T0 + 10);
    assert_eq!(stored.last_response, None);
    assert_eq!(store.get_message("t1", "msg_b").await.expect("get"), None);
    let events = all_events(store, "t1", &EventFilter::default()).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.state.as_str(), e.message_id.as_str(), e.time),
        ("CREATED", "msg_a", T0)
    );
    assert_eq!(e.url, m.destination);
    assert_eq!(e.labels, m.labels);
    assert_eq!(
        store.insert_messages(Vec::new(), T0).await.expect("empty"),
        vec![]
    );
}

/// A batch with one bad message (an id that exists) stores nothing and appends no event.
pub async fn insert_is_all_or_none<S: Store>(store: &S) {
    insert(store, vec![message("t1", "msg_a", T0)], T0).await;
    let out = store
        .insert_messages(
            vec![message("t1", "msg_b", T0), message("t1", "msg_a", T0)],
            T0,
        )
        .await;
    assert!(out.is_err(), "a batch with an existing id is refused");
    assert_eq!(store.get_message("t1", "msg_b").await.expect("get"), None);
    assert_eq!(states_of(store, "t1", "msg_b").await, Vec::<String>::new());
    assert_eq!(states_of(store, "t1", "msg_a").await, vec!["CREATED"]);
}

fn with_dedup(mut m: NewMessage, id: &str, until: Millis) -> NewMessage {
    m.dedup = Some(Dedup {
        id: id.to_string(),
        until,
    });
    m
}

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
        message_id: Some("msg_d".to_string()),
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

/// Every step of a message's life appends its event, with the message's url and labels.
pub async fn events_in_the_right_states<S: Store>(store: &S) {
    let mut m = message("t1", "msg_a", T0);
    m.labels = vec!["red".to_string()];
    insert(store, vec![m.clone()], T0).await;
    let c = claim_one(store, T0).await;
    store
        .finish(vec![finish_of(
            &c,
            T0 + 1,
            Transition::Retry { at: T0 + 2 },
            "RETRY",
        )])
        .await
        .expect("finish");
    let c = claim_one(store, T0 + 2).await;
    store
        .finish(vec![finish_of(&c, T0 + 3, Transition::Failed, "FAILED")])
        .await
        .expect("finish");
    let events = all_events(store, "t1", &EventFilter::default()).await;
    let states: Vec<_> = events.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(
        states,
        ["FAILED", "ACTIVE", "RETRY", "ACTIVE", "CREATED"],
        "newest first"
    );
    let times: Vec<_> = events.iter().map(|e| e.time).collect();
    assert_eq!(times, [T0 + 3, T0 + 2, T0 + 1, T0, T0]);
    for pair in events.windows(2) {
        assert!(pair[0].id > pair[1].id, "ids decrease newest first");
    }
    for e in &events {
        assert_eq!(e.message_id, "msg_a");
        assert_eq!(e.url, m.destination);
        assert_eq!(e.labels, m.labels);
    }
}

/// A cursor walk, newest first, sees every event once, even while new events are appended.
pub async fn events_cursor_walk<S: Store>(store: &S) {
    for i in 0..25 {
        insert(
            store,
            vec![message("t1", &format!("msg_{i:02}"), T0)],
            T0 + i,
        )
        .await;
    }
    insert(store, vec![message("t2", "msg_other", T0)], T0).await;
    let filter = EventFilter::default();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_events("t1", &filter, cursor, 7)
            .await
            .expect("list_events");
        assert!(page.items.len() <= 7, "a page holds at most count items");
        seen.extend(page.items.iter().map(|e| e.message_id.clone()));
        pages += 1;
        // New events arrive mid-walk.
        insert(
            store,
            vec![message("t1", &format!("msg_new{pages}"), T0)],
            T0 + 100,
        )
        .await;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> = (0..25).rev().map(|i| format!("msg_{i:02}")).collect();
    assert_eq!(seen, expected, "every event once, newest first");
    assert_eq!(pages, 4);
    let first = store
        .list_events("t1", &filter, None, 1)
        .await
        .expect("list_events");
    assert_eq!(
        first.items[0].message_id, "msg_new4",
        "a new walk starts at the newest"
    );
    let exact = store
        .list_events("t2", &filter, None, 1)
        .await
        .expect("list_events");
    assert_eq!(exact.items.len(), 1);
    assert_eq!(exact.next, None, "no next cursor when nothing older exists");
}

/// The event filters: message id, state, url, and whole-label match.
pub async fn event_filters<S: Store>(store: &S) {
    let mut a = message("t1", "msg_a", T0);
    a.labels = vec!["a%b".to_string(), "x_y".to_string()];
    let mut b = message("t1", "msg_b", T0 + 1);
    b.labels = vec!["a%bc".to_string(), "xzy".to_string()];
    let mut c = message("t1", "msg_c", T0 + 2);
    c.destination = a.destination.clone();
    c.labels = vec!["x".to_string()];
    insert(store, vec![a.clone(), b.clone(), c.clone()], T0).await;
    let claimed = claim_one(store, T0).await;
    assert_eq!(claimed.message.message.id, "msg_a");
    store
        .finish(vec![finish_of(
            &claimed,
            T0 + 1,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    let ids = |events: Vec<Event>| -> Vec<(String, String)> {
        events
            .into_iter()
            .map(|e| (e.message_id, e.state))
            .collect()
    };
    let pair = |id: &str, state: &str| (id.to_string(), state.to_string());
    let by = |f: EventFilter| async move { ids(all_events(store, "t1", &f).await) };

    let got = by(EventFilter {
        message_id: Some("msg_a".to_string()),
        ..EventFilter::default()
    })
    .await;
    assert_eq!(
        got,
        [
            pair("msg_a", "DELIVERED"),
            pair("msg_a", "ACTIVE"),
            pair("msg_a", "CREATED")
        ]
    );
    let got = by(EventFilter {
        state: Some("CREATED".to_string()),
        ..EventFilter::default()
    })
    .await;
    assert_eq!(
        got,
        [
            pair("msg_c", "CREATED"),
            pair("msg_b", "CREATED"),
            pair("msg_a", "CREATED")
        ]
    );
    let got = by(EventFilter {
        url: Some(a.destination.clone()),
        state: Some("CREATED".to_string()),
        ..EventFilter::default()
    })
    .await;
    assert_eq!(got, [pair("msg_c", "CREATED"), pair("msg_a", "CREATED")]);
    for (label, expected) in [
        ("a%b", vec!["msg_a"]),
        ("a%bc", vec!["msg_b"]),
        ("x_y", vec!["msg_a"]),
        ("x", vec!["msg_c"]),
        ("a", vec![]),
        ("%", vec![]),
        ("_", vec![]),
        ("", vec![]),
    ] {
        let got = by(EventFilter {
            label: Some(label.to_string()),
            state: Some("CREATED".to_string()),
            ..EventFilter::default()
        })
        .await;
        let got: Vec<_> = got.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(got, expected, "label {label:?} matches whole labels only");
    }
    let got = by(EventFilter {
        message_id: Some("msg_a".to_string()),
        state: Some("ACTIVE".to_string()),
        url: Some(a.destination.clone()),
        label: Some("x_y".to_string()),
    })
    .await;
    assert_eq!(
        got,
        [pair("msg_a", "ACTIVE")],
        "every filter set must match"
    );
    let other = all_events(store, "t2", &EventFilter::default()).await;
    assert!(other.is_empty(), "another tenant sees no events");
}

/// Dead letters: newest first, filters, cursor, get, delete, all per tenant.
pub async fn dlq_list_get_delete<S: Store>(store: &S) {
    for i in 0..6u16 {
        let mut m = message("t1", &format!("msg_{i}"), T0);
        if i % 2 == 0 {
            m.labels = vec!["even".to_string(), "e%".to_string()];
            m.destination = "https://example.com/even".to_string();
        }
        dead_letter(store, m, &format!("dlq_{i}"), 500 + i % 3).await;
    }
    dead_letter(store, message("t2", "msg_other", T0), "dlq_other", 500).await;

    let list = |filter: DlqFilter, count: usize| async move {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_dlq("t1", &filter, cursor, count)
                .await
                .expect("list_dlq");
            assert!(page.items.len() <= count);
            out.extend(page.items.into_iter().map(|e| e.dlq_id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return out,
            }
        }
    };
    assert_eq!(
        list(DlqFilter::default(), 4).await,
        ["dlq_5", "dlq_4", "dlq_3", "dlq_2", "dlq_1", "dlq_0"],
        "newest first, across pages"
    );
    assert_eq!(
        list(DlqFilter::default(), 2).await,
        ["dlq_5", "dlq_4", "dlq_3", "dlq_2", "dlq_1", "dlq_0"]
    );
    let even = DlqFilter {
        url: Some("https://example.com/even".to_string()),
        ..DlqFilter::default()
    };
    assert_eq!(list(even, 1).await, ["dlq_4", "dlq_2", "dlq_0"]);
    let label = DlqFilter {
        label: Some("e%".to_string()),
        ..DlqFilter::default()
    };
    assert_eq!(list(label, 10).await, ["dlq_4", "dlq_2", "dlq_0"]);
    let partial = DlqFilter {
        label: Some("e".to_string()),
        ..DlqFilter::default()
    };
    assert!(list(partial, 10).await.is_empty(), "labels match whole");
    let status = DlqFilter {
        response_status: Some(501),
        ..DlqFilter::default()
    };
    assert_eq!(list(status, 10).await, ["dlq_4", "dlq_1"]);
    let both = DlqFilter {
        response_status: Some(501),
        label: Some("even".to_string()),
        ..DlqFilter::default()
    };
    assert_eq!(list(both, 10).await, ["dlq_4"]);

    assert!(
        store
            .get_dlq("t1", "dlq_other")
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_dlq("t1", "dlq_nope")
            .await
            .expect("get")
            .is_none()
    );
    let entry = store
        .get_dlq("t1", "dlq_3")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(entry.message.message.id, "msg_3");
    assert_eq!(entry.response.status, Some(500));

    let ids: Vec<String> = ["dlq_1", "dlq_3", "dlq_other", "dlq_nope", "dlq_3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(store.delete_dlq("t1", &ids).await.expect("delete"), 2);
    assert_eq!(
        list(DlqFilter::default(), 10).await,
        ["dlq_5", "dlq_4", "dlq_2", "dlq_0"]
    );
    assert!(
        store
            .get_dlq("t2", "dlq_other")
            .await
            .expect("get")
            .is_some(),
        "another tenant's dead letter is untouched"
    );
    assert_eq!(store.delete_dlq("t1", &[]).await.expect("delete"), 0);
    // A dead letter added after a deletion still lists newest first.
    dead_letter(store, message("t1", "msg_9", T0), "dlq_9", 500).await;
    assert_eq!(
        list(DlqFilter::default(), 3).await,
        ["dlq_9", "dlq_5", "dlq_4", "dlq_2", "dlq_0"]
    );
}

/// The first proposed pair is kept; rotation makes next current.
pub async fn signing_keys<S: Store>(store: &S) {
    let first = SigningKeys {
        current: "sig_one".to_string(),
        next: "sig_two".to_string(),
    };
    let second = SigningKeys {
        current: "sig_x".to_string(),
        next: "sig_y".to_string(),
    };
    assert_eq!(
        store
            .signing_keys_or_init(first.clone())
            .await
            .expect("keys"),
        first
    );
    assert_eq!(
        store.signing_keys_or_init(second).await.expect("keys"),
        first,
        "the first pair is kept"
    );
    let rotated = store
        .rotate_signing_keys("sig_three".to_string())
        .await
        .expect("rotate");
    let expected = SigningKeys {
        current: "sig_two".to_string(),
        next: "sig_three".to_string(),
    };
    assert_eq!(rotated, expected);
    assert_eq!(
        store.signing_keys_or_init(first).await.expect("keys"),
        expected,
        "rotation is stored"
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

/// Another tenant's message is absent everywhere, and its finish is stale.
pub async fn tenant_isolation<S: Store>(store: &S) {
    insert(store, vec![message("t1", "msg_a", T0)], T0).await;
    assert_eq!(store.get_message("t2", "msg_a").await.expect("get"), None);
    let c = claim_one(store, T0).await;
    let mut f = finish_of(&c, T0 + 1, Transition::Delivered, "DELIVERED");
    f.tenant = "t2".to_string();
    assert_eq!(
        store.finish(vec![f]).await.expect("finish"),
        [FinishOutcome::Stale]
    );
    assert_eq!(get(store, "t1", "msg_a").await.state, MessageState::Pending);
    let filter = EventFilter {
        message_id: Some("msg_a".to_string()),
        ..EventFilter::default()
    };
    assert!(all_events(store, "t2", &filter).await.is_empty());
    assert_eq!(
        store
            .cancel_message("t2", "msg_a", T0)
            .await
            .expect("cancel"),
        CancelOutcome::NotFound
    );
    let other = store
        .list_dlq("t2", &DlqFilter::default(), None, 10)
        .await
        .expect("list_dlq");
    assert!(other.items.is_empty());
}

/// Many tasks inserting at once: every insert is committed and readable.
pub async fn concurrent_inserts<S: Store>(store: Arc<S>) {
    const TASKS: usize = 64;
    const EACH: usize = 20;
    let mut tasks = Vec::with_capacity(TASKS);
    for t in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let tenant = format!("t{}", t % 3);
                let m = message(&tenant, &format!("msg_{t}_{i}"), T0 + i as u64);
                let out = store.insert_messages(vec![m], T0).await.expect("insert");
                assert_eq!(out, [InsertOutcome::Inserted]);
            }
        }));
    }
    for task in tasks {
        task.await.expect("an inserting task panicked");
    }
    for t in 0..TASKS {
        for i in 0..EACH {
            get(&*store, &format!("t{}", t % 3), &format!("msg_{t}_{i}")).await;
        }
    }
    let mut total = 0;
    for tenant in ["t0", "t1", "t2"] {
        total += all_events(&*store, tenant, &EventFilter::default())
            .await
            .len();
    }
    assert_eq!(total, TASKS * EACH, "one CREATED event each");
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

/// A run of `tenant` to `https://example.com/wf`, created at [`T0`], no labels.
pub fn new_run(tenant: &str, run_id: &str) -> NewRun {
    NewRun {
        tenant: tenant.to_string(),
        run_id: run_id.to_string(),
        workflow_url: "https://example.com/wf".to_string(),
        created_at: T0,
        initial_body: format!("trigger of {run_id}").into_bytes(),
        labels: Vec::new(),
        config: vec![9, 8, 7, 0],
    }
}

/// `m` linked to `run_id`, as one of its steps when `step`.
pub fn linked(mut m: NewMessage, run_id: &str, step: bool) -> NewMessage {
    m.run = Some(RunLink {
        run_id: run_id.to_string(),
        step,
    });
    m
}

async fn create<S: Store>(store: &S, run: NewRun, first: NewMessage, now: Millis) {
    let out = store.create_run(run, first, now).await.expect("create_run");
    assert_eq!(out, CreateRunOutcome::Created);
}

async fn run_of<S: Store>(store: &S, tenant: &str, run_id: &str) -> StoredRun {
    store
        .get_run(tenant, run_id)
        .await
        .expect("get_run")
        .unwrap_or_else(|| panic!("run {run_id} of {tenant} exists"))
}

/// `(seq, message_id, body)` of each step of a run.
async fn steps_of<S: Store>(
    store: &S,
    tenant: &str,
    run_id: &str,
    up_to: Option<&str>,
) -> Vec<(u64, String, Vec<u8>)> {
    store
        .run_steps(tenant, run_id, up_to)
        .await
        .expect("run_steps")
        .into_iter()
        .map(|s| (s.seq, s.message_id, s.body))
        .collect()
}

fn ended(state: RunState) -> EndRun {
    EndRun {
        state,
        response: None,
        reason: None,
    }
}

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
        message_id: Some("msg_1".to_string()),
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

/// `DlqFilter::workflow`: `Some(true)` lists only dead letters of messages linked to a run,
/// `Some(false)` only the others, `None` both.
pub async fn dlq_workflow_filter<S: Store>(store: &S) {
    create(
        store,
        new_run("t1", "wfr_a"),
        linked(message("t1", "msg_init", T0 + 1_000), "wfr_a", true),
        T0,
    )
    .await;
    dead_letter(store, message("t1", "msg_plain", T0), "dlq_plain", 500).await;
    dead_letter(
        store,
        linked(message("t1", "msg_step", T0), "wfr_a", true),
        "dlq_step",
        500,
    )
    .await;
    dead_letter(
        store,
        linked(message("t1", "msg_call", T0), "wfr_a", false),
        "dlq_call",
        500,
    )
    .await;
    let list = async |workflow: Option<bool>| -> Vec<String> {
        let filter = DlqFilter {
            workflow,
            ..DlqFilter::default()
        };
        store
            .list_dlq("t1", &filter, None, 10)
            .await
            .expect("list_dlq")
            .items
            .into_iter()
            .map(|e| e.dlq_id)
            .collect()
    };
    assert_eq!(list(Some(true)).await, ["dlq_call", "dlq_step"]);
    assert_eq!(list(Some(false)).await, ["dlq_plain"]);
    assert_eq!(list(None).await, ["dlq_call", "dlq_step", "dlq_plain"]);
    let entry = store
        .get_dlq("t1", "dlq_step")
        .await
        .expect("get_dlq")
        .expect("exists");
    assert_eq!(
        entry.message.message.run,
        Some(RunLink {
            run_id: "wfr_a".to_string(),
            step: true
        })
    );
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

// ---------------------------------------------------------------------------------------------
// Flow control.

/// `m` with flow-control key `key` and these limits (`period_ms` for the rate).
pub fn keyed(
    mut m: NewMessage,
    key: &str,
    parallelism: Option<u32>,
    rate: Option<u32>,
    period_ms: u64,
) -> NewMessage {
    m.flow_key = Some(key.to_string());
    m.flow_limits = Some(FlowLimits {
        parallelism,
        rate,
        period_ms,
    });
    m
}

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
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for round in 0..40u64 {
                let claimed = store.claim_due(T0 + 100 + round, 4).await.expect("claim");
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
