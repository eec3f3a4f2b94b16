//! The durable store behind a QStash-compatible server.
//!
//! A server accepts messages, delivers them over HTTP when they are due, retries them, and keeps
//! what happened (events, dead letters). Everything that must survive a crash lives behind the
//! [`Store`] trait; the engine above it holds nothing that a restart could lose.
//!
//! # The model
//! - A **message** ([`NewMessage`], [`StoredMessage`]) belongs to one tenant and is in one of the
//!   [`MessageState`]s. While it is [`Pending`](MessageState::Pending) it has a **due time**; it is
//!   delivered at or after that time.
//! - **Claims with leases.** [`Store::claim_due`] hands out pending messages whose due time has
//!   come, oldest due first, and moves each one's due time to the end of its lease
//!   (`now + lease_ms`) under a new **claim number**. A process that dies while holding a claim
//!   simply never finishes it: the message becomes due again when the lease ends, and another
//!   claim (in any process sharing the store) makes the attempt again with the same message id.
//! - **Idempotent transitions.** [`Store::finish`] applies an attempt's outcome only when the
//!   claim number still matches and the message is still pending; a stale or repeated finish is a
//!   no-op that says so ([`FinishOutcome::Stale`]). A finish commits, in one transaction, the
//!   message's new state, its event, the messages it spawns (callbacks), and an optional dead
//!   letter.
//! - **Waiters** ([`Store::register_waiter`], [`Store::list_waiters`], [`Store::release_waiter`])
//!   are a workflow run's waits for an event: a step message due when the wait times out, that a
//!   release (a notify) makes due at once with a new body. A release applies only while the
//!   message was never claimed, so a wait is delivered once, with the event or with its timeout.
//! - **Events** are an append-only log per tenant with increasing ids; a cursor is an id, and a
//!   walk from newest to oldest sees every event once even while new ones arrive.
//! - **A 2xx means committed.** Every write method returns only after its transaction is
//!   durable (fsync for the embedded store, a committed transaction on a database server).
//!   Backends may let concurrent callers share one commit.
//! - **Bounded waiting.** The writes waiting for a backend are bounded
//!   ([`sqlite::SqliteOptions::max_queued`], [`postgres::PgOptions::max_queued`]): when the
//!   bound is reached, an accept fails at once with [`StoreError::Overloaded`] (nothing done),
//!   and other writes wait for room.
//!
//! Times are milliseconds since the unix epoch ([`Millis`]); the caller passes `now`, so that
//! the store never reads a clock of its own.
//!
//! # Backends
//! - [`sqlite::SqliteStore`] (feature `sqlite`, on by default): one file in a data directory,
//!   WAL journal, `synchronous=FULL`, one writer thread that groups concurrent writes into one
//!   commit, and schema migrations applied when it opens.
//! - [`postgres::PgStore`] (feature `postgres`): a PostgreSQL database shared by any number of
//!   server processes: a connection pool, group commit of accepts, claims with
//!   `FOR UPDATE SKIP LOCKED`, versioned migrations under an advisory lock, and wake-ups across
//!   processes with `LISTEN`/`NOTIFY` ([`Store::due_wakeups`]).
//!
//! Any backend must pass the [`conformance`] suite (feature `conformance`).
//!
//! # Layout
//! - This file: the crate's modules and re-exports; [`Store`] (the trait) lives in `store.rs`,
//!   the model types in `model.rs`, [`StoreError`] and [`StoreErrorKind`] in `error.rs`, all
//!   re-exported here (`qstash_store::StoreError`, …). `codec.rs` holds the encodings both SQL
//!   backends share, `flow.rs` their flow-control arithmetic.
//! - One module per backend, `sqlite/` and `postgres/`: `mod.rs` holds the store type, its
//!   options and its [`Store`] implementation; one file per job beside it (`schema.rs` with the
//!   numbered migrations under `migrations/NNN_name.sql`, the writer, the row decoding) and
//!   one per area for its SQL (`messages.rs`, `claim.rs`, `finish.rs`, `runs.rs`,
//!   `waiters.rs`, `flow.rs`, `dlq.rs`, `events.rs`, `tenant_keys.rs`, `retention.rs`).
//! - `conformance/`: the suite, one file per area, and the
//!   [`conformance_tests!`](crate::conformance_tests) macro that makes one test per check.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub use async_trait::async_trait;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod filter_sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod flow;
mod model;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod store;

pub use error::*;
pub use model::*;
pub use store::Store;

#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
