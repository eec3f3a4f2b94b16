//! The conformance suite every backend must pass.
//!
//! Each rule of the [`Store`] contract is one public async function that takes a fresh, empty
//! store and panics (like a failing test assertion) when the store breaks the rule. A
//! backend's test file makes one test per check with
//! [`conformance_tests!`](crate::conformance_tests), given an expression that makes a fresh
//! store:
//!
//! ```ignore
//! use qstash_store::sqlite::SqliteStore;
//!
//! fn fresh() -> (SqliteStore, tempfile::TempDir) {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteStore::open(dir.path().join("store.db")).unwrap();
//!     (store, dir) // the directory lives as long as the check
//! }
//!
//! qstash_store::conformance_tests!(fresh_store = async { fresh() });
//! ```
//!
//! or calls [`run_all`] with a factory of fresh stores (all checks in one test), or the checks
//! one by one:
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
//!
//! This module holds the shared helpers ([`T0`], [`LEASE`], [`message`], [`finish_of`],
//! [`keyed`], [`new_run`], [`linked`]), [`run_all`] and the list of checks (in
//! [`conformance_tests!`](crate::conformance_tests)); the checks live in one module per area:
//! messages, dedup, claims, finish (and cancel), events, dlq, runs, run ends, batch, waiters,
//! flow (control), retention, schedules, URL groups, and (signing) keys in `tenant_keys`.

// The suite is test code: it reports a broken rule by panicking, like an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod batch;
mod bulk;
mod claim_path;
mod claims;
mod dedup;
mod dlq;
mod events;
mod finish;
mod flow;
mod messages;
mod retention;
mod run_ends;
mod runs;
mod schedules;
mod tenant_keys;
mod url_groups;
mod waiters;

pub use batch::{
    end_runs_in_one_call, insert_messages_many_in_one_call, write_batch_creates_runs_and_messages,
    write_batch_is_all_or_nothing,
};
pub use bulk::*;
pub use claim_path::*;
pub use claims::*;
pub use dedup::*;
pub use dlq::*;
pub use events::*;
pub use finish::*;
pub use flow::*;
pub use messages::*;
pub use retention::*;
pub use run_ends::*;
pub use runs::*;
pub use schedules::*;
pub use tenant_keys::{concurrent_tenant_signing_keys, signing_keys, tenant_signing_keys};
pub use url_groups::*;
pub use waiters::*;

use std::future::Future;

use crate::{
    AttemptResponse, Claimed, CreateRunOutcome, Dedup, EndRun, Event, EventDetail, EventFilter,
    Finish, FinishOutcome, FlowLimits, InsertOutcome, MessageState, Millis, NewDlq, NewMessage,
    NewRun, RunLink, RunState, Store, StoredMessage, StoredRun, Transition,
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

/// Runs every check, each on a fresh store from `make`, one after the other (the first failure
/// stops the run; a backend's tests use [`conformance_tests!`](crate::conformance_tests), which
/// makes one test per check).
pub async fn run_all<S, G, F, Fut>(mut make: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = (S, G)>,
{
    crate::conformance_tests!(@checks [run_all make]);
}

/// Makes one `#[tokio::test]` per conformance check, in a module `conformance_suite`, each on a
/// fresh store: the first failure does not hide the others, and each check shows by name in the
/// test output (`conformance_suite::claim_order_and_limit`).
///
/// `fresh_store =` an expression, evaluated once per test, that gives a future of `(store,
/// guard)`: the guard (a temporary directory, a database schema to drop, or `()`) is dropped
/// after the check. It may name the test file's own items (the module does `use super::*`).
/// Attributes written before it (such as `#[ignore = "…"]`) go on every test. The tests run on
/// a multi-threaded tokio runtime, so the test crate needs `tokio` with the `macros` and
/// `rt-multi-thread` features.
///
/// ```ignore
/// fn fresh() -> (SqliteStore, TempDir) { /* … */ }
///
/// qstash_store::conformance_tests!(fresh_store = async { fresh() });
///
/// // On a database server, each test marked as needing it:
/// qstash_store::conformance_tests!(
///     #[ignore = "needs a database"]
///     fresh_store = fresh_schema(&database_url())
/// );
/// ```
///
/// A new check is a public async fn in the area's module of [`conformance`](crate::conformance)
/// (taking `&S`, or `Arc<S>` for a concurrency check), added to one of the two lists in this
/// macro; [`run_all`](crate::conformance::run_all) runs the same lists.
#[macro_export]
macro_rules! conformance_tests {
    // The one list of checks: those that take `&S`, then those that take `Arc<S>`.
    (@checks $how:tt) => {
        $crate::conformance_tests!(@expand $how
        [
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
            insert_messages_many_in_one_call,
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
            claim_path_backlog_in_order,
            claim_path_window_releases_exactly_rate,
            claim_path_counts_after_cancel_retry_failure,
            purge_removes_old_finished_messages,
            purge_removes_old_finished_runs,
            purge_removes_expired_dedup_ids,
            purge_is_batched,
            schedule_round_trip_replace_delete,
            schedule_due_pause_resume,
            schedule_fires_each_tick_once,
            url_groups_add_remove_list_delete,
            list_filters_match_any_value,
            retry_dlq_is_all_or_nothing,
            cancel_messages_by_filter,
        ]
        [
            concurrent_inserts,
            concurrent_claims,
            concurrent_steps,
            concurrent_release_and_timeout,
            concurrent_claims_respect_flow_control,
            concurrent_tenant_signing_keys,
            concurrent_schedule_fires,
        ]);
    };
    (@expand [run_all $make:ident] [$($each:ident,)*] [$($shared:ident,)*]) => {
        $(
            let (store, guard) = $make().await;
            $crate::conformance::$each(&store).await;
            drop(store);
            drop(guard);
        )*
        $(
            let (store, guard) = $make().await;
            $crate::conformance::$shared(::std::sync::Arc::new(store)).await;
            drop(guard);
        )*
    };
    (@expand [tests $attrs:tt $make:tt] [$($each:ident,)*] [$($shared:ident,)*]) => {
        /// The conformance suite, one test per check.
        mod conformance_suite {
            #[allow(unused_imports)]
            use super::*;
            $($crate::conformance_tests!(@test $attrs $make $each by_ref);)*
            $($crate::conformance_tests!(@test $attrs $make $shared shared);)*
        }
    };
    (@test [$($attr:tt)*] [$make:expr] $check:ident by_ref) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        $($attr)*
        async fn $check() {
            let (store, guard) = $make.await;
            $crate::conformance::$check(&store).await;
            drop(store);
            drop(guard);
        }
    };
    (@test [$($attr:tt)*] [$make:expr] $check:ident shared) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        $($attr)*
        async fn $check() {
            let (store, guard) = $make.await;
            $crate::conformance::$check(::std::sync::Arc::new(store)).await;
            drop(guard);
        }
    };
    ($(#[$attr:meta])* fresh_store = $make:expr $(,)?) => {
        $crate::conformance_tests!(@checks [tests [$(#[$attr])*] [$make]]);
    };
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
        message_ids: vec![id.to_string()],
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

fn with_dedup(mut m: NewMessage, id: &str, until: Millis) -> NewMessage {
    m.dedup = Some(Dedup {
        id: id.to_string(),
        until,
    });
    m
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
