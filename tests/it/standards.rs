//! The shipped standards: they parse, pass the lint, and carry enough checkable content.

use std::collections::HashSet;
use std::path::PathBuf;

use biaozhun::standard::{Collection, ProvisionType, front_matter::Source};

fn library() -> Collection {
    Collection::load(
        &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards")],
        &[],
    )
    .expect("load standards/")
}

#[test]
fn shipped_standards_have_no_diagnostics() {
    let coll = library();
    assert!(coll.diagnostics.is_empty(), "{:#?}", coll.diagnostics);
    assert_eq!(coll.standards.len(), coll.files);
}

#[test]
fn the_four_standards_are_reconstructed_and_substantial() {
    let coll = library();
    for code in [
        "T/ZTAC 001.1—2023",
        "T/ZTAC 001.2—2023",
        "T/ZTAC 002—2023",
        "DB3301/T 0441—2024",
    ] {
        let s = coll.find(code).unwrap_or_else(|| panic!("{code} missing"));
        assert_eq!(s.meta.source, Source::Reconstructed, "{code}");
        let counts = s.provision_counts();
        let normative = counts[ProvisionType::Requirement as usize]
            + counts[ProvisionType::Recommendation as usize]
            + counts[ProvisionType::Permission as usize];
        assert!(normative >= 40, "{code}: only {normative} provisions");
        assert!(
            counts[ProvisionType::Requirement as usize] >= 40,
            "{code}: too few requirements"
        );
        for n in ["1", "2", "3"] {
            assert!(s.clause(n).is_some(), "{code} lacks chapter {n}");
        }
    }
}

#[test]
fn clause_and_provision_ids_are_unique_and_well_formed() {
    let coll = library();
    let mut ids = HashSet::new();
    for s in &coll.standards {
        for c in s.all_clauses() {
            assert!(c.id.starts_with(&format!("{}#", s.code)), "{}", c.id);
            assert!(ids.insert(c.id.clone()), "duplicate clause id {}", c.id);
            let slug = &c.slug;
            assert_eq!(slug, &biaozhun::standard::slug_of_id(&c.id));
            assert!(
                slug.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "-._".contains(ch)),
                "{slug}"
            );
            for (i, p) in c.provisions.iter().enumerate() {
                assert_eq!(p.id, format!("{}/p{}", c.id, i + 1));
                assert_eq!(p.slug(), format!("{}_p{}", c.slug, i + 1));
            }
        }
    }
}

#[test]
fn process_standard_states_the_key_numbers() {
    let coll = library();
    let s = coll.find("T/ZTAC 001.2-2023").expect("001.2");
    let reqs: Vec<&str> = s
        .provisions()
        .filter(|p| p.kind == ProvisionType::Requirement)
        .map(|p| p.text.as_str())
        .collect();
    for needle in ["20 min", "48 h", "红码", "保险"] {
        assert!(
            reqs.iter().any(|t| t.contains(needle)),
            "no requirement mentions {needle}"
        );
    }
}

#[test]
fn references_resolve_to_library_entries() {
    let coll = library();
    for s in coll.standards.iter().filter(|s| !s.meta.reference_only) {
        for r in &s.meta.normative_references {
            let code = biaozhun::standard::Code::parse(r).expect("code");
            assert!(
                coll.standards
                    .iter()
                    .any(|t| code.matches(&t.code) || t.code.matches(&code)),
                "{}: {r} unresolved",
                s.code
            );
        }
    }
}
