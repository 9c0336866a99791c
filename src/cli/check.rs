//! `biaozhun check [PATH]...`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::diag::Summary;
use crate::standard::Collection;

use super::{CliError, Result, write_err};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories to check (default: the standards directory).
    pub paths: Vec<PathBuf>,
    /// Print diagnostics as JSON Lines (one object per line, then a summary object).
    #[arg(long)]
    pub json: bool,
    /// Other standards used to resolve references and `replaces` (default: standards/).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Treat warnings as errors (exit 1 on any warning).
    #[arg(long, short = 'W')]
    pub deny_warnings: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        vec![super::default_dir()]
    } else {
        args.paths
    };
    for p in &paths {
        if !p.exists() {
            return Err(CliError::Usage(format!("`{}` does not exist", p.display())));
        }
    }
    let context = vec![args.library.unwrap_or_else(super::default_dir)];
    let coll = Collection::load(&paths, &context).map_err(|source| CliError::Io {
        path: paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        source,
    })?;
    let summary = Summary::of(&coll.diagnostics);
    if args.json {
        for d in &coll.diagnostics {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            v["type"] = json!("diagnostic");
            writeln!(out, "{v}").map_err(write_err)?;
        }
        let s = json!({
            "type": "summary",
            "files": coll.files,
            "standards": coll.standards.len(),
            "errors": summary.errors,
            "warnings": summary.warnings,
        });
        writeln!(out, "{s}").map_err(write_err)?;
    } else {
        for d in &coll.diagnostics {
            writeln!(out, "{d}").map_err(write_err)?;
        }
        if !coll.diagnostics.is_empty() {
            writeln!(out).map_err(write_err)?;
        }
        writeln!(
            out,
            "checked {} file{} ({} standard{}): {} error{}, {} warning{}",
            coll.files,
            plural(coll.files),
            coll.standards.len(),
            plural(coll.standards.len()),
            summary.errors,
            plural(summary.errors),
            summary.warnings,
            plural(summary.warnings)
        )
        .map_err(write_err)?;
    }
    let failed = summary.errors > 0 || (args.deny_warnings && summary.warnings > 0);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
