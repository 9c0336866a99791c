//! `biaozhun search "<query>"` and `biaozhun index rebuild`.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::search::{SearchError, SearchIndex};
use crate::standard::Collection;

use super::{CliError, Result, write_err};

/// Where the index and its source live.
#[derive(Debug, Clone, clap::Args)]
pub struct IndexOpts {
    /// Index directory (default: data/index, or $BIAOZHUN_INDEX).
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Index the library at HEAD (default when data/library exists).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Index a directory of standard files instead of the library.
    #[arg(long, value_name = "DIR", conflicts_with = "library")]
    pub dir: Option<PathBuf>,
}

enum Source {
    Library(PathBuf),
    Dir(PathBuf),
}

impl IndexOpts {
    fn index_dir(&self) -> PathBuf {
        self.index
            .clone()
            .or_else(|| std::env::var_os("BIAOZHUN_INDEX").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("data/index"))
    }

    fn source(&self) -> Source {
        if let Some(d) = &self.dir {
            return Source::Dir(d.clone());
        }
        let lib = self
            .library
            .clone()
            .unwrap_or_else(super::library::default_library);
        if self.library.is_some() || lib.join(".git").exists() {
            Source::Library(lib)
        } else {
            Source::Dir(super::default_dir())
        }
    }
}

/// (revision identity, loader) of a source. The revision is cheap to compute; the
/// loader parses everything and is only called when the index is stale.
fn revision_of(source: &Source) -> Result<String> {
    match source {
        Source::Library(root) => {
            let repo = git2::Repository::open(root).map_err(|e| {
                CliError::Usage(format!(
                    "{} is not a standards library: {}",
                    root.display(),
                    e.message()
                ))
            })?;
            let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
                CliError::Usage(format!(
                    "library {} is unreadable: {}",
                    root.display(),
                    e.message()
                ))
            })?;
            Ok(format!("git:{}", head.id()))
        }
        Source::Dir(dir) => {
            if !dir.exists() {
                return Err(CliError::Usage(format!(
                    "standards directory `{}` does not exist",
                    dir.display()
                )));
            }
            // Path, size and mtime of every file: changes when any file does.
            let files =
                crate::standard::collection::find_files(dir).map_err(|source| CliError::Io {
                    path: dir.display().to_string(),
                    source,
                })?;
            let mut h = std::collections::hash_map::DefaultHasher::new();
            for f in files {
                f.hash(&mut h);
                if let Ok(m) = std::fs::metadata(&f) {
                    m.len().hash(&mut h);
                    m.modified().ok().hash(&mut h);
                }
            }
            Ok(format!("dir:{:x}", h.finish()))
        }
    }
}

fn load(source: &Source) -> Collection {
    match source {
        Source::Library(root) => {
            match crate::library::Library::open(root).and_then(|(l, _)| l.collection_at("HEAD")) {
                Ok((c, _)) => c,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the library for indexing");
                    Collection::default()
                }
            }
        }
        Source::Dir(d) => Collection::load(std::slice::from_ref(d), &[]).unwrap_or_default(),
    }
}

fn search_err(e: SearchError) -> CliError {
    CliError::Usage(e.to_string())
}

pub fn open_index(opts: &IndexOpts) -> Result<SearchIndex> {
    let source = opts.source();
    let revision = revision_of(&source)?;
    SearchIndex::open(&opts.index_dir(), &revision, || load(&source)).map_err(search_err)
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Words, "phrases", -exclusions and filters (std: kind: status: type: category: year: dept:).
    pub query: String,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub opts: IndexOpts,
}

pub fn run_search(args: SearchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let index = open_index(&args.opts)?;
    let results = index
        .search(&args.query, args.limit.clamp(1, 1000))
        .map_err(search_err)?;
    if args.json {
        super::print_json(out, &results)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{} 条结果（显示 {} 条）",
        results.total,
        results.hits.len()
    )
    .map_err(write_err)?;
    for (i, h) in results.hits.iter().enumerate() {
        writeln!(
            out,
            "\n{:>2}. {}  [{}]  {:.2}",
            i + 1,
            h.id,
            h.types.join(","),
            h.score
        )
        .map_err(write_err)?;
        writeln!(out, "    {}", h.breadcrumb).map_err(write_err)?;
        let mut s = String::new();
        let mut last = 0;
        for &(a, b) in &h.highlights {
            if a >= last
                && b <= h.snippet.len()
                && h.snippet.is_char_boundary(a)
                && h.snippet.is_char_boundary(b)
            {
                s.push_str(&h.snippet[last..a]);
                s.push('【');
                s.push_str(&h.snippet[a..b]);
                s.push('】');
                last = b;
            }
        }
        s.push_str(&h.snippet[last..]);
        writeln!(out, "    {}", s.replace('\n', " ")).map_err(write_err)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    #[command(subcommand)]
    pub command: IndexCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum IndexCommand {
    /// Rebuild the search index from scratch.
    Rebuild {
        #[command(flatten)]
        opts: IndexOpts,
    },
}

pub fn run_index(args: IndexArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match args.command {
        IndexCommand::Rebuild { opts } => {
            let source = opts.source();
            let revision = revision_of(&source)?;
            let coll = load(&source);
            let t = std::time::Instant::now();
            let index =
                SearchIndex::rebuild(&opts.index_dir(), &coll, &revision).map_err(search_err)?;
            writeln!(
                out,
                "indexed {} standards ({} documents) into {} in {:.1} s",
                coll.standards.len(),
                index.doc_count(),
                opts.index_dir().display(),
                t.elapsed().as_secs_f64()
            )
            .map_err(write_err)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// After a publish: bring an existing index up to date (no index → nothing to do).
pub fn refresh_after_publish(library: &Path) {
    let opts = IndexOpts {
        index: None,
        library: Some(library.to_path_buf()),
        dir: None,
    };
    if opts.index_dir().join("biaozhun-index.json").exists()
        && let Err(e) = open_index(&opts)
    {
        tracing::warn!(error = %e, "search index not refreshed after publish");
    }
}
