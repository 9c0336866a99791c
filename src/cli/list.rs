//! `biaozhun list`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::standard::ProvisionType;

use super::table::{render, truncate};
use super::{Result, write_err};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Standards directory (default: standards/, or $BIAOZHUN_STANDARDS).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(super::default_dir);
    let coll = super::load(&dir)?;
    let mut standards: Vec<_> = coll.standards.iter().collect();
    standards.sort_by(|a, b| (a.meta.kind, &a.code).cmp(&(b.meta.kind, &b.code)));
    if args.json {
        let rows: Vec<_> = standards
            .iter()
            .map(|s| {
                let counts = s.provision_counts();
                let by_type: serde_json::Map<String, serde_json::Value> = ProvisionType::ALL
                    .iter()
                    .map(|t| (t.as_str().to_string(), json!(counts[*t as usize])))
                    .collect();
                json!({
                    "code": s.code.to_string(),
                    "slug": s.code.slug(),
                    "title": s.meta.title,
                    "kind": s.meta.kind,
                    "status": s.meta.status,
                    "published": s.meta.published,
                    "effective": s.meta.effective,
                    "reference_only": s.meta.reference_only,
                    "clauses": s.clause_count(),
                    "provisions": by_type,
                    "path": s.path,
                })
            })
            .collect();
        super::print_json(out, &rows)?;
    } else {
        let header = [
            "代号", "名称", "类别", "状态", "发布", "实施", "条款", "要求", "推荐", "允许", "能力",
            "可能", "陈述",
        ];
        let rows: Vec<Vec<String>> = standards
            .iter()
            .map(|s| {
                let c = s.provision_counts();
                let dash = |v: usize| {
                    if s.meta.reference_only {
                        "-".to_string()
                    } else {
                        v.to_string()
                    }
                };
                vec![
                    s.code.to_string(),
                    truncate(&s.meta.title, 34),
                    s.meta.kind.label().to_string(),
                    s.meta.status.label().to_string(),
                    s.meta.published.clone().unwrap_or_else(|| "-".into()),
                    s.meta.effective.clone().unwrap_or_else(|| "-".into()),
                    dash(s.clause_count()),
                    dash(c[0]),
                    dash(c[1]),
                    dash(c[2]),
                    dash(c[3]),
                    dash(c[4]),
                    dash(c[5]),
                ]
            })
            .collect();
        let right = [
            false, false, false, false, false, false, true, true, true, true, true, true, true,
        ];
        write!(out, "{}", render(&header, &rows, &right)).map_err(write_err)?;
        let full = standards.iter().filter(|s| !s.meta.reference_only).count();
        writeln!(
            out,
            "\n{} standards ({} with text, {} metadata-only)",
            standards.len(),
            full,
            standards.len() - full
        )
        .map_err(write_err)?;
    }
    if coll.error_count() > 0 {
        eprintln!(
            "warning: {} error(s) while loading {}; some standards may be missing — run `biaozhun check {}`",
            coll.error_count(),
            dir.display(),
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
