//! End to end in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), against the real server. Screenshots go to
//! `target/browser-screenshots/`.
//!
//! Run with `cargo test --test browser` (Debian packages `chromium` and
//! `chromium-driver`; `.ci/run` installs them when missing).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use biaozhun::web::{self, ServeConfig};
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
    let cfg = ServeConfig {
        data: dir.path().join("data"),
        standards: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("standards"),
        database_url: None,
        admin_password: Some("browser-password-1".into()),
        demo: false,
        insecure_cookies: false,
        code_pattern: "Q/BZ {n:03}—{year}".into(),
    };
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
