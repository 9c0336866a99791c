//! Lint and parser fixtures: every file under `tests/fixtures/{lint,parse}` names the
//! diagnostics it must produce in an `<!-- expect: … -->` line, and gets exactly those.
//! Every rule in `lint::RULES` must have a failing fixture.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use biaozhun::standard::{Collection, lint::RULES};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fixture units: single files, or directories (a multi-file case like duplicate-code).
fn fixtures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["tests/fixtures/lint", "tests/fixtures/parse"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .expect("fixture dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        out.extend(entries);
    }
    out
}

fn expected(path: &Path) -> BTreeSet<String> {
    let files = if path.is_dir() {
        biaozhun::standard::collection::find_files(path).expect("dir")
    } else {
        vec![path.to_path_buf()]
    };
    let mut set = BTreeSet::new();
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        let line = text
            .lines()
            .find(|l| l.starts_with("<!-- expect:"))
            .unwrap_or_else(|| panic!("{} has no expect line", f.display()));
        let list = line
            .trim_start_matches("<!-- expect:")
            .trim_end_matches("-->")
            .trim();
        set.extend(
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        );
    }
    set
}

fn produced(path: &Path) -> (BTreeSet<String>, Collection) {
    let coll = Collection::load(&[path.to_path_buf()], &[root().join("standards")]).expect("load");
    (
        coll.diagnostics
            .iter()
            .map(|d| d.code.to_string())
            .collect(),
        coll,
    )
}

#[test]
fn every_fixture_produces_exactly_its_expected_diagnostics() {
    let mut failures = Vec::new();
    for f in fixtures() {
        let want = expected(&f);
        let (got, coll) = produced(&f);
        if want != got {
            failures.push(format!(
                "{}: expected {want:?}, got {got:?}\n{:#?}",
                f.display(),
                coll.diagnostics
            ));
        }
        for d in &coll.diagnostics {
            assert!(d.line >= 1 && d.col >= 1, "{d}");
            assert!(!d.message.is_empty());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_good_fixture_is_clean_and_fully_parsed() {
    let (got, coll) = produced(&root().join("tests/fixtures/lint/good.md"));
    assert!(got.is_empty(), "{:#?}", coll.diagnostics);
    let s = &coll.standards[0];
    assert_eq!(s.code.to_string(), "Q/BZ 001—2025");
    assert_eq!(
        s.clause("4.2").map(|c| c.id.as_str()),
        Some("Q/BZ 001—2025#4.2")
    );
}

#[test]
fn every_rule_has_a_failing_fixture() {
    let covered: BTreeSet<String> = fixtures().iter().flat_map(|f| expected(f)).collect();
    // Size and I/O failures are produced in robustness tests, not by a committed file.
    let produced_elsewhere = ["file-too-large", "io"];
    let missing: Vec<&str> = RULES
        .iter()
        .map(|r| r.0)
        .filter(|code| !covered.contains(*code) && !produced_elsewhere.contains(code))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a failing fixture: {missing:?}"
    );
}

#[test]
fn lint_rules_doc_lists_every_rule() {
    let doc =
        std::fs::read_to_string(root().join("docs/lint-rules.md")).expect("docs/lint-rules.md");
    for (code, severity, _) in RULES {
        assert!(
            doc.contains(&format!("`{code}`")),
            "docs/lint-rules.md does not document `{code}`"
        );
        let row = doc
            .lines()
            .find(|l| l.contains(&format!("`{code}`")))
            .unwrap_or_default();
        assert!(
            row.contains(severity),
            "docs/lint-rules.md gives `{code}` a different severity than {severity}"
        );
    }
}
