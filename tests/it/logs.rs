//! Reading event logs: record boundaries against the `csv` crate, the parallel
//! reader against one sequential pass, the read report, and verdicts on incomplete
//! data (数据不完整，不予结论 / 未评价).

use std::collections::BTreeMap;
use std::path::Path;

use biaozhun::audit::log::{self, ReadOptions, Skip, Store};
use biaozhun::audit::records::{self, BadRecord};
use biaozhun::audit::rules::RuleSet;
use biaozhun::audit::{AuditOptions, ClauseVerdict, check_log};
use proptest::prelude::*;

const HEADER: &str = "case_id,activity,timestamp\n";

fn rules(yaml: &str) -> RuleSet {
    RuleSet::from_sources(&[("r.yaml".into(), yaml.into())]).expect("rules load")
}

/// A rule on `派单` that every order meets: a case with 派单 is activated.
const ONE_RULE: &str = "rules:\n  - id: r\n    clause: [\"T/ZTAC 001.2—2023#9.1\"]\n    template: existence\n    activation: 派单\n";

fn write(dir: &Path, name: &str, text: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn orders(n: usize) -> String {
    let mut s = String::from(HEADER);
    for i in 0..n {
        s.push_str(&format!(
            "OL{i:05},派单,2023-03-0{}T09:{:02}:00+08:00\n",
            1 + i % 9,
            i % 60
        ));
    }
    s
}

// ---------------------------------------------------------------------------------
// Record boundaries

/// The `csv` crate's records (fields as bytes), empty lines skipped as it does.
fn csv_crate(data: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    rd.byte_records()
        .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
        .collect()
}

/// Ours: (fields, bad) per non-empty record.
fn ours(data: &[u8], width: usize) -> Vec<(Vec<Vec<u8>>, Option<BadRecord>)> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut fields = Vec::new();
    let mut scratch = Vec::new();
    records::records(data, Some(width))
        .into_iter()
        .filter(|r| r.bad.is_some() || r.body > r.start)
        .map(|r| {
            let rec = &data[r.start..r.body];
            let base = if records::split(rec, true, &mut fields, &mut scratch) {
                &scratch
            } else {
                rec
            };
            (
                fields.iter().map(|&(x, y)| base[x..y].to_vec()).collect(),
                r.bad,
            )
        })
        .collect()
}

fn field() -> impl Strategy<Value = String> {
    let plain = proptest::collection::vec(
        prop_oneof![
            6 => proptest::sample::select(vec!["a", "b", "0", "中", "é", "订单", " "]),
            1 => Just("\""),
            1 => Just(","),
            1 => Just("\n"),
            1 => Just("\r"),
            1 => Just("\r\n"),
        ],
        0..6,
    )
    .prop_map(|v| v.concat());
    let quoted = proptest::collection::vec(
        proptest::sample::select(vec!["a", "中", ",", "\"\"", "\n", "\r\n", " "]),
        0..5,
    )
    .prop_map(|v| format!("\"{}\"", v.concat()));
    prop_oneof![4 => plain, 1 => quoted]
}

fn csv_text(width: usize) -> impl Strategy<Value = Vec<u8>> {
    let row = proptest::collection::vec(field(), width..=width).prop_map(|f| f.join(","));
    (
        any::<bool>(),
        proptest::collection::vec(
            (row, proptest::sample::select(vec!["\n", "\r\n", "\r"])),
            0..12,
        ),
        any::<bool>(),
    )
        .prop_map(|(bom, rows, last_break)| {
            let mut s = String::new();
            if bom {
                s.push('\u{feff}');
            }
            let n = rows.len();
            for (i, (r, t)) in rows.into_iter().enumerate() {
                s.push_str(&r);
                if i + 1 < n || last_break {
                    s.push_str(t);
                }
            }
            s.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Wherever the `csv` crate reads records of the expected width, we read the
    /// same records; where a quote would swallow lines into a record of another
    /// shape, we refuse one line and read on, so no bad byte costs more than its
    /// own record.
    #[test]
    fn records_agree_with_the_csv_crate(data in csv_text(3)) {
        let theirs = csv_crate(&data);
        let mine = ours(&data, 3);
        let wide_ok = theirs.iter().all(|r| r.len() == 3);
        let no_bad = mine.iter().all(|(_, b)| b.is_none());
        if wide_ok {
            prop_assert!(no_bad, "{:?}", String::from_utf8_lossy(&data));
        }
        if no_bad {
            let mine: Vec<_> = mine.into_iter().map(|(f, _)| f).collect();
            prop_assert_eq!(mine, theirs, "{:?}", String::from_utf8_lossy(&data));
        } else {
            let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&data);
            for r in records::records(body, Some(3)) {
                if r.bad.is_some() {
                    prop_assert!(records::line_breaks(&body[r.start..r.end]) <= 1, "a bad row is one line");
                }
            }
        }
    }

    /// The cutter, given any prefix of the input, cuts only where the sequential
    /// read has a record boundary, and decides the bad rows before it alike.
    #[test]
    fn every_cut_is_a_boundary_of_the_sequential_read(data in csv_text(3), k in 0usize..400) {
        let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&data).to_vec();
        let seq = records::records(&body, Some(3));
        let k = k.min(body.len());
        let cut = records::cut(&body[..k], false, Some(3));
        prop_assert!(cut.at == 0 || seq.iter().any(|r| r.end == cut.at), "cut {} not a boundary", cut.at);
        let bad_before: Vec<(usize, usize, BadRecord)> = seq
            .iter()
            .filter(|r| r.end <= cut.at)
            .filter_map(|r| r.bad.map(|w| (r.start, r.end, w)))
            .collect();
        prop_assert_eq!(cut.bad, bad_before);
    }

    /// The parallel reader, cutting tiny blocks, reads exactly what one pass over the
    /// whole file reads: the same events at the same lines and the same bad rows.
    #[test]
    fn the_parallel_reader_agrees_with_one_sequential_pass(
        body in csv_text(3),
        block in 1usize..200,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut text = HEADER.as_bytes().to_vec();
        text.extend_from_slice(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body));
        let path = write(dir.path(), "p.csv", &text);
        let read = |block_size: usize, threads: usize| {
            // A chain rule keeps every event, whatever its activity.
            let set = rules("rules:\n  - id: c\n    template: chain_response\n    activation: a\n    target: b\n");
            let store = Store::default();
            let opts = ReadOptions {
                default_offset: Some(480),
                block_size,
                threads,
                ..Default::default()
            };
            let stats = log::read(&path, &set, &opts, &store, None).unwrap();
            let mut lines: Vec<u32> = store
                .into_shards()
                .iter()
                .flat_map(|s| s.evs.iter().map(|e| e.line).collect::<Vec<_>>())
                .collect();
            lines.sort_unstable();
            let errors: Vec<(u64, Skip)> = stats.errors.iter().map(|e| (e.line, e.reason)).collect();
            (lines, errors, stats.rows, stats.rows_skipped, stats.empty_lines)
        };
        let whole = read(1 << 30, 1);
        prop_assert_eq!(read(block, 2), whole.clone());
        prop_assert_eq!(read(block, 1), whole);
    }
}

#[test]
fn the_csv_crate_strips_a_bom_and_skips_empty_lines_as_we_do() {
    let data = "\u{feff}a,b\n\n\r\nc,d\r".as_bytes();
    assert_eq!(csv_crate(data).len(), 2);
    assert_eq!(ours(data, 2).len(), 2);
}

// ---------------------------------------------------------------------------------
// The reader on whole logs

/// A stray quote inside a field (`OL"0083`) is an ordinary character, as in every
/// CSV reader: the 100k-order log reads as 100k events, not 9.
#[test]
fn a_stray_quote_in_a_field_is_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = orders(100_000).replacen("OL00083,", "OL\"0083,", 1);
    let path = write(dir.path(), "orders.csv", text.as_bytes());
    let r = check_log(&path, rules(ONE_RULE), &AuditOptions::default(), None).unwrap();
    let s = &r.log.stats;
    assert_eq!((s.rows, s.events, s.rows_skipped), (100_000, 100_000, 0));
    assert_eq!(r.cases.total, 100_000);
    assert!(r.data.conclusive);
    assert_eq!(r.clauses[0].verdict, ClauseVerdict::Conforming);
}

/// A quote that opens a field and never closes costs its own line, nothing more;
/// the verdict then says the data is incomplete only if that is over the limit.
#[test]
fn an_unclosed_quote_costs_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = orders(100_000).replacen("OL00083,", "\"OL00083,", 1);
    let path = write(dir.path(), "orders.csv", text.as_bytes());
    let r = check_log(&path, rules(ONE_RULE), &AuditOptions::default(), None).unwrap();
    let s = &r.log.stats;
    assert_eq!((s.rows, s.events, s.rows_skipped), (100_000, 99_999, 1));
    assert_eq!(s.skipped_by_reason.get(&Skip::Unterminated), Some(&1));
    assert_eq!(s.errors[0].line, 85, "header + 83 rows before it");
    assert!(r.data.conclusive, "1 in 100,000 is within 0.1 %");
    // Strict: the first bad row fails the read, with its line.
    let strict = AuditOptions {
        read: ReadOptions {
            strict: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let e = check_log(&path, rules(ONE_RULE), &strict, None).unwrap_err();
    assert!(e.to_string().contains(":85:"), "{e}");
}

/// A line longer than the record limit is skipped to its end without being held
/// whole; the rows after it read.
#[test]
fn an_endless_line_is_skipped_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = orders(10);
    text.push_str("OLX,派单,");
    text.push_str(&"x".repeat(3 * records::MAX_RECORD));
    text.push('\n');
    text.push_str("OL99999,派单,2023-03-01T09:00:00+08:00\n");
    let path = write(dir.path(), "orders.csv", text.as_bytes());
    let opts = AuditOptions {
        read: ReadOptions {
            block_size: 1 << 16,
            ..Default::default()
        },
        ..Default::default()
    };
    let r = check_log(&path, rules(ONE_RULE), &opts, None).unwrap();
    let s = &r.log.stats;
    assert_eq!((s.events, s.rows_skipped), (11, 1));
    assert_eq!(s.errors[0].line, 12);
    assert_eq!(s.errors[0].reason, Skip::LineTooLong);
    assert_eq!(r.cases.total, 11);
}

/// Skipped rows above the audit's limit withhold every verdict but 不符合; an
/// empty log gives 未评价; a missing column the rules read withholds that rule's.
#[test]
fn verdicts_on_incomplete_data_are_withheld() {
    let dir = tempfile::tempdir().unwrap();
    // 2 bad rows in 1,000: 0.2 % > 0.1 %.
    let mut text = orders(998);
    text.push_str("OLBAD1,派单,2023-02-30T09:00:00+08:00\nOLBAD2,派单\n");
    let path = write(dir.path(), "orders.csv", text.as_bytes());
    let set = || {
        rules(
            "rules:\n  - id: r\n    clause: [\"T/ZTAC 001.2—2023#9.1\"]\n    template: existence\n    activation: 派单\n  - id: never\n    clause: [\"T/ZTAC 001.2—2023#9.2\"]\n    template: absence\n    activation: 退单\n",
        )
    };
    let r = check_log(&path, set(), &AuditOptions::default(), None).unwrap();
    assert_eq!(r.log.stats.rows, 1000);
    assert_eq!(r.log.stats.rows_skipped, 2);
    assert!(!r.data.conclusive);
    assert!(r.data.too_many_skipped);
    assert!(r.data.reasons[0].contains("0.2 %"), "{:?}", r.data.reasons);
    assert!(
        r.clauses
            .iter()
            .all(|c| c.verdict == ClauseVerdict::Incomplete),
        "{:?}",
        r.clauses
    );
    assert_eq!(ClauseVerdict::Incomplete.label(), "数据不完整，不予结论");
    // The same log with a 1 % allowance: the verdicts stand.
    let lenient = AuditOptions {
        max_skipped: 0.01,
        ..Default::default()
    };
    let r = check_log(&path, set(), &lenient, None).unwrap();
    assert!(r.data.conclusive);
    assert_eq!(r.clauses[0].verdict, ClauseVerdict::Conforming);

    // A header-only log: 未评价, not 未触发.
    let empty = write(dir.path(), "empty.csv", HEADER.as_bytes());
    let r = check_log(&empty, set(), &AuditOptions::default(), None).unwrap();
    assert!(r.data.no_data && !r.data.conclusive);
    assert!(
        r.clauses
            .iter()
            .all(|c| c.verdict == ClauseVerdict::NotEvaluated)
    );

    // A violation found in incomplete data is still a violation.
    let mut text = orders(10);
    text.push_str("OL00000,退单,2023-03-01T09:00:00+08:00\nbad\nbad\n");
    let path = write(dir.path(), "refund.csv", text.as_bytes());
    let r = check_log(&path, set(), &AuditOptions::default(), None).unwrap();
    assert!(r.data.too_many_skipped);
    let v: BTreeMap<&str, ClauseVerdict> = r
        .clauses
        .iter()
        .map(|c| (c.clause.as_str(), c.verdict))
        .collect();
    assert_eq!(v["T/ZTAC 001.2—2023#9.2"], ClauseVerdict::Nonconforming);
    assert_eq!(v["T/ZTAC 001.2—2023#9.1"], ClauseVerdict::Incomplete);
}

/// A column a rule's condition reads is missing from the log: that rule gives no
/// verdict (it could never have fired), the others stand.
#[test]
fn a_missing_column_withholds_the_rules_that_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "orders.csv", orders(50).as_bytes());
    let set = rules(
        "rules:\n  - id: plain\n    clause: [\"T/ZTAC 001.2—2023#9.1\"]\n    template: existence\n    activation: 派单\n  - id: red\n    clause: [\"T/ZTAC 001.2—2023#9.3\"]\n    template: absence\n    activation: {activity: 派单, when: 'status == \"red\"'}\n",
    );
    let r = check_log(&path, set, &AuditOptions::default(), None).unwrap();
    assert_eq!(r.data.missing_attributes, ["status"]);
    let v: BTreeMap<&str, ClauseVerdict> = r
        .clauses
        .iter()
        .map(|c| (c.clause.as_str(), c.verdict))
        .collect();
    assert_eq!(v["T/ZTAC 001.2—2023#9.1"], ClauseVerdict::Conforming);
    assert_eq!(v["T/ZTAC 001.2—2023#9.3"], ClauseVerdict::Incomplete);
}

/// Spaces around values are trimmed — `c3` and `c3 ` are one order, ` red` is
/// `red` — and every trimmed value is counted, by column, with examples.
#[test]
fn trimmed_values_are_counted_in_the_read_report() {
    let dir = tempfile::tempdir().unwrap();
    let text = "case_id,activity,timestamp,status\n\
                c3,派单,2023-03-01T09:00:00+08:00,green\n\
                c3 ,派单,2023-03-01T09:01:00+08:00,\u{3000}red\n\
                c4,派单 ,2023-03-01T09:02:00+08:00,red\n";
    let path = write(dir.path(), "orders.csv", text.as_bytes());
    let set = rules(
        "rules:\n  - id: red\n    clause: [\"T/ZTAC 001.2—2023#9.3\"]\n    template: absence\n    activation: {activity: 派单, when: 'status == \"red\"'}\n",
    );
    let r = check_log(&path, set, &AuditOptions::default(), None).unwrap();
    let s = &r.log.stats;
    assert_eq!(r.cases.total, 2, "c3 and `c3 ` are one order");
    assert_eq!(r.rules[0].violated, 2, "` red` (full-width space) is red");
    assert_eq!(s.trimmed.get("case_id"), Some(&1));
    assert_eq!(s.trimmed.get("activity"), Some(&1));
    assert_eq!(s.trimmed.get("status"), Some(&1));
    assert_eq!(s.trimmed_total(), 3);
    assert_eq!(s.trimmed_examples[0].line, 3);
    assert_eq!(s.trimmed_examples[0].raw, "c3 ");
    assert_eq!(s.first_event.as_deref(), Some("2023-03-01T09:00:00+08:00"));
    assert_eq!(s.last_event.as_deref(), Some("2023-03-01T09:02:00+08:00"));
}
