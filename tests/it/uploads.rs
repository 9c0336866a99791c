//! Uploads over real HTTP against a running server: heavy imports are limited
//! (503 with `Retry-After` when every slot is busy), a survey import preview
//! shows how the file was read and checks the two layouts against each other,
//! and no store keeps a file that no row cites (rejected uploads are not kept,
//! evidence is written only with its row, the startup sweep removes orphans).

use biaozhun::db::accounts::Role;
use biaozhun::web::{self, HEAVY_SLOTS, ServeConfig};
use reqwest::StatusCode;

use super::web::{Fetch, Server, client, csrf_of, location, session_for, start};

fn data_dir(s: &Server) -> std::path::PathBuf {
    s._dir.path().join("data")
}

/// The files under a store directory.
fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if sub.path().is_dir() {
            out.extend(files_in(&sub.path()));
        } else {
            out.push(sub.path());
        }
    }
    out.sort();
    out
}

/// A Word file of a heading and `n` requirement paragraphs.
fn word_file(n: usize) -> Vec<u8> {
    use std::io::Write;
    let mut body = String::from(
        "<w:p><w:pPr><w:outlineLvl w:val=\"0\"/></w:pPr><w:r><w:t>1 服务要求</w:t></w:r></w:p>",
    );
    for i in 0..n {
        body.push_str(&format!(
            "<w:p><w:r><w:t>1.{} 家政服务人员应持证上岗，服务前应出示安心码并请客户扫码核验。</w:t></w:r></w:p>",
            i + 1
        ));
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file(
            "word/document.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        write!(
            z,
            "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
        )
        .unwrap();
        z.finish().unwrap();
    }
    buf.into_inner()
}

/// Word imports and survey imports share [`HEAVY_SLOTS`] slots. With every slot
/// taken, both are answered 503 with `Retry-After` (the API in JSON, the page in
/// Chinese); concurrent real requests beyond the slots are turned away the same
/// way, never failed or crashed; once slots are free, imports work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_imports_are_limited_and_turned_away_with_retry_after() {
    let s = start(None).await;
    let c = client();
    let (staff, _) = session_for(&s, Role::Reviewer).await;
    let cookie = format!("bz_session={staff}");
    let docx = |bytes: Vec<u8>| {
        c.post(format!(
            "{}/api/v1/import/docx?code=Q/BZ%20001—2026",
            s.base
        ))
        .header("cookie", cookie.clone())
        .body(bytes)
    };
    let small = word_file(3);
    let r = docx(small.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let held = s
        .state
        .heavy_slots
        .acquire_many(HEAVY_SLOTS as u32)
        .await
        .unwrap();
    let r = docx(small.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().starts_with("服务器正忙"),
        "{v}"
    );
    // The survey import page, likewise.
    let list = c
        .get(format!("{}/surveys", s.base))
        .header("cookie", cookie.clone())
        .body_text()
        .await;
    let csrf = csrf_of(&list);
    let row = s
        .state
        .db
        .survey_latest("customer-satisfaction")
        .await
        .unwrap()
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"a,b\n".to_vec()).file_name("x.csv"),
        );
    let r = c
        .post(format!("{}/surveys/{}/import", s.base, row.id))
        .header("cookie", cookie.clone())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    assert!(r.text().await.unwrap().contains("服务器正忙"));
    drop(held);

    // Real concurrent requests: each import of this file takes longer than a
    // request waits for a slot, so of eight sent at once some are turned away.
    let heavy = word_file(6_000);
    let started = std::time::Instant::now();
    let r = docx(heavy.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let one = started.elapsed();
    assert!(one > web::HEAVY_WAIT * 2, "one import takes {one:?}");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = docx(heavy.clone());
        set.spawn(async move { request.send().await });
    }
    let (mut ok, mut busy) = (0, 0);
    while let Some(r) = set.join_next().await {
        let r = r.unwrap().unwrap();
        match r.status() {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.headers()["retry-after"], "5");
                busy += 1;
            }
            other => panic!("{other}: {}", r.text().await.unwrap()),
        }
    }
    assert!(ok >= 1 && busy >= 1, "{ok} converted, {busy} turned away");
    let r = docx(small).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "slots are given back");
}

/// The test survey's header and `n` coded rows answering every satisfaction
/// question with `code`, then `m` answering `other`.
fn coded_csv(n: usize, code: u8, m: usize, other: u8) -> String {
    let head = std::fs::read_to_string(format!(
        "{}/tests/data/surveys/wjx-text.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .lines()
    .next()
    .unwrap()
    .to_string();
    let mut out = head;
    out.push('\n');
    for i in 0..n + m {
        let c = if i < n { code } else { other };
        out.push_str(&format!(
            "{},2023/10/9 10:{:02}:00,125秒,电话,,,{c},{c},{c},1,-2,(空)\n",
            i + 1,
            i % 60
        ));
    }
    out
}

/// The same rows in the text layout, read with `labels` (code 1 first).
fn as_text(coded: &str, labels: [&str; 5]) -> String {
    coded
        .lines()
        .map(|l| match l.split_once(",125秒,") {
            Some((head, rest)) => {
                let c: Vec<&str> = rest.split(',').collect();
                let t = |x: &str| labels[x.parse::<usize>().unwrap() - 1];
                format!(
                    "{head},125秒,{},{},{},{},{},{},非常了解,(跳过),(空)",
                    c[0],
                    c[1],
                    c[2],
                    t(c[3]),
                    t(c[4]),
                    t(c[5])
                )
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const ASCENDING: [&str; 5] = ["非常不满意", "不满意", "一般", "满意", "非常满意"];
const DESCENDING: [&str; 5] = ["非常满意", "满意", "一般", "不满意", "非常不满意"];

fn hidden(page: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let i = page
        .find(&key)
        .unwrap_or_else(|| panic!("{name} in {page}"))
        + key.len();
    page[i..i + page[i..].find('"').unwrap()].to_string()
}

/// The case end to end: a questionnaire that listed 非常不满意 first, its
/// 按选项序号 export previewed (the first responses decoded, so `5 → 非常满意` is
/// visible), checked against the text layout, and committed: 97% satisfied. A
/// definition without the order refuses the coded file and says how to state
/// it; two layouts that disagree are refused answer by answer; files that cannot
/// be read are not kept, and a committed import leaves exactly its own file.
async fn survey_imports(s: Server) {
    let c = client();
    let (staff, _) = session_for(&s, Role::Reviewer).await;
    let as_staff = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={staff}"));
    let csrf = csrf_of(
        &as_staff(c.get(format!("{}/surveys", s.base)))
            .body_text()
            .await,
    );
    let def = std::fs::read_to_string(format!(
        "{}/tests/data/surveys/test.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let create = |yaml: String| {
        as_staff(c.post(format!("{}/surveys", s.base)))
            .form(&[("csrf", csrf.clone()), ("yaml", yaml)])
            .send()
    };
    let id_of = |r: &reqwest::Response| -> i64 {
        let at = location(r);
        at["/surveys/".len()..at.find('?').unwrap()]
            .parse()
            .unwrap()
    };
    let up = id_of(
        &create(def.replace("scale: 非常满意→非常不满意", "scale: 非常不满意→非常满意"))
            .await
            .unwrap(),
    );
    let none = id_of(
        &create(
            def.replace("scale: 非常满意→非常不满意\n", "")
                .replace("id: test-satisfaction", "id: no-order"),
        )
        .await
        .unwrap(),
    );
    let upload = |id: i64, files: Vec<(&'static str, &'static str, Vec<u8>)>| {
        let mut form = reqwest::multipart::Form::new().text("csrf", csrf.clone());
        for (field, name, bytes) in files {
            form = form.part(
                field,
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        }
        as_staff(c.post(format!("{}/surveys/{id}/import", s.base))).multipart(form)
    };
    let pending = data_dir(&s).join("pending-imports");
    let coded = coded_csv(97, 5, 3, 1);

    // No order stated: refused with the line to add; nothing imported.
    let page = upload(
        none,
        vec![("file", "coded.csv", coded.clone().into_bytes())],
    )
    .body_text()
    .await;
    assert!(
        page.contains("这是“按选项序号”下载的文件") && page.contains("scale: 非常不满意→非常满意"),
        "{page}"
    );
    assert!(!page.contains("id=\"confirm-import\""));

    // Stated: the preview shows the reading, checked against the text layout.
    let text = as_text(&coded, ASCENDING);
    let page = upload(
        up,
        vec![
            ("file", "coded.csv", coded.clone().into_bytes()),
            ("other", "text.csv", text.clone().into_bytes()),
        ],
    )
    .body_text()
    .await;
    assert!(page.contains("共 100 份答卷（按选项序号）"), "{page}");
    assert!(page.contains("序号 1 = 非常不满意，5 = 非常满意"), "{page}");
    assert!(page.contains("<td>5 → 非常满意</td>"), "{page}");
    assert!(
        page.contains("已与 text.csv（按选项文本）逐题核对：100 份答卷、6 道题的答案全部一致"),
        "{page}"
    );
    assert_eq!(files_in(&pending).len(), 2, "both kept until confirmed");
    let r = as_staff(c.post(format!("{}/surveys/{up}/import/confirm", s.base)))
        .form(&[
            ("csrf", csrf.as_str()),
            ("sha", hidden(&page, "sha").as_str()),
            ("file_name", "coded.csv"),
            ("other_sha", hidden(&page, "other_sha").as_str()),
            ("other_name", "text.csv"),
            ("confirm", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("/surveys/{up}?saved=imported"));
    let stats: serde_json::Value = as_staff(c.get(format!("{}/api/v1/surveys/{up}/stats", s.base)))
        .body_json()
        .await;
    assert_eq!(stats["stats"]["csat_percent"], 97.0, "{stats}");
    assert!(files_in(&pending).is_empty(), "pending copies are dropped");
    let kept = files_in(&data_dir(&s).join("survey-uploads"));
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].ends_with(&hidden(&page, "sha")[2..]));

    // The two layouts read differently (the text export listed 非常满意 first):
    // refused, naming the first answers that differ.
    let other = as_text(&coded, DESCENDING);
    let page = upload(
        up,
        vec![
            (
                "file",
                "coded2.csv",
                coded.replace("10:00:00", "10:00:01").into_bytes(),
            ),
            (
                "other",
                "text2.csv",
                other.replace("10:00:00", "10:00:01").into_bytes(),
            ),
        ],
    )
    .body_text()
    .await;
    assert!(page.contains("两个文件的答案不一致，不能导入"), "{page}");
    assert!(
        page.contains("第 2 行（序号 1） 第 1 题（您对家政服务人员的服务态度是否满…）：按选项序号读作“非常满意”，按选项文本读作“非常不满意”"),
        "{page}"
    );
    assert!(page.contains("……另有"), "{page}");
    assert!(!page.contains("id=\"confirm-import\""));

    // A file that cannot be read at all is not kept.
    let before = files_in(&pending);
    let page = upload(
        up,
        vec![("file", "x.xlsx", b"PK\x03\x04 not really".to_vec())],
    )
    .body_text()
    .await;
    assert!(page.contains("不是可读的 Excel 文件"), "{page}");
    assert_eq!(files_in(&pending), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_imports_on_sqlite() {
    survey_imports(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_imports_on_postgres() {
    survey_imports(start(Some(super::db::fresh_pg_url().await)).await).await;
}

/// Evidence is written only once the audit is open and the finding is its own:
/// uploads to a closed audit or citing another audit's finding leave no file.
async fn evidence_needs_its_row(s: Server) {
    let c = client();
    let (token, csrf) = session_for(&s, Role::Auditor).await;
    let auditor = s.state.db.user_by_name("u-auditor").await.unwrap().unwrap();
    let standards = ["T/ZTAC 002—2023".to_string()];
    let mut audits = Vec::new();
    for name in ["开放的审核", "另一个审核", "已关闭的审核"] {
        let a = biaozhun::db::audits::NewAudit {
            name,
            standards: &standards,
            period_from: "2023-01-01",
            period_to: "2023-12-31",
            outlets: &[],
            max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
        };
        audits.push(s.state.db.create_audit(&a, &auditor).await.unwrap());
    }
    let (open, other, closed) = (&audits[0], &audits[1], &audits[2]);
    s.state.db.close_audit(closed.id, &auditor).await.unwrap();
    let foreign = s
        .state
        .db
        .add_finding(
            other.id,
            "T/ZTAC 002—2023#4.2",
            "minor",
            "别处的发现",
            "",
            "",
            "",
            "",
            &auditor,
        )
        .await
        .unwrap();
    let photo = b"\xFF\xD8\xFF\xE0\0\x10JFIF O03 photo".to_vec();
    let post = |id: i64, finding: Option<i64>| {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("target", "O03")
            .text("item", "outlet-sign")
            // The version of the item's result the page showed: none recorded yet.
            .text("version", "0")
            .text("verdict", "nonconform")
            .part(
                "photo",
                reqwest::multipart::Part::bytes(photo.clone()).file_name("门头.jpg"),
            );
        if let Some(f) = finding {
            form = form.text("finding", f.to_string());
        }
        c.post(format!("{}/audits/{id}/evidence", s.base))
            .header("cookie", format!("bz_session={token}"))
            .multipart(form)
    };
    let store = data_dir(&s).join("evidence");
    let page = post(closed.id, None).body_text().await;
    assert!(page.contains("审核已关闭"), "{page}");
    assert!(files_in(&store).is_empty(), "{:?}", files_in(&store));
    let page = post(open.id, Some(foreign)).body_text().await;
    assert!(page.contains("该发现不属于这个审核"), "{page}");
    assert!(files_in(&store).is_empty(), "{:?}", files_in(&store));
    let r = post(open.id, None).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(files_in(&store).len(), 1);
    assert_eq!(s.state.db.evidence(open.id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_needs_its_row_on_sqlite() {
    evidence_needs_its_row(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_needs_its_row_on_postgres() {
    evidence_needs_its_row(start(Some(super::db::fresh_pg_url().await)).await).await;
}

/// Makes a file look an hour old, past the sweep's grace period.
fn age(path: &std::path::Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
}

/// A start sweeps the stores: files no row cites (and left-over temporary and
/// pending files) go, cited and recent files stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_removes_files_no_row_cites() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        data: dir.path().join("data"),
        standards: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards"),
        database_url: None,
        admin_password: Some("admin-password-1".into()),
        demo: false,
        insecure_cookies: false,
        code_pattern: "Q/BZ {n:03}—{year}".into(),
        monitor: Default::default(),
    };
    let (state, _) = web::prepare(&cfg).await.unwrap();
    let auditor = state
        .db
        .create_user(
            &biaozhun::db::accounts::NewUser {
                username: "sweeper",
                display_name: "审核员",
                password: "a long password",
                role: Role::Auditor,
                department: "",
            },
            &biaozhun::db::accounts::Actor::default(),
        )
        .await
        .unwrap();
    let audit = state
        .db
        .create_audit(
            &biaozhun::db::audits::NewAudit {
                name: "清理测试",
                standards: &["T/ZTAC 002—2023".to_string()],
                period_from: "2023-01-01",
                period_to: "2023-12-31",
                outlets: &[],
                max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
            },
            &auditor,
        )
        .await
        .unwrap();
    let cited = state.evidence.put(b"%PDF-1.4 cited", "cited.pdf").unwrap();
    state
        .db
        .add_evidence(
            audit.id,
            &biaozhun::db::audits::NewEvidence {
                finding_id: None,
                item_id: "x",
                target: "O01",
                stored: &cited,
                name: "cited.pdf",
            },
            &auditor,
        )
        .await
        .unwrap();
    let orphan = state
        .evidence
        .put(b"%PDF-1.4 orphan", "orphan.pdf")
        .unwrap();
    let young = state.evidence.put(b"%PDF-1.4 young", "young.pdf").unwrap();
    let survey_orphan = state.survey_files.put_any(b"a,b\n").unwrap();
    let pending = state.pending.put_any(b"c,d\n").unwrap();
    let data = dir.path().join("data");
    let path = |store: &str, sha: &str| data.join(store).join(&sha[..2]).join(&sha[2..]);
    let partial = data
        .join("evidence")
        .join(&orphan.sha256[..2])
        .join(".half.partial");
    std::fs::write(&partial, b"half").unwrap();
    for p in [
        path("evidence", &cited.sha256),
        path("evidence", &orphan.sha256),
        path("survey-uploads", &survey_orphan),
        path("pending-imports", &pending),
        partial.clone(),
    ] {
        age(&p);
    }
    drop(state);
    let (state, _) = web::prepare(&cfg).await.unwrap();
    assert!(path("evidence", &cited.sha256).exists(), "cited: kept");
    assert!(path("evidence", &young.sha256).exists(), "recent: kept");
    assert!(!path("evidence", &orphan.sha256).exists());
    assert!(!partial.exists());
    assert!(!path("survey-uploads", &survey_orphan).exists());
    assert!(!path("pending-imports", &pending).exists());
    assert!(state.evidence.get(&cited.sha256).is_ok());
}

/// A lint answer lists at most 500 diagnostics and counts the rest: a 1 MiB
/// draft of bare headings used to come back as 16 MB of JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lint_answers_are_bounded() {
    let s = start(None).await;
    let c = client();
    let (staff, _) = session_for(&s, Role::Employee).await;
    let mut text = "---\ncode: Q/BZ 001—2026\ntitle: 测试\nkind: enterprise\nstatus: current\nsource: official\n---\n\n".to_string();
    for i in 1..=2_000 {
        text.push_str(&format!("## {i} x\n\n"));
    }
    for path in ["lint", "preview"] {
        let v: serde_json::Value = c
            .post(format!("{}/api/v1/{path}", s.base))
            .header("cookie", format!("bz_session={staff}"))
            .json(&serde_json::json!({ "text": text, "code": "Q/BZ 001—2026" }))
            .body_json()
            .await;
        let total = v["diagnostics_total"].as_u64().unwrap();
        assert!(total > 500, "{path}: {total}");
        assert_eq!(v["diagnostics"].as_array().unwrap().len(), 500, "{path}");
    }
}
