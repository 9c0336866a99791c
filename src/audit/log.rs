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

use serde::{Deserialize, Serialize};

use super::engine::Ev;
use super::records::{self, BadRecord, Step};
use super::rules::RuleSet;
use super::time::{self, Micros};
use super::values::{Interner, LocalInterner};

/// Bad rows kept with their message; the rest are only counted.
pub const MAX_ERRORS: usize = 100;
const SHARDS: usize = 64;
const CHUNK: usize = 4 << 20;
/// Distinct unknown activity names counted one by one.
const MAX_UNMAPPED: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Bytes the cutter reads at a time (0 = 4 MiB); small values exercise the
    /// block boundaries in tests.
    pub block_size: usize,
}

/// Why a row was skipped. The key (`as_str`, also the JSON key) is stable; the label
/// is what people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Skip {
    #[serde(rename = "empty case id")]
    EmptyCase,
    #[serde(rename = "empty activity")]
    EmptyActivity,
    #[serde(rename = "timestamp without UTC offset")]
    NoOffset,
    #[serde(rename = "bad timestamp")]
    BadTimestamp,
    #[serde(rename = "file too long")]
    TooManyLines,
    #[serde(rename = "wrong number of fields")]
    WrongWidth,
    #[serde(rename = "unterminated quote")]
    Unterminated,
    #[serde(rename = "line too long")]
    LineTooLong,
    #[serde(rename = "not UTF-8")]
    NotUtf8,
    #[serde(rename = "malformed JSON")]
    BadJson,
    #[serde(rename = "missing field")]
    MissingField,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::EmptyCase => "empty case id",
            Skip::EmptyActivity => "empty activity",
            Skip::NoOffset => "timestamp without UTC offset",
            Skip::BadTimestamp => "bad timestamp",
            Skip::TooManyLines => "file too long",
            Skip::WrongWidth => "wrong number of fields",
            Skip::Unterminated => "unterminated quote",
            Skip::LineTooLong => "line too long",
            Skip::NotUtf8 => "not UTF-8",
            Skip::BadJson => "malformed JSON",
            Skip::MissingField => "missing field",
        }
    }

    /// In Chinese, for pages and reports.
    pub fn label(self) -> &'static str {
        match self {
            Skip::EmptyCase => "订单编号为空",
            Skip::EmptyActivity => "活动名称为空",
            Skip::NoOffset => "时间未注明时区",
            Skip::BadTimestamp => "时间无法识别",
            Skip::TooManyLines => "文件行数超出上限",
            Skip::WrongWidth => "字段个数与表头不符",
            Skip::Unterminated => "引号未闭合",
            Skip::LineTooLong => "行过长",
            Skip::NotUtf8 => "不是 UTF-8 编码",
            Skip::BadJson => "不是有效的 JSON",
            Skip::MissingField => "缺少必填字段",
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// Line of the record (CSV, JSON Lines) or event number (XES).
    pub line: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: Skip,
    pub message: String,
    /// The offending value as written, when one field is to blame (at most 40
    /// characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
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

/// A value read with spaces around it, which were removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trimmed {
    pub line: u64,
    pub field: String,
    /// The value as written (at most 60 characters).
    pub raw: String,
}

/// Values trimmed, examples kept.
pub const MAX_TRIMMED_EXAMPLES: usize = 10;

/// What reading saw besides the events: the read report. Every row of the input is
/// accounted for: `rows == events + rows_skipped`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadStats {
    pub format: Option<Format>,
    pub bytes: u64,
    /// Data rows (CSV records or JSON lines after the header, XES events); empty
    /// lines are not rows.
    #[serde(default)]
    pub rows: u64,
    /// Empty lines, ignored.
    #[serde(default)]
    pub empty_lines: u64,
    /// Records that became events (including ones no rule looks at).
    pub events: u64,
    /// Events kept for the rules.
    pub events_kept: u64,
    pub rows_skipped: u64,
    /// Skipped rows by reason.
    pub skipped_by_reason: BTreeMap<Skip, u64>,
    /// The first bad rows.
    pub errors: Vec<RowError>,
    /// Earliest and latest event instants, as written (with their offsets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
    /// Activity names no rule mentions, with counts.
    pub unmapped_activities: BTreeMap<String, u64>,
    /// Attributes the rules read that no event carried a value for (a missing or
    /// misnamed column, usually).
    pub attributes_never_seen: Vec<String>,
    /// Of those, the ones some event of an activity that carries them was read for:
    /// the column is missing, not merely unused in this period.
    #[serde(default)]
    pub attributes_missing: Vec<String>,
    /// Values read with leading or trailing white space (Unicode, full-width spaces
    /// included), which was removed: per column.
    #[serde(default)]
    pub trimmed: BTreeMap<String, u64>,
    #[serde(default)]
    pub trimmed_examples: Vec<Trimmed>,
    #[serde(skip)]
    pub seen_slots: Vec<bool>,
    /// Slots some kept event was expected to carry.
    #[serde(skip)]
    pub expected_slots: Vec<bool>,
    #[serde(skip)]
    pub span: Option<((Micros, i16), (Micros, i16))>,
    /// Columns (CSV) used for case, activity, timestamp.
    pub columns: [String; 3],
}

impl ReadStats {
    /// Share of the data rows that were skipped (0 when there were none).
    pub fn skipped_rate(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.rows_skipped as f64 / self.rows as f64
        }
    }

    /// Values trimmed in all columns.
    pub fn trimmed_total(&self) -> u64 {
        self.trimmed.values().sum()
    }

    /// Counts one skipped row; keeps the first [`MAX_ERRORS`].
    fn skip(&mut self, e: RowError) {
        self.rows += 1;
        self.rows_skipped += 1;
        *self.skipped_by_reason.entry(e.reason).or_default() += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        }
    }

    fn trim(&mut self, line: u64, field: &str, raw: &str) {
        match self.trimmed.get_mut(field) {
            Some(n) => *n += 1,
            None => {
                self.trimmed.insert(field.to_string(), 1);
            }
        }
        if self.trimmed_examples.len() < MAX_TRIMMED_EXAMPLES {
            self.trimmed_examples.push(Trimmed {
                line,
                field: field.to_string(),
                raw: raw.chars().take(60).collect(),
            });
        }
    }
}

/// Removes white space around a value, counting it in the read report.
fn trimmed<'v>(stats: &mut ReadStats, line: u64, field: &str, raw: &'v str) -> &'v str {
    let t = raw.trim();
    if t.len() != raw.len() && !t.is_empty() {
        stats.trim(line, field, raw);
    }
    t
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
                expected_slots: vec![false; set.slots.names.len()],
                ..Default::default()
            },
            first_error: None,
            strict_line,
            strict,
        }
    }

    fn error(&mut self, line: u64, field: Option<&str>, reason: Skip, message: String) {
        self.error_at(line, field, None, reason, message)
    }

    fn error_at(
        &mut self,
        line: u64,
        field: Option<&str>,
        value: Option<&str>,
        reason: Skip,
        message: String,
    ) {
        let e = RowError {
            line,
            field: field.map(str::to_string),
            reason,
            message,
            value: value.map(|v| v.chars().take(40).collect()),
        };
        if self.strict {
            self.strict_line.fetch_min(line, Ordering::Relaxed);
            if self.first_error.as_ref().is_none_or(|f| f.line > line) {
                self.first_error = Some(e.clone());
            }
        }
        self.stats.skip(e);
    }

    /// Adds one event. `attr(slot)` yields the raw text of an attribute (None/empty =
    /// absent); `attr_names[slot]` names it in the read report.
    #[allow(clippy::too_many_arguments)]
    fn event<'s>(
        &mut self,
        line: u64,
        case: &str,
        activity: &str,
        timestamp: &str,
        columns: &[&str; 3],
        attr_names: &[String],
        attr: &mut dyn FnMut(u16) -> Option<std::borrow::Cow<'s, str>>,
    ) {
        let case = trimmed(&mut self.stats, line, columns[0], case);
        if case.is_empty() {
            return self.error(
                line,
                Some(columns[0]),
                Skip::EmptyCase,
                "the case id is empty".into(),
            );
        }
        let activity = trimmed(&mut self.stats, line, columns[1], activity);
        if activity.is_empty() {
            return self.error(
                line,
                Some(columns[1]),
                Skip::EmptyActivity,
                "the activity is empty".into(),
            );
        }
        let (t, off) = match time::parse_instant(timestamp.trim(), self.plan.default_offset) {
            Ok(x) => x,
            Err(e) => {
                let reason = match e {
                    time::TimeError::NoOffset => Skip::NoOffset,
                    _ => Skip::BadTimestamp,
                };
                return self.error_at(
                    line,
                    Some(columns[2]),
                    Some(timestamp.trim()),
                    reason,
                    format!("`{}`: {e}", timestamp.trim()),
                );
            }
        };
        let Ok(line32) = u32::try_from(line) else {
            return self.error(
                line,
                None,
                Skip::TooManyLines,
                "more than 4,294,967,295 lines: split the log by period".into(),
            );
        };
        self.stats.rows += 1;
        self.stats.events += 1;
        let off = off as i16;
        self.stats.span = Some(match self.stats.span {
            None => ((t, off), (t, off)),
            Some((lo, hi)) => (
                if t < lo.0 { (t, off) } else { lo },
                if t > hi.0 { (t, off) } else { hi },
            ),
        });
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
                if let Some(x) = self.stats.expected_slots.get_mut(slot as usize) {
                    *x = true;
                }
                let raw = attr(slot);
                let name = attr_names.get(slot as usize).map_or("", String::as_str);
                let id = match raw
                    .as_deref()
                    .map(|v| trimmed(&mut self.stats, line, name, v))
                {
                    Some(v) if !v.is_empty() => {
                        if let Some(s) = self.stats.seen_slots.get_mut(slot as usize) {
                            *s = true;
                        }
                        self.values.intern(v)
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
            off,
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
    stats.attributes_never_seen = Vec::new();
    stats.attributes_missing = Vec::new();
    for (slot, name) in set.slots.names.iter().enumerate() {
        if stats.seen_slots.get(slot).copied().unwrap_or(false) {
            continue;
        }
        stats.attributes_never_seen.push(name.clone());
        if stats.expected_slots.get(slot).copied().unwrap_or(false) {
            stats.attributes_missing.push(name.clone());
        }
    }
    if let Some(((t0, o0), (t1, o1))) = stats.span {
        stats.first_event = Some(time::format_instant(t0, o0 as i32));
        stats.last_event = Some(time::format_instant(t1, o1 as i32));
    }
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
    /// Bad rows the cutter found (CSV): (start, end, why), offsets into `data`.
    bad: Vec<(usize, usize, BadRecord)>,
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

/// The input as the cutter sees it: a buffer that starts at a record boundary.
struct Source {
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    eof: bool,
    /// Bytes read per refill.
    block: usize,
    /// Line number of the first byte of `buf`.
    line: u64,
    /// CSV counts a lone CR as a line break; JSON Lines only LF.
    csv: bool,
}

impl Source {
    /// Reads up to one more block.
    fn more(&mut self) -> std::io::Result<()> {
        if !self.eof {
            let want = self.buf.len() + self.block;
            self.eof = fill(&mut self.input, &mut self.buf, want)?;
        }
        Ok(())
    }

    /// Hands out the first `at` bytes.
    fn take(&mut self, at: usize) -> (Vec<u8>, u64) {
        let rest = self.buf.split_off(at);
        let data = std::mem::replace(&mut self.buf, rest);
        let line = self.line;
        self.line += if self.csv {
            records::line_breaks(&data)
        } else {
            memchr::memchr_iter(b'\n', &data).count() as u64
        };
        (data, line)
    }

    /// Drops everything up to the next line break (a line too long to hold), reading
    /// on as needed. Returns false if the input ended first.
    fn skip_line(&mut self) -> std::io::Result<bool> {
        loop {
            let found = if self.csv {
                memchr::memchr2(b'\n', b'\r', &self.buf)
            } else {
                memchr::memchr(b'\n', &self.buf)
            };
            match found {
                Some(i) if self.buf[i] == b'\n' || i + 1 < self.buf.len() || self.eof => {
                    let end = if self.buf[i] == b'\r' && self.buf.get(i + 1) == Some(&b'\n') {
                        i + 2
                    } else {
                        i + 1
                    };
                    self.buf.drain(..end);
                    self.line += 1;
                    return Ok(true);
                }
                // A `\r` at the end: keep it to see whether `\n` follows.
                Some(i) => {
                    self.buf.drain(..i);
                }
                None => self.buf.clear(),
            }
            if self.eof {
                return Ok(false);
            }
            self.more()?;
        }
    }
}

/// The header of a CSV log: the columns the reader uses.
fn read_header(
    src: &mut Source,
    set: &RuleSet,
    opts: &ReadOptions,
    path: &str,
) -> Result<CsvLayout, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_string(),
        source,
    };
    let (end, body, quotes) = loop {
        match records::next_record(&src.buf, 0, src.eof, None) {
            Step::Record { end: 0, .. } => {
                return Err(ReadError::Format {
                    path: path.to_string(),
                    message:
                        "the log is empty (expected a header line: case_id,activity,timestamp,…)"
                            .into(),
                });
            }
            // Empty lines before the header are no records.
            Step::Record { end, body: 0, .. } => {
                src.take(end);
            }
            Step::Record { end, body, quotes } => break (end, body, quotes),
            Step::NeedMore => src.more().map_err(io)?,
            Step::Bad { .. } | Step::Overlong => {
                return Err(ReadError::Format {
                    path: path.to_string(),
                    message: format!(
                        "line {}: the header line is longer than {} MiB or opens a quote that \
                         never closes; the first line must name the columns \
                         (case_id,activity,timestamp,…)",
                        src.line,
                        records::MAX_RECORD >> 20
                    ),
                });
            }
        }
    };
    let mut fields = Vec::new();
    let mut scratch = Vec::new();
    let base: &[u8] = if records::split(&src.buf[..body], quotes, &mut fields, &mut scratch) {
        &scratch
    } else {
        &src.buf[..body]
    };
    let header: Vec<String> = fields
        .iter()
        .map(|&(a, b)| String::from_utf8_lossy(&base[a..b]).trim().to_string())
        .collect();
    src.take(end);
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
    let attr_names = attrs
        .iter()
        .zip(&set.slots.names)
        .map(|(c, n)| c.map_or_else(|| n.clone(), |c| header[c].clone()))
        .collect();
    Ok(CsvLayout {
        names: [
            header[case].clone(),
            header[activity].clone(),
            header[timestamp].clone(),
        ],
        case,
        activity,
        timestamp,
        attrs,
        attr_names,
        width: header.len(),
    })
}

/// JSON Lines: the last line break in the buffer.
fn jsonl_cut(buf: &[u8], eof: bool) -> records::Cut {
    let at = if eof {
        buf.len()
    } else {
        memchr::memrchr(b'\n', buf).map_or(0, |i| i + 1)
    };
    records::Cut {
        at,
        bad: Vec::new(),
        overlong: !eof && at == 0 && buf.len() > records::MAX_RECORD,
    }
}

#[allow(clippy::too_many_arguments)]
fn read_chunked(
    input: Box<dyn Read + Send>,
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
    let block = if opts.block_size == 0 {
        CHUNK
    } else {
        opts.block_size
    };
    let mut src = Source {
        input,
        buf: Vec::with_capacity(block + (1 << 16)),
        eof: false,
        block,
        line: 1,
        csv,
    };
    src.more().map_err(io)?;
    if src.buf.starts_with(b"\xEF\xBB\xBF") {
        src.buf.drain(..3);
    }
    let csv_layout = if csv {
        Some(read_header(&mut src, set, opts, path)?)
    } else {
        None
    };
    let width = csv_layout.as_ref().map(|l| l.width);
    // Size hint from the first block's line length (plain files only).
    if size_hint > 0 && !src.buf.is_empty() {
        let lines = memchr::memchr_iter(b'\n', &src.buf).count().max(1);
        store.reserve((size_hint as f64 * lines as f64 / src.buf.len() as f64) as usize);
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
    // Rows the cutter itself refuses (lines too long to hold).
    let mut cutter = ReadStats::default();
    let mut cutter_first: Option<RowError> = None;
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
        let failure = cut_blocks(&mut src, csv, width, &tx, |line| {
            let e = RowError {
                line,
                field: None,
                value: None,
                reason: Skip::LineTooLong,
                message: format!(
                    "the line is longer than {} MiB; it was skipped to its end",
                    records::MAX_RECORD >> 20
                ),
            };
            if opts.strict {
                strict_line.fetch_min(line, Ordering::Relaxed);
                if cutter_first.as_ref().is_none_or(|f| f.line > line) {
                    cutter_first = Some(e.clone());
                }
            }
            cutter.skip(e);
        });
        drop(tx);
        let out: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        match failure {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
    .map_err(io)?;
    let mut stats = cutter;
    let mut first = cutter_first;
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
    stats.trimmed_examples.sort_by_key(|t| t.line);
    stats.trimmed_examples.truncate(MAX_TRIMMED_EXAMPLES);
    stats.columns = match csv_layout {
        Some(l) => l.names,
        None => json_cols.names.clone(),
    };
    Ok(stats)
}

/// The cutter: sends the input in blocks that end at record boundaries (the one
/// sequential pass that decides where records begin), calling `overlong(line)` for
/// each line too long to hold. Returns a read failure, if any.
fn cut_blocks(
    src: &mut Source,
    csv: bool,
    width: Option<usize>,
    tx: &crossbeam_channel::Sender<Chunk>,
    mut overlong: impl FnMut(u64),
) -> Option<std::io::Error> {
    loop {
        let cut = if csv {
            records::cut(&src.buf, src.eof, width)
        } else {
            jsonl_cut(&src.buf, src.eof)
        };
        if cut.at > 0 {
            let (data, first_line) = src.take(cut.at);
            if tx
                .send(Chunk {
                    data,
                    first_line,
                    bad: cut.bad,
                })
                .is_err()
            {
                return None;
            }
        }
        if cut.overlong {
            overlong(src.line);
            match src.skip_line() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(e) => return Some(e),
            }
        }
        if src.eof && src.buf.is_empty() {
            return None;
        }
        if let Err(e) = src.more() {
            return Some(e);
        }
    }
}

fn merge_stats(into: &mut ReadStats, s: ReadStats) {
    into.rows += s.rows;
    into.empty_lines += s.empty_lines;
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
    for (k, v) in s.trimmed {
        *into.trimmed.entry(k).or_default() += v;
    }
    into.trimmed_examples.extend(s.trimmed_examples);
    into.span = match (into.span, s.span) {
        (Some((a0, a1)), Some((b0, b1))) => Some((
            if b0.0 < a0.0 { b0 } else { a0 },
            if b1.0 > a1.0 { b1 } else { a1 },
        )),
        (a, b) => a.or(b),
    };
    for (into, from) in [
        (&mut into.seen_slots, s.seen_slots),
        (&mut into.expected_slots, s.expected_slots),
    ] {
        if into.len() < from.len() {
            into.resize(from.len(), false);
        }
        for (a, b) in into.iter_mut().zip(from) {
            *a |= b;
        }
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

struct CsvLayout {
    names: [String; 3],
    case: usize,
    activity: usize,
    timestamp: usize,
    attrs: Vec<Option<usize>>,
    /// Per slot: the column that carries it (for the read report).
    attr_names: Vec<String>,
    width: usize,
}

fn bad_record_error(why: BadRecord, width: usize) -> (Skip, String) {
    match why {
        BadRecord::Unterminated => (
            Skip::Unterminated,
            format!(
                "a field opens with `\"` that does not close on this line, and what it would \
                 swallow is not a record of {width} fields; a quote at the start of a field \
                 must close it (write a literal quote inside a quoted field as `\"\"`)"
            ),
        ),
        BadRecord::TooLong => (
            Skip::LineTooLong,
            format!(
                "the record is longer than {} MiB",
                records::MAX_RECORD >> 20
            ),
        ),
    }
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
    let mut bad = chunk.bad.iter().peekable();
    let cols = [
        l.names[0].as_str(),
        l.names[1].as_str(),
        l.names[2].as_str(),
    ];
    while pos < data.len() {
        let this_line = line;
        let step = match bad.peek() {
            Some(&&(start, end, why)) if start == pos => {
                bad.next();
                Step::Bad { end, why }
            }
            _ => records::next_record(data, pos, true, None),
        };
        let (end, body, quotes) = match step {
            Step::Record { end, body, quotes } => (end, body, quotes),
            Step::Bad { end, why } => {
                line += records::line_breaks(&data[pos..end]);
                pos = end;
                let (reason, message) = bad_record_error(why, l.width);
                sink.error(this_line, None, reason, message);
                continue;
            }
            // Not at the end of the input.
            Step::Overlong | Step::NeedMore => break,
        };
        let rec = &data[pos..body];
        line += if quotes {
            records::line_breaks(&data[pos..end])
        } else {
            u64::from(body < end)
        };
        pos = end;
        if rec.is_empty() {
            sink.stats.empty_lines += 1;
            continue;
        }
        let base: &[u8] = if records::split(rec, quotes, fields, scratch) {
            scratch
        } else {
            rec
        };
        if fields.len() != l.width {
            sink.error(
                this_line,
                None,
                Skip::WrongWidth,
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
                Skip::NotUtf8,
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
        sink.event(
            this_line,
            case,
            activity,
            ts,
            &cols,
            &l.attr_names,
            &mut attr,
        );
    }
}

/// JSON Lines keys, resolved per row (objects need not share a key order).
struct JsonColumns {
    case: Vec<String>,
    activity: Vec<String>,
    timestamp: Vec<String>,
    /// Slot → JSON keys that feed it.
    attrs: Vec<Vec<String>>,
    /// Slot → the key named in the read report.
    attr_names: Vec<String>,
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
        let attr_names = attrs
            .iter()
            .zip(&set.slots.names)
            .map(|(keys, n)| keys.first().unwrap_or(n).clone())
            .collect();
        let names = [case[0].clone(), activity[0].clone(), timestamp[0].clone()];
        JsonColumns {
            case,
            activity,
            timestamp,
            attrs,
            attr_names,
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
    let pieces = chunk.data.split(|&b| b == b'\n');
    let last = memchr::memchr_iter(b'\n', &chunk.data).count();
    for (k, raw) in pieces.enumerate() {
        let line = chunk.first_line + k as u64;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            // The piece after the final line break is no line.
            if k < last || !raw.is_empty() {
                sink.stats.empty_lines += 1;
            }
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(raw) {
            Ok(o) => o,
            Err(e) => {
                sink.error(line, None, Skip::BadJson, format!("not a JSON object: {e}"));
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
                Skip::MissingField,
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
        sink.event(
            line,
            &case,
            &activity,
            &ts,
            &names,
            &cols.attr_names,
            &mut attr,
        );
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
                                    Skip::MissingField,
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
                            sink.event(no, &case, &act, &ts, &cols, &set.slots.names, &mut attr);
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
