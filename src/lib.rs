//! Biaozhun (标准): digital standards management and conformance auditing.
//!
//! See `ARCHITECTURE.md` for the code map. Data flows one way:
//! files → [`standard`] model → (library, search) → checks → findings → reports.

pub mod acceptance;
pub mod audit;
pub mod cli;
pub mod db;
pub mod diag;
pub mod library;
pub mod monitor;
pub mod package;
pub mod platform;
pub mod report;
pub mod search;
pub mod sheet;
pub mod standard;
pub mod submission;
pub mod survey;
pub mod web;
