//! Workflow endpoints in Rust for a QStash server: the step protocol of the official
//! `@upstash/workflow` SDK (1.3), as an axum route or a `tower::Service`.
//!
//! A workflow is an async function of a [`Context`]. The server calls the endpoint once per
//! step with every step so far; the function runs from the start each time, its step calls
//! ([`Context::run`], [`Context::sleep`], [`Context::sleep_until`], [`Context::call`],
//! [`Context::wait_for_event`], [`Context::invoke`]) return the memoised outputs of the steps already done, and the
//! first new step is executed and handed to the server (`POST /v2/batch`). When the function
//! returns, the run ends with its value. Step calls joined together (`tokio::try_join!`) are
//! one parallel group, each run once.
//!
//! - Every request is verified with [`qstash_signature`] when signing keys are given: a bad
//!   signature is answered 401 before any workflow code runs.
//! - A workflow that takes another path on replay fails loudly
//!   ([`ErrorKind::ReplayMismatch`], naming the expected and the recorded step).
//! - [`Options::failure`] sets the failure function, called once when a run fails for good.
//! - [`testing`] runs a workflow in memory, without a server.
//!
//! See the README below for a complete example.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![doc = include_str!("../README.md")]

mod api;
mod call;
mod context;
mod error;
mod failure;
mod invoke;
mod options;
mod serve;
pub mod testing;
mod wire;

pub use call::{CallRequest, CallResponse};
pub use context::{Context, Outgoing, WaitEvent};
pub use error::{Error, ErrorKind};
pub use failure::{Failure, FailureContext};
pub use invoke::{InvokeRequest, Invoked};
pub use options::{DEFAULT_QSTASH_URL, Options};
pub use serve::{Workflow, serve};
pub use wire::{OutgoingMessage, Step};
