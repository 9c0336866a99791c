//! The git-backed library on real temporary repositories.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use biaozhun::library::diff::{self, ChangeKind, ProvisionChangeKind};
use biaozhun::library::{Author, Library, LibraryError, PublishRequest, changes, tag_name};
use biaozhun::standard::{Code, Status};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures").join(rel)).expect("fixture")
}

/// Epoch seconds of a China-time date at 10:00.
fn at(date: &str) -> i64 {
    let days = |y: i64, m: i64, d: i64| {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
    };
    let p: Vec<i64> = date.split('-').map(|x| x.parse().expect("date")).collect();
    days(p[0], p[1], p[2]) * 86_400 + 2 * 3600
}

fn req(text: String, who: &str, msg: &str, date: &str) -> PublishRequest {
    PublishRequest {
        text,
        author: Author::parse(&format!("{who} <{who}@example.com>")),
        message: msg.into(),
        submission: None,
        when: Some(at(date)),
    }
}

/// A library holding the 2023 edition of the fixture pair, imported on 2023-03-01.
fn editions_library(dir: &Path) -> Library {
    let lib_root = dir.join("lib");
    Library::init(
        &lib_root,
        &root().join("tests/fixtures/editions/2023"),
        &Author::new("标准化办公室", "std@example.com"),
        Some(at("2023-03-01")),
    )
    .expect("init")
}

/// The 2023 library with the 2025 edition published on 2025-02-10 by 王喆.
fn library_with_2025(dir: &Path) -> Library {
    let lib = editions_library(dir);
    lib.publish(&req(
        fixture("editions/2025/q-bz-010-2025.md"),
        "王喆",
        "修订",
        "2025-02-10",
    ))
    .expect("publish");
    lib
}

fn git_status_clean(dir: &Path) -> bool {
    let repo = git2::Repository::open(dir).expect("repo");
    let statuses = repo.statuses(None).expect("status");
    statuses
        .iter()
        .all(|s| s.status().is_empty() || s.status() == git2::Status::IGNORED)
}

#[test]
fn import_commits_and_tags_the_shipped_standards() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Library::init(
        &dir.path().join("lib"),
        &root().join("standards"),
        &Author::new("标准化办公室", "std@example.com"),
        None,
    )
    .expect("init");
    let log = lib.log().expect("log");
    assert_eq!(log.len(), 1);
    assert!(log[0].summary.starts_with("Import 14 standards"));
    let repo = git2::Repository::open(lib.root()).expect("repo");
    let tags: Vec<String> = repo
        .tag_names(None)
        .expect("tags")
        .iter()
        .filter_map(|t| t.ok().flatten().map(String::from))
        .collect();
    for t in [
        "T-ZTAC-001.1-2023",
        "T-ZTAC-001.2-2023",
        "T-ZTAC-002-2023",
        "DB3301-T-0441-2024",
    ] {
        assert!(tags.contains(&t.to_string()), "{t} not in {tags:?}");
    }
    let (coll, _) = lib.collection_at("HEAD").expect("head");
    assert_eq!(coll.standards.len(), 14);
    assert_eq!(coll.error_count(), 0, "{:#?}", coll.diagnostics);
    assert!(git_status_clean(lib.root()));
    // A second init over the same directory refuses instead of clobbering.
    let again = Library::init(
        &dir.path().join("lib"),
        &root().join("standards"),
        &Author::new("x", "x@x"),
        None,
    );
    assert!(matches!(again, Err(LibraryError::AlreadyExists(_))));
}

#[test]
fn publish_a_new_edition_supersedes_the_old_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = editions_library(dir.path());
    let mut r = req(
        fixture("editions/2025/q-bz-010-2025.md"),
        "王喆",
        "2025年修订",
        "2025-02-10",
    );
    r.submission = Some("SUB-2025-007".into());
    let rev = lib.publish(&r).expect("publish");
    assert_eq!(rev.author, "王喆");
    assert!(
        rev.message
            .contains("Publish Q/BZ 010—2025 (new edition, current)"),
        "{}",
        rev.message
    );
    assert!(rev.message.contains("Submission: SUB-2025-007"));
    assert!(rev.message.contains("Supersedes: Q/BZ 010—2023"));
    assert!(rev.message.contains("Status: none → current"));

    let repo = git2::Repository::open(lib.root()).expect("repo");
    let tag = repo
        .revparse_single("Q-BZ-010-2025")
        .expect("tag")
        .peel_to_commit()
        .expect("commit");
    assert_eq!(tag.id().to_string(), rev.id);
    assert_eq!(
        tag_name(&Code::parse("T/ZTAC 001.2-2023").unwrap()),
        "T-ZTAC-001.2-2023"
    );

    let (old_now, _) = lib.read("Q/BZ 010-2023", "HEAD").expect("read");
    assert_eq!(old_now.meta.status, Status::Superseded);
    assert_eq!(old_now.meta.replaced_by.as_deref(), Some("Q/BZ 010—2025"));
    let (old_then, _) = lib
        .read("Q/BZ 010—2023", "Q-BZ-010-2023")
        .expect("read at tag");
    assert_eq!(old_then.meta.status, Status::Current);
    assert!(git_status_clean(lib.root()));
}

#[test]
fn invalid_publication_is_refused_and_leaves_no_trace() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = editions_library(dir.path());
    let bad = fixture("lint/dangling-xref.md");
    let err = lib
        .publish(&req(bad, "张三", "坏的", "2024-01-01"))
        .unwrap_err();
    match err {
        LibraryError::Invalid(d) => assert!(d.iter().any(|d| d.code == "dangling-xref")),
        other => panic!("{other}"),
    }
    assert_eq!(lib.log().expect("log").len(), 1);
    assert!(!lib.root().join("q-bz-001-2025.md").exists());
    assert!(git_status_clean(lib.root()));
}

#[test]
fn history_of_a_standard_shows_status_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = library_with_2025(dir.path());
    let h = lib.history("Q/BZ 010—2023").expect("history");
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].change, "modified");
    assert_eq!(
        (h[0].status_from.as_deref(), h[0].status_to.as_deref()),
        (Some("current"), Some("superseded"))
    );
    assert_eq!(h[0].revision.author, "王喆");
    assert_eq!(h[1].change, "added");
    assert!(h[1].revision.date.starts_with("2023-03-01"));
}

#[test]
fn clause_history_lists_only_revisions_that_changed_the_clause() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = editions_library(dir.path());
    let v1 = fixture("editions/2023/q-bz-010-2023.md");
    // r2 changes 5.2 only; r3 changes 6.1 only; r4 changes 5.2 again.
    let v2 = v1.replace("投诉应在受理后48 h内办结。", "投诉应在受理后36 h内办结。");
    let v3 = v2.replace("投诉办结后3日内", "投诉办结后2日内");
    let v4 = v3.replace("36 h内办结。", "24 h内办结。");
    lib.publish(&req(v2, "李娜", "缩短办结时限", "2023-06-01"))
        .expect("r2");
    lib.publish(&req(v3, "赵堃", "回访提前", "2023-09-01"))
        .expect("r3");
    lib.publish(&req(v4, "王喆", "再缩短", "2024-01-15"))
        .expect("r4");

    let h = lib
        .clause_history("Q/BZ 010-2023", "5.2")
        .expect("clause history");
    assert_eq!(h.clause_id, "Q/BZ 010—2023#5.2");
    let who: Vec<(&str, &str)> = h
        .revisions
        .iter()
        .map(|r| (r.revision.author.as_str(), r.change))
        .collect();
    assert_eq!(
        who,
        [
            ("王喆", "modified"),
            ("李娜", "modified"),
            ("标准化办公室", "added")
        ]
    );
    assert_eq!(
        h.last_changed.as_ref().map(|r| r.author.as_str()),
        Some("王喆")
    );
    assert!(
        h.revisions[0]
            .text
            .as_deref()
            .unwrap_or("")
            .contains("24 h")
    );

    let h61 = lib.clause_history("Q/BZ 010-2023", "6.1").expect("6.1");
    assert_eq!(h61.revisions.len(), 2);
    assert_eq!(h61.last_changed.map(|r| r.author), Some("赵堃".to_string()));

    // Reading as of a date gives the text in force then.
    let (s, _) = lib
        .read("Q/BZ 010-2023", "2023-07-01")
        .expect("read at date");
    assert!(s.clause("5.2").unwrap().own_text().contains("36 h"));
    let err = lib.clause_history("Q/BZ 010-2023", "9.9").unwrap_err();
    assert!(err.to_string().contains("has no clause `9.9`"), "{err}");
}

#[test]
fn edition_in_force_on_a_date() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = library_with_2025(dir.path());
    let (s, _) = lib.in_force("Q/BZ 010", "2024-05-01").expect("2024");
    assert_eq!(s.code.to_string(), "Q/BZ 010—2023");
    // Published 2025-02-10, effective 2025-03-01: on 2025-02-20 the 2023 edition still applies.
    let (s, _) = lib.in_force("Q/BZ 010", "2025-02-20").expect("feb");
    assert_eq!(s.code.to_string(), "Q/BZ 010—2023");
    let (s, _) = lib.in_force("Q/BZ 010", "2025-06-01").expect("june");
    assert_eq!(s.code.to_string(), "Q/BZ 010—2025");
    assert!(lib.in_force("Q/BZ 010", "2020-01-01").is_err());
}

#[test]
fn diff_across_renumbering_reports_moves_not_delete_add() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = library_with_2025(dir.path());
    let (old, _) = lib.read("Q/BZ 010-2023", "Q-BZ-010-2023").expect("old");
    let (new, _) = lib.read("Q/BZ 010-2025", "HEAD").expect("new");
    let d = diff::diff(&old, &new, "2023", "2025");
    let find = |o: &str| {
        d.changes
            .iter()
            .find(|c| c.old_number.as_deref() == Some(o))
            .unwrap_or_else(|| panic!("no change for {o}: {d:#?}"))
    };
    let c53 = find("5.3");
    assert_eq!(
        (c53.kind, c53.new_number.as_deref()),
        (ChangeKind::MovedModified, Some("6.1"))
    );
    assert!(
        c53.inline
            .iter()
            .any(|s| s.op == "insert" && s.text.contains("30"))
    );
    // 6.2 cites 6.1 in 2023 and 7.1 in 2025: the same reference after renumbering.
    let c62 = find("6.2");
    assert_eq!(
        (c62.kind, c62.new_number.as_deref()),
        (ChangeKind::Moved, Some("7.2"))
    );
    assert_eq!(find("6.1").kind, ChangeKind::Moved);
    assert_eq!(find("5.4").kind, ChangeKind::Removed);
    // Untouched clauses do not appear at all.
    assert!(
        d.changes
            .iter()
            .all(|c| c.old_number.as_deref() != Some("4.1"))
    );
    assert_eq!(d.count(ChangeKind::Added), 2, "{:#?}", d.changes);

    let c51 = find("5.1");
    assert_eq!(c51.provisions[0].kind, ProvisionChangeKind::Strengthened);
    let c52 = find("5.2");
    assert_eq!(c52.provisions[0].kind, ProvisionChangeKind::NewRequirement);
    let weakened = diff::diff(&new, &old, "2025", "2023");
    let back = weakened
        .changes
        .iter()
        .find(|c| c.new_number.as_deref() == Some("5.1"))
        .expect("5.1");
    assert_eq!(back.provisions[0].kind, ProvisionChangeKind::Weakened);
}

#[test]
fn changes_drafts_the_foreword_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = library_with_2025(dir.path());
    let (old, _) = lib.read("Q/BZ 010-2023", "Q-BZ-010-2023").expect("old");
    let (new, _) = lib.read("Q/BZ 010-2025", "HEAD").expect("new");
    let d = diff::diff(&old, &new, "2023", "2025");
    let s = changes::summarize(&old, &d);
    assert_eq!(
        s.text,
        "本文件代替Q/BZ 010—2023《家政服务投诉处理规范》。\n本文件与Q/BZ 010—2023相比，除结构调整和编辑性改动外，主要技术变化如下：\n\
a) 更改了“受理”的规定，将推荐性或允许性条款改为要求（见5.1）；\n\
b) 更改了“处理”的规定，增加了要求（见5.2）；\n\
c) 更改了“投诉分级”的规定（见6.1，2023年版的5.3）；\n\
d) 删除了“纸质登记”的规定（见2023年版的5.4）；\n\
e) 增加了“升级”的规定（见6.2）。"
    );
    assert!(
        s.editorial
            .iter()
            .any(|e| e.contains("“回访”由2023年版的6.1调整为7.1")),
        "{:?}",
        s.editorial
    );
}

#[test]
fn twenty_concurrent_publishes_lose_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Arc::new(editions_library(dir.path()));
    let base = fixture("lint/good.md");
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let lib = Arc::clone(&lib);
            let text = base
                .replace(
                    "code: Q/BZ 001—2025",
                    &format!("code: Q/BZ {:03}—2025", 100 + i),
                )
                .replace(
                    "title: 家政服务订单受理规范",
                    &format!("title: 并发测试规范{i}"),
                );
            std::thread::spawn(move || {
                let r = PublishRequest {
                    text,
                    author: Author::new(&format!("员工{i}"), "e@example.com"),
                    message: format!("并发{i}"),
                    submission: None,
                    when: None,
                };
                lib.publish(&r).map(|rev| rev.id)
            })
        })
        .collect();
    let ids: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").expect("publish"))
        .collect();
    let log = lib.log().expect("log");
    assert_eq!(log.len(), 21);
    for id in &ids {
        assert!(log.iter().any(|r| &r.id == id), "commit {id} lost");
    }
    let (coll, _) = lib.collection_at("HEAD").expect("head");
    for i in 0..20 {
        assert!(
            coll.find(&format!("Q/BZ {:03}—2025", 100 + i)).is_some(),
            "Q/BZ {} missing at HEAD",
            100 + i
        );
    }
    assert!(git_status_clean(lib.root()));
}

#[test]
fn a_crash_between_write_and_commit_is_rolled_back_on_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = editions_library(dir.path());
    let root_path = lib.root().to_path_buf();
    // New edition file + the old edition's front matter are written, then "crash".
    let r = req(
        fixture("editions/2025/q-bz-010-2025.md"),
        "王喆",
        "修订",
        "2025-02-10",
    );
    assert!(lib.publish_and_crash_before_commit(&r).is_err());
    assert!(
        root_path.join("q-bz-010-2025.md").exists(),
        "the crash happens after the write"
    );
    assert!(!git_status_clean(&root_path));
    drop(lib);

    let (lib, recovery) = Library::open(&root_path).expect("open");
    let rec = recovery.expect("recovery ran");
    assert_eq!(rec.code, "Q/BZ 010—2025");
    assert!(rec.action.contains("rolled back"));
    assert!(!root_path.join("q-bz-010-2025.md").exists());
    assert!(git_status_clean(&root_path), "work tree restored to HEAD");
    assert_eq!(lib.log().expect("log").len(), 1);
    // The library works normally afterwards.
    lib.publish(&r).expect("publish after recovery");
    assert_eq!(lib.log().expect("log").len(), 2);
}

#[test]
fn unknown_code_and_revision_suggest_close_matches() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = editions_library(dir.path());
    let e = lib.read("Q/BZ 010—2024", "HEAD").unwrap_err();
    assert!(e.to_string().contains("did you mean: Q/BZ 010—2023"), "{e}");
    let e = lib.read("Q/BZ 010—2023", "Q-BZ-010").unwrap_err();
    assert!(
        e.to_string().contains("unknown revision `Q-BZ-010`")
            && e.to_string().contains("Q-BZ-010-2023"),
        "{e}"
    );
    let e = Library::open(&dir.path().join("nowhere"))
        .err()
        .expect("error");
    assert!(e.to_string().contains("is not a standards library"), "{e}");
}

#[test]
fn foreign_commits_with_broken_files_are_annotated_not_fatal() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = editions_library(dir.path());
    // Someone edits the file by hand and commits it with plain git, breaking the YAML.
    let path = lib.root().join("q-bz-010-2023.md");
    let broken = std::fs::read_to_string(&path)
        .expect("read")
        .replace("title: 家政服务投诉处理规范", "title: [broken");
    std::fs::write(&path, broken).expect("write");
    let repo = git2::Repository::open(lib.root()).expect("repo");
    let mut index = repo.index().expect("index");
    index.add_path(Path::new("q-bz-010-2023.md")).expect("add");
    index.write().expect("write");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let head = repo.head().expect("head").peel_to_commit().expect("commit");
    let sig = git2::Signature::now("外部用户", "x@example.com").expect("sig");
    repo.commit(Some("HEAD"), &sig, &sig, "hand edit", &tree, &[&head])
        .expect("commit");

    // At HEAD the file no longer parses: history still finds it by its code line and
    // annotates the broken revision.
    let h = lib
        .history("Q/BZ 010—2023")
        .expect("history at a broken HEAD");
    assert_eq!(h.len(), 2);
    assert!(
        h[0].note
            .as_deref()
            .unwrap_or("")
            .contains("does not parse"),
        "{h:#?}"
    );
    // A valid publication repairs it.
    lib.publish(&req(
        fixture("editions/2023/q-bz-010-2023.md"),
        "王喆",
        "修复",
        "2026-01-01",
    ))
    .expect("repair");
    let h = lib.history("Q/BZ 010—2023").expect("history");
    assert_eq!(h.len(), 3);
    assert!(
        h[1].note
            .as_deref()
            .unwrap_or("")
            .contains("does not parse"),
        "{h:#?}"
    );
    let ch = lib.clause_history("Q/BZ 010—2023", "5.1").expect("clause");
    assert_eq!(ch.skipped.len(), 1);
}

mod cli {

    use std::process::{Command, Output};

    fn run(args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_biaozhun"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("BIAOZHUN_LIBRARY")
            .output()
            .expect("run")
    }

    fn ok(args: &[&str]) -> String {
        let o = run(args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("utf-8")
    }

    #[test]
    fn init_publish_history_diff_changes_show() {
        let dir = tempfile::tempdir().expect("tmp");
        let lib = dir.path().join("lib");
        let l = lib.to_str().expect("path");
        let out = ok(&[
            "library",
            "init",
            "--from",
            "tests/fixtures/editions/2023",
            "--library",
            l,
        ]);
        assert!(out.starts_with("initialised library"), "{out}");

        let out = ok(&[
            "library",
            "publish",
            "tests/fixtures/editions/2025/q-bz-010-2025.md",
            "--author",
            "王喆 <wz@example.com>",
            "-m",
            "2025年修订",
            "--submission",
            "SUB-7",
            "--library",
            l,
        ]);
        assert!(out.contains("published Publish Q/BZ 010—2025"), "{out}");

        let out = ok(&["history", "Q/BZ 010-2023", "--library", l]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].contains("王喆") && lines[0].contains("current→superseded"),
            "{out}"
        );

        let out = ok(&["history", "Q/BZ 010-2025#6.1", "--library", l, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["clause_id"], "Q/BZ 010—2025#6.1");
        assert_eq!(v["last_changed"]["author"], "王喆");

        let out = ok(&[
            "diff",
            "Q/BZ 010-2023",
            "Q/BZ 010-2025",
            "--library",
            l,
            "--color",
            "never",
        ]);
        assert!(out.contains("~ 5.3 → 6.1 投诉分级 [移动并修改]"), "{out}");
        assert!(out.contains("[-1-]{+30+}"), "{out}");
        assert!(out.contains("▲ 加严（推荐 → 要求）"), "{out}");
        let colored = ok(&[
            "diff",
            "Q/BZ 010-2023",
            "Q/BZ 010-2025",
            "--library",
            l,
            "--color",
            "always",
        ]);
        assert!(colored.contains("\u{1b}[32;1m30\u{1b}[0m"), "{colored}");
        let md = ok(&[
            "diff",
            "Q/BZ 010-2023",
            "Q/BZ 010-2025",
            "--library",
            l,
            "--format",
            "markdown",
        ]);
        assert!(
            md.starts_with("# 条款级差异：")
                && md.contains("| 移动并修改 | 5.3 → 6.1 | 投诉分级 |"),
            "{md}"
        );
        let json = ok(&[
            "diff",
            "Q/BZ 010-2023",
            "Q/BZ 010-2025",
            "--library",
            l,
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert!(
            v["changes"]
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c["kind"] == "moved_modified"))
        );

        // Revisions of one standard: the 2023 file before and after it was superseded.
        let out = ok(&["diff", "Q/BZ 010-2023", "--library", l, "--color", "never"]);
        assert!(out.contains("status: current → superseded"), "{out}");

        let out = ok(&["changes", "Q/BZ 010-2025", "--library", l]);
        assert!(
            out.contains("a) 更改了“受理”的规定，将推荐性或允许性条款改为要求（见5.1）；"),
            "{out}"
        );

        // The library was created just now, so a past date precedes it (said clearly) and
        // a later one resolves the undated code to the edition in force: 2025.
        let o = run(&["show", "Q/BZ 010#5.1", "--at", "2024-06-01", "--library", l]);
        assert!(String::from_utf8_lossy(&o.stderr).contains("did not exist yet on that date"));
        let out = ok(&["show", "Q/BZ 010#5.1", "--at", "2099-06-01", "--library", l]);
        assert!(out.contains("[要求] 投诉受理应在"), "{out}");
        let out = ok(&[
            "show",
            "Q/BZ 010-2023#5.1",
            "--rev",
            "Q-BZ-010-2023",
            "--library",
            l,
        ]);
        assert!(out.contains("宜在投诉提交后2 h内完成"), "{out}");

        let o = run(&["show", "Q/BZ 010-2023", "--rev", "nonsense", "--library", l]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("unknown revision `nonsense`"));
        let o = run(&[
            "library",
            "publish",
            "tests/fixtures/lint/dangling-xref.md",
            "--author",
            "x",
            "-m",
            "bad",
            "--library",
            l,
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("dangling-xref"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = run(&["history", "Q/BZ 010-2023", "--library", "/nonexistent/lib"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("is not a standards library"));
    }
}

#[test]
fn a_corrupt_repository_gives_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = editions_library(dir.path());
    let root_path = lib.root().to_path_buf();
    drop(lib);
    // Lose every object: refs point at nothing.
    std::fs::remove_dir_all(root_path.join(".git/objects")).expect("rm");
    std::fs::create_dir_all(root_path.join(".git/objects")).expect("mkdir");
    let err = Library::open(&root_path)
        .err()
        .expect("corrupt repo must not open");
    let msg = err.to_string();
    assert!(msg.contains("damaged"), "{msg}");
    // Garbage in HEAD.
    std::fs::write(root_path.join(".git/HEAD"), "garbage\n").expect("write");
    let msg = Library::open(&root_path).err().expect("error").to_string();
    assert!(
        msg.contains("is not a standards library") || msg.contains("damaged"),
        "{msg}"
    );
}
