//! Integration tests: one binary (see ARCHITECTURE.md), one module per concern.

mod audits;
mod checks;
mod cli;
mod db;
mod docx;
mod fixtures;
mod library;
mod monitor;
mod platform;
mod provisions;
mod report;
mod robustness;
mod search;
mod standards;
mod survey;
mod uploads;
mod web;
mod workflow;
