//! Recorded facts never flip (issue 20, part 4), over real HTTP on SQLite and
//! PostgreSQL: verdict controls show what is recorded and forms sent untouched
//! change nothing; publishing an approved submission survives a crash and a second
//! caller; a first start that fails does not lose the admin password.
//!
//! Forms are submitted the way a browser submits them: the test reads the form from
//! the page (hidden fields, input values, the selected option — or the first one
//! when none is selected, as browsers do) and changes only what a person would.

use std::io::BufRead;
use std::process::{Command, Stdio};

use biaozhun::db::accounts::{Actor, NewUser, Role, User};
use biaozhun::db::audits::{NewAudit, Verdict};
use biaozhun::submission::State as S;
use biaozhun::web::{self, ServeConfig};
use reqwest::StatusCode;

use super::web::{Fetch, Server, client, session_for, start};

// ---------------------------------------------------------------------------------
// Reading forms as a browser does

/// `&amp;` and friends back to text (askama escapes `& < > " '`).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The attributes of one start tag's text (`input name="a" value="b" checked`).
fn attrs(tag: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let b = tag.as_bytes();
    let mut i = 0;
    // Skip the tag name.
    while i < b.len() && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        if start == i {
            break;
        }
        let name = tag[start..i].to_ascii_lowercase();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            let quote = b[i];
            i += 1;
            let vstart = i;
            while i < b.len() && b[i] != quote {
                i += 1;
            }
            out.push((name, Some(unescape(&tag[vstart..i]))));
            i += 1;
        } else {
            out.push((name, None));
        }
    }
    out
}

fn attr<'a>(a: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    a.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_deref().unwrap_or(""))
}

/// A form on a page: its action and what submitting it untouched sends.
#[derive(Debug, Clone)]
struct PageForm {
    action: String,
    fields: Vec<(String, String)>,
}

impl PageForm {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value.to_string(),
            None => self.fields.push((name.into(), value.into())),
        }
    }
}

/// Every form of a page, with the values a browser would submit untouched.
fn forms(html: &str) -> Vec<PageForm> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<form") {
        let after = &rest[i..];
        let end = after.find("</form>").unwrap_or(after.len());
        let body = &after[..end];
        let open_end = body.find('>').unwrap_or(body.len());
        let action = attr(&attrs(&body[1..open_end]), "action")
            .unwrap_or("")
            .to_string();
        out.push(PageForm {
            action,
            fields: controls(&body[open_end..]),
        });
        rest = &after[end.min(after.len())..];
        if end == after.len() {
            break;
        }
    }
    out
}

/// The successful controls of a form's body: inputs (not files or buttons;
/// checkboxes and radios only when checked), textareas, and each select's selected
/// option, or its first option when none is selected.
fn controls(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(j) = body[i..].find('<') {
        let at = i + j;
        let close = body[at..].find('>').map(|k| at + k).unwrap_or(body.len());
        let tag = &body[at + 1..close];
        let a = attrs(tag);
        let name = attr(&a, "name").map(str::to_string);
        if tag.starts_with("input") {
            let kind = attr(&a, "type").unwrap_or("text");
            let on = !matches!(kind, "checkbox" | "radio") || attr(&a, "checked").is_some();
            if let Some(n) = name
                && on
                && !matches!(kind, "file" | "submit" | "button")
            {
                out.push((n, attr(&a, "value").unwrap_or("").to_string()));
            }
        } else if tag.starts_with("textarea") {
            let end = body[close..]
                .find("</textarea>")
                .map(|k| close + k)
                .unwrap_or(close);
            if let Some(n) = name {
                out.push((n, unescape(&body[close + 1..end])));
            }
        } else if tag.starts_with("select") {
            let end = body[close..]
                .find("</select>")
                .map(|k| close + k)
                .unwrap_or(close);
            let options: Vec<(String, bool)> = body[close..end]
                .split("<option")
                .skip(1)
                .map(|o| {
                    let open = &o[..o.find('>').unwrap_or(o.len())];
                    let oa = attrs(&format!("option{open}"));
                    let text = o[o.find('>').map(|k| k + 1).unwrap_or(0)..]
                        .split('<')
                        .next()
                        .unwrap_or("");
                    let value = attr(&oa, "value")
                        .map(str::to_string)
                        .unwrap_or_else(|| unescape(text));
                    (value, attr(&oa, "selected").is_some())
                })
                .collect();
            let chosen = options
                .iter()
                .find(|(_, s)| *s)
                .or(options.first())
                .map(|(v, _)| v.clone());
            if let (Some(n), Some(v)) = (name, chosen) {
                out.push((n, v));
            }
            i = end;
            continue;
        }
        i = close.max(at + 1);
    }
    out
}

/// The one form of `html` posting to `action` whose field `field` is `value`.
fn form_with(html: &str, action_end: &str, field: &str, value: &str) -> PageForm {
    let found: Vec<PageForm> = forms(html)
        .into_iter()
        .filter(|f| f.action.ends_with(action_end) && f.get(field) == Some(value))
        .collect();
    assert_eq!(found.len(), 1, "one form {action_end} with {field}={value}");
    found[0].clone()
}

/// The form's fields as a multipart body, with a photo.
fn multipart_with_photo(f: &PageForm, photo: &[u8], name: &str) -> reqwest::multipart::Form {
    let mut m = reqwest::multipart::Form::new();
    for (k, v) in &f.fields {
        m = m.text(k.clone(), v.clone());
    }
    m.part(
        "photo",
        reqwest::multipart::Part::bytes(photo.to_vec()).file_name(name.to_string()),
    )
}

const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0 a photo taken on site";

// ---------------------------------------------------------------------------------
// 1. Verdict controls and checklist saves

async fn user(s: &Server, role: Role) -> User {
    session_for(s, role).await;
    s.state
        .db
        .user_by_name(&format!("u-{}", role.as_str()))
        .await
        .unwrap()
        .unwrap()
}

async fn recorded_facts_do_not_flip(s: Server) {
    let c = client();
    let db = &s.state.db;
    std::fs::create_dir_all(&s.state.platform_dir).unwrap();
    for (name, text) in biaozhun::platform::generate::generate(&Default::default()).files {
        std::fs::write(s.state.platform_dir.join(name), text).unwrap();
    }
    let (token, csrf) = session_for(&s, Role::Auditor).await;
    let me = user(&s, Role::Auditor).await;
    let other = user(&s, Role::Admin).await;
    let as_me = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={token}"));
    let audit = db
        .create_audit(
            &NewAudit {
                name: "2023年度网点现场审核",
                standards: &["T/ZTAC 002—2023".to_string()],
                period_from: "2023-01-01",
                period_to: "2023-12-31",
                outlets: &[],
                max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
            },
            &me,
        )
        .await
        .unwrap();
    let page_at = |at: &'static str| {
        as_me(c.get(format!("{}/audits/{}?at={at}", s.base, audit.id))).body_text()
    };
    let item = "outlet-emergency-plan";
    let item_of = |target: &str| {
        let target = target.to_string();
        async move {
            db.items(audit.id)
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.item_id == item && r.target == target)
        }
    };

    // O03 was recorded 不符合. The page shows it, and re-saving the item to add a
    // photo (nothing else touched) keeps it.
    db.set_item(
        audit.id,
        item,
        "O03",
        Verdict::Nonconform,
        "应急预案未张贴",
        &me,
    )
    .await
    .unwrap();
    let page = page_at("O03").await;
    let form = form_with(&page, "/evidence", "item", item);
    assert_eq!(form.get("verdict"), Some("nonconform"), "{form:?}");
    assert_eq!(form.get("note"), Some("应急预案未张贴"), "{form:?}");
    let r = as_me(c.post(format!("{}{}", s.base, form.action)))
        .multipart(multipart_with_photo(&form, JPEG, "O03-应急预案.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let kept = item_of("O03").await.unwrap();
    assert_eq!(
        kept.verdict,
        Verdict::Nonconform,
        "a photo does not flip it"
    );
    assert_eq!(kept.note, "应急预案未张贴");
    let photos = db.evidence(audit.id).await.unwrap();
    assert!(
        photos
            .iter()
            .any(|e| e.item_id == item && e.target == "O03"),
        "the photo is attached"
    );

    // O05 has nothing recorded: the control says 未检查, and saving a photo without
    // choosing records no verdict at all.
    let page = page_at("O05").await;
    let form = form_with(&page, "/evidence", "item", item);
    assert_eq!(form.get("verdict"), Some(""), "{form:?}");
    assert!(page.contains("未检查"), "the page says it is not checked");
    let r = as_me(c.post(format!("{}{}", s.base, form.action)))
        .multipart(multipart_with_photo(&form, JPEG, "O05.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        item_of("O05").await.is_none(),
        "no verdict recorded without a choice: {:?}",
        item_of("O05").await
    );
    assert!(
        db.evidence(audit.id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.item_id == item && e.target == "O05"),
        "the photo is kept"
    );
    let page = page_at("O05").await;
    let form = form_with(&page, "/evidence", "item", item);
    assert_eq!(form.get("verdict"), Some(""), "still 未检查");

    // A stale save: the page was opened, then someone else recorded a change; the
    // first auditor's save is refused with a Chinese message and changes nothing.
    let page = page_at("O03").await;
    let mut stale = form_with(&page, "/evidence", "item", item);
    db.set_item(
        audit.id,
        item,
        "O03",
        Verdict::Observation,
        "已张贴，待演练",
        &other,
    )
    .await
    .unwrap();
    stale.set("verdict", "conform");
    let r = as_me(c.post(format!("{}{}", s.base, stale.action)))
        .multipart(multipart_with_photo(&stale, JPEG, "late.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap();
    assert!(body.contains("已被他人修改"), "{body}");
    let now = item_of("O03").await.unwrap();
    assert_eq!(
        (now.verdict, now.note.as_str()),
        (Verdict::Observation, "已张贴，待演练"),
        "the newer answer stands"
    );

    // 逐条结论: every row's control shows its recorded verdict; changing only the
    // reason keeps 不符合 and its severity.
    let clause = "T/ZTAC 002—2023#8.4";
    db.set_clause_verdict(
        audit.id,
        clause,
        Verdict::Nonconform,
        "major",
        "应急预案未张贴",
        &me,
    )
    .await
    .unwrap();
    db.set_clause_verdict(
        audit.id,
        "T/ZTAC 002—2023#8.5",
        Verdict::Observation,
        "",
        "",
        &me,
    )
    .await
    .unwrap();
    let page = as_me(c.get(format!("{}/audits/{}", s.base, audit.id)))
        .body_text()
        .await;
    let row = form_with(&page, "/clauses", "clause", "T/ZTAC 002—2023#8.5");
    assert_eq!(row.get("verdict"), Some("observation"), "{row:?}");
    let mut row = form_with(&page, "/clauses", "clause", clause);
    assert_eq!(
        (row.get("verdict"), row.get("severity")),
        (Some("nonconform"), Some("major")),
        "{row:?}"
    );
    row.set("justification", "应急预案未张贴，演练记录缺失");
    let r = as_me(c.post(format!("{}{}", s.base, row.action)))
        .form(&row.fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let v = db
        .clause_verdicts(audit.id)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.clause == clause)
        .unwrap();
    assert_eq!(
        (v.verdict, v.severity.as_str(), v.justification.as_str()),
        (Verdict::Nonconform, "major", "应急预案未张贴，演练记录缺失")
    );
    // A stale clause form (someone set 观察项 since) is refused.
    let page = as_me(c.get(format!("{}/audits/{}", s.base, audit.id)))
        .body_text()
        .await;
    let mut row = form_with(&page, "/clauses", "clause", clause);
    db.set_clause_verdict(
        audit.id,
        clause,
        Verdict::Observation,
        "",
        "复查后降为观察项",
        &other,
    )
    .await
    .unwrap();
    row.set("justification", "我的补充");
    let r = as_me(c.post(format!("{}{}", s.base, row.action)))
        .form(&row.fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("已被他人或自动检查更新"));
    let v = db
        .clause_verdicts(audit.id)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.clause == clause)
        .unwrap();
    assert_eq!(v.verdict, Verdict::Observation, "the newer verdict stands");

    // A new finding's clause and severity are chosen, never assumed: sent
    // without choosing, it is refused and nothing is recorded.
    let page = as_me(c.get(format!("{}/audits/{}", s.base, audit.id)))
        .body_text()
        .await;
    let mut finding = forms(&page)
        .into_iter()
        .find(|f| f.action.ends_with("/findings"))
        .unwrap();
    assert_eq!(
        (finding.get("clause"), finding.get("severity")),
        (Some(""), Some("")),
        "{finding:?}"
    );
    finding.set("title", "应急预案未上墙");
    let r = as_me(c.post(format!("{}{}", s.base, finding.action)))
        .form(&finding.fields)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("请选择"));
    assert!(db.findings(audit.id).await.unwrap().is_empty());
    let _ = csrf;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_verdicts_do_not_flip_on_sqlite() {
    recorded_facts_do_not_flip(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_verdicts_do_not_flip_on_postgres() {
    let url = super::db::fresh_pg_url().await;
    recorded_facts_do_not_flip(start(Some(url)).await).await;
}

/// Two people edit the texts of one project (the award form and the
/// self-evaluation's written parts): a save writes only the sections its sender
/// changed, and a change to a section someone else changed since is refused.
async fn text_forms_write_only_what_changed(s: Server) {
    let c = client();
    let db = &s.state.db;
    let (token, _) = session_for(&s, Role::Admin).await;
    let (other_token, _) = session_for(&s, Role::Reviewer).await;
    let as_a = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={token}"));
    let as_b = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={other_token}"));
    let project = db
        .project_create(
            &biaozhun::db::acceptance::NewProject {
                name: "数字家政管理与服务".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    for (path, form_action, mine, theirs) in [
        (
            format!("/acceptance/projects/{project}/award/award-pilot"),
            format!("/acceptance/projects/{project}/award/award-pilot"),
            "t_project-intro",
            "t_org-intro",
        ),
        (
            format!("/acceptance/projects/{project}"),
            format!("/acceptance/projects/{project}/narrative"),
            "n_problems",
            "n_organisation",
        ),
    ] {
        let form_of = |html: &str| {
            forms(html)
                .into_iter()
                .find(|f| f.action == form_action)
                .unwrap()
        };
        let mut a = form_of(&as_a(c.get(format!("{}{path}", s.base))).body_text().await);
        let mut b = form_of(&as_b(c.get(format!("{}{path}", s.base))).body_text().await);
        b.set(theirs, "乙写的内容");
        let r = as_b(c.post(format!("{}{form_action}", s.base)))
            .form(&b.fields)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // A changes another section; the section A left alone keeps B's text.
        a.set(mine, "甲写的内容");
        let r = as_a(c.post(format!("{}{form_action}", s.base)))
            .form(&a.fields)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let now = form_of(&as_a(c.get(format!("{}{path}", s.base))).body_text().await);
        assert_eq!(
            (now.get(mine), now.get(theirs)),
            (Some("甲写的内容"), Some("乙写的内容")),
            "{path}"
        );
        // A, still on the old page, now changes B's section: refused, nothing
        // saved, and what A wrote is on the page to copy back.
        a.set(theirs, "甲覆盖乙");
        let r = as_a(c.post(format!("{}{form_action}", s.base)))
            .form(&a.fields)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT, "{path}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("已被他人修改") && body.contains("甲覆盖乙"),
            "{body}"
        );
        let now = form_of(&as_a(c.get(format!("{}{path}", s.base))).body_text().await);
        assert_eq!(now.get(theirs), Some("乙写的内容"), "{path}");
    }
    // An indicator's direction is chosen, never assumed.
    let page = as_a(c.get(format!("{}/acceptance/projects/{project}", s.base)))
        .body_text()
        .await;
    let mut ind = forms(&page)
        .into_iter()
        .find(|f| f.action.ends_with("/indicators"))
        .unwrap();
    assert_eq!(ind.get("direction"), Some(""), "{ind:?}");
    ind.set("name", "纠纷投诉率");
    ind.set("target", "1");
    let r = as_a(c.post(format!("{}{}", s.base, ind.action)))
        .form(&ind.fields)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("请选择指标的方向"));
    assert!(db.indicators(project).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_forms_write_only_what_changed_on_sqlite() {
    text_forms_write_only_what_changed(start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_forms_write_only_what_changed_on_postgres() {
    let url = super::db::fresh_pg_url().await;
    text_forms_write_only_what_changed(start(Some(url)).await).await;
}

// ---------------------------------------------------------------------------------
// 2. Publishing an approved submission: crash recovery and concurrent calls

fn config(data: &std::path::Path, database_url: Option<String>) -> ServeConfig {
    ServeConfig {
        data: data.to_path_buf(),
        standards: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards"),
        database_url,
        admin_password: Some("admin-password-1".into()),
        demo: false,
        insecure_cookies: false,
        code_pattern: "Q/BZ {n:03}—{year}".into(),
        monitor: Default::default(),
    }
}

/// Starts the web application on `cfg` (a start, or a restart on the same data).
async fn serve(
    cfg: &ServeConfig,
) -> (
    web::AppState,
    web::Setup,
    String,
    tokio::task::JoinHandle<()>,
) {
    let (state, setup) = web::prepare(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let st = state.clone();
    let task = tokio::spawn(async move {
        let _ = web::serve(st, listener).await;
    });
    (state, setup, base, task)
}

fn standard_text(code: &str, title: &str) -> String {
    format!(
        "---\ncode: {code}\ntitle: {title}\nkind: enterprise\nstatus: current\ncategory: 服务提供标准/服务质量控制规范\nsource: official\n---\n\n## 1 范围\n\n本文件规定了{title}的要求。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n## 4 要求\n\n投诉应在24 h内响应。\n"
    )
}

/// A submission moved to approved in the database only (as a server killed right
/// after approving would leave it).
async fn approved(
    state: &web::AppState,
    code: &str,
    title: &str,
    author: &User,
    reviewer: &User,
) -> i64 {
    let db = &state.db;
    let text = standard_text(code, title);
    let s = db
        .create_submission(
            &biaozhun::db::submissions::NewSubmission {
                title,
                code,
                kind: "new",
                base_code: "",
                department: "",
                category: "服务提供标准/服务质量控制规范",
                text: &text,
            },
            author,
        )
        .await
        .unwrap();
    for (from, to, by) in [
        (S::Draft, S::Submitted, author),
        (S::Submitted, S::InReview, reviewer),
        (S::InReview, S::Approved, reviewer),
    ] {
        db.transition(s.id, from, to, by, "").await.unwrap();
    }
    s.id
}

/// How many commits of the library name submission `id`.
fn commits_for(state: &web::AppState, id: i64) -> usize {
    let line = format!("Submission: #{id}");
    state
        .library
        .log()
        .unwrap()
        .iter()
        .filter(|r| r.message.lines().any(|l| l.trim_end() == line))
        .count()
}

async fn make_user(state: &web::AppState, name: &str, role: Role) -> User {
    state
        .db
        .create_user(
            &NewUser {
                username: name,
                display_name: name,
                password: "a long password",
                role,
                department: "",
            },
            &Actor::default(),
        )
        .await
        .unwrap()
}

async fn publishing_survives_crashes_and_races(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir.path().join("data"), database_url);
    let (state, _, _, first) = serve(&cfg).await;
    let author = make_user(&state, "author", Role::Employee).await;
    let reviewer = make_user(&state, "reviewer", Role::Reviewer).await;

    // (a) Killed between approval and the library commit.
    let a = approved(&state, "Q/BZ 101—2026", "投诉处理规范", &author, &reviewer).await;
    // (b) Killed between the library commit and recording it.
    let b = approved(&state, "Q/BZ 102—2026", "回访规范", &author, &reviewer).await;
    let b_text = state.db.submission(b).await.unwrap().unwrap().text;
    let landed = state
        .library
        .publish(&biaozhun::library::PublishRequest {
            text: b_text,
            author: biaozhun::library::Author::new("reviewer", "reviewer@biaozhun.local"),
            message: "回访规范".into(),
            submission: Some(format!("#{b}")),
            when: None,
        })
        .unwrap();
    // (c) Approved, but the library refuses the text (changed behind its back).
    let bad = approved(&state, "Q/BZ 103—2026", "上门服务规范", &author, &reviewer).await;
    sqlx::query("UPDATE submissions SET text = $1 WHERE id = $2")
        .bind("这不是一份标准")
        .bind(bad)
        .execute(&state.db.pool)
        .await
        .unwrap();
    first.abort();
    drop(state);

    // The restart reconciles.
    let (state, setup, base, _server) = serve(&cfg).await;
    let sa = state.db.submission(a).await.unwrap().unwrap();
    assert_eq!(sa.state, S::Published, "{}", sa.publish_error);
    assert!(state.library.read("Q/BZ 101—2026", "HEAD").is_ok());
    assert_eq!(commits_for(&state, a), 1);
    let sb = state.db.submission(b).await.unwrap().unwrap();
    assert_eq!(sb.state, S::Published);
    assert_eq!(
        sb.published_rev, landed.id,
        "the commit that landed is recorded"
    );
    assert_eq!(commits_for(&state, b), 1, "not published twice");
    let sc = state.db.submission(bad).await.unwrap().unwrap();
    assert_eq!(sc.state, S::Approved);
    assert!(
        sc.publish_error.contains("发布失败"),
        "{}",
        sc.publish_error
    );
    assert!(
        setup.reconciled.len() == 3 && setup.reconciled.iter().all(|l| l.contains("提交 #")),
        "{:?}",
        setup.reconciled
    );
    let (tok, _) = state
        .db
        .create_session(&reviewer, "127.0.0.1")
        .await
        .unwrap();
    let c = client();
    let page = c
        .get(format!("{base}/submissions/{bad}"))
        .header("cookie", format!("bz_session={tok}"))
        .body_text()
        .await;
    assert!(
        page.contains("发布失败") && page.contains("重试发布"),
        "the error and a retry button"
    );

    // (d) Two publish calls on the same approved version at once: one commit, and
    // both callers are told it is published.
    let d = approved(&state, "Q/BZ 104—2026", "保洁服务规范", &author, &reviewer).await;
    let api_token = state
        .db
        .create_api_token(&reviewer, "ci", &Actor::default())
        .await
        .unwrap();
    let call = || {
        c.post(format!("{base}/api/v1/submissions/{d}/action"))
            .bearer_auth(&api_token)
            .json(&serde_json::json!({"action": "publish"}))
            .send()
    };
    let (x, y) = tokio::join!(call(), call());
    for r in [x.unwrap(), y.unwrap()] {
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "published", "{body}");
    }
    assert_eq!(commits_for(&state, d), 1, "exactly one commit");
    let sd = state.db.submission(d).await.unwrap().unwrap();
    assert_eq!(sd.state, S::Published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_is_reconciled_and_idempotent_on_sqlite() {
    publishing_survives_crashes_and_races(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_is_reconciled_and_idempotent_on_postgres() {
    publishing_survives_crashes_and_races(Some(super::db::fresh_pg_url().await)).await;
}

// ---------------------------------------------------------------------------------
// 3. First start: the admin password survives a failed start; first login forces
//    a change

/// A running `biaozhun serve` and what it printed before it was up.
struct Running {
    child: std::process::Child,
    base: String,
    printed: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_command(data: &std::path::Path, addr: &str, database_url: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_biaozhun"));
    cmd.args(["serve", "--no-monitor", "--addr", addr, "--data"])
        .arg(data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    cmd
}

/// Starts the server on a free port and reads its console until it is up.
fn run_server(data: &std::path::Path, database_url: Option<&str>) -> Running {
    let child = serve_command(data, "127.0.0.1:0", database_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Owned by `Running` at once, so the process is killed and reaped on every path.
    let mut running = Running {
        child,
        base: String::new(),
        printed: Vec::new(),
    };
    let stdout = running.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(300))
            .expect("the server starts and says where");
        if let Some(rest) = line.split("http://").nth(1) {
            running.base = format!("http://{}", rest.split('/').next().unwrap());
            return running;
        }
        running.printed.push(line);
    }
}

/// The admin password a console shows, if any.
fn printed_password(printed: &[String]) -> Option<String> {
    printed.iter().find_map(|l| {
        let (_, rest) = l.split_once("初始密码：")?;
        Some(rest.split('（').next()?.trim().to_string())
    })
}

async fn first_start(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = database_url.as_deref();
    // The port is taken: the start fails.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let failed = serve_command(&data, &addr, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!failed.status.success());
    drop(busy);

    // The next start shows an admin password, and so does every start until the
    // admin has changed it.
    let first = run_server(&data, url);
    let password = printed_password(&first.printed)
        .unwrap_or_else(|| panic!("the admin password is shown: {:?}", first.printed));
    drop(first);
    let again = run_server(&data, url);
    assert_eq!(
        printed_password(&again.printed).as_deref(),
        Some(password.as_str()),
        "shown again until changed: {:?}",
        again.printed
    );

    // First login: every page leads to changing the password.
    let c = client();
    let form = c.get(format!("{}/login", again.base)).send().await.unwrap();
    let login_csrf = super::web::set_cookie(&form, "bz_login_csrf").unwrap();
    let r = c
        .post(format!("{}/login", again.base))
        .header("cookie", format!("bz_login_csrf={login_csrf}"))
        .form(&[
            ("username", "admin"),
            ("password", password.as_str()),
            ("csrf", login_csrf.as_str()),
            ("next", "/standards"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account");
    let session = super::web::set_cookie(&r, "bz_session").unwrap();
    let as_admin = |r: reqwest::RequestBuilder| r.header("cookie", format!("bz_session={session}"));
    let r = as_admin(c.get(format!("{}/admin/users", again.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "not before the change");
    assert_eq!(r.headers()["location"], "/account");
    let account = as_admin(c.get(format!("{}/account", again.base)))
        .body_text()
        .await;
    assert!(account.contains("一次性初始密码"), "the page says why");
    let csrf = forms(&account)
        .into_iter()
        .find(|f| f.action == "/account/password")
        .and_then(|f| f.get("csrf").map(str::to_string))
        .unwrap();
    let r = as_admin(c.post(format!("{}/account/password", again.base)))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", password.as_str()),
            ("new", "a password of my own"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = as_admin(c.get(format!("{}/admin/users", again.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "free to work now");
    drop(again);

    // Changed: not shown any more, and not kept on disk.
    let later = run_server(&data, url);
    assert_eq!(
        printed_password(&later.printed),
        None,
        "{:?}",
        later.printed
    );
    assert!(!data.join("initial-admin-password").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_start_keeps_the_admin_password_on_sqlite() {
    first_start(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_start_keeps_the_admin_password_on_postgres() {
    first_start(Some(super::db::fresh_pg_url().await)).await;
}
