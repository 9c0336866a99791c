//! Conformance auditing. This module: order workflows (event logs) against Declare
//! rules bound to clauses.
//!
//! Data flows one way: rule files ([`rules`]) are compiled once; the log is streamed
//! into per-case buffers ([`log`]); every case is sorted and checked against every
//! rule ([`engine`]); the counts and offending cases become a [`WorkflowResult`], a
//! stable JSON document that later layers store and render.

pub mod checks;
pub mod engine;
pub mod evidence;
pub mod expr;
pub mod generate;
pub mod log;
pub mod records;
pub mod rules;
pub mod time;
pub mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use engine::{Case, Checker, Ev, Scratch, Verdict};
use log::{ReadError, ReadOptions, ReadStats, Store};
use rules::{RuleSet, Severity, Template};
use time::Micros;

pub const RESULT_SCHEMA: &str = "biaozhun.workflow-result/1";

/// Share of data rows that may be skipped before the verdicts are withheld, unless
/// an audit sets its own: 0.1 %.
pub const DEFAULT_MAX_SKIPPED: f64 = 0.001;

/// What to check and how.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub read: ReadOptions,
    /// Cases whose first event lies in `[from, to)` are checked; the rest are counted
    /// as outside the period.
    pub from: Option<Micros>,
    pub to: Option<Micros>,
    /// Offset used to display the period bounds.
    pub display_offset: i32,
    /// Largest share of data rows that may be skipped (0.001 = 0.1 %); above it,
    /// no verdict but 不符合 stands: 数据不完整，不予结论.
    pub max_skipped: f64,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            read: ReadOptions::default(),
            from: None,
            to: None,
            display_offset: 0,
            max_skipped: DEFAULT_MAX_SKIPPED,
        }
    }
}

/// The result of checking one log against one rule set.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowResult {
    pub schema: &'static str,
    pub log: LogInfo,
    /// Whether the data supports the verdicts, and why not.
    pub data: DataQuality,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    pub cases: CaseCounts,
    pub rule_files: Vec<String>,
    pub rules: Vec<RuleResult>,
    pub clauses: Vec<ClauseResult>,
}

/// Whether a log read well enough for its verdicts to stand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    /// Every verdict stands. When false, clauses without a violation are
    /// 数据不完整，不予结论 (or 未评价 when no order was checked at all); a violation
    /// found is a violation still.
    pub conclusive: bool,
    /// No order was checked (an empty log, or none in the period).
    pub no_data: bool,
    /// More rows were skipped than the audit allows.
    pub too_many_skipped: bool,
    pub rows: u64,
    pub rows_skipped: u64,
    pub skipped_rate: f64,
    pub max_skipped_rate: f64,
    /// Attributes the rules read that the log does not carry: the rules that read
    /// them give no verdict.
    pub missing_attributes: Vec<String>,
    /// Why the verdicts do not all stand, one sentence each (Chinese, for people).
    pub reasons: Vec<String>,
}

impl DataQuality {
    /// Judges a read: too many skipped rows, no order in the period, or a column the
    /// rules need that the log lacks.
    pub fn assess(stats: &ReadStats, checked_cases: u64, max_skipped: f64) -> DataQuality {
        let rate = stats.skipped_rate();
        let no_data = checked_cases == 0;
        let too_many_skipped = stats.rows_skipped > 0 && rate > max_skipped;
        let missing_attributes = if no_data {
            Vec::new()
        } else {
            stats.attributes_missing.clone()
        };
        let mut reasons = Vec::new();
        if no_data {
            reasons.push(if stats.rows == 0 {
                "日志中没有数据行，无从评价".to_string()
            } else {
                format!("审核期间内没有可检查的订单（共读取 {} 行数据）", stats.rows)
            });
        }
        if too_many_skipped {
            reasons.push(format!(
                "{} 行数据无法读取而被跳过，占 {}，超过允许的 {}",
                stats.rows_skipped,
                percent(rate),
                percent(max_skipped)
            ));
        }
        if !missing_attributes.is_empty() {
            reasons.push(format!(
                "日志缺少规则所需的字段：{}；依赖这些字段的规则不予结论",
                missing_attributes.join("、")
            ));
        }
        DataQuality {
            conclusive: reasons.is_empty(),
            no_data,
            too_many_skipped,
            rows: stats.rows,
            rows_skipped: stats.rows_skipped,
            skipped_rate: rate,
            max_skipped_rate: max_skipped,
            missing_attributes,
            reasons,
        }
    }
}

/// A percentage as typed (`0.1`, `0.1%`, `０．５％`) as a share (0.001), if it is a
/// number from 0 to 100.
pub fn parse_percent(s: &str) -> Option<f64> {
    let s: String = s
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '．' => '.',
            c => c,
        })
        .collect();
    let p: f64 = s.trim_end_matches(['%', '％']).trim().parse().ok()?;
    (0.0..=100.0).contains(&p).then_some(p / 100.0)
}

/// A share as people write it: 0.1 %, 2.35 %, 100 %.
pub fn percent(x: f64) -> String {
    let p = x * 100.0;
    let s = if p == 0.0 || p >= 10.0 {
        format!("{p:.1}")
    } else if p >= 0.1 {
        format!("{p:.2}")
    } else {
        format!("{p:.3}")
    };
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} %")
}

/// One data source's read report, as an audit stores and shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceReport {
    /// The file read (its name, not where it lives).
    pub file: String,
    pub stats: ReadStats,
    pub cases: CaseCounts,
    pub data: DataQuality,
}

impl SourceReport {
    pub fn of(w: &WorkflowResult) -> SourceReport {
        SourceReport {
            file: Path::new(&w.log.path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| w.log.path.clone()),
            stats: w.log.stats.clone(),
            cases: w.cases.clone(),
            data: w.data.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LogInfo {
    pub path: String,
    #[serde(flatten)]
    pub stats: ReadStats,
}

#[derive(Debug, Clone, Serialize)]
pub struct Period {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Exclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaseCounts {
    pub total: u64,
    pub checked: u64,
    pub outside_period: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    pub id: String,
    pub title: String,
    pub clauses: Vec<String>,
    pub template: Template,
    pub severity: Severity,
    pub activation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    pub cases_checked: u64,
    /// Cases with at least one activation (fulfilled + violated).
    pub activated: u64,
    pub fulfilled: u64,
    pub violated: u64,
    pub vacuous: u64,
    /// Activation events over all cases.
    pub activations: u64,
    /// Unfulfilled activations / forbidden occurrences over all cases.
    pub violations: u64,
    /// Every violating case, sorted by case id.
    pub violating_cases: Vec<Violation>,
    /// Attributes this rule reads that the log lacks: no verdict but a violation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowText {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
}

/// One violating case with the event that shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub case: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<EventRef>,
    /// Unfulfilled activations (or forbidden occurrences) in this case.
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRef {
    pub activity: String,
    pub time: String,
    /// Line (CSV, JSON Lines) or event number (XES) in the input.
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClauseVerdict {
    /// At least one rule found a violating case.
    Nonconforming,
    /// Every rule was exercised by some case and none was violated.
    Conforming,
    /// No case activated any rule of the clause: no evidence either way.
    NotExercised,
    /// No violation found, but the data is incomplete (too many rows skipped, or a
    /// column the rules read is missing): 数据不完整，不予结论.
    Incomplete,
    /// No order was checked at all (an empty log, or none in the period).
    NotEvaluated,
}

impl ClauseVerdict {
    pub fn label(self) -> &'static str {
        match self {
            ClauseVerdict::Nonconforming => "不符合",
            ClauseVerdict::Conforming => "符合",
            ClauseVerdict::NotExercised => "未触发",
            ClauseVerdict::Incomplete => "数据不完整，不予结论",
            ClauseVerdict::NotEvaluated => "未评价",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClauseResult {
    pub clause: String,
    pub verdict: ClauseVerdict,
    pub rules: Vec<String>,
    /// Distinct cases violating any of the clause's rules.
    pub violating_cases: u64,
    pub worst_severity: Option<Severity>,
}

#[derive(Default)]
struct Acc {
    checked: u64,
    vacuous: u64,
    fulfilled: u64,
    violated: u64,
    activations: u64,
    violations: u64,
    cases: Vec<Violation>,
}

/// Reads `path` and checks every case against `set`.
pub fn check_log(
    path: &Path,
    mut set: RuleSet,
    opts: &AuditOptions,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<WorkflowResult, ReadError> {
    let started = std::time::Instant::now();
    let store = Store::default();
    let stats = log::read(path, &set, &opts.read, &store, progress)?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        events = stats.events,
        "read"
    );
    let interner = std::mem::take(&mut set.interner);
    let values = interner.freeze(opts.read.default_offset);
    let slots_by_act = set.slots_by_activity();
    let checker = Checker::new(&set.rules, &values, &slots_by_act, set.slots.names.len());
    let shards = store.into_shards();
    tracing::debug!(
        values = values.len(),
        stored_values = shards.iter().map(|s| s.attrs.len()).sum::<usize>(),
        cases = shards.iter().map(|s| s.cases()).sum::<usize>(),
        "stored"
    );
    let (accs, counts) = check_shards(shards, &checker, &set, opts);
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "checked");
    let data = DataQuality::assess(&stats, counts.checked, opts.max_skipped);
    Ok(build_result(path, &set, stats, data, accs, counts, opts))
}

fn check_shards(
    shards: Vec<log::Shard>,
    checker: &Checker<'_>,
    set: &RuleSet,
    opts: &AuditOptions,
) -> (Vec<Acc>, CaseCounts) {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(shards.len().max(1));
    let queue = std::sync::Mutex::new(shards);
    let parts: Vec<(Vec<Acc>, CaseCounts)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let queue = &queue;
                s.spawn(move || {
                    let mut accs: Vec<Acc> = (0..set.rules.len()).map(|_| Acc::default()).collect();
                    let mut counts = CaseCounts::default();
                    let mut scratch = Scratch::default();
                    let mut evs: Vec<Ev> = Vec::new();
                    let mut attrs: Vec<u32> = Vec::new();
                    let mut attr_at: Vec<u32> = Vec::new();
                    loop {
                        let shard = {
                            let mut q = match queue.lock() {
                                Ok(g) => g,
                                Err(p) => p.into_inner(),
                            };
                            q.pop()
                        };
                        let Some(shard) = shard else { break };
                        check_shard(
                            &shard,
                            checker,
                            set,
                            opts,
                            &mut accs,
                            &mut counts,
                            &mut scratch,
                            (&mut evs, &mut attrs, &mut attr_at),
                        );
                    }
                    (accs, counts)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut accs: Vec<Acc> = (0..set.rules.len()).map(|_| Acc::default()).collect();
    let mut counts = CaseCounts::default();
    for (part, c) in parts {
        counts.total += c.total;
        counts.checked += c.checked;
        counts.outside_period += c.outside_period;
        for (into, a) in accs.iter_mut().zip(part) {
            into.checked += a.checked;
            into.vacuous += a.vacuous;
            into.fulfilled += a.fulfilled;
            into.violated += a.violated;
            into.activations += a.activations;
            into.violations += a.violations;
            into.cases.extend(a.cases);
        }
    }
    for a in &mut accs {
        a.cases.sort_by(|x, y| x.case.cmp(&y.case));
    }
    (accs, counts)
}

/// Sorts one shard's events by (case, instant, input line) and checks each case.
#[allow(clippy::too_many_arguments)]
fn check_shard(
    shard: &log::Shard,
    checker: &Checker<'_>,
    set: &RuleSet,
    opts: &AuditOptions,
    accs: &mut [Acc],
    counts: &mut CaseCounts,
    scratch: &mut Scratch,
    (evs, attrs, attr_at): (&mut Vec<Ev>, &mut Vec<u32>, &mut Vec<u32>),
) {
    let n_stored = |act: u16| checker.stored(act);
    // Where each event's values start, in input order.
    let mut value_at: Vec<u32> = Vec::with_capacity(shard.evs.len());
    let mut at = 0u32;
    for e in &shard.evs {
        value_at.push(at);
        at += n_stored(e.act) as u32;
    }
    let mut order: Vec<u32> = (0..shard.evs.len() as u32).collect();
    order.sort_unstable_by_key(|&i| {
        let e = &shard.evs[i as usize];
        (shard.ev_case[i as usize], e.t, e.line)
    });
    let mut cursor = 0;
    for case_idx in 0..shard.cases() as u32 {
        let begin = cursor;
        while cursor < order.len() && shard.ev_case[order[cursor] as usize] == case_idx {
            cursor += 1;
        }
        counts.total += 1;
        let first_t = shard.first_t[case_idx as usize];
        if opts.from.is_some_and(|f| first_t < f) || opts.to.is_some_and(|t| first_t >= t) {
            counts.outside_period += 1;
            continue;
        }
        counts.checked += 1;
        evs.clear();
        attrs.clear();
        attr_at.clear();
        for &i in &order[begin..cursor] {
            let e = shard.evs[i as usize];
            evs.push(e);
            attr_at.push(attrs.len() as u32);
            let v0 = value_at[i as usize] as usize;
            attrs.extend_from_slice(shard.attrs.get(v0..v0 + n_stored(e.act)).unwrap_or(&[]));
        }
        let case = Case {
            evs,
            attrs,
            attr_at,
        };
        for (r, acc) in accs.iter_mut().enumerate() {
            let o = checker.check(r, &case, scratch);
            acc.checked += 1;
            acc.activations += o.activations as u64;
            match o.verdict {
                Verdict::Vacuous => acc.vacuous += 1,
                Verdict::Fulfilled => acc.fulfilled += 1,
                Verdict::Violated => {
                    acc.violated += 1;
                    acc.violations += o.violations as u64;
                    let eref = |i: usize| {
                        let e = &evs[i];
                        EventRef {
                            activity: set.activities.label(e.act).to_string(),
                            time: time::format_instant(e.t, e.off as i32),
                            line: e.line,
                        }
                    };
                    acc.cases.push(Violation {
                        case: shard.name(case_idx).to_string(),
                        event: o.evidence.map(|(i, _)| eref(i)),
                        target: o.evidence.and_then(|(_, j)| j).map(eref),
                        count: o.violations,
                    });
                }
            }
        }
    }
}

fn build_result(
    path: &Path,
    set: &RuleSet,
    stats: ReadStats,
    data: DataQuality,
    accs: Vec<Acc>,
    cases: CaseCounts,
    opts: &AuditOptions,
) -> WorkflowResult {
    let rules: Vec<RuleResult> = set
        .rules
        .iter()
        .zip(accs)
        .map(|(r, a)| RuleResult {
            id: r.id.clone(),
            title: r.title.clone(),
            clauses: r.clauses.clone(),
            template: r.template,
            severity: r.severity,
            activation: r.activation.text.clone(),
            target: r.target.as_ref().map(|t| t.text.clone()),
            correlation: r.correlation_text.clone(),
            window: r.window.map(|w| WindowText {
                min: (w.min != 0 && w.min != i64::MIN).then(|| time::format_duration(w.min)),
                max: (w.max != i64::MAX).then(|| time::format_duration(w.max)),
            }),
            n: matches!(
                r.template,
                Template::Existence | Template::Absence | Template::Exactly
            )
            .then_some(r.n),
            cases_checked: a.checked,
            activated: a.fulfilled + a.violated,
            fulfilled: a.fulfilled,
            violated: a.violated,
            vacuous: a.vacuous,
            activations: a.activations,
            violations: a.violations,
            violating_cases: a.cases,
            missing: r
                .slots()
                .into_iter()
                .filter_map(|slot| set.slots.names.get(slot as usize))
                .filter(|n| data.missing_attributes.contains(n))
                .cloned()
                .collect(),
        })
        .collect();
    let mut by_clause: BTreeMap<String, Vec<&RuleResult>> = BTreeMap::new();
    for r in &rules {
        for c in &r.clauses {
            by_clause.entry(c.clone()).or_default().push(r);
        }
    }
    let clauses = by_clause
        .into_iter()
        .map(|(clause, rs)| {
            let violating: BTreeSet<&str> = rs
                .iter()
                .flat_map(|r| r.violating_cases.iter().map(|v| v.case.as_str()))
                .collect();
            let verdict = if data.no_data {
                ClauseVerdict::NotEvaluated
            } else if !violating.is_empty() {
                ClauseVerdict::Nonconforming
            } else if data.too_many_skipped || rs.iter().any(|r| !r.missing.is_empty()) {
                ClauseVerdict::Incomplete
            } else if rs.iter().any(|r| r.activated > 0) {
                ClauseVerdict::Conforming
            } else {
                ClauseVerdict::NotExercised
            };
            ClauseResult {
                worst_severity: rs
                    .iter()
                    .filter(|r| r.violated > 0)
                    .map(|r| r.severity)
                    .min(),
                clause,
                verdict,
                rules: rs.iter().map(|r| r.id.clone()).collect(),
                violating_cases: violating.len() as u64,
            }
        })
        .collect();
    let period = (opts.from.is_some() || opts.to.is_some()).then(|| Period {
        from: opts
            .from
            .map(|t| time::format_instant(t, opts.display_offset)),
        to: opts
            .to
            .map(|t| time::format_instant(t, opts.display_offset)),
    });
    WorkflowResult {
        schema: RESULT_SCHEMA,
        log: LogInfo {
            path: path.display().to_string(),
            stats,
        },
        data,
        period,
        cases,
        rule_files: set.files.clone(),
        rules,
        clauses,
    }
}
