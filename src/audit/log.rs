//! Reading event logs: CSV, JSON Lines and XES (IEEE 1849), plain or gzipped.
//!
//! The file is streamed, never loaded whole. For CSV and JSON Lines one thread cuts
//! the input into blocks at record boundaries (quote-aware for CSV) and the other
//! cores parse them; XES is parsed as a stream by one thread. Every event becomes a
//! 16-byte [`Ev`] plus the 4-byte value ids of the attributes the rules read on its
//! activity, appended to its case in a sharded map. Events no rule can see are
//! dropped (unless a chain/init/end rule needs every event), so memory grows with the
//! number of cases and the events the rules need — not with the file size.
//!
//! Bad rows are counted, the first [`MAX_ERRORS`] kept with their line and field, and
//! skipped; in strict mode the first bad row (by line) fails the read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::engine::Ev;
use super::rules::RuleSet;
use super::time::{self, Micros};
use super::values::{Interner, LocalInterner};

/// Bad rows kept with their message; the rest are only counted.
pub const MAX_ERRORS: usize = 100;
const SHARDS: usize = 64;
const CHUNK: usize = 4 << 20;
/// Distinct unknown activity names counted one by one.
const MAX_UNMAPPED: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
    Xes,
}

impl Format {
    /// From the file name: `.csv`, `.jsonl`/`.ndjson`, `.xes`, each optionally `.gz`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".csv") || name.ends_with(".txt") {
            Some(Format::Csv)
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
            Some(Format::Jsonl)
        } else if name.ends_with(".xes") || name.ends_with(".xml") {
            Some(Format::Xes)
        } else {
            None
        }
    }
}

/// How to read a log.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: Option<Format>,
    pub case_column: Option<String>,
    pub activity_column: Option<String>,
    pub timestamp_column: Option<String>,
    /// Offset (minutes) for timestamps written without one; `None` makes them errors.
    pub default_offset: Option<i32>,
    pub strict: bool,
    /// Parser threads (0 = one per core).
    pub threads: usize,
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Line of the record (CSV, JSON Lines) or event number (XES).
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(c) => write!(f, "line {}, field `{c}`: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// A failure that stops reading.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{path}:{}: {}{}", .error.line, .error.field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default(), .error.message)]
    Strict { path: String, error: RowError },
}

/// What reading saw, besides the events.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadStats {
    pub format: Option<Format>,
    pub bytes: u64,
    /// Records that became events (including ones no rule looks at).
    pub events: u64,
    /// Events kept for the rules.
    pub events_kept: u64,
    pub rows_skipped: u64,
    /// Skipped rows by reason.
    pub skipped_by_reason: BTreeMap<String, u64>,
    /// The first bad rows.
    pub errors: Vec<RowError>,
    /// Activity names no rule mentions, with counts.
    pub unmapped_activities: BTreeMap<String, u64>,
    /// Attributes the rules read that no event carried a value for (a missing or
    /// misnamed column, usually).
    pub attributes_never_seen: Vec<String>,
    #[serde(skip)]
    pub seen_slots: Vec<bool>,
    /// Columns (CSV) used for case, activity, timestamp.
    pub columns: [String; 3],
}

/// One shard of the cases: flat arrays, no per-case allocation. A case is an index
/// into `first_t`/`name_end`; its events are the entries of `evs` whose `ev_case` is
/// that index, in input order, each followed in `attrs` by as many values as its
/// activity stores. Flat arrays keep memory at ~20 bytes per event plus the values,
/// and the pages a growing array has reserved but not yet written cost nothing.
#[derive(Default)]
pub struct Shard {
    table: hashbrown::HashTable<u32>,
    names: String,
    name_end: Vec<u32>,
    /// Earliest instant of any of the case's events (kept or not): decides the period.
    pub first_t: Vec<Micros>,
    pub ev_case: Vec<u32>,
    pub evs: Vec<Ev>,
    pub attrs: Vec<u32>,
}

impl Shard {
    pub fn cases(&self) -> usize {
        self.first_t.len()
    }

    pub fn name(&self, case: u32) -> &str {
        let i = case as usize;
        let start = if i == 0 {
            0
        } else {
            self.name_end[i - 1] as usize
        };
        &self.names[start..self.name_end[i] as usize]
    }

    fn case_index(&mut self, name: &str, hash: u64, t: Micros) -> u32 {
        let Shard {
            table,
            names,
            name_end,
            first_t,
            ..
        } = self;
        let name_of = |i: u32| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { name_end[i - 1] as usize };
            &names[start..name_end[i] as usize]
        };
        if let Some(&i) = table.find(hash, |&i| name_of(i) == name) {
            first_t[i as usize] = first_t[i as usize].min(t);
            return i;
        }
        let i = first_t.len() as u32;
        names.push_str(name);
        name_end.push(names.len() as u32);
        first_t.push(t);
        let (names, name_end) = (&*names, &*name_end);
        table.insert_unique(hash, i, |&j| {
            let j = j as usize;
            let start = if j == 0 { 0 } else { name_end[j - 1] as usize };
            case_hash(&names[start..name_end[j] as usize])
        });
        i
    }
}

fn case_hash(case: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(case)
}

/// Cases by id, sharded so reader threads rarely wait on each other.
pub struct Store {
    pub shards: Vec<Mutex<Shard>>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }
}

fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize % SHARDS
}

impl Store {
    /// Reserves room for about `events` events, so the arrays are not copied while
    /// they grow (a copy briefly holds both, which is what sets peak memory).
    pub fn reserve(&self, events: usize) {
        let per = events / SHARDS + events / SHARDS / 16 + 64;
        for m in &self.shards {
            let mut s = match m.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            s.evs.reserve(per);
            s.ev_case.reserve(per);
        }
    }

    pub fn into_shards(self) -> Vec<Shard> {
        self.shards
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .collect()
    }
}

/// Where each part of an event comes from, resolved once from the header.
struct Plan {
    /// For each activity id: the slots stored on its events.
    slots_by_act: Vec<Vec<u16>>,
    keep_all: bool,
    default_offset: Option<i32>,
}

/// An event parsed but not yet stored: case id range in `Sink::case_bytes`, the
/// id's hash, the event, its values' range in `Sink::batch_attrs`.
type Pending = (u32, u32, u64, Ev, u32, u32);

/// Per-thread state: local interner, batches per shard, error bookkeeping.
struct Sink<'a> {
    set: &'a RuleSet,
    plan: &'a Plan,
    store: &'a Store,
    values: LocalInterner<'a>,
    /// Per shard: events waiting for the shard's lock.
    batch: Vec<Vec<Pending>>,
    batch_attrs: Vec<u32>,
    case_bytes: String,
    stats: ReadStats,
    first_error: Option<RowError>,
    strict_line: &'a AtomicU64,
    strict: bool,
}

impl<'a> Sink<'a> {
    fn new(
        set: &'a RuleSet,
        plan: &'a Plan,
        store: &'a Store,
        interner: &'a Interner,
        strict_line: &'a AtomicU64,
        strict: bool,
    ) -> Self {
        Sink {
            set,
            plan,
            store,
            values: LocalInterner::new(interner),
            batch: (0..SHARDS).map(|_| Vec::new()).collect(),
            batch_attrs: Vec::new(),
            case_bytes: String::new(),
            stats: ReadStats {
                seen_slots: vec![false; set.slots.names.len()],
                ..Default::default()
            },
            first_error: None,
            strict_line,
            strict,
        }
    }

    fn error(&mut self, line: u64, field: Option<&str>, reason: &str, message: String) {
        self.stats.rows_skipped += 1;
        *self
            .stats
            .skipped_by_reason
            .entry(reason.to_string())
            .or_default() += 1;
        let e = RowError {
            line,
            field: field.map(str::to_string),
            message,
        };
        if self.strict {
            self.strict_line.fetch_min(line, Ordering::Relaxed);
            if self.first_error.as_ref().is_none_or(|f| f.line > line) {
                self.first_error = Some(e.clone());
            }
        }
        if self.stats.errors.len() < MAX_ERRORS {
            self.stats.errors.push(e);
        }
    }

    /// Adds one event. `attr(slot)` yields the raw text of an attribute (None/empty =
    /// absent).
    #[allow(clippy::too_many_arguments)]
    fn event<'s>(
        &mut self,
        line: u64,
        case: &str,
        activity: &str,
        timestamp: &str,
        columns: &[&str; 3],
        attr: &mut dyn FnMut(u16) -> Option<std::borrow::Cow<'s, str>>,
    ) {
        let case = case.trim_ascii();
        if case.is_empty() {
            return self.error(
                line,
                Some(columns[0]),
                "empty case id",
                "the case id is empty".into(),
            );
        }
        let activity = activity.trim_ascii();
        if activity.is_empty() {
            return self.error(
                line,
                Some(columns[1]),
                "empty activity",
                "the activity is empty".into(),
            );
        }
        let (t, off) = match time::parse_instant(timestamp, self.plan.default_offset) {
            Ok(x) => x,
            Err(e) => {
                let reason = match e {
                    time::TimeError::NoOffset => "timestamp without UTC offset",
                    _ => "bad timestamp",
                };
                return self.error(
                    line,
                    Some(columns[2]),
                    reason,
                    format!("`{}`: {e}", timestamp.trim()),
                );
            }
        };
        let Ok(line32) = u32::try_from(line) else {
            return self.error(
                line,
                None,
                "file too long",
                "more than 4,294,967,295 lines: split the log by period".into(),
            );
        };
        self.stats.events += 1;
        let act = self.set.activities.id(activity);
        if act == 0 {
            let n = self.stats.unmapped_activities.len();
            match self.stats.unmapped_activities.get_mut(activity) {
                Some(c) => *c += 1,
                None if n < MAX_UNMAPPED => {
                    self.stats
                        .unmapped_activities
                        .insert(activity.to_string(), 1);
                }
                None => {
                    *self
                        .stats
                        .unmapped_activities
                        .entry("(other names)".into())
                        .or_default() += 1
                }
            }
        }
        let keep = act != 0 || self.plan.keep_all;
        let start = self.batch_attrs.len() as u32;
        if keep {
            self.stats.events_kept += 1;
            for &slot in &self.plan.slots_by_act[act as usize] {
                let id = match attr(slot) {
                    Some(v) if !v.trim_ascii().is_empty() => {
                        if let Some(s) = self.stats.seen_slots.get_mut(slot as usize) {
                            *s = true;
                        }
                        self.values.intern(v.trim_ascii())
                    }
                    _ => 0,
                };
                self.batch_attrs.push(id);
            }
        }
        let ev = Ev {
            t,
            line: line32,
            act: if keep { act } else { u16::MAX },
            off: off as i16,
        };
        let end = self.batch_attrs.len() as u32;
        let c0 = self.case_bytes.len() as u32;
        self.case_bytes.push_str(case);
        let c1 = self.case_bytes.len() as u32;
        let hash = case_hash(case);
        self.batch[shard_of(hash)].push((c0, c1, hash, ev, start, end));
    }

    fn flush(&mut self) {
        for (s, items) in self.batch.iter_mut().enumerate() {
            if items.is_empty() {
                continue;
            }
            let mut shard = match self.store.shards[s].lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            for (c0, c1, hash, ev, a, b) in items.drain(..) {
                let case = &self.case_bytes[c0 as usize..c1 as usize];
                let idx = shard.case_index(case, hash, ev.t);
                if ev.act != u16::MAX {
                    shard.ev_case.push(idx);
                    shard.evs.push(ev);
                    shard
                        .attrs
                        .extend_from_slice(&self.batch_attrs[a as usize..b as usize]);
                }
            }
        }
        self.batch_attrs.clear();
        self.case_bytes.clear();
    }
}

/// Reads `path` into `store`, interning values in `set.interner`.
pub fn read(
    path: &Path,
    set: &RuleSet,
    opts: &ReadOptions,
    store: &Store,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<ReadStats, ReadError> {
    let shown = path.display().to_string();
    let io = |source| ReadError::Io {
        path: shown.clone(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if let Some(pb) = progress {
        pb.set_length(size);
    }
    let counted = Counting {
        inner: file,
        progress: progress.cloned(),
    };
    let mut buffered = BufReader::with_capacity(1 << 16, counted);
    let gz = buffered.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let input: Box<dyn Read + Send> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let format = match opts.format.or_else(|| Format::from_path(path)) {
        Some(f) => f,
        None => {
            return Err(ReadError::Format {
                path: shown,
                message:
                    "cannot tell the log format from the file name; pass --format csv|jsonl|xes"
                        .into(),
            });
        }
    };
    let hint = if gz { 0 } else { size };
    let plan = Plan {
        slots_by_act: set.slots_by_activity(),
        keep_all: set.needs_all_events(),
        default_offset: opts.default_offset,
    };
    let mut stats = match format {
        Format::Csv => read_chunked(input, &shown, set, opts, &plan, store, true, hint)?,
        Format::Jsonl => read_chunked(input, &shown, set, opts, &plan, store, false, hint)?,
        Format::Xes => read_xes(input, &shown, set, opts, &plan, store)?,
    };
    stats.format = Some(format);
    stats.bytes = size;
    stats.attributes_never_seen = set
        .slots
        .names
        .iter()
        .zip(&stats.seen_slots)
        .filter(|(_, seen)| !**seen)
        .map(|(n, _)| n.clone())
        .collect();
    Ok(stats)
}

struct Counting<R> {
    inner: R,
    progress: Option<indicatif::ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p.inc(n as u64);
        }
        Ok(n)
    }
}

struct Chunk {
    data: Vec<u8>,
    first_line: u64,
}

const CASE_NAMES: &[&str] = &[
    "case_id",
    "case",
    "case:concept:name",
    "订单编号",
    "order_id",
];
const ACTIVITY_NAMES: &[&str] = &["activity", "concept:name", "活动名称", "活动", "event"];
const TIMESTAMP_NAMES: &[&str] = &["timestamp", "time:timestamp", "发生时间", "时间", "time"];

/// Finds a column by the user's name, the rule set's, or the usual names.
fn pick(
    header: &[String],
    explicit: Option<&str>,
    from_rules: Option<&str>,
    defaults: &[&str],
    what: &str,
    flag: &str,
    path: &str,
) -> Result<usize, ReadError> {
    let wanted: Vec<&str> = match explicit.or(from_rules) {
        Some(n) => vec![n],
        None => defaults.to_vec(),
    };
    for w in &wanted {
        if let Some(i) = header.iter().position(|h| h == w) {
            return Ok(i);
        }
    }
    Err(ReadError::Format {
        path: path.to_string(),
        message: format!(
            "line 1: no {what} column (looked for {}); the columns are: {}. Name it with {flag} \
             or `log:` in the rule set",
            wanted
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", "),
            header.join(", ")
        ),
    })
}

/// Column index per slot (None = the log lacks it).
fn attribute_columns(header: &[String], set: &RuleSet) -> Vec<Option<usize>> {
    let mut cols = Vec::new();
    for name in &set.slots.names {
        let mapped = header.iter().position(|h| {
            set.log
                .attributes
                .get(h)
                .map(|a| a == name)
                .unwrap_or(h == name)
        });
        cols.push(mapped);
    }
    cols
}

#[allow(clippy::too_many_arguments)]
fn read_chunked(
    mut input: Box<dyn Read + Send>,
    path: &str,
    set: &RuleSet,
    opts: &ReadOptions,
    plan: &Plan,
    store: &Store,
    csv: bool,
    size_hint: u64,
) -> Result<ReadStats, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_string(),
        source,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + (1 << 16));
    let mut eof = fill(&mut input, &mut buf, CHUNK).map_err(io)?;
    if buf.starts_with(b"\xEF\xBB\xBF") {
        buf.drain(..3);
    }
    let mut first_line = 1u64;
    // CSV: the header.
    let mut csv_layout = None;
    if csv {
        let end = loop {
            if let Some(e) = record_end(&buf, true) {
                break e;
            }
            if eof {
                break buf.len();
            }
            let want = buf.len() + CHUNK;
            eof = fill(&mut input, &mut buf, want).map_err(io)?;
        };
        if end == 0 {
            return Err(ReadError::Format {
                path: path.to_string(),
                message: "the log is empty (expected a header line: case_id,activity,timestamp,…)"
                    .into(),
            });
        }
        let mut fields = Vec::new();
        let mut scratch = Vec::new();
        let base: &[u8] = if split_csv(&buf[..end], &mut fields, &mut scratch) {
            &scratch
        } else {
            &buf[..end]
        };
        let header: Vec<String> = fields
            .iter()
            .map(|&(a, b)| String::from_utf8_lossy(&base[a..b]).trim().to_string())
            .collect();
        first_line += memchr::memchr_iter(b'\n', &buf[..end]).count() as u64;
        buf.drain(..end);
        let mut cols = [0usize; 3];
        for (slot, explicit, from_rules, defaults, what, flag) in [
            (
                0,
                &opts.case_column,
                &set.log.case,
                CASE_NAMES,
                "case id",
                "--case-column",
            ),
            (
                1,
                &opts.activity_column,
                &set.log.activity,
                ACTIVITY_NAMES,
                "activity",
                "--activity-column",
            ),
            (
                2,
                &opts.timestamp_column,
                &set.log.timestamp,
                TIMESTAMP_NAMES,
                "timestamp",
                "--timestamp-column",
            ),
        ] {
            cols[slot] = pick(
                &header,
                explicit.as_deref(),
                from_rules.as_deref(),
                defaults,
                what,
                flag,
                path,
            )?;
        }
        let [case, activity, timestamp] = cols;
        let attrs = attribute_columns(&header, set);
        csv_layout = Some(CsvLayout {
            names: [
                header[case].clone(),
                header[activity].clone(),
                header[timestamp].clone(),
            ],
            case,
            activity,
            timestamp,
            attrs,
            width: header.len(),
        });
    }
    // Size hint from the first block's line length (plain files only).
    if size_hint > 0 && !buf.is_empty() {
        let lines = memchr::memchr_iter(b'\n', &buf).count().max(1);
        store.reserve((size_hint as f64 * lines as f64 / buf.len() as f64) as usize);
    }
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        opts.threads
    };
    let (tx, rx) = crossbeam_channel::bounded::<Chunk>(threads * 2);
    let strict_line = AtomicU64::new(u64::MAX);
    let json_cols = JsonColumns::new(set, opts);
    let results: Vec<(ReadStats, Option<RowError>)> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..threads {
            let rx = rx.clone();
            let layout = csv_layout.as_ref();
            let json_cols = &json_cols;
            let strict_line = &strict_line;
            handles.push(s.spawn(move || {
                let mut sink = Sink::new(set, plan, store, &set.interner, strict_line, opts.strict);
                let mut fields = Vec::new();
                let mut scratch = Vec::new();
                for chunk in rx {
                    if opts.strict && chunk.first_line > strict_line.load(Ordering::Relaxed) {
                        continue;
                    }
                    match layout {
                        Some(l) => parse_csv_chunk(&chunk, l, &mut sink, &mut fields, &mut scratch),
                        None => parse_jsonl_chunk(&chunk, json_cols, &mut sink),
                    }
                    sink.flush();
                }
                (sink.stats, sink.first_error)
            }));
        }
        drop(rx);
        // This thread cuts blocks at record boundaries.
        let mut failure = None;
        loop {
            let cut = if eof {
                buf.len()
            } else {
                match last_record_end(&buf, csv) {
                    Some(c) => c,
                    None => {
                        // One record longer than the block: read more.
                        let want = buf.len() + CHUNK;
                        match fill(&mut input, &mut buf, want) {
                            Ok(e) => eof = e,
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                        }
                        continue;
                    }
                }
            };
            if cut > 0 {
                let rest = buf.split_off(cut);
                let data = std::mem::replace(&mut buf, rest);
                let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
                let line = first_line;
                first_line += lines;
                if tx
                    .send(Chunk {
                        data,
                        first_line: line,
                    })
                    .is_err()
                {
                    break;
                }
            }
            if eof {
                break;
            }
            let want = buf.len() + CHUNK;
            match fill(&mut input, &mut buf, want) {
                Ok(e) => eof = e,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let out: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(out)
    })
    .map_err(io)?;
    let mut stats = ReadStats::default();
    let mut first: Option<RowError> = None;
    for (s, e) in results {
        merge_stats(&mut stats, s);
        if let Some(e) = e
            && first.as_ref().is_none_or(|f| f.line > e.line)
        {
            first = Some(e);
        }
    }
    if let Some(error) = first {
        return Err(ReadError::Strict {
            path: path.to_string(),
            error,
        });
    }
    stats.errors.sort_by_key(|e| e.line);
    stats.errors.truncate(MAX_ERRORS);
    stats.columns = match csv_layout {
        Some(l) => l.names,
        None => json_cols.names.clone(),
    };
    Ok(stats)
}

fn merge_stats(into: &mut ReadStats, s: ReadStats) {
    into.events += s.events;
    into.events_kept += s.events_kept;
    into.rows_skipped += s.rows_skipped;
    for (k, v) in s.skipped_by_reason {
        *into.skipped_by_reason.entry(k).or_default() += v;
    }
    into.errors.extend(s.errors);
    for (k, v) in s.unmapped_activities {
        *into.unmapped_activities.entry(k).or_default() += v;
    }
    if into.seen_slots.len() < s.seen_slots.len() {
        into.seen_slots.resize(s.seen_slots.len(), false);
    }
    for (a, b) in into.seen_slots.iter_mut().zip(s.seen_slots) {
        *a |= b;
    }
}

/// Reads until `buf` holds `want` bytes or the input ends; returns true at the end.
fn fill(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let mut tmp = [0u8; 1 << 16];
    while buf.len() < want {
        let n = match input.read(&mut tmp) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(true);
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    Ok(false)
}

/// End (after the newline) of the first record in `buf`, if complete.
fn record_end(buf: &[u8], csv: bool) -> Option<usize> {
    if !csv {
        return memchr::memchr(b'\n', buf).map(|i| i + 1);
    }
    let mut quoted = false;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            return Some(i + 1);
        }
    }
    None
}

/// End of the last complete record in `buf` (CSV: a newline outside quotes).
fn last_record_end(buf: &[u8], csv: bool) -> Option<usize> {
    if !csv || memchr::memchr(b'"', buf).is_none() {
        return memchr::memrchr(b'\n', buf).map(|i| i + 1);
    }
    let mut quoted = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            last = Some(i + 1);
        }
    }
    last
}

struct CsvLayout {
    names: [String; 3],
    case: usize,
    activity: usize,
    timestamp: usize,
    attrs: Vec<Option<usize>>,
    width: usize,
}

/// Splits one CSV record into field ranges. Without quotes the ranges point into the
/// record; with quotes the unescaped fields are written to `scratch` and the ranges
/// point there. Returns true when the ranges index `scratch`.
fn split_csv(rec: &[u8], fields: &mut Vec<(usize, usize)>, scratch: &mut Vec<u8>) -> bool {
    fields.clear();
    let rec = rec
        .strip_suffix(b"\n")
        .map(|r| r.strip_suffix(b"\r").unwrap_or(r))
        .unwrap_or(rec);
    if memchr::memchr(b'"', rec).is_none() {
        let mut start = 0;
        for i in memchr::memchr_iter(b',', rec) {
            fields.push((start, i));
            start = i + 1;
        }
        fields.push((start, rec.len()));
        return false;
    }
    scratch.clear();
    let mut i = 0;
    loop {
        let start = scratch.len();
        if rec.get(i) == Some(&b'"') {
            i += 1;
            while i < rec.len() {
                if rec[i] == b'"' {
                    if rec.get(i + 1) == Some(&b'"') {
                        scratch.push(b'"');
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                } else {
                    scratch.push(rec[i]);
                    i += 1;
                }
            }
            // Anything between the closing quote and the comma is kept verbatim.
            while i < rec.len() && rec[i] != b',' {
                scratch.push(rec[i]);
                i += 1;
            }
        } else {
            while i < rec.len() && rec[i] != b',' {
                scratch.push(rec[i]);
                i += 1;
            }
        }
        fields.push((start, scratch.len()));
        if i >= rec.len() {
            break;
        }
        i += 1; // the comma
        if i == rec.len() {
            fields.push((scratch.len(), scratch.len()));
            break;
        }
    }
    true
}

fn parse_csv_chunk(
    chunk: &Chunk,
    l: &CsvLayout,
    sink: &mut Sink<'_>,
    fields: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) {
    let data = &chunk.data;
    let mut line = chunk.first_line;
    let mut pos = 0;
    let cols = [
        l.names[0].as_str(),
        l.names[1].as_str(),
        l.names[2].as_str(),
    ];
    while pos < data.len() {
        let end = record_end(&data[pos..], true)
            .map(|e| pos + e)
            .unwrap_or(data.len());
        let rec = &data[pos..end];
        let newlines = memchr::memchr_iter(b'\n', rec).count() as u64;
        let this_line = line;
        line += newlines;
        pos = end;
        let trimmed = rec.strip_suffix(b"\n").unwrap_or(rec);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if trimmed.is_empty() {
            continue;
        }
        let base: &[u8] = if split_csv(rec, fields, scratch) {
            scratch
        } else {
            rec
        };
        if fields.len() != l.width {
            sink.error(
                this_line,
                None,
                "wrong number of fields",
                format!("{} fields, the header has {}", fields.len(), l.width),
            );
            continue;
        }
        let text = |i: usize| -> Result<&str, ()> {
            let (a, b) = fields[i];
            std::str::from_utf8(&base[a..b]).map_err(|_| ())
        };
        let (Ok(case), Ok(activity), Ok(ts)) = (text(l.case), text(l.activity), text(l.timestamp))
        else {
            sink.error(
                this_line,
                None,
                "not UTF-8",
                "the row is not valid UTF-8 (save the file as UTF-8; GBK exports need converting)"
                    .into(),
            );
            continue;
        };
        let mut attr = |slot: u16| -> Option<std::borrow::Cow<'_, str>> {
            let col = l.attrs.get(slot as usize).copied().flatten()?;
            let (a, b) = *fields.get(col)?;
            std::str::from_utf8(&base[a..b])
                .ok()
                .map(std::borrow::Cow::Borrowed)
        };
        sink.event(this_line, case, activity, ts, &cols, &mut attr);
    }
}

/// JSON Lines keys, resolved per row (objects need not share a key order).
struct JsonColumns {
    case: Vec<String>,
    activity: Vec<String>,
    timestamp: Vec<String>,
    /// Slot → JSON keys that feed it.
    attrs: Vec<Vec<String>>,
    names: [String; 3],
}

impl JsonColumns {
    fn new(set: &RuleSet, opts: &ReadOptions) -> JsonColumns {
        let one =
            |explicit: &Option<String>, rules: &Option<String>, defaults: &[&str]| match explicit
                .as_ref()
                .or(rules.as_ref())
            {
                Some(n) => vec![n.clone()],
                None => defaults.iter().map(|s| s.to_string()).collect(),
            };
        let case = one(&opts.case_column, &set.log.case, CASE_NAMES);
        let activity = one(&opts.activity_column, &set.log.activity, ACTIVITY_NAMES);
        let timestamp = one(&opts.timestamp_column, &set.log.timestamp, TIMESTAMP_NAMES);
        let attrs = set.slot_keys();
        let names = [case[0].clone(), activity[0].clone(), timestamp[0].clone()];
        JsonColumns {
            case,
            activity,
            timestamp,
            attrs,
            names,
        }
    }
}

fn json_text(v: &serde_json::Value) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

fn parse_jsonl_chunk(chunk: &Chunk, cols: &JsonColumns, sink: &mut Sink<'_>) {
    let names = [
        cols.names[0].as_str(),
        cols.names[1].as_str(),
        cols.names[2].as_str(),
    ];
    for (k, raw) in chunk.data.split(|&b| b == b'\n').enumerate() {
        let line = chunk.first_line + k as u64;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(raw) {
            Ok(o) => o,
            Err(e) => {
                sink.error(
                    line,
                    None,
                    "malformed JSON",
                    format!("not a JSON object: {e}"),
                );
                continue;
            }
        };
        let get = |keys: &[String]| keys.iter().find_map(|k| obj.get(k)).and_then(json_text);
        let (Some(case), Some(activity), Some(ts)) =
            (get(&cols.case), get(&cols.activity), get(&cols.timestamp))
        else {
            let missing = if get(&cols.case).is_none() {
                0
            } else if get(&cols.activity).is_none() {
                1
            } else {
                2
            };
            sink.error(
                line,
                Some(names[missing]),
                "missing field",
                format!("the object has no `{}`", names[missing]),
            );
            continue;
        };
        let mut attr = |slot: u16| -> Option<std::borrow::Cow<'_, str>> {
            cols.attrs
                .get(slot as usize)?
                .iter()
                .find_map(|k| obj.get(k))
                .and_then(json_text)
        };
        sink.event(line, &case, &activity, &ts, &names, &mut attr);
    }
}

// ---------------------------------------------------------------------------------
// XES

fn read_xes(
    input: Box<dyn Read + Send>,
    path: &str,
    set: &RuleSet,
    opts: &ReadOptions,
    plan: &Plan,
    store: &Store,
) -> Result<ReadStats, ReadError> {
    use quick_xml::events::Event as X;
    let strict_line = AtomicU64::new(u64::MAX);
    let mut sink = Sink::new(set, plan, store, &set.interner, &strict_line, opts.strict);
    let mut reader = quick_xml::Reader::from_reader(BufReader::with_capacity(1 << 16, input));
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    // Attribute key → slot.
    let slot_of = |key: &str| -> Option<u16> {
        let name = set
            .log
            .attributes
            .get(key)
            .map(String::as_str)
            .unwrap_or(match key {
                "org:resource" => "resource",
                "org:role" => "role",
                "org:group" => "group",
                k => k,
            });
        set.slots
            .names
            .iter()
            .position(|n| n == name)
            .map(|i| i as u16)
    };
    let case_key = opts
        .case_column
        .clone()
        .unwrap_or_else(|| "concept:name".into());
    let act_key = opts
        .activity_column
        .clone()
        .unwrap_or_else(|| "concept:name".into());
    let ts_key = opts
        .timestamp_column
        .clone()
        .unwrap_or_else(|| "time:timestamp".into());
    let n_slots = set.slots.names.len();
    let mut trace_case: Option<String> = None;
    let mut trace_attrs: Vec<Option<String>> = vec![None; n_slots];
    let mut pending: Vec<(u64, String, String, Vec<Option<String>>)> = Vec::new();
    let mut in_event = false;
    let mut depth_in_attr = 0usize;
    let mut ev_act: Option<String> = None;
    let mut ev_ts: Option<String> = None;
    let mut ev_attrs: Vec<Option<String>> = vec![None; n_slots];
    let mut event_no: u64 = 0;
    let mut saw_log = false;
    let cols = ["concept:name (trace)", "concept:name", "time:timestamp"];
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| ReadError::Format {
                path: path.to_string(),
                message: format!(
                    "XES is not well-formed XML near byte {}: {e}",
                    reader.error_position()
                ),
            })?;
        match ev {
            X::Eof => break,
            X::Start(ref e) | X::Empty(ref e) => {
                let empty = matches!(ev, X::Empty(_));
                let name = e.local_name();
                let name = name.as_ref();
                match name {
                    b"log" => saw_log = true,
                    b"trace" if depth_in_attr == 0 => {
                        trace_case = None;
                        trace_attrs = vec![None; n_slots];
                        pending.clear();
                    }
                    b"event" if depth_in_attr == 0 => {
                        in_event = true;
                        event_no += 1;
                        ev_act = None;
                        ev_ts = None;
                        ev_attrs = vec![None; n_slots];
                    }
                    b"string" | b"date" | b"int" | b"float" | b"boolean" | b"id" => {
                        let mut key = None;
                        let mut value = None;
                        for a in e.attributes().flatten() {
                            let v = a
                                .unescape_value()
                                .map(|c| c.to_string())
                                .unwrap_or_default();
                            match a.key.as_ref() {
                                b"key" => key = Some(v),
                                b"value" => value = Some(v),
                                _ => {}
                            }
                        }
                        if depth_in_attr == 0
                            && let (Some(k), Some(v)) = (key, value)
                        {
                            if in_event {
                                if k == act_key && ev_act.is_none() {
                                    ev_act = Some(v.clone());
                                } else if k == ts_key {
                                    ev_ts = Some(v.clone());
                                }
                                if let Some(s) = slot_of(&k) {
                                    ev_attrs[s as usize] = Some(v);
                                }
                            } else if k == case_key {
                                trace_case = Some(v);
                            } else if let Some(s) = slot_of(&k) {
                                trace_attrs[s as usize] = Some(v);
                            }
                        }
                        if !empty {
                            depth_in_attr += 1;
                        }
                    }
                    _ if !empty && depth_in_attr > 0 => depth_in_attr += 1,
                    _ => {}
                }
            }
            X::End(ref e) => {
                if depth_in_attr > 0 {
                    depth_in_attr -= 1;
                    continue;
                }
                match e.local_name().as_ref() {
                    b"event" => {
                        in_event = false;
                        pending.push((
                            event_no,
                            ev_act.take().unwrap_or_default(),
                            ev_ts.take().unwrap_or_default(),
                            std::mem::take(&mut ev_attrs),
                        ));
                    }
                    b"trace" => {
                        let case = trace_case.take().unwrap_or_default();
                        for (no, act, ts, attrs) in pending.drain(..) {
                            if ts.is_empty() {
                                sink.error(
                                    no,
                                    Some("time:timestamp"),
                                    "missing field",
                                    format!("event {no} of trace `{case}` has no time:timestamp"),
                                );
                                continue;
                            }
                            let mut attr = |slot: u16| {
                                attrs
                                    .get(slot as usize)
                                    .cloned()
                                    .flatten()
                                    .or_else(|| trace_attrs.get(slot as usize).cloned().flatten())
                                    .map(std::borrow::Cow::Owned)
                            };
                            sink.event(no, &case, &act, &ts, &cols, &mut attr);
                        }
                        sink.flush();
                        if opts.strict && sink.first_error.is_some() {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        buf.clear();
    }
    if !saw_log {
        return Err(ReadError::Format {
            path: path.to_string(),
            message: "not an XES document (no <log> element)".into(),
        });
    }
    if let Some(error) = sink.first_error.take() {
        return Err(ReadError::Strict {
            path: path.to_string(),
            error,
        });
    }
    let mut stats = std::mem::take(&mut sink.stats);
    stats.columns = [format!("trace {case_key}"), act_key.clone(), ts_key.clone()];
    Ok(stats)
}
