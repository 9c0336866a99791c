//! Audit runs in the database, on SQLite and PostgreSQL: results of a run, verdicts
//! per clause (derived and set by an auditor), the manual checklist, findings, and
//! locking once closed.

use std::path::PathBuf;

use biaozhun::audit::checks::{CheckSet, clause_outcomes, evaluate};
use biaozhun::audit::time::parse_date_or_instant;
use biaozhun::db::Db;
use biaozhun::db::accounts::{Actor, NewUser, Role, User};
use biaozhun::db::audits::{AuditError, NewAudit, Verdict};
use biaozhun::platform::generate::{self, Settings};
use biaozhun::platform::import::{Options, import_sources};

async fn auditor(db: &Db) -> User {
    db.create_user(
        &NewUser {
            username: "auditor1",
            display_name: "审核员丙",
            password: "a long password",
            role: Role::Auditor,
            department: "质量部",
        },
        &Actor::default(),
    )
    .await
    .unwrap()
}

fn scope() -> Vec<String> {
    vec!["T/ZTAC 002—2023".to_string()]
}

async fn exercise(db: Db) {
    let me = auditor(&db).await;
    let standards = scope();
    let new = |name: &'static str, from: &'static str, to: &'static str| NewAudit {
        name,
        standards: &[],
        period_from: from,
        period_to: to,
        outlets: &[],
        max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
    };
    // Validation.
    for (bad, says) in [
        (new("", "2023-01-01", "2023-12-31"), "名称"),
        (new("年度审核", "2023-13-01", "2023-12-31"), "2023-13-01"),
        (new("年度审核", "2023-12-31", "2023-01-01"), "晚于"),
    ] {
        let bad = NewAudit {
            standards: &standards,
            ..bad
        };
        match db.create_audit(&bad, &me).await {
            Err(AuditError::Invalid(m)) => assert!(m.contains(says), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    let audit = db
        .create_audit(
            &NewAudit {
                name: "2023年度网点符合性审核",
                standards: &standards,
                period_from: "2023-01-01",
                period_to: "2023-12-31",
                outlets: &[],
                max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
            },
            &me,
        )
        .await
        .unwrap();
    assert_eq!((audit.state.as_str(), audit.revision), ("open", 1));

    // A run: the shipped checks over the simulated platform.
    let set = CheckSet::load(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("audits")]).unwrap();
    let g = generate::generate(&Settings::default());
    let p = import_sources(
        g.files
            .iter()
            .map(|(n, t)| (n.clone(), t.clone().into_bytes()))
            .collect(),
        &Options { key: b"k" },
    )
    .unwrap();
    let results = evaluate(&set, &p, parse_date_or_instant("2023-12-31", 480).unwrap());
    let clauses = clause_outcomes(&results);
    db.record_run(audit.id, &p.snapshot, &results, &clauses, &[])
        .await
        .unwrap();
    let stored = db.audit(audit.id).await.unwrap().unwrap();
    assert_eq!(stored.snapshot, p.snapshot);
    assert!(stored.ran_at.is_some());
    let rows = db.audit_results(audit.id).await.unwrap();
    assert_eq!(rows.len(), results.len());
    let five = rows
        .iter()
        .find(|r| r.check_id == "outlet-five-functions")
        .unwrap();
    assert_eq!(
        five.result["failed"], 2,
        "the result round-trips with its evidence"
    );
    let verdict = |v: &[biaozhun::db::audits::ClauseVerdict], n: &str| {
        v.iter()
            .find(|c| c.clause == format!("T/ZTAC 002—2023#{n}"))
            .map(|c| (c.verdict, c.severity.clone(), c.source.clone()))
            .unwrap()
    };
    let v = db.clause_verdicts(audit.id).await.unwrap();
    assert_eq!(
        verdict(&v, "4.2"),
        (Verdict::Nonconform, "major".into(), "auto".into())
    );
    assert_eq!(verdict(&v, "4.3").0, Verdict::Conform);
    assert_eq!(
        verdict(&v, "5.1").0,
        Verdict::NotAssessed,
        "manual: not yet assessed"
    );

    // The auditor's verdicts, with their required companions.
    assert!(matches!(
        db.set_clause_verdict(audit.id, "T/ZTAC 002—2023#5.1", Verdict::Nonconform, "", "", &me).await,
        Err(AuditError::Invalid(m)) if m.contains("严重程度")
    ));
    assert!(matches!(
        db.set_clause_verdict(audit.id, "T/ZTAC 002—2023#7.4.3", Verdict::NotApplicable, "", " ", &me).await,
        Err(AuditError::Invalid(m)) if m.contains("理由")
    ));
    db.set_clause_verdict(
        audit.id,
        "T/ZTAC 002—2023#5.1",
        Verdict::Observation,
        "",
        "",
        &me,
    )
    .await
    .unwrap();
    db.set_clause_verdict(
        audit.id,
        "T/ZTAC 002—2023#7.4.3",
        Verdict::NotApplicable,
        "",
        "本年度各网点均未开展助餐服务",
        &me,
    )
    .await
    .unwrap();
    // A second run refreshes derived verdicts but keeps the auditor's.
    db.record_run(audit.id, &p.snapshot, &results, &clauses, &[])
        .await
        .unwrap();
    let v = db.clause_verdicts(audit.id).await.unwrap();
    assert_eq!(
        verdict(&v, "5.1"),
        (Verdict::Observation, "".into(), "auditor".into())
    );
    assert_eq!(verdict(&v, "4.2").2, "auto");

    // Checklist and findings.
    db.set_item(
        audit.id,
        "outlet-emergency-plan",
        "O01",
        Verdict::Conform,
        "预案已上墙",
        &me,
    )
    .await
    .unwrap();
    db.set_item(
        audit.id,
        "outlet-emergency-plan",
        "O01",
        Verdict::Nonconform,
        "预案未更新",
        &me,
    )
    .await
    .unwrap();
    let items = db.items(audit.id).await.unwrap();
    assert_eq!(items.len(), 1, "one result per item and outlet");
    assert_eq!(items[0].verdict, Verdict::Nonconform);
    assert!(matches!(
        db.add_finding(audit.id, "T/ZTAC 002—2023#4.2", "minor", "缺少权益保护功能", "", "O10", "王经理", "2024-02-30", &me).await,
        Err(AuditError::Invalid(m)) if m.contains("2024-02-30")
    ));
    let f = db
        .add_finding(
            audit.id,
            "T/ZTAC 002—2023#4.2",
            "major",
            "网点缺少权益保护功能",
            "O10、O16 未开展权益保护受理",
            "O10",
            "网点管理部",
            "2024-02-29",
            &me,
        )
        .await
        .unwrap();

    // Evidence: stored content-addressed, recorded against the finding.
    let store_dir = tempfile::tempdir().unwrap();
    let store = biaozhun::audit::evidence::EvidenceStore::new(store_dir.path());
    let photo = store
        .put(b"\xFF\xD8\xFF\xE0\0\x10JFIF O10 photo", "O10-门头.jpg")
        .unwrap();
    let ev = biaozhun::db::audits::NewEvidence {
        finding_id: Some(f),
        item_id: "",
        target: "O10",
        stored: &photo,
        name: "O10-门头.jpg",
    };
    db.add_evidence(audit.id, &ev, &me).await.unwrap();
    let foreign = biaozhun::db::audits::NewEvidence {
        finding_id: Some(f + 1000),
        ..ev
    };
    assert!(matches!(
        db.add_evidence(audit.id, &foreign, &me).await,
        Err(AuditError::Invalid(_))
    ));
    let listed = db.evidence(audit.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].sha256.as_str(), listed[0].mime.as_str()),
        (photo.sha256.as_str(), "image/jpeg")
    );
    assert_eq!(store.get(&listed[0].sha256).unwrap().len(), photo.size);

    // Closing locks everything but the corrective-action follow-up.
    db.close_audit(audit.id, &me).await.unwrap();
    assert!(matches!(
        db.close_audit(audit.id, &me).await,
        Err(AuditError::Locked)
    ));
    assert!(matches!(
        db.set_clause_verdict(
            audit.id,
            "T/ZTAC 002—2023#4.3",
            Verdict::Conform,
            "",
            "",
            &me
        )
        .await,
        Err(AuditError::Locked)
    ));
    assert!(matches!(
        db.set_item(
            audit.id,
            "outlet-premises",
            "O02",
            Verdict::Conform,
            "",
            &me
        )
        .await,
        Err(AuditError::Locked)
    ));
    assert!(matches!(
        db.add_finding(
            audit.id,
            "T/ZTAC 002—2023#4.3",
            "minor",
            "x",
            "",
            "",
            "",
            "",
            &me
        )
        .await,
        Err(AuditError::Locked)
    ));
    assert!(matches!(
        db.record_run(audit.id, &p.snapshot, &results, &clauses, &[])
            .await,
        Err(AuditError::Locked)
    ));
    assert!(matches!(
        db.record_run(999_999, "", &[], &[], &[]).await,
        Err(AuditError::Missing)
    ));
    assert!(matches!(
        db.set_finding_status(f, "open", "verified", &me).await,
        Err(AuditError::Invalid(_))
    ));
    db.set_finding_status(f, "open", "corrected", &me)
        .await
        .unwrap();
    assert!(matches!(
        db.set_finding_status(f, "open", "corrected", &me).await,
        Err(AuditError::Invalid(m)) if m.contains("他人")
    ));
    db.set_finding_status(f, "corrected", "verified", &me)
        .await
        .unwrap();

    // A correction is a new revision, with a reason.
    assert!(matches!(
        db.revise_audit(audit.id, " ", &me).await,
        Err(AuditError::Invalid(_))
    ));
    let rev = db
        .revise_audit(audit.id, "O02 的应急预案照片补充上传后复核", &me)
        .await
        .unwrap();
    assert_eq!(
        (rev.revision, rev.revises, rev.state.as_str()),
        (2, Some(audit.id), "open")
    );
    assert_eq!(db.clause_verdicts(rev.id).await.unwrap().len(), v.len());
    assert_eq!(db.items(rev.id).await.unwrap().len(), 1);
    assert_eq!(db.findings(rev.id).await.unwrap()[0].status, "verified");
    assert_eq!(db.audit_results(rev.id).await.unwrap().len(), results.len());
    db.set_item(rev.id, "outlet-premises", "O02", Verdict::Conform, "", &me)
        .await
        .unwrap();
    assert_eq!(db.audit(audit.id).await.unwrap().unwrap().state, "closed");
    assert_eq!(
        db.items(audit.id).await.unwrap().len(),
        1,
        "the closed one is untouched"
    );

    // Writes racing with the close: each either landed before it or was refused.
    let race = db
        .create_audit(
            &NewAudit {
                name: "并发关闭",
                standards: &standards,
                period_from: "2023-01-01",
                period_to: "2023-12-31",
                outlets: &[],
                max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
            },
            &me,
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (db2, me2) = (db.clone(), me.clone());
        tasks.push(tokio::spawn(async move {
            db2.set_item(
                race.id,
                "outlet-premises",
                &format!("O{i:02}"),
                Verdict::Conform,
                "",
                &me2,
            )
            .await
        }));
        if i == 10 {
            let (db, me) = (db.clone(), me.clone());
            tasks.push(tokio::spawn(async move {
                db.close_audit(race.id, &me).await.map(|_| ())
            }));
        }
    }
    let mut written = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => written += 1,
            Err(AuditError::Locked) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let items = db.items(race.id).await.unwrap().len();
    assert_eq!(
        items + 1,
        written,
        "every acknowledged write is there, and only those"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_runs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&biaozhun::db::sqlite_url(&dir.path().join("a.db")))
        .await
        .unwrap();
    exercise(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_runs_on_postgres() {
    exercise(super::db::fresh_pg().await).await;
}

/// A clause verdict's version moves with every change, a run's included (and only
/// when the run changes the derived verdict), so a form showing an older verdict
/// cannot overwrite it; setting what is recorded writes nothing.
async fn verdict_versions(db: Db) {
    use biaozhun::audit::checks::ClauseOutcome;
    use biaozhun::db::audits::{ClauseEdit, ItemEdit, Saved};
    let me = auditor(&db).await;
    let audit = db
        .create_audit(
            &NewAudit {
                name: "版本",
                standards: &scope(),
                period_from: "2023-01-01",
                period_to: "2023-12-31",
                outlets: &[],
                max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
            },
            &me,
        )
        .await
        .unwrap();
    let clause = "T/ZTAC 002—2023#5.1";
    let run = |verdict: &'static str| {
        vec![ClauseOutcome {
            clause: clause.into(),
            verdict,
            severity: None,
            checks: vec![],
        }]
    };
    let version = |db: &Db| {
        let db = db.clone();
        async move {
            db.clause_verdicts(audit.id)
                .await
                .unwrap()
                .into_iter()
                .find(|v| v.clause == clause)
                .map(|v| (v.verdict, v.version))
                .unwrap()
        }
    };
    db.record_run(audit.id, "s", &[], &run("符合"), &[])
        .await
        .unwrap();
    assert_eq!(version(&db).await, (Verdict::Conform, 1));
    db.record_run(audit.id, "s", &[], &run("符合"), &[])
        .await
        .unwrap();
    assert_eq!(
        version(&db).await,
        (Verdict::Conform, 1),
        "unchanged: same version"
    );
    db.record_run(audit.id, "s", &[], &run("不符合"), &[])
        .await
        .unwrap();
    assert_eq!(version(&db).await, (Verdict::Nonconform, 2));
    // A page that showed version 1 (符合) cannot set anything now.
    let edit = |seen, verdict| ClauseEdit {
        seen,
        verdict,
        severity: "",
        justification: "现场核实",
    };
    assert!(matches!(
        db.save_clause_verdict(audit.id, clause, &edit(1, Verdict::Observation), &me)
            .await,
        Err(AuditError::Stale(m)) if m.contains("5.1")
    ));
    assert_eq!(
        db.save_clause_verdict(audit.id, clause, &edit(2, Verdict::Observation), &me)
            .await
            .unwrap(),
        Saved::Changed(3)
    );
    // The same again (a double submit) writes nothing, even from the old page.
    assert_eq!(
        db.save_clause_verdict(audit.id, clause, &edit(2, Verdict::Observation), &me)
            .await
            .unwrap(),
        Saved::Unchanged
    );
    // Checklist items: a note without a verdict is refused, nothing recorded.
    let item = |seen, verdict, note| ItemEdit {
        seen,
        verdict,
        note,
    };
    assert!(matches!(
        db.save_item(
            audit.id,
            "outlet-premises",
            "O01",
            &item(0, None, "看过了"),
            &me
        )
        .await,
        Err(AuditError::Invalid(_))
    ));
    assert!(db.items(audit.id).await.unwrap().is_empty());
    // Two first saves racing from pages that showed nothing: one is refused.
    assert_eq!(
        db.save_item(
            audit.id,
            "outlet-premises",
            "O01",
            &item(0, Some(Verdict::Conform), ""),
            &me
        )
        .await
        .unwrap(),
        Saved::Changed(1)
    );
    assert!(matches!(
        db.save_item(
            audit.id,
            "outlet-premises",
            "O01",
            &item(0, Some(Verdict::Nonconform), ""),
            &me
        )
        .await,
        Err(AuditError::Stale(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdict_versions_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&biaozhun::db::sqlite_url(&dir.path().join("a.db")))
        .await
        .unwrap();
    verdict_versions(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdict_versions_on_postgres() {
    verdict_versions(super::db::fresh_pg().await).await;
}
