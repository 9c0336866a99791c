//! Live monitoring: events pushed by the platform, checked against the same clause-bound
//! rules as an audit while cases are still open.
//!
//! - [`ingest`]: a batch of JSON events is validated as a whole, then committed in
//!   one transaction before it is acknowledged; the platform's event ids make it
//!   idempotent. [`pull`] follows a table of the platform's database instead,
//!   committing the events with its cursor.
//! - [`online`]: the audit engine on open cases, read against a clock — pending,
//!   warned, violated — with no second implementation of the semantics.
//! - [`service`]: the monitor task inside `serve`: rounds over unprocessed events
//!   committed in one transaction with their results, timers rebuilt from the
//!   database at start, record checks on a schedule, the webhook sender.

pub mod feed;
pub mod ingest;
pub mod online;
pub mod pull;
pub mod service;
