//! `biaozhun monitor pull`: follow a table of the platform's database.
//! `biaozhun monitor replay`: send an order log to a server as live events.

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
    /// Send an order log (CSV / JSON Lines) to a running server as live events,
    /// moved to start now and released as time passes.
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The log (columns case_id, activity, timestamp and attributes).
    pub log: PathBuf,
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API token of an auditor or administrator (the account page makes one).
    #[arg(long, env = "BIAOZHUN_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Log seconds per real second (60: an hour of the log in a minute).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Keep the log's own times instead of moving its first event to now (run the
    /// server with `--monitor-clock events` then, or every deadline has long passed).
    #[arg(long)]
    pub keep_times: bool,
    /// Events per request.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    #[arg(long)]
    pub json: bool,
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
        MonitorCommand::Replay(a) => replay(a, out),
    }
}

fn replay(args: ReplayArgs, out: &mut dyn Write) -> Result<ExitCode> {
    use crate::monitor::feed;
    let name = args
        .log
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "log".into());
    let mut events = feed::read_log(&args.log, &name).map_err(CliError::Usage)?;
    let Some(first) = events.first().map(|e| e.at_us) else {
        writeln!(out, "{}: no events", args.log.display()).map_err(write_err)?;
        return Ok(ExitCode::SUCCESS);
    };
    let origin = feed::now_us();
    if !args.keep_times {
        feed::shift(&mut events, origin - first);
    }
    // Moved: the log's clock is ours. Kept: it starts at the first event and runs
    // at `speed` from now.
    let start = if args.keep_times { first } else { origin };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    let url = format!("{}/api/v1/events", args.url.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let failure: std::cell::RefCell<Option<String>> = Default::default();
    let totals = std::cell::Cell::new((0u64, 0u64));
    let sent = rt.block_on(feed::play(
        &events,
        start,
        origin,
        args.speed,
        args.batch,
        |batch| {
            let (client, url, token) = (client.clone(), url.clone(), args.token.clone());
            let failure = &failure;
            let totals = &totals;
            async move {
                let body = serde_json::json!({ "events": batch.iter().map(|e| {
                    let mut m: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(&e.attrs).unwrap_or_default();
                    m.insert("id".into(), e.id.clone().into());
                    m.insert("case_id".into(), e.case_id.clone().into());
                    m.insert("activity".into(), e.activity.clone().into());
                    m.insert("timestamp".into(), e.timestamp.clone().into());
                    serde_json::Value::Object(m)
                }).collect::<Vec<_>>() });
                loop {
                    let r = match client.post(&url).bearer_auth(&token).json(&body).send().await {
                        Ok(r) => r,
                        Err(e) => {
                            *failure.borrow_mut() = Some(format!("cannot reach {url}: {e}"));
                            return false;
                        }
                    };
                    let status = r.status();
                    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                        let wait = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(1);
                        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                        continue;
                    }
                    let v: serde_json::Value = r.json().await.unwrap_or_default();
                    if status.is_success() {
                        let (a, d) = totals.get();
                        totals.set((
                            a + v["accepted"].as_u64().unwrap_or(0),
                            d + v["duplicates"].as_u64().unwrap_or(0),
                        ));
                        return true;
                    }
                    let detail = v["errors"]
                        .as_array()
                        .map(|e| {
                            e.iter()
                                .take(5)
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .filter(|s| !s.is_empty())
                        .or_else(|| v["error"].as_str().map(String::from))
                        .unwrap_or_default();
                    *failure.borrow_mut() = Some(match status.as_u16() {
                        401 => "the server refused the token (401): make one on the account page of an auditor or administrator".into(),
                        403 => "the token's account may not push events (403): use an auditor or administrator".into(),
                        _ => format!("the server refused a batch ({status}): {detail}"),
                    });
                    return false;
                }
            }
        },
    ));
    let (accepted, duplicates) = totals.get();
    if let Some(f) = failure.into_inner() {
        return Err(CliError::Usage(format!(
            "{f} (after {sent} of {} events)",
            events.len()
        )));
    }
    if args.json {
        super::print_json(
            out,
            &serde_json::json!({ "sent": sent, "accepted": accepted, "duplicates": duplicates }),
        )?;
    } else {
        writeln!(
            out,
            "replayed {sent} events from {}: {accepted} new, {duplicates} already stored",
            args.log.display()
        )
        .map_err(write_err)?;
    }
    Ok(ExitCode::SUCCESS)
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
