//! Record, metric and manual checks against the simulated platform: the shipped
//! checks find exactly the planted faults; bad check files are refused with where.

use std::path::PathBuf;

use biaozhun::audit::checks::{CheckSet, Outcome, clause_outcomes, coverage, evaluate};
use biaozhun::audit::rules::RuleSet;
use biaozhun::audit::time::parse_date_or_instant;
use biaozhun::platform::generate::{self, Settings};
use biaozhun::platform::import::{Options, import_sources};
use biaozhun::standard::Collection;
use test_case::test_case;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn platform() -> (biaozhun::platform::Platform, generate::Faults) {
    let g = generate::generate(&Settings::default());
    let p = import_sources(
        g.files
            .iter()
            .map(|(n, t)| (n.clone(), t.clone().into_bytes()))
            .collect(),
        &Options { key: b"k" },
    )
    .unwrap();
    (p, g.faults)
}

#[test]
fn shipped_checks_find_the_planted_faults() {
    let set = CheckSet::load(&[root().join("audits")]).unwrap();
    let (p, faults) = platform();
    let at = parse_date_or_instant("2023-12-31", 480).unwrap();
    let results = evaluate(&set, &p, at);
    let by = |id: &str| results.iter().find(|r| r.id == id).unwrap();

    let functions = by("outlet-five-functions");
    assert_eq!(functions.outcome, Outcome::Fail);
    let mut failing: Vec<&str> = functions.samples.iter().map(|s| s.id.as_str()).collect();
    failing.sort_unstable();
    let mut planted: Vec<&str> = faults
        .outlets_missing_function
        .iter()
        .map(|(o, _)| o.as_str())
        .collect();
    planted.sort_unstable();
    assert_eq!(failing, planted, "exactly the outlets missing a function");
    assert!(
        functions.samples[0]
            .fields
            .iter()
            .any(|(k, v)| k == "functions" && !v.contains("权益保护")),
        "evidence shows the field: {:?}",
        functions.samples[0]
    );
    let display = by("outlet-public-display");
    assert_eq!(display.failed, faults.outlets_missing_display.len());
    assert_eq!(by("outlet-three-services").outcome, Outcome::Pass);

    // Every lapsed (or missing) health check fails at the year's end; no other.
    let health = by("worker-health-check-valid");
    assert_eq!(health.checked, 3_500);
    assert_eq!(health.failed, faults.health_lapsed.len());
    assert_eq!(by("worker-insured").failed, faults.insurance_lapsed.len());
    // On 2023-01-15 nothing planted had lapsed yet (lapses are from day 30).
    let early = evaluate(&set, &p, parse_date_or_instant("2023-01-15", 480).unwrap());
    let h = early
        .iter()
        .find(|r| r.id == "worker-health-check-valid")
        .unwrap();
    assert_eq!(
        h.failed,
        p.workers
            .iter()
            .filter(|w| w.health_check_until.is_none())
            .count(),
        "only the never-entered ones"
    );

    // The metric: share of complaints answered within 24 h, computed here by hand.
    let metric = by("complaints-answered-in-24h");
    let expected = (420 - faults.late_responses.len()) as f64 * 100.0 / 420.0;
    assert_eq!(
        metric.value.as_deref(),
        Some(format!("{expected:.2}%").as_str())
    );
    assert_eq!(metric.outcome == Outcome::Pass, expected >= 95.0);
    if metric.outcome == Outcome::Fail {
        assert!(
            metric
                .samples
                .iter()
                .all(|s| faults.late_responses.contains(&s.id)),
            "the evidence is the late ones"
        );
    }

    // Per clause.
    let clauses = clause_outcomes(&results);
    let verdict = |n: &str| {
        clauses
            .iter()
            .find(|c| c.clause == format!("T/ZTAC 002—2023#{n}"))
            .unwrap()
            .verdict
    };
    assert_eq!(verdict("4.2"), "不符合");
    assert_eq!(verdict("4.3"), "符合");
    assert_eq!(verdict("5.1"), "待现场检查");
}

#[test]
fn shipped_checks_cover_every_standard_and_bind_to_real_clauses() {
    let set = CheckSet::load(&[root().join("audits")]).unwrap();
    let rules = RuleSet::load(&[root().join("audits")]).unwrap();
    let coll = Collection::load(&[root().join("standards")], &[]).unwrap();
    assert!(
        set.unknown_clauses(&coll).is_empty(),
        "{:?}",
        set.unknown_clauses(&coll)
    );
    let cov = coverage(&coll, &rules.rules, &set, &["T/ZTAC 002—2023".to_string()]);
    assert_eq!(cov.len(), 1);
    assert_eq!(cov[0].requirement_clauses, 33);
    assert!(cov[0].gaps.is_empty(), "{:?}", cov[0].gaps);
    assert!(cov[0].automated >= 9);
    // The bar: every shipped standard ≥ 90% covered by a rule, a check or
    // a manual item.
    let all = coverage(&coll, &rules.rules, &set, &[]);
    assert_eq!(all.len(), 4, "{all:?}");
    for c in &all {
        assert!(
            c.percent() >= 90.0,
            "{}: {:.1}% gaps {:?}",
            c.standard,
            c.percent(),
            c.gaps
        );
    }
}

const HEAD: &str = "standard: \"T/ZTAC 002—2023\"\n";

#[test_case("records:\n  - id: a\n    clause: \"#4.2\"\n    entity: outlets\n    require: contains(function, \"招聘\")\n", "no field `function`", 6; "unknown field")]
#[test_case("records:\n  - id: a\n    clause: \"#4.2\"\n    entity: outlets\n    require: staff >=\n", "in `staff >=`", 6; "bad expression")]
#[test_case("metrics:\n  - id: a\n    clause: \"#8.2\"\n    entity: complaints\n    measure: share\n    of: exists(resolved_at)\n    target: \">= 95\"\n", "percentage", 8; "share without a percent")]
#[test_case("metrics:\n  - id: a\n    clause: \"#8.2\"\n    entity: complaints\n    measure: median\n    of: resolved_at - received_at\n    target: \"<= soon\"\n", "not a number, a percentage", 8; "bad target")]
#[test_case("metrics:\n  - id: a\n    clause: \"#8.2\"\n    entity: complaints\n    measure: median\n    target: \"<= 2h\"\n", "needs `of:`", 6; "median without a value")]
#[test_case("records:\n  - id: a\n    clause: \"8.2\"\n    entity: outlets\n    require: staff >= 1\n", "CODE#NUMBER", 4; "clause without #")]
#[test_case("manual:\n  - id: a\n    clause: \"#5.1\"\n    title: x\n    guidance: y\n  - id: a\n    clause: \"#5.2\"\n    title: x\n    guidance: y\n", "already used", 7; "duplicate id")]
fn bad_checks_are_refused_with_where(body: &str, says: &str, line: usize) {
    let text = format!("{HEAD}{body}");
    let e = CheckSet::from_sources(&[("x.yaml".into(), text.clone())]).unwrap_err();
    assert!(
        e.iter().any(|d| d.message.contains(says) && d.line == line),
        "wanted line {line} saying {says:?}, got {e:#?}\n{text}"
    );
}

#[test]
fn metrics_median_p90_and_min_n() {
    let text = format!(
        "{HEAD}metrics:\n\
         - id: median-response\n  clause: \"#8.2\"\n  entity: complaints\n  measure: median\n  of: first_response_at - received_at\n  target: \"<= 20m\"\n\
         - id: p90-response\n  clause: \"#8.2\"\n  entity: complaints\n  measure: p90\n  of: first_response_at - received_at\n  target: \"<= 20m\"\n\
         - id: too-few\n  clause: \"#8.2\"\n  entity: complaints\n  measure: count\n  target: \">= 1\"\n  min_n: 4\n"
    );
    let set = CheckSet::from_sources(&[("m.yaml".into(), text)]).unwrap();
    let mut files = vec![
        (
            "agencies.csv".to_string(),
            "id,name,credit_code,town\nA1,甲,91350100M000100Y43,锦城街道\n".to_string(),
        ),
        (
            "workers.csv".into(),
            "id,name,id_number,agency_id,registered_at\nW1,王喆,11010519491231002X,A1,2023-01-01\n"
                .into(),
        ),
        (
            "outlets.csv".into(),
            "id,name,town\nO1,中心,锦城街道\n".into(),
        ),
    ];
    // Responses after 10, 15, 30 minutes: median 15m passes, p90 30m fails.
    files.push((
        "complaints.csv".into(),
        "id,received_at,first_response_at\nC1,2023-03-01T09:00:00,2023-03-01T09:10:00\nC2,2023-03-02T09:00:00,2023-03-02T09:15:00\nC3,2023-03-03T09:00:00,2023-03-03T09:30:00\n".into(),
    ));
    let p = import_sources(
        files
            .into_iter()
            .map(|(n, t)| (n, t.into_bytes()))
            .collect(),
        &Options { key: b"k" },
    )
    .unwrap();
    let r = evaluate(&set, &p, 0);
    assert_eq!(
        (r[0].value.as_deref(), r[0].outcome),
        (Some("15m"), Outcome::Pass)
    );
    assert_eq!(
        (r[1].value.as_deref(), r[1].outcome),
        (Some("30m"), Outcome::Fail)
    );
    assert_eq!(r[1].samples[0].id, "C3", "the worst record is the evidence");
    assert_eq!(
        (r[2].checked, r[2].outcome),
        (3, Outcome::NoData),
        "fewer than min_n"
    );
}

/// An audit of the process standard includes the workflow rules' verdicts from the
/// order log: every rule the generator planted a violation of fails.
#[test]
fn audits_include_the_workflow_rules_on_the_order_log() {
    use biaozhun::audit::checks::{order_log, run_workflow};
    use biaozhun::audit::generate::{OutFormat, Settings as LogSettings, generate as gen_log};
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("orders.csv")).unwrap();
    let truth = gen_log(&LogSettings::new(3_000, 7), OutFormat::Csv, &mut f).unwrap();
    drop(f);
    let log = order_log(dir.path()).expect("orders.csv is found");
    let from = parse_date_or_instant("2023-01-01", 480).unwrap();
    // The generator's year starts at 08:00, so its last orders fall on 1 January.
    let to = parse_date_or_instant("2024-01-02", 480).unwrap();
    let (results, report) = run_workflow(
        &root().join("audits"),
        &log,
        &["T/ZTAC 001.2—2023".to_string()],
        (from, to),
        biaozhun::audit::DEFAULT_MAX_SKIPPED,
    )
    .unwrap();
    assert!(results.len() >= 30, "{}", results.len());
    let report = report.expect("the order log's read report");
    assert_eq!(report.file, "orders.csv");
    assert_eq!(report.stats.rows_skipped, 0);
    assert!(report.data.conclusive, "{:?}", report.data.reasons);
    assert_eq!(report.stats.rows, report.stats.events);
    let mut compared = 0;
    for (rule, cases) in &truth.rules {
        // The truth also covers rules of the test rule set, not shipped.
        let Some(r) = results.iter().find(|r| &r.id == rule) else {
            continue;
        };
        if cases.is_empty() {
            assert_ne!(r.outcome, Outcome::Fail, "{rule}");
            continue;
        }
        compared += 1;
        assert_eq!(r.outcome, Outcome::Fail, "{rule}");
        assert_eq!(
            r.failed,
            cases.len(),
            "{rule}: every planted case and no other"
        );
        assert_eq!(r.kind, "workflow");
    }
    assert!(compared >= 20, "{compared} rules compared with the truth");
    let clauses = clause_outcomes(&results);
    assert!(clauses.iter().any(|c| c.verdict == "不符合"));
    // Nothing of another standard's scope.
    let (none, report) = run_workflow(
        &root().join("audits"),
        &log,
        &["T/ZTAC 002—2023".to_string()],
        (from, to),
        biaozhun::audit::DEFAULT_MAX_SKIPPED,
    )
    .unwrap();
    assert!(none.is_empty());
    assert!(report.is_none(), "no rule read the log");
}

fn survey(version: i64, last: &str, valid: usize, score: f64) -> biaozhun::platform::SurveyResult {
    biaozhun::platform::SurveyResult {
        id: "customer-satisfaction".into(),
        title: "家政服务顾客满意度调查".into(),
        version,
        audit_id: String::new(),
        first_at: Some(parse_date_or_instant(last, 480).unwrap() - 30 * 86_400_000_000),
        last_at: Some(parse_date_or_instant(last, 480).unwrap()),
        responses: valid + 10,
        valid,
        score: Some(score),
        satisfaction: Some(score / 5.0 * 100.0),
        csat: Some(95.0),
    }
}

/// 7.1: the latest survey of the last 12 months with ≥ 300 valid questionnaires
/// must score ≥ 4.5; none at all fails; no survey data supplied is 未评价.
#[test_case(None, Outcome::NoData, None ; "no survey data supplied")]
#[test_case(Some(vec![]), Outcome::Fail, Some("无符合条件的记录") ; "no survey run")]
#[test_case(Some(vec![survey(1, "2023-06-30", 331, 4.87)]), Outcome::Pass, Some("4.87") ; "one good survey")]
#[test_case(Some(vec![survey(1, "2023-06-30", 299, 4.87)]), Outcome::Fail, Some("无符合条件的记录") ; "too few valid")]
#[test_case(Some(vec![survey(1, "2022-12-01", 400, 4.9)]), Outcome::Fail, Some("无符合条件的记录") ; "older than 12 months")]
#[test_case(Some(vec![survey(1, "2023-03-01", 400, 4.9), survey(2, "2023-11-01", 320, 4.41)]), Outcome::Fail, Some("4.41") ; "the latest counts not the best")]
#[test_case(Some(vec![survey(2, "2023-11-01", 320, 4.41), survey(1, "2024-02-01", 500, 4.2)]), Outcome::Fail, Some("4.41") ; "a survey after the audit is not seen")]
fn the_survey_metric_reads_the_latest_qualifying_survey(
    surveys: Option<Vec<biaozhun::platform::SurveyResult>>,
    outcome: Outcome,
    value: Option<&str>,
) {
    let set = CheckSet::load(&[root().join("audits")]).unwrap();
    let (mut p, _) = platform();
    p.surveys = surveys;
    let at = parse_date_or_instant("2023-12-31", 480).unwrap();
    let results = evaluate(&set, &p, at);
    let r = results
        .iter()
        .find(|r| r.id == "db-survey-annual-300")
        .unwrap();
    assert_eq!(r.outcome, outcome, "{r:?}");
    assert_eq!(r.value.as_deref(), value);
    assert_eq!(r.clauses, ["DB3301/T 0441—2024#7.1"]);
}

#[test]
fn latest_needs_a_time_field_to_order_by() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.yaml"),
        "standard: DB3301/T 0441—2024\nmetrics:\n  - id: m\n    clause: \"#7.1\"\n    entity: surveys\n    measure: latest\n    of: score\n    target: \">= 4.5\"\n",
    )
    .unwrap();
    let e = CheckSet::load(&[dir.path().to_path_buf()]).unwrap_err();
    let text = e
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("needs `by:`") && text.contains("x.yaml:6"),
        "{text}"
    );
}
