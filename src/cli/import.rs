//! `biaozhun import docx FILE --code CODE [--category NODE] [-o OUT.md]`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::standard::docx::{self, Options};

use super::{CliError, Result, write_err};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub what: ImportCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// Convert a Word .docx file into a draft in our Markdown format: heading
    /// styles and numbering become clauses, Word lists GB/T 1.1 lists, tables GFM
    /// tables. What could not be converted is listed on standard error.
    Docx(DocxArgs),
}

#[derive(Debug, clap::Args)]
pub struct DocxArgs {
    /// The .docx file.
    pub file: PathBuf,
    /// The code for the front matter (e.g. `Q/BZ 003—2026`).
    #[arg(long)]
    pub code: String,
    /// The GB/T 24421 node for the front matter (e.g. `服务提供标准/服务提供规范`).
    #[arg(long, default_value = "")]
    pub category: String,
    /// Write the draft here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Print `{markdown, title, warnings}` as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ImportArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let ImportCommand::Docx(a) = args.what;
    let bytes = std::fs::read(&a.file).map_err(|source| CliError::Io {
        path: a.file.display().to_string(),
        source,
    })?;
    let got = docx::import(
        &bytes,
        &Options {
            code: &a.code,
            title: "",
            category: &a.category,
        },
    )
    .map_err(|e| CliError::Usage(format!("{}: {e}", a.file.display())))?;
    if a.json {
        let text =
            serde_json::to_string_pretty(&got).map_err(|e| CliError::Usage(e.to_string()))?;
        writeln!(out, "{text}").map_err(write_err)?;
        return Ok(ExitCode::SUCCESS);
    }
    for w in &got.warnings {
        eprintln!("warning: {}: {w}", a.file.display());
    }
    match &a.output {
        Some(path) => {
            std::fs::write(path, &got.markdown).map_err(|source| CliError::Io {
                path: path.display().to_string(),
                source,
            })?;
            eprintln!(
                "wrote {} ({} warnings); check it with `biaozhun check {}`",
                path.display(),
                got.warnings.len(),
                path.display()
            );
        }
        None => write!(out, "{}", got.markdown).map_err(write_err)?,
    }
    Ok(ExitCode::SUCCESS)
}
