//! Integration tests: one binary (see ARCHITECTURE.md), one module per concern.

mod audits;
mod checks;
mod cli;
mod db;
mod docx;
mod fixtures;
mod library;
mod monitor;
mod pdf;
mod platform;
mod provisions;
mod report;
mod robustness;
mod search;
mod standards;
mod survey;
mod web;
mod workflow;
