//! Reading a platform export directory into a [`Platform`].
//!
//! One file per entity, `NAME.csv` (UTF-8, header row), `NAME.json` (an array of
//! objects) or `NAME.jsonl` (one object per line): `agencies`, `workers`,
//! `outlets` (required), `code_changes`, `complaints`, `trainings` (optional).
//! List-valued fields are `|`-separated in CSV and arrays in JSON.
//!
//! Every row is checked field by field: required values, dates, numbers,
//! identifiers by their check characters, references between files, duplicate ids.
//! All problems are collected (up to [`MAX_ERRORS`]) and reported as
//! `file:row: field: what is wrong, what to do`; if there is any, nothing is
//! imported. Full ID and phone numbers are dropped once masked and hashed.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::ids;
use super::*;
use crate::audit::time::parse_date_or_instant;

/// The record schemas (`schemas/platform.schema.json`), one validator per entity.
static SCHEMAS: std::sync::LazyLock<HashMap<&'static str, jsonschema::Validator>> =
    std::sync::LazyLock::new(|| {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/platform.schema.json"))
                .expect("bundled schema is JSON");
        let defs = schema.get("$defs").cloned().unwrap_or_default();
        [
            ("agencies", "agency"),
            ("workers", "worker"),
            ("outlets", "outlet"),
            ("code_changes", "code_change"),
            ("complaints", "complaint"),
            ("trainings", "training"),
        ]
        .into_iter()
        .map(|(entity, def)| {
            let one = serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$defs": defs,
                "$ref": format!("#/$defs/{def}"),
            });
            (
                entity,
                jsonschema::options()
                    .build(&one)
                    .expect("bundled schema is valid"),
            )
        })
        .collect()
    });

/// Problems collected before giving up.
pub const MAX_ERRORS: usize = 200;

/// Offset of times written without one: China Standard Time.
const CST: i32 = 480;

/// One problem in the input, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub file: String,
    /// Line number in the file (CSV: the header is line 1) or array index + 1 (JSON).
    pub row: usize,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.row, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.row, self.field, self.message
            )
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("{} problem(s) in the platform data; nothing was imported:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Rows(Vec<RowError>),
}

/// Options of an import.
pub struct Options<'a> {
    /// The installation's secret for [`ids::pseudonym`].
    pub key: &'a [u8],
}

type Record = HashMap<String, String>;
/// Entity → (file name, rows with their line numbers).
type Files = HashMap<&'static str, (String, Vec<(usize, Record)>)>;

/// Reads and checks every file of `dir`.
pub fn import_dir(dir: &Path, opts: &Options) -> Result<Platform, ImportError> {
    let mut sources: Vec<(String, Vec<u8>)> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| ImportError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    for e in entries.flatten() {
        let path = e.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if entity_of(&name).is_none() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| ImportError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        sources.push((name, bytes));
    }
    import_sources(sources, opts)
}

/// The (id, name) of every outlet in `dir`, reading only the outlets file: what
/// a page listing the places of a checklist needs, without importing the rest.
pub fn outlet_names(dir: &Path) -> Vec<(String, String)> {
    ["outlets.csv", "outlets.json", "outlets.jsonl"]
        .iter()
        .find_map(|name| {
            let bytes = std::fs::read(dir.join(name)).ok()?;
            read_records(name, &bytes).ok()
        })
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(_, r)| {
            Some((
                r.get("id")?.clone(),
                r.get("name").cloned().unwrap_or_default(),
            ))
        })
        .collect()
}

/// `workers.csv` → `workers`; other names are not entity files.
fn entity_of(name: &str) -> Option<&'static str> {
    let (stem, ext) = name.rsplit_once('.')?;
    if !matches!(ext, "csv" | "json" | "jsonl") {
        return None;
    }
    ENTITIES.iter().copied().find(|e| *e == stem)
}

const ENTITIES: [&str; 6] = [
    "agencies",
    "workers",
    "outlets",
    "code_changes",
    "complaints",
    "trainings",
];

/// Imports from (file name, bytes) pairs; the directory reader and tests share it.
pub fn import_sources(
    mut sources: Vec<(String, Vec<u8>)>,
    opts: &Options,
) -> Result<Platform, ImportError> {
    sources.sort_by(|a, b| a.0.cmp(&b.0));
    let mut errors = Errors::default();
    let mut snapshot = Sha256::new();
    let mut files = Vec::new();
    let mut records: Files = HashMap::new();
    for (name, bytes) in &sources {
        let Some(entity) = entity_of(name) else {
            continue;
        };
        snapshot.update(name.as_bytes());
        snapshot.update([0]);
        snapshot.update(bytes);
        files.push((name.clone(), hex(&Sha256::digest(bytes))));
        if let Some((other, _)) = records.get(entity) {
            errors.push(
                name,
                0,
                "",
                &format!("{other} already holds {entity}; keep one file per entity"),
            );
            continue;
        }
        match read_records(name, bytes) {
            Ok(rows) => {
                records.insert(entity, (name.clone(), rows));
            }
            Err(e) => errors.0.push(e),
        }
    }
    for required in ["agencies", "workers", "outlets"] {
        if !records.contains_key(required) {
            errors.push(
                &format!("{required}.csv"),
                0,
                "",
                "missing: every platform export needs agencies, workers and outlets (CSV, JSON or JSON Lines)",
            );
        }
    }
    // Ids present in the files, valid rows or not: a row rejected for another
    // reason must not make every reference to it an error as well.
    let raw_ids: HashMap<&'static str, HashSet<String>> = records
        .iter()
        .map(|(e, (_, rows))| {
            (
                *e,
                rows.iter()
                    .filter_map(|(_, r)| r.get("id").cloned())
                    .collect(),
            )
        })
        .collect();
    let mut p = Platform {
        snapshot: hex(&snapshot.finalize()),
        files,
        ..Platform::default()
    };
    // Line of each accepted row, by entity, for errors found across files.
    let mut lines: HashMap<&'static str, Vec<usize>> = HashMap::new();
    let take = |e: &str, records: &mut Files| records.remove(e).unwrap_or_default();
    let (f, rows) = take("agencies", &mut records);
    for (n, r) in &rows {
        let mut row = Row::new(&f, *n, r, &mut errors);
        let (credit_code, credit_code_valid) = row.credit_code("credit_code");
        let a = Agency {
            id: row.required("id"),
            name: row.required("name"),
            credit_code,
            credit_code_valid,
            town: row.required("town"),
            address: row.optional("address"),
            grade: row.grade("grade"),
            complaint_phone: row.optional("complaint_phone"),
        };
        if row.ok() {
            p.agencies.push(a);
            lines.entry("agencies").or_default().push(*n);
        }
    }
    let (f, rows) = take("workers", &mut records);
    for (n, r) in &rows {
        let mut row = Row::new(&f, *n, r, &mut errors);
        let id_card = row.id_card("id_number");
        let id_number_valid = id_card.as_ref().is_some_and(|(_, ok)| *ok);
        let id_number = id_card.map(|(id, _)| id);
        let phone = row.mobile("phone");
        let w = Worker {
            id_number_valid,
            id: row.required("id"),
            name: row.required("name"),
            agency_id: row.required("agency_id"),
            birth_year: id_number
                .as_deref()
                .filter(|_| id_number_valid)
                .and_then(|i| i[6..10].parse().ok())
                .unwrap_or(0),
            id_masked: id_number
                .as_deref()
                .filter(|i| i.is_ascii() && i.len() >= 8)
                .map(ids::mask_id_card)
                .unwrap_or_else(|| "***".into()),
            id_hash: id_number
                .as_deref()
                .map(|i| ids::pseudonym(opts.key, "id", i))
                .unwrap_or_default(),
            phone_masked: phone.as_deref().map(ids::mask_mobile).unwrap_or_default(),
            phone_hash: phone
                .as_deref()
                .map(|v| ids::pseudonym(opts.key, "phone", v))
                .unwrap_or_default(),
            registered_at: row.date("registered_at").unwrap_or(0),
            health_check_until: row.optional_end_date("health_check_until"),
            insurance_until: row.optional_end_date("insurance_until"),
        };
        if row.ok() {
            p.workers.push(w);
            lines.entry("workers").or_default().push(*n);
        }
    }
    let (f, rows) = take("outlets", &mut records);
    for (n, r) in &rows {
        let mut row = Row::new(&f, *n, r, &mut errors);
        let o = Outlet {
            id: row.required("id"),
            name: row.required("name"),
            town: row.required("town"),
            address: row.optional("address"),
            functions: row.list("functions"),
            services: row.list("services"),
            staff: row.count("staff"),
            opening_hours: row.optional("opening_hours"),
            displays: row.list("displays"),
            ledgers: row.list("ledgers"),
        };
        if row.ok() {
            p.outlets.push(o);
            lines.entry("outlets").or_default().push(*n);
        }
    }
    let (f, rows) = take("code_changes", &mut records);
    for (n, r) in &rows {
        let mut row = Row::new(&f, *n, r, &mut errors);
        let c = CodeChange {
            worker_id: row.required("worker_id"),
            at: row.date("at").unwrap_or(0),
            color: row.color("color"),
            reason: row.optional("reason"),
        };
        if row.ok() {
            p.code_changes.push(c);
            lines.entry("code_changes").or_default().push(*n);
        }
    }
    let (f, rows) = take("complaints", &mut records);
    for (n, r) in &rows {
        let mut row = Row::new(&f, *n, r, &mut errors);
        let received_at = row.date("received_at").unwrap_or(0);
        let c = Complaint {
            id: row.required("id"),
            order_id: row.optional("order_id"),
            agency_id: row.optional("agency_id"),
            worker_id: row.optional("worker_id"),
            outlet_id: row.optional("outlet_id"),
            category: row.optional("category"),
            received_at,
            first_response_at: row.optional_date("first_response_at"),
            resolved_at: row.optional_date("resolved_at"),
        };
        for (field, t) in [
            ("first_response_at", c.first_response_at),
            ("resolved_at", c.resolved_at),
        ] {
            if t.is_some_and(|t| t < received_at) {
                row.error(
                    field,
                    "is before received_at; check the time zone or the order of the columns",
                );
            }
        }
        if row.ok() {
            p.complaints.push(c);
            lines.entry("complaints").or_default().push(*n);
        }
    }
    let (f, rows) = take("trainings", &mut records);
    for (n, r) in &rows {
        let mut row = Row::new(&f, *n, r, &mut errors);
        let t = Training {
            worker_id: row.required("worker_id"),
            title: row.required("title"),
            date: row.date("date").unwrap_or(0),
            hours: row.hours("hours"),
            passed: row.boolean("passed"),
            outlet_id: row.optional("outlet_id"),
        };
        if row.ok() {
            p.trainings.push(t);
            lines.entry("trainings").or_default().push(*n);
        }
    }
    check_references(&p, &sources, &lines, &raw_ids, &mut errors);
    if errors.0.is_empty() {
        p.warnings = std::mem::take(&mut errors.1);
        p.code_changes
            .sort_by(|a, b| (&a.worker_id, a.at).cmp(&(&b.worker_id, b.at)));
        Ok(p)
    } else {
        errors.0.truncate(MAX_ERRORS);
        Err(ImportError::Rows(errors.0))
    }
}

/// Duplicate ids and references to rows that do not exist.
fn check_references(
    p: &Platform,
    sources: &[(String, Vec<u8>)],
    lines: &HashMap<&'static str, Vec<usize>>,
    raw_ids: &HashMap<&'static str, HashSet<String>>,
    errors: &mut Errors,
) {
    let line = |entity: &str, i: usize| {
        lines
            .get(entity)
            .and_then(|l| l.get(i))
            .copied()
            .unwrap_or(0)
    };
    let file_of = |entity: &str| {
        sources
            .iter()
            .map(|(n, _)| n)
            .find(|n| entity_of(n) == Some(entity_name(entity)))
            .cloned()
            .unwrap_or_else(|| format!("{entity}.csv"))
    };
    fn entity_name(e: &str) -> &'static str {
        ENTITIES
            .iter()
            .copied()
            .find(|x| *x == e)
            .unwrap_or("agencies")
    }
    let mut ids_of = |entity: &str, ids: Vec<&str>| -> HashSet<String> {
        let mut seen = HashSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            if !seen.insert(id.to_string()) {
                errors.push(
                    &file_of(entity),
                    line(entity, i),
                    "id",
                    &format!("duplicate id {id}; ids must be unique"),
                );
            }
        }
        seen
    };
    let agencies = ids_of(
        "agencies",
        p.agencies.iter().map(|a| a.id.as_str()).collect(),
    );
    let workers = ids_of("workers", p.workers.iter().map(|w| w.id.as_str()).collect());
    let outlets = ids_of("outlets", p.outlets.iter().map(|o| o.id.as_str()).collect());
    ids_of(
        "complaints",
        p.complaints.iter().map(|c| c.id.as_str()).collect(),
    );
    let mut missing =
        |entity: &str, i: usize, field: &str, id: &str, set: &HashSet<String>, target: &str| {
            let in_file = raw_ids
                .get(entity_name(target))
                .is_some_and(|ids| ids.contains(id));
            if !id.is_empty() && !set.contains(id) && !in_file {
                errors.push(
                    &file_of(entity),
                    line(entity, i),
                    field,
                    &format!("{id} is not in {target}; add it there or correct the id"),
                );
            }
        };
    for (i, w) in p.workers.iter().enumerate() {
        missing(
            "workers",
            i,
            "agency_id",
            &w.agency_id,
            &agencies,
            "agencies",
        );
    }
    for (i, c) in p.code_changes.iter().enumerate() {
        missing(
            "code_changes",
            i,
            "worker_id",
            &c.worker_id,
            &workers,
            "workers",
        );
    }
    for (i, c) in p.complaints.iter().enumerate() {
        missing(
            "complaints",
            i,
            "agency_id",
            &c.agency_id,
            &agencies,
            "agencies",
        );
        missing(
            "complaints",
            i,
            "worker_id",
            &c.worker_id,
            &workers,
            "workers",
        );
        missing(
            "complaints",
            i,
            "outlet_id",
            &c.outlet_id,
            &outlets,
            "outlets",
        );
    }
    for (i, t) in p.trainings.iter().enumerate() {
        missing(
            "trainings",
            i,
            "worker_id",
            &t.worker_id,
            &workers,
            "workers",
        );
        missing(
            "trainings",
            i,
            "outlet_id",
            &t.outlet_id,
            &outlets,
            "outlets",
        );
    }
}

/// The columns the schema defines for an entity.
fn schema_fields(entity: &str) -> Vec<&'static str> {
    static FIELDS: std::sync::LazyLock<HashMap<String, Vec<&'static str>>> =
        std::sync::LazyLock::new(|| {
            let schema: &'static serde_json::Value = Box::leak(Box::new(
                serde_json::from_str(include_str!("../../schemas/platform.schema.json"))
                    .unwrap_or_default(),
            ));
            let mut out = HashMap::new();
            for (entity, def) in [
                ("agencies", "agency"),
                ("workers", "worker"),
                ("outlets", "outlet"),
                ("code_changes", "code_change"),
                ("complaints", "complaint"),
                ("trainings", "training"),
            ] {
                let fields = schema["$defs"][def]["properties"]
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                out.insert(entity.to_string(), fields);
            }
            out
        });
    FIELDS.get(entity).cloned().unwrap_or_default()
}

#[derive(Default)]
struct Errors(Vec<RowError>, Vec<RowError>);

impl Errors {
    /// A finding about the data that does not stop the import (an identifier that
    /// fails its check: the platform accepted it, and the audit reports it).
    fn warn(&mut self, file: &str, row: usize, field: &str, message: &str) {
        if self.1.len() < MAX_ERRORS {
            self.1.push(RowError {
                file: file.to_string(),
                row,
                field: field.to_string(),
                message: message.to_string(),
            });
        }
    }

    fn push(&mut self, file: &str, row: usize, field: &str, message: &str) {
        if self.0.len() < MAX_ERRORS {
            self.0.push(RowError {
                file: file.to_string(),
                row,
                field: field.to_string(),
                message: message.to_string(),
            });
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// CSV with a header row, a JSON array of objects, or JSON Lines → (line/index,
/// field → text). JSON arrays become `|`-joined lists, numbers and booleans text.
fn read_records(name: &str, bytes: &[u8]) -> Result<Vec<(usize, Record)>, RowError> {
    let err = |row: usize, message: String| RowError {
        file: name.to_string(),
        row,
        field: String::new(),
        message,
    };
    let text =
        std::str::from_utf8(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)).map_err(|e| {
            err(
                0,
                format!("not UTF-8 ({e}); save the file as UTF-8 (Excel: CSV UTF-8)"),
            )
        })?;
    if name.ends_with(".csv") {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| err(1, format!("cannot read the header row: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut out = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                err(
                    line,
                    format!(
                        "{e}; every row needs as many fields as the header ({})",
                        headers.len()
                    ),
                )
            })?;
            let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
            out.push((
                line,
                headers
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(|v| v.trim().to_string()))
                    .collect(),
            ));
        }
        return Ok(out);
    }
    let values: Vec<(usize, serde_json::Value)> = if name.ends_with(".jsonl") {
        let mut v = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            v.push((
                i + 1,
                serde_json::from_str(line).map_err(|e| err(i + 1, format!("not JSON: {e}")))?,
            ));
        }
        v
    } else {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Array(a)) => {
                a.into_iter().enumerate().map(|(i, x)| (i + 1, x)).collect()
            }
            Ok(_) => return Err(err(1, "expected a JSON array of objects".into())),
            Err(e) => return Err(err(e.line(), format!("not JSON: {e}"))),
        }
    };
    let mut out = Vec::new();
    for (i, v) in values {
        let serde_json::Value::Object(o) = v else {
            return Err(err(i, "expected an object".into()));
        };
        let rec = o
            .into_iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::Array(a) => a
                        .into_iter()
                        .map(|x| match x {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("|"),
                    other => other.to_string(),
                };
                (k, s.trim().to_string())
            })
            .collect();
        out.push((i, rec));
    }
    Ok(out)
}

/// One record being converted; field errors go to the shared list.
struct Row<'a> {
    file: &'a str,
    line: usize,
    rec: &'a Record,
    errors: &'a mut Errors,
    failed: bool,
    /// Fields already reported, so the schema does not repeat them.
    reported: Vec<String>,
}

impl<'a> Row<'a> {
    fn new(file: &'a str, line: usize, rec: &'a Record, errors: &'a mut Errors) -> Self {
        Row {
            file,
            line,
            rec,
            errors,
            failed: false,
            reported: Vec::new(),
        }
    }

    /// Checks the record against its schema (unknown columns above all: a
    /// misspelt header would otherwise silently drop a field), then says whether
    /// the row is good.
    fn ok(&mut self) -> bool {
        let entity = entity_of(self.file).unwrap_or("agencies");
        if let Some(v) = SCHEMAS.get(entity) {
            let value = serde_json::Value::Object(
                self.rec
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            );
            let mut found = Vec::new();
            for e in v.iter_errors(&value) {
                use jsonschema::error::ValidationErrorKind as K;
                let field = e
                    .instance_path()
                    .as_str()
                    .trim_start_matches('/')
                    .to_string();
                match e.kind() {
                    K::AdditionalProperties { unexpected } => {
                        for u in unexpected {
                            let mut known: Vec<&str> = schema_fields(entity);
                            known.sort_unstable();
                            found.push((
                                u.clone(),
                                format!(
                                    "unknown column (schemas/platform.schema.json knows: {})",
                                    known.join(", ")
                                ),
                            ));
                        }
                    }
                    K::Required { .. } => {}
                    _ => found.push((
                        field.clone(),
                        format!(
                            "“{}” does not have the form schemas/platform.schema.json requires",
                            self.rec.get(&field).map(String::as_str).unwrap_or("")
                        ),
                    )),
                }
            }
            for (field, message) in found {
                if !self.reported.contains(&field) {
                    self.error(&field, &message);
                }
            }
        }
        !self.failed
    }

    fn error(&mut self, field: &str, message: &str) {
        self.failed = true;
        self.reported.push(field.to_string());
        self.errors.push(self.file, self.line, field, message);
    }

    fn optional(&self, field: &str) -> String {
        self.rec.get(field).cloned().unwrap_or_default()
    }

    fn required(&mut self, field: &str) -> String {
        let v = self.optional(field);
        if v.is_empty() {
            if self.rec.contains_key(field) {
                self.error(field, "is empty; a value is required");
            } else {
                let mut have: Vec<&str> = self.rec.keys().map(String::as_str).collect();
                have.sort_unstable();
                self.error(
                    field,
                    &format!("column is missing (the file has: {})", have.join(", ")),
                );
            }
        }
        v
    }

    fn list(&self, field: &str) -> Vec<String> {
        self.optional(field)
            .split(['|', '、', '；', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn date(&mut self, field: &str) -> Option<Micros> {
        let v = self.required(field);
        if v.is_empty() {
            return None;
        }
        self.parse_time(field, &v, false)
    }

    fn optional_date(&mut self, field: &str) -> Option<Micros> {
        let v = self.optional(field);
        (!v.is_empty())
            .then(|| self.parse_time(field, &v, false))
            .flatten()
    }

    /// A validity date: valid through the whole of that day.
    fn optional_end_date(&mut self, field: &str) -> Option<Micros> {
        let v = self.optional(field);
        (!v.is_empty())
            .then(|| self.parse_time(field, &v, true))
            .flatten()
    }

    fn parse_time(&mut self, field: &str, v: &str, end_of_day: bool) -> Option<Micros> {
        match parse_date_or_instant(&v.replace('/', "-"), CST) {
            Ok(t) => Some(if end_of_day && v.trim().len() == 10 {
                t + 86_400_000_000 - 1
            } else {
                t
            }),
            Err(e) => {
                self.error(field, &format!("“{v}” is not a date or time ({e}); write 2024-03-01 or 2024-03-01T09:30:00+08:00"));
                None
            }
        }
    }

    /// The credit code and whether it passes its checks. An invalid code does not
    /// stop the import: it is a finding about the platform (which accepted it),
    /// reported as a warning and as `credit_code_valid = false` for the checks.
    fn credit_code(&mut self, field: &str) -> (String, bool) {
        let v = self.required(field);
        if v.is_empty() {
            return (v, false);
        }
        match ids::validate_uscc(&v) {
            Ok(c) => (c, true),
            Err(e) => {
                self.errors.warn(
                    self.file,
                    self.line,
                    field,
                    &format!("统一社会信用代码 {v} 无效：{e}"),
                );
                (v.trim().to_ascii_uppercase(), false)
            }
        }
    }

    /// A worker's ID number: (the validated number, or the raw text when it fails
    /// its checks; whether it is valid). An invalid number is a finding, reported
    /// masked; `None` only when the field is empty.
    fn id_card(&mut self, field: &str) -> Option<(String, bool)> {
        let v = self.required(field);
        if v.is_empty() {
            return None;
        }
        match ids::validate_id_card(&v) {
            Ok(id) => Some((id, true)),
            Err(e) => {
                // Never echo a full ID number, even a wrong one.
                let raw = v.trim().to_ascii_uppercase();
                let shown = if raw.is_ascii() && raw.len() >= 8 {
                    ids::mask_id_card(&raw)
                } else {
                    "***".into()
                };
                self.errors.warn(
                    self.file,
                    self.line,
                    field,
                    &format!("身份证号 {shown} 无效：{e}"),
                );
                Some((raw, false))
            }
        }
    }

    fn mobile(&mut self, field: &str) -> Option<String> {
        let v = self.optional(field);
        if v.is_empty() {
            return None;
        }
        let m = ids::validate_mobile(&v);
        if m.is_none() {
            self.error(field, "is not an 11-digit mainland mobile number");
        }
        m
    }

    fn grade(&mut self, field: &str) -> Option<String> {
        let v = self.optional(field).to_ascii_uppercase();
        if v.is_empty() {
            return None;
        }
        if matches!(v.as_str(), "1A" | "2A" | "3A" | "4A" | "5A") {
            Some(v)
        } else {
            self.error(
                field,
                &format!("“{v}” is not a GB/T 31772 grade (1A–5A, or empty)"),
            );
            None
        }
    }

    fn color(&mut self, field: &str) -> CodeColor {
        let v = self.required(field);
        CodeColor::parse(&v).unwrap_or_else(|| {
            if !v.is_empty() {
                self.error(
                    field,
                    &format!("“{v}” is not a 安心码 colour (green/yellow/red or 绿/黄/红)"),
                );
            }
            CodeColor::Green
        })
    }

    fn count(&mut self, field: &str) -> u32 {
        let v = self.optional(field);
        if v.is_empty() {
            return 0;
        }
        v.parse().unwrap_or_else(|_| {
            self.error(field, &format!("“{v}” is not a whole number"));
            0
        })
    }

    fn hours(&mut self, field: &str) -> f64 {
        let v = self.optional(field);
        if v.is_empty() {
            return 0.0;
        }
        match v.parse::<f64>() {
            Ok(h) if h.is_finite() && (0.0..=1000.0).contains(&h) => h,
            _ => {
                self.error(field, &format!("“{v}” is not a number of hours"));
                0.0
            }
        }
    }

    fn boolean(&mut self, field: &str) -> bool {
        match self.optional(field).as_str() {
            "" | "true" | "1" | "是" | "合格" | "yes" => true,
            "false" | "0" | "否" | "不合格" | "no" => false,
            other => {
                let msg = format!("“{other}” is not true/false (是/否)");
                self.error(field, &msg);
                false
            }
        }
    }
}
