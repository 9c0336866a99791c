//! The `biaozhun` command line: argument definitions and dispatch.
//!
//! Exit codes follow ripgrep: 0 success, 1 when `check` found errors, 2 when the
//! command itself failed (bad arguments, unreadable path, unknown standard).

pub mod audit;
mod check;
mod import;
pub mod library;
mod list;
mod monitor;
mod provisions;
mod report;
mod search;
mod serve;
mod show;
mod survey;
pub mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "biaozhun",
    version,
    about = "标准 — digital standards management and conformance auditing"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, validate and lint standards (GB/T 1.1—2020 drafting rules).
    Check(check::Args),
    /// Table of all standards: code, title, kind, status, dates, clause and provision counts.
    List(list::Args),
    /// The clause tree of a standard (or one clause) with each provision's type.
    Show(show::Args),
    /// Classify free text sentence by sentence (要求/推荐/允许/陈述).
    Provisions(provisions::Args),
    /// The git-backed standards library: init, publish, log.
    Library(library::LibraryArgs),
    /// Revisions of a standard (`CODE`) or of one clause's text (`CODE#CLAUSE`).
    History(library::HistoryArgs),
    /// Clause-level diff of two revisions or two editions.
    Diff(library::DiffArgs),
    /// Draft the 前言 "主要技术变化" list of a revised edition.
    Changes(library::ChangesArgs),
    /// Full-text search over clauses (Chinese-aware).
    Search(search::SearchArgs),
    /// Manage the search index.
    Index(search::IndexArgs),
    /// Conformance audits: order workflows (event logs) against clause-bound rules.
    Audit(audit::AuditArgs),
    /// Generate demo data (event logs with ground truth).
    Demo(audit::DemoArgs),
    /// Run the web application (accounts, standards, search, API).
    Serve(serve::ServeArgs),
    /// Import drafts from other formats (Word .docx).
    Import(import::ImportArgs),
    /// Reports: an audit's PDF (typst), XLSX, CSV or OSCAL assessment results.
    Report(report::ReportArgs),
    /// Live monitoring: follow the platform's event table (pull mode).
    Monitor(monitor::MonitorArgs),
    /// Satisfaction surveys: statistics of a 问卷星 export.
    Survey(survey::SurveyArgs),
}

/// A failure of the command itself (not a lint finding): printed as `error: …`, exit 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, CliError>;

pub fn run(cli: Cli) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Check(a) => check::run(a, &mut out),
        Command::List(a) => list::run(a, &mut out),
        Command::Show(a) => show::run(a, &mut out),
        Command::Provisions(a) => provisions::run(a, &mut out),
        Command::Library(a) => library::run_library(a, &mut out),
        Command::History(a) => library::run_history(a, &mut out),
        Command::Diff(a) => library::run_diff(a, &mut out),
        Command::Changes(a) => library::run_changes(a, &mut out),
        Command::Search(a) => search::run_search(a, &mut out),
        Command::Index(a) => search::run_index(a, &mut out),
        Command::Audit(a) => audit::run_audit(a, &mut out),
        Command::Demo(a) => audit::run_demo(a, &mut out),
        Command::Serve(a) => serve::run(a, &mut out),
        Command::Import(a) => import::run(a, &mut out),
        Command::Report(a) => report::run(a, &mut out),
        Command::Monitor(a) => monitor::run(a, &mut out),
        Command::Survey(a) => survey::run(a, &mut out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Where the standards live, unless a command is told otherwise.
pub fn default_dir() -> PathBuf {
    std::env::var_os("BIAOZHUN_STANDARDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("standards"))
}

pub(crate) fn load(dir: &std::path::Path) -> Result<crate::standard::Collection> {
    if !dir.exists() {
        return Err(CliError::Usage(format!(
            "standards directory `{}` does not exist (pass --dir DIR or set BIAOZHUN_STANDARDS)",
            dir.display()
        )));
    }
    crate::standard::Collection::load(&[dir.to_path_buf()], &[]).map_err(|source| CliError::Io {
        path: dir.display().to_string(),
        source,
    })
}

/// Pretty JSON of any serialisable value, one document per command (`--json`).
pub(crate) fn print_json(
    out: &mut dyn std::io::Write,
    value: &impl serde::Serialize,
) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Usage(format!("cannot encode JSON: {e}")))?;
    writeln!(out, "{text}").map_err(write_err)
}

pub(crate) fn write_err(e: std::io::Error) -> CliError {
    CliError::Io {
        path: "stdout".into(),
        source: e,
    }
}
