//! Workflow rules: YAML files in `audits/` → validated, compiled [`RuleSet`].
//!
//! A rule file is data: which clause it checks, a Declare template, the activation
//! and target (activities + optional condition), an optional correlation and time
//! window. Loading validates against `schemas/audit-rules.schema.json`, compiles every
//! expression once, and reports problems as diagnostics at the file line they concern.
//! [`check_bindings`] then checks every clause reference against the standards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Pos};
use crate::standard::{Code, Collection, ProvisionType};

use super::expr::{self, Context, Expr, Slots};
use super::time::{self, Micros};
use super::values::Interner;

pub const SCHEMA_JSON: &str = include_str!("../../schemas/audit-rules.schema.json");

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: serde_json::Value =
        serde_json::from_str(SCHEMA_JSON).expect("bundled schema is JSON");
    jsonschema::options()
        .build(&schema)
        .expect("bundled schema is valid")
});

/// The Declare / MP-Declare templates. See `docs/audit-rules.md` for the exact
/// semantics of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Existence,
    Absence,
    Exactly,
    Init,
    End,
    RespondedExistence,
    Response,
    AlternateResponse,
    ChainResponse,
    Precedence,
    AlternatePrecedence,
    ChainPrecedence,
    Succession,
    CoExistence,
    NotCoExistence,
    NotRespondedExistence,
    NotResponse,
    NotPrecedence,
    NotChainResponse,
    NotChainPrecedence,
    NotSuccession,
}

impl Template {
    pub const ALL: [Template; 21] = [
        Template::Existence,
        Template::Absence,
        Template::Exactly,
        Template::Init,
        Template::End,
        Template::RespondedExistence,
        Template::Response,
        Template::AlternateResponse,
        Template::ChainResponse,
        Template::Precedence,
        Template::AlternatePrecedence,
        Template::ChainPrecedence,
        Template::Succession,
        Template::CoExistence,
        Template::NotCoExistence,
        Template::NotRespondedExistence,
        Template::NotResponse,
        Template::NotPrecedence,
        Template::NotChainResponse,
        Template::NotChainPrecedence,
        Template::NotSuccession,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::Existence => "existence",
            Template::Absence => "absence",
            Template::Exactly => "exactly",
            Template::Init => "init",
            Template::End => "end",
            Template::RespondedExistence => "responded_existence",
            Template::Response => "response",
            Template::AlternateResponse => "alternate_response",
            Template::ChainResponse => "chain_response",
            Template::Precedence => "precedence",
            Template::AlternatePrecedence => "alternate_precedence",
            Template::ChainPrecedence => "chain_precedence",
            Template::Succession => "succession",
            Template::CoExistence => "co_existence",
            Template::NotCoExistence => "not_co_existence",
            Template::NotRespondedExistence => "not_responded_existence",
            Template::NotResponse => "not_response",
            Template::NotPrecedence => "not_precedence",
            Template::NotChainResponse => "not_chain_response",
            Template::NotChainPrecedence => "not_chain_precedence",
            Template::NotSuccession => "not_succession",
        }
    }

    /// Templates over one activity (no target).
    pub fn is_unary(self) -> bool {
        matches!(
            self,
            Template::Existence
                | Template::Absence
                | Template::Exactly
                | Template::Init
                | Template::End
        )
    }

    /// Templates that forbid a pattern (a violation is an occurrence).
    pub fn is_negative(self) -> bool {
        matches!(
            self,
            Template::Absence
                | Template::NotCoExistence
                | Template::NotRespondedExistence
                | Template::NotResponse
                | Template::NotPrecedence
                | Template::NotChainResponse
                | Template::NotChainPrecedence
                | Template::NotSuccession
        )
    }

    /// Templates that look at neighbours or at the first/last event: they need every
    /// event of a case, not only the ones the rules name.
    pub fn is_positional(self) -> bool {
        matches!(
            self,
            Template::Init
                | Template::End
                | Template::ChainResponse
                | Template::ChainPrecedence
                | Template::NotChainResponse
                | Template::NotChainPrecedence
        )
    }

    /// Templates whose target lies after the activation (window = t(T) − t(A)) or
    /// before it (window = t(A) − t(T)); unordered ones measure t(T) − t(A) signed.
    pub fn target_before(self) -> bool {
        matches!(
            self,
            Template::Precedence
                | Template::AlternatePrecedence
                | Template::ChainPrecedence
                | Template::NotPrecedence
                | Template::NotChainPrecedence
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Major,
    Minor,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "严重",
            Severity::Major => "一般",
            Severity::Minor => "轻微",
        }
    }
}

/// Activities with optional condition: one side of a rule.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Activity ids (see [`Activities`]), sorted.
    pub acts: Vec<u16>,
    pub when: Option<Expr>,
    /// As written, for reports.
    pub text: String,
}

/// Inclusive bounds on the time between activation and target, µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub min: Micros,
    pub max: Micros,
}

impl Window {
    pub fn contains(&self, d: Micros) -> bool {
        self.min <= d && d <= self.max
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    /// Normalised clause ids: `T/ZTAC 001.2—2023#9.1`.
    pub clauses: Vec<String>,
    pub template: Template,
    pub n: u32,
    pub activation: Spec,
    pub target: Option<Spec>,
    pub correlation: Option<Expr>,
    pub correlation_text: Option<String>,
    pub window: Option<Window>,
    /// When live monitoring warns about an activation still waiting for its target.
    pub warn: Option<Warn>,
    pub severity: Severity,
    pub note: Option<String>,
    pub file: String,
    pub pos: Pos,
}

/// A rule's warning threshold (`warn:`), for live monitoring: a share of the
/// window (`75%`) or a time after the activation (`15m`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Warn {
    Share(f64),
    After(Micros),
}

impl Warn {
    /// The instant to warn at for an activation at `t` (None: never).
    pub fn at(self, t: Micros, window: Option<&Window>) -> Option<Micros> {
        match self {
            Warn::After(d) => Some(t.saturating_add(d)),
            Warn::Share(f) => {
                let max = window?.max;
                (max != i64::MAX).then(|| t.saturating_add((max as f64 * f) as i64))
            }
        }
    }
}

/// Canonical activity names and the log names that map to them. Id 0 is any activity
/// no rule mentions.
#[derive(Debug, Clone, Default)]
pub struct Activities {
    pub names: Vec<String>,
    /// Display name per id: the first log name declared (the 表1 name), else the
    /// canonical name.
    pub labels: Vec<String>,
    pub aliases: FxHashMap<String, u16>,
}

impl Activities {
    fn new() -> Self {
        Activities {
            names: vec!["(other)".into()],
            labels: vec!["(other)".into()],
            aliases: FxHashMap::default(),
        }
    }

    fn declare(&mut self, canonical: &str) -> u16 {
        if let Some(&id) = self.aliases.get(canonical) {
            return id;
        }
        self.names.push(canonical.to_string());
        self.labels.push(canonical.to_string());
        let id = (self.names.len() - 1) as u16;
        self.aliases.insert(canonical.to_string(), id);
        id
    }

    pub fn id(&self, log_name: &str) -> u16 {
        self.aliases
            .get(log_name.trim_ascii())
            .copied()
            .unwrap_or(0)
    }

    /// What users call the activity (the first log name declared for it).
    pub fn label(&self, id: u16) -> &str {
        self.labels
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("(other)")
    }

    pub fn name(&self, id: u16) -> &str {
        self.names
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("(other)")
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.len() <= 1
    }
}

/// Column names of the event log, as the rule set (or the command line) says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogColumns {
    pub case: Option<String>,
    pub activity: Option<String>,
    pub timestamp: Option<String>,
    /// Log column → attribute name.
    pub attributes: BTreeMap<String, String>,
}

/// A compiled rule set: what the engine runs.
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub activities: Activities,
    pub log: LogColumns,
    /// Attribute names the rules read, in slot order.
    pub slots: Slots,
    /// Values table, holding the literals of every condition.
    pub interner: Interner,
    pub files: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

// ---------------------------------------------------------------------------------
// Raw YAML

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    standard: Option<String>,
    #[allow(dead_code)]
    title: Option<String>,
    log: Option<RawLog>,
    #[serde(default)]
    activities: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    rules: Vec<RawRule>,
    /// Record, metric and manual checks (`audit::checks`); the workflow loader
    /// only lets them through the schema.
    #[serde(default)]
    #[allow(dead_code)]
    records: Vec<serde_yaml::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    metrics: Vec<serde_yaml::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    manual: Vec<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    case: Option<String>,
    activity: Option<String>,
    timestamp: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSpec {
    Acts(OneOrMany),
    Full {
        activity: OneOrMany,
        when: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Text(String),
    Zero(i64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    min: Option<RawDuration>,
    max: Option<RawDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: Option<String>,
    clause: Option<OneOrMany>,
    template: Template,
    n: Option<u32>,
    activation: RawSpec,
    target: Option<RawSpec>,
    correlation: Option<OneOrMany>,
    window: Option<RawWindow>,
    warn: Option<RawDuration>,
    severity: Option<Severity>,
    note: Option<String>,
}

// ---------------------------------------------------------------------------------
// Loading

/// The rule files under `path` (or `path` itself): `*.yaml`/`*.yml`, sorted.
pub fn find_rule_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    crate::standard::collection::find_files_by(path, |name| {
        name.ends_with(".yaml") || name.ends_with(".yml")
    })
}

impl RuleSet {
    /// Loads every rule file under `paths`. Errors (and warnings) come back as
    /// diagnostics; a rule set with any error is not returned.
    pub fn load(paths: &[PathBuf]) -> Result<RuleSet, Vec<Diagnostic>> {
        let mut sources = Vec::new();
        let mut diags = Vec::new();
        for p in paths {
            let files = match find_rule_files(p) {
                Ok(f) => f,
                Err(e) => {
                    diags.push(Diagnostic::error(
                        "rules-unreadable",
                        &p.display().to_string(),
                        Pos::START,
                        format!("cannot read rules: {e}"),
                    ));
                    continue;
                }
            };
            for f in files {
                match std::fs::read_to_string(&f) {
                    Ok(text) => sources.push((f.display().to_string(), text)),
                    Err(e) => diags.push(Diagnostic::error(
                        "rules-unreadable",
                        &f.display().to_string(),
                        Pos::START,
                        format!("cannot read rules: {e}"),
                    )),
                }
            }
        }
        if sources.is_empty() && diags.is_empty() {
            diags.push(Diagnostic::error(
                "rules-empty",
                &paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                Pos::START,
                "no rule files (*.yaml) found",
            ));
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        Self::from_sources(&sources)
    }

    /// Compiles in-memory rule files `(name, text)`.
    pub fn from_sources(sources: &[(String, String)]) -> Result<RuleSet, Vec<Diagnostic>> {
        let mut set = RuleSet {
            rules: Vec::new(),
            activities: Activities::new(),
            log: LogColumns::default(),
            slots: Slots::default(),
            interner: Interner::default(),
            files: sources.iter().map(|(n, _)| n.clone()).collect(),
            warnings: Vec::new(),
        };
        let mut errors = Vec::new();
        let mut parsed = Vec::new();
        for (file, text) in sources {
            match parse_file(file, text) {
                Ok(raw) => parsed.push((file, text, raw)),
                Err(d) => errors.extend(d),
            }
        }
        // Activities and log columns first: rules may come from any file.
        let mut alias_owner: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (file, text, raw) in &parsed {
            for (canon, names) in &raw.activities {
                let id = set.activities.declare(canon);
                if let Some(first) = names.list().first() {
                    set.activities.labels[id as usize] = first.trim().to_string();
                }
                for alias in names.list() {
                    let alias = alias.trim().to_string();
                    if let Some((other, other_file)) = alias_owner.get(&alias)
                        && other != canon
                    {
                        errors.push(
                            Diagnostic::error(
                                "rules-activity-conflict",
                                file,
                                locate(text, &[Seg::Key("activities"), Seg::Key(canon)]),
                                format!(
                                    "log name `{alias}` is mapped to `{canon}` here and to \
                                     `{other}` in {other_file}"
                                ),
                            )
                            .with_help("a log name must map to one canonical activity"),
                        );
                        continue;
                    }
                    alias_owner.insert(alias.clone(), (canon.clone(), file.to_string()));
                    set.activities.aliases.insert(alias, id);
                }
            }
            if let Some(log) = &raw.log {
                for (slot, value, key) in [
                    (&mut set.log.case, &log.case, "case"),
                    (&mut set.log.activity, &log.activity, "activity"),
                    (&mut set.log.timestamp, &log.timestamp, "timestamp"),
                ] {
                    if let Some(v) = value {
                        if let Some(old) = slot.as_ref().filter(|o| *o != v) {
                            errors.push(Diagnostic::error(
                                "rules-log-conflict",
                                file,
                                locate(text, &[Seg::Key("log"), Seg::Key(key)]),
                                format!("log column `{key}` is `{v}` here but `{old}` in another rule file"),
                            ));
                        }
                        *slot = Some(v.clone());
                    }
                }
                for (col, attr) in &log.attributes {
                    set.log.attributes.insert(col.clone(), attr.clone());
                }
            }
        }
        let declared = !set.activities.is_empty();
        let mut seen_ids: BTreeMap<String, String> = BTreeMap::new();
        for (file, text, raw) in &parsed {
            for (i, r) in raw.rules.iter().enumerate() {
                let at = |key: Option<&str>| {
                    let mut path = vec![Seg::Key("rules"), Seg::Index(i)];
                    if let Some(k) = key {
                        path.push(Seg::Key(k));
                    }
                    locate(text, &path)
                };
                if let Some(other) = seen_ids.get(&r.id) {
                    errors.push(Diagnostic::error(
                        "rules-duplicate-id",
                        file,
                        at(Some("id")),
                        format!("rule id `{}` is already used in {other}", r.id),
                    ));
                    continue;
                }
                seen_ids.insert(r.id.clone(), file.to_string());
                match compile_rule(&mut set, file, r, raw.standard.as_deref(), &at, declared) {
                    Ok((rule, warns)) => {
                        set.warnings.extend(warns);
                        set.rules.push(rule);
                    }
                    Err(d) => errors.extend(d),
                }
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// For each attribute slot: the record keys (log columns, JSON keys) that carry
    /// it — the columns `log.attributes` maps to it, then its own name unless that
    /// name is itself mapped to something else. One rule for every reader and for
    /// live monitoring, so they cannot read an event differently.
    pub fn slot_keys(&self) -> Vec<Vec<String>> {
        self.slots
            .names
            .iter()
            .map(|name| {
                let mut keys: Vec<String> = self
                    .log
                    .attributes
                    .iter()
                    .filter(|(_, a)| *a == name)
                    .map(|(k, _)| k.clone())
                    .collect();
                if !self.log.attributes.contains_key(name) {
                    keys.push(name.clone());
                }
                keys
            })
            .collect()
    }

    /// Does any rule need every event of a case (chain, init, end)?
    pub fn needs_all_events(&self) -> bool {
        self.rules.iter().any(|r| r.template.is_positional())
    }

    /// For each activity id: the attribute slots some rule reads on events of that
    /// activity. Events store only these values.
    pub fn slots_by_activity(&self) -> Vec<Vec<u16>> {
        let mut out: Vec<Vec<u16>> = vec![Vec::new(); self.activities.len()];
        let mut add = |acts: &[u16], slots: &[u16]| {
            for &a in acts {
                for &s in slots {
                    if !out[a as usize].contains(&s) {
                        out[a as usize].push(s);
                    }
                }
            }
        };
        for r in &self.rules {
            let mut a_slots = Vec::new();
            let mut t_slots = Vec::new();
            if let Some(w) = &r.activation.when {
                collect_slots(w, &mut a_slots);
            }
            if let Some(t) = &r.target
                && let Some(w) = &t.when
            {
                collect_slots(w, &mut t_slots);
            }
            if let Some(c) = &r.correlation {
                collect_scoped_slots(c, expr::Scope::A, &mut a_slots);
                collect_scoped_slots(c, expr::Scope::T, &mut t_slots);
                // Symmetric templates also correlate in the other direction.
                if matches!(
                    r.template,
                    Template::Succession | Template::CoExistence | Template::NotCoExistence
                ) {
                    collect_scoped_slots(c, expr::Scope::T, &mut a_slots);
                    collect_scoped_slots(c, expr::Scope::A, &mut t_slots);
                }
            }
            add(&r.activation.acts, &a_slots);
            if let Some(t) = &r.target {
                add(&t.acts, &t_slots);
            }
        }
        for v in &mut out {
            v.sort_unstable();
        }
        out
    }
}

impl Rule {
    /// The attribute slots this rule reads (its conditions and correlation).
    pub fn slots(&self) -> Vec<u16> {
        let mut out = Vec::new();
        for e in [
            self.activation.when.as_ref(),
            self.target.as_ref().and_then(|t| t.when.as_ref()),
            self.correlation.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            collect_slots(e, &mut out);
        }
        out.sort_unstable();
        out
    }
}

fn collect_slots(e: &Expr, out: &mut Vec<u16>) {
    expr::walk(e, &mut |x| {
        if let Expr::Attr(_, s) = x
            && !out.contains(s)
        {
            out.push(*s);
        }
    });
}

fn collect_scoped_slots(e: &Expr, scope: expr::Scope, out: &mut Vec<u16>) {
    expr::walk(e, &mut |x| {
        if let Expr::Attr(s, slot) = x
            && *s == scope
            && !out.contains(slot)
        {
            out.push(*slot);
        }
    });
}

fn parse_file(file: &str, text: &str) -> Result<RawFile, Vec<Diagnostic>> {
    let value: serde_json::Value = match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(v) => match serde_json::to_value(&v) {
            Ok(j) => j,
            Err(e) => {
                return Err(vec![Diagnostic::error(
                    "rules-yaml",
                    file,
                    Pos::START,
                    format!("rule file is not plain data: {e}"),
                )]);
            }
        },
        Err(e) => {
            let pos = e
                .location()
                .map(|l| Pos::new(l.line(), l.column()))
                .unwrap_or(Pos::START);
            return Err(vec![
                Diagnostic::error(
                    "rules-yaml",
                    file,
                    pos,
                    format!("invalid YAML: {}", strip_location(&e.to_string())),
                )
                .with_help("check indentation and quote values containing `: ` or `#`"),
            ]);
        }
    };
    if value.is_null() {
        return Ok(RawFile {
            standard: None,
            title: None,
            log: None,
            activities: BTreeMap::new(),
            rules: Vec::new(),
            records: Vec::new(),
            metrics: Vec::new(),
            manual: Vec::new(),
        });
    }
    let errs: Vec<Diagnostic> = VALIDATOR
        .iter_errors(&value)
        .map(|e| schema_diagnostic(&e, text, file))
        .collect();
    if !errs.is_empty() {
        return Err(dedup(errs));
    }
    serde_json::from_value(value).map_err(|e| {
        vec![Diagnostic::error(
            "rules-schema",
            file,
            Pos::START,
            format!("rule file does not fit the model: {e}"),
        )]
    })
}

fn dedup(mut v: Vec<Diagnostic>) -> Vec<Diagnostic> {
    v.sort_by(|a, b| (a.line, a.col, &a.message).cmp(&(b.line, b.col, &b.message)));
    v.dedup_by(|a, b| a.line == b.line && a.message == b.message);
    v
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn schema_diagnostic(err: &jsonschema::ValidationError<'_>, text: &str, file: &str) -> Diagnostic {
    use jsonschema::error::ValidationErrorKind as K;
    let path = err.instance_path().as_str().to_string();
    let segs: Vec<Seg> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<usize>() {
            Ok(n) => Seg::Index(n),
            Err(_) => Seg::Key(s),
        })
        .collect();
    let pos = locate(text, &segs);
    let shown = if path.is_empty() {
        "the file".to_string()
    } else {
        format!("`{}`", path.trim_start_matches('/').replace('/', "."))
    };
    let (message, help) = match err.kind() {
        K::AdditionalProperties { unexpected } => {
            let key = unexpected.first().cloned().unwrap_or_default();
            let mut p = segs.clone();
            p.push(Seg::Key(&key));
            return Diagnostic::error(
                "rules-schema",
                file,
                locate(text, &p),
                format!("unknown key `{key}` in {shown}"),
            )
            .with_help(
                "rule keys: id, title, clause, template, n, activation, target, correlation, \
                 window, warn, severity, note (see docs/audit-rules.md)",
            );
        }
        K::Required { property } => (
            format!(
                "{shown} is missing `{}`",
                property.as_str().unwrap_or_default()
            ),
            "every rule needs id, template and activation",
        ),
        K::Enum { .. } if path.ends_with("/template") => (
            format!("{shown}: unknown template {}", err.instance()),
            "templates: existence, absence, exactly, init, end, responded_existence, response, \
             alternate_response, chain_response, precedence, alternate_precedence, \
             chain_precedence, succession, co_existence, not_co_existence, \
             not_responded_existence, not_response, not_precedence, not_chain_response, \
             not_chain_precedence, not_succession",
        ),
        K::Pattern { .. } if path.ends_with("/id") => (
            format!("{shown}: rule id {} is not a slug", err.instance()),
            "rule ids use lowercase ASCII letters, digits, `.`, `_` and `-`, e.g. first-response-20min",
        ),
        _ => (
            format!("{shown}: {err}"),
            "see docs/audit-rules.md for the rule format",
        ),
    };
    Diagnostic::error("rules-schema", file, pos, message).with_help(help)
}

fn compile_rule(
    set: &mut RuleSet,
    file: &str,
    r: &RawRule,
    standard: Option<&str>,
    at: &dyn Fn(Option<&str>) -> Pos,
    declared: bool,
) -> Result<(Rule, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let t = r.template;
    // Clauses.
    let mut clauses = Vec::new();
    for c in r.clause.as_ref().map(|c| c.list()).unwrap_or_default() {
        match normalize_clause(&c, standard) {
            Ok(id) => clauses.push(id),
            Err(msg) => errors.push(
                Diagnostic::error("rules-clause-syntax", file, at(Some("clause")), msg)
                    .with_help("write `T/ZTAC 001.2—2023#9.1`, or `#9.1` with `standard:` set"),
            ),
        }
    }
    if clauses.is_empty() && r.clause.is_none() {
        warnings.push(
            Diagnostic::warning(
                "rules-clause-missing",
                file,
                at(None),
                format!("rule `{}` is bound to no clause", r.id),
            )
            .with_help("add `clause:` so the audit can give the clause a verdict"),
        );
    }
    // Activation / target.
    let mut spec = |raw: &RawSpec, key: &str, set: &mut RuleSet| -> Option<Spec> {
        let (acts, when) = match raw {
            RawSpec::Acts(a) => (a.list(), None),
            RawSpec::Full { activity, when } => (activity.list(), when.clone()),
        };
        let mut ids = Vec::new();
        for a in &acts {
            let a = a.trim();
            if declared && !set.activities.aliases.contains_key(a) {
                warnings.push(
                    Diagnostic::warning(
                        "rules-activity-undeclared",
                        file,
                        at(Some(key)),
                        format!("activity `{a}` is not declared in `activities:`"),
                    )
                    .with_help("declare it (canonical name → log names) or fix the spelling"),
                );
            }
            ids.push(set.activities.declare(a));
        }
        ids.sort_unstable();
        ids.dedup();
        let mut compiled = None;
        if let Some(src) = &when {
            let interner = &set.interner;
            match expr::compile(src, Context::Local, &mut set.slots, &mut |s| {
                interner.intern(s)
            }) {
                Ok(e) => compiled = Some(e),
                Err(e) => {
                    errors.push(
                        Diagnostic::error(
                            "rules-expression",
                            file,
                            at(Some(key)),
                            format!("{key}.when: {e}: `{src}`"),
                        )
                        .with_help("conditions: name == \"text\", name in [\"a\", \"b\"], n >= 3, time <= other_time - 12h, and/or/not, exists(name)"),
                    );
                    return None;
                }
            }
        }
        let text = match &when {
            Some(w) => format!("{} [{w}]", acts.join("|")),
            None => acts.join("|"),
        };
        Some(Spec {
            acts: ids,
            when: compiled,
            text,
        })
    };
    let activation = spec(&r.activation, "activation", set);
    let target = match (&r.target, t.is_unary()) {
        (Some(_), true) => {
            errors.push(Diagnostic::error(
                "rules-target",
                file,
                at(Some("target")),
                format!("template `{}` has no target", t.name()),
            ));
            None
        }
        (None, false) => {
            errors.push(Diagnostic::error(
                "rules-target",
                file,
                at(None),
                format!("template `{}` needs a `target`", t.name()),
            ));
            None
        }
        (Some(raw), false) => spec(raw, "target", set),
        (None, true) => None,
    };
    // Correlation.
    let mut correlation = None;
    let mut correlation_text = None;
    if let Some(c) = &r.correlation {
        if t.is_unary() {
            errors.push(Diagnostic::error(
                "rules-correlation",
                file,
                at(Some("correlation")),
                format!("template `{}` has no target to correlate with", t.name()),
            ));
        }
        let src = match c {
            OneOrMany::One(s) if s.contains('.') || s.contains('=') => s.clone(),
            other => other
                .list()
                .iter()
                .map(|a| format!("A.`{a}` == T.`{a}`", a = a.trim()))
                .collect::<Vec<_>>()
                .join(" && "),
        };
        let interner = &set.interner;
        match expr::compile(&src, Context::Pair, &mut set.slots, &mut |s| {
            interner.intern(s)
        }) {
            Ok(e) => {
                correlation = Some(e);
                correlation_text = Some(src);
            }
            Err(e) => errors.push(
                Diagnostic::error(
                    "rules-expression",
                    file,
                    at(Some("correlation")),
                    format!("correlation: {e}: `{src}`"),
                )
                .with_help(
                    "list attributes that must be equal (`[worker_id]`) or write `A.x == T.x`",
                ),
            ),
        }
    }
    // Window.
    let mut window = None;
    if let Some(w) = &r.window {
        if t.is_unary() {
            errors.push(Diagnostic::error(
                "rules-window",
                file,
                at(Some("window")),
                format!("template `{}` has no target to time", t.name()),
            ));
        }
        let dur = |d: &Option<RawDuration>, key: &str| -> Result<Option<Micros>, Diagnostic> {
            match d {
                None => Ok(None),
                Some(RawDuration::Zero(0)) => Ok(Some(0)),
                Some(RawDuration::Zero(n)) => Err(Diagnostic::error(
                    "rules-window",
                    file,
                    at(Some("window")),
                    format!("window.{key}: `{n}` has no unit"),
                )
                .with_help("write 20m, 1h, 48h, 7d")),
                Some(RawDuration::Text(s)) => time::parse_duration(s).map(Some).ok_or_else(|| {
                    Diagnostic::error(
                        "rules-window",
                        file,
                        at(Some("window")),
                        format!("window.{key}: `{s}` is not a duration"),
                    )
                    .with_help("write 20m, 1h30m, 48h, 7d or ISO 8601 PT20M")
                }),
            }
        };
        let unordered = matches!(
            t,
            Template::RespondedExistence
                | Template::CoExistence
                | Template::NotCoExistence
                | Template::NotRespondedExistence
        );
        match (dur(&w.min, "min"), dur(&w.max, "max")) {
            (Ok(min), Ok(max)) => {
                let min = min.unwrap_or(if unordered { i64::MIN } else { 0 });
                let max = max.unwrap_or(i64::MAX);
                if min > max {
                    errors.push(Diagnostic::error(
                        "rules-window",
                        file,
                        at(Some("window")),
                        "window.min is larger than window.max",
                    ));
                } else if min < 0 && !unordered {
                    errors.push(
                        Diagnostic::error(
                            "rules-window",
                            file,
                            at(Some("window")),
                            format!(
                                "a `{}` window measures time forward from the earlier event; it cannot be negative",
                                t.name()
                            ),
                        )
                        .with_help("see docs/audit-rules.md, “Time windows”"),
                    );
                } else {
                    window = Some(Window { min, max });
                }
            }
            (a, b) => errors.extend(a.err().into_iter().chain(b.err())),
        }
    }
    // Warning threshold (live monitoring).
    let warn = match &r.warn {
        None => None,
        Some(w) => {
            let bad = |msg: String| {
                Diagnostic::error("rules-warn", file, at(Some("warn")), msg).with_help(
                    "write a share of the window (`75%`) or a time after the activation (`15m`)",
                )
            };
            let parsed = match w {
                RawDuration::Text(s) if s.trim_end().ends_with('%') => {
                    let num = s.trim().trim_end_matches('%').trim();
                    match num.parse::<f64>() {
                        Ok(p) if p > 0.0 && p < 100.0 => {
                            if window.as_ref().is_none_or(|w| w.max == i64::MAX) {
                                Err(bad(format!(
                                    "warn: `{s}` is a share of the window, but the rule has no window.max"
                                )))
                            } else {
                                Ok(Warn::Share(p / 100.0))
                            }
                        }
                        _ => Err(bad(format!(
                            "warn: `{s}` is not a share between 0% and 100%"
                        ))),
                    }
                }
                RawDuration::Text(s) => time::parse_duration(s)
                    .filter(|d| *d > 0)
                    .map(Warn::After)
                    .ok_or_else(|| bad(format!("warn: `{s}` is not a duration or a share"))),
                RawDuration::Zero(n) => Err(bad(format!("warn: `{n}` has no unit"))),
            };
            match parsed {
                Ok(w) if t.is_unary() || t.is_negative() => {
                    let _ = w;
                    errors.push(bad(format!(
                        "template `{}` has no obligation to warn about",
                        t.name()
                    )));
                    None
                }
                Ok(w) => Some(w),
                Err(d) => {
                    errors.push(d);
                    None
                }
            }
        }
    };
    let n = match (t, r.n) {
        (Template::Existence | Template::Absence, None) => 1,
        (Template::Exactly, None) => {
            errors.push(Diagnostic::error(
                "rules-n",
                file,
                at(None),
                "template `exactly` needs `n`",
            ));
            0
        }
        (Template::Existence | Template::Absence | Template::Exactly, Some(n)) => {
            if n == 0 && t != Template::Exactly {
                errors.push(Diagnostic::error(
                    "rules-n",
                    file,
                    at(Some("n")),
                    format!("`{}` with n: 0 is always true; use n ≥ 1", t.name()),
                ));
            }
            n
        }
        (_, Some(_)) => {
            errors.push(Diagnostic::error(
                "rules-n",
                file,
                at(Some("n")),
                format!("template `{}` takes no `n`", t.name()),
            ));
            0
        }
        (_, None) => 0,
    };
    let (Some(activation), true) = (activation, errors.is_empty()) else {
        return Err(errors);
    };
    Ok((
        Rule {
            id: r.id.clone(),
            title: r.title.clone().unwrap_or_default(),
            clauses,
            template: t,
            n,
            activation,
            target,
            correlation,
            correlation_text,
            window,
            warn,
            severity: r.severity.unwrap_or(Severity::Major),
            note: r.note.clone(),
            file: file.to_string(),
            pos: at(None),
        },
        warnings,
    ))
}

/// `T/ZTAC 001.2-2023#9.1` → `T/ZTAC 001.2—2023#9.1`; `#9.1` with a default standard.
pub fn normalize_clause(c: &str, standard: Option<&str>) -> Result<String, String> {
    let c = c.trim();
    let (code, number) = match c.split_once('#') {
        Some(("", n)) => match standard {
            Some(s) => (s, n),
            None => {
                return Err(format!(
                    "clause `{c}` names no standard and the file has no `standard:`"
                ));
            }
        },
        Some((code, n)) => (code, n),
        None => return Err(format!("clause `{c}` is not `CODE#NUMBER`")),
    };
    let code = Code::parse(code).map_err(|e| format!("clause `{c}`: {e}"))?;
    if number.trim().is_empty() {
        return Err(format!("clause `{c}` has no clause number after `#`"));
    }
    Ok(format!("{code}#{}", number.trim()))
}

/// Checks every rule's clauses against the standards: the clause must exist, and it
/// should be a requirement (a rule on a 宜/可 provision is a warning: it cannot
/// make the platform nonconforming).
pub fn check_bindings(rules: &[Rule], standards: &Collection) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in rules {
        for id in &r.clauses {
            let (code, number) = id.split_once('#').unwrap_or((id, ""));
            let Some(std) = standards.find(code) else {
                out.push(
                    Diagnostic::error(
                        "rules-clause-unknown",
                        &r.file,
                        r.pos,
                        format!("rule `{}`: standard `{code}` is not in the library", r.id),
                    )
                    .with_help("check the code and year, or pass --standards DIR"),
                );
                continue;
            };
            let (clause_no, provision) = match number.split_once('/') {
                Some((c, p)) => (c, Some(p)),
                None => (number, None),
            };
            let Some(clause) = std.clause(clause_no) else {
                out.push(
                    Diagnostic::error(
                        "rules-clause-unknown",
                        &r.file,
                        r.pos,
                        format!("rule `{}`: {code} has no clause {clause_no}", r.id),
                    )
                    .with_help(format!("`biaozhun show \"{code}\"` lists its clauses")),
                );
                continue;
            };
            let kinds: Vec<ProvisionType> = match provision {
                Some(p) => {
                    let pid = format!("{}/{p}", clause.id);
                    match clause.provisions.iter().find(|x| x.id == pid) {
                        Some(x) => vec![x.kind],
                        None => {
                            out.push(Diagnostic::error(
                                "rules-clause-unknown",
                                &r.file,
                                r.pos,
                                format!("rule `{}`: clause {clause_no} has no provision {p}", r.id),
                            ));
                            continue;
                        }
                    }
                }
                None => {
                    let own: Vec<_> = clause.provisions.iter().map(|p| p.kind).collect();
                    if own.is_empty() {
                        clause
                            .walk()
                            .iter()
                            .flat_map(|c| c.provisions.iter().map(|p| p.kind))
                            .collect()
                    } else {
                        own
                    }
                }
            };
            if !kinds.contains(&ProvisionType::Requirement) {
                let found: Vec<&str> = kinds.iter().map(|k| k.label()).collect();
                out.push(
                    Diagnostic::warning(
                        "rules-clause-not-requirement",
                        &r.file,
                        r.pos,
                        format!(
                            "rule `{}` is bound to {id}, which states no requirement (its provisions: {})",
                            r.id,
                            if found.is_empty() { "none".to_string() } else { found.join("、") }
                        ),
                    )
                    .with_help("a 宜/可 provision cannot be violated; bind the rule to the 应 clause or drop it"),
                );
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// YAML positions

#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct Tok<'a> {
    line: usize,
    indent: usize,
    dash: bool,
    text: &'a str,
}

/// Line and column of a path (`rules.3.window`) in a block-style YAML text; falls
/// back to the deepest part of the path that was found.
pub fn locate(text: &str, path: &[Seg]) -> Pos {
    let mut toks = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut indent = raw.len() - t.len();
        let mut rest = t;
        while rest == "-" || rest.starts_with("- ") {
            toks.push(Tok {
                line: i + 1,
                indent,
                dash: true,
                text: rest,
            });
            let after = rest[1..].trim_start();
            indent += rest.len() - after.len();
            rest = after;
            if rest.is_empty() {
                break;
            }
        }
        if !rest.is_empty() {
            toks.push(Tok {
                line: i + 1,
                indent,
                dash: false,
                text: rest,
            });
        }
    }
    let mut lo = 0;
    let mut hi = toks.len();
    let mut pos = Pos::START;
    for seg in path {
        let range = &toks[lo..hi];
        match seg {
            Seg::Key(k) => {
                let min = range.iter().filter(|t| !t.dash).map(|t| t.indent).min();
                let found = range
                    .iter()
                    .position(|t| !t.dash && Some(t.indent) == min && key_of(t.text) == Some(k));
                let Some(f) = found else { return pos };
                let ind = range[f].indent;
                pos = Pos::new(range[f].line, ind + 1);
                let start = lo + f + 1;
                let end = toks[start..hi]
                    .iter()
                    .position(|t| {
                        if t.dash {
                            t.indent < ind
                        } else {
                            t.indent <= ind
                        }
                    })
                    .map(|e| start + e)
                    .unwrap_or(hi);
                lo = start;
                hi = end;
            }
            Seg::Index(n) => {
                let min = range.iter().filter(|t| t.dash).map(|t| t.indent).min();
                let items: Vec<usize> = range
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.dash && Some(t.indent) == min)
                    .map(|(i, _)| i)
                    .collect();
                let Some(&f) = items.get(*n) else { return pos };
                let ind = range[f].indent;
                pos = Pos::new(range[f].line, ind + 1);
                let start = lo + f + 1;
                let end = toks[start..hi]
                    .iter()
                    .position(|t| t.indent <= ind)
                    .map(|e| start + e)
                    .unwrap_or(hi);
                lo = start;
                hi = end;
            }
        }
    }
    pos
}

fn key_of(text: &str) -> Option<&str> {
    let (k, _) = text.split_once(':')?;
    Some(k.trim().trim_matches(|c| c == '"' || c == '\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r##"standard: "T/ZTAC 001.2—2023"
activities:
  order_created: [下单]
  accepted: 受理
  dispatched: [派单, dispatch]
rules:
  - id: first-response
    clause: "#9.1"
    template: response
    activation: order_created
    target:
      activity: accepted
      when: resource != "系统"
    window: { max: 20m }
  - id: red-code
    clause: "T/ZTAC 001.2-2023#10.2"
    template: not_response
    activation: { activity: 核验安心码, when: code_color == "红" }
    target: dispatched
    correlation: [worker_id]
"##;

    fn load(text: &str) -> Result<RuleSet, Vec<Diagnostic>> {
        RuleSet::from_sources(&[("audits/test.yaml".into(), text.into())])
    }

    #[test]
    fn a_rule_file_compiles() {
        let set = load(RULES).unwrap();
        assert_eq!(set.rules.len(), 2);
        let r = &set.rules[0];
        assert_eq!(r.clauses, ["T/ZTAC 001.2—2023#9.1"]);
        assert_eq!(
            r.window,
            Some(Window {
                min: 0,
                max: 20 * 60 * 1_000_000
            })
        );
        assert_eq!(
            set.activities.id("下单"),
            set.activities.id("order_created")
        );
        assert_eq!(set.activities.id("dispatch"), set.activities.id("派单"));
        assert_eq!(set.activities.id("接单"), 0);
        assert_eq!(set.rules[1].clauses, ["T/ZTAC 001.2—2023#10.2"]);
        assert!(set.rules[1].correlation.is_some());
        // 核验安心码 was used without being declared.
        assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
        assert_eq!(set.warnings[0].code, "rules-activity-undeclared");
        assert_eq!(set.warnings[0].line, 18);
    }

    fn first_error(text: &str) -> Diagnostic {
        match load(text) {
            Ok(_) => panic!("expected an error"),
            Err(d) => d.into_iter().next().unwrap(),
        }
    }

    #[test]
    fn errors_point_at_the_offending_line() {
        let bad = RULES.replace("window: { max: 20m }", "window: { max: 20q }");
        let d = first_error(&bad);
        assert_eq!((d.code, d.line), ("rules-window", 14), "{d}");

        let bad = RULES.replace("template: not_response", "template: not_respons");
        let d = first_error(&bad);
        assert_eq!((d.code, d.line), ("rules-schema", 17), "{d}");
        assert!(d.message.contains("unknown template"), "{d}");

        let bad = RULES.replace("code_color == \"红\"", "code_color = \"红\"");
        let d = first_error(&bad);
        assert_eq!((d.code, d.line), ("rules-expression", 18), "{d}");

        let bad = RULES.replace(
            "    correlation: [worker_id]",
            "    corelation: [worker_id]",
        );
        let d = first_error(&bad);
        assert_eq!((d.code, d.line), ("rules-schema", 20), "{d}");
        assert!(d.message.contains("corelation"), "{d}");

        let bad = RULES.replace("  - id: red-code", "  - id: first-response");
        let d = first_error(&bad);
        assert_eq!((d.code, d.line), ("rules-duplicate-id", 15), "{d}");

        let bad = RULES.replace("    target: dispatched\n", "");
        let d = first_error(&bad);
        assert_eq!(d.code, "rules-target", "{d}");

        let d = first_error("rules:\n  - id: x\n    template: exactly\n    activation: a\n");
        assert_eq!(d.code, "rules-n", "{d}");

        let d = first_error("rules: [\n");
        assert_eq!(d.code, "rules-yaml", "{d}");
    }

    #[test]
    fn locate_walks_nested_blocks() {
        let p = locate(
            RULES,
            &[Seg::Key("rules"), Seg::Index(1), Seg::Key("target")],
        );
        assert_eq!(p.line, 19);
        let p = locate(RULES, &[Seg::Key("activities"), Seg::Key("dispatched")]);
        assert_eq!(p.line, 5);
        let p = locate(
            RULES,
            &[
                Seg::Key("rules"),
                Seg::Index(0),
                Seg::Key("target"),
                Seg::Key("when"),
            ],
        );
        assert_eq!(p.line, 13);
    }

    #[test]
    fn clause_ids_normalise() {
        assert_eq!(
            normalize_clause("T/ZTAC 001.2-2023#9.1", None).unwrap(),
            "T/ZTAC 001.2—2023#9.1"
        );
        assert!(normalize_clause("#9.1", None).is_err());
        assert!(normalize_clause("9.1", Some("T/ZTAC 001.2—2023")).is_err());
    }

    #[test]
    fn slots_are_stored_only_where_read() {
        let set = load(RULES).unwrap();
        let by_act = set.slots_by_activity();
        let verify = set.activities.id("核验安心码") as usize;
        let dispatch = set.activities.id("派单") as usize;
        let created = set.activities.id("下单") as usize;
        let names = |v: &Vec<u16>| -> Vec<String> {
            v.iter()
                .map(|s| set.slots.names[*s as usize].clone())
                .collect()
        };
        assert_eq!(names(&by_act[verify]), ["code_color", "worker_id"]);
        assert_eq!(names(&by_act[dispatch]), ["worker_id"]);
        assert!(by_act[created].is_empty());
    }
}
