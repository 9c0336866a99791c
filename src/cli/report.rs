//! `biaozhun report audit ID --format pdf|xlsx|csv|oscal -o FILE`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::audit::DbArgs;
use super::{CliError, Result, write_err};
use crate::report::{Format, tables::Table};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// An audit's report: signed PDF, Excel workbook, CSV table or OSCAL JSON.
    Audit(AuditReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct AuditReportArgs {
    /// The audit's number (`biaozhun audit show`, or the web page's #).
    pub id: i64,
    #[arg(long, value_enum, default_value = "pdf")]
    pub format: Format,
    /// The file to write (`-` for standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// CSV only: which table.
    #[arg(long, value_enum, default_value = "clauses")]
    pub table: Table,
    /// Refuse to write a PDF in which some character has no glyph.
    #[arg(long)]
    pub strict: bool,
    /// Standards to quote clause text from (default: the data directory's library,
    /// else `standards/`).
    #[arg(long, value_name = "DIR")]
    pub standards: Option<PathBuf>,
    #[arg(long, value_name = "PATH", default_value = "audits")]
    pub rules: Vec<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(args: ReportArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match args.command {
        ReportCommand::Audit(a) => audit_report(a, out),
    }
}

fn collection(args: &AuditReportArgs) -> Result<crate::standard::Collection> {
    if args.standards.is_none() {
        let lib = args.db.data_dir.join("library");
        if lib.join(".git").exists() || lib.join("HEAD").exists() {
            let (library, _) = crate::library::Library::open(&lib)
                .map_err(|e| CliError::Usage(format!("library {}: {e}", lib.display())))?;
            let head = library
                .head_id()
                .map_err(|e| CliError::Usage(format!("library {}: {e}", lib.display())))?;
            let (coll, _) = library
                .collection_at(&head)
                .map_err(|e| CliError::Usage(format!("library {}: {e}", lib.display())))?;
            return Ok(coll);
        }
    }
    let dir = args.standards.clone().unwrap_or_else(super::default_dir);
    super::load(&dir)
}

/// Writes `bytes` to `path` all at once: a temporary file renamed into place, so
/// an interrupted export never leaves half a report behind.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| CliError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_file_name(format!(
        ".{}.partial",
        path.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "report".into())
    ));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

fn audit_report(args: AuditReportArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let coll = collection(&args)?;
    // Rules first: it says clearly when the rules path does not exist.
    let workflow = super::audit::load_rules(&args.rules)?.rules;
    let checks = super::audit::load_checks(&args.rules)?;
    let evidence = crate::audit::evidence::EvidenceStore::new(&args.db.data_dir.join("evidence"));
    let outlets = crate::platform::import::outlet_names(&args.db.data_dir.join("platform"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    let gathered = rt.block_on(async {
        let db = super::audit::open_db(&args.db).await?;
        let sources = crate::report::audit::Sources {
            db: &db,
            coll: &coll,
            checks: &checks,
            workflow: &workflow,
            evidence: Some(&evidence),
            outlets,
        };
        crate::report::audit::gather(&sources, args.id, crate::db::now())
            .await
            .map_err(|e| match e {
                crate::db::audits::AuditError::Missing => {
                    CliError::Usage(format!("no audit #{} (see `biaozhun audit show`)", args.id))
                }
                e => CliError::Usage(e.to_string()),
            })
    })?;
    let output = crate::report::render_audit(&gathered, args.format, args.table, args.strict)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    for m in &output.missing {
        eprintln!("warning: 缺字形（PDF 中显示为空白）：{m}");
    }
    if args.output.as_os_str() == "-" {
        out.write_all(&output.bytes).map_err(write_err)?;
    } else {
        write_atomic(&args.output, &output.bytes)?;
        let pages = if output.pages > 0 {
            format!(", {} pages", output.pages)
        } else {
            String::new()
        };
        eprintln!(
            "wrote {} ({} bytes{pages}): report {} of audit #{}",
            args.output.display(),
            output.bytes.len(),
            gathered.report.report_no,
            args.id
        );
    }
    Ok(ExitCode::SUCCESS)
}
