//! Integration tests: one binary (see ARCHITECTURE.md), one module per concern.

mod audits;
mod checks;
mod cli;
mod db;
mod docx;
mod fixtures;
mod library;
mod logs;
mod monitor;
mod pdf;
mod platform;
mod provisions;
mod recorded;
mod report;
mod robustness;
mod search;
mod standards;
mod survey;
mod uploads;
mod web;
mod workflow;
