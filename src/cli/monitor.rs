//! `biaozhun monitor pull`: follow a table of the platform's database.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::audit::DbArgs;
use super::{CliError, Result, write_err};

#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    #[command(subcommand)]
    pub command: MonitorCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum MonitorCommand {
    /// Read new rows of a platform table as events (see docs/monitoring.md).
    Pull(PullArgs),
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// The platform's database (postgres://… or sqlite://…).
    #[arg(long, value_name = "URL")]
    pub source: String,
    /// The SQL query (`$1` = last cursor, `$2` = page size; a `cursor` column).
    #[arg(
        long,
        value_name = "SQL",
        conflicts_with = "query_file",
        required_unless_present = "query_file"
    )]
    pub query: Option<String>,
    /// The query, from a file.
    #[arg(long, value_name = "FILE")]
    pub query_file: Option<PathBuf>,
    /// The name the cursor is stored under (one per followed table).
    #[arg(long, default_value = "platform")]
    pub name: String,
    /// Rows per page (one transaction each).
    #[arg(long, default_value_t = 1000)]
    pub page: i64,
    /// Keep following: pull again every SECONDS seconds (stop with Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub follow: Option<u64>,
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: MonitorArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match args.command {
        MonitorCommand::Pull(a) => pull(a, out),
    }
}

fn pull(args: PullArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let query = match (&args.query, &args.query_file) {
        (Some(q), _) => q.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|source| CliError::Io {
            path: f.display().to_string(),
            source,
        })?,
        (None, None) => return Err(CliError::Usage("give --query or --query-file".into())),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        let db = super::audit::open_db(&args.db).await?;
        loop {
            let p = crate::monitor::pull::pull(&db, &args.source, &args.name, &query, args.page)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            if args.json {
                super::print_json(out, &p)?;
            } else {
                writeln!(
                    out,
                    "pulled {} rows: {} new events, {} already stored; cursor {} = {}",
                    p.read, p.accepted, p.duplicates, args.name, p.cursor
                )
                .map_err(write_err)?;
            }
            match args.follow {
                Some(s) => tokio::time::sleep(std::time::Duration::from_secs(s.max(1))).await,
                None => return Ok(ExitCode::SUCCESS),
            }
        }
    })
}
