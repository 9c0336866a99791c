//! The git-backed store: import, publish (locked, journaled), read at a revision,
//! history of a standard and of one clause.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::{
    ObjectType, Oid, Repository, Signature, Sort, Time, Tree, TreeWalkMode, TreeWalkResult,
};
use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::standard::code::Code;
use crate::standard::collection::{Collection, cross_lint, find_files};
use crate::standard::{Standard, Status, lint, parse};

use super::tag_name;

const JOURNAL: &str = "biaozhun-publish.journal";
const LOCK: &str = "biaozhun-publish.lock";

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("{path} is not a standards library: {reason}")]
    NotALibrary { path: String, reason: String },
    #[error("{0} already holds a library; use it, or choose another --library directory")]
    AlreadyExists(String),
    #[error("no standard `{query}` in the library{}", suggest(.suggestions))]
    UnknownStandard {
        query: String,
        suggestions: Vec<String>,
    },
    #[error("{code} has no clause `{clause}`{}", suggest(.suggestions))]
    UnknownClause {
        code: String,
        clause: String,
        suggestions: Vec<String>,
    },
    #[error("unknown revision `{rev}`{}", suggest(.suggestions))]
    UnknownRevision {
        rev: String,
        suggestions: Vec<String>,
    },
    #[error("{code} did not exist at {rev}")]
    NotAtRevision { code: String, rev: String },
    #[error("the standard does not pass check ({} error(s)); first: {}", .0.iter().filter(|d| d.is_error()).count(), .0.iter().find(|d| d.is_error()).map(|d| d.to_string()).unwrap_or_default())]
    Invalid(Vec<Diagnostic>),
    #[error("{path} is taken by {other}; cannot store {code} there")]
    PathTaken {
        path: String,
        code: String,
        other: String,
    },
    #[error("the library repository is damaged or unreadable: {0}")]
    Git(#[from] git2::Error),
    #[error("cannot write the library: {0}")]
    Io(#[from] std::io::Error),
}

fn suggest(list: &[String]) -> String {
    if list.is_empty() {
        String::new()
    } else {
        format!("; did you mean: {}?", list.join(", "))
    }
}

pub type Result<T> = std::result::Result<T, LibraryError>;

/// The person a commit is attributed to (the approver of a publication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl Author {
    pub fn new(name: &str, email: &str) -> Self {
        Author {
            name: name.to_string(),
            email: email.to_string(),
        }
    }

    /// Parses `Name <email>`; a bare name gets a local placeholder address.
    pub fn parse(s: &str) -> Author {
        match (s.find('<'), s.rfind('>')) {
            (Some(a), Some(b)) if a < b => Author::new(s[..a].trim(), s[a + 1..b].trim()),
            _ => Author::new(s.trim(), "unknown@biaozhun.local"),
        }
    }

    fn signature(&self, when: Option<i64>) -> Result<Signature<'static>> {
        Ok(match when {
            Some(t) => Signature::new(&self.name, &self.email, &Time::new(t, 480))?,
            None => Signature::now(&self.name, &self.email)?,
        })
    }
}

/// One commit of the library.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    pub id: String,
    pub short_id: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// `2024-05-01 10:00:00 +08:00`
    pub date: String,
    pub author: String,
    pub email: String,
    pub summary: String,
    pub message: String,
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The full Markdown file (front matter + body).
    pub text: String,
    pub author: Author,
    pub message: String,
    /// The submission this publication comes from, named in the commit
    /// (`Submission: …`). A request naming a submission is published at most once:
    /// when a commit already holds this submission's text, publishing returns that
    /// commit instead of making another.
    pub submission: Option<String>,
    /// Commit time (seconds since the epoch); `None` = now. Tests use it for dates.
    pub when: Option<i64>,
}

/// A revision in which a standard's file changed.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub revision: Revision,
    /// `added`, `modified` or `deleted`
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_to: Option<String>,
    /// Set when the file at this revision does not parse (a foreign commit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A revision in which one clause's text changed.
#[derive(Debug, Clone, Serialize)]
pub struct ClauseRevision {
    pub revision: Revision,
    /// `added`, `modified` or `removed`
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClauseHistory {
    pub clause_id: String,
    /// Newest first.
    pub revisions: Vec<ClauseRevision>,
    /// Blame: the revision that last changed the clause's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed: Option<Revision>,
    /// Revisions skipped because the file did not parse there.
    pub skipped: Vec<String>,
}

/// What recovery did with an interrupted publication.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recovery {
    pub code: String,
    pub author: String,
    pub paths: Vec<String>,
    pub action: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    code: String,
    author: String,
    /// (path, blob at HEAD before the publication, if any)
    files: Vec<(String, Option<String>)>,
}

/// A handle on the library repository. Cheap to share between threads: every operation
/// opens the repository itself (git2 handles are not `Sync`).
pub struct Library {
    root: PathBuf,
    publish_lock: Mutex<()>,
}

impl Library {
    /// Creates a library at `root` from the standards under `from` as the first commit,
    /// tagging every current edition.
    pub fn init(root: &Path, from: &Path, author: &Author, when: Option<i64>) -> Result<Library> {
        if root.join(".git").exists() {
            return Err(LibraryError::AlreadyExists(root.display().to_string()));
        }
        let coll = Collection::load(&[from.to_path_buf()], &[])?;
        if coll.error_count() > 0 {
            return Err(LibraryError::Invalid(coll.diagnostics));
        }
        fs::create_dir_all(root)?;
        let repo = Repository::init(root)?;
        let mut files = Vec::new();
        for f in find_files(from)? {
            let rel = f.strip_prefix(from).unwrap_or(&f).to_path_buf();
            let dest = root.join(&rel);
            if let Some(dir) = dest.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::copy(&f, &dest)?;
            files.push(rel);
        }
        let mut index = repo.index()?;
        for rel in &files {
            index.add_path(rel)?;
        }
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        let sig = author.signature(when)?;
        let message = format!(
            "Import {} standards from {}\n\nInitial import of the library: {} editions.",
            coll.standards.len(),
            from.display(),
            coll.standards.len()
        );
        let commit = repo.commit(Some("HEAD"), &sig, &sig, &message, &tree, &[])?;
        let obj = repo.find_object(commit, Some(ObjectType::Commit))?;
        for s in coll
            .standards
            .iter()
            .filter(|s| s.meta.status == Status::Current && !s.meta.reference_only)
        {
            let name = tag_name(&s.code);
            if repo.find_reference(&format!("refs/tags/{name}")).is_err() {
                repo.tag(
                    &name,
                    &obj,
                    &sig,
                    &format!("{} {}", s.code, s.meta.title),
                    false,
                )?;
            }
        }
        tracing::info!(root = %root.display(), standards = coll.standards.len(), "library initialised");
        Ok(Library {
            root: root.to_path_buf(),
            publish_lock: Mutex::new(()),
        })
    }

    /// Opens an existing library, finishing or rolling back an interrupted publication.
    pub fn open(root: &Path) -> Result<(Library, Option<Recovery>)> {
        let repo = Repository::open(root).map_err(|e| LibraryError::NotALibrary {
            path: root.display().to_string(),
            reason: format!(
                "{} (create one with `biaozhun library init --from standards/`)",
                e.message()
            ),
        })?;
        if repo.is_bare() {
            return Err(LibraryError::NotALibrary {
                path: root.display().to_string(),
                reason: "it is a bare repository; the library needs a work tree".into(),
            });
        }
        let head = repo.head().map_err(|e| LibraryError::NotALibrary {
            path: root.display().to_string(),
            reason: format!("it has no commits ({})", e.message()),
        })?;
        // The HEAD commit and its tree must be readable: refs pointing at missing objects
        // mean a damaged repository, reported now rather than on first use.
        head.peel_to_commit().and_then(|c| c.tree())?;
        let lib = Library {
            root: root.to_path_buf(),
            publish_lock: Mutex::new(()),
        };
        let recovery = lib.recover(&repo)?;
        Ok((lib, recovery))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The commit id at HEAD: cheap enough to poll, so readers can notice a publish.
    pub fn head_id(&self) -> Result<String> {
        let repo = self.repo()?;
        let id = repo.head()?.peel_to_commit()?.id().to_string();
        Ok(id)
    }

    fn repo(&self) -> Result<Repository> {
        Ok(Repository::open(&self.root)?)
    }

    fn git_dir(&self, repo: &Repository) -> PathBuf {
        repo.path().to_path_buf()
    }

    /// Rolls back files written by a publication that never committed.
    fn recover(&self, repo: &Repository) -> Result<Option<Recovery>> {
        let journal_path = self.git_dir(repo).join(JOURNAL);
        let Ok(bytes) = fs::read(&journal_path) else {
            return Ok(None);
        };
        let journal: Journal = match serde_json::from_slice(&bytes) {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable publish journal removed");
                fs::remove_file(&journal_path)?;
                return Ok(None);
            }
        };
        let head_tree = repo.head()?.peel_to_tree()?;
        let mut paths = Vec::new();
        for (path, before) in &journal.files {
            let full = self.root.join(path);
            match before {
                Some(_) => {
                    // Restore the committed content (HEAD is still the commit before).
                    let entry = head_tree.get_path(Path::new(path))?;
                    let blob = repo.find_blob(entry.id())?;
                    fs::write(&full, blob.content())?;
                }
                None => {
                    if full.exists() {
                        fs::remove_file(&full)?;
                    }
                }
            }
            paths.push(path.clone());
        }
        // Reset the index to HEAD so a half-staged change cannot leak into the next commit.
        let mut index = repo.index()?;
        index.read_tree(&head_tree)?;
        index.write()?;
        fs::remove_file(&journal_path)?;
        let rec = Recovery {
            code: journal.code,
            author: journal.author,
            paths,
            action: "rolled back: the publication had not been committed".into(),
        };
        tracing::warn!(code = %rec.code, author = %rec.author, paths = ?rec.paths, "interrupted publication rolled back");
        Ok(Some(rec))
    }

    /// Every standard at a revision (`HEAD`, a commit, a tag, or a date `YYYY-MM-DD`).
    pub fn collection_at(&self, rev: &str) -> Result<(Collection, Revision)> {
        let repo = self.repo()?;
        let commit = resolve(&repo, rev)?;
        let tree = commit.tree()?;
        let mut sources = Vec::new();
        for (path, oid) in md_blobs(&tree)? {
            let blob = repo.find_blob(oid)?;
            let text = match parse::decode(blob.content(), &path) {
                Ok(t) => t,
                Err(_) => continue,
            };
            sources.push((path, text));
        }
        Ok((Collection::from_sources(&sources), revision(&commit)))
    }

    /// One standard at a revision.
    pub fn read(&self, code: &str, rev: &str) -> Result<(Standard, Revision)> {
        let (coll, r) = self.collection_at(rev)?;
        match coll.find(code) {
            Some(s) => Ok((s.clone(), r)),
            None => {
                let (head, _) = self.collection_at("HEAD")?;
                if head.find(code).is_some() {
                    return Err(LibraryError::NotAtRevision {
                        code: code.to_string(),
                        rev: rev.to_string(),
                    });
                }
                Err(unknown_standard(code, &head))
            }
        }
    }

    /// The edition of a standard family in force on `date` (`YYYY-MM-DD`): the library as
    /// of that day, the current edition whose effective date is not after it.
    pub fn in_force(&self, family: &str, date: &str) -> Result<(Standard, Revision)> {
        let (coll, r) = self.collection_at(date)?;
        let q = Code::parse(family).map_err(|_| unknown_standard(family, &coll))?;
        let mut editions: Vec<&Standard> = coll
            .standards
            .iter()
            .filter(|s| q.matches(&s.code) && s.meta.effective.as_deref().is_none_or(|e| e <= date))
            .filter(|s| matches!(s.meta.status, Status::Current | Status::Superseded))
            .collect();
        editions.sort_by(|a, b| {
            (b.meta.status == Status::Current, b.code.year)
                .cmp(&(a.meta.status == Status::Current, a.code.year))
        });
        editions
            .first()
            .map(|s| ((*s).clone(), r))
            .ok_or_else(|| LibraryError::NotAtRevision {
                code: family.to_string(),
                rev: date.to_string(),
            })
    }

    /// Validates and commits a standard; tags it when the edition is new.
    pub fn publish(&self, req: &PublishRequest) -> Result<Revision> {
        self.publish_inner(req, false)
    }

    /// Test hook: does everything up to writing the files, then stops as a crash would.
    #[doc(hidden)]
    pub fn publish_and_crash_before_commit(&self, req: &PublishRequest) -> Result<()> {
        self.publish_inner(req, true).map(|_| ())
    }

    fn publish_inner(&self, req: &PublishRequest, crash: bool) -> Result<Revision> {
        // In-process first (threads), then a lock file (other processes).
        let _guard = self.publish_lock.lock().unwrap_or_else(|e| e.into_inner());
        let repo = self.repo()?;
        let lock_file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.git_dir(&repo).join(LOCK))?;
        lock_file.lock()?;
        self.recover(&repo)?;

        let head = repo.head()?.peel_to_commit()?;
        let head_tree = head.tree()?;
        let (library, _) = self.collection_at("HEAD")?;

        let parsed = parse::parse_str(&req.text, "publication.md");
        let Some(standard) = parsed.standard else {
            return Err(LibraryError::Invalid(parsed.diagnostics));
        };
        let existing = library.standards.iter().find(|s| s.code == standard.code);
        let path = target_path(&library, &standard)?;
        // Idempotent per submission: a retry, a second concurrent call or a restart
        // after a crash between this commit and the caller's bookkeeping gets the
        // commit that already holds this submission's text, not a second one.
        let text = normalize_text(&req.text);
        if let Some(key) = &req.submission
            && let Some(done) = published_before(&repo, key, &path, &text)?
        {
            tracing::info!(code = %standard.code, commit = %done.id, submission = %key, "already published");
            return Ok(done);
        }
        check_publication(&standard, parsed.diagnostics, &library)?;
        let status_from = existing.map(|s| s.meta.status.as_str().to_string());
        let new_edition = existing.is_none();

        // The editions this one replaces become superseded, pointing at it.
        let mut writes: Vec<(String, String)> = vec![(path.clone(), text)];
        let mut superseded = Vec::new();
        for r in &standard.meta.replaces {
            let Ok(rc) = Code::parse(r) else { continue };
            if let Some(old) = library
                .standards
                .iter()
                .find(|s| s.code == rc && s.meta.status == Status::Current)
            {
                let blob = head_tree.get_path(Path::new(&old.path))?.id();
                let text = String::from_utf8_lossy(repo.find_blob(blob)?.content()).to_string();
                writes.push((old.path.clone(), supersede(&text, &standard.code)));
                superseded.push(old.code.to_string());
            }
        }

        let journal = Journal {
            code: standard.code.to_string(),
            author: format!("{} <{}>", req.author.name, req.author.email),
            files: writes
                .iter()
                .map(|(p, _)| {
                    (
                        p.clone(),
                        head_tree
                            .get_path(Path::new(p))
                            .ok()
                            .map(|e| e.id().to_string()),
                    )
                })
                .collect(),
        };
        let journal_path = self.git_dir(&repo).join(JOURNAL);
        write_atomic(
            &journal_path,
            serde_json::to_string(&journal)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        for (p, text) in &writes {
            let full = self.root.join(p);
            if let Some(dir) = full.parent() {
                fs::create_dir_all(dir)?;
            }
            write_atomic(&full, text.as_bytes())?;
        }
        if crash {
            return Err(LibraryError::Io(std::io::Error::other(
                "simulated crash before commit",
            )));
        }

        let mut index = repo.index()?;
        for (p, _) in &writes {
            index.add_path(Path::new(p))?;
        }
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        let sig = req.author.signature(req.when)?;
        let message = commit_message(req, &standard, status_from.as_deref(), &superseded);
        let oid = repo.commit(Some("HEAD"), &sig, &sig, &message, &tree, &[&head])?;
        let commit = repo.find_commit(oid)?;
        if new_edition && standard.meta.status == Status::Current {
            let name = tag_name(&standard.code);
            if repo.find_reference(&format!("refs/tags/{name}")).is_err() {
                repo.tag(
                    &name,
                    commit.as_object(),
                    &sig,
                    &format!("{} {}", standard.code, standard.meta.title),
                    false,
                )?;
            }
        }
        fs::remove_file(&journal_path)?;
        tracing::info!(code = %standard.code, commit = %oid, author = %req.author.name, "published");
        Ok(revision(&commit))
    }

    /// The revisions in which a standard's file changed, newest first.
    pub fn history(&self, code: &str) -> Result<Vec<HistoryEntry>> {
        let repo = self.repo()?;
        let path = self.path_of(&repo, code)?;
        let mut out = Vec::new();
        // Status needs only the front matter; each blob is read once.
        let mut cache: HashMap<Oid, (Option<String>, Option<String>)> = HashMap::new();
        let mut status = |oid: Option<Oid>| -> (Option<String>, Option<String>) {
            let Some(oid) = oid else { return (None, None) };
            cache
                .entry(oid)
                .or_insert_with(|| {
                    let Ok(b) = repo.find_blob(oid) else {
                        return (None, Some("blob missing".into()));
                    };
                    let text = String::from_utf8_lossy(b.content());
                    match parse::parse_front_matter(&text, &path) {
                        Ok(fm) => (Some(fm.status.as_str().to_string()), None),
                        Err(d) => (
                            None,
                            Some(format!(
                                "the file does not parse at this revision: {}",
                                d[0].message
                            )),
                        ),
                    }
                })
                .clone()
        };
        for (commit, blob, parent_blob) in file_revisions(&repo, &path)? {
            let (to, note) = status(blob);
            let (from, _) = status(parent_blob);
            out.push(HistoryEntry {
                revision: revision(&commit),
                change: match (parent_blob, blob) {
                    (None, Some(_)) => "added",
                    (Some(_), None) => "deleted",
                    _ => "modified",
                },
                status_from: from.clone().filter(|f| Some(f) != to.as_ref()),
                status_to: to.filter(|t| Some(t) != from.as_ref()),
                note,
            });
        }
        Ok(out)
    }

    /// The revisions in which one clause's own text changed, newest first, with blame.
    pub fn clause_history(&self, code: &str, clause: &str) -> Result<ClauseHistory> {
        let repo = self.repo()?;
        let path = self.path_of(&repo, code)?;
        let mut revs = file_revisions(&repo, &path)?;
        revs.reverse(); // oldest first
        let mut cache: HashMap<Oid, Option<Standard>> = HashMap::new();
        let mut previous: Option<(Option<String>, String)> = None;
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        let mut clause_id = None;
        let mut ever = false;
        for (commit, blob, _) in revs {
            let current = match blob {
                None => None,
                Some(oid) => {
                    let s = cache.entry(oid).or_insert_with(|| {
                        repo.find_blob(oid).ok().and_then(|b| {
                            parse::parse_structure(&String::from_utf8_lossy(b.content()), &path)
                                .standard
                        })
                    });
                    match s {
                        None => {
                            skipped.push(commit.id().to_string());
                            continue;
                        }
                        Some(s) => s.clause(clause).map(|c| {
                            clause_id.get_or_insert_with(|| c.id.clone());
                            (c.title.clone(), c.own_text())
                        }),
                    }
                }
            };
            let change = match (&previous, &current) {
                (None, Some(_)) => Some("added"),
                (Some(_), None) => Some("removed"),
                (Some(a), Some(b)) if a != b => Some("modified"),
                _ => None,
            };
            if let Some(change) = change {
                ever = true;
                out.push(ClauseRevision {
                    revision: revision(&commit),
                    change,
                    title: current.as_ref().and_then(|c| c.0.clone()),
                    text: current.as_ref().map(|c| c.1.clone()),
                });
            }
            previous = current;
        }
        if !ever {
            let (head, _) = self.collection_at("HEAD")?;
            let s = head
                .find(code)
                .ok_or_else(|| unknown_standard(code, &head))?;
            let suggestions = s
                .all_clauses()
                .iter()
                .map(|c| c.number.clone())
                .filter(|n| n.starts_with(clause.split('.').next().unwrap_or("")))
                .take(8)
                .collect();
            return Err(LibraryError::UnknownClause {
                code: s.code.to_string(),
                clause: clause.to_string(),
                suggestions,
            });
        }
        out.reverse();
        Ok(ClauseHistory {
            clause_id: clause_id.unwrap_or_else(|| format!("{code}#{clause}")),
            last_changed: out.first().map(|r| r.revision.clone()),
            revisions: out,
            skipped,
        })
    }

    /// All commits, newest first.
    pub fn log(&self) -> Result<Vec<Revision>> {
        let repo = self.repo()?;
        let mut walk = repo.revwalk()?;
        walk.push_head()?;
        walk.set_sorting(Sort::TIME | Sort::TOPOLOGICAL)?;
        walk.map(|oid| Ok(revision(&repo.find_commit(oid?)?)))
            .collect()
    }

    /// Path of a standard's file at HEAD: by its parsed code, or, when the file does not
    /// parse at HEAD (a foreign edit), by the `code:` line of its front matter.
    fn path_of(&self, repo: &Repository, code: &str) -> Result<String> {
        // A dated code is found by reading `code:` lines only (cheap, and it works when
        // the file does not parse); an undated family needs the parsed library to pick
        // the current edition.
        if let Ok(wanted) = Code::parse(code)
            .map_err(|_| ())
            .and_then(|c| if c.year.is_some() { Ok(c) } else { Err(()) })
        {
            let tree = repo.head()?.peel_to_tree()?;
            for (path, oid) in md_blobs(&tree)? {
                let blob = repo.find_blob(oid)?;
                if quick_code(&String::from_utf8_lossy(blob.content())).is_some_and(|c| c == wanted)
                {
                    return Ok(path);
                }
            }
        }
        let (head, _) = self.collection_at("HEAD")?;
        match head.find(code) {
            Some(s) => Ok(s.path.clone()),
            None => Err(unknown_standard(code, &head)),
        }
    }
}

/// The code named on the `code:` line of a front matter, even if the rest is broken.
fn quick_code(text: &str) -> Option<Code> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "---" {
        return None;
    }
    lines
        .take_while(|l| l.trim() != "---")
        .find_map(|l| l.strip_prefix("code:"))
        .and_then(|v| Code::parse(v.trim().trim_matches(['"', '\''])).ok())
}

/// Close matches for an unknown code: same family, same prefix, or slug overlap.
fn unknown_standard(query: &str, coll: &Collection) -> LibraryError {
    let q = crate::standard::code::slugify(query);
    let family = Code::parse(query).ok().map(|c| c.family());
    let mut suggestions: Vec<String> = coll
        .standards
        .iter()
        .filter(|s| {
            family.as_ref().is_some_and(|f| s.code.family() == *f)
                || (!q.is_empty() && (s.code.slug().contains(&q) || q.contains(&s.code.slug())))
        })
        .map(|s| s.code.to_string())
        .collect();
    if suggestions.is_empty() {
        let prefix: String = query
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '/')
            .collect();
        suggestions = coll
            .standards
            .iter()
            .filter(|s| !prefix.is_empty() && s.code.prefix.starts_with(&prefix))
            .map(|s| s.code.to_string())
            .take(6)
            .collect();
    }
    LibraryError::UnknownStandard {
        query: query.to_string(),
        suggestions,
    }
}

/// Resolves `HEAD`, a commit, a tag, a branch, or a date (`YYYY-MM-DD`: the last commit
/// made on or before that day, China time).
fn resolve<'r>(repo: &'r Repository, rev: &str) -> Result<git2::Commit<'r>> {
    let rev = rev.trim();
    if let Some(end) = end_of_day(rev) {
        let mut walk = repo.revwalk()?;
        walk.push_head()?;
        walk.set_sorting(Sort::TIME)?;
        for oid in walk {
            let c = repo.find_commit(oid?)?;
            if c.time().seconds() <= end {
                return Ok(c);
            }
        }
        return Err(LibraryError::UnknownRevision {
            rev: rev.to_string(),
            suggestions: vec!["the library did not exist yet on that date".into()],
        });
    }
    let rev = if rev.is_empty() { "HEAD" } else { rev };
    match repo.revparse_single(rev).and_then(|o| o.peel_to_commit()) {
        Ok(c) => Ok(c),
        Err(_) => {
            let mut names: Vec<String> = repo
                .tag_names(None)
                .map(|t| {
                    t.iter()
                        .filter_map(|x| x.ok().flatten().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let lower = rev.to_lowercase();
            names.retain(|n| {
                let n = n.to_lowercase();
                n.contains(&lower)
                    || lower.contains(&n)
                    || crate::library::diff::similarity(&n, &lower) > 0.5
            });
            names.truncate(6);
            Err(LibraryError::UnknownRevision {
                rev: rev.to_string(),
                suggestions: names,
            })
        }
    }
}

/// Epoch second at the end of `YYYY-MM-DD` in UTC+8, if `s` is such a date.
fn end_of_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[..4].parse().ok()?;
    let m: i64 = s[5..7].parse().ok()?;
    let d: i64 = s[8..].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + 86_400 - 1 - 8 * 3600)
}

/// Days since 1970-01-01 (proleptic Gregorian), after Howard Hinnant's algorithm.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2024-05-01 10:00:00 +08:00` for an epoch second and offset in minutes.
pub fn format_time(secs: i64, offset_min: i32) -> String {
    let t = secs + offset_min as i64 * 60;
    let days = t.div_euclid(86_400);
    let rem = t.rem_euclid(86_400);
    // civil_from_days
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let sign = if offset_min < 0 { '-' } else { '+' };
    let off = offset_min.abs();
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} {sign}{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        off / 60,
        off % 60
    )
}

/// Where a standard's file goes: its edition's file when the library has it, else
/// `<slug>.md` (refused when another standard holds that path).
fn target_path(library: &Collection, standard: &Standard) -> Result<String> {
    if let Some(s) = library.standards.iter().find(|s| s.code == standard.code) {
        return Ok(s.path.clone());
    }
    let p = format!("{}.md", standard.code.slug());
    if let Some(other) = library.standards.iter().find(|s| s.path == p) {
        return Err(LibraryError::PathTaken {
            path: p,
            code: standard.code.to_string(),
            other: other.code.to_string(),
        });
    }
    Ok(p)
}

/// The parser's diagnostics plus lint and the rules across the library: any error
/// refuses the publication.
fn check_publication(
    standard: &Standard,
    mut diags: Vec<Diagnostic>,
    library: &Collection,
) -> Result<()> {
    diags.extend(lint::lint(standard));
    let others: Vec<Standard> = library
        .standards
        .iter()
        .filter(|s| s.code != standard.code)
        .cloned()
        .collect();
    diags.extend(cross_lint(std::slice::from_ref(standard), &others));
    if diags.iter().any(|d| d.is_error()) {
        return Err(LibraryError::Invalid(diags));
    }
    Ok(())
}

/// The commit that already published `text` at `path` for submission `key` (its
/// message has the line `Submission: {key}` and its tree holds exactly this text
/// there), if any: searched from HEAD back. Both must agree, so a submission number
/// reused by another database never passes for an earlier publication.
fn published_before(
    repo: &Repository,
    key: &str,
    path: &str,
    text: &str,
) -> Result<Option<Revision>> {
    let trailer = format!("Submission: {key}");
    let mut walk = repo.revwalk()?;
    walk.push_head()?;
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        let named = commit
            .message()
            .is_ok_and(|m| m.lines().any(|l| l.trim_end() == trailer));
        if !named {
            continue;
        }
        let same = match commit.tree()?.get_path(Path::new(path)) {
            Ok(entry) => repo.find_blob(entry.id())?.content() == text.as_bytes(),
            Err(_) => false,
        };
        if same {
            return Ok(Some(revision(&commit)));
        }
    }
    Ok(None)
}

/// A publication's commit message: summary, the request's message, then trailers.
fn commit_message(
    req: &PublishRequest,
    standard: &Standard,
    status_from: Option<&str>,
    superseded: &[String],
) -> String {
    let status_to = standard.meta.status.as_str();
    let mut message = format!(
        "Publish {} ({}{})\n\n{}\n\nStandard: {} {}\nStatus: {} → {}\n",
        standard.code,
        if status_from.is_none() {
            "new edition, "
        } else {
            ""
        },
        status_to,
        req.message.trim(),
        standard.code,
        standard.meta.title,
        status_from.unwrap_or("none"),
        status_to
    );
    if let Some(sub) = &req.submission {
        message.push_str(&format!("Submission: {sub}\n"));
    }
    if !superseded.is_empty() {
        message.push_str(&format!("Supersedes: {}\n", superseded.join(", ")));
    }
    message
}

fn revision(c: &git2::Commit<'_>) -> Revision {
    let id = c.id().to_string();
    let author = c.author();
    Revision {
        short_id: id[..10.min(id.len())].to_string(),
        id,
        time: c.time().seconds(),
        date: format_time(c.time().seconds(), c.time().offset_minutes()),
        author: author.name().unwrap_or("?").to_string(),
        email: author.email().unwrap_or("").to_string(),
        summary: c.summary().ok().flatten().unwrap_or("").to_string(),
        message: c.message().unwrap_or("").to_string(),
    }
}

/// Markdown blobs of a tree: (path, blob id).
fn md_blobs(tree: &Tree<'_>) -> Result<Vec<(String, Oid)>> {
    let mut out = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let name = entry.name().unwrap_or("");
        if entry.kind() == Some(ObjectType::Blob)
            && name.ends_with(".md")
            && !name.eq_ignore_ascii_case("README.md")
        {
            out.push((format!("{dir}{name}"), entry.id()));
        }
        TreeWalkResult::Ok
    })?;
    Ok(out)
}

type FileRevision<'r> = (git2::Commit<'r>, Option<Oid>, Option<Oid>);

/// Commits (newest first) where the blob at `path` differs from the first parent's.
fn file_revisions<'r>(repo: &'r Repository, path: &str) -> Result<Vec<FileRevision<'r>>> {
    let mut walk = repo.revwalk()?;
    walk.push_head()?;
    walk.set_sorting(Sort::TIME | Sort::TOPOLOGICAL)?;
    walk.simplify_first_parent()?;
    let p = Path::new(path);
    let blob_at = |c: &git2::Commit<'_>| -> Option<Oid> {
        c.tree()
            .ok()
            .and_then(|t| t.get_path(p).ok())
            .map(|e| e.id())
    };
    let mut out = Vec::new();
    for oid in walk {
        let c = repo.find_commit(oid?)?;
        let here = blob_at(&c);
        let before = c.parent(0).ok().and_then(|p| blob_at(&p));
        if here != before {
            out.push((c, here, before));
        }
    }
    Ok(out)
}

/// Newlines as LF and a final newline, so the stored file is stable.
fn normalize_text(text: &str) -> String {
    let mut t = parse::normalize_newlines(text).into_owned();
    if !t.ends_with('\n') {
        t.push('\n');
    }
    t
}

/// Marks an edition superseded by `by` in its front matter (status and replaced_by lines).
fn supersede(text: &str, by: &Code) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut in_front = false;
    let mut seen_open = false;
    let mut wrote_replaced = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t == "---" {
            if !seen_open {
                seen_open = true;
                in_front = true;
            } else if in_front {
                if !wrote_replaced {
                    out.push_str(&format!("replaced_by: {by}\n"));
                    wrote_replaced = true;
                }
                in_front = false;
            }
            out.push_str(line);
            continue;
        }
        if in_front && t.starts_with("status:") {
            out.push_str("status: superseded\n");
            continue;
        }
        if in_front && t.starts_with("replaced_by:") {
            out.push_str(&format!("replaced_by: {by}\n"));
            wrote_replaced = true;
            continue;
        }
        out.push_str(line);
    }
    out
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-biaozhun");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_resolve_to_end_of_day_china_time() {
        // 2024-05-01 23:59:59 +08:00 = 2024-05-01 15:59:59 UTC
        assert_eq!(end_of_day("2024-05-01"), Some(1_714_579_199));
        assert_eq!(end_of_day("2024-5-1"), None);
        assert_eq!(
            format_time(1_714_579_199, 480),
            "2024-05-01 23:59:59 +08:00"
        );
    }

    #[test]
    fn supersede_rewrites_front_matter_only() {
        let text = "---\ncode: Q/A 1—2023\nstatus: current\n---\n## 1 范围\n\nstatus: current\n";
        let by = Code::parse("Q/A 1—2025").unwrap();
        let out = supersede(text, &by);
        assert_eq!(
            out,
            "---\ncode: Q/A 1—2023\nstatus: superseded\nreplaced_by: Q/A 1—2025\n---\n## 1 范围\n\nstatus: current\n"
        );
    }

    #[test]
    fn author_parsing() {
        assert_eq!(
            Author::parse("王喆 <wz@example.com>"),
            Author::new("王喆", "wz@example.com")
        );
        assert_eq!(Author::parse("李四").email, "unknown@biaozhun.local");
    }
}
