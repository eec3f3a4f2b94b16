//! Test support shared by the tests of the qstash crates (the server's, the CLI's) and by the
//! benchmarks (`benches/`, a separate workspace): code that several of them run, kept in one
//! place instead of being included file by file. Not published; not an API.
//!
//! - [`workflow_endpoint`]: a Rust workflow endpoint that speaks the step protocol of the
//!   official workflow SDK, for driving many runs without Node.
//! - [`node`]: the Node example's folder and `npm ci` for the tests that run the official SDKs.

pub mod node;
pub mod workflow_endpoint;
