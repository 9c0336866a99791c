//! Live monitoring: events pushed by the platform, checked against the same clause-bound
//! rules as an audit while cases are still open.
//!
//! This module holds the first stage, ingest ([`ingest`]): a batch of JSON events is
//! validated as a whole, then committed in one transaction before it is acknowledged;
//! the platform's event ids make it idempotent, so a client retrying after a lost
//! acknowledgement stores nothing twice. [`pull`] follows a table of the
//! platform's database instead, committing the events with its cursor.

pub mod ingest;
pub mod pull;
