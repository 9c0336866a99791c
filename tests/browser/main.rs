//! End to end in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), against the real server. Screenshots go to
//! `target/browser-screenshots/`.
//!
//! Run with `cargo test --test browser` (Debian packages `chromium` and
//! `chromium-driver`; `.ci/run` installs them when missing).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use biaozhun::db::accounts::{Actor, NewUser, Role};
use biaozhun::web::{self, ServeConfig};
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn screenshots() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&d).expect("screenshot dir");
    d
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

/// A fresh installation in `dir`: the shipped standards, SQLite, admin password
/// `browser-password-1`.
fn config(dir: &std::path::Path) -> ServeConfig {
    ServeConfig {
        data: dir.join("data"),
        standards: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards"),
        database_url: None,
        admin_password: Some("browser-password-1".into()),
        demo: false,
        insecure_cookies: false,
        code_pattern: "Q/BZ {n:03}—{year}".into(),
        monitor: Default::default(),
    }
}

async fn browser() -> (Client, Driver) {
    let port = free_port();
    let driver =
        Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed");
    let driver = Driver(driver);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--lang=zh-CN"]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    builder.capabilities(caps);
    let mut last = None;
    for _ in 0..100 {
        match builder.connect(&url).await {
            Ok(c) => return (c, driver),
            Err(e) => {
                last = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("chromedriver did not start on {url}: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_search_open_a_clause_and_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (state, _) = web::prepare(&cfg).await.unwrap();
    // A second revision, so that there is a diff to open.
    let text = std::fs::read_to_string(cfg.standards.join("t-ztac-001.2-2023.md")).unwrap();
    state
        .library
        .publish(&biaozhun::library::PublishRequest {
            text: text.replace(
                "每个订单应在下单后20 min内得到首次响应",
                "每个订单应在下单后15 min内得到首次响应",
            ),
            author: biaozhun::library::Author::new("王喆", "wz@example.com"),
            message: "首次响应时限缩短为15 min".into(),
            submission: None,
            when: None,
        })
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(web::serve(state, listener));

    let (c, _driver) = browser().await;
    let result = async {
        // Signing in: an anonymous visit is sent to the login form.
        c.goto(&format!("{base}/standards")).await?;
        assert!(c.current_url().await?.path().starts_with("/login"));
        shot(&c, "01-login").await;
        c.find(Locator::Css("input[name=username]"))
            .await?
            .send_keys("admin")
            .await?;
        c.find(Locator::Css("input[name=password]"))
            .await?
            .send_keys("browser-password-1")
            .await?;
        c.find(Locator::Css("form[action='/login'] button"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Css("table")).await?;
        assert_eq!(
            c.current_url().await?.path(),
            "/standards",
            "back where the visit started"
        );
        let body = c.find(Locator::Css("main")).await?.text().await?;
        assert!(body.contains("T/ZTAC 001.2—2023"), "{body}");
        shot(&c, "02-standards").await;

        // Search 安心码 from the home page.
        c.goto(&format!("{base}/")).await?;
        c.find(Locator::Css("form.search input[name=q]"))
            .await?
            .send_keys("安心码")
            .await?;
        c.find(Locator::Css("form.search button"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::Css("ol.hits li mark"))
            .await?;
        let marked = c
            .find(Locator::Css("ol.hits li mark"))
            .await?
            .text()
            .await?;
        assert!(marked.contains("安心码"), "{marked}");
        shot(&c, "03-search").await;

        // Open the first hit: a clause page with typed provisions.
        c.find(Locator::Css("ol.hits li a")).await?.click().await?;
        c.wait().for_element(Locator::Css("p.prov")).await?;
        assert!(c.current_url().await?.path().starts_with("/clauses/"));
        shot(&c, "04-clause").await;

        // History → compare with the previous revision.
        c.goto(&format!("{base}/standards/t-ztac-001.2-2023/history"))
            .await?;
        c.find(Locator::LinkText("与上一版比较"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Css("ins")).await?;
        let ins = c.find(Locator::Css("ins")).await?.text().await?;
        let del = c.find(Locator::Css("del")).await?.text().await?;
        assert_eq!((del.as_str(), ins.as_str()), ("20", "15"));
        shot(&c, "05-diff").await;

        // A department standard: create a draft, type, and the live lint answers.
        c.goto(&format!("{base}/submissions")).await?;
        c.find(Locator::Css(
            "form[action='/submissions'] input[name=title]",
        ))
        .await?
        .send_keys("上门服务规范")
        .await?;
        c.find(Locator::Css("form[action='/submissions'] button"))
            .await?
            .click()
            .await?;
        let editor = c.wait().for_element(Locator::Id("submission-text")).await?;
        editor
            .send_keys("\n## 5 上门\n\n家政服务人员应准时上门。\n")
            .await?;
        c.wait().for_element(Locator::Css("#live-lint li")).await?;
        let lint = c.find(Locator::Id("live-lint")).await?.text().await?;
        assert!(
            lint.contains("行") || lint.contains("没有发现问题"),
            "{lint}"
        );
        shot(&c, "06-submission").await;

        // Phone width: the same pages still work.
        c.set_window_size(390, 844).await?;
        c.goto(&format!("{base}/clauses/t-ztac-001.2-2023_9.1"))
            .await?;
        c.wait().for_element(Locator::Css("h1")).await?;
        shot(&c, "07-clause-phone").await;
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.unwrap();
}

/// Clicks an element that submits a form or follows a link, and waits until the
/// next page has replaced this one (so later lookups cannot find the old page).
async fn click_and_load(c: &Client, e: fantoccini::elements::Element) -> Result<(), CmdError> {
    let old = c.find(Locator::Css("html")).await?;
    e.click().await?;
    for _ in 0..200 {
        if old.tag_name().await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.wait().for_element(Locator::Css("footer")).await?;
    Ok(())
}

/// Signs in through the login form and waits for the page behind it.
async fn sign_in(c: &Client, base: &str, user: &str, password: &str) -> Result<(), CmdError> {
    c.goto(&format!("{base}/login")).await?;
    c.find(Locator::Css("input[name=username]"))
        .await?
        .send_keys(user)
        .await?;
    c.find(Locator::Css("input[name=password]"))
        .await?
        .send_keys(password)
        .await?;
    c.find(Locator::Css("form[action='/login'] button"))
        .await?
        .click()
        .await?;
    c.wait().for_element(Locator::Css("header nav")).await?;
    Ok(())
}

/// Polls until the text of `css` contains `needle` (10 s), returning it.
async fn wait_text(c: &Client, css: &str, needle: &str) -> Result<String, CmdError> {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            last = e.text().await.unwrap_or_default();
            if last.contains(needle) {
                return Ok(last);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never contained {needle:?}; last text: {last:?}");
}

/// Clicks the submission page's action button labelled `label`.
async fn action(c: &Client, label: &str, comment: Option<&str>) -> Result<(), CmdError> {
    let form = c
        .find(Locator::XPath(&format!(
            "//form[contains(@action, '/action')][.//button[normalize-space(text())='{label}']]"
        )))
        .await?;
    if let Some(text) = comment {
        form.find(Locator::Css("input[name=comment]"))
            .await?
            .send_keys(text)
            .await?;
    }
    let button = form.find(Locator::Css("button")).await?;
    click_and_load(c, button).await
}

async fn buttons(c: &Client) -> Result<Vec<String>, CmdError> {
    let mut out = Vec::new();
    for b in c
        .find_all(Locator::Css("form[action$='/action'] button"))
        .await?
    {
        out.push(b.text().await?);
    }
    Ok(out)
}

/// The whole submission path as two people in two browsers: an employee uploads a
/// draft with a lint error, fixes it in the editor (guided by the gutter and the
/// live preview), submits; a reviewer comments on a clause and asks for changes;
/// the employee replies, revises and resubmits; the reviewer approves — and the
/// standard is in search, with the reviewer as the author in its history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_take_a_department_standard_from_draft_to_published() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (state, _) = web::prepare(&cfg).await.unwrap();
    for (user, name, role) in [
        ("zhangsan", "张三", Role::Employee),
        ("lisi", "李四", Role::Reviewer),
    ] {
        state
            .db
            .create_user(
                &NewUser {
                    username: user,
                    display_name: name,
                    password: "browser-password-2",
                    role,
                    department: "运营部",
                },
                &Actor::default(),
            )
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(web::serve(state, listener));

    // The draft the employee wrote in a text editor: the code is not the one the
    // system will assign.
    let draft = dir.path().join("上门服务规范.md");
    std::fs::write(
        &draft,
        "---\ncode: Q/XX 1—2026\ntitle: 家政服务人员上门服务规范\nkind: enterprise\nstatus: current\ncategory: 服务提供标准/服务提供规范\nsource: official\n---\n\n## 1 范围\n\n本文件规定了家政服务人员上门服务的要求。\n\n## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n## 4 上门要求\n\n家政服务人员应在预约时间前10 min到达。\n",
    )
    .unwrap();

    // A Word file with Chinese Word's heading styles (ids 1–3) and automatic
    // numbering, written by docx-rs.
    let word = dir.path().join("检查规范.docx");
    {
        use docx_rs::{Docx, Paragraph, Run, Style, StyleType};
        let p = |t: &str| Paragraph::new().add_run(Run::new().add_text(t));
        let mut doc = Docx::new();
        for l in 1..=3 {
            doc = doc.add_style(
                Style::new(l.to_string(), StyleType::Paragraph).name(format!("heading {l}")),
            );
        }
        let h = |l: u32, t: &str| p(t).style(&l.to_string());
        let doc = doc
            .add_paragraph(p("保洁服务质量检查规范"))
            .add_paragraph(h(1, "范围"))
            .add_paragraph(p("本文件规定了保洁服务质量检查的要求。"))
            .add_paragraph(h(1, "规范性引用文件"))
            .add_paragraph(p("本文件没有规范性引用文件。"))
            .add_paragraph(h(1, "术语和定义"))
            .add_paragraph(p("本文件没有需要界定的术语和定义。"))
            .add_paragraph(h(1, "检查要求"))
            .add_paragraph(h(2, "检查频次"))
            .add_paragraph(h(3, "日常检查"))
            .add_paragraph(p("质检员应每周抽查不少于10单。"))
            .add_paragraph(h(3, "专项检查"))
            .add_paragraph(p("投诉集中的服务项目可开展专项检查。"));
        let mut buf = std::io::Cursor::new(Vec::new());
        doc.build().pack(&mut buf).unwrap();
        std::fs::write(&word, buf.into_inner()).unwrap();
    }

    let (emp, _d1) = browser().await;
    let (rev, _d2) = browser().await;
    let result = async {
        // Employee: a new draft, then the .md file loaded into the editor.
        sign_in(&emp, &base, "zhangsan", "browser-password-2").await?;
        emp.goto(&format!("{base}/submissions")).await?;
        emp.find(Locator::Css("form[action='/submissions'] input[name=title]"))
            .await?
            .send_keys("家政服务人员上门服务规范")
            .await?;
        emp.find(Locator::Css("form[action='/submissions'] select[name=category] option[value='服务提供标准/服务提供规范']"))
            .await?
            .click()
            .await?;
        click_and_load(
            &emp,
            emp.find(Locator::Css("form[action='/submissions'] button"))
                .await?,
        )
        .await?;
        let editor = emp.wait().for_element(Locator::Id("submission-text")).await?;
        let code = editor.attr("data-code").await?.expect("the assigned code");
        assert!(code.starts_with("Q/BZ 001—"), "{code}");
        let sub_url = emp.current_url().await?.to_string();
        emp.find(Locator::Id("submission-file"))
            .await?
            .send_keys(draft.to_str().unwrap())
            .await?;
        // The live lint marks line 2 in the gutter and lists it; the preview shows
        // the draft as the standard page will.
        let lint = wait_text(&emp, "#live-lint", "系统分配").await?;
        assert!(lint.contains("第 2 行"), "{lint}");
        let mark = emp.find(Locator::Css("#gutter .error")).await?.text().await?;
        assert_eq!(mark, "2", "the gutter marks the offending line");
        let prov = wait_text(&emp, "#preview-body p.prov.requirement", "10 min").await?;
        assert!(prov.starts_with("要求"), "typed as the standard page types it: {prov}");
        assert!(emp.find(Locator::Css("#preview-body .tree .clause")).await.is_ok());
        shot(&emp, "10-draft-lint-error").await;
        // Saving is allowed; submitting with an error is not.
        click_and_load(&emp, emp.find(Locator::Css("#editor form button[type=submit]")).await?).await?;
        emp.wait().for_element(Locator::Id("submission-text")).await?;
        action(&emp, "提交审核", None).await?;
        let refused = wait_text(&emp, "p.alert", "修正后才能提交").await?;
        assert!(refused.contains("1 个错误"), "{refused}");
        // Fix it: clicking the diagnostic selects line 2, typing replaces it.
        emp.find(Locator::Css("#live-lint li.error")).await?.click().await?;
        emp.find(Locator::Id("submission-text"))
            .await?
            .send_keys(&format!("code: {code}"))
            .await?;
        wait_text(&emp, "#live-lint", "没有发现问题").await?;
        assert!(emp.find(Locator::Css("#gutter .error")).await.is_err(), "the mark is gone");
        shot(&emp, "11-draft-fixed").await;
        click_and_load(&emp, emp.find(Locator::Css("#editor form button[type=submit]")).await?).await?;
        emp.wait().for_element(Locator::Id("submission-text")).await?;
        assert!(
            !buttons(&emp).await?.iter().any(|b| b.contains("批准")),
            "an author cannot approve"
        );
        action(&emp, "提交审核", None).await?;
        wait_text(&emp, "h1 .state", "已提交").await?;

        // Reviewer: the badge and the queue, then a comment on clause 4.
        sign_in(&rev, &base, "lisi", "browser-password-2").await?;
        assert_eq!(rev.find(Locator::Css("header .badge")).await?.text().await?, "1");
        rev.goto(&format!("{base}/submissions")).await?;
        wait_text(&rev, ".notices", "1 份提交等待审核").await?;
        click_and_load(&rev, rev.find(Locator::LinkText(&code)).await?).await?;
        action(&rev, "开始审核", None).await?;
        wait_text(&rev, "h1 .state", "审核中").await?;
        // Clicking clause 4's number in the preview picks it in the comment form.
        rev.find(Locator::Css("#preview-body a.comment-on[data-clause='4']"))
            .await?
            .click()
            .await?;
        let picked = rev
            .find(Locator::Css("form.new-comment select[name=clause]"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(picked.as_deref(), Some("4"));
        rev.find(Locator::Css("form.new-comment input[name=body]"))
            .await?
            .send_keys("请补充到达后核验身份的要求。")
            .await?;
        click_and_load(&rev, rev.find(Locator::Css("form.new-comment button")).await?).await?;
        let thread = wait_text(&rev, "#comments ul.thread", "核验身份").await?;
        assert!(thread.contains("第 4 条") && thread.contains("lisi"), "{thread}");
        wait_text(&rev, "#c-4 .comments", "1 条意见").await?;
        action(&rev, "退回修改", Some("见第 4 条意见")).await?;
        wait_text(&rev, "h1 .state", "需修改").await?;
        shot(&rev, "12-review-changes-requested").await;

        // Employee: told, replies in the thread, revises, resubmits.
        emp.goto(&format!("{base}/submissions")).await?;
        wait_text(&emp, ".notices", "你的 1 份提交需要修改").await?;
        assert_eq!(emp.find(Locator::Css("header .badge")).await?.text().await?, "1");
        let bell = emp
            .find(Locator::Css("header a.notices-link .badge"))
            .await?
            .text()
            .await?;
        assert_eq!(bell, "3", "review started, the comment, the request for changes");
        emp.goto(&format!("{base}/notifications")).await?;
        let list = wait_text(&emp, ".notice-list", "退回修改").await?;
        assert!(list.contains("对第 4 条发表了意见") && list.contains("见第 4 条意见"), "{list}");
        shot(&emp, "12b-notifications").await;
        click_and_load(
            &emp,
            emp.find(Locator::Css(".notice-list li a[href*='#comment-']"))
                .await?,
        )
        .await?;
        assert!(
            emp.find(Locator::Css("header a.notices-link .badge")).await.is_err(),
            "read once the list was opened"
        );
        emp.goto(&sub_url).await?;
        emp.find(Locator::Css("#comments details.reply-form summary")).await?.click().await?;
        emp.find(Locator::Css("#comments details.reply-form input[name=body]"))
            .await?
            .send_keys("已补充，见第 4 章第二段。")
            .await?;
        click_and_load(&emp, emp.find(Locator::Css("#comments details.reply-form button")).await?).await?;
        let thread = wait_text(&emp, "#comments ul.thread li.depth1", "已补充").await?;
        assert!(thread.contains("zhangsan"), "{thread}");
        emp.find(Locator::Id("submission-text"))
            .await?
            .send_keys("\n家政服务人员到达后应向客户出示安心码并核验身份。\n")
            .await?;
        wait_text(&emp, "#preview-body .tree", "出示安心码").await?;
        click_and_load(&emp, emp.find(Locator::Css("#editor form button[type=submit]")).await?).await?;
        emp.wait().for_element(Locator::Id("submission-text")).await?;
        action(&emp, "重新提交", None).await?;
        wait_text(&emp, "h1 .state", "已重新提交").await?;
        shot(&emp, "13-resubmitted").await;

        // Reviewer: approves, which publishes.
        rev.goto(&sub_url).await?;
        action(&rev, "开始审核", None).await?;
        wait_text(&rev, "h1 .state", "审核中").await?;
        action(&rev, "批准发布", None).await?;
        wait_text(&rev, "h1 .state", "已发布").await?;
        shot(&rev, "14-published").await;

        // Anyone finds it in search; its history names the approver.
        emp.goto(&format!("{base}/search?q=出示安心码")).await?;
        let hits = wait_text(&emp, "ol.hits", &code).await?;
        assert!(hits.contains("安心码"), "{hits}");
        let slug = biaozhun::standard::Code::parse(&code).unwrap().slug();
        emp.goto(&format!("{base}/standards/{slug}/history")).await?;
        let history = wait_text(&emp, "table", "李四").await?;
        assert!(!history.contains("张三"), "the approver is the author: {history}");
        shot(&emp, "15-history").await;

        // Word is what people have: a .docx loaded into a new draft's editor.
        emp.goto(&format!("{base}/submissions")).await?;
        emp.find(Locator::Css("form[action='/submissions'] input[name=title]"))
            .await?
            .send_keys("保洁服务质量检查规范")
            .await?;
        click_and_load(
            &emp,
            emp.find(Locator::Css("form[action='/submissions'] button"))
                .await?,
        )
        .await?;
        emp.find(Locator::Id("submission-file"))
            .await?
            .send_keys(word.to_str().unwrap())
            .await?;
        let notes = wait_text(&emp, "#import-notes", "已从").await?;
        assert!(notes.contains("检查规范.docx"), "{notes}");
        let value = emp
            .find(Locator::Id("submission-text"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert!(value.contains("#### 4.1.1 日常检查"), "{value}");
        wait_text(&emp, "#preview-body .tree", "质检员应每周抽查").await?;
        shot(&emp, "16-docx-imported").await;
        click_and_load(&emp, emp.find(Locator::Css("#editor form button[type=submit]")).await?).await?;
        let saved = emp
            .find(Locator::Id("submission-text"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert!(saved.contains("#### 4.1.2 专项检查"), "saved as imported");
        Ok::<(), CmdError>(())
    }
    .await;
    let _ = emp.close().await;
    let _ = rev.close().await;
    result.unwrap();
}

/// An auditor on site with a phone: creates an audit, runs the automated checks,
/// records a checklist item at one outlet with a photo, records a finding, and
/// closes the audit, after which nothing can be changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_works_through_the_on_site_checklist_on_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (state, _) = web::prepare(&cfg).await.unwrap();
    // The platform export the audit reads.
    std::fs::create_dir_all(&state.platform_dir).unwrap();
    for (name, text) in biaozhun::platform::generate::generate(&Default::default()).files {
        std::fs::write(state.platform_dir.join(name), text).unwrap();
    }
    state
        .db
        .create_user(
            &NewUser {
                username: "wangwu",
                display_name: "王五",
                password: "browser-password-3",
                role: Role::Auditor,
                department: "质量部",
            },
            &Actor::default(),
        )
        .await
        .unwrap();
    let photo = dir.path().join("O03-应急预案.jpg");
    std::fs::write(
        &photo,
        b"\xFF\xD8\xFF\xE0\0\x10JFIF\0 a photo taken on site",
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let st = state.clone();
    tokio::spawn(web::serve(state, listener));

    let (c, _driver) = browser().await;
    let result = async {
        c.set_window_size(390, 844).await?;
        sign_in(&c, &base, "wangwu", "browser-password-3").await?;
        c.goto(&format!("{base}/audits")).await?;
        c.find(Locator::Css("input[name=name]"))
            .await?
            .send_keys("2023年度网点现场审核")
            .await?;
        c.find(Locator::Css(
            "input[name=standards][value='T/ZTAC 002—2023']",
        ))
        .await?
        .click()
        .await?;
        c.execute(
            "document.querySelector('input[name=from]').value='2023-01-01';\
             document.querySelector('input[name=to]').value='2023-12-31';",
            vec![],
        )
        .await?;
        click_and_load(
            &c,
            c.find(Locator::Css("form[action='/audits'] button"))
                .await?,
        )
        .await?;
        wait_text(&c, "h1", "2023年度网点现场审核").await?;
        let run = c.find(Locator::Css("form[action$='/run']")).await?;
        assert!(
            run.attr("data-busy")
                .await?
                .is_some_and(|b| b.contains("正在")),
            "the run says it is working"
        );
        click_and_load(&c, run.find(Locator::Css("button")).await?).await?;
        let checks = wait_text(&c, "#checks", "网点具备招聘").await?;
        assert!(checks.contains("不符合"), "{checks}");
        shot(&c, "20-audit-phone").await;

        // On site at O03: the emergency plan is not on the wall; a photo.
        let url = c.current_url().await?;
        let id = url.path().rsplit('/').next().unwrap_or("1").to_string();
        c.goto(&format!("{base}/audits/{id}?at=O03")).await?;
        let form = c
            .find(Locator::Css("#item-outlet-emergency-plan-O03 form"))
            .await?;
        // Nothing recorded yet: the control says so instead of preselecting 符合.
        let unchecked = form
            .find(Locator::Css("select[name=verdict]"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(unchecked.as_deref(), Some(""), "未检查 until chosen");
        form.find(Locator::Css(
            "select[name=verdict] option[value=nonconform]",
        ))
        .await?
        .click()
        .await?;
        form.find(Locator::Css("input[name=note]"))
            .await?
            .send_keys("应急预案未张贴")
            .await?;
        form.find(Locator::Css("input[type=file]"))
            .await?
            .send_keys(photo.to_str().unwrap())
            .await?;
        click_and_load(&c, form.find(Locator::Css("button")).await?).await?;
        let item = wait_text(&c, "#item-outlet-emergency-plan-O03", "不符合").await?;
        assert!(
            item.contains("应急预案未张贴") && item.contains("O03-应急预案.jpg"),
            "{item}"
        );
        let shown = c
            .find(Locator::Css(
                "#item-outlet-emergency-plan-O03 select[name=verdict]",
            ))
            .await?
            .prop("value")
            .await?;
        assert_eq!(
            shown.as_deref(),
            Some("nonconform"),
            "the control shows the recorded verdict"
        );
        shot(&c, "21-checklist-item").await;

        // A finding with its corrective action.
        c.goto(&format!("{base}/audits/{id}#findings")).await?;
        c.find(Locator::Css(
            ".finding-form select[name=clause] option[value='T/ZTAC 002—2023#8.4']",
        ))
        .await?
        .click()
        .await?;
        // Nothing is preselected: the auditor chooses the severity.
        c.find(Locator::Css(
            ".finding-form select[name=severity] option[value=minor]",
        ))
        .await?
        .click()
        .await?;
        c.find(Locator::Css(".finding-form input[name=title]"))
            .await?
            .send_keys("O03 应急预案未上墙")
            .await?;
        c.find(Locator::Css(".finding-form input[name=target]"))
            .await?
            .send_keys("O03")
            .await?;
        c.find(Locator::Css(".finding-form input[name=owner]"))
            .await?
            .send_keys("於潜镇网点负责人")
            .await?;
        c.execute(
            "document.querySelector('.finding-form input[name=due]').value='2024-01-31';",
            vec![],
        )
        .await?;
        click_and_load(&c, c.find(Locator::Css(".finding-form button")).await?).await?;
        let findings = wait_text(&c, "#findings", "O03 应急预案未上墙").await?;
        assert!(
            findings.contains("2024-01-31") && findings.contains("待整改"),
            "{findings}"
        );

        // Closing locks it: no forms left but the corrective-action follow-up.
        click_and_load(
            &c,
            c.find(Locator::Css("form[action$='/close'] button"))
                .await?,
        )
        .await?;
        wait_text(&c, "main", "审核已关闭").await?;
        assert!(
            c.find(Locator::Css("form[action$='/evidence']"))
                .await
                .is_err()
        );
        assert!(c.find(Locator::Css("form[action$='/run']")).await.is_err());
        click_and_load(
            &c,
            c.find(Locator::Css("form[action*='/status'] button"))
                .await?,
        )
        .await?;
        wait_text(&c, "#findings", "已整改").await?;
        shot(&c, "22-audit-closed").await;

        // The signed report: the download buttons fetch a PDF whose text has the
        // finding recorded on site (fetched by the page itself, with its session).
        let pdf = c
            .find(Locator::Css("#downloads a[href$='/report/pdf']"))
            .await?;
        assert!(pdf.is_displayed().await?, "the PDF button is visible on a phone");
        let got = c
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 fetch(document.querySelector('#downloads a[href$=\"/report/pdf\"]').href)\
                   .then(r => r.arrayBuffer().then(b => done([r.status, r.headers.get('content-type'),\
                      String.fromCharCode(...new Uint8Array(b.slice(0, 5)))])));",
                vec![],
            )
            .await?;
        assert_eq!(
            got,
            serde_json::json!([200, "application/pdf", "%PDF-"]),
            "the PDF downloads"
        );
        Ok::<(), CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.unwrap();
    // The photo is stored under its hash and recorded against the audit.
    let ev = st.db.evidence(1).await.unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].target, "O03");
    assert_eq!(
        st.evidence.get(&ev[0].sha256).unwrap().len(),
        std::fs::metadata(&photo).unwrap().len() as usize
    );
}

/// 实时监测 on a phone: an operator has the live page open; the platform pushes an
/// order that nobody accepts, time moves on (events clock), and the warning and
/// then the violation appear without a reload. She assigns and closes it; the 驾驶舱
/// counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_watches_alerts_arrive_live_on_a_phone() {
    use biaozhun::monitor::service::{Clock, MonitorConfig};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.monitor = MonitorConfig {
        clock: Clock::Events,
        ..MonitorConfig::default()
    };
    let (state, _) = web::prepare(&cfg).await.unwrap();
    let user = state
        .db
        .create_user(
            &NewUser {
                username: "zhaoliu",
                display_name: "赵六",
                password: "browser-password-4",
                role: Role::Auditor,
                department: "运营部",
            },
            &Actor::default(),
        )
        .await
        .unwrap();
    let token = state
        .db
        .create_api_token(&user, "platform", &Actor::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(web::serve(state, listener));
    let push = |events: serde_json::Value| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            let r = reqwest::Client::new()
                .post(format!("{base}/api/v1/events"))
                .bearer_auth(token)
                .json(&serde_json::json!({ "events": events }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::OK);
        }
    };
    let ev = |id: &str, case: &str, hm: &str| {
        serde_json::json!({"id": id, "case_id": case, "activity": "下单",
            "timestamp": format!("2024-05-01T{hm}:00+08:00"), "outlet_id": "O05", "town": "於潜镇"})
    };

    let (c, _driver) = browser().await;
    let result = async {
        c.set_window_size(390, 844).await?;
        sign_in(&c, &base, "zhaoliu", "browser-password-4").await?;
        c.goto(&format!("{base}/monitor")).await?;
        wait_text(&c, "#alerts", "没有符合条件的告警").await?;
        // The page is open; the platform pushes. 10:16 is past 75% of 20 min.
        push(serde_json::json!([
            ev("p1", "L1", "10:00"),
            ev("p2", "L2", "10:16")
        ]))
        .await;
        let list = wait_text(&c, "#alerts", "预警").await?;
        assert!(
            list.contains("订单 L1") && list.contains("於潜镇"),
            "{list}"
        );
        shot(&c, "30-monitor-warning-phone").await;
        push(serde_json::json!([ev("p3", "L3", "10:21")])).await;
        let list = wait_text(&c, "#alerts", "违规").await?;
        assert!(list.contains("下单后20 min内首次响应"), "{list}");
        // Assign, then close with a note.
        let item = c
            .find(Locator::XPath(
                "//article[contains(@class,'bad')][.//p[contains(., '订单 L1')]]",
            ))
            .await?;
        item.find(Locator::Css("input[name=assignee]"))
            .await?
            .send_keys("於潜镇网点 钱七")
            .await?;
        let assign = item
            .find(Locator::Css("form:has(input[name=assignee]) button"))
            .await?;
        click_and_load(&c, assign).await?;
        let list = wait_text(&c, "#alerts", "负责人 於潜镇网点 钱七").await?;
        assert!(list.contains("已确认"), "assigning acknowledges: {list}");
        let item = c
            .find(Locator::XPath(
                "//article[contains(@class,'bad')][.//p[contains(., '订单 L1')]]",
            ))
            .await?;
        item.find(Locator::Css("input[name=note]"))
            .await?
            .send_keys("已电话联系客户，重新受理")
            .await?;
        let close = item
            .find(Locator::Css("form:has(input[name=note]) button"))
            .await?;
        click_and_load(&c, close).await?;
        c.goto(&format!("{base}/monitor?state=resolved")).await?;
        let done = wait_text(&c, "#alerts", "已电话联系客户").await?;
        assert!(done.contains("已关闭"), "{done}");
        shot(&c, "31-monitor-resolved-phone").await;
        c.goto(&format!("{base}/monitor/dashboard")).await?;
        let towns = wait_text(&c, "#towns", "於潜镇").await?;
        assert!(towns.contains("於潜镇"), "{towns}");
        let violations = c
            .find(Locator::Css("#today-violations"))
            .await?
            .text()
            .await?;
        assert_eq!(violations.trim(), "1", "L1's violation today");
        let orders = c.find(Locator::Css("#today-cases")).await?.text().await?;
        assert_eq!(orders.trim(), "3", "three orders came in today");
        shot(&c, "32-dashboard-phone").await;
        Ok::<(), CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_fills_in_the_satisfaction_survey_on_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = web::prepare(&config(dir.path())).await.unwrap();
    let yaml = "id: phone-test
title: 社区家政服务满意度调查
purpose: 请根据您最近一次家政服务的体验作答
overall: overall
questions:
  - id: overall
    text: 总体而言，您对本次家政服务是否满意
    kind: likert
  - id: grid
    text: 您对以下方面是否满意
    kind: matrix
    rows: [服务态度, 服务质量]
  - id: code
    text: 服务人员是否出示了安心码
    kind: single
    options: [出示, 未出示, 记不清]
  - id: ways
    text: 您通过哪些渠道预约
    kind: multiple
    options: [微信小程序, 电话, 社区网点]
    required: false
  - id: advice
    text: 您的意见和建议
    kind: text
    required: false
";
    let survey = biaozhun::survey::Survey::from_yaml(yaml, "t").unwrap();
    let (row, _) = state
        .db
        .survey_save(&survey, yaml, None, None)
        .await
        .unwrap();
    let token = state
        .db
        .survey_link_create("phone-test", true, "网点海报", None)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(web::serve(state.clone(), listener));

    let (c, _driver) = browser().await;
    let result = async {
        c.set_window_size(390, 844).await?;
        c.goto(&format!("{base}/s/{token}")).await?;
        let title = c.find(Locator::Css("h1")).await?.text().await?;
        assert_eq!(title, "社区家政服务满意度调查");
        // Made for the phone: nothing wider than the screen, big touch targets.
        let wide = c
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth;",
                vec![],
            )
            .await?;
        assert_eq!(wide, serde_json::json!(false), "no sideways scrolling");
        let height = c
            .execute(
                "return document.querySelector('.choice').getBoundingClientRect().height;",
                vec![],
            )
            .await?;
        assert!(height.as_f64().unwrap() >= 44.0, "touch target {height}");
        shot(&c, "40-survey-form-phone").await;
        let pick = |name: &'static str, value: &'static str| {
            let c = c.clone();
            async move {
                c.find(Locator::Css(&format!(
                    "input[name='{name}'][value='{value}']"
                )))
                .await?
                .click()
                .await
            }
        };
        pick("q_overall", "0").await?;
        pick("q_grid.1", "0").await?;
        pick("q_grid.2", "1").await?;
        pick("q_ways", "0").await?;
        pick("q_ways", "2").await?;
        c.find(Locator::Css("textarea[name='q_advice']"))
            .await?
            .send_keys("阿姨很细心")
            .await?;
        // People take more than three seconds; the server refuses faster posts.
        tokio::time::sleep(Duration::from_millis(3200)).await;
        // 安心码 left out: the form comes back saying so, with the answers kept.
        let submit = c.find(Locator::Css("button[type=submit]")).await?;
        click_and_load(&c, submit).await?;
        let errors = wait_text(&c, "#form-errors", "请回答").await?;
        assert!(errors.contains("服务人员是否出示了安心码"), "{errors}");
        let kept = c
            .find(Locator::Css("input[name='q_grid.2'][value='1']"))
            .await?
            .prop("checked")
            .await?;
        assert_eq!(kept.as_deref(), Some("true"), "answers are kept");
        shot(&c, "41-survey-form-missing-phone").await;
        pick("q_code", "0").await?;
        let submit = c.find(Locator::Css("button[type=submit]")).await?;
        click_and_load(&c, submit).await?;
        let done = wait_text(&c, "h1", "提交成功").await?;
        assert_eq!(done, "提交成功");
        shot(&c, "42-survey-done-phone").await;
        // Staff see the answer in the results, with the poster's QR code.
        c.set_window_size(1280, 1000).await?;
        sign_in(&c, &base, "admin", "browser-password-1").await?;
        c.goto(&format!("{base}/surveys/{}", row.id)).await?;
        // Answered in seconds: kept, listed as invalid, not counted.
        let results = wait_text(&c, "#results", "共收回 1 份，无效 1 份").await?;
        assert!(results.contains("服务态度"), "{results}");
        let invalid = wait_text(&c, "#invalid", "无效答卷（1）").await?;
        assert!(invalid.contains("少于 60 秒"), "{invalid}");
        let qr = c.find(Locator::Css("#links .qr svg")).await?;
        assert!(qr.is_displayed().await?, "the QR code is shown");
        shot(&c, "43-survey-results").await;
        Ok::<(), CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.unwrap();
    let stored = state.db.survey_responses(row.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    let r = &stored[0].response;
    use biaozhun::survey::Answer;
    assert_eq!(r.channel, biaozhun::survey::Channel::Online);
    assert_eq!(r.answers["overall"], Answer::Choice(0));
    assert_eq!(r.answers["grid.2"], Answer::Choice(1));
    assert_eq!(r.answers["code"], Answer::Choice(0));
    assert_eq!(r.answers["ways"], Answer::Choices(vec![0, 2]));
    assert_eq!(r.answers["advice"], Answer::Text("阿姨很细心".into()));
    assert!(r.duration_s.unwrap() >= 3, "the visit's whole duration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expert_scores_the_pilot_on_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = web::prepare(&config(dir.path())).await.unwrap();
    let mk = |name: &'static str, display: &'static str| {
        let db = state.db.clone();
        async move {
            db.create_user(
                &NewUser {
                    username: name,
                    display_name: display,
                    password: "browser-password-5",
                    role: Role::Expert,
                    department: "",
                },
                &Actor::default(),
            )
            .await
            .unwrap()
        }
    };
    let leader = mk("chen", "陈教授").await;
    let other = mk("liu", "刘研究员").await;
    let table_yaml = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("acceptance/scoring-table.yaml"),
    )
    .unwrap();
    let table = biaozhun::acceptance::scoring::Table::from_yaml(&table_yaml, "t").unwrap();
    let project = state
        .db
        .project_create(
            &biaozhun::db::acceptance::NewProject {
                name: "数字家政管理与服务".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let review = state
        .db
        .review_create(
            project,
            "数字家政试点验收",
            &table_yaml,
            "2023-11-20",
            &[(leader.id, true), (other.id, false)],
            None,
        )
        .await
        .unwrap();
    // 刘研究员 has already submitted: full marks less 1 on every item.
    let scores: Vec<biaozhun::db::acceptance::Score> = table
        .items()
        .map(|i| biaozhun::db::acceptance::Score {
            item_id: i.id.clone(),
            score: Some(i.max - 1.0),
            comment: String::new(),
        })
        .collect();
    state
        .db
        .review_save(review, other.id, &scores, true)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(web::serve(state.clone(), listener));

    let (c, _driver) = browser().await;
    let result = async {
        c.set_window_size(390, 844).await?;
        sign_in(&c, &base, "chen", "browser-password-5").await?;
        c.goto(&format!("{base}/acceptance")).await?;
        let link = c.find(Locator::LinkText("数字家政试点验收")).await?;
        click_and_load(&c, link).await?;
        let panel = wait_text(&c, "#panel", "刘研究员").await?;
        assert!(panel.contains("已提交 1/2"), "{panel}");
        // Independence: 刘's sheet is submitted, but not shown.
        let body = c.find(Locator::Css("main")).await?.text().await?;
        assert!(!body.contains("汇总评分"), "no results before all submit");
        let wide = c
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth;",
                vec![],
            )
            .await?;
        shot(&c, "50-expert-scoring-phone").await;
        let culprit = c
            .execute(
                "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ');",
                vec![],
            )
            .await?;
        assert_eq!(wide, serde_json::json!(false), "no sideways scrolling: {culprit}");
        // Score every item at its maximum less 0.5, with one comment.
        for item in table.items() {
            let input = c
                .find(Locator::Css(&format!("input[name='s_{}']", item.id)))
                .await?;
            input.send_keys(&format!("{}", item.max - 0.5)).await?;
        }
        c.find(Locator::Css("textarea[name='c_res-targets']"))
            .await?
            .send_keys("各项指标均已达到实施方案目标。")
            .await?;
        let save = c
            .find(Locator::Css("button[name=action][value=save]"))
            .await?;
        click_and_load(&c, save).await?;
        wait_text(&c, "#review-notice", "草稿已保存").await?;
        let kept = c
            .find(Locator::Css("input[name='s_sys-structure']"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(kept.as_deref(), Some("5.5"), "the draft is kept");
        let submit = c.find(Locator::Css("#submit-scores")).await?;
        click_and_load(&c, submit).await?;
        // Now both have submitted: the aggregate appears. Every item is
        // (max − 0.5 + max − 1) ÷ 2 = max − 0.75: 100 − 24 × 0.75 = 82 → 通过.
        let verdict = wait_text(&c, "#conclusion", "验收结论").await?;
        assert!(
            verdict.contains("82") && verdict.contains("通过"),
            "{verdict}"
        );
        shot(&c, "51-expert-results-phone").await;
        c.find(Locator::Css("#opinion textarea"))
            .await?
            .send_keys("该项目完成了试点任务，同意通过验收。")
            .await?;
        let save = c.find(Locator::Css("#opinion button")).await?;
        click_and_load(&c, save).await?;
        wait_text(&c, "#review-notice", "验收意见已保存").await?;
        Ok::<(), CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.unwrap();
    let v = state.db.review_view(review, Some(leader.id)).await.unwrap();
    assert!(v.all_submitted());
    assert_eq!(v.review.opinion, "该项目完成了试点任务，同意通过验收。");
    let mine = v.own.iter().find(|s| s.item_id == "res-targets").unwrap();
    assert_eq!(mine.score, Some(7.5));
    assert_eq!(mine.comment, "各项指标均已达到实施方案目标。");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_award_form_counts_characters_as_you_type() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = web::prepare(&config(dir.path())).await.unwrap();
    let project = state
        .db
        .project_create(
            &biaozhun::db::acceptance::NewProject {
                name: "数字家政管理与服务".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(web::serve(state.clone(), listener));
    let (c, _driver) = browser().await;
    let result = async {
        sign_in(&c, &base, "admin", "browser-password-1").await?;
        c.goto(&format!(
            "{base}/acceptance/projects/{project}/award/award-project"
        ))
        .await?;
        let counter = "span.counter[data-for='t_contributors']";
        assert_eq!(
            c.find(Locator::Css(counter)).await?.text().await?,
            "0 / 500"
        );
        let area = c.find(Locator::Css("#t_contributors")).await?;
        // 498 characters plus spaces and a line break, then three more: 501.
        area.send_keys(&format!("{} \n{}", "贡".repeat(249), "献".repeat(249)))
            .await?;
        assert_eq!(
            c.find(Locator::Css(counter)).await?.text().await?,
            "498 / 500"
        );
        area.send_keys("ABC").await?;
        let el = c.find(Locator::Css(counter)).await?;
        assert_eq!(el.text().await?, "501 / 500");
        assert_eq!(
            el.attr("class").await?.as_deref(),
            Some("counter over"),
            "over the limit shows red"
        );
        shot(&c, "52-award-form-over-limit").await;
        Ok::<(), CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.unwrap();
}
