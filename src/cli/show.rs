//! `biaozhun show <CODE>[#CLAUSE]`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::standard::{Clause, ClauseKind, Provision, ProvisionType, Standard};

use super::{CliError, Result, write_err};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Standard code (`T/ZTAC 001.2—2023`, `T/ZTAC 001.2-2023`, slug `t-ztac-001.2-2023`),
    /// optionally with `#CLAUSE` (`#6.3`, `#A.1`, `#foreword`) or as a clause slug
    /// (`t-ztac-001.2-2023_6.3`).
    pub target: String,
    /// Standards directory (default: standards/, or $BIAOZHUN_STANDARDS).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print the full structured model as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show which word triggered each provision's type, and every verbal form found.
    #[arg(long)]
    pub explain: bool,
    /// Read from the library at a revision (commit, tag such as T-ZTAC-001.2-2023).
    #[arg(long, conflicts_with = "at")]
    pub rev: Option<String>,
    /// Read from the library as in force on a date (YYYY-MM-DD); an undated code
    /// (`Q/BZ 010`) picks the edition in force then.
    #[arg(long, value_name = "DATE")]
    pub at: Option<String>,
    /// Library directory for --rev/--at (default: data/library, or $BIAOZHUN_LIBRARY).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<ExitCode> {
    let (code, clause) = crate::standard::split_target(&args.target);
    if args.rev.is_some() || args.at.is_some() {
        let root = args
            .library
            .clone()
            .unwrap_or_else(super::library::default_library);
        let lib_err = |e: crate::library::LibraryError| CliError::Usage(e.to_string());
        let (lib, _) = crate::library::Library::open(&root).map_err(lib_err)?;
        let (s, rev) = match (&args.rev, &args.at) {
            (Some(r), _) => lib.read(code, r).map_err(lib_err)?,
            (None, Some(d)) => match crate::standard::Code::parse(code) {
                Ok(c) if c.year.is_none() => lib.in_force(code, d).map_err(lib_err)?,
                _ => lib.read(code, d).map_err(lib_err)?,
            },
            _ => unreachable!("guarded above"),
        };
        if !args.json {
            writeln!(
                out,
                "（库版本 {} · {} · {}）",
                rev.short_id, rev.date, rev.author
            )
            .map_err(write_err)?;
        }
        return render(&s, clause, args.json, args.explain, out);
    }
    let dir = args.dir.unwrap_or_else(super::default_dir);
    let coll = super::load(&dir)?;
    let Some(s) = coll.find(code) else {
        let suggestions: Vec<String> = coll
            .standards
            .iter()
            .filter(|s| {
                let q = code.to_lowercase();
                s.code.slug().contains(&crate::standard::code::slugify(&q))
                    || s.meta.title.contains(code)
            })
            .map(|s| s.code.to_string())
            .take(5)
            .collect();
        let hint = if suggestions.is_empty() {
            "run `biaozhun list` to see the codes".to_string()
        } else {
            format!("did you mean: {}?", suggestions.join(", "))
        };
        return Err(CliError::Usage(format!(
            "no standard `{code}` in {}; {hint}",
            dir.display()
        )));
    };
    render(s, clause, args.json, args.explain, out)
}

fn render(
    s: &Standard,
    clause: Option<&str>,
    json: bool,
    explain: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let args_json = json;
    match clause {
        Some(n) => {
            let Some(c) = s.clause(n) else {
                return Err(CliError::Usage(format!(
                    "{} has no clause `{n}`; clauses are numbered like 5, 5.1, A.1, or foreword/introduction/bibliography",
                    s.code
                )));
            };
            if args_json {
                super::print_json(out, &c)?;
            } else {
                write_clause(out, c, 0, explain).map_err(write_err)?;
            }
        }
        None => {
            if args_json {
                super::print_json(out, &s)?;
            } else {
                write_standard(out, s, explain).map_err(write_err)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_standard(out: &mut dyn Write, s: &Standard, explain: bool) -> std::io::Result<()> {
    let m = &s.meta;
    writeln!(out, "{}  {}", s.code, m.title)?;
    if let Some(en) = &m.title_en {
        writeln!(out, "{en}")?;
    }
    let mut facts = vec![m.kind.label().to_string(), m.status.label().to_string()];
    if let Some(p) = &m.published {
        facts.push(format!("发布 {p}"));
    }
    if let Some(e) = &m.effective {
        facts.push(format!("实施 {e}"));
    }
    if let Some(c) = &m.category {
        facts.push(format!("体系 {c}"));
    }
    writeln!(out, "{}", facts.join(" · "))?;
    if m.reference_only {
        writeln!(out, "（仅元数据：本库未收录正文）")?;
        return Ok(());
    }
    let counts = s.provision_counts();
    let parts: Vec<String> = ProvisionType::ALL
        .iter()
        .map(|t| format!("{} {}", t.label(), counts[*t as usize]))
        .collect();
    writeln!(out, "{} clauses · {}", s.clause_count(), parts.join(" · "))?;
    writeln!(out)?;
    for c in &s.clauses {
        write_clause(out, c, 0, explain)?;
    }
    Ok(())
}

fn write_clause(
    out: &mut dyn Write,
    c: &Clause,
    indent: usize,
    explain: bool,
) -> std::io::Result<()> {
    let pad = "  ".repeat(indent);
    let heading = match c.kind {
        ClauseKind::Annex => format!(
            "附录{}（{}）{}",
            c.number,
            if c.normative == Some(true) {
                "规范性"
            } else {
                "资料性"
            },
            c.title.as_deref().unwrap_or("")
        ),
        ClauseKind::Chapter | ClauseKind::Clause => match &c.title {
            Some(t) => format!("{} {t}", c.number),
            None => c.number.clone(),
        },
        _ => c.title.clone().unwrap_or_else(|| c.number.clone()),
    };
    writeln!(out, "{pad}{heading}")?;
    if let Some(t) = &c.term {
        writeln!(
            out,
            "{pad}  术语: {} {}",
            t.term,
            t.english.as_deref().unwrap_or("")
        )?;
    }
    for p in &c.provisions {
        write_provision(out, p, indent + 1, explain)?;
    }
    for child in &c.children {
        write_clause(out, child, indent + 1, explain)?;
    }
    Ok(())
}

fn write_provision(
    out: &mut dyn Write,
    p: &Provision,
    indent: usize,
    explain: bool,
) -> std::io::Result<()> {
    let pad = "  ".repeat(indent);
    let n = p.id.rsplit('/').next().unwrap_or("");
    let label = format!(
        "[{}{}]",
        p.kind.label(),
        if p.negative { "·否定" } else { "" }
    );
    writeln!(out, "{pad}{n:<4}{label} {}", p.text)?;
    if explain && p.kind != ProvisionType::Statement {
        let why = if p.inherited {
            format!("← 继承引导语的「{}」", p.trigger.as_deref().unwrap_or(""))
        } else {
            let forms: Vec<String> = p
                .forms
                .iter()
                .map(|f| {
                    format!(
                        "「{}」{}{}",
                        f.word,
                        f.kind.label(),
                        if f.discouraged {
                            "(不推荐用词)"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            format!(
                "← 「{}」; 全部助动词: {}",
                p.trigger.as_deref().unwrap_or(""),
                forms.join(", ")
            )
        };
        writeln!(out, "{pad}      {why}")?;
    }
    Ok(())
}
