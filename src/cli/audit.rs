//! `biaozhun audit workflow|rules|data` and `biaozhun demo log|platform`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::audit::generate::{self, OutFormat, Settings};
use crate::audit::log::{Format, ReadOptions};
use crate::audit::rules::{self, RuleSet};
use crate::audit::{self, AuditOptions, ClauseVerdict, WorkflowResult, time};
use crate::diag::Diagnostic;
use crate::standard::Collection;

use super::table::{render, truncate};
use super::{CliError, Result, write_err};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check an order event log (CSV, JSON Lines, XES; .gz too) against workflow rules.
    Workflow(Box<WorkflowArgs>),
    /// Validate rule files and their clause bindings; list the rules.
    Rules(RulesArgs),
    /// Validate a platform export directory (agencies, workers, outlets, …):
    /// every bad row with file, line and field; counts and the snapshot hash.
    Data(DataArgs),
    /// Run the record and metric checks of the rule files against a platform
    /// export: a result per check with failing records, a verdict per clause.
    Checks(ChecksArgs),
    /// Which requirement clauses of each standard have an automated rule or
    /// check, a manual checklist item, or neither (gaps).
    Coverage(RulesArgs),
    /// Create an audit in the database and run its automated checks headless
    /// (for scheduling); prints the audit id and the verdict per clause.
    Run(RunArgs),
    /// An audit stored in the database: scope, run, verdict per clause, findings.
    Show(ShowArgs),
}

/// Auditing the live platform: its database and the mapping of queries.
#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// The platform's database (postgres://… or sqlite://…) instead of --data.
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    pub source: Option<String>,
    /// SQL query per entity for --source (JSON; see docs/platform-data.md).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "audits/sources/demo-platform.json"
    )]
    pub mapping: PathBuf,
}

/// The platform from an export directory or from the live database.
fn load_platform(data: Option<&PathBuf>, live: &LiveArgs) -> Result<crate::platform::Platform> {
    use crate::platform::import::{ImportError, Options, import_dir};
    let key = rand_key();
    let opts = Options { key: &key };
    let loaded = match (&live.source, data) {
        (Some(url), _) => {
            let mapping =
                crate::platform::source::load_mapping(&live.mapping).map_err(CliError::Usage)?;
            runtime()?.block_on(crate::platform::source::import_db(url, &mapping, &opts))
        }
        (None, Some(dir)) => import_dir(dir, &opts),
        (None, None) => return Err(CliError::Usage("give --data DIR or --source URL".into())),
    };
    match loaded {
        Ok(p) => Ok(p),
        Err(ImportError::Rows(errors)) => {
            let text: Vec<String> = errors.iter().take(20).map(|e| format!("  {e}")).collect();
            Err(CliError::Usage(format!(
                "the platform data has {} problem(s) (first {}):\n{}",
                errors.len(),
                text.len(),
                text.join("\n")
            )))
        }
        Err(e) => Err(CliError::Usage(e.to_string())),
    }
}

#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// Data directory of `biaozhun serve` (its SQLite database).
    #[arg(
        long,
        value_name = "DIR",
        env = "BIAOZHUN_DATA",
        default_value = "data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL (postgres://…) or SQLite (sqlite://…) URL instead.
    #[arg(long, value_name = "URL", env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The audit's name.
    #[arg(long)]
    pub name: String,
    /// Standards in scope (codes), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub standards: Vec<String>,
    /// First day of the audited period.
    #[arg(long)]
    pub from: String,
    /// Last day of the audited period (also the reference instant of the checks).
    #[arg(long)]
    pub to: String,
    /// The platform export directory.
    #[arg(long, value_name = "DIR", required_unless_present = "source")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub live: LiveArgs,
    #[arg(long, value_name = "PATH", default_value = "audits")]
    pub rules: Vec<PathBuf>,
    /// The order event log for the workflow rules (default: `orders.*` in --data).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// The user the audit is recorded under (an auditor or admin).
    #[arg(long = "as", value_name = "USERNAME", default_value = "admin")]
    pub user: String,
    /// Share of unreadable log rows tolerated before the process clauses get no
    /// verdict (数据不完整，不予结论), in percent.
    #[arg(long, value_name = "PERCENT", default_value = "0.1", value_parser = percent)]
    pub max_skipped: f64,
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    pub id: i64,
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ChecksArgs {
    /// The platform export directory (see docs/platform-data.md).
    #[arg(long, value_name = "DIR", required_unless_present = "source")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub live: LiveArgs,
    #[arg(long, value_name = "PATH", default_value = "audits")]
    pub rules: Vec<PathBuf>,
    /// Reference instant for validity checks (`time` in conditions), a date or a
    /// time; default now.
    #[arg(long)]
    pub at: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// The export directory (see docs/platform-data.md).
    pub dir: PathBuf,
    /// JSON output: counts, files with their SHA-256, snapshot, or the errors.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct WorkflowArgs {
    /// The event log.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Rule files or directories.
    #[arg(long, value_name = "PATH", default_value = "audits")]
    pub rules: Vec<PathBuf>,
    /// Standards the rules' clauses are checked against.
    #[arg(long, value_name = "DIR")]
    pub standards: Option<PathBuf>,
    /// Check cases whose first event is on or after this date/instant.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// … and on or before this date (a date includes the whole day).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Offset for timestamps written without one, e.g. +08:00 (default: they are errors).
    #[arg(long, value_name = "OFFSET")]
    pub default_offset: Option<String>,
    /// Log format (default: from the file name).
    #[arg(long, value_parser = ["csv", "jsonl", "xes"])]
    pub format: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub case_column: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub activity_column: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub timestamp_column: Option<String>,
    /// Fail on the first bad row instead of skipping and counting it.
    #[arg(long)]
    pub strict: bool,
    /// Share of unreadable rows tolerated, in percent; above it no clause is 符合
    /// (数据不完整，不予结论) and the exit status is 3.
    #[arg(long, value_name = "PERCENT", default_value = "0.1", value_parser = percent)]
    pub max_skipped: f64,
    /// Print the whole result as one JSON document (every violating case).
    #[arg(long)]
    pub json: bool,
    /// Also write every violating case to a CSV file.
    #[arg(long, value_name = "FILE")]
    pub violations_csv: Option<PathBuf>,
    /// Violating cases shown per rule in the terminal.
    #[arg(long, default_value_t = 5)]
    pub show: usize,
    /// Parser threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

fn percent(s: &str) -> std::result::Result<f64, String> {
    audit::parse_percent(s)
        .ok_or_else(|| format!("`{s}` is not a percentage from 0 to 100 (e.g. 0.1)"))
}

#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[arg(long, value_name = "PATH", default_value = "audits")]
    pub rules: Vec<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub standards: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub command: DemoCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DemoCommand {
    /// Generate a realistic order event log with its ground truth.
    Log(DemoLogArgs),
    /// Generate a Lin'an-like platform (18 outlets, 429 agencies, 3,500 workers,
    /// complaints, trainings) as import files, with its order log and the faults
    /// planted in it.
    Platform(DemoPlatformArgs),
}

#[derive(Debug, clap::Args)]
pub struct DemoPlatformArgs {
    /// Orders in the event log (`orders.csv`); 0 for none.
    #[arg(long, default_value_t = 4000)]
    pub orders: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The directory to write (created; must be empty or new).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also write the platform into this database (postgres://… or sqlite://…) as
    /// the platform's own tables (pf_*), for `--source` audits.
    #[arg(long, value_name = "URL")]
    pub into: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DemoLogArgs {
    #[arg(long, default_value_t = 1000)]
    pub orders: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file; `.csv`, `.jsonl`, `.xes`, optionally `.gz`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Where to write the ground truth (JSON: rule id → violating cases).
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Share of orders with a deliberate violation.
    #[arg(long, default_value_t = 0.2)]
    pub fault_rate: f64,
    /// Days the orders are spread over.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
}

pub fn run_audit(args: AuditArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match args.command {
        AuditCommand::Workflow(a) => workflow(*a, out),
        AuditCommand::Rules(a) => rules_cmd(a, out),
        AuditCommand::Data(a) => data_cmd(a, out),
        AuditCommand::Checks(a) => checks_cmd(a, out),
        AuditCommand::Coverage(a) => coverage_cmd(a, out),
        AuditCommand::Run(a) => run_cmd(a, out),
        AuditCommand::Show(a) => show_cmd(a, out),
    }
}

fn data_cmd(args: DataArgs, out: &mut dyn Write) -> Result<ExitCode> {
    use crate::platform::import::{ImportError, Options, import_dir};
    // Pseudonyms are not shown here, so any key will do.
    let key: [u8; 32] = rand_key();
    match import_dir(&args.dir, &Options { key: &key }) {
        Ok(p) => {
            if args.json {
                let v = serde_json::json!({
                    "ok": true,
                    "snapshot": p.snapshot,
                    "warnings": p.warnings,
                    "files": p.files.iter().map(|(n, h)| serde_json::json!({"name": n, "sha256": h})).collect::<Vec<_>>(),
                    "counts": {
                        "agencies": p.agencies.len(), "workers": p.workers.len(),
                        "outlets": p.outlets.len(), "code_changes": p.code_changes.len(),
                        "complaints": p.complaints.len(), "trainings": p.trainings.len(),
                    },
                });
                writeln!(out, "{v}").map_err(write_err)?;
            } else {
                for w in &p.warnings {
                    writeln!(out, "warning: {}/{w}", args.dir.display()).map_err(write_err)?;
                }
                writeln!(
                    out,
                    "{}: {} agencies, {} workers, {} outlets, {} code changes, {} complaints, {} training records\nsnapshot {}",
                    args.dir.display(),
                    p.agencies.len(),
                    p.workers.len(),
                    p.outlets.len(),
                    p.code_changes.len(),
                    p.complaints.len(),
                    p.trainings.len(),
                    p.snapshot
                )
                .map_err(write_err)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ImportError::Rows(errors)) => {
            if args.json {
                let v = serde_json::json!({ "ok": false, "errors": errors });
                writeln!(out, "{v}").map_err(write_err)?;
            } else {
                for e in &errors {
                    writeln!(out, "{}/{e}", args.dir.display()).map_err(write_err)?;
                }
                writeln!(
                    out,
                    "{} problem(s); nothing was imported. Field formats: docs/platform-data.md",
                    errors.len()
                )
                .map_err(write_err)?;
            }
            Ok(ExitCode::from(1))
        }
        Err(e @ ImportError::Io { .. }) => Err(CliError::Usage(e.to_string())),
    }
}

pub(crate) fn load_checks(paths: &[PathBuf]) -> Result<crate::audit::checks::CheckSet> {
    crate::audit::checks::CheckSet::load(paths).map_err(|diags| {
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        CliError::Usage(format!("the checks have errors:\n{}", text.join("\n")))
    })
}

fn checks_cmd(args: ChecksArgs, out: &mut dyn Write) -> Result<ExitCode> {
    use crate::audit::checks::{Outcome, clause_outcomes, evaluate};
    let set = load_checks(&args.rules)?;
    let at = match &args.at {
        Some(t) => time::parse_date_or_instant(t, 480)
            .map_err(|e| CliError::Usage(format!("--at `{t}`: {e}")))?,
        None => crate::db::now() * 1_000_000,
    };
    let platform = load_platform(args.data.as_ref(), &args.live)?;
    let results = evaluate(&set, &platform, at);
    let clauses = clause_outcomes(&results);
    let failed = results.iter().any(|r| r.outcome == Outcome::Fail);
    if args.json {
        super::print_json(
            out,
            &serde_json::json!({
                "schema": "biaozhun.check-result/1",
                "at": time::format_instant(at, 480),
                "snapshot": platform.snapshot,
                "checks": results,
                "clauses": clauses,
            }),
        )?;
    } else {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.clauses
                        .iter()
                        .map(|c| c.split_once('#').map(|x| x.1).unwrap_or(c))
                        .collect::<Vec<_>>()
                        .join(","),
                    r.checked.to_string(),
                    match (&r.value, r.kind) {
                        (Some(v), _) => {
                            format!("{v} (target {})", r.target.clone().unwrap_or_default())
                        }
                        (None, "manual") => "—".into(),
                        _ => r.failed.to_string(),
                    },
                    match r.outcome {
                        Outcome::Fail => format!("不符合（{}）", r.severity.label()),
                        Outcome::Manual => "待现场检查".into(),
                        o => o.label().into(),
                    },
                    truncate(&r.title, 36),
                ]
            })
            .collect();
        write!(
            out,
            "{}",
            render(
                &[
                    "check",
                    "clauses",
                    "checked",
                    "failed / value",
                    "verdict",
                    "title"
                ],
                &rows,
                &[]
            )
        )
        .map_err(write_err)?;
        let count = |v: &str| clauses.iter().filter(|c| c.verdict == v).count();
        writeln!(
            out,
            "{} clauses: {} 符合, {} 不符合, {} 待现场检查, {} 未评价 (as of {}, data snapshot {})",
            clauses.len(),
            count("符合"),
            count("不符合"),
            count("待现场检查"),
            count("未评价"),
            time::format_instant(at, 480),
            &platform.snapshot[..12]
        )
        .map_err(write_err)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn coverage_cmd(args: RulesArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let set = load_rules(&args.rules)?;
    let checks = load_checks(&args.rules)?;
    let dir = args.standards.clone().unwrap_or_else(super::default_dir);
    let coll = Collection::load(&[dir], &[]).map_err(|source| CliError::Io {
        path: "standards".into(),
        source,
    })?;
    let unknown = checks.unknown_clauses(&coll);
    if !unknown.is_empty() {
        let text: Vec<String> = unknown
            .iter()
            .map(|(id, c)| {
                format!("  check `{id}` is bound to {c}, which the standards do not have")
            })
            .collect();
        return Err(CliError::Usage(format!(
            "the checks are bound to unknown clauses:\n{}",
            text.join("\n")
        )));
    }
    let cov = crate::audit::checks::coverage(&coll, &set.rules, &checks, &[]);
    if args.json {
        let v: Vec<serde_json::Value> = cov
            .iter()
            .map(|c| serde_json::json!({
                "standard": c.standard, "requirement_clauses": c.requirement_clauses,
                "automated": c.automated, "manual": c.manual,
                "percent": (c.percent() * 10.0).round() / 10.0,
                "gaps": c.gaps.iter().map(|(n, t)| serde_json::json!({"clause": n, "title": t})).collect::<Vec<_>>(),
            }))
            .collect();
        super::print_json(out, &serde_json::json!({ "coverage": v }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = cov
        .iter()
        .map(|c| {
            vec![
                c.standard.clone(),
                c.requirement_clauses.to_string(),
                c.automated.to_string(),
                c.manual.to_string(),
                c.gaps.len().to_string(),
                format!("{:.1}%", c.percent()),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render(
            &[
                "standard",
                "requirement clauses",
                "automated",
                "manual only",
                "gaps",
                "covered"
            ],
            &rows,
            &[false, true, true, true, true, true]
        )
    )
    .map_err(write_err)?;
    for c in &cov {
        if !c.gaps.is_empty() {
            let list: Vec<String> = c.gaps.iter().map(|(n, t)| format!("{n} {t}")).collect();
            writeln!(out, "gaps in {}: {}", c.standard, list.join("; ")).map_err(write_err)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))
}

pub(crate) async fn open_db(args: &DbArgs) -> Result<crate::db::Db> {
    let url = match &args.database_url {
        Some(u) => u.clone(),
        None => {
            let file = args.data_dir.join("biaozhun.db");
            if !file.exists() {
                return Err(CliError::Usage(format!(
                    "no database at {}: start `biaozhun serve --data {}` once, or give --database-url",
                    file.display(),
                    args.data_dir.display()
                )));
            }
            crate::db::sqlite_url(&file)
        }
    };
    crate::db::Db::open(&url)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))
}

fn run_cmd(args: RunArgs, out: &mut dyn Write) -> Result<ExitCode> {
    use crate::audit::checks::{clause_outcomes, evaluate};
    use crate::db::accounts::Role;
    use crate::db::audits::NewAudit;
    let mut set = load_checks(&args.rules)?;
    let standards: Vec<String> = args
        .standards
        .iter()
        .map(|s| {
            crate::standard::Code::parse(s.trim())
                .map(|c| c.to_string())
                .map_err(|e| CliError::Usage(format!("--standards `{s}`: {e}")))
        })
        .collect::<Result<_>>()?;
    let in_scope = |clauses: &[String]| {
        clauses
            .iter()
            .any(|c| standards.iter().any(|s| c.starts_with(&format!("{s}#"))))
    };
    set.records.retain(|r| in_scope(&r.clauses));
    set.metrics.retain(|m| in_scope(&m.clauses));
    set.manual.retain(|m| in_scope(&m.clauses));
    let at_end = time::parse_date_or_instant(&args.to, 480)
        .map_err(|e| CliError::Usage(format!("--to `{}`: {e}", args.to)))?
        + 86_400_000_000
        - 1;
    let platform = load_platform(args.data.as_ref(), &args.live)?;
    let mut results = evaluate(&set, &platform, at_end);
    let mut sources = Vec::new();
    let log = args.log.clone().or_else(|| {
        args.data
            .as_deref()
            .and_then(crate::audit::checks::order_log)
    });
    if let Some(log) = &log {
        let from = time::parse_date_or_instant(&args.from, 480)
            .map_err(|e| CliError::Usage(format!("--from `{}`: {e}", args.from)))?;
        let rules = args
            .rules
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("audits"));
        let (workflow, report) = crate::audit::checks::run_workflow(
            &rules,
            log,
            &standards,
            (from, at_end + 1),
            args.max_skipped,
        )
        .map_err(CliError::Usage)?;
        results.extend(workflow);
        sources.extend(report);
    }
    let clauses = clause_outcomes(&results);
    let rt = runtime()?;
    let audit = rt.block_on(async {
        let db = open_db(&args.db).await?;
        let user = db
            .user_by_name(&args.user)
            .await
            .map_err(|e| CliError::Usage(e.to_string()))?
            .filter(|u| matches!(u.role, Role::Auditor | Role::Admin) && u.active)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--as {}: no active auditor or admin of that name",
                    args.user
                ))
            })?;
        let audit = db
            .create_audit(
                &NewAudit {
                    name: &args.name,
                    standards: &standards,
                    period_from: &args.from,
                    period_to: &args.to,
                    outlets: &[],
                    max_skipped: args.max_skipped,
                },
                &user,
            )
            .await
            .map_err(|e| CliError::Usage(e.to_string()))?;
        db.record_run(audit.id, &platform.snapshot, &results, &clauses, &sources)
            .await
            .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok::<_, CliError>(audit)
    })?;
    let count = |v: &str| clauses.iter().filter(|c| c.verdict == v).count();
    if args.json {
        super::print_json(
            out,
            &serde_json::json!({
                "audit": audit.id, "snapshot": platform.snapshot,
                "checks": results.len(), "clauses": clauses, "sources": sources,
            }),
        )?;
    } else {
        writeln!(
            out,
            "audit #{} “{}”: {} checks, {} clauses — {} 符合, {} 不符合, {} 数据不完整, {} 待现场检查, {} 未评价; see `biaozhun audit show {}`",
            audit.id,
            audit.name,
            results.len(),
            clauses.len(),
            count("符合"),
            count("不符合"),
            count("数据不完整"),
            count("待现场检查"),
            count("未评价"),
            audit.id
        )
        .map_err(write_err)?;
        for src in &sources {
            for reason in &src.data.reasons {
                writeln!(out, "数据不完整（{}）：{reason}", src.file).map_err(write_err)?;
            }
        }
    }
    Ok(if sources.iter().all(|s| s.data.conclusive) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn show_cmd(args: ShowArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let rt = runtime()?;
    let (audit, verdicts, findings) = rt.block_on(async {
        let db = open_db(&args.db).await?;
        let e = |e: crate::db::audits::AuditError| CliError::Usage(e.to_string());
        let audit = db
            .audit(args.id)
            .await
            .map_err(e)?
            .ok_or_else(|| CliError::Usage(format!("no audit #{}", args.id)))?;
        let verdicts = db.clause_verdicts(args.id).await.map_err(e)?;
        let findings = db.findings(args.id).await.map_err(e)?;
        Ok::<_, CliError>((audit, verdicts, findings))
    })?;
    if args.json {
        super::print_json(
            out,
            &serde_json::json!({ "audit": audit, "clauses": verdicts, "findings": findings }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "audit #{} “{}” (revision {}, {}) · {} · {} – {} · data {}",
        audit.id,
        audit.name,
        audit.revision,
        if audit.state == "open" {
            "进行中"
        } else {
            "已关闭"
        },
        audit.standards.join("、"),
        audit.period_from,
        audit.period_to,
        audit.snapshot.get(..12).unwrap_or("—")
    )
    .map_err(write_err)?;
    for src in &audit.sources {
        for line in read_report_lines(&src.file, &src.stats, &src.cases) {
            writeln!(out, "{line}").map_err(write_err)?;
        }
        for reason in &src.data.reasons {
            writeln!(out, "  数据不完整：{reason}").map_err(write_err)?;
        }
    }
    let rows: Vec<Vec<String>> = verdicts
        .iter()
        .map(|v| {
            vec![
                v.clause.clone(),
                v.verdict.label().to_string(),
                match v.severity.as_str() {
                    "major" => "严重".into(),
                    "minor" => "一般".into(),
                    _ => String::new(),
                },
                if v.source == "auditor" {
                    "审核员"
                } else {
                    "自动"
                }
                .to_string(),
                truncate(&v.justification, 30),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render(
            &["clause", "verdict", "severity", "by", "justification"],
            &rows,
            &[]
        )
    )
    .map_err(write_err)?;
    for f in &findings {
        writeln!(
            out,
            "finding #{} [{}] {} {} — {}",
            f.id, f.status, f.clause, f.title, f.observed
        )
        .map_err(write_err)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn rand_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    // A key only needs to be unpredictable; without entropy a fixed one is fine
    // for validation, which shows no hashes.
    let _ = getrandom::fill(&mut k);
    k
}

pub(crate) fn load_rules(paths: &[PathBuf]) -> Result<RuleSet> {
    for p in paths {
        if !p.exists() {
            return Err(CliError::Usage(format!(
                "rules `{}` do not exist (pass --rules PATH)",
                p.display()
            )));
        }
    }
    RuleSet::load(paths).map_err(|diags| {
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        CliError::Usage(format!("the rule set has errors:\n{}", text.join("\n")))
    })
}

/// Checks the rules' clauses against the standards: warnings come back, errors
/// fail the command.
fn check_bindings(rules: &[rules::Rule], standards: Option<PathBuf>) -> Result<Vec<Diagnostic>> {
    let dir = standards.unwrap_or_else(super::default_dir);
    let diags = if dir.exists() {
        let coll = Collection::load(&[dir], &[]).map_err(|source| CliError::Io {
            path: "standards".into(),
            source,
        })?;
        rules::check_bindings(rules, &coll)
    } else {
        vec![Diagnostic::warning(
            "rules-clause-unchecked",
            &dir.display().to_string(),
            crate::diag::Pos::START,
            "standards directory not found: clause bindings were not checked",
        )]
    };
    if diags.iter().any(Diagnostic::is_error) {
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        return Err(CliError::Usage(format!(
            "the rule set has errors:\n{}",
            text.join("\n")
        )));
    }
    Ok(diags)
}

fn rules_cmd(args: RulesArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let set = load_rules(&args.rules)?;
    let mut diags = set.warnings.clone();
    diags.extend(check_bindings(&set.rules, args.standards)?);
    if args.json {
        let rules: Vec<serde_json::Value> = set
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "title": r.title, "clauses": r.clauses,
                    "template": r.template, "severity": r.severity,
                    "activation": r.activation.text,
                    "target": r.target.as_ref().map(|t| &t.text),
                    "correlation": r.correlation_text,
                    "file": r.file, "line": r.pos.line,
                })
            })
            .collect();
        super::print_json(
            out,
            &serde_json::json!({"rules": rules, "diagnostics": diags}),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    for d in &diags {
        eprintln!("{d}");
    }
    let rows: Vec<Vec<String>> = set
        .rules
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.template.name().to_string(),
                r.clauses
                    .iter()
                    .map(|c| c.split_once('#').map(|x| x.1).unwrap_or(c))
                    .collect::<Vec<_>>()
                    .join(","),
                r.severity.label().to_string(),
                truncate(&r.title, 40),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render(
            &["rule", "template", "clauses", "severity", "title"],
            &rows,
            &[]
        )
    )
    .map_err(write_err)?;
    writeln!(
        out,
        "{} rules in {} file(s), {} activities, {} attributes read",
        set.rules.len(),
        set.files.len(),
        set.activities.len() - 1,
        set.slots.names.len()
    )
    .map_err(write_err)?;
    Ok(ExitCode::SUCCESS)
}

fn workflow(args: WorkflowArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let set = load_rules(&args.rules)?;
    if !args.json {
        for d in &set.warnings {
            eprintln!("{d}");
        }
    }
    let default_offset = match &args.default_offset {
        None => None,
        Some(s) => Some(time::parse_offset(s).ok_or_else(|| {
            CliError::Usage(format!(
                "--default-offset `{s}` is not an offset like +08:00 or Z"
            ))
        })?),
    };
    // Period bounds: a bare date is a local day at the default offset (China Standard
    // Time when none is given); `--to DATE` includes that whole day.
    let period_offset = default_offset.unwrap_or(480);
    let bound = |s: &Option<String>, flag: &str, end: bool| -> Result<Option<i64>> {
        let Some(s) = s else { return Ok(None) };
        let t = time::parse_date_or_instant(s, period_offset).map_err(|e| {
            CliError::Usage(format!(
                "{flag} `{s}`: {e} (write 2023-01-01 or 2023-01-01T00:00:00+08:00)"
            ))
        })?;
        Ok(Some(if end && s.trim().len() == 10 {
            t + 86_400 * time::MICROS_PER_SEC
        } else if end {
            t + 1
        } else {
            t
        }))
    };
    let from = bound(&args.from, "--from", false)?;
    let to = bound(&args.to, "--to", true)?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(CliError::Usage("--from is after --to".into()));
    }
    let opts = AuditOptions {
        read: ReadOptions {
            format: args.format.as_deref().map(|f| match f {
                "csv" => Format::Csv,
                "jsonl" => Format::Jsonl,
                _ => Format::Xes,
            }),
            case_column: args.case_column.clone(),
            activity_column: args.activity_column.clone(),
            timestamp_column: args.timestamp_column.clone(),
            default_offset,
            strict: args.strict,
            threads: args.threads,
            block_size: 0,
        },
        from,
        to,
        display_offset: period_offset,
        max_skipped: args.max_skipped,
    };
    let progress = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} 读取事件日志 {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} 剩余 {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        pb
    });
    let started = std::time::Instant::now();
    // The clause bindings are checked while the log is read: loading the standards
    // takes a fixed ~0.2 s that a small log should not wait for. A binding error
    // still fails the command.
    let rules_copy = set.rules.clone();
    let standards = args.standards.clone();
    let (result, bindings) = std::thread::scope(|s| {
        let bindings = s.spawn(move || check_bindings(&rules_copy, standards));
        let result = audit::check_log(&args.log, set, &opts, progress.as_ref());
        (result, bindings.join())
    });
    let bindings =
        bindings.map_err(|_| CliError::Usage("checking the clause bindings failed".into()))??;
    if !args.json {
        for d in &bindings {
            eprintln!("{d}");
        }
    }
    let result = result.map_err(|e| CliError::Usage(e.to_string()))?;
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let elapsed = started.elapsed();
    if let Some(path) = &args.violations_csv {
        write_violations_csv(path, &result)?;
    }
    let violated = result.rules.iter().any(|r| r.violated > 0);
    if args.json {
        super::print_json(out, &result)?;
    } else {
        print_result(out, &result, args.show)?;
        let events = result.log.stats.events;
        let secs = elapsed.as_secs_f64().max(1e-9);
        writeln!(
            out,
            "\n{} events, {} cases in {:.2} s ({:.0} events/s)",
            events,
            result.cases.total,
            secs,
            events as f64 / secs
        )
        .map_err(write_err)?;
    }
    Ok(if !result.data.conclusive {
        ExitCode::from(3)
    } else if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_result(out: &mut dyn Write, r: &WorkflowResult, show: usize) -> Result<()> {
    let w = |out: &mut dyn Write, text: String| writeln!(out, "{text}").map_err(write_err);
    for line in read_report_lines(&r.log.path, &r.log.stats, &r.cases) {
        w(out, line)?;
    }
    if !r.data.conclusive {
        w(
            out,
            "data incomplete: verdicts other than 不符合 are withheld (数据不完整，不予结论 / 未评价):"
                .into(),
        )?;
        for reason in &r.data.reasons {
            w(out, format!("  - {reason}"))?;
        }
    }
    w(out, String::new())?;
    let rows: Vec<Vec<String>> = r
        .rules
        .iter()
        .map(|x| {
            vec![
                x.id.clone(),
                x.template.name().to_string(),
                x.cases_checked.to_string(),
                x.activated.to_string(),
                x.fulfilled.to_string(),
                x.violated.to_string(),
                x.vacuous.to_string(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render(
            &[
                "rule",
                "template",
                "cases",
                "activated",
                "fulfilled",
                "violated",
                "vacuous"
            ],
            &rows,
            &[false, false, true, true, true, true, true],
        )
    )
    .map_err(write_err)?;
    w(out, String::new())?;
    let rows: Vec<Vec<String>> = r
        .clauses
        .iter()
        .map(|c| {
            vec![
                c.clause.clone(),
                c.verdict.label().to_string(),
                c.violating_cases.to_string(),
                c.rules.join(", "),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render(
            &["clause", "verdict", "cases", "rules"],
            &rows,
            &[false, false, true, false]
        )
    )
    .map_err(write_err)?;
    for x in r.rules.iter().filter(|x| x.violated > 0) {
        w(
            out,
            if x.title.is_empty() {
                format!("\n{} ({} violating cases)", x.id, x.violated)
            } else {
                format!("\n{} — {} ({} violating cases)", x.id, x.title, x.violated)
            },
        )?;
        for v in x.violating_cases.iter().take(show) {
            let ev = v
                .event
                .as_ref()
                .map(|e| format!("{} at {} (line {})", e.activity, e.time, e.line))
                .unwrap_or_else(|| "no matching event".into());
            let tgt = v
                .target
                .as_ref()
                .map(|e| format!(" → {} at {} (line {})", e.activity, e.time, e.line))
                .unwrap_or_default();
            w(out, format!("  {}: {ev}{tgt}", v.case))?;
        }
        if x.violating_cases.len() > show {
            w(
                out,
                format!(
                    "  … {} more (--json or --violations-csv lists all)",
                    x.violating_cases.len() - show
                ),
            )?;
        }
    }
    let count = |v: ClauseVerdict| r.clauses.iter().filter(|c| c.verdict == v).count();
    let mut parts = vec![
        format!("{} 不符合", count(ClauseVerdict::Nonconforming)),
        format!("{} 符合", count(ClauseVerdict::Conforming)),
        format!("{} 未触发", count(ClauseVerdict::NotExercised)),
    ];
    for v in [ClauseVerdict::Incomplete, ClauseVerdict::NotEvaluated] {
        if count(v) > 0 {
            parts.push(format!("{} {}", count(v), v.label()));
        }
    }
    w(
        out,
        format!("\n{} clause(s): {}", r.clauses.len(), parts.join(", ")),
    )
}

/// The read report of a log, for the terminal: what was read, skipped and why,
/// trimmed, and when.
pub(super) fn read_report_lines(
    path: &str,
    s: &audit::log::ReadStats,
    cases: &audit::CaseCounts,
) -> Vec<String> {
    let mut out = vec![format!(
        "log {path}: {} rows, {} events ({} used by the rules), {} cases{}",
        s.rows,
        s.events,
        s.events_kept,
        cases.total,
        if cases.outside_period > 0 {
            format!(
                ", {} checked, {} outside the period",
                cases.checked, cases.outside_period
            )
        } else {
            String::new()
        }
    )];
    if let (Some(a), Some(b)) = (&s.first_event, &s.last_event) {
        out.push(format!("events from {a} to {b}"));
    }
    if s.rows_skipped > 0 {
        let reasons: Vec<String> = s
            .skipped_by_reason
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        out.push(format!(
            "skipped {} bad rows ({}), {} of the rows",
            s.rows_skipped,
            reasons.join(", "),
            audit::percent(s.skipped_rate())
        ));
        for e in s.errors.iter().take(5) {
            out.push(format!("  {path}:{e}"));
        }
        if s.errors.len() > 5 {
            out.push(format!(
                "  … (the first {} are in --json output; --strict fails on the first)",
                s.errors.len()
            ));
        }
    }
    if s.trimmed_total() > 0 {
        let by: Vec<String> = s.trimmed.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let example = s
            .trimmed_examples
            .first()
            .map(|t| format!("; e.g. line {}, {}: `{}`", t.line, t.field, t.raw))
            .unwrap_or_default();
        out.push(format!(
            "trimmed white space around {} values ({}){example}",
            s.trimmed_total(),
            by.join(", ")
        ));
    }
    if !s.unmapped_activities.is_empty() {
        let names: Vec<String> = s
            .unmapped_activities
            .iter()
            .take(10)
            .map(|(k, v)| format!("{k} ({v})"))
            .collect();
        out.push(format!("activities no rule mentions: {}", names.join(", ")));
    }
    if !s.attributes_never_seen.is_empty() {
        out.push(format!(
            "warning: attributes the rules read but no event carries: {} (conditions on them are never true; map columns with `log.attributes`)",
            s.attributes_never_seen.join(", ")
        ));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_violations_csv(path: &PathBuf, r: &WorkflowResult) -> Result<()> {
    let io = |source| CliError::Io {
        path: path.display().to_string(),
        source,
    };
    // Write beside, then rename: a failed run leaves no half-written file.
    let tmp = path.with_extension("csv.partial");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
    writeln!(f, "rule_id,clauses,severity,case_id,count,activity,time,line,target_activity,target_time,target_line").map_err(io)?;
    for x in &r.rules {
        for v in &x.violating_cases {
            let e = v.event.as_ref();
            let t = v.target.as_ref();
            let row = [
                x.id.clone(),
                x.clauses.join(" "),
                format!("{:?}", x.severity).to_lowercase(),
                v.case.clone(),
                v.count.to_string(),
                e.map(|e| e.activity.clone()).unwrap_or_default(),
                e.map(|e| e.time.clone()).unwrap_or_default(),
                e.map(|e| e.line.to_string()).unwrap_or_default(),
                t.map(|e| e.activity.clone()).unwrap_or_default(),
                t.map(|e| e.time.clone()).unwrap_or_default(),
                t.map(|e| e.line.to_string()).unwrap_or_default(),
            ];
            let line: Vec<String> = row.iter().map(|s| csv_field(s)).collect();
            writeln!(f, "{}", line.join(",")).map_err(io)?;
        }
    }
    f.flush().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

pub fn run_demo(args: DemoArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match args.command {
        DemoCommand::Log(a) => demo_log(a, out),
        DemoCommand::Platform(a) => demo_platform(a, out),
    }
}

fn demo_platform(args: DemoPlatformArgs, out: &mut dyn Write) -> Result<ExitCode> {
    use crate::platform::generate as pg;
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| CliError::Io {
            path: path.clone(),
            source,
        }
    };
    if args.out.exists()
        && std::fs::read_dir(&args.out)
            .map_err(io(&args.out))?
            .next()
            .is_some()
    {
        return Err(CliError::Usage(format!(
            "--out {}: the directory is not empty; choose a new one",
            args.out.display()
        )));
    }
    // Written into a sibling temporary directory, then renamed: an interrupted
    // run leaves no half-written export behind.
    let tmp = args.out.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let g = pg::generate(&pg::Settings {
        seed: args.seed,
        ..pg::Settings::default()
    });
    for (name, text) in &g.files {
        let p = tmp.join(name);
        std::fs::write(&p, text).map_err(io(&p))?;
    }
    let mut events = 0;
    if args.orders > 0 {
        let p = tmp.join("orders.csv");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).map_err(io(&p))?);
        let truth = generate::generate(
            &Settings::new(args.orders, args.seed),
            OutFormat::Csv,
            &mut f,
        )
        .map_err(io(&p))?;
        f.flush().map_err(io(&p))?;
        events = truth.events;
        let t = tmp.join("orders-truth.json");
        let text = serde_json::to_string_pretty(&truth)
            .map_err(|e| CliError::Usage(format!("cannot encode truth: {e}")))?;
        std::fs::write(&t, text).map_err(io(&t))?;
    }
    let f = tmp.join("faults.json");
    let text = serde_json::to_string_pretty(&g.faults)
        .map_err(|e| CliError::Usage(format!("cannot encode faults: {e}")))?;
    std::fs::write(&f, text).map_err(io(&f))?;
    if args.out.exists() {
        std::fs::remove_dir(&args.out).map_err(io(&args.out))?;
    }
    std::fs::rename(&tmp, &args.out).map_err(io(&args.out))?;
    if let Some(url) = &args.into {
        let rows = runtime()?
            .block_on(pg::load_into(url, &g))
            .map_err(CliError::Usage)?;
        writeln!(
            out,
            "wrote {rows} rows into {} (tables pf_*; mapping audits/sources/demo-platform.json)",
            crate::db::redact(url)
        )
        .map_err(write_err)?;
    }
    writeln!(
        out,
        "wrote a platform to {}: {} outlets, {} agencies, {} workers, {} complaints, {} orders ({} events); planted faults in faults.json",
        args.out.display(),
        pg::TOWNS.len(),
        pg::Settings::default().agencies,
        pg::Settings::default().workers,
        pg::Settings::default().complaints,
        args.orders,
        events
    )
    .map_err(write_err)?;
    Ok(ExitCode::SUCCESS)
}

fn demo_log(args: DemoLogArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let name = args.out.to_string_lossy().to_lowercase();
    let gz = name.ends_with(".gz");
    let format = match Format::from_path(&args.out) {
        Some(Format::Csv) => OutFormat::Csv,
        Some(Format::Jsonl) => OutFormat::Jsonl,
        Some(Format::Xes) => OutFormat::Xes,
        None => {
            return Err(CliError::Usage(format!(
                "--out `{}`: end the name in .csv, .jsonl or .xes (optionally .gz)",
                args.out.display()
            )));
        }
    };
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(CliError::Usage(
            "--fault-rate must be between 0 and 1".into(),
        ));
    }
    let io = |source| CliError::Io {
        path: args.out.display().to_string(),
        source,
    };
    let mut settings = Settings::new(args.orders, args.seed);
    settings.fault_rate = args.fault_rate;
    settings.days = args.days.max(1);
    let tmp = args.out.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let truth = if gz {
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let t = generate::generate(&settings, format, &mut enc).map_err(io)?;
        enc.finish().map_err(io)?;
        t
    } else {
        let mut file = file;
        generate::generate(&settings, format, &mut file).map_err(io)?
    };
    std::fs::rename(&tmp, &args.out).map_err(io)?;
    if let Some(p) = &args.truth {
        let text = serde_json::to_string_pretty(&truth)
            .map_err(|e| CliError::Usage(format!("cannot encode truth: {e}")))?;
        std::fs::write(p, text).map_err(|source| CliError::Io {
            path: p.display().to_string(),
            source,
        })?;
    }
    writeln!(
        out,
        "wrote {} orders, {} events to {} ({} with a deliberate violation, {} on a window edge)",
        truth.orders,
        truth.events,
        args.out.display(),
        truth.faults.values().sum::<u64>(),
        truth.edge_cases
    )
    .map_err(write_err)?;
    Ok(ExitCode::SUCCESS)
}
