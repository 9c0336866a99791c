//! The workflow conformance checker on real files: the shipped rules against the
//! generator's ground truth (CSV, JSON Lines, XES.gz), every documented semantic on
//! hand-made logs, bad input, and a differential test against a naive reference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use biaozhun::audit::generate::{self, OutFormat, Settings};
use biaozhun::audit::log::ReadOptions;
use biaozhun::audit::rules::{self, RuleSet, Template};
use biaozhun::audit::{AuditOptions, ClauseVerdict, WorkflowResult, check_log, time};
use biaozhun::standard::Collection;
use proptest::prelude::*;
use test_case::test_case;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_and_template_rules() -> RuleSet {
    RuleSet::load(&[
        root().join("audits"),
        root().join("tests/data/workflow/templates.yaml"),
    ])
    .expect("shipped rules load")
}

fn violating(r: &WorkflowResult) -> BTreeMap<String, BTreeSet<String>> {
    r.rules
        .iter()
        .map(|x| {
            (
                x.id.clone(),
                x.violating_cases.iter().map(|v| v.case.clone()).collect(),
            )
        })
        .collect()
}

#[test_case(OutFormat::Csv, "log.csv", false; "csv")]
#[test_case(OutFormat::Jsonl, "log.jsonl", false; "json lines")]
#[test_case(OutFormat::Xes, "log.xes.gz", true; "gzipped xes")]
fn generated_logs_match_the_ground_truth_for_every_rule(format: OutFormat, name: &str, gz: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let settings = Settings::new(4000, 11);
    let mut file = std::fs::File::create(&path).unwrap();
    let truth = if gz {
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let t = generate::generate(&settings, format, &mut enc).unwrap();
        enc.finish().unwrap();
        t
    } else {
        generate::generate(&settings, format, &mut file).unwrap()
    };
    let set = shipped_and_template_rules();
    let templates: BTreeSet<Template> = set.rules.iter().map(|r| r.template).collect();
    assert_eq!(
        templates.len(),
        Template::ALL.len(),
        "the shipped and test rules exercise every template"
    );
    let result = check_log(&path, set, &AuditOptions::default(), None).unwrap();
    assert_eq!(result.log.stats.rows_skipped, 0);
    assert_eq!(result.log.stats.events, truth.events);
    assert_eq!(result.cases.total, truth.orders);
    let got = violating(&result);
    for (rule, cases) in &got {
        let expected: BTreeSet<String> = truth
            .rules
            .get(rule)
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default();
        assert_eq!(
            cases,
            &expected,
            "rule {rule}: extra {:?}, missing {:?}",
            cases.difference(&expected).take(5).collect::<Vec<_>>(),
            expected.difference(cases).take(5).collect::<Vec<_>>()
        );
    }
    // Every fault kind was injected, so every rule with a fault has violations, and
    // window-edge orders (which must pass) were generated too.
    assert_eq!(truth.faults.len(), generate::Fault::ALL.len());
    assert!(truth.edge_cases > 50);
    for r in &result.rules {
        assert!(r.cases_checked == truth.orders);
        assert_eq!(
            r.fulfilled + r.violated + r.vacuous,
            r.cases_checked,
            "{}",
            r.id
        );
    }
}

// ---------------------------------------------------------------------------------
// Semantics on hand-made logs

const HEADER: &str = "case_id,activity,timestamp,worker_id,color";

/// Writes `rows` (after the header) and checks them against one rule.
fn run(rule_yaml: &str, rows: &[&str], opts: AuditOptions) -> WorkflowResult {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.csv");
    let mut text = String::from(HEADER);
    text.push('\n');
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let yaml = format!("rules:\n  - id: r\n{}", indent(rule_yaml));
    let set = RuleSet::from_sources(&[("test.yaml".into(), yaml)]).expect("rule compiles");
    check_log(&path, set, &opts, None).unwrap()
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

fn verdicts(r: &WorkflowResult) -> (u64, u64, u64) {
    let x = &r.rules[0];
    (x.fulfilled, x.violated, x.vacuous)
}

/// Minutes past 09:00 (+08:00) on a fixed day.
fn at(min: i64) -> String {
    let base = time::parse_instant("2023-10-09T09:00:00+08:00", None)
        .unwrap()
        .0;
    time::format_instant(base + min * 60 * time::MICROS_PER_SEC, 480)
}

/// A trace written as `a b c` at minutes 0, 1, 2 …, one case per string.
fn traces(cases: &[&str]) -> Vec<String> {
    let mut rows = Vec::new();
    for (c, trace) in cases.iter().enumerate() {
        for (i, act) in trace.split_whitespace().enumerate() {
            rows.push(format!("c{c},{act},{},,", at(i as i64)));
        }
    }
    rows
}

#[test_case("existence", "n: 2", &["a b a", "a b"], (1, 1, 0))]
#[test_case("absence", "n: 2", &["a b a", "a b", "b"], (1, 1, 1))]
#[test_case("exactly", "n: 1", &["a b a", "a b", "b"], (1, 2, 0))]
#[test_case("init", "", &["a b", "b a"], (1, 1, 0))]
#[test_case("end", "", &["b a", "a b"], (1, 1, 0))]
#[test_case("responded_existence", "target: b", &["b a", "a c", "c"], (1, 1, 1))]
#[test_case("response", "target: b", &["a b", "b a", "c"], (1, 1, 1))]
#[test_case("alternate_response", "target: b", &["a b a b", "a a b", "c"], (1, 1, 1))]
#[test_case("chain_response", "target: b", &["a b", "a c b", "c"], (1, 1, 1))]
#[test_case("precedence", "target: b", &["b a", "a b", "c"], (1, 1, 1))]
#[test_case("alternate_precedence", "target: b", &["b a b a", "b a a", "c"], (1, 1, 1))]
#[test_case("chain_precedence", "target: b", &["b a", "b c a", "c"], (1, 1, 1))]
#[test_case("succession", "target: b", &["a b", "b a b", "a", "c"], (1, 2, 1))]
#[test_case("co_existence", "target: b", &["b a", "b", "c"], (1, 1, 1))]
#[test_case("not_co_existence", "target: b", &["a c", "b a", "c"], (1, 1, 1))]
#[test_case("not_responded_existence", "target: b", &["a c", "b a", "c"], (1, 1, 1))]
#[test_case("not_response", "target: b", &["b a", "a b", "c"], (1, 1, 1))]
#[test_case("not_succession", "target: b", &["b a", "a c b", "c"], (1, 1, 1))]
#[test_case("not_precedence", "target: b", &["a b", "b a", "c"], (1, 1, 1))]
#[test_case("not_chain_response", "target: b", &["a c b", "a b", "c"], (1, 1, 1))]
#[test_case("not_chain_precedence", "target: b", &["b c a", "b a", "c"], (1, 1, 1))]
fn each_template_on_small_traces(
    template: &str,
    extra: &str,
    cases: &[&str],
    expected: (u64, u64, u64),
) {
    let rule = format!("template: {template}\nactivation: a\n{extra}");
    let rows = traces(cases);
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let r = run(&rule, &rows, AuditOptions::default());
    assert_eq!(
        verdicts(&r),
        expected,
        "{template}: (fulfilled, violated, vacuous)"
    );
}

#[test]
fn window_bounds_are_inclusive_to_the_second() {
    let rule = "template: response\nactivation: a\ntarget: b\nwindow: { max: 20m }";
    let base = "2023-10-09T09:00:00+08:00";
    let r = run(
        rule,
        &[
            &format!("ok,a,{base},,"),
            "ok,b,2023-10-09T09:20:00+08:00,,",
            &format!("late,a,{base},,"),
            "late,b,2023-10-09T09:20:01+08:00,,",
            // The same instant written in UTC: exactly 20 min, passes.
            &format!("utc,a,{base},,"),
            "utc,b,2023-10-09T01:20:00Z,,",
        ],
        AuditOptions::default(),
    );
    assert_eq!(verdicts(&r), (2, 1, 0));
    assert_eq!(r.rules[0].violating_cases[0].case, "late");
    // A minimum: the target may not come too early either.
    let rule = "template: response\nactivation: a\ntarget: b\nwindow: { min: 5m, max: 20m }";
    let r = run(
        rule,
        &[
            "c,a,2023-10-09T09:00:00+08:00,,",
            "c,b,2023-10-09T09:04:59+08:00,,",
        ],
        AuditOptions::default(),
    );
    assert_eq!(verdicts(&r), (0, 1, 0));
}

#[test]
fn order_is_by_instant_not_by_text_and_ties_keep_input_order() {
    // 01:30Z is 09:30 in +08:00: after 09:10+08:00 although it sorts first as text.
    let rule = "template: precedence\nactivation: a\ntarget: b";
    let r = run(
        rule,
        &[
            "x,a,2023-10-09T01:30:00Z,,",
            "x,b,2023-10-09T09:10:00+08:00,,",
        ],
        AuditOptions::default(),
    );
    assert_eq!(verdicts(&r), (1, 0, 0));
    // Same instant: the row written first is earlier.
    let r = run(
        rule,
        &[
            "first-b,b,2023-10-09T09:00:00+08:00,,",
            "first-b,a,2023-10-09T09:00:00+08:00,,",
            "first-a,a,2023-10-09T01:00:00Z,,",
            "first-a,b,2023-10-09T09:00:00+08:00,,",
        ],
        AuditOptions::default(),
    );
    assert_eq!(verdicts(&r), (1, 1, 0));
    assert_eq!(r.rules[0].violating_cases[0].case, "first-a");
}

#[test]
fn rows_of_a_case_need_not_be_contiguous() {
    let rule = "template: response\nactivation: a\ntarget: b";
    let r = run(
        rule,
        &[
            "x,a,2023-10-09T09:00:00+08:00,,",
            "y,a,2023-10-09T09:01:00+08:00,,",
            "z,c,2023-10-09T09:01:00+08:00,,",
            "x,b,2023-10-09T09:02:00+08:00,,",
        ],
        AuditOptions::default(),
    );
    assert_eq!(verdicts(&r), (1, 1, 1));
    assert_eq!(
        r.rules[0].violating_cases[0].case, "y",
        "y's activation is still waiting at the end: in audit mode that is a violation"
    );
}

#[test]
fn an_absent_attribute_never_satisfies_a_condition_or_a_correlation() {
    let rule =
        "template: not_response\nactivation: { activity: a, when: color != \"红\" }\ntarget: b";
    let r = run(
        rule,
        &[
            "absent,a,2023-10-09T09:00:00+08:00,,",
            "absent,b,2023-10-09T09:01:00+08:00,,",
            "green,a,2023-10-09T09:00:00+08:00,,绿",
            "green,b,2023-10-09T09:01:00+08:00,,",
        ],
        AuditOptions::default(),
    );
    // `absent` has no activation (vacuous), `green` activates and breaks the rule.
    assert_eq!(verdicts(&r), (0, 1, 1));
    let rule = "template: response\nactivation: a\ntarget: b\ncorrelation: [worker_id]";
    let r = run(
        rule,
        &[
            "same,a,2023-10-09T09:00:00+08:00,W1,",
            "same,b,2023-10-09T09:01:00+08:00,W1,",
            "other,a,2023-10-09T09:00:00+08:00,W1,",
            "other,b,2023-10-09T09:01:00+08:00,W2,",
            "none,a,2023-10-09T09:00:00+08:00,,",
            "none,b,2023-10-09T09:01:00+08:00,,",
        ],
        AuditOptions::default(),
    );
    assert_eq!(verdicts(&r), (1, 2, 0));
}

#[test]
fn chain_templates_see_events_no_rule_mentions() {
    // `c` is in no rule; it still sits between a and b.
    let rule = "template: chain_response\nactivation: a\ntarget: b";
    let r = run(
        rule,
        &[
            "x,a,2023-10-09T09:00:00+08:00,,",
            "x,c,2023-10-09T09:01:00+08:00,,",
            "x,b,2023-10-09T09:02:00+08:00,,",
        ],
        AuditOptions::default(),
    );
    assert_eq!(verdicts(&r), (0, 1, 0));
}

#[test]
fn naive_timestamps_are_errors_unless_a_default_offset_is_given() {
    let rule = "template: existence\nactivation: a";
    let rows = [
        "x,a,2023-10-09T09:00:00,,",
        "y,a,2023-10-09T09:00:00+08:00,,",
    ];
    let r = run(rule, &rows, AuditOptions::default());
    let s = &r.log.stats;
    assert_eq!(s.rows_skipped, 1);
    assert_eq!(
        s.skipped_by_reason
            .get(&biaozhun::audit::log::Skip::NoOffset),
        Some(&1)
    );
    assert_eq!(s.errors[0].line, 2);
    assert_eq!(s.errors[0].field.as_deref(), Some("timestamp"));
    assert_eq!(r.cases.total, 1, "the skipped row's case never appeared");
    let opts = AuditOptions {
        read: ReadOptions {
            default_offset: Some(480),
            ..Default::default()
        },
        ..Default::default()
    };
    let r = run(rule, &rows, opts);
    assert_eq!(r.log.stats.rows_skipped, 0);
    assert_eq!(verdicts(&r), (2, 0, 0));
}

#[test]
fn bad_rows_are_counted_with_lines_and_strict_mode_fails_on_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "case_id,activity,timestamp\n\
         x,a,2023-10-09T09:00:00+08:00\n\
         x,a,2023-13-09T09:00:00+08:00\n\
         y,a\n\
         ,a,2023-10-09T09:00:00+08:00\n\
         \"z, quoted\",\"a\",2023-10-09T09:00:00+08:00\n\
         w,,2023-10-09T09:00:00+08:00\n\
         v,a,2023-10-09T09:00:00+08:00,extra\n",
    )
    .unwrap();
    let set = || {
        RuleSet::from_sources(&[(
            "r.yaml".into(),
            "rules:\n  - id: r\n    template: existence\n    activation: a\n".into(),
        )])
        .unwrap()
    };
    let r = check_log(&path, set(), &AuditOptions::default(), None).unwrap();
    let s = &r.log.stats;
    assert_eq!(s.events, 2);
    assert_eq!(s.rows_skipped, 5);
    let lines: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5, 7, 8]);
    assert!(
        s.errors[4].message.contains("4 fields, the header has 3"),
        "{:?}",
        s.errors[4]
    );
    assert!(
        s.errors[0].message.contains("out of range"),
        "{:?}",
        s.errors[0]
    );
    assert!(
        s.errors[1].message.contains("2 fields, the header has 3"),
        "{:?}",
        s.errors[1]
    );
    assert_eq!(r.cases.total, 2);
    assert!(violating(&r)["r"].is_empty());
    let opts = AuditOptions {
        read: ReadOptions {
            strict: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = check_log(&path, set(), &opts, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(
            "bad.csv:3: field `timestamp`: `2023-13-09T09:00:00+08:00`: date or time out of range"
        ),
        "{err}"
    );
}

#[test]
fn a_missing_column_names_the_columns_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cols.csv");
    std::fs::write(&path, "订单编号,活动,时刻\nx,a,2023-10-09T09:00:00+08:00\n").unwrap();
    let set = || {
        RuleSet::from_sources(&[(
            "r.yaml".into(),
            "rules:\n  - id: r\n    template: existence\n    activation: a\n".into(),
        )])
        .unwrap()
    };
    let err = check_log(&path, set(), &AuditOptions::default(), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no timestamp column"), "{err}");
    assert!(err.contains("订单编号, 活动, 时刻"), "{err}");
    assert!(err.contains("--timestamp-column"), "{err}");
    let opts = AuditOptions {
        read: ReadOptions {
            timestamp_column: Some("时刻".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let r = check_log(&path, set(), &opts, None).unwrap();
    assert_eq!(
        verdicts(&r),
        (1, 0, 0),
        "Chinese column names are recognised"
    );
}

#[test]
fn the_period_selects_cases_by_their_first_event() {
    let rule = "template: existence\nactivation: a";
    let rows = [
        "before,a,2023-09-30T23:59:59+08:00,,",
        "inside,a,2023-10-01T00:00:00+08:00,,",
        // Starts inside, ends after the period: checked whole.
        "spans,b,2023-10-31T23:00:00+08:00,,",
        "spans,a,2023-11-01T01:00:00+08:00,,",
        "after,a,2023-11-01T00:00:00+08:00,,",
    ];
    let from = time::parse_date_or_instant("2023-10-01", 480).unwrap();
    let to = time::parse_date_or_instant("2023-11-01", 480).unwrap();
    let r = run(
        rule,
        &rows,
        AuditOptions {
            from: Some(from),
            to: Some(to),
            display_offset: 480,
            ..Default::default()
        },
    );
    assert_eq!(r.cases.checked, 2);
    assert_eq!(r.cases.outside_period, 2);
    assert_eq!(verdicts(&r), (2, 0, 0));
}

#[test]
fn clause_verdicts_aggregate_their_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.csv");
    std::fs::write(
        &path,
        "case_id,activity,timestamp\nx,a,2023-10-09T09:00:00+08:00\n",
    )
    .unwrap();
    let yaml = r##"standard: "T/ZTAC 001.2—2023"
rules:
  - { id: broken, clause: "#9.1", template: response, activation: a, target: b }
  - { id: kept, clause: ["#9.1", "#9.2"], template: existence, activation: a }
  - { id: idle, clause: "#10.1", template: response, activation: z, target: b }
"##;
    let set = RuleSet::from_sources(&[("r.yaml".into(), yaml.into())]).unwrap();
    let r = check_log(&path, set, &AuditOptions::default(), None).unwrap();
    let verdict: BTreeMap<&str, ClauseVerdict> = r
        .clauses
        .iter()
        .map(|c| (c.clause.as_str(), c.verdict))
        .collect();
    assert_eq!(
        verdict["T/ZTAC 001.2—2023#9.1"],
        ClauseVerdict::Nonconforming
    );
    assert_eq!(verdict["T/ZTAC 001.2—2023#9.2"], ClauseVerdict::Conforming);
    assert_eq!(
        verdict["T/ZTAC 001.2—2023#10.1"],
        ClauseVerdict::NotExercised
    );
}

#[test]
fn rule_bindings_are_checked_against_the_standards() {
    let coll = Collection::load(&[root().join("standards")], &[]).unwrap();
    let set = RuleSet::load(&[root().join("audits")]).unwrap();
    let diags = rules::check_bindings(&set.rules, &coll);
    assert!(
        diags.is_empty(),
        "shipped rules bind to requirement clauses: {diags:?}"
    );
    // A recommendation (宜) provision and a clause that does not exist.
    let std = coll.find("T/ZTAC 001.2—2023").unwrap();
    let rec = std
        .provisions()
        .find(|p| p.kind == biaozhun::standard::ProvisionType::Recommendation)
        .expect("the standard has a 宜 provision");
    let yaml = format!(
        "rules:\n  - {{ id: soft, clause: \"{}\", template: existence, activation: a }}\n  - {{ id: ghost, clause: \"T/ZTAC 001.2—2023#99.9\", template: existence, activation: a }}\n",
        rec.id
    );
    let set = RuleSet::from_sources(&[("r.yaml".into(), yaml)]).unwrap();
    let diags = rules::check_bindings(&set.rules, &coll);
    let codes: Vec<(&str, bool)> = diags.iter().map(|d| (d.code, d.is_error())).collect();
    assert_eq!(
        codes,
        [
            ("rules-clause-not-requirement", false),
            ("rules-clause-unknown", true)
        ],
        "{diags:?}"
    );
    assert!(
        diags[1].message.contains("has no clause 99.9"),
        "{}",
        diags[1]
    );
}

#[test]
fn the_cli_prints_offending_orders_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    let truth = dir.path().join("truth.json");
    let bin = env!("CARGO_BIN_EXE_biaozhun");
    let o = Command::new(bin)
        .current_dir(root())
        .args(["demo", "log", "--orders", "500", "--seed", "5", "--out"])
        .arg(&log)
        .arg("--truth")
        .arg(&truth)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = dir.path().join("violations.csv");
    let o = Command::new(bin)
        .current_dir(root())
        .args(["audit", "workflow", "--log"])
        .arg(&log)
        .arg("--violations-csv")
        .arg(&csv)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("T/ZTAC 001.2—2023#10.2"), "{out}");
    assert!(out.contains("不符合"), "{out}");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
    let expected: usize = truth["rules"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.starts_with("t-"))
        .map(|(_, v)| v.as_array().unwrap().len())
        .sum();
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    assert_eq!(rows, expected, "one CSV row per violating case and rule");
    // JSON: one document with every violating case.
    let o = Command::new(bin)
        .current_dir(root())
        .args(["audit", "workflow", "--json", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "biaozhun.workflow-result/1");
    assert_eq!(v["cases"]["total"], 500);
    // A rule-file error is reported with its line, exit 2.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "rules:\n  - id: x\n    template: respons\n    activation: a\n",
    )
    .unwrap();
    let o = Command::new(bin)
        .current_dir(root())
        .args(["audit", "workflow", "--rules"])
        .arg(&bad)
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.yaml:3:") && err.contains("unknown template"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// Differential test against a naive reference

/// One random rule, as data the reference understands directly.
#[derive(Debug, Clone)]
struct Spec {
    template: Template,
    a: Vec<char>,
    t: Vec<char>,
    a_cond: bool,
    t_cond: bool,
    corr: bool,
    window: Option<(i64, i64)>,
    n: u32,
}

#[derive(Debug, Clone)]
struct NEv {
    act: char,
    t: i64,
    w: Option<u8>,
    k: Option<bool>,
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let acts = prop::collection::vec(prop::sample::select(vec!['a', 'b', 'c']), 1..=2);
    (
        prop::sample::select(Template::ALL.to_vec()),
        acts.clone(),
        acts,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of((-6i64..8, 0i64..8)),
        1u32..=3,
    )
        .prop_map(|(template, a, t, a_cond, t_cond, corr, window, n)| {
            let unordered = matches!(
                template,
                Template::RespondedExistence
                    | Template::CoExistence
                    | Template::NotCoExistence
                    | Template::NotRespondedExistence
            );
            let window = window.map(|(lo, len)| {
                let lo = if unordered { lo } else { lo.max(0) };
                (lo, lo + len)
            });
            let unary = template.is_unary();
            Spec {
                template,
                a,
                t,
                a_cond,
                t_cond: t_cond && !unary,
                corr: corr && !unary,
                window: if unary { None } else { window },
                n,
            }
        })
}

fn yaml_of(s: &Spec, i: usize) -> String {
    let list = |v: &[char]| {
        format!(
            "[{}]",
            v.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut y = format!(
        "  - id: r{i}\n    template: {}\n    activation: {{ activity: {}{} }}\n",
        s.template.name(),
        list(&s.a),
        if s.a_cond { ", when: k == true" } else { "" }
    );
    if !s.template.is_unary() {
        y.push_str(&format!(
            "    target: {{ activity: {}{} }}\n",
            list(&s.t),
            if s.t_cond { ", when: k == true" } else { "" }
        ));
    }
    if s.corr {
        y.push_str("    correlation: [w]\n");
    }
    if let Some((lo, hi)) = s.window {
        y.push_str(&format!(
            "    window: {{ min: \"{lo}m\", max: \"{hi}m\" }}\n"
        ));
    }
    if matches!(
        s.template,
        Template::Existence | Template::Absence | Template::Exactly
    ) {
        y.push_str(&format!("    n: {}\n", s.n));
    }
    y
}

/// The obvious, quadratic reading of each template's definition.
fn naive(s: &Spec, trace: &[NEv]) -> (&'static str, bool) {
    let n = trace.len();
    let is_a = |i: usize| s.a.contains(&trace[i].act) && (!s.a_cond || trace[i].k == Some(true));
    let is_t = |j: usize| s.t.contains(&trace[j].act) && (!s.t_cond || trace[j].k == Some(true));
    let corr = |i: usize, j: usize| !s.corr || (trace[i].w.is_some() && trace[i].w == trace[j].w);
    let win = |d: i64| s.window.is_none_or(|(lo, hi)| lo * 60 <= d && d <= hi * 60);
    // i = activation, j = target; `d` = the template's elapsed time.
    let ok = |i: usize, j: usize, d: i64| i != j && is_t(j) && corr(i, j) && win(d);
    let acts: Vec<usize> = (0..n).filter(|&i| is_a(i)).collect();
    let targets: Vec<usize> = (0..n).filter(|&j| is_t(j)).collect();
    let dt = |i: usize, j: usize| trace[j].t - trace[i].t;
    let count = acts.len() as u32;
    let pos = |violated: bool| -> (&'static str, bool) {
        if acts.is_empty() {
            ("vacuous", false)
        } else {
            ("active", violated)
        }
    };
    use Template::*;
    match s.template {
        Existence => ("active", count < s.n),
        Exactly => ("active", count != s.n),
        Absence => {
            if count == 0 {
                ("vacuous", false)
            } else {
                ("active", count >= s.n)
            }
        }
        Init => ("active", !is_a(0)),
        End => ("active", !is_a(n - 1)),
        RespondedExistence => pos(acts.iter().any(|&i| !(0..n).any(|j| ok(i, j, dt(i, j))))),
        Response => pos(acts
            .iter()
            .any(|&i| !(i + 1..n).any(|j| ok(i, j, dt(i, j))))),
        AlternateResponse => pos(acts
            .iter()
            .any(|&i| !(i + 1..n).any(|j| ok(i, j, dt(i, j)) && !(i + 1..j).any(is_a)))),
        ChainResponse => pos(acts
            .iter()
            .any(|&i| !(i + 1 < n && ok(i, i + 1, dt(i, i + 1))))),
        Precedence => pos(acts.iter().any(|&i| !(0..i).any(|j| ok(i, j, dt(j, i))))),
        AlternatePrecedence => pos(acts
            .iter()
            .any(|&i| !(0..i).any(|j| ok(i, j, dt(j, i)) && !(j + 1..i).any(is_a)))),
        ChainPrecedence => pos(acts
            .iter()
            .any(|&i| !(i >= 1 && ok(i, i - 1, dt(i - 1, i))))),
        Succession | CoExistence => {
            let fwd = s.template == Succession;
            if acts.is_empty() && targets.is_empty() {
                return ("vacuous", false);
            }
            let a_bad = acts
                .iter()
                .any(|&i| !(0..n).any(|j| (!fwd || j > i) && ok(i, j, dt(i, j))));
            let t_bad = targets.iter().any(|&j| {
                !(0..n).any(|i| (!fwd || i < j) && i != j && is_a(i) && corr(i, j) && win(dt(i, j)))
            });
            ("active", a_bad || t_bad)
        }
        NotCoExistence => {
            if acts.is_empty() && targets.is_empty() {
                return ("vacuous", false);
            }
            (
                "active",
                acts.iter().any(|&i| (0..n).any(|j| ok(i, j, dt(i, j)))),
            )
        }
        NotRespondedExistence => pos(acts.iter().any(|&i| (0..n).any(|j| ok(i, j, dt(i, j))))),
        NotResponse | NotSuccession => {
            pos(acts.iter().any(|&i| (i + 1..n).any(|j| ok(i, j, dt(i, j)))))
        }
        NotPrecedence => pos(acts.iter().any(|&i| (0..i).any(|j| ok(i, j, dt(j, i))))),
        NotChainResponse => pos(acts
            .iter()
            .any(|&i| i + 1 < n && ok(i, i + 1, dt(i, i + 1)))),
        NotChainPrecedence => pos(acts.iter().any(|&i| i >= 1 && ok(i, i - 1, dt(i - 1, i)))),
    }
}

/// (case, activity, minute, w, k, offset choice) — one row of a random log.
type Row = (usize, char, i64, Option<u8>, Option<bool>, u8);

fn event_strategy() -> impl Strategy<Value = Row> {
    (
        0usize..6,
        prop::sample::select(vec!['a', 'b', 'c', 'd']),
        0i64..12,
        prop::option::of(1u8..=2),
        prop::option::of(any::<bool>()),
        0u8..3,
    )
}

fn write_random_log(path: &Path, rows: &[Row]) {
    let base = time::parse_instant("2023-10-09T09:00:00+08:00", None)
        .unwrap()
        .0;
    let mut text = String::from("case_id,activity,timestamp,w,k\n");
    for (case, act, min, w, k, off) in rows {
        let t = base + min * 60 * time::MICROS_PER_SEC;
        let off = [480, 0, -300][*off as usize];
        text.push_str(&format!(
            "c{case},{act},{},{},{}\n",
            time::format_instant(t, off),
            w.map(|x| x.to_string()).unwrap_or_default(),
            k.map(|x| x.to_string()).unwrap_or_default()
        ));
    }
    std::fs::write(path, text).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn checker_agrees_with_the_naive_reference(
        specs in prop::collection::vec(spec_strategy(), 1..6),
        rows in prop::collection::vec(event_strategy(), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        write_random_log(&path, &rows);
        let yaml: String = std::iter::once("rules:\n".to_string())
            .chain(specs.iter().enumerate().map(|(i, s)| yaml_of(s, i)))
            .collect();
        let set = RuleSet::from_sources(&[("p.yaml".into(), yaml.clone())]).unwrap();
        let result = check_log(&path, set, &AuditOptions::default(), None).unwrap();
        // The reference: group by case, sort by instant with file order for ties.
        let mut cases: BTreeMap<String, Vec<NEv>> = BTreeMap::new();
        for (case, act, min, w, k, _) in &rows {
            cases.entry(format!("c{case}")).or_default().push(NEv { act: *act, t: min * 60, w: *w, k: *k });
        }
        for v in cases.values_mut() {
            v.sort_by_key(|e| e.t); // stable: file order among ties
        }
        for (i, s) in specs.iter().enumerate() {
            let r = &result.rules[i];
            let mut violated = BTreeSet::new();
            let mut vacuous = 0;
            for (id, trace) in &cases {
                let (state, bad) = naive(s, trace);
                if bad { violated.insert(id.clone()); }
                if state == "vacuous" { vacuous += 1; }
            }
            let got: BTreeSet<String> = r.violating_cases.iter().map(|v| v.case.clone()).collect();
            prop_assert_eq!(&got, &violated, "rule {}:\n{}", i, yaml);
            prop_assert_eq!(r.vacuous, vacuous, "vacuous, rule {}:\n{}", i, yaml);
        }
    }
}

#[test]
fn json_lines_and_xes_report_bad_records_by_line_or_event() {
    let dir = tempfile::tempdir().unwrap();
    let set = || {
        RuleSet::from_sources(&[(
            "r.yaml".into(),
            "rules:\n  - id: r\n    template: response\n    activation: a\n    target: b\n    correlation: [w]\n".into(),
        )])
        .unwrap()
    };
    let jsonl = dir.path().join("log.jsonl");
    std::fs::write(
        &jsonl,
        concat!(
            r#"{"case_id":"x","activity":"a","timestamp":"2023-10-09T09:00:00+08:00","w":7}"#,
            "\n",
            r#"{"case_id":"x","activity":"b","timestamp":"2023-10-09T09:01:00+08:00","w":7}"#,
            "\n",
            "{not json\n",
            r#"{"case_id":"y","activity":"a"}"#,
            "\n",
            "\n",
            r#"{"case_id":"y","activity":"a","timestamp":"2023-10-09T09:00:00+08:00","w":null}"#,
            "\n",
        ),
    )
    .unwrap();
    let r = check_log(&jsonl, set(), &AuditOptions::default(), None).unwrap();
    let s = &r.log.stats;
    assert_eq!((s.events, s.rows_skipped), (3, 2));
    let lines: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4]);
    assert_eq!(s.errors[1].field.as_deref(), Some("timestamp"));
    // Numbers correlate by their text; null is absent, so y's activation is unfulfilled.
    assert_eq!(verdicts(&r), (1, 1, 0));

    let xes = dir.path().join("log.xes");
    std::fs::write(
        &xes,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016">
  <trace>
    <string key="concept:name" value="x"/>
    <string key="w" value="W1"/>
    <event><string key="concept:name" value="a"/><date key="time:timestamp" value="2023-10-09T09:00:00.000+08:00"/></event>
    <event><string key="concept:name" value="b"/><date key="time:timestamp" value="2023-10-09T09:05:00.000+08:00"/></event>
  </trace>
  <trace>
    <string key="concept:name" value="y"/>
    <event><string key="concept:name" value="a"/><date key="time:timestamp" value="yesterday"/></event>
    <event><string key="concept:name" value="a"/></event>
  </trace>
</log>
"#,
    )
    .unwrap();
    let r = check_log(&xes, set(), &AuditOptions::default(), None).unwrap();
    let s = &r.log.stats;
    assert_eq!((s.events, s.rows_skipped), (2, 2));
    let events: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
    assert_eq!(events, [3, 4], "XES errors point at the event number");
    // Trace attributes are inherited: both events of x carry w = W1.
    assert_eq!(verdicts(&r), (1, 0, 0));
    // Not XML at all.
    std::fs::write(&xes, "<log><trace></log>").unwrap();
    let err = check_log(&xes, set(), &AuditOptions::default(), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not well-formed"), "{err}");
}

#[test]
fn the_cli_period_includes_the_whole_last_day() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    let mut f = std::fs::File::create(&log).unwrap();
    generate::generate(&Settings::new(2000, 9), OutFormat::Csv, &mut f).unwrap();
    drop(f);
    // Independently: each case's first instant, from the file.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut first: BTreeMap<String, i64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut cols = line.split(',');
        let case = cols.next().unwrap().to_string();
        let t = time::parse_instant(cols.nth(1).unwrap(), None).unwrap().0;
        let e = first.entry(case).or_insert(t);
        *e = (*e).min(t);
    }
    let from = time::parse_date_or_instant("2023-03-01", 480).unwrap();
    let to = time::parse_date_or_instant("2023-04-01", 480).unwrap();
    let expected = first.values().filter(|&&t| from <= t && t < to).count();
    assert!(
        expected > 100,
        "about a twelfth of the orders start in March"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_biaozhun"))
        .current_dir(root())
        .args([
            "audit",
            "workflow",
            "--json",
            "--from",
            "2023-03-01",
            "--to",
            "2023-03-31",
            "--log",
        ])
        .arg(&log)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cases"]["checked"], expected as u64);
    assert_eq!(v["cases"]["total"], 2000);
    assert_eq!(v["period"]["from"], "2023-03-01T00:00:00+08:00");
    assert_eq!(v["period"]["to"], "2023-04-01T00:00:00+08:00");
    // Bad bounds are usage errors.
    let o = Command::new(env!("CARGO_BIN_EXE_biaozhun"))
        .current_dir(root())
        .args(["audit", "workflow", "--from", "2023-03-32", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--from `2023-03-32`"));
}
