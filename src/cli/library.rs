//! `biaozhun library …`, `history`, `diff`, `changes`: the git-backed library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::library::diff::{self, ChangeKind, StandardDiff};
use crate::library::{Author, Library, LibraryError, PublishRequest, changes};
use crate::standard::{Collection, Standard};

use super::{CliError, Result, write_err};

/// Where the library lives unless `--library` says otherwise.
pub fn default_library() -> PathBuf {
    std::env::var_os("BIAOZHUN_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data/library"))
}

fn lib_err(e: LibraryError) -> CliError {
    match e {
        LibraryError::Invalid(diags) => {
            let mut msg = String::from("the standard does not pass `biaozhun check`:");
            for d in diags.iter().filter(|d| d.is_error()) {
                msg.push_str(&format!("\n  {d}"));
            }
            CliError::Usage(msg)
        }
        other => CliError::Usage(other.to_string()),
    }
}

fn open(path: &Option<PathBuf>) -> Result<Library> {
    let root = path.clone().unwrap_or_else(default_library);
    let (lib, recovery) = Library::open(&root).map_err(lib_err)?;
    if let Some(r) = recovery {
        eprintln!(
            "warning: an interrupted publication of {} by {} was rolled back ({})",
            r.code,
            r.author,
            r.paths.join(", ")
        );
    }
    Ok(lib)
}

#[derive(Debug, clap::Args)]
pub struct LibraryArgs {
    #[command(subcommand)]
    pub command: LibraryCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LibraryCommand {
    /// Create the library from a standards directory (the first commit).
    Init {
        /// Directory with the standards to import.
        #[arg(long, default_value = "standards")]
        from: PathBuf,
        /// Library directory (default: data/library, or $BIAOZHUN_LIBRARY).
        #[arg(long, value_name = "DIR")]
        library: Option<PathBuf>,
        /// Commit author, `Name <email>`.
        #[arg(long, default_value = "标准化办公室 <standards@biaozhun.local>")]
        author: String,
    },
    /// Check and publish one standard file as a new revision.
    Publish {
        file: PathBuf,
        /// The approver, `Name <email>`.
        #[arg(long)]
        author: String,
        /// What the publication is about (commit message).
        #[arg(long, short = 'm')]
        message: String,
        /// The submission it comes from.
        #[arg(long)]
        submission: Option<String>,
        #[arg(long, value_name = "DIR")]
        library: Option<PathBuf>,
    },
    /// All revisions of the library, newest first.
    Log {
        #[arg(long, value_name = "DIR")]
        library: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run_library(args: LibraryArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match args.command {
        LibraryCommand::Init {
            from,
            library,
            author,
        } => {
            let root = library.unwrap_or_else(default_library);
            if !from.is_dir() {
                return Err(CliError::Usage(format!(
                    "`{}` is not a directory of standards",
                    from.display()
                )));
            }
            let lib =
                Library::init(&root, &from, &Author::parse(&author), None).map_err(lib_err)?;
            let log = lib.log().map_err(lib_err)?;
            writeln!(
                out,
                "initialised library {} from {} ({})",
                root.display(),
                from.display(),
                log[0].short_id
            )
            .map_err(write_err)?;
        }
        LibraryCommand::Publish {
            file,
            author,
            message,
            submission,
            library,
        } => {
            let lib = open(&library)?;
            let bytes = std::fs::read(&file).map_err(|source| CliError::Io {
                path: file.display().to_string(),
                source,
            })?;
            let text = crate::standard::parse::decode(&bytes, &file.display().to_string())
                .map_err(|d| CliError::Usage(d.to_string()))?;
            let rev = lib
                .publish(&PublishRequest {
                    text,
                    author: Author::parse(&author),
                    message,
                    submission,
                    when: None,
                })
                .map_err(lib_err)?;
            writeln!(out, "published {} as {}", rev.summary, rev.short_id).map_err(write_err)?;
            super::search::refresh_after_publish(lib.root());
        }
        LibraryCommand::Log { library, json } => {
            let lib = open(&library)?;
            let log = lib.log().map_err(lib_err)?;
            if json {
                super::print_json(out, &log)?;
            } else {
                for r in log {
                    writeln!(
                        out,
                        "{}  {}  {}  {}",
                        r.date, r.short_id, r.author, r.summary
                    )
                    .map_err(write_err)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// `CODE` for the standard's revisions, `CODE#CLAUSE` for one clause's.
    pub target: String,
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run_history(args: HistoryArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let lib = open(&args.library)?;
    let (code, clause) = crate::standard::split_target(&args.target);
    match clause {
        None => {
            let h = lib.history(code).map_err(lib_err)?;
            if args.json {
                super::print_json(out, &h)?;
                return Ok(ExitCode::SUCCESS);
            }
            for e in &h {
                let status = match (&e.status_from, &e.status_to) {
                    (Some(a), Some(b)) => format!("{a}→{b}"),
                    (None, Some(b)) => b.clone(),
                    _ => "-".into(),
                };
                writeln!(
                    out,
                    "{}  {}  {}  {:<8}  {:<20}  {}",
                    e.revision.date,
                    e.revision.short_id,
                    e.revision.author,
                    e.change,
                    status,
                    e.revision.summary
                )
                .map_err(write_err)?;
                if let Some(n) = &e.note {
                    writeln!(out, "    note: {n}").map_err(write_err)?;
                }
            }
        }
        Some(n) => {
            let h = lib.clause_history(code, n).map_err(lib_err)?;
            if args.json {
                super::print_json(out, &h)?;
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(r) = &h.last_changed {
                writeln!(
                    out,
                    "{}  last changed {} by {} ({})",
                    h.clause_id, r.date, r.author, r.short_id
                )
                .map_err(write_err)?;
            }
            for r in &h.revisions {
                writeln!(
                    out,
                    "{}  {}  {}  {:<8}  {}",
                    r.revision.date,
                    r.revision.short_id,
                    r.revision.author,
                    r.change,
                    r.revision.summary
                )
                .map_err(write_err)?;
            }
            if !h.skipped.is_empty() {
                writeln!(
                    out,
                    "({} revision(s) skipped: the file did not parse there)",
                    h.skipped.len()
                )
                .map_err(write_err)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// `CODE [REV_A [REV_B]]` (revisions of one standard: commit, tag or date) or
    /// `CODE_A CODE_B` (two editions).
    #[arg(required = true, num_args = 1..=3)]
    pub args: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Compare editions from a directory of files instead of the library.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Shorthand for `--format json`.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
}

/// Resolves the two sides of a diff: (old, new, old label, new label).
fn sides(
    args: &[String],
    library: &Option<PathBuf>,
    dir: &Option<PathBuf>,
) -> Result<(Standard, Standard, String, String)> {
    if let Some(dir) = dir {
        let coll =
            Collection::load(std::slice::from_ref(dir), &[]).map_err(|source| CliError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        let [a, b] = args else {
            return Err(CliError::Usage(
                "with --dir, give two edition codes: CODE_A CODE_B".into(),
            ));
        };
        let find = |c: &str| {
            coll.find(c)
                .cloned()
                .ok_or_else(|| CliError::Usage(format!("no standard `{c}` in {}", dir.display())))
        };
        return Ok((find(a)?, find(b)?, a.clone(), b.clone()));
    }
    let lib = open(library)?;
    let code = &args[0];
    match args.len() {
        1 => {
            let h = lib.history(code).map_err(lib_err)?;
            if h.len() < 2 {
                return Err(CliError::Usage(format!(
                    "{code} has only one revision; nothing to compare (give REV_A, or a second edition)"
                )));
            }
            let (old, r1) = lib.read(code, &h[1].revision.id).map_err(lib_err)?;
            let (new, r2) = lib.read(code, &h[0].revision.id).map_err(lib_err)?;
            Ok((
                old,
                new,
                format!("{} ({})", r1.short_id, r1.date),
                format!("{} ({})", r2.short_id, r2.date),
            ))
        }
        _ => {
            let second = &args[1];
            let (head, _) = lib.collection_at("HEAD").map_err(lib_err)?;
            if crate::standard::Code::parse(second).is_ok() && head.find(second).is_some() {
                let (a, _) = lib.read(code, "HEAD").map_err(lib_err)?;
                let (b, _) = lib.read(second, "HEAD").map_err(lib_err)?;
                let (la, lb) = (a.code.to_string(), b.code.to_string());
                return Ok((a, b, la, lb));
            }
            let rev_b = args.get(2).map(String::as_str).unwrap_or("HEAD");
            let (old, r1) = lib.read(code, second).map_err(lib_err)?;
            let (new, r2) = lib.read(code, rev_b).map_err(lib_err)?;
            Ok((
                old,
                new,
                format!("{second} ({})", r1.short_id),
                format!("{rev_b} ({})", r2.short_id),
            ))
        }
    }
}

pub fn run_diff(args: DiffArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let (old, new, la, lb) = sides(&args.args, &args.library, &args.dir)?;
    let d = diff::diff(&old, &new, &la, &lb);
    let format = if args.json { Format::Json } else { args.format };
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&d).unwrap_or_default(),
        Format::Markdown => render_markdown(&d),
        Format::Text => render_text(&d, color),
    };
    writeln!(out, "{}", text.trim_end()).map_err(write_err)?;
    Ok(ExitCode::SUCCESS)
}

fn summary_line(d: &StandardDiff) -> String {
    format!(
        "{} 处变化：新增 {}，删除 {}，修改 {}，移动 {}",
        d.changes.len(),
        d.count(ChangeKind::Added),
        d.count(ChangeKind::Removed),
        d.count(ChangeKind::Modified) + d.count(ChangeKind::MovedModified),
        d.count(ChangeKind::Moved) + d.count(ChangeKind::MovedModified)
    )
}

fn numbers(c: &diff::ClauseChange) -> String {
    match (&c.old_number, &c.new_number) {
        (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
        (_, Some(b)) => b.clone(),
        (Some(a), None) => a.clone(),
        _ => String::new(),
    }
}

pub fn render_text(d: &StandardDiff, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut o = format!("{} → {}\n{}\n", d.old_label, d.new_label, summary_line(d));
    for m in &d.meta {
        o.push_str(&format!("  {}: {} → {}\n", m.field, m.old, m.new));
    }
    for c in &d.changes {
        let sign = match c.kind {
            ChangeKind::Added => paint("32", "+"),
            ChangeKind::Removed => paint("31", "-"),
            ChangeKind::Moved => paint("36", ">"),
            _ => paint("33", "~"),
        };
        o.push_str(&format!(
            "\n{sign} {} {} [{}{}]\n",
            numbers(c),
            c.title.as_deref().unwrap_or(""),
            c.kind.label(),
            if c.editorial && c.kind != ChangeKind::Moved {
                "，编辑性"
            } else {
                ""
            }
        ));
        if !c.inline.is_empty() {
            let mut line = String::from("    ");
            for s in &c.inline {
                match s.op {
                    "insert" => line.push_str(&if color {
                        paint("32;1", &s.text)
                    } else {
                        format!("{{+{}+}}", s.text)
                    }),
                    "delete" => line.push_str(&if color {
                        paint("31;9", &s.text)
                    } else {
                        format!("[-{}-]", s.text)
                    }),
                    _ => line.push_str(&s.text),
                }
            }
            o.push_str(&line.replace('\n', "\n    "));
            o.push('\n');
        } else if let Some(t) = c
            .new_text
            .as_ref()
            .or(c.old_text.as_ref())
            .filter(|_| matches!(c.kind, ChangeKind::Added | ChangeKind::Removed))
        {
            for l in t.lines() {
                o.push_str(&format!("    {l}\n"));
            }
        }
        for p in &c.provisions {
            let types = match (p.old_type, p.new_type) {
                (Some(a), Some(b)) => format!("{} → {}", a.label(), b.label()),
                (None, Some(b)) => b.label().to_string(),
                (Some(a), None) => a.label().to_string(),
                _ => String::new(),
            };
            let text = p
                .new_text
                .as_ref()
                .or(p.old_text.as_ref())
                .cloned()
                .unwrap_or_default();
            let label = paint("1", p.kind.label());
            o.push_str(&format!("    ▲ {label}（{types}）：{text}\n"));
        }
    }
    o
}

pub fn render_markdown(d: &StandardDiff) -> String {
    let mut o = format!(
        "# 条款级差异：{} → {}\n\n{}\n\n",
        d.old_label,
        d.new_label,
        summary_line(d)
    );
    if !d.meta.is_empty() {
        o.push_str("| 元数据 | 原 | 新 |\n|---|---|---|\n");
        for m in &d.meta {
            o.push_str(&format!("| {} | {} | {} |\n", m.field, m.old, m.new));
        }
        o.push('\n');
    }
    o.push_str("| 变化 | 条款 | 标题 | 条款类型变化 |\n|---|---|---|---|\n");
    for c in &d.changes {
        let kinds: Vec<&str> = c.provisions.iter().map(|p| p.kind.label()).collect();
        o.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.kind.label(),
            numbers(c),
            c.title.as_deref().unwrap_or(""),
            kinds.join("、")
        ));
    }
    for c in d.changes.iter().filter(|c| !c.inline.is_empty()) {
        o.push_str(&format!(
            "\n## {} {}（{}）\n\n",
            numbers(c),
            c.title.as_deref().unwrap_or(""),
            c.kind.label()
        ));
        for s in &c.inline {
            match s.op {
                "insert" => o.push_str(&format!("**{}**", s.text)),
                "delete" => o.push_str(&format!("~~{}~~", s.text)),
                _ => o.push_str(&s.text),
            }
        }
        o.push('\n');
    }
    o
}

#[derive(Debug, clap::Args)]
pub struct ChangesArgs {
    /// The new edition; the old one is taken from its `replaces`.
    pub code: String,
    /// The edition it replaces, when `replaces` does not say.
    #[arg(long)]
    pub old: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Read the editions from a directory of files instead of the library.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run_changes(args: ChangesArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let coll = match &args.dir {
        Some(dir) => {
            Collection::load(std::slice::from_ref(dir), &[]).map_err(|source| CliError::Io {
                path: dir.display().to_string(),
                source,
            })?
        }
        None => {
            open(&args.library)?
                .collection_at("HEAD")
                .map_err(lib_err)?
                .0
        }
    };
    let new = coll
        .find(&args.code)
        .ok_or_else(|| CliError::Usage(format!("no standard `{}`", args.code)))?;
    let old_code = args
        .old
        .clone()
        .or_else(|| new.meta.replaces.first().cloned())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{} replaces nothing; name the old edition with --old CODE",
                new.code
            ))
        })?;
    let old = coll.find(&old_code).ok_or_else(|| {
        CliError::Usage(format!(
            "the replaced edition `{old_code}` is not in the library"
        ))
    })?;
    let d = diff::diff(old, new, &old.code.to_string(), &new.code.to_string());
    let summary = changes::summarize(old, &d);
    if args.json {
        super::print_json(out, &summary)?;
    } else {
        writeln!(out, "{}", summary.text).map_err(write_err)?;
        if !summary.editorial.is_empty() {
            writeln!(out, "\n结构调整和编辑性改动（供起草人核对，不列入前言）：")
                .map_err(write_err)?;
            for e in &summary.editorial {
                writeln!(out, "  - {e}").map_err(write_err)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
