//! A set of standards loaded from files: the unit `check`, `list` and `show` work on,
//! and the place for rules that need more than one document.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;

use super::code::Code;
use super::{Standard, Status, lint, parse};

/// Standards parsed from files, plus every diagnostic found while loading and linting.
#[derive(Debug, Default)]
pub struct Collection {
    pub standards: Vec<Standard>,
    pub diagnostics: Vec<Diagnostic>,
    /// Number of files read (parsed or not).
    pub files: usize,
}

/// The Markdown files under `path` (or `path` itself), sorted, skipping README files and
/// hidden directories.
pub fn find_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    find_files_by(path, |name| {
        name.ends_with(".md") && !name.eq_ignore_ascii_case("README.md")
    })
}

/// The files under `path` whose name `accept`s (or `path` itself when it is a file),
/// sorted, skipping hidden files and directories.
pub fn find_files_by(path: &Path, accept: impl Fn(&str) -> bool) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                dirs.push(p);
            } else if accept(&name) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Collection {
    /// Loads, parses and lints every standard under `paths`. `context` names further
    /// standards used only to resolve references (e.g. the library when checking one
    /// file); diagnostics are reported for `paths` only.
    pub fn load(paths: &[PathBuf], context: &[PathBuf]) -> std::io::Result<Collection> {
        let mut files = Vec::new();
        for p in paths {
            files.extend(find_files(p)?);
        }
        files.sort();
        files.dedup();
        let mut ctx_files = Vec::new();
        for p in context {
            if p.exists() {
                ctx_files.extend(
                    find_files(p)?
                        .into_iter()
                        .filter(|f| !files.iter().any(|g| same_file(f, g))),
                );
            }
        }
        let mut coll = Collection {
            files: files.len(),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let results = parallel_map(&files, |f| {
            parse_and_lint(parse::parse_file(f, &f.to_string_lossy()))
        });
        coll.absorb(results);
        tracing::debug!(
            files = files.len(),
            context = ctx_files.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "parsed and linted"
        );
        let context_standards: Vec<Standard> = parallel_map(&ctx_files, |f| {
            parse::parse_file(f, &f.to_string_lossy()).standard
        })
        .into_iter()
        .flatten()
        .collect();
        coll.diagnostics
            .extend(cross_lint(&coll.standards, &context_standards));
        coll.diagnostics.sort_by(|a, b| {
            (&a.file, a.line, a.col, a.code).cmp(&(&b.file, b.line, b.col, b.code))
        });
        Ok(coll)
    }

    /// Parses in-memory documents (tests, benchmarks, the web editor).
    pub fn from_sources(sources: &[(String, String)]) -> Collection {
        let mut coll = Collection {
            files: sources.len(),
            ..Default::default()
        };
        let results = parallel_map(sources, |(name, text)| {
            parse_and_lint(parse::parse_str(text, name))
        });
        coll.absorb(results);
        coll.diagnostics.extend(cross_lint(&coll.standards, &[]));
        coll
    }

    /// Finds a standard by code (any dash/spacing), by slug, or by undated family when
    /// exactly one edition matches.
    pub fn find(&self, query: &str) -> Option<&Standard> {
        if let Ok(code) = Code::parse(query) {
            if let Some(s) = self.standards.iter().find(|s| s.code == code) {
                return Some(s);
            }
            if code.year.is_none() {
                let mut editions: Vec<&Standard> = self
                    .standards
                    .iter()
                    .filter(|s| code.matches(&s.code))
                    .collect();
                editions.sort_by_key(|s| std::cmp::Reverse(s.code.year));
                // The current edition wins; else the newest.
                return editions
                    .iter()
                    .find(|s| s.meta.status == Status::Current)
                    .or(editions.first())
                    .copied();
            }
        }
        let q = query.trim().to_lowercase();
        self.standards.iter().find(|s| s.code.slug() == q)
    }

    fn absorb(&mut self, results: Vec<(Option<Standard>, Vec<Diagnostic>)>) {
        for (standard, diags) in results {
            self.diagnostics.extend(diags);
            self.standards.extend(standard);
        }
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

fn parse_and_lint(parsed: parse::Parsed) -> (Option<Standard>, Vec<Diagnostic>) {
    let mut diags = parsed.diagnostics;
    if let Some(s) = &parsed.standard {
        diags.extend(lint::lint(s));
    }
    (parsed.standard, diags)
}

/// Maps `f` over `items` on all cores, keeping the order. Files are independent until
/// the cross-document lint, so loading a large library scales with the core count.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Rules across documents: duplicate codes, `replaces`/`replaced_by` and normative
/// references that the library does not hold.
pub fn cross_lint(standards: &[Standard], context: &[Standard]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut by_code: HashMap<&Code, &Standard> = HashMap::new();
    for s in standards {
        if let Some(first) = by_code.insert(&s.code, s) {
            out.push(
                Diagnostic::error(
                    "duplicate-code",
                    &s.path,
                    s.meta_pos("code"),
                    format!("{} is also declared in {}", s.code, first.path),
                )
                .with_help(
                    "each edition lives in exactly one file; give the new edition its own year",
                ),
            );
        }
    }
    let known: Vec<&Code> = standards.iter().chain(context).map(|s| &s.code).collect();
    let holds = |c: &Code| known.iter().any(|k| c.matches(k) || k.matches(c));
    for s in standards {
        let m = &s.meta;
        let mut related: Vec<(&str, String)> = m
            .replaces
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), format!("replaces.{i}")))
            .collect();
        if let Some(r) = &m.replaced_by {
            related.push((r.as_str(), "replaced_by".into()));
        }
        for (r, key) in related {
            let pos = s.meta_pos(&key);
            match Code::parse(r) {
                Ok(c) if c == s.code => out.push(Diagnostic::warning("unknown-replaces", &s.path, pos, format!("{} names itself in `{key}`", s.code))),
                Ok(c) if !holds(&c) => out.push(
                    Diagnostic::warning("unknown-replaces", &s.path, pos, format!("`{key}` names {c}, which is not in the library"))
                        .with_help("add the edition to standards/ (a reference_only entry is enough) or fix the code"),
                ),
                Ok(_) => {}
                Err(e) => out.push(Diagnostic::warning("unknown-replaces", &s.path, pos, e.to_string())),
            }
        }
        if m.replaced_by.is_some() && m.status == Status::Current {
            out.push(
                Diagnostic::warning(
                    "status-mismatch",
                    &s.path,
                    s.meta_pos("status"),
                    "a standard with `replaced_by` cannot be current",
                )
                .with_help("set `status: superseded`"),
            );
        }
        for (i, r) in m.normative_references.iter().enumerate() {
            if let Ok(c) = Code::parse(r)
                && !holds(&c)
            {
                out.push(
                    Diagnostic::warning(
                        "unknown-reference",
                        &s.path,
                        s.meta_pos(&format!("normative_references.{i}")),
                        format!("normative reference {c} is not in the library"),
                    )
                    .with_help(
                        "add a metadata-only entry (reference_only: true) under standards/refs/",
                    ),
                );
            }
        }
    }
    out
}
